/*
 * hubkey-factory — the parsers of untrusted text: chip specs from the
 * command line, ca.conf from the CA directory, names and the device subject
 * template. They only ever return an exit code with a message (never crash,
 * never read past their input); fuzz/factory/fuzz_factory_parsers.c fuzzes
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory.h"

int fx_chip_spec_parse(const char *text, fx_chip_spec *out)
{
    memset(out, 0, sizeof *out);
    out->addr7 = HK_ATECC608_ADDR_DEFAULT;
    if (text == NULL || text[0] == '\0')
        return fx_fail(FX_USAGE, "--chip needs emu:FILE or i2c:/dev/i2c-N[@ADDR]");
    if (strncmp(text, "emu:", 4) == 0) {
        const char *p = text + 4;
        if (p[0] == '\0')
            return fx_fail(FX_USAGE, "chip '%s': emu: needs a state file name", text);
        if (strlen(p) >= sizeof out->path)
            return fx_fail(FX_USAGE, "chip '%s': file name too long", text);
        out->kind = FX_CHIP_EMU;
        strcpy(out->path, p);
        return FX_OK;
    }
    if (strncmp(text, "i2c:", 4) == 0) {
        const char *p = text + 4;
        const char *at = strchr(p, '@');
        size_t n = at ? (size_t)(at - p) : strlen(p);
        if (n == 0)
            return fx_fail(FX_USAGE, "chip '%s': i2c: needs an adapter such as /dev/i2c-1",
                           text);
        if (n >= sizeof out->path)
            return fx_fail(FX_USAGE, "chip '%s': adapter path too long", text);
        memcpy(out->path, p, n);
        out->path[n] = '\0';
        if (at) {
            if (hk_i2c_linux_parse_address(at + 1, &out->addr7) != HK_OK || out->addr7 == 0)
                return fx_fail(FX_USAGE,
                               "chip '%s': '%s' is not an I2C address (7-bit 0x01..0x7F such "
                               "as 0x60, or the 8-bit form 0x80..0xFE, even, such as 0xC0)",
                               text, at + 1);
        }
        out->kind = FX_CHIP_I2C;
        return FX_OK;
    }
    return fx_fail(FX_USAGE, "chip '%s': expected emu:FILE or i2c:/dev/i2c-N[@ADDR]", text);
}


bool fx_name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E || strchr(",=+\\\"<>;#", *p))
            return false;
    return true;
}

/* The device subject template: "ATTR=VALUE,...", one CN, which ends with
 * {sn}; the CN becomes the DPS registration ID, so its other characters are
 * those DPS accepts (lower-case letters, digits, '-', '.', '_', ':'). */
int fx_device_subject_check(const char *s)
{
    if (s == NULL || strlen(s) > 200)
        return fx_fail(FX_USAGE, "--device-subject: missing or longer than 200 characters");
    const char *sn = strstr(s, "{sn}");
    if (!sn || strstr(sn + 4, "{sn}"))
        return fx_fail(FX_USAGE, "--device-subject '%s' must contain {sn} exactly once", s);
    const char *cn = strstr(s, "CN=");
    if (!cn || (cn != s && cn[-1] != ',') || strstr(cn + 3, "CN="))
        return fx_fail(FX_USAGE, "--device-subject '%s' needs exactly one CN=", s);
    if (!(sn > cn && (sn[4] == '\0' || sn[4] == ',') && memchr(cn, ',', (size_t)(sn - cn)) == NULL))
        return fx_fail(FX_USAGE, "--device-subject '%s': {sn} must end the CN value (the "
                                 "certificate format takes the serial from there)", s);
    for (const char *p = cn + 3; p < sn; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._:", *p)))
            return fx_fail(FX_USAGE, "--device-subject '%s': the CN is the DPS registration ID: "
                                     "use lower-case letters, digits, '-', '.', '_', ':'", s);
    if ((size_t)(sn - cn - 3) + 18 > 128)
        return fx_fail(FX_USAGE, "--device-subject: the CN would exceed 128 characters");
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E || strchr("+\\\"<>;#", *p))
            return fx_fail(FX_USAGE, "--device-subject '%s': character '%c' is not allowed", s,
                           *p);
    return FX_OK;
}

