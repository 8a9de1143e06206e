/*
 * hubkey — the device boot flow: identity -> record -> DPS -> record -> hub
 * -> ready, and back to DPS when the hub refuses the identity.
 *
 * A state machine with explicit time over caller-owned memory:
 *
 *     hk_device dev;                           // caller-owned, all buffers inside
 *     hk_device_init(&dev, &config, now_ms);   // no I/O yet
 *     for (;;) {                                // or: hk_device_run()
 *         hk_device_step(&dev, now_ms, &deadline);
 *         wait until the deadline or until the connection has activity
 *     }
 *
 * States (hk_device_state):
 *   IDENTITY      read the device certificate (cert 0) from the secure
 *                 element; the registration ID is its subject CN.
 *   RECORD        read the provisioning record (slot 8). A valid record
 *                 goes to HUB_CONNECT, anything else to DPS_CONNECT.
 *   DPS_CONNECT   open a connection to DPS (TLS through the link).
 *   DPS_REGISTER  MQTT CONNECT + SUBSCRIBE + register PUBLISH, pipelined;
 *                 then polls as hk_dps_machine says (retry-after, backoff),
 *                 bounded by an overall deadline.
 *   RECORD_WRITE  store the new assignment (skipped when it equals the
 *                 record). The old record stays until this write. It is
 *                 written from what the RECORD read learnt about the slot
 *                 (hk_record_write_cached): the flow must be the only
 *                 writer of the record area while it runs (see record.h).
 *   HUB_CONNECT   open a connection to the assigned hub (the DPS trust
 *                 bundle, when one came, is the trust store).
 *   HUB_SESSION   MQTT CONNECT + 4 SUBSCRIBEs (C2D, twin responses, desired
 *                 updates, methods), waiting for CONNACK. Telemetry is
 *                 accepted already: sent from the callback on entering this
 *                 state, it leaves in the same flight as CONNECT.
 *   READY         connected; twin GET is sent after every connect.
 *   WAIT          backing off; the event says how long and why.
 *   STOPPED       after hk_device_stop().
 *   FAILED        permanent failure (unusable identity); step returns it.
 *
 * Policy (the reasons are in device.c):
 *   - DPS answers 429/5xx: retry-after or backoff with jitter, within the
 *     overall deadline (policy.dps_deadline_ms); a cut connection is opened
 *     again (backoff, 1 s doubling) within the same deadline and resumes:
 *     once DPS answered 202 the known operation is polled, not registered
 *     again (before the 202 it registers again). HK_DEVICE_REFUSALS_MAX
 *     connections in a row refused the same way (TLS alert refusing the
 *     client certificate, CONNACK refusal) end the round at once.
 *   - An identity that cannot be used (no usable CN, certificates that
 *     cannot be rebuilt: HK_ERR_CERT_*, HK_ERR_TLS_OWN_CERT) is permanent:
 *     FAILED. Only chip communication errors are retried.
 *   - The hub refuses the identity (CONNACK 0x02 identifier rejected,
 *     0x03 unavailable = disabled, 0x04 bad credentials, 0x05 not
 *     authorized, or a TLS rejection of the client certificate): provision
 *     again through DPS, at most once per policy.reprovision_interval_ms
 *     (the first time after boot at once); meanwhile the hub is retried
 *     with backoff. The interval lives in RAM only: nothing extra is
 *     persisted.
 *   - Any other hub failure: reconnect with exponential backoff and jitter
 *     (policy.reconnect_min_ms .. reconnect_max_ms); after
 *     policy.hub_fallback_ms of failures without a session, DPS again
 *     (also rate-limited).
 *   - A DPS registration that fails while a record exists returns to the
 *     hub of that record; without a record it is tried again after backoff
 *     (5 s doubling up to the reprovision interval).
 *
 * Connections come from an hk_device_link: the production one
 * (hk_device_tls_link, hubkey/device_tls.h) opens a TCP socket through
 * the platform and runs TLS with the chip-held key over it; tests plug a
 * link that returns scripted in-memory peers.
 *
 * Everything from the network or the chip only ever produces an error
 * result or an event; nothing is read or written outside the buffers here.
 * No function allocates. Times are uint32_t milliseconds of a monotonic
 * clock that may wrap; spans stay below 2^31 ms.
 *
 * Threading: one thread calls every hk_device function. Events are
 * delivered from inside hk_device_step()/hk_device_run(); the callback may
 * call hk_device_telemetry_send, _twin_get, _twin_report, _method_respond,
 * _reprovision and _stop, never _step, _run or _init. The state changes out
 * of IDENTITY, RECORD and RECORD_WRITE are delivered while the chip is held
 * awake (hk_se's hold, one wake for the chip states of a step): a callback
 * should return within a few hundred milliseconds there, or the chip's
 * watchdog (about 1.3 s) may put it to sleep first; the driver then wakes
 * it again, at the cost of a retried command.
 */
