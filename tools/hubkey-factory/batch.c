/*
 * hubkey-factory — `batch`: N emulated chips configured and provisioned
 * like real ones, for tests and benchmarks, with a manifest.
 *
 * Each chip lives in memory while it is made (the emulator's model clock
 * runs the chip's timing, nothing sleeps) and is saved once at the end by
 * atomic replace, instead of after every command as `chip configure` does
 * with a single file: a state file is either a finished chip or absent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "factory.h"

typedef struct entry {
    char file[64];
    char cert[64];
    char serial[19];
    char registration_id[160];
    char sha256[65];
    char sha1[41];
} entry;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(unsigned done, unsigned total, bool tty, double t0)
{
    if (tty) {
        unsigned width = 40, fill = total ? done * width / total : width;
        char bar[41];
        for (unsigned i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %u/%u chips, %.1f s", bar, done, total, now_s() - t0);
        if (done == total)
            fputc('\n', stderr);
    } else if (done == total || (total >= 10 && done % (total / 10) == 0)) {
        fprintf(stderr, "batch: %u/%u chips (%u%%), %.1f s\n", done, total,
                total ? done * 100 / total : 100, now_s() - t0);
    }
}

static int write_manifests(const char *dir, const char *ca_dir, const entry *e, unsigned n)
{
    char *csv = NULL, *json = NULL;
    size_t csv_len = 0, json_len = 0;
    FILE *f = open_memstream(&csv, &csv_len);
    if (!f)
        return fx_fail(FX_INTERNAL, "out of memory");
    fprintf(f, "index,chip_file,serial,registration_id,sha256_thumbprint,sha1_thumbprint,"
               "certificate_file\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "%u,%s,%s,%s,%s,%s,%s\n", i + 1, e[i].file, e[i].serial,
                e[i].registration_id, e[i].sha256, e[i].sha1, e[i].cert);
    fclose(f);
    f = open_memstream(&json, &json_len);
    if (!f) {
        free(csv);
        return fx_fail(FX_INTERNAL, "out of memory");
    }
    fprintf(f, "{\n  \"format\": 1,\n  \"ca\": ");
    fx_json_str(f, ca_dir);
    fprintf(f, ",\n  \"count\": %u,\n  \"chips\": [", n);
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "%s\n    {\"index\": %u, \"chip_file\": ", i ? "," : "", i + 1);
        fx_json_str(f, e[i].file);
        fprintf(f, ", \"chip\": ");
        char spec[80];
        snprintf(spec, sizeof spec, "emu:%s", e[i].file);
        fx_json_str(f, spec);
        fprintf(f, ", \"serial\": \"%s\", \"registration_id\": ", e[i].serial);
        fx_json_str(f, e[i].registration_id);
        fprintf(f, ", \"sha256_thumbprint\": \"%s\", \"sha1_thumbprint\": \"%s\", "
                   "\"certificate_file\": ", e[i].sha256, e[i].sha1);
        fx_json_str(f, e[i].cert);
        fputc('}', f);
    }
    fprintf(f, "%s]\n}\n", n ? "\n  " : "");
    fclose(f);
    char path[FX_PATH_MAX];
    fx_path(path, dir, "manifest.csv");
    int rc = fx_write_replace(path, csv, csv_len, 0644);
    fx_path(path, dir, "manifest.json");
    if (!rc)
        rc = fx_write_replace(path, json, json_len, 0644);
    free(csv);
    free(json);
    return rc;
}

static int new_serial(uint8_t serial[9], const entry *done, unsigned n)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        serial[0] = 0x01;
        serial[1] = 0x23;
        serial[8] = 0xEE;
        if (getrandom(serial + 2, 6, 0) != 6)
            return fx_fail(FX_INTERNAL, "no randomness for a serial number");
        char hex[19];
        fx_hex(hex, serial, 9, false);
        bool dup = false;
        for (unsigned i = 0; i < n && !dup; i++)
            dup = strcmp(done[i].serial, hex) == 0;
        if (!dup)
            return FX_OK;
    }
    return fx_fail(FX_INTERNAL, "no unique serial number found");
}

int fx_batch(const char *ca_dir, const char *dir, unsigned count, bool quiet, fx_part part,
             bool json)
{
    if (count < 1 || count > 100000)
        return fx_fail(FX_USAGE, "--count must be 1..100000");
    char path[FX_PATH_MAX];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fx_fail(FX_FILE, "%s: cannot create the directory: %s", dir, strerror(errno));
    fx_path(path, dir, "manifest.csv");
    if (fx_exists(path))
        return fx_fail(FX_EXISTS, "%s already holds a batch (manifest.csv); use another --dir",
                       dir);
    fx_ca ca;
    int rc = fx_ca_load(&ca, ca_dir, true);
    if (rc) {
        fx_ca_free(&ca);
        return rc;
    }
    /* The definitions next to the chip files: where the hubkey agent looks
     * for them when it is given one of these chips. */
    rc = fx_ca_export_certdefs(&ca, dir);
    if (rc) {
        fx_ca_free(&ca);
        return rc;
    }
    entry *e = calloc(count, sizeof *e);
    if (!e) {
        fx_ca_free(&ca);
        return fx_fail(FX_INTERNAL, "out of memory");
    }
    int digits = 4;
    for (unsigned c = count; c >= 10000; c /= 10)
        digits++;
    bool tty = !quiet && isatty(2);
    double t0 = now_s();
    unsigned done = 0;
    for (unsigned i = 0; i < count && rc == FX_OK; i++) {
        entry *x = &e[i];
        /* At most 10 digits: the names always fit; checked all the same. */
        if ((size_t)snprintf(x->file, sizeof x->file, "chip-%0*u.emu", digits, i + 1) >=
                sizeof x->file ||
            (size_t)snprintf(x->cert, sizeof x->cert, "chip-%0*u.pem", digits, i + 1) >=
                sizeof x->cert) {
            rc = fx_fail(FX_INTERNAL, "chip file name too long");
            break;
        }
        fx_path(path, dir, x->file);
        if (fx_exists(path)) {
            rc = fx_fail(FX_EXISTS, "%s already exists: refusing to overwrite it", path);
            break;
        }
        hk_emu_atecc608_options o;
        hk_emu_atecc608_options_init(&o);
        o.has_serial = true;
        o.part = part == FX_PART_608B ? HK_EMU_ATECC608_PART_B : HK_EMU_ATECC608_PART_A;
        rc = new_serial(o.serial, e, i);
        if (rc)
            break;
        hk_emu_atecc608 *emu = NULL;
        if (hk_emu_atecc608_create(&o, &emu) != HK_OK) {
            rc = fx_fail(FX_INTERNAL, "the emulator could not create a chip");
            break;
        }
        fx_chip chip;
        rc = fx_chip_wrap_emu(&chip, emu, x->file);
        fx_configure_opts co = {false, true};
        if (!rc)
            rc = fx_configure(&chip, &co);
        char cert_path[FX_PATH_MAX];
        fx_path(cert_path, dir, x->cert);
        fx_provision_opts po;
        memset(&po, 0, sizeof po);
        po.quiet = true;
        po.cert_out = cert_path;
        fx_provision_result pr;
        memset(&pr, 0, sizeof pr);
        if (!rc)
            rc = fx_provision(&chip, &ca, &po, &pr);
        if (!rc && hk_emu_atecc608_save(emu, path) != HK_OK)
            rc = fx_fail(FX_FILE, "%s cannot be written", path);
        if (!rc) {
            fx_hex(x->serial, pr.serial, 9, false);
            snprintf(x->registration_id, sizeof x->registration_id, "%s", pr.registration_id);
            memcpy(x->sha256, pr.sha256, sizeof x->sha256);
            memcpy(x->sha1, pr.sha1, sizeof x->sha1);
            done++;
        } else {
            unlink(cert_path);
        }
        fx_provision_result_free(&pr);
        fx_chip_close(&chip);
        if (!quiet && rc == FX_OK)
            progress(done, count, tty, t0);
    }
    double elapsed = now_s() - t0;
    int mrc = write_manifests(dir, ca_dir, e, done);
    if (rc) {
        fx_fail(rc, "batch stopped after %u of %u chips; manifest.csv and manifest.json in %s "
                    "list the %u finished chips", done, count, dir, done);
    } else if (mrc) {
        rc = mrc;
    } else if (json) {
        char manifest[FX_PATH_MAX];
        uint8_t *text = NULL;
        size_t len = 0;
        fx_path(manifest, dir, "manifest.json");
        rc = fx_read_file(manifest, &text, &len);
        if (rc == FX_OK)
            fwrite(text, 1, len, stdout);
        free(text);
    } else {
        printf("%u chips configured and provisioned in %s (%.2f s, %.1f ms per chip)\n", done, dir,
               elapsed, done ? elapsed * 1000.0 / done : 0.0);
        printf("manifest: %s/manifest.csv, %s/manifest.json\n", dir, dir);
    }
    free(e);
    fx_ca_free(&ca);
    return rc;
}
