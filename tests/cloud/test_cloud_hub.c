/*
 * hubkey-cloud IoT Hub behaviour, end to end: identities added with
 * `hubkey-cloud device add`, libmosquitto as the device.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_test.h"
#include "hkc_pki.h"
#include "hkc_util.h"
#include "hkt_env.h"

#define HUB1 "hub-1.hubkey.test"
#define HUB2 "hub-2.hubkey.test"

static struct hkt_cloud cloud;
static struct hkt_cert ca;

static bool add_device(struct hkt_cert *dev, const char *id, const char *hub)
{
    return hkt_device_make(&cloud, dev, id, NULL, NULL) &&
           hkt_cli(&cloud, NULL, "device", "add", id, "--hub", hub, "--cert", dev->cert_path,
                   NULL) == 0;
}

static int hub_connect(struct hkt_mqtt *q, struct hkt_cert *dev, const char *hub, const char *id,
                       const char *client_id)
{
    char *user = hkt_hub_username(hub, id);
    int rc = hkt_mqtt_connect(&cloud, q, dev, client_id ? client_id : id, user);
    free(user);
    return rc;
}

static void test_connect_decisions(void)
{
    struct hkt_cert dev, other;
    HK_CHECK(add_device(&dev, "conn-dev", HUB1));
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "conn-dev", NULL), 0);
    hkt_mqtt_close(&q);
    /* The same device on the other hub is unknown there. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB2, "conn-dev", NULL), 5);
    hkt_mqtt_close(&q);
    /* Client ID must be the device ID. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "conn-dev", "not-conn-dev"), 5);
    hkt_mqtt_close(&q);
    /* A certificate trusted by TLS but with another thumbprint. */
    HK_CHECK(hkt_device_make(&cloud, &other, "conn-dev-other", &ca, NULL));
    HK_CHECK_EQ(hub_connect(&q, &other, HUB1, "conn-dev", NULL), 5);
    hkt_mqtt_close(&q);
    /* Unknown device. */
    HK_CHECK_EQ(hub_connect(&q, &other, HUB1, "conn-dev-other", NULL), 5);
    hkt_mqtt_close(&q);
    /* By thumbprint instead of certificate file. */
    char sha1[41], sha256[65];
    hkc_pki_thumbprints(other.cert, sha1, sha256);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "conn-dev-other", "--hub", HUB1,
                        "--thumbprint", sha1, NULL), 0);
    HK_CHECK_EQ(hub_connect(&q, &other, HUB1, "conn-dev-other", NULL), 0);
    hkt_mqtt_close(&q);
    /* Module identities are not served. */
    char *user = hkc_printf("%s/conn-dev/mod1/?api-version=2020-09-30", HUB1);
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "conn-dev/mod1", user), 5);
    hkt_mqtt_close(&q);
    free(user);
    /* A username in neither form. */
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "conn-dev", "hello"), 5);
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
    hkt_cert_free(&other);
}

static void test_disabled_device(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "dis-hub-dev", HUB2));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "disable", "dis-hub-dev", NULL), 0);
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB2, "dis-hub-dev", NULL), 5);
    hkt_mqtt_close(&q);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "enable", "dis-hub-dev", NULL), 0);
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB2, "dis-hub-dev", NULL), 0);
    /* Disabling while connected closes the connection. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "disable", "dis-hub-dev", "--hub", HUB2, NULL), 0);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "remove", "dis-hub-dev", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "enable", "dis-hub-dev", NULL), 3);
    hkt_cert_free(&dev);
}

static void test_telemetry_stored(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "tel-dev", HUB1));
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "tel-dev", NULL), 0);
    HK_CHECK(hkt_mqtt_publish(&q, "devices/tel-dev/messages/events/", "one", 3, 0));
    HK_CHECK(hkt_mqtt_publish(&q, "devices/tel-dev/messages/events/%24.mid=7&flag&k=", "two", 3,
                              1));
    /* A malformed property bag is a protocol error: the hub closes. */
    hkt_mqtt_publish(&q, "devices/tel-dev/messages/events/a=%zz", "bad", 3, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    json_t *rows = hkt_cli_json(&cloud, "telemetry", "--device", "tel-dev", "--json", NULL);
    HK_CHECK_EQ(json_array_size(rows), 2);
    json_t *r1 = json_array_get(rows, 1);
    json_t *props = json_object_get(r1, "properties");
    HK_CHECK(strcmp(json_string_value(json_object_get(r1, "body")) ?: "", "two") == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(props, "$.mid")) ?: "", "7") == 0);
    HK_CHECK(json_is_null(json_object_get(props, "flag")));
    HK_CHECK(strcmp(json_string_value(json_object_get(props, "k")) ?: "x", "") == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(r1, "hub")) ?: "", HUB1) == 0);
    json_decref(rows);
    hkt_cert_free(&dev);
}

