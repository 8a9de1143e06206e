/*
 * TLS module: verification, failure reasons and alerts. The verify callback
 * that judges certificate validity by the application's clock, the record
 * watcher that finds the server's alerts, the mapping of an mbedTLS error to
 * the hk_result the caller gets, and hk_tls_reason's text.
 *
 * Why a file of its own: this is where a failed connection is explained, to
 * the program (which hk_result) and to the person reading the log (which
 * reason); it reads the state the engine (tls_io.c) recorded and sends
 * nothing.
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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "common/hk_common.h"
#include "hubkey/log.h"
#include "hubkey/tls.h"
#include "tls/tls_internal.h"

/* TLS record content types and the alert descriptions that mean "your
 * certificate" (RFC 5246 section 7.2.2). */
#define HK_TLS_CT_CHANGE_CIPHER_SPEC 20u
#define HK_TLS_CT_ALERT 21u

/* ------------------------------------------------------------------------ */
/* Time                                                                      */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm, a public-domain formula). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
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
static int64_t x509_time_to_unix(const mbedtls_x509_time *t)
{
    int64_t days = days_from_civil(t->year, t->mon, t->day);
    return days * 86400 + (int64_t)t->hour * 3600 + (int64_t)t->min * 60 + t->sec;
}

static bool time_known(int64_t now)
{
    return now != HK_TLS_TIME_UNKNOWN && now >= HK_TLS_TIME_FLOOR;
}

/* Called by mbedTLS for every certificate of the server chain, root first
 * down to the leaf (depth 0). Replaces the time verdict; other flags stay. */
int hk_tls_verify_cb_(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    hk_tls *tls = ctx;
    int64_t now = HK_TLS_IN(tls)->now_s;

    *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (!time_known(now)) {
        HK_TLS_IN(tls)->time_checked = false;
        if (depth == 0)
            HK_LOGW(HK_TLS_LOG, "wall clock unknown: server certificate validity not checked");
        return 0;
    }
    if (now < x509_time_to_unix(&crt->valid_from))
        *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    if (now > x509_time_to_unix(&crt->valid_to))
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

/* ------------------------------------------------------------------------ */
/* The record watcher                                                        */

/* Follows the server's record framing until its ChangeCipherSpec and keeps
 * the first alert seen. Accepts any bytes; example of a stream it reads:
 *   16 03 03 00 3d 02 00 00 39 03 03 ...   ServerHello record (61 bytes)
 *   15 03 03 00 02 02 30                   alert: fatal (2), unknown_ca (48)
 */
void hk_tls_watch_(hk_tls *tls, const uint8_t *p, size_t n)
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

/* ------------------------------------------------------------------------ */
/* Error mapping                                                             */

static bool alert_is_about_our_cert(uint8_t desc)
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
static void alert_drain(hk_tls *tls)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    uint8_t buf[16];
    for (int i = 0; i < 32 && in->alert_level == 0 && !in->server_encrypting; i++) {
        size_t got = 0;
        if (in->lower.recv(in->lower.ctx, buf, sizeof buf, &got) != HK_OK || got > sizeof buf)
            return;
        hk_tls_watch_(tls, buf, got);
    }
}

hk_result hk_tls_fail_(hk_tls *tls, int ret)
{
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    hk_result r;
    in->mbedtls_err = ret;
    bool lost = in->lower_result != HK_OK || ret == MBEDTLS_ERR_SSL_CONN_EOF ||
                ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    if (lost && !in->handshake_done && in->se_result == HK_OK) {
        alert_drain(tls);
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
             alert_is_about_our_cert(in->alert_desc))
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
/* Reasons                                                                   */

typedef struct reason_text {
    char *buf;
    size_t cap;
    size_t len; /* characters written, excluding the NUL */
} reason_text;

static void text_put(reason_text *s, const char *text)
{
    while (*text != '\0' && s->len + 1 < s->cap)
        s->buf[s->len++] = *text++;
    s->buf[s->len] = '\0';
}

static void text_uint(reason_text *s, unsigned long v, unsigned base, unsigned min_digits)
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
    text_put(s, out);
}

/* A result as text: its message, or "result N" on a build without message
 * texts (HK_RESULT_MESSAGES=0, hk_common.h), where hk_result_str() on a
 * host gives the message of N. */
static void text_result(reason_text *s, hk_result r)
{
#if HK_RESULT_MESSAGES
    text_put(s, hk_result_str(r));
#else
    text_put(s, "result ");
    text_uint(s, (unsigned long)r, 10, 1);
#endif
}

static const char *alert_name(uint8_t desc)
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
} verify_flag_names[] = {
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
    reason_text s = {out, cap, 0};
    out[0] = '\0';
    switch (in->fail_kind) {
    case HK_TLS_FAIL_NONE:
        text_put(&s, "no failure");
        break;
    case HK_TLS_FAIL_VERIFY: {
        text_put(&s, "server certificate:");
        bool any = false;
        for (size_t i = 0; i < HK_ARRAY_LEN(verify_flag_names); i++) {
            if (in->verify_flags & verify_flag_names[i].flag) {
                text_put(&s, any ? ", " : " ");
                text_put(&s, verify_flag_names[i].text);
                any = true;
            }
        }
        if (!any)
            text_put(&s, " rejected");
        break;
    }
    case HK_TLS_FAIL_ALERT:
        if (in->alert_level != 0) {
            text_put(&s, "alert ");
            text_uint(&s, in->alert_desc, 10, 1);
            text_put(&s, " (");
            text_put(&s, alert_name(in->alert_desc));
            text_put(&s, ") from server");
        } else {
            text_put(&s, "encrypted fatal alert from server");
        }
        break;
    case HK_TLS_FAIL_MBEDTLS:
        text_put(&s, "mbedTLS error -0x");
        text_uint(&s, (unsigned long)(in->mbedtls_err < 0 ? -(long)in->mbedtls_err : 0), 16, 4);
        break;
    case HK_TLS_FAIL_LOWER:
        text_put(&s, "connection: ");
        text_result(&s, in->lower_result);
        break;
    case HK_TLS_FAIL_SE:
        text_put(&s, "secure element: ");
        text_result(&s, in->se_result);
        break;
    }
    *out_len = s.len;
    return HK_OK;
}
