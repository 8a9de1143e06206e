/*
 * bench_boot: one device boot, from opening the chip to the hub's PUBACK of
 * the first telemetry message, measured; one JSON object on stdout.
 *
 *   bench_boot --chip-server PATH --chip FILE --certdefs DIR --trust PEM
 *              --id-scope SCOPE --dps HOST --cloud-port PORT
 *              [--rtt MS | --direct] [--no-stack-probe] [--signer-template]
 *              [--timeout-ms MS]
 *
 * What runs is the production stack: the ATECC608A driver and hk_se over
 * it, the TLS link (hk_device_tls: POSIX TCP + hk_tls), the boot flow
 * (hk_device_run). The chip is the emulator in a child process
 * (hkb_chip.h), so this process holds only device code, mbedTLS and the
 * benchmark's own bookkeeping; that is what valgrind's massif measures.
 *
 * Latency: with --rtt the device's connections go through the latency relay
 * (hkb_relay.h) in a thread of this process, which also counts the round
 * trips. --direct connects straight to the cloud (massif runs: no relay
 * thread in the process).
 *
 * --signer-template: the signer certificate and key from the signer
 * definition's template (hk_se_atecc608_signer_from_template) instead of
 * chip slots 11 and 12.
 *
 * Stack: unless --no-stack-probe, the boot runs in a thread whose stack is
 * an mmap'ed region painted with a pattern; after the boot the deepest
 * overwritten byte gives the high-water mark, measured from the thread
 * function's entry (glibc's thread descriptor at the top of the region is
 * not counted).
 *
 * The state the stack needs for its life (hk_device, the TLS link, the
 * chip contexts) is static here, as on a microcontroller; the output gives
 * their sizes separately from the stack.
 *
 * Exit status: 0 when the PUBACK arrived, 1 when the boot failed or timed
 * out (the JSON says why), 2 for a usage or set-up error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <mbedtls/version.h>

#include "hk_posix.h"
#include "hkb_chip.h"
#include "hkb_relay.h"
#include "hk_test_files.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/device.h"
#include "hubkey/device_tls.h"

#define CERTDEF_MAX (HK_CERT_MAX_TEMPLATE + 1024u)
#define TRUST_MAX 16384u
#define MAX_EVENTS 64
#define STACK_REGION (1024u * 1024u)
#define STACK_PAINT 0xA5u

typedef struct options {
    const char *chip_server, *chip_file, *certdefs, *trust, *id_scope, *dps;
    uint16_t cloud_port;
    long rtt_ms; /* -1 = direct */
    bool stack_probe;
    bool signer_template; /* hk_se_atecc608_signer_from_template */
    uint32_t timeout_ms;
} options;

typedef struct event_rec {
    int64_t at_us; /* since boot start */
    uint32_t device_ms;
    hk_device_state state, previous;
    hk_result result;
    uint32_t wait_ms;
} event_rec;

/* Everything the boot thread fills; read by main after the join. */
static struct {
    options opt;
    int64_t t0_us;          /* boot start: before the chip is opened */
    int64_t se_open_us;     /* hk_se ready */
    int64_t flow_start_us;  /* hk_device_init */
    int64_t ready_us, puback_us;
    event_rec events[MAX_EVENTS];
    size_t event_count;
    unsigned dps_responses;
    unsigned dps_status[8];
    uint32_t retry_after_s;
    hk_result boot_result;
    const char *failed_at;
    bool sent_ok;
    bool telemetry_queued;  /* the first telemetry was handed to the device */
    uintptr_t stack_entry;
} B;

/* Long-lived device state: static, as on a microcontroller. */
static hkb_chip g_chip;
static hk_atecc608 g_atecc;
static hk_se_atecc608 g_se_ctx;
static hk_se g_se;
static hk_cert_def g_device_def, g_signer_def;
static uint8_t g_device_def_buf[CERTDEF_MAX], g_signer_def_buf[CERTDEF_MAX];
static uint8_t g_trust[TRUST_MAX];
static size_t g_trust_len;
static hk_posix g_posix;
static hk_platform g_platform;
static hk_device_tls_link g_tls_link;
static hk_device g_dev;
static hk_device_route g_route;
static hkb_relay g_relay;
static const char g_telemetry[] = "{\"temperature\":21.5,\"humidity\":40}";

