/* MQTT session engine: pipelining, keep-alive and timeouts on an injected
 * clock, QoS 1 in-flight tracking and resend with DUP after reconnect,
 * backpressure, every fatal error, over fake transports that split, block,
 * fail and close. Guard bytes sit behind the tx and rx buffers throughout. */
#include <stdbool.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/mqtt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fake transport ----------------------------------------------------- */

typedef struct fake {
    uint8_t out[8192]; /* everything the engine wrote */
    size_t out_len;
    size_t sends;      /* send calls that accepted bytes */
    size_t send_budget; /* bytes it accepts before it would block */
    size_t send_chunk;  /* most bytes per send call */
    hk_result send_err;
    size_t send_lie;    /* claim this many extra bytes were sent */

    uint8_t in[8192]; /* bytes the "server" has sent */
    size_t in_len;
    size_t in_pos;
    size_t recv_chunk; /* most bytes per recv call */
    size_t recvs;
    bool closed;       /* after in[] is drained: HK_ERR_CLOSED */
    hk_result recv_err;
    size_t recv_lie;
    bool endless;      /* an endless stream of PINGRESP */
} fake;

static hk_result fake_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    fake *f = ctx;
    *out_sent = 0;
    if (f->send_err != HK_OK)
        return f->send_err;
    size_t n = len;
    if (n > f->send_budget)
        n = f->send_budget;
    if (f->send_chunk && n > f->send_chunk)
        n = f->send_chunk;
    if (n > sizeof f->out - f->out_len)
        n = sizeof f->out - f->out_len;
    memcpy(f->out + f->out_len, buf, n);
    f->out_len += n;
    f->send_budget -= n;
    if (n)
        f->sends++;
    *out_sent = n + f->send_lie;
    return HK_OK;
}

static hk_result fake_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    fake *f = ctx;
    *out_received = 0;
    f->recvs++;
    if (f->recv_err != HK_OK)
        return f->recv_err;
    if (f->endless) {
        size_t n = cap & ~(size_t)1;
        for (size_t i = 0; i < n; i += 2) {
            buf[i] = 0xD0;
            buf[i + 1] = 0x00;
        }
        *out_received = n;
        return HK_OK;
    }
    size_t n = f->in_len - f->in_pos;
    if (n == 0) {
        if (f->closed)
            return HK_ERR_CLOSED;
        return HK_OK;
    }
    if (n > cap)
        n = cap;
    if (f->recv_chunk && n > f->recv_chunk)
        n = f->recv_chunk;
    memcpy(buf, f->in + f->in_pos, n);
    f->in_pos += n;
    *out_received = n + f->recv_lie;
    return HK_OK;
}

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    f->send_budget = (size_t)-1;
}

static void server_says(fake *f, const char *hex)
{
    f->in_len += hk_test_unhex(hex, f->in + f->in_len, sizeof f->in - f->in_len);
}

static hk_transport transport_of(fake *f)
{
    hk_transport t = {f, fake_send, fake_recv};
    return t;
}

/* ---- event recorder ----------------------------------------------------- */

typedef struct rec_event {
    hk_mqtt_event_type type;
    hk_result result;
    uint16_t packet_id;
    bool session_present;
    uint8_t codes[8];
    size_t code_count;
    char topic[128];
    size_t topic_len;
    uint8_t payload[256];
    size_t payload_len;
    uint8_t qos;
} rec_event;

typedef struct recorder {
    rec_event ev[64];
    size_t count;
    hk_mqtt_client *client;
    /* Optional reactions inside the callback. */
    bool publish_on_publish; /* answer each PUBLISH with a QoS 0 PUBLISH */
    bool disconnect_on_connack;
    bool publish_on_connack;
    bool publish_on_drop; /* publish QoS 1 "q" when a message is dropped */
} recorder;

static void on_event(void *ctx, const hk_mqtt_event *e)
{
    recorder *r = ctx;
    if (r->count >= ARRAY_LEN(r->ev))
        return;
    rec_event *x = &r->ev[r->count++];
    memset(x, 0, sizeof *x);
    x->type = e->type;
    x->result = e->result;
    x->packet_id = e->packet_id;
    x->session_present = e->session_present;
    if (e->type == HK_MQTT_EVENT_SUBACK && e->code_count <= sizeof x->codes) {
        memcpy(x->codes, e->codes, e->code_count);
        x->code_count = e->code_count;
    }
    if (e->type == HK_MQTT_EVENT_PUBLISH) {
        if (e->publish.topic_len <= sizeof x->topic) {
            memcpy(x->topic, e->publish.topic, e->publish.topic_len);
            x->topic_len = e->publish.topic_len;
        }
        if (e->publish.payload_len <= sizeof x->payload) {
            if (e->publish.payload_len)
                memcpy(x->payload, e->publish.payload, e->publish.payload_len);
            x->payload_len = e->publish.payload_len;
        }
        x->qos = e->publish.qos;
        if (r->publish_on_publish) {
            hk_mqtt_publish m = {0};
            uint16_t id;
            m.topic = "r";
            m.topic_len = 1;
            HK_CHECK_RESULT(hk_mqtt_client_publish(r->client, &m, &id), HK_OK);
        }
    }
    if (e->type == HK_MQTT_EVENT_PUBACK && e->result != HK_OK && r->publish_on_drop) {
        hk_mqtt_publish m = {0};
        uint16_t id;
        m.topic = "q";
        m.topic_len = 1;
        m.qos = 1;
        HK_CHECK_RESULT(hk_mqtt_client_publish(r->client, &m, &id), HK_OK);
    }
    if (e->type == HK_MQTT_EVENT_CONNACK && r->disconnect_on_connack)
        HK_CHECK_RESULT(hk_mqtt_client_disconnect(r->client), HK_OK);
    if (e->type == HK_MQTT_EVENT_CONNACK && r->publish_on_connack) {
        hk_mqtt_publish m = {0};
        uint16_t id;
        m.topic = "c";
        m.topic_len = 1;
        HK_CHECK_RESULT(hk_mqtt_client_publish(r->client, &m, &id), HK_OK);
    }
}

