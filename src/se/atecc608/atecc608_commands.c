/*
 * ATECC608A commands: one group built and run each (through transact, or
 * a builder where the group needs more than opcode, params and one data
 * run), and the multi-command sequences (sign, verify, SHA, slot and
 * config helpers).
 *
 * Every command idles the chip afterwards: idle keeps TempKey and the
 * message-digest buffer, which the sequences (Nonce -> Sign, Nonce ->
 * Verify, SHA start/update/end) depend on.
 *
 * A command the transaction had to send again after its first copy may
 * already have run (dev->_internal.reruns grows) is harmless for most
 * commands; the sequences below note where it is not and what they do.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"
#include "se/atecc608/atecc608_internal.h"

/* Execute a command whose payload is `expected` bytes (0: status only,
 * which is what its resp_len says): the transaction accepts nothing but an
 * output group of exactly resp_len bytes or a 4-byte status, so on HK_OK
 * exactly `expected` bytes were written. */
static hk_result run(hk_atecc608 *dev, const hk_atecc608_cmd *cmd, uint8_t *out, size_t expected,
                     uint8_t *out_status)
{
    size_t n;
    return hk_atecc608_execute(dev, cmd, HK_ATECC608_AFTER_IDLE, out, expected, &n, out_status);
}

/* opcode, param1 and param2 of a command in one argument. */
#define HEAD(opcode, p1, p2) \
    ((uint32_t)(opcode) | (uint32_t)(p1) << 8 | (uint32_t)(p2) << 16)

/* Build and run one command (hk_atecc608_cmd_build's group) whose payload
 * is out_size bytes, 0 for a status-only answer. */
static hk_result transact(hk_atecc608 *dev, uint32_t head, const uint8_t *data, size_t data_len,
                          uint8_t *out, size_t out_size, uint8_t *out_status)
{
    hk_atecc608_cmd cmd;
    HK_TRY(hk_atecc608_cmd_build(&cmd, (uint8_t)head, (uint8_t)(head >> 8), (uint16_t)(head >> 16),
                                 data, data_len, (uint8_t)(out_size == 0 ? 4 : out_size + 3)));
    return run(dev, &cmd, out, out_size, out_status);
}

hk_result hk_atecc608_info(hk_atecc608 *dev, uint8_t mode, uint16_t param2, uint8_t out[4],
                           uint8_t *out_status)
{
    HK_REQUIRE(out != NULL);
    return transact(dev, HEAD(HK_ATECC608_OP_INFO, mode, param2), NULL, 0, out, 4, out_status);
}

hk_result hk_atecc608_read(hk_atecc608 *dev, hk_atecc608_zone zone, uint16_t param2,
                           uint8_t *out, size_t len, uint8_t *out_status)
{
    HK_REQUIRE(out != NULL && (len == 4 || len == 32) && (unsigned)zone <= 2u);
    return transact(dev, HEAD(HK_ATECC608_OP_READ, hk_atecc608_rw_param1(zone, len), param2), NULL,
                    0, out, len, out_status);
}

hk_result hk_atecc608_write(hk_atecc608 *dev, hk_atecc608_zone zone, uint16_t param2,
                            const uint8_t *data, size_t len, uint8_t *out_status)
{
    HK_REQUIRE(data != NULL && (len == 4 || len == 32) && (unsigned)zone <= 2u);
    return transact(dev, HEAD(HK_ATECC608_OP_WRITE, hk_atecc608_rw_param1(zone, len), param2),
                    data, len, NULL, 0, out_status);
}

/* Config bytes 84..91 as one 8-byte view: LockValue at [2], LockConfig at
 * [3], SlotLocked at [4..5]. */
static hk_result read_lock_bytes(hk_atecc608 *dev, uint8_t out[8])
{
    HK_TRY(hk_atecc608_read(dev, HK_ATECC608_ZONE_CONFIG, 0x15, out, 4, NULL));
    return hk_atecc608_read(dev, HK_ATECC608_ZONE_CONFIG, 0x16, out + 4, 4, NULL);
}

