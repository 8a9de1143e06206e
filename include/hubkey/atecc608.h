/*
 * hubkey — Microchip ATECC608A driver over an hk_i2c port.
 *
 * Three layers, each usable on its own:
 *
 *  1. Command builders (hk_atecc608_cmd_*): opcode, param1, param2 and data
 *     become one input group (count, packet, CRC-16) in an hk_atecc608_cmd,
 *     which also carries the command's maximum execution time and the size of
 *     its successful output group. Pure: no I/O.
 *  2. One transaction (hk_atecc608_execute): wake when needed, send, poll for
 *     completion, receive, CRC check, status decode, then idle or sleep, with
 *     bounded retries. hk_atecc608_response_decode is its pure response
 *     parser.
 *  3. Commands (hk_atecc608_info, _read, _write, _lock, _random, _nonce,
 *     _genkey, _sign, _verify, _ecdh, _sha_*, _selftest, _counter) and
 *     helpers (whole config zone, slot bytes in blocks), config-zone decoding
 *     and the safety check, and the hk_se implementation over the chip.
 *
 * Results and chip status: a chip status byte is never returned as an
 * hk_result. When the chip answers with an error status the functions return
 * HK_ERR_SE_STATUS and, when the caller passed an out_status pointer, store
 * the byte there (HK_ATECC608_STATUS_*). Verify's "signature mismatch" (0x01)
 * is reported as HK_ERR_SE_VERIFY.
 *
 * Memory: no function keeps a pointer to a caller buffer after it returns,
 * except the hk_atecc608 context, which keeps the hk_i2c it was given (by
 * value; the port's ctx must outlive the context) and the hk_se_atecc608,
 * which keeps its hk_atecc608 and certificate definitions by pointer.
 *
 * Threads: a context is used by one thread at a time. The chip keeps state
 * (TempKey, message-digest buffer) between commands, so sequences such as
 * Nonce -> Sign must not be interleaved with other users of the same chip.
 */
#ifndef HUBKEY_ATECC608_H
#define HUBKEY_ATECC608_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"
#include "hubkey/se.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants --------------------------------------------------------- */

#define HK_ATECC608_ADDR_DEFAULT 0x60u /* 7-bit; 0xC0 in the 8-bit form */

/* Largest input group the chip accepts (count included). */
#define HK_ATECC608_CMD_MAX 155u
/* Largest output group of the commands built here (GenKey/Sign: 64 + 3). */
#define HK_ATECC608_RSP_MAX 67u

#define HK_ATECC608_CONFIG_SIZE 128u
#define HK_ATECC608_OTP_SIZE 64u
#define HK_ATECC608_SERIAL_SIZE 9u
#define HK_ATECC608_PUBKEY_SIZE 64u    /* X || Y, big-endian, no 0x04 prefix */
#define HK_ATECC608_SIGNATURE_SIZE 64u /* R || S, big-endian */
#define HK_ATECC608_SLOTS 16u

/* Opcodes. */
#define HK_ATECC608_OP_READ 0x02u
#define HK_ATECC608_OP_WRITE 0x12u
#define HK_ATECC608_OP_NONCE 0x16u
#define HK_ATECC608_OP_LOCK 0x17u
#define HK_ATECC608_OP_RANDOM 0x1Bu
#define HK_ATECC608_OP_COUNTER 0x24u
#define HK_ATECC608_OP_INFO 0x30u
#define HK_ATECC608_OP_GENKEY 0x40u
#define HK_ATECC608_OP_SIGN 0x41u
#define HK_ATECC608_OP_ECDH 0x43u
#define HK_ATECC608_OP_VERIFY 0x45u
#define HK_ATECC608_OP_SHA 0x47u
#define HK_ATECC608_OP_SELFTEST 0x77u

/* Status bytes of a 4-byte output group. */
#define HK_ATECC608_STATUS_OK 0x00u
#define HK_ATECC608_STATUS_MISCOMPARE 0x01u /* Verify / CheckMac mismatch */
#define HK_ATECC608_STATUS_PARSE 0x03u      /* illegal length, opcode or parameter */
#define HK_ATECC608_STATUS_ECC 0x05u        /* ECC fault; a retry may work */
#define HK_ATECC608_STATUS_SELFTEST 0x07u   /* chip is in self-test failure mode */
#define HK_ATECC608_STATUS_HEALTH 0x08u     /* RNG health test failed */
#define HK_ATECC608_STATUS_EXECUTION 0x0Fu  /* not allowed in the current state */
#define HK_ATECC608_STATUS_WAKE 0x11u       /* awake, no command received yet */
#define HK_ATECC608_STATUS_WATCHDOG 0xEEu   /* watchdog about to expire; not run */
#define HK_ATECC608_STATUS_CRC 0xFFu        /* chip saw a bad CRC; send again */

/* Zones for Read / Write. */
typedef enum hk_atecc608_zone {
    HK_ATECC608_ZONE_CONFIG = 0,
    HK_ATECC608_ZONE_OTP = 1,
    HK_ATECC608_ZONE_DATA = 2
} hk_atecc608_zone;

/* What the transaction does with the chip after the response was read.
 * IDLE keeps TempKey and the message-digest buffer (use it between the
 * commands of a sequence); SLEEP loses them and draws the least power. */
