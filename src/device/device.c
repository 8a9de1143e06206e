/*
 * The device boot flow (include/hubkey/device.h).
 *
 *   IDENTITY -> RECORD -+-> HUB_CONNECT -> HUB_SESSION -> READY
 *                       |        ^   |            |          |
 *                       v        |   +---- WAIT <-+----------+  (backoff)
 *              DPS_CONNECT -> DPS_REGISTER -> RECORD_WRITE
 *                       ^                         |
 *                       +-- hub refused (rate-limited) / hub lost too long
 *
 * Why the policy is what it is:
 *  - The old record is never erased before a new assignment is written:
 *    when DPS is down or refuses, the device still has a hub to go back to,
 *    and losing power mid-way leaves a usable record (hk_record writes are
 *    torn-write safe).
 *  - Re-provisioning after a hub refusal is limited to once per
 *    reprovision interval, measured in RAM from the start of the last DPS
 *    registration. A device whose enrollment still points at a hub that
 *    refuses it would otherwise alternate hub/DPS forever; with the limit it
 *    costs DPS a few registrations an hour. The first refusal after boot
 *    goes to DPS at once: a reboot is rare, and persisting a timestamp would
 *    wear the chip's slot for little gain.
 *  - Hub failures that are not refusals (network, 5xx-style closes) keep the
 *    assignment: the cached DPS result is reused, as Azure asks, with
 *    exponential backoff plus jitter; only after hub_fallback_ms without a
 *    session is DPS asked whether the device moved.
 *  - The register request goes out pipelined behind CONNECT and SUBSCRIBE
 *    (MQTT 3.1.1 allows it): one round trip less on slow links. It is sent
 *    at QoS 0: DPS answers with a PUBLISH anyway, and a lost request is
 *    covered by the machine's response timeout. A cut connection registers
 *    again on the next one (DPS treats it as the same registration), which
 *    costs at most one extra registration per cut.
 *  - Telemetry is QoS 1 with clean_session = 0 on the hub, so messages in
 *    flight survive a reconnect to the same hub (re-sent with DUP) and the
 *    hub keeps queued C2D messages. Moving to another hub goes through a
 *    clean DPS session, which drops them (SENT with HK_ERR_CLOSED).
 *  - Telemetry is accepted from HUB_SESSION on, before CONNACK: MQTT 3.1.1
 *    lets a client send packets before CONNACK, so a message handed over on
 *    entering HUB_SESSION leaves in the same flight as CONNECT and the
 *    SUBSCRIBEs and the first PUBACK comes one round trip after the TLS
 *    handshake instead of two. Nothing is lost by it: the hub handles
 *    packets in order, so a refused CONNECT closes the connection before it
 *    reads the PUBLISH, and the message stays in flight exactly as one sent
 *    on a session that was then lost (resent with DUP on the next
 *    connection to this hub, dropped with HK_ERR_CLOSED when the device
 *    goes to DPS). Twin and method calls still wait for READY: they travel
 *    at QoS 0, and no event would tell that one was lost with a refused
 *    connection.
 *  - The record is written from what the RECORD read learnt about the slot
 *    (hk_record_cache): the flow is the slot's only writer while it runs,
 *    so reading the 416 bytes again before the write would only repeat the
 *    first read (13 chip commands on an ATECC608A).
 *  - Jitter comes from a xorshift generator seeded by the chip's RNG once:
 *    one chip round trip per boot instead of one per backoff.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/device.h"
#include "hubkey/record.h"

#define FAR_MS 0x40000000u
#define SPAN_MAX 0x7fffffffu
#define SE_RETRIES 5u
#define DPS_BACKOFF_MIN_MS 1000u
#define DPS_BACKOFF_MAX_MS 60000u
#define DPS_JITTER_MS 1000u
#define DPS_ROUND_MIN_MS 5000u

typedef struct hk_device_internal dev_in;

/* ---- small helpers ---------------------------------------------------------- */

static bool reached(uint32_t now, uint32_t t)
{
    return (uint32_t)(now - t) <= SPAN_MAX;
}

/* The earlier of deadline dl and time t (t in the past counts as now). */
static uint32_t sooner(uint32_t now, uint32_t dl, uint32_t t)
{
    if (reached(now, t))
        t = now;
    return (uint32_t)(t - now) < (uint32_t)(dl - now) ? t : dl;
}

static uint32_t rand32(dev_in *I)
{
    uint32_t x = I->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    I->rng = x;
    return x;
}

static uint32_t pol(uint32_t v, uint32_t def)
{
    return v != 0 ? v : def;
}

static const char *const state_names[HK_DEVICE_STATE_COUNT_] = {
    "identity",  "record",      "dps-connect", "dps-register", "record-write", "hub-connect",
    "hub-session", "ready",     "wait",        "stopped",      "failed",
};

const char *hk_device_state_name(hk_device_state state)
{
    return (unsigned)state < HK_DEVICE_STATE_COUNT_ ? state_names[state] : "unknown";
}

static void emit(hk_device *dev, hk_device_event *ev)
{
    dev_in *I = &dev->_internal;
    if (I->cfg.on_event == NULL)
        return;
    ev->state = (hk_device_state)I->state;
    ev->elapsed_ms = I->now_ms - I->start_ms;
    I->cfg.on_event(I->cfg.event_ctx, ev);
}

