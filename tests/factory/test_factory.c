/* hubkey-factory, run as a program against the software ATECC608A: every
 * command, chips that are factory-new, partly configured, locked with a
 * compatible or an incompatible configuration, provisioned; the chains it
 * produces checked with openssl verify and rebuilt from the chip through
 * hk_se; a batch of 100 chips; enrollments with a real hubkey-cloud. */
#include "factory_run.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "hk_test.h"
#include "hk_test_p256.h"
#include "hubkey/cert.h"
#include "hubkey/json.h"
#include "hubkey/record.h"
#include "hubkey/version.h"

#ifndef HK_FACTORY_BIN
#error "HK_FACTORY_BIN must name the hubkey-factory program"
#endif

static const char *F = HK_FACTORY_BIN;
static char tmp[512];   /* this run's directory */
static char ca_dir[600];

/* Exit codes of the tool (docs/hubkey-factory.md). */
enum { FXT_OK = 0, FXT_USAGE = 1, FXT_FILE = 2, FXT_CHIP_IO = 3, FXT_INCOMPATIBLE = 4, FXT_PARTIAL = 5,
       FXT_VERIFY = 6, FXT_CLOUD = 7, FXT_NOT_READY = 8, FXT_EXISTS = 9 };

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp, name);
}

static void spec_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "emu:%s/%s", tmp, name);
}

static int openssl_verify(const char *root, const char *signer, const char *leaf)
{
    return fr_run("/usr/bin/openssl", "verify", "-CAfile", root, "-untrusted", signer, leaf,
                  NULL);
}

/* Writes to out_pem a certificate that names issuer_pem's subject as its
 * issuer, signed with a throwaway key. A verifier checks that an issuer is a
 * CA before it checks any signature, so `openssl verify` of this certificate
 * over a chain through issuer_pem says "invalid CA certificate" exactly when
 * the issuer is not a CA (for a CA it reports the signature instead). */
static int forge_child(const char *issuer_pem, const char *out_pem)
{
    mbedtls_x509_crt issuer;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_mpi serial;
    mbedtls_x509_crt_init(&issuer);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_mpi_init(&serial);
    char name[512], compact[512];
    static unsigned char pem[4096];
    int ok = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) == 0 &&
             mbedtls_x509_crt_parse_file(&issuer, issuer_pem) == 0 &&
             mbedtls_x509_dn_gets(name, sizeof name, &issuer.subject) > 0 &&
             mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
             mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                 mbedtls_ctr_drbg_random, &drbg) == 0 &&
             mbedtls_mpi_lset(&serial, 1) == 0;
    /* "O=x, CN=y" from dn_gets; the writer takes "O=x,CN=y". */
    size_t k = 0;
    for (size_t i = 0; ok && name[i] && k + 1 < sizeof compact; i++)
        if (!(name[i] == ' ' && i > 0 && name[i - 1] == ','))
            compact[k++] = name[i];
    compact[k] = '\0';
    if (ok) {
        mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&crt, &key);
        mbedtls_x509write_crt_set_issuer_key(&crt, &key);
        ok = mbedtls_x509write_crt_set_subject_name(&crt, "CN=issued by a device") == 0 &&
             mbedtls_x509write_crt_set_issuer_name(&crt, compact) == 0 &&
             mbedtls_x509write_crt_set_serial(&crt, &serial) == 0 &&
             mbedtls_x509write_crt_set_validity(&crt, "20240101000000", "20491231235959") == 0 &&
             mbedtls_x509write_crt_pem(&crt, pem, sizeof pem, mbedtls_ctr_drbg_random, &drbg) == 0;
    }
    FILE *f = ok ? fopen(out_pem, "w") : NULL;
    if (f) {
        ok = fputs((const char *)pem, f) >= 0;
        ok = fclose(f) == 0 && ok;
    } else {
        ok = 0;
    }
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&issuer);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return ok ? 0 : -1;
}

static void load_config(const char *file, uint8_t cfg[128])
{
    char p[700];
    path_in(p, sizeof p, file);
    fr_chip c;
    memset(cfg, 0, 128);
    if (fr_chip_load(&c, p) == 0) {
        hk_emu_atecc608_config_get(c.emu, cfg);
        fr_chip_free(&c);
    }
}

/* A chip in a state file, made directly: factory-new, then cfg_edit applied
 * to its (default, TrustFLEX-style) configuration, then locked as asked. */
typedef void (*cfg_edit_fn)(uint8_t cfg[128]);
static int make_chip(const char *file, uint64_t seed, cfg_edit_fn edit, bool lock_config,
                     bool lock_data)
{
    fr_chip c;
    if (fr_chip_new(&c, seed) != 0)
        return -1;
    uint8_t cfg[128];
    int rc = hk_atecc608_read_config(&c.dev, cfg, NULL) == HK_OK ? 0 : -1;
    if (!rc && edit) {
        edit(cfg);
        rc = fr_write_config(&c, cfg);
        if (!rc)
            rc = hk_atecc608_read_config(&c.dev, cfg, NULL) == HK_OK ? 0 : -1;
    }
    if (!rc && lock_config)
        rc = hk_atecc608_lock_config(&c.dev, cfg, NULL) == HK_OK ? 0 : -1;
    if (!rc && lock_data)
        rc = hk_atecc608_lock_data(&c.dev, NULL) == HK_OK ? 0 : -1;
    char p[700];
    path_in(p, sizeof p, file);
    if (!rc)
        rc = hk_emu_atecc608_save(c.emu, p) == HK_OK ? 0 : -1;
    fr_chip_free(&c);
    return rc;
}

/* ---- tests ---- */

