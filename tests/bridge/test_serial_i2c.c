/*
 * Unit tests of both ends of the chip bridge framing (docs/chip-bridge.md):
 *  - known answers: the CRC, the request frames the port writes and the
 *    reply frames the bridge writes, byte for byte as the document shows;
 *  - the port against scripted replies: every status, every way a reply
 *    can be wrong (garbage, bad CRC, LEN over the maximum, stale sequence,
 *    wrong opcode or shape, truncated, missing), line errors, delay_us
 *    without a reply, argument checks; the clock is injected, nothing sleeps;
 *  - the bridge against scripted bytes and a fake chip: chunking, garbage,
 *    bad frames, bad requests, reply-bit frames, send errors, reset, idle.
 */
#include <stdio.h>
#include <string.h>

#include "bridge_line.h"
#include "hk_test.h"

/* ---- a fake chip behind the bridge ---------------------------------------- */

typedef struct fake_chip {
    hk_result write_result, read_result, wake_result;
    unsigned writes, reads, wakes, delays;
    uint8_t last_addr;
    uint8_t last_write[256];
    size_t last_write_len, last_read_len;
    uint64_t delay_total;
} fake_chip;

static hk_result fc_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    fake_chip *c = ctx;
    c->writes++;
    c->last_addr = addr7;
    c->last_write_len = len;
    if (len > 0)
        memcpy(c->last_write, buf, len);
    return c->write_result;
}

static hk_result fc_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    fake_chip *c = ctx;
    c->reads++;
    c->last_addr = addr7;
    c->last_read_len = len;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(0x10 + i);
    return c->read_result;
}

static hk_result fc_wake(void *ctx)
{
    fake_chip *c = ctx;
    c->wakes++;
    return c->wake_result;
}

static void fc_delay(void *ctx, uint32_t us)
{
    fake_chip *c = ctx;
    c->delays++;
    c->delay_total += us;
}

static hk_i2c fc_i2c(fake_chip *c)
{
    memset(c, 0, sizeof *c);
    hk_i2c i2c = {c, fc_write, fc_read, fc_wake, fc_delay};
    return i2c;
}

/* Collects what the bridge sends. */
typedef struct sink {
    uint8_t buf[4096];
    size_t len;
    unsigned sends;
    hk_result result;
} sink;

static hk_result sink_send(void *ctx, const uint8_t *buf, size_t len)
{
    sink *s = ctx;
    s->sends++;
    if (s->result != HK_OK)
        return s->result;
    if (len <= sizeof s->buf - s->len) {
        memcpy(s->buf + s->len, buf, len);
        s->len += len;
    }
    return HK_OK;
}

#define CHECK_BYTES(p, len, ...) \
    HK_CHECK_MEM(p, len, ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__}))
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* ---- known answers ---------------------------------------------------------- */

