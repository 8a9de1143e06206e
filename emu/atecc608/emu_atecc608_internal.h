/*
 * Private to emu/atecc608: the chip model's state and the functions below
 * both the I/O front-end (emu_atecc608.c) and the commands
 * (emu_atecc608_cmd.c): the model helpers (emu_atecc608_model.c) and the
 * crypto (emu_atecc608_crypto.c). Neither of those calls up into the
 * front-end or the commands. Include graph (no circle):
 *   emu_atecc608.c     -> emu_atecc608_cmd.h -> emu_atecc608_internal.h
 *   emu_atecc608_cmd.c -> emu_atecc608_cmd.h
 *   emu_atecc608_model.c, emu_atecc608_crypto.c -> emu_atecc608_internal.h
 *   emu_atecc608_internal.h -> emu_atecc608.h (public)
 */
#ifndef HK_EMU_ATECC608_INTERNAL_H
#define HK_EMU_ATECC608_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>

#include "emu_atecc608.h"

/* Largest input group the chip accepts (count byte included). */
#define EMU_MAX_GROUP 155u
/* Largest output group: GenKey/Sign reply, 64 bytes + count + CRC. */
#define EMU_MAX_RESPONSE 67u

/* Status bytes (atecc608a.md §3). */
#define EMU_STATUS_OK 0x00u
#define EMU_STATUS_MISCOMPARE 0x01u
#define EMU_STATUS_PARSE 0x03u
#define EMU_STATUS_ECC 0x05u
#define EMU_STATUS_EXEC 0x0Fu
#define EMU_STATUS_WAKE 0x11u
#define EMU_STATUS_WATCHDOG 0xEEu
#define EMU_STATUS_CRC 0xFFu

/* Config-zone offsets (atecc608a.md §5). */
#define EMU_CFG_I2C_ADDRESS 16u
#define EMU_CFG_COUNT_MATCH 18u
#define EMU_CFG_CHIP_MODE 19u
#define EMU_CFG_SLOT_CONFIG 20u
#define EMU_CFG_COUNTER0 52u
#define EMU_CFG_USE_LOCK 68u
#define EMU_CFG_VOLATILE_KEY_PERMISSION 69u
#define EMU_CFG_USER_EXTRA 84u
#define EMU_CFG_USER_EXTRA_ADD 85u
#define EMU_CFG_LOCK_VALUE 86u
#define EMU_CFG_LOCK_CONFIG 87u
#define EMU_CFG_SLOT_LOCKED 88u
#define EMU_CFG_CHIP_OPTIONS 90u
#define EMU_CFG_KEY_CONFIG 96u

#define EMU_COUNTER_MAX 2097151u

/* The volatile TempKey register and its flags (atecc608a.md §4.7, §4.9). */
typedef struct emu_tempkey {
    uint8_t value[64];
    bool valid;
    bool source_not_random; /* SourceFlag: 0 = from a random nonce, 1 = pass-through etc. */
    bool is_64;             /* loaded by a 64-byte pass-through */
} emu_tempkey;

struct hk_emu_atecc608 {
    /* EEPROM: what the state file holds. */
    uint8_t config[HK_EMU_ATECC608_CONFIG_SIZE];
    uint8_t otp[HK_EMU_ATECC608_OTP_SIZE];
    uint8_t data[HK_EMU_ATECC608_DATA_SIZE];

    hk_emu_atecc608_options opts;

    /* Power and time. */
    hk_emu_atecc608_power_state state;
    uint64_t now_us;
    uint64_t ready_at_us;       /* end of tWHI (WAKING) or of execution (BUSY) */
    uint64_t watchdog_at_us;    /* sleep when the clock reaches this while awake */
    uint8_t addr7;              /* latched at wake from sleep / power-up */
    bool addr_latched;

    /* I/O buffers. */
    uint8_t in[EMU_MAX_GROUP + 1];
    size_t in_len;
    bool in_overrun;            /* more bytes than the group's count */
    uint8_t out[EMU_MAX_RESPONSE];
    size_t out_len;
    size_t out_pos;
    bool out_dropped;           /* injected: the response is lost */

    /* Volatile crypto state. */
    emu_tempkey tempkey;
    uint8_t msg_digest[64];
    bool msg_digest_valid;
    uint8_t alt_key[32];
    bool alt_key_valid;
    mbedtls_sha256_context sha;
    bool sha_active;
    size_t sha_bytes;
    bool persistent_latch;

