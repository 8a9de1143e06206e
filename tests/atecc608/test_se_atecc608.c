/* The hk_se interface over the software ATECC608A: a chip provisioned the
 * factory way (key made inside it, certificates issued for that key and
 * stored compressed), opened through hk_se_atecc608_open; the certificate
 * chain rebuilt from the chip must be the issued one byte for byte and pass
 * openssl verify; signatures verify with mbedTLS; chips that are unlocked or
 * expose the key are refused. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/pk.h>

#include "../cert/test_issue.h"
#include "emu_util.h"
#include "hk_test_p256.h"
#include "hubkey/record.h"

static emu_rig rig;

typedef struct issued {
    ti_ctx t;
    mbedtls_pk_context root, signer;
    uint8_t root_pub[64], signer_pub[64], device_pub[64], serial[9];
    uint8_t root_der[1024], signer_der[1024], device_der[1024];
    int root_len, signer_len, device_len;
    hk_cert_def ddef, sdef;
} issued;

static issued is;

/* An mbedTLS public-key context holding only X || Y. */
static int pk_from_pub(mbedtls_pk_context *pk, const uint8_t pub[64])
{
    mbedtls_pk_init(pk);
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return -1;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    uint8_t pt[65] = {0x04};
    memcpy(pt + 1, pub, 64);
    if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) != 0)
        return -1;
    return mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, pt, sizeof pt);
}

/* Root and signer CAs, a device certificate for the chip's key, the two
 * definitions, and the chip's slots 10, 11, 12 written. */
static int factory_issue(void)
{
    memset(&is, 0, sizeof is);
    uint8_t cfg[128];
    if (hk_atecc608_read_config(&rig.dev, cfg, NULL) != HK_OK)
        return -1;
    memcpy(is.serial, cfg, 4);
    memcpy(is.serial + 4, cfg + 8, 5);
    if (hk_atecc608_genkey(&rig.dev, false, 0, is.device_pub, NULL) != HK_OK)
        return -2;
    if (ti_init(&is.t) || ti_genkey(&is.t, &is.root) || ti_genkey(&is.t, &is.signer) ||
        ti_pubkey(&is.root, is.root_pub) || ti_pubkey(&is.signer, is.signer_pub))
        return -3;
    const uint8_t one = 1;
    ti_cert_req r = {"CN=hubkey Test Root,O=hubkey", "CN=hubkey Test Root,O=hubkey", &is.root,
                     &is.root, "20190101000000", "20491231235959", &one, 1, 1, 1};
    is.root_len = ti_issue(&is.t, &r, is.root_der, sizeof is.root_der);
    const hk_cert_date sissue = {2020, 6, 1, 8};
    uint8_t sn[16];
    if (ti_serial(HK_CERT_SN_PUB_KEY_HASH, is.signer_pub, NULL, &sissue, 31, sn, 16))
        return -4;
    ti_cert_req s = {"CN=hubkey Test Signer 00C1,O=hubkey", r.subject, &is.signer, &is.root,
                     "20200601080000", "20510601080000", sn, 16, 1, 1};
    is.signer_len = ti_issue(&is.t, &s, is.signer_der, sizeof is.signer_der);

    mbedtls_pk_context dkey;
    if (pk_from_pub(&dkey, is.device_pub) != 0)
        return -5;
    const hk_cert_date dissue = {2024, 11, 5, 10};
    if (ti_serial(HK_CERT_SN_PUB_KEY_HASH, is.device_pub, is.serial, &dissue, 28, sn, 16))
        return -6;
    char subject[96];
    snprintf(subject, sizeof subject, "O=hubkey,CN=sn%02x%02x%02x%02x%02x%02x%02x%02x%02x",
             is.serial[0], is.serial[1], is.serial[2], is.serial[3], is.serial[4], is.serial[5],
             is.serial[6], is.serial[7], is.serial[8]);
    ti_cert_req d = {subject, s.subject, &dkey, &is.signer, "20241105100000", "20521105100000",
                     sn, 16, 0, 1};
    is.device_len = ti_issue(&is.t, &d, is.device_der, sizeof is.device_der);
    mbedtls_pk_free(&dkey);
    if (is.root_len <= 0 || is.signer_len <= 0 || is.device_len <= 0)
        return -7;

    hk_cert_derive_opts dopt = {3, 0, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_ISSUER_CN,
                                is.serial, false};
    hk_cert_derive_opts sopt = {1, 0, HK_CERT_SN_PUB_KEY_HASH, HK_CERT_SIGNER_ID_SUBJECT_CN, NULL,
                                true};
    if (hk_cert_def_derive(is.device_der, (size_t)is.device_len, &dopt, &is.ddef) != HK_OK ||
        hk_cert_def_derive(is.signer_der, (size_t)is.signer_len, &sopt, &is.sdef) != HK_OK)
        return -8;
    uint8_t dcomp[72], scomp[72], scratch[1100];
    hk_cert_inputs din = {is.device_pub, is.serial, is.signer_pub};
    hk_cert_inputs sin = {is.signer_pub, NULL, is.root_pub};
    if (hk_cert_compress(&is.ddef, is.device_der, (size_t)is.device_len, &din, scratch,
                         sizeof scratch, dcomp) != HK_OK ||
        hk_cert_compress(&is.sdef, is.signer_der, (size_t)is.signer_len, &sin, scratch,
                         sizeof scratch, scomp) != HK_OK)
        return -9;
    uint8_t padded[72] = {0};
    memcpy(padded + 4, is.signer_pub, 32);
    memcpy(padded + 40, is.signer_pub + 32, 32);
    if (hk_atecc608_write_slot(&rig.dev, 10, 0, dcomp, 72, NULL) != HK_OK ||
        hk_atecc608_write_slot(&rig.dev, 11, 0, padded, 72, NULL) != HK_OK ||
        hk_atecc608_write_slot(&rig.dev, 12, 0, scomp, 72, NULL) != HK_OK)
        return -10;
    return 0;
}