static void test_usage_and_chip_specs(void)
{
    HK_CHECK_EQ(fr_run(F, NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "help", NULL), FXT_OK);
    HK_CHECK(fr_has("Exit codes"));
    HK_CHECK_EQ(fr_run(F, "frobnicate", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--bogus", NULL), FXT_USAGE);
    HK_CHECK(fr_has("unknown option '--bogus'"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "usb:3", NULL), FXT_USAGE);
    HK_CHECK(fr_has("expected emu:FILE or i2c:/dev/i2c-N[@ADDR]"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "emu:", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "i2c:", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "i2c:/dev/i2c-1@0xC1", NULL), FXT_USAGE);
    HK_CHECK(fr_has("not an I2C address"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "i2c:/dev/i2c-1@zz", NULL), FXT_USAGE);
    /* A well-formed spec with either address form reaches the adapter. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "i2c:/nonexistent/i2c-7@0xC0", NULL),
                FXT_CHIP_IO);
    HK_CHECK(fr_has("/nonexistent/i2c-7 does not exist"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "i2c:/nonexistent/i2c-7@0x60", NULL),
                FXT_CHIP_IO);
    /* Options a command does not take are refused. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", "emu:x", "--dry-run", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "0", "--dir", tmp, NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "5x", "--dir", tmp, NULL), FXT_USAGE);
    /* Missing and broken emulator files. */
    char spec[700], p[700];
    spec_of(spec, sizeof spec, "missing.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_FILE);
    HK_CHECK(fr_has("no emulated chip file"));
    path_in(p, sizeof p, "garbage.emu");
    FILE *f = fopen(p, "w");
    HK_CHECK(f != NULL);
    if (f) {
        fputs("not a chip", f);
        fclose(f);
    }
    spec_of(spec, sizeof spec, "garbage.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_FILE);
    HK_CHECK(fr_has("is not an emulated-chip state file"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_FILE);
}

/* ---- help, version and --json (docs/cli.md) ---- */

/* Every command the top-level help lists answers COMMAND --help with its own
 * usage and the exit codes, exit 0; at any depth and with other arguments
 * on the line; unknown commands stay usage errors. */
static void test_help_and_version(void)
{
    HK_CHECK_EQ(fr_run(F, "--help", NULL), FXT_OK);
    char *top = strdup(fr_out ? fr_out : "");
    HK_CHECK(strstr(top, "usage: hubkey-factory") && strstr(top, "Exit codes:") &&
             strstr(top, "  10 out of memory"));
    int commands = 0;
    for (char *line = top; line && *line;) {
        char *end = strchr(line, '\n');
        if (line[0] == ' ' && line[1] == ' ' && line[2] >= 'a' && line[2] <= 'z') {
            char w1[32] = "", w2[32] = "";
            int n = sscanf(line + 2, "%31[a-z0-9] %31[a-z0-9]", w1, w2);
            bool two = n == 2 && line[2 + strlen(w1)] == ' ';
            char want[120];
            snprintf(want, sizeof want, "usage: hubkey-factory %s%s%s", w1, two ? " " : "",
                     two ? w2 : "");
            int rc = two ? fr_run(F, w1, w2, "--help", NULL) : fr_run(F, w1, "--help", NULL);
            HK_CHECK_EQ(rc, FXT_OK);
            HK_CHECK(fr_out && strncmp(fr_out, want, strlen(want)) == 0 &&
                     fr_has("Exit codes:"));
            if (!(fr_out && strncmp(fr_out, want, strlen(want)) == 0))
                fprintf(stderr, "help for '%s' printed: %s\n", want, fr_out ? fr_out : "");
            commands++;
        }
        line = end ? end + 1 : NULL;
    }
    HK_CHECK(commands >= 9);
    free(top);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", "usb:3", "--bogus", "-h", NULL), FXT_OK);
    HK_CHECK(fr_has("usage: hubkey-factory chip provision") && fr_has("--reissue"));
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", "/nowhere", "individual", "--help", NULL), FXT_OK);
    HK_CHECK(fr_has("usage: hubkey-factory enroll --cloud STATE individual") &&
             fr_has("--device-id"));
    HK_CHECK_EQ(fr_run(F, "help", "ca", "init", NULL), FXT_OK);
    HK_CHECK(fr_has("usage: hubkey-factory ca init") && fr_has("--device-years"));
    HK_CHECK_EQ(fr_run(F, "chip", "--help", NULL), FXT_OK);
    HK_CHECK(fr_has("chip configure --chip SPEC") && fr_has("chip show --chip SPEC"));
    HK_CHECK_EQ(fr_run(F, "chip", "melt", "--help", NULL), FXT_USAGE);
    HK_CHECK(fr_has("hubkey-factory: chip: unknown action 'melt'"));
    HK_CHECK_EQ(fr_run(F, "frobnicate", "--help", NULL), FXT_USAGE);
    /* --help does nothing else: no CA is created. */
    char p[700];
    path_in(p, sizeof p, "help-ca");
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", p, "--help", NULL), FXT_OK);
    struct stat st;
    HK_CHECK(stat(p, &st) != 0);
    HK_CHECK_EQ(fr_run(F, "--version", NULL), FXT_OK);
    HK_CHECK(fr_out && strcmp(fr_out, "hubkey-factory " HUBKEY_VERSION "\n") == 0);
    HK_CHECK_EQ(fr_run(F, "version", NULL), FXT_OK);
    HK_CHECK(fr_out && strcmp(fr_out, "hubkey-factory " HUBKEY_VERSION "\n") == 0);
}

static hk_json_token jtok[2048];
static hk_json_doc jdoc;

/* The last run's output as one JSON document (nothing else on the output). */
static bool json_out(void)
{
    size_t len = fr_out ? strlen(fr_out) : 0;
    while (len > 0 && fr_out[len - 1] == '\n')
        len--;
    hk_result r = hk_json_parse(&jdoc, fr_out ? fr_out : "", len, jtok, 2048, 16);
    if (r != HK_OK)
        fprintf(stderr, "not one JSON document (%s): %s\n", hk_result_str(r), fr_out);
    return r == HK_OK;
}

/* The token at a path of member names from the top ("certificates", ...). */
static size_t jat(const char *k1, const char *k2)
{
    size_t t = 0;
    if (hk_json_object_find(&jdoc, 0, k1, &t) != HK_OK)
        return 0;
    if (k2 && hk_json_object_find(&jdoc, t, k2, &t) != HK_OK)
        return 0;
    return t;
}

static bool jstr_is(const char *k1, const char *k2, const char *want)
{
    size_t t = jat(k1, k2);
    return t && hk_json_string_equals(&jdoc, t, want, strlen(want));
}

static bool jtrue(const char *k1, const char *k2)
{
    bool v = false;
    size_t t = jat(k1, k2);
    return t && hk_json_bool_get(&jdoc, t, &v) == HK_OK && v;
}

static void test_json_output(void)
{
    char spec[700], out[700];
    spec_of(spec, sizeof spec, "json.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    /* Before provisioning: no certificates rebuilt, the record empty. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    HK_CHECK(jtrue("config_locked", NULL) && jtrue("data_locked", NULL));
    HK_CHECK(jstr_is("configuration", NULL, "hubkey"));
    HK_CHECK(jstr_is("part", NULL, "ATECC608A"));
    HK_CHECK(jtrue("key_slot_usable", NULL));
    HK_CHECK(jstr_is("record", "state", "empty"));
    size_t t = jat("certificates", "device");
    HK_CHECK(t && jdoc.tokens[t].type == HK_JSON_NULL);
    /* provision --json: one object, nothing else on standard output. */
    path_in(out, sizeof out, "json-out");
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--out", out,
                       "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    char sha[80] = "", reg[80] = "";
    size_t n = 0;
    HK_CHECK(hk_json_string_get(&jdoc, jat("sha256", NULL), sha, sizeof sha, &n) == HK_OK &&
             n == 64);
    HK_CHECK(hk_json_string_get(&jdoc, jat("registration_id", NULL), reg, sizeof reg, &n) ==
             HK_OK && strncmp(reg, "sn0123", 6) == 0);
    HK_CHECK(hk_json_string_get(&jdoc, jat("sha1", NULL), (char[48]){0}, 48, &n) == HK_OK &&
             n == 40);
    t = jat("already_provisioned", NULL);
    HK_CHECK(t && jdoc.tokens[t].type == HK_JSON_FALSE);
    HK_CHECK(jat("device_pem", NULL) != 0);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--json", NULL),
                FXT_OK);
    HK_CHECK(json_out() && jtrue("already_provisioned", NULL));
    /* chip show --json with the CA: the chain rebuilt and verified, the same thumbprint. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--ca", ca_dir, "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    HK_CHECK(jtrue("certificates", "rebuilt") && jtrue("certificates", "chain_verifies"));
    HK_CHECK(jstr_is("certificates", "registration_id", reg));
    size_t dev = jat("certificates", "device"), d_sha = 0;
    HK_CHECK(dev && hk_json_object_find(&jdoc, dev, "sha256", &d_sha) == HK_OK &&
             hk_json_string_equals(&jdoc, d_sha, sha, strlen(sha)));
    /* Without the CA: the compressed certificates decoded. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    size_t slot = 0;
    dev = jat("certificates", "device");
    HK_CHECK(dev && hk_json_object_find(&jdoc, dev, "slot", &slot) == HK_OK);
    /* ca show --json */
    HK_CHECK_EQ(fr_run(F, "ca", "show", "--ca", ca_dir, "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    HK_CHECK(jtrue("signer_verifies", NULL));
    HK_CHECK(jstr_is("device_subject", NULL, "O=hubkey,CN=sn{sn}"));
    HK_CHECK(jat("root", "sha256") != 0 && jat("signer", "subject") != 0);
    /* batch --json: the manifest, one object with an array of chips. */
    char dir[700];
    path_in(dir, sizeof dir, "json-batch");
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "2", "--dir", dir, "--ca", ca_dir, "--quiet",
                       "--json", NULL), FXT_OK);
    HK_CHECK(json_out());
    size_t chips = jat("chips", NULL), i = 0, count = 0;
    while (chips && hk_json_next(&jdoc, chips, &i) == HK_OK)
        count++;
    HK_CHECK_EQ(count, 2);
    /* Commands that print no data refuse --json like any option they do not take. */
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--json", NULL), FXT_USAGE);
    HK_CHECK(fr_has("--json is not an option of this command"));
    /* An unreadable CA: an error on stderr, no partial JSON. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--ca", "/nonexistent-ca", "--json",
                       NULL), FXT_FILE);
    HK_CHECK(!fr_has("{"));
}

static void test_ca_init_and_show(void)
{
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("CA created"));
    HK_CHECK(!fr_has("PRIVATE KEY"));
    static const char *const files[] = {"root.key", "signer.key", "root.pem", "signer.pem",
                                        "chain.pem", "device.certdef", "signer.certdef",
                                        "certdefs.h", "ca.conf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", ca_dir, files[i]);
        struct stat st;
        HK_CHECK(stat(p, &st) == 0);
        if (strstr(files[i], ".key"))
            HK_CHECK_EQ(st.st_mode & 0777, 0600);
    }
    /* Refuses to overwrite. */
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", ca_dir, NULL), FXT_EXISTS);
    HK_CHECK(fr_has("never overwrites"));
    HK_CHECK_EQ(fr_run(F, "ca", "show", "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("signer ID"));
    HK_CHECK(fr_has("CN=hubkey Root CA"));
    HK_CHECK(!fr_has("PRIVATE KEY"));
    /* Certificates are shown one way (fx_show_cert), here without indent. */
    HK_CHECK(fr_has("\nroot CA\n  subject   CN=hubkey Root CA, O=hubkey\n"
                    "  issuer    CN=hubkey Root CA, O=hubkey\n  validity  "));
    HK_CHECK(fr_has("\nsigner CA\n  subject   CN=hubkey Signer "));
    char root[800], signer[800], chain[800];
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    snprintf(chain, sizeof chain, "%s/chain.pem", ca_dir);
    HK_CHECK_EQ(fr_run("/usr/bin/openssl", "verify", "-CAfile", root, signer, NULL), 0);
    HK_CHECK_EQ(fr_run("/usr/bin/openssl", "verify", "-CAfile", signer, root, NULL) != 0, 1);
    /* The certificate definitions parse. */
    char p[800];
    snprintf(p, sizeof p, "%s/device.certdef", ca_dir);
    uint8_t buf[4096];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    hk_cert_def def;
    HK_CHECK_RESULT(hk_cert_def_parse(buf, n, &def), HK_OK);
    HK_CHECK_EQ(def.sn_source, HK_CERT_SN_PUB_KEY_HASH);
    HK_CHECK_EQ(def.extra_count, 1);
    /* certdefs.h carries the same definition as C: the template array and an
     * hk_cert_def initialiser with the parsed definition's fields. */
    snprintf(p, sizeof p, "%s/certdefs.h", ca_dir);
    char head[16384];
    f = fopen(p, "r");
    size_t hn = f ? fread(head, 1, sizeof head - 1, f) : 0;
    if (f)
        fclose(f);
    head[hn] = '\0';
    HK_CHECK(strstr(head, "#ifndef HUBKEY_FACTORY_CERTDEFS_H") != NULL);
    HK_CHECK(strstr(head, "#include \"hubkey/cert.h\"") != NULL);
    char decl[96];
    snprintf(decl, sizeof decl, "hubkey_device_template[%zu] = {", def.template_len);
    const char *arr = strstr(head, decl);
    HK_CHECK(arr != NULL);
    size_t same = 0;
    for (const char *q = arr ? arr + strlen(decl) : NULL; q && same < def.template_len; same++) {
        unsigned v = 0;
        q = strstr(q, "0x");
        if (!q || sscanf(q, "0x%2x", &v) != 1 || v != def.template_der[same])
            break;
        q += 4;
    }
    HK_CHECK_EQ(same, def.template_len);
    const char *body = strstr(head, "static const hk_cert_def hubkey_device_def = {");
    HK_CHECK(body != NULL);
    char want[256];
    snprintf(want, sizeof want,
             "    .template_der = hubkey_device_template,\n    .template_len = %zu,\n"
             "    .template_id = %u,\n    .chain_id = %u,\n    .sn_source = 0x%X,\n",
             def.template_len, def.template_id, def.chain_id, def.sn_source);
    HK_CHECK(body != NULL && strstr(body, want) != NULL);
    snprintf(want, sizeof want, "    .tbs = {%u, %u},\n    .std = {{%u, %u}, {%u, %u}, ",
             def.tbs.offset, def.tbs.count, def.std[0].offset, def.std[0].count,
             def.std[1].offset, def.std[1].count);
    HK_CHECK(body != NULL && strstr(body, want) != NULL);
    snprintf(want, sizeof want, "    .extra_count = 1,\n    .extras = {{%u, %u, %u, %u, {%u, %u}}},\n",
             def.extras[0].source, def.extras[0].transform, def.extras[0].src_offset,
             def.extras[0].src_count, def.extras[0].cert.offset, def.extras[0].cert.count);
    HK_CHECK(body != NULL && strstr(body, want) != NULL);

    /* Bad settings never create anything. */
    char other[700];
    path_in(other, sizeof other, "ca-bad");
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", other, "--device-years", "5", NULL), FXT_USAGE);
    HK_CHECK(fr_has("2050 or later"));
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", other, "--device-subject", "O=x,CN={sn}-dev",
                       NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", other, "--device-subject", "O=x,CN=Dev{sn}",
                       NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", other, "--org", "a,b", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", other, "--signer-years", "50", "--root-years",
                       "10", NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "ca", "show", "--ca", other, NULL), FXT_FILE);
    HK_CHECK(fr_has("no CA here"));
}

static void test_configure_new_chip(void)
{
    char spec[700], p[700];
    spec_of(spec, sizeof spec, "new.emu");
    path_in(p, sizeof p, "new.emu");
    /* Dry run: shows the writes, creates nothing. */
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--dry-run", NULL), FXT_OK);
    HK_CHECK(fr_has("would write config bytes  20- 23: 85 20 82 00"));
    HK_CHECK(fr_has("lock the config zone"));
    HK_CHECK(access(p, F_OK) != 0);

    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("created a factory-new emulated ATECC608A"));
    HK_CHECK(fr_has("is configured"));
    uint8_t cfg[128];
    load_config("new.emu", cfg);
    HK_CHECK_EQ(cfg[86], 0x00); /* data locked */
    HK_CHECK_EQ(cfg[87], 0x00); /* config locked */
    static const uint8_t slot0[2] = {0x85, 0x20}, key0[2] = {0x73, 0x00};
    HK_CHECK_MEM(cfg + 20, 2, slot0, 2);
    HK_CHECK_MEM(cfg + 96, 2, key0, 2);
    HK_CHECK_EQ(cfg[16], 0xC0);
    hk_atecc608_config dc;
    HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &dc), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_config_check(&dc, 0, NULL), HK_OK);
    HK_CHECK(!dc.slots[0].locked); /* the key is made by provision */
    /* Slot 8 is an empty record. */
    fr_chip c;
    HK_CHECK(fr_chip_load(&c, p) == 0);
    uint8_t img[416];
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 8, 0, img, sizeof img), HK_OK);
    hk_record rec;
    HK_CHECK_RESULT(hk_record_parse(img, sizeof img, &rec), HK_ERR_RECORD_EMPTY);
    fr_chip_free(&c);

    /* Idempotent; dry run on a configured chip writes nothing. */
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("already locked with the hubkey configuration"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--dry-run", NULL), FXT_OK);
    HK_CHECK(fr_has("nothing would be written"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("the hubkey configuration"));
    HK_CHECK(fr_has("data zone       locked"));
    HK_CHECK(fr_has("provisioning record (slot 8): empty"));
}

static void edit_none(uint8_t cfg[128])
{
    (void)cfg;
}

static void edit_slot8_secret(uint8_t cfg[128])
{
    fr_set_slot(cfg, 8, 0x0F8F, 0x003C); /* IsSecret: not readable in clear */
}

static void edit_slot0_readable(uint8_t cfg[128])
{
    fr_set_slot(cfg, 0, 0x2005, 0x0073); /* IsSecret clear */
}

static void test_configure_partial_chip(void)
{
    char spec[700];
    /* Config zone locked with the default (TrustFLEX-style) configuration,
     * data zone not: the tool finishes it. Slot 0 there allows no GenKey
     * after the data lock, so the key is made before it. */
    HK_CHECK(make_chip("partial.emu", 41, NULL, true, false) == 0);
    spec_of(spec, sizeof spec, "partial.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("finishes the partly configured chip"));
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL), FXT_PARTIAL);
    HK_CHECK(fr_has("data zone NOT locked"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--dry-run", NULL), FXT_OK);
    HK_CHECK(fr_has("make the permanent key in slot 0"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("different but compatible"));
    HK_CHECK(fr_has("differs: SlotConfig[0]"));
    HK_CHECK(fr_has("permanent key was made"));
    uint8_t cfg[128];
    load_config("partial.emu", cfg);
    HK_CHECK_EQ(cfg[86], 0x00);
    /* The key made before the data lock is the one provisioning uses. */
    char out[700];
    path_in(out, sizeof out, "partial-out");
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--out", out, NULL),
                FXT_OK);
    HK_CHECK(fr_has("reusing it"));
    char root[800], signer[800], dev[800];
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    snprintf(dev, sizeof dev, "%s/device.pem", out);
    HK_CHECK_EQ(openssl_verify(root, signer, dev), 0);
}

static void test_incompatible_chips(void)
{
    char spec[700];
    HK_CHECK(make_chip("slot8.emu", 42, edit_slot8_secret, true, false) == 0);
    spec_of(spec, sizeof spec, "slot8.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_INCOMPATIBLE);
    HK_CHECK(fr_has("problem: slot 8"));
    HK_CHECK(fr_has("differs: SlotConfig[8]"));
    HK_CHECK(fr_has("use another chip"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--dry-run", NULL),
                FXT_INCOMPATIBLE);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL),
                FXT_INCOMPATIBLE);
    uint8_t cfg[128];
    load_config("slot8.emu", cfg);
    HK_CHECK_EQ(cfg[86], 0x55); /* nothing was locked on the refused chip */

    HK_CHECK(make_chip("slot0.emu", 43, edit_slot0_readable, true, true) == 0);
    spec_of(spec, sizeof spec, "slot0.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_INCOMPATIBLE);
    HK_CHECK(fr_has("problem: slot 0: key slot is readable"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("NOT usable by hubkey"));

    /* An unconfigured chip cannot be provisioned. */
    HK_CHECK(make_chip("blank.emu", 44, edit_none, false, false) == 0);
    spec_of(spec, sizeof spec, "blank.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL),
                FXT_NOT_READY);
    HK_CHECK(fr_has("chip configure --chip"));
}

/* A chip whose slot 13 someone locked before provisioning:
 *  0, 1: to a public key that is not slot 0's, padded or plain: a device
 *        would rebuild its certificate with it, so the chip is refused;
 *  2:    to bytes that are no key: devices fall back to GenKey, so the chip
 *        is provisioned (and says so), its chain verified through hk_se;
 *  3:    to slot 0's own key in the padded form, as hubkey-factory wrote
 *        it before (key made and locked by hand here): accepted, nothing
 *        written to slot 13, the chain read with its padded key. */
static void test_provision_foreign_slot13(void)
{
    for (int variant = 0; variant < 4; variant++) {
        char spec[700], p[700], name[32];
        snprintf(name, sizeof name, "slot13-%d.emu", variant);
        spec_of(spec, sizeof spec, name);
        path_in(p, sizeof p, name);
        HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
        fr_chip c;
        HK_CHECK_EQ(fr_chip_load(&c, p), 0);
        uint8_t stored[72] = {0}, pub[64];
        const uint8_t *key = HK_TEST_P256_G;
        if (variant == 3) {
            HK_CHECK_RESULT(hk_atecc608_genkey(&c.dev, true, 0, pub, NULL), HK_OK);
            HK_CHECK_RESULT(hk_atecc608_lock_slot(&c.dev, 0, NULL), HK_OK);
            key = pub;
        }
        if (variant == 1) {
            memcpy(stored, key, 64);
        } else if (variant == 2) {
            memset(stored, 0x5A, sizeof stored);
        } else {
            memcpy(stored + 4, key, 32);
            memcpy(stored + 40, key + 32, 32);
        }
        HK_CHECK_RESULT(hk_atecc608_write_slot(&c.dev, 13, 0, stored, sizeof stored, NULL),
                        HK_OK);
        HK_CHECK_RESULT(hk_atecc608_lock_slot(&c.dev, 13, NULL), HK_OK);
        HK_CHECK_RESULT(hk_emu_atecc608_save(c.emu, p), HK_OK);
        fr_chip_free(&c);
        int rc = fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL);
        if (variant < 2) {
            HK_CHECK_EQ(rc, FXT_INCOMPATIBLE);
            HK_CHECK(fr_has("slot 13 is locked and holds a public key that is not slot 0's"));
            continue;
        }
        HK_CHECK_EQ(rc, FXT_OK);
        HK_CHECK(fr_has("chain read back and verified"));
        HK_CHECK(!fr_has("public key stored in slot 13"));
        if (variant == 2)
            HK_CHECK(fr_has("slot 13 is locked and holds no public key"));
        else
            HK_CHECK(fr_has("slot 0 already holds the device key"));
        /* slot 13 as it was */
        HK_CHECK_EQ(fr_chip_load(&c, p), 0);
        uint8_t now[72];
        HK_CHECK_RESULT(hk_atecc608_read_slot(&c.dev, 13, 0, now, sizeof now, NULL), HK_OK);
        HK_CHECK_MEM(now, 72, stored, 72);
        fr_chip_free(&c);
    }
}

static void test_provision(void)
{
    char spec[700], out[700], p[700];
    spec_of(spec, sizeof spec, "prov.emu");
    path_in(out, sizeof out, "prov-out");
    path_in(p, sizeof p, "prov.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    /* Without the CA. */
    char noca[700];
    path_in(noca, sizeof noca, "no-ca");
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", noca, NULL), FXT_FILE);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--out", out, NULL),
                FXT_OK);
    HK_CHECK(fr_has("key made in slot 0 and the slot locked"));
    HK_CHECK(fr_has("chain read back and verified"));
    HK_CHECK(fr_has("public key stored in slot 13 and the slot locked"));
    HK_CHECK(!fr_has("PRIVATE KEY"));
    /* Registration ID = "sn" + serial in lower-case hex. */
    uint8_t cfg[128];
    load_config("prov.emu", cfg);
    char want[64];
    snprintf(want, sizeof want, "registration ID   sn%02x%02x%02x%02x%02x%02x%02x%02x%02x",
             cfg[0], cfg[1], cfg[2], cfg[3], cfg[8], cfg[9], cfg[10], cfg[11], cfg[12]);
    HK_CHECK(fr_has(want));
    const char *tp = fr_out ? strstr(fr_out, "SHA-256 thumbprint ") : NULL;
    char thumb[65] = "";
    if (tp)
        snprintf(thumb, sizeof thumb, "%.64s", tp + 19);
    HK_CHECK_EQ(strlen(thumb), 64);
    hk_atecc608_config dc;
    HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &dc), HK_OK);
    HK_CHECK(dc.slots[0].locked);

    char root[800], signer[800], dev[800], chain[800];
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    snprintf(dev, sizeof dev, "%s/device.pem", out);
    snprintf(chain, sizeof chain, "%s/chain.pem", out);
    HK_CHECK_EQ(openssl_verify(root, signer, dev), 0);
    HK_CHECK(fr_has(": OK"));
    HK_CHECK_EQ(fr_run("/usr/bin/openssl", "verify", "-CAfile", root, "-untrusted", chain, chain,
                       NULL), 0);
    char q0[800];
    snprintf(q0, sizeof q0, "%s/device.certdef", out);
    HK_CHECK(access(q0, R_OK) == 0);
    /* The device certificate is not a CA's: a certificate naming it as
     * issuer does not verify, refused for the issuer's CA status (the same
     * forgery under the signer, a CA, fails on its signature instead). */
    char forged[700], via[800];
    path_in(forged, sizeof forged, "issued-by-device.pem");
    snprintf(via, sizeof via, "%s/chain.pem", out); /* device + signer */
    HK_CHECK_EQ(forge_child(dev, forged), 0);
    HK_CHECK(openssl_verify(root, via, forged) != 0);
    HK_CHECK(fr_has("invalid CA certificate"));
    HK_CHECK_EQ(forge_child(signer, forged), 0);
    HK_CHECK(openssl_verify(root, via, forged) != 0);
    HK_CHECK(!fr_has("invalid CA certificate") && fr_has("signature"));
    /* The thumbprint printed is the certificate's. */
    HK_CHECK_EQ(fr_run("/usr/bin/openssl", "x509", "-in", dev, "-noout", "-fingerprint",
                       "-sha256", NULL), 0);
    char colon[200] = "";
    for (int i = 0, k = 0; i < 64 && thumb[0]; i += 2)
        k += snprintf(colon + k, sizeof colon - (size_t)k, "%s%.2s", i ? ":" : "", thumb + i);
    HK_CHECK(fr_has(colon));

    /* The chain as a device rebuilds it from the chip with the CA's
     * definitions: the same bytes as the file. */
    fr_chip c;
    HK_CHECK(fr_chip_load(&c, p) == 0);
    uint8_t ddef_buf[4096], sdef_buf[4096];
    char q[800];
    snprintf(q, sizeof q, "%s/device.certdef", ca_dir);
    FILE *f = fopen(q, "rb");
    size_t dn = f ? fread(ddef_buf, 1, sizeof ddef_buf, f) : 0;
    if (f)
        fclose(f);
    snprintf(q, sizeof q, "%s/signer.certdef", ca_dir);
    f = fopen(q, "rb");
    size_t sn = f ? fread(sdef_buf, 1, sizeof sdef_buf, f) : 0;
    if (f)
        fclose(f);
    hk_cert_def ddef, sdef;
    HK_CHECK_RESULT(hk_cert_def_parse(ddef_buf, dn, &ddef), HK_OK);
    HK_CHECK_RESULT(hk_cert_def_parse(sdef_buf, sn, &sdef), HK_OK);
    hk_se_atecc608 ctx;
    hk_se se;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &c.dev, &ddef, &sdef, &se, NULL), HK_OK);
    uint8_t der[1200];
    size_t len = 0;
    HK_CHECK_RESULT(se.cert(se.ctx, 0, der, sizeof der, &len), HK_OK);
    char rebuilt[700];
    path_in(rebuilt, sizeof rebuilt, "rebuilt.der");
    f = fopen(rebuilt, "wb");
    if (f) {
        fwrite(der, 1, len, f);
        fclose(f);
    }
    HK_CHECK_EQ(fr_run("/usr/bin/openssl", "x509", "-inform", "DER", "-in", rebuilt, "-noout",
                       "-fingerprint", "-sha256", NULL), 0);
    HK_CHECK(fr_has(colon));
    fr_chip_free(&c);

    /* A second run leaves the chip alone; --reissue writes a certificate
     * again for the same key (within the same hour it is the same one:
     * same dates, serial from the key, deterministic ECDSA). */
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("already provisioned"));
    HK_CHECK(fr_has(thumb));
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--reissue",
                       "--out", out, NULL), FXT_OK);
    HK_CHECK(fr_has("reusing it"));
    HK_CHECK(fr_has("chain read back and verified"));
    HK_CHECK_EQ(openssl_verify(root, signer, dev), 0);

    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("chain verifies up to"));
    HK_CHECK(fr_has("registration ID  sn"));
    /* The same certificate block as ca show, indented by two. */
    HK_CHECK(fr_has("\n  device (slot 10, rebuilt)\n    subject   O=hubkey, CN=sn"));
    HK_CHECK(fr_has("\n  signer (slot 12, rebuilt)\n    subject   CN=hubkey Signer "));
    HK_CHECK(fr_has("\n    issuer    CN=hubkey Root CA, O=hubkey\n    validity  "));
    HK_CHECK(fr_has("slots locked    0, 13\n"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("slot 10 device certificate: compressed"));

    /* A chip of another CA is not taken for provisioned by this one. */
    char ca2[700];
    path_in(ca2, sizeof ca2, "ca2");
    HK_CHECK_EQ(fr_run(F, "ca", "init", "--ca", ca2, "--org", "Other", NULL), FXT_OK);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--ca", ca2, NULL), FXT_OK);
    HK_CHECK(fr_has("do not hold certificates of this CA") || fr_has("does NOT verify"));
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca2, NULL), FXT_OK);
    HK_CHECK(fr_has("reusing it"));
    char root2[800];
    snprintf(root2, sizeof root2, "%s/root.pem", ca2);
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--ca", ca2, NULL), FXT_OK);
    HK_CHECK(fr_has("chain verifies up to"));
}