static void on_event(void *ctx, const hk_device_event *ev)
{
    (void)ctx;
    int64_t now = hkb_now_us() - B.t0_us;
    if (ev->type == HK_DEVICE_EVENT_STATE) {
        if (B.event_count < MAX_EVENTS)
            B.events[B.event_count++] = (event_rec){.at_us = now,
                                                    .device_ms = ev->elapsed_ms,
                                                    .state = ev->state,
                                                    .previous = ev->change.previous,
                                                    .result = ev->change.result,
                                                    .wait_ms = ev->change.wait_ms};
        if (ev->state == HK_DEVICE_STATE_READY && B.ready_us == 0)
            B.ready_us = now;
        /* As early as the API allows: queued behind CONNECT, before CONNACK. */
        if (ev->state == HK_DEVICE_STATE_HUB_SESSION && !B.telemetry_queued) {
            B.telemetry_queued = true;
            uint32_t id;
            hk_result r = hk_device_telemetry_send(&g_dev, (const uint8_t *)g_telemetry,
                                                   sizeof g_telemetry - 1, NULL, &id);
            if (r != HK_OK) {
                B.boot_result = r;
                B.failed_at = "send-telemetry";
                if (hk_device_stop(&g_dev) != HK_OK)
                    B.failed_at = "stop";
            }
        }
    } else if (ev->type == HK_DEVICE_EVENT_DPS_RESPONSE) {
        if (B.dps_responses < sizeof B.dps_status / sizeof B.dps_status[0])
            B.dps_status[B.dps_responses] = ev->dps_response.status;
        B.dps_responses++;
        if (ev->dps_response.retry_after_s)
            B.retry_after_s = ev->dps_response.retry_after_s;
    } else if (ev->type == HK_DEVICE_EVENT_SENT) {
        if (ev->sent.result == HK_OK && !B.sent_ok) {
            B.sent_ok = true;
            B.puback_us = now;
        }
        if (hk_device_stop(&g_dev) != HK_OK)
            B.failed_at = "stop";
    }
}

static void boot(void)
{
    const options *o = &B.opt;
    B.t0_us = hkb_now_us();
    hk_i2c i2c = hkb_chip_i2c(&g_chip);
    hk_result r = hk_atecc608_init(&g_atecc, &i2c, 0x60);
    hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
    if (r == HK_OK)
        r = hk_se_atecc608_open(&g_se_ctx, &g_atecc, &g_device_def, &g_signer_def, &g_se,
                                &problem);
    if (r == HK_OK && o->signer_template)
        r = hk_se_atecc608_signer_from_template(&g_se_ctx);
    if (r != HK_OK) {
        B.boot_result = r;
        B.failed_at = "chip-open";
        return;
    }
    B.se_open_us = hkb_now_us() - B.t0_us;
    r = hk_posix_init(&g_posix, &g_platform);
    if (r != HK_OK) {
        B.boot_result = r;
        B.failed_at = "platform";
        return;
    }
    g_route = (hk_device_route){.host = "*",
                                .address = "127.0.0.1",
                                .port = o->rtt_ms >= 0 ? g_relay.port : o->cloud_port};
    hk_device_tls_config tc = {.platform = &g_platform,
                               .se = &g_se,
                               .trust_pem = g_trust,
                               .trust_pem_len = g_trust_len,
                               .routes = &g_route,
                               .route_count = 1};
    hk_device_link link;
    r = hk_device_tls_link_init(&g_tls_link, &tc, &link);
    hk_device_config dc;
    memset(&dc, 0, sizeof dc);
    dc.se = &g_se;
    dc.link = link;
    dc.id_scope = o->id_scope;
    dc.dps_host = o->dps;
    dc.on_event = on_event;
    B.flow_start_us = hkb_now_us() - B.t0_us;
    if (r == HK_OK)
        r = hk_device_init(&g_dev, &dc, g_platform.monotonic_ms(g_platform.ctx));
    if (r == HK_OK)
        r = hk_device_run(&g_dev, &g_platform, HK_DEVICE_STATE_STOPPED, o->timeout_ms);
    if (B.boot_result == HK_OK)
        B.boot_result = r;
    if (!B.sent_ok && !B.failed_at)
        B.failed_at = hk_device_state_name(hk_device_state_get(&g_dev));
    if (hk_device_stop(&g_dev) != HK_OK && !B.failed_at)
        B.failed_at = "stop";
    hk_posix_deinit(&g_posix);
}

static void *boot_thread(void *arg)
{
    (void)arg;
    volatile uint8_t marker = 0;
    B.stack_entry = (uintptr_t)&marker;
    boot();
    return NULL;
}

