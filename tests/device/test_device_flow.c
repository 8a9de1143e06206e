/*
 * The boot flow against scripted DPS and IoT Hub peers, with a fake secure
 * element and an injected clock: nothing sleeps, time jumps to each
 * deadline the flow asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cloud.h"
#include "hk_test.h"
#include "hubkey/device.h"
#include "hubkey/record.h"
#include "test_certs.h"

#define ASSIGNED_A                                                                           \
    "{\"operationId\":\"4.0a1b.op1\",\"status\":\"assigned\",\"registrationState\":{"       \
    "\"registrationId\":\"dev-1\",\"assignedHub\":\"hub-a.test\",\"deviceId\":\"dev-1\","   \
    "\"status\":\"assigned\",\"substatus\":\"initialAssignment\",\"payload\":{\"fw\":2}}}"
#define ASSIGNED_B                                                                           \
    "{\"operationId\":\"4.0a1b.op2\",\"status\":\"assigned\",\"registrationState\":{"       \
    "\"registrationId\":\"dev-1\",\"assignedHub\":\"hub-b.test\",\"deviceId\":\"dev-1b\","  \
    "\"status\":\"assigned\",\"substatus\":\"deviceDataMigrated\"}}"
#define ASSIGNING "{\"operationId\":\"4.0a1b.op1\",\"status\":\"assigning\"}"
#define THROTTLED "{\"errorCode\":429001,\"trackingId\":\"t\",\"message\":\"throttled\"}"
#define SERVER_ERR "{\"errorCode\":500000,\"trackingId\":\"t\",\"message\":\"oops\"}"
#define UNAUTH "{\"errorCode\":401002,\"trackingId\":\"t\",\"message\":\"Invalid certificate.\"}"

/* Everything one scenario needs. */
typedef struct world {
    fake_se fse;
    hk_se se;
    fake_cloud cloud;
    hk_device dev;
    hk_device_config cfg;
    uint32_t now;
    /* event log */
    int states[64];
    hk_result state_results[64];
    uint32_t wait_ms[64];
    int next_states[64];
    int nstates;
    int assigned, c2d, desired, twin, reported, methods, sent_ok, sent_closed;
    uint32_t last_twin_id, last_reported_id, last_sent_id;
    unsigned last_status;
    uint32_t last_version;
    char text[1024];
    char assigned_payload[256];
    char props[256];
    char method_name[64];
    bool answer_methods;
    bool record_old_during_dps; /* the record still held the old hub while DPS ran */
    int dps_responses;
    int registers_at_202; /* registrations the server had seen when the first 202 arrived; -1 */
    /* telemetry handed over from the callback on the first HUB_SESSION entry */
    int send_on_session;
    int early_sent;
    uint32_t early_ids[8];
    hk_result early_results[8];
    hk_result early_twin; /* hk_device_twin_get at the same moment */
} world;

static world W;

static void copy_text(char *dst, size_t cap, const void *p, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, p, n);
    dst[n] = '\0';
}

static void on_event(void *ctx, const hk_device_event *e)
{
    world *w = ctx;
    if (getenv("HK_TEST_VERBOSE") != NULL)
        fprintf(stderr, "  t=%u ev=%d state=%s result=%s status=%u wait=%u\n", w->now, e->type,
                hk_device_state_name(e->state),
                hk_result_name(e->type == HK_DEVICE_EVENT_STATE ? e->change.result
                               : e->type == HK_DEVICE_EVENT_SENT ? e->sent.result
                                                                 : e->dps_response.result),
                e->type == HK_DEVICE_EVENT_DPS_RESPONSE ? e->dps_response.status : 0u,
                e->type == HK_DEVICE_EVENT_STATE ? e->change.wait_ms : 0u);
    switch (e->type) {
    case HK_DEVICE_EVENT_STATE:
        if (w->nstates < 64) {
            w->states[w->nstates] = e->state;
            w->state_results[w->nstates] = e->change.result;
            w->wait_ms[w->nstates] = e->change.wait_ms;
            w->next_states[w->nstates] = e->change.next_state;
            w->nstates++;
        }
        if (e->state == HK_DEVICE_STATE_HUB_SESSION && w->send_on_session > 0) {
            static const uint8_t early[] = "{\"boot\":1}";
            for (int i = 0; i < w->send_on_session && i < 8; i++) {
                w->early_results[i] = hk_device_telemetry_send(&w->dev, early, sizeof early - 1,
                                                               NULL, &w->early_ids[i]);
                w->early_sent++;
            }
            uint32_t tid = 0;
            w->early_twin = hk_device_twin_get(&w->dev, &tid);
            w->send_on_session = 0;
        }
        if (e->state == HK_DEVICE_STATE_DPS_REGISTER) {
            hk_record rec;
            int reads = w->fse.reads; /* the test's own look is not the device's */
            if (hk_record_read(&w->se, &rec) == HK_OK && strcmp(rec.hub_hostname, "hub-old.test") == 0)
                w->record_old_during_dps = true;
            w->fse.reads = reads;
        }
        break;
    case HK_DEVICE_EVENT_DPS_RESPONSE:
        w->dps_responses++;
        if (e->dps_response.status == 202 && w->registers_at_202 < 0)
            w->registers_at_202 = w->cloud.registers;
        break;
    case HK_DEVICE_EVENT_ASSIGNED:
        w->assigned++;
        copy_text(w->assigned_payload, sizeof w->assigned_payload, e->assigned.payload,
                  e->assigned.payload_len);
        break;
    case HK_DEVICE_EVENT_C2D:
        w->c2d++;
        copy_text(w->text, sizeof w->text, e->c2d.payload, e->c2d.payload_len);
        copy_text(w->props, sizeof w->props, e->c2d.properties, e->c2d.properties_len);
        break;
    case HK_DEVICE_EVENT_DESIRED:
        w->desired++;
        w->last_version = e->desired.version;
        copy_text(w->text, sizeof w->text, e->desired.payload, e->desired.payload_len);
        break;
    case HK_DEVICE_EVENT_TWIN:
        w->twin++;
        w->last_twin_id = e->twin.id;
        w->last_status = e->twin.status;
        copy_text(w->text, sizeof w->text, e->twin.payload, e->twin.payload_len);
        break;
    case HK_DEVICE_EVENT_REPORTED:
        w->reported++;
        w->last_reported_id = e->reported.id;
        w->last_status = e->reported.status;
        w->last_version = e->reported.version;
        break;
    case HK_DEVICE_EVENT_METHOD:
        w->methods++;
        copy_text(w->method_name, sizeof w->method_name, e->method.name, e->method.name_len);
        if (w->answer_methods)
            HK_CHECK_RESULT(hk_device_method_respond(&w->dev, e->method.request_id,
                                                     e->method.request_id_len, 200,
                                                     "{\"ok\":true}", 11),
                            HK_OK);
        break;
    case HK_DEVICE_EVENT_SENT:
        if (e->sent.result == HK_OK)
            w->sent_ok++;
        else
            w->sent_closed++;
        w->last_sent_id = e->sent.id;
        break;
    }
}

