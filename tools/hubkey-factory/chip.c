/*
 * hubkey-factory — opening a chip: "emu:FILE" (the software ATECC608A in a
 * state file) or "i2c:/dev/i2c-N[@ADDR]" (a real chip on a Linux adapter).
 * The spec is parsed here and nowhere else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "factory.h"

/* A serial number of the form Microchip gives its parts, 01 23 xx..xx EE,
 * with six random middle bytes. */
static int random_serial(uint8_t serial[9])
{
    uint8_t mid[6];
    if (getrandom(mid, sizeof mid, 0) != (ssize_t)sizeof mid)
        return fx_fail(FX_INTERNAL, "no randomness for an emulated chip's serial number");
    serial[0] = 0x01;
    serial[1] = 0x23;
    memcpy(serial + 2, mid, 6);
    serial[8] = 0xEE;
    return FX_OK;
}

int fx_part_parse(const char *text, fx_part *out)
{
    *out = FX_PART_ANY;
    if (text == NULL)
        return FX_OK;
    if (strcasecmp(text, "608a") == 0)
        *out = FX_PART_608A;
    else if (strcasecmp(text, "608b") == 0)
        *out = FX_PART_608B;
    else
        return fx_fail(FX_USAGE, "--part '%s': expected 608a (ATECC608A) or 608b (ATECC608B)",
                       text);
    return FX_OK;
}

void fx_part_text(const uint8_t revision[4], char *out, size_t cap)
{
    hk_atecc608_part p = hk_atecc608_part_of(revision);
    if (p != HK_ATECC608_PART_UNKNOWN)
        snprintf(out, cap, "%s", hk_atecc608_part_name(p));
    else
        snprintf(out, cap, "unknown part (revision %02X %02X %02X %02X)", revision[0],
                 revision[1], revision[2], revision[3]);
}

/* --part on an existing chip: it must be that part (Info revision). */
static int check_part(fx_chip *chip, fx_part want)
{
    if (want == FX_PART_ANY)
        return FX_OK;
    uint8_t rev[4], st = 0;
    hk_result r = hk_atecc608_info(&chip->dev, 0, 0, rev, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "reading the revision (Info)", r, st);
    hk_atecc608_part is = hk_atecc608_part_of(rev);
    hk_atecc608_part need = want == FX_PART_608B ? HK_ATECC608_PART_B : HK_ATECC608_PART_A;
    if (is == need)
        return FX_OK;
    char text[48];
    fx_part_text(rev, text, sizeof text);
    return fx_fail(FX_INCOMPATIBLE, "chip %s is an %s, not the %s --part asks for", chip->name,
                   text, hk_atecc608_part_name(need));
}

static int attach(fx_chip *chip, hk_i2c *i2c)
{
    if (hk_atecc608_init(&chip->dev, i2c, chip->spec.addr7) != HK_OK)
        return fx_fail(FX_INTERNAL, "chip %s: driver initialisation failed", chip->name);
    return FX_OK;
}

static int open_chip(fx_chip *chip, const char *spec_text, fx_open_mode mode, fx_part part);

int fx_chip_open(fx_chip *chip, const char *spec_text, fx_open_mode mode, fx_part part)
{
    int rc = open_chip(chip, spec_text, mode, part);
    if (rc == FX_OK) {
        rc = check_part(chip, part);
        if (rc)
            fx_chip_close(chip);
    }
    return rc;
}