/* Power fails in each Write command of chip configure and chip provision in
 * turn: the run says what state the chip was left in (nothing locked: chip
 * I/O error; config locked only, or key made but certificates not all
 * written: partly done) and a second run finishes the chip. Faulty buses
 * (corrupted and lost responses) are ridden out by the driver's retries. */
static void test_power_loss_and_faults(void)
{
    char spec[700], name[64], keep[16];
    /* configure: 2 config writes then 13 slot-8 writes on a factory-new chip. */
    for (int n = 1; n <= 16; n++) {
        snprintf(name, sizeof name, "pl-cfg-%d.emu", n);
        spec_of(spec, sizeof spec, name);
        snprintf(keep, sizeof keep, "%d,%d", n, (n * 7) % 33);
        int rc = fr_run(F, "chip", "configure", "--chip", spec, "--chip-power-loss", keep, NULL);
        if (n <= 2) {
            HK_CHECK_EQ(rc, FXT_CHIP_IO);
        } else if (n <= 15) {
            HK_CHECK_EQ(rc, FXT_PARTIAL);
            HK_CHECK(fr_has("config zone is LOCKED but its data zone is NOT"));
            HK_CHECK(fr_has("chip configure --chip"));
        } else {
            HK_CHECK_EQ(rc, FXT_OK); /* no 16th write: nothing failed */
        }
        HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
        uint8_t cfg[128];
        load_config(name, cfg);
        HK_CHECK(cfg[86] == 0x00 && cfg[87] == 0x00);
    }
    /* provision: 3 blocks each for slots 10, 11 and 12. */
    char root[800], signer[800], out[700], dev[800];
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    for (int n = 1; n <= 9; n++) {
        snprintf(name, sizeof name, "pl-prov-%d.emu", n);
        spec_of(spec, sizeof spec, name);
        HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
        snprintf(keep, sizeof keep, "%d,%d", n, (n * 11) % 33);
        HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir,
                           "--chip-power-loss", keep, NULL), FXT_PARTIAL);
        HK_CHECK(fr_has("key in slot 0 is made and locked"));
        snprintf(name, sizeof name, "pl-prov-%d", n);
        path_in(out, sizeof out, name);
        HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--out", out,
                           NULL), FXT_OK);
        HK_CHECK(fr_has("reusing it"));
        snprintf(dev, sizeof dev, "%s/device.pem", out);
        HK_CHECK_EQ(openssl_verify(root, signer, dev), 0);
    }
    /* 3 % of responses corrupted and 3 % lost, several seeds. */
    for (int seed = 1; seed <= 4; seed++) {
        char faults[32];
        snprintf(name, sizeof name, "faulty-%d.emu", seed);
        spec_of(spec, sizeof spec, name);
        snprintf(faults, sizeof faults, "30000,%d", seed);
        HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--chip-faults", faults, NULL),
                    FXT_OK);
        snprintf(faults, sizeof faults, "30000,%d", seed + 100);
        HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, "--chip-faults",
                           faults, NULL), FXT_OK);
        HK_CHECK(fr_has("chain read back and verified"));
    }
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", "i2c:/dev/i2c-99", "--chip-faults", "1",
                       NULL), FXT_CHIP_IO);
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--chip-power-loss", "0", NULL),
                FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--chip-faults", "x", NULL),
                FXT_USAGE);
}

