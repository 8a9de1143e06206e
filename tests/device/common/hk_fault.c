/* The fault-injecting platform wrapper (hk_fault.h). */
#include <string.h>

#include "hk_fault.h"

static hk_fault_conn *conn_of(hk_fault *f, const hk_transport *t)
{
    for (size_t i = 0; i < HK_FAULT_SLOTS; i++)
        if (f->conns[i].used && t != NULL && t->ctx == (void *)&f->conns[i])
            return &f->conns[i];
    return NULL;
}

static void cut(hk_fault *f, hk_fault_conn *c)
{
    if (!c->cut) {
        c->cut = true;
        f->cuts++;
    }
}

static bool targeted(const hk_fault *f, const hk_fault_conn *c)
{
    return f->cut_conn == HK_FAULT_ANY || f->cut_conn == c->index;
}

static bool over(const hk_fault *f, const hk_fault_conn *c)
{
    if (!targeted(f, c))
        return false;
    return (f->cut_after_tx != 0 && c->tx >= f->cut_after_tx) ||
           (f->cut_after_rx != 0 && c->rx >= f->cut_after_rx);
}

/* How many bytes may move now under max_chunk and the byte limits (a limit
 * is reached exactly, then the next call is cut). */
static size_t allowance(const hk_fault *f, const hk_fault_conn *c, size_t len, bool tx)
{
    if (f->max_chunk != 0 && len > f->max_chunk)
        len = f->max_chunk;
    if (targeted(f, c)) {
        uint64_t limit = tx ? f->cut_after_tx : f->cut_after_rx;
        uint64_t done = tx ? c->tx : c->rx;
        if (limit != 0 && limit > done && len > limit - done)
            len = (size_t)(limit - done);
    }
    return len;
}

static hk_result f_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_fault_conn *c = ctx;
    *out_sent = 0;
    if (c->cut || over(c->owner, c)) {
        cut(c->owner, c);
        return HK_ERR_CLOSED;
    }
    hk_result r = c->lower.send(c->lower.ctx, buf, allowance(c->owner, c, len, true), out_sent);
    if (r == HK_OK)
        c->tx += *out_sent;
    return r;
}

static hk_result f_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_fault_conn *c = ctx;
    *out_received = 0;
    if (c->cut || over(c->owner, c)) {
        cut(c->owner, c);
        return HK_ERR_CLOSED;
    }
    hk_result r =
        c->lower.recv(c->lower.ctx, buf, allowance(c->owner, c, cap, false), out_received);
    if (r == HK_OK)
        c->rx += *out_received;
    return r;
}

static uint32_t f_monotonic(void *ctx)
{
    hk_fault *f = ctx;
    return f->inner.monotonic_ms(f->inner.ctx);
}

static int64_t f_wall(void *ctx)
{
    hk_fault *f = ctx;
    return f->inner.wall_s(f->inner.ctx);
}

static hk_result f_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    hk_fault *f = ctx;
    if (socket == NULL)
        return f->inner.wait(f->inner.ctx, NULL, timeout_ms);
    hk_fault_conn *c = conn_of(f, socket);
    if (c == NULL)
        return HK_ERR_INVALID_ARG;
    if (c->cut || over(f, c))
        return HK_OK; /* "readable": the next recv reports the cut */
    return f->inner.wait(f->inner.ctx, &c->lower, timeout_ms);
}

static hk_result f_connect(void *ctx, const char *host, uint16_t port, hk_transport *out_socket)
{
    hk_fault *f = ctx;
    if (f->fail_connects > 0) {
        f->fail_connects--;
        f->refused++;
        return HK_ERR_CONNECT;
    }
    hk_fault_conn *c = NULL;
    for (size_t i = 0; i < HK_FAULT_SLOTS && c == NULL; i++)
        if (!f->conns[i].used)
            c = &f->conns[i];
    if (c == NULL)
        return HK_ERR_FULL;
    hk_transport lower;
    hk_result r = f->inner.tcp_connect(f->inner.ctx, host, port, &lower);
    if (r != HK_OK)
        return r;
    memset(c, 0, sizeof *c);
    c->owner = f;
    c->lower = lower;
    c->used = true;
    c->index = f->connects++;
    out_socket->ctx = c;
    out_socket->send = f_send;
    out_socket->recv = f_recv;
    return HK_OK;
}

static void f_close(void *ctx, const hk_transport *socket)
{
    hk_fault *f = ctx;
    hk_fault_conn *c = conn_of(f, socket);
    if (c == NULL)
        return;
    f->inner.tcp_close(f->inner.ctx, &c->lower);
    c->used = false;
}

void hk_fault_init(hk_fault *f, const hk_platform *inner, hk_platform *out_platform)
{
    memset(f, 0, sizeof *f);
    f->inner = *inner;
    f->cut_conn = HK_FAULT_ANY;
    out_platform->ctx = f;
    out_platform->monotonic_ms = f_monotonic;
    out_platform->wall_s = f_wall;
    out_platform->wait = f_wait;
    out_platform->tcp_connect = f_connect;
    out_platform->tcp_close = f_close;
}

void hk_fault_cut_all(hk_fault *f)
{
    for (size_t i = 0; i < HK_FAULT_SLOTS; i++)
        if (f->conns[i].used)
            cut(f, &f->conns[i]);
}
