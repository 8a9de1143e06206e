/*
 * Compressed-certificate tests: the worked examples of the chip reference,
 * every decoder and definition error, and real certificate chains issued
 * here with mbedTLS, compressed, rebuilt byte for byte and checked with
 * `openssl verify`.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "hk_test.h"
#include "hubkey/cert.h"
#include "test_issue.h"

/* An independent SHA-256 for expected serial numbers. */
static void sha256_of(const uint8_t *msg, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    HK_CHECK_EQ(mbedtls_sha256(msg, len, out, 0), 0);
#else
    HK_CHECK_EQ(mbedtls_sha256_ret(msg, len, out, 0), 0);
#endif
}

static const uint8_t DEVICE_SN[9] = {0x01, 0x23, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0xEE};

/* ---- known answers ------------------------------------------------------- */

static void test_date_examples(void)
{
    hk_cert_compressed c;
    uint8_t out[72];
    memset(&c, 0, sizeof(c));
    c.issue = (hk_cert_date){2019, 3, 12, 14};
    c.expire_years = 28;
    c.signer_id[0] = 0x12;
    c.signer_id[1] = 0x34;
    c.template_id = 3;
    c.chain_id = 0;
    c.sn_source = 0xA;
    HK_CHECK_RESULT(hk_cert_compressed_encode(&c, out), HK_OK);
    const uint8_t tail[8] = {0x99, 0xB1, 0xDC, 0x12, 0x34, 0x30, 0xA0, 0x00};
    HK_CHECK_MEM(out + 64, 8, tail, 8);

    hk_cert_compressed d;
    HK_CHECK_RESULT(hk_cert_compressed_decode(out, 72, &d), HK_OK);
    HK_CHECK_EQ(d.issue.year, 2019);
    HK_CHECK_EQ(d.issue.month, 3);
    HK_CHECK_EQ(d.issue.day, 12);
    HK_CHECK_EQ(d.issue.hour, 14);
    HK_CHECK_EQ(d.expire_years, 28);
    HK_CHECK_EQ(d.template_id, 3);
    HK_CHECK_EQ(d.sn_source, 0xA);
    HK_CHECK_EQ(d.format_version, 0);

    /* format 1: 2040-07-01 00:00, 40 years */
    memset(&c, 0, sizeof(c));
    c.issue = (hk_cert_date){2040, 7, 1, 0};
    c.expire_years = 40;
    HK_CHECK_RESULT(hk_cert_compressed_encode(&c, out), HK_OK);
    const uint8_t v1[3] = {0x43, 0x84, 0x08};
    HK_CHECK_MEM(out + 64, 3, v1, 3);
    HK_CHECK_EQ(out[70] & 0x0F, 1);
    HK_CHECK_EQ(out[71], 0x50);
    HK_CHECK_RESULT(hk_cert_compressed_decode(out, 72, &d), HK_OK);
    HK_CHECK_EQ(d.issue.year, 2040);
    HK_CHECK_EQ(d.expire_years, 40);
    HK_CHECK_EQ(d.format_version, 1);
    /* re-encoding gives the same bytes */
    uint8_t again[72];
    HK_CHECK_RESULT(hk_cert_compressed_encode(&d, again), HK_OK);
    HK_CHECK_MEM(again, 72, out, 72);
}