/* ATECC608A and ATECC608B: --part chooses what a new emulated chip is (608a
 * by default) and checks an existing one; configure, provision and show
 * work either part and name it. */
static void test_parts(void)
{
    char spec[700], specb[700], p[700], out[700];
    spec_of(spec, sizeof spec, "part-a.emu");
    spec_of(specb, sizeof specb, "part-b.emu");
    path_in(out, sizeof out, "part-b-out");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", specb, "--part", "608c", NULL),
                FXT_USAGE);
    HK_CHECK(fr_has("--part"));
    path_in(p, sizeof p, "part-b.emu");
    HK_CHECK(access(p, F_OK) != 0);
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", specb, "--part", "608b", "--dry-run",
                       NULL),
                FXT_OK);
    HK_CHECK(fr_has("ATECC608B serial"));
    HK_CHECK(access(p, F_OK) != 0);
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", specb, "--part", "608b", NULL), FXT_OK);
    HK_CHECK(fr_has("created a factory-new emulated ATECC608B"));
    HK_CHECK(fr_has("ATECC608B serial"));
    HK_CHECK(fr_has("is configured"));
    uint8_t cfg[128];
    load_config("part-b.emu", cfg);
    HK_CHECK_MEM(cfg + 4, 4, "\x00\x00\x60\x03", 4);
    HK_CHECK_EQ(cfg[86], 0x00);
    /* An existing chip of the other part: refused, nothing written. */
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", specb, "--part", "608a", NULL),
                FXT_INCOMPATIBLE);
    HK_CHECK(fr_has("is an ATECC608B"));
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", specb, "--part", "608B", NULL), FXT_OK);
    HK_CHECK(fr_has("already locked with the hubkey configuration"));
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", specb, "--ca", ca_dir, "--out", out,
                       NULL),
                FXT_OK);
    HK_CHECK(fr_has("chain read back and verified"));
    HK_CHECK(fr_has("part              ATECC608B"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", specb, "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("revision        00 00 60 03 (ATECC608B)"));
    /* The default is a 608A, named as one everywhere. */
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("created a factory-new emulated ATECC608A"));
    HK_CHECK(fr_has("ATECC608A serial"));
    load_config("part-a.emu", cfg);
    HK_CHECK_MEM(cfg + 4, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, "--part", "608b", NULL),
                FXT_INCOMPATIBLE);
    HK_CHECK(fr_has("is an ATECC608A"));
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("part              ATECC608A"));
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, NULL), FXT_OK);
    HK_CHECK(fr_has("revision        00 00 60 02 (ATECC608A)"));
    /* --part belongs to the commands that make chips. */
    HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", spec, "--part", "608a", NULL), FXT_USAGE);
    /* A batch of 608B chips. */
    char dir[700];
    path_in(dir, sizeof dir, "batch-b");
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "2", "--dir", dir, "--ca", ca_dir, "--part", "608b",
                       "--quiet", NULL),
                FXT_OK);
    load_config("batch-b/chip-0001.emu", cfg);
    HK_CHECK_MEM(cfg + 4, 4, "\x00\x00\x60\x03", 4);
    HK_CHECK_EQ(cfg[87], 0x00);
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "2", "--dir", dir, "--part", "508a", NULL),
                FXT_USAGE);
}

