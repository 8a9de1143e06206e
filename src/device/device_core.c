/*
 * The boot flow's shared mechanics (device_core.h): time, events and state
 * changes, backoff, the link, the MQTT session start, publish bookkeeping.
 *
 *  - Jitter comes from a xorshift generator seeded by the chip's RNG once:
 *    one chip round trip per boot instead of one per backoff.
 *  - DPS and the hub differ in an MQTT session only in the client id, the
 *    user name and clean_session; one start serves both.
 */
#include <string.h>

#include "common/hk_common.h"
#include "device_core.h"

void hk_device_deadline_lower_(const hk_device_in *I, uint32_t *dl, uint32_t t)
{
    uint32_t now = I->now_ms;
    if (hk_device_reached_(now, t))
        t = now;
    if ((uint32_t)(t - now) < (uint32_t)(*dl - now))
        *dl = t;
}

uint32_t hk_device_random_next_(hk_device_in *I)
{
    uint32_t x = I->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    I->rng = x;
    return x;
}

uint32_t hk_device_id_next_(hk_device_in *I)
{
    if (++I->next_id == 0)
        I->next_id = 1;
    return I->next_id;
}

/* ---- results ------------------------------------------------------------------ */

bool hk_device_result_is_refusal_(hk_result r)
{
    return (r >= HK_ERR_MQTT_REFUSED_IDENTIFIER && r <= HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED) ||
           r == HK_ERR_TLS_CLIENT_REJECTED;
}

bool hk_device_result_is_se_(hk_result r)
{
    return (r >= 500 && r <= 599) || r == HK_ERR_IO || r == HK_ERR_TIMEOUT;
}

bool hk_device_result_is_identity_(hk_result r)
{
    return (r >= HK_ERR_CERT_TEMPLATE && r <= HK_ERR_CERT_PARSE) || r == HK_ERR_TLS_OWN_CERT;
}

/* ---- events and state changes ----------------------------------------------------- */

void hk_device_event_emit_(hk_device *dev, hk_device_event *ev)
{
    hk_device_in *I = &dev->_internal;
    if (I->cfg.on_event == NULL)
        return;
    ev->state = (hk_device_state)I->state;
    ev->elapsed_ms = I->now_ms - I->start_ms;
    I->cfg.on_event(I->cfg.event_ctx, ev);
}

void hk_device_state_set_(hk_device *dev, hk_device_state st, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = HK_DEVICE_EVENT_STATE;
    ev.change.previous = (hk_device_state)I->state;
    ev.change.state_ms = I->now_ms - I->state_since_ms;
    ev.change.result = why;
    if (st == HK_DEVICE_STATE_WAIT) {
        ev.change.wait_ms = I->wait_until_ms - I->now_ms;
        ev.change.next_state = (hk_device_state)I->wait_next;
    }
    I->state = (uint8_t)st;
    I->state_since_ms = I->now_ms;
    I->visited |= 1u << st;
    hk_device_event_emit_(dev, &ev);
}

void hk_device_wait_then_(hk_device *dev, uint32_t delay_ms, hk_device_state next, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    I->wait_until_ms = I->now_ms + (delay_ms > HK_DEVICE_SPAN_MAX ? HK_DEVICE_SPAN_MAX : delay_ms);
    I->wait_next = (uint8_t)next;
    hk_device_state_set_(dev, HK_DEVICE_STATE_WAIT, why);
}

void hk_device_backoff_then_(hk_device *dev, uint32_t *attempt, uint32_t min_ms, uint32_t max_ms,
                             uint32_t jitter_ms, hk_device_state next, hk_result why)
{
    uint32_t d = hk_dps_backoff_ms(*attempt, min_ms, max_ms, jitter_ms,
                                   hk_device_random_next_(&dev->_internal));
    if (*attempt < 32)
        ++*attempt;
    hk_device_wait_then_(dev, d, next, why);
}

/* ---- the connection ------------------------------------------------------------------ */

hk_device_outcome hk_device_link_connect_(hk_device *dev, const char *host, uint16_t port,
                                          size_t trust_len, uint32_t *dl, hk_transport *out_t,
                                          hk_result *out_why)
{
    hk_device_in *I = &dev->_internal;
    hk_result r = HK_OK;
    bool ready = false;
    if (!I->link_open) {
        r = I->cfg.link.open(I->cfg.link.ctx, host, port != 0 ? port : 8883u,
                             trust_len != 0 ? (const uint8_t *)I->trust : NULL, trust_len);
        I->link_open = r == HK_OK;
        I->link_since_ms = I->now_ms;
    }
    if (r == HK_OK)
        r = I->cfg.link.poll(I->cfg.link.ctx, &ready, out_t);
    if (r == HK_OK && !ready) {
        uint32_t limit = I->link_since_ms + I->cfg.policy.connect_timeout_ms;
        if (!hk_device_reached_(I->now_ms, limit)) {
            hk_device_deadline_lower_(I, dl, limit);
            return HK_DEVICE_OUTCOME_PENDING;
        }
        r = HK_ERR_TIMEOUT;
    }
    if (r == HK_OK) {
        I->link_ready = true;
        return HK_DEVICE_OUTCOME_CONNECTED;
    }
    hk_device_outcome o = hk_device_link_end_(dev, r, out_why);
    /* The link cannot present the identity: no connection will. */
    return hk_device_result_is_identity_(r) ? HK_DEVICE_OUTCOME_UNUSABLE : o;
}

