/*
 * hubkey-cloud plugin, DPS half: registration (enrollment lookup, hub
 * allocation, certificate issuance from a CSR, trust bundle) and operation
 * status polls, with the registration rate and the per-device poll limit.
 */
#ifndef HKC_DPS_H
#define HKC_DPS_H

#include "hkc_ctx.h"

#pragma GCC visibility push(hidden)

/* The request handlers: MOSQ_ERR_SUCCESS when answered, another code closes
 * the connection (fault injection, malformed request). */
int dps_register(struct ctx *c, struct client *cl, const char *rid, const void *payload,
                 uint32_t len);
int dps_poll(struct ctx *c, struct client *cl, const char *rid, const char *query);
/* Drops poll-limit entries older than the window (all when it is 0). */
void polls_gc(struct ctx *c);
/* Frees the parsed CA cache. */
void cas_free(struct ctx *c);

#pragma GCC visibility pop

#endif
