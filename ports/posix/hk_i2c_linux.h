/*
 * hubkey — hk_i2c over a Linux I2C adapter (/dev/i2c-N, I2C_RDWR).
 *
 * One context per adapter; the chip address is given per call by the
 * driver (HK_ATECC608_ADDR_DEFAULT, 0x60, unless configured otherwise), so
 * several chips on one bus can share a context.
 *
 * The wake pulse. The chip wakes when SDA stays low for tWLO (60 us). The
 * port writes zero bytes to address 0x00: the address byte alone keeps SDA
 * low for 8 bit times (80 us at 100 kHz). Linux gives user space no way to
 * change the adapter's clock, so run the bus at 100 kHz (on a Raspberry Pi,
 * dtparam=i2c_arm_baudrate=100000) for a reliable wake. When the adapter
 * supports I2C_M_IGNORE_NAK (I2C_FUNC_PROTOCOL_MANGLING), enough zero data
 * bytes to cover 60 us at the configured clock follow the address, which is
 * the best a faster bus allows; the ACK bit between bytes can still let SDA
 * rise briefly, so above 100 kHz waking is best effort. The chip NACKs
 * address 0x00; that is expected and not reported.
 *
 * Errors: NACK-like errno values (ENXIO, EREMOTEIO, EIO, EAGAIN, ETIMEDOUT)
 * give HK_ERR_SE_NO_RESPONSE, which the driver retries; anything else is
 * HK_ERR_IO. No heap; the context holds the file descriptor only.
 */
#ifndef HUBKEY_PORT_I2C_LINUX_H
#define HUBKEY_PORT_I2C_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_I2C_LINUX_BUS_HZ_DEFAULT 100000u

typedef struct hk_i2c_linux {
    struct {
        int fd;
        uint32_t bus_hz;
        int ignore_nak; /* adapter can send data after a NACKed address */
    } _internal;
} hk_i2c_linux;

/* Opens the adapter at path (for example "/dev/i2c-1") and fills *out_i2c
 * with functions bound to ctx. bus_hz is the adapter clock as configured
 * by the system (0 = 100 kHz); it only sizes the wake pulse.
 * HK_ERR_NOT_FOUND when path does not exist, HK_ERR_IO when it is not an
 * I2C adapter or cannot be opened (ctx is then closed). */
HK_NODISCARD hk_result hk_i2c_linux_open(hk_i2c_linux *ctx, const char *path, uint32_t bus_hz,
                                         hk_i2c *out_i2c);

/* Closes the adapter. Safe to call twice. */
void hk_i2c_linux_close(hk_i2c_linux *ctx);

/* Zero bytes written after the address in a wake pulse at bus_hz so that
 * the bus is held low for at least 60 us (0 = 100 kHz). At most 8. */
size_t hk_i2c_linux_wake_len(uint32_t bus_hz);

/* hk_result for an errno value of a failed I2C_RDWR. */
HK_NODISCARD hk_result hk_i2c_linux_errno_result(int err);

/* Parses a configured chip address: "0x60" / "96" (7-bit, below 0x80) or
 * the 8-bit form "0xC0" (even, 0x80 and above). HK_ERR_MALFORMED otherwise. */
HK_NODISCARD hk_result hk_i2c_linux_parse_address(const char *text, uint8_t *out_addr7);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_I2C_LINUX_H */
