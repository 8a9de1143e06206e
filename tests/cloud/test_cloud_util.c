/*
 * hubkey-cloud shared helpers: known answers (usernames and topics from the
 * protocol reference, section D) and every rejection branch of the parsers.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hkc_db.h"
#include "hkc_util.h"

static void test_dps_username(void)
{
    struct hkc_username u;
    HK_CHECK(hkc_username_parse(
        "0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31", &u));
    HK_CHECK_EQ(u.role, HKC_ROLE_DPS);
    HK_CHECK(strcmp(u.scope, "0ne00000000") == 0);
    HK_CHECK(strcmp(u.reg_id, "sn0123ABCD4567EF01") == 0);
    HK_CHECK(strcmp(u.api_version, "2019-03-31") == 0);
    hkc_username_clear(&u);
    HK_CHECK(hkc_username_parse("0neFEEDC0DE/registrations/myRegistrationId/"
                                "api-version=2019-03-31&ClientVersion=c/1.2.3",
                                &u));
    HK_CHECK(strcmp(u.reg_id, "myRegistrationId") == 0);
    HK_CHECK(strcmp(u.api_version, "2019-03-31") == 0);
    hkc_username_clear(&u);
    HK_CHECK(hkc_username_parse("s/registrations/d/api-version=2025-07-01-preview", &u));
    HK_CHECK(strcmp(u.api_version, "2025-07-01-preview") == 0);
    hkc_username_clear(&u);
}

static void test_hub_username(void)
{
    struct hkc_username u;
    HK_CHECK(hkc_username_parse("contoso.azure-devices.net/sn0123ABCD4567EF01/"
                                "?api-version=2020-09-30&DeviceClientType=azsdk-c%2F1.6.0-beta.1",
                                &u));
    HK_CHECK_EQ(u.role, HKC_ROLE_HUB);
    HK_CHECK(strcmp(u.hub, "contoso.azure-devices.net") == 0);
    HK_CHECK(strcmp(u.device_id, "sn0123ABCD4567EF01") == 0);
    HK_CHECK(u.module_id == NULL);
    HK_CHECK(strcmp(u.api_version, "2020-09-30") == 0);
    hkc_username_clear(&u);
    HK_CHECK(hkc_username_parse(
        "contoso.azure-devices.net/sn0123ABCD4567EF01/mod1/?api-version=2020-09-30", &u));
    HK_CHECK(strcmp(u.module_id, "mod1") == 0);
    hkc_username_clear(&u);
}

static void test_username_rejections(void)
{
    static const char *const bad[] = {
        "",
        "nothing",
        "/registrations/x/api-version=1",
        "s/registrations//api-version=1",
        "s/registrations/x/",
        "s/registrations/x/api-version=",
        "s/registrations/bad!id/api-version=1",
        "s/registrations/endsdot./api-version=1",
        "hub/dev/?nothing=1",
        "hub//?api-version=1",
        "hub/dev/?api-version=",
        "hub/de#v/?api-version=1",
        "hub/dev//?api-version=1",
        "hub/dev/a/b/?api-version=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hkc_username u;
        bool ok = hkc_username_parse(bad[i], &u);
        if (ok)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        HK_CHECK(!ok);
        HK_CHECK(u.role == HKC_ROLE_NONE && u.reg_id == NULL && u.device_id == NULL);
    }
    struct hkc_username u;
    HK_CHECK(!hkc_username_parse(NULL, &u));
    char longname[1100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    HK_CHECK(!hkc_username_parse(longname, &u));
}

static void test_ids(void)
{
    HK_CHECK(hkc_reg_id_valid("sn0123abcd4567ef01"));
    HK_CHECK(hkc_reg_id_valid("a.b_c:d-"));
    HK_CHECK(!hkc_reg_id_valid("a_"));
    HK_CHECK(!hkc_reg_id_valid(""));
    char r65[66];
    memset(r65, 'a', 65);
    r65[65] = '\0';
    HK_CHECK(!hkc_reg_id_valid(r65));
    r65[64] = '\0';
    HK_CHECK(hkc_reg_id_valid(r65));
    HK_CHECK(hkc_device_id_valid("my_device"));
    HK_CHECK(hkc_device_id_valid("a-.%_*?!(),:=@$'"));
    HK_CHECK(!hkc_device_id_valid("a+b"));
    HK_CHECK(!hkc_device_id_valid("a#b"));
    HK_CHECK(!hkc_device_id_valid("a/b"));
    HK_CHECK(!hkc_device_id_valid("\xc3\xa9"));
}

static void test_query_and_url(void)
{
    char *v = hkc_query_get("$rid=1&retry-after=3", "retry-after");
    HK_CHECK(v && strcmp(v, "3") == 0);
    free(v);
    v = hkc_query_get("retry-after=120&$rid=1", "$rid");
    HK_CHECK(v && strcmp(v, "1") == 0);
    free(v);
    HK_CHECK(hkc_query_get("$rid=1", "rid") == NULL);
    HK_CHECK(hkc_query_get("$ridx=1", "$rid") == NULL);
    HK_CHECK(hkc_query_get("", "$rid") == NULL);
    v = hkc_url_decode("%2Fdevices%2Fa%20b");
    HK_CHECK(v && strcmp(v, "/devices/a b") == 0);
    free(v);
    HK_CHECK(hkc_url_decode("%") == NULL);
    HK_CHECK(hkc_url_decode("%2") == NULL);
    HK_CHECK(hkc_url_decode("%zz") == NULL);
    HK_CHECK(hkc_url_decode("%00") == NULL);
    v = hkc_url_encode("dtmi:com:example:Thermostat;1");
    HK_CHECK(v && strcmp(v, "dtmi%3Acom%3Aexample%3AThermostat%3B1") == 0);
    free(v);
}

static void test_props(void)
{
    json_t *p = hkc_props_decode("%24.ct=application%2Fjson&%24.ce=utf-8&%24.mid=1&"
                                 "temp%20alert=high%26hot&flag&empty=");
    HK_CHECK(p != NULL);
    HK_CHECK(strcmp(json_string_value(json_object_get(p, "$.ct")) ?: "", "application/json") == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(p, "temp alert")) ?: "", "high&hot") == 0);
    HK_CHECK(json_is_null(json_object_get(p, "flag")));
    HK_CHECK(strcmp(json_string_value(json_object_get(p, "empty")) ?: "x", "") == 0);
    char *bag = hkc_props_encode(p);
    json_t *back = hkc_props_decode(bag);
    HK_CHECK(json_equal(p, back));
    free(bag);
    json_decref(back);
    json_decref(p);
    p = hkc_props_decode("");
    HK_CHECK(p && json_object_size(p) == 0);
    json_decref(p);
    HK_CHECK(hkc_props_decode("a=1&&b=2") == NULL);
    HK_CHECK(hkc_props_decode("=1") == NULL);
    HK_CHECK(hkc_props_decode("a=%zz") == NULL);
    HK_CHECK(hkc_props_decode("a%zz=1") == NULL);
}

static void test_merge(void)
{
    json_t *t = json_loads("{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":4}", 0, NULL);
    json_t *p = json_loads("{\"a\":null,\"b\":{\"c\":null,\"x\":1},\"e\":[1],\"$version\":9}", 0,
                           NULL);
    HK_CHECK(hkc_json_merge(t, p));
    json_t *want = json_loads("{\"b\":{\"d\":3,\"x\":1},\"e\":[1]}", 0, NULL);
    HK_CHECK(json_equal(t, want));
    HK_CHECK(!hkc_json_merge(t, json_array_get(json_object_get(t, "e"), 0)));
    json_decref(t);
    json_decref(p);
    json_decref(want);
}

static void test_base64_and_ids(void)
{
    char *b = hkc_base64((const uint8_t *)"hubkey", 6);
    HK_CHECK(strcmp(b, "aHVia2V5") == 0);
    size_t n = 0;
    uint8_t *d = hkc_base64_decode(b, &n);
    HK_CHECK(d && n == 6 && memcmp(d, "hubkey", 6) == 0);
    free(d);
    free(b);
    d = hkc_base64_decode("aHViaw==", &n);
    HK_CHECK(d && n == 4 && memcmp(d, "hubk", 4) == 0);
    free(d);
    HK_CHECK(hkc_base64_decode("abc", &n) == NULL);
    HK_CHECK(hkc_base64_decode("ab=c", &n) == NULL);
    HK_CHECK(hkc_base64_decode("a!cd", &n) == NULL);
    HK_CHECK(hkc_base64_decode("", &n) == NULL);
    char *op = hkc_operation_id();
    HK_CHECK(strlen(op) == 2 + 16 + 1 + 36 && strncmp(op, "4.", 2) == 0);
    free(op);
    char *u = hkc_uuid();
    HK_CHECK(strlen(u) == 36 && u[14] == '4');
    free(u);
    char ts[40];
    hkc_time_utc(ts, sizeof(ts));
    HK_CHECK(strlen(ts) == 28 && ts[4] == '-' && ts[19] == '.' && ts[27] == 'Z');
}

static void test_hash_pick(void)
{
    const char *hubs[] = {"hub-1.hubkey.test", "hub-2.hubkey.test", "hub-3.hubkey.test"};
    int w[] = {1, 1, 1};
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof(id), "dev-%d", i);
        int k = hkc_hash_pick(id, hubs, w, 3);
        HK_CHECK(k >= 0 && k < 3);
        HK_CHECK_EQ(hkc_hash_pick(id, hubs, w, 3), k); /* stable */
        counts[k]++;
    }
    for (int i = 0; i < 3; i++)
        HK_CHECK(counts[i] > 60); /* roughly even: 100 each expected */
    /* Case-insensitive registration IDs land on the same hub. */
    HK_CHECK_EQ(hkc_hash_pick("ABC-1", hubs, w, 3), hkc_hash_pick("abc-1", hubs, w, 3));
    /* Removing a hub moves only the devices that were on it. */
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "dev-%d", i);
        int k3 = hkc_hash_pick(id, hubs, w, 3);
        int k2 = hkc_hash_pick(id, hubs, w, 2);
        if (k3 < 2)
            HK_CHECK_EQ(k2, k3);
    }
    /* A heavy weight attracts most devices. */
    int heavy[] = {1, 50};
    int on_heavy = 0;
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w-%d", i);
        on_heavy += hkc_hash_pick(id, hubs, heavy, 2) == 1;
    }
    HK_CHECK(on_heavy > 85);
    HK_CHECK_EQ(hkc_hash_pick("x", hubs, w, 0), -1);
}

