/* Emulator I/O layer: wake, word addresses, CRC and count checks, busy NACKs,
 * sleep vs idle, watchdog, addresses, known answers from atecc608a.md. */
#include <stdlib.h>

#include "emu_test_util.h"

static void test_crc_worked_examples(void)
{
    /* atecc608a.md §2.1 table: group bytes -> CRC. */
    static const struct {
        const char *hex;
        uint16_t crc;
    } v[] = {
        {"0730000000", 0x5D03}, {"071B000000", 0xCD24}, {"0702800000", 0xAD09},
        {"0740040200", 0x0785}, {"0717800000", 0x8D39}, {"070282400C", 0xA4A9},
        {"0741A00200", 0x057D}, {"0411", 0x4333},       {"0400", 0x4003},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t b[8];
        size_t n = hk_test_unhex(v[i].hex, b, sizeof b);
        HK_CHECK_EQ(hk_atecc608_crc16(b, n), v[i].crc);
    }
    uint8_t nonce[39];
    nonce[0] = 0x27, nonce[1] = 0x16, nonce[2] = 0x03, nonce[3] = 0, nonce[4] = 0;
    for (int i = 0; i < 32; i++)
        nonce[5 + i] = (uint8_t)i;
    HK_CHECK_EQ(hk_atecc608_crc16(nonce, 37), 0xEE04);
    HK_CHECK_EQ(hk_atecc608_crc16((const uint8_t *)"123456789", 9), 0xBCDD);
}

static void test_wake_response_and_info_trace(void)
{
    chip c = chip_new(1);
    uint8_t w[4 + 4];
    /* Asleep: NACK. */
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, w, 4), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_ASLEEP);
    HK_CHECK_RESULT(c.i2c.wake(c.i2c.ctx), HK_OK);
    /* During tWHI: NACK. */
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_TWHI_US - 1);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, w, 4), HK_ERR_SE_NO_RESPONSE);
    c.i2c.delay_us(c.i2c.ctx, 1);
    hk_guard_fill(w, 4, sizeof w);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, w, 4), HK_OK);
    HK_CHECK_MEM(w, 4, "\x04\x11\x33\x43", 4);
    HK_CHECK(hk_guard_intact(w, 4, sizeof w));

    /* The verified trace: 07 30 00 00 00 03 5D -> 07 00 00 60 02 80 38. */
    static const uint8_t info[] = {0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    HK_CHECK_RESULT(chip_send_raw(&c, info, sizeof info), HK_OK);
    uint8_t resp[16];
    size_t n = 0;
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, n, "\x07\x00\x00\x60\x02\x80\x38", 7);
    /* The output buffer can be read again after a reset word. */
    HK_CHECK_RESULT(chip_word(&c, 0x00), HK_OK);
    uint8_t again[7];
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, again, 7), HK_OK);
    HK_CHECK_MEM(again, 7, resp, 7);
    /* Reading past the group gives 0xFF. */
    uint8_t past[2];
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, past, 2), HK_OK);
    HK_CHECK_MEM(past, 2, "\xFF\xFF", 2);
    /* A second wake pulse while awake is ignored (output kept). */
    hk_result_ignore(c.i2c.wake(c.i2c.ctx)); /* a pulse; what follows checks the chip */
    HK_CHECK_RESULT(chip_word(&c, 0x00), HK_OK);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, again, 7), HK_OK);
    HK_CHECK_MEM(again, 7, resp, 7);
    chip_free(&c);
}

