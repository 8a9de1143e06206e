/*
 * hubkey — MQTT 3.1.1: a pure packet codec and a client session engine.
 *
 * Two layers, usable on their own:
 *
 *  1. Codec. Encoders write one packet into a caller buffer; decoders read one
 *     packet from a caller buffer. Nothing here does I/O or keeps state.
 *     - Every encoder reports the exact packet size in *out_len, whether or not
 *       it fits ("size first, then serialize"): pass buf = NULL, cap = 0 to ask
 *       for the size. When cap is smaller than the packet the encoder returns
 *       HK_ERR_BUFFER_TOO_SMALL and writes nothing at all.
 *     - hk_mqtt_packet_split() frames one packet at the front of a byte range;
 *       the per-type decoders then check and split its body. Decoded slices
 *       (topic, payload, SUBACK codes) point into the caller's buffer.
 *     - hk_mqtt_stream frames packets out of a byte stream that arrives in
 *       arbitrary pieces (a packet split at any byte, several packets per read).
 *
 *  2. Session engine (hk_mqtt_client): a non-blocking state machine over an
 *     hk_transport with explicit time. The caller calls
 *     hk_mqtt_client_process(now_ms, &deadline) whenever the transport may have
 *     data or the deadline has passed; events come back through a callback.
 *
 * Everything from the network only ever produces an error result; nothing is
 * read or written outside the buffers given. No function allocates memory.
 *
 * Time is a uint32_t millisecond counter that may wrap (every comparison is
 * wrap-safe); intervals must stay below 2^31 ms.
 */
#ifndef HUBKEY_MQTT_H
#define HUBKEY_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Configuration defaults (override with -D at build time) ------------ */

/* QoS 1 PUBLISHes awaiting PUBACK that one client tracks at a time. The DPS
 * flow has one request in flight and a hub session rarely more than a
 * telemetry message and a twin report; each entry costs 28 bytes of the
 * caller's RAM on a 32-bit target. */
#ifndef HK_MQTT_MAX_INFLIGHT
#define HK_MQTT_MAX_INFLIGHT 4
#endif

/* How long the client waits for CONNACK after queuing CONNECT. Cellular links
 * take seconds per round trip and the broker may do slow work before
 * answering; half a minute still catches a dead server promptly. */
#ifndef HK_MQTT_CONNACK_TIMEOUT_MS
#define HK_MQTT_CONNACK_TIMEOUT_MS 30000u
#endif

/* How long the client waits for PINGRESP after sending PINGREQ; same
 * reasoning as the CONNACK timeout. */
#ifndef HK_MQTT_PING_TIMEOUT_MS
#define HK_MQTT_PING_TIMEOUT_MS 30000u
#endif

/* ---- Protocol constants -------------------------------------------------- */

/* Control packet types (high nibble of the first byte). */
enum {
    HK_MQTT_CONNECT = 1,
    HK_MQTT_CONNACK = 2,
    HK_MQTT_PUBLISH = 3,
    HK_MQTT_PUBACK = 4,
    HK_MQTT_PUBREC = 5,
    HK_MQTT_PUBREL = 6,
    HK_MQTT_PUBCOMP = 7,
    HK_MQTT_SUBSCRIBE = 8,
    HK_MQTT_SUBACK = 9,
    HK_MQTT_UNSUBSCRIBE = 10,
    HK_MQTT_UNSUBACK = 11,
    HK_MQTT_PINGREQ = 12,
    HK_MQTT_PINGRESP = 13,
    HK_MQTT_DISCONNECT = 14
};

/* SUBACK return code for a refused filter (the others are the granted QoS). */
#define HK_MQTT_SUBACK_FAILURE 0x80u

/* Largest remaining length MQTT can express (four length bytes). */
#define HK_MQTT_MAX_REMAINING_LENGTH 268435455u

/* ---- Codec: encoders ----------------------------------------------------- */

/* CONNECT options. Strings are (pointer, length), not NUL-terminated, each at
 * most 65535 bytes. username == NULL leaves the user name out; password ==
 * NULL leaves the password out (a password needs a user name, as MQTT 3.1.1
 * requires). No will message. The encoder copies everything it needs. */
typedef struct hk_mqtt_connect_options {
    const char *client_id;
    size_t client_id_len;
    const char *username;
    size_t username_len;
    const uint8_t *password;
    size_t password_len;
    uint16_t keep_alive_s; /* 0 = no keep-alive */
    bool clean_session;
} hk_mqtt_connect_options;

/* One topic filter for SUBSCRIBE (filter + requested QoS 0 or 1) or
 * UNSUBSCRIBE (qos ignored). */
