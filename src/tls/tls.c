/*
 * TLS 1.2 client over an hk_transport, with the key in the secure element.
 *
 * Everything here uses mbedTLS's public API and builds unchanged on 2.28 and
 * 3.6 (the few calls that were renamed are switched on
 * MBEDTLS_VERSION_NUMBER). The only version-specific part, how mbedTLS is
 * made to sign with a key it cannot see, lives in tls_key_mbedtls2.c /
 * tls_key_mbedtls3.c.
 *
 * Why certificate time is checked here and not by mbedTLS: mbedTLS compares
 * validity periods with the system clock (2.28 as Debian builds it), or not
 * at all (a build without MBEDTLS_HAVE_TIME_DATE, as on most devices). A
 * device's clock is whatever the application learned (SNTP, cellular, RTC),
 * so the application hands it to us (hk_tls_set_time) and the verify
 * callback replaces mbedTLS's time flags with flags computed from that clock.
 *
 * Why a record watcher: to tell "the server refused our certificate" from
 * other alerts we need the alert description. 2.28 exposes it in public
 * struct fields but 3.6 does not, so we read it from the bytes ourselves: a
 * TLS 1.2 server sends handshake-time alerts in plaintext (before its
 * ChangeCipherSpec), and the watcher follows record boundaries in the
 * received stream until that point. It only observes; mbedTLS still parses
 * every byte.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
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

#define HK_TLS_LOG "tls"

/* The private state must fit the storage hubkey/tls.h gives applications.
 * When it does not (a larger mbedTLS configuration), define
 * HK_TLS_STORAGE_SIZE for the whole program (hubkey/tls.h says how). */
_Static_assert(sizeof(struct hk_tls_internal) <= sizeof(((hk_tls *)0)->_opaque.bytes),
               "hk_tls: the TLS state does not fit HK_TLS_STORAGE_SIZE; define it larger");
_Static_assert(_Alignof(struct hk_tls_internal) <= _Alignof(hk_tls),
               "hk_tls: the TLS state needs more alignment than hk_tls gives");

/* TLS record content types and the alert descriptions that mean "your
 * certificate" (RFC 5246 section 7.2.2). */
#define HK_TLS_CT_CHANGE_CIPHER_SPEC 20u
#define HK_TLS_CT_ALERT 21u

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
static const int hk_tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

/* ------------------------------------------------------------------------ */
/* Time                                                                      */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm, a public-domain formula). */
static int64_t hk_tls_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* mbedTLS has already range-checked the fields while parsing (year 0..9999,
 * month 1..12, ...), so this cannot overflow. */
static int64_t hk_tls_x509_time_to_unix(const mbedtls_x509_time *t)
{
    int64_t days = hk_tls_days_from_civil(t->year, t->mon, t->day);
    return days * 86400 + (int64_t)t->hour * 3600 + (int64_t)t->min * 60 + t->sec;
}

static bool hk_tls_time_known(int64_t now)
{
    return now != HK_TLS_TIME_UNKNOWN && now >= HK_TLS_TIME_FLOOR;
}

/* Called by mbedTLS for every certificate of the server chain, root first
 * down to the leaf (depth 0). Replaces the time verdict; other flags stay. */
static int hk_tls_verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    hk_tls *tls = ctx;
    int64_t now = HK_TLS_IN(tls)->now_s;

    *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (!hk_tls_time_known(now)) {
        HK_TLS_IN(tls)->time_checked = false;
        if (depth == 0)
            HK_LOGW(HK_TLS_LOG, "wall clock unknown: server certificate validity not checked");
        return 0;
    }
    if (now < hk_tls_x509_time_to_unix(&crt->valid_from))
        *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    if (now > hk_tls_x509_time_to_unix(&crt->valid_to))
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
    HK_TLS_IN(tls)->time_checked = true;
    return 0;
}

void hk_tls_set_time(hk_tls *tls, int64_t unix_seconds)
{
    if (tls != NULL)
        HK_TLS_IN(tls)->now_s = unix_seconds;
}

bool hk_tls_time_checked(const hk_tls *tls)
{
    return tls != NULL && HK_TLS_CIN(tls)->time_checked;
}

unsigned hk_tls_sign_count(const hk_tls *tls)
{
    return tls != NULL ? HK_TLS_CIN(tls)->sign_count : 0u;
}

