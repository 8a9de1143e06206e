/*
 * The firmware application (app.h). Every reaction to the cloud is here:
 * the boot flow (hk_device) does the protocol work, this file decides what
 * the product says and logs.
 */
#include <string.h>

#include "app.h"
#include "hubkey/hub.h"

#define LOG(a, ...)                                \
    do {                                           \
        if ((a)->settings->log != NULL)            \
            (a)->settings->log(__VA_ARGS__);       \
    } while (0)

static bool reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void on_event(void *ctx, const hk_device_event *ev)
{
    fw_app *a = ctx;
    uint32_t id;
    switch (ev->type) {
    case HK_DEVICE_EVENT_STATE:
        if (ev->change.result != HK_OK)
            LOG(a, "[%6u ms] %s -> %s: %s\n", (unsigned)ev->elapsed_ms,
                hk_device_state_name(ev->change.previous), hk_device_state_name(ev->state),
                hk_result_name(ev->change.result));
        else
            LOG(a, "[%6u ms] %s -> %s\n", (unsigned)ev->elapsed_ms,
                hk_device_state_name(ev->change.previous), hk_device_state_name(ev->state));
        if (ev->state == HK_DEVICE_STATE_WAIT)
            LOG(a, "           waiting %u ms, then %s\n", (unsigned)ev->change.wait_ms,
                hk_device_state_name(ev->change.next_state));
        if (ev->state == HK_DEVICE_STATE_DPS_CONNECT)
            a->cold = true;
        break;
    case HK_DEVICE_EVENT_DPS_RESPONSE:
        LOG(a, "dps: status %u, retry after %u s\n", ev->dps_response.status,
            (unsigned)ev->dps_response.retry_after_s);
        break;
    case HK_DEVICE_EVENT_ASSIGNED:
        a->registrations++;
        LOG(a, "dps: assigned to %s as %s\n", ev->assigned.hub, ev->assigned.device_id);
        break;
    case HK_DEVICE_EVENT_DESIRED: {
        /* Acknowledge the version of the desired properties. */
        static const char reported[] = "{\"interval\":{\"ac\":200,\"av\":1}}";
        LOG(a, "twin: desired update, version %u\n", (unsigned)ev->desired.version);
        if (hk_device_twin_report(&a->dev, reported, sizeof reported - 1, &id) != HK_OK)
            LOG(a, "twin: report not sent\n");
        break;
    }
    case HK_DEVICE_EVENT_TWIN:
        LOG(a, "twin: document, status %u, %u bytes\n", ev->twin.status,
            (unsigned)ev->twin.payload_len);
        break;
    case HK_DEVICE_EVENT_REPORTED:
        LOG(a, "twin: reported, status %u\n", ev->reported.status);
        break;
    case HK_DEVICE_EVENT_METHOD: {
        static const char answer[] = "{\"ok\":true}";
        LOG(a, "method: %.*s\n", (int)ev->method.name_len, ev->method.name);
        if (hk_device_method_respond(&a->dev, ev->method.request_id, ev->method.request_id_len,
                                     200, answer, sizeof answer - 1) != HK_OK)
            LOG(a, "method: answer not sent\n");
        break;
    }
    case HK_DEVICE_EVENT_C2D: {
        const char *value;
        size_t value_len, len = 0;
        a->text[0] = '\0';
        if (hk_hub_properties_find(ev->c2d.properties, ev->c2d.properties_len, "cmd", &value,
                                   &value_len) == HK_OK &&
            hk_hub_url_decode(value, value_len, a->text, sizeof a->text - 1, &len) == HK_OK)
            a->text[len] = '\0';
        LOG(a, "c2d: %u bytes, cmd=%s\n", (unsigned)ev->c2d.payload_len, a->text);
        break;
    }
    case HK_DEVICE_EVENT_SENT:
        if (ev->sent.result == HK_OK) {
            a->acked++;
            if (a->acked == 1 && a->settings->on_first_ack != NULL)
                a->settings->on_first_ack(a->settings->ctx);
        } else if (a->sent > a->acked) {
            a->sent--; /* dropped with its connection: send it again */
        }
        LOG(a, "telemetry: message %u %s\n", (unsigned)ev->sent.id,
            ev->sent.result == HK_OK ? "acknowledged" : hk_result_name(ev->sent.result));
        break;
    default:
        break;
    }
}

/* true when a message was queued: the flow must step again at once to send
 * it (hk_device_telemetry_send only queues outside a step). */
static bool send_due(fw_app *a, uint32_t now)
{
    static const char reading[] = "{\"temperature\":21.5}";
    static const hk_hub_property app_props[] = {{"sensor", "t0"}};
    const fw_app_settings *s = a->settings;
    if (hk_device_state_get(&a->dev) != HK_DEVICE_STATE_READY || !reached(now, a->next_ms))
        return false;
    if (s->telemetry != 0 && a->sent >= s->telemetry)
        return false;
    hk_hub_telemetry_properties props;
    memset(&props, 0, sizeof props);
    props.content_type = "application/json";
    props.content_encoding = "utf-8";
    props.app = app_props;
    props.app_count = sizeof app_props / sizeof app_props[0];
    uint32_t id;
    hk_result r = hk_device_telemetry_send(&a->dev, (const uint8_t *)reading, sizeof reading - 1,
                                           &props, &id);
    if (r == HK_OK) {
        a->sent++;
        LOG(a, "telemetry: message %u queued\n", (unsigned)id);
    } else {
        LOG(a, "telemetry: not queued: %s, again in %u ms\n", hk_result_name(r),
            (unsigned)s->interval_ms);
    }
    a->next_ms = now + s->interval_ms;
    return r == HK_OK;
}

hk_result fw_app_run(fw_app *app, const fw_app_settings *settings, const hk_se *se,
                     hk_device_link link, const hk_platform *platform, bool forever)
{
    if (app == NULL || settings == NULL || se == NULL || platform == NULL ||
        platform->monotonic_ms == NULL || settings->id_scope == NULL)
        return HK_ERR_INVALID_ARG;
    app->settings = settings;
    app->cold = false;
    app->registrations = app->sent = app->acked = 0;
    hk_device_config config;
    memset(&config, 0, sizeof config);
    config.se = se;
    config.link = link;
    config.id_scope = settings->id_scope;
    config.dps_host = settings->dps_host;
    config.dps_port = settings->port;
    config.hub_port = settings->port;
    config.force_provisioning = settings->force;
    config.policy = settings->policy;
    config.on_event = on_event;
    config.event_ctx = app;
    uint32_t now = platform->monotonic_ms(platform->ctx);
    app->next_ms = now;
    hk_result r = hk_device_init(&app->dev, &config, now);
    if (r != HK_OK)
        return r;
    for (;;) {
        uint32_t deadline = 0;
        now = platform->monotonic_ms(platform->ctx);
        r = hk_device_step(&app->dev, now, &deadline);
        if (r != HK_OK)
            return r;
        if (send_due(app, now))
            continue;
        if (!forever && settings->telemetry != 0 && app->acked >= settings->telemetry) {
            r = hk_device_stop(&app->dev);
            if (r == HK_OK)
                r = hk_device_step(&app->dev, now, &deadline);
            return r;
        }
        if (hk_device_state_get(&app->dev) == HK_DEVICE_STATE_READY &&
            (settings->telemetry == 0 || app->sent < settings->telemetry) &&
            !reached(app->next_ms, deadline))
            deadline = app->next_ms;
        now = platform->monotonic_ms(platform->ctx);
        if (!reached(now, deadline))
            link.wait(link.ctx, deadline - now);
    }
}
