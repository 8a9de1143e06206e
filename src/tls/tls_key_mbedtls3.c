/*
 * mbedTLS 3.6: how the handshake signs with a key that lives in the chip.
 *
 * hubkey's own configuration (src/tls/config/hk_mbedtls3_config.h) enables
 * MBEDTLS_ECDSA_SIGN_ALT, the documented hook that replaces
 * mbedtls_ecdsa_sign() (ESP-IDF uses the same hook for its ECDSA
 * peripheral). The key context is an ordinary public PK ECKEY holding the
 * device certificate's public key and no private scalar; when mbedTLS signs
 * with it during the handshake, it calls mbedtls_ecdsa_sign() below with the
 * RNG the SSL configuration carries, which is hubkey's RNG whose context is
 * the hk_tls. That is how the hook finds its secure element without any
 * global state. A call with any other RNG is not a hubkey key and is refused:
 * this build has no software ECDSA signing.
 *
 * Why not a PSA opaque key: in 3.6 an opaque key needs a PSA driver compiled
 * into mbedTLS's generated driver wrappers (or the deprecated dynamic
 * secure-element interface, which also needs persistent key storage); the
 * SIGN_ALT hook needs neither and keeps TLS 1.2 free of PSA.
 */
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "common/hk_common.h"
#include "hubkey/tls.h"
#include "tls/tls_internal.h"

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#error "tls_key_mbedtls3.c is for mbedTLS 3.x; 2.x builds use tls_key_mbedtls2.c"
#endif
#if !defined(MBEDTLS_ECDSA_SIGN_ALT) || defined(MBEDTLS_ECDSA_DETERMINISTIC)
#error "hubkey's mbedTLS 3 build needs MBEDTLS_ECDSA_SIGN_ALT without MBEDTLS_ECDSA_DETERMINISTIC"
#endif

/* The replacement mbedTLS calls for every ECDSA signature (declared in
 * mbedtls/ecdsa.h). Returns r and s; mbedTLS encodes them as DER. */
int mbedtls_ecdsa_sign(mbedtls_ecp_group *grp, mbedtls_mpi *r, mbedtls_mpi *s,
                       const mbedtls_mpi *d, const unsigned char *buf, size_t blen,
                       mbedtls_f_rng_t *f_rng, void *p_rng)
{
    (void)d;
    if (f_rng != hk_tls_rng_ || p_rng == NULL || grp == NULL || r == NULL || s == NULL ||
        buf == NULL || grp->id != MBEDTLS_ECP_DP_SECP256R1)
        return MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
    uint8_t rs[HK_SE_SIGNATURE_SIZE];
    if (hk_tls_se_sign_((hk_tls *)p_rng, buf, blen, rs) != HK_OK)
        return MBEDTLS_ERR_PLATFORM_HW_ACCEL_FAILED;
    int ret = mbedtls_mpi_read_binary(r, rs, 32);
    if (ret == 0)
        ret = mbedtls_mpi_read_binary(s, rs + 32, 32);
    mbedtls_platform_zeroize(rs, sizeof rs);
    return ret;
}

hk_result hk_tls_key_setup_(hk_tls *tls)
{
    HK_REQUIRE(tls != NULL);
    const mbedtls_pk_context *dev = &HK_TLS_IN(tls)->own_chain.pk;
    if (!mbedtls_pk_can_do(dev, MBEDTLS_PK_ECKEY) ||
        mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*dev)) != MBEDTLS_ECP_DP_SECP256R1)
        return HK_ERR_TLS_OWN_CERT;

    mbedtls_pk_context *key = &HK_TLS_IN(tls)->key;
    if (mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return HK_ERR_TLS_SETUP;

    /* Copy the public point so the key context is self-consistent (its
     * group tells mbedTLS the curve; the private scalar stays zero). */
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    int ret = mbedtls_ecp_export(mbedtls_pk_ec(*dev), &grp, &d, &q);
    if (ret == 0)
        ret = mbedtls_ecp_set_public_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), &q);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return ret == 0 ? HK_OK : HK_ERR_TLS_SETUP;
}
