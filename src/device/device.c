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
 *    covered by the machine's response timeout. A cut connection resumes
 *    the round's registration machine on the next one: once DPS answered
 *    202 with an operation ID the operation is polled (DPS keeps it on the
 *    service and answers its status query on any connection), so a cut
 *    after the 202 costs no registration; a cut before it registers again
 *    (at most one extra registration per cut, bounded by the backoff).
 *  - A refusal of the identity that repeats (HK_DEVICE_REFUSALS_MAX
 *    connections in a row, the same result) is the server's word, not a
 *    passing fault: the round ends instead of repeating the handshake until
 *    the deadline. One refusal alone is retried: a server being
 *    reconfigured may refuse once.
 *  - An identity that cannot be used (certificates that cannot be rebuilt
 *    from the chip, no usable CN) fails the flow at once: no retry changes
 *    a definition that does not match the chip, and retrying would hide the
 *    cause behind timeouts.
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
#include <stddef.h>
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

/* Lower the deadline *dl to time t if t comes first (t in the past counts
 * as now). */
static void sooner(const dev_in *I, uint32_t *dl, uint32_t t)
{
    uint32_t now = I->now_ms;
    if (reached(now, t))
        t = now;
    if ((uint32_t)(t - now) < (uint32_t)(*dl - now))
        *dl = t;
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

/* The policy fields that are uint32_t, in the order of hk_device_policy,
 * with the default a zero selects. */
static const uint32_t policy_defaults[] = {
    HK_DEVICE_DPS_DEADLINE_MS,      HK_DEVICE_DPS_RESPONSE_TIMEOUT_MS,
    HK_DEVICE_REPROVISION_INTERVAL_MS, HK_DEVICE_HUB_FALLBACK_MS,
    HK_DEVICE_RECONNECT_MIN_MS,     HK_DEVICE_RECONNECT_MAX_MS,
    HK_DEVICE_RECONNECT_JITTER_MS,  HK_DEVICE_CONNECT_TIMEOUT_MS,
};
_Static_assert(offsetof(hk_device_policy, connect_timeout_ms) == 7 * sizeof(uint32_t) &&
                   offsetof(hk_device_policy, keep_alive_s) == 8 * sizeof(uint32_t),
               "the uint32_t policy fields come first, in the order of policy_defaults");

/* An array of its own, not string literals: literals share one section
 * with the strings the flow uses, which would keep the names in every
 * image, also where hk_device_state_name is not linked. */
static const char state_names[HK_DEVICE_STATE_COUNT_][13] = {
    "identity",  "record",      "dps-connect", "dps-register", "record-write", "hub-connect",
    "hub-session", "ready",     "wait",        "stopped",      "failed",
};

const char *hk_device_state_name(hk_device_state state)
{
    return (unsigned)state < HK_DEVICE_STATE_COUNT_ ? state_names[state] : "unknown";
}

/* Deliver ev, which the caller zeroed and filled (state and elapsed_ms are
 * set here). */
static void emit(hk_device *dev, hk_device_event *ev)
{
    dev_in *I = &dev->_internal;
    if (I->cfg.on_event == NULL)
        return;
    ev->state = (hk_device_state)I->state;
    ev->elapsed_ms = I->now_ms - I->start_ms;
    I->cfg.on_event(I->cfg.event_ctx, ev);
}

/* Telemetry finished with result: the message of packet *pid (its
 * PUBACK), or with pid NULL every message in flight (dropped). One SENT
 * event each. */
static void sent_done(hk_device *dev, const uint16_t *pid, hk_result result)
{
    for (size_t i = 0; i < HK_MQTT_MAX_INFLIGHT; i++) {
        hk_device_sending *s = &dev->_internal.sending[i];
        if (!s->used || (pid != NULL && s->packet_id != *pid))
            continue;
        s->used = false;
        hk_device_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = HK_DEVICE_EVENT_SENT;
        ev.id = s->id;
        ev.result = result;
        emit(dev, &ev);
        if (pid != NULL)
            return;
    }
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

/* Wait for the backoff of *attempt (counted up to 32), then go to next. */
static void backoff_then(hk_device *dev, uint32_t *attempt, uint32_t min_ms, uint32_t max_ms,
                         uint32_t jitter_ms, hk_device_state next, hk_result why)
{
    uint32_t d = hk_dps_backoff_ms(*attempt, min_ms, max_ms, jitter_ms, rand32(&dev->_internal));
    if (*attempt < 32)
        ++*attempt;
    wait_then(dev, d, next, why);
}

/* Back to the hub after its reconnect backoff. */
static void hub_later(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    const hk_device_policy *p = &I->cfg.policy;
    backoff_then(dev, &I->hub_attempt, p->reconnect_min_ms, p->reconnect_max_ms,
                 p->reconnect_jitter_ms, HK_DEVICE_STATE_HUB_CONNECT, why);
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

/* The DPS registration id alphabet (dps.h). */
static bool registration_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > HK_DPS_DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], l = (char)(c | 0x20);
        bool ok = (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '_' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

static bool is_refusal(hk_result r)
{
    return (r >= HK_ERR_MQTT_REFUSED_IDENTIFIER && r <= HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED) ||
           r == HK_ERR_TLS_CLIENT_REJECTED;
}

static bool se_error(hk_result r)
{
    return (r >= 500 && r <= 599) || r == HK_ERR_IO || r == HK_ERR_TIMEOUT;
}

/* The identity cannot be presented: the certificates cannot be rebuilt
 * from the chip (definitions that do not match it) or do not parse. No
 * retry changes that. */
static bool identity_error(hk_result r)
{
    return (r >= HK_ERR_CERT_TEMPLATE && r <= HK_ERR_CERT_PARSE) || r == HK_ERR_TLS_OWN_CERT;
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
            hk_result_ignore(hk_mqtt_client_process(&I->mqtt, I->now_ms, &dl));
        }
    }
    if (I->link_open)
        I->cfg.link.close(I->cfg.link.ctx);
    I->link_open = false;
    I->link_ready = false;
    I->connack = false;
}

static void on_mqtt(void *ctx, const hk_mqtt_event *e);

static hk_result mqtt_init(hk_device *dev)
{
    dev_in *I = &dev->_internal;
    hk_mqtt_client_config mc = {.tx_buf = I->tx, .tx_cap = sizeof I->tx, .rx_buf = I->rx,
                                .rx_cap = sizeof I->rx, .on_event = on_mqtt, .event_ctx = dev};
    return hk_mqtt_client_init(&I->mqtt, &mc);
}

/* Start an MQTT session; a session stuck flushing a DISCONNECT is reset.
 * CONNECT with client_id and I->username[0..username_len); DPS and hub
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
    opts.keep_alive_s = I->cfg.policy.keep_alive_s;
    opts.clean_session = clean_session;
    hk_result r = hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
    if (r != HK_ERR_STATE)
        return r;
    /* Messages the engine forgets here are reported as dropped. */
    sent_done(dev, NULL, HK_ERR_CLOSED);
    HK_TRY(mqtt_init(dev));
    return hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
}