static void test_sn_example(void)
{
    uint8_t key[64], comp[72], sn[16];
    for (int i = 0; i < 64; i++)
        key[i] = (uint8_t)i;
    memset(comp, 0, sizeof(comp));
    comp[64] = 0x99;
    comp[65] = 0xB1;
    comp[66] = 0xDC;
    comp[70] = 0xA0;
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH, comp, key, NULL, sn, 16), HK_OK);
    const uint8_t expect[16] = {0x65, 0x52, 0x6F, 0x93, 0xA8, 0xA2, 0x77, 0xE6,
                                0xE4, 0x75, 0x9D, 0x08, 0x26, 0xB9, 0x33, 0x2D};
    HK_CHECK_MEM(sn, 16, expect, 16);
    uint8_t dsn[10];
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_DEVICE_SN, comp, key, DEVICE_SN, dsn, 10),
                    HK_OK);
    HK_CHECK_EQ(dsn[0], 0x40);
    HK_CHECK_MEM(dsn + 1, 9, DEVICE_SN, 9);
    comp[67] = 0xAB;
    comp[68] = 0xCD;
    uint8_t ssn[3];
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_SIGNER_ID, comp, key, NULL, ssn, 3), HK_OK);
    const uint8_t sexp[3] = {0x40, 0xAB, 0xCD};
    HK_CHECK_MEM(ssn, 3, sexp, 3);
    /* RAW keeps the top bit; POS clears it; A/B also set 0x40 */
    uint8_t raw[4], pos[4], a[4];
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH_RAW, comp, key, NULL, raw, 4),
                    HK_OK);
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH_POS, comp, key, NULL, pos, 4),
                    HK_OK);
    HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH, comp, key, NULL, a, 4), HK_OK);
    HK_CHECK_EQ(pos[0], raw[0] & 0x7F);
    HK_CHECK_EQ(a[0], (raw[0] & 0x7F) | 0x40);
    HK_CHECK_MEM(raw + 1, 3, a + 1, 3);
    HK_CHECK_RESULT(hk_cert_sn_generate(0x0, comp, key, NULL, a, 4), HK_ERR_CERT_TEMPLATE);
    HK_CHECK_RESULT(hk_cert_sn_generate(0x7, comp, key, NULL, a, 4), HK_ERR_CERT_TEMPLATE);
    HK_CHECK_RESULT(hk_cert_sn_generate(0x10, comp, key, DEVICE_SN, a, 4), HK_ERR_CERT_TEMPLATE);

    /* The device-SN hashes: SHA-256(SN || dates), and with format version 1
     * the high nibble of byte 71 after the dates. */
    for (int version = 0; version < 2; version++) {
        comp[70] = (uint8_t)(0xB0 | version);
        comp[71] = version ? 0x50 : 0x00;
        uint8_t msg[13], digest[32];
        memcpy(msg, DEVICE_SN, 9);
        memcpy(msg + 9, comp + 64, 3);
        msg[12] = 0x50;
        sha256_of(msg, 12u + (size_t)version, digest);
        uint8_t b[32], d[32], f[32];
        HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_DEVICE_SN_HASH_RAW, comp, key, DEVICE_SN,
                                            f, 32), HK_OK);
        HK_CHECK_MEM(f, 32, digest, 32);
        HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_DEVICE_SN_HASH_POS, comp, key, DEVICE_SN,
                                            d, 32), HK_OK);
        HK_CHECK_EQ(d[0], digest[0] & 0x7F);
        HK_CHECK_MEM(d + 1, 31, digest + 1, 31);
        HK_CHECK_RESULT(hk_cert_sn_generate(HK_CERT_SN_DEVICE_SN_HASH, comp, key, DEVICE_SN, b,
                                            1), HK_OK);
        HK_CHECK_EQ(b[0], (digest[0] & 0x7F) | 0x40);
    }
}