/* ---- fixture: client + buffers with guard bytes ------------------------- */

#define GUARD 32

typedef struct fixture {
    hk_mqtt_client c;
    recorder rec;
    fake f;
    uint8_t tx[1024 + GUARD];
    uint8_t rx[1024 + GUARD];
    size_t tx_cap, rx_cap;
} fixture;

static fixture fx;

static void setup_caps(size_t tx_cap, size_t rx_cap, size_t max_packet, uint32_t connack_ms,
                       uint32_t ping_ms)
{
    memset(&fx, 0, sizeof fx);
    fx.tx_cap = tx_cap;
    fx.rx_cap = rx_cap;
    hk_guard_fill(fx.tx, 0, sizeof fx.tx);
    hk_guard_fill(fx.rx, 0, sizeof fx.rx);
    fake_init(&fx.f);
    fx.rec.client = &fx.c;
    hk_mqtt_client_config cfg = {0};
    cfg.tx_buf = fx.tx;
    cfg.tx_cap = tx_cap;
    cfg.rx_buf = fx.rx;
    cfg.rx_cap = rx_cap;
    cfg.max_packet = max_packet;
    cfg.connack_timeout_ms = connack_ms;
    cfg.ping_timeout_ms = ping_ms;
    cfg.on_event = on_event;
    cfg.event_ctx = &fx.rec;
    HK_CHECK_RESULT(hk_mqtt_client_init(&fx.c, &cfg), HK_OK);
}

static void setup(void)
{
    setup_caps(1024, 1024, 0, 0, 0);
}

static void guards_intact(void)
{
    HK_CHECK(hk_guard_intact(fx.tx, fx.tx_cap, sizeof fx.tx));
    HK_CHECK(hk_guard_intact(fx.rx, fx.rx_cap, sizeof fx.rx));
}

static const char REG_ID[] = "sn0123ABCD4567EF01";
static const char DPS_USER[] = "0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31";
static const char DPS_TOPIC[] = "$dps/registrations/PUT/iotdps-register/?$rid=1";
static const char DPS_BODY[] = "{\"registrationId\":\"sn0123ABCD4567EF01\"}";

static const char DPS_CONNECT_HEX[] =
    "106300044d515454048200f00012736e303132334142434434353637454630310043306e6530303030303030302f"
    "726567697374726174696f6e732f736e303132334142434434353637454630312f6170692d76657273696f6e3d32"
    "3031392d30332d3331";
static const char DPS_SUBSCRIBE_HEX[] =
    "821d00010018246470732f726567697374726174696f6e732f7265732f2301";
static const char DPS_PUBLISH_HEX[] =
    "3259002e246470732f726567697374726174696f6e732f5055542f696f746470732d72656769737465722f3f2472"
    "69643d3100027b22726567697374726174696f6e4964223a22736e30313233414243443435363745463031227d";

static hk_mqtt_connect_options dps_options(void)
{
    hk_mqtt_connect_options o = {0};
    o.client_id = REG_ID;
    o.client_id_len = strlen(REG_ID);
    o.username = DPS_USER;
    o.username_len = strlen(DPS_USER);
    o.keep_alive_s = 240;
    o.clean_session = true;
    return o;
}

static hk_mqtt_connect_options small_options(uint16_t keep_alive_s, bool clean)
{
    hk_mqtt_connect_options o = {0};
    o.client_id = "c";
    o.client_id_len = 1;
    o.keep_alive_s = keep_alive_s;
    o.clean_session = clean;
    return o;
}

static hk_mqtt_publish dps_publish(void)
{
    hk_mqtt_publish m = {0};
    m.topic = DPS_TOPIC;
    m.topic_len = strlen(DPS_TOPIC);
    m.payload = (const uint8_t *)DPS_BODY;
    m.payload_len = strlen(DPS_BODY);
    m.qos = 1;
    return m;
}

static void connect_at(const hk_mqtt_connect_options *o, uint32_t now)
{
    hk_transport t = transport_of(&fx.f);
    HK_CHECK_RESULT(hk_mqtt_client_connect(&fx.c, &t, o, now), HK_OK);
}

static hk_result process(uint32_t now, uint32_t *deadline)
{
    uint32_t d;
    return hk_mqtt_client_process(&fx.c, now, deadline ? deadline : &d);
}

/* Connected session: CONNECT + CONNACK done, output cleared. */
static void connected(uint16_t keep_alive_s, bool clean, uint32_t now)
{
    hk_mqtt_connect_options o = small_options(keep_alive_s, clean);
    connect_at(&o, now);
    server_says(&fx.f, "20020000");
    HK_CHECK_RESULT(process(now, NULL), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_CONNECTED);
    fx.f.out_len = 0;
    fx.f.sends = 0;
    fx.rec.count = 0;
}

static void out_is(const char *hex)
{
    static uint8_t want[4096];
    size_t n = hk_test_unhex(hex, want, sizeof want);
    HK_CHECK_MEM(fx.f.out, fx.f.out_len, want, n);
}

static void out_is2(const char *hex1, const char *hex2)
{
    static uint8_t want[4096];
    size_t n = hk_test_unhex(hex1, want, sizeof want);
    n += hk_test_unhex(hex2, want + n, sizeof want - n);
    HK_CHECK_MEM(fx.f.out, fx.f.out_len, want, n);
}

/* ---- tests -------------------------------------------------------------- */

/* CONNECT, SUBSCRIBE and the first PUBLISH leave in one write before CONNACK
 * and are byte-exact (section D.2 vectors); the server's answers, read in one
 * piece, give the events in order. */
