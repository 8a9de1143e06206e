/*
 * hubkey — the template port: a complete hk_platform and hk_i2c to copy
 * when porting hubkey to a new system (docs/porting.md walks through it).
 *
 *   hk_port_template port;           // caller-owned, must not move
 *   hk_port_template_config cfg = {.net = &net};   // FAKE: your system's handles
 *   hk_platform platform;
 *   hk_i2c i2c;
 *   hk_port_template_init(&port, &cfg, &platform, &i2c);
 *   ... hk_atecc608_init(&chip, &i2c, 0x60); hand &platform to the TLS link ...
 *   hk_port_template_deinit(&port);
 *
 * As shipped, it runs over an in-memory fake network, model clock and I2C
 * wiring (fake_net.h), so it compiles, links and passes the port
 * conformance suite (tests/port) unchanged: it is known to be right. Every
 * place where the fake stands in for the system is marked "FAKE:" in
 * port_template.c; replace those, delete fake_net.*, and run the suite
 * against the result.
 *
 * Every callback's contract is written above its function in
 * port_template.c; the rules themselves are include/hubkey/platform.h,
 * transport.h and i2c.h.
 */
#ifndef HUBKEY_PORT_TEMPLATE_H
#define HUBKEY_PORT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_net.h" /* FAKE: your system's headers instead */
#include "hubkey/i2c.h"
#include "hubkey/platform.h"
#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device opens one connection at a time (DPS, then the hub); one more
 * for the application. */
#ifndef HK_PORT_TEMPLATE_MAX_SOCKETS
#define HK_PORT_TEMPLATE_MAX_SOCKETS 2
#endif

struct hk_port_template;

typedef struct hk_port_template_socket {
    struct {
        struct hk_port_template *owner;
        int handle;      /* FAKE: the system's socket handle; -1 = none */
        bool used;       /* handed out by tcp_connect, not closed yet */
        bool connecting; /* handshake not finished */
        bool failed;     /* send/recv return failure from now on */
        bool want_write; /* the last send accepted less than it was offered */
        hk_result failure;
    } _internal;
} hk_port_template_socket;

typedef struct hk_port_template_config {
    fake_net *net; /* FAKE: whatever your system's calls need (or nothing) */
} hk_port_template_config;

typedef struct hk_port_template {
    struct {
        hk_port_template_config cfg;
        hk_port_template_socket sockets[HK_PORT_TEMPLATE_MAX_SOCKETS];
    } _internal;
} hk_port_template;

/* Prepare the port and fill the two interfaces bound to it.
 * HK_ERR_INVALID_ARG for a NULL argument. */
HK_NODISCARD hk_result hk_port_template_init(hk_port_template *port,
                                             const hk_port_template_config *config,
                                             hk_platform *out_platform, hk_i2c *out_i2c);

/* Close every socket still open. */
void hk_port_template_deinit(hk_port_template *port);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_TEMPLATE_H */
