/*
 * Development software key (INSECURE; see softkey.h).
 *
 * Only mbedTLS's public API is used, with the few calls whose signatures
 * changed between 2.28 and 3.x switched on MBEDTLS_VERSION_NUMBER.
 * Signatures are produced by mbedtls_pk_sign (DER) and converted to raw
 * r || s here, which avoids touching the key pair's fields (private in 3.x).
 */
#define _POSIX_C_SOURCE 200809L

#include "softkey.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

struct hk_softkey_internal {
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    uint8_t *cert_der[2];
    size_t cert_len[2];
    uint8_t serial[9];
    uint8_t data[HK_SOFTKEY_DATA_SIZE];
    char *data_path;
};

static hk_result read_file(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return HK_ERR_FILE;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                free(buf);
                fclose(f);
                return HK_ERR_FILE; /* no certificate or key is this large */
            }
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return HK_ERR_FILE;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return HK_ERR_FILE;
    }
    buf[len] = 0; /* mbedTLS wants PEM NUL-terminated, length included */
    *out = buf;
    *out_len = len + 1;
    return HK_OK;
}

/* Parse one PEM certificate and keep its DER. */
static hk_result load_cert(const char *path, mbedtls_x509_crt *crt, uint8_t **der, size_t *len)
{
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    hk_result r = read_file(path, &pem, &pem_len);
    if (r != HK_OK)
        return r;
    int rc = mbedtls_x509_crt_parse(crt, pem, pem_len);
    free(pem);
    if (rc != 0 || crt->raw.len == 0)
        return HK_ERR_CERT_PARSE;
    *der = malloc(crt->raw.len);
    if (!*der)
        return HK_ERR_FILE;
    memcpy(*der, crt->raw.p, crt->raw.len);
    *len = crt->raw.len;
    return HK_OK;
}

static int hex_nibble(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Serial from a subject CN ending in "sn" + 18 hex characters. */
static int serial_from_cn(const mbedtls_x509_crt *crt, uint8_t out[9])
{
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0 || n->val.len < 20)
            continue;
        const unsigned char *t = n->val.p + n->val.len - 20;
        if (t[0] != 's' || t[1] != 'n')
            continue;
        for (int i = 0; i < 9; i++) {
            int hi = hex_nibble(t[2 + 2 * i]), lo = hex_nibble(t[3 + 2 * i]);
            if (hi < 0 || lo < 0)
                return 0;
            out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 1;
    }
    return 0;
}

static hk_result pubkey_point(mbedtls_pk_context *pk, uint8_t out[65])
{
    size_t n = 0;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi d;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&d);
    int rc = mbedtls_ecp_export(ec, &grp, &d, &q);
    if (rc == 0)
        rc = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &n, out, 65);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
#else
    int rc = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &n,
                                            out, 65);
#endif
    return rc == 0 && n == 65 ? HK_OK : HK_ERR_CRYPTO;
}

static mbedtls_ecp_group_id key_group(mbedtls_pk_context *pk)
{
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
#if MBEDTLS_VERSION_NUMBER >= 0x03060000
    return mbedtls_ecp_keypair_get_group_id(ec);
#elif MBEDTLS_VERSION_NUMBER >= 0x03000000
    return ec->MBEDTLS_PRIVATE(grp).id;
#else
    return ec->grp.id;
#endif
}

static hk_result load_data(struct hk_softkey_internal *in)
{
    memset(in->data, 0xFF, sizeof(in->data)); /* erased */
    FILE *f = fopen(in->data_path, "rb");
    if (!f)
        return errno == ENOENT ? HK_OK : HK_ERR_FILE;
    size_t n = fread(in->data, 1, sizeof(in->data), f);
    int extra = fgetc(f);
    fclose(f);
    if (n != sizeof(in->data) || extra != EOF)
        return HK_ERR_FILE;
    return HK_OK;
}

/* Atomic replace: write "<path>.tmp", fsync, rename over the file, fsync
 * the directory so the rename itself survives a power cut. */
