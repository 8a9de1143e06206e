/*
 * Device twins as hubkey-cloud stores them: each row of `devices` holds the
 * desired and the reported properties as JSON text, each with a version that
 * starts at 1 and grows by one per change. The broker plugin (reported
 * patches from devices, twin GET) and the CLI (desired patches, twin show)
 * read and change them only through here, so both follow one rule: a patch
 * is a JSON merge patch (hkc_json_merge: members replace, null deletes,
 * objects merge, '$' members ignored) and every patch bumps the version.
 */
#ifndef HKC_TWIN_H
#define HKC_TWIN_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

enum hkc_twin_part { HKC_TWIN_DESIRED, HKC_TWIN_REPORTED };

/* The properties of one part from a `devices` row (as hkc_db_row returns
 * it): a new object, empty when row is NULL or the stored text is not a JSON
 * object. The caller owns it. */
json_t *hkc_twin_props(const json_t *row, enum hkc_twin_part part);

/* The twin document IoT Hub answers a GET with, from a `devices` row:
 * {"desired":{...,"$version":n},"reported":{...,"$version":m}}
 * (versions 0 when row is NULL). The caller owns it. */
json_t *hkc_twin_doc(const json_t *row);

/* Applies patch (a JSON object) to one part of the twin of device_id in hub
 * (names compared exactly) and stores the result with the part's version
 * incremented. Runs no transaction of its own: callers that need the read
 * and the write to be atomic wrap it in hkc_db_begin/commit.
 * Returns the new version (>= 1); 0 when no such device exists; -1 when
 * patch is not an object or the database failed (reported through the
 * hkc_db error hook), in which case nothing was written. */
int64_t hkc_twin_update(sqlite3 *db, const char *hub, const char *device_id,
                        enum hkc_twin_part part, const json_t *patch);

#endif /* HKC_TWIN_H */