hk_result hk_atecc608_lock(hk_atecc608 *dev, uint8_t param1, uint16_t summary_crc,
                           uint8_t *out_status)
{
    HK_REQUIRE(dev != NULL);
    hk_atecc608_cmd cmd;
    HK_TRY(hk_atecc608_cmd_lock(&cmd, param1, summary_crc));
    uint32_t reruns = dev->_internal.reruns;
    uint8_t status = 0;
    hk_result r = run(dev, &cmd, NULL, 0, &status);
    if (out_status != NULL)
        *out_status = status;
    if (r != HK_ERR_SE_STATUS || status != HK_ATECC608_STATUS_EXECUTION ||
        reruns == dev->_internal.reruns)
        return r;
    /* "Already locked" after sending Lock twice: the first copy probably ran.
     * Believe it only if the chip shows the lock. */
    uint8_t lock[8];
    if (read_lock_bytes(dev, lock) != HK_OK)
        return r;
    bool done;
    switch (param1 & 0x03u) {
    case 0:
        done = lock[3] != 0x55;
        break;
    case 1:
        done = lock[2] != 0x55;
        break;
    default: {
        unsigned slot = (param1 >> 2) & 0x0Fu;
        uint16_t slot_locked = (uint16_t)(lock[4] | lock[5] << 8);
        done = (slot_locked & (1u << slot)) == 0;
        break;
    }
    }
    if (!done)
        return r;
    if (out_status != NULL)
        *out_status = 0;
    return HK_OK;
}

hk_result hk_atecc608_lock_config(hk_atecc608 *dev, const uint8_t config[HK_ATECC608_CONFIG_SIZE],
                                  uint8_t *out_status)
{
    HK_REQUIRE(config != NULL);
    return hk_atecc608_lock(dev, 0x00, hk_atecc608_crc16(config, HK_ATECC608_CONFIG_SIZE),
                            out_status);
}

hk_result hk_atecc608_lock_data(hk_atecc608 *dev, uint8_t *out_status)
{
    return hk_atecc608_lock(dev, 0x81, 0, out_status);
}

hk_result hk_atecc608_lock_slot(hk_atecc608 *dev, uint8_t slot, uint8_t *out_status)
{
    HK_REQUIRE(slot < HK_ATECC608_SLOTS);
    return hk_atecc608_lock(dev, (uint8_t)(0x02u | (unsigned)slot << 2), 0, out_status);
}

hk_result hk_atecc608_random(hk_atecc608 *dev, uint8_t out[32], uint8_t *out_status)
{
    HK_REQUIRE(out != NULL);
    HK_TRY(transact(dev, HEAD(HK_ATECC608_OP_RANDOM, 0, 0), NULL, 0, out, 32, out_status));
    dev->_internal.rng_fresh = true; /* mode 0 updated the seed (atecc608_io.c) */
    return HK_OK;
}

hk_result hk_atecc608_nonce_random(hk_atecc608 *dev, const uint8_t num_in[20], uint8_t out[32],
                                   uint8_t *out_status)
{
    HK_REQUIRE(out != NULL && num_in != NULL);
    return transact(dev, HEAD(HK_ATECC608_OP_NONCE, 0, 0), num_in, 20, out, 32, out_status);
}

hk_result hk_atecc608_nonce_load(hk_atecc608 *dev, hk_atecc608_nonce_target target,
                                 const uint8_t *data, size_t len, uint8_t *out_status)
{
    HK_REQUIRE(data != NULL && (len == 32 || len == 64));
    HK_REQUIRE(target == HK_ATECC608_NONCE_TEMPKEY || target == HK_ATECC608_NONCE_MSG_DIGEST ||
               target == HK_ATECC608_NONCE_ALT_KEY);
    return transact(dev, HEAD(HK_ATECC608_OP_NONCE, hk_atecc608_nonce_param1(target, len), 0),
                    data, len, NULL, 0, out_status);
}

hk_result hk_atecc608_genkey(hk_atecc608 *dev, bool create, uint8_t slot,
                             uint8_t out_pubkey[HK_ATECC608_PUBKEY_SIZE], uint8_t *out_status)
{
    HK_REQUIRE(out_pubkey != NULL && slot < HK_ATECC608_SLOTS);
    return transact(dev, HEAD(HK_ATECC608_OP_GENKEY, create ? HK_ATECC608_GENKEY_CREATE : 0, slot),
                    NULL, 0, out_pubkey, HK_ATECC608_PUBKEY_SIZE, out_status);
}

/* How many times a sequence (sign, verify, SHA) is started from the top
 * when a command in it had to be re-run. */
#define SEQUENCE_ROUNDS 3

static bool transient(hk_result r)
{
    return r == HK_ERR_SE_CRC || r == HK_ERR_SE_RESPONSE || r == HK_ERR_SE_NO_RESPONSE ||
           r == HK_ERR_SE_WAKE;
}

