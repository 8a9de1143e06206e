/*
 * OpenSSL 3 certificate helpers for hubkey-cloud. Only public OpenSSL API.
 */
#define _GNU_SOURCE
#include "hkc_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "hkc_util.h"

EVP_PKEY *hkc_pki_key_ec(int curve_nid)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, curve_nid) == 1)
        EVP_PKEY_keygen(ctx, &key);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

EVP_PKEY *hkc_pki_key_rsa(int bits)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    if (ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1)
        EVP_PKEY_keygen(ctx, &key);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

X509 *hkc_pki_cert(const struct hkc_cert_spec *spec)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    bool ok = X509_set_version(cert, 2) == 1;
    /* 16 random bytes of serial, top bit clear so it stays positive. */
    unsigned char sn[16];
    RAND_bytes(sn, sizeof(sn));
    sn[0] &= 0x7f;
    sn[0] |= 0x01;
    BIGNUM *bn = BN_bin2bn(sn, sizeof(sn), NULL);
    ok = ok && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(cert), (long)spec->days * 86400L);
    X509_NAME *name = X509_get_subject_name(cert);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                          (const unsigned char *)spec->cn, -1, -1, 0) == 1;
    ok = ok && X509_set_issuer_name(cert, spec->issuer ? X509_get_subject_name(spec->issuer)
                                                       : name) == 1;
    ok = ok && X509_set_pubkey(cert, spec->key) == 1;
    if (spec->ca) {
        char bc[48];
        if (spec->pathlen >= 0)
            snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", spec->pathlen);
        else
            snprintf(bc, sizeof(bc), "critical,CA:TRUE");
        ok = ok && add_ext(cert, spec->issuer, NID_basic_constraints, bc) &&
             add_ext(cert, spec->issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        ok = ok && add_ext(cert, spec->issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(cert, spec->issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(cert, spec->issuer, NID_ext_key_usage,
                     spec->server ? "serverAuth" : "clientAuth");
    }
    ok = ok && add_ext(cert, spec->issuer, NID_subject_key_identifier, "hash");
    if (spec->issuer || spec->ca)
        ok = ok && add_ext(cert, spec->issuer, NID_authority_key_identifier, "keyid:always");
    if (ok && (spec->dns || spec->ips)) {
        char *san = hkc_strdup("");
        for (const char *const *d = spec->dns; d && *d; d++) {
            char *n = hkc_printf("%s%sDNS:%s", san, *san ? "," : "", *d);
            free(san);
            san = n;
        }
        for (const char *const *d = spec->ips; d && *d; d++) {
            char *n = hkc_printf("%s%sIP:%s", san, *san ? "," : "", *d);
            free(san);
            san = n;
        }
        ok = add_ext(cert, spec->issuer, NID_subject_alt_name, san);
        free(san);
    }
    EVP_PKEY *signer = spec->issuer ? spec->issuer_key : spec->key;
    const EVP_MD *md = EVP_PKEY_get_base_id(signer) == EVP_PKEY_EC &&
                               EVP_PKEY_get_bits(signer) > 256
                           ? EVP_sha384()
                           : EVP_sha256();
    ok = ok && X509_sign(cert, signer, md) > 0;
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static FILE *open_mode(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return NULL;
    fchmod(fd, mode);
    FILE *f = fdopen(fd, "w");
    if (!f)
        close(fd);
    return f;
}

bool hkc_pki_write_cert(const char *path, X509 *const *certs, size_t n)
{
    FILE *f = open_mode(path, 0644);
    if (!f)
        return false;
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = ok && PEM_write_X509(f, certs[i]) == 1;
    return fclose(f) == 0 && ok;
}

bool hkc_pki_write_key(const char *path, EVP_PKEY *key)
{
    FILE *f = open_mode(path, 0600);
    if (!f)
        return false;
    bool ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    return fclose(f) == 0 && ok;
}

X509 *hkc_pki_read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

EVP_PKEY *hkc_pki_read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static X509 **read_bio_certs(BIO *bio, size_t *out_n)
{
    X509 **certs = NULL;
    size_t n = 0;
    X509 *c;
    while (n < 16 && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509 **grown = realloc(certs, (n + 1) * sizeof(*certs));
        if (!grown) {
            X509_free(c);
            break;
        }
        certs = grown;
        certs[n++] = c;
    }
    *out_n = n;
    return certs;
}

X509 **hkc_pki_read_certs(const char *path, size_t *out_n)
{
    *out_n = 0;
    BIO *bio = BIO_new_file(path, "r");
    if (!bio)
        return NULL;
    X509 **certs = read_bio_certs(bio, out_n);
    BIO_free(bio);
    return certs;
}

X509 **hkc_pki_parse_certs(const char *pem, size_t *out_n)
{
    *out_n = 0;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return NULL;
    X509 **certs = read_bio_certs(bio, out_n);
    BIO_free(bio);
    return certs;
}

void hkc_pki_free_certs(X509 **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    free(certs);
}

char *hkc_pki_to_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
        BIO_free(bio);
        return NULL;
    }
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)len + 1);
    if (out) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    return out;
}

