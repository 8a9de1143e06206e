/*
 * Test-only helpers for the TLS tests: a software hk_se (OpenSSL holds the
 * key, independent of the mbedTLS under test), a POSIX TCP transport that
 * can cut the stream after N received bytes, scripted fake transports, and
 * an `openssl s_server` started on a random loopback port.
 */
#ifndef HK_TLS_TEST_SUPPORT_H
#define HK_TLS_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hubkey/se.h"
#include "hubkey/tls.h"
#include "hubkey/transport.h"

/* Reads a whole file; appends a NUL (not counted in *out_len unless
 * with_nul). Returns false when unreadable or too big. */
bool tt_read_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len, bool with_nul);

/* --- software secure element ------------------------------------------------ */
typedef struct tt_se {
    uint8_t cert[2][2048];
    size_t cert_len[2];
    void *key; /* EVP_PKEY */
    unsigned signs;
    hk_result fail_sign;   /* returned by sign_digest when not HK_OK */
    hk_result fail_cert;   /* returned by cert when not HK_OK */
    hk_result fail_random; /* returned by random when not HK_OK */
    bool no_signer;        /* cert(1) answers HK_ERR_NOT_FOUND (leaf-only device) */
} tt_se;

/* Loads device.der, signer.der and device.key from dir (device_name lets a
 * test use another device certificate, e.g. "device384"). */
bool tt_se_open(tt_se *se, const char *dir, const char *device_name);
void tt_se_close(tt_se *se);
hk_se tt_se_iface(tt_se *se);

/* --- TCP transport ------------------------------------------------------------ */
typedef struct tt_tcp {
    int fd;
    size_t cut_after; /* 0 = never; else report HK_ERR_CLOSED after this many received bytes */
    size_t received;
} tt_tcp;

bool tt_tcp_connect(tt_tcp *t, int port);
void tt_tcp_close(tt_tcp *t);
hk_transport tt_tcp_transport(tt_tcp *t);

/* --- scripted fake transport ------------------------------------------------------ */
typedef struct tt_fake {
    const uint8_t *script; /* bytes the "server" sends */
    size_t script_len;
    size_t pos;
    size_t chunk;       /* at most this many bytes per recv (0 = no limit) */
    hk_result at_end;   /* what recv reports when the script is used up */
    size_t sent_total;  /* bytes the client sent */
    bool stall_once;    /* alternate 0-byte results to exercise "try again" */
    bool stalled;
    hk_result send_error; /* not HK_OK: every send fails with it (the peer is gone) */
} tt_fake;

hk_transport tt_fake_transport(tt_fake *f);

/* --- openssl s_server ------------------------------------------------------------- */
typedef struct tt_server {
    pid_t pid;
    int port;
    int out_fd;
    int in_fd;
} tt_server;

/* Starts `openssl s_server -accept 127.0.0.1:0 -naccept 1 <args...>` in dir
 * and waits until it prints its ACCEPT line (the port it bound). args ends
 * with NULL. */
bool tt_server_start(tt_server *s, const char *dir, const char *const *args);
void tt_server_stop(tt_server *s);

/* Drives hk_tls_handshake until done or error, waiting on fd for readiness
 * (fd < 0: no waiting, for fakes). Gives up with HK_ERR_TIMEOUT after
 * max_steps attempts. */
hk_result tt_handshake(hk_tls *tls, int fd, unsigned max_steps);

#endif /* HK_TLS_TEST_SUPPORT_H */
