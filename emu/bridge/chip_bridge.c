/*
 * The chip bridge's frame decoder and dispatcher (docs/chip-bridge.md).
 *
 * Decoding: bytes are taken from the input only as far as the candidate
 * frame at the front of buf needs (1 byte while looking for SYNC, then the
 * header, then the LEN + 2 bytes LEN announces), so buf never holds more
 * than one frame's worth and a long burst of input is handled piece by
 * piece. A candidate that fails its checks loses its first byte and
 * everything up to the next SYNC inside it; the bytes from that SYNC on are
 * examined again, so a SYNC byte in garbage cannot swallow the request that
 * follows it.
 *
 * Example (WAKE, sequence 0x01):  A5 01 02 00 crc crc  ->  A5 01 82 01 00 crc crc
 */
#include "chip_bridge.h"

#include <string.h>

#define SYNC 0xA5u
#define HEADER 4u
#define REPLY_BIT 0x80u

enum { OP_HELLO = 1, OP_WAKE = 2, OP_WRITE = 3, OP_READ = 4, OP_DELAY = 5 };
enum { ST_ACK = 0, ST_NACK = 1, ST_BUS_ERROR = 2, ST_BAD_REQUEST = 3 };

uint16_t hk_chip_bridge_crc16(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFu;
    while (len-- > 0) {
        crc ^= (uint32_t)*data++ << 8;
        for (int bit = 0; bit < 8; bit++) {
            crc <<= 1;
            if (crc & 0x10000u)
                crc ^= 0x1021u;
        }
        crc &= 0xFFFFu;
    }
    return (uint16_t)crc;
}

const char *hk_chip_bridge_op_name(uint8_t op)
{
    switch (op) {
    case OP_HELLO:
        return "HELLO";
    case OP_WAKE:
        return "WAKE";
    case OP_WRITE:
        return "WRITE";
    case OP_READ:
        return "READ";
    case OP_DELAY:
        return "DELAY";
    default:
        return "?";
    }
}

hk_result hk_chip_bridge_init(hk_chip_bridge *b, const hk_i2c *chip, hk_chip_bridge_send_fn send,
                              void *send_ctx)
{
    if (b == NULL || chip == NULL || send == NULL || chip->write == NULL || chip->read == NULL ||
        chip->wake == NULL || chip->delay_us == NULL)
        return HK_ERR_INVALID_ARG;
    memset(b, 0, sizeof *b);
    b->_internal.chip = *chip;
    b->_internal.send = send;
    b->_internal.send_ctx = send_ctx;
    return HK_OK;
}

void hk_chip_bridge_set_log(hk_chip_bridge *b, hk_chip_bridge_log_fn log, void *log_ctx)
{
    b->_internal.log = log;
    b->_internal.log_ctx = log_ctx;
}

void hk_chip_bridge_reset(hk_chip_bridge *b)
{
    b->_internal.len = 0;
}

static uint8_t status_of(hk_chip_bridge *b, hk_result r)
{
    if (r == HK_OK)
        return ST_ACK;
    if (r == HK_ERR_SE_NO_RESPONSE) {
        b->stats.nacks++;
        return ST_NACK;
    }
    b->stats.bus_errors++;
    return ST_BUS_ERROR;
}

/* Runs the request in frame (good CRC, LEN <= the maximum) and sends the
 * reply. */