    /* RNG and the P-256 group. */
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_context entropy; /* host entropy (non-deterministic mode) */
    uint64_t entropy_state;     /* deterministic entropy stream (splitmix64) */
    bool deterministic;
    mbedtls_ecp_group grp;

    /* Faults. */
    hk_emu_atecc608_faults faults;
    uint64_t fault_prng;
    uint32_t writes_since_arm;
    uint64_t bytes_since_arm;

    hk_emu_atecc608_counters counters;
    char *autosave_path;
    int autosave_errno; /* errno of the last autosave, 0 when it worked */
};

/* ---- model helpers (emu_atecc608_model.c) ---- */

/* Data-zone layout. */
size_t emu_slot_offset(unsigned slot);

/* Volatile state: TempKey, message digest, alternate key and SHA context;
 * the I/O buffers. Both are lost on sleep and power loss. */
void emu_clear_volatile_crypto(hk_emu_atecc608 *emu);
void emu_clear_io(hk_emu_atecc608 *emu);

/* Response helpers. */
void emu_respond_status(hk_emu_atecc608 *emu, uint8_t status);
void emu_respond_data(hk_emu_atecc608 *emu, const uint8_t *payload, size_t len);

/* Config-zone field readers. */
uint16_t emu_slot_config(const hk_emu_atecc608 *emu, unsigned slot);
uint16_t emu_key_config(const hk_emu_atecc608 *emu, unsigned slot);
bool emu_config_locked(const hk_emu_atecc608 *emu);
bool emu_data_locked(const hk_emu_atecc608 *emu);
bool emu_slot_is_private(const hk_emu_atecc608 *emu, unsigned slot);

/* Counter encoding (atecc608a.md §4.14). */
void emu_counter_encode(uint32_t value, uint8_t out[8]);
bool emu_counter_decode(const uint8_t in[8], uint32_t *out_value);

/* Power-loss-aware EEPROM store used by the writing commands: copies len
 * bytes to dst in order, stopping when an armed power loss fires. Returns
 * false when power failed (the chip is then OFF). */
bool emu_eeprom_store(hk_emu_atecc608 *emu, uint8_t *dst, const uint8_t *src, size_t len);

/* ---- crypto (emu_atecc608_crypto.c) ---- */

/* All return 0 on success. */
int emu_crypto_init(hk_emu_atecc608 *emu);
void emu_crypto_free(hk_emu_atecc608 *emu);
int emu_crypto_random(hk_emu_atecc608 *emu, uint8_t *out, size_t len);
int emu_crypto_sha256(const uint8_t *in, size_t len, uint8_t out[32]);
int emu_crypto_sha_start(hk_emu_atecc608 *emu);
int emu_crypto_sha_update(hk_emu_atecc608 *emu, const uint8_t *in, size_t len);
int emu_crypto_sha_finish(hk_emu_atecc608 *emu, uint8_t out[32]);
/* New private key into priv (32 bytes, big-endian) and its public key. */
int emu_crypto_genkey(hk_emu_atecc608 *emu, uint8_t priv[32], uint8_t out_pub[64]);
/* -1 when priv is not a valid P-256 scalar. */
int emu_crypto_pubkey(hk_emu_atecc608 *emu, const uint8_t priv[32], uint8_t out_pub[64]);
int emu_crypto_sign(hk_emu_atecc608 *emu, const uint8_t priv[32], const uint8_t digest[32],
                    uint8_t out_rs[64]);
/* Verify: 0 valid, 1 mismatch, -1 public key invalid (not on the curve). */
int emu_crypto_verify(hk_emu_atecc608 *emu, const uint8_t pub[64], const uint8_t digest[32],
                      const uint8_t rs[64]);
/* ECDH: 0 ok, -1 peer key invalid or private key invalid. */
int emu_crypto_ecdh(hk_emu_atecc608 *emu, const uint8_t priv[32], const uint8_t peer[64],
                    uint8_t out_x[32]);
/* Known-answer self tests; returns the bitmap of failed tests among mask. */
uint8_t emu_crypto_selftest(hk_emu_atecc608 *emu, uint8_t mask);

#endif /* HK_EMU_ATECC608_INTERNAL_H */
