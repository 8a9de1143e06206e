/*
 * SQLite access for hubkey-cloud. WAL lets the CLI read while the broker
 * writes; synchronous=NORMAL keeps a registration at a few hundred
 * microseconds (a crash may lose the last commits, which is acceptable for a
 * development cloud); the busy timeout covers the short write locks taken by
 * the other process.
 */
#define _GNU_SOURCE
#include "hkc_db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkc_util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT);"
    /* Uploaded, verified CA certificates (roots and intermediates). */
    "CREATE TABLE IF NOT EXISTS cas(sha256 TEXT PRIMARY KEY, subject TEXT, pem TEXT NOT NULL,"
    " created TEXT);"
    /* kind: group | individual. For a group, cert is the CA it names; for an
     * individual enrollment, the device's own certificate. */
    "CREATE TABLE IF NOT EXISTS enrollments(kind TEXT NOT NULL, name TEXT NOT NULL,"
    " cert_pem TEXT NOT NULL, sha1 TEXT, sha256 TEXT, device_id TEXT, enabled INTEGER NOT NULL,"
    " allocation TEXT NOT NULL, hubs TEXT, reprovision TEXT NOT NULL, initial_twin TEXT,"
    " payload TEXT, created TEXT, trust_bundle TEXT, PRIMARY KEY(kind, name));"
    "CREATE TABLE IF NOT EXISTS hubs(name TEXT PRIMARY KEY, weight INTEGER NOT NULL DEFAULT 1,"
    " apply_allocation INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE IF NOT EXISTS devices(hub TEXT NOT NULL, device_id TEXT NOT NULL,"
    " enabled INTEGER NOT NULL DEFAULT 1, sha1 TEXT, sha256 TEXT, cert_pem TEXT,"
    " desired TEXT NOT NULL DEFAULT '{}', desired_version INTEGER NOT NULL DEFAULT 1,"
    " reported TEXT NOT NULL DEFAULT '{}', reported_version INTEGER NOT NULL DEFAULT 1,"
    " source TEXT, created TEXT, PRIMARY KEY(hub, device_id));"
    "CREATE TABLE IF NOT EXISTS registrations(reg_id TEXT PRIMARY KEY COLLATE NOCASE,"
    " enrollment_kind TEXT, enrollment_name TEXT, hub TEXT, initial_hub TEXT, device_id TEXT,"
    " status TEXT, substatus TEXT, created TEXT, updated TEXT, etag TEXT,"
    " count INTEGER NOT NULL DEFAULT 0, error_code INTEGER, error_message TEXT);"
    "CREATE TABLE IF NOT EXISTS operations(op_id TEXT PRIMARY KEY, reg_id TEXT, result TEXT,"
    " created TEXT);"
    "CREATE TABLE IF NOT EXISTS telemetry(id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT,"
    " device_id TEXT, props TEXT, body BLOB, time TEXT);"
    "CREATE INDEX IF NOT EXISTS telemetry_device ON telemetry(device_id);"
    /* kind: c2d | twin | method; state: queued | sent | done. */
    "CREATE TABLE IF NOT EXISTS commands(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT,"
    " hub TEXT, device_id TEXT, name TEXT, payload TEXT, props TEXT, timeout_ms INTEGER,"
    " state TEXT NOT NULL DEFAULT 'queued', status INTEGER, response TEXT, created TEXT);"
    "CREATE INDEX IF NOT EXISTS commands_state ON commands(state);"
    "CREATE INDEX IF NOT EXISTS commands_device ON commands(device_id);"
    /* Hub connections as the broker plugin saw them: connected now (0/1), the
     * times of the last connect and disconnect, last_seen the later of them. */
    "CREATE TABLE IF NOT EXISTS connections(hub TEXT NOT NULL, device_id TEXT NOT NULL,"
    " connected INTEGER NOT NULL DEFAULT 0, last_connect TEXT, last_disconnect TEXT,"
    " last_seen TEXT, PRIMARY KEY(hub, device_id));"
    "CREATE INDEX IF NOT EXISTS registrations_device ON registrations(device_id);";

static void (*error_hook)(void *ud, const char *msg);
static void *error_hook_ud;

void hkc_db_set_error_hook(void (*fn)(void *ud, const char *msg), void *ud)
{
    error_hook = fn;
    error_hook_ud = ud;
}

static void sql_error(sqlite3 *db)
{
    const char *msg = sqlite3_errmsg(db);
    if (error_hook)
        error_hook(error_hook_ud, msg);
    else
        fprintf(stderr, "hubkey-cloud: sql error: %s\n", msg);
}

/* Columns added after the first release, for state directories made before:
 * enrollments.trust_bundle (PEM CA certificates returned to devices). */
static bool migrate(sqlite3 *db, char **err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('enrollments') WHERE "
                               "name='trust_bundle'", -1, &st, NULL) != SQLITE_OK)
        return false;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return true;
    return sqlite3_exec(db, "ALTER TABLE enrollments ADD COLUMN trust_bundle TEXT", NULL, NULL,
                        err) == SQLITE_OK;
}

sqlite3 *hkc_db_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "hubkey-cloud: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &err) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK || !migrate(db, &err)) {
        fprintf(stderr, "hubkey-cloud: database %s: %s\n", path, err ? err : "error");
        sqlite3_free(err);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void hkc_db_close(sqlite3 *db)
{
    sqlite3_close(db);
}

