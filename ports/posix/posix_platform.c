/*
 * POSIX platform: clocks, wait and TCP sockets (see hk_posix.h).
 *
 * Why the connect is non-blocking: a blocking connect() to an address that
 * drops SYNs waits for the kernel's own retry schedule (minutes). Starting it
 * non-blocking and polling for writability bounds it by the caller's timeout,
 * shared across every address getaddrinfo returned (an IPv6 address that is
 * unreachable must not eat the whole budget before IPv4 is tried, so each
 * address gets what is left, and an immediate failure moves on at once).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "hk_posix.h"
#include "posix_sleep.h"

static uint64_t now_ms64(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t posix_monotonic_ms(void *ctx)
{
    (void)ctx;
    return (uint32_t)now_ms64();
}

static int64_t posix_wall_s(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < HK_POSIX_WALL_FLOOR_S)
        return HK_PLATFORM_TIME_UNKNOWN;
    return (int64_t)ts.tv_sec;
}

/* The slot behind a transport, or NULL when it is not an open socket of p. */
static hk_posix_socket *slot_of(hk_posix *p, const hk_transport *t)
{
    if (p == NULL || t == NULL)
        return NULL;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS; i++) {
        hk_posix_socket *s = &p->_internal.sockets[i];
        if (t->ctx == (void *)s && s->_internal.fd >= 0)
            return s;
    }
    return NULL;
}

static hk_result sock_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_posix_socket *s = ctx;
    if (s == NULL || out_sent == NULL || (buf == NULL && len > 0))
        return HK_ERR_INVALID_ARG;
    *out_sent = 0;
    if (s->_internal.fd < 0)
        return HK_ERR_STATE;
    if (len == 0)
        return HK_OK;
    ssize_t n;
    do {
        n = send(s->_internal.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->_internal.want_write = true;
            return HK_OK;
        }
        return errno == EPIPE || errno == ECONNRESET ? HK_ERR_CLOSED : HK_ERR_IO;
    }
    *out_sent = (size_t)n;
    s->_internal.want_write = (size_t)n < len;
    return HK_OK;
}

static hk_result sock_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_posix_socket *s = ctx;
    if (s == NULL || out_received == NULL || buf == NULL || cap == 0)
        return HK_ERR_INVALID_ARG;
    *out_received = 0;
    if (s->_internal.fd < 0)
        return HK_ERR_STATE;
    ssize_t n;
    do {
        n = recv(s->_internal.fd, buf, cap, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return HK_ERR_CLOSED;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return HK_OK;
        return errno == ECONNRESET ? HK_ERR_CLOSED : HK_ERR_IO;
    }
    *out_received = (size_t)n;
    return HK_OK;
}

static hk_result posix_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    hk_posix *p = ctx;
    if (socket == NULL) {
        hk_posix_sleep_us((uint64_t)timeout_ms * 1000u);
        return HK_OK;
    }
    hk_posix_socket *s = slot_of(p, socket);
    if (s == NULL)
        return HK_ERR_INVALID_ARG;
    struct pollfd pfd = {.fd = s->_internal.fd,
                         .events = (short)(POLLIN | (s->_internal.want_write ? POLLOUT : 0))};
    uint64_t end = now_ms64() + timeout_ms;
    for (;;) {
        uint64_t now = now_ms64();
        int left = now >= end ? 0 : (int)(end - now > INT32_MAX ? INT32_MAX : end - now);
        int rc = poll(&pfd, 1, left);
        if (rc >= 0 || errno != EINTR)
            break;
    }
    /* Readiness, hang-up and error all mean "call the engine": its recv or
     * send reports what happened. */
    return HK_OK;
}

/* Finish a non-blocking connect on fd within timeout_ms. */
static hk_result connect_one(int fd, const struct sockaddr *addr, socklen_t addrlen,
                             uint64_t end_ms)
{
    if (connect(fd, addr, addrlen) == 0)
        return HK_OK;
    if (errno != EINPROGRESS && errno != EINTR)
        return HK_ERR_CONNECT;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    for (;;) {
        uint64_t now = now_ms64();
        if (now >= end_ms)
            return HK_ERR_TIMEOUT;
        uint64_t left = end_ms - now;
        int rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return HK_ERR_IO;
        if (rc == 0)
            return HK_ERR_TIMEOUT;
        break;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        return HK_ERR_CONNECT;
    return HK_OK;
}

static hk_result posix_tcp_connect(void *ctx, const char *host, uint16_t port, uint32_t timeout_ms,
                                   hk_transport *out_socket)
{
    hk_posix *p = ctx;
    if (p == NULL || host == NULL || host[0] == '\0' || port == 0 || out_socket == NULL)
        return HK_ERR_INVALID_ARG;
    hk_posix_socket *slot = NULL;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS && slot == NULL; i++)
        if (p->_internal.sockets[i]._internal.fd < 0)
            slot = &p->_internal.sockets[i];
    if (slot == NULL)
        return HK_ERR_FULL;

    uint64_t end = now_ms64() + timeout_ms;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, service, &hints, &list) != 0 || list == NULL)
        return HK_ERR_RESOLVE;

    hk_result r = HK_ERR_CONNECT;
    int fd = -1;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            r = HK_ERR_CONNECT;
            continue;
        }
        r = connect_one(fd, ai->ai_addr, ai->ai_addrlen, end);
        if (r == HK_OK)
            break;
        close(fd);
        fd = -1;
        if (r == HK_ERR_TIMEOUT || r == HK_ERR_IO)
            break;
    }
    freeaddrinfo(list);
    if (fd < 0)
        return r;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    slot->_internal.fd = fd;
    slot->_internal.want_write = false;
    out_socket->ctx = slot;
    out_socket->send = sock_send;
    out_socket->recv = sock_recv;
    return HK_OK;
}

static void posix_tcp_close(void *ctx, const hk_transport *socket)
{
    hk_posix_socket *s = slot_of(ctx, socket);
    if (s == NULL)
        return;
    close(s->_internal.fd);
    s->_internal.fd = -1;
    s->_internal.want_write = false;
}

hk_result hk_posix_init(hk_posix *posix, hk_platform *out_platform)
{
    if (posix == NULL || out_platform == NULL)
        return HK_ERR_INVALID_ARG;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS; i++) {
        posix->_internal.sockets[i]._internal.fd = -1;
        posix->_internal.sockets[i]._internal.want_write = false;
    }
    out_platform->ctx = posix;
    out_platform->monotonic_ms = posix_monotonic_ms;
    out_platform->wall_s = posix_wall_s;
    out_platform->wait = posix_wait;
    out_platform->tcp_connect = posix_tcp_connect;
    out_platform->tcp_close = posix_tcp_close;
    return HK_OK;
}

void hk_posix_deinit(hk_posix *posix)
{
    if (posix == NULL)
        return;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS; i++) {
        hk_posix_socket *s = &posix->_internal.sockets[i];
        if (s->_internal.fd >= 0)
            close(s->_internal.fd);
        s->_internal.fd = -1;
        s->_internal.want_write = false;
    }
}

int hk_posix_socket_fd(const hk_posix *posix, const hk_transport *socket)
{
    hk_posix_socket *s = slot_of((hk_posix *)posix, socket);
    return s == NULL ? -1 : s->_internal.fd;
}
