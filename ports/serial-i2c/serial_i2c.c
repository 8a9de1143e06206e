/*
 * hk_i2c over a serial line (docs/chip-bridge.md).
 *
 * One buffer serves both directions: a call builds its request frame in
 * frame[], writes it, and then collects the reply in the same buffer. That
 * is safe because nothing received before a request was written can be its
 * reply, so every call starts with an empty receive state.
 *
 * Reading never goes past the frame being collected: while hunting for SYNC
 * one byte is read at a time, then the rest of the header, then exactly the
 * rest of the frame that LEN announces. Bytes of a following frame stay in
 * the line. A candidate that fails (LEN over the maximum, bad CRC) is
 * dropped up to the next SYNC byte inside it, and the bytes from there are
 * examined again as the start of a frame: a SYNC in garbage, or a stale
 * frame cut short, costs one candidate and never hides the real reply that
 * follows it. A candidate that stays incomplete while the line is quiet for a
 * quarter of the reply timeout (a SYNC in garbage announcing more bytes than
 * will come) is dropped the same way, so the reply behind it is still found
 * in time. A frame with the right form but another sequence number is the
 * late reply to an earlier request (one that timed out): it is dropped and
 * the wait goes on.
 *
 * Example: READ of 4 bytes at 0x60, sequence number 0x07:
 *   request  A5 07 04 02 60 04 crc crc
 *   reply    A5 07 84 05 00 04 11 33 43 crc crc   (ACK + the chip's 4 bytes)
 */
#include <string.h>

#include "common/hk_common.h"
#include "hk_serial_i2c.h"