/* ---- DPS -------------------------------------------------------------------- */

static void start_dps_round(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    I->force_dps = false;
    I->dps_round_start_ms = I->now_ms;
    I->last_dps_ms = I->now_ms;
    I->dps_done_once = true;
    I->dps_attempt = 0;
    I->refusals = 0;
    /* One registration machine per round, started here with the round's
     * deadline: every connection of the round resumes it (do_connect), so
     * an operation DPS already accepted (202) is polled, not registered
     * again. It cannot refuse this configuration: the deadline was checked
     * by hk_device_init and the other values are constants or defaults. */
    hk_dps_machine_config mc = {
        .deadline_ms = I->cfg.policy.dps_deadline_ms,
        .response_timeout_ms = I->cfg.policy.dps_response_timeout_ms,
        .backoff_min_ms = DPS_BACKOFF_MIN_MS,
        .backoff_max_ms = DPS_BACKOFF_MAX_MS,
        .jitter_ms = DPS_JITTER_MS,
    };
    hk_result_ignore(hk_dps_machine_init(&I->dps, &mc, I->now_ms));
    set_state(dev, HK_DEVICE_STATE_DPS_CONNECT, why);
}

static uint32_t dps_deadline(const dev_in *I)
{
    return I->dps_round_start_ms + I->cfg.policy.dps_deadline_ms;
}

