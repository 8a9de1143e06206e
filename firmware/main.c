/*
 * hubkey firmware for QEMU's mps2-an386 (Cortex-M4): the zero-touch flow on
 * a microcontroller with no operating system and no heap.
 *
 *   board (boards/mps2-an386)  clock, console UART0, UART1 line, semihosting
 *   network                    LAN9118 + lwIP 2.1.3 (raw API, NO_SYS),
 *                              hk_platform from ports/lwip-raw
 *   chip                       hk_i2c over UART1 (ports/serial-i2c) to the
 *                              host's hubkey-chip-bridge and its software
 *                              ATECC608A; hk_atecc608 + hk_se_atecc608 with
 *                              the CA's certificate definitions compiled in
 *   TLS                        hk_device_tls_link: hk_tls on mbedTLS 3.6 as
 *                              make size builds it, its allocations in a
 *                              static arena, the DRBG seeded by the chip
 *   application                firmware/app.c: identity -> record -> DPS ->
 *                              record write -> hub -> telemetry, C2D, twin,
 *                              methods (the same code as make size's images)
 *
 * Settings come from a host file named on the semihosting command line
 * (fw_config.h). The console shows every step; the last line is a summary
 * with the figures docs/performance.md reports (stack high-water, arena
 * high-water, instructions of work). Exit status (QEMU's): 0 done, 1 bad
 * settings or set-up, 2 the flow failed permanently, 3 a CPU fault (the
 * board's handler).
 */
#include <string.h>

#include "app.h"
#include "board.h"
#include "hk_certdefs.h"
#include "floor.h"
#include "fw_config.h"
#include "hk_lwip_raw.h"
#include "hk_serial_i2c.h"
#include "hubkey/atecc608.h"
#include "hubkey/device.h"
#include "hubkey/device_tls.h"
#include "hubkey/tls.h"
#include "lan9118.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define EXIT_SETUP 1
#define EXIT_FLOW 2

/* mbedTLS's allocations (the size build's firmware has the same arena). */
#define ARENA_SIZE 32768u
#define ARENA_PAINT 0xA5u

/* Everything below is the firmware's own state: a bare-metal image has one
 * instance of each, so it lives in static storage, not on the stack. */
static struct netif nif;
static hk_lwip_raw net_port;
static hk_serial_i2c chip_line;
static hk_atecc608 chip;
static hk_se_atecc608 se_ctx;
static hk_device_tls_link tls_link;
static hk_device_route routes[FW_CONFIG_MAX_ROUTES];
static fw_app app;
static uint8_t arena[ARENA_SIZE];
static char settings_text[2048];
static uint8_t trust_pem[8192];
static size_t trust_len;
static fw_config cfg;

/* Time the CPU spent waiting for an interrupt (network or chip line), in
 * 25 MHz ticks: with -icount shift=0 every other tick is 40 instructions of
 * work. */
static uint32_t idle_ticks;

/* The boot ends when the first message is acknowledged (the "time to first
 * telemetry" of make bench): its ticks and idle ticks then. */
static uint32_t boot_start, boot_ticks, boot_idle;

static void on_first_ack(void *ctx)
{
    (void)ctx;
    boot_ticks = board_counter_25mhz() - boot_start;
    boot_idle = idle_ticks;
}

static void idle(void)
{
    uint32_t t0 = board_counter_25mhz();
    board_idle();
    idle_ticks += board_counter_25mhz() - t0;
}

/* ---- lwIP and the network port ----------------------------------------- */

static void net_run(void *ctx)
{
    (void)ctx;
    hk_lan9118_poll(&nif);
    sys_check_timeouts();
}

static void net_idle(void *ctx)
{
    (void)ctx;
    idle();
}

static uint32_t now_ms(void *ctx)
{
    (void)ctx;
    return board_ms();
}

static int64_t wall_s(void *ctx)
{
    (void)ctx;
    return board_wall_s();
}

/* ---- the chip line (UART1) ----------------------------------------------- */

static hk_result line_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    return board_line_write(buf, len) ? HK_OK : HK_ERR_IO;
}

/* Nothing there yet: sleep until the next interrupt (a byte, a tick) so the
 * wait for the bridge is idle time, not spinning. */
