/*
 * hubkey-factory ca verify: the verification certificate of a CA's proof
 * of possession (Azure's verification code as subject CN, signed by the
 * uploaded CA's key), checked with openssl: it verifies under root.pem (or
 * the signer with --with signer) and not under a CA that did not sign it;
 * its subject is exactly CN=CODE, it is no CA, it is valid now; every
 * refusal with its exit code and message; no key material printed.
 */
#include "factory_run.h"

#include "hk_test.h"

#ifndef HK_FACTORY_BIN
#error "HK_FACTORY_BIN must name the hubkey-factory program"
#endif

static const char *F = HK_FACTORY_BIN;
static const char *OPENSSL = "/usr/bin/openssl";
static char tmp[512];
static char ca_dir[600], other_ca[600];

enum { FXT_OK = 0, FXT_USAGE = 1, FXT_FILE = 2, FXT_VERIFY = 6 };

#define CODE "47292AB6260DB02CCD2D07C601B7303DD49858B6"

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp, name);
}

static void test_by_root(void)
{
    char out[700], root[700], other_root[700];
    path_in(out, sizeof out, "verification.pem");
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(other_root, sizeof other_root, "%s/root.pem", other_ca);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--out", out, NULL),
                FXT_OK);
    HK_CHECK(fr_has("CN=" CODE));
    HK_CHECK(fr_has("az iot dps certificate verify"));
    HK_CHECK(!fr_has("PRIVATE KEY"));
    HK_CHECK_EQ(fr_run(OPENSSL, "verify", "-CAfile", root, out, NULL), 0);
    HK_CHECK(fr_has(": OK"));
    /* Not under another CA: the signature is what proves possession. */
    HK_CHECK(fr_run(OPENSSL, "verify", "-CAfile", other_root, out, NULL) != 0);
    /* Exactly the code as subject, issued by the root, no CA, valid now. */
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-subject", "-nameopt", "RFC2253",
                       NULL),
                0);
    HK_CHECK(fr_has("subject=CN=" CODE "\n"));
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-issuer", "-nameopt", "RFC2253",
                       NULL),
                0);
    HK_CHECK(fr_has("CN=hubkey Root CA"));
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-text", NULL), 0);
    HK_CHECK(fr_has("CA:FALSE"));
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-checkend", "86400", NULL), 0);
    /* Run again (a new code): the file is replaced. */
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", "0A1B2C", "--out", out,
                       "--with", "root", NULL),
                FXT_OK);
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-subject", "-nameopt", "RFC2253",
                       NULL),
                0);
    HK_CHECK(fr_has("subject=CN=0A1B2C\n"));
    /* --json: one object naming the file, the code, the key and the
     * certificate (with its full thumbprint); no text, no az example. */
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--out", out, "--json",
                       NULL),
                FXT_OK);
    HK_CHECK(fr_has("{\"file\":\""));
    HK_CHECK(fr_has(out));
    HK_CHECK(fr_has("\"code\":\"" CODE "\""));
    HK_CHECK(fr_has("\"signed_by\":\"root\""));
    HK_CHECK(fr_has("\"certificate\":{\"subject\":\"CN=" CODE "\""));
    HK_CHECK(fr_has("\"sha256\":\""));
    HK_CHECK(!fr_has("az iot dps"));
}

static void test_by_signer(void)
{
    char out[700], root[700], signer[700];
    path_in(out, sizeof out, "verification-signer.pem");
    snprintf(root, sizeof root, "%s/root.pem", ca_dir);
    snprintf(signer, sizeof signer, "%s/signer.pem", ca_dir);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--with", "signer",
                       "--out", out, NULL),
                FXT_OK);
    HK_CHECK(fr_has("signer.key"));
    /* Under the signer (with the root above it), not under the root alone. */
    HK_CHECK_EQ(fr_run(OPENSSL, "verify", "-CAfile", root, "-untrusted", signer, out, NULL), 0);
    HK_CHECK(fr_run(OPENSSL, "verify", "-CAfile", root, out, NULL) != 0);
    HK_CHECK_EQ(fr_run(OPENSSL, "x509", "-in", out, "-noout", "-issuer", "-nameopt", "RFC2253",
                       NULL),
                0);
    HK_CHECK(fr_has("CN=hubkey Signer"));
}

static void test_refusals(void)
{
    char out[700], missing[700], key[700], saved[700];
    path_in(out, sizeof out, "refused.pem");
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--out", out, NULL), FXT_USAGE);
    HK_CHECK(fr_has("needs --code"));
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", "a,b", NULL), FXT_USAGE);
    HK_CHECK(fr_has("--code 'a,b'"));
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", "", NULL), FXT_USAGE);
    char long_code[80];
    memset(long_code, 'A', 65);
    long_code[65] = '\0';
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", long_code, NULL), FXT_USAGE);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--with", "device",
                       NULL),
                FXT_USAGE);
    HK_CHECK(fr_has("--with 'device'"));
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--chip", "emu:x",
                       NULL),
                FXT_USAGE);
    path_in(missing, sizeof missing, "no-such-ca");
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", missing, "--code", CODE, "--out", out, NULL),
                FXT_FILE);
    HK_CHECK(fr_has("no-such-ca"));
    /* A root key that does not belong to root.pem: found before Azure would. */
    snprintf(key, sizeof key, "%s/root.key", ca_dir);
    path_in(saved, sizeof saved, "root.key.saved");
    HK_CHECK_EQ(rename(key, saved), 0);
    char other_key[700];
    snprintf(other_key, sizeof other_key, "%s/root.key", other_ca);
    HK_CHECK_EQ(fr_run("/bin/cp", "-p", other_key, key, NULL), 0);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--out", out, NULL),
                FXT_VERIFY);
    HK_CHECK(fr_has("does not sign for"));
    struct stat st;
    HK_CHECK(stat(out, &st) != 0); /* nothing written */
    /* No key at all. */
    HK_CHECK_EQ(unlink(key), 0);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--out", out, NULL),
                FXT_FILE);
    HK_CHECK(fr_has("root.key"));
    HK_CHECK_EQ(rename(saved, key), 0);
    HK_CHECK_EQ(fr_run(F, "ca", "verify", "--ca", ca_dir, "--code", CODE, "--out", out, NULL),
                FXT_OK);
}

int main(void)
{
    fr_mkdtemp(tmp, sizeof tmp, "factory-verify");
    snprintf(ca_dir, sizeof ca_dir, "%s/ca", tmp);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca", tmp);
    if (fr_run(F, "ca", "init", "--ca", ca_dir, NULL) != 0 ||
        fr_run(F, "ca", "init", "--ca", other_ca, "--org", "Other", NULL) != 0) {
        fprintf(stderr, "ca init failed: %s\n", fr_out ? fr_out : "");
        return 1;
    }
    HK_RUN(test_by_root);
    HK_RUN(test_by_signer);
    HK_RUN(test_refusals);
    fr_rmrf(tmp);
    free(fr_out);
    return hk_test_finish("factory-verify");
}