static void issued_free(void)
{
    mbedtls_pk_free(&is.root);
    mbedtls_pk_free(&is.signer);
    ti_free(&is.t);
}

static void test_chain_and_identity(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 21), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    int rc = factory_issue();
    HK_CHECK_EQ(rc, 0);
    if (rc != 0) {
        rig_close(&rig);
        return;
    }
    hk_se_atecc608 ctx;
    hk_se se;
    hk_atecc608_problem p = (hk_atecc608_problem)77;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, &p), HK_OK);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_NONE);
    HK_CHECK_EQ(se.data_size, 416);

    uint8_t sn[12];
    size_t n = 0;
    hk_guard_fill(sn, 9, sizeof sn);
    HK_CHECK_RESULT(se.serial(se.ctx, sn, sizeof sn, &n), HK_OK);
    HK_CHECK_MEM(sn, n, is.serial, 9);
    HK_CHECK(hk_guard_intact(sn, 9, sizeof sn));
    HK_CHECK_RESULT(se.serial(se.ctx, sn, 8, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, 9);

    /* The chain, byte for byte. */
    uint8_t der[1100];
    size_t len = 0;
    hk_guard_fill(der, 0, sizeof der);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
    HK_CHECK(hk_guard_intact(der, len, sizeof der));
    uint8_t sder[1100];
    size_t slen = 0;
    HK_CHECK_RESULT(se.cert(se.ctx, 1, sder, sizeof sder, &slen), HK_OK);
    HK_CHECK_MEM(sder, slen, is.signer_der, (size_t)is.signer_len);
    HK_CHECK_RESULT(se.cert(se.ctx, 2, der, sizeof der, &len), HK_ERR_NOT_FOUND);
    hk_guard_fill(der, 0, sizeof der);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, 100, &len), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(der, 100, sizeof der));
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);

    /* openssl verify on the chain as the chip gives it. */
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hk-se608-XXXXXX", tmp != NULL && tmp[0] ? tmp : P_tmpdir);
    HK_CHECK(mkdtemp(dir) != NULL);
    char p_root[300], p_signer[300], p_dev[300], cmd[1100];
    snprintf(p_root, sizeof p_root, "%s/root.pem", dir);
    snprintf(p_signer, sizeof p_signer, "%s/signer.pem", dir);
    snprintf(p_dev, sizeof p_dev, "%s/device.pem", dir);
    HK_CHECK(ti_write_pem(p_root, "CERTIFICATE", is.root_der, (size_t)is.root_len) == 0);
    HK_CHECK(ti_write_pem(p_signer, "CERTIFICATE", sder, slen) == 0);
    HK_CHECK(ti_write_pem(p_dev, "CERTIFICATE", der, len) == 0);
    snprintf(cmd, sizeof cmd,
             "openssl verify -attime 1735689600 -CAfile %s -untrusted %s %s >/dev/null 2>&1",
             p_root, p_signer, p_dev);
    HK_CHECK_EQ(system(cmd), 0);
    /* The check can fail: the device certificate under the wrong root. */
    snprintf(cmd, sizeof cmd, "openssl verify -attime 1735689600 -CAfile %s %s >/dev/null 2>&1",
             p_signer, p_root);
    HK_CHECK(system(cmd) != 0);
    unlink(p_root);
    unlink(p_signer);
    unlink(p_dev);
    rmdir(dir);

    /* A signature from the chip verifies under the certificate's key; one
     * sign_digest is exactly one Sign command. */
    uint8_t digest[32], rs[72];
    sha256((const uint8_t *)"hubkey", 6, digest);
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    hk_guard_fill(rs, 64, sizeof rs);
    HK_CHECK_RESULT(se.sign_digest(se.ctx, digest, rs), HK_OK);
    HK_CHECK(hk_guard_intact(rs, 64, sizeof rs));
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.signs - c0.signs, 1);
    HK_CHECK_EQ(c1.by_opcode[HK_ATECC608_OP_SIGN] - c0.by_opcode[HK_ATECC608_OP_SIGN], 1);
    uint8_t cert_pub[64];
    HK_CHECK_RESULT(hk_cert_public_key(&is.ddef, der, len, cert_pub), HK_OK);
    HK_CHECK(mbed_verify(cert_pub, digest, rs));

    /* Random: any length; one Random seeds the DRBG (test_random_drbg). */
    uint8_t rnd[80];
    hk_guard_fill(rnd, 70, sizeof rnd);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(se.random(se.ctx, rnd, 70), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK(hk_guard_intact(rnd, 70, sizeof rnd));
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    HK_CHECK_RESULT(se.random(se.ctx, rnd, 0), HK_OK);

    /* The data area is slot 8. */
    uint8_t data[416], back[420];
    for (int i = 0; i < 416; i++)
        data[i] = (uint8_t)(i * 13);
    HK_CHECK_RESULT(se.write_data(se.ctx, 0, data, 416), HK_OK);
    HK_CHECK_RESULT(se.write_data(se.ctx, 100, data, 17), HK_OK);
    memcpy(data + 100, data, 17);
    hk_guard_fill(back, 416, sizeof back);
    HK_CHECK_RESULT(se.read_data(se.ctx, 0, back, 416), HK_OK);
    HK_CHECK_MEM(back, 416, data, 416);
    HK_CHECK(hk_guard_intact(back, 416, sizeof back));
    uint8_t peek[416];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(rig.emu, 8, 0, peek, 416), HK_OK);
    HK_CHECK_MEM(peek, 416, data, 416);
    HK_CHECK_RESULT(se.read_data(se.ctx, 400, back, 17), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(se.write_data(se.ctx, 416, back, 1), HK_ERR_INVALID_ARG);

    /* A chip whose signer key slot is not in the padded form: cert fails
     * with the cert module's error, never a crash (a fresh open: the one
     * above keeps the key it already read). */
    uint8_t bad[72];
    memset(bad, 0x5A, sizeof bad);
    HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, 11, 0, bad, 72, NULL), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_ERR_CERT_COMPRESSED);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_ERR_CERT_COMPRESSED);
    /* not kept after a failed decode: a good key is read again */
    uint8_t padded[72] = {0};
    memcpy(padded + 4, is.signer_pub, 32);
    memcpy(padded + 40, is.signer_pub + 32, 32);
    HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, 11, 0, padded, 72, NULL), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
    /* No signer definition: the chain is one certificate long. */
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, NULL, &se, NULL), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_ERR_NOT_FOUND);
    issued_free();
    rig_close(&rig);
}

