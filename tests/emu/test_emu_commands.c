/* Emulator commands: every modelled command, its parse (0x03) and execution
 * (0x0F) errors by the chip's rules, crypto results checked with mbedTLS
 * outside the model. */
#include <stdlib.h>

#include "emu_test_crypto.h"
#include "emu_test_util.h"

#define CFG 0
#define OTP 1
#define DATA 2

static const uint8_t abc_digest[32] = {
    0xBA, 0x78, 0x16, 0xBF, 0x8F, 0x01, 0xCF, 0xEA, 0x41, 0x41, 0x40, 0xDE, 0x5D, 0xAE, 0x22, 0x23,
    0xB0, 0x03, 0x61, 0xA3, 0x96, 0x17, 0x7A, 0x9C, 0xB4, 0x10, 0xFF, 0x61, 0xF2, 0x00, 0x15, 0xAD};

static void fill(uint8_t *b, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(start + i);
}

static void test_info(void)
{
    chip c = chip_new(10);
    uint8_t out[4];
    HK_CHECK(chip_data(&c, 0x30, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x02", 4);
    /* KeyValid: slot 0 holds no key until GenKey. */
    HK_CHECK(chip_data(&c, 0x30, 0x01, 0, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 0);
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x01, 16, NULL, 0), 0x03);
    HK_CHECK(chip_provision(&c, NULL));
    HK_CHECK(chip_data(&c, 0x30, 0x01, 0, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 1);
    HK_CHECK(chip_data(&c, 0x30, 0x01, 8, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 0);
    /* VolatileKeyPermit: reading is fine, setting needs byte 69 bit 7. */
    HK_CHECK(chip_data(&c, 0x30, 0x04, 0, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 0);
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x04, 0x0003, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x04, 0x0004, NULL, 0), 0x03);
    /* GPIO (the 608A has none) and unknown modes; data on Info. */
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x03, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x05, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x30, 0x00, 0, (const uint8_t *)"x", 1), 0x03);
    chip_free(&c);

    /* With byte 69 = 0x80 the latch can be set; sleep keeps it, power does not. */
    chip v = chip_new(11);
    HK_CHECK_EQ(chip_write4(&v, CFG, (uint16_t)((2 << 3) | 1) /* bytes 68..71 */,
                            (const uint8_t[]){0x00, 0x80, 0x00, 0x00}),
                0x00);
    HK_CHECK(chip_data(&v, 0x30, 0x04, 0x0003, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 1);
    HK_CHECK(chip_wake(&v));
    HK_CHECK_RESULT(chip_word(&v, 0x01), HK_OK);
    HK_CHECK(chip_data(&v, 0x30, 0x04, 0, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 1);
    hk_emu_atecc608_power_cycle(v.emu);
    HK_CHECK(chip_data(&v, 0x30, 0x04, 0, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 0);
    chip_free(&v);
}

/* The part: ATECC608A (RevNum 00 00 60 02) by default, ATECC608B (00 00 60
 * 03) when asked; the revision lives in config bytes 4..7, so a state file
 * keeps it. Nothing else differs in the model. */
static void test_part(void)
{
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    HK_CHECK_EQ(o.part, HK_EMU_ATECC608_PART_A);
    o.seed = 40;
    o.deterministic_rng = true;
    o.part = HK_EMU_ATECC608_PART_B;
    chip c = chip_new_opts(&o);
    uint8_t out[4], cfg[128];
    HK_CHECK(chip_data(&c, 0x30, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x03", 4);
    hk_emu_atecc608_config_get(c.emu, cfg);
    HK_CHECK_MEM(cfg + 4, 4, "\x00\x00\x60\x03", 4);
    /* Config bytes 4..7 are factory-set on a 608B as well. */
    HK_CHECK_EQ(chip_write4(&c, CFG, 1, (const uint8_t[]){0, 0, 0x60, 0x02}), 0x0F);
    uint8_t pub[64], digest[32], rs[64];
    HK_CHECK(chip_provision(&c, pub));
    fill(digest, 32, 7);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK(chip_data(&c, 0x41, 0xA0, 0, NULL, 0, rs, 64));
    HK_CHECK(test_verify(pub, digest, rs));
    /* A state file keeps the part, whatever the options of the load say. */
    uint8_t file[HK_EMU_ATECC608_FILE_SIZE];
    size_t n = 0;
    HK_CHECK_RESULT(hk_emu_atecc608_save_buffer(c.emu, file, sizeof file, &n), HK_OK);
    hk_emu_atecc608 *loaded = NULL;
    o.part = HK_EMU_ATECC608_PART_A;
    HK_CHECK_RESULT(hk_emu_atecc608_load_buffer(file, n, &o, &loaded), HK_OK);
    chip l = {loaded, hk_emu_atecc608_i2c(loaded)};
    HK_CHECK(chip_data(&l, 0x30, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x03", 4);
    chip_free(&l);
    chip_free(&c);

    /* The default stays a 608A; an unknown part is refused. */
    chip a = chip_new(41);
    HK_CHECK(chip_data(&a, 0x30, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x02", 4);
    chip_free(&a);
    hk_emu_atecc608 *bad = NULL;
    o.part = (hk_emu_atecc608_part)7;
    HK_CHECK_RESULT(hk_emu_atecc608_create(&o, &bad), HK_ERR_INVALID_ARG);
    HK_CHECK(bad == NULL);
}

static void test_read_rules(void)
{
    chip c = chip_new(12);
    uint8_t b[32 + 8], w[4];
    /* Config: always readable, 4 and 32 bytes. */
    hk_guard_fill(b, 32, sizeof b);
    HK_CHECK(chip_read32(&c, CFG, 3 << 3, b));
    HK_CHECK(hk_guard_intact(b, 32, sizeof b));
    HK_CHECK_MEM(b, 4, "\x53\x00\x53\x00", 4); /* KeyConfig 0, 1 */
    HK_CHECK(chip_read4(&c, CFG, (2 << 3) | 5, w));
    HK_CHECK_MEM(w, 4, "\x00\x00\x55\x55", 4);
    /* Parse errors: reserved p1 bits, zone 3, word bits on 32-byte reads,
     * addresses past the zone. */
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x84, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x03, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x80, 1, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x00, 0x20, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x01, 0x10, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(8, 13, 0), NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, 0x0080, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, 0x1000, NULL, 0), 0x03);
    /* Data and OTP before the data lock: execution error. */
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(8, 0, 0), NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x81, 0, NULL, 0), 0x0F);

    uint8_t blk[32];
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    fill(blk, 32, 0x40);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 12, 0), blk), 0x00);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(10, 2, 0), blk), 0x00);
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    /* The verified example address: slot 8 block 12 (`07 02 82 40 0C A9 A4`). */
    HK_CHECK(chip_read32(&c, DATA, 0x0C40, b));
    HK_CHECK_MEM(b, 32, blk, 32);
    /* Slot 10 (72 bytes): block 2 holds 8 bytes, readable by words too. */
    HK_CHECK(chip_read4(&c, DATA, data_addr(10, 2, 1), w));
    HK_CHECK_MEM(w, 4, blk + 4, 4);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x02, data_addr(10, 2, 2), NULL, 0), 0x03);
    /* Slots 0..7 are 36 bytes: block 1 has word 0 only. */
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x02, data_addr(3, 1, 1), NULL, 0), 0x03);
    /* Secret slots never read (slot 0 key, slot 5 secret). */
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(0, 0, 0), NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x02, data_addr(5, 0, 0), NULL, 0), 0x0F);
    /* OTP is readable after the lock: factory-new 0xFF. */
    HK_CHECK(chip_read32(&c, OTP, 0, b));
    HK_CHECK_EQ(b[0], 0xFF);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.slot_reads[8], 1);
    HK_CHECK_EQ(k.slot_reads[10], 1);
    HK_CHECK_EQ(k.slot_reads[0], 0);
    HK_CHECK_EQ(k.otp_reads, 1);
    chip_free(&c);

    /* EncryptRead (SlotConfig bit 6) without IsSecret: clear reads refused. */
    chip e = chip_new(13);
    HK_CHECK_EQ(chip_write4(&e, CFG, (1 << 3) | 1 /* bytes 36..39: slots 8, 9 */,
                            (const uint8_t[]){0x4F, 0x0F, 0x8F, 0x0F}),
                0x00);
    HK_CHECK_EQ(chip_lock_config(&e), 0x00);
    HK_CHECK_EQ(chip_lock_data_nocrc(&e), 0x00);
    HK_CHECK_EQ(chip_status(&e, 0x02, 0x82, data_addr(8, 0, 0), NULL, 0), 0x0F);
    chip_free(&e);
}

