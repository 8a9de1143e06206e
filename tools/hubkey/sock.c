/*
 * hubkey — the local socket of `hubkey run` (agent_sock.h).
 *
 * Every descriptor is non-blocking: a client that stops reading its
 * answers is disconnected once AGENT_SOCK_OUT_MAX bytes wait for it, so it
 * can never stall the agent; a client that sends faster than the hub
 * acknowledges is simply not read while AGENT_SOCK_PENDING of its requests
 * are unanswered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_sock.h"

void agent_sock_init(agent_sock *s)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = -1;
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++)
        s->clients[i].fd = -1;
}

static int fail(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

int agent_sock_open(agent_sock *s, const char *path, const char *group, bool *missing_dir,
                    char *err, size_t err_cap)
{
    *missing_dir = false;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(addr.sun_path))
        return fail(err, err_cap, AGENT_EXIT_USAGE,
                    "local socket %s: a path of 1..%zu bytes is needed", path,
                    sizeof(addr.sun_path) - 1);
    memcpy(addr.sun_path, path, len);
    gid_t gid = (gid_t)-1;
    if (group) {
        struct group *g = getgrnam(group);
        if (!g)
            return fail(err, err_cap, AGENT_EXIT_USAGE, "--socket-group %s: no such group",
                        group);
        gid = g->gr_gid;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(err, err_cap, AGENT_EXIT_INTERNAL, "local socket: %s", strerror(errno));
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return fail(err, err_cap, AGENT_EXIT_FILE,
                        "local socket %s: the path exists and is not a socket", path);
        }
        /* Someone answers: another agent. Nobody: a file left behind. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            close(fd);
            return fail(err, err_cap, AGENT_EXIT_FILE,
                        "local socket %s: another agent listens there (give --socket PATH, "
                        "or --socket off)",
                        path);
        }
        (void)unlink(path);
    }
    mode_t old = umask(0117); /* the socket file: 0660 */
    int b = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    int bind_errno = errno;
    umask(old);
    if (b != 0) {
        close(fd);
        *missing_dir = bind_errno == ENOENT || bind_errno == EACCES || bind_errno == EROFS ||
                       bind_errno == ENOTDIR;
        return fail(err, err_cap, AGENT_EXIT_FILE, "local socket %s: %s", path,
                    strerror(bind_errno));
    }
    if (chmod(path, 0660) != 0 || (group && chown(path, (uid_t)-1, gid) != 0)) {
        int e = errno;
        close(fd);
        (void)unlink(path);
        return fail(err, err_cap, AGENT_EXIT_FILE, "local socket %s: %s%s%s", path,
                    group ? "cannot give it to group " : "", group ? group : "", strerror(e));
    }
    if (listen(fd, (int)AGENT_SOCK_CLIENTS) != 0) {
        int e = errno;
        close(fd);
        (void)unlink(path);
        return fail(err, err_cap, AGENT_EXIT_FILE, "local socket %s: listen: %s", path,
                    strerror(e));
    }
    s->listen_fd = fd;
    memcpy(s->path, path, len + 1);
    return 0;
}

static void drop(agent_sock_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void agent_sock_close(agent_sock *s)
{
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++)
        drop(&s->clients[i]);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        (void)unlink(s->path);
    }
    s->listen_fd = -1;
}

size_t agent_sock_pollfds(const agent_sock *s, struct pollfd *fds, bool accept_lines)
{
    size_t n = 0;
    if (s->listen_fd < 0)
        return 0;
    fds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++) {
        const agent_sock_client *c = &s->clients[i];
        if (c->fd < 0)
            continue;
        short ev = 0;
        if (accept_lines && c->p_count < AGENT_SOCK_PENDING && !c->eof)
            ev |= POLLIN;
        if (c->out_len)
            ev |= POLLOUT;
        fds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
    }
    return n;
}

static agent_sock_client *by_fd(agent_sock *s, int fd)
{
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++)
        if (s->clients[i].fd == fd)
            return &s->clients[i];
    return NULL;
}

static agent_sock_client *by_id(agent_sock *s, uint32_t id)
{
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++)
        if (s->clients[i].fd >= 0 && s->clients[i].id == id)
            return &s->clients[i];
    return NULL;
}

