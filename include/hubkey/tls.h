/*
 * hubkey — TLS 1.2 client with the device key inside the secure element.
 *
 * An hk_tls is itself a transport (include/hubkey/transport.h) layered over
 * another transport (TCP from the port, or a test fake). It presents the
 * device certificate chain read from the secure element and signs the
 * handshake's CertificateVerify through hk_se.sign_digest: the private key
 * never exists in RAM. It verifies the server chain against a trust store
 * (built in: the four Azure roots below, or the caller's PEM) and the host
 * name (also sent as SNI).
 *
 * Built on mbedTLS 2.28 (Debian 12) or 3.6 LTS with only public API plus one
 * narrow, version-specific key hook (docs/tls.md says which and why). This
 * header does not include mbedTLS: an application that uses hk_tls compiles
 * without mbedTLS's headers; only the TLS library itself needs them.
 *
 * Life cycle (all calls on one thread; nothing blocks):
 *
 *     hk_tls tls;                                  // caller-owned, HK_TLS_STORAGE_SIZE
 *     hk_tls_init(&tls, &config, tcp);             // no I/O yet
 *     hk_tls_set_time(&tls, unix_seconds);         // when the wall clock is known
 *     bool done = false;
 *     while (!done) { r = hk_tls_handshake(&tls, &done); if (r) fail; wait for I/O }
 *     hk_transport t = hk_tls_transport(&tls);     // hand to the MQTT client
 *     ...
 *     hk_tls_close(&tls);                          // best-effort close_notify
 *     hk_tls_free(&tls);
 *
 * Wall clock: certificate validity periods are checked against the time
 * given to hk_tls_set_time(), never against a system clock. When no time was
 * given (or it is before HK_TLS_TIME_FLOOR, i.e. an unset RTC), the chain
 * signatures, the trust anchor and the host name are still verified but the
 * validity periods are not; this is logged as a warning and reported by
 * hk_tls_time_checked(). A device normally provisions right after boot,
 * before SNTP has answered, so refusing would brick it; accepting an expired
 * certificate is the lesser risk because revoked-and-expired Azure server
 * keys are not a realistic attack on a fresh device, and the check resumes
 * on the next connection once the clock is set.
 *
 * Memory: hubkey's own code never allocates. mbedTLS allocates through its
 * calloc/free hooks; see hk_tls_arena_init().
 */
#ifndef HUBKEY_TLS_H
#define HUBKEY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"
#include "hubkey/se.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest device + signer certificate pair read from the secure element
 * (ATECC608A compressed certificates rebuild to about 500 bytes each). */
#define HK_TLS_OWN_CHAIN_MAX 2048u

/* "No wall clock": pass to hk_tls_set_time() to forget a time. */
#define HK_TLS_TIME_UNKNOWN INT64_MIN

/* Times before 2024-01-01T00:00:00Z are treated as "unknown": an RTC that
 * never got set reports 1970 or 2000, and checking validity against it
 * would reject every server. */
#define HK_TLS_TIME_FLOOR 1704067200

/* Longest reason string hk_tls_reason() produces, with its NUL. */
#define HK_TLS_REASON_MAX 160u

typedef struct hk_tls_config {
    /* Server host name: sent as SNI and matched against the server
     * certificate (SAN dNSName, else CN). NUL-terminated; copied during
     * hk_tls_init. */
    const char *host_name;
    /* The secure element: cert(0) device DER, cert(1) signer DER (sent
     * after the leaf; when cert(1) answers HK_ERR_NOT_FOUND the leaf goes
     * alone, as for a self-signed device),
     * sign_digest, random. Borrowed: must outlive the hk_tls. */
    const hk_se *se;
    /* Trust store. NULL: the built-in roots (hk_tls_builtin_root_count).
     * Otherwise one or more PEM certificates; the buffer must end with a NUL
     * byte that trust_pem_len counts (as mbedTLS requires for PEM). Parsed
     * and copied during hk_tls_init; the caller may free it afterwards. */
    const uint8_t *trust_pem;
    size_t trust_pem_len;
} hk_tls_config;