static void test_batch_of_100(void)
{
    char dir[700];
    path_in(dir, sizeof dir, "batch");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "100", "--dir", dir, "--ca", ca_dir, NULL), FXT_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("batch of 100 emulated chips: %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    HK_CHECK(fr_has("100 chips configured and provisioned"));
    HK_CHECK(fr_has("100/100 chips"));
    char p[800];
    snprintf(p, sizeof p, "%s/manifest.csv", dir);
    FILE *f = fopen(p, "r");
    HK_CHECK(f != NULL);
    char line[512], serials[100][19];
    int rows = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (rows > 0 && rows <= 100) {
            char file[64], serial[32], rid[64], sha256[80];
            int idx = 0;
            HK_CHECK_EQ(sscanf(line, "%d,%63[^,],%31[^,],%63[^,],%79[^,]", &idx, file, serial, rid,
                               sha256), 5);
            HK_CHECK_EQ(idx, rows);
            HK_CHECK_EQ(strlen(serial), 18);
            HK_CHECK_EQ(strlen(sha256), 64);
            HK_CHECK(strncmp(rid, "sn", 2) == 0 && strcmp(rid + 2, serial) == 0);
            snprintf(serials[rows - 1], sizeof serials[0], "%s", serial);
            /* Each chip file: both zones locked, key slot locked, and its
             * serial the manifest's. */
            char cp[800];
            snprintf(cp, sizeof cp, "%s/%s", dir, file);
            fr_chip c;
            HK_CHECK(fr_chip_load(&c, cp) == 0);
            if (c.emu) {
                uint8_t cfg[128];
                hk_emu_atecc608_config_get(c.emu, cfg);
                hk_atecc608_config dc;
                HK_CHECK_RESULT(hk_atecc608_config_decode(cfg, &dc), HK_OK);
                HK_CHECK_RESULT(hk_atecc608_config_check(&dc, 0, NULL), HK_OK);
                HK_CHECK(dc.slots[0].locked);
                char hex[19];
                for (int i = 0; i < 9; i++)
                    snprintf(hex + 2 * i, 3, "%02x", dc.serial[i]);
                HK_CHECK(strcmp(hex, serial) == 0);
                fr_chip_free(&c);
            }
        }
        rows++;
    }
    if (f)
        fclose(f);
    HK_CHECK_EQ(rows, 101);
    for (int i = 0; i < 100 && rows == 101; i++)
        for (int j = i + 1; j < 100; j++)
            HK_CHECK(strcmp(serials[i], serials[j]) != 0);
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    HK_CHECK_EQ(fr_run("/usr/bin/python3", "-c",
                       "import json,sys; m=json.load(open(sys.argv[1])); "
                       "assert m['count']==100 and len(m['chips'])==100; "
                       "assert len({c['serial'] for c in m['chips']})==100",
                       p, NULL), 0);
    /* Every tenth chip's certificate verifies with openssl. */
    char root[800], signer[800];
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    for (int i = 1; i <= 100; i += 11) {
        snprintf(p, sizeof p, "%s/chip-%04d.pem", dir, i);
        HK_CHECK_EQ(openssl_verify(root, signer, p), 0);
    }
    /* The definitions are next to the chips, byte for byte the CA's. */
    static const char *const defs[] = {"device.certdef", "signer.certdef"};
    for (int i = 0; i < 2; i++) {
        char a[800], b[800];
        snprintf(a, sizeof a, "%s/%s", dir, defs[i]);
        snprintf(b, sizeof b, "%s/%s", ca_dir, defs[i]);
        HK_CHECK_EQ(fr_run("/usr/bin/cmp", a, b, NULL), 0);
    }
    /* A batched chip works with the single-chip commands. */
    char spec[800];
    snprintf(spec, sizeof spec, "emu:%s/chip-0042.emu", dir);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL), FXT_OK);
    HK_CHECK(fr_has("already provisioned"));
    /* Never over an existing batch. */
    HK_CHECK_EQ(fr_run(F, "batch", "--count", "2", "--dir", dir, "--ca", ca_dir, NULL), FXT_EXISTS);
}

