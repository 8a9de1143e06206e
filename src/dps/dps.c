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
#include "json/json_internal.h"

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
    return s != NULL && hk_text_token_ok(s, strlen(s), forbidden);
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

/* Packed, 11 bytes apart: hk_dps_api_version n starts at 11 * n. */
static const char dps_api_versions[] = "2019-03-31\0" "2021-06-01\0" "2025-07-01-preview";

hk_result hk_dps_username_build(const hk_dps_client *client, char *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (out != NULL || cap == 0));
    if (!dps_client_ok(client) || !dps_token_ok(client->id_scope, "/#+&?") ||
        (dps_present(client->client_version) && !dps_token_ok(client->client_version, "#+&?")))
        return HK_ERR_INVALID_ARG;
    bool has_cv = dps_present(client->client_version);
    const char *const parts[] = {
        client->id_scope,         "/registrations/",
        client->registration_id,  "/api-version=",
        dps_api_versions + 11u * client->api_version,
        has_cv ? "&ClientVersion=" : "", has_cv ? client->client_version : "",
    };
    hk_text t = HK_TEXT_INIT(out, cap);
    for (size_t i = 0; i < HK_ARRAY_LEN(parts); i++)
        hk_text_puts(&t, parts[i]);
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
    /* {"registrationId":"{id}"[,"payload":{custom}][,"csr":"{csr}"]}
     * The id's alphabet needs no escapes and the csr is escaped, so no input
     * can change the shape of the object; the custom payload is the
     * caller's JSON by contract. */
    hk_text t = HK_TEXT_INIT(out, cap);
    hk_text_puts(&t, "{\"registrationId\":\"");
    hk_text_puts(&t, client->registration_id);
    hk_text_puts(&t, "\"");
    if (dps_present(custom_payload)) {
        hk_text_puts(&t, ",\"payload\":");
        hk_text_puts(&t, custom_payload);
    }
    if (dps_present(csr)) {
        hk_text_puts(&t, ",\"csr\":");
        /* Bad UTF-8 in the csr is its error unless the text before it
         * already ran out of room. */
        hk_result r = hk_json_text_string(&t, csr, strlen(csr));
        if (r != HK_OK && t.len <= cap)
            return r;
    }
    hk_text_puts(&t, "}");
    return hk_text_finish(&t, out_len);
}

/* ---- response topic ------------------------------------------------------- */

hk_result hk_dps_topic_parse(const char *topic, size_t topic_len, hk_dps_topic *out)
{
    static const char prefix[] = "$dps/registrations/res/";
    const size_t p = sizeof prefix - 1;
    HK_REQUIRE((topic != NULL || topic_len == 0) && out != NULL);
    memset(out, 0, sizeof *out);
    uint32_t status;
    bool has_retry = false;

    /* "{3 digits}/?" after the prefix */
    if (topic_len < p + 5 || memcmp(topic, prefix, p) != 0)
        return HK_ERR_DPS_TOPIC;
    const char *s = topic + p + 5, *end = topic + topic_len;
    if (s[-2] != '/' || s[-1] != '?' || !hk_text_uint(s - 5, 3, &status, false) ||
        status < 100 || status > 599)
        return HK_ERR_DPS_TOPIC;
    out->status = (unsigned)status;
    /* "name=value" items joined by '&'; an empty item (or name) is malformed. */
    hk_text_item it = {0};
    hk_result r;
    while ((r = hk_text_item_next(s, (size_t)(end - s), &it, HK_ERR_DPS_TOPIC)) == HK_OK) {
        if (hk_text_item_is(&it, "$rid")) {
            if (out->rid != NULL || it.value_len == 0)
                return HK_ERR_DPS_TOPIC;
            out->rid = it.value;
            out->rid_len = it.value_len;
        } else if (hk_text_item_is(&it, "retry-after")) {
            /* values above UINT32_MAX saturate */
            if (has_retry || !hk_text_uint(it.value, it.value_len, &out->retry_after_s, true))
                return HK_ERR_DPS_TOPIC;
            has_retry = true;
        }
    }
    if (r != HK_ERR_NOT_FOUND)
        return r;
    return out->rid != NULL ? HK_OK : HK_ERR_DPS_TOPIC;
}

