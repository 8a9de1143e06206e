/*
 * hubkey-cloud: a local Azure IoT Hub Device Provisioning Service and IoT Hub
 * inside one mosquitto 2.0 broker, as a version-5 plugin.
 *
 * How the broker is used (see docs/hubkey-cloud.md for the reasons):
 *  - one TLS listener with require_certificate; mosquitto verifies that the
 *    client chain ends in a CA of the hashed capath directory, the plugin then
 *    makes every Azure decision itself from the leaf certificate;
 *  - BASIC_AUTH tells DPS from Hub by the username form and checks identity;
 *  - ACL_CHECK confines a device to its own topics (anything else closes the
 *    connection, as IoT Hub does);
 *  - MESSAGE answers requests with mosquitto_broker_publish_copy() to the
 *    requesting client id; nothing is ever rewritten, and since no client may
 *    subscribe to request topics, requests reach nobody else;
 *  - TICK (about 10 Hz, more under load) sends delayed replies, delivers
 *    commands the CLI queued in SQLite, times out direct methods and reloads
 *    settings when another process changed the database.
 * All publishing happens on the broker thread inside those callbacks.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "hkc_db.h"
#include "hkc_pki.h"
#include "hkc_util.h"

#define DPS_MESSAGE_MAX (96u * 1024u)
#define POLL_BUCKETS 4096
#define POLL_SLOTS 64
#define CHAIN_MAX 8
#define CSR_API_VERSION "2025-07-01-preview"
#define CMD_CHECK_MS 50u

struct settings {
    char *scope;
    int retry_after_s;       /* retry-after on 202 answers */
    int reg_rate_per_min;    /* registrations accepted per minute; 0 = unlimited */
    int poll_limit;          /* operation-status polls per window per device */
    int poll_window_ms;
    double error_rate;       /* 0..1: share of requests answered with 500 */
    int delay_ms;            /* extra delay before DPS and twin answers */
    char *drop_step;         /* step at which connections are dropped, or NULL */
    int issued_days;         /* validity of certificates issued from CSRs */
};

struct client {
    struct mosquitto *mosq;
    enum hkc_role role;
    char *client_id;
    char *id;  /* registration ID (DPS) or device ID (Hub) */
    char *hub; /* Hub host name as stored (Hub only) */
    char *api_version;
    X509 *leaf;
    char sha1[41], sha256[65];
    bool sub_c2d, sub_desired, sub_methods;
    struct client *next;
};

/* What a hub device subscribed to, kept across connections so that a device
 * resuming a persistent session (CleanSession 0, which the broker keeps with
 * its subscriptions) is served without subscribing again. */
struct sub_memo {
    char *hub;
    char *device_id;
    bool c2d, desired, methods;
    struct sub_memo *next;
};

struct reply {
    char *client_id;
    char *topic;
    char *payload;
    size_t len;
    uint64_t due_ms;
    struct reply *next;
};

struct poll_entry {
    char *reg_id; /* lower-cased */
    uint64_t t[POLL_SLOTS];
    int n;
    struct poll_entry *next;
};

struct method_wait {
    int64_t cmd_id;
    char *client_id;
    uint64_t deadline_ms;
    struct method_wait *next;
};

struct ctx {
    mosquitto_plugin_id_t *pid;
    sqlite3 *db;
    char *db_path;
    bool db_failed;          /* an SQL error since the handler reset it */
    uint64_t db_log_ms;      /* when a storage error was last logged */
    unsigned db_unlogged;    /* storage errors since, not logged (rate limit) */
    char *dir;
    struct settings s;
    int64_t data_version;     /* last seen by TICK (identity checks, commands) */
    int64_t settings_version; /* last seen when settings were loaded */
    uint64_t last_cmd_ms, last_gc_ms;
    struct client *clients;
    struct reply *replies;
    struct poll_entry *polls[POLL_BUCKETS];
    struct method_wait *methods;
    struct sub_memo *memos;
    X509 **cas;  /* uploaded CAs and group certificates, parsed once per database change */
    size_t cas_n;
    bool cas_stale;
    double reg_tokens;
    uint64_t reg_last_ms;
    X509 *issuing_ca;
    EVP_PKEY *issuing_key;
    int wake_port;     /* plain loopback listener used to wake the broker loop, 0 = none */
    int wake_fd;       /* our connection to it, -1 when closed */
    bool wake_hello;   /* CONNECT sent on wake_fd */
    char wake_token[33];
};

#define WAKE_CLIENT_ID "hubkey-cloud-internal-wake"
#define WAKE_USERNAME "hubkey-cloud-internal"


/* ------------------------------------------------------------------ helpers */

static void settings_free(struct settings *s)
{
    free(s->scope);
    free(s->drop_step);
    memset(s, 0, sizeof(*s));
}

static void settings_load(struct ctx *c)
{
    settings_free(&c->s);
    c->s.scope = hkc_db_setting(c->db, "id_scope");
    c->s.retry_after_s = (int)hkc_db_setting_int(c->db, "retry_after", 1);
    c->s.reg_rate_per_min = (int)hkc_db_setting_int(c->db, "registration_rate", 1000);
    c->s.poll_limit = (int)hkc_db_setting_int(c->db, "poll_limit", 5);
    c->s.poll_window_ms = (int)hkc_db_setting_int(c->db, "poll_window_ms", 10000);
    c->s.error_rate = hkc_db_setting_real(c->db, "fault_error_rate", 0.0);
    c->s.delay_ms = (int)hkc_db_setting_int(c->db, "fault_delay_ms", 0);
    c->s.drop_step = hkc_db_setting(c->db, "fault_drop");
    c->s.issued_days = (int)hkc_db_setting_int(c->db, "issued_cert_days", 365);
    if (c->s.poll_limit > POLL_SLOTS)
        c->s.poll_limit = POLL_SLOTS;
    if (c->s.poll_limit < 1)
        c->s.poll_limit = 1;
    if (c->s.retry_after_s < 0)
        c->s.retry_after_s = 0;
    if (c->s.delay_ms < 0)
        c->s.delay_ms = 0;
}

/* SQLite's data_version, or -1 when the database cannot be read. */
static int64_t data_version(struct ctx *c)
{
    json_t *row = hkc_db_row(c->db, "PRAGMA data_version", NULL);
    int64_t v = row ? hkc_row_int(row, "data_version") : -1;
    json_decref(row);
    return v;
}

/* Reloads settings when another process committed since the last look, so a
 * change the CLI made before a request is in force for that request. While
 * the database cannot be read the settings in force stay. */
static void settings_refresh(struct ctx *c)
{
    int64_t v = data_version(c);
    if (v >= 0 && v != c->settings_version) {
        c->settings_version = v;
        settings_load(c);
        c->cas_stale = true;
    }
}

static bool drop_at(struct ctx *c, const char *step)
{
    return c->s.drop_step && strcmp(c->s.drop_step, step) == 0;
}

static bool inject_error(struct ctx *c)
{
    if (c->s.error_rate <= 0)
        return false;
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    return (double)r / 4294967296.0 < c->s.error_rate;
}

/* Every SQL error of the plugin's connection lands here: it marks the
 * request being handled as failed by storage and goes to the broker log,
 * at most once per 10 s (a broken database fails every tick). */
static void on_db_error(void *ud, const char *msg)
{
    struct ctx *c = ud;
    c->db_failed = true;
    uint64_t now = hkc_now_ms();
    if (c->db_log_ms != 0 && now - c->db_log_ms < 10000) {
        c->db_unlogged++;
        return;
    }
    if (c->db_unlogged)
        mosquitto_log_printf(MOSQ_LOG_ERR, "hubkey-cloud: storage error in %s: %s (%u more in "
                                           "the last 10 s)",
                             c->db_path ? c->db_path : "the database", msg, c->db_unlogged);
    else
        mosquitto_log_printf(MOSQ_LOG_ERR, "hubkey-cloud: storage error in %s: %s",
                             c->db_path ? c->db_path : "the database", msg);
    c->db_log_ms = now;
    c->db_unlogged = 0;
}

static struct client *client_find(struct ctx *c, const struct mosquitto *m)
{
    for (struct client *cl = c->clients; cl; cl = cl->next)
        if (cl->mosq == m)
            return cl;
    return NULL;
}

static struct client *client_by_device(struct ctx *c, const char *hub, const char *device_id)
{
    for (struct client *cl = c->clients; cl; cl = cl->next)
        if (cl->role == HKC_ROLE_HUB && strcmp(cl->id, device_id) == 0 &&
            hkc_streq_nocase(cl->hub, hub))
            return cl;
    return NULL;
}

static void client_free(struct client *cl)
{
    free(cl->client_id);
    free(cl->id);
    free(cl->hub);
    free(cl->api_version);
    X509_free(cl->leaf);
    free(cl);
}

static void client_remove(struct ctx *c, const struct mosquitto *m)
{
    for (struct client **pp = &c->clients; *pp; pp = &(*pp)->next) {
        if ((*pp)->mosq == m) {
            struct client *cl = *pp;
            *pp = cl->next;
            client_free(cl);
            return;
        }
    }
}

static struct sub_memo **memo_find(struct ctx *c, const char *hub, const char *device_id)
{
    struct sub_memo **pp = &c->memos;
    while (*pp && !(strcmp((*pp)->device_id, device_id) == 0 && hkc_streq_nocase((*pp)->hub, hub)))
        pp = &(*pp)->next;
    return pp;
}