static void world_init(const char *cert_hex)
{
    memset(&W, 0, sizeof W);
    fake_se_init(&W.fse, cert_hex, &W.se);
    fake_cloud_init(&W.cloud);
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_A, false};
    W.cfg.se = &W.se;
    W.cfg.link = fake_cloud_link(&W.cloud);
    W.cfg.id_scope = "0ne00TEST";
    W.cfg.dps_host = "dps.test";
    W.cfg.registration_payload = "{\"model\":\"m1\"}";
    W.cfg.on_event = on_event;
    W.cfg.event_ctx = &W;
    W.now = 1000;
    W.registers_at_202 = -1;
}

static void world_start(void)
{
    HK_CHECK_RESULT(hk_device_init(&W.dev, &W.cfg, W.now), HK_OK);
}

static void put_record(const char *hub, const char *device_id)
{
    HK_CHECK_RESULT(hk_record_write(&W.se, hub, strlen(hub), device_id, strlen(device_id), 0),
                    HK_OK);
}

typedef bool (*pred_fn)(void);

/* Step the flow, jumping the clock to each deadline, until pred holds or
 * span_ms passed. Steps again at once while the peer has bytes waiting (the
 * "socket readable" wake-up of a real loop). */
static bool drive(pred_fn pred, uint32_t span_ms)
{
    uint32_t end = W.now + span_ms;
    for (int i = 0; i < 200000; i++) {
        uint32_t dl = 0;
        W.cloud.now_ms = W.now;
        hk_result r = hk_device_step(&W.dev, W.now, &dl);
        if (r != HK_OK && hk_device_state_get(&W.dev) != HK_DEVICE_STATE_FAILED)
            HK_CHECK_RESULT(r, HK_OK);
        HK_CHECK_EQ(W.fse.held, 0); /* a step never leaves the chip held */
        if (pred != NULL && pred())
            return true;
        if (hk_device_state_get(&W.dev) == HK_DEVICE_STATE_FAILED)
            return false;
        if (fake_cloud_readable(&W.cloud) || dl == W.now)
            continue;
        if ((int32_t)(W.now - end) >= 0)
            return false;
        W.now = (int32_t)(dl - end) < 0 ? dl : end;
    }
    return false;
}

/* Let span_ms pass (no condition to wait for). True only when the whole
 * span passed and the flow never gave up (HK_DEVICE_STATE_FAILED): drive()
 * with no predicate returns false either way, so its result says nothing. */
static bool run_for(uint32_t span_ms)
{
    uint32_t end = W.now + span_ms;
    (void)drive(NULL, span_ms);
    return hk_device_state_get(&W.dev) != HK_DEVICE_STATE_FAILED && (int32_t)(W.now - end) >= 0;
}

static bool is_ready(void)
{
    return hk_device_state_get(&W.dev) == HK_DEVICE_STATE_READY;
}

static int count_state(int st)
{
    int n = 0;
    for (int i = 0; i < W.nstates; i++)
        n += W.states[i] == st;
    return n;
}

/* ---- scenarios ---------------------------------------------------------------- */

static void test_cold_boot(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){202, 3, ASSIGNING, false};
    W.cloud.script_len = 1;
    W.cloud.slow_handshake = true;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK_EQ(W.cloud.registers, 1);
    HK_CHECK_EQ(W.cloud.polls, 1);
    /* the poll waited for retry-after */
    HK_CHECK((uint32_t)(W.cloud.register_ms[1] - W.cloud.register_ms[0]) >= 3000);
    HK_CHECK_EQ(W.assigned, 1);
    HK_CHECK(strcmp(W.assigned_payload, "{\"fw\":2}") == 0); /* the custom payload returned */
    HK_CHECK(strstr(W.cloud.last_body, "\"payload\":{\"model\":\"m1\"}") != NULL);
    HK_CHECK(strstr(W.cloud.last_body, "\"registrationId\":\"dev-1\"") != NULL);
    /* record read once, written once: the write does not read it again */
    HK_CHECK_EQ(W.fse.reads, 1);
    HK_CHECK_EQ(W.fse.writes, 1);
    /* awake sequences: identity, Random and record read; the test's own
     * look at the record during DPS; the write */
    HK_CHECK_EQ(W.fse.holds, 3);
    HK_CHECK_EQ(W.fse.unheld, 0);
    /* record written */
    hk_record rec;
    HK_CHECK_RESULT(hk_record_read(&W.se, &rec), HK_OK);
    HK_CHECK(strcmp(rec.hub_hostname, "hub-a.test") == 0);
    HK_CHECK(strcmp(rec.device_id, "dev-1") == 0);
    /* hub session */
    HK_CHECK(strcmp(W.cloud.last_host, "hub-a.test") == 0);
    HK_CHECK(!W.cloud.last_trust);
    HK_CHECK(strcmp(W.cloud.client_id, "dev-1") == 0);
    HK_CHECK(strcmp(W.cloud.username, "hub-a.test/dev-1/?api-version=2020-09-30") == 0);
    HK_CHECK(!W.cloud.clean_session);
    HK_CHECK_EQ(W.cloud.keep_alive_s, HK_DEVICE_KEEP_ALIVE_S); /* the default of a zero field */
    HK_CHECK_EQ(W.cloud.subscribe_filters, 1 + 4); /* DPS 1, hub 4 */
    HK_CHECK(run_for(10));
    HK_CHECK(is_ready()); /* the twin answer keeps the session ready */
    HK_CHECK_EQ(W.cloud.twin_gets, 1);
    HK_CHECK_EQ(W.twin, 1);
    HK_CHECK_EQ(W.last_status, 200);
    const char *hub, *did, *rid;
    HK_CHECK_RESULT(hk_device_assignment_get(&W.dev, &hub, &did), HK_OK);
    HK_CHECK(strcmp(did, "dev-1") == 0);
    HK_CHECK_RESULT(hk_device_registration_id_get(&W.dev, &rid), HK_OK);
    HK_CHECK(strcmp(rid, "dev-1") == 0);
    /* state sequence */
    static const int want[] = {HK_DEVICE_STATE_RECORD,       HK_DEVICE_STATE_DPS_CONNECT,
                               HK_DEVICE_STATE_DPS_REGISTER, HK_DEVICE_STATE_RECORD_WRITE,
                               HK_DEVICE_STATE_HUB_CONNECT,  HK_DEVICE_STATE_HUB_SESSION,
                               HK_DEVICE_STATE_READY};
    HK_CHECK_EQ(W.nstates, 7);
    for (int i = 0; i < 7 && i < W.nstates; i++)
        HK_CHECK_EQ(W.states[i], want[i]);
}