static void test_decode_errors(void)
{
    uint8_t good[72], b[72];
    hk_cert_compressed c, d;
    memset(&c, 0, sizeof(c));
    c.issue = (hk_cert_date){2019, 3, 12, 14};
    c.expire_years = 28;
    HK_CHECK_RESULT(hk_cert_compressed_encode(&c, good), HK_OK);
    HK_CHECK_RESULT(hk_cert_compressed_decode(good, 71, &d), HK_ERR_CERT_COMPRESSED);
    HK_CHECK_RESULT(hk_cert_compressed_decode(good, 73, &d), HK_ERR_CERT_COMPRESSED);
    memcpy(b, good, 72);
    b[70] = (b[70] & 0xF0) | 2; /* version 2 */
    HK_CHECK_RESULT(hk_cert_compressed_decode(b, 72, &d), HK_ERR_CERT_COMPRESSED);
    memcpy(b, good, 72);
    b[71] = 0x40; /* reserved in version 0 */
    HK_CHECK_RESULT(hk_cert_compressed_decode(b, 72, &d), HK_ERR_CERT_COMPRESSED);
    memcpy(b, good, 72);
    b[70] |= 1;
    b[71] = 0x01; /* reserved low nibble in version 1 */
    HK_CHECK_RESULT(hk_cert_compressed_decode(b, 72, &d), HK_ERR_CERT_COMPRESSED);
    /* impossible dates: month 0, month 13, 31 April, 29 Feb 2019, hour 24 */
    const hk_cert_date bad[] = {{2019, 0, 1, 0}, {2019, 13, 1, 0}, {2019, 4, 31, 0},
                                {2019, 2, 29, 0}, {2019, 1, 1, 24}, {2019, 1, 0, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const hk_cert_date *t = &bad[i];
        unsigned y = t->year - 2000u;
        memcpy(b, good, 72);
        b[64] = (uint8_t)((y << 3) | (t->month >> 1));
        b[65] = (uint8_t)(((t->month & 1u) << 7) | ((t->day & 0x1Fu) << 2) | (t->hour >> 3));
        b[66] = (uint8_t)(((t->hour & 7u) << 5) | 28u);
        HK_CHECK_RESULT(hk_cert_compressed_decode(b, 72, &d), HK_ERR_CERT_COMPRESSED);
        HK_CHECK_REQUIRE(hk_cert_compressed_encode(&(hk_cert_compressed){.issue = *t}, b),
                         HK_ERR_INVALID_ARG);
    }
    /* leap day is fine */
    c.issue = (hk_cert_date){2020, 2, 29, 23};
    HK_CHECK_RESULT(hk_cert_compressed_encode(&c, b), HK_OK);
    HK_CHECK_RESULT(hk_cert_compressed_decode(b, 72, &d), HK_OK);
    HK_CHECK_EQ(d.issue.day, 29);
    c.expire_years = 128;
    HK_CHECK_REQUIRE(hk_cert_compressed_encode(&c, b), HK_ERR_INVALID_ARG);
}

static void test_unpad(void)
{
    uint8_t padded[72], key[64];
    memset(padded, 0, sizeof(padded));
    for (int i = 0; i < 32; i++) {
        padded[4 + i] = (uint8_t)(i + 1);
        padded[40 + i] = (uint8_t)(0x80 + i);
    }
    HK_CHECK_RESULT(hk_cert_public_key_unpad(padded, key), HK_OK);
    HK_CHECK_EQ(key[0], 1);
    HK_CHECK_EQ(key[31], 32);
    HK_CHECK_EQ(key[32], 0x80);
    HK_CHECK_EQ(key[63], 0x80 + 31);
    padded[37] = 1;
    HK_CHECK_RESULT(hk_cert_public_key_unpad(padded, key), HK_ERR_CERT_COMPRESSED);
}

/* ---- real certificates --------------------------------------------------- */

typedef struct chain {
    ti_ctx t;
    mbedtls_pk_context root, signer;
    uint8_t root_pub[64], signer_pub[64];
    uint8_t root_der[1024], signer_der[1024];
    int root_len, signer_len;
} chain;

static const hk_cert_date SIGNER_ISSUE = {2019, 3, 12, 14};

static int chain_make(chain *c)
{
    memset(c, 0, sizeof(*c));
    if (ti_init(&c->t) || ti_genkey(&c->t, &c->root) || ti_genkey(&c->t, &c->signer) ||
        ti_pubkey(&c->root, c->root_pub) || ti_pubkey(&c->signer, c->signer_pub))
        return -1;
    const uint8_t one = 1;
    ti_cert_req r = {"CN=hubkey Test Root,O=hubkey", "CN=hubkey Test Root,O=hubkey", &c->root,
                     &c->root, "20190101000000", "20491231235959", &one, 1, 1, 1};
    c->root_len = ti_issue(&c->t, &r, c->root_der, sizeof(c->root_der));
    /* signer: SN from the key hash, 31 years (the expire date is in 2050,
     * so GeneralizedTime, like Microchip's signers) */
    uint8_t sn[16];
    if (ti_serial(HK_CERT_SN_PUB_KEY_HASH, c->signer_pub, NULL, &SIGNER_ISSUE, 31, sn, 16))
        return -1;
    ti_cert_req s = {"CN=hubkey Test Signer 1A2B,O=hubkey", r.subject, &c->signer, &c->root,
                     "20190312140000", "20500312140000", sn, 16, 1, 1};
    c->signer_len = ti_issue(&c->t, &s, c->signer_der, sizeof(c->signer_der));
    return c->root_len > 0 && c->signer_len > 0 ? 0 : -1;
}

static void chain_free(chain *c)
{
    mbedtls_pk_free(&c->root);
    mbedtls_pk_free(&c->signer);
    ti_free(&c->t);
}

/* Issue a device certificate: CN "sn" + hex serial, SN from the key hash. */
static int device_issue(chain *c, mbedtls_pk_context *key, uint8_t pub[64], const uint8_t *dsn,
                        const hk_cert_date *issue, uint8_t years, const char *nb, const char *na,
                        uint8_t *der, size_t cap)
{
    if (ti_genkey(&c->t, key) || ti_pubkey(key, pub))
        return -1;
    uint8_t sn[16];
    if (ti_serial(HK_CERT_SN_PUB_KEY_HASH, pub, dsn, issue, years, sn, 16))
        return -1;
    char subject[96];
    snprintf(subject, sizeof(subject), "O=hubkey,CN=sn%02x%02x%02x%02x%02x%02x%02x%02x%02x",
             dsn[0], dsn[1], dsn[2], dsn[3], dsn[4], dsn[5], dsn[6], dsn[7], dsn[8]);
    ti_cert_req r = {subject, "CN=hubkey Test Signer 1A2B,O=hubkey", key, &c->signer, nb, na, sn,
                     16, 0, 1};
    return ti_issue(&c->t, &r, der, cap);
}

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    return rc;
}

