/*
 * MQTT 3.1.1 client session engine: a non-blocking state machine over an
 * hk_transport, driven by hk_mqtt_client_process(now_ms).
 *
 * Outgoing bytes: every packet is encoded straight into the tx buffer
 * (tx[tx_sent..tx_len) is waiting for the transport) and process() writes as
 * much as the transport takes. Because CONNECT, SUBSCRIBE and PUBLISH are all
 * just appended, a caller can queue them back to back before CONNACK and they
 * leave in one write: MQTT 3.1.1 lets a client send before CONNACK, and every
 * round trip saved is seconds on a cellular link.
 *
 * QoS 1 in-flight table: the engine keeps pointers to the caller's topic and
 * payload, not copies, so the tx buffer only needs to fit one message and a
 * resend after reconnect re-encodes it. Entries stay in publish order (the
 * table is shifted on removal; it has a handful of entries) and are queued to
 * tx in that order, so a QoS 1 message never overtakes an earlier one.
 *
 * Time: only process() and connect() take now_ms; all comparisons are on the
 * signed difference of two uint32_t values, so the counter may wrap.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/mqtt.h"

/* Transport reads per process() call: bounds the time spent in one call even
 * when a peer keeps the socket full, so timers are still checked. */
#define READS_PER_PROCESS 4

/* The deadline reported when nothing is scheduled. */
#define NO_DEADLINE_MS 0x40000000u

typedef struct hk_mqtt_client_internal cl;

static int active(const cl *s)
{
    return s->state == HK_MQTT_STATE_CONNECTING || s->state == HK_MQTT_STATE_CONNECTED;
}

/* Wrap-safe "t is at or before now". */
static int due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

/* Free space at the end of tx after moving unsent bytes to the front. */
static size_t tx_room(cl *s)
{
    if (s->tx_sent) {
        memmove(s->tx, s->tx + s->tx_sent, s->tx_len - s->tx_sent);
        s->tx_len -= s->tx_sent;
        s->tx_sent = 0;
    }
    return s->tx_cap - s->tx_len;
}

/* Account for an encoder that wrote at the end of tx. A packet that would fit
 * an emptier buffer is HK_ERR_FULL (retry after process()); one larger than
 * the whole buffer stays HK_ERR_BUFFER_TOO_SMALL. */
static hk_result tx_done(cl *s, hk_result r, size_t n)
{
    if (r == HK_OK)
        s->tx_len += n;
    else if (r == HK_ERR_BUFFER_TOO_SMALL && n <= s->tx_cap)
        r = HK_ERR_FULL;
    return r;
}

/* Append a packet of two or four bytes that has no fields to check:
 * PINGREQ c0 00, DISCONNECT e0 00, PUBACK 40 02 <packet id:2>. False when
 * tx has no room for it now. */
static bool tx_short(cl *s, uint8_t first, uint16_t packet_id)
{
    size_t n = packet_id ? 4 : 2;
    if (tx_room(s) < n)
        return false;
    uint8_t *p = s->tx + s->tx_len;
    p[0] = first;
    p[1] = (uint8_t)(n - 2);
    if (packet_id) {
        p[2] = (uint8_t)(packet_id >> 8);
        p[3] = (uint8_t)packet_id;
    }
    s->tx_len += n;
    return true;
}

static hk_result flush(cl *s, uint32_t now)
{
    while (s->tx_sent < s->tx_len) {
        size_t want = s->tx_len - s->tx_sent;
        size_t n = 0;
        HK_TRY(s->transport.send(s->transport.ctx, s->tx + s->tx_sent, want, &n));
        if (n > want)
            return HK_ERR_IO;
        if (n == 0)
            break;
        s->tx_sent += n;
        s->last_tx_ms = now;
    }
    if (s->tx_sent == s->tx_len)
        s->tx_sent = s->tx_len = 0;
    return HK_OK;
}

static void emit(cl *s, hk_mqtt_event *ev)
{
    s->on_event(s->event_ctx, ev);
}

static int find_inflight(const cl *s, uint16_t id)
{
    for (int i = 0; i < s->inflight_count; i++)
        if (s->inflight[i].msg.packet_id == id)
            return i;
    return -1;
}

/* Remove entry i and report it finished with result r. */
static void finish_inflight(cl *s, int i, hk_result r)
{
    hk_mqtt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = HK_MQTT_EVENT_PUBACK;
    ev.result = r;
    ev.packet_id = s->inflight[i].msg.packet_id;
    s->inflight_count--;
    memmove(&s->inflight[i], &s->inflight[i + 1],
            (size_t)(s->inflight_count - i) * sizeof s->inflight[0]);
    emit(s, &ev);
}

