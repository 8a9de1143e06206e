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
#include "common/hk_text.h"

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

hk_result hk_dps_client_id_build(const hk_dps_client *client, char *out, size_t cap,
                                 size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, client->registration_id);
    return hk_text_finish(&t, out_len);
}

static const char *const dps_api_versions[] = {"2019-03-31", "2021-06-01", "2025-07-01-preview"};

hk_result hk_dps_username_build(const hk_dps_client *client, char *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client) || !dps_token_ok(client->id_scope, "/#+&?") ||
        (dps_present(client->client_version) && !dps_token_ok(client->client_version, "#+&?")))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, client->id_scope);
    hk_text_puts(&t, "/registrations/");
    hk_text_puts(&t, client->registration_id);
    hk_text_puts(&t, "/api-version=");
    hk_text_puts(&t, dps_api_versions[client->api_version]);
    if (dps_present(client->client_version)) {
        hk_text_puts(&t, "&ClientVersion=");
        hk_text_puts(&t, client->client_version);
    }
    return hk_text_finish(&t, out_len);
}

hk_result hk_dps_register_topic_build(uint32_t rid, char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, "$dps/registrations/PUT/iotdps-register/?$rid=");
    hk_text_put_uint(&t, rid);
    return hk_text_finish(&t, out_len);
}

hk_result hk_dps_poll_topic_build(uint32_t rid, const char *operation_id, size_t operation_id_len,
                                  char *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_id_ok(operation_id, operation_id_len, HK_DPS_OPERATION_ID_MAX))
        return HK_ERR_INVALID_ARG;
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=");
    hk_text_put_uint(&t, rid);
    hk_text_puts(&t, "&operationId=");
    hk_text_put(&t, operation_id, operation_id_len);
    return hk_text_finish(&t, out_len);
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

/* Member names the parser reads. The top-level object uses the first five,
 * registrationState the range from errorCode on (both carry an errorCode). */
enum {
    DPS_K_OPERATION_ID,
    DPS_K_STATUS,
    DPS_K_REGISTRATION_STATE,
    DPS_K_MESSAGE,
    DPS_K_ERROR_CODE,
    DPS_K_ASSIGNED_HUB,
    DPS_K_DEVICE_ID,
    DPS_K_SUBSTATUS,
    DPS_K_ERROR_MESSAGE,
    DPS_K_PAYLOAD,
    DPS_K_CHAIN,
    DPS_K_TRUST_BUNDLE,
    DPS_K_COUNT,
    DPS_K_TOP_END = DPS_K_ERROR_CODE + 1,
};

static const char *const dps_keys[DPS_K_COUNT] = {
    "operationId", "status",   "registrationState", "message",   "errorCode",
    "assignedHub", "deviceId", "substatus",         "errorMessage", "payload",
    "issuedCertificateChain",  "trustBundle",
};

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

/* One pass over object obj: out[k] = value token of member dps_keys[k] for k
 * in [first, end), 0 when absent. Unknown members are skipped; a known one
 * twice is malformed (which of the two would count is anyone's guess). */
static hk_result dps_members(const hk_json_doc *doc, size_t obj, size_t first, size_t end,
                             size_t *out)
{
    size_t i = 0;
    hk_result r;
    memset(out, 0, DPS_K_COUNT * sizeof *out);
    while ((r = hk_json_next(doc, obj, &i)) == HK_OK) {
        size_t k = first + dps_match(doc, i, dps_keys + first, end - first);
        if (k < end) {
            if (out[k] != 0)
                return HK_ERR_DPS_PAYLOAD;
            out[k] = i + 1;
        }
    }
    return r == HK_ERR_NOT_FOUND ? HK_OK : HK_ERR_DPS_PAYLOAD;
}

/* Absent (token 0) or of the given type. */
static bool dps_is(const hk_json_doc *doc, size_t tok, hk_json_type type)
{
    return tok == 0 || doc->tokens[tok].type == type;
}