/* Bytes reserved for one hk_tls. The state behind it (mbedTLS's SSL
 * context and configuration, the DRBG, the trust store, the device chain of
 * HK_TLS_OWN_CHAIN_MAX bytes) is private to the TLS library; its size
 * depends on mbedTLS's version, its configuration and the pointer size.
 * The default covers every build hubkey is checked with: HK_TLS_OWN_CHAIN_MAX
 * + 1024 + 256 bytes per byte of pointer, i.e. 4,096 on a 32-bit and 5,120
 * on a 64-bit target, against measured states of 3,944 (2.28, 32-bit ARM),
 * 4,928 (2.28, 64-bit), 4,576 (3.6, 64-bit), 3,568 (3.6, Cortex-M4
 * configuration) and 3,376 bytes (3.6, ESP-IDF's configuration); docs/tls.md,
 * "Memory". The TLS library refuses to compile (a _Static_assert in
 * src/tls/tls.c naming this macro) when its state does not fit. A build
 * whose mbedTLS needs more, or that wants to spend no more RAM than its
 * state needs, defines HK_TLS_STORAGE_SIZE for every file of the program,
 * the TLS library included (hubkey's Cortex-M4 builds do: 3,584). */
#ifndef HK_TLS_STORAGE_SIZE
#define HK_TLS_STORAGE_SIZE (HK_TLS_OWN_CHAIN_MAX + 1024u + 256u * sizeof(void *))
#endif

/* Caller-owned storage for one TLS client; its contents are private to
 * src/tls (an application never reads or writes them). The union gives the
 * storage the alignment of the strictest member the private state holds. */
typedef struct hk_tls {
    union {
        unsigned char bytes[HK_TLS_STORAGE_SIZE];
        uint64_t align_u64;
        double align_double;
        void *align_ptr;
        void (*align_fn)(void);
    } _opaque;
} hk_tls;

/* Prepare a client: reads the device and signer certificates from cfg->se,
 * builds the trust store, seeds the DRBG from cfg->se->random, sets SNI,
 * verification, Azure's cipher suites and a max_fragment_length request
 * (4096 bytes, or less when mbedTLS was built with smaller record
 * buffers). No bytes are sent. On error everything allocated is released
 * (calling hk_tls_free is still allowed). The hk_tls must not move in memory
 * after this call (mbedTLS keeps pointers into it).
 * Errors: HK_ERR_INVALID_ARG (NULL, empty host name, PEM without its NUL),
 * HK_ERR_TLS_TRUST_STORE (no certificate in trust_pem could be parsed, or
 * one was malformed), HK_ERR_TLS_OWN_CERT (the chip's certificates are not
 * DER certificates with a P-256 key), secure-element errors from cert/random,
 * HK_ERR_BUFFER_TOO_SMALL (certificates larger than HK_TLS_OWN_CHAIN_MAX),
 * HK_ERR_TLS_SETUP (mbedTLS refused the configuration, e.g. out of memory). */
HK_NODISCARD hk_result hk_tls_init(hk_tls *tls, const hk_tls_config *cfg, hk_transport lower);

/* Set the wall clock used to check certificate validity (Unix seconds, UTC),
 * or HK_TLS_TIME_UNKNOWN. May be called any time before or during the
 * handshake; the value is used when the server's chain arrives. */
void hk_tls_set_time(hk_tls *tls, int64_t unix_seconds);

/* Advance the handshake as far as the lower transport allows.
 * HK_OK with *out_done = false: waiting for the lower transport (it returned
 * 0 bytes); call again when it may have progressed. HK_OK with
 * *out_done = true: established. Errors (fatal; the connection is unusable):
 *   HK_ERR_TLS_UNTRUSTED       chain does not lead to a trusted root (also a
 *                              server chain missing its intermediate)
 *   HK_ERR_TLS_EXPIRED         a certificate is expired or not yet valid
 *   HK_ERR_TLS_HOSTNAME        the certificate does not name host_name
 *   HK_ERR_TLS_CLIENT_REJECTED the server refused our certificate (alert
 *                              bad_certificate, unknown_ca, ...)
 *   HK_ERR_TLS_ALERT           any other fatal alert from the server
 *   HK_ERR_CLOSED              the connection was cut
 *   HK_ERR_TLS_HANDSHAKE       the server sent bytes that are not a valid
 *                              TLS 1.2 handshake for our configuration
 *   lower-transport errors     passed through (e.g. HK_ERR_IO)
 *   secure-element errors      passed through from sign_digest
 * hk_tls_reason() then describes the failure. */