static void memo_drop(struct ctx *c, const char *hub, const char *device_id)
{
    struct sub_memo **pp = memo_find(c, hub, device_id);
    if (*pp) {
        struct sub_memo *m = *pp;
        *pp = m->next;
        free(m->hub);
        free(m->device_id);
        free(m);
    }
}

/* Records the client's current subscription flags. */
static void memo_save(struct ctx *c, const struct client *cl)
{
    struct sub_memo **pp = memo_find(c, cl->hub, cl->id);
    if (!*pp) {
        struct sub_memo *m = calloc(1, sizeof(*m));
        if (!m)
            return;
        m->hub = hkc_strdup(cl->hub);
        m->device_id = hkc_strdup(cl->id);
        *pp = m;
    }
    (*pp)->c2d = cl->sub_c2d;
    (*pp)->desired = cl->sub_desired;
    (*pp)->methods = cl->sub_methods;
}

/* Sends now, or after the configured fault delay from TICK. */
static void send_to(struct ctx *c, const char *client_id, const char *topic, const char *payload,
                    size_t len, int qos, bool delayable)
{
    if (delayable && c->s.delay_ms > 0) {
        struct reply *r = calloc(1, sizeof(*r));
        if (!r)
            return;
        r->client_id = hkc_strdup(client_id);
        r->topic = hkc_strdup(topic);
        r->payload = malloc(len ? len : 1);
        if (r->payload && len)
            memcpy(r->payload, payload, len);
        r->len = len;
        r->due_ms = hkc_now_ms() + (uint64_t)c->s.delay_ms;
        struct reply **pp = &c->replies;
        while (*pp)
            pp = &(*pp)->next;
        *pp = r;
        return;
    }
    mosquitto_broker_publish_copy(client_id, topic, (int)len, payload, qos, false, NULL);
}

static void send_json(struct ctx *c, const char *client_id, const char *topic, json_t *body,
                      bool delayable)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text)
        send_to(c, client_id, topic, text, strlen(text), 0, delayable);
    free(text);
}

/* ------------------------------------------------------------------ DPS */

/* $dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}] with an Azure error body:
 * {"errorCode":401002,"trackingId":"<uuid>","message":"...","timestampUtc":"..."} */
static void dps_error(struct ctx *c, struct client *cl, const char *rid, int status, int code,
                      const char *message, int retry_after)
{
    char ts[40];
    hkc_time_utc(ts, sizeof(ts));
    char *tracking = hkc_uuid();
    json_t *body = json_pack("{s:i,s:s,s:s,s:s}", "errorCode", code, "trackingId", tracking,
                             "message", message, "timestampUtc", ts);
    char *topic = retry_after > 0
                      ? hkc_printf("$dps/registrations/res/%d/?$rid=%s&retry-after=%d", status,
                                   rid, retry_after)
                      : hkc_printf("$dps/registrations/res/%d/?$rid=%s", status, rid);
    send_json(c, cl->client_id, topic, body, true);
    mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> %d %d %s", cl->id, status, code,
                         message);
    free(topic);
    free(tracking);
    json_decref(body);
}

/* A storage failure answered as DPS answers an internal error. */
static void dps_storage_error(struct ctx *c, struct client *cl, const char *rid)
{
    dps_error(c, cl, rid, 500, 500000, "Internal server error.", 0);
}

/* Registration rate: a token bucket of reg_rate_per_min tokens refilled
 * evenly over a minute. Returns 0 when admitted, else seconds to wait. */
static int reg_rate_wait(struct ctx *c)
{
    if (c->s.reg_rate_per_min <= 0)
        return 0;
    uint64_t now = hkc_now_ms();
    double cap = (double)c->s.reg_rate_per_min;
    if (c->reg_last_ms == 0)
        c->reg_tokens = cap;
    else
        c->reg_tokens += (double)(now - c->reg_last_ms) * cap / 60000.0;
    if (c->reg_tokens > cap)
        c->reg_tokens = cap;
    c->reg_last_ms = now;
    if (c->reg_tokens >= 1.0) {
        c->reg_tokens -= 1.0;
        return 0;
    }
    double ms = (1.0 - c->reg_tokens) * 60000.0 / cap;
    return (int)(ms / 1000.0) + 1;
}

static unsigned poll_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % POLL_BUCKETS;
}

/* Per-device poll limit (5 per 10 s by default): a sliding window of the
 * accepted poll times. Returns 0 when admitted, else seconds to wait. */
static int poll_wait(struct ctx *c, const char *reg_id)
{
    char *key = hkc_strdup(reg_id);
    for (char *p = key; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    unsigned h = poll_hash(key);
    struct poll_entry *e = c->polls[h];
    while (e && strcmp(e->reg_id, key) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            free(key);
            return 0;
        }
        e->reg_id = key;
        e->next = c->polls[h];
        c->polls[h] = e;
    } else {
        free(key);
    }
    uint64_t now = hkc_now_ms();
    uint64_t window = (uint64_t)c->s.poll_window_ms;
    int keep = 0;
    for (int i = 0; i < e->n; i++)
        if (now - e->t[i] < window)
            e->t[keep++] = e->t[i];
    e->n = keep;
    if (e->n >= c->s.poll_limit) {
        uint64_t wait = e->t[e->n - c->s.poll_limit] + window - now;
        return (int)((wait + 999) / 1000);
    }
    e->t[e->n++] = now;
    return 0;
}