static void test_crc_known_answers(void)
{
    const uint8_t check[] = "123456789";
    HK_CHECK_EQ(hk_serial_i2c_crc16(check, 9), 0x29B1);
    HK_CHECK_EQ(hk_chip_bridge_crc16(check, 9), 0x29B1);
    HK_CHECK_EQ(line_crc(check, 9), 0x29B1);
    HK_CHECK_EQ(hk_serial_i2c_crc16(NULL, 0), 0xFFFF);
    HK_CHECK_EQ(hk_chip_bridge_crc16(NULL, 0), 0xFFFF);
    /* Every byte value, both routines agree with the table. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 0; n <= 256; n += 7) {
        HK_CHECK_EQ(hk_serial_i2c_crc16(all, n), line_crc(all, n));
        HK_CHECK_EQ(hk_chip_bridge_crc16(all, n), line_crc(all, n));
    }
}

/* The port's request frames, as docs/chip-bridge.md lists them (replies
 * queued from the document too). */
static void test_port_request_frames(void)
{
    fake_line l;
    hk_serial_line line;
    line_init(&l, NULL, &line);
    hk_serial_i2c s;
    hk_i2c i2c;
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &line, 100, &i2c), HK_OK);

    line_queue(&l, BYTES(0xA5, 0x01, 0x81, 0x03, 0x00, 0x01, 0xC0, 0xB2, 0x90));
    uint8_t version = 0;
    HK_CHECK_RESULT(hk_serial_i2c_hello(&s, &version), HK_OK);
    HK_CHECK_EQ(version, 1);
    CHECK_BYTES(l.to_bridge, l.to_bridge_len, 0xA5, 0x01, 0x01, 0x01, 0x01, 0xE6, 0x54);
    l.to_bridge_len = 0;

    line_queue(&l, BYTES(0xA5, 0x02, 0x82, 0x01, 0x00, 0x0F, 0xA3));
    HK_CHECK_RESULT(i2c.wake(i2c.ctx), HK_OK);
    CHECK_BYTES(l.to_bridge, l.to_bridge_len, 0xA5, 0x02, 0x02, 0x00, 0xC4, 0x9E);
    l.to_bridge_len = 0;

    line_queue(&l, BYTES(0xA5, 0x03, 0x85, 0x01, 0x00, 0xFC, 0x87));
    i2c.delay_us(i2c.ctx, 1500);
    CHECK_BYTES(l.to_bridge, l.to_bridge_len,
                 0xA5, 0x03, 0x05, 0x04, 0x00, 0x00, 0x05, 0xDC, 0x16, 0x4F);
    HK_CHECK_EQ(s.stats.delay_failures, 0);
    l.to_bridge_len = 0;

    line_queue(&l, BYTES(0xA5, 0x04, 0x84, 0x05, 0x00, 0x04, 0x11, 0x33, 0x43, 0x81, 0xAE));
    uint8_t rsp[4 + 1];
    memset(rsp, HK_GUARD_BYTE, sizeof rsp);
    HK_CHECK_RESULT(i2c.read(i2c.ctx, 0x60, rsp, 4), HK_OK);
    CHECK_BYTES(rsp, 4, 0x04, 0x11, 0x33, 0x43);
    HK_CHECK_EQ(rsp[4], HK_GUARD_BYTE);
    CHECK_BYTES(l.to_bridge, l.to_bridge_len, 0xA5, 0x04, 0x04, 0x02, 0x60, 0x04, 0x77, 0x35);
    l.to_bridge_len = 0;

    line_queue(&l, BYTES(0xA5, 0x05, 0x83, 0x01, 0x00, 0x69, 0xBE));
    const uint8_t info[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    HK_CHECK_RESULT(i2c.write(i2c.ctx, 0x60, info, sizeof info), HK_OK);
    CHECK_BYTES(l.to_bridge, l.to_bridge_len,
                 0xA5, 0x05, 0x03, 0x09, 0x60, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03,
                       0x5D, 0x0F, 0x3F);
    HK_CHECK_EQ(s.stats.requests, 5);
    HK_CHECK_EQ(s.stats.replies, 5);
    HK_CHECK_EQ(s.stats.garbage_bytes + s.stats.bad_frames + s.stats.timeouts, 0);
}

