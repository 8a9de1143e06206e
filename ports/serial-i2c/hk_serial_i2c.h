/*
 * hubkey — hk_i2c over a serial line, to a chip bridge on the other end.
 *
 * A board without an ATECC608A on its I2C bus (the Cortex-M4 in QEMU, for
 * instance) reaches the chip through a byte stream instead: every hk_i2c
 * call (write, read, wake, delay_us) becomes one request frame on the line,
 * and the call waits for the bridge's reply frame. The bridge
 * (hubkey-chip-bridge) runs the software ATECC608A and answers each request
 * with what the chip did. The framing is documented byte for byte in
 * docs/chip-bridge.md; the constants below are its values.
 *
 * Time. delay_us is forwarded to the bridge (a DELAY frame), which moves the
 * model's clock; the port does not wait locally, since the chip it talks to
 * is the model and the model's clock is the one that counts. The only local
 * time is the reply timeout, measured on the line's now_ms.
 *
 * Results of the hk_i2c calls (hubkey/i2c.h return rules):
 *   bridge answers ACK                           -> HK_OK
 *   bridge answers NACK                          -> HK_ERR_SE_NO_RESPONSE
 *                                                   (wake: HK_OK, a NACK during
 *                                                   the pulse is expected)
 *   bridge answers BUS_ERROR or BAD_REQUEST, a
 *   reply of the wrong shape, no reply within
 *   reply_timeout_ms, or a line error             -> HK_ERR_IO
 *   write/read of more than HK_SERIAL_I2C_MAX_DATA bytes
 *                                                -> HK_ERR_INVALID_ARG (nothing sent)
 * delay_us has no error path: when its reply does not come within
 * reply_timeout_ms (or the line fails) it returns anyway and counts
 * stats.delay_failures. The model's clock then may not have moved; the
 * driver's next read is NACKed or fails, and the driver's own bounded retries
 * decide. No call ever waits longer than reply_timeout_ms after its request
 * was written.
 *
 * Device code: no heap, no global state; everything lives in the caller's
 * hk_serial_i2c (260 bytes on a Cortex-M4), which must outlive the hk_i2c handed out.
 * One context per line, used by one thread at a time.
 */
#ifndef HUBKEY_PORT_SERIAL_I2C_H
#define HUBKEY_PORT_SERIAL_I2C_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the wire (docs/chip-bridge.md) ------------------------------------ */

#define HK_SERIAL_I2C_VERSION 1u     /* protocol version carried by HELLO */
#define HK_SERIAL_I2C_SYNC 0xA5u     /* first byte of every frame */
#define HK_SERIAL_I2C_HEADER 4u      /* SYNC, SEQ, OP, LEN */
#define HK_SERIAL_I2C_MAX_PAYLOAD 192u
#define HK_SERIAL_I2C_FRAME_MAX (HK_SERIAL_I2C_HEADER + HK_SERIAL_I2C_MAX_PAYLOAD + 2u)
/* Data bytes of one write (after the address byte) or one read (after the
 * status byte). */
#define HK_SERIAL_I2C_MAX_DATA (HK_SERIAL_I2C_MAX_PAYLOAD - 1u)

/* Request opcodes; a reply carries the request's opcode | HK_SERIAL_I2C_REPLY. */
#define HK_SERIAL_I2C_OP_HELLO 0x01u
#define HK_SERIAL_I2C_OP_WAKE 0x02u
#define HK_SERIAL_I2C_OP_WRITE 0x03u
#define HK_SERIAL_I2C_OP_READ 0x04u
#define HK_SERIAL_I2C_OP_DELAY 0x05u
#define HK_SERIAL_I2C_REPLY 0x80u

/* Status byte, first byte of every reply payload. */
#define HK_SERIAL_I2C_STATUS_ACK 0x00u
#define HK_SERIAL_I2C_STATUS_NACK 0x01u
#define HK_SERIAL_I2C_STATUS_BUS_ERROR 0x02u
#define HK_SERIAL_I2C_STATUS_BAD_REQUEST 0x03u

/* A reply timeout that suits a bridge on the same host (it answers in well
 * under a millisecond; a Sign on an instrumented host build takes a few
 * tens of milliseconds of real time). */
#define HK_SERIAL_I2C_DEFAULT_TIMEOUT_MS 1000u

/* CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no
 * reflection, no final XOR): "123456789" gives 0x29B1. */
uint16_t hk_serial_i2c_crc16(const uint8_t *data, size_t len);

/* ---- the line ----------------------------------------------------------- */

/* A byte stream to the bridge (a UART, a socket). Rules:
 *   write:  sends all len bytes, or returns an error (any value but HK_OK).
 *   read:   never blocks; stores up to cap bytes and their number in
 *           *out_len, 0 = nothing has arrived yet; an error means the line
 *           is gone (the request fails with HK_ERR_IO).
 *   now_ms: a monotonic millisecond clock (wraps at 2^32; only differences
 *           are used). */
typedef struct hk_serial_line {
    void *ctx;
    hk_result (*write)(void *ctx, const uint8_t *buf, size_t len);
    hk_result (*read)(void *ctx, uint8_t *buf, size_t cap, size_t *out_len);
    uint32_t (*now_ms)(void *ctx);
} hk_serial_line;

/* What the port saw, for tests and diagnostics. */
typedef struct hk_serial_i2c_stats {
    uint32_t requests;        /* request frames written */
    uint32_t replies;         /* replies accepted (any status) */
    uint32_t timeouts;        /* requests that got no reply in time */
    uint32_t line_errors;     /* the line's write or read failed */
    uint32_t garbage_bytes;   /* bytes skipped while looking for SYNC */
    uint32_t bad_frames;      /* frames dropped for their length or CRC */
    uint32_t stale_replies;   /* good frames with another sequence number */
    uint32_t protocol_errors; /* replies to this request of the wrong form */
    uint32_t delay_failures;  /* delay_us calls that got no ACK */
} hk_serial_i2c_stats;

typedef struct hk_serial_i2c {
    hk_serial_i2c_stats stats;
    struct {
        hk_serial_line line;
        uint32_t timeout_ms;
        uint16_t len;   /* bytes held in frame */
        uint8_t seq;    /* sequence number of the last request */
        uint8_t frame[HK_SERIAL_I2C_FRAME_MAX]; /* the request, then the reply */
    } _internal;
} hk_serial_i2c;

/* Binds s to line (copied) and fills *out_i2c with functions on s. Does no
 * I/O. reply_timeout_ms (> 0) bounds the wait for each reply, measured on
 * line->now_ms. HK_ERR_INVALID_ARG for NULL pointers, a line without its
 * three functions or a zero timeout. */
HK_NODISCARD hk_result hk_serial_i2c_init(hk_serial_i2c *s, const hk_serial_line *line,
                                          uint32_t reply_timeout_ms, hk_i2c *out_i2c);

/* Asks the bridge for its protocol version (HELLO): HK_OK when it speaks
 * HK_SERIAL_I2C_VERSION, HK_ERR_UNSUPPORTED when it speaks another one
 * (*out_version, may be NULL, gets it either way), HK_ERR_IO when nothing
 * or nothing valid came back. Optional: a firmware may call it once at
 * start to tell "no bridge" from "no chip". */
HK_NODISCARD hk_result hk_serial_i2c_hello(hk_serial_i2c *s, uint8_t *out_version);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_SERIAL_I2C_H */
