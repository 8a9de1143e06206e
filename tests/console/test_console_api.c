/*
 * The device actions shared by the CLI and the console (hkc_actions) and the
 * console's queries (hkc_console_api) over a fresh database: known answers
 * and every refusal. The plugin's part (delivering commands) is covered by
 * the cloud and console end-to-end tests.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_test.h"
#include "hkc_actions.h"
#include "hkc_console_api.h"
#include "hkc_db.h"
#include "hkc_util.h"

static char *dir;

static sqlite3 *fresh_db(void)
{
    char *path = hkc_printf("%s/cloud-%d.db", dir, rand());
    sqlite3 *db = hkc_db_open(path);
    free(path);
    HK_CHECK(db != NULL);
    hkc_db_exec(db, "INSERT INTO hubs(name) VALUES('hub-1'),('hub-2')", NULL);
    hkc_db_exec(db, "INSERT INTO devices(hub,device_id,source,created) VALUES"
                    "('hub-1','a','cli','2020-01-01T00:00:00.0000000Z'),"
                    "('hub-1','both','cli','2020-01-02T00:00:00.0000000Z'),"
                    "('hub-2','both','cli','2020-01-03T00:00:00.0000000Z'),"
                    "('hub-2','c_1','dps','2020-01-04T00:00:00.0000000Z')",
                NULL);
    return db;
}

/* Checks an action's status and, on failure, that its message holds want. */
static void check_err(int rc, int want_rc, char *err, const char *want)
{
    HK_CHECK_EQ(rc, want_rc);
    if (want) {
        HK_CHECK(err != NULL && strstr(err, want) != NULL);
        if (err && !strstr(err, want))
            fprintf(stderr, "  message: %s\n", err);
    } else {
        HK_CHECK(err == NULL);
    }
    free(err);
}

static void test_resolve_hub(void)
{
    sqlite3 *db = fresh_db();
    char *hub = NULL, *err = NULL;
    check_err(hkc_act_resolve_hub(db, "a", NULL, &hub, &err), HKC_ACT_OK, err, NULL);
    HK_CHECK(hub && strcmp(hub, "hub-1") == 0);
    free(hub);
    err = NULL;
    check_err(hkc_act_resolve_hub(db, "a", "HUB-1", &hub, &err), HKC_ACT_OK, err, NULL);
    HK_CHECK(hub && strcmp(hub, "hub-1") == 0);
    free(hub);
    err = NULL;
    check_err(hkc_act_resolve_hub(db, "both", NULL, &hub, &err), HKC_ACT_USAGE, err,
              "exists in several hubs");
    HK_CHECK(hub == NULL);
    err = NULL;
    check_err(hkc_act_resolve_hub(db, "both", "hub-2", &hub, &err), HKC_ACT_OK, err, NULL);
    HK_CHECK(hub && strcmp(hub, "hub-2") == 0);
    free(hub);
    err = NULL;
    check_err(hkc_act_resolve_hub(db, "nobody", NULL, &hub, &err), HKC_ACT_STATE, err,
              "no device nobody");
    err = NULL;
    check_err(hkc_act_resolve_hub(db, "a", "hub-2", &hub, &err), HKC_ACT_STATE, err,
              "no device a in hub hub-2");
    hkc_db_close(db);
}

