/*
 * hubkey-factory — `enroll`: registers the CA (group enrollment) or one
 * device (individual enrollment) with a local hubkey-cloud by running its
 * CLI, and prints the Azure CLI commands that do the same on Azure.
 *
 * The hubkey-cloud program is --cloud-cli PATH, else $HUBKEY_CLOUD_CLI,
 * else hubkey-cloud next to this program, else hubkey-cloud on $PATH. It is
 * started with execv/execvp, never through a shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "factory.h"

static void cloud_program(const fx_enroll_opts *o, char *out, size_t cap)
{
    if (o->cloud_cli) {
        snprintf(out, cap, "%s", o->cloud_cli);
        return;
    }
    const char *env = getenv("HUBKEY_CLOUD_CLI");
    if (env && env[0]) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char self[FX_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char cand[FX_PATH_MAX + 16];
        snprintf(cand, sizeof cand, "%s/hubkey-cloud", dirname(self));
        /* A path that does not fit out is not used (never a cut one). */
        if (access(cand, X_OK) == 0 && (size_t)snprintf(out, cap, "%s", cand) < cap)
            return;
    }
    snprintf(out, cap, "hubkey-cloud");
}

/* Runs the cloud CLI with argv (NULL-terminated); its output goes to ours. */
static int run_cloud(const char *prog, char *const argv[])
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return fx_fail(FX_CLOUD, "cannot start %s: %s", prog, strerror(errno));
    if (pid == 0) {
        if (strchr(prog, '/'))
            execv(prog, argv);
        else
            execvp(prog, argv);
        fprintf(stderr, "hubkey-factory: cannot run %s: %s (give --cloud-cli PATH)\n", prog,
                strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fx_fail(FX_CLOUD, "waiting for %s failed: %s", prog, strerror(errno));
    }
    if (!WIFEXITED(status))
        return fx_fail(FX_CLOUD, "%s was killed by signal %d", prog, WTERMSIG(status));
    if (WEXITSTATUS(status) == 127)
        return FX_CLOUD;
    if (WEXITSTATUS(status) != 0)
        return fx_fail(FX_CLOUD, "hubkey-cloud refused the enrollment (exit code %d, message "
                                 "above)", WEXITSTATUS(status));
    return FX_OK;
}

/* hubkey-cloud --dir DIR enroll KIND add NAME --cert FILE
 *   [--device-id ID (individual only)] [--hubs LIST] */
static int cloud_enroll(const char *prog, const fx_enroll_opts *o, const char *kind,
                        const char *name, const char *cert)
{
    char *argv[16];
    int k = 0;
    argv[k++] = (char *)prog;
    argv[k++] = "--dir";
    argv[k++] = (char *)o->cloud_dir;
    argv[k++] = "enroll";
    argv[k++] = (char *)kind;
    argv[k++] = "add";
    argv[k++] = (char *)name;
    argv[k++] = "--cert";
    argv[k++] = (char *)cert;
    if (o->device_id && strcmp(kind, "individual") == 0) {
        argv[k++] = "--device-id";
        argv[k++] = (char *)o->device_id;
    }
    if (o->hubs) {
        argv[k++] = "--hubs";
        argv[k++] = (char *)o->hubs;
    }
    argv[k] = NULL;
    return run_cloud(prog, argv);
}

static bool reg_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-._:", *s)))
            return false;
    return true;
}

static int enroll_group(const fx_enroll_opts *o, const char *prog)
{
    fx_ca ca;
    int rc = fx_ca_load(&ca, o->ca_dir, false);
    if (rc) {
        fx_ca_free(&ca);
        return rc;
    }
    char name[160];
    if (o->name)
        snprintf(name, sizeof name, "%s", o->name);
    else
        snprintf(name, sizeof name, "hubkey-signer-%02x%02x", ca.signer_id[0], ca.signer_id[1]);
    fx_ca_free(&ca);
    if (!reg_id_ok(name))
        return fx_fail(FX_USAGE, "--name '%s': an enrollment group ID is 1..128 lower-case "
                                 "letters, digits, '-', '.', '_', ':'", name);
    char chain[FX_PATH_MAX], root[FX_PATH_MAX];
    fx_path(chain, o->ca_dir, "chain.pem");
    fx_path(root, o->ca_dir, "root.pem");
    if (!fx_exists(chain))
        return fx_fail(FX_FILE, "%s: missing (the CA directory is incomplete)", chain);
    rc = cloud_enroll(prog, o, "group", name, chain);
    if (rc)
        return rc;
    printf("group enrollment %s registered with hubkey-cloud in %s (signer CA %s, root "
           "uploaded as a verified CA)\n", name, o->cloud_dir, chain);
    printf("On Azure (replace MYDPS and MYRG), the same with the Azure CLI:\n"
           "  az iot dps certificate create --dps-name MYDPS --resource-group MYRG "
           "--certificate-name %s-root --path %s --verified true\n"
           "  az iot dps enrollment-group create --dps-name MYDPS --resource-group MYRG "
           "--enrollment-id %s --certificate-path %s/signer.pem\n",
           name, root, name, o->ca_dir);
    return FX_OK;
}

