/*
 * libFuzzer harness: the fuzzer's bytes are the server's side of a TLS
 * handshake. A fake lower transport hands them to hk_tls in chunks whose
 * sizes come from the first input byte, with "try again" (0-byte) results
 * in between; the client must end in HK_OK, a clean error, or waiting, and
 * never crash or touch memory it does not own. The server bytes pass through
 * hubkey's record watcher and mbedTLS's parsers.
 *
 * So that inputs get past the server's Certificate, the client trusts the
 * harness's own test CAs (fuzz_tls_trust.h: a P-256 and an RSA chain for
 * hub.hubkey.test) at a fixed time, and everything else on the client side
 * is deterministic (fuzz_tls_fixture.h). The seeds named rec-* are server
 * flights recorded from openssl s_server with those certificates
 * (fuzz_tls_record.c, record-seeds): with a deterministic client they are
 * still valid handshakes here, so mutations start from a ServerKeyExchange
 * whose signature verifies, a CertificateRequest, a ServerHelloDone and,
 * without client authentication, the server's encrypted Finished.
 *
 * Built against mbedTLS 3.6 compiled with the fuzzer's coverage hooks and
 * ASan/UBSan (scripts/build-mbedtls3-fuzz) when that build exists, so the
 * fuzzer sees and checks inside mbedTLS; else against Debian's 2.28, where
 * only hubkey's own code is seen.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_tls_fixture.h"
#include "fuzz_tls_trust.h"
#include "hubkey/tls.h"

typedef struct fuzz_io {
    const uint8_t *data;
    size_t len;
    size_t pos;
    size_t chunk;
    unsigned tick;
} fuzz_io;

static hk_result fz_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    (void)ctx;
    (void)buf;
    *out_sent = len;
    return HK_OK;
}

static hk_result fz_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    fuzz_io *io = ctx;
    *out_received = 0;
    if ((io->tick++ & 3u) == 3u)
        return HK_OK; /* try again later */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hk_tls tls;
    if (size < 1)
        return 0;
    fuzz_io io = {data + 1, size - 1, 0, (size_t)(data[0] % 64u) * 37u + 1u, 0};
    uint32_t rng;
    hk_se se = fz_se(&rng);
    hk_tls_config cfg = {FZ_TLS_HOST, &se, fz_trust_pem, sizeof fz_trust_pem};
    hk_transport lower = {&io, fz_send, fz_recv};
    if (hk_tls_init(&tls, &cfg, lower) != HK_OK)
        __builtin_trap(); /* the fixed configuration must always load */
    hk_tls_set_time(&tls, FZ_TLS_TIME);
    for (unsigned step = 0; step < 4 * (unsigned)size + 16u; step++) {
        bool done = false;
        hk_result r = hk_tls_handshake(&tls, &done);
        if (r != HK_OK || done) {
            char reason[HK_TLS_REASON_MAX];
            size_t rl;
            if (hk_tls_reason(&tls, reason, sizeof reason, &rl) != HK_OK)
                __builtin_trap();
            break;
        }
    }
    hk_tls_free(&tls);
    return 0;
}
