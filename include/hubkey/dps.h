/*
 * hubkey — Azure IoT Hub Device Provisioning Service (DPS) client over MQTT
 * 3.1.1, sans-I/O.
 *
 * Three parts, none of which touches a socket:
 *   1. builders: CONNECT client id and username, the register and
 *      operation-status topics, the register request body;
 *   2. parsers: a response topic ($dps/registrations/res/...) and its JSON
 *      body into one hk_dps_response;
 *   3. a registration state machine (hk_dps_machine) that says what to do
 *      next (send register, send poll, wait until T, done) and consumes
 *      parsed responses; time is always passed in (now_ms), randomness too.
 *
 * Output strings (all *_build functions except the register body):
 *   - are written to out[0..cap) followed by a NUL; *out_len receives the
 *     length without the NUL;
 *   - HK_ERR_BUFFER_TOO_SMALL when the string and its NUL do not fit: then
 *     *out_len receives the length needed (without the NUL) and out[0..cap)
 *     holds unspecified bytes. Nothing is ever written at or past out[cap].
 *     out may be NULL when cap is 0, to ask for the size only.
 *   - HK_ERR_INVALID_ARG for NULL pointers or identifiers that break the
 *     syntax (see hk_dps_client).
 *
 * Times are uint32_t milliseconds of a monotonic clock; they may wrap (every
 * ~49.7 days): the machine compares them by difference, so only spans below
 * 2^31 ms matter.
 */
#ifndef HUBKEY_DPS_H
#define HUBKEY_DPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/json.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Subscribe to this filter (QoS 1) before publishing anything. */
#define HK_DPS_SUBSCRIBE_FILTER "$dps/registrations/res/#"

/* The global device endpoint (port 8883, TLS). */
#define HK_DPS_GLOBAL_HOST "global.azure-devices-provisioning.net"

/* Bounds of the decoded strings a response carries (bytes, without NUL).
 * Observed operation ids are 55 ("4.<16 hex>.<uuid>") or up to 101 bytes
 * ("<registration id>.<uuid>"); hub host names are "<name up to 50>.
 * azure-devices.net"; device ids are at most 128 bytes. */
#ifndef HK_DPS_OPERATION_ID_MAX
#define HK_DPS_OPERATION_ID_MAX 128u
#endif
#ifndef HK_DPS_HUB_MAX
#define HK_DPS_HUB_MAX 128u
#endif
#ifndef HK_DPS_DEVICE_ID_MAX
#define HK_DPS_DEVICE_ID_MAX 128u
#endif
/* Most certificates kept from registrationState.issuedCertificateChain and
 * trustBundle.certificates; a response with more is refused as malformed
 * (a leaf, two intermediates and a root fit). */
#ifndef HK_DPS_CERTS_MAX
#define HK_DPS_CERTS_MAX 4u
#endif
/* A JSON token array of this many entries holds every documented response,
 * including a trust bundle of HK_DPS_CERTS_MAX certificates with metadata. */
#define HK_DPS_JSON_TOKENS 160u

/* api-version sent in the username. */
typedef enum hk_dps_api_version {
    HK_DPS_API_2019_03_31 = 0,     /* default: the documented MQTT version */
    HK_DPS_API_2021_06_01,         /* what the older C SDK sends today */
    HK_DPS_API_2025_07_01_PREVIEW, /* certificate issuance: allows a CSR */
} hk_dps_api_version;

/*
 * The device's registration. Borrowed: the strings must stay valid while the
 * struct is passed to this module; nothing is copied.
 *   id_scope:        non-empty, no '/', '#', '+', '&', '?', space, non-ASCII.
 *   registration_id: 1..128 characters from A-Z a-z 0-9 - . _ : (the DPS
 *                    registration id alphabet; with X.509 it is the leaf's
 *                    subject CN, at most 64).
 *   client_version:  NULL/"" omits "&ClientVersion="; otherwise written
 *                    verbatim, the same rules as id_scope except '/' is
 *                    allowed (e.g. "c/1.2.3").
 */
typedef struct hk_dps_client {
    const char *id_scope;
    const char *registration_id;
    hk_dps_api_version api_version;
    const char *client_version;
} hk_dps_client;

/* "{registrationId}" */
HK_NODISCARD hk_result hk_dps_client_id_build(const hk_dps_client *client, char *out, size_t cap,
                                              size_t *out_len);

/* "{idScope}/registrations/{registrationId}/api-version={v}[&ClientVersion={cv}]"
 * (no '?' before api-version, unlike IoT Hub). */