static void test_c2d(void)
{
    sqlite3 *db = fresh_db();
    char *err = NULL;
    int64_t id = 0;
    json_t *props = json_pack("{s:s}", "k", "v");
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "hello", props, &id, &err), HKC_ACT_OK, err,
              NULL);
    HK_CHECK(id > 0);
    json_t *row = hkc_db_row(db, "SELECT * FROM commands WHERE id=?", "i", id);
    HK_CHECK(strcmp(hkc_row_str(row, "kind"), "c2d") == 0);
    HK_CHECK(strcmp(hkc_row_str(row, "payload"), "hello") == 0);
    HK_CHECK(strcmp(hkc_row_str(row, "props"), "{\"k\":\"v\"}") == 0);
    HK_CHECK(strcmp(hkc_row_str(row, "state"), "queued") == 0);
    json_decref(row);
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "no props", NULL, NULL, &err), HKC_ACT_OK, err,
              NULL);
    /* Refusals: size, property shapes, the pending limit. */
    char *big = malloc(HKC_C2D_MAX + 2);
    memset(big, 'x', HKC_C2D_MAX + 1);
    big[HKC_C2D_MAX + 1] = '\0';
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", big, NULL, NULL, &err), HKC_ACT_INPUT, err,
              "64 KB");
    big[HKC_C2D_MAX] = '\0'; /* exactly the limit: accepted */
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", big, NULL, NULL, &err), HKC_ACT_OK, err, NULL);
    free(big);
    json_t *arr = json_array();
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "x", arr, NULL, &err), HKC_ACT_INPUT, err,
              "JSON object");
    json_decref(arr);
    json_t *num = json_pack("{s:i}", "k", 1);
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "x", num, NULL, &err), HKC_ACT_INPUT, err,
              "string value");
    json_decref(num);
    json_t *empty = json_pack("{s:s}", "", "v");
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "x", empty, NULL, &err), HKC_ACT_INPUT, err,
              "need a name");
    json_decref(empty);
    for (int i = 3; i < HKC_C2D_PENDING_MAX; i++)
        HK_CHECK_EQ(hkc_act_c2d_send(db, "hub-1", "a", "x", NULL, NULL, NULL), HKC_ACT_OK);
    err = NULL;
    check_err(hkc_act_c2d_send(db, "hub-1", "a", "x", props, NULL, &err), HKC_ACT_STATE, err,
              "already has 50 pending");
    /* Delivered messages no longer count. */
    hkc_db_exec(db, "UPDATE commands SET state='done' WHERE id=?", "i", id);
    HK_CHECK_EQ(hkc_act_c2d_send(db, "hub-1", "a", "x", NULL, NULL, NULL), HKC_ACT_OK);
    json_decref(props);
    hkc_db_close(db);
}

static void test_twin(void)
{
    sqlite3 *db = fresh_db();
    char *err = NULL;
    json_t *patch = NULL;
    check_err(hkc_act_twin_patch_parse("{\"desired\":{\"rate\":5,\"x\":{\"y\":1}}}", &patch, &err),
              HKC_ACT_OK, err, NULL);
    HK_CHECK(json_integer_value(json_object_get(patch, "rate")) == 5);
    int64_t v = 0;
    err = NULL;
    check_err(hkc_act_twin_patch(db, "hub-1", "a", patch, &v, &err), HKC_ACT_OK, err, NULL);
    HK_CHECK_EQ(v, 2);
    json_decref(patch);
    /* A merge patch: null deletes, objects merge; the version goes up. */
    err = NULL;
    check_err(hkc_act_twin_patch_parse("{\"rate\":null,\"x\":{\"z\":2}}", &patch, &err), HKC_ACT_OK,
              err, NULL);
    err = NULL;
    check_err(hkc_act_twin_patch(db, "hub-1", "a", patch, &v, &err), HKC_ACT_OK, err, NULL);
    HK_CHECK_EQ(v, 3);
    json_decref(patch);
    json_t *row = hkc_db_row(db, "SELECT desired, desired_version FROM devices WHERE hub='hub-1' "
                                 "AND device_id='a'",
                             NULL);
    HK_CHECK(strcmp(hkc_row_str(row, "desired"), "{\"x\":{\"y\":1,\"z\":2}}") == 0);
    HK_CHECK_EQ(hkc_row_int(row, "desired_version"), 3);
    json_decref(row);
    row = hkc_db_row(db, "SELECT name, payload FROM commands WHERE kind='twin' ORDER BY id DESC",
                     NULL);
    HK_CHECK(strcmp(hkc_row_str(row, "name"), "3") == 0);
    HK_CHECK(strcmp(hkc_row_str(row, "payload"), "{\"rate\":null,\"x\":{\"z\":2},\"$version\":3}") ==
             0);
    json_decref(row);
    /* {"desired":..., "other":...} is a patch of its own, not unwrapped. */
    err = NULL;
    check_err(hkc_act_twin_patch_parse("{\"desired\":{},\"b\":1}", &patch, &err), HKC_ACT_OK, err,
              NULL);
    HK_CHECK(json_object_get(patch, "desired") != NULL);
    json_decref(patch);
    static const char *const bad[] = {"", "[1]", "1", "{\"a\":1,\"a\":2}", "{", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        patch = (json_t *)1;
        check_err(hkc_act_twin_patch_parse(bad[i], &patch, &err), HKC_ACT_INPUT, err,
                  "must be a JSON object");
        HK_CHECK(patch == NULL);
    }
    json_t *p = json_object();
    err = NULL;
    check_err(hkc_act_twin_patch(db, "hub-1", "nobody", p, &v, &err), HKC_ACT_STATE, err,
              "no device nobody");
    json_t *arr = json_array();
    err = NULL;
    check_err(hkc_act_twin_patch(db, "hub-1", "a", arr, &v, &err), HKC_ACT_INPUT, err,
              "JSON object");
    json_decref(arr);
    json_decref(p);
    hkc_db_close(db);
}

