/*
 * The emulator's cryptography, through mbedTLS's public API only, so it
 * builds with mbedTLS 2.28 (Debian 12) and 3.6: SHA-256 calls differ by name
 * between the two (the *_ret forms were removed in 3.0); everything else used
 * here (ecp, ecdsa, ecdh compute_shared, ctr_drbg) has the same signature.
 *
 * The RNG is a CTR_DRBG. Its entropy comes from the host (mbedtls_entropy)
 * or, for reproducible tests, from a splitmix64 stream of the seed option:
 * same seed and same command sequence give the same keys, nonces and
 * signatures.
 */
#include <string.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/version.h>

#include "emu_atecc608_internal.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define EMU_SHA256_STARTS mbedtls_sha256_starts
#define EMU_SHA256_UPDATE mbedtls_sha256_update
#define EMU_SHA256_FINISH mbedtls_sha256_finish
#define EMU_SHA256 mbedtls_sha256
#else
#define EMU_SHA256_STARTS mbedtls_sha256_starts_ret
#define EMU_SHA256_UPDATE mbedtls_sha256_update_ret
#define EMU_SHA256_FINISH mbedtls_sha256_finish_ret
#define EMU_SHA256 mbedtls_sha256_ret
#endif

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int deterministic_entropy(void *ctx, unsigned char *out, size_t len)
{
    hk_emu_atecc608 *emu = ctx;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(&emu->entropy_state);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            out[i + j] = (unsigned char)(v >> (8 * j));
    }
    return 0;
}

static int drbg_random(void *ctx, unsigned char *out, size_t len)
{
    return mbedtls_ctr_drbg_random(ctx, out, len);
}

int emu_crypto_init(hk_emu_atecc608 *emu)
{
    static const unsigned char personal[] = "hubkey-emu-atecc608";
    mbedtls_ctr_drbg_init(&emu->drbg);
    mbedtls_ecp_group_init(&emu->grp);
    mbedtls_sha256_init(&emu->sha);
    mbedtls_entropy_init(&emu->entropy);
    int rc;
    if (emu->deterministic) {
        emu->entropy_state = emu->opts.seed ^ 0x6875626B65793630ull; /* "hubkey60" */
        rc = mbedtls_ctr_drbg_seed(&emu->drbg, deterministic_entropy, emu, personal,
                                   sizeof personal - 1);
    } else {
        rc = mbedtls_ctr_drbg_seed(&emu->drbg, mbedtls_entropy_func, &emu->entropy, personal,
                                   sizeof personal - 1);
    }
    if (rc != 0)
        return rc;
    return mbedtls_ecp_group_load(&emu->grp, MBEDTLS_ECP_DP_SECP256R1);
}

void emu_crypto_free(hk_emu_atecc608 *emu)
{
    mbedtls_ctr_drbg_free(&emu->drbg);
    mbedtls_ecp_group_free(&emu->grp);
    mbedtls_sha256_free(&emu->sha);
    mbedtls_entropy_free(&emu->entropy);
}

int emu_crypto_random(hk_emu_atecc608 *emu, uint8_t *out, size_t len)
{
    return mbedtls_ctr_drbg_random(&emu->drbg, out, len);
}

int emu_crypto_sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
    return EMU_SHA256(in, len, out, 0);
}

int emu_crypto_sha_start(hk_emu_atecc608 *emu)
{
    mbedtls_sha256_free(&emu->sha);
    mbedtls_sha256_init(&emu->sha);
    return EMU_SHA256_STARTS(&emu->sha, 0);
}

int emu_crypto_sha_update(hk_emu_atecc608 *emu, const uint8_t *in, size_t len)
{
    return EMU_SHA256_UPDATE(&emu->sha, in, len);
}

int emu_crypto_sha_finish(hk_emu_atecc608 *emu, uint8_t out[32])
{
    return EMU_SHA256_FINISH(&emu->sha, out);
}

/* Reads 04 || X || Y into a point and checks it is on the curve. */
static int load_public(hk_emu_atecc608 *emu, const uint8_t xy[64], mbedtls_ecp_point *q)
{
    uint8_t buf[65];
    buf[0] = 0x04;
    memcpy(buf + 1, xy, 64);
    int rc = mbedtls_ecp_point_read_binary(&emu->grp, q, buf, sizeof buf);
    if (rc == 0)
        rc = mbedtls_ecp_check_pubkey(&emu->grp, q);
    return rc;
}

static int store_public(hk_emu_atecc608 *emu, const mbedtls_ecp_point *q, uint8_t out[64])
{
    uint8_t buf[65];
    size_t olen = 0;
    int rc = mbedtls_ecp_point_write_binary(&emu->grp, q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                            buf, sizeof buf);
    if (rc == 0 && olen != 65)
        rc = -1;
    if (rc == 0)
        memcpy(out, buf + 1, 64);
    return rc;
}

/* Loads a private scalar and checks 1 <= d < n. */
static int load_private(hk_emu_atecc608 *emu, const uint8_t priv[32], mbedtls_mpi *d)
{
    int rc = mbedtls_mpi_read_binary(d, priv, 32);
    if (rc == 0)
        rc = mbedtls_ecp_check_privkey(&emu->grp, d);
    return rc;
}

int emu_crypto_genkey(hk_emu_atecc608 *emu, uint8_t priv[32], uint8_t out_pub[64])
{
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    int rc = mbedtls_ecp_gen_keypair(&emu->grp, &d, &q, drbg_random, &emu->drbg);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&d, priv, 32);
    if (rc == 0)
        rc = store_public(emu, &q, out_pub);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&q);
    return rc;
}

