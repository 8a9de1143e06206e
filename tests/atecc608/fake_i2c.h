/*
 * A scripted fake hk_i2c for the ATECC608A transaction tests.
 *
 * The test lists the exact bus operations it expects, in order: wake pulses,
 * writes (with the bytes that must be written) and reads (with the bytes to
 * return, or a NACK). Each step may repeat. Any operation that differs from
 * the script (kind, length, bytes) or runs past its end is counted in
 * `mismatches` and printed; the test then checks mismatches == 0 and that
 * every step was used. delay_us adds to a model clock and is not scripted.
 */
#ifndef HK_TEST_FAKE_I2C_H
#define HK_TEST_FAKE_I2C_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hubkey/i2c.h"

#define FAKE_MAX_STEPS 1024
#define FAKE_MAX_BYTES 160

typedef enum { FAKE_WAKE, FAKE_WRITE, FAKE_READ } fake_op;

typedef struct fake_step {
    fake_op op;
    hk_result result;
    uint8_t bytes[FAKE_MAX_BYTES];
    size_t len;      /* WRITE: expected length; READ: length requested and returned */
    int any_bytes;   /* WRITE: do not compare the bytes */
    unsigned repeat; /* how many times this step happens */
} fake_step;

typedef struct fake_i2c {
    fake_step steps[FAKE_MAX_STEPS];
    size_t n, pos;
    unsigned used; /* repetitions of steps[pos] already used */
    uint64_t now_us;
    unsigned mismatches;
    unsigned ops;
    uint8_t addr7;
} fake_i2c;

static inline fake_step *fake_add(fake_i2c *f, fake_op op, const char *hex, hk_result r,
                                  unsigned repeat)
{
    if (f->n >= FAKE_MAX_STEPS) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: script too long\n");
        return &f->steps[FAKE_MAX_STEPS - 1];
    }
    fake_step *s = &f->steps[f->n++];
    memset(s, 0, sizeof *s);
    s->op = op;
    s->result = r;
    s->repeat = repeat;
    if (hex == NULL) {
        s->any_bytes = 1;
    } else {
        for (; hex[0] && hex[1] && s->len < FAKE_MAX_BYTES; hex += 2) {
            if (hex[0] == ' ') {
                hex--;
                continue;
            }
            unsigned v;
            sscanf(hex, "%2x", &v);
            s->bytes[s->len++] = (uint8_t)v;
        }
    }
    return s;
}

/* Convenience steps. */
static inline void fake_wake(fake_i2c *f) { fake_add(f, FAKE_WAKE, "", HK_OK, 1); }
static inline void fake_write(fake_i2c *f, const char *hex) { fake_add(f, FAKE_WRITE, hex, HK_OK, 1); }
static inline void fake_write_nack(fake_i2c *f, const char *hex, unsigned n)
{
    fake_add(f, FAKE_WRITE, hex, HK_ERR_SE_NO_RESPONSE, n);
}
static inline void fake_read(fake_i2c *f, const char *hex) { fake_add(f, FAKE_READ, hex, HK_OK, 1); }
static inline void fake_read_nack(fake_i2c *f, size_t len, unsigned n)
{
    fake_step *s = fake_add(f, FAKE_READ, "", HK_ERR_SE_NO_RESPONSE, n);
    s->len = len;
}
/* Wake pulse answered with 04 11 33 43. */
static inline void fake_wake_ok(fake_i2c *f)
{
    fake_wake(f);
    fake_read(f, "04113343");
}
/* One poll that returns a whole group given as hex: 00 reset, count, rest. */
static inline void fake_response(fake_i2c *f, const char *hex)
{
    fake_write(f, "00");
    char first[3] = {hex[0], hex[1], 0};
    fake_read(f, first);
    fake_read(f, hex + 2);
}
/* n polls NACKed at the count read. */
static inline void fake_busy(fake_i2c *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        fake_write(f, "00");
        fake_read_nack(f, 1, 1);
    }
}

static inline fake_step *fake_next_(fake_i2c *f, fake_op op, const char *what)
{
    f->ops++;
    if (f->pos >= f->n) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: op %u (%s) past the end of the script\n", f->ops, what);
        return NULL;
    }
    fake_step *s = &f->steps[f->pos];
    if (s->op != op) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: op %u is %s, script step %zu expects op kind %d\n", f->ops,
                what, f->pos, (int)s->op);
    }
    if (++f->used >= s->repeat) {
        f->pos++;
        f->used = 0;
    }
    return s;
}

static inline hk_result fake_i2c_write_(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    fake_i2c *f = (fake_i2c *)ctx;
    fake_step *s = fake_next_(f, FAKE_WRITE, "write");
    if (s == NULL)
        return HK_ERR_IO;
    if (addr7 != f->addr7) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: write to address 0x%02x\n", addr7);
    }
    if (!s->any_bytes && (len != s->len || memcmp(buf, s->bytes, len) != 0)) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: op %u write differs: got ", f->ops);
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, "%02x", buf[i]);
        fprintf(stderr, " expected ");
        for (size_t i = 0; i < s->len; i++)
            fprintf(stderr, "%02x", s->bytes[i]);
        fprintf(stderr, "\n");
    }
    return s->result;
}

static inline hk_result fake_i2c_read_(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    fake_i2c *f = (fake_i2c *)ctx;
    fake_step *s = fake_next_(f, FAKE_READ, "read");
    if (s == NULL)
        return HK_ERR_IO;
    if (addr7 != f->addr7) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: read from address 0x%02x\n", addr7);
    }
    if (len != s->len) {
        f->mismatches++;
        fprintf(stderr, "fake_i2c: op %u read of %zu bytes, script has %zu\n", f->ops, len, s->len);
        return HK_ERR_IO;
    }
    if (s->result == HK_OK)
        memcpy(buf, s->bytes, len);
    return s->result;
}

static inline hk_result fake_i2c_wake_(void *ctx)
{
    fake_i2c *f = (fake_i2c *)ctx;
    fake_step *s = fake_next_(f, FAKE_WAKE, "wake");
    return s == NULL ? HK_ERR_IO : s->result;
}

static inline void fake_i2c_delay_(void *ctx, uint32_t us)
{
    ((fake_i2c *)ctx)->now_us += us;
}

static inline void fake_init(fake_i2c *f, hk_i2c *out)
{
    memset(f, 0, sizeof *f);
    f->addr7 = 0x60;
    out->ctx = f;
    out->write = fake_i2c_write_;
    out->read = fake_i2c_read_;
    out->wake = fake_i2c_wake_;
    out->delay_us = fake_i2c_delay_;
}

/* True when the whole script ran and nothing differed. */
static inline int fake_done(const fake_i2c *f)
{
    if (f->pos != f->n)
        fprintf(stderr, "fake_i2c: script stopped at step %zu of %zu\n", f->pos, f->n);
    return f->mismatches == 0 && f->pos == f->n;
}

#endif /* HK_TEST_FAKE_I2C_H */
