/*
 * hubkey-cloud test environment (see hkt_env.h).
 */
#define _GNU_SOURCE
#include "hkt_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hkc_pki.h"
#include "hkc_util.h"

#ifndef HKC_CLI_PATH
#error "HKC_CLI_PATH must name the hubkey-cloud executable"
#endif

static struct hkt_cloud *hkt_active[8];

/* HKT_KEEP=1 keeps each test's directory (state, broker log, certificates). */
static bool keep_files(void)
{
    const char *k = getenv("HKT_KEEP");
    return k && *k && strcmp(k, "0") != 0;
}

/* Sanitizer reports found in a broker's output (the instrumented plugin,
 * tests/cloud/sanitized-mosquitto): each is printed when its cloud stops,
 * and the test process then exits with status 1 whatever its checks said. */
static int hkt_sanitizer_reports;

static void hkt_sanitizer_verdict(void)
{
    if (hkt_sanitizer_reports > 0) {
        fprintf(stderr, "hkt: %d sanitizer report(s) from the broker plugin: failing\n",
                hkt_sanitizer_reports);
        fflush(NULL);
        _exit(1);
    }
}

/* Scans STATE/mosquitto.out (the broker's stdout and stderr) for reports
 * of AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer. */
static void scan_broker_output(struct hkt_cloud *c)
{
    static const char *const markers[] = {"ERROR: AddressSanitizer", "AddressSanitizer:DEADLYSIGNAL",
                                           "ERROR: LeakSanitizer", "runtime error:",
                                           "SUMMARY: UndefinedBehaviorSanitizer"};
    char path[sizeof c->state + 32];
    snprintf(path, sizeof path, "%s/mosquitto.out", c->state);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *text = NULL;
    size_t len = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        char *g = realloc(text, len + n + 1);
        if (!g)
            break;
        text = g;
        memcpy(text + len, chunk, n);
        len += n;
        text[len] = '\0';
    }
    fclose(f);
    for (size_t i = 0; text && i < sizeof markers / sizeof markers[0]; i++) {
        if (strstr(text, markers[i])) {
            fprintf(stderr, "hkt: sanitizer report in %s:\n%s\n", path, text);
            hkt_sanitizer_reports++;
            break;
        }
    }
    free(text);
}

static void hkt_stop_all(void)
{
    for (int i = 0; i < 8; i++)
        if (hkt_active[i])
            hkt_cloud_stop(hkt_active[i]);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t spawn_argv_ex(char *const *argv, int *out_fd, bool with_stderr)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], 1);
        if (with_stderr)
            dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    *out_fd = pipefd[0];
    return pid;
}

static pid_t spawn_argv(char *const *argv, int *out_fd)
{
    return spawn_argv_ex(argv, out_fd, false);
}

static int collect(pid_t pid, int fd, char **out)
{
    int pipefd[2] = {fd, -1};
    char *buf = NULL;
    size_t len = 0;
    char tmp[4096];
    ssize_t n;
    while ((n = read(pipefd[0], tmp, sizeof(tmp))) > 0 || (n < 0 && errno == EINTR)) {
        if (n < 0)
            continue;
        char *g = realloc(buf, len + (size_t)n + 1);
        if (!g)
            break;
        buf = g;
        memcpy(buf + len, tmp, (size_t)n);
        len += (size_t)n;
        buf[len] = '\0';
    }
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = buf ? buf : hkc_strdup("");
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int run_argv(char *const *argv, char **out)
{
    int fd = -1;
    pid_t pid = spawn_argv(argv, &fd);
    if (pid < 0)
        return -1;
    return collect(pid, fd, out);
}

static void cli_argv(struct hkt_cloud *c, char **argv, const char *arg, va_list ap)
{
    int n = 0;
    argv[n++] = (char *)HKC_CLI_PATH;
    argv[n++] = (char *)"--dir";
    argv[n++] = c->state;
    for (const char *a = arg; a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    argv[n] = NULL;
}

static int cli_v(struct hkt_cloud *c, char **out, const char *arg, va_list ap)
{
    char *argv[64];
    cli_argv(c, argv, arg, ap);
    return run_argv(argv, out);
}

int hkt_cli_spawn(struct hkt_cloud *c, int *out_fd, const char *arg, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, arg);
    cli_argv(c, argv, arg, ap);
    va_end(ap);
    return (int)spawn_argv(argv, out_fd);
}

int hkt_cli_finish(int pid, int fd, char **out)
{
    return collect((pid_t)pid, fd, out);
}

int hkt_cli(struct hkt_cloud *c, char **out, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = cli_v(c, out, arg, ap);
    va_end(ap);
    return rc;
}

int hkt_cli_all(struct hkt_cloud *c, char **out, const char *arg, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, arg);
    cli_argv(c, argv, arg, ap);
    va_end(ap);
    int fd = -1;
    pid_t pid = spawn_argv_ex(argv, &fd, true);
    if (pid < 0)
        return -1;
    return collect(pid, fd, out);
}