typedef enum hk_atecc608_after {
    HK_ATECC608_AFTER_IDLE = 0,
    HK_ATECC608_AFTER_SLEEP = 1
} hk_atecc608_after;

/* Nonce pass-through targets (param1 bits 7..6). */
typedef enum hk_atecc608_nonce_target {
    HK_ATECC608_NONCE_TEMPKEY = 0x00,
    HK_ATECC608_NONCE_MSG_DIGEST = 0x40,
    HK_ATECC608_NONCE_ALT_KEY = 0x80
} hk_atecc608_nonce_target;

/* SelfTest bitmap, bits as cryptoauthlib defines them (SELFTEST_MODE_*): ECDSA is
 * 0x02, so that RNG|ECDSA|ECDH|AES|SHA = 0x3B ("all"). cryptoauthlib 3.6.1 and
 * later select ECDSA alone with 0x04, which the chip also takes. */
#define HK_ATECC608_SELFTEST_RNG 0x01u
#define HK_ATECC608_SELFTEST_ECDSA 0x02u
#define HK_ATECC608_SELFTEST_ECDH 0x08u
#define HK_ATECC608_SELFTEST_AES 0x10u
#define HK_ATECC608_SELFTEST_SHA 0x20u
#define HK_ATECC608_SELFTEST_ALL 0x3Bu

/* ---- 1. command builders ----------------------------------------------- */

/* One input group, ready to send after the word address 0x03. */
typedef struct hk_atecc608_cmd {
    uint8_t group[HK_ATECC608_CMD_MAX]; /* count, opcode, p1, p2 lo, p2 hi, data, crc lo, crc hi */
    uint8_t len;                        /* bytes used in group (== group[0]) */
    uint8_t resp_len;                   /* output group size on success; 4 = status only */
    uint16_t exec_ms;                   /* maximum execution time at the default clock (M0) */
} hk_atecc608_cmd;

/* Maximum execution time in ms of an opcode for ChipMode clock divider
 * mode 0 (M0, default, ChipMode bits 7..3 = 0x00), 1 (M1, 0x28) or 2 (M2,
 * 0x68). Unknown opcodes or modes give the largest value of the table. */
uint16_t hk_atecc608_exec_ms(uint8_t opcode, unsigned clock_mode);

/* Generic builder: count, opcode, param1, param2 (sent LSB first), data,
 * CRC-16 over all of it. resp_len is the expected successful output group
 * size (4..HK_ATECC608_RSP_MAX). data may be NULL when data_len is 0.
 * HK_ERR_INVALID_ARG when the group would exceed HK_ATECC608_CMD_MAX. */
HK_NODISCARD hk_result hk_atecc608_cmd_build(hk_atecc608_cmd *cmd, uint8_t opcode, uint8_t param1,
                                             uint16_t param2, const uint8_t *data, size_t data_len,
                                             uint8_t resp_len);

/* Param2 of a Read/Write address. Config: byte offset (multiple of 4) in
 * 0..127. OTP: byte offset in 0..63. Data: slot 0..15, byte offset in the
 * slot (multiple of 4; block = offset / 32 goes in the high byte, so slot 8
 * block 12 is 0x0C40). HK_ERR_INVALID_ARG for out-of-range values. */
HK_NODISCARD hk_result hk_atecc608_addr(hk_atecc608_zone zone, uint8_t slot, uint16_t offset,
                                        uint16_t *out_param2);

/* Info: 07 30 mode p2lo p2hi crc crc -> 4 bytes. */
HK_NODISCARD hk_result hk_atecc608_cmd_info(hk_atecc608_cmd *cmd, uint8_t mode, uint16_t param2);
/* Read: 07 02 zone|0x80(32 B) addr_lo addr_hi crc crc -> 4 or 32 bytes. */
HK_NODISCARD hk_result hk_atecc608_cmd_read(hk_atecc608_cmd *cmd, hk_atecc608_zone zone,
                                            bool size32, uint16_t param2);
/* Write (clear): 0B|27 12 zone|0x80(32 B) addr_lo addr_hi data(4|32) crc crc -> status.
 * len must be 4 or 32. */
HK_NODISCARD hk_result hk_atecc608_cmd_write(hk_atecc608_cmd *cmd, hk_atecc608_zone zone,
                                             uint16_t param2, const uint8_t *data, size_t len);
/* Lock: 07 17 mode crc_lo crc_hi crc crc -> status. param1 = 0x00 config with
 * summary CRC, 0x80 config without, 0x01 data+OTP with CRC, 0x81 without,
 * 0x02|slot<<2 one slot. */
HK_NODISCARD hk_result hk_atecc608_cmd_lock(hk_atecc608_cmd *cmd, uint8_t param1,
                                            uint16_t summary_crc);
