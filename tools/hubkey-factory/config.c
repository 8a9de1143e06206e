/*
 * hubkey-factory — the chip configuration and `chip configure`.
 *
 * The configuration is Microchip's TrustFLEX slot map (0 device key, 8
 * provisioning record, 10 device compressed certificate, 11 signer public
 * key, 12 signer compressed certificate) with one change, for the reason
 * given at slot 0 below. docs/hubkey-factory.md shows it byte by byte.
 *
 * Order of the steps and why:
 *  1. bytes 16..127 written (never 0..15, which the chip fixes, nor 84..87,
 *     which belong to UpdateExtra and Lock), read back and compared;
 *  2. the config zone locked with the CRC of the 128 bytes as read back, so
 *     the chip refuses the lock if anything changed in between;
 *  3. slot 8 written with zeros (an empty provisioning record) while the
 *     data zone still takes clear writes; on a chip locked earlier with a
 *     TrustFLEX-style slot 0 (no GenKey after the data lock) the key is made
 *     now, the last moment the chip allows it;
 *  4. the data zone locked;
 *  5. the zone read again and checked with the driver's safety check.
 * Steps 2 and 4 cannot be undone. A run that stops between them leaves a
 * chip whose config zone is locked and whose data zone is not: a new run
 * detects it and continues from step 3.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "factory.h"
#include "hubkey/record.h"
#include "se/atecc608/atecc608_crc.h"

/* SlotConfig / KeyConfig per slot, as 16-bit values (stored little-endian).
 * Slot 0: TrustFLEX has 0x0085 / 0x0053, a key made once at Microchip.
 * Here the key is made by `chip provision` after both zones are locked, so
 * the slot allows GenKey (SlotConfig bit 13: 0x2085) and is Lockable
 * (KeyConfig 0x0073); provisioning locks the slot right after GenKey, and
 * from then on the key is as permanent as on a TrustFLEX part. */
static const uint16_t slot_config[16] = {
    0x2085, 0x0082, 0x2085, 0x2085, 0x2085, 0x468F, 0x0F8F, 0x8F9F,
    0x0F0F, 0x0F8F, 0x0F0F, 0x0F0F, 0x0F0F, 0x0F0F, 0x1F0D, 0x0F0F};
static const uint16_t key_config[16] = {
    0x0073, 0x0053, 0x0073, 0x0073, 0x0073, 0x0038, 0x007C, 0x001C,
    0x003C, 0x001A, 0x003C, 0x0030, 0x003C, 0x0030, 0x0012, 0x0030};

static const char *const slot_role[16] = {
    "device private key (P-256, external sign + ECDH)",
    "internal-sign private key",
    "secondary private key",
    "secondary private key",
    "secondary private key",
    "secret (AES type), encrypted writes",
    "IO protection key",
    "secure-boot digest",
    "provisioning record (416 bytes, clear read/write)",
    "secret AES key",
    "device compressed certificate",
    "signer public key (padded, 72 bytes)",
    "signer compressed certificate",
    "device public key (padded; locked by chip provision)",
    "validated public key",
    "public key"};