#ifndef HUBKEY_DEVICE_H
#define HUBKEY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/dps.h"
#include "hubkey/hub.h"
#include "hubkey/json.h"
#include "hubkey/mqtt.h"
#include "hubkey/platform.h"
#include "hubkey/record.h"
#include "hubkey/result.h"
#include "hubkey/se.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Buffer sizes (override with -D for the library and the application
 * alike: they size struct hk_device) ----------------------------------- */

/* Outgoing MQTT bytes. Holds CONNECT + SUBSCRIBE + the register PUBLISH
 * pipelined (about 200 bytes plus the registration payload), and each
 * telemetry message as it is encoded: a message larger than this cannot be
 * sent (HK_ERR_BUFFER_TOO_SMALL). */
#ifndef HK_DEVICE_MQTT_TX_SIZE
#define HK_DEVICE_MQTT_TX_SIZE 2048u
#endif

/* Incoming MQTT bytes: the largest packet accepted. A DPS answer without a
 * trust bundle is under 1 KiB; a trust bundle adds about 1-2 KiB per PEM
 * certificate; a twin document can be large. A larger packet ends the
 * connection (HK_ERR_MQTT_PACKET_TOO_LARGE), so size it for the twin. Also
 * holds the device certificate while the identity is read. */
#ifndef HK_DEVICE_MQTT_RX_SIZE
#define HK_DEVICE_MQTT_RX_SIZE 6144u
#endif

/* The DPS trust bundle kept for the hub connection: PEM text of every
 * certificate, concatenated, with its NUL. Two RSA-2048 roots (about
 * 1.9 KiB of PEM each) fit; a larger bundle is not kept (an event says so)
 * and the hub connection uses the configured trust. */
#ifndef HK_DEVICE_TRUST_BUNDLE_MAX
#define HK_DEVICE_TRUST_BUNDLE_MAX 4096u
#endif

/* Register request body: {"registrationId":"<id>","payload":<custom>}
 * with its NUL. */
#ifndef HK_DEVICE_BODY_MAX
#define HK_DEVICE_BODY_MAX 1024u
#endif
/* The longest custom payload (config.registration_payload) that fits the
 * body with the longest registration ID (HK_DPS_DEVICE_ID_MAX): 863 bytes
 * with the default sizes. hk_device_init refuses a longer one. */
#define HK_DEVICE_PAYLOAD_MAX                                                                 \
    (HK_DEVICE_BODY_MAX - 1u -                                                                \
     (sizeof("{\"registrationId\":\"\",\"payload\":}") - 1u + HK_DPS_DEVICE_ID_MAX))

/* MQTT user names: "<hub up to 128>/<device id up to 128>/?api-version=
 * 2020-09-30" plus an optional model id fits; the DPS one is shorter. */
#ifndef HK_DEVICE_USERNAME_MAX
#define HK_DEVICE_USERNAME_MAX 384u
#endif

/* One telemetry topic with its property bag, kept per in-flight message
 * until its PUBACK (the MQTT engine re-encodes it on a resend). */
#ifndef HK_DEVICE_TOPIC_MAX
#define HK_DEVICE_TOPIC_MAX 320u
#endif

/* ---- Policy defaults (a zero field of hk_device_policy selects these) -- */

/* The whole of one DPS registration, from the first connect to assigned:
 * room for a few 429 retry-afters and a slow custom allocation. */
