/*
 * Device actions shared by the CLI and the console (contracts in
 * hkc_actions.h). These only write the database: the broker plugin picks up
 * queued commands at its next tick, so the callers need no connection to the
 * broker.
 */
#define _GNU_SOURCE
#include "hkc_actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hkc_db.h"
#include "hkc_twin.h"
#include "hkc_util.h"

static int act_fail(char **out_err, int status, char *msg)
{
    if (out_err)
        *out_err = msg;
    else
        free(msg);
    return status;
}

int hkc_act_resolve_hub(sqlite3 *db, const char *device_id, const char *hub, char **out_hub,
                        char **out_err)
{
    *out_hub = NULL;
    json_t *rows = hub ? hkc_db_query(db,
                                      "SELECT hub FROM devices WHERE device_id=? AND hub=? "
                                      "COLLATE NOCASE",
                                      "ss", device_id, hub)
                       : hkc_db_query(db, "SELECT hub FROM devices WHERE device_id=?", "s",
                                      device_id);
    if (!rows)
        return act_fail(out_err, HKC_ACT_STATE, hkc_strdup("storage error"));
    size_t n = json_array_size(rows);
    int rc = HKC_ACT_OK;
    if (n == 1)
        *out_hub = hkc_strdup(hkc_row_str(json_array_get(rows, 0), "hub"));
    else if (n == 0)
        rc = act_fail(out_err, HKC_ACT_STATE,
                      hkc_printf("no device %s%s%s", device_id, hub ? " in hub " : "",
                                 hub ? hub : ""));
    else
        rc = act_fail(out_err, HKC_ACT_USAGE,
                      hkc_printf("device %s exists in several hubs: name one with --hub",
                                 device_id));
    json_decref(rows);
    return rc;
}

static int64_t queue_command(sqlite3 *db, const char *kind, const char *hub, const char *dev,
                             const char *name, const char *payload, const char *props,
                             int64_t timeout_ms)
{
    char now[40];
    hkc_time_utc(now, sizeof(now));
    if (hkc_db_exec(db,
                    "INSERT INTO commands(kind,hub,device_id,name,payload,props,timeout_ms,"
                    "created) VALUES(?,?,?,?,?,?,?,?)",
                    "ssssssis", kind, hub, dev, name, payload, props, timeout_ms, now) <= 0)
        return -1;
    return sqlite3_last_insert_rowid(db);
}

int hkc_act_c2d_send(sqlite3 *db, const char *hub, const char *device_id, const char *body,
                     const json_t *props, int64_t *out_id, char **out_err)
{
    if (strlen(body) > HKC_C2D_MAX)
        return act_fail(out_err, HKC_ACT_INPUT, hkc_strdup("C2D messages are limited to 64 KB"));
    if (props && !json_is_object(props))
        return act_fail(out_err, HKC_ACT_INPUT,
                        hkc_strdup("C2D properties must be a JSON object"));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v) {
        if (!*k || !json_is_string(v))
            return act_fail(out_err, HKC_ACT_INPUT,
                            hkc_strdup("C2D properties need a name and a string value"));
    }
    json_t *pending = hkc_db_row(db,
                                 "SELECT count(*) AS n FROM commands WHERE kind='c2d' AND "
                                 "state='queued' AND hub=? AND device_id=?",
                                 "ss", hub, device_id);
    int64_t n = hkc_row_int(pending, "n");
    json_decref(pending);
    if (n >= HKC_C2D_PENDING_MAX)
        return act_fail(out_err, HKC_ACT_STATE,
                        hkc_printf("device %s already has %d pending C2D messages", device_id,
                                   HKC_C2D_PENDING_MAX));
    char *ps = props ? json_dumps(props, JSON_COMPACT) : hkc_strdup("{}");
    int64_t id = queue_command(db, "c2d", hub, device_id, NULL, body, ps, 0);
    free(ps);
    if (id < 0)
        return act_fail(out_err, HKC_ACT_INPUT, hkc_strdup("could not queue the message"));
    if (out_id)
        *out_id = id;
    return HKC_ACT_OK;
}

int hkc_act_twin_patch_parse(const char *text, json_t **out_patch, char **out_err)
{
    *out_patch = NULL;
    json_error_t e;
    json_t *patch = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(patch)) {
        int rc = act_fail(out_err, HKC_ACT_INPUT,
                          hkc_printf("the desired patch must be a JSON object (%s)",
                                     patch ? "got another JSON type" : e.text));
        json_decref(patch);
        return rc;
    }
    json_t *d = json_object_get(patch, "desired");
    if (json_is_object(d) && json_object_size(patch) == 1) {
        json_incref(d);
        json_decref(patch);
        patch = d;
    }
    *out_patch = patch;
    return HKC_ACT_OK;
}