/* telemetry --follow prints new messages as they arrive, until interrupted. */
static void test_telemetry_follow(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "follow-dev", HUB2));
    int fd = -1;
    int pid = hkt_cli_spawn(&cloud, &fd, "telemetry", "--follow", "--json", "--device",
                            "follow-dev", NULL);
    HK_CHECK(pid > 0);
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB2, "follow-dev", NULL), 0);
    HK_CHECK(hkt_mqtt_publish(&q, "devices/follow-dev/messages/events/", "followed", 8, 1));
    hkt_mqtt_close(&q);
    /* Wait (bounded) for the line; the CLI only stops when told to. */
    char buf[4096];
    size_t len = 0;
    uint64_t deadline = hkc_now_ms() + HKT_WAIT_MS;
    while (len < sizeof(buf) - 1 && hkc_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "followed"))
            break;
    }
    buf[len] = '\0';
    HK_CHECK(strstr(buf, "\"body\":\"followed\"") != NULL);
    kill(pid, SIGTERM);
    HK_CHECK_EQ(hkt_cli_finish(pid, fd, NULL), 0);
    hkt_cert_free(&dev);
}

static void test_twin_round_trip(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "twin-dev", HUB1));
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "twin-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/twin/res/#", 1), 1);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/twin/PATCH/properties/desired/#", 1), 1);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/GET/?$rid=1", NULL, 0, 1));
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$iothub/twin/res/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/res/200/?$rid=1") == 0);
    json_t *t = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(json_object_get(t, "desired"), "$version")), 1);
    HK_CHECK_EQ(json_integer_value(json_object_get(json_object_get(t, "reported"), "$version")), 1);
    json_decref(t);
    hkt_msg_free(m);

    const char *patch = "{\"fw\":\"2.1\",\"temp\":{\"unit\":\"C\"}}";
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/PATCH/properties/reported/?$rid=abc", patch,
                              (int)strlen(patch), 1));
    m = hkt_mqtt_wait(&q, "$iothub/twin/res/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/res/204/?$rid=abc&$version=2") == 0);
    hkt_msg_free(m);
    const char *del = "{\"temp\":null}";
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/PATCH/properties/reported/?$rid=abd", del,
                              (int)strlen(del), 1));
    m = hkt_mqtt_wait(&q, "$iothub/twin/res/204/?$rid=abd&$version=3", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    hkt_msg_free(m);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/PATCH/properties/reported/?$rid=bad", "[1]", 3,
                              1));
    m = hkt_mqtt_wait(&q, "$iothub/twin/res/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/res/400/?$rid=bad") == 0);
    hkt_msg_free(m);

    /* Desired update from the CLI is pushed with its version. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "twin", "set", "twin-dev", "{\"interval\":30}", NULL), 0);
    m = hkt_mqtt_wait(&q, "$iothub/twin/PATCH/properties/desired/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/PATCH/properties/desired/?$version=2") == 0);
    t = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(t, "interval")), 30);
    HK_CHECK_EQ(json_integer_value(json_object_get(t, "$version")), 2);
    json_decref(t);
    hkt_msg_free(m);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/GET/?$rid=2", NULL, 0, 1));
    m = hkt_mqtt_wait(&q, "$iothub/twin/res/200/?$rid=2", HKT_WAIT_MS);
    t = m ? json_loads(m->payload, 0, NULL) : NULL;
    json_t *rep = json_object_get(t, "reported");
    HK_CHECK(strcmp(json_string_value(json_object_get(rep, "fw")) ?: "", "2.1") == 0);
    HK_CHECK(json_object_get(rep, "temp") == NULL);
    HK_CHECK_EQ(json_integer_value(json_object_get(rep, "$version")), 3);
    HK_CHECK_EQ(json_integer_value(json_object_get(json_object_get(t, "desired"), "interval")), 30);
    json_decref(t);
    hkt_msg_free(m);
    /* Bad input to twin set is refused with a clear exit code. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "twin", "set", "twin-dev", "{not json", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "twin", "set", "twin-dev", "[1,2]", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "twin", "set", "no-such-dev", "{}", NULL), 3);

    /* Faults reach twin requests too. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "error-rate", "1", NULL), 0);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/GET/?$rid=3", NULL, 0, 1));
    m = hkt_mqtt_wait(&q, "$iothub/twin/res/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/res/500/?$rid=3") == 0);
    hkt_msg_free(m);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "drop", "hub-twin", NULL), 0);
    hkt_mqtt_publish(&q, "$iothub/twin/GET/?$rid=4", NULL, 0, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
}

static void test_method_invoke(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "meth-dev", HUB2));
    /* Offline device: 404 at once, exit code 5. */
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "method", "invoke", "meth-dev", "reboot", NULL), 5);
    HK_CHECK(out && strstr(out, "\"status\":404"));
    free(out);

    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB2, "meth-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/methods/POST/#", 1), 1);
    int fd = -1;
    int pid = hkt_cli_spawn(&cloud, &fd, "method", "invoke", "meth-dev", "reboot",
                            "{\"delay\":5}", "--timeout", "20", NULL);
    HK_CHECK(pid > 0);
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$iothub/methods/POST/reboot/?$rid=", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    if (m) {
        json_t *req = json_loads(m->payload, 0, NULL);
        HK_CHECK_EQ(json_integer_value(json_object_get(req, "delay")), 5);
        json_decref(req);
        char *rid = strstr(m->topic, "$rid=") + 5;
        char *topic = hkc_printf("$iothub/methods/res/201/?$rid=%s", rid);
        HK_CHECK(hkt_mqtt_publish(&q, topic, "{\"ok\":true}", 11, 1));
        free(topic);
    }
    hkt_msg_free(m);
    out = NULL;
    HK_CHECK_EQ(hkt_cli_finish(pid, fd, &out), 0);
    json_t *res = out ? json_loads(out, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(res, "status")), 201);
    HK_CHECK(json_is_true(json_object_get(json_object_get(res, "payload"), "ok")));
    json_decref(res);
    free(out);

    /* A PnP component command keeps its `*` in the topic. */
    pid = hkt_cli_spawn(&cloud, &fd, "method", "invoke", "meth-dev", "thermostat*getMaxMinReport",
                        "--timeout", "20", NULL);
    m = hkt_mqtt_wait(&q, "$iothub/methods/POST/thermostat*getMaxMinReport/?$rid=", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    if (m) {
        char *topic = hkc_printf("$iothub/methods/res/200/?$rid=%s", strstr(m->topic, "$rid=") + 5);
        HK_CHECK(hkt_mqtt_publish(&q, topic, NULL, 0, 1));
        free(topic);
    }
    hkt_msg_free(m);
    out = NULL;
    HK_CHECK_EQ(hkt_cli_finish(pid, fd, &out), 0);
    HK_CHECK(out && strstr(out, "\"status\":200"));
    free(out);

    /* The device never answers: 504 after the timeout, exit code 5. */
    pid = hkt_cli_spawn(&cloud, &fd, "method", "invoke", "meth-dev", "slow", "--timeout", "1",
                        NULL);
    m = hkt_mqtt_wait(&q, "$iothub/methods/POST/slow/", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    hkt_msg_free(m);
    out = NULL;
    HK_CHECK_EQ(hkt_cli_finish(pid, fd, &out), 5);
    HK_CHECK(out && strstr(out, "\"status\":504"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "method", "invoke", "meth-dev", "x", "{bad", NULL), 2);
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
}

static void test_c2d(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "c2d-dev", HUB1));
    /* Queued before the device listens, delivered once it subscribes. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "c2d", "send", "c2d-dev", "hello device", "--prop",
                        "kind=greeting", "--prop", "path=/a b", NULL), 0);
    struct hkt_mqtt q;
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "c2d-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "devices/c2d-dev/messages/devicebound/#", 1), 1);
    struct hkt_msg *m = hkt_mqtt_wait(&q, "devices/c2d-dev/messages/devicebound/", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    if (m) {
        HK_CHECK(strcmp(m->payload, "hello device") == 0);
        HK_CHECK_EQ(m->qos, 1);
        const char *bag = m->topic + strlen("devices/c2d-dev/messages/devicebound/");
        json_t *props = hkc_props_decode(bag);
        HK_CHECK(strcmp(json_string_value(json_object_get(props, "kind")) ?: "", "greeting") == 0);
        HK_CHECK(strcmp(json_string_value(json_object_get(props, "path")) ?: "", "/a b") == 0);
        HK_CHECK(strcmp(json_string_value(json_object_get(props, "$.to")) ?: "",
                        "/devices/c2d-dev/messages/deviceBound") == 0);
        HK_CHECK(json_string_value(json_object_get(props, "$.mid")) != NULL);
        json_decref(props);
    }
    hkt_msg_free(m);
    /* While connected: delivered right away. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "c2d", "send", "c2d-dev", "second", NULL), 0);
    m = hkt_mqtt_wait(&q, "devices/c2d-dev/messages/devicebound/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->payload, "second") == 0);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);

    /* A persistent session keeps its subscriptions: after reconnecting with
     * CleanSession 0 the device gets C2D without subscribing again. */
    char *user = hkt_hub_username(HUB1, "c2d-dev");
    HK_CHECK_EQ(hkt_mqtt_connect_ex(&cloud, &q, &dev, "c2d-dev", user, false), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "devices/c2d-dev/messages/devicebound/#", 1), 1);
    hkt_mqtt_close(&q);
    HK_CHECK_EQ(hkt_mqtt_connect_ex(&cloud, &q, &dev, "c2d-dev", user, false), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "c2d", "send", "c2d-dev", "third", NULL), 0);
    m = hkt_mqtt_wait(&q, "devices/c2d-dev/messages/devicebound/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->payload, "third") == 0);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    free(user);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "c2d", "send", "nobody", "x", NULL), 3);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "c2d", "send", "c2d-dev", "x", "--prop", "novalue", NULL), 2);
    hkt_cert_free(&dev);
}