static void test_pipelining(void)
{
    setup();
    hk_mqtt_connect_options o = dps_options();
    connect_at(&o, 0);
    hk_mqtt_subscription sub = {"$dps/registrations/res/#", 24, 1};
    uint16_t sid = 0, pid = 0;
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &sid), HK_OK);
    hk_mqtt_publish m = dps_publish();
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &pid), HK_OK);
    HK_CHECK_EQ(sid, 1);
    HK_CHECK_EQ(pid, 2);
    HK_CHECK_EQ(fx.f.out_len, 0); /* nothing written before process() */
    uint32_t deadline = 0;
    HK_CHECK_RESULT(process(0, &deadline), HK_OK);
    HK_CHECK_EQ(fx.f.sends, 1);
    static uint8_t want[512];
    size_t n = hk_test_unhex(DPS_CONNECT_HEX, want, sizeof want);
    n += hk_test_unhex(DPS_SUBSCRIBE_HEX, want + n, sizeof want - n);
    n += hk_test_unhex(DPS_PUBLISH_HEX, want + n, sizeof want - n);
    HK_CHECK_MEM(fx.f.out, fx.f.out_len, want, n);
    HK_CHECK_EQ(deadline, HK_MQTT_CONNACK_TIMEOUT_MS);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_CONNECTING);
    HK_CHECK_EQ(fx.rec.count, 0);

    /* CONNACK, SUBACK (QoS 1), the DPS response (QoS 0), PUBACK 2. */
    server_says(&fx.f, "20020000" "9003000101" "300c0008246470732f7265737b7d" "40020002");
    HK_CHECK_RESULT(process(500, &deadline), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 4);
    HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_CONNACK);
    HK_CHECK_RESULT(fx.rec.ev[0].result, HK_OK);
    HK_CHECK(!fx.rec.ev[0].session_present);
    HK_CHECK_EQ(fx.rec.ev[1].type, HK_MQTT_EVENT_SUBACK);
    HK_CHECK_EQ(fx.rec.ev[1].packet_id, 1);
    HK_CHECK_RESULT(fx.rec.ev[1].result, HK_OK);
    HK_CHECK_MEM(fx.rec.ev[1].codes, fx.rec.ev[1].code_count, "\x01", 1);
    HK_CHECK_EQ(fx.rec.ev[2].type, HK_MQTT_EVENT_PUBLISH);
    HK_CHECK_STRN(fx.rec.ev[2].topic, fx.rec.ev[2].topic_len, "$dps/res");
    HK_CHECK_STRN(fx.rec.ev[2].payload, fx.rec.ev[2].payload_len, "{}");
    HK_CHECK_EQ(fx.rec.ev[3].type, HK_MQTT_EVENT_PUBACK);
    HK_CHECK_EQ(fx.rec.ev[3].packet_id, 2);
    HK_CHECK_RESULT(fx.rec.ev[3].result, HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_CONNECTED);
    /* Keep-alive 240 s counted from the write at t=0. */
    HK_CHECK_EQ(deadline, 240000);
    HK_CHECK_EQ(fx.f.out_len, n); /* no PUBACK for QoS 0 */
    guards_intact();
}

/* The same server stream delivered in chunks of every size, including one
 * byte at a time: identical events. */
static void test_split_reads(void)
{
    static const char server[] = "20020100" "9004000200" "80"
                                 "320b000474" "2f2f78000568" "6921"
                                 "d000" "b0020003" "30030001" "7a";
    for (size_t chunk = 1; chunk <= 30; chunk++) {
        setup();
        hk_mqtt_connect_options o = small_options(0, false);
        connect_at(&o, 0);
        fx.f.recv_chunk = chunk;
        server_says(&fx.f, server);
        for (uint32_t t = 0; t < 40 && fx.rec.count < 5; t++)
            HK_CHECK_RESULT(process(t, NULL), HK_OK);
        HK_CHECK_EQ(fx.rec.count, 5);
        HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_CONNACK);
        HK_CHECK(fx.rec.ev[0].session_present);
        HK_CHECK_EQ(fx.rec.ev[1].type, HK_MQTT_EVENT_SUBACK);
        HK_CHECK_RESULT(fx.rec.ev[1].result, HK_ERR_MQTT_SUBSCRIBE_FAILED);
        HK_CHECK_MEM(fx.rec.ev[1].codes, fx.rec.ev[1].code_count, "\x00\x80", 2);
        HK_CHECK_EQ(fx.rec.ev[2].type, HK_MQTT_EVENT_PUBLISH);
        HK_CHECK_STRN(fx.rec.ev[2].topic, fx.rec.ev[2].topic_len, "t//x");
        HK_CHECK_STRN(fx.rec.ev[2].payload, fx.rec.ev[2].payload_len, "hi!");
        HK_CHECK_EQ(fx.rec.ev[2].packet_id, 5);
        HK_CHECK_EQ(fx.rec.ev[3].type, HK_MQTT_EVENT_UNSUBACK);
        HK_CHECK_EQ(fx.rec.ev[3].packet_id, 3);
        HK_CHECK_EQ(fx.rec.ev[4].type, HK_MQTT_EVENT_PUBLISH);
        HK_CHECK_STRN(fx.rec.ev[4].topic, fx.rec.ev[4].topic_len, "z");
        /* CONNECT then exactly one PUBACK 5. */
        out_is2("100d00044d51545404000000000163", "40020005");
        guards_intact();
    }
}

