/*
 * libFuzzer harness for the emulator's two parsers of hostile input: the
 * I2C byte stream (word addresses, command groups, every command decoder)
 * and the state-file image.
 *
 * Input: byte 0 selects the start. Bit 0 = 1: the rest is a state-file image
 * for hk_emu_atecc608_load_buffer. Otherwise the rest is a script of bus
 * operations run against a factory-new chip (bit 1 = 0) or a provisioned one
 * (config and data locked, key in slot 0; bit 1 = 1):
 *   op % 6 == 0  wake pulse
 *   op % 6 == 1  delay: next byte x 8 ms
 *   op % 6 == 2  raw write: next byte n (mod 170), then n bytes (word address first)
 *   op % 6 == 3  read: next byte n (mod 80)
 *   op % 6 == 4  command group with a correct count and CRC built around the
 *                next n (mod 150) bytes: opcode, param1, param2, data
 *   op % 6 == 5  reset word, wait the busy time, read the whole reply and
 *                check that its CRC is right (the model never sends a bad
 *                group unless faults are injected)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu_atecc608.h"
#include "se/atecc608/atecc608_crc.h"

static uint8_t provisioned[HK_EMU_ATECC608_FILE_SIZE];
static size_t provisioned_len;

static void send_group(hk_i2c *i2c, const uint8_t *body, size_t n)
{
    uint8_t w[1 + 155];
    w[0] = 0x03;
    w[1] = (uint8_t)(n + 3);
    memcpy(w + 2, body, n);
    uint16_t crc = hk_atecc608_crc16(w + 1, n + 1);
    w[n + 2] = (uint8_t)crc;
    w[n + 3] = (uint8_t)(crc >> 8);
    hk_result_ignore(i2c->write(i2c->ctx, 0x60, w, n + 4));
}

static void run_until_ready(hk_i2c *i2c, const uint8_t *body, size_t n)
{
    hk_result_ignore(i2c->wake(i2c->ctx)); /* a pulse: NACKed */
    i2c->delay_us(i2c->ctx, HK_EMU_ATECC608_TWHI_US);
    send_group(i2c, body, n);
    i2c->delay_us(i2c->ctx, 200000);
    hk_result_ignore(i2c->write(i2c->ctx, 0x60, (const uint8_t[]){0x02}, 1));
}

/* Built once: a chip with config and data locked and a key in slot 0. */
static void make_provisioned(void)
{
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    hk_emu_atecc608 *emu;
    if (hk_emu_atecc608_create(&o, &emu) != HK_OK)
        abort();
    hk_i2c i2c = hk_emu_atecc608_i2c(emu);
    run_until_ready(&i2c, (const uint8_t[]){0x17, 0x80, 0x00, 0x00}, 4);
    run_until_ready(&i2c, (const uint8_t[]){0x40, 0x04, 0x00, 0x00}, 4);
    run_until_ready(&i2c, (const uint8_t[]){0x17, 0x81, 0x00, 0x00}, 4);
    if (hk_emu_atecc608_save_buffer(emu, provisioned, sizeof provisioned, &provisioned_len) !=
        HK_OK)
        abort();
    hk_emu_atecc608_destroy(emu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    hk_emu_atecc608 *emu = NULL;
    if (data[0] & 1) {
        if (hk_emu_atecc608_load_buffer(data + 1, size - 1, &o, &emu) == HK_OK)
            hk_emu_atecc608_destroy(emu);
        return 0;
    }
    if (data[0] & 2) {
        if (provisioned_len == 0)
            make_provisioned();
        if (hk_emu_atecc608_load_buffer(provisioned, provisioned_len, &o, &emu) != HK_OK)
            abort();
    } else if (hk_emu_atecc608_create(&o, &emu) != HK_OK) {
        abort();
    }
    hk_i2c i2c = hk_emu_atecc608_i2c(emu);
    uint8_t buf[256];
    size_t i = 1;
    while (i < size) {
        uint8_t op = data[i++];
        size_t n = i < size ? data[i] : 0;
        switch (op % 6) {
        case 0:
            hk_result_ignore(i2c.wake(i2c.ctx));
            break;
        case 1:
            i2c.delay_us(i2c.ctx, (uint32_t)n * 8000u);
            i++;
            break;
        case 2:
            i++;
            n %= 170;
            if (n > size - (i < size ? i : size))
                n = size - (i < size ? i : size);
            hk_result_ignore(i2c.write(i2c.ctx, 0x60, data + i, n));
            i += n;
            break;
        case 3:
            i++;
            n %= 80;
            hk_result_ignore(i2c.read(i2c.ctx, 0x60, buf, n));
            break;
        case 4:
            i++;
            n %= 150;
            if (n > size - (i < size ? i : size))
                n = size - (i < size ? i : size);
            send_group(&i2c, data + i, n);
            i += n;
            break;
        default: {
            i2c.delay_us(i2c.ctx, 2500000u / 8u);
            if (i2c.write(i2c.ctx, 0x60, (const uint8_t[]){0x00}, 1) != HK_OK)
                break;
            if (i2c.read(i2c.ctx, 0x60, buf, 1) != HK_OK)
                break;
            size_t count = buf[0];
            if (count < 4 || count > 67)
                abort(); /* the model never produces such a group */
            if (i2c.read(i2c.ctx, 0x60, buf + 1, count - 1) != HK_OK)
                abort();
            uint16_t crc = hk_atecc608_crc16(buf, count - 2);
            if (buf[count - 2] != (uint8_t)crc || buf[count - 1] != (uint8_t)(crc >> 8))
                abort();
            break;
        }
        }
    }
    hk_emu_atecc608_destroy(emu);
    return 0;
}
