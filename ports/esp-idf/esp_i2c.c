/*
 * hk_i2c over ESP-IDF's i2c_master driver (ESP-IDF 5.2 and later). The
 * contract is hubkey/i2c.h; the choices are explained in hk_esp_idf.h.
 */
#include <string.h>

#include "driver/i2c_master.h"
#include "esp_err.h"
#include "esp_rom_sys.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "hk_esp_idf.h"

/* The chip's fastest clock (ATECC608A datasheet: 1 MHz). */
#define HK_ESP_I2C_MAX_HZ 1000000u

/* NACK (asleep, busy, idle) and an SCL timeout both come back from a
 * synchronous transfer as ESP_ERR_INVALID_STATE (i2c_master.c: the
 * transaction did not reach I2C_STATUS_DONE). The chip driver treats "no
 * response" by waking and retrying, which is right for both. */
static hk_result map_err(esp_err_t err)
{
    if (err == ESP_OK)
        return HK_OK;
    if (err == ESP_ERR_INVALID_STATE || err == ESP_ERR_NOT_FOUND)
        return HK_ERR_SE_NO_RESPONSE;
    return HK_ERR_IO;
}

static hk_result esp_i2c_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    hk_esp_i2c *p = ctx;
    if (p == NULL || addr7 != p->_internal.address || buf == NULL || len == 0)
        return HK_ERR_INVALID_ARG;
    return map_err(i2c_master_transmit(p->_internal.dev, buf, len, (int)p->_internal.timeout_ms));
}

static hk_result esp_i2c_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    hk_esp_i2c *p = ctx;
    if (p == NULL || addr7 != p->_internal.address || buf == NULL || len == 0)
        return HK_ERR_INVALID_ARG;
    return map_err(i2c_master_receive(p->_internal.dev, buf, len, (int)p->_internal.timeout_ms));
}

/* Address-only probe of 0x00 at the driver's fixed 100 kHz: SDA low from
 * START through eight 0 bits, ~85 us >= tWLO (60 us). Nobody answers
 * (ESP_ERR_NOT_FOUND) unless a device on the bus acknowledges the general
 * call address, which is just as good: either way SDA was held low. */
static hk_result esp_i2c_wake(void *ctx)
{
    hk_esp_i2c *p = ctx;
    if (p == NULL)
        return HK_ERR_INVALID_ARG;
    esp_err_t err = i2c_master_probe(p->_internal.bus, 0x00, (int)p->_internal.timeout_ms);
    if (err == ESP_OK || err == ESP_ERR_NOT_FOUND)
        return HK_OK;
    return HK_ERR_IO;
}

/* The chip's waits (tWHI, command execution) are a few ms at most. Whole
 * ticks go to other tasks (one fewer than fit: vTaskDelay(n) may end just
 * after n - 1 tick periods), the rest is a busy wait to the deadline on
 * esp_timer, so the delay is never shorter than asked. */
static void esp_i2c_delay_us(void *ctx, uint32_t us)
{
    (void)ctx;
    const uint32_t tick_us = 1000000u / (uint32_t)configTICK_RATE_HZ;
    const int64_t end = esp_timer_get_time() + (int64_t)us;
    if (us >= 2u * tick_us)
        vTaskDelay((TickType_t)(us / tick_us - 1u));
    const int64_t left = end - esp_timer_get_time();
    if (left > 0)
        esp_rom_delay_us((uint32_t)left);
}

hk_result hk_esp_i2c_init(hk_esp_i2c *port, const hk_esp_i2c_config *config, hk_i2c *out)
{
    if (port == NULL || config == NULL || out == NULL || config->speed_hz == 0 ||
        config->speed_hz > HK_ESP_I2C_MAX_HZ || config->address == 0 || config->address > 0x7F ||
        config->sda_gpio < 0 || config->scl_gpio < 0 || config->sda_gpio == config->scl_gpio ||
        config->timeout_ms == 0)
        return HK_ERR_INVALID_ARG;
    memset(port, 0, sizeof *port);

    i2c_master_bus_config_t bus_cfg;
    memset(&bus_cfg, 0, sizeof bus_cfg);
    bus_cfg.i2c_port = (i2c_port_num_t)config->port;
    bus_cfg.sda_io_num = (gpio_num_t)config->sda_gpio;
    bus_cfg.scl_io_num = (gpio_num_t)config->scl_gpio;
    bus_cfg.clk_source = I2C_CLK_SRC_DEFAULT;
    bus_cfg.glitch_ignore_cnt = 7;
    bus_cfg.flags.enable_internal_pullup = config->internal_pullups ? 1u : 0u;
    if (i2c_new_master_bus(&bus_cfg, &port->_internal.bus) != ESP_OK)
        return HK_ERR_IO;

    i2c_device_config_t dev_cfg;
    memset(&dev_cfg, 0, sizeof dev_cfg);
    dev_cfg.dev_addr_length = I2C_ADDR_BIT_LEN_7;
    dev_cfg.device_address = config->address;
    dev_cfg.scl_speed_hz = config->speed_hz;
    if (i2c_master_bus_add_device(port->_internal.bus, &dev_cfg, &port->_internal.dev) != ESP_OK) {
        (void)i2c_del_master_bus(port->_internal.bus);
        port->_internal.bus = NULL;
        return HK_ERR_IO;
    }
    port->_internal.address = config->address;
    port->_internal.timeout_ms = config->timeout_ms;

    out->ctx = port;
    out->write = esp_i2c_write;
    out->read = esp_i2c_read;
    out->wake = esp_i2c_wake;
    out->delay_us = esp_i2c_delay_us;
    return HK_OK;
}

void hk_esp_i2c_deinit(hk_esp_i2c *port)
{
    if (port == NULL)
        return;
    if (port->_internal.dev != NULL)
        (void)i2c_master_bus_rm_device(port->_internal.dev);
    if (port->_internal.bus != NULL)
        (void)i2c_del_master_bus(port->_internal.bus);
    port->_internal.dev = NULL;
    port->_internal.bus = NULL;
}