/* Chip commands the certificates cost: the first request of each reads
 * its slot and the signer key (and, for the device certificate, GenKey
 * once); every later one is built from what the context kept, with no
 * command at all, and still gives the issued certificate byte for byte. */
static uint64_t reads(const hk_emu_atecc608_counters *c, unsigned slot)
{
    return c->slot_reads[slot];
}

static void test_cert_chip_commands(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 25), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    int rc = factory_issue();
    HK_CHECK_EQ(rc, 0);
    if (rc != 0) {
        rig_close(&rig);
        return;
    }
    hk_se_atecc608 ctx;
    hk_se se;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    hk_emu_atecc608_counters c0, c1, c2;
    uint8_t der[1100];
    size_t len = 0;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    /* 72 bytes = three 32-byte Reads per slot (the last answers 8 bytes);
     * slot 12 is read in the same wake, for the signer certificate every
     * TLS connection asks for next. */
    HK_CHECK_EQ(reads(&c1, 10) - reads(&c0, 10), 3);
    HK_CHECK_EQ(reads(&c1, 11) - reads(&c0, 11), 3);
    HK_CHECK_EQ(reads(&c1, 12) - reads(&c0, 12), 3);
    HK_CHECK_EQ(c1.pubkeys - c0.pubkeys, 1);
    HK_CHECK_EQ(c1.commands - c0.commands, 10);
    HK_CHECK_EQ(c1.wakes - c0.wakes, 1);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.signer_der, (size_t)is.signer_len);
    hk_emu_atecc608_counters_get(rig.emu, &c2);
    HK_CHECK_EQ(reads(&c2, 12) - reads(&c1, 12), 0); /* read with the device certificate */
    HK_CHECK_EQ(reads(&c2, 11) - reads(&c1, 11), 0); /* the signer key is kept */
    HK_CHECK_EQ(c2.commands - c1.commands, 0);

    /* The chain again, as two more TLS connections ask for it: no command. */
    for (int round = 0; round < 2; round++) {
        hk_guard_fill(der, 0, sizeof der);
        HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
        HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
        HK_CHECK(hk_guard_intact(der, len, sizeof der));
        HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
        HK_CHECK_MEM(der, len, is.signer_der, (size_t)is.signer_len);
        HK_CHECK_RESULT(se.cert(se.ctx, 0, der, 100, &len), HK_ERR_BUFFER_TOO_SMALL);
    }
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.commands - c2.commands, 0);
    HK_CHECK_EQ(c1.wakes - c2.wakes, 0);

    /* A read that fails is not kept: the next request reads the slot again.
     * A fresh context; the chip's answers are corrupted for a while. */
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.drop_ppm = 1000000u; /* every response lost */
    hk_emu_atecc608_faults_set(rig.emu, &f);
    HK_CHECK(se.cert(se.ctx, 1, der, sizeof der, &len) != HK_OK);
    hk_emu_atecc608_faults_clear(rig.emu);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.signer_der, (size_t)is.signer_len);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(reads(&c1, 12) - reads(&c0, 12), 3);
    HK_CHECK_EQ(reads(&c1, 11) - reads(&c0, 11), 3);
    issued_free();
    rig_close(&rig);
}