static void polls_gc(struct ctx *c)
{
    uint64_t now = hkc_now_ms();
    for (int b = 0; b < POLL_BUCKETS; b++) {
        struct poll_entry **pp = &c->polls[b];
        while (*pp) {
            struct poll_entry *e = *pp;
            if (e->n == 0 || now - e->t[e->n - 1] >= (uint64_t)c->s.poll_window_ms) {
                *pp = e->next;
                free(e->reg_id);
                free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

/* Every uploaded CA and every group certificate, for the chain walk. Parsing
 * PEM is costly in OpenSSL 3, so the set is kept until the database changes
 * (the plugin's own writes do not count: SQLite's data_version moves only for
 * commits by other connections, i.e. the CLI). */
static void cas_free(struct ctx *c)
{
    hkc_pki_free_certs(c->cas, c->cas_n);
    c->cas = NULL;
    c->cas_n = 0;
}

static X509 *const *load_cas(struct ctx *c, size_t *out_n)
{
    if (c->cas_stale || !c->cas) {
        cas_free(c);
        json_t *rows = hkc_db_query(c->db,
                                    "SELECT pem FROM cas UNION ALL "
                                    "SELECT cert_pem AS pem FROM enrollments WHERE kind='group'",
                                    NULL);
        size_t n = json_array_size(rows);
        c->cas = calloc(n ? n : 1, sizeof(*c->cas));
        for (size_t i = 0; c->cas && i < n; i++) {
            X509 *x = hkc_pki_from_pem(hkc_row_str(json_array_get(rows, i), "pem"));
            if (x)
                c->cas[c->cas_n++] = x;
        }
        c->cas_stale = rows == NULL; /* a failed read is retried next time */
        json_decref(rows);
    }
    *out_n = c->cas_n;
    return c->cas;
}

/* The enrollment that decides for this device: individual first (by
 * registration ID, attestation by thumbprint), then the nearest group on the
 * leaf's issuer chain. Returns the enrollment row, or NULL with *out_status /
 * *out_code / *out_msg describing the refusal (status 0 = "disabled"). */
static json_t *find_enrollment(struct ctx *c, struct client *cl, int *out_status, int *out_code,
                               const char **out_msg)
{
    *out_status = 401;
    *out_code = 401002;
    *out_msg = "Invalid certificate.";
    json_t *ind = hkc_db_row(c->db,
                             "SELECT * FROM enrollments WHERE kind='individual' AND "
                             "lower(name)=lower(?)",
                             "s", cl->id);
    if (ind) {
        if (!hkc_row_int(ind, "enabled")) {
            *out_status = 0;
            json_decref(ind);
            return NULL;
        }
        const char *want = hkc_row_str(ind, "sha256");
        if (want && strcasecmp(want, cl->sha256) == 0)
            return ind;
        json_decref(ind);
        return NULL;
    }
    size_t n = 0;
    X509 *const *cas = load_cas(c, &n);
    size_t idx[CHAIN_MAX];
    size_t depth = cas ? hkc_pki_ancestry(cl->leaf, cas, n, idx, CHAIN_MAX) : 0;
    json_t *found = NULL;
    for (size_t i = 0; i < depth && !found; i++) {
        char s1[41], s2[65];
        hkc_pki_thumbprints(cas[idx[i]], s1, s2);
        json_t *g = hkc_db_row(c->db,
                               "SELECT * FROM enrollments WHERE kind='group' AND sha256=? "
                               "ORDER BY enabled ASC LIMIT 1",
                               "s", s2);
        if (!g)
            continue;
        if (!hkc_row_int(g, "enabled")) {
            *out_status = 0;
            json_decref(g);
            break;
        }
        found = g;
    }
    return found;
}

/* Splits the enrollment's comma-separated hub list, or takes every hub that
 * takes part in allocation. Only hubs that exist are returned. */
static json_t *candidate_hubs(struct ctx *c, json_t *enr)
{
    const char *list = hkc_row_str(enr, "hubs");
    json_t *all = hkc_db_query(c->db, "SELECT name, weight, apply_allocation FROM hubs "
                                      "ORDER BY name", NULL);
    json_t *out = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(all, i, h) {
        const char *name = hkc_row_str(h, "name");
        bool take;
        if (list && *list) {
            take = false;
            char *copy = hkc_strdup(list), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (hkc_streq_nocase(t, name))
                    take = true;
            free(copy);
        } else {
            take = hkc_row_int(h, "apply_allocation") != 0;
        }
        if (take)
            json_array_append(out, h);
    }
    json_decref(all);
    return out;
}

/* Picks the hub for a registration: static needs exactly one named hub;
 * hashed is weighted rendezvous hashing of the registration ID. */
static char *allocate(struct ctx *c, json_t *enr, const char *reg_id)
{
    json_t *hubs = candidate_hubs(c, enr);
    size_t n = json_array_size(hubs);
    char *pick = NULL;
    const char *policy = hkc_row_str(enr, "allocation");
    if (policy && strcmp(policy, "static") == 0) {
        if (n == 1)
            pick = hkc_strdup(hkc_row_str(json_array_get(hubs, 0), "name"));
    } else if (n > 0) {
        const char **names = calloc(n, sizeof(*names));
        int *weights = calloc(n, sizeof(*weights));
        if (names && weights) {
            for (size_t i = 0; i < n; i++) {
                names[i] = hkc_row_str(json_array_get(hubs, i), "name");
                weights[i] = (int)hkc_row_int(json_array_get(hubs, i), "weight");
            }
            int k = hkc_hash_pick(reg_id, names, weights, n);
            if (k >= 0)
                pick = hkc_strdup(names[k]);
        }
        free(names);
        free(weights);
    }
    json_decref(hubs);
    return pick;
}

static char *initial_desired(json_t *enr)
{
    const char *twin = hkc_row_str(enr, "initial_twin");
    json_t *t = twin ? json_loads(twin, 0, NULL) : NULL;
    json_t *desired = json_object();
    if (json_is_object(t)) {
        /* Accept either {"desired":{...}} or the desired properties themselves. */
        json_t *d = json_object_get(t, "desired");
        hkc_json_merge(desired, json_is_object(d) ? d : t);
    }
    char *s = json_dumps(desired, JSON_COMPACT);
    json_decref(t);
    json_decref(desired);
    return s;
}

struct assignment {
    char *reg_id; /* as first stored: the case of the first registration */
    char *hub;
    char *device_id;
    const char *substatus;
    char *created;
    char *updated;
    char *etag;
};

static void assignment_clear(struct assignment *a)
{
    free(a->reg_id);
    free(a->hub);
    free(a->device_id);
    free(a->created);
    free(a->updated);
    free(a->etag);
}

/* Applies allocation and the enrollment's reprovision policy, creating,
 * moving or refreshing the hub identity. Runs inside a transaction.
 * Returns false when no hub can be allocated. */
static bool assign(struct ctx *c, struct client *cl, json_t *enr, const char *sha1,
                   const char *sha256, const char *cert_pem, struct assignment *a)
{
    memset(a, 0, sizeof(*a));
    char now[40];
    hkc_time_utc(now, sizeof(now));
    const char *kind = hkc_row_str(enr, "kind");
    const char *enr_dev = hkc_row_str(enr, "device_id");
    const char *policy = hkc_row_str(enr, "reprovision");
    /* Registration IDs are case-insensitive (reg_id is COLLATE NOCASE): a
     * device registering as "DevC" after "devc" continues that registration,
     * under the ID it was first stored with, and so keeps its device ID (and
     * with it the hub identity, enabled or not). */
    json_t *prev = hkc_db_row(c->db, "SELECT * FROM registrations WHERE reg_id=?", "s", cl->id);
    const char *reg_id = prev && hkc_row_str(prev, "reg_id") ? hkc_row_str(prev, "reg_id") : cl->id;
    a->reg_id = hkc_strdup(reg_id);
    a->device_id = hkc_strdup(strcmp(kind, "individual") == 0 && enr_dev && *enr_dev ? enr_dev
                                                                                  : reg_id);
    const char *prev_hub = hkc_row_str(prev, "hub");
    const char *prev_dev = hkc_row_str(prev, "device_id");
    bool was_assigned = prev && prev_hub && hkc_row_str(prev, "status") &&
                        strcmp(hkc_row_str(prev, "status"), "assigned") == 0;

    if (was_assigned && strcmp(policy, "never") == 0)
        a->hub = hkc_strdup(prev_hub);
    else
        a->hub = allocate(c, enr, reg_id);
    if (!a->hub) {
        json_decref(prev);
        return false;
    }
    bool moving = was_assigned && !hkc_streq_nocase(a->hub, prev_hub);
    json_t *old = was_assigned ? hkc_db_row(c->db,
                                            "SELECT * FROM devices WHERE hub=? AND device_id=?",
                                            "ss", prev_hub, prev_dev)
                               : NULL;
    if (!was_assigned) {
        a->substatus = "initialAssignment";
    } else if (!moving) {
        const char *ss = hkc_row_str(prev, "substatus");
        a->substatus = ss && strcmp(ss, "deviceDataMigrated") == 0   ? "deviceDataMigrated"
                       : ss && strcmp(ss, "deviceDataReset") == 0    ? "deviceDataReset"
                       : ss && strcmp(ss, "reprovisionedToInitialAssignment") == 0
                           ? "reprovisionedToInitialAssignment"
                           : "initialAssignment";
    } else if (hkc_streq_nocase(a->hub, hkc_row_str(prev, "initial_hub"))) {
        a->substatus = "reprovisionedToInitialAssignment";
    } else if (strcmp(policy, "migrate") == 0) {
        a->substatus = "deviceDataMigrated";
    } else {
        a->substatus = "deviceDataReset";
    }

    char *desired = initial_desired(enr);
    if (moving) {
        bool migrate = strcmp(policy, "migrate") == 0 && old;
        hkc_db_exec(c->db, "DELETE FROM devices WHERE hub=? AND device_id=?", "ss", a->hub,
                    a->device_id);
        if (migrate)
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "desired_version,reported,reported_version,source,created) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,'dps',?)",
                        "ssissssisis", a->hub, a->device_id, (int64_t)hkc_row_int(old, "enabled"),
                        sha1, sha256, cert_pem, hkc_row_str(old, "desired"),
                        (int64_t)hkc_row_int(old, "desired_version"), hkc_row_str(old, "reported"),
                        (int64_t)hkc_row_int(old, "reported_version"), now);
        else
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "source,created) VALUES(?,?,1,?,?,?,?,'dps',?)",
                        "sssssss", a->hub, a->device_id, sha1, sha256, cert_pem, desired, now);
        hkc_db_exec(c->db, "DELETE FROM devices WHERE hub=? AND device_id=?", "ss", prev_hub,
                    prev_dev);
    } else {
        int changed = hkc_db_exec(c->db,
                                  "UPDATE devices SET sha1=?, sha256=?, cert_pem=? "
                                  "WHERE hub=? AND device_id=?",
                                  "sssss", sha1, sha256, cert_pem, a->hub, a->device_id);
        if (changed == 0)
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "source,created) VALUES(?,?,1,?,?,?,?,'dps',?)",
                        "sssssss", a->hub, a->device_id, sha1, sha256, cert_pem, desired, now);
    }
    free(desired);

    a->created = hkc_strdup(prev && hkc_row_str(prev, "created") ? hkc_row_str(prev, "created")
                                                                  : now);
    a->updated = hkc_strdup(now);
    a->etag = hkc_etag();
    const char *initial = prev && hkc_row_str(prev, "initial_hub") ? hkc_row_str(prev, "initial_hub")
                                                                   : a->hub;
    hkc_db_exec(c->db,
                "INSERT INTO registrations(reg_id,enrollment_kind,enrollment_name,hub,initial_hub,"
                "device_id,status,substatus,created,updated,etag,count) "
                "VALUES(?,?,?,?,?,?,'assigned',?,?,?,?,1) ON CONFLICT(reg_id) DO UPDATE SET "
                "enrollment_kind=excluded.enrollment_kind,enrollment_name=excluded.enrollment_name,"
                "hub=excluded.hub,device_id=excluded.device_id,status='assigned',"
                "substatus=excluded.substatus,updated=excluded.updated,etag=excluded.etag,"
                "count=count+1,error_code=NULL,error_message=NULL",
                "ssssssssss", reg_id, kind, hkc_row_str(enr, "name"), a->hub, initial,
                a->device_id, a->substatus, a->created, a->updated, a->etag);
    json_decref(old);
    json_decref(prev);
    return true;
}

/* "CN=Root, O=Example, C=US", as DPS writes certificate names. Heap. */
static char *name_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_DN_REV |
                                                 ASN1_STRFLGS_RFC2253) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out ? out : hkc_strdup("");
}

/* ASN.1 time as "2024-01-31T12:00:00Z" into out (at least 21 bytes). */
static void time_text(const ASN1_TIME *t, char *out, size_t cap)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "%s", "");
}

/* The enrollment's trust bundle in DPS's shape (registrationState.trustBundle,
 * api-version 2021-11-01-preview):
 *   {"certificates":[{"certificate":"-----BEGIN CERTIFICATE-----\n...",
 *     "metadata":{"subjectName":"CN=Root","sha1Thumbprint":"..","sha256Thumbprint":"..",
 *      "issuerName":"CN=Root","notBeforeUtc":"2024-..Z","notAfterUtc":"..","serialNumber":"..",
 *      "version":3}}],
 *    "id":"<enrollment name>","createdDateTime":"..","lastModifiedDateTime":"..","etag":".."}
 * NULL when the enrollment has none. */
