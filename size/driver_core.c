/*
 * Size driver for the protocol core (make size).
 *
 * Runs the path a device takes with DPS and IoT Hub through the MQTT session
 * engine, so that --gc-sections keeps exactly the code a device needs:
 *   DPS:  client id + username -> CONNECT, SUBSCRIBE to the response filter
 *         and the register PUBLISH (QoS 1), pipelined through hk_mqtt_client;
 *         the broker's CONNACK, SUBACK, PUBACK and a 200 "assigned" PUBLISH
 *         come back through the engine's receive path and the answer is
 *         parsed and fed to the registration state machine;
 *   Hub:  client id + username -> CONNECT and one telemetry PUBLISH (QoS 1)
 *         with content type and encoding, acknowledged by the broker.
 * The transport is a loop-back in memory: what the engine sends goes to a
 * volatile sink, what it receives is a scripted broker answer. Every buffer is
 * local. The image is only linked, never run on a target.
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

/* The scripted broker: bytes handed to the engine on recv. */
typedef struct script {
    const uint8_t *in;
    size_t len;
    size_t pos;
} script;

static hk_result io_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    (void)ctx;
    sink(buf, len);
    *out_sent = len;
    return HK_OK;
}

static hk_result io_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    script *s = ctx;
    size_t n = s->len - s->pos < cap ? s->len - s->pos : cap;
    memcpy(buf, s->in + s->pos, n);
    s->pos += n;
    *out_received = n;
    return HK_OK;
}

typedef struct flow {
    hk_dps_machine machine;
    hk_result result;
    uint32_t now;
} flow;

/* Engine events: a DPS answer goes to the state machine. */
static void on_event(void *ctx, const hk_mqtt_event *ev)
{
    flow *f = ctx;
    if (ev->type != HK_MQTT_EVENT_PUBLISH)
        return;
    hk_json_token tokens[24];
    hk_dps_response response;
    f->result = hk_dps_response_parse(ev->publish.topic, ev->publish.topic_len,
                                      (const char *)ev->publish.payload, ev->publish.payload_len,
                                      tokens, HK_ARRAY_LEN(tokens), &response);
    if (f->result == HK_OK)
        f->result = hk_dps_machine_on_response(&f->machine, &response, f->now, 0);
}

static const char assigned_topic[] = "$dps/registrations/res/200/?$rid=1";
static const char assigned_body[] =
    "{\"operationId\":\"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d\","
    "\"status\":\"assigned\",\"registrationState\":{\"registrationId\":\"sn0123ABCD4567EF01\","
    "\"assignedHub\":\"contoso.azure-devices.net\",\"deviceId\":\"sn0123ABCD4567EF01\","
    "\"status\":\"assigned\",\"substatus\":\"initialAssignment\"}}";

/* CONNACK accepted, SUBACK (id 1, QoS 1), PUBACK (id 2). */
static const uint8_t dps_acks[] = {0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x01,
                                   0x01, 0x40, 0x02, 0x00, 0x02};
/* CONNACK accepted, PUBACK (id 1). */
static const uint8_t hub_acks[] = {0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01};

static hk_result run(hk_mqtt_client *client, script *s, flow *f)
{
    for (int i = 0; i < 8 && s->pos < s->len; i++) {
        uint32_t deadline;
        HK_TRY(hk_mqtt_client_process(client, f->now, &deadline));
        HK_TRY(f->result);
        f->now += 10;
    }
    return HK_OK;
}