/* The bridge's replies to the same requests, byte for byte. */
static void test_bridge_reply_frames(void)
{
    fake_chip c;
    hk_i2c chip = fc_i2c(&c);
    sink out = {0};
    hk_chip_bridge b;
    HK_CHECK_RESULT(hk_chip_bridge_init(&b, &chip, sink_send, &out), HK_OK);

    HK_CHECK_RESULT(hk_chip_bridge_input(&b, BYTES(0xA5, 0x01, 0x01, 0x01, 0x01, 0xE6, 0x54)),
                    HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x01, 0x81, 0x03, 0x00, 0x01, 0xC0, 0xB2, 0x90);
    out.len = 0;
    HK_CHECK_RESULT(hk_chip_bridge_input(&b, BYTES(0xA5, 0x02, 0x02, 0x00, 0xC4, 0x9E)), HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x02, 0x82, 0x01, 0x00, 0x0F, 0xA3);
    HK_CHECK_EQ(c.wakes, 1);
    out.len = 0;
    HK_CHECK_RESULT(hk_chip_bridge_input(
                        &b, BYTES(0xA5, 0x03, 0x05, 0x04, 0x00, 0x00, 0x05, 0xDC, 0x16, 0x4F)),
                    HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x03, 0x85, 0x01, 0x00, 0xFC, 0x87);
    HK_CHECK_EQ(c.delay_total, 1500);
    HK_CHECK_EQ(b.stats.delay_us, 1500);
    out.len = 0;
    HK_CHECK_RESULT(
        hk_chip_bridge_input(&b, BYTES(0xA5, 0x05, 0x03, 0x09, 0x60, 0x03, 0x07, 0x30, 0x00, 0x00,
                                       0x00, 0x03, 0x5D, 0x0F, 0x3F)),
        HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x05, 0x83, 0x01, 0x00, 0x69, 0xBE);
    HK_CHECK_EQ(c.last_addr, 0x60);
    CHECK_BYTES(c.last_write, c.last_write_len,
                 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D);
    out.len = 0;
    /* NACK and bus error carry no data. */
    c.read_result = HK_ERR_SE_NO_RESPONSE;
    HK_CHECK_RESULT(hk_chip_bridge_input(&b, BYTES(0xA5, 0x06, 0x04, 0x02, 0x60, 0x04, 0x33, 0xB6)),
                    HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x06, 0x84, 0x01, 0x01, 0x67, 0xD3);
    out.len = 0;
    c.write_result = HK_ERR_IO;
    uint8_t f[32];
    size_t n = line_frame(f, 0x07, 0x03, BYTES(0x60, 0x01));
    HK_CHECK_RESULT(hk_chip_bridge_input(&b, f, n), HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x07, 0x83, 0x01, 0x02, 0xA4, 0x94);
    out.len = 0;
    /* An opcode nobody knows: BAD_REQUEST under opcode | 0x80. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&b, BYTES(0xA5, 0x08, 0x06, 0x00, 0xCF, 0x9B)), HK_OK);
    CHECK_BYTES(out.buf, out.len, 0xA5, 0x08, 0x86, 0x01, 0x03, 0x8B, 0xAB);
    HK_CHECK_EQ(b.stats.frames, 7);
    HK_CHECK_EQ(b.stats.nacks, 1);
    HK_CHECK_EQ(b.stats.bus_errors, 1);
    HK_CHECK_EQ(b.stats.bad_requests, 1);
    HK_CHECK_EQ(b.stats.by_op[0], 1);
    HK_CHECK_EQ(b.stats.by_op[3], 2);
}

/* ---- the port against scripted replies ------------------------------------ */

typedef struct port_rig {
    fake_line l;
    hk_serial_line line;
    hk_serial_i2c s;
    hk_i2c i2c;
} port_rig;

static void rig_init(port_rig *r, uint32_t timeout_ms)
{
    line_init(&r->l, NULL, &r->line);
    HK_CHECK_RESULT(hk_serial_i2c_init(&r->s, &r->line, timeout_ms, &r->i2c), HK_OK);
}

/* Queues a reply to the request the port will send next (its seq is the
 * last one + 1). */
static void reply_next(port_rig *r, uint8_t seq_delta, uint8_t op, const uint8_t *p, size_t n)
{
    uint8_t f[300];
    size_t len = line_frame(f, (uint8_t)(r->s._internal.seq + seq_delta), op, p, n);
    line_queue(&r->l, f, len);
}

static void test_port_statuses(void)
{
    port_rig r;
    rig_init(&r, 50);
    uint8_t buf[8];
    reply_next(&r, 1, 0x84, BYTES(0x01)); /* NACK */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_SE_NO_RESPONSE);
    reply_next(&r, 1, 0x83, BYTES(0x01));
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_SE_NO_RESPONSE);
    reply_next(&r, 1, 0x83, BYTES(0x02)); /* bus error */
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x03)); /* bad request */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    /* A wake answered NACK is a pulse nobody acknowledged: fine. */
    reply_next(&r, 1, 0x82, BYTES(0x01));
    HK_CHECK_RESULT(r.i2c.wake(r.i2c.ctx), HK_OK);
    reply_next(&r, 1, 0x82, BYTES(0x02));
    HK_CHECK_RESULT(r.i2c.wake(r.i2c.ctx), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.protocol_errors, 0);
    /* A zero-byte write (an address probe) and a zero-byte read. */
    reply_next(&r, 1, 0x83, BYTES(0x00));
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, NULL, 0), HK_OK);
    const uint8_t *probe = r.l.to_bridge + r.l.to_bridge_len - 7;
    CHECK_BYTES(probe, 5, 0xA5, r.s._internal.seq, 0x03, 0x01, 0x60);
    reply_next(&r, 1, 0x84, BYTES(0x00));
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, NULL, 0), HK_OK);
    HK_CHECK_EQ(r.s.stats.timeouts, 0);
}

/* Replies to this request of the wrong form: HK_ERR_IO, counted. */
static void test_port_wrong_replies(void)
{
    port_rig r;
    rig_init(&r, 50);
    uint8_t buf[8];
    memset(buf, HK_GUARD_BYTE, sizeof buf);
    reply_next(&r, 1, 0x83, BYTES(0x00)); /* a WRITE reply to a READ */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x04, BYTES(0x00)); /* the request itself echoed */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x84, NULL, 0); /* no status */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x00, 1, 2, 3)); /* ACK, 3 bytes for 4 asked */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x00, 1, 2, 3, 4, 5)); /* 5 bytes for 4 */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x01, 0x00)); /* NACK with data */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x02, 0x00)); /* bus error with data */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    reply_next(&r, 1, 0x83, BYTES(0x00, 0x00)); /* WRITE ACK with data */
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_IO);
    reply_next(&r, 1, 0x84, BYTES(0x04)); /* an unknown status */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.protocol_errors, 9);
    HK_CHECK_EQ(buf[0], HK_GUARD_BYTE); /* nothing copied from a refused reply */
    HK_CHECK_EQ(r.s.stats.timeouts, 0);
    HK_CHECK_EQ(r.l.to_port_len, 0);
}

/* Garbage, bad CRC and LEN over the maximum before the reply: skipped, the
 * reply is found. */
