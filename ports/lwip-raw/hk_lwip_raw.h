/*
 * hubkey — hk_platform over lwIP's raw API (NO_SYS=1 or a single lwIP
 * thread): the bare-metal port. No operating system, no sockets, no heap of
 * its own (lwIP's pbufs and PCBs come from lwIP's static pools).
 *
 *   hk_lwip_raw port;                      // caller-owned, must not move
 *   hk_lwip_raw_config cfg = {.ctx = board, .now_ms = ..., .run = ...};
 *   hk_platform platform;
 *   hk_lwip_raw_init(&port, &cfg, &platform);
 *   ... hand &platform to the device stack (hk_device_tls_link) ...
 *
 * The board keeps lwIP running through cfg.run: the port calls it while it
 * waits (hk_platform.wait) and before a recv that finds nothing queued, so
 * frames are taken from the network interface and lwIP's timers fire.
 * Between two runs while waiting it calls cfg.idle (for example WFI until
 * the next tick), or spins when idle is NULL.
 *
 * Connections (platform.h's contract): tcp_connect only starts one with
 * tcp_connect() of lwIP; its connected callback, or its error callback,
 * finishes it later. Until then send accepts 0 bytes and recv gives 0;
 * after a failure both return HK_ERR_CONNECT (reset or unreachable while
 * connecting) or HK_ERR_RESOLVE. Once connected, send copies into lwIP's
 * send buffer what fits (tcp_sndbuf) and pushes it out; recv copies from the
 * received pbufs and opens the window by what it took (tcp_recved), so a
 * slow reader slows the peer instead of exhausting the pbuf pool. A reset
 * reads HK_ERR_CLOSED, as does an orderly close once every byte before it
 * was read.
 *
 * Names: host may be a numeric IPv4 address; any other name is resolved
 * with lwIP's DNS client when the build has LWIP_DNS (asynchronously: the
 * socket is "connecting" meanwhile), else it is HK_ERR_RESOLVE. Boards
 * that serve names from a table use the TLS link's routes
 * (hubkey/device_tls.h): the TCP connection goes to the routed address while
 * TLS still checks the real name.
 *
 * Clocks: monotonic_ms and wall_s are the board's (cfg.now_ms, cfg.wall_s;
 * wall_s may be NULL: time unknown).
 *
 * Not thread-safe: every call, and lwIP itself, runs in one thread.
 */
#ifndef HUBKEY_PORT_LWIP_RAW_H
#define HUBKEY_PORT_LWIP_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/platform.h"
#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device opens one connection at a time; one more for an application. */
#ifndef HK_LWIP_RAW_MAX_SOCKETS
#define HK_LWIP_RAW_MAX_SOCKETS 2
#endif

struct tcp_pcb;
struct pbuf;
struct hk_lwip_raw;

typedef struct hk_lwip_raw_socket {
    struct {
        struct hk_lwip_raw *owner;
        struct tcp_pcb *pcb; /* NULL once lwIP freed it (error) or we closed it */
        struct pbuf *rx;     /* received, not yet read */
        uint16_t rx_off;     /* bytes of rx's first pbuf already read */
        uint8_t state;       /* see hk_lwip_raw.c */
        bool used;
        bool peer_closed;    /* FIN received */
        bool want_write;     /* the last send accepted less than offered */
        hk_result failure;   /* what send/recv return once failed */
    } _internal;
} hk_lwip_raw_socket;

/* Borrowed: the functions are called with ctx. */
typedef struct hk_lwip_raw_config {
    void *ctx;
    uint32_t (*now_ms)(void *ctx); /* required: monotonic milliseconds */
    int64_t (*wall_s)(void *ctx);  /* NULL = HK_PLATFORM_TIME_UNKNOWN */
    void (*run)(void *ctx);        /* required: poll the interface, lwIP timers */
    void (*idle)(void *ctx);       /* NULL = spin */
} hk_lwip_raw_config;

typedef struct hk_lwip_raw {
    struct {
        hk_lwip_raw_config cfg;
        hk_lwip_raw_socket sockets[HK_LWIP_RAW_MAX_SOCKETS];
    } _internal;
} hk_lwip_raw;

/* Prepare the port (lwIP itself must already be initialised: lwip_init and
 * a network interface, by the board) and fill *out_platform.
 * HK_ERR_INVALID_ARG without now_ms or run. */
HK_NODISCARD hk_result hk_lwip_raw_init(hk_lwip_raw *port, const hk_lwip_raw_config *config,
                                        hk_platform *out_platform);

/* Close (abort) every connection still open. */
void hk_lwip_raw_deinit(hk_lwip_raw *port);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_LWIP_RAW_H */
