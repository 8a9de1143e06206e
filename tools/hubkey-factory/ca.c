/*
 * hubkey-factory — the CA directory: a root CA and a signer (intermediate)
 * CA, ECDSA P-256, and the two certificate definitions that let a device
 * rebuild its chain from the chip.
 *
 * Files (docs/hubkey-factory.md):
 *   root.key, signer.key     private keys, PEM (SEC1), mode 0600, never printed
 *   root.pem, signer.pem     certificates
 *   chain.pem                signer then root (the group-enrollment upload)
 *   device.certdef           certificate definitions, binary "HKCD" format
 *   signer.certdef           (docs/certificates.md)
 *   certdefs.h               the same two as C (template arrays and hk_cert_def
 *                            initialisers), for firmware builds
 *   ca.conf                  names and validity used when issuing
 *
 * Why the device definition is made at `ca init`: firmware must embed it
 * before any chip exists. `ca init` issues one certificate for a throwaway
 * key and the serial 01 23 00 00 00 00 00 00 EE through the same code path as
 * `chip provision`, and derives the definition from it; every later device
 * certificate is checked against that definition (compress, rebuild,
 * compare) before it is written to a chip.
 *
 * Issuing conventions (what the 72-byte format can carry): whole-hour issue
 * dates, expiry a whole number of years later (or no expiry), serial number
 * = SN source PUB_KEY_HASH (16 bytes), signer ID = last 4 characters of the
 * signer's CN, device CN ending in the chip serial as 18 lower-case hex
 * characters, subject and authority key identifiers = SHA-1 of the keys.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "factory.h"

#define CA_CONF_FORMAT 1
#define DEVICE_TEMPLATE_ID 3
#define SIGNER_TEMPLATE_ID 1
#define CHAIN_ID 0
#define SN_BYTES 16

static const char *const ca_files[] = {"root.key", "signer.key", "root.pem", "signer.pem",
                                       "chain.pem", "device.certdef", "signer.certdef",
                                       "certdefs.h", "ca.conf"};

/* ---- dates ---- */

/* The issue date for a certificate made at now: the current UTC hour.
 * 29 February becomes 28 February 23:00 so that "the same day E years
 * later" exists in every year. */
static int hour_date(time_t now, hk_cert_date *out)
{
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL)
        return fx_fail(FX_INTERNAL, "the system clock cannot be read");
    out->year = (uint16_t)(tm.tm_year + 1900);
    out->month = (uint8_t)(tm.tm_mon + 1);
    out->day = (uint8_t)tm.tm_mday;
    out->hour = (uint8_t)tm.tm_hour;
    if (out->month == 2 && out->day == 29) {
        out->day = 28;
        out->hour = 23;
    }
    if (out->year < 2000 || out->year > 2049)
        return fx_fail(FX_INTERNAL, "the system clock says %u: certificates are issued for "
                                    "years 2000..2049", out->year);
    return FX_OK;
}

/* YYYYMMDDHH0000 of d plus add_years. The ranges are checked here (the
 * callers' dates come from hour_date and validated year counts), so the
 * 14 characters always hold the text. */
static int date_text(const hk_cert_date *d, unsigned add_years, char out[15])
{
    unsigned year = d->year + add_years;
    if (year > 9999 || d->month < 1 || d->month > 12 || d->day < 1 || d->day > 31 ||
        d->hour > 23)
        return fx_fail(FX_INTERNAL, "certificate date out of range (year %u)", year);
    int n = snprintf(out, 15, "%04u%02u%02u%02u0000", year, (unsigned)d->month,
                     (unsigned)d->day, (unsigned)d->hour);
    if (n != 14)
        return fx_fail(FX_INTERNAL, "certificate date out of range (year %u)", year);
    return FX_OK;
}

/* ---- keys and certificates ---- */

/* The fixed DER prefix of a P-256 SubjectPublicKeyInfo (uncompressed point):
 * SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 00 04 ... }.
 * Going through DER keeps this code the same on mbedTLS 2.28 and 3.x. */
static const uint8_t spki_p256_prefix[27] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06,
    0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

static int pub_of(mbedtls_pk_context *pk, uint8_t out[64])
{
    uint8_t buf[200];
    int n = mbedtls_pk_write_pubkey_der(pk, buf, sizeof buf);
    if (n != 91)
        return -1;
    const uint8_t *der = buf + sizeof buf - 91;
    if (memcmp(der, spki_p256_prefix, sizeof spki_p256_prefix) != 0)
        return -1;
    memcpy(out, der + sizeof spki_p256_prefix, 64);
    return 0;
}