static void test_write_rules(void)
{
    chip c = chip_new(14);
    uint8_t blk[32], b[32], w[4];
    fill(blk, 32, 0x10);
    /* Config while unlocked: 16..83 and 88..127 by 4 or 32 bytes. */
    HK_CHECK_EQ(chip_write4(&c, CFG, 4, (const uint8_t[]){0xC0, 0x11, 0x00, 0x00}), 0x00);
    HK_CHECK(chip_read4(&c, CFG, 4, w));
    HK_CHECK_MEM(w, 4, "\xC0\x11\x00\x00", 4);
    uint8_t cfg1[32];
    HK_CHECK(chip_read32(&c, CFG, 1 << 3, cfg1));
    HK_CHECK_EQ(chip_write32(&c, CFG, 1 << 3, cfg1), 0x00);
    HK_CHECK_EQ(chip_write4(&c, CFG, (2 << 3) | 6, (const uint8_t[]){0xFF, 0xFF, 0x00, 0x00}),
                0x00);
    /* Bytes 0..15, 84..87 and 32-byte writes covering them: refused. */
    HK_CHECK_EQ(chip_write4(&c, CFG, 0, (const uint8_t[]){1, 2, 3, 4}), 0x0F);
    HK_CHECK_EQ(chip_write4(&c, CFG, 3, (const uint8_t[]){1, 2, 3, 4}), 0x0F);
    HK_CHECK_EQ(chip_write4(&c, CFG, (2 << 3) | 5, (const uint8_t[]){0, 0, 0, 0}), 0x0F);
    HK_CHECK_EQ(chip_write32(&c, CFG, 0, blk), 0x0F);
    HK_CHECK_EQ(chip_write32(&c, CFG, 2 << 3, blk), 0x0F);
    /* Parse errors: p1 bits, lengths, encrypted 4-byte. */
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x04, 4, blk, 4), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x00, 4, blk, 5), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x80, 8, blk, 4), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x42, 0, blk, 4), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x03, 0, blk, 4), 0x03);
    /* OTP and data before the config lock: refused. */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 0, 0), blk), 0x0F);
    HK_CHECK_EQ(chip_write32(&c, OTP, 0, blk), 0x0F);

    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK_EQ(chip_write4(&c, CFG, 4, (const uint8_t[]){0xC0, 0, 0, 0}), 0x0F);
    /* Config locked, data unlocked: 32-byte data writes only, no private-key
     * slots, OTP by 4 or 32. */
    HK_CHECK_EQ(chip_write4(&c, DATA, data_addr(8, 0, 0), blk), 0x0F);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(0, 0, 0), blk), 0x0F);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 0, 0), blk), 0x00);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(5, 0, 0), blk), 0x00); /* secret, before lock */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(14, 0, 0), blk), 0x00); /* PubInvalid, before */
    HK_CHECK_EQ(chip_write32(&c, OTP, 1 << 3, blk), 0x00);
    HK_CHECK_EQ(chip_write4(&c, OTP, 0, blk), 0x00);
    /* A 32-byte write to a short last block stores what fits. */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(11, 2, 0), blk), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x82, data_addr(11, 3, 0), blk, 32), 0x03);
    uint8_t peek[8];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 11, 64, peek, 8), HK_OK);
    HK_CHECK_MEM(peek, 8, blk, 8);
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 0, 0, peek, 8), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 11, 65, peek, 8), HK_ERR_INVALID_ARG);
    /* Encrypted write: needs a GenDig TempKey, which never exists here. */
    uint8_t enc[64];
    fill(enc, 64, 0);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0xC2, data_addr(8, 1, 0), enc, 64), 0x0F);

    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    HK_CHECK(chip_read32(&c, OTP, 1 << 3, b));
    HK_CHECK_MEM(b, 32, blk, 32);
    /* After the data lock WriteConfig decides. */
    HK_CHECK_EQ(chip_write4(&c, DATA, data_addr(8, 3, 2), (const uint8_t[]){9, 8, 7, 6}), 0x00);
    HK_CHECK(chip_read4(&c, DATA, data_addr(8, 3, 2), w));
    HK_CHECK_MEM(w, 4, "\x09\x08\x07\x06", 4);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(0, 0, 0), blk), 0x0F);  /* private key */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(5, 0, 0), blk), 0x0F);  /* Encrypt */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(7, 0, 0), blk), 0x0F);  /* Never */
    /* PubInvalid: the chip would mark the key invalid, which the model
     * does not keep: refused (before the data lock it was written above). */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(14, 0, 0), blk), 0x0F);
    HK_CHECK_EQ(chip_write4(&c, DATA, data_addr(14, 1, 0), blk), 0x0F);
    HK_CHECK_EQ(chip_write4(&c, DATA, data_addr(6, 0, 0), blk), 0x0F);   /* secret: 32 only */
    HK_CHECK_EQ(chip_write32(&c, OTP, 0, blk), 0x0F);                    /* OTP locked */
    /* A locked slot refuses writes. */
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (8 << 2), 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 0, 0), blk), 0x0F);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.slot_writes[8], 2);
    HK_CHECK_EQ(k.slot_writes[14], 1);
    HK_CHECK_EQ(k.slot_writes[0], 0);
    HK_CHECK_EQ(k.otp_writes, 2);
    chip_free(&c);
}

