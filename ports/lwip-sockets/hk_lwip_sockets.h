/*
 * hubkey — hk_platform over lwIP's BSD socket API (lwip_socket, lwip_poll,
 * lwip_send/recv): the port for systems that run lwIP with its tcpip thread
 * under an RTOS — ESP-IDF, FreeRTOS+lwIP, and lwIP's own unix port (the
 * test). No heap of its own (lwIP's sockets, pbufs and name lookups come
 * from lwIP's pools).
 *
 *   hk_lwip_sockets port;              // caller-owned, must not move
 *   hk_lwip_sockets_config cfg = {.ctx = NULL, .now_ms = board_ms,
 *                                 .wall_s = board_wall, .sleep_ms = board_sleep};
 *   hk_platform platform;
 *   hk_lwip_sockets_init(&port, &cfg, &platform);
 *   ... hand &platform to the device stack (hk_device_tls_link) ...
 *   hk_lwip_sockets_deinit(&port);     // closes what is still open
 *
 * The clock and the sleep are the system's, given as hooks so that the
 * same file serves every system:
 *   FreeRTOS  now_ms = xTaskGetTickCount() * portTICK_PERIOD_MS (or
 *             pdTICKS_TO_MS), sleep_ms = vTaskDelay(pdMS_TO_TICKS(ms))
 *             rounded up by one tick so the delay is at least ms;
 *   ESP-IDF   now_ms = esp_timer_get_time() / 1000, sleep_ms = vTaskDelay;
 *             wall_s = time(NULL) once SNTP has set the clock, else
 *             HK_PLATFORM_TIME_UNKNOWN.
 * now_ms must never go backwards; it may wrap at 2^32 (only differences
 * are used). wall_s may be NULL: the wall clock is then unknown.
 *
 * Connections (platform.h's contract): tcp_connect resolves the host, opens
 * a socket, switches it to non-blocking with lwip_fcntl(O_NONBLOCK) and
 * starts lwip_connect; it does not wait for the handshake. send, recv and
 * wait finish it: lwip_poll says when the socket became writable (or
 * failed), SO_ERROR says which. Until then send accepts 0 bytes and recv
 * gives 0; once every address failed both return HK_ERR_CONNECT. Up to
 * HK_LWIP_SOCKETS_MAX_ADDRESSES resolved addresses are tried in order (the
 * next when one fails, or when one stays unanswered for
 * HK_LWIP_SOCKETS_ADDRESS_STEP_MS and another is left). TCP_NODELAY is set
 * once connected. send and recv use MSG_DONTWAIT: a full send buffer or an
 * empty receive queue gives 0 bytes; a peer that closed gives HK_ERR_CLOSED
 * once every byte before the close was read (so does a reset); other
 * failures HK_ERR_IO.
 *
 * Names: numeric IPv4 (and IPv6 with LWIP_IPV6) addresses always work
 * (ipaddr_aton, no lookup). Other names go to lwip_getaddrinfo when lwIP
 * is built with LWIP_DNS — a blocking lookup, the one wait platform.h
 * allows — and are HK_ERR_RESOLVE otherwise. Boards without DNS serve a
 * local cloud's names with the TLS link's routes (hubkey/device_tls.h).
 *
 * Waiting: wait(socket) is lwip_poll on the socket (readable, writable when
 * a send was short or the connect is pending) with the timeout, capped at
 * the next address step. wait(NULL) is cfg.sleep_ms.
 *
 * Threads: lwIP's socket API may be called from any task; one
 * hk_lwip_sockets belongs to one task (it has no lock of its own).
 */
#ifndef HUBKEY_PORT_LWIP_SOCKETS_H
#define HUBKEY_PORT_LWIP_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/platform.h"
#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device opens one connection at a time (DPS, then the hub); one more
 * for the application. lwIP's own limit is MEMP_NUM_NETCONN sockets. */
#ifndef HK_LWIP_SOCKETS_MAX_SOCKETS
#define HK_LWIP_SOCKETS_MAX_SOCKETS 2
#endif

/* Resolved addresses kept per connecting socket, and how long one may stay
 * unanswered before the next is tried. */
#ifndef HK_LWIP_SOCKETS_MAX_ADDRESSES
#define HK_LWIP_SOCKETS_MAX_ADDRESSES 2
#endif
#define HK_LWIP_SOCKETS_ADDRESS_STEP_MS 3000u

/* Room for one struct sockaddr_in6 of lwIP (28 bytes) or of the C library
 * lwIP was built against (checked in the .c file). */
#define HK_LWIP_SOCKETS_ADDR_BYTES 32u

struct hk_lwip_sockets;

typedef struct hk_lwip_sockets_socket {
    struct {
        struct hk_lwip_sockets *owner; /* for the clock */
        int fd;          /* lwIP socket, -1 when none */
        bool used;       /* handed out by tcp_connect, not closed yet */
        bool connecting; /* the TCP handshake is not finished */
        bool failed;     /* every address failed: send/recv give HK_ERR_CONNECT */
        bool want_write; /* the last send accepted less than it was offered */
        uint8_t addr_count;
        uint8_t addr_next;      /* the address being tried */
        uint32_t addr_since_ms; /* when its connect started (cfg.now_ms) */
        struct hk_lwip_sockets_addr {
            uint32_t len;
            uint32_t bytes[HK_LWIP_SOCKETS_ADDR_BYTES / 4u]; /* a struct sockaddr */
        } addrs[HK_LWIP_SOCKETS_MAX_ADDRESSES];
    } _internal;
} hk_lwip_sockets_socket;

/* Borrowed: the functions are called with ctx. */
typedef struct hk_lwip_sockets_config {
    void *ctx;
    uint32_t (*now_ms)(void *ctx);             /* required: monotonic ms, may wrap */
    int64_t (*wall_s)(void *ctx);              /* NULL = HK_PLATFORM_TIME_UNKNOWN */
    void (*sleep_ms)(void *ctx, uint32_t ms);  /* required: sleep at least ms */
} hk_lwip_sockets_config;

typedef struct hk_lwip_sockets {
    struct {
        hk_lwip_sockets_config cfg;
        hk_lwip_sockets_socket sockets[HK_LWIP_SOCKETS_MAX_SOCKETS];
    } _internal;
} hk_lwip_sockets;

/* Prepare the port (no socket open; lwIP must already run: tcpip_init and a
 * network interface, by the system) and fill *out_platform with functions
 * bound to it. HK_ERR_INVALID_ARG without now_ms or sleep_ms. */
HK_NODISCARD hk_result hk_lwip_sockets_init(hk_lwip_sockets *port,
                                            const hk_lwip_sockets_config *config,
                                            hk_platform *out_platform);

/* Close every socket still open. The port can be initialised again. */
void hk_lwip_sockets_deinit(hk_lwip_sockets *port);

/* The lwIP socket behind a transport from this port's tcp_connect (for an
 * application's own lwip_poll loop); -1 when it is not one of this port's
 * open sockets or has no socket (failed). */
int hk_lwip_sockets_fd(const hk_lwip_sockets *port, const hk_transport *socket);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_LWIP_SOCKETS_H */