typedef struct hk_mqtt_subscription {
    const char *filter;
    size_t filter_len; /* 1..65535 */
    uint8_t qos;
} hk_mqtt_subscription;

/* A PUBLISH, outgoing or incoming. topic_len is 1..65535. qos is 0 or 1
 * (QoS 2 is not supported in either direction). packet_id is set for QoS 1
 * only (non-zero) and 0 for QoS 0. */
typedef struct hk_mqtt_publish {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload; /* may be NULL when payload_len is 0 */
    size_t payload_len;
    uint16_t packet_id;
    uint8_t qos;
    bool retain;
    bool dup;
} hk_mqtt_publish;

/* Encoders. Common contract (see the top of this file): *out_len = exact size
 * of the packet; HK_OK when it was written to buf[0..*out_len);
 * HK_ERR_BUFFER_TOO_SMALL when cap < *out_len (nothing written; buf may be
 * NULL with cap 0). HK_ERR_INVALID_ARG for values MQTT cannot carry (a string
 * over 65535 bytes, an empty topic or filter, QoS above 1, a zero packet id
 * where one is needed, a password without user name, no filters);
 * HK_ERR_MQTT_PACKET_TOO_LARGE when the remaining length would exceed
 * HK_MQTT_MAX_REMAINING_LENGTH. */
HK_NODISCARD hk_result hk_mqtt_connect_encode(const hk_mqtt_connect_options *options, uint8_t *buf,
                                              size_t cap, size_t *out_len);
HK_NODISCARD hk_result hk_mqtt_subscribe_encode(uint16_t packet_id,
                                                const hk_mqtt_subscription *subs, size_t count,
                                                uint8_t *buf, size_t cap, size_t *out_len);
HK_NODISCARD hk_result hk_mqtt_unsubscribe_encode(uint16_t packet_id,
                                                  const hk_mqtt_subscription *subs, size_t count,
                                                  uint8_t *buf, size_t cap, size_t *out_len);
/* Uses topic, payload, qos, retain, dup and (QoS 1) packet_id of *publish. */
HK_NODISCARD hk_result hk_mqtt_publish_encode(const hk_mqtt_publish *publish, uint8_t *buf,
                                              size_t cap, size_t *out_len);
HK_NODISCARD hk_result hk_mqtt_puback_encode(uint16_t packet_id, uint8_t *buf, size_t cap,
                                             size_t *out_len);
HK_NODISCARD hk_result hk_mqtt_pingreq_encode(uint8_t *buf, size_t cap, size_t *out_len);
HK_NODISCARD hk_result hk_mqtt_disconnect_encode(uint8_t *buf, size_t cap, size_t *out_len);

/* ---- Codec: decoders ----------------------------------------------------- */

/* One framed packet. body points into the caller's buffer (variable header
 * and payload, body_len = remaining length); it is valid as long as that
 * buffer content is. */
typedef struct hk_mqtt_packet {
    uint8_t type;  /* HK_MQTT_CONNACK ... */
    uint8_t flags; /* low nibble of the first byte */
    const uint8_t *body;
    size_t body_len;
} hk_mqtt_packet;

/* Frame the packet at the front of buf[0..len).
 * HK_OK and *out_consumed = 1 + length bytes + remaining length when a whole
 * packet is there (*out_packet filled); HK_OK and *out_consumed = 0 when more
 * bytes are needed. HK_ERR_MQTT_BAD_LENGTH when the remaining length runs past
 * four bytes; HK_ERR_MQTT_PACKET_TOO_LARGE when the whole packet would exceed
 * max_packet bytes (reported as soon as the length is known, before the body
 * arrives). Types and flags are checked by the per-type decoders. */
HK_NODISCARD hk_result hk_mqtt_packet_split(const uint8_t *buf, size_t len, size_t max_packet,
                                            hk_mqtt_packet *out_packet, size_t *out_consumed);

/* CONNACK. HK_OK when accepted (*out_session_present = the flag); the return
 * codes 1..5 give HK_ERR_MQTT_REFUSED_PROTOCOL, _IDENTIFIER, _UNAVAILABLE,
 * _CREDENTIALS, _NOT_AUTHORIZED; any other code HK_ERR_MQTT_REFUSED_OTHER
 * (*out_session_present = false on refusal). HK_ERR_MQTT_PROTOCOL for a wrong
 * type, flags, length, reserved bits, or session-present set on a refusal. */
HK_NODISCARD hk_result hk_mqtt_connack_decode(const hk_mqtt_packet *packet,
                                              bool *out_session_present);

