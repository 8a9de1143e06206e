/*
 * TLS 1.2 client over an hk_transport, with the key in the secure element:
 * configuration, credentials and lifetime (hk_tls_init, hk_tls_free).
 *
 * Why a file of its own: this is everything that happens once, before the
 * first handshake byte: the DRBG seeded from the secure element, the
 * device's own chain read from the chip and parsed in place, the trust
 * store, the mbedTLS configuration (TLS 1.2 only, Azure's suites, the
 * certificate profile, max_fragment_length), plus the signing glue the
 * version-specific key hooks call and the built-in roots and arena API. The
 * handshake and I/O engine is tls_io.c; certificate time, alerts and
 * failure reasons are tls_verify.c.
 *
 * Everything in the TLS module uses mbedTLS's public API and builds
 * unchanged on 2.28 and 3.6 (the few calls that were renamed are switched
 * on MBEDTLS_VERSION_NUMBER). The only version-specific part, how mbedTLS
 * is made to sign with a key it cannot see, lives in tls_key_mbedtls2.c /
 * tls_key_mbedtls3.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
#include <mbedtls/memory_buffer_alloc.h>
#endif

#include "common/hk_common.h"
#include "hubkey/log.h"
#include "hubkey/tls.h"
#include "tls/tls_internal.h"

/* The private state must fit the storage hubkey/tls.h gives applications.
 * When it does not (a larger mbedTLS configuration), define
 * HK_TLS_STORAGE_SIZE for the whole program (hubkey/tls.h says how). */
_Static_assert(sizeof(struct hk_tls_internal) <= sizeof(((hk_tls *)0)->_opaque.bytes),
               "hk_tls: the TLS state does not fit HK_TLS_STORAGE_SIZE; define it larger");
_Static_assert(_Alignof(struct hk_tls_internal) <= _Alignof(hk_tls),
               "hk_tls: the TLS state needs more alignment than hk_tls gives");

/* The max_fragment_length we ask for: the largest RFC 6066 size (512, 1024,
 * 2048 or 4096) that fits both record buffers this mbedTLS was built with.
 * A server that agrees never sends a record our IN buffer cannot hold; one
 * that ignores the extension is still fine as long as its records fit. */
#define HK_TLS_MIN_CONTENT_LEN                                                                   \
    (MBEDTLS_SSL_IN_CONTENT_LEN < MBEDTLS_SSL_OUT_CONTENT_LEN ? MBEDTLS_SSL_IN_CONTENT_LEN      \
                                                              : MBEDTLS_SSL_OUT_CONTENT_LEN)
#if HK_TLS_MIN_CONTENT_LEN >= 4096
#define HK_TLS_MFL_CODE MBEDTLS_SSL_MAX_FRAG_LEN_4096
#elif HK_TLS_MIN_CONTENT_LEN >= 2048
#define HK_TLS_MFL_CODE MBEDTLS_SSL_MAX_FRAG_LEN_2048
#elif HK_TLS_MIN_CONTENT_LEN >= 1024
#define HK_TLS_MFL_CODE MBEDTLS_SSL_MAX_FRAG_LEN_1024
#else
#define HK_TLS_MFL_CODE MBEDTLS_SSL_MAX_FRAG_LEN_512
#endif

/* Azure IoT Hub and DPS: ECDHE with AES-GCM, ECDSA or RSA server keys. */
static const int cipher_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

/* ------------------------------------------------------------------------ */
/* Randomness and signing                                                    */

static int drbg_entropy(void *ctx, unsigned char *out, size_t len)
{
    hk_tls *tls = ctx;
    hk_result r = HK_TLS_IN(tls)->se->random(HK_TLS_IN(tls)->se->ctx, out, len);
    if (r != HK_OK) {
        HK_TLS_IN(tls)->se_result = r;
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    }
    return 0;
}

int hk_tls_rng_(void *p_rng, unsigned char *out, size_t len)
{
    hk_tls *tls = p_rng;
    return mbedtls_ctr_drbg_random(&HK_TLS_IN(tls)->drbg, out, len);
}

hk_result hk_tls_se_sign_(hk_tls *tls, const unsigned char *hash, size_t hash_len,
                          uint8_t out_rs[HK_SE_SIGNATURE_SIZE])
{
    HK_REQUIRE(tls != NULL && hash != NULL && out_rs != NULL);
    if (hash_len < HK_SE_DIGEST_SIZE)
        return HK_ERR_CRYPTO;
    HK_TLS_IN(tls)->sign_count++;
    hk_result r = HK_TLS_IN(tls)->se->sign_digest(HK_TLS_IN(tls)->se->ctx, hash, out_rs);
    if (r != HK_OK) {
        HK_TLS_IN(tls)->se_result = r;
        HK_LOGE(HK_TLS_LOG, "secure element sign failed: %s", hk_result_name(r));
    }
    return r;
}