static void test_chain_round_trip(void)
{
    chain c;
    HK_CHECK(chain_make(&c) == 0);
    uint8_t dev_der[1024], dev_pub[64];
    mbedtls_pk_context dev_key;
    const hk_cert_date issue = {2019, 3, 12, 14};
    int dev_len = device_issue(&c, &dev_key, dev_pub, DEVICE_SN, &issue, 28, "20190312140000",
                               "20470312140000", dev_der, sizeof(dev_der));
    HK_CHECK(dev_len > 0);
    if (dev_len <= 0)
        return;

    /* derive both definitions, serialize, parse back */
    hk_cert_derive_opts dopt = {3, 0, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_ISSUER_CN,
                                DEVICE_SN, false};
    hk_cert_derive_opts sopt = {1, 0, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_SUBJECT_CN, NULL,
                                true};
    hk_cert_def ddef0, sdef0, ddef, sdef;
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len, &dopt, &ddef0), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_derive(c.signer_der, (size_t)c.signer_len, &sopt, &sdef0), HK_OK);
    HK_CHECK_EQ(ddef0.issue_date_format, HK_CERT_DATE_UTC);
    HK_CHECK_EQ(ddef0.expire_date_format, HK_CERT_DATE_UTC);
    HK_CHECK_EQ(sdef0.expire_date_format, HK_CERT_DATE_GENERALIZED);
    HK_CHECK_EQ(sdef0.expire_years, 31);
    HK_CHECK_EQ(ddef0.std[HK_CERT_EL_SUBJ_KEY_ID].count, 20);
    HK_CHECK_EQ(ddef0.std[HK_CERT_EL_AUTH_KEY_ID].count, 20);
    HK_CHECK_EQ(ddef0.extra_count, 1);
    uint8_t dser[1200], sser[1200];
    size_t dser_len = 0, sser_len = 0, need = 0;
    HK_CHECK_RESULT(hk_cert_def_serialize(&ddef0, NULL, 0, &need), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_serialize(&ddef0, dser, need - 1, &dser_len),
                    HK_ERR_BUFFER_TOO_SMALL);
    hk_guard_fill(dser, need, sizeof(dser));
    HK_CHECK_RESULT(hk_cert_def_serialize(&ddef0, dser, need, &dser_len), HK_OK);
    HK_CHECK_EQ(dser_len, need);
    HK_CHECK(hk_guard_intact(dser, need, sizeof(dser)));
    HK_CHECK_RESULT(hk_cert_def_serialize(&sdef0, sser, sizeof(sser), &sser_len), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_parse(dser, dser_len, &ddef), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_parse(sser, sser_len, &sdef), HK_OK);

    /* compress what was issued */
    uint8_t dcomp[72], scomp[72], scratch[1100];
    hk_cert_inputs din = {dev_pub, DEVICE_SN, c.signer_pub};
    hk_cert_inputs sin = {c.signer_pub, NULL, c.root_pub};
    HK_CHECK_RESULT(hk_cert_compress(&ddef, dev_der, (size_t)dev_len, &din, scratch,
                                     sizeof(scratch), dcomp), HK_OK);
    HK_CHECK_RESULT(hk_cert_compress(&sdef, c.signer_der, (size_t)c.signer_len, &sin, scratch,
                                     sizeof(scratch), scomp), HK_OK);
    const uint8_t dtail[8] = {0x99, 0xB1, 0xDC, 0x1A, 0x2B, 0x30, 0xA0, 0x00};
    HK_CHECK_MEM(dcomp + 64, 8, dtail, 8);
    HK_CHECK_EQ(scomp[69], 0x10);

    /* rebuild from the 72 bytes: byte for byte the issued certificates */
    uint8_t drb[1100], srb[1100];
    size_t drb_len = 0, srb_len = 0;
    hk_guard_fill(drb, 0, sizeof(drb));
    HK_CHECK_RESULT(hk_cert_rebuild(&ddef, dcomp, &din, drb, sizeof(drb), &drb_len), HK_OK);
    HK_CHECK_MEM(drb, drb_len, dev_der, (size_t)dev_len);
    HK_CHECK(hk_guard_intact(drb, drb_len, sizeof(drb)));
    HK_CHECK_RESULT(hk_cert_rebuild(&sdef, scomp, &sin, srb, sizeof(srb), &srb_len), HK_OK);
    HK_CHECK_MEM(srb, srb_len, c.signer_der, (size_t)c.signer_len);
    uint8_t got_pub[64];
    HK_CHECK_RESULT(hk_cert_public_key(&ddef, drb, drb_len, got_pub), HK_OK);
    HK_CHECK_MEM(got_pub, 64, dev_pub, 64);

    /* AKI from the CA key, and from the template when the key is unknown */
    hk_cert_inputs din2 = {dev_pub, DEVICE_SN, NULL};
    HK_CHECK_RESULT(hk_cert_rebuild(&ddef, dcomp, &din2, drb, sizeof(drb), &drb_len), HK_OK);
    HK_CHECK_MEM(drb, drb_len, dev_der, (size_t)dev_len);

    /* openssl verify on the rebuilt chain */
    char dir[] = "/tmp/hk-cert-XXXXXX";
    HK_CHECK(mkdtemp(dir) != NULL);
    char p_root[64], p_signer[64], p_dev[64], cmd[400];
    snprintf(p_root, sizeof(p_root), "%s/root.pem", dir);
    snprintf(p_signer, sizeof(p_signer), "%s/signer.pem", dir);
    snprintf(p_dev, sizeof(p_dev), "%s/device.pem", dir);
    HK_CHECK(ti_write_pem(p_root, "CERTIFICATE", c.root_der, (size_t)c.root_len) == 0);
    HK_CHECK(ti_write_pem(p_signer, "CERTIFICATE", srb, srb_len) == 0);
    HK_CHECK(ti_write_pem(p_dev, "CERTIFICATE", drb, drb_len) == 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s -untrusted %s %s >/dev/null", p_root,
             p_signer, p_dev);
    HK_CHECK_EQ(run_cmd(cmd), 0);
    /* and the check can fail: a flipped signature byte does not verify */
    drb[drb_len - 5] ^= 1;
    HK_CHECK(ti_write_pem(p_dev, "CERTIFICATE", drb, drb_len) == 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s -untrusted %s %s >/dev/null 2>&1",
             p_root, p_signer, p_dev);
    HK_CHECK(run_cmd(cmd) != 0);
    unlink(p_root);
    unlink(p_signer);
    unlink(p_dev);
    rmdir(dir);

    /* The definition derived from one device rebuilds others: different
     * keys, serials, dates and signature lengths (R or S with a top bit
     * set or a leading zero byte). */
    int min_len = 1 << 30, max_len = 0;
    for (int i = 0; i < 24; i++) {
        uint8_t der2[1024], pub2[64], dsn2[9], comp2[72], rb2[1100];
        mbedtls_pk_context k2;
        memcpy(dsn2, DEVICE_SN, 9);
        dsn2[4] = (uint8_t)i;
        dsn2[7] = (uint8_t)(0x50 + i);
        hk_cert_date is2 = {(uint16_t)(2019 + i % 3), (uint8_t)(1 + i % 12), (uint8_t)(1 + i),
                            (uint8_t)(i % 24)};
        char nb[16], na[16];
        snprintf(nb, sizeof(nb), "%04u%02u%02u%02u0000", is2.year, is2.month, is2.day, is2.hour);
        snprintf(na, sizeof(na), "%04u%02u%02u%02u0000", is2.year + 28u, is2.month, is2.day,
                 is2.hour);
        int n2 = device_issue(&c, &k2, pub2, dsn2, &is2, 28, nb, na, der2, sizeof(der2));
        HK_CHECK(n2 > 0);
        hk_cert_inputs in2 = {pub2, dsn2, c.signer_pub};
        HK_CHECK_RESULT(hk_cert_compress(&ddef, der2, (size_t)n2, &in2, scratch, sizeof(scratch),
                                         comp2), HK_OK);
        size_t rb2_len = 0;
        HK_CHECK_RESULT(hk_cert_rebuild(&ddef, comp2, &in2, rb2, sizeof(rb2), &rb2_len), HK_OK);
        HK_CHECK_MEM(rb2, rb2_len, der2, (size_t)n2);
        if (n2 < min_len)
            min_len = n2;
        if (n2 > max_len)
            max_len = n2;
        mbedtls_pk_free(&k2);
    }
    /* signature INTEGERs of 32 and 33 bytes both occurred (all 24 the same
     * length has a probability of about 2^-23) */
    HK_CHECK(max_len > min_len);

    mbedtls_pk_free(&dev_key);
    chain_free(&c);
}