static hk_result store_data(const struct hk_softkey_internal *in, const uint8_t *data)
{
    size_t plen = strlen(in->data_path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return HK_ERR_FILE;
    memcpy(tmp, in->data_path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    hk_result r = HK_ERR_FILE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        size_t done = 0;
        while (done < HK_SOFTKEY_DATA_SIZE) {
            ssize_t w = write(fd, data + done, HK_SOFTKEY_DATA_SIZE - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        bool ok = done == HK_SOFTKEY_DATA_SIZE && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, in->data_path) == 0) {
            r = HK_OK;
            char *dir = strdup(in->data_path);
            if (dir) {
                char *slash = strrchr(dir, '/');
                const char *d = ".";
                if (slash) {
                    *slash = 0;
                    d = slash == dir ? "/" : dir;
                }
                int dfd = open(d, O_RDONLY);
                if (dfd >= 0) {
                    (void)fsync(dfd);
                    close(dfd);
                }
                free(dir);
            }
        } else {
            unlink(tmp);
        }
    }
    free(tmp);
    return r;
}

void hk_softkey_close(hk_softkey *sk)
{
    if (!sk || !sk->_internal)
        return;
    struct hk_softkey_internal *in = sk->_internal;
    mbedtls_pk_free(&in->key);
    mbedtls_ctr_drbg_free(&in->drbg);
    mbedtls_entropy_free(&in->entropy);
    free(in->cert_der[0]);
    free(in->cert_der[1]);
    free(in->data_path);
    free(in);
    sk->_internal = NULL;
}

hk_result hk_softkey_open(hk_softkey *sk, const hk_softkey_paths *paths)
{
    if (!sk || !paths || !paths->key_pem || !paths->device_cert_pem || !paths->data_file)
        return HK_ERR_INVALID_ARG;
    sk->_internal = NULL;
    struct hk_softkey_internal *in = calloc(1, sizeof(*in));
    if (!in)
        return HK_ERR_FILE;
    sk->_internal = in;
    mbedtls_pk_init(&in->key);
    mbedtls_entropy_init(&in->entropy);
    mbedtls_ctr_drbg_init(&in->drbg);
    hk_result r = HK_OK;
    mbedtls_x509_crt dev, signer;
    mbedtls_x509_crt_init(&dev);
    mbedtls_x509_crt_init(&signer);

    fprintf(stderr, "hubkey: WARNING: using the INSECURE development software key %s: the "
                    "private key is in memory and on disk, not in a secure element\n",
            paths->key_pem);

    in->data_path = strdup(paths->data_file);
    if (!in->data_path ||
        mbedtls_ctr_drbg_seed(&in->drbg, mbedtls_entropy_func, &in->entropy,
                              (const unsigned char *)"hubkey-softkey", 14) != 0) {
        r = HK_ERR_CRYPTO;
        goto out;
    }
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    r = read_file(paths->key_pem, &pem, &pem_len);
    if (r != HK_OK)
        goto out;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int rc = mbedtls_pk_parse_key(&in->key, pem, pem_len, NULL, 0, mbedtls_ctr_drbg_random,
                                  &in->drbg);
#else
    int rc = mbedtls_pk_parse_key(&in->key, pem, pem_len, NULL, 0);
#endif
    mbedtls_platform_zeroize(pem, pem_len);
    free(pem);
    if (rc != 0) {
        r = HK_ERR_FILE;
        goto out;
    }
    if (!mbedtls_pk_can_do(&in->key, MBEDTLS_PK_ECKEY) ||
        key_group(&in->key) != MBEDTLS_ECP_DP_SECP256R1) {
        r = HK_ERR_UNSUPPORTED;
        goto out;
    }
    r = load_cert(paths->device_cert_pem, &dev, &in->cert_der[0], &in->cert_len[0]);
    if (r != HK_OK)
        goto out;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    rc = mbedtls_pk_check_pair(&dev.pk, &in->key, mbedtls_ctr_drbg_random, &in->drbg);
#else
    rc = mbedtls_pk_check_pair(&dev.pk, &in->key);
#endif
    if (rc != 0) {
        r = HK_ERR_SE_CONFIG;
        goto out;
    }
    if (paths->signer_cert_pem) {
        r = load_cert(paths->signer_cert_pem, &signer, &in->cert_der[1], &in->cert_len[1]);
        if (r != HK_OK)
            goto out;
    }
    if (!serial_from_cn(&dev, in->serial)) {
        uint8_t point[65], digest[32];
        r = pubkey_point(&in->key, point);
        if (r != HK_OK)
            goto out;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        rc = mbedtls_sha256(point, sizeof(point), digest, 0);
#else
        rc = mbedtls_sha256_ret(point, sizeof(point), digest, 0);
#endif
        if (rc != 0) {
            r = HK_ERR_CRYPTO;
            goto out;
        }
        memcpy(in->serial, digest, sizeof(in->serial));
    }
    r = load_data(in);
out:
    mbedtls_x509_crt_free(&dev);
    mbedtls_x509_crt_free(&signer);
    if (r != HK_OK)
        hk_softkey_close(sk);
    return r;
}

static hk_result sk_serial(void *ctx, uint8_t *out, size_t cap, size_t *out_len)
{
    struct hk_softkey_internal *in = ctx;
    if (!in || !out_len || (!out && cap))
        return HK_ERR_INVALID_ARG;
    *out_len = sizeof(in->serial);
    if (cap < sizeof(in->serial))
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, in->serial, sizeof(in->serial));
    return HK_OK;
}

