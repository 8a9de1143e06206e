/*
 * Development software key: loading (and refusing) key and certificate
 * files, the hk_se functions, signatures checked with mbedTLS, and the
 * data area persisted in a file with the provisioning record on top.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "hk_test.h"
#include "hubkey/record.h"
#include "softkey.h"
#include "../cert/test_issue.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TEST_SHA256 mbedtls_sha256
#else
#define TEST_SHA256 mbedtls_sha256_ret
#endif

static char dir[] = "/tmp/hk-softkey-XXXXXX";
static char p_key[96], p_dev[96], p_signer[96], p_data[96], p_other_key[96], p_p384[96],
    p_plain_dev[96], p_garbage[96];
static uint8_t dev_pub[64];
static uint8_t dev_der[1024], signer_der[1024];
static int dev_len, signer_len;

static int write_key(mbedtls_pk_context *k, const char *path)
{
    unsigned char pem[2048];
    if (mbedtls_pk_write_key_pem(k, pem, sizeof(pem)) != 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs((const char *)pem, f);
    return fclose(f);
}

static int setup(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(p_key, sizeof(p_key), "%s/device.key", dir);
    snprintf(p_dev, sizeof(p_dev), "%s/device.pem", dir);
    snprintf(p_signer, sizeof(p_signer), "%s/signer.pem", dir);
    snprintf(p_data, sizeof(p_data), "%s/data.bin", dir);
    snprintf(p_other_key, sizeof(p_other_key), "%s/other.key", dir);
    snprintf(p_p384, sizeof(p_p384), "%s/p384.key", dir);
    snprintf(p_plain_dev, sizeof(p_plain_dev), "%s/plain.pem", dir);
    snprintf(p_garbage, sizeof(p_garbage), "%s/garbage.pem", dir);
    ti_ctx t;
    mbedtls_pk_context signer, dev, other, p384;
    if (ti_init(&t) || ti_genkey(&t, &signer) || ti_genkey(&t, &dev) || ti_genkey(&t, &other) ||
        ti_pubkey(&dev, dev_pub))
        return -1;
    mbedtls_pk_init(&p384);
    if (mbedtls_pk_setup(&p384, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(p384), mbedtls_ctr_drbg_random,
                            &t.drbg))
        return -1;
    const uint8_t sn[3] = {0x40, 0x1A, 0x2B};
    ti_cert_req s = {"CN=hubkey Test Signer 1A2B,O=hubkey", "CN=hubkey Test Signer 1A2B,O=hubkey",
                     &signer, &signer, "20190312140000", "20490312140000", sn, 3, 1, 1};
    signer_len = ti_issue(&t, &s, signer_der, sizeof(signer_der));
    ti_cert_req d = {"O=hubkey,CN=sn0123a1b2c3d4e5f6ee", s.subject, &dev, &signer,
                     "20190312140000", "20470312140000", sn, 3, 0, 1};
    dev_len = ti_issue(&t, &d, dev_der, sizeof(dev_der));
    uint8_t plain[1024];
    ti_cert_req pl = {"CN=plain device", s.subject, &dev, &signer, "20190312140000",
                      "20470312140000", sn, 3, 0, 1};
    int plain_len = ti_issue(&t, &pl, plain, sizeof(plain));
    int rc = signer_len > 0 && dev_len > 0 && plain_len > 0 ? 0 : -1;
    rc |= write_key(&dev, p_key) | write_key(&other, p_other_key) | write_key(&p384, p_p384);
    rc |= ti_write_pem(p_dev, "CERTIFICATE", dev_der, (size_t)dev_len);
    rc |= ti_write_pem(p_signer, "CERTIFICATE", signer_der, (size_t)signer_len);
    rc |= ti_write_pem(p_plain_dev, "CERTIFICATE", plain, (size_t)plain_len);
    FILE *g = fopen(p_garbage, "w");
    if (g) {
        fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", g);
        fclose(g);
    }
    mbedtls_pk_free(&signer);
    mbedtls_pk_free(&dev);
    mbedtls_pk_free(&other);
    mbedtls_pk_free(&p384);
    ti_free(&t);
    return rc;
}

static void teardown(void)
{
    const char *all[] = {p_key, p_dev, p_signer, p_data, p_other_key, p_p384, p_plain_dev,
                         p_garbage};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        unlink(all[i]);
    rmdir(dir);
}

static void test_open_errors(void)
{
    hk_softkey sk;
    hk_softkey_paths p = {p_key, p_dev, p_signer, p_data};
    hk_softkey_paths q = p;
    q.key_pem = "/nonexistent/key.pem";
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_FILE);
    HK_CHECK(sk._internal == NULL);
    q = p;
    q.device_cert_pem = "/nonexistent/dev.pem";
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_FILE);
    q = p;
    q.key_pem = p_dev; /* a certificate is not a key */
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_FILE);
    q = p;
    q.device_cert_pem = p_garbage;
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_CERT_PARSE);
    q = p;
    q.signer_cert_pem = p_garbage;
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_CERT_PARSE);
    q = p;
    q.key_pem = p_other_key; /* the certificate is not this key's */
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_SE_CONFIG);
    q = p;
    q.key_pem = p_p384;
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_UNSUPPORTED);
    q = p;
    q.data_file = NULL;
    HK_CHECK_RESULT(hk_softkey_open(&sk, &q), HK_ERR_INVALID_ARG);
    /* a data file of the wrong size */
    FILE *f = fopen(p_data, "w");
    fputs("short", f);
    fclose(f);
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p), HK_ERR_FILE);
    unlink(p_data);
    hk_softkey_close(&sk); /* safe on a closed key */
}

