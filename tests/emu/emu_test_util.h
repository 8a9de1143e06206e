/*
 * Test helpers for the emulator tests: a tiny host that speaks to the chip
 * model through its hk_i2c interface with hand-built groups, the way
 * atecc608a.md §1.6 describes (wake, send with word address 0x03, poll with
 * reset word + count byte + rest, idle). Deliberately independent of the
 * driver in src/se/atecc608: only the shared CRC routine is reused, and the
 * CRC itself is checked against the reference's worked examples.
 */
#ifndef HK_EMU_TEST_UTIL_H
#define HK_EMU_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_atecc608.h"
#include "hk_test.h"
#include "se/atecc608/atecc608_crc.h"

#define ADDR 0x60

typedef struct chip {
    hk_emu_atecc608 *emu;
    hk_i2c i2c;
} chip;

static inline chip chip_new_opts(const hk_emu_atecc608_options *o)
{
    chip c;
    hk_result r = hk_emu_atecc608_create(o, &c.emu);
    if (r != HK_OK) {
        fprintf(stderr, "cannot create emulator: %s\n", hk_result_name(r));
        exit(1);
    }
    c.i2c = hk_emu_atecc608_i2c(c.emu);
    return c;
}

static inline chip chip_new(uint64_t seed)
{
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.seed = seed;
    o.deterministic_rng = true;
    return chip_new_opts(&o);
}

static inline void chip_free(chip *c)
{
    hk_emu_atecc608_destroy(c->emu);
    c->emu = NULL;
}

/* count opcode p1 p2_lo p2_hi data... crc_lo crc_hi; returns the group size. */
static inline size_t group_build(uint8_t *g, uint8_t op, uint8_t p1, uint16_t p2,
                                 const uint8_t *data, size_t len)
{
    g[0] = (uint8_t)(7 + len);
    g[1] = op;
    g[2] = p1;
    g[3] = (uint8_t)p2;
    g[4] = (uint8_t)(p2 >> 8);
    /* A loop, not memcpy: data is NULL when len is 0, which gcc's inliner
     * would flag as a null memcpy source (-Wnonnull) on a path never taken. */
    for (size_t i = 0; i < len; i++)
        g[5 + i] = data[i];
    uint16_t crc = hk_atecc608_crc16(g, 5 + len);
    g[5 + len] = (uint8_t)crc;
    g[6 + len] = (uint8_t)(crc >> 8);
    return 7 + len;
}

/* Wake pulse, tWHI, read and check the wake response. */
static inline bool chip_wake(chip *c)
{
    uint8_t w[4];
    hk_result_ignore(c->i2c.wake(c->i2c.ctx)); /* the pulse is NACKed; the read below checks */
    c->i2c.delay_us(c->i2c.ctx, HK_EMU_ATECC608_TWHI_US);
    if (c->i2c.read(c->i2c.ctx, ADDR, w, 4) != HK_OK)
        return false;
    static const uint8_t expect[4] = {0x04, 0x11, 0x33, 0x43};
    return memcmp(w, expect, 4) == 0;
}

static inline hk_result chip_word(chip *c, uint8_t word)
{
    return c->i2c.write(c->i2c.ctx, ADDR, &word, 1);
}

static inline hk_result chip_send_raw(chip *c, const uint8_t *g, size_t len)
{
    uint8_t buf[200];
    buf[0] = 0x03;
    memcpy(buf + 1, g, len);
    return c->i2c.write(c->i2c.ctx, ADDR, buf, len + 1);
}

/* Polls (1 ms first, then every 2 ms, up to 2.5 s of model time) for a
 * response: reset word, count byte, the rest. Checks the response CRC. */
static inline hk_result chip_receive(chip *c, uint8_t *resp, size_t cap, size_t *out_len)
{
    c->i2c.delay_us(c->i2c.ctx, 1000);
    for (int tries = 0; tries < 1250; tries++) {
        if (chip_word(c, 0x00) == HK_OK && c->i2c.read(c->i2c.ctx, ADDR, resp, 1) == HK_OK) {
            size_t n = resp[0];
            if (n < 4 || n > cap)
                return HK_ERR_SE_RESPONSE;
            if (c->i2c.read(c->i2c.ctx, ADDR, resp + 1, n - 1) != HK_OK)
                return HK_ERR_SE_NO_RESPONSE;
            uint16_t crc = hk_atecc608_crc16(resp, n - 2);
            if (resp[n - 2] != (uint8_t)crc || resp[n - 1] != (uint8_t)(crc >> 8))
                return HK_ERR_SE_CRC;
            *out_len = n;
            return HK_OK;
        }
        c->i2c.delay_us(c->i2c.ctx, 2000);
    }
    return HK_ERR_TIMEOUT;
}

