/*
 * hubkey-factory — `ca verify`: the verification certificate of a CA's
 * proof of possession.
 *
 * Azure IoT Hub and DPS trust an uploaded CA certificate once its owner
 * proves holding the private key: the service gives a verification code,
 * and the owner uploads a certificate whose subject CN is that code, signed
 * by the CA's key. This file makes that certificate from the CA directory
 * (`ca init`): signed by the root (root.key, the default: the certificate
 * hubkey-factory tells users to upload) or by the signer (signer.key, when
 * the signer itself was uploaded). The certificate's own key pair is made
 * here and thrown away: nothing ever signs with it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecp.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "factory.h"
#include "verify.h"

/* Azure's codes are hexadecimal; allow what a subject CN can carry as
 * given, and nothing the subject string syntax would read (",", "=", "+",
 * quotes, ...). */
static bool code_ok(const char *code)
{
    size_t n = strlen(code);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* "YYYYMMDDHHMMSS" for now + delta seconds (UTC). */
static int stamp(time_t now, long delta, char out[15])
{
    time_t t = now + delta;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return fx_fail(FX_INTERNAL, "the system clock cannot be read");
    if (tm.tm_year + 1900 > 9999 || strftime(out, 15, "%Y%m%d%H%M%S", &tm) != 14)
        return fx_fail(FX_INTERNAL, "the system clock says a year certificates cannot carry");
    return FX_OK;
}

static int load_root_key(fx_ca *ca, mbedtls_pk_context *key)
{
    char path[FX_PATH_MAX];
    fx_path(path, ca->dir, "root.key");
#if MBEDTLS_VERSION_MAJOR >= 3
    int e = mbedtls_pk_parse_keyfile(key, path, NULL, mbedtls_ctr_drbg_random, &ca->rng.drbg);
#else
    int e = mbedtls_pk_parse_keyfile(key, path, NULL);
#endif
    if (e != 0)
        return fx_fail(FX_FILE, "%s: not a readable PEM private key (mbedTLS %d)", path, e);
    return FX_OK;
}

int fx_ca_verification_cert(const char *ca_dir, const char *code, const char *with,
                            const char *out_path, bool json)
{
    if (!code)
        return fx_fail(FX_USAGE, "ca verify needs --code CODE (the verification code Azure "
                                 "gives for the uploaded CA certificate)");
    if (!code_ok(code))
        return fx_fail(FX_USAGE, "--code '%s': 1..64 letters, digits, '-', '_' or '.' (Azure's "
                                 "verification codes are hexadecimal)", code);
    bool by_root = !with || strcmp(with, "root") == 0;
    if (!by_root && strcmp(with, "signer") != 0)
        return fx_fail(FX_USAGE, "--with '%s': root or signer (the CA certificate that was "
                                 "uploaded)", with);
    fx_ca ca;
    int rc = fx_ca_load(&ca, ca_dir, !by_root);
    mbedtls_pk_context root_key, leaf_key;
    mbedtls_pk_init(&root_key);
    mbedtls_pk_init(&leaf_key);
    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    uint8_t *der = NULL;
    char *pem = NULL;
    mbedtls_pk_context *issuer_key = &ca.signer_key;
    if (!rc && by_root) {
        rc = load_root_key(&ca, &root_key);
        issuer_key = &root_key;
    }
    if (!rc &&
        (mbedtls_pk_setup(&leaf_key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
         mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(leaf_key),
                             mbedtls_ctr_drbg_random, &ca.rng.drbg) != 0))
        rc = fx_fail(FX_INTERNAL, "P-256 key generation failed");
    char subject[96], not_before[15], not_after[15];
    time_t now = time(NULL);
    if (!rc)
        rc = stamp(now, -3600, not_before); /* a clock a little behind still accepts it */
    if (!rc)
        rc = stamp(now, 30L * 24 * 3600, not_after);
    uint8_t serial_bytes[16];
    if (!rc && mbedtls_ctr_drbg_random(&ca.rng.drbg, serial_bytes, sizeof serial_bytes) != 0)
        rc = fx_fail(FX_INTERNAL, "random serial number failed");
    size_t der_len = 0;
    if (!rc) {
        serial_bytes[0] &= 0x7F; /* a positive INTEGER */
        serial_bytes[0] |= 0x40;
        snprintf(subject, sizeof subject, "CN=%s", code);
        mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&crt, &leaf_key);
        mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
        int e = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes);
        if (e == 0)
            e = mbedtls_x509write_crt_set_subject_name(&crt, subject);
        if (e == 0)
            e = mbedtls_x509write_crt_set_issuer_name(&crt, by_root ? ca.root_subject
                                                                    : ca.signer_subject);
        if (e == 0)
            e = mbedtls_x509write_crt_set_serial(&crt, &serial);
        if (e == 0)
            e = mbedtls_x509write_crt_set_validity(&crt, not_before, not_after);
        if (e == 0)
            e = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
        if (e == 0)
            e = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
        if (e == 0)
            e = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
        size_t cap = 2048;
        der = e == 0 ? malloc(cap) : NULL;
        int n = der ? mbedtls_x509write_crt_der(&crt, der, cap, mbedtls_ctr_drbg_random,
                                                &ca.rng.drbg)
                    : -1;
        if (n <= 0) {
            rc = fx_fail(FX_INTERNAL, "issuing the verification certificate failed (mbedTLS %d)",
                         e ? e : n);
        } else {
            memmove(der, der + cap - (size_t)n, (size_t)n);
            der_len = (size_t)n;
        }
    }
    if (!rc) {
        /* It must verify under the CA certificate it is for: a key file
         * that does not belong to it is found here, not by Azure. */
        mbedtls_x509_crt chain, trust;
        mbedtls_x509_crt_init(&chain);
        mbedtls_x509_crt_init(&trust);
        const uint8_t *ca_der = by_root ? ca.root_der : ca.signer_der;
        size_t ca_len = by_root ? ca.root_len : ca.signer_len;
        uint32_t flags = 0;
        int e = mbedtls_x509_crt_parse_der(&chain, der, der_len);
        if (e == 0)
            e = mbedtls_x509_crt_parse_der(&trust, ca_der, ca_len);
        if (e == 0)
            e = mbedtls_x509_crt_verify(&chain, &trust, NULL, NULL, &flags, NULL, NULL);
        mbedtls_x509_crt_free(&chain);
        mbedtls_x509_crt_free(&trust);
        if (e != 0)
            rc = fx_fail(FX_VERIFY, "%s/%s.key does not sign for %s/%s.pem: the verification "
                                    "certificate does not verify (flags 0x%x)",
                         ca_dir, by_root ? "root" : "signer", ca_dir, by_root ? "root" : "signer",
                         (unsigned)flags);
    }
    const char *out = out_path ? out_path : "verification.pem";
    if (!rc) {
        pem = fx_pem("CERTIFICATE", der, der_len);
        rc = pem ? fx_write_replace(out, pem, strlen(pem), 0644)
                 : fx_fail(FX_INTERNAL, "out of memory");
    }
    if (!rc && json) {
        printf("{\"file\":");
        fx_json_str(stdout, out);
        printf(",\"code\":");
        fx_json_str(stdout, code);
        printf(",\"signed_by\":\"%s\",\"certificate\":", by_root ? "root" : "signer");
        fx_json_cert(stdout, der, der_len);
        printf("}\n");
    } else if (!rc) {
        printf("verification certificate %s: CN=%s, signed by %s/%s.key (%s), valid 30 days\n",
               out, code, ca_dir, by_root ? "root" : "signer",
               by_root ? ca.root_subject : ca.signer_subject);
        printf("Upload it where the code came from, e.g.:\n"
               "  az iot dps certificate verify --dps-name MYDPS --resource-group MYRG "
               "--certificate-name NAME --path %s --etag ETAG\n",
               out);
    }
    free(pem);
    free(der);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&leaf_key);
    mbedtls_pk_free(&root_key);
    fx_ca_free(&ca);
    return rc;
}