/* A public-key-only context for X || Y. */
static int pk_from_pub(mbedtls_pk_context *pk, const uint8_t pub[64])
{
    uint8_t der[91];
    memcpy(der, spki_p256_prefix, sizeof spki_p256_prefix);
    memcpy(der + sizeof spki_p256_prefix, pub, 64);
    mbedtls_pk_init(pk);
    return mbedtls_pk_parse_public_key(pk, der, sizeof der) == 0 ? 0 : -1;
}

static int gen_key(fx_rng *rng, mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random,
                            &rng->drbg) != 0)
        return fx_fail(FX_INTERNAL, "P-256 key generation failed");
    return FX_OK;
}

typedef struct cert_req {
    const char *subject, *issuer;
    mbedtls_pk_context *subject_key, *issuer_key;
    const char *not_before, *not_after;
    const uint8_t *serial;
    size_t serial_len;
    bool is_ca;
    int path_len; /* CA only; -1 = unlimited */
} cert_req;

static int issue(fx_rng *rng, const cert_req *r, uint8_t **out, size_t *out_len)
{
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_mpi_read_binary(&serial, r->serial, r->serial_len);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, r->subject_key);
    mbedtls_x509write_crt_set_issuer_key(&crt, r->issuer_key);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_name(&crt, r->subject);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_issuer_name(&crt, r->issuer);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_validity(&crt, r->not_before, r->not_after);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_basic_constraints(&crt, r->is_ca ? 1 : 0,
                                                         r->is_ca ? r->path_len : -1);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_key_usage(
            &crt, r->is_ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                           : (MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT));
    uint8_t *buf = NULL;
    int n = -1;
    if (rc == 0) {
        size_t cap = 2048;
        buf = malloc(cap);
        if (buf) {
            n = mbedtls_x509write_crt_der(&crt, buf, cap, mbedtls_ctr_drbg_random, &rng->drbg);
            if (n > 0)
                memmove(buf, buf + cap - (size_t)n, (size_t)n);
        }
    }
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    if (n <= 0) {
        free(buf);
        return fx_fail(FX_INTERNAL, "issuing the certificate for '%s' failed (mbedTLS %d)",
                       r->subject, rc ? rc : n);
    }
    *out = buf;
    *out_len = (size_t)n;
    return FX_OK;
}

/* Serial number from the SN source, as the rebuild on the device computes it. */
static int serial_for(const hk_cert_date *issue_date, unsigned years, const uint8_t pub[64],
                      uint8_t out[SN_BYTES])
{
    hk_cert_compressed c;
    uint8_t comp[HK_CERT_COMPRESSED_SIZE];
    memset(&c, 0, sizeof c);
    c.issue = *issue_date;
    c.expire_years = (uint8_t)years;
    c.sn_source = HK_CERT_SN_PUB_KEY_HASH;
    if (hk_cert_compressed_encode(&c, comp) != HK_OK ||
        hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH, comp, pub, NULL, out, SN_BYTES) != HK_OK)
        return fx_fail(FX_INTERNAL, "serial number generation failed");
    return FX_OK;
}