/* Packet ids run 1..65535 and skip ids still in flight. */
static uint16_t next_id(cl *s)
{
    do {
        if (++s->last_id == 0)
            s->last_id = 1;
    } while (find_inflight(s, s->last_id) >= 0);
    return s->last_id;
}

/* Encode in-flight messages not yet queued on this connection, in order,
 * until one does not fit. Every encoding after the first carries DUP. */
static void queue_inflight(cl *s)
{
    for (int i = 0; i < s->inflight_count; i++) {
        hk_mqtt_inflight *e = &s->inflight[i];
        if (e->queued)
            continue;
        size_t n = 0;
        size_t room = tx_room(s);
        if (hk_mqtt_publish_encode(&e->msg, s->tx + s->tx_len, room, &n) != HK_OK)
            return;
        s->tx_len += n;
        e->queued = true;
        e->msg.dup = true;
    }
}

hk_result hk_mqtt_client_init(hk_mqtt_client *client, const hk_mqtt_client_config *config)
{
    HK_REQUIRE(client != NULL && config != NULL && config->tx_buf != NULL &&
               config->tx_cap >= 4 && config->rx_cap >= 4 && config->on_event != NULL);
    cl *s = &client->_internal;
    memset(client, 0, sizeof *client);
    HK_TRY(hk_mqtt_stream_init(&s->rx, config->rx_buf, config->rx_cap, config->max_packet));
    s->tx = config->tx_buf;
    s->tx_cap = config->tx_cap;
    s->on_event = config->on_event;
    s->event_ctx = config->event_ctx;
    s->connack_timeout_ms =
        config->connack_timeout_ms ? config->connack_timeout_ms : HK_MQTT_CONNACK_TIMEOUT_MS;
    s->ping_timeout_ms = config->ping_timeout_ms ? config->ping_timeout_ms : HK_MQTT_PING_TIMEOUT_MS;
    return HK_OK;
}

hk_result hk_mqtt_client_connect(hk_mqtt_client *client, const hk_transport *transport,
                                 const hk_mqtt_connect_options *options, uint32_t now_ms)
{
    HK_REQUIRE(client != NULL && transport != NULL && transport->send != NULL &&
               transport->recv != NULL && options != NULL);
    cl *s = &client->_internal;
    size_t n = 0;
    if (s->state != HK_MQTT_STATE_IDLE && s->state != HK_MQTT_STATE_FAILED)
        return HK_ERR_STATE;
    HK_TRY(hk_mqtt_connect_encode(options, s->tx, s->tx_cap, &n));
    s->transport = *transport;
    s->tx_len = n;
    s->tx_sent = 0;
    s->rx._internal.len = 0;
    s->rx._internal.start = 0;
    s->keep_alive_s = options->keep_alive_s;
    s->connect_ms = s->last_tx_ms = now_ms;
    s->ping_pending = 0;
    s->state = HK_MQTT_STATE_CONNECTING;
    if (options->clean_session) {
        /* The server starts a new session, so the old messages can never be
         * acknowledged. Only the entries present now are dropped: a callback
         * may already publish new ones, which land behind them. */
        for (int old = s->inflight_count; old > 0; old--)
            finish_inflight(s, 0, HK_ERR_CLOSED);
    } else {
        for (int i = 0; i < s->inflight_count; i++)
            s->inflight[i].queued = false;
    }
    queue_inflight(s);
    return HK_OK;
}

static hk_result queue_filters(hk_mqtt_client *client, int subscribe,
                               const hk_mqtt_subscription *subs, size_t count,
                               uint16_t *out_packet_id)
{
    HK_REQUIRE(client != NULL && out_packet_id != NULL);
    cl *s = &client->_internal;
    *out_packet_id = 0;
    if (!active(s))
        return HK_ERR_MQTT_NOT_CONNECTED;
    uint16_t id = next_id(s);
    size_t n = 0;
    size_t room = tx_room(s);
    hk_result r = subscribe ? hk_mqtt_subscribe_encode(id, subs, count, s->tx + s->tx_len, room, &n)
                            : hk_mqtt_unsubscribe_encode(id, subs, count, s->tx + s->tx_len, room, &n);
    HK_TRY(tx_done(s, r, n));
    *out_packet_id = id;
    return HK_OK;
}

hk_result hk_mqtt_client_subscribe(hk_mqtt_client *client, const hk_mqtt_subscription *subs,
                                   size_t count, uint16_t *out_packet_id)
{
    return queue_filters(client, 1, subs, count, out_packet_id);
}

