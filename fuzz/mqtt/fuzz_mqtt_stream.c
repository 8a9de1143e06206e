/*
 * Fuzz the MQTT receive path with arbitrary server bytes cut at
 * fuzzer-chosen points.
 *
 * Input: <cap byte> <max byte> then chunks of <length byte> <bytes...>.
 * The same chunks go to (1) a bare hk_mqtt_stream whose packets are run
 * through every decoder, and (2) a connected hk_mqtt_client whose transport
 * returns one chunk per read (a chunk of length 0 is a "nothing yet" read).
 * The receive buffer is allocated at its exact size so that any access past
 * it is caught by AddressSanitizer. Decoded PUBLISH packets are re-encoded
 * and must give back the same body bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubkey/mqtt.h"

typedef struct chunks {
    const uint8_t *data;
    size_t len;
    size_t pos;
} chunks;

/* Next chunk, or 0 when the input is used up (*out_done). */
static size_t next_chunk(chunks *c, const uint8_t **out, int *out_done)
{
    *out_done = c->pos >= c->len;
    if (*out_done)
        return 0;
    size_t n = c->data[c->pos++];
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    *out = c->data + c->pos;
    c->pos += n;
    return n;
}

static void check_publish(const hk_mqtt_packet *p, const hk_mqtt_publish *m)
{
    /* Slices lie inside the body. */
    if (m->topic < (const char *)p->body || m->topic + m->topic_len > (const char *)p->body + p->body_len)
        abort();
    if (m->payload < p->body || m->payload + m->payload_len > p->body + p->body_len)
        abort();
    size_t need = 0;
    if (hk_mqtt_publish_encode(m, NULL, 0, &need) != HK_ERR_BUFFER_TOO_SMALL)
        abort();
    uint8_t *buf = malloc(need);
    size_t n = 0;
    if (!buf || hk_mqtt_publish_encode(m, buf, need, &n) != HK_OK || n != need)
        abort();
    if (n < p->body_len || memcmp(buf + (n - p->body_len), p->body, p->body_len) != 0)
        abort();
    free(buf);
}

static void decode_all(const hk_mqtt_packet *p)
{
    bool sp;
    uint16_t id;
    const uint8_t *codes;
    size_t count;
    hk_mqtt_publish m;
    hk_result r = hk_mqtt_connack_decode(p, &sp);
    if (r == HK_OK && p->type != HK_MQTT_CONNACK)
        abort();
    if (hk_mqtt_suback_decode(p, &id, &codes, &count) == HK_OK &&
        (id == 0 || count == 0 || codes + count != p->body + p->body_len))
        abort();
    if (hk_mqtt_publish_decode(p, &m) == HK_OK)
        check_publish(p, &m);
    if (hk_mqtt_ack_decode(p, &id) == HK_OK && p->type != HK_MQTT_PINGRESP && id == 0)
        abort();
}

static void run_stream(const uint8_t *data, size_t len, size_t cap, size_t max)
{
    uint8_t *buf = malloc(cap);
    hk_mqtt_stream s;
    chunks c = {data, len, 0};
    if (!buf || hk_mqtt_stream_init(&s, buf, cap, max) != HK_OK)
        abort();
    for (;;) {
        const uint8_t *piece = NULL;
        int done;
        size_t n = next_chunk(&c, &piece, &done);
        if (done)
            break;
        uint8_t *space;
        size_t room;
        if (hk_mqtt_stream_space(&s, &space, &room) != HK_OK)
            abort();
        if (n > room)
            n = room;
        if (n)
            memcpy(space, piece, n);
        if (hk_mqtt_stream_commit(&s, n) != HK_OK)
            abort();
        hk_mqtt_packet p;
        bool ready;
        hk_result r;
        while ((r = hk_mqtt_stream_next(&s, &p, &ready)) == HK_OK && ready) {
            if (p.body < buf || p.body + p.body_len > buf + cap)
                abort();
            decode_all(&p);
        }
        if (r != HK_OK)
            break;
    }
    free(buf);
}

/* ---- engine -------------------------------------------------------------- */