/* CRC of the data zone as the model defines it: non-private slots 0..15,
 * then OTP. The test knows every byte it wrote. */
static void test_lock(void)
{
    chip c = chip_new(15);
    uint8_t cfg[128];
    /* Data before config: refused. Config with a wrong CRC: refused. */
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x81, 0, NULL, 0), 0x0F);
    hk_emu_atecc608_config_get(c.emu, cfg);
    uint16_t crc = hk_atecc608_crc16(cfg, 128);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x00, (uint16_t)(crc ^ 1), NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x40, crc, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x03, crc, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x04, crc, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x00, crc, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x00, crc, NULL, 0), 0x0F); /* twice */
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x80, 0, NULL, 0), 0x0F);
    /* Slot lock before the data lock: refused. */
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (8 << 2), 0, NULL, 0), 0x0F);
    uint8_t w[4];
    HK_CHECK(chip_read4(&c, CFG, (2 << 3) | 5, w));
    HK_CHECK_MEM(w, 4, "\x00\x00\x55\x00", 4);

    /* Data zone CRC: every non-private slot and OTP are still 0xFF except
     * what is written here (slot 8 block 0). */
    uint8_t blk[32];
    fill(blk, 32, 0x77);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 0, 0), blk), 0x00);
    static uint8_t all[1208 + 64];
    size_t n = 0;
    for (unsigned s = 0; s < 16; s++) {
        if (cfg[96 + 2 * s] & 1)
            continue;
        size_t size = hk_emu_atecc608_slot_size(s);
        memset(all + n, 0xFF, size);
        if (s == 8)
            memcpy(all + n, blk, 32);
        n += size;
    }
    memset(all + n, 0xFF, 64);
    n += 64;
    uint16_t dcrc = hk_atecc608_crc16(all, n);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x01, (uint16_t)(dcrc + 1), NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x01, dcrc, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x01, dcrc, NULL, 0), 0x0F);
    HK_CHECK(chip_read4(&c, CFG, (2 << 3) | 5, w));
    HK_CHECK_MEM(w, 4, "\x00\x00\x00\x00", 4);
    /* Slot locks: Lockable slot 8 once; slot 9 (not Lockable) never. */
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (8 << 2), 0x1234, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (8 << 2), 0, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (9 << 2), 0, NULL, 0), 0x0F);
    HK_CHECK(chip_read4(&c, CFG, (2 << 3) | 6, w));
    HK_CHECK_MEM(w, 2, "\xFF\xFE", 2);
    chip_free(&c);
}

static void test_random_and_nonce(void)
{
    chip c = chip_new(16);
    uint8_t a[32], b[32], num_in[20], resp[40];
    HK_CHECK_EQ(chip_status(&c, 0x1B, 0x02, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x1B, 0x00, 1, NULL, 0), 0x03);
    /* Nonce random before the config lock uses the fixed pattern too. */
    fill(num_in, 20, 0x30);
    HK_CHECK(chip_data(&c, 0x16, 0x00, 0, num_in, 20, a, 32));
    HK_CHECK_EQ(a[0], 0xFF);
    HK_CHECK_EQ(a[2], 0x00);
    HK_CHECK(chip_provision(&c, NULL));
    HK_CHECK(chip_data(&c, 0x1B, 0x00, 0, NULL, 0, a, 32));
    HK_CHECK(chip_data(&c, 0x1B, 0x01, 0, NULL, 0, b, 32));
    HK_CHECK(memcmp(a, b, 32) != 0);
    HK_CHECK(!(a[0] == 0xFF && a[1] == 0xFF && a[2] == 0 && a[3] == 0 && a[4] == 0xFF));

    /* Nonce random: TempKey = SHA-256(RandOut || NumIn || 16 00 00). Proved by
     * Verify external over TempKey with a signature made outside. */
    uint8_t rand_out[32];
    HK_CHECK(chip_data(&c, 0x16, 0x00, 0, num_in, 20, rand_out, 32));
    uint8_t msg[55], tempkey[32];
    memcpy(msg, rand_out, 32);
    memcpy(msg + 32, num_in, 20);
    msg[52] = 0x16, msg[53] = 0x00, msg[54] = 0x00;
    test_sha256(msg, 55, tempkey);
    uint8_t priv[32], pub[64], vdata[128];
    HK_CHECK(test_keypair("nonce", priv, pub));
    HK_CHECK(test_sign(priv, tempkey, vdata));
    memcpy(vdata + 64, pub, 64);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x02, 0x0004, vdata, 128), 0x00);
    uint8_t st[4];
    HK_CHECK(chip_data(&c, 0x30, 0x02, 0, NULL, 0, st, 4));
    HK_CHECK_EQ(st[0], 0x80); /* valid, SourceFlag random */
    /* Random TempKey: external Sign with TempKey is allowed on ReqRandom slot 0. */
    uint8_t rs[64], key0[64];
    HK_CHECK(chip_data(&c, 0x40, 0x00, 0, NULL, 0, key0, 64));
    HK_CHECK(chip_data(&c, 0x41, 0x80, 0, NULL, 0, rs, 64));
    HK_CHECK(test_verify(key0, tempkey, rs));

    /* Parse errors. */
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x02, 0, num_in, 20), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x00, 0, num_in, 19), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x00, 0x8000, num_in, 20), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x40, 0, num_in, 20), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x03, 0, a, 20), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0xC3, 0, a, 32), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x07, 0, a, 32), 0x03);
    uint8_t sixty4[64];
    fill(sixty4, 64, 1);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0xA3, 0, sixty4, 64), 0x03); /* alt key: 32 only */
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x23, 0, sixty4, 64), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x83, 0, sixty4, 32), 0x00);
    /* The verified pass-through group: `27 16 03 00 00 00 01 ... 1F 04 EE`. */
    uint8_t g[40];
    size_t len = group_build(g, 0x16, 0x03, 0, sixty4, 32);
    fill(g + 5, 32, 0);
    g[37] = 0x04, g[38] = 0xEE;
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    size_t n = 0;
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, n, "\x04\x00\x03\x40", 4);
    chip_free(&c);
}

