/* IoT Hub client: the vectors of protocol reference D.1 and D.2 byte for
 * byte, every error branch, and guard bytes after every output buffer. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/hub.h"

static const hk_hub_client sdk_client = {"myiothub.azure-devices.net", "my_device", NULL, NULL,
                                         "azsdk-c%2F1.6.0-beta.1", NULL};
static const hk_hub_client our_client = {"contoso.azure-devices.net", "sn0123ABCD4567EF01",
                                         NULL, NULL, NULL, NULL};

static void test_client_id(void)
{
    hk_hub_client m = sdk_client;
    HK_CHECK_BUILD("my_device", hk_hub_client_id_build(&sdk_client, out_, cap_, &len_));
    m.module_id = "my_module_id";
    HK_CHECK_BUILD("my_device/my_module_id", hk_hub_client_id_build(&m, out_, cap_, &len_));
    HK_CHECK_BUILD("sn0123ABCD4567EF01", hk_hub_client_id_build(&our_client, out_, cap_, &len_));
    m = our_client;
    m.module_id = "mod1";
    HK_CHECK_BUILD("sn0123ABCD4567EF01/mod1", hk_hub_client_id_build(&m, out_, cap_, &len_));
    m.module_id = ""; /* empty module id = device identity */
    HK_CHECK_BUILD("sn0123ABCD4567EF01", hk_hub_client_id_build(&m, out_, cap_, &len_));
}

static void test_username_sdk_vectors(void)
{
    hk_hub_client c = sdk_client;
    HK_CHECK_BUILD("myiothub.azure-devices.net/my_device/?api-version=2020-09-30&DeviceClientType="
                "azsdk-c%2F1.6.0-beta.1",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c.model_id = "dtmi:YOUR_COMPANY_NAME_HERE:sample_device;1";
    HK_CHECK_BUILD("myiothub.azure-devices.net/my_device/?api-version=2020-09-30&DeviceClientType="
                "azsdk-c%2F1.6.0-beta.1&model-id=dtmi%3AYOUR_COMPANY_NAME_HERE%3Asample_device%3B1",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c = sdk_client;
    c.module_id = "my_module_id";
    c.client_type = "azrtos";
    HK_CHECK_BUILD("myiothub.azure-devices.net/my_device/my_module_id/?api-version=2020-09-30"
                "&DeviceClientType=azrtos",
                hk_hub_username_build(&c, out_, cap_, &len_));
}

static void test_username_project_vectors(void)
{
    hk_hub_client c = our_client;
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2020-09-30",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c.client_type = "azsdk-c%2F1.6.0-beta.1";
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2020-09-30"
                "&DeviceClientType=azsdk-c%2F1.6.0-beta.1",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c = our_client;
    c.model_id = "dtmi:com:example:Thermostat;1";
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2020-09-30"
                "&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c = our_client;
    c.module_id = "mod1";
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/mod1/?api-version=2020-09-30",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c = our_client;
    c.api_version = "2021-04-12";
    c.model_id = "a b/~"; /* space and slash encoded, '~' kept */
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2021-04-12"
                "&model-id=a%20b%2F~",
                hk_hub_username_build(&c, out_, cap_, &len_));
    c.model_id = "\xc3\xa9"; /* non-ASCII bytes: upper-case hex */
    HK_CHECK_BUILD("contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2021-04-12"
                "&model-id=%C3%A9",
                hk_hub_username_build(&c, out_, cap_, &len_));
}

static void test_identity_errors(void)
{
    hk_hub_client c = our_client;
    size_t len;
    char buf[8];
    HK_CHECK_BUILD_REQUIRE(hk_hub_client_id_build(NULL, out_, cap_, &len_));
    HK_CHECK_BUILD_REQUIRE(hk_hub_client_id_build(&c, out_, cap_, NULL));
    HK_CHECK_REQUIRE(hk_hub_client_id_build(&c, NULL, 4, &len), HK_ERR_INVALID_ARG);
    const char *bad_ids[] = {NULL, "", "a/b", "a#", "a+b", "a b", "a\x7f", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        c = our_client;
        c.device_id = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_client_id_build(&c, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                          hk_hub_telemetry_topic_build(&c, NULL, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_c2d_filter_build(&c, out_, cap_, &len_));
        if (bad_ids[i] == NULL || bad_ids[i][0] == '\0')
            continue; /* an empty module id means "no module" */
        c = our_client;
        c.module_id = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_client_id_build(&c, out_, cap_, &len_));
        c = our_client;
        c.host = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
        c = our_client;
        c.api_version = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
        c = our_client;
        c.client_type = bad_ids[i];
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
    }
    c = our_client;
    c.host = NULL;
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
    c = our_client;
    c.host = "h&x"; /* a host name is a DNS name: no query characters */
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
    c.host = "h?x";
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
    c = our_client;
    c.client_type = "a&b"; /* would add a username parameter */
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_username_build(&c, out_, cap_, &len_));
    (void)buf;
}

