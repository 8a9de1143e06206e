/*
 * The software ATECC608A: life cycle, the I2C front-end (word addresses,
 * wake, sleep, idle, watchdog, busy time, NACK rules), fault injection and
 * the state file. The commands themselves are in emu_atecc608_cmd.c; the
 * model helpers both use (layout, config fields, counters, responses, the
 * EEPROM store) in emu_atecc608_model.c.
 *
 * Why the front-end looks the way it does (atecc608a.md §1):
 *  - Time is a model clock that only moves when the host delays. State
 *    changes that depend on time (end of tWHI, end of execution, watchdog
 *    expiry) are applied lazily by tick() at the start of every call.
 *  - The chip NACKs its address while asleep, idle, waking or busy. A read
 *    after a partly sent command also NACKs; a reset word (0x00) drops the
 *    partial command.
 *  - A command runs when the last byte of its group arrives (the group's
 *    count says how many). The response is prepared at once but becomes
 *    readable only when the busy time is over, so the host sees the NACKs a
 *    real chip gives while it computes.
 */
#define _POSIX_C_SOURCE 200809L /* fsync, strdup, O_DIRECTORY, O_CLOEXEC */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_atecc608_cmd.h"
#include "emu_atecc608_internal.h"
#include "se/atecc608/atecc608_crc.h"

/* ---- factory-new state -------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Bytes 16..127 of the factory-new configuration. The slot map is the
 * Trust Platform-style layout of atecc608a.md §6.2 (slot 5 `8F 46`), with
 * byte 16 = 0xC0 (address 0x60), ChipMode 0x00, counters at 0, SecureBoot
 * and ChipOptions 0 (no features that change command behaviour), both zones
 * unlocked and no slot locked. docs/atecc608-emulator.md explains why. */
static const uint8_t default_config_16_127[112] = {
    /* 16: I2C_Address, reserved, CountMatch, ChipMode */
    0xC0, 0x00, 0x00, 0x00,
    /* 20: SlotConfig 0..15 */
    0x85, 0x00, 0x82, 0x00, 0x85, 0x20, 0x85, 0x20, 0x85, 0x20, 0x8F, 0x46, 0x8F, 0x0F,
    0x9F, 0x8F, 0x0F, 0x0F, 0x8F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F,
    0x0D, 0x1F, 0x0F, 0x0F,
    /* 52: Counter0 = 0, Counter1 = 0 */
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00,
    0x00, 0x00,
    /* 68: UseLock, VolatileKeyPermission, SecureBoot(2), KdfIvLoc, KdfIvStr(2) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x69, 0x76,
    /* 75..83 reserved */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 84: UserExtra, UserExtraAdd, LockValue, LockConfig, SlotLocked(2) */
    0x00, 0x00, 0x55, 0x55, 0xFF, 0xFF,
    /* 90: ChipOptions(2), X509format(4) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 96: KeyConfig 0..15 */
    0x53, 0x00, 0x53, 0x00, 0x73, 0x00, 0x73, 0x00, 0x73, 0x00, 0x38, 0x00, 0x7C, 0x00,
    0x1C, 0x00, 0x3C, 0x00, 0x1A, 0x00, 0x3C, 0x00, 0x30, 0x00, 0x3C, 0x00, 0x30, 0x00,
    0x12, 0x00, 0x30, 0x00,
};

static void factory_reset(hk_emu_atecc608 *emu, const uint8_t sn[9])
{
    uint8_t *c = emu->config;
    memcpy(c, sn, 4);                         /* SN[0..3] */
    /* RevNum: byte 6 = 0x60 (the 608 family), byte 7 = silicon revision,
     * 0x02 on an ATECC608A, 0x03 on an ATECC608B (atecc608a.md §4.1). */
    c[4] = 0x00, c[5] = 0x00, c[6] = 0x60;
    c[7] = emu->opts.part == HK_EMU_ATECC608_PART_B ? 0x03 : 0x02;
    memcpy(c + 8, sn + 4, 5);                 /* SN[4..8] */
    c[13] = 0x01;                             /* AES_Enable */
    c[14] = 0x01;                             /* I2C_Enable */
    c[15] = 0x00;
    memcpy(c + 16, default_config_16_127, sizeof default_config_16_127);
    memset(emu->otp, 0xFF, sizeof emu->otp);
    memset(emu->data, 0xFF, sizeof emu->data);
}

