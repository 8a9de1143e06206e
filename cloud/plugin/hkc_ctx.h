/*
 * hubkey-cloud plugin: the state shared by its parts and what both the DPS
 * and the Hub half use (settings, fault injection, connected clients,
 * sending). Private to the plugin: the broker sees only the three
 * mosquitto_plugin_* entry points in hkc_plugin.c.
 *
 * Include graph of the plugin (no circle):
 *   hkc_plugin.c (callbacks, dispatch, entry points) -> hkc_dps.h, hkc_hub.h
 *   hkc_dps.c -> hkc_dps.h -> hkc_ctx.h
 *   hkc_hub.c -> hkc_hub.h -> hkc_ctx.h; hkc_hub.c -> cloud/common hkc_twin.h
 *   hkc_ctx.c -> hkc_ctx.h -> cloud/common (hkc_db.h, hkc_pki.h, hkc_util.h)
 * Calls go the same way: the halves call only into hkc_ctx.c and
 * cloud/common, never into each other or up into hkc_plugin.c.
 */
#ifndef HKC_CTX_H
#define HKC_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hkc_db.h"
#include "hkc_pki.h"
#include "hkc_util.h"

#define POLL_BUCKETS 4096
#define POLL_SLOTS 64

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

/* Functions shared between the plugin's files are not exported from the
 * shared object. */
#pragma GCC visibility push(hidden)

/* Settings from the database (defaults for missing ones, clamped). */
void settings_free(struct settings *s);
void settings_load(struct ctx *c);
/* SQLite's data_version, or -1 when the database cannot be read. */
int64_t data_version(struct ctx *c);
/* Reloads the settings when another process committed since the last look. */
void settings_refresh(struct ctx *c);
/* Fault injection: whether connections are dropped at `step`; whether this
 * request is answered with an injected 500 (error_rate). */
bool drop_at(struct ctx *c, const char *step);
bool inject_error(struct ctx *c);
/* The database error hook (ud is the struct ctx): marks db_failed, logs. */
void on_db_error(void *ud, const char *msg);
/* Connected clients: by broker handle, by hub device, removal. */
struct client *client_find(struct ctx *c, const struct mosquitto *m);
struct client *client_by_device(struct ctx *c, const char *hub, const char *device_id);
void client_free(struct client *cl);
void client_remove(struct ctx *c, const struct mosquitto *m);
/* Publishes to one client id, now or (delayable) after the fault delay;
 * send_json sends `body` compact (not consumed). */
void send_to(struct ctx *c, const char *client_id, const char *topic, const char *payload,
             size_t len, int qos, bool delayable);
void send_json(struct ctx *c, const char *client_id, const char *topic, json_t *body,
               bool delayable);

#pragma GCC visibility pop

#endif
