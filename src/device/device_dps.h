/*
 * The DPS round (private to src/device): one registration machine per
 * round, resumed over every connection of the round; the connection to
 * DPS, the register and poll requests, the responses (DPS_RESPONSE and
 * ASSIGNED events). Each step returns what happened as an outcome
 * (hk_device_outcome); the policy (device.c) decides what follows: retry,
 * backoff, the hub, FAILED.
 */
#ifndef HK_DEVICE_DPS_H
#define HK_DEVICE_DPS_H

#include "device_core.h"

/* DPS backoff: 1 s doubling to 60 s plus up to 1 s of jitter, for the
 * round machine's retries and for reopening a cut connection (policy). */
#define HK_DEVICE_DPS_BACKOFF_MIN_MS 1000u
#define HK_DEVICE_DPS_BACKOFF_MAX_MS 60000u
#define HK_DEVICE_DPS_JITTER_MS 1000u

/* A fresh registration machine for a round starting now (the round's
 * deadline: policy.dps_deadline_ms). */
void hk_device_dps_round_init_(hk_device *dev);

/* DPS_CONNECT: open (first call) and advance the connection; once it is
 * up, queue CONNECT and SUBSCRIBE and resume the round's machine (its next
 * request goes out in the same flight). PENDING, CONNECTED, REFUSED,
 * CONNECTION_LOST or UNUSABLE (hk_device_outcome, device_core.h). */
hk_device_outcome hk_device_dps_connect_(hk_device *dev, uint32_t *dl, hk_result *out_why);

/* DPS_REGISTER: send what the machine asks for and move the bytes.
 * PENDING, ASSIGNED (hub, device_id and the trust bundle taken), REFUSED,
 * CONNECTION_LOST or FAILED. */
hk_device_outcome hk_device_dps_register_(hk_device *dev, uint32_t *dl, hk_result *out_why);

/* An MQTT PUBLISH that arrived during DPS_REGISTER. */
void hk_device_dps_publish_(hk_device *dev, const hk_mqtt_publish *p);

#endif /* HK_DEVICE_DPS_H */