static void test_raw_known_groups(void)
{
    chip c = chip_new(2);
    uint8_t resp[40];
    size_t n;
    /* Read config block 0 (32 bytes): `07 02 80 00 00 09 AD`. */
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x07\x02\x80\x00\x00\x09\xAD", 7), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(n, 35);
    HK_CHECK_MEM(resp + 1 + 4, 4, "\x00\x00\x60\x02", 4); /* RevNum */
    HK_CHECK_EQ(resp[1 + 0], 0x01);
    HK_CHECK_EQ(resp[1 + 1], 0x23);
    HK_CHECK_EQ(resp[1 + 12], 0xEE);
    /* cryptoauthlib's lock-state read: `07 02 00 15 00 17 5D` -> bytes 84..87. */
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x07\x02\x00\x15\x00\x17\x5D", 7), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, 5, "\x07\x00\x00\x55\x55", 5);
    HK_CHECK_EQ(n, 7);
    /* Random before the config lock: `07 1B 00 00 00 24 CD` -> FF FF 00 00 x 8. */
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x07\x1B\x00\x00\x00\x24\xCD", 7), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(n, 35);
    for (int i = 0; i < 32; i++)
        HK_CHECK_EQ(resp[1 + i], (i % 4) < 2 ? 0xFF : 0x00);
    /* Lock config without CRC: `07 17 80 00 00 39 8D` -> `04 00 03 40`. */
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x07\x17\x80\x00\x00\x39\x8D", 7), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, n, "\x04\x00\x03\x40", 4);
    /* GenKey slot 2: `07 40 04 02 00 85 07` -> 0x43 + 64 bytes. */
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x07\x40\x04\x02\x00\x85\x07", 7), HK_OK);
    uint8_t big[70];
    HK_CHECK_RESULT(chip_receive(&c, big, sizeof big, &n), HK_OK);
    HK_CHECK_EQ(n, 67);
    HK_CHECK_EQ(big[0], 0x43);
    chip_free(&c);
}

static void test_crc_and_count_errors(void)
{
    chip c = chip_new(3);
    uint8_t g[16], resp[16];
    size_t n;
    hk_emu_atecc608_counters k;
    HK_CHECK(chip_wake(&c));
    /* Bad CRC: status 0xFF, `04 FF` + CRC. */
    size_t len = group_build(g, 0x30, 0, 0, NULL, 0);
    g[len - 1] ^= 1;
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(n, 4);
    HK_CHECK_EQ(resp[1], 0xFF);
    /* Count below 4 and above 155: I/O error (0xFF). */
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x03", 1), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(resp[1], 0xFF);
    HK_CHECK_RESULT(chip_send_raw(&c, (const uint8_t *)"\x9C", 1), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(resp[1], 0xFF);
    /* More bytes than the count says: 0xFF. */
    len = group_build(g, 0x30, 0, 0, NULL, 0);
    g[len] = 0x00;
    HK_CHECK_RESULT(chip_send_raw(&c, g, len + 1), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(resp[1], 0xFF);
    /* A CRC-valid group shorter than a command (count 4..6): parse error. */
    uint8_t s4[4] = {0x04, 0x30, 0, 0};
    uint16_t crc = hk_atecc608_crc16(s4, 2);
    s4[2] = (uint8_t)crc, s4[3] = (uint8_t)(crc >> 8);
    HK_CHECK_RESULT(chip_send_raw(&c, s4, 4), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(resp[1], 0x03);
    /* Unknown opcode and an opcode the model does not implement (GenDig). */
    len = group_build(g, 0x99, 0, 0, NULL, 0);
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(resp[1], 0x03);
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.crc_errors, 3 + 1);
    HK_CHECK_EQ(k.parse_errors, 2);
    HK_CHECK_EQ(k.by_opcode[0x99], 1);
    /* An unknown word address is not acknowledged. */
    HK_CHECK_RESULT(chip_word(&c, 0x04), HK_ERR_SE_NO_RESPONSE);
    chip_free(&c);
}

static void test_split_group_and_partial_nack(void)
{
    chip c = chip_new(4);
    uint8_t g[16], resp[16];
    size_t n;
    size_t len = group_build(g, 0x30, 0, 0, NULL, 0);
    HK_CHECK(chip_wake(&c));
    /* First part only: a read now NACKs. */
    HK_CHECK_RESULT(chip_send_raw(&c, g, 3), HK_OK);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, resp, 1), HK_ERR_SE_NO_RESPONSE);
    /* The rest, again behind word address 0x03: the command runs. */
    HK_CHECK_RESULT(chip_send_raw(&c, g + 3, len - 3), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, n, "\x07\x00\x00\x60\x02\x80\x38", 7);
    /* A reset word drops a partial group; the next group stands alone. */
    HK_CHECK_RESULT(chip_send_raw(&c, g, 4), HK_OK);
    HK_CHECK_RESULT(chip_word(&c, 0x00), HK_OK);
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, n, "\x07\x00\x00\x60\x02\x80\x38", 7);
    chip_free(&c);
}

