/*
 * TLS with the key inside the (emulated) chip: the device certificate chain
 * is rebuilt from the chip's compressed certificates, CertificateVerify is
 * signed by the chip, and openssl s_server checks the client chain against
 * the factory's root. The emulator's own operation counters must show exactly
 * one Sign per handshake and no other use of the private key (no ECDH).
 *
 * Usage: test_tls_emu PKI_DIR CHIP_DIR (made by make-test-pki and
 * make-emu-chip).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_atecc608.h"
#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/tls.h"
#include "tls_test_support.h"

#define HOST "hub.hubkey.test"

static const char *g_pki;
static const char *g_chip;
static uint8_t g_trust[16384];
static size_t g_trust_len;

typedef struct chip {
    hk_emu_atecc608 *emu;
    hk_i2c i2c;
    hk_atecc608 dev;
    uint8_t def_buf[2][2048];
    hk_cert_def defs[2];
    hk_se_atecc608 ctx;
    hk_se se;
} chip;

static int chip_open(chip *c)
{
    char path[512];
    size_t len;
    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s/chip.emu", g_chip);
    if (hk_emu_atecc608_load(path, NULL, &c->emu) != HK_OK)
        return 0;
    c->i2c = hk_emu_atecc608_i2c(c->emu);
    static const char *const names[2] = {"device.certdef", "signer.certdef"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/ca/%s", g_chip, names[i]);
        if (!tt_read_file(path, c->def_buf[i], sizeof c->def_buf[i], &len, false) ||
            hk_cert_def_parse(c->def_buf[i], len, &c->defs[i]) != HK_OK)
            return 0;
    }
    hk_atecc608_problem problem;
    return hk_atecc608_init(&c->dev, &c->i2c, 0x60) == HK_OK &&
           hk_se_atecc608_open(&c->ctx, &c->dev, &c->defs[0], &c->defs[1], &c->se, &problem) ==
               HK_OK;
}

static void chip_close(chip *c)
{
    hk_emu_atecc608_destroy(c->emu);
}

/* One mutual-TLS handshake against s_server with the given cipher. */
static hk_result handshake(chip *c, const char *cipher, unsigned *out_tls_signs)
{
    static hk_tls tls;
    char ca_file[512];
    snprintf(ca_file, sizeof ca_file, "%s/ca/root.pem", g_chip);
    const char *const args[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key", "-cert_chain",
                                "rsa-int.pem", "-cipher", cipher, "-Verify", "4",
                                "-verify_return_error", "-CAfile", ca_file, NULL};
    tt_server srv;
    tt_tcp tcp;
    if (!tt_server_start(&srv, g_pki, args))
        return HK_ERR_STATE;
    if (!tt_tcp_connect(&tcp, srv.port)) {
        tt_server_stop(&srv);
        return HK_ERR_CONNECT;
    }
    hk_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host_name = HOST;
    cfg.se = &c->se;
    cfg.trust_pem = g_trust;
    cfg.trust_pem_len = g_trust_len;
    hk_result r = hk_tls_init(&tls, &cfg, tt_tcp_transport(&tcp));
    if (r == HK_OK) {
        r = tt_handshake(&tls, tcp.fd, 400);
        *out_tls_signs = hk_tls_sign_count(&tls);
        if (r == HK_OK)
            r = hk_tls_close(&tls);
        hk_tls_free(&tls);
    }
    tt_tcp_close(&tcp);
    tt_server_stop(&srv);
    return r;
}

static void test_one_sign_per_handshake(void)
{
    chip c;
    HK_CHECK(chip_open(&c));
    if (c.emu == NULL)
        return;
    static const char *const ciphers[] = {"ECDHE-RSA-AES128-GCM-SHA256",
                                          "ECDHE-RSA-AES256-GCM-SHA384"};
    for (size_t i = 0; i < 2; i++) {
        hk_emu_atecc608_counters_reset(c.emu);
        unsigned tls_signs = 0;
        HK_CHECK_RESULT(handshake(&c, ciphers[i], &tls_signs), HK_OK);
        hk_emu_atecc608_counters counters;
        hk_emu_atecc608_counters_get(c.emu, &counters);
        HK_CHECK_EQ(counters.signs, 1);
        HK_CHECK_EQ(counters.by_opcode[HK_ATECC608_OP_SIGN], 1);
        HK_CHECK_EQ(counters.ecdhs, 0);
        HK_CHECK_EQ(counters.genkeys, 0);
        HK_CHECK_EQ(tls_signs, 1);
        /* The public key of the device certificate comes from slot 13
         * (hubkey-factory locked it there as X || Y: 2 Reads), not from
         * GenKey; one Random
         * seeds the se's DRBG, which then also seeds the second handshake,
         * and the Sign leaves its own Random out (the chip only idled). */
        HK_CHECK_EQ(counters.pubkeys, 0);
        HK_CHECK_EQ(counters.slot_reads[13], i == 0 ? 2u : 0u);
        HK_CHECK_EQ(counters.randoms, i == 0 ? 1u : 0u);
        HK_CHECK_EQ(counters.nonces, 1);
    }
    chip_close(&c);
}

/* A server that trusts another client CA refuses the chip's chain; the chip
 * still signed exactly once (the refusal comes after CertificateVerify). */
static void test_refused_by_server_ca(void)
{
    chip c;
    HK_CHECK(chip_open(&c));
    if (c.emu == NULL)
        return;
    static hk_tls tls;
    const char *const args[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key", "-cert_chain",
                                "rsa-int.pem", "-Verify", "4", "-verify_return_error",
                                "-CAfile", "other-root.pem", NULL};
    tt_server srv;
    tt_tcp tcp;
    HK_CHECK(tt_server_start(&srv, g_pki, args));
    HK_CHECK(tt_tcp_connect(&tcp, srv.port));
    hk_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host_name = HOST;
    cfg.se = &c.se;
    cfg.trust_pem = g_trust;
    cfg.trust_pem_len = g_trust_len;
    hk_emu_atecc608_counters_reset(c.emu);
    HK_CHECK_RESULT(hk_tls_init(&tls, &cfg, tt_tcp_transport(&tcp)), HK_OK);
    HK_CHECK_RESULT(tt_handshake(&tls, tcp.fd, 400), HK_ERR_TLS_CLIENT_REJECTED);
    hk_tls_free(&tls);
    tt_tcp_close(&tcp);
    tt_server_stop(&srv);
    hk_emu_atecc608_counters counters;
    hk_emu_atecc608_counters_get(c.emu, &counters);
    HK_CHECK_EQ(counters.signs, 1);
    HK_CHECK_EQ(counters.ecdhs, 0);
    chip_close(&c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_tls_emu PKI_DIR CHIP_DIR\n");
        return 2;
    }
    g_pki = argv[1];
    g_chip = argv[2];
    char path[512];
    snprintf(path, sizeof path, "%s/trust.pem", g_pki);
    if (!tt_read_file(path, g_trust, sizeof g_trust, &g_trust_len, true)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 2;
    }
    HK_RUN(test_one_sign_per_handshake);
    HK_RUN(test_refused_by_server_ca);
    return hk_test_finish("tls_emu");
}
