/*
 * lwip_boot: one device boot through ports/lwip-sockets over real lwIP, from
 * opening the chip to the hub's PUBACK of the first telemetry message; one
 * JSON line on stdout. Run by lwip_netns.sh inside a network namespace:
 *
 *   lwip_boot --tap TAP --ip LWIP_IP --peer PEER_IP --chip FILE
 *             --certdefs DIR --trust PEM --id-scope SCOPE --dps HOST
 *             --cloud-port PORT [--timeout-ms MS]
 *
 * What runs is the production device stack as a board runs it: the
 * ATECC608A driver and hk_se over it (the chip is the emulator, in this
 * process, its state in FILE with autosave, so a second run is a warm
 * boot), the TLS link (hk_device_tls: hk_tls over the platform's TCP) and
 * the boot flow (hk_device_run), with hk_lwip_sockets as the platform.
 * Every byte of DPS and hub traffic goes through lwIP's TCP/IP stack and
 * the TAP device.
 *
 * hubkey-cloud's broker listens on the namespace's 127.0.0.1 only; lwIP
 * reaches the namespace at PEER_IP, so a relay thread of this process
 * accepts on PEER_IP and copies bytes to and from 127.0.0.1:PORT. The TLS
 * link's route sends every host name there while TLS still checks the
 * server's name.
 *
 * Exit status: 0 when the PUBACK arrived, 1 when the boot failed or timed
 * out (the JSON says where), 2 for a usage or set-up error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_atecc608.h"
#include "hk_lwip_sockets.h"
#include "hk_test_files.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/device.h"
#include "hubkey/device_tls.h"
#include "lwip_stack.h"

#define CERTDEF_MAX (HK_CERT_MAX_TEMPLATE + 1024u)
#define TRUST_MAX 16384u
#define RELAY_PAIRS 4

typedef struct options {
    const char *tap, *ip, *peer, *chip, *certdefs, *trust, *id_scope, *dps;
    uint16_t cloud_port;
    uint32_t timeout_ms;
} options;

/* ---- the relay: PEER_IP:random -> 127.0.0.1:cloud_port ----------------------- */

static struct {
    int lfd;
    uint16_t port, upstream;
    int a[RELAY_PAIRS], b[RELAY_PAIRS]; /* client side, upstream side; -1 = free */
    atomic_bool stop;
    pthread_t th;
    unsigned accepted;
} R;

static void relay_drop(int i)
{
    if (R.a[i] >= 0)
        close(R.a[i]);
    if (R.b[i] >= 0)
        close(R.b[i]);
    R.a[i] = R.b[i] = -1;
}

/* Copy what is readable from one side to the other (blocking write: the
 * device's side is the slow one and the amounts are small). false when
 * the pair is done. */