/* ---- volatile state ----------------------------------------------------------- */

static void enter_sleep(hk_emu_atecc608 *emu)
{
    emu_clear_volatile_crypto(emu);
    emu_clear_io(emu);
    emu->state = HK_EMU_ATECC608_ASLEEP;
    emu->addr_latched = false;
}

static uint8_t configured_addr7(const hk_emu_atecc608 *emu)
{
    /* ChipMode bit 0: the address comes from UserExtraAdd (byte 85) once it
     * has been set; the byte holds the address in the same 8-bit form as
     * byte 16. */
    if ((emu->config[EMU_CFG_CHIP_MODE] & 0x01u) && emu->config[EMU_CFG_USER_EXTRA_ADD] != 0)
        return (uint8_t)(emu->config[EMU_CFG_USER_EXTRA_ADD] >> 1);
    return (uint8_t)(emu->config[EMU_CFG_I2C_ADDRESS] >> 1);
}

static uint8_t current_addr7(const hk_emu_atecc608 *emu)
{
    return emu->addr_latched ? emu->addr7 : configured_addr7(emu);
}

static uint64_t watchdog_us(const hk_emu_atecc608 *emu)
{
    return (emu->config[EMU_CFG_CHIP_MODE] & 0x04u) ? HK_EMU_ATECC608_WATCHDOG_LONG_US
                                                    : HK_EMU_ATECC608_WATCHDOG_SHORT_US;
}

/* Applies everything the clock has made happen since the last call. */
static void tick(hk_emu_atecc608 *emu)
{
    hk_emu_atecc608_power_state s = emu->state;
    if (s != HK_EMU_ATECC608_WAKING && s != HK_EMU_ATECC608_AWAKE && s != HK_EMU_ATECC608_BUSY)
        return;
    if ((s == HK_EMU_ATECC608_WAKING || s == HK_EMU_ATECC608_BUSY) &&
        emu->now_us >= emu->ready_at_us)
        emu->state = HK_EMU_ATECC608_AWAKE;
    if (emu->now_us >= emu->watchdog_at_us) {
        emu->counters.watchdog_expiries++;
        enter_sleep(emu);
    }
}

/* ---- fault PRNG -------------------------------------------------------------- */

static bool fault_draw(hk_emu_atecc608 *emu, uint32_t ppm)
{
    if (ppm == 0)
        return false;
    return splitmix64(&emu->fault_prng) % 1000000u < ppm;
}

/* ---- command group handling ------------------------------------------------------ */

static void finish_group(hk_emu_atecc608 *emu)
{
    emu->in_len = 0;
    emu->in_overrun = false;
}

