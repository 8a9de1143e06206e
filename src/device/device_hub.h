/*
 * The hub session (private to src/device): the connection to the assigned
 * hub, its MQTT session (CONNECT, the four SUBSCRIBEs, CONNACK), what the
 * hub sends (C2D, desired updates, twin answers, method requests: events;
 * device_hub.c) and what the application sends (telemetry, twin requests,
 * method answers; device_hub_send.c). Each step returns what happened as an
 * outcome (hk_device_outcome); the policy (device.c) decides what follows
 * a refusal or a lost connection.
 */
#ifndef HK_DEVICE_HUB_H
#define HK_DEVICE_HUB_H

#include "device_core.h"

/* HUB_CONNECT: open (first call) and advance the connection to the
 * assigned hub (with the DPS trust bundle when one was kept); once it is
 * up, queue CONNECT and the four SUBSCRIBEs (C2D, twin responses, desired
 * updates, methods). PENDING, CONNECTED, REFUSED, CONNECTION_LOST or
 * UNUSABLE (hk_device_outcome, device_core.h; *out_why names the cause of
 * the last three). */
hk_device_outcome hk_device_hub_connect_(hk_device *dev, uint32_t *dl, hk_result *out_why);

/* HUB_SESSION and READY: move the bytes. PENDING, READY (in HUB_SESSION,
 * once CONNACK came; the twin GET is queued), REFUSED (a CONNACK refusing
 * the identity) or CONNECTION_LOST (a cut, a refused SUBSCRIBE). */
hk_device_outcome hk_device_hub_session_(hk_device *dev, uint32_t *dl, hk_result *out_why);

/* An MQTT PUBLISH that arrived in HUB_SESSION or READY: an event for the
 * application (topics the device does not know are ignored). */
void hk_device_hub_publish_(hk_device *dev, const hk_mqtt_publish *p);

/* A twin request with a fresh request id: GET (json NULL) or a reported
 * patch (json[0..json_len)). *out_id (may be NULL) names it in the answer's
 * event. */
HK_NODISCARD hk_result hk_device_twin_request_(hk_device_in *I, const char *json, size_t json_len,
                                               uint32_t *out_id);

#endif /* HK_DEVICE_HUB_H */