static void test_warm_boot_skips_dps(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    int writes = W.fse.writes, holds = W.fse.holds, unheld = W.fse.unheld;
    W.cfg.policy.keep_alive_s = 60;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
    HK_CHECK_EQ(W.cloud.opens_hub, 1);
    HK_CHECK(strcmp(W.cloud.client_id, "dev-old") == 0);
    HK_CHECK_EQ(W.cloud.keep_alive_s, 60); /* a configured value is kept */
    HK_CHECK_EQ(W.fse.writes, writes);
    /* the certificate, the Random and the record read: one awake sequence */
    HK_CHECK_EQ(W.fse.holds - holds, 1);
    HK_CHECK_EQ(W.fse.unheld - unheld, 0);
}

static void test_force_provisioning_same_assignment_no_write(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    int writes = W.fse.writes;
    W.cfg.force_provisioning = true;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK_EQ(W.fse.writes, writes); /* same assignment: slot not rewritten */
}

static void test_throttle_and_server_error(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){429, 7, THROTTLED, false};
    W.cloud.script[1] = (fake_dps_reply){503, 0, SERVER_ERR, false};
    W.cloud.script_len = 2;
    world_start();
    HK_CHECK(drive(is_ready, 120000));
    HK_CHECK_EQ(W.cloud.registers, 3);
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    uint32_t d1 = W.cloud.register_ms[1] - W.cloud.register_ms[0];
    uint32_t d2 = W.cloud.register_ms[2] - W.cloud.register_ms[1];
    HK_CHECK(d1 >= 7000 && d1 < 7100);  /* retry-after 7 */
    HK_CHECK(d2 >= 1000 && d2 <= 2100); /* backoff 1 s + jitter up to 1 s */
    HK_CHECK_EQ(W.dps_responses, 3);
}

static bool in_wait_after_deadline(void)
{
    for (int i = 0; i < W.nstates; i++)
        if (W.states[i] == HK_DEVICE_STATE_WAIT && W.state_results[i] == HK_ERR_DPS_DEADLINE)
            return true;
    return false;
}

static void test_dps_deadline(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.after = (fake_dps_reply){202, 2, ASSIGNING, false};
    W.cfg.policy.dps_deadline_ms = 20000;
    world_start();
    uint32_t t0 = W.now;
    HK_CHECK(drive(in_wait_after_deadline, 60000));
    HK_CHECK((uint32_t)(W.now - t0) >= 20000);
    HK_CHECK((uint32_t)(W.now - t0) < 21000);
    HK_CHECK(W.cloud.polls >= 5 && W.cloud.polls <= 10);
    HK_CHECK(!W.cloud.open);
    /* no record: DPS again after >= 5 s, not at once */
    int opens = W.cloud.opens_dps;
    uint32_t t1 = W.now;
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_A, false};
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.opens_dps, opens + 1);
    HK_CHECK((uint32_t)(W.now - t1) >= 5000);
}

static void test_dps_unauthorized_backs_off(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){401, 0, UNAUTH, false};
    W.cloud.script_len = 1;
    world_start();
    HK_CHECK(drive(is_ready, 120000));
    HK_CHECK_EQ(W.cloud.opens_dps, 2);
    HK_CHECK((uint32_t)(W.cloud.register_ms[1] - W.cloud.register_ms[0]) >= 5000);
    bool saw = false;
    for (int i = 0; i < W.nstates; i++)
        saw |= W.states[i] == HK_DEVICE_STATE_WAIT &&
               W.state_results[i] == HK_ERR_DPS_UNAUTHORIZED;
    HK_CHECK(saw);
}

static void test_dps_cut_registers_once_more(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){0, 0, "", true};
    W.cloud.script_len = 1;
    world_start();
    HK_CHECK(drive(is_ready, 120000));
    HK_CHECK_EQ(W.cloud.opens_dps, 2);
    HK_CHECK_EQ(W.cloud.registers, 2); /* at most one extra registration */
    HK_CHECK_EQ(W.assigned, 1);
}

static void test_connect_failures_back_off(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.fail_open = 3;
    world_start();
    HK_CHECK(drive(is_ready, 600000));
    HK_CHECK_EQ(W.cloud.opens_hub, 4);
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
    /* waits: 5 s, 10 s, 20 s (plus jitter up to 5 s) */
    uint32_t waits[3];
    int k = 0;
    for (int i = 0; i < W.nstates && k < 3; i++)
        if (W.states[i] == HK_DEVICE_STATE_WAIT)
            waits[k++] = W.wait_ms[i];
    HK_CHECK_EQ(k, 3);
    HK_CHECK(waits[0] >= 5000 && waits[0] <= 10000);
    HK_CHECK(waits[1] >= 10000 && waits[1] <= 15000);
    HK_CHECK(waits[2] >= 20000 && waits[2] <= 25000);
}

