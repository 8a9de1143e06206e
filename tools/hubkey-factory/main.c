/*
 * hubkey-factory — command line: a CA hierarchy, chip configuration and
 * provisioning, batches of emulated chips, and enrollments with
 * hubkey-cloud. docs/hubkey-factory.md is the manual; the exit codes are in
 * factory.h and in that manual.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_help.h"
#include "factory.h"
#include "hubkey/version.h"
#include "verify.h"

#define EXIT_CODES                                                                       \
    "Exit codes:\n"                                                                      \
    "  0  success\n"                                                                     \
    "  1  usage: unknown command or option, missing or bad argument\n"                   \
    "  2  a file or the CA directory cannot be read, written or parsed\n"                \
    "  3  the chip does not answer, or answers with an error\n"                          \
    "  4  the chip is locked with a configuration hubkey cannot use, or is not the\n"    \
    "     --part asked for\n"                                                            \
    "  5  the chip is (or was left) partly configured or provisioned\n"                  \
    "  6  read-back, rebuilt chain or signature check failed\n"                          \
    "  7  hubkey-cloud could not be run or refused the enrollment\n"                     \
    "  8  the chip is not configured yet (run chip configure)\n"                          \
    "  9  refused to overwrite an existing CA, file or directory\n"                      \
    "  10 out of memory or a cryptographic library failure\n"

#define CHIP_SPEC_HELP                                                                   \
    "  --chip SPEC           emu:FILE (software ATECC608A/B state file) or\n"            \
    "                        i2c:/dev/i2c-N[@ADDR] (ADDR 7-bit such as 0x60, or 8-bit\n"  \
    "                        such as 0xC0; default 0x60)\n"
#define CA_HELP "  --ca DIR              the CA directory (default $HUBKEY_FACTORY_CA, else ./hubkey-ca)\n"
#define TESTING_HELP                                                                     \
    "  --chip-faults PPM[,SEED]    emu: only, testing: corrupt and drop responses\n"     \
    "  --chip-power-loss N[,KEEP]  emu: only, testing: power fails in the N-th Write\n"  \
    "                        after KEEP bytes\n"

/* One entry per command; an entry without text is a group of the entries
 * below it. */
