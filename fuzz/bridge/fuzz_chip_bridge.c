/*
 * libFuzzer harness for the bridge's request decoder and dispatcher.
 *
 * Input: byte 0 picks the chunking and the fake chip's answers; the rest is
 * what the device sends, fed in chunks of 1..16 bytes, with the line's idle
 * call between some of them. Checked: no crash, no out-of-bounds access;
 * every reply is one well-formed frame (SYNC, a reply opcode, LEN within the
 * maximum, a good CRC by a separate routine), one per executed request; the
 * chip never sees a read longer than a reply can carry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chip_bridge.h"

typedef struct fuzz_chip {
    uint8_t mode;
    unsigned calls;
} fuzz_chip;

static hk_result answer(fuzz_chip *c)
{
    unsigned k = (c->mode >> 4) + c->calls++;
    return k % 3 == 0 ? HK_OK : k % 3 == 1 ? HK_ERR_SE_NO_RESPONSE : HK_ERR_IO;
}

static hk_result fc_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    (void)buf;
    if (addr7 > 0x7F || len > HK_CHIP_BRIDGE_MAX_PAYLOAD - 1u)
        abort();
    return answer(ctx);
}

static hk_result fc_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    if (addr7 > 0x7F || len > HK_CHIP_BRIDGE_MAX_PAYLOAD - 1u)
        abort();
    memset(buf, 0x5A, len);
    return answer(ctx);
}

static hk_result fc_wake(void *ctx)
{
    return answer(ctx);
}

static void fc_delay(void *ctx, uint32_t us)
{
    (void)ctx;
    (void)us;
}

static unsigned replies;

static uint16_t crc_ref(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++)
        for (int b = 7; b >= 0; b--) {
            unsigned bit = ((crc >> 15) ^ (p[i] >> b)) & 1u;
            crc = (uint16_t)(crc << 1);
            if (bit)
                crc ^= 0x1021u;
        }
    return crc;
}

static hk_result check_reply(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (len < 7 || buf[0] != 0xA5 || !(buf[2] & 0x80) || buf[3] < 1 ||
        buf[3] > HK_CHIP_BRIDGE_MAX_PAYLOAD || len != 6u + buf[3] || buf[4] > 3)
        abort();
    uint16_t crc = (uint16_t)(buf[len - 2] << 8 | buf[len - 1]);
    if (crc_ref(buf + 1, len - 3) != crc)
        abort();
    replies++;
    return HK_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_chip chip = {data[0], 0};
    hk_i2c i2c = {&chip, fc_write, fc_read, fc_wake, fc_delay};
    static hk_chip_bridge b;
    if (hk_chip_bridge_init(&b, &i2c, check_reply, NULL) != HK_OK)
        abort();
    replies = 0;
    size_t at = 1;
    unsigned step = 0;
    while (at < size) {
        size_t chunk = 1u + ((data[0] + step * 7u) % 16u);
        if (chunk > size - at)
            chunk = size - at;
        if (hk_chip_bridge_input(&b, data + at, chunk) != HK_OK)
            abort();
        at += chunk;
        if ((data[0] & 1u) && step % 3 == 2 && hk_chip_bridge_line_idle(&b) != HK_OK)
            abort();
        step++;
    }
    if (replies != b.stats.frames)
        abort();
    return 0;
}