static void complete_group(hk_emu_atecc608 *emu)
{
    const uint8_t *g = emu->in;
    size_t count = g[0];
    emu->counters.commands++;
    emu->out_dropped = false;

    /* A group longer than its count, or a count outside 4..155, is an I/O
     * error: status 0xFF like a CRC error, the host sends the command again. */
    if (count < 4 || count > EMU_MAX_GROUP || emu->in_overrun || emu->in_len > count) {
        emu->counters.crc_errors++;
        emu_respond_status(emu, EMU_STATUS_CRC);
        finish_group(emu);
        return;
    }
    uint16_t crc = hk_atecc608_crc16(g, count - 2);
    if (g[count - 2] != (uint8_t)crc || g[count - 1] != (uint8_t)(crc >> 8)) {
        emu->counters.crc_errors++;
        emu_respond_status(emu, EMU_STATUS_CRC);
        finish_group(emu);
        return;
    }
    if (count < 7) {
        emu->counters.parse_errors++;
        emu_respond_status(emu, EMU_STATUS_PARSE);
        finish_group(emu);
        return;
    }
    uint8_t opcode = g[1];
    emu->counters.by_opcode[opcode]++;

    uint64_t exec_us = (uint64_t)emu_cmd_exec_time_us(emu, opcode) * emu->opts.exec_time_percent / 100u;
    if (exec_us > 0 && emu->now_us + exec_us > emu->watchdog_at_us) {
        emu->counters.watchdog_refusals++;
        emu_respond_status(emu, EMU_STATUS_WATCHDOG);
        finish_group(emu);
        return;
    }

    uint8_t group[EMU_MAX_GROUP];
    memcpy(group, g, count);
    finish_group(emu);
    bool changed = emu_cmd_execute(emu, group, count);
    if (changed && emu->autosave_path) {
        /* The chip keeps working (a host cannot make the command fail
         * after the fact), but the failure stays visible through
         * hk_emu_atecc608_autosave_error until a save succeeds. */
        errno = 0;
        if (hk_emu_atecc608_save(emu, emu->autosave_path) != HK_OK) {
            emu->counters.autosave_failures++;
            emu->autosave_errno = errno != 0 ? errno : EIO;
        } else {
            emu->autosave_errno = 0;
        }
    }
    if (emu->state == HK_EMU_ATECC608_OFF)
        return;

    if (emu->out_len == 4) {
        if (emu->out[1] == EMU_STATUS_PARSE)
            emu->counters.parse_errors++;
        else if (emu->out[1] == EMU_STATUS_EXEC)
            emu->counters.exec_errors++;
    }
    /* Parse errors are found before any work starts: no busy time. */
    bool parse_error = emu->out_len == 4 && emu->out[1] == EMU_STATUS_PARSE;
    if (!parse_error && exec_us > 0) {
        emu->state = HK_EMU_ATECC608_BUSY;
        emu->ready_at_us = emu->now_us + exec_us;
    }
    if (fault_draw(emu, emu->faults.drop_ppm)) {
        emu->out_dropped = true;
        emu->counters.faults_dropped++;
    }
}

/* ---- I2C callbacks ------------------------------------------------------------- */

static hk_result emu_wake(void *ctx)
{
    hk_emu_atecc608 *emu = ctx;
    tick(emu);
    if (emu->state != HK_EMU_ATECC608_ASLEEP && emu->state != HK_EMU_ATECC608_IDLE)
        return HK_OK; /* off: nothing happens; awake: the pulse is ignored */
    if (emu->state == HK_EMU_ATECC608_ASLEEP) {
        emu->addr7 = configured_addr7(emu);
        emu->addr_latched = true;
    }
    emu_clear_io(emu);
    emu->state = HK_EMU_ATECC608_WAKING;
    emu->ready_at_us = emu->now_us + HK_EMU_ATECC608_TWHI_US;
    emu->watchdog_at_us = emu->now_us + watchdog_us(emu);
    emu->counters.wakes++;
    /* The wake response: count 4, status 0x11, CRC 0x4333. */
    emu_respond_status(emu, EMU_STATUS_WAKE);
    return HK_OK;
}

static hk_result nack(hk_emu_atecc608 *emu)
{
    emu->counters.nacks++;
    return HK_ERR_SE_NO_RESPONSE;
}

