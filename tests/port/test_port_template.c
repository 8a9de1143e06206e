/*
 * The port conformance suite against ports/template as shipped: its fake
 * network, model clock (started 200 ms before 2^32, so it wraps during the
 * run) and I2C wired to the ATECC608A emulator. The template passing is
 * what makes it a known-good starting point for a port.
 */
#include <stdio.h>

#include "emu_atecc608.h"
#include "hk_port_template.h"
#include "port_suite.h"

static fake_net g_net;

static hk_result peer_listen(void *ctx, bool held, uint16_t *out_port)
{
    return fake_net_listen(ctx, held, out_port);
}
static void peer_release(void *ctx)
{
    fake_net_release(ctx);
}
static hk_result peer_refused_port(void *ctx, uint16_t *out_port)
{
    return fake_net_refused_port(ctx, out_port);
}
static hk_result peer_accept(void *ctx, bool *out_accepted)
{
    return fake_net_accept(ctx, out_accepted);
}
static hk_result peer_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_n)
{
    return fake_net_peer_send(ctx, buf, len, out_n);
}
static hk_result peer_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_n)
{
    return fake_net_peer_recv(ctx, buf, cap, out_n);
}
static void peer_close(void *ctx)
{
    fake_net_peer_close(ctx);
}
static void peer_unlisten(void *ctx)
{
    fake_net_unlisten(ctx);
}
static uint64_t chip_now(void *ctx)
{
    return hk_emu_atecc608_now_us(ctx);
}

int main(void)
{
    hk_emu_atecc608 *emu = NULL;
    if (hk_emu_atecc608_create(NULL, &emu) != HK_OK)
        return 2;
    hk_i2c chip = hk_emu_atecc608_i2c(emu);
    fake_net_init(&g_net, ((uint64_t)UINT32_MAX + 1u - 200u) * 1000u, &chip);
    static hk_port_template port;
    hk_port_template_config cfg = {.net = &g_net};
    hk_i2c i2c;
    hk_port_under_test put = {.name = "template",
                              .max_sockets = HK_PORT_TEMPLATE_MAX_SOCKETS,
                              .unresolvable_host = "nonexistent.invalid",
                              .clock_wraps = true,
                              .i2c = &i2c,
                              .chip_addr7 = HK_EMU_ATECC608_DEFAULT_ADDR7,
                              .chip_now_us = chip_now,
                              .chip_ctx = emu,
                              .slow_ms = 15000};
    put.peer = (hk_port_peer){.ctx = &g_net,
                              .host = FAKE_NET_HOST,
                              .listen = peer_listen,
                              .release = peer_release,
                              .refused_port = peer_refused_port,
                              .accept = peer_accept,
                              .send = peer_send,
                              .recv = peer_recv,
                              .close = peer_close,
                              .unlisten = peer_unlisten};
    if (hk_port_template_init(&port, &cfg, &put.platform, &i2c) != HK_OK)
        return 2;
    int rc = hk_port_suite_run(&put);
    hk_port_template_deinit(&port);
    hk_emu_atecc608_destroy(emu);
    return rc;
}