static void test_busy_nack_timing(void)
{
    chip c = chip_new(5);
    uint8_t g[16], resp[80];
    size_t len = group_build(g, 0x1B, 0, 0, NULL, 0); /* Random: 23 ms */
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_BUSY);
    c.i2c.delay_us(c.i2c.ctx, 22999);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, resp, 1), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(chip_word(&c, 0x00), HK_ERR_SE_NO_RESPONSE); /* writes NACK too */
    c.i2c.delay_us(c.i2c.ctx, 1);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, resp, 35), HK_OK);
    HK_CHECK_EQ(resp[0], 35);
    /* exec_time_percent scales the busy time; 0 = done at once. */
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    o.exec_time_percent = 50;
    chip h = chip_new_opts(&o);
    HK_CHECK(chip_wake(&h));
    HK_CHECK_RESULT(chip_send_raw(&h, g, len), HK_OK);
    h.i2c.delay_us(h.i2c.ctx, 11499);
    HK_CHECK_RESULT(h.i2c.read(h.i2c.ctx, ADDR, resp, 1), HK_ERR_SE_NO_RESPONSE);
    h.i2c.delay_us(h.i2c.ctx, 1);
    HK_CHECK_RESULT(h.i2c.read(h.i2c.ctx, ADDR, resp, 1), HK_OK);
    chip_free(&h);
    chip_free(&c);

    /* Clock divider M2 (ChipMode 0x68) makes GenKey slower: 653 ms. */
    chip m = chip_new(55);
    HK_CHECK_EQ(chip_write4(&m, 0, 4, (const uint8_t[]){0xC0, 0x00, 0x00, 0x68}), 0x00);
    HK_CHECK_EQ(chip_lock_config(&m), 0x00);
    len = group_build(g, 0x40, 0x04, 2, NULL, 0);
    HK_CHECK(chip_wake(&m));
    HK_CHECK_RESULT(chip_send_raw(&m, g, len), HK_OK);
    m.i2c.delay_us(m.i2c.ctx, 652999);
    HK_CHECK_RESULT(m.i2c.read(m.i2c.ctx, ADDR, resp, 1), HK_ERR_SE_NO_RESPONSE);
    m.i2c.delay_us(m.i2c.ctx, 1);
    HK_CHECK_RESULT(m.i2c.read(m.i2c.ctx, ADDR, resp, 67), HK_OK);
    HK_CHECK_EQ(resp[0], 67);
    chip_free(&m);
}

