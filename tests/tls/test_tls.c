/*
 * TLS client tests. Usage: test_tls PKI_DIR (made by make-test-pki).
 *
 * Unit part: DER signature encoding (checked against OpenSSL's encoder), the
 * built-in roots' fingerprints, every init/state error, the record watcher
 * and error mapping with scripted fake servers.
 * Server part: handshakes against `openssl s_server` with client-certificate
 * verification on a random loopback port, one refusal per failure class.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <mbedtls/version.h> /* which curves the mbedTLS under test has */

#include "hk_test.h"
#include "hubkey/tls.h"
#include "tls_test_support.h"

static const char *g_pki;
#define HOST "hub.hubkey.test"

/* ------------------------------------------------------------------------ */
/* DER encoding of r||s                                                      */

static size_t openssl_der(const uint8_t rs[64], uint8_t *out)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char *p = out;
    int n = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    return n > 0 ? (size_t)n : 0;
}

static void test_der_known_answers(void)
{
    uint8_t rs[64], out[80], expected[80];
    size_t len = 0;

    /* r = 01 02 .. 20 (no padding), s = 80 00 .. 00 01 (top bit: 0x00 prefix). */
    for (int i = 0; i < 32; i++)
        rs[i] = (uint8_t)(i + 1);
    memset(rs + 32, 0, 32);
    rs[32] = 0x80;
    rs[63] = 0x01;
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, 71, &len), HK_OK);
    uint8_t want[71];
    size_t w = 0;
    want[w++] = 0x30;
    want[w++] = 69;
    want[w++] = 0x02;
    want[w++] = 32;
    for (int i = 0; i < 32; i++)
        want[w++] = (uint8_t)(i + 1);
    want[w++] = 0x02;
    want[w++] = 33;
    want[w++] = 0x00;
    want[w++] = 0x80;
    for (int i = 0; i < 30; i++)
        want[w++] = 0;
    want[w++] = 0x01;
    HK_CHECK_MEM(out, len, want, w);
    HK_CHECK(hk_guard_intact(out, len, sizeof out));

    /* Leading zeros stripped; a stripped value whose top bit is set gets
     * one 0x00 back: r = 00 00 7f ff.. , s = 00 80 00.. 05. */
    memset(rs, 0xff, 64);
    rs[0] = 0x00;
    rs[1] = 0x00;
    rs[2] = 0x7f;
    memset(rs + 32, 0, 32);
    rs[33] = 0x80;
    rs[63] = 0x05;
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, sizeof out - 8, &len), HK_OK);
    size_t n = openssl_der(rs, expected);
    HK_CHECK_MEM(out, len, expected, n);
    HK_CHECK(out[2] == 0x02 && out[3] == 30); /* r: 30 bytes */
    HK_CHECK(hk_guard_intact(out, len, sizeof out));

    /* Largest form: both top bits set, 72 bytes; 71 is too small. */
    memset(rs, 0xa5, 64);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, 71, &len), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(len, 72);
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, 72, &len), HK_OK);
    n = openssl_der(rs, expected);
    HK_CHECK_MEM(out, len, expected, n);
    HK_CHECK(hk_guard_intact(out, 72, sizeof out));

    /* Zero r or s is not a signature. */
    memset(rs, 0, 32);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, sizeof out, &len), HK_ERR_CRYPTO);
    memset(rs, 1, 32);
    memset(rs + 32, 0, 32);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, sizeof out, &len), HK_ERR_CRYPTO);
    HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(NULL, out, sizeof out, &len), HK_ERR_INVALID_ARG);

    /* Pseudo-random vectors against OpenSSL's encoder. */
    uint32_t x = 12345;
    for (int k = 0; k < 200; k++) {
        for (int i = 0; i < 64; i++) {
            x = x * 1103515245u + 12345u;
            rs[i] = (uint8_t)(x >> 16);
        }
        if (k % 4 == 0)
            memset(rs, 0, (size_t)(k % 31)); /* leading zeros of varying length */
        HK_CHECK_RESULT(hk_tls_ecdsa_raw_to_der(rs, out, sizeof out, &len), HK_OK);
        n = openssl_der(rs, expected);
        HK_CHECK_MEM(out, len, expected, n);
    }
}