static void test_refused_chips(void)
{
    hk_cert_def def;
    memset(&def, 0, sizeof def);
    hk_se_atecc608 ctx;
    hk_se se;
    hk_atecc608_problem p;
    /* Factory-new: unlocked. */
    HK_CHECK_RESULT(rig_open(&rig, 22), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &def, NULL, &se, &p), HK_ERR_SE_UNLOCKED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_CONFIG_UNLOCKED);
    HK_CHECK(se.sign_digest == NULL);
    rig_close(&rig);

    /* Config locked, data not. */
    HK_CHECK_RESULT(rig_open(&rig, 23), HK_OK);
    uint8_t cfg[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(&rig.dev, cfg, NULL), HK_OK);
    tflx_config_fill(cfg);
    HK_CHECK_RESULT(rig_write_config(&rig, cfg), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(&rig.dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_lock_config(&rig.dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &def, NULL, &se, &p), HK_ERR_SE_UNLOCKED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_DATA_UNLOCKED);
    rig_close(&rig);

    /* Slot 0 readable, everything locked. */
    HK_CHECK_RESULT(rig_open(&rig, 24), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(&rig.dev, cfg, NULL), HK_OK);
    tflx_config_fill(cfg);
    cfg[20] = 0x05;
    cfg[21] = 0x0F; /* SlotConfig 0x0F05: not secret, clear writes */
    HK_CHECK_RESULT(rig_write_config(&rig, cfg), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(&rig.dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_lock_config(&rig.dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_lock_data(&rig.dev, NULL), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &def, NULL, &se, &p),
                    HK_ERR_SE_KEY_EXPOSED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_KEY_READABLE);
    rig_close(&rig);
}

/* Slot 0's public key from slot 13: used only when the slot is locked, in
 * either stored form (plain X || Y: 2 Reads; padded: 3), and a point of
 * P-256; every other case falls back to GenKey, and the certificate is the
 * issued one either way. */
static hk_result open_cert(hk_se_atecc608 *ctx, hk_se *se, uint8_t *der, size_t cap,
                           size_t *len)
{
    HK_TRY(hk_se_atecc608_open(ctx, &rig.dev, &is.ddef, &is.sdef, se, NULL));
    return se->cert(se->ctx, 0, der, cap, len);
}

static void write_padded(const uint8_t key[64])
{
    uint8_t padded[72] = {0};
    memcpy(padded + 4, key, 32);
    memcpy(padded + 40, key + 32, 32);
    HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, HK_ATECC608_SLOT_DEVICE_PUBKEY, 0, padded,
                                           sizeof padded, NULL),
                    HK_OK);
}

/* The form hubkey-factory writes (hk_atecc608_pubkey_store_form). */
static void write_stored(const uint8_t key[64])
{
    uint8_t form[72];
    size_t n = hk_atecc608_pubkey_store_form(key, form);
    HK_CHECK_EQ(n, 64u);
    HK_CHECK_MEM(form, 64, key, 64);
    HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, HK_ATECC608_SLOT_DEVICE_PUBKEY, 0, form, n,
                                           NULL),
                    HK_OK);
}

/* The two forms, what tells them apart, and the point check. */
static void test_pubkey_forms(void)
{
    uint8_t key[64], form[72], back[64];
    /* plain: 64 bytes, decodes to itself whatever bytes 64..71 hold */
    HK_CHECK_EQ(hk_atecc608_pubkey_store_form(HK_TEST_P256_G, form), 64u);
    HK_CHECK(!hk_atecc608_pubkey_stored_padded(form));
    memset(form + 64, 0xEE, 8);
    HK_CHECK_RESULT(hk_atecc608_pubkey_stored(form, back), HK_OK);
    HK_CHECK_MEM(back, 64, HK_TEST_P256_G, 64);
    /* padded: the same key */
    memset(form, 0, sizeof form);
    memcpy(form + 4, HK_TEST_P256_G, 32);
    memcpy(form + 40, HK_TEST_P256_G + 32, 32);
    HK_CHECK(hk_atecc608_pubkey_stored_padded(form));
    HK_CHECK_RESULT(hk_atecc608_pubkey_stored(form, back), HK_OK);
    HK_CHECK_MEM(back, 64, HK_TEST_P256_G, 64);
    /* no key: a bit flipped, X = p (not below the prime), all 0xFF, all
     * zero (reads as padded, and the point at infinity is no key) */
    memcpy(form, HK_TEST_P256_G, 64);
    form[40] ^= 0x01;
    HK_CHECK_RESULT(hk_atecc608_pubkey_stored(form, back), HK_ERR_CERT_COMPRESSED);
    static const uint8_t p256_p[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1, 0, 0, 0,
                                       0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0,
                                       0,    0,    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                       0xFF, 0xFF};
    memcpy(form, p256_p, 32);
    HK_CHECK_RESULT(hk_cert_public_key_check(form), HK_ERR_CERT_COMPRESSED);
    memset(form, 0xFF, sizeof form);
    HK_CHECK_RESULT(hk_atecc608_pubkey_stored(form, back), HK_ERR_CERT_COMPRESSED);
    memset(form, 0, sizeof form);
    HK_CHECK_RESULT(hk_atecc608_pubkey_stored(form, back), HK_ERR_CERT_COMPRESSED);
    HK_CHECK_RESULT(hk_cert_public_key_check(HK_TEST_P256_G), HK_OK);
    /* one zero word alone does not make the plain form padded */
    memcpy(key, HK_TEST_P256_G, 64);
    memset(key, 0, 4);
    HK_CHECK_EQ(hk_atecc608_pubkey_store_form(key, form), 64u);
    HK_CHECK(!hk_atecc608_pubkey_stored_padded(form));
    memcpy(key, HK_TEST_P256_G, 64);
    memset(key + 36, 0, 4);
    HK_CHECK_EQ(hk_atecc608_pubkey_store_form(key, form), 64u);
    HK_CHECK(!hk_atecc608_pubkey_stored_padded(form));
    /* X starting with a zero word and Y's bytes 4..7 zero (2^-64 of keys;
     * no such point is known, so the layout alone): the plain form would
     * read as padded, so the key is stored padded (72 bytes) and unpads to
     * itself */
    memset(key, 0, 4);
    HK_CHECK_EQ(hk_atecc608_pubkey_store_form(key, form), 72u);
    HK_CHECK(hk_atecc608_pubkey_stored_padded(form));
    static const uint8_t zero4[4];
    HK_CHECK_MEM(form, 4, zero4, 4);
    HK_CHECK_MEM(form + 4, 32, key, 32);
    HK_CHECK_MEM(form + 36, 4, zero4, 4);
    HK_CHECK_MEM(form + 40, 32, key + 32, 32);
    HK_CHECK_RESULT(hk_cert_public_key_unpad(form, back), HK_OK);
    HK_CHECK_MEM(back, 64, key, 64);
}