X509 *hkc_pki_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return NULL;
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return c;
}

char *hkc_pki_cn(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0)
        return NULL;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0)
        return NULL;
    char *out = NULL;
    /* A CN with an embedded NUL is never a valid registration ID. */
    if (memchr(utf8, 0, (size_t)n) == NULL)
        out = hkc_printf("%.*s", n, (const char *)utf8);
    OPENSSL_free(utf8);
    return out;
}

static void upper_hex(const unsigned char *in, unsigned len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void hkc_pki_thumbprints(X509 *cert, char sha1[41], char sha256[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    sha1[0] = sha256[0] = '\0';
    if (X509_digest(cert, EVP_sha1(), d, &n) == 1 && n == 20)
        upper_hex(d, n, sha1);
    if (X509_digest(cert, EVP_sha256(), d, &n) == 1 && n == 32)
        upper_hex(d, n, sha256);
}

char *hkc_pki_subject(X509 *cert)
{
    char *line = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
    char *out = hkc_strdup(line ? line : "");
    OPENSSL_free(line);
    return out;
}

size_t hkc_pki_ancestry(X509 *leaf, X509 *const *cas, size_t n, size_t *out, size_t max)
{
    size_t found = 0;
    X509 *cur = leaf;
    while (found < max) {
        if (cur != leaf && X509_check_issued(cur, cur) == X509_V_OK)
            break; /* reached a self-signed root */
        size_t i;
        for (i = 0; i < n; i++) {
            if (cas[i] == cur)
                continue;
            EVP_PKEY *pub = X509_get0_pubkey(cas[i]);
            if (X509_check_issued(cas[i], cur) == X509_V_OK && pub && X509_verify(cur, pub) == 1)
                break;
        }
        if (i == n)
            break;
        out[found++] = i;
        cur = cas[i];
    }
    return found;
}

X509 *hkc_pki_issue_csr(const unsigned char *der, size_t len, const char *expected_cn,
                        X509 *ca, EVP_PKEY *ca_key, int days, const char **why)
{
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    if (!req || p != der + len) {
        *why = "CSR is not a DER PKCS#10 request";
        X509_REQ_free(req);
        return NULL;
    }
    X509 *cert = NULL;
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) {
        *why = "CSR signature does not verify";
        goto out;
    }
    if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC ||
        (EVP_PKEY_get_bits(pub) != 256 && EVP_PKEY_get_bits(pub) != 384)) {
        *why = "CSR key must be EC P-256 or P-384";
        goto out;
    }
    X509_NAME *name = X509_REQ_get_subject_name(req);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *cn = NULL;
    int cnl = idx < 0 ? -1 : ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
                                                        X509_NAME_get_entry(name, idx)));
    bool cn_ok = cnl > 0 && (size_t)cnl == strlen(expected_cn) &&
                 strncasecmp((const char *)cn, expected_cn, (size_t)cnl) == 0;
    char *cn_str = cn_ok ? hkc_printf("%.*s", cnl, (const char *)cn) : NULL;
    OPENSSL_free(cn);
    if (!cn_ok) {
        *why = "CSR common name must equal the registration ID";
        goto out;
    }
    struct hkc_cert_spec spec = {.cn = cn_str, .key = pub, .issuer = ca, .issuer_key = ca_key,
                                 .days = days};
    cert = hkc_pki_cert(&spec);
    free(cn_str);
    if (!cert)
        *why = "certificate issuance failed";
out:
    X509_REQ_free(req);
    return cert;
}

bool hkc_pki_capath_add(const char *dir, X509 *cert)
{
    unsigned long h = X509_subject_name_hash(cert);
    char sha1[41], sha256[65];
    hkc_pki_thumbprints(cert, sha1, sha256);
    for (int i = 0; i < 100; i++) {
        char *path = hkc_printf("%s/%08lx.%d", dir, h, i);
        X509 *have = hkc_pki_read_cert(path);
        if (!have) {
            bool ok = hkc_pki_write_cert(path, &cert, 1);
            free(path);
            return ok;
        }
        char s1[41], s2[65];
        hkc_pki_thumbprints(have, s1, s2);
        X509_free(have);
        free(path);
        if (strcmp(s2, sha256) == 0)
            return true;
    }
    return false;
}
