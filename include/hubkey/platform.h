/*
 * hubkey — the platform surface: everything the device stack needs from the
 * system it runs on, in one place (this header includes the transport and
 * I2C interfaces, so it is the one header a port implements).
 *
 * Ten functions in all:
 *
 *   hk_platform (this header)      monotonic_ms, wall_s, wait, tcp_connect,
 *                                  tcp_close
 *   hk_transport (transport.h)     send, recv   (of a socket from tcp_connect)
 *   hk_i2c (i2c.h)                 write, read, wake
 *
 * Waiting: a port has one wait primitive, hk_platform.wait. hk_i2c also
 * carries delay_us, the same delay at microsecond resolution for the chip
 * driver, which sees only hk_i2c (and whose emulators advance a model clock
 * instead of sleeping); a port implements both with its one sleep
 * (ports/posix: hk_posix_sleep_us). The boot flow's hk_device_link.wait is
 * not a port function: the production link (hubkey/device_tls.h) passes it to
 * hk_platform.wait with its socket. Nothing in hubkey blocks inside an
 * engine's step except the chip's own command waits (bounded by each
 * command's maximum execution time, see atecc608.h) and, where the system
 * resolver is synchronous, a name lookup.

 * ports/posix implements hk_platform (ports/posix/hk_posix.h) and hk_i2c
 * (ports/posix/hk_i2c_linux.h); an ESP-IDF or bare-metal port implements the
 * same structs. Tests use fakes with an injected clock.
 *
 * Return rules, exact:
 *   monotonic_ms: milliseconds since an arbitrary start; wraps at 2^32 (every
 *       comparison in hubkey is by difference). Never goes backwards.
 *   wall_s: Unix time in seconds (UTC), or HK_PLATFORM_TIME_UNKNOWN when the
 *       clock was never set (no RTC, no SNTP answer yet). The value is passed
 *       to the TLS layer as is (HK_PLATFORM_TIME_UNKNOWN equals
 *       HK_TLS_TIME_UNKNOWN).
 *   wait: blocks until the socket has bytes to read (or was closed by the
 *       peer), or can take bytes again after a send that accepted fewer bytes
 *       than offered, or finished connecting (established or failed), or
 *       timeout_ms passed, whichever comes first. With socket == NULL it
 *       simply sleeps timeout_ms (the delay). HK_OK in every one of those
 *       cases; an error only for a socket that is not open. Used only by
 *       blocking convenience loops, never by engines.
 *   tcp_connect: starts a connection to host:port and returns at once with
 *       *out_socket, a non-blocking byte stream that follows transport.h.
 *       host is a name or a numeric IPv4/IPv6 address; a port whose
 *       resolver cannot run asynchronously may block for the name lookup
 *       only (ports/posix: getaddrinfo), never for the TCP handshake. The
 *       connection completes through polling, like a TLS handshake: while
 *       it is being made, the socket's send accepts 0 bytes and its recv
 *       gives 0 bytes (wait() on it returns when it is made or failed);
 *       once made they move bytes; when it failed they return
 *       HK_ERR_CONNECT (refused, unreachable, every resolved address
 *       tried) or HK_ERR_RESOLVE (an asynchronous name lookup found no
 *       address). A port tries each resolved address in turn. There is no
 *       timeout here: the caller bounds the whole set-up (the boot flow's
 *       policy.connect_timeout_ms covers TCP and TLS together) and closes.
 *       Immediate errors: HK_ERR_RESOLVE (no address for host),
 *       HK_ERR_CONNECT (no address could even be tried), HK_ERR_FULL (no
 *       free socket in the port), HK_ERR_INVALID_ARG. The socket's send
 *       returns 0 bytes when the kernel buffer is full; its recv returns 0
 *       bytes when nothing arrived and HK_ERR_CLOSED once the peer closed the
 *       stream.
 *   tcp_close: closes a socket from tcp_connect (connected, still
 *       connecting or failed); *socket must not be used afterwards.
 *
 * Ownership: the socket's ctx belongs to the platform; it is valid from a
 * successful tcp_connect until tcp_close. host is not kept after the call.
 */
#ifndef HUBKEY_PLATFORM_H
#define HUBKEY_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/i2c.h"
#include "hubkey/result.h"
#include "hubkey/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "Wall clock not known": the same value as HK_TLS_TIME_UNKNOWN. */
#define HK_PLATFORM_TIME_UNKNOWN INT64_MIN

typedef struct hk_platform {
    void *ctx;
    uint32_t (*monotonic_ms)(void *ctx);
    int64_t (*wall_s)(void *ctx);
    HK_NODISCARD hk_result (*wait)(void *ctx, const hk_transport *socket, uint32_t timeout_ms);
    HK_NODISCARD hk_result (*tcp_connect)(void *ctx, const char *host, uint16_t port,
                                          hk_transport *out_socket);
    void (*tcp_close)(void *ctx, const hk_transport *socket);
} hk_platform;

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_PLATFORM_H */