uint16_t hk_serial_i2c_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (unsigned b = 0; b < 8; b++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* The request whose payload (plen bytes) is already at frame + 4: header and
 * CRC around it, then the whole frame onto the line. */
static hk_result send_request(hk_serial_i2c *s, uint8_t op, size_t plen)
{
    uint8_t *f = s->_internal.frame;
    s->_internal.seq++;
    f[0] = HK_SERIAL_I2C_SYNC;
    f[1] = s->_internal.seq;
    f[2] = op;
    f[3] = (uint8_t)plen;
    uint16_t crc = hk_serial_i2c_crc16(f + 1, 3 + plen);
    f[4 + plen] = (uint8_t)(crc >> 8);
    f[5 + plen] = (uint8_t)crc;
    s->_internal.len = 0;
    s->stats.requests++;
    if (s->_internal.line.write(s->_internal.line.ctx, f, 6 + plen) != HK_OK) {
        s->stats.line_errors++;
        return HK_ERR_IO;
    }
    return HK_OK;
}

/* Drops the candidate at the front up to the next SYNC after its first byte
 * (or entirely); returns the number of bytes dropped. */
static size_t drop_candidate(hk_serial_i2c *s)
{
    uint8_t *f = s->_internal.frame;
    size_t len = s->_internal.len;
    size_t i = 1;
    while (i < len && f[i] != HK_SERIAL_I2C_SYNC)
        i++;
    memmove(f, f + i, len - i);
    s->_internal.len = (uint16_t)(len - i);
    return i;
}

/* Looks at the bytes collected so far. Returns the size of a complete frame
 * with a good CRC at the front, or 0 when more bytes are needed (*need gets
 * how many). Bad candidates are dropped on the way. */
static size_t scan(hk_serial_i2c *s, size_t *need)
{
    uint8_t *f = s->_internal.frame;
    for (;;) {
        size_t len = s->_internal.len;
        if (len == 0) {
            *need = 1;
            return 0;
        }
        if (f[0] != HK_SERIAL_I2C_SYNC) {
            s->stats.garbage_bytes += (uint32_t)drop_candidate(s);
            continue;
        }
        if (len < HK_SERIAL_I2C_HEADER) {
            *need = HK_SERIAL_I2C_HEADER - len;
            return 0;
        }
        if (f[3] > HK_SERIAL_I2C_MAX_PAYLOAD) {
            s->stats.bad_frames++;
            (void)drop_candidate(s);
            continue;
        }
        size_t total = HK_SERIAL_I2C_HEADER + (size_t)f[3] + 2u;
        if (len < total) {
            *need = total - len;
            return 0;
        }
        uint16_t crc = (uint16_t)((uint16_t)f[total - 2] << 8 | f[total - 1]);
        if (hk_serial_i2c_crc16(f + 1, total - 3) != crc) {
            s->stats.bad_frames++;
            (void)drop_candidate(s);
            continue;
        }
        return total;
    }
}

/* Waits for the reply to the request just sent. On HK_OK, *out_status is
 * its status byte and the rest of its payload (*out_len bytes) is at
 * frame + 5. */
static hk_result await_reply(hk_serial_i2c *s, uint8_t op, uint8_t *out_status, size_t *out_len)
{
    const hk_serial_line *line = &s->_internal.line;
    uint8_t *f = s->_internal.frame;
    uint32_t start = line->now_ms(line->ctx);
    uint32_t last_byte = start;
    uint32_t gap_ms = s->_internal.timeout_ms >= 4u ? s->_internal.timeout_ms / 4u : 1u;
    for (;;) {
        size_t need = 0;
        size_t total = scan(s, &need);
        if (total > 0) {
            if (f[1] != s->_internal.seq) {
                /* A late reply to an earlier request. */
                s->stats.stale_replies++;
                memmove(f, f + total, s->_internal.len - total);
                s->_internal.len = (uint16_t)(s->_internal.len - total);
                continue;
            }
            s->_internal.len = 0; /* what follows this reply is not ours */
            if (f[2] != (uint8_t)(op | HK_SERIAL_I2C_REPLY) || f[3] < 1u) {
                s->stats.protocol_errors++;
                return HK_ERR_IO;
            }
            s->stats.replies++;
            *out_status = f[4];
            *out_len = (size_t)f[3] - 1u;
            return HK_OK;
        }
        /* The deadline holds whatever arrives: a line that never stops
         * sending garbage fails the request as surely as a silent one. */
        uint32_t now = line->now_ms(line->ctx);
        if ((uint32_t)(now - start) >= s->_internal.timeout_ms) {
            s->stats.timeouts++;
            s->_internal.len = 0;
            return HK_ERR_IO;
        }
        if (s->_internal.len > 0 && (uint32_t)(now - last_byte) >= gap_ms) {
            /* A candidate whose bytes stopped coming: a SYNC in garbage
             * announced more than will ever arrive. Look behind it. */
            s->stats.bad_frames++;
            (void)drop_candidate(s);
            last_byte = now;
            continue;
        }
        size_t got = 0;
        if (line->read(line->ctx, f + s->_internal.len, need, &got) != HK_OK || got > need) {
            s->stats.line_errors++;
            s->_internal.len = 0;
            return HK_ERR_IO;
        }
        if (got > 0) {
            s->_internal.len = (uint16_t)(s->_internal.len + got);
            last_byte = now;
        }
    }
}

/* One request (payload at frame + 4) and its reply, the status mapped to a
 * result. A reply with data is accepted only with ACK and exactly
 * data_len bytes after the status; every other status carries none. */
static hk_result transact(hk_serial_i2c *s, uint8_t op, size_t plen, size_t data_len)
{
    HK_TRY(send_request(s, op, plen));
    uint8_t status = 0;
    size_t len = 0;
    HK_TRY(await_reply(s, op, &status, &len));
    switch (status) {
    case HK_SERIAL_I2C_STATUS_ACK:
        if (len != data_len)
            break;
        return HK_OK;
    case HK_SERIAL_I2C_STATUS_NACK:
        if (len != 0)
            break;
        return HK_ERR_SE_NO_RESPONSE;
    case HK_SERIAL_I2C_STATUS_BUS_ERROR:
    case HK_SERIAL_I2C_STATUS_BAD_REQUEST:
        if (len != 0)
            break;
        return HK_ERR_IO;
    default:
        break;
    }
    s->stats.protocol_errors++;
    return HK_ERR_IO;
}

static hk_result serial_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    hk_serial_i2c *s = ctx;
    HK_REQUIRE(s != NULL && (buf != NULL || len == 0));
    if (len > HK_SERIAL_I2C_MAX_DATA)
        return HK_ERR_INVALID_ARG;
    s->_internal.frame[4] = addr7;
    if (len > 0)
        memcpy(s->_internal.frame + 5, buf, len);
    return transact(s, HK_SERIAL_I2C_OP_WRITE, 1 + len, 0);
}