static void test_genkey(void)
{
    chip c = chip_new(17);
    uint8_t pub[64], pub2[64];
    /* Before the config lock; not a private-key slot; unmodelled modes. */
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 0, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 8, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x0C, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 0xFFFF, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 16, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x10, 0, (const uint8_t *)"abc", 3), 0x03);
    /* Public mode on an empty slot: no key. */
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x00, 0, NULL, 0), 0x0F);
    HK_CHECK(chip_data(&c, 0x40, 0x04, 0, NULL, 0, pub, 64));
    HK_CHECK(chip_data(&c, 0x40, 0x00, 0, NULL, 0, pub2, 64));
    HK_CHECK_MEM(pub2, 64, pub, 64);
    HK_CHECK(chip_data(&c, 0x40, 0x04, 2, NULL, 0, pub2, 64));
    HK_CHECK(memcmp(pub, pub2, 64) != 0);
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    /* After the data lock: slot 0 is permanent (no 0x2000), slot 2 is not. */
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 0, NULL, 0), 0x0F);
    HK_CHECK(chip_data(&c, 0x40, 0x00, 0, NULL, 0, pub2, 64));
    HK_CHECK_MEM(pub2, 64, pub, 64);
    HK_CHECK(chip_data(&c, 0x40, 0x04, 2, NULL, 0, pub2, 64));
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x02 | (2 << 2), 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x40, 0x04, 2, NULL, 0), 0x0F);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.genkeys, 3);
    HK_CHECK_EQ(k.pubkeys, 2);
    chip_free(&c);

    /* Same seed, same commands: same key (reproducible tests). */
    chip a = chip_new(99), b = chip_new(99);
    HK_CHECK(chip_provision(&a, pub));
    HK_CHECK(chip_provision(&b, pub2));
    HK_CHECK_MEM(pub, 64, pub2, 64);
    chip_free(&a);
    chip_free(&b);
}

static void test_cmd_sign(void)
{
    chip c = chip_new(18);
    uint8_t pub[64], digest[32], rs[64];
    fill(digest, 32, 0x55);
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK(chip_data(&c, 0x40, 0x04, 0, NULL, 0, pub, 64));
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 0, NULL, 0), 0x0F); /* data unlocked */
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    /* cryptoauthlib's 608 path: Random, Nonce 0x43, Sign 0xA0. */
    uint8_t r[32];
    HK_CHECK(chip_data(&c, 0x1B, 0x00, 0, NULL, 0, r, 32));
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK(chip_data(&c, 0x41, 0xA0, 0, NULL, 0, rs, 64));
    HK_CHECK(test_verify(pub, digest, rs));
    digest[0] ^= 1;
    HK_CHECK(!test_verify(pub, digest, rs));
    /* Errors: internal sign, slot 1 (internal-only), slot 8, parse bits. */
    HK_CHECK_EQ(chip_status(&c, 0x41, 0x00, 0, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 1, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 8, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xC0, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0x81, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0x82, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 16, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 0, digest, 32), 0x03);
    /* Slot 3 holds no key yet (GenKey never ran there). */
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 3, NULL, 0), 0x0F);
    /* No TempKey after a sleep. */
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_word(&c, 0x01), HK_OK);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0x80, 0, NULL, 0), 0x0F);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.signs, 1);
    chip_free(&c);
}

static void test_cmd_verify(void)
{
    chip c = chip_new(19);
    uint8_t priv[32], pub[64], digest[32], vdata[128];
    HK_CHECK(test_keypair("verify", priv, pub));
    fill(digest, 32, 0x99);
    HK_CHECK(test_sign(priv, digest, vdata));
    memcpy(vdata + 64, pub, 64);
    /* Stored key in slot 11 (72-byte padded form). */
    uint8_t padded[96];
    memset(padded, 0, sizeof padded);
    memcpy(padded + 4, pub, 32);
    memcpy(padded + 40, pub + 32, 32);
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    for (unsigned b = 0; b < 3; b++)
        HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(11, b, 0), padded + 32 * b), 0x00);
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);

    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0004, vdata, 128), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 11, vdata, 64), 0x00);
    vdata[5] ^= 0x10;
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0004, vdata, 128), 0x01);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 11, vdata, 64), 0x01);
    vdata[5] ^= 0x10;
    /* r = 0 is a miscompare, not an error. */
    uint8_t zero_r[128];
    memcpy(zero_r, vdata, 128);
    memset(zero_r, 0, 32);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0004, zero_r, 128), 0x01);
    /* A public key not on the curve: 0x0F. */
    uint8_t bad[128];
    memcpy(bad, vdata, 128);
    bad[127] ^= 1;
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0004, bad, 128), 0x0F);
    /* Stored-key slots that are not plain P-256 public keys. */
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 14, vdata, 64), 0x0F); /* must be validated */
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 8, vdata, 64), 0x0F);  /* data */
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 0, vdata, 64), 0x0F);  /* private */
    /* Parse errors. */
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0003, vdata, 128), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x22, 0x0004, vdata, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 11, vdata, 128), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x21, 0x0004, vdata, 128), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0xA2, 0x0004, vdata, 128), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 16, vdata, 64), 0x03);
    /* TempKey source with no TempKey: 0x0F. */
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x02, 0x0004, vdata, 128), 0x0F);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.verifies, 5);
    chip_free(&c);
}

