#define _POSIX_C_SOURCE 200809L
#include "tls_test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

bool tt_read_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len, bool with_nul)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL || cap == 0)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    bool ok = !ferror(f) && fgetc(f) == EOF;
    fclose(f);
    if (!ok)
        return false;
    buf[n] = 0;
    *out_len = with_nul ? n + 1 : n;
    return true;
}

/* --- software secure element ------------------------------------------------ */

static hk_result tt_se_cert(void *ctx, unsigned index, uint8_t *out, size_t cap, size_t *out_len)
{
    tt_se *se = ctx;
    if (se->fail_cert != HK_OK)
        return se->fail_cert;
    if (index > 1 || (index == 1 && se->no_signer))
        return HK_ERR_NOT_FOUND;
    *out_len = se->cert_len[index];
    if (cap < se->cert_len[index])
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, se->cert[index], se->cert_len[index]);
    return HK_OK;
}

static hk_result tt_se_sign(void *ctx, const uint8_t digest[HK_SE_DIGEST_SIZE],
                            uint8_t out_rs[HK_SE_SIGNATURE_SIZE])
{
    tt_se *se = ctx;
    se->signs++;
    if (se->fail_sign != HK_OK)
        return se->fail_sign;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new((EVP_PKEY *)se->key, NULL);
    unsigned char der[80];
    size_t der_len = sizeof der;
    hk_result r = HK_ERR_CRYPTO;
    if (c != NULL && EVP_PKEY_sign_init(c) == 1 &&
        EVP_PKEY_sign(c, der, &der_len, digest, HK_SE_DIGEST_SIZE) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (sig != NULL) {
            const BIGNUM *br, *bs;
            ECDSA_SIG_get0(sig, &br, &bs);
            if (BN_bn2binpad(br, out_rs, 32) == 32 && BN_bn2binpad(bs, out_rs + 32, 32) == 32)
                r = HK_OK;
            ECDSA_SIG_free(sig);
        }
    }
    EVP_PKEY_CTX_free(c);
    return r;
}

static hk_result tt_se_random(void *ctx, uint8_t *out, size_t len)
{
    tt_se *se = ctx;
    if (se->fail_random != HK_OK)
        return se->fail_random;
    return RAND_bytes(out, (int)len) == 1 ? HK_OK : HK_ERR_CRYPTO;
}

bool tt_se_open(tt_se *se, const char *dir, const char *device_name)
{
    memset(se, 0, sizeof *se);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.der", dir, device_name);
    if (!tt_read_file(path, se->cert[0], sizeof se->cert[0], &se->cert_len[0], false))
        return false;
    snprintf(path, sizeof path, "%s/signer.der", dir);
    if (!tt_read_file(path, se->cert[1], sizeof se->cert[1], &se->cert_len[1], false))
        return false;
    snprintf(path, sizeof path, "%s/%s.key", dir, device_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    se->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return se->key != NULL;
}

void tt_se_close(tt_se *se)
{
    EVP_PKEY_free((EVP_PKEY *)se->key);
    se->key = NULL;
}

hk_se tt_se_iface(tt_se *se)
{
    hk_se s;
    memset(&s, 0, sizeof s);
    s.ctx = se;
    s.cert = tt_se_cert;
    s.sign_digest = tt_se_sign;
    s.random = tt_se_random;
    return s;
}

/* --- TCP transport ------------------------------------------------------------ */

static hk_result tt_tcp_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    tt_tcp *t = ctx;
    *out_sent = 0;
    ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
        *out_sent = (size_t)n;
        return HK_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return HK_OK;
    if (errno == EPIPE || errno == ECONNRESET)
        return HK_ERR_CLOSED;
    return HK_ERR_IO;
}

static hk_result tt_tcp_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    tt_tcp *t = ctx;
    *out_received = 0;
    if (t->cut_after != 0) {
        if (t->received >= t->cut_after)
            return HK_ERR_CLOSED;
        if (cap > t->cut_after - t->received)
            cap = t->cut_after - t->received;
    }
    ssize_t n = recv(t->fd, buf, cap, 0);
    if (n > 0) {
        t->received += (size_t)n;
        *out_received = (size_t)n;
        return HK_OK;
    }
    if (n == 0)
        return HK_ERR_CLOSED;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return HK_OK;
    if (errno == ECONNRESET)
        return HK_ERR_CLOSED;
    return HK_ERR_IO;
}