static sqlite3_stmt *prepare_v(sqlite3 *db, const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sql_error(db);
        return NULL;
    }
    int idx = 1;
    for (const char *t = types ? types : ""; *t; t++, idx++) {
        if (*t == 's') {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, idx);
        } else if (*t == 'i') {
            sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
        } else if (*t == 'b') {
            const void *p = va_arg(ap, const void *);
            int len = va_arg(ap, int);
            sqlite3_bind_blob(st, idx, p ? p : "", len, SQLITE_TRANSIENT);
        }
    }
    return st;
}

int hkc_db_exec(sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = prepare_v(db, sql, types, ap);
    va_end(ap);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        sql_error(db);
        return -1;
    }
    return sqlite3_changes(db);
}

static json_t *query_v(sqlite3 *db, const char *sql, const char *types, va_list ap, bool first)
{
    sqlite3_stmt *st = prepare_v(db, sql, types, ap);
    if (!st)
        return NULL;
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        int n = sqlite3_column_count(st);
        for (int i = 0; i < n; i++) {
            const char *name = sqlite3_column_name(st, i);
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v = json_integer(sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                v = json_real(sqlite3_column_double(st, i));
                break;
            case SQLITE_TEXT:
                v = json_stringn((const char *)sqlite3_column_text(st, i),
                                 (size_t)sqlite3_column_bytes(st, i));
                if (!v) /* not UTF-8 */
                    v = json_null();
                break;
            case SQLITE_BLOB: {
                char *b = hkc_base64(sqlite3_column_blob(st, i),
                                     (size_t)sqlite3_column_bytes(st, i));
                v = json_string(b);
                free(b);
                break;
            }
            default:
                v = json_null();
            }
            json_object_set_new(row, name, v);
        }
        json_array_append_new(rows, row);
        if (first)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sql_error(db);
        json_decref(rows);
        rows = NULL;
    }
    sqlite3_finalize(st);
    return rows;
}

json_t *hkc_db_query(sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    json_t *rows = query_v(db, sql, types, ap, false);
    va_end(ap);
    return rows;
}

json_t *hkc_db_row(sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    json_t *rows = query_v(db, sql, types, ap, true);
    va_end(ap);
    if (!rows)
        return NULL;
    json_t *row = json_array_get(rows, 0);
    json_incref(row);
    json_decref(rows);
    return row;
}

char *hkc_db_setting(sqlite3 *db, const char *key)
{
    json_t *row = hkc_db_row(db, "SELECT value FROM settings WHERE key=?", "s", key);
    char *v = hkc_strdup(hkc_row_str(row, "value"));
    json_decref(row);
    return v;
}

int64_t hkc_db_setting_int(sqlite3 *db, const char *key, int64_t dflt)
{
    char *v = hkc_db_setting(db, key);
    if (!v)
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    int64_t r = (*v && !*end) ? (int64_t)n : dflt;
    free(v);
    return r;
}

double hkc_db_setting_real(sqlite3 *db, const char *key, double dflt)
{
    char *v = hkc_db_setting(db, key);
    if (!v)
        return dflt;
    char *end;
    double d = strtod(v, &end);
    double r = (*v && !*end) ? d : dflt;
    free(v);
    return r;
}

bool hkc_db_set(sqlite3 *db, const char *key, const char *value)
{
    if (!value)
        return hkc_db_exec(db, "DELETE FROM settings WHERE key=?", "s", key) >= 0;
    return hkc_db_exec(db, "INSERT INTO settings(key,value) VALUES(?,?) "
                           "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       "ss", key, value) >= 0;
}

bool hkc_db_connection_set(sqlite3 *db, const char *hub, const char *device_id, bool connected)
{
    char now[40];
    hkc_time_utc(now, sizeof(now));
    return hkc_db_exec(db,
                       "INSERT INTO connections(hub,device_id,connected,last_connect,"
                       "last_disconnect,last_seen) VALUES(?1,?2,?3,CASE WHEN ?3 THEN ?4 END,"
                       "CASE WHEN ?3 THEN NULL ELSE ?4 END,?4) ON CONFLICT(hub,device_id) DO "
                       "UPDATE SET connected=?3, last_seen=?4, last_connect=CASE WHEN ?3 THEN ?4 "
                       "ELSE last_connect END, last_disconnect=CASE WHEN ?3 THEN last_disconnect "
                       "ELSE ?4 END",
                       "ssis", hub, device_id, (int64_t)connected, now) >= 0;
}

bool hkc_db_connections_reset(sqlite3 *db)
{
    char now[40];
    hkc_time_utc(now, sizeof(now));
    return hkc_db_exec(db,
                       "UPDATE connections SET connected=0, last_disconnect=?1, last_seen=?1 "
                       "WHERE connected<>0",
                       "s", now) >= 0;
}

const char *hkc_row_str(const json_t *row, const char *col)
{
    return json_string_value(json_object_get(row, col));
}

int64_t hkc_row_int(const json_t *row, const char *col)
{
    return (int64_t)json_integer_value(json_object_get(row, col));
}

bool hkc_db_begin(sqlite3 *db)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
        return true;
    sql_error(db);
    return false;
}

bool hkc_db_commit(sqlite3 *db)
{
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return true;
    sql_error(db);
    return false;
}

void hkc_db_rollback(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