/* ---- enroll against a real hubkey-cloud ---- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static void test_enroll(void)
{
#ifdef HK_CLOUD_BIN
    const char *cloud = HK_CLOUD_BIN;
    char state[700], spec[700], portbuf[16];
    path_in(state, sizeof state, "cloud");
    int started = -1;
    for (int attempt = 0; attempt < 5 && started != 0; attempt++) {
        snprintf(portbuf, sizeof portbuf, "%d", free_port());
        started = fr_run(cloud, "--dir", state, "start", "--port", portbuf, NULL);
        if (started != 4) /* 4: the port was taken meanwhile */
            break;
    }
    HK_CHECK_EQ(started, 0);
    if (started != 0)
        return;
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", state, "group", "--ca", ca_dir, "--cloud-cli",
                       cloud, "--name", "factory-test", NULL), FXT_OK);
    HK_CHECK(fr_has("az iot dps enrollment-group create"));
    HK_CHECK_EQ(fr_run(cloud, "--dir", state, "enroll", "group", "list", "--json", NULL), 0);
    HK_CHECK(fr_has("factory-test"));

#ifdef HK_AGENT_BIN
    /* A chip from the factory joins through the group enrollment with the
     * hubkey agent, and chip show then reads the record the agent wrote. */
    {
        char gspec[700], trust[800], dps[64], addr[64], scope[64] = "";
        spec_of(gspec, sizeof gspec, "group.emu");
        HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", gspec, NULL), FXT_OK);
        /* --out next to the chip file: the agent finds the definitions there. */
        HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", gspec, "--ca", ca_dir, "--out", tmp,
                           NULL), FXT_OK);
        HK_CHECK_EQ(fr_run(cloud, "--dir", state, "status", "--json", NULL), 0);
        const char *sc = fr_out ? strstr(fr_out, "\"id_scope\"") : NULL;
        if (sc && (sc = strchr(sc + 10, '"')) != NULL)
            snprintf(scope, sizeof scope, "%.*s", (int)strcspn(sc + 1, "\""), sc + 1);
        HK_CHECK(scope[0] != '\0');
        snprintf(trust, sizeof trust, "%s/pki/server-ca.pem", state);
        snprintf(dps, sizeof dps, "dps.hubkey.test:%s", portbuf);
        snprintf(addr, sizeof addr, "127.0.0.1:%s", portbuf);
        HK_CHECK_EQ(fr_run(HK_AGENT_BIN, "provision", "--chip", gspec, "--id-scope", scope,
                           "--dps", dps, "--cloud-address", addr, "--trust", trust, "--timeout",
                           "60s", NULL), 0);
        HK_CHECK_EQ(fr_run(F, "chip", "show", "--chip", gspec, "--ca", ca_dir, NULL), FXT_OK);
        HK_CHECK(fr_has("provisioning record (slot 8): hub hub-"));
        HK_CHECK(fr_has("generation 1"));
    }
