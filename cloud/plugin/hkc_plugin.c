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
 *
 * This file holds the callbacks, the topic dispatch and the entry points;
 * the DPS half is hkc_dps.c, the Hub half hkc_hub.c, and what both use
 * (settings, clients, sending) hkc_ctx.c.
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

#include <openssl/rand.h>

#include "hkc_ctx.h"
#include "hkc_dps.h"
#include "hkc_hub.h"

#define DPS_MESSAGE_MAX (96u * 1024u)
#define CMD_CHECK_MS 50u
#define WAKE_CLIENT_ID "hubkey-cloud-internal-wake"
#define WAKE_USERNAME "hubkey-cloud-internal"

/* ------------------------------------------------------------------ subscription memos */

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

static int cb_disconnect(int event, void *event_data, void *userdata)
{
    (void)event;
    struct ctx *c = userdata;
    struct mosquitto_evt_disconnect *ed = event_data;
    struct client *cl = client_find(c, ed->client);
    if (cl && cl->role == HKC_ROLE_HUB && mosquitto_client_clean_session(ed->client))
        memo_drop(c, cl->hub, cl->id);
    client_remove(c, ed->client);
    return MOSQ_ERR_SUCCESS;
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