static void test_hub_refusal_reprovisions_once(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.hub_connack = 5; /* not authorized */
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_B, false};
    W.cfg.policy.reprovision_interval_ms = 600000;
    world_start();
    /* refusal -> DPS at once (first time) -> new assignment written -> hub-b */
    HK_CHECK(run_for(1000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK(W.record_old_during_dps); /* old record kept until the new one */
    hk_record rec;
    HK_CHECK_RESULT(hk_record_read(&W.se, &rec), HK_OK);
    HK_CHECK(strcmp(rec.hub_hostname, "hub-b.test") == 0);
    HK_CHECK(strcmp(rec.device_id, "dev-1b") == 0);
    /* hub-b refuses too: no DPS before the interval, hub retried with backoff */
    uint32_t t0 = W.now;
    HK_CHECK(run_for(590000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK(W.cloud.opens_hub >= 4 && W.cloud.opens_hub <= 10);
    W.cloud.hub_connack = 0;
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_A, false};
    HK_CHECK(drive(is_ready, 600000));
    HK_CHECK(W.cloud.opens_dps <= 2);
    HK_CHECK((uint32_t)(W.now - t0) > 0);
}

/* The hub refuses the device certificate in the TLS handshake (an alert:
 * the link's open reports HK_ERR_TLS_CLIENT_REJECTED). That is a refusal
 * like a CONNACK refusal: DPS at once, not the hub's reconnect backoff. */
static void test_hub_tls_rejection_reprovisions(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.hub_reject = 1;
    W.cloud.hub_reject_result = HK_ERR_TLS_CLIENT_REJECTED;
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_B, false};
    W.cfg.policy.reprovision_interval_ms = 600000;
    world_start();
    HK_CHECK(drive(is_ready, 1000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK_EQ(W.cloud.opens_hub, 2);
    HK_CHECK(strcmp(W.cloud.last_host, "hub-b.test") == 0);
    /* A handshake that fails otherwise is no refusal: the hub again later. */
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.hub_reject = 1;
    W.cloud.hub_reject_result = HK_ERR_TLS_HANDSHAKE;
    world_start();
    HK_CHECK(!drive(is_ready, 1000));
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
}

static void test_refusal_then_interval_allows_dps(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.hub_connack = 4; /* bad credentials, forever */
    W.cfg.policy.reprovision_interval_ms = 100000;
    W.cfg.policy.reconnect_max_ms = 30000;
    world_start();
    HK_CHECK(run_for(350000));
    /* cold DPS at t=0, then at most one per 100 s */
    HK_CHECK(W.cloud.opens_dps >= 3 && W.cloud.opens_dps <= 4);
    for (int i = 1; i < W.cloud.requests && i < 32; i++)
        HK_CHECK((uint32_t)(W.cloud.register_ms[i] - W.cloud.register_ms[i - 1]) >= 100000);
}

static void test_hub_fallback_to_dps(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.fail_open = 1000;
    W.cfg.policy.hub_fallback_ms = 60000;
    world_start();
    HK_CHECK(run_for(59000));
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
    HK_CHECK(W.cloud.opens_hub >= 3);
    HK_CHECK(run_for(60000)); /* the next failure after 60 s asks DPS */
    HK_CHECK(W.cloud.opens_dps >= 1);
}

static bool sent_done(void)
{
    return W.sent_ok > 0 || W.sent_closed > 0;
}

static void test_reconnect_resends_telemetry(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.cloud.hub_ack_telemetry = false;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    static const uint8_t msg[] = "{\"t\":21.5}";
    hk_hub_property app[1] = {{"kind", "temp"}};
    hk_hub_telemetry_properties props = {.content_type = "application/json", .app = app,
                                         .app_count = 1};
    uint32_t id = 0;
    HK_CHECK_RESULT(hk_device_telemetry_send(&W.dev, msg, sizeof msg - 1, &props, &id), HK_OK);
    HK_CHECK(id != 0);
    HK_CHECK(!drive(sent_done, 100));
    HK_CHECK_EQ(W.cloud.telemetry, 1);
    HK_CHECK(strcmp(W.cloud.last_topic,
                    "devices/dev-1/messages/events/%24.ct=application%2Fjson&kind=temp") == 0);
    HK_CHECK(strcmp(W.cloud.last_payload, "{\"t\":21.5}") == 0);
    /* the hub drops the connection: reconnect with backoff, resend, ack */
    fake_cloud_cut(&W.cloud);
    W.cloud.hub_ack_telemetry = true;
    uint32_t t0 = W.now;
    HK_CHECK(drive(sent_done, 60000));
    HK_CHECK_EQ(W.sent_ok, 1);
    HK_CHECK_EQ(W.last_sent_id, id);
    HK_CHECK_EQ(W.cloud.telemetry_dup, 1);
    HK_CHECK((uint32_t)(W.now - t0) >= 5000);
    HK_CHECK_EQ(W.cloud.opens_hub, 2);
    HK_CHECK_EQ(W.cloud.twin_gets, 2); /* GET after every connect */
    HK_CHECK_EQ(count_state(HK_DEVICE_STATE_READY), 2);
}

/* Telemetry handed over on entering HUB_SESSION leaves in the same flight as
 * CONNECT and SUBSCRIBE (before any byte of the hub came back) and is
 * acknowledged; twin calls still wait for READY. */
static void test_first_telemetry_rides_with_connect(void)
{
    for (int cold = 0; cold < 2; cold++) {
        world_init(CERT_DEV1_HEX);
        if (!cold)
            put_record("hub-a.test", "dev-1");
        W.send_on_session = 1;
        world_start();
        HK_CHECK(drive(sent_done, 60000));
        HK_CHECK_EQ(W.early_sent, 1);
        HK_CHECK_RESULT(W.early_results[0], HK_OK);
        HK_CHECK(W.early_ids[0] != 0);
        HK_CHECK_RESULT(W.early_twin, HK_ERR_STATE);
        HK_CHECK_EQ(W.sent_ok, 1);
        HK_CHECK_EQ(W.sent_closed, 0);
        HK_CHECK_EQ(W.last_sent_id, W.early_ids[0]);
        HK_CHECK_EQ(W.cloud.opens_dps, cold ? 1 : 0);
        HK_CHECK_EQ(W.cloud.opens_hub, 1);
        HK_CHECK_EQ(W.cloud.telemetry, 1);
        HK_CHECK_EQ(W.cloud.telemetry_dup, 0);
        HK_CHECK_EQ(W.cloud.connect_flight, 0);
        HK_CHECK_EQ(W.cloud.telemetry_flight, 0);   /* no extra round trip */
        HK_CHECK_EQ(W.cloud.telemetry_packets, 3);  /* CONNECT, SUBSCRIBE, the PUBLISH */
        HK_CHECK(strcmp(W.cloud.last_payload, "{\"boot\":1}") == 0);
        HK_CHECK(drive(is_ready, 1000));
        drive(NULL, 10);
        HK_CHECK_EQ(W.cloud.twin_gets, 1); /* the GET after CONNACK, as before */
    }

    /* The in-flight limit holds before CONNACK too. */
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.cloud.hub_ack_telemetry = false;
    W.send_on_session = HK_MQTT_MAX_INFLIGHT + 1;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    for (int i = 0; i < HK_MQTT_MAX_INFLIGHT; i++)
        HK_CHECK_RESULT(W.early_results[i], HK_OK);
    HK_CHECK_RESULT(W.early_results[HK_MQTT_MAX_INFLIGHT], HK_ERR_FULL);
    HK_CHECK_EQ(W.cloud.telemetry, HK_MQTT_MAX_INFLIGHT);
    HK_CHECK_EQ(W.cloud.telemetry_flight, 0);
}

/* A CONNACK that refuses the identity: the telemetry queued behind CONNECT
 * never reached the hub; the device provisions again and reports it
 * dropped, as for a message of a session lost later. */
static void test_early_telemetry_refused_connack(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-old.test", "dev-old");
    W.cloud.hub_connack = 5; /* not authorized */
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_B, false};
    W.send_on_session = 1;
    world_start();
    HK_CHECK(drive(sent_done, 60000));
    HK_CHECK_RESULT(W.early_results[0], HK_OK);
    HK_CHECK_EQ(W.sent_closed, 1);
    HK_CHECK_EQ(W.sent_ok, 0);
    HK_CHECK_EQ(W.last_sent_id, W.early_ids[0]);
    HK_CHECK_EQ(W.cloud.telemetry, 0);
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    HK_CHECK_EQ(count_state(HK_DEVICE_STATE_READY), 0);
}

/* A CONNACK failure that is not a refusal (same hub again after backoff):
 * the early message stays in flight and is resent with DUP. */
static bool waiting(void)
{
    return hk_device_state_get(&W.dev) == HK_DEVICE_STATE_WAIT;
}

static void test_early_telemetry_resent_after_lost_session(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.cloud.hub_connack = 1; /* protocol version refused: not an identity refusal */
    W.send_on_session = 1;
    world_start();
    HK_CHECK(drive(waiting, 60000));
    HK_CHECK_EQ(W.sent_ok + W.sent_closed, 0);
    W.cloud.hub_connack = 0;
    HK_CHECK(drive(sent_done, 120000));
    HK_CHECK_EQ(W.sent_ok, 1);
    HK_CHECK_EQ(W.sent_closed, 0);
    HK_CHECK_EQ(W.last_sent_id, W.early_ids[0]);
    HK_CHECK_EQ(W.cloud.telemetry, 1);
    HK_CHECK_EQ(W.cloud.telemetry_dup, 1);
    HK_CHECK_EQ(W.cloud.opens_hub, 2);
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
}

static void test_session_callbacks(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.answer_methods = true;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    drive(NULL, 10);
    HK_CHECK_EQ(W.twin, 1);

    fake_cloud_push(&W.cloud, "devices/dev-1/messages/devicebound/%24.mid=7&color=red", "hello", 1);
    drive(NULL, 10);
    HK_CHECK_EQ(W.c2d, 1);
    HK_CHECK(strcmp(W.text, "hello") == 0);
    HK_CHECK(strcmp(W.props, "%24.mid=7&color=red") == 0);

    fake_cloud_push(&W.cloud, "$iothub/twin/PATCH/properties/desired/?$version=8",
                    "{\"rate\":5,\"$version\":8}", 0);
    drive(NULL, 10);
    HK_CHECK_EQ(W.desired, 1);
    HK_CHECK_EQ(W.last_version, 8);

    uint32_t id = 0;
    HK_CHECK_RESULT(hk_device_twin_report(&W.dev, "{\"rate\":5}", 10, &id), HK_OK);
    drive(NULL, 10);
    HK_CHECK_EQ(W.reported, 1);
    HK_CHECK_EQ(W.last_reported_id, id);
    HK_CHECK_EQ(W.last_status, 204);
    HK_CHECK_EQ(W.last_version, 5);
    HK_CHECK(strcmp(W.cloud.last_payload, "{\"rate\":5}") == 0);

    HK_CHECK_RESULT(hk_device_twin_get(&W.dev, &id), HK_OK);
    drive(NULL, 10);
    HK_CHECK_EQ(W.twin, 2);
    HK_CHECK_EQ(W.last_twin_id, id);

    fake_cloud_push(&W.cloud, "$iothub/methods/POST/reboot/?$rid=9f", "{\"delay\":1}", 0);
    drive(NULL, 10);
    HK_CHECK_EQ(W.methods, 1);
    HK_CHECK(strcmp(W.method_name, "reboot") == 0);
    HK_CHECK_EQ(W.cloud.method_responses, 1);
    HK_CHECK(strcmp(W.cloud.last_topic, "$iothub/methods/res/200/?$rid=9f") == 0);
    HK_CHECK(strcmp(W.cloud.last_payload, "{\"ok\":true}") == 0);

    /* twin error for a GET goes to TWIN with the status */
    fake_cloud_push(&W.cloud, "$iothub/twin/res/429/?$rid=999999", "", 0);
    drive(NULL, 10);
    HK_CHECK_EQ(W.reported, 2); /* not our GET id: reported */
    HK_CHECK_EQ(W.last_status, 429);

    /* unknown topic: ignored */
    fake_cloud_push(&W.cloud, "something/else", "x", 0);
    drive(NULL, 10);
    HK_CHECK(is_ready());
}

static void test_not_ready_refuses_session_calls(void)
{
    world_init(CERT_DEV1_HEX);
    world_start();
    uint32_t id;
    HK_CHECK_RESULT(hk_device_telemetry_send(&W.dev, (const uint8_t *)"x", 1, NULL, &id),
                    HK_ERR_STATE);
    HK_CHECK_RESULT(hk_device_twin_get(&W.dev, &id), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_device_twin_report(&W.dev, "{}", 2, &id), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_device_method_respond(&W.dev, "1", 1, 200, "", 0), HK_ERR_STATE);
    const char *a, *b;
    HK_CHECK_RESULT(hk_device_assignment_get(&W.dev, &a, &b), HK_ERR_DEVICE_NOT_ASSIGNED);
    HK_CHECK_RESULT(hk_device_registration_id_get(&W.dev, &a), HK_ERR_STATE);
}

static void test_inflight_limit(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.cloud.hub_ack_telemetry = false;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    uint32_t id;
    for (int i = 0; i < HK_MQTT_MAX_INFLIGHT; i++)
        HK_CHECK_RESULT(hk_device_telemetry_send(&W.dev, (const uint8_t *)"x", 1, NULL, &id),
                        HK_OK);
    HK_CHECK_RESULT(hk_device_telemetry_send(&W.dev, (const uint8_t *)"x", 1, NULL, &id),
                    HK_ERR_FULL);
    /* a reprovision moves to a clean DPS session: the messages are dropped */
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_B, false};
    HK_CHECK_RESULT(hk_device_reprovision(&W.dev), HK_OK);
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.sent_closed, HK_MQTT_MAX_INFLIGHT);
    HK_CHECK(strcmp(W.cloud.client_id, "dev-1b") == 0);
}

