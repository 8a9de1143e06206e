/*
 * The secure-element interface (hubkey/se.h) over an ATECC608A.
 *
 * The chip is checked once, when it is opened: a chip whose zones are
 * unlocked or whose key slot could leak is refused before anything uses it.
 *
 * What is kept after first use, and why: a boot asks for the device
 * certificate once for the identity and again, with the signer
 * certificate, for every TLS connection. Each rebuild needed a 72-byte read
 * of the certificate slot and of the signer key (4 Read commands each, one
 * wake/idle cycle per command) and, for the device certificate, a GenKey for
 * the public key. The context keeps what comes from the chip: the device
 * public key (64 bytes), the signer public key (64) and the two compressed
 * certificates (72 each), 272 bytes in all; the rebuild itself is a template
 * copy with a few fields patched and one SHA-1, done on the CPU. After the
 * first request a certificate costs no chip command at all. Keeping the
 * rebuilt DER instead would save only that CPU work and cost up to a
 * template's size per certificate (about 0.5 KiB each for the usual
 * certificates, HK_CERT_MAX_TEMPLATE at worst) in a struct that has to be
 * sized for the worst case: not worth it. Nothing here is secret: the
 * private key never leaves slot 0.
 *
 * A value is only kept once its read succeeded (the signer key once it
 * also decoded): a slot that failed to read is read again next time. The slots are written
 * by the factory before the device runs; a certificate rewritten on the
 * chip later is seen after the next hk_se_atecc608_open.
 *
 * The device public key without GenKey. GenKey in public-key mode is the
 * chip's second-slowest command of a boot (115 ms at most, as long as a
 * Sign); slot 13 holding X || Y is 2 Reads (10 ms). hubkey-factory writes
 * slot 0's public key there, reads the chain back through this code and
 * compares it with the certificate it issued, and only then locks slot
 * 13. The key is used from slot 13 only when the config zone (read at
 * open anyway) shows slot 13 locked; otherwise (chips provisioned before,
 * a slot that is not locked, a read the chip refuses) GenKey gives it, as
 * before. What this relies on: (1) a locked slot cannot be written again,
 * by anyone, so after provisioning nobody can substitute the key (an
 * unlocked slot 13 is never trusted: anything on the I2C bus could have
 * written it); (2) the factory's check before the lock, which also
 * refuses a chip that arrives with slot 13 already locked to another
 * public key; (3) TLS as the last line: a certificate with a key slot 0
 * does not hold is refused by the server, because the CA's signature over
 * it does not verify and the CertificateVerify made by slot 0 does not
 * match its key. So a wrong key in slot 13 could only make connections
 * fail, never make a server accept a key the device does not hold.
 *
 * The two stored forms (atecc608.h). The padded form (72 bytes, as slot
 * 11) was the first; its third Read only fetches Y's last 8 bytes, so the
 * factory now writes X || Y alone (64 bytes, 2 Reads). Chips written in
 * the padded form keep working: its zero words at bytes 0..3 and 36..39
 * are in the first two blocks, so the device reads those and fetches the
 * third only for that form. A plain key whose X starts and Y's bytes 4..7
 * are zero would read as padded (2^-64); the factory writes such a key
 * padded, so what it writes always reads back as itself. Either way the
 * key must be a point of P-256 (hk_cert_public_key_check): 64 bytes of
 * anything else in a locked slot 13 (another tool's data; the padded
 * form's zero words used to be the only sign) fall back to GenKey, as
 * before, instead of giving a certificate no server accepts.
 *
 * Randomness. One Random gives 32 bytes; a boot asked for 4 bytes of
 * jitter and 48 bytes of DRBG seed per TLS connection (two Randoms each),
 * and Sign ran one more: 4 commands on a warm boot, 7 cold. Now one Random
 * gives a 32-byte key K kept in the context, and the bytes asked for are
 * SHA-256(K || n) for the block number n under this K, one byte (SHA-256
 * as a pseudorandom function keyed by K: the function the certificate
 * rebuild already uses); K is replaced by a new Random every 256 blocks
 * (8 KiB), so n never repeats under one K. Its output seeds mbedTLS's
 * CTR-DRBG per TLS connection and the boot flow's jitter, the same uses
 * the chip's bytes had. Unlike the chip's output it comes from RAM: whoever
 * reads K from RAM can compute the bytes of this K's lifetime, the same
 * exposure as mbedTLS's own DRBG state and the TLS session keys next to
 * it. The Random also leaves the chip's RNG seed fresh, which lets the
 * first Sign after it leave its own Random out (hk_atecc608_sign_digest).
 *
 * Each operation is one awake sequence: the driver's own sequences (the
 * config zone, slot bytes, Random + Nonce + Sign) hold the chip awake, and
 * a certificate request holds it across its slot reads; so one wake for
 * open, for a certificate, for a signature, for a record read or write,
 * instead of one per command. hold lets a caller join operations that
 * follow each other (the boot flow's identity, Random and record read).
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "se/cert/cert_internal.h"


_Static_assert(sizeof(((hk_se_atecc608 *)0)->_internal.compressed[0]) == HK_CERT_COMPRESSED_SIZE,
               "the cached compressed certificate is HK_CERT_COMPRESSED_SIZE bytes");

static hk_result se_serial(void *vctx, uint8_t *out, size_t cap, size_t *out_len)
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL && out_len != NULL && (out != NULL || cap == 0));
    *out_len = HK_ATECC608_SERIAL_SIZE;
    if (cap < HK_ATECC608_SERIAL_SIZE)
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, ctx->_internal.serial, HK_ATECC608_SERIAL_SIZE);
    return HK_OK;
}

/* The public key of slot 0: from slot 13 when the chip vouches for it (see
 * the top of the file), else from GenKey. */