/* Microchip's library signs external digests on a 608 this way: Random
 * (mode 0, so the RNG seed is fresh), Nonce pass-through of the digest into
 * the message-digest buffer (param1 0x43), Sign param1 0xA0. The Random is
 * left out while one has run since the chip last slept (rng_fresh, see
 * atecc608_io.c). If the bus garbled a step badly enough that a command had
 * to be re-run, the sequence is started again from the top (a re-run Sign
 * may find the digest buffer consumed or lost to a sleep); so is a Sign
 * the chip refused without a Random of its own, this time with one. */
static hk_result sign_rounds(hk_atecc608 *dev, uint8_t slot, const uint8_t digest[32],
                             uint8_t out_rs[HK_ATECC608_SIGNATURE_SIZE], uint8_t *out_status)
{
    hk_result r = HK_ERR_SE_NO_RESPONSE;
    for (int round = 0; round < SEQUENCE_ROUNDS; round++) {
        uint32_t reruns = dev->_internal.reruns;
        bool skipped = dev->_internal.rng_fresh;
        r = HK_OK;
        if (!skipped) {
            uint8_t rnd[32];
            r = hk_atecc608_random(dev, rnd, out_status);
            memset(rnd, 0, sizeof rnd);
        }
        if (r == HK_OK)
            r = transact(dev,
                         HEAD(HK_ATECC608_OP_NONCE,
                              hk_atecc608_nonce_param1(HK_ATECC608_NONCE_MSG_DIGEST, 32), 0),
                         digest, 32, NULL, 0, out_status);
        if (r == HK_OK)
            r = transact(dev, HEAD(HK_ATECC608_OP_SIGN, HK_ATECC608_SIGN_EXTERNAL, slot), NULL, 0,
                         out_rs, HK_ATECC608_SIGNATURE_SIZE, out_status);
        if (r != HK_OK && skipped)
            dev->_internal.rng_fresh = false;
        if (r == HK_OK || (!transient(r) && reruns == dev->_internal.reruns && !skipped))
            return r;
    }
    return r;
}

/* The driver's own sequences are awake sequences (hk_atecc608_hold): their
 * commands follow each other directly. Their hold and release results are
 * dropped on purpose: hold refuses only a NULL device (which the command
 * itself then reports) or 255 nested holds; a failed idle word on release
 * leaves the chip awake until its watchdog puts it to sleep, and the
 * sequence's own result is what the caller needs. */
hk_result hk_atecc608_sign_digest(hk_atecc608 *dev, uint8_t slot, const uint8_t digest[32],
                                  uint8_t out_rs[HK_ATECC608_SIGNATURE_SIZE],
                                  uint8_t *out_status)
{
    HK_REQUIRE(dev != NULL && digest != NULL && out_rs != NULL && slot < HK_ATECC608_SLOTS);
    hk_result_ignore(hk_atecc608_hold(dev));
    hk_result r = sign_rounds(dev, slot, digest, out_rs, out_status);
    hk_result_ignore(hk_atecc608_release(dev));
    return r;
}

/* Nonce into the message-digest buffer, then Verify; restarted like
 * sign_digest when a re-run may have found the buffer gone. */
hk_result hk_atecc608_verify_digest(hk_atecc608 *dev, const uint8_t digest[32],
                                    const uint8_t signature[HK_ATECC608_SIGNATURE_SIZE],
                                    const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE],
                                    uint8_t *out_status)
{
    HK_REQUIRE(dev != NULL && digest != NULL);
    hk_atecc608_cmd cmd;
    HK_TRY(hk_atecc608_cmd_verify_external(&cmd, signature, pubkey));
    hk_result r = HK_ERR_SE_NO_RESPONSE;
    uint8_t status = 0;
    for (int round = 0; round < SEQUENCE_ROUNDS; round++) {
        uint32_t reruns = dev->_internal.reruns;
        r = hk_atecc608_nonce_load(dev, HK_ATECC608_NONCE_MSG_DIGEST, digest, 32, &status);
        if (r == HK_OK)
            r = run(dev, &cmd, NULL, 0, &status);
        if (r == HK_OK || (!transient(r) && reruns == dev->_internal.reruns))
            break;
    }
    if (out_status != NULL)
        *out_status = status;
    if (r == HK_ERR_SE_STATUS && status == HK_ATECC608_STATUS_MISCOMPARE)
        return HK_ERR_SE_VERIFY;
    return r;
}

hk_result hk_atecc608_ecdh(hk_atecc608 *dev, uint8_t slot,
                           const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE], uint8_t out_secret[32],
                           uint8_t *out_status)
{
    HK_REQUIRE(out_secret != NULL && pubkey != NULL && slot < HK_ATECC608_SLOTS);
    return transact(dev, HEAD(HK_ATECC608_OP_ECDH, 0, slot), pubkey, HK_ATECC608_PUBKEY_SIZE,
                    out_secret, 32, out_status);
}