typedef struct server {
    chunks in;
    const uint8_t *pending; /* rest of the current chunk */
    size_t pending_len;
    size_t sent;
} server;

static hk_result srv_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    server *s = ctx;
    (void)buf;
    /* Accept a varying amount to exercise partial writes. */
    size_t n = len > 7 ? len - (s->sent % 7) : len;
    s->sent += n;
    *out_sent = n;
    return HK_OK;
}

static hk_result srv_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    server *s = ctx;
    *out_received = 0;
    if (s->pending_len == 0) {
        int done;
        s->pending_len = next_chunk(&s->in, &s->pending, &done);
        if (done)
            return HK_ERR_CLOSED;
    }
    size_t n = s->pending_len < cap ? s->pending_len : cap;
    if (n)
        memcpy(buf, s->pending, n);
    s->pending += n;
    s->pending_len -= n;
    *out_received = n;
    return HK_OK;
}

typedef struct app {
    hk_mqtt_client *client;
    unsigned events;
} app;

static void on_event(void *ctx, const hk_mqtt_event *e)
{
    app *a = ctx;
    a->events++;
    if (e->type == HK_MQTT_EVENT_PUBLISH) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < e->publish.topic_len; i++)
            sink ^= (uint8_t)e->publish.topic[i];
        for (size_t i = 0; i < e->publish.payload_len; i++)
            sink ^= e->publish.payload[i];
        (void)sink;
        if (e->publish.qos == 1 && (a->events & 3) == 0) {
            hk_mqtt_publish m = {0};
            uint16_t id;
            m.topic = "r";
            m.topic_len = 1;
            m.qos = 1;
            /* Exercised, not judged: the queue may be full. */
            hk_result_ignore(hk_mqtt_client_publish(a->client, &m, &id));
        }
    }
}

static void run_engine(const uint8_t *data, size_t len, size_t cap, size_t max)
{
    static uint8_t tx[256];
    uint8_t *rx = malloc(cap);
    hk_mqtt_client c;
    app a = {&c, 0};
    server srv = {{data, len, 0}, NULL, 0, 0};
    hk_mqtt_client_config cfg = {0};
    cfg.tx_buf = tx;
    cfg.tx_cap = sizeof tx;
    cfg.rx_buf = rx;
    cfg.rx_cap = cap;
    cfg.max_packet = max;
    cfg.on_event = on_event;
    cfg.event_ctx = &a;
    if (!rx || cap < 4 || hk_mqtt_client_init(&c, &cfg) != HK_OK) {
        free(rx);
        return;
    }
    hk_transport t = {&srv, srv_send, srv_recv};
    hk_mqtt_connect_options o = {0};
    o.client_id = "fuzz";
    o.client_id_len = 4;
    o.keep_alive_s = 1;
    static const char topic[] = "t/1";
    hk_mqtt_publish m = {0};
    m.topic = topic;
    m.topic_len = 3;
    m.qos = 1;
    uint32_t now = 0;
    for (int session = 0; session < 4 && srv.in.pos < srv.in.len; session++) {
        o.clean_session = session == 2;
        if (hk_mqtt_client_connect(&c, &t, &o, now) != HK_OK)
            abort();
        uint16_t id;
        hk_mqtt_subscription sub = {"s/#", 3, 1};
        /* Exercised, not judged: the queue may be full. */
        hk_result_ignore(hk_mqtt_client_subscribe(&c, &sub, 1, &id));
        hk_result_ignore(hk_mqtt_client_publish(&c, &m, &id));
        for (int step = 0; step < 10000; step++) {
            uint32_t deadline;
            hk_result r = hk_mqtt_client_process(&c, now, &deadline);
            if (r != HK_OK)
                break;
            if (hk_mqtt_client_get_state(&c) == HK_MQTT_STATE_IDLE)
                break;
            now += 300; /* time moves so keep-alive and timeouts fire */
        }
    }
    free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = 4 + data[0];             /* 4..259 */
    size_t max = data[1] % 2 ? 0 : cap - (data[1] >> 1) % (cap - 1); /* 0 or 2..cap */
    run_stream(data + 2, size - 2, cap, max);
    run_engine(data + 2, size - 2, cap, max);
    return 0;
}