void fx_config_fill(uint8_t cfg[HK_ATECC608_CONFIG_SIZE])
{
    cfg[16] = 0xC0; /* I2C address 0x60 (7-bit) */
    cfg[17] = 0x00;
    cfg[18] = 0x00; /* CountMatch off */
    cfg[19] = 0x00; /* ChipMode: address from byte 16, short watchdog, clock M0 */
    for (int n = 0; n < 16; n++) {
        cfg[20 + 2 * n] = (uint8_t)slot_config[n];
        cfg[21 + 2 * n] = (uint8_t)(slot_config[n] >> 8);
        cfg[96 + 2 * n] = (uint8_t)key_config[n];
        cfg[97 + 2 * n] = (uint8_t)(key_config[n] >> 8);
    }
    static const uint8_t counter0[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    memcpy(cfg + 52, counter0, 8); /* Counter0 = 0 */
    memcpy(cfg + 60, counter0, 8); /* Counter1 = 0 */
    memset(cfg + 68, 0, 16);       /* UseLock, VolatileKeyPermission, SecureBoot, KdfIv */
    cfg[73] = 0x69;                /* KdfIvStr "iv", as Microchip ships it */
    cfg[74] = 0x76;
    cfg[88] = 0xFF; /* SlotLocked: nothing locked */
    cfg[89] = 0xFF;
    cfg[90] = 0x00; /* ChipOptions */
    cfg[91] = 0x00;
    memset(cfg + 92, 0, 4); /* X509format */
}

/* The name of the field a config byte belongs to. */
static void field_name(unsigned at, char *out, size_t cap)
{
    if (at >= 20 && at < 52)
        snprintf(out, cap, "SlotConfig[%u] (bytes %u-%u)", (at - 20) / 2, at & ~1u, (at | 1u));
    else if (at >= 96)
        snprintf(out, cap, "KeyConfig[%u] (bytes %u-%u)", (at - 96) / 2, at & ~1u, (at | 1u));
    else if (at == 16)
        snprintf(out, cap, "I2C_Address (byte 16)");
    else if (at == 18)
        snprintf(out, cap, "CountMatch (byte 18)");
    else if (at == 19)
        snprintf(out, cap, "ChipMode (byte 19)");
    else if (at >= 52 && at < 68)
        snprintf(out, cap, "Counter%u (bytes %u-%u)", (at - 52) / 8, at < 60 ? 52 : 60,
                 at < 60 ? 59 : 67);
    else if (at == 68)
        snprintf(out, cap, "UseLock (byte 68)");
    else if (at == 69)
        snprintf(out, cap, "VolatileKeyPermission (byte 69)");
    else if (at == 70 || at == 71)
        snprintf(out, cap, "SecureBoot (bytes 70-71)");
    else if (at >= 72 && at < 75)
        snprintf(out, cap, "KdfIv (bytes 72-74)");
    else if (at == 88 || at == 89)
        snprintf(out, cap, "SlotLocked (bytes 88-89)");
    else if (at == 90 || at == 91)
        snprintf(out, cap, "ChipOptions (bytes 90-91)");
    else if (at >= 92 && at < 96)
        snprintf(out, cap, "X509format (bytes 92-95)");
    else
        snprintf(out, cap, "reserved byte %u", at);
}

static void add(fx_compat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(fx_compat *c, const char *fmt, ...)
{
    size_t n = strlen(c->text);
    if (n + 1 >= sizeof c->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text + n, sizeof c->text - n, fmt, ap);
    va_end(ap);
}

static void add_line(fx_compat *c, const char *line)
{
    add(c, "%s\n", line);
}

/* Fields whose value changes in normal use (counters, slot locks) are not
 * compared: a chip that was used is still the same configuration. */
static bool compared(unsigned at)
{
    if (at < 16 || (at >= 84 && at <= 89))
        return false;
    if (at >= 52 && at < 68)
        return false;
    return true;
}

void fx_config_compare(const uint8_t raw[HK_ATECC608_CONFIG_SIZE], fx_compat *out)
{
    memset(out, 0, sizeof *out);
    uint8_t want[HK_ATECC608_CONFIG_SIZE];
    memcpy(want, raw, sizeof want);
    fx_config_fill(want);

    /* Differences, one line per field. */
    char last[64] = "";
    for (unsigned at = 16; at < HK_ATECC608_CONFIG_SIZE; at++) {
        if (!compared(at) || raw[at] == want[at])
            continue;
        out->differences++;
        char name[64];
        field_name(at, name, sizeof name);
        if (strcmp(name, last) == 0)
            continue;
        strcpy(last, name);
        char line[200];
        unsigned lo = at, hi = at;
        if ((at >= 20 && at < 52) || at >= 96 || (at >= 70 && at < 72) || (at >= 90 && at < 92)) {
            lo = at & ~1u;
            hi = lo + 1;
        }
        int k = snprintf(line, sizeof line, "  differs: %s: chip", name);
        for (unsigned i = lo; i <= hi; i++)
            k += snprintf(line + k, sizeof line - (size_t)k, " %02X", raw[i]);
        k += snprintf(line + k, sizeof line - (size_t)k, ", hubkey");
        for (unsigned i = lo; i <= hi; i++)
            k += snprintf(line + k, sizeof line - (size_t)k, " %02X", want[i]);
        add_line(out, line);
    }
    out->exact = out->differences == 0;

    /* What hubkey needs, whatever the bytes. */
    hk_atecc608_config cfg;
    /* Never fails on any bytes (only NULL pointers, and these are not). */
    hk_result_ignore(hk_atecc608_config_decode(raw, &cfg));
    hk_atecc608_config forced = cfg;
    forced.config_locked = true;
    forced.data_locked = true;
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    if (hk_atecc608_config_check(&forced, 0, &p) != HK_OK) {
        out->problems++;
        add(out, "  problem: slot 0: %s\n", hk_atecc608_problem_str(p));
    }
    const hk_atecc608_slot_config *s0 = &cfg.slots[0];
    if ((s0->write_config & 0x2u) == 0 && !s0->pub_info) {
        out->problems++;
        add_line(out, "  problem: slot 0: GenKey is not allowed (SlotConfig bit 13) and the "
                      "public key cannot be read (KeyConfig.PubInfo): no key can be made or used");
    }
    static const uint8_t data_slots[4] = {8, 10, 11, 12};
    for (int i = 0; i < 4; i++) {
        unsigned n = data_slots[i];
        const hk_atecc608_slot_config *s = &cfg.slots[n];
        char line[200];
        if (s->private_key || s->is_secret || s->encrypt_read) {
            snprintf(line, sizeof line, "  problem: slot %u (%s) is not readable in clear "
                                        "(KeyConfig.Private, IsSecret or EncryptRead set)",
                     n, slot_role[n]);
            add_line(out, line);
            out->problems++;
        }
        if (s->write_config != 0) {
            snprintf(line, sizeof line, "  problem: slot %u (%s) does not take clear writes "
                                        "(SlotConfig.WriteConfig = %u, needs 0)",
                     n, slot_role[n], s->write_config);
            add_line(out, line);
            out->problems++;
        }
        if (n == 11 && s->pub_info) {
            add_line(out, "  problem: slot 11 (signer public key) has KeyConfig.PubInfo set: "
                          "the chip would require the key to be validated");
            out->problems++;
        }
        if (s->locked) {
            snprintf(line, sizeof line, "  problem: slot %u (%s) is slot-locked: it can no "
                                        "longer be written", n, slot_role[n]);
            add_line(out, line);
            out->problems++;
        }
    }
    if (!cfg.i2c_enabled) {
        add_line(out, "  problem: the chip is in single-wire mode (byte 14 bit 0 clear)");
        out->problems++;
    }
}

void fx_config_print(const hk_atecc608_config *cfg, const char *indent)
{
    printf("%sI2C address 0x%02X (7-bit), ChipMode 0x%02X (clock M%u, %s watchdog), "
           "ChipOptions 0x%04X\n",
           indent, cfg->i2c_address7, cfg->chip_mode, cfg->clock_mode == 0xFF ? 9 : cfg->clock_mode,
           (cfg->chip_mode & 4) ? "long" : "short", cfg->chip_options);
    printf("%sslot  SlotConfig KeyConfig  locked  role in hubkey\n", indent);
    for (unsigned n = 0; n < 16; n++) {
        const hk_atecc608_slot_config *s = &cfg->slots[n];
        char flags[160];
        int k = 0;
        flags[0] = '\0';
        if (s->private_key)
            k += snprintf(flags + k, sizeof flags - (size_t)k, " private P%s%s%s%s",
                          s->key_type == 4 ? "-256" : "(type?)",
                          (s->read_key & 1) ? " ext-sign" : "", (s->read_key & 4) ? " ECDH" : "",
                          (s->write_config & 2) ? " GenKey" : "");
        if (s->is_secret)
            k += snprintf(flags + k, sizeof flags - (size_t)k, " secret");
        if (!s->private_key && !s->is_secret && !s->encrypt_read)
            k += snprintf(flags + k, sizeof flags - (size_t)k, " clear-read");
        if (!s->private_key && s->write_config == 0)
            k += snprintf(flags + k, sizeof flags - (size_t)k, " clear-write");
        printf("%s%4u  0x%04X     0x%04X     %-6s  %s [%s ]\n", indent, n, s->slot_config,
               s->key_config, s->locked ? "yes" : "no", slot_role[n], flags);
    }
}

/* ---- chip configure ---- */

/* One config Write (4 or 32 bytes at byte address at). */
static int config_write(fx_chip *chip, unsigned at, const uint8_t *data, size_t len)
{
    uint16_t p2 = 0;
    uint8_t st = 0;
    hk_result r = hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, (uint16_t)at, &p2);
    if (r == HK_OK)
        r = hk_atecc608_write(&chip->dev, HK_ATECC608_ZONE_CONFIG, p2, data, len, &st);
    if (r != HK_OK) {
        char step[80];
        snprintf(step, sizeof step, "writing config bytes %u-%u", at, at + (unsigned)len - 1);
        return fx_chip_error(chip, step, r, st);
    }
    return FX_OK;
}

static void print_bytes(const char *label, const uint8_t *p, size_t len)
{
    printf("%s", label);
    for (size_t i = 0; i < len; i++)
        printf(" %02X", p[i]);
}

/* Writes every word (or 32-byte block) of want that differs from have:
 * 4-byte writes for bytes 16..31 and 64..95 (block 0 holds the fixed bytes
 * 0..15, block 2 holds 84..87), 32-byte writes for blocks 1 and 3. */
static int write_config_zone(fx_chip *chip, const uint8_t have[128], const uint8_t want[128],
                             bool dry_run, unsigned *out_writes)
{
    *out_writes = 0;
    for (unsigned at = 16; at < 128;) {
        size_t len = (at == 32 || at == 96) ? 32 : 4;
        if (at != 84 && memcmp(have + at, want + at, len) != 0) {
            (*out_writes)++;
            if (dry_run) {
                printf("  would write config bytes %3u-%3u:", at, at + (unsigned)len - 1);
                print_bytes("", want + at, len);
                print_bytes("\n                  (the chip has now):", have + at, len);
                printf("\n");
            } else {
                int rc = config_write(chip, at, want + at, len);
                if (rc)
                    return rc;
            }
        }
        at += (unsigned)len;
    }
    return FX_OK;
}

static int read_config(fx_chip *chip, uint8_t raw[128], hk_atecc608_config *cfg)
{
    uint8_t st = 0;
    hk_result r = hk_atecc608_read_config(&chip->dev, raw, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "reading the config zone", r, st);
    /* Never fails on any bytes (only NULL pointers, and these are not). */
    hk_result_ignore(hk_atecc608_config_decode(raw, cfg));
    return FX_OK;
}

static int partial(const fx_chip *chip, const char *what)
{
    return fx_fail(FX_PARTIAL,
                   "chip %s is partly configured: its config zone is LOCKED but its data zone "
                   "is NOT (%s). Run `hubkey-factory chip configure --chip %s` again to finish.",
                   chip->name, what, chip->name);
}

int fx_configure(fx_chip *chip, const fx_configure_opts *opts)
{
    uint8_t raw[128], want[128];
    hk_atecc608_config cfg;
    int rc = read_config(chip, raw, &cfg);
    if (rc)
        return rc;
    char sn[19], part[48];
    fx_hex(sn, cfg.serial, 9, false);
    fx_part_text(cfg.revision, part, sizeof part);
    if (!opts->quiet)
        printf("chip %s: %s serial %s, config zone %s, data zone %s\n", chip->name, part, sn,
               cfg.config_locked ? "locked" : "unlocked", cfg.data_locked ? "locked" : "unlocked");
    memcpy(want, raw, sizeof want);
    fx_config_fill(want);

    if (!cfg.config_locked) {
        if (cfg.data_locked)
            return fx_fail(FX_INCOMPATIBLE, "chip %s: the data zone is locked but the config "
                                            "zone is not; such a chip cannot be configured",
                           chip->name);
        unsigned writes = 0;
        if (opts->dry_run) {
            printf("dry run: nothing is written. The chip would get the hubkey configuration:\n");
            hk_atecc608_config wc;
            /* Never fails on any bytes (only NULL pointers, and these are not). */
            hk_result_ignore(hk_atecc608_config_decode(want, &wc));
            fx_config_print(&wc, "  ");
            rc = write_config_zone(chip, raw, want, true, &writes);
            printf("  %u config writes, then: lock the config zone (summary CRC 0x%04X over the "
                   "128 bytes), write slot 8 with 416 zero bytes (empty provisioning record), "
                   "lock the data zone, check the key slot\n",
                   writes, hk_atecc608_crc16(want, sizeof want));
            return rc;
        }
        rc = write_config_zone(chip, raw, want, false, &writes);
        if (rc)
            return rc;
        uint8_t back[128];
        rc = read_config(chip, back, &cfg);
        if (rc)
            return rc;
        if (memcmp(back, want, sizeof back) != 0) {
            for (unsigned at = 0; at < 128; at++)
                if (back[at] != want[at])
                    return fx_fail(FX_VERIFY, "chip %s: config byte %u reads back as 0x%02X, "
                                              "0x%02X was written; the config zone is NOT "
                                              "locked", chip->name, at, back[at], want[at]);
        }
        uint8_t st = 0;
        hk_result r = hk_atecc608_lock_config(&chip->dev, back, &st);
        if (r != HK_OK) {
            /* A lock whose answer was lost may still have happened. */
            uint8_t again[128];
            hk_atecc608_config now;
            if (read_config(chip, again, &now) == FX_OK && now.config_locked)
                return partial(chip, "the answer to the config lock was lost");
            return fx_chip_error(chip, "locking the config zone (nothing is locked)", r, st);
        }
        if (!opts->quiet)
            printf("config zone written (%u writes) and locked (summary CRC 0x%04X)\n", writes,
                   hk_atecc608_crc16(back, sizeof back));
        memcpy(raw, back, sizeof raw);
        cfg.config_locked = true;
    } else {
        fx_compat c;
        fx_config_compare(raw, &c);
        if (c.problems > 0) {
            fprintf(stderr, "%s", c.text);
            return fx_fail(FX_INCOMPATIBLE,
                           "chip %s: the config zone is locked with a configuration hubkey cannot "
                           "use (%d problem%s above). A locked config zone can never change: use "
                           "another chip.", chip->name, c.problems, c.problems == 1 ? "" : "s");
        }
        if (!opts->quiet) {
            if (c.exact)
                printf("config zone already locked with the hubkey configuration\n");
            else
                printf("config zone already locked with a different but compatible "
                       "configuration (%d bytes differ):\n%s", c.differences, c.text);
        }
    }

    if (!cfg.data_locked) {
        if (opts->dry_run) {
            printf("dry run: nothing is written. Would write slot 8 with 416 zero bytes (empty "
                   "provisioning record), %slock the data zone, check the key slot\n",
                   (cfg.slots[0].write_config & 0x2u) ? ""
                                                      : "make the permanent key in slot 0, ");
            return FX_OK;
        }
        static const uint8_t zeros[HK_RECORD_AREA_SIZE] = {0};
        uint8_t st = 0;
        hk_result r = hk_atecc608_write_slot(&chip->dev, HK_ATECC608_SLOT_RECORD, 0, zeros,
                                             sizeof zeros, &st);
        if (r != HK_OK) {
            fx_chip_error(chip, "writing slot 8 (empty provisioning record)", r, st);
            return partial(chip, "slot 8 could not be written");
        }
        if ((cfg.slots[0].write_config & 0x2u) == 0) {
            /* A TrustFLEX-style permanent key slot: GenKey works only until
             * the data lock, so the key is made now. */
            uint8_t pub[64];
            r = hk_atecc608_genkey(&chip->dev, true, HK_ATECC608_SLOT_DEVICE_KEY, pub, &st);
            if (r != HK_OK) {
                fx_chip_error(chip, "GenKey in slot 0 before the data lock", r, st);
                return partial(chip, "the key in slot 0 could not be made");
            }
            if (!opts->quiet)
                printf("slot 0 allows no GenKey after the data lock: its permanent key was made "
                       "now\n");
        }
        r = hk_atecc608_lock_data(&chip->dev, &st);
        if (r != HK_OK) {
            uint8_t again[128];
            hk_atecc608_config now;
            if (read_config(chip, again, &now) == FX_OK && now.data_locked) {
                if (!opts->quiet)
                    printf("data zone locked (its answer was lost; the lock was read back)\n");
            } else {
                fx_chip_error(chip, "locking the data zone", r, st);
                return partial(chip, "the data-zone lock failed");
            }
        } else if (!opts->quiet) {
            printf("slot 8 cleared, data zone locked\n");
        }
    } else if (opts->dry_run) {
        printf("dry run: the chip is already configured; nothing would be written\n");
        return FX_OK;
    } else if (!opts->quiet) {
        printf("data zone already locked\n");
    }

    /* Verify what the chip now says about itself. */
    rc = read_config(chip, raw, &cfg);
    if (rc)
        return rc;
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    if (hk_atecc608_config_check(&cfg, HK_ATECC608_SLOT_DEVICE_KEY, &p) != HK_OK)
        return fx_fail(FX_VERIFY, "chip %s: check after configuring failed: %s", chip->name,
                       hk_atecc608_problem_str(p));
    fx_compat c;
    fx_config_compare(raw, &c);
    if (c.problems > 0) {
        fprintf(stderr, "%s", c.text);
        return fx_fail(FX_VERIFY, "chip %s: the configuration read back is not usable",
                       chip->name);
    }
    if (!opts->quiet)
        printf("chip %s is configured: both zones locked, slot 0 safe for the device key. "
               "Next: hubkey-factory chip provision --chip %s\n", chip->name, chip->name);
    return FX_OK;
}
