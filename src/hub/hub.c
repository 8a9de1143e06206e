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

/* 1..max printable ASCII bytes, none of them in forbidden. */
static bool hub_token_ok(const char *s, size_t n, size_t max, const char *forbidden)
{
    if (s == NULL || n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c > '~' || strchr(forbidden, c) != NULL)
            return false;
    }
    return true;
}

static bool hub_segment_ok(const char *s)
{
    return s != NULL && hub_token_ok(s, strlen(s), SIZE_MAX, "/#+");
}

static bool hub_present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool hub_client_ok(const hk_hub_client *c)
{
    return c != NULL && hub_segment_ok(c->device_id) &&
           (!hub_present(c->module_id) || hub_segment_ok(c->module_id));
}

/* "{deviceId}[/{moduleId}]" — shared by the client id and the topics. */
static void hub_put_identity(hk_text *t, const hk_hub_client *c)
{
    hk_text_puts(t, c->device_id);
    if (hub_present(c->module_id)) {
        hk_text_puts(t, "/");
        hk_text_puts(t, c->module_id);
    }
}

/* "devices/{deviceId}[/modules/{moduleId}]/messages/" */
static void hub_put_messages_prefix(hk_text *t, const hk_hub_client *c)
{
    hk_text_puts(t, "devices/");
    hk_text_puts(t, c->device_id);
    if (hub_present(c->module_id)) {
        hk_text_puts(t, "/modules/");
        hk_text_puts(t, c->module_id);
    }
    hk_text_puts(t, "/messages/");
}

hk_result hk_hub_client_id_build(const hk_hub_client *client, char *out, size_t cap,
                                 size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!hub_client_ok(client))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hub_put_identity(&t, client);
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_username_build(const hk_hub_client *client, char *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!hub_client_ok(client) || client->host == NULL ||
        !hub_token_ok(client->host, strlen(client->host), SIZE_MAX, "/#+&?") ||
        (hub_present(client->api_version) && !hub_token_ok(client->api_version,
                                                           strlen(client->api_version),
                                                           SIZE_MAX, "/#+&?")) ||
        (hub_present(client->client_type) && !hub_token_ok(client->client_type,
                                                           strlen(client->client_type),
                                                           SIZE_MAX, "/#+&?")))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, client->host);
    hk_text_puts(&t, "/");
    hub_put_identity(&t, client);
    hk_text_puts(&t, "/?api-version=");
    hk_text_puts(&t, hub_present(client->api_version) ? client->api_version
                                                  : HK_HUB_API_VERSION_DEFAULT);
    if (hub_present(client->client_type)) {
        hk_text_puts(&t, "&DeviceClientType=");
        hk_text_puts(&t, client->client_type);
    }
    if (hub_present(client->model_id)) {
        hk_text_puts(&t, "&model-id=");
        hub_put_encoded(&t, client->model_id);
    }
    return hk_text_finish(&t, out_len);
}

/* Wire names of the system properties, in the order of the members of
 * hk_hub_telemetry_properties (the '$' is sent encoded, as both SDKs do). */
static const struct {
    size_t offset;
    char name[7];
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
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    HK_REQUIRE(props == NULL || props->app_count == 0 || props->app != NULL);
    if (!hub_client_ok(client))
        return HK_ERR_INVALID_ARG;
    for (size_t i = 0; props != NULL && i < props->app_count; i++) {
        if (!hub_present(props->app[i].name) || props->app[i].value == NULL)
            return HK_ERR_INVALID_ARG;
    }
    hk_text t = HK_TEXT_INIT(out, cap);
    hub_put_messages_prefix(&t, client);
    hk_text_puts(&t, "events/");
    if (props != NULL) {
        const char *sep = "";
        for (size_t i = 0; i < HK_ARRAY_LEN(hub_system_props); i++) {
            const char *value;
            memcpy(&value, (const char *)props + hub_system_props[i].offset, sizeof value);
            if (value == NULL)
                continue;
            hk_text_puts(&t, sep);
            hk_text_puts(&t, "%24.");
            hk_text_puts(&t, hub_system_props[i].name);
            hk_text_puts(&t, "=");
            hub_put_encoded(&t, value);
            sep = "&";
        }
        for (size_t i = 0; i < props->app_count; i++) {
            const hk_hub_property *p = &props->app[i];
            hk_text_puts(&t, sep);
            hub_put_encoded(&t, p->name);
            hk_text_puts(&t, "=");
            hub_put_encoded(&t, p->value);
            sep = "&";
        }
    }
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_c2d_filter_build(const hk_hub_client *client, char *out, size_t cap,
                                  size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!hub_client_ok(client))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    if (hub_present(client->module_id)) {
        /* Modules receive everything addressed to them under one filter. */
        hk_text_puts(&t, "devices/");
        hk_text_puts(&t, client->device_id);
        hk_text_puts(&t, "/modules/");
        hk_text_puts(&t, client->module_id);
        hk_text_puts(&t, "/#");
    } else {
        hub_put_messages_prefix(&t, client);
        hk_text_puts(&t, "devicebound/#");
    }
    return hk_text_finish(&t, out_len);
}