static void test_identity(void)
{
    hk_softkey sk;
    hk_softkey_paths p = {p_key, p_dev, p_signer, p_data};
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p), HK_OK);
    hk_se se = hk_softkey_se(&sk);
    uint8_t buf[1100];
    size_t n = 0;
    hk_guard_fill(buf, 0, sizeof(buf));
    HK_CHECK_RESULT(se.serial(se.ctx, buf, 8, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, 9);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof(buf)));
    HK_CHECK_RESULT(se.serial(se.ctx, buf, 9, &n), HK_OK);
    const uint8_t sn[9] = {0x01, 0x23, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0xEE};
    HK_CHECK_MEM(buf, n, sn, 9);
    HK_CHECK(hk_guard_intact(buf, 9, sizeof(buf)));

    hk_guard_fill(buf, 0, sizeof(buf));
    HK_CHECK_RESULT(se.cert(se.ctx, 0, buf, (size_t)dev_len - 1, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, dev_len);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof(buf)));
    HK_CHECK_RESULT(se.cert(se.ctx, 0, buf, (size_t)dev_len, &n), HK_OK);
    HK_CHECK_MEM(buf, n, dev_der, (size_t)dev_len);
    HK_CHECK(hk_guard_intact(buf, n, sizeof(buf)));
    HK_CHECK_RESULT(se.cert(se.ctx, 1, buf, sizeof(buf), &n), HK_OK);
    HK_CHECK_MEM(buf, n, signer_der, (size_t)signer_len);
    HK_CHECK_RESULT(se.cert(se.ctx, 2, buf, sizeof(buf), &n), HK_ERR_NOT_FOUND);
    hk_softkey_close(&sk);

    /* no signer file: index 1 is absent; no "sn" CN: serial from the key */
    hk_softkey_paths p2 = {p_key, p_plain_dev, NULL, p_data};
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p2), HK_OK);
    se = hk_softkey_se(&sk);
    HK_CHECK_RESULT(se.cert(se.ctx, 1, buf, sizeof(buf), &n), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(se.serial(se.ctx, buf, sizeof(buf), &n), HK_OK);
    uint8_t point[65], digest[32];
    point[0] = 0x04;
    memcpy(point + 1, dev_pub, 64);
    HK_CHECK(TEST_SHA256(point, sizeof(point), digest, 0) == 0);
    HK_CHECK_MEM(buf, n, digest, 9);
    hk_softkey_close(&sk);
}

