/*
 * The latency relay (hkb_relay.h). One thread, one poll() loop: read what
 * is readable, stamp it with its due time, write what is due, sleep until
 * the next due time or the next readable socket.
 *
 * Why a delay queue instead of sleeping per chunk: the two directions of a
 * connection are independent (a server may talk while the client talks),
 * and a sleep would delay everything behind it by its whole length.
 */
#define _GNU_SOURCE
#include "hkb_relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX 16384

typedef struct hkb_chunk {
    struct hkb_chunk *next;
    int64_t due_us;
    int64_t arrival_us; /* when the relay read it */
    bool eof; /* a half close instead of bytes */
    size_t len;
    size_t off; /* bytes of data already written */
    uint8_t data[];
} hkb_chunk;

int64_t hkb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- pure bookkeeping ------------------------------------------------------ */

unsigned hkb_tls_scan_feed(hkb_tls_scan *s, const uint8_t *buf, size_t len)
{
    unsigned types = 0;
    size_t i = 0;
    while (i < len) {
        if (s->body_left > 0) {
            size_t n = len - i < s->body_left ? len - i : s->body_left;
            s->body_left -= n;
            i += n;
            continue;
        }
        s->hdr[s->hdr_have++] = buf[i++];
        if (s->hdr_have < sizeof s->hdr)
            continue;
        uint8_t t = s->hdr[0];
        types |= t >= 20 && t <= 23 ? 1u << (t - 20) : HKB_TLS_OTHER;
        s->body_left = (size_t)s->hdr[3] << 8 | s->hdr[4];
        s->hdr_have = 0;
    }
    return types;
}

void hkb_relay_log_init(hkb_relay_log *log, int64_t accept_us)
{
    memset(log, 0, sizeof *log);
    log->accept_us = accept_us;
}

static hkb_relay_flight *current_flight(hkb_relay_log *log)
{
    if (log->flight_count == 0 || log->flight_count > HKB_RELAY_MAX_FLIGHTS)
        return NULL;
    return &log->flights[log->flight_count - 1];
}

void hkb_relay_log_client(hkb_relay_log *log, int64_t now_us, int64_t reach_us,
                          const uint8_t *buf, size_t len)
{
    unsigned types = hkb_tls_scan_feed(&log->scan_up, buf, len);
    if (!log->last_was_client) {
        /* A new flight begins. */
        if (log->flight_count < HKB_RELAY_MAX_FLIGHTS) {
            hkb_relay_flight *f = &log->flights[log->flight_count];
            memset(f, 0, sizeof *f);
            f->start_us = now_us;
            f->reach_us = reach_us;
            log->flight_count++;
        } else {
            log->flights_lost++;
            log->flight_count = HKB_RELAY_MAX_FLIGHTS + 1; /* mark: no current flight */
        }
        log->last_was_client = true;
    }
    hkb_relay_flight *f = current_flight(log);
    if (f) {
        f->client_bytes += len;
        f->client_types |= types;
    }
}

void hkb_relay_log_server(hkb_relay_log *log, int64_t now_us, int64_t sent_us,
                          const uint8_t *buf, size_t len)
{
    unsigned types = hkb_tls_scan_feed(&log->scan_down, buf, len);
    hkb_relay_flight *f = current_flight(log);
    if (f && log->last_was_client && sent_us < f->reach_us) {
        /* Sent before the current flight reached the server: the rest of
         * the previous answer. The current flight stays open. */
        if (log->flight_count >= 2) {
            hkb_relay_flight *prev = &log->flights[log->flight_count - 2];
            prev->server_bytes += len;
            prev->server_types |= types;
        }
        return;
    }
    if (f) {
        if (f->answer_us == 0)
            f->answer_us = now_us;
        f->server_bytes += len;
        f->server_types |= types;
    }
    log->last_was_client = false;
    if (log->flight_count > HKB_RELAY_MAX_FLIGHTS)
        log->flight_count = HKB_RELAY_MAX_FLIGHTS;
}

size_t hkb_relay_log_round_trips(const hkb_relay_log *log)
{
    size_t n = 0;
    size_t count = log->flight_count < HKB_RELAY_MAX_FLIGHTS ? log->flight_count
                                                             : HKB_RELAY_MAX_FLIGHTS;
    for (size_t i = 0; i < count; i++)
        n += log->flights[i].answer_us != 0;
    return n;
}

