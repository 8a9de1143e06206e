/*
 * DPS client: string builders, response topic parser and body parser.
 *
 * Builders use a counting writer: it counts every byte the string needs and
 * stores only those that fit, so one pass both sizes and writes and a small
 * buffer is never overrun.
 *
 * Identifiers are checked against their alphabets before they are written:
 * a '/' in a registration id would shift the username's fields, '&' would add
 * a parameter, and '#'/'+' are MQTT wildcards that no topic name may hold.
 */
#include "hubkey/dps.h"

#include <string.h>

#include "common/hk_common.h"

typedef struct dps_text {
    char *buf;
    size_t cap;
    size_t len;
} dps_text;

static void dps_put(dps_text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, t->len++) {
        if (t->len < t->cap)
            t->buf[t->len] = s[i];
    }
}

static void dps_puts(dps_text *t, const char *s)
{
    dps_put(t, s, strlen(s));
}

static void dps_put_uint(dps_text *t, uint32_t v)
{
    char d[10];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    dps_put(t, d + i, sizeof d - i);
}

static hk_result dps_finish(dps_text *t, size_t *out_len)
{
    *out_len = t->len;
    if (t->len >= t->cap)
        return HK_ERR_BUFFER_TOO_SMALL;
    t->buf[t->len] = '\0';
    return HK_OK;
}

static bool dps_is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Registration ids and operation ids: 1..max of A-Z a-z 0-9 - . _ : */
static bool dps_id_ok(const char *s, size_t n, size_t max)
{
    if (s == NULL || n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!dps_is_alnum(c) && c != '-' && c != '.' && c != '_' && c != ':')
            return false;
    }
    return true;
}

/* Printable ASCII without space and without the bytes in forbidden. */
static bool dps_token_ok(const char *s, const char *forbidden)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c > '~' || strchr(forbidden, c) != NULL)
            return false;
    }
    return true;
}

static bool dps_present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool dps_client_ok(const hk_dps_client *c)
{
    return c != NULL && c->registration_id != NULL &&
           dps_id_ok(c->registration_id, strlen(c->registration_id), 128) &&
           (unsigned)c->api_version <= (unsigned)HK_DPS_API_2025_07_01_PREVIEW;
}

#define DPS_TEXT_INIT(out, cap) {(out), (cap), 0}

hk_result hk_dps_client_id_build(const hk_dps_client *client, char *out, size_t cap,
                                 size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client))
        return HK_ERR_INVALID_ARG;
    dps_text t = DPS_TEXT_INIT(out, cap);
    dps_puts(&t, client->registration_id);
    return dps_finish(&t, out_len);
}

static const char *const dps_api_versions[] = {"2019-03-31", "2021-06-01", "2025-07-01-preview"};

hk_result hk_dps_username_build(const hk_dps_client *client, char *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client) || !dps_token_ok(client->id_scope, "/#+&?") ||
        (dps_present(client->client_version) && !dps_token_ok(client->client_version, "#+&?")))
        return HK_ERR_INVALID_ARG;
    dps_text t = DPS_TEXT_INIT(out, cap);
    dps_puts(&t, client->id_scope);
    dps_puts(&t, "/registrations/");
    dps_puts(&t, client->registration_id);
    dps_puts(&t, "/api-version=");
    dps_puts(&t, dps_api_versions[client->api_version]);
    if (dps_present(client->client_version)) {
        dps_puts(&t, "&ClientVersion=");
        dps_puts(&t, client->client_version);
    }
    return dps_finish(&t, out_len);
}

hk_result hk_dps_register_topic_build(uint32_t rid, char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    dps_text t = DPS_TEXT_INIT(out, cap);
    dps_puts(&t, "$dps/registrations/PUT/iotdps-register/?$rid=");
    dps_put_uint(&t, rid);
    return dps_finish(&t, out_len);
}

hk_result hk_dps_poll_topic_build(uint32_t rid, const char *operation_id, size_t operation_id_len,
                                  char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_id_ok(operation_id, operation_id_len, HK_DPS_OPERATION_ID_MAX))
        return HK_ERR_INVALID_ARG;
    dps_text t = DPS_TEXT_INIT(out, cap);
    dps_puts(&t, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=");
    dps_put_uint(&t, rid);
    dps_puts(&t, "&operationId=");
    dps_put(&t, operation_id, operation_id_len);
    return dps_finish(&t, out_len);
}