/* Errors of rebuild and compress, with a real definition. */
static void test_rebuild_errors(void)
{
    chain c;
    HK_CHECK(chain_make(&c) == 0);
    uint8_t dev_der[1024], dev_pub[64];
    mbedtls_pk_context dev_key;
    const hk_cert_date issue = {2019, 3, 12, 14};
    int dev_len = device_issue(&c, &dev_key, dev_pub, DEVICE_SN, &issue, 28, "20190312140000",
                               "20470312140000", dev_der, sizeof(dev_der));
    HK_CHECK(dev_len > 0);
    hk_cert_derive_opts dopt = {3, 2, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_ISSUER_CN,
                                DEVICE_SN, false};
    hk_cert_def def;
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len, &dopt, &def), HK_OK);
    uint8_t comp[72], scratch[1100], out[1100];
    size_t out_len = 0;
    hk_cert_inputs in = {dev_pub, DEVICE_SN, c.signer_pub};
    HK_CHECK_RESULT(hk_cert_compress(&def, dev_der, (size_t)dev_len, &in, scratch,
                                     sizeof(scratch), comp), HK_OK);

    /* buffer too small: the size is reported, nothing written past cap */
    for (size_t cap = 0; cap < (size_t)dev_len; cap += 97) {
        hk_guard_fill(out, cap, sizeof(out));
        HK_CHECK_RESULT(hk_cert_rebuild(&def, comp, &in, cap ? out : NULL, cap, &out_len),
                        HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK_EQ(out_len, dev_len);
        HK_CHECK(hk_guard_intact(out, cap, sizeof(out)));
    }
    hk_guard_fill(out, (size_t)dev_len - 1, sizeof(out));
    HK_CHECK_RESULT(hk_cert_rebuild(&def, comp, &in, out, (size_t)dev_len - 1, &out_len),
                    HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(out, (size_t)dev_len - 1, sizeof(out)));

    /* wrong template ID, chain ID, SN source */
    uint8_t bad[72];
    memcpy(bad, comp, 72);
    bad[69] = (uint8_t)((4 << 4) | 2);
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len),
                    HK_ERR_CERT_WRONG_DEF);
    bad[69] = (uint8_t)((3 << 4) | 1);
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len),
                    HK_ERR_CERT_WRONG_DEF);
    memcpy(bad, comp, 72);
    bad[70] = 0xB0;
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len),
                    HK_ERR_CERT_WRONG_DEF);
    memcpy(bad, comp, 72);
    bad[70] |= 0x02;
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len),
                    HK_ERR_CERT_COMPRESSED);
    /* an expiry the UTCTime format cannot hold (2019 + 31 = 2050) */
    hk_cert_compressed cc;
    HK_CHECK_RESULT(hk_cert_compressed_decode(comp, 72, &cc), HK_OK);
    cc.expire_years = 31;
    HK_CHECK_RESULT(hk_cert_compressed_encode(&cc, bad), HK_OK);
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len),
                    HK_ERR_CERT_COMPRESSED);
    /* no expiry: 2049-12-31 23:59:59 in UTCTime */
    cc.expire_years = 0;
    HK_CHECK_RESULT(hk_cert_compressed_encode(&cc, bad), HK_OK);
    HK_CHECK_RESULT(hk_cert_rebuild(&def, bad, &in, out, sizeof(out), &out_len), HK_OK);
    HK_CHECK_STRN(out + def.std[HK_CERT_EL_EXPIRE_DATE].offset, 13, "491231235959Z");

    /* compress: a different definition's certificate, a changed field */
    uint8_t mod[1024];
    memcpy(mod, dev_der, (size_t)dev_len);
    mod[def.std[HK_CERT_EL_ISSUE_DATE].offset + 9] = '1'; /* 14:01 */
    HK_CHECK_RESULT(hk_cert_compress(&def, mod, (size_t)dev_len, &in, scratch, sizeof(scratch),
                                     comp), HK_ERR_CERT_WRONG_DEF);
    memcpy(mod, dev_der, (size_t)dev_len);
    mod[def.std[HK_CERT_EL_CERT_SN].offset + 3] ^= 1; /* serial not from the key hash */
    HK_CHECK_RESULT(hk_cert_compress(&def, mod, (size_t)dev_len, &in, scratch, sizeof(scratch),
                                     comp), HK_ERR_CERT_WRONG_DEF);
    memcpy(mod, dev_der, (size_t)dev_len);
    mod[def.std[HK_CERT_EL_SIGNER_ID].offset] = 'x';
    HK_CHECK_RESULT(hk_cert_compress(&def, mod, (size_t)dev_len, &in, scratch, sizeof(scratch),
                                     comp), HK_ERR_CERT_WRONG_DEF);
    memcpy(mod, dev_der, (size_t)dev_len);
    mod[def.std[HK_CERT_EL_SIGNATURE].offset + 5] = 0x7F; /* bad signature DER */
    HK_CHECK_RESULT(hk_cert_compress(&def, mod, (size_t)dev_len, &in, scratch, sizeof(scratch),
                                     comp), HK_ERR_CERT_WRONG_DEF);
    HK_CHECK_RESULT(hk_cert_compress(&def, dev_der, 100, &in, scratch, sizeof(scratch), comp),
                    HK_ERR_CERT_WRONG_DEF);
    /* another device's serial in the CN */
    uint8_t other_sn[9];
    memcpy(other_sn, DEVICE_SN, 9);
    other_sn[8] ^= 0xFF;
    hk_cert_inputs in_other = {dev_pub, other_sn, c.signer_pub};
    HK_CHECK_RESULT(hk_cert_compress(&def, dev_der, (size_t)dev_len, &in_other, scratch,
                                     sizeof(scratch), comp), HK_ERR_CERT_WRONG_DEF);
    /* derive: the CN does not end in this serial; a signer ID that is not hex */
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len,
                                       &(hk_cert_derive_opts){3, 0, HK_CERT_SN_PUB_KEY_HASH, 0,
                                                              other_sn, false},
                                       &def), HK_ERR_CERT_TEMPLATE);
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len,
                                       &(hk_cert_derive_opts){3, 0, HK_CERT_SN_PUB_KEY_HASH,
                                                              HK_CERT_SIGNER_ID_SUBJECT_CN, NULL,
                                                              false},
                                       &def), HK_ERR_CERT_TEMPLATE);
    /* SN source whose length does not match the serial (DEVICE_SN needs 10) */
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len,
                                       &(hk_cert_derive_opts){3, 0, HK_CERT_SN_DEVICE_SN, 0, NULL,
                                                              false},
                                       &def), HK_ERR_CERT_TEMPLATE);
    /* not a certificate */
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len - 1, &dopt, &def),
                    HK_ERR_CERT_PARSE);
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der + 4, (size_t)dev_len - 4, &dopt, &def),
                    HK_ERR_CERT_PARSE);
    mbedtls_pk_free(&dev_key);
    chain_free(&c);
}