static void test_telemetry(void)
{
    hk_hub_client m = our_client;
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/messages/events/",
                hk_hub_telemetry_topic_build(&our_client, NULL, out_, cap_, &len_));
    hk_hub_property app[] = {{"temp alert", "high&hot"}};
    hk_hub_telemetry_properties p = {0};
    p.content_type = "application/json";
    p.content_encoding = "utf-8";
    p.message_id = "1";
    p.app = app;
    p.app_count = 1;
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/messages/events/%24.ct=application%2Fjson&%24.ce="
                "utf-8&%24.mid=1&temp%20alert=high%26hot",
                hk_hub_telemetry_topic_build(&our_client, &p, out_, cap_, &len_));
    m.module_id = "mod1";
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/modules/mod1/messages/events/",
                hk_hub_telemetry_topic_build(&m, NULL, out_, cap_, &len_));

    /* SDKC module vector with two pre-encodable properties. */
    hk_hub_client s = sdk_client;
    s.module_id = "my_module_id";
    hk_hub_property two[] = {{"key", "value"}, {"key_two", "value2"}};
    hk_hub_telemetry_properties q = {0};
    q.app = two;
    q.app_count = 2;
    HK_CHECK_BUILD("devices/my_device/modules/my_module_id/messages/events/key=value&key_two=value2",
                hk_hub_telemetry_topic_build(&s, &q, out_, cap_, &len_));

    /* Every system property, in the documented order, and an empty value. */
    hk_hub_property empty[] = {{"e", ""}};
    hk_hub_telemetry_properties all = {"ct", "ce", "m", "c", "u", "2021-04-21T11:30:16Z", "th1",
                                       empty, 1};
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/messages/events/%24.ct=ct&%24.ce=ce&%24.mid=m&"
                "%24.cid=c&%24.uid=u&%24.ctime=2021-04-21T11%3A30%3A16Z&%24.sub=th1&e=",
                hk_hub_telemetry_topic_build(&our_client, &all, out_, cap_, &len_));

    /* Empty property set: no bag at all. */
    hk_hub_telemetry_properties none = {0};
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/messages/events/",
                hk_hub_telemetry_topic_build(&our_client, &none, out_, cap_, &len_));

    /* Errors: empty name, NULL name, NULL value, app NULL with a count. */
    hk_hub_property bad1[] = {{"", "v"}};
    hk_hub_property bad2[] = {{NULL, "v"}};
    hk_hub_property bad3[] = {{"n", NULL}};
    hk_hub_property *bads[] = {bad1, bad2, bad3};
    for (size_t i = 0; i < 3; i++) {
        hk_hub_telemetry_properties b = {0};
        b.app = bads[i];
        b.app_count = 1;
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                          hk_hub_telemetry_topic_build(&our_client, &b, out_, cap_, &len_));
    }
    hk_hub_telemetry_properties b = {0};
    b.app_count = 1;
    HK_CHECK_BUILD_REQUIRE(
                      hk_hub_telemetry_topic_build(&our_client, &b, out_, cap_, &len_));
}

static void test_c2d_filter_and_constants(void)
{
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/messages/devicebound/#",
                hk_hub_c2d_filter_build(&our_client, out_, cap_, &len_));
    hk_hub_client m = our_client;
    m.module_id = "mod1";
    HK_CHECK_BUILD("devices/sn0123ABCD4567EF01/modules/mod1/#",
                hk_hub_c2d_filter_build(&m, out_, cap_, &len_));
    HK_CHECK(strcmp(HK_HUB_TWIN_RESPONSE_FILTER, "$iothub/twin/res/#") == 0);
    HK_CHECK(strcmp(HK_HUB_TWIN_DESIRED_FILTER, "$iothub/twin/PATCH/properties/desired/#") == 0);
    HK_CHECK(strcmp(HK_HUB_METHODS_FILTER, "$iothub/methods/POST/#") == 0);
}

