/*
 * lwIP on a TAP device for the tests (lwip_stack.h).
 */
#define _GNU_SOURCE
#include "lwip_stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hubkey/platform.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/tcpip.h"
#include "netif/tapif.h"

static struct netif g_netif;

int lwip_stack_start(const char *tap, const char *ip, const char *gw)
{
    ip4_addr_t addr, mask, gateway;
    if (!ip4addr_aton(ip, &addr) || !ip4addr_aton(gw, &gateway) ||
        !ip4addr_aton("255.255.255.0", &mask)) {
        fprintf(stderr, "lwip: bad address %s / gateway %s\n", ip, gw);
        return -1;
    }
    /* tapif attaches to this existing device instead of creating tap0 and
     * running ifconfig. */
    if (setenv("PRECONFIGURED_TAPIF", tap, 1) != 0)
        return -1;
    tcpip_init(NULL, NULL); /* lwip_init has run when this returns */
    LOCK_TCPIP_CORE();
    struct netif *n = netif_add(&g_netif, &addr, &mask, &gateway, NULL, tapif_init, tcpip_input);
    if (n != NULL) {
        netif_set_default(n);
        netif_set_up(n);
        netif_set_link_up(n);
    }
    UNLOCK_TCPIP_CORE();
    if (n == NULL) {
        fprintf(stderr, "lwip: netif_add on %s failed\n", tap);
        return -1;
    }
    return 0;
}

uint32_t lwip_stack_now_ms(void *ctx)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint32_t offset = ctx ? *(const uint32_t *)ctx : 0;
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) + offset;
}

void lwip_stack_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    /* Rounded up by a millisecond: the clock above truncates. */
    struct timespec ts = {.tv_sec = (time_t)((ms + 1u) / 1000u),
                          .tv_nsec = (long)((ms + 1u) % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int64_t lwip_stack_wall_s(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 1704067200)
        return HK_PLATFORM_TIME_UNKNOWN;
    return (int64_t)ts.tv_sec;
}