static size_t run_with_stack_probe(void)
{
    uint8_t *region = mmap(NULL, STACK_REGION, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (region == MAP_FAILED) {
        perror("bench_boot: mmap");
        exit(2);
    }
    memset(region, STACK_PAINT, STACK_REGION);
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstack(&attr, region, STACK_REGION) != 0 ||
        pthread_create(&th, &attr, boot_thread, NULL) != 0) {
        fprintf(stderr, "bench_boot: cannot start the boot thread\n");
        exit(2);
    }
    pthread_join(th, NULL);
    pthread_attr_destroy(&attr);
    size_t lowest = 0;
    while (lowest < STACK_REGION && region[lowest] == STACK_PAINT)
        lowest++;
    uintptr_t low_addr = (uintptr_t)(region + lowest);
    size_t used = B.stack_entry > low_addr ? (size_t)(B.stack_entry - low_addr) : 0;
    munmap(region, STACK_REGION);
    return used;
}

static const char *type_names(unsigned t, char *buf, size_t cap)
{
    static const char *names[] = {"ccs", "alert", "hs", "app", "other"};
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 5; i++)
        if (t & (1u << i)) {
            int k = snprintf(buf + n, cap - n, "%s%s", n ? "+" : "", names[i]);
            if (k > 0 && (size_t)k < cap - n)
                n += (size_t)k;
        }
    return buf;
}

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