static hk_result execute(hk_chip_bridge *b, const uint8_t *frame)
{
    const hk_i2c *chip = &b->_internal.chip;
    uint8_t seq = frame[1], op = frame[2];
    size_t plen = frame[3];
    const uint8_t *p = frame + HEADER;
    uint8_t *rp = b->_internal.reply + HEADER; /* reply payload */
    size_t rlen = 1;
    hk_chip_bridge_event ev;
    memset(&ev, 0, sizeof ev);
    ev.seq = seq;
    ev.op = op;
    ev.word = -1;
    ev.chip_opcode = -1;

    if (op & REPLY_BIT) {
        /* Our own kind of frame coming back (a looped line): never answer
         * it, or two bridges would talk forever. */
        b->stats.ignored++;
        return HK_OK;
    }
    b->stats.frames++;
    b->stats.by_op[op >= OP_HELLO && op <= OP_DELAY ? op : 0]++;
    rp[0] = ST_BAD_REQUEST;
    switch (op) {
    case OP_HELLO:
        if (plen != 1)
            break;
        ev.version = p[0];
        rp[0] = ST_ACK;
        rp[1] = HK_CHIP_BRIDGE_VERSION;
        rp[2] = HK_CHIP_BRIDGE_MAX_PAYLOAD;
        rlen = 3;
        break;
    case OP_WAKE:
        if (plen != 0)
            break;
        rp[0] = status_of(b, chip->wake(chip->ctx));
        break;
    case OP_WRITE:
        if (plen < 1 || p[0] > 0x7Fu)
            break;
        ev.addr7 = p[0];
        ev.len = (uint16_t)(plen - 1);
        if (plen >= 2)
            ev.word = p[1];
        if (plen >= 4 && p[1] == 0x03u)
            ev.chip_opcode = p[3];
        rp[0] = status_of(b, chip->write(chip->ctx, p[0], p + 1, plen - 1));
        break;
    case OP_READ: {
        if (plen != 2 || p[0] > 0x7Fu || p[1] > HK_CHIP_BRIDGE_MAX_PAYLOAD - 1u)
            break;
        ev.addr7 = p[0];
        ev.len = p[1];
        size_t n = p[1];
        hk_result r = chip->read(chip->ctx, p[0], rp + 1, n);
        rp[0] = status_of(b, r);
        if (r == HK_OK)
            rlen = 1 + n;
        break;
    }
    case OP_DELAY: {
        if (plen != 4)
            break;
        uint32_t us = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        ev.us = us;
        chip->delay_us(chip->ctx, us);
        b->stats.delay_us += us;
        rp[0] = ST_ACK;
        break;
    }
    default:
        break;
    }
    if (rp[0] == ST_BAD_REQUEST) {
        b->stats.bad_requests++;
        rlen = 1;
    }
    ev.status = rp[0];
    if (b->_internal.log != NULL)
        b->_internal.log(b->_internal.log_ctx, &ev);

    uint8_t *r = b->_internal.reply;
    r[0] = SYNC;
    r[1] = seq;
    r[2] = (uint8_t)(op | REPLY_BIT);
    r[3] = (uint8_t)rlen;
    uint16_t crc = hk_chip_bridge_crc16(r + 1, 3 + rlen);
    r[HEADER + rlen] = (uint8_t)(crc >> 8);
    r[HEADER + rlen + 1] = (uint8_t)(crc & 0xFFu);
    return b->_internal.send(b->_internal.send_ctx, r, HEADER + rlen + 2);
}

/* Drops the front candidate: its first byte and what follows up to the
 * next SYNC. */
static size_t skip_candidate(hk_chip_bridge *b)
{
    uint8_t *buf = b->_internal.buf;
    size_t n = b->_internal.len, k = 1;
    for (; k < n; k++) {
        if (buf[k] == SYNC)
            break;
    }
    memmove(buf, buf + k, n - k);
    b->_internal.len = n - k;
    return k;
}

/* Settles the front of buf: every complete good frame is executed and
 * removed, every bad candidate skipped. Returns HK_OK with *need = the bytes
 * the front candidate still lacks, or send's error. */
static hk_result settle(hk_chip_bridge *b, size_t *need)
{
    uint8_t *buf = b->_internal.buf;
    for (;;) {
        size_t n = b->_internal.len;
        if (n == 0) {
            *need = 1;
            return HK_OK;
        }
        if (buf[0] != SYNC) {
            b->stats.garbage_bytes += skip_candidate(b);
            continue;
        }
        if (n < HEADER) {
            *need = HEADER - n;
            return HK_OK;
        }
        if (buf[3] > HK_CHIP_BRIDGE_MAX_PAYLOAD) {
            b->stats.bad_frames++;
            (void)skip_candidate(b);
            continue;
        }
        size_t total = HEADER + buf[3] + 2u;
        if (n < total) {
            *need = total - n;
            return HK_OK;
        }
        uint16_t want = (uint16_t)(buf[total - 2] << 8 | buf[total - 1]);
        if (hk_chip_bridge_crc16(buf + 1, total - 3) != want) {
            b->stats.bad_frames++;
            (void)skip_candidate(b);
            continue;
        }
        hk_result r = execute(b, buf);
        memmove(buf, buf + total, n - total);
        b->_internal.len = n - total;
        if (r != HK_OK)
            return r;
    }
}

hk_result hk_chip_bridge_input(hk_chip_bridge *b, const uint8_t *data, size_t len)
{
    size_t at = 0;
    for (;;) {
        size_t need = 0;
        hk_result r = settle(b, &need);
        if (r != HK_OK || at == len)
            return r;
        size_t take = len - at < need ? len - at : need;
        memcpy(b->_internal.buf + b->_internal.len, data + at, take);
        b->_internal.len += take;
        at += take;
    }
}

bool hk_chip_bridge_pending(const hk_chip_bridge *b)
{
    return b->_internal.len > 0;
}

hk_result hk_chip_bridge_line_idle(hk_chip_bridge *b)
{
    if (b->_internal.len == 0)
        return HK_OK;
    b->stats.bad_frames++;
    (void)skip_candidate(b);
    size_t need = 0;
    return settle(b, &need);
}
