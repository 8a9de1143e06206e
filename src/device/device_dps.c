/*
 * The DPS round (device_dps.h).
 *
 *  - The register request goes out pipelined behind CONNECT and SUBSCRIBE
 *    (MQTT 3.1.1 allows it): one round trip less on slow links. It is sent
 *    at QoS 0: DPS answers with a PUBLISH anyway, and a lost request is
 *    covered by the machine's response timeout.
 *  - A cut connection resumes the round's registration machine on the next
 *    one: once DPS answered 202 with an operation ID the operation is
 *    polled (DPS keeps it on the service and answers its status query on
 *    any connection), so a cut after the 202 costs no registration; a cut
 *    before it registers again (at most one extra registration per cut,
 *    bounded by the policy's backoff).
 */
#include <string.h>

#include "common/hk_common.h"
#include "device_dps.h"


void hk_device_dps_round_init_(hk_device *dev)
{
    hk_device_in *I = &dev->_internal;
    /* One registration machine per round, started here with the round's
     * deadline: every connection of the round resumes it, so an operation
     * DPS already accepted (202) is polled, not registered again. It
     * cannot refuse this configuration: the deadline was checked by
     * hk_device_init and the other values are constants or defaults. */
    hk_dps_machine_config mc = {
        .deadline_ms = I->cfg.policy.dps_deadline_ms,
        .response_timeout_ms = I->cfg.policy.dps_response_timeout_ms,
        .backoff_min_ms = HK_DEVICE_DPS_BACKOFF_MIN_MS,
        .backoff_max_ms = HK_DEVICE_DPS_BACKOFF_MAX_MS,
        .jitter_ms = HK_DEVICE_DPS_JITTER_MS,
    };
    hk_result_ignore(hk_dps_machine_init(&I->dps, &mc, I->now_ms));
}

static const hk_mqtt_subscription dps_sub = {HK_DPS_SUBSCRIBE_FILTER,
                                             sizeof(HK_DPS_SUBSCRIBE_FILTER) - 1, 1};

hk_device_outcome hk_device_dps_connect_(hk_device *dev, uint32_t *dl, hk_result *out_why)
{
    hk_device_in *I = &dev->_internal;
    hk_transport t;
    const char *host = I->cfg.dps_host != NULL ? I->cfg.dps_host : HK_DPS_GLOBAL_HOST;
    hk_device_outcome o = hk_device_link_connect_(dev, host, I->cfg.dps_port, 0, dl, &t, out_why);
    if (o != HK_DEVICE_OUTCOME_CONNECTED)
        return o;
    size_t ul = 0;
    hk_result r = hk_dps_username_build(&I->dps_client, I->username, sizeof I->username, &ul);
    if (r == HK_OK)
        r = hk_device_mqtt_start_(dev, &t, I->registration_id, ul, true, &dps_sub, 1);
    /* The round's machine carries on over this connection: a request whose
     * answer was lost with the last one is sent again, a poll once DPS
     * gave an operation ID. */
    if (r == HK_OK)
        r = hk_dps_machine_resume(&I->dps);
    if (r != HK_OK)
        return hk_device_link_end_(dev, r, out_why);
    return HK_DEVICE_OUTCOME_CONNECTED;
}

/* Send what the machine asks for, then let MQTT move the bytes; again while
 * answers keep arriving (a response can come back within one process()).
 * The first pass publishes the register request before CONNECT has left,
 * so CONNECT, SUBSCRIBE and the request go out together. */