bool tt_tcp_connect(tt_tcp *t, int port)
{
    memset(t, 0, sizeof *t);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (t->fd < 0)
        return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(t->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(t->fd);
        t->fd = -1;
        return false;
    }
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    return true;
}

void tt_tcp_close(tt_tcp *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

hk_transport tt_tcp_transport(tt_tcp *t)
{
    hk_transport tr = {t, tt_tcp_send, tt_tcp_recv};
    return tr;
}

/* --- scripted fake transport ------------------------------------------------------ */

static hk_result tt_fake_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    tt_fake *f = ctx;
    (void)buf;
    if (f->send_error != HK_OK)
        return f->send_error;
    f->sent_total += len;
    *out_sent = len;
    return HK_OK;
}

static hk_result tt_fake_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    tt_fake *f = ctx;
    *out_received = 0;
    if (f->stall_once) {
        f->stalled = !f->stalled;
        if (f->stalled)
            return HK_OK;
    }
    if (f->pos >= f->script_len)
        return f->at_end;
    size_t n = f->script_len - f->pos;
    if (n > cap)
        n = cap;
    if (f->chunk != 0 && n > f->chunk)
        n = f->chunk;
    memcpy(buf, f->script + f->pos, n);
    f->pos += n;
    *out_received = n;
    return HK_OK;
}

hk_transport tt_fake_transport(tt_fake *f)
{
    hk_transport tr = {f, tt_fake_send, tt_fake_recv};
    return tr;
}

/* --- openssl s_server ------------------------------------------------------------- */

bool tt_server_start(tt_server *s, const char *dir, const char *const *args)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    int p[2], in[2];
    if (pipe(p) != 0)
        return false;
    /* s_server ends a connection when its stdin reaches end of file: give it
     * a stdin that stays open until tt_server_stop. */
    if (pipe(in) != 0) {
        close(p[0]);
        close(p[1]);
        return false;
    }
    const char *argv[40];
    size_t n = 0;
    argv[n++] = "openssl";
    argv[n++] = "s_server";
    argv[n++] = "-accept";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "-naccept";
    argv[n++] = "1";
    argv[n++] = "-tls1_2";
    for (size_t i = 0; args[i] != NULL && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(127);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        dup2(in[0], 0);
        close(in[0]);
        close(in[1]);
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    close(in[0]);
    s->pid = pid;
    s->out_fd = p[0];
    s->in_fd = in[1];
    /* Wait for "ACCEPT 127.0.0.1:PORT" (readiness, not a timed sleep). */
    char line[4096];
    size_t used = 0;
    for (;;) {
        struct pollfd pfd = {s->out_fd, POLLIN, 0};
        if (poll(&pfd, 1, 20000) <= 0)
            break;
        ssize_t r = read(s->out_fd, line + used, sizeof line - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
        line[used] = '\0';
        char *acc = strstr(line, "ACCEPT ");
        if (acc != NULL && strchr(acc, '\n') != NULL) {
            char *colon = strrchr(acc, ':');
            if (colon != NULL)
                s->port = atoi(colon + 1);
            return s->port > 0;
        }
        if (used >= sizeof line - 1)
            break;
    }
    fprintf(stderr, "s_server did not start: %s\n", line);
    tt_server_stop(s);
    return false;
}

void tt_server_stop(tt_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    if (s->out_fd > 0)
        close(s->out_fd);
    if (s->in_fd > 0)
        close(s->in_fd);
    s->pid = -1;
    s->out_fd = -1;
    s->in_fd = -1;
}

hk_result tt_handshake(hk_tls *tls, int fd, unsigned max_steps)
{
    for (unsigned i = 0; i < max_steps; i++) {
        bool done = false;
        hk_result r = hk_tls_handshake(tls, &done);
        if (r != HK_OK)
            return r;
        if (done)
            return HK_OK;
        if (fd >= 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            poll(&pfd, 1, 100);
        }
    }
    return HK_ERR_TIMEOUT;
}