/* ------------------------------------------------------------------------ */
/* Built-in roots                                                            */

static void test_builtin_roots(void)
{
    /* SHA-256 fingerprints as published by the issuers (DigiCert's root
     * certificate page; Microsoft's "Azure Certificate Authority details"). */
    static const struct {
        const char *cn;
        const char *sha256;
    } want[] = {
        {"DigiCert Global Root G2", "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f"},
        {"Microsoft RSA Root Certificate Authority 2017",
         "c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0"},
        {"DigiCert Global Root G3", "31ad6648f8104138c738f39ea4320133393e3a18cc02296ef97c2ac9ef6731d0"},
        {"Microsoft ECC Root Certificate Authority 2017",
         "358df39d764af9e1b766e9c972df352ee15cfac227af6ad1d70e8e4a6edcba02"},
    };
    /* The P-384 roots exist exactly when the mbedTLS in use can verify them. */
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    const size_t n = 4;
#else
    const size_t n = 2;
#endif
    HK_CHECK_EQ(hk_tls_builtin_root_count(), n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *der = NULL;
        size_t len = 0;
        HK_CHECK_RESULT(hk_tls_builtin_root(i, &der, &len), HK_OK);
        uint8_t md[32], exp[32];
        unsigned mdlen = 0;
        HK_CHECK(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1);
        hk_test_unhex(want[i].sha256, exp, sizeof exp);
        HK_CHECK_MEM(md, mdlen, exp, 32);
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long)len);
        HK_CHECK(x != NULL);
        if (x != NULL) {
            char cn[128] = "";
            X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
            HK_CHECK(strcmp(cn, want[i].cn) == 0);
            X509_free(x);
        }
    }
    const uint8_t *der;
    size_t len;
    HK_CHECK_RESULT(hk_tls_builtin_root(n, &der, &len), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(hk_tls_builtin_root(0, NULL, &len), HK_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------------------ */
/* Init and state errors                                                     */

static uint8_t g_trust[16384];
static size_t g_trust_len;

static hk_tls_config cfg_for(const hk_se *se, bool builtin)
{
    hk_tls_config c;
    memset(&c, 0, sizeof c);
    c.host_name = HOST;
    c.se = se;
    if (!builtin) {
        c.trust_pem = g_trust;
        c.trust_pem_len = g_trust_len;
    }
    return c;
}

static void test_init_errors(void)
{
    static hk_tls tls;
    tt_se soft;
    HK_CHECK(tt_se_open(&soft, g_pki, "device"));
    hk_se se = tt_se_iface(&soft);
    tt_fake fake = {0};
    hk_transport lower = tt_fake_transport(&fake);
    hk_tls_config c = cfg_for(&se, false);

    HK_CHECK_RESULT(hk_tls_init(NULL, &c, lower), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_tls_init(&tls, NULL, lower), HK_ERR_INVALID_ARG);
    c.host_name = "";
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_INVALID_ARG);
    c = cfg_for(&se, false);
    c.trust_pem_len = g_trust_len - 1; /* NUL not counted */
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_INVALID_ARG);
    hk_transport no_send = {&fake, NULL, lower.recv};
    c = cfg_for(&se, false);
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, no_send), HK_ERR_INVALID_ARG);

    /* A trust store that is not PEM certificates. */
    static const uint8_t junk[] = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    c.trust_pem = junk;
    c.trust_pem_len = sizeof junk;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_TLS_TRUST_STORE);
    static const uint8_t empty[] = "nothing here";
    c.trust_pem = empty;
    c.trust_pem_len = sizeof empty;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_TLS_TRUST_STORE);

    /* Secure-element failures pass through. */
    c = cfg_for(&se, false);
    soft.fail_cert = HK_ERR_SE_NO_RESPONSE;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_SE_NO_RESPONSE);
    soft.fail_cert = HK_OK;
    soft.fail_random = HK_ERR_SE_STATUS;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_SE_STATUS);
    soft.fail_random = HK_OK;

    /* A corrupted device certificate, and one with a P-384 key. */
    soft.cert[0][10] ^= 0xff;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_TLS_OWN_CERT);
    soft.cert[0][10] ^= 0xff;
    size_t saved = soft.cert_len[0];
    soft.cert_len[0] = 0;
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_ERR_TLS_OWN_CERT);
    soft.cert_len[0] = saved;
    tt_se p384;
    HK_CHECK(tt_se_open(&p384, g_pki, "device384"));
    hk_se se384 = tt_se_iface(&p384);
    hk_tls_config c384 = cfg_for(&se384, false);
    HK_CHECK_RESULT(hk_tls_init(&tls, &c384, lower), HK_ERR_TLS_OWN_CERT);
    tt_se_close(&p384);

    /* Success, then the transport refuses data before the handshake. */
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_OK);
    hk_transport t = hk_tls_transport(&tls);
    uint8_t buf[8];
    size_t n = 99;
    HK_CHECK_RESULT(t.send(t.ctx, buf, sizeof buf, &n), HK_ERR_STATE);
    HK_CHECK_EQ(n, 0);
    HK_CHECK_RESULT(t.recv(t.ctx, buf, sizeof buf, &n), HK_ERR_STATE);
    char reason[HK_TLS_REASON_MAX];
    size_t rl;
    HK_CHECK_RESULT(hk_tls_reason(&tls, reason, sizeof reason, &rl), HK_OK);
    HK_CHECK(strcmp(reason, "no failure") == 0);
    HK_CHECK_RESULT(hk_tls_reason(&tls, reason, 0, &rl), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_tls_close(&tls), HK_OK); /* nothing to close yet */
    HK_CHECK(!hk_tls_time_checked(&tls));
    hk_tls_free(&tls);
    hk_tls_free(&tls); /* twice is harmless */

    /* Built-in trust store loads. */
    c = cfg_for(&se, true);
    HK_CHECK_RESULT(hk_tls_init(&tls, &c, lower), HK_OK);
    hk_tls_free(&tls);
    tt_se_close(&soft);
}

