/*
 * Device twins in the devices table: one merge rule for the plugin and the CLI.
 */
#include <stdlib.h>

#include "hkc_db.h"
#include "hkc_twin.h"
#include "hkc_util.h"

static const char *part_column(enum hkc_twin_part part)
{
    return part == HKC_TWIN_DESIRED ? "desired" : "reported";
}

static const char *version_column(enum hkc_twin_part part)
{
    return part == HKC_TWIN_DESIRED ? "desired_version" : "reported_version";
}

json_t *hkc_twin_props(const json_t *row, enum hkc_twin_part part)
{
    const char *text = hkc_row_str(row, part_column(part));
    json_t *props = text ? json_loads(text, 0, NULL) : NULL;
    /* The column is written only from here and by the schema's default, so
     * anything but an object means a database edited by hand: start afresh
     * rather than fail every twin request of that device. */
    if (!json_is_object(props)) {
        json_decref(props);
        props = json_object();
    }
    return props;
}

json_t *hkc_twin_doc(const json_t *row)
{
    json_t *desired = hkc_twin_props(row, HKC_TWIN_DESIRED);
    json_t *reported = hkc_twin_props(row, HKC_TWIN_REPORTED);
    json_object_set_new(desired, "$version",
                        json_integer(hkc_row_int(row, version_column(HKC_TWIN_DESIRED))));
    json_object_set_new(reported, "$version",
                        json_integer(hkc_row_int(row, version_column(HKC_TWIN_REPORTED))));
    return json_pack("{s:o,s:o}", "desired", desired, "reported", reported);
}

int64_t hkc_twin_update(sqlite3 *db, const char *hub, const char *device_id,
                        enum hkc_twin_part part, const json_t *patch)
{
    if (!json_is_object(patch))
        return -1;
    /* hkc_db_query, unlike hkc_db_row, tells "no device" (an empty array)
     * from a failed read (NULL). */
    json_t *rows = hkc_db_query(db, "SELECT * FROM devices WHERE hub=? AND device_id=?", "ss",
                                hub, device_id);
    if (!rows)
        return -1;
    json_t *row = json_array_get(rows, 0);
    if (!row) {
        json_decref(rows);
        return 0;
    }
    json_t *props = hkc_twin_props(row, part);
    hkc_json_merge(props, patch);
    int64_t version = hkc_row_int(row, version_column(part)) + 1;
    char *text = json_dumps(props, JSON_COMPACT);
    int changed = -1;
    if (text) {
        changed = part == HKC_TWIN_DESIRED
                      ? hkc_db_exec(db, "UPDATE devices SET desired=?, desired_version=? WHERE "
                                        "hub=? AND device_id=?",
                                    "siss", text, version, hub, device_id)
                      : hkc_db_exec(db, "UPDATE devices SET reported=?, reported_version=? WHERE "
                                        "hub=? AND device_id=?",
                                    "siss", text, version, hub, device_id);
    }
    free(text);
    json_decref(props);
    json_decref(rows);
    if (changed < 0)
        return -1;
    /* Removed between the read and the write (only without a transaction). */
    return changed == 0 ? 0 : version;
}
