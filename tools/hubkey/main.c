/*
 * hubkey — the Linux device agent and CLI.
 *
 *   hubkey [options] provision | status | send MESSAGE... | run | forget
 *
 * The device stack (hk_device) does the boot flow; this file opens the chip
 * and the link, runs the event loop (one poll() over the socket, standard
 * input and a signal pipe, with the device's own deadlines), prints one
 * progress line per state change and decides when a command is finished.
 * docs/hubkey-agent.md is the user's guide; the exit codes are in agent.h.
 *
 * Why the loop is here and not hk_device_run(): `run` must read standard
 * input and notice signals while waiting for the network, and every command
 * needs to stop as soon as its goal is reached (READY, all messages
 * acknowledged) or a refusal makes waiting pointless.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "agent.h"
#include "agent_io.h"
#include "agent_sock.h"
#include "hubkey/dps.h"
#include "hubkey/record.h"
#include "hubkey/version.h"

#define LINE_MAX_BYTES 8192u    /* longest stdin line sent as telemetry */
#define QUEUE_MAX 256u          /* stdin lines waiting for the hub */
#define METHOD_OUT_MAX 4096u    /* method command output kept */
#define TRUST_MAX (1024u * 1024u)
#define POLL_CAP_MS 1000u

/* Written by the signal handler only; the loop reads the pipe. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (signal_pipe[1] >= 0)
        (void)!write(signal_pipe[1], &b, 1);
    errno = saved;
}

/* One telemetry message: its bytes stay put until the SENT event. */
typedef struct msg {
    char *data;
    size_t len;
    uint32_t id;
    bool in_flight;
    uint32_t client_id; /* the local socket's client that sent it (0: none) */
    uint32_t seq;       /* its request there */
} msg;

/* A reported-properties patch from a local socket client, until the hub
 * answers it. */
typedef struct sock_report {
    bool used;
    uint32_t report_id;
    uint32_t client_id;
    uint32_t seq;
} sock_report;

#define SOCK_REPORTS_MAX 16u

typedef struct agent {
    agent_options *o;
    agent_chip chip;
    hk_posix posix;
    hk_platform platform;
    agent_link link;
    uint8_t *trust;
    size_t trust_len;
    hk_device dev;
    /* what happened in this run */
    bool dps_assigned;      /* an ASSIGNED event came */
    bool dps_visited;       /* DPS was contacted */
    bool ready_cold;        /* the first READY was on a hub DPS assigned in this run */
    bool can_send;          /* HUB_SESSION or READY now: telemetry is accepted */
    bool reached_ready;     /* READY at least once */
    uint32_t ready_ms;      /* elapsed at the first READY */
    hk_result last_error;
    hk_device_state last_error_state;
    int exit_code;          /* set by the event handler to end the loop */
    bool finished;
    bool stop;
    unsigned dps_registrations;
    /* telemetry */
    msg queue[QUEUE_MAX];
    size_t q_head, q_count; /* ring of messages not yet acknowledged */
    unsigned sent_ok, sent_failed;
    bool stdin_open;
    char line[LINE_MAX_BYTES];
    size_t line_len;
    bool line_overflow;
    uint32_t report_id;
    uint32_t t0; /* monotonic ms at hk_device_init */
    bool posix_open;
    uint32_t state_since; /* elapsed ms at the last state change */
    char record_hub[HK_DPS_HUB_MAX + 1];      /* the record read at boot ("" none) */
    char record_device[HK_DPS_DEVICE_ID_MAX + 1];
    bool assignment_unchanged; /* DPS assigned what the record already held */
    bool record_not_saved;     /* the record write did not reach the chip file */
    char fail_msg[2 * AGENT_PATH_MAX + 256]; /* why the loop stops, when not a refusal */
    agent_sock sock;        /* run: the local socket */
    sock_report reports[SOCK_REPORTS_MAX];
    bool ready_now;         /* in READY: twin requests are possible */
    bool refusal_told;      /* run: what to check was said since the last READY */
} agent;

/* ---- output ---- */

