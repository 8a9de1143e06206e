/*
 * hk_i2c over Linux's i2c-dev interface. Every transfer is one I2C_RDWR
 * ioctl with a single message, so each write or read is one START ... STOP
 * on the bus, which is what the chip expects (a STOP after the last command
 * byte starts execution).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/i2c-dev.h>
#include <linux/i2c.h>

#include "hk_i2c_linux.h"
#include "posix_sleep.h"

#define WAKE_MAX 8u

size_t hk_i2c_linux_wake_len(uint32_t bus_hz)
{
    if (bus_hz == 0)
        bus_hz = HK_I2C_LINUX_BUS_HZ_DEFAULT;
    /* bits needed for 60 us, minus the 8 the address byte already gives */
    uint64_t bits = ((uint64_t)bus_hz * 60u + 999999u) / 1000000u;
    size_t bytes = bits <= 8 ? 1 : (size_t)((bits - 8 + 7) / 8) + 1;
    return bytes > WAKE_MAX ? WAKE_MAX : bytes;
}

hk_result hk_i2c_linux_errno_result(int err)
{
    switch (err) {
    case ENXIO:     /* address not acknowledged */
    case EREMOTEIO: /* data not acknowledged */
    case EIO:       /* what many adapters report for either */
    case EAGAIN:    /* arbitration lost */
    case ETIMEDOUT:
        return HK_ERR_SE_NO_RESPONSE;
    default:
        return HK_ERR_IO;
    }
}

hk_result hk_i2c_linux_parse_address(const char *text, uint8_t *out_addr7)
{
    if (text == NULL || out_addr7 == NULL || text[0] < '0' || text[0] > '9')
        return HK_ERR_MALFORMED;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0' || v > 0xFF)
        return HK_ERR_MALFORMED;
    if (v < 0x80) {
        if (v < 0x08 || v > 0x77) /* reserved 7-bit addresses */
            return HK_ERR_MALFORMED;
        *out_addr7 = (uint8_t)v;
        return HK_OK;
    }
    if (v & 1u)
        return HK_ERR_MALFORMED;
    *out_addr7 = (uint8_t)(v >> 1);
    return HK_OK;
}

static hk_result transfer(hk_i2c_linux *ctx, uint16_t addr, uint16_t flags, uint8_t *buf,
                          size_t len)
{
    if (ctx->_internal.fd < 0)
        return HK_ERR_IO;
    if (len > 0xFFFFu)
        return HK_ERR_INVALID_ARG;
    struct i2c_msg msg;
    msg.addr = addr;
    msg.flags = flags;
    msg.len = (uint16_t)len;
    msg.buf = buf;
    struct i2c_rdwr_ioctl_data rdwr;
    rdwr.msgs = &msg;
    rdwr.nmsgs = 1;
    int rc;
    do {
        rc = ioctl(ctx->_internal.fd, I2C_RDWR, &rdwr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return hk_i2c_linux_errno_result(errno);
    return rc == 1 ? HK_OK : HK_ERR_IO;
}

static hk_result linux_write(void *vctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    if (vctx == NULL || addr7 > 0x7F || (buf == NULL && len > 0))
        return HK_ERR_INVALID_ARG;
    /* The kernel does not write to msg.buf for a write; the cast only
     * satisfies the structure's type. */
    return transfer((hk_i2c_linux *)vctx, addr7, 0, (uint8_t *)(uintptr_t)buf, len);
}

static hk_result linux_read(void *vctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    if (vctx == NULL || addr7 > 0x7F || buf == NULL || len == 0)
        return HK_ERR_INVALID_ARG;
    return transfer((hk_i2c_linux *)vctx, addr7, I2C_M_RD, buf, len);
}

static hk_result linux_wake(void *vctx)
{
    hk_i2c_linux *ctx = (hk_i2c_linux *)vctx;
    if (ctx == NULL)
        return HK_ERR_INVALID_ARG;
    uint8_t zeros[WAKE_MAX];
    memset(zeros, 0, sizeof zeros);
    size_t len = ctx->_internal.ignore_nak ? hk_i2c_linux_wake_len(ctx->_internal.bus_hz) : 1;
    uint16_t flags = ctx->_internal.ignore_nak ? I2C_M_IGNORE_NAK : 0;
    hk_result r = transfer(ctx, 0x00, flags, zeros, len);
    /* Nobody acknowledges address 0x00 while the chip sleeps. */
    return r == HK_ERR_SE_NO_RESPONSE ? HK_OK : r;
}

static void linux_delay_us(void *vctx, uint32_t us)
{
    (void)vctx;
    hk_posix_sleep_us(us);
}

hk_result hk_i2c_linux_open(hk_i2c_linux *ctx, const char *path, uint32_t bus_hz,
                            hk_i2c *out_i2c)
{
    if (ctx == NULL || path == NULL || out_i2c == NULL)
        return HK_ERR_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    ctx->_internal.fd = -1;
    ctx->_internal.bus_hz = bus_hz ? bus_hz : HK_I2C_LINUX_BUS_HZ_DEFAULT;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO;
    unsigned long funcs = 0;
    if (ioctl(fd, I2C_FUNCS, &funcs) < 0 || !(funcs & I2C_FUNC_I2C)) {
        close(fd);
        return HK_ERR_IO;
    }
    ctx->_internal.fd = fd;
    ctx->_internal.ignore_nak = (funcs & I2C_FUNC_PROTOCOL_MANGLING) ? 1 : 0;
    out_i2c->ctx = ctx;
    out_i2c->write = linux_write;
    out_i2c->read = linux_read;
    out_i2c->wake = linux_wake;
    out_i2c->delay_us = linux_delay_us;
    return HK_OK;
}

void hk_i2c_linux_close(hk_i2c_linux *ctx)
{
    if (ctx != NULL && ctx->_internal.fd >= 0) {
        close(ctx->_internal.fd);
        ctx->_internal.fd = -1;
    }
}
