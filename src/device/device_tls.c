/*
 * The production link: platform TCP + hk_tls (hubkey/device_tls.h).
 *
 * Routes change only where the TCP connection goes; TLS is always given the
 * logical host name, so a route cannot weaken verification (a local cloud
 * must present a certificate for the real names it serves, signed by the
 * trust it was given).
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/device_tls.h"

static void release(hk_device_tls_link *l)
{
    if (l->_internal.tls_live) {
        hk_tls_free(&l->_internal.tls);
        l->_internal.tls_live = false;
    }
    if (l->_internal.socket_open) {
        const hk_platform *p = l->_internal.cfg.platform;
        p->tcp_close(p->ctx, &l->_internal.socket);
        l->_internal.socket_open = false;
    }
}

static void note_reason(hk_device_tls_link *l)
{
    size_t n = 0;
    if (hk_tls_reason(&l->_internal.tls, l->_internal.reason, sizeof l->_internal.reason, &n) !=
        HK_OK)
        l->_internal.reason[0] = '\0';
}

static hk_result link_open(void *ctx, const char *host, uint16_t port, const uint8_t *trust_pem,
                           size_t trust_pem_len)
{
    hk_device_tls_link *l = ctx;
    const hk_device_tls_config *c = &l->_internal.cfg;
    if (host == NULL || host[0] == '\0' || port == 0)
        return HK_ERR_INVALID_ARG;
    release(l);
    l->_internal.reason[0] = '\0';

    const char *address = host;
    for (size_t i = 0; i < c->route_count; i++) {
        const hk_device_route *r = &c->routes[i];
        if (r->host != NULL && (strcmp(r->host, "*") == 0 || strcmp(r->host, host) == 0)) {
            if (r->address != NULL)
                address = r->address;
            if (r->port != 0)
                port = r->port;
            break;
        }
    }
    /* Only started here: the TLS handshake's first send finishes the TCP
     * handshake through polling (platform.h), so open never blocks on the
     * peer and the flow's connect timeout bounds TCP and TLS together. */
    HK_TRY(c->platform->tcp_connect(c->platform->ctx, address, port, &l->_internal.socket));
    l->_internal.socket_open = true;

    hk_tls_config tc;
    memset(&tc, 0, sizeof tc);
    tc.host_name = host;
    tc.se = c->se;
    tc.trust_pem = trust_pem != NULL ? trust_pem : c->trust_pem;
    tc.trust_pem_len = trust_pem != NULL ? trust_pem_len : c->trust_pem_len;
    hk_result r = hk_tls_init(&l->_internal.tls, &tc, l->_internal.socket);
    if (r != HK_OK) {
        note_reason(l);
        if (l->_internal.reason[0] == '\0') {
            /* Nothing reached the wire: the set-up itself failed (the
             * result says which part). */
            static const char setup[] = "TLS set-up failed (own certificates, trust store "
                                        "or random source)";
            _Static_assert(sizeof setup <= sizeof l->_internal.reason, "reason buffer");
            memcpy(l->_internal.reason, setup, sizeof setup);
        }
        hk_tls_free(&l->_internal.tls);
        release(l);
        return r;
    }
    l->_internal.tls_live = true;
    int64_t now = c->platform->wall_s != NULL ? c->platform->wall_s(c->platform->ctx)
                                              : HK_PLATFORM_TIME_UNKNOWN;
    hk_tls_set_time(&l->_internal.tls, now);
    return HK_OK;
}

static hk_result link_poll(void *ctx, bool *out_ready, hk_transport *out_transport)
{
    hk_device_tls_link *l = ctx;
    *out_ready = false;
    if (!l->_internal.tls_live)
        return HK_ERR_STATE;
    bool done = false;
    hk_result r = hk_tls_handshake(&l->_internal.tls, &done);
    if (r != HK_OK) {
        note_reason(l);
        release(l);
        return r;
    }
    if (done) {
        *out_transport = hk_tls_transport(&l->_internal.tls);
        *out_ready = true;
    }
    return HK_OK;
}

static void link_close(void *ctx)
{
    hk_device_tls_link *l = ctx;
    if (l->_internal.tls_live)
        hk_result_ignore(hk_tls_close(&l->_internal.tls));
    release(l);
}

static void link_wait(void *ctx, uint32_t timeout_ms)
{
    hk_device_tls_link *l = ctx;
    const hk_platform *p = l->_internal.cfg.platform;
    /* A failed wait only ends the wait early: the socket's error, if any,
     * comes back from the next send or recv. */
    hk_result_ignore(
        p->wait(p->ctx, l->_internal.socket_open ? &l->_internal.socket : NULL, timeout_ms));
}

hk_result hk_device_tls_link_init(hk_device_tls_link *link, const hk_device_tls_config *config,
                                  hk_device_link *out_link)
{
    HK_REQUIRE(link != NULL && config != NULL && out_link != NULL);
    const hk_platform *p = config->platform;
    if (p == NULL || p->tcp_connect == NULL || p->tcp_close == NULL || p->wait == NULL ||
        config->se == NULL || (config->route_count > 0 && config->routes == NULL))
        return HK_ERR_INVALID_ARG;
    memset(link, 0, sizeof *link);
    link->_internal.cfg = *config;
    out_link->ctx = link;
    out_link->open = link_open;
    out_link->poll = link_poll;
    out_link->close = link_close;
    out_link->wait = link_wait;
    return HK_OK;
}

const char *hk_device_tls_link_reason(const hk_device_tls_link *link)
{
    return link != NULL ? link->_internal.reason : "";
}
