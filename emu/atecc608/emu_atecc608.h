/*
 * hubkey — a software ATECC608A behind the hk_i2c interface.
 *
 * The emulator models the chip at byte level: the word-address byte, the wake
 * pulse and the `04 11 33 43` wake response, sleep / idle / watchdog, NACKs
 * while busy or asleep, the CRC-16 of every group, status codes 0x00 / 0x01 /
 * 0x03 / 0x0F / 0xEE / 0xFF, the configuration / OTP / data zones with their
 * lock rules, TempKey and the message-digest buffer, P-256 keys (generated
 * inside the model; no function here returns a private key), counters, and
 * persistence in a file. docs/atecc608-emulator.md lists what is modelled,
 * what is not, the state-file format and the choices made where the chip's
 * behaviour is not publicly documented.
 *
 * Host code: the emulator allocates and may read and write files. It is not
 * thread-safe; one thread drives one emulator at a time.
 *
 * Time: the emulator has its own model clock (microseconds, starts at 0). It
 * moves only when the I2C delay_us callback or hk_emu_atecc608_advance_us()
 * is called; nothing ever sleeps for real. Busy time after a command, the
 * wake delay (tWHI) and the watchdog are all measured on this clock.
 *
 * Lifetimes: an hk_emu_atecc608 is created by hk_emu_atecc608_create(),
 * hk_emu_atecc608_load() or hk_emu_atecc608_open() and released by
 * hk_emu_atecc608_destroy(). The hk_i2c returned by hk_emu_atecc608_i2c()
 * points at the emulator and is valid until it is destroyed. No function keeps
 * a pointer to a caller buffer after it returns (paths are copied).
 */
#ifndef HUBKEY_EMU_ATECC608_H
#define HUBKEY_EMU_ATECC608_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_EMU_ATECC608_DEFAULT_ADDR7 0x60u  /* config byte 16 = 0xC0 */
#define HK_EMU_ATECC608_SERIAL_SIZE 9u       /* config bytes 0..3 then 8..12 */
#define HK_EMU_ATECC608_CONFIG_SIZE 128u
#define HK_EMU_ATECC608_OTP_SIZE 64u
#define HK_EMU_ATECC608_DATA_SIZE 1208u      /* slots 0..7: 36 B, 8: 416 B, 9..15: 72 B */
#define HK_EMU_ATECC608_SLOTS 16u
#define HK_EMU_ATECC608_TWHI_US 1500u        /* wake pulse to first transfer */
#define HK_EMU_ATECC608_WATCHDOG_SHORT_US 1300000u /* ChipMode bit 2 = 0 */
#define HK_EMU_ATECC608_WATCHDOG_LONG_US 13000000u /* ChipMode bit 2 = 1 */
#define HK_EMU_ATECC608_FILE_VERSION 1u      /* state-file format version written */
#define HK_EMU_ATECC608_FILE_SIZE 1448u      /* size of a version-1 state file */

typedef struct hk_emu_atecc608 hk_emu_atecc608; /* opaque */

/* Which part a new chip is. The two differ in the model only by their
 * revision number (config bytes 4..7, returned by Info mode 0); what else
 * differs on real parts is in docs/atecc608-emulator.md. */
typedef enum hk_emu_atecc608_part {
    HK_EMU_ATECC608_PART_A = 0, /* ATECC608A: RevNum 00 00 60 02 (the default) */
    HK_EMU_ATECC608_PART_B = 1  /* ATECC608B: RevNum 00 00 60 03 */
} hk_emu_atecc608_part;

/* Options for a new chip (create) or for a chip read from a file (load/open:
 * only the RNG and timing fields apply there; the serial number and every
 * zone come from the file). Start from hk_emu_atecc608_options_init(). */
