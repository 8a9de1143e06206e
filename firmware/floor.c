/*
 * The crypto floor (floor.h). Each operation is timed alone with the same
 * mbedTLS build and arena as the TLS handshakes of the boot, seeded from the
 * chip as hk_tls seeds its DRBG. The peer's key pair for the shared secret
 * is made before the timed part: a client only computes the secret.
 */
#include <string.h>

#include "board.h"
#include "floor.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecdh.h"
#include "mbedtls/ecp.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"

static int entropy(void *ctx, unsigned char *out, size_t len)
{
    const hk_se *se = ctx;
    return se->random(se->ctx, out, len) == HK_OK ? 0 : -1;
}

/* One RSA verification of the root's own signature; ticks, 0 on failure. */
static uint32_t rsa_verify_ticks(const uint8_t *pem, size_t len)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    uint32_t ticks = 0;
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    const mbedtls_md_info_t *md = NULL;
    if (mbedtls_x509_crt_parse(&crt, pem, len) == 0 &&
        mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_RSA &&
        (md = mbedtls_md_info_from_type(crt.sig_md)) != NULL &&
        mbedtls_md(md, crt.tbs.p, crt.tbs.len, hash) == 0) {
        uint32_t t0 = board_counter_25mhz();
        int rc = mbedtls_pk_verify(&crt.pk, crt.sig_md, hash, mbedtls_md_get_size(md),
                                   crt.sig.p, crt.sig.len);
        uint32_t t1 = board_counter_25mhz();
        if (rc == 0)
            ticks = t1 - t0;
    }
    mbedtls_x509_crt_free(&crt);
    return ticks;
}

void fw_floor_measure(const hk_se *se, const uint8_t *trust_pem, size_t trust_len)
{
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ecp_group grp;
    mbedtls_mpi d, peer_d, z;
    mbedtls_ecp_point q, peer_q;
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&peer_d);
    mbedtls_mpi_init(&z);
    mbedtls_ecp_point_init(&q);
    mbedtls_ecp_point_init(&peer_q);
    static const unsigned char personal[] = "hubkey-floor";
    uint32_t keypair = 0, shared = 0;
    if (mbedtls_ctr_drbg_seed(&drbg, entropy, (void *)se, personal, sizeof personal - 1) == 0 &&
        mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
        mbedtls_ecp_gen_keypair(&grp, &peer_d, &peer_q, mbedtls_ctr_drbg_random, &drbg) == 0) {
        uint32_t t0 = board_counter_25mhz();
        int rc = mbedtls_ecp_gen_keypair(&grp, &d, &q, mbedtls_ctr_drbg_random, &drbg);
        uint32_t t1 = board_counter_25mhz();
        if (rc == 0)
            keypair = t1 - t0;
        t0 = board_counter_25mhz();
        rc = mbedtls_ecdh_compute_shared(&grp, &z, &peer_q, &d, mbedtls_ctr_drbg_random, &drbg);
        t1 = board_counter_25mhz();
        if (rc == 0)
            shared = t1 - t0;
    }
    uint32_t rsa = trust_pem != NULL && trust_len > 0 ? rsa_verify_ticks(trust_pem, trust_len) : 0;
    mbedtls_ecp_point_free(&peer_q);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&z);
    mbedtls_mpi_free(&peer_d);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    mbedtls_ctr_drbg_free(&drbg);
    board_log("floor: ecdhe_keypair_ticks=%u ecdh_shared_ticks=%u rsa_verify_ticks=%u\n",
              (unsigned)keypair, (unsigned)shared, (unsigned)rsa);
}