/* ------------------------------------------------------------------------ */
/* Scripted servers: garbage, cuts, plaintext alerts                         */

static hk_result run_fake(tt_fake *fake, char *reason, size_t cap)
{
    static hk_tls tls;
    tt_se soft;
    if (!tt_se_open(&soft, g_pki, "device"))
        return HK_ERR_FILE;
    hk_se se = tt_se_iface(&soft);
    hk_tls_config c = cfg_for(&se, false);
    hk_result r = hk_tls_init(&tls, &c, tt_fake_transport(fake));
    if (r == HK_OK) {
        r = tt_handshake(&tls, -1, 10000);
        if (r != HK_OK) {
            bool done = true;
            /* Failures are sticky. */
            HK_CHECK_RESULT(hk_tls_handshake(&tls, &done), r);
            HK_CHECK(!done);
            size_t rl;
            HK_CHECK_RESULT(hk_tls_reason(&tls, reason, cap, &rl), HK_OK);
            HK_CHECK_EQ(rl, strlen(reason));
        }
        HK_CHECK_EQ(hk_tls_sign_count(&tls), 0);
        hk_tls_free(&tls);
    }
    tt_se_close(&soft);
    return r;
}

static void test_fake_garbage(void)
{
    char reason[HK_TLS_REASON_MAX];
    static const uint8_t http[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    tt_fake f = {http, sizeof http - 1, 0, 0, HK_OK, 0, false, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&f, reason, sizeof reason), HK_ERR_TLS_HANDSHAKE);
    HK_CHECK(strncmp(reason, "mbedTLS error -0x", 17) == 0);

    /* A handshake record whose body is noise. */
    uint8_t noise[300];
    noise[0] = 0x16;
    noise[1] = 0x03;
    noise[2] = 0x03;
    noise[3] = 0x01;
    noise[4] = 0x00;
    uint32_t x = 7;
    for (size_t i = 5; i < sizeof noise; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(x >> 24);
    }
    /* A ServerHello header whose length matches the record, then noise. */
    noise[5] = 0x02;
    noise[6] = 0x00;
    noise[7] = 0x00;
    noise[8] = 0xfc;
    tt_fake g = {noise, 5 + 256, 0, 3, HK_ERR_CLOSED, 0, true, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&g, reason, sizeof reason), HK_ERR_TLS_HANDSHAKE);
}

