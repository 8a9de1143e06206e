/* DPS backoff and registration state machine: every transition driven by an
 * injected clock and injected random values; no test waits for real time. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/dps.h"

static const hk_dps_machine_config cfg = {
    .deadline_ms = 600000,
    .response_timeout_ms = 10000,
    .backoff_min_ms = 1000,
    .backoff_max_ms = 100000,
    .jitter_ms = 5000,
};

static hk_json_token tokens[HK_DPS_JSON_TOKENS];

/* Parse a response the way the boot flow does, from topic text and body. */
static hk_dps_response response(const char *topic, const char *body)
{
    hk_dps_response r;
    hk_result res = hk_dps_response_parse(topic, strlen(topic), body, strlen(body), tokens,
                                          HK_DPS_JSON_TOKENS, &r);
    HK_CHECK_RESULT(res, HK_OK);
    return r;
}

static const char assigning[] = "{\"operationId\":\"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-"
                                "61d5e55dac0d\",\"status\":\"assigning\"}";
static const char assigned[] =
    "{\"operationId\":\"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d\",\"status\":"
    "\"assigned\",\"registrationState\":{\"assignedHub\":\"contoso.azure-devices.net\","
    "\"deviceId\":\"sn0123ABCD4567EF01\",\"status\":\"assigned\",\"substatus\":"
    "\"deviceDataMigrated\"}}";

static hk_dps_step next(hk_dps_machine *m, uint32_t now, uint32_t random)
{
    hk_dps_step s;
    HK_CHECK_RESULT(hk_dps_machine_next(m, now, random, &s), HK_OK);
    return s;
}

static void test_backoff_sdk_vector(void)
{
    static const uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 100000, 100000};
    for (uint32_t a = 0; a < 9; a++)
        HK_CHECK_EQ(hk_dps_backoff_ms(a, 1000, 100000, 0, 0), want[a]);
    /* random is ignored without jitter, and huge attempts stay at the cap */
    HK_CHECK_EQ(hk_dps_backoff_ms(5, 1000, 100000, 0, 0xffffffffu), 32000);
    HK_CHECK_EQ(hk_dps_backoff_ms(31, 1000, 100000, 0, 0), 100000);
    HK_CHECK_EQ(hk_dps_backoff_ms(0xffffffffu, 1000, 100000, 0, 0), 100000);
    HK_CHECK_EQ(hk_dps_backoff_ms(40, 3, 0xffffffffu, 0, 0), 0xffffffffu);
}

static void test_backoff_jitter(void)
{
    /* jitter = random % (jitter + 1), added below the cap */
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 1000, 100000, 5000, 0), 1000);
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 1000, 100000, 5000, 1234), 2234);
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 1000, 100000, 5000, 5000), 6000);
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 1000, 100000, 5000, 5001), 1000);
    HK_CHECK_EQ(hk_dps_backoff_ms(3, 1000, 100000, 5000, 10007), 8000 + 10007 % 5001);
    /* near the cap: added while it fits, subtracted once it does not */
    HK_CHECK_EQ(hk_dps_backoff_ms(6, 1000, 100000, 5000, 4000), 68000);
    HK_CHECK_EQ(hk_dps_backoff_ms(7, 1000, 100000, 5000, 4000), 96000);
    HK_CHECK_EQ(hk_dps_backoff_ms(8, 1000, 100000, 5000, 0), 100000);
    HK_CHECK_EQ(hk_dps_backoff_ms(8, 1000, 100000, 5000, 1), 99999);
    /* a full-range jitter and degenerate limits never overflow */
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 0, 0xffffffffu, 0xffffffffu, 7), 7);
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 10, 5, 0, 0), 5);
    HK_CHECK_EQ(hk_dps_backoff_ms(0, 10, 5, 100, 50), 0);
    HK_CHECK_EQ(hk_dps_backoff_ms(9, 0, 0, 0, 0), 0);
}

