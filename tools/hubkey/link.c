/*
 * hubkey — the agent's connections: the device library's TLS link over a
 * thin wrapper of the POSIX platform.
 *
 * Why a wrapper: the event loop waits with one poll() for the network,
 * standard input and signals, so it needs the descriptor of the socket the
 * TLS link opened, and it must know when a send was short (the kernel
 * buffer was full) to wait for the socket to take bytes again. The wrapper
 * sees both as the socket passes through tcp_connect and send (a socket
 * still connecting counts as a short send: writable means connected or
 * failed, and the next step finds out which); everything
 * else goes straight to the POSIX platform. The device opens one
 * connection at a time, so one socket is tracked.
 */
#include <stdio.h>
#include <string.h>

#include "agent_io.h"

void agent_link_resolve(const agent_override *overrides, size_t count, const char *host,
                        uint16_t port, const char **out_address, uint16_t *out_port)
{
    const agent_override *hit = NULL;
    for (size_t i = 0; i < count && !hit; i++)
        if (strcmp(overrides[i].host, host) == 0)
            hit = &overrides[i];
    for (size_t i = 0; i < count && !hit; i++)
        if (strcmp(overrides[i].host, "*") == 0)
            hit = &overrides[i];
    *out_address = hit ? hit->to.host : host;
    *out_port = hit && hit->to.port ? hit->to.port : port;
}

static uint32_t w_monotonic(void *ctx)
{
    agent_link *l = ctx;
    return l->inner->monotonic_ms(l->inner->ctx);
}

static int64_t w_wall(void *ctx)
{
    agent_link *l = ctx;
    return l->inner->wall_s(l->inner->ctx);
}

static hk_result w_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    agent_link *l = ctx;
    hk_result r = l->sock.send(l->sock.ctx, buf, len, out_sent);
    l->want_write = r == HK_OK && *out_sent < len;
    return r;
}

static hk_result w_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    agent_link *l = ctx;
    return l->sock.recv(l->sock.ctx, buf, cap, out_received);
}

static hk_result w_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    agent_link *l = ctx;
    return l->inner->wait(l->inner->ctx, socket && l->sock_open ? &l->sock : NULL, timeout_ms);
}

static hk_result w_connect(void *ctx, const char *host, uint16_t port, hk_transport *out_socket)
{
    agent_link *l = ctx;
    if (l->sock_open)
        return HK_ERR_FULL; /* the device opens one connection at a time */
    snprintf(l->address, sizeof(l->address), "%s", host);
    l->port = port;
    l->opens++;
    hk_result r = l->inner->tcp_connect(l->inner->ctx, host, port, &l->sock);
    if (r != HK_OK)
        return r;
    l->sock_open = true;
    l->want_write = true; /* connecting: writable = the connection is made */
    out_socket->ctx = l;
    out_socket->send = w_send;
    out_socket->recv = w_recv;
    return HK_OK;
}

static void w_close(void *ctx, const hk_transport *socket)
{
    agent_link *l = ctx;
    (void)socket;
    if (!l->sock_open)
        return;
    l->inner->tcp_close(l->inner->ctx, &l->sock);
    l->sock_open = false;
    l->want_write = false;
}

hk_result agent_link_init(agent_link *l, const hk_platform *inner, hk_posix *posix,
                          const hk_se *se, const agent_override *overrides,
                          size_t override_count, const uint8_t *trust_pem, size_t trust_len)
{
    memset(l, 0, sizeof(*l));
    l->inner = inner;
    l->posix = posix;
    l->platform = (hk_platform){.ctx = l,
                                .monotonic_ms = w_monotonic,
                                .wall_s = w_wall,
                                .wait = w_wait,
                                .tcp_connect = w_connect,
                                .tcp_close = w_close};
    /* The TLS link takes the first matching route: exact names first. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < override_count && l->route_count < AGENT_MAX_OVERRIDES; i++) {
            bool any = strcmp(overrides[i].host, "*") == 0;
            if (any != (pass == 1))
                continue;
            l->routes[l->route_count++] = (hk_device_route){
                .host = overrides[i].host, .address = overrides[i].to.host,
                .port = overrides[i].to.port};
        }
    hk_device_tls_config tc = {.platform = &l->platform,
                               .se = se,
                               .trust_pem = trust_pem,
                               .trust_pem_len = trust_len,
                               .routes = l->route_count ? l->routes : NULL,
                               .route_count = l->route_count};
    return hk_device_tls_link_init(&l->tls, &tc, &l->device_link);
}

int agent_link_fd(const agent_link *l)
{
    return l->sock_open ? hk_posix_socket_fd(l->posix, &l->sock) : -1;
}

bool agent_link_want_write(const agent_link *l)
{
    return l->sock_open && l->want_write;
}

const char *agent_link_reason(const agent_link *l)
{
    return hk_device_tls_link_reason(&l->tls);
}
