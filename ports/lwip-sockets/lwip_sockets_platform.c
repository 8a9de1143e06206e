/*
 * hk_platform over lwIP's socket API (see hk_lwip_sockets.h).
 *
 * The same shape as the POSIX port (ports/posix/posix_platform.c), for the
 * same reasons: the boot flow's step must never block on a network peer, so
 * tcp_connect only starts the connect and whoever polls the socket next
 * (send, recv, wait) finishes it; the resolved addresses are copied into
 * the socket so a refused or silent address can be followed by the next
 * without resolving again.
 *
 * lwIP differences that shaped this file:
 *  - lwip_fcntl knows only F_GETFL/F_SETFL with O_NONBLOCK, so the flag is
 *    set on its own (no read-modify-write of other flags).
 *  - lwip_poll reports a failed connect as POLLERR or as writable
 *    depending on the version; either way SO_ERROR (read and cleared by
 *    lwIP) says which happened, so readiness only means "look".
 *  - Some builds have only select (LWIP_SOCKET_POLL 0): wait uses
 *    lwip_select there.
 *  - lwIP has no SIGPIPE, so no MSG_NOSIGNAL.
 *  - Without LWIP_DNS there is no resolver: numeric addresses only.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/sockets.h"
#if LWIP_DNS
#include "lwip/netdb.h"
#endif

#include "hk_lwip_sockets.h"

#if !LWIP_SOCKET
#error "hk_lwip_sockets needs lwIP's socket API (LWIP_SOCKET 1)"
#endif
#if !LWIP_SOCKET_POLL && !LWIP_SOCKET_SELECT
#error "hk_lwip_sockets needs lwip_poll or lwip_select"
#endif

#ifndef TCP_NODELAY
#define TCP_NODELAY 0x01 /* lwIP's value */
#endif

_Static_assert(sizeof(struct sockaddr_in) <= HK_LWIP_SOCKETS_ADDR_BYTES,
               "HK_LWIP_SOCKETS_ADDR_BYTES too small for sockaddr_in");
#if LWIP_IPV6
_Static_assert(sizeof(struct sockaddr_in6) <= HK_LWIP_SOCKETS_ADDR_BYTES,
               "HK_LWIP_SOCKETS_ADDR_BYTES too small for sockaddr_in6");
#endif

static uint32_t port_monotonic_ms(void *ctx)
{
    hk_lwip_sockets *p = ctx;
    return p->_internal.cfg.now_ms(p->_internal.cfg.ctx);
}

static int64_t port_wall_s(void *ctx)
{
    hk_lwip_sockets *p = ctx;
    if (p->_internal.cfg.wall_s == NULL)
        return HK_PLATFORM_TIME_UNKNOWN;
    return p->_internal.cfg.wall_s(p->_internal.cfg.ctx);
}

/* The slot behind a transport, or NULL when it is not an open socket of p. */
static hk_lwip_sockets_socket *slot_of(hk_lwip_sockets *p, const hk_transport *t)
{
    if (p == NULL || t == NULL)
        return NULL;
    for (size_t i = 0; i < HK_LWIP_SOCKETS_MAX_SOCKETS; i++) {
        hk_lwip_sockets_socket *s = &p->_internal.sockets[i];
        if (t->ctx == (void *)s && s->_internal.used)
            return s;
    }
    return NULL;
}

static void drop_fd(hk_lwip_sockets_socket *s)
{
    if (s->_internal.fd >= 0)
        (void)lwip_close(s->_internal.fd);
    s->_internal.fd = -1;
}

static void clear_slot(hk_lwip_sockets_socket *s)
{
    memset(s, 0, sizeof(*s));
    s->_internal.fd = -1;
}

/* Start a connect to the socket's next untried address; on to the one after
 * when it fails at once. false when none is left (the socket has failed). */
