/*
 * The example's application: what a product does with hubkey once it has a
 * chip, a network and a clock (the same shape as hubkey's QEMU firmware,
 * firmware/app.c):
 *
 *   identity -> record -> DPS -> record write -> hub -> telemetry
 *
 * telemetry with properties every interval, reported properties
 * acknowledging each desired update, an answer to every direct method, the
 * properties of each cloud-to-device message read. Every event is logged.
 */
#ifndef EXAMPLE_APP_H
#define EXAMPLE_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "hubkey/cert.h"
#include "hubkey/device.h"
#include "hubkey/platform.h"
#include "hubkey/se.h"

/* The CA's certificate definitions (certdefs.c). */
extern const struct hk_cert_def *const example_certdefs_device;
extern const struct hk_cert_def *const example_certdefs_signer;

typedef struct example_app {
    hk_device dev;
    uint32_t interval_ms; /* between messages */
    uint32_t next_ms;     /* when the next message is due */
    uint32_t sent;
    uint32_t acked;
    char text[64];        /* a decoded C2D property */
} example_app;

/* Run the flow over link forever. Returns only for a set-up error or the
 * flow's permanent failure. app is large (it holds the MQTT buffers):
 * static storage, not a task's stack. */
HK_NODISCARD hk_result example_app_run(example_app *app, const hk_device_config *config,
                                       const hk_platform *platform, uint32_t interval_ms);

#endif /* EXAMPLE_APP_H */