#endif
    spec_of(spec, sizeof spec, "enroll.emu");
    HK_CHECK_EQ(fr_run(F, "chip", "configure", "--chip", spec, NULL), FXT_OK);
    HK_CHECK_EQ(fr_run(F, "chip", "provision", "--chip", spec, "--ca", ca_dir, NULL), FXT_OK);
    const char *rid = fr_out ? strstr(fr_out, "registration ID   ") : NULL;
    char reg[40] = "";
    if (rid)
        snprintf(reg, sizeof reg, "%.20s", rid + 18);
    HK_CHECK_EQ(strlen(reg), 20);
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", state, "individual", "--chip", spec, "--ca", ca_dir,
                       "--cloud-cli", cloud, "--device-id", "factory-device-1", NULL), FXT_OK);
    HK_CHECK(fr_has("az iot dps enrollment create"));
    HK_CHECK_EQ(fr_run(cloud, "--dir", state, "enroll", "individual", "list", "--json", NULL), 0);
    HK_CHECK(fr_has(reg));
    HK_CHECK(fr_has("factory-device-1"));
    /* Refusals: an unprovisioned chip; hubkey-cloud's own refusal. */
    HK_CHECK(make_chip("blank2.emu", 45, edit_none, false, false) == 0);
    spec_of(spec, sizeof spec, "blank2.emu");
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", state, "individual", "--chip", spec, "--ca", ca_dir,
                       "--cloud-cli", cloud, NULL), FXT_INCOMPATIBLE);
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", state, "group", "--ca", ca_dir, "--cloud-cli",
                       cloud, "--hubs", "no-such-hub", NULL), FXT_CLOUD);
    HK_CHECK(fr_has("hubkey-cloud refused"));
    HK_CHECK_EQ(fr_run(cloud, "--dir", state, "stop", NULL), 0);
    char nostate[700];
    path_in(nostate, sizeof nostate, "no-cloud");
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", nostate, "group", "--ca", ca_dir, "--cloud-cli",
                       cloud, NULL), FXT_CLOUD);
