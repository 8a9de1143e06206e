/*
 * FAKE — the template port's stand-in for a system: an in-memory TCP
 * network with one peer, a model clock, and an I2C bus wired to a chip
 * given by the test. It exists so that ports/template compiles, links and
 * passes the port conformance suite (tests/port) as it is.
 *
 * A porter deletes this file and fake_net.c, and replaces every call marked
 * "FAKE:" in port_template.c with the system's own (docs/porting.md).
 *
 * The network: the peer listens on one port of FAKE_NET_HOST; a connect to
 * it is answered on the port's next look (or, while the listener is held,
 * never until released); a connect to any other port is refused on the
 * next look; any other host name does not resolve. Each direction of a
 * connection is a FAKE_NET_BUF-byte pipe, so a writer that outruns the
 * reader sees back-pressure. One thread drives everything: nothing
 * changes while the port sleeps, so a sleep only moves the model clock.
 *
 * No heap; the whole network lives in the caller's fake_net.
 */
#ifndef HK_PORT_TEMPLATE_FAKE_NET_H
#define HK_PORT_TEMPLATE_FAKE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FAKE_NET_HOST "192.0.2.1" /* TEST-NET-1: never a real address */
#define FAKE_NET_CONNS 4
#define FAKE_NET_BUF 2048u

typedef struct fake_pipe {
    uint8_t buf[FAKE_NET_BUF];
    size_t len;
} fake_pipe;

enum { FAKE_CONNECTING = 1, FAKE_ESTABLISHED, FAKE_REFUSED };

typedef struct fake_conn {
    bool used;
    uint8_t state;
    uint16_t port;
    bool accepted;    /* taken by the peer */
    bool port_closed; /* the port closed its end */
    bool peer_closed; /* the peer closed its end */
    fake_pipe to_peer, to_port;
} fake_conn;

typedef struct fake_net {
    uint64_t now_us; /* the model clock */
    const hk_i2c *chip; /* what sits on the fake I2C bus (may be NULL) */
    bool listening, held;
    uint16_t listen_port, next_port;
    int peer_conn; /* the connection the peer accepted, -1 = none */
    fake_conn conns[FAKE_NET_CONNS];
} fake_net;

/* An empty network whose clock reads start_us; chip may be NULL. */
void fake_net_init(fake_net *net, uint64_t start_us, const hk_i2c *chip);

/* ---- the system side, called by the port ---------------------------------- */

/* Start a connection: HK_OK with *out_id; HK_ERR_RESOLVE for a host other
 * than FAKE_NET_HOST; HK_ERR_FULL when every connection is in use. */
HK_NODISCARD hk_result fake_net_connect(fake_net *net, const char *host, uint16_t port,
                                        int *out_id);
/* FAKE_CONNECTING / FAKE_ESTABLISHED / FAKE_REFUSED, moving a connect on. */
uint8_t fake_net_progress(fake_net *net, int id);
/* What fits / what is there; HK_ERR_CLOSED from recv once the peer closed
 * and everything before was read. */
HK_NODISCARD hk_result fake_net_send(fake_net *net, int id, const uint8_t *buf, size_t len,
                                     size_t *out_n);
HK_NODISCARD hk_result fake_net_recv(fake_net *net, int id, uint8_t *buf, size_t cap,
                                     size_t *out_n);
/* Would a recv or a send (want_write) do something now? */
bool fake_net_ready(fake_net *net, int id, bool want_write);
void fake_net_close(fake_net *net, int id);
uint64_t fake_net_now_us(const fake_net *net);
void fake_net_sleep_us(fake_net *net, uint64_t us);

/* ---- the peer side, called by the tests (port_suite.h's hk_port_peer) ----- */

HK_NODISCARD hk_result fake_net_listen(fake_net *net, bool held, uint16_t *out_port);
void fake_net_release(fake_net *net);
HK_NODISCARD hk_result fake_net_refused_port(fake_net *net, uint16_t *out_port);
HK_NODISCARD hk_result fake_net_accept(fake_net *net, bool *out_accepted);
HK_NODISCARD hk_result fake_net_peer_send(fake_net *net, const uint8_t *buf, size_t len,
                                          size_t *out_n);
HK_NODISCARD hk_result fake_net_peer_recv(fake_net *net, uint8_t *buf, size_t cap, size_t *out_n);
void fake_net_peer_close(fake_net *net);
void fake_net_unlisten(fake_net *net);

#ifdef __cplusplus
}
#endif
#endif /* HK_PORT_TEMPLATE_FAKE_NET_H */