static void test_cmd_ecdh(void)
{
    chip c = chip_new(20);
    uint8_t chip_pub[64], priv[32], pub[64], x[32], expect[32];
    HK_CHECK(chip_provision(&c, chip_pub));
    HK_CHECK(test_keypair("peer", priv, pub));
    HK_CHECK(test_ecdh(priv, chip_pub, expect));
    HK_CHECK(chip_data(&c, 0x43, 0x00, 0, pub, 64, x, 32));
    HK_CHECK_MEM(x, 32, expect, 32);
    HK_CHECK(chip_data(&c, 0x43, 0x0C, 0, pub, 64, x, 32));
    HK_CHECK_MEM(x, 32, expect, 32);
    /* To TempKey: status only, then TempKey is valid (Info State). */
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x08, 0, pub, 64), 0x00);
    uint8_t st[4];
    HK_CHECK(chip_data(&c, 0x30, 0x02, 0, NULL, 0, st, 4));
    HK_CHECK_EQ(st[0], 0x90);
    /* Errors. */
    uint8_t bad[64];
    memcpy(bad, pub, 64);
    bad[63] ^= 1;
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 0, bad, 64), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 1, pub, 64), 0x0F); /* ReadKey: internal sign only */
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 3, pub, 64), 0x0F); /* no key in slot 3 */
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 8, pub, 64), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x01, 0, pub, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x02, 0, pub, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x04, 0, pub, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x10, 0, pub, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 0, pub, 63), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x43, 0x00, 16, pub, 64), 0x03);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.ecdhs, 3);
    chip_free(&c);

    /* ReadKey bit 3: the secret goes to slot N|1 (here slot 3 made a clear
     * data slot so the test can look); ChipOptions ECDH protection forbids
     * clear output. */
    chip d = chip_new(21);
    HK_CHECK_EQ(chip_write4(&d, CFG, 6 /* bytes 24..27: slots 2, 3 */,
                            (const uint8_t[]){0x8D, 0x20, 0x0F, 0x0F}),
                0x00);
    HK_CHECK_EQ(chip_write4(&d, CFG, (3 << 3) | 1 /* bytes 100..103: keys 2, 3 */,
                            (const uint8_t[]){0x73, 0x00, 0x3C, 0x00}),
                0x00);
    HK_CHECK_EQ(chip_write4(&d, CFG, (2 << 3) | 6 /* bytes 88..91 */,
                            (const uint8_t[]){0xFF, 0xFF, 0x00, 0x02}),
                0x00);
    HK_CHECK_EQ(chip_lock_config(&d), 0x00);
    HK_CHECK(chip_data(&d, 0x40, 0x04, 0, NULL, 0, chip_pub, 64));
    HK_CHECK(chip_data(&d, 0x40, 0x04, 2, NULL, 0, chip_pub, 64));
    HK_CHECK_EQ(chip_lock_data_nocrc(&d), 0x00);
    HK_CHECK_EQ(chip_status(&d, 0x43, 0x00, 2, pub, 64), 0x00);
    HK_CHECK(test_ecdh(priv, chip_pub, expect));
    uint8_t got[32];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(d.emu, 3, 0, got, 32), HK_OK);
    HK_CHECK_MEM(got, 32, expect, 32);
    HK_CHECK_EQ(chip_status(&d, 0x43, 0x0C, 2, pub, 64), 0x0F);
    HK_CHECK_EQ(chip_status(&d, 0x43, 0x00, 0, pub, 64), 0x0F);
    HK_CHECK_EQ(chip_status(&d, 0x43, 0x08, 0, pub, 64), 0x00);
    chip_free(&d);
}

static void test_sha(void)
{
    chip c = chip_new(22);
    uint8_t d[32], block[64];
    /* Two-block message: 64 bytes by update, 36 by end; expected digest
     * computed outside. */
    uint8_t msg[100];
    fill(msg, 100, 0x20);
    uint8_t expect[32];
    test_sha256(msg, 100, expect);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x01, 64, msg, 64), 0x00);
    HK_CHECK(chip_data(&c, 0x47, 0x42, 36, msg + 64, 36, d, 32));
    HK_CHECK_MEM(d, 32, expect, 32);
    /* The digest went to the message digest buffer: Sign can use it later;
     * SHA("abc") to TempKey, then Verify external over TempKey proves it. */
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK(chip_data(&c, 0x47, 0x02, 3, (const uint8_t *)"abc", 3, d, 32));
    HK_CHECK_MEM(d, 32, abc_digest, 32);
    uint8_t priv[32], pub[64], vdata[128];
    HK_CHECK(test_keypair("sha", priv, pub));
    HK_CHECK(test_sign(priv, abc_digest, vdata));
    memcpy(vdata + 64, pub, 64);
    HK_CHECK_EQ(chip_status(&c, 0x45, 0x02, 0x0004, vdata, 128), 0x00);
    /* Empty message. */
    static const uint8_t empty[32] = {
        0xE3, 0xB0, 0xC4, 0x42, 0x98, 0xFC, 0x1C, 0x14, 0x9A, 0xFB, 0xF4, 0xC8, 0x99, 0x6F, 0xB9, 0x24,
        0x27, 0xAE, 0x41, 0xE4, 0x64, 0x9B, 0x93, 0x4C, 0xA4, 0x95, 0x99, 0x1B, 0x78, 0x52, 0xB8, 0x55};
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK(chip_data(&c, 0x47, 0xC2, 0, NULL, 0, d, 32));
    HK_CHECK_MEM(d, 32, empty, 32);
    /* Errors: update/end without start, wrong lengths, unmodelled modes. */
    fill(block, 64, 0);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x01, 64, block, 64), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x02, 0, NULL, 0), 0x0F);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x01, 32, block, 32), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x01, 64, block, 63), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x02, 64, block, 64), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 1, block, 1), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x03, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x04, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x82, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x08, 0, NULL, 0), 0x03);
    chip_free(&c);
}

static void test_selftest(void)
{
    chip c = chip_new(23);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x3B, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x01, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x02, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x20, 0, NULL, 0), 0x00);
    /* ECDSA as current cryptoauthlib selects it (0x04), alone and with all
     * the others; both ECDSA bits at once. */
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x04, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x3D, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x3F, 0, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x00, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x40, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x84, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x77, 0x01, 1, NULL, 0), 0x03);
    chip_free(&c);

    /* 0x04 runs the same ECDSA test as 0x02: the test makes a throwaway key
     * from the RNG, so after it the next Random output of a deterministic
     * chip is the same for 0x02 and 0x04 and differs from a chip that ran
     * only the SHA test (which draws nothing). */
    uint8_t after[3][32];
    static const uint8_t modes[3] = {0x02, 0x04, 0x20};
    for (int i = 0; i < 3; i++) {
        chip t = chip_new(230);
        HK_CHECK_EQ(chip_lock_config(&t), 0x00);
        HK_CHECK_EQ(chip_status(&t, 0x77, modes[i], 0, NULL, 0), 0x00);
        HK_CHECK(chip_data(&t, 0x1B, 0x00, 0, NULL, 0, after[i], 32));
        chip_free(&t);
    }
    HK_CHECK_MEM(after[1], 32, after[0], 32);
    HK_CHECK(memcmp(after[2], after[0], 32) != 0);
}