#define HK_DEVICE_DPS_DEADLINE_MS 300000u
/* No DPS answer in this time: the request is sent again (after backoff). */
#define HK_DEVICE_DPS_RESPONSE_TIMEOUT_MS 30000u
/* Minimum time between two DPS registrations caused by the hub refusing
 * the identity. 15 minutes is the low end of "keep using the same hub for
 * 15-30 min" and keeps a fleet whose hub was misconfigured from hammering
 * DPS (about 4 registrations an hour per device at most). */
#define HK_DEVICE_REPROVISION_INTERVAL_MS 900000u
/* How long the hub may fail (no session) before DPS is asked again. */
#define HK_DEVICE_HUB_FALLBACK_MS 1800000u
/* Hub reconnect backoff: 5 s (IoT Hub asks for at least 5 s after a 5xx)
 * doubling to 5 min, plus up to 5 s of jitter so a fleet cut at the same
 * moment does not return at the same moment. */
#define HK_DEVICE_RECONNECT_MIN_MS 5000u
#define HK_DEVICE_RECONNECT_MAX_MS 300000u
#define HK_DEVICE_RECONNECT_JITTER_MS 5000u
/* TCP connect and TLS handshake together, per connection. */
#define HK_DEVICE_CONNECT_TIMEOUT_MS 30000u
/* MQTT keep-alive, the Azure SDK default. */
#define HK_DEVICE_KEEP_ALIVE_S 240u
/* DPS refusing the device identity on this many connections in a row
 * (the same result each time: a TLS alert refusing the client certificate,
 * or a CONNACK refusal) ends the registration round at once: the device
 * then waits the round backoff (or returns to the hub of its record)
 * instead of repeating a handshake DPS refuses until the deadline. */
#define HK_DEVICE_REFUSALS_MAX 3u
/* A hub session that lasted this long resets the reconnect backoff. */
#define HK_DEVICE_STABLE_MS 60000u

/* ---- Types ---------------------------------------------------------------- */

typedef enum hk_device_state {
    HK_DEVICE_STATE_IDENTITY = 0,
    HK_DEVICE_STATE_RECORD,
    HK_DEVICE_STATE_DPS_CONNECT,
    HK_DEVICE_STATE_DPS_REGISTER,
    HK_DEVICE_STATE_RECORD_WRITE,
    HK_DEVICE_STATE_HUB_CONNECT,
    HK_DEVICE_STATE_HUB_SESSION,
    HK_DEVICE_STATE_READY,
    HK_DEVICE_STATE_WAIT,
    HK_DEVICE_STATE_STOPPED,
    HK_DEVICE_STATE_FAILED,
    HK_DEVICE_STATE_COUNT_
} hk_device_state;

/* "identity", "record", "dps-connect", ... (static; "unknown" otherwise). */
const char *hk_device_state_name(hk_device_state state);

/*
 * Where connections come from. Every function gets ctx.
 *   open:  start a connection to host:port. host is the logical name (DPS or
 *          hub host name): TLS checks the server certificate against it.
 *          trust_pem: NULL = the link's configured trust; otherwise PEM
 *          certificates ending with a NUL that trust_pem_len counts, valid
 *          until close. Must not block on the peer: it starts the
 *          connection (a synchronous system resolver's name lookup is the
 *          one allowed wait) and poll completes it.
 *          Errors are connection failures (the device backs off).
 *   poll:  advance the set-up (TCP and TLS handshakes) without blocking. HK_OK with
 *          *out_ready false: call again later; HK_OK with *out_ready true:
 *          *out_transport is the byte stream, valid until close. An error
 *          ends the connection (HK_ERR_TLS_CLIENT_REJECTED counts as the
 *          server refusing the identity).
 *   close: best-effort goodbye and release. Safe when nothing is open.
 *   wait:  block until the connection may have progressed (bytes to read,
 *          room to write after a short write, closed) or timeout_ms passed;
 *          with nothing open just wait timeout_ms. Only hk_device_run uses it.
 */
typedef struct hk_device_link {
    void *ctx;
    HK_NODISCARD hk_result (*open)(void *ctx, const char *host, uint16_t port,
                                   const uint8_t *trust_pem, size_t trust_pem_len);
    HK_NODISCARD hk_result (*poll)(void *ctx, bool *out_ready, hk_transport *out_transport);
    void (*close)(void *ctx);
    void (*wait)(void *ctx, uint32_t timeout_ms);
} hk_device_link;

