/*
 * The port conformance suite against ports/posix: hk_posix over the
 * host's sockets, the peer on 127.0.0.1. Its hk_i2c (Linux i2c-dev) needs
 * a real bus and is not registered here.
 */
#include <stdio.h>

#include "hk_posix.h"
#include "port_peer_posix.h"
#include "port_suite.h"

int main(void)
{
    static hk_posix posix;
    hk_port_under_test put = {.name = "posix",
                              .max_sockets = HK_POSIX_MAX_SOCKETS,
                              .unresolvable_host = "nonexistent.invalid",
                              .slow_ms = 10000};
    if (hk_posix_init(&posix, &put.platform) != HK_OK)
        return 2;
    port_peer_posix peer;
    port_peer_posix_init(&peer, "127.0.0.1", &put.peer);
    int rc = hk_port_suite_run(&put);
    port_peer_posix_deinit(&peer);
    hk_posix_deinit(&posix);
    return rc;
}