static int open_chip(fx_chip *chip, const char *spec_text, fx_open_mode mode, fx_part part)
{
    memset(chip, 0, sizeof *chip);
    int rc = fx_chip_spec_parse(spec_text, &chip->spec);
    if (rc)
        return rc;
    snprintf(chip->name, sizeof chip->name, "%s", spec_text);
    if (chip->spec.kind == FX_CHIP_I2C) {
        hk_i2c i2c;
        hk_result r = hk_i2c_linux_open(&chip->linux_i2c, chip->spec.path, 0, &i2c);
        if (r == HK_ERR_NOT_FOUND)
            return fx_fail(FX_CHIP_IO, "chip %s: %s does not exist (is the I2C adapter enabled?)",
                           chip->name, chip->spec.path);
        if (r != HK_OK)
            return fx_fail(FX_CHIP_IO, "chip %s: %s cannot be opened as an I2C adapter: %s",
                           chip->name, chip->spec.path, strerror(errno));
        chip->linux_open = true;
        return attach(chip, &i2c);
    }

    hk_emu_atecc608_options opts;
    hk_emu_atecc608_options_init(&opts);
    hk_result r;
    if (fx_exists(chip->spec.path)) {
        r = hk_emu_atecc608_load(chip->spec.path, &opts, &chip->emu);
        if (r == HK_ERR_FILE)
            return fx_fail(FX_FILE, "chip %s: %s cannot be read", chip->name, chip->spec.path);
        if (r == HK_ERR_MALFORMED)
            return fx_fail(FX_FILE, "chip %s: %s is not an emulated-chip state file (bad magic, "
                                    "size or checksum)", chip->name, chip->spec.path);
        if (r == HK_ERR_UNSUPPORTED)
            return fx_fail(FX_FILE, "chip %s: %s has a state-file version this build does not "
                                    "read", chip->name, chip->spec.path);
        if (r != HK_OK)
            return fx_fail(FX_FILE, "chip %s: %s: %s", chip->name, chip->spec.path,
                           hk_result_str(r));
    } else {
        if (mode == FX_OPEN_EXISTING)
            return fx_fail(FX_FILE, "chip %s: no emulated chip file %s (chip configure creates "
                                    "one)", chip->name, chip->spec.path);
        opts.has_serial = true;
        opts.part = part == FX_PART_608B ? HK_EMU_ATECC608_PART_B : HK_EMU_ATECC608_PART_A;
        rc = random_serial(opts.serial);
        if (rc)
            return rc;
        r = hk_emu_atecc608_create(&opts, &chip->emu);
        if (r != HK_OK)
            return fx_fail(FX_INTERNAL, "chip %s: emulator: %s", chip->name, hk_result_str(r));
        if (mode == FX_OPEN_CREATE) {
            if (hk_emu_atecc608_save(chip->emu, chip->spec.path) != HK_OK) {
                hk_emu_atecc608_destroy(chip->emu);
                chip->emu = NULL;
                return fx_fail(FX_FILE, "chip %s: %s cannot be written", chip->name,
                               chip->spec.path);
            }
            printf("created a factory-new emulated %s in %s\n",
                   part == FX_PART_608B ? "ATECC608B" : "ATECC608A", chip->spec.path);
        }
    }
    if (mode != FX_OPEN_DRY && hk_emu_atecc608_set_autosave(chip->emu, chip->spec.path) != HK_OK) {
        fx_chip_close(chip);
        return fx_fail(FX_INTERNAL, "chip %s: autosave could not be set", chip->name);
    }
    hk_i2c i2c = hk_emu_atecc608_i2c(chip->emu);
    return attach(chip, &i2c);
}

int fx_chip_wrap_emu(fx_chip *chip, hk_emu_atecc608 *emu, const char *name)
{
    memset(chip, 0, sizeof *chip);
    chip->spec.kind = FX_CHIP_EMU;
    chip->spec.addr7 = HK_ATECC608_ADDR_DEFAULT;
    snprintf(chip->name, sizeof chip->name, "%s", name);
    chip->emu = emu;
    hk_i2c i2c = hk_emu_atecc608_i2c(emu);
    return attach(chip, &i2c);
}

void fx_chip_close(fx_chip *chip)
{
    /* Best effort: the chip sleeps on its own watchdog anyway. */
    if (chip->emu != NULL || chip->linux_open)
        hk_result_ignore(hk_atecc608_sleep(&chip->dev));
    if (chip->emu != NULL) {
        hk_emu_atecc608_counters c;
        hk_emu_atecc608_counters_get(chip->emu, &c);
        if (c.autosave_failures > 0)
            fx_note("chip %s: %llu state-file saves failed; the file may be behind the chip",
                    chip->name, (unsigned long long)c.autosave_failures);
        hk_emu_atecc608_destroy(chip->emu);
        chip->emu = NULL;
    }
    if (chip->linux_open) {
        hk_i2c_linux_close(&chip->linux_i2c);
        chip->linux_open = false;
    }
}

static const char *status_text(uint8_t s)
{
    switch (s) {
    case HK_ATECC608_STATUS_MISCOMPARE:
        return "miscompare";
    case HK_ATECC608_STATUS_PARSE:
        return "parse error: the chip refused the command's parameters";
    case HK_ATECC608_STATUS_ECC:
        return "ECC fault";
    case HK_ATECC608_STATUS_SELFTEST:
        return "the chip is in self-test failure mode";
    case HK_ATECC608_STATUS_HEALTH:
        return "RNG health test failed";
    case HK_ATECC608_STATUS_EXECUTION:
        return "execution error: not allowed by the chip's configuration or lock state";
    case HK_ATECC608_STATUS_WATCHDOG:
        return "watchdog";
    case HK_ATECC608_STATUS_CRC:
        return "the chip saw a bad CRC";
    default:
        return "unknown status";
    }
}

int fx_chip_error(const fx_chip *chip, const char *step, hk_result r, uint8_t status)
{
    if (r == HK_ERR_SE_STATUS)
        return fx_fail(FX_CHIP_IO, "chip %s: %s: status 0x%02X (%s)", chip->name, step, status,
                       status_text(status));
    return fx_fail(FX_CHIP_IO, "chip %s: %s: %s", chip->name, step, hk_result_str(r));
}