json_t *hkt_cli_json(struct hkt_cloud *c, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char *out = NULL;
    int rc = cli_v(c, &out, arg, ap);
    va_end(ap);
    json_t *j = rc == 0 && out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    if (!j)
        fprintf(stderr, "hkt_cli_json: rc=%d output: %s\n", rc, out ? out : "");
    free(out);
    return j;
}

/* A helper process that stops the cloud if this test process dies in any
 * way (crash, sanitizer abort, CTest's timeout kill): it waits on a pipe
 * whose write end only this process holds; a byte means "stopped normally",
 * end-of-file means "the test is gone". */
static void start_reaper(struct hkt_cloud *c)
{
    int p[2];
    c->reaper_fd = -1;
    c->reaper_pid = -1;
    /* Close-on-exec: the CLI and the broker it starts must not hold the write end. */
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        close(p[1]);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        char b;
        ssize_t n;
        while ((n = read(p[0], &b, 1)) < 0 && errno == EINTR) {
        }
        if (n == 1)
            _exit(0);
        char *stop[] = {(char *)HKC_CLI_PATH, (char *)"--dir", c->state, (char *)"stop", NULL};
        run_argv(stop, NULL);
        if (!keep_files()) {
            char *rm[] = {(char *)"/bin/rm", (char *)"-rf", c->root, NULL};
            run_argv(rm, NULL);
        }
        _exit(0);
    }
    close(p[0]);
    c->reaper_fd = p[1];
    c->reaper_pid = (int)pid;
}