/* Random: 07 1B 00 00 00 crc crc -> 32 bytes. */
HK_NODISCARD hk_result hk_atecc608_cmd_random(hk_atecc608_cmd *cmd);
/* Nonce random: 1B 16 00 00 00 numin(20) crc crc -> RandOut (32 bytes). */
HK_NODISCARD hk_result hk_atecc608_cmd_nonce_random(hk_atecc608_cmd *cmd, const uint8_t num_in[20]);
/* Nonce pass-through: 27|47 16 03|target|0x20(64 B) 00 00 data(32|64) crc crc -> status. */
HK_NODISCARD hk_result hk_atecc608_cmd_nonce_load(hk_atecc608_cmd *cmd,
                                                  hk_atecc608_nonce_target target,
                                                  const uint8_t *data, size_t len);
/* GenKey: 07 40 04(create)|00(public) slot 00 crc crc -> X||Y (64 bytes). */
HK_NODISCARD hk_result hk_atecc608_cmd_genkey(hk_atecc608_cmd *cmd, bool create, uint16_t slot);
/* Sign external from the message-digest buffer: 07 41 A0 slot 00 crc crc -> R||S. */
HK_NODISCARD hk_result hk_atecc608_cmd_sign_external(hk_atecc608_cmd *cmd, uint16_t slot);
/* Verify external, message-digest buffer, P-256:
 * 87 45 22 04 00 R(32) S(32) X(32) Y(32) crc crc -> status (0x00 valid, 0x01 mismatch). */
HK_NODISCARD hk_result
hk_atecc608_cmd_verify_external(hk_atecc608_cmd *cmd,
                                const uint8_t signature[HK_ATECC608_SIGNATURE_SIZE],
                                const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE]);
/* ECDH, key in slot, mode 0x00 (the output follows the slot's SlotConfig; clear
 * output when ReadKey bit 3 is clear): 47 43 00 slot 00 X(32) Y(32) crc crc -> 32 bytes. */
HK_NODISCARD hk_result hk_atecc608_cmd_ecdh(hk_atecc608_cmd *cmd, uint16_t slot,
                                            const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE]);
/* SHA start: 07 47 00 00 00 crc crc -> status.
 * SHA update: 47 47 01 40 00 data(64) crc crc -> status.
 * SHA end: 07+n 47 02 n 00 data(n <= 63) crc crc -> digest (32 bytes). */
HK_NODISCARD hk_result hk_atecc608_cmd_sha_start(hk_atecc608_cmd *cmd);
HK_NODISCARD hk_result hk_atecc608_cmd_sha_update(hk_atecc608_cmd *cmd, const uint8_t block[64]);
HK_NODISCARD hk_result hk_atecc608_cmd_sha_end(hk_atecc608_cmd *cmd, const uint8_t *data,
                                               size_t len);
/* SelfTest: 07 77 tests 00 00 crc crc -> status (0x00 = passed, else failed bits). */
HK_NODISCARD hk_result hk_atecc608_cmd_selftest(hk_atecc608_cmd *cmd, uint8_t tests);
/* Counter: 07 24 00(read)|01(increment) id 00 crc crc -> value (4 bytes, LE). */
HK_NODISCARD hk_result hk_atecc608_cmd_counter(hk_atecc608_cmd *cmd, bool increment,
                                               uint16_t counter_id);

/* ---- 2. transaction ---------------------------------------------------- */

/* Decodes one output group as read from the chip. expected_len is the
 * command's resp_len. On HK_OK, *out_data and *out_data_len point into rsp at the
 * payload (none for a 4-byte 0x00 status when expected_len is 4).
 * *out_status (may be NULL) receives the status byte of a 4-byte group, or
 * 0x00 for a data group.
 * Errors: HK_ERR_SE_RESPONSE (len/count inconsistent, count neither 4 nor
 * expected_len, or a 0x00 status where data was expected), HK_ERR_SE_CRC
 * (bad CRC), HK_ERR_SE_STATUS (4-byte group with a non-zero status). */
HK_NODISCARD hk_result hk_atecc608_response_decode(const uint8_t *rsp, size_t len,
                                                   size_t expected_len, const uint8_t **out_data,
                                                   size_t *out_data_len, uint8_t *out_status);

/* Retry and timing policy of a context. hk_atecc608_init sets the defaults
 * noted here; tests and unusual buses may change them before use. */
typedef struct hk_atecc608_policy {
    uint8_t attempts;          /* command attempts per transaction (4) */
    uint8_t wake_tries;        /* wake pulses per attempt (20) */
    uint8_t send_nack_tries;   /* NACKed sends retried per attempt (20) */
    uint16_t wake_delay_us;    /* tWHI wait after the wake pulse (1500) */
    uint16_t poll_first_us;    /* wait after sending before the first poll (1000) */
    uint16_t poll_every_us;    /* wait between polls (2000) */
    uint16_t poll_extra_ms;    /* polling continues this long past exec_ms (50) */
    uint16_t awake_max_ms;     /* a held sequence stays awake this long after a wake (1000) */
} hk_atecc608_policy;

/* Counters of what the transactions had to do (for tests and diagnostics). */
typedef struct hk_atecc608_stats {
    uint32_t transactions;
    uint32_t wakes;       /* wake pulses sent */
    uint32_t resends;     /* commands sent again after a failure */
    uint32_t crc_errors;  /* response groups that failed their CRC */
    uint32_t nacks;       /* NACKed writes or reads */
} hk_atecc608_stats;