/* SUBACK. *out_codes points at *out_count return codes inside the packet,
 * one per filter of the SUBSCRIBE, in order: 0 or 1 (granted QoS), 2 (granted
 * QoS 2, which a server may grant when asked) or HK_MQTT_SUBACK_FAILURE.
 * Returns HK_OK even when filters were refused (check the codes);
 * HK_ERR_MQTT_PROTOCOL for a wrong type/flags, packet id 0, no codes or any
 * other code value. */
HK_NODISCARD hk_result hk_mqtt_suback_decode(const hk_mqtt_packet *packet, uint16_t *out_packet_id,
                                             const uint8_t **out_codes, size_t *out_count);

/* Incoming PUBLISH (QoS 0 or 1). Slices in *out point into the packet.
 * HK_ERR_MQTT_QOS2 for QoS 2; HK_ERR_MQTT_PROTOCOL for QoS 3, DUP on QoS 0,
 * an empty or truncated topic, a topic with '+', '#' or NUL, a QoS 1 packet id
 * of 0, or a body too short for its fields. */
HK_NODISCARD hk_result hk_mqtt_publish_decode(const hk_mqtt_packet *packet, hk_mqtt_publish *out);

/* PUBACK, UNSUBACK (packet id, non-zero; *out_packet_id set) and PINGRESP
 * (empty; *out_packet_id = 0). HK_ERR_MQTT_PROTOCOL for any other type, non-zero
 * flags or a wrong length. */
HK_NODISCARD hk_result hk_mqtt_ack_decode(const hk_mqtt_packet *packet, uint16_t *out_packet_id);

/* ---- Codec: stream framing ----------------------------------------------- */

/* Frames packets out of a byte stream into one caller buffer. Usage:
 *   hk_mqtt_stream_space(&s, &p, &n); read up to n bytes into p;
 *   hk_mqtt_stream_commit(&s, got);
 *   while (hk_mqtt_stream_next(&s, &pkt, &ready) == HK_OK && ready) use(pkt);
 * A packet returned by next() stays valid until the next call to
 * hk_mqtt_stream_space() (which moves unread bytes to the front of the buffer).
 * The buffer belongs to the caller and must outlive the stream. After an error
 * the stream keeps returning it; start again with hk_mqtt_stream_init(). */
typedef struct hk_mqtt_stream {
    struct hk_mqtt_stream_internal {
        uint8_t *buf;
        size_t cap;
        size_t len;   /* bytes held */
        size_t start; /* bytes already handed out by next() */
        size_t max_packet;
    } _internal;
} hk_mqtt_stream;

/* max_packet = 0 means cap. Requires cap >= 2 and max_packet <= cap. */
HK_NODISCARD hk_result hk_mqtt_stream_init(hk_mqtt_stream *stream, uint8_t *buf, size_t cap,
                                           size_t max_packet);
/* Where the next read may write (*out_space, up to *out_cap bytes; 0 when the
 * buffer is full). */
HK_NODISCARD hk_result hk_mqtt_stream_space(hk_mqtt_stream *stream, uint8_t **out_space,
                                            size_t *out_cap);
/* Account n bytes just read into the space (n <= the last *out_cap). */
HK_NODISCARD hk_result hk_mqtt_stream_commit(hk_mqtt_stream *stream, size_t n);
/* Next complete packet: HK_OK with *out_ready = true and *out_packet filled,
 * or HK_OK with *out_ready = false when more bytes are needed. Errors as
 * hk_mqtt_packet_split(), plus HK_ERR_MQTT_PACKET_TOO_LARGE when a partial
 * packet fills the whole buffer. */
HK_NODISCARD hk_result hk_mqtt_stream_next(hk_mqtt_stream *stream, hk_mqtt_packet *out_packet,
                                           bool *out_ready);

/* ---- Session engine ------------------------------------------------------ */

typedef enum hk_mqtt_event_type {
    /* CONNACK arrived. result: HK_OK or the refusal (then process() also
     * returns it and the session is failed); session_present. */
    HK_MQTT_EVENT_CONNACK = 1,
    /* SUBACK arrived. packet_id, codes/code_count (see hk_mqtt_suback_decode);
     * result = HK_ERR_MQTT_SUBSCRIBE_FAILED when any filter was refused. */
    HK_MQTT_EVENT_SUBACK,
    /* UNSUBACK arrived for packet_id. */
    HK_MQTT_EVENT_UNSUBACK,
    /* A PUBLISH arrived (publish; its topic and payload are valid only during
     * the callback). For a QoS 1 PUBLISH the engine has already queued the
     * PUBACK (sent on the next write): delivery is at least once. */
    HK_MQTT_EVENT_PUBLISH,
    /* One of our QoS 1 PUBLISHes is finished: result HK_OK when the PUBACK for
     * packet_id arrived; HK_ERR_CLOSED when it was dropped unacknowledged
     * because the session restarted with clean_session. Either way the engine
     * no longer uses the message's topic and payload memory. */
    HK_MQTT_EVENT_PUBACK
} hk_mqtt_event_type;

