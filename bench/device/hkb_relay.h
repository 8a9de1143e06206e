/*
 * A latency-injecting TCP relay for benchmarks (host code, one thread).
 *
 * The machines that run the benchmarks have no netem qdisc, so network
 * latency is put into a relay on loopback:
 *
 *     client --(loopback)--> relay 127.0.0.1:<random> --(loopback)--> upstream
 *
 * Rules, per connection:
 *   - bytes from the client are forwarded rtt/2 after they arrived, and
 *     those the client sent before any server byte reached it rtt + rtt/2
 *     after they arrived: a loopback connect completes at once in the
 *     kernel, so the client starts its work after connect() (TLS set-up,
 *     the ClientHello) one round trip early. A real client would have
 *     started it when SYN-ACK arrived and sent its first bytes one rtt
 *     after those arrive here; so the TCP handshake is charged in full and
 *     the client's own work after connect() is not hidden inside it (it
 *     would be if the first bytes were merely held until accept + rtt).
 *     The server's first bytes carry the real timing, so once the client
 *     has heard from the server only the one-way delay applies;
 *   - name resolution is not modelled: the client connects to 127.0.0.1
 *     (a real device also pays a DNS lookup, one more round trip to its
 *     resolver, before connect());
 *   - bytes from the server reach the client rtt/2 after they arrived;
 *   - a half close (FIN) travels with the same delay as the bytes before it;
 *     a reset or any error closes both sides at once.
 * Order is kept in each direction (the due times never decrease).
 *
 * Round trips are counted, not inferred. The relay sees the conversation
 * from the client's side: "client sent bytes" when it reads them, "server
 * bytes reached the client" when it delivers them. A client flight is the
 * run of client bytes between two answers; an answer is server bytes the
 * server sent after the flight's first byte had reached it, so an exchange
 * is one round trip the client could have waited for. Server bytes that
 * were already on their way when the flight reached the server (the tail
 * of the previous answer) belong to the previous flight and do not end the
 * current one. Flights the server never answers (a PUBACK, a close_notify)
 * are recorded but are not round trips. For each flight the
 * relay also notes which TLS record types went each way (it follows the
 * 5-byte record headers: 20 ChangeCipherSpec, 21 alert, 22 handshake,
 * 23 application data), so a reader can tell the handshake from the MQTT
 * traffic without decrypting anything.
 *
 * Lifetimes: hkb_relay_start starts the thread; hkb_relay_stop joins it and
 * closes every socket. The records may be read after stop (and only then).
 * The struct must not move while the thread runs.
 */
#ifndef HKB_RELAY_H
#define HKB_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HKB_RELAY_MAX_CONNS 8
#define HKB_RELAY_MAX_FLIGHTS 64

/* TLS record types seen, as bits (hkb_relay_flight.client_types/server_types). */
#define HKB_TLS_CCS (1u << 0)   /* 20 */
#define HKB_TLS_ALERT (1u << 1) /* 21 */
#define HKB_TLS_HS (1u << 2)    /* 22 */
#define HKB_TLS_APP (1u << 3)   /* 23 */
#define HKB_TLS_OTHER (1u << 4) /* anything else (not TLS) */

/* Follows TLS record headers through a byte stream split anywhere. */
typedef struct hkb_tls_scan {
    uint8_t hdr[5];
    size_t hdr_have;
    size_t body_left;
} hkb_tls_scan;

/* Feeds len bytes; returns the record-type bits of every record whose
 * header completed inside them. */
unsigned hkb_tls_scan_feed(hkb_tls_scan *s, const uint8_t *buf, size_t len);

typedef struct hkb_relay_flight {
    int64_t start_us;    /* first client byte of the flight (hkb_now_us clock) */
    int64_t reach_us;    /* when that byte reached the server */
    int64_t answer_us;   /* first answer byte delivered to the client; 0 = none */
    uint64_t client_bytes;
    uint64_t server_bytes;
    unsigned client_types;
    unsigned server_types;
} hkb_relay_flight;

/* The round-trip bookkeeping of one connection, independent of sockets so
 * that it can be tested with an injected clock. */
typedef struct hkb_relay_log {
    int64_t accept_us;
    hkb_relay_flight flights[HKB_RELAY_MAX_FLIGHTS];
    size_t flight_count;   /* flights recorded (at most HKB_RELAY_MAX_FLIGHTS) */
    uint64_t flights_lost; /* flights past the table */
    bool last_was_client;  /* the last event was client bytes */
    hkb_tls_scan scan_up, scan_down;
} hkb_relay_log;

void hkb_relay_log_init(hkb_relay_log *log, int64_t accept_us);
/* The relay read len client bytes at now_us; they reach the server at
 * reach_us. */
void hkb_relay_log_client(hkb_relay_log *log, int64_t now_us, int64_t reach_us,
                          const uint8_t *buf, size_t len);
/* The relay delivered len server bytes to the client at now_us; the server
 * had sent them (the relay read them) at sent_us. */
void hkb_relay_log_server(hkb_relay_log *log, int64_t now_us, int64_t sent_us,
                          const uint8_t *buf, size_t len);
/* Round trips: flights that were answered. */
size_t hkb_relay_log_round_trips(const hkb_relay_log *log);

/* When bytes read at arrival_us leave the relay (see the rules above);
 * heard_server: server bytes had already been delivered to the client. */
int64_t hkb_relay_due_up(bool heard_server, int64_t arrival_us, int64_t rtt_us);
int64_t hkb_relay_due_down(int64_t arrival_us, int64_t rtt_us);

struct hkb_chunk;

typedef struct hkb_relay_conn {
    int client_fd, server_fd; /* -1 when closed */
    bool client_eof, server_eof;       /* read side saw EOF */
    bool heard_server;                 /* server bytes were delivered to the client */
    struct hkb_chunk *up_head, *up_tail;     /* client -> server, not yet due */
    struct hkb_chunk *down_head, *down_tail; /* server -> client */
    hkb_relay_log log;
} hkb_relay_conn;

typedef struct hkb_relay {
    /* configuration (set by start) */
    uint16_t upstream_port;
    int64_t rtt_us;
    /* the listening port (after start) */
    uint16_t port;
    /* observations, readable after stop */
    hkb_relay_conn conns[HKB_RELAY_MAX_CONNS];
    size_t conn_count;
    uint64_t conns_refused; /* accepted past the table, or upstream refused */
    /* private */
    int listen_fd;
    int wake_fd[2];
    pthread_t thread;
    bool running;
} hkb_relay;

/* The relay clock: CLOCK_MONOTONIC in microseconds. */
int64_t hkb_now_us(void);

/* Listens on 127.0.0.1 at a kernel-chosen port and relays each connection
 * to 127.0.0.1:upstream_port with rtt_ms of round-trip latency. 0 on
 * success, -1 with errno. */
int hkb_relay_start(hkb_relay *r, uint16_t upstream_port, uint32_t rtt_ms);

/* Stops the thread and closes everything still open. */
void hkb_relay_stop(hkb_relay *r);

#endif