typedef struct hk_atecc608 {
    hk_atecc608_policy policy;
    hk_atecc608_stats stats;
    struct {
        hk_i2c i2c;
        uint8_t addr7;
        uint8_t clock_mode; /* 0 = M0, 1 = M1, 2 = M2 */
        bool awake;
        bool rng_fresh;    /* a Random ran since the chip last slept (hk_atecc608_sign_digest) */
        uint8_t hold;      /* hk_atecc608_hold depth: stay awake between commands */
        uint32_t awake_us; /* the driver's waits since the last wake (the watchdog's view) */
        uint32_t reruns;   /* commands sent again although the first may have run */
    } _internal;
} hk_atecc608;

/* Prepares a context for the chip at 7-bit address addr7 (usually
 * HK_ATECC608_ADDR_DEFAULT) behind i2c (copied). Does no I/O. */
HK_NODISCARD hk_result hk_atecc608_init(hk_atecc608 *dev, const hk_i2c *i2c, uint8_t addr7);

/* Selects the execution-time table (ChipMode clock divider): 0, 1 or 2. */
HK_NODISCARD hk_result hk_atecc608_set_clock_mode(hk_atecc608 *dev, unsigned clock_mode);

/* One command: wakes the chip if needed (pulse, tWHI, expects 04 11 33 43),
 * sends the group with word address 0x03, waits, polls (word address 0x00,
 * read the count, read the rest) while the chip NACKs until exec_ms +
 * poll_extra_ms, checks the CRC and the status, then sends idle or sleep.
 * A response that fails its CRC is read again once, then the command is sent
 * again; a status 0xFF (the chip saw a bad CRC), 0x11 (the chip had not
 * received the command) or 0xEE (watchdog; the chip is idled and woken
 * first) also sends the command again, at most policy.attempts times in all.
 * A wake answered with NACK is pulsed again (an awake chip ignores the
 * pulse, so idle state survives); wrong wake bytes are read once more, and
 * only then is the chip put to sleep before the next pulse.
 * On HK_OK, the payload (data bytes without count and CRC; none for a
 * status-only reply) is copied to out (cap bytes) and its length stored in
 * *out_len. out may be NULL when cap is 0.
 * Errors: HK_ERR_SE_WAKE (no valid wake response), HK_ERR_SE_NO_RESPONSE
 * (NACKs beyond the budget), HK_ERR_SE_CRC, HK_ERR_SE_RESPONSE,
 * HK_ERR_SE_STATUS (*out_status, which may be NULL, holds the byte),
 * HK_ERR_BUFFER_TOO_SMALL (payload larger than cap; nothing written),
 * HK_ERR_IO (bus error from the port; not retried). */
HK_NODISCARD hk_result hk_atecc608_execute(hk_atecc608 *dev, const hk_atecc608_cmd *cmd,
                                           hk_atecc608_after after, uint8_t *out, size_t cap,
                                           size_t *out_len, uint8_t *out_status);

/* Wakes the chip and sends sleep (word address 0x01): the chip loses
 * TempKey and its buffers and draws the least power. */
HK_NODISCARD hk_result hk_atecc608_sleep(hk_atecc608 *dev);

/* Awake sequences. Between hk_atecc608_hold and the matching
 * hk_atecc608_release the transaction leaves the chip awake after each
 * command instead of idling it, so a sequence of commands costs one wake
 * (tWHI, 1.5 ms) instead of one per command. The watchdog (about 1.3 s
 * after a wake, reference §1.5) bounds it: a command is sent in the same
 * wake only while the driver's waits since that wake plus the command's
 * maximum execution time stay within policy.awake_max_ms (1000: the
 * margin covers bus transfers and CPU time between commands, which the
 * driver does not count); otherwise the chip is idled and woken again
 * first. Only the caller knows when its sequence ends, and time outside
 * the driver (network waits) is not counted, so hold only around
 * commands that follow each other directly. Holds nest; the outermost
 * release idles the chip (HK_OK when it was not awake; otherwise the
 * result of sending the idle word). A command asked to sleep afterwards
 * still sleeps. The driver's own sequences hold the chip themselves:
 * hk_atecc608_read_config, _read_slot, _write_slot and _sign_digest are
 * each one awake sequence. hold returns HK_OK (HK_ERR_INVALID_ARG past 255 levels). */
HK_NODISCARD hk_result hk_atecc608_hold(hk_atecc608 *dev);
HK_NODISCARD hk_result hk_atecc608_release(hk_atecc608 *dev);

/* ---- 3. commands --------------------------------------------------------
 * Every command below idles the chip afterwards and takes an optional
 * out_status (may be NULL) filled as described above. */

/* Info mode 0: revision, 4 bytes (00 00 60 02 on an ATECC608A, 00 00 60 03
 * on an ATECC608B; hk_atecc608_part_of names the part). */
HK_NODISCARD hk_result hk_atecc608_info(hk_atecc608 *dev, uint8_t mode, uint16_t param2,
                                        uint8_t out[4], uint8_t *out_status);
/* One 4- or 32-byte Read at a param2 address (see hk_atecc608_addr). */
HK_NODISCARD hk_result hk_atecc608_read(hk_atecc608 *dev, hk_atecc608_zone zone, uint16_t param2,
                                        uint8_t *out, size_t len, uint8_t *out_status);