static void test_stored_pubkey(void)
{
    hk_se_atecc608 ctx;
    hk_se se;
    uint8_t der[1100];
    size_t len = 0;
    hk_emu_atecc608_counters c0, c1;
    for (int variant = 0; variant < 4; variant++) {
        HK_CHECK_RESULT(rig_open(&rig, 40u + (unsigned)variant), HK_OK);
        HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
        int rc = factory_issue();
        HK_CHECK_EQ(rc, 0);
        if (rc != 0) {
            rig_close(&rig);
            return;
        }
        /* A chip provisioned without it (slot 13 erased, not locked): GenKey. */
        hk_emu_atecc608_counters_get(rig.emu, &c0);
        HK_CHECK_RESULT(open_cert(&ctx, &se, der, sizeof der, &len), HK_OK);
        HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
        hk_emu_atecc608_counters_get(rig.emu, &c1);
        HK_CHECK_EQ(c1.pubkeys - c0.pubkeys, 1);
        HK_CHECK_EQ(reads(&c1, 13) - reads(&c0, 13), 0);
        uint8_t other[64];
        memcpy(other, is.device_pub, 64);
        other[5] ^= 0x01;
        if (variant == 0) {
            /* The right key, not locked: anything on the bus could have
             * written it, so it is not trusted. */
            write_stored(is.device_pub);
        } else if (variant == 1) {
            /* Locked in the padded form (what the factory wrote before):
             * read in full, 3 Reads. */
            write_padded(is.device_pub);
            HK_CHECK_RESULT(hk_atecc608_lock_slot(&rig.dev, 13, NULL), HK_OK);
        } else if (variant == 2) {
            /* A substituted key before the lock goes in only while slot 13
             * is writable; once the right key is locked in, Write is
             * refused, and the device reads the locked key: 2 Reads. */
            write_stored(other);
            write_stored(is.device_pub);
            HK_CHECK_RESULT(hk_atecc608_lock_slot(&rig.dev, 13, NULL), HK_OK);
            uint8_t st = 0;
            HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, 13, 0, other, 64, &st),
                            HK_ERR_SE_STATUS);
            HK_CHECK_EQ(st, HK_ATECC608_STATUS_EXECUTION);
        } else {
            /* Locked to bytes that are no key (another tool's data, no
             * zero words): not a point of P-256, so GenKey, as before. */
            uint8_t junk[72];
            memset(junk, 0x5A, sizeof junk);
            HK_CHECK_RESULT(hk_atecc608_write_slot(&rig.dev, 13, 0, junk, 72, NULL), HK_OK);
            HK_CHECK_RESULT(hk_atecc608_lock_slot(&rig.dev, 13, NULL), HK_OK);
        }
        hk_emu_atecc608_counters_get(rig.emu, &c0);
        HK_CHECK_RESULT(open_cert(&ctx, &se, der, sizeof der, &len), HK_OK);
        HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
        hk_emu_atecc608_counters_get(rig.emu, &c1);
        HK_CHECK_EQ(c1.pubkeys - c0.pubkeys, variant == 0 || variant == 3 ? 1 : 0);
        HK_CHECK_EQ(reads(&c1, 13) - reads(&c0, 13), variant == 0 ? 0 : variant == 1 ? 3 : 2);
        /* The key is kept: the chain again costs nothing. */
        hk_emu_atecc608_counters_get(rig.emu, &c0);
        HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
        hk_emu_atecc608_counters_get(rig.emu, &c1);
        HK_CHECK_EQ(c1.commands - c0.commands, 0);
        issued_free();
        rig_close(&rig);
    }
}

/* One Random keys the generator; its output is the construction of
 * se_atecc608.c, checked against mbedTLS's SHA-256 with the chip's Random
 * output, which a second emulator with the same seed and history gives. */