static void test_fake_cut(void)
{
    char reason[HK_TLS_REASON_MAX];
    static const uint8_t partial[] = {0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00};
    tt_fake f = {partial, sizeof partial, 0, 0, HK_ERR_CLOSED, 0, false, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&f, reason, sizeof reason), HK_ERR_CLOSED);
    HK_CHECK(strcmp(reason, "connection: connection closed by peer") == 0);
    /* A lower-transport failure passes through unchanged. */
    tt_fake g = {partial, sizeof partial, 0, 1, HK_ERR_IO, 0, false, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&g, reason, sizeof reason), HK_ERR_IO);
    /* Closed before a single byte. */
    tt_fake h = {partial, 0, 0, 0, HK_ERR_CLOSED, 0, false, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&h, reason, sizeof reason), HK_ERR_CLOSED);
}

static void test_fake_alerts(void)
{
    char reason[HK_TLS_REASON_MAX];
    /* 15 03 03 00 02 | 02 28: fatal handshake_failure, byte by byte with stalls. */
    static const uint8_t hs_fail[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    tt_fake f = {hs_fail, sizeof hs_fail, 0, 1, HK_ERR_CLOSED, 0, true, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&f, reason, sizeof reason), HK_ERR_TLS_ALERT);
    HK_CHECK(strcmp(reason, "alert 40 (handshake_failure) from server") == 0);
    /* unknown_ca before we presented a certificate is not about our
     * certificate: a plain alert. */
    static const uint8_t unknown_ca[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30};
    tt_fake g = {unknown_ca, sizeof unknown_ca, 0, 0, HK_ERR_CLOSED, 0, false, false, HK_OK};
    HK_CHECK_RESULT(run_fake(&g, reason, sizeof reason), HK_ERR_TLS_ALERT);
    HK_CHECK(strcmp(reason, "alert 48 (unknown_ca) from server") == 0);
    /* An empty record before the alert does not confuse the watcher. */
    static const uint8_t empty_then_alert[] = {0x17, 0x03, 0x03, 0x00, 0x00,
                                               0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46};
    tt_fake h = {empty_then_alert, sizeof empty_then_alert, 0, 2, HK_ERR_CLOSED, 0, false, false, HK_OK};
    hk_result r = run_fake(&h, reason, sizeof reason);
    HK_CHECK(r == HK_ERR_TLS_HANDSHAKE || r == HK_ERR_TLS_ALERT);
    /* The server sent its alert and closed; our next write fails (EPIPE or
     * a reset) before mbedTLS reads again. The alert still waits in the
     * receive buffer: it is read and named, not reported as a closed
     * connection. */
    tt_fake k = {unknown_ca, sizeof unknown_ca, 0, 0, HK_ERR_CLOSED, 0, false, false, HK_ERR_CLOSED};
    HK_CHECK_RESULT(run_fake(&k, reason, sizeof reason), HK_ERR_TLS_ALERT);
    HK_CHECK(strcmp(reason, "alert 48 (unknown_ca) from server") == 0);
    tt_fake k2 = {unknown_ca, sizeof unknown_ca, 0, 1, HK_ERR_CLOSED, 0, true, false, HK_ERR_IO};
    HK_CHECK_RESULT(run_fake(&k2, reason, sizeof reason), HK_ERR_TLS_ALERT);
    /* Nothing waiting: the write's failure stands. */
    tt_fake m = {unknown_ca, 0, 0, 0, HK_ERR_CLOSED, 0, false, false, HK_ERR_CLOSED};
    HK_CHECK_RESULT(run_fake(&m, reason, sizeof reason), HK_ERR_CLOSED);
    HK_CHECK(strcmp(reason, "connection: connection closed by peer") == 0);
}

/* ------------------------------------------------------------------------ */
/* Against openssl s_server                                                  */