HK_NODISCARD hk_result hk_dps_username_build(const hk_dps_client *client, char *out, size_t cap,
                                             size_t *out_len);

/* "$dps/registrations/PUT/iotdps-register/?$rid={rid}" */
HK_NODISCARD hk_result hk_dps_register_topic_build(uint32_t rid, char *out, size_t cap,
                                                   size_t *out_len);

/* "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}"
 * (publish with an empty payload). operation_id: 1..HK_DPS_OPERATION_ID_MAX
 * characters from A-Z a-z 0-9 - . _ : (HK_ERR_INVALID_ARG otherwise). */
HK_NODISCARD hk_result hk_dps_poll_topic_build(uint32_t rid, const char *operation_id,
                                               size_t operation_id_len, char *out, size_t cap,
                                               size_t *out_len);

/*
 * Register request body, compact JSON:
 *   {"registrationId":"{id}"[,"payload":{custom}][,"csr":"{csr}"]}
 * custom_payload: NULL/"" omits it; otherwise one complete JSON value
 * (normally an object), copied verbatim, whitespace included; not parsed.
 * csr: NULL/"" omits it; Base64 of the DER PKCS#10 request, no PEM armour,
 * written as a JSON string (escaped; HK_ERR_JSON_UTF8 when it is not valid
 * UTF-8); only with HK_DPS_API_2025_07_01_PREVIEW, else HK_ERR_UNSUPPORTED.
 * Writes the text and a NUL into out[0..cap); *out_len = text length.
 * HK_ERR_BUFFER_TOO_SMALL when it does not fit (*out_len is then no size to
 * rely on).
 */
HK_NODISCARD hk_result hk_dps_register_body_build(const hk_dps_client *client,
                                                  const char *custom_payload, const char *csr,
                                                  char *out, size_t cap, size_t *out_len);

/* ---- responses ------------------------------------------------------------ */

typedef enum hk_dps_operation_status {
    HK_DPS_OPERATION_UNASSIGNED = 1,
    HK_DPS_OPERATION_ASSIGNING,
    HK_DPS_OPERATION_ASSIGNED,
    HK_DPS_OPERATION_FAILED,
    HK_DPS_OPERATION_DISABLED,
} hk_dps_operation_status;

typedef enum hk_dps_substatus {
    HK_DPS_SUBSTATUS_NONE = 0, /* absent */
    HK_DPS_SUBSTATUS_INITIAL_ASSIGNMENT,
    HK_DPS_SUBSTATUS_DEVICE_DATA_MIGRATED,
    HK_DPS_SUBSTATUS_DEVICE_DATA_RESET,
    HK_DPS_SUBSTATUS_REPROVISIONED_TO_INITIAL_ASSIGNMENT,
    HK_DPS_SUBSTATUS_OTHER, /* a value this version does not know */
} hk_dps_substatus;

/* What a response topic says. rid points into the caller's topic buffer. */
typedef struct hk_dps_topic {
    unsigned status;        /* HTTP-style status, 100..599 */
    uint32_t retry_after_s; /* 0 when absent (or sent as 0) */
    const char *rid;        /* $rid value, not NUL-terminated */
    size_t rid_len;
} hk_dps_topic;

/*
 * Parse a response topic. Accepts, for example:
 *   $dps/registrations/res/202/?$rid=1&retry-after=3
 *   $dps/registrations/res/202/?retry-after=120&$rid=1
 *   $dps/registrations/res/200/?$rid=1&x-extra=ignored
 * $rid is required, retry-after optional (decimal seconds; values above
 * 2^32-1 saturate), in any order; unknown parameters are ignored; a known one
 * twice, an empty parameter or a non-decimal retry-after is refused.
 * HK_ERR_DPS_TOPIC for anything else (out is then unspecified).
 */
HK_NODISCARD hk_result hk_dps_topic_parse(const char *topic, size_t topic_len, hk_dps_topic *out);

/*
 * A parsed response: topic fields and body fields. The strings in the
 * arrays are decoded and NUL-terminated. `doc` describes the body inside the
 * caller's payload and token buffers: `payload`, `doc` and the token indices
 * below (message, certificates) stay valid only while those buffers do.
 * A token index of 0 means "absent" (token 0 is the body object itself).
 */
