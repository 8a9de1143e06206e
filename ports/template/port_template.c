/*
 * The template port (hk_port_template.h): every function hubkey needs from
 * a system, each with its contract, over a fake system (fake_net.h).
 *
 * To port: keep the structure and the rules, replace each "FAKE:" call with
 * your system's, delete fake_net.*, and run tests/port's suite against the
 * result. The rules are the ones of include/hubkey/platform.h,
 * transport.h and i2c.h; the comments here say what they mean for the
 * code you write.
 *
 * Device code: C11, no heap, nothing global (all state in hk_port_template),
 * every fallible call returns hk_result.
 */
#include "hk_port_template.h"

#include <string.h>

/* ==== Clocks ================================================================ */

/*
 * monotonic_ms — milliseconds since any start. Must never go backwards; may
 * wrap at 2^32 (hubkey only ever subtracts two readings). Typical sources:
 * a 1 kHz SysTick counter, xTaskGetTickCount() * portTICK_PERIOD_MS,
 * esp_timer_get_time() / 1000, CLOCK_MONOTONIC. Cheap: it is called often.
 */
static uint32_t tpl_monotonic_ms(void *ctx)
{
    hk_port_template *p = ctx;
    return (uint32_t)(fake_net_now_us(p->_internal.cfg.net) / 1000u); /* FAKE: your tick */
}

/*
 * wall_s — Unix time (UTC seconds) for certificate validity, or
 * HK_PLATFORM_TIME_UNKNOWN while the clock has never been set (no RTC, no
 * SNTP answer yet). Never guess: an unknown time is handled by the TLS
 * layer (hubkey/tls.h); a wrong one rejects valid certificates.
 */
static int64_t tpl_wall_s(void *ctx)
{
    (void)ctx;
    return HK_PLATFORM_TIME_UNKNOWN; /* FAKE: your RTC / SNTP time when set */
}

/* Sleep at least us microseconds: the one primitive under wait(NULL) and
 * hk_i2c.delay_us. An RTOS delay (round up to the next tick), a timer
 * busy-wait for short I2C delays, or WFI until a timer interrupt. */
static void tpl_sleep_us(hk_port_template *p, uint64_t us)
{
    fake_net_sleep_us(p->_internal.cfg.net, us); /* FAKE: your delay */
}

/* ==== Sockets ================================================================ */

static hk_port_template_socket *slot_of(hk_port_template *p, const hk_transport *t)
{
    if (p == NULL || t == NULL)
        return NULL;
    for (size_t i = 0; i < HK_PORT_TEMPLATE_MAX_SOCKETS; i++) {
        hk_port_template_socket *s = &p->_internal.sockets[i];
        if (t->ctx == (void *)s && s->_internal.used)
            return s;
    }
    return NULL;
}

static void clear_slot(hk_port_template_socket *s)
{
    memset(s, 0, sizeof(*s));
    s->_internal.handle = -1;
}

/* Move a pending connect on WITHOUT blocking: the heart of the
 * non-blocking connect. HK_OK with *out_pending while the handshake runs,
 * HK_OK once established, the failure once it failed (then forever). On a
 * BSD-socket stack: poll(POLLOUT, 0) then getsockopt(SO_ERROR). */
static hk_result progress(hk_port_template_socket *s, bool *out_pending)
{
    *out_pending = false;
    if (s->_internal.failed)
        return s->_internal.failure;
    if (!s->_internal.connecting)
        return HK_OK;
    fake_net *net = s->_internal.owner->_internal.cfg.net;
    uint8_t st = fake_net_progress(net, s->_internal.handle); /* FAKE: ask your stack */
    if (st == FAKE_CONNECTING) {
        *out_pending = true;
        return HK_OK;
    }
    if (st == FAKE_ESTABLISHED) {
        s->_internal.connecting = false;
        s->_internal.want_write = false;
        return HK_OK;
    }
    /* Refused, unreachable (a port that tries several resolved addresses
     * starts the next one here and stays pending). */
    s->_internal.connecting = false;
    s->_internal.failed = true;
    s->_internal.failure = HK_ERR_CONNECT;
    return HK_ERR_CONNECT;
}

/*
 * transport.send — take what fits, never block.
 *   HK_OK, *out_sent = bytes taken: 0 while connecting or while the send
 *   buffer is full (remember it: wait() must then wake when there is
 *   room), never more than len.
 *   HK_ERR_CONNECT (or HK_ERR_RESOLVE) once the connect failed.
 *   HK_ERR_CLOSED for a reset / broken pipe, HK_ERR_IO for anything else:
 *   any error is fatal for the connection.
 */
static hk_result tpl_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_port_template_socket *s = ctx;
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
    size_t n = 0;
    r = fake_net_send(s->_internal.owner->_internal.cfg.net, s->_internal.handle, buf, len,
                      &n); /* FAKE: send(fd, buf, len, MSG_DONTWAIT); EAGAIN = 0 bytes */
    if (r != HK_OK)
        return r == HK_ERR_CLOSED ? HK_ERR_CLOSED : HK_ERR_IO;
    *out_sent = n;
    s->_internal.want_write = n < len;
    return HK_OK;
}