/* Every structural check of the certdef parser. */
static void test_certdef_errors(void)
{
    chain c;
    HK_CHECK(chain_make(&c) == 0);
    uint8_t dev_der[1024], dev_pub[64];
    mbedtls_pk_context dev_key;
    const hk_cert_date issue = {2019, 3, 12, 14};
    int dev_len = device_issue(&c, &dev_key, dev_pub, DEVICE_SN, &issue, 28, "20190312140000",
                               "20470312140000", dev_der, sizeof(dev_der));
    hk_cert_derive_opts dopt = {3, 0, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_ISSUER_CN,
                                DEVICE_SN, false};
    hk_cert_def def, p;
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)dev_len, &dopt, &def), HK_OK);
    uint8_t ser[1200], m[1200];
    size_t n = 0;
    HK_CHECK_RESULT(hk_cert_def_serialize(&def, ser, sizeof(ser), &n), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_parse(ser, n, &p), HK_OK);
    /* the head bytes as documented */
    const uint8_t head[12] = {'H', 'K', 'C', 'D', 1, 3, 0, 0x0A, 0, 1, 1, 1};
    HK_CHECK_MEM(ser, 12, head, 12);

    HK_CHECK_RESULT(hk_cert_def_parse(ser, n - 1, &p), HK_ERR_CERT_TEMPLATE);
    HK_CHECK_RESULT(hk_cert_def_parse(ser, 49, &p), HK_ERR_CERT_TEMPLATE);
    struct {
        size_t at;
        uint8_t value;
    } muts[] = {
        {0, 'X'},           /* magic */
        {4, 2},             /* version */
        {5, 16},            /* template ID */
        {6, 16},            /* chain ID */
        {7, 0x0},           /* SN source STORED */
        {7, 0x8},           /* DEVICE_SN needs 10 bytes */
        {7, 0x10},          /* SN source beyond 0xF */
        {8, 128},           /* expire years */
        {9, 2},             /* date format */
        {10, 4},            /* expire format vs 13 bytes */
        {11, 9},            /* extra count */
        {15, 5},            /* TBS offset 5 */
        {17, 0},            /* TBS count */
        {18, 0xFF},         /* public key offset past the template */
        {21, 63},           /* public key count */
        {22, 0x00},         /* signature offset high byte */
        {25, 0x10},         /* signature count */
        {29, 12},           /* issue date count */
        {37, 3},            /* signer ID count */
        {45, 19},           /* AKI count */
        {49, 21},           /* SKI count */
        {50, 2},            /* extra source */
        {51, 3},            /* extra transform */
        {52, 1},            /* extra source offset past 9 */
        {53, 0},            /* extra source count */
        {57, 17},           /* extra count vs 2 x 9 */
        {54, 0xFF},         /* extra offset past the template */
        {58, 0x31},         /* template not a SEQUENCE */
        {59, 0x81},         /* outer length form */
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        memcpy(m, ser, n);
        if (m[muts[i].at] == muts[i].value)
            continue; /* no change: not a test */
        m[muts[i].at] = muts[i].value;
        hk_result r = hk_cert_def_parse(m, n, &p);
        if (r != HK_ERR_CERT_TEMPLATE)
            fprintf(stderr, "  mutation %zu (byte %zu = %u) accepted\n", i, muts[i].at,
                    muts[i].value);
        HK_CHECK_RESULT(r, HK_ERR_CERT_TEMPLATE);
    }
    /* the signature element starts with a BIT STRING tag */
    memcpy(m, ser, n);
    m[n - def.std[HK_CERT_EL_SIGNATURE].count] = 0x04;
    HK_CHECK_RESULT(hk_cert_def_parse(m, n, &p), HK_ERR_CERT_TEMPLATE);
    /* template length field disagreeing with the size */
    memcpy(m, ser, n);
    m[13] ^= 1;
    HK_CHECK_RESULT(hk_cert_def_parse(m, n, &p), HK_ERR_CERT_TEMPLATE);
    /* a definition built in code is checked the same way */
    hk_cert_def bad = def;
    bad.std[HK_CERT_EL_PUBLIC_KEY].offset = (uint16_t)(def.template_len - 10);
    HK_CHECK_RESULT(hk_cert_def_check(&bad), HK_ERR_CERT_TEMPLATE);
    HK_CHECK_RESULT(hk_cert_def_serialize(&bad, ser, sizeof(ser), &n), HK_ERR_CERT_TEMPLATE);
    uint8_t comp[72] = {0}, out[64];
    size_t out_len;
    hk_cert_inputs in = {dev_pub, DEVICE_SN, NULL};
    /* Using a definition that fails the check is a caller bug. */
    HK_CHECK_REQUIRE(hk_cert_rebuild(&bad, comp, &in, out, sizeof(out), &out_len),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_cert_public_key(&bad, comp, sizeof(comp), out), HK_ERR_INVALID_ARG);
    bad = def;
    bad.template_der = NULL;
    HK_CHECK_RESULT(hk_cert_def_check(&bad), HK_ERR_CERT_TEMPLATE);
    mbedtls_pk_free(&dev_key);
    chain_free(&c);
}