int hkc_act_twin_patch(sqlite3 *db, const char *hub, const char *device_id, const json_t *patch,
                       int64_t *out_version, char **out_err)
{
    if (!json_is_object(patch))
        return act_fail(out_err, HKC_ACT_INPUT,
                        hkc_strdup("the desired patch must be a JSON object"));
    if (!hkc_db_begin(db))
        return act_fail(out_err, HKC_ACT_STATE, hkc_strdup("the database could not be updated"));
    /* The twin rule (merge, version) is hkc_twin's, shared with the plugin. */
    int64_t version = hkc_twin_update(db, hub, device_id, HKC_TWIN_DESIRED, patch);
    if (version <= 0) {
        hkc_db_rollback(db);
        return act_fail(out_err, HKC_ACT_STATE,
                        version == 0 ? hkc_printf("no device %s in hub %s", device_id, hub)
                                     : hkc_strdup("the database could not be updated"));
    }
    json_t *sent = json_deep_copy(patch);
    json_object_set_new(sent, "$version", json_integer(version));
    char *ptext = json_dumps(sent, JSON_COMPACT);
    char vs[24];
    snprintf(vs, sizeof(vs), "%lld", (long long)version);
    bool ok = queue_command(db, "twin", hub, device_id, vs, ptext, NULL, 0) >= 0;
    ok = ok ? hkc_db_commit(db) : (hkc_db_rollback(db), false);
    free(ptext);
    json_decref(sent);
    if (!ok)
        return act_fail(out_err, HKC_ACT_STATE, hkc_strdup("the database could not be updated"));
    if (out_version)
        *out_version = version;
    return HKC_ACT_OK;
}

int hkc_act_device_enable(sqlite3 *db, const char *hub, const char *device_id, bool enable,
                          char **out_err)
{
    int n = hkc_db_exec(db, "UPDATE devices SET enabled=? WHERE hub=? AND device_id=?", "iss",
                        (int64_t)enable, hub, device_id);
    if (n < 0)
        return act_fail(out_err, HKC_ACT_STATE, hkc_strdup("storage error"));
    if (n == 0)
        return act_fail(out_err, HKC_ACT_STATE,
                        hkc_printf("no device %s in hub %s", device_id, hub));
    return HKC_ACT_OK;
}

int hkc_act_method_check(const char *name, const char *payload, char **out_err)
{
    json_error_t e;
    json_t *pj = json_loads(payload ? payload : "null", JSON_DECODE_ANY, &e);
    if (!pj)
        return act_fail(out_err, HKC_ACT_INPUT,
                        hkc_printf("method payload is not JSON: %s", e.text));
    json_decref(pj);
    if (!*name || strpbrk(name, "/+#?") || strlen(name) > HKC_METHOD_NAME_MAX)
        return act_fail(out_err, HKC_ACT_INPUT,
                        hkc_printf("'%s' is not a valid method name", name));
    return HKC_ACT_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int hkc_act_method_invoke(sqlite3 *db, const char *hub, const char *device_id, const char *name,
                          const char *payload, long timeout_s, int *out_status,
                          char **out_response, char **out_err)
{
    *out_response = NULL;
    int rc = hkc_act_method_check(name, payload, out_err);
    if (rc)
        return rc;
    if (timeout_s < 1 || timeout_s > 300)
        return act_fail(out_err, HKC_ACT_INPUT, hkc_strdup("the timeout must be 1..300 seconds"));
    int64_t id = queue_command(db, "method", hub, device_id, name, payload ? payload : "null",
                               NULL, (int64_t)timeout_s * 1000);
    if (id < 0)
        return act_fail(out_err, HKC_ACT_INPUT, hkc_strdup("could not queue the method call"));
    /* The plugin answers within the timeout (504 at the deadline); allow it a margin. */
    uint64_t deadline = hkc_now_ms() + (uint64_t)timeout_s * 1000u + 5000u;
    json_t *row = NULL;
    while (hkc_now_ms() < deadline) {
        row = hkc_db_row(db, "SELECT state, status, response FROM commands WHERE id=?", "i", id);
        if (row && hkc_row_str(row, "state") && strcmp(hkc_row_str(row, "state"), "done") == 0)
            break;
        json_decref(row);
        row = NULL;
        sleep_ms(20);
    }
    if (!row)
        return act_fail(out_err, HKC_ACT_METHOD,
                        hkc_strdup("no answer from the cloud (is it running?)"));
    *out_status = (int)hkc_row_int(row, "status");
    *out_response = hkc_strdup(hkc_row_str(row, "response") ? hkc_row_str(row, "response") : "");
    json_decref(row);
    return HKC_ACT_OK;
}
