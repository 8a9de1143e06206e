/*
 * The ATECC608A's commands, decoded from the wire on their own (not with the
 * driver's builders) following atecc608a.md §4. Each handler gets a complete
 * input group whose count and CRC are already checked:
 *
 *     group = count opcode param1 param2_lo param2_hi data... crc_lo crc_hi
 *
 * and leaves the output group in emu->out. Order of checks in every handler:
 * parse errors first (length, parameter bits, addresses: 0x03, "whatever the
 * device state"), then state and policy (locks, slot configuration, TempKey:
 * 0x0F), then the work.
 *
 * Where the chip's behaviour is not publicly documented the choice made is
 * stated at the handler and collected in docs/atecc608-emulator.md.
 */
#include <string.h>

#include "emu_atecc608_cmd.h"
#include "emu_atecc608_internal.h"
#include "se/atecc608/atecc608_crc.h"

/* Opcodes (atecc608a.md §4). */
#define OP_COUNTER 0x24u
#define OP_ECDH 0x43u
#define OP_GENKEY 0x40u
#define OP_INFO 0x30u
#define OP_LOCK 0x17u
#define OP_NONCE 0x16u
#define OP_RANDOM 0x1Bu
#define OP_READ 0x02u
#define OP_SELFTEST 0x77u
#define OP_SHA 0x47u
#define OP_SIGN 0x41u
#define OP_UPDATE_EXTRA 0x20u
#define OP_VERIFY 0x45u
#define OP_WRITE 0x12u

/* One decoded command. */
typedef struct emu_cmd {
    uint8_t opcode;
    uint8_t p1;
    uint16_t p2;
    const uint8_t *data;
    size_t data_len;
} emu_cmd;

/* ---- execution times ---------------------------------------------------------- */

typedef struct exec_time {
    uint8_t opcode;
    uint16_t ms[3]; /* clock divider M0, M1, M2 */
} exec_time;

/* atecc608a.md §1.7 (maximum times, ms). */
static const exec_time exec_times[] = {
    {0x30, {5, 5, 5}},       {0x02, {5, 5, 5}},         {0x12, {45, 45, 45}},
    {0x17, {35, 35, 35}},    {0x1B, {23, 23, 23}},      {0x16, {20, 20, 20}},
    {0x40, {115, 215, 653}}, {0x41, {115, 220, 665}},   {0x45, {105, 295, 1085}},
    {0x43, {75, 172, 531}},  {0x47, {36, 42, 75}},      {0x77, {250, 625, 2324}},
    {0x24, {25, 25, 25}},    {0x20, {10, 10, 10}},
};

uint32_t emu_cmd_exec_time_us(const hk_emu_atecc608 *emu, uint8_t opcode)
{
    unsigned divider = emu->config[EMU_CFG_CHIP_MODE] >> 3;
    unsigned m = divider == 0x05 ? 1 : divider == 0x0D ? 2 : 0;
    for (size_t i = 0; i < sizeof exec_times / sizeof exec_times[0]; i++)
        if (exec_times[i].opcode == opcode)
            return exec_times[i].ms[m] * 1000u;
    return 0; /* not modelled: refused as a parse error, at once */
}

/* ---- helpers ------------------------------------------------------------------ */

static bool status(hk_emu_atecc608 *emu, uint8_t st)
{
    emu_respond_status(emu, st);
    return false;
}

static uint8_t *slot_ptr(hk_emu_atecc608 *emu, unsigned slot)
{
    return emu->data + emu_slot_offset(slot);
}

static bool slot_locked(const hk_emu_atecc608 *emu, unsigned slot)
{
    uint16_t bits = (uint16_t)(emu->config[EMU_CFG_SLOT_LOCKED] |
                               emu->config[EMU_CFG_SLOT_LOCKED + 1] << 8);
    return (bits & (1u << slot)) == 0;
}

/* An ECC private P-256 key slot: KeyConfig.Private = 1, KeyType = 4. */
static bool slot_is_p256_private(const hk_emu_atecc608 *emu, unsigned slot)
{
    uint16_t kc = emu_key_config(emu, slot);
    return (kc & 0x0001u) && ((kc >> 2) & 7u) == 4u;
}

/* Private keys are kept as the chip's PrivWrite form: 4 zero bytes, then the
 * 32-byte scalar, big-endian. */
static const uint8_t *slot_private(hk_emu_atecc608 *emu, unsigned slot)
{
    return slot_ptr(emu, slot) + 4;
}