static hk_result device_pubkey(hk_se_atecc608 *ctx)
{
    hk_atecc608 *dev = ctx->_internal.dev;
    uint8_t *key = ctx->_internal.device_pubkey;
    if (ctx->_internal.stored_pubkey) {
        uint8_t stored[HK_CERT_PADDED_PUBLIC_KEY_SIZE];
        hk_result r = hk_atecc608_read_slot(dev, HK_ATECC608_SLOT_DEVICE_PUBKEY, 0, stored,
                                            HK_CERT_PUBLIC_KEY_SIZE, NULL);
        if (r == HK_OK && hk_atecc608_pubkey_stored_padded(stored))
            r = hk_atecc608_read_slot(dev, HK_ATECC608_SLOT_DEVICE_PUBKEY,
                                      HK_CERT_PUBLIC_KEY_SIZE, stored + HK_CERT_PUBLIC_KEY_SIZE,
                                      sizeof stored - HK_CERT_PUBLIC_KEY_SIZE, NULL);
        if (r == HK_OK && hk_atecc608_pubkey_stored(stored, key) == HK_OK)
            return HK_OK;
        ctx->_internal.stored_pubkey = false;
    }
    return hk_atecc608_genkey(dev, false, HK_ATECC608_SLOT_DEVICE_KEY, key, NULL);
}

bool hk_atecc608_pubkey_stored_padded(const uint8_t first[64])
{
    HK_REQUIRE(first != NULL);
    uint8_t any = 0;
    for (unsigned i = 0; i < 4; i++)
        any |= (uint8_t)(first[i] | first[36 + i]);
    return any == 0;
}

hk_result hk_atecc608_pubkey_stored(const uint8_t slot[72], uint8_t out[HK_ATECC608_PUBKEY_SIZE])
{
    HK_REQUIRE(slot != NULL && out != NULL);
    if (hk_atecc608_pubkey_stored_padded(slot))
        HK_TRY(hk_cert_public_key_unpad(slot, out));
    else
        memcpy(out, slot, HK_CERT_PUBLIC_KEY_SIZE);
    return hk_cert_public_key_check(out);
}

size_t hk_atecc608_pubkey_store_form(const uint8_t key[HK_ATECC608_PUBKEY_SIZE], uint8_t out[72])
{
    HK_REQUIRE(key != NULL && out != NULL);
    memset(out, 0, 72);
    memcpy(out, key, HK_CERT_PUBLIC_KEY_SIZE);
    if (!hk_atecc608_pubkey_stored_padded(out))
        return HK_CERT_PUBLIC_KEY_SIZE;
    memset(out, 0, 72);
    memcpy(out + 4, key, 32);
    memcpy(out + 40, key + 32, 32);
    return HK_CERT_PADDED_PUBLIC_KEY_SIZE;
}

/* The certificate: compressed slot 10 (index 0) or 12 (index 1), the
 * signer key of slot 11 as stored (00000000 || X || 00000000 || Y) and,
 * for the device certificate, the public key of slot 0, each read into the
 * context the first time and used from there. */