static hk_result emu_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    hk_emu_atecc608 *emu = ctx;
    tick(emu);
    if (addr7 == 0x00) {
        /* Traffic to address 0 holds SDA low long enough to act as a wake
         * pulse; nobody acknowledges it. */
        emu_wake(emu);
        return nack(emu);
    }
    if (addr7 != current_addr7(emu) || emu->state != HK_EMU_ATECC608_AWAKE)
        return nack(emu);
    if (len == 0 || buf == NULL)
        return HK_OK; /* address probe */
    switch (buf[0]) {
    case 0x00: /* reset: output pointer to 0, partial input dropped */
        emu->out_pos = 0;
        finish_group(emu);
        return HK_OK;
    case 0x01: /* sleep */
        emu->counters.sleeps++;
        enter_sleep(emu);
        return HK_OK;
    case 0x02: /* idle: keeps TempKey, message digest, SHA context, RNG */
        emu->counters.idles++;
        emu_clear_io(emu);
        emu->state = HK_EMU_ATECC608_IDLE;
        return HK_OK;
    case 0x03:
        break;
    default:
        return nack(emu); /* the word-address byte itself is not acknowledged */
    }
    for (size_t i = 1; i < len; i++) {
        if (emu->in_len < sizeof emu->in)
            emu->in[emu->in_len++] = buf[i];
        else
            emu->in_overrun = true;
    }
    if (emu->in_len == 0)
        return HK_OK;
    size_t count = emu->in[0];
    if (count < 4 || count > EMU_MAX_GROUP || emu->in_len >= count || emu->in_overrun)
        complete_group(emu);
    /* else: a partial group; wait for the rest (reads NACK meanwhile) */
    return HK_OK;
}

static hk_result emu_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    hk_emu_atecc608 *emu = ctx;
    tick(emu);
    if (addr7 == 0x00 || addr7 != current_addr7(emu))
        return nack(emu);
    if (emu->faults.nack_reads > 0) {
        emu->faults.nack_reads--;
        emu->counters.faults_nacked++;
        return nack(emu);
    }
    if (emu->state != HK_EMU_ATECC608_AWAKE || emu->in_len > 0 || emu->out_dropped)
        return nack(emu);
    if (len == 0 || buf == NULL)
        return HK_OK;
    size_t start = emu->out_pos;
    size_t from_group = 0;
    for (size_t i = 0; i < len; i++) {
        size_t pos = start + i;
        if (pos < emu->out_len) {
            buf[i] = emu->out[pos];
            from_group++;
        } else {
            buf[i] = 0xFF; /* past the group: the bus floats high */
        }
    }
    emu->out_pos = start + len > emu->out_len ? emu->out_len : start + len;
    if (from_group > 0 && fault_draw(emu, emu->faults.corrupt_ppm)) {
        uint64_t r = splitmix64(&emu->fault_prng);
        buf[r % from_group] ^= (uint8_t)(1u << ((r >> 32) % 8u));
        emu->counters.faults_corrupted++;
    }
    return HK_OK;
}

static void emu_delay_us(void *ctx, uint32_t us)
{
    hk_emu_atecc608 *emu = ctx;
    emu->now_us += us;
}

hk_i2c hk_emu_atecc608_i2c(hk_emu_atecc608 *emu)
{
    hk_i2c i2c = {emu, emu_write, emu_read, emu_wake, emu_delay_us};
    return i2c;
}

/* ---- public: clock, power, faults, counters -------------------------------------- */

uint64_t hk_emu_atecc608_now_us(const hk_emu_atecc608 *emu)
{
    return emu->now_us;
}

void hk_emu_atecc608_advance_us(hk_emu_atecc608 *emu, uint64_t us)
{
    emu->now_us += us;
    tick(emu);
}

hk_emu_atecc608_power_state hk_emu_atecc608_power_state_get(hk_emu_atecc608 *emu)
{
    tick(emu);
    return emu->state;
}

void hk_emu_atecc608_power_cycle(hk_emu_atecc608 *emu)
{
    enter_sleep(emu);
    emu->persistent_latch = false;
}

void hk_emu_atecc608_faults_set(hk_emu_atecc608 *emu, const hk_emu_atecc608_faults *faults)
{
    emu->faults = *faults;
    emu->fault_prng = faults->seed;
    emu->writes_since_arm = 0;
    emu->bytes_since_arm = 0;
}

void hk_emu_atecc608_faults_clear(hk_emu_atecc608 *emu)
{
    hk_emu_atecc608_faults none;
    memset(&none, 0, sizeof none);
    hk_emu_atecc608_faults_set(emu, &none);
}

