/*
 * Test helper (header only): a small CA that issues real P-256 certificates
 * with mbedTLS's x509write API, following the conventions the compressed
 * format can carry (whole-hour dates, serial number from the SN source).
 * Used by the certificate and software-key tests.
 */
#ifndef HK_TEST_ISSUE_H
#define HK_TEST_ISSUE_H

#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "hubkey/cert.h"

typedef struct ti_ctx {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} ti_ctx;

static inline int ti_init(ti_ctx *t)
{
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    return mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                 (const unsigned char *)"hk-test", 7);
}

static inline void ti_free(ti_ctx *t)
{
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
}

/* A new P-256 key in pk (caller frees with mbedtls_pk_free). */
static inline int ti_genkey(ti_ctx *t, mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                 mbedtls_ctr_drbg_random, &t->drbg);
    return rc;
}

/* X || Y of a P-256 key. */
static inline int ti_pubkey(const mbedtls_pk_context *pk, uint8_t out[64])
{
    uint8_t buf[65];
    size_t n = 0;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    int rc = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &n,
                                            buf, sizeof(buf));
    if (rc == 0 && n == 65)
        memcpy(out, buf + 1, 64);
    return rc == 0 && n == 65 ? 0 : -1;
}

typedef struct ti_cert_req {
    const char *subject;    /* "CN=...,O=..." */
    const char *issuer;
    mbedtls_pk_context *subject_key;
    mbedtls_pk_context *issuer_key;
    const char *not_before; /* "YYYYMMDDhhmmss" */
    const char *not_after;
    const uint8_t *serial;  /* big-endian */
    size_t serial_len;
    int is_ca;
    int key_ids;            /* add subject and authority key identifiers */
} ti_cert_req;

/* Issue a certificate; DER into out (moved to the start). Returns its length or -1. */
static inline int ti_issue(ti_ctx *t, const ti_cert_req *r, uint8_t *out, size_t cap)
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
        rc = mbedtls_x509write_crt_set_basic_constraints(&crt, r->is_ca, r->is_ca ? 1 : -1);
    if (rc == 0 && r->key_ids)
        rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
    if (rc == 0 && r->key_ids)
        rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_key_usage(
            &crt, r->is_ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                           : (MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT));
    int n = -1;
    if (rc == 0) {
        n = mbedtls_x509write_crt_der(&crt, out, cap, mbedtls_ctr_drbg_random, &t->drbg);
        if (n > 0)
            memmove(out, out + cap - (size_t)n, (size_t)n);
        else
            n = -1;
    }
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    return n;
}

/* The serial number a SN source gives for a subject key and issue date,
 * the way the factory computes it before issuing. */
static inline int ti_serial(uint8_t sn_source, const uint8_t pub[64], const uint8_t *device_sn,
                     const hk_cert_date *issue, uint8_t expire_years, uint8_t *out, size_t n)
{
    hk_cert_compressed c;
    uint8_t comp[HK_CERT_COMPRESSED_SIZE];
    memset(&c, 0, sizeof(c));
    c.issue = *issue;
    c.expire_years = expire_years;
    c.sn_source = sn_source;
    if (hk_cert_compressed_encode(&c, comp) != HK_OK)
        return -1;
    return hk_cert_sn_generate(sn_source, comp, pub, device_sn, out, n) == HK_OK ? 0 : -1;
}

/* Write DER as PEM (64-character base64 lines). */
static inline int ti_write_pem(const char *path, const char *label, const uint8_t *der, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "-----BEGIN %s-----\n", label);
    int col = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)der[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)der[i + 1] << 8;
        if (i + 2 < len)
            v |= der[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                     i + 1 < len ? b64[(v >> 6) & 63] : '=', i + 2 < len ? b64[v & 63] : '='};
        for (int k = 0; k < 4; k++) {
            fputc(q[k], f);
            if (++col == 64) {
                fputc('\n', f);
                col = 0;
            }
        }
    }
    if (col)
        fputc('\n', f);
    fprintf(f, "-----END %s-----\n", label);
    return fclose(f) == 0 ? 0 : -1;
}

#endif /* HK_TEST_ISSUE_H */