static void test_init_errors(void)
{
    hk_dps_machine m;
    hk_dps_machine_config c = cfg;
    c.deadline_ms = 0;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_ERR_INVALID_ARG);
    c = cfg;
    c.deadline_ms = 0x80000000u;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_ERR_INVALID_ARG);
    c = cfg;
    c.response_timeout_ms = 0;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_ERR_INVALID_ARG);
    c = cfg;
    c.backoff_min_ms = c.backoff_max_ms + 1;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_ERR_INVALID_ARG);
    c = cfg;
    c.jitter_ms = c.backoff_max_ms + 1;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_machine_init(NULL, &cfg, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_machine_init(&m, NULL, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    hk_dps_step s;
    HK_CHECK_REQUIRE(hk_dps_machine_next(&m, 0, 0, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_machine_next(NULL, 0, 0, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_machine_on_response(&m, NULL, 0, 0), HK_ERR_INVALID_ARG);
}

/* register -> 202 retry-after 3 -> poll -> 202 (no retry-after: backoff)
 * -> poll -> 200 assigned. */
static void test_happy_path(void)
{
    hk_dps_machine m;
    const uint32_t t0 = 5000;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, t0), HK_OK);
    const char *hub, *dev;
    hk_dps_substatus sub;
    HK_CHECK_RESULT(hk_dps_machine_assignment(&m, &hub, &dev, &sub), HK_ERR_STATE);

    hk_dps_step s = next(&m, t0, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 1);
    /* in flight: wait for the answer until the response timeout */
    s = next(&m, t0 + 100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, t0 + 10000);

    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1&retry-after=3", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 200, 0), HK_OK);
    /* a duplicate is no longer expected */
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 201, 0), HK_ERR_STATE);
    s = next(&m, t0 + 200, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, t0 + 3200);
    s = next(&m, t0 + 3199, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    s = next(&m, t0 + 3200, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK_EQ(s.rid, 2);
    HK_CHECK(s.operation_id != NULL &&
             strcmp(s.operation_id, "4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d") == 0);

    /* the poll topic the caller builds from the step is the D.1 vector */
    char topic[200];
    size_t len;
    HK_CHECK_RESULT(hk_dps_poll_topic_build(1, s.operation_id, strlen(s.operation_id), topic,
                                            sizeof topic, &len),
                    HK_OK);
    HK_CHECK_STRN(topic, len, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&"
                              "operationId=4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d");

    /* 202 without retry-after: backoff attempt 0 with jitter 777 */
    r = response("$dps/registrations/res/202/?$rid=2", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 3300, 777), HK_OK);
    s = next(&m, t0 + 3300, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, t0 + 3300 + 1777);
    s = next(&m, t0 + 5077, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK_EQ(s.rid, 3);
    /* the next one without retry-after doubles */
    r = response("$dps/registrations/res/202/?$rid=3", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 6000, 0), HK_OK);
    s = next(&m, t0 + 6000, 0);
    HK_CHECK_EQ(s.wait_until_ms, t0 + 6000 + 2000);
    s = next(&m, t0 + 8000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK_EQ(s.rid, 4);

    r = response("$dps/registrations/res/200/?$rid=4", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 8100, 0), HK_OK);
    s = next(&m, t0 + 8100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_ASSIGNED);
    HK_CHECK_RESULT(s.result, HK_OK);
    /* done is sticky, even past the deadline */
    s = next(&m, t0 + 10000000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_ASSIGNED);
    HK_CHECK_RESULT(hk_dps_machine_assignment(&m, &hub, &dev, &sub), HK_OK);
    HK_CHECK(strcmp(hub, "contoso.azure-devices.net") == 0);
    HK_CHECK(strcmp(dev, "sn0123ABCD4567EF01") == 0);
    HK_CHECK_EQ(sub, HK_DPS_SUBSTATUS_DEVICE_DATA_MIGRATED);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 8200, 0), HK_ERR_STATE);
}

/* A 200 assigned straight after the register (no polling). */
static void test_assigned_on_register(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    hk_dps_step s = next(&m, 0, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    hk_dps_response r = response("$dps/registrations/res/200/?$rid=1", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 10, 0), HK_OK);
    HK_CHECK_EQ(next(&m, 10, 0).action, HK_DPS_ACTION_ASSIGNED);
}

static void expect_terminal(const char *topic, const char *body, hk_result want)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    hk_dps_step s = next(&m, 0, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    hk_dps_response r = response(topic, body);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 5, 0), HK_OK);
    s = next(&m, 5, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, want);
    s = next(&m, 50000, 0); /* sticky */
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, want);
    const char *hub, *dev;
    hk_dps_substatus sub;
    HK_CHECK_RESULT(hk_dps_machine_assignment(&m, &hub, &dev, &sub), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 6, 0), HK_ERR_STATE);
}