static hk_result cert_held(hk_se_atecc608 *ctx, unsigned index, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    const hk_cert_def *def = index == 0   ? ctx->_internal.device_def
                             : index == 1 ? ctx->_internal.signer_def
                                          : NULL;
    if (def == NULL)
        return HK_ERR_NOT_FOUND;
    if (index == 1 && ctx->_internal.signer_template) {
        *out_len = def->template_len;
        if (cap < def->template_len)
            return HK_ERR_BUFFER_TOO_SMALL;
        memcpy(out, def->template_der, def->template_len);
        return HK_OK;
    }
    hk_atecc608 *dev = ctx->_internal.dev;
    uint8_t *compressed = ctx->_internal.compressed[index];
    if ((ctx->_internal.have_compressed & (1u << index)) == 0) {
        HK_TRY(hk_atecc608_read_slot(dev, index == 0 ? HK_ATECC608_SLOT_DEVICE_CERT
                                                     : HK_ATECC608_SLOT_SIGNER_CERT,
                                     0, compressed, HK_CERT_COMPRESSED_SIZE, NULL));
        ctx->_internal.have_compressed |= (uint8_t)(1u << index);
    }
    /* Every TLS connection asks for the signer certificate after the
     * device certificate: its slot is read in this wake, not one of its
     * own (a failure is left to that request, which reads it again). */
    if (index == 0 && ctx->_internal.signer_def != NULL && !ctx->_internal.signer_template &&
        (ctx->_internal.have_compressed & 2u) == 0 &&
        hk_atecc608_read_slot(dev, HK_ATECC608_SLOT_SIGNER_CERT, 0, ctx->_internal.compressed[1],
                              HK_CERT_COMPRESSED_SIZE, NULL) == HK_OK)
        ctx->_internal.have_compressed |= 2u;
    if (!ctx->_internal.have_signer_pubkey) {
        uint8_t padded[HK_CERT_PADDED_PUBLIC_KEY_SIZE];
        HK_TRY(hk_atecc608_read_slot(dev, HK_ATECC608_SLOT_SIGNER_KEY, 0, padded, sizeof padded,
                                     NULL));
        HK_TRY(hk_cert_public_key_unpad(padded, ctx->_internal.signer_pubkey));
        ctx->_internal.have_signer_pubkey = true;
    }
    hk_cert_inputs in;
    memset(&in, 0, sizeof in);
    in.device_sn = ctx->_internal.serial;
    /* The signer certificate: the root's key is not on the chip, the
     * template keeps its bytes. */
    in.public_key = ctx->_internal.signer_pubkey;
    if (index == 0) {
        if (!ctx->_internal.have_pubkey) {
            HK_TRY(device_pubkey(ctx));
            ctx->_internal.have_pubkey = true;
        }
        in.public_key = ctx->_internal.device_pubkey;
        in.ca_public_key = ctx->_internal.signer_pubkey;
    }
    return hk_cert_rebuild(def, compressed, &in, out, cap, out_len);
}

static hk_result se_cert(void *vctx, unsigned index, uint8_t *out, size_t cap, size_t *out_len)
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL && out_len != NULL && (out != NULL || cap == 0));
    *out_len = 0;
    /* The reads of slots 10/12, 11 and 13 (or GenKey) in one wake (hold and
     * release results dropped as in the driver's own sequences). */
    hk_result_ignore(hk_atecc608_hold(ctx->_internal.dev));
    hk_result r = cert_held(ctx, index, out, cap, out_len);
    hk_result_ignore(hk_atecc608_release(ctx->_internal.dev));
    return r;
}

static hk_result se_sign(void *vctx, const uint8_t digest[HK_SE_DIGEST_SIZE],
                         uint8_t out_rs[HK_SE_SIGNATURE_SIZE])
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL);
    return hk_atecc608_sign_digest(ctx->_internal.dev, HK_ATECC608_SLOT_DEVICE_KEY, digest,
                                   out_rs, NULL);
}

/* One request of the generator described at the top: 32-byte blocks
 * SHA-256(K || n), n the block number under this K (one byte: K is
 * replaced when it wraps), K a Random from the chip at block 0. A failure
 * part way starts the count again, so the next request first takes a new
 * K and nothing handed out once comes out again. */
static hk_result drbg_request(hk_se_atecc608 *ctx, uint8_t *out, size_t len)
{
    uint8_t *k = ctx->_internal.drbg;
    uint8_t msg[32 + 1], block[32];
    hk_result r = HK_OK;
    while (r == HK_OK && len > 0) {
        uint8_t n = ctx->_internal.drbg_n++;
        if (n == 0)
            r = hk_atecc608_random(ctx->_internal.dev, k, NULL);
        memcpy(msg, k, 32);
        msg[32] = n;
        if (r == HK_OK)
            r = hk_cert_sha256(msg, sizeof msg, block);
        size_t take = len < sizeof block ? len : sizeof block;
        memcpy(out, block, take);
        out += take;
        len -= take;
    }
    if (r != HK_OK)
        ctx->_internal.drbg_n = 0;
    memset(msg, 0, sizeof msg);
    memset(block, 0, sizeof block);
    return r;
}

