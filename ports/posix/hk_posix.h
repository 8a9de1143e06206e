/*
 * hubkey — the POSIX platform: clocks, waiting, and TCP sockets as
 * hk_transport (include/hubkey/platform.h). Linux and other POSIX systems.
 *
 *   hk_posix posix;                  // caller-owned, holds the sockets
 *   hk_platform platform;
 *   hk_posix_init(&posix, &platform);
 *   ... hand &platform to the device stack ...
 *   hk_posix_deinit(&posix);         // closes whatever is still open
 *
 * Clocks: monotonic_ms is CLOCK_MONOTONIC in milliseconds (wrapping at
 * 2^32); wall_s is CLOCK_REALTIME, reported as HK_PLATFORM_TIME_UNKNOWN when
 * it reads before 2024-01-01 (a clock that was never set).
 *
 * Sockets: getaddrinfo (IPv4 and IPv6; the one call that may block, for the
 * name lookup), then a non-blocking connect that tcp_connect only starts:
 * send, recv and wait finish it (platform.h). Up to HK_POSIX_MAX_ADDRESSES
 * resolved addresses are tried in order: the next when one fails, or when
 * one has been connecting for HK_POSIX_ADDRESS_STEP_MS and another is left
 * (an IPv6 address that drops SYNs must not eat the caller's whole
 * timeout). TCP_NODELAY (MQTT packets are small and latency-bound). send
 * and recv never block:
 * a full kernel buffer or nothing to read gives 0 bytes; a peer that closed
 * gives HK_ERR_CLOSED; a reset or other failure HK_ERR_IO. SIGPIPE is never
 * raised (MSG_NOSIGNAL). Up to HK_POSIX_MAX_SOCKETS sockets are open at once.
 *
 * No heap in this file's own code (the system resolver allocates inside
 * getaddrinfo). One hk_posix per thread; it must not move while sockets
 * are open (their transports point into it).
 */
#ifndef HUBKEY_PORT_POSIX_H
#define HUBKEY_PORT_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/platform.h"
#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device opens one connection at a time (DPS, then the hub); the rest
 * is headroom for tools that keep a second one, e.g. a test peer. */
#ifndef HK_POSIX_MAX_SOCKETS
#define HK_POSIX_MAX_SOCKETS 4
#endif

/* Resolved addresses kept per connecting socket, and how long one may stay
 * unanswered before the next is tried. */
#ifndef HK_POSIX_MAX_ADDRESSES
#define HK_POSIX_MAX_ADDRESSES 4
#endif
#define HK_POSIX_ADDRESS_STEP_MS 3000u

/* Times before this (2024-01-01T00:00:00Z) mean "clock never set". */
#define HK_POSIX_WALL_FLOOR_S 1704067200

typedef struct hk_posix_socket {
    struct {
        int fd;          /* -1 when free or failed */
        bool used;       /* handed out by tcp_connect, not closed yet */
        bool want_write; /* the last send accepted less than it was offered */
        bool connecting; /* the TCP handshake is not finished */
        bool failed;     /* every address failed: send/recv give HK_ERR_CONNECT */
        uint8_t addr_count;
        uint8_t addr_next;      /* the address being tried */
        uint64_t addr_since_ms; /* when its connect started */
        struct hk_posix_addr {
            uint32_t len;
            unsigned char bytes[128]; /* a struct sockaddr_storage */
        } addrs[HK_POSIX_MAX_ADDRESSES];
    } _internal;
} hk_posix_socket;

typedef struct hk_posix {
    struct {
        hk_posix_socket sockets[HK_POSIX_MAX_SOCKETS];
    } _internal;
} hk_posix;

/* Prepare the context (no sockets open) and fill *out_platform with the
 * functions bound to it. */
HK_NODISCARD hk_result hk_posix_init(hk_posix *posix, hk_platform *out_platform);

/* Close every socket still open. The context can be initialised again. */
void hk_posix_deinit(hk_posix *posix);

/* The file descriptor behind a socket transport from this port's
 * tcp_connect (for an application's own poll loop); -1 when it is not one
 * of this context's open sockets. */
int hk_posix_socket_fd(const hk_posix *posix, const hk_transport *socket);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_POSIX_H */