typedef struct hk_emu_atecc608_options {
    /* Seeds the serial number (when has_serial is false) and, when
     * deterministic_rng is true, the RNG that makes keys, nonces, Random
     * output and signature nonces. Same seed, same command sequence: same
     * bytes. */
    uint64_t seed;
    bool deterministic_rng; /* false: RNG seeded from the host's entropy */
    bool has_serial;        /* true: use serial below for a new chip */
    uint8_t serial[HK_EMU_ATECC608_SERIAL_SIZE]; /* SN[0..8] */
    /* Busy time after each command as a percentage of the chip's maximum
     * execution time for that opcode (atecc608a.md §1.7, by ChipMode clock
     * divider). 100 = the table value, which a no-poll host must wait; lower
     * values let polling hosts see the chip finish early. 0 = done at once. */
    uint32_t exec_time_percent;
    /* The part a new chip is made as. Ignored by load/open of an existing
     * file: the revision is in the config zone, so the file keeps it. */
    hk_emu_atecc608_part part;
} hk_emu_atecc608_options;

/* Defaults: seed 0, deterministic_rng false, serial derived from the seed,
 * exec_time_percent 100, part HK_EMU_ATECC608_PART_A. */
void hk_emu_atecc608_options_init(hk_emu_atecc608_options *out_opts);

/* A factory-new, unlocked ATECC608A or ATECC608B (opts->part), asleep, with
 * the default configuration and zone contents described in
 * docs/atecc608-emulator.md. opts may be NULL (defaults). HK_ERR_INVALID_ARG
 * for a part that is not one of the enum's values, HK_ERR_CRYPTO if the RNG
 * cannot be seeded. */
HK_NODISCARD hk_result hk_emu_atecc608_create(const hk_emu_atecc608_options *opts,
                                              hk_emu_atecc608 **out_emu);

/* Reads a chip from a state file (format in docs/atecc608-emulator.md).
 * HK_ERR_FILE when it cannot be read, HK_ERR_MALFORMED when the file is not
 * a valid state file (bad magic, size or checksum), HK_ERR_UNSUPPORTED for an
 * unknown format version. The chip starts asleep with no volatile state. */
HK_NODISCARD hk_result hk_emu_atecc608_load(const char *path, const hk_emu_atecc608_options *opts,
                                            hk_emu_atecc608 **out_emu);

/* Writes the chip's persistent state (the EEPROM: config, OTP, data zones,
 * keys) to path by atomic replace: a temporary file in the same directory is
 * written, flushed with fsync and renamed over path, so a reader sees the old
 * or the new file, never a mix. Volatile state (TempKey, clock) is not saved.
 * An existing path that is read-only (no write permission bit at all, even
 * for root, or not writable by this process) is not replaced (EACCES).
 * HK_ERR_FILE on any I/O failure, with errno set to the reason (path is then
 * unchanged). */
HK_NODISCARD hk_result hk_emu_atecc608_save(hk_emu_atecc608 *emu, const char *path);

/* The same state-file image in memory (HK_EMU_ATECC608_FILE_SIZE bytes), for
 * embedding a prepared chip in a test or tool. save_buffer: out_len gets the
 * size; HK_ERR_BUFFER_TOO_SMALL when cap is smaller. load_buffer: same
 * results as hk_emu_atecc608_load for the contents. */
HK_NODISCARD hk_result hk_emu_atecc608_save_buffer(const hk_emu_atecc608 *emu, uint8_t *out,
                                                   size_t cap, size_t *out_len);
HK_NODISCARD hk_result hk_emu_atecc608_load_buffer(const uint8_t *buf, size_t len,
                                                   const hk_emu_atecc608_options *opts,
                                                   hk_emu_atecc608 **out_emu);

/* Load path if it exists, otherwise create a factory-new chip and save it
 * there; then turn on autosave to path. The usual call for a demo or agent
 * that wants "the same chip every run". */
HK_NODISCARD hk_result hk_emu_atecc608_open(const char *path, const hk_emu_atecc608_options *opts,
                                            hk_emu_atecc608 **out_emu);

/* Autosave: with a path, every command that changes the EEPROM (Write, Lock,
 * GenKey, Counter increment, UpdateExtra) saves the state before its response
 * becomes readable, so a process that exits at any time leaves the chip as a
 * real one would be. NULL turns autosave off. The path is copied. A failed
 * autosave is counted in counters.autosave_failures and reported by
 * hk_emu_atecc608_autosave_error (the chip keeps working: the change is in
 * the model's memory only, and lost when the process ends). */