/* A 32-byte Read of a slot's short last block (how cryptoauthlib reads a
 * stored public key's block 2): the slot's remaining bytes, then zeros. */
static void test_read_short_last_block(void)
{
    chip c = chip_new(27);
    uint8_t blk[3][32], b[32 + 8];
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    for (unsigned i = 0; i < 3; i++) {
        fill(blk[i], 32, (uint8_t)(0x20 * i + 1));
        HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(11, i, 0), blk[i]), 0x00);
    }
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 12, 0), blk[0]), 0x00);
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    /* Slot 11, block 2: bytes 64..71, then 24 zero bytes. */
    hk_guard_fill(b, 32, sizeof b);
    HK_CHECK(chip_read32(&c, DATA, data_addr(11, 2, 0), b));
    HK_CHECK(hk_guard_intact(b, 32, sizeof b));
    HK_CHECK_MEM(b, 8, blk[2], 8);
    static const uint8_t zeros[32] = {0};
    HK_CHECK_MEM(b + 8, 24, zeros, 24);
    /* The three reads cryptoauthlib's atcab_read_pubkey makes. */
    HK_CHECK(chip_read32(&c, DATA, data_addr(11, 0, 0), b));
    HK_CHECK_MEM(b, 32, blk[0], 32);
    HK_CHECK(chip_read32(&c, DATA, data_addr(11, 1, 0), b));
    HK_CHECK_MEM(b, 32, blk[1], 32);
    /* Slot 13 (never written): the erased 0xFF bytes, then zeros. */
    HK_CHECK(chip_read32(&c, DATA, data_addr(13, 2, 0), b));
    HK_CHECK_MEM(b, 8, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8);
    HK_CHECK_MEM(b + 8, 24, zeros, 24);
    /* Still refused: a block past the slot, word bits on a 32-byte read,
     * secret slots (slot 5's block 1 is 4 bytes long). */
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(11, 3, 0), NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(11, 2, 1), NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x02, 0x82, data_addr(5, 1, 0), NULL, 0), 0x0F);
    /* A full block at a slot's end is a plain read (slot 8 block 12). */
    HK_CHECK(chip_read32(&c, DATA, data_addr(8, 12, 0), b));
    HK_CHECK_MEM(b, 32, blk[0], 32);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.slot_reads[11], 3);
    HK_CHECK_EQ(k.slot_reads[13], 1);
    chip_free(&c);
}

/* A 32-byte Write whose address has word bits (cryptoauthlib's
 * write_invalid_block_len: slot 10, block 2, word 1): accepted, stored from
 * that word, bytes past the slot's end dropped. */
static void test_write_word_offset(void)
{
    chip c = chip_new(28);
    uint8_t blk[32], got[72];
    fill(blk, 32, 0xA0);
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(10, 2, 1), blk), 0x00);
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 10, 0, got, 72), HK_OK);
    for (unsigned i = 0; i < 68; i++)
        HK_CHECK_EQ(got[i], 0xFF); /* untouched */
    HK_CHECK_MEM(got + 68, 4, blk, 4);
    /* Inside a slot the 32 bytes start at the word (slot 8, block 1, word 3:
     * bytes 44..75). */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 1, 3), blk), 0x00);
    uint8_t s8[80];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 8, 40, s8, 40), HK_OK);
    HK_CHECK_MEM(s8, 4, "\xFF\xFF\xFF\xFF", 4);
    HK_CHECK_MEM(s8 + 4, 32, blk, 32);
    HK_CHECK_MEM(s8 + 36, 4, "\xFF\xFF\xFF\xFF", 4);
    /* Slot 8's last block, word 7: 4 bytes fit. */
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(8, 12, 7), blk), 0x00);
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 8, 412, s8, 4), HK_OK);
    HK_CHECK_MEM(s8, 4, blk, 4);
    /* A word past the slot's end, config and OTP words on 32-byte writes,
     * 4-byte writes before the data lock: refused as before. */
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x82, data_addr(10, 2, 2), blk, 32), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x82, data_addr(3, 1, 1), blk, 32), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x12, 0x81, 1, blk, 32), 0x03);
    HK_CHECK_EQ(chip_write4(&c, DATA, data_addr(10, 2, 1), blk), 0x0F);
    /* After the data lock too (slot 10 is written Always). */
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    fill(blk, 32, 0x50);
    HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(10, 2, 1), blk), 0x00);
    uint8_t w[4];
    HK_CHECK(chip_read4(&c, DATA, data_addr(10, 2, 1), w));
    HK_CHECK_MEM(w, 4, blk, 4);
    chip_free(&c);
}

/* Key policies the model does not implement are refused (0x0F), never run
 * half-way: SlotConfig.LimitedUse (the chip would count each use on a
 * monotonic counter), KeyConfig.ReqAuth (needs an authorisation the model
 * cannot give) and the key named by an enabled CountMatch. */
static void set_slot_configs(chip *c, unsigned slot, uint16_t sc, uint16_t kc)
{
    /* Read the word holding the slot's 2 bytes, patch, write back. */
    uint8_t w[4];
    unsigned at = 20 + 2 * slot, kat = 96 + 2 * slot;
    HK_CHECK(chip_read4(c, CFG, (uint16_t)(((at / 32) << 3) | ((at % 32) / 4)), w));
    w[at % 4] = (uint8_t)sc;
    w[at % 4 + 1] = (uint8_t)(sc >> 8);
    HK_CHECK_EQ(chip_write4(c, CFG, (uint16_t)(((at / 32) << 3) | ((at % 32) / 4)), w), 0x00);
    HK_CHECK(chip_read4(c, CFG, (uint16_t)(((kat / 32) << 3) | ((kat % 32) / 4)), w));
    w[kat % 4] = (uint8_t)kc;
    w[kat % 4 + 1] = (uint8_t)(kc >> 8);
    HK_CHECK_EQ(chip_write4(c, CFG, (uint16_t)(((kat / 32) << 3) | ((kat % 32) / 4)), w), 0x00);
}

