/*
 * hubkey — development software key: an hk_se without a secure element.
 *
 * *** INSECURE. FOR DEVELOPMENT ONLY. ***
 * The private key is read from a PEM file and sits in process memory, where
 * anything that can read the file or the process can copy it. Use it to run
 * hubkey on a machine without an ATECC608A; never to protect a real device
 * identity. Loading prints a warning to stderr saying so.
 *
 * What it provides through hk_se:
 *  - serial: 9 bytes. Taken from the device certificate's subject CN when
 *    it ends in "sn" + 18 hex characters (the convention of chip-backed
 *    devices); otherwise the first 9 bytes of SHA-256(0x04 || X || Y) of
 *    the public key.
 *  - cert: index 0 = device certificate, 1 = signer certificate (when a
 *    signer file was given), as DER.
 *  - sign_digest: ECDSA P-256, raw r || s.
 *  - random: mbedTLS CTR_DRBG seeded from the system entropy source.
 *  - read_data / write_data: a 416-byte area (the size of ATECC608A slot
 *    8) kept in a file. A missing file reads as erased (0xFF). Every write
 *    replaces the file atomically (temporary file, fsync, rename), so the
 *    file holds the area either before or after a write_data call.
 *
 * Host code: allocates, reads files, not for microcontrollers.
 */
#ifndef HUBKEY_PORTS_SOFTKEY_H
#define HUBKEY_PORTS_SOFTKEY_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"
#include "hubkey/se.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_SOFTKEY_DATA_SIZE 416u

typedef struct hk_softkey {
    struct hk_softkey_internal *_internal; /* owned; freed by hk_softkey_close */
} hk_softkey;

typedef struct hk_softkey_paths {
    const char *key_pem;         /* PEM P-256 private key (required) */
    const char *device_cert_pem; /* PEM device certificate (required) */
    const char *signer_cert_pem; /* PEM signer certificate, or NULL */
    const char *data_file;       /* the 416-byte data area (required) */
} hk_softkey_paths;

/* Load the key and certificates. The strings are copied.
 * HK_ERR_FILE when a file cannot be read or the data file has the wrong
 * size; HK_ERR_CERT_PARSE for a certificate that does not parse;
 * HK_ERR_UNSUPPORTED for a key that is not P-256; HK_ERR_SE_CONFIG when the
 * device certificate is not the key's. On error sk is left closed. */
HK_NODISCARD hk_result hk_softkey_open(hk_softkey *sk, const hk_softkey_paths *paths);

/* The hk_se interface over an open software key. Valid until
 * hk_softkey_close(sk); sk must not move while it is used. */
hk_se hk_softkey_se(hk_softkey *sk);

/* Free everything (the key is zeroed by mbedTLS). Safe on a closed key. */
void hk_softkey_close(hk_softkey *sk);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORTS_SOFTKEY_H */