hk_result hk_mqtt_client_unsubscribe(hk_mqtt_client *client, const hk_mqtt_subscription *filters,
                                     size_t count, uint16_t *out_packet_id)
{
    return queue_filters(client, 0, filters, count, out_packet_id);
}

/* Out of line: its caller is large, and inlined there it measured bigger. */
HK_NOINLINE
hk_result hk_mqtt_client_publish(hk_mqtt_client *client, const hk_mqtt_publish *message,
                                 uint16_t *out_packet_id)
{
    HK_REQUIRE(client != NULL && message != NULL && out_packet_id != NULL);
    cl *s = &client->_internal;
    hk_mqtt_publish m = *message;
    size_t n = 0;
    *out_packet_id = 0;
    if (!active(s))
        return HK_ERR_MQTT_NOT_CONNECTED;
    m.dup = false;
    m.packet_id = m.qos ? 1 : 0; /* a placeholder id, for validation and size */
    /* QoS 0 is encoded into tx now. QoS 1 is only checked and sized here
     * (no room given, so a valid message comes back as HK_ERR_FULL unless it
     * can never fit); queue_inflight() encodes it. */
    size_t room = m.qos ? 0 : tx_room(s);
    hk_result r = tx_done(s, hk_mqtt_publish_encode(&m, s->tx + s->tx_len, room, &n), n);
    if (m.qos == 0 || r != HK_ERR_FULL)
        return r;
    if (s->inflight_count == HK_MQTT_MAX_INFLIGHT)
        return HK_ERR_FULL;
    hk_mqtt_inflight *e = &s->inflight[s->inflight_count];
    m.packet_id = next_id(s);
    e->msg = m;
    e->queued = false;
    s->inflight_count++;
    *out_packet_id = m.packet_id;
    queue_inflight(s);
    return HK_OK;
}

hk_result hk_mqtt_client_disconnect(hk_mqtt_client *client)
{
    HK_REQUIRE(client != NULL);
    cl *s = &client->_internal;
    if (!active(s))
        return HK_ERR_MQTT_NOT_CONNECTED;
    if (!tx_short(s, 0xE0, 0))
        return HK_ERR_FULL;
    s->state = HK_MQTT_STATE_DISCONNECTING;
    return HK_OK;
}

/* One complete packet from the server. Out of line: inlined into its large
 * caller it measured bigger. */
HK_NOINLINE
static hk_result handle(cl *s, const hk_mqtt_packet *p)
{
    hk_mqtt_event ev;
    memset(&ev, 0, sizeof ev);
    if (s->state == HK_MQTT_STATE_CONNECTING) {
        /* MQTT 3.1.1 section 3.2: the first packet from the server is CONNACK. */
        if (p->type != HK_MQTT_CONNACK)
            return HK_ERR_MQTT_PROTOCOL;
        hk_result r = hk_mqtt_connack_decode(p, &ev.session_present);
        if (r == HK_ERR_MQTT_PROTOCOL)
            return r;
        ev.type = HK_MQTT_EVENT_CONNACK;
        ev.result = r;
        if (r == HK_OK)
            s->state = HK_MQTT_STATE_CONNECTED;
        emit(s, &ev);
        return r;
    }
    switch (p->type) {
    case HK_MQTT_PUBLISH:
        HK_TRY(hk_mqtt_publish_decode(p, &ev.publish));
        ev.type = HK_MQTT_EVENT_PUBLISH;
        ev.packet_id = ev.publish.packet_id;
        /* drain() made sure the tx buffer has room for the PUBACK. */
        if (ev.packet_id)
            tx_short(s, 0x40, ev.packet_id);
        break;
    case HK_MQTT_SUBACK:
        HK_TRY(hk_mqtt_suback_decode(p, &ev.packet_id, &ev.codes, &ev.code_count));
        ev.type = HK_MQTT_EVENT_SUBACK;
        if (memchr(ev.codes, HK_MQTT_SUBACK_FAILURE, ev.code_count))
            ev.result = HK_ERR_MQTT_SUBSCRIBE_FAILED;
        break;
    case HK_MQTT_PUBACK:
    case HK_MQTT_UNSUBACK:
    case HK_MQTT_PINGRESP:
        HK_TRY(hk_mqtt_ack_decode(p, &ev.packet_id));
        if (p->type == HK_MQTT_PINGRESP) {
            s->ping_pending = 0;
            return HK_OK;
        }
        if (p->type == HK_MQTT_PUBACK) {
            /* A PUBACK for an id we do not hold (a late duplicate) is harmless. */
            int i = find_inflight(s, ev.packet_id);
            if (i >= 0)
                finish_inflight(s, i, HK_OK);
            return HK_OK;
        }
        ev.type = HK_MQTT_EVENT_UNSUBACK;
        break;
    default:
        /* CONNACK again, QoS 2 flow packets, or client-to-server types. */
        return HK_ERR_MQTT_PROTOCOL;
    }
    emit(s, &ev);
    return HK_OK;
}