static void test_port_resync(void)
{
    port_rig r;
    rig_init(&r, 50);
    uint8_t buf[4];
    line_queue(&r.l, BYTES(0x00, 0x11, 0xFF, 0x5A)); /* plain garbage */
    reply_next(&r, 1, 0x84, BYTES(0x00, 9, 8, 7, 6));
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_OK);
    CHECK_BYTES(buf, 4, 9, 8, 7, 6);
    HK_CHECK_EQ(r.s.stats.garbage_bytes, 4);

    /* A good frame with a bad CRC, then the reply. */
    uint8_t f[64];
    size_t n = line_frame(f, (uint8_t)(r.s._internal.seq + 1), 0x84, BYTES(0x00, 1, 2, 3, 5));
    f[n - 2] ^= 0x80; /* no SYNC in this frame's bytes, before or after */
    line_queue(&r.l, f, n);
    reply_next(&r, 1, 0x84, BYTES(0x00, 5, 6, 7, 8));
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_OK);
    CHECK_BYTES(buf, 4, 5, 6, 7, 8);
    HK_CHECK_EQ(r.s.stats.bad_frames, 1);

    /* LEN over the maximum (193): dropped at the header. */
    line_queue(&r.l, BYTES(0xA5, 0x00, 0x84, 0xC1));
    reply_next(&r, 1, 0x83, BYTES(0x00));
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_OK);
    HK_CHECK_EQ(r.s.stats.bad_frames, 2);

    /* A SYNC in garbage whose LEN swallows the reply: the candidate fails
     * its CRC once complete and the reply inside it is found. */
    line_queue(&r.l, BYTES(0xA5, 0x33, 0x84, 0x08, 0x01));
    reply_next(&r, 1, 0x84, BYTES(0x00, 1, 1, 1, 1));
    line_queue(&r.l, BYTES(0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00));
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_OK);
    CHECK_BYTES(buf, 4, 1, 1, 1, 1);
    HK_CHECK_EQ(r.s.stats.bad_frames, 3);
    HK_CHECK_EQ(r.s.stats.timeouts, 0);

    /* One announcing more than will ever come: after a quiet quarter of the
     * timeout the bytes behind it are looked at. */
    r.l.to_port_len = 0;
    line_queue(&r.l, BYTES(0xA5, 0x33, 0x84, 0x80, 0x01));
    reply_next(&r, 1, 0x84, BYTES(0x00, 2, 2, 2, 2));
    uint32_t t0 = r.l.now_ms;
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_OK);
    CHECK_BYTES(buf, 4, 2, 2, 2, 2);
    HK_CHECK_EQ(r.l.now_ms - t0, 12); /* 50 / 4 */
    HK_CHECK_EQ(r.s.stats.bad_frames, 4);
    HK_CHECK_EQ(r.s.stats.timeouts, 0);
    HK_CHECK_EQ(r.s.stats.protocol_errors, 0);
}

/* Late replies to earlier requests are dropped; a reply never comes: timeout
 * measured on the injected clock, across its wrap. */
static void test_port_stale_and_timeout(void)
{
    port_rig r;
    rig_init(&r, 20);
    uint8_t buf[4];
    reply_next(&r, 0, 0x84, BYTES(0x00, 1, 2, 3, 4));   /* the previous seq */
    reply_next(&r, 255, 0x84, BYTES(0x00, 1, 2, 3, 4)); /* and the one before */
    reply_next(&r, 1, 0x84, BYTES(0x00, 4, 3, 2, 1));
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_OK);
    CHECK_BYTES(buf, 4, 4, 3, 2, 1);
    HK_CHECK_EQ(r.s.stats.stale_replies, 2);

    /* Only a stale reply comes: timeout. */
    reply_next(&r, 0, 0x84, BYTES(0x00, 1, 2, 3, 4));
    uint32_t t0 = r.l.now_ms;
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.timeouts, 1);
    HK_CHECK_EQ(r.l.now_ms - t0, 20);
    HK_CHECK_EQ(r.s.stats.stale_replies, 3);

    /* Nothing at all (the clock wraps past 2^32 meanwhile). */
    r.l.now_ms = 0xFFFFFFF0u;
    t0 = r.l.now_ms;
    unsigned reads = r.l.reads;
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.timeouts, 2);
    HK_CHECK_EQ((uint32_t)(r.l.now_ms - t0), 20);
    HK_CHECK(r.l.reads - reads <= 21);

    /* A truncated reply: the rest never comes. */
    uint8_t f[32];
    size_t n = line_frame(f, (uint8_t)(r.s._internal.seq + 1), 0x84, BYTES(0x00, 1, 2, 3, 4));
    line_queue(&r.l, f, n - 3);
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.timeouts, 3);

    /* The late reply to that request arrives during the next one. */
    line_queue(&r.l, f, n);
    reply_next(&r, 1, 0x83, BYTES(0x00));
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_OK);
    HK_CHECK_EQ(r.s.stats.stale_replies, 4);
    HK_CHECK_EQ(r.s.stats.protocol_errors, 0);
}