/* ---- response body -------------------------------------------------------- */

/* The members the parser reads, one row each: X(key, name, types). The
 * enum DPS_K_<key>, the packed name list dps_keys and the type table
 * dps_key_types are generated from these two lists, so they cannot drift
 * apart. types: the JSON types the member may have (bit n: hk_json_type n);
 * a member of any other type makes the body malformed. The top-level
 * object's members come first, then registrationState's (both carry an
 * errorCode, so it is listed in each). */
#define DPS_T(type) (1u << HK_JSON_##type)
#define DPS_MEMBERS_TOP(X)                                                    \
    X(OPERATION_ID, "operationId", DPS_T(STRING))                             \
    X(STATUS, "status", DPS_T(STRING))                                        \
    X(REGISTRATION_STATE, "registrationState", DPS_T(OBJECT) | DPS_T(NULL))   \
    X(MESSAGE, "message", DPS_T(STRING))                                      \
    X(ERROR_CODE, "errorCode", DPS_T(NUMBER))
#define DPS_MEMBERS_STATE(X)                                                  \
    X(STATE_ERROR_CODE, "errorCode", DPS_T(NUMBER))                           \
    X(ASSIGNED_HUB, "assignedHub", DPS_T(STRING))                             \
    X(DEVICE_ID, "deviceId", DPS_T(STRING))                                   \
    X(SUBSTATUS, "substatus", DPS_T(STRING))                                  \
    X(ERROR_MESSAGE, "errorMessage", DPS_T(STRING))                           \
    X(PAYLOAD, "payload", DPS_T(OBJECT) | DPS_T(NULL))                        \
    X(CHAIN, "issuedCertificateChain", DPS_T(ARRAY))                          \
    X(TRUST_BUNDLE, "trustBundle", DPS_T(OBJECT))

#define DPS_K_ENUM_(key, name, types) DPS_K_##key,
#define DPS_K_ONE_(key, name, types) +1
#define DPS_K_NAME_(key, name, types) name "\0"
#define DPS_K_TYPES_(key, name, types) types,

enum {
    DPS_MEMBERS_TOP(DPS_K_ENUM_) DPS_MEMBERS_STATE(DPS_K_ENUM_) DPS_K_COUNT,
    /* registrationState's members are DPS_K_STATE_FIRST .. DPS_K_COUNT - 1 */
    DPS_K_STATE_FIRST = 0 DPS_MEMBERS_TOP(DPS_K_ONE_),
};

/* Name lists are packed: each name ends with its NUL (the literal's own
 * terminator is left out: the last name's "\0" ends the list).
 * registrationState's names start DPS_KEYS_STATE_AT bytes in. */
#define DPS_KEYS DPS_MEMBERS_TOP(DPS_K_NAME_) DPS_MEMBERS_STATE(DPS_K_NAME_)
static const char dps_keys[sizeof(DPS_KEYS) - 1u] = DPS_KEYS;
#define DPS_KEYS_STATE_AT (sizeof(DPS_MEMBERS_TOP(DPS_K_NAME_)) - 1u)

static const uint8_t dps_key_types[DPS_K_COUNT] = {
    DPS_MEMBERS_TOP(DPS_K_TYPES_) DPS_MEMBERS_STATE(DPS_K_TYPES_)};

/* dps_parse_body reads the two errorCodes in one loop over adjacent keys. */
_Static_assert(DPS_K_STATE_ERROR_CODE == DPS_K_ERROR_CODE + 1 &&
                   DPS_K_STATE_ERROR_CODE == DPS_K_STATE_FIRST,
               "the two errorCode members must be the last top-level and first state member");

/* The decoded string members and where they go; the operation id first. */
static const struct {
    uint16_t offset;
    uint16_t cap;
    uint8_t key;
} dps_strings[] = {
    {offsetof(hk_dps_response, operation_id), HK_DPS_OPERATION_ID_MAX + 1, DPS_K_OPERATION_ID},
    {offsetof(hk_dps_response, assigned_hub), HK_DPS_HUB_MAX + 1, DPS_K_ASSIGNED_HUB},
    {offsetof(hk_dps_response, device_id), HK_DPS_DEVICE_ID_MAX + 1, DPS_K_DEVICE_ID},
};