/* DER ECDSA-Sig-Value: 30 L 02 Lr r... 02 Ls s... (each INTEGER minimal). */
static size_t der_int_len(const uint8_t *v, size_t n, size_t *out_skip)
{
    size_t skip = 0;
    while (skip < n && v[skip] == 0)
        skip++;
    *out_skip = skip;
    if (skip == n)
        return 0;
    return (n - skip) + ((v[skip] & 0x80u) ? 1u : 0u);
}

static size_t der_int_write(uint8_t *out, const uint8_t *v, size_t n, size_t skip, size_t len)
{
    out[0] = 0x02;
    out[1] = (uint8_t)len;
    size_t pos = 2;
    if (len > n - skip)
        out[pos++] = 0x00;
    memcpy(out + pos, v + skip, n - skip);
    return 2 + len;
}

hk_result hk_tls_ecdsa_raw_to_der(const uint8_t rs[HK_SE_SIGNATURE_SIZE], uint8_t *out,
                                  size_t cap, size_t *out_len)
{
    HK_REQUIRE(rs != NULL && out_len != NULL && (out != NULL || cap == 0));
    size_t skip_r, skip_s;
    size_t lr = der_int_len(rs, 32, &skip_r);
    size_t ls = der_int_len(rs + 32, 32, &skip_s);
    if (lr == 0 || ls == 0)
        return HK_ERR_CRYPTO;
    size_t body = 2 + lr + 2 + ls; /* at most 70: fits the short length form */
    size_t total = 2 + body;
    *out_len = total;
    if (cap < total)
        return HK_ERR_BUFFER_TOO_SMALL;
    out[0] = 0x30;
    out[1] = (uint8_t)body;
    size_t pos = 2;
    pos += der_int_write(out + pos, rs, 32, skip_r, lr);
    der_int_write(out + pos, rs + 32, 32, skip_s, ls);
    return HK_OK;
}

unsigned hk_tls_sign_count(const hk_tls *tls)
{
    return tls != NULL ? HK_TLS_CIN(tls)->sign_count : 0u;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                    */

static hk_result own_chain_read(hk_tls *tls)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    size_t used = 0;
    for (unsigned i = 0; i < 2; i++) {
        size_t len = 0;
        hk_result r = in->se->cert(in->se->ctx, i, in->own_der + used,
                                   sizeof in->own_der - used, &len);
        /* No signer certificate: a self-signed device (individual
         * enrollment) sends its leaf alone. */
        if (r == HK_ERR_NOT_FOUND && i == 1)
            break;
        if (r != HK_OK)
            return r;
        if (len == 0 || len > sizeof in->own_der - used)
            return HK_ERR_TLS_OWN_CERT;
        /* In place: own_der lives as long as the chain. */
        if (mbedtls_x509_crt_parse_der_nocopy(&in->own_chain, in->own_der + used, len) != 0)
            return HK_ERR_TLS_OWN_CERT;
        used += len;
    }
    return HK_OK;
}

static hk_result trust_load(hk_tls *tls, const hk_tls_config *cfg)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    if (cfg->trust_pem == NULL) {
        for (size_t i = 0; i < HK_TLS_BUILTIN_ROOTS; i++) {
            if (mbedtls_x509_crt_parse_der_nocopy(&in->trust, hk_tls_roots_[i].der,
                                                  hk_tls_roots_[i].len) != 0)
                return HK_ERR_TLS_TRUST_STORE;
        }
        return HK_OK;
    }
    /* mbedTLS returns the number of certificates it could not parse (> 0)
     * or an error (< 0); a trust store is all-or-nothing. */
    int ret = mbedtls_x509_crt_parse(&in->trust, cfg->trust_pem, cfg->trust_pem_len);
    if (ret != 0 || in->trust.version == 0)
        return HK_ERR_TLS_TRUST_STORE;
    return HK_OK;
}