static json_t *trust_bundle_json(json_t *enr)
{
    const char *pem = hkc_row_str(enr, "trust_bundle");
    size_t n = 0;
    X509 **certs = pem && *pem ? hkc_pki_parse_certs(pem, &n) : NULL;
    if (n == 0) {
        hkc_pki_free_certs(certs, n);
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char s1[41], s2[65], nb[32], na[32];
        hkc_pki_thumbprints(certs[i], s1, s2);
        time_text(X509_get0_notBefore(certs[i]), nb, sizeof(nb));
        time_text(X509_get0_notAfter(certs[i]), na, sizeof(na));
        char *subject = name_text(X509_get_subject_name(certs[i]));
        char *issuer = name_text(X509_get_issuer_name(certs[i]));
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certs[i]), NULL);
        char *serial = bn ? BN_bn2hex(bn) : NULL;
        char *text = hkc_pki_to_pem(certs[i]);
        json_array_append_new(
            list, json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}}", "certificate",
                            text ? text : "", "metadata", "subjectName", subject,
                            "sha1Thumbprint", s1, "sha256Thumbprint", s2, "issuerName", issuer,
                            "notBeforeUtc", nb, "notAfterUtc", na, "serialNumber",
                            serial ? serial : "", "version",
                            (int)X509_get_version(certs[i]) + 1));
        free(text);
        OPENSSL_free(serial);
        BN_free(bn);
        free(subject);
        free(issuer);
    }
    hkc_pki_free_certs(certs, n);
    /* A stable etag: the bundle's content decides it. */
    unsigned char digest[32];
    char hex[65];
    SHA256((const unsigned char *)pem, strlen(pem), digest);
    hkc_hex(digest, 8, hex);
    char *quoted = hkc_printf("\"%s\"", hex);
    char *etag = hkc_base64((const uint8_t *)quoted, strlen(quoted));
    const char *created = hkc_row_str(enr, "created");
    json_t *out = json_pack("{s:o,s:s,s:s,s:s,s:s}", "certificates", list, "id",
                            hkc_row_str(enr, "name"), "createdDateTime", created ? created : "",
                            "lastModifiedDateTime", created ? created : "", "etag", etag);
    free(quoted);
    free(etag);
    return out;
}

/* Records a failed registration attempt for the listing. */
static void record_failure(struct ctx *c, const char *reg_id, json_t *enr, int code,
                           const char *msg)
{
    char now[40];
    hkc_time_utc(now, sizeof(now));
    hkc_db_exec(c->db,
                "INSERT INTO registrations(reg_id,enrollment_kind,enrollment_name,status,created,"
                "updated,count,error_code,error_message) VALUES(?,?,?,'failed',?,?,0,?,?) "
                "ON CONFLICT(reg_id) DO UPDATE SET status='failed',updated=excluded.updated,"
                "error_code=excluded.error_code,error_message=excluded.error_message",
                "sssssis", reg_id, hkc_row_str(enr, "kind"), hkc_row_str(enr, "name"), now, now,
                (int64_t)code, msg);
}

/* Handles $dps/registrations/PUT/iotdps-register/?$rid={rid} with a body like
 *   {"registrationId":"sn0123ABCD4567EF01","payload":{"modelId":"dtmi:x;1"}}
 * (an empty body is accepted too: the registration ID comes from the username). */
static int dps_register(struct ctx *c, struct client *cl, const char *rid, const void *payload,
                        uint32_t len)
{
    if (drop_at(c, "dps-register")) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: fault: drop %s at dps-register", cl->id);
        return MOSQ_ERR_UNKNOWN;
    }
    if (inject_error(c)) {
        dps_error(c, cl, rid, 500, 500000, "Internal server error (injected fault).", 0);
        return MOSQ_ERR_SUCCESS;
    }
    json_t *req = NULL;
    if (len > 0) {
        json_error_t jerr;
        req = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(req)) {
            json_decref(req);
            dps_error(c, cl, rid, 400, 400001, "The request body is not a valid JSON object.", 0);
            return MOSQ_ERR_SUCCESS;
        }
        json_t *id = json_object_get(req, "registrationId");
        if (id && (!json_is_string(id) || !hkc_streq_nocase(json_string_value(id), cl->id))) {
            json_decref(req);
            dps_error(c, cl, rid, 400, 400004, "Invalid RegistrationId.", 0);
            return MOSQ_ERR_SUCCESS;
        }
    }
    json_t *csr = json_object_get(req, "csr");
    if (csr && (!json_is_string(csr) || strcmp(cl->api_version, CSR_API_VERSION) != 0)) {
        json_decref(req);
        dps_error(c, cl, rid, 400, 400040,
                  "A csr needs api-version " CSR_API_VERSION " and a Base64 string.", 0);
        return MOSQ_ERR_SUCCESS;
    }
    int wait = reg_rate_wait(c);
    if (wait > 0) {
        json_decref(req);
        dps_error(c, cl, rid, 429, 429001, "Registration rate limit exceeded.", wait);
        return MOSQ_ERR_SUCCESS;
    }

    int status, code;
    const char *msg;
    c->db_failed = false;
    json_t *enr = find_enrollment(c, cl, &status, &code, &msg);
    if (c->db_failed) {
        json_decref(enr);
        json_decref(req);
        dps_storage_error(c, cl, rid);
        return MOSQ_ERR_SUCCESS;
    }
    if (!enr && status == 0) {
        /* {"operationId":"","status":"disabled","registrationState":{"registrationId":"x","status":"disabled"}} */
        json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s}}", "operationId", "", "status", "disabled",
                                 "registrationState", "registrationId", cl->id, "status",
                                 "disabled");
        char *topic = hkc_printf("$dps/registrations/res/200/?$rid=%s", rid);
        send_json(c, cl->client_id, topic, body, true);
        free(topic);
        json_decref(body);
        json_decref(req);
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> disabled", cl->id);
        return MOSQ_ERR_SUCCESS;
    }
    if (!enr) {
        json_decref(req);
        dps_error(c, cl, rid, status, code, msg, 0);
        return MOSQ_ERR_SUCCESS;
    }

    /* Certificate issuance (2025-07-01-preview): the hub identity then uses
     * the issued certificate's thumbprint. */
    X509 *issued = NULL;
    if (csr) {
        size_t der_len = 0;
        uint8_t *der = hkc_base64_decode(json_string_value(csr), &der_len);
        const char *why = "CSR is not valid Base64";
        if (der && c->issuing_ca && c->issuing_key)
            issued = hkc_pki_issue_csr(der, der_len, cl->id, c->issuing_ca, c->issuing_key,
                                       c->s.issued_days, &why);
        else if (der)
            why = "certificate issuance is not configured";
        free(der);
        if (!issued) {
            json_decref(enr);
            json_decref(req);
            dps_error(c, cl, rid, 400, 400040, why, 0);
            return MOSQ_ERR_SUCCESS;
        }
    }
    char sha1[41], sha256[65];
    if (issued)
        hkc_pki_thumbprints(issued, sha1, sha256);
    else {
        memcpy(sha1, cl->sha1, sizeof(sha1));
        memcpy(sha256, cl->sha256, sizeof(sha256));
    }
    char *cert_pem = hkc_pki_to_pem(issued ? issued : cl->leaf);

    char *op_id = hkc_operation_id();
    json_t *state;
    struct assignment a;
    hkc_db_begin(c->db);
    bool ok = assign(c, cl, enr, sha1, sha256, cert_pem, &a);
    if (ok) {
        state = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "x509",
                          strcmp(hkc_row_str(enr, "kind"), "group") == 0
                              ? json_pack("{s:s}", "enrollmentGroupId", hkc_row_str(enr, "name"))
                              : json_object(),
                          "registrationId", a.reg_id, "createdDateTimeUtc", a.created,
                          "assignedHub", a.hub, "deviceId", a.device_id, "status", "assigned",
                          "substatus", a.substatus, "lastUpdatedDateTimeUtc", a.updated, "etag",
                          a.etag);
        const char *pl = hkc_row_str(enr, "payload");
        json_t *pj = pl ? json_loads(pl, 0, NULL) : NULL;
        if (pj)
            json_object_set_new(state, "payload", pj);
        json_t *bundle = trust_bundle_json(enr);
        if (bundle)
            json_object_set_new(state, "trustBundle", bundle);
        if (issued) {
            json_t *chain = json_array();
            X509 *certs[2] = {issued, c->issuing_ca};
            for (int i = 0; i < 2; i++) {
                unsigned char *der = NULL;
                int dl = i2d_X509(certs[i], &der);
                if (dl > 0) {
                    char *b64 = hkc_base64(der, (size_t)dl);
                    json_array_append_new(chain, json_string(b64));
                    free(b64);
                }
                OPENSSL_free(der);
            }
            json_object_set_new(state, "issuedCertificateChain", chain);
        }
        assignment_clear(&a);
    } else {
        char now[40];
        hkc_time_utc(now, sizeof(now));
        char *etag = hkc_etag();
        state = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "registrationId", cl->id,
                          "createdDateTimeUtc", now, "status", "failed", "errorCode", 400208,
                          "errorMessage", "No linked IoT hub is available for allocation.",
                          "lastUpdatedDateTimeUtc", now, "etag", etag);
        free(etag);
        record_failure(c, cl->id, enr, 400208, "No linked IoT hub is available for allocation.");
        assignment_clear(&a);
    }
    json_t *result = json_pack("{s:s,s:s,s:o}", "operationId", op_id, "status",
                               ok ? "assigned" : "failed", "registrationState", state);
    char *text = json_dumps(result, JSON_COMPACT);
    char now[40];
    hkc_time_utc(now, sizeof(now));
    hkc_db_exec(c->db, "INSERT INTO operations(op_id,reg_id,result,created) VALUES(?,?,?,?)",
                "ssss", op_id, cl->id, text, now);
    /* Any storage error in the transaction: nothing was decided. */
    bool stored = !c->db_failed && hkc_db_commit(c->db);
    if (!stored)
        hkc_db_rollback(c->db);
    free(text);
    json_decref(result);
    if (!stored) {
        dps_storage_error(c, cl, rid);
        free(op_id);
        free(cert_pem);
        X509_free(issued);
        json_decref(enr);
        json_decref(req);
        return MOSQ_ERR_SUCCESS;
    }

    /* {"operationId":"4.<hex>.<uuid>","status":"assigning"} */
    json_t *body = json_pack("{s:s,s:s}", "operationId", op_id, "status", "assigning");
    char *topic = hkc_printf("$dps/registrations/res/202/?$rid=%s&retry-after=%d", rid,
                             c->s.retry_after_s);
    send_json(c, cl->client_id, topic, body, true);
    mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> 202 %s", cl->id, op_id);
    free(topic);
    json_decref(body);
    free(op_id);
    free(cert_pem);
    X509_free(issued);
    json_decref(enr);
    json_decref(req);
    return MOSQ_ERR_SUCCESS;
}