/* Index in the packed list names[0..count) of the string token's value;
 * count when unknown. */
static size_t dps_match(const hk_json_doc *doc, size_t tok, const char *names, size_t count)
{
    size_t i = 0;
    for (; i < count; i++) {
        size_t n = strlen(names);
        if (hk_json_string_equals(doc, tok, names, n))
            break;
        names += n + 1;
    }
    return i;
}

/* One pass over object obj: m[k] = value token of member k for k in
 * [first, end), whose names are the packed list names (m[] starts zeroed: 0 stays "absent"). Unknown members are
 * skipped; a known one twice is malformed (which of the two would count is
 * anyone's guess), and so is a member of a type dps_key_types[] does not
 * allow. */
static bool dps_members(const hk_json_doc *doc, size_t obj, const char *names, size_t first,
                        size_t end, size_t *m)
{
    size_t i = 0;
    hk_result r;
    while ((r = hk_json_next(doc, obj, &i)) == HK_OK) {
        size_t k = first + dps_match(doc, i, names, end - first);
        if (k < end) {
            if (m[k] != 0 || ((dps_key_types[k] >> doc->tokens[i + 1].type) & 1u) == 0)
                return false;
            m[k] = i + 1;
        }
    }
    return r == HK_ERR_NOT_FOUND;
}

static const char dps_status_names[] = "unassigned\0assigning\0assigned\0failed\0disabled";
#define DPS_STATUS_COUNT 5u
static const char dps_substatus_names[] =
    "initialAssignment\0deviceDataMigrated\0deviceDataReset\0reprovisionedToInitialAssignment";
#define DPS_SUBSTATUS_COUNT 4u

/* Collect up to HK_DPS_CERTS_MAX string tokens of an array. For the trust
 * bundle each element is an object and the string is its member "certificate". */
static bool dps_get_certs(const hk_json_doc *doc, size_t arr, const char *member, size_t *out,
                          size_t *out_count)
{
    size_t i = 0;
    hk_result r;
    while ((r = hk_json_next(doc, arr, &i)) == HK_OK) {
        size_t tok = i;
        if (*out_count == HK_DPS_CERTS_MAX ||
            (member != NULL && hk_json_object_find(doc, i, member, &tok) != HK_OK) ||
            doc->tokens[tok].type != HK_JSON_STRING)
            return false;
        out[(*out_count)++] = tok;
    }
    return r == HK_ERR_NOT_FOUND;
}

/* The whole body, e.g. {"operationId":"4.d0a6...","status":"assigning"},
 * {"errorCode":401002,"trackingId":"8ad0...","message":"Invalid certificate."}
 * or, once assigned, with
 *   "registrationState":{"registrationId":"dev1",
 *    "assignedHub":"contoso.azure-devices.net","deviceId":"dev1",
 *    "status":"assigned","substatus":"initialAssignment","payload":{"a":1},
 *    "issuedCertificateChain":["MIIB..."]}
 * False when it is malformed (the caller clears what was written). */