static void print_result(size_t stack_used, const char *chip_json)
{
    printf("{\"mbedtls\":\"%s\",\"rtt_ms\":%ld,\"ok\":%s,\"result\":\"%s\"", MBEDTLS_VERSION_STRING,
           B.opt.rtt_ms, B.sent_ok ? "true" : "false", hk_result_name(B.boot_result));
    if (B.failed_at && !B.sent_ok)
        printf(",\"failed_at\":\"%s\"", B.failed_at);
    printf(",\"se_open_ms\":%.3f,\"flow_start_ms\":%.3f,\"ready_ms\":%.3f,\"puback_ms\":%.3f",
           ms(B.se_open_us), ms(B.flow_start_us), ms(B.ready_us), ms(B.puback_us));
    printf(",\"dps_responses\":%u,\"retry_after_s\":%u", B.dps_responses, B.retry_after_s);
    printf(",\"dps_status\":[");
    for (unsigned i = 0; i < B.dps_responses && i < sizeof B.dps_status / sizeof B.dps_status[0]; i++)
        printf("%s%u", i ? "," : "", B.dps_status[i]);
    printf("]");
    printf(",\"events\":[");
    for (size_t i = 0; i < B.event_count; i++) {
        const event_rec *e = &B.events[i];
        printf("%s{\"at_ms\":%.3f,\"state\":\"%s\",\"previous\":\"%s\",\"result\":\"%s\","
               "\"wait_ms\":%" PRIu32 "}",
               i ? "," : "", ms(e->at_us), hk_device_state_name(e->state),
               hk_device_state_name(e->previous), hk_result_name(e->result), e->wait_ms);
    }
    printf("]");
    if (B.opt.rtt_ms >= 0) {
        printf(",\"connections\":[");
        for (size_t i = 0; i < g_relay.conn_count; i++) {
            const hkb_relay_log *lg = &g_relay.conns[i].log;
            printf("%s{\"accept_ms\":%.3f,\"round_trips\":%zu,\"flights_lost\":%" PRIu64
                   ",\"flights\":[",
                   i ? "," : "", ms(lg->accept_us - B.t0_us), hkb_relay_log_round_trips(lg),
                   lg->flights_lost);
            size_t fc = lg->flight_count < HKB_RELAY_MAX_FLIGHTS ? lg->flight_count
                                                                 : HKB_RELAY_MAX_FLIGHTS;
            for (size_t k = 0; k < fc; k++) {
                const hkb_relay_flight *f = &lg->flights[k];
                char ct[48], st[48];
                printf("%s{\"start_ms\":%.3f,\"answer_ms\":", k ? "," : "", ms(f->start_us - B.t0_us));
                if (f->answer_us)
                    printf("%.3f", ms(f->answer_us - B.t0_us));
                else
                    printf("null");
                printf(",\"client_bytes\":%" PRIu64 ",\"server_bytes\":%" PRIu64
                       ",\"client_types\":\"%s\",\"server_types\":\"%s\"}",
                       f->client_bytes, f->server_bytes, type_names(f->client_types, ct, sizeof ct),
                       type_names(f->server_types, st, sizeof st));
            }
            printf("]}");
        }
        printf("],\"connections_refused\":%" PRIu64, g_relay.conns_refused);
    }
    if (B.opt.stack_probe)
        printf(",\"stack_high_water\":%zu", stack_used);
    printf(",\"static_bytes\":{\"hk_device\":%zu,\"hk_device_tls_link\":%zu,\"hk_atecc608\":%zu,"
           "\"hk_se_atecc608\":%zu,\"hk_posix\":%zu}",
           sizeof g_dev, sizeof g_tls_link, sizeof g_atecc, sizeof g_se_ctx, sizeof g_posix);
    printf(",\"chip_transfers\":%lu,\"chip\":%s}\n", g_chip.transfers, chip_json);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_boot --chip-server PATH --chip FILE --certdefs DIR --trust PEM "
                    "--id-scope SCOPE --dps HOST --cloud-port PORT [--rtt MS | --direct] "
                    "[--no-stack-probe] [--signer-template] [--timeout-ms MS]\n");
    return 2;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    options *o = &B.opt;
    o->rtt_ms = -1;
    o->stack_probe = true;
    o->timeout_ms = 120000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        if (strcmp(a, "--direct") == 0) {
            o->rtt_ms = -1;
            continue;
        }
        if (strcmp(a, "--no-stack-probe") == 0) {
            o->stack_probe = false;
            continue;
        }
        if (strcmp(a, "--signer-template") == 0) {
            o->signer_template = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--chip-server") == 0)
            o->chip_server = v;
        else if (strcmp(a, "--chip") == 0)
            o->chip_file = v;
        else if (strcmp(a, "--certdefs") == 0)
            o->certdefs = v;
        else if (strcmp(a, "--trust") == 0)
            o->trust = v;
        else if (strcmp(a, "--id-scope") == 0)
            o->id_scope = v;
        else if (strcmp(a, "--dps") == 0)
            o->dps = v;
        else if (strcmp(a, "--cloud-port") == 0 && parse_ulong(v, 65535, &n) && n > 0)
            o->cloud_port = (uint16_t)n;
        else if (strcmp(a, "--rtt") == 0 && parse_ulong(v, 10000, &n))
            o->rtt_ms = (long)n;
        else if (strcmp(a, "--timeout-ms") == 0 && parse_ulong(v, 3600000, &n) && n > 0)
            o->timeout_ms = (uint32_t)n;
        else
            return usage();
    }
    if (!o->chip_server || !o->chip_file || !o->certdefs || !o->trust || !o->id_scope ||
        !o->dps || !o->cloud_port)
        return usage();
    /* stdout is written once, at the end; a static buffer keeps stdio's own
     * buffer off the heap figure. */
    static char outbuf[65536];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    if (hk_test_load_certdef("bench_boot", o->certdefs, "device.certdef", g_device_def_buf,
                             sizeof g_device_def_buf, &g_device_def) != 0 ||
        hk_test_load_certdef("bench_boot", o->certdefs, "signer.certdef", g_signer_def_buf,
                             sizeof g_signer_def_buf, &g_signer_def) != 0)
        return 2;
    if (hk_test_read_file(o->trust, g_trust, sizeof g_trust - 1, &g_trust_len) != 0) {
        fprintf(stderr, "bench_boot: cannot read %s\n", o->trust);
        return 2;
    }
    g_trust[g_trust_len++] = '\0';
    if (hkb_chip_spawn(&g_chip, o->chip_server, o->chip_file) != 0) {
        perror("bench_boot: chip server");
        return 2;
    }
    if (o->rtt_ms >= 0 && hkb_relay_start(&g_relay, o->cloud_port, (uint32_t)o->rtt_ms) != 0) {
        perror("bench_boot: relay");
        hkb_chip_close(&g_chip);
        return 2;
    }
    size_t stack_used = 0;
    if (o->stack_probe)
        stack_used = run_with_stack_probe();
    else
        boot();
    hkb_relay_stop(&g_relay);
    static char chip_json[HKB_CHIP_COUNTERS_MAX];
    if (hkb_chip_counters(&g_chip, chip_json, sizeof chip_json) != 0)
        snprintf(chip_json, sizeof chip_json, "null");
    hkb_chip_close(&g_chip);
    print_result(stack_used, chip_json);
    fflush(stdout);
    return B.sent_ok ? 0 : 1;
}
