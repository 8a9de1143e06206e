/*
 * TLS module: the handshake and I/O engine. mbedTLS's BIO callbacks over
 * the lower hk_transport, hk_tls_handshake, the hk_transport an established
 * connection offers (send, recv) and hk_tls_close.
 *
 * Why a file of its own: this is the part that runs on every byte once the
 * connection is set up (tls.c), with the exact return rules of
 * hk_transport on both sides (0 bytes = would block, HK_ERR_CLOSED = end
 * of stream). Every failure goes through hk_tls_fail_ (tls_verify.c), which
 * decides what the caller is told; every received byte passes the record
 * watcher (hk_tls_watch_, tls_verify.c) before mbedTLS parses it.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

#include "common/hk_common.h"
#include "hubkey/log.h"
#include "hubkey/tls.h"
#include "tls/tls_internal.h"

/* ------------------------------------------------------------------------ */
/* Lower transport (mbedTLS BIO callbacks)                                   */

int hk_tls_bio_send_(void *ctx, const unsigned char *buf, size_t len)
{
    hk_tls *tls = ctx;
    size_t sent = 0;
    hk_result r = HK_TLS_IN(tls)->lower.send(HK_TLS_IN(tls)->lower.ctx, buf, len, &sent);
    if (r != HK_OK) {
        HK_TLS_IN(tls)->lower_result = r;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    if (sent == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (sent > len || sent > INT_MAX) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_IO;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    return (int)sent;
}

int hk_tls_bio_recv_(void *ctx, unsigned char *buf, size_t len)
{
    hk_tls *tls = ctx;
    size_t got = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    hk_result r = HK_TLS_IN(tls)->lower.recv(HK_TLS_IN(tls)->lower.ctx, buf, len, &got);
    if (r == HK_ERR_CLOSED) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_CLOSED;
        return 0; /* end of stream, in mbedTLS's BIO convention */
    }
    if (r != HK_OK) {
        HK_TLS_IN(tls)->lower_result = r;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    if (got == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (got > len) {
        HK_TLS_IN(tls)->lower_result = HK_ERR_IO;
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    hk_tls_watch_(tls, buf, got);
    return (int)got;
}

/* ------------------------------------------------------------------------ */
/* Handshake and data                                                        */

hk_result hk_tls_handshake(hk_tls *tls, bool *out_done)
{
    HK_REQUIRE(tls != NULL && out_done != NULL && HK_TLS_IN(tls)->initialised);
    struct hk_tls_internal *in = HK_TLS_IN(tls);
    *out_done = false;
    if (in->failed != HK_OK)
        return in->failed;
    if (in->handshake_done) {
        *out_done = true;
        return HK_OK;
    }
    int ret = mbedtls_ssl_handshake(&in->ssl);
    if (ret == 0) {
        in->handshake_done = true;
        *out_done = true;
        HK_LOGI(HK_TLS_LOG, "established: %s", mbedtls_ssl_get_ciphersuite(&in->ssl));
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail_(tls, ret);
}

static hk_result transport_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    hk_tls *tls = ctx;
    HK_REQUIRE(tls != NULL && out_sent != NULL && (buf != NULL || len == 0));
    *out_sent = 0;
    if (HK_TLS_IN(tls)->failed != HK_OK)
        return HK_TLS_IN(tls)->failed;
    if (!HK_TLS_IN(tls)->handshake_done)
        return HK_ERR_STATE;
    if (len == 0)
        return HK_OK;
    int ret = mbedtls_ssl_write(&HK_TLS_IN(tls)->ssl, buf, len);
    if (ret > 0) {
        *out_sent = (size_t)ret;
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail_(tls, ret);
}

static hk_result transport_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    hk_tls *tls = ctx;
    HK_REQUIRE(tls != NULL && out_received != NULL && (buf != NULL || cap == 0));
    *out_received = 0;
    if (HK_TLS_IN(tls)->failed != HK_OK)
        return HK_TLS_IN(tls)->failed;
    if (!HK_TLS_IN(tls)->handshake_done)
        return HK_ERR_STATE;
    if (cap == 0)
        return HK_OK;
    int ret = mbedtls_ssl_read(&HK_TLS_IN(tls)->ssl, buf, cap);
    if (ret > 0) {
        *out_received = (size_t)ret;
        return HK_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        HK_TLS_IN(tls)->failed = HK_ERR_CLOSED;
        HK_TLS_IN(tls)->fail_kind = HK_TLS_FAIL_LOWER;
        HK_TLS_IN(tls)->lower_result = HK_ERR_CLOSED;
        return HK_ERR_CLOSED;
    }
    return hk_tls_fail_(tls, ret);
}

hk_transport hk_tls_transport(hk_tls *tls)
{
    hk_transport t = {tls, transport_send, transport_recv};
    return t;
}

hk_result hk_tls_close(hk_tls *tls)
{
    HK_REQUIRE(tls != NULL && HK_TLS_IN(tls)->initialised);
    if (!HK_TLS_IN(tls)->handshake_done || HK_TLS_IN(tls)->failed != HK_OK)
        return HK_OK;
    int ret = mbedtls_ssl_close_notify(&HK_TLS_IN(tls)->ssl);
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return HK_OK;
    return hk_tls_fail_(tls, ret);
}