/* ------------------------------------------------------------------------ */
/* Randomness and signing                                                    */

static int hk_tls_entropy(void *ctx, unsigned char *out, size_t len)
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
static size_t hk_tls_der_int_len(const uint8_t *v, size_t n, size_t *out_skip)
{
    size_t skip = 0;
    while (skip < n && v[skip] == 0)
        skip++;
    *out_skip = skip;
    if (skip == n)
        return 0;
    return (n - skip) + ((v[skip] & 0x80u) ? 1u : 0u);
}

static size_t hk_tls_der_int_write(uint8_t *out, const uint8_t *v, size_t n, size_t skip,
                                   size_t len)
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
    size_t lr = hk_tls_der_int_len(rs, 32, &skip_r);
    size_t ls = hk_tls_der_int_len(rs + 32, 32, &skip_s);
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
    pos += hk_tls_der_int_write(out + pos, rs, 32, skip_r, lr);
    hk_tls_der_int_write(out + pos, rs + 32, 32, skip_s, ls);
    return HK_OK;
}

/* ------------------------------------------------------------------------ */
/* Lower transport (mbedTLS BIO callbacks) and the record watcher            */

/* Follows the server's record framing until its ChangeCipherSpec and keeps
 * the first alert seen. Accepts any bytes; example of a stream it reads:
 *   16 03 03 00 3d 02 00 00 39 03 03 ...   ServerHello record (61 bytes)
 *   15 03 03 00 02 02 30                   alert: fatal (2), unknown_ca (48)
 */
static void hk_tls_watch(hk_tls *tls, const uint8_t *p, size_t n)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    while (n > 0 && !in->server_encrypting) {
        if (in->rec_hdr_len < sizeof in->rec_hdr) {
            in->rec_hdr[in->rec_hdr_len++] = *p++;
            n--;
            if (in->rec_hdr_len == sizeof in->rec_hdr) {
                in->rec_type = in->rec_hdr[0];
                in->rec_left = (uint16_t)((in->rec_hdr[3] << 8) | in->rec_hdr[4]);
                in->rec_pos = 0;
                if (in->rec_left == 0)
                    in->rec_hdr_len = 0;
            }
            continue;
        }
        size_t take = n < in->rec_left ? n : in->rec_left;
        if (in->rec_type == HK_TLS_CT_ALERT && in->alert_level == 0) {
            for (size_t i = 0; i < take; i++) {
                size_t at = (size_t)in->rec_pos + i;
                if (at == 0) {
                    in->alert_first_byte = p[i];
                } else if (at == 1) {
                    in->alert_level = in->alert_first_byte;
                    in->alert_desc = p[i];
                }
            }
        }
        in->rec_pos = (uint16_t)(in->rec_pos + take);
        in->rec_left = (uint16_t)(in->rec_left - take);
        p += take;
        n -= take;
        if (in->rec_left == 0) {
            in->rec_hdr_len = 0;
            if (in->rec_type == HK_TLS_CT_CHANGE_CIPHER_SPEC)
                in->server_encrypting = true;
        }
    }
}

static int hk_tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    hk_tls *tls = ctx;
    size_t sent = 0;
    hk_result r = HK_TLS_IN(tls)->lower.send(HK_TLS_IN(tls)->lower.ctx, buf, len, &sent);
    if (r != HK_OK) {
        HK_TLS_IN(tls)->lower_result = r;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    if (sent == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (sent > len || sent > INT_MAX) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_IO;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    return (int)sent;
}

static int hk_tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    hk_tls *tls = ctx;
    size_t got = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    hk_result r = HK_TLS_IN(tls)->lower.recv(HK_TLS_IN(tls)->lower.ctx, buf, len, &got);
    if (r == HK_ERR_CLOSED) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_CLOSED;
        return 0; /* end of stream, in mbedTLS's BIO convention */
    }
    if (r != HK_OK) {
        HK_TLS_IN(tls)->lower_result = r;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    if (got == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (got > len) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_IO;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    hk_tls_watch(tls, buf, got);
    return (int)got;
}

/* ------------------------------------------------------------------------ */
/* Error mapping                                                             */

static bool hk_tls_alert_is_about_our_cert(uint8_t desc)
{
    switch (desc) {
    case 41: /* no_certificate (SSLv3) */
    case 42: /* bad_certificate */
    case 43: /* unsupported_certificate */
    case 44: /* certificate_revoked */
    case 45: /* certificate_expired */
    case 46: /* certificate_unknown */
    case 48: /* unknown_ca */
    case 49: /* access_denied */
    case 116: /* certificate_required (sent by some stacks on TLS 1.2 too) */
        return true;
    default:
        return false;
    }
}

/*
 * A server that refuses our certificate sends its fatal alert and closes at
 * once. We may still be writing our flight (ClientKeyExchange,
 * CertificateVerify, Finished): the write then fails (EPIPE, or a reset the
 * server's kernel sends because our bytes arrived after its close) before
 * mbedTLS reads again, and the alert, already in our receive buffer, was
 * never looked at, so the refusal read as "connection closed by peer". The
 * bytes that wait are read here, without blocking and a bounded number of
 * times, for the watcher only: an alert found there is what ended the
 * handshake.
 */
static void hk_tls_drain_for_alert(hk_tls *tls)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    uint8_t buf[16];
    for (int i = 0; i < 32 && in->alert_level == 0 && !in->server_encrypting; i++) {
        size_t got = 0;
        if (in->lower.recv(in->lower.ctx, buf, sizeof buf, &got) != HK_OK || got > sizeof buf)
            return;
        hk_tls_watch(tls, buf, got);
    }
}