static bool start_next(hk_lwip_sockets *p, hk_lwip_sockets_socket *s)
{
    drop_fd(s);
    while (s->_internal.addr_next < s->_internal.addr_count) {
        const struct hk_lwip_sockets_addr *a = &s->_internal.addrs[s->_internal.addr_next];
        const struct sockaddr *sa = (const struct sockaddr *)(const void *)a->bytes;
        int fd = lwip_socket(sa->sa_family, SOCK_STREAM, IPPROTO_TCP);
        if (fd >= 0) {
            if (lwip_fcntl(fd, F_SETFL, O_NONBLOCK) == 0) {
                int rc = lwip_connect(fd, sa, (socklen_t)a->len);
                if (rc == 0 || errno == EINPROGRESS) {
                    s->_internal.fd = fd;
                    s->_internal.connecting = true;
                    s->_internal.addr_since_ms = port_monotonic_ms(p);
                    return true;
                }
            }
            (void)lwip_close(fd);
        }
        s->_internal.addr_next++;
    }
    s->_internal.connecting = false;
    s->_internal.failed = true;
    return false;
}

/* Readiness of one socket within timeout_ms: *out_readable / *out_writable
 * (an error or hang-up counts as both: the next call will see it). */
static void poll_one(int fd, bool want_write, uint32_t timeout_ms, bool *out_readable,
                     bool *out_writable)
{
    int timeout = timeout_ms > (uint32_t)INT32_MAX ? INT32_MAX : (int)timeout_ms;
    *out_readable = false;
    *out_writable = false;
#if LWIP_SOCKET_POLL
    struct pollfd pfd;
    memset(&pfd, 0, sizeof(pfd));
    pfd.fd = fd;
    pfd.events = (short)(POLLIN | (want_write ? POLLOUT : 0));
    if (lwip_poll(&pfd, 1, timeout) <= 0)
        return;
    bool failed = (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    *out_readable = failed || (pfd.revents & POLLIN) != 0;
    *out_writable = failed || (pfd.revents & POLLOUT) != 0;
#else
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    FD_SET(fd, &rd);
    FD_SET(fd, &ex);
    if (want_write)
        FD_SET(fd, &wr);
    struct timeval tv = {.tv_sec = timeout / 1000, .tv_usec = (timeout % 1000) * 1000};
    if (lwip_select(fd + 1, &rd, want_write ? &wr : NULL, &ex, &tv) <= 0)
        return;
    bool failed = FD_ISSET(fd, &ex) != 0;
    *out_readable = failed || FD_ISSET(fd, &rd) != 0;
    *out_writable = failed || (want_write && FD_ISSET(fd, &wr) != 0);
#endif
}

/* Move a connecting socket on without blocking: HK_OK once connected (or
 * still connecting: then *out_pending), HK_ERR_CONNECT once every address
 * failed. */
static hk_result progress(hk_lwip_sockets *p, hk_lwip_sockets_socket *s, bool *out_pending)
{
    *out_pending = false;
    while (s->_internal.connecting) {
        bool readable, writable;
        poll_one(s->_internal.fd, true, 0, &readable, &writable);
        if (!readable && !writable) {
            bool more = s->_internal.addr_next + 1u < s->_internal.addr_count;
            uint32_t spent = port_monotonic_ms(p) - s->_internal.addr_since_ms;
            if (!more || spent < HK_LWIP_SOCKETS_ADDRESS_STEP_MS) {
                *out_pending = true;
                return HK_OK;
            }
            s->_internal.addr_next++; /* this one is slow: the next */
            (void)start_next(p, s);
            continue;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (lwip_getsockopt(s->_internal.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 &&
            writable) {
            int one = 1;
            (void)lwip_setsockopt(s->_internal.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->_internal.connecting = false;
            s->_internal.want_write = false;
            return HK_OK;
        }
        if (err == 0 || err == EINPROGRESS || err == EALREADY) {
            /* Readable but not writable while connecting, and no error
             * recorded: nothing decided yet. */
            *out_pending = true;
            return HK_OK;
        }
        s->_internal.addr_next++;
        (void)start_next(p, s);
    }
    return s->_internal.failed ? HK_ERR_CONNECT : HK_OK;
}

static hk_result sock_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_lwip_sockets_socket *s = ctx;
    if (s == NULL || out_sent == NULL || (buf == NULL && len > 0))
        return HK_ERR_INVALID_ARG;
    *out_sent = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    bool pending;
    hk_result r = progress(s->_internal.owner, s, &pending);
    if (r != HK_OK)
        return r;
    if (pending) {
        s->_internal.want_write = len > 0;
        return HK_OK;
    }
    if (len == 0)
        return HK_OK;
    ssize_t n = lwip_send(s->_internal.fd, buf, len, MSG_DONTWAIT);
    if (n < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOMEM) {
            /* ENOMEM: lwIP's pools are momentarily out of segments, which
             * is back-pressure too. */
            s->_internal.want_write = true;
            return HK_OK;
        }
        return e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == ECONNABORTED ? HK_ERR_CLOSED
                                                                                  : HK_ERR_IO;
    }
    *out_sent = (size_t)n;
    s->_internal.want_write = (size_t)n < len;
    return HK_OK;
}

static hk_result sock_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_lwip_sockets_socket *s = ctx;
    if (s == NULL || out_received == NULL || buf == NULL || cap == 0)
        return HK_ERR_INVALID_ARG;
    *out_received = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    bool pending;
    hk_result r = progress(s->_internal.owner, s, &pending);
    if (r != HK_OK || pending)
        return r;
    ssize_t n = lwip_recv(s->_internal.fd, buf, cap, MSG_DONTWAIT);
    if (n == 0)
        return HK_ERR_CLOSED;
    if (n < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return HK_OK;
        return e == ECONNRESET || e == ENOTCONN || e == ECONNABORTED ? HK_ERR_CLOSED : HK_ERR_IO;
    }
    *out_received = (size_t)n;
    return HK_OK;
}

static hk_result port_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    hk_lwip_sockets *p = ctx;
    if (p == NULL)
        return HK_ERR_INVALID_ARG;
    if (socket == NULL) {
        p->_internal.cfg.sleep_ms(p->_internal.cfg.ctx, timeout_ms);
        return HK_OK;
    }
    hk_lwip_sockets_socket *s = slot_of(p, socket);
    if (s == NULL)
        return HK_ERR_INVALID_ARG;
    if (s->_internal.fd < 0) /* failed: the next send or recv says so */
        return HK_OK;
    uint32_t timeout = timeout_ms;
    if (s->_internal.connecting && s->_internal.addr_next + 1u < s->_internal.addr_count) {
        /* Wake up when the next address is due. */
        uint32_t spent = port_monotonic_ms(p) - s->_internal.addr_since_ms;
        uint32_t left = spent >= HK_LWIP_SOCKETS_ADDRESS_STEP_MS
                            ? 0
                            : HK_LWIP_SOCKETS_ADDRESS_STEP_MS - spent;
        if (left < timeout)
            timeout = left;
    }
    bool readable, writable;
    /* Readiness, hang-up and error all mean "call the engine": its recv or
     * send reports what happened (and finishes a connect). */
    poll_one(s->_internal.fd, s->_internal.connecting || s->_internal.want_write, timeout,
             &readable, &writable);
    return HK_OK;
}