/*
 * transport.recv — give what arrived, never block.
 *   HK_OK, *out_received = bytes (0 = nothing yet, or still connecting).
 *   HK_ERR_CLOSED once the peer closed and every byte before the close
 *   was read (recv() == 0 on BSD sockets), also for a reset.
 *   HK_ERR_CONNECT once the connect failed; HK_ERR_IO otherwise.
 */
static hk_result tpl_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_port_template_socket *s = ctx;
    if (s == NULL || out_received == NULL || buf == NULL || cap == 0)
        return HK_ERR_INVALID_ARG;
    *out_received = 0;
    if (!s->_internal.used)
        return HK_ERR_STATE;
    bool pending;
    hk_result r = progress(s, &pending);
    if (r != HK_OK || pending)
        return r;
    size_t n = 0;
    r = fake_net_recv(s->_internal.owner->_internal.cfg.net, s->_internal.handle, buf, cap,
                      &n); /* FAKE: recv(fd, buf, cap, MSG_DONTWAIT); 0 = closed */
    if (r != HK_OK)
        return r == HK_ERR_CLOSED ? HK_ERR_CLOSED : HK_ERR_IO;
    *out_received = n;
    return HK_OK;
}

/*
 * wait — block until the socket has bytes (or the peer closed), or can
 * take bytes again after a short send, or its connect finished (either
 * way), or timeout_ms passed; whichever is first. HK_OK in all of those
 * (the caller's next recv/send tells what happened); an error only for a
 * socket that is not open. socket == NULL: just sleep timeout_ms.
 * On BSD sockets: poll() with POLLIN, plus POLLOUT when connecting or
 * after a short send. Only blocking convenience loops call this.
 */
static hk_result tpl_wait(void *ctx, const hk_transport *socket, uint32_t timeout_ms)
{
    hk_port_template *p = ctx;
    if (p == NULL)
        return HK_ERR_INVALID_ARG;
    if (socket == NULL) {
        tpl_sleep_us(p, (uint64_t)timeout_ms * 1000u);
        return HK_OK;
    }
    hk_port_template_socket *s = slot_of(p, socket);
    if (s == NULL)
        return HK_ERR_INVALID_ARG;
    if (s->_internal.failed) /* the next send or recv says so */
        return HK_OK;
    bool want_write = s->_internal.connecting || s->_internal.want_write;
    /* FAKE: poll(&pfd, 1, timeout_ms). The fake network cannot change
     * while this thread sleeps, so it is "ready now, or sleep it out". */
    if (!fake_net_ready(p->_internal.cfg.net, s->_internal.handle, want_write))
        tpl_sleep_us(p, (uint64_t)timeout_ms * 1000u);
    return HK_OK;
}

/*
 * tcp_connect — START a connection to host:port and return at once.
 *   host: a name or a numeric IPv4/IPv6 address; not kept after the call.
 *   Resolve (a synchronous resolver may block here, for the lookup only),
 *   open a non-blocking socket and start the connect; never wait for the
 *   handshake (send/recv/wait finish it, the caller's one set-up timeout
 *   bounds it).
 *   Immediate errors: HK_ERR_INVALID_ARG (NULL/empty host, port 0, NULL
 *   out), HK_ERR_RESOLVE (no address), HK_ERR_CONNECT (no address could
 *   even be tried), HK_ERR_FULL (no free socket in this port).
 *   *out_socket: ctx = the slot, send = tpl_send, recv = tpl_recv; valid
 *   until tcp_close.
 */
static hk_result tpl_tcp_connect(void *ctx, const char *host, uint16_t port,
                                 hk_transport *out_socket)
{
    hk_port_template *p = ctx;
    if (p == NULL || host == NULL || host[0] == '\0' || port == 0 || out_socket == NULL)
        return HK_ERR_INVALID_ARG;
    hk_port_template_socket *slot = NULL;
    for (size_t i = 0; i < HK_PORT_TEMPLATE_MAX_SOCKETS && slot == NULL; i++)
        if (!p->_internal.sockets[i]._internal.used)
            slot = &p->_internal.sockets[i];
    if (slot == NULL)
        return HK_ERR_FULL;
    int handle = -1;
    hk_result r = fake_net_connect(p->_internal.cfg.net, host, port,
                                   &handle); /* FAKE: getaddrinfo + socket + O_NONBLOCK + connect */
    if (r != HK_OK)
        return r == HK_ERR_RESOLVE ? HK_ERR_RESOLVE : r == HK_ERR_FULL ? HK_ERR_FULL : HK_ERR_CONNECT;
    clear_slot(slot);
    slot->_internal.owner = p;
    slot->_internal.handle = handle;
    slot->_internal.used = true;
    slot->_internal.connecting = true;
    out_socket->ctx = slot;
    out_socket->send = tpl_send;
    out_socket->recv = tpl_recv;
    return HK_OK;
}

