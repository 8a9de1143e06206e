/*
 * What the application sends on the hub session (device_hub.h, the public
 * calls in include/hubkey/device.h): telemetry, twin requests, method
 * answers.
 *
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
 */
#include <string.h>

#include "common/hk_common.h"
#include "device_hub.h"

hk_result hk_device_twin_request_(hk_device_in *I, const char *json, size_t json_len,
                                  uint32_t *out_id)
{
    char digits[10];
    char *rid = digits + sizeof digits;
    uint32_t id = hk_device_id_next_(I);
    size_t tl = 0;
    for (uint32_t v = id; v != 0; v /= 10u) /* decimal, written from the end */
        *--rid = (char)('0' + v % 10u);
    size_t n = (size_t)(digits + sizeof digits - rid);
    if (json == NULL)
        HK_TRY(hk_hub_twin_get_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    else
        HK_TRY(hk_hub_twin_patch_topic_build(rid, n, I->topic, sizeof I->topic, &tl));
    HK_TRY(hk_device_publish0_(I, tl, json, json_len));
    if (json == NULL)
        I->twin_get_id = id;
    if (out_id != NULL)
        *out_id = id;
    return HK_OK;
}

hk_result hk_device_telemetry_send(hk_device *dev, const uint8_t *payload, size_t payload_len,
                                   const hk_hub_telemetry_properties *props, uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL && (payload != NULL || payload_len == 0));
    hk_device_in *I = &dev->_internal;
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
    HK_TRY(hk_device_publish_(I, slot->topic, tl, payload, payload_len, 1, &pid));
    slot->used = true;
    slot->packet_id = pid;
    slot->id = hk_device_id_next_(I);
    if (out_id != NULL)
        *out_id = slot->id;
    return HK_OK;
}

hk_result hk_device_twin_get(hk_device *dev, uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL);
    if (dev->_internal.state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    return hk_device_twin_request_(&dev->_internal, NULL, 0, out_id);
}

hk_result hk_device_twin_report(hk_device *dev, const char *json, size_t json_len,
                                uint32_t *out_id)
{
    HK_REQUIRE(dev != NULL && json != NULL);
    if (dev->_internal.state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    return hk_device_twin_request_(&dev->_internal, json, json_len, out_id);
}

hk_result hk_device_method_respond(hk_device *dev, const char *request_id, size_t request_id_len,
                                   unsigned status, const char *json, size_t json_len)
{
    HK_REQUIRE(dev != NULL && request_id != NULL && (json != NULL || json_len == 0));
    hk_device_in *I = &dev->_internal;
    if (I->state != HK_DEVICE_STATE_READY)
        return HK_ERR_STATE;
    size_t tl = 0;
    HK_TRY(hk_hub_method_response_topic_build(status, request_id, request_id_len, I->topic,
                                              sizeof I->topic, &tl));
    return hk_device_publish0_(I, tl, json, json_len);
}
