/*
 * hubkey-cloud packet size bound. Mosquitto reads a whole MQTT packet into
 * memory before any plugin sees it (and a CONNECT before authentication), so
 * the broker's own `max_packet_size` must refuse oversized packets as soon as
 * their length is announced. These tests announce 256 MB (CONNECT) and 64 MB
 * (PUBLISH) over raw TLS, stream the bytes, and check that the broker closes
 * the connection early and that its resident memory (VmRSS) does not grow;
 * the largest legitimate message (256 KB) still passes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hkc_util.h"
#include "hkt_env.h"

#define HUB "hub-1.hubkey.test"
#define STREAM_BYTES (64u * 1024u * 1024u)
/* What the broker may grow by while refusing: well under the streamed size. */
#define RSS_GROWTH_MAX_KB (8L * 1024L)

static struct hkt_cloud cloud;
static struct hkt_cert dev;

/* MQTT remaining-length encoding; returns the bytes written (1..4). */
static size_t put_len(unsigned char *p, uint32_t v)
{
    size_t n = 0;
    do {
        unsigned char b = (unsigned char)(v % 128u);
        v /= 128u;
        p[n++] = (unsigned char)(v ? b | 0x80u : b);
    } while (v && n < 4);
    return n;
}

static size_t put_str(unsigned char *p, const char *s)
{
    size_t l = strlen(s);
    p[0] = (unsigned char)(l >> 8);
    p[1] = (unsigned char)l;
    memcpy(p + 2, s, l);
    return 2 + l;
}

/* Writes the header, then up to STREAM_BYTES of filler; returns how much
 * filler went out before the connection was closed. */
static size_t stream_after(struct hkt_tls *t, const unsigned char *hdr, size_t hl)
{
    static unsigned char filler[256 * 1024];
    if (!hkt_tls_write(t, hdr, hl))
        return 0;
    size_t sent = 0;
    while (sent < STREAM_BYTES && hkt_tls_write(t, filler, sizeof(filler)))
        sent += sizeof(filler);
    return sent;
}

static void test_oversized_connect(void)
{
    long rss0 = hkt_broker_rss_kb(&cloud);
    HK_CHECK(rss0 > 0);
    struct hkt_tls t;
    HK_CHECK(hkt_tls_open(&cloud, &t, &dev, NULL));
    /* CONNECT announcing the largest length MQTT can express (256 MB - 1). */
    unsigned char hdr[8] = {0x10};
    size_t hl = 1 + put_len(hdr + 1, 268435455u);
    size_t sent = stream_after(&t, hdr, hl);
    long rss1 = hkt_broker_rss_kb(&cloud);
    printf("oversized CONNECT: %zu bytes accepted before the close, broker RSS %ld -> %ld KiB\n",
           sent, rss0, rss1);
    HK_CHECK(sent < STREAM_BYTES);
    HK_CHECK(rss1 > 0 && rss1 - rss0 < RSS_GROWTH_MAX_KB);
    hkt_tls_close(&t);
}

/* A valid hub CONNECT for dev, then the CONNACK. */
static bool hub_connect(struct hkt_tls *t)
{
    char *user = hkt_hub_username(HUB, "limits-dev");
    unsigned char pkt[512];
    unsigned char body[480];
    size_t b = 0;
    memcpy(body, "\x00\x04MQTT\x04\x82\x00\x3c", 10); /* 3.1.1, username + clean, 60 s */
    b = 10;
    b += put_str(body + b, "limits-dev");
    b += put_str(body + b, user);
    free(user);
    pkt[0] = 0x10;
    size_t k = 1 + put_len(pkt + 1, (uint32_t)b);
    memcpy(pkt + k, body, b);
    if (!hkt_tls_write(t, pkt, k + b))
        return false;
    unsigned char ack[4];
    int n = hkt_tls_read(t, ack, sizeof(ack), HKT_WAIT_MS);
    return n == 4 && ack[0] == 0x20 && ack[3] == 0;
}

static void test_oversized_publish(void)
{
    long rss0 = hkt_broker_rss_kb(&cloud);
    struct hkt_tls t;
    HK_CHECK(hkt_tls_open(&cloud, &t, &dev, NULL));
    HK_CHECK(hub_connect(&t));
    /* QoS 0 telemetry PUBLISH announcing a 64 MB body. */
    const char *topic = "devices/limits-dev/messages/events/";
    unsigned char hdr[128] = {0x30};
    size_t hl = 1 + put_len(hdr + 1, (uint32_t)(2 + strlen(topic) + STREAM_BYTES));
    hl += put_str(hdr + hl, topic);
    size_t sent = stream_after(&t, hdr, hl);
    long rss1 = hkt_broker_rss_kb(&cloud);
    printf("oversized PUBLISH: %zu bytes accepted before the close, broker RSS %ld -> %ld KiB\n",
           sent, rss0, rss1);
    HK_CHECK(sent < STREAM_BYTES);
    HK_CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < RSS_GROWTH_MAX_KB);
    hkt_tls_close(&t);
}

/* The bound sits above the largest message IoT Hub accepts: 256 KB of body
 * and topic still arrives and is stored. */
static void test_largest_message_passes(void)
{
    struct hkt_mqtt q;
    char *user = hkt_hub_username(HUB, "limits-dev");
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "limits-dev", user), 0);
    free(user);
    const char *topic = "devices/limits-dev/messages/events/";
    size_t len = HKC_MESSAGE_MAX - strlen(topic);
    char *body = malloc(len);
    HK_CHECK(body != NULL);
    if (body) {
        memset(body, 'x', len);
        HK_CHECK(hkt_mqtt_publish(&q, topic, body, (int)len, 1));
    }
    free(body);
    hkt_mqtt_close(&q);
    json_t *tel = hkt_cli_json(&cloud, "telemetry", "--json", "--device", "limits-dev", NULL);
    HK_CHECK_EQ(json_array_size(tel), 1);
    json_decref(tel);
}

int main(void)
{
    if (!hkt_cloud_start(&cloud)) {
        fprintf(stderr, "could not start hubkey-cloud\n");
        hkt_cloud_stop(&cloud);
        return 1;
    }
    /* A known device: the TLS layer trusts its (self-signed) certificate. */
    if (!hkt_device_make(&cloud, &dev, "limits-dev", NULL, NULL) ||
        hkt_cli(&cloud, NULL, "device", "add", "limits-dev", "--hub", HUB, "--cert",
                dev.cert_path, NULL) != 0) {
        hkt_cloud_stop(&cloud);
        return 1;
    }
    HK_RUN(test_oversized_connect);
    HK_RUN(test_oversized_publish);
    HK_RUN(test_largest_message_passes);
    hkt_cert_free(&dev);
    hkt_cloud_stop(&cloud);
    return hk_test_finish("cloud_limits");
}
