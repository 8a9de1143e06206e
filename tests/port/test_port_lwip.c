/*
 * The port conformance suite against ports/lwip-sockets over real lwIP
 * (Debian's liblwip: lwIP's own TCP/IP stack on a TAP device). Run by
 * lwip_netns.sh inside a network namespace:
 *
 *   test_port_lwip TAP LWIP_IP PEER_IP
 *
 * lwIP owns LWIP_IP on the TAP; the suite's peer is a host socket on
 * PEER_IP, the namespace's side of the TAP, so every byte crosses lwIP's
 * TCP, IP and Ethernet layers. The port's clock starts 1.5 s before 2^32
 * so it wraps during the run.
 */
#include <stdio.h>

#include "hk_lwip_sockets.h"
#include "lwip_stack.h"
#include "port_peer_posix.h"
#include "port_suite.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_port_lwip TAP LWIP_IP PEER_IP\n");
        return 2;
    }
    if (lwip_stack_start(argv[1], argv[2], argv[3]) != 0)
        return 2;
    static uint32_t offset;
    offset = 0u - lwip_stack_now_ms(NULL) - 1500u; /* 2^32 - 1.5 s now */
    static hk_lwip_sockets port;
    hk_lwip_sockets_config cfg = {.ctx = &offset,
                                  .now_ms = lwip_stack_now_ms,
                                  .wall_s = lwip_stack_wall_s,
                                  .sleep_ms = lwip_stack_sleep_ms};
    hk_port_under_test put = {.name = "lwip-sockets",
                              .max_sockets = HK_LWIP_SOCKETS_MAX_SOCKETS,
                              .unresolvable_host = "nonexistent.invalid",
                              .clock_wraps = true,
                              .slow_ms = 15000};
    if (hk_lwip_sockets_init(&port, &cfg, &put.platform) != HK_OK)
        return 2;
    port_peer_posix peer;
    port_peer_posix_init(&peer, argv[3], &put.peer);
    int rc = hk_port_suite_run(&put);
    port_peer_posix_deinit(&peer);
    hk_lwip_sockets_deinit(&port);
    return rc;
}
