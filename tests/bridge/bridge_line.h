/*
 * Test helper (header only): an in-process serial line between the device
 * port (ports/serial-i2c) and the bridge library (emu/bridge), made of two
 * byte queues and an injected millisecond clock.
 *
 *   port write  -> to_bridge queue -> hk_chip_bridge_input (at once, when a
 *                  bridge is attached) -> replies -> mangle -> to_port queue
 *   port read   <- to_port queue; an empty read moves the clock by
 *                  ms_per_empty_read, so a missing reply times out after a
 *                  bounded number of reads without any sleeping.
 *
 * Replies can be mangled on their way to the port (one rule for the next
 * `count` replies): garbage before the frame, a bad CRC, another sequence
 * number, cut short, lost, or preceded by a late copy of an earlier reply.
 * Tests may also queue bytes for the port themselves (scripted replies).
 */
#ifndef HK_BRIDGE_LINE_H
#define HK_BRIDGE_LINE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chip_bridge.h"
#include "hk_serial_i2c.h"

typedef enum line_mangle {
    MANGLE_NONE,
    MANGLE_GARBAGE_BEFORE, /* garbage (with SYNC bytes in it) before the reply */
    MANGLE_BAD_CRC,        /* last byte flipped */
    MANGLE_WRONG_SEQ,      /* sequence number changed (CRC recomputed) */
    MANGLE_TRUNCATE,       /* only the first keep bytes */
    MANGLE_DROP,           /* no reply at all */
    MANGLE_STALE_BEFORE,   /* a good frame with the previous seq, then the reply */
} line_mangle;

typedef struct fake_line {
    uint8_t to_bridge[4096];
    size_t to_bridge_len;
    uint8_t to_port[8192];
    size_t to_port_head, to_port_len;
    uint32_t now_ms;
    uint32_t ms_per_empty_read;
    hk_chip_bridge *bridge;
    line_mangle mangle;
    unsigned mangle_count; /* replies still to mangle */
    size_t keep;           /* MANGLE_TRUNCATE */
    bool fail_write, fail_read;
    bool babble; /* an empty queue gives one byte of noise per read (1 ms each) */
    uint8_t babble_state;
    unsigned writes, reads, empty_reads;
} fake_line;

static inline uint16_t line_crc(const uint8_t *p, size_t n)
{
    /* A third copy of CRC-16/CCITT-FALSE, table driven, for building frames
     * in tests without trusting either side's routine. */
    static uint16_t table[256];
    static bool ready;
    if (!ready) {
        for (unsigned i = 0; i < 256; i++) {
            uint16_t c = (uint16_t)(i << 8);
            for (int k = 0; k < 8; k++)
                c = (uint16_t)((c & 0x8000u) ? ((unsigned)c << 1) ^ 0x1021u : (unsigned)c << 1);
            table[i] = c;
        }
        ready = true;
    }
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ table[((crc >> 8) ^ p[i]) & 0xFFu]);
    return crc;
}

/* Builds a frame: returns its size. */
static inline size_t line_frame(uint8_t *out, uint8_t seq, uint8_t op, const uint8_t *payload,
                                size_t len)
{
    out[0] = 0xA5;
    out[1] = seq;
    out[2] = op;
    out[3] = (uint8_t)len;
    if (len > 0)
        memcpy(out + 4, payload, len);
    uint16_t c = line_crc(out + 1, 3 + len);
    out[4 + len] = (uint8_t)(c >> 8);
    out[5 + len] = (uint8_t)c;
    return 6 + len;
}

static inline void line_queue(fake_line *l, const uint8_t *p, size_t n)
{
    if (l->to_port_head > 0) {
        memmove(l->to_port, l->to_port + l->to_port_head, l->to_port_len);
        l->to_port_head = 0;
    }
    if (n > sizeof l->to_port - l->to_port_len)
        n = sizeof l->to_port - l->to_port_len;
    memcpy(l->to_port + l->to_port_len, p, n);
    l->to_port_len += n;
}