static void test_sleep_and_idle_retention(void)
{
    chip c = chip_new(6);
    uint8_t digest[32], resp[80], pub[64];
    size_t n;
    HK_CHECK(chip_provision(&c, pub));
    for (int i = 0; i < 32; i++)
        digest[i] = (uint8_t)(0xA0 + i);
    /* Nonce to TempKey, idle (chip_cmd idles), then Sign with TempKey works. */
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x03, 0, digest, 32), 0x00);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_IDLE);
    /* Slot 0 has ReqRandom: a pass-through TempKey is refused for Sign 0x80 ... */
    HK_CHECK_EQ(chip_status(&c, 0x41, 0x80, 0, NULL, 0), 0x0F);
    /* The message digest buffer path is allowed, and the buffer survives idle. */
    HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK_RESULT(chip_cmd(&c, 0x41, 0xA0, 0, NULL, 0, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_EQ(n, 67);
    /* Info State shows TempKey valid (bit 7) with SourceFlag (bit 4). */
    uint8_t st[4];
    HK_CHECK(chip_data(&c, 0x30, 0x02, 0, NULL, 0, st, 4));
    HK_CHECK_EQ(st[0], 0x90);
    /* Sleep: everything volatile is gone. */
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_word(&c, 0x01), HK_OK);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_ASLEEP);
    HK_CHECK_EQ(chip_status(&c, 0x41, 0xA0, 0, NULL, 0), 0x0F);
    HK_CHECK(chip_data(&c, 0x30, 0x02, 0, NULL, 0, st, 4));
    HK_CHECK_EQ(st[0], 0x00);
    /* SHA context survives idle, not sleep: SHA-256("abc") across three
     * transactions with an idle between each. */
    static const uint8_t abc_digest[32] = {
        0xBA, 0x78, 0x16, 0xBF, 0x8F, 0x01, 0xCF, 0xEA, 0x41, 0x41, 0x40, 0xDE, 0x5D, 0xAE, 0x22, 0x23,
        0xB0, 0x03, 0x61, 0xA3, 0x96, 0x17, 0x7A, 0x9C, 0xB4, 0x10, 0xFF, 0x61, 0xF2, 0x00, 0x15, 0xAD};
    uint8_t d[32];
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK(chip_data(&c, 0x47, 0xC2, 3, (const uint8_t *)"abc", 3, d, 32));
    HK_CHECK_MEM(d, 32, abc_digest, 32);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x00, 0, NULL, 0), 0x00);
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_word(&c, 0x01), HK_OK);
    HK_CHECK_EQ(chip_status(&c, 0x47, 0x02, 0, NULL, 0), 0x0F);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK(k.sleeps == 2 && k.idles > 5 && k.wakes > 5);
    chip_free(&c);
}

static void test_watchdog(void)
{
    chip c = chip_new(7);
    uint8_t g[16], resp[16];
    size_t n;
    HK_CHECK(chip_wake(&c));
    /* About 1.3 s after the wake the chip falls asleep by itself. */
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_WATCHDOG_SHORT_US - HK_EMU_ATECC608_TWHI_US - 1);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_AWAKE);
    c.i2c.delay_us(c.i2c.ctx, 1);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_ASLEEP);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, resp, 1), HK_ERR_SE_NO_RESPONSE);
    /* A command that cannot finish before expiry: 0xEE, not run. */
    HK_CHECK(chip_wake(&c));
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_WATCHDOG_SHORT_US - 20000);
    size_t len = group_build(g, 0x24, 0x01, 0, NULL, 0); /* Counter increment: 25 ms */
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, 2, "\x04\xEE", 2);
    HK_CHECK_EQ(n, 4);
    /* Idle resets the timer: after idle + wake there is a full period again. */
    HK_CHECK_RESULT(chip_word(&c, 0x02), HK_OK);
    HK_CHECK(chip_wake(&c));
    HK_CHECK_RESULT(chip_send_raw(&c, g, len), HK_OK);
    HK_CHECK_RESULT(chip_receive(&c, resp, sizeof resp, &n), HK_OK);
    HK_CHECK_MEM(resp, 5, "\x07\x01\x00\x00\x00", 5); /* 0 -> 1: the refused one did not run */
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.watchdog_expiries, 1);
    HK_CHECK_EQ(k.watchdog_refusals, 1);
    chip_free(&c);

    /* ChipMode bit 2: the long watchdog (about 13 s). */
    chip l = chip_new(8);
    uint8_t word[4] = {0xC0, 0x00, 0x00, 0x04};
    HK_CHECK_EQ(chip_write4(&l, 0, 4 /* bytes 16..19 */, word), 0x00);
    HK_CHECK(chip_wake(&l));
    HK_CHECK_RESULT(chip_word(&l, 0x01), HK_OK); /* ChipMode is read at wake */
    HK_CHECK(chip_wake(&l));
    l.i2c.delay_us(l.i2c.ctx, 5000000);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(l.emu), HK_EMU_ATECC608_AWAKE);
    l.i2c.delay_us(l.i2c.ctx, HK_EMU_ATECC608_WATCHDOG_LONG_US);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(l.emu), HK_EMU_ATECC608_ASLEEP);
    chip_free(&l);
}