void hk_emu_atecc608_counters_get(const hk_emu_atecc608 *emu,
                                  hk_emu_atecc608_counters *out_counters)
{
    *out_counters = emu->counters;
}

void hk_emu_atecc608_counters_reset(hk_emu_atecc608 *emu)
{
    memset(&emu->counters, 0, sizeof emu->counters);
}

void hk_emu_atecc608_config_get(const hk_emu_atecc608 *emu,
                                uint8_t out_config[HK_EMU_ATECC608_CONFIG_SIZE])
{
    memcpy(out_config, emu->config, HK_EMU_ATECC608_CONFIG_SIZE);
}

hk_result hk_emu_atecc608_slot_peek(const hk_emu_atecc608 *emu, unsigned slot, size_t offset,
                                    uint8_t *out, size_t len)
{
    size_t size = hk_emu_atecc608_slot_size(slot);
    if (emu == NULL || (out == NULL && len > 0) || size == 0 || offset > size ||
        len > size - offset)
        return HK_ERR_INVALID_ARG;
    if (emu_slot_is_private(emu, slot))
        return HK_ERR_STATE;
    memcpy(out, emu->data + emu_slot_offset(slot) + offset, len);
    return HK_OK;
}

/* ---- life cycle ------------------------------------------------------------------ */

void hk_emu_atecc608_options_init(hk_emu_atecc608_options *out_opts)
{
    memset(out_opts, 0, sizeof *out_opts);
    out_opts->exec_time_percent = 100;
}

static hk_result emu_alloc(const hk_emu_atecc608_options *opts, hk_emu_atecc608 **out_emu)
{
    if (out_emu == NULL)
        return HK_ERR_INVALID_ARG;
    *out_emu = NULL;
    hk_emu_atecc608 *emu = calloc(1, sizeof *emu);
    if (emu == NULL)
        return HK_ERR_LIMIT;
    if (opts)
        emu->opts = *opts;
    else
        hk_emu_atecc608_options_init(&emu->opts);
    emu->deterministic = emu->opts.deterministic_rng;
    if (emu_crypto_init(emu) != 0) {
        emu_crypto_free(emu);
        free(emu);
        return HK_ERR_CRYPTO;
    }
    emu->state = HK_EMU_ATECC608_ASLEEP;
    *out_emu = emu;
    return HK_OK;
}

hk_result hk_emu_atecc608_create(const hk_emu_atecc608_options *opts, hk_emu_atecc608 **out_emu)
{
    if (out_emu != NULL)
        *out_emu = NULL;
    if (opts != NULL && opts->part != HK_EMU_ATECC608_PART_A &&
        opts->part != HK_EMU_ATECC608_PART_B)
        return HK_ERR_INVALID_ARG;
    hk_emu_atecc608 *emu;
    hk_result r = emu_alloc(opts, &emu);
    if (r != HK_OK)
        return r;
    uint8_t sn[HK_EMU_ATECC608_SERIAL_SIZE];
    if (emu->opts.has_serial) {
        memcpy(sn, emu->opts.serial, sizeof sn);
    } else {
        /* Microchip's serials start 01 23 and end 0xEE; the six bytes in
         * between come from the seed. */
        uint64_t st = emu->opts.seed;
        uint64_t bits = splitmix64(&st);
        sn[0] = 0x01;
        sn[1] = 0x23;
        for (int i = 0; i < 6; i++)
            sn[2 + i] = (uint8_t)(bits >> (8 * i));
        sn[8] = 0xEE;
    }
    factory_reset(emu, sn);
    *out_emu = emu;
    return HK_OK;
}

void hk_emu_atecc608_destroy(hk_emu_atecc608 *emu)
{
    if (emu == NULL)
        return;
    emu_crypto_free(emu);
    free(emu->autosave_path);
    /* Wipe key material (slot contents, TempKey) before the memory is reused. */
    volatile uint8_t *p = (volatile uint8_t *)emu;
    for (size_t i = 0; i < sizeof *emu; i++)
        p[i] = 0;
    free(emu);
}