typedef struct hk_dps_response {
    hk_dps_topic topic;
    hk_dps_operation_status operation_status;
    char operation_id[HK_DPS_OPERATION_ID_MAX + 1]; /* "" when absent or empty */
    char assigned_hub[HK_DPS_HUB_MAX + 1];          /* "" unless in registrationState */
    char device_id[HK_DPS_DEVICE_ID_MAX + 1];       /* "" unless in registrationState */
    hk_dps_substatus substatus;
    const char *payload; /* registrationState.payload as raw JSON text; NULL when
                            absent or null */
    size_t payload_len;
    uint32_t error_code; /* extended code (401002: class 401); top-level errorCode,
                            else registrationState.errorCode; 0 when absent */
    hk_json_doc doc;
    size_t message;       /* string token: top-level "message", else
                             registrationState "errorMessage" */
    size_t trust_bundle[HK_DPS_CERTS_MAX]; /* string tokens: PEM certificates of
                                              trustBundle.certificates[i].certificate */
    size_t trust_bundle_count;
    size_t issued_chain[HK_DPS_CERTS_MAX]; /* string tokens: Base64 DER, leaf first */
    size_t issued_chain_count;
} hk_dps_response;

/*
 * Parse a response topic and its JSON body. tokens[0..max_tokens) is
 * scratch for the JSON reader and must outlive the use of out->doc
 * (HK_DPS_JSON_TOKENS is enough for every documented response).
 *
 * Body rules (a body of the form
 *   {"operationId":"4.d0a6...","status":"assigned","registrationState":{
 *    "registrationId":"dev1","assignedHub":"contoso.azure-devices.net",
 *    "deviceId":"dev1","status":"assigned","substatus":"initialAssignment",
 *    "payload":{"a":1}}}
 * or an error body {"errorCode":401002,"trackingId":"...","message":"..."}):
 *   - the body must be a JSON object; unknown members are ignored;
 *   - "status" gives operation_status; without it, a top-level "errorCode"
 *     makes it FAILED, and anything else is malformed;
 *   - registrationState (object or null) must have both assignedHub and
 *     deviceId or neither; an "assigned" status needs both;
 *   - payload may be an object or null;
 *   - for a status >= 300 an empty body is accepted (operation_status
 *     FAILED, nothing else set).
 * Errors: HK_ERR_DPS_TOPIC (topic), HK_ERR_DPS_PAYLOAD (body malformed,
 * wrong member types, strings over their bound, more than HK_DPS_CERTS_MAX
 * certificates), HK_ERR_JSON_TOO_MANY_TOKENS (the token array is too small).
 */
HK_NODISCARD hk_result hk_dps_response_parse(const char *topic, size_t topic_len,
                                             const char *payload, size_t payload_len,
                                             hk_json_token *tokens, size_t max_tokens,
                                             hk_dps_response *out);

/* Decode a string token of a parsed response (message, certificates) into
 * out, NUL-terminated; as hk_json_string_get(). */
HK_NODISCARD hk_result hk_dps_response_string_get(const hk_dps_response *response, size_t token,
                                                  char *out, size_t cap, size_t *out_len);

/* ---- backoff ---------------------------------------------------------------- */

/*
 * Delay before retry number `attempt` (0 = first retry):
 *   base = min(min_ms * 2^attempt, max_ms)
 *   j    = random % (jitter_ms + 1)
 *   base + j when that stays <= max_ms, else max_ms - j (clamped at 0)
 * A pure function: the caller supplies the random value. With jitter 0, min
 * 1000 and max 100000, attempts 0..8 give 1000, 2000, 4000, 8000, 16000,
 * 32000, 64000, 100000, 100000 (the Azure SDK for C sequence). At the cap the
 * jitter is subtracted instead of dropped, so devices that all reached the
 * cap still spread out.
 */
uint32_t hk_dps_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t jitter_ms,
                           uint32_t random);

/* ---- registration state machine ------------------------------------------- */

/* retry-after values are clamped to this range (seconds): see dps_machine.c. */
#define HK_DPS_RETRY_AFTER_MIN_S 1u
#define HK_DPS_RETRY_AFTER_MAX_S 300u

typedef struct hk_dps_machine_config {
    uint32_t deadline_ms;         /* whole registration budget from start, e.g. 300000 */
    uint32_t response_timeout_ms; /* resend (after backoff) when no answer in this time */
    uint32_t backoff_min_ms;      /* e.g. 1000 */
    uint32_t backoff_max_ms;      /* e.g. 100000 */
    uint32_t jitter_ms;           /* e.g. 5000; must not exceed backoff_max_ms */
} hk_dps_machine_config;