/* Handles $dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.0a1b...:
 * answers the stored terminal state with 200. */
static int dps_poll(struct ctx *c, struct client *cl, const char *rid, const char *query)
{
    if (drop_at(c, "dps-poll")) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: fault: drop %s at dps-poll", cl->id);
        return MOSQ_ERR_UNKNOWN;
    }
    int wait = poll_wait(c, cl->id);
    if (wait > 0) {
        dps_error(c, cl, rid, 429, 429002, "Operation status polling rate exceeded.", wait);
        return MOSQ_ERR_SUCCESS;
    }
    if (inject_error(c)) {
        dps_error(c, cl, rid, 500, 500000, "Internal server error (injected fault).", 0);
        return MOSQ_ERR_SUCCESS;
    }
    char *op_raw = hkc_query_get(query, "operationId");
    char *op = op_raw ? hkc_url_decode(op_raw) : NULL;
    c->db_failed = false;
    json_t *row = op ? hkc_db_row(c->db,
                                  "SELECT result FROM operations WHERE op_id=? AND "
                                  "lower(reg_id)=lower(?)",
                                  "ss", op, cl->id)
                     : NULL;
    if (!row && c->db_failed) {
        dps_storage_error(c, cl, rid);
    } else if (!row) {
        dps_error(c, cl, rid, 404, 404002, "Operation not found.", 0);
    } else {
        const char *text = hkc_row_str(row, "result");
        char *topic = hkc_printf("$dps/registrations/res/200/?$rid=%s", rid);
        send_to(c, cl->client_id, topic, text, strlen(text), 0, true);
        free(topic);
    }
    json_decref(row);
    free(op);
    free(op_raw);
    return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ Hub */

static json_t *device_row(struct ctx *c, struct client *cl)
{
    return hkc_db_row(c->db, "SELECT * FROM devices WHERE hub=? AND device_id=?", "ss", cl->hub,
                      cl->id);
}

static void twin_reply(struct ctx *c, struct client *cl, int status, const char *rid,
                       const char *extra, json_t *body)
{
    char *topic = hkc_printf("$iothub/twin/res/%d/?$rid=%s%s", status, rid, extra ? extra : "");
    if (body)
        send_json(c, cl->client_id, topic, body, true);
    else
        send_to(c, cl->client_id, topic, "", 0, 0, true);
    free(topic);
}

/* A storage failure answered as IoT Hub answers an internal error. */
static void twin_storage_error(struct ctx *c, struct client *cl, const char *rid)
{
    json_t *err = json_pack("{s:i,s:s}", "errorCode", 500000, "message",
                            "Internal server error.");
    twin_reply(c, cl, 500, rid, NULL, err);
    json_decref(err);
}

/* $iothub/twin/GET/?$rid=1 (empty body) -> $iothub/twin/res/200/?$rid=1 with
 * {"desired":{...,"$version":n},"reported":{...,"$version":m}} */
static int hub_twin_get(struct ctx *c, struct client *cl, const char *rid)
{
    c->db_failed = false;
    json_t *dev = device_row(c, cl);
    if (!dev && c->db_failed) {
        twin_storage_error(c, cl, rid);
        return MOSQ_ERR_SUCCESS;
    }
    if (!dev)
        return MOSQ_ERR_UNKNOWN; /* identity removed while connected */
    json_t *desired = json_loads(hkc_row_str(dev, "desired"), 0, NULL);
    json_t *reported = json_loads(hkc_row_str(dev, "reported"), 0, NULL);
    if (!json_is_object(desired)) {
        json_decref(desired);
        desired = json_object();
    }
    if (!json_is_object(reported)) {
        json_decref(reported);
        reported = json_object();
    }
    json_object_set_new(desired, "$version", json_integer(hkc_row_int(dev, "desired_version")));
    json_object_set_new(reported, "$version", json_integer(hkc_row_int(dev, "reported_version")));
    json_t *body = json_pack("{s:o,s:o}", "desired", desired, "reported", reported);
    twin_reply(c, cl, 200, rid, NULL, body);
    json_decref(body);
    json_decref(dev);
    return MOSQ_ERR_SUCCESS;
}

/* $iothub/twin/PATCH/properties/reported/?$rid=2 with {"temp":21,"fw":null}
 * -> $iothub/twin/res/204/?$rid=2&$version=3 */
static int hub_twin_patch(struct ctx *c, struct client *cl, const char *rid, const void *payload,
                          uint32_t len)
{
    json_t *patch = len ? json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(patch)) {
        json_decref(patch);
        json_t *err = json_pack("{s:i,s:s}", "errorCode", 400004, "message",
                                "The reported properties patch must be a JSON object.");
        twin_reply(c, cl, 400, rid, NULL, err);
        json_decref(err);
        return MOSQ_ERR_SUCCESS;
    }
    c->db_failed = false;
    hkc_db_begin(c->db);
    json_t *dev = device_row(c, cl);
    if (!dev) {
        hkc_db_rollback(c->db);
        json_decref(patch);
        if (!c->db_failed)
            return MOSQ_ERR_UNKNOWN; /* identity removed while connected */
        twin_storage_error(c, cl, rid);
        return MOSQ_ERR_SUCCESS;
    }
    json_t *reported = json_loads(hkc_row_str(dev, "reported"), 0, NULL);
    if (!json_is_object(reported)) {
        json_decref(reported);
        reported = json_object();
    }
    hkc_json_merge(reported, patch);
    int64_t version = hkc_row_int(dev, "reported_version") + 1;
    char *text = json_dumps(reported, JSON_COMPACT);
    hkc_db_exec(c->db, "UPDATE devices SET reported=?, reported_version=? WHERE hub=? AND "
                       "device_id=?",
                "siss", text, version, cl->hub, cl->id);
    if (!c->db_failed && hkc_db_commit(c->db)) {
        char extra[40];
        snprintf(extra, sizeof(extra), "&$version=%lld", (long long)version);
        twin_reply(c, cl, 204, rid, extra, NULL);
    } else {
        hkc_db_rollback(c->db);
        twin_storage_error(c, cl, rid);
    }
    free(text);
    json_decref(reported);
    json_decref(dev);
    json_decref(patch);
    return MOSQ_ERR_SUCCESS;
}

/* devices/{id}/messages/events/%24.ct=application%2Fjson&temp=21 with any body */
static int hub_telemetry(struct ctx *c, struct client *cl, const char *bag, const void *payload,
                         uint32_t len, bool retain)
{
    if (drop_at(c, "hub-telemetry"))
        return MOSQ_ERR_UNKNOWN;
    json_t *props = hkc_props_decode(bag);
    if (!props) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: hub %s: malformed property bag",
                             cl->id);
        return MOSQ_ERR_UNKNOWN;
    }
    if (retain)
        json_object_set_new(props, "mqtt-retain", json_string("true"));
    char *text = json_dumps(props, JSON_COMPACT);
    char now[40];
    hkc_time_utc(now, sizeof(now));
    hkc_db_exec(c->db, "INSERT INTO telemetry(hub,device_id,props,body,time) VALUES(?,?,?,?,?)",
                "sssbs", cl->hub, cl->id, text, payload, (int)len, now);
    free(text);
    json_decref(props);
    return MOSQ_ERR_SUCCESS;
}

