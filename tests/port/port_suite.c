/*
 * The port conformance suite (port_suite.h). Each case names the rule of
 * platform.h / transport.h / i2c.h it checks.
 *
 * Time: every loop runs against a deadline on the port's own clock and an
 * iteration cap (so a clock that does not move cannot hang the suite), and
 * waits with the port's own wait: nothing here sleeps for time to pass.
 */
#include "port_suite.h"

#include <stdio.h>
#include <string.h>

#include "hk_test.h"

#define WALL_FLOOR_S 1704067200LL   /* 2024-01-01: a set clock reads after this */
#define WALL_CEIL_S 32503680000LL   /* 3000-01-01 */
#define LOOP_CAP 200000u            /* iterations, whatever the clock says */
#define CHUNK 4096u
#define FLOOD_MAX (256u * 1024u * 1024u)

static const hk_port_under_test *S;

/* Clock bookkeeping: every reading the suite takes is checked. */
static struct {
    bool have;
    uint32_t last;
    bool went_back;
    bool wrapped;
} C;

static uint32_t now(void)
{
    uint32_t t = S->platform.monotonic_ms(S->platform.ctx);
    if (C.have) {
        uint32_t d = t - C.last;
        if (d >= 0x80000000u)
            C.went_back = true;
        else if (t < C.last)
            C.wrapped = true;
    }
    C.have = true;
    C.last = t;
    return t;
}

static uint32_t slow_ms(void)
{
    return S->slow_ms ? S->slow_ms : 15000u;
}

static hk_result wait_ms(const hk_transport *s, uint32_t ms)
{
    return S->platform.wait(S->platform.ctx, s, ms);
}

/* Time the port's wait took, by its own clock. */
static uint32_t timed_wait(const hk_transport *s, uint32_t ms, hk_result *out_r)
{
    uint32_t t0 = now();
    hk_result r = wait_ms(s, ms);
    if (out_r)
        *out_r = r;
    return now() - t0;
}

static hk_result connect_to(uint16_t port, hk_transport *out)
{
    return S->platform.tcp_connect(S->platform.ctx, S->peer.host, port, out);
}

static void close_sock(hk_transport *s)
{
    S->platform.tcp_close(S->platform.ctx, s);
}

/* Send one byte until it is accepted (the connect completed) or an error;
 * waits with the port between tries. HK_ERR_TIMEOUT past slow_ms. */
static hk_result until_connected(hk_transport *s, uint32_t *out_waits)
{
    uint32_t t0 = now(), waits = 0;
    for (unsigned i = 0; i < LOOP_CAP; i++) {
        size_t sent = 0;
        hk_result r = s->send(s->ctx, (const uint8_t *)"x", 1, &sent);
        if (r != HK_OK)
            return r;
        if (sent == 1) {
            if (out_waits)
                *out_waits = waits;
            return HK_OK;
        }
        uint32_t spent = now() - t0;
        if (spent >= slow_ms())
            break;
        (void)wait_ms(s, slow_ms() - spent);
        waits++;
    }
    return HK_ERR_TIMEOUT;
}

/* recv until an error (the failure of a connect, or the close). */
static hk_result until_error(hk_transport *s)
{
    uint32_t t0 = now();
    uint8_t buf[64];
    for (unsigned i = 0; i < LOOP_CAP; i++) {
        size_t got = 0;
        hk_result r = s->recv(s->ctx, buf, sizeof buf, &got);
        if (r != HK_OK)
            return r;
        uint32_t spent = now() - t0;
        if (spent >= slow_ms())
            break;
        if (got == 0)
            (void)wait_ms(s, 200);
    }
    return HK_ERR_TIMEOUT;
}

static bool peer_accept(void)
{
    uint32_t t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && now() - t0 < slow_ms(); i++) {
        bool ok = false;
        if (S->peer.accept(S->peer.ctx, &ok) != HK_OK)
            return false;
        if (ok)
            return true;
        (void)wait_ms(NULL, 2);
    }
    return false;
}