static hk_result sk_cert(void *ctx, unsigned index, uint8_t *out, size_t cap, size_t *out_len)
{
    struct hk_softkey_internal *in = ctx;
    if (!in || !out_len || (!out && cap))
        return HK_ERR_INVALID_ARG;
    if (index > 1 || !in->cert_der[index])
        return HK_ERR_NOT_FOUND;
    *out_len = in->cert_len[index];
    if (cap < in->cert_len[index])
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, in->cert_der[index], in->cert_len[index]);
    return HK_OK;
}

/* Raw r || s from the DER ECDSA-Sig-Value { INTEGER r, INTEGER s }. */
static hk_result der_sig_to_raw(const uint8_t *der, size_t len, uint8_t out[64])
{
    unsigned char *p = (unsigned char *)der;
    const unsigned char *end = der + len;
    size_t seq_len;
    if (mbedtls_asn1_get_tag(&p, end, &seq_len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0 ||
        p + seq_len != end)
        return HK_ERR_CRYPTO;
    memset(out, 0, 64);
    for (int k = 0; k < 2; k++) {
        size_t ilen;
        if (mbedtls_asn1_get_tag(&p, end, &ilen, MBEDTLS_ASN1_INTEGER) != 0 || ilen == 0)
            return HK_ERR_CRYPTO;
        const unsigned char *v = p;
        size_t vlen = ilen;
        while (vlen > 32 && *v == 0) {
            v++;
            vlen--;
        }
        if (vlen > 32)
            return HK_ERR_CRYPTO;
        memcpy(out + 32 * k + (32 - vlen), v, vlen);
        p += ilen;
    }
    return p == end ? HK_OK : HK_ERR_CRYPTO;
}

static hk_result sk_sign_digest(void *ctx, const uint8_t digest[HK_SE_DIGEST_SIZE],
                                uint8_t out_rs[HK_SE_SIGNATURE_SIZE])
{
    struct hk_softkey_internal *in = ctx;
    if (!in || !digest || !out_rs)
        return HK_ERR_INVALID_ARG;
    uint8_t der[MBEDTLS_ECDSA_MAX_LEN];
    size_t len = 0;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int rc = mbedtls_pk_sign(&in->key, MBEDTLS_MD_SHA256, digest, HK_SE_DIGEST_SIZE, der,
                             sizeof(der), &len, mbedtls_ctr_drbg_random, &in->drbg);
#else
    int rc = mbedtls_pk_sign(&in->key, MBEDTLS_MD_SHA256, digest, HK_SE_DIGEST_SIZE, der, &len,
                             mbedtls_ctr_drbg_random, &in->drbg);
#endif
    if (rc != 0)
        return HK_ERR_CRYPTO;
    return der_sig_to_raw(der, len, out_rs);
}

static hk_result sk_random(void *ctx, uint8_t *out, size_t len)
{
    struct hk_softkey_internal *in = ctx;
    if (!in || (!out && len))
        return HK_ERR_INVALID_ARG;
    while (len > 0) {
        size_t n = len > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : len;
        if (mbedtls_ctr_drbg_random(&in->drbg, out, n) != 0)
            return HK_ERR_CRYPTO;
        out += n;
        len -= n;
    }
    return HK_OK;
}

static hk_result sk_read_data(void *ctx, size_t offset, uint8_t *out, size_t len)
{
    struct hk_softkey_internal *in = ctx;
    if (!in || (!out && len) || offset > HK_SOFTKEY_DATA_SIZE ||
        len > HK_SOFTKEY_DATA_SIZE - offset)
        return HK_ERR_INVALID_ARG;
    memcpy(out, in->data + offset, len);
    return HK_OK;
}

static hk_result sk_write_data(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    struct hk_softkey_internal *in = ctx;
    if (!in || (!data && len) || offset > HK_SOFTKEY_DATA_SIZE ||
        len > HK_SOFTKEY_DATA_SIZE - offset)
        return HK_ERR_INVALID_ARG;
    uint8_t next[HK_SOFTKEY_DATA_SIZE];
    memcpy(next, in->data, sizeof(next));
    memcpy(next + offset, data, len);
    hk_result r = store_data(in, next);
    if (r == HK_OK)
        memcpy(in->data, next, sizeof(next));
    return r;
}

hk_se hk_softkey_se(hk_softkey *sk)
{
    hk_se se;
    memset(&se, 0, sizeof(se));
    se.ctx = sk ? sk->_internal : NULL;
    se.serial = sk_serial;
    se.cert = sk_cert;
    se.sign_digest = sk_sign_digest;
    se.random = sk_random;
    se.read_data = sk_read_data;
    se.write_data = sk_write_data;
    se.data_size = HK_SOFTKEY_DATA_SIZE;
    return se;
}
