/*
 * hubkey-factory — command line: a CA hierarchy, chip configuration and
 * provisioning, batches of emulated chips, and enrollments with
 * hubkey-cloud. docs/hubkey-factory.md is the manual; the exit codes are in
 * factory.h and in that manual.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory.h"
#include "verify.h"

#define FX_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("usage: hubkey-factory COMMAND [options]\n"
          "  ca init [--ca DIR] [--org NAME] [--root-cn CN] [--signer-cn CN]\n"
          "          [--device-subject 'O=...,CN=sn{sn}'] [--root-years N] [--signer-years N]\n"
          "          [--device-years N]        create a root and a signer CA (P-256)\n"
          "  ca show [--ca DIR]\n"
          "  chip configure --chip SPEC [--part 608a|608b] [--dry-run]\n"
          "                                    write, lock and check the configuration\n"
          "  chip provision --chip SPEC [--ca DIR] [--out DIR] [--reissue]\n"
          "  chip show --chip SPEC [--ca DIR]\n"
          "  batch --count N --dir DIR [--ca DIR] [--part 608a|608b] [--quiet]\n"
          "                                    N emulated chips + manifest\n"
          "  enroll --cloud STATE group [--name ID] [--ca DIR] [--hubs H1,H2] [--cloud-cli PATH]\n"
          "  enroll --cloud STATE individual --chip SPEC [--device-id ID] [--ca DIR] [--hubs ...]\n"
          "testing (emu: chips): --chip-faults PPM[,SEED] (corrupt and drop responses),\n"
          "  --chip-power-loss N[,KEEP] (power fails in the N-th Write after KEEP bytes)\n"
          "SPEC: emu:FILE (software ATECC608A/B state file) or i2c:/dev/i2c-N[@ADDR]\n"
          "      (ADDR 7-bit such as 0x60, or 8-bit such as 0xC0; default 0x60)\n"
          "--part: what a new emu: chip is made as (default 608a); for an existing chip,\n"
          "  what it must be (ATECC608A or ATECC608B)\n"
          "--ca DIR defaults to $HUBKEY_FACTORY_CA, else ./hubkey-ca\n"
          "exit codes: 0 ok, 1 usage, 2 file/CA, 3 chip I/O, 4 chip incompatible,\n"
          "  5 chip partly configured/provisioned, 6 verification failed, 7 cloud,\n"
          "  8 chip not configured, 9 refused to overwrite, 10 internal\n",
          f);
}

typedef struct args {
    const char *ca, *org, *root_cn, *signer_cn, *device_subject;
    const char *root_years, *signer_years, *device_years;
    const char *chip, *out, *dir, *count, *cloud, *cloud_cli, *name, *device_id, *hubs;
    const char *chip_faults, *chip_power_loss, *part;
    const char *code, *with; /* ca verify */
    bool dry_run, reissue, quiet;
    const char *pos[4];
    int npos;
} args;

typedef struct opt_def {
    const char *name;
    size_t offset; /* into args */
    bool flag;
} opt_def;

#define OPT(n, f) {n, offsetof(args, f), false}
#define FLAG(n, f) {n, offsetof(args, f), true}

static const opt_def opts_table[] = {
    OPT("--ca", ca), OPT("--org", org), OPT("--root-cn", root_cn), OPT("--signer-cn", signer_cn),
    OPT("--device-subject", device_subject), OPT("--root-years", root_years),
    OPT("--signer-years", signer_years), OPT("--device-years", device_years),
    OPT("--chip", chip), OPT("--out", out), OPT("--dir", dir), OPT("--count", count),
    OPT("--cloud", cloud), OPT("--cloud-cli", cloud_cli), OPT("--name", name),
    OPT("--device-id", device_id), OPT("--hubs", hubs), OPT("--chip-faults", chip_faults),
    OPT("--chip-power-loss", chip_power_loss), OPT("--part", part), OPT("--code", code),
    OPT("--with", with), FLAG("--dry-run", dry_run),
    FLAG("--reissue", reissue), FLAG("--quiet", quiet)};

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) != 0) {
            if (a->npos >= 4)
                return fx_fail(FX_USAGE, "unexpected argument '%s'", s);
            a->pos[a->npos++] = s;
            continue;
        }
        const opt_def *d = NULL;
        for (size_t k = 0; k < sizeof opts_table / sizeof opts_table[0]; k++)
            if (strcmp(opts_table[k].name, s) == 0)
                d = &opts_table[k];
        if (!d)
            return fx_fail(FX_USAGE, "unknown option '%s' (hubkey-factory help)", s);
        if (d->flag) {
            *(bool *)((char *)a + d->offset) = true;
        } else {
            if (i + 1 >= argc)
                return fx_fail(FX_USAGE, "%s needs a value", s);
            *(const char **)((char *)a + d->offset) = argv[++i];
        }
    }
    return FX_OK;
}

