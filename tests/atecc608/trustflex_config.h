/*
 * The configuration the tests give a chip: Microchip's TrustFLEX slot map
 * (reference §6.2) with one change: slot 0 allows GenKey (SlotConfig 0x2085,
 * KeyConfig 0x0073: P-256 private, external sign + ECDH, secret, lockable,
 * ReqRandom) so the key can be made inside the chip after the data zone is
 * locked, and then the slot is locked with Lock mode 2 so the key becomes
 * permanent. Slot 8 (416 bytes, clear read/write), 10 (device compressed
 * certificate), 11 (signer public key), 12 (signer compressed certificate)
 * are clear data slots as on TrustFLEX parts.
 */
#ifndef HK_TEST_TRUSTFLEX_CONFIG_H
#define HK_TEST_TRUSTFLEX_CONFIG_H

#include <stdint.h>
#include <string.h>

static const uint16_t tflx_slot_config[16] = {
    0x2085, 0x0082, 0x2085, 0x2085, 0x2085, 0x468F, 0x0F8F, 0x8F9F,
    0x0F0F, 0x0F8F, 0x0F0F, 0x0F0F, 0x0F0F, 0x0F0F, 0x1F0D, 0x0F0F};
static const uint16_t tflx_key_config[16] = {
    0x0073, 0x0053, 0x0073, 0x0073, 0x0073, 0x0038, 0x007C, 0x001C,
    0x003C, 0x001A, 0x003C, 0x0030, 0x003C, 0x0030, 0x0012, 0x0030};

/* Fills bytes 16..127 of cfg (bytes 0..15 and 84..87 are left as they are:
 * the chip never lets them be written). */
static inline void tflx_config_fill(uint8_t cfg[128])
{
    cfg[16] = 0xC0; /* I2C address 0x60 */
    cfg[17] = 0x00;
    cfg[18] = 0x00;
    cfg[19] = 0x00; /* ChipMode: address from byte 16, short watchdog, clock M0 */
    for (int n = 0; n < 16; n++) {
        cfg[20 + 2 * n] = (uint8_t)tflx_slot_config[n];
        cfg[21 + 2 * n] = (uint8_t)(tflx_slot_config[n] >> 8);
        cfg[96 + 2 * n] = (uint8_t)tflx_key_config[n];
        cfg[97 + 2 * n] = (uint8_t)(tflx_key_config[n] >> 8);
    }
    static const uint8_t counter0[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    memcpy(cfg + 52, counter0, 8);
    memcpy(cfg + 60, counter0, 8);
    memset(cfg + 68, 0, 16);
    cfg[73] = 0x69;
    cfg[74] = 0x76;
    cfg[88] = 0xFF; /* SlotLocked: nothing locked */
    cfg[89] = 0xFF;
    cfg[90] = 0x00; /* ChipOptions */
    cfg[91] = 0x00;
    memset(cfg + 92, 0, 4); /* X509format */
}

#endif /* HK_TEST_TRUSTFLEX_CONFIG_H */
