/*
 * IoT Hub client: string builders and topic classification.
 *
 * Builders run a small counting writer: it always counts the bytes the
 * string needs and stores only those that fit, so one pass both sizes and
 * writes, and a too-small buffer is never written past its end.
 *
 * Names are validated before they go into a topic: a '/' inside a device id
 * would move the rest of the topic into another level, and '#' or '+' are
 * MQTT wildcards, which a topic name may not contain at all.
 */
#include "hubkey/hub.h"

#include <string.h>

#include "common/hk_common.h"
#include "common/hk_text.h"

/* Percent-encoding as the Azure SDK for C does it for the model id: the RFC
 * 3986 unreserved bytes stay, every other byte becomes %XX, upper-case. The
 * same rule serves the telemetry property bag (a space becomes %20, never
 * '+', so the hub cannot mistake it for a literal plus). */
static void hub_put_encoded(hk_text *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            hk_text_put(t, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15u]};
            hk_text_put(t, e, 3);
        }
    }
}

static bool hub_present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Member i of the client (its members are all strings, in this order). */
static const uint8_t hub_members[] = {
    offsetof(hk_hub_client, host),        offsetof(hk_hub_client, device_id),
    offsetof(hk_hub_client, module_id),   offsetof(hk_hub_client, api_version),
    offsetof(hk_hub_client, client_type), offsetof(hk_hub_client, model_id),
};

static const char *hub_member(const hk_hub_client *c, unsigned i)
{
    const char *s;
    memcpy(&s, (const char *)c + hub_members[i], sizeof s);
    return s;
}

/* Rules for members 0..4: required or optional (NULL or "" omits it), and
 * whether the query bytes '&' and '?' are refused besides "/#+" (the host,
 * api-version and client type sit in the username's query). The model id
 * is encoded, so any bytes go. */
enum { HUB_REQUIRED = 1, HUB_NO_QUERY = 2 };
static const uint8_t hub_rules[] = {HUB_REQUIRED | HUB_NO_QUERY, HUB_REQUIRED, 0, HUB_NO_QUERY,
                                    HUB_NO_QUERY};

/* Members first..end-1 of the client follow hub_rules. */
static bool hub_client_ok(const hk_hub_client *c, unsigned first, unsigned end)
{
    for (unsigned i = first; i < end; i++) {
        const char *s = hub_member(c, i);
        if (!hub_present(s)) {
            if (hub_rules[i] & HUB_REQUIRED)
                return false;
        } else if (!hk_text_token_ok(s, strlen(s),
                                     (hub_rules[i] & HUB_NO_QUERY) ? "/#+&?" : "/#+")) {
            return false;
        }
    }
    return true;
}

/*
 * Expand a template over the client's members. Bytes from 0x20 up are
 * written as they are; a code below 0x20 names member (code & 7) - 1:
 *   HUB_M(i)      the member verbatim (nothing when absent or empty)
 *   HUB_ENC(i)    the member percent-encoded
 *   HUB_IF(i)     the literal bytes up to the next code only when the
 *                 member is present
 */
#define HUB_HOST "\x01"
#define HUB_DEVICE "\x02"
#define HUB_MODULE "\x03"
#define HUB_API "\x04"
#define HUB_TYPE "\x05"
#define HUB_MODEL_ENC "\x0e"
#define HUB_IF_MODULE "\x13"
#define HUB_IF_TYPE "\x15"
#define HUB_IF_MODEL "\x16"
#define HUB_ENC_FLAG 0x08u
#define HUB_IF_FLAG 0x10u

/* "{deviceId}[/{moduleId}]" */
#define HUB_IDENTITY HUB_DEVICE HUB_IF_MODULE "/" HUB_MODULE
/* "devices/{deviceId}[/modules/{moduleId}]" */
#define HUB_DEVICES "devices/" HUB_DEVICE HUB_IF_MODULE "/modules/" HUB_MODULE

static void hub_put_template(hk_text *t, const char *tpl, const hk_hub_client *c)
{
    bool on = true;
    for (; *tpl != '\0'; tpl++) {
        unsigned code = (unsigned char)*tpl;
        if (code >= 0x20) {
            if (on)
                hk_text_put(t, tpl, 1);
            continue;
        }
        const char *s = hub_member(c, (code & 7u) - 1u);
        on = hub_present(s);
        if (on && !(code & HUB_IF_FLAG)) {
            if (code & HUB_ENC_FLAG)
                hub_put_encoded(t, s);
            else
                hk_text_puts(t, s);
        }
        on = on || !(code & HUB_IF_FLAG);
    }
}