/* Handle every complete packet in the rx buffer. A QoS 1 PUBLISH that finds
 * no tx room for its PUBACK is put back (the stream keeps it) and the loop
 * stops with *again, so no acknowledgement is ever lost. */
static hk_result drain(cl *s, int *again)
{
    while (active(s)) {
        hk_mqtt_packet p;
        bool ready;
        size_t mark = s->rx._internal.start;
        HK_TRY(hk_mqtt_stream_next(&s->rx, &p, &ready));
        if (!ready)
            return HK_OK;
        if (p.type == HK_MQTT_PUBLISH && (p.flags & 0x06) == 0x02 && tx_room(s) < 4) {
            s->rx._internal.start = mark;
            *again = 1;
            return HK_OK;
        }
        HK_TRY(handle(s, &p));
    }
    return HK_OK;
}

/* At most one timer runs in each state (CONNACK while connecting; then
 * either the keep-alive or the PINGRESP timer), so the deadline is simply the
 * one that applies, or now when work is left over. */
static hk_result step(cl *s, uint32_t now, uint32_t *deadline)
{
    int again = 0;
    HK_TRY(flush(s, now));
    if (active(s))
        queue_inflight(s); /* resends that did not fit before the flush */
    for (int reads = 0;; reads++) {
        HK_TRY(drain(s, &again));
        if (again || !active(s))
            break;
        if (reads == READS_PER_PROCESS) {
            again = 1;
            break;
        }
        uint8_t *space;
        size_t room, got = 0;
        /* hk_mqtt_stream_space() only refuses NULL arguments. */
        hk_result_ignore(hk_mqtt_stream_space(&s->rx, &space, &room));
        HK_TRY(s->transport.recv(s->transport.ctx, space, room, &got));
        if (got > room)
            return HK_ERR_IO;
        if (got == 0)
            break;
        s->rx._internal.len += got; /* hk_mqtt_stream_commit(), checked above */
    }
    if (s->state == HK_MQTT_STATE_CONNECTING) {
        uint32_t t = s->connect_ms + s->connack_timeout_ms;
        if (due(now, t))
            return HK_ERR_MQTT_CONNACK_TIMEOUT;
        *deadline = t;
    } else if (s->state == HK_MQTT_STATE_CONNECTED && s->keep_alive_s) {
        if (!s->ping_pending && due(now, s->last_tx_ms + s->keep_alive_s * 1000u)) {
            if (tx_short(s, 0xC0, 0)) {
                s->ping_pending = 1;
                s->ping_ms = now;
            } else {
                again = 1;
            }
        }
        if (s->ping_pending) {
            uint32_t t = s->ping_ms + s->ping_timeout_ms;
            if (due(now, t))
                return HK_ERR_MQTT_PING_TIMEOUT;
            *deadline = t;
        }
    }
    HK_TRY(flush(s, now));
    if (s->state == HK_MQTT_STATE_CONNECTED && s->keep_alive_s && !s->ping_pending)
        *deadline = s->last_tx_ms + s->keep_alive_s * 1000u;
    if (s->state == HK_MQTT_STATE_DISCONNECTING && s->tx_len == 0)
        s->state = HK_MQTT_STATE_IDLE;
    if (again)
        *deadline = now;
    return HK_OK;
}

hk_result hk_mqtt_client_process(hk_mqtt_client *client, uint32_t now_ms,
                                 uint32_t *out_next_deadline_ms)
{
    HK_REQUIRE(client != NULL && out_next_deadline_ms != NULL);
    cl *s = &client->_internal;
    *out_next_deadline_ms = now_ms + NO_DEADLINE_MS;
    if (s->state == HK_MQTT_STATE_IDLE || s->state == HK_MQTT_STATE_FAILED)
        return HK_ERR_MQTT_NOT_CONNECTED;
    hk_result r = step(s, now_ms, out_next_deadline_ms);
    if (r != HK_OK)
        s->state = HK_MQTT_STATE_FAILED;
    return r;
}

hk_mqtt_client_state hk_mqtt_client_get_state(const hk_mqtt_client *client)
{
    return (hk_mqtt_client_state)client->_internal.state;
}
