/*
 * hubkey-cloud registration benchmark.
 *
 *   bench_cloud [N] [THREADS]
 *
 * Starts a cloud on a random loopback port, enrolls one group CA, makes N
 * device certificates (EC P-256) and runs N complete DPS registrations over
 * TLS from THREADS concurrent libmosquitto clients: each registration is a new
 * TLS connection with the device's certificate chain, SUBSCRIBE, register,
 * 202, status poll, 200 assigned, DISCONNECT (each device's TLS context is
 * prepared before timing, as firmware has it at boot). retry-after is 0 so the
 * figure measures the cloud, not the protocol's waiting time. Prints a table
 * with what was lost both as the clients saw it and by the cloud's own count
 * of completed registrations (its state, not the clients' answers); exits
 * non-zero only when registrations were lost by either count.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "hkc_util.h"
#include "hkt_env.h"

/* A device's TLS setup as firmware has it at boot: trust anchor, its chain
 * and key, server identity check. Made before the clock starts so the figure
 * measures the exchanges, not OpenSSL's context construction. */
static SSL_CTX *device_ctx(const char *ca, const struct hkt_cert *dev)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), "127.0.0.1");
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, dev->chain_path) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, dev->key_path, SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct bench {
    struct hkt_cloud cloud;
    struct hkt_cert *devs;
    char (*ids)[32];
    int n;
    atomic_int next;
    atomic_int ok;
    double *lat_ms;
};

static void *worker(void *arg)
{
    struct bench *b = arg;
    for (;;) {
        int i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n)
            break;
        uint64_t t0 = hkc_now_ms();
        struct timespec a, z;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int status;
        json_t *body = hkt_dps_register(&b->cloud, &b->devs[i], b->ids[i], NULL, &status);
        clock_gettime(CLOCK_MONOTONIC, &z);
        (void)t0;
        const char *st = json_string_value(json_object_get(body, "status"));
        if (status == 200 && st && strcmp(st, "assigned") == 0)
            atomic_fetch_add(&b->ok, 1);
        b->lat_ms[i] = (double)(z.tv_sec - a.tv_sec) * 1e3 + (double)(z.tv_nsec - a.tv_nsec) / 1e6;
        json_decref(body);
    }
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    if (n < 1 || n > 100000 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: bench_cloud [N 1..100000] [THREADS 1..64]\n");
        return 2;
    }
    static struct bench b;
    b.n = n;
    if (!hkt_cloud_start(&b.cloud)) {
        fprintf(stderr, "bench_cloud: could not start hubkey-cloud\n");
        hkt_cloud_stop(&b.cloud);
        return 1;
    }
    hkt_cli(&b.cloud, NULL, "config", "set", "registration-rate", "0", NULL);
    struct hkt_cert ca;
    if (!hkt_ca_make(&b.cloud, &ca, "Bench CA", NULL) ||
        hkt_cli(&b.cloud, NULL, "enroll", "group", "add", "bench", "--cert", ca.cert_path,
                NULL) != 0) {
        hkt_cloud_stop(&b.cloud);
        return 1;
    }
    b.devs = calloc((size_t)n, sizeof(*b.devs));
    b.ids = calloc((size_t)n, sizeof(*b.ids));
    b.lat_ms = calloc((size_t)n, sizeof(*b.lat_ms));
    for (int i = 0; i < n; i++) {
        snprintf(b.ids[i], sizeof(b.ids[i]), "bench-dev-%05d", i);
        if (!hkt_device_make(&b.cloud, &b.devs[i], b.ids[i], &ca, NULL) ||
            !(b.devs[i].ssl_ctx = device_ctx(b.cloud.ca, &b.devs[i]))) {
            fprintf(stderr, "bench_cloud: certificate %d failed\n", i);
            hkt_cloud_stop(&b.cloud);
            return 1;
        }
    }
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, &b);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &z);
    double secs = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;

    /* The cloud's own count, from its state (hubkey-cloud registrations):
     * devices it holds as assigned, and the registrations it completed (each
     * row counts its device's completed registrations). A client can see an
     * answer the cloud did not record, or miss one it did: both are printed. */
    json_t *regs = hkt_cli_json(&b.cloud, "registrations", "--json", NULL);
    int recorded = 0;
    long long completed = 0;
    size_t k;
    json_t *r;
    json_array_foreach(regs, k, r)
        if (strcmp(json_string_value(json_object_get(r, "status")) ?: "", "assigned") == 0) {
            recorded++;
            completed += json_integer_value(json_object_get(r, "count"));
        }
    json_decref(regs);

    qsort(b.lat_ms, (size_t)n, sizeof(double), cmp_double);
    int ok = atomic_load(&b.ok);
    int lost = n - ok;
    printf("\nhubkey-cloud DPS registration benchmark (TLS, new connection per registration)\n");
    printf("  %-28s %d\n", "registrations", n);
    printf("  %-28s %d\n", "concurrent clients", threads);
    printf("  %-28s %.2f s\n", "elapsed", secs);
    printf("  %-28s %.1f\n", "registrations/s", (double)ok / secs);
    printf("  %-28s %.1f ms\n", "latency p50", b.lat_ms[n / 2]);
    printf("  %-28s %.1f ms\n", "latency p99", b.lat_ms[(n * 99) / 100 >= n ? n - 1 : (n * 99) / 100]);
    printf("  %-28s %.1f ms\n", "latency max", b.lat_ms[n - 1]);
    printf("  %-28s %d\n", "assigned (client view)", ok);
    printf("  %-28s %d\n", "assigned (cloud records)", recorded);
    printf("  %-28s %lld\n", "completed (cloud's count)", completed);
    printf("  %-28s %d\n", "lost (client view)", lost);
    printf("  %-28s %lld\n", "lost (cloud's count)", (long long)n - completed);
    for (int i = 0; i < n; i++) {
        SSL_CTX_free(b.devs[i].ssl_ctx);
        hkt_cert_free(&b.devs[i]);
    }
    hkt_cert_free(&ca);
    free(b.devs);
    free(b.ids);
    free(b.lat_ms);
    free(t);
    hkt_cloud_stop(&b.cloud);
    return lost == 0 && recorded == n && completed == n ? 0 : 1;
}
