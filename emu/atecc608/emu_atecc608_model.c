/*
 * The chip model's shared helpers, below both the I/O front-end
 * (emu_atecc608.c) and the commands (emu_atecc608_cmd.c): data-zone layout,
 * config-zone fields, the counter encoding, clearing volatile state, building
 * a response group and the power-loss-aware EEPROM store. Nothing here calls
 * up into either of them.
 */
#include <string.h>

#include "emu_atecc608_internal.h"
#include "se/atecc608/atecc608_crc.h"

/* ---- layout and config helpers ------------------------------------------------ */

size_t hk_emu_atecc608_slot_size(unsigned slot)
{
    if (slot < 8)
        return 36;
    if (slot == 8)
        return 416;
    if (slot < HK_EMU_ATECC608_SLOTS)
        return 72;
    return 0;
}

size_t emu_slot_offset(unsigned slot)
{
    size_t off = 0;
    for (unsigned s = 0; s < slot && s < HK_EMU_ATECC608_SLOTS; s++)
        off += hk_emu_atecc608_slot_size(s);
    return off;
}

uint16_t emu_slot_config(const hk_emu_atecc608 *emu, unsigned slot)
{
    const uint8_t *p = &emu->config[EMU_CFG_SLOT_CONFIG + 2 * (slot & 15u)];
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint16_t emu_key_config(const hk_emu_atecc608 *emu, unsigned slot)
{
    const uint8_t *p = &emu->config[EMU_CFG_KEY_CONFIG + 2 * (slot & 15u)];
    return (uint16_t)(p[0] | (p[1] << 8));
}

bool emu_config_locked(const hk_emu_atecc608 *emu)
{
    return emu->config[EMU_CFG_LOCK_CONFIG] != 0x55;
}

bool emu_data_locked(const hk_emu_atecc608 *emu)
{
    return emu->config[EMU_CFG_LOCK_VALUE] != 0x55;
}

bool emu_slot_is_private(const hk_emu_atecc608 *emu, unsigned slot)
{
    return (emu_key_config(emu, slot) & 0x0001u) != 0;
}

/* Counter form (atecc608a.md §4.14): linA, linB, binA, binB, each 16-bit
 * big-endian. */
void emu_counter_encode(uint32_t v, uint8_t out[8])
{
    uint32_t sa = v % 32u;
    uint16_t lin_a = sa >= 16u ? 0 : (uint16_t)(0xFFFFu >> sa);
    uint16_t lin_b = 0xFFFFu, bin_a = (uint16_t)(v / 32u), bin_b = 0;
    if (v >= 16u) {
        uint32_t sb = (v - 16u) % 32u;
        lin_b = sb >= 16u ? 0 : (uint16_t)(0xFFFFu >> sb);
        bin_b = (uint16_t)((v - 16u) / 32u);
    }
    const uint16_t w[4] = {lin_a, lin_b, bin_a, bin_b};
    for (int i = 0; i < 4; i++) {
        out[2 * i] = (uint8_t)(w[i] >> 8);
        out[2 * i + 1] = (uint8_t)w[i];
    }
}

static unsigned popcount16(uint16_t x)
{
    unsigned n = 0;
    for (; x; x &= (uint16_t)(x - 1))
        n++;
    return n;
}

/* Decodes and accepts only the exact form the encoder makes: anything else
 * (a config write of arbitrary bytes) is reported as corrupt. */
bool emu_counter_decode(const uint8_t in[8], uint32_t *out_value)
{
    uint16_t lin_a = (uint16_t)(in[0] << 8 | in[1]);
    uint16_t lin_b = (uint16_t)(in[2] << 8 | in[3]);
    uint16_t bin_a = (uint16_t)(in[4] << 8 | in[5]);
    uint16_t bin_b = (uint16_t)(in[6] << 8 | in[7]);
    uint32_t v;
    if (lin_a != 0)
        v = 32u * bin_a + (16u - popcount16(lin_a));
    else
        v = 16u + 32u * bin_b + (16u - popcount16(lin_b));
    uint8_t check[8];
    emu_counter_encode(v, check);
    if (memcmp(check, in, 8) != 0)
        return false;
    *out_value = v;
    return true;
}

/* ---- volatile state ----------------------------------------------------------- */

void emu_clear_volatile_crypto(hk_emu_atecc608 *emu)
{
    memset(&emu->tempkey, 0, sizeof emu->tempkey);
    memset(emu->msg_digest, 0, sizeof emu->msg_digest);
    emu->msg_digest_valid = false;
    memset(emu->alt_key, 0, sizeof emu->alt_key);
    emu->alt_key_valid = false;
    emu->sha_active = false;
    emu->sha_bytes = 0;
}

void emu_clear_io(hk_emu_atecc608 *emu)
{
    emu->in_len = 0;
    emu->in_overrun = false;
    emu->out_len = 0;
    emu->out_pos = 0;
    emu->out_dropped = false;
}

/* ---- responses --------------------------------------------------------------- */

void emu_respond_data(hk_emu_atecc608 *emu, const uint8_t *payload, size_t len)
{
    /* count, payload, CRC-16 (low byte first) over count and payload */
    if (len + 3 > sizeof emu->out)
        len = sizeof emu->out - 3;
    emu->out[0] = (uint8_t)(len + 3);
    if (len)
        memcpy(emu->out + 1, payload, len);
    uint16_t crc = hk_atecc608_crc16(emu->out, len + 1);
    emu->out[len + 1] = (uint8_t)crc;
    emu->out[len + 2] = (uint8_t)(crc >> 8);
    emu->out_len = len + 3;
    emu->out_pos = 0;
}

void emu_respond_status(hk_emu_atecc608 *emu, uint8_t status)
{
    emu_respond_data(emu, &status, 1);
}

/* ---- EEPROM store with power-loss injection ------------------------------------ */

static void power_fail(hk_emu_atecc608 *emu)
{
    emu_clear_volatile_crypto(emu);
    emu_clear_io(emu);
    emu->persistent_latch = false;
    emu->state = HK_EMU_ATECC608_OFF;
    emu->addr_latched = false;
    emu->counters.power_losses++;
    emu->faults.power_loss_at_write = 0;
    emu->faults.power_loss_by_bytes = false;
}

bool emu_eeprom_store(hk_emu_atecc608 *emu, uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t keep = len;
    bool fail = false;
    if (emu->faults.power_loss_at_write != 0) {
        emu->writes_since_arm++;
        if (emu->writes_since_arm == emu->faults.power_loss_at_write) {
            fail = true;
            if (emu->faults.power_loss_keep_bytes < keep)
                keep = emu->faults.power_loss_keep_bytes;
        }
    }
    if (emu->faults.power_loss_by_bytes) {
        uint64_t left = emu->faults.power_loss_after_bytes > emu->bytes_since_arm
                            ? emu->faults.power_loss_after_bytes - emu->bytes_since_arm
                            : 0;
        if (left < len) {
            fail = true;
            if (left < keep)
                keep = (size_t)left;
        }
    }
    /* Bytes reach the EEPROM in address order. */
    for (size_t i = 0; i < keep; i++)
        dst[i] = src[i];
    emu->bytes_since_arm += keep;
    emu->counters.eeprom_bytes_written += keep;
    if (fail) {
        power_fail(emu);
        return false;
    }
    return true;
}