static bool dps_parse_body(const hk_json_doc *doc, hk_dps_response *out)
{
    size_t m[DPS_K_COUNT] = {0};
    const hk_json_token *tk = doc->tokens;
    size_t len;
    if (tk[0].type != HK_JSON_OBJECT || !dps_members(doc, 0, dps_keys, 0, DPS_K_STATE_FIRST, m))
        return false;
    size_t v = m[DPS_K_REGISTRATION_STATE];
    if (v != 0 && tk[v].type == HK_JSON_OBJECT &&
        !dps_members(doc, v, dps_keys + DPS_KEYS_STATE_AT, DPS_K_STATE_FIRST, DPS_K_COUNT, m))
        return false;

    /* The id goes into the poll topic: hold it to the alphabet seen in
     * practice ("4.d0a671905ea5b2c8.e7173b7b-...", "<regid>.<uuid>"); it may
     * be empty. A hub or device id may not. */
    for (size_t i = 0; i < HK_ARRAY_LEN(dps_strings); i++) {
        char *dst = (char *)out + dps_strings[i].offset;
        v = m[dps_strings[i].key];
        if (v != 0 && (hk_json_string_get(doc, v, dst, dps_strings[i].cap, &len) != HK_OK ||
                       (i == 0 ? len != 0 && !dps_id_ok(dst, len, HK_DPS_OPERATION_ID_MAX)
                               : len == 0)))
            return false;
    }
    /* The top-level errorCode wins over registrationState's: read it last. */
    for (size_t k = DPS_K_STATE_ERROR_CODE; k >= DPS_K_ERROR_CODE; k--) {
        if (m[k] != 0 && hk_json_uint32_get(doc, m[k], &out->error_code) != HK_OK)
            return false;
    }
    /* Both or neither: a hub without a device id (or the reverse) cannot be
     * used. */
    bool hub = m[DPS_K_ASSIGNED_HUB] != 0;
    if (hub != (m[DPS_K_DEVICE_ID] != 0))
        return false;

    /* Without a status, only an error body (a top-level errorCode, no
     * operation) is understood: it failed. */
    size_t status = HK_DPS_OPERATION_FAILED - 1;
    if (m[DPS_K_STATUS] != 0)
        status = dps_match(doc, m[DPS_K_STATUS], dps_status_names, DPS_STATUS_COUNT);
    else if (m[DPS_K_ERROR_CODE] == 0)
        return false;
    if (status == DPS_STATUS_COUNT ||
        (status == HK_DPS_OPERATION_ASSIGNED - 1 && !hub))
        return false;
    out->operation_status = (hk_dps_operation_status)(status + 1);
    if (m[DPS_K_SUBSTATUS] != 0)
        out->substatus = (hk_dps_substatus)(dps_match(doc, m[DPS_K_SUBSTATUS], dps_substatus_names,
                                                      DPS_SUBSTATUS_COUNT) + 1);
    out->message = m[DPS_K_MESSAGE] != 0 ? m[DPS_K_MESSAGE] : m[DPS_K_ERROR_MESSAGE];

    v = m[DPS_K_PAYLOAD];
    if (v != 0 && tk[v].type == HK_JSON_OBJECT &&
        hk_json_raw_get(doc, v, &out->payload, &out->payload_len) != HK_OK)
        return false;
    if (m[DPS_K_CHAIN] != 0 &&
        !dps_get_certs(doc, m[DPS_K_CHAIN], NULL, out->issued_chain, &out->issued_chain_count))
        return false;
    v = m[DPS_K_TRUST_BUNDLE];
    if (v != 0) {
        size_t certs;
        hk_result r = hk_json_object_find(doc, v, "certificates", &certs);
        if (r == HK_OK && tk[certs].type == HK_JSON_ARRAY)
            return dps_get_certs(doc, certs, "certificate", out->trust_bundle,
                                 &out->trust_bundle_count);
        return r == HK_ERR_NOT_FOUND;
    }
    return true;
}

/* Out of line: its caller is large, and inlined there it measured bigger. */
HK_NOINLINE
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
    if (r == HK_OK && !dps_parse_body(&out->doc, out))
        r = HK_ERR_DPS_PAYLOAD;
    if (r != HK_OK) {
        /* Only the topic's fields survive a refused body. */
        memset((char *)out + offsetof(hk_dps_response, operation_status), 0,
               sizeof *out - offsetof(hk_dps_response, operation_status));
        if (r != HK_ERR_JSON_TOO_MANY_TOKENS)
            r = HK_ERR_DPS_PAYLOAD;
    }
    return r;
}

hk_result hk_dps_response_string_get(const hk_dps_response *response, size_t token, char *out,
                                     size_t cap, size_t *out_len)
{
    HK_REQUIRE(response != NULL && token != 0 && token < response->doc.count);
    return hk_json_string_get(&response->doc, token, out, cap, out_len);
}