static bool hub_rid_ok(const char *rid, size_t rid_len)
{
    return hub_token_ok(rid, rid_len, 64, "&#+/?");
}

/* "{prefix}?$rid={rid}" */
static hk_result hub_rid_topic(const char *prefix, const char *rid, size_t rid_len, char *out,
                               size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!hub_rid_ok(rid, rid_len))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, prefix);
    hk_text_puts(&t, "?$rid=");
    hk_text_put(&t, rid, rid_len);
    return hk_text_finish(&t, out_len);
}

hk_result hk_hub_twin_get_topic_build(const char *rid, size_t rid_len, char *out, size_t cap,
                                      size_t *out_len)
{
    return hub_rid_topic("$iothub/twin/GET/", rid, rid_len, out, cap, out_len);
}

hk_result hk_hub_twin_patch_topic_build(const char *rid, size_t rid_len, char *out, size_t cap,
                                        size_t *out_len)
{
    return hub_rid_topic("$iothub/twin/PATCH/properties/reported/", rid, rid_len, out, cap,
                         out_len);
}

hk_result hk_hub_method_response_topic_build(unsigned status, const char *rid, size_t rid_len,
                                             char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (status > HK_HUB_METHOD_STATUS_MAX || !hub_rid_ok(rid, rid_len))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, "$iothub/methods/res/");
    hk_text_put_uint(&t, (uint32_t)status);
    hk_text_puts(&t, "/?$rid=");
    hk_text_put(&t, rid, rid_len);
    return hk_text_finish(&t, out_len);
}

/* ---- parsing ---------------------------------------------------------- */

/* Strict unsigned decimal: 1..10 digits, no sign, no overflow. */
static bool hub_parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > 429496729u || (v == 429496729u && d > 5))
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

/* If s[0..n) starts with prefix, advance past it. */
static bool hub_eat(const char **s, size_t *n, const char *prefix)
{
    size_t p = strlen(prefix);
    if (*n < p || memcmp(*s, prefix, p) != 0)
        return false;
    *s += p;
    *n -= p;
    return true;
}

/* Take bytes up to (not including) the next '/'; the '/' is consumed.
 * False when there is no '/' or the segment is empty. */
static bool hub_segment(const char **s, size_t *n, const char **seg, size_t *seg_len)
{
    const char *slash = memchr(*s, '/', *n);
    if (slash == NULL || slash == *s)
        return false;
    *seg = *s;
    *seg_len = (size_t)(slash - *s);
    *n -= *seg_len + 1;
    *s = slash + 1;
    return true;
}

