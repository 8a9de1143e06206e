/*
 * hubkey — the byte-stream transport interface.
 *
 * A transport is a context pointer plus two functions. The MQTT session
 * engine talks to one; the TLS client is one (layered over another); the
 * ports provide the TCP one. Tests use fakes that split, drop or corrupt.
 *
 * Return rules, exact:
 *   send: HK_OK with *out_sent = number of bytes accepted (0 = would block,
 *         try again later; never more than len). Any error is fatal for the
 *         connection.
 *   recv: HK_OK with *out_received = bytes written into buf (0 = nothing yet,
 *         try again later). HK_ERR_CLOSED when the peer closed the stream
 *         cleanly; any other error is fatal for the connection.
 * Neither function blocks for long: a transport that needs to wait returns 0
 * bytes and lets the caller's loop decide (engines compute their own deadlines).
 *
 * Ownership: the transport does not keep buf after the call returns.
 */
#ifndef HUBKEY_TRANSPORT_H
#define HUBKEY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hk_transport {
    void *ctx;
    HK_NODISCARD hk_result (*send)(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent);
    HK_NODISCARD hk_result (*recv)(void *ctx, uint8_t *buf, size_t cap, size_t *out_received);
} hk_transport;

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_TRANSPORT_H */
