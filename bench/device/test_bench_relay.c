/*
 * The latency relay: round-trip bookkeeping and TLS record following with
 * injected times (no clock), the due-time rules (the TCP handshake is
 * charged in full, with the client's own work after connect() on top of it;
 * name resolution is not modelled), and forwarding over real
 * loopback sockets with 0 ms of latency (nothing waits for time; every
 * blocking call has a receive timeout so a broken relay fails the test
 * instead of hanging it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hk_test.h"
#include "hkb_relay.h"

/* A TLS 1.2 ClientHello record header and 5 body bytes, then an
 * application-data record of 2 bytes: 16 03 01 00 05 ..5.. 17 03 03 00 02 ..2.. */
static const uint8_t k_tls[] = {0x16, 0x03, 0x01, 0x00, 0x05, 1,    2, 3, 4, 5,
                                0x17, 0x03, 0x03, 0x00, 0x02, 0xAA, 0xBB};

static void test_scan_whole(void)
{
    hkb_tls_scan s = {0};
    HK_CHECK_EQ(hkb_tls_scan_feed(&s, k_tls, sizeof k_tls), HKB_TLS_HS | HKB_TLS_APP);
    HK_CHECK_EQ(s.body_left, 0);
    HK_CHECK_EQ(s.hdr_have, 0);
}

static void test_scan_byte_by_byte(void)
{
    hkb_tls_scan s = {0};
    unsigned all = 0;
    for (size_t i = 0; i < sizeof k_tls; i++) {
        unsigned t = hkb_tls_scan_feed(&s, &k_tls[i], 1);
        /* A type is reported when its header's last byte arrives. */
        if (i == 4)
            HK_CHECK_EQ(t, HKB_TLS_HS);
        else if (i == 14)
            HK_CHECK_EQ(t, HKB_TLS_APP);
        else
            HK_CHECK_EQ(t, 0);
        all |= t;
    }
    HK_CHECK_EQ(all, HKB_TLS_HS | HKB_TLS_APP);
}

static void test_scan_ccs_alert_other(void)
{
    /* 14 03 03 00 01 01 (ChangeCipherSpec), 15 03 03 00 02 01 00 (alert),
     * then an MQTT CONNECT 10 0c ... (not TLS). */
    const uint8_t b[] = {0x14, 3, 3, 0, 1, 1, 0x15, 3, 3, 0, 2, 1, 0, 0x10, 0x0c, 0, 4, 'M'};
    hkb_tls_scan s = {0};
    HK_CHECK_EQ(hkb_tls_scan_feed(&s, b, sizeof b),
                HKB_TLS_CCS | HKB_TLS_ALERT | HKB_TLS_OTHER);
}

static void test_log_flights(void)
{
    hkb_relay_log lg;
    hkb_relay_log_init(&lg, 1000);
    /* Server bytes before the client said anything: no flight. */
    hkb_relay_log_server(&lg, 1100, 1050, k_tls + 10, 7);
    HK_CHECK_EQ(lg.flight_count, 0);
    /* Flight 1: two client writes, answered by two server writes. */
    hkb_relay_log_client(&lg, 2000, 2500, k_tls, 10);
    hkb_relay_log_client(&lg, 2100, 2600, k_tls + 10, 7);
    hkb_relay_log_server(&lg, 3000, 2700, k_tls, 4);
    hkb_relay_log_server(&lg, 3200, 2900, k_tls + 4, 6);
    /* Flight 2: answered. Flight 3: never answered. */
    hkb_relay_log_client(&lg, 4000, 4500, (const uint8_t *)"x", 1);
    hkb_relay_log_server(&lg, 5000, 4700, (const uint8_t *)"yz", 2);
    hkb_relay_log_client(&lg, 6000, 6500, (const uint8_t *)"q", 1);
    HK_CHECK_EQ(lg.flight_count, 3);
    HK_CHECK_EQ(hkb_relay_log_round_trips(&lg), 2);
    HK_CHECK_EQ(lg.flights[0].start_us, 2000);
    HK_CHECK_EQ(lg.flights[0].answer_us, 3000);
    HK_CHECK_EQ(lg.flights[0].client_bytes, 17);
    HK_CHECK_EQ(lg.flights[0].server_bytes, 10);
    HK_CHECK_EQ(lg.flights[0].client_types, HKB_TLS_HS | HKB_TLS_APP);
    HK_CHECK_EQ(lg.flights[0].server_types, HKB_TLS_HS);
    HK_CHECK_EQ(lg.flights[1].start_us, 4000);
    HK_CHECK_EQ(lg.flights[1].answer_us, 5000);
    HK_CHECK_EQ(lg.flights[2].answer_us, 0);
    HK_CHECK_EQ(lg.flights[2].client_bytes, 1);
    HK_CHECK_EQ(lg.accept_us, 1000);
}

