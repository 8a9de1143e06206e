/*
 * The console's JSON API over the cloud's database, without HTTP: each
 * function reads or changes the state and returns the JSON document the
 * server sends. Values from devices are returned as they are (JSON strings);
 * escaping is the page's job (it renders with textContent only).
 */
#ifndef HKC_CONSOLE_API_H
#define HKC_CONSOLE_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

/* Largest page of the device list. */
#define HKC_CONSOLE_PAGE_MAX 500

/* Hubs with their device and connected counts, totals, registrations in
 * the last hour, the ten latest registrations, the newest telemetry id.
 * NULL on a storage error. */
json_t *hkc_console_overview(sqlite3 *db);

/* One page of the device list. q (may be NULL or "") searches device ID,
 * hub, enrollment and thumbprints (substring, case-insensitive for ASCII);
 * sort is one of device_id, hub, connected, last_seen, enrollment, status,
 * created (NULL: device_id); desc reverses it. Returns {total, offset,
 * limit, items:[...]}, or NULL with *out_err (static text) on a bad
 * argument or storage error. */
json_t *hkc_console_devices(sqlite3 *db, const char *q, const char *sort, bool desc,
                            int64_t offset, int64_t limit, const char **out_err);

/* One device: its row, connection, registration and its operations of the
 * last day, twin (desired and reported with versions), the 20 newest
 * commands and the 50 newest telemetry messages. NULL when there is none. */
json_t *hkc_console_device(sqlite3 *db, const char *hub, const char *device_id);

/* Telemetry with id > after (oldest first, at most limit, 1..1000),
 * optionally of one device. Bodies are UTF-8 text (null when they are not)
 * cut at 4096 bytes; size is the full length. */
json_t *hkc_console_telemetry(sqlite3 *db, int64_t after, const char *hub, const char *device_id,
                              int64_t limit);

/* The newest telemetry id (0 when there is none). */
int64_t hkc_console_telemetry_last(sqlite3 *db);

/* Runs an action (name: c2d, method, twin, enable) with the request's JSON
 * object through hkc_actions.h. Returns the HTTP status and sets *out_body
 * ({"ok":true,...} or {"error":"..."}). */
int hkc_console_action(sqlite3 *db, const char *name, const json_t *req, json_t **out_body);

#endif /* HKC_CONSOLE_API_H */
