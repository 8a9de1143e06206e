/*
 * hkb_chip_server CHIP_FILE: the emulated ATECC608A answering I2C transfers
 * on standard input/output (protocol in hkb_chip.h). Started by the
 * benchmark driver; not meant to be run by hand.
 *
 * The chip is opened as the agent opens it (hk_emu_atecc608_open, busy times
 * at the chip's maximums, autosave to the file), so a record written during
 * a cold boot is there for the warm boot that follows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emu_atecc608.h"
#include "hkb_chip.h"

static int send_result(hk_result r)
{
    uint32_t v = (uint32_t)(int32_t)r;
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return hkb_write_all(1, b, sizeof b);
}

static size_t counters_json(const hk_emu_atecc608 *emu, uint64_t since_us, char *out, size_t cap)
{
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(emu, &c);
    size_t n = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        if (n + 1 < cap) { /* once full (truncated), nothing more is written */   \
            int k = snprintf(out + n, cap - n, __VA_ARGS__);                       \
            if (k > 0)                                                             \
                n = (size_t)k < cap - n ? n + (size_t)k : cap - 1;                 \
        }                                                                          \
    } while (0)
    PUT("{\"commands\":%" PRIu64 ",\"signs\":%" PRIu64 ",\"ecdhs\":%" PRIu64
        ",\"genkeys\":%" PRIu64 ",\"pubkeys\":%" PRIu64 ",\"verifies\":%" PRIu64
        ",\"randoms\":%" PRIu64 ",\"nonces\":%" PRIu64 ",\"wakes\":%" PRIu64
        ",\"sleeps\":%" PRIu64 ",\"idles\":%" PRIu64 ",\"nacks\":%" PRIu64
        ",\"config_reads\":%" PRIu64 ",\"otp_reads\":%" PRIu64
        ",\"eeprom_bytes_written\":%" PRIu64 ",\"errors\":%" PRIu64,
        c.commands, c.signs, c.ecdhs, c.genkeys, c.pubkeys, c.verifies, c.randoms, c.nonces,
        c.wakes, c.sleeps, c.idles, c.nacks, c.config_reads, c.otp_reads,
        c.eeprom_bytes_written, c.crc_errors + c.parse_errors + c.exec_errors);
    PUT(",\"slot_reads\":[");
    for (unsigned i = 0; i < HK_EMU_ATECC608_SLOTS; i++)
        PUT("%s%" PRIu64, i ? "," : "", c.slot_reads[i]);
    PUT("],\"slot_writes\":[");
    for (unsigned i = 0; i < HK_EMU_ATECC608_SLOTS; i++)
        PUT("%s%" PRIu64, i ? "," : "", c.slot_writes[i]);
    /* The model clock moves only when the driver waits (wake, execution
     * times at the chip's maximums): the time a real chip would have kept
     * the driver waiting, which the wall-clock figures do not contain. */
    PUT("],\"model_us\":%" PRIu64, hk_emu_atecc608_now_us(emu) - since_us);
    PUT(",\"by_opcode\":{");
    bool first = true;
    for (unsigned i = 0; i < 256; i++) {
        if (c.by_opcode[i] == 0)
            continue;
        PUT("%s\"%u\":%" PRIu64, first ? "" : ",", i, c.by_opcode[i]);
        first = false;
    }
    PUT("}}");
#undef PUT
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hkb_chip_server CHIP_FILE\n");
        return 2;
    }
    hk_emu_atecc608_options eo;
    hk_emu_atecc608_options_init(&eo);
    hk_emu_atecc608 *emu = NULL;
    hk_result r = hk_emu_atecc608_open(argv[1], &eo, &emu);
    if (r != HK_OK) {
        fprintf(stderr, "hkb_chip_server: %s: %s\n", argv[1], hk_result_str(r));
        return 1;
    }
    hk_emu_atecc608_counters_reset(emu);
    uint64_t since_us = hk_emu_atecc608_now_us(emu);
    hk_i2c i2c = hk_emu_atecc608_i2c(emu);
    static uint8_t buf[HKB_CHIP_MAX_TRANSFER];
    static char text[HKB_CHIP_COUNTERS_MAX];
    int rc = 0;
    for (;;) {
        uint8_t op;
        if (hkb_read_all(0, &op, 1) != 0)
            break; /* the driver is done */
        uint8_t h[4];
        if (op == 'W' || op == 'R') {
            if (hkb_read_all(0, h, 3) != 0)
                break;
            size_t len = (size_t)h[1] | (size_t)h[2] << 8;
            if (len > sizeof buf) {
                rc = 1;
                break;
            }
            if (op == 'W') {
                if (hkb_read_all(0, buf, len) != 0 ||
                    send_result(i2c.write(i2c.ctx, h[0], buf, len)) != 0)
                    break;
            } else {
                r = i2c.read(i2c.ctx, h[0], buf, len);
                if (send_result(r) != 0 || (r == HK_OK && hkb_write_all(1, buf, len) != 0))
                    break;
            }
        } else if (op == 'K') {
            if (send_result(i2c.wake(i2c.ctx)) != 0)
                break;
        } else if (op == 'D') {
            if (hkb_read_all(0, h, 4) != 0)
                break;
            i2c.delay_us(i2c.ctx, (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                                      (uint32_t)h[3] << 24);
            if (send_result(HK_OK) != 0)
                break;
        } else if (op == 'C') {
            size_t n = counters_json(emu, since_us, text, sizeof text);
            uint8_t l[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
            if (hkb_write_all(1, l, 2) != 0 || hkb_write_all(1, text, n) != 0)
                break;
        } else if (op == 'Z') {
            hk_emu_atecc608_counters_reset(emu);
            since_us = hk_emu_atecc608_now_us(emu);
            if (send_result(HK_OK) != 0)
                break;
        } else {
            rc = 1;
            break;
        }
    }
    hk_emu_atecc608_destroy(emu);
    return rc;
}
