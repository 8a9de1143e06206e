/*
 * Helpers for the tests that run the driver against the software ATECC608A:
 * a chip and a driver context, the factory-style configuration flow, and
 * mbedTLS checks of what the chip produced.
 */
#ifndef HK_TEST_EMU_UTIL_H
#define HK_TEST_EMU_UTIL_H

#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "common/hk_common.h"
#include "emu_atecc608.h"
#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "trustflex_config.h"

typedef struct emu_rig {
    hk_emu_atecc608 *emu;
    hk_atecc608 dev;
} emu_rig;

static inline hk_result rig_open(emu_rig *rig, uint64_t seed)
{
    hk_emu_atecc608_options opts;
    hk_emu_atecc608_options_init(&opts);
    opts.seed = seed;
    opts.deterministic_rng = true;
    HK_TRY(hk_emu_atecc608_create(&opts, &rig->emu));
    hk_i2c i2c = hk_emu_atecc608_i2c(rig->emu);
    return hk_atecc608_init(&rig->dev, &i2c, HK_ATECC608_ADDR_DEFAULT);
}

static inline void rig_close(emu_rig *rig)
{
    hk_emu_atecc608_destroy(rig->emu);
    rig->emu = NULL;
}

/* Writes bytes 16..127 of cfg the way the chip allows: 4-byte writes for
 * bytes 16..31, one 32-byte write for 32..63, 4-byte writes for 64..95
 * except word 84..87 (UpdateExtra and Lock own it), 32 bytes for 96..127. */
static inline hk_result rig_write_config(emu_rig *rig, const uint8_t cfg[128])
{
    hk_atecc608 *dev = &rig->dev;
    for (uint16_t at = 16; at < 128;) {
        uint16_t p2;
        HK_TRY(hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, at, &p2));
        if (at == 32 || at == 96) {
            HK_TRY(hk_atecc608_write(dev, HK_ATECC608_ZONE_CONFIG, p2, cfg + at, 32, NULL));
            at += 32;
            continue;
        }
        if (at != 84)
            HK_TRY(hk_atecc608_write(dev, HK_ATECC608_ZONE_CONFIG, p2, cfg + at, 4, NULL));
        at += 4;
    }
    return HK_OK;
}

/* The whole factory flow up to a usable identity key in slot 0:
 * configuration written, config zone locked with its CRC, slot 8 and the
 * certificate slots written, data zone locked, key made by GenKey in slot
 * 0, slot 0 locked. out_pubkey (may be NULL) gets the public key. */
static inline hk_result rig_provision(emu_rig *rig, uint8_t out_pubkey[64])
{
    uint8_t cfg[128];
    HK_TRY(hk_atecc608_read_config(&rig->dev, cfg, NULL));
    tflx_config_fill(cfg);
    HK_TRY(rig_write_config(rig, cfg));
    uint8_t now[128];
    HK_TRY(hk_atecc608_read_config(&rig->dev, now, NULL));
    if (memcmp(now, cfg, 128) != 0)
        return HK_ERR_SE_CONFIG;
    HK_TRY(hk_atecc608_lock_config(&rig->dev, now, NULL));
    HK_TRY(hk_atecc608_lock_data(&rig->dev, NULL));
    uint8_t pub[64];
    HK_TRY(hk_atecc608_genkey(&rig->dev, true, 0, pub, NULL));
    HK_TRY(hk_atecc608_lock_slot(&rig->dev, 0, NULL));
    if (out_pubkey != NULL)
        memcpy(out_pubkey, pub, 64);
    return HK_OK;
}

/* A deterministic RNG for mbedTLS in tests (never for real keys). */
static inline int test_rng(void *ctx, unsigned char *out, size_t len)
{
    uint64_t *s = (uint64_t *)ctx;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (unsigned char)(*s >> 24);
    }
    return 0;
}

/* 1 when rs is a valid ECDSA P-256 signature of digest under pub (X || Y). */
static inline int mbed_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t rs[64])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, pub, 64);
    int ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
             mbedtls_ecp_point_read_binary(&grp, &q, pt, sizeof pt) == 0 &&
             mbedtls_mpi_read_binary(&r, rs, 32) == 0 &&
             mbedtls_mpi_read_binary(&s, rs + 32, 32) == 0 &&
             mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s) == 0;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return ok;
}

/* A software P-256 key pair: pub (X || Y) and, through ECDH with peer,
 * the shared x-coordinate. Returns 1 on success. */
static inline int mbed_ecdh(uint64_t seed, const uint8_t peer[64], uint8_t out_pub[64],
                            uint8_t out_secret[32])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, z;
    mbedtls_ecp_point q, qp;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    mbedtls_ecp_point_init(&q);
    mbedtls_ecp_point_init(&qp);
    uint8_t pt[65];
    size_t olen = 0;
    pt[0] = 0x04;
    memcpy(pt + 1, peer, 64);
    int ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
             mbedtls_ecp_gen_keypair(&grp, &d, &q, test_rng, &seed) == 0 &&
             mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pt,
                                            sizeof pt) == 0 &&
             olen == 65;
    if (ok)
        memcpy(out_pub, pt + 1, 64);
    pt[0] = 0x04;
    memcpy(pt + 1, peer, 64);
    ok = ok && mbedtls_ecp_point_read_binary(&grp, &qp, pt, sizeof pt) == 0 &&
         mbedtls_ecdh_compute_shared(&grp, &z, &qp, &d, test_rng, &seed) == 0 &&
         mbedtls_mpi_write_binary(&z, out_secret, 32) == 0;
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&z);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_point_free(&qp);
    mbedtls_ecp_group_free(&grp);
    return ok;
}

static inline void sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256(data, len, out, 0);
#else
    mbedtls_sha256_ret(data, len, out, 0);
#endif
}

#endif /* HK_TEST_EMU_UTIL_H */
