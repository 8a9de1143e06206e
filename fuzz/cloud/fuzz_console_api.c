/*
 * libFuzzer harness for what the console does with a request's arguments
 * and body, without HTTP: the device list's search, sort and paging, and
 * the actions' JSON bodies (C2D, desired patch, enable) through the same
 * functions as the CLI, against an in-memory database holding a few
 * devices. A direct method would wait for a device, so only its checks
 * (name and payload) run here.
 *
 * Input: one byte choosing the request, then its text. For the list, the
 * text is `q \n sort \n offset \n limit \n desc`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hkc_actions.h"
#include "hkc_console_api.h"
#include "hkc_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;

static void setup(void)
{
    db = hkc_db_open(":memory:");
    if (!db)
        abort();
    hkc_db_exec(db, "INSERT INTO hubs(name) VALUES('hub-1'),('hub-2')", NULL);
    hkc_db_exec(db, "INSERT INTO devices(hub,device_id) VALUES('hub-1','a'),('hub-2','a'),"
                    "('hub-1','b')",
                NULL);
    hkc_db_connection_set(db, "hub-1", "b", true);
    hkc_db_exec(db, "INSERT INTO telemetry(hub,device_id,body,time) VALUES('hub-1','b',x'7b7d','t')",
                NULL);
}

static char *field(char **cursor)
{
    char *start = *cursor;
    if (!start)
        return NULL;
    char *nl = strchr(start, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = NULL;
    }
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        setup();
    if (size < 1)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    static const char *const actions[] = {"c2d", "twin", "enable", "nothing"};
    unsigned which = data[0] % 6;
    if (which < 4) {
        json_t *req = json_loads(s, JSON_DECODE_ANY, NULL);
        json_t *out = NULL;
        int status = hkc_console_action(db, actions[which], req, &out);
        if (status < 200 || status > 599 || !json_is_object(out))
            abort(); /* every request gets an HTTP status and a JSON object */
        if (status != 200 && !json_is_string(json_object_get(out, "error")))
            abort();
        json_decref(out);
        json_decref(req);
    } else if (which == 4) {
        char *cursor = s;
        char *name = field(&cursor);
        char *err = NULL;
        int rc = hkc_act_method_check(name, cursor, &err);
        if ((rc == HKC_ACT_OK) != (err == NULL))
            abort();
        free(err);
    } else {
        char *cursor = s;
        char *q = field(&cursor), *sort = field(&cursor), *off = field(&cursor),
             *lim = field(&cursor), *desc = field(&cursor);
        const char *err = NULL;
        json_t *page = hkc_console_devices(db, q, sort && *sort ? sort : NULL, desc && *desc == '1',
                                           off ? strtoll(off, NULL, 10) : 0,
                                           lim ? strtoll(lim, NULL, 10) : 50, &err);
        if (!page == !err)
            abort(); /* a page or a reason, never both or neither */
        json_decref(page);
    }
    /* Keep the queue from filling up: the C2D limit is tested elsewhere. */
    hkc_db_exec(db, "DELETE FROM commands", NULL);
    free(s);
    return 0;
}