/* The tail of an answer the server sent before the next flight reached it
 * (delivered after the client had already sent that flight) is not an
 * answer to that flight: it goes to the previous one, and the flight stays
 * open until the server really answers. */
static void test_log_answer_tail(void)
{
    hkb_relay_log lg;
    hkb_relay_log_init(&lg, 0);
    hkb_relay_log_client(&lg, 100, 150, (const uint8_t *)"a", 1);
    hkb_relay_log_server(&lg, 250, 200, (const uint8_t *)"bb", 2);
    /* The client answers the first part at once; the server's second part
     * left at 210, before this flight reached it at 360. */
    hkb_relay_log_client(&lg, 300, 360, (const uint8_t *)"c", 1);
    hkb_relay_log_server(&lg, 310, 210, (const uint8_t *)"ddd", 3);
    HK_CHECK_EQ(lg.flights[0].server_bytes, 5);
    HK_CHECK_EQ(lg.flights[1].answer_us, 0);
    /* Still the same flight; then the real answer. */
    hkb_relay_log_client(&lg, 320, 380, (const uint8_t *)"e", 1);
    HK_CHECK_EQ(lg.flight_count, 2);
    hkb_relay_log_server(&lg, 500, 450, (const uint8_t *)"f", 1);
    HK_CHECK_EQ(lg.flights[1].answer_us, 500);
    HK_CHECK_EQ(lg.flights[1].client_bytes, 2);
    HK_CHECK_EQ(lg.flights[1].server_bytes, 1);
    HK_CHECK_EQ(hkb_relay_log_round_trips(&lg), 2);
}

static void test_log_table_full(void)
{
    static hkb_relay_log lg;
    hkb_relay_log_init(&lg, 0);
    for (int i = 0; i < HKB_RELAY_MAX_FLIGHTS + 6; i++) {
        hkb_relay_log_client(&lg, 10 * i + 1, 10 * i + 2, (const uint8_t *)"c", 1);
        hkb_relay_log_server(&lg, 10 * i + 5, 10 * i + 3, (const uint8_t *)"s", 1);
    }
    HK_CHECK_EQ(lg.flight_count, HKB_RELAY_MAX_FLIGHTS);
    HK_CHECK_EQ(lg.flights_lost, 6);
    HK_CHECK_EQ(hkb_relay_log_round_trips(&lg), HKB_RELAY_MAX_FLIGHTS);
    /* The last recorded flight was not changed by the ones past the table. */
    HK_CHECK_EQ(lg.flights[HKB_RELAY_MAX_FLIGHTS - 1].client_bytes, 1);
    HK_CHECK_EQ(lg.flights[HKB_RELAY_MAX_FLIGHTS - 1].server_bytes, 1);
}

static void test_due_times(void)
{
    const int64_t rtt = 100000;
    /* Before the client heard from the server: connect() returned one RTT
     * early, so its bytes leave one RTT after they arrive, then take half an
     * RTT. Local work after connect() is charged: a ClientHello built in
     * 10 ms after the accept is due at 10 + 100 + 50 ms, not hidden inside
     * the TCP handshake (150 ms, as if it had cost nothing). */
    HK_CHECK_EQ(hkb_relay_due_up(false, 0, rtt), 150000);
    HK_CHECK_EQ(hkb_relay_due_up(false, 10000, rtt), 160000);
    HK_CHECK_EQ(hkb_relay_due_up(false, 130000, rtt), 280000);
    /* After the first server bytes reached it: only the one-way delay. */
    HK_CHECK_EQ(hkb_relay_due_up(true, 500000, rtt), 550000);
    HK_CHECK_EQ(hkb_relay_due_down(1000000, rtt), 1050000);
    HK_CHECK_EQ(hkb_relay_due_up(false, 7, 0), 7);
    HK_CHECK_EQ(hkb_relay_due_up(true, 7, 0), 7);
    HK_CHECK_EQ(hkb_relay_due_down(7, 0), 7);
    /* Name resolution is not modelled: the client connects to an address. */
}