/* Format 1 (issue year after 2031, 40 years) and "no expiry" certificates
 * survive compress/rebuild too. */
static void test_format1_and_no_expiry(void)
{
    chain c;
    HK_CHECK(chain_make(&c) == 0);
    struct {
        hk_cert_date issue;
        uint8_t years;
        const char *nb, *na;
        uint8_t version;
    } cases[] = {
        {{2040, 7, 1, 0}, 40, "20400701000000", "20800701000000", 1},
        {{2021, 6, 30, 23}, 0, "20210630230000", "99991231235959", 0},
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t der[1024], pub[64], comp[72], scratch[1100], rb[1100];
        mbedtls_pk_context k;
        int n = device_issue(&c, &k, pub, DEVICE_SN, &cases[i].issue, cases[i].years,
                             cases[i].nb, cases[i].na, der, sizeof(der));
        HK_CHECK(n > 0);
        hk_cert_derive_opts o = {5, 1, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_ISSUER_CN,
                                 DEVICE_SN, false};
        hk_cert_def def;
        HK_CHECK_RESULT(hk_cert_def_derive(der, (size_t)n, &o, &def), HK_OK);
        HK_CHECK_EQ(def.expire_date_format, HK_CERT_DATE_GENERALIZED);
        hk_cert_inputs in = {pub, DEVICE_SN, c.signer_pub};
        HK_CHECK_RESULT(hk_cert_compress(&def, der, (size_t)n, &in, scratch, sizeof(scratch),
                                         comp), HK_OK);
        HK_CHECK_EQ(comp[70] & 0x0F, cases[i].version);
        hk_cert_compressed cc;
        HK_CHECK_RESULT(hk_cert_compressed_decode(comp, 72, &cc), HK_OK);
        HK_CHECK_EQ(cc.expire_years, cases[i].years);
        size_t len = 0;
        HK_CHECK_RESULT(hk_cert_rebuild(&def, comp, &in, rb, sizeof(rb), &len), HK_OK);
        HK_CHECK_MEM(rb, len, der, (size_t)n);
        mbedtls_pk_free(&k);
    }
    chain_free(&c);
}