/*
 * tcp_close — close a socket from tcp_connect in any state (connecting,
 * connected, failed, closed by the peer) and free its slot. Never fails;
 * a transport that is not an open socket of this port is ignored.
 */
static void tpl_tcp_close(void *ctx, const hk_transport *socket)
{
    hk_port_template_socket *s = slot_of(ctx, socket);
    if (s == NULL)
        return;
    if (s->_internal.handle >= 0)
        fake_net_close(s->_internal.owner->_internal.cfg.net, s->_internal.handle); /* FAKE: close(fd) */
    clear_slot(s);
}

/* ==== I2C: the ATECC608A's bus ====================================================
 *
 * The chip driver (hubkey/atecc608.h) sees only these four functions.
 * Addresses are 7-bit (0x60 for a factory-new ATECC608A); the controller
 * adds the R/W bit. Bus speed up to 1 MHz; 100 kHz is fine.
 */

/* write: HK_OK when every byte was ACKed; HK_ERR_SE_NO_RESPONSE when the
 * address (or a byte) was NACKed — the chip NACKs while asleep, idle or
 * busy, and the driver polls on exactly this code; HK_ERR_IO for a bus
 * error (arbitration lost, stuck bus, controller timeout). */
static hk_result tpl_i2c_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    hk_port_template *p = ctx;
    const hk_i2c *bus = p->_internal.cfg.net->chip; /* FAKE: your I2C controller */
    if (bus == NULL)
        return HK_ERR_SE_NO_RESPONSE; /* nothing on the bus: nobody ACKs */
    return bus->write(bus->ctx, addr7, buf, len);
}

/* read: exactly len bytes (ACK all but the last, NACK the last, STOP);
 * HK_ERR_SE_NO_RESPONSE when the address is NACKed; HK_ERR_IO otherwise. */
static hk_result tpl_i2c_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    hk_port_template *p = ctx;
    const hk_i2c *bus = p->_internal.cfg.net->chip; /* FAKE: your I2C controller */
    if (bus == NULL)
        return HK_ERR_SE_NO_RESPONSE;
    return bus->read(bus->ctx, addr7, buf, len);
}

/* wake: hold SDA low for at least 60 us (tWLO). Common ways: write one 0x00
 * byte to address 0x00 at 100 kHz or slower (the address phase holds SDA
 * low long enough; the NACK is expected and ignored), or switch SDA to a
 * GPIO and drive it low. Do not wait tWHI or read the wake response: the
 * driver does that (with delay_us and read). */
static hk_result tpl_i2c_wake(void *ctx)
{
    hk_port_template *p = ctx;
    const hk_i2c *bus = p->_internal.cfg.net->chip; /* FAKE: your wake pulse */
    if (bus == NULL)
        return HK_OK;
    return bus->wake(bus->ctx);
}

/* delay_us: at least us microseconds (the driver waits tWHI = 1.5 ms after
 * the wake pulse and each command's execution time, up to ~100 ms for a
 * key generation). Longer is safe; shorter makes the chip NACK. */
static void tpl_i2c_delay_us(void *ctx, uint32_t us)
{
    tpl_sleep_us(ctx, us);
}

/* ==== Set-up ====================================================================== */

hk_result hk_port_template_init(hk_port_template *port, const hk_port_template_config *config,
                                hk_platform *out_platform, hk_i2c *out_i2c)
{
    if (port == NULL || config == NULL || config->net == NULL || out_platform == NULL ||
        out_i2c == NULL)
        return HK_ERR_INVALID_ARG;
    port->_internal.cfg = *config;
    for (size_t i = 0; i < HK_PORT_TEMPLATE_MAX_SOCKETS; i++)
        clear_slot(&port->_internal.sockets[i]);
    *out_platform = (hk_platform){.ctx = port,
                                  .monotonic_ms = tpl_monotonic_ms,
                                  .wall_s = tpl_wall_s,
                                  .wait = tpl_wait,
                                  .tcp_connect = tpl_tcp_connect,
                                  .tcp_close = tpl_tcp_close};
    *out_i2c = (hk_i2c){.ctx = port,
                        .write = tpl_i2c_write,
                        .read = tpl_i2c_read,
                        .wake = tpl_i2c_wake,
                        .delay_us = tpl_i2c_delay_us};
    return HK_OK;
}

void hk_port_template_deinit(hk_port_template *port)
{
    if (port == NULL)
        return;
    for (size_t i = 0; i < HK_PORT_TEMPLATE_MAX_SOCKETS; i++) {
        hk_port_template_socket *s = &port->_internal.sockets[i];
        if (s->_internal.used && s->_internal.handle >= 0)
            fake_net_close(port->_internal.cfg.net, s->_internal.handle); /* FAKE: close(fd) */
        clear_slot(s);
    }
}