hk_result hk_atecc608_sha_start(hk_atecc608 *dev, uint8_t *out_status)
{
    return transact(dev, HEAD(HK_ATECC608_OP_SHA, 0x00, 0), NULL, 0, NULL, 0, out_status);
}

hk_result hk_atecc608_sha_update(hk_atecc608 *dev, const uint8_t block[64], uint8_t *out_status)
{
    HK_REQUIRE(block != NULL);
    return transact(dev, HEAD(HK_ATECC608_OP_SHA, 0x01, 64), block, 64, NULL, 0, out_status);
}

hk_result hk_atecc608_sha_end(hk_atecc608 *dev, const uint8_t *data, size_t len,
                              uint8_t out_digest[32], uint8_t *out_status)
{
    HK_REQUIRE(out_digest != NULL && (data != NULL || len == 0) && len <= 63);
    return transact(dev, HEAD(HK_ATECC608_OP_SHA, 0x02, len), data, len, out_digest, 32,
                    out_status);
}

/* One pass of start, updates, end. */
static hk_result sha256_once(hk_atecc608 *dev, const uint8_t *data, size_t len,
                             uint8_t out_digest[32], uint8_t *out_status)
{
    HK_TRY(hk_atecc608_sha_start(dev, out_status));
    size_t off = 0;
    for (; len - off >= 64; off += 64)
        HK_TRY(hk_atecc608_sha_update(dev, data + off, out_status));
    return hk_atecc608_sha_end(dev, data == NULL ? NULL : data + off, len - off, out_digest,
                               out_status);
}

/* An update that ran twice would hash its block twice and give a wrong
 * digest with a good CRC, and a re-run after the chip was put to sleep finds
 * the SHA context gone; so a pass during which any command was re-run is
 * started again from the top. If that happens in every pass, the result is
 * not trusted. */
hk_result hk_atecc608_sha256(hk_atecc608 *dev, const uint8_t *data, size_t len,
                             uint8_t out_digest[32], uint8_t *out_status)
{
    HK_REQUIRE(dev != NULL && out_digest != NULL && (data != NULL || len == 0));
    hk_result r = HK_ERR_SE_NO_RESPONSE;
    for (int round = 0; round < SEQUENCE_ROUNDS; round++) {
        uint32_t reruns = dev->_internal.reruns;
        r = sha256_once(dev, data, len, out_digest, out_status);
        if (reruns == dev->_internal.reruns && (r == HK_OK || !transient(r)))
            return r;
    }
    memset(out_digest, 0, 32);
    return r == HK_OK ? HK_ERR_SE_CRC : r;
}

hk_result hk_atecc608_selftest(hk_atecc608 *dev, uint8_t tests, uint8_t *out_status)
{
    return transact(dev, HEAD(HK_ATECC608_OP_SELFTEST, tests, 0), NULL, 0, NULL, 0, out_status);
}

hk_result hk_atecc608_counter(hk_atecc608 *dev, uint8_t counter_id, bool increment,
                              uint32_t *out_value, uint8_t *out_status)
{
    HK_REQUIRE(out_value != NULL && counter_id <= 1);
    uint8_t v[4];
    HK_TRY(transact(dev, HEAD(HK_ATECC608_OP_COUNTER, increment ? 0x01 : 0x00, counter_id), NULL,
                    0, v, 4, out_status));
    *out_value = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                 (uint32_t)v[3] << 24;
    return HK_OK;
}

hk_result hk_atecc608_read_config_blocks(hk_atecc608 *dev, uint8_t out[HK_ATECC608_CONFIG_SIZE],
                                         unsigned blocks, uint8_t *out_status)
{
    HK_REQUIRE(out != NULL);
    hk_result r = HK_OK;
    hk_result_ignore(hk_atecc608_hold(dev));
    for (uint32_t block = 0; block < 4 && r == HK_OK; block++) {
        uint8_t *at = out + block * 32u;
        if ((blocks >> block & 1u) == 0)
            memset(at, 0, 32);
        else
            r = transact(dev,
                         HEAD(HK_ATECC608_OP_READ,
                              hk_atecc608_rw_param1(HK_ATECC608_ZONE_CONFIG, 32), block << 3),
                         NULL, 0, at, 32, out_status);
    }
    hk_result_ignore(hk_atecc608_release(dev));
    return r;
}