/* The peer reads exactly len bytes (waiting with the port's sleep). */
static bool peer_read_exact(uint8_t *buf, size_t len)
{
    size_t have = 0;
    uint32_t t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && have < len && now() - t0 < slow_ms(); i++) {
        size_t got = 0;
        if (S->peer.recv(S->peer.ctx, buf + have, len - have, &got) != HK_OK)
            return false;
        have += got;
        if (got == 0)
            (void)wait_ms(NULL, 2);
    }
    return have == len;
}

static bool peer_write_all(const uint8_t *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < LOOP_CAP && done < len; i++) {
        size_t sent = 0;
        if (S->peer.send(S->peer.ctx, buf + done, len - done, &sent) != HK_OK)
            return false;
        done += sent;
        if (sent == 0)
            (void)wait_ms(NULL, 2);
    }
    return done == len;
}

/* The port reads exactly len bytes, waiting with wait(socket). */
static hk_result port_read_exact(hk_transport *s, uint8_t *buf, size_t len)
{
    size_t have = 0;
    uint32_t t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && have < len; i++) {
        size_t got = 0;
        hk_result r = s->recv(s->ctx, buf + have, len - have, &got);
        if (r != HK_OK)
            return r;
        have += got;
        if (now() - t0 >= slow_ms())
            break;
        if (got == 0)
            (void)wait_ms(s, 500);
    }
    return have == len ? HK_OK : HK_ERR_TIMEOUT;
}

/* ---- clocks -------------------------------------------------------------- */

/* monotonic_ms: never backwards; differences measure waits. */
static void test_clock_monotonic(void)
{
    uint32_t t0 = now(), prev = t0;
    for (int i = 0; i < 20; i++) {
        HK_CHECK_RESULT(wait_ms(NULL, 5), HK_OK);
        uint32_t t = now();
        HK_CHECK((uint32_t)(t - prev) < 0x80000000u);
        prev = t;
    }
    HK_CHECK((uint32_t)(prev - t0) >= 100u);
    HK_CHECK(!C.went_back);
}

/* wall_s: Unix seconds, or HK_PLATFORM_TIME_UNKNOWN. */
static void test_wall_clock(void)
{
    int64_t a = S->platform.wall_s(S->platform.ctx);
    int64_t b = S->platform.wall_s(S->platform.ctx);
    printf("  %s: wall_s %s\n", S->name, a == HK_PLATFORM_TIME_UNKNOWN ? "unknown" : "known");
    if (a != HK_PLATFORM_TIME_UNKNOWN) {
        HK_CHECK(a >= WALL_FLOOR_S && a < WALL_CEIL_S);
        HK_CHECK(b != HK_PLATFORM_TIME_UNKNOWN);
        HK_CHECK(b >= a);
    }
}

/* ---- wait ---------------------------------------------------------------- */

/* wait(NULL, t) sleeps at least t; wait on a socket that is not open is an
 * error; an idle connected socket returns at the timeout. */
static void test_wait_semantics(void)
{
    hk_result r;
    HK_CHECK(timed_wait(NULL, 40, &r) >= 40u);
    HK_CHECK_RESULT(r, HK_OK);
    HK_CHECK(timed_wait(NULL, 0, &r) < 1000u);
    HK_CHECK_RESULT(r, HK_OK);

    uint16_t port;
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, false, &port), HK_OK);
    hk_transport s;
    HK_CHECK_RESULT(connect_to(port, &s), HK_OK);
    HK_CHECK_RESULT(until_connected(&s, NULL), HK_OK);
    HK_CHECK(peer_accept());
    uint8_t x;
    HK_CHECK(peer_read_exact(&x, 1));
    uint32_t took = timed_wait(&s, 60, &r);
    HK_CHECK_RESULT(r, HK_OK);
    HK_CHECK(took >= 60u);
    HK_CHECK(took < 60u + 2000u);
    close_sock(&s);
    HK_CHECK(wait_ms(&s, 10) != HK_OK); /* not open any more */
    hk_transport stranger = {.ctx = &stranger, .send = s.send, .recv = s.recv};
    HK_CHECK(wait_ms(&stranger, 10) != HK_OK);
    S->peer.unlisten(S->peer.ctx);
}

/* ---- connect ------------------------------------------------------------- */