/* Writes split at every size, and a transport that blocks between calls. */
static void test_split_writes(void)
{
    static uint8_t want[512];
    size_t n = hk_test_unhex(DPS_CONNECT_HEX, want, sizeof want);
    n += hk_test_unhex(DPS_SUBSCRIBE_HEX, want + n, sizeof want - n);
    for (size_t budget = 1; budget <= n; budget++) {
        setup();
        hk_mqtt_connect_options o = dps_options();
        connect_at(&o, 0);
        hk_mqtt_subscription sub = {"$dps/registrations/res/#", 24, 1};
        uint16_t id;
        HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &id), HK_OK);
        for (uint32_t t = 0; t < 400 && fx.f.out_len < n; t++) {
            fx.f.send_budget = budget; /* the socket drains `budget` bytes per tick */
            HK_CHECK_RESULT(process(t, NULL), HK_OK);
        }
        HK_CHECK_MEM(fx.f.out, fx.f.out_len, want, n);
        guards_intact();
    }
    /* Small chunks per call but no budget limit: all leaves in one process. */
    setup();
    hk_mqtt_connect_options o = dps_options();
    connect_at(&o, 0);
    fx.f.send_chunk = 3;
    HK_CHECK_RESULT(process(0, NULL), HK_OK);
    HK_CHECK_EQ(fx.f.out_len, 101);
}

static void test_keep_alive(void)
{
    setup_caps(1024, 1024, 0, 0, 5000);
    connected(10, true, 0);
    uint32_t d = 0;
    HK_CHECK_RESULT(process(9999, &d), HK_OK);
    HK_CHECK_EQ(d, 10000);
    HK_CHECK_EQ(fx.f.out_len, 0);
    HK_CHECK_RESULT(process(10000, &d), HK_OK);
    out_is("c000");
    HK_CHECK_EQ(d, 15000); /* PINGRESP due */
    /* No second PINGREQ while one is outstanding. */
    HK_CHECK_RESULT(process(14000, &d), HK_OK);
    out_is("c000");
    server_says(&fx.f, "d000");
    HK_CHECK_RESULT(process(12000 + 2000, &d), HK_OK);
    HK_CHECK_EQ(d, 20000); /* 10 s after the PINGREQ was written */
    /* Traffic of our own pushes the next PINGREQ out. */
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "t";
    m.topic_len = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    HK_CHECK_RESULT(process(16000, &d), HK_OK);
    HK_CHECK_EQ(d, 26000);
    out_is("c000" "30030001" "74");
    HK_CHECK_RESULT(process(26000, &d), HK_OK);
    out_is("c000" "30030001" "74" "c000");
    HK_CHECK_EQ(d, 31000);
    /* No PINGRESP: the session fails at the deadline, not before. */
    HK_CHECK_RESULT(process(30999, &d), HK_OK);
    HK_CHECK_RESULT(process(31000, &d), HK_ERR_MQTT_PING_TIMEOUT);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
    HK_CHECK_RESULT(process(31001, &d), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_MQTT_NOT_CONNECTED);
    guards_intact();
}

/* Keep-alive falls due while the socket is blocked and tx is full: the
 * PINGREQ waits (deadline now), and the delayed write itself then counts as
 * traffic, so no PINGREQ is needed after all. */
static void test_keep_alive_tx_full(void)
{
    setup_caps(16, 64, 0, 0, 0);
    connected(1, true, 0);
    fx.f.send_budget = 0;
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "t";
    m.topic_len = 1;
    m.payload = (const uint8_t *)"0123456789a";
    m.payload_len = 11; /* 16 bytes: tx full */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    uint32_t d = 0;
    HK_CHECK_RESULT(process(999, &d), HK_OK);
    HK_CHECK_EQ(d, 1000);
    HK_CHECK_RESULT(process(1000, &d), HK_OK);
    HK_CHECK_EQ(d, 1000);
    HK_CHECK_EQ(fx.f.out_len, 0);
    fx.f.send_budget = 100;
    HK_CHECK_RESULT(process(1500, &d), HK_OK);
    HK_CHECK_EQ(d, 2500);
    out_is("300e000174" "3031323334353637383961");
    HK_CHECK_RESULT(process(2500, &d), HK_OK);
    out_is("300e000174" "3031323334353637383961" "c000");
    guards_intact();
}

/* Default ping timeout, and a clock that wraps around 2^32. */
static void test_keep_alive_wrap(void)
{
    setup();
    uint32_t t0 = 0xFFFFF000u;
    connected(5, true, t0);
    uint32_t d = 0;
    HK_CHECK_RESULT(process(t0 + 100, &d), HK_OK);
    HK_CHECK_EQ(d, t0 + 5000); /* wrapped: 0x00000388 */
    HK_CHECK_RESULT(process(t0 + 4999, &d), HK_OK);
    HK_CHECK_EQ(fx.f.out_len, 0);
    HK_CHECK_RESULT(process(t0 + 5000, &d), HK_OK);
    out_is("c000");
    HK_CHECK_EQ(d, t0 + 5000 + HK_MQTT_PING_TIMEOUT_MS);
    HK_CHECK_RESULT(process(t0 + 5000 + HK_MQTT_PING_TIMEOUT_MS - 1, &d), HK_OK);
    HK_CHECK_RESULT(process(t0 + 5000 + HK_MQTT_PING_TIMEOUT_MS, &d), HK_ERR_MQTT_PING_TIMEOUT);
}

