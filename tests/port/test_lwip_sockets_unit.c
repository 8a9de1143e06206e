/*
 * ports/lwip-sockets without a network: what the port decides by itself
 * (its configuration, its hooks, argument checks, names it cannot resolve
 * without LWIP_DNS), with injected hooks. lwIP's stack is not started: no
 * call here reaches a socket. The network half is the conformance suite
 * over real lwIP (lwip_netns.sh).
 */
#include <stdint.h>

#include "hk_lwip_sockets.h"
#include "hk_test.h"
#include "lwip/opt.h"

static struct {
    uint32_t now;
    uint32_t slept_total;
    unsigned sleeps;
} H;

static uint32_t fake_now(void *ctx)
{
    (void)ctx;
    return H.now;
}
static void fake_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    H.sleeps++;
    H.slept_total += ms;
    H.now += ms;
}
static int64_t fake_wall(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void test_init_needs_clock_and_sleep(void)
{
    hk_lwip_sockets port;
    hk_platform p;
    hk_lwip_sockets_config cfg = {.now_ms = fake_now, .sleep_ms = fake_sleep};
    HK_CHECK_RESULT(hk_lwip_sockets_init(NULL, &cfg, &p), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, NULL, &p), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, NULL), HK_ERR_INVALID_ARG);
    cfg.now_ms = NULL;
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_ERR_INVALID_ARG);
    cfg.now_ms = fake_now;
    cfg.sleep_ms = NULL;
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_ERR_INVALID_ARG);
    cfg.sleep_ms = fake_sleep;
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_OK);
    hk_lwip_sockets_deinit(&port);
    hk_lwip_sockets_deinit(NULL);
}

static void test_clocks_are_the_hooks(void)
{
    hk_lwip_sockets port;
    hk_platform p;
    int64_t wall = 1767225600; /* 2026-01-01 */
    hk_lwip_sockets_config cfg = {.ctx = &wall, .now_ms = fake_now, .sleep_ms = fake_sleep};
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_OK);
    H.now = 0xFFFFFFF0u;
    HK_CHECK_EQ(p.monotonic_ms(p.ctx), 0xFFFFFFF0u);
    HK_CHECK(p.wall_s(p.ctx) == HK_PLATFORM_TIME_UNKNOWN); /* no wall hook */
    cfg.wall_s = fake_wall;
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_OK);
    HK_CHECK_EQ(p.wall_s(p.ctx), 1767225600);
    /* wait(NULL) is the sleep hook, with exactly the time asked. */
    H.sleeps = 0;
    H.slept_total = 0;
    HK_CHECK_RESULT(p.wait(p.ctx, NULL, 37), HK_OK);
    HK_CHECK_EQ(H.sleeps, 1);
    HK_CHECK_EQ(H.slept_total, 37);
    HK_CHECK_EQ(p.monotonic_ms(p.ctx), 0xFFFFFFF0u + 37u); /* wrapped: 0x15 */
    hk_lwip_sockets_deinit(&port);
}

static void test_connect_without_network(void)
{
    hk_lwip_sockets port;
    hk_platform p;
    hk_lwip_sockets_config cfg = {.now_ms = fake_now, .sleep_ms = fake_sleep};
    HK_CHECK_RESULT(hk_lwip_sockets_init(&port, &cfg, &p), HK_OK);
    hk_transport s;
    HK_CHECK_RESULT(p.tcp_connect(p.ctx, NULL, 1, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(p.tcp_connect(p.ctx, "", 1, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(p.tcp_connect(p.ctx, "192.0.2.1", 0, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(p.tcp_connect(p.ctx, "192.0.2.1", 1, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(p.tcp_connect(NULL, "192.0.2.1", 1, &s), HK_ERR_INVALID_ARG);
#if !LWIP_DNS
    /* No resolver in this lwIP: a name is HK_ERR_RESOLVE at once (and no
     * socket slot is taken). */
    for (int i = 0; i < HK_LWIP_SOCKETS_MAX_SOCKETS + 2; i++)
        HK_CHECK_RESULT(p.tcp_connect(p.ctx, "dps.hubkey.test", 8883, &s), HK_ERR_RESOLVE);
    HK_CHECK_RESULT(p.tcp_connect(p.ctx, "192.0.2.256", 8883, &s), HK_ERR_RESOLVE);
#endif
    /* Sockets the port never handed out. */
    hk_transport stranger = {.ctx = &stranger};
    HK_CHECK_RESULT(p.wait(p.ctx, &stranger, 10), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(hk_lwip_sockets_fd(&port, &stranger), -1);
    HK_CHECK_EQ(hk_lwip_sockets_fd(&port, NULL), -1);
    p.tcp_close(p.ctx, &stranger); /* ignored */
    p.tcp_close(p.ctx, NULL);
    hk_lwip_sockets_deinit(&port);
}

int main(void)
{
    HK_RUN(test_init_needs_clock_and_sleep);
    HK_RUN(test_clocks_are_the_hooks);
    HK_RUN(test_connect_without_network);
    return hk_test_finish("lwip_sockets_unit");
}
