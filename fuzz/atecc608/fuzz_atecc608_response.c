/*
 * libFuzzer harness for the ATECC608A response path.
 *
 * Input: byte 0 picks the expected response size and the command; the rest
 * is what the "chip" says. Three targets per input:
 *  1. hk_atecc608_response_decode on the bytes as one output group;
 *  2. hk_atecc608_config_decode and _check on the bytes as a config zone;
 *  3. a whole hk_atecc608_execute against a fake I2C whose every read
 *     returns the next input bytes and whose NACKs are chosen by them too,
 *     so wake answers, counts, groups and retries are all hostile.
 * Neither may crash, read or write out of bounds, or hang; a payload handed
 * back must have passed its CRC.
 */
#include <stdint.h>
#include <string.h>

#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"

typedef struct fuzz_bus {
    const uint8_t *p;
    size_t n;
    unsigned ops;
} fuzz_bus;

static int take(fuzz_bus *b, uint8_t *out)
{
    if (b->n == 0)
        return 0;
    *out = *b->p++;
    b->n--;
    return 1;
}

static hk_result bus_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    (void)addr7;
    (void)buf;
    (void)len;
    fuzz_bus *b = ctx;
    b->ops++;
    uint8_t c;
    if (!take(b, &c))
        return HK_ERR_SE_NO_RESPONSE;
    return (c & 0x0F) == 0 ? HK_ERR_SE_NO_RESPONSE : (c == 0xFF ? HK_ERR_IO : HK_OK);
}

static hk_result bus_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    (void)addr7;
    fuzz_bus *b = ctx;
    b->ops++;
    uint8_t c;
    if (!take(b, &c) || c == 0x00)
        return HK_ERR_SE_NO_RESPONSE;
    for (size_t i = 0; i < len; i++)
        if (!take(b, &buf[i]))
            return HK_ERR_SE_NO_RESPONSE;
    return HK_OK;
}

static hk_result bus_wake(void *ctx)
{
    ((fuzz_bus *)ctx)->ops++;
    return HK_OK;
}

static void bus_delay(void *ctx, uint32_t us)
{
    (void)ctx;
    (void)us;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint8_t sizes[] = {4, 7, 35, 67};
    size_t expected = sizes[data[0] & 3];

    /* 1. the pure decoder */
    const uint8_t *payload = NULL;
    size_t plen = 0;
    uint8_t status = 0;
    hk_result r = hk_atecc608_response_decode(data + 1, size - 1, expected, &payload, &plen,
                                              &status);
    if (r == HK_OK) {
        if (plen > 0 && (payload != data + 2 || plen + 3 != size - 1 || plen + 3 != expected))
            __builtin_trap();
        uint16_t crc = hk_atecc608_crc16(data + 1, size - 3);
        if (data[size - 2] != (uint8_t)crc || data[size - 1] != (uint8_t)(crc >> 8))
            __builtin_trap();
    }

    /* 2. a config zone as read from a hostile chip: decoding never fails and
     * the check gives a result and a message for any bytes */
    if (size >= 1 + HK_ATECC608_CONFIG_SIZE) {
        hk_atecc608_config cfg;
        if (hk_atecc608_config_decode(data + 1, &cfg) != HK_OK)
            __builtin_trap();
        hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
        hk_result cr = hk_atecc608_config_check(&cfg, (uint8_t)(data[0] >> 4), &problem);
        if ((cr == HK_OK) != (problem == HK_ATECC608_PROBLEM_NONE) ||
            hk_atecc608_problem_str(problem) == NULL)
            __builtin_trap();
    }

    /* 3. a whole transaction over a hostile bus */
    fuzz_bus bus = {data + 1, size - 1, 0};
    hk_i2c i2c = {&bus, bus_write, bus_read, bus_wake, bus_delay};
    hk_atecc608 dev;
    if (hk_atecc608_init(&dev, &i2c, HK_ATECC608_ADDR_DEFAULT) != HK_OK)
        __builtin_trap();
    dev.policy.poll_extra_ms = 0;
    hk_atecc608_cmd cmd;
    switch (data[0] & 3) {
    case 0:
        if (hk_atecc608_cmd_lock(&cmd, 0x80, 0) != HK_OK)
            __builtin_trap();
        break;
    case 1:
        if (hk_atecc608_cmd_info(&cmd, 0, 0) != HK_OK)
            __builtin_trap();
        break;
    case 2:
        if (hk_atecc608_cmd_random(&cmd) != HK_OK)
            __builtin_trap();
        break;
    default:
        if (hk_atecc608_cmd_genkey(&cmd, false, 0) != HK_OK)
            __builtin_trap();
        break;
    }
    uint8_t out[HK_ATECC608_RSP_MAX + 8];
    memset(out, 0xCC, sizeof out);
    size_t cap = (data[0] & 4) ? expected - 3 : expected - 4; /* sometimes too small */
    if (expected == 4)
        cap = 0;
    size_t out_len = 0;
    r = hk_atecc608_execute(&dev, &cmd, (data[0] & 8) ? HK_ATECC608_AFTER_SLEEP
                                                       : HK_ATECC608_AFTER_IDLE,
                            cap ? out : NULL, cap, &out_len, &status);
    if (r == HK_OK && out_len > cap)
        __builtin_trap();
    for (size_t i = cap; i < sizeof out; i++)
        if (out[i] != 0xCC)
            __builtin_trap();
    return 0;
}