#define TRUST_PEM "-----BEGIN CERTIFICATE-----\\nMIIBfake\\n-----END CERTIFICATE-----\\n"
#define ASSIGNED_TRUST                                                                       \
    "{\"operationId\":\"4.0a1b.op1\",\"status\":\"assigned\",\"registrationState\":{"       \
    "\"registrationId\":\"dev-1\",\"assignedHub\":\"hub-a.test\",\"deviceId\":\"dev-1\","   \
    "\"status\":\"assigned\",\"trustBundle\":{\"certificates\":[{\"certificate\":\""        \
    TRUST_PEM "\",\"metadata\":{\"subjectName\":\"CN=r\"}}],\"etag\":\"x\"}}}"

static void test_trust_bundle_used_for_hub(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.after = (fake_dps_reply){200, 0, ASSIGNED_TRUST, false};
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK(strcmp(W.cloud.last_host, "hub-a.test") == 0);
    HK_CHECK(W.cloud.last_trust);
    HK_CHECK(strcmp(W.cloud.last_trust_text,
                    "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n\n") == 0);
}

static void test_record_write_faults(void)
{
    world_init(CERT_DEV1_HEX);
    W.fse.fail_write = 2;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    /* the RECORD read, then one read before each retried write: after a
     * failed write only a fresh read tells which copy is the newest */
    HK_CHECK_EQ(W.fse.reads, 3);
    hk_record rec;
    HK_CHECK_RESULT(hk_record_read(&W.se, &rec), HK_OK);
    HK_CHECK(strcmp(rec.hub_hostname, "hub-a.test") == 0);
    HK_CHECK_EQ(count_state(HK_DEVICE_STATE_RECORD_WRITE), 3);

    /* a chip that never takes the write: the device still reaches the hub */
    world_init(CERT_DEV1_HEX);
    W.fse.fail_write = 1000;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_RESULT(hk_record_read(&W.se, &rec), HK_ERR_RECORD_EMPTY);
}