/* delay_us has no error path: it returns after the timeout and counts. */
static void test_port_delay_without_reply(void)
{
    port_rig r;
    rig_init(&r, 30);
    uint32_t t0 = r.l.now_ms;
    r.i2c.delay_us(r.i2c.ctx, 2000000u);
    HK_CHECK_EQ(r.s.stats.delay_failures, 1);
    HK_CHECK_EQ(r.l.now_ms - t0, 30);
    CHECK_BYTES(r.l.to_bridge + 4, 4, 0x00, 0x1E, 0x84, 0x80);
    /* NACK to a delay: also a failure (the bridge always ACKs). */
    reply_next(&r, 1, 0x85, BYTES(0x01));
    r.i2c.delay_us(r.i2c.ctx, 1);
    HK_CHECK_EQ(r.s.stats.delay_failures, 2);
    reply_next(&r, 1, 0x85, BYTES(0x00));
    r.i2c.delay_us(r.i2c.ctx, 1);
    HK_CHECK_EQ(r.s.stats.delay_failures, 2);
    r.l.fail_write = true;
    unsigned reads = r.l.reads;
    r.i2c.delay_us(r.i2c.ctx, 1);
    HK_CHECK_EQ(r.s.stats.delay_failures, 3);
    HK_CHECK_EQ(r.l.reads, reads); /* no wait after a failed write */
    r.i2c.delay_us(NULL, 1);       /* no context: nothing, no crash */
}

/* A line that never stops sending noise: the request still ends at its
 * deadline. */
static void test_port_babbling_line(void)
{
    port_rig r;
    rig_init(&r, 300);
    r.l.babble = true;
    uint8_t buf[4];
    uint32_t t0 = r.l.now_ms;
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    HK_CHECK_EQ(r.l.now_ms - t0, 300);
    HK_CHECK_EQ(r.s.stats.timeouts, 1);
    HK_CHECK(r.s.stats.garbage_bytes > 0);
    HK_CHECK(r.s.stats.bad_frames > 0);
    HK_CHECK_EQ(r.l.empty_reads, 0);
    r.i2c.delay_us(r.i2c.ctx, 10);
    HK_CHECK_EQ(r.s.stats.delay_failures, 1);
    HK_CHECK_EQ(r.l.now_ms - t0, 600);
}

static void test_port_line_errors(void)
{
    port_rig r;
    rig_init(&r, 30);
    uint8_t buf[4];
    r.l.fail_write = true;
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_IO);
    HK_CHECK_RESULT(r.i2c.wake(r.i2c.ctx), HK_ERR_IO);
    HK_CHECK_EQ(r.s.stats.line_errors, 2);
    HK_CHECK_EQ(r.l.reads, 0);
    r.l.fail_write = false;
    r.l.fail_read = true;
    uint32_t t0 = r.l.now_ms;
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, buf, 4), HK_ERR_IO);
    HK_CHECK_EQ(r.l.now_ms, t0); /* at once, no timeout */
    HK_CHECK_EQ(r.s.stats.line_errors, 3);
    HK_CHECK_EQ(r.s.stats.timeouts, 0);
}