typedef enum hk_device_event_type {
    HK_DEVICE_EVENT_STATE = 1,    /* the flow changed state: event.change */
    HK_DEVICE_EVENT_DPS_RESPONSE, /* a DPS response arrived: event.dps_response */
    HK_DEVICE_EVENT_ASSIGNED,     /* DPS assigned the device: event.assigned */
    HK_DEVICE_EVENT_C2D,          /* cloud-to-device message: event.c2d */
    HK_DEVICE_EVENT_DESIRED,      /* desired properties update: event.desired */
    HK_DEVICE_EVENT_TWIN,         /* answer to hk_device_twin_get: event.twin */
    HK_DEVICE_EVENT_REPORTED,     /* answer to hk_device_twin_report: event.reported */
    HK_DEVICE_EVENT_METHOD,       /* direct method request: event.method */
    HK_DEVICE_EVENT_SENT,         /* a telemetry message is finished: event.sent */
} hk_device_event_type;

/* HK_DEVICE_EVENT_STATE: the flow left `previous` for the event's state. */
typedef struct hk_device_state_event {
    hk_device_state previous;
    hk_result result;         /* the error that caused the change, HK_OK otherwise */
    uint32_t state_ms;        /* time spent in previous */
    uint32_t wait_ms;         /* state WAIT: how long */
    hk_device_state next_state; /* state WAIT: where the flow goes then */
} hk_device_state_event;

/* HK_DEVICE_EVENT_DPS_RESPONSE. result: HK_OK, or why the response could
 * not be read (then status and retry_after_s are 0). */
typedef struct hk_device_dps_response_event {
    hk_result result;
    unsigned status;          /* 200, 202, 429, ... */
    uint32_t retry_after_s;
} hk_device_dps_response_event;

/* HK_DEVICE_EVENT_ASSIGNED. result: HK_OK, or HK_ERR_LIMIT when the trust
 * bundle was too large to keep (the hub connection then uses the
 * configured trust). */
typedef struct hk_device_assigned_event {
    hk_result result;
    const char *hub;
    const char *device_id;
    size_t trust_bundle_count; /* certificates kept for the hub connection */
    const uint8_t *payload;    /* the custom payload DPS returned, raw JSON, or NULL */
    size_t payload_len;
} hk_device_assigned_event;

/* HK_DEVICE_EVENT_C2D. properties: the URL-encoded bag (see
 * hk_hub_properties_find). */
typedef struct hk_device_c2d_event {
    const uint8_t *payload;
    size_t payload_len;
    const char *properties;
    size_t properties_len;
} hk_device_c2d_event;

/* HK_DEVICE_EVENT_DESIRED: payload is the JSON patch. */
typedef struct hk_device_desired_event {
    const uint8_t *payload;
    size_t payload_len;
    bool has_version;
    uint32_t version;
} hk_device_desired_event;

/* HK_DEVICE_EVENT_TWIN: the answer to the hk_device_twin_get named id;
 * status 200 (payload: the twin document) or an error status. */
typedef struct hk_device_twin_event {
    const uint8_t *payload;
    size_t payload_len;
    uint32_t id;
    unsigned status;
} hk_device_twin_event;

/* HK_DEVICE_EVENT_REPORTED: the answer to the hk_device_twin_report named
 * id; status 204 or an error; version when has_version. */
typedef struct hk_device_reported_event {
    const uint8_t *payload;
    size_t payload_len;
    uint32_t id;
    unsigned status;
    bool has_version;
    uint32_t version;
} hk_device_reported_event;

/* HK_DEVICE_EVENT_METHOD: answer with hk_device_method_respond (now, or
 * later with a copy of request_id). */
typedef struct hk_device_method_event {
    const uint8_t *payload;
    size_t payload_len;
    const char *name;
    size_t name_len;
    const char *request_id;
    size_t request_id_len;
} hk_device_method_event;