void fx_ca_registration_id(const fx_ca *ca, const uint8_t serial[9], char *out, size_t cap)
{
    /* The CN is the text after "CN=" in the subject template, up to the
     * next ',' with {sn} replaced. */
    const char *cn = strstr(ca->device_subject, "CN=");
    char hex[19];
    fx_hex(hex, serial, 9, false);
    size_t k = 0;
    out[0] = '\0';
    if (!cn)
        return;
    for (const char *p = cn + 3; *p && *p != ',' && k + 1 < cap; p++) {
        if (strncmp(p, "{sn}", 4) == 0) {
            for (int i = 0; i < 18 && k + 1 < cap; i++)
                out[k++] = hex[i];
            p += 3;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static void subject_for(const fx_ca *ca, const uint8_t serial[9], char *out, size_t cap)
{
    char hex[19];
    fx_hex(hex, serial, 9, false);
    const char *at = strstr(ca->device_subject, "{sn}");
    size_t pre = (size_t)(at - ca->device_subject);
    snprintf(out, cap, "%.*s%s%s", (int)pre, ca->device_subject, hex, at + 4);
}

int fx_ca_issue_device(fx_ca *ca, const uint8_t serial[9], const uint8_t pub[64], time_t now,
                       uint8_t **out_der, size_t *out_len)
{
    if (!ca->have_signer_key)
        return fx_fail(FX_INTERNAL, "the signer key is not loaded");
    hk_cert_date d;
    int rc = hour_date(now, &d);
    if (rc)
        return rc;
    uint8_t sn[SN_BYTES];
    rc = serial_for(&d, ca->device_years, pub, sn);
    if (rc)
        return rc;
    char subject[300], nb[15], na[15];
    subject_for(ca, serial, subject, sizeof subject);
    rc = date_text(&d, 0, nb);
    if (rc)
        return rc;
    if (ca->device_years == 0)
        snprintf(na, sizeof na, "99991231235959");
    else if ((rc = date_text(&d, ca->device_years, na)) != 0)
        return rc;
    mbedtls_pk_context dkey;
    if (pk_from_pub(&dkey, pub) != 0) {
        mbedtls_pk_free(&dkey);
        return fx_fail(FX_VERIFY, "the chip's public key is not a P-256 point");
    }
    cert_req r = {subject, ca->signer_subject, &dkey, &ca->signer_key, nb, na,
                  sn, sizeof sn, false, -1};
    rc = issue(&ca->rng, &r, out_der, out_len);
    mbedtls_pk_free(&dkey);
    return rc;
}

int fx_ca_signer_compressed(fx_ca *ca, uint8_t out[HK_CERT_COMPRESSED_SIZE])
{
    size_t cap = ca->signer_len + HK_CERT_MAX_GROWTH;
    uint8_t *scratch = malloc(cap);
    if (!scratch)
        return fx_fail(FX_INTERNAL, "out of memory");
    hk_cert_inputs in = {ca->signer_pub, NULL, ca->root_pub};
    hk_result r = hk_cert_compress(&ca->signer_def, ca->signer_der, ca->signer_len, &in, scratch,
                                   cap, out);
    free(scratch);
    if (r != HK_OK)
        return fx_fail(FX_FILE, "%s: the signer certificate does not compress with "
                                "signer.certdef: %s", ca->dir, hk_result_str(r));
    return FX_OK;
}

int fx_ca_verify_chain(const fx_ca *ca, const uint8_t *dev, size_t dev_len, const uint8_t *signer,
                       size_t signer_len, char *why, size_t why_cap)
{
    mbedtls_x509_crt trust, chain;
    mbedtls_x509_crt_init(&trust);
    mbedtls_x509_crt_init(&chain);
    uint32_t flags = 0;
    int rc = mbedtls_x509_crt_parse_der(&trust, ca->root_der, ca->root_len);
    if (rc == 0)
        rc = mbedtls_x509_crt_parse_der(&chain, dev, dev_len);
    if (rc == 0)
        rc = mbedtls_x509_crt_parse_der(&chain, signer, signer_len);
    if (rc != 0) {
        snprintf(why, why_cap, "a certificate of the chain does not parse (mbedTLS %d)", rc);
    } else {
        rc = mbedtls_x509_crt_verify(&chain, &trust, NULL, NULL, &flags, NULL, NULL);
        if (rc != 0) {
            char info[512];
            mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
            size_t n = strlen(info);
            while (n > 0 && info[n - 1] == '\n')
                info[--n] = '\0';
            for (char *p = info; *p; p++)
                if (*p == '\n')
                    *p = ';';
            snprintf(why, why_cap, "%s", info[0] ? info : "the chain does not verify");
        }
    }
    mbedtls_x509_crt_free(&trust);
    mbedtls_x509_crt_free(&chain);
    return rc == 0 ? 0 : -1;
}

int fx_ca_export_certdefs(const fx_ca *ca, const char *dir)
{
    char path[FX_PATH_MAX];
    fx_path(path, dir, "device.certdef");
    int rc = fx_write_replace(path, ca->device_def_buf, ca->device_def_len, 0644);
    fx_path(path, dir, "signer.certdef");
    if (!rc)
        rc = fx_write_replace(path, ca->signer_def_buf, ca->signer_def_len, 0644);
    return rc;
}

/* ---- loading ---- */

static int load_cert(const char *path, uint8_t **der, size_t *len, uint8_t pub[64])
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = mbedtls_x509_crt_parse_file(&crt, path);
    if (rc != 0 || crt.next != NULL) {
        mbedtls_x509_crt_free(&crt);
        return fx_fail(FX_FILE, "%s: not a single PEM certificate (mbedTLS %d)", path, rc);
    }
    if (pub_of(&crt.pk, pub) != 0) {
        mbedtls_x509_crt_free(&crt);
        return fx_fail(FX_FILE, "%s: not a P-256 certificate", path);
    }
    *der = malloc(crt.raw.len);
    if (!*der) {
        mbedtls_x509_crt_free(&crt);
        return fx_fail(FX_INTERNAL, "out of memory");
    }
    memcpy(*der, crt.raw.p, crt.raw.len);
    *len = crt.raw.len;
    mbedtls_x509_crt_free(&crt);
    return FX_OK;
}

static int load_def(const char *dir, const char *name, uint8_t **buf, size_t *len,
                    hk_cert_def *def)
{
    char path[FX_PATH_MAX];
    fx_path(path, dir, name);
    int rc = fx_read_file(path, buf, len);
    if (rc)
        return rc;
    hk_result r = hk_cert_def_parse(*buf, *len, def);
    if (r != HK_OK)
        return fx_fail(FX_FILE, "%s: not a valid certificate definition: %s", path,
                       hk_result_str(r));
    return FX_OK;
}

static void key_mode_check(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        fx_note("%s is readable by others (mode %03o): chmod 600 it", path,
                (unsigned)(st.st_mode & 0777));
}

int fx_ca_load(fx_ca *ca, const char *dir, bool need_key)
{
    memset(ca, 0, sizeof *ca);
    mbedtls_pk_init(&ca->signer_key);
    snprintf(ca->dir, sizeof ca->dir, "%s", dir);
    char path[FX_PATH_MAX];
    fx_path(path, dir, "ca.conf");
    if (!fx_exists(path))
        return fx_fail(FX_FILE, "%s: no CA here (missing ca.conf; create one with "
                                "`hubkey-factory ca init --ca %s`)", dir, dir);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = fx_read_file(path, &text, &len);
    if (rc)
        return rc;
    char *s = malloc(len + 1);
    if (!s) {
        free(text);
        return fx_fail(FX_INTERNAL, "out of memory");
    }
    memcpy(s, text, len);
    s[len] = '\0';
    free(text);
    if (strlen(s) != len) {
        free(s);
        return fx_fail(FX_FILE, "%s: contains NUL bytes", path);
    }
    rc = fx_ca_conf_parse(ca, path, s);
    free(s);
    if (rc)
        return rc;
    fx_path(path, dir, "root.pem");
    rc = load_cert(path, &ca->root_der, &ca->root_len, ca->root_pub);
    if (rc)
        return rc;
    fx_path(path, dir, "signer.pem");
    rc = load_cert(path, &ca->signer_der, &ca->signer_len, ca->signer_pub);
    if (rc)
        return rc;
    rc = load_def(dir, "device.certdef", &ca->device_def_buf, &ca->device_def_len,
                  &ca->device_def);
    if (rc)
        return rc;
    rc = load_def(dir, "signer.certdef", &ca->signer_def_buf, &ca->signer_def_len,
                  &ca->signer_def);
    if (rc)
        return rc;
    rc = fx_rng_init(&ca->rng);
    if (rc)
        return rc;
    ca->rng_ready = true;
    if (need_key) {
        fx_path(path, dir, "signer.key");
        key_mode_check(path);
#if MBEDTLS_VERSION_MAJOR >= 3
        int e = mbedtls_pk_parse_keyfile(&ca->signer_key, path, NULL, mbedtls_ctr_drbg_random,
                                         &ca->rng.drbg);
#else
        int e = mbedtls_pk_parse_keyfile(&ca->signer_key, path, NULL);
#endif
        if (e != 0)
            return fx_fail(FX_FILE, "%s: not a readable PEM private key (mbedTLS %d)", path, e);
        uint8_t kpub[64];
        if (pub_of(&ca->signer_key, kpub) != 0 || memcmp(kpub, ca->signer_pub, 64) != 0)
            return fx_fail(FX_FILE, "%s does not belong to %s/signer.pem", path, dir);
        ca->have_signer_key = true;
    }
    return FX_OK;
}

void fx_ca_free(fx_ca *ca)
{
    mbedtls_pk_free(&ca->signer_key);
    free(ca->root_der);
    free(ca->signer_der);
    free(ca->device_def_buf);
    free(ca->signer_def_buf);
    if (ca->rng_ready)
        fx_rng_free(&ca->rng);
    memset(ca, 0, sizeof *ca);
}

/* ---- ca init ---- */

typedef struct created {
    char paths[16][FX_PATH_MAX];
    int n;
} created;

static int put(created *c, const char *dir, const char *name, const void *data, size_t len,
               unsigned mode)
{
    char path[FX_PATH_MAX];
    fx_path(path, dir, name);
    int rc = fx_write_new(path, data, len, mode);
    if (rc == FX_OK && c->n < 16)
        snprintf(c->paths[c->n++], FX_PATH_MAX, "%s", path);
    return rc;
}

static void undo(created *c)
{
    for (int i = 0; i < c->n; i++)
        unlink(c->paths[i]);
    if (c->n > 0)
        fx_note("ca init did not finish: the %d files it had written were removed", c->n);
}

static int key_pem(mbedtls_pk_context *pk, char **out)
{
    size_t cap = 1024;
    unsigned char *buf = calloc(1, cap);
    if (!buf || mbedtls_pk_write_key_pem(pk, buf, cap) != 0) {
        free(buf);
        return fx_fail(FX_INTERNAL, "writing a private key as PEM failed");
    }
    *out = (char *)buf;
    return FX_OK;
}

static char *c_array(const char *name, const uint8_t *p, size_t n)
{
    size_t cap = 128 + strlen(name) + n * 6 + n / 12 * 4;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t k = (size_t)snprintf(s, cap, "static const unsigned char %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s0x%02x%s", i % 12 == 0 ? "\n    " : " ", p[i],
                              i + 1 < n ? "," : "");
    snprintf(s + k, cap - k, "\n};\n");
    return s;
}

/* A definition as C: its template as an array and the hk_cert_def itself,
 * ready for firmware that compiles its definitions in (no parser, no check
 * on the device: ca init has checked them). */
static char *c_def(const char *prefix, const hk_cert_def *def)
{
    char name[64];
    snprintf(name, sizeof name, "%s_template", prefix);
    char *tmpl = c_array(name, def->template_der, def->template_len);
    if (!tmpl)
        return NULL;
    size_t cap = strlen(tmpl) + 1024 + (size_t)def->extra_count * 64;
    char *s = malloc(cap);
    if (!s) {
        free(tmpl);
        return NULL;
    }
    size_t k = (size_t)snprintf(s, cap,
                                "%s\nstatic const hk_cert_def %s_def = {\n"
                                "    .template_der = %s,\n    .template_len = %zu,\n"
                                "    .template_id = %u,\n    .chain_id = %u,\n"
                                "    .sn_source = 0x%X,\n    .expire_years = %u,\n"
                                "    .issue_date_format = %u,\n    .expire_date_format = %u,\n"
                                "    .tbs = {%u, %u},\n    .std = {",
                                tmpl, prefix, name, def->template_len, def->template_id,
                                def->chain_id, def->sn_source, def->expire_years,
                                def->issue_date_format, def->expire_date_format, def->tbs.offset,
                                def->tbs.count);
    for (unsigned i = 0; i < HK_CERT_EL_COUNT; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s{%u, %u}", i ? ", " : "", def->std[i].offset,
                              def->std[i].count);
    k += (size_t)snprintf(s + k, cap - k, "},\n    .extra_count = %u,\n", def->extra_count);
    for (unsigned i = 0; i < def->extra_count; i++) {
        const hk_cert_extra *e = &def->extras[i];
        k += (size_t)snprintf(s + k, cap - k, "%s{%u, %u, %u, %u, {%u, %u}}%s",
                              i ? ", " : "    .extras = {", e->source, e->transform,
                              e->src_offset, e->src_count, e->cert.offset, e->cert.count,
                              i + 1 == def->extra_count ? "},\n" : "");
    }
    snprintf(s + k, cap - k, "};\n");
    free(tmpl);
    return s;
}

static int serialize_def(const hk_cert_def *def, uint8_t **out, size_t *len)
{
    size_t need = 0;
    /* Asks for the size only: HK_ERR_BUFFER_TOO_SMALL with need set. */
    hk_result_ignore(hk_cert_def_serialize(def, NULL, 0, &need));
    *out = malloc(need ? need : 1);
    if (!*out)
        return fx_fail(FX_INTERNAL, "out of memory");
    if (hk_cert_def_serialize(def, *out, need, len) != HK_OK)
        return fx_fail(FX_INTERNAL, "serializing a certificate definition failed");
    return FX_OK;
}

int fx_ca_init(const char *dir, const fx_ca_init_opts *o)
{
    if (!fx_name_ok(o->org) || !fx_name_ok(o->root_cn) || !fx_name_ok(o->signer_cn))
        return fx_fail(FX_USAGE, "--org, --root-cn and --signer-cn: 1..64 printable characters, "
                                 "none of , = + \\ \" < > ; #");
    int rc = fx_device_subject_check(o->device_subject);
    if (rc)
        return rc;
    if (o->root_years < 1 || o->root_years > 100 || o->signer_years < 1 ||
        o->signer_years > 100 || o->device_years > 100)
        return fx_fail(FX_USAGE, "validity: --root-years and --signer-years 1..100, "
                                 "--device-years 0..100 (0 = no expiry)");
    if (o->signer_years > o->root_years)
        return fx_fail(FX_USAGE, "the signer CA (%u years) cannot outlive the root (%u years)",
                       o->signer_years, o->root_years);
    time_t now = time(NULL);
    hk_cert_date today;
    rc = hour_date(now, &today);
    if (rc)
        return rc;
    /* UTCTime ends with 2049; the definition fixes the expiry's date format,
     * so every device certificate's expiry must fall on the same side. */
    if (o->device_years != 0 && today.year + o->device_years < 2050)
        return fx_fail(FX_USAGE, "--device-years %u: device certificates must expire in 2050 or "
                                 "later (at least %u years from now), or never (0), so that all of "
                                 "them share one certificate definition", o->device_years,
                       2050u - today.year);

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fx_fail(FX_FILE, "%s: cannot create the directory: %s", dir, strerror(errno));
    for (size_t i = 0; i < sizeof ca_files / sizeof ca_files[0]; i++) {
        char path[FX_PATH_MAX];
        fx_path(path, dir, ca_files[i]);
        if (fx_exists(path))
            return fx_fail(FX_EXISTS, "%s already exists: %s holds a CA; ca init never "
                                      "overwrites one (use another --ca directory)", path, dir);
    }

    fx_ca ca;
    memset(&ca, 0, sizeof ca);
    mbedtls_pk_init(&ca.signer_key);
    snprintf(ca.dir, sizeof ca.dir, "%s", dir);
    rc = fx_rng_init(&ca.rng);
    if (rc)
        return rc;
    ca.rng_ready = true;
    mbedtls_pk_context root_key, dummy;
    mbedtls_pk_init(&root_key);
    mbedtls_pk_init(&dummy);
    created made;
    memset(&made, 0, sizeof made);
    char *root_key_pem = NULL, *signer_key_pem = NULL, *root_pem = NULL, *signer_pem = NULL;
    char *chain = NULL, *conf = NULL, *header = NULL, *arr1 = NULL, *arr2 = NULL;
    uint8_t *tmpl = NULL, *ddef = NULL, *sdef = NULL;
    size_t tmpl_len = 0, ddef_len = 0, sdef_len = 0;

    mbedtls_pk_free(&ca.signer_key);
    rc = gen_key(&ca.rng, &root_key);
    if (!rc)
        rc = gen_key(&ca.rng, &ca.signer_key);
    if (!rc)
        ca.have_signer_key = true;
    if (!rc && (pub_of(&root_key, ca.root_pub) || pub_of(&ca.signer_key, ca.signer_pub)))
        rc = fx_fail(FX_INTERNAL, "reading back a generated key failed");
    if (!rc && mbedtls_ctr_drbg_random(&ca.rng.drbg, ca.signer_id, 2) != 0)
        rc = fx_fail(FX_INTERNAL, "no randomness for the signer ID");
    snprintf(ca.org, sizeof ca.org, "%s", o->org);
    snprintf(ca.root_subject, sizeof ca.root_subject, "CN=%s,O=%s", o->root_cn, o->org);
    snprintf(ca.signer_subject, sizeof ca.signer_subject, "CN=%s %02X%02X,O=%s", o->signer_cn,
             ca.signer_id[0], ca.signer_id[1], o->org);
    snprintf(ca.device_subject, sizeof ca.device_subject, "%s", o->device_subject);
    ca.device_years = o->device_years;

    /* Root: random positive serial, whole-hour dates. */
    if (!rc) {
        uint8_t rsn[SN_BYTES];
        char nb[15], na[15];
        if (mbedtls_ctr_drbg_random(&ca.rng.drbg, rsn, sizeof rsn) != 0)
            rc = fx_fail(FX_INTERNAL, "no randomness for the root serial number");
        rsn[0] = (uint8_t)((rsn[0] & 0x7F) | 0x40);
        if (!rc)
            rc = date_text(&today, 0, nb);
        if (!rc)
            rc = date_text(&today, o->root_years, na);
        cert_req r = {ca.root_subject, ca.root_subject, &root_key, &root_key, nb, na,
                      rsn, sizeof rsn, true, -1};
        if (!rc)
            rc = issue(&ca.rng, &r, &ca.root_der, &ca.root_len);
    }
    /* Signer: compressible (serial from its key and dates, fixed expiry). */
    if (!rc) {
        uint8_t ssn[SN_BYTES];
        char nb[15], na[15];
        rc = serial_for(&today, o->signer_years, ca.signer_pub, ssn);
        if (!rc)
            rc = date_text(&today, 0, nb);
        if (!rc)
            rc = date_text(&today, o->signer_years, na);
        cert_req r = {ca.signer_subject, ca.root_subject, &ca.signer_key, &root_key, nb, na,
                      ssn, sizeof ssn, true, 0};
        if (!rc)
            rc = issue(&ca.rng, &r, &ca.signer_der, &ca.signer_len);
    }
    if (!rc) {
        hk_cert_derive_opts so = {SIGNER_TEMPLATE_ID, CHAIN_ID, HK_CERT_SN_PUB_KEY_HASH,
                                  HK_CERT_SIGNER_ID_SUBJECT_CN, NULL, true};
        hk_result r = hk_cert_def_derive(ca.signer_der, ca.signer_len, &so, &ca.signer_def);
        if (r != HK_OK)
            rc = fx_fail(FX_INTERNAL, "deriving the signer certificate definition: %s",
                         hk_result_str(r));
    }
    uint8_t scomp[HK_CERT_COMPRESSED_SIZE];
    if (!rc)
        rc = fx_ca_signer_compressed(&ca, scomp);
    /* The device definition, from a certificate for a throwaway key. */
    static const uint8_t tmpl_serial[9] = {0x01, 0x23, 0, 0, 0, 0, 0, 0, 0xEE};
    uint8_t dpub[64];
    if (!rc)
        rc = gen_key(&ca.rng, &dummy);
    if (!rc && pub_of(&dummy, dpub) != 0)
        rc = fx_fail(FX_INTERNAL, "reading back a generated key failed");
    if (!rc)
        rc = fx_ca_issue_device(&ca, tmpl_serial, dpub, now, &tmpl, &tmpl_len);
    if (!rc) {
        hk_cert_derive_opts dopt = {DEVICE_TEMPLATE_ID, CHAIN_ID, HK_CERT_SN_PUB_KEY_HASH,
                                    HK_CERT_SIGNER_ID_ISSUER_CN, tmpl_serial, false};
        hk_result r = hk_cert_def_derive(tmpl, tmpl_len, &dopt, &ca.device_def);
        if (r != HK_OK)
            rc = fx_fail(FX_INTERNAL, "deriving the device certificate definition: %s",
                         hk_result_str(r));
    }
    if (!rc)
        rc = serialize_def(&ca.device_def, &ddef, &ddef_len);
    if (!rc)
        rc = serialize_def(&ca.signer_def, &sdef, &sdef_len);

    /* Everything in memory: now the files, keys first. */
    if (!rc)
        rc = key_pem(&root_key, &root_key_pem);
    if (!rc)
        rc = key_pem(&ca.signer_key, &signer_key_pem);
    if (!rc) {
        root_pem = fx_pem("CERTIFICATE", ca.root_der, ca.root_len);
        signer_pem = fx_pem("CERTIFICATE", ca.signer_der, ca.signer_len);
        if (root_pem && signer_pem && asprintf(&chain, "%s%s", signer_pem, root_pem) < 0)
            chain = NULL;
        if (asprintf(&conf,
                     "# hubkey-factory CA (written by ca init, read by chip provision)\n"
                     "format=%d\norg=%s\nroot_subject=%s\nsigner_subject=%s\n"
                     "device_subject=%s\ndevice_years=%u\nsigner_id=%02X%02X\n",
                     CA_CONF_FORMAT, ca.org, ca.root_subject, ca.signer_subject,
                     ca.device_subject, ca.device_years, ca.signer_id[0], ca.signer_id[1]) < 0)
            conf = NULL;
        arr1 = c_def("hubkey_device", &ca.device_def);
        arr2 = c_def("hubkey_signer", &ca.signer_def);
        if (arr1 && arr2 &&
            asprintf(&header,
                     "/* Certificate definitions of the hubkey-factory CA \"%s\", generated by\n"
                     " * `hubkey-factory ca init`, which checked them with hk_cert_def_check():\n"
                     " * pass &hubkey_device_def and &hubkey_signer_def to hk_se_atecc608_open().\n"
                     " * The same definitions serialized: device.certdef, signer.certdef\n"
                     " * (docs/certificates.md). */\n"
                     "#ifndef HUBKEY_FACTORY_CERTDEFS_H\n#define HUBKEY_FACTORY_CERTDEFS_H\n\n"
                     "#include \"hubkey/cert.h\"\n\n%s\n%s\n#endif /* HUBKEY_FACTORY_CERTDEFS_H */\n",
                     ca.signer_subject, arr1, arr2) < 0)
            header = NULL;
        if (!root_pem || !signer_pem || !chain || !conf || !header)
            rc = fx_fail(FX_INTERNAL, "out of memory");
    }
    if (!rc)
        rc = put(&made, dir, "root.key", root_key_pem, strlen(root_key_pem), 0600);
    if (!rc)
        rc = put(&made, dir, "signer.key", signer_key_pem, strlen(signer_key_pem), 0600);
    if (!rc)
        rc = put(&made, dir, "root.pem", root_pem, strlen(root_pem), 0644);
    if (!rc)
        rc = put(&made, dir, "signer.pem", signer_pem, strlen(signer_pem), 0644);
    if (!rc)
        rc = put(&made, dir, "chain.pem", chain, strlen(chain), 0644);
    if (!rc)
        rc = put(&made, dir, "device.certdef", ddef, ddef_len, 0644);
    if (!rc)
        rc = put(&made, dir, "signer.certdef", sdef, sdef_len, 0644);
    if (!rc)
        rc = put(&made, dir, "certdefs.h", header, strlen(header), 0644);
    if (!rc)
        rc = put(&made, dir, "ca.conf", conf, strlen(conf), 0644);
    if (rc)
        undo(&made);

    if (!rc) {
        char hex[65];
        printf("CA created in %s\n", dir);
        fx_sha256_hex(ca.root_der, ca.root_len, hex);
        printf("  root    %s (%u years), SHA-256 %s\n", ca.root_subject, o->root_years, hex);
        fx_sha256_hex(ca.signer_der, ca.signer_len, hex);
        printf("  signer  %s (%u years), SHA-256 %s\n", ca.signer_subject, o->signer_years, hex);
        if (ca.device_years)
            printf("  devices %s, valid %u years\n", ca.device_subject, ca.device_years);
        else
            printf("  devices %s, no expiry\n", ca.device_subject);
        printf("  keys    root.key, signer.key (mode 0600; keep them offline)\n");
        printf("  certificate definitions: device.certdef (%zu bytes), signer.certdef (%zu "
               "bytes), certdefs.h\n", ddef_len, sdef_len);
    }
    if (root_key_pem) {
        memset(root_key_pem, 0, strlen(root_key_pem));
        free(root_key_pem);
    }
    if (signer_key_pem) {
        memset(signer_key_pem, 0, strlen(signer_key_pem));
        free(signer_key_pem);
    }
    free(root_pem);
    free(signer_pem);
    free(chain);
    free(conf);
    free(header);
    free(arr1);
    free(arr2);
    free(tmpl);
    free(ddef);
    free(sdef);
    mbedtls_pk_free(&root_key);
    mbedtls_pk_free(&dummy);
    fx_ca_free(&ca);
    return rc;
}

/* ---- ca show ---- */

int fx_ca_show(const char *dir, bool json)
{
    fx_ca ca;
    int rc = fx_ca_load(&ca, dir, false);
    if (rc) {
        fx_ca_free(&ca);
        return rc;
    }
    char why[300];
    bool verifies = fx_ca_verify_chain(&ca, ca.signer_der, ca.signer_len, ca.root_der,
                                       ca.root_len, why, sizeof why) == 0;
    if (json) {
        printf("{\"dir\":");
        fx_json_str(stdout, dir);
        printf(",\"root\":");
        fx_json_cert(stdout, ca.root_der, ca.root_len);
        printf(",\"signer\":");
        fx_json_cert(stdout, ca.signer_der, ca.signer_len);
        printf(",\"signer_id\":\"%02X%02X\",\"signer_verifies\":%s,\"device_subject\":",
               ca.signer_id[0], ca.signer_id[1], verifies ? "true" : "false");
        fx_json_str(stdout, ca.device_subject);
        printf(",\"device_years\":%u,\"device_certdef\":{\"template\":%u,\"bytes\":%zu},"
               "\"signer_certdef\":{\"template\":%u,\"bytes\":%zu}}\n",
               ca.device_years, ca.device_def.template_id, ca.device_def_len,
               ca.signer_def.template_id, ca.signer_def_len);
    } else {
        printf("CA %s\n", dir);
        fx_show_cert("root CA", ca.root_der, ca.root_len, 0);
        fx_show_cert("signer CA", ca.signer_der, ca.signer_len, 0);
        printf("signer ID %02X%02X\n", ca.signer_id[0], ca.signer_id[1]);
        printf("device certificates: subject %s, %s", ca.device_subject,
               ca.device_years ? "" : "no expiry\n");
        if (ca.device_years)
            printf("valid %u years\n", ca.device_years);
        printf("certificate definitions: device.certdef (template %u, %zu bytes), "
               "signer.certdef (template %u, %zu bytes), certdefs.h\n",
               ca.device_def.template_id, ca.device_def_len, ca.signer_def.template_id,
               ca.signer_def_len);
    }
    if (!verifies)
        fx_note("the signer certificate does not verify under the root: %s", why);
    char p[FX_PATH_MAX];
    fx_path(p, dir, "root.key");
    key_mode_check(p);
    fx_path(p, dir, "signer.key");
    key_mode_check(p);
    fx_ca_free(&ca);
    return FX_OK;
}