/* Key-use policies the model does not implement: a command that would use
 * such a key is refused (0x0F) instead of running without the policy.
 *  - SlotConfig.LimitedUse: each use counts on a monotonic counter whose
 *    rules the reference does not give;
 *  - KeyConfig.ReqAuth: needs a prior authorisation (CheckMac/GenDig with
 *    AuthKey), which the model cannot give;
 *  - the key named by CountMatch (byte 18, when bit 0 is set): bound to
 *    Counter0 by rules the reference does not give;
 *  - UseLock (byte 68, any non-zero enable nibble: the reference does not
 *    give the enabling value): keys stay locked until an unlock the model
 *    cannot do;
 *  - KeyConfig.PersistentDisable is modelled: the key works only while the
 *    persistent latch (Info mode 0x04) is set. */
static bool key_use_refused(const hk_emu_atecc608 *emu, unsigned slot)
{
    uint16_t sc = emu_slot_config(emu, slot), kc = emu_key_config(emu, slot);
    uint8_t count_match = emu->config[EMU_CFG_COUNT_MATCH];
    return (sc & 0x0020u) || (kc & 0x0080u) ||
           ((count_match & 1u) && (unsigned)(count_match >> 4) == slot) ||
           (emu->config[EMU_CFG_USE_LOCK] & 0x0Fu) ||
           ((kc & 0x1000u) && !emu->persistent_latch);
}

/* Where a Read/Write address points (atecc608a.md §4.4). Returns 0 or a
 * parse-error status; *out_n is the number of bytes that exist there (less
 * than 32 when a 32-byte access runs past the end of a slot: the short last
 * block of a slot, or a Write starting at a word inside a block). Word bits
 * on a 32-byte access are taken only by a data-zone Write, the one case the
 * reference describes ("the chip still accepts a 32-byte Write whose word
 * bits are not 0 ... and stores what fits"); the access then starts at that
 * word. */
static uint8_t locate(hk_emu_atecc608 *emu, unsigned zone, bool is32, bool write, uint16_t p2,
                      uint8_t **out_p, size_t *out_n, unsigned *out_slot)
{
    unsigned word = p2 & 7u;
    if (is32 && word != 0 && !(write && zone == 2))
        return EMU_STATUS_PARSE;
    size_t off, n = is32 ? 32 : 4;
    switch (zone) {
    case 0: /* config: bits 4..3 block, 2..0 word */
        if (p2 & ~0x001Fu)
            return EMU_STATUS_PARSE;
        off = ((p2 >> 3) & 3u) * 32u + word * 4u;
        *out_p = emu->config + off;
        break;
    case 1: /* OTP: bit 3 block, 2..0 word */
        if (p2 & ~0x000Fu)
            return EMU_STATUS_PARSE;
        off = ((p2 >> 3) & 1u) * 32u + word * 4u;
        *out_p = emu->otp + off;
        break;
    case 2: { /* data: bits 6..3 slot, 11..8 block, 2..0 word */
        if (p2 & 0xF080u)
            return EMU_STATUS_PARSE;
        unsigned slot = (p2 >> 3) & 15u;
        size_t size = hk_emu_atecc608_slot_size(slot);
        off = ((p2 >> 8) & 15u) * 32u + word * 4u;
        if (off >= size || (!is32 && off + 4 > size))
            return EMU_STATUS_PARSE;
        if (is32 && off + 32 > size)
            n = size - off;
        *out_p = slot_ptr(emu, slot) + off;
        *out_slot = slot;
        break;
    }
    default:
        return EMU_STATUS_PARSE;
    }
    *out_n = n;
    return 0;
}

/* ---- Info (0x30) -------------------------------------------------------------- */
/* `07 30 00 00 00 03 5D` (revision) -> `07 00 00 60 02 80 38` */

static bool cmd_info(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    uint8_t out[4] = {0, 0, 0, 0};
    if (c->data_len != 0)
        return status(emu, EMU_STATUS_PARSE);
    switch (c->p1) {
    case 0x00: /* Revision: RevNum, config bytes 4..7 = 00 00 60 02 */
        memcpy(out, emu->config + 4, 4);
        break;
    case 0x01: { /* KeyValid: 1 when the slot holds a usable P-256 private key */
        if (c->p2 > 15)
            return status(emu, EMU_STATUS_PARSE);
        uint8_t pub[64];
        out[0] = slot_is_p256_private(emu, c->p2) &&
                         emu_crypto_pubkey(emu, slot_private(emu, c->p2), pub) == 0
                     ? 1
                     : 0;
        break;
    }
    case 0x02: /* State: byte 0 = TempKey flags (bit 7 valid, bit 4 SourceFlag) */
        out[0] = (uint8_t)((emu->tempkey.valid ? 0x80u : 0) |
                           (emu->tempkey.source_not_random ? 0x10u : 0));
        break;
    case 0x04: /* VolatileKeyPermit: param2 bit 1 = set, bit 0 = new value */
        if (c->p2 & ~0x0003u)
            return status(emu, EMU_STATUS_PARSE);
        if (c->p2 & 0x0002u) {
            if (!(emu->config[EMU_CFG_VOLATILE_KEY_PERMISSION] & 0x80u))
                return status(emu, EMU_STATUS_EXEC);
            emu->persistent_latch = (c->p2 & 1u) != 0;
        }
        out[0] = emu->persistent_latch ? 1 : 0;
        break;
    default:
        /* 0x03 (GPIO) included: the 608A has no GPIO pin. */
        return status(emu, EMU_STATUS_PARSE);
    }
    emu_respond_data(emu, out, 4);
    return false;
}