HK_NODISCARD hk_result hk_emu_atecc608_set_autosave(hk_emu_atecc608 *emu, const char *path);

/* Whether the state file holds the chip as it is: HK_OK when the last
 * autosave worked (or none was needed since autosave was set), HK_ERR_FILE
 * when it failed, with *out_errno the system's reason (errno value, e.g.
 * EACCES; 0 with HK_OK). A caller that changed the chip checks this before
 * it reports the change as kept. HK_ERR_INVALID_ARG for NULL arguments. */
HK_NODISCARD hk_result hk_emu_atecc608_autosave_error(const hk_emu_atecc608 *emu, int *out_errno);

/* Releases everything (the key material in memory is wiped). NULL is ignored. */
void hk_emu_atecc608_destroy(hk_emu_atecc608 *emu);

/* The chip as an I2C port (hubkey/i2c.h return rules):
 *  - write(addr7, buf, len): buf[0] is the word address (0x00 reset the
 *    output pointer and drop a partial command, 0x01 sleep, 0x02 idle, 0x03
 *    command bytes follow; a command group may be split over several writes,
 *    each starting with 0x03). A write to address 0x00 is taken as a wake
 *    pulse (cryptoauthlib's way) and NACKs. Any other address NACKs.
 *  - read(addr7, buf, len): the next len bytes of the output buffer; NACK
 *    (HK_ERR_SE_NO_RESPONSE) while busy, asleep, idle, during tWHI after a
 *    wake, after a partly sent command, or by an injected fault.
 *  - wake(): the wake pulse; the chip answers after HK_EMU_ATECC608_TWHI_US.
 *  - delay_us(us): advances the model clock.
 * The address is config byte 16 bits 7..1 (or byte 85 when ChipMode bit 0 is
 * set and byte 85 is not 0), read when the chip wakes from sleep or power-up. */
hk_i2c hk_emu_atecc608_i2c(hk_emu_atecc608 *emu);

/* Model clock. */
uint64_t hk_emu_atecc608_now_us(const hk_emu_atecc608 *emu);
void hk_emu_atecc608_advance_us(hk_emu_atecc608 *emu, uint64_t us);

typedef enum hk_emu_atecc608_power_state {
    HK_EMU_ATECC608_OFF,    /* unpowered after an injected power loss */
    HK_EMU_ATECC608_ASLEEP, /* sleep (also after power-up and watchdog expiry) */
    HK_EMU_ATECC608_IDLE,
    HK_EMU_ATECC608_WAKING, /* wake pulse seen, tWHI not yet over */
    HK_EMU_ATECC608_AWAKE,  /* ready for a command or a read */
    HK_EMU_ATECC608_BUSY    /* executing a command */
} hk_emu_atecc608_power_state;

hk_emu_atecc608_power_state hk_emu_atecc608_power_state_get(hk_emu_atecc608 *emu);

/* Removes and restores power: every volatile state is lost (TempKey, message
 * digest buffer, SHA context, RNG seed state, persistent latch, a partly
 * received command), the chip is asleep, the EEPROM is kept. Also the only
 * way out of HK_EMU_ATECC608_OFF after an injected power loss. */
void hk_emu_atecc608_power_cycle(hk_emu_atecc608 *emu);

/* Fault injection. Probabilities are in parts per million and drawn from a
 * PRNG seeded with seed (independent of the chip's RNG), so a run repeats
 * exactly. hk_emu_atecc608_faults_set() replaces the whole setting and
 * restarts the write counting of the power-loss fields. */