static inline hk_result line_bridge_send(void *ctx, const uint8_t *buf, size_t len)
{
    fake_line *l = ctx;
    uint8_t f[HK_CHIP_BRIDGE_FRAME_MAX + 64];
    memcpy(f, buf, len);
    line_mangle m = l->mangle_count > 0 ? l->mangle : MANGLE_NONE;
    if (l->mangle_count > 0)
        l->mangle_count--;
    switch (m) {
    case MANGLE_NONE:
        break;
    case MANGLE_GARBAGE_BEFORE: {
        /* SYNC bytes in the garbage, one of them with a huge LEN and one
         * with a LEN that would swallow the reply. */
        static const uint8_t g[] = {0x00, 0xFF, 0xA5, 0xA5, 0x10, 0xC8, 0x13, 0xA5,
                                    0x01, 0x84, 0x30, 0x00, 0x5A};
        line_queue(l, g, sizeof g);
        break;
    }
    case MANGLE_BAD_CRC:
        f[len - 1] ^= 0x01;
        break;
    case MANGLE_WRONG_SEQ:
        len = line_frame(f, (uint8_t)(buf[1] + 1), buf[2], buf + 4, buf[3]);
        break;
    case MANGLE_TRUNCATE:
        if (l->keep < len)
            len = l->keep;
        break;
    case MANGLE_DROP:
        return HK_OK;
    case MANGLE_STALE_BEFORE: {
        uint8_t s[HK_CHIP_BRIDGE_FRAME_MAX];
        size_t n = line_frame(s, (uint8_t)(buf[1] - 1), buf[2], buf + 4, buf[3]);
        line_queue(l, s, n);
        break;
    }
    }
    line_queue(l, f, len);
    return HK_OK;
}

static inline hk_result line_write(void *ctx, const uint8_t *buf, size_t len)
{
    fake_line *l = ctx;
    l->writes++;
    if (l->fail_write)
        return HK_ERR_IO;
    if (len > sizeof l->to_bridge - l->to_bridge_len)
        return HK_ERR_IO;
    memcpy(l->to_bridge + l->to_bridge_len, buf, len);
    l->to_bridge_len += len;
    if (l->bridge != NULL) {
        hk_result r = hk_chip_bridge_input(l->bridge, l->to_bridge, l->to_bridge_len);
        l->to_bridge_len = 0;
        if (r != HK_OK)
            return r;
    }
    return HK_OK;
}

static inline hk_result line_read(void *ctx, uint8_t *buf, size_t cap, size_t *out_len)
{
    fake_line *l = ctx;
    l->reads++;
    *out_len = 0;
    if (l->fail_read)
        return HK_ERR_IO;
    size_t n = l->to_port_len < cap ? l->to_port_len : cap;
    if (n == 0 && l->babble && cap > 0) {
        l->babble_state = (uint8_t)(l->babble_state * 5u + 0x5Bu);
        buf[0] = (l->babble_state & 3u) == 0 ? 0xA5 : l->babble_state;
        l->now_ms += 1;
        *out_len = 1;
        return HK_OK;
    }
    if (n == 0) {
        l->empty_reads++;
        l->now_ms += l->ms_per_empty_read;
        return HK_OK;
    }
    memcpy(buf, l->to_port + l->to_port_head, n);
    l->to_port_head += n;
    l->to_port_len -= n;
    if (l->to_port_len == 0)
        l->to_port_head = 0;
    *out_len = n;
    return HK_OK;
}

static inline uint32_t line_now(void *ctx)
{
    return ((fake_line *)ctx)->now_ms;
}

/* A line with the bridge attached (bridge may be NULL for scripted tests). */
static inline void line_init(fake_line *l, hk_chip_bridge *bridge, hk_serial_line *out)
{
    memset(l, 0, sizeof *l);
    l->bridge = bridge;
    l->ms_per_empty_read = 1;
    l->now_ms = 0xFFFFFF00u; /* the clock wraps during the tests */
    out->ctx = l;
    out->write = line_write;
    out->read = line_read;
    out->now_ms = line_now;
}

#endif /* HK_BRIDGE_LINE_H */