static hk_result provision(flow *f)
{
    const hk_dps_client dps = {"0ne00000000", "sn0123ABCD4567EF01", HK_DPS_API_2019_03_31, NULL};
    char client_id[72], username[160], topic[96], body[128];
    size_t client_id_len, username_len, topic_len, body_len, len;
    uint8_t tx[512], rx[512], in[512];

    /* The broker's side: acknowledgements, then the assignment. */
    memcpy(in, dps_acks, sizeof dps_acks);
    hk_mqtt_publish answer = {assigned_topic, sizeof assigned_topic - 1,
                              (const uint8_t *)assigned_body, sizeof assigned_body - 1, 0, 0,
                              false, false};
    HK_TRY(hk_mqtt_publish_encode(&answer, in + sizeof dps_acks, sizeof in - sizeof dps_acks,
                                  &len));
    script s = {in, sizeof dps_acks + len, 0};
    hk_transport transport = {&s, io_send, io_recv};

    hk_mqtt_client client;
    hk_mqtt_client_config cc = {tx, sizeof tx, rx, sizeof rx, 0, 0, 0, on_event, f};
    HK_TRY(hk_mqtt_client_init(&client, &cc));

    static const hk_dps_machine_config config = {300000, 10000, 1000, 100000, 5000};
    hk_dps_step step;
    HK_TRY(hk_dps_machine_init(&f->machine, &config, f->now));
    HK_TRY(hk_dps_machine_next(&f->machine, f->now, 0, &step));

    HK_TRY(hk_dps_client_id_build(&dps, client_id, sizeof client_id, &client_id_len));
    HK_TRY(hk_dps_username_build(&dps, username, sizeof username, &username_len));
    hk_mqtt_connect_options connect = {client_id, client_id_len, username, username_len,
                                       NULL, 0, 240, true};
    HK_TRY(hk_mqtt_client_connect(&client, &transport, &connect, f->now));

    uint16_t id;
    hk_mqtt_subscription sub = {HK_DPS_SUBSCRIBE_FILTER, sizeof HK_DPS_SUBSCRIBE_FILTER - 1, 1};
    HK_TRY(hk_mqtt_client_subscribe(&client, &sub, 1, &id));

    HK_TRY(hk_dps_register_topic_build(step.rid, topic, sizeof topic, &topic_len));
    HK_TRY(hk_dps_register_body_build(&dps, NULL, NULL, body, sizeof body, &body_len));
    hk_mqtt_publish pub = {topic, topic_len, (const uint8_t *)body, body_len, 0, 1, false, false};
    HK_TRY(hk_mqtt_client_publish(&client, &pub, &id));

    HK_TRY(run(&client, &s, f));
    HK_TRY(hk_dps_machine_next(&f->machine, f->now, 0, &step));
    return step.action == HK_DPS_ACTION_ASSIGNED ? HK_OK : HK_ERR_DEVICE_NOT_ASSIGNED;
}

static hk_result connect_hub(flow *f)
{
    hk_hub_client hub = {NULL, NULL, NULL, NULL, NULL, NULL};
    hk_dps_substatus substatus;
    char client_id[136], username[300], topic[200];
    size_t client_id_len, username_len, topic_len;
    uint8_t tx[512], rx[128];

    script s = {hub_acks, sizeof hub_acks, 0};
    hk_transport transport = {&s, io_send, io_recv};
    hk_mqtt_client client;
    hk_mqtt_client_config cc = {tx, sizeof tx, rx, sizeof rx, 0, 0, 0, on_event, f};
    HK_TRY(hk_mqtt_client_init(&client, &cc));

    HK_TRY(hk_dps_machine_assignment(&f->machine, &hub.host, &hub.device_id, &substatus));
    HK_TRY(hk_hub_client_id_build(&hub, client_id, sizeof client_id, &client_id_len));
    HK_TRY(hk_hub_username_build(&hub, username, sizeof username, &username_len));
    hk_mqtt_connect_options connect = {client_id, client_id_len, username, username_len,
                                       NULL, 0, 240, false};
    HK_TRY(hk_mqtt_client_connect(&client, &transport, &connect, f->now));

    hk_hub_telemetry_properties props;
    memset(&props, 0, sizeof props);
    props.content_type = "application/json";
    props.content_encoding = "utf-8";
    HK_TRY(hk_hub_telemetry_topic_build(&hub, &props, topic, sizeof topic, &topic_len));
    static const char telemetry[] = "{\"temperature\":21}";
    hk_mqtt_publish pub = {topic, topic_len, (const uint8_t *)telemetry, sizeof telemetry - 1,
                           0, 1, false, false};
    uint16_t id;
    HK_TRY(hk_mqtt_client_publish(&client, &pub, &id));
    return run(&client, &s, f);
}

int main(void)
{
    flow f;
    memset(&f, 0, sizeof f);
    hk_result r = provision(&f);
    if (r == HK_OK)
        r = connect_hub(&f);
    sink(&r, sizeof r);
    return r == HK_OK ? 0 : 1;
}