static void count_error(void *ud, const char *msg)
{
    (void)msg;
    (*(int *)ud)++;
}

/* A database made before enrollments had a trust bundle gains the column
 * when opened; SQL errors go to the error hook when one is set. */
static void test_db_migration_and_errors(void)
{
    char dir[] = "/tmp/hkc-util-XXXXXX";
    HK_CHECK(mkdtemp(dir) != NULL);
    char *path = hkc_printf("%s/old.db", dir);
    sqlite3 *raw = NULL;
    HK_CHECK_EQ(sqlite3_open(path, &raw), SQLITE_OK);
    HK_CHECK_EQ(sqlite3_exec(raw,
                             "CREATE TABLE enrollments(kind TEXT NOT NULL, name TEXT NOT NULL,"
                             " cert_pem TEXT NOT NULL, sha1 TEXT, sha256 TEXT, device_id TEXT,"
                             " enabled INTEGER NOT NULL, allocation TEXT NOT NULL, hubs TEXT,"
                             " reprovision TEXT NOT NULL, initial_twin TEXT, payload TEXT,"
                             " created TEXT, PRIMARY KEY(kind, name));"
                             "INSERT INTO enrollments VALUES('group','g','pem',NULL,NULL,NULL,1,"
                             "'hashed',NULL,'migrate',NULL,NULL,NULL);",
                             NULL, NULL, NULL),
                SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = hkc_db_open(path);
    HK_CHECK(db != NULL);
    json_t *row = hkc_db_row(db, "SELECT name, trust_bundle FROM enrollments", NULL);
    HK_CHECK(strcmp(hkc_row_str(row, "name") ?: "", "g") == 0);
    HK_CHECK(json_is_null(json_object_get(row, "trust_bundle")));
    json_decref(row);
    hkc_db_close(db);
    db = hkc_db_open(path); /* a second open leaves it as it is */
    HK_CHECK(db != NULL);
    int errors = 0;
    hkc_db_set_error_hook(count_error, &errors);
    HK_CHECK(hkc_db_query(db, "SELECT * FROM no_such_table", NULL) == NULL);
    HK_CHECK_EQ(hkc_db_exec(db, "INSERT INTO nowhere VALUES(1)", NULL), -1);
    HK_CHECK_EQ(errors, 2);
    hkc_db_set_error_hook(NULL, NULL);
    hkc_db_close(db);
    char *rm = hkc_printf("rm -rf %s", dir);
    HK_CHECK_EQ(system(rm), 0);
    free(rm);
    free(path);
}

int main(void)
{
    HK_RUN(test_dps_username);
    HK_RUN(test_hub_username);
    HK_RUN(test_username_rejections);
    HK_RUN(test_ids);
    HK_RUN(test_query_and_url);
    HK_RUN(test_props);
    HK_RUN(test_merge);
    HK_RUN(test_base64_and_ids);
    HK_RUN(test_hash_pick);
    HK_RUN(test_db_migration_and_errors);
    return hk_test_finish("cloud_util");
}