/* Before the client has heard from the server, its clock runs one RTT ahead
 * of a real client's: its connect() returned at once instead of after SYN,
 * SYN-ACK. Whatever it did after connect() (TLS set-up, building the
 * ClientHello) a real client would have done after that RTT, so its bytes
 * leave one RTT later than they arrive here and then take the one-way delay;
 * nothing it does in the meantime is hidden behind the handshake. The first
 * server bytes it receives carry the real timing, so from then on only the
 * one-way delay applies. */
int64_t hkb_relay_due_up(bool heard_server, int64_t arrival_us, int64_t rtt_us)
{
    return arrival_us + (heard_server ? 0 : rtt_us) + rtt_us / 2;
}

int64_t hkb_relay_due_down(int64_t arrival_us, int64_t rtt_us)
{
    return arrival_us + rtt_us / 2;
}

/* ---- sockets ------------------------------------------------------------------ */

static void queue_push(hkb_chunk **head, hkb_chunk **tail, hkb_chunk *c)
{
    c->next = NULL;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static void queue_free(hkb_chunk **head, hkb_chunk **tail)
{
    while (*head) {
        hkb_chunk *n = (*head)->next;
        free(*head);
        *head = n;
    }
    *tail = NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void conn_close(hkb_relay_conn *c)
{
    close_fd(&c->client_fd);
    close_fd(&c->server_fd);
    queue_free(&c->up_head, &c->up_tail);
    queue_free(&c->down_head, &c->down_tail);
}

static bool conn_open(const hkb_relay_conn *c)
{
    return c->client_fd >= 0 || c->server_fd >= 0;
}

static int connect_upstream(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void accept_one(hkb_relay *r)
{
    int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    int64_t now = hkb_now_us();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int up = r->conn_count < HKB_RELAY_MAX_CONNS ? connect_upstream(r->upstream_port) : -1;
    if (up < 0) {
        r->conns_refused++;
        close(fd);
        return;
    }
    hkb_relay_conn *c = &r->conns[r->conn_count++];
    memset(c, 0, sizeof *c);
    c->client_fd = fd;
    c->server_fd = up;
    hkb_relay_log_init(&c->log, now);
}

/* Reads what fd has and queues it with its due time. false: the connection
 * failed (reset); it has been closed. */
static bool read_side(hkb_relay *r, hkb_relay_conn *c, bool from_client)
{
    uint8_t buf[CHUNK_MAX];
    int fd = from_client ? c->client_fd : c->server_fd;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    if (n < 0) {
        conn_close(c);
        return false;
    }
    int64_t now = hkb_now_us();
    hkb_chunk *ch = malloc(sizeof *ch + (size_t)n);
    if (!ch) {
        conn_close(c);
        return false;
    }
    memset(ch, 0, sizeof *ch);
    ch->len = (size_t)n;
    ch->eof = n == 0;
    memcpy(ch->data, buf, (size_t)n);
    if (from_client) {
        c->client_eof = n == 0;
        ch->due_us = hkb_relay_due_up(c->heard_server, now, r->rtt_us);
        /* Order is kept: bytes sent just after the first answer must not
         * overtake bytes still held for the connection's set-up. */
        if (c->up_tail && ch->due_us < c->up_tail->due_us)
            ch->due_us = c->up_tail->due_us;
        if (n > 0)
            hkb_relay_log_client(&c->log, now, ch->due_us, buf, (size_t)n);
        queue_push(&c->up_head, &c->up_tail, ch);
    } else {
        c->server_eof = n == 0;
        ch->arrival_us = now;
        ch->due_us = hkb_relay_due_down(now, r->rtt_us);
        queue_push(&c->down_head, &c->down_tail, ch);
    }
    return true;
}

/* Writes every due chunk of one direction. false: the connection failed. */
static bool flush_side(hkb_relay_conn *c, bool to_server, int64_t now)
{
    hkb_chunk **head = to_server ? &c->up_head : &c->down_head;
    hkb_chunk **tail = to_server ? &c->up_tail : &c->down_tail;
    int fd = to_server ? c->server_fd : c->client_fd;
    while (*head && (*head)->due_us <= now) {
        hkb_chunk *ch = *head;
        if (ch->eof) {
            shutdown(fd, SHUT_WR);
        } else {
            while (ch->off < ch->len) {
                ssize_t n = send(fd, ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    conn_close(c);
                    return false;
                }
                ch->off += (size_t)n;
            }
            if (!to_server) {
                hkb_relay_log_server(&c->log, hkb_now_us(), ch->arrival_us, ch->data, ch->len);
                c->heard_server = true;
            }
        }
        *head = ch->next;
        if (!*head)
            *tail = NULL;
        free(ch);
    }
    return true;
}

static void *relay_main(void *arg)
{
    hkb_relay *r = arg;
    for (;;) {
        struct pollfd pfd[2 + 2 * HKB_RELAY_MAX_CONNS];
        int owner[2 + 2 * HKB_RELAY_MAX_CONNS]; /* conn index * 2 + (1 = server side) */
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = r->wake_fd[0], .events = POLLIN};
        owner[n++] = -1;
        pfd[n] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        owner[n++] = -2;
        int64_t now = hkb_now_us();
        int64_t next_due = INT64_MAX;
        for (size_t i = 0; i < r->conn_count; i++) {
            hkb_relay_conn *c = &r->conns[i];
            if (!conn_open(c))
                continue;
            if (c->up_head && c->up_head->due_us < next_due)
                next_due = c->up_head->due_us;
            if (c->down_head && c->down_head->due_us < next_due)
                next_due = c->down_head->due_us;
            if (!c->client_eof) {
                pfd[n] = (struct pollfd){.fd = c->client_fd, .events = POLLIN};
                owner[n++] = (int)i * 2;
            }
            if (!c->server_eof) {
                pfd[n] = (struct pollfd){.fd = c->server_fd, .events = POLLIN};
                owner[n++] = (int)i * 2 + 1;
            }
        }
        struct timespec ts, *tsp = NULL;
        if (next_due != INT64_MAX) {
            int64_t wait = next_due > now ? next_due - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000);
            ts.tv_nsec = (long)(wait % 1000000) * 1000;
            tsp = &ts;
        }
        int rc = ppoll(pfd, n, tsp, NULL);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0) {
            if (pfd[0].revents)
                break; /* stop */
            if (pfd[1].revents & POLLIN)
                accept_one(r);
            for (nfds_t k = 2; k < n; k++) {
                if (!pfd[k].revents)
                    continue;
                hkb_relay_conn *c = &r->conns[owner[k] / 2];
                if (conn_open(c))
                    read_side(r, c, owner[k] % 2 == 0);
            }
        }
        now = hkb_now_us();
        for (size_t i = 0; i < r->conn_count; i++) {
            hkb_relay_conn *c = &r->conns[i];
            if (!conn_open(c))
                continue;
            if (!flush_side(c, true, now) || !flush_side(c, false, now))
                continue;
            /* Both halves closed and delivered: the connection is over. */
            if (c->client_eof && c->server_eof && !c->up_head && !c->down_head)
                conn_close(c);
        }
    }
    return NULL;
}

