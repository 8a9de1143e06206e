/*
 * The console's queries and actions (contracts in hkc_console_api.h).
 *
 * The device list joins four tables per page: devices, connections (state
 * recorded by the broker plugin), registrations (enrollment and DPS status)
 * and the newest telemetry row of each device, found through the
 * telemetry_device index (one index seek per device). Sorting is done by
 * SQLite over the filtered set; for 2,000 devices a page costs a few
 * milliseconds (bench/cloud/console-bench prints the figures).
 */
#define _GNU_SOURCE
#include "hkc_console_api.h"

#include <stdlib.h>
#include <string.h>

#include "hkc_actions.h"
#include "hkc_db.h"
#include "hkc_util.h"

/* Seconds of history the overview counts registrations over. */
#define OVERVIEW_WINDOW "-1 hour"

json_t *hkc_console_overview(sqlite3 *db)
{
    json_t *hubs = hkc_db_query(
        db,
        "SELECT h.name AS name, (SELECT count(*) FROM devices d WHERE d.hub=h.name) AS devices,"
        " (SELECT count(*) FROM connections c JOIN devices d ON d.hub=c.hub AND "
        "d.device_id=c.device_id WHERE c.hub=h.name AND c.connected) AS connected,"
        " (SELECT count(*) FROM devices d WHERE d.hub=h.name AND NOT d.enabled) AS disabled"
        " FROM hubs h ORDER BY h.name",
        NULL);
    json_t *totals = hkc_db_row(
        db,
        "SELECT (SELECT count(*) FROM devices) AS devices,"
        " (SELECT count(*) FROM connections c JOIN devices d ON d.hub=c.hub AND "
        "d.device_id=c.device_id WHERE c.connected) AS connected,"
        " (SELECT count(*) FROM registrations) AS registrations,"
        " (SELECT count(*) FROM operations WHERE created >= "
        "strftime('%Y-%m-%dT%H:%M:%S','now','" OVERVIEW_WINDOW "')) AS registrations_last_hour,"
        " (SELECT count(*) FROM registrations WHERE status='assigned' AND updated >= "
        "strftime('%Y-%m-%dT%H:%M:%S','now','" OVERVIEW_WINDOW "')) AS assigned_last_hour,"
        " (SELECT count(*) FROM enrollments) AS enrollments,"
        " (SELECT count(*) FROM commands WHERE state<>'done') AS pending_commands,"
        " (SELECT COALESCE(max(id),0) FROM telemetry) AS telemetry_last_id",
        NULL);
    if (!hubs || !totals) {
        json_decref(hubs);
        json_decref(totals);
        return NULL;
    }
    json_t *recent = hkc_db_query(db,
                                  "SELECT reg_id, device_id, hub, status, enrollment_kind,"
                                  " enrollment_name, count, updated FROM registrations"
                                  " ORDER BY updated DESC LIMIT 10",
                                  NULL);
    json_object_set_new(totals, "recent_registrations", recent ? recent : json_array());
    char now[40];
    hkc_time_utc(now, sizeof(now));
    json_object_set_new(totals, "hubs", hubs);
    json_object_set_new(totals, "time", json_string(now));
    return totals;
}

/* The sort keys the list accepts, and the SQL each means. */
static const struct {
    const char *name;
    const char *sql;
} sort_keys[] = {
    {"device_id", "device_id"},   {"hub", "hub"},
    {"connected", "connected"},   {"last_seen", "last_seen"},
    {"enrollment", "enrollment_name"}, {"status", "reg_status"},
    {"created", "created"},       {"enabled", "enabled"},
};