/* ---- Read (0x02) -------------------------------------------------------------- */
/* `07 02 80 00 00 09 AD` (config block 0, 32 bytes) -> `23` + 32 bytes + CRC;
 * `07 02 00 15 00 17 5D` (config bytes 84..87) -> `07 00 00 55 55` + CRC */

static bool cmd_read(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || (c->p1 & ~0x83u))
        return status(emu, EMU_STATUS_PARSE);
    unsigned zone = c->p1 & 3u;
    bool is32 = (c->p1 & 0x80u) != 0;
    uint8_t *p;
    size_t n;
    unsigned slot = 0;
    uint8_t st = locate(emu, zone, is32, false, c->p2, &p, &n, &slot);
    if (st)
        return status(emu, st);
    if (zone == 1 && !emu_data_locked(emu))
        return status(emu, EMU_STATUS_EXEC);
    if (zone == 2) {
        uint16_t sc = emu_slot_config(emu, slot);
        if (!emu_data_locked(emu))
            return status(emu, EMU_STATUS_EXEC);
        if (sc & 0x0080u) /* IsSecret */
            return status(emu, EMU_STATUS_EXEC);
        if (sc & 0x0040u) /* EncryptRead needs GenDig, which is not modelled */
            return status(emu, EMU_STATUS_EXEC);
        emu->counters.slot_reads[slot]++;
    } else if (zone == 0) {
        emu->counters.config_reads++;
    } else {
        emu->counters.otp_reads++;
    }
    /* A 32-byte read of a slot's short last block (cryptoauthlib reads
     * block 2 of a stored public key this way): the slot's remaining bytes
     * first; the chip's other bytes are not documented, the model sends
     * zeros. */
    uint8_t out[32] = {0};
    memcpy(out, p, n);
    emu_respond_data(emu, out, is32 ? 32u : 4u);
    return false;
}

/* ---- Write (0x12) ------------------------------------------------------------- */
/* `27 12 82 40 00` + 32 bytes + CRC (slot 8 block 0) -> `04 00 03 40` */

static bool cmd_write(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->p1 & ~0xC3u)
        return status(emu, EMU_STATUS_PARSE);
    unsigned zone = c->p1 & 3u;
    bool is32 = (c->p1 & 0x80u) != 0;
    bool encrypted = (c->p1 & 0x40u) != 0;
    size_t want = encrypted ? 64u : is32 ? 32u : 4u;
    if (c->data_len != want || (encrypted && (!is32 || zone != 2)))
        return status(emu, EMU_STATUS_PARSE);
    uint8_t *p;
    size_t n;
    unsigned slot = 0;
    uint8_t st = locate(emu, zone, is32, true, c->p2, &p, &n, &slot);
    if (st)
        return status(emu, st);

    if (zone == 0) {
        size_t off = (size_t)(p - emu->config);
        if (emu_config_locked(emu))
            return status(emu, EMU_STATUS_EXEC);
        /* Bytes 0..15 are factory-set; 84..87 change only by UpdateExtra and Lock. */
        if (off < 16 || (off < 88 && off + n > 84))
            return status(emu, EMU_STATUS_EXEC);
    } else {
        if (!emu_config_locked(emu))
            return status(emu, EMU_STATUS_EXEC);
        if (zone == 1 && emu_data_locked(emu))
            return status(emu, EMU_STATUS_EXEC); /* OTP is read-only once locked */
        if (zone == 2) {
            uint16_t sc = emu_slot_config(emu, slot);
            /* Private keys come only from GenKey (or PrivWrite). */
            if (emu_slot_is_private(emu, slot))
                return status(emu, EMU_STATUS_EXEC);
            if (!emu_data_locked(emu)) {
                if (!is32) /* before the data lock only 32-byte writes */
                    return status(emu, EMU_STATUS_EXEC);
                if (encrypted) /* needs a GenDig TempKey: not modelled */
                    return status(emu, EMU_STATUS_EXEC);
            } else {
                unsigned wc = (sc >> 12) & 15u;
                if (slot_locked(emu, slot))
                    return status(emu, EMU_STATUS_EXEC);
                if (!is32 && (sc & 0x0080u)) /* IsSecret: 32-byte writes only */
                    return status(emu, EMU_STATUS_EXEC);
                if (wc & 0x4u) /* Encrypt: needs a GenDig TempKey, not modelled */
                    return status(emu, EMU_STATUS_EXEC);
                /* PubInvalid (1): the chip stores the key and marks it
                 * invalid until a Verify(Validate), a flag the model does
                 * not keep (key validation is not modelled): refused
                 * rather than stored half-done. Never: 001x, 10xx. */
                if (wc != 0)
                    return status(emu, EMU_STATUS_EXEC);
                if (encrypted)
                    return status(emu, EMU_STATUS_EXEC);
            }
        }
    }
    /* A 32-byte write that runs past the slot's end (the short last block,
     * or a start at a word) stores what fits; the rest is dropped. */
    bool powered = emu_eeprom_store(emu, p, c->data, n);
    if (zone == 0)
        emu->counters.config_writes++;
    else if (zone == 1)
        emu->counters.otp_writes++;
    else
        emu->counters.slot_writes[slot]++;
    if (powered)
        emu_respond_status(emu, EMU_STATUS_OK);
    return true;
}