static void test_acl_and_limits(void)
{
    struct hkt_cert dev;
    HK_CHECK(add_device(&dev, "acl-dev", HUB1));
    struct hkt_mqtt q;
    /* Publishing as another device closes the connection. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    hkt_mqtt_publish(&q, "devices/someone/messages/events/", "x", 1, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    /* Subscribing to another device's messages closes the connection. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "devices/someone/messages/devicebound/#", 1), -1);
    hkt_mqtt_close(&q);
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "#", 0), -1);
    hkt_mqtt_close(&q);
    /* QoS 2 subscriptions are granted QoS 1. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/methods/POST/#", 2), 1);
    /* QoS 2 publish is refused by closing the connection. */
    hkt_mqtt_publish(&q, "devices/acl-dev/messages/events/", "q2", 2, 2);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    /* A message over 256 KB closes the connection; one under it is stored. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    size_t big = 256 * 1024 + 1;
    char *buf = malloc(big);
    memset(buf, 'a', big);
    HK_CHECK(hkt_mqtt_publish(&q, "devices/acl-dev/messages/events/", buf, 200 * 1024, 1));
    hkt_mqtt_publish(&q, "devices/acl-dev/messages/events/", buf, (int)big, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    free(buf);
    json_t *rows = hkt_cli_json(&cloud, "telemetry", "--device", "acl-dev", "--json", NULL);
    HK_CHECK_EQ(json_array_size(rows), 1);
    json_decref(rows);
    /* Malformed requests on allowed prefixes close the connection. */
    static const char *const bad_topics[] = {"$iothub/twin/GET/", "$iothub/methods/res/abc/?$rid=1",
                                             "$iothub/twin/PATCH/properties/reported/"};
    for (size_t i = 0; i < 3; i++) {
        HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
        hkt_mqtt_publish(&q, bad_topics[i], "{}", 2, 1);
        HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
        hkt_mqtt_close(&q);
    }
    /* An answer to no pending method is ignored; deep JSON is a 400. */
    HK_CHECK_EQ(hub_connect(&q, &dev, HUB1, "acl-dev", NULL), 0);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/twin/res/#", 1), 1);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/methods/res/200/?$rid=99999999999999999999", "{}", 2, 1));
    size_t deep = 20000;
    char *nest = malloc(2 * deep + 1);
    memset(nest, '[', deep);
    memset(nest + deep, ']', deep);
    nest[2 * deep] = '\0';
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/PATCH/properties/reported/?$rid=7", nest,
                              (int)(2 * deep), 1));
    free(nest);
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$iothub/twin/res/", HKT_WAIT_MS);
    HK_CHECK(m && strcmp(m->topic, "$iothub/twin/res/400/?$rid=7") == 0);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
}