/* Check members first..end-1, expand tpl, finish. */
static hk_result hub_build(const hk_hub_client *c, unsigned first, unsigned end, const char *tpl,
                           char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(c != NULL && out_len != NULL && (out != NULL || cap == 0));
    if (!hub_client_ok(c, first, end))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hub_put_template(&t, tpl, c);
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_client_id_build(const hk_hub_client *client, char *out, size_t cap,
                                 size_t *out_len)
{
    return hub_build(client, 1, 3, HUB_IDENTITY, out, cap, out_len);
}

hk_result hk_hub_username_build(const hk_hub_client *client, char *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(client != NULL);
    hk_hub_client c = *client;
    if (!hub_present(c.api_version))
        c.api_version = HK_HUB_API_VERSION_DEFAULT;
    return hub_build(&c, 0, 5,
                     HUB_HOST "/" HUB_IDENTITY "/?api-version=" HUB_API HUB_IF_TYPE
                     "&DeviceClientType=" HUB_TYPE HUB_IF_MODEL "&model-id=" HUB_MODEL_ENC,
                     out, cap, out_len);
}

/* Wire names of the system properties, in the order of the members of
 * hk_hub_telemetry_properties (the '$' is sent encoded, as both SDKs do). */
static const struct {
    uint8_t offset;
    char name[6];
} hub_system_props[] = {
    {offsetof(hk_hub_telemetry_properties, content_type), "ct"},
    {offsetof(hk_hub_telemetry_properties, content_encoding), "ce"},
    {offsetof(hk_hub_telemetry_properties, message_id), "mid"},
    {offsetof(hk_hub_telemetry_properties, correlation_id), "cid"},
    {offsetof(hk_hub_telemetry_properties, user_id), "uid"},
    {offsetof(hk_hub_telemetry_properties, creation_time), "ctime"},
    {offsetof(hk_hub_telemetry_properties, component), "sub"},
};

hk_result hk_hub_telemetry_topic_build(const hk_hub_client *client,
                                       const hk_hub_telemetry_properties *props, char *out,
                                       size_t cap, size_t *out_len)
{
    HK_REQUIRE(client != NULL && out_len != NULL && (out != NULL || cap == 0));
    HK_REQUIRE(props == NULL || props->app_count == 0 || props->app != NULL);
    if (!hub_client_ok(client, 1, 3))
        return HK_ERR_INVALID_ARG;
    size_t app_count = props != NULL ? props->app_count : 0;
    for (size_t i = 0; i < app_count; i++) {
        if (!hub_present(props->app[i].name) || props->app[i].value == NULL)
            return HK_ERR_INVALID_ARG;
    }
    hk_text t = HK_TEXT_INIT(out, cap);
    hub_put_template(&t, HUB_DEVICES "/messages/events/", client);
    /* "%24.{name}={value}" per system property, then "{name}={value}", all
     * joined by '&' */
    const char *sep = "";
    for (size_t i = 0; props != NULL && i < HK_ARRAY_LEN(hub_system_props) + app_count; i++) {
        const char *name, *value;
        if (i < HK_ARRAY_LEN(hub_system_props)) {
            memcpy(&value, (const char *)props + hub_system_props[i].offset, sizeof value);
            if (value == NULL)
                continue;
            name = hub_system_props[i].name;
            hk_text_puts(&t, sep);
            hk_text_puts(&t, "%24.");
            hk_text_puts(&t, name);
        } else {
            const hk_hub_property *p = &props->app[i - HK_ARRAY_LEN(hub_system_props)];
            value = p->value;
            hk_text_puts(&t, sep);
            hub_put_encoded(&t, p->name);
        }
        hk_text_puts(&t, "=");
        hub_put_encoded(&t, value);
        sep = "&";
    }
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_c2d_filter_build(const hk_hub_client *client, char *out, size_t cap,
                                  size_t *out_len)
{
    HK_REQUIRE(client != NULL);
    /* Modules receive everything addressed to them under one filter. */
    return hub_build(client, 1, 3,
                     hub_present(client->module_id) ? HUB_DEVICES "/#"
                                                    : HUB_DEVICES "/messages/devicebound/#",
                     out, cap, out_len);
}

static bool hub_rid_ok(const char *rid, size_t rid_len)
{
    /* 1..64 printable ASCII bytes, none of them a separator or wildcard */
    return rid != NULL && rid_len <= 64 && hk_text_token_ok(rid, rid_len, "&#+/?");
}

/* No status: the twin topics. */
#define HUB_NO_STATUS UINT32_MAX

/* "{prefix}[{status}/]?$rid={rid}" */
static hk_result hub_rid_topic(const char *prefix, uint32_t status, const char *rid,
                               size_t rid_len, char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!hub_rid_ok(rid, rid_len))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, prefix);
    if (status != HUB_NO_STATUS) {
        hk_text_put_uint(&t, status);
        hk_text_puts(&t, "/");
    }
    hk_text_puts(&t, "?$rid=");
    hk_text_put(&t, rid, rid_len);
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_twin_get_topic_build(const char *rid, size_t rid_len, char *out, size_t cap,
                                      size_t *out_len)
{
    return hub_rid_topic("$iothub/twin/GET/", HUB_NO_STATUS, rid, rid_len, out, cap, out_len);
}

hk_result hk_hub_twin_patch_topic_build(const char *rid, size_t rid_len, char *out, size_t cap,
                                        size_t *out_len)
{
    return hub_rid_topic("$iothub/twin/PATCH/properties/reported/", HUB_NO_STATUS, rid, rid_len,
                         out, cap, out_len);
}

hk_result hk_hub_method_response_topic_build(unsigned status, const char *rid, size_t rid_len,
                                             char *out, size_t cap, size_t *out_len)
{
    if (status > HK_HUB_METHOD_STATUS_MAX)
        return HK_ERR_INVALID_ARG;
    return hub_rid_topic("$iothub/methods/res/", status, rid, rid_len, out, cap, out_len);
}

/* ---- parsing ---------------------------------------------------------- */

/* Strict unsigned decimal: 1..10 digits, no sign, no overflow. */
static bool hub_parse_u32(const char *s, size_t n, uint32_t *out)
{
    return n <= 10 && hk_text_uint(s, n, out, false);
}

/* Match pattern pat against the start of [s, end): '*' takes one non-empty
 * segment up to the next '/' (the last one taken lands in *seg, *seg_len),
 * any other byte matches itself. The rest of the input, or NULL. */
static const char *hub_match(const char *pat, const char *s, const char *end, const char **seg,
                             size_t *seg_len)
{
    for (; *pat != '\0'; pat++) {
        if (*pat == '*') {
            const char *slash = memchr(s, '/', (size_t)(end - s));
            if (slash == NULL || slash == s)
                return NULL;
            *seg = s;
            *seg_len = (size_t)(slash - s);
            s = slash;
        } else if (s == end || *s++ != *pat) {
            return NULL;
        }
    }
    return s;
}

hk_result hk_hub_properties_next(const char *bag, size_t bag_len, size_t *pos,
                                 const char **out_name, size_t *out_name_len,
                                 const char **out_value, size_t *out_value_len,
                                 bool *out_has_value)
{
    HK_REQUIRE((bag != NULL || bag_len == 0) && pos != NULL && out_name != NULL &&
               out_name_len != NULL && out_value != NULL && out_value_len != NULL &&
               out_has_value != NULL);
    hk_text_item it = {.pos = *pos};
    HK_TRY(hk_text_item_next(bag, bag_len, &it, HK_ERR_HUB_TOPIC));
    *pos = it.pos;
    *out_name = it.name;
    *out_name_len = it.name_len;
    *out_value = it.value;
    *out_value_len = it.value_len;
    *out_has_value = it.has_value;
    return HK_OK;
}

/* Walk a whole bag: HK_OK when it is well formed; with name, stop at the
 * item of that name (*it) instead, HK_ERR_NOT_FOUND when there is none. */
static hk_result hub_bag_find(const char *bag, size_t bag_len, const char *name, hk_text_item *it)
{
    hk_result r;
    it->pos = 0;
    while ((r = hk_text_item_next(bag, bag_len, it, HK_ERR_HUB_TOPIC)) == HK_OK) {
        if (name != NULL && hk_text_item_is(it, name))
            return HK_OK;
    }
    return r == HK_ERR_NOT_FOUND && name == NULL ? HK_OK : r;
}

hk_result hk_hub_properties_find(const char *bag, size_t bag_len, const char *name,
                                 const char **out_value, size_t *out_value_len)
{
    HK_REQUIRE(name != NULL && out_value != NULL && out_value_len != NULL);
    hk_text_item it;
    HK_TRY(hub_bag_find(bag, bag_len, name, &it));
    *out_value = it.value;
    *out_value_len = it.value_len;
    return HK_OK;
}

/* The forms of hk_hub_topic_parse(), each with the kind it gives; the
 * twin response kind is refined by its status. After the pattern comes the
 * C2D property bag or the query. */
static const struct {
    const char *pattern;
    hk_hub_topic_kind kind;
} hub_forms[] = {
    {"devices/*/messages/devicebound/", HK_HUB_TOPIC_C2D},
    {"devices/*/modules/*/messages/devicebound/", HK_HUB_TOPIC_C2D},
    {"$iothub/twin/res/*/?", HK_HUB_TOPIC_TWIN_GET},
    {"$iothub/twin/PATCH/properties/desired/?", HK_HUB_TOPIC_TWIN_DESIRED},
    {"$iothub/methods/POST/*/?", HK_HUB_TOPIC_METHOD_REQUEST},
};

/*
 * Topics IoT Hub publishes to the device, e.g.
 *   devices/dev1/messages/devicebound/%24.mid=7&abc=123
 *   $iothub/twin/res/204/?$rid=1&$version=6
 *   $iothub/twin/PATCH/properties/desired/?$version=8
 *   $iothub/methods/POST/reboot/?$rid=1
 * The query of the last three ("$rid=..&$version=..") may list its names in
 * any order; unknown names are ignored, each known name comes at most once.
 */
hk_result hk_hub_topic_parse(const char *topic, size_t topic_len, hk_hub_topic *out)
{
    HK_REQUIRE((topic != NULL || topic_len == 0) && out != NULL);
    memset(out, 0, sizeof *out);
    if (topic == NULL)
        return HK_ERR_HUB_TOPIC;
    const char *s = NULL, *end = topic + topic_len;
    const char *seg = NULL;
    size_t seg_len = 0;
    hk_text_item it;
    hk_result r;

    for (size_t i = 0; s == NULL; i++) {
        if (i == HK_ARRAY_LEN(hub_forms))
            return HK_ERR_HUB_TOPIC;
        s = hub_match(hub_forms[i].pattern, topic, end, &seg, &seg_len);
        out->kind = hub_forms[i].kind;
    }
    if (out->kind == HK_HUB_TOPIC_C2D) {
        /* The bag is walked once here so that a malformed one is refused. */
        HK_TRY(hub_bag_find(s, (size_t)(end - s), NULL, &it));
        out->properties = s;
        out->properties_len = (size_t)(end - s);
        return HK_OK;
    }

    it.pos = 0;
    while ((r = hk_text_item_next(s, (size_t)(end - s), &it, HK_ERR_HUB_TOPIC)) == HK_OK) {
        if (hk_text_item_is(&it, "$rid")) {
            if (out->rid != NULL || !hub_rid_ok(it.value, it.value_len))
                return HK_ERR_HUB_TOPIC;
            out->rid = it.value;
            out->rid_len = it.value_len;
        } else if (hk_text_item_is(&it, "$version")) {
            if (out->has_version || !hub_parse_u32(it.value, it.value_len, &out->version))
                return HK_ERR_HUB_TOPIC;
            out->has_version = true;
        }
    }
    if (r != HK_ERR_NOT_FOUND)
        return r;

    uint32_t status;
    switch (out->kind) {
    case HK_HUB_TOPIC_TWIN_DESIRED:
        out->status = 200;
        return out->has_version ? HK_OK : HK_ERR_HUB_TOPIC;
    case HK_HUB_TOPIC_METHOD_REQUEST:
        out->name = seg;
        out->name_len = seg_len;
        return out->rid != NULL && !out->has_version ? HK_OK : HK_ERR_HUB_TOPIC;
    default: /* twin response: a three-digit status */
        if (out->rid == NULL || seg_len != 3 || !hub_parse_u32(seg, 3, &status) || status < 100)
            return HK_ERR_HUB_TOPIC;
        out->status = (unsigned)status;
        if (status >= 400)
            out->kind = HK_HUB_TOPIC_TWIN_ERROR;
        else if (status == 204)
            out->kind = HK_HUB_TOPIC_TWIN_REPORTED;
        else if (status != 200 && status != 202)
            return HK_ERR_HUB_TOPIC;
        return HK_OK;
    }
}

hk_result hk_hub_url_decode(const char *in, size_t in_len, char *out, size_t cap,
                            size_t *out_len)
{
    HK_REQUIRE((in != NULL || in_len == 0) && (out != NULL || cap == 0) && out_len != NULL);
    size_t o = 0;
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        if (c == '%') {
            if (in_len - i < 3)
                return HK_ERR_MALFORMED;
            unsigned hi = hk_text_hex(in[i + 1]), lo = hk_text_hex(in[i + 2]);
            if ((hi | lo) > 15)
                return HK_ERR_MALFORMED;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o >= cap)
            return HK_ERR_BUFFER_TOO_SMALL;
        out[o++] = c;
    }
    *out_len = o;
    return HK_OK;
}