/* One clear 4- or 32-byte Write at a param2 address. */
HK_NODISCARD hk_result hk_atecc608_write(hk_atecc608 *dev, hk_atecc608_zone zone, uint16_t param2,
                                         const uint8_t *data, size_t len, uint8_t *out_status);
/* Lock with explicit param1 / summary CRC (see hk_atecc608_cmd_lock). */
HK_NODISCARD hk_result hk_atecc608_lock(hk_atecc608 *dev, uint8_t param1, uint16_t summary_crc,
                                        uint8_t *out_status);
/* Locks the config zone, checking that its 128 bytes are config (as read by
 * the caller: the CRC is computed over them). */
HK_NODISCARD hk_result hk_atecc608_lock_config(hk_atecc608 *dev,
                                               const uint8_t config[HK_ATECC608_CONFIG_SIZE],
                                               uint8_t *out_status);
/* Locks the data and OTP zones without a summary CRC. */
HK_NODISCARD hk_result hk_atecc608_lock_data(hk_atecc608 *dev, uint8_t *out_status);
/* Locks one slot (KeyConfig.Lockable must be set). */
HK_NODISCARD hk_result hk_atecc608_lock_slot(hk_atecc608 *dev, uint8_t slot, uint8_t *out_status);
/* Random: 32 bytes (the fixed pattern FF FF 00 00... before the config lock). */
HK_NODISCARD hk_result hk_atecc608_random(hk_atecc608 *dev, uint8_t out[32], uint8_t *out_status);
/* Nonce random mode 0 with NumIn (20 bytes): RandOut (32 bytes) in out;
 * TempKey becomes SHA-256(RandOut || NumIn || 16 00 00). */
HK_NODISCARD hk_result hk_atecc608_nonce_random(hk_atecc608 *dev, const uint8_t num_in[20],
                                                uint8_t out[32], uint8_t *out_status);
/* Nonce pass-through of 32 or 64 bytes into TempKey, the message-digest
 * buffer or the alternate key buffer. */
HK_NODISCARD hk_result hk_atecc608_nonce_load(hk_atecc608 *dev, hk_atecc608_nonce_target target,
                                              const uint8_t *data, size_t len, uint8_t *out_status);
/* GenKey: create a new private key in slot (create) or compute the public
 * key of the one there; out_pubkey gets X || Y. */
HK_NODISCARD hk_result hk_atecc608_genkey(hk_atecc608 *dev, bool create, uint8_t slot,
                                          uint8_t out_pubkey[HK_ATECC608_PUBKEY_SIZE],
                                          uint8_t *out_status);
/* Signs a 32-byte digest with the key in slot the way a 608 requires:
 * Random (reseeds the RNG), Nonce pass-through to the message-digest buffer,
 * Sign 0xA0. The Random is left out when one already ran since the chip
 * last slept (idle keeps the RNG state, reference §1.4): the condition
 * Microchip's library makes sure of with it holds then. If the chip
 * refuses such a Sign, the sequence runs again with the Random. out_rs
 * gets R || S. Exactly one Sign command runs unless the bus forces a
 * retry or the chip refuses it. */
HK_NODISCARD hk_result hk_atecc608_sign_digest(hk_atecc608 *dev, uint8_t slot,
                                               const uint8_t digest[32],
                                               uint8_t out_rs[HK_ATECC608_SIGNATURE_SIZE],
                                               uint8_t *out_status);
/* Verifies R || S over a digest with an external P-256 public key: Nonce
 * pass-through to the message-digest buffer, then Verify 0x22 key type 4.
 * HK_OK = valid, HK_ERR_SE_VERIFY = mismatch, HK_ERR_SE_STATUS 0x0F = the
 * key is not on the curve. */
HK_NODISCARD hk_result
hk_atecc608_verify_digest(hk_atecc608 *dev, const uint8_t digest[32],
                          const uint8_t signature[HK_ATECC608_SIGNATURE_SIZE],
                          const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE], uint8_t *out_status);
/* ECDH with the private key in slot and a peer public key X || Y; the shared
 * secret (x-coordinate, 32 bytes) is returned in clear. */
HK_NODISCARD hk_result hk_atecc608_ecdh(hk_atecc608 *dev, uint8_t slot,
                                        const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE],
                                        uint8_t out_secret[32], uint8_t *out_status);
/* SHA-256 on the chip: start, update (64-byte blocks), end (0..63 bytes,
 * digest out). Between the calls the chip must only idle. */
HK_NODISCARD hk_result hk_atecc608_sha_start(hk_atecc608 *dev, uint8_t *out_status);
HK_NODISCARD hk_result hk_atecc608_sha_update(hk_atecc608 *dev, const uint8_t block[64],
                                              uint8_t *out_status);
HK_NODISCARD hk_result hk_atecc608_sha_end(hk_atecc608 *dev, const uint8_t *data, size_t len,
                                           uint8_t out_digest[32], uint8_t *out_status);
/* Whole-message convenience over start/update/end. */
HK_NODISCARD hk_result hk_atecc608_sha256(hk_atecc608 *dev, const uint8_t *data, size_t len,
                                          uint8_t out_digest[32], uint8_t *out_status);