static void test_port_hello_and_args(void)
{
    port_rig r;
    rig_init(&r, 30);
    uint8_t v = 0;
    reply_next(&r, 1, 0x81, BYTES(0x00, 0x02, 0xC0));
    HK_CHECK_RESULT(hk_serial_i2c_hello(&r.s, &v), HK_ERR_UNSUPPORTED);
    HK_CHECK_EQ(v, 2);
    reply_next(&r, 1, 0x81, BYTES(0x00, 0x01, 0x40)); /* a bridge with a smaller maximum */
    HK_CHECK_RESULT(hk_serial_i2c_hello(&r.s, NULL), HK_ERR_IO);
    reply_next(&r, 1, 0x81, BYTES(0x00, 0x01)); /* short */
    HK_CHECK_RESULT(hk_serial_i2c_hello(&r.s, NULL), HK_ERR_IO);
    HK_CHECK_RESULT(hk_serial_i2c_hello(&r.s, NULL), HK_ERR_IO); /* no bridge */

    uint8_t big[HK_SERIAL_I2C_MAX_DATA + 1];
    memset(big, 0, sizeof big);
    unsigned writes = r.l.writes;
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, big, sizeof big), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, big, sizeof big), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(r.l.writes, writes);
    /* The largest write and read fit one frame. */
    uint8_t data[HK_SERIAL_I2C_MAX_DATA + 1];
    uint8_t p[HK_SERIAL_I2C_MAX_PAYLOAD];
    p[0] = 0x00;
    for (size_t i = 1; i < sizeof p; i++)
        p[i] = (uint8_t)i;
    reply_next(&r, 1, 0x84, p, sizeof p);
    data[HK_SERIAL_I2C_MAX_DATA] = HK_GUARD_BYTE;
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, data, HK_SERIAL_I2C_MAX_DATA), HK_OK);
    HK_CHECK_MEM(data, HK_SERIAL_I2C_MAX_DATA, p + 1, sizeof p - 1);
    HK_CHECK_EQ(data[HK_SERIAL_I2C_MAX_DATA], HK_GUARD_BYTE);
    reply_next(&r, 1, 0x83, BYTES(0x00));
    r.l.to_bridge_len = 0;
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, data, HK_SERIAL_I2C_MAX_DATA), HK_OK);
    HK_CHECK_EQ(r.l.to_bridge_len, HK_SERIAL_I2C_FRAME_MAX);

    hk_serial_i2c s;
    hk_i2c i2c;
    hk_serial_line bad = r.line;
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &r.line, 0, &i2c), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_serial_i2c_init(NULL, &r.line, 10, &i2c), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, NULL, 10, &i2c), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &r.line, 10, NULL), HK_ERR_INVALID_ARG);
    bad.now_ms = NULL;
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &bad, 10, &i2c), HK_ERR_INVALID_ARG);
    bad = r.line;
    bad.read = NULL;
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &bad, 10, &i2c), HK_ERR_INVALID_ARG);
}

/* ---- the bridge against scripted bytes ------------------------------------ */

typedef struct bridge_rig {
    fake_chip c;
    sink out;
    hk_chip_bridge b;
    unsigned logged;
    hk_chip_bridge_event last;
} bridge_rig;

static void rig_log(void *ctx, const hk_chip_bridge_event *ev)
{
    bridge_rig *r = ctx;
    r->logged++;
    r->last = *ev;
}

static void brig_init(bridge_rig *r)
{
    memset(r, 0, sizeof *r);
    hk_i2c chip = fc_i2c(&r->c);
    HK_CHECK_RESULT(hk_chip_bridge_init(&r->b, &chip, sink_send, &r->out), HK_OK);
    hk_chip_bridge_set_log(&r->b, rig_log, r);
}

/* Requests in any chunking give the same replies. */
static void test_bridge_chunking(void)
{
    uint8_t in[512];
    size_t n = 0;
    n += line_frame(in + n, 1, 0x02, NULL, 0);
    n += line_frame(in + n, 2, 0x05, BYTES(0, 0, 0, 9));
    n += line_frame(in + n, 3, 0x04, BYTES(0x60, 3));
    n += line_frame(in + n, 4, 0x03, BYTES(0x60, 0x03, 0x07, 0x41));
    bridge_rig whole, bytewise;
    brig_init(&whole);
    HK_CHECK_RESULT(hk_chip_bridge_input(&whole.b, in, n), HK_OK);
    brig_init(&bytewise);
    for (size_t i = 0; i < n; i++)
        HK_CHECK_RESULT(hk_chip_bridge_input(&bytewise.b, in + i, 1), HK_OK);
    HK_CHECK_EQ(whole.b.stats.frames, 4);
    HK_CHECK_EQ(whole.out.sends, 4);
    HK_CHECK_MEM(bytewise.out.buf, bytewise.out.len, whole.out.buf, whole.out.len);
    uint8_t want[16];
    size_t wn = line_frame(want, 3, 0x84, BYTES(0x00, 0x10, 0x11, 0x12));
    HK_CHECK_MEM(whole.out.buf + 14, wn, want, wn);
    HK_CHECK_EQ(whole.logged, 4);
    HK_CHECK_EQ(whole.last.op, 3);
    HK_CHECK_EQ(whole.last.word, 0x03);
    HK_CHECK_EQ(whole.last.chip_opcode, 0x41);
    HK_CHECK_EQ(whole.last.len, 3);
    HK_CHECK(!hk_chip_bridge_pending(&whole.b));
    HK_CHECK_RESULT(hk_chip_bridge_input(&whole.b, NULL, 0), HK_OK);
}

