/*
 * The example's application (app.h). The boot flow (hk_device) does the
 * protocol work; this file decides what the product says and logs.
 */
#include <string.h>

#include "app.h"
#include "esp_log.h"
#include "hubkey/hub.h"

static const char *const TAG = "app";

static bool reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void on_event(void *ctx, const hk_device_event *ev)
{
    example_app *a = ctx;
    uint32_t id;
    switch (ev->type) {
    case HK_DEVICE_EVENT_STATE:
        if (ev->change.result != HK_OK)
            ESP_LOGW(TAG, "%s -> %s: %s", hk_device_state_name(ev->change.previous),
                     hk_device_state_name(ev->state), hk_result_name(ev->change.result));
        else
            ESP_LOGI(TAG, "%s -> %s", hk_device_state_name(ev->change.previous),
                     hk_device_state_name(ev->state));
        if (ev->state == HK_DEVICE_STATE_WAIT)
            ESP_LOGI(TAG, "waiting %u ms, then %s", (unsigned)ev->change.wait_ms,
                     hk_device_state_name(ev->change.next_state));
        break;
    case HK_DEVICE_EVENT_DPS_RESPONSE:
        ESP_LOGI(TAG, "dps: status %u, retry after %u s", ev->dps_response.status,
                 (unsigned)ev->dps_response.retry_after_s);
        break;
    case HK_DEVICE_EVENT_ASSIGNED:
        ESP_LOGI(TAG, "dps: assigned to %s as %s", ev->assigned.hub, ev->assigned.device_id);
        break;
    case HK_DEVICE_EVENT_DESIRED: {
        /* Acknowledge the version of the desired properties. */
        static const char reported[] = "{\"interval\":{\"ac\":200,\"av\":1}}";
        ESP_LOGI(TAG, "twin: desired update, version %u", (unsigned)ev->desired.version);
        if (hk_device_twin_report(&a->dev, reported, sizeof reported - 1, &id) != HK_OK)
            ESP_LOGW(TAG, "twin: report not sent");
        break;
    }
    case HK_DEVICE_EVENT_TWIN:
        ESP_LOGI(TAG, "twin: document, status %u, %u bytes", ev->twin.status,
                 (unsigned)ev->twin.payload_len);
        break;
    case HK_DEVICE_EVENT_REPORTED:
        ESP_LOGI(TAG, "twin: reported, status %u", ev->reported.status);
        break;
    case HK_DEVICE_EVENT_METHOD: {
        static const char answer[] = "{\"ok\":true}";
        ESP_LOGI(TAG, "method: %.*s", (int)ev->method.name_len, ev->method.name);
        if (hk_device_method_respond(&a->dev, ev->method.request_id, ev->method.request_id_len,
                                     200, answer, sizeof answer - 1) != HK_OK)
            ESP_LOGW(TAG, "method: answer not sent");
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
        ESP_LOGI(TAG, "c2d: %u bytes, cmd=%s", (unsigned)ev->c2d.payload_len, a->text);
        break;
    }
    case HK_DEVICE_EVENT_SENT:
        if (ev->sent.result == HK_OK)
            a->acked++;
        ESP_LOGI(TAG, "telemetry: message %u %s", (unsigned)ev->sent.id,
                 ev->sent.result == HK_OK ? "acknowledged" : hk_result_name(ev->sent.result));
        break;
    default:
        break;
    }
}

static void send_due(example_app *a, uint32_t now)
{
    static const char reading[] = "{\"temperature\":21.5}";
    static const hk_hub_property app_props[] = {{"sensor", "t0"}};
    if (hk_device_state_get(&a->dev) != HK_DEVICE_STATE_READY || !reached(now, a->next_ms))
        return;
    hk_hub_telemetry_properties props;
    memset(&props, 0, sizeof props);
    props.content_type = "application/json";
    props.content_encoding = "utf-8";
    props.app = app_props;
    props.app_count = sizeof app_props / sizeof app_props[0];
    uint32_t id;
    if (hk_device_telemetry_send(&a->dev, (const uint8_t *)reading, sizeof reading - 1, &props,
                                 &id) == HK_OK) {
        a->sent++;
        a->next_ms = now + a->interval_ms;
    }
}

hk_result example_app_run(example_app *app, const hk_device_config *config,
                          const hk_platform *platform, uint32_t interval_ms)
{
    if (app == NULL || config == NULL || platform == NULL || platform->monotonic_ms == NULL)
        return HK_ERR_INVALID_ARG;
    hk_device_config c = *config;
    c.on_event = on_event;
    c.event_ctx = app;
    app->interval_ms = interval_ms;
    app->sent = app->acked = 0;
    uint32_t now = platform->monotonic_ms(platform->ctx);
    app->next_ms = now;
    hk_result r = hk_device_init(&app->dev, &c, now);
    if (r != HK_OK)
        return r;
    for (;;) {
        uint32_t deadline = 0;
        now = platform->monotonic_ms(platform->ctx);
        r = hk_device_step(&app->dev, now, &deadline);
        if (r != HK_OK)
            return r;
        send_due(app, now);
        if (hk_device_state_get(&app->dev) == HK_DEVICE_STATE_READY &&
            !reached(app->next_ms, deadline))
            deadline = app->next_ms;
        now = platform->monotonic_ms(platform->ctx);
        if (!reached(now, deadline))
            c.link.wait(c.link.ctx, deadline - now);
    }
}
