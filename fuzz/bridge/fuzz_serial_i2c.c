/*
 * libFuzzer harness for the device port's reply decoder.
 *
 * Input: what the line delivers to the device, in reads of 1..8 bytes (a
 * read may also find nothing, which moves the injected clock). A fixed
 * sequence of hk_i2c calls runs against it: HELLO, wake, delay, reads of
 * several sizes, writes. Checked: no crash, no access out of bounds (guard
 * bytes after every read buffer), only the documented results, and every
 * call ends (the clock moves on every empty read, the timeout bounds the
 * wait).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hk_serial_i2c.h"

typedef struct fuzz_line {
    const uint8_t *p;
    size_t n;
    uint32_t now;
    unsigned reads;
} fuzz_line;

static hk_result fl_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (len < 6 || len > HK_SERIAL_I2C_FRAME_MAX || buf[0] != HK_SERIAL_I2C_SYNC)
        abort();
    return HK_OK;
}

static hk_result fl_read(void *ctx, uint8_t *buf, size_t cap, size_t *out_len)
{
    fuzz_line *l = ctx;
    l->reads++;
    *out_len = 0;
    if (l->n == 0 || (l->reads % 5u) == 0) {
        l->now += 3;
        return HK_OK;
    }
    size_t k = 1u + (l->p[0] % 8u);
    if (k > cap)
        k = cap;
    if (k > l->n)
        k = l->n;
    memcpy(buf, l->p, k);
    l->p += k;
    l->n -= k;
    *out_len = k;
    return HK_OK;
}

static uint32_t fl_now(void *ctx)
{
    return ((fuzz_line *)ctx)->now;
}

static void check(hk_result r)
{
    if (r != HK_OK && r != HK_ERR_SE_NO_RESPONSE && r != HK_ERR_IO && r != HK_ERR_UNSUPPORTED)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_line l = {data, size, 0, 0};
    hk_serial_line line = {&l, fl_write, fl_read, fl_now};
    static hk_serial_i2c s;
    hk_i2c i2c;
    if (hk_serial_i2c_init(&s, &line, 40, &i2c) != HK_OK)
        abort();
    static const size_t sizes[] = {1, 4, 0, 35, 191, 7};
    uint8_t buf[HK_SERIAL_I2C_MAX_DATA + 8];
    check(hk_serial_i2c_hello(&s, NULL));
    check(i2c.wake(i2c.ctx));
    i2c.delay_us(i2c.ctx, 1500);
    for (unsigned round = 0; round < 4 && l.n > 0; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            memset(buf, 0xCC, sizeof buf);
            check(i2c.read(i2c.ctx, 0x60, buf, sizes[i]));
            for (size_t g = sizes[i]; g < sizeof buf; g++)
                if (buf[g] != 0xCC)
                    abort();
            check(i2c.write(i2c.ctx, 0x60, buf, sizes[i]));
        }
    }
    if (s.stats.replies > s.stats.requests)
        abort();
    return 0;
}
