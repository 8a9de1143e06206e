/*
 * POSIX platform: clocks, wait and TCP sockets (see hk_posix.h).
 *
 * Why tcp_connect only starts the connect: the boot flow's step must never
 * block on a network peer (a connect() to an address that drops SYNs waits
 * for the kernel's retry schedule, minutes). The handshake is finished by
 * whoever polls the socket next (send, recv, wait), exactly as the TLS
 * handshake above it is, and the caller's one set-up timeout bounds both.
 * The resolved addresses are copied into the socket (getaddrinfo's list is
 * freed at once) so a refused or slow address can be followed by the next
 * without resolving again.
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
        if (t->ctx == (void *)s && s->_internal.used)
            return s;
    }
    return NULL;
}

static void drop_fd(hk_posix_socket *s)
{
    if (s->_internal.fd >= 0)
        close(s->_internal.fd);
    s->_internal.fd = -1;
}

/* Start a connect to the socket's next untried address; on to the one after
 * when it fails at once. false when none is left (the socket has failed). */
static bool start_next(hk_posix_socket *s)
{
    drop_fd(s);
    while (s->_internal.addr_next < s->_internal.addr_count) {
        const struct hk_posix_addr *a = &s->_internal.addrs[s->_internal.addr_next];
        const struct sockaddr *sa = (const struct sockaddr *)(const void *)a->bytes;
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd >= 0) {
            int rc;
            do {
                rc = connect(fd, sa, (socklen_t)a->len);
            } while (rc != 0 && errno == EINTR);
            if (rc == 0 || errno == EINPROGRESS) {
                s->_internal.fd = fd;
                s->_internal.connecting = true;
                s->_internal.addr_since_ms = now_ms64();
                return true;
            }
            close(fd);
        }
        s->_internal.addr_next++;
    }
    s->_internal.connecting = false;
    s->_internal.failed = true;
    return false;
}

/* Move a connecting socket on without blocking: HK_OK once connected (or
 * still connecting: then *out_pending), HK_ERR_CONNECT once every address
 * failed. */
static hk_result progress(hk_posix_socket *s, bool *out_pending)
{
    *out_pending = false;
    while (s->_internal.connecting) {
        struct pollfd pfd = {.fd = s->_internal.fd, .events = POLLOUT};
        int rc = poll(&pfd, 1, 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            bool more = s->_internal.addr_next + 1u < s->_internal.addr_count;
            if (!more || now_ms64() - s->_internal.addr_since_ms < HK_POSIX_ADDRESS_STEP_MS) {
                *out_pending = true;
                return HK_OK;
            }
            s->_internal.addr_next++; /* this one is slow: the next */
            (void)start_next(s);
            continue;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (rc > 0 && getsockopt(s->_internal.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
            err == 0) {
            int one = 1;
            (void)setsockopt(s->_internal.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->_internal.connecting = false;
            s->_internal.want_write = false;
            return HK_OK;
        }
        s->_internal.addr_next++;
        (void)start_next(s);
    }
    return s->_internal.failed ? HK_ERR_CONNECT : HK_OK;
}

static hk_result sock_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_posix_socket *s = ctx;
    if (s == NULL || out_sent == NULL || (buf == NULL && len > 0))
        return HK_ERR_INVALID_ARG;
    *out_sent = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    bool pending;
    hk_result r = progress(s, &pending);
    if (r != HK_OK)
        return r;
    if (pending) {
        s->_internal.want_write = len > 0;
        return HK_OK;
    }
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
    if (!s->_internal.used)
        return HK_ERR_STATE;
    bool pending;
    hk_result r = progress(s, &pending);
    if (r != HK_OK || pending)
        return r;
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
    if (s->_internal.fd < 0) /* failed: the next send or recv says so */
        return HK_OK;
    uint64_t end = now_ms64() + timeout_ms;
    if (s->_internal.connecting && s->_internal.addr_next + 1u < s->_internal.addr_count) {
        /* Wake up when the next address is due. */
        uint64_t step = s->_internal.addr_since_ms + HK_POSIX_ADDRESS_STEP_MS;
        if (step < end)
            end = step;
    }
    bool out = s->_internal.connecting || s->_internal.want_write;
    struct pollfd pfd = {.fd = s->_internal.fd, .events = (short)(POLLIN | (out ? POLLOUT : 0))};
    for (;;) {
        uint64_t now = now_ms64();
        int left = now >= end ? 0 : (int)(end - now > INT32_MAX ? INT32_MAX : end - now);
        int rc = poll(&pfd, 1, left);
        if (rc >= 0 || errno != EINTR)
            break;
    }
    /* Readiness, hang-up and error all mean "call the engine": its recv or
     * send reports what happened (and finishes a connect). */
    return HK_OK;
}

static hk_result posix_tcp_connect(void *ctx, const char *host, uint16_t port,
                                   hk_transport *out_socket)
{
    hk_posix *p = ctx;
    if (p == NULL || host == NULL || host[0] == '\0' || port == 0 || out_socket == NULL)
        return HK_ERR_INVALID_ARG;
    hk_posix_socket *slot = NULL;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS && slot == NULL; i++)
        if (!p->_internal.sockets[i]._internal.used)
            slot = &p->_internal.sockets[i];
    if (slot == NULL)
        return HK_ERR_FULL;

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
    memset(slot, 0, sizeof(*slot));
    slot->_internal.fd = -1;
    for (struct addrinfo *ai = list;
         ai != NULL && slot->_internal.addr_count < HK_POSIX_MAX_ADDRESSES; ai = ai->ai_next) {
        struct hk_posix_addr *a = &slot->_internal.addrs[slot->_internal.addr_count];
        if (ai->ai_addrlen > sizeof(a->bytes))
            continue;
        memcpy(a->bytes, ai->ai_addr, ai->ai_addrlen);
        a->len = (uint32_t)ai->ai_addrlen;
        slot->_internal.addr_count++;
    }
    freeaddrinfo(list);
    if (!start_next(slot)) {
        memset(slot, 0, sizeof(*slot));
        slot->_internal.fd = -1;
        return HK_ERR_CONNECT;
    }
    slot->_internal.used = true;
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
    drop_fd(s);
    memset(s, 0, sizeof(*s));
    s->_internal.fd = -1;
}

hk_result hk_posix_init(hk_posix *posix, hk_platform *out_platform)
{
    if (posix == NULL || out_platform == NULL)
        return HK_ERR_INVALID_ARG;
    for (size_t i = 0; i < HK_POSIX_MAX_SOCKETS; i++) {
        memset(&posix->_internal.sockets[i], 0, sizeof(posix->_internal.sockets[i]));
        posix->_internal.sockets[i]._internal.fd = -1;
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
        drop_fd(s);
        memset(s, 0, sizeof(*s));
        s->_internal.fd = -1;
    }
}

int hk_posix_socket_fd(const hk_posix *posix, const hk_transport *socket)
{
    hk_posix_socket *s = slot_of((hk_posix *)posix, socket);
    return s == NULL ? -1 : s->_internal.fd;
}