/* Options that the command does not take are refused, so a typo in a
 * command line never silently does something else. */
static int only(const args *a, const char *allowed)
{
    for (size_t k = 0; k < sizeof opts_table / sizeof opts_table[0]; k++) {
        const opt_def *d = &opts_table[k];
        bool set = d->flag ? *(const bool *)((const char *)a + d->offset)
                           : *(const char *const *)((const char *)a + d->offset) != NULL;
        if (!set)
            continue;
        char key[40];
        snprintf(key, sizeof key, " %s ", d->name);
        if (!strstr(allowed, key))
            return fx_fail(FX_USAGE, "%s is not an option of this command", d->name);
    }
    return FX_OK;
}

static int number(const char *text, const char *what, unsigned lo, unsigned hi, unsigned dflt,
                  unsigned *out)
{
    if (!text) {
        *out = dflt;
        return FX_OK;
    }
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (!text[0] || *end || text[0] == '-' || v < lo || v > hi)
        return fx_fail(FX_USAGE, "%s must be a number %u..%u", what, lo, hi);
    *out = (unsigned)v;
    return FX_OK;
}

static const char *ca_dir(const args *a)
{
    if (a->ca)
        return a->ca;
    const char *env = getenv("HUBKEY_FACTORY_CA");
    return env && env[0] ? env : "hubkey-ca";
}

static int cmd_ca(const args *a)
{
    if (a->npos == 2 && strcmp(a->pos[1], "init") == 0) {
        int rc = only(a, " --ca --org --root-cn --signer-cn --device-subject --root-years "
                         "--signer-years --device-years ");
        fx_ca_init_opts o = {a->org ? a->org : "hubkey",
                             a->root_cn ? a->root_cn : "hubkey Root CA",
                             a->signer_cn ? a->signer_cn : "hubkey Signer",
                             a->device_subject ? a->device_subject : "O=hubkey,CN=sn{sn}",
                             0, 0, 0};
        if (!rc)
            rc = number(a->root_years, "--root-years", 1, 100, 40, &o.root_years);
        if (!rc)
            rc = number(a->signer_years, "--signer-years", 1, 100, 35, &o.signer_years);
        if (!rc)
            rc = number(a->device_years, "--device-years", 0, 100, 30, &o.device_years);
        return rc ? rc : fx_ca_init(ca_dir(a), &o);
    }
    if (a->npos == 2 && strcmp(a->pos[1], "show") == 0) {
        int rc = only(a, " --ca ");
        return rc ? rc : fx_ca_show(ca_dir(a));
    }
    if (a->npos == 2 && strcmp(a->pos[1], "verify") == 0) {
        int rc = only(a, " --ca --code --with --out ");
        return rc ? rc : fx_ca_verification_cert(ca_dir(a), a->code, a->with, a->out);
    }
    return fx_fail(FX_USAGE, "usage: ca init|show|verify [--ca DIR] ...");
}

