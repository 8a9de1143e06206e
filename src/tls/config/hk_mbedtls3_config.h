/*
 * hubkey's mbedTLS 3.6 configuration (complete: replaces mbedtls_config.h).
 *
 * Used by scripts/build-mbedtls3 for the hk_tls_mbedtls3 variant, and a
 * starting point for an ESP-IDF 5 or bare-metal build. It enables exactly
 * what a TLS 1.2 client to Azure IoT Hub / DPS needs, with the device key in
 * a secure element. Each group says why it is here.
 */
#ifndef HK_MBEDTLS3_CONFIG_H
#define HK_MBEDTLS3_CONFIG_H

/* --- platform -------------------------------------------------------------
 * All of mbedTLS's allocations go through mbedtls_calloc/mbedtls_free, which
 * hk_tls_arena_init() points at a caller-provided buffer
 * (memory_buffer_alloc): the device needs no system heap for TLS. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* No MBEDTLS_HAVE_TIME / MBEDTLS_HAVE_TIME_DATE: certificate validity is
 * checked by hubkey against the wall clock the application supplies
 * (hk_tls_set_time), so mbedTLS never reads a system clock. */
#define MBEDTLS_HAVE_ASM

/* --- the key lives in the secure element -----------------------------------
 * MBEDTLS_ECDSA_SIGN_ALT: mbedtls_ecdsa_sign() is provided by hubkey
 * (src/tls/tls_key_mbedtls3.c) and signs through hk_se.sign_digest. This is
 * the documented extension point that 3.x keeps for hardware ECDSA (ESP-IDF
 * itself uses it for its ECDSA peripheral). Deterministic ECDSA is off
 * because with SIGN_ALT mbedTLS would hand the hook its own HMAC-DRBG
 * context instead of the configured RNG context hubkey uses to find its key
 * (see the warning next to MBEDTLS_ECDSA_SIGN_ALT in mbedtls_config.h). */
#define MBEDTLS_ECDSA_SIGN_ALT

/* --- TLS 1.2 client, Azure's suites ----------------------------------------
 * IoT Hub and DPS accept ECDHE-RSA and ECDHE-ECDSA with AES-GCM and present
 * RSA chains to DigiCert Global Root G2 or Microsoft RSA Root Certificate
 * Authority 2017, the two roots Microsoft tells devices to trust. */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_SSL_CIPHERSUITES                         \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,     \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,     \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,       \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

/* Record buffers. IN must hold the largest handshake message once
 * reassembled (Azure's RSA server Certificate message, leaf + intermediate,
 * about 4-5 KB) and any record the server sends. OUT holds our largest
 * record: the client Certificate message (device + signer, about 1.2 KB) or
 * one MQTT packet. hubkey asks for the max_fragment_length extension with
 * the smaller of the two (2048): a server that agrees (OpenSSL, Mosquitto)
 * never sends a record above 2 KB and fragments its handshake messages,
 * which mbedTLS 3.6 reassembles into IN; one that does not agree still fits
 * as long as its records stay below 6 KB, which holds for the handshake and
 * for DPS/MQTT traffic. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 6144
#define MBEDTLS_SSL_OUT_CONTENT_LEN 2048
/* The server chain is freed as soon as it is verified. */
/* (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE stays undefined.) */

/* --- crypto needed by the suites and certificate chains ---------------------- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C /* parses SHA-1-signed roots users may add; never accepted in chains */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_CTR_DRBG_C /* seeded from the secure element's RNG */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C /* verification of RSA server chains */
/* PKCS#1 v1.5 is what those chains and TLS 1.2's ServerKeyExchange use; no
 * PKCS#1 v2.1 (OAEP, RSASSA-PSS): nothing on the path to Azure needs it.
 * P-256 only: the chip's key, the ECDHE group and ECDSA server keys. The two
 * P-384 roots of Azure's list (DigiCert Global Root G3, Microsoft ECC Root
 * Certificate Authority 2017) are not in this build's trust store
 * (src/tls/tls_roots.c compiles a root only when its curve is enabled). */
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_PEM_PARSE_C /* a user's replacement trust store is PEM */
#define MBEDTLS_BASE64_C

#endif /* HK_MBEDTLS3_CONFIG_H */