static hk_result se_random(void *vctx, uint8_t *out, size_t len)
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL && (out != NULL || len == 0));
    return drbg_request(ctx, out, len);
}

static hk_result se_read_data(void *vctx, size_t offset, uint8_t *out, size_t len)
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL);
    return hk_atecc608_read_slot(ctx->_internal.dev, HK_ATECC608_SLOT_RECORD, offset, out, len,
                                 NULL);
}

static hk_result se_write_data(void *vctx, size_t offset, const uint8_t *data, size_t len)
{
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    HK_REQUIRE(ctx != NULL);
    return hk_atecc608_write_slot(ctx->_internal.dev, HK_ATECC608_SLOT_RECORD, offset, data, len,
                                  NULL);
}

static void se_hold(void *vctx, bool on)
{
    /* Nothing to report: a failed idle leaves the chip to its watchdog,
     * and the next command wakes it either way. */
    hk_se_atecc608 *ctx = (hk_se_atecc608 *)vctx;
    hk_result_ignore(on ? hk_atecc608_hold(ctx->_internal.dev)
                        : hk_atecc608_release(ctx->_internal.dev));
}

hk_result hk_se_atecc608_open(hk_se_atecc608 *ctx, hk_atecc608 *dev,
                              const struct hk_cert_def *device_def,
                              const struct hk_cert_def *signer_def, hk_se *out_se,
                              hk_atecc608_problem *out_problem)
{
    HK_REQUIRE(ctx != NULL && dev != NULL && device_def != NULL && out_se != NULL);
    if (out_problem != NULL)
        *out_problem = HK_ATECC608_PROBLEM_NONE;
    memset(ctx, 0, sizeof *ctx);
    memset(out_se, 0, sizeof *out_se);
    uint8_t raw[HK_ATECC608_CONFIG_SIZE];
    /* Blocks 0, 2 and 3: what the check, the clock, the serial number and
     * SlotLocked come from (block 1 is left out: one Read less). */
    HK_TRY(hk_atecc608_read_config_blocks(dev, raw, HK_ATECC608_CONFIG_BLOCKS_CHECK, NULL));
    HK_TRY(hk_atecc608_config_check_raw(raw, HK_ATECC608_SLOT_DEVICE_KEY, out_problem));
    /* An unknown clock divider gets the slowest table: polling only waits longer. */
    uint8_t clock = hk_atecc608_config_clock_mode(raw);
    HK_TRY(hk_atecc608_set_clock_mode(dev, clock <= 2 ? clock : 2));
    ctx->_internal.dev = dev;
    ctx->_internal.device_def = device_def;
    ctx->_internal.signer_def = signer_def;
    /* The serial number: config bytes 0..3 then 8..12. */
    memcpy(ctx->_internal.serial, raw, 4);
    memcpy(ctx->_internal.serial + 4, raw + 8, 5);
    /* SlotLocked (bytes 88..89, bit n clear = slot n locked): slot 13. */
    ctx->_internal.stored_pubkey = (raw[88 + HK_ATECC608_SLOT_DEVICE_PUBKEY / 8u] &
                                    (1u << HK_ATECC608_SLOT_DEVICE_PUBKEY % 8u)) == 0;
    static const hk_se ops = {NULL,      se_serial,    se_cert,       se_sign,
                              se_random, se_read_data, se_write_data, 0, se_hold};
    *out_se = ops;
    out_se->ctx = ctx;
    out_se->data_size = hk_atecc608_slot_size(HK_ATECC608_SLOT_RECORD);
    return HK_OK;
}

/* The template is the signer certificate (the header says when that
 * holds): its key is the one slot 11 holds, its bytes what slot 12's
 * rebuild gives. */
hk_result hk_se_atecc608_signer_from_template(hk_se_atecc608 *ctx)
{
    HK_REQUIRE(ctx != NULL);
    const hk_cert_def *def = ctx->_internal.signer_def;
    if (def == NULL)
        return HK_ERR_NOT_FOUND;
    HK_TRY(hk_cert_public_key(def, def->template_der, def->template_len,
                              ctx->_internal.signer_pubkey));
    ctx->_internal.have_signer_pubkey = true;
    ctx->_internal.signer_template = true;
    return HK_OK;
}