typedef struct scenario {
    const char *const *server_args;
    const char *host;
    bool builtin_trust;
    int64_t clock_offset_s; /* added to now; INT64_MIN = unknown */
    size_t cut_after;
    hk_result fail_sign;
    const char *exchange; /* line to send after the handshake (s_server -rev) */
} scenario;

/* Set by a test: the secure element has no signer certificate. */
static bool g_no_signer;

typedef struct outcome {
    hk_result r;
    unsigned signs;
    unsigned tls_signs;
    bool time_checked;
    char reason[HK_TLS_REASON_MAX];
    char echo[64];
} outcome;

static void exchange_line(hk_tls *tls, int fd, const char *line, outcome *o)
{
    hk_transport t = hk_tls_transport(tls);
    size_t len = strlen(line), off = 0;
    for (int i = 0; i < 1000 && off < len; i++) {
        size_t n = 0;
        hk_result r = t.send(t.ctx, (const uint8_t *)line + off, len - off, &n);
        if (r != HK_OK) {
            o->r = r;
            return;
        }
        off += n;
    }
    size_t got = 0;
    for (int i = 0; i < 200 && got < sizeof o->echo - 1; i++) {
        size_t n = 0;
        hk_result r = t.recv(t.ctx, (uint8_t *)o->echo + got, sizeof o->echo - 1 - got, &n);
        if (r != HK_OK) {
            o->r = r;
            return;
        }
        got += n;
        o->echo[got] = '\0';
        if (strchr(o->echo, '\n') != NULL)
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        poll(&pfd, 1, 100);
    }
}

static outcome run_server(const scenario *sc)
{
    static hk_tls tls;
    outcome o;
    memset(&o, 0, sizeof o);
    o.r = HK_ERR_STATE;
    tt_se soft;
    tt_server srv;
    tt_tcp tcp;
    if (!tt_se_open(&soft, g_pki, "device"))
        return o;
    soft.fail_sign = sc->fail_sign;
    soft.no_signer = g_no_signer;
    if (!tt_server_start(&srv, g_pki, sc->server_args)) {
        tt_se_close(&soft);
        return o;
    }
    if (!tt_tcp_connect(&tcp, srv.port)) {
        tt_server_stop(&srv);
        tt_se_close(&soft);
        return o;
    }
    tcp.cut_after = sc->cut_after;
    hk_se se = tt_se_iface(&soft);
    hk_tls_config c = cfg_for(&se, sc->builtin_trust);
    c.host_name = sc->host != NULL ? sc->host : HOST;
    o.r = hk_tls_init(&tls, &c, tt_tcp_transport(&tcp));
    if (o.r == HK_OK) {
        if (sc->clock_offset_s != INT64_MIN)
            hk_tls_set_time(&tls, (int64_t)time(NULL) + sc->clock_offset_s);
        o.r = tt_handshake(&tls, tcp.fd, 400);
        o.tls_signs = hk_tls_sign_count(&tls);
        o.time_checked = hk_tls_time_checked(&tls);
        size_t rl;
        HK_CHECK_RESULT(hk_tls_reason(&tls, o.reason, sizeof o.reason, &rl), HK_OK);
        if (o.r == HK_OK && sc->exchange != NULL)
            exchange_line(&tls, tcp.fd, sc->exchange, &o);
        if (o.r == HK_OK)
            HK_CHECK_RESULT(hk_tls_close(&tls), HK_OK);
        hk_tls_free(&tls);
    }
    o.signs = soft.signs;
    tt_tcp_close(&tcp);
    tt_server_stop(&srv);
    tt_se_close(&soft);
    return o;
}

/* Server argument sets. -Verify makes the client certificate mandatory and
 * -verify_return_error turns a bad one into a fatal alert. */
#define CLIENT_AUTH "-Verify", "4", "-verify_return_error", "-CAfile", "dev-root.pem"
static const char *const srv_rsa[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key", "-cert_chain",
                                      "rsa-int.pem", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384",
                                      CLIENT_AUTH, "-rev", NULL};
