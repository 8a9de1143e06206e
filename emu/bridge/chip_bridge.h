/*
 * hubkey — the host end of the chip bridge: request frames from a serial
 * line in, calls on an hk_i2c (the software ATECC608A), reply frames out.
 *
 * The framing is docs/chip-bridge.md; the device end is ports/serial-i2c.
 * This side decodes the frames on its own (its own constants, decoder and
 * CRC routine), so the two implementations check each other, as the
 * emulator and the driver do.
 *
 * No sockets here: hk_chip_bridge_input() takes whatever bytes the line
 * delivered, in any chunking, and every complete request is executed at
 * once and answered through the output function. The program
 * hubkey-chip-bridge puts a TCP listener around it; tests feed it directly.
 *
 * What happens to bad input (never a crash, never a reply to a frame that
 * failed its checks):
 *   bytes before a SYNC byte        skipped (stats.garbage_bytes)
 *   LEN over the maximum, bad CRC    the candidate is dropped up to the next
 *                                    SYNC inside it, and decoding resumes there
 *                                    (stats.bad_frames); no reply: the device
 *                                    times out and reports an I2C error
 *   a candidate the line stops       the same, on hk_chip_bridge_line_idle()
 *   feeding
 *   a frame with the reply bit set   ignored (stats.ignored)
 *   unknown opcode, wrong payload    BAD_REQUEST reply (stats.bad_requests)
 *
 * Host code, but without heap: the caller owns the hk_chip_bridge.
 */
#ifndef HUBKEY_CHIP_BRIDGE_H
#define HUBKEY_CHIP_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_CHIP_BRIDGE_VERSION 1u
#define HK_CHIP_BRIDGE_MAX_PAYLOAD 192u
#define HK_CHIP_BRIDGE_FRAME_MAX (4u + HK_CHIP_BRIDGE_MAX_PAYLOAD + 2u)

/* Sends one reply frame (all bytes, or an error). */
typedef hk_result (*hk_chip_bridge_send_fn)(void *ctx, const uint8_t *buf, size_t len);

/* One executed request, for a per-command log. It carries no data bytes:
 * only the sizes, the word address of a write and, for a command write, the
 * chip opcode (the byte after the count). */
typedef struct hk_chip_bridge_event {
    uint8_t seq;
    uint8_t op;      /* request opcode (docs/chip-bridge.md) */
    uint8_t status;  /* status byte of the reply */
    uint8_t addr7;   /* WRITE / READ */
    uint16_t len;    /* WRITE: data bytes; READ: bytes asked */
    int word;        /* WRITE: first data byte (word address), -1 if none */
    int chip_opcode; /* WRITE 0x03 with the opcode byte present, else -1 */
    uint32_t us;     /* DELAY */
    uint8_t version; /* HELLO: the version the device speaks */
} hk_chip_bridge_event;

typedef void (*hk_chip_bridge_log_fn)(void *ctx, const hk_chip_bridge_event *ev);

typedef struct hk_chip_bridge_stats {
    uint64_t frames;        /* good request frames executed (incl. BAD_REQUEST) */
    uint64_t garbage_bytes; /* bytes skipped while looking for SYNC */
    uint64_t bad_frames;    /* candidates dropped: LEN over the maximum or CRC */
    uint64_t ignored;       /* good frames with the reply bit set */
    uint64_t bad_requests;  /* answered BAD_REQUEST */
    uint64_t nacks;         /* answered NACK */
    uint64_t bus_errors;    /* answered BUS_ERROR */
    uint64_t by_op[6];      /* good requests by opcode 1..5 (index 0: others) */
    uint64_t delay_us;      /* total microseconds passed to delay_us */
} hk_chip_bridge_stats;

typedef struct hk_chip_bridge {
    hk_chip_bridge_stats stats;
    struct {
        hk_i2c chip;
        hk_chip_bridge_send_fn send;
        void *send_ctx;
        hk_chip_bridge_log_fn log;
        void *log_ctx;
        size_t len;                            /* bytes held in buf */
        uint8_t buf[HK_CHIP_BRIDGE_FRAME_MAX]; /* the frame being collected */
        uint8_t reply[HK_CHIP_BRIDGE_FRAME_MAX];
    } _internal;
} hk_chip_bridge;

/* Prepares b to serve chip (copied; its ctx must outlive b), answering
 * through send(send_ctx, ...). Counters start at zero. */
HK_NODISCARD hk_result hk_chip_bridge_init(hk_chip_bridge *b, const hk_i2c *chip,
                                           hk_chip_bridge_send_fn send, void *send_ctx);

/* Called once per executed request (NULL = no log). */
void hk_chip_bridge_set_log(hk_chip_bridge *b, hk_chip_bridge_log_fn log, void *log_ctx);

/* Feeds len bytes from the line. Every request completed by them is
 * executed on the chip and answered, in order. HK_OK, or the first error
 * of send (the remaining bytes are not looked at: the line is gone). */
HK_NODISCARD hk_result hk_chip_bridge_input(hk_chip_bridge *b, const uint8_t *data, size_t len);

/* True while part of a frame is held (more bytes are awaited). */
bool hk_chip_bridge_pending(const hk_chip_bridge *b);

/* The line has been quiet while part of a frame is held: that candidate can
 * never complete (a SYNC in garbage announced more bytes than came), so it
 * is dropped up to the next SYNC inside it and the bytes from there are
 * decoded again, which may complete and execute requests. HK_OK or send's
 * error. The program calls it after HK_CHIP_BRIDGE_IDLE_MS of silence. */
HK_NODISCARD hk_result hk_chip_bridge_line_idle(hk_chip_bridge *b);
#define HK_CHIP_BRIDGE_IDLE_MS 100

/* Forgets a partly received frame (a new connection starts clean).
 * Counters are kept. */
void hk_chip_bridge_reset(hk_chip_bridge *b);

/* The framing's CRC-16/CCITT-FALSE (0x1021, init 0xFFFF). */
uint16_t hk_chip_bridge_crc16(const uint8_t *data, size_t len);

/* Short name of a request opcode ("WRITE"), "?" for unknown ones. */
const char *hk_chip_bridge_op_name(uint8_t op);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_CHIP_BRIDGE_H */
