/* The driver against the software ATECC608A: every command, the error
 * statuses the chip gives, the factory flow, and the results checked with
 * mbedTLS. */
#include <string.h>

#include "emu_util.h"
#include "se/atecc608/atecc608_crc.h"

static emu_rig rig;
static hk_atecc608 *dev;
static uint8_t digest[32];

static void open_new(void)
{
    HK_CHECK_RESULT(rig_open(&rig, 7), HK_OK);
    dev = &rig.dev;
}

static void open_provisioned(uint8_t pub[64])
{
    open_new();
    HK_CHECK_RESULT(rig_provision(&rig, pub), HK_OK);
}

/* Send a group built by hand and return the result and status. */
static hk_result raw_cmd(uint8_t opcode, uint8_t p1, uint16_t p2, const uint8_t *data,
                         size_t len, uint8_t resp_len, uint8_t *out_status)
{
    hk_atecc608_cmd cmd;
    HK_TRY(hk_atecc608_cmd_build(&cmd, opcode, p1, p2, data, len, resp_len));
    uint8_t out[64];
    size_t n;
    return hk_atecc608_execute(dev, &cmd, HK_ATECC608_AFTER_IDLE, out, sizeof out, &n,
                               out_status);
}

static void test_factory_new(void)
{
    open_new();
    uint8_t rev[8];
    hk_guard_fill(rev, 4, sizeof rev);
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
    HK_CHECK_MEM(rev, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK(hk_guard_intact(rev, 4, sizeof rev));

    uint8_t cfg[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    uint8_t peek[128];
    hk_emu_atecc608_config_get(rig.emu, peek);
    HK_CHECK_MEM(cfg, 128, peek, 128);
    hk_atecc608_config c;
    HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &c), HK_OK);
    HK_CHECK(!c.config_locked && !c.data_locked);
    HK_CHECK_MEM(c.revision, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK_EQ(c.i2c_address7, 0x60);
    hk_atecc608_problem p;
    HK_CHECK_RESULT(hk_atecc608_config_check(&c, 0, &p), HK_ERR_SE_UNLOCKED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_CONFIG_UNLOCKED);

    /* Random before the config lock: the fixed pattern. */
    uint8_t rnd[32];
    HK_CHECK_RESULT(hk_atecc608_random(dev, rnd, NULL), HK_OK);
    for (int i = 0; i < 32; i++)
        HK_CHECK_EQ(rnd[i], (i % 4) < 2 ? 0xFF : 0x00);

    /* Data and OTP reads before the data lock; data writes before the config lock. */
    uint8_t status = 0;
    /* Room for GenKey's public key (64 bytes); reads and writes use 32. */
    uint8_t buf[HK_ATECC608_PUBKEY_SIZE] = {0};
    uint16_t p2;
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 8, 0, &p2), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read(dev, HK_ATECC608_ZONE_DATA, p2, buf, 32, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_write(dev, HK_ATECC608_ZONE_DATA, p2, buf, 32, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* GenKey before the config lock. */
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, true, 0, buf, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* Lock data before config. */
    HK_CHECK_RESULT(hk_atecc608_lock_data(dev, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* Config bytes 0..15 are never writable. */
    HK_CHECK_RESULT(hk_atecc608_write(dev, HK_ATECC608_ZONE_CONFIG, 0x0001, buf, 4, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK(status == HK_ATECC608_STATUS_EXECUTION || status == HK_ATECC608_STATUS_PARSE);
    rig_close(&rig);
}

/* The driver works an ATECC608B (RevNum 00 00 60 03) the same way: the
 * revision is reported, the part named, and the factory flow, signing and
 * the safety check behave as on a 608A. */
static void test_part_b(void)
{
    hk_emu_atecc608_options opts;
    hk_emu_atecc608_options_init(&opts);
    opts.seed = 77;
    opts.deterministic_rng = true;
    opts.part = HK_EMU_ATECC608_PART_B;
    HK_CHECK_RESULT(hk_emu_atecc608_create(&opts, &rig.emu), HK_OK);
    hk_i2c i2c = hk_emu_atecc608_i2c(rig.emu);
    HK_CHECK_RESULT(hk_atecc608_init(&rig.dev, &i2c, HK_ATECC608_ADDR_DEFAULT), HK_OK);
    uint8_t rev[4];
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
    HK_CHECK_MEM(rev, 4, "\x00\x00\x60\x03", 4);
    HK_CHECK_EQ(hk_atecc608_part_of(rev), HK_ATECC608_PART_B);
    uint8_t pub[64], rs[64];
    HK_CHECK_RESULT(rig_provision(&rig, pub), HK_OK);
    uint8_t cfg[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    HK_CHECK_EQ(hk_atecc608_part_of(cfg + 4), HK_ATECC608_PART_B);
    HK_CHECK_RESULT(hk_atecc608_config_check_raw(cfg, 0, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
    HK_CHECK(mbed_verify(pub, digest, rs));
    rig_close(&rig);

    /* And a 608A is named as one. */
    open_new();
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
    HK_CHECK_EQ(hk_atecc608_part_of(rev), HK_ATECC608_PART_A);
    rig_close(&rig);
}

static void test_parse_errors(void)
{
    open_new();
    uint8_t status = 0;
    /* Unknown opcode, Read with bits 2..6 of param1 set, Read of config
     * beyond the zone, a Nonce with the wrong data length, a Counter id 2. */
    HK_CHECK_RESULT(raw_cmd(0x7E, 0, 0, NULL, 0, 4, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_PARSE);
    HK_CHECK_RESULT(raw_cmd(HK_ATECC608_OP_READ, 0x04, 0, NULL, 0, 7, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_PARSE);
    HK_CHECK_RESULT(raw_cmd(HK_ATECC608_OP_READ, 0x80, 0x20, NULL, 0, 35, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_PARSE);
    HK_CHECK_RESULT(raw_cmd(HK_ATECC608_OP_NONCE, 0x00, 0, digest, 19, 35, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_PARSE);
    HK_CHECK_RESULT(raw_cmd(HK_ATECC608_OP_COUNTER, 0x00, 2, NULL, 0, 7, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_PARSE);

    /* A group whose CRC is wrong: the chip answers 0xFF each time, the
     * driver sends it again until its budget is spent. */
    hk_atecc608_cmd cmd;
    HK_CHECK_RESULT(hk_atecc608_cmd_info(&cmd, 0, 0), HK_OK);
    cmd.group[5] ^= 0x01;
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint8_t out[4];
    size_t n;
    HK_CHECK_RESULT(hk_atecc608_execute(dev, &cmd, HK_ATECC608_AFTER_IDLE, out, 4, &n, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_CRC);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.crc_errors - c0.crc_errors, dev->policy.attempts);
    rig_close(&rig);
}

static void test_config_lock_crc(void)
{
    open_new();
    uint8_t cfg[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    tflx_config_fill(cfg);
    HK_CHECK_RESULT(rig_write_config(&rig, cfg), HK_OK);
    uint8_t now[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, now, NULL), HK_OK);
    HK_CHECK_MEM(now, 128, cfg, 128);
    /* A wrong summary CRC is refused and nothing is locked. */
    uint8_t status = 0;
    uint16_t crc = hk_atecc608_crc16(now, 128);
    HK_CHECK_RESULT(hk_atecc608_lock(dev, 0x00, (uint16_t)(crc ^ 1), &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, now, NULL), HK_OK);
    HK_CHECK_EQ(now[87], 0x55);
    HK_CHECK_RESULT(hk_atecc608_lock_config(dev, now, &status), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, now, NULL), HK_OK);
    HK_CHECK_EQ(now[87], 0x00);
    HK_CHECK_EQ(now[86], 0x55);
    /* Locking again fails; config writes are refused now. */
    HK_CHECK_RESULT(hk_atecc608_lock_config(dev, now, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_write(dev, HK_ATECC608_ZONE_CONFIG, 0x0004, cfg + 16, 4, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* Random is random now. */
    uint8_t rnd[32], rnd2[32];
    HK_CHECK_RESULT(hk_atecc608_random(dev, rnd, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_random(dev, rnd2, NULL), HK_OK);
    HK_CHECK(memcmp(rnd, rnd2, 32) != 0);
    HK_CHECK(memcmp(rnd, "\xFF\xFF\x00\x00", 4) != 0 || memcmp(rnd + 4, "\xFF\xFF\x00\x00", 4) != 0);

    /* Before the data lock: 32-byte data writes work, 4-byte ones do not,
     * and the slot can be written; reads still refused. */
    uint8_t block[32];
    for (int i = 0; i < 32; i++)
        block[i] = (uint8_t)(0xA0 + i);
    uint16_t p2;
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 8, 0, &p2), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_write(dev, HK_ATECC608_ZONE_DATA, p2, block, 32, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_write(dev, HK_ATECC608_ZONE_DATA, p2, block, 4, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* The whole 72-byte slot 10 with a short last block, without reading. */
    uint8_t cert[72];
    for (int i = 0; i < 72; i++)
        cert[i] = (uint8_t)(i * 3);
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 10, 0, cert, 72, NULL), HK_OK);
    /* A private-key slot is never written. */
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 0, 0, block, 32, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    HK_CHECK_RESULT(hk_atecc608_lock_data(dev, NULL), HK_OK);
    uint8_t back[72];
    hk_guard_fill(back, 0, sizeof back);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 10, 0, back, 72, NULL), HK_OK);
    HK_CHECK_MEM(back, 72, cert, 72);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 0, back, 32, NULL), HK_OK);
    HK_CHECK_MEM(back, 32, block, 32);
    /* Locked twice. */
    HK_CHECK_RESULT(hk_atecc608_lock_data(dev, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    rig_close(&rig);
}

static void test_keys_sign_verify_ecdh(void)
{
    uint8_t pub[64];
    open_provisioned(pub);
    uint8_t status = 0;

    /* The public key again: the same one. GenKey create on the locked slot
     * is refused, and on a slot without GenKey permission too (slot 1). */
    uint8_t pub2[64];
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, false, 0, pub2, NULL), HK_OK);
    HK_CHECK_MEM(pub2, 64, pub, 64);
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, true, 0, pub2, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, true, 1, pub2, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* A slot that is not a private key. */
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, true, 8, pub2, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* Slot 2 allows GenKey. */
    HK_CHECK_RESULT(hk_atecc608_genkey(dev, true, 2, pub2, NULL), HK_OK);
    HK_CHECK(memcmp(pub2, pub, 64) != 0);

    /* The secret slot never reads, never writes. */
    uint8_t buf[36];
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 0, 0, buf, 32, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 0, 0, digest, 32, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    /* Sign: exactly one Sign command for one signature, checked by mbedTLS. */
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint8_t rs[72];
    hk_guard_fill(rs, 64, sizeof rs);
    HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
    HK_CHECK(hk_guard_intact(rs, 64, sizeof rs));
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK_EQ(c1.signs - c0.signs, 1);
    HK_CHECK_EQ(c1.by_opcode[HK_ATECC608_OP_SIGN] - c0.by_opcode[HK_ATECC608_OP_SIGN], 1);
    HK_CHECK_EQ(c1.by_opcode[HK_ATECC608_OP_RANDOM] - c0.by_opcode[HK_ATECC608_OP_RANDOM], 1);
    HK_CHECK_EQ(c1.by_opcode[HK_ATECC608_OP_NONCE] - c0.by_opcode[HK_ATECC608_OP_NONCE], 1);
    HK_CHECK(mbed_verify(pub, digest, rs));
    uint8_t other[32];
    memcpy(other, digest, 32);
    other[0] ^= 1;
    HK_CHECK(!mbed_verify(pub, other, rs));

    /* Sign from an internal-sign-only slot (1) and from a data slot. */
    HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 1, digest, rs, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    /* Verify on the chip: valid, mismatch, key not on the curve. */
    HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_verify_digest(dev, digest, rs, pub, &status), HK_OK);
    HK_CHECK_EQ(status, 0);
    HK_CHECK_RESULT(hk_atecc608_verify_digest(dev, other, rs, pub, &status), HK_ERR_SE_VERIFY);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_MISCOMPARE);
    uint8_t bad_pub[64];
    memcpy(bad_pub, pub, 64);
    bad_pub[63] ^= 0x01;
    HK_CHECK_RESULT(hk_atecc608_verify_digest(dev, digest, rs, bad_pub, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    /* Sign needs the message-digest buffer, which idle keeps and sleep loses. */
    uint8_t rnd[32];
    HK_CHECK_RESULT(hk_atecc608_random(dev, rnd, NULL), HK_OK);
    hk_atecc608_cmd cmd;
    HK_CHECK_RESULT(hk_atecc608_cmd_nonce_load(&cmd, HK_ATECC608_NONCE_MSG_DIGEST, digest, 32),
                    HK_OK);
    size_t n;
    HK_CHECK_RESULT(hk_atecc608_execute(dev, &cmd, HK_ATECC608_AFTER_SLEEP, NULL, 0, &n, NULL),
                    HK_OK);
    HK_CHECK_RESULT(hk_atecc608_cmd_sign_external(&cmd, 0), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_execute(dev, &cmd, HK_ATECC608_AFTER_IDLE, rs, 64, &n, &status),
                    HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    /* ECDH against mbedTLS: both sides get the same x-coordinate. */
    uint8_t peer_pub[64], peer_secret[32], secret[40];
    HK_CHECK(mbed_ecdh(99, pub, peer_pub, peer_secret));
    hk_guard_fill(secret, 32, sizeof secret);
    HK_CHECK_RESULT(hk_atecc608_ecdh(dev, 0, peer_pub, secret, NULL), HK_OK);
    HK_CHECK_MEM(secret, 32, peer_secret, 32);
    HK_CHECK(hk_guard_intact(secret, 32, sizeof secret));
    HK_CHECK_RESULT(hk_atecc608_ecdh(dev, 0, bad_pub, secret, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    /* Slot 1 does not allow ECDH. */
    HK_CHECK_RESULT(hk_atecc608_ecdh(dev, 1, peer_pub, secret, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    /* The safety check passes on the provisioned chip. */
    uint8_t cfg[128];
    hk_atecc608_config c;
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &c), HK_OK);
    HK_CHECK(c.slots[0].locked);
    HK_CHECK_RESULT(hk_atecc608_config_check(&c, 0, NULL), HK_OK);
    rig_close(&rig);
}

static void test_nonce_sha_selftest_counter(void)
{
    uint8_t pub[64];
    open_provisioned(pub);
    uint8_t status = 0;
    uint8_t num_in[20] = {1, 2, 3};
    uint8_t rand_out[32];
    HK_CHECK_RESULT(hk_atecc608_nonce_random(dev, num_in, rand_out, NULL), HK_OK);
    /* TempKey is valid afterwards (Info mode 2, state: byte 0 bit 7). */
    uint8_t state[4];
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0x02, 0, state, NULL), HK_OK);
    HK_CHECK((state[0] & 0x80) != 0);
    HK_CHECK_RESULT(hk_atecc608_nonce_load(dev, HK_ATECC608_NONCE_TEMPKEY, digest, 32, NULL),
                    HK_OK);
    uint8_t d64[64] = {0};
    HK_CHECK_RESULT(hk_atecc608_nonce_load(dev, HK_ATECC608_NONCE_ALT_KEY, d64, 64, &status),
                    status == 0 ? HK_OK : HK_ERR_SE_STATUS);

    /* SHA-256 for lengths around the block boundary, against mbedTLS. */
    uint8_t msg[200];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    const size_t lens[] = {0, 3, 63, 64, 65, 128, 200};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t want[32], got[40];
        sha256(msg, lens[i], want);
        hk_guard_fill(got, 32, sizeof got);
        HK_CHECK_RESULT(hk_atecc608_sha256(dev, msg, lens[i], got, NULL), HK_OK);
        HK_CHECK_MEM(got, 32, want, 32);
        HK_CHECK(hk_guard_intact(got, 32, sizeof got));
    }
    /* Update after sleep: the SHA context is gone. */
    HK_CHECK_RESULT(hk_atecc608_sleep(dev), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_sha_update(dev, msg, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);

    HK_CHECK_RESULT(hk_atecc608_selftest(dev, HK_ATECC608_SELFTEST_ALL, &status), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_selftest(dev, HK_ATECC608_SELFTEST_RNG, &status), HK_OK);
    HK_CHECK_EQ(status, 0);

    uint32_t v0 = 99, v1 = 0, v2 = 0;
    HK_CHECK_RESULT(hk_atecc608_counter(dev, 0, false, &v0, NULL), HK_OK);
    HK_CHECK_EQ(v0, 0);
    HK_CHECK_RESULT(hk_atecc608_counter(dev, 0, true, &v1, NULL), HK_OK);
    HK_CHECK_EQ(v1, 1);
    HK_CHECK_RESULT(hk_atecc608_counter(dev, 0, true, &v1, NULL), HK_OK);
    HK_CHECK_EQ(v1, 2);
    HK_CHECK_RESULT(hk_atecc608_counter(dev, 1, false, &v2, NULL), HK_OK);
    HK_CHECK_EQ(v2, 0);
    HK_CHECK_RESULT(hk_atecc608_counter(dev, 0, false, &v0, NULL), HK_OK);
    HK_CHECK_EQ(v0, 2);
    rig_close(&rig);
}

static void test_slot_helpers(void)
{
    uint8_t pub[64];
    open_provisioned(pub);
    /* Slot 8: a write at an odd offset across block edges keeps the bytes
     * around it; the last block (12) uses the high byte of param2. */
    uint8_t img[416];
    for (int i = 0; i < 416; i++)
        img[i] = (uint8_t)(i ^ 0x5A);
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 0, img, 416, NULL), HK_OK);
    uint8_t back[420];
    hk_guard_fill(back, 416, sizeof back);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 0, back, 416, NULL), HK_OK);
    HK_CHECK_MEM(back, 416, img, 416);
    HK_CHECK(hk_guard_intact(back, 416, sizeof back));
    uint8_t patch[50];
    memset(patch, 0x11, sizeof patch);
    hk_emu_atecc608_counters w0, w1;
    hk_emu_atecc608_counters_get(rig.emu, &w0);
    /* Word 380 read and written back whole, then block 12 in one Write. */
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 381, patch, 35, NULL), HK_OK);
    memcpy(img + 381, patch, 35);
    hk_emu_atecc608_counters_get(rig.emu, &w1);
    HK_CHECK_EQ(w1.slot_writes[8] - w0.slot_writes[8], 2);
    HK_CHECK_EQ(w1.slot_reads[8] - w0.slot_reads[8], 1);
    HK_CHECK_EQ(w1.eeprom_bytes_written - w0.eeprom_bytes_written, 36);
    /* Bytes 5..54: words 4..28 of block 0 and 32..52 of block 1, 4-byte
     * Writes only; the edge words 4 and 52 are read first. */
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 5, patch, 50, NULL), HK_OK);
    memcpy(img + 5, patch, 50);
    hk_emu_atecc608_counters_get(rig.emu, &w0);
    HK_CHECK_EQ(w0.slot_writes[8] - w1.slot_writes[8], 13);
    HK_CHECK_EQ(w0.slot_reads[8] - w1.slot_reads[8], 2);
    HK_CHECK_EQ(w0.eeprom_bytes_written - w1.eeprom_bytes_written, 52);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 0, back, 416, NULL), HK_OK);
    HK_CHECK_MEM(back, 416, img, 416);
    uint8_t peek[416];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(rig.emu, 8, 0, peek, 416), HK_OK);
    HK_CHECK_MEM(peek, 416, img, 416);
    /* Partial reads: inside block 12, across blocks, of a short last block. */
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 410, back, 6, NULL), HK_OK);
    HK_CHECK_MEM(back, 6, img + 410, 6);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 30, back, 5, NULL), HK_OK);
    HK_CHECK_MEM(back, 5, img + 30, 5);
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint8_t s15[72];
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 15, 62, s15, 10, NULL), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    /* two 32-byte Reads: block 1, and block 2 (the short last one) whole */
    HK_CHECK_EQ(c1.slot_reads[15] - c0.slot_reads[15], 2);
    /* Slot 11: a padded public key written in the 72-byte form. */
    uint8_t padded[72] = {0};
    memcpy(padded + 4, pub, 32);
    memcpy(padded + 40, pub + 32, 32);
    hk_emu_atecc608_counters_get(rig.emu, &w0);
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 11, 0, padded, 72, NULL), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &w1);
    /* Two whole blocks and the short last one padded: three 32-byte Writes,
     * nothing read. */
    HK_CHECK_EQ(w1.slot_writes[11] - w0.slot_writes[11], 3);
    HK_CHECK_EQ(w1.slot_reads[11] - w0.slot_reads[11], 0);
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 11, 0, s15, 72, NULL), HK_OK);
    HK_CHECK_MEM(s15, 72, padded, 72);
    /* Out-of-range requests are caller bugs. */
    HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 400, back, 17, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 16, 0, back, 1, NULL), HK_ERR_INVALID_ARG);
    /* A slot locked by Lock mode 2 refuses writes. */
    HK_CHECK_RESULT(hk_atecc608_lock_slot(dev, 8, NULL), HK_OK);
    uint8_t status = 0;
    HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 0, patch, 32, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    HK_CHECK_RESULT(hk_atecc608_lock_slot(dev, 8, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, HK_ATECC608_STATUS_EXECUTION);
    rig_close(&rig);
}