typedef enum hk_dps_action {
    HK_DPS_ACTION_SEND_REGISTER = 1, /* publish register topic (step.rid) + body */
    HK_DPS_ACTION_SEND_POLL,         /* publish poll topic (step.rid, operation id) */
    HK_DPS_ACTION_WAIT,              /* nothing to send: call next() again at
                                        step.wait_until_ms or when a response arrives */
    HK_DPS_ACTION_ASSIGNED,          /* done: hub and device id in the machine */
    HK_DPS_ACTION_FAILED,            /* done: step.result says why */
} hk_dps_action;

typedef struct hk_dps_step {
    hk_dps_action action;
    uint32_t rid;              /* SEND_*: the $rid to put in the topic */
    const char *operation_id;  /* SEND_POLL: NUL-terminated, inside the machine */
    uint32_t wait_until_ms;    /* WAIT */
    hk_result result;          /* FAILED: HK_ERR_DPS_FAILED, _DISABLED, _UNAUTHORIZED,
                                  _REJECTED or _DEADLINE; HK_OK otherwise */
} hk_dps_step;

typedef struct hk_dps_machine {
    struct {
        hk_dps_machine_config config;
        uint8_t state;
        uint8_t pending;  /* what the next send is: register or poll */
        uint32_t rid;     /* $rid of the last request sent */
        uint32_t attempt; /* consecutive backoffs */
        uint32_t start_ms;
        uint32_t sent_ms;
        uint32_t wait_until_ms;
        hk_result result;
        char operation_id[HK_DPS_OPERATION_ID_MAX + 1];
        char assigned_hub[HK_DPS_HUB_MAX + 1];
        char device_id[HK_DPS_DEVICE_ID_MAX + 1];
        hk_dps_substatus substatus;
    } _internal;
} hk_dps_machine;

/* Start a registration at now_ms. The config is copied. HK_ERR_INVALID_ARG
 * for zero deadline/timeout, min > max or jitter > max. */
HK_NODISCARD hk_result hk_dps_machine_init(hk_dps_machine *m, const hk_dps_machine_config *config,
                                           uint32_t now_ms);

/*
 * What to do at now_ms. random feeds the jitter when a response timeout
 * forces a resend. A SEND_* step means "send it now": the machine then
 * waits for the response with that rid (a send that fails is covered by
 * the response timeout). Once ASSIGNED or FAILED, every call repeats it.
 * Reaching the deadline before assignment gives FAILED/HK_ERR_DPS_DEADLINE.
 */
HK_NODISCARD hk_result hk_dps_machine_next(hk_dps_machine *m, uint32_t now_ms, uint32_t random,
                                           hk_dps_step *out_step);

/*
 * Feed a parsed response at now_ms; random feeds the jitter of a backoff.
 *   HK_OK             consumed: call next() for the new action.
 *   HK_ERR_DPS_RID    its $rid is not the one of the request in flight
 *                     (stale or foreign): ignored, nothing changed.
 *   HK_ERR_STATE      no request is in flight (waiting, or done): ignored.
 * Transitions: 202 (or 200 still assigning/unassigned) with an operation id
 * -> poll after retry-after (clamped) or, without one, after backoff;
 * 200 assigned -> ASSIGNED; 200 failed/disabled -> FAILED with
 * HK_ERR_DPS_FAILED/HK_ERR_DPS_DISABLED; 429 and 5xx -> the same request
 * again after retry-after or backoff with jitter; 404 to a status query
 * (the operation is not known, e.g. expired) -> register again after
 * backoff; 401 -> FAILED HK_ERR_DPS_UNAUTHORIZED; any other status ->
 * FAILED HK_ERR_DPS_REJECTED.
 */
HK_NODISCARD hk_result hk_dps_machine_on_response(hk_dps_machine *m,
                                                  const hk_dps_response *response, uint32_t now_ms,
                                                  uint32_t random);

/*
 * The connection that carried the machine's requests was replaced by a new
 * one (a cut, then a reconnect within the same registration). A request
 * awaiting its answer is sent again at the next call to next(): the status
 * query with the known operation ID once DPS answered 202 (DPS keeps the
 * operation; querying it does not depend on the connection, so the device
 * does not register again), the register request before that. A wait in
 * progress (retry-after, backoff) is kept; ASSIGNED and FAILED stay; the
 * deadline still counts from init. HK_OK.
 */
HK_NODISCARD hk_result hk_dps_machine_resume(hk_dps_machine *m);

/* After ASSIGNED: the hub host name, device id (NUL-terminated, inside the
 * machine, valid as long as it is) and substatus. HK_ERR_STATE before. */
HK_NODISCARD hk_result hk_dps_machine_assignment(const hk_dps_machine *m, const char **out_hub,
                                                 const char **out_device_id,
                                                 hk_dps_substatus *out_substatus);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_DPS_H */
