/*
 * hubkey-cloud device twins (cloud/common/hkc_twin.c), the one merge rule the
 * broker plugin and the CLI share: known answers for merge patches and
 * versions on a real database, and every refusal (no such device, a patch
 * that is not an object, a failed read, a failed write).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hkc_db.h"
#include "hkc_twin.h"
#include "hkc_util.h"

static char dir[] = "/tmp/hkc-twin-XXXXXX";

static sqlite3 *fresh_db(const char *name)
{
    char *path = hkc_printf("%s/%s.db", dir, name);
    sqlite3 *db = hkc_db_open(path);
    free(path);
    HK_CHECK(db != NULL);
    HK_CHECK_EQ(hkc_db_exec(db, "INSERT INTO devices(hub, device_id) VALUES(?,?),(?,?)", "ssss",
                            "hub-a.example", "dev1", "hub-a.example", "dev2"),
                2);
    return db;
}

static json_t *device(sqlite3 *db, const char *device_id)
{
    return hkc_db_row(db, "SELECT * FROM devices WHERE hub='hub-a.example' AND device_id=?",
                      "s", device_id);
}

/* Checks one device's stored part against JSON text and a version. */
static void check_stored(sqlite3 *db, const char *device_id, enum hkc_twin_part part,
                         const char *want_json, int64_t want_version)
{
    json_t *row = device(db, device_id);
    HK_CHECK(row != NULL);
    json_t *props = hkc_twin_props(row, part);
    json_t *want = json_loads(want_json, 0, NULL);
    HK_CHECK(want != NULL);
    HK_CHECK(json_equal(props, want));
    HK_CHECK_EQ(hkc_row_int(row, part == HKC_TWIN_DESIRED ? "desired_version"
                                                          : "reported_version"),
                want_version);
    json_decref(want);
    json_decref(props);
    json_decref(row);
}

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    HK_CHECK(j != NULL);
    return j;
}

static void test_props_and_doc(void)
{
    sqlite3 *db = fresh_db("doc");
    /* No row: empty properties, versions 0. */
    json_t *p = hkc_twin_props(NULL, HKC_TWIN_DESIRED);
    HK_CHECK(json_is_object(p) && json_object_size(p) == 0);
    json_decref(p);
    json_t *doc = hkc_twin_doc(NULL);
    json_t *want = parse("{\"desired\":{\"$version\":0},\"reported\":{\"$version\":0}}");
    HK_CHECK(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    /* A new device: the schema's empty objects at version 1. */
    json_t *row = device(db, "dev1");
    doc = hkc_twin_doc(row);
    want = parse("{\"desired\":{\"$version\":1},\"reported\":{\"$version\":1}}");
    HK_CHECK(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    json_decref(row);
    /* Stored properties with their versions, in that order of members. */
    HK_CHECK_EQ(hkc_db_exec(db, "UPDATE devices SET desired='{\"fw\":\"1.2\"}', desired_version=4,"
                                " reported='{\"temp\":21}', reported_version=9 WHERE "
                                "device_id='dev1'",
                            NULL),
                1);
    row = device(db, "dev1");
    doc = hkc_twin_doc(row);
    char *text = json_dumps(doc, JSON_COMPACT);
    HK_CHECK(text && strcmp(text, "{\"desired\":{\"fw\":\"1.2\",\"$version\":4},"
                                  "\"reported\":{\"temp\":21,\"$version\":9}}") == 0);
    free(text);
    json_decref(doc);
    json_decref(row);
    /* Stored text that is not an object (a database edited by hand) reads
     * as empty properties. */
    HK_CHECK_EQ(hkc_db_exec(db, "UPDATE devices SET desired='[1,2]', reported='not json' "
                                "WHERE device_id='dev1'",
                            NULL),
                1);
    row = device(db, "dev1");
    doc = hkc_twin_doc(row);
    want = parse("{\"desired\":{\"$version\":4},\"reported\":{\"$version\":9}}");
    HK_CHECK(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    json_decref(row);
    hkc_db_close(db);
}

static void test_update_merges_and_counts(void)
{
    sqlite3 *db = fresh_db("update");
    json_t *patch = parse("{\"a\":1,\"b\":{\"c\":2},\"s\":\"x\"}");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, patch), 2);
    json_decref(patch);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{\"a\":1,\"b\":{\"c\":2},\"s\":\"x\"}", 2);
    /* null deletes, objects merge member by member, other values replace,
     * '$' members (the version a device or service sends) are ignored. */
    patch = parse("{\"a\":null,\"b\":{\"d\":3},\"s\":[1],\"$version\":77,\"gone\":null}");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, patch), 3);
    json_decref(patch);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{\"b\":{\"c\":2,\"d\":3},\"s\":[1]}", 3);
    /* A non-object member replaced by an object becomes that object. */
    patch = parse("{\"s\":{\"k\":null,\"v\":1}}");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, patch), 4);
    json_decref(patch);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{\"b\":{\"c\":2,\"d\":3},\"s\":{\"v\":1}}", 4);
    /* An empty patch still counts as a change. */
    patch = json_object();
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, patch), 5);
    json_decref(patch);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{\"b\":{\"c\":2,\"d\":3},\"s\":{\"v\":1}}", 5);
    /* The reported part has a version of its own; the other part and the
     * other device stay as they were. */
    patch = parse("{\"temp\":21.5}");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_REPORTED, patch), 2);
    json_decref(patch);
    check_stored(db, "dev1", HKC_TWIN_REPORTED, "{\"temp\":21.5}", 2);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{\"b\":{\"c\":2,\"d\":3},\"s\":{\"v\":1}}", 5);
    check_stored(db, "dev2", HKC_TWIN_DESIRED, "{}", 1);
    check_stored(db, "dev2", HKC_TWIN_REPORTED, "{}", 1);
    /* Stored text that is not an object is replaced by the patch applied to
     * empty properties. */
    HK_CHECK_EQ(hkc_db_exec(db, "UPDATE devices SET reported='[1]' WHERE device_id='dev2'", NULL),
                1);
    patch = parse("{\"x\":true}");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev2", HKC_TWIN_REPORTED, patch), 2);
    json_decref(patch);
    check_stored(db, "dev2", HKC_TWIN_REPORTED, "{\"x\":true}", 2);
    hkc_db_close(db);
}