static hk_result line_read(void *ctx, uint8_t *buf, size_t cap, size_t *out_len)
{
    (void)ctx;
    *out_len = board_line_read(buf, cap);
    if (*out_len == 0) {
        idle();
        *out_len = board_line_read(buf, cap);
    }
    return HK_OK;
}

/* ---- set-up ------------------------------------------------------------------ */

static void load_settings(void)
{
    char cmd[256];
    size_t n = board_cmdline(cmd, sizeof cmd);
    /* The command line is "PROGRAM SETTINGS-FILE" or just the file. */
    const char *path = cmd;
    for (size_t i = 0; i < n; i++)
        if (cmd[i] == ' ')
            path = &cmd[i + 1];
    if (n == 0 || *path == '\0') {
        board_log("hubkey-fw: no settings file on the semihosting command line\n");
        board_exit(EXIT_SETUP);
    }
    size_t len = 0;
    if (!board_host_read_file(path, (uint8_t *)settings_text, sizeof settings_text - 1, &len)) {
        board_log("hubkey-fw: cannot read settings file %s (missing or over %u bytes)\n", path,
                  (unsigned)(sizeof settings_text - 1));
        board_exit(EXIT_SETUP);
    }
    unsigned line = 0;
    if (fw_config_parse(&cfg, settings_text, len, &line) != HK_OK) {
        if (line == 0)
            board_log("hubkey-fw: %s: id_scope is missing\n", path);
        else
            board_log("hubkey-fw: %s:%u: not a valid setting\n", path, line);
        board_exit(EXIT_SETUP);
    }
}

static void start_network(void)
{
    ip4_addr_t ip, mask, gw;
    /* QEMU's user network: the guest is 10.0.2.15, the host 10.0.2.2. */
    IP4_ADDR(&ip, 10, 0, 2, 15);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 0, 2, 2);
    lwip_init();
    if (netif_add(&nif, &ip, &mask, &gw, NULL, hk_lan9118_netif_init, ethernet_input) ==
        NULL) {
        board_log("hubkey-fw: network interface did not start\n");
        board_exit(EXIT_SETUP);
    }
    netif_set_default(&nif);
    netif_set_up(&nif);
    board_log("net: lan9118 up, 10.0.2.15/24 via 10.0.2.2\n");
}

/* The chip: the bridge may not be there yet (or restarting): keep asking,
 * as a device keeps waking a chip that did not answer. */
static hk_se open_chip(void)
{
    hk_serial_line line = {NULL, line_write, line_read, now_ms};
    uint32_t timeout = cfg.chip_timeout_ms != 0 ? cfg.chip_timeout_ms
                                                : HK_SERIAL_I2C_DEFAULT_TIMEOUT_MS;
    if (hk_serial_i2c_init(&chip_line, &line, timeout, &app.i2c) != HK_OK ||
        hk_atecc608_init(&chip, &app.i2c, HK_ATECC608_ADDR_DEFAULT) != HK_OK) {
        board_log("hubkey-fw: chip line set-up failed\n");
        board_exit(EXIT_SETUP);
    }
    /* Every poll of a busy chip is three frames on this line, which QEMU
     * delivers at about 3 bytes per millisecond: poll a tenth as often as on
     * a real bus. The chip's own time is the model's, moved by the delays,
     * so only the line traffic changes. */
    chip.policy.poll_first_us = 2000;
    chip.policy.poll_every_us = 20000;
    hk_se se;
    for (unsigned attempt = 1;; attempt++) {
        hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
        hk_result r = hk_se_atecc608_open(&se_ctx, &chip, hk_certdefs_device,
                                          hk_certdefs_signer, &se, &problem);
        if (r == HK_OK)
            break;
        if (r == HK_ERR_SE_CONFIG || r == HK_ERR_SE_UNLOCKED || r == HK_ERR_SE_KEY_EXPOSED ||
            r == HK_ERR_CERT_WRONG_DEF || r == HK_ERR_CERT_COMPRESSED) {
            board_log("chip: unusable: %s (%s)\n", hk_result_name(r),
                      hk_atecc608_problem_str(problem));
            board_exit(EXIT_FLOW);
        }
        board_log("chip: %s, again in 1 s (attempt %u)\n", hk_result_name(r), attempt);
        uint32_t until = board_ms() + 1000u;
        while ((int32_t)(board_ms() - until) < 0)
            idle();
    }
    board_log("chip: ATECC608 open, certificates rebuilt\n");
    return se;
}