static void test_connack_timeout(void)
{
    setup_caps(1024, 1024, 0, 3000, 0);
    hk_mqtt_connect_options o = small_options(0, true);
    connect_at(&o, 1000);
    uint32_t d = 0;
    HK_CHECK_RESULT(process(1000, &d), HK_OK);
    HK_CHECK_EQ(d, 4000);
    HK_CHECK_RESULT(process(3999, &d), HK_OK);
    HK_CHECK_EQ(d, 4000);
    HK_CHECK_RESULT(process(4000, &d), HK_ERR_MQTT_CONNACK_TIMEOUT);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
    /* Across the wrap, with the default timeout. */
    setup();
    connect_at(&o, 0xFFFFFF00u);
    HK_CHECK_RESULT(process(0xFFFFFF00u + HK_MQTT_CONNACK_TIMEOUT_MS - 1, &d), HK_OK);
    HK_CHECK_RESULT(process(0xFFFFFF00u + HK_MQTT_CONNACK_TIMEOUT_MS, &d),
                    HK_ERR_MQTT_CONNACK_TIMEOUT);
    /* Without keep-alive and connected, nothing is scheduled. */
    setup();
    connected(0, true, 50);
    HK_CHECK_RESULT(process(60, &d), HK_OK);
    HK_CHECK_EQ(d, 60 + 0x40000000u);
}

static void test_connack_refusals(void)
{
    static const struct {
        const char *hex;
        hk_result r;
    } cases[] = {
        {"20020001", HK_ERR_MQTT_REFUSED_PROTOCOL},
        {"20020002", HK_ERR_MQTT_REFUSED_IDENTIFIER},
        {"20020003", HK_ERR_MQTT_REFUSED_UNAVAILABLE},
        {"20020004", HK_ERR_MQTT_REFUSED_CREDENTIALS},
        {"20020005", HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED},
        {"20020042", HK_ERR_MQTT_REFUSED_OTHER},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        setup();
        hk_mqtt_connect_options o = small_options(0, true);
        connect_at(&o, 0);
        server_says(&fx.f, cases[i].hex);
        HK_CHECK_RESULT(process(1, NULL), cases[i].r);
        HK_CHECK_EQ(fx.rec.count, 1);
        HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_CONNACK);
        HK_CHECK_RESULT(fx.rec.ev[0].result, cases[i].r);
        HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
    }
}

/* Hostile or broken server input: each ends the session with its error and
 * no event for the bad packet. */
static void test_protocol_errors(void)
{
    static const struct {
        const char *hex;
        bool after_connack;
        hk_result r;
    } cases[] = {
        {"40020001", false, HK_ERR_MQTT_PROTOCOL},        /* first packet not CONNACK */
        {"30030001" "74", false, HK_ERR_MQTT_PROTOCOL},
        {"20020100", false, HK_OK},                       /* (control: accepted) */
        {"20030000" "00", false, HK_ERR_MQTT_PROTOCOL},   /* bad CONNACK */
        {"20020000", true, HK_ERR_MQTT_PROTOCOL},         /* second CONNACK */
        {"34050001740001", true, HK_ERR_MQTT_QOS2},
        {"36050001740001", true, HK_ERR_MQTT_PROTOCOL},
        {"50020001", true, HK_ERR_MQTT_PROTOCOL},         /* PUBREC */
        {"62020001", true, HK_ERR_MQTT_PROTOCOL},         /* PUBREL */
        {"70020001", true, HK_ERR_MQTT_PROTOCOL},         /* PUBCOMP */
        {"c000", true, HK_ERR_MQTT_PROTOCOL},             /* PINGREQ from server */
        {"10020000", true, HK_ERR_MQTT_PROTOCOL},
        {"f000", true, HK_ERR_MQTT_PROTOCOL},
        {"0000", true, HK_ERR_MQTT_PROTOCOL},
        {"9003000103", true, HK_ERR_MQTT_PROTOCOL},
        {"40030001" "00", true, HK_ERR_MQTT_PROTOCOL},
        {"b0020000", true, HK_ERR_MQTT_PROTOCOL},
        {"d0020000", true, HK_ERR_MQTT_PROTOCOL},
        {"3080808080" "01", true, HK_ERR_MQTT_BAD_LENGTH},
        {"30ffffff7f", true, HK_ERR_MQTT_PACKET_TOO_LARGE},
        {"30e707", true, HK_ERR_MQTT_PACKET_TOO_LARGE},  /* 999 + 3 > 1000 */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        setup_caps(1024, 1024, 1000, 0, 0);
        if (cases[i].after_connack) {
            connected(0, true, 0);
        } else {
            hk_mqtt_connect_options o = small_options(0, true);
            connect_at(&o, 0);
        }
        size_t events = fx.rec.count;
        server_says(&fx.f, cases[i].hex);
        HK_CHECK_RESULT(process(1, NULL), cases[i].r);
        if (cases[i].r != HK_OK) {
            HK_CHECK_EQ(fx.rec.count, events);
            HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
        }
        guards_intact();
    }
    /* The largest packet that max_packet allows is delivered. */
    setup_caps(1024, 1024, 1000, 0, 0);
    connected(0, true, 0);
    size_t n = hk_test_unhex("30e5070001" "74", fx.f.in, 16); /* 3 + 997 = 1000 */
    memset(fx.f.in + n, 'x', 994);
    fx.f.in_len = n + 994;
    fx.f.in_pos = 0;
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 1);
    HK_CHECK_EQ(fx.rec.ev[0].payload_len, 0); /* too big for the recorder copy */
    HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_PUBLISH);
    guards_intact();
}

static void test_transport_errors(void)
{
    /* send fails */
    setup();
    hk_mqtt_connect_options o = small_options(0, true);
    connect_at(&o, 0);
    fx.f.send_err = HK_ERR_IO;
    HK_CHECK_RESULT(process(0, NULL), HK_ERR_IO);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
    /* send claims more than it was given */
    setup();
    connect_at(&o, 0);
    fx.f.send_lie = 1;
    HK_CHECK_RESULT(process(0, NULL), HK_ERR_IO);
    /* recv fails, recv claims too much, peer closes */
    setup();
    connected(0, true, 0);
    fx.f.recv_err = HK_ERR_TIMEOUT;
    HK_CHECK_RESULT(process(1, NULL), HK_ERR_TIMEOUT);
    setup();
    connected(0, true, 0);
    server_says(&fx.f, "d000");
    fx.f.recv_lie = 2000;
    HK_CHECK_RESULT(process(1, NULL), HK_ERR_IO);
    setup();
    connected(0, true, 0);
    server_says(&fx.f, "b0020007");
    fx.f.closed = true;
    HK_CHECK_RESULT(process(1, NULL), HK_ERR_CLOSED);
    HK_CHECK_EQ(fx.rec.count, 1); /* packets before the close are still handled */
    HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_UNSUBACK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
    guards_intact();
}

