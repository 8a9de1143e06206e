/*
 * The local socket of `hubkey run` (tools/hubkey/sock.c) on a real Unix
 * socket in a temporary directory: opening (mode 0660, a stale file
 * replaced, a live agent, a regular file, a missing directory and an
 * unknown group refused), answers in the order of the requests whatever
 * order they are given in, a line over the limit, a client that shuts down
 * its sending side (answered, then closed), one client too many, the file
 * removed on close. Waits are poll() for the socket's own events, bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_sock.h"
#include "hk_test.h"

static char dir[256], path[300];

typedef struct seen {
    uint32_t client;
    uint32_t seq;
    char line[64];
} seen;

static seen lines[64];
static size_t n_lines;

static void on_line(void *ctx, uint32_t client_id, uint32_t seq, const char *line, size_t len)
{
    (void)ctx;
    if (n_lines < sizeof(lines) / sizeof(lines[0])) {
        seen *s = &lines[n_lines++];
        s->client = client_id;
        s->seq = seq;
        snprintf(s->line, sizeof(s->line), "%.*s", (int)(len < 60 ? len : 60), line);
    }
}

/* One round of the agent's loop: poll (up to wait_ms) and service. */
static void step(agent_sock *s, int wait_ms)
{
    struct pollfd fds[1 + AGENT_SOCK_CLIENTS];
    size_t n = agent_sock_pollfds(s, fds, true);
    if (poll(fds, n, wait_ms) > 0)
        agent_sock_service(s, fds, n, on_line, NULL);
}

/* Steps until want lines arrived (or 200 rounds of up to 50 ms). */
static void step_until_lines(agent_sock *s, size_t want)
{
    for (int i = 0; i < 200 && n_lines < want; i++)
        step(s, 50);
}

static int client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what the agent has sent the client within wait_ms (stepping the
 * agent meanwhile); returns the bytes, -1 at the end of the connection. */