/* The signature re-encoding example of the reference: R = 80..01 and
 * S = 00 7F..02 give 03 47 00 30 44 02 21 00 80.. 02 1F 7F.. */
static void test_signature_encoding(void)
{
    chain c;
    HK_CHECK(chain_make(&c) == 0);
    uint8_t dev_der[1024], dev_pub[64];
    mbedtls_pk_context k;
    const hk_cert_date issue = {2019, 3, 12, 14};
    int n = device_issue(&c, &k, dev_pub, DEVICE_SN, &issue, 28, "20190312140000",
                         "20470312140000", dev_der, sizeof(dev_der));
    hk_cert_derive_opts o = {3, 0, HK_CERT_SN_PUB_KEY_HASH, 0, NULL, false};
    hk_cert_def def;
    HK_CHECK_RESULT(hk_cert_def_derive(dev_der, (size_t)n, &o, &def), HK_OK);
    hk_cert_compressed cc;
    memset(&cc, 0, sizeof(cc));
    memset(cc.signature, 0x11, 64);
    cc.signature[0] = 0x80;
    cc.signature[31] = 0x01;
    cc.signature[32] = 0x00;
    cc.signature[33] = 0x7F;
    cc.signature[63] = 0x02;
    cc.issue = issue;
    cc.expire_years = 28;
    cc.template_id = 3;
    cc.sn_source = HK_CERT_SN_PUB_KEY_HASH;
    uint8_t comp[72], out[1100];
    HK_CHECK_RESULT(hk_cert_compressed_encode(&cc, comp), HK_OK);
    size_t len = 0;
    hk_cert_inputs in = {dev_pub, NULL, NULL};
    HK_CHECK_RESULT(hk_cert_rebuild(&def, comp, &in, out, sizeof(out), &len), HK_OK);
    size_t so = def.std[HK_CERT_EL_SIGNATURE].offset;
    HK_CHECK_EQ(len, so + 73);
    const uint8_t head[8] = {0x03, 0x47, 0x00, 0x30, 0x44, 0x02, 0x21, 0x00};
    HK_CHECK_MEM(out + so, 8, head, 8);
    HK_CHECK_EQ(out[so + 8], 0x80);
    HK_CHECK_EQ(out[so + 8 + 31], 0x01);
    HK_CHECK_EQ(out[so + 40], 0x02);
    HK_CHECK_EQ(out[so + 41], 0x1F);
    HK_CHECK_EQ(out[so + 42], 0x7F);
    HK_CHECK_EQ(out[so + 72], 0x02);
    /* outer length fixed: total - 4 */
    HK_CHECK_EQ(((size_t)out[2] << 8) | out[3], len - 4);
    /* and compress reads the same signature back */
    uint8_t back[72], scratch[1100];
    HK_CHECK_RESULT(hk_cert_compress(&def, out, len, &in, scratch, sizeof(scratch), back), HK_OK);
    HK_CHECK_MEM(back, 72, comp, 72);
    mbedtls_pk_free(&k);
    chain_free(&c);
}

int main(void)
{
    HK_RUN(test_date_examples);
    HK_RUN(test_sn_example);
    HK_RUN(test_decode_errors);
    HK_RUN(test_unpad);
    HK_RUN(test_chain_round_trip);
    HK_RUN(test_rebuild_errors);
    HK_RUN(test_certdef_errors);
    HK_RUN(test_format1_and_no_expiry);
    HK_RUN(test_signature_encoding);
    return hk_test_finish("cert");
}