static void test_terminal_outcomes(void)
{
    expect_terminal("$dps/registrations/res/200/?$rid=1",
                    "{\"operationId\":\"\",\"status\":\"disabled\",\"registrationState\":{"
                    "\"registrationId\":\"myRegistrationId\",\"status\":\"disabled\"}}",
                    HK_ERR_DPS_DISABLED);
    expect_terminal("$dps/registrations/res/200/?$rid=1",
                    "{\"operationId\":\"op\",\"status\":\"failed\",\"registrationState\":{"
                    "\"status\":\"failed\",\"errorCode\":400207}}",
                    HK_ERR_DPS_FAILED);
    expect_terminal("$dps/registrations/res/401/?$rid=1",
                    "{\"errorCode\":401002,\"trackingId\":\"t\",\"message\":\"Invalid certificate.\"}",
                    HK_ERR_DPS_UNAUTHORIZED);
    expect_terminal("$dps/registrations/res/400/?$rid=1", "{\"errorCode\":400004}",
                    HK_ERR_DPS_REJECTED);
    expect_terminal("$dps/registrations/res/403/?$rid=1", "", HK_ERR_DPS_REJECTED);
    expect_terminal("$dps/registrations/res/404/?$rid=1", "{\"errorCode\":404201}",
                    HK_ERR_DPS_REJECTED);
    expect_terminal("$dps/registrations/res/412/?$rid=1", "", HK_ERR_DPS_REJECTED);
    expect_terminal("$dps/registrations/res/302/?$rid=1", "", HK_ERR_DPS_REJECTED);
    expect_terminal("$dps/registrations/res/201/?$rid=1", "{\"status\":\"assigning\"}",
                    HK_ERR_DPS_REJECTED);
}

/* 429 and 5xx resend the same request: with retry-after (clamped) or with
 * exponential backoff plus jitter. */
static void test_throttled_and_server_errors(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 1000), HK_OK);
    hk_dps_step s = next(&m, 1000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);

    hk_dps_response r = response("$dps/registrations/res/429/?$rid=1", "");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1100, 300), HK_OK);
    s = next(&m, 1100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, 1100 + 1000 + 300); /* attempt 0 + jitter 300 */
    s = next(&m, 2400, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER); /* same step again */
    HK_CHECK_EQ(s.rid, 2);

    r = response("$dps/registrations/res/500/?$rid=2", "{\"errorCode\":500000}");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 2500, 10001), HK_OK);
    s = next(&m, 2500, 0);
    HK_CHECK_EQ(s.wait_until_ms, 2500 + 2000 + 10001 % 5001); /* attempt 1 */
    s = next(&m, s.wait_until_ms, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 3);

    /* 503 with retry-after: honoured (in seconds), no backoff step used */
    r = response("$dps/registrations/res/503/?retry-after=7&$rid=3", "");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 10000, 999), HK_OK);
    s = next(&m, 10000, 0);
    HK_CHECK_EQ(s.wait_until_ms, 17000);
    s = next(&m, 17000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 4);
    r = response("$dps/registrations/res/429/?$rid=4", "");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 17000, 0), HK_OK);
    s = next(&m, 17000, 0);
    HK_CHECK_EQ(s.wait_until_ms, 17000 + 4000); /* attempt 2 */
    s = next(&m, 21000, 0);

    /* accepted: the poll sequence starts its own backoff count */
    r = response("$dps/registrations/res/202/?$rid=5", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 21000, 0), HK_OK);
    s = next(&m, 21000, 0);
    HK_CHECK_EQ(s.wait_until_ms, 22000);
    s = next(&m, 22000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    /* a 429 on a poll repeats the poll */
    r = response("$dps/registrations/res/429/?$rid=6&retry-after=2", "");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 22100, 0), HK_OK);
    s = next(&m, 24100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK_EQ(s.rid, 7);
}

static void test_retry_after_clamp(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    next(&m, 0, 0);
    /* above the ceiling: 300 s */
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1&retry-after=86400", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 0, 0), HK_OK);
    hk_dps_step s = next(&m, 0, 0);
    HK_CHECK_EQ(s.wait_until_ms, HK_DPS_RETRY_AFTER_MAX_S * 1000u);
    s = next(&m, 300000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    /* saturated value: still 300 s */
    r = response("$dps/registrations/res/202/?$rid=2&retry-after=4294967295", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 300000, 0), HK_OK);
    s = next(&m, 300000, 0);
    HK_CHECK_EQ(s.wait_until_ms, 600000); /* == deadline */
    /* the floor: retry-after=1 stays 1 s */
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    next(&m, 0, 0);
    r = response("$dps/registrations/res/202/?$rid=1&retry-after=1", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 0, 0), HK_OK);
    HK_CHECK_EQ(next(&m, 0, 0).wait_until_ms, 1000);
    /* retry-after=0 counts as absent: backoff */
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    next(&m, 0, 0);
    r = response("$dps/registrations/res/202/?$rid=1&retry-after=0", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 0, 42), HK_OK);
    HK_CHECK_EQ(next(&m, 0, 0).wait_until_ms, 1042);
}