/* $iothub/methods/res/200/?$rid=17 with the device's JSON answer */
static int hub_method_response(struct ctx *c, struct client *cl, const char *status_and_query,
                               const void *payload, uint32_t len)
{
    char *end = NULL;
    long status = strtol(status_and_query, &end, 10);
    if (end == status_and_query || !end || end[0] != '/' || end[1] != '?' || status < 0 ||
        status > 65535)
        return MOSQ_ERR_UNKNOWN;
    char *rid = hkc_query_get(end + 2, "$rid");
    char *rid_end = NULL;
    long long id = rid ? strtoll(rid, &rid_end, 10) : 0;
    bool rid_ok = rid && *rid && rid_end && !*rid_end;
    free(rid);
    if (!rid_ok)
        return MOSQ_ERR_SUCCESS; /* not one of ours: ignored, like a late answer */
    for (struct method_wait **pp = &c->methods; *pp; pp = &(*pp)->next) {
        struct method_wait *w = *pp;
        if (w->cmd_id == id && strcmp(w->client_id, cl->client_id) == 0) {
            char *text = malloc(len + 1);
            if (text) {
                if (len > 0) /* an empty answer may come with no payload pointer */
                    memcpy(text, payload, len);
                text[len] = '\0';
            }
            hkc_db_exec(c->db, "UPDATE commands SET state='done', status=?, response=? WHERE id=?",
                        "isi", (int64_t)status, text ? text : "", (int64_t)id);
            free(text);
            *pp = w->next;
            free(w->client_id);
            free(w);
            break;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ waking the loop */

/* mosquitto 2.0.11 moves plugin publishes into client queues only at the top
 * of its main loop, after epoll_wait, which sleeps up to 100 ms when nothing
 * else happens. A reply sent from MESSAGE would therefore wait for the next
 * unrelated event. The plugin keeps one MQTT connection of its own to a plain
 * loopback listener and sends a PINGREQ after queueing replies: that makes
 * epoll_wait return at once. The connection is accepted only with a random
 * token generated at start (BASIC_AUTH) and may do nothing else. */
static void wake_reset(struct ctx *c)
{
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    c->wake_fd = -1;
    c->wake_hello = false;
}

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void wake_loop(struct ctx *c)
{
    if (c->wake_port <= 0)
        return;
    if (c->wake_fd < 0) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->wake_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
            close(fd);
            return;
        }
        c->wake_fd = fd;
    }
    char buf[256];
    ssize_t n;
    while ((n = recv(c->wake_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
        wake_reset(c);
        return;
    }
    if (!c->wake_hello) {
        /* CONNECT: 0x10 len "MQTT" 4 flags=0xC2 keepalive=65535 id user password */
        unsigned char pkt[160];
        size_t idl = strlen(WAKE_CLIENT_ID), ul = strlen(WAKE_USERNAME), pl = strlen(c->wake_token);
        size_t rem = 10 + 2 + idl + 2 + ul + 2 + pl;
        size_t k = 0;
        pkt[k++] = 0x10;
        pkt[k++] = (unsigned char)rem; /* < 128 by construction */
        memcpy(pkt + k, "\x00\x04MQTT\x04\xC2\xFF\xFF", 10);
        k += 10;
        put16(pkt + k, idl), k += 2, memcpy(pkt + k, WAKE_CLIENT_ID, idl), k += idl;
        put16(pkt + k, ul), k += 2, memcpy(pkt + k, WAKE_USERNAME, ul), k += ul;
        put16(pkt + k, pl), k += 2, memcpy(pkt + k, c->wake_token, pl), k += pl;
        if (send(c->wake_fd, pkt, k, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)k)
            c->wake_hello = true;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
            wake_reset(c);
        return; /* the CONNECT itself wakes the loop */
    }
    static const unsigned char ping[2] = {0xC0, 0x00};
    if (send(c->wake_fd, ping, 2, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK)
        wake_reset(c);
}

/* ------------------------------------------------------------------ callbacks */

/* The request id is echoed as received unless it holds characters that are
 * not allowed in a published topic (wildcards) or would change its shape;
 * then it is percent-encoded. */
static char *safe_rid(const char *raw)
{
    if (!raw)
        return hkc_strdup("");
    if (strpbrk(raw, "+#/?") == NULL)
        return hkc_strdup(raw);
    return hkc_url_encode(raw);
}

static void connection_record(struct ctx *c, const char *hub, const char *device_id,
                              bool connected);

static int cb_basic_auth(int event, void *event_data, void *userdata)
{
    (void)event;
    struct ctx *c = userdata;
    struct mosquitto_evt_basic_auth *ed = event_data;
    const char *client_id = mosquitto_client_id(ed->client);
    settings_refresh(c);
    if (ed->username && strcmp(ed->username, WAKE_USERNAME) == 0) {
        bool ok = c->wake_port > 0 && client_id && strcmp(client_id, WAKE_CLIENT_ID) == 0 &&
                  ed->password && strcmp(ed->password, c->wake_token) == 0;
        return ok ? MOSQ_ERR_SUCCESS : MOSQ_ERR_AUTH;
    }
    struct hkc_username u;
    if (!client_id || !hkc_username_parse(ed->username, &u)) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: refused %s: username not in DPS or "
                                            "IoT Hub form",
                             client_id ? client_id : "(no id)");
        return MOSQ_ERR_AUTH;
    }
    X509 *leaf = mosquitto_client_certificate(ed->client);
    int rc = MOSQ_ERR_AUTH;
    const char *why = NULL;
    char *cn = leaf ? hkc_pki_cn(leaf) : NULL;
    const char *id = u.role == HKC_ROLE_DPS ? u.reg_id : u.device_id;
    json_t *dev = NULL;
    char sha1[41] = "", sha256[65] = "";
    if (leaf)
        hkc_pki_thumbprints(leaf, sha1, sha256);

    c->db_failed = false;
    if (drop_at(c, u.role == HKC_ROLE_DPS ? "dps-connect" : "hub-connect")) {
        why = "fault injection: connection dropped";
        rc = MOSQ_ERR_UNKNOWN;
    } else if (!leaf) {
        why = "no client certificate";
    } else if (strcmp(client_id, id) != 0) {
        why = "client ID differs from the ID in the username";
    } else if (u.role == HKC_ROLE_DPS) {
        if (!c->s.scope || strcmp(u.scope, c->s.scope) != 0)
            why = "unknown ID scope";
        else if (!hkc_streq_nocase(cn, u.reg_id))
            why = "certificate CN differs from the registration ID";
        else
            rc = MOSQ_ERR_SUCCESS;
    } else {
        if (u.module_id)
            why = "module identities are not supported";
        else if (!(dev = hkc_db_row(c->db, "SELECT * FROM devices WHERE hub=? COLLATE NOCASE "
                                           "AND device_id=?",
                                    "ss", u.hub, u.device_id)))
            why = c->db_failed ? "storage error (see above)" : "device not registered in this hub";
        else if (!hkc_row_int(dev, "enabled"))
            why = "device disabled";
        else if (!(hkc_row_str(dev, "sha256") && strcasecmp(hkc_row_str(dev, "sha256"), sha256) == 0) &&
                 !(hkc_row_str(dev, "sha1") && strcasecmp(hkc_row_str(dev, "sha1"), sha1) == 0))
            why = "certificate thumbprint does not match the device identity";
        else
            rc = MOSQ_ERR_SUCCESS;
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        struct client *cl = calloc(1, sizeof(*cl));
        if (!cl) {
            rc = MOSQ_ERR_NOMEM;
        } else {
            client_remove(c, ed->client);
            cl->mosq = ed->client;
            cl->role = u.role;
            cl->client_id = hkc_strdup(client_id);
            cl->id = hkc_strdup(id);
            cl->hub = dev ? hkc_strdup(hkc_row_str(dev, "hub")) : NULL;
            cl->api_version = hkc_strdup(u.api_version);
            cl->leaf = leaf;
            leaf = NULL;
            memcpy(cl->sha1, sha1, sizeof(sha1));
            memcpy(cl->sha256, sha256, sizeof(sha256));
            if (cl->role == HKC_ROLE_HUB) {
                if (mosquitto_client_clean_session(ed->client)) {
                    memo_drop(c, cl->hub, cl->id);
                } else {
                    struct sub_memo *m = *memo_find(c, cl->hub, cl->id);
                    if (m) {
                        cl->sub_c2d = m->c2d;
                        cl->sub_desired = m->desired;
                        cl->sub_methods = m->methods;
                    }
                }
            }
            cl->next = c->clients;
            c->clients = cl;
            if (cl->role == HKC_ROLE_HUB)
                connection_record(c, cl->hub, cl->id, true);
            mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: %s connected: %s", 
                                 u.role == HKC_ROLE_DPS ? "dps" : "hub", id);
        }
    } else {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: refused %s: %s", id, why);
    }
    json_decref(dev);
    free(cn);
    X509_free(leaf);
    hkc_username_clear(&u);
    return rc;
}

static bool sub_is(const char *topic, const char *filter)
{
    return strcmp(topic, filter) == 0;
}

static int cb_acl_check(int event, void *event_data, void *userdata)
{
    (void)event;
    struct ctx *c = userdata;
    struct mosquitto_evt_acl_check *ed = event_data;
    struct client *cl = client_find(c, ed->client);
    if (!cl)
        return MOSQ_ERR_ACL_DENIED;
    const char *t = ed->topic;
    bool ok = false;
    if (ed->access == MOSQ_ACL_READ)
        return MOSQ_ERR_SUCCESS;
    if (ed->access == MOSQ_ACL_UNSUBSCRIBE) {
        if (cl->role == HKC_ROLE_HUB) {
            if (hkc_topic_after(t, "devices/") && strstr(t, "/messages/devicebound/#"))
                cl->sub_c2d = false;
            else if (sub_is(t, "$iothub/twin/PATCH/properties/desired/#"))
                cl->sub_desired = false;
            else if (sub_is(t, "$iothub/methods/POST/#"))
                cl->sub_methods = false;
            memo_save(c, cl);
        }
        return MOSQ_ERR_SUCCESS;
    }
    if (cl->role == HKC_ROLE_DPS) {
        if (ed->access == MOSQ_ACL_SUBSCRIBE)
            ok = sub_is(t, "$dps/registrations/res/#");
        else
            ok = hkc_topic_after(t, "$dps/registrations/PUT/iotdps-register/") ||
                 hkc_topic_after(t, "$dps/registrations/GET/iotdps-get-operationstatus/");
    } else {
        char *own_c2d = hkc_printf("devices/%s/messages/devicebound/#", cl->id);
        char *own_events = hkc_printf("devices/%s/messages/events/", cl->id);
        if (ed->access == MOSQ_ACL_SUBSCRIBE) {
            if (sub_is(t, own_c2d) || sub_is(t, "devices/+/messages/devicebound/#")) {
                ok = cl->sub_c2d = true;
            } else if (sub_is(t, "$iothub/twin/PATCH/properties/desired/#")) {
                ok = cl->sub_desired = true;
            } else if (sub_is(t, "$iothub/methods/POST/#")) {
                ok = cl->sub_methods = true;
            } else {
                ok = sub_is(t, "$iothub/twin/res/#");
            }
        } else {
            ok = hkc_topic_after(t, own_events) || hkc_topic_after(t, "$iothub/twin/GET/") ||
                 hkc_topic_after(t, "$iothub/twin/PATCH/properties/reported/") ||
                 hkc_topic_after(t, "$iothub/methods/res/");
        }
        free(own_c2d);
        free(own_events);
        if (ok && ed->access == MOSQ_ACL_SUBSCRIBE)
            memo_save(c, cl);
    }
    if (!ok) {
        /* IoT Hub and DPS close the connection on a topic they do not serve. */
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: %s: %s on '%s' not allowed, closing",
                             cl->id, ed->access == MOSQ_ACL_SUBSCRIBE ? "subscribe" : "publish",
                             t);
        return MOSQ_ERR_UNKNOWN;
    }
    return MOSQ_ERR_SUCCESS;
}

