/*
 * Size driver for the protocol core (make size).
 *
 * Exercises the path a device takes with DPS and IoT Hub so that
 * --gc-sections keeps exactly the code that path needs:
 *   DPS:  client id + username -> CONNECT, SUBSCRIBE to the response filter,
 *         registration state machine -> register topic + body -> PUBLISH;
 *         an incoming 200 "assigned" PUBLISH is framed, decoded, parsed and
 *         fed to the state machine;
 *   Hub:  client id + username -> CONNECT, one telemetry PUBLISH with
 *         content type and encoding.
 * Every buffer is local; each result goes to a volatile sink so nothing is
 * optimized away. The process never runs on a target: it is only linked.
 */
#include <stdint.h>
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/dps.h"
#include "hubkey/hub.h"
#include "hubkey/json.h"
#include "hubkey/mqtt.h"

int main(void);

static void sink(const void *p, size_t n)
{
    const volatile uint8_t *b = (const volatile uint8_t *)p;
    volatile uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc = (uint8_t)(acc ^ b[i]);
}

static const char assigned_topic[] = "$dps/registrations/res/200/?$rid=1";
static const char assigned_body[] =
    "{\"operationId\":\"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d\","
    "\"status\":\"assigned\",\"registrationState\":{\"registrationId\":\"sn0123ABCD4567EF01\","
    "\"assignedHub\":\"contoso.azure-devices.net\",\"deviceId\":\"sn0123ABCD4567EF01\","
    "\"status\":\"assigned\",\"substatus\":\"initialAssignment\"}}";

static hk_result provision(hk_dps_machine *m, uint32_t now)
{
    const hk_dps_client dps = {"0ne00000000", "sn0123ABCD4567EF01", HK_DPS_API_2019_03_31, NULL};
    char client_id[72], username[160], topic[96], body[128];
    size_t client_id_len, username_len, topic_len, body_len, len;
    uint8_t packet[400];

    HK_TRY(hk_dps_client_id_build(&dps, client_id, sizeof client_id, &client_id_len));
    HK_TRY(hk_dps_username_build(&dps, username, sizeof username, &username_len));
    hk_mqtt_connect_options connect = {client_id, client_id_len, username, username_len,
                                       NULL, 0, 240, true};
    HK_TRY(hk_mqtt_connect_encode(&connect, packet, sizeof packet, &len));
    sink(packet, len);

    hk_mqtt_subscription sub = {HK_DPS_SUBSCRIBE_FILTER, sizeof HK_DPS_SUBSCRIBE_FILTER - 1, 1};
    HK_TRY(hk_mqtt_subscribe_encode(1, &sub, 1, packet, sizeof packet, &len));
    sink(packet, len);

    static const hk_dps_machine_config config = {300000, 10000, 1000, 100000, 5000};
    hk_dps_step step;
    HK_TRY(hk_dps_machine_init(m, &config, now));
    HK_TRY(hk_dps_machine_next(m, now, 0, &step));
    HK_TRY(hk_dps_register_topic_build(step.rid, topic, sizeof topic, &topic_len));
    HK_TRY(hk_dps_register_body_build(&dps, NULL, NULL, body, sizeof body, &body_len));
    hk_mqtt_publish pub = {topic, topic_len, (const uint8_t *)body, body_len, 2, 1, false, false};
    HK_TRY(hk_mqtt_publish_encode(&pub, packet, sizeof packet, &len));
    sink(packet, len);

    /* The answer, as it arrives from the broker. */
    hk_mqtt_publish in = {assigned_topic, sizeof assigned_topic - 1,
                          (const uint8_t *)assigned_body, sizeof assigned_body - 1, 0, 0,
                          false, false};
    HK_TRY(hk_mqtt_publish_encode(&in, packet, sizeof packet, &len));
    hk_mqtt_packet framed;
    size_t consumed;
    HK_TRY(hk_mqtt_packet_split(packet, len, sizeof packet, &framed, &consumed));
    HK_TRY(hk_mqtt_publish_decode(&framed, &in));

    hk_json_token tokens[24];
    hk_dps_response response;
    HK_TRY(hk_dps_response_parse(in.topic, in.topic_len, (const char *)in.payload, in.payload_len,
                                 tokens, HK_ARRAY_LEN(tokens), &response));
    HK_TRY(hk_dps_machine_on_response(m, &response, now + 100, 0));
    HK_TRY(hk_dps_machine_next(m, now + 100, 0, &step));
    return step.action == HK_DPS_ACTION_ASSIGNED ? HK_OK : HK_ERR_DEVICE_NOT_ASSIGNED;
}

static hk_result connect_hub(const hk_dps_machine *m)
{
    hk_hub_client hub = {NULL, NULL, NULL, NULL, NULL, NULL};
    hk_dps_substatus substatus;
    char client_id[136], username[300], topic[200];
    size_t client_id_len, username_len, topic_len, len;
    uint8_t packet[512];

    HK_TRY(hk_dps_machine_assignment(m, &hub.host, &hub.device_id, &substatus));
    HK_TRY(hk_hub_client_id_build(&hub, client_id, sizeof client_id, &client_id_len));
    HK_TRY(hk_hub_username_build(&hub, username, sizeof username, &username_len));
    hk_mqtt_connect_options connect = {client_id, client_id_len, username, username_len,
                                       NULL, 0, 240, false};
    HK_TRY(hk_mqtt_connect_encode(&connect, packet, sizeof packet, &len));
    sink(packet, len);

    hk_hub_telemetry_properties props;
    memset(&props, 0, sizeof props);
    props.content_type = "application/json";
    props.content_encoding = "utf-8";
    HK_TRY(hk_hub_telemetry_topic_build(&hub, &props, topic, sizeof topic, &topic_len));
    static const char telemetry[] = "{\"temperature\":21}";
    hk_mqtt_publish pub = {topic, topic_len, (const uint8_t *)telemetry, sizeof telemetry - 1,
                           0, 0, false, false};
    HK_TRY(hk_mqtt_publish_encode(&pub, packet, sizeof packet, &len));
    sink(packet, len);
    return HK_OK;
}

int main(void)
{
    hk_dps_machine m;
    hk_result r = provision(&m, 0);
    if (r == HK_OK)
        r = connect_hub(&m);
    sink(&r, sizeof r);
    return r == HK_OK ? 0 : 1;
}