/* SelfTest of the tests in the bitmap: HK_OK when all passed, otherwise
 * HK_ERR_SE_STATUS with *out_status = the chip's answer (failed bits). */
HK_NODISCARD hk_result hk_atecc608_selftest(hk_atecc608 *dev, uint8_t tests, uint8_t *out_status);
/* Counter 0 or 1: read, or increment and read. */
HK_NODISCARD hk_result hk_atecc608_counter(hk_atecc608 *dev, uint8_t counter_id, bool increment,
                                           uint32_t *out_value, uint8_t *out_status);

/* Size of a data slot in bytes: 36 (0-7), 416 (8), 72 (9-15); 0 otherwise. */
size_t hk_atecc608_slot_size(uint8_t slot);

/* The whole config zone (four 32-byte reads). */
HK_NODISCARD hk_result hk_atecc608_read_config(hk_atecc608 *dev,
                                               uint8_t out[HK_ATECC608_CONFIG_SIZE],
                                               uint8_t *out_status);
/* The 32-byte blocks of the config zone whose bits are set in blocks (bit n
 * = bytes 32n..32n+31), one Read each in one awake sequence; the bytes of
 * the other blocks are set to zero. hk_atecc608_config_check_raw and the
 * serial number need blocks 0, 2 and 3 (HK_ATECC608_CONFIG_BLOCKS_CHECK):
 * block 1 holds SlotConfig 6-15 and Counter0, which neither looks at. */
#define HK_ATECC608_CONFIG_BLOCKS_CHECK 0xDu
HK_NODISCARD hk_result hk_atecc608_read_config_blocks(hk_atecc608 *dev,
                                                      uint8_t out[HK_ATECC608_CONFIG_SIZE],
                                                      unsigned blocks, uint8_t *out_status);
/* len bytes at offset of a data slot: one 32-byte Read per block, also for
 * the short last block of a slot (the chip answers with the slot's bytes
 * first). The data zone must be locked. */
HK_NODISCARD hk_result hk_atecc608_read_slot(hk_atecc608 *dev, uint8_t slot, size_t offset,
                                             uint8_t *out, size_t len, uint8_t *out_status);
/* len bytes at offset of a data slot, block by block in ascending order.
 * A whole 32-byte block takes one 32-byte Write. Part of a full block is
 * written with 4-byte Writes, so no byte outside [offset, offset + len) is
 * rewritten except inside the first and last 4-byte words (read first and
 * written back with their current values): word-aligned ranges that share a
 * block never touch each other. The chip accepts 4-byte data Writes only
 * after the data lock. The short last block of a slot (slots 0-7 and 9-15)
 * is read, patched and written with one padded 32-byte Write. A failure part
 * way leaves the words and blocks already written changed. */
HK_NODISCARD hk_result hk_atecc608_write_slot(hk_atecc608 *dev, uint8_t slot, size_t offset,
                                              const uint8_t *data, size_t len, uint8_t *out_status);

/* ---- config zone decoding and the safety check -------------------------- */

typedef struct hk_atecc608_slot_config {
    uint16_t slot_config; /* raw SlotConfig */
    uint16_t key_config;  /* raw KeyConfig */
    uint8_t read_key;     /* SlotConfig 3..0 (for private keys: 1 ext sign, 2 int sign, 4 ECDH) */
    uint8_t write_key;    /* SlotConfig 11..8 */
    uint8_t write_config; /* SlotConfig 15..12 */
    uint8_t key_type;     /* KeyConfig 4..2 (4 = P-256) */
    uint8_t auth_key;     /* KeyConfig 11..8 */
    bool no_mac, limited_use, encrypt_read, is_secret;     /* SlotConfig 4, 5, 6, 7 */
    bool private_key, pub_info, lockable, req_random;      /* KeyConfig 0, 1, 5, 6 */
    bool req_auth, persistent_disable;                     /* KeyConfig 7, 12 */
    bool locked;                                           /* SlotLocked bit clear */
} hk_atecc608_slot_config;

typedef struct hk_atecc608_config {
    uint8_t serial[HK_ATECC608_SERIAL_SIZE]; /* bytes 0..3 then 8..12 */
    uint8_t revision[4];                     /* bytes 4..7 */
    uint8_t i2c_address7;                    /* byte 16 bits 7..1 */
    uint8_t chip_mode;                       /* byte 19 */
    uint8_t clock_mode;                      /* 0/1/2 from ChipMode 7..3, 0xFF unknown */
    bool i2c_enabled;                        /* byte 14 bit 0 */
    bool config_locked;                      /* byte 87 != 0x55 */
    bool data_locked;                        /* byte 86 != 0x55 */
    uint16_t slot_locked;                    /* bytes 88..89 raw (bit n 0 = locked) */
    uint16_t chip_options;                   /* bytes 90..91 */
    hk_atecc608_slot_config slots[HK_ATECC608_SLOTS];
} hk_atecc608_config;

/* Decodes a 128-byte config zone. Never fails on any byte values. */
HK_NODISCARD hk_result hk_atecc608_config_decode(const uint8_t raw[HK_ATECC608_CONFIG_SIZE],
                                                 hk_atecc608_config *out);