static void test_unmodelled_key_policies(void)
{
    uint8_t pub[64], digest[32], peer_priv[32], peer[64], vdata[128], padded[96];
    fill(digest, 32, 0x31);
    HK_CHECK(test_keypair("policy", peer_priv, peer));
    HK_CHECK(test_sign(peer_priv, digest, vdata));
    memset(padded, 0, sizeof padded);
    memcpy(padded + 4, peer, 32);
    memcpy(padded + 40, peer + 32, 32);
    static const struct {
        unsigned slot;
        uint16_t sc, kc;
        uint8_t count_match; /* config byte 18 */
    } cases[] = {
        {2, 0x20A5, 0x0073, 0x00}, /* LimitedUse */
        {2, 0x2085, 0x01F3, 0x00}, /* ReqAuth, AuthKey 1 */
        {2, 0x2085, 0x0073, 0x21}, /* CountMatch enabled for slot 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chip c = chip_new(29 + i);
        set_slot_configs(&c, cases[i].slot, cases[i].sc, cases[i].kc);
        /* The same policy on the stored public key in slot 13. */
        uint16_t pub_sc = cases[i].sc & 0x0020u ? 0x0F2F : 0x0F0F;
        uint16_t pub_kc = cases[i].kc & 0x0080u ? 0x01B0 : 0x0030;
        set_slot_configs(&c, 13, pub_sc, pub_kc);
        if (cases[i].count_match) {
            uint8_t w[4];
            HK_CHECK(chip_read4(&c, CFG, 4, w));
            w[2] = cases[i].count_match;
            HK_CHECK_EQ(chip_write4(&c, CFG, 4, w), 0x00);
        }
        HK_CHECK_EQ(chip_lock_config(&c), 0x00);
        HK_CHECK(chip_data(&c, 0x40, 0x04, cases[i].slot, NULL, 0, pub, 64));
        for (unsigned b = 0; b < 3; b++)
            HK_CHECK_EQ(chip_write32(&c, DATA, data_addr(13, b, 0), padded + 32 * b), 0x00);
        HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
        HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
        HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, cases[i].slot, NULL, 0), 0x0F);
        HK_CHECK_EQ(chip_status(&c, 0x43, 0x0C, cases[i].slot, peer, 64), 0x0F);
        if (!cases[i].count_match)
            HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 13, vdata, 64), 0x0F);
        else /* CountMatch names slot 2 only: slot 13 verifies */
            HK_CHECK_EQ(chip_status(&c, 0x45, 0x20, 13, vdata, 64), 0x00);
        /* Slot 3 (no such policy) still signs. */
        uint8_t rs[64];
        HK_CHECK(chip_data(&c, 0x40, 0x04, 3, NULL, 0, pub, 64));
        HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
        HK_CHECK(chip_data(&c, 0x41, 0xA0, 3, NULL, 0, rs, 64));
        HK_CHECK(test_verify(pub, digest, rs));
        hk_emu_atecc608_counters k;
        hk_emu_atecc608_counters_get(c.emu, &k);
        HK_CHECK_EQ(k.signs, 1);
        HK_CHECK_EQ(k.ecdhs, 0);
        chip_free(&c);
    }
}

/* UseLock with its enable nibble set: every key stays locked for the model
 * (it cannot unlock one), so even the plain slot 0 key refuses to sign. */
static void test_use_lock(void)
{
    chip c = chip_new(36);
    uint8_t digest[32];
    fill(digest, 32, 0x24);
    HK_CHECK_EQ(chip_write4(&c, CFG, (2 << 3) | 1, (const uint8_t[]){0x6A, 0x00, 0x00, 0x00}),
                0x00); /* byte 68 = 0x6A: enable nibble A, key slot 6 */
    HK_CHECK(chip_provision(&c, NULL));
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 0, NULL, 0), 0x0F);
    chip_free(&c);
}

/* KeyConfig.PersistentDisable: the key works only while the persistent
 * latch is set (Info mode 0x04), which the model keeps. */
static void test_persistent_disable(void)
{
    chip c = chip_new(35);
    uint8_t pub[64], digest[32], rs[64], out[4];
    fill(digest, 32, 0x42);
    set_slot_configs(&c, 2, 0x2085, 0x1073);
    uint8_t w[4] = {0x00, 0x82, 0x00, 0x00}; /* byte 69: latch allowed, slot 2 */
    HK_CHECK_EQ(chip_write4(&c, CFG, (2 << 3) | 1, w), 0x00);
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK(chip_data(&c, 0x40, 0x04, 2, NULL, 0, pub, 64));
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 2, NULL, 0), 0x0F);
    HK_CHECK(chip_data(&c, 0x30, 0x04, 0x0003, NULL, 0, out, 4));
    HK_CHECK_EQ(out[0], 1);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK(chip_data(&c, 0x41, 0xA0, 2, NULL, 0, rs, 64));
    HK_CHECK(test_verify(pub, digest, rs));
    /* Power gone: the latch is clear again. */
    hk_emu_atecc608_power_cycle(c.emu);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 2, NULL, 0), 0x0F);
    chip_free(&c);
}