/* The registration is over without an assignment. */
static void dps_round_over(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    if (I->has_record || I->assigned) {
        /* Back to the hub we know; DPS is asked again no sooner than the
         * reprovision interval allows. */
        hub_later(dev, why);
        return;
    }
    uint32_t max = I->cfg.policy.reprovision_interval_ms;
    I->force_dps = true;
    backoff_then(dev, &I->dps_round_attempt, DPS_ROUND_MIN_MS, max,
                 DPS_JITTER_MS < max ? DPS_JITTER_MS : 0, HK_DEVICE_STATE_RECORD, why);
}

/* The DPS connection failed; try again within the round's deadline, unless
 * DPS refused the identity HK_DEVICE_REFUSALS_MAX times in a row (the same
 * way each time: a refusal that repeats is not a passing fault). */
static void dps_conn_fail(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    bool refused = is_refusal(why);
    I->refusals = (uint8_t)(refused && why == I->refused_with ? I->refusals + 1u : refused);
    I->refused_with = why;
    if (reached(I->now_ms, dps_deadline(I)) || I->refusals >= HK_DEVICE_REFUSALS_MAX) {
        dps_round_over(dev, why);
        return;
    }
    backoff_then(dev, &I->dps_attempt, DPS_BACKOFF_MIN_MS, DPS_BACKOFF_MAX_MS, DPS_JITTER_MS,
                 HK_DEVICE_STATE_DPS_CONNECT, why);
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
    I->refusals = 0; /* DPS answered: whatever refused before did not last */
    const char *hub, *device_id;
    hk_dps_substatus sub;
    if (hk_dps_machine_assignment(&I->dps, &hub, &device_id, &sub) != HK_OK)
        return;

    /* Assigned: remember whether it changes the record, then take it. */
    size_t hl = strlen(hub) + 1, dl = strlen(device_id) + 1;
    if (hl > sizeof I->hub || dl > sizeof I->device_id)
        return; /* cannot happen: the parser bounds both */
    I->same_as_record = I->has_record && memcmp(hub, I->hub, hl) == 0 &&
                        memcmp(device_id, I->device_id, dl) == 0;
    memcpy(I->hub, hub, hl);
    memcpy(I->device_id, device_id, dl);
    I->assigned = true;

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

    ev.status = 0; /* the rest of ev is still zero */
    ev.retry_after_s = 0;
    ev.type = HK_DEVICE_EVENT_ASSIGNED;
    ev.result = tr == HK_OK ? HK_OK : HK_ERR_LIMIT; /* LIMIT: bundle too large, not kept */
    ev.hub = I->hub;
    ev.device_id = I->device_id;
    ev.trust_bundle_count = I->trust_count;
    if (resp->payload != NULL) {
        ev.payload = (const uint8_t *)resp->payload;
        ev.payload_len = resp->payload_len;
    }
    emit(dev, &ev);
}

/* ---- hub -------------------------------------------------------------------- */

static void hub_fail(hk_device *dev, hk_result why)
{
    dev_in *I = &dev->_internal;
    close_link(dev, false);
    if (I->session_up && reached(I->now_ms, I->ready_since_ms + HK_DEVICE_STABLE_MS))
        I->hub_attempt = 0;
    I->session_up = false;
    if (!I->hub_failing) {
        I->hub_failing = true;
        I->hub_fail_since_ms = I->now_ms;
    }
    bool want_dps = is_refusal(why) ||
                    reached(I->now_ms, I->hub_fail_since_ms + I->cfg.policy.hub_fallback_ms);
    /* DPS again at most once per reprovision interval (the first time at
     * once). */
    if (want_dps && (!I->dps_done_once ||
                     reached(I->now_ms, I->last_dps_ms + I->cfg.policy.reprovision_interval_ms))) {
        start_dps_round(dev, why);
        return;
    }
    hub_later(dev, why);
}

