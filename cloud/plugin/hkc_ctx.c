/*
 * hubkey-cloud plugin: settings, fault injection, the list of connected
 * clients and sending, used by both halves (hkc_dps.c, hkc_hub.c) and by the
 * broker callbacks (hkc_plugin.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hkc_ctx.h"

void settings_free(struct settings *s)
{
    free(s->scope);
    free(s->drop_step);
    memset(s, 0, sizeof(*s));
}

void settings_load(struct ctx *c)
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
int64_t data_version(struct ctx *c)
{
    json_t *row = hkc_db_row(c->db, "PRAGMA data_version", NULL);
    int64_t v = row ? hkc_row_int(row, "data_version") : -1;
    json_decref(row);
    return v;
}

/* Reloads settings when another process committed since the last look, so a
 * change the CLI made before a request is in force for that request. While
 * the database cannot be read the settings in force stay. */
void settings_refresh(struct ctx *c)
{
    int64_t v = data_version(c);
    if (v >= 0 && v != c->settings_version) {
        c->settings_version = v;
        settings_load(c);
        c->cas_stale = true;
    }
}

bool drop_at(struct ctx *c, const char *step)
{
    return c->s.drop_step && strcmp(c->s.drop_step, step) == 0;
}

bool inject_error(struct ctx *c)
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
void on_db_error(void *ud, const char *msg)
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

struct client *client_find(struct ctx *c, const struct mosquitto *m)
{
    for (struct client *cl = c->clients; cl; cl = cl->next)
        if (cl->mosq == m)
            return cl;
    return NULL;
}

struct client *client_by_device(struct ctx *c, const char *hub, const char *device_id)
{
    for (struct client *cl = c->clients; cl; cl = cl->next)
        if (cl->role == HKC_ROLE_HUB && strcmp(cl->id, device_id) == 0 &&
            hkc_streq_nocase(cl->hub, hub))
            return cl;
    return NULL;
}

void client_free(struct client *cl)
{
    free(cl->client_id);
    free(cl->id);
    free(cl->hub);
    free(cl->api_version);
    X509_free(cl->leaf);
    free(cl);
}

void client_remove(struct ctx *c, const struct mosquitto *m)
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

/* Sends now, or after the configured fault delay from TICK. */
void send_to(struct ctx *c, const char *client_id, const char *topic, const char *payload,
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

void send_json(struct ctx *c, const char *client_id, const char *topic, json_t *body,
               bool delayable)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text)
        send_to(c, client_id, topic, text, strlen(text), 0, delayable);
    free(text);
}
