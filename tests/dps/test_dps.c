/* DPS client builders and parsers: the vectors of protocol reference D.1 and
 * D.2 byte for byte, every error branch, guard bytes after every output. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/dps.h"

/* The register body: exact fit, one byte short, guard bytes after the
 * buffer in both cases. */
#define CHECK_BODY(expected, client, custom, csr)                                    \
    do {                                                                             \
        const char *e_ = (expected);                                                 \
        size_t n_ = strlen(e_), len_ = 0;                                            \
        char buf_[512];                                                              \
        hk_guard_fill(buf_, 0, sizeof buf_);                                         \
        HK_CHECK_RESULT(hk_dps_register_body_build((client), (custom), (csr), buf_,  \
                                                   n_ + 1, &len_),                   \
                        HK_OK);                                                      \
        HK_CHECK_STRN(buf_, len_, e_);                                               \
        HK_CHECK(buf_[n_] == '\0');                                                  \
        HK_CHECK(hk_guard_intact(buf_, n_ + 1, sizeof buf_));                        \
        hk_guard_fill(buf_, 0, sizeof buf_);                                         \
        HK_CHECK_RESULT(hk_dps_register_body_build((client), (custom), (csr), buf_,  \
                                                   n_, &len_),                       \
                        HK_ERR_BUFFER_TOO_SMALL);                                    \
        HK_CHECK(hk_guard_intact(buf_, n_, sizeof buf_));                            \
    } while (0)

static const hk_dps_client sdk_client = {"0neFEEDC0DE", "myRegistrationId", HK_DPS_API_2019_03_31,
                                         NULL};
static const hk_dps_client our_client = {"0ne00000000", "sn0123ABCD4567EF01",
                                         HK_DPS_API_2019_03_31, NULL};
static const char sdk_op_id[] = "4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d";