static hk_result serial_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    hk_serial_i2c *s = ctx;
    HK_REQUIRE(s != NULL && (buf != NULL || len == 0));
    if (len > HK_SERIAL_I2C_MAX_DATA)
        return HK_ERR_INVALID_ARG;
    s->_internal.frame[4] = addr7;
    s->_internal.frame[5] = (uint8_t)len;
    hk_result r = transact(s, HK_SERIAL_I2C_OP_READ, 2, len);
    if (r == HK_OK && len > 0)
        memcpy(buf, s->_internal.frame + 5, len);
    return r;
}

static hk_result serial_wake(void *ctx)
{
    hk_serial_i2c *s = ctx;
    HK_REQUIRE(s != NULL);
    hk_result r = transact(s, HK_SERIAL_I2C_OP_WAKE, 0, 0);
    /* Nobody acknowledges the wake pulse on a real bus (hubkey/i2c.h). */
    return r == HK_ERR_SE_NO_RESPONSE ? HK_OK : r;
}

static void serial_delay_us(void *ctx, uint32_t us)
{
    hk_serial_i2c *s = ctx;
    if (s == NULL)
        return;
    uint8_t *p = s->_internal.frame + 4;
    p[0] = (uint8_t)(us >> 24);
    p[1] = (uint8_t)(us >> 16);
    p[2] = (uint8_t)(us >> 8);
    p[3] = (uint8_t)us;
    if (transact(s, HK_SERIAL_I2C_OP_DELAY, 4, 0) != HK_OK)
        s->stats.delay_failures++;
}

hk_result hk_serial_i2c_hello(hk_serial_i2c *s, uint8_t *out_version)
{
    HK_REQUIRE(s != NULL);
    s->_internal.frame[4] = HK_SERIAL_I2C_VERSION;
    HK_TRY(transact(s, HK_SERIAL_I2C_OP_HELLO, 1, 2));
    /* ACK, version, the bridge's maximum payload */
    uint8_t version = s->_internal.frame[5];
    uint8_t max_payload = s->_internal.frame[6];
    if (out_version != NULL)
        *out_version = version;
    if (version != HK_SERIAL_I2C_VERSION)
        return HK_ERR_UNSUPPORTED;
    if (max_payload < HK_SERIAL_I2C_MAX_PAYLOAD) {
        s->stats.protocol_errors++;
        return HK_ERR_IO;
    }
    return HK_OK;
}

hk_result hk_serial_i2c_init(hk_serial_i2c *s, const hk_serial_line *line,
                             uint32_t reply_timeout_ms, hk_i2c *out_i2c)
{
    HK_REQUIRE(s != NULL && line != NULL && out_i2c != NULL);
    HK_REQUIRE(line->write != NULL && line->read != NULL && line->now_ms != NULL);
    HK_REQUIRE(reply_timeout_ms > 0);
    memset(s, 0, sizeof *s);
    s->_internal.line = *line;
    s->_internal.timeout_ms = reply_timeout_ms;
    out_i2c->ctx = s;
    out_i2c->write = serial_write;
    out_i2c->read = serial_read;
    out_i2c->wake = serial_wake;
    out_i2c->delay_us = serial_delay_us;
    return HK_OK;
}