/* Escapes LIKE's wildcards (and the escape character) in q. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *out = malloc(2 * n + 3);
    if (!out)
        abort();
    size_t k = 0;
    out[k++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            out[k++] = '\\';
        out[k++] = q[i];
    }
    out[k++] = '%';
    out[k] = '\0';
    return out;
}

#define DEVICE_ROWS                                                                              \
    "WITH rows AS (SELECT d.hub AS hub, d.device_id AS device_id, d.enabled AS enabled,"         \
    " d.sha1 AS sha1, d.sha256 AS sha256, d.source AS source, d.created AS created,"             \
    " COALESCE(c.connected,0) AS connected, c.last_connect AS last_connect,"                     \
    " c.last_disconnect AS last_disconnect, c.last_seen AS last_connection,"                     \
    " r.reg_id AS reg_id, r.enrollment_kind AS enrollment_kind,"                                 \
    " r.enrollment_name AS enrollment_name, r.status AS reg_status, r.updated AS reg_updated"    \
    " FROM devices d LEFT JOIN connections c ON c.hub=d.hub AND c.device_id=d.device_id"         \
    " LEFT JOIN registrations r ON r.device_id=d.device_id AND r.hub=d.hub"                      \
    " WHERE ?1 IS NULL OR d.device_id LIKE ?1 ESCAPE '\\' OR d.hub LIKE ?1 ESCAPE '\\'"          \
    " OR r.enrollment_name LIKE ?1 ESCAPE '\\' OR d.sha256 LIKE ?1 ESCAPE '\\'"                  \
    " OR d.sha1 LIKE ?1 ESCAPE '\\' OR r.reg_id LIKE ?1 ESCAPE '\\') "

#define LAST_SEEN(T)                                                                             \
    "NULLIF(max(COALESCE(last_connection,''),COALESCE((SELECT t.time FROM telemetry t"           \
    " WHERE t.device_id=" T ".device_id AND t.hub=" T ".hub ORDER BY t.id DESC LIMIT 1),'')),'')"

json_t *hkc_console_devices(sqlite3 *db, const char *q, const char *sort, bool desc,
                            int64_t offset, int64_t limit, const char **out_err)
{
    *out_err = NULL;
    const char *order = NULL;
    for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
        if (strcmp(sort ? sort : "device_id", sort_keys[i].name) == 0)
            order = sort_keys[i].sql;
    if (!order) {
        *out_err = "sort must be one of device_id, hub, connected, last_seen, enrollment, "
                   "status, created, enabled";
        return NULL;
    }
    if (offset < 0 || limit < 1 || limit > HKC_CONSOLE_PAGE_MAX) {
        *out_err = "offset must be >= 0 and limit 1..500";
        return NULL;
    }
    char *pattern = q && *q ? like_pattern(q) : NULL;
    json_t *count = pattern ? hkc_db_row(db, DEVICE_ROWS "SELECT count(*) AS n FROM rows", "s", pattern)
                            : hkc_db_row(db, "SELECT count(*) AS n FROM devices", NULL);
    /* last_seen: the later of the last connection event and the newest
     * message (ISO 8601 UTC texts compare as strings). It costs an index
     * seek per device, so it is computed for the page's rows only, unless
     * the list is sorted by it. */
    const char *dir = desc ? "DESC" : "ASC";
    char *sql;
    if (strcmp(order, "last_seen") == 0)
        sql = hkc_printf(DEVICE_ROWS ", page AS (SELECT rows.*, " LAST_SEEN("rows") " AS last_seen FROM rows)"
                                     " SELECT * FROM page ORDER BY last_seen %s, hub, device_id"
                                     " LIMIT ?2 OFFSET ?3",
                         dir);
    else
        sql = hkc_printf(DEVICE_ROWS ", page AS (SELECT * FROM rows ORDER BY %s %s, hub, device_id"
                                     " LIMIT ?2 OFFSET ?3)"
                                     " SELECT page.*, " LAST_SEEN("page") " AS last_seen FROM page"
                                     " ORDER BY %s %s, hub, device_id",
                         order, dir, order, dir);
    json_t *items = hkc_db_query(db, sql, "sii", pattern, limit, offset);
    free(sql);
    free(pattern);
    if (!count || !items) {
        json_decref(count);
        json_decref(items);
        *out_err = "storage error";
        return NULL;
    }
    json_t *out = json_pack("{s:I,s:I,s:I,s:s,s:b,s:o}", "total",
                            (json_int_t)hkc_row_int(count, "n"), "offset", (json_int_t)offset,
                            "limit", (json_int_t)limit, "sort", sort ? sort : "device_id", "desc",
                            desc, "items", items);
    json_decref(count);
    return out;
}