HK_NODISCARD hk_result hk_tls_handshake(hk_tls *tls, bool *out_done);

/* The transport of the established connection (ctx = tls). Valid until
 * hk_tls_free. send/recv follow transport.h exactly; before the handshake is
 * done they return HK_ERR_STATE. recv returns HK_ERR_CLOSED after the
 * server's close_notify or a clean TCP close. */
hk_transport hk_tls_transport(hk_tls *tls);

/* Send close_notify (one attempt; the lower transport may not take it).
 * HK_OK when sent or when it would block; errors as for send. */
HK_NODISCARD hk_result hk_tls_close(hk_tls *tls);

/* Release everything mbedTLS allocated and wipe the session secrets. Safe on
 * a zeroed or already freed hk_tls. */
void hk_tls_free(hk_tls *tls);

/* True when the last handshake checked validity periods against a known
 * wall clock; false when it skipped them (see the header comment). */
bool hk_tls_time_checked(const hk_tls *tls);

/* Number of sign_digest calls this hk_tls made (one per handshake). */
unsigned hk_tls_sign_count(const hk_tls *tls);

/* A short, human-readable reason for the last failure, e.g.
 * "server certificate: expired; " or "alert 48 (unknown_ca) from server".
 * Writes a NUL-terminated string (truncated to cap) and its length without
 * the NUL. HK_ERR_INVALID_ARG when cap is 0. */
HK_NODISCARD hk_result hk_tls_reason(const hk_tls *tls, char *out, size_t cap, size_t *out_len);

/* Give mbedTLS a caller-owned arena for all its allocations (process-wide,
 * call once before any hk_tls_init; the buffer must outlive every hk_tls).
 * Needs an mbedTLS built with MBEDTLS_MEMORY_BUFFER_ALLOC_C (hubkey's 3.6
 * configuration). HK_ERR_UNSUPPORTED when the mbedTLS in use has no way to
 * redirect its allocations (Debian 12's 2.28 build: neither
 * MBEDTLS_PLATFORM_MEMORY nor MBEDTLS_MEMORY_BUFFER_ALLOC_C), in which case
 * mbedTLS keeps using the C library's calloc/free. */
HK_NODISCARD hk_result hk_tls_arena_init(uint8_t *buf, size_t len);

/* Built-in trust store, as DER, in this order: DigiCert Global Root G2 and
 * Microsoft RSA Root Certificate Authority 2017 (the roots Microsoft tells
 * devices to trust for IoT Hub and DPS), then, only when the mbedTLS in use
 * has P-384 (Debian's 2.28 does; hubkey's 3.6 device configuration does
 * not), DigiCert Global Root G3 and Microsoft ECC Root Certificate Authority
 * 2017. The count says which. The bytes are static. */
size_t hk_tls_builtin_root_count(void);
HK_NODISCARD hk_result hk_tls_builtin_root(size_t index, const uint8_t **out_der, size_t *out_len);

/* Encode a raw P-256 ECDSA signature r||s (32 bytes each, big-endian) as the
 * DER ECDSA-Sig-Value TLS carries: SEQUENCE { INTEGER r, INTEGER s }, each
 * INTEGER minimal (leading zeros stripped, one 0x00 added when the top bit is
 * set). At most 72 bytes. HK_ERR_BUFFER_TOO_SMALL when cap is too small
 * (out_len gets the size needed); HK_ERR_CRYPTO when r or s is zero. */
HK_NODISCARD hk_result hk_tls_ecdsa_raw_to_der(const uint8_t rs[HK_SE_SIGNATURE_SIZE], uint8_t *out,
                                               size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_TLS_H */