static int enroll_individual(const fx_enroll_opts *o, const char *prog)
{
    if (!o->chip)
        return fx_fail(FX_USAGE, "enroll individual needs --chip emu:FILE|i2c:/dev/i2c-N[@ADDR]");
    if (o->device_id && (o->device_id[0] == '\0' || strlen(o->device_id) > 128))
        return fx_fail(FX_USAGE, "--device-id: 1..128 characters");
    fx_ca ca;
    int rc = fx_ca_load(&ca, o->ca_dir, false);
    if (rc) {
        fx_ca_free(&ca);
        return rc;
    }
    fx_chip chip;
    rc = fx_chip_open(&chip, o->chip, FX_OPEN_EXISTING, FX_PART_ANY);
    uint8_t *dev = NULL, *sig = NULL;
    size_t dlen = 0, slen = 0;
    if (!rc)
        rc = fx_chip_read_chain(&chip, &ca, &dev, &dlen, &sig, &slen);
    fx_chip_close(&chip);
    char why[300], cn[160], tmp[FX_PATH_MAX];
    tmp[0] = '\0';
    if (!rc && fx_ca_verify_chain(&ca, dev, dlen, sig, slen, why, sizeof why) != 0)
        rc = fx_fail(FX_VERIFY, "chip %s: its chain does not verify up to %s/root.pem: %s",
                     o->chip, o->ca_dir, why);
    if (!rc && fx_cert_cn(dev, dlen, cn, sizeof cn) != 0)
        rc = fx_fail(FX_VERIFY, "chip %s: the device certificate has no CN", o->chip);
    if (!rc) {
        const char *t = getenv("TMPDIR");
        /* mkstemps replaces the six 'X' before the 4-byte ".pem" suffix. */
        static const char unique[] = {'X', 'X', 'X', 'X', 'X', 'X', '\0'};
        snprintf(tmp, sizeof tmp, "%s/hubkey-factory-%s.pem", t && t[0] ? t : P_tmpdir, unique);
        int fd = mkstemps(tmp, 4);
        char *pem = fx_pem("CERTIFICATE", dev, dlen);
        if (fd < 0 || !pem || write(fd, pem, strlen(pem)) != (ssize_t)strlen(pem))
            rc = fx_fail(FX_FILE, "%s: cannot write a temporary certificate file", tmp);
        if (fd >= 0)
            close(fd);
        free(pem);
    }
    if (!rc) {
        rc = cloud_enroll(prog, o, "individual", cn, tmp);
    }
    if (tmp[0])
        unlink(tmp);
    if (!rc) {
        char hex[65];
        fx_sha256_hex(dev, dlen, hex);
        printf("individual enrollment %s registered with hubkey-cloud in %s (certificate "
               "SHA-256 %s)\n", cn, o->cloud_dir, hex);
        printf("On Azure (replace MYDPS and MYRG; device.pem = the certificate, for example from "
               "chip provision --out DIR), the same with the Azure CLI:\n"
               "  az iot dps enrollment create --dps-name MYDPS --resource-group MYRG "
               "--enrollment-id %s --attestation-type x509 --certificate-path device.pem%s%s\n",
               cn, o->device_id ? " --device-id " : "", o->device_id ? o->device_id : "");
    }
    free(dev);
    free(sig);
    fx_ca_free(&ca);
    return rc;
}

int fx_enroll(const fx_enroll_opts *o)
{
    if (!o->cloud_dir)
        return fx_fail(FX_USAGE, "enroll needs --cloud STATE (the hubkey-cloud state directory)");
    if (!o->kind)
        return fx_fail(FX_USAGE, "enroll needs group or individual");
    char prog[FX_PATH_MAX];
    cloud_program(o, prog, sizeof prog);
    if (strcmp(o->kind, "group") == 0) {
        if (o->chip || o->device_id)
            return fx_fail(FX_USAGE, "--chip and --device-id are for enroll individual");
        return enroll_group(o, prog);
    }
    if (strcmp(o->kind, "individual") == 0) {
        if (o->name)
            return fx_fail(FX_USAGE, "--name is for enroll group (the registration ID of an "
                                     "individual enrollment is the certificate's CN)");
        return enroll_individual(o, prog);
    }
    return fx_fail(FX_USAGE, "enroll: '%s' is not group or individual", o->kind);
}
