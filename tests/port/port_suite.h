/*
 * The port conformance suite: checks that an hk_platform (and optionally an
 * hk_i2c) keeps the contract of include/hubkey/platform.h, transport.h and
 * i2c.h. One suite for every port; each port registers itself with an
 * hk_port_under_test and runs hk_port_suite_run (docs/porting.md).
 *
 * The suite needs a peer on the other side of the port's network: a TCP
 * endpoint it can listen on, accept from, read, write and close, reachable
 * from the port at peer.host. For ports over a real TCP/IP stack this is a
 * host socket (port_peer_posix.h); for the template's fake network it is the
 * fake's other end.
 *
 * Every check is bounded: the suite polls with the port's own wait and a
 * deadline on the port's own clock, never sleeps to let time pass.
 */
#ifndef HK_PORT_SUITE_H
#define HK_PORT_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/platform.h"
#include "hubkey/result.h"

/* The other end of the port's connections. One listener and one accepted
 * connection at a time; every function returns at once. */
typedef struct hk_port_peer {
    void *ctx;
    /* Numeric address at which the port reaches the peer's listeners. */
    const char *host;
    /* Open a listener (closing one still open). held: its accept queue is
     * full, so a connect to it stays unanswered (pending) until release. */
    hk_result (*listen)(void *ctx, bool held, uint16_t *out_port);
    /* Make a held listener answer connects again. */
    void (*release)(void *ctx);
    /* A port on host where nothing listens (a connect there is refused). */
    hk_result (*refused_port)(void *ctx, uint16_t *out_port);
    /* Take one connection from the listener: *out_accepted false when none
     * has arrived yet. Drops a previous accepted connection. */
    hk_result (*accept)(void *ctx, bool *out_accepted);
    /* The accepted connection, non-blocking: 0 bytes = would block; recv
     * HK_ERR_CLOSED once the port closed its end. */
    hk_result (*send)(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent);
    hk_result (*recv)(void *ctx, uint8_t *buf, size_t cap, size_t *out_received);
    /* Close the accepted connection (an orderly close, FIN). */
    void (*close)(void *ctx);
    /* Close the listener and the accepted connection. */
    void (*unlisten)(void *ctx);
} hk_port_peer;

typedef struct hk_port_under_test {
    const char *name;
    hk_platform platform;
    size_t max_sockets;   /* the port's socket table size (HK_ERR_FULL after it) */
    hk_port_peer peer;
    /* A host name the port cannot resolve. */
    const char *unresolvable_host;
    /* The port's clock starts close enough to 2^32 to wrap during the run:
     * the suite then also checks that the wrap was seen and that waits and
     * deadlines went on working across it. */
    bool clock_wraps;
    /* Optional: the port's hk_i2c with an ATECC608A at chip_addr7 behind it
     * (the emulator in these tests), asleep when the suite starts. */
    const hk_i2c *i2c;
    uint8_t chip_addr7;
    /* Optional: the chip's own clock in microseconds, to check that
     * delay_us lets at least the time asked pass for the chip; NULL = the
     * port's monotonic_ms is used (millisecond resolution). */
    uint64_t (*chip_now_us)(void *chip_ctx);
    void *chip_ctx;
    /* How long real connects may take on this port's network (SYN retries
     * included), for the suite's deadlines. 0 = 15000 ms. */
    uint32_t slow_ms;
} hk_port_under_test;

/* Run every check; prints one line per case ("ok"/"FAIL") and a summary.
 * Returns 0 when every case passed (the port is conformant), else 1. */
int hk_port_suite_run(const hk_port_under_test *put);

#endif /* HK_PORT_SUITE_H */