static hk_result hk_tls_fail(hk_tls *tls, int ret)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    hk_result r;
    in->mbedtls_err = ret;
    bool lost = in->lower_result != HK_OK || ret == MBEDTLS_ERR_SSL_CONN_EOF ||
                ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    if (lost && !in->handshake_done && in->se_result == HK_OK) {
        hk_tls_drain_for_alert(tls);
        if (in->alert_level == 2) { /* fatal: a warning does not end a handshake */
            in->lower_result = HK_OK; /* the alert, not the closed connection */
            ret = MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
        }
    }
    if (in->se_result != HK_OK) {
        in->fail_kind = HK_TLS_FAIL_SE;
        r = in->se_result;
    } else if (in->lower_result != HK_OK) {
        in->fail_kind = HK_TLS_FAIL_LOWER;
        r = in->lower_result;
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        uint32_t f = mbedtls_ssl_get_verify_result(&in->ssl);
        in->verify_flags = f;
        in->fail_kind = HK_TLS_FAIL_VERIFY;
        if (f & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_MISSING |
                 MBEDTLS_X509_BADCERT_SKIP_VERIFY | MBEDTLS_X509_BADCERT_BAD_MD |
                 MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY |
                 MBEDTLS_X509_BADCERT_OTHER))
            r = HK_ERR_TLS_UNTRUSTED;
        else if (f & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
            r = HK_ERR_TLS_EXPIRED;
        else if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
            r = HK_ERR_TLS_HOSTNAME;
        else
            r = HK_ERR_TLS_UNTRUSTED;
    } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        in->fail_kind = HK_TLS_FAIL_ALERT;
        /* Only after we presented our certificate (and signed with it)
         * can a certificate alert be about it. */
        r = (in->alert_level != 0 && in->sign_count > 0 &&
             hk_tls_alert_is_about_our_cert(in->alert_desc))
                ? HK_ERR_TLS_CLIENT_REJECTED
                : HK_ERR_TLS_ALERT;
    } else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        in->fail_kind = HK_TLS_FAIL_LOWER;
        in->lower_result = HK_ERR_CLOSED;
        r = HK_ERR_CLOSED;
    } else if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
        in->fail_kind = HK_TLS_FAIL_MBEDTLS;
        r = HK_ERR_TLS_SETUP;
    } else {
        in->fail_kind = HK_TLS_FAIL_MBEDTLS;
        r = HK_ERR_TLS_HANDSHAKE;
    }
    in->failed = r;
    HK_LOGE(HK_TLS_LOG, "failed: %s (mbedTLS -0x%04x)", hk_result_name(r), (unsigned)-ret);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                    */

static hk_result hk_tls_read_own_chain(hk_tls *tls)
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

static hk_result hk_tls_load_trust(hk_tls *tls, const hk_tls_config *cfg)
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

