/*
 * Bare-metal Cortex-M4 additions to hubkey's mbedTLS 3.6 configuration.
 *
 * Used as MBEDTLS_USER_CONFIG_FILE on top of
 * src/tls/config/hk_mbedtls3_config.h (MBEDTLS_CONFIG_FILE): mbedTLS reads
 * this file right after that one, so the feature set (TLS 1.2 client,
 * ECDHE-RSA and ECDHE-ECDSA with AES-GCM, P-256 and P-384, RSA
 * verification, SHA-256/384, X.509, the ECDSA sign hook) stays exactly the
 * one the host tests exercise; only what a device without an operating
 * system needs differently is set here. scripts/build-mbedtls-arm compiles
 * mbedTLS with both files and every hubkey target of the size build sees
 * the same two, so structures agree on both sides.
 */
#ifndef HK_MBEDTLS_ARM_CONFIG_H
#define HK_MBEDTLS_ARM_CONFIG_H

/* --- no operating system ----------------------------------------------------
 * No files, threads, sockets, timers or system entropy: the base
 * configuration already leaves them out; undefining them here keeps a
 * later change to the shared file from pulling them into a firmware. */
#undef MBEDTLS_FS_IO
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_NET_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_HAVE_TIME
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_PSA_CRYPTO_C
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C

/* --- randomness ---------------------------------------------------------------
 * No MBEDTLS_ENTROPY_C: mbedTLS gathers no entropy itself. hk_tls seeds its
 * CTR-DRBG through the hardware-RNG hook hk_se.random, which on a device is
 * the ATECC608A's Random command (the firmware image links exactly that
 * path). */
#undef MBEDTLS_ENTROPY_C

/* --- libc ---------------------------------------------------------------------
 * No default calloc/free, printf, fprintf, setbuf or exit from the C
 * library: every allocation goes to the arena given to hk_tls_arena_init()
 * (MBEDTLS_MEMORY_BUFFER_ALLOC_C); before that call an allocation fails
 * instead of reaching a heap the firmware does not have. The C library's
 * snprintf is kept for the few X.509 formatting helpers that need it (only
 * linked when called); MBEDTLS_PLATFORM_STD_MEM_HDR is the documented way
 * to give mbedTLS its declaration in this mode. */
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_PLATFORM_STD_MEM_HDR <stdio.h>
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf

/* --- flash before speed ---------------------------------------------------------
 * Code-size settings that change no result, only how fast it is computed:
 * a provisioning device runs a handful of handshakes per boot, and records
 * of at most a few KB, so a slower block cipher or hash costs milliseconds
 * while every byte of flash counts.
 *  - AES: one encryption table instead of four (the others are rotations
 *    of it, computed on the fly: saves 3 KB of flash);
 *  - no AES decryption at all: the only cipher mode is GCM, which runs the
 *    block cipher forwards in both directions, so the decryption tables and
 *    key schedule are dead weight (MBEDTLS_BLOCK_CIPHER_NO_DECRYPT: refused
 *    by mbedTLS when CBC, XTS, DES or NIST-KW is enabled);
 *  - SHA-256 and SHA-512/384 compression functions as loops instead of
 *    unrolled rounds. */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_BLOCK_CIPHER_NO_DECRYPT
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_SMALLER

/* SHA-1's block function from hubkey (src/se/cert/cert_hash.c, a loop over
 * the 80 rounds, which the certificate rebuild uses for key identifiers)
 * instead of mbedTLS's fully unrolled one: one copy instead of two, 3.7 KB
 * less. SHA-1 stays available to X.509 (SHA-1-signed roots a user adds
 * still parse; the certificate profile never accepts SHA-1 in a chain).
 * The image must link hk_cert, which every hubkey firmware does. */
#define MBEDTLS_SHA1_PROCESS_ALT

/* No precomputed comb tables for the generators of P-256 and P-384 in
 * flash (ecp_curves.c: 5.3 KB with the code that serves them): a
 * multiplication by the generator (the ECDHE key pair, one half of each
 * ECDSA verification) computes its small table in the arena instead, like a
 * multiplication by any other point. Same results; those multiplications
 * are slower, the ECDH shared secret is not affected. */
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

/* No human-readable X.509 descriptions (mbedtls_x509_crt_info,
 * mbedtls_x509_crt_verify_info, the description strings of the OID
 * tables: 2.2 KB). hubkey never prints a certificate on the device; a
 * verification failure is reported by hk_tls_reason() from the verify
 * flags with hubkey's own texts. Parsing and verification are unchanged. */
#define MBEDTLS_X509_REMOVE_INFO

#endif /* HK_MBEDTLS_ARM_CONFIG_H */