static void test_connect_bad_args(void)
{
    hk_transport s;
    HK_CHECK_RESULT(S->platform.tcp_connect(S->platform.ctx, NULL, 80, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(S->platform.tcp_connect(S->platform.ctx, "", 80, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(S->platform.tcp_connect(S->platform.ctx, S->peer.host, 0, &s),
                    HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(S->platform.tcp_connect(S->platform.ctx, S->peer.host, 80, NULL),
                    HK_ERR_INVALID_ARG);
}

/* Refused: HK_ERR_CONNECT at once, or later from send, recv (and wait
 * returns meanwhile). */
static void test_connect_refused(void)
{
    uint16_t port;
    HK_CHECK_RESULT(S->peer.refused_port(S->peer.ctx, &port), HK_OK);
    hk_transport s;
    hk_result r = connect_to(port, &s);
    if (r == HK_ERR_CONNECT)
        return;
    HK_CHECK_RESULT(r, HK_OK);
    if (r != HK_OK)
        return;
    HK_CHECK_RESULT(until_error(&s), HK_ERR_CONNECT);
    size_t sent = 99;
    HK_CHECK_RESULT(s.send(s.ctx, (const uint8_t *)"x", 1, &sent), HK_ERR_CONNECT);
    HK_CHECK_EQ(sent, 0);
    uint8_t b;
    size_t got = 99;
    HK_CHECK_RESULT(s.recv(s.ctx, &b, 1, &got), HK_ERR_CONNECT);
    HK_CHECK_EQ(got, 0);
    hk_result wr;
    HK_CHECK(timed_wait(&s, 20, &wr) < 2000u); /* failed: returns, never an error */
    HK_CHECK_RESULT(wr, HK_OK);
    close_sock(&s);
}

/* A name no one can resolve: HK_ERR_RESOLVE, at once or through recv. */
static void test_connect_unresolvable(void)
{
    hk_transport s;
    hk_result r = S->platform.tcp_connect(S->platform.ctx, S->unresolvable_host, 8883, &s);
    if (r == HK_OK) {
        r = until_error(&s);
        close_sock(&s);
    }
    HK_CHECK_RESULT(r, HK_ERR_RESOLVE);
}

/* The socket table: max_sockets at once, HK_ERR_FULL for one more, a
 * closed slot is reused. */
static void test_connect_table_full(void)
{
    uint16_t port;
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, false, &port), HK_OK);
    hk_transport s[16];
    size_t n = S->max_sockets < 16 ? S->max_sockets : 16;
    HK_CHECK(n >= 1);
    size_t opened = 0;
    for (size_t i = 0; i < n; i++) {
        hk_result r = connect_to(port, &s[i]);
        HK_CHECK_RESULT(r, HK_OK);
        if (r == HK_OK)
            opened++;
    }
    hk_transport extra;
    HK_CHECK_RESULT(connect_to(port, &extra), HK_ERR_FULL);
    if (opened == n) {
        close_sock(&s[0]);
        HK_CHECK_RESULT(connect_to(port, &s[0]), HK_OK);
    }
    for (size_t i = 0; i < opened; i++)
        close_sock(&s[i]);
    S->peer.unlisten(S->peer.ctx);
}

/* The non-blocking connect: tcp_connect returns at once; while the
 * handshake is unanswered send accepts 0, recv gives 0 and wait returns at
 * its timeout; once it completes, wait wakes up early and the bytes flow;
 * data the peer sent and then a close read as the data, then
 * HK_ERR_CLOSED. */
static void test_connect_pending(void)
{
    uint16_t port;
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, true, &port), HK_OK);
    hk_transport s;
    uint32_t t0 = now();
    hk_result r = connect_to(port, &s);
    HK_CHECK_RESULT(r, HK_OK);
    HK_CHECK(now() - t0 < 1000u);
    if (r != HK_OK) {
        S->peer.unlisten(S->peer.ctx);
        return;
    }
    for (int i = 0; i < 3; i++) {
        size_t sent = 99, got = 99;
        uint8_t b;
        HK_CHECK_RESULT(s.send(s.ctx, (const uint8_t *)"x", 1, &sent), HK_OK);
        HK_CHECK_EQ(sent, 0);
        HK_CHECK_RESULT(s.recv(s.ctx, &b, 1, &got), HK_OK);
        HK_CHECK_EQ(got, 0);
        hk_result wr;
        uint32_t took = timed_wait(&s, 50, &wr);
        HK_CHECK_RESULT(wr, HK_OK);
        HK_CHECK(took >= 50u);
    }
    S->peer.release(S->peer.ctx);
    uint32_t t1 = now(), waits = 0;
    HK_CHECK_RESULT(until_connected(&s, &waits), HK_OK);
    uint32_t took = now() - t1;
    printf("  %s: a pending connect completed %u ms after the listener answered (%u waits)\n",
           S->name, (unsigned)took, (unsigned)waits);
    HK_CHECK(took < slow_ms());
    HK_CHECK(waits <= 3u); /* wait woke up on completion, not at its timeout */

    HK_CHECK(peer_accept());
    uint8_t b = 0;
    HK_CHECK(peer_read_exact(&b, 1));
    HK_CHECK_EQ(b, 'x');

    /* wait wakes on readable. */
    HK_CHECK(peer_write_all((const uint8_t *)"pong", 4));
    hk_result wr;
    HK_CHECK(timed_wait(&s, slow_ms(), &wr) < slow_ms() - 1000u);
    uint8_t buf[8];
    HK_CHECK_RESULT(port_read_exact(&s, buf, 4), HK_OK);
    HK_CHECK_MEM(buf, 4, "pong", 4);

    /* Closed by the peer: the last bytes first, then HK_ERR_CLOSED. */
    HK_CHECK(peer_write_all((const uint8_t *)"last", 4));
    S->peer.close(S->peer.ctx);
    HK_CHECK_RESULT(port_read_exact(&s, buf, 4), HK_OK);
    HK_CHECK_MEM(buf, 4, "last", 4);
    HK_CHECK_RESULT(until_error(&s), HK_ERR_CLOSED);
    size_t got = 99;
    HK_CHECK_RESULT(s.recv(s.ctx, buf, sizeof buf, &got), HK_ERR_CLOSED);
    HK_CHECK_EQ(got, 0);
    close_sock(&s);
    S->peer.unlisten(S->peer.ctx);
}

/* ---- back-pressure -------------------------------------------------------- */

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i % 251u);
}