static void test_addresses(void)
{
    chip c = chip_new(9);
    uint8_t b[4];
    /* Address 0: acts as a wake pulse and NACKs. */
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x00, (const uint8_t *)"\x01", 1),
                    HK_ERR_SE_NO_RESPONSE);
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_TWHI_US);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, b, 4), HK_OK);
    HK_CHECK_MEM(b, 4, "\x04\x11\x33\x43", 4);
    /* Another address: NACK. */
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, 0x35, b, 1), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x61, (const uint8_t *)"\x02", 1),
                    HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(chip_word(&c, 0x02), HK_OK);
    /* Byte 16 = 0x6A: after the next sleep the chip answers at 0x35. */
    uint8_t word[4] = {0x6A, 0x00, 0x00, 0x00};
    HK_CHECK_EQ(chip_write4(&c, 0, 4, word), 0x00);
    HK_CHECK(chip_wake(&c)); /* from idle: still 0x60 */
    HK_CHECK_RESULT(chip_word(&c, 0x01), HK_OK);
    hk_result_ignore(c.i2c.wake(c.i2c.ctx)); /* a pulse; what follows checks the chip */
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_TWHI_US);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, b, 4), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, 0x35, b, 4), HK_OK);
    HK_CHECK_MEM(b, 4, "\x04\x11\x33\x43", 4);
    /* ChipMode bit 0 with UserExtraAdd set: that address wins. */
    uint8_t g[16], resp[8];
    size_t n;
    size_t len = group_build(g, 0x20, 0x01, 0x00C4, NULL, 0);
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x35, (const uint8_t[]){0x03}, 1), HK_OK);
    uint8_t wbuf[20];
    wbuf[0] = 0x03;
    memcpy(wbuf + 1, g, len);
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x35, wbuf, len + 1), HK_OK);
    c.i2c.delay_us(c.i2c.ctx, 10000);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, 0x35, resp, 4), HK_OK);
    HK_CHECK_EQ(resp[1], 0x00);
    wbuf[0] = 0x03;
    len = group_build(wbuf + 1, 0x12, 0x00, 4, (const uint8_t[]){0x6A, 0x00, 0x00, 0x01}, 4);
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x35, wbuf, len + 1), HK_OK);
    c.i2c.delay_us(c.i2c.ctx, 45000);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, 0x35, resp, 4), HK_OK);
    HK_CHECK_EQ(resp[1], 0x00);
    HK_CHECK_RESULT(c.i2c.write(c.i2c.ctx, 0x35, (const uint8_t[]){0x01}, 1), HK_OK);
    hk_result_ignore(c.i2c.wake(c.i2c.ctx)); /* a pulse; what follows checks the chip */
    c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_TWHI_US);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, 0x62, b, 4), HK_OK);
    (void)n;
    chip_free(&c);
}

int main(void)
{
    HK_RUN(test_crc_worked_examples);
    HK_RUN(test_wake_response_and_info_trace);
    HK_RUN(test_raw_known_groups);
    HK_RUN(test_crc_and_count_errors);
    HK_RUN(test_split_group_and_partial_nack);
    HK_RUN(test_busy_nack_timing);
    HK_RUN(test_sleep_and_idle_retention);
    HK_RUN(test_watchdog);
    HK_RUN(test_addresses);
    return hk_test_finish("emu_io");
}
