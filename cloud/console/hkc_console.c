/*
 * hubkey-cloud console: the HTTP server (libmicrohttpd), its routes, the
 * token check and the Server-Sent Events stream (contract in hkc_console.h).
 *
 * Safety:
 *   - The socket is bound to 127.0.0.1 only, and requests must name that
 *     address (or localhost) with the console's port in Host, so a web page
 *     elsewhere cannot reach the API through a DNS name rebound to loopback.
 *   - Every POST (the actions) needs the token printed at start in the
 *     X-Hubkey-Token header, compared in constant time, and a JSON body. A
 *     custom header cannot be sent cross-origin without a CORS preflight,
 *     which this server never grants, and no cookie is used: that is the
 *     CSRF protection. --read-only refuses every action.
 *   - Values from devices go out as JSON strings (application/json,
 *     nosniff); the page puts them into the DOM with textContent only, and
 *     the Content-Security-Policy allows scripts from this origin's files
 *     only, never inline.
 *
 * Threads: libmicrohttpd runs one thread per connection, so a handler may
 * block (a direct method waits for its answer, an event stream waits for
 * changes). Each thread takes a database connection from a small pool.
 */
#define _GNU_SOURCE
#include "hkc_console.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hkc_console_api.h"
#include "hkc_console_assets.h"
#include "hkc_db.h"
#include "hkc_util.h"

#define DEFAULT_PORT 8780
/* Largest POST body (a C2D body of 64 KB, JSON-escaped, fits). */
#define BODY_MAX (512u * 1024u)
/* Connections served at once (each event stream holds one). */
#define CONNECTION_LIMIT 64
/* How often an event stream looks for changes, and the least time between
 * two fleet updates it sends. */
#define SSE_POLL_MS 50
#define SSE_CHANGE_MIN_MS 250
/* A comment line keeps idle streams open through proxies and finds closed ones. */
#define SSE_KEEPALIVE_MS 15000
#define TOKEN_HEADER "X-Hubkey-Token"
#define POOL_MAX 16

struct console {
    const char *db_path;
    bool read_only;
    char token[33];
    char host_ip[32];
    char host_name[32];
    atomic_bool stopping;
    pthread_mutex_t pool_mu;
    sqlite3 *pool[POOL_MAX];
    int pool_n;
};

struct request {
    char *body;
    size_t len;
    bool too_large;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ database pool */

static sqlite3 *db_take(struct console *k)
{
    sqlite3 *db = NULL;
    pthread_mutex_lock(&k->pool_mu);
    if (k->pool_n > 0)
        db = k->pool[--k->pool_n];
    pthread_mutex_unlock(&k->pool_mu);
    return db ? db : hkc_db_open(k->db_path);
}

static void db_give(struct console *k, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&k->pool_mu);
    if (k->pool_n < POOL_MAX) {
        k->pool[k->pool_n++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&k->pool_mu);
    if (db)
        hkc_db_close(db);
}

/* ------------------------------------------------------------------ responses */

static void secure_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
}

static enum MHD_Result send_bytes(struct MHD_Connection *conn, unsigned status, const char *type,
                                  const void *data, size_t len, bool copy)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    secure_headers(r);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends body (consumed) as JSON. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char err[] = "{\"error\":\"storage error\"}";
        return send_bytes(conn, 500, "application/json; charset=utf-8", err, sizeof(err) - 1,
                          false);
    }
    enum MHD_Result ret =
        send_bytes(conn, status, "application/json; charset=utf-8", text, strlen(text), true);
    free(text);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return send_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* ------------------------------------------------------------------ event stream */

struct stream {
    struct console *k;
    sqlite3 *db;
    int64_t last_telemetry;
    int64_t data_version;
    bool change_pending;
    uint64_t last_change_ms;
    uint64_t last_write_ms;
    char *buf;
    size_t len, off, cap;
};

static void stream_append(struct stream *s, const char *text)
{
    size_t n = strlen(text);
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *grown = realloc(s->buf, cap);
        if (!grown)
            abort();
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

static void stream_event(struct stream *s, const char *event, json_t *data, int64_t id)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return;
    char head[96];
    if (id > 0)
        snprintf(head, sizeof(head), "id: %lld\nevent: %s\ndata: ", (long long)id, event);
    else
        snprintf(head, sizeof(head), "event: %s\ndata: ", event);
    stream_append(s, head);
    stream_append(s, text);
    stream_append(s, "\n\n");
    free(text);
}

static int64_t data_version(sqlite3 *db)
{
    json_t *r = hkc_db_row(db, "PRAGMA data_version", NULL);
    int64_t v = hkc_row_int(r, "data_version");
    json_decref(r);
    return v;
}

/* Adds to the stream's buffer what changed since the last look: new
 * telemetry messages (one event each) and, at most every
 * SSE_CHANGE_MIN_MS, a fleet overview that tells the page to refresh. */