hk_result hk_atecc608_read_config(hk_atecc608 *dev, uint8_t out[HK_ATECC608_CONFIG_SIZE],
                                  uint8_t *out_status)
{
    return hk_atecc608_read_config_blocks(dev, out, 0xFu, out_status);
}

/* Slot bytes [offset, offset + len) in ascending order, one chip access per
 * step: `in` NULL reads into out, otherwise writes in.
 * Reads: every block with one 32-byte Read, the short last block of a
 * slot (4 bytes in slots 0-7, 8 in slots 9-15) too: the chip answers with
 * the slot's bytes first (Microchip's library reads a 72-byte public key
 * this way, reference §4.4); the rest of the 32 bytes is not used. One
 * Read instead of one per word: 3 Reads for a 72-byte slot instead of 4.
 * Writes: a whole 32-byte block with one 32-byte Write. Part of a full
 * block with 4-byte Writes, so bytes outside the range are never rewritten
 * (only the edge words' own bytes, with their current values, read first):
 * two records that share a block but not a word cannot both be damaged by
 * one interrupted Write, whatever the chip does with a block cut mid-way.
 * The short last block is read, patched and written with one 32-byte Write
 * padded with zeros. */
static hk_result slot_io(hk_atecc608 *dev, uint8_t slot, size_t offset, uint8_t *out,
                         const uint8_t *in, size_t len, uint8_t *out_status)
{
    size_t size = hk_atecc608_slot_size(slot);
    HK_REQUIRE(size > 0 && offset <= size && len <= size - offset);
    HK_REQUIRE(out != NULL || in != NULL || len == 0);
    while (len > 0) {
        size_t block = offset & ~(size_t)31;
        size_t block_len = size - block < 32 ? size - block : 32;
        bool full = block_len == 32;
        /* One access: `unit` bytes on the bus at slot byte `at`, holding
         * `have` bytes of the slot. */
        bool word = in != NULL && full && (offset != block || len < 32);
        size_t at = word ? offset & ~(size_t)3 : block;
        size_t unit = word ? 4 : 32;
        size_t have = word ? 4 : block_len;
        size_t skip = offset - at;
        size_t n = have - skip < len ? have - skip : len;
        /* Data address: block in bits 11..8, slot in 6..3, word in 2..0. */
        uint32_t p2 = (uint32_t)((at / 32u) << 8 | (unsigned)slot << 3 | (at % 32u) / 4u);
        uint8_t tmp[32];
        bool write = in != NULL;
        if (write) {
            memset(tmp, 0, sizeof tmp);
            if (skip != 0 || n != have)
                HK_TRY(slot_io(dev, slot, at, tmp, NULL, have, out_status));
            memcpy(tmp + skip, in, n);
            in += n;
        }
        /* One Read into tmp, or one Write of tmp. */
        HK_TRY(transact(dev,
                        HEAD(write ? HK_ATECC608_OP_WRITE : HK_ATECC608_OP_READ,
                             hk_atecc608_rw_param1(HK_ATECC608_ZONE_DATA, unit), p2),
                        write ? tmp : NULL, write ? unit : 0, write ? NULL : tmp,
                        write ? 0 : unit, out_status));
        if (!write) {
            memcpy(out, tmp + skip, n);
            out += n;
        }
        offset += n;
        len -= n;
    }
    return HK_OK;
}

/* slot_io as one awake sequence (hold and release results: see
 * hk_atecc608_sign_digest). */
static hk_result slot_io_held(hk_atecc608 *dev, uint8_t slot, size_t offset, uint8_t *out,
                              const uint8_t *in, size_t len, uint8_t *out_status)
{
    hk_result_ignore(hk_atecc608_hold(dev));
    hk_result r = slot_io(dev, slot, offset, out, in, len, out_status);
    hk_result_ignore(hk_atecc608_release(dev));
    return r;
}

hk_result hk_atecc608_read_slot(hk_atecc608 *dev, uint8_t slot, size_t offset, uint8_t *out,
                                size_t len, uint8_t *out_status)
{
    HK_REQUIRE(out != NULL || len == 0);
    return slot_io_held(dev, slot, offset, out, NULL, len, out_status);
}

hk_result hk_atecc608_write_slot(hk_atecc608 *dev, uint8_t slot, size_t offset,
                                 const uint8_t *data, size_t len, uint8_t *out_status)
{
    HK_REQUIRE(data != NULL || len == 0);
    return slot_io_held(dev, slot, offset, NULL, data, len, out_status);
}
