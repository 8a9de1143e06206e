/*
 * Size driver for the device stack and the firmware image (make size).
 *
 * A provisioning firmware as an application writes it, so that
 * --gc-sections keeps exactly the code a device runs:
 *   - the ATECC608A driver over the board's I2C (hk_atecc608), opened as an
 *     hk_se (hk_se_atecc608: config zone check, certificate rebuild from the
 *     compressed slots with the CA's certificate definitions, Sign, Random,
 *     slot 8);
 *   - the certificate definitions compiled in from hubkey-factory's
 *     certdefs.h (checked by the factory when it wrote them), in an archive
 *     of their own (hk_certdefs) so they are counted with hubkey;
 *   - the application of the QEMU firmware (firmware/app.c, the same
 *     source): the boot flow (hk_device) from identity through DPS and the
 *     record write to the hub session, telemetry with properties, reported
 *     properties on a desired update, method answers, C2D properties, and a
 *     log line per event.
 * Built twice:
 *   device-stack  the link is the board's byte stream as is: everything
 *                 hubkey runs except TLS (hubkey's archives are counted);
 *   firmware      (HK_SIZE_FIRMWARE) the production link, hk_device_tls:
 *                 TCP from the platform with TLS 1.2 over it (hk_tls on
 *                 mbedTLS 3.6, the key in the chip, the CTR-DRBG seeded
 *                 from the chip's Random; hubkey's and mbedTLS's archives
 *                 are counted).
 * The board (I2C controller, network interface, clock) is a set of volatile
 * registers: the compiler cannot know what they return, so no path is
 * optimised away, and nothing of it counts as hubkey. These images are only
 * linked; the same application runs on a Cortex-M4 in QEMU in the mcu
 * tests (firmware/, docs/firmware.md), there with lwIP and the board's
 * drivers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "app.h"
#include "common/hk_common.h"
#include "hk_certdefs.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/device.h"
#include "hubkey/hub.h"
#include "hubkey/i2c.h"
#include "hubkey/platform.h"
#include "hubkey/se.h"
#include "hubkey/transport.h"
#if defined(HK_SIZE_FIRMWARE)
#include "hubkey/device_tls.h"
#include "hubkey/tls.h"
#endif

int main(void);

/* ---- the board ------------------------------------------------------------ */
/* Only what the linker must keep: a port written to be copied, with every
 * callback's contract, is ports/template (docs/porting.md). */

/* Peripheral registers as the driver sees them: reads return what the
 * hardware says, writes go out. */
static volatile uint8_t bus_data;   /* I2C data register */
static volatile uint8_t bus_status; /* 0 = ACK */
static volatile uint8_t nic_data;   /* network interface FIFO */
static volatile uint16_t nic_level; /* bytes waiting in the FIFO */
static volatile uint32_t tick_ms;   /* SysTick counter */

static hk_result i2c_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    (void)ctx;
    bus_data = (uint8_t)(addr7 << 1);
    for (size_t i = 0; i < len; i++)
        bus_data = buf[i];
    return bus_status == 0 ? HK_OK : HK_ERR_SE_NO_RESPONSE;
}

static hk_result i2c_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    (void)ctx;
    bus_data = (uint8_t)((addr7 << 1) | 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = bus_data;
    return bus_status == 0 ? HK_OK : HK_ERR_SE_NO_RESPONSE;
}

static hk_result i2c_wake(void *ctx)
{
    (void)ctx;
    bus_data = 0;
    return HK_OK;
}

static void i2c_delay_us(void *ctx, uint32_t us)
{
    (void)ctx;
    uint32_t end = tick_ms + us / 1000u + 1u;
    while ((int32_t)(tick_ms - end) < 0) {
    }
}

static hk_result nic_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        nic_data = buf[i];
    *out_sent = len;
    return HK_OK;
}

static hk_result nic_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    (void)ctx;
    size_t n = nic_level;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = nic_data;
    *out_received = n;
    return HK_OK;
}

static uint32_t board_ms(void *ctx)
{
    (void)ctx;
    return tick_ms;
}

static void board_wait(uint32_t timeout_ms)
{
    uint32_t end = tick_ms + timeout_ms;
    while (nic_level == 0 && (int32_t)(tick_ms - end) < 0) {
    }
}

#if defined(HK_SIZE_FIRMWARE)
/* ---- firmware: the platform under the production TLS link ------------------- */

static int64_t board_wall_s(void *ctx)
{
    (void)ctx;
    return HK_PLATFORM_TIME_UNKNOWN; /* no RTC until SNTP answers */
}

