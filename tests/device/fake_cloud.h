/*
 * Test doubles for the boot flow: a fake secure element (a certificate, a
 * 416-byte data area, fault counters) and a fake link whose connections are
 * scripted in-memory MQTT peers playing DPS or IoT Hub. The peer answers
 * synchronously while the device sends, so a test drives time by hand.
 */
#ifndef FAKE_CLOUD_H
#define FAKE_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/device.h"
#include "hubkey/se.h"

/* ---- secure element ---- */

typedef struct fake_se {
    uint8_t cert[1024];
    size_t cert_len;
    uint8_t data[416];
    int fail_cert;   /* next N cert reads fail (HK_ERR_SE_NO_RESPONSE) */
    int fail_read;   /* next N data reads fail */
    int fail_write;  /* next N data writes fail */
    hk_result cert_error; /* not HK_OK: every read of certificate 0 fails with it */
    int writes;      /* write_data calls that succeeded */
    int reads;       /* read_data calls that succeeded; a run inside hold counts once */
    int held;        /* hold depth */
    int holds;       /* outermost holds (awake sequences) */
    int unheld;      /* cert, random, read and write calls outside any hold */
    bool read_in_hold; /* a read was counted in this hold */
} fake_se;

void fake_se_init(fake_se *f, const char *cert_hex, hk_se *out);

/* ---- cloud ---- */

enum { FAKE_DPS = 1, FAKE_HUB = 2 };

typedef struct fake_dps_reply {
    unsigned status;
    unsigned retry_after; /* 0 = absent */
    const char *body;     /* "" for none */
    bool cut;             /* close the connection instead of answering */
} fake_dps_reply;

#define FAKE_SCRIPT_MAX 16
#define FAKE_TEXT 4096

typedef struct fake_cloud {
    /* configuration */
    const char *dps_host;
    fake_dps_reply script[FAKE_SCRIPT_MAX]; /* one per register/poll, in order */
    size_t script_len;
    fake_dps_reply after; /* once the script is used up */
    uint8_t hub_connack;  /* CONNACK return code the hub gives */
    bool hub_ack_telemetry;
    int fail_open;        /* next N opens fail with HK_ERR_CONNECT */
    int hub_reject;       /* next N hub opens fail with hub_reject_result, as
                           * when the hub's TLS handshake refuses the device */
    hk_result hub_reject_result;
    bool slow_handshake;  /* first poll of each connection is "not ready" */
    /* The set-up (TLS handshake) of DPS connections fails with this result
     * (not HK_OK), e.g. the server's alert refusing the client certificate;
     * handshake_errors_left: for that many connections (-1: all). */
    hk_result dps_handshake_error;
    int handshake_errors_left;
    /* Cuts at a byte of DPS connections, counted per connection (-1: off):
     * the server receives only the first cut_up_at bytes the device sends,
     * the device only the first cut_down_at bytes the server sends; then the
     * connection is closed. cut_every_connection: on every DPS connection,
     * else on the first one only. */
    long cut_up_at, cut_down_at;
    bool cut_every_connection;
    size_t conn_up, conn_down; /* bytes moved on the open connection */
    size_t closed_dps_up, closed_dps_down; /* the same, of the last DPS connection closed */
    const char *twin_doc;

    /* the open connection */
    int kind; /* 0 = none */
    bool open;
    bool cut;          /* server closed: recv gives HK_ERR_CLOSED */
    bool polled_once;
    bool handshaking;
    uint8_t in[16384];
    size_t in_len;
    uint8_t out[16384];
    size_t out_len, out_pos;

    /* observations */
    int opens_dps, opens_hub;
    int registers, polls;
    uint32_t register_ms[32]; /* time of each register/poll request */
    int requests;
    uint32_t now_ms;          /* set by the test, for register_ms */
    char last_host[256];
    bool last_trust;
    char last_trust_text[FAKE_TEXT];
    char client_id[256];
    char username[512];
    bool clean_session;
    unsigned keep_alive_s; /* of the last CONNECT */
    int subscribe_filters;
    char last_body[FAKE_TEXT];
    int telemetry, telemetry_dup;
    char last_topic[512];
    char last_payload[FAKE_TEXT];
    int twin_gets, reported, method_responses;
    int disconnects;
    /* Flights of the open connection: a flight is the device's bytes
     * between two deliveries of server bytes (0 = the first one). */
    int flight;
    bool delivered;          /* server bytes reached the device since the last send */
    int connect_flight;      /* flight of the last CONNECT */
    int telemetry_flight;    /* flight of the first telemetry of the connection; -1 none */
    int telemetry_packets;   /* packets of the connection up to that telemetry, itself included */
} fake_cloud;

void fake_cloud_init(fake_cloud *c);
hk_device_link fake_cloud_link(fake_cloud *c);
/* Server-initiated PUBLISH (QoS 0 or 1) to the device. */
void fake_cloud_push(fake_cloud *c, const char *topic, const char *payload, int qos);
/* The server drops the connection. */
void fake_cloud_cut(fake_cloud *c);
/* Bytes wait for the device. */
bool fake_cloud_readable(const fake_cloud *c);

#endif