static int errors;

static void count_error(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
    errors++;
}

static void test_update_refusals(void)
{
    sqlite3 *db = fresh_db("refusals");
    json_t *patch = parse("{\"a\":1}");
    /* No such device: names are compared exactly (the plugin and the CLI
     * pass the hub name as stored). Nothing is written. */
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev3", HKC_TWIN_DESIRED, patch), 0);
    HK_CHECK_EQ(hkc_twin_update(db, "HUB-A.example", "dev1", HKC_TWIN_DESIRED, patch), 0);
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "DEV1", HKC_TWIN_REPORTED, patch), 0);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{}", 1);
    check_stored(db, "dev1", HKC_TWIN_REPORTED, "{}", 1);
    /* A patch that is not an object. */
    json_t *arr = parse("[{\"a\":1}]");
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, arr), -1);
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, NULL), -1);
    json_decref(arr);
    check_stored(db, "dev1", HKC_TWIN_DESIRED, "{}", 1);

    hkc_db_set_error_hook(count_error, NULL);
    /* A failed write: nothing changes, the error goes to the hook. */
    errors = 0;
    HK_CHECK(hkc_db_exec(db, "CREATE TRIGGER no_update BEFORE UPDATE ON devices BEGIN "
                             "SELECT RAISE(ABORT, 'read-only'); END",
                         NULL) >= 0);
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_REPORTED, patch), -1);
    HK_CHECK_EQ(errors, 1);
    HK_CHECK(hkc_db_exec(db, "DROP TRIGGER no_update", NULL) >= 0);
    check_stored(db, "dev1", HKC_TWIN_REPORTED, "{}", 1);
    /* A failed read. */
    errors = 0;
    HK_CHECK(hkc_db_exec(db, "DROP TABLE devices", NULL) >= 0);
    HK_CHECK_EQ(hkc_twin_update(db, "hub-a.example", "dev1", HKC_TWIN_DESIRED, patch), -1);
    HK_CHECK_EQ(errors, 1);
    hkc_db_set_error_hook(NULL, NULL);
    json_decref(patch);
    hkc_db_close(db);
}

int main(void)
{
    HK_CHECK(mkdtemp(dir) != NULL);
    HK_RUN(test_props_and_doc);
    HK_RUN(test_update_merges_and_counts);
    HK_RUN(test_update_refusals);
    char *rm = hkc_printf("rm -rf %s", dir);
    HK_CHECK_EQ(system(rm), 0);
    free(rm);
    return hk_test_finish("cloud_twin");
}
