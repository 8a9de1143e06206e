/*
 * hk_platform for ESP-IDF: ports/lwip-sockets with ESP-IDF's clock and
 * sleep, wall time from SNTP, and hubkey's log over ESP-IDF's log. The
 * contract is hubkey/platform.h; the choices are in hk_esp_idf.h.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "esp_err.h"
#include "esp_log.h"
#include "esp_netif_sntp.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "hk_esp_idf.h"
#include "hubkey/log.h"
#include "sdkconfig.h"

/* Port state (a port may hold global state): set by SNTP's callback, which
 * runs in lwIP's task, read by the application's task. */
static atomic_bool hk_esp_synced;

static void on_sntp_sync(struct timeval *tv)
{
    (void)tv;
    atomic_store(&hk_esp_synced, true);
}

hk_result hk_esp_sntp_start(const char *server)
{
    esp_sntp_config_t cfg =
        ESP_NETIF_SNTP_DEFAULT_CONFIG(server != NULL ? server : CONFIG_HUBKEY_SNTP_SERVER);
    cfg.sync_cb = on_sntp_sync;
    return esp_netif_sntp_init(&cfg) == ESP_OK ? HK_OK : HK_ERR_IO;
}

bool hk_esp_time_known(void)
{
    return atomic_load(&hk_esp_synced);
}

hk_result hk_esp_sntp_wait(uint32_t timeout_ms)
{
    if (hk_esp_time_known())
        return HK_OK;
    return esp_netif_sntp_sync_wait(pdMS_TO_TICKS(timeout_ms)) == ESP_OK ? HK_OK : HK_ERR_TIMEOUT;
}

/* esp_timer counts microseconds since boot in 64 bits; the platform's clock
 * is its milliseconds modulo 2^32 (hubkey compares by difference). */
static uint32_t esp_now_ms(void *ctx)
{
    (void)ctx;
    return (uint32_t)((uint64_t)esp_timer_get_time() / 1000u);
}

static int64_t esp_wall_s(void *ctx)
{
    (void)ctx;
    if (!hk_esp_time_known())
        return HK_PLATFORM_TIME_UNKNOWN;
    return (int64_t)time(NULL);
}

/* vTaskDelay(n) may end just after n - 1 tick periods: one tick more than
 * the rounded-up count keeps the sleep at least ms long. */
static void esp_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    if (ms == 0) {
        taskYIELD();
        return;
    }
    const uint32_t tick_ms = 1000u / (uint32_t)configTICK_RATE_HZ;
    const uint32_t per = tick_ms > 0 ? tick_ms : 1u;
    vTaskDelay((TickType_t)((ms + per - 1u) / per + 1u));
}

hk_result hk_esp_platform_init(hk_lwip_sockets *port, hk_platform *out)
{
    hk_lwip_sockets_config cfg = {
        .ctx = NULL, .now_ms = esp_now_ms, .wall_s = esp_wall_s, .sleep_ms = esp_sleep_ms};
    return hk_lwip_sockets_init(port, &cfg, out);
}

#if HK_LOG_LEVEL > 0
/* hubkey's log (hubkey/log.h) through ESP-IDF's, one tag per module. */
void hk_log_write(int level, const char *module, const char *fmt, ...)
{
    static const esp_log_level_t levels[] = {ESP_LOG_NONE, ESP_LOG_ERROR, ESP_LOG_WARN,
                                             ESP_LOG_INFO, ESP_LOG_DEBUG};
    esp_log_level_t l = level >= 1 && level <= 4 ? levels[level] : ESP_LOG_DEBUG;
    va_list ap;
    va_start(ap, fmt);
    esp_log_writev(l, module, fmt, ap);
    va_end(ap);
    esp_log_write(l, module, "\n");
}
#endif