static void make_link(const hk_se *se, hk_platform *platform, hk_device_link *out_link)
{
    hk_lwip_raw_config nc = {NULL, now_ms, wall_s, net_run, net_idle};
    if (hk_lwip_raw_init(&net_port, &nc, platform) != HK_OK) {
        board_log("hubkey-fw: network port set-up failed\n");
        board_exit(EXIT_SETUP);
    }
    /* The arena painted past the allocator's first header, so the highest
     * byte mbedTLS ever touched can be found after the run. */
    if (hk_tls_arena_init(arena, sizeof arena) != HK_OK) {
        board_log("hubkey-fw: mbedTLS arena set-up failed\n");
        board_exit(EXIT_SETUP);
    }
    memset(arena + 64, ARENA_PAINT, sizeof arena - 64);
    hk_device_tls_config tc;
    memset(&tc, 0, sizeof tc);
    tc.platform = platform;
    tc.se = se;
    if (cfg.trust_path != NULL) {
        if (!board_host_read_file(cfg.trust_path, trust_pem, sizeof trust_pem - 1, &trust_len)) {
            board_log("hubkey-fw: cannot read trust store %s\n", cfg.trust_path);
            board_exit(EXIT_SETUP);
        }
        trust_pem[trust_len++] = '\0';
        tc.trust_pem = trust_pem;
        tc.trust_pem_len = trust_len;
    }
    for (size_t i = 0; i < cfg.route_count; i++) {
        routes[i].host = cfg.routes[i].host;
        routes[i].address = cfg.routes[i].address;
        routes[i].port = cfg.routes[i].port;
    }
    tc.routes = cfg.route_count > 0 ? routes : NULL;
    tc.route_count = cfg.route_count;
    if (hk_device_tls_link_init(&tls_link, &tc, out_link) != HK_OK) {
        board_log("hubkey-fw: TLS link set-up failed\n");
        board_exit(EXIT_SETUP);
    }
}

static size_t arena_high_water(void)
{
    size_t top = sizeof arena;
    while (top > 64 && arena[top - 1] == ARENA_PAINT)
        top--;
    return top;
}

int main(void)
{
    board_init();
    boot_start = board_counter_25mhz();
    board_log("\nhubkey firmware on mps2-an386 (Cortex-M4)\n");
    load_settings();
    start_network();
    hk_se se = open_chip();

    hk_platform platform;
    hk_device_link link;
    make_link(&se, &platform, &link);

    fw_app_settings as;
    memset(&as, 0, sizeof as);
    as.id_scope = cfg.id_scope;
    as.dps_host = cfg.dps_host;
    as.port = cfg.port;
    as.force = cfg.force;
    as.telemetry = cfg.telemetry;
    as.interval_ms = cfg.interval_ms;
    as.policy.reconnect_min_ms = cfg.reconnect_min_ms;
    as.policy.reconnect_max_ms = cfg.reconnect_max_ms;
    as.policy.reconnect_jitter_ms = cfg.reconnect_jitter_ms;
    as.policy.reprovision_interval_ms = cfg.reprovision_interval_ms;
    as.policy.dps_deadline_ms = cfg.dps_deadline_ms;
    as.policy.connect_timeout_ms = cfg.connect_timeout_ms;
    as.log = board_log;
    as.on_first_ack = on_first_ack;
    hk_result r = fw_app_run(&app, &as, &se, link, &platform, !cfg.exit_after_sent);
    if (r != HK_OK) {
        board_log("hubkey-fw: the flow failed: %s (%s)\n", hk_result_name(r), hk_result_str(r));
        board_exit(EXIT_FLOW);
    }
    /* Work = ticks not spent idle; 40 instructions per 25 MHz tick under
     * -icount shift=0 (docs/firmware.md). */
    board_log("summary: boot=%s registrations=%u acked=%u stack_high_water=%u "
              "arena_high_water=%u boot_work_ticks=%u boot_idle_ticks=%u\n",
              app.cold ? "cold" : "warm", (unsigned)app.registrations, (unsigned)app.acked,
              (unsigned)board_stack_used(), (unsigned)arena_high_water(),
              (unsigned)(boot_ticks - boot_idle), (unsigned)boot_idle);
    if (cfg.floor)
        fw_floor_measure(&se, trust_len > 0 ? trust_pem : NULL, trust_len);
    board_exit(0);
}