static void test_twin_and_method_topics(void)
{
    HK_CHECK_BUILD("$iothub/twin/GET/?$rid=1", hk_hub_twin_get_topic_build("1", 1, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/twin/GET/?$rid=id_one",
                hk_hub_twin_get_topic_build("id_one", 6, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/twin/PATCH/properties/reported/?$rid=1",
                hk_hub_twin_patch_topic_build("1", 1, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/twin/PATCH/properties/reported/?$rid=id_one",
                hk_hub_twin_patch_topic_build("id_one", 6, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/methods/res/200/?$rid=1",
                hk_hub_method_response_topic_build(200, "1", 1, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/methods/res/200/?$rid=2",
                hk_hub_method_response_topic_build(200, "2", 1, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/methods/res/65535/?$rid=2",
                hk_hub_method_response_topic_build(65535, "2", 1, out_, cap_, &len_));
    HK_CHECK_BUILD("$iothub/methods/res/0/?$rid=2",
                hk_hub_method_response_topic_build(0, "2", 1, out_, cap_, &len_));
    /* rid taken from a longer buffer: only rid_len bytes are used */
    HK_CHECK_BUILD("$iothub/twin/GET/?$rid=ab", hk_hub_twin_get_topic_build("abc", 2, out_, cap_, &len_));

    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                      hk_hub_method_response_topic_build(65536, "2", 1, out_, cap_, &len_));
    const char *bad_rids[] = {"", "a&b", "a#", "a+", "a/b", "a?", "a b", "\x01", "\x80"};
    for (size_t i = 0; i < sizeof bad_rids / sizeof bad_rids[0]; i++) {
        const char *r = bad_rids[i];
        size_t n = strlen(r);
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_twin_get_topic_build(r, n, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                          hk_hub_twin_patch_topic_build(r, n, out_, cap_, &len_));
        HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG,
                          hk_hub_method_response_topic_build(200, r, n, out_, cap_, &len_));
    }
    char long_rid[66];
    memset(long_rid, 'r', sizeof long_rid);
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_twin_get_topic_build(long_rid, 65, out_, cap_, &len_));
    HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, hk_hub_twin_get_topic_build(NULL, 1, out_, cap_, &len_));
    long_rid[64] = '\0';
    char expected[128] = "$iothub/twin/GET/?$rid=";
    strcat(expected, long_rid);
    HK_CHECK_BUILD(expected, hk_hub_twin_get_topic_build(long_rid, 64, out_, cap_, &len_));
}

static hk_result parse(const char *topic, hk_hub_topic *out)
{
    return hk_hub_topic_parse(topic, strlen(topic), out);
}

static void test_parse_twin(void)
{
    hk_hub_topic t;
    HK_CHECK_RESULT(parse("$iothub/twin/res/204/?$rid=id_one&$version=16", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_REPORTED);
    HK_CHECK_EQ(t.status, 204);
    HK_CHECK_STRN(t.rid, t.rid_len, "id_one");
    HK_CHECK(t.has_version);
    HK_CHECK_EQ(t.version, 16);

    HK_CHECK_RESULT(parse("$iothub/twin/res/204/?$rid=1&$version=6", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_REPORTED);
    HK_CHECK_EQ(t.version, 6);

    /* any order, unknown parameters ignored */
    HK_CHECK_RESULT(parse("$iothub/twin/res/204/?$version=4294967295&x=y&$rid=7", &t), HK_OK);
    HK_CHECK_EQ(t.version, 4294967295u);
    HK_CHECK_STRN(t.rid, t.rid_len, "7");

    HK_CHECK_RESULT(parse("$iothub/twin/PATCH/properties/desired/?$version=8", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_DESIRED);
    HK_CHECK_EQ(t.version, 8);
    HK_CHECK_EQ(t.status, 200);
    HK_CHECK(t.rid == NULL);

    HK_CHECK_RESULT(parse("$iothub/twin/res/429/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_ERROR);
    HK_CHECK_EQ(t.status, 429);
    HK_CHECK(!t.has_version);

    HK_CHECK_RESULT(parse("$iothub/twin/res/400/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_ERROR);
    HK_CHECK_RESULT(parse("$iothub/twin/res/500/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_ERROR);

    HK_CHECK_RESULT(parse("$iothub/twin/res/200/?$rid=abc", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_GET);
    HK_CHECK_EQ(t.status, 200);
    HK_CHECK_STRN(t.rid, t.rid_len, "abc");
    HK_CHECK_RESULT(parse("$iothub/twin/res/202/?$rid=abc", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_TWIN_GET);
}

static void test_parse_methods(void)
{
    hk_hub_topic t;
    HK_CHECK_RESULT(parse("$iothub/methods/POST/TestMethod/?$rid=1", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_METHOD_REQUEST);
    HK_CHECK_STRN(t.name, t.name_len, "TestMethod");
    HK_CHECK_STRN(t.rid, t.rid_len, "1");
    HK_CHECK_RESULT(parse("$iothub/methods/POST/reboot/?$rid=1", &t), HK_OK);
    HK_CHECK_STRN(t.name, t.name_len, "reboot");
    HK_CHECK_RESULT(parse("$iothub/methods/POST/component_one*TestMethod/?$rid=1", &t), HK_OK);
    HK_CHECK_STRN(t.name, t.name_len, "component_one*TestMethod");
    HK_CHECK_RESULT(parse("$iothub/methods/POST/m/?x=1&$rid=ff", &t), HK_OK);
    HK_CHECK_STRN(t.rid, t.rid_len, "ff");
}

static void test_parse_c2d(void)
{
    hk_hub_topic t;
    static const char topic[] =
        "devices/useragent_c/messages/devicebound/%24.to=%2Fdevices%2Fuseragent_c%2Fmessages%2F"
        "deviceBound&abc=123&ghi=%2Fsome%2Fthing&jkl=%2Fsome%2Fthing%2F%3Fbla%3Dbla";
    HK_CHECK_RESULT(parse(topic, &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_C2D);
    HK_CHECK_STRN(t.properties, t.properties_len,
                  "%24.to=%2Fdevices%2Fuseragent_c%2Fmessages%2FdeviceBound&abc=123&ghi=%2Fsome"
                  "%2Fthing&jkl=%2Fsome%2Fthing%2F%3Fbla%3Dbla");

    static const char *names[] = {"%24.to", "abc", "ghi", "jkl"};
    static const char *values[] = {"%2Fdevices%2Fuseragent_c%2Fmessages%2FdeviceBound", "123",
                                   "%2Fsome%2Fthing", "%2Fsome%2Fthing%2F%3Fbla%3Dbla"};
    size_t pos = 0, i = 0;
    const char *n, *v;
    size_t nl, vl;
    bool hv;
    while (hk_hub_properties_next(t.properties, t.properties_len, &pos, &n, &nl, &v, &vl, &hv) ==
           HK_OK) {
        HK_CHECK(i < 4);
        if (i >= 4)
            break;
        HK_CHECK_STRN(n, nl, names[i]);
        HK_CHECK_STRN(v, vl, values[i]);
        HK_CHECK(hv);
        i++;
    }
    HK_CHECK_EQ(i, 4);

    HK_CHECK_RESULT(hk_hub_properties_find(t.properties, t.properties_len, "jkl", &v, &vl), HK_OK);
    char dec[64];
    hk_guard_fill(dec, 0, sizeof dec);
    size_t dl;
    HK_CHECK_RESULT(hk_hub_url_decode(v, vl, dec, 20, &dl), HK_OK);
    HK_CHECK_STRN(dec, dl, "/some/thing/?bla=bla");
    HK_CHECK(hk_guard_intact(dec, 20, sizeof dec));
    hk_guard_fill(dec, 0, sizeof dec);
    HK_CHECK_RESULT(hk_hub_url_decode(v, vl, dec, 19, &dl), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(dec, 19, sizeof dec));
    HK_CHECK_RESULT(hk_hub_properties_find(t.properties, t.properties_len, "%24.to", &v, &vl),
                    HK_OK);
    HK_CHECK_RESULT(hk_hub_url_decode(v, vl, dec, sizeof dec, &dl), HK_OK);
    HK_CHECK_STRN(dec, dl, "/devices/useragent_c/messages/deviceBound");
    HK_CHECK_RESULT(hk_hub_properties_find(t.properties, t.properties_len, "nope", &v, &vl),
                    HK_ERR_NOT_FOUND);

    /* no properties; module form; null and empty values */
    HK_CHECK_RESULT(parse("devices/d/messages/devicebound/", &t), HK_OK);
    HK_CHECK_EQ(t.kind, HK_HUB_TOPIC_C2D);
    HK_CHECK_EQ(t.properties_len, 0);
    HK_CHECK_RESULT(parse("devices/d/modules/m/messages/devicebound/a", &t), HK_OK);
    HK_CHECK_STRN(t.properties, t.properties_len, "a");
    HK_CHECK_RESULT(parse("devices/d/messages/devicebound/k&e=&x=1", &t), HK_OK);
    pos = 0;
    HK_CHECK_RESULT(hk_hub_properties_next(t.properties, t.properties_len, &pos, &n, &nl, &v, &vl,
                                           &hv), HK_OK);
    HK_CHECK_STRN(n, nl, "k");
    HK_CHECK(!hv);
    HK_CHECK_EQ(vl, 0);
    HK_CHECK_RESULT(hk_hub_properties_next(t.properties, t.properties_len, &pos, &n, &nl, &v, &vl,
                                           &hv), HK_OK);
    HK_CHECK_STRN(n, nl, "e");
    HK_CHECK(hv);
    HK_CHECK_EQ(vl, 0);
    HK_CHECK_RESULT(hk_hub_properties_find(t.properties, t.properties_len, "k", &v, &vl), HK_OK);
    HK_CHECK_EQ(vl, 0);
}

static void test_parse_errors(void)
{
    static const char *bad[] = {
        "",
        "devices/",
        "devices/d",
        "devices//messages/devicebound/",
        "devices/d/messages/devicebound",
        "devices/d/messages/events/",
        "devices/d/modules//messages/devicebound/",
        "devices/d/modules/m/devicebound/",
        "devices/d/messages/devicebound/&a=1",
        "devices/d/messages/devicebound/a=1&",
        "devices/d/messages/devicebound/a=1&&b=2",
        "devices/d/messages/devicebound/=1",
        "$iothub/twin/res/",
        "$iothub/twin/res/200",
        "$iothub/twin/res/200/",
        "$iothub/twin/res/200/?",
        "$iothub/twin/res/200?$rid=1",
        "$iothub/twin/res/20/?$rid=1",
        "$iothub/twin/res/2000/?$rid=1",
        "$iothub/twin/res/2a0/?$rid=1",
        "$iothub/twin/res/099/?$rid=1",
        "$iothub/twin/res/201/?$rid=1",
        "$iothub/twin/res/304/?$rid=1",
        "$iothub/twin/res/200/?$version=1",
        "$iothub/twin/res/200/?$rid=",
        "$iothub/twin/res/200/?$rid",
        "$iothub/twin/res/200/?$rid=1&$rid=2",
        "$iothub/twin/res/200/?$rid=a#b",
        "$iothub/twin/res/204/?$rid=1&$version=",
        "$iothub/twin/res/204/?$rid=1&$version=x",
        "$iothub/twin/res/204/?$rid=1&$version=-1",
        "$iothub/twin/res/204/?$rid=1&$version=4294967296",
        "$iothub/twin/res/204/?$rid=1&$version=99999999999",
        "$iothub/twin/res/204/?$rid=1&$version=1&$version=2",
        "$iothub/twin/res/204/?$rid=1&",
        "$iothub/twin/PATCH/properties/desired/",
        "$iothub/twin/PATCH/properties/desired/?",
        "$iothub/twin/PATCH/properties/desired/?$version=",
        "$iothub/twin/PATCH/properties/desired/?$rid=1",
        "$iothub/twin/PATCH/properties/reported/?$rid=1",
        "$iothub/twin/GET/?$rid=1",
        "$iothub/methods/POST/",
        "$iothub/methods/POST//?$rid=1",
        "$iothub/methods/POST/m",
        "$iothub/methods/POST/m/",
        "$iothub/methods/POST/m/?",
        "$iothub/methods/POST/m/$rid=1",
        "$iothub/methods/POST/m/?$version=1",
        "$iothub/methods/POST/m/?$rid=1&$version=1",
        "$iothub/methods/POST/m/x/?$rid=1",
        "$iothub/methods/res/200/?$rid=1",
        "$dps/registrations/res/200/?$rid=1",
        "devicesX",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_hub_topic t;
        hk_result r = parse(bad[i], &t);
        if (r != HK_ERR_HUB_TOPIC)
            fprintf(stderr, "accepted or wrong error for: %s\n", bad[i]);
        HK_CHECK_RESULT(r, HK_ERR_HUB_TOPIC);
    }
    /* The parser never reads past topic_len: a valid prefix cut short. */
    static const char full[] = "$iothub/twin/res/204/?$rid=1&$version=6";
    hk_hub_topic t;
    for (size_t n = 0; n < sizeof full - 1; n++) {
        hk_result r = hk_hub_topic_parse(full, n, &t);
        HK_CHECK(r == HK_ERR_HUB_TOPIC || (r == HK_OK && n >= 27));
    }
    HK_CHECK_RESULT(hk_hub_topic_parse(NULL, 0, &t), HK_ERR_HUB_TOPIC);
    HK_CHECK_REQUIRE(hk_hub_topic_parse("x", 1, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_hub_topic_parse(NULL, 3, &t), HK_ERR_INVALID_ARG);
}

static void test_url_decode_errors(void)
{
    char out[16];
    size_t n;
    HK_CHECK_RESULT(hk_hub_url_decode("%", 1, out, sizeof out, &n), HK_ERR_MALFORMED);
    HK_CHECK_RESULT(hk_hub_url_decode("%2", 2, out, sizeof out, &n), HK_ERR_MALFORMED);
    HK_CHECK_RESULT(hk_hub_url_decode("%2G", 3, out, sizeof out, &n), HK_ERR_MALFORMED);
    HK_CHECK_RESULT(hk_hub_url_decode("%G2", 3, out, sizeof out, &n), HK_ERR_MALFORMED);
    HK_CHECK_RESULT(hk_hub_url_decode("%2a%2F+", 7, out, sizeof out, &n), HK_OK);
    HK_CHECK_STRN(out, n, "*/+");
    HK_CHECK_RESULT(hk_hub_url_decode("", 0, NULL, 0, &n), HK_OK);
    HK_CHECK_EQ(n, 0);
    HK_CHECK_RESULT(hk_hub_url_decode("a", 1, NULL, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_REQUIRE(hk_hub_url_decode("a", 1, out, sizeof out, NULL), HK_ERR_INVALID_ARG);
    /* in place */
    char inplace[] = "a%20b";
    HK_CHECK_RESULT(hk_hub_url_decode(inplace, 5, inplace, 5, &n), HK_OK);
    HK_CHECK_STRN(inplace, n, "a b");

    size_t pos = 0;
    const char *nm, *v;
    size_t nl, vl;
    bool hv;
    HK_CHECK_RESULT(hk_hub_properties_next("", 0, &pos, &nm, &nl, &v, &vl, &hv), HK_ERR_NOT_FOUND);
    HK_CHECK_REQUIRE(hk_hub_properties_next("a", 1, NULL, &nm, &nl, &v, &vl, &hv),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_hub_properties_find("=x", 2, "a", &v, &vl), HK_ERR_HUB_TOPIC);
    HK_CHECK_REQUIRE(hk_hub_properties_find("a", 1, NULL, &v, &vl), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_client_id);
    HK_RUN(test_username_sdk_vectors);
    HK_RUN(test_username_project_vectors);
    HK_RUN(test_identity_errors);
    HK_RUN(test_telemetry);
    HK_RUN(test_c2d_filter_and_constants);
    HK_RUN(test_twin_and_method_topics);
    HK_RUN(test_parse_twin);
    HK_RUN(test_parse_methods);
    HK_RUN(test_parse_c2d);
    HK_RUN(test_parse_errors);
    HK_RUN(test_url_decode_errors);
    return hk_test_finish("hub");
}