static int cmd_chip(const args *a)
{
    if (a->npos != 2)
        return fx_fail(FX_USAGE, "usage: chip configure|provision|show --chip SPEC ...");
    const char *verb = a->pos[1];
    if (!a->chip)
        return fx_fail(FX_USAGE, "chip %s needs --chip emu:FILE|i2c:/dev/i2c-N[@ADDR]", verb);
    fx_chip_spec spec;
    int rc = fx_chip_spec_parse(a->chip, &spec);
    if (rc)
        return rc;
    fx_chip chip;
    if (strcmp(verb, "configure") == 0) {
        rc = only(a, " --chip --part --dry-run --chip-faults --chip-power-loss ");
        fx_part part = FX_PART_ANY;
        if (!rc)
            rc = fx_part_parse(a->part, &part);
        if (!rc)
            rc = fx_chip_open(&chip, a->chip, a->dry_run ? FX_OPEN_DRY : FX_OPEN_CREATE, part);
        if (rc)
            return rc;
        rc = fx_chip_set_faults(&chip, a->chip_faults, a->chip_power_loss);
        if (rc) {
            fx_chip_close(&chip);
            return rc;
        }
        fx_configure_opts o = {a->dry_run, false};
        rc = fx_configure(&chip, &o);
        fx_chip_close(&chip);
        return rc;
    }
    if (strcmp(verb, "provision") == 0) {
        rc = only(a, " --chip --ca --out --reissue --chip-faults --chip-power-loss ");
        if (rc)
            return rc;
        fx_ca ca;
        rc = fx_ca_load(&ca, ca_dir(a), true);
        if (!rc)
            rc = fx_chip_open(&chip, a->chip, FX_OPEN_EXISTING, FX_PART_ANY);
        if (rc) {
            fx_ca_free(&ca);
            return rc;
        }
        rc = fx_chip_set_faults(&chip, a->chip_faults, a->chip_power_loss);
        if (rc) {
            fx_chip_close(&chip);
            fx_ca_free(&ca);
            return rc;
        }
        fx_provision_opts o;
        memset(&o, 0, sizeof o);
        o.reissue = a->reissue;
        o.out_dir = a->out;
        fx_provision_result r;
        rc = fx_provision(&chip, &ca, &o, &r);
        fx_chip_close(&chip);
        if (rc == FX_OK) {
            char sn[19];
            fx_hex(sn, r.serial, 9, false);
            printf("chip %s %s\n", a->chip,
                   r.already ? "was already provisioned" : "provisioned; chain read back and verified");
            printf("serial            %s\n", sn);
            printf("part              %s\n", r.part);
            printf("registration ID   %s\n", r.registration_id);
            printf("SHA-256 thumbprint %s\n", r.sha256);
            printf("SHA-1 thumbprint  %s\n", r.sha1);
            if (a->out)
                printf("certificates      %s/device.pem, %s/chain.pem (definitions: "
                       "%s/device.certdef, signer.certdef)\n", a->out, a->out, a->out);
        }
        fx_provision_result_free(&r);
        fx_ca_free(&ca);
        return rc;
    }
    if (strcmp(verb, "show") == 0) {
        rc = only(a, " --chip --ca ");
        if (!rc)
            rc = fx_chip_open(&chip, a->chip, FX_OPEN_EXISTING, FX_PART_ANY);
        if (rc)
            return rc;
        rc = fx_chip_show(&chip, a->ca ? a->ca : (getenv("HUBKEY_FACTORY_CA") ? ca_dir(a) : NULL));
        fx_chip_close(&chip);
        return rc;
    }
    return fx_fail(FX_USAGE, "chip: unknown action '%s' (configure, provision, show)", verb);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FX_USAGE : FX_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hubkey-factory %s\n", FX_VERSION);
        return FX_OK;
    }
    args a;
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc;
    if (a.npos == 0)
        return fx_fail(FX_USAGE, "no command (hubkey-factory help)");
    const char *cmd = a.pos[0];
    if (strcmp(cmd, "ca") == 0)
        return cmd_ca(&a);
    if (strcmp(cmd, "chip") == 0)
        return cmd_chip(&a);
    if (strcmp(cmd, "batch") == 0) {
        rc = only(&a, " --count --dir --ca --part --quiet ");
        fx_part part = FX_PART_ANY;
        if (!rc)
            rc = fx_part_parse(a.part, &part);
        if (rc)
            return rc;
        if (a.npos != 1 || !a.count || !a.dir)
            return fx_fail(FX_USAGE, "usage: batch --count N --dir DIR [--ca DIR] [--quiet]");
        unsigned n = 0;
        rc = number(a.count, "--count", 1, 100000, 0, &n);
        return rc ? rc : fx_batch(ca_dir(&a), a.dir, n, a.quiet, part);
    }
    if (strcmp(cmd, "enroll") == 0) {
        rc = only(&a, " --cloud --cloud-cli --ca --name --chip --device-id --hubs ");
        if (rc)
            return rc;
        if (a.npos != 2)
            return fx_fail(FX_USAGE, "usage: enroll --cloud STATE group|individual [options]");
        fx_enroll_opts o = {a.cloud, a.cloud_cli, ca_dir(&a), a.pos[1], a.name, a.chip,
                            a.device_id, a.hubs, argv[0]};
        return fx_enroll(&o);
    }
    return fx_fail(FX_USAGE, "unknown command '%s' (hubkey-factory help)", cmd);
}
