/*
 * hubkey-cloud state in SQLite. The broker plugin and the CLI open the same
 * file (WAL mode, busy timeout), so every change the CLI makes is seen by the
 * running cloud at its next tick and vice versa.
 *
 * Tables (see hkc_db.c for the schema): settings, cas, enrollments, hubs,
 * devices, registrations, operations, telemetry, commands, connections.
 */
#ifndef HKC_DB_H
#define HKC_DB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

/* Opens (creating if needed) the database at path and applies the schema.
 * Returns NULL and prints the reason to stderr on failure. */
sqlite3 *hkc_db_open(const char *path);
void hkc_db_close(sqlite3 *db);

/* Where SQL errors go: by default one line on stderr ("hubkey-cloud: sql
 * error: ..."). The broker plugin routes them into the broker log and notes
 * that the request being handled met a storage error. The hook is process
 * wide; fn NULL restores the default. */
void hkc_db_set_error_hook(void (*fn)(void *ud, const char *msg), void *ud);

/* Runs one statement. types names the bound parameters, one letter each:
 *   s = const char * (NULL binds SQL NULL), i = int64_t, b = const void *, int len (blob).
 * Returns the number of changed rows, or -1 on error (printed to stderr). */
int hkc_db_exec(sqlite3 *db, const char *sql, const char *types, ...);

/* Runs a query and returns its rows as a JSON array of objects keyed by
 * column name (integers, reals, text; blobs as Base64 text). NULL on error.
 * The caller owns the array (json_decref). */
json_t *hkc_db_query(sqlite3 *db, const char *sql, const char *types, ...);

/* First row of a query, or NULL when there is none (caller owns it). */
json_t *hkc_db_row(sqlite3 *db, const char *sql, const char *types, ...);

/* Settings: string values by key. hkc_db_setting returns a heap string or NULL. */
char *hkc_db_setting(sqlite3 *db, const char *key);
int64_t hkc_db_setting_int(sqlite3 *db, const char *key, int64_t dflt);
double hkc_db_setting_real(sqlite3 *db, const char *key, double dflt);
bool hkc_db_set(sqlite3 *db, const char *key, const char *value);

/* Records that the broker accepted (connected true) or lost (false) the hub
 * connection of a device: connections.connected, last_connect or
 * last_disconnect, and last_seen, all at the current UTC time. */
bool hkc_db_connection_set(sqlite3 *db, const char *hub, const char *device_id, bool connected);

/* Marks every device disconnected (now): the broker starts or stops. */
bool hkc_db_connections_reset(sqlite3 *db);

/* Convenience accessors on a row object: NULL/0 when absent or of another type. */
const char *hkc_row_str(const json_t *row, const char *col);
int64_t hkc_row_int(const json_t *row, const char *col);

/* Transactions; a failure is reported through the error hook too. */
bool hkc_db_begin(sqlite3 *db);
bool hkc_db_commit(sqlite3 *db);
void hkc_db_rollback(sqlite3 *db);

#endif /* HKC_DB_H */
