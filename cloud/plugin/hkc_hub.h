/*
 * hubkey-cloud plugin, Hub half: twin GET and reported PATCH, telemetry,
 * direct-method answers, and delivering the commands the CLI queued (C2D,
 * desired-property patches, direct methods).
 */
#ifndef HKC_HUB_H
#define HKC_HUB_H

#include "hkc_ctx.h"

#pragma GCC visibility push(hidden)

/* Answers a twin request: $iothub/twin/res/{status}/?$rid={rid}{extra}
 * with `body` (not consumed) or an empty payload. */
void twin_reply(struct ctx *c, struct client *cl, int status, const char *rid,
                const char *extra, json_t *body);
/* The request handlers: MOSQ_ERR_SUCCESS when answered, another code closes
 * the connection (identity removed, fault injection, malformed request). */
int hub_twin_get(struct ctx *c, struct client *cl, const char *rid);
int hub_twin_patch(struct ctx *c, struct client *cl, const char *rid, const void *payload,
                   uint32_t len);
int hub_telemetry(struct ctx *c, struct client *cl, const char *bag, const void *payload,
                  uint32_t len, bool retain);
int hub_method_response(struct ctx *c, struct client *cl, const char *status_and_query,
                        const void *payload, uint32_t len);
/* Marks a queued command done with a status and JSON response (may be NULL). */
void command_done(struct ctx *c, int64_t id, int status, const char *response);
/* Delivers the CLI's queued commands to connected devices. */
void run_commands(struct ctx *c);
/* Closes hub connections whose identity was disabled or removed. */
void enforce_identities(struct ctx *c);

#pragma GCC visibility pop

#endif