static const cli_help_entry help_entries[] = {
    {"ca", "ca init|show|verify ...", NULL},
    {"ca init",
     "ca init [--ca DIR] [--org NAME] [--root-cn CN] [--signer-cn CN]\n"
     "               [--device-subject 'O=...,CN=sn{sn}'] [--root-years N] [--signer-years N]\n"
     "               [--device-years N]",
     "Creates a root and a signer CA (P-256), the certificate definitions and the\n"
     "device subject template in the CA directory. Refuses to overwrite (exit 9).\n\n" CA_HELP
     "  --org NAME            organisation of the three subjects (default hubkey)\n"
     "  --root-cn CN, --signer-cn CN   common names (the signer ID is appended)\n"
     "  --device-subject T    device subject; its CN holds {sn} once (default\n"
     "                        O=hubkey,CN=sn{sn}); the CN is the registration ID\n"
     "  --root-years N, --signer-years N   validity (default 40, 35)\n"
     "  --device-years N      device certificate validity, 0 = no expiry (default 30)\n"},
    {"ca show", "ca show [--ca DIR] [--json]",
     "The CA's certificates, signer ID, device subject and certificate definitions.\n\n" CA_HELP
     "  --json                one object\n"},
    {"ca verify", "ca verify --code CODE [--ca DIR] [--with root|signer] [--out FILE] [--json]",
     "The verification certificate of Azure's proof of possession: subject CN=CODE\n"
     "(the code Azure gives for the uploaded CA certificate), signed by the CA's key,\n"
     "checked under the CA certificate before it is written (docs/azure.md).\n\n" CA_HELP
     "  --code CODE           the verification code (1..64 letters, digits, - _ .)\n"
     "  --with root|signer    the uploaded certificate whose key signs (default root)\n"
     "  --out FILE            where to write it (default verification.pem; replaced)\n"
     "  --json                one object: file, code, signed_by, certificate\n"},
    {"chip", "chip configure|provision|show --chip SPEC ...", NULL},
    {"chip configure", "chip configure --chip SPEC [--part 608a|608b] [--dry-run]",
     "Writes the hubkey configuration, locks the config zone, checks it, locks the\n"
     "data zone. Finishes a partly configured chip; refuses an incompatible one.\n\n"
     CHIP_SPEC_HELP
     "  --part 608a|608b      what a new emu: chip is made as (default 608a); what an\n"
     "                        existing chip must be\n"
     "  --dry-run             say what would be written; change nothing\n" TESTING_HELP},
    {"chip provision", "chip provision --chip SPEC [--ca DIR] [--out DIR] [--reissue] [--json]",
     "Makes the device key inside the chip, issues its certificate, writes the\n"
     "compressed certificates, reads the chain back and verifies it.\n\n" CHIP_SPEC_HELP CA_HELP
     "  --out DIR             also write device.pem, chain.pem and the certificate\n"
     "                        definitions there\n"
     "  --reissue             a new certificate on an already provisioned chip\n"
     "  --json                one object: chip, serial, part, registration_id, sha256,\n"
     "                        sha1, already_provisioned\n" TESTING_HELP},
    {"chip show", "chip show --chip SPEC [--ca DIR] [--json]",
     "What a chip holds (read only): serial, part, locks, configuration, certificates\n"
     "(rebuilt and verified with --ca), the provisioning record.\n\n" CHIP_SPEC_HELP
     "  --ca DIR              rebuild and verify the certificates with this CA\n"
     "  --json                one object\n"},
    {"batch", "batch --count N --dir DIR [--ca DIR] [--part 608a|608b] [--quiet] [--json]",
     "Makes N emulated chips, configured and provisioned, in DIR (new), with\n"
     "manifest.csv and manifest.json.\n\n"
     "  --count N             1..100000\n"
     "  --dir DIR             the directory to create\n" CA_HELP
     "  --part 608a|608b      the part the chips are made as (default 608a)\n"
     "  --quiet               no progress on standard error\n"
     "  --json                print the manifest (one object) instead of the summary\n"},
    {"enroll", "enroll --cloud STATE group|individual [options]", NULL},
    {"enroll group",
     "enroll --cloud STATE group [--name ID] [--ca DIR] [--hubs H1,H2] [--cloud-cli PATH]",
     "Enrolls the CA's signer as an enrollment group of the hubkey-cloud in STATE,\n"
     "and prints the Azure CLI commands that do the same on Azure.\n\n"
     "  --cloud STATE         the hubkey-cloud state directory\n"
     "  --name ID             the enrollment group ID (default from the signer)\n" CA_HELP
     "  --hubs H1,H2          the hubs its devices may be assigned to\n"
     "  --cloud-cli PATH      the hubkey-cloud program (default: next to this one, then\n"
     "                        PATH)\n"},
    {"enroll individual",
     "enroll --cloud STATE individual --chip SPEC [--device-id ID] [--ca DIR] [--hubs H1,H2]\n"
     "               [--cloud-cli PATH]",
     "Enrolls one provisioned chip's device certificate as an individual enrollment.\n\n"
     "  --cloud STATE         the hubkey-cloud state directory\n" CHIP_SPEC_HELP
     "  --device-id ID        the device ID at the hub (default: the registration ID)\n" CA_HELP
     "  --hubs H1,H2          the hubs it may be assigned to\n"
     "  --cloud-cli PATH      the hubkey-cloud program\n"},
    {"help", "help [COMMAND...]", "This text, or a command's (same as COMMAND --help).\n"},
    {"version", "version", "Prints the version (same as --version).\n"},
};

#define N_HELP (sizeof help_entries / sizeof help_entries[0])

static void usage(FILE *f)
{
    fputs("usage: hubkey-factory COMMAND [options]\n"
          "       hubkey-factory COMMAND... --help | --version\n\n",
          f);
    for (size_t i = 0; i < N_HELP; i++)
        if (help_entries[i].text)
            fprintf(f, "  %s\n", help_entries[i].usage);
    fputs("\nSPEC: emu:FILE or i2c:/dev/i2c-N[@ADDR]; --ca DIR defaults to "
          "$HUBKEY_FACTORY_CA, else ./hubkey-ca.\n"
          "`hubkey-factory COMMAND --help` explains a command and its options.\n\n" EXIT_CODES,
          f);
}

static const cli_help factory_help = {"hubkey-factory", "hubkey-factory", help_entries, N_HELP,
                                       EXIT_CODES};

/* Help for the command words: the longest known prefix; a group lists its
 * commands; an unknown command is a usage error. */
static int help_words(const char *const *words, int n)
{
    if (n == 0) {
        usage(stdout);
        return FX_OK;
    }
    char err[256];
    if (cli_help_words(&factory_help, words, n, err, sizeof err) != 0)
        return fx_fail(FX_USAGE, "%s", err);
    return FX_OK;
}

typedef struct args {
    const char *ca, *org, *root_cn, *signer_cn, *device_subject;
    const char *root_years, *signer_years, *device_years;
    const char *chip, *out, *dir, *count, *cloud, *cloud_cli, *name, *device_id, *hubs;
    const char *chip_faults, *chip_power_loss, *part;
    const char *code, *with; /* ca verify */
    bool dry_run, reissue, quiet, json;
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
    OPT("--with", with), FLAG("--dry-run", dry_run), FLAG("--reissue", reissue),
    FLAG("--quiet", quiet), FLAG("--json", json)};

