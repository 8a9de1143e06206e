/*
 * The suite's peer over host sockets (port_peer_posix.h).
 *
 * A held listener: listen() with a backlog of 0 and one connection of our
 * own in its queue. Linux then drops further SYNs (the accept queue is
 * full), so the port's connect stays unanswered until release() empties
 * the queue and the port's stack retransmits its SYN.
 */
#define _GNU_SOURCE
#include "port_peer_posix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void drop(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int bound_socket(port_peer_posix *pp, uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* A small receive buffer: back-pressure after little data. */
    int rcv = 16384;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, pp->host, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *out_port = ntohs(a.sin_port);
    return fd;
}

static void peer_unlisten(void *ctx)
{
    port_peer_posix *pp = ctx;
    drop(&pp->cfd);
    drop(&pp->filler);
    drop(&pp->lfd);
}

static hk_result peer_listen(void *ctx, bool held, uint16_t *out_port)
{
    port_peer_posix *pp = ctx;
    peer_unlisten(pp);
    pp->lfd = bound_socket(pp, out_port);
    if (pp->lfd < 0 || listen(pp->lfd, held ? 0 : 16) != 0) {
        perror("port peer: listen");
        drop(&pp->lfd);
        return HK_ERR_IO;
    }
    if (!held)
        return HK_OK;
    pp->filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(*out_port);
    (void)inet_pton(AF_INET, pp->host, &a.sin_addr);
    if (pp->filler < 0 || connect(pp->filler, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("port peer: filler connect");
        peer_unlisten(pp);
        return HK_ERR_IO;
    }
    return HK_OK;
}

static void peer_release(void *ctx)
{
    port_peer_posix *pp = ctx;
    if (pp->filler < 0)
        return;
    /* The filler is the only connection in the queue: accept it (the
     * listener is non-blocking, so poll first) and drop both ends. */
    struct pollfd p = {.fd = pp->lfd, .events = POLLIN};
    if (poll(&p, 1, 2000) == 1) {
        int fd = accept4(pp->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
    drop(&pp->filler);
}

static hk_result peer_refused_port(void *ctx, uint16_t *out_port)
{
    port_peer_posix *pp = ctx;
    if (pp->refused < 0)
        pp->refused = bound_socket(pp, out_port);
    if (pp->refused < 0)
        return HK_ERR_IO;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(pp->refused, (struct sockaddr *)&a, &len) != 0)
        return HK_ERR_IO;
    *out_port = ntohs(a.sin_port);
    return HK_OK;
}

static hk_result peer_accept(void *ctx, bool *out_accepted)
{
    port_peer_posix *pp = ctx;
    *out_accepted = false;
    if (pp->lfd < 0)
        return HK_ERR_STATE;
    int fd = accept4(pp->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? HK_OK : HK_ERR_IO;
    drop(&pp->cfd);
    pp->cfd = fd;
    *out_accepted = true;
    return HK_OK;
}

static hk_result peer_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    port_peer_posix *pp = ctx;
    *out_sent = 0;
    ssize_t n = send(pp->cfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? HK_OK : HK_ERR_IO;
    *out_sent = (size_t)n;
    return HK_OK;
}

static hk_result peer_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    port_peer_posix *pp = ctx;
    *out_received = 0;
    ssize_t n = recv(pp->cfd, buf, cap, MSG_DONTWAIT);
    if (n == 0)
        return HK_ERR_CLOSED;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return HK_OK;
        return errno == ECONNRESET ? HK_ERR_CLOSED : HK_ERR_IO;
    }
    *out_received = (size_t)n;
    return HK_OK;
}

static void peer_close(void *ctx)
{
    port_peer_posix *pp = ctx;
    drop(&pp->cfd);
}

void port_peer_posix_init(port_peer_posix *pp, const char *host, hk_port_peer *out)
{
    memset(pp, 0, sizeof *pp);
    snprintf(pp->host, sizeof pp->host, "%s", host);
    pp->lfd = pp->cfd = pp->filler = pp->refused = -1;
    *out = (hk_port_peer){.ctx = pp,
                          .host = pp->host,
                          .listen = peer_listen,
                          .release = peer_release,
                          .refused_port = peer_refused_port,
                          .accept = peer_accept,
                          .send = peer_send,
                          .recv = peer_recv,
                          .close = peer_close,
                          .unlisten = peer_unlisten};
}

void port_peer_posix_deinit(port_peer_posix *pp)
{
    peer_unlisten(pp);
    drop(&pp->refused);
}