/* A peer that does not read: send accepts less than offered, then 0; wait
 * wakes when the peer drained; nothing is lost or reordered. */
static void test_partial_sends(void)
{
    uint16_t port;
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, false, &port), HK_OK);
    hk_transport s;
    HK_CHECK_RESULT(connect_to(port, &s), HK_OK);
    HK_CHECK_RESULT(until_connected(&s, NULL), HK_OK);
    HK_CHECK(peer_accept());
    uint8_t x = 0;
    HK_CHECK(peer_read_exact(&x, 1));
    HK_CHECK_EQ(x, 'x');
    uint64_t total = 0;
    uint8_t chunk[CHUNK];
    uint32_t t0;
    bool short_send = false;
    for (unsigned i = 0; i < LOOP_CAP && total < FLOOD_MAX && !short_send; i++) {
        for (size_t k = 0; k < CHUNK; k++)
            chunk[k] = pattern(total + k);
        size_t sent = 0;
        hk_result r = s.send(s.ctx, chunk, CHUNK, &sent);
        HK_CHECK_RESULT(r, HK_OK);
        if (r != HK_OK)
            break;
        HK_CHECK(sent <= CHUNK);
        total += sent;
        short_send = sent < CHUNK;
    }
    HK_CHECK(short_send);
    printf("  %s: the first short send after %llu bytes\n", S->name, (unsigned long long)total);

    /* The peer drains until nothing more arrives for 50 ms (the port's
     * stack has sent everything it held); the port's wait must then wake
     * up at once because the socket can take bytes again. */
    uint64_t seen = 0;
    bool intact = true;
    uint8_t rx[CHUNK];
    t0 = now();
    uint32_t quiet_since = now();
    for (unsigned i = 0; i < LOOP_CAP && now() - quiet_since < 50u && now() - t0 < slow_ms();
         i++) {
        size_t got = 0;
        if (S->peer.recv(S->peer.ctx, rx, sizeof rx, &got) != HK_OK)
            break;
        for (size_t k = 0; k < got; k++)
            intact = intact && rx[k] == pattern(seen + k);
        seen += got;
        if (got > 0)
            quiet_since = now();
        else
            (void)wait_ms(NULL, 2);
    }
    HK_CHECK_EQ(seen, total);
    hk_result wr;
    uint32_t took = timed_wait(&s, slow_ms(), &wr);
    HK_CHECK_RESULT(wr, HK_OK);
    HK_CHECK(took < 1000u); /* writable: at once, not at the timeout */
    bool accepted = false;
    t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && !accepted && now() - t0 < slow_ms(); i++) {
        for (size_t k = 0; k < CHUNK; k++)
            chunk[k] = pattern(total + k);
        size_t sent = 0;
        HK_CHECK_RESULT(s.send(s.ctx, chunk, CHUNK, &sent), HK_OK);
        total += sent;
        accepted = sent > 0;
        if (!accepted) {
            /* drain more and wait again */
            size_t got = 0;
            if (S->peer.recv(S->peer.ctx, rx, sizeof rx, &got) == HK_OK) {
                for (size_t k = 0; k < got; k++)
                    intact = intact && rx[k] == pattern(seen + k);
                seen += got;
            }
            (void)wait_ms(&s, 100);
        }
    }
    HK_CHECK(accepted);

    /* Everything the port accepted arrives, in order. */
    t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && seen < total && now() - t0 < slow_ms(); i++) {
        size_t got = 0;
        if (S->peer.recv(S->peer.ctx, rx, sizeof rx, &got) != HK_OK)
            break;
        for (size_t k = 0; k < got; k++)
            intact = intact && rx[k] == pattern(seen + k);
        seen += got;
        if (got == 0)
            (void)wait_ms(&s, 2); /* keeps a stack that sends from the caller's thread going */
    }
    HK_CHECK_EQ(seen, total);
    HK_CHECK(intact);
    close_sock(&s);
    S->peer.unlisten(S->peer.ctx);
}