int emu_crypto_pubkey(hk_emu_atecc608 *emu, const uint8_t priv[32], uint8_t out_pub[64])
{
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    int rc = load_private(emu, priv, &d);
    if (rc == 0)
        rc = mbedtls_ecp_mul(&emu->grp, &q, &d, &emu->grp.G, drbg_random, &emu->drbg);
    if (rc == 0)
        rc = store_public(emu, &q, out_pub);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&q);
    return rc == 0 ? 0 : -1;
}

int emu_crypto_sign(hk_emu_atecc608 *emu, const uint8_t priv[32], const uint8_t digest[32],
                    uint8_t out_rs[64])
{
    mbedtls_mpi d, r, s;
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = load_private(emu, priv, &d);
    if (rc == 0)
        rc = mbedtls_ecdsa_sign(&emu->grp, &r, &s, &d, digest, 32, drbg_random, &emu->drbg);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&r, out_rs, 32);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&s, out_rs + 32, 32);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc == 0 ? 0 : -1;
}

int emu_crypto_verify(hk_emu_atecc608 *emu, const uint8_t pub[64], const uint8_t digest[32],
                      const uint8_t rs[64])
{
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int result;
    if (load_public(emu, pub, &q) != 0) {
        result = -1;
    } else if (mbedtls_mpi_read_binary(&r, rs, 32) != 0 ||
               mbedtls_mpi_read_binary(&s, rs + 32, 32) != 0) {
        result = 1;
    } else {
        /* mbedtls_ecdsa_verify also rejects r or s outside [1, n-1]: a
         * miscompare, as on the chip. */
        result = mbedtls_ecdsa_verify(&emu->grp, digest, 32, &q, &r, &s) == 0 ? 0 : 1;
    }
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return result;
}

int emu_crypto_ecdh(hk_emu_atecc608 *emu, const uint8_t priv[32], const uint8_t peer[64],
                    uint8_t out_x[32])
{
    mbedtls_ecp_point q;
    mbedtls_mpi d, z;
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    int rc = load_public(emu, peer, &q);
    if (rc == 0)
        rc = load_private(emu, priv, &d);
    if (rc == 0)
        rc = mbedtls_ecdh_compute_shared(&emu->grp, &z, &q, &d, drbg_random, &emu->drbg);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&z, out_x, 32);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&z);
    return rc == 0 ? 0 : -1;
}

/* SelfTest bits (atecc608a.md §4.13). */
#define ST_RNG 0x01u
#define ST_ECDSA 0x02u     /* cryptoauthlib up to 3.3, and the 0x3B "all" mask */
#define ST_ECDSA_NEW 0x04u /* cryptoauthlib 3.6.1 and later */
#define ST_ECDH 0x08u
#define ST_AES 0x10u
#define ST_SHA 0x20u

uint8_t emu_crypto_selftest(hk_emu_atecc608 *emu, uint8_t mask)
{
    uint8_t failed = 0;
    if (mask & ST_SHA) {
        /* FIPS 180-2 example: SHA-256("abc"). */
        static const uint8_t expect[32] = {
            0xBA, 0x78, 0x16, 0xBF, 0x8F, 0x01, 0xCF, 0xEA, 0x41, 0x41, 0x40,
            0xDE, 0x5D, 0xAE, 0x22, 0x23, 0xB0, 0x03, 0x61, 0xA3, 0x96, 0x17,
            0x7A, 0x9C, 0xB4, 0x10, 0xFF, 0x61, 0xF2, 0x00, 0x15, 0xAD};
        uint8_t got[32];
        if (emu_crypto_sha256((const uint8_t *)"abc", 3, got) != 0 ||
            memcmp(got, expect, 32) != 0)
            failed |= ST_SHA;
    }
    if (mask & ST_RNG) {
        uint8_t a[32], b[32];
        if (emu_crypto_random(emu, a, 32) != 0 || emu_crypto_random(emu, b, 32) != 0 ||
            memcmp(a, b, 32) == 0)
            failed |= ST_RNG;
    }
    if (mask & (ST_ECDSA | ST_ECDSA_NEW | ST_ECDH)) {
        /* A throwaway key pair made for the test only. */
        uint8_t priv[32], pub[64], digest[32] = {0x5A}, rs[64];
        uint8_t priv2[32], pub2[64], x1[32], x2[32];
        bool ok = emu_crypto_genkey(emu, priv, pub) == 0;
        if (mask & (ST_ECDSA | ST_ECDSA_NEW)) {
            /* One test for either bit; a failure reports the bits asked. */
            if (!ok || emu_crypto_sign(emu, priv, digest, rs) != 0 ||
                emu_crypto_verify(emu, pub, digest, rs) != 0)
                failed |= (uint8_t)(mask & (ST_ECDSA | ST_ECDSA_NEW));
        }
        if (mask & ST_ECDH) {
            if (!ok || emu_crypto_genkey(emu, priv2, pub2) != 0 ||
                emu_crypto_ecdh(emu, priv, pub2, x1) != 0 ||
                emu_crypto_ecdh(emu, priv2, pub, x2) != 0 || memcmp(x1, x2, 32) != 0)
                failed |= ST_ECDH;
        }
        memset(priv, 0, sizeof priv);
        memset(priv2, 0, sizeof priv2);
    }
    /* AES is not modelled; its self test reports success so that the "all
     * tests" mask 0x3B does not fail on a healthy emulated part. */
    (void)ST_AES;
    return failed;
}