int hkb_relay_start(hkb_relay *r, uint16_t upstream_port, uint32_t rtt_ms)
{
    memset(r, 0, sizeof *r);
    r->upstream_port = upstream_port;
    r->rtt_us = (int64_t)rtt_ms * 1000;
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->listen_fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(r->listen_fd, 16) != 0 ||
        getsockname(r->listen_fd, (struct sockaddr *)&a, &al) != 0) {
        close(r->listen_fd);
        return -1;
    }
    r->port = ntohs(a.sin_port);
    if (pipe2(r->wake_fd, O_CLOEXEC) != 0) {
        close(r->listen_fd);
        return -1;
    }
    int err = pthread_create(&r->thread, NULL, relay_main, r);
    if (err != 0) {
        close(r->listen_fd);
        close(r->wake_fd[0]);
        close(r->wake_fd[1]);
        errno = err;
        return -1;
    }
    r->running = true;
    return 0;
}

void hkb_relay_stop(hkb_relay *r)
{
    if (!r->running)
        return;
    ssize_t w;
    do {
        w = write(r->wake_fd[1], "x", 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(r->thread, NULL);
    r->running = false;
    for (size_t i = 0; i < r->conn_count; i++)
        conn_close(&r->conns[i]);
    close(r->listen_fd);
    close(r->wake_fd[0]);
    close(r->wake_fd[1]);
}
