/*
 * Independent P-256 operations for the emulator tests, with mbedTLS outside
 * the model: check the emulator's signatures and shared secrets, and make
 * signatures for its Verify command.
 */
#ifndef HK_EMU_TEST_CRYPTO_H
#define HK_EMU_TEST_CRYPTO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

static uint64_t test_rng_state = 0x1234;

static int test_rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (test_rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        out[i] = (unsigned char)(z ^ (z >> 31));
    }
    return 0;
}

static inline void test_sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_sha256(in, len, out, 0);
#else
    mbedtls_sha256_ret(in, len, out, 0);
#endif
}

/* A deterministic test key pair: d = SHA-256(label). */
static inline bool test_keypair(const char *label, uint8_t priv[32], uint8_t pub[64])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    uint8_t buf[65];
    size_t olen = 0;
    test_sha256((const uint8_t *)label, strlen(label), priv);
    bool ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
              mbedtls_mpi_read_binary(&d, priv, 32) == 0 &&
              mbedtls_ecp_check_privkey(&grp, &d) == 0 &&
              mbedtls_ecp_mul(&grp, &q, &d, &grp.G, test_rng, NULL) == 0 &&
              mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, buf,
                                             sizeof buf) == 0 &&
              olen == 65;
    if (ok)
        memcpy(pub, buf + 1, 64);
    mbedtls_ecp_group_free(&grp);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&q);
    return ok;
}

static inline bool test_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t rs[64])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    uint8_t buf[65];
    buf[0] = 0x04;
    memcpy(buf + 1, pub, 64);
    bool ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
              mbedtls_ecp_point_read_binary(&grp, &q, buf, sizeof buf) == 0 &&
              mbedtls_mpi_read_binary(&r, rs, 32) == 0 &&
              mbedtls_mpi_read_binary(&s, rs + 32, 32) == 0 &&
              mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s) == 0;
    mbedtls_ecp_group_free(&grp);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ok;
}

static inline bool test_sign(const uint8_t priv[32], const uint8_t digest[32], uint8_t rs[64])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    bool ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
              mbedtls_mpi_read_binary(&d, priv, 32) == 0 &&
              mbedtls_ecdsa_sign(&grp, &r, &s, &d, digest, 32, test_rng, NULL) == 0 &&
              mbedtls_mpi_write_binary(&r, rs, 32) == 0 &&
              mbedtls_mpi_write_binary(&s, rs + 32, 32) == 0;
    mbedtls_ecp_group_free(&grp);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ok;
}

static inline bool test_ecdh(const uint8_t priv[32], const uint8_t peer[64], uint8_t x[32])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi d, z;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    uint8_t buf[65];
    buf[0] = 0x04;
    memcpy(buf + 1, peer, 64);
    bool ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
              mbedtls_ecp_point_read_binary(&grp, &q, buf, sizeof buf) == 0 &&
              mbedtls_mpi_read_binary(&d, priv, 32) == 0 &&
              mbedtls_ecdh_compute_shared(&grp, &z, &q, &d, test_rng, NULL) == 0 &&
              mbedtls_mpi_write_binary(&z, x, 32) == 0;
    mbedtls_ecp_group_free(&grp);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&z);
    return ok;
}

#endif /* HK_EMU_TEST_CRYPTO_H */