/* Decode an optional string member into out[cap] (stays "" when absent). */
static hk_result dps_string(const hk_json_doc *doc, size_t tok, char *out, size_t cap)
{
    size_t len;
    if (tok != 0 && hk_json_string_get(doc, tok, out, cap, &len) != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    return HK_OK;
}

/* An optional errorCode member: a number in 0..2^32-1. */
static hk_result dps_code(const hk_json_doc *doc, size_t tok, uint32_t *out)
{
    if (tok != 0 && hk_json_uint32_get(doc, tok, out) != HK_OK)
        return HK_ERR_DPS_PAYLOAD;
    return HK_OK;
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

/* registrationState, e.g.
 *   {"registrationId":"dev1","assignedHub":"contoso.azure-devices.net",
 *    "deviceId":"dev1","status":"assigned","substatus":"initialAssignment",
 *    "payload":{"a":1},"issuedCertificateChain":["MIIB..."]} */
static hk_result dps_parse_state(const hk_json_doc *doc, size_t st, hk_dps_response *out,
                                 bool have_code)
{
    size_t m[DPS_K_COUNT];
    uint32_t code = 0;
    HK_TRY(dps_members(doc, st, DPS_K_ERROR_CODE, DPS_K_COUNT, m));
    HK_TRY(dps_string(doc, m[DPS_K_ASSIGNED_HUB], out->assigned_hub, sizeof out->assigned_hub));
    HK_TRY(dps_string(doc, m[DPS_K_DEVICE_ID], out->device_id, sizeof out->device_id));
    HK_TRY(dps_code(doc, m[DPS_K_ERROR_CODE], &code));
    /* Both or neither: a hub without a device id (or the reverse) cannot be
     * used, and an empty one is the same as none. */
    if ((out->assigned_hub[0] == '\0') != (m[DPS_K_ASSIGNED_HUB] == 0) ||
        (out->device_id[0] == '\0') != (m[DPS_K_DEVICE_ID] == 0) ||
        (m[DPS_K_ASSIGNED_HUB] == 0) != (m[DPS_K_DEVICE_ID] == 0) ||
        !dps_is(doc, m[DPS_K_SUBSTATUS], HK_JSON_STRING) ||
        !dps_is(doc, m[DPS_K_ERROR_MESSAGE], HK_JSON_STRING) ||
        !dps_is(doc, m[DPS_K_CHAIN], HK_JSON_ARRAY) ||
        !dps_is(doc, m[DPS_K_TRUST_BUNDLE], HK_JSON_OBJECT))
        return HK_ERR_DPS_PAYLOAD;
    if (m[DPS_K_SUBSTATUS] != 0)
        out->substatus = (hk_dps_substatus)(dps_match(doc, m[DPS_K_SUBSTATUS], dps_substatus_names,
                                                      HK_ARRAY_LEN(dps_substatus_names)) + 1);
    if (!have_code)
        out->error_code = code;
    if (out->message == 0)
        out->message = m[DPS_K_ERROR_MESSAGE];

    size_t v = m[DPS_K_PAYLOAD];
    if (!dps_is(doc, v, HK_JSON_OBJECT) && !dps_is(doc, v, HK_JSON_NULL))
        return HK_ERR_DPS_PAYLOAD;
    if (v != 0 && doc->tokens[v].type == HK_JSON_OBJECT)
        HK_TRY(hk_json_raw_get(doc, v, &out->payload, &out->payload_len));

    if (m[DPS_K_CHAIN] != 0)
        HK_TRY(dps_get_certs(doc, m[DPS_K_CHAIN], NULL, out->issued_chain,
                             &out->issued_chain_count));
    v = m[DPS_K_TRUST_BUNDLE];
    if (v != 0) {
        size_t certs;
        hk_result r = hk_json_object_find(doc, v, "certificates", &certs);
        if (r == HK_OK && doc->tokens[certs].type == HK_JSON_ARRAY)
            return dps_get_certs(doc, certs, "certificate", out->trust_bundle,
                                 &out->trust_bundle_count);
        if (r != HK_ERR_NOT_FOUND)
            return HK_ERR_DPS_PAYLOAD;
    }
    return HK_OK;
}

/* The whole body, e.g. {"operationId":"4.d0a6...","status":"assigning"} or
 * {"errorCode":401002,"trackingId":"8ad0...","message":"Invalid certificate."}. */
static hk_result dps_parse_body(const hk_json_doc *doc, hk_dps_response *out)
{
    size_t m[DPS_K_COUNT];
    if (doc->tokens[0].type != HK_JSON_OBJECT)
        return HK_ERR_DPS_PAYLOAD;
    HK_TRY(dps_members(doc, 0, 0, DPS_K_TOP_END, m));
    HK_TRY(dps_string(doc, m[DPS_K_OPERATION_ID], out->operation_id, sizeof out->operation_id));
    HK_TRY(dps_code(doc, m[DPS_K_ERROR_CODE], &out->error_code));
    /* The id goes into the poll topic: hold it to the alphabet seen in
     * practice ("4.d0a671905ea5b2c8.e7173b7b-...", "<regid>.<uuid>"). */
    if ((out->operation_id[0] != '\0' &&
         !dps_id_ok(out->operation_id, strlen(out->operation_id), HK_DPS_OPERATION_ID_MAX)) ||
        !dps_is(doc, m[DPS_K_MESSAGE], HK_JSON_STRING) ||
        !dps_is(doc, m[DPS_K_STATUS], HK_JSON_STRING))
        return HK_ERR_DPS_PAYLOAD;
    out->message = m[DPS_K_MESSAGE];

    size_t v = m[DPS_K_STATUS];
    if (v != 0) {
        size_t i = dps_match(doc, v, dps_status_names, HK_ARRAY_LEN(dps_status_names));
        if (i == HK_ARRAY_LEN(dps_status_names))
            return HK_ERR_DPS_PAYLOAD;
        out->operation_status = (hk_dps_operation_status)(i + 1);
    } else if (m[DPS_K_ERROR_CODE] != 0) {
        /* An error body: no operation, no status, a top-level errorCode. */
        out->operation_status = HK_DPS_OPERATION_FAILED;
    } else {
        return HK_ERR_DPS_PAYLOAD;
    }

    v = m[DPS_K_REGISTRATION_STATE];
    if (!dps_is(doc, v, HK_JSON_OBJECT) && !dps_is(doc, v, HK_JSON_NULL))
        return HK_ERR_DPS_PAYLOAD;
    if (v != 0 && doc->tokens[v].type == HK_JSON_OBJECT)
        HK_TRY(dps_parse_state(doc, v, out, m[DPS_K_ERROR_CODE] != 0));
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