/* ---- Lock (0x17) -------------------------------------------------------------- */
/* `07 17 80 00 00 39 8D` (config, no CRC check) -> `04 00 03 40` */

/* Data-zone summary CRC: slots 0..15 in order, whole slots, skipping slots
 * whose KeyConfig.Private is set, then the 64 OTP bytes (our reading of
 * cryptoauthlib's description; see docs). */
static uint16_t data_zone_crc(hk_emu_atecc608 *emu)
{
    uint8_t all[HK_EMU_ATECC608_DATA_SIZE + HK_EMU_ATECC608_OTP_SIZE];
    size_t n = 0;
    for (unsigned s = 0; s < HK_EMU_ATECC608_SLOTS; s++) {
        if (emu_slot_is_private(emu, s))
            continue;
        size_t size = hk_emu_atecc608_slot_size(s);
        memcpy(all + n, slot_ptr(emu, s), size);
        n += size;
    }
    memcpy(all + n, emu->otp, sizeof emu->otp);
    n += sizeof emu->otp;
    return hk_atecc608_crc16(all, n);
}

static bool cmd_lock(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || (c->p1 & 0x40u))
        return status(emu, EMU_STATUS_PARSE);
    unsigned mode = c->p1 & 3u;
    bool check_crc = (c->p1 & 0x80u) == 0;
    switch (mode) {
    case 0: /* config zone; CRC over all 128 bytes as they are now */
        if (c->p1 & 0x3Cu)
            return status(emu, EMU_STATUS_PARSE);
        if (emu_config_locked(emu))
            return status(emu, EMU_STATUS_EXEC);
        if (check_crc && hk_atecc608_crc16(emu->config, sizeof emu->config) != c->p2)
            return status(emu, EMU_STATUS_EXEC);
        emu->config[EMU_CFG_LOCK_CONFIG] = 0x00;
        break;
    case 1: /* data + OTP */
        if (c->p1 & 0x3Cu)
            return status(emu, EMU_STATUS_PARSE);
        if (!emu_config_locked(emu) || emu_data_locked(emu))
            return status(emu, EMU_STATUS_EXEC);
        if (check_crc && data_zone_crc(emu) != c->p2)
            return status(emu, EMU_STATUS_EXEC);
        emu->config[EMU_CFG_LOCK_VALUE] = 0x00;
        break;
    case 2: { /* one slot; the summary CRC is ignored */
        unsigned slot = (c->p1 >> 2) & 15u;
        if (!emu_data_locked(emu) || !(emu_key_config(emu, slot) & 0x0020u) ||
            slot_locked(emu, slot))
            return status(emu, EMU_STATUS_EXEC);
        uint16_t bits = (uint16_t)(emu->config[EMU_CFG_SLOT_LOCKED] |
                                   emu->config[EMU_CFG_SLOT_LOCKED + 1] << 8);
        bits = (uint16_t)(bits & ~(1u << slot));
        emu->config[EMU_CFG_SLOT_LOCKED] = (uint8_t)bits;
        emu->config[EMU_CFG_SLOT_LOCKED + 1] = (uint8_t)(bits >> 8);
        break;
    }
    default:
        return status(emu, EMU_STATUS_PARSE);
    }
    emu_respond_status(emu, EMU_STATUS_OK);
    return true;
}

/* ---- Random (0x1B) ------------------------------------------------------------ */
/* `07 1B 00 00 00 24 CD` -> `23` + 32 bytes + CRC */

/* The RNG as the chip exposes it: before the config lock a fixed pattern. */
static int chip_random(hk_emu_atecc608 *emu, uint8_t out[32])
{
    if (!emu_config_locked(emu)) {
        static const uint8_t pattern[4] = {0xFF, 0xFF, 0x00, 0x00};
        for (int i = 0; i < 32; i++)
            out[i] = pattern[i % 4];
        return 0;
    }
    return emu_crypto_random(emu, out, 32);
}