/* Writes what waits; false when the client is gone (then dropped). */
static bool flush_out(agent_sock_client *c)
{
    while (c->out_len) {
        ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (w <= 0) {
            drop(c);
            return false;
        }
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
    return true;
}

/* A client that has sent everything and has had every answer is closed. */
static void close_if_done(agent_sock_client *c)
{
    if (c->fd >= 0 && c->eof && c->p_count == 0 && c->out_len == 0)
        drop(c);
}

/* Moves the answers that are due (the oldest requests, answered) out. */
static void release(agent_sock_client *c)
{
    while (c->p_count && c->pending[c->p_head].done) {
        agent_sock_answer_slot *p = &c->pending[c->p_head];
        size_t n = strlen(p->text);
        if (c->out_len + n + 1 > sizeof(c->out)) {
            drop(c); /* it does not read its answers */
            return;
        }
        memcpy(c->out + c->out_len, p->text, n);
        c->out[c->out_len + n] = '\n';
        c->out_len += n + 1;
        c->p_head = (c->p_head + 1) % AGENT_SOCK_PENDING;
        c->p_count--;
    }
    if (flush_out(c))
        close_if_done(c);
}

void agent_sock_answer(agent_sock *s, uint32_t client_id, uint32_t seq, const char *fmt, ...)
{
    agent_sock_client *c = by_id(s, client_id);
    if (!c)
        return;
    for (size_t i = 0; i < c->p_count; i++) {
        agent_sock_answer_slot *p = &c->pending[(c->p_head + i) % AGENT_SOCK_PENDING];
        if (p->seq != seq || p->done)
            continue;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->text, sizeof(p->text), fmt, ap);
        va_end(ap);
        /* One line: nothing in an answer may end it early. */
        for (char *t = p->text; *t; t++)
            if (*t == '\n' || *t == '\r')
                *t = ' ';
        p->done = true;
        release(c);
        return;
    }
}

static void take_line(agent_sock *s, agent_sock_client *c, agent_sock_line_fn fn, void *ctx)
{
    uint32_t id = c->id;
    size_t len = c->line_len;
    bool overflow = c->overflow;
    c->line_len = 0;
    c->overflow = false;
    if (!overflow && (len == 0 || (len == 1 && c->line[0] == '\r')))
        return; /* blank: no request, no answer */
    if (c->p_count == AGENT_SOCK_PENDING) {
        drop(c); /* only when it sent more after hanging up: nobody reads the answers */
        return;
    }
    agent_sock_answer_slot *p = &c->pending[(c->p_head + c->p_count) % AGENT_SOCK_PENDING];
    memset(p, 0, sizeof(*p));
    p->seq = c->next_seq++;
    c->p_count++;
    if (overflow) {
        agent_sock_answer(s, id, p->seq, "error line longer than %u bytes",
                          AGENT_SOCK_LINE_MAX);
        return;
    }
    fn(ctx, id, p->seq, c->line, len);
}

static void read_client(agent_sock *s, agent_sock_client *c, agent_sock_line_fn fn, void *ctx)
{
    char buf[4096];
    uint32_t id = c->id;
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        drop(c);
        return;
    }
    if (n == 0) {
        /* End of its requests (a shutdown for writing, or a close): a last
         * line without '\n' still counts; the answers still due go out
         * (a client that closed altogether is noticed by POLLHUP), then
         * the connection is closed. */
        c->eof = true;
        if (c->line_len)
            take_line(s, c, fn, ctx);
        if (by_id(s, id))
            close_if_done(c);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            take_line(s, c, fn, ctx);
            if (!by_id(s, id))
                return; /* dropped while answering */
        } else if (c->line_len < sizeof(c->line)) {
            c->line[c->line_len++] = buf[i];
        } else {
            c->overflow = true;
        }
    }
}

void agent_sock_service(agent_sock *s, const struct pollfd *fds, size_t n, agent_sock_line_fn fn,
                        void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == s->listen_fd) {
            int cfd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (cfd < 0)
                continue;
            agent_sock_client *c = by_fd(s, -1);
            if (!c) {
                static const char busy[] = "error too many clients\n";
                (void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(cfd);
                continue;
            }
            memset(c, 0, sizeof(*c));
            c->fd = cfd;
            c->id = ++s->next_id;
            continue;
        }
        agent_sock_client *c = by_fd(s, fds[i].fd);
        if (!c)
            continue;
        if (fds[i].revents & POLLOUT) {
            if (!flush_out(c))
                continue;
            close_if_done(c);
            if (c->fd < 0)
                continue;
        }
        if (c->eof && (fds[i].revents & (POLLHUP | POLLERR))) {
            drop(c); /* gone for good: nobody reads the answers still due */
            continue;
        }
        if (!c->eof && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_client(s, c, fn, ctx);
    }
}