static void test_client_id_and_username(void)
{
    hk_dps_client c = sdk_client;
    HK_CHECK_BUILD("myRegistrationId", hk_dps_client_id_build(&c, out_, cap_, &len_));
    HK_CHECK_BUILD("0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.client_version = "c/1.2.3";
    HK_CHECK_BUILD("0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31"
                "&ClientVersion=c/1.2.3",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.client_version = ""; /* empty = absent */
    HK_CHECK_BUILD("0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31",
                hk_dps_username_build(&c, out_, cap_, &len_));

    c = our_client;
    HK_CHECK_BUILD("sn0123ABCD4567EF01", hk_dps_client_id_build(&c, out_, cap_, &len_));
    HK_CHECK_BUILD("0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.client_version = "c/1.2.3";
    HK_CHECK_BUILD("0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31"
                "&ClientVersion=c/1.2.3",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.client_version = NULL;
    c.api_version = HK_DPS_API_2021_06_01;
    HK_CHECK_BUILD("0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2021-06-01",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.api_version = HK_DPS_API_2025_07_01_PREVIEW;
    HK_CHECK_BUILD("0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2025-07-01-preview",
                hk_dps_username_build(&c, out_, cap_, &len_));
    c.registration_id = "a-b.c_d:9";
    HK_CHECK_BUILD("a-b.c_d:9", hk_dps_client_id_build(&c, out_, cap_, &len_));
}

static void test_identity_errors(void)
{
    hk_dps_client c;
    char max_id[130];
    memset(max_id, 'a', 128);
    max_id[128] = '\0';
    c = our_client;
    c.registration_id = max_id;
    HK_CHECK_BUILD(max_id, hk_dps_client_id_build(&c, out_, cap_, &len_));
    max_id[128] = 'a';
    max_id[129] = '\0';
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_client_id_build(&c, out_, cap_, &len_));

    const char *bad_ids[] = {NULL, "", "a/b", "a b", "a#", "a+", "a&b", "a?", "a\"", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        c = our_client;
        c.registration_id = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_client_id_build(&c, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_username_build(&c, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                          hk_dps_register_body_build(&c, NULL, NULL, out_, cap_, &len_));
    }
    const char *bad_scopes[] = {NULL, "", "a/b", "a b", "a#", "a+", "a&b", "a?", "\x7f", "\xff"};
    for (size_t i = 0; i < sizeof bad_scopes / sizeof bad_scopes[0]; i++) {
        c = our_client;
        c.id_scope = bad_scopes[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_username_build(&c, out_, cap_, &len_));
        if (i < 3)
            continue; /* NULL/"" mean absent; '/' is allowed in ClientVersion */
        c = our_client;
        c.client_version = bad_scopes[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_username_build(&c, out_, cap_, &len_));
    }
    c = our_client;
    c.api_version = (hk_dps_api_version)3;
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_username_build(&c, out_, cap_, &len_));
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_client_id_build(NULL, out_, cap_, &len_));
    HK_CHECK_BUILD_REQUIRE(hk_dps_username_build(&our_client, out_, cap_, NULL));
    size_t len;
    HK_CHECK_REQUIRE(hk_dps_username_build(&our_client, NULL, 10, &len), HK_ERR_INVALID_ARG);
}

static void test_topics(void)
{
    HK_CHECK(strcmp(HK_DPS_SUBSCRIBE_FILTER, "$dps/registrations/res/#") == 0);
    HK_CHECK_EQ(strlen(HK_DPS_SUBSCRIBE_FILTER), 24);
    HK_CHECK_BUILD("$dps/registrations/PUT/iotdps-register/?$rid=1",
                hk_dps_register_topic_build(1, out_, cap_, &len_));
    HK_CHECK_BUILD("$dps/registrations/PUT/iotdps-register/?$rid=0",
                hk_dps_register_topic_build(0, out_, cap_, &len_));
    HK_CHECK_BUILD("$dps/registrations/PUT/iotdps-register/?$rid=4294967295",
                hk_dps_register_topic_build(4294967295u, out_, cap_, &len_));
    HK_CHECK_BUILD("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=4."
                "d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d",
                hk_dps_poll_topic_build(1, sdk_op_id, strlen(sdk_op_id), out_, cap_, &len_));
    HK_CHECK_BUILD("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=42&operationId=x",
                hk_dps_poll_topic_build(42, "xy", 1, out_, cap_, &len_));

    char op[HK_DPS_OPERATION_ID_MAX + 2];
    memset(op, '7', sizeof op);
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_poll_topic_build(1, op, HK_DPS_OPERATION_ID_MAX + 1,
                                                                  out_, cap_, &len_));
    size_t len;
    HK_CHECK_RESULT(hk_dps_poll_topic_build(1, op, HK_DPS_OPERATION_ID_MAX, NULL, 0, &len),
                    HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(len, 70 + HK_DPS_OPERATION_ID_MAX); /* 125 - 55, D.1 */
    const char *bad_ops[] = {"", "a&b", "a/b", "a#", "a+", "a b", "a=b", "a?"};
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++)
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_poll_topic_build(1, bad_ops[i],
                                                                      strlen(bad_ops[i]), out_,
                                                                      cap_, &len_));
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_dps_poll_topic_build(1, NULL, 3, out_, cap_, &len_));
    HK_CHECK_BUILD_REQUIRE(hk_dps_register_topic_build(1, out_, cap_, NULL));
}