static hk_result hk_tls_configure(hk_tls *tls, const hk_tls_config *cfg)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    mbedtls_ssl_config *conf = &in->conf;

    static const unsigned char personal[] = "hubkey-tls";
    if (mbedtls_ctr_drbg_seed(&in->drbg, hk_tls_entropy, tls, personal, sizeof personal - 1) != 0)
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
    mbedtls_ssl_conf_ciphersuites(conf, hk_tls_suites);
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    /* SHA-2 only, RSA >= 2048 bits, NIST curves: what Azure's chains use. */
    mbedtls_ssl_conf_cert_profile(conf, &mbedtls_x509_crt_profile_next);
    mbedtls_ssl_conf_ca_chain(conf, &in->trust, NULL);
    mbedtls_ssl_conf_verify(conf, hk_tls_verify_cb, tls);
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
    mbedtls_ssl_set_bio(&in->ssl, tls, hk_tls_bio_send, hk_tls_bio_recv, NULL);
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

    hk_result r = hk_tls_read_own_chain(tls);
    if (r == HK_OK)
        r = hk_tls_key_setup_(tls);
    if (r == HK_OK)
        r = hk_tls_load_trust(tls, cfg);
    if (r == HK_OK)
        r = hk_tls_configure(tls, cfg);
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
/* Handshake and data                                                        */

hk_result hk_tls_handshake(hk_tls *tls, bool *out_done)
{
    HK_REQUIRE(tls != NULL && out_done != NULL && HK_TLS_IN(tls)->initialised);
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    *out_done = false;
    if (in->failed != HK_OK)
        return in->failed;
    if (in->handshake_done) {
        *out_done = true;
        return HK_OK;
    }
    int ret = mbedtls_ssl_handshake(&in->ssl);
    if (ret == 0) {
        in->handshake_done = true;
        *out_done = true;
        HK_LOGI(HK_TLS_LOG, "established: %s", mbedtls_ssl_get_ciphersuite(&in->ssl));
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail(tls, ret);
}

static hk_result hk_tls_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_tls *tls = ctx;
    HK_REQUIRE(tls != NULL && out_sent != NULL && (buf != NULL || len == 0));
    *out_sent = 0;
    if (HK_TLS_IN(tls)->failed != HK_OK)
        return HK_TLS_IN(tls)->failed;
    if (!HK_TLS_IN(tls)->handshake_done)
        return HK_ERR_STATE;
    if (len == 0)
        return HK_OK;
    int ret = mbedtls_ssl_write(&HK_TLS_IN(tls)->ssl, buf, len);
    if (ret > 0) {
        *out_sent = (size_t)ret;
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail(tls, ret);
}

static hk_result hk_tls_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_tls *tls = ctx;
    HK_REQUIRE(tls != NULL && out_received != NULL && (buf != NULL || cap == 0));
    *out_received = 0;
    if (HK_TLS_IN(tls)->failed != HK_OK)
        return HK_TLS_IN(tls)->failed;
    if (!HK_TLS_IN(tls)->handshake_done)
        return HK_ERR_STATE;
    if (cap == 0)
        return HK_OK;
    int ret = mbedtls_ssl_read(&HK_TLS_IN(tls)->ssl, buf, cap);
    if (ret > 0) {
        *out_received = (size_t)ret;
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        HK_TLS_IN(tls)->failed = HK_ERR_CLOSED;
        HK_TLS_IN(tls)->fail_kind = HK_TLS_FAIL_LOWER;
        HK_TLS_IN(tls)->lower_result = HK_ERR_CLOSED;
        return HK_ERR_CLOSED;
    }
    return hk_tls_fail(tls, ret);
}

hk_transport hk_tls_transport(hk_tls *tls)
{
    hk_transport t = {tls, hk_tls_send, hk_tls_recv};
    return t;
}

hk_result hk_tls_close(hk_tls *tls)
{
    HK_REQUIRE(tls != NULL && HK_TLS_IN(tls)->initialised);
    if (!HK_TLS_IN(tls)->handshake_done || HK_TLS_IN(tls)->failed != HK_OK)
        return HK_OK;
    int ret = mbedtls_ssl_close_notify(&HK_TLS_IN(tls)->ssl);
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail(tls, ret);
}

/* ------------------------------------------------------------------------ */
/* Reasons                                                                   */

typedef struct hk_tls_str {
    char *buf;
    size_t cap;
    size_t len; /* characters written, excluding the NUL */
} hk_tls_str;

static void hk_tls_str_put(hk_tls_str *s, const char *text)
{
    while (*text != '\0' && s->len + 1 < s->cap)
        s->buf[s->len++] = *text++;
    s->buf[s->len] = '\0';
}

