/*
 * hubkey — the secure-element interface.
 *
 * What the rest of hubkey needs from "the thing that holds the device key":
 * identity (serial number, certificate chain), signing a digest with the
 * private key (the key is never data: there is no way to read it through this
 * interface), randomness, and a small persistent data area (the provisioning
 * record lives there).
 *
 * Implemented by the ATECC608A driver (src/se/atecc608), and, for people
 * without a chip, by an insecure development software key (ports/softkey).
 *
 * Contracts:
 *  - serial: writes up to cap bytes of the device serial number and its length
 *    (9 for an ATECC608A). HK_ERR_BUFFER_TOO_SMALL when cap is too small.
 *  - cert: index 0 = device (leaf) certificate, 1 = signer (intermediate) CA
 *    certificate, as DER. HK_ERR_NOT_FOUND for an index past the chain.
 *    HK_ERR_BUFFER_TOO_SMALL when cap is too small (out_len gets the size
 *    needed when known).
 *  - sign_digest: ECDSA P-256 over a 32-byte SHA-256 digest; out_rs receives
 *    r||s, 32 bytes each, big-endian (raw, not DER).
 *  - random: fills buf with len random bytes.
 *  - read_data / write_data: the persistent data area used for the
 *    provisioning record (ATECC608A slot 8: 416 bytes). offset+len must stay
 *    inside data_size. write_data may be implemented as several block writes:
 *    callers that need atomicity build it on top (see src/se/record).
 *  - hold (optional, may be NULL): brackets calls (any of the above) that
 *    follow each other directly, so a chip stays awake between them.
 *
 * None of the functions keeps a pointer to caller buffers after returning.
 */
#ifndef HUBKEY_SE_H
#define HUBKEY_SE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_SE_DIGEST_SIZE 32u
#define HK_SE_SIGNATURE_SIZE 64u

typedef struct hk_se {
    void *ctx;
    HK_NODISCARD hk_result (*serial)(void *ctx, uint8_t *out, size_t cap, size_t *out_len);
    HK_NODISCARD hk_result (*cert)(void *ctx, unsigned index, uint8_t *out, size_t cap,
                                   size_t *out_len);
    HK_NODISCARD hk_result (*sign_digest)(void *ctx, const uint8_t digest[HK_SE_DIGEST_SIZE],
                                          uint8_t out_rs[HK_SE_SIGNATURE_SIZE]);
    HK_NODISCARD hk_result (*random)(void *ctx, uint8_t *out, size_t len);
    HK_NODISCARD hk_result (*read_data)(void *ctx, size_t offset, uint8_t *out, size_t len);
    HK_NODISCARD hk_result (*write_data)(void *ctx, size_t offset, const uint8_t *data, size_t len);
    size_t data_size; /* bytes available to read_data/write_data */
    /* Optional (NULL: nothing to do). hold(ctx, true) before and
     * hold(ctx, false) after calls that follow each other directly (the
     * record's reads, a boot's certificates, Random and record): a chip
     * stays awake between them (one wake instead of one per call). Pairs
     * nest. An implementation bounds a long hold itself (the ATECC608A
     * driver idles the chip and wakes it again before its watchdog would
     * expire). */
    void (*hold)(void *ctx, bool on);
} hk_se;

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_SE_H */