#else
    printf("hubkey-cloud is not built: enroll is checked only for its refusals\n");
#endif
    char nocli[700];
    path_in(nocli, sizeof nocli, "no-such-program");
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", tmp, "group", "--ca", ca_dir, "--cloud-cli", nocli,
                       NULL), FXT_CLOUD);
    HK_CHECK_EQ(fr_run(F, "enroll", "group", "--ca", ca_dir, NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "enroll", "--cloud", tmp, "individual", "--ca", ca_dir, NULL), FXT_USAGE);
}

int main(void)
{
    fr_mkdtemp(tmp, sizeof tmp, "test");
    if (!tmp[0]) {
        fprintf(stderr, "no temporary directory\n");
        return 1;
    }
    snprintf(ca_dir, sizeof ca_dir, "%s/ca", tmp);
    HK_RUN(test_usage_and_chip_specs);
    HK_RUN(test_ca_init_and_show);
    HK_RUN(test_help_and_version);
    HK_RUN(test_json_output);
    HK_RUN(test_configure_new_chip);
    HK_RUN(test_configure_partial_chip);
    HK_RUN(test_incompatible_chips);
    HK_RUN(test_provision);
    HK_RUN(test_provision_foreign_slot13);
    HK_RUN(test_power_loss_and_faults);
    HK_RUN(test_parts);
    HK_RUN(test_batch_of_100);
    HK_RUN(test_enroll);
    fr_rmrf(tmp);
    free(fr_out);
    return hk_test_finish("factory");
}
