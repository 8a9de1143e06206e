/*
 * Private interface between the parts of the TLS module: the common client
 * (tls.c: configuration, credentials, lifetime; tls_io.c: the handshake and
 * I/O engine; tls_verify.c: verification, failure reasons, alerts), the
 * built-in roots (tls_roots.c) and the one small, version-specific file that
 * connects mbedTLS's signing to the secure element (tls_key_mbedtls2.c for
 * 2.28, tls_key_mbedtls3.c for 3.6).
 *
 * The state of an hk_tls lives here, not in hubkey/tls.h: the public header
 * gives applications sized storage (HK_TLS_STORAGE_SIZE) so that they need
 * neither mbedTLS's headers nor its configuration. tls.c checks at compile
 * time that this struct fits that storage.
 */
#ifndef HK_TLS_INTERNAL_H
#define HK_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/version.h> /* the configuration, in 2.28 and 3.6 alike */

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "hubkey/tls.h"

/* The log tag of the whole module. */
#define HK_TLS_LOG "tls"

/* Why the last failure happened, kept for hk_tls_reason(). */
typedef enum hk_tls_fail_kind {
    HK_TLS_FAIL_NONE = 0,
    HK_TLS_FAIL_VERIFY,  /* server certificate: see verify flags */
    HK_TLS_FAIL_ALERT,   /* fatal alert from the server */
    HK_TLS_FAIL_MBEDTLS, /* other mbedTLS error */
    HK_TLS_FAIL_LOWER,   /* the lower transport failed or closed */
    HK_TLS_FAIL_SE       /* the secure element failed to sign */
} hk_tls_fail_kind;

/* The state behind an hk_tls (its storage, tls->_opaque). */
struct hk_tls_internal {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt trust;
    mbedtls_x509_crt own_chain;
    mbedtls_pk_context key;
    hk_transport lower;
    const hk_se *se;
    int64_t now_s;
    /* DER of device + signer certificates; own_chain points into it. */
    uint8_t own_der[HK_TLS_OWN_CHAIN_MAX];
    /* Failure bookkeeping; a failed connection stays failed. */
    hk_result failed;
    hk_tls_fail_kind fail_kind;
    hk_result lower_result;
    hk_result se_result;
    int mbedtls_err;
    uint32_t verify_flags;
    uint8_t alert_level; /* 0 = no plaintext alert seen */
    uint8_t alert_desc;
    uint8_t alert_first_byte;
    /* Plaintext record watcher (finds the server's alerts before its
     * ChangeCipherSpec; see tls_verify.c). */
    uint8_t rec_hdr[5];
    uint8_t rec_hdr_len;
    uint8_t rec_type;
    uint16_t rec_left;
    uint16_t rec_pos;
    bool server_encrypting;
    bool time_checked;
    bool handshake_done;
    bool initialised;
    unsigned sign_count;
};

/* The state inside an hk_tls's storage (tls.c asserts that it fits). */
#define HK_TLS_IN(tls) ((struct hk_tls_internal *)(void *)(tls)->_opaque.bytes)
#define HK_TLS_CIN(tls) ((const struct hk_tls_internal *)(const void *)(tls)->_opaque.bytes)

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
HK_NODISCARD hk_result hk_tls_key_setup_(hk_tls *tls);

/* Sign a handshake hash with the secure element: P-256 ECDSA covers the
 * leftmost 32 bytes of the hash (SEC 1 section 4.1.3 truncation), so a
 * SHA-384 transcript hash is signed as its first 32 bytes. Counts the call
 * and records a secure-element failure for the error mapping. */
HK_NODISCARD hk_result hk_tls_se_sign_(hk_tls *tls, const unsigned char *hash, size_t hash_len,
                                       uint8_t out_rs[HK_SE_SIGNATURE_SIZE]);

/* The RNG given to mbedTLS (p_rng is the hk_tls): the CTR-DRBG seeded from
 * the secure element. The 3.6 key hook recognises its key by this function. */
int hk_tls_rng_(void *p_rng, unsigned char *out, size_t len);

/* mbedTLS's BIO callbacks over the lower transport (ctx is the hk_tls;
 * tls_io.c), in mbedTLS's convention: bytes moved, 0 at the end of the
 * stream (recv), MBEDTLS_ERR_SSL_WANT_READ / _WANT_WRITE when the lower
 * transport would block, MBEDTLS_ERR_SSL_INTERNAL_ERROR when it failed (its
 * hk_result kept in lower_result). Every byte received passes
 * hk_tls_watch_. */
int hk_tls_bio_send_(void *ctx, const unsigned char *buf, size_t len);
int hk_tls_bio_recv_(void *ctx, unsigned char *buf, size_t len);

/* mbedTLS's verify callback (ctx is the hk_tls; tls_verify.c), called for
 * every certificate of the server chain: replaces mbedTLS's time verdict by
 * one from the clock hk_tls_set_time gave; other flags stay. Always 0. */
int hk_tls_verify_cb_(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

/* The record watcher (tls_verify.c): follows the server's plaintext records
 * in n received bytes until its ChangeCipherSpec and keeps the first alert
 * (alert_level, alert_desc). Accepts any bytes; only observes. */
void hk_tls_watch_(hk_tls *tls, const uint8_t *p, size_t n);

/* Records why the connection failed (mbedTLS's ret, plus what the lower
 * transport, the secure element and the watcher recorded), marks it failed
 * for good and returns the hk_result the caller is told (tls_verify.c). */
HK_NODISCARD hk_result hk_tls_fail_(hk_tls *tls, int ret);

#endif /* HK_TLS_INTERNAL_H */