static void test_enable_and_method_checks(void)
{
    sqlite3 *db = fresh_db();
    char *err = NULL;
    check_err(hkc_act_device_enable(db, "hub-1", "a", false, &err), HKC_ACT_OK, err, NULL);
    json_t *row = hkc_db_row(db, "SELECT enabled FROM devices WHERE device_id='a'", NULL);
    HK_CHECK_EQ(hkc_row_int(row, "enabled"), 0);
    json_decref(row);
    err = NULL;
    check_err(hkc_act_device_enable(db, "hub-2", "a", true, &err), HKC_ACT_STATE, err,
              "no device a in hub hub-2");
    err = NULL;
    check_err(hkc_act_method_check("reboot", "{\"delay\":1}", &err), HKC_ACT_OK, err, NULL);
    err = NULL;
    check_err(hkc_act_method_check("comp*cmd", NULL, &err), HKC_ACT_OK, err, NULL);
    static const char *const names[] = {"", "a/b", "a+b", "a#", "a?b"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        err = NULL;
        check_err(hkc_act_method_check(names[i], "1", &err), HKC_ACT_INPUT, err,
                  "not a valid method name");
    }
    char name[HKC_METHOD_NAME_MAX + 2];
    memset(name, 'm', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    err = NULL;
    check_err(hkc_act_method_check(name, "1", &err), HKC_ACT_INPUT, err, "not a valid method");
    name[HKC_METHOD_NAME_MAX] = '\0';
    err = NULL;
    check_err(hkc_act_method_check(name, "1", &err), HKC_ACT_OK, err, NULL);
    err = NULL;
    check_err(hkc_act_method_check("m", "{", &err), HKC_ACT_INPUT, err, "not JSON");
    int status = 0;
    char *resp = NULL;
    err = NULL;
    check_err(hkc_act_method_invoke(db, "hub-1", "a", "m", NULL, 0, &status, &resp, &err),
              HKC_ACT_INPUT, err, "1..300");
    err = NULL;
    check_err(hkc_act_method_invoke(db, "hub-1", "a", "m", NULL, 301, &status, &resp, &err),
              HKC_ACT_INPUT, err, "1..300");
    err = NULL;
    check_err(hkc_act_method_invoke(db, "hub-1", "a", "a/b", NULL, 5, &status, &resp, &err),
              HKC_ACT_INPUT, err, "method name");
    HK_CHECK(resp == NULL);
    json_t *n = hkc_db_row(db, "SELECT count(*) AS n FROM commands", NULL);
    HK_CHECK_EQ(hkc_row_int(n, "n"), 0); /* nothing queued by a refused call */
    json_decref(n);
    hkc_db_close(db);
}

static const char *item_id(json_t *page, size_t i)
{
    return hkc_row_str(json_array_get(json_object_get(page, "items"), i), "device_id");
}

static void test_devices_list(void)
{
    sqlite3 *db = fresh_db();
    const char *err = NULL;
    json_t *p = hkc_console_devices(db, NULL, NULL, false, 0, 50, &err);
    HK_CHECK(p && err == NULL);
    HK_CHECK_EQ(json_integer_value(json_object_get(p, "total")), 4);
    HK_CHECK(strcmp(item_id(p, 0), "a") == 0 && strcmp(item_id(p, 3), "c_1") == 0);
    json_decref(p);
    /* Connection and telemetry make last_seen; sorting by it, newest first. */
    HK_CHECK(hkc_db_connection_set(db, "hub-2", "c_1", true));
    hkc_db_exec(db, "INSERT INTO telemetry(hub,device_id,body,time) VALUES('hub-1','a',"
                    "x'7b7d','2030-01-01T00:00:00.0000000Z')",
                NULL);
    p = hkc_console_devices(db, "", "last_seen", true, 0, 2, &err);
    HK_CHECK(p && strcmp(item_id(p, 0), "a") == 0 && strcmp(item_id(p, 1), "c_1") == 0);
    json_t *first = json_array_get(json_object_get(p, "items"), 0);
    HK_CHECK(strcmp(hkc_row_str(first, "last_seen"), "2030-01-01T00:00:00.0000000Z") == 0);
    json_t *second = json_array_get(json_object_get(p, "items"), 1);
    HK_CHECK_EQ(hkc_row_int(second, "connected"), 1);
    json_decref(p);
    /* The same last_seen when the page is sorted by something else. */
    p = hkc_console_devices(db, NULL, "connected", true, 0, 1, &err);
    HK_CHECK(p && strcmp(item_id(p, 0), "c_1") == 0);
    HK_CHECK(hkc_row_str(json_array_get(json_object_get(p, "items"), 0), "last_seen") != NULL);
    json_decref(p);
    p = hkc_console_devices(db, NULL, "device_id", false, 0, 1, &err);
    HK_CHECK(strcmp(hkc_row_str(json_array_get(json_object_get(p, "items"), 0), "last_seen"),
                    "2030-01-01T00:00:00.0000000Z") == 0);
    json_decref(p);
    /* Disconnect: connected 0, last_disconnect set. */
    HK_CHECK(hkc_db_connection_set(db, "hub-2", "c_1", false));
    json_t *c = hkc_db_row(db, "SELECT * FROM connections", NULL);
    HK_CHECK_EQ(hkc_row_int(c, "connected"), 0);
    HK_CHECK(hkc_row_str(c, "last_connect") && hkc_row_str(c, "last_disconnect"));
    json_decref(c);
    /* Search: a substring, LIKE's wildcards taken literally. */
    p = hkc_console_devices(db, "_", NULL, false, 0, 50, &err);
    HK_CHECK_EQ(json_integer_value(json_object_get(p, "total")), 1);
    HK_CHECK(strcmp(item_id(p, 0), "c_1") == 0);
    json_decref(p);
    p = hkc_console_devices(db, "%", NULL, false, 0, 50, &err);
    HK_CHECK_EQ(json_integer_value(json_object_get(p, "total")), 0);
    json_decref(p);
    p = hkc_console_devices(db, "HUB-2", NULL, false, 0, 50, &err);
    HK_CHECK_EQ(json_integer_value(json_object_get(p, "total")), 2);
    json_decref(p);
    /* Paging past the end: an empty page, the total still right. */
    /* hub descending, then hub and device ID ascending: hub-2 both, hub-2 c_1, hub-1 a, hub-1 both */
    p = hkc_console_devices(db, NULL, "hub", true, 2, 50, &err);
    HK_CHECK_EQ(json_array_size(json_object_get(p, "items")), 2);
    HK_CHECK(strcmp(item_id(p, 0), "a") == 0 && strcmp(item_id(p, 1), "both") == 0);
    json_decref(p);
    p = hkc_console_devices(db, NULL, NULL, false, 10, 50, &err);
    HK_CHECK_EQ(json_array_size(json_object_get(p, "items")), 0);
    HK_CHECK_EQ(json_integer_value(json_object_get(p, "total")), 4);
    json_decref(p);
    /* Refusals. */
    HK_CHECK(hkc_console_devices(db, NULL, "sha1; DROP TABLE devices", false, 0, 1, &err) == NULL);
    HK_CHECK(err && strstr(err, "sort must be"));
    HK_CHECK(hkc_console_devices(db, NULL, NULL, false, -1, 1, &err) == NULL);
    HK_CHECK(hkc_console_devices(db, NULL, NULL, false, 0, 0, &err) == NULL);
    HK_CHECK(hkc_console_devices(db, NULL, NULL, false, 0, HKC_CONSOLE_PAGE_MAX + 1, &err) ==
             NULL);
    HK_CHECK(err && strstr(err, "limit"));
    hkc_db_close(db);
}

static void test_overview_device_telemetry(void)
{
    sqlite3 *db = fresh_db();
    HK_CHECK(hkc_db_connection_set(db, "hub-1", "a", true));
    HK_CHECK(hkc_db_connection_set(db, "hub-1", "gone", true)); /* removed device: not counted */
    hkc_db_exec(db, "UPDATE devices SET enabled=0 WHERE device_id='c_1'", NULL);
    hkc_db_exec(db, "INSERT INTO operations(op_id,reg_id,result,created) VALUES('op1','a',"
                    "'{\"status\":\"assigned\"}',strftime('%Y-%m-%dT%H:%M:%S','now')),"
                    "('op0','a','{}','2001-01-01T00:00:00Z')",
                NULL);
    /* Bodies: text, bytes that are not UTF-8, more than 4096 bytes. */
    hkc_db_exec(db, "INSERT INTO telemetry(hub,device_id,props,body,time) VALUES"
                    "('hub-1','a','{\"k\":\"v\"}',CAST('{\"t\":1}' AS BLOB),'t1'),"
                    "('hub-1','a','{}',x'ff00fe','t2'),"
                    "('hub-2','c_1','not json',zeroblob(5000),'t3')",
                NULL);
    json_t *o = hkc_console_overview(db);
    HK_CHECK(o != NULL);
    HK_CHECK_EQ(json_integer_value(json_object_get(o, "devices")), 4);
    HK_CHECK_EQ(json_integer_value(json_object_get(o, "connected")), 1);
    HK_CHECK_EQ(json_integer_value(json_object_get(o, "registrations_last_hour")), 1);
    HK_CHECK_EQ(json_integer_value(json_object_get(o, "telemetry_last_id")), 3);
    json_t *h2 = json_array_get(json_object_get(o, "hubs"), 1);
    HK_CHECK(strcmp(hkc_row_str(h2, "name"), "hub-2") == 0);
    HK_CHECK_EQ(hkc_row_int(h2, "devices"), 2);
    HK_CHECK_EQ(hkc_row_int(h2, "disabled"), 1);
    json_decref(o);

    json_t *d = hkc_console_device(db, "hub-1", "a");
    HK_CHECK(d != NULL);
    json_t *twin = json_object_get(d, "twin");
    HK_CHECK(json_is_object(json_object_get(twin, "desired")));
    HK_CHECK_EQ(json_integer_value(json_object_get(twin, "reported_version")), 1);
    HK_CHECK_EQ(json_integer_value(json_object_get(json_object_get(d, "connection"), "connected")),
                1);
    json_t *ops = json_object_get(d, "operations");
    HK_CHECK_EQ(json_array_size(ops), 2);
    HK_CHECK(strcmp(json_string_value(json_object_get(
                        json_object_get(json_array_get(ops, 0), "result"), "status")),
                    "assigned") == 0);
    json_t *tm = json_object_get(d, "telemetry");
    HK_CHECK_EQ(json_array_size(tm), 2);
    HK_CHECK(json_is_null(json_object_get(json_array_get(tm, 0), "body"))); /* newest: not UTF-8 */
    HK_CHECK(strcmp(hkc_row_str(json_array_get(tm, 1), "body"), "{\"t\":1}") == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(
                        json_object_get(json_array_get(tm, 1), "props"), "k")),
                    "v") == 0);
    json_decref(d);
    HK_CHECK(hkc_console_device(db, "hub-2", "a") == NULL);

    json_t *rows = hkc_console_telemetry(db, 1, NULL, NULL, 10);
    HK_CHECK_EQ(json_array_size(rows), 2);
    json_t *big = json_array_get(rows, 1);
    HK_CHECK_EQ(hkc_row_int(big, "size"), 5000);
    HK_CHECK_EQ(strlen(hkc_row_str(big, "body")) + 0, 0); /* zero bytes: NUL-led text */
    HK_CHECK(strcmp(json_string_value(json_object_get(big, "props")), "not json") == 0);
    json_decref(rows);
    rows = hkc_console_telemetry(db, 0, "hub-2", NULL, 10);
    HK_CHECK_EQ(json_array_size(rows), 1);
    json_decref(rows);
    rows = hkc_console_telemetry(db, 0, NULL, "a", 1);
    HK_CHECK_EQ(json_array_size(rows), 1);
    json_decref(rows);
    HK_CHECK_EQ(hkc_console_telemetry_last(db), 3);
    /* The broker starts or stops: nobody connected, the time recorded. */
    HK_CHECK(hkc_db_connections_reset(db));
    o = hkc_console_overview(db);
    HK_CHECK_EQ(json_integer_value(json_object_get(o, "connected")), 0);
    json_decref(o);
    json_t *c = hkc_db_row(db, "SELECT * FROM connections WHERE device_id='a'", NULL);
    HK_CHECK(hkc_row_str(c, "last_disconnect") != NULL);
    HK_CHECK(strcmp(hkc_row_str(c, "last_disconnect"), hkc_row_str(c, "last_seen")) == 0);
    json_decref(c);
    hkc_db_close(db);
}