hk_result hk_emu_atecc608_autosave_error(const hk_emu_atecc608 *emu, int *out_errno)
{
    if (emu == NULL || out_errno == NULL)
        return HK_ERR_INVALID_ARG;
    *out_errno = emu->autosave_errno;
    return emu->autosave_errno != 0 ? HK_ERR_FILE : HK_OK;
}

hk_result hk_emu_atecc608_set_autosave(hk_emu_atecc608 *emu, const char *path)
{
    if (emu == NULL)
        return HK_ERR_INVALID_ARG;
    char *copy = NULL;
    if (path) {
        copy = strdup(path);
        if (copy == NULL)
            return HK_ERR_LIMIT;
    }
    free(emu->autosave_path);
    emu->autosave_path = copy;
    emu->autosave_errno = 0;
    return HK_OK;
}

/* ---- state file -------------------------------------------------------------------
 *
 * Version 1, 1448 bytes, all integers little-endian:
 *   0  magic "HKEMU608" (8)
 *   8  format version (u32) = 1
 *  12  payload length (u32) = 1400
 *  16  config zone (128)
 * 144  OTP zone (64)
 * 208  data zone (1208): slots 0..15 in order, 36/416/72 bytes each
 * 1416 SHA-256 of bytes 0..1415 (32)
 * Private keys are stored where the chip keeps them, in their slots (4 zero
 * bytes, then the 32-byte scalar, big-endian): the file is the chip. */

#define FILE_MAGIC "HKEMU608"
#define FILE_HEADER 16u
#define FILE_PAYLOAD (HK_EMU_ATECC608_CONFIG_SIZE + HK_EMU_ATECC608_OTP_SIZE + HK_EMU_ATECC608_DATA_SIZE)
#define FILE_SIZE (FILE_HEADER + FILE_PAYLOAD + 32u)
_Static_assert(FILE_SIZE == HK_EMU_ATECC608_FILE_SIZE, "state file size");

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

hk_result hk_emu_atecc608_save_buffer(const hk_emu_atecc608 *emu, uint8_t *out, size_t cap,
                                      size_t *out_len)
{
    if (emu == NULL || out == NULL || out_len == NULL)
        return HK_ERR_INVALID_ARG;
    *out_len = FILE_SIZE;
    if (cap < FILE_SIZE)
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, FILE_MAGIC, 8);
    put_u32(out + 8, HK_EMU_ATECC608_FILE_VERSION);
    put_u32(out + 12, FILE_PAYLOAD);
    uint8_t *p = out + FILE_HEADER;
    memcpy(p, emu->config, sizeof emu->config);
    p += sizeof emu->config;
    memcpy(p, emu->otp, sizeof emu->otp);
    p += sizeof emu->otp;
    memcpy(p, emu->data, sizeof emu->data);
    p += sizeof emu->data;
    if (emu_crypto_sha256(out, FILE_HEADER + FILE_PAYLOAD, p) != 0)
        return HK_ERR_CRYPTO;
    return HK_OK;
}

hk_result hk_emu_atecc608_save(hk_emu_atecc608 *emu, const char *path)
{
    if (emu == NULL || path == NULL)
        return HK_ERR_INVALID_ARG;
    uint8_t buf[FILE_SIZE];
    size_t len = 0;
    hk_result r = hk_emu_atecc608_save_buffer(emu, buf, sizeof buf, &len);
    if (r != HK_OK)
        return r;
    r = HK_ERR_FILE;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        goto out;
    }
    /* The replace below only needs a writable directory: a file the user
     * made read-only (no write bit at all, which stops root too, or one
     * this process may not write) is refused instead of silently replaced. */
    struct stat st;
    if (stat(path, &st) == 0 && ((st.st_mode & 0222) == 0 || access(path, W_OK) != 0)) {
        errno = EACCES;
        goto out;
    }
    /* 0600: the file holds the chip's private keys. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    bool ok = write_all(fd, buf, len) && fsync(fd) == 0;
    int saved = errno;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        else if (saved == 0)
            saved = EIO;
        unlink(tmp);
        errno = saved;
        goto out;
    }
    fsync_parent(path);
    emu->counters.saves++;
    r = HK_OK;
out:
    {
        int saved_errno = errno;
        memset(buf, 0, sizeof buf);
        errno = saved_errno;
    }
    return r;
}

/* Parses a state file image. Example of the bytes accepted (version 1):
 *   48 4B 45 4D 55 36 30 38  01 00 00 00  78 05 00 00  <config 128> <OTP 64>
 *   <data 1208> <SHA-256 of everything before, 32>
 * Anything else is refused without touching the chip. */