static void test_stale_rid(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    hk_dps_response r = response("$dps/registrations/res/200/?$rid=1", assigned);
    /* nothing sent yet */
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 0, 0), HK_ERR_STATE);
    next(&m, 0, 0); /* rid 1 */
    r = response("$dps/registrations/res/200/?$rid=0", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_DPS_RID);
    r = response("$dps/registrations/res/200/?$rid=01", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_DPS_RID);
    r = response("$dps/registrations/res/200/?$rid=11", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_DPS_RID);
    r = response("$dps/registrations/res/401/?$rid=x", "");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_DPS_RID);
    /* still waiting for rid 1 */
    hk_dps_step s = next(&m, 2, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    /* a response built by hand without a rid */
    hk_dps_response blank;
    memset(&blank, 0, sizeof blank);
    blank.topic.status = 200;
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &blank, 1, 0), HK_ERR_DPS_RID);
    /* a hand-made response whose strings are not terminated is refused */
    r = response("$dps/registrations/res/200/?$rid=1", assigned);
    memset(r.assigned_hub, 'h', sizeof r.assigned_hub);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_INVALID_ARG);
    r = response("$dps/registrations/res/202/?$rid=1", assigning);
    memset(r.operation_id, 'o', sizeof r.operation_id);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 1, 0), HK_ERR_INVALID_ARG);
    /* the matching one is taken */
    r = response("$dps/registrations/res/200/?$rid=1", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 3, 0), HK_OK);
    HK_CHECK_EQ(next(&m, 3, 0).action, HK_DPS_ACTION_ASSIGNED);
}

/* No answer: resend after the timeout plus a backoff. */
static void test_response_timeout(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    HK_CHECK_EQ(next(&m, 0, 0).action, HK_DPS_ACTION_SEND_REGISTER);
    hk_dps_step s = next(&m, 9999, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, 10000);
    s = next(&m, 10000, 250);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, 11250);
    s = next(&m, 11250, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 2);
    /* the late answer to rid 1 is stale now */
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 11300, 0), HK_ERR_DPS_RID);
    /* 202 without an operation id: nothing to poll, register again */
    r = response("$dps/registrations/res/202/?$rid=2&retry-after=2", "{\"status\":\"assigning\"}");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 11300, 0), HK_OK);
    s = next(&m, 13300, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 3);
}

static void test_deadline(void)
{
    hk_dps_machine m;
    hk_dps_machine_config c = cfg;
    c.deadline_ms = 30000;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 100), HK_OK);
    HK_CHECK_EQ(next(&m, 100, 0).action, HK_DPS_ACTION_SEND_REGISTER);
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1&retry-after=60", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 200, 0), HK_OK);
    hk_dps_step s = next(&m, 200, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, 30100); /* capped at the deadline */
    s = next(&m, 30099, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    s = next(&m, 30100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_DEADLINE);

    /* the response timeout is capped by the deadline too */
    c.deadline_ms = 5000;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_OK);
    next(&m, 0, 0);
    s = next(&m, 1, 0);
    HK_CHECK_EQ(s.wait_until_ms, 5000);
    s = next(&m, 5000, 0);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_DEADLINE);
    /* even before the first send */
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &c, 0), HK_OK);
    s = next(&m, 6000, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_DEADLINE);
}

/* The clock may wrap around 2^32 in the middle of a registration. */
static void test_clock_wrap(void)
{
    hk_dps_machine m;
    const uint32_t t0 = 0xffffff00u;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, t0), HK_OK);
    HK_CHECK_EQ(next(&m, t0, 0).action, HK_DPS_ACTION_SEND_REGISTER);
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1&retry-after=3", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, t0 + 10, 0), HK_OK);
    hk_dps_step s = next(&m, t0 + 10, 0);
    HK_CHECK_EQ(s.wait_until_ms, (uint32_t)(t0 + 3010));
    HK_CHECK(s.wait_until_ms < 0x1000); /* wrapped */
    s = next(&m, 0, 0); /* after the wrap, before the wait ends */
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    s = next(&m, (uint32_t)(t0 + 3010), 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    s = next(&m, (uint32_t)(t0 + 600000), 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_DEADLINE);
}

