/*
 * hubkey — the agent's secure element: an emulated chip file, a real
 * ATECC608A on /dev/i2c-N, or the development software key.
 *
 * Certificate definitions. A chip stores its certificates compressed; the
 * definitions (device.certdef and signer.certdef, written by
 * `hubkey-factory ca init` into its CA directory) rebuild them. They are
 * looked up in: --certdefs DIR, $HUBKEY_CERTDEFS, the directory of the
 * --config file, the directory of an emulated chip's file, /etc/hubkey. The first directory that holds
 * device.certdef wins; signer.certdef must be next to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_io.h"
#include "hubkey/record.h"

#define SYSTEM_CERTDEFS_DIR "/etc/hubkey"
#define CERTDEF_MAX (HK_CERT_MAX_TEMPLATE + 1024u)

static int fail(int code, char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int code, char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads a whole small file into a heap buffer. */
static int read_small(const char *path, size_t max, uint8_t **out, size_t *out_len, char *err,
                      size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(AGENT_EXIT_FILE, err, cap, "%s: %s", path, strerror(errno));
    uint8_t *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return fail(AGENT_EXIT_INTERNAL, err, cap, "out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > max) {
        free(buf);
        return fail(AGENT_EXIT_FILE, err, cap, "%s: %s", path,
                    bad ? "read error" : "file too large for a certificate definition");
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int load_def(const char *dir, const char *name, uint8_t **buf, hk_cert_def *def,
                    char *err, size_t cap)
{
    char path[AGENT_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len = 0;
    int rc = read_small(path, CERTDEF_MAX, buf, &len, err, cap);
    if (rc)
        return rc;
    hk_result r = hk_cert_def_parse(*buf, len, def);
    if (r != HK_OK)
        return fail(AGENT_EXIT_FILE, err, cap, "%s: not a certificate definition: %s (%s)", path,
                    hk_result_name(r), hk_result_str(r));
    return 0;
}

/* The directory part of path ("." when there is none). */
static void dir_of(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == out)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(out, cap, ".");
}

/* The directory to take the definitions from (see the file comment). */
static int find_certdefs(agent_chip *chip, const agent_options *o, char *err, size_t cap)
{
    const char *cands[5];
    size_t n = 0;
    char emu_dir[AGENT_PATH_MAX];
    char config_dir[AGENT_PATH_MAX];
    if (o->certdefs) {
        cands[n++] = o->certdefs; /* explicit: nothing else is tried */
    } else {
        const char *env = getenv("HUBKEY_CERTDEFS");
        if (env && *env)
            cands[n++] = env;
        if (o->config_file) {
            dir_of(o->config_file, config_dir, sizeof(config_dir));
            cands[n++] = config_dir;
        }
        if (chip->kind == AGENT_CHIP_EMU) {
            dir_of(o->chip.path, emu_dir, sizeof(emu_dir));
            cands[n++] = emu_dir;
        }
        cands[n++] = SYSTEM_CERTDEFS_DIR;
    }
    char tried[3 * AGENT_PATH_MAX] = "";
    for (size_t i = 0; i < n; i++) {
        char path[AGENT_PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/device.certdef", cands[i]);
        if (file_exists(path)) {
            snprintf(chip->certdefs_dir, sizeof(chip->certdefs_dir), "%s", cands[i]);
            return 0;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof(tried) - used, "%s%s", used ? ", " : "", cands[i]);
    }
    return fail(AGENT_EXIT_FILE, err, cap,
                "no certificate definitions (device.certdef) in %s: give --certdefs with the "
                "directory hubkey-factory wrote them to (its CA directory)",
                tried);
}

static int open_atecc(agent_chip *chip, const hk_i2c *i2c, uint8_t addr7, char *err, size_t cap)
{
    hk_result r = hk_atecc608_init(&chip->dev, i2c, addr7);
    if (r != HK_OK)
        return fail(AGENT_EXIT_CHIP, err, cap, "chip %s: %s", chip->name, hk_result_str(r));
    hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
    r = hk_se_atecc608_open(&chip->se_ctx, &chip->dev, &chip->device_def, &chip->signer_def,
                            &chip->se, &problem);
    if (r != HK_OK) {
        if (problem != HK_ATECC608_PROBLEM_NONE)
            return fail(AGENT_EXIT_CHIP, err, cap,
                        "chip %s cannot hold a hubkey identity: %s (%s); prepare it with "
                        "hubkey-factory chip configure",
                        chip->name, hk_atecc608_problem_str(problem), hk_result_name(r));
        return fail(AGENT_EXIT_CHIP, err, cap, "chip %s does not answer properly: %s (%s)",
                    chip->name, hk_result_name(r), hk_result_str(r));
    }
    return 0;
}

int agent_chip_open(agent_chip *chip, const agent_options *o, char *err, size_t cap)
{
    memset(chip, 0, sizeof(*chip));
    chip->kind = o->chip.kind;
    int rc = 0;
    switch (o->chip.kind) {
    case AGENT_CHIP_EMU:
        snprintf(chip->name, sizeof(chip->name), "emu:%s", o->chip.path);
        break;
    case AGENT_CHIP_I2C:
        snprintf(chip->name, sizeof(chip->name), "i2c:%s@0x%02x", o->chip.path, o->chip.addr7);
        break;
    case AGENT_CHIP_SOFT:
        snprintf(chip->name, sizeof(chip->name), "soft:%s", o->chip.path);
        break;
    case AGENT_CHIP_NONE:
        return fail(AGENT_EXIT_USAGE, err, cap,
                    "no chip: give --chip emu:FILE, i2c:/dev/i2c-N[@ADDRESS] or soft:KEY,CERT "
                    "(or HUBKEY_CHIP)");
    }

    if (o->chip.kind == AGENT_CHIP_SOFT) {
        if (o->record_file)
            snprintf(chip->record_file, sizeof(chip->record_file), "%s", o->record_file);
        else
            snprintf(chip->record_file, sizeof(chip->record_file), "%s.record", o->chip.path);
        hk_softkey_paths paths = {.key_pem = o->chip.path,
                                  .device_cert_pem = o->chip.cert,
                                  .signer_cert_pem = o->chip.signer[0] ? o->chip.signer : NULL,
                                  .data_file = chip->record_file};
        hk_result r = hk_softkey_open(&chip->soft, &paths);
        if (r != HK_OK)
            return fail(r == HK_ERR_FILE || r == HK_ERR_CERT_PARSE ? AGENT_EXIT_FILE
                                                                    : AGENT_EXIT_CHIP,
                        err, cap, "software key %s with %s (record %s): %s (%s)", o->chip.path,
                        o->chip.cert, chip->record_file, hk_result_name(r), hk_result_str(r));
        chip->soft_open = true;
        chip->se = hk_softkey_se(&chip->soft);
        return 0;
    }

    rc = find_certdefs(chip, o, err, cap);
    if (rc == 0)
        rc = load_def(chip->certdefs_dir, "device.certdef", &chip->device_def_buf,
                      &chip->device_def, err, cap);
    if (rc == 0)
        rc = load_def(chip->certdefs_dir, "signer.certdef", &chip->signer_def_buf,
                      &chip->signer_def, err, cap);
    if (rc) {
        agent_chip_close(chip);
        return rc;
    }

    if (o->chip.kind == AGENT_CHIP_EMU) {
        if (!file_exists(o->chip.path)) {
            agent_chip_close(chip);
            return fail(AGENT_EXIT_CHIP, err, cap,
                        "chip %s: no such file (make one with hubkey-factory chip provision "
                        "--chip %s)",
                        chip->name, chip->name);
        }
        hk_emu_atecc608_options eo;
        hk_emu_atecc608_options_init(&eo);
        /* The model's busy times are the chip's real maximums: the driver
         * polls, as on hardware, and the model clock only moves when the
         * driver waits, so this costs no real time. */
        hk_result r = hk_emu_atecc608_open(o->chip.path, &eo, &chip->emu);
        if (r != HK_OK) {
            agent_chip_close(chip);
            return fail(AGENT_EXIT_CHIP, err, cap, "chip %s: %s (%s)", chip->name,
                        hk_result_name(r), hk_result_str(r));
        }
        if (o->chip_fault_ppm || o->power_loss_at_write) {
            hk_emu_atecc608_faults f;
            memset(&f, 0, sizeof(f));
            f.seed = o->chip_fault_seed;
            f.corrupt_ppm = o->chip_fault_ppm;
            f.drop_ppm = o->chip_fault_ppm;
            f.power_loss_at_write = o->power_loss_at_write;
            f.power_loss_keep_bytes = o->power_loss_keep_bytes;
            hk_emu_atecc608_faults_set(chip->emu, &f);
        }
        hk_i2c i2c = hk_emu_atecc608_i2c(chip->emu);
        rc = open_atecc(chip, &i2c, HK_EMU_ATECC608_DEFAULT_ADDR7, err, cap);
    } else {
        hk_i2c i2c;
        hk_result r = hk_i2c_linux_open(&chip->i2c_linux, o->chip.path, 0, &i2c);
        if (r != HK_OK) {
            agent_chip_close(chip);
            return fail(AGENT_EXIT_CHIP, err, cap, "chip %s: cannot open %s: %s (%s)",
                        chip->name, o->chip.path, hk_result_name(r),
                        r == HK_ERR_NOT_FOUND ? "no such adapter; is the I2C bus enabled?"
                                              : hk_result_str(r));
        }
        chip->i2c_open = true;
        rc = open_atecc(chip, &i2c, o->chip.addr7, err, cap);
    }
    if (rc)
        agent_chip_close(chip);
    return rc;
}

void agent_chip_close(agent_chip *chip)
{
    /* Best effort: the chip sleeps on its own watchdog anyway. */
    if (chip->emu || chip->i2c_open)
        hk_result_ignore(hk_atecc608_sleep(&chip->dev));
    if (chip->emu)
        hk_emu_atecc608_destroy(chip->emu);
    chip->emu = NULL;
    if (chip->i2c_open)
        hk_i2c_linux_close(&chip->i2c_linux);
    chip->i2c_open = false;
    if (chip->soft_open)
        hk_softkey_close(&chip->soft);
    chip->soft_open = false;
    free(chip->device_def_buf);
    free(chip->signer_def_buf);
    chip->device_def_buf = NULL;
    chip->signer_def_buf = NULL;
    memset(&chip->se, 0, sizeof(chip->se));
}

int agent_chip_saved(const agent_chip *chip, char *err, size_t cap)
{
    int e = 0;
    if (chip->emu == NULL || hk_emu_atecc608_autosave_error(chip->emu, &e) == HK_OK)
        return 0;
    /* name is "emu:" followed by the file's path */
    return fail(AGENT_EXIT_CHIP, err, cap,
                "chip %s: the chip file %s cannot be saved: %s; the change is not kept (make "
                "the file and its directory writable)",
                chip->name, chip->name + 4, strerror(e));
}

bool agent_chip_lost_power(agent_chip *chip)
{
    return chip->emu && hk_emu_atecc608_power_state_get(chip->emu) == HK_EMU_ATECC608_OFF;
}