static void test_random_drbg(void)
{
    uint8_t chip[32];
    HK_CHECK_RESULT(rig_open(&rig, 50), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_random(&rig.dev, chip, NULL), HK_OK);
    rig_close(&rig);

    HK_CHECK_RESULT(rig_open(&rig, 50), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    hk_cert_def def;
    memset(&def, 0, sizeof def);
    hk_se_atecc608 ctx;
    hk_se se;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &def, NULL, &se, NULL), HK_OK);
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint8_t out[40 + 8];
    hk_guard_fill(out, 40, sizeof out);
    HK_CHECK_RESULT(se.random(se.ctx, out, 40), HK_OK);
    HK_CHECK(hk_guard_intact(out, 40, sizeof out));
    /* Block n = SHA-256(K || n as one byte), K = the Random. */
    uint8_t msg[33], expect[64];
    memcpy(msg, chip, 32);
    for (unsigned i = 0; i < 2; i++) {
        msg[32] = (uint8_t)i;
        sha256(msg, 33, expect + 32 * i);
    }
    HK_CHECK_MEM(out, 40, expect, 40);
    /* The next request starts a block of its own, with no chip command. */
    msg[32] = 2;
    sha256(msg, 33, expect);
    HK_CHECK_RESULT(se.random(se.ctx, out, 4), HK_OK);
    HK_CHECK_MEM(out, 4, expect, 4);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    HK_CHECK_EQ(c1.commands - c0.commands, 1);
    /* A new K from the chip every 256 blocks (blocks 3..255, then 256). */
    for (int i = 3; i < 256; i++)
        HK_CHECK_RESULT(se.random(se.ctx, out, 8), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    HK_CHECK_RESULT(se.random(se.ctx, out, 8), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 2);
    HK_CHECK(memcmp(out, expect, 4) != 0);
    /* A chip that does not answer: the next 255 blocks still come from K, the
     * 256th needs a new one and fails; the next request then starts over
     * with a new K instead of repeating output. */
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.drop_ppm = 1000000u;
    hk_emu_atecc608_faults_set(rig.emu, &f);
    for (int i = 0; i < 260; i++)
        HK_CHECK((se.random(se.ctx, out, 8) == HK_OK) == (i < 255));
    hk_emu_atecc608_faults_clear(rig.emu);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(se.random(se.ctx, out, 8), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    rig_close(&rig);
}

/* Sign leaves its Random out while one ran since the chip last slept, and
 * runs it again when the chip refuses a Sign without it. */
static void test_sign_random(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 51), HK_OK);
    uint8_t pub[64], digest[32], rs[64];
    HK_CHECK_RESULT(rig_provision(&rig, pub), HK_OK);
    sha256((const uint8_t *)"sign", 4, digest);
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 0, digest, rs, NULL), HK_OK);
    HK_CHECK(mbed_verify(pub, digest, rs));
    HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 0, digest, rs, NULL), HK_OK);
    HK_CHECK(mbed_verify(pub, digest, rs));
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.signs - c0.signs, 2);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1); /* the chip only idled in between */
    /* Sleep loses the RNG state: the next Sign runs its Random. */
    HK_CHECK_RESULT(hk_atecc608_sleep(&rig.dev), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 0, digest, rs, NULL), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_EQ(c0.randoms - c1.randoms, 1);
    /* A Sign refused after the Random was left out (slot 8 holds no key):
     * once more with a Random, then the chip's answer. */
    uint8_t st = 0;
    HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 8, digest, rs, &st), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(st, HK_ATECC608_STATUS_EXECUTION);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.by_opcode[HK_ATECC608_OP_SIGN] - c0.by_opcode[HK_ATECC608_OP_SIGN], 2);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    rig_close(&rig);
}

/* Awake sequences: one wake for a held run of commands, a new wake before
 * the watchdog's bound, and the emulator's watchdog when the bound is set
 * past it. */