static void stop_reaper(struct hkt_cloud *c)
{
    if (c->reaper_fd < 0)
        return;
    if (write(c->reaper_fd, "x", 1) != 1) {
        /* The reaper is gone already; nothing to tell it. */
    }
    close(c->reaper_fd);
    c->reaper_fd = -1;
    while (waitpid((pid_t)c->reaper_pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

bool hkt_cloud_start(struct hkt_cloud *c)
{
    memset(c, 0, sizeof(*c));
    c->reaper_fd = -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(c->root, sizeof(c->root), "%s/hkc-test-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    if (!mkdtemp(c->root))
        return false;
    /* As root, mosquitto runs as user mosquitto and must reach the state. */
    chmod(c->root, 0755);
    snprintf(c->state, sizeof(c->state), "%s/state", c->root);
    snprintf(c->ca, sizeof(c->ca), "%s/pki/server-ca.pem", c->state);
    static bool registered;
    if (!registered) {
        atexit(hkt_sanitizer_verdict); /* runs after hkt_stop_all */
        atexit(hkt_stop_all);
        registered = true;
    }
    start_reaper(c);
    for (int attempt = 0; attempt < 5; attempt++) {
        c->port = free_port();
        char port[16];
        snprintf(port, sizeof(port), "%d", c->port);
        char *out = NULL;
        int rc = hkt_cli(c, &out, "start", "--port", port, NULL);
        free(out);
        if (rc == 0) {
            c->up = true;
            break;
        }
        if (rc != 4) /* 4: broker could not start, e.g. the port was taken meanwhile */
            break;
    }
    if (!c->up)
        return false;
    for (int i = 0; i < 8; i++)
        if (!hkt_active[i]) {
            hkt_active[i] = c;
            break;
        }
    json_t *st = hkt_cli_json(c, "status", "--json", NULL);
    snprintf(c->scope, sizeof(c->scope), "%s",
             json_string_value(json_object_get(st, "id_scope")) ?: "");
    json_decref(st);
    /* The CLI's tunables for fast tests: answers say retry-after=0. */
    hkt_cli(c, NULL, "config", "set", "retry-after", "0", NULL);
    return c->scope[0] != '\0';
}

void hkt_cloud_stop(struct hkt_cloud *c)
{
    stop_reaper(c);
    for (int i = 0; i < 8; i++)
        if (hkt_active[i] == c)
            hkt_active[i] = NULL;
    if (c->up) {
        hkt_cli(c, NULL, "stop", NULL);
        c->up = false;
        scan_broker_output(c);
    }
    if (c->root[0] && !keep_files()) {
        char *argv[] = {(char *)"/bin/rm", (char *)"-rf", c->root, NULL};
        run_argv(argv, NULL);
        c->root[0] = '\0';
    }
}

/* ------------------------------------------------------------------ certificates */

static void cert_paths(struct hkt_cloud *c, struct hkt_cert *x, const char *cn)
{
    char *safe = hkc_strdup(cn);
    for (char *p = safe; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    snprintf(x->cert_path, sizeof(x->cert_path), "%s/%s.pem", c->root, safe);
    snprintf(x->chain_path, sizeof(x->chain_path), "%s/%s.chain.pem", c->root, safe);
    snprintf(x->key_path, sizeof(x->key_path), "%s/%s.key", c->root, safe);
    free(safe);
}

bool hkt_ca_make(struct hkt_cloud *c, struct hkt_cert *out, const char *cn,
                 const struct hkt_cert *parent)
{
    memset(out, 0, sizeof(*out));
    cert_paths(c, out, cn);
    out->key = hkc_pki_key_ec(NID_X9_62_prime256v1);
    struct hkc_cert_spec spec = {.cn = cn, .key = out->key, .ca = true, .pathlen = -1,
                                 .days = 365, .issuer = parent ? parent->cert : NULL,
                                 .issuer_key = parent ? parent->key : NULL};
    out->cert = out->key ? hkc_pki_cert(&spec) : NULL;
    return out->cert && hkc_pki_write_cert(out->cert_path, &out->cert, 1) &&
           hkc_pki_write_key(out->key_path, out->key);
}

bool hkt_device_make(struct hkt_cloud *c, struct hkt_cert *out, const char *cn,
                     const struct hkt_cert *ca, const struct hkt_cert *const *chain)
{
    memset(out, 0, sizeof(*out));
    cert_paths(c, out, cn);
    out->key = hkc_pki_key_ec(NID_X9_62_prime256v1);
    struct hkc_cert_spec spec = {.cn = cn, .key = out->key, .days = 365,
                                 .issuer = ca ? ca->cert : NULL, .issuer_key = ca ? ca->key : NULL};
    out->cert = out->key ? hkc_pki_cert(&spec) : NULL;
    if (!out->cert)
        return false;
    X509 *certs[8] = {out->cert};
    size_t n = 1;
    for (size_t i = 0; chain && chain[i] && n < 8; i++)
        certs[n++] = chain[i]->cert;
    return hkc_pki_write_cert(out->cert_path, &out->cert, 1) &&
           hkc_pki_write_cert(out->chain_path, certs, n) &&
           hkc_pki_write_key(out->key_path, out->key);
}

void hkt_cert_free(struct hkt_cert *x)
{
    X509_free(x->cert);
    EVP_PKEY_free(x->key);
    x->cert = NULL;
    x->key = NULL;
}

/* ------------------------------------------------------------------ MQTT client */

void hkt_msg_free(struct hkt_msg *m)
{
    if (!m)
        return;
    free(m->topic);
    free(m->payload);
    free(m);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)m;
    ((struct hkt_mqtt *)ud)->connack = rc;
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    (void)m;
    (void)rc;
    ((struct hkt_mqtt *)ud)->closed = true;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    (void)m;
    ((struct hkt_mqtt *)ud)->last_mid_acked = mid;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    (void)m;
    (void)mid;
    ((struct hkt_mqtt *)ud)->granted_qos = n > 0 ? granted[0] : -1;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    struct hkt_mqtt *q = ud;
    struct hkt_msg *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->topic = hkc_strdup(msg->topic);
    e->payload = malloc((size_t)msg->payloadlen + 1);
    if (e->payload) {
        if (msg->payloadlen > 0)
            memcpy(e->payload, msg->payload, (size_t)msg->payloadlen);
        e->payload[msg->payloadlen] = '\0';
    }
    e->len = msg->payloadlen;
    e->qos = msg->qos;
    struct hkt_msg **pp = &q->inbox;
    while (*pp)
        pp = &(*pp)->next;
    *pp = e;
}

static void pump(struct hkt_mqtt *q)
{
    int rc = mosquitto_loop(q->m, 20, 1);
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_TLS ||
        rc == MOSQ_ERR_PROTOCOL || rc == MOSQ_ERR_ERRNO)
        q->closed = true;
}

static void lib_init(void)
{
    mosquitto_lib_init();
}

int hkt_mqtt_connect(struct hkt_cloud *c, struct hkt_mqtt *q, const struct hkt_cert *id,
                     const char *client_id, const char *username)
{
    return hkt_mqtt_connect_ex(c, q, id, client_id, username, true);
}

int hkt_mqtt_connect_ex(struct hkt_cloud *c, struct hkt_mqtt *q, const struct hkt_cert *id,
                        const char *client_id, const char *username, bool clean)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lib_init);
    memset(q, 0, sizeof(*q));
    q->connack = -1;
    q->granted_qos = -1;
    q->m = mosquitto_new(client_id, clean, q);
    if (!q->m)
        return -1;
    mosquitto_int_option(q->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(q->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(q->m, on_connect);
    mosquitto_disconnect_callback_set(q->m, on_disconnect);
    mosquitto_publish_callback_set(q->m, on_publish);
    mosquitto_subscribe_callback_set(q->m, on_subscribe);
    mosquitto_message_callback_set(q->m, on_message);
    if (username)
        mosquitto_username_pw_set(q->m, username, NULL);
    if (id && id->ssl_ctx) {
        mosquitto_int_option(q->m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
        if (mosquitto_void_option(q->m, MOSQ_OPT_SSL_CTX, id->ssl_ctx) != MOSQ_ERR_SUCCESS)
            return -1;
    } else {
        if (mosquitto_tls_set(q->m, c->ca, NULL, id ? id->chain_path : NULL,
                              id ? id->key_path : NULL, NULL) != MOSQ_ERR_SUCCESS)
            return -1;
        mosquitto_tls_opts_set(q->m, 1, "tlsv1.2", NULL);
    }
    if (mosquitto_connect(q->m, "127.0.0.1", c->port, 60) != MOSQ_ERR_SUCCESS) {
        q->closed = true;
        return -1;
    }
    uint64_t deadline = hkc_now_ms() + HKT_WAIT_MS;
    while (q->connack < 0 && !q->closed && hkc_now_ms() < deadline)
        pump(q);
    return q->connack;
}

int hkt_mqtt_subscribe(struct hkt_mqtt *q, const char *filter, int qos)
{
    q->granted_qos = -1;
    if (mosquitto_subscribe(q->m, NULL, filter, qos) != MOSQ_ERR_SUCCESS)
        return -1;
    uint64_t deadline = hkc_now_ms() + HKT_WAIT_MS;
    while (q->granted_qos < 0 && !q->closed && hkc_now_ms() < deadline)
        pump(q);
    return q->closed ? -1 : q->granted_qos;
}

bool hkt_mqtt_publish(struct hkt_mqtt *q, const char *topic, const void *payload, int len,
                      int qos)
{
    int mid = 0;
    if (mosquitto_publish(q->m, &mid, topic, len, payload, qos, false) != MOSQ_ERR_SUCCESS)
        return false;
    uint64_t deadline = hkc_now_ms() + HKT_WAIT_MS;
    if (qos == 0) {
        /* Push the bytes out. */
        for (int i = 0; i < 3 && !q->closed; i++)
            mosquitto_loop_write(q->m, 1);
        return !q->closed;
    }
    while (q->last_mid_acked != mid && !q->closed && hkc_now_ms() < deadline)
        pump(q);
    return q->last_mid_acked == mid;
}

struct hkt_msg *hkt_mqtt_wait(struct hkt_mqtt *q, const char *prefix, int timeout_ms)
{
    uint64_t deadline = hkc_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        for (struct hkt_msg **pp = &q->inbox; *pp; pp = &(*pp)->next) {
            if (strncmp((*pp)->topic, prefix, strlen(prefix)) == 0) {
                struct hkt_msg *m = *pp;
                *pp = m->next;
                m->next = NULL;
                return m;
            }
        }
        if (q->closed || hkc_now_ms() >= deadline)
            return NULL;
        pump(q);
    }
}

bool hkt_mqtt_wait_closed(struct hkt_mqtt *q, int timeout_ms)
{
    uint64_t deadline = hkc_now_ms() + (uint64_t)timeout_ms;
    while (!q->closed && hkc_now_ms() < deadline)
        pump(q);
    return q->closed;
}

void hkt_mqtt_close(struct hkt_mqtt *q)
{
    if (!q->m)
        return;
    if (!q->closed) {
        mosquitto_disconnect(q->m);
        for (int i = 0; i < 5 && !q->closed; i++)
            pump(q);
    }
    mosquitto_destroy(q->m);
    q->m = NULL;
    while (q->inbox) {
        struct hkt_msg *m = q->inbox;
        q->inbox = m->next;
        hkt_msg_free(m);
    }
}

/* ------------------------------------------------------------------ protocol helpers */

char *hkt_dps_username(struct hkt_cloud *c, const char *reg_id, const char *api_version)
{
    return hkc_printf("%s/registrations/%s/api-version=%s", c->scope, reg_id,
                      api_version ? api_version : "2019-03-31");
}

char *hkt_hub_username(const char *hub, const char *device_id)
{
    return hkc_printf("%s/%s/?api-version=2020-09-30", hub, device_id);
}

int hkt_topic_status(const char *topic, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(topic, prefix, n) != 0)
        return -1;
    return atoi(topic + n);
}

json_t *hkt_dps_register(struct hkt_cloud *c, const struct hkt_cert *id, const char *reg_id,
                         const char *body, int *out_status)
{
    *out_status = -1;
    struct hkt_mqtt q;
    char *user = hkt_dps_username(c, reg_id, NULL);
    int ack = hkt_mqtt_connect(c, &q, id, reg_id, user);
    free(user);
    json_t *result = NULL;
    if (ack != 0 || hkt_mqtt_subscribe(&q, "$dps/registrations/res/#", 1) != 1) {
        *out_status = ack > 0 ? -ack : -1;
        hkt_mqtt_close(&q);
        return NULL;
    }
    char *dflt = hkc_printf("{\"registrationId\":\"%s\"}", reg_id);
    const char *b = body ? body : dflt;
    hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", b, (int)strlen(b), 1);
    free(dflt);
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$dps/registrations/res/", HKT_WAIT_MS);
    for (int rid = 2; m && rid < 20; rid++) {
        int status = hkt_topic_status(m->topic, "$dps/registrations/res/");
        json_decref(result);
        result = json_loads(m->payload, 0, NULL);
        *out_status = status;
        if (status != 202)
            break;
        char *topic = hkc_printf("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=%d&"
                                 "operationId=%s",
                                 rid, json_string_value(json_object_get(result, "operationId")));
        hkt_msg_free(m);
        hkt_mqtt_publish(&q, topic, NULL, 0, 1);
        free(topic);
        m = hkt_mqtt_wait(&q, "$dps/registrations/res/", HKT_WAIT_MS);
    }
    if (!m) {
        *out_status = -1;
        json_decref(result);
        result = NULL;
    }
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    return result;
}

/* ------------------------------------------------------------------ raw TLS */

bool hkt_tls_open(struct hkt_cloud *c, struct hkt_tls *t, const struct hkt_cert *id,
                  const char *verify_name)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->verify = -1;
    signal(SIGPIPE, SIG_IGN); /* a closed connection is an error return, not a signal */
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        return false;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(t->ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(t->ctx, c->ca, NULL) != 1)
        return false;
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (id && (SSL_CTX_use_certificate_chain_file(t->ctx, id->chain_path) != 1 ||
               SSL_CTX_use_PrivateKey_file(t->ctx, id->key_path, SSL_FILETYPE_PEM) != 1))
        return false;
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return false;
    struct timeval tv = {.tv_sec = HKT_WAIT_MS / 1000};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl)
        return false;
    SSL_set_fd(t->ssl, t->fd);
    if (verify_name) {
        SSL_set_tlsext_host_name(t->ssl, verify_name);
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(t->ssl, verify_name) != 1)
            return false;
    }
    int rc = SSL_connect(t->ssl);
    t->verify = SSL_get_verify_result(t->ssl);
    ERR_clear_error();
    return rc == 1;
}

bool hkt_tls_write(struct hkt_tls *t, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        int n = SSL_write(t->ssl, p, len > (1u << 20) ? (1 << 20) : (int)len);
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

int hkt_tls_read(struct hkt_tls *t, void *buf, size_t cap, int timeout_ms)
{
    if (SSL_pending(t->ssl) == 0) {
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
    }
    int n = SSL_read(t->ssl, buf, (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(t->ssl, n);
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL ? 0 : -1;
}

void hkt_tls_close(struct hkt_tls *t)
{
    if (t->ssl)
        SSL_free(t->ssl);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    memset(t, 0, sizeof(*t));
    t->fd = -1;
}

long hkt_broker_pid(struct hkt_cloud *c)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/mosquitto.pid", c->state);
    FILE *f = fopen(path, "r");
    long pid = -1;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid;
}

long hkt_broker_rss_kb(struct hkt_cloud *c)
{
    long pid = hkt_broker_pid(c);
    if (pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}