/* One whole transaction: wake, send, poll, idle. Returns HK_OK when a
 * response with a good CRC arrived. */
static inline hk_result chip_cmd(chip *c, uint8_t op, uint8_t p1, uint16_t p2,
                                 const uint8_t *data, size_t dlen, uint8_t *resp,
                                 size_t cap, size_t *out_len)
{
    uint8_t g[200];
    size_t n = group_build(g, op, p1, p2, data, dlen);
    if (!chip_wake(c))
        return HK_ERR_SE_WAKE;
    hk_result r = chip_send_raw(c, g, n);
    if (r != HK_OK)
        return r;
    r = chip_receive(c, resp, cap, out_len);
    chip_word(c, 0x02);
    return r;
}

/* Status of a command that answers with a 4-byte group (-1 otherwise). */
static inline int chip_status(chip *c, uint8_t op, uint8_t p1, uint16_t p2,
                              const uint8_t *data, size_t dlen)
{
    uint8_t resp[80];
    size_t n = 0;
    if (chip_cmd(c, op, p1, p2, data, dlen, resp, sizeof resp, &n) != HK_OK || n != 4)
        return -1;
    return resp[1];
}

/* Data of a command that answers with data (want bytes); true on success. */
static inline bool chip_data(chip *c, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                             size_t dlen, uint8_t *out, size_t want)
{
    uint8_t resp[80];
    size_t n = 0;
    if (chip_cmd(c, op, p1, p2, data, dlen, resp, sizeof resp, &n) != HK_OK || n != want + 3)
        return false;
    memcpy(out, resp + 1, want);
    return true;
}

/* Read / write helpers; zone 0 config, 1 OTP, 2 data. */
static inline uint16_t data_addr(unsigned slot, unsigned block, unsigned word)
{
    return (uint16_t)((block << 8) | (slot << 3) | word);
}

static inline int chip_write32(chip *c, unsigned zone, uint16_t addr, const uint8_t d[32])
{
    return chip_status(c, 0x12, (uint8_t)(0x80 | zone), addr, d, 32);
}

static inline int chip_write4(chip *c, unsigned zone, uint16_t addr, const uint8_t d[4])
{
    return chip_status(c, 0x12, (uint8_t)zone, addr, d, 4);
}

static inline bool chip_read32(chip *c, unsigned zone, uint16_t addr, uint8_t out[32])
{
    return chip_data(c, 0x02, (uint8_t)(0x80 | zone), addr, NULL, 0, out, 32);
}

static inline bool chip_read4(chip *c, unsigned zone, uint16_t addr, uint8_t out[4])
{
    return chip_data(c, 0x02, (uint8_t)zone, addr, NULL, 0, out, 4);
}

static inline int chip_lock_config(chip *c)
{
    uint8_t cfg[128];
    hk_emu_atecc608_config_get(c->emu, cfg);
    return chip_status(c, 0x17, 0x00, hk_atecc608_crc16(cfg, 128), NULL, 0);
}

static inline int chip_lock_data_nocrc(chip *c)
{
    return chip_status(c, 0x17, 0x81, 0, NULL, 0);
}

/* Factory flow on the default configuration: lock config, GenKey slot 0,
 * lock data. out_pub (may be NULL) gets slot 0's public key. */
static inline bool chip_provision(chip *c, uint8_t out_pub[64])
{
    uint8_t pub[64];
    if (chip_lock_config(c) != 0x00)
        return false;
    if (!chip_data(c, 0x40, 0x04, 0, NULL, 0, pub, 64))
        return false;
    if (chip_lock_data_nocrc(c) != 0x00)
        return false;
    if (out_pub)
        memcpy(out_pub, pub, 64);
    return true;
}

#endif /* HK_EMU_TEST_UTIL_H */