static void test_register_body(void)
{
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\"}", &sdk_client, NULL, NULL);
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\"}", &sdk_client, "", "");
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\",\"payload\":{\"testData\":1, "
               "\"testData2\":{\"a\":\"b\"}}}",
               &sdk_client, "{\"testData\":1, \"testData2\":{\"a\":\"b\"}}", NULL);
    hk_dps_client c = sdk_client;
    c.api_version = HK_DPS_API_2025_07_01_PREVIEW;
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\",\"csr\":\"this is a mock CSR\"}", &c, NULL,
               "this is a mock CSR");
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\",\"payload\":{\"a\":1},\"csr\":\"TUlJQg==\"}",
               &c, "{\"a\":1}", "TUlJQg==");
    /* the CSR is a JSON string: quotes and backslashes are escaped */
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\",\"csr\":\"a\\\"b\\\\\"}", &c, NULL,
               "a\"b\\");

    CHECK_BODY("{\"registrationId\":\"sn0123ABCD4567EF01\"}", &our_client, NULL, NULL);
    CHECK_BODY("{\"registrationId\":\"sn0123ABCD4567EF01\",\"payload\":{\"modelId\":\"dtmi:com:"
               "example:Thermostat;1\"}}",
               &our_client, "{\"modelId\":\"dtmi:com:example:Thermostat;1\"}", NULL);
    HK_CHECK_EQ(strlen("{\"registrationId\":\"sn0123ABCD4567EF01\",\"payload\":{\"modelId\":"
                       "\"dtmi:com:example:Thermostat;1\"}}"),
                93);

    /* a CSR needs the certificate-issuance api-version */
    hk_dps_client old = sdk_client;
    HK_CHECK_BUILD_FAILS(HK_ERR_UNSUPPORTED,
                      hk_dps_register_body_build(&old, NULL, "TUlJQg==", out_, cap_, &len_));
    old.api_version = HK_DPS_API_2021_06_01;
    HK_CHECK_BUILD_FAILS(HK_ERR_UNSUPPORTED,
                      hk_dps_register_body_build(&old, NULL, "TUlJQg==", out_, cap_, &len_));
    /* every other control character as \u00xx, the short escapes, UTF-8 as it is */
    CHECK_BODY("{\"registrationId\":\"myRegistrationId\",\"csr\":\"\\u0001\\b\\f\\n\\r\\t"
               "\\u001f\xc3\xa9\x7f\"}",
               &c, NULL, "\x01\b\f\n\r\t\x1f\xc3\xa9\x7f");
    /* a CSR that is not UTF-8 is refused, unless the text before it does
     * not fit anyway */
    static const char bad_utf8[] = "AB\xc3(";
    const char *head = "{\"registrationId\":\"myRegistrationId\",\"csr\":\"AB";
    char body[128];
    size_t len;
    for (size_t cap = 0; cap < sizeof body; cap++) {
        hk_guard_fill(body, 0, sizeof body);
        HK_CHECK_RESULT(hk_dps_register_body_build(&c, NULL, bad_utf8, body, cap, &len),
                        cap >= strlen(head) ? HK_ERR_JSON_UTF8 : HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK(hk_guard_intact(body, cap, sizeof body));
    }
    HK_CHECK_RESULT(hk_dps_register_body_build(&sdk_client, NULL, NULL, NULL, 0, &len),
                    HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_REQUIRE(hk_dps_register_body_build(&sdk_client, NULL, NULL, NULL, 5, &len),
                     HK_ERR_INVALID_ARG);
}

static hk_result topic(const char *t, hk_dps_topic *out)
{
    return hk_dps_topic_parse(t, strlen(t), out);
}

static void test_topic_parse(void)
{
    hk_dps_topic t;
    HK_CHECK_RESULT(topic("$dps/registrations/res/202/?$rid=1&retry-after=3", &t), HK_OK);
    HK_CHECK_EQ(t.status, 202);
    HK_CHECK_EQ(t.retry_after_s, 3);
    HK_CHECK_STRN(t.rid, t.rid_len, "1");
    HK_CHECK_RESULT(topic("$dps/registrations/res/202/?retry-after=120&$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.status, 202);
    HK_CHECK_EQ(t.retry_after_s, 120);
    HK_CHECK_STRN(t.rid, t.rid_len, "1");
    HK_CHECK_RESULT(topic("$dps/registrations/res/200/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.status, 200);
    HK_CHECK_EQ(t.retry_after_s, 0);
    HK_CHECK_RESULT(topic("$dps/registrations/res/401/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.status, 401);
    HK_CHECK_RESULT(topic("$dps/registrations/res/429/?x=1&$rid=77&y&retry-after=99999999999", &t),
                    HK_OK);
    HK_CHECK_EQ(t.status, 429);
    HK_CHECK_EQ(t.retry_after_s, 4294967295u);
    HK_CHECK_STRN(t.rid, t.rid_len, "77");
    HK_CHECK_RESULT(topic("$dps/registrations/res/599/?$rid=abc&retry-after=0", &t), HK_OK);
    HK_CHECK_EQ(t.retry_after_s, 0);
    HK_CHECK_STRN(t.rid, t.rid_len, "abc");
    HK_CHECK_RESULT(topic("$dps/registrations/res/100/?$rid=1", &t), HK_OK);

    static const char *bad[] = {
        "",
        "$dps/registrations/unknown",
        "$dps/registrations/res/",
        "$dps/registrations/res/200",
        "$dps/registrations/res/200/",
        "$dps/registrations/res/200/?",
        "$dps/registrations/res/200?$rid=1",
        "$dps/registrations/res/20/?$rid=1",
        "$dps/registrations/res/2000/?$rid=1",
        "$dps/registrations/res/-20/?$rid=1",
        "$dps/registrations/res/099/?$rid=1",
        "$dps/registrations/res/600/?$rid=1",
        "$dps/registrations/res/20x/?$rid=1",
        "$dps/registrations/res/200/?retry-after=3",
        "$dps/registrations/res/200/?$rid=",
        "$dps/registrations/res/200/?$rid",
        "$dps/registrations/res/200/?$rid=1&$rid=1",
        "$dps/registrations/res/200/?$rid=1&",
        "$dps/registrations/res/200/?&$rid=1",
        "$dps/registrations/res/200/?$rid=1&&x=2",
        "$dps/registrations/res/200/?=1&$rid=1",
        "$dps/registrations/res/202/?$rid=1&retry-after=",
        "$dps/registrations/res/202/?$rid=1&retry-after",
        "$dps/registrations/res/202/?$rid=1&retry-after=3s",
        "$dps/registrations/res/202/?$rid=1&retry-after=-3",
        "$dps/registrations/res/202/?$rid=1&retry-after=3&retry-after=4",
        "$dps/registrations/PUT/iotdps-register/?$rid=1",
        "$iothub/twin/res/200/?$rid=1",
        "$DPS/registrations/res/200/?$rid=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_result r = topic(bad[i], &t);
        if (r != HK_ERR_DPS_TOPIC)
            fprintf(stderr, "accepted or wrong error for: %s\n", bad[i]);
        HK_CHECK_RESULT(r, HK_ERR_DPS_TOPIC);
    }
    /* every prefix of a valid topic: refused until the rid has a digit */
    static const char full[] = "$dps/registrations/res/202/?$rid=12";
    for (size_t n = 0; n < sizeof full - 1; n++)
        HK_CHECK_RESULT(hk_dps_topic_parse(full, n, &t),
                        n >= sizeof full - 2 ? HK_OK : HK_ERR_DPS_TOPIC);
    HK_CHECK_RESULT(hk_dps_topic_parse(NULL, 0, &t), HK_ERR_DPS_TOPIC);
    HK_CHECK_REQUIRE(hk_dps_topic_parse(NULL, 1, &t), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_topic_parse(full, 3, NULL), HK_ERR_INVALID_ARG);
}

static hk_json_token tokens[HK_DPS_JSON_TOKENS];

static hk_result parse(const char *t, const char *body, hk_dps_response *out)
{
    return hk_dps_response_parse(t, strlen(t), body, strlen(body), tokens, HK_DPS_JSON_TOKENS, out);
}

static void check_message(const hk_dps_response *r, const char *expected)
{
    char buf[128];
    size_t len = 0;
    HK_CHECK(r->message != 0);
    if (r->message == 0)
        return;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_dps_response_string_get(r, r->message, buf, strlen(expected) + 1, &len),
                    HK_OK);
    HK_CHECK_STRN(buf, len, expected);
    HK_CHECK(hk_guard_intact(buf, strlen(expected) + 1, sizeof buf));
}

static void test_response_sdk_vectors(void)
{
    hk_dps_response r;
    HK_CHECK_RESULT(parse("$dps/registrations/res/202/?$rid=1&retry-after=3",
                          "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
                          "\"status\":\"assigning\"}",
                          &r),
                    HK_OK);
    HK_CHECK_EQ(r.topic.status, 202);
    HK_CHECK_EQ(r.topic.retry_after_s, 3);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_ASSIGNING);
    HK_CHECK(strcmp(r.operation_id, "4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d") == 0);
    HK_CHECK(r.assigned_hub[0] == '\0' && r.device_id[0] == '\0');
    HK_CHECK(r.payload == NULL);

    HK_CHECK_RESULT(parse("$dps/registrations/res/202/?retry-after=120&$rid=1",
                          "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
                          "\"status\":\"assigning\",\"registrationState\":{\"registrationId\":"
                          "\"myRegistrationId\",\"status\":\"assigning\"}}",
                          &r),
                    HK_OK);
    HK_CHECK_EQ(r.topic.status, 202);
    HK_CHECK_EQ(r.topic.retry_after_s, 120);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_ASSIGNING);

    HK_CHECK_RESULT(
        parse("$dps/registrations/res/200/?$rid=1",
              "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
              "\"status\":\"assigned\",\"registrationState\":{\"x509\":{},\"registrationId\":"
              "\"myRegistrationId\",\"createdDateTimeUtc\":\"2020-04-10T03:11:13.0276997Z\","
              "\"assignedHub\":\"contoso.azure-devices.net\",\"deviceId\":\"my-device-id1\","
              "\"status\":\"assigned\",\"substatus\":\"initialAssignment\","
              "\"lastUpdatedDateTimeUtc\":\"2020-04-10T03:11:13.2096201Z\",\"etag\":"
              "\"IjYxMDA4ZDQ2LTAwMDAtMDEwMC0wMDAwLTVlOGZlM2QxMDAwMCI=\"}}",
              &r),
        HK_OK);
    HK_CHECK_EQ(r.topic.status, 200);
    HK_CHECK_EQ(r.topic.retry_after_s, 0);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_ASSIGNED);
    HK_CHECK(strcmp(r.assigned_hub, "contoso.azure-devices.net") == 0);
    HK_CHECK(strcmp(r.device_id, "my-device-id1") == 0);
    HK_CHECK_EQ(r.substatus, HK_DPS_SUBSTATUS_INITIAL_ASSIGNMENT);
    HK_CHECK(r.payload == NULL && r.payload_len == 0);
    HK_CHECK_EQ(r.error_code, 0);
    HK_CHECK_EQ(r.message, 0);

    HK_CHECK_RESULT(parse("$dps/registrations/res/401/?$rid=1",
                          "{\"errorCode\":401002,\"trackingId\":\"8ad0463c-6427-4479-9dfa-"
                          "3e8bb7003e9b\",\"message\":\"Invalid certificate.\",\"timestampUtc\":"
                          "\"2020-04-10T05:24:22.4718526Z\"}",
                          &r),
                    HK_OK);
    HK_CHECK_EQ(r.topic.status, 401);
    HK_CHECK(r.operation_id[0] == '\0');
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_FAILED);
    HK_CHECK_EQ(r.error_code, 401002);
    HK_CHECK_EQ(r.error_code / 1000, 401);
    check_message(&r, "Invalid certificate.");

    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1",
                          "{\"operationId\":\"\",\"status\":\"disabled\",\"registrationState\":{"
                          "\"registrationId\":\"myRegistrationId\",\"status\":\"disabled\"}}",
                          &r),
                    HK_OK);
    HK_CHECK_EQ(r.topic.status, 200);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_DISABLED);

    HK_CHECK_RESULT(
        parse("$dps/registrations/res/200/?$rid=1",
              "{\"operationId\":\"4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d\","
              "\"status\":\"failed\",\"registrationState\":{\"registrationId\":\"myRegistrationId\","
              "\"createdDateTimeUtc\":\"2020-04-10T03:11:13.0276997Z\",\"status\":\"failed\","
              "\"errorCode\":400207,\"errorMessage\":\"Custom allocation failed with status code: "
              "400\",\"lastUpdatedDateTimeUtc\":\"2020-04-10T03:11:13.0276997Z\",\"etag\":"
              "\"IjdiMDAxNTcxLTAwMDAtMDEwMC0wMDAwLTVlOTA1MmIxMDAwMCI=\"}}",
              &r),
        HK_OK);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_FAILED);
    HK_CHECK_EQ(r.error_code, 400207);
    HK_CHECK_EQ(r.error_code / 1000, 400);
    check_message(&r, "Custom allocation failed with status code: 400");

    HK_CHECK_RESULT(parse("$dps/registrations/unknown", "{}", &r), HK_ERR_DPS_TOPIC);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", "123", &r), HK_ERR_DPS_PAYLOAD);
    HK_CHECK_EQ(r.topic.status, 200); /* topic fields survive a body error */
}