hk_device_outcome hk_device_link_end_(hk_device *dev, hk_result why, hk_result *out_why)
{
    hk_device_link_close_(dev, false);
    *out_why = why;
    return hk_device_result_is_refusal_(why) ? HK_DEVICE_OUTCOME_REFUSED
                                             : HK_DEVICE_OUTCOME_CONNECTION_LOST;
}

void hk_device_link_close_(hk_device *dev, bool graceful)
{
    hk_device_in *I = &dev->_internal;
    if (graceful && I->link_ready) {
        hk_mqtt_client_state s = hk_mqtt_client_get_state(&I->mqtt);
        if ((s == HK_MQTT_STATE_CONNECTED || s == HK_MQTT_STATE_CONNECTING) &&
            hk_mqtt_client_disconnect(&I->mqtt) == HK_OK) {
            uint32_t dl;
            /* Best effort: what the DISCONNECT's flush returns changes nothing. */
            hk_result_ignore(hk_mqtt_client_process(&I->mqtt, I->now_ms, &dl));
        }
    }
    if (I->link_open)
        I->cfg.link.close(I->cfg.link.ctx);
    I->link_open = false;
    I->link_ready = false;
    I->connack = false;
}

/* ---- MQTT ---------------------------------------------------------------------------------- */

hk_result hk_device_mqtt_init_(hk_device *dev, hk_mqtt_event_fn on_event)
{
    hk_device_in *I = &dev->_internal;
    I->mqtt_event = on_event;
    hk_mqtt_client_config mc = {.tx_buf = I->tx, .tx_cap = sizeof I->tx, .rx_buf = I->rx,
                                .rx_cap = sizeof I->rx, .on_event = on_event, .event_ctx = dev};
    return hk_mqtt_client_init(&I->mqtt, &mc);
}

/* One call for DPS and the hub: CONNECT and SUBSCRIBE each have one call
 * site in the image (smaller under link-time optimisation). */
hk_result hk_device_mqtt_start_(hk_device *dev, const hk_transport *t, const char *client_id,
                                size_t username_len, bool clean_session,
                                const hk_mqtt_subscription *subs, size_t n)
{
    hk_device_in *I = &dev->_internal;
    hk_mqtt_connect_options opts;
    memset(&opts, 0, sizeof opts);
    opts.client_id = client_id;
    opts.client_id_len = strlen(client_id);
    opts.username = I->username;
    opts.username_len = username_len;
    opts.keep_alive_s = I->cfg.policy.keep_alive_s;
    opts.clean_session = clean_session;
    hk_result r = hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
    if (r == HK_ERR_STATE) {
        /* Messages the engine forgets here are reported as dropped. */
        hk_device_sent_finish_(dev, NULL, HK_ERR_CLOSED);
        r = hk_device_mqtt_init_(dev, I->mqtt_event);
        if (r == HK_OK)
            r = hk_mqtt_client_connect(&I->mqtt, t, &opts, I->now_ms);
    }
    uint16_t pid;
    if (r == HK_OK)
        r = hk_mqtt_client_subscribe(&I->mqtt, subs, n, &pid);
    return r;
}

hk_result hk_device_publish_(hk_device_in *I, const char *topic, size_t topic_len,
                             const void *payload, size_t len, uint8_t qos, uint16_t *out_pid)
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

hk_result hk_device_publish0_(hk_device_in *I, size_t topic_len, const void *payload, size_t len)
{
    uint16_t pid;
    return hk_device_publish_(I, I->topic, topic_len, payload, len, 0, &pid);
}

void hk_device_sent_finish_(hk_device *dev, const uint16_t *pid, hk_result result)
{
    for (size_t i = 0; i < HK_MQTT_MAX_INFLIGHT; i++) {
        hk_device_sending *s = &dev->_internal.sending[i];
        if (!s->used || (pid != NULL && s->packet_id != *pid))
            continue;
        s->used = false;
        hk_device_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = HK_DEVICE_EVENT_SENT;
        ev.sent.id = s->id;
        ev.sent.result = result;
        hk_device_event_emit_(dev, &ev);
        if (pid != NULL)
            return;
    }
}