static void test_bridge_bad_input(void)
{
    bridge_rig r;
    brig_init(&r);
    uint8_t f[64];
    /* Garbage, then a request. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, BYTES(0x00, 0x5A, 0xFF)), HK_OK);
    size_t n = line_frame(f, 9, 0x02, NULL, 0);
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.b.stats.garbage_bytes, 3);
    HK_CHECK_EQ(r.out.sends, 1);
    /* Bad CRC: no reply at all. */
    f[n - 1] ^= 1;
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.b.stats.bad_frames, 1);
    HK_CHECK_EQ(r.out.sends, 1);
    HK_CHECK_EQ(r.c.wakes, 1);
    /* LEN over the maximum, then a request right behind it. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, BYTES(0xA5, 0x01, 0x03, 0xC1)), HK_OK);
    HK_CHECK_EQ(r.b.stats.bad_frames, 2);
    n = line_frame(f, 10, 0x02, NULL, 0);
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.out.sends, 2);
    /* A SYNC whose LEN swallows the next request: once complete it fails
     * and the request inside is found. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, BYTES(0xA5, 0x01, 0x03, 0x08)), HK_OK);
    n = line_frame(f, 11, 0x02, NULL, 0);
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK(hk_chip_bridge_pending(&r.b));
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, BYTES(0, 0, 0, 0)), HK_OK);
    HK_CHECK_EQ(r.b.stats.garbage_bytes, 7); /* the zeros behind it */
    HK_CHECK_EQ(r.out.sends, 3);
    HK_CHECK_EQ(r.b.stats.bad_frames, 3);
    /* One that announces more than comes: the idle call looks behind it. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, BYTES(0xA5, 0x01, 0x03, 0x80)), HK_OK);
    n = line_frame(f, 12, 0x02, NULL, 0);
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.out.sends, 3);
    HK_CHECK_RESULT(hk_chip_bridge_line_idle(&r.b), HK_OK);
    HK_CHECK_EQ(r.out.sends, 4);
    HK_CHECK_EQ(r.last.seq, 12);
    HK_CHECK(!hk_chip_bridge_pending(&r.b));
    HK_CHECK_RESULT(hk_chip_bridge_line_idle(&r.b), HK_OK); /* nothing held: nothing */
    HK_CHECK_EQ(r.b.stats.bad_frames, 4);
    /* reset drops a partial frame. */
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n - 1), HK_OK);
    hk_chip_bridge_reset(&r.b);
    HK_CHECK(!hk_chip_bridge_pending(&r.b));
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f + n - 1, 1), HK_OK);
    HK_CHECK_EQ(r.out.sends, 4);
    HK_CHECK_EQ(r.b.stats.garbage_bytes, 8);
    /* A frame with the reply bit: never answered. */
    n = line_frame(f, 13, 0x82, BYTES(0x00));
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.b.stats.ignored, 1);
    HK_CHECK_EQ(r.out.sends, 4);
}

static void test_bridge_bad_requests(void)
{
    bridge_rig r;
    brig_init(&r);
    uint8_t f[300];
    static const struct {
        uint8_t op;
        uint8_t len;
        uint8_t p[4];
    } bad[] = {
        {0x01, 0, {0}},             /* HELLO without a version */
        {0x01, 2, {1, 1}},          /* HELLO with two */
        {0x02, 1, {0}},             /* WAKE with a payload */
        {0x03, 0, {0}},             /* WRITE without an address */
        {0x03, 2, {0x80, 0x03}},    /* WRITE to a 10-bit-looking address */
        {0x04, 1, {0x60}},          /* READ without a count */
        {0x04, 3, {0x60, 4, 0}},    /* READ with too much */
        {0x04, 2, {0x60, 192}},     /* READ of more than fits a reply */
        {0x04, 2, {0xE0, 4}},       /* READ at an impossible address */
        {0x05, 3, {0, 0, 1}},       /* DELAY short */
        {0x00, 0, {0}},             /* opcode 0 */
        {0x7F, 1, {0}},             /* unknown */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.out.len = 0;
        size_t n = line_frame(f, (uint8_t)i, bad[i].op, bad[i].p, bad[i].len);
        HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
        uint8_t want[8];
        size_t wn = line_frame(want, (uint8_t)i, (uint8_t)(bad[i].op | 0x80), BYTES(0x03));
        HK_CHECK_MEM(r.out.buf, r.out.len, want, wn);
    }
    HK_CHECK_EQ(r.b.stats.bad_requests, sizeof bad / sizeof bad[0]);
    HK_CHECK_EQ(r.c.writes + r.c.reads + r.c.wakes + r.c.delays, 0);
    /* The largest READ that fits: 191 bytes. */
    r.out.len = 0;
    size_t n = line_frame(f, 0x20, 0x04, BYTES(0x60, 191));
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, f, n), HK_OK);
    HK_CHECK_EQ(r.out.len, HK_CHIP_BRIDGE_FRAME_MAX);
    HK_CHECK_EQ(r.out.buf[3], 192);
}