static void test_chip_faults_on_identity_and_record(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    W.fse.fail_cert = 2;
    W.fse.fail_read = 2;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(count_state(HK_DEVICE_STATE_IDENTITY), 2);
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
}

static void test_unusable_identity_fails(void)
{
    world_init(CERT_NOCN_HEX);
    world_start();
    uint32_t dl;
    HK_CHECK_RESULT(hk_device_step(&W.dev, W.now, &dl), HK_ERR_CERT_PARSE);
    HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_FAILED);
    HK_CHECK_RESULT(hk_device_step(&W.dev, W.now + 100000, &dl), HK_ERR_CERT_PARSE);
    HK_CHECK_EQ(W.cloud.opens_dps, 0);
    HK_CHECK_RESULT(hk_device_reprovision(&W.dev), HK_ERR_STATE);
}

/* The longest payload the device accepts goes out whole with the longest
 * registration ID the device accepts (HK_DPS_DEVICE_ID_MAX characters). */
static void test_longest_payload_is_sent(void)
{
    world_init(CERT_DEV1_HEX);
    static char payload[HK_DEVICE_PAYLOAD_MAX + 1];
    memset(payload, '7', HK_DEVICE_PAYLOAD_MAX);
    payload[HK_DEVICE_PAYLOAD_MAX] = '\0';
    W.cfg.registration_payload = payload;
    world_start();
    /* The flow's own registration ID is dev-1; the limit is for the
     * longest: check the body builder with one of that length too. */
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.registers, 1);
    HK_CHECK(strstr(W.cloud.last_body, payload) != NULL);
    char rid[HK_DPS_DEVICE_ID_MAX + 1];
    memset(rid, 'r', HK_DPS_DEVICE_ID_MAX);
    rid[HK_DPS_DEVICE_ID_MAX] = '\0';
    hk_dps_client dc = {.id_scope = "0ne00TEST", .registration_id = rid,
                        .api_version = HK_DPS_API_2019_03_31};
    char body[HK_DEVICE_BODY_MAX];
    size_t bl = 0;
    HK_CHECK_RESULT(hk_dps_register_body_build(&dc, payload, NULL, body, sizeof body, &bl), HK_OK);
    HK_CHECK_EQ(bl, HK_DEVICE_BODY_MAX - 1);
}

/* A device certificate that cannot be rebuilt (the definitions do not
 * match the chip) is a permanent failure: FAILED at once, not retried as
 * a chip that does not answer. */
static void test_identity_that_cannot_be_rebuilt_fails(void)
{
    static const hk_result errs[] = {HK_ERR_CERT_WRONG_DEF, HK_ERR_CERT_COMPRESSED,
                                     HK_ERR_CERT_TEMPLATE};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        world_init(CERT_DEV1_HEX);
        W.fse.cert_error = errs[i];
        world_start();
        uint32_t dl;
        HK_CHECK_RESULT(hk_device_step(&W.dev, W.now, &dl), errs[i]);
        HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_FAILED);
        HK_CHECK_EQ(W.cloud.opens_dps, 0);
    }
}

/* The TLS link cannot present the identity (the chain does not parse or
 * cannot be rebuilt): FAILED with that result, not a connection retried
 * until the deadline. */
static void test_link_identity_error_fails(void)
{
    static const hk_result errs[] = {HK_ERR_TLS_OWN_CERT, HK_ERR_CERT_WRONG_DEF};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        world_init(CERT_DEV1_HEX);
        W.cloud.dps_handshake_error = errs[i];
        W.cloud.handshake_errors_left = -1;
        world_start();
        HK_CHECK(!drive(is_ready, 600000));
        HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_FAILED);
        uint32_t dl;
        HK_CHECK_RESULT(hk_device_step(&W.dev, W.now, &dl), errs[i]);
        HK_CHECK_EQ(W.cloud.opens_dps, 1);
    }
}

static int waits_then(int next_state, hk_result why)
{
    (void)next_state;
    int n = 0;
    for (int i = 0; i < W.nstates; i++)
        n += W.states[i] == HK_DEVICE_STATE_WAIT && W.state_results[i] == why;
    return n;
}

static bool round_ended_refused(void)
{
    for (int i = 0; i < W.nstates; i++)
        if (W.states[i] == HK_DEVICE_STATE_WAIT && W.state_results[i] == HK_ERR_TLS_CLIENT_REJECTED &&
            W.next_states[i] != HK_DEVICE_STATE_DPS_CONNECT)
            return true;
    return false;
}

/* DPS refuses the client certificate in the handshake on every connection:
 * after HK_DEVICE_REFUSALS_MAX refusals in a row the round ends (no more
 * handshakes DPS refuses until the round backoff), instead of a connection
 * retried every few seconds until the 5-minute deadline. */
static void test_dps_tls_refusal_bounded(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.dps_handshake_error = HK_ERR_TLS_CLIENT_REJECTED;
    W.cloud.handshake_errors_left = -1;
    world_start();
    uint32_t t0 = W.now;
    HK_CHECK(drive(round_ended_refused, 600000));
    HK_CHECK_EQ(W.cloud.opens_dps, HK_DEVICE_REFUSALS_MAX);
    HK_CHECK((uint32_t)(W.now - t0) < 10000);
    HK_CHECK_EQ(waits_then(0, HK_ERR_TLS_CLIENT_REJECTED), HK_DEVICE_REFUSALS_MAX);
    /* The next round comes after the round backoff (at least 5 s). */
    uint32_t t1 = W.now;
    W.cloud.handshake_errors_left = 0; /* the CA was enrolled meanwhile */
    HK_CHECK(drive(is_ready, 120000));
    HK_CHECK((uint32_t)(W.now - t1) >= 5000);
    HK_CHECK_EQ(W.cloud.opens_dps, HK_DEVICE_REFUSALS_MAX + 1);
    HK_CHECK_EQ(W.cloud.registers, 1);
}

/* Refusals that are not in a row do not add up: a refusal, then a
 * connection that is cut, then refusals again. */
static void test_dps_refusals_counted_in_a_row(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.dps_handshake_error = HK_ERR_TLS_CLIENT_REJECTED;
    W.cloud.handshake_errors_left = HK_DEVICE_REFUSALS_MAX - 1;
    W.cloud.script[0] = (fake_dps_reply){0, 0, "", true};
    W.cloud.script_len = 1;
    world_start();
    HK_CHECK(drive(is_ready, 120000));
    HK_CHECK(!round_ended_refused());
    HK_CHECK_EQ(W.cloud.opens_dps, HK_DEVICE_REFUSALS_MAX + 1);
}