/* HK_DEVICE_EVENT_SENT: the telemetry message named id is finished.
 * result HK_OK = acknowledged by the hub; HK_ERR_CLOSED = dropped
 * unacknowledged when the device moved to another hub. The payload memory
 * is free again. */
typedef struct hk_device_sent_event {
    uint32_t id;
    hk_result result;
} hk_device_sent_event;

/* One event: type says which member of the union is set. Pointers are
 * valid only during the callback. The five hub message kinds (c2d,
 * desired, twin, reported, method) all begin with payload and payload_len,
 * and a twin answer's members are the first of a reported answer's. */
typedef struct hk_device_event {
    hk_device_event_type type;
    hk_device_state state; /* the flow's state when the event is delivered */
    uint32_t elapsed_ms;   /* since hk_device_init */
    union {
        hk_device_state_event change;
        hk_device_dps_response_event dps_response;
        hk_device_assigned_event assigned;
        hk_device_c2d_event c2d;
        hk_device_desired_event desired;
        hk_device_twin_event twin;
        hk_device_reported_event reported;
        hk_device_method_event method;
        hk_device_sent_event sent;
    };
} hk_device_event;

typedef void (*hk_device_event_fn)(void *ctx, const hk_device_event *event);

/* Timing policy; every zero field takes the HK_DEVICE_* default above. */
typedef struct hk_device_policy {
    uint32_t dps_deadline_ms;
    uint32_t dps_response_timeout_ms;
    uint32_t reprovision_interval_ms;
    uint32_t hub_fallback_ms;
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
    uint32_t reconnect_jitter_ms; /* at most reconnect_max_ms */
    uint32_t connect_timeout_ms;
    uint16_t keep_alive_s;
} hk_device_policy;

/* Configuration. Borrowed: every pointer must stay valid for the life of
 * the hk_device (the struct itself is copied). */
typedef struct hk_device_config {
    const hk_se *se;          /* required: identity, record, randomness */
    hk_device_link link;      /* required: open/poll/close/wait */
    const char *id_scope;     /* required: DPS ID scope */
    const char *dps_host;     /* NULL: HK_DPS_GLOBAL_HOST */
    uint16_t dps_port;        /* 0: 8883 */
    uint16_t hub_port;        /* 0: 8883 */
    const char *registration_payload; /* NULL: none; one JSON value sent as
                                         "payload" in the register request */
    const char *model_id;     /* NULL: none; IoT Plug and Play model id */
    bool force_provisioning;  /* register with DPS even when the record holds
                                 an assignment (the record stays until the
                                 new one is written) */
    hk_device_policy policy;
    hk_device_event_fn on_event; /* may be NULL */
    void *event_ctx;
} hk_device_config;

/* One telemetry message in flight (private). */
typedef struct hk_device_sending {
    uint32_t id;
    uint16_t packet_id;
    bool used;
    char topic[HK_DEVICE_TOPIC_MAX];
} hk_device_sending;

/* All state and buffers. Caller-owned; must not move after hk_device_init
 * (the MQTT engine keeps pointers into it). About 17 KiB on a 32-bit
 * target with the default sizes. */