typedef struct hk_emu_atecc608_faults {
    uint64_t seed;
    /* Each read transfer that carries response bytes has one bit flipped
     * with this probability (the output buffer itself stays intact, so a
     * re-read can succeed, as with noise on the bus). */
    uint32_t corrupt_ppm;
    /* Each executed command's response is lost with this probability: the
     * command ran (its effects stay), reads NACK until the next command,
     * sleep or idle. */
    uint32_t drop_ppm;
    /* The next nack_reads read transfers are NACKed (a burst), whatever the
     * chip's state. */
    uint32_t nack_reads;
    /* Power loss inside a multi-block write, two ways to aim it (both 0/false
     * = off). Bytes of a Write command reach the EEPROM in address order;
     * when power fails, the bytes already stored stay stored, the rest of
     * that Write keeps its old contents, no response is produced and the chip
     * is OFF until hk_emu_atecc608_power_cycle().
     *  - power_loss_at_write = n (1-based): during the n-th Write command
     *    from now, after power_loss_keep_bytes (0..32) of its bytes.
     *  - power_loss_by_bytes: once power_loss_after_bytes more bytes have
     *    been stored by Write commands (counted across commands; 0 = the
     *    next Write stores nothing). */
    uint32_t power_loss_at_write;
    uint32_t power_loss_keep_bytes;
    bool power_loss_by_bytes;
    uint32_t power_loss_after_bytes;
} hk_emu_atecc608_faults;

void hk_emu_atecc608_faults_set(hk_emu_atecc608 *emu, const hk_emu_atecc608_faults *faults);
void hk_emu_atecc608_faults_clear(hk_emu_atecc608 *emu);

/* Operation counters for tests and benchmarks. Everything counts from
 * creation/load or the last hk_emu_atecc608_counters_reset(). */
typedef struct hk_emu_atecc608_counters {
    uint64_t commands;         /* complete groups received (any outcome) */
    uint64_t by_opcode[256];   /* complete groups with a good CRC, by opcode */
    uint64_t crc_errors;       /* groups answered with status 0xFF */
    uint64_t parse_errors;     /* status 0x03 */
    uint64_t exec_errors;      /* status 0x0F */
    uint64_t watchdog_refusals; /* status 0xEE */
    uint64_t wakes;            /* wake pulses that woke the chip */
    uint64_t sleeps;           /* sleep word received */
    uint64_t idles;            /* idle word received */
    uint64_t watchdog_expiries;
    uint64_t nacks;            /* transfers NACKed for any reason */
    uint64_t signs;            /* successful Sign */
    uint64_t verifies;         /* Verify that ran (valid or mismatch) */
    uint64_t ecdhs;            /* successful ECDH */
    uint64_t genkeys;          /* successful GenKey that made a new key */
    uint64_t pubkeys;          /* successful GenKey that recomputed a public key */
    uint64_t randoms;          /* successful Random */
    uint64_t nonces;           /* successful Nonce */
    uint64_t slot_reads[HK_EMU_ATECC608_SLOTS];  /* successful Read commands per slot */
    uint64_t slot_writes[HK_EMU_ATECC608_SLOTS]; /* successful Write commands per slot */
    uint64_t config_reads, config_writes, otp_reads, otp_writes;
    uint64_t eeprom_bytes_written; /* bytes stored by Write commands */
    uint64_t faults_corrupted, faults_dropped, faults_nacked, power_losses;
    uint64_t saves;            /* state files written (explicit and autosave) */
    uint64_t autosave_failures;
} hk_emu_atecc608_counters;

void hk_emu_atecc608_counters_get(const hk_emu_atecc608 *emu,
                                  hk_emu_atecc608_counters *out_counters);
void hk_emu_atecc608_counters_reset(hk_emu_atecc608 *emu);

/* Test access to the EEPROM without going through I2C (no counters, no
 * locks checked). config_get copies the 128 config bytes. slot_peek copies
 * len bytes at offset of a data slot; it refuses (HK_ERR_STATE) a slot whose
 * KeyConfig marks a private key, so private keys stay inside the model.
 * HK_ERR_INVALID_ARG for a range outside the slot. */
void hk_emu_atecc608_config_get(const hk_emu_atecc608 *emu,
                                uint8_t out_config[HK_EMU_ATECC608_CONFIG_SIZE]);
HK_NODISCARD hk_result hk_emu_atecc608_slot_peek(const hk_emu_atecc608 *emu, unsigned slot,
                                                 size_t offset, uint8_t *out, size_t len);
/* Size of a data slot in bytes (36, 416 or 72); 0 for slot > 15. */
size_t hk_emu_atecc608_slot_size(unsigned slot);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_EMU_ATECC608_H */