static void stream_fill(struct stream *s)
{
    int64_t v = data_version(s->db);
    if (v != s->data_version) {
        s->data_version = v;
        s->change_pending = true;
        json_t *rows = hkc_console_telemetry(s->db, s->last_telemetry, NULL, NULL, 200);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            s->last_telemetry = hkc_row_int(row, "id");
            json_incref(row);
            stream_event(s, "telemetry", row, s->last_telemetry);
        }
        if (json_array_size(rows) == 200)
            s->data_version = -1; /* more to read at the next look */
        json_decref(rows);
    }
    uint64_t now = hkc_now_ms();
    if (s->change_pending && now - s->last_change_ms >= SSE_CHANGE_MIN_MS) {
        s->change_pending = false;
        s->last_change_ms = now;
        stream_event(s, "change", hkc_console_overview(s->db), 0);
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    while (s->off == s->len) {
        if (atomic_load(&s->k->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->off = s->len = 0;
        stream_fill(s);
        if (s->len)
            break;
        if (hkc_now_ms() - s->last_write_ms >= SSE_KEEPALIVE_MS) {
            stream_append(s, ": keepalive\n\n");
            break;
        }
        sleep_ms(SSE_POLL_MS);
    }
    size_t n = s->len - s->off;
    if (n > max)
        n = max;
    memcpy(out, s->buf + s->off, n);
    s->off += n;
    s->last_write_ms = hkc_now_ms();
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    hkc_db_close(s->db);
    free(s->buf);
    free(s);
}

static enum MHD_Result serve_events(struct console *k, struct MHD_Connection *conn)
{
    const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    if (!after)
        after = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    s->k = k;
    s->db = hkc_db_open(k->db_path);
    if (!s->db) {
        free(s);
        return send_error(conn, 500, "cannot open the database");
    }
    char *end = NULL;
    long long a = after ? strtoll(after, &end, 10) : -1;
    s->last_telemetry = (after && end && !*end && a >= 0) ? a : hkc_console_telemetry_last(s->db);
    s->data_version = -1;
    s->last_write_ms = hkc_now_ms();
    stream_append(s, "retry: 1000\n\n");
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    secure_headers(r);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------------ routes */

static bool token_ok(struct console *k, struct MHD_Connection *conn)
{
    const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, TOKEN_HEADER);
    /* The token's length is public; its bytes are compared in constant time. */
    return t && strlen(t) == strlen(k->token) &&
           CRYPTO_memcmp(t, k->token, strlen(k->token)) == 0;
}

static bool host_ok(struct console *k, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    return h && (strcmp(h, k->host_ip) == 0 || strcmp(h, k->host_name) == 0);
}

static bool parse_long(const char *s, long long lo, long long hi, long long dflt, long long *out)
{
    if (!s || !*s) {
        *out = dflt;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result serve_get(struct console *k, struct MHD_Connection *conn, const char *url)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    const struct hkc_console_asset *a = hkc_console_asset_find(url);
    if (a)
        return send_bytes(conn, 200, a->type, a->data, a->len, false);
    if (strcmp(url, "/api/events") == 0)
        return serve_events(k, conn);
    if (strncmp(url, "/api/", 5) != 0)
        return send_error(conn, 404, "not found");
    sqlite3 *db = db_take(k);
    if (!db)
        return send_error(conn, 500, "cannot open the database");
    enum MHD_Result ret;
    if (strcmp(url, "/api/overview") == 0) {
        json_t *o = hkc_console_overview(db);
        if (o)
            json_object_set_new(o, "read_only", json_boolean(k->read_only));
        ret = send_json(conn, 200, o);
    } else if (strcmp(url, "/api/devices") == 0) {
        long long offset, limit;
        const char *order = arg(conn, "order");
        if (!parse_long(arg(conn, "offset"), 0, INT32_MAX, 0, &offset) ||
            !parse_long(arg(conn, "limit"), 1, HKC_CONSOLE_PAGE_MAX, 50, &limit) ||
            (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)) {
            ret = send_error(conn, 400, "offset must be >= 0, limit 1..500, order asc or desc");
        } else {
            const char *err = NULL;
            json_t *o = hkc_console_devices(db, arg(conn, "q"), arg(conn, "sort"),
                                            order && strcmp(order, "desc") == 0, offset, limit,
                                            &err);
            ret = o ? send_json(conn, 200, o) : send_error(conn, 400, err);
        }
    } else if (strcmp(url, "/api/device") == 0) {
        const char *hub = arg(conn, "hub"), *id = arg(conn, "id");
        json_t *o = hub && id ? hkc_console_device(db, hub, id) : NULL;
        ret = o ? send_json(conn, 200, o)
                : send_error(conn, 404, hub && id ? "no such device" : "hub and id are needed");
    } else if (strcmp(url, "/api/telemetry") == 0) {
        long long after, limit;
        if (!parse_long(arg(conn, "after"), 0, INT64_MAX, 0, &after) ||
            !parse_long(arg(conn, "limit"), 1, 1000, 100, &limit)) {
            ret = send_error(conn, 400, "after must be >= 0 and limit 1..1000");
        } else {
            json_t *rows =
                hkc_console_telemetry(db, after, arg(conn, "hub"), arg(conn, "device"), limit);
            ret = send_json(conn, rows ? 200 : 500, json_pack("{s:o}", "items",
                                                              rows ? rows : json_array()));
        }
    } else {
        ret = send_error(conn, 404, "not found");
    }
    db_give(k, db);
    return ret;
}

static enum MHD_Result serve_post(struct console *k, struct MHD_Connection *conn, const char *url,
                                  struct request *rq)
{
    if (strncmp(url, "/api/", 5) != 0)
        return send_error(conn, 404, "not found");
    const char *name = url + 5;
    if (strcmp(name, "c2d") != 0 && strcmp(name, "method") != 0 && strcmp(name, "twin") != 0 &&
        strcmp(name, "enable") != 0)
        return send_error(conn, 404, "not found");
    if (k->read_only)
        return send_error(conn, 403, "the console runs read-only (--read-only)");
    if (!token_ok(k, conn))
        return send_error(conn, 401, "actions need the console's token in the " TOKEN_HEADER
                                     " header");
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!type || strncasecmp(type, "application/json", 16) != 0)
        return send_error(conn, 415, "the request body must be application/json");
    if (rq->too_large)
        return send_error(conn, 413, "request body too large");
    json_error_t e;
    json_t *req = rq->body ? json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!json_is_object(req)) {
        json_decref(req);
        return send_error(conn, 400, "the request body must be a JSON object");
    }
    sqlite3 *db = db_take(k);
    if (!db) {
        json_decref(req);
        return send_error(conn, 500, "cannot open the database");
    }
    json_t *out = NULL;
    int status = hkc_console_action(db, name, req, &out);
    db_give(k, db);
    json_decref(req);
    return send_json(conn, (unsigned)status, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **req_cls)
{
    (void)version;
    struct console *k = cls;
    struct request *rq = *req_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *req_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_large && rq->len + *upload_size <= BODY_MAX) {
            char *grown = realloc(rq->body, rq->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            rq->body = grown;
            memcpy(rq->body + rq->len, upload_data, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        } else {
            rq->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!host_ok(k, conn))
        return send_error(conn, 421, "the console answers requests to 127.0.0.1 or localhost "
                                     "with its port only");
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return serve_get(k, conn, url);
    if (strcmp(method, "POST") == 0)
        return serve_post(k, conn, url, rq);
    return send_error(conn, 405, "method not allowed");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct request *rq = *req_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *req_cls = NULL;
    }
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fputs("usage: hubkey-cloud [--dir STATE] console [--port N] [--read-only]\n"
          "\n"
          "Serves the web console on http://127.0.0.1:N/ (default 8780; 0 picks a free port)\n"
          "until Ctrl-C. The link printed at start carries the token that actions (C2D,\n"
          "direct methods, desired properties, enable/disable) need; --read-only serves\n"
          "the pages without any action.\n",
          f);
}

int hkc_console_parse(int argc, char **argv, struct hkc_console_options *out)
{
    memset(out, 0, sizeof(*out));
    out->port = DEFAULT_PORT;
    for (int i = 0; i < argc; i++) {
        long long port;
        if (strcmp(argv[i], "--port") == 0) {
            if (i + 1 >= argc || !parse_long(argv[i + 1], 0, 65535, 0, &port)) {
                fprintf(stderr, "hubkey-cloud: console --port needs a port number 0..65535\n");
                return 2;
            }
            out->port = (long)port;
            i++;
        } else if (strcmp(argv[i], "--read-only") == 0) {
            out->read_only = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            out->help = true;
            return 0;
        } else {
            fprintf(stderr, "hubkey-cloud: console: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    return 0;
}

int hkc_console_run(const char *db_path, const struct hkc_console_options *o)
{
    long port = o->port;
    bool read_only = o->read_only;
    struct console k = {.db_path = db_path, .read_only = read_only};
    pthread_mutex_init(&k.pool_mu, NULL);
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        fprintf(stderr, "hubkey-cloud: console: no random bytes for the token\n");
        return 4;
    }
    hkc_hex(rnd, sizeof(rnd), k.token);

    /* The signals are taken by sigwait below; the server's threads inherit
     * the mask and never see them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, on_request, &k, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &k, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTION_LIMIT, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hubkey-cloud: console: cannot listen on 127.0.0.1:%ld (in use?)\n",
                port);
        return 4;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    snprintf(k.host_ip, sizeof(k.host_ip), "127.0.0.1:%u", bound);
    snprintf(k.host_name, sizeof(k.host_name), "localhost:%u", bound);
    if (read_only)
        printf("hubkey-cloud console (read-only): http://127.0.0.1:%u/\n", bound);
    else
        printf("hubkey-cloud console: http://127.0.0.1:%u/#token=%s\n"
               "Actions need the token in that link; --read-only serves without actions.\n",
               bound, k.token);
    printf("Listening on 127.0.0.1 only; Ctrl-C stops it.\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    atomic_store(&k.stopping, true);
    MHD_stop_daemon(d);
    for (int i = 0; i < k.pool_n; i++)
        hkc_db_close(k.pool[i]);
    pthread_mutex_destroy(&k.pool_mu);
    printf("hubkey-cloud console stopped\n");
    return 0;
}