static bool cmd_random(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || c->p1 > 1 || c->p2 != 0)
        return status(emu, EMU_STATUS_PARSE);
    uint8_t out[32];
    if (chip_random(emu, out) != 0)
        return status(emu, EMU_STATUS_EXEC);
    emu->counters.randoms++;
    emu_respond_data(emu, out, 32);
    return false;
}

/* ---- Nonce (0x16) ------------------------------------------------------------- */
/* `27 16 03 00 00 00 01 .. 1F 04 EE` (pass-through to TempKey) -> `04 00 03 40`;
 * `1B 16 00 00 00` + NumIn(20) + CRC (random) -> `23` + RandOut(32) + CRC */

static bool cmd_nonce(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    unsigned mode = c->p1 & 3u;
    if (mode == 0 || mode == 1) {
        /* Random: NumIn is 20 bytes. Param2 bit 15 (TempKey in the
         * calculation) is not modelled and refused. */
        if ((c->p1 & ~0x03u) || c->p2 != 0 || c->data_len != 20)
            return status(emu, EMU_STATUS_PARSE);
        uint8_t rand_out[32];
        if (chip_random(emu, rand_out) != 0)
            return status(emu, EMU_STATUS_EXEC);
        /* TempKey = SHA-256(RandOut(32) || NumIn(20) || 0x16 || mode || 0x00) */
        uint8_t msg[55];
        memcpy(msg, rand_out, 32);
        memcpy(msg + 32, c->data, 20);
        msg[52] = 0x16;
        msg[53] = c->p1;
        msg[54] = 0x00;
        memset(&emu->tempkey, 0, sizeof emu->tempkey);
        if (emu_crypto_sha256(msg, sizeof msg, emu->tempkey.value) != 0)
            return status(emu, EMU_STATUS_EXEC);
        emu->tempkey.valid = true;
        emu->tempkey.source_not_random = false;
        emu->counters.nonces++;
        emu_respond_data(emu, rand_out, 32);
        return false;
    }
    if (mode != 3)
        return status(emu, EMU_STATUS_PARSE);
    /* Pass-through: bit 5 = 64-byte input, bits 7..6 = target. */
    unsigned target = c->p1 >> 6;
    size_t n = (c->p1 & 0x20u) ? 64u : 32u;
    if ((c->p1 & 0x1Cu) || target == 3 || c->p2 != 0 || c->data_len != n ||
        (target == 2 && n != 32))
        return status(emu, EMU_STATUS_PARSE);
    if (target == 0) {
        memset(&emu->tempkey, 0, sizeof emu->tempkey);
        memcpy(emu->tempkey.value, c->data, n);
        emu->tempkey.valid = true;
        emu->tempkey.source_not_random = true;
        emu->tempkey.is_64 = n == 64;
    } else if (target == 1) {
        memset(emu->msg_digest, 0, sizeof emu->msg_digest);
        memcpy(emu->msg_digest, c->data, n);
        emu->msg_digest_valid = true;
    } else {
        memcpy(emu->alt_key, c->data, 32);
        emu->alt_key_valid = true;
    }
    emu->counters.nonces++;
    emu_respond_status(emu, EMU_STATUS_OK);
    return false;
}

/* ---- GenKey (0x40) ------------------------------------------------------------ */
/* `07 40 04 02 00 85 07` (new key in slot 2) -> `43` + X(32) Y(32) + CRC */

static bool cmd_genkey(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    /* Modelled: 0x04 create, 0x00 public. The digest modes (0x08, 0x10), the
     * MAC mode (0x20) and the TempKey target (param2 0xFFFF) are refused. */
    if (c->data_len != 0 || (c->p1 != 0x00 && c->p1 != 0x04) || c->p2 > 15)
        return status(emu, EMU_STATUS_PARSE);
    unsigned slot = c->p2;
    if (!emu_config_locked(emu) || !slot_is_p256_private(emu, slot))
        return status(emu, EMU_STATUS_EXEC);
    uint8_t pub[64];
    if (c->p1 == 0x04) {
        if (emu_data_locked(emu) &&
            (!(emu_slot_config(emu, slot) & 0x2000u) || slot_locked(emu, slot)))
            return status(emu, EMU_STATUS_EXEC);
        uint8_t key[36] = {0};
        if (emu_crypto_genkey(emu, key + 4, pub) != 0)
            return status(emu, EMU_STATUS_ECC);
        memcpy(slot_ptr(emu, slot), key, sizeof key);
        memset(key, 0, sizeof key);
        emu->counters.genkeys++;
        emu_respond_data(emu, pub, 64);
        return true;
    }
    /* The public key can be produced only when KeyConfig.PubInfo allows it. */
    if (!(emu_key_config(emu, slot) & 0x0002u))
        return status(emu, EMU_STATUS_EXEC);
    if (emu_crypto_pubkey(emu, slot_private(emu, slot), pub) != 0)
        return status(emu, EMU_STATUS_EXEC); /* the slot holds no valid key */
    emu->counters.pubkeys++;
    emu_respond_data(emu, pub, 64);
    return false;
}