/* Why a chip is refused. */
typedef enum hk_atecc608_problem {
    HK_ATECC608_PROBLEM_NONE = 0,
    HK_ATECC608_PROBLEM_CONFIG_UNLOCKED,  /* HK_ERR_SE_UNLOCKED */
    HK_ATECC608_PROBLEM_DATA_UNLOCKED,    /* HK_ERR_SE_UNLOCKED */
    HK_ATECC608_PROBLEM_KEY_NOT_P256,     /* HK_ERR_SE_CONFIG: not a P-256 private key */
    HK_ATECC608_PROBLEM_KEY_READABLE,     /* HK_ERR_SE_KEY_EXPOSED: IsSecret clear */
    HK_ATECC608_PROBLEM_KEY_ENCRYPT_READ, /* HK_ERR_SE_KEY_EXPOSED: EncryptRead set */
    HK_ATECC608_PROBLEM_KEY_WRITABLE,     /* HK_ERR_SE_KEY_EXPOSED: PrivWrite allowed */
    HK_ATECC608_PROBLEM_KEY_NO_SIGN       /* HK_ERR_SE_CONFIG: external sign not allowed */
} hk_atecc608_problem;

/* Checks that the chip may hold this device's identity with its private key
 * in key_slot: config and data zones locked; the slot holds a P-256 private
 * key that is secret (IsSecret set, EncryptRead clear), cannot be written from
 * outside (PrivWrite not allowed; Write never writes private keys) and can
 * sign external digests. Returns HK_OK, or the result noted at the problem
 * with *out_problem (may be NULL) naming it; the first problem found wins. */
HK_NODISCARD hk_result hk_atecc608_config_check(const hk_atecc608_config *cfg, uint8_t key_slot,
                                                hk_atecc608_problem *out_problem);

/* The same check on the raw 128-byte config zone, without decoding it (what
 * hk_se_atecc608_open uses). */
HK_NODISCARD hk_result hk_atecc608_config_check_raw(const uint8_t raw[HK_ATECC608_CONFIG_SIZE],
                                                    uint8_t key_slot,
                                                    hk_atecc608_problem *out_problem);

/* The clock divider of a raw config zone: 0, 1 or 2 from ChipMode bits 7..3,
 * 0xFF when they hold none of the three (as hk_atecc608_config.clock_mode). */
uint8_t hk_atecc608_config_clock_mode(const uint8_t raw[HK_ATECC608_CONFIG_SIZE]);

/* Which ATECC608 a revision number names (Info mode 0, or config bytes
 * 4..7): byte 2 is the device family (0x60 = ATECC608), byte 3 the silicon
 * revision, 0x02 on an ATECC608A and 0x03 or higher on an ATECC608B
 * (Microchip says later silicon may count higher). The driver works both
 * parts the same way; nothing in it depends on the part. */
typedef enum hk_atecc608_part {
    HK_ATECC608_PART_UNKNOWN = 0, /* another family, or a 608 revision below 0x02 */
    HK_ATECC608_PART_A = 1,       /* xx xx 60 02 */
    HK_ATECC608_PART_B = 2        /* xx xx 60 03 and higher */
} hk_atecc608_part;

/* NULL gives HK_ATECC608_PART_UNKNOWN. */
hk_atecc608_part hk_atecc608_part_of(const uint8_t revision[4]);

/* "ATECC608A", "ATECC608B" or "unknown part" (static string, never NULL). */
const char *hk_atecc608_part_name(hk_atecc608_part part);

/* A one-line English description of a problem (static string, never NULL). */
const char *hk_atecc608_problem_str(hk_atecc608_problem problem);

/* ---- the secure-element interface over the chip ------------------------ */

/* Slot map (Microchip TrustFLEX compatible). */
#define HK_ATECC608_SLOT_DEVICE_KEY 0u   /* P-256 private key, secret */
#define HK_ATECC608_SLOT_RECORD 8u       /* provisioning record, 416 bytes */
#define HK_ATECC608_SLOT_DEVICE_CERT 10u /* compressed device certificate */
#define HK_ATECC608_SLOT_SIGNER_KEY 11u  /* signer public key, 72-byte padded form */
#define HK_ATECC608_SLOT_SIGNER_CERT 12u /* compressed signer certificate */
#define HK_ATECC608_SLOT_DEVICE_PUBKEY 13u /* slot 0's public key, locked (below) */

struct hk_cert_def; /* include/hubkey/cert.h */

typedef struct hk_se_atecc608 {
    struct {
        hk_atecc608 *dev;
        const struct hk_cert_def *device_def;
        const struct hk_cert_def *signer_def;
        uint8_t serial[HK_ATECC608_SERIAL_SIZE];
        uint8_t device_pubkey[HK_ATECC608_PUBKEY_SIZE];
        uint8_t signer_pubkey[HK_ATECC608_PUBKEY_SIZE];
        uint8_t compressed[2][72]; /* slots 10 and 12 (HK_CERT_COMPRESSED_SIZE) */
        uint8_t drbg[32];          /* K of the random-number generator */
        uint8_t drbg_n;            /* its next block number (0: a new K first) */
        uint8_t have_compressed;   /* bit 0: slot 10, bit 1: slot 12 */
        bool have_pubkey;
        bool have_signer_pubkey;
        bool stored_pubkey; /* slot 13 is locked: try it before GenKey */
        bool signer_template; /* hk_se_atecc608_signer_from_template */
    } _internal;
} hk_se_atecc608;