hk_device_outcome hk_device_dps_register_(hk_device *dev, uint32_t *dl, hk_result *out_why)
{
    hk_device_in *I = &dev->_internal;
    for (int pass = 0; pass < 4; pass++) {
        bool published = false;
        uint32_t wait_dl = I->now_ms + HK_DEVICE_FAR_MS;
        for (int k = 0; k < 3; k++) {
            hk_dps_step s;
            /* It fails only for a caller bug (NULL), and s then says FAILED. */
            uint32_t random = hk_device_random_next_(I);
            hk_result_ignore(hk_dps_machine_next(&I->dps, I->now_ms, random, &s));
            size_t tl = 0, bl = 0;
            hk_result r = HK_OK;
            if (s.action == HK_DPS_ACTION_WAIT) {
                wait_dl = s.wait_until_ms;
                break;
            }
            /* A send that fails is covered by the response timeout. */
            if (s.action == HK_DPS_ACTION_SEND_REGISTER) {
                r = hk_dps_register_topic_build(s.rid, I->topic, sizeof I->topic, &tl);
                if (r == HK_OK)
                    r = hk_dps_register_body_build(&I->dps_client, I->cfg.registration_payload,
                                                   NULL, I->body, sizeof I->body, &bl);
                if (r == HK_OK) { /* else the configured payload cannot be sent */
                    hk_result_ignore(hk_device_publish0_(I, tl, I->body, bl));
                    published = true;
                    continue;
                }
            } else if (s.action == HK_DPS_ACTION_SEND_POLL) {
                if (hk_dps_poll_topic_build(s.rid, s.operation_id, strlen(s.operation_id),
                                            I->topic, sizeof I->topic, &tl) == HK_OK)
                    hk_result_ignore(hk_device_publish0_(I, tl, NULL, 0));
                published = true;
                continue;
            }
            hk_device_link_close_(dev, true);
            if (s.action == HK_DPS_ACTION_ASSIGNED)
                return HK_DEVICE_OUTCOME_ASSIGNED;
            *out_why = r != HK_OK ? r : s.result;
            return HK_DEVICE_OUTCOME_FAILED;
        }
        I->kick = false;
        I->dps_fed = false;
        uint32_t mdl = 0;
        hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
        if (r != HK_OK)
            return hk_device_link_end_(dev, r, out_why);
        hk_device_deadline_lower_(I, dl, mdl);
        hk_device_deadline_lower_(I, dl, wait_dl);
        if (!published && !I->dps_fed)
            return HK_DEVICE_OUTCOME_PENDING;
    }
    *dl = I->now_ms; /* still busy: come back at once */
    return HK_DEVICE_OUTCOME_PENDING;
}

/* Take the assignment the machine holds: whether it changes the record,
 * hub and device ID, the trust bundle (PEM after PEM, for the hub
 * connection). HK_ERR_LIMIT: the bundle is too large and not kept;
 * HK_ERR_BUFFER_TOO_SMALL: nothing taken (cannot happen: the parser bounds
 * both names). */
static hk_result assignment_take(hk_device_in *I, const hk_dps_response *resp, const char *hub,
                                 const char *device_id)
{
    size_t hl = strlen(hub) + 1, dl = strlen(device_id) + 1;
    if (hl > sizeof I->hub || dl > sizeof I->device_id)
        return HK_ERR_BUFFER_TOO_SMALL;
    I->same_as_record = I->has_record && memcmp(hub, I->hub, hl) == 0 &&
                        memcmp(device_id, I->device_id, dl) == 0;
    memcpy(I->hub, hub, hl);
    memcpy(I->device_id, device_id, dl);
    I->assigned = true;

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
    return tr == HK_OK ? HK_OK : HK_ERR_LIMIT;
}

void hk_device_dps_publish_(hk_device *dev, const hk_mqtt_publish *p)
{
    hk_device_in *I = &dev->_internal;
    hk_dps_response *resp = &I->response;
    hk_result r = hk_dps_response_parse(p->topic, p->topic_len, (const char *)p->payload,
                                        p->payload_len, I->tokens, HK_DPS_JSON_TOKENS, resp);
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = HK_DEVICE_EVENT_DPS_RESPONSE;
    ev.dps_response.result = r;
    if (r == HK_OK) {
        ev.dps_response.status = resp->topic.status;
        ev.dps_response.retry_after_s = resp->topic.retry_after_s;
    }
    hk_device_event_emit_(dev, &ev);
    if (r != HK_OK ||
        hk_dps_machine_on_response(&I->dps, resp, I->now_ms, hk_device_random_next_(I)) != HK_OK)
        return;
    I->dps_fed = true;
    I->refusals = 0; /* DPS answered: whatever refused before did not last */
    const char *hub, *device_id;
    hk_dps_substatus sub;
    if (hk_dps_machine_assignment(&I->dps, &hub, &device_id, &sub) != HK_OK)
        return;
    r = assignment_take(I, resp, hub, device_id);
    if (r == HK_ERR_BUFFER_TOO_SMALL)
        return;

    /* The ASSIGNED event reuses ev: hub and device_id cover the response's
     * status and retry-after, payload lies beyond them (still zero). */
    ev.type = HK_DEVICE_EVENT_ASSIGNED;
    ev.assigned.result = r;
    ev.assigned.hub = I->hub;
    ev.assigned.device_id = I->device_id;
    ev.assigned.trust_bundle_count = I->trust_count;
    if (resp->payload != NULL) {
        ev.assigned.payload = (const uint8_t *)resp->payload;
        ev.assigned.payload_len = resp->payload_len;
    }
    hk_device_event_emit_(dev, &ev);
}