static hk_result ssl_configure(hk_tls *tls, const hk_tls_config *cfg)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    mbedtls_ssl_config *conf = &in->conf;

    static const unsigned char personal[] = "hubkey-tls";
    if (mbedtls_ctr_drbg_seed(&in->drbg, drbg_entropy, tls, personal, sizeof personal - 1) != 0)
        return in->se_result != HK_OK ? in->se_result : HK_ERR_TLS_SETUP;

    if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return HK_ERR_TLS_SETUP;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_ciphersuites(conf, cipher_suites);
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    /* SHA-2 only, RSA >= 2048 bits, NIST curves: what Azure's chains use. */
    mbedtls_ssl_conf_cert_profile(conf, &mbedtls_x509_crt_profile_next);
    mbedtls_ssl_conf_ca_chain(conf, &in->trust, NULL);
    mbedtls_ssl_conf_verify(conf, hk_tls_verify_cb_, tls);
    mbedtls_ssl_conf_rng(conf, hk_tls_rng_, tls);
    if (mbedtls_ssl_conf_own_cert(conf, &in->own_chain, &in->key) != 0)
        return HK_ERR_TLS_SETUP;
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    if (mbedtls_ssl_conf_max_frag_len(conf, HK_TLS_MFL_CODE) != 0)
        return HK_ERR_TLS_SETUP;
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif

    int ret = mbedtls_ssl_setup(&in->ssl, conf);
    if (ret != 0)
        return HK_ERR_TLS_SETUP;
    if (mbedtls_ssl_set_hostname(&in->ssl, cfg->host_name) != 0)
        return HK_ERR_INVALID_ARG;
    mbedtls_ssl_set_bio(&in->ssl, tls, hk_tls_bio_send_, hk_tls_bio_recv_, NULL);
    return HK_OK;
}

hk_result hk_tls_init(hk_tls *tls, const hk_tls_config *cfg, hk_transport lower)
{
    HK_REQUIRE(tls != NULL && cfg != NULL && cfg->se != NULL && cfg->host_name != NULL);
    HK_REQUIRE(cfg->host_name[0] != '\0');
    HK_REQUIRE(cfg->se->cert != NULL && cfg->se->sign_digest != NULL && cfg->se->random != NULL);
    HK_REQUIRE(lower.send != NULL && lower.recv != NULL);
    HK_REQUIRE(cfg->trust_pem == NULL ||
               (cfg->trust_pem_len > 0 && cfg->trust_pem[cfg->trust_pem_len - 1] == '\0'));

    memset(tls, 0, sizeof *tls);
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    in->lower = lower;
    in->se = cfg->se;
    in->now_s = HK_TLS_TIME_UNKNOWN;
    mbedtls_ssl_init(&in->ssl);
    mbedtls_ssl_config_init(&in->conf);
    mbedtls_ctr_drbg_init(&in->drbg);
    mbedtls_x509_crt_init(&in->trust);
    mbedtls_x509_crt_init(&in->own_chain);
    mbedtls_pk_init(&in->key);
    in->initialised = true;

    hk_result r = own_chain_read(tls);
    if (r == HK_OK)
        r = hk_tls_key_setup_(tls);
    if (r == HK_OK)
        r = trust_load(tls, cfg);
    if (r == HK_OK)
        r = ssl_configure(tls, cfg);
    if (r != HK_OK) {
        hk_tls_free(tls);
        return r;
    }
    in->now_s = HK_TLS_TIME_UNKNOWN;
    return HK_OK;
}

void hk_tls_free(hk_tls *tls)
{
    if (tls == NULL || !HK_TLS_IN(tls)->initialised)
        return;
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    mbedtls_ssl_free(&in->ssl);
    mbedtls_ssl_config_free(&in->conf);
    mbedtls_ctr_drbg_free(&in->drbg);
    mbedtls_x509_crt_free(&in->trust);
    mbedtls_x509_crt_free(&in->own_chain);
    mbedtls_pk_free(&in->key);
    mbedtls_platform_zeroize(tls, sizeof *tls);
}

/* ------------------------------------------------------------------------ */
/* Trust store and arena                                                     */

size_t hk_tls_builtin_root_count(void)
{
    return HK_TLS_BUILTIN_ROOTS;
}

hk_result hk_tls_builtin_root(size_t index, const uint8_t **out_der, size_t *out_len)
{
    HK_REQUIRE(out_der != NULL && out_len != NULL);
    if (index >= HK_TLS_BUILTIN_ROOTS)
        return HK_ERR_NOT_FOUND;
    *out_der = hk_tls_roots_[index].der;
    *out_len = hk_tls_roots_[index].len;
    return HK_OK;
}

hk_result hk_tls_arena_init(uint8_t *buf, size_t len)
{
    HK_REQUIRE(buf != NULL && len > 0);
#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
    mbedtls_memory_buffer_alloc_init(buf, len);
    return HK_OK;
#else
    (void)buf;
    (void)len;
    return HK_ERR_UNSUPPORTED;
#endif
}
