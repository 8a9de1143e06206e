/*
 * hubkey — the local socket of `hubkey run` (sock.c): a Unix domain stream
 * socket through which applications on the gateway hand the running agent
 * telemetry and reported properties, one request per line, one answer line
 * per request in the order of the requests (docs/hubkey-agent.md).
 *
 * Host code. This file knows the socket, the clients and the answers; what
 * a request does is the caller's (main.c): each complete line is handed to
 * a callback with the client's ID and the request's sequence number, and
 * the caller answers later, once the hub has acknowledged, with
 * agent_sock_answer. Answers are held back until every earlier request of
 * the same client is answered.
 */
#ifndef HUBKEY_AGENT_SOCK_H
#define HUBKEY_AGENT_SOCK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define AGENT_SOCK_CLIENTS 8u
#define AGENT_SOCK_PENDING 64u   /* unanswered requests per client; then it is not read */
#define AGENT_SOCK_LINE_MAX 8192u
#define AGENT_SOCK_ANSWER_MAX 160u
#define AGENT_SOCK_OUT_MAX 8192u /* answers a client has not read yet; more: disconnected */

typedef struct agent_sock_answer_slot {
    uint32_t seq;
    bool done;
    char text[AGENT_SOCK_ANSWER_MAX];
} agent_sock_answer_slot;

typedef struct agent_sock_client {
    int fd; /* -1: free */
    uint32_t id;
    char line[AGENT_SOCK_LINE_MAX];
    size_t line_len;
    bool overflow;
    uint32_t next_seq;
    agent_sock_answer_slot pending[AGENT_SOCK_PENDING];
    size_t p_head, p_count;
    char out[AGENT_SOCK_OUT_MAX];
    size_t out_len;
    bool eof; /* it sent all its requests (shutdown or close): answer, then close */
} agent_sock_client;

typedef struct agent_sock {
    int listen_fd; /* -1: no socket */
    char path[AGENT_SOCKET_PATH_MAX];
    agent_sock_client clients[AGENT_SOCK_CLIENTS];
    uint32_t next_id;
} agent_sock;

/* A request line of a client (without '\n'); the caller answers it with
 * agent_sock_answer(client_id, seq) now or later. */
typedef void (*agent_sock_line_fn)(void *ctx, uint32_t client_id, uint32_t seq, const char *line,
                                   size_t len);

/* Not listening; safe to close. */
void agent_sock_init(agent_sock *s);

/*
 * Listens on path: a stale socket file left by an agent that is gone is
 * replaced; a path where another agent answers, or that is not a socket,
 * is refused. The socket file gets mode 0660 and, with group (may be NULL),
 * that group (the agent must be a member). Returns 0, or AGENT_EXIT_FILE
 * (AGENT_EXIT_USAGE for an unknown group) with a message in err naming the
 * path. *missing_dir tells the caller the directory does not exist or
 * cannot be written (a default path may then be skipped).
 */
int agent_sock_open(agent_sock *s, const char *path, const char *group, bool *missing_dir,
                    char *err, size_t err_cap);

/* Disconnects every client, closes the socket and removes its file. */
void agent_sock_close(agent_sock *s);

/* The descriptors to poll, appended to fds (at most 1 + AGENT_SOCK_CLIENTS):
 * the listening socket, each client (POLLIN unless it has
 * AGENT_SOCK_PENDING requests unanswered or accept_lines is false; POLLOUT
 * while answers wait). Returns how many were added. */
size_t agent_sock_pollfds(const agent_sock *s, struct pollfd *fds, bool accept_lines);

/* After poll(): accepts, reads lines (calling fn for each), writes held
 * answers. fds/n: what agent_sock_pollfds added, with revents. */
void agent_sock_service(agent_sock *s, const struct pollfd *fds, size_t n, agent_sock_line_fn fn,
                        void *ctx);

/* The answer to request seq of client client_id (one line, the '\n' is
 * added). Ignored when the client is gone. */
void agent_sock_answer(agent_sock *s, uint32_t client_id, uint32_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* HUBKEY_AGENT_SOCK_H */
