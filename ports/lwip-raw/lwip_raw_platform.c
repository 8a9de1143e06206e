/*
 * hk_platform over lwIP's raw API (see hk_lwip_raw.h).
 *
 * lwIP's raw API is callback-driven: a connect, received data and errors
 * arrive as calls from inside lwIP (while the board runs the interface and
 * the timers). hubkey's seam is polled. This file is the adapter: the
 * callbacks only record what happened in the socket (state, queued pbufs,
 * the failure), and send/recv/wait read that record. Nothing here calls
 * back into hubkey from lwIP's context.
 *
 * Flow control: received pbufs stay queued until recv copies them out, and
 * only then is the window opened (tcp_recved), so the pbuf pool never holds
 * more than one receive window per connection.
 *
 * Name resolution is numeric only. The boards this port serves map names to
 * addresses with the TLS link's routes; a DNS client would add code and a
 * UDP path that nothing here can test, so a name that is not an IPv4
 * literal is HK_ERR_RESOLVE at once.
 */
#include <string.h>

#include "hk_lwip_raw.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"

enum { SOCK_FREE = 0, SOCK_CONNECTING, SOCK_CONNECTED, SOCK_FAILED };

typedef hk_lwip_raw_socket sock;

static bool reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void release_rx(sock *s)
{
    if (s->_internal.rx != NULL)
        pbuf_free(s->_internal.rx);
    s->_internal.rx = NULL;
}

static void detach(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
}

/* ---- lwIP callbacks: record, never act -------------------------------------- */

static void on_err(void *arg, err_t err)
{
    sock *s = arg;
    if (s == NULL)
        return;
    s->_internal.pcb = NULL; /* lwIP has freed it */
    /* A reset once connected is the peer ending the stream (as ECONNRESET is
     * for the POSIX port); before that, the connect failed. */
    s->_internal.failure = s->_internal.state == SOCK_CONNECTING ? HK_ERR_CONNECT
                           : err == ERR_RST || err == ERR_CLSD ? HK_ERR_CLOSED
                                                               : HK_ERR_IO;
    s->_internal.state = SOCK_FAILED;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    sock *s = arg;
    (void)pcb;
    if (s != NULL && err == ERR_OK)
        s->_internal.state = SOCK_CONNECTED;
    return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    sock *s = arg;
    (void)pcb;
    if (s == NULL) {
        if (p != NULL)
            pbuf_free(p);
        return ERR_OK;
    }
    if (p == NULL) {
        s->_internal.peer_closed = true;
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return ERR_OK;
    }
    if (s->_internal.rx == NULL)
        s->_internal.rx = p;
    else
        pbuf_cat(s->_internal.rx, p);
    return ERR_OK;
}

/* ---- the socket transport ------------------------------------------------------ */

static hk_result sock_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    sock *s = ctx;
    if (s == NULL || out_sent == NULL || (buf == NULL && len > 0))
        return HK_ERR_INVALID_ARG;
    *out_sent = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    if (s->_internal.state == SOCK_FAILED)
        return s->_internal.failure;
    if (s->_internal.state == SOCK_CONNECTING || len == 0) {
        s->_internal.want_write = len > 0;
        return HK_OK;
    }
    if (s->_internal.peer_closed)
        return HK_ERR_CLOSED;
    struct tcp_pcb *pcb = s->_internal.pcb;
    size_t room = tcp_sndbuf(pcb);
    size_t n = len < room ? len : room;
    if (n > 0xFFFFu)
        n = 0xFFFFu;
    if (n > 0 && tcp_write(pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
        n = 0; /* segment queue full: later */
    if (n > 0)
        (void)tcp_output(pcb);
    *out_sent = n;
    s->_internal.want_write = n < len;
    return HK_OK;
}

static hk_result sock_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    sock *s = ctx;
    if (s == NULL || out_received == NULL || buf == NULL || cap == 0)
        return HK_ERR_INVALID_ARG;
    *out_received = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    if (s->_internal.rx == NULL && s->_internal.state != SOCK_FAILED &&
        !s->_internal.peer_closed) {
        const hk_lwip_raw_config *c = &s->_internal.owner->_internal.cfg;
        c->run(c->ctx); /* take what the interface holds */
    }
    struct pbuf *rx = s->_internal.rx;
    if (rx != NULL) {
        u16_t n = (u16_t)(cap < rx->tot_len ? cap : rx->tot_len);
        (void)pbuf_copy_partial(rx, buf, n, 0);
        s->_internal.rx = pbuf_free_header(rx, n);
        if (s->_internal.pcb != NULL)
            tcp_recved(s->_internal.pcb, n);
        *out_received = n;
        return HK_OK;
    }
    if (s->_internal.state == SOCK_FAILED)
        return s->_internal.failure;
    if (s->_internal.peer_closed)
        return HK_ERR_CLOSED;
    return HK_OK;
}

/* ---- the platform ---------------------------------------------------------------- */

static sock *slot_of(hk_lwip_raw *p, const hk_transport *t)
{
    if (p == NULL || t == NULL)
        return NULL;
    for (size_t i = 0; i < HK_LWIP_RAW_MAX_SOCKETS; i++) {
        sock *s = &p->_internal.sockets[i];
        if (t->ctx == (void *)s && s->_internal.used)
            return s;
    }
    return NULL;
}

