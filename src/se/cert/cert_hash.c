/*
 * The two hashes the certificate scheme needs, over mbedTLS's public API.
 * Kept in one file so the rest of the module has no third-party include.
 * mbedTLS 2.28 names the functions *_ret; 3.x dropped the suffix.
 */
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define HK_SHA256_STARTS mbedtls_sha256_starts
#define HK_SHA256_UPDATE mbedtls_sha256_update
#define HK_SHA256_FINISH mbedtls_sha256_finish
#define HK_SHA1_ONESHOT mbedtls_sha1
#else
#define HK_SHA256_STARTS mbedtls_sha256_starts_ret
#define HK_SHA256_UPDATE mbedtls_sha256_update_ret
#define HK_SHA256_FINISH mbedtls_sha256_finish_ret
#define HK_SHA1_ONESHOT mbedtls_sha1_ret
#endif

hk_result hk_cert_sha256_3(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                           const uint8_t *c, size_t clen, uint8_t out[32])
{
    HK_REQUIRE(out != NULL);
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    int rc = HK_SHA256_STARTS(&ctx, 0);
    if (rc == 0 && alen > 0)
        rc = HK_SHA256_UPDATE(&ctx, a, alen);
    if (rc == 0 && blen > 0)
        rc = HK_SHA256_UPDATE(&ctx, b, blen);
    if (rc == 0 && clen > 0)
        rc = HK_SHA256_UPDATE(&ctx, c, clen);
    if (rc == 0)
        rc = HK_SHA256_FINISH(&ctx, out);
    mbedtls_sha256_free(&ctx);
    return rc == 0 ? HK_OK : HK_ERR_CRYPTO;
}

hk_result hk_cert_key_id(const uint8_t public_key[HK_CERT_PUBLIC_KEY_SIZE],
                         uint8_t out[HK_CERT_KEY_ID_SIZE])
{
    HK_REQUIRE(public_key != NULL && out != NULL);
    uint8_t point[1 + HK_CERT_PUBLIC_KEY_SIZE];
    point[0] = 0x04; /* uncompressed point */
    for (size_t i = 0; i < HK_CERT_PUBLIC_KEY_SIZE; i++)
        point[1 + i] = public_key[i];
    return HK_SHA1_ONESHOT(point, sizeof(point), out) == 0 ? HK_OK : HK_ERR_CRYPTO;
}
