/*
 * Records seeds for fuzz_tls_handshake from real handshakes (run by
 * record-seeds, which makes the certificates):
 *
 *   fuzz_tls_record PKI_DIR SEEDS_DIR
 *
 * For each server set-up below it starts `openssl s_server` in PKI_DIR on a
 * random loopback port, runs the harness's client (fuzz_tls_fixture.h: same
 * certificate and RNG; the trust store and the clock from PKI_DIR/trust.pem
 * and PKI_DIR/clock, which record-seeds also wrote into fuzz_tls_trust.h)
 * over TCP, keeps every byte the server sent, and
 * writes them to SEEDS_DIR/rec-NAME behind the harness's chunk-size byte.
 * Then it replays the seed through the harness's fake transport and checks
 * that the client ends the same way as it did live (the client side is
 * deterministic, so a recorded flight is still the right answer); a
 * difference is an error, as is a live outcome other than the one expected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tls_fixture.h"
#include "hubkey/tls.h"
#include "tls_test_support.h"

#define REC_MAX 65536

typedef struct rec_io {
    hk_transport inner;
    uint8_t buf[REC_MAX];
    size_t len;
} rec_io;

static hk_result rec_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    rec_io *r = ctx;
    return r->inner.send(r->inner.ctx, buf, len, out_sent);
}

static hk_result rec_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    rec_io *r = ctx;
    hk_result res = r->inner.recv(r->inner.ctx, buf, cap, out_received);
    if (res == HK_OK && *out_received > 0) {
        if (r->len + *out_received > sizeof r->buf)
            return HK_ERR_BUFFER_TOO_SMALL;
        memcpy(r->buf + r->len, buf, *out_received);
        r->len += *out_received;
    }
    return res;
}

/* The harness's transport (fuzz_tls_handshake.c), for the replay check. */
typedef struct replay_io {
    const uint8_t *data;
    size_t len, pos, chunk;
    unsigned tick;
} replay_io;

static hk_result rp_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    (void)ctx;
    (void)buf;
    *out_sent = len;
    return HK_OK;
}

static hk_result rp_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    replay_io *io = ctx;
    *out_received = 0;
    if ((io->tick++ & 3u) == 3u)
        return HK_OK;
    if (io->pos >= io->len)
        return HK_ERR_CLOSED;
    size_t n = io->len - io->pos;
    if (n > cap)
        n = cap;
    if (n > io->chunk)
        n = io->chunk;
    memcpy(buf, io->data + io->pos, n);
    io->pos += n;
    *out_received = n;
    return HK_OK;
}

static hk_tls g_tls;
static uint8_t g_trust[16384];
static size_t g_trust_len;
static int64_t g_clock;

static hk_result replay(const uint8_t *seed, size_t size)
{
    replay_io io = {seed + 1, size - 1, 0, (size_t)(seed[0] % 64u) * 37u + 1u, 0};
    uint32_t rng;
    hk_se se = fz_se(&rng);
    hk_tls_config cfg = {FZ_TLS_HOST, &se, g_trust, g_trust_len};
    hk_transport lower = {&io, rp_send, rp_recv};
    hk_result r = hk_tls_init(&g_tls, &cfg, lower);
    if (r == HK_OK) {
        hk_tls_set_time(&g_tls, g_clock);
        r = HK_ERR_TIMEOUT;
        for (unsigned step = 0; step < 4 * (unsigned)size + 16u; step++) {
            bool done = false;
            hk_result s = hk_tls_handshake(&g_tls, &done);
            if (s != HK_OK || done) {
                r = s;
                break;
            }
        }
    }
    hk_tls_free(&g_tls);
    return r;
}

typedef struct setup {
    const char *name;
    const char *const *args;
    hk_result want; /* live outcome */
} setup;

#define CERT_REQUEST "-verify", "1"
static const char *const ec_full[] = {"-cert", "ec-leaf.pem", "-key", "ec-leaf.key",
                                      "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", NULL};