hk_result hk_emu_atecc608_load_buffer(const uint8_t *buf, size_t len,
                                      const hk_emu_atecc608_options *opts,
                                      hk_emu_atecc608 **out_emu)
{
    if ((buf == NULL && len > 0) || out_emu == NULL)
        return HK_ERR_INVALID_ARG;
    *out_emu = NULL;
    if (len < FILE_HEADER || memcmp(buf, FILE_MAGIC, 8) != 0)
        return HK_ERR_MALFORMED;
    if (get_u32(buf + 8) != HK_EMU_ATECC608_FILE_VERSION)
        return HK_ERR_UNSUPPORTED;
    if (len != FILE_SIZE || get_u32(buf + 12) != FILE_PAYLOAD)
        return HK_ERR_MALFORMED;
    uint8_t digest[32];
    if (emu_crypto_sha256(buf, FILE_HEADER + FILE_PAYLOAD, digest) != 0 ||
        memcmp(digest, buf + FILE_HEADER + FILE_PAYLOAD, 32) != 0)
        return HK_ERR_MALFORMED;
    hk_emu_atecc608 *emu;
    hk_result r = emu_alloc(opts, &emu);
    if (r != HK_OK)
        return r;
    const uint8_t *p = buf + FILE_HEADER;
    memcpy(emu->config, p, sizeof emu->config);
    p += sizeof emu->config;
    memcpy(emu->otp, p, sizeof emu->otp);
    p += sizeof emu->otp;
    memcpy(emu->data, p, sizeof emu->data);
    *out_emu = emu;
    return HK_OK;
}

hk_result hk_emu_atecc608_load(const char *path, const hk_emu_atecc608_options *opts,
                               hk_emu_atecc608 **out_emu)
{
    if (path == NULL || out_emu == NULL)
        return HK_ERR_INVALID_ARG;
    *out_emu = NULL;
    uint8_t buf[FILE_SIZE + 1];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return HK_ERR_FILE;
    size_t got = fread(buf, 1, sizeof buf, f);
    bool read_error = ferror(f) != 0;
    fclose(f);
    hk_result r = read_error ? HK_ERR_FILE : hk_emu_atecc608_load_buffer(buf, got, opts, out_emu);
    memset(buf, 0, sizeof buf);
    return r;
}

hk_result hk_emu_atecc608_open(const char *path, const hk_emu_atecc608_options *opts,
                               hk_emu_atecc608 **out_emu)
{
    if (path == NULL || out_emu == NULL)
        return HK_ERR_INVALID_ARG;
    hk_result r;
    if (access(path, F_OK) == 0) {
        r = hk_emu_atecc608_load(path, opts, out_emu);
    } else {
        r = hk_emu_atecc608_create(opts, out_emu);
        if (r == HK_OK)
            r = hk_emu_atecc608_save(*out_emu, path);
        if (r != HK_OK) {
            hk_emu_atecc608_destroy(*out_emu);
            *out_emu = NULL;
        }
    }
    if (r == HK_OK) {
        r = hk_emu_atecc608_set_autosave(*out_emu, path);
        if (r != HK_OK) {
            hk_emu_atecc608_destroy(*out_emu);
            *out_emu = NULL;
        }
    }
    return r;
}
