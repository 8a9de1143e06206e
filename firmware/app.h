/*
 * hubkey firmware — the application: what a product's firmware does with
 * hubkey once it has a chip, a network and a clock. The QEMU firmware
 * (firmware/main.c) runs it; make size links the same code into its
 * device-stack and firmware images (size/driver_device.c), so the image that
 * is measured is the image that runs.
 *
 *   identity -> record -> DPS -> record write -> hub -> telemetry
 *
 * The application's part of a session: telemetry with properties every
 * interval, reported properties acknowledging each desired update, an
 * answer to every direct method, the properties of each cloud-to-device
 * message read. Every event is logged through settings.log.
 */
#ifndef HUBKEY_FW_APP_H
#define HUBKEY_FW_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/device.h"
#include "hubkey/i2c.h"
#include "hubkey/platform.h"
#include "hubkey/result.h"
#include "hubkey/se.h"

typedef struct fw_app_settings {
    const char *id_scope;  /* required */
    const char *dps_host;  /* NULL: the global DPS endpoint */
    uint16_t port;         /* DPS and hub; 0 = 8883 */
    bool force;            /* register with DPS even with a record */
    uint32_t telemetry;    /* messages, then return (0 = forever) */
    uint32_t interval_ms;  /* between messages */
    hk_device_policy policy;
    /* printf-like, one line per call; NULL = silent */
    void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
    /* called once, when the first message is acknowledged; may be NULL */
    void (*on_first_ack)(void *ctx);
    void *ctx;
} fw_app_settings;

/* Caller-owned, static in a firmware; must not move while running. */
typedef struct fw_app {
    hk_i2c i2c;            /* the chip's bus, for main's convenience */
    hk_device dev;
    const fw_app_settings *settings;
    bool cold;             /* this boot registered with DPS */
    uint32_t registrations;/* DPS assignments this boot */
    uint32_t sent;         /* messages handed to the flow */
    uint32_t acked;        /* messages acknowledged by the hub */
    uint32_t next_ms;      /* when the next message is due */
    char text[64];         /* a decoded C2D property */
} fw_app;

/* Run the flow over link (hk_device_tls_link or a board's own) until the
 * settings' telemetry count is acknowledged (forever == false), or forever.
 * Returns HK_OK when done, the flow's permanent failure, or an error of the
 * set-up (HK_ERR_INVALID_ARG for bad settings). */
HK_NODISCARD hk_result fw_app_run(fw_app *app, const fw_app_settings *settings, const hk_se *se,
                                  hk_device_link link, const hk_platform *platform, bool forever);

#endif /* HUBKEY_FW_APP_H */
