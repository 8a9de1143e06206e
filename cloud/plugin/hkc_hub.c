/*
 * hubkey-cloud plugin, Hub half: answers $iothub/... requests and telemetry
 * of connected hub devices and delivers the CLI's queued commands to them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkc_hub.h"
#include "hkc_twin.h"

static json_t *device_row(struct ctx *c, struct client *cl)
{
    return hkc_db_row(c->db, "SELECT * FROM devices WHERE hub=? AND device_id=?", "ss", cl->hub,
                      cl->id);
}

void twin_reply(struct ctx *c, struct client *cl, int status, const char *rid,
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
int hub_twin_get(struct ctx *c, struct client *cl, const char *rid)
{
    c->db_failed = false;
    json_t *dev = device_row(c, cl);
    if (!dev && c->db_failed) {
        twin_storage_error(c, cl, rid);
        return MOSQ_ERR_SUCCESS;
    }
    if (!dev)
        return MOSQ_ERR_UNKNOWN; /* identity removed while connected */
    json_t *body = hkc_twin_doc(dev);
    twin_reply(c, cl, 200, rid, NULL, body);
    json_decref(body);
    json_decref(dev);
    return MOSQ_ERR_SUCCESS;
}

/* $iothub/twin/PATCH/properties/reported/?$rid=2 with {"temp":21,"fw":null}
 * -> $iothub/twin/res/204/?$rid=2&$version=3 */
int hub_twin_patch(struct ctx *c, struct client *cl, const char *rid, const void *payload,
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
    int64_t version = hkc_twin_update(c->db, cl->hub, cl->id, HKC_TWIN_REPORTED, patch);
    json_decref(patch);
    if (version == 0 && !c->db_failed) {
        hkc_db_rollback(c->db);
        return MOSQ_ERR_UNKNOWN; /* identity removed while connected */
    }
    if (version > 0 && !c->db_failed && hkc_db_commit(c->db)) {
        char extra[40];
        snprintf(extra, sizeof(extra), "&$version=%lld", (long long)version);
        twin_reply(c, cl, 204, rid, extra, NULL);
    } else {
        hkc_db_rollback(c->db);
        twin_storage_error(c, cl, rid);
    }
    return MOSQ_ERR_SUCCESS;
}

/* devices/{id}/messages/events/%24.ct=application%2Fjson&temp=21 with any body */
int hub_telemetry(struct ctx *c, struct client *cl, const char *bag, const void *payload,
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
int hub_method_response(struct ctx *c, struct client *cl, const char *status_and_query,
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

void command_done(struct ctx *c, int64_t id, int status, const char *response)
{
    hkc_db_exec(c->db, "UPDATE commands SET state='done', status=?, response=? WHERE id=?", "isi",
                (int64_t)status, response, id);
}

/* Delivers the CLI's queued commands to connected devices. */
void run_commands(struct ctx *c)
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
void enforce_identities(struct ctx *c)
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
