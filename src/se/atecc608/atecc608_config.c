/*
 * ATECC608A config-zone decoding and the "is this chip safe to use" check.
 *
 * Layout (byte offsets in the 128-byte zone): SN 0-3 and 8-12, revision
 * 4-7, I2C_Enable 14, I2C_Address 16, ChipMode 19, SlotConfig 20 + 2n,
 * LockValue 86, LockConfig 87, SlotLocked 88-89, ChipOptions 90-91,
 * KeyConfig 96 + 2n; 16-bit fields little-endian. A zone counts as locked
 * when its lock byte is anything but 0x55, as Microchip's library decides.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/atecc608.h"

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ChipMode bits 7..3: the clock divider (0x00, 0x05 or 0x0D). */
uint8_t hk_atecc608_config_clock_mode(const uint8_t raw[HK_ATECC608_CONFIG_SIZE])
{
    switch (raw[19] & 0xF8u) {
    case 0x00:
        return 0;
    case 0x28:
        return 1;
    case 0x68:
        return 2;
    default:
        return 0xFF;
    }
}

/* Accepts any 128 bytes, for example a factory-new 608A zone starting
 * 01 23 xx xx 00 00 60 02 ... EE 01 01 00 C0 00 00 01 ... with 55 55 at 86. */
hk_result hk_atecc608_config_decode(const uint8_t raw[HK_ATECC608_CONFIG_SIZE],
                                    hk_atecc608_config *out)
{
    HK_REQUIRE(raw != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    memcpy(out->serial, raw, 4);
    memcpy(out->serial + 4, raw + 8, 5);
    memcpy(out->revision, raw + 4, 4);
    out->i2c_enabled = (raw[14] & 1u) != 0;
    out->i2c_address7 = (uint8_t)(raw[16] >> 1);
    out->chip_mode = raw[19];
    out->clock_mode = hk_atecc608_config_clock_mode(raw);
    out->data_locked = raw[86] != 0x55;
    out->config_locked = raw[87] != 0x55;
    out->slot_locked = le16(raw + 88);
    out->chip_options = le16(raw + 90);
    for (unsigned n = 0; n < HK_ATECC608_SLOTS; n++) {
        hk_atecc608_slot_config *s = &out->slots[n];
        uint16_t sc = le16(raw + 20 + 2 * n);
        uint16_t kc = le16(raw + 96 + 2 * n);
        s->slot_config = sc;
        s->key_config = kc;
        s->read_key = (uint8_t)(sc & 0x0Fu);
        s->no_mac = (sc & 0x0010u) != 0;
        s->limited_use = (sc & 0x0020u) != 0;
        s->encrypt_read = (sc & 0x0040u) != 0;
        s->is_secret = (sc & 0x0080u) != 0;
        s->write_key = (uint8_t)((sc >> 8) & 0x0Fu);
        s->write_config = (uint8_t)(sc >> 12);
        s->private_key = (kc & 0x0001u) != 0;
        s->pub_info = (kc & 0x0002u) != 0;
        s->key_type = (uint8_t)((kc >> 2) & 0x07u);
        s->lockable = (kc & 0x0020u) != 0;
        s->req_random = (kc & 0x0040u) != 0;
        s->req_auth = (kc & 0x0080u) != 0;
        s->auth_key = (uint8_t)((kc >> 8) & 0x0Fu);
        s->persistent_disable = (kc & 0x1000u) != 0;
        s->locked = (out->slot_locked & (1u << n)) == 0;
    }
    return HK_OK;
}

/* The rules, and why each one:
 *  - Unlocked config: anyone can rewrite the slot policy. Unlocked data:
 *    every slot, the key slot included, can be written in clear and the key
 *    replaced by a known one.
 *  - KeyConfig must say "P-256 private key" (Private = 1, KeyType = 4):
 *    otherwise the slot is plain data under SlotConfig's read rules.
 *  - IsSecret = 0 lets Read return the slot in clear; EncryptRead = 1 lets it
 *    be read encrypted under a key the host knows. Either exposes the key.
 *  - WriteConfig bit 14 (PrivWrite allowed) lets a key chosen outside the
 *    chip be written into the slot, so the identity's key would have existed
 *    outside it. Write never writes a private-key slot, and GenKey (bit 13)
 *    only ever makes keys inside the chip, so neither is refused.
 *  - ReadKey bit 0 must allow external signatures: that is how the device
 *    signs its TLS handshake. */
/* The rules over the raw fields the decoded and the raw check share. */
static hk_result config_problem(bool config_locked, bool data_locked, uint16_t sc, uint16_t kc,
                                hk_atecc608_problem *out_problem)
{
    /* The result of each problem, in hk_atecc608_problem's order. */
    static const uint16_t result_of[] = {
        HK_OK,                 HK_ERR_SE_UNLOCKED,    HK_ERR_SE_UNLOCKED,    HK_ERR_SE_CONFIG,
        HK_ERR_SE_KEY_EXPOSED, HK_ERR_SE_KEY_EXPOSED, HK_ERR_SE_KEY_EXPOSED, HK_ERR_SE_CONFIG,
    };
    _Static_assert(HK_ATECC608_PROBLEM_KEY_NO_SIGN == 7, "one result per problem");
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    if (!config_locked)
        p = HK_ATECC608_PROBLEM_CONFIG_UNLOCKED;
    else if (!data_locked)
        p = HK_ATECC608_PROBLEM_DATA_UNLOCKED;
    else if ((kc & 0x001Du) != 0x0011u) /* Private = 1, KeyType (bits 4..2) = 4 */
        p = HK_ATECC608_PROBLEM_KEY_NOT_P256;
    else if ((sc & 0x0080u) == 0) /* IsSecret */
        p = HK_ATECC608_PROBLEM_KEY_READABLE;
    else if ((sc & 0x0040u) != 0) /* EncryptRead */
        p = HK_ATECC608_PROBLEM_KEY_ENCRYPT_READ;
    else if ((sc & 0x4000u) != 0) /* WriteConfig bit 2: PrivWrite allowed */
        p = HK_ATECC608_PROBLEM_KEY_WRITABLE;
    else if ((sc & 0x0001u) == 0) /* ReadKey bit 0: external signatures */
        p = HK_ATECC608_PROBLEM_KEY_NO_SIGN;
    if (out_problem != NULL)
        *out_problem = p;
    return (hk_result)result_of[p];
}

hk_result hk_atecc608_config_check(const hk_atecc608_config *cfg, uint8_t key_slot,
                                   hk_atecc608_problem *out_problem)
{
    HK_REQUIRE(cfg != NULL && key_slot < HK_ATECC608_SLOTS);
    const hk_atecc608_slot_config *s = &cfg->slots[key_slot];
    return config_problem(cfg->config_locked, cfg->data_locked, s->slot_config, s->key_config,
                          out_problem);
}

hk_result hk_atecc608_config_check_raw(const uint8_t raw[HK_ATECC608_CONFIG_SIZE],
                                       uint8_t key_slot, hk_atecc608_problem *out_problem)
{
    HK_REQUIRE(raw != NULL && key_slot < HK_ATECC608_SLOTS);
    return config_problem(raw[87] != 0x55, raw[86] != 0x55, le16(raw + 20 + 2 * key_slot),
                          le16(raw + 96 + 2 * key_slot), out_problem);
}

const char *hk_atecc608_problem_str(hk_atecc608_problem p)
{
    switch (p) {
    case HK_ATECC608_PROBLEM_NONE:
        return "chip configuration is safe to use";
    case HK_ATECC608_PROBLEM_CONFIG_UNLOCKED:
        return "config zone is not locked: the slot policy can still be changed";
    case HK_ATECC608_PROBLEM_DATA_UNLOCKED:
        return "data zone is not locked: the key slot can still be written in clear";
    case HK_ATECC608_PROBLEM_KEY_NOT_P256:
        return "key slot is not configured as a P-256 private key";
    case HK_ATECC608_PROBLEM_KEY_READABLE:
        return "key slot is readable: SlotConfig.IsSecret is not set";
    case HK_ATECC608_PROBLEM_KEY_ENCRYPT_READ:
        return "key slot is readable encrypted: SlotConfig.EncryptRead is set";
    case HK_ATECC608_PROBLEM_KEY_WRITABLE:
        return "key slot accepts PrivWrite: a key from outside the chip could be written";
    case HK_ATECC608_PROBLEM_KEY_NO_SIGN:
        return "key slot does not allow external signatures (SlotConfig.ReadKey bit 0)";
    }
    return "unknown problem";
}

/* `00 00 60 02` -> A, `00 00 60 03` -> B. Bytes 0..1 are not looked at: the
 * reference gives them no meaning. */
hk_atecc608_part hk_atecc608_part_of(const uint8_t revision[4])
{
    if (revision == NULL || revision[2] != 0x60u || revision[3] < 0x02u)
        return HK_ATECC608_PART_UNKNOWN;
    return revision[3] == 0x02u ? HK_ATECC608_PART_A : HK_ATECC608_PART_B;
}

const char *hk_atecc608_part_name(hk_atecc608_part part)
{
    switch (part) {
    case HK_ATECC608_PART_A:
        return "ATECC608A";
    case HK_ATECC608_PART_B:
        return "ATECC608B";
    case HK_ATECC608_PART_UNKNOWN:
        break;
    }
    return "unknown part";
}