static bool relay_copy(int from, int to)
{
    uint8_t buf[16384];
    ssize_t n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void *relay_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&R.stop)) {
        struct pollfd p[1 + 2 * RELAY_PAIRS];
        int map[1 + 2 * RELAY_PAIRS];
        nfds_t n = 0;
        p[n] = (struct pollfd){.fd = R.lfd, .events = POLLIN};
        map[n++] = -1;
        for (int i = 0; i < RELAY_PAIRS; i++)
            if (R.a[i] >= 0) {
                p[n] = (struct pollfd){.fd = R.a[i], .events = POLLIN};
                map[n++] = i;
                p[n] = (struct pollfd){.fd = R.b[i], .events = POLLIN};
                map[n++] = i;
            }
        if (poll(p, n, 100) <= 0) /* 100 ms: how soon a stop is seen */
            continue;
        if (p[0].revents & POLLIN) {
            int c = accept4(R.lfd, NULL, NULL, SOCK_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < RELAY_PAIRS && slot < 0; i++)
                if (R.a[i] < 0)
                    slot = i;
            int u = c >= 0 && slot >= 0 ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
            struct sockaddr_in up = {.sin_family = AF_INET, .sin_port = htons(R.upstream)};
            up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (u >= 0 && connect(u, (struct sockaddr *)&up, sizeof up) == 0) {
                int one = 1;
                (void)setsockopt(u, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
                (void)setsockopt(c, IPPROTO_TCP, 1, &one, sizeof one);
                R.a[slot] = c;
                R.b[slot] = u;
                R.accepted++;
            } else {
                if (c >= 0)
                    close(c);
                if (u >= 0)
                    close(u);
            }
        }
        for (nfds_t k = 1; k < n; k += 2) {
            int i = map[k];
            bool ok = true;
            if (p[k].revents & (POLLIN | POLLHUP | POLLERR))
                ok = relay_copy(R.a[i], R.b[i]);
            if (ok && (p[k + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                ok = relay_copy(R.b[i], R.a[i]);
            if (!ok)
                relay_drop(i);
        }
    }
    for (int i = 0; i < RELAY_PAIRS; i++)
        relay_drop(i);
    close(R.lfd);
    return NULL;
}

static int relay_start(const char *bind_ip, uint16_t upstream)
{
    R.upstream = upstream;
    for (int i = 0; i < RELAY_PAIRS; i++)
        R.a[i] = R.b[i] = -1;
    R.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (R.lfd < 0 || inet_pton(AF_INET, bind_ip, &a.sin_addr) != 1 ||
        bind(R.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(R.lfd, 8) != 0)
        return -1;
    socklen_t len = sizeof a;
    if (getsockname(R.lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    R.port = ntohs(a.sin_port);
    return pthread_create(&R.th, NULL, relay_main, NULL) == 0 ? 0 : -1;
}

static void relay_stop(void)
{
    atomic_store(&R.stop, true);
    pthread_join(R.th, NULL);
}

/* ---- the boot ------------------------------------------------------------------ */

static struct {
    int64_t t0_us, se_open_us, ready_us, puback_us;
    unsigned dps_responses;
    hk_result result;
    const char *failed_at;
    bool sent_ok, telemetry_queued;
} B;

static hk_emu_atecc608 *g_emu;
static hk_atecc608 g_atecc;
static hk_se_atecc608 g_se_ctx;
static hk_se g_se;
static hk_cert_def g_device_def, g_signer_def;
static uint8_t g_device_def_buf[CERTDEF_MAX], g_signer_def_buf[CERTDEF_MAX];
static uint8_t g_trust[TRUST_MAX];
static size_t g_trust_len;
static hk_lwip_sockets g_port;
static hk_platform g_platform;
static hk_device_tls_link g_tls_link;
static hk_device g_dev;
static hk_device_route g_route;
static const char g_telemetry[] = "{\"temperature\":21.5,\"over\":\"lwip\"}";

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_event(void *ctx, const hk_device_event *ev)
{
    (void)ctx;
    int64_t t = now_us() - B.t0_us;
    if (ev->type == HK_DEVICE_EVENT_STATE) {
        fprintf(stderr, "lwip_boot: %8.1f ms  %s -> %s (%s)\n", (double)t / 1000.0,
                hk_device_state_name(ev->change.previous), hk_device_state_name(ev->state),
                hk_result_name(ev->change.result));
        if (ev->state == HK_DEVICE_STATE_READY && B.ready_us == 0)
            B.ready_us = t;
        if (ev->state == HK_DEVICE_STATE_HUB_SESSION && !B.telemetry_queued) {
            B.telemetry_queued = true;
            uint32_t id;
            hk_result r = hk_device_telemetry_send(&g_dev, (const uint8_t *)g_telemetry,
                                                   sizeof g_telemetry - 1, NULL, &id);
            if (r != HK_OK) {
                B.result = r;
                B.failed_at = "send-telemetry";
                if (hk_device_stop(&g_dev) != HK_OK)
                    B.failed_at = "stop";
            }
        }
    } else if (ev->type == HK_DEVICE_EVENT_DPS_RESPONSE) {
        B.dps_responses++;
    } else if (ev->type == HK_DEVICE_EVENT_SENT) {
        if (ev->sent.result == HK_OK && !B.sent_ok) {
            B.sent_ok = true;
            B.puback_us = t;
        }
        if (hk_device_stop(&g_dev) != HK_OK)
            B.failed_at = "stop";
    }
}

static void boot(const options *o)
{
    B.t0_us = now_us();
    hk_i2c i2c = hk_emu_atecc608_i2c(g_emu);
    hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
    hk_result r = hk_atecc608_init(&g_atecc, &i2c, HK_EMU_ATECC608_DEFAULT_ADDR7);
    if (r == HK_OK)
        r = hk_se_atecc608_open(&g_se_ctx, &g_atecc, &g_device_def, &g_signer_def, &g_se,
                                &problem);
    if (r != HK_OK) {
        B.result = r;
        B.failed_at = "chip-open";
        return;
    }
    B.se_open_us = now_us() - B.t0_us;
    hk_lwip_sockets_config pc = {.now_ms = lwip_stack_now_ms,
                                 .wall_s = lwip_stack_wall_s,
                                 .sleep_ms = lwip_stack_sleep_ms};
    r = hk_lwip_sockets_init(&g_port, &pc, &g_platform);
    g_route = (hk_device_route){.host = "*", .address = o->peer, .port = R.port};
    hk_device_tls_config tc = {.platform = &g_platform,
                               .se = &g_se,
                               .trust_pem = g_trust,
                               .trust_pem_len = g_trust_len,
                               .routes = &g_route,
                               .route_count = 1};
    hk_device_link link;
    memset(&link, 0, sizeof link);
    if (r == HK_OK)
        r = hk_device_tls_link_init(&g_tls_link, &tc, &link);
    hk_device_config dc;
    memset(&dc, 0, sizeof dc);
    dc.se = &g_se;
    dc.link = link;
    dc.id_scope = o->id_scope;
    dc.dps_host = o->dps;
    dc.on_event = on_event;
    if (r == HK_OK)
        r = hk_device_init(&g_dev, &dc, g_platform.monotonic_ms(g_platform.ctx));
    if (r == HK_OK)
        r = hk_device_run(&g_dev, &g_platform, HK_DEVICE_STATE_STOPPED, o->timeout_ms);
    if (B.result == HK_OK)
        B.result = r;
    if (!B.sent_ok && !B.failed_at)
        B.failed_at = hk_device_state_name(hk_device_state_get(&g_dev));
    if (!B.sent_ok)
        fprintf(stderr, "lwip_boot: link: %s\n", hk_device_tls_link_reason(&g_tls_link));
    if (hk_device_stop(&g_dev) != HK_OK && !B.failed_at)
        B.failed_at = "stop";
    hk_lwip_sockets_deinit(&g_port);
}

static int usage(void)
{
    fprintf(stderr, "usage: lwip_boot --tap TAP --ip LWIP_IP --peer PEER_IP --chip FILE "
                    "--certdefs DIR --trust PEM --id-scope SCOPE --dps HOST --cloud-port PORT "
                    "[--timeout-ms MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    options o = {.timeout_ms = 60000};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        bool num = end && *end == '\0' && end != v;
        if (strcmp(a, "--tap") == 0)
            o.tap = v;
        else if (strcmp(a, "--ip") == 0)
            o.ip = v;
        else if (strcmp(a, "--peer") == 0)
            o.peer = v;
        else if (strcmp(a, "--chip") == 0)
            o.chip = v;
        else if (strcmp(a, "--certdefs") == 0)
            o.certdefs = v;
        else if (strcmp(a, "--trust") == 0)
            o.trust = v;
        else if (strcmp(a, "--id-scope") == 0)
            o.id_scope = v;
        else if (strcmp(a, "--dps") == 0)
            o.dps = v;
        else if (strcmp(a, "--cloud-port") == 0 && num && n > 0 && n <= 65535)
            o.cloud_port = (uint16_t)n;
        else if (strcmp(a, "--timeout-ms") == 0 && num && n > 0 && n <= 3600000)
            o.timeout_ms = (uint32_t)n;
        else
            return usage();
    }
    if (argc % 2 != 1 || !o.tap || !o.ip || !o.peer || !o.chip || !o.certdefs || !o.trust ||
        !o.id_scope || !o.dps || !o.cloud_port)
        return usage();
    if (hk_test_load_certdef("lwip_boot", o.certdefs, "device.certdef", g_device_def_buf,
                             sizeof g_device_def_buf, &g_device_def) != 0 ||
        hk_test_load_certdef("lwip_boot", o.certdefs, "signer.certdef", g_signer_def_buf,
                             sizeof g_signer_def_buf, &g_signer_def) != 0)
        return 2;
    if (hk_test_read_file(o.trust, g_trust, sizeof g_trust - 1, &g_trust_len) != 0) {
        fprintf(stderr, "lwip_boot: cannot read %s\n", o.trust);
        return 2;
    }
    g_trust[g_trust_len++] = '\0';
    hk_result r = hk_emu_atecc608_open(o.chip, NULL, &g_emu);
    if (r != HK_OK) {
        fprintf(stderr, "lwip_boot: chip %s: %s\n", o.chip, hk_result_name(r));
        return 2;
    }
    if (lwip_stack_start(o.tap, o.ip, o.peer) != 0 || relay_start(o.peer, o.cloud_port) != 0) {
        fprintf(stderr, "lwip_boot: cannot start lwIP or the relay\n");
        hk_emu_atecc608_destroy(g_emu);
        return 2;
    }
    boot(&o);
    relay_stop();
    hk_emu_atecc608_destroy(g_emu);
    printf("{\"ok\":%s,\"result\":\"%s\"", B.sent_ok ? "true" : "false", hk_result_name(B.result));
    if (B.failed_at && !B.sent_ok)
        printf(",\"failed_at\":\"%s\"", B.failed_at);
    printf(",\"kind\":\"%s\",\"dps_responses\":%u,\"se_open_ms\":%.1f,\"ready_ms\":%.1f,"
           "\"puback_ms\":%.1f,\"connections\":%u}\n",
           B.dps_responses ? "cold" : "warm", B.dps_responses, (double)B.se_open_us / 1000.0,
           (double)B.ready_us / 1000.0, (double)B.puback_us / 1000.0, R.accepted);
    return B.sent_ok ? 0 : 1;
}
