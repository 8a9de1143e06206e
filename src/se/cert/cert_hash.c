/*
 * The two hashes the certificate scheme needs. SHA-256 comes from mbedTLS's
 * public API (the TLS link needs it anyway), its one-call form: the module
 * only ever hashes one short message. Kept in one file so the rest of the
 * module has no third-party include. mbedTLS 2.28 names the function
 * mbedtls_sha256_ret; 3.x dropped the suffix.
 *
 * SHA-1 (FIPS 180-4) is hubkey's own, as a loop over the 80 rounds: it only
 * ever hashes one 65-byte point (key identifiers, RFC 5280 4.2.1.2 method 1),
 * and mbedTLS's version unrolls every round (3.7 KB on a Cortex-M4 against
 * about 0.3 KB here). A firmware whose mbedTLS is built with
 * MBEDTLS_SHA1_PROCESS_ALT (the size build's configuration) takes its SHA-1
 * block function from here too, so one copy serves both.
 */
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <string.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define HK_SHA256 mbedtls_sha256
#else
#define HK_SHA256 mbedtls_sha256_ret
#endif

hk_result hk_cert_sha256(const uint8_t *msg, size_t len, uint8_t out[32])
{
    HK_REQUIRE(msg != NULL && out != NULL);
    return HK_SHA256(msg, len, out, 0) == 0 ? HK_OK : HK_ERR_CRYPTO;
}

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

/* One SHA-1 compression: state h[5] absorbs the 64-byte block p. The
 * message schedule lives in a 16-word ring; round t uses function and
 * constant t / 20 (Ch, Parity, Maj, Parity). */
static void sha1_block(uint32_t h[5], const uint8_t p[64])
{
    static const uint32_t k[4] = {0x5A827999u, 0x6ED9EBA1u, 0x8F1BBCDCu, 0xCA62C1D6u};
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (unsigned t = 0; t < 80; t++) {
        uint32_t x = 0;
        if (t < 16)
            for (unsigned j = 0; j < 4; j++)
                x = x << 8 | *p++; /* big-endian word t */
        else
            x = sha1_rol(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15], 1);
        w[t & 15] = x;
        unsigned r = t / 20;
        uint32_t f = b ^ c ^ d;
        if (r == 0)
            f = (b & c) | (~b & d);
        else if (r == 2)
            f = (b & c) | (d & (b | c));
        x += sha1_rol(a, 5) + f + e + k[r];
        e = d;
        d = c;
        c = sha1_rol(b, 30);
        b = a;
        a = x;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

#if defined(MBEDTLS_SHA1_PROCESS_ALT)
/* mbedTLS's documented hook for its SHA-1 block function (built with
 * MBEDTLS_SHA1_PROCESS_ALT): the state is the context's five words. */
int mbedtls_internal_sha1_process(mbedtls_sha1_context *ctx, const unsigned char data[64]);
int mbedtls_internal_sha1_process(mbedtls_sha1_context *ctx, const unsigned char data[64])
{
    sha1_block(ctx->MBEDTLS_PRIVATE(state), data);
    return 0;
}
#endif

hk_result hk_cert_key_id(const uint8_t public_key[HK_CERT_PUBLIC_KEY_SIZE],
                         uint8_t out[HK_CERT_KEY_ID_SIZE])
{
    HK_REQUIRE(public_key != NULL && out != NULL);
    /* SHA-1 of 04 || X || Y (65 bytes): the first block holds 04 and the
     * first 63 key bytes; the second the last key byte, the 0x80 end
     * marker, zeros and the length in bits (520 = 0x0208). */
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    uint8_t block[64];
    block[0] = 0x04;
    memcpy(block + 1, public_key, 63);
    sha1_block(h, block);
    memset(block, 0, sizeof block);
    block[0] = public_key[63];
    block[1] = 0x80;
    block[62] = 0x02;
    block[63] = 0x08;
    sha1_block(h, block);
    for (unsigned i = 0; i < HK_CERT_KEY_ID_SIZE; i++)
        out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
    return HK_OK;
}