/* ---- close ---------------------------------------------------------------- */

/* tcp_close in every state: connecting, failed, connected (the peer sees
 * the close), closed by the peer; the slots are free afterwards. */
static void test_close_every_state(void)
{
    uint16_t port;
    hk_transport s;
    /* connecting */
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, true, &port), HK_OK);
    HK_CHECK_RESULT(connect_to(port, &s), HK_OK);
    close_sock(&s);
    S->peer.unlisten(S->peer.ctx);
    /* failed */
    HK_CHECK_RESULT(S->peer.refused_port(S->peer.ctx, &port), HK_OK);
    hk_result r = connect_to(port, &s);
    if (r == HK_OK) {
        HK_CHECK_RESULT(until_error(&s), HK_ERR_CONNECT);
        close_sock(&s);
    } else {
        HK_CHECK_RESULT(r, HK_ERR_CONNECT);
    }
    /* connected: the peer reads the close */
    HK_CHECK_RESULT(S->peer.listen(S->peer.ctx, false, &port), HK_OK);
    HK_CHECK_RESULT(connect_to(port, &s), HK_OK);
    HK_CHECK_RESULT(until_connected(&s, NULL), HK_OK);
    HK_CHECK(peer_accept());
    uint8_t b;
    HK_CHECK(peer_read_exact(&b, 1));
    close_sock(&s);
    hk_result pr = HK_OK;
    uint32_t t0 = now();
    for (unsigned i = 0; i < LOOP_CAP && pr == HK_OK && now() - t0 < slow_ms(); i++) {
        size_t got = 0;
        pr = S->peer.recv(S->peer.ctx, &b, 1, &got);
        if (pr == HK_OK && got == 0)
            (void)wait_ms(NULL, 2);
    }
    HK_CHECK_RESULT(pr, HK_ERR_CLOSED);
    /* closed by the peer */
    HK_CHECK_RESULT(connect_to(port, &s), HK_OK);
    HK_CHECK_RESULT(until_connected(&s, NULL), HK_OK);
    HK_CHECK(peer_accept());
    S->peer.close(S->peer.ctx);
    HK_CHECK_RESULT(until_error(&s), HK_ERR_CLOSED);
    close_sock(&s);
    /* every slot free again */
    hk_transport all[16];
    size_t n = S->max_sockets < 16 ? S->max_sockets : 16, opened = 0;
    for (size_t i = 0; i < n; i++) {
        r = connect_to(port, &all[i]);
        HK_CHECK_RESULT(r, HK_OK);
        opened += r == HK_OK;
    }
    for (size_t i = 0; i < opened; i++)
        close_sock(&all[i]);
    S->peer.unlisten(S->peer.ctx);
}