static int handle_message(struct ctx *c, struct mosquitto_evt_message *ed);

static int cb_message(int event, void *event_data, void *userdata)
{
    (void)event;
    struct ctx *c = userdata;
    settings_refresh(c);
    int rc = handle_message(c, event_data);
    if (c->s.delay_ms == 0)
        wake_loop(c);
    return rc;
}

/* Handled requests return MOSQ_ERR_SUCCESS: the broker then acknowledges
 * them normally (also to MQTT 5 clients, which would see reason 0x87 for a
 * denial) and routes them to nobody, since no client may subscribe to
 * request topics (ACL_CHECK). Any other error closes the connection. */
static int handle_message(struct ctx *c, struct mosquitto_evt_message *ed)
{
    struct client *cl = client_find(c, ed->client);
    if (!cl)
        return MOSQ_ERR_ACL_DENIED;
    size_t size = (size_t)ed->payloadlen + strlen(ed->topic);
    if (size > (cl->role == HKC_ROLE_DPS ? DPS_MESSAGE_MAX : HKC_MESSAGE_MAX)) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: %s: message of %zu bytes over the "
                                            "limit, closing",
                             cl->id, size);
        return MOSQ_ERR_UNKNOWN;
    }
    const char *rest;
    if (cl->role == HKC_ROLE_DPS) {
        const char *q = strchr(ed->topic, '?');
        char *rid_raw = q ? hkc_query_get(q + 1, "$rid") : NULL;
        char *rid = safe_rid(rid_raw);
        int rc = MOSQ_ERR_UNKNOWN;
        if ((rest = hkc_topic_after(ed->topic, "$dps/registrations/PUT/iotdps-register/")) &&
            rest[0] == '?')
            rc = dps_register(c, cl, rid, ed->payload, ed->payloadlen);
        else if ((rest = hkc_topic_after(ed->topic,
                                         "$dps/registrations/GET/iotdps-get-operationstatus/")) &&
                 rest[0] == '?')
            rc = dps_poll(c, cl, rid, rest + 1);
        free(rid);
        free(rid_raw);
        return rc;
    }

    char *own_events = hkc_printf("devices/%s/messages/events/", cl->id);
    int rc = MOSQ_ERR_UNKNOWN;
    if ((rest = hkc_topic_after(ed->topic, own_events))) {
        rc = hub_telemetry(c, cl, rest, ed->payload, ed->payloadlen, ed->retain);
        free(own_events);
        return rc;
    }
    free(own_events);
    if ((rest = hkc_topic_after(ed->topic, "$iothub/methods/res/"))) {
        rc = hub_method_response(c, cl, rest, ed->payload, ed->payloadlen);
        return rc;
    }
    /* Twin requests. */
    const char *q = strchr(ed->topic, '?');
    char *rid_raw = q ? hkc_query_get(q + 1, "$rid") : NULL;
    char *rid = safe_rid(rid_raw);
    if (drop_at(c, "hub-twin")) {
        rc = MOSQ_ERR_UNKNOWN;
    } else if (inject_error(c)) {
        json_t *err = json_pack("{s:i,s:s}", "errorCode", 500000, "message",
                                "Internal server error (injected fault).");
        twin_reply(c, cl, 500, rid, NULL, err);
        json_decref(err);
        rc = MOSQ_ERR_SUCCESS;
    } else if ((rest = hkc_topic_after(ed->topic, "$iothub/twin/GET/")) && rest[0] == '?') {
        rc = hub_twin_get(c, cl, rid);
    } else if ((rest = hkc_topic_after(ed->topic, "$iothub/twin/PATCH/properties/reported/")) &&
               rest[0] == '?') {
        rc = hub_twin_patch(c, cl, rid, ed->payload, ed->payloadlen);
    }
    free(rid);
    free(rid_raw);
    return rc;
}

/* The connection state the console shows (connections table). A device that
 * connects again while its old connection is still open is taken over: the
 * broker closes the old one after accepting the new one, so a disconnect
 * marks the device offline only when no other connection of it remains. */
static void connection_record(struct ctx *c, const char *hub, const char *device_id,
                              bool connected)
{
    if (!hub || !device_id || (!connected && client_by_device(c, hub, device_id)))
        return;
    hkc_db_connection_set(c->db, hub, device_id, connected);
}

static int cb_disconnect(int event, void *event_data, void *userdata)
{
    (void)event;
    struct ctx *c = userdata;
    struct mosquitto_evt_disconnect *ed = event_data;
    struct client *cl = client_find(c, ed->client);
    char *hub = NULL, *id = NULL;
    if (cl && cl->role == HKC_ROLE_HUB) {
        if (mosquitto_client_clean_session(ed->client))
            memo_drop(c, cl->hub, cl->id);
        hub = hkc_strdup(cl->hub);
        id = hkc_strdup(cl->id);
    }
    client_remove(c, ed->client);
    connection_record(c, hub, id, false);
    free(hub);
    free(id);
    return MOSQ_ERR_SUCCESS;
}

static void command_done(struct ctx *c, int64_t id, int status, const char *response)
{
    hkc_db_exec(c->db, "UPDATE commands SET state='done', status=?, response=? WHERE id=?", "isi",
                (int64_t)status, response, id);
}