static const char *const ec_certreq[] = {"-cert", "ec-leaf.pem", "-key", "ec-leaf.key",
                                         "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                         CERT_REQUEST, NULL};
static const char *const rsa_full[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                       "-cert_chain", "rsa-int.pem", "-cipher",
                                       "ECDHE-RSA-AES256-GCM-SHA384", NULL};
static const char *const rsa_certreq[] = {"-cert", "rsa-leaf.pem", "-key", "rsa-leaf.key",
                                          "-cert_chain", "rsa-int.pem", "-cipher",
                                          "ECDHE-RSA-AES128-GCM-SHA256", CERT_REQUEST, NULL};

/* Full handshakes end with the server's Finished; with a certificate
 * request the server refuses the fixture's CertificateVerify (there is no
 * key) with alert decrypt_error, after ServerKeyExchange, CertificateRequest and
 * ServerHelloDone. */
static const setup k_setups[] = {
    {"ec-full", ec_full, HK_OK},
    {"ec-certreq", ec_certreq, HK_ERR_TLS_ALERT},
    {"rsa-full", rsa_full, HK_OK},
    {"rsa-certreq", rsa_certreq, HK_ERR_TLS_ALERT},
};

static bool record_one(const char *pki, const char *out_dir, const setup *s)
{
    char path[1024];
    tt_server srv;
    if (!tt_server_start(&srv, pki, s->args))
        return false;
    tt_tcp tcp;
    if (!tt_tcp_connect(&tcp, srv.port)) {
        tt_server_stop(&srv);
        return false;
    }
    static rec_io rec;
    memset(&rec, 0, sizeof rec);
    rec.inner = tt_tcp_transport(&tcp);
    uint32_t rng;
    hk_se se = fz_se(&rng);
    hk_tls_config cfg = {FZ_TLS_HOST, &se, g_trust, g_trust_len};
    hk_result live = hk_tls_init(&g_tls, &cfg, (hk_transport){&rec, rec_send, rec_recv});
    if (live == HK_OK) {
        hk_tls_set_time(&g_tls, g_clock);
        live = tt_handshake(&g_tls, tcp.fd, 400);
    }
    char reason[HK_TLS_REASON_MAX];
    size_t rl = 0;
    if (hk_tls_reason(&g_tls, reason, sizeof reason, &rl) != HK_OK)
        __builtin_trap();
    hk_tls_free(&g_tls);
    tt_tcp_close(&tcp);
    tt_server_stop(&srv);
    if (live != s->want) {
        fprintf(stderr, "fuzz_tls_record: %s: live handshake gave %s (%s), expected %s\n",
                s->name, hk_result_name(live), reason, hk_result_name(s->want));
        return false;
    }
    static uint8_t seed[REC_MAX + 1];
    seed[0] = 0x3f; /* chunks of 63 * 37 + 1 bytes */
    memcpy(seed + 1, rec.buf, rec.len);
    hk_result again = replay(seed, rec.len + 1);
    if (again != live) {
        fprintf(stderr, "fuzz_tls_record: %s: replay gave %s, live %s: the client is not "
                        "deterministic\n",
                s->name, hk_result_name(again), hk_result_name(live));
        return false;
    }
    snprintf(path, sizeof path, "%s/rec-%s", out_dir, s->name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(seed, 1, rec.len + 1, f) != rec.len + 1 || fclose(f) != 0) {
        fprintf(stderr, "fuzz_tls_record: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    printf("fuzz_tls_record: %s: %zu server bytes, client ends in %s\n", path, rec.len,
           hk_result_name(live));
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_tls_record PKI_DIR SEEDS_DIR\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/trust.pem", argv[1]);
    if (!tt_read_file(path, g_trust, sizeof g_trust, &g_trust_len, true)) {
        fprintf(stderr, "fuzz_tls_record: cannot read %s\n", path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/clock", argv[1]);
    char clock_text[32];
    size_t clock_len = 0;
    if (!tt_read_file(path, (uint8_t *)clock_text, sizeof clock_text, &clock_len, false) ||
        (g_clock = strtoll(clock_text, NULL, 10)) <= 0) {
        fprintf(stderr, "fuzz_tls_record: cannot read the clock from %s\n", path);
        return 1;
    }
    for (size_t i = 0; i < sizeof k_setups / sizeof k_setups[0]; i++)
        if (!record_one(argv[1], argv[2], &k_setups[i]))
            return 1;
    return 0;
}
