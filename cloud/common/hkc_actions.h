/*
 * hubkey-cloud actions on devices, shared by the CLI and the web console so
 * that both go through the same checks and the same database changes:
 * sending a C2D message, patching desired properties, invoking a direct
 * method and enabling or disabling a device. Each queues a row in the
 * commands table (or edits the devices table) that the broker plugin acts on
 * at its next tick.
 *
 * Every function returns HKC_ACT_OK or another hkc_act_status and, on
 * failure, a heap message in *out_err (released with free()) naming the
 * problem. The status values are the CLI's exit codes.
 */
#ifndef HKC_ACTIONS_H
#define HKC_ACTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

enum hkc_act_status {
    HKC_ACT_OK = 0,
    HKC_ACT_USAGE = 1,  /* the request is ambiguous or incomplete (device in several hubs) */
    HKC_ACT_INPUT = 2,  /* a value is malformed or too large */
    HKC_ACT_STATE = 3,  /* no such device, too many pending messages, storage error */
    HKC_ACT_METHOD = 5, /* direct method: no answer from the cloud */
};

/* Largest C2D body accepted (IoT Hub's limit is 64 KB). */
#define HKC_C2D_MAX 65536
/* C2D messages that may wait for one device. */
#define HKC_C2D_PENDING_MAX 50
/* Longest direct method name accepted. */
#define HKC_METHOD_NAME_MAX 128

/* Finds the hub of device_id: hub when given (compared case-insensitively),
 * else the only hub that has the device. *out_hub is a heap string. */
int hkc_act_resolve_hub(sqlite3 *db, const char *device_id, const char *hub, char **out_hub,
                        char **out_err);

/* Queues a C2D message (body up to HKC_C2D_MAX bytes; props a JSON object of
 * string values or NULL). *out_id gets the command's id. */
int hkc_act_c2d_send(sqlite3 *db, const char *hub, const char *device_id, const char *body,
                     const json_t *props, int64_t *out_id, char **out_err);

/* Parses a desired-properties patch: a JSON object, or {"desired":{...}}
 * (then the inner object). *out_patch is owned by the caller. */
int hkc_act_twin_patch_parse(const char *text, json_t **out_patch, char **out_err);

/* Applies patch to the device's desired properties by the twin rule
 * (hkc_twin_update: merge patch, $version + 1, into *out_version) and queues
 * the patch with its $version for a connected device, in one transaction. */
int hkc_act_twin_patch(sqlite3 *db, const char *hub, const char *device_id, const json_t *patch,
                       int64_t *out_version, char **out_err);

/* Enables or disables a device (a connected device is closed at the
 * plugin's next tick when disabled). */
int hkc_act_device_enable(sqlite3 *db, const char *hub, const char *device_id, bool enable,
                          char **out_err);

/* Checks a method name (1..HKC_METHOD_NAME_MAX bytes, none of / + # ?) and
 * its payload (any JSON text; NULL means null). */
int hkc_act_method_check(const char *name, const char *payload, char **out_err);

/* Queues a direct method call and waits for its answer (the plugin answers
 * 504 at the timeout; this gives it five more seconds). On HKC_ACT_OK,
 * *out_status is the device's (or the cloud's) status and *out_response its
 * answer text (heap, maybe ""). */
int hkc_act_method_invoke(sqlite3 *db, const char *hub, const char *device_id, const char *name,
                          const char *payload, long timeout_s, int *out_status,
                          char **out_response, char **out_err);

#endif /* HKC_ACTIONS_H */