typedef struct hk_device {
    /* The flags and counters come first: small offsets keep the code that
     * touches them short on 32-bit targets. */
    struct hk_device_internal {
        uint8_t state;
        uint8_t wait_next;
        bool has_record;   /* hub/device_id hold a record read from the chip */
        bool assigned;     /* hub/device_id hold a fresh DPS assignment */
        bool link_open;
        bool link_ready;
        bool connack;
        bool dps_done_once;
        bool hub_failing;
        bool stop_requested;
        bool reprovision_requested;
        bool force_dps;
        bool same_as_record; /* the fresh assignment equals the record */
        bool session_up;     /* READY was reached on the current connection */
        bool kick;           /* bytes queued outside step: step again now */
        bool in_step;
        bool dps_fed;        /* a DPS response was consumed by the machine */
        uint8_t refusals;    /* DPS connections refused in a row with refused_with */
        uint32_t now_ms;
        uint32_t start_ms;
        uint32_t state_since_ms;
        uint32_t wait_until_ms;
        uint32_t link_since_ms;
        uint32_t dps_round_start_ms;
        uint32_t last_dps_ms;
        uint32_t hub_fail_since_ms;
        uint32_t ready_since_ms;
        uint32_t rng;
        uint32_t next_id;
        uint32_t twin_get_id;
        uint32_t dps_attempt;
        uint32_t dps_round_attempt;
        uint32_t hub_attempt;
        uint32_t se_attempt;
        uint32_t visited; /* bit per state entered since the last run() began */
        hk_result fatal;
        hk_result session_error;
        hk_result refused_with;
        hk_mqtt_event_fn mqtt_event; /* the MQTT engine's event handler */
        size_t trust_len; /* with the NUL; 0 = no bundle */
        size_t trust_count;
        hk_device_config cfg; /* policy: zeros replaced by the defaults */
        hk_dps_client dps_client; /* points at registration_id */
        hk_hub_client hub_client; /* points at hub and device_id */
        hk_record_cache rec_cache; /* from the RECORD read, for RECORD_WRITE */
        char registration_id[HK_DPS_DEVICE_ID_MAX + 1];
        char hub[HK_DPS_HUB_MAX + 1];
        char device_id[HK_DPS_DEVICE_ID_MAX + 1];
        hk_device_sending sending[HK_MQTT_MAX_INFLIGHT];
        char c2d_filter[HK_DPS_DEVICE_ID_MAX + 40];
        char username[HK_DEVICE_USERNAME_MAX];
        char topic[HK_DEVICE_TOPIC_MAX];
        char body[HK_DEVICE_BODY_MAX];
        hk_mqtt_client mqtt;
        hk_dps_machine dps;
        hk_dps_response response;
        hk_json_token tokens[HK_DPS_JSON_TOKENS];
        uint8_t tx[HK_DEVICE_MQTT_TX_SIZE];
        uint8_t rx[HK_DEVICE_MQTT_RX_SIZE];
        char trust[HK_DEVICE_TRUST_BUNDLE_MAX];
    } _internal;
} hk_device;

/* ---- Life cycle ------------------------------------------------------------ */

/* Prepare the flow at now_ms (state IDENTITY). Checks the configuration:
 * HK_ERR_INVALID_ARG for a missing se, link function or id_scope (dev
 * untouched), a jitter above the reconnect maximum, a min above a max, a
 * span beyond the limits or a registration payload longer than
 * HK_DEVICE_PAYLOAD_MAX (dev then in state FAILED). No I/O. */
HK_NODISCARD
hk_result hk_device_init(hk_device *dev, const hk_device_config *config, uint32_t now_ms);

/*
 * One step at now_ms: does whatever is due (secure-element reads and the
 * record write, link open and set-up, MQTT traffic, timers) and sets
 * *out_next_deadline_ms to when step must run again at the latest if the
 * connection shows no activity; call it earlier when the connection has
 * bytes to read (or room to write after a short write). Never waits for a
 * network peer: connections are started and then completed over later
 * steps. What may take time inside a step: the chip's commands (each
 * bounded by its maximum execution time) and, where the port's resolver
 * is synchronous, a name lookup.
 * Returns HK_OK, or the permanent failure once FAILED (e.g.
 * HK_ERR_CERT_PARSE: the device certificate has no usable CN). Connection
 * and cloud errors never come back here: they are events and retries.
 */
HK_NODISCARD
hk_result hk_device_step(hk_device *dev, uint32_t now_ms, uint32_t *out_next_deadline_ms);

/*
 * Blocking loop: step, then platform->wait via the link until the next
 * deadline, until the flow has entered state `until` (at any time since
 * this call began; e.g. HK_DEVICE_STATE_READY, or HK_DEVICE_STATE_HUB_CONNECT
 * for "the device knows its hub"), hk_device_stop() was called, or
 * timeout_ms passed (0 = no limit). HK_OK when `until` was reached or the
 * device was stopped; HK_ERR_TIMEOUT; or step's permanent failure.
 * platform needs monotonic_ms only (waiting goes through the link).
 */
HK_NODISCARD
hk_result hk_device_run(hk_device *dev, const hk_platform *platform, hk_device_state until,
                        uint32_t timeout_ms);

/* Disconnect (MQTT DISCONNECT, link closed) and stay STOPPED. */
HK_NODISCARD
hk_result hk_device_stop(hk_device *dev);