static const char *const srv_rsa128[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                         "-cert_chain", "rsa-int.pem", "-cipher",
                                         "ECDHE-RSA-AES128-GCM-SHA256", CLIENT_AUTH, NULL};
static const char *const srv_ec[] = {"-cert", "ec-leaf.pem", "-key", "ec-leaf.key", "-cert_chain",
                                     "ec-int.pem", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                                     CLIENT_AUTH, NULL};
static const char *const srv_ec256[] = {"-cert", "ec-leaf.pem", "-key", "ec-leaf.key",
                                        "-cert_chain", "ec-int.pem", "-cipher",
                                        "ECDHE-ECDSA-AES256-GCM-SHA384", CLIENT_AUTH, NULL};
static const char *const srv_rogue[] = {"-cert", "rogue-leaf.pem", "-key", "rogue-leaf.key",
                                        CLIENT_AUTH, NULL};
static const char *const srv_short[] = {"-cert", "short-leaf.pem", "-key", "short-leaf.key",
                                        "-cert_chain", "rsa-int.pem", CLIENT_AUTH, NULL};
static const char *const srv_no_int[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                         CLIENT_AUTH, NULL};
static const char *const srv_other_ca[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                           "-cert_chain", "rsa-int.pem", "-Verify", "4",
                                           "-verify_return_error", "-CAfile", "other-root.pem",
                                           NULL};

static const char *const srv_knows_signer[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                               "-cert_chain", "rsa-int.pem", "-Verify", "4",
                                               "-verify_return_error", "-CAfile",
                                               "dev-root-signer.pem", NULL};

/* A secure element without a signer certificate sends its leaf alone: fine
 * for a server that knows the signer, refused by one that needs the chain. */
static void test_server_leaf_only(void)
{
    g_no_signer = true;
    scenario sc = {srv_knows_signer, NULL, false, 0, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_OK);
    HK_CHECK_EQ(o.signs, 1);
    scenario needs_chain = {srv_rsa, NULL, false, 0, 0, HK_OK, NULL};
    o = run_server(&needs_chain);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_CLIENT_REJECTED);
    g_no_signer = false;
}

static void test_server_good_rsa(void)
{
    scenario sc = {srv_rsa, NULL, false, 0, 0, HK_OK, "hubkey over tls\n"};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_OK);
    HK_CHECK_EQ(o.signs, 1); /* one Sign per handshake */
    HK_CHECK_EQ(o.tls_signs, 1);
    HK_CHECK(o.time_checked);
    HK_CHECK(strcmp(o.echo, "slt revo yekbuh\n") == 0);
    if (strcmp(o.echo, "slt revo yekbuh\n") != 0)
        fprintf(stderr, "echo: '%s'\n", o.echo);
}

static void test_server_good_other_suites(void)
{
    const char *const *sets[] = {srv_rsa128, srv_ec, srv_ec256};
    for (size_t i = 0; i < 3; i++) {
        scenario sc = {sets[i], NULL, false, 0, 0, HK_OK, NULL};
        outcome o = run_server(&sc);
        HK_CHECK_RESULT(o.r, HK_OK);
        HK_CHECK_EQ(o.signs, 1);
    }
}

static void test_server_wrong_host(void)
{
    scenario sc = {srv_rsa128, "other.hubkey.test", false, 0, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_HOSTNAME);
    HK_CHECK(strcmp(o.reason, "server certificate: host name mismatch") == 0);
    HK_CHECK_EQ(o.signs, 0);
}

static void test_server_untrusted(void)
{
    scenario sc = {srv_rogue, NULL, false, 0, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_UNTRUSTED);
    HK_CHECK(strstr(o.reason, "not signed by a trusted CA") != NULL);
    /* Our test CA is not among the built-in Azure roots either. */
    scenario sb = {srv_rsa128, NULL, true, 0, 0, HK_OK, NULL};
    o = run_server(&sb);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_UNTRUSTED);
}

/* Seconds from now to the notBefore of a certificate of the test PKI
 * (INT64_MIN when it cannot be read). The PKI is cached in the build
 * directory, so a clock "before the certificate" must be derived from the
 * certificate, not from today: the set may be days old. */