/* Parses a JSON text column into a value (the text itself when it is not JSON). */
static json_t *json_column(const char *text)
{
    if (!text)
        return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static void parse_column(json_t *rows, const char *col)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_object_set_new(r, col, json_column(hkc_row_str(r, col)));
    }
}

#define TELEMETRY_COLS                                                                           \
    "SELECT id, hub, device_id, props, time, length(body) AS size,"                              \
    " CAST(substr(body,1,4096) AS TEXT) AS body FROM telemetry "

json_t *hkc_console_device(sqlite3 *db, const char *hub, const char *device_id)
{
    json_t *dev = hkc_db_row(db,
                             "SELECT hub, device_id, enabled, sha1, sha256, source, created,"
                             " desired, desired_version, reported, reported_version"
                             " FROM devices WHERE hub=? AND device_id=?",
                             "ss", hub, device_id);
    if (!dev)
        return NULL;
    json_t *twin = json_pack("{s:o,s:I,s:o,s:I}", "desired",
                             json_column(hkc_row_str(dev, "desired")), "desired_version",
                             (json_int_t)hkc_row_int(dev, "desired_version"), "reported",
                             json_column(hkc_row_str(dev, "reported")), "reported_version",
                             (json_int_t)hkc_row_int(dev, "reported_version"));
    json_object_del(dev, "desired");
    json_object_del(dev, "reported");
    json_object_del(dev, "desired_version");
    json_object_del(dev, "reported_version");
    json_object_set_new(dev, "twin", twin);
    json_t *conn = hkc_db_row(db, "SELECT connected, last_connect, last_disconnect, last_seen "
                                  "FROM connections WHERE hub=? AND device_id=?",
                              "ss", hub, device_id);
    json_object_set_new(dev, "connection", conn ? conn : json_null());
    json_t *reg = hkc_db_row(db, "SELECT * FROM registrations WHERE device_id=? AND hub=?", "ss",
                             device_id, hub);
    if (!reg) /* moved to another hub since: still its registration */
        reg = hkc_db_row(db, "SELECT * FROM registrations WHERE device_id=? ORDER BY updated "
                             "DESC",
                         "s", device_id);
    json_t *ops = hkc_db_query(db, "SELECT op_id, created, result FROM operations WHERE reg_id=? "
                                   "COLLATE NOCASE ORDER BY created DESC LIMIT 50",
                               "s", reg ? hkc_row_str(reg, "reg_id") : device_id);
    parse_column(ops, "result");
    json_object_set_new(dev, "registration", reg ? reg : json_null());
    json_object_set_new(dev, "operations", ops ? ops : json_array());
    json_t *cmds = hkc_db_query(db, "SELECT id, kind, name, substr(payload,1,4096) AS payload,"
                                    " props, state, status, response, created FROM commands"
                                    " WHERE device_id=? AND hub=? ORDER BY id DESC LIMIT 20",
                                "ss", device_id, hub);
    json_object_set_new(dev, "commands", cmds ? cmds : json_array());
    json_t *tm = hkc_db_query(db, TELEMETRY_COLS "WHERE device_id=? AND hub=? ORDER BY id DESC "
                                                 "LIMIT 50",
                              "ss", device_id, hub);
    parse_column(tm, "props");
    json_object_set_new(dev, "telemetry", tm ? tm : json_array());
    return dev;
}

json_t *hkc_console_telemetry(sqlite3 *db, int64_t after, const char *hub, const char *device_id,
                              int64_t limit)
{
    if (limit < 1 || limit > 1000)
        limit = 100;
    json_t *rows = hkc_db_query(db,
                                TELEMETRY_COLS "WHERE id > ?1 AND (?2 IS NULL OR device_id=?2)"
                                               " AND (?3 IS NULL OR hub=?3) ORDER BY id LIMIT ?4",
                                "issi", after, device_id, hub, limit);
    parse_column(rows, "props");
    return rows;
}

int64_t hkc_console_telemetry_last(sqlite3 *db)
{
    json_t *r = hkc_db_row(db, "SELECT COALESCE(max(id),0) AS n FROM telemetry", NULL);
    int64_t n = hkc_row_int(r, "n");
    json_decref(r);
    return n;
}