/* Delivers the CLI's queued commands to connected devices. */
static void run_commands(struct ctx *c)
{
    json_t *rows = hkc_db_query(c->db,
                                "SELECT * FROM commands WHERE state='queued' ORDER BY id LIMIT 100",
                                NULL);
    size_t i;
    json_t *cmd;
    json_array_foreach(rows, i, cmd) {
        int64_t id = hkc_row_int(cmd, "id");
        const char *kind = hkc_row_str(cmd, "kind");
        const char *payload = hkc_row_str(cmd, "payload");
        if (!kind || !hkc_row_str(cmd, "device_id") || !hkc_row_str(cmd, "hub")) {
            command_done(c, id, 400, "{\"message\":\"incomplete command\"}");
            continue;
        }
        if (!payload)
            payload = "";
        struct client *cl = client_by_device(c, hkc_row_str(cmd, "hub"),
                                             hkc_row_str(cmd, "device_id"));
        if (strcmp(kind, "c2d") == 0) {
            if (!cl || !cl->sub_c2d)
                continue; /* stays queued until the device listens */
            json_t *props = json_loads(hkc_row_str(cmd, "props") ? hkc_row_str(cmd, "props")
                                                                 : "{}",
                                       0, NULL);
            if (!json_is_object(props)) {
                json_decref(props);
                props = json_object();
            }
            char *mid = hkc_uuid();
            char *to = hkc_printf("/devices/%s/messages/deviceBound", cl->id);
            json_object_set_new(props, "$.mid", json_string(mid));
            json_object_set_new(props, "$.to", json_string(to));
            char *bag = hkc_props_encode(props);
            char *topic = hkc_printf("devices/%s/messages/devicebound/%s", cl->id, bag);
            mosquitto_broker_publish_copy(cl->client_id, topic, (int)strlen(payload), payload, 1,
                                          false, NULL);
            command_done(c, id, 200, NULL);
            free(topic);
            free(bag);
            free(to);
            free(mid);
            json_decref(props);
        } else if (strcmp(kind, "twin") == 0) {
            if (cl && cl->sub_desired) {
                char *topic = hkc_printf("$iothub/twin/PATCH/properties/desired/?$version=%s",
                                         hkc_row_str(cmd, "name") ? hkc_row_str(cmd, "name") : "0");
                mosquitto_broker_publish_copy(cl->client_id, topic, (int)strlen(payload), payload,
                                              0, false, NULL);
                free(topic);
                command_done(c, id, 200, NULL);
            } else {
                command_done(c, id, 202, NULL); /* stored; the device reads it on GET */
            }
        } else if (strcmp(kind, "method") == 0) {
            if (!cl || !cl->sub_methods) {
                command_done(c, id, 404,
                             "{\"errorCode\":404103,\"message\":\"The device is not online or "
                             "has not subscribed to direct methods.\"}");
                continue;
            }
            /* The name goes into the topic verbatim (PnP commands are
             * `component*command`); characters that would change the
             * topic's shape are refused. */
            const char *name = hkc_row_str(cmd, "name");
            if (!name || !*name || strpbrk(name, "/+#?")) {
                command_done(c, id, 400, "{\"errorCode\":400000,\"message\":\"invalid method name\"}");
                continue;
            }
            char *topic = hkc_printf("$iothub/methods/POST/%s/?$rid=%lld", name, (long long)id);
            mosquitto_broker_publish_copy(cl->client_id, topic, (int)strlen(payload), payload, 0,
                                          false, NULL);
            hkc_db_exec(c->db, "UPDATE commands SET state='sent' WHERE id=?", "i", id);
            struct method_wait *w = calloc(1, sizeof(*w));
            if (w) {
                w->cmd_id = id;
                w->client_id = hkc_strdup(cl->client_id);
                int64_t timeout = hkc_row_int(cmd, "timeout_ms");
                w->deadline_ms = hkc_now_ms() + (uint64_t)(timeout > 0 ? timeout : 30000);
                w->next = c->methods;
                c->methods = w;
            }
            free(topic);
        } else {
            command_done(c, id, 400, "{\"message\":\"unknown command kind\"}");
        }
    }
    json_decref(rows);
}

/* Closes hub connections whose identity was disabled or removed meanwhile.
 * Kicking fires DISCONNECT at once, which frees the client entry, so the IDs
 * are collected first and kicked after the walk. */
static void enforce_identities(struct ctx *c)
{
    char **kick = NULL;
    size_t n = 0;
    c->db_failed = false;
    for (struct client *cl = c->clients; cl; cl = cl->next) {
        if (cl->role != HKC_ROLE_HUB)
            continue;
        json_t *dev = device_row(c, cl);
        /* A read that failed says nothing about the identity: keep it. */
        bool keep = (dev && hkc_row_int(dev, "enabled")) || (!dev && c->db_failed);
        json_decref(dev);
        if (!keep) {
            char **grown = realloc(kick, (n + 1) * sizeof(*kick));
            if (!grown)
                break;
            kick = grown;
            kick[n++] = hkc_strdup(cl->client_id);
        }
    }
    for (size_t i = 0; i < n; i++) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: %s disabled or removed, closing",
                             kick[i]);
        mosquitto_kick_client_by_clientid(kick[i], false);
        free(kick[i]);
    }
    free(kick);
}

static int cb_tick(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    struct ctx *c = userdata;
    uint64_t now = hkc_now_ms();

    /* Delayed replies that are due, in order. */
    struct reply **pp = &c->replies;
    while (*pp) {
        struct reply *r = *pp;
        if (r->due_ms <= now) {
            mosquitto_broker_publish_copy(r->client_id, r->topic, (int)r->len, r->payload, 0,
                                          false, NULL);
            *pp = r->next;
            free(r->client_id);
            free(r->topic);
            free(r->payload);
            free(r);
        } else {
            pp = &r->next;
        }
    }

    if (now - c->last_cmd_ms >= CMD_CHECK_MS) {
        c->last_cmd_ms = now;
        int64_t v = data_version(c);
        if (v >= 0 && v != c->data_version) {
            c->data_version = v;
            settings_refresh(c);
            enforce_identities(c);
        }
        run_commands(c);
        for (struct method_wait **mp = &c->methods; *mp;) {
            struct method_wait *w = *mp;
            if (w->deadline_ms <= now) {
                command_done(c, w->cmd_id, 504,
                             "{\"errorCode\":504101,\"message\":\"Timed out waiting for the "
                             "response from the device.\"}");
                *mp = w->next;
                free(w->client_id);
                free(w);
            } else {
                mp = &w->next;
            }
        }
    }
    if (now - c->last_gc_ms >= 10000) {
        c->last_gc_ms = now;
        polls_gc(c);
        hkc_db_exec(c->db, "DELETE FROM operations WHERE created < strftime('%Y-%m-%dT%H:%M:%S',"
                           "'now','-1 day')",
                    NULL);
    }
    return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ plugin entry points */

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

static const char *opt(struct mosquitto_opt *options, int count, const char *key)
{
    for (int i = 0; i < count; i++)
        if (strcmp(options[i].key, key) == 0)
            return options[i].value;
    return NULL;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    const char *db_path = opt(options, option_count, "database");
    const char *dir = opt(options, option_count, "state_dir");
    if (!db_path || !dir) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "hubkey-cloud: plugin_opt_database and plugin_opt_state_dir are "
                                           "required");
        return MOSQ_ERR_INVAL;
    }
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return MOSQ_ERR_NOMEM;
    c->pid = identifier;
    c->dir = hkc_strdup(dir);
    c->wake_fd = -1;
    const char *wake = opt(options, option_count, "wake_port");
    c->wake_port = wake ? atoi(wake) : 0;
    unsigned char tok[16];
    RAND_bytes(tok, sizeof(tok));
    hkc_hex(tok, sizeof(tok), c->wake_token);
    c->db_path = hkc_strdup(db_path);
    hkc_db_set_error_hook(on_db_error, c);
    c->db = hkc_db_open(db_path);
    if (!c->db) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "hubkey-cloud: cannot open %s", db_path);
        hkc_db_set_error_hook(NULL, NULL);
        free(c->db_path);
        free(c->dir);
        free(c);
        return MOSQ_ERR_UNKNOWN;
    }
    settings_load(c);
    c->data_version = c->settings_version = data_version(c);
    char *ca = hkc_printf("%s/pki/issuing-ca.pem", dir);
    char *key = hkc_printf("%s/pki/issuing-ca.key", dir);
    c->issuing_ca = hkc_pki_read_cert(ca);
    c->issuing_key = hkc_pki_read_key(key);
    free(ca);
    free(key);
    /* Method calls left in flight by a previous broker can never be answered. */
    hkc_db_exec(c->db, "UPDATE commands SET state='done', status=504 WHERE state='sent'", NULL);
    /* Nobody is connected to a broker that is only starting. */
    hkc_db_connections_reset(c->db);

    int rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, cb_basic_auth, NULL, c);
    rc = rc ? rc : mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, cb_acl_check, NULL, c);
    rc = rc ? rc : mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, cb_message, NULL, c);
    rc = rc ? rc : mosquitto_callback_register(identifier, MOSQ_EVT_TICK, cb_tick, NULL, c);
    rc = rc ? rc : mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, cb_disconnect, NULL, c);
    *userdata = c;
    mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: plugin ready, ID scope %s",
                         c->s.scope ? c->s.scope : "(unset)");
    return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    (void)options;
    (void)option_count;
    struct ctx *c = userdata;
    if (!c)
        return MOSQ_ERR_SUCCESS;
    mosquitto_callback_unregister(c->pid, MOSQ_EVT_BASIC_AUTH, cb_basic_auth, NULL);
    mosquitto_callback_unregister(c->pid, MOSQ_EVT_ACL_CHECK, cb_acl_check, NULL);
    mosquitto_callback_unregister(c->pid, MOSQ_EVT_MESSAGE, cb_message, NULL);
    mosquitto_callback_unregister(c->pid, MOSQ_EVT_TICK, cb_tick, NULL);
    mosquitto_callback_unregister(c->pid, MOSQ_EVT_DISCONNECT, cb_disconnect, NULL);
    /* The broker is stopping: its connections end with it. */
    hkc_db_connections_reset(c->db);
    while (c->clients) {
        struct client *cl = c->clients;
        c->clients = cl->next;
        client_free(cl);
    }
    while (c->replies) {
        struct reply *r = c->replies;
        c->replies = r->next;
        free(r->client_id);
        free(r->topic);
        free(r->payload);
        free(r);
    }
    while (c->methods) {
        struct method_wait *w = c->methods;
        c->methods = w->next;
        free(w->client_id);
        free(w);
    }
    while (c->memos) {
        struct sub_memo *m = c->memos;
        c->memos = m->next;
        free(m->hub);
        free(m->device_id);
        free(m);
    }
    c->s.poll_window_ms = 0;
    polls_gc(c);
    settings_free(&c->s);
    cas_free(c);
    wake_reset(c);
    X509_free(c->issuing_ca);
    EVP_PKEY_free(c->issuing_key);
    hkc_db_close(c->db);
    hkc_db_set_error_hook(NULL, NULL);
    free(c->db_path);
    free(c->dir);
    free(c);
    return MOSQ_ERR_SUCCESS;
}