/* The rid counter skips 0 when it wraps. */
static void test_rid_wrap(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    m._internal.rid = 0xffffffffu; /* white-box: jump to the end of the range */
    hk_dps_step s = next(&m, 0, 0);
    HK_CHECK_EQ(s.rid, 1);
}

/* The connection was replaced: an answer awaited on the old one is lost, so
 * the request is sent again at once (the poll once an operation ID is
 * known, the register before); a wait in progress is kept. */
static void test_resume(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    /* Nothing sent yet: resume changes nothing. */
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK);
    hk_dps_step s = next(&m, 0, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 1);
    /* Register in flight, connection lost: register again at once. */
    HK_CHECK_EQ(next(&m, 100, 0).action, HK_DPS_ACTION_WAIT);
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK);
    s = next(&m, 200, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    HK_CHECK_EQ(s.rid, 2);
    /* The 202 arrives: a poll after retry-after 3 s. Lost connection while
     * waiting: the wait is kept, then the poll (not a register). */
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=2&retry-after=3", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 300, 0), HK_OK);
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK);
    s = next(&m, 1300, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    HK_CHECK_EQ(s.wait_until_ms, 3300);
    s = next(&m, 3300, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK(strcmp(s.operation_id, "4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d") == 0);
    /* Poll in flight, connection lost: poll again at once. */
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK);
    s = next(&m, 3400, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    HK_CHECK_EQ(s.rid, 4);
    /* The answer to the old poll's rid is stale now. */
    hk_dps_response old = response("$dps/registrations/res/200/?$rid=3", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &old, 3500, 0), HK_ERR_DPS_RID);
    hk_dps_response done = response("$dps/registrations/res/200/?$rid=4", assigned);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &done, 3500, 0), HK_OK);
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK); /* done stays done */
    HK_CHECK_EQ(next(&m, 3600, 0).action, HK_DPS_ACTION_ASSIGNED);
    /* The round's deadline still counts from init. */
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    (void)next(&m, 0, 0);
    HK_CHECK_RESULT(hk_dps_machine_resume(&m), HK_OK);
    s = next(&m, cfg.deadline_ms, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_DEADLINE);
}

/* A poll answered 404 (the operation is not known, e.g. it expired on the
 * service): register again after a backoff instead of failing the round. */
static void test_poll_not_found_registers_again(void)
{
    hk_dps_machine m;
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    (void)next(&m, 0, 0);
    hk_dps_response r = response("$dps/registrations/res/202/?$rid=1&retry-after=1", assigning);
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &r, 100, 0), HK_OK);
    hk_dps_step s = next(&m, 1100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_POLL);
    hk_dps_response nf = response("$dps/registrations/res/404/?$rid=2",
                                  "{\"errorCode\":404002,\"trackingId\":\"t\",\"message\":\"Operation not found.\"}");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &nf, 1200, 0), HK_OK);
    s = next(&m, 1200, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_WAIT);
    s = next(&m, s.wait_until_ms, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_SEND_REGISTER);
    /* A 404 to the register itself is a refusal, as before. */
    HK_CHECK_RESULT(hk_dps_machine_init(&m, &cfg, 0), HK_OK);
    (void)next(&m, 0, 0);
    hk_dps_response nf1 = response("$dps/registrations/res/404/?$rid=1",
                                   "{\"errorCode\":404002,\"trackingId\":\"t\",\"message\":\"x\"}");
    HK_CHECK_RESULT(hk_dps_machine_on_response(&m, &nf1, 100, 0), HK_OK);
    s = next(&m, 100, 0);
    HK_CHECK_EQ(s.action, HK_DPS_ACTION_FAILED);
    HK_CHECK_RESULT(s.result, HK_ERR_DPS_REJECTED);
}

int main(void)
{
    HK_RUN(test_backoff_sdk_vector);
    HK_RUN(test_backoff_jitter);
    HK_RUN(test_init_errors);
    HK_RUN(test_happy_path);
    HK_RUN(test_assigned_on_register);
    HK_RUN(test_terminal_outcomes);
    HK_RUN(test_throttled_and_server_errors);
    HK_RUN(test_retry_after_clamp);
    HK_RUN(test_stale_rid);
    HK_RUN(test_response_timeout);
    HK_RUN(test_deadline);
    HK_RUN(test_clock_wrap);
    HK_RUN(test_rid_wrap);
    HK_RUN(test_resume);
    HK_RUN(test_poll_not_found_registers_again);
    return hk_test_finish("dps_machine");
}