/* ---- Sign (0x41) -------------------------------------------------------------- */
/* `07 41 A0 02 00 7D 05` (message-digest buffer, slot 2) -> `43` + R S + CRC */

static bool cmd_sign(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || (c->p1 & ~0xE1u) || c->p2 > 15)
        return status(emu, EMU_STATUS_PARSE);
    bool external = (c->p1 & 0x80u) != 0;
    if (external && (c->p1 & 0x41u))
        return status(emu, EMU_STATUS_PARSE); /* SN and Verify-invalidate bits are internal-only */
    unsigned slot = c->p2;
    uint16_t sc = emu_slot_config(emu, slot);
    if (!emu_data_locked(emu) || !slot_is_p256_private(emu, slot))
        return status(emu, EMU_STATUS_EXEC);
    if (!external) {
        /* Internal sign needs a TempKey made by GenDig or GenKey's digest
         * mode, neither of which is modelled: it can never run here. */
        return status(emu, EMU_STATUS_EXEC);
    }
    if (!(sc & 0x0001u) || key_use_refused(emu, slot)) /* ReadKey bit 0: external sign */
        return status(emu, EMU_STATUS_EXEC);
    const uint8_t *msg;
    if (c->p1 & 0x20u) {
        if (!emu->msg_digest_valid)
            return status(emu, EMU_STATUS_EXEC);
        msg = emu->msg_digest;
    } else {
        if (!emu->tempkey.valid)
            return status(emu, EMU_STATUS_EXEC);
        /* ReqRandom ties a TempKey-based signature to a random nonce. */
        if ((emu_key_config(emu, slot) & 0x0040u) && emu->tempkey.source_not_random)
            return status(emu, EMU_STATUS_EXEC);
        msg = emu->tempkey.value;
    }
    uint8_t rs[64];
    if (emu_crypto_sign(emu, slot_private(emu, slot), msg, rs) != 0)
        return status(emu, EMU_STATUS_EXEC); /* no valid key in the slot */
    emu->counters.signs++;
    emu_respond_data(emu, rs, 64);
    return false;
}

/* ---- Verify (0x45) ------------------------------------------------------------ */
/* `87 45 22 04 00` + R S X Y (128) + CRC (external, message-digest buffer)
 * -> `04 00 03 40` valid, `04 01` + CRC mismatch */

static bool cmd_verify(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    /* Modelled: stored (0) and external (2), message from TempKey or the
     * message digest buffer (bit 5). Validate/invalidate and the MAC output
     * (bit 7) are refused. */
    unsigned mode = c->p1 & 7u;
    if ((c->p1 & ~0x27u) || (mode != 0 && mode != 2))
        return status(emu, EMU_STATUS_PARSE);
    uint8_t pub[64];
    if (mode == 2) {
        if (c->p2 != 0x0004 || c->data_len != 128)
            return status(emu, EMU_STATUS_PARSE);
        memcpy(pub, c->data + 64, 64);
    } else {
        if (c->p2 > 15 || c->data_len != 64)
            return status(emu, EMU_STATUS_PARSE);
        unsigned slot = c->p2;
        uint16_t kc = emu_key_config(emu, slot);
        /* A public P-256 key in a slot of at least 72 bytes, stored as
         * 00000000 || X || 00000000 || Y. Keys that must be validated first
         * (PubInfo = 1) are refused: validation is not modelled. */
        if (!emu_data_locked(emu) || (kc & 0x0001u) || ((kc >> 2) & 7u) != 4u || (kc & 0x0002u) ||
            hk_emu_atecc608_slot_size(slot) < 72 || key_use_refused(emu, slot))
            return status(emu, EMU_STATUS_EXEC);
        const uint8_t *s = slot_ptr(emu, slot);
        memcpy(pub, s + 4, 32);
        memcpy(pub + 32, s + 40, 32);
    }
    const uint8_t *msg;
    if (c->p1 & 0x20u) {
        if (!emu->msg_digest_valid)
            return status(emu, EMU_STATUS_EXEC);
        msg = emu->msg_digest;
    } else {
        if (!emu->tempkey.valid)
            return status(emu, EMU_STATUS_EXEC);
        msg = emu->tempkey.value;
    }
    int v = emu_crypto_verify(emu, pub, msg, c->data);
    if (v < 0)
        return status(emu, EMU_STATUS_EXEC); /* key not on the curve */
    emu->counters.verifies++;
    return status(emu, v == 0 ? EMU_STATUS_OK : EMU_STATUS_MISCOMPARE);
}