typedef struct hk_mqtt_event {
    hk_mqtt_event_type type;
    hk_result result;
    uint16_t packet_id;    /* SUBACK, UNSUBACK, PUBACK; incoming QoS 1 PUBLISH */
    bool session_present;  /* CONNACK */
    const uint8_t *codes;  /* SUBACK */
    size_t code_count;     /* SUBACK */
    hk_mqtt_publish publish; /* PUBLISH */
} hk_mqtt_event;

/* Called from inside hk_mqtt_client_process() (and from
 * hk_mqtt_client_connect() for messages a clean session drops). The event and
 * every pointer in it are valid only during the call. The callback may call
 * hk_mqtt_client_publish(), _subscribe(), _unsubscribe() and _disconnect();
 * it must not call _process(), _connect() or _init(). */
typedef void (*hk_mqtt_event_fn)(void *ctx, const hk_mqtt_event *event);

typedef struct hk_mqtt_client_config {
    uint8_t *tx_buf; /* outgoing bytes; holds pipelined packets until sent */
    size_t tx_cap;
    uint8_t *rx_buf; /* incoming bytes; the largest packet accepted is max_packet */
    size_t rx_cap;
    size_t max_packet;              /* 0 = rx_cap; else at most rx_cap */
    uint32_t connack_timeout_ms;    /* 0 = HK_MQTT_CONNACK_TIMEOUT_MS */
    uint32_t ping_timeout_ms;       /* 0 = HK_MQTT_PING_TIMEOUT_MS */
    hk_mqtt_event_fn on_event;      /* required */
    void *event_ctx;
} hk_mqtt_client_config;

typedef enum hk_mqtt_client_state {
    HK_MQTT_STATE_IDLE = 0,   /* no transport (before connect, after disconnect) */
    HK_MQTT_STATE_CONNECTING, /* CONNECT queued or sent, CONNACK not yet seen */
    HK_MQTT_STATE_CONNECTED,
    HK_MQTT_STATE_DISCONNECTING, /* DISCONNECT queued, being flushed */
    HK_MQTT_STATE_FAILED      /* a fatal error ended the connection */
} hk_mqtt_client_state;

/* One in-flight QoS 1 PUBLISH (private to the engine): the message as it is
 * encoded (its id; dup once it was encoded), and whether it is in tx on the
 * current connection. */
typedef struct hk_mqtt_inflight {
    hk_mqtt_publish msg;
    bool queued;
} hk_mqtt_inflight;

/* All state lives here; the caller owns the struct and the buffers. */
typedef struct hk_mqtt_client {
    struct hk_mqtt_client_internal {
        hk_transport transport;
        hk_mqtt_stream rx;
        uint8_t *tx;
        size_t tx_cap;
        size_t tx_len;
        size_t tx_sent;
        hk_mqtt_event_fn on_event;
        void *event_ctx;
        uint32_t connack_timeout_ms;
        uint32_t ping_timeout_ms;
        uint32_t connect_ms;
        uint32_t last_tx_ms;
        uint32_t ping_ms;
        uint16_t keep_alive_s;
        uint16_t last_id;
        uint8_t state;
        uint8_t ping_pending;
        uint8_t inflight_count;
        hk_mqtt_inflight inflight[HK_MQTT_MAX_INFLIGHT];
    } _internal;
} hk_mqtt_client;

/* Prepare a client: state IDLE, no in-flight messages. The buffers must
 * outlive the client. Requires tx_cap >= 4, rx_cap >= 4, max_packet <= rx_cap,
 * on_event != NULL (HK_ERR_INVALID_ARG otherwise). */
HK_NODISCARD hk_result hk_mqtt_client_init(hk_mqtt_client *client,
                                           const hk_mqtt_client_config *config);

/* Start a session on a freshly opened transport (copied; its ctx must stay
 * valid until the next connect or until the caller stops calling process).
 * Allowed in IDLE and FAILED. Clears any unsent bytes of an earlier
 * connection, queues CONNECT (copied into the tx buffer) and starts the
 * CONNACK timer at now_ms. In-flight QoS 1 messages of the earlier connection
 * are queued again after CONNECT with DUP=1 and the same packet ids when
 * options->clean_session is false; with clean_session they are dropped and
 * each is reported as HK_MQTT_EVENT_PUBACK with HK_ERR_CLOSED (from inside
 * this call). Nothing is written to the transport until process().
 * HK_ERR_STATE in another state; encoder errors for CONNECT (including
 * HK_ERR_BUFFER_TOO_SMALL when it does not fit the tx buffer). */
