/*
 * The boot flow's shared mechanics (private to src/device): time, events
 * and state changes, backoff, the connection (link), the MQTT session
 * start and publish bookkeeping. No policy: nothing here decides where the
 * flow goes after a failure; device.c does.
 *
 * Include order in src/device (no file includes one above it):
 *
 *   device.c  ->  device_dps.h, device_hub.h  ->  device_core.h  ->  hubkey/device.h
 *   device_dps.c, device_hub.c, device_hub_send.c and device_core.c include
 *   their own header only (the first three get device_core.h through it).
 *
 * Functions here are shared between the files of src/device and are not
 * API: their names end in '_' (docs/architecture.md, Naming).
 */
#ifndef HK_DEVICE_CORE_H
#define HK_DEVICE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/device.h"
#include "hubkey/mqtt.h"
#include "hubkey/result.h"

/* A deadline "far away" (no timer due), and the longest span a time
 * comparison accepts. */
#define HK_DEVICE_FAR_MS 0x40000000u
#define HK_DEVICE_SPAN_MAX 0x7fffffffu

typedef struct hk_device_internal hk_device_in;

/* True when now is at or after t (a wrapping clock; spans below 2^31). */
static inline bool hk_device_reached_(uint32_t now, uint32_t t)
{
    return (uint32_t)(now - t) <= HK_DEVICE_SPAN_MAX;
}

/* Lower the deadline *dl to time t if t comes first (t in the past counts
 * as now). */
void hk_device_deadline_lower_(const hk_device_in *I, uint32_t *dl, uint32_t t);

/* The next value of the flow's xorshift generator (seeded at IDENTITY). */
uint32_t hk_device_random_next_(hk_device_in *I);

/* A fresh non-zero id for a telemetry message or a twin request. */
uint32_t hk_device_id_next_(hk_device_in *I);

/* ---- results ------------------------------------------------------------------ */

/* The server refused the identity: CONNACK 0x02..0x05 or a TLS alert
 * refusing the client certificate. */
bool hk_device_result_is_refusal_(hk_result r);
/* The secure element did not answer properly (worth a retry). */
bool hk_device_result_is_se_(hk_result r);
/* The identity cannot be presented (certificates that cannot be rebuilt
 * or do not parse): no retry changes that. */
bool hk_device_result_is_identity_(hk_result r);

/* ---- events and state changes ----------------------------------------------------- */

/* Deliver ev, which the caller zeroed and filled (state and elapsed_ms are
 * set here). */
void hk_device_event_emit_(hk_device *dev, hk_device_event *ev);

/* Enter state st (why: the error that caused it, HK_OK otherwise); a STATE
 * event tells the application. */
void hk_device_state_set_(hk_device *dev, hk_device_state st, hk_result why);

/* Enter WAIT for delay_ms, then go to next. */
void hk_device_wait_then_(hk_device *dev, uint32_t delay_ms, hk_device_state next, hk_result why);

/* Wait for the backoff of *attempt (counted up to 32), then go to next. */
void hk_device_backoff_then_(hk_device *dev, uint32_t *attempt, uint32_t min_ms, uint32_t max_ms,
                             uint32_t jitter_ms, hk_device_state next, hk_result why);

/* ---- outcomes ------------------------------------------------------------------------ */

/* What a step of the DPS round (device_dps.h) or of the hub session
 * (device_hub.h) returns: what happened, not what to do about it. The
 * policy (device.c) decides what follows. Each step lists the values it
 * returns; a result (*out_why) names the cause of the last four. */
typedef enum hk_device_outcome {
    /* Nothing decided yet: step again by the deadline. */
    HK_DEVICE_OUTCOME_PENDING = 0,
    /* The connection is up; the MQTT session (CONNECT, SUBSCRIBE) is queued. */
    HK_DEVICE_OUTCOME_CONNECTED,
    /* The hub accepted the session (CONNACK). */
    HK_DEVICE_OUTCOME_READY,
    /* DPS assigned the device; connection closed. */
    HK_DEVICE_OUTCOME_ASSIGNED,
    /* The server refused the identity (a TLS alert refusing the client
     * certificate, CONNACK 0x02..0x05); closed. */
    HK_DEVICE_OUTCOME_REFUSED,
    /* The connection failed, timed out or was cut; closed. */
    HK_DEVICE_OUTCOME_CONNECTION_LOST,
    /* DPS: the registration ended without an assignment (DPS said so, the
     * deadline, a request that cannot be built); closed. */
    HK_DEVICE_OUTCOME_FAILED,
    /* The identity cannot be presented: no connection ever will; closed. */
    HK_DEVICE_OUTCOME_UNUSABLE,
} hk_device_outcome;

/* ---- the connection ------------------------------------------------------------------ */

/* Open the link to host:port (first call; trust_len != 0 hands it the kept
 * trust bundle) and advance its set-up (until policy.connect_timeout_ms).
 * PENDING (*dl lowered to the timeout), CONNECTED (*out_t is the byte
 * stream), or the link closed: REFUSED, CONNECTION_LOST, UNUSABLE. */
hk_device_outcome hk_device_link_connect_(hk_device *dev, const char *host, uint16_t port,
                                          size_t trust_len, uint32_t *dl, hk_transport *out_t,
                                          hk_result *out_why);

/* The connection ended with why: closed; REFUSED when why refuses the
 * identity, else CONNECTION_LOST. */
hk_device_outcome hk_device_link_end_(hk_device *dev, hk_result why, hk_result *out_why);

/* Close the link (graceful: MQTT DISCONNECT first when a session runs).
 * Safe when nothing is open. */
void hk_device_link_close_(hk_device *dev, bool graceful);

/* ---- MQTT ---------------------------------------------------------------------------------- */

/* Set up the MQTT engine over the device's buffers; its events go to
 * on_event (kept for a reset, see hk_device_mqtt_start_). */
HK_NODISCARD hk_result hk_device_mqtt_init_(hk_device *dev, hk_mqtt_event_fn on_event);

/* Start an MQTT session over t: CONNECT with client_id and
 * I->username[0..username_len), then SUBSCRIBE to subs[0..n), queued
 * together. A session stuck flushing a DISCONNECT is reset (its messages
 * in flight end with SENT HK_ERR_CLOSED). */
HK_NODISCARD hk_result hk_device_mqtt_start_(hk_device *dev, const hk_transport *t,
                                             const char *client_id, size_t username_len,
                                             bool clean_session, const hk_mqtt_subscription *subs,
                                             size_t n);

/* Publish topic[0..topic_len) with a payload the engine copies, at qos
 * (*out_pid: the packet id at QoS 1). Step comes back at once. */
HK_NODISCARD hk_result hk_device_publish_(hk_device_in *I, const char *topic, size_t topic_len,
                                          const void *payload, size_t len, uint8_t qos,
                                          uint16_t *out_pid);

/* QoS 0 publish of topic I->topic[0..topic_len) (already built). */
HK_NODISCARD hk_result hk_device_publish0_(hk_device_in *I, size_t topic_len, const void *payload,
                                           size_t len);

/* Telemetry finished with result: the message of packet *pid (its PUBACK),
 * or with pid NULL every message in flight (dropped). One SENT event each. */
void hk_device_sent_finish_(hk_device *dev, const uint16_t *pid, hk_result result);

#endif /* HK_DEVICE_CORE_H */