/* Opens the chip behind dev as an hk_se: reads its config zone (blocks 0, 2
 * and 3: HK_ATECC608_CONFIG_BLOCKS_CHECK),
 * refuses it with hk_atecc608_config_check's result and *out_problem (may be
 * NULL) when it is not safe for the device key in slot 0, selects the
 * execution-time table of its clock divider, and fills *out_se:
 *  - serial: the 9-byte serial number;
 *  - cert 0: the device certificate rebuilt with device_def from slot 10,
 *    the public key of slot 0 and the serial number, with the
 *    AuthorityKeyID taken from the signer key in slot 11. The public key
 *    is read from slot 13 (either stored form, hk_atecc608_pubkey_stored)
 *    when the config zone shows slot 13 locked and the bytes are a point
 *    of P-256; else (a chip provisioned without it, another tool's data)
 *    it comes from GenKey public mode. The same request reads
 *    slot 12 too, in the same wake (every TLS connection asks for both
 *    certificates; a failure there is left to the cert 1 request);
 *    cert 1: the signer certificate rebuilt with signer_def from slot 12 and
 *    the key in slot 11 (HK_ERR_NOT_FOUND when signer_def is NULL);
 *  - sign_digest: hk_atecc608_sign_digest with slot 0 (Random unless one
 *    already ran since the chip slept, Nonce, Sign);
 *  - random: SHA-256(K || block number), K from one Random at the first
 *    use and again every 256 blocks (se_atecc608.c says why);
 *  - read_data / write_data: slot 8, data_size 416; write_data writes in
 *    ascending order (see hk_atecc608_write_slot); hold: hk_atecc608_hold
 *    and _release, so a run of them is one awake sequence.
 * Every operation is one awake sequence (hk_atecc608_hold / _release).
 * Chip reads are done once per open: the device and signer public keys and
 * the two compressed certificates are kept in ctx (about 320 bytes with the DRBG state) after
 * their first successful use, so later cert calls send no command to the
 * chip; the DER is rebuilt from them on each call (CPU only). A slot
 * rewritten after open is seen after the next open.
 * dev, the definitions (and what they point into) and ctx must outlive the
 * hk_se. device_def may not be NULL. */
HK_NODISCARD hk_result hk_se_atecc608_open(hk_se_atecc608 *ctx, hk_atecc608 *dev,
                                           const struct hk_cert_def *device_def,
                                           const struct hk_cert_def *signer_def, hk_se *out_se,
                                           hk_atecc608_problem *out_problem);

/* Slot 13, the device public key X || Y (32 bytes each), in one of two
 * stored forms:
 *  - plain: X || Y in bytes 0..63, two 32-byte Reads; what hubkey-factory
 *    writes;
 *  - padded, as slot 11 and Microchip's public-key slots: 00000000 || X ||
 *    00000000 || Y, 72 bytes, three Reads; what hubkey-factory wrote
 *    before, and still writes for the one key in 2^64 whose plain form
 *    would read as padded.
 * Bytes 0..3 and 36..39 tell them apart: all zero is the padded form.
 * hk_atecc608_pubkey_stored_padded says which form the first 64 bytes
 * are; hk_atecc608_pubkey_stored decodes a whole slot image (72 bytes) to
 * X || Y and checks it is a point of P-256 (hk_cert_public_key_check's
 * result: HK_ERR_CERT_COMPRESSED for bytes that are no key, also for a
 * padded form with non-zero pad bytes; HK_ERR_CRYPTO when it could not be
 * checked); hk_atecc608_pubkey_store_form gives the form to write for a
 * key and its length (64 or 72). */
bool hk_atecc608_pubkey_stored_padded(const uint8_t first[64]);
HK_NODISCARD hk_result hk_atecc608_pubkey_stored(const uint8_t slot[72],
                                                 uint8_t out[HK_ATECC608_PUBKEY_SIZE]);
size_t hk_atecc608_pubkey_store_form(const uint8_t key[HK_ATECC608_PUBKEY_SIZE],
                                     uint8_t out[72]);

/* Option, after a successful open: the signer certificate (cert 1) is
 * signer_def's template as it stands, and the signer public key (the
 * device certificate's AuthorityKeyID, the signer certificate's key) is
 * the template's; slots 11 and 12 are never read (6 chip Reads, 30 ms at
 * the data sheet's maximum, on every boot). Only for definitions whose
 * template is the signer certificate itself, as `hubkey-factory ca init`
 * derives them (the factory writes that certificate's 72 bytes to slot 12
 * and checks they rebuild it byte for byte); the signer then comes from
 * the firmware, which must carry the certificate the CA issued: a CA that
 * re-issues its signer certificate (new dates) needs new firmware, where
 * the chip's slot 12 would follow the factory. HK_ERR_NOT_FOUND without a
 * signer_def; hk_cert_public_key's error for a template without a P-256
 * key (nothing is changed then). */
HK_NODISCARD hk_result hk_se_atecc608_signer_from_template(hk_se_atecc608 *ctx);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_ATECC608_H */
