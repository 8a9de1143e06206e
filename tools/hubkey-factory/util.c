/*
 * hubkey-factory — small host utilities: messages, files, PEM, hashes,
 * certificate names, the RNG.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "factory.h"

int fx_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hubkey-factory: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void fx_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hubkey-factory: note: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fx_path(char *out, const char *dir, const char *name)
{
    snprintf(out, FX_PATH_MAX, "%s/%s", dir, name);
}

bool fx_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int fx_read_file(const char *path, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fx_fail(FX_FILE, "%s: cannot read: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= (size_t)16 << 20) {
            free(buf);
            fclose(f);
            return fx_fail(FX_FILE, "%s: larger than 16 MiB", path);
        }
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    if (!buf)
        return fx_fail(FX_INTERNAL, "out of memory reading %s", path);
    if (err) {
        free(buf);
        return fx_fail(FX_FILE, "%s: read error", path);
    }
    *out = buf;
    *out_len = n;
    return FX_OK;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fx_write_new(const char *path, const void *data, size_t len, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return fx_fail(FX_EXISTS, "%s already exists: refusing to overwrite it", path);
        return fx_fail(FX_FILE, "%s: cannot create: %s", path, strerror(errno));
    }
    /* The umask may have removed bits; a key file must be exactly mode. */
    int rc = fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0;
    if (close(fd) != 0)
        rc = 1;
    if (rc) {
        unlink(path);
        return fx_fail(FX_FILE, "%s: write failed: %s", path, strerror(errno));
    }
    return FX_OK;
}

int fx_write_replace(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[FX_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return fx_fail(FX_FILE, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0;
    if (close(fd) != 0)
        rc = 1;
    if (rc || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fx_fail(FX_FILE, "%s: write failed: %s", path, strerror(e));
    }
    return FX_OK;
}

char *fx_pem(const char *label, const uint8_t *der, size_t len)
{
    char head[64], foot[64];
    snprintf(head, sizeof head, "-----BEGIN %s-----\n", label);
    snprintf(foot, sizeof foot, "-----END %s-----\n", label);
    size_t cap = len * 2 + 200, olen = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return NULL;
    if (mbedtls_pem_write_buffer(head, foot, der, len, buf, cap, &olen) != 0) {
        free(buf);
        return NULL;
    }
    return (char *)buf;
}

void fx_hex(char *out, const uint8_t *in, size_t len, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void fx_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256(data, len, out, 0);
#else
    mbedtls_sha256_ret(data, len, out, 0);
#endif
}

void fx_sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha1(data, len, out);
#else
    mbedtls_sha1_ret(data, len, out);
#endif
}

static void x509_time_text(const mbedtls_x509_time *t, char *out, size_t cap)
{
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day, t->hour,
             t->min, t->sec);
}

void fx_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void fx_cert_names(const uint8_t *der, size_t len, char *subject, size_t subject_cap,
                   char *issuer, size_t issuer_cap, char *validity, size_t validity_cap)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
        snprintf(subject, subject_cap, "(not a parsable certificate)");
        snprintf(issuer, issuer_cap, "-");
        snprintf(validity, validity_cap, "-");
    } else {
        if (mbedtls_x509_dn_gets(subject, subject_cap, &crt.subject) < 0)
            snprintf(subject, subject_cap, "(too long)");
        if (mbedtls_x509_dn_gets(issuer, issuer_cap, &crt.issuer) < 0)
            snprintf(issuer, issuer_cap, "(too long)");
        char a[40], b[40];
        x509_time_text(&crt.valid_from, a, sizeof a);
        x509_time_text(&crt.valid_to, b, sizeof b);
        snprintf(validity, validity_cap, "%s .. %s", a, b);
    }
    mbedtls_x509_crt_free(&crt);
}

void fx_json_cert(FILE *f, const uint8_t *der, size_t len)
{
    char subject[300], issuer[300], validity[120], hex[65];
    fx_cert_names(der, len, subject, sizeof subject, issuer, sizeof issuer, validity,
                  sizeof validity);
    fx_sha256_hex(der, len, hex);
    fputs("{\"subject\":", f);
    fx_json_str(f, subject);
    fputs(",\"issuer\":", f);
    fx_json_str(f, issuer);
    fputs(",\"validity\":", f);
    fx_json_str(f, validity);
    fprintf(f, ",\"sha256\":\"%s\"}", hex);
}

int fx_cert_cn(const uint8_t *der, size_t len, char *out, size_t cap)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = -1;
    if (mbedtls_x509_crt_parse_der(&crt, der, len) == 0) {
        for (const mbedtls_x509_name *n = &crt.subject; n != NULL; n = n->next) {
            if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len < cap) {
                memcpy(out, n->val.p, n->val.len);
                out[n->val.len] = '\0';
                rc = 0;
            }
        }
    }
    mbedtls_x509_crt_free(&crt);
    return rc;
}

void fx_sha256_hex(const uint8_t *der, size_t len, char out[65])
{
    uint8_t h[32];
    fx_sha256(der, len, h);
    fx_hex(out, h, 32, true);
}

void fx_show_cert(const char *label, const uint8_t *der, size_t len, unsigned indent)
{
    char subject[300], issuer[300], validity[120], hex[65];
    fx_cert_names(der, len, subject, sizeof subject, issuer, sizeof issuer, validity,
                  sizeof validity);
    fx_sha256_hex(der, len, hex);
    int in = (int)indent;
    printf("%*s%s\n%*s  subject   %s\n%*s  issuer    %s\n%*s  validity  %s\n%*s  SHA-256   %s\n",
           in, "", label, in, "", subject, in, "", issuer, in, "", validity, in, "", hex);
}

int fx_rng_init(fx_rng *rng)
{
    mbedtls_entropy_init(&rng->entropy);
    mbedtls_ctr_drbg_init(&rng->drbg);
    static const char pers[] = "hubkey-factory";
    if (mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                              (const unsigned char *)pers, sizeof pers - 1) != 0)
        return fx_fail(FX_INTERNAL, "the random number generator could not be seeded");
    return FX_OK;
}

void fx_rng_free(fx_rng *rng)
{
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
}