/* Incoming QoS 1 is acknowledged; QoS 0 is not; a reply published from the
 * callback follows the PUBACK. */
static void test_incoming_publish(void)
{
    setup();
    connected(0, true, 0);
    fx.rec.publish_on_publish = true;
    server_says(&fx.f, "3206000174" "1234" "aa" "30030001" "75");
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 2);
    HK_CHECK_EQ(fx.rec.ev[0].qos, 1);
    HK_CHECK_EQ(fx.rec.ev[0].packet_id, 0x1234);
    HK_CHECK_MEM(fx.rec.ev[0].payload, fx.rec.ev[0].payload_len, "\xaa", 1);
    HK_CHECK_EQ(fx.rec.ev[1].qos, 0);
    HK_CHECK_EQ(fx.rec.ev[1].packet_id, 0);
    out_is("40021234" "30030001" "72" "30030001" "72");
}

/* The tx buffer is full of unsent bytes: a QoS 1 PUBLISH waits in the rx
 * buffer until its PUBACK fits, and nothing is lost. */
static void test_puback_backpressure(void)
{
    setup_caps(16, 64, 0, 0, 0);
    connected(0, true, 0);
    fx.f.send_budget = 0; /* the socket blocks */
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "t";
    m.topic_len = 1;
    m.payload = (const uint8_t *)"abc";
    m.payload_len = 3;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK); /* 8 bytes */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK); /* tx full */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_FULL);
    server_says(&fx.f, "3205000174" "0009" "3205000174" "000a");
    uint32_t d = 0;
    HK_CHECK_RESULT(process(5, &d), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 0);
    HK_CHECK_EQ(d, 5); /* work left over */
    fx.f.send_budget = 8; /* the socket takes the first publish */
    HK_CHECK_RESULT(process(6, &d), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 2);
    fx.f.send_budget = 100;
    HK_CHECK_RESULT(process(7, &d), HK_OK);
    out_is("30060001" "74616263" "30060001" "74616263" "40020009" "4002000a");
    guards_intact();
}

static void test_resend_after_reconnect(void)
{
    setup();
    connected(0, false, 0);
    hk_mqtt_publish m = {0};
    uint16_t id1, id2;
    m.topic = "a";
    m.topic_len = 1;
    m.payload = (const uint8_t *)"1";
    m.payload_len = 1;
    m.qos = 1;
    m.retain = true;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id1), HK_OK);
    m.topic = "b";
    m.payload = (const uint8_t *)"2";
    m.retain = false;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id2), HK_OK);
    HK_CHECK_EQ(id1, 1);
    HK_CHECK_EQ(id2, 2);
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    out_is("3306000161000131" "3206000162000232");
    /* The connection drops before any PUBACK. */
    fx.f.closed = true;
    HK_CHECK_RESULT(process(2, NULL), HK_ERR_CLOSED);
    /* New transport, persistent session: both again, DUP set, same ids, in
     * order, behind CONNECT, in one write. */
    fake_init(&fx.f);
    hk_mqtt_connect_options o = small_options(0, false);
    connect_at(&o, 10);
    HK_CHECK_RESULT(process(10, NULL), HK_OK);
    HK_CHECK_EQ(fx.f.sends, 1);
    out_is2("100d00044d51545404000000000163", "3b06000161000131" "3a06000162000232");
    /* Only the first is acknowledged before another drop. */
    server_says(&fx.f, "20020100" "40020001");
    HK_CHECK_RESULT(process(11, NULL), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 2);
    HK_CHECK_EQ(fx.rec.ev[1].type, HK_MQTT_EVENT_PUBACK);
    HK_CHECK_EQ(fx.rec.ev[1].packet_id, 1);
    fx.f.recv_err = HK_ERR_IO;
    HK_CHECK_RESULT(process(12, NULL), HK_ERR_IO);
    fake_init(&fx.f);
    connect_at(&o, 20);
    HK_CHECK_RESULT(process(20, NULL), HK_OK);
    out_is2("100d00044d51545404000000000163", "3a06000162000232");
    /* A clean session instead drops it, reported as finished with CLOSED. */
    fx.f.closed = true;
    HK_CHECK_RESULT(process(21, NULL), HK_ERR_CLOSED);
    fake_init(&fx.f);
    fx.rec.count = 0;
    hk_mqtt_connect_options clean = small_options(0, true);
    connect_at(&clean, 30);
    HK_CHECK_EQ(fx.rec.count, 1);
    HK_CHECK_EQ(fx.rec.ev[0].type, HK_MQTT_EVENT_PUBACK);
    HK_CHECK_EQ(fx.rec.ev[0].packet_id, 2);
    HK_CHECK_RESULT(fx.rec.ev[0].result, HK_ERR_CLOSED);
    HK_CHECK_RESULT(process(30, NULL), HK_OK);
    out_is("100d00044d51545404020000000163");
    guards_intact();
}

/* A QoS 1 PUBLISH that never left (blocked socket) is not marked DUP when it
 * finally goes out on the next connection. */