/* ---- ECDH (0x43) -------------------------------------------------------------- */
/* `47 43 00 00 00` + X Y (64) + CRC (slot 0, clear) -> `23` + shared x + CRC */

static bool cmd_ecdh(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    /* Modelled: key from a slot (bit 0 = 0), clear output (bit 1 = 0), copy
     * modes 0x00 (compatible), 0x08 (to TempKey), 0x0C (output). The key in
     * TempKey, encrypted output and 0x04 (to a slot) are refused. */
    unsigned copy = c->p1 & 0x0Cu;
    if ((c->p1 & ~0x0Fu) || (c->p1 & 0x03u) || copy == 0x04u || c->p2 > 15 ||
        c->data_len != 64)
        return status(emu, EMU_STATUS_PARSE);
    unsigned slot = c->p2;
    uint16_t sc = emu_slot_config(emu, slot);
    if (!emu_data_locked(emu) || !slot_is_p256_private(emu, slot) || !(sc & 0x0004u) ||
        key_use_refused(emu, slot))
        return status(emu, EMU_STATUS_EXEC);
    bool to_slot = copy == 0x00u && (sc & 0x0008u);      /* ReadKey bit 3: secret to slot N|1 */
    bool clear_out = copy == 0x0Cu || (copy == 0x00u && !to_slot);
    unsigned ecdh_prot = (emu->config[EMU_CFG_CHIP_OPTIONS + 1] & 0x03u);
    if (clear_out && ecdh_prot != 0) /* ChipOptions: clear output not allowed */
        return status(emu, EMU_STATUS_EXEC);
    uint8_t x[32];
    if (emu_crypto_ecdh(emu, slot_private(emu, slot), c->data, x) != 0)
        return status(emu, EMU_STATUS_EXEC); /* peer key not on the curve / no key */
    emu->counters.ecdhs++;
    if (clear_out) {
        emu_respond_data(emu, x, 32);
        return false;
    }
    if (copy == 0x08u) {
        memset(&emu->tempkey, 0, sizeof emu->tempkey);
        memcpy(emu->tempkey.value, x, 32);
        emu->tempkey.valid = true;
        emu->tempkey.source_not_random = true;
        emu_respond_status(emu, EMU_STATUS_OK);
        return false;
    }
    unsigned target = slot | 1u;
    memcpy(slot_ptr(emu, target), x, 32);
    emu_respond_status(emu, EMU_STATUS_OK);
    return true;
}

/* ---- SHA (0x47) --------------------------------------------------------------- */
/* `07 47 00 00 00` + CRC (start) -> `04 00 03 40`; `0A 47 C2 03 00 61 62 63` +
 * CRC (end, "abc", output only) -> `23 BA 78 16 BF ..` + CRC */

static bool cmd_sha(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    /* Modelled: start, update (64 bytes), end (0..63 bytes, the chip pads),
     * targets TempKey (0x00), message digest buffer (0x40), output only
     * (0xC0). Public-key hash, HMAC and context read/write are refused. */
    unsigned mode = c->p1 & 7u, target = c->p1 & 0xC0u;
    if ((c->p1 & 0x38u) || target == 0x80u || c->p2 != c->data_len)
        return status(emu, EMU_STATUS_PARSE);
    switch (mode) {
    case 0:
        if (c->data_len != 0)
            return status(emu, EMU_STATUS_PARSE);
        if (emu_crypto_sha_start(emu) != 0)
            return status(emu, EMU_STATUS_EXEC);
        emu->sha_active = true;
        emu->sha_bytes = 0;
        emu_respond_status(emu, EMU_STATUS_OK);
        return false;
    case 1:
        if (c->data_len != 64)
            return status(emu, EMU_STATUS_PARSE);
        if (!emu->sha_active)
            return status(emu, EMU_STATUS_EXEC);
        if (emu_crypto_sha_update(emu, c->data, 64) != 0)
            return status(emu, EMU_STATUS_EXEC);
        emu->sha_bytes += 64;
        emu_respond_status(emu, EMU_STATUS_OK);
        return false;
    case 2: {
        if (c->data_len > 63)
            return status(emu, EMU_STATUS_PARSE);
        if (!emu->sha_active)
            return status(emu, EMU_STATUS_EXEC);
        uint8_t digest[32];
        if ((c->data_len && emu_crypto_sha_update(emu, c->data, c->data_len) != 0) ||
            emu_crypto_sha_finish(emu, digest) != 0)
            return status(emu, EMU_STATUS_EXEC);
        emu->sha_active = false;
        if (target == 0x00u) {
            memset(&emu->tempkey, 0, sizeof emu->tempkey);
            memcpy(emu->tempkey.value, digest, 32);
            emu->tempkey.valid = true;
            emu->tempkey.source_not_random = true;
        } else if (target == 0x40u) {
            memset(emu->msg_digest, 0, sizeof emu->msg_digest);
            memcpy(emu->msg_digest, digest, 32);
            emu->msg_digest_valid = true;
        }
        emu_respond_data(emu, digest, 32);
        return false;
    }
    default:
        return status(emu, EMU_STATUS_PARSE);
    }
}

