/*
 * Test helper (header only): a chip made by hubkey-factory (ca init, chip
 * configure, chip provision into a temporary directory, the programs run as
 * the factory tests run them), its certificate definitions, and the checks
 * of an hk_se opened on it: certificate chain up to the CA's root (mbedTLS),
 * a signature that verifies with the device certificate's key.
 */
#ifndef HK_BRIDGE_FIXTURE_H
#define HK_BRIDGE_FIXTURE_H

#include "factory_run.h" /* fr_run, fr_mkdtemp, fr_rmrf (tests/factory) */

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/se.h"

typedef struct bridge_fixture {
    char dir[512];
    char ca[600];
    char chip[600];
    char root_pem[700];
    uint8_t ddef_buf[4096], sdef_buf[4096];
    hk_cert_def ddef, sdef;
} bridge_fixture;

static inline size_t fx_read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* 0 when the chip and the CA are ready. */
static inline int fixture_make(bridge_fixture *fx, const char *tag)
{
    memset(fx, 0, sizeof *fx);
    fr_mkdtemp(fx->dir, sizeof fx->dir, tag);
    if (!fx->dir[0])
        return -1;
    snprintf(fx->ca, sizeof fx->ca, "%s/ca", fx->dir);
    snprintf(fx->chip, sizeof fx->chip, "%s/chip.emu", fx->dir);
    snprintf(fx->root_pem, sizeof fx->root_pem, "%s/root.pem", fx->ca);
    char spec[700];
    snprintf(spec, sizeof spec, "emu:%s", fx->chip);
    if (fr_run(HK_FACTORY_BIN, "ca", "init", "--ca", fx->ca, NULL) != 0 ||
        fr_run(HK_FACTORY_BIN, "chip", "configure", "--chip", spec, NULL) != 0 ||
        fr_run(HK_FACTORY_BIN, "chip", "provision", "--chip", spec, "--ca", fx->ca, NULL) != 0) {
        fprintf(stderr, "hubkey-factory failed:\n%s\n", fr_out ? fr_out : "");
        return -1;
    }
    char p[700];
    snprintf(p, sizeof p, "%s/device.certdef", fx->ca);
    size_t dn = fx_read_file(p, fx->ddef_buf, sizeof fx->ddef_buf);
    snprintf(p, sizeof p, "%s/signer.certdef", fx->ca);
    size_t sn = fx_read_file(p, fx->sdef_buf, sizeof fx->sdef_buf);
    if (hk_cert_def_parse(fx->ddef_buf, dn, &fx->ddef) != HK_OK ||
        hk_cert_def_parse(fx->sdef_buf, sn, &fx->sdef) != HK_OK)
        return -1;
    return 0;
}

static inline void fixture_free(bridge_fixture *fx)
{
    fr_rmrf(fx->dir);
    free(fr_out);
    fr_out = NULL;
}

/* Serial, the chain rebuilt from the chip verifies up to the CA's root, a
 * fresh digest signed by the chip verifies with the device certificate's key
 * (and a changed digest does not), and Random gives 32 bytes. Returns the
 * device certificate's DER in der / *der_len when der is not NULL. */
static inline void fixture_check_se(const bridge_fixture *fx, const hk_se *se, uint8_t *der,
                                    size_t *der_len)
{
    uint8_t serial[16];
    size_t n = 0;
    HK_CHECK_RESULT(se->serial(se->ctx, serial, sizeof serial, &n), HK_OK);
    HK_CHECK_EQ(n, 9);
    HK_CHECK_EQ(serial[0], 0x01);
    HK_CHECK_EQ(serial[1], 0x23);

    uint8_t dev[1200], signer[1200];
    size_t dlen = 0, slen = 0;
    HK_CHECK_RESULT(se->cert(se->ctx, 0, dev, sizeof dev, &dlen), HK_OK);
    HK_CHECK_RESULT(se->cert(se->ctx, 1, signer, sizeof signer, &slen), HK_OK);
    if (der != NULL) {
        memcpy(der, dev, dlen);
        *der_len = dlen;
    }
    mbedtls_x509_crt root, chain;
    mbedtls_x509_crt_init(&root);
    mbedtls_x509_crt_init(&chain);
    HK_CHECK_EQ(mbedtls_x509_crt_parse_file(&root, fx->root_pem), 0);
    HK_CHECK_EQ(mbedtls_x509_crt_parse_der(&chain, dev, dlen), 0);
    HK_CHECK_EQ(mbedtls_x509_crt_parse_der(&chain, signer, slen), 0);
    uint32_t flags = 0;
    HK_CHECK_EQ(mbedtls_x509_crt_verify(&chain, &root, NULL, NULL, &flags, NULL, NULL), 0);
    HK_CHECK_EQ(flags, 0);

    uint8_t digest[32], rs[64];
    HK_CHECK_RESULT(se->random(se->ctx, digest, sizeof digest), HK_OK);
    bool same = true;
    for (size_t i = 1; i < sizeof digest; i++)
        same = same && digest[i] == digest[0];
    HK_CHECK(!same);
    HK_CHECK_RESULT(se->sign_digest(se->ctx, digest, rs), HK_OK);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    HK_CHECK_EQ(mbedtls_mpi_read_binary(&r, rs, 32), 0);
    HK_CHECK_EQ(mbedtls_mpi_read_binary(&s, rs + 32, 32), 0);
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(chain.pk);
    HK_CHECK(kp != NULL);
    if (kp != NULL) {
        HK_CHECK_EQ(mbedtls_ecdsa_verify(&kp->grp, digest, 32, &kp->Q, &r, &s), 0);
        digest[0] ^= 1;
        HK_CHECK(mbedtls_ecdsa_verify(&kp->grp, digest, 32, &kp->Q, &r, &s) != 0);
    }
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_x509_crt_free(&root);
    mbedtls_x509_crt_free(&chain);
}

#endif /* HK_BRIDGE_FIXTURE_H */
