/*
 * The POSIX platform against real loopback sockets (random ports), and the
 * fault-injecting wrapper on top of it. Every wait is for an event with a
 * generous bound; nothing sleeps to let time pass.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hk_fault.h"
#include "hk_posix.h"
#include "hk_test.h"

static hk_posix posix;
static hk_platform P;

/* A listener on a loopback address (v6 when asked); port out. -1 if the
 * system has no such address. */
static int listen_on(bool v6, uint16_t *out_port)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *out_port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                         : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int accept_one(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return -1;
    return accept(lfd, NULL, NULL);
}

/* Read exactly n bytes from a platform socket, waiting through the platform. */
static size_t read_n(const hk_platform *p, hk_transport *s, uint8_t *buf, size_t n,
                     hk_result *out_r)
{
    size_t got = 0;
    *out_r = HK_OK;
    for (int i = 0; i < 200 && got < n; i++) {
        size_t k = 0;
        *out_r = s->recv(s->ctx, buf + got, n - got, &k);
        if (*out_r != HK_OK)
            break;
        got += k;
        if (k == 0)
            hk_result_ignore(p->wait(p->ctx, s, 2000)); /* the loop re-reads either way */
    }
    return got;
}

/* Set when a loopback family is missing: that run exits with
 * HK_TEST_SKIPPED, which CTest reports as skipped, never as passed. */
static bool family_missing;

/* Exit status CTest maps to "skipped" (SKIP_RETURN_CODE, tests/device). */
#define HK_TEST_SKIPPED 77

static void roundtrip(const char *host, bool v6)
{
    uint16_t port = 0;
    int lfd = listen_on(v6, &port);
    if (lfd < 0) {
        printf("no %s loopback here: skipped\n", v6 ? "IPv6" : "IPv4");
        family_missing = true;
        return;
    }
    hk_transport s;
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, host, port, &s), HK_OK);
    int sfd = accept_one(lfd);
    HK_CHECK(sfd >= 0);
    HK_CHECK(hk_posix_socket_fd(&posix, &s) >= 0);

    uint8_t buf[16];
    size_t n = 99;
    HK_CHECK_RESULT(s.recv(s.ctx, buf, sizeof buf, &n), HK_OK); /* nothing yet */
    HK_CHECK_EQ(n, 0);

    HK_CHECK_EQ(write(sfd, "hello", 5), 5);
    HK_CHECK_RESULT(P.wait(P.ctx, &s, 5000), HK_OK);
    hk_result r;
    HK_CHECK_EQ(read_n(&P, &s, buf, 5, &r), 5);
    HK_CHECK_MEM(buf, 5, "hello", 5);

    size_t sent = 0;
    HK_CHECK_RESULT(s.send(s.ctx, (const uint8_t *)"ping", 4, &sent), HK_OK);
    HK_CHECK_EQ(sent, 4);
    HK_CHECK_EQ(read(sfd, buf, sizeof buf), 4);

    close(sfd); /* peer closes: wait returns, recv says CLOSED */
    HK_CHECK_RESULT(P.wait(P.ctx, &s, 5000), HK_OK);
    HK_CHECK_RESULT(s.recv(s.ctx, buf, sizeof buf, &n), HK_ERR_CLOSED);
    P.tcp_close(P.ctx, &s);
    HK_CHECK_EQ(hk_posix_socket_fd(&posix, &s), -1);
    HK_CHECK_RESULT(P.wait(P.ctx, &s, 0), HK_ERR_INVALID_ARG); /* no longer open */
    close(lfd);
}

static void test_ipv4_numeric(void)
{
    roundtrip("127.0.0.1", false);
}

static void test_ipv4_by_name(void)
{
    roundtrip("localhost", false);
}

static void test_ipv6(void)
{
    roundtrip("::1", true);
}

static void test_refused_and_unresolvable(void)
{
    uint16_t port = 0;
    int lfd = listen_on(false, &port);
    HK_CHECK(lfd >= 0);
    close(lfd); /* nobody listens there now */
    hk_transport s;
    /* Only started: the refusal comes through the socket (platform.h). */
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s), HK_OK);
    HK_CHECK_RESULT(P.wait(P.ctx, &s, 5000), HK_OK);
    uint8_t b[4];
    size_t n = 99;
    HK_CHECK_RESULT(s.recv(s.ctx, b, sizeof b, &n), HK_ERR_CONNECT);
    HK_CHECK_EQ(n, 0);
    HK_CHECK_RESULT(s.send(s.ctx, b, 1, &n), HK_ERR_CONNECT); /* and stays failed */
    HK_CHECK_EQ(hk_posix_socket_fd(&posix, &s), -1);
    P.tcp_close(P.ctx, &s);
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "nonexistent.invalid", 8883, &s), HK_ERR_RESOLVE);
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "", 8883, &s), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", 0, &s), HK_ERR_INVALID_ARG);
}