static int act_status_http(int rc)
{
    switch (rc) {
    case HKC_ACT_OK:
        return 200;
    case HKC_ACT_STATE:
        return 409;
    case HKC_ACT_METHOD:
        return 504;
    default:
        return 400;
    }
}

static const char *req_str(const json_t *req, const char *key)
{
    return json_string_value(json_object_get(req, key));
}

int hkc_console_action(sqlite3 *db, const char *name, const json_t *req, json_t **out_body)
{
    *out_body = NULL;
    const char *dev = req_str(req, "device_id");
    const char *hub_in = req_str(req, "hub");
    if (!json_is_object(req) || !dev || !hkc_device_id_valid(dev)) {
        *out_body = json_pack("{s:s}", "error", "the request needs a valid device_id");
        return 400;
    }
    char *err = NULL, *hub = NULL;
    int rc = hkc_act_resolve_hub(db, dev, hub_in, &hub, &err);
    json_t *out = NULL;
    if (rc == HKC_ACT_OK && strcmp(name, "c2d") == 0) {
        const char *body = req_str(req, "body");
        json_t *props = json_object_get(req, "props");
        int64_t id = 0;
        if (!body)
            rc = HKC_ACT_INPUT, err = hkc_strdup("body must be a string");
        else
            rc = hkc_act_c2d_send(db, hub, dev, body, json_is_null(props) ? NULL : props, &id,
                                  &err);
        if (!rc)
            out = json_pack("{s:b,s:I}", "ok", 1, "id", (json_int_t)id);
    } else if (rc == HKC_ACT_OK && strcmp(name, "twin") == 0) {
        const char *text = req_str(req, "patch");
        json_t *patch = NULL;
        int64_t version = 0;
        if (!text)
            rc = HKC_ACT_INPUT, err = hkc_strdup("patch must be a string of JSON");
        else
            rc = hkc_act_twin_patch_parse(text, &patch, &err);
        if (!rc)
            rc = hkc_act_twin_patch(db, hub, dev, patch, &version, &err);
        if (!rc)
            out = json_pack("{s:b,s:I}", "ok", 1, "desired_version", (json_int_t)version);
        json_decref(patch);
    } else if (rc == HKC_ACT_OK && strcmp(name, "enable") == 0) {
        json_t *en = json_object_get(req, "enabled");
        if (!json_is_boolean(en))
            rc = HKC_ACT_INPUT, err = hkc_strdup("enabled must be true or false");
        else
            rc = hkc_act_device_enable(db, hub, dev, json_is_true(en), &err);
        if (!rc)
            out = json_pack("{s:b,s:b}", "ok", 1, "enabled", json_is_true(en));
    } else if (rc == HKC_ACT_OK && strcmp(name, "method") == 0) {
        const char *method = req_str(req, "name");
        const char *payload = req_str(req, "payload");
        json_t *t = json_object_get(req, "timeout");
        long timeout = json_is_integer(t) ? (long)json_integer_value(t) : 30;
        int status = 0;
        char *resp = NULL;
        if (!method)
            rc = HKC_ACT_INPUT, err = hkc_strdup("name must be a string");
        else
            rc = hkc_act_method_invoke(db, hub, dev, method,
                                       payload && *payload ? payload : "null", timeout, &status,
                                       &resp, &err);
        if (!rc) {
            json_t *rj = *resp ? json_loads(resp, JSON_DECODE_ANY, NULL) : json_null();
            if (!rj)
                rj = json_string(resp); /* NULL when not UTF-8 */
            out = json_pack("{s:b,s:i,s:o}", "ok", status >= 200 && status < 300, "status", status,
                            "payload", rj ? rj : json_null());
        }
        free(resp);
    } else if (rc == HKC_ACT_OK) {
        rc = HKC_ACT_USAGE;
        err = hkc_printf("unknown action %s", name);
    }
    free(hub);
    if (rc) {
        *out_body = json_pack("{s:s}", "error", err ? err : "failed");
        free(err);
        return act_status_http(rc);
    }
    free(err);
    *out_body = out;
    return 200;
}