HK_NODISCARD hk_result hk_mqtt_client_connect(hk_mqtt_client *client, const hk_transport *transport,
                                              const hk_mqtt_connect_options *options,
                                              uint32_t now_ms);

/* Queue SUBSCRIBE / UNSUBSCRIBE. Allowed in CONNECTING (pipelined behind
 * CONNECT, as MQTT 3.1.1 permits) and CONNECTED; HK_ERR_MQTT_NOT_CONNECTED
 * otherwise. *out_packet_id receives the id the SUBACK/UNSUBACK event will
 * carry. The filters are copied. HK_ERR_FULL when the tx buffer has no room
 * right now (call process() and retry); encoder errors otherwise. */
HK_NODISCARD hk_result hk_mqtt_client_subscribe(hk_mqtt_client *client,
                                                const hk_mqtt_subscription *subs, size_t count,
                                                uint16_t *out_packet_id);
HK_NODISCARD hk_result hk_mqtt_client_unsubscribe(hk_mqtt_client *client,
                                                  const hk_mqtt_subscription *filters, size_t count,
                                                  uint16_t *out_packet_id);

/* Queue a PUBLISH (message->packet_id and ->dup are ignored; the engine
 * assigns them). Allowed in CONNECTING and CONNECTED.
 *   QoS 0: copied into the tx buffer now; HK_ERR_FULL when there is no room
 *          right now; *out_packet_id = 0.
 *   QoS 1: takes one in-flight slot (HK_ERR_FULL when all are taken) and gets
 *          a packet id (*out_packet_id). The engine does NOT copy the topic and
 *          payload: the caller keeps that memory unchanged until the
 *          HK_MQTT_EVENT_PUBACK event for this packet id, because it is encoded
 *          again for every resend. Bytes go to the tx buffer as soon as there
 *          is room, in publish order.
 * HK_ERR_BUFFER_TOO_SMALL when the packet can never fit the tx buffer. */
HK_NODISCARD hk_result hk_mqtt_client_publish(hk_mqtt_client *client,
                                              const hk_mqtt_publish *message,
                                              uint16_t *out_packet_id);

/* Queue DISCONNECT; process() flushes it and then moves to IDLE (the caller
 * then closes the transport). In-flight QoS 1 messages are kept for a later
 * connect. Allowed in CONNECTING and CONNECTED; HK_ERR_FULL when the tx
 * buffer has no room right now. */
HK_NODISCARD hk_result hk_mqtt_client_disconnect(hk_mqtt_client *client);

/* One non-blocking step at now_ms: write pending bytes, queue resends, read
 * what the transport has (a bounded number of reads), handle every complete
 * packet (events, PUBACK for incoming QoS 1), queue PINGREQ when keep_alive_s
 * passed since bytes were last written, check the CONNACK and PINGRESP
 * timers, and write again. In DISCONNECTING it only writes, then goes IDLE.
 * *out_next_deadline_ms: when process() must be called again at the latest if
 * the transport shows no activity: the CONNACK, keep-alive or PINGRESP time;
 * now_ms when work is left over (more to read, or no tx room for a PUBACK or
 * PINGREQ while the transport does not take bytes); now_ms + 2^30 when nothing
 * is scheduled. Also call process() as soon as the transport can take bytes
 * again when an earlier write was partial.
 * Returns HK_OK, or a fatal error that ends the connection (state FAILED; later
 * calls return HK_ERR_MQTT_NOT_CONNECTED until the next connect). Connection
 * failures are reported here only, never as events:
 * HK_ERR_MQTT_CONNACK_TIMEOUT, HK_ERR_MQTT_PING_TIMEOUT, a CONNACK refusal,
 * HK_ERR_MQTT_PROTOCOL / _BAD_LENGTH / _PACKET_TOO_LARGE / _QOS2 for bad
 * input, HK_ERR_CLOSED when the peer closed, or the transport's error. In
 * IDLE it returns HK_ERR_MQTT_NOT_CONNECTED. */
HK_NODISCARD hk_result hk_mqtt_client_process(hk_mqtt_client *client, uint32_t now_ms,
                                              uint32_t *out_next_deadline_ms);

/* Current state (see hk_mqtt_client_state). */
hk_mqtt_client_state hk_mqtt_client_get_state(const hk_mqtt_client *client);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_MQTT_H */