int fx_ca_conf_parse(fx_ca *ca, const char *path, const char *text)
{
    bool have_format = false, have_years = false, have_id = false;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[400];
        if (len >= sizeof buf)
            return fx_fail(FX_FILE, "%s: line too long", path);
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = end ? end + 1 : line + len;
        if (buf[0] == '#' || buf[0] == '\0')
            continue;
        char *eq = strchr(buf, '=');
        if (!eq)
            return fx_fail(FX_FILE, "%s: line '%s' is not NAME=VALUE", path, buf);
        *eq = '\0';
        const char *k = buf, *v = eq + 1;
        char *endp = NULL;
        if (strcmp(k, "format") == 0) {
            if (strcmp(v, "1") != 0)
                return fx_fail(FX_FILE, "%s: format %s is not supported (this tool reads 1)",
                               path, v);
            have_format = true;
        } else if (strcmp(k, "org") == 0) {
            snprintf(ca->org, sizeof ca->org, "%s", v);
        } else if (strcmp(k, "root_subject") == 0) {
            snprintf(ca->root_subject, sizeof ca->root_subject, "%s", v);
        } else if (strcmp(k, "signer_subject") == 0) {
            snprintf(ca->signer_subject, sizeof ca->signer_subject, "%s", v);
        } else if (strcmp(k, "device_subject") == 0) {
            if (fx_device_subject_check(v) != FX_OK)
                return fx_fail(FX_FILE, "%s: device_subject is not valid", path);
            snprintf(ca->device_subject, sizeof ca->device_subject, "%s", v);
        } else if (strcmp(k, "device_years") == 0) {
            unsigned long y = strtoul(v, &endp, 10);
            if (!*v || *endp || y > 127)
                return fx_fail(FX_FILE, "%s: device_years must be 0..127", path);
            ca->device_years = (unsigned)y;
            have_years = true;
        } else if (strcmp(k, "signer_id") == 0) {
            unsigned x = 0;
            if (strlen(v) != 4 || sscanf(v, "%4X", &x) != 1)
                return fx_fail(FX_FILE, "%s: signer_id must be 4 hex digits", path);
            ca->signer_id[0] = (uint8_t)(x >> 8);
            ca->signer_id[1] = (uint8_t)x;
            have_id = true;
        }
        /* Unknown names are kept for newer versions of this tool. */
    }
    if (!have_format || !have_years || !have_id || !ca->signer_subject[0] ||
        !ca->device_subject[0])
        return fx_fail(FX_FILE, "%s: incomplete (needs format, signer_subject, device_subject, "
                                "device_years, signer_id)", path);
    return FX_OK;
}


/* "A[,B]" with A in 0..max_a and B in 0..max_b (default dflt_b). */
static bool two_numbers(const char *text, unsigned long max_a, unsigned long max_b,
                        unsigned long dflt_b, unsigned long *a, unsigned long *b)
{
    char *end = NULL;
    if (!text || text[0] < '0' || text[0] > '9')
        return false;
    *a = strtoul(text, &end, 10);
    *b = dflt_b;
    if (*end == ',') {
        const char *t = end + 1;
        if (t[0] < '0' || t[0] > '9')
            return false;
        *b = strtoul(t, &end, 10);
    }
    return *end == '\0' && *a <= max_a && *b <= max_b;
}

int fx_chip_set_faults(fx_chip *chip, const char *faults, const char *power_loss)
{
    if (!faults && !power_loss)
        return FX_OK;
    if (!chip->emu)
        return fx_fail(FX_USAGE, "--chip-faults and --chip-power-loss are for emulated chips");
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    unsigned long a = 0, b = 0;
    if (faults) {
        if (!two_numbers(faults, 1000000, 0xFFFFFFFFul, 1, &a, &b))
            return fx_fail(FX_USAGE, "--chip-faults: PPM[,SEED], PPM 0..1000000");
        f.corrupt_ppm = (uint32_t)a;
        f.drop_ppm = (uint32_t)a;
        f.seed = b;
    }
    if (power_loss) {
        if (!two_numbers(power_loss, 1000000, 32, 0, &a, &b) || a == 0)
            return fx_fail(FX_USAGE, "--chip-power-loss: N[,KEEP], N 1.. (the N-th Write), "
                                     "KEEP 0..32 bytes");
        f.power_loss_at_write = (uint32_t)a;
        f.power_loss_keep_bytes = (uint32_t)b;
    }
    hk_emu_atecc608_faults_set(chip->emu, &f);
    return FX_OK;
}
