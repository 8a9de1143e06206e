/*
 * The suite's peer (port_suite.h) as host TCP sockets bound to one address:
 * 127.0.0.1 for the POSIX port, the host side of a TAP device for a port
 * over another TCP/IP stack (lwIP). Test code: host sockets, no heap.
 */
#ifndef HK_PORT_PEER_POSIX_H
#define HK_PORT_PEER_POSIX_H

#include "port_suite.h"

typedef struct port_peer_posix {
    char host[64];
    int lfd;       /* listener */
    int cfd;       /* accepted connection */
    int filler;    /* the connection that fills a held listener's queue */
    int refused;   /* bound, never listening: its port refuses */
} port_peer_posix;

/* host: numeric IPv4 address to bind (copied). */
void port_peer_posix_init(port_peer_posix *pp, const char *host, hk_port_peer *out);
void port_peer_posix_deinit(port_peer_posix *pp);

#endif