static void test_listings(void)
{
    json_t *hubs = hkt_cli_json(&cloud, "hubs", "--json", NULL);
    HK_CHECK_EQ(json_array_size(hubs), 2);
    json_decref(hubs);
    json_t *devs = hkt_cli_json(&cloud, "devices", "--hub", HUB1, "--json", NULL);
    HK_CHECK(json_array_size(devs) >= 3);
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d)
        HK_CHECK(strcmp(json_string_value(json_object_get(d, "hub")) ?: "", HUB1) == 0);
    json_decref(devs);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "devices", NULL), 0);
    HK_CHECK(out && strstr(out, "tel-dev"));
    free(out);
    json_t *st = hkt_cli_json(&cloud, "status", "--json", NULL);
    HK_CHECK(json_is_true(json_object_get(st, "running")));
    HK_CHECK_EQ(json_integer_value(json_object_get(st, "port")), cloud.port);
    json_decref(st);
}

int main(void)
{
    if (!hkt_cloud_start(&cloud)) {
        fprintf(stderr, "could not start hubkey-cloud\n");
        hkt_cloud_stop(&cloud);
        return 1;
    }
    if (!hkt_ca_make(&cloud, &ca, "Hub Test CA", NULL) ||
        hkt_cli(&cloud, NULL, "ca", "add", ca.cert_path, NULL) != 0) {
        hkt_cloud_stop(&cloud);
        return 1;
    }
    HK_RUN(test_connect_decisions);
    HK_RUN(test_disabled_device);
    HK_RUN(test_telemetry_stored);
    HK_RUN(test_telemetry_follow);
    HK_RUN(test_twin_round_trip);
    HK_RUN(test_method_invoke);
    HK_RUN(test_c2d);
    HK_RUN(test_acl_and_limits);
    HK_RUN(test_listings);
    hkt_cert_free(&ca);
    hkt_cloud_stop(&cloud);
    return hk_test_finish("cloud_hub");
}