/* The command words of a command line (arguments that are neither options
 * nor option values), for `COMMAND... --help`. */
static int help_from_args(int argc, char **argv, int first)
{
    const char *words[8];
    int n = 0;
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-') {
            for (size_t k = 0; k < sizeof opts_table / sizeof opts_table[0]; k++)
                if (strcmp(opts_table[k].name, argv[i]) == 0 && !opts_table[k].flag)
                    i++; /* its value */
            continue;
        }
        if (n < 8)
            words[n++] = argv[i];
    }
    return help_words(words, n);
}

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
            return fx_fail(FX_USAGE, "unknown option '%s' (see hubkey-factory --help)", s);
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
        int rc = only(a, " --ca --json ");
        return rc ? rc : fx_ca_show(ca_dir(a), a->json);
    }
    if (a->npos == 2 && strcmp(a->pos[1], "verify") == 0) {
        int rc = only(a, " --ca --code --with --out --json ");
        return rc ? rc : fx_ca_verification_cert(ca_dir(a), a->code, a->with, a->out, a->json);
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
        rc = only(a, " --chip --ca --out --reissue --json --chip-faults --chip-power-loss ");
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
        o.quiet = a->json; /* standard output carries the JSON object only */
        o.out_dir = a->out;
        fx_provision_result r;
        rc = fx_provision(&chip, &ca, &o, &r);
        fx_chip_close(&chip);
        if (rc == FX_OK && a->json) {
            char sn[19];
            fx_hex(sn, r.serial, 9, false);
            printf("{\"chip\":");
            fx_json_str(stdout, a->chip);
            printf(",\"serial\":\"%s\",\"part\":", sn);
            fx_json_str(stdout, r.part);
            printf(",\"registration_id\":");
            fx_json_str(stdout, r.registration_id);
            printf(",\"sha256\":\"%s\",\"sha1\":\"%s\",\"already_provisioned\":%s", r.sha256,
                   r.sha1, r.already ? "true" : "false");
            if (a->out) {
                char p[FX_PATH_MAX];
                fx_path(p, a->out, "device.pem");
                printf(",\"device_pem\":");
                fx_json_str(stdout, p);
                fx_path(p, a->out, "chain.pem");
                printf(",\"chain_pem\":");
                fx_json_str(stdout, p);
            }
            printf("}\n");
        } else if (rc == FX_OK) {
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
        rc = only(a, " --chip --ca --json ");
        if (!rc)
            rc = fx_chip_open(&chip, a->chip, FX_OPEN_EXISTING, FX_PART_ANY);
        if (rc)
            return rc;
        rc = fx_chip_show(&chip, a->ca ? a->ca : (getenv("HUBKEY_FACTORY_CA") ? ca_dir(a) : NULL),
                          a->json);
        fx_chip_close(&chip);
        return rc;
    }
    return fx_fail(FX_USAGE, "chip: unknown action '%s' (configure, provision, show)", verb);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FX_USAGE;
    }
    /* COMMAND... --help (anywhere on the line), or help COMMAND... */
    bool dash_help = false;
    for (int i = 1; i < argc && !dash_help; i++)
        dash_help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    if (dash_help || strcmp(argv[1], "help") == 0)
        return help_from_args(argc, argv, dash_help ? 1 : 2);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hubkey-factory %s\n", HUBKEY_VERSION);
        return FX_OK;
    }
    args a;
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc;
    if (a.npos == 0)
        return fx_fail(FX_USAGE, "no command (see hubkey-factory --help)");
    const char *cmd = a.pos[0];
    if (strcmp(cmd, "ca") == 0)
        return cmd_ca(&a);
    if (strcmp(cmd, "chip") == 0)
        return cmd_chip(&a);
    if (strcmp(cmd, "batch") == 0) {
        rc = only(&a, " --count --dir --ca --part --quiet --json ");
        fx_part part = FX_PART_ANY;
        if (!rc)
            rc = fx_part_parse(a.part, &part);
        if (rc)
            return rc;
        if (a.npos != 1 || !a.count || !a.dir)
            return fx_fail(FX_USAGE, "usage: batch --count N --dir DIR [--ca DIR] [--quiet]");
        unsigned n = 0;
        rc = number(a.count, "--count", 1, 100000, 0, &n);
        return rc ? rc : fx_batch(ca_dir(&a), a.dir, n, a.quiet, part, a.json);
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
    return fx_fail(FX_USAGE, "unknown command '%s' (see hubkey-factory --help)", cmd);
}
