/*
 * hubkey — the production connection link of the boot flow: a TCP socket
 * from the platform with TLS 1.2 over it (hk_tls, key in the secure
 * element), as an hk_device_link.
 *
 *     hk_posix posix; hk_platform platform;
 *     hk_posix_init(&posix, &platform);
 *     hk_device_tls_link tl;                 // caller-owned, must not move
 *     hk_device_tls_config tc = {.platform = &platform, .se = &se};
 *     hk_device_link link;
 *     hk_device_tls_link_init(&tl, &tc, &link);
 *     device_config.link = link;
 *
 * Routes: a local cloud serves its DPS and hub host names on loopback. A
 * route sends the TCP connection for a host name elsewhere while TLS still
 * checks the server certificate against the name (and sends it as SNI), so
 * nothing about the security of the connection changes:
 *     {.host = "*", .address = "127.0.0.1", .port = 8883}
 * The first route whose host equals the name (or is "*") applies.
 *
 * Trust: the config's PEM (NULL = hk_tls's built-in Azure roots) unless the
 * flow passes its own for a connection (the DPS trust bundle for the hub).
 * The wall clock from the platform is given to TLS for certificate
 * validity (unknown time: see hubkey/tls.h).
 *
 * Nothing here blocks on the network: open only starts the TCP connection
 * (hk_platform.tcp_connect) and sets TLS up; poll advances the TCP and TLS
 * handshakes together; the boot flow bounds both with its
 * policy.connect_timeout_ms. wait passes the link's socket to the
 * platform's one wait.
 *
 * This part links mbedTLS (through hk_tls, library hk_device_tls); the flow
 * itself (hubkey/device.h, library hk_device) does not. Neither header
 * includes mbedTLS: an application compiles without its headers.
 */
#ifndef HUBKEY_DEVICE_TLS_H
#define HUBKEY_DEVICE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/device.h"
#include "hubkey/platform.h"
#include "hubkey/se.h"
#include "hubkey/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hk_device_route {
    const char *host;    /* a host name, or "*" for any */
    const char *address; /* connect here instead (name or numeric); NULL = host */
    uint16_t port;       /* 0 = the port the flow asked for */
} hk_device_route;

/* Borrowed: everything must outlive the link. */
typedef struct hk_device_tls_config {
    const hk_platform *platform; /* required: tcp_connect/close, wait, wall_s */
    const hk_se *se;             /* required: certificates, signing, random */
    const uint8_t *trust_pem;    /* NULL = built-in roots; else PEM + NUL (counted) */
    size_t trust_pem_len;
    const hk_device_route *routes;
    size_t route_count;
} hk_device_tls_config;

typedef struct hk_device_tls_link {
    struct { /* the large TLS context last: short offsets for the rest */
        bool socket_open;
        bool tls_live;
        hk_transport socket;
        hk_device_tls_config cfg;
        char reason[HK_TLS_REASON_MAX];
        hk_tls tls;
    } _internal;
} hk_device_tls_link;

/* Prepare the link (nothing is opened) and fill *out_link with functions
 * bound to it. HK_ERR_INVALID_ARG for a missing platform function or se. */
HK_NODISCARD hk_result hk_device_tls_link_init(hk_device_tls_link *link,
                                               const hk_device_tls_config *config,
                                               hk_device_link *out_link);

/* Why the last connection set-up failed, e.g. "server certificate: not
 * trusted; " (from hk_tls_reason), or "" when nothing failed. Static inside
 * the link; valid until the next open. */
const char *hk_device_tls_link_reason(const hk_device_tls_link *link);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_DEVICE_TLS_H */
