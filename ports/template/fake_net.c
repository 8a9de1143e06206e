/*
 * FAKE — the in-memory network, clock and I2C wiring behind the template
 * port (fake_net.h). Delete it when porting.
 */
#include "fake_net.h"

#include <string.h>

void fake_net_init(fake_net *net, uint64_t start_us, const hk_i2c *chip)
{
    memset(net, 0, sizeof(*net));
    net->now_us = start_us;
    net->chip = chip;
    net->next_port = 40000;
    net->peer_conn = -1;
}

static fake_conn *conn(fake_net *net, int id)
{
    if (id < 0 || id >= FAKE_NET_CONNS || !net->conns[id].used)
        return NULL;
    return &net->conns[id];
}

static size_t pipe_put(fake_pipe *p, const uint8_t *buf, size_t len)
{
    size_t n = FAKE_NET_BUF - p->len;
    if (n > len)
        n = len;
    memcpy(p->buf + p->len, buf, n);
    p->len += n;
    return n;
}

static size_t pipe_take(fake_pipe *p, uint8_t *buf, size_t cap)
{
    size_t n = p->len < cap ? p->len : cap;
    memcpy(buf, p->buf, n);
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
    return n;
}

/* A connection both ends have closed is gone. */
static void reap(fake_net *net, int id)
{
    fake_conn *c = &net->conns[id];
    if (c->port_closed && (c->peer_closed || !c->accepted)) {
        memset(c, 0, sizeof(*c));
        if (net->peer_conn == id)
            net->peer_conn = -1;
    }
}

hk_result fake_net_connect(fake_net *net, const char *host, uint16_t port, int *out_id)
{
    if (strcmp(host, FAKE_NET_HOST) != 0)
        return HK_ERR_RESOLVE;
    for (int i = 0; i < FAKE_NET_CONNS; i++)
        if (!net->conns[i].used) {
            memset(&net->conns[i], 0, sizeof(net->conns[i]));
            net->conns[i].used = true;
            net->conns[i].state = FAKE_CONNECTING;
            net->conns[i].port = port;
            *out_id = i;
            return HK_OK;
        }
    return HK_ERR_FULL;
}

uint8_t fake_net_progress(fake_net *net, int id)
{
    fake_conn *c = conn(net, id);
    if (c == NULL)
        return FAKE_REFUSED;
    if (c->state == FAKE_CONNECTING) {
        if (!net->listening || net->listen_port != c->port)
            c->state = FAKE_REFUSED;
        else if (!net->held)
            c->state = FAKE_ESTABLISHED;
    }
    return c->state;
}

hk_result fake_net_send(fake_net *net, int id, const uint8_t *buf, size_t len, size_t *out_n)
{
    fake_conn *c = conn(net, id);
    *out_n = 0;
    if (c == NULL || c->state != FAKE_ESTABLISHED)
        return HK_ERR_STATE;
    if (c->peer_closed) /* nobody reads: taken and dropped, as a kernel does until a reset */
        *out_n = len;
    else
        *out_n = pipe_put(&c->to_peer, buf, len);
    return HK_OK;
}

hk_result fake_net_recv(fake_net *net, int id, uint8_t *buf, size_t cap, size_t *out_n)
{
    fake_conn *c = conn(net, id);
    *out_n = 0;
    if (c == NULL || c->state != FAKE_ESTABLISHED)
        return HK_ERR_STATE;
    *out_n = pipe_take(&c->to_port, buf, cap);
    if (*out_n == 0 && c->peer_closed)
        return HK_ERR_CLOSED;
    return HK_OK;
}

bool fake_net_ready(fake_net *net, int id, bool want_write)
{
    fake_conn *c = conn(net, id);
    if (c == NULL)
        return true;
    uint8_t st = fake_net_progress(net, id);
    if (st == FAKE_REFUSED)
        return true;
    if (st == FAKE_CONNECTING)
        return false;
    if (c->to_port.len > 0 || c->peer_closed)
        return true;
    return want_write && c->to_peer.len < FAKE_NET_BUF;
}

void fake_net_close(fake_net *net, int id)
{
    fake_conn *c = conn(net, id);
    if (c == NULL)
        return;
    c->port_closed = true;
    reap(net, id);
}

uint64_t fake_net_now_us(const fake_net *net)
{
    return net->now_us;
}

void fake_net_sleep_us(fake_net *net, uint64_t us)
{
    net->now_us += us;
    /* The chip lives on the same time line. */
    if (net->chip != NULL && net->chip->delay_us != NULL) {
        while (us > 0) {
            uint32_t step = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            net->chip->delay_us(net->chip->ctx, step);
            us -= step;
        }
    }
}

hk_result fake_net_listen(fake_net *net, bool held, uint16_t *out_port)
{
    fake_net_unlisten(net);
    net->listening = true;
    net->held = held;
    net->listen_port = net->next_port++;
    *out_port = net->listen_port;
    return HK_OK;
}

void fake_net_release(fake_net *net)
{
    net->held = false;
}

hk_result fake_net_refused_port(fake_net *net, uint16_t *out_port)
{
    (void)net;
    *out_port = 9; /* never listened on */
    return HK_OK;
}

hk_result fake_net_accept(fake_net *net, bool *out_accepted)
{
    *out_accepted = false;
    if (!net->listening)
        return HK_ERR_STATE;
    for (int i = 0; i < FAKE_NET_CONNS; i++) {
        fake_conn *c = &net->conns[i];
        if (c->used && !c->accepted && c->port == net->listen_port &&
            fake_net_progress(net, i) == FAKE_ESTABLISHED) {
            fake_net_peer_close(net);
            c->accepted = true;
            net->peer_conn = i;
            *out_accepted = true;
            return HK_OK;
        }
    }
    return HK_OK;
}

hk_result fake_net_peer_send(fake_net *net, const uint8_t *buf, size_t len, size_t *out_n)
{
    fake_conn *c = conn(net, net->peer_conn);
    *out_n = 0;
    if (c == NULL)
        return HK_ERR_STATE;
    if (c->port_closed)
        return HK_ERR_CLOSED;
    *out_n = pipe_put(&c->to_port, buf, len);
    return HK_OK;
}

hk_result fake_net_peer_recv(fake_net *net, uint8_t *buf, size_t cap, size_t *out_n)
{
    fake_conn *c = conn(net, net->peer_conn);
    *out_n = 0;
    if (c == NULL)
        return HK_ERR_STATE;
    *out_n = pipe_take(&c->to_peer, buf, cap);
    if (*out_n == 0 && c->port_closed)
        return HK_ERR_CLOSED;
    return HK_OK;
}

void fake_net_peer_close(fake_net *net)
{
    int id = net->peer_conn;
    fake_conn *c = conn(net, id);
    net->peer_conn = -1;
    if (c == NULL)
        return;
    c->peer_closed = true;
    reap(net, id);
}

void fake_net_unlisten(fake_net *net)
{
    fake_net_peer_close(net);
    net->listening = false;
    net->held = false;
}