/* ---- SelfTest (0x77) ---------------------------------------------------------- */
/* `07 77 3B 00 00` + CRC (all tests) -> `04 00 03 40`. ECDSA is selected by
 * 0x02 (cryptoauthlib up to 3.3, and the 0x3B "all" mask) or 0x04
 * (cryptoauthlib 3.6.1 and later); the reference has Microchip's tests
 * expect both to pass on a real chip. Any mix of 0x01..0x20 is accepted. */

static bool cmd_selftest(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || c->p2 != 0 || c->p1 == 0 || (c->p1 & ~0x3Fu))
        return status(emu, EMU_STATUS_PARSE);
    return status(emu, emu_crypto_selftest(emu, c->p1));
}

/* ---- Counter (0x24) ----------------------------------------------------------- */
/* `07 24 01 00 00` + CRC (increment counter 0) -> `07 01 00 00 00` + CRC */

static bool cmd_counter(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    if (c->data_len != 0 || c->p1 > 1 || c->p2 > 1)
        return status(emu, EMU_STATUS_PARSE);
    uint8_t *form = emu->config + EMU_CFG_COUNTER0 + 8u * c->p2;
    uint32_t v;
    if (!emu_counter_decode(form, &v))
        return status(emu, EMU_STATUS_EXEC);
    bool changed = false;
    if (c->p1 == 1) {
        if (v >= EMU_COUNTER_MAX)
            return status(emu, EMU_STATUS_EXEC);
        v++;
        emu_counter_encode(v, form);
        changed = true;
    }
    uint8_t out[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    emu_respond_data(emu, out, 4);
    return changed;
}

/* ---- UpdateExtra (0x20) ------------------------------------------------------- */
/* `07 20 01 C4 00` + CRC (byte 85 = 0xC4) -> `04 00 03 40` */

static bool cmd_update_extra(hk_emu_atecc608 *emu, const emu_cmd *c)
{
    /* Modes 0 (byte 84) and 1 (byte 85); mode 2 (limited-use decrement) is
     * not modelled. Each byte can be set once, while it is still 0x00. */
    if (c->data_len != 0 || c->p1 > 1 || (c->p2 & 0xFF00u))
        return status(emu, EMU_STATUS_PARSE);
    uint8_t *b = emu->config + (c->p1 == 0 ? EMU_CFG_USER_EXTRA : EMU_CFG_USER_EXTRA_ADD);
    if (*b != 0x00)
        return status(emu, EMU_STATUS_EXEC);
    *b = (uint8_t)c->p2;
    emu_respond_status(emu, EMU_STATUS_OK);
    return true;
}

/* ---- dispatch ----------------------------------------------------------------- */

bool emu_cmd_execute(hk_emu_atecc608 *emu, const uint8_t *group, size_t len)
{
    emu_cmd c;
    c.opcode = group[1];
    c.p1 = group[2];
    c.p2 = (uint16_t)(group[3] | group[4] << 8);
    c.data = group + 5;
    c.data_len = len - 7;
    switch (c.opcode) {
    case OP_INFO:
        return cmd_info(emu, &c);
    case OP_READ:
        return cmd_read(emu, &c);
    case OP_WRITE:
        return cmd_write(emu, &c);
    case OP_LOCK:
        return cmd_lock(emu, &c);
    case OP_RANDOM:
        return cmd_random(emu, &c);
    case OP_NONCE:
        return cmd_nonce(emu, &c);
    case OP_GENKEY:
        return cmd_genkey(emu, &c);
    case OP_SIGN:
        return cmd_sign(emu, &c);
    case OP_VERIFY:
        return cmd_verify(emu, &c);
    case OP_ECDH:
        return cmd_ecdh(emu, &c);
    case OP_SHA:
        return cmd_sha(emu, &c);
    case OP_SELFTEST:
        return cmd_selftest(emu, &c);
    case OP_COUNTER:
        return cmd_counter(emu, &c);
    case OP_UPDATE_EXTRA:
        return cmd_update_extra(emu, &c);
    default:
        /* Unknown opcodes, and those not modelled (CheckMac, DeriveKey,
         * GenDig, MAC, PrivWrite, KDF, AES, SecureBoot, HMAC, Pause). */
        return status(emu, EMU_STATUS_PARSE);
    }
}