static uint32_t raw_monotonic_ms(void *ctx)
{
    hk_lwip_raw *p = ctx;
    return p->_internal.cfg.now_ms(p->_internal.cfg.ctx);
}

static int64_t raw_wall_s(void *ctx)
{
    hk_lwip_raw *p = ctx;
    const hk_lwip_raw_config *c = &p->_internal.cfg;
    return c->wall_s != NULL ? c->wall_s(c->ctx) : HK_PLATFORM_TIME_UNKNOWN;
}

/* Anything for the socket's user to do: bytes or a close to read, room
 * after a short send, or the connect finished either way. */
static bool has_news(const sock *s, uint8_t state_before)
{
    if (s->_internal.state != state_before || s->_internal.state == SOCK_FAILED)
        return true;
    if (s->_internal.rx != NULL || s->_internal.peer_closed)
        return true;
    return s->_internal.state == SOCK_CONNECTED && s->_internal.want_write &&
           s->_internal.pcb != NULL && tcp_sndbuf(s->_internal.pcb) > 0;
}

static hk_result raw_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    hk_lwip_raw *p = ctx;
    const hk_lwip_raw_config *c = &p->_internal.cfg;
    sock *s = NULL;
    if (socket != NULL && (s = slot_of(p, socket)) == NULL)
        return HK_ERR_INVALID_ARG;
    uint8_t before = s != NULL ? s->_internal.state : 0;
    uint32_t end = c->now_ms(c->ctx) + timeout_ms;
    for (;;) {
        c->run(c->ctx);
        if (s != NULL && has_news(s, before))
            return HK_OK;
        if (reached(c->now_ms(c->ctx), end))
            return HK_OK;
        if (c->idle != NULL)
            c->idle(c->ctx);
    }
}

static hk_result raw_tcp_connect(void *ctx, const char *host, uint16_t port,
                                 hk_transport *out_socket)
{
    hk_lwip_raw *p = ctx;
    if (p == NULL || host == NULL || host[0] == '\0' || port == 0 || out_socket == NULL)
        return HK_ERR_INVALID_ARG;
    ip_addr_t addr;
    if (!ipaddr_aton(host, &addr))
        return HK_ERR_RESOLVE;
    sock *s = NULL;
    for (size_t i = 0; i < HK_LWIP_RAW_MAX_SOCKETS && s == NULL; i++)
        if (!p->_internal.sockets[i]._internal.used)
            s = &p->_internal.sockets[i];
    if (s == NULL)
        return HK_ERR_FULL;
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(&addr));
    if (pcb == NULL)
        return HK_ERR_FULL; /* lwIP's PCB pool is exhausted */
    memset(s, 0, sizeof *s);
    s->_internal.owner = p;
    s->_internal.pcb = pcb;
    s->_internal.state = SOCK_CONNECTING;
    s->_internal.used = true;
    tcp_arg(pcb, s);
    tcp_err(pcb, on_err);
    tcp_recv(pcb, on_recv);
    tcp_nagle_disable(pcb); /* MQTT packets are small and latency-bound */
    if (tcp_connect(pcb, &addr, port, on_connected) != ERR_OK) {
        detach(pcb);
        tcp_abort(pcb);
        memset(s, 0, sizeof *s);
        return HK_ERR_CONNECT; /* no route, or no memory for the SYN */
    }
    out_socket->ctx = s;
    out_socket->send = sock_send;
    out_socket->recv = sock_recv;
    return HK_OK;
}

static void close_sock(sock *s)
{
    struct tcp_pcb *pcb = s->_internal.pcb;
    if (pcb != NULL) {
        detach(pcb);
        /* A connect still in progress or a close lwIP cannot queue: abort
         * (RST) rather than leave a PCB nobody owns. */
        if (s->_internal.state != SOCK_CONNECTED || tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
    }
    release_rx(s);
    memset(s, 0, sizeof *s);
}

static void raw_tcp_close(void *ctx, const hk_transport *socket)
{
    sock *s = slot_of(ctx, socket);
    if (s != NULL)
        close_sock(s);
}

hk_result hk_lwip_raw_init(hk_lwip_raw *port, const hk_lwip_raw_config *config,
                           hk_platform *out_platform)
{
    if (port == NULL || config == NULL || out_platform == NULL || config->now_ms == NULL ||
        config->run == NULL)
        return HK_ERR_INVALID_ARG;
    memset(port, 0, sizeof *port);
    port->_internal.cfg = *config;
    out_platform->ctx = port;
    out_platform->monotonic_ms = raw_monotonic_ms;
    out_platform->wall_s = raw_wall_s;
    out_platform->wait = raw_wait;
    out_platform->tcp_connect = raw_tcp_connect;
    out_platform->tcp_close = raw_tcp_close;
    return HK_OK;
}

void hk_lwip_raw_deinit(hk_lwip_raw *port)
{
    if (port == NULL)
        return;
    for (size_t i = 0; i < HK_LWIP_RAW_MAX_SOCKETS; i++)
        if (port->_internal.sockets[i]._internal.used)
            close_sock(&port->_internal.sockets[i]);
}