/* Event types of the hub topics, indexed by hk_hub_topic_kind (a twin
 * error is a REPORTED answer unless it answers our GET). */
static const uint8_t hub_event_type[] = {
    [HK_HUB_TOPIC_C2D] = HK_DEVICE_EVENT_C2D,
    [HK_HUB_TOPIC_TWIN_GET] = HK_DEVICE_EVENT_TWIN,
    [HK_HUB_TOPIC_TWIN_REPORTED] = HK_DEVICE_EVENT_REPORTED,
    [HK_HUB_TOPIC_TWIN_ERROR] = HK_DEVICE_EVENT_REPORTED,
    [HK_HUB_TOPIC_TWIN_DESIRED] = HK_DEVICE_EVENT_DESIRED,
    [HK_HUB_TOPIC_METHOD_REQUEST] = HK_DEVICE_EVENT_METHOD,
};

static void on_hub_publish(hk_device *dev, const hk_mqtt_publish *p)
{
    dev_in *I = &dev->_internal;
    hk_hub_topic t;
    if (hk_hub_topic_parse(p->topic, p->topic_len, &t) != HK_OK ||
        (unsigned)t.kind >= sizeof hub_event_type || hub_event_type[t.kind] == 0)
        return; /* not a topic the device knows: ignored */
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (hk_device_event_type)hub_event_type[t.kind];
    ev.payload = p->payload;
    ev.payload_len = p->payload_len;
    ev.status = t.status;
    ev.has_version = t.has_version;
    ev.version = t.version;
    /* Only a C2D message has properties, only a method a name (hub.h). */
    ev.properties = t.properties;
    ev.properties_len = t.properties_len;
    ev.name = t.name;
    ev.name_len = t.name_len;
    if (ev.type == HK_DEVICE_EVENT_METHOD) {
        ev.request_id = t.rid;
        ev.request_id_len = t.rid_len;
    } else if (ev.type != HK_DEVICE_EVENT_C2D && ev.type != HK_DEVICE_EVENT_DESIRED) {
        ev.id = parse_id(t.rid, t.rid_len); /* twin answers */
        if (t.kind == HK_HUB_TOPIC_TWIN_ERROR && ev.id != 0 && ev.id == I->twin_get_id)
            ev.type = HK_DEVICE_EVENT_TWIN;
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
        sent_done(dev, &e->packet_id, e->result);
        break;
    default:
        break;
    }
}

/* Publish topic (already built, topic_len bytes) with a payload the engine
 * copies; QoS 1 when *out_pid is wanted, else QoS 0. */
static hk_result publish(dev_in *I, const char *topic, size_t topic_len, const void *payload,
                         size_t len, uint8_t qos, uint16_t *out_pid)
{
    hk_mqtt_publish m;
    memset(&m, 0, sizeof m);
    m.topic = topic;
    m.topic_len = topic_len;
    m.payload = payload;
    m.payload_len = len;
    m.qos = qos;
    hk_result r = hk_mqtt_client_publish(&I->mqtt, &m, out_pid);
    if (r == HK_OK)
        I->kick = true;
    return r;
}

/* QoS 0 publish of topic I->topic (already built) with a copied payload. */
static hk_result publish0(dev_in *I, size_t topic_len, const void *payload, size_t len)
{
    uint16_t pid;
    return publish(I, I->topic, topic_len, payload, len, 0, &pid);
}

/* A twin request with a fresh request id: GET (json NULL) or a reported
 * patch. */
