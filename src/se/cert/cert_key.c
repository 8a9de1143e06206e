/*
 * The check a public key read from a chip slot gets before a certificate
 * is rebuilt with it: X || Y must be a point of P-256. mbedTLS's ECP module
 * does it (the TLS link links the same functions to parse the device's own
 * certificate); the cost is a few modular multiplications, next to nothing
 * against a handshake. What it catches: bytes that are not a key at all
 * (another tool's data in a locked slot, an erased slot), which would
 * otherwise give a certificate no server accepts. What it cannot catch: a
 * valid point that is not slot 0's key; that is what the slot lock and the
 * factory's check before it are for (slot-map-and-record.md).
 */
#include <mbedtls/ecp.h>
#include <stdbool.h>
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/cert.h"

hk_result hk_cert_public_key_check(const uint8_t key[HK_CERT_PUBLIC_KEY_SIZE])
{
    HK_REQUIRE(key != NULL);
    uint8_t point[1 + HK_CERT_PUBLIC_KEY_SIZE];
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, key, HK_CERT_PUBLIC_KEY_SIZE);
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    int e = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    bool loaded = e == 0;
    if (e == 0)
        e = mbedtls_ecp_point_read_binary(&grp, &q, point, sizeof point);
    if (e == 0)
        e = mbedtls_ecp_check_pubkey(&grp, &q);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (e == 0)
        return HK_OK;
    /* Out of memory or a group mbedTLS was built without: say so rather
     * than call the key bad. */
    return loaded && e != MBEDTLS_ERR_ECP_ALLOC_FAILED && e != MBEDTLS_ERR_MPI_ALLOC_FAILED
               ? HK_ERR_CERT_COMPRESSED
               : HK_ERR_CRYPTO;
}
