/*
 * mbedTLS 2.28: how the handshake signs with a key that lives in the chip.
 *
 * Debian 12's 2.28 build offers no public route for an external ECDSA key:
 * MBEDTLS_USE_PSA_CRYPTO (opaque PSA keys) and MBEDTLS_ECDSA_SIGN_ALT are
 * both off, and MBEDTLS_PK_RSA_ALT_SUPPORT only covers RSA. It does install
 * pk_internal.h, which defines mbedtls_pk_info_t, the PK layer's table of
 * key operations. This file (and only this file) uses it: it fills one
 * constant table whose sign entry calls the secure element, and points the
 * key context at it. That is the narrowest extension point 2.28 ships; it
 * touches no other internal structure, and mbedTLS sees an ordinary ECDSA
 * key. The table's layout depends on MBEDTLS_ECP_RESTARTABLE, so the
 * initialiser names its fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/pk_internal.h>
#include <mbedtls/platform.h>
#include <mbedtls/version.h>

#include "common/hk_common.h"
#include "hubkey/tls.h"
#include "tls/tls_internal.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#error "tls_key_mbedtls2.c is for mbedTLS 2.x; 3.x builds use tls_key_mbedtls3.c"
#endif

static size_t hk_tls_key_bitlen(const void *ctx)
{
    (void)ctx;
    return 256;
}

static int hk_tls_key_can_do(mbedtls_pk_type_t type)
{
    return type == MBEDTLS_PK_ECDSA || type == MBEDTLS_PK_ECKEY;
}

/* Verification uses the public key of the device certificate. */
static int hk_tls_key_verify(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash,
                             size_t hash_len, const unsigned char *sig, size_t sig_len)
{
    hk_tls *tls = ctx;
    return mbedtls_pk_verify(&HK_TLS_IN(tls)->own_chain.pk, md_alg, hash, hash_len, sig, sig_len);
}

/* mbedTLS gives a buffer of at least MBEDTLS_PK_SIGNATURE_MAX_SIZE bytes
 * (the 2.28 PK API has no size argument); a P-256 DER signature is <= 72. */
static int hk_tls_key_sign(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash,
                           size_t hash_len, unsigned char *sig, size_t *sig_len,
                           int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    hk_tls *tls = ctx;
    uint8_t rs[HK_SE_SIGNATURE_SIZE];
    (void)md_alg;
    (void)f_rng;
    (void)p_rng;
    if (hk_tls_se_sign_(tls, hash, hash_len, rs) != HK_OK)
        return MBEDTLS_ERR_PK_HW_ACCEL_FAILED;
    hk_result r = hk_tls_ecdsa_raw_to_der(rs, sig, MBEDTLS_PK_SIGNATURE_MAX_SIZE, sig_len);
    mbedtls_platform_zeroize(rs, sizeof rs);
    return r == HK_OK ? 0 : MBEDTLS_ERR_PK_HW_ACCEL_FAILED;
}

/* The context is the hk_tls itself, owned by the caller: nothing to
 * allocate or free. mbedtls_pk_setup() is not used (it would allocate). */
static void *hk_tls_key_alloc(void)
{
    return NULL;
}

static void hk_tls_key_free(void *ctx)
{
    (void)ctx;
}

static const mbedtls_pk_info_t hk_tls_key_info = {
    .type = MBEDTLS_PK_ECDSA,
    .name = "hubkey-se",
    .get_bitlen = hk_tls_key_bitlen,
    .can_do = hk_tls_key_can_do,
    .verify_func = hk_tls_key_verify,
    .sign_func = hk_tls_key_sign,
    .decrypt_func = NULL,
    .encrypt_func = NULL,
    .check_pair_func = NULL,
    .ctx_alloc_func = hk_tls_key_alloc,
    .ctx_free_func = hk_tls_key_free,
    .debug_func = NULL,
};

hk_result hk_tls_key_setup_(hk_tls *tls)
{
    HK_REQUIRE(tls != NULL);
    mbedtls_pk_context *dev = &HK_TLS_IN(tls)->own_chain.pk;
    if (!mbedtls_pk_can_do(dev, MBEDTLS_PK_ECKEY) ||
        mbedtls_pk_ec(*dev)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return HK_ERR_TLS_OWN_CERT;
    /* Public fields in 2.28's mbedtls_pk_context. */
    HK_TLS_IN(tls)->key.pk_info = &hk_tls_key_info;
    HK_TLS_IN(tls)->key.pk_ctx = tls;
    return HK_OK;
}