/* ---- I2C -------------------------------------------------------------------- */

static uint64_t chip_us(void)
{
    if (S->chip_now_us)
        return S->chip_now_us(S->chip_ctx);
    return (uint64_t)now() * 1000u; /* wraps with the clock: differences only */
}

/* NACK mapping: an asleep chip and a wrong address answer
 * HK_ERR_SE_NO_RESPONSE; the wake pulse then tWHI gives 04 11 33 43;
 * delay_us lets at least the time asked pass. */
static void test_i2c(void)
{
    const hk_i2c *i = S->i2c;
    uint8_t a = S->chip_addr7;
    uint8_t buf[4];
    HK_CHECK_RESULT(i->read(i->ctx, a, buf, 4), HK_ERR_SE_NO_RESPONSE);
    uint8_t idle = 0x02;
    HK_CHECK_RESULT(i->write(i->ctx, (uint8_t)((a + 1u) & 0x7Fu), &idle, 1), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(i->wake(i->ctx), HK_OK);
    uint64_t t0 = chip_us();
    i->delay_us(i->ctx, 2000);
    uint64_t spent = chip_us() - t0;
    HK_CHECK(spent >= (S->chip_now_us ? 2000u : 2000u - 1000u));
    HK_CHECK_RESULT(i->read(i->ctx, a, buf, 4), HK_OK);
    HK_CHECK_MEM(buf, 4, "\x04\x11\x33\x43", 4);
    HK_CHECK_RESULT(i->read(i->ctx, (uint8_t)((a + 1u) & 0x7Fu), buf, 4), HK_ERR_SE_NO_RESPONSE);
    uint8_t sleep = 0x01;
    HK_CHECK_RESULT(i->write(i->ctx, a, &sleep, 1), HK_OK);
    HK_CHECK_RESULT(i->read(i->ctx, a, buf, 4), HK_ERR_SE_NO_RESPONSE);
    /* A longer delay on the port's own clock as well. */
    uint32_t m0 = now();
    uint64_t c0 = chip_us();
    i->delay_us(i->ctx, 25000);
    HK_CHECK(chip_us() - c0 >= (S->chip_now_us ? 25000u : 24000u));
    (void)m0;
}

/* ---- the clock across the run --------------------------------------------- */

static void test_clock_over_the_run(void)
{
    HK_CHECK(!C.went_back);
    if (S->clock_wraps)
        HK_CHECK(C.wrapped);
    printf("  %s: monotonic_ms %s during the run\n", S->name,
           C.wrapped ? "wrapped at 2^32" : "did not wrap");
}

int hk_port_suite_run(const hk_port_under_test *put)
{
    S = put;
    memset(&C, 0, sizeof C);
    printf("port suite: %s\n", put->name);
    HK_RUN(test_clock_monotonic);
    HK_RUN(test_wall_clock);
    HK_RUN(test_connect_bad_args);
    HK_RUN(test_connect_refused);
    HK_RUN(test_connect_unresolvable);
    HK_RUN(test_wait_semantics);
    HK_RUN(test_connect_table_full);
    HK_RUN(test_connect_pending);
    HK_RUN(test_partial_sends);
    HK_RUN(test_close_every_state);
    if (put->i2c != NULL)
        HK_RUN(test_i2c);
    else
        printf("  %s: hk_i2c not registered: its checks are skipped\n", put->name);
    HK_RUN(test_clock_over_the_run);
    return hk_test_finish(put->name) == 0 ? 0 : 1;
}