/* A port number in network byte order, whatever the build thinks the host's
 * byte order is. */
static void set_port(void *field, uint16_t port)
{
    uint8_t be[2] = {(uint8_t)(port >> 8), (uint8_t)port};
    memcpy(field, be, sizeof(be));
}

/* Fill the socket's address list from host: a numeric address as is, else
 * lwIP's resolver when there is one. */
static hk_result resolve(hk_lwip_sockets_socket *s, const char *host, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    if (lwip_inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        set_port(&sin.sin_port, port);
        memcpy(s->_internal.addrs[0].bytes, &sin, sizeof(sin));
        s->_internal.addrs[0].len = (uint32_t)sizeof(sin);
        s->_internal.addr_count = 1;
        return HK_OK;
    }
#if LWIP_IPV6
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    if (lwip_inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        set_port(&sin6.sin6_port, port);
        memcpy(s->_internal.addrs[0].bytes, &sin6, sizeof(sin6));
        s->_internal.addrs[0].len = (uint32_t)sizeof(sin6);
        s->_internal.addr_count = 1;
        return HK_OK;
    }
#endif
#if LWIP_DNS
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *list = NULL;
    if (lwip_getaddrinfo(host, NULL, &hints, &list) != 0 || list == NULL)
        return HK_ERR_RESOLVE;
    for (struct addrinfo *ai = list;
         ai != NULL && s->_internal.addr_count < HK_LWIP_SOCKETS_MAX_ADDRESSES; ai = ai->ai_next) {
        struct hk_lwip_sockets_addr *a = &s->_internal.addrs[s->_internal.addr_count];
        if (ai->ai_addr == NULL || ai->ai_addrlen > sizeof(a->bytes))
            continue;
        memcpy(a->bytes, ai->ai_addr, ai->ai_addrlen);
        struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)a->bytes;
        set_port(&in4->sin_port, port); /* same place in sockaddr_in6 */
        a->len = (uint32_t)ai->ai_addrlen;
        s->_internal.addr_count++;
    }
    lwip_freeaddrinfo(list);
    return s->_internal.addr_count > 0 ? HK_OK : HK_ERR_RESOLVE;
