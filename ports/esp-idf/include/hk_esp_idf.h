/*
 * hubkey — the ESP-IDF port (ESP-IDF 5.2 to 5.5, whose mbedTLS is 3.6).
 *
 *   hk_i2c       over ESP-IDF's i2c_master driver (i2c_new_master_bus,
 *                i2c_master_bus_add_device, i2c_master_transmit/receive);
 *                the chip's wake pulse is an address-only probe of address
 *                0x00 (see hk_esp_i2c_init).
 *   hk_platform  ports/lwip-sockets (lwIP's BSD sockets, ESP-IDF's TCP/IP
 *                stack) with ESP-IDF's clock and sleep as its hooks:
 *                esp_timer_get_time() and FreeRTOS vTaskDelay();
 *                wall time from SNTP (esp_netif_sntp), unknown until the
 *                first synchronisation.
 *   TLS          hubkey's src/tls over ESP-IDF's mbedTLS with the key in
 *                the chip: the component's Kconfig help and docs/esp-idf.md
 *                name the CONFIG_MBEDTLS_* options it needs.
 *
 *     static hk_esp_i2c bus;  static hk_lwip_sockets net;
 *     hk_i2c i2c;  hk_platform platform;
 *     hk_esp_i2c_config ic = HK_ESP_I2C_CONFIG_FROM_KCONFIG();
 *     hk_esp_i2c_init(&bus, &ic, &i2c);
 *     hk_esp_sntp_start(NULL);             // after the network is up
 *     hk_esp_platform_init(&net, &platform);
 *
 * Threads: one hk_esp_i2c and one hk_lwip_sockets belong to one task.
 * Everything here runs in task context, never from an interrupt.
 */
#ifndef HUBKEY_PORT_ESP_IDF_H
#define HUBKEY_PORT_ESP_IDF_H

#include <stdbool.h>
#include <stdint.h>

#include "driver/i2c_master.h"
#include "hk_lwip_sockets.h"
#include "hubkey/i2c.h"
#include "hubkey/platform.h"
#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hk_esp_i2c_config {
    int port;              /* I2C controller number (-1: the driver picks one) */
    int sda_gpio;          /* SDA pin */
    int scl_gpio;          /* SCL pin */
    uint32_t speed_hz;     /* SCL clock for commands (the chip: up to 1 MHz) */
    uint8_t address;       /* 7-bit address (0x60 for a factory-new ATECC608A) */
    bool internal_pullups; /* the SoC's weak pull-ups; boards need real ones */
    uint32_t timeout_ms;   /* one transfer, bus locked included */
} hk_esp_i2c_config;

/* The component's Kconfig settings (menuconfig: "hubkey"). */
#define HK_ESP_I2C_CONFIG_FROM_KCONFIG()                                         \
    ((hk_esp_i2c_config){.port = CONFIG_HUBKEY_I2C_PORT,                         \
                         .sda_gpio = CONFIG_HUBKEY_I2C_SDA_GPIO,                 \
                         .scl_gpio = CONFIG_HUBKEY_I2C_SCL_GPIO,                 \
                         .speed_hz = CONFIG_HUBKEY_I2C_SPEED_HZ,                 \
                         .address = CONFIG_HUBKEY_I2C_ADDRESS,                   \
                         .internal_pullups = HK_ESP_KCONFIG_PULLUPS_,            \
                         .timeout_ms = 100u})
#ifdef CONFIG_HUBKEY_I2C_INTERNAL_PULLUPS
#define HK_ESP_KCONFIG_PULLUPS_ true
#else
#define HK_ESP_KCONFIG_PULLUPS_ false
#endif

typedef struct hk_esp_i2c {
    struct {
        i2c_master_bus_handle_t bus;
        i2c_master_dev_handle_t dev;
        uint8_t address;
        uint32_t timeout_ms;
    } _internal;
} hk_esp_i2c;

/* Create the I2C bus and the chip's device on it; fill *out with functions
 * bound to port. The hk_i2c addr7 argument must be the configured address
 * (the driver talks to one chip): HK_ERR_INVALID_ARG otherwise.
 *
 * Wake pulse (hk_i2c.wake): i2c_master_probe() of address 0x00. The driver
 * clocks a probe at 100 kHz whatever the device's speed (checked in ESP-IDF
 * 5.2 to 5.5's i2c_master.c), so START plus eight 0 address bits hold SDA
 * low for about 85 us, above the chip's tWLO of 60 us, without
 * reconfiguring the pins as GPIOs. The probe's NACK is expected.
 *
 * Errors: the driver reports a NACK as ESP_ERR_INVALID_STATE (a hardware
 * SCL timeout gives the same code): HK_ERR_SE_NO_RESPONSE, which the chip
 * driver answers by waking and retrying. Any other failure: HK_ERR_IO.
 * HK_ERR_INVALID_ARG for a bad config (pins, speed 0 or above 1 MHz). */
HK_NODISCARD hk_result hk_esp_i2c_init(hk_esp_i2c *port, const hk_esp_i2c_config *config,
                                       hk_i2c *out);

/* Remove the device and delete the bus. */
void hk_esp_i2c_deinit(hk_esp_i2c *port);

/* Start SNTP (esp_netif_sntp) with server (NULL: the Kconfig's
 * CONFIG_HUBKEY_SNTP_SERVER). Call once, after esp_netif_init() and the
 * default event loop exist. lwIP's SNTP keeps the pointer, not a copy:
 * server must stay valid for good (a literal or static storage).
 * HK_ERR_IO when ESP-IDF refuses. */
HK_NODISCARD hk_result hk_esp_sntp_start(const char *server);

/* True once SNTP has set the clock at least once since boot. */
bool hk_esp_time_known(void);

/* Wait up to timeout_ms for the first synchronisation: HK_OK, or
 * HK_ERR_TIMEOUT (the flow can still start: TLS then runs with the time
 * unknown, see hubkey/tls.h). */
HK_NODISCARD hk_result hk_esp_sntp_wait(uint32_t timeout_ms);

/* hk_platform over lwIP's sockets with ESP-IDF's hooks:
 *   monotonic_ms  esp_timer_get_time() / 1000 (wraps at 2^32 ms)
 *   wall_s        time(NULL) once hk_esp_time_known(), else unknown
 *   wait(NULL)    vTaskDelay, rounded up so it lasts at least the time asked
 * lwIP must be running (esp_netif_init and a connected interface). */
HK_NODISCARD hk_result hk_esp_platform_init(hk_lwip_sockets *port, hk_platform *out);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PORT_ESP_IDF_H */