hk_result hk_dps_register_body_build(const hk_dps_client *client, const char *custom_payload,
                                     const char *csr, char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client))
        return HK_ERR_INVALID_ARG;
    if (dps_present(csr)) {
        /* Older api-versions do not know "csr"; a silent drop would leave the
         * device waiting for a certificate that never comes. */
        if (client->api_version != HK_DPS_API_2025_07_01_PREVIEW)
            return HK_ERR_UNSUPPORTED;
    }
    /* The writer escapes the strings, so no input can change the shape of
     * the object; the custom payload is the caller's JSON by contract. */
    hk_json_writer w;
    HK_TRY(hk_json_writer_init(&w, out, cap));
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "registrationId");
    hk_json_write_string(&w, client->registration_id);
    if (dps_present(custom_payload)) {
        hk_json_write_key(&w, "payload");
        hk_json_write_raw(&w, custom_payload, strlen(custom_payload));
    }
    if (dps_present(csr)) {
        hk_json_write_key(&w, "csr");
        hk_json_write_string(&w, csr);
    }
    hk_json_write_object_end(&w);
    return hk_json_writer_finish(&w, out_len);
}

/* ---- response topic ------------------------------------------------------- */

static bool dps_eat(const char **s, size_t *n, const char *prefix)
{
    size_t p = strlen(prefix);
    if (*n < p || memcmp(*s, prefix, p) != 0)
        return false;
    *s += p;
    *n -= p;
    return true;
}

/* Decimal digits, at least one; values above UINT32_MAX saturate. */
static bool dps_parse_digits(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = (v > (UINT32_MAX - 9u) / 10u) ? UINT32_MAX : v * 10u + d;
    }
    *out = v;
    return true;
}

hk_result hk_dps_topic_parse(const char *topic, size_t topic_len, hk_dps_topic *out)
{
    HK_REQUIRE((topic != NULL || topic_len == 0) && out != NULL);
    memset(out, 0, sizeof *out);
    const char *s = topic;
    size_t n = topic_len;
    uint32_t status;
    bool has_retry = false;

    if (!dps_eat(&s, &n, "$dps/registrations/res/") || n < 5 || s[3] != '/' || s[4] != '?' ||
        !dps_parse_digits(s, 3, &status) || status < 100 || status > 599)
        return HK_ERR_DPS_TOPIC;
    out->status = (unsigned)status;
    s += 5;
    n -= 5;
    /* "name=value" items joined by '&'; an empty item is malformed. */
    for (;;) {
        const char *amp = memchr(s, '&', n);
        size_t item = amp != NULL ? (size_t)(amp - s) : n;
        const char *eq = memchr(s, '=', item);
        if (item == 0 || eq == s)
            return HK_ERR_DPS_TOPIC;
        size_t name_len = eq != NULL ? (size_t)(eq - s) : item;
        const char *value = s + name_len + 1;
        size_t value_len = eq != NULL ? item - name_len - 1 : 0;
        if (name_len == 4 && memcmp(s, "$rid", 4) == 0) {
            if (out->rid != NULL || value_len == 0)
                return HK_ERR_DPS_TOPIC;
            out->rid = value;
            out->rid_len = value_len;
        } else if (name_len == 11 && memcmp(s, "retry-after", 11) == 0) {
            if (has_retry || !dps_parse_digits(value, value_len, &out->retry_after_s))
                return HK_ERR_DPS_TOPIC;
            has_retry = true;
        }
        if (amp == NULL)
            break;
        s = amp + 1;
        n -= item + 1;
    }
    return out->rid != NULL ? HK_OK : HK_ERR_DPS_TOPIC;
}

/* ---- response body -------------------------------------------------------- */

/* Decode string member `key` of object obj into out[cap]; absent is fine
 * (out stays ""), any other failure is a malformed body. */
