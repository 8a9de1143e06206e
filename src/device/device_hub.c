/*
 * The hub session (device_hub.h): connection, MQTT session, and what the
 * hub sends, turned into events.
 *
 *  - Telemetry is QoS 1 with clean_session = 0 on the hub, so messages in
 *    flight survive a reconnect to the same hub (re-sent with DUP) and the
 *    hub keeps queued C2D messages.
 *  - Desired updates are only sent while connected: the whole twin is
 *    asked for (GET) after every connect so none is missed.
 */
#include <string.h>

#include "common/hk_common.h"
#include "device_hub.h"

hk_device_outcome hk_device_hub_connect_(hk_device *dev, uint32_t *dl, hk_result *out_why)
{
    hk_device_in *I = &dev->_internal;
    hk_transport t;
    /* The hub gets the DPS trust bundle when one was kept. */
    hk_device_outcome o =
        hk_device_link_connect_(dev, I->hub, I->cfg.hub_port, I->trust_len, dl, &t, out_why);
    if (o != HK_DEVICE_OUTCOME_CONNECTED)
        return o;
    size_t ul = 0, fl = 0;
    hk_result r = hk_hub_username_build(&I->hub_client, I->username, sizeof I->username, &ul);
    if (r == HK_OK)
        r = hk_hub_c2d_filter_build(&I->hub_client, I->c2d_filter, sizeof I->c2d_filter, &fl);
    hk_mqtt_subscription subs[4] = {
        {I->c2d_filter, fl, 1},
        {HK_HUB_TWIN_RESPONSE_FILTER, sizeof(HK_HUB_TWIN_RESPONSE_FILTER) - 1, 1},
        {HK_HUB_TWIN_DESIRED_FILTER, sizeof(HK_HUB_TWIN_DESIRED_FILTER) - 1, 1},
        {HK_HUB_METHODS_FILTER, sizeof(HK_HUB_METHODS_FILTER) - 1, 1},
    };
    if (r == HK_OK)
        r = hk_device_mqtt_start_(dev, &t, I->device_id, ul, false, subs, 4);
    if (r != HK_OK)
        return hk_device_link_end_(dev, r, out_why);
    I->connack = false;
    I->session_error = HK_OK;
    return HK_DEVICE_OUTCOME_CONNECTED;
}

hk_device_outcome hk_device_hub_session_(hk_device *dev, uint32_t *dl, hk_result *out_why)
{
    hk_device_in *I = &dev->_internal;
    uint32_t mdl = 0;
    hk_result r = hk_mqtt_client_process(&I->mqtt, I->now_ms, &mdl);
    if (r == HK_OK)
        r = I->session_error;
    if (r != HK_OK)
        return hk_device_link_end_(dev, r, out_why);
    hk_device_deadline_lower_(I, dl, mdl);
    if (I->state == HK_DEVICE_STATE_HUB_SESSION && I->connack) {
        /* A GET that cannot be queued now is not retried: the application
         * can ask (hk_device_twin_get). */
        hk_result_ignore(hk_device_twin_request_(I, NULL, 0, NULL));
        return HK_DEVICE_OUTCOME_READY;
    }
    return HK_DEVICE_OUTCOME_PENDING;
}

/* ---- what the hub sends ------------------------------------------------------------ */

/* Decimal request id we generated ("17"); 0 for anything else. */
static uint32_t rid_parse(const char *s, size_t n)
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

void hk_device_hub_publish_(hk_device *dev, const hk_mqtt_publish *p)
{
    hk_device_in *I = &dev->_internal;
    hk_hub_topic t;
    if (hk_hub_topic_parse(p->topic, p->topic_len, &t) != HK_OK ||
        (unsigned)t.kind >= sizeof hub_event_type || hub_event_type[t.kind] == 0)
        return; /* not a topic the device knows: ignored */
    hk_device_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (hk_device_event_type)hub_event_type[t.kind];
    /* Every hub message event starts with payload and payload_len
     * (device.h): stored once, through the C2D view. */
    ev.c2d.payload = p->payload;
    ev.c2d.payload_len = p->payload_len;
    if (ev.type == HK_DEVICE_EVENT_C2D) { /* only a C2D message has properties (hub.h) */
        ev.c2d.properties = t.properties;
        ev.c2d.properties_len = t.properties_len;
    } else if (ev.type == HK_DEVICE_EVENT_METHOD) { /* only a method has a name */
        ev.method.name = t.name;
        ev.method.name_len = t.name_len;
        ev.method.request_id = t.rid;
        ev.method.request_id_len = t.rid_len;
    } else if (ev.type == HK_DEVICE_EVENT_DESIRED) {
        ev.desired.has_version = t.has_version;
        ev.desired.version = t.version;
    } else {
        /* Twin answers: a TWIN event's fields are the first of a REPORTED
         * event's (device.h), so one fill serves both. */
        ev.reported.id = rid_parse(t.rid, t.rid_len);
        ev.reported.status = t.status;
        ev.reported.has_version = t.has_version;
        ev.reported.version = t.version;
        if (t.kind == HK_HUB_TOPIC_TWIN_ERROR && ev.reported.id != 0 &&
            ev.reported.id == I->twin_get_id)
            ev.type = HK_DEVICE_EVENT_TWIN;
    }
    hk_device_event_emit_(dev, &ev);
}