static void test_counter(void)
{
    chip c = chip_new(24);
    uint8_t out[4], form[8];
    /* Value 0 form and increments. */
    HK_CHECK(chip_data(&c, 0x24, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x00\x00\x00\x00", 4);
    HK_CHECK(chip_data(&c, 0x24, 0x01, 1, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x01\x00\x00\x00", 4);
    uint8_t cfg[128];
    hk_emu_atecc608_config_get(c.emu, cfg);
    HK_CHECK_MEM(cfg + 60, 8, "\x7F\xFF\xFF\xFF\x00\x00\x00\x00", 8);
    HK_CHECK_MEM(cfg + 52, 8, "\xFF\xFF\xFF\xFF\x00\x00\x00\x00", 8);
    /* Known forms written into the config (atecc608a.md §4.14 formula,
     * worked by hand): the Counter command must read them. */
    static const struct {
        uint32_t v;
        const char *hex;
    } forms[] = {
        {16, "0000FFFF00000000"},      {17, "00007FFF00000000"},
        {31, "0000000100000000"},      {32, "FFFF000000010000"},
        {1000, "00FF0000001F001E"},    {2097151, "00000001FFFFFFFF"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        hk_test_unhex(forms[i].hex, form, 8);
        HK_CHECK_EQ(chip_write4(&c, CFG, (1 << 3) | 5, form), 0x00);     /* bytes 52..55 */
        HK_CHECK_EQ(chip_write4(&c, CFG, (1 << 3) | 6, form + 4), 0x00); /* bytes 56..59 */
        HK_CHECK(chip_data(&c, 0x24, 0x00, 0, NULL, 0, out, 4));
        uint32_t v = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
                     (uint32_t)out[3] << 24;
        HK_CHECK_EQ(v, forms[i].v);
    }
    /* At the maximum the increment fails and the value stays. */
    HK_CHECK_EQ(chip_status(&c, 0x24, 0x01, 0, NULL, 0), 0x0F);
    HK_CHECK(chip_data(&c, 0x24, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\xFF\xFF\x1F\x00", 4);
    /* 1000 -> 1001 rewrites the form. */
    hk_test_unhex("00FF0000001F001E", form, 8);
    HK_CHECK_EQ(chip_write4(&c, CFG, (1 << 3) | 5, form), 0x00);
    HK_CHECK_EQ(chip_write4(&c, CFG, (1 << 3) | 6, form + 4), 0x00);
    HK_CHECK(chip_data(&c, 0x24, 0x01, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\xE9\x03\x00\x00", 4);
    hk_emu_atecc608_config_get(c.emu, cfg);
    HK_CHECK_MEM(cfg + 52, 8, "\x00\x7F\x00\x00\x00\x1F\x00\x1E", 8);
    /* A form no counter value has: 0x0F. */
    HK_CHECK_EQ(chip_write4(&c, CFG, (1 << 3) | 5, (const uint8_t[]){0x12, 0x34, 0x56, 0x78}),
                0x00);
    HK_CHECK_EQ(chip_status(&c, 0x24, 0x00, 0, NULL, 0), 0x0F);
    /* Parse errors. */
    HK_CHECK_EQ(chip_status(&c, 0x24, 0x02, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x24, 0x00, 2, NULL, 0), 0x03);
    chip_free(&c);
}

static void test_update_extra(void)
{
    chip c = chip_new(25);
    uint8_t w[4];
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x00, 0x00A5, NULL, 0), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x00, 0x005A, NULL, 0), 0x0F); /* once only */
    HK_CHECK(chip_read4(&c, CFG, (2 << 3) | 5, w));
    HK_CHECK_MEM(w, 4, "\xA5\x00\x55\x55", 4);
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x02, 0, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x01, 0x0100, NULL, 0), 0x03);
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x01, 0x00C4, NULL, 0), 0x00);
    /* Still works after the config lock (byte 85 was set, so refused now). */
    HK_CHECK_EQ(chip_lock_config(&c), 0x00);
    HK_CHECK_EQ(chip_status(&c, 0x20, 0x01, 0x00C6, NULL, 0), 0x0F);
    chip_free(&c);
}

static void test_factory_config_write(void)
{
    /* A factory tool writes the whole user configuration (16..127 except
     * 84..87) the way cryptoauthlib does, locks it with the CRC, and the chip
     * works with the new map. Here: cryptoauthlib's PKCS#11 608 map. */
    chip c = chip_new(26);
    static const uint8_t slot_cfg[32] = {0x8F, 0x20, 0xC4, 0x44, 0x87, 0x20, 0x87, 0x20, 0x8F, 0x0F,
                                         0xC4, 0x36, 0x9F, 0x0F, 0x82, 0x20, 0x0F, 0x0F, 0xC4, 0x44,
                                         0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F,
                                         0x0F, 0x0F};
    static const uint8_t key_cfg[32] = {0x33, 0x00, 0x1C, 0x00, 0x13, 0x00, 0x13, 0x00, 0x7C, 0x00,
                                        0x1C, 0x00, 0x3C, 0x00, 0x33, 0x00, 0x3C, 0x00, 0x3C, 0x00,
                                        0x3C, 0x00, 0x30, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00,
                                        0x30, 0x00};
    uint8_t cfg[128];
    hk_emu_atecc608_config_get(c.emu, cfg);
    memcpy(cfg + 20, slot_cfg, 32);
    memcpy(cfg + 96, key_cfg, 32);
    for (unsigned word = 4; word < 32; word++) {
        if (word == 21)
            continue; /* bytes 84..87 */
        HK_CHECK_EQ(chip_write4(&c, CFG, (uint16_t)(((word / 8) << 3) | (word % 8)), cfg + 4 * word),
                    0x00);
    }
    uint8_t now[128];
    hk_emu_atecc608_config_get(c.emu, now);
    HK_CHECK_MEM(now, 128, cfg, 128);
    HK_CHECK_EQ(chip_status(&c, 0x17, 0x00, hk_atecc608_crc16(cfg, 128), NULL, 0), 0x00);
    uint8_t pub[64], digest[32], rs[64];
    HK_CHECK(chip_data(&c, 0x40, 0x04, 0, NULL, 0, pub, 64));
    HK_CHECK_EQ(chip_lock_data_nocrc(&c), 0x00);
    /* Slot 0 = 0x208F: GenKey allowed after the lock in this map. */
    HK_CHECK(chip_data(&c, 0x40, 0x04, 0, NULL, 0, pub, 64));
    fill(digest, 32, 3);
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK(chip_data(&c, 0x41, 0xA0, 0, NULL, 0, rs, 64));
    HK_CHECK(test_verify(pub, digest, rs));
    chip_free(&c);
}

int main(void)
{
    HK_RUN(test_info);
    HK_RUN(test_part);
    HK_RUN(test_read_rules);
    HK_RUN(test_write_rules);
    HK_RUN(test_lock);
    HK_RUN(test_random_and_nonce);
    HK_RUN(test_genkey);
    HK_RUN(test_cmd_sign);
    HK_RUN(test_cmd_verify);
    HK_RUN(test_cmd_ecdh);
    HK_RUN(test_sha);
    HK_RUN(test_selftest);
    HK_RUN(test_read_short_last_block);
    HK_RUN(test_write_word_offset);
    HK_RUN(test_unmodelled_key_policies);
    HK_RUN(test_use_lock);
    HK_RUN(test_persistent_disable);
    HK_RUN(test_counter);
    HK_RUN(test_update_extra);
    HK_RUN(test_factory_config_write);
    return hk_test_finish("emu_commands");
}