#else
    return HK_ERR_RESOLVE;
#endif
}

static hk_result port_tcp_connect(void *ctx, const char *host, uint16_t port,
                                  hk_transport *out_socket)
{
    hk_lwip_sockets *p = ctx;
    if (p == NULL || host == NULL || host[0] == '\0' || port == 0 || out_socket == NULL)
        return HK_ERR_INVALID_ARG;
    hk_lwip_sockets_socket *slot = NULL;
    for (size_t i = 0; i < HK_LWIP_SOCKETS_MAX_SOCKETS && slot == NULL; i++)
        if (!p->_internal.sockets[i]._internal.used)
            slot = &p->_internal.sockets[i];
    if (slot == NULL)
        return HK_ERR_FULL;
    clear_slot(slot);
    slot->_internal.owner = p;
    hk_result r = resolve(slot, host, port);
    if (r != HK_OK) {
        clear_slot(slot);
        return r;
    }
    if (!start_next(p, slot)) {
        clear_slot(slot);
        return HK_ERR_CONNECT;
    }
    slot->_internal.used = true;
    out_socket->ctx = slot;
    out_socket->send = sock_send;
    out_socket->recv = sock_recv;
    return HK_OK;
}

static void port_tcp_close(void *ctx, const hk_transport *socket)
{
    hk_lwip_sockets_socket *s = slot_of(ctx, socket);
    if (s == NULL)
        return;
    drop_fd(s);
    clear_slot(s);
}

hk_result hk_lwip_sockets_init(hk_lwip_sockets *port, const hk_lwip_sockets_config *config,
                               hk_platform *out_platform)
{
    if (port == NULL || config == NULL || out_platform == NULL || config->now_ms == NULL ||
        config->sleep_ms == NULL)
        return HK_ERR_INVALID_ARG;
    port->_internal.cfg = *config;
    for (size_t i = 0; i < HK_LWIP_SOCKETS_MAX_SOCKETS; i++)
        clear_slot(&port->_internal.sockets[i]);
    out_platform->ctx = port;
    out_platform->monotonic_ms = port_monotonic_ms;
    out_platform->wall_s = port_wall_s;
    out_platform->wait = port_wait;
    out_platform->tcp_connect = port_tcp_connect;
    out_platform->tcp_close = port_tcp_close;
    return HK_OK;
}

void hk_lwip_sockets_deinit(hk_lwip_sockets *port)
{
    if (port == NULL)
        return;
    for (size_t i = 0; i < HK_LWIP_SOCKETS_MAX_SOCKETS; i++) {
        drop_fd(&port->_internal.sockets[i]);
        clear_slot(&port->_internal.sockets[i]);
    }
}

int hk_lwip_sockets_fd(const hk_lwip_sockets *port, const hk_transport *socket)
{
    hk_lwip_sockets_socket *s = slot_of((hk_lwip_sockets *)port, socket);
    return s == NULL ? -1 : s->_internal.fd;
}
