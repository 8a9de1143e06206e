/*
 * libFuzzer harness for the hubkey-cloud broker plugin itself
 * (cloud/plugin/), driven through its callbacks as Mosquitto
 * drives them: the broker functions it calls are stubbed here, its state is a
 * database in a temporary directory with an ID scope, a hub device and an
 * individual enrollment for one certificate.
 *
 * Input: USERNAME \0 TOPIC \0 PAYLOAD. Each run connects a DPS client and an
 * IoT Hub client with that certificate (and tries a third connection with
 * the fuzzed username), lets both subscribe to and publish on the fuzzed
 * topic with the fuzzed payload (the plugin's topic dispatch, query, request
 * id, JSON body and property-bag handling), then runs a tick and disconnects
 * them. fuzz_cloud_parsers covers the shared parsers on their own.
 */
#define _GNU_SOURCE
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hkc_db.h"
#include "hkc_pki.h"
#include "hkc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the broker, as far as the plugin sees it ---- */

struct mosquitto {
    const char *id;
    X509 *cert;
    bool clean;
};

static MOSQ_FUNC_generic_callback callbacks[MOSQ_EVT_DISCONNECT + 8];
static void *callback_data;

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
                                MOSQ_FUNC_generic_callback cb_func, const void *event_data,
                                void *userdata)
{
    (void)identifier;
    (void)event_data;
    if (event < 0 || (size_t)event >= sizeof callbacks / sizeof callbacks[0])
        return MOSQ_ERR_INVAL;
    callbacks[event] = cb_func;
    callback_data = userdata;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
                                  MOSQ_FUNC_generic_callback cb_func, const void *event_data)
{
    (void)identifier;
    (void)event;
    (void)cb_func;
    (void)event_data;
    return MOSQ_ERR_SUCCESS;
}

void mosquitto_log_printf(int level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

bool mosquitto_client_clean_session(const struct mosquitto *client)
{
    return client->clean;
}

const char *mosquitto_client_id(const struct mosquitto *client)
{
    return client->id;
}

void *mosquitto_client_certificate(const struct mosquitto *client)
{
    /* The broker hands out a reference the plugin frees. */
    if (client->cert)
        X509_up_ref(client->cert);
    return client->cert;
}

int mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
    (void)clientid;
    (void)with_will;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen,
                                  const void *payload, int qos, bool retain,
                                  mosquitto_property *properties)
{
    (void)clientid;
    (void)topic;
    (void)payloadlen;
    (void)payload;
    (void)qos;
    (void)retain;
    (void)properties;
    return MOSQ_ERR_SUCCESS;
}

/* ---- the cloud's state ---- */

#define SCOPE "0ne0000F00Z"
#define HUB "hub1.hubkey.test"
#define DEVICE "fuzz-dev"

static X509 *cert;
static char dir[] = "/tmp/hkc-fuzz-XXXXXX";