static void err_line(const agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_line(const agent *a, const char *fmt, ...)
{
    (void)a;
    va_list ap;
    va_start(ap, fmt);
    fputs("hubkey: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void stamp(uint32_t elapsed_ms)
{
    printf("[%4u.%03us] ", (unsigned)(elapsed_ms / 1000), (unsigned)(elapsed_ms % 1000));
}

static void json_begin(const char *event, uint32_t elapsed_ms)
{
    printf("{\"t\":%u.%03u,\"event\":\"%s\"", (unsigned)(elapsed_ms / 1000),
           (unsigned)(elapsed_ms % 1000), event);
}

static void json_str(const char *key, const char *s, size_t len)
{
    printf(",\"%s\":", key);
    agent_json_string(stdout, s, len);
}

static void json_cstr(const char *key, const char *s)
{
    if (s)
        json_str(key, s, strlen(s));
}

static void json_end(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

/* Human output: a JSON payload on one line as it is, anything else (text,
 * binary, JSON spread over lines) as a JSON string, so one event stays one
 * line and no control byte reaches the terminal. */
static void print_payload(const uint8_t *p, size_t len)
{
    bool one_line = len > 0;
    for (size_t i = 0; i < len && one_line; i++)
        one_line = p[i] >= 0x20 && p[i] != 0x7F;
    if (one_line && agent_json_valid((const char *)p, len))
        fwrite(p, 1, len, stdout);
    else
        agent_json_string(stdout, (const char *)p, len);
}

static bool is_hub_refusal(hk_result r)
{
    return r == HK_ERR_MQTT_REFUSED_IDENTIFIER || r == HK_ERR_MQTT_REFUSED_UNAVAILABLE ||
           r == HK_ERR_MQTT_REFUSED_CREDENTIALS || r == HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED ||
           r == HK_ERR_TLS_CLIENT_REJECTED || r == HK_ERR_DEVICE_HUB_REFUSED;
}

static bool is_dps_refusal(hk_result r)
{
    return r == HK_ERR_DPS_DISABLED || r == HK_ERR_DPS_UNAUTHORIZED || r == HK_ERR_DPS_REJECTED ||
           r == HK_ERR_DPS_FAILED || r == HK_ERR_TLS_CLIENT_REJECTED ||
           r == HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED || r == HK_ERR_MQTT_REFUSED_CREDENTIALS ||
           r == HK_ERR_MQTT_REFUSED_IDENTIFIER;
}

static bool is_connection_error(hk_result r)
{
    return r == HK_ERR_CONNECT || r == HK_ERR_RESOLVE || r == HK_ERR_TIMEOUT ||
           (r >= HK_ERR_TLS_HANDSHAKE && r <= HK_ERR_TLS_OWN_CERT);
}

/* What the flow really did: a boot is cold when the hub it reached was
 * assigned by DPS in this run. Contacting DPS is not enough: a registration
 * that failed falls back to the record's hub, which is a warm boot. */
static const char *boot_kind(const agent *a)
{
    return a->dps_assigned ? "cold" : "warm";
}

/* The explanation of a TLS alert in the link's reason ("alert 48
 * (unknown_ca) from server", the form hk_tls_reason documents), in out;
 * false when the reason is not such an alert. */
static bool explain_alert(const char *reason, char *out, size_t cap)
{
    unsigned code = 0;
    char name[64];
    if (sscanf(reason, "alert %u (%63[^)]) from server", &code, name) != 2)
        return false;
    static const struct {
        unsigned code;
        const char *why;
    } whys[] = {
        {42, "the server found the device certificate or its chain invalid"},
        {43, "the server does not accept the device certificate's type"},
        {44, "the device certificate has been revoked"},
        {45, "the server finds the device certificate expired or not yet valid"},
        {46, "the server refused the device certificate"},
        {48, "the server does not trust the device certificate's issuer"},
        {49, "the server denies this device access"},
        {116, "the server wants a device certificate"},
    };
    const char *why = "the server ended the handshake";
    for (size_t i = 0; i < sizeof(whys) / sizeof(whys[0]); i++)
        if (whys[i].code == code)
            why = whys[i].why;
    snprintf(out, cap, "TLS alert %s from the server: %s", name, why);
    return true;
}

/* Where the name the link tried to resolve came from, for the message. */
static const char *name_origin(const agent *a)
{
    const char *name = a->link.address;
    for (size_t i = 0; i < a->o->override_count; i++)
        if (strcmp(a->o->overrides[i].to.host, name) == 0)
            return a->o->overrides[i].host[0] == '*' ? "--cloud-address" : "--connect";
    if (a->o->dps.host[0] && strcmp(a->o->dps.host, name) == 0)
        return "--dps";
    if (strcmp(name, HK_DPS_GLOBAL_HOST) == 0)
        return "the global DPS endpoint";
    return "the assigned hub";
}

/* Why the last connection set-up failed with r ("" when nothing more is
 * known than r): the link's reason with an alert explained, or for a name
 * that does not resolve, the name and where it came from. */
static const char *link_reason(agent *a, hk_result r, char *buf, size_t cap)
{
    if (r == HK_ERR_RESOLVE && a->link.address[0]) {
        snprintf(buf, cap, "host %s cannot be resolved (%s; check the name and the DNS)",
                 a->link.address, name_origin(a));
        return buf;
    }
    if (!is_connection_error(r))
        return "";
    const char *why = agent_link_reason(&a->link);
    return explain_alert(why, buf, cap) ? buf : why;
}

/* The hub host name and device ID the device uses, or NULLs before it
 * has an assignment. */
static void assignment_of(agent *a, const char **hub, const char **dev_id)
{
    if (hk_device_assignment_get(&a->dev, hub, dev_id) != HK_OK) {
        *hub = NULL;
        *dev_id = NULL;
    }
}

/* The registration ID, or NULL before the identity was read. */
static const char *registration_id_of(agent *a)
{
    const char *rid = NULL;
    return hk_device_registration_id_get(&a->dev, &rid) == HK_OK ? rid : NULL;
}

/* Disconnect; hk_device_stop refuses only a NULL device. */
static void device_stop(agent *a)
{
    hk_result_ignore(hk_device_stop(&a->dev));
}

/* The host name a connect step was for. */
static const char *logical_host(agent *a, hk_device_state step)
{
    if (step == HK_DEVICE_STATE_DPS_CONNECT)
        return a->o->dps.host[0] ? a->o->dps.host : HK_DPS_GLOBAL_HOST;
    const char *hub = NULL, *dev_id = NULL;
    assignment_of(a, &hub, &dev_id);
    return hub ? hub : "?";
}

/* The outcome of the step that just ended, for the human progress line. */
static void describe_step(agent *a, const hk_device_event *ev, char *out, size_t cap)
{
    const char *hub = NULL, *dev_id = NULL;
    assignment_of(a, &hub, &dev_id);
    hk_device_state prev = ev->change.previous;
    if (prev == HK_DEVICE_STATE_RECORD && ev->change.result == HK_ERR_RECORD_EMPTY) {
        snprintf(out, cap, "no record");
        return;
    }
    if (ev->state == HK_DEVICE_STATE_STOPPED) {
        snprintf(out, cap, "disconnected");
        return;
    }
    if (ev->change.result != HK_OK) {
        int n = snprintf(out, cap, "%s (%s)", hk_result_name(ev->change.result),
                         hk_result_str(ev->change.result));
        char buf[512];
        const char *why = link_reason(a, ev->change.result, buf, sizeof(buf));
        if (why[0] && n > 0 && (size_t)n < cap)
            snprintf(out + n, cap - (size_t)n, ": %s", why);
        return;
    }
    switch (prev) {
    case HK_DEVICE_STATE_IDENTITY: {
        const char *rid = registration_id_of(a);
        snprintf(out, cap, "registration ID %s", rid ? rid : "?");
        return;
    }
    case HK_DEVICE_STATE_RECORD:
        if (ev->state == HK_DEVICE_STATE_HUB_CONNECT)
            snprintf(out, cap, "record: hub %s, device %s", hub ? hub : "?",
                     dev_id ? dev_id : "?");
        else if (a->o->force && hub)
            snprintf(out, cap, "record: hub %s (ignored: --force)", hub);
        else
            snprintf(out, cap, "no record");
        return;
    case HK_DEVICE_STATE_DPS_CONNECT:
    case HK_DEVICE_STATE_HUB_CONNECT: {
        const char *host = logical_host(a, prev);
        if (strcmp(host, a->link.address) == 0)
            snprintf(out, cap, "connected to %s:%u", host, (unsigned)a->link.port);
        else
            snprintf(out, cap, "connected to %s (at %s:%u)", host, a->link.address,
                     (unsigned)a->link.port);
        return;
    }
    case HK_DEVICE_STATE_DPS_REGISTER:
        snprintf(out, cap, "assigned to hub %s, device %s", hub ? hub : "?",
                 dev_id ? dev_id : "?");
        return;
    case HK_DEVICE_STATE_RECORD_WRITE:
        snprintf(out, cap, a->record_not_saved       ? "record NOT saved: the chip file cannot be saved"
                           : a->assignment_unchanged ? "record unchanged (same assignment)"
                                                     : "record saved");
        return;
    case HK_DEVICE_STATE_HUB_SESSION:
        snprintf(out, cap, "session up");
        return;
    case HK_DEVICE_STATE_READY:
        snprintf(out, cap, "session ended");
        return;
    case HK_DEVICE_STATE_WAIT:
        snprintf(out, cap, "waited");
        return;
    default:
        snprintf(out, cap, "done");
        return;
    }
}

static void print_state(agent *a, const hk_device_event *ev)
{
    if (a->o->json) {
        json_begin("state", ev->elapsed_ms);
        json_cstr("step", hk_device_state_name(ev->change.previous));
        printf(",\"step_ms\":%u", (unsigned)ev->change.state_ms);
        json_cstr("result", hk_result_name(ev->change.result));
        json_cstr("next", hk_device_state_name(ev->state));
        if (a->exit_code)
            fputs(",\"stop\":true", stdout);
        else if (ev->state == HK_DEVICE_STATE_WAIT) {
            printf(",\"wait_ms\":%u", (unsigned)ev->change.wait_ms);
            json_cstr("then", hk_device_state_name(ev->change.next_state));
        }
        char buf[512];
        if (ev->change.result != HK_OK && link_reason(a, ev->change.result, buf, sizeof(buf))[0])
            json_cstr("reason", link_reason(a, ev->change.result, buf, sizeof(buf)));
        if (ev->change.previous == HK_DEVICE_STATE_DPS_CONNECT ||
            ev->change.previous == HK_DEVICE_STATE_HUB_CONNECT) {
            json_cstr("host", logical_host(a, ev->change.previous));
            json_cstr("address", a->link.address);
            printf(",\"port\":%u", (unsigned)a->link.port);
        }
        if (ev->state == HK_DEVICE_STATE_READY)
            printf(",\"boot\":\"%s\"", boot_kind(a));
        json_end();
        return;
    }
    /* The WAIT state itself and the step out of it add nothing to read
     * beyond the line that started the wait. */
    if (ev->change.previous == HK_DEVICE_STATE_WAIT && ev->change.result == HK_OK && !a->o->verbose)
        return;
    char what[1536]; /* two host names, a device ID and a reason: never cut */
    describe_step(a, ev, what, sizeof(what));
    stamp(ev->elapsed_ms);
    printf("%-13s %6u ms  %s", hk_device_state_name(ev->change.previous), (unsigned)ev->change.state_ms, what);
    if (a->exit_code && ev->change.result != HK_OK)
        fputs(" -> giving up", stdout);
    else if (ev->state == HK_DEVICE_STATE_WAIT)
        printf(" -> %s in %u.%01u s", hk_device_state_name(ev->change.next_state),
               (unsigned)(ev->change.wait_ms / 1000), (unsigned)(ev->change.wait_ms % 1000 / 100));
    else if (ev->change.result != HK_OK && ev->change.result != HK_ERR_RECORD_EMPTY)
        printf(" -> %s", hk_device_state_name(ev->state));
    putchar('\n');
    if (ev->state == HK_DEVICE_STATE_READY) {
        stamp(ev->elapsed_ms);
        printf("%-13s %9s  %s boot, connected in %u.%03u s\n", "ready", "",
               boot_kind(a), (unsigned)(ev->elapsed_ms / 1000),
               (unsigned)(ev->elapsed_ms % 1000));
    }
    fflush(stdout);
}

static void sock_reported(agent *a, const hk_device_event *ev);
static void report_refusal(agent *a, const char *tail);
static void sock_reports_lost(agent *a);

/* ---- telemetry queue ---- */

static msg *q_at(agent *a, size_t i)
{
    return &a->queue[(a->q_head + i) % QUEUE_MAX];
}

static bool q_push(agent *a, const char *data, size_t len, uint32_t client_id, uint32_t seq)
{
    if (a->q_count == QUEUE_MAX)
        return false;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, data, len);
    msg *m = q_at(a, a->q_count);
    memset(m, 0, sizeof(*m));
    m->data = copy;
    m->len = len;
    m->client_id = client_id;
    m->seq = seq;
    a->q_count++;
    return true;
}

/* Drops acknowledged messages from the front of the ring. */
static void q_compact(agent *a)
{
    while (a->q_count > 0 && q_at(a, 0)->data == NULL) {
        a->q_head = (a->q_head + 1) % QUEUE_MAX;
        a->q_count--;
    }
}

/* Hands queued messages to the device while it accepts telemetry (from
 * HUB_SESSION on, before CONNACK) and has room; returns how many it handed
 * over (the device then needs a step). */
static size_t q_flush(agent *a)
{
    size_t handed = 0;
    if (!a->can_send)
        return 0;
    for (size_t i = 0; i < a->q_count; i++) {
        msg *m = q_at(a, i);
        if (!m->data || m->in_flight)
            continue;
        bool json = agent_json_valid(m->data, m->len);
        hk_hub_telemetry_properties props;
        memset(&props, 0, sizeof(props));
        props.content_type = "application/json";
        props.content_encoding = "utf-8";
        hk_result r = hk_device_telemetry_send(&a->dev, (const uint8_t *)m->data, m->len,
                                               json ? &props : NULL, &m->id);
        if (r == HK_ERR_FULL || r == HK_ERR_STATE)
            break; /* again after the next SENT or session */
        if (r != HK_OK) {
            err_line(a, "telemetry message of %zu bytes not sent: %s (%s)", m->len,
                     hk_result_name(r), hk_result_str(r));
            if (m->client_id)
                agent_sock_answer(&a->sock, m->client_id, m->seq, "error not sent: %s (%s)",
                                  hk_result_name(r), hk_result_str(r));
            free(m->data);
            m->data = NULL;
            a->sent_failed++;
            continue;
        }
        m->in_flight = true;
        handed++;
        if (a->o->verbose && !a->o->json) {
            stamp(a->platform.monotonic_ms(a->platform.ctx) - a->t0);
            printf("%-13s %9s  message %u queued (%zu bytes)\n", "telemetry", "",
                   (unsigned)m->id, m->len);
        }
    }
    q_compact(a);
    return handed;
}

static void on_sent(agent *a, const hk_device_event *ev)
{
    for (size_t i = 0; i < a->q_count; i++) {
        msg *m = q_at(a, i);
        if (!m->data || !m->in_flight || m->id != ev->sent.id)
            continue;
        if (ev->sent.result == HK_OK) {
            a->sent_ok++;
            if (m->client_id)
                agent_sock_answer(&a->sock, m->client_id, m->seq, "ok");
            free(m->data);
            m->data = NULL;
        } else {
            /* Dropped unacknowledged (the device moved to another hub):
             * send it again on the next session. */
            m->in_flight = false;
        }
        break;
    }
    q_compact(a);
    if (a->o->json) {
        json_begin("sent", ev->elapsed_ms);
        printf(",\"id\":%u", (unsigned)ev->sent.id);
        json_cstr("result", hk_result_name(ev->sent.result));
        json_end();
    } else {
        /* Every message is acknowledged on a line of its own (send, and run:
         * lines from standard input and the local socket). */
        stamp(ev->elapsed_ms);
        printf("%-13s %9s  message %u %s\n", "telemetry", "", (unsigned)ev->sent.id,
               ev->sent.result == HK_OK ? "acknowledged by the hub" : "not acknowledged, sent again");
        fflush(stdout);
    }
}

/* ---- direct methods ---- */

/* Whether the method command is a program with fixed arguments (words of
 * characters that mean nothing to the shell) rather than shell code. */
static bool plain_command(const char *cmd)
{
    for (const char *p = cmd; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_/.,:=+@%- \t", c)))
            return false;
    }
    return true;
}

/* Runs the method command with the method name as $1 and in HUBKEY_METHOD,
 * the request payload on standard input; its standard output (JSON, or text
 * sent as a JSON string) is the answer, exit status 0 gives 200, anything
 * else 500, no answer within the timeout 504.
 *
 * "/bin/sh -c CMD hubkey-method NAME" gives NAME as $1 to shell code, but a
 * program named by CMD (the usual "method-command /usr/lib/handler") would
 * get no arguments: the shell's $1 is not passed on. So a CMD that is only
 * a program and fixed arguments runs as CMD "$1": the name comes last, which
 * is $1 for a program given alone. Shell code (quotes, $, ;, |, redirection,
 * ...) runs as it is, with the name in its own $1. */
static unsigned run_method_command(agent *a, const char *name, const uint8_t *payload,
                                   size_t payload_len, char *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    const char *cmd = a->o->method_command;
    char *with_name = NULL;
    if (plain_command(cmd)) {
        size_t n = strlen(cmd) + sizeof(" \"$1\"");
        with_name = malloc(n);
        if (!with_name)
            return 500;
        snprintf(with_name, n, "%s \"$1\"", cmd);
        cmd = with_name;
    }
    int in_pipe[2], out_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0) {
        free(with_name);
        return 500;
    }
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        free(with_name);
        return 500;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        setenv("HUBKEY_METHOD", name, 1);
        execl("/bin/sh", "sh", "-c", cmd, "hubkey-method", name, (char *)NULL);
        _exit(127);
    }
    free(with_name);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (pid < 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        return 500;
    }
    /* A request payload is at most the device's receive buffer, well below
     * a pipe's capacity, so this write does not wait for the child. */
    size_t off = 0;
    while (off < payload_len) {
        ssize_t n = write(in_pipe[1], payload + off, payload_len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(in_pipe[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool timed_out = false;
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
        long left = (long)a->o->method_timeout_ms - spent;
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = out_pipe[0], .events = POLLIN};
        int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char buf[1024];
        ssize_t n = read(out_pipe[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (*out_len + 1 < cap)
                out[(*out_len)++] = buf[i];
    }
    close(out_pipe[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        return 504;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 200 : 500;
}

static void on_method(agent *a, const hk_device_event *ev)
{
    char name[128];
    size_t nl = ev->method.name_len < sizeof(name) - 1 ? ev->method.name_len : sizeof(name) - 1;
    memcpy(name, ev->method.name, nl);
    name[nl] = '\0';
    if (a->o->json) {
        json_begin("method", ev->elapsed_ms);
        json_str("name", ev->method.name, ev->method.name_len);
        json_str("request_id", ev->method.request_id, ev->method.request_id_len);
        json_str("payload", (const char *)ev->method.payload, ev->method.payload_len);
        json_end();
    } else {
        stamp(ev->elapsed_ms);
        printf("%-13s %9s  %s ", "method", "", name);
        print_payload(ev->method.payload, ev->method.payload_len);
        putchar('\n');
    }
    unsigned status;
    char answer[METHOD_OUT_MAX + 8];
    size_t answer_len = 0;
    char wrapped[2 * METHOD_OUT_MAX + 64];
    const char *body;
    size_t body_len;
    if (a->o->method_command) {
        status = run_method_command(a, name, ev->method.payload, ev->method.payload_len, answer,
                                    METHOD_OUT_MAX, &answer_len);
        while (answer_len > 0 && (answer[answer_len - 1] == '\n' || answer[answer_len - 1] == '\r' ||
                                  answer[answer_len - 1] == ' '))
            answer_len--;
        if (answer_len == 0) {
            body = "null";
            body_len = 4;
        } else if (agent_json_valid(answer, answer_len)) {
            body = answer;
            body_len = answer_len;
        } else {
            body_len = agent_json_string_buf(wrapped, sizeof(wrapped), answer, answer_len);
            body = wrapped;
        }
        if (status == 504) {
            body = "{\"error\":\"method command timed out\"}";
            body_len = strlen(body);
        }
    } else {
        /* Built-in echo: the request payload back, 200. */
        status = 200;
        if (ev->method.payload_len > 0) {
            body = (const char *)ev->method.payload;
            body_len = ev->method.payload_len;
        } else {
            body = "null";
            body_len = 4;
        }
    }
    hk_result r = hk_device_method_respond(&a->dev, ev->method.request_id, ev->method.request_id_len, status,
                                           body, body_len);
    if (a->o->json) {
        json_begin("method-response", ev->elapsed_ms);
        json_str("name", ev->method.name, ev->method.name_len);
        printf(",\"status\":%u", status);
        json_cstr("result", hk_result_name(r));
        json_end();
    } else {
        stamp(ev->elapsed_ms);
        printf("%-13s %9s  %s answered %u%s%s\n", "method", "", name, status,
               r == HK_OK ? "" : ", not sent: ", r == HK_OK ? "" : hk_result_name(r));
    }
}

/* ---- events ---- */

/* What print_data shows of a hub message event (C2D, DESIRED, TWIN,
 * REPORTED); fields an event kind does not have stay zero. */
typedef struct data_view {
    const uint8_t *payload;
    size_t payload_len;
    unsigned status;
    bool has_version;
    uint32_t version;
    const char *properties;
    size_t properties_len;
} data_view;

static data_view data_of(const hk_device_event *ev)
{
    data_view d;
    memset(&d, 0, sizeof(d));
    switch (ev->type) {
    case HK_DEVICE_EVENT_C2D:
        d.payload = ev->c2d.payload;
        d.payload_len = ev->c2d.payload_len;
        d.properties = ev->c2d.properties;
        d.properties_len = ev->c2d.properties_len;
        break;
    case HK_DEVICE_EVENT_DESIRED:
        d.payload = ev->desired.payload;
        d.payload_len = ev->desired.payload_len;
        d.has_version = ev->desired.has_version;
        d.version = ev->desired.version;
        break;
    case HK_DEVICE_EVENT_TWIN:
        d.payload = ev->twin.payload;
        d.payload_len = ev->twin.payload_len;
        d.status = ev->twin.status;
        break;
    case HK_DEVICE_EVENT_REPORTED:
        d.payload = ev->reported.payload;
        d.payload_len = ev->reported.payload_len;
        d.status = ev->reported.status;
        d.has_version = ev->reported.has_version;
        d.version = ev->reported.version;
        break;
    default:
        break;
    }
    return d;
}

static void print_data(agent *a, const char *what, const hk_device_event *ev, bool show_version)
{
    data_view d = data_of(ev);
    if (a->o->json) {
        json_begin(what, ev->elapsed_ms);
        if (show_version && d.has_version)
            printf(",\"version\":%u", (unsigned)d.version);
        if (d.status)
            printf(",\"status\":%u", d.status);
        if (d.properties_len)
            json_str("properties", d.properties, d.properties_len);
        json_str("payload", (const char *)d.payload, d.payload_len);
        json_end();
        return;
    }
    stamp(ev->elapsed_ms);
    printf("%-13s %9s  ", what, "");
    if (d.status && ev->type != HK_DEVICE_EVENT_DESIRED)
        printf("%u ", d.status);
    if (show_version && d.has_version)
        printf("version %u ", (unsigned)d.version);
    print_payload(d.payload, d.payload_len);
    if (d.properties_len) {
        printf(" properties ");
        agent_json_string(stdout, d.properties, d.properties_len);
    }
    putchar('\n');
    fflush(stdout);
}

static void on_event(void *ctx, const hk_device_event *ev_in)
{
    agent *a = ctx;
    /* Times are measured here, at each event, with the monotonic clock:
     * the device stamps events with the now_ms of the step, so time spent
     * blocking inside a step (name resolution, TCP connect, the chip) would
     * not show in the step it belongs to. */
    hk_device_event evc = *ev_in;
    const hk_device_event *ev = &evc;
    uint32_t t = a->platform.monotonic_ms(a->platform.ctx) - a->t0;
    evc.elapsed_ms = t;
    if (ev->type == HK_DEVICE_EVENT_STATE) {
        evc.change.state_ms = t - a->state_since;
        a->state_since = t;
    }
    if (ev->type == HK_DEVICE_EVENT_STATE && ev->change.previous == HK_DEVICE_STATE_RECORD) {
        const char *hub = NULL, *dev_id = NULL;
        if (hk_device_assignment_get(&a->dev, &hub, &dev_id) == HK_OK) {
            snprintf(a->record_hub, sizeof(a->record_hub), "%s", hub);
            snprintf(a->record_device, sizeof(a->record_device), "%s", dev_id);
        }
    }
    if (ev->type == HK_DEVICE_EVENT_ASSIGNED)
        a->assignment_unchanged = ev->assigned.hub && ev->assigned.device_id &&
                                  strcmp(ev->assigned.hub, a->record_hub) == 0 &&
                                  strcmp(ev->assigned.device_id, a->record_device) == 0;
    if (ev->type == HK_DEVICE_EVENT_STATE && ev->change.previous == HK_DEVICE_STATE_RECORD_WRITE &&
        !a->exit_code &&
        agent_chip_saved(&a->chip, a->fail_msg, sizeof(a->fail_msg)) != 0) {
        /* The chip model took the record but its file did not: nothing is
         * kept for the next boot, so the run is not a success. */
        a->record_not_saved = true;
        a->exit_code = AGENT_EXIT_CHIP;
    }
    switch (ev->type) {
    case HK_DEVICE_EVENT_STATE:
        if (ev->state == HK_DEVICE_STATE_DPS_CONNECT)
            a->dps_visited = true;
        if (ev->change.result != HK_OK) {
            a->last_error = ev->change.result;
            a->last_error_state = ev->change.previous;
        }
        a->can_send = ev->state == HK_DEVICE_STATE_HUB_SESSION ||
                      ev->state == HK_DEVICE_STATE_READY;
        a->ready_now = ev->state == HK_DEVICE_STATE_READY;
        if (!a->ready_now)
            sock_reports_lost(a);
        if (ev->state == HK_DEVICE_STATE_READY) {
            if (!a->reached_ready) {
                a->ready_ms = ev->elapsed_ms;
                a->ready_cold = a->dps_assigned;
            }
            a->reached_ready = true;
            /* A report that cannot be queued gets no REPORTED answer: the
             * summary shows it unanswered. */
            if (a->o->report)
                hk_result_ignore(hk_device_twin_report(&a->dev, a->o->report,
                                                       strlen(a->o->report), &a->report_id));
            if (a->o->command == AGENT_CMD_PROVISION)
                a->finished = true;
        }
        /* A refusal that waiting will not change: the hub refusing an
         * identity DPS has just assigned in this run, or DPS refusing the
         * device once the registration round is over (the flow does not go
         * back to DPS_CONNECT): a refusal in an answer ends it at once, a
         * refused handshake or CONNACK after HK_DEVICE_REFUSALS_MAX in a
         * row. */
        bool at_hub = ev->change.previous == HK_DEVICE_STATE_HUB_CONNECT ||
                      ev->change.previous == HK_DEVICE_STATE_HUB_SESSION ||
                      ev->change.previous == HK_DEVICE_STATE_READY;
        bool at_dps = ev->change.previous == HK_DEVICE_STATE_DPS_CONNECT ||
                      ev->change.previous == HK_DEVICE_STATE_DPS_REGISTER;
        bool round_over = !(ev->state == HK_DEVICE_STATE_WAIT &&
                            ev->change.next_state == HK_DEVICE_STATE_DPS_CONNECT);
        bool refused = ev->change.result != HK_OK &&
                       ((at_hub && a->dps_assigned && is_hub_refusal(ev->change.result)) ||
                        (at_dps && round_over && is_dps_refusal(ev->change.result)));
        if (ev->state == HK_DEVICE_STATE_READY)
            a->refusal_told = false;
        /* run keeps trying, by the device policy; what to check is said
         * once until the device is connected again. */
        bool tell = a->o->command == AGENT_CMD_RUN && refused && !a->refusal_told;
        if (a->o->command != AGENT_CMD_RUN && ev->change.result != HK_OK) {
            /* One-shot commands stop there. */
            if (refused)
                a->exit_code = AGENT_EXIT_REFUSED;
            else if (at_dps && round_over && a->o->force &&
                     a->o->command == AGENT_CMD_PROVISION && !a->dps_assigned) {
                /* --force asked for a registration; falling back to the
                 * record's hub is not what was asked. */
                const char *hub = NULL, *dev_id = NULL;
                assignment_of(a, &hub, &dev_id);
                snprintf(a->fail_msg, sizeof(a->fail_msg),
                         "provision --force: the DPS registration failed: %s (%s); the device "
                         "kept its record (hub %s)",
                         hk_result_name(ev->change.result), hk_result_str(ev->change.result), hub ? hub : "?");
                a->exit_code = AGENT_EXIT_TIMEOUT;
            }
        }
        /* Printed once the command knows whether it stops here: a wait the
         * device schedules is not announced when nobody will wait. */
        print_state(a, ev);
        if (tell) {
            report_refusal(a, " (run keeps trying)");
            a->refusal_told = true;
        }
        /* Queued messages go out with CONNECT: no round trip of their own. */
        if (ev->state == HK_DEVICE_STATE_HUB_SESSION)
            (void)q_flush(a);
        break;
    case HK_DEVICE_EVENT_DPS_RESPONSE:
        if (a->o->json) {
            json_begin("dps-response", ev->elapsed_ms);
            printf(",\"status\":%u,\"retry_after_s\":%u", ev->dps_response.status, (unsigned)ev->dps_response.retry_after_s);
            json_end();
        } else {
            stamp(ev->elapsed_ms);
            const char *what = ev->dps_response.status == 202   ? "assigning"
                               : ev->dps_response.status == 200 ? "answered"
                               : ev->dps_response.status == 429 ? "throttled"
                               : ev->dps_response.status >= 500 ? "server error"
                                                   : "refused";
            printf("%-13s %9s  %u %s", "dps-register", "", ev->dps_response.status, what);
            if (ev->dps_response.retry_after_s)
                printf(", retry-after %u s", (unsigned)ev->dps_response.retry_after_s);
            putchar('\n');
            fflush(stdout);
        }
        break;
    case HK_DEVICE_EVENT_ASSIGNED:
        a->dps_assigned = true;
        a->dps_registrations++;
        if (a->o->json) {
            json_begin("assigned", ev->elapsed_ms);
            json_cstr("hub", ev->assigned.hub);
            json_cstr("device_id", ev->assigned.device_id);
            printf(",\"trust_bundle_certificates\":%zu", ev->assigned.trust_bundle_count);
            if (ev->assigned.payload) {
                printf(",\"payload\":");
                fwrite(ev->assigned.payload, 1, ev->assigned.payload_len, stdout); /* raw JSON from the parser */
            }
            json_end();
        } else if (ev->assigned.payload || ev->assigned.trust_bundle_count || a->o->verbose) {
            stamp(ev->elapsed_ms);
            printf("%-13s %9s  hub %s, device %s", "assigned", "", ev->assigned.hub ? ev->assigned.hub : "?",
                   ev->assigned.device_id ? ev->assigned.device_id : "?");
            if (ev->assigned.trust_bundle_count)
                printf(", trust bundle of %zu certificates", ev->assigned.trust_bundle_count);
            if (ev->assigned.payload) {
                printf(", payload ");
                agent_json_string(stdout, (const char *)ev->assigned.payload, ev->assigned.payload_len);
            }
            putchar('\n');
        }
        break;
    case HK_DEVICE_EVENT_C2D:
        print_data(a, "c2d", ev, false);
        break;
    case HK_DEVICE_EVENT_DESIRED:
        print_data(a, "desired", ev, true);
        break;
    case HK_DEVICE_EVENT_TWIN:
        if (a->o->command == AGENT_CMD_RUN || a->o->verbose)
            print_data(a, "twin", ev, false);
        break;
    case HK_DEVICE_EVENT_REPORTED:
        if (a->o->command == AGENT_CMD_RUN || a->o->verbose)
            print_data(a, "reported", ev, true);
        sock_reported(a, ev);
        break;
    case HK_DEVICE_EVENT_METHOD:
        on_method(a, ev);
        break;
    case HK_DEVICE_EVENT_SENT:
        on_sent(a, ev);
        break;
    }
}

/* ---- standard input ---- */

static void stdin_line(agent *a, const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    if (!q_push(a, s, len, 0, 0))
        err_line(a, "telemetry queue full (%u messages): line dropped", QUEUE_MAX);
}

/* Reads what is available; false at end of input. */
static bool stdin_read(agent *a)
{
    char buf[4096];
    ssize_t n = read(0, buf, sizeof(buf));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0) {
        if (a->line_len && !a->line_overflow)
            stdin_line(a, a->line, a->line_len);
        a->line_len = 0;
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (a->line_overflow)
                err_line(a, "input line longer than %u bytes dropped", LINE_MAX_BYTES);
            else
                stdin_line(a, a->line, a->line_len);
            a->line_len = 0;
            a->line_overflow = false;
        } else if (a->line_len < LINE_MAX_BYTES) {
            a->line[a->line_len++] = buf[i];
        } else {
            a->line_overflow = true;
        }
    }
    return true;
}

/* ---- the local socket (run) ---- */

static void sock_line(void *ctx, uint32_t client_id, uint32_t seq, const char *line, size_t len)
{
    agent *a = ctx;
    const char *arg, *why;
    size_t arg_len;
    switch (agent_request_parse(line, len, &arg, &arg_len, &why)) {
    case AGENT_REQ_EMPTY:
        agent_sock_answer(&a->sock, client_id, seq, "error empty request");
        return;
    case AGENT_REQ_BAD:
        agent_sock_answer(&a->sock, client_id, seq, "error %s", why);
        return;
    case AGENT_REQ_TELEMETRY:
        if (!q_push(a, arg, arg_len, client_id, seq))
            agent_sock_answer(&a->sock, client_id, seq,
                              "error telemetry queue full (%u messages wait for the hub)",
                              QUEUE_MAX);
        return;
    case AGENT_REQ_REPORTED: {
        if (!a->ready_now) {
            agent_sock_answer(&a->sock, client_id, seq,
                              "error not connected to the hub: reported properties need the "
                              "hub session; send again later");
            return;
        }
        size_t slot = SOCK_REPORTS_MAX;
        for (size_t i = 0; i < SOCK_REPORTS_MAX && slot == SOCK_REPORTS_MAX; i++)
            if (!a->reports[i].used)
                slot = i;
        if (slot == SOCK_REPORTS_MAX) {
            agent_sock_answer(&a->sock, client_id, seq,
                              "error %u reported patches already wait for the hub",
                              SOCK_REPORTS_MAX);
            return;
        }
        uint32_t id = 0;
        hk_result r = hk_device_twin_report(&a->dev, arg, arg_len, &id);
        if (r != HK_OK) {
            agent_sock_answer(&a->sock, client_id, seq, "error not sent: %s (%s)",
                              hk_result_name(r), hk_result_str(r));
            return;
        }
        a->reports[slot] = (sock_report){true, id, client_id, seq};
        return;
    }
    }
}

/* The hub answered a reported patch: the client that sent it learns. */
static void sock_reported(agent *a, const hk_device_event *ev)
{
    for (size_t i = 0; i < SOCK_REPORTS_MAX; i++) {
        sock_report *rp = &a->reports[i];
        if (!rp->used || rp->report_id != ev->reported.id)
            continue;
        if (ev->reported.status >= 200 && ev->reported.status < 300 && ev->reported.has_version)
            agent_sock_answer(&a->sock, rp->client_id, rp->seq, "ok version %u",
                              (unsigned)ev->reported.version);
        else if (ev->reported.status >= 200 && ev->reported.status < 300)
            agent_sock_answer(&a->sock, rp->client_id, rp->seq, "ok");
        else
            agent_sock_answer(&a->sock, rp->client_id, rp->seq, "error the hub answered %u",
                              ev->reported.status);
        rp->used = false;
    }
}

/* The session ended before the hub answered: the patch may or may not have
 * arrived; the client decides whether to send it again. */
static void sock_reports_lost(agent *a)
{
    for (size_t i = 0; i < SOCK_REPORTS_MAX; i++) {
        sock_report *rp = &a->reports[i];
        if (!rp->used)
            continue;
        agent_sock_answer(&a->sock, rp->client_id, rp->seq,
                          "error the hub session ended before the hub answered; send again");
        rp->used = false;
    }
}

/* The socket's path: --socket, else the runtime directory systemd gives
 * (RuntimeDirectory=hubkey), else the user's, else /run/hubkey. */
static const char *sock_default_path(char *buf, size_t cap)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    size_t dir_len = dir ? strcspn(dir, ":") : 0; /* systemd lists several with ':' */
    if (!dir_len) {
        dir = getenv("XDG_RUNTIME_DIR");
        dir_len = dir ? strlen(dir) : 0;
    }
    if (!dir_len) {
        dir = "/run/hubkey";
        dir_len = strlen(dir);
    }
    int n = snprintf(buf, cap, "%.*s/hubkey.sock", (int)dir_len, dir);
    return n > 0 && (size_t)n < cap ? buf : NULL;
}

static int sock_start(agent *a)
{
    const char *path = a->o->socket_path;
    if (path && strcmp(path, "off") == 0)
        return 0;
    char buf[AGENT_SOCKET_PATH_MAX];
    bool is_default = !path;
    if (is_default) {
        path = sock_default_path(buf, sizeof(buf));
        if (!path) {
            err_line(a, "no local socket: the runtime directory's path is too long for a Unix "
                        "socket (give --socket PATH, or --socket off)");
            return 0;
        }
    }
    char err[AGENT_PATH_MAX];
    bool missing_dir = false;
    int rc = agent_sock_open(&a->sock, path, a->o->socket_group, &missing_dir, err, sizeof(err));
    if (rc && is_default && missing_dir) {
        /* Nowhere to put it by default (no runtime directory of ours):
         * run without it rather than not at all. */
        err_line(a, "no local socket: %s (give --socket PATH, or --socket off)", err);
        return 0;
    }
    if (rc) {
        err_line(a, "%s", err);
        return rc;
    }
    if (a->o->verbose && !a->o->json)
        printf("local socket %s\n", a->sock.path);
    return 0;
}

/* ---- the loop ---- */

static uint32_t now_ms(agent *a)
{
    return a->platform.monotonic_ms(a->platform.ctx);
}

static bool send_done(agent *a)
{
    return a->q_count == 0 && !a->stdin_open;
}

/* What to check after a refusal that ends the command, named by what the
 * agent knows: the ID scope, the registration ID, the hub. */
static void refusal_hint(agent *a, bool at_dps, char *out, size_t cap)
{
    const char *rid = registration_id_of(a), *hub = NULL, *dev_id = NULL;
    assignment_of(a, &hub, &dev_id);
    rid = rid ? rid : "?";
    const char *scope = a->o->id_scope ? a->o->id_scope : "?";
    hk_result r = a->last_error;
    if (!at_dps) {
        snprintf(out, cap,
                 "check that device %s exists on hub %s, is enabled, and that the hub accepts "
                 "its certificate (the CA uploaded and verified)",
                 dev_id ? dev_id : rid, hub ? hub : "?");
    } else if (r == HK_ERR_DPS_UNAUTHORIZED) {
        snprintf(out, cap,
                 "DPS does not know registration ID %s: check that the DPS instance of ID scope "
                 "%s has an enrollment for it (an enrollment group for its CA, with the CA "
                 "certificate uploaded and verified, or an individual enrollment)",
                 rid, scope);
    } else if (r == HK_ERR_DPS_DISABLED) {
        snprintf(out, cap, "check the enrollment of registration ID %s: it or the registration "
                           "is disabled",
                 rid);
    } else if (r == HK_ERR_DPS_REJECTED || r == HK_ERR_DPS_FAILED) {
        snprintf(out, cap,
                 "DPS could not assign registration ID %s: check the enrollment's linked IoT "
                 "hubs and allocation policy, and the registration payload",
                 rid);
    } else if (r == HK_ERR_TLS_CLIENT_REJECTED) {
        snprintf(out, cap,
                 "check that the CA that issued the device certificate (registration ID %s) is "
                 "uploaded to the DPS and verified, and enrolled",
                 rid);
    } else {
        /* CONNACK refusals: the ID scope is in the user name, and DPS
         * refuses a connection it cannot place. */
        snprintf(out, cap,
                 "check the ID scope %s: it must be the DPS instance's (its ID scope, not its "
                 "name); then that the instance has an enrollment for registration ID %s",
                 scope, rid);
    }
}

/* "DPS refused the device: RESULT (text): reason; what to check" + tail,
 * for the last error. */
static void report_refusal(agent *a, const char *tail)
{
    char buf[512], hint[768];
    const char *why = link_reason(a, a->last_error, buf, sizeof(buf));
    bool at_dps = a->last_error_state == HK_DEVICE_STATE_DPS_CONNECT ||
                  a->last_error_state == HK_DEVICE_STATE_DPS_REGISTER;
    refusal_hint(a, at_dps, hint, sizeof(hint));
    err_line(a, "%s refused the device: %s (%s)%s%s; %s%s", at_dps ? "DPS" : "the hub",
             hk_result_name(a->last_error), hk_result_str(a->last_error), why[0] ? ": " : "",
             why, hint, tail);
}

static int timeout_exit(agent *a, uint32_t waited_ms)
{
    char buf[512];
    hk_device_state st = hk_device_state_get(&a->dev);
    const char *why = link_reason(a, a->last_error, buf, sizeof(buf));
    if (a->last_error != HK_OK)
        err_line(a, "gave up after %u.%u s in state %s; last error in %s: %s (%s)%s%s",
                 (unsigned)(waited_ms / 1000), (unsigned)(waited_ms % 1000 / 100),
                 hk_device_state_name(st), hk_device_state_name(a->last_error_state),
                 hk_result_name(a->last_error), hk_result_str(a->last_error),
                 why[0] ? ": " : "", why);
    else
        err_line(a, "gave up after %u.%u s in state %s (raise --timeout)",
                 (unsigned)(waited_ms / 1000), (unsigned)(waited_ms % 1000 / 100),
                 hk_device_state_name(st));
    if (is_hub_refusal(a->last_error) || is_dps_refusal(a->last_error))
        return AGENT_EXIT_REFUSED;
    return AGENT_EXIT_TIMEOUT;
}

static int event_loop(agent *a)
{
    uint32_t start = now_ms(a);
    for (;;) {
        uint32_t now = now_ms(a);
        uint32_t deadline = now + POLL_CAP_MS;
        hk_result r = hk_device_step(&a->dev, now, &deadline);
        if (agent_chip_lost_power(&a->chip)) {
            err_line(a, "chip %s lost power (injected fault): stopping as the device would",
                     a->chip.name);
            return AGENT_EXIT_CHIP;
        }
        if (r != HK_OK) {
            err_line(a, "the device cannot continue: %s (%s)", hk_result_name(r),
                     hk_result_str(r));
            return r >= 500 && r < 700 ? AGENT_EXIT_CHIP : AGENT_EXIT_INTERNAL;
        }
        if (!a->exit_code && agent_chip_saved(&a->chip, a->fail_msg, sizeof(a->fail_msg)) != 0)
            a->exit_code = AGENT_EXIT_CHIP;
        if (a->exit_code && a->fail_msg[0]) {
            err_line(a, "%s", a->fail_msg);
            return a->exit_code;
        }
        if (a->exit_code) {
            report_refusal(a, "");
            return a->exit_code;
        }
        size_t handed = q_flush(a);
        if (a->o->command == AGENT_CMD_SEND && a->reached_ready && send_done(a))
            a->finished = true;
        if (a->finished || a->stop)
            return AGENT_EXIT_OK;
        now = now_ms(a);
        uint32_t waited = now - start;
        if (a->o->timeout_ms && a->o->command != AGENT_CMD_RUN && waited >= a->o->timeout_ms)
            return timeout_exit(a, waited);

        int32_t wait = (int32_t)(deadline - now);
        if (wait < 0 || handed > 0)
            wait = 0; /* new messages: step again at once to send them */
        if ((uint32_t)wait > POLL_CAP_MS)
            wait = POLL_CAP_MS;
        if (a->o->timeout_ms && a->o->command != AGENT_CMD_RUN &&
            (uint32_t)wait > a->o->timeout_ms - waited)
            wait = (int32_t)(a->o->timeout_ms - waited);
        struct pollfd fds[3 + 1 + AGENT_SOCK_CLIENTS];
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = signal_pipe[0], .events = POLLIN};
        int sock = agent_link_fd(&a->link);
        int in_i = -1;
        if (sock >= 0) {
            fds[n++] = (struct pollfd){
                .fd = sock,
                .events = (short)(POLLIN | (agent_link_want_write(&a->link) ? POLLOUT : 0))};
        }
        if (a->stdin_open && a->q_count < QUEUE_MAX) {
            in_i = (int)n;
            fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        }
        size_t sock_i = (size_t)n;
        size_t sock_n = agent_sock_pollfds(&a->sock, fds + n, a->q_count < QUEUE_MAX);
        n += (nfds_t)sock_n;
        int pr = poll(fds, n, wait);
        if (pr < 0 && errno != EINTR) {
            err_line(a, "poll: %s", strerror(errno));
            return AGENT_EXIT_INTERNAL;
        }
        if (pr > 0 && (fds[0].revents & POLLIN)) {
            unsigned char sig;
            if (read(signal_pipe[0], &sig, 1) == 1) {
                if (!a->o->json) {
                    stamp(now - start);
                    printf("%-13s %9s  signal %d: disconnecting\n", "stop", "", sig);
                }
                device_stop(a);
                a->stop = true;
                if (a->o->command != AGENT_CMD_RUN)
                    return 128 + sig;
            }
        }
        if (pr > 0 && in_i >= 0 && (fds[in_i].revents & (POLLIN | POLLHUP | POLLERR)))
            a->stdin_open = stdin_read(a);
        if (pr > 0 && sock_n)
            agent_sock_service(&a->sock, fds + sock_i, sock_n, sock_line, a);
    }
}

/* ---- commands ---- */

static int read_trust(agent *a)
{
    const char *path = a->o->trust_file;
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_line(a, "trust file %s: %s", path, strerror(errno));
        return AGENT_EXIT_FILE;
    }
    uint8_t *buf = malloc(TRUST_MAX + 1);
    size_t n = buf ? fread(buf, 1, TRUST_MAX, f) : 0;
    bool too_big = buf && n == TRUST_MAX && fgetc(f) != EOF;
    fclose(f);
    if (!buf) {
        err_line(a, "out of memory");
        return AGENT_EXIT_INTERNAL;
    }
    buf[n] = '\0';
    if (too_big || n == 0 || !strstr((char *)buf, "-----BEGIN CERTIFICATE-----") ||
        memchr(buf, '\0', n)) {
        free(buf);
        err_line(a, "trust file %s: %s", path,
                 too_big ? "larger than 1 MiB" : "no PEM certificate in it");
        return AGENT_EXIT_FILE;
    }
    a->trust = buf;
    a->trust_len = n + 1;
    return 0;
}

static int open_chip(agent *a)
{
    char err[AGENT_PATH_MAX * 4];
    int rc = agent_chip_open(&a->chip, a->o, err, sizeof(err));
    if (rc)
        err_line(a, "%s", err);
    return rc;
}

static int start_device(agent *a)
{
    agent_options *o = a->o;
    if (!o->id_scope) {
        err_line(a, "no ID scope: give --id-scope (or HUBKEY_ID_SCOPE)");
        return AGENT_EXIT_USAGE;
    }
    int rc = read_trust(a);
    if (rc)
        return rc;
    rc = open_chip(a);
    if (rc)
        return rc;
    hk_result pr = hk_posix_init(&a->posix, &a->platform);
    if (pr != HK_OK) {
        err_line(a, "platform: %s", hk_result_str(pr));
        return AGENT_EXIT_INTERNAL;
    }
    a->posix_open = true;
    pr = agent_link_init(&a->link, &a->platform, &a->posix, &a->chip.se, o->overrides,
                         o->override_count, a->trust, a->trust_len);
    if (pr != HK_OK) {
        err_line(a, "link: %s (%s)", hk_result_name(pr), hk_result_str(pr));
        return AGENT_EXIT_INTERNAL;
    }
    hk_device_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.se = &a->chip.se;
    cfg.link = a->link.device_link;
    cfg.id_scope = o->id_scope;
    cfg.dps_host = o->dps.host[0] ? o->dps.host : NULL;
    cfg.dps_port = o->dps.port;
    cfg.registration_payload = o->payload;
    cfg.model_id = o->model_id;
    cfg.force_provisioning = o->force;
    cfg.policy = o->policy;
    cfg.on_event = on_event;
    cfg.event_ctx = a;
    a->t0 = now_ms(a);
    hk_result r = hk_device_init(&a->dev, &cfg, a->t0);
    if (r != HK_OK) {
        err_line(a, "device configuration refused: %s (%s); check the --reconnect-* timings",
                 hk_result_name(r), hk_result_str(r));
        return AGENT_EXIT_USAGE;
    }
    if (!o->json && o->verbose) {
        const char *addr;
        uint16_t port;
        const char *dps = o->dps.host[0] ? o->dps.host : HK_DPS_GLOBAL_HOST;
        agent_link_resolve(o->overrides, o->override_count, dps, o->dps.port ? o->dps.port : 8883,
                           &addr, &port);
        printf("chip %s, ID scope %s, DPS %s (at %s:%u), trust %s\n", a->chip.name, o->id_scope,
               dps, addr, (unsigned)port, o->trust_file ? o->trust_file : "built-in Azure roots");
    }
    return 0;
}

static void summary(agent *a, int rc)
{
    const char *rid = registration_id_of(a), *hub = NULL, *dev_id = NULL;
    assignment_of(a, &hub, &dev_id);
    if (a->o->json) {
        printf("{\"event\":\"summary\",\"command\":\"%s\",\"exit\":%d",
               a->o->command == AGENT_CMD_PROVISION ? "provision"
               : a->o->command == AGENT_CMD_SEND    ? "send"
                                                    : "run",
               rc);
        json_cstr("registration_id", rid);
        json_cstr("hub", hub);
        json_cstr("device_id", dev_id);
        if (a->reached_ready) {
            printf(",\"boot\":\"%s\",\"connect_ms\":%u", a->ready_cold ? "cold" : "warm",
                   (unsigned)a->ready_ms);
        }
        printf(",\"dps_registrations\":%u,\"sent\":%u,\"not_sent\":%u", a->dps_registrations,
               a->sent_ok, a->sent_failed);
        if (a->chip.emu) {
            hk_emu_atecc608_counters c;
            hk_emu_atecc608_counters_get(a->chip.emu, &c);
            printf(",\"chip\":{\"commands\":%llu,\"faults\":%llu,\"power_losses\":%llu}",
                   (unsigned long long)c.commands,
                   (unsigned long long)(c.faults_corrupted + c.faults_dropped + c.faults_nacked),
                   (unsigned long long)c.power_losses);
        }
        json_end();
        return;
    }
    if (rc == AGENT_EXIT_OK && a->o->command == AGENT_CMD_PROVISION)
        printf("provisioned: %s on hub %s as device %s (%s boot, %u.%03u s)\n",
               rid ? rid : "?", hub ? hub : "?", dev_id ? dev_id : "?",
               a->ready_cold ? "cold" : "warm", (unsigned)(a->ready_ms / 1000),
               (unsigned)(a->ready_ms % 1000));
    if (a->o->command == AGENT_CMD_SEND)
        printf("sent %u message%s to %s%s\n", a->sent_ok, a->sent_ok == 1 ? "" : "s",
               hub ? hub : "no hub", a->sent_failed ? " (some not sent)" : "");
}

static int cmd_connect(agent *a)
{
    agent_options *o = a->o;
    if (o->command == AGENT_CMD_SEND) {
        if (o->message_count == 0) {
            err_line(a, "send needs at least one MESSAGE (or - to read lines from standard input)");
            return AGENT_EXIT_USAGE;
        }
        for (size_t i = 0; i < o->message_count; i++) {
            if (strcmp(o->messages[i], "-") == 0)
                a->stdin_open = true;
            else if (!q_push(a, o->messages[i], strlen(o->messages[i]), 0, 0)) {
                err_line(a, "out of memory");
                return AGENT_EXIT_INTERNAL;
            }
        }
    } else if (o->command == AGENT_CMD_RUN) {
        a->stdin_open = true;
        int src = sock_start(a);
        if (src)
            return src;
    }
    int rc = start_device(a);
    if (rc)
        return rc;
    rc = a->stop ? 0 : event_loop(a);
    device_stop(a);
    if (rc == AGENT_EXIT_OK && a->sent_failed)
        rc = AGENT_EXIT_NOT_SENT;
    summary(a, rc);
    return rc;
}

static void print_cert(agent *a, const char *label, unsigned index)
{
    uint8_t der[HK_CERT_MAX_TEMPLATE + 64];
    size_t len = 0;
    hk_result r = a->chip.se.cert(a->chip.se.ctx, index, der, sizeof(der), &len);
    if (r == HK_ERR_NOT_FOUND)
        return;
    if (r != HK_OK) {
        if (a->o->json)
            printf(",\"%s_error\":\"%s\"", label, hk_result_name(r));
        else
            printf("%-16s unreadable: %s (%s)\n", label, hk_result_name(r), hk_result_str(r));
        return;
    }
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    char subject[1024] = "?", issuer[1024] = "?"; /* whole names, never cut */
    char until[32] = "?";
    if (mbedtls_x509_crt_parse_der(&crt, der, len) == 0) {
        mbedtls_x509_dn_gets(subject, sizeof(subject), &crt.subject);
        mbedtls_x509_dn_gets(issuer, sizeof(issuer), &crt.issuer);
        snprintf(until, sizeof(until), "%04d-%02d-%02d", crt.valid_to.year, crt.valid_to.mon,
                 crt.valid_to.day);
    }
    mbedtls_x509_crt_free(&crt);
    if (a->o->json) {
        printf(",\"%s\":{", label);
        printf("\"subject\":");
        agent_json_string(stdout, subject, strlen(subject));
        printf(",\"issuer\":");
        agent_json_string(stdout, issuer, strlen(issuer));
        printf(",\"valid_until\":\"%s\",\"bytes\":%zu}", until, len);
    } else {
        printf("%-16s %s (issuer %s, valid until %s)\n", label, subject, issuer, until);
    }
}

static int cmd_status(agent *a)
{
    int rc = open_chip(a);
    if (rc)
        return rc;
    uint8_t serial[32];
    size_t serial_len = 0;
    hk_result r = a->chip.se.serial(a->chip.se.ctx, serial, sizeof(serial), &serial_len);
    char serial_hex[65] = "";
    for (size_t i = 0; r == HK_OK && i < serial_len; i++)
        snprintf(serial_hex + 2 * i, 3, "%02x", serial[i]);
    uint8_t der[HK_CERT_MAX_TEMPLATE + 64];
    size_t der_len = 0;
    char rid[HK_DPS_DEVICE_ID_MAX + 1] = "";
    size_t rid_len = 0;
    hk_result rc_id = a->chip.se.cert(a->chip.se.ctx, 0, der, sizeof(der), &der_len);
    if (rc_id == HK_OK)
        rc_id = hk_device_cert_cn_get(der, der_len, rid, sizeof(rid), &rid_len);
    hk_record rec;
    hk_result rc_rec = hk_record_read(&a->chip.se, &rec);
    if (a->o->json) {
        printf("{\"chip\":");
        agent_json_string(stdout, a->chip.name, strlen(a->chip.name));
        if (r == HK_OK)
            printf(",\"serial\":\"%s\"", serial_hex);
        if (rc_id == HK_OK)
            json_cstr("registration_id", rid);
        else
            json_cstr("identity_error", hk_result_name(rc_id));
        print_cert(a, "device_certificate", 0);
        print_cert(a, "signer_certificate", 1);
        printf(",\"provisioned\":%s", rc_rec == HK_OK ? "true" : "false");
        if (rc_rec == HK_OK) {
            json_cstr("hub", rec.hub_hostname);
            json_cstr("device_id", rec.device_id);
            printf(",\"generation\":%u,\"legacy\":%s", (unsigned)rec.generation,
                   rec.from_legacy ? "true" : "false");
        } else {
            json_cstr("record", hk_result_name(rc_rec));
        }
        json_end();
    } else {
        printf("%-16s %s\n", "chip", a->chip.name);
        if (a->chip.certdefs_dir[0] && a->o->verbose)
            printf("%-16s %s\n", "certdefs", a->chip.certdefs_dir);
        if (r == HK_OK)
            printf("%-16s %s\n", "serial", serial_hex);
        else
            printf("%-16s unreadable: %s (%s)\n", "serial", hk_result_name(r), hk_result_str(r));
        if (rc_id == HK_OK)
            printf("%-16s %s\n", "registration ID", rid);
        else
            printf("%-16s none: %s (%s)\n", "registration ID", hk_result_name(rc_id),
                   hk_result_str(rc_id));
        print_cert(a, "device cert", 0);
        print_cert(a, "signer cert", 1);
        if (rc_rec == HK_OK)
            printf("%-16s hub %s, device %s (generation %u%s)\n", "provisioned", rec.hub_hostname,
                   rec.device_id, (unsigned)rec.generation,
                   rec.from_legacy ? ", legacy layout" : "");
        else
            printf("%-16s no: %s (%s)\n", "provisioned", hk_result_name(rc_rec),
                   hk_result_str(rc_rec));
    }
    /* An identity the device cannot use (a certificate that cannot be
     * rebuilt with these definitions, or without a usable CN) makes every
     * boot fail: not a provisioned device, whatever the record says. */
    uint8_t signer[HK_CERT_MAX_TEMPLATE + 64];
    size_t signer_len = 0;
    hk_result rc_signer = a->chip.se.cert(a->chip.se.ctx, 1, signer, sizeof(signer), &signer_len);
    if (rc_signer == HK_ERR_NOT_FOUND)
        rc_signer = HK_OK; /* a self-signed device has none */
    if (r != HK_OK || rc_id != HK_OK || rc_signer != HK_OK) {
        hk_result bad = r != HK_OK ? r : rc_id != HK_OK ? rc_id : rc_signer;
        bool cert = bad >= HK_ERR_CERT_TEMPLATE && bad <= HK_ERR_CERT_PARSE;
        err_line(a, "chip %s: the %s cannot be used: %s (%s)%s%s%s", a->chip.name,
                 r != HK_OK       ? "serial number"
                 : rc_id != HK_OK ? "device identity (device certificate)"
                                  : "signer certificate",
                 hk_result_name(bad), hk_result_str(bad),
                 cert && a->chip.certdefs_dir[0] ? "; the certificate definitions in " : "",
                 cert && a->chip.certdefs_dir[0] ? a->chip.certdefs_dir : "",
                 cert && a->chip.certdefs_dir[0] ? " must be those of the CA that issued them" : "");
        return AGENT_EXIT_CHIP;
    }
    if (rc_rec == HK_ERR_RECORD_EMPTY)
        return AGENT_EXIT_NOT_PROVISIONED;
    if (rc_rec != HK_OK)
        return rc_rec == HK_ERR_RECORD_CORRUPT || rc_rec == HK_ERR_RECORD_VERSION
                   ? AGENT_EXIT_NOT_PROVISIONED
                   : AGENT_EXIT_CHIP;
    return AGENT_EXIT_OK;
}

static int cmd_forget(agent *a)
{
    int rc = open_chip(a);
    if (rc)
        return rc;
    hk_record rec;
    hk_result r = hk_record_read(&a->chip.se, &rec);
    if (r == HK_ERR_RECORD_EMPTY) {
        if (a->o->json)
            printf("{\"forgotten\":false,\"record\":\"HK_ERR_RECORD_EMPTY\"}\n");
        else
            printf("no provisioning record: nothing to forget\n");
        return AGENT_EXIT_OK;
    }
    if (r != HK_OK && r != HK_ERR_RECORD_CORRUPT) {
        err_line(a, "chip %s: the record cannot be read: %s (%s)", a->chip.name,
                 hk_result_name(r), hk_result_str(r));
        return AGENT_EXIT_CHIP;
    }
    hk_result w = hk_record_forget(&a->chip.se);
    if (w != HK_OK) {
        err_line(a, "chip %s: the record cannot be forgotten: %s (%s)", a->chip.name,
                 hk_result_name(w), hk_result_str(w));
        return AGENT_EXIT_CHIP;
    }
    char save_err[2 * AGENT_PATH_MAX + 256];
    if (agent_chip_saved(&a->chip, save_err, sizeof(save_err)) != 0) {
        err_line(a, "the record was not forgotten: %s", save_err);
        return AGENT_EXIT_CHIP;
    }
    if (a->o->json) {
        printf("{\"forgotten\":true");
        if (r == HK_OK) {
            json_cstr("hub", rec.hub_hostname);
            json_cstr("device_id", rec.device_id);
        }
        json_end();
    } else if (r == HK_OK) {
        printf("forgot hub %s, device %s: the next boot registers with DPS\n", rec.hub_hostname,
               rec.device_id);
    } else {
        printf("forgot a corrupt record: the next boot registers with DPS\n");
    }
    return AGENT_EXIT_OK;
}

/* The usage texts: one per command (hubkey COMMAND --help, hubkey help
 * COMMAND) and the overview (hubkey --help). Each ends with the exit codes. */
static const char usage_chip_opts[] =
    "  --chip SPEC          emu:FILE | i2c:/dev/i2c-N[@ADDR] | soft:KEY,CERT[,SIGNER]\n"
    "                       (default $HUBKEY_CHIP)\n"
    "  --certdefs DIR       certificate definitions (hubkey-factory's CA directory)\n"
    "  --record FILE        soft: the provisioning record file (default KEY.record)\n";

static const char usage_cloud_opts[] =
    "  --id-scope SCOPE     DPS ID scope (default $HUBKEY_ID_SCOPE)\n"
    "  --dps HOST[:PORT]    DPS endpoint (default $HUBKEY_DPS, else\n"
    "                       global.azure-devices-provisioning.net)\n"
    "  --connect HOST=ADDR[:PORT]  connect to ADDR for HOST (repeatable); TLS still checks\n"
    "                       the certificate against HOST\n"
    "  --cloud-address ADDR[:PORT] connect every host to ADDR (a local cloud;\n"
    "                       default $HUBKEY_CLOUD_ADDRESS)\n"
    "  --trust FILE         PEM trust store (default $HUBKEY_TRUST, else the built-in\n"
    "                       Azure roots)\n"
    "  --payload JSON       registration custom payload\n"
    "  --model-id ID        IoT Plug and Play model ID\n"
    "  --report JSON        reported properties patch sent after each connect\n"
    "  --reprovision-interval D  --dps-deadline D  --dps-response-timeout D\n"
    "  --hub-fallback D  --reconnect-min D  --reconnect-max D  --reconnect-jitter D\n"
    "  --connect-timeout D  --keep-alive D     policy timings (D: 250ms, 5s, 2m, 1h)\n";

static const char usage_common_opts[] =
    "  --config FILE        options from FILE, one 'name value' per line\n"
    "  --json               machine-readable output (see below)\n"
    "  -v, --verbose        more detail (repeatable)\n"
    "  -h, --help           this help; --version: the version\n";

static const char usage_test_opts[] =
    "  --chip-faults PPM[,SEED]    emulated chip: corrupt/drop responses (testing)\n"
    "  --chip-power-loss N[,KEEP]  emulated chip: lose power in the N-th Write (testing)\n";

static const char usage_exit_codes[] =
    "Exit codes: 0 ok, 1 usage, 2 file, 3 chip, 4 not provisioned (status), 5 timed out,\n"
    "6 refused by DPS or the hub, 7 telemetry not acknowledged, 8 internal error,\n"
    "128+N stopped by signal N (provision, send).\n";

static void usage(FILE *f, agent_command topic)
{
    switch (topic) {
    case AGENT_CMD_PROVISION:
        fputs("usage: hubkey [OPTIONS] provision\n"
              "\n"
              "Boot until connected to the hub, then disconnect: through DPS when the chip\n"
              "holds no record (or with --force), straight to the recorded hub otherwise.\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_cloud_opts, f);
        fputs("  --force              register with DPS even when a record exists\n"
              "  --timeout D          give up after D (default 300s; 0 = never)\n",
              f);
        fputs(usage_common_opts, f);
        fputs(usage_test_opts, f);
        fputs("\n--json: one object per line (JSON Lines): the progress events, then a summary.\n",
              f);
        break;
    case AGENT_CMD_STATUS:
        fputs("usage: hubkey [OPTIONS] status\n"
              "\n"
              "The chip's identity (serial, registration ID, certificates) and provisioning\n"
              "record. No network.\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_common_opts, f);
        fputs("\n--json: one object.\n", f);
        break;
    case AGENT_CMD_SEND:
        fputs("usage: hubkey [OPTIONS] send MESSAGE...\n"
              "\n"
              "Connect like provision and send each MESSAGE as one telemetry message (- reads\n"
              "lines from standard input until its end); wait for the hub's acknowledgements.\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_cloud_opts, f);
        fputs("  --timeout D          give up after D (default 300s; 0 = never)\n", f);
        fputs(usage_common_opts, f);
        fputs("\n--json: one object per line (JSON Lines): the progress events, one \"sent\" per\n"
              "message, then a summary.\n",
              f);
        break;
    case AGENT_CMD_RUN:
        fputs("usage: hubkey [OPTIONS] run\n"
              "\n"
              "Stay connected until SIGINT or SIGTERM: print C2D, twin and method traffic,\n"
              "send telemetry from standard input and from the local socket (one message per\n"
              "line; each acknowledgement is printed), answer direct methods.\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_cloud_opts, f);
        fputs("  --method-command CMD answer direct methods with CMD: the method name is $1 and\n"
              "                       $HUBKEY_METHOD, the payload on stdin, the answer (JSON) on\n"
              "                       stdout; exit 0 = 200, else 500\n"
              "  --method-timeout D   (default 10s; then 504)\n"
              "  --socket PATH|off    the local socket applications send through (default\n"
              "                       $RUNTIME_DIRECTORY/hubkey.sock, else\n"
              "                       $XDG_RUNTIME_DIR/hubkey.sock, else /run/hubkey/hubkey.sock);\n"
              "                       lines: 'telemetry TEXT', a JSON object (telemetry as it\n"
              "                       is), 'reported JSON'; one answer line each: ok ... | error ...\n"
              "  --socket-group GROUP the socket file's group (mode 0660; default the agent's)\n",
              f);
        fputs(usage_common_opts, f);
        fputs("\n--json: one object per line (JSON Lines), flushed as events happen.\n", f);
        break;
    case AGENT_CMD_FORGET:
        fputs("usage: hubkey [OPTIONS] forget\n"
              "\n"
              "Forget the provisioning record: the next boot registers with DPS.\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_common_opts, f);
        fputs("\n--json: one object.\n", f);
        break;
    default:
        fputs("usage: hubkey [OPTIONS] COMMAND\n"
              "\n"
              "Commands:\n"
              "  provision            boot until connected to the hub (through DPS when there is no\n"
              "                       record, or with --force), then disconnect\n"
              "  status               identity and provisioning record on the chip (no network)\n"
              "  send MESSAGE...      connect and send each MESSAGE as telemetry (- reads lines from\n"
              "                       standard input); waits for the hub's acknowledgements\n"
              "  run                  stay connected: print C2D, twin and method traffic, send\n"
              "                       telemetry from standard input and the local socket,\n"
              "                       answer methods\n"
              "  forget               forget the provisioning record (the next boot uses DPS)\n"
              "  help [COMMAND]       this help, or the command's (also: COMMAND --help)\n"
              "  version              the version (also: --version)\n"
              "\n"
              "Options:\n",
              f);
        fputs(usage_chip_opts, f);
        fputs(usage_cloud_opts, f);
        fputs("  --method-command CMD run: answer direct methods with CMD (name in $1)\n"
              "  --method-timeout D   run: (default 10s; then 504)\n"
              "  --socket PATH|off    run: the local socket for applications\n"
              "  --socket-group GROUP run: the socket file's group\n"
              "  --force              provision: register with DPS even when a record exists\n"
              "  --timeout D          provision/send give up after D (default 300s; 0 = never)\n",
              f);
        fputs(usage_common_opts, f);
        fputs(usage_test_opts, f);
        fputs("\n--json: status and forget print one object; provision, send and run one object\n"
              "per line (JSON Lines). Errors stay text on standard error.\n",
              f);
        break;
    }
    fputc('\n', f);
    fputs(usage_exit_codes, f);
}

/* Reads --config FILE (named anywhere on the command line) before the
 * command line itself, so that the command line wins. */
static int load_config(int argc, char **argv, agent_options *o, char **out_text)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hubkey: configuration %s: %s\n", path, strerror(errno));
        return AGENT_EXIT_FILE;
    }
    enum { CONFIG_MAX = 65536 };
    char *text = malloc(CONFIG_MAX + 1);
    size_t n = text ? fread(text, 1, CONFIG_MAX + 1, f) : 0;
    fclose(f);
    if (!text)
        return AGENT_EXIT_INTERNAL;
    if (n > CONFIG_MAX) {
        free(text);
        fprintf(stderr, "hubkey: configuration %s: larger than 64 KiB\n", path);
        return AGENT_EXIT_FILE;
    }
    text[n] = '\0';
    char err[AGENT_ERR_MAX];
    int rc = agent_config_parse(text, n, o, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "hubkey: %s: %s\n", path, err);
        free(text);
        return rc;
    }
    *out_text = text;
    return 0;
}

static int agent_main(agent *a, int argc, char **argv, char **config_text)
{
    agent_options *o = a->o;
    char err[AGENT_ERR_MAX];
    int rc = 0;
    /* Environment first, then the configuration file, then the command line.
     * The variables are the ones `eval "$(hubkey-cloud env)"` sets, so the
     * local cloud's settings reach the agent in one line. */
    static const struct {
        const char *var, *option;
    } env_options[] = {
        {"HUBKEY_CHIP", "chip"},
        {"HUBKEY_ID_SCOPE", "id-scope"},
        {"HUBKEY_DPS", "dps"},
        {"HUBKEY_CLOUD_ADDRESS", "cloud-address"},
        {"HUBKEY_TRUST", "trust"},
    };
    for (size_t i = 0; i < sizeof(env_options) / sizeof(env_options[0]); i++) {
        const char *v = getenv(env_options[i].var);
        if (!v || !*v)
            continue;
        rc = agent_option_set(o, env_options[i].option, v, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "hubkey: environment: %s: %s\n", env_options[i].var, err);
            return rc;
        }
    }
    rc = load_config(argc, argv, o, config_text);
    if (rc)
        return rc;
    rc = agent_args_parse(argc, argv, o, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "hubkey: %s\n", err);
        return rc;
    }
    if (o->help || o->command == AGENT_CMD_HELP) {
        usage(stdout, o->command == AGENT_CMD_HELP ? o->help_topic : o->command);
        return AGENT_EXIT_OK;
    }
    if (o->version || o->command == AGENT_CMD_VERSION) {
        printf("hubkey %s\n", HUBKEY_VERSION);
        return AGENT_EXIT_OK;
    }
    if (o->command == AGENT_CMD_NONE) {
        usage(stderr, AGENT_CMD_NONE);
        return AGENT_EXIT_USAGE;
    }
    if (!o->chip_set) {
        fprintf(stderr, "hubkey: no chip: give --chip emu:FILE, i2c:/dev/i2c-N[@ADDR] or "
                        "soft:KEY,CERT (or set HUBKEY_CHIP)\n");
        return AGENT_EXIT_USAGE;
    }
    if (o->chip.kind != AGENT_CHIP_EMU && (o->chip_fault_ppm || o->power_loss_at_write)) {
        fprintf(stderr, "hubkey: --chip-faults and --chip-power-loss need an emulated chip\n");
        return AGENT_EXIT_USAGE;
    }
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "hubkey: pipe: %s\n", strerror(errno));
        return AGENT_EXIT_INTERNAL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    switch (o->command) {
    case AGENT_CMD_STATUS:
        return cmd_status(a);
    case AGENT_CMD_FORGET:
        return cmd_forget(a);
    default:
        return cmd_connect(a);
    }
}

int main(int argc, char **argv)
{
    agent *a = calloc(1, sizeof(*a));
    agent_options *o = calloc(1, sizeof(*o));
    if (!a || !o) {
        free(a);
        free(o);
        fprintf(stderr, "hubkey: out of memory\n");
        return AGENT_EXIT_INTERNAL;
    }
    agent_options_init(o);
    a->o = o;
    agent_sock_init(&a->sock);
    char *config_text = NULL;
    int rc = agent_main(a, argc, argv, &config_text);
    for (size_t i = 0; i < a->q_count; i++)
        free(q_at(a, i)->data);
    agent_sock_close(&a->sock);
    if (a->posix_open)
        hk_posix_deinit(&a->posix);
    agent_chip_close(&a->chip);
    free(a->trust);
    free(config_text);
    free(o);
    free(a);
    fflush(stdout);
    return rc;
}