static void test_readable_key_slot_refused(void)
{
    /* A chip configured so slot 0 is a plain readable slot, then locked:
     * the check refuses it. */
    open_new();
    uint8_t cfg[128];
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    tflx_config_fill(cfg);
    cfg[20] = 0x05; /* SlotConfig 0x2005: IsSecret clear */
    HK_CHECK_RESULT(rig_write_config(&rig, cfg), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_lock_config(dev, cfg, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_lock_data(dev, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_read_config(dev, cfg, NULL), HK_OK);
    hk_atecc608_config c;
    HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &c), HK_OK);
    hk_atecc608_problem p;
    HK_CHECK_RESULT(hk_atecc608_config_check(&c, 0, &p), HK_ERR_SE_KEY_EXPOSED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_KEY_READABLE);
    rig_close(&rig);
}

static void test_watchdog(void)
{
    uint8_t pub[64];
    open_provisioned(pub);
    /* Wake the chip by hand and let most of the watchdog period pass, as if
     * another user of the bus had left it awake: the chip refuses the
     * command with 0xEE; the driver idles, wakes it and succeeds. */
    hk_i2c i2c = hk_emu_atecc608_i2c(rig.emu);
    HK_CHECK_RESULT(i2c.wake(i2c.ctx), HK_OK);
    i2c.delay_us(i2c.ctx, 1500);
    /* About 12 ms left: less than Random's 23 ms once the driver's own
     * tWHI wait has passed. */
    hk_emu_atecc608_advance_us(rig.emu, HK_EMU_ATECC608_WATCHDOG_SHORT_US - 1500 - 12000);
    hk_emu_atecc608_counters c0, c1;
    hk_emu_atecc608_counters_get(rig.emu, &c0);
    uint8_t rs[64];
    HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
    hk_emu_atecc608_counters_get(rig.emu, &c1);
    HK_CHECK(mbed_verify(pub, digest, rs));
    HK_CHECK(c1.watchdog_refusals - c0.watchdog_refusals >= 1);
    HK_CHECK_EQ(c1.signs - c0.signs, 1);

    /* Left awake past the watchdog: the chip fell asleep; the driver wakes it. */
    HK_CHECK_RESULT(i2c.wake(i2c.ctx), HK_OK);
    i2c.delay_us(i2c.ctx, 1500);
    hk_emu_atecc608_advance_us(rig.emu, HK_EMU_ATECC608_WATCHDOG_SHORT_US + 1000);
    uint8_t rev[4];
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
    HK_CHECK_MEM(rev, 4, "\x00\x00\x60\x02", 4);
    rig_close(&rig);
}

int main(void)
{
    for (int i = 0; i < 32; i++)
        digest[i] = (uint8_t)(0xD0 ^ i);
    HK_RUN(test_factory_new);
    HK_RUN(test_parse_errors);
    HK_RUN(test_part_b);
    HK_RUN(test_config_lock_crc);
    HK_RUN(test_keys_sign_verify_ecdh);
    HK_RUN(test_nonce_sha_selftest_counter);
    HK_RUN(test_slot_helpers);
    HK_RUN(test_readable_key_slot_refused);
    HK_RUN(test_watchdog);
    return hk_test_finish("atecc608_emu");
}