/* The state directory goes when the run ends. */
static void remove_state(void)
{
    static const char *const files[] = {"hubkey-cloud.db", "hubkey-cloud.db-wal",
                                        "hubkey-cloud.db-shm", "hubkey-cloud.db-journal"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = hkc_printf("%s/%s", dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

static void setup(void)
{
    if (!mkdtemp(dir))
        abort();
    atexit(remove_state);
    char *db_path = hkc_printf("%s/hubkey-cloud.db", dir);
    sqlite3 *db = hkc_db_open(db_path);
    EVP_PKEY *key = hkc_pki_key_ec(NID_X9_62_prime256v1);
    struct hkc_cert_spec spec = {.cn = DEVICE, .key = key, .days = 365, .pathlen = -1};
    cert = key ? hkc_pki_cert(&spec) : NULL;
    if (!db || !cert)
        abort();
    char sha1[41], sha256[65];
    hkc_pki_thumbprints(cert, sha1, sha256);
    char *pem = hkc_pki_to_pem(cert);
    hkc_db_set(db, "id_scope", SCOPE);
    hkc_db_set(db, "retry_after", "0");
    hkc_db_exec(db, "INSERT INTO hubs(name) VALUES(?)", "s", HUB);
    hkc_db_exec(db, "INSERT INTO devices(hub, device_id, sha1, sha256, cert_pem) VALUES(?,?,?,?,?)",
                "sssss", HUB, DEVICE, sha1, sha256, pem);
    hkc_db_exec(db,
                "INSERT INTO enrollments(kind, name, cert_pem, sha1, sha256, device_id, enabled,"
                " allocation, reprovision) VALUES('individual',?,?,?,?,?,1,'hashed',"
                "'reprovisionandmigratedata')",
                "sssss", DEVICE, pem, sha1, sha256, DEVICE);
    hkc_db_close(db);
    free(pem);
    EVP_PKEY_free(key);
    struct mosquitto_opt opts[] = {{(char *)"database", db_path}, {(char *)"state_dir", dir}};
    void *userdata = NULL;
    if (mosquitto_plugin_init(NULL, &userdata, opts, 2) != MOSQ_ERR_SUCCESS)
        abort();
    free(db_path);
}

static int event(int type, void *data)
{
    return callbacks[type] ? callbacks[type](type, data, callback_data) : MOSQ_ERR_SUCCESS;
}

static int connect_as(struct mosquitto *m, const char *username)
{
    struct mosquitto_evt_basic_auth a = {.client = m, .username = (char *)username};
    return event(MOSQ_EVT_BASIC_AUTH, &a);
}

static void drive(struct mosquitto *m, char *topic, void *payload, uint32_t len)
{
    static const int access[] = {MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_WRITE, MOSQ_ACL_UNSUBSCRIBE};
    for (size_t i = 0; i < sizeof access / sizeof access[0]; i++) {
        struct mosquitto_evt_acl_check acl = {.client = m, .topic = topic, .payload = payload,
                                              .access = access[i], .payloadlen = len, .qos = 1};
        (void)event(MOSQ_EVT_ACL_CHECK, &acl);
    }
    struct mosquitto_evt_message msg = {.client = m, .topic = topic, .payload = payload,
                                        .payloadlen = len, .qos = 1};
    (void)event(MOSQ_EVT_MESSAGE, &msg);
}

static void disconnect(struct mosquitto *m)
{
    struct mosquitto_evt_disconnect d = {.client = m};
    (void)event(MOSQ_EVT_DISCONNECT, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    /* USERNAME \0 TOPIC \0 PAYLOAD; each part its own allocation, so that
     * the sanitizers see every read past its end. */
    const uint8_t *z1 = memchr(data, 0, size);
    const uint8_t *t0 = z1 ? z1 + 1 : data + size;
    const uint8_t *z2 = memchr(t0, 0, (size_t)(data + size - t0));
    const uint8_t *p0 = z2 ? z2 + 1 : data + size;
    char *username = strndup((const char *)data, (size_t)(t0 - data));
    char *topic = strndup((const char *)t0, (size_t)(p0 - t0));
    size_t plen = (size_t)(data + size - p0);
    void *payload = plen ? malloc(plen) : NULL;
    if (!username || !topic || (plen && !payload))
        abort();
    if (plen)
        memcpy(payload, p0, plen);

    struct mosquitto dps = {DEVICE, cert, true}, hub = {DEVICE, cert, size % 2 == 0},
                     other = {DEVICE, cert, true};
    if (connect_as(&dps, SCOPE "/registrations/" DEVICE "/api-version=2019-03-31") ==
        MOSQ_ERR_SUCCESS)
        drive(&dps, topic, payload, (uint32_t)plen);
    if (connect_as(&hub, HUB "/" DEVICE "/?api-version=2020-09-30") == MOSQ_ERR_SUCCESS)
        drive(&hub, topic, payload, (uint32_t)plen);
    if (connect_as(&other, username) == MOSQ_ERR_SUCCESS)
        drive(&other, topic, payload, (uint32_t)plen);
    struct mosquitto_evt_tick tick = {0};
    (void)event(MOSQ_EVT_TICK, &tick);
    disconnect(&dps);
    disconnect(&hub);
    disconnect(&other);
    free(username);
    free(topic);
    free(payload);
    return 0;
}