/* A connect the peer does not answer yet (its accept queue is full, so
 * the kernel drops the SYN): tcp_connect returns at once, the socket moves
 * no bytes and reports no error while pending, wait returns at its bound,
 * and close releases it. */
static void test_connect_is_started_not_waited_for(void)
{
    uint16_t port = 0;
    int lfd = listen_on(false, &port);
    HK_CHECK(lfd >= 0);
    HK_CHECK(listen(lfd, 0) == 0);
    /* Fill the accept queue with connections nobody accepts. */
    int fill[8];
    size_t nfill = 0;
    for (; nfill < 8; nfill++) {
        fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)connect(fill[nfill], (struct sockaddr *)&a, sizeof a);
    }
    hk_transport s[2];
    /* The later of these two may still be pending; at least one of the
     * starts below must be: check that pending is reported as "nothing
     * yet", never as an error, and that both started without waiting. */
    bool saw_pending = false;
    for (int i = 0; i < 2; i++) {
        HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s[i]), HK_OK);
        uint8_t b[4];
        size_t n = 99;
        HK_CHECK_RESULT(s[i].send(s[i].ctx, (const uint8_t *)"x", 1, &n), HK_OK);
        if (n == 0) {
            saw_pending = true;
            HK_CHECK_RESULT(s[i].recv(s[i].ctx, b, sizeof b, &n), HK_OK);
            HK_CHECK_EQ(n, 0);
            HK_CHECK_RESULT(P.wait(P.ctx, &s[i], 20), HK_OK);
        }
    }
    HK_CHECK(saw_pending);
    P.tcp_close(P.ctx, &s[0]);
    P.tcp_close(P.ctx, &s[1]);
    for (size_t i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
}

static void test_socket_table_full(void)
{
    uint16_t port = 0;
    int lfd = listen_on(false, &port);
    hk_transport s[HK_POSIX_MAX_SOCKETS + 1];
    for (int i = 0; i < HK_POSIX_MAX_SOCKETS; i++)
        HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s[i]), HK_OK);
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s[HK_POSIX_MAX_SOCKETS]),
                    HK_ERR_FULL);
    for (int i = 0; i < HK_POSIX_MAX_SOCKETS; i++)
        P.tcp_close(P.ctx, &s[i]);
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s[0]), HK_OK);
    P.tcp_close(P.ctx, &s[0]);
    close(lfd);
}

/* A full kernel buffer: send takes 0 bytes; wait wakes once the peer reads. */
static void test_backpressure(void)
{
    uint16_t port = 0;
    int lfd = listen_on(false, &port);
    hk_transport s;
    HK_CHECK_RESULT(P.tcp_connect(P.ctx, "127.0.0.1", port, &s), HK_OK);
    int sfd = accept_one(lfd);
    static uint8_t chunk[65536];
    size_t sent = 1, total = 0;
    for (int i = 0; i < 10000 && sent != 0; i++) {
        HK_CHECK_RESULT(s.send(s.ctx, chunk, sizeof chunk, &sent), HK_OK);
        total += sent;
    }
    HK_CHECK_EQ(sent, 0);
    HK_CHECK(total > 0);
    /* drain everything on the other side, then the socket is writable */
    size_t drained = 0;
    while (drained < total) {
        ssize_t k = read(sfd, chunk, sizeof chunk);
        if (k <= 0)
            break;
        drained += (size_t)k;
    }
    HK_CHECK_EQ(drained, total);
    HK_CHECK_RESULT(P.wait(P.ctx, &s, 5000), HK_OK);
    HK_CHECK_RESULT(s.send(s.ctx, chunk, 10, &sent), HK_OK);
    HK_CHECK_EQ(sent, 10);
    P.tcp_close(P.ctx, &s);
    close(sfd);
    close(lfd);
}

static void test_clocks(void)
{
    uint32_t a = P.monotonic_ms(P.ctx), b = P.monotonic_ms(P.ctx);
    HK_CHECK((uint32_t)(b - a) < 1000);
    /* wall_s is the system's real time, bracketed by time() before and
     * after; a system clock before the floor reads as unknown. */
    time_t t0 = time(NULL);
    int64_t w = P.wall_s(P.ctx);
    time_t t1 = time(NULL);
    if (t0 >= HK_POSIX_WALL_FLOOR_S) {
        HK_CHECK(w >= (int64_t)t0 && w <= (int64_t)t1);
    } else {
        HK_CHECK(w == HK_PLATFORM_TIME_UNKNOWN);
    }
    /* "Unknown" never passes for a time past the floor. */
    _Static_assert(HK_PLATFORM_TIME_UNKNOWN < HK_POSIX_WALL_FLOOR_S,
                   "the unknown time must compare below every valid time");
    HK_CHECK_RESULT(P.wait(P.ctx, NULL, 0), HK_OK);
}

