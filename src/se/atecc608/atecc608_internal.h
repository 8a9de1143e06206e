/*
 * Parameter encodings shared by the ATECC608A builders (atecc608_cmd.c)
 * and the commands that build their groups directly (atecc608_commands.c).
 * Private to src/se/atecc608.
 */
#ifndef HK_ATECC608_INTERNAL_H
#define HK_ATECC608_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/atecc608.h"

/* GenKey param1: create a new private key (else: public key of the one there). */
#define HK_ATECC608_GENKEY_CREATE 0x04u
/* Sign param1: external digest, from the message-digest buffer. */
#define HK_ATECC608_SIGN_EXTERNAL 0xA0u

/* Read/Write param1: the zone, bit 7 for a 32-byte access. */
static inline uint8_t hk_atecc608_rw_param1(hk_atecc608_zone zone, size_t len)
{
    return (uint8_t)((unsigned)zone | (len == 32 ? 0x80u : 0u));
}

/* Nonce pass-through param1: mode 3, the target, bit 5 for 64 bytes. */
static inline uint8_t hk_atecc608_nonce_param1(hk_atecc608_nonce_target target, size_t len)
{
    return (uint8_t)(0x03u | (unsigned)target | (len == 64 ? 0x20u : 0u));
}

#endif /* HK_ATECC608_INTERNAL_H */