static hk_result board_platform_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    (void)ctx;
    (void)socket;
    board_wait(timeout_ms);
    return HK_OK;
}

static hk_result board_tcp_connect(void *ctx, const char *host, uint16_t port,
                                   hk_transport *out_socket)
{
    (void)ctx;
    for (const char *p = host; *p != '\0'; p++)
        nic_data = (uint8_t)*p;
    nic_data = (uint8_t)(port >> 8);
    nic_data = (uint8_t)port;
    out_socket->ctx = NULL;
    out_socket->send = nic_send;
    out_socket->recv = nic_recv;
    return nic_level != 0 ? HK_OK : HK_ERR_CONNECT;
}

static void board_tcp_close(void *ctx, const hk_transport *socket)
{
    (void)ctx;
    (void)socket;
    nic_data = 0;
}

/* mbedTLS's arena: every allocation of a handshake lands here. */
static uint8_t tls_arena[32768];

static hk_result make_link(const hk_se *se, hk_device_link *out_link)
{
    static hk_platform platform;
    static hk_device_tls_link tls_link;
    platform.ctx = NULL;
    platform.monotonic_ms = board_ms;
    platform.wall_s = board_wall_s;
    platform.wait = board_platform_wait;
    platform.tcp_connect = board_tcp_connect;
    platform.tcp_close = board_tcp_close;
    HK_TRY(hk_tls_arena_init(tls_arena, sizeof tls_arena));
    hk_device_tls_config tc;
    memset(&tc, 0, sizeof tc);
    tc.platform = &platform;
    tc.se = se; /* the built-in Azure roots */
    return hk_device_tls_link_init(&tls_link, &tc, out_link);
}
#else
/* ---- device stack: the board's byte stream is the connection --------------- */

static hk_result raw_open(void *ctx, const char *host, uint16_t port, const uint8_t *trust_pem,
                          size_t trust_pem_len)
{
    (void)ctx;
    (void)trust_pem;
    (void)trust_pem_len;
    for (const char *p = host; *p != '\0'; p++)
        nic_data = (uint8_t)*p;
    nic_data = (uint8_t)(port >> 8);
    nic_data = (uint8_t)port;
    return HK_OK;
}

static hk_result raw_poll(void *ctx, bool *out_ready, hk_transport *out_transport)
{
    (void)ctx;
    out_transport->ctx = NULL;
    out_transport->send = nic_send;
    out_transport->recv = nic_recv;
    *out_ready = true;
    return HK_OK;
}

static void raw_close(void *ctx)
{
    (void)ctx;
    nic_data = 0;
}

static void raw_wait(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    board_wait(timeout_ms);
}

static hk_result make_link(const hk_se *se, hk_device_link *out_link)
{
    (void)se;
    out_link->ctx = NULL;
    out_link->open = raw_open;
    out_link->poll = raw_poll;
    out_link->close = raw_close;
    out_link->wait = raw_wait;
    return HK_OK;
}
#endif

/* ---- the firmware --------------------------------------------------------- */

/* The board's console: one line at a time to its UART data register. */
__attribute__((format(printf, 1, 2))) static void board_log(const char *fmt, ...)
{
    for (const char *p = fmt; *p != '\0'; p++)
        nic_data = (uint8_t)*p;
}

static hk_result firmware(void)
{
    static hk_atecc608 chip;
    static hk_se_atecc608 se_ctx;
    static fw_app application;

    application.i2c = (hk_i2c){NULL, i2c_write, i2c_read, i2c_wake, i2c_delay_us};
    HK_TRY(hk_atecc608_init(&chip, &application.i2c, HK_ATECC608_ADDR_DEFAULT));

    hk_se se;
    hk_atecc608_problem problem;
    HK_TRY(hk_se_atecc608_open(&se_ctx, &chip, hk_certdefs_device, hk_certdefs_signer, &se,
                               &problem));

    hk_device_link link;
    HK_TRY(make_link(&se, &link));
    hk_platform clock;
    memset(&clock, 0, sizeof clock);
    clock.monotonic_ms = board_ms;

    /* The application the QEMU firmware runs (firmware/app.c): telemetry
     * every minute, forever, with the twin, method and C2D reactions. */
    static fw_app_settings settings;
    settings.id_scope = "0ne00000000";
    settings.telemetry = 0;
    settings.interval_ms = 60000u;
    settings.log = board_log;
    return fw_app_run(&application, &settings, &se, link, &clock, true);
}

int main(void)
{
    hk_result r = firmware();
    bus_data = (uint8_t)r;
    return 1;
}