static void test_awake_sequences(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 52), HK_OK);
    uint8_t pub[64], digest[32], rs[64], block[32];
    HK_CHECK_RESULT(rig_provision(&rig, pub), HK_OK);
    sha256((const uint8_t *)"awake", 5, digest);
    hk_emu_atecc608_counters c0, c1;
    /* Not held: one wake and one idle per command. */
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    for (int i = 0; i < 5; i++)
        HK_CHECK_RESULT(hk_atecc608_read(&rig.dev, HK_ATECC608_ZONE_DATA, 8u << 3, block, 32,
                                         NULL),
                        HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.wakes - c0.wakes, 5);
    HK_CHECK_EQ(c1.idles - c0.idles, 5);
    /* Held: one wake, one idle at the release. */
    HK_CHECK_RESULT(hk_atecc608_hold(&rig.dev), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_hold(&rig.dev), HK_OK); /* nested */
    for (int i = 0; i < 5; i++)
        HK_CHECK_RESULT(hk_atecc608_read(&rig.dev, HK_ATECC608_ZONE_DATA, 8u << 3, block, 32,
                                         NULL),
                        HK_OK);
    HK_CHECK_RESULT(hk_atecc608_release(&rig.dev), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_EQ(c0.wakes - c1.wakes, 1);
    HK_CHECK_EQ(c0.idles - c1.idles, 0); /* still held once */
    HK_CHECK_RESULT(hk_atecc608_release(&rig.dev), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.idles - c0.idles, 1);
    HK_CHECK_RESULT(hk_atecc608_release(&rig.dev), HK_ERR_INVALID_ARG); /* not held */
    /* Twelve signatures held (about 140 ms each at the maximum times):
     * more than the 1.3 s watchdog in all, so the driver idles and wakes
     * again once the next one would pass 1000 ms; the chip never refuses
     * a command for the watchdog and never expires. */
    HK_CHECK_RESULT(hk_atecc608_hold(&rig.dev), HK_OK);
    for (int i = 0; i < 12; i++) {
        HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 0, digest, rs, NULL), HK_OK);
        HK_CHECK(mbed_verify(pub, digest, rs));
    }
    HK_CHECK_RESULT(hk_atecc608_release(&rig.dev), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_EQ(c0.signs - c1.signs, 12);
    HK_CHECK_EQ(c0.wakes - c1.wakes, 2);
    HK_CHECK_EQ(c0.idles - c1.idles, 2);
    HK_CHECK_EQ(c0.watchdog_refusals - c1.watchdog_refusals, 0);
    HK_CHECK_EQ(c0.watchdog_expiries - c1.watchdog_expiries, 0);
    HK_CHECK_EQ(rig.dev.stats.resends, 0);
    /* A bound past the watchdog: the emulator refuses the command that
     * would end after it (0xEE); the driver idles, wakes and sends it
     * again, so the signatures still come, at the cost of a resend. */
    rig.dev.policy.awake_max_ms = 5000;
    HK_CHECK_RESULT(hk_atecc608_hold(&rig.dev), HK_OK);
    for (int i = 0; i < 12; i++) {
        HK_CHECK_RESULT(hk_atecc608_sign_digest(&rig.dev, 0, digest, rs, NULL), HK_OK);
        HK_CHECK(mbed_verify(pub, digest, rs));
    }
    HK_CHECK_RESULT(hk_atecc608_release(&rig.dev), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK(c1.watchdog_refusals - c0.watchdog_refusals >= 1);
    HK_CHECK(rig.dev.stats.resends >= 1);
    rig_close(&rig);
}

/* Each hk_se operation is one awake sequence. */
static void test_se_one_wake_per_operation(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 53), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    int rc = factory_issue();
    HK_CHECK_EQ(rc, 0);
    if (rc != 0) {
        rig_close(&rig);
        return;
    }
    hk_emu_atecc608_counters c0, c1;
    hk_se_atecc608 ctx;
    hk_se se;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    uint8_t der[1100], area[416], digest[32] = {1}, rs[64];
    size_t len = 0;
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
    HK_CHECK_RESULT(se.random(se.ctx, area, 4), HK_OK);
    HK_CHECK_RESULT(se.read_data(se.ctx, 0, area, sizeof area), HK_OK);
    HK_CHECK_RESULT(se.sign_digest(se.ctx, digest, rs), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    /* open, cert 0 (with slot 12), random, read, sign: five wakes for 3 +
     * 10 + 1 + 13 + 2 commands (config blocks 0, 2 and 3; cert 1 needs no
     * command; the Sign's Random left out). */
    HK_CHECK_EQ(c1.wakes - c0.wakes, 5);
    HK_CHECK_EQ(c1.idles - c0.idles, 5);
    HK_CHECK_EQ(c1.commands - c0.commands, 29);
    HK_CHECK_EQ(c1.randoms - c0.randoms, 1);
    /* A caller's hold joins operations: cert 0, random and a record read
     * in one wake (the boot flow's identity and record states). */
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    se.hold(se.ctx, true);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_RESULT(se.random(se.ctx, area, 4), HK_OK);
    HK_CHECK_RESULT(se.read_data(se.ctx, 0, area, 64), HK_OK);
    se.hold(se.ctx, false);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.wakes - c0.wakes, 2); /* open, then the held run */
    HK_CHECK_EQ(c1.idles - c0.idles, 2);
    issued_free();
    rig_close(&rig);
}

/* The chip commands of a boot, in the order the boot flow and the TLS
 * handshake send them: open; the device certificate (with slot 12) and 4
 * bytes of jitter (identity) and the record, held as hk_device_step holds
 * its chip states; the DRBG seed and the signer certificate (the TLS
 * set-up; neither needs the chip now); the one signature (a warm boot's
 * TLS handshake). Returns the record read's
 * result; *reads_out = Read commands, *us = the model clock's advance. */
static hk_result boot_ops(bool signer_template, uint64_t *reads_out, uint64_t *us)
{
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint64_t t0 = hk_emu_atecc608_now_us(rig.emu);
    hk_se_atecc608 ctx;
    hk_se se;
    uint8_t der[1100], seed[48], digest[32] = {7}, rs[64];
    size_t len = 0;
    hk_record rec;
    hk_record_cache cache;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    if (signer_template)
        HK_CHECK_RESULT(hk_se_atecc608_signer_from_template(&ctx), HK_OK);
    se.hold(se.ctx, true);
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.device_der, (size_t)is.device_len);
    HK_CHECK_RESULT(se.random(se.ctx, seed, 4), HK_OK);
    hk_result r = hk_record_read_cached(&se, &rec, &cache);
    se.hold(se.ctx, false);
    HK_CHECK_RESULT(se.random(se.ctx, seed, sizeof seed), HK_OK);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, der, sizeof der, &len), HK_OK);
    HK_CHECK_MEM(der, len, is.signer_der, (size_t)is.signer_len);
    HK_CHECK_RESULT(se.sign_digest(se.ctx, digest, rs), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    *reads_out = c1.config_reads - c0.config_reads;
    for (unsigned i = 0; i < HK_EMU_ATECC608_SLOTS; i++)
        *reads_out += c1.slot_reads[i] - c0.slot_reads[i];
    *us = hk_emu_atecc608_now_us(rig.emu) - t0;
    return r;
}