static void test_unsent_not_dup(void)
{
    setup_caps(20, 64, 0, 0, 0);
    connected(0, false, 0);
    fx.f.send_budget = 0; /* the socket blocks */
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "t";
    m.topic_len = 1;
    m.payload = (const uint8_t *)"hello";
    m.payload_len = 5;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK); /* QoS 0, 10 bytes */
    m.topic = "a";
    m.payload = NULL;
    m.payload_len = 0;
    m.qos = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK); /* 7 bytes queued */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK); /* no room: waits */
    fx.f.send_err = HK_ERR_IO;
    HK_CHECK_RESULT(process(1, NULL), HK_ERR_IO);
    HK_CHECK_EQ(fx.f.out_len, 0);
    /* Next connection: CONNECT fills most of tx; the resends follow once it
     * is written, the first with DUP (it may have left), the second without. */
    fake_init(&fx.f);
    hk_mqtt_connect_options o = small_options(0, false);
    connect_at(&o, 5);
    HK_CHECK_RESULT(process(5, NULL), HK_OK);
    out_is("100d00044d51545404000000000163" "3a050001610001" "32050001610002");
    guards_intact();
}

static void test_inflight_table_and_ids(void)
{
    setup();
    connected(0, true, 0);
    hk_mqtt_publish m = {0};
    uint16_t id = 0;
    m.topic = "t";
    m.topic_len = 1;
    m.qos = 1;
    for (int i = 0; i < HK_MQTT_MAX_INFLIGHT; i++) {
        HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
        HK_CHECK_EQ(id, i + 1);
    }
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_FULL);
    HK_CHECK_EQ(id, 0);
    /* An unknown PUBACK is ignored; a known one frees a slot. */
    server_says(&fx.f, "40020063" "40020002");
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 1);
    HK_CHECK_EQ(fx.rec.ev[0].packet_id, 2);
    /* Ids wrap from 65535 to 1 and skip those still in flight (1, 3, 4). */
    fx.c._internal.last_id = 65534;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    HK_CHECK_EQ(id, 65535);
    server_says(&fx.f, "4002ffff");
    HK_CHECK_RESULT(process(2, NULL), HK_OK);
    hk_mqtt_subscription sub = {"s", 1, 0};
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &id), HK_OK);
    HK_CHECK_EQ(id, 2);
    HK_CHECK_RESULT(hk_mqtt_client_unsubscribe(&fx.c, &sub, 1, &id), HK_OK);
    HK_CHECK_EQ(id, 5);
    /* Invalid messages are refused without taking a slot. */
    m.qos = 2;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_INVALID_ARG);
    m.qos = 1;
    m.topic_len = 0;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_INVALID_ARG);
    m.qos = 0;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 0, &id), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(id, 0);
    m.topic_len = 1;
    m.qos = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    HK_CHECK_EQ(id, 7); /* 6 went to the refused SUBSCRIBE */
}

static void test_tx_limits(void)
{
    setup_caps(16, 64, 0, 0, 0);
    /* CONNECT larger than the tx buffer. */
    hk_mqtt_connect_options o = small_options(0, true);
    o.username = "0123456789";
    o.username_len = 10;
    hk_transport t = transport_of(&fx.f);
    HK_CHECK_RESULT(hk_mqtt_client_connect(&fx.c, &t, &o, 0), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_IDLE);
    connected(0, true, 0);
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "t";
    m.topic_len = 1;
    m.payload = (const uint8_t *)"0123456789abcdef";
    m.payload_len = 12; /* 17 bytes: never fits */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_BUFFER_TOO_SMALL);
    m.qos = 1;
    m.payload_len = 10; /* 17 bytes with the packet id */
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_BUFFER_TOO_SMALL);
    m.qos = 0;
    m.payload_len = 11; /* 16 bytes: fits an empty buffer */
    fx.f.send_budget = 0;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_FULL);
    hk_mqtt_subscription sub = {"s", 1, 1};
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &id), HK_ERR_FULL);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&fx.c), HK_ERR_FULL);
    /* Half of it leaves: the rest moves to the front and a SUBSCRIBE fits. */
    fx.f.send_budget = 10;
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &id), HK_OK);
    fx.f.send_budget = 100;
    HK_CHECK_RESULT(process(2, NULL), HK_OK);
    out_is("300e000174" "3031323334353637383961" "820600020001" "7301");
    guards_intact();
}

static void test_disconnect_and_states(void)
{
    setup();
    hk_mqtt_publish m = {0};
    uint16_t id = 9;
    m.topic = "t";
    m.topic_len = 1;
    hk_mqtt_subscription sub = {"s", 1, 0};
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_EQ(id, 0);
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&fx.c, &sub, 1, &id), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(hk_mqtt_client_unsubscribe(&fx.c, &sub, 1, &id), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&fx.c), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(process(0, NULL), HK_ERR_MQTT_NOT_CONNECTED);
    connected(0, true, 0);
    hk_mqtt_connect_options o = small_options(0, true);
    hk_transport t = transport_of(&fx.f);
    HK_CHECK_RESULT(hk_mqtt_client_connect(&fx.c, &t, &o, 0), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&fx.c), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_DISCONNECTING);
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&fx.c), HK_ERR_MQTT_NOT_CONNECTED);
    HK_CHECK_RESULT(hk_mqtt_client_connect(&fx.c, &t, &o, 0), HK_ERR_STATE);
    /* Blocked: stays DISCONNECTING and reads nothing. */
    fx.f.recvs = 0;
    fx.f.send_budget = 2;
    server_says(&fx.f, "d000");
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_DISCONNECTING);
    HK_CHECK_EQ(fx.f.recvs, 0);
    fx.f.send_budget = 100;
    HK_CHECK_RESULT(process(2, NULL), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_IDLE);
    out_is("30030001" "74" "e000");
    HK_CHECK_RESULT(process(3, NULL), HK_ERR_MQTT_NOT_CONNECTED);
    /* A new session may start after a disconnect. */
    fake_init(&fx.f);
    connect_at(&o, 4);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_CONNECTING);
    /* Transport errors on the DISCONNECT flush still fail the session. */
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&fx.c), HK_OK);
    fx.f.send_err = HK_ERR_IO;
    HK_CHECK_RESULT(process(5, NULL), HK_ERR_IO);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_FAILED);
}

