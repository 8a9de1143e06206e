/*
 * hubkey on an ESP32: the zero-touch flow with the key in an ATECC608A.
 *
 *   Wi-Fi        station, credentials from menuconfig (hubkey example)
 *   time         SNTP (hk_esp_sntp_start); certificates are checked against
 *                the wall clock once it answered
 *   chip         ATECC608A on I2C (hk_esp_i2c over i2c_master), prepared by
 *                hubkey-factory; hk_atecc608 + hk_se_atecc608 with the CA's
 *                certificate definitions compiled in (certdefs.c)
 *   network      hk_platform from ports/lwip-sockets (hk_esp_platform_init)
 *   TLS          hk_device_tls_link: hubkey's TLS over ESP-IDF's mbedTLS,
 *                the private key never leaves the chip; built-in Azure roots
 *   application  app.c: identity -> record -> DPS -> record write -> hub ->
 *                telemetry every CONFIG_EXAMPLE_TELEMETRY_INTERVAL_S, twin,
 *                methods, C2D
 *
 * mbedTLS allocates from ESP-IDF's heap (ESP-IDF builds it without
 * MBEDTLS_MEMORY_BUFFER_ALLOC_C, so hk_tls_arena_init is not available);
 * hubkey's own state is static.
 */
#include <string.h>

#include "app.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"
#include "hk_esp_idf.h"
#include "hubkey/atecc608.h"
#include "hubkey/device_tls.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

static const char *const TAG = "hubkey";

#define WIFI_CONNECTED_BIT BIT0
#define APP_STACK_BYTES 12288u

/* The device stack's state: one of each, in static storage. */
static EventGroupHandle_t wifi_events;
static hk_esp_i2c i2c_port;
static hk_atecc608 chip;
static hk_se_atecc608 se_ctx;
static hk_lwip_sockets net_port;
static hk_device_tls_link tls_link;
static example_app app;

static void on_wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)data;
    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        xEventGroupClearBits(wifi_events, WIFI_CONNECTED_BIT);
        esp_wifi_connect(); /* and again after every loss */
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        xEventGroupSetBits(wifi_events, WIFI_CONNECTED_BIT);
    }
}

static void start_wifi(void)
{
    wifi_events = xEventGroupCreate();
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi_event, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi_event, NULL));
    wifi_config_t wc;
    memset(&wc, 0, sizeof wc);
    strncpy((char *)wc.sta.ssid, CONFIG_EXAMPLE_WIFI_SSID, sizeof wc.sta.ssid - 1);
    strncpy((char *)wc.sta.password, CONFIG_EXAMPLE_WIFI_PASSWORD, sizeof wc.sta.password - 1);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    ESP_ERROR_CHECK(esp_wifi_start());
    ESP_LOGI(TAG, "wifi: connecting to \"%s\"", CONFIG_EXAMPLE_WIFI_SSID);
    xEventGroupWaitBits(wifi_events, WIFI_CONNECTED_BIT, pdFALSE, pdTRUE, portMAX_DELAY);
    ESP_LOGI(TAG, "wifi: connected");
}

/* The chip may be slow to answer after power-up: keep asking, but give up
 * on a chip that answers and is unusable (not prepared by hubkey-factory,
 * another CA's certificates). */
static bool open_chip(hk_se *out_se)
{
    hk_i2c i2c;
    hk_esp_i2c_config ic = HK_ESP_I2C_CONFIG_FROM_KCONFIG();
    hk_result r = hk_esp_i2c_init(&i2c_port, &ic, &i2c);
    if (r == HK_OK)
        r = hk_atecc608_init(&chip, &i2c, ic.address);
    if (r != HK_OK) {
        ESP_LOGE(TAG, "chip: I2C set-up failed: %s", hk_result_name(r));
        return false;
    }
    for (unsigned attempt = 1;; attempt++) {
        hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
        r = hk_se_atecc608_open(&se_ctx, &chip, example_certdefs_device, example_certdefs_signer,
                                out_se, &problem);
        if (r == HK_OK)
            break;
        if (r == HK_ERR_SE_CONFIG || r == HK_ERR_SE_UNLOCKED || r == HK_ERR_SE_KEY_EXPOSED ||
            r == HK_ERR_CERT_WRONG_DEF || r == HK_ERR_CERT_COMPRESSED) {
            ESP_LOGE(TAG, "chip: unusable: %s (%s)", hk_result_name(r),
                     hk_atecc608_problem_str(problem));
            return false;
        }
        ESP_LOGW(TAG, "chip: %s, again in 1 s (attempt %u)", hk_result_name(r), attempt);
        vTaskDelay(pdMS_TO_TICKS(1000));
    }
    ESP_LOGI(TAG, "chip: ATECC608 open, certificates rebuilt");
    return true;
}

static void hubkey_task(void *arg)
{
    (void)arg;
    hk_se se;
    hk_platform platform;
    hk_device_link link;
    if (!open_chip(&se))
        goto stop;
    if (hk_esp_platform_init(&net_port, &platform) != HK_OK) {
        ESP_LOGE(TAG, "network port set-up failed");
        goto stop;
    }
    hk_device_tls_config tc;
    memset(&tc, 0, sizeof tc);
    tc.platform = &platform;
    tc.se = &se; /* trust_pem NULL: hubkey's built-in Azure roots */
    if (hk_device_tls_link_init(&tls_link, &tc, &link) != HK_OK) {
        ESP_LOGE(TAG, "TLS link set-up failed");
        goto stop;
    }
    hk_device_config config;
    memset(&config, 0, sizeof config);
    config.se = &se;
    config.link = link;
    config.id_scope = CONFIG_HUBKEY_ID_SCOPE;
    config.dps_host = CONFIG_HUBKEY_DPS_ENDPOINT;
    config.dps_port = CONFIG_HUBKEY_PORT;
    config.hub_port = CONFIG_HUBKEY_PORT;
    hk_result r = example_app_run(&app, &config, &platform,
                                  (uint32_t)CONFIG_EXAMPLE_TELEMETRY_INTERVAL_S * 1000u);
    ESP_LOGE(TAG, "the flow failed: %s (%s); last connection: %s", hk_result_name(r),
             hk_result_str(r), hk_device_tls_link_reason(&tls_link));
stop:
    vTaskDelete(NULL);
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init(); /* Wi-Fi keeps its calibration there */
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    if (strlen(CONFIG_HUBKEY_ID_SCOPE) == 0) {
        ESP_LOGE(TAG, "no DPS ID scope: set it in menuconfig (hubkey > DPS ID scope)");
        return;
    }
    start_wifi();
    if (hk_esp_sntp_start(NULL) != HK_OK)
        ESP_LOGW(TAG, "sntp: could not start; the wall clock stays unknown");
    else if (hk_esp_sntp_wait((uint32_t)CONFIG_EXAMPLE_SNTP_WAIT_S * 1000u) != HK_OK)
        ESP_LOGW(TAG, "sntp: no answer yet; connecting with the time unknown");
    else
        ESP_LOGI(TAG, "sntp: clock set");
    xTaskCreate(hubkey_task, "hubkey", APP_STACK_BYTES, NULL, 5, NULL);
}