static void test_sign_and_random(void)
{
    hk_softkey sk;
    hk_softkey_paths p = {p_key, p_dev, p_signer, p_data};
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p), HK_OK);
    hk_se se = hk_softkey_se(&sk);
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    uint8_t point[65];
    point[0] = 0x04;
    memcpy(point + 1, dev_pub, 64);
    HK_CHECK(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0);
    HK_CHECK(mbedtls_ecp_point_read_binary(&grp, &q, point, sizeof(point)) == 0);
    for (int i = 0; i < 8; i++) {
        uint8_t digest[32], rs[64 + 8];
        memset(digest, i * 37, sizeof(digest));
        hk_guard_fill(rs, 64, sizeof(rs));
        HK_CHECK_RESULT(se.sign_digest(se.ctx, digest, rs), HK_OK);
        HK_CHECK(hk_guard_intact(rs, 64, sizeof(rs)));
        mbedtls_mpi r, s;
        mbedtls_mpi_init(&r);
        mbedtls_mpi_init(&s);
        HK_CHECK(mbedtls_mpi_read_binary(&r, rs, 32) == 0);
        HK_CHECK(mbedtls_mpi_read_binary(&s, rs + 32, 32) == 0);
        HK_CHECK(mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s) == 0);
        digest[0] ^= 1; /* and a different digest does not verify */
        HK_CHECK(mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s) != 0);
        mbedtls_mpi_free(&r);
        mbedtls_mpi_free(&s);
    }
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);

    uint8_t a[1200], b[1200];
    hk_guard_fill(a, 1100, sizeof(a));
    HK_CHECK_RESULT(se.random(se.ctx, a, 1100), HK_OK);
    HK_CHECK_RESULT(se.random(se.ctx, b, 1100), HK_OK);
    HK_CHECK(hk_guard_intact(a, 1100, sizeof(a)));
    HK_CHECK(memcmp(a, b, 1100) != 0);
    hk_softkey_close(&sk);
}

static void test_data_area(void)
{
    unlink(p_data);
    hk_softkey sk;
    hk_softkey_paths p = {p_key, p_dev, p_signer, p_data};
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p), HK_OK);
    hk_se se = hk_softkey_se(&sk);
    HK_CHECK_EQ(se.data_size, 416);
    uint8_t buf[416];
    HK_CHECK_RESULT(se.read_data(se.ctx, 0, buf, sizeof(buf)), HK_OK);
    for (size_t i = 0; i < sizeof(buf); i++)
        HK_CHECK(buf[i] == 0xFF);
    HK_CHECK(access(p_data, F_OK) != 0); /* nothing written yet */
    HK_CHECK_RESULT(se.read_data(se.ctx, 400, buf, 17), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(se.write_data(se.ctx, 410, buf, 7), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(se.write_data(se.ctx, (size_t)-1, buf, 2), HK_ERR_INVALID_ARG);

    hk_record r;
    HK_CHECK_RESULT(hk_record_read(&se, &r), HK_ERR_RECORD_EMPTY);
    HK_CHECK_RESULT(hk_record_write(&se, "hub.example.net", 15, "dev-0001", 8, 0), HK_OK);
    struct stat st;
    HK_CHECK(stat(p_data, &st) == 0 && st.st_size == 416);
    hk_softkey_close(&sk);

    /* persisted: a new process (open) reads the same record */
    HK_CHECK_RESULT(hk_softkey_open(&sk, &p), HK_OK);
    se = hk_softkey_se(&sk);
    HK_CHECK_RESULT(hk_record_read(&se, &r), HK_OK);
    HK_CHECK_STRN(r.hub_hostname, r.hub_hostname_len, "hub.example.net");
    HK_CHECK_STRN(r.device_id, r.device_id_len, "dev-0001");
    HK_CHECK_RESULT(hk_record_forget(&se), HK_OK);
    HK_CHECK_RESULT(hk_record_read(&se, &r), HK_ERR_RECORD_EMPTY);
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp", p_data);
    HK_CHECK(access(tmp, F_OK) != 0); /* no temporary file left behind */

    /* a write that cannot reach the disk fails and changes nothing */
    HK_CHECK_RESULT(se.read_data(se.ctx, 0, buf, sizeof(buf)), HK_OK);
    HK_CHECK(chmod(dir, 0500) == 0);
    uint8_t x[4] = {1, 2, 3, 4};
    hk_result w = se.write_data(se.ctx, 0, x, 4);
    HK_CHECK(chmod(dir, 0700) == 0);
    if (getuid() != 0) { /* root ignores the permission */
        HK_CHECK_RESULT(w, HK_ERR_FILE);
        uint8_t after[416];
        HK_CHECK_RESULT(se.read_data(se.ctx, 0, after, sizeof(after)), HK_OK);
        HK_CHECK_MEM(after, 416, buf, 416);
    }
    hk_softkey_close(&sk);
}

int main(void)
{
    if (setup() != 0) {
        fprintf(stderr, "softkey test setup failed\n");
        return 1;
    }
    HK_RUN(test_open_errors);
    HK_RUN(test_identity);
    HK_RUN(test_sign_and_random);
    HK_RUN(test_data_area);
    teardown();
    return hk_test_finish("softkey");
}
