/*
 * Private interface between the parts of the TLS module: the common client
 * (tls.c), the built-in roots (tls_roots.c) and the one small,
 * version-specific file that connects mbedTLS's signing to the secure
 * element (tls_key_mbedtls2.c for 2.28, tls_key_mbedtls3.c for 3.6).
 */
#ifndef HK_TLS_INTERNAL_H
#define HK_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/version.h> /* the configuration, in 2.28 and 3.6 alike */

#include "hubkey/tls.h"

/* The two RSA roots always; the two P-384 roots only when the mbedTLS in use
 * can verify a P-384 signature (Debian's 2.28 can; hubkey's 3.6 device
 * configuration is P-256 only). */
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
#define HK_TLS_BUILTIN_ROOTS 4u
#else
#define HK_TLS_BUILTIN_ROOTS 2u
#endif

typedef struct hk_tls_root {
    const uint8_t *der;
    size_t len;
} hk_tls_root;

extern const hk_tls_root hk_tls_roots_[HK_TLS_BUILTIN_ROOTS];

/* Version-specific: make tls->_internal.key a signing key whose every
 * signature goes through hk_tls_se_sign_(). The device certificate (first in
 * own_chain) is already parsed; HK_ERR_TLS_OWN_CERT when its key is not
 * P-256. */
hk_result hk_tls_key_setup_(hk_tls *tls);

/* Sign a handshake hash with the secure element: P-256 ECDSA covers the
 * leftmost 32 bytes of the hash (SEC 1 section 4.1.3 truncation), so a
 * SHA-384 transcript hash is signed as its first 32 bytes. Counts the call
 * and records a secure-element failure for the error mapping. */
hk_result hk_tls_se_sign_(hk_tls *tls, const unsigned char *hash, size_t hash_len,
                          uint8_t out_rs[HK_SE_SIGNATURE_SIZE]);

/* The RNG given to mbedTLS (p_rng is the hk_tls): the CTR-DRBG seeded from
 * the secure element. The 3.6 key hook recognises its key by this function. */
int hk_tls_rng_(void *p_rng, unsigned char *out, size_t len);

#endif /* HK_TLS_INTERNAL_H */