static void test_response_payload_forms(void)
{
    hk_dps_response r;
    static const char head[] = "{\"operationId\":\"op\",\"status\":\"assigned\",\"registrationState\":"
                               "{\"assignedHub\":\"h.azure-devices.net\",\"deviceId\":\"d1\",";
    char body[512];

    snprintf(body, sizeof body, "%s\"payload\":{\"hello\":\"world\",\"arr\":[1,2,{}]}}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
    HK_CHECK_STRN(r.payload, r.payload_len, "{\"hello\":\"world\",\"arr\":[1,2,{}]}");

    snprintf(body, sizeof body, "%s\"payload\":{}}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
    HK_CHECK_STRN(r.payload, r.payload_len, "{}");

    snprintf(body, sizeof body, "%s\"payload\":null}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
    HK_CHECK(r.payload == NULL && r.payload_len == 0);
    HK_CHECK(strcmp(r.device_id, "d1") == 0);
    HK_CHECK_EQ(r.substatus, HK_DPS_SUBSTATUS_NONE);

    snprintf(body, sizeof body, "%s\"payload\":[1]}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    snprintf(body, sizeof body, "%s\"payload\":\"x\"}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    snprintf(body, sizeof body, "%s\"payload\":{},\"payload\":{}}}", head);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);

    /* every substatus */
    static const char *subs[] = {"initialAssignment", "deviceDataMigrated", "deviceDataReset",
                                 "reprovisionedToInitialAssignment", "somethingNew"};
    static const hk_dps_substatus want[] = {
        HK_DPS_SUBSTATUS_INITIAL_ASSIGNMENT, HK_DPS_SUBSTATUS_DEVICE_DATA_MIGRATED,
        HK_DPS_SUBSTATUS_DEVICE_DATA_RESET, HK_DPS_SUBSTATUS_REPROVISIONED_TO_INITIAL_ASSIGNMENT,
        HK_DPS_SUBSTATUS_OTHER};
    for (size_t i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "%s\"substatus\":\"%s\"}}", head, subs[i]);
        HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
        HK_CHECK_EQ(r.substatus, want[i]);
    }
    /* the escaped forms decode */
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1",
                          "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":"
                          "\"h\\u002eazure-devices.net\",\"deviceId\":\"d\\/1\"}}",
                          &r),
                    HK_OK);
    HK_CHECK(strcmp(r.assigned_hub, "h.azure-devices.net") == 0);
    HK_CHECK(strcmp(r.device_id, "d/1") == 0);
    /* all statuses */
    static const char *st[] = {"unassigned", "assigning", "assigned", "failed", "disabled"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(body, sizeof body,
                 "{\"status\":\"%s\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":"
                 "\"d\"}}",
                 st[i]);
        HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
        HK_CHECK_EQ(r.operation_status, (hk_dps_operation_status)(i + 1));
    }
    /* registrationState null */
    HK_CHECK_RESULT(parse("$dps/registrations/res/202/?$rid=1",
                          "{\"operationId\":\"op\",\"status\":\"assigning\",\"registrationState\":null}",
                          &r),
                    HK_OK);
    /* 4xx/5xx with an empty body */
    HK_CHECK_RESULT(hk_dps_response_parse("$dps/registrations/res/429/?$rid=1&retry-after=5", 48,
                                          "", 0, tokens, HK_DPS_JSON_TOKENS, &r),
                    HK_OK);
    HK_CHECK_EQ(r.topic.retry_after_s, 5);
    HK_CHECK_EQ(r.operation_status, HK_DPS_OPERATION_FAILED);
    HK_CHECK_RESULT(hk_dps_response_parse("$dps/registrations/res/503/?$rid=1", 34, NULL, 0, NULL, 0,
                                          &r),
                    HK_OK);
}