static void test_actions_through_the_api(void)
{
    sqlite3 *db = fresh_db();
    json_t *out = NULL;
    json_t *req = json_pack("{s:s,s:s,s:{s:s}}", "device_id", "a", "body", "hi", "props", "k", "v");
    HK_CHECK_EQ(hkc_console_action(db, "c2d", req, &out), 200);
    HK_CHECK(json_is_true(json_object_get(out, "ok")));
    json_decref(out);
    json_decref(req);
    struct {
        const char *action, *json, *error;
        int status;
    } cases[] = {
        {"c2d", "{}", "valid device_id", 400},
        {"c2d", "{\"device_id\":\"a b\"}", "valid device_id", 400},
        {"c2d", "{\"device_id\":\"a\"}", "body must be a string", 400},
        {"c2d", "{\"device_id\":\"a\",\"body\":\"x\",\"props\":[1]}", "JSON object", 400},
        {"c2d", "{\"device_id\":\"both\",\"body\":\"x\"}", "several hubs", 400},
        {"c2d", "{\"device_id\":\"nobody\",\"body\":\"x\"}", "no device", 409},
        {"twin", "{\"device_id\":\"a\"}", "patch must be a string", 400},
        {"twin", "{\"device_id\":\"a\",\"patch\":\"[]\"}", "JSON object", 400},
        {"enable", "{\"device_id\":\"a\",\"enabled\":1}", "true or false", 400},
        {"method", "{\"device_id\":\"a\"}", "name must be a string", 400},
        {"method", "{\"device_id\":\"a\",\"name\":\"m\",\"timeout\":0}", "1..300", 400},
        {"other", "{\"device_id\":\"a\"}", "unknown action", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        req = json_loads(cases[i].json, 0, NULL);
        int status = hkc_console_action(db, cases[i].action, req, &out);
        const char *e = json_string_value(json_object_get(out, "error"));
        HK_CHECK_EQ(status, cases[i].status);
        HK_CHECK(e && strstr(e, cases[i].error));
        if (status != cases[i].status || !e || !strstr(e, cases[i].error))
            fprintf(stderr, "  case %zu: %d %s\n", i, status, e ? e : "(no error)");
        json_decref(out);
        json_decref(req);
    }
    req = json_pack("{s:s,s:s,s:s}", "device_id", "both", "hub", "hub-2", "patch", "{\"r\":1}");
    HK_CHECK_EQ(hkc_console_action(db, "twin", req, &out), 200);
    HK_CHECK_EQ(json_integer_value(json_object_get(out, "desired_version")), 2);
    json_decref(out);
    json_decref(req);
    req = json_pack("{s:s,s:b}", "device_id", "a", "enabled", 0);
    HK_CHECK_EQ(hkc_console_action(db, "enable", req, &out), 200);
    HK_CHECK(json_is_false(json_object_get(out, "enabled")));
    json_decref(out);
    json_decref(req);
    hkc_db_close(db);
}

int main(void)
{
    char tmpl[] = "/tmp/hkc-console-XXXXXX";
    dir = mkdtemp(tmpl);
    if (!dir)
        return 1;
    HK_RUN(test_resolve_hub);
    HK_RUN(test_c2d);
    HK_RUN(test_twin);
    HK_RUN(test_enable_and_method_checks);
    HK_RUN(test_devices_list);
    HK_RUN(test_overview_device_telemetry);
    HK_RUN(test_actions_through_the_api);
    char *rm = hkc_printf("rm -rf %s", dir);
    HK_CHECK_EQ(system(rm), 0);
    free(rm);
    return hk_test_finish("console_api");
}