static int64_t pki_not_before_from_now(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_pki, name);
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    int days = 0, secs = 0;
    bool ok = x && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)) == 1;
    X509_free(x);
    return ok ? (int64_t)days * 86400 + secs : INT64_MIN;
}

static void test_server_expired(void)
{
    /* short-leaf is valid for one day; the device clock is three days on. */
    scenario sc = {srv_short, NULL, false, 3 * 86400, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_EXPIRED);
    HK_CHECK(strcmp(o.reason, "server certificate: expired") == 0);
    /* Not yet valid: a clock two days before the leaf's notBefore (however
     * old the cached PKI is). */
    int64_t nb = pki_not_before_from_now("rsa-leaf.pem");
    HK_CHECK(nb != INT64_MIN);
    scenario sf = {srv_rsa128, NULL, false, (nb == INT64_MIN ? 0 : nb) - 2 * 86400, 0, HK_OK, NULL};
    o = run_server(&sf);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_EXPIRED);
    HK_CHECK(strstr(o.reason, "not yet valid") != NULL);
    /* Unknown wall clock: accepted, and reported as unchecked. */
    scenario su = {srv_short, NULL, false, INT64_MIN, 0, HK_OK, NULL};
    o = run_server(&su);
    HK_CHECK_RESULT(o.r, HK_OK);
    HK_CHECK(!o.time_checked);
    /* An unset RTC (1970 + a bit) counts as unknown too. */
    scenario sr = {srv_short, NULL, false, -(int64_t)time(NULL) + 1000, 0, HK_OK, NULL};
    o = run_server(&sr);
    HK_CHECK_RESULT(o.r, HK_OK);
    HK_CHECK(!o.time_checked);
}

static void test_server_missing_intermediate(void)
{
    scenario sc = {srv_no_int, NULL, false, 0, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_UNTRUSTED);
}

static void test_server_rejects_client(void)
{
    scenario sc = {srv_other_ca, NULL, false, 0, 0, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_TLS_CLIENT_REJECTED);
    HK_CHECK_EQ(o.signs, 1);
    HK_CHECK(strcmp(o.reason, "alert 48 (unknown_ca) from server") == 0);
    if (strcmp(o.reason, "alert 48 (unknown_ca) from server") != 0)
        fprintf(stderr, "reason: %s\n", o.reason);
}

static void test_server_cut(void)
{
    /* The stream ends inside the server's first flight. */
    scenario sc = {srv_rsa128, NULL, false, 0, 700, HK_OK, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_CLOSED);
    HK_CHECK_EQ(o.signs, 0);
}

static void test_server_sign_failure(void)
{
    scenario sc = {srv_rsa128, NULL, false, 0, 0, HK_ERR_SE_STATUS, NULL};
    outcome o = run_server(&sc);
    HK_CHECK_RESULT(o.r, HK_ERR_SE_STATUS);
    HK_CHECK_EQ(o.signs, 1);
    HK_CHECK(strcmp(o.reason, "secure element: secure element returned an error status") == 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PKI_DIR\n", argv[0]);
        return 2;
    }
    g_pki = argv[1];
    char path[512];
    snprintf(path, sizeof path, "%s/trust.pem", g_pki);
    if (!tt_read_file(path, g_trust, sizeof g_trust, &g_trust_len, true)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 2;
    }
    HK_RUN(test_der_known_answers);
    HK_RUN(test_builtin_roots);
    HK_RUN(test_init_errors);
    HK_RUN(test_fake_garbage);
    HK_RUN(test_fake_cut);
    HK_RUN(test_fake_alerts);
    HK_RUN(test_server_good_rsa);
    HK_RUN(test_server_leaf_only);
    HK_RUN(test_server_good_other_suites);
    HK_RUN(test_server_wrong_host);
    HK_RUN(test_server_untrusted);
    HK_RUN(test_server_expired);
    HK_RUN(test_server_missing_intermediate);
    HK_RUN(test_server_rejects_client);
    HK_RUN(test_server_cut);
    HK_RUN(test_server_sign_failure);
    return hk_test_finish("tls");
}