static void test_response_certificates(void)
{
    hk_dps_response r;
    char buf[64];
    size_t len;
    HK_CHECK_RESULT(
        parse("$dps/registrations/res/200/?$rid=1",
              "{\"operationId\":\"op\",\"status\":\"assigned\",\"registrationState\":{"
              "\"assignedHub\":\"h\",\"deviceId\":\"d\",\"issuedCertificateChain\":[\"TEVBRg==\","
              "\"SU5U\",\"Uk9PVA==\"],\"trustBundle\":{\"certificates\":[{\"certificate\":"
              "\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\",\"metadata\":{"
              "\"subjectName\":\"CN=root\",\"sha1Thumbprint\":\"00\",\"version\":3}},"
              "{\"certificate\":\"two\",\"metadata\":{}}],\"id\":\"tb\",\"etag\":\"e\"}}}",
              &r),
        HK_OK);
    HK_CHECK_EQ(r.issued_chain_count, 3);
    static const char *chain[] = {"TEVBRg==", "SU5U", "Uk9PVA=="};
    for (size_t i = 0; i < 3 && i < r.issued_chain_count; i++) {
        HK_CHECK_RESULT(hk_dps_response_string_get(&r, r.issued_chain[i], buf, sizeof buf, &len),
                        HK_OK);
        HK_CHECK_STRN(buf, len, chain[i]);
    }
    HK_CHECK_EQ(r.trust_bundle_count, 2);
    HK_CHECK_RESULT(hk_dps_response_string_get(&r, r.trust_bundle[0], buf, sizeof buf, &len), HK_OK);
    HK_CHECK_STRN(buf, len, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_dps_response_string_get(&r, r.trust_bundle[0], buf, 10, &len),
                    HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(buf, 10, sizeof buf));
    HK_CHECK_REQUIRE(hk_dps_response_string_get(&r, 0, buf, sizeof buf, &len), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_response_string_get(&r, r.doc.count, buf, sizeof buf, &len),
                     HK_ERR_INVALID_ARG);

    /* exactly HK_DPS_CERTS_MAX fit; one more is refused, never stored */
    char body[512];
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":"
             "\"d\",\"issuedCertificateChain\":[\"a\",\"b\",\"c\",\"d\"%s]}}",
             "");
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
    HK_CHECK_EQ(r.issued_chain_count, HK_DPS_CERTS_MAX);
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":"
             "\"d\",\"issuedCertificateChain\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}}");
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    HK_CHECK_EQ(r.issued_chain_count, 0);
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":"
             "\"d\",\"trustBundle\":{\"certificates\":[{\"certificate\":\"a\"},{\"certificate\":"
             "\"b\"},{\"certificate\":\"c\"},{\"certificate\":\"d\"},{\"certificate\":\"e\"}]}}}");
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);

    static const char *bad_certs[] = {
        "\"issuedCertificateChain\":[1]",
        "\"issuedCertificateChain\":\"a\"",
        "\"issuedCertificateChain\":[null]",
        "\"trustBundle\":[]",
        "\"trustBundle\":{\"certificates\":{}}",
        "\"trustBundle\":{\"certificates\":[\"a\"]}",
        "\"trustBundle\":{\"certificates\":[{}]}",
        "\"trustBundle\":{\"certificates\":[{\"certificate\":1}]}",
        "\"trustBundle\":{\"certificates\":[{\"certificate\":\"a\",\"certificate\":\"b\"}]}",
        /* Elements that are arrays, not objects: a key-value lookalike and a
         * lone "key" as the last token of the document. */
        "\"trustBundle\":{\"certificates\":[[\"certificate\",\"a\"]]}",
        "\"trustBundle\":{\"certificates\":[[\"certificate\"]]}",
    };
    for (size_t i = 0; i < sizeof bad_certs / sizeof bad_certs[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\","
                 "\"deviceId\":\"d\",%s}}",
                 bad_certs[i]);
        HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    }
    /* empty lists and a bundle without certificates are fine */
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1",
                          "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\","
                          "\"deviceId\":\"d\",\"issuedCertificateChain\":[],\"trustBundle\":{}}}",
                          &r),
                    HK_OK);
    HK_CHECK_EQ(r.issued_chain_count, 0);
    HK_CHECK_EQ(r.trust_bundle_count, 0);
}