static void test_bridge_send_error(void)
{
    bridge_rig r;
    brig_init(&r);
    uint8_t in[64];
    size_t n = line_frame(in, 1, 0x02, NULL, 0);
    n += line_frame(in + n, 2, 0x02, NULL, 0);
    r.out.result = HK_ERR_CLOSED;
    HK_CHECK_RESULT(hk_chip_bridge_input(&r.b, in, n), HK_ERR_CLOSED);
    HK_CHECK_EQ(r.c.wakes, 1); /* the second request is not run */
    HK_CHECK_EQ(r.out.sends, 1);
    hk_i2c chip = {0};
    HK_CHECK_RESULT(hk_chip_bridge_init(&r.b, &chip, sink_send, &r.out), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_chip_bridge_init(&r.b, NULL, sink_send, &r.out), HK_ERR_INVALID_ARG);
    HK_CHECK(strcmp(hk_chip_bridge_op_name(4), "READ") == 0);
    HK_CHECK(strcmp(hk_chip_bridge_op_name(0x44), "?") == 0);
}

/* ---- both ends through the in-process line with a fake chip --------------- */

static void test_port_and_bridge(void)
{
    fake_chip c;
    hk_i2c chip = fc_i2c(&c);
    fake_line l;
    hk_serial_line line;
    hk_chip_bridge b;
    line_init(&l, &b, &line);
    HK_CHECK_RESULT(hk_chip_bridge_init(&b, &chip, line_bridge_send, &l), HK_OK);
    hk_serial_i2c s;
    hk_i2c i2c;
    HK_CHECK_RESULT(hk_serial_i2c_init(&s, &line, 40, &i2c), HK_OK);
    uint8_t buf[8];
    HK_CHECK_RESULT(hk_serial_i2c_hello(&s, NULL), HK_OK);
    HK_CHECK_RESULT(i2c.read(i2c.ctx, 0x60, buf, 8), HK_OK);
    CHECK_BYTES(buf, 8, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17);
    c.read_result = HK_ERR_SE_NO_RESPONSE;
    HK_CHECK_RESULT(i2c.read(i2c.ctx, 0x60, buf, 8), HK_ERR_SE_NO_RESPONSE);
    c.read_result = HK_OK;

    static const line_mangle recovered[] = {MANGLE_GARBAGE_BEFORE, MANGLE_STALE_BEFORE};
    for (size_t i = 0; i < 2; i++) {
        l.mangle = recovered[i];
        l.mangle_count = 1;
        HK_CHECK_RESULT(i2c.read(i2c.ctx, 0x60, buf, 4), HK_OK);
        CHECK_BYTES(buf, 4, 0x10, 0x11, 0x12, 0x13);
    }
    HK_CHECK(s.stats.garbage_bytes > 0);
    HK_CHECK(s.stats.bad_frames > 0);
    HK_CHECK_EQ(s.stats.stale_replies, 1);
    HK_CHECK_EQ(s.stats.timeouts, 0);

    static const line_mangle lost[] = {MANGLE_BAD_CRC, MANGLE_WRONG_SEQ, MANGLE_TRUNCATE,
                                       MANGLE_DROP};
    for (size_t i = 0; i < 4; i++) {
        l.mangle = lost[i];
        l.mangle_count = 1;
        l.keep = 5;
        uint32_t timeouts = s.stats.timeouts;
        HK_CHECK_RESULT(i2c.write(i2c.ctx, 0x60, BYTES(0x02)), HK_ERR_IO);
        HK_CHECK_EQ(s.stats.timeouts, timeouts + 1);
        /* The next call works again. */
        HK_CHECK_RESULT(i2c.write(i2c.ctx, 0x60, BYTES(0x02)), HK_OK);
    }
    l.mangle = MANGLE_DROP;
    l.mangle_count = 1;
    i2c.delay_us(i2c.ctx, 77);
    HK_CHECK_EQ(s.stats.delay_failures, 1);
    HK_CHECK_EQ(c.delay_total, 77); /* the request arrived, the reply was lost */
    HK_CHECK_EQ(s.stats.protocol_errors, 0);
}

int main(void)
{
    HK_RUN(test_crc_known_answers);
    HK_RUN(test_port_request_frames);
    HK_RUN(test_bridge_reply_frames);
    HK_RUN(test_port_statuses);
    HK_RUN(test_port_wrong_replies);
    HK_RUN(test_port_resync);
    HK_RUN(test_port_stale_and_timeout);
    HK_RUN(test_port_delay_without_reply);
    HK_RUN(test_port_babbling_line);
    HK_RUN(test_port_line_errors);
    HK_RUN(test_port_hello_and_args);
    HK_RUN(test_bridge_chunking);
    HK_RUN(test_bridge_bad_input);
    HK_RUN(test_bridge_bad_requests);
    HK_RUN(test_bridge_send_error);
    HK_RUN(test_port_and_bridge);
    return hk_test_finish("serial_i2c");
}