static hk_result twin_request(dev_in *I, const char *json, size_t json_len, uint32_t *out_id)
{
    char digits[10];
    char *rid = digits + sizeof digits;
    uint32_t id = next_id(I);
    size_t tl = 0;
    for (uint32_t v = id; v != 0; v /= 10u) /* decimal, written from the end */
        *--rid = (char)('0' + v % 10u);
    size_t n = (size_t)(digits + sizeof digits - rid);
    if (json == NULL)
        HK_TRY(hk_hub_twin_get_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    else
        HK_TRY(hk_hub_twin_patch_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    HK_TRY(publish0(I, tl, json, json_len));
    if (json == NULL)
        I->twin_get_id = id;
    if (out_id != NULL)
        *out_id = id;
    return HK_OK;
}

/* ---- the states --------------------------------------------------------------- */

static void se_retry(hk_device *dev, hk_device_state again, hk_result why)
{
    backoff_then(dev, &dev->_internal.se_attempt, 100u, 5000u, 100u, again, why);
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
        /* Only the chip not answering properly is worth a retry; a
         * certificate that cannot be rebuilt stays so. */
        if (se_error(r))
            se_retry(dev, HK_DEVICE_STATE_IDENTITY, r);
        else
            fail_permanently(dev, r);
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
    uint32_t s = 0;
    for (size_t i = 0; i < 4; i++)
        s = (s << 8) | seed[i];
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
    } else if (r != HK_ERR_RECORD_EMPTY && r != HK_ERR_RECORD_CORRUPT &&
               r != HK_ERR_RECORD_VERSION && r != HK_ERR_RECORD_TOO_LONG) {
        se_retry(dev, HK_DEVICE_STATE_RECORD, r);
        return;
    }
    I->has_record = r == HK_OK;
    I->se_attempt = 0;
    if (I->has_record && !I->force_dps)
        set_state(dev, HK_DEVICE_STATE_HUB_CONNECT, HK_OK);
    else
        start_dps_round(dev, r);
}

static const hk_mqtt_subscription dps_sub = {HK_DPS_SUBSCRIBE_FILTER,
                                             sizeof(HK_DPS_SUBSCRIBE_FILTER) - 1, 1};

/* DPS_CONNECT and HUB_CONNECT: open (first call) and advance the link;
 * once it is up, MQTT CONNECT and SUBSCRIBE (and, for DPS, a fresh
 * registration machine) are queued and the session state follows. A
 * failure ends the connection attempt (dps_conn_fail / hub_fail). */
static void do_connect(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    bool hub = I->state == HK_DEVICE_STATE_HUB_CONNECT;
    hk_result r = HK_OK;
    if (!I->link_open) {
        if (!hub && reached(I->now_ms, dps_deadline(I))) {
            dps_round_over(dev, HK_ERR_DPS_DEADLINE);
            return;
        }
        /* The hub gets the DPS trust bundle when one was kept. */
        const char *host = I->hub;
        uint16_t port = I->cfg.hub_port;
        size_t trust_len = I->trust_len;
        if (!hub) {
            host = I->cfg.dps_host != NULL ? I->cfg.dps_host : HK_DPS_GLOBAL_HOST;
            port = I->cfg.dps_port;
            trust_len = 0;
        }
        r = I->cfg.link.open(I->cfg.link.ctx, host, port != 0 ? port : 8883u,
                             trust_len != 0 ? (const uint8_t *)I->trust : NULL, trust_len);
        I->link_open = r == HK_OK;
        I->link_since_ms = I->now_ms;
    }
    bool ready = false;
    hk_transport t;
    if (r == HK_OK)
        r = I->cfg.link.poll(I->cfg.link.ctx, &ready, &t);
    if (r == HK_OK && !ready) {
        uint32_t limit = I->link_since_ms + I->cfg.policy.connect_timeout_ms;
        if (!reached(I->now_ms, limit)) {
            sooner(I, dl, limit);
            return;
        }
        r = HK_ERR_TIMEOUT;
    }
    if (identity_error(r)) {
        /* The link cannot present the identity: no connection will. */
        close_link(dev, false);
        fail_permanently(dev, r);
        return;
    }
    I->link_ready = r == HK_OK;
    size_t ul = 0, fl = 0;
    if (r == HK_OK)
        r = hub ? hk_hub_username_build(&I->hub_client, I->username, sizeof I->username, &ul)
                : hk_dps_username_build(&I->dps_client, I->username, sizeof I->username, &ul);
    if (r == HK_OK && hub)
        r = hk_hub_c2d_filter_build(&I->hub_client, I->c2d_filter, sizeof I->c2d_filter, &fl);
    if (r == HK_OK)
        r = mqtt_start(dev, &t, hub ? I->device_id : I->registration_id, ul, !hub);
    hk_mqtt_subscription subs[4] = {
        {I->c2d_filter, fl, 1},
        {HK_HUB_TWIN_RESPONSE_FILTER, sizeof(HK_HUB_TWIN_RESPONSE_FILTER) - 1, 1},
        {HK_HUB_TWIN_DESIRED_FILTER, sizeof(HK_HUB_TWIN_DESIRED_FILTER) - 1, 1},
        {HK_HUB_METHODS_FILTER, sizeof(HK_HUB_METHODS_FILTER) - 1, 1},
    };
    uint16_t pid;
    if (r == HK_OK)
        r = hk_mqtt_client_subscribe(&I->mqtt, hub ? subs : &dps_sub, hub ? 4 : 1, &pid);
    if (hub) {
        if (r != HK_OK) {
            hub_fail(dev, r);
            return;
        }
        I->connack = false;
        I->session_error = HK_OK;
        set_state(dev, HK_DEVICE_STATE_HUB_SESSION, HK_OK);
        return;
    }
    /* The round's machine (start_dps_round) carries on over this
     * connection: a request whose answer was lost with the last one is
     * sent again, a poll once DPS gave an operation ID. */
    if (r == HK_OK)
        r = hk_dps_machine_resume(&I->dps);
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
            hk_result_ignore(hk_dps_machine_next(&I->dps, I->now_ms, rand32(I), &s));
            size_t tl = 0, bl = 0;
            hk_result r = HK_OK;
            if (s.action == HK_DPS_ACTION_WAIT) {
                wait_dl = s.wait_until_ms;
                break;
            }
            if (s.action == HK_DPS_ACTION_SEND_REGISTER) {
                r = hk_dps_register_topic_build(s.rid, I->topic, sizeof I->topic, &tl);
                if (r == HK_OK)
                    r = hk_dps_register_body_build(&I->dps_client, I->cfg.registration_payload, NULL,
                                                   I->body, sizeof I->body, &bl);
                if (r == HK_OK) { /* else the configured payload cannot be sent */
                    (void)publish0(I, tl, I->body, bl); /* a lost send: the response timeout */
                    published = true;
                    continue;
                }
            } else if (s.action == HK_DPS_ACTION_SEND_POLL) {
                if (hk_dps_poll_topic_build(s.rid, s.operation_id, strlen(s.operation_id),
                                            I->topic, sizeof I->topic, &tl) == HK_OK)
                    (void)publish0(I, tl, NULL, 0);
                published = true;
                continue;
            }
            close_link(dev, true);
            if (s.action == HK_DPS_ACTION_ASSIGNED) {
                I->dps_round_attempt = 0;
                set_state(dev, HK_DEVICE_STATE_RECORD_WRITE, HK_OK);
            } else {
                dps_round_over(dev, r != HK_OK ? r : s.result);
            }
            return;
        }
        I->kick = false;
        I->dps_fed = false;
        uint32_t mdl = 0;
        hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
        if (r != HK_OK) {
            dps_conn_fail(dev, r);
            return;
        }
        sooner(I, dl, mdl);
        sooner(I, dl, wait_dl);
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

static void do_hub_session(hk_device *dev, uint32_t *dl)
{
    dev_in *I = &dev->_internal;
    uint32_t mdl = 0;
    hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
    if (r == HK_OK)
        r = I->session_error;
    if (r != HK_OK) {
        hub_fail(dev, r);
        return;
    }
    sooner(I, dl, mdl);
    if (I->state == HK_DEVICE_STATE_HUB_SESSION && I->connack) {
        /* Desired updates are only sent while connected: GET the whole twin
         * after every connect so none is missed. */
        (void)twin_request(I, NULL, 0, NULL);
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
    case HK_DEVICE_STATE_HUB_CONNECT:
        do_connect(dev, dl);
        break;
    case HK_DEVICE_STATE_DPS_REGISTER:
        do_dps_register(dev, dl);
        break;
    case HK_DEVICE_STATE_RECORD_WRITE:
        do_record_write(dev);
        break;
    case HK_DEVICE_STATE_HUB_SESSION:
    case HK_DEVICE_STATE_READY:
        do_hub_session(dev, dl);
        break;
    case HK_DEVICE_STATE_WAIT:
        if (reached(I->now_ms, I->wait_until_ms))
            set_state(dev, (hk_device_state)I->wait_next, HK_OK);
        else
            sooner(I, dl, I->wait_until_ms);
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
    const hk_se *se = config->se;
    const hk_device_link *l = &config->link;
    if (se == NULL || se->cert == NULL || se->random == NULL || se->read_data == NULL ||
        se->write_data == NULL || l->open == NULL || l->poll == NULL || l->close == NULL ||
        l->wait == NULL || config->id_scope == NULL || config->id_scope[0] == '\0')
        return HK_ERR_INVALID_ARG;
    memset(dev, 0, sizeof *dev);
    dev_in *I = &dev->_internal;
    I->cfg = *config;
    /* The policy with every zero replaced by its default. */
    hk_device_policy *p = &I->cfg.policy;
    for (size_t i = 0; i < HK_ARRAY_LEN(policy_defaults); i++) {
        uint32_t *f = (uint32_t *)(void *)((char *)p + i * sizeof(uint32_t));
        if (*f == 0)
            *f = policy_defaults[i];
    }
    if (p->keep_alive_s == 0)
        p->keep_alive_s = HK_DEVICE_KEEP_ALIVE_S;
    if (p->reconnect_min_ms > p->reconnect_max_ms || p->reconnect_jitter_ms > p->reconnect_max_ms ||
        p->dps_deadline_ms > SPAN_MAX || p->reprovision_interval_ms > SPAN_MAX ||
        p->hub_fallback_ms > SPAN_MAX ||
        (config->registration_payload != NULL &&
         strlen(config->registration_payload) > HK_DEVICE_PAYLOAD_MAX)) {
        /* Refused after the defaults were filled in: a device that is
         * stepped anyway stays FAILED instead of starting from IDENTITY. */
        I->state = HK_DEVICE_STATE_FAILED;
        return HK_ERR_INVALID_ARG;
    }
    I->dps_client.id_scope = config->id_scope;
    I->dps_client.registration_id = I->registration_id;
    I->dps_client.api_version = HK_DPS_API_2019_03_31;
    I->hub_client.host = I->hub;
    I->hub_client.device_id = I->device_id;
    I->hub_client.model_id = config->model_id;
    HK_TRY(mqtt_init(dev));
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
    hk_device_sending *slot = I->sending;
    while (slot->used)
        if (++slot == I->sending + HK_MQTT_MAX_INFLIGHT)
            return HK_ERR_FULL;
    size_t tl = 0;
    uint16_t pid = 0;
    HK_TRY(hk_hub_telemetry_topic_build(&I->hub_client, props, slot->topic, sizeof slot->topic, &tl));
    HK_TRY(publish(I, slot->topic, tl, payload, payload_len, 1, &pid));
    slot->used = true;
    slot->packet_id = pid;
    slot->id = next_id(I);
    if (out_id != NULL)
        *out_id = slot->id;
    return HK_OK;
}

hk_result hk_device_twin_get(hk_device *dev, uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL);
    if (dev->_internal.state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    return twin_request(&dev->_internal, NULL, 0, out_id);
}

hk_result hk_device_twin_report(hk_device *dev, const char *json, size_t json_len,
                                uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL && json != NULL);
    if (dev->_internal.state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    return twin_request(&dev->_internal, json, json_len, out_id);
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