static hk_result dps_get_string(const hk_json_doc *doc, size_t obj, const char *key, char *out,
                                size_t cap, bool *out_present)
{
    size_t v, len;
    hk_result r = hk_json_object_find(doc, obj, key, &v);
    *out_present = false;
    if (r == HK_ERR_NOT_FOUND)
        return HK_OK;
    if (r != HK_OK || hk_json_string_get(doc, v, out, cap, &len) != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    *out_present = true;
    return HK_OK;
}

/* Token of member key when it is a string; 0 when absent. */
static hk_result dps_find_typed(const hk_json_doc *doc, size_t obj, const char *key,
                                hk_json_type type, size_t *out_tok)
{
    size_t v;
    hk_result r = hk_json_object_find(doc, obj, key, &v);
    *out_tok = 0;
    if (r == HK_ERR_NOT_FOUND)
        return HK_OK;
    if (r != HK_OK || doc->tokens[v].type != type)
        return HK_ERR_DPS_PAYLOAD;
    *out_tok = v;
    return HK_OK;
}

/* Token of member key when it is an object; 0 when absent or null. */
static hk_result dps_find_object_or_null(const hk_json_doc *doc, size_t obj, const char *key,
                                         size_t *out_tok)
{
    size_t v;
    hk_result r = hk_json_object_find(doc, obj, key, &v);
    *out_tok = 0;
    if (r == HK_ERR_NOT_FOUND)
        return HK_OK;
    if (r != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    if (doc->tokens[v].type == HK_JSON_OBJECT)
        *out_tok = v;
    else if (doc->tokens[v].type != HK_JSON_NULL)
        return HK_ERR_DPS_PAYLOAD;
    return HK_OK;
}

static hk_result dps_get_error_code(const hk_json_doc *doc, size_t obj, uint32_t *out,
                                    bool *out_present)
{
    size_t v;
    HK_TRY(dps_find_typed(doc, obj, "errorCode", HK_JSON_NUMBER, &v));
    *out_present = v != 0;
    if (v != 0 && hk_json_uint32_get(doc, v, out) != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    return HK_OK;
}

/* Index in names[] of the string token's value; count when unknown. */
static size_t dps_match(const hk_json_doc *doc, size_t tok, const char *const *names,
                        size_t count)
{
    size_t i = 0;
    for (; i < count; i++) {
        if (hk_json_string_equals(doc, tok, names[i], strlen(names[i])))
            break;
    }
    return i;
}

static const char *const dps_status_names[] = {"unassigned", "assigning", "assigned", "failed",
                                               "disabled"};
static const char *const dps_substatus_names[] = {"initialAssignment", "deviceDataMigrated",
                                                  "deviceDataReset",
                                                  "reprovisionedToInitialAssignment"};

/* Collect up to HK_DPS_CERTS_MAX string tokens of an array. For the trust
 * bundle each element is an object and the string is its member "certificate". */
static hk_result dps_get_certs(const hk_json_doc *doc, size_t arr, const char *member,
                               size_t *out, size_t *out_count)
{
    size_t i = 0;
    hk_result r;
    *out_count = 0;
    while ((r = hk_json_next(doc, arr, &i)) == HK_OK) {
        size_t tok = i;
        if (*out_count == HK_DPS_CERTS_MAX)
            return HK_ERR_DPS_PAYLOAD;
        if (member != NULL) {
            if (doc->tokens[i].type != HK_JSON_OBJECT ||
                hk_json_object_find(doc, i, member, &tok) != HK_OK)
                return HK_ERR_DPS_PAYLOAD;
        }
        if (doc->tokens[tok].type != HK_JSON_STRING)
            return HK_ERR_DPS_PAYLOAD;
        out[(*out_count)++] = tok;
    }
    return r == HK_ERR_NOT_FOUND ? HK_OK : HK_ERR_DPS_PAYLOAD;
}

static hk_result dps_parse_state(const hk_json_doc *doc, size_t st, hk_dps_response *out,
                                 bool have_code)
{
    bool has_hub, has_dev, present;
    size_t v;
    uint32_t code;
    HK_TRY(dps_get_string(doc, st, "assignedHub", out->assigned_hub, sizeof out->assigned_hub,
                          &has_hub));
    HK_TRY(dps_get_string(doc, st, "deviceId", out->device_id, sizeof out->device_id, &has_dev));
    if (has_hub != has_dev || (has_hub && (out->assigned_hub[0] == '\0' ||
                                           out->device_id[0] == '\0')))
        return HK_ERR_DPS_PAYLOAD;

    HK_TRY(dps_find_typed(doc, st, "substatus", HK_JSON_STRING, &v));
    if (v != 0)
        out->substatus = (hk_dps_substatus)(
            dps_match(doc, v, dps_substatus_names, HK_ARRAY_LEN(dps_substatus_names)) + 1);

    HK_TRY(dps_get_error_code(doc, st, &code, &present));
    if (present && !have_code)
        out->error_code = code;
    HK_TRY(dps_find_typed(doc, st, "errorMessage", HK_JSON_STRING, &v));
    if (out->message == 0)
        out->message = v;

    HK_TRY(dps_find_object_or_null(doc, st, "payload", &v));
    if (v != 0)
        HK_TRY(hk_json_raw_get(doc, v, &out->payload, &out->payload_len));

    HK_TRY(dps_find_typed(doc, st, "issuedCertificateChain", HK_JSON_ARRAY, &v));
    if (v != 0)
        HK_TRY(dps_get_certs(doc, v, NULL, out->issued_chain, &out->issued_chain_count));
    HK_TRY(dps_find_typed(doc, st, "trustBundle", HK_JSON_OBJECT, &v));
    if (v != 0) {
        size_t certs;
        HK_TRY(dps_find_typed(doc, v, "certificates", HK_JSON_ARRAY, &certs));
        if (certs != 0)
            HK_TRY(dps_get_certs(doc, certs, "certificate", out->trust_bundle,
                                 &out->trust_bundle_count));
    }
    return HK_OK;
}

static hk_result dps_parse_body(const hk_json_doc *doc, hk_dps_response *out)
{
    bool present, have_code;
    size_t v;
    if (doc->tokens[0].type != HK_JSON_OBJECT)
        return HK_ERR_DPS_PAYLOAD;
    HK_TRY(dps_get_string(doc, 0, "operationId", out->operation_id, sizeof out->operation_id,
                          &present));
    /* The id goes into the poll topic: hold it to the alphabet seen in
     * practice ("4.d0a671905ea5b2c8.e7173b7b-...", "<regid>.<uuid>"). */
    if (out->operation_id[0] != '\0' &&
        !dps_id_ok(out->operation_id, strlen(out->operation_id), HK_DPS_OPERATION_ID_MAX))
        return HK_ERR_DPS_PAYLOAD;
    HK_TRY(dps_get_error_code(doc, 0, &out->error_code, &have_code));
    HK_TRY(dps_find_typed(doc, 0, "message", HK_JSON_STRING, &out->message));

    HK_TRY(dps_find_typed(doc, 0, "status", HK_JSON_STRING, &v));
    if (v != 0) {
        size_t i = dps_match(doc, v, dps_status_names, HK_ARRAY_LEN(dps_status_names));
        if (i == HK_ARRAY_LEN(dps_status_names))
            return HK_ERR_DPS_PAYLOAD;
        out->operation_status = (hk_dps_operation_status)(i + 1);
    } else if (have_code) {
        out->operation_status = HK_DPS_OPERATION_FAILED;
    } else {
        return HK_ERR_DPS_PAYLOAD;
    }

    HK_TRY(dps_find_object_or_null(doc, 0, "registrationState", &v));
    if (v != 0)
        HK_TRY(dps_parse_state(doc, v, out, have_code));
    if (out->operation_status == HK_DPS_OPERATION_ASSIGNED && out->assigned_hub[0] == '\0')
        return HK_ERR_DPS_PAYLOAD;
    return HK_OK;
}

hk_result hk_dps_response_parse(const char *topic, size_t topic_len, const char *payload,
                                size_t payload_len, hk_json_token *tokens, size_t max_tokens,
                                hk_dps_response *out)
{
    HK_REQUIRE(out != NULL && (payload != NULL || payload_len == 0) &&
               (tokens != NULL || max_tokens == 0));
    memset(out, 0, sizeof *out);
    HK_TRY(hk_dps_topic_parse(topic, topic_len, &out->topic));
    if (payload_len == 0 && out->topic.status >= 300) {
        out->operation_status = HK_DPS_OPERATION_FAILED;
        return HK_OK;
    }
    /* trustBundle.certificates[i].metadata sits at depth 6; the custom
     * allocation payload may nest further, so leave it some room. */
    hk_result r = hk_json_parse(&out->doc, payload, payload_len, tokens, max_tokens, 16);
    if (r == HK_ERR_JSON_TOO_MANY_TOKENS)
        return r;
    if (r != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    r = dps_parse_body(&out->doc, out);
    if (r != HK_OK) {
        hk_dps_topic topic_fields = out->topic;
        memset(out, 0, sizeof *out);
        out->topic = topic_fields;
    }
    return r;
}

hk_result hk_dps_response_string_get(const hk_dps_response *response, size_t token, char *out,
                                     size_t cap, size_t *out_len)
{
    HK_REQUIRE(response != NULL && token != 0 && token < response->doc.count);
    return hk_json_string_get(&response->doc, token, out, cap, out_len);
}