/* ---- real sockets, 0 ms ------------------------------------------------------ */

static int listen_any(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *out_port = ntohs(a.sin_port);
    return fd;
}

static void with_timeout(int fd)
{
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    with_timeout(fd);
    return fd;
}

static ssize_t recv_n(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k <= 0)
            return got > 0 ? (ssize_t)got : k;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static void test_forwarding(void)
{
    uint16_t up_port = 0;
    int lfd = listen_any(&up_port);
    HK_CHECK(lfd >= 0);
    static hkb_relay r;
    HK_CHECK_EQ(hkb_relay_start(&r, up_port, 0), 0);
    int c = dial(r.port);
    HK_CHECK(c >= 0);
    with_timeout(lfd);
    int s = accept(lfd, NULL, NULL);
    HK_CHECK(s >= 0);
    with_timeout(s);

    uint8_t buf[64];
    HK_CHECK_EQ(send(c, k_tls, sizeof k_tls, 0), (ssize_t)sizeof k_tls);
    hk_guard_fill(buf, sizeof k_tls, sizeof buf);
    HK_CHECK_EQ(recv_n(s, buf, sizeof k_tls), (ssize_t)sizeof k_tls);
    HK_CHECK_MEM(buf, sizeof k_tls, k_tls, sizeof k_tls);
    HK_CHECK(hk_guard_intact(buf, sizeof k_tls, sizeof buf));
    HK_CHECK_EQ(send(s, "pong", 4, 0), 4);
    HK_CHECK_EQ(recv_n(c, buf, 4), 4);
    HK_CHECK_MEM(buf, 4, "pong", 4);
    /* The client's FIN reaches the server; the server's reaches the client. */
    shutdown(c, SHUT_WR);
    HK_CHECK_EQ(recv(s, buf, sizeof buf, 0), 0);
    close(s);
    HK_CHECK_EQ(recv(c, buf, sizeof buf, 0), 0);
    close(c);
    hkb_relay_stop(&r);
    close(lfd);

    HK_CHECK_EQ(r.conn_count, 1);
    HK_CHECK_EQ(r.conns_refused, 0);
    const hkb_relay_log *lg = &r.conns[0].log;
    HK_CHECK_EQ(lg->flight_count, 1);
    HK_CHECK_EQ(hkb_relay_log_round_trips(lg), 1);
    HK_CHECK_EQ(lg->flights[0].client_bytes, sizeof k_tls);
    HK_CHECK_EQ(lg->flights[0].server_bytes, 4);
    HK_CHECK_EQ(lg->flights[0].client_types, HKB_TLS_HS | HKB_TLS_APP);
    HK_CHECK(lg->flights[0].answer_us >= lg->flights[0].start_us);
}

static void test_upstream_refused(void)
{
    /* A port that was listening a moment ago and is closed now. */
    uint16_t dead = 0;
    int lfd = listen_any(&dead);
    HK_CHECK(lfd >= 0);
    close(lfd);
    static hkb_relay r;
    HK_CHECK_EQ(hkb_relay_start(&r, dead, 0), 0);
    int c = dial(r.port);
    HK_CHECK(c >= 0);
    uint8_t b[4];
    /* The relay closes the client's connection: EOF or a reset. */
    ssize_t n = recv(c, b, sizeof b, 0);
    HK_CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
    close(c);
    hkb_relay_stop(&r);
    HK_CHECK_EQ(r.conn_count, 0);
    HK_CHECK_EQ(r.conns_refused, 1);
}

int main(void)
{
    HK_RUN(test_scan_whole);
    HK_RUN(test_scan_byte_by_byte);
    HK_RUN(test_scan_ccs_alert_other);
    HK_RUN(test_log_flights);
    HK_RUN(test_log_answer_tail);
    HK_RUN(test_log_table_full);
    HK_RUN(test_due_times);
    HK_RUN(test_forwarding);
    HK_RUN(test_upstream_refused);
    return hk_test_finish("bench_relay");
}