static void test_response_errors(void)
{
    hk_dps_response r;
    static const char *bad[] = {
        "",
        " ",
        "[]",
        "null",
        "\"x\"",
        "{",
        "{}",                                       /* no status, no errorCode */
        "{\"operationId\":\"op\"}",                 /* same */
        "{\"status\":\"weird\"}",
        "{\"status\":1}",
        "{\"status\":null}",
        "{\"status\":\"assigning\",\"status\":\"assigning\"}",
        "{\"operationId\":1,\"status\":\"assigning\"}",
        "{\"operationId\":\"a&b\",\"status\":\"assigning\"}",
        "{\"operationId\":\"a/b\",\"status\":\"assigning\"}",
        "{\"operationId\":\"a b\",\"status\":\"assigning\"}",
        "{\"errorCode\":\"401002\"}",
        "{\"errorCode\":-1}",
        "{\"errorCode\":4294967296}",
        "{\"errorCode\":1.5}",
        "{\"errorCode\":1,\"message\":2}",
        "{\"status\":\"assigning\",\"registrationState\":{\"errorCode\":400207}}", /* fine? no: */
        "{\"status\":\"assigned\"}",                                  /* assigned needs both */
        "{\"status\":\"assigned\",\"registrationState\":{}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\"}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"deviceId\":\"d\"}}",
        "{\"status\":\"assigning\",\"registrationState\":{\"assignedHub\":\"h\"}}",
        "{\"status\":\"assigning\",\"registrationState\":{\"deviceId\":\"d\"}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"\",\"deviceId\":\"d\"}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":\"\"}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":1,\"deviceId\":\"d\"}}",
        "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":null}}",
        "{\"status\":\"assigning\",\"registrationState\":[]}",
        "{\"status\":\"assigning\",\"registrationState\":\"x\"}",
        ("{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":\"d\","
         "\"substatus\":1}}"),
        "{\"status\":\"failed\",\"registrationState\":{\"errorCode\":\"x\"}}",
        "{\"status\":\"failed\",\"registrationState\":{\"errorMessage\":1}}",
        "{\"status\":\"assigning\"} x",
        "{\"status\":\"assigning\",}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_result res = parse("$dps/registrations/res/200/?$rid=1", bad[i], &r);
        if (i == 21) {
            /* registrationState.errorCode alone is fine once status is given */
            HK_CHECK_RESULT(res, HK_OK);
            HK_CHECK_EQ(r.error_code, 400207);
            continue;
        }
        if (res != HK_ERR_DPS_PAYLOAD)
            fprintf(stderr, "accepted or wrong error for body %zu: %s\n", i, bad[i]);
        HK_CHECK_RESULT(res, HK_ERR_DPS_PAYLOAD);
        HK_CHECK(r.assigned_hub[0] == '\0' && r.operation_id[0] == '\0' && r.doc.count == 0);
    }
    /* errorCode only inside registrationState and no status: malformed */
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1",
                          "{\"registrationState\":{\"errorCode\":400207}}", &r),
                    HK_ERR_DPS_PAYLOAD);

    /* strings over their bounds */
    char body[1024];
    char lng[HK_DPS_HUB_MAX + 2];
    memset(lng, 'h', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"%s\",\"deviceId\":"
             "\"d\"}}",
             lng);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    lng[sizeof lng - 2] = '\0'; /* exactly the bound */
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"%s\",\"deviceId\":"
             "\"%s\"}}",
             lng, lng);
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_OK);
    HK_CHECK_EQ(strlen(r.assigned_hub), HK_DPS_HUB_MAX);
    char op[HK_DPS_OPERATION_ID_MAX + 2];
    memset(op, 'o', sizeof op - 1);
    op[sizeof op - 1] = '\0';
    snprintf(body, sizeof body, "{\"operationId\":\"%s\",\"status\":\"assigning\"}", op);
    HK_CHECK_RESULT(parse("$dps/registrations/res/202/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    op[sizeof op - 2] = '\0';
    snprintf(body, sizeof body, "{\"operationId\":\"%s\",\"status\":\"assigning\"}", op);
    HK_CHECK_RESULT(parse("$dps/registrations/res/202/?$rid=1", body, &r), HK_OK);
    HK_CHECK_EQ(strlen(r.operation_id), HK_DPS_OPERATION_ID_MAX);

    /* the token array bounds the document; too few tokens is reported as such */
    static const char ok[] = "{\"operationId\":\"op\",\"status\":\"assigning\"}";
    HK_CHECK_RESULT(hk_dps_response_parse("$dps/registrations/res/202/?$rid=1", 34, ok,
                                          sizeof ok - 1, tokens, 5, &r),
                    HK_OK);
    HK_CHECK_RESULT(hk_dps_response_parse("$dps/registrations/res/202/?$rid=1", 34, ok,
                                          sizeof ok - 1, tokens, 4, &r),
                    HK_ERR_JSON_TOO_MANY_TOKENS);
    /* deep nesting in the custom payload beyond the reader's depth limit */
    snprintf(body, sizeof body,
             "{\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"h\",\"deviceId\":"
             "\"d\",\"payload\":%s}}",
             "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]");
    HK_CHECK_RESULT(parse("$dps/registrations/res/200/?$rid=1", body, &r), HK_ERR_DPS_PAYLOAD);
    /* preconditions */
    HK_CHECK_REQUIRE(hk_dps_response_parse("$dps/registrations/res/202/?$rid=1", 34, ok,
                                          sizeof ok - 1, tokens, 5, NULL),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_response_parse("$dps/registrations/res/202/?$rid=1", 34, NULL, 3,
                                          tokens, 5, &r),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_dps_response_parse("$dps/registrations/res/202/?$rid=1", 34, ok,
                                          sizeof ok - 1, NULL, 5, &r),
                     HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_client_id_and_username);
    HK_RUN(test_identity_errors);
    HK_RUN(test_topics);
    HK_RUN(test_register_body);
    HK_RUN(test_topic_parse);
    HK_RUN(test_response_sdk_vectors);
    HK_RUN(test_response_payload_forms);
    HK_RUN(test_response_certificates);
    HK_RUN(test_response_errors);
    return hk_test_finish("dps");
}