static void hk_tls_str_uint(hk_tls_str *s, unsigned long v, unsigned base, unsigned min_digits)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0 && n < sizeof digits);
    while (n < min_digits && n < sizeof digits)
        digits[n++] = '0';
    char out[25];
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\0';
    hk_tls_str_put(s, out);
}

/* A result as text: its message, or "result N" on a build without message
 * texts (HK_RESULT_MESSAGES=0, hk_common.h), where hk_result_str() on a
 * host gives the message of N. */
static void hk_tls_str_result(hk_tls_str *s, hk_result r)
{
#if HK_RESULT_MESSAGES
    hk_tls_str_put(s, hk_result_str(r));
#else
    hk_tls_str_put(s, "result ");
    hk_tls_str_uint(s, (unsigned long)r, 10, 1);
#endif
}

static const char *hk_tls_alert_name(uint8_t desc)
{
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    default: return "unknown alert";
    }
}

/* Verify flags, in the order they matter to a user. */
static const struct {
    uint32_t flag;
    const char *text;
} hk_tls_flag_names[] = {
    {MBEDTLS_X509_BADCERT_NOT_TRUSTED, "not signed by a trusted CA (or intermediate missing)"},
    {MBEDTLS_X509_BADCERT_EXPIRED, "expired"},
    {MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"},
    {MBEDTLS_X509_BADCERT_CN_MISMATCH, "host name mismatch"},
    {MBEDTLS_X509_BADCERT_REVOKED, "revoked"},
    {MBEDTLS_X509_BADCERT_MISSING, "missing"},
    {MBEDTLS_X509_BADCERT_SKIP_VERIFY, "verification skipped"},
    {MBEDTLS_X509_BADCERT_KEY_USAGE, "key usage"},
    {MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "extended key usage"},
    {MBEDTLS_X509_BADCERT_BAD_MD, "hash not allowed"},
    {MBEDTLS_X509_BADCERT_BAD_PK, "key type not allowed"},
    {MBEDTLS_X509_BADCERT_BAD_KEY, "key too weak"},
    {MBEDTLS_X509_BADCERT_OTHER, "other"},
};

hk_result hk_tls_reason(const hk_tls *tls, char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(tls != NULL && out != NULL && out_len != NULL && cap > 0);
    const struct hk_tls_internal *in = HK_TLS_CIN(tls);
    hk_tls_str s = {out, cap, 0};
    out[0] = '\0';
    switch (in->fail_kind) {
    case HK_TLS_FAIL_NONE:
        hk_tls_str_put(&s, "no failure");
        break;
    case HK_TLS_FAIL_VERIFY: {
        hk_tls_str_put(&s, "server certificate:");
        bool any = false;
        for (size_t i = 0; i < HK_ARRAY_LEN(hk_tls_flag_names); i++) {
            if (in->verify_flags & hk_tls_flag_names[i].flag) {
                hk_tls_str_put(&s, any ? ", " : " ");
                hk_tls_str_put(&s, hk_tls_flag_names[i].text);
                any = true;
            }
        }
        if (!any)
            hk_tls_str_put(&s, " rejected");
        break;
    }
    case HK_TLS_FAIL_ALERT:
        if (in->alert_level != 0) {
            hk_tls_str_put(&s, "alert ");
            hk_tls_str_uint(&s, in->alert_desc, 10, 1);
            hk_tls_str_put(&s, " (");
            hk_tls_str_put(&s, hk_tls_alert_name(in->alert_desc));
            hk_tls_str_put(&s, ") from server");
        } else {
            hk_tls_str_put(&s, "encrypted fatal alert from server");
        }
        break;
    case HK_TLS_FAIL_MBEDTLS:
        hk_tls_str_put(&s, "mbedTLS error -0x");
        hk_tls_str_uint(&s, (unsigned long)(in->mbedtls_err < 0 ? -(long)in->mbedtls_err : 0), 16, 4);
        break;
    case HK_TLS_FAIL_LOWER:
        hk_tls_str_put(&s, "connection: ");
        hk_tls_str_result(&s, in->lower_result);
        break;
    case HK_TLS_FAIL_SE:
        hk_tls_str_put(&s, "secure element: ");
        hk_tls_str_result(&s, in->se_result);
        break;
    }
    *out_len = s.len;
    return HK_OK;
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