static bool hub_name_is(const char *name, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

hk_result hk_hub_properties_next(const char *bag, size_t bag_len, size_t *pos,
                                 const char **out_name, size_t *out_name_len,
                                 const char **out_value, size_t *out_value_len,
                                 bool *out_has_value)
{
    HK_REQUIRE((bag != NULL || bag_len == 0) && pos != NULL && out_name != NULL &&
               out_name_len != NULL && out_value != NULL && out_value_len != NULL &&
               out_has_value != NULL);
    if (*pos >= bag_len)
        return HK_ERR_NOT_FOUND;
    const char *p = bag + *pos;
    size_t rest = bag_len - *pos;
    const char *amp = memchr(p, '&', rest);
    size_t item = amp != NULL ? (size_t)(amp - p) : rest;
    const char *eq = memchr(p, '=', item);
    size_t name_len = eq != NULL ? (size_t)(eq - p) : item;
    if (name_len == 0)
        return HK_ERR_HUB_TOPIC;
    *out_name = p;
    *out_name_len = name_len;
    *out_has_value = eq != NULL;
    *out_value = eq != NULL ? eq + 1 : p + item;
    *out_value_len = eq != NULL ? item - name_len - 1 : 0;
    /* A trailing '&' would leave an empty last property: reject it here. */
    if (amp != NULL && item + 1 == rest)
        return HK_ERR_HUB_TOPIC;
    *pos += item + (amp != NULL ? 1 : 0);
    return HK_OK;
}

hk_result hk_hub_properties_find(const char *bag, size_t bag_len, const char *name,
                                 const char **out_value, size_t *out_value_len)
{
    HK_REQUIRE(name != NULL && out_value != NULL && out_value_len != NULL);
    size_t pos = 0;
    const char *n;
    size_t n_len;
    bool has_value;
    hk_result r;
    while ((r = hk_hub_properties_next(bag, bag_len, &pos, &n, &n_len, out_value,
                                       out_value_len, &has_value)) == HK_OK) {
        if (hub_name_is(n, n_len, name))
            return HK_OK;
    }
    return r;
}

/* The query of a twin or method topic: "$rid=..&$version=..", any order,
 * unknown names ignored, each known name at most once. */
static hk_result hub_parse_query(const char *q, size_t q_len, hk_hub_topic *out)
{
    size_t pos = 0;
    const char *name, *value;
    size_t name_len, value_len;
    bool has_value;
    hk_result r;
    while ((r = hk_hub_properties_next(q, q_len, &pos, &name, &name_len, &value, &value_len,
                                       &has_value)) == HK_OK) {
        if (hub_name_is(name, name_len, "$rid")) {
            if (out->rid != NULL || !hub_rid_ok(value, value_len))
                return HK_ERR_HUB_TOPIC;
            out->rid = value;
            out->rid_len = value_len;
        } else if (hub_name_is(name, name_len, "$version")) {
            if (out->has_version || !hub_parse_u32(value, value_len, &out->version))
                return HK_ERR_HUB_TOPIC;
            out->has_version = true;
        }
    }
    return r == HK_ERR_NOT_FOUND ? HK_OK : r;
}

/* "{status}/?{query}" with a three-digit status. */
static hk_result hub_parse_status_query(const char *s, size_t n, hk_hub_topic *out)
{
    uint32_t status;
    if (n < 5 || s[3] != '/' || s[4] != '?' || !hub_parse_u32(s, 3, &status) || status < 100)
        return HK_ERR_HUB_TOPIC;
    out->status = (unsigned)status;
    return hub_parse_query(s + 5, n - 5, out);
}

static hk_result hub_parse_c2d(const char *s, size_t n, hk_hub_topic *out)
{
    const char *seg;
    size_t seg_len;
    if (!hub_segment(&s, &n, &seg, &seg_len)) /* device id */
        return HK_ERR_HUB_TOPIC;
    if (hub_eat(&s, &n, "modules/") && !hub_segment(&s, &n, &seg, &seg_len))
        return HK_ERR_HUB_TOPIC;
    if (!hub_eat(&s, &n, "messages/devicebound/"))
        return HK_ERR_HUB_TOPIC;
    /* Walk the bag once so a malformed one is refused here. */
    size_t pos = 0;
    const char *name, *value;
    size_t name_len, value_len;
    bool has_value;
    hk_result r;
    while ((r = hk_hub_properties_next(s, n, &pos, &name, &name_len, &value, &value_len,
                                       &has_value)) == HK_OK) {
    }
    if (r != HK_ERR_NOT_FOUND)
        return r;
    out->kind = HK_HUB_TOPIC_C2D;
    out->properties = s;
    out->properties_len = n;
    return HK_OK;
}

hk_result hk_hub_topic_parse(const char *topic, size_t topic_len, hk_hub_topic *out)
{
    HK_REQUIRE((topic != NULL || topic_len == 0) && out != NULL);
    memset(out, 0, sizeof *out);
    const char *s = topic;
    size_t n = topic_len;
    hk_result r;

    if (hub_eat(&s, &n, "devices/"))
        return hub_parse_c2d(s, n, out);

    if (hub_eat(&s, &n, "$iothub/twin/res/")) {
        HK_TRY(hub_parse_status_query(s, n, out));
        if (out->rid == NULL)
            return HK_ERR_HUB_TOPIC;
        if (out->status >= 400)
            out->kind = HK_HUB_TOPIC_TWIN_ERROR;
        else if (out->status == 204)
            out->kind = HK_HUB_TOPIC_TWIN_REPORTED;
        else if (out->status == 200 || out->status == 202)
            out->kind = HK_HUB_TOPIC_TWIN_GET;
        else
            return HK_ERR_HUB_TOPIC;
        return HK_OK;
    }

    if (hub_eat(&s, &n, "$iothub/twin/PATCH/properties/desired/?")) {
        r = hub_parse_query(s, n, out);
        if (r != HK_OK || !out->has_version)
            return HK_ERR_HUB_TOPIC;
        out->kind = HK_HUB_TOPIC_TWIN_DESIRED;
        out->status = 200;
        return HK_OK;
    }

    if (hub_eat(&s, &n, "$iothub/methods/POST/")) {
        const char *name;
        size_t name_len;
        if (!hub_segment(&s, &n, &name, &name_len) || !hub_eat(&s, &n, "?"))
            return HK_ERR_HUB_TOPIC;
        r = hub_parse_query(s, n, out);
        if (r != HK_OK || out->rid == NULL || out->has_version)
            return HK_ERR_HUB_TOPIC;
        out->kind = HK_HUB_TOPIC_METHOD_REQUEST;
        out->name = name;
        out->name_len = name_len;
        return HK_OK;
    }
    return HK_ERR_HUB_TOPIC;
}

static int hub_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
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
            int hi = hub_hex_value(in[i + 1]), lo = hub_hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
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