/* Callbacks may publish or disconnect; the engine keeps the packet order. */
static void test_callback_reentry(void)
{
    setup();
    fx.rec.disconnect_on_connack = true;
    hk_mqtt_connect_options o = small_options(0, true);
    connect_at(&o, 0);
    server_says(&fx.f, "20020000" "30030001" "74");
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    HK_CHECK_EQ(fx.rec.count, 1); /* the PUBLISH after CONNACK is not read */
    HK_CHECK_EQ(hk_mqtt_client_get_state(&fx.c), HK_MQTT_STATE_IDLE);
    out_is2("100d00044d51545404020000000163", "e000");

    setup();
    fx.rec.publish_on_connack = true;
    connect_at(&o, 0);
    server_says(&fx.f, "20020000");
    HK_CHECK_RESULT(process(1, NULL), HK_OK);
    out_is2("100d00044d51545404020000000163", "30030001" "63");

    /* Clean-session drop: a publish made from the drop callback survives. */
    setup();
    connected(0, false, 0);
    hk_mqtt_publish m = {0};
    uint16_t id;
    m.topic = "q";
    m.topic_len = 1;
    m.qos = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&fx.c, &m, &id), HK_OK);
    fx.f.closed = true;
    HK_CHECK_RESULT(process(1, NULL), HK_ERR_CLOSED);
    fake_init(&fx.f);
    fx.rec.publish_on_drop = true;
    fx.rec.count = 0;
    hk_mqtt_connect_options clean = small_options(0, true);
    connect_at(&clean, 2);
    HK_CHECK_EQ(fx.rec.count, 1);
    HK_CHECK_RESULT(fx.rec.ev[0].result, HK_ERR_CLOSED);
    HK_CHECK_EQ(fx.c._internal.inflight_count, 1); /* only the new one */
    HK_CHECK_RESULT(process(2, NULL), HK_OK);
    out_is2("100d00044d51545404020000000163", "3205000171" "0002");
}

/* A peer that never stops sending cannot keep process() busy forever. */
static void test_bounded_reads(void)
{
    setup_caps(64, 16, 0, 0, 0);
    connected(30, true, 0);
    fx.f.endless = true;
    fx.f.recvs = 0;
    uint32_t d = 0;
    HK_CHECK_RESULT(process(1, &d), HK_OK);
    HK_CHECK_EQ(d, 1);
    HK_CHECK(fx.f.recvs <= 4);
    /* The keep-alive timer still runs. */
    HK_CHECK_RESULT(process(30000, &d), HK_OK);
    out_is("c000");
    guards_intact();
}

static void test_init_and_caller_bugs(void)
{
    hk_mqtt_client c;
    uint8_t tx[8], rx[8];
    hk_mqtt_client_config cfg = {0};
    cfg.tx_buf = tx;
    cfg.tx_cap = sizeof tx;
    cfg.rx_buf = rx;
    cfg.rx_cap = sizeof rx;
    cfg.on_event = on_event;
    HK_CHECK_RESULT(hk_mqtt_client_init(&c, &cfg), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&c), HK_MQTT_STATE_IDLE);
    cfg.max_packet = 9;
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, &cfg), HK_ERR_INVALID_ARG);
    cfg.max_packet = 0;
    cfg.tx_cap = 3;
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, &cfg), HK_ERR_INVALID_ARG);
    cfg.tx_cap = 8;
    cfg.rx_cap = 3;
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, &cfg), HK_ERR_INVALID_ARG);
    cfg.rx_cap = 8;
    cfg.rx_buf = NULL;
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, &cfg), HK_ERR_INVALID_ARG);
    cfg.rx_buf = rx;
    cfg.on_event = NULL;
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, &cfg), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_init(NULL, &cfg), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_init(&c, NULL), HK_ERR_INVALID_ARG);

    setup();
    hk_mqtt_connect_options o = small_options(0, true);
    hk_transport t = transport_of(&fx.f);
    hk_transport no_send = {&fx.f, NULL, fake_recv};
    uint32_t d;
    uint16_t id;
    HK_CHECK_REQUIRE(hk_mqtt_client_connect(&fx.c, &no_send, &o, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_connect(&fx.c, NULL, &o, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_connect(&fx.c, &t, NULL, 0), HK_ERR_INVALID_ARG);
    o.client_id_len = 70000;
    HK_CHECK_RESULT(hk_mqtt_client_connect(&fx.c, &t, &o, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_process(&fx.c, 0, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_process(NULL, 0, &d), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_publish(&fx.c, NULL, &id), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_subscribe(&fx.c, NULL, 1, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_client_disconnect(NULL), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_pipelining);
    HK_RUN(test_split_reads);
    HK_RUN(test_split_writes);
    HK_RUN(test_keep_alive);
    HK_RUN(test_keep_alive_tx_full);
    HK_RUN(test_keep_alive_wrap);
    HK_RUN(test_connack_timeout);
    HK_RUN(test_connack_refusals);
    HK_RUN(test_protocol_errors);
    HK_RUN(test_transport_errors);
    HK_RUN(test_incoming_publish);
    HK_RUN(test_puback_backpressure);
    HK_RUN(test_resend_after_reconnect);
    HK_RUN(test_unsent_not_dup);
    HK_RUN(test_inflight_table_and_ids);
    HK_RUN(test_tx_limits);
    HK_RUN(test_disconnect_and_states);
    HK_RUN(test_callback_reentry);
    HK_RUN(test_bounded_reads);
    HK_RUN(test_init_and_caller_bugs);
    return hk_test_finish("mqtt_client");
}