/* A warm boot's chip time at the data sheet's maximum times (the
 * emulator's model clock): it was 313 ms with 29 Reads (the config zone 4,
 * the record 13, slots 10-13 3 each), then 258 ms with 18 Reads (the
 * config zone 3, the record's newest copy alone 3) in 6 wakes. Now slot 13
 * holds X || Y (2 Reads) and the boot is 3 wakes (open; identity and
 * record in one; the signature): 17 Reads, 248.5 ms, within the 250 ms
 * target. With the signer from the firmware (slots 11 and 12 not read):
 * 11 Reads, 218.5 ms. A cold boot's record read (an empty slot) stays 13
 * Reads. */
static void test_warm_boot_chip_time(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 77), HK_OK);
    HK_CHECK_RESULT(rig_provision(&rig, NULL), HK_OK);
    int rc = factory_issue();
    HK_CHECK_EQ(rc, 0);
    if (rc != 0) {
        rig_close(&rig);
        return;
    }
    write_stored(is.device_pub);
    HK_CHECK_RESULT(hk_atecc608_lock_slot(&rig.dev, 13, NULL), HK_OK);
    /* cold: the record read finds the slot empty, reads it whole */
    uint64_t n = 0, us = 0;
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(boot_ops(false, &n, &us), HK_ERR_RECORD_EMPTY);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.slot_reads[8] - c0.slot_reads[8], 13);
    HK_CHECK_EQ(n, 3 + 13 + 11);
    HK_CHECK_EQ(c1.wakes - c0.wakes, 3); /* open; cert 0, random, record; sign */
    /* the registration's record */
    hk_se_atecc608 ctx;
    hk_se se;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &rig.dev, &is.ddef, &is.sdef, &se, NULL), HK_OK);
    char dev[21];
    snprintf(dev, sizeof dev, "sn%02x%02x%02x%02x%02x%02x%02x%02x%02x", is.serial[0],
             is.serial[1], is.serial[2], is.serial[3], is.serial[4], is.serial[5], is.serial[6],
             is.serial[7], is.serial[8]);
    HK_CHECK_RESULT(hk_record_write(&se, "hub-0.hubkey.test", 17, dev, 20, 0), HK_OK);

    /* warm */
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(boot_ops(false, &n, &us), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.config_reads - c0.config_reads, 3);
    HK_CHECK_EQ(c1.slot_reads[8] - c0.slot_reads[8], 3);
    HK_CHECK_EQ(c1.slot_reads[13] - c0.slot_reads[13], 2);
    HK_CHECK_EQ(n, 17);
    HK_CHECK_EQ(c1.wakes - c0.wakes, 3);
    /* 17 x 5 + Random 23 + Nonce 20 + Sign 115 + 3 wakes x 1.5 + 1 polling */
    HK_CHECK_EQ(us, 248500);
    HK_CHECK(us <= 250000);
    /* warm, the signer from the firmware */
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(boot_ops(true, &n, &us), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.slot_reads[11] - c0.slot_reads[11], 0);
    HK_CHECK_EQ(c1.slot_reads[12] - c0.slot_reads[12], 0);
    HK_CHECK_EQ(n, 11);
    HK_CHECK_EQ(us, 218500); /* 11 x 5 + 158 + 3 wakes + 1 */
    HK_CHECK(us <= 250000);

    /* The option's edges: too small a buffer (the size needed is given),
     * no signer definition. */
    hk_se_atecc608 tctx;
    hk_se tse;
    uint8_t der[1100];
    size_t len = 0;
    HK_CHECK_RESULT(hk_se_atecc608_open(&tctx, &rig.dev, &is.ddef, &is.sdef, &tse, NULL), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_signer_from_template(&tctx), HK_OK);
    HK_CHECK_RESULT(tse.cert(tse.ctx, 1, der, 10, &len), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(len, (size_t)is.signer_len);
    HK_CHECK_RESULT(hk_se_atecc608_open(&tctx, &rig.dev, &is.ddef, NULL, &tse, NULL), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_signer_from_template(&tctx), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(tse.cert(tse.ctx, 1, der, sizeof der, &len), HK_ERR_NOT_FOUND);

    /* The config blocks open reads: the skipped block reads as zeros, the
     * others as a full read gives them, one Read each. */
    uint8_t full[128], part[128];
    memset(part, 0xA5, sizeof part);
    HK_CHECK_RESULT(hk_atecc608_read_config(&rig.dev, full, NULL), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    HK_CHECK_RESULT(hk_atecc608_read_config_blocks(&rig.dev, part, HK_ATECC608_CONFIG_BLOCKS_CHECK,
                                                   NULL),
                    HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.config_reads - c0.config_reads, 3);
    HK_CHECK_MEM(part, 32, full, 32);
    HK_CHECK_MEM(part + 64, 64, full + 64, 64);
    static const uint8_t zeros[32];
    HK_CHECK_MEM(part + 32, 32, zeros, 32);
    issued_free();
    rig_close(&rig);
}

int main(void)
{
    HK_RUN(test_pubkey_forms);
    HK_RUN(test_stored_pubkey);
    HK_RUN(test_random_drbg);
    HK_RUN(test_sign_random);
    HK_RUN(test_awake_sequences);
    HK_RUN(test_se_one_wake_per_operation);
    HK_RUN(test_chain_and_identity);
    HK_RUN(test_cert_chip_commands);
    HK_RUN(test_refused_chips);
    HK_RUN(test_warm_boot_chip_time);
    return hk_test_finish("se_atecc608");
}