/* Register with DPS again now (an explicit request, e.g. from an operator:
 * not subject to the reprovision interval, but it restarts it). */
HK_NODISCARD
hk_result hk_device_reprovision(hk_device *dev);

/* ---- Hub session ------------------------------------------------------------ */

/* Send telemetry at QoS 1; *out_id names it in the SENT event. Accepted in
 * HUB_SESSION and READY (HK_ERR_STATE otherwise): in HUB_SESSION the message
 * is queued behind CONNECT and the SUBSCRIBEs and goes out before CONNACK
 * (MQTT 3.1.1 allows it), so the first message costs no round trip of its
 * own. Every accepted message gets exactly one SENT event: HK_OK when the
 * hub acknowledged it; HK_ERR_CLOSED when it was dropped unacknowledged
 * because the device moved to another hub or provisions again. A message
 * whose connection ends first (a cut, or a CONNACK that refuses the
 * identity) stays in flight and is resent with DUP on the next connection
 * to the same hub. The payload memory must stay unchanged until the SENT
 * event (it is resent as is after a reconnect). props may be NULL.
 * HK_ERR_FULL when HK_MQTT_MAX_INFLIGHT messages are in flight or the tx
 * buffer has no room right now; HK_ERR_BUFFER_TOO_SMALL when the topic or
 * the message can never fit. */
HK_NODISCARD
hk_result hk_device_telemetry_send(hk_device *dev, const uint8_t *payload, size_t payload_len,
                                   const hk_hub_telemetry_properties *props, uint32_t *out_id);

/* The twin and method calls below: state READY, else HK_ERR_STATE. */

/* Ask for the whole twin (answer: TWIN event with *out_id). */
HK_NODISCARD
hk_result hk_device_twin_get(hk_device *dev, uint32_t *out_id);

/* Patch reported properties with a JSON object (copied; answer: REPORTED
 * event with *out_id). */
HK_NODISCARD
hk_result hk_device_twin_report(hk_device *dev, const char *json, size_t json_len,
                                uint32_t *out_id);

/* Answer a direct method: request_id from the METHOD event, status (e.g.
 * 200), a JSON payload (copied; may be empty). */
HK_NODISCARD
hk_result hk_device_method_respond(hk_device *dev, const char *request_id, size_t request_id_len,
                                   unsigned status, const char *json, size_t json_len);

/* ---- Inspection ------------------------------------------------------------- */

hk_device_state hk_device_state_get(const hk_device *dev);

/* The registration ID (after IDENTITY): NUL-terminated, inside dev. */
HK_NODISCARD
hk_result hk_device_registration_id_get(const hk_device *dev, const char **out_id);

/* The hub host name and device ID in use (from the record or DPS), valid
 * as long as dev; HK_ERR_DEVICE_NOT_ASSIGNED before there is one. */
HK_NODISCARD
hk_result hk_device_assignment_get(const hk_device *dev, const char **out_hub,
                               const char **out_device_id);

/*
 * The subject CN of a DER X.509 certificate, copied to out with a NUL
 * (*out_len without it). Accepts a certificate such as
 *   30 82 01 b2 30 82 01 58 a0 03 02 01 02 02 10 ... (serial) 30 0a 06 08
 *   2a 86 48 ce 3d 04 03 02 (ecdsa-with-SHA256) 30 .. (issuer) 30 1e ..
 *   (validity) 30 1a 31 18 30 16 06 03 55 04 03 0c 0f "sn0123a1b2c3d4e5"...
 * and takes the CN (OID 2.5.4.3) as UTF8String, PrintableString,
 * IA5String or TeletexString. HK_ERR_CERT_PARSE for malformed DER, a
 * subject with more than one CN, or a CN with bytes outside 0x20..0x7E;
 * HK_ERR_NOT_FOUND when the subject has no CN; HK_ERR_BUFFER_TOO_SMALL
 * when the CN and its NUL do not fit (nothing useful in out then).
 * Never reads outside der[0..len).
 */
HK_NODISCARD
hk_result hk_device_cert_cn_get(const uint8_t *der, size_t len, char *out, size_t cap,
                            size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_DEVICE_H */