/* ---- connection cuts at every byte of a cold boot ---------------------------- */

typedef struct cut_result {
    int runs, ready, with_202, extra_after_202, max_registers;
} cut_result;

/* One cold boot (register -> 202 retry-after 1 -> poll -> 200) with the first
 * DPS connection cut after byte k of one direction. */
static void cold_boot_cut(bool up, long k, cut_result *res)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){202, 1, ASSIGNING, false};
    W.cloud.script_len = 1;
    if (up)
        W.cloud.cut_up_at = k;
    else
        W.cloud.cut_down_at = k;
    world_start();
    bool ok = drive(is_ready, 120000);
    res->runs++;
    res->ready += ok;
    if (W.registers_at_202 >= 0) {
        res->with_202++;
        res->extra_after_202 += W.cloud.registers - W.registers_at_202;
    }
    if (W.cloud.registers > res->max_registers)
        res->max_registers = W.cloud.registers;
    HK_CHECK(ok);
    HK_CHECK_EQ(W.assigned, 1);
}

/* Once DPS answered 202 "assigning" with an operation ID, a cut connection
 * is opened again and the operation is polled: no registration again
 * (DPS keeps the operation; its status query does not depend on the
 * connection). Cuts at every byte of the first DPS connection, both ways. */
static void test_dps_cut_at_every_byte_resumes(void)
{
    cut_result up = {0}, down = {0};
    /* The bytes of an uncut first connection, each way (a cut that never
     * happens keeps the counting on). */
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){202, 1, ASSIGNING, false};
    W.cloud.script_len = 1;
    W.cloud.cut_up_at = 1L << 30;
    W.cloud.cut_down_at = 1L << 30;
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_EQ(W.cloud.opens_dps, 1);
    size_t total_up = W.cloud.closed_dps_up, total_down = W.cloud.closed_dps_down;
    HK_CHECK(total_up > 100 && total_down > 50);
    if (getenv("HK_TEST_VERBOSE"))
        fprintf(stderr, "  first DPS connection: %zu bytes up, %zu down\n", total_up, total_down);
    for (long k = 0; k <= (long)total_up; k++)
        cold_boot_cut(true, k, &up);
    for (long k = 0; k <= (long)total_down; k++)
        cold_boot_cut(false, k, &down);
    fprintf(stderr,
            "  cuts at every byte of the first DPS connection: device->server %d cuts (%d after "
            "the 202), server->device %d cuts (%d after the 202); registrations again after a "
            "202: %d and %d; most registrations in one boot: %d and %d\n",
            up.runs, up.with_202, down.runs, down.with_202, up.extra_after_202,
            down.extra_after_202, up.max_registers, down.max_registers);
    HK_CHECK_EQ(up.ready, up.runs);
    HK_CHECK_EQ(down.ready, down.runs);
    HK_CHECK(up.with_202 > 0 && down.with_202 > 0);
    HK_CHECK_EQ(up.extra_after_202, 0);
    HK_CHECK_EQ(down.extra_after_202, 0);
    HK_CHECK(up.max_registers <= 2 && down.max_registers <= 2);
}

/* Every DPS connection is cut at the same byte and the flow makes no
 * progress: registrations (and polls) stay bounded by the connection
 * backoff (1 s doubling, plus up to 1 s of jitter). Two places: just after
 * the 202 (then, after the first registration, only the operation is
 * polled), and before the 202 (each connection registers again). */
static int requests_within(uint32_t t0, uint32_t span)
{
    int n = 0;
    for (int i = 0; i < W.cloud.requests && i < 32; i++)
        n += (uint32_t)(W.cloud.register_ms[i] - t0) < span;
    return n;
}

static void test_dps_same_cut_every_connection_bounded(void)
{
    for (int where = 0; where < 2; where++) {
        world_init(CERT_DEV1_HEX);
        W.cloud.after = (fake_dps_reply){202, 1, ASSIGNING, false};
        /* CONNACK (4) + SUBACK (5) + the 202 PUBLISH, then the cut; or the
         * cut after CONNACK and SUBACK, before the answer. */
        W.cloud.cut_down_at = where == 0 ? 1L << 30 : 9;
        W.cloud.cut_every_connection = true;
        world_start();
        uint32_t t0 = W.now;
        if (where == 0) {
            /* Measure the first connection's bytes up to the end of the 202. */
            for (int i = 0; i < 1000 && W.registers_at_202 < 0; i++) {
                uint32_t dl = 0;
                HK_CHECK_RESULT(hk_device_step(&W.dev, W.now, &dl), HK_OK);
            }
            long k = (long)W.cloud.conn_down;
            world_init(CERT_DEV1_HEX);
            W.cloud.after = (fake_dps_reply){202, 1, ASSIGNING, false};
            W.cloud.cut_down_at = k;
            W.cloud.cut_every_connection = true;
            world_start();
            t0 = W.now;
        }
        HK_CHECK(!drive(is_ready, 20000));
        int regs = W.cloud.registers, polls = W.cloud.polls;
        int in20 = requests_within(t0, 20000);
        fprintf(stderr,
                "  same cut on every DPS connection (%s the 202): %d connections, %d "
                "registrations, %d polls, %d requests in 20 s\n",
                where == 0 ? "after" : "before", W.cloud.opens_dps, regs, polls, in20);
        /* Attempts at 0, >= 1, >= 3, >= 7, >= 15 s: at most 5 in 20 s. */
        HK_CHECK(W.cloud.opens_dps <= 5);
        HK_CHECK(in20 <= 5);
        if (where == 0)
            HK_CHECK_EQ(regs, 1);
        for (int i = 1; i + 1 < W.cloud.requests && i < 31; i++) {
            uint32_t gap = W.cloud.register_ms[i + 1] - W.cloud.register_ms[i];
            HK_CHECK(gap >= 1000u << (i < 5 ? i : 5)); /* the backoff doubles */
        }
    }
}

static void test_stop(void)
{
    world_init(CERT_DEV1_HEX);
    put_record("hub-a.test", "dev-1");
    world_start();
    HK_CHECK(drive(is_ready, 60000));
    HK_CHECK_RESULT(hk_device_stop(&W.dev), HK_OK);
    HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_STOPPED);
    HK_CHECK_EQ(W.cloud.disconnects, 1);
    HK_CHECK(!W.cloud.open);
    HK_CHECK(!drive(is_ready, 100000));
    HK_CHECK_EQ(W.cloud.opens_hub, 1);
}

/* hk_device_run with a platform whose clock is the test's and whose wait
 * moves that clock. */
static uint32_t p_now(void *ctx)
{
    (void)ctx;
    return W.now;
}

