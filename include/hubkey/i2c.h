/*
 * hubkey — the I2C port interface used by the ATECC608A driver.
 *
 * The same interface is implemented by ports/posix (/dev/i2c-N), by the
 * ESP-IDF port and by the chip emulator (emu/atecc608), so the driver cannot
 * tell them apart.
 *
 * Addresses are 7-bit (0x60 for a factory-new ATECC608A).
 *
 * Return rules:
 *   write: HK_OK when every byte was acknowledged; HK_ERR_SE_NO_RESPONSE when
 *          the device NACKed (busy, asleep, idle); HK_ERR_IO for a bus error.
 *   read:  HK_OK with exactly len bytes; HK_ERR_SE_NO_RESPONSE on NACK;
 *          HK_ERR_IO for a bus error.
 *   wake:  drives SDA low for at least 60 us (the chip's tWLO). It does not
 *          wait tWHI nor read the wake response: the driver does that.
 *          A NACK during the wake pulse is expected and not an error.
 *   delay_us: busy-waits or sleeps at least us microseconds. Emulators
 *          advance their model clock instead of sleeping.
 */
#ifndef HUBKEY_I2C_H
#define HUBKEY_I2C_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hk_i2c {
    void *ctx;
    HK_NODISCARD hk_result (*write)(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len);
    HK_NODISCARD hk_result (*read)(void *ctx, uint8_t addr7, uint8_t *buf, size_t len);
    HK_NODISCARD hk_result (*wake)(void *ctx);
    void (*delay_us)(void *ctx, uint32_t us);
} hk_i2c;

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_I2C_H */