/* ---- the fault wrapper ---- */

static void test_fault_cut_after_bytes(void)
{
    hk_fault f;
    hk_platform F;
    hk_fault_init(&f, &P, &F);
    uint16_t port = 0;
    int lfd = listen_on(false, &port);
    f.fail_connects = 1; /* refused at once, as a port may */
    hk_transport s;
    HK_CHECK_RESULT(F.tcp_connect(F.ctx, "127.0.0.1", port, &s), HK_ERR_CONNECT);
    HK_CHECK_EQ(f.refused, 1);
    f.cut_conn = 0;
    f.cut_after_rx = 7;
    f.max_chunk = 3;
    HK_CHECK_RESULT(F.tcp_connect(F.ctx, "127.0.0.1", port, &s), HK_OK);
    int sfd = accept_one(lfd);
    HK_CHECK_EQ(write(sfd, "0123456789", 10), 10);
    uint8_t buf[16];
    hk_result r;
    size_t got = read_n(&F, &s, buf, 10, &r);
    HK_CHECK_EQ(got, 7); /* exactly up to the limit, in 3-byte pieces */
    HK_CHECK_RESULT(r, HK_ERR_CLOSED);
    HK_CHECK_MEM(buf, 7, "0123456", 7);
    size_t sent;
    HK_CHECK_RESULT(s.send(s.ctx, buf, 1, &sent), HK_ERR_CLOSED);
    HK_CHECK_EQ(f.cuts, 1);
    F.tcp_close(F.ctx, &s);
    close(sfd);

    /* the limits apply to connection 0 only: connection 1 is untouched */
    HK_CHECK_RESULT(F.tcp_connect(F.ctx, "127.0.0.1", port, &s), HK_OK);
    sfd = accept_one(lfd);
    HK_CHECK_EQ(write(sfd, "0123456789", 10), 10);
    got = read_n(&F, &s, buf, 10, &r);
    HK_CHECK_EQ(got, 10);
    /* cut at a step chosen by the test */
    hk_fault_cut_all(&f);
    HK_CHECK_RESULT(F.wait(F.ctx, &s, 5000), HK_OK);
    HK_CHECK_RESULT(s.recv(s.ctx, buf, sizeof buf, &got), HK_ERR_CLOSED);
    HK_CHECK_EQ(f.cuts, 2);
    HK_CHECK_EQ(f.connects, 2);
    F.tcp_close(F.ctx, &s);
    close(sfd);

    /* transmit limit */
    f.cut_conn = HK_FAULT_ANY;
    f.cut_after_rx = 0;
    f.cut_after_tx = 4;
    f.max_chunk = 0;
    HK_CHECK_RESULT(F.tcp_connect(F.ctx, "127.0.0.1", port, &s), HK_OK);
    sfd = accept_one(lfd);
    HK_CHECK_RESULT(s.send(s.ctx, (const uint8_t *)"abcdef", 6, &sent), HK_OK);
    HK_CHECK_EQ(sent, 4);
    HK_CHECK_RESULT(s.send(s.ctx, (const uint8_t *)"ef", 2, &sent), HK_ERR_CLOSED);
    F.tcp_close(F.ctx, &s);
    close(sfd);
    close(lfd);
}

/* No argument: everything but the loopback round trips. "ipv4" / "ipv6":
 * that family's round trips only, skipped (exit 77) where the system has
 * no such loopback address. */
int main(int argc, char **argv)
{
    HK_CHECK_RESULT(hk_posix_init(&posix, &P), HK_OK);
    const char *only = argc > 1 ? argv[1] : NULL;
    if (only != NULL && strcmp(only, "ipv4") == 0) {
        HK_RUN(test_ipv4_numeric);
        HK_RUN(test_ipv4_by_name);
    } else if (only != NULL && strcmp(only, "ipv6") == 0) {
        HK_RUN(test_ipv6);
    } else if (only != NULL) {
        fprintf(stderr, "usage: %s [ipv4|ipv6]\n", argv[0]);
        return 2;
    } else {
        HK_RUN(test_refused_and_unresolvable);
        HK_RUN(test_connect_is_started_not_waited_for);
        HK_RUN(test_socket_table_full);
        HK_RUN(test_backpressure);
        HK_RUN(test_clocks);
        HK_RUN(test_fault_cut_after_bytes);
    }
    hk_posix_deinit(&posix);
    int rc = hk_test_finish(only != NULL ? only : "posix_platform");
    return rc == 0 && family_missing ? HK_TEST_SKIPPED : rc;
}