static void run_wait(void *ctx, uint32_t ms)
{
    (void)ctx;
    if (!fake_cloud_readable(&W.cloud))
        W.now += ms;
}

static void test_run_loop(void)
{
    world_init(CERT_DEV1_HEX);
    W.cloud.script[0] = (fake_dps_reply){202, 2, ASSIGNING, false};
    W.cloud.script_len = 1;
    W.cfg.link.wait = run_wait;
    world_start();
    hk_platform p;
    memset(&p, 0, sizeof p);
    p.monotonic_ms = p_now;
    HK_CHECK_RESULT(hk_device_run(&W.dev, &p, HK_DEVICE_STATE_READY, 60000), HK_OK);
    HK_CHECK(is_ready());
    uint32_t t0 = W.now;
    HK_CHECK_RESULT(hk_device_run(&W.dev, &p, HK_DEVICE_STATE_STOPPED, 5000), HK_ERR_TIMEOUT);
    HK_CHECK((uint32_t)(W.now - t0) == 5000);
    /* already in the state: returns at once */
    HK_CHECK_RESULT(hk_device_run(&W.dev, &p, HK_DEVICE_STATE_READY, 5000), HK_OK);
}

static void test_init_checks(void)
{
    world_init(CERT_DEV1_HEX);
    hk_device_config c = W.cfg;
    c.id_scope = NULL;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.link.poll = NULL;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.se = NULL;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.reconnect_min_ms = 10000;
    c.policy.reconnect_max_ms = 5000;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    /* A refused policy leaves the device FAILED, not ready to start. */
    HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_FAILED);
    c = W.cfg;
    c.policy.reconnect_jitter_ms = 400000;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_device_init(NULL, &W.cfg, 0), HK_ERR_INVALID_ARG);
    /* A registration payload that cannot fit the register request with the
     * longest registration ID is refused at once: never found out later
     * as a registration that fails. */
    static char payload[HK_DEVICE_PAYLOAD_MAX + 2];
    memset(payload, '1', HK_DEVICE_PAYLOAD_MAX + 1);
    payload[HK_DEVICE_PAYLOAD_MAX + 1] = '\0';
    c = W.cfg;
    c.registration_payload = payload;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(hk_device_state_get(&W.dev), HK_DEVICE_STATE_FAILED);
    payload[HK_DEVICE_PAYLOAD_MAX] = '\0';
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_OK);
    /* Every required function and the ID scope's text. */
    for (int i = 0; i < 9; i++) {
        hk_se se = W.se;
        c = W.cfg;
        c.se = &se;
        switch (i) {
        case 0: se.cert = NULL; break;
        case 1: se.random = NULL; break;
        case 2: se.read_data = NULL; break;
        case 3: se.write_data = NULL; break;
        case 4: c.link.open = NULL; break;
        case 5: c.link.close = NULL; break;
        case 6: c.link.wait = NULL; break;
        case 7: c.id_scope = ""; break;
        default: c.policy.keep_alive_s = 1; break; /* the one that is fine */
        }
        HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), i < 8 ? HK_ERR_INVALID_ARG : HK_OK);
    }
    /* Spans above 2^31 - 1 ms; the defaults of zero fields take part in
     * the checks (a minimum above the default maximum, a jitter equal to
     * it). */
    c = W.cfg;
    c.policy.dps_deadline_ms = 0x80000000u;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.reprovision_interval_ms = 0x80000000u;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.hub_fallback_ms = 0x80000000u;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.dps_deadline_ms = 0x7fffffffu;
    c.policy.reprovision_interval_ms = 0x7fffffffu;
    c.policy.hub_fallback_ms = 0x7fffffffu;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_OK);
    c = W.cfg;
    c.policy.reconnect_min_ms = HK_DEVICE_RECONNECT_MAX_MS + 1;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.reconnect_max_ms = HK_DEVICE_RECONNECT_MIN_MS - 1;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_ERR_INVALID_ARG);
    c = W.cfg;
    c.policy.reconnect_jitter_ms = HK_DEVICE_RECONNECT_MAX_MS;
    HK_CHECK_RESULT(hk_device_init(&W.dev, &c, 0), HK_OK);
    HK_CHECK(strcmp(hk_device_state_name(HK_DEVICE_STATE_READY), "ready") == 0);
    static const char *const names[HK_DEVICE_STATE_COUNT_] = {
        "identity",    "record", "dps-connect", "dps-register", "record-write", "hub-connect",
        "hub-session", "ready",  "wait",        "stopped",      "failed"};
    for (int st = 0; st < HK_DEVICE_STATE_COUNT_; st++)
        HK_CHECK(strcmp(hk_device_state_name((hk_device_state)st), names[st]) == 0);
    HK_CHECK(strcmp(hk_device_state_name(HK_DEVICE_STATE_COUNT_), "unknown") == 0);
    HK_CHECK(strcmp(hk_device_state_name((hk_device_state)99), "unknown") == 0);
}

int main(void)
{
    HK_RUN(test_cold_boot);
    HK_RUN(test_warm_boot_skips_dps);
    HK_RUN(test_force_provisioning_same_assignment_no_write);
    HK_RUN(test_throttle_and_server_error);
    HK_RUN(test_dps_deadline);
    HK_RUN(test_dps_unauthorized_backs_off);
    HK_RUN(test_dps_cut_registers_once_more);
    HK_RUN(test_connect_failures_back_off);
    HK_RUN(test_hub_refusal_reprovisions_once);
    HK_RUN(test_hub_tls_rejection_reprovisions);
    HK_RUN(test_refusal_then_interval_allows_dps);
    HK_RUN(test_hub_fallback_to_dps);
    HK_RUN(test_reconnect_resends_telemetry);
    HK_RUN(test_first_telemetry_rides_with_connect);
    HK_RUN(test_early_telemetry_refused_connack);
    HK_RUN(test_early_telemetry_resent_after_lost_session);
    HK_RUN(test_session_callbacks);
    HK_RUN(test_not_ready_refuses_session_calls);
    HK_RUN(test_inflight_limit);
    HK_RUN(test_trust_bundle_used_for_hub);
    HK_RUN(test_record_write_faults);
    HK_RUN(test_chip_faults_on_identity_and_record);
    HK_RUN(test_unusable_identity_fails);
    HK_RUN(test_longest_payload_is_sent);
    HK_RUN(test_identity_that_cannot_be_rebuilt_fails);
    HK_RUN(test_link_identity_error_fails);
    HK_RUN(test_dps_tls_refusal_bounded);
    HK_RUN(test_dps_refusals_counted_in_a_row);
    HK_RUN(test_dps_cut_at_every_byte_resumes);
    HK_RUN(test_dps_same_cut_every_connection_bounded);
    HK_RUN(test_stop);
    HK_RUN(test_run_loop);
    HK_RUN(test_init_checks);
    return hk_test_finish("device_flow");
}