static ssize_t client_read(agent_sock *s, int fd, char *buf, size_t cap, int rounds)
{
    size_t got = 0;
    for (int i = 0; i < rounds; i++) {
        step(s, 10);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
        if (r == 0) {
            buf[got] = '\0';
            return got ? (ssize_t)got : -1;
        }
        if (r > 0)
            got += (size_t)r;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

static void test_open_refusals(void)
{
    agent_sock s, t;
    char err[512];
    bool missing;
    agent_sock_init(&s);
    agent_sock_init(&t);
    HK_CHECK_EQ(agent_sock_open(&s, path, NULL, &missing, err, sizeof(err)), 0);
    struct stat st;
    HK_CHECK_EQ(stat(path, &st), 0);
    HK_CHECK(S_ISSOCK(st.st_mode));
    HK_CHECK_EQ(st.st_mode & 0777, 0660);
    /* A second agent on the same path. */
    HK_CHECK_EQ(agent_sock_open(&t, path, NULL, &missing, err, sizeof(err)), AGENT_EXIT_FILE);
    HK_CHECK(strstr(err, "another agent listens there") != NULL);
    HK_CHECK(strstr(err, path) != NULL);
    /* Closed: the file is gone. */
    agent_sock_close(&s);
    HK_CHECK(stat(path, &st) != 0);
    /* A stale socket file (its agent gone without removing it) is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    HK_CHECK_EQ(bind(stale, (struct sockaddr *)&a, sizeof(a)), 0);
    close(stale);
    HK_CHECK_EQ(agent_sock_open(&s, path, NULL, &missing, err, sizeof(err)), 0);
    agent_sock_close(&s);
    /* A regular file is left alone. */
    FILE *f = fopen(path, "w");
    fputs("data", f);
    fclose(f);
    HK_CHECK_EQ(agent_sock_open(&s, path, NULL, &missing, err, sizeof(err)), AGENT_EXIT_FILE);
    HK_CHECK(strstr(err, "is not a socket") != NULL);
    HK_CHECK_EQ(stat(path, &st), 0);
    HK_CHECK(S_ISREG(st.st_mode));
    unlink(path);
    /* A directory that does not exist. */
    char nowhere[400];
    snprintf(nowhere, sizeof(nowhere), "%s/no/such.sock", dir);
    HK_CHECK_EQ(agent_sock_open(&s, nowhere, NULL, &missing, err, sizeof(err)), AGENT_EXIT_FILE);
    HK_CHECK(missing);
    HK_CHECK(strstr(err, nowhere) != NULL);
    /* A group that does not exist; the agent's own group is accepted. */
    HK_CHECK_EQ(agent_sock_open(&s, path, "no-such-group-here", &missing, err, sizeof(err)),
                AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "no-such-group-here") != NULL);
    struct group *g = getgrgid(getegid());
    if (g) {
        char name[64];
        snprintf(name, sizeof(name), "%s", g->gr_name);
        HK_CHECK_EQ(agent_sock_open(&s, path, name, &missing, err, sizeof(err)), 0);
        HK_CHECK_EQ(stat(path, &st), 0);
        HK_CHECK_EQ(st.st_gid, getegid());
        agent_sock_close(&s);
    }
    /* Too long for a socket address. */
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    HK_CHECK_EQ(agent_sock_open(&s, long_path, NULL, &missing, err, sizeof(err)),
                AGENT_EXIT_USAGE);
}

static void test_answers_in_order(void)
{
    agent_sock s;
    char err[512], buf[1024];
    bool missing;
    agent_sock_init(&s);
    HK_CHECK_EQ(agent_sock_open(&s, path, NULL, &missing, err, sizeof(err)), 0);
    int c = client();
    HK_CHECK(c >= 0);
    n_lines = 0;
    const char req[] = "first\r\n\nsecond\nthird\n";
    HK_CHECK_EQ(send(c, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    step_until_lines(&s, 3);
    HK_CHECK_EQ(n_lines, 3u); /* the blank line is no request */
    HK_CHECK(strcmp(lines[0].line, "first\r") == 0); /* the parser drops the \r */
    HK_CHECK(strcmp(lines[1].line, "second") == 0);
    HK_CHECK_EQ(lines[0].seq + 1, lines[1].seq);
    HK_CHECK_EQ(lines[1].seq + 1, lines[2].seq);
    /* The last request answered first: held back. */
    agent_sock_answer(&s, lines[2].client, lines[2].seq, "ok %s", "three");
    HK_CHECK_EQ(client_read(&s, c, buf, sizeof(buf), 5), 0);
    agent_sock_answer(&s, lines[0].client, lines[0].seq, "ok one\nwith a newline");
    HK_CHECK_EQ(client_read(&s, c, buf, sizeof(buf), 20), (ssize_t)strlen("ok one with a newline\n"));
    HK_CHECK(strcmp(buf, "ok one with a newline\n") == 0);
    agent_sock_answer(&s, lines[1].client, lines[1].seq, "error two");
    agent_sock_answer(&s, lines[1].client, lines[1].seq, "twice: ignored");
    agent_sock_answer(&s, 9999, 0, "no such client: ignored");
    client_read(&s, c, buf, sizeof(buf), 20);
    HK_CHECK(strcmp(buf, "error two\nok three\n") == 0);
    /* A line over the limit is answered with an error, and the next one
     * is read as usual. */
    size_t big = AGENT_SOCK_LINE_MAX + 10;
    char *long_line = malloc(big + 8);
    memset(long_line, 'x', big);
    memcpy(long_line + big, "\nnext\n", 6);
    size_t off = 0;
    n_lines = 0;
    for (int round = 0; off < big + 6 && round < 2000; round++) {
        ssize_t w = send(c, long_line + off, big + 6 - off, MSG_DONTWAIT);
        if (w > 0)
            off += (size_t)w;
        step(&s, 10);
    }
    free(long_line);
    step_until_lines(&s, 1);
    HK_CHECK_EQ(n_lines, 1u);
    HK_CHECK(strcmp(lines[0].line, "next") == 0);
    agent_sock_answer(&s, lines[0].client, lines[0].seq, "ok next");
    client_read(&s, c, buf, sizeof(buf), 20);
    HK_CHECK(strcmp(buf, "error line longer than 8192 bytes\nok next\n") == 0);
    /* Half-closed: the last line without '\n' counts, its answer comes,
     * then the agent closes. */
    n_lines = 0;
    HK_CHECK_EQ(send(c, "last", 4, 0), 4);
    HK_CHECK_EQ(shutdown(c, SHUT_WR), 0);
    step_until_lines(&s, 1);
    HK_CHECK_EQ(n_lines, 1u);
    HK_CHECK(strcmp(lines[0].line, "last") == 0);
    agent_sock_answer(&s, lines[0].client, lines[0].seq, "ok last");
    ssize_t got = client_read(&s, c, buf, sizeof(buf), 20);
    HK_CHECK(got > 0 && strcmp(buf, "ok last\n") == 0);
    HK_CHECK_EQ(client_read(&s, c, buf, sizeof(buf), 20), -1); /* closed by the agent */
    close(c);
    agent_sock_close(&s);
}

static void test_too_many_clients(void)
{
    agent_sock s;
    char err[512], buf[256];
    bool missing;
    agent_sock_init(&s);
    HK_CHECK_EQ(agent_sock_open(&s, path, NULL, &missing, err, sizeof(err)), 0);
    int cs[AGENT_SOCK_CLIENTS + 1];
    for (size_t i = 0; i <= AGENT_SOCK_CLIENTS; i++) {
        cs[i] = client();
        HK_CHECK(cs[i] >= 0);
        step(&s, 50);
    }
    HK_CHECK(client_read(&s, cs[AGENT_SOCK_CLIENTS], buf, sizeof(buf), 20) != 0);
    HK_CHECK(strncmp(buf, "error too many clients\n", 23) == 0);
    /* The others are served: one request each. */
    n_lines = 0;
    for (size_t i = 0; i < AGENT_SOCK_CLIENTS; i++)
        HK_CHECK_EQ(send(cs[i], "x\n", 2, 0), 2);
    step_until_lines(&s, AGENT_SOCK_CLIENTS);
    HK_CHECK_EQ(n_lines, AGENT_SOCK_CLIENTS);
    for (size_t i = 0; i <= AGENT_SOCK_CLIENTS; i++)
        close(cs[i]);
    agent_sock_close(&s);
    struct stat st;
    HK_CHECK(stat(path, &st) != 0);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/hk-sock-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/hubkey.sock", dir);
    HK_RUN(test_open_refusals);
    HK_RUN(test_answers_in_order);
    HK_RUN(test_too_many_clients);
    unlink(path);
    rmdir(dir);
    return hk_test_finish("agent-sock");
}