static void set_state(hk_device *dev, hk_device_state st, hk_result why)
{
    dev_in *I = &dev->_internal;
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = HK_DEVICE_EVENT_STATE;
    ev.previous = (hk_device_state)I->state;
    ev.state_ms = I->now_ms - I->state_since_ms;
    ev.result = why;
    if (st == HK_DEVICE_STATE_WAIT) {
        ev.wait_ms = I->wait_until_ms - I->now_ms;
        ev.next_state = (hk_device_state)I->wait_next;
    }
    I->state = (uint8_t)st;
    I->state_since_ms = I->now_ms;
    I->visited |= 1u << st;
    emit(dev, &ev);
}

static void wait_then(hk_device *dev, uint32_t delay_ms, hk_device_state next, hk_result why)
{
    dev_in *I = &dev->_internal;
    I->wait_until_ms = I->now_ms + (delay_ms > SPAN_MAX ? SPAN_MAX : delay_ms);
    I->wait_next = (uint8_t)next;
    set_state(dev, HK_DEVICE_STATE_WAIT, why);
}

static uint32_t next_id(dev_in *I)
{
    if (++I->next_id == 0)
        I->next_id = 1;
    return I->next_id;
}

/* Decimal request id we generated ("17"); 0 for anything else. */
static uint32_t parse_id(const char *s, size_t n)
{
    uint32_t v = 0;
    if (s == NULL || n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    return v;
}

static size_t fmt_u32(uint32_t v, char out[11])
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* The DPS registration id alphabet (dps.h). */
static bool registration_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > HK_DPS_DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

static bool is_refusal(hk_result r)
{
    return r == HK_ERR_MQTT_REFUSED_IDENTIFIER || r == HK_ERR_MQTT_REFUSED_UNAVAILABLE ||
           r == HK_ERR_MQTT_REFUSED_CREDENTIALS || r == HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED ||
           r == HK_ERR_TLS_CLIENT_REJECTED;
}

static bool se_error(hk_result r)
{
    return (r >= 500 && r <= 599) || r == HK_ERR_IO || r == HK_ERR_TIMEOUT;
}

/* ---- connection ------------------------------------------------------------- */

static void close_link(hk_device *dev, bool graceful)
{
    dev_in *I = &dev->_internal;
    if (graceful && I->link_ready) {
        hk_mqtt_client_state s = hk_mqtt_client_get_state(&I->mqtt);
        if ((s == HK_MQTT_STATE_CONNECTED || s == HK_MQTT_STATE_CONNECTING) &&
            hk_mqtt_client_disconnect(&I->mqtt) == HK_OK) {
            uint32_t dl;
            (void)hk_mqtt_client_process(&I->mqtt, I->now_ms, &dl);
        }
    }
    if (I->link_open)
        I->cfg.link.close(I->cfg.link.ctx);
    I->link_open = false;
    I->link_ready = false;
    I->connack = false;
}

static void on_mqtt(void *ctx, const hk_mqtt_event *e);

/* Start an MQTT session; a session stuck flushing a DISCONNECT is reset. */
/* CONNECT with client_id and I->username[0..username_len); DPS and hub
 * differ only in those and in clean_session. */
static hk_result mqtt_start(hk_device *dev, const hk_transport *t, const char *client_id,
                            size_t username_len, bool clean_session)
{
    dev_in *I = &dev->_internal;
    hk_mqtt_connect_options opts;
    memset(&opts, 0, sizeof opts);
    opts.client_id = client_id;
    opts.client_id_len = strlen(client_id);
    opts.username = I->username;
    opts.username_len = username_len;
    opts.keep_alive_s = (uint16_t)pol(I->cfg.policy.keep_alive_s, HK_DEVICE_KEEP_ALIVE_S);
    opts.clean_session = clean_session;
    hk_result r = hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
    if (r != HK_ERR_STATE)
        return r;
    /* Messages the engine forgets here are reported as dropped. */
    for (size_t i = 0; i < HK_MQTT_MAX_INFLIGHT; i++) {
        if (!I->sending[i].used)
            continue;
        I->sending[i].used = false;
        hk_device_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = HK_DEVICE_EVENT_SENT;
        ev.id = I->sending[i].id;
        ev.result = HK_ERR_CLOSED;
        emit(dev, &ev);
    }
    hk_mqtt_client_config mc = {.tx_buf = I->tx, .tx_cap = sizeof I->tx, .rx_buf = I->rx,
                                .rx_cap = sizeof I->rx, .on_event = on_mqtt, .event_ctx = dev};
    HK_TRY(hk_mqtt_client_init(&I->mqtt, &mc));
    return hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
}

/* Open (first call) and advance the link. HK_OK with *out_ready when the
 * transport is usable; errors end the connection attempt. */
static hk_result link_progress(hk_device *dev, const char *host, uint16_t port,
                               const uint8_t *trust, size_t trust_len, uint32_t *dl,
                               bool *out_ready, hk_transport *out_t)
{
    dev_in *I = &dev->_internal;
    *out_ready = false;
    if (!I->link_open) {
        HK_TRY(I->cfg.link.open(I->cfg.link.ctx, host, port, trust, trust_len));
        I->link_open = true;
        I->link_since_ms = I->now_ms;
    }
    HK_TRY(I->cfg.link.poll(I->cfg.link.ctx, out_ready, out_t));
    if (*out_ready) {
        I->link_ready = true;
        return HK_OK;
    }
    uint32_t limit = I->link_since_ms + pol(I->cfg.policy.connect_timeout_ms,
                                            HK_DEVICE_CONNECT_TIMEOUT_MS);
    if (reached(I->now_ms, limit))
        return HK_ERR_TIMEOUT;
    *dl = sooner(I->now_ms, *dl, limit);
    return HK_OK;
}

/* ---- DPS -------------------------------------------------------------------- */

static bool can_reprovision(const dev_in *I)
{
    uint32_t interval = pol(I->cfg.policy.reprovision_interval_ms,
                            HK_DEVICE_REPROVISION_INTERVAL_MS);
    return !I->dps_done_once || reached(I->now_ms, I->last_dps_ms + interval);
}

static void start_dps_round(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    I->force_dps = false;
    I->dps_round_start_ms = I->now_ms;
    I->last_dps_ms = I->now_ms;
    I->dps_done_once = true;
    I->dps_attempt = 0;
    set_state(dev, HK_DEVICE_STATE_DPS_CONNECT, why);
}

static uint32_t dps_deadline(const dev_in *I)
{
    return I->dps_round_start_ms + pol(I->cfg.policy.dps_deadline_ms, HK_DEVICE_DPS_DEADLINE_MS);
}

static uint32_t hub_backoff(dev_in *I)
{
    const hk_device_policy *p = &I->cfg.policy;
    uint32_t d = hk_dps_backoff_ms(I->hub_attempt, pol(p->reconnect_min_ms,
                                                       HK_DEVICE_RECONNECT_MIN_MS),
                                   pol(p->reconnect_max_ms, HK_DEVICE_RECONNECT_MAX_MS),
                                   pol(p->reconnect_jitter_ms, HK_DEVICE_RECONNECT_JITTER_MS),
                                   rand32(I));
    if (I->hub_attempt < 32)
        I->hub_attempt++;
    return d;
}

/* The registration is over without an assignment. */
static void dps_round_over(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    if (I->has_record || I->assigned) {
        /* Back to the hub we know; DPS is asked again no sooner than the
         * reprovision interval allows. */
        wait_then(dev, hub_backoff(I), HK_DEVICE_STATE_HUB_CONNECT, why);
        return;
    }
    uint32_t max = pol(I->cfg.policy.reprovision_interval_ms, HK_DEVICE_REPROVISION_INTERVAL_MS);
    uint32_t d = hk_dps_backoff_ms(I->dps_round_attempt, DPS_ROUND_MIN_MS, max,
                                   DPS_JITTER_MS < max ? DPS_JITTER_MS : 0, rand32(I));
    if (I->dps_round_attempt < 32)
        I->dps_round_attempt++;
    I->force_dps = true;
    wait_then(dev, d, HK_DEVICE_STATE_RECORD, why);
}

/* The DPS connection failed; try again within the round's deadline. */
static void dps_conn_fail(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    if (reached(I->now_ms, dps_deadline(I))) {
        dps_round_over(dev, why);
        return;
    }
    uint32_t d = hk_dps_backoff_ms(I->dps_attempt, DPS_BACKOFF_MIN_MS, DPS_BACKOFF_MAX_MS,
                                   DPS_JITTER_MS, rand32(I));
    if (I->dps_attempt < 32)
        I->dps_attempt++;
    wait_then(dev, d, HK_DEVICE_STATE_DPS_CONNECT, why);
}

static void on_dps_publish(hk_device *dev, const hk_mqtt_publish *p)
{
    dev_in *I = &dev->_internal;
    hk_dps_response *resp = &I->response;
    hk_result r = hk_dps_response_parse(p->topic, p->topic_len, (const char *)p->payload,
                                        p->payload_len, I->tokens, HK_DPS_JSON_TOKENS, resp);
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = HK_DEVICE_EVENT_DPS_RESPONSE;
    ev.result = r;
    if (r == HK_OK) {
        ev.status = resp->topic.status;
        ev.retry_after_s = resp->topic.retry_after_s;
    }
    emit(dev, &ev);
    if (r != HK_OK ||
        hk_dps_machine_on_response(&I->dps, resp, I->now_ms, rand32(I)) != HK_OK)
        return;
    I->dps_fed = true;
    const char *hub, *device_id;
    hk_dps_substatus sub;
    if (hk_dps_machine_assignment(&I->dps, &hub, &device_id, &sub) != HK_OK)
        return;

    /* Assigned: remember whether it changes the record, then take it. */
    bool same = I->has_record && strcmp(hub, I->hub) == 0 && strcmp(device_id, I->device_id) == 0;
    size_t hl = strlen(hub), dl = strlen(device_id);
    if (hl >= sizeof I->hub || dl >= sizeof I->device_id)
        return; /* cannot happen: the parser bounds both */
    memcpy(I->hub, hub, hl + 1);
    memcpy(I->device_id, device_id, dl + 1);
    I->assigned = true;
    I->same_as_record = same;

    /* The trust bundle, PEM after PEM, for the hub connection. */
    I->trust_len = 0;
    I->trust_count = 0;
    hk_result tr = HK_OK;
    size_t off = 0;
    for (size_t i = 0; i < resp->trust_bundle_count && tr == HK_OK; i++) {
        size_t n = 0;
        tr = hk_dps_response_string_get(resp, resp->trust_bundle[i], I->trust + off,
                                        sizeof I->trust - off, &n);
        if (tr == HK_OK && off + n + 2 > sizeof I->trust)
            tr = HK_ERR_BUFFER_TOO_SMALL;
        if (tr == HK_OK) {
            off += n;
            I->trust[off++] = '\n';
        }
    }
    if (tr == HK_OK && off > 0) {
        I->trust[off] = '\0';
        I->trust_len = off + 1;
        I->trust_count = resp->trust_bundle_count;
    }

    memset(&ev, 0, sizeof ev);
    ev.type = HK_DEVICE_EVENT_ASSIGNED;
    ev.result = tr == HK_OK ? HK_OK : HK_ERR_LIMIT; /* LIMIT: bundle too large, not kept */
    ev.hub = I->hub;
    ev.device_id = I->device_id;
    ev.trust_bundle_count = I->trust_count;
    ev.payload = (const uint8_t *)resp->payload;
    ev.payload_len = resp->payload != NULL ? resp->payload_len : 0;
    emit(dev, &ev);
}

/* ---- hub -------------------------------------------------------------------- */

static void hub_fail(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    if (I->session_up &&
        reached(I->now_ms, I->ready_since_ms + HK_DEVICE_STABLE_MS))
        I->hub_attempt = 0;
    I->session_up = false;
    if (!I->hub_failing) {
        I->hub_failing = true;
        I->hub_fail_since_ms = I->now_ms;
    }
    uint32_t fallback = pol(I->cfg.policy.hub_fallback_ms, HK_DEVICE_HUB_FALLBACK_MS);
    bool want_dps = is_refusal(why) || reached(I->now_ms, I->hub_fail_since_ms + fallback);
    if (want_dps && can_reprovision(I)) {
        start_dps_round(dev, why);
        return;
    }
    wait_then(dev, hub_backoff(I), HK_DEVICE_STATE_HUB_CONNECT, why);
}

static hk_hub_client hub_client(const dev_in *I)
{
    hk_hub_client c;
    memset(&c, 0, sizeof c);
    c.host = I->hub;
    c.device_id = I->device_id;
    c.model_id = I->cfg.model_id;
    return c;
}

static void on_hub_publish(hk_device *dev, const hk_mqtt_publish *p)
{
    dev_in *I = &dev->_internal;
    hk_hub_topic t;
    if (hk_hub_topic_parse(p->topic, p->topic_len, &t) != HK_OK)
        return; /* not a topic the device knows: ignored */
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.payload = p->payload;
    ev.payload_len = p->payload_len;
    ev.status = t.status;
    ev.has_version = t.has_version;
    ev.version = t.version;
    ev.id = parse_id(t.rid, t.rid_len);
    switch (t.kind) {
    case HK_HUB_TOPIC_C2D:
        ev.type = HK_DEVICE_EVENT_C2D;
        ev.properties = t.properties;
        ev.properties_len = t.properties_len;
        ev.id = 0;
        break;
    case HK_HUB_TOPIC_TWIN_GET:
        ev.type = HK_DEVICE_EVENT_TWIN;
        break;
    case HK_HUB_TOPIC_TWIN_ERROR:
        ev.type = ev.id != 0 && ev.id == I->twin_get_id ? HK_DEVICE_EVENT_TWIN
                                                        : HK_DEVICE_EVENT_REPORTED;
        break;
    case HK_HUB_TOPIC_TWIN_REPORTED:
        ev.type = HK_DEVICE_EVENT_REPORTED;
        break;
    case HK_HUB_TOPIC_TWIN_DESIRED:
        ev.type = HK_DEVICE_EVENT_DESIRED;
        ev.id = 0;
        break;
    case HK_HUB_TOPIC_METHOD_REQUEST:
        ev.type = HK_DEVICE_EVENT_METHOD;
        ev.name = t.name;
        ev.name_len = t.name_len;
        ev.request_id = t.rid;
        ev.request_id_len = t.rid_len;
        ev.id = 0;
        break;
    default:
        return;
    }
    emit(dev, &ev);
}

static void on_mqtt(void *ctx, const hk_mqtt_event *e)
{
    hk_device *dev = ctx;
    dev_in *I = &dev->_internal;
    switch (e->type) {
    case HK_MQTT_EVENT_CONNACK:
        if (e->result == HK_OK)
            I->connack = true;
        break;
    case HK_MQTT_EVENT_SUBACK:
        if (e->result != HK_OK)
            I->session_error = e->result;
        break;
    case HK_MQTT_EVENT_PUBLISH:
        if (I->state == HK_DEVICE_STATE_DPS_REGISTER)
            on_dps_publish(dev, &e->publish);
        else if (I->state == HK_DEVICE_STATE_HUB_SESSION || I->state == HK_DEVICE_STATE_READY)
            on_hub_publish(dev, &e->publish);
        break;
    case HK_MQTT_EVENT_PUBACK:
        for (size_t i = 0; i < HK_MQTT_MAX_INFLIGHT; i++) {
            hk_device_sending *s = &I->sending[i];
            if (s->used && s->packet_id == e->packet_id) {
                s->used = false;
                hk_device_event ev;
                memset(&ev, 0, sizeof ev);
                ev.type = HK_DEVICE_EVENT_SENT;
                ev.id = s->id;
                ev.result = e->result;
                emit(dev, &ev);
                break;
            }
        }
        break;
    default:
        break;
    }
}

/* QoS 0 publish of topic I->topic (already built) with a copied payload. */
static hk_result publish0(dev_in *I, size_t topic_len, const void *payload, size_t len)
{
    hk_mqtt_publish m;
    memset(&m, 0, sizeof m);
    m.topic = I->topic;
    m.topic_len = topic_len;
    m.payload = payload;
    m.payload_len = len;
    uint16_t pid;
    hk_result r = hk_mqtt_client_publish(&I->mqtt, &m, &pid);
    if (r == HK_OK)
        I->kick = true;
    return r;
}

static hk_result twin_get(dev_in *I, uint32_t *out_id)
{
    char rid[11];
    uint32_t id = next_id(I);
    size_t n = fmt_u32(id, rid), tl = 0;
    HK_TRY(hk_hub_twin_get_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    HK_TRY(publish0(I, tl, NULL, 0));
    I->twin_get_id = id;
    if (out_id != NULL)
        *out_id = id;
    return HK_OK;
}

/* ---- the states --------------------------------------------------------------- */

static void se_retry(hk_device *dev, hk_device_state again, hk_result why)
{
    dev_in *I = &dev->_internal;
    uint32_t d = hk_dps_backoff_ms(I->se_attempt, 100u, 5000u, 100u, rand32(I));
    if (I->se_attempt < 32)
        I->se_attempt++;
    wait_then(dev, d, again, why);
}

static void fail_permanently(hk_device *dev, hk_result why)
{
    dev->_internal.fatal = why;
    set_state(dev, HK_DEVICE_STATE_FAILED, why);
}

static void do_identity(hk_device *dev)
{
    dev_in *I = &dev->_internal;
    const hk_se *se = I->cfg.se;
    size_t n = 0, cn = 0;
    hk_result r = se->cert(se->ctx, 0, I->rx, sizeof I->rx, &n);
    if (r == HK_OK && n > sizeof I->rx)
        r = HK_ERR_SE_RESPONSE;
    if (r != HK_OK) {
        if (r == HK_ERR_BUFFER_TOO_SMALL || r == HK_ERR_NOT_FOUND)
            fail_permanently(dev, r);
        else
            se_retry(dev, HK_DEVICE_STATE_IDENTITY, r);
        return;
    }
    r = hk_device_cert_cn(I->rx, n, I->registration_id, sizeof I->registration_id, &cn);
    if (r != HK_OK || !registration_id_ok(I->registration_id, cn)) {
        I->registration_id[0] = '\0';
        fail_permanently(dev, HK_ERR_CERT_PARSE);
        return;
    }
    uint8_t seed[4] = {0, 0, 0, 0};
    (void)se->random(se->ctx, seed, sizeof seed);
    uint32_t s = ((uint32_t)seed[0] << 24) | ((uint32_t)seed[1] << 16) |
                 ((uint32_t)seed[2] << 8) | seed[3];
    for (size_t i = 0; i < cn; i++) /* devices differ even if the RNG read failed */
        s = s * 31u + (uint8_t)I->registration_id[i];
    I->rng = s != 0 ? s : 0x9E3779B9u;
    I->se_attempt = 0;
    set_state(dev, HK_DEVICE_STATE_RECORD, HK_OK);
}

static void do_record(hk_device *dev)
{
    dev_in *I = &dev->_internal;
    hk_record rec;
    hk_result r = hk_record_read_cached(I->cfg.se, &rec, &I->rec_cache);
    if (r == HK_OK && (rec.hub_hostname_len >= sizeof I->hub ||
                       rec.device_id_len >= sizeof I->device_id))
        r = HK_ERR_RECORD_TOO_LONG; /* valid but not usable here: provision */
    if (r == HK_OK) {
        memcpy(I->hub, rec.hub_hostname, rec.hub_hostname_len + 1);
        memcpy(I->device_id, rec.device_id, rec.device_id_len + 1);
        I->has_record = true;
    } else if (r == HK_ERR_RECORD_EMPTY || r == HK_ERR_RECORD_CORRUPT ||
               r == HK_ERR_RECORD_VERSION || r == HK_ERR_RECORD_TOO_LONG) {
        I->has_record = false;
    } else {
        se_retry(dev, HK_DEVICE_STATE_RECORD, r);
        return;
    }
    I->se_attempt = 0;
    if (I->has_record && !I->force_dps)
        set_state(dev, HK_DEVICE_STATE_HUB_CONNECT, HK_OK);
    else
        start_dps_round(dev, r);
}

static void do_dps_connect(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    if (!I->link_open && reached(I->now_ms, dps_deadline(I))) {
        dps_round_over(dev, HK_ERR_DPS_DEADLINE);
        return;
    }
    const char *host = I->cfg.dps_host != NULL ? I->cfg.dps_host : HK_DPS_GLOBAL_HOST;
    bool ready = false;
    hk_transport t;
    hk_result r = link_progress(dev, host, pol(I->cfg.dps_port, 8883u), NULL, 0, dl, &ready, &t);
    if (r == HK_OK && !ready)
        return;
    hk_dps_client c = {.id_scope = I->cfg.id_scope, .registration_id = I->registration_id,
                       .api_version = HK_DPS_API_2019_03_31, .client_version = NULL};
    size_t ul = 0;
    if (r == HK_OK)
        r = hk_dps_username_build(&c, I->username, sizeof I->username, &ul);
    if (r == HK_OK)
        r = mqtt_start(dev, &t, I->registration_id, ul, true);
    hk_mqtt_subscription sub = {HK_DPS_SUBSCRIBE_FILTER, sizeof(HK_DPS_SUBSCRIBE_FILTER) - 1, 1};
    uint16_t pid;
    if (r == HK_OK)
        r = hk_mqtt_client_subscribe(&I->mqtt, &sub, 1, &pid);
    uint32_t left = dps_deadline(I) - I->now_ms;
    hk_dps_machine_config mc = {
        .deadline_ms = left != 0 ? left : 1,
        .response_timeout_ms = pol(I->cfg.policy.dps_response_timeout_ms,
                                   HK_DEVICE_DPS_RESPONSE_TIMEOUT_MS),
        .backoff_min_ms = DPS_BACKOFF_MIN_MS,
        .backoff_max_ms = DPS_BACKOFF_MAX_MS,
        .jitter_ms = DPS_JITTER_MS,
    };
    if (r == HK_OK)
        r = hk_dps_machine_init(&I->dps, &mc, I->now_ms);
    if (r != HK_OK) {
        dps_conn_fail(dev, r);
        return;
    }
    set_state(dev, HK_DEVICE_STATE_DPS_REGISTER, HK_OK);
}

/* Send what the machine asks for, then let MQTT move the bytes; again while
 * answers keep arriving (a response can come back within one process()).
 * The first pass publishes the register request before CONNECT has left,
 * so CONNECT, SUBSCRIBE and the request go out together. */
static void do_dps_register(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    for (int pass = 0; pass < 4; pass++) {
        bool published = false;
        uint32_t wait_dl = I->now_ms + FAR_MS;
        for (int k = 0; k < 3; k++) {
            hk_dps_step s;
            (void)hk_dps_machine_next(&I->dps, I->now_ms, rand32(I), &s);
            size_t tl = 0, bl = 0;
            hk_result r = HK_OK;
            if (s.action == HK_DPS_ACTION_SEND_REGISTER) {
                hk_dps_client c = {.id_scope = I->cfg.id_scope,
                                   .registration_id = I->registration_id,
                                   .api_version = HK_DPS_API_2019_03_31,
                                   .client_version = NULL};
                r = hk_dps_register_topic_build(s.rid, I->topic, sizeof I->topic, &tl);
                if (r == HK_OK)
                    r = hk_dps_register_body_build(&c, I->cfg.registration_payload, NULL,
                                                   I->body, sizeof I->body, &bl);
                if (r != HK_OK) { /* the configured payload cannot be sent */
                    close_link(dev, true);
                    dps_round_over(dev, r);
                    return;
                }
                (void)publish0(I, tl, I->body, bl); /* a lost send: the response timeout */
                published = true;
            } else if (s.action == HK_DPS_ACTION_SEND_POLL) {
                r = hk_dps_poll_topic_build(s.rid, s.operation_id, strlen(s.operation_id),
                                            I->topic, sizeof I->topic, &tl);
                if (r == HK_OK)
                    (void)publish0(I, tl, NULL, 0);
                published = true;
            } else if (s.action == HK_DPS_ACTION_WAIT) {
                wait_dl = s.wait_until_ms;
                break;
            } else if (s.action == HK_DPS_ACTION_ASSIGNED) {
                close_link(dev, true);
                I->dps_round_attempt = 0;
                set_state(dev, HK_DEVICE_STATE_RECORD_WRITE, HK_OK);
                return;
            } else {
                close_link(dev, true);
                dps_round_over(dev, s.result);
                return;
            }
        }
        I->kick = false;
        I->dps_fed = false;
        uint32_t mdl = 0;
        hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
        if (r != HK_OK) {
            dps_conn_fail(dev, r);
            return;
        }
        *dl = sooner(I->now_ms, sooner(I->now_ms, *dl, mdl), wait_dl);
        if (!published && !I->dps_fed)
            return;
    }
    *dl = I->now_ms; /* still busy: come back at once */
}

static void do_record_write(hk_device *dev)
{
    dev_in *I = &dev->_internal;
    hk_result r = HK_OK;
    if (!(I->has_record && I->same_as_record)) {
        r = hk_record_write_cached(I->cfg.se, &I->rec_cache, I->hub, strlen(I->hub),
                                   I->device_id, strlen(I->device_id), 0);
        if (r != HK_OK && se_error(r) && I->se_attempt + 1 < SE_RETRIES) {
            se_retry(dev, HK_DEVICE_STATE_RECORD_WRITE, r);
            return;
        }
        /* Written, or not writable (then the device still goes to the hub
         * with the assignment in RAM; the next boot registers again). */
        I->has_record = r == HK_OK;
    }
    I->se_attempt = 0;
    I->hub_attempt = 0;
    I->hub_failing = false;
    set_state(dev, HK_DEVICE_STATE_HUB_CONNECT, r);
}

static void do_hub_connect(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    bool ready = false;
    hk_transport t;
    const uint8_t *trust = I->trust_len != 0 ? (const uint8_t *)I->trust : NULL;
    hk_result r = link_progress(dev, I->hub, pol(I->cfg.hub_port, 8883u), trust, I->trust_len,
                                dl, &ready, &t);
    if (r == HK_OK && !ready)
        return;
    hk_hub_client c = hub_client(I);
    size_t ul = 0, fl = 0;
    if (r == HK_OK)
        r = hk_hub_username_build(&c, I->username, sizeof I->username, &ul);
    if (r == HK_OK)
        r = hk_hub_c2d_filter_build(&c, I->c2d_filter, sizeof I->c2d_filter, &fl);
    if (r == HK_OK)
        r = mqtt_start(dev, &t, I->device_id, ul, false);
    hk_mqtt_subscription subs[4] = {
        {I->c2d_filter, fl, 1},
        {HK_HUB_TWIN_RESPONSE_FILTER, sizeof(HK_HUB_TWIN_RESPONSE_FILTER) - 1, 1},
        {HK_HUB_TWIN_DESIRED_FILTER, sizeof(HK_HUB_TWIN_DESIRED_FILTER) - 1, 1},
        {HK_HUB_METHODS_FILTER, sizeof(HK_HUB_METHODS_FILTER) - 1, 1},
    };
    uint16_t pid;
    if (r == HK_OK)
        r = hk_mqtt_client_subscribe(&I->mqtt, subs, 4, &pid);
    if (r != HK_OK) {
        hub_fail(dev, r);
        return;
    }
    I->connack = false;
    I->session_error = HK_OK;
    set_state(dev, HK_DEVICE_STATE_HUB_SESSION, HK_OK);
}

static void do_hub_session(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    uint32_t mdl = 0;
    hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
    if (r == HK_OK && I->session_error != HK_OK)
        r = I->session_error;
    if (r != HK_OK) {
        hub_fail(dev, r);
        return;
    }
    *dl = sooner(I->now_ms, *dl, mdl);
    if (I->state == HK_DEVICE_STATE_HUB_SESSION && I->connack) {
        /* Desired updates are only sent while connected: GET the whole twin
         * after every connect so none is missed. */
        (void)twin_get(I, NULL);
        I->hub_failing = false;
        I->session_up = true;
        I->ready_since_ms = I->now_ms;
        set_state(dev, HK_DEVICE_STATE_READY, HK_OK);
    }
}

static void do_state(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    switch ((hk_device_state)I->state) {
    case HK_DEVICE_STATE_IDENTITY:
        do_identity(dev);
        break;
    case HK_DEVICE_STATE_RECORD:
        do_record(dev);
        break;
    case HK_DEVICE_STATE_DPS_CONNECT:
        do_dps_connect(dev, dl);
        break;
    case HK_DEVICE_STATE_DPS_REGISTER:
        do_dps_register(dev, dl);
        break;
    case HK_DEVICE_STATE_RECORD_WRITE:
        do_record_write(dev);
        break;
    case HK_DEVICE_STATE_HUB_CONNECT:
        do_hub_connect(dev, dl);
        break;
    case HK_DEVICE_STATE_HUB_SESSION:
    case HK_DEVICE_STATE_READY:
        do_hub_session(dev, dl);
        break;
    case HK_DEVICE_STATE_WAIT:
        if (reached(I->now_ms, I->wait_until_ms))
            set_state(dev, (hk_device_state)I->wait_next, HK_OK);
        else
            *dl = sooner(I->now_ms, *dl, I->wait_until_ms);
        break;
    default: /* STOPPED, FAILED */
        break;
    }
}

/* Requests made from callbacks (or between steps) take effect here. */
static void do_requests(hk_device *dev)
{
    dev_in *I = &dev->_internal;
    if (I->state == HK_DEVICE_STATE_FAILED)
        return;
    if (I->stop_requested) {
        I->stop_requested = false;
        if (I->state != HK_DEVICE_STATE_STOPPED) {
            close_link(dev, true);
            set_state(dev, HK_DEVICE_STATE_STOPPED, HK_OK);
        }
        return;
    }
    if (I->reprovision_requested && I->state > HK_DEVICE_STATE_RECORD &&
        I->state != HK_DEVICE_STATE_STOPPED) {
        I->reprovision_requested = false;
        close_link(dev, true);
        start_dps_round(dev, HK_OK);
    }
}

/* ---- public API --------------------------------------------------------------- */

hk_result hk_device_init(hk_device *dev, const hk_device_config *config, uint32_t now_ms)
{
    HK_REQUIRE(dev != NULL && config != NULL);
    const hk_device_policy *p = &config->policy;
    if (config->se == NULL || config->se->cert == NULL || config->se->random == NULL ||
        config->se->read_data == NULL || config->se->write_data == NULL ||
        config->link.open == NULL || config->link.poll == NULL || config->link.close == NULL ||
        config->link.wait == NULL || config->id_scope == NULL || config->id_scope[0] == '\0')
        return HK_ERR_INVALID_ARG;
    uint32_t rmin = pol(p->reconnect_min_ms, HK_DEVICE_RECONNECT_MIN_MS);
    uint32_t rmax = pol(p->reconnect_max_ms, HK_DEVICE_RECONNECT_MAX_MS);
    uint32_t jit = pol(p->reconnect_jitter_ms, HK_DEVICE_RECONNECT_JITTER_MS);
    if (rmin > rmax || jit > rmax || pol(p->dps_deadline_ms, 1) > SPAN_MAX ||
        pol(p->reprovision_interval_ms, 1) > SPAN_MAX || pol(p->hub_fallback_ms, 1) > SPAN_MAX)
        return HK_ERR_INVALID_ARG;
    memset(dev, 0, sizeof *dev);
    dev_in *I = &dev->_internal;
    I->cfg = *config;
    hk_mqtt_client_config mc = {.tx_buf = I->tx, .tx_cap = sizeof I->tx, .rx_buf = I->rx,
                                .rx_cap = sizeof I->rx, .on_event = on_mqtt, .event_ctx = dev};
    HK_TRY(hk_mqtt_client_init(&I->mqtt, &mc));
    I->now_ms = I->start_ms = I->state_since_ms = now_ms;
    I->state = HK_DEVICE_STATE_IDENTITY;
    I->visited = 1u << HK_DEVICE_STATE_IDENTITY;
    I->force_dps = config->force_provisioning;
    I->rng = 0x9E3779B9u;
    return HK_OK;
}

hk_result hk_device_step(hk_device *dev, uint32_t now_ms, uint32_t *out_next_deadline_ms)
{
    HK_REQUIRE(dev != NULL && out_next_deadline_ms != NULL);
    dev_in *I = &dev->_internal;
    I->now_ms = now_ms;
    I->in_step = true;
    uint32_t dl = now_ms + FAR_MS;
    bool settled = false;
    for (int i = 0; i < 16 && !settled; i++) {
        do_requests(dev);
        uint8_t before = I->state;
        dl = now_ms + FAR_MS;
        do_state(dev, &dl);
        settled = I->state == before;
    }
    if (!settled || I->kick || I->stop_requested || I->reprovision_requested)
        dl = now_ms; /* more to do right away */
    I->kick = false;
    I->in_step = false;
    *out_next_deadline_ms = dl;
    return I->state == HK_DEVICE_STATE_FAILED ? I->fatal : HK_OK;
}

hk_result hk_device_run(hk_device *dev, const hk_platform *platform, hk_device_state until,
                        uint32_t timeout_ms)
{
    HK_REQUIRE(dev != NULL && platform != NULL && platform->monotonic_ms != NULL);
    HK_REQUIRE((unsigned)until < HK_DEVICE_STATE_COUNT_ && timeout_ms <= SPAN_MAX);
    dev_in *I = &dev->_internal;
    uint32_t start = platform->monotonic_ms(platform->ctx);
    I->visited = 1u << I->state;
    for (;;) {
        uint32_t now = platform->monotonic_ms(platform->ctx), dl = 0;
        HK_TRY(hk_device_step(dev, now, &dl));
        if ((I->visited & (1u << until)) != 0 || I->state == HK_DEVICE_STATE_STOPPED)
            return HK_OK;
        now = platform->monotonic_ms(platform->ctx);
        uint32_t wait = reached(now, dl) ? 0 : dl - now;
        if (timeout_ms != 0) {
            uint32_t end = start + timeout_ms;
            if (reached(now, end))
                return HK_ERR_TIMEOUT;
            if (end - now < wait)
                wait = end - now;
        }
        if (wait != 0)
            I->cfg.link.wait(I->cfg.link.ctx, wait);
    }
}

hk_result hk_device_stop(hk_device *dev)
{
    HK_REQUIRE(dev != NULL);
    dev->_internal.stop_requested = true;
    if (!dev->_internal.in_step)
        do_requests(dev);
    return HK_OK;
}

hk_result hk_device_reprovision(hk_device *dev)
{
    HK_REQUIRE(dev != NULL);
    dev_in *I = &dev->_internal;
    if (I->state == HK_DEVICE_STATE_FAILED || I->state == HK_DEVICE_STATE_STOPPED)
        return HK_ERR_STATE;
    if (I->state <= HK_DEVICE_STATE_RECORD) {
        I->force_dps = true; /* the identity is not read yet: RECORD goes to DPS */
        return HK_OK;
    }
    I->reprovision_requested = true;
    if (!I->in_step)
        do_requests(dev);
    return HK_OK;
}

hk_result hk_device_send_telemetry(hk_device *dev, const uint8_t *payload, size_t payload_len,
                                   const hk_hub_telemetry_properties *props, uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL && (payload != NULL || payload_len == 0));
    dev_in *I = &dev->_internal;
    /* From HUB_SESSION on: queued behind CONNECT and the SUBSCRIBEs. */
    if (I->state != HK_DEVICE_STATE_HUB_SESSION && I->state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    hk_device_sending *slot = NULL;
    for (size_t i = 0; i < HK_MQTT_MAX_INFLIGHT && slot == NULL; i++)
        if (!I->sending[i].used)
            slot = &I->sending[i];
    if (slot == NULL)
        return HK_ERR_FULL;
    hk_hub_client c = hub_client(I);
    size_t tl = 0;
    HK_TRY(hk_hub_telemetry_topic_build(&c, props, slot->topic, sizeof slot->topic, &tl));
    hk_mqtt_publish m;
    memset(&m, 0, sizeof m);
    m.topic = slot->topic;
    m.topic_len = tl;
    m.payload = payload;
    m.payload_len = payload_len;
    m.qos = 1;
    uint16_t pid = 0;
    HK_TRY(hk_mqtt_client_publish(&I->mqtt, &m, &pid));
    slot->used = true;
    slot->packet_id = pid;
    slot->id = next_id(I);
    I->kick = true;
    if (out_id != NULL)
        *out_id = slot->id;
    return HK_OK;
}

hk_result hk_device_twin_get(hk_device *dev, uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL);
    if (dev->_internal.state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    return twin_get(&dev->_internal, out_id);
}

hk_result hk_device_twin_report(hk_device *dev, const char *json, size_t json_len,
                                uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL && json != NULL);
    dev_in *I = &dev->_internal;
    if (I->state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    char rid[11];
    uint32_t id = next_id(I);
    size_t n = fmt_u32(id, rid), tl = 0;
    HK_TRY(hk_hub_twin_patch_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    HK_TRY(publish0(I, tl, json, json_len));
    if (out_id != NULL)
        *out_id = id;
    return HK_OK;
}

hk_result hk_device_method_respond(hk_device *dev, const char *request_id, size_t request_id_len,
                                   unsigned status, const char *json, size_t json_len)
{
    HK_REQUIRE(dev != NULL && request_id != NULL && (json != NULL || json_len == 0));
    dev_in *I = &dev->_internal;
    if (I->state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    size_t tl = 0;
    HK_TRY(hk_hub_method_response_topic_build(status, request_id, request_id_len, I->topic,
                                              sizeof I->topic, &tl));
    return publish0(I, tl, json, json_len);
}

hk_device_state hk_device_get_state(const hk_device *dev)
{
    return dev == NULL ? HK_DEVICE_STATE_FAILED : (hk_device_state)dev->_internal.state;
}

hk_result hk_device_registration_id(const hk_device *dev, const char **out_id)
{
    HK_REQUIRE(dev != NULL && out_id != NULL);
    if (dev->_internal.registration_id[0] == '\0')
        return HK_ERR_STATE;
    *out_id = dev->_internal.registration_id;
    return HK_OK;
}

hk_result hk_device_assignment(const hk_device *dev, const char **out_hub,
                               const char **out_device_id)
{
    HK_REQUIRE(dev != NULL && out_hub != NULL && out_device_id != NULL);
    const dev_in *I = &dev->_internal;
    if (!(I->has_record || I->assigned) || I->hub[0] == '\0')
        return HK_ERR_DEVICE_NOT_ASSIGNED;
    *out_hub = I->hub;
    *out_device_id = I->device_id;
    return HK_OK;
}
