/* Fake secure element and scripted DPS / IoT Hub peers (fake_cloud.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cloud.h"
#include "hk_test.h"
#include "hubkey/mqtt.h"

/* ---- secure element ---- */

static hk_result se_serial(void *ctx, uint8_t *out, size_t cap, size_t *out_len)
{
    (void)ctx;
    if (cap < 9)
        return HK_ERR_BUFFER_TOO_SMALL;
    memset(out, 0x01, 9);
    *out_len = 9;
    return HK_OK;
}

static hk_result se_cert(void *ctx, unsigned index, uint8_t *out, size_t cap, size_t *out_len)
{
    fake_se *f = ctx;
    f->unheld += f->held == 0;
    if (f->fail_cert > 0) {
        f->fail_cert--;
        return HK_ERR_SE_NO_RESPONSE;
    }
    if (index != 0)
        return HK_ERR_NOT_FOUND;
    if (f->cert_error != HK_OK)
        return f->cert_error;
    *out_len = f->cert_len;
    if (cap < f->cert_len)
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, f->cert, f->cert_len);
    return HK_OK;
}

static hk_result se_sign(void *ctx, const uint8_t d[HK_SE_DIGEST_SIZE], uint8_t rs[HK_SE_SIGNATURE_SIZE])
{
    (void)ctx;
    (void)d;
    memset(rs, 0x5A, HK_SE_SIGNATURE_SIZE);
    return HK_OK;
}

static hk_result se_random(void *ctx, uint8_t *out, size_t len)
{
    fake_se *f = ctx;
    f->unheld += f->held == 0;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(0x3C + 7 * i);
    return HK_OK;
}

static hk_result se_read(void *ctx, size_t offset, uint8_t *out, size_t len)
{
    fake_se *f = ctx;
    f->unheld += f->held == 0;
    if (f->fail_read > 0) {
        f->fail_read--;
        return HK_ERR_SE_NO_RESPONSE;
    }
    if (offset > sizeof f->data || len > sizeof f->data - offset)
        return HK_ERR_INVALID_ARG;
    memcpy(out, f->data + offset, len);
    if (f->held == 0 || !f->read_in_hold)
        f->reads++;
    f->read_in_hold = f->held > 0;
    return HK_OK;
}

/* A run of reads inside hold is one record read. */
static void se_hold(void *ctx, bool on)
{
    fake_se *f = ctx;
    f->held += on ? 1 : -1;
    if (on && f->held == 1) {
        f->read_in_hold = false;
        f->holds++;
    }
}

static hk_result se_write(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    fake_se *f = ctx;
    f->unheld += f->held == 0;
    if (f->fail_write > 0) {
        f->fail_write--;
        return HK_ERR_SE_NO_RESPONSE;
    }
    if (offset > sizeof f->data || len > sizeof f->data - offset)
        return HK_ERR_INVALID_ARG;
    memcpy(f->data + offset, data, len);
    f->writes++;
    return HK_OK;
}

void fake_se_init(fake_se *f, const char *cert_hex, hk_se *out)
{
    memset(f, 0, sizeof *f);
    f->cert_len = hk_test_unhex(cert_hex, f->cert, sizeof f->cert);
    memset(f->data, 0xFF, sizeof f->data);
    out->ctx = f;
    out->serial = se_serial;
    out->cert = se_cert;
    out->sign_digest = se_sign;
    out->random = se_random;
    out->read_data = se_read;
    out->write_data = se_write;
    out->data_size = sizeof f->data;
    out->hold = se_hold;
}

/* ---- the peer ---- */

static void out_put(fake_cloud *c, const void *p, size_t n)
{
    if (n > sizeof c->out - c->out_len) {
        fprintf(stderr, "fake_cloud: output overflow\n");
        abort();
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static uint16_t push_id = 1;

static void publish_out(fake_cloud *c, const char *topic, const char *payload, int qos)
{
    hk_mqtt_publish m;
    memset(&m, 0, sizeof m);
    m.topic = topic;
    m.topic_len = strlen(topic);
    m.payload = (const uint8_t *)payload;
    m.payload_len = payload != NULL ? strlen(payload) : 0;
    m.qos = (uint8_t)qos;
    m.packet_id = qos ? push_id++ : 0;
    if (push_id == 0)
        push_id = 1;
    uint8_t buf[8192];
    size_t n = 0;
    if (hk_mqtt_publish_encode(&m, buf, sizeof buf, &n) != HK_OK) {
        fprintf(stderr, "fake_cloud: publish encode\n");
        abort();
    }
    out_put(c, buf, n);
}

void fake_cloud_push(fake_cloud *c, const char *topic, const char *payload, int qos)
{
    publish_out(c, topic, payload, qos);
}

void fake_cloud_cut(fake_cloud *c)
{
    c->cut = true;
}

bool fake_cloud_readable(const fake_cloud *c)
{
    return c->open && (c->out_pos < c->out_len || c->cut || c->handshaking);
}

static size_t get_str(const uint8_t *b, size_t len, size_t *pos, char *out, size_t cap)
{
    if (len - *pos < 2)
        return 0;
    size_t n = ((size_t)b[*pos] << 8) | b[*pos + 1];
    *pos += 2;
    if (n > len - *pos)
        n = len - *pos;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, b + *pos, k);
    out[k] = '\0';
    *pos += n;
    return n;
}

/* The $rid value of a request topic. */
static void rid_of(const char *topic, char *out, size_t cap)
{
    const char *p = strstr(topic, "$rid=");
    out[0] = '\0';
    if (p == NULL)
        return;
    p += 5;
    size_t n = strcspn(p, "&");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void dps_request(fake_cloud *c, const char *topic)
{
    if ((size_t)c->requests < sizeof c->register_ms / sizeof c->register_ms[0])
        c->register_ms[c->requests] = c->now_ms;
    fake_dps_reply rep = (size_t)c->requests < c->script_len ? c->script[c->requests] : c->after;
    c->requests++;
    if (rep.cut) {
        c->cut = true;
        return;
    }
    char rid[64], t[256];
    rid_of(topic, rid, sizeof rid);
    if (rep.retry_after)
        snprintf(t, sizeof t, "$dps/registrations/res/%u/?$rid=%s&retry-after=%u", rep.status,
                 rid, rep.retry_after);
    else
        snprintf(t, sizeof t, "$dps/registrations/res/%u/?$rid=%s", rep.status, rid);
    publish_out(c, t, rep.body, 0);
}

static void on_publish(fake_cloud *c, const hk_mqtt_publish *p)
{
    char topic[512];
    size_t tl = p->topic_len < sizeof topic - 1 ? p->topic_len : sizeof topic - 1;
    memcpy(topic, p->topic, tl);
    topic[tl] = '\0';
    size_t pl = p->payload_len < FAKE_TEXT - 1 ? p->payload_len : FAKE_TEXT - 1;
    char rid[80];
    rid_of(topic, rid, sizeof rid);
    if (p->qos == 1 && (c->kind == FAKE_DPS || c->hub_ack_telemetry ||
                        strncmp(topic, "devices/", 8) != 0)) {
        uint8_t ack[4] = {0x40, 0x02, (uint8_t)(p->packet_id >> 8), (uint8_t)p->packet_id};
        out_put(c, ack, sizeof ack);
    }
    if (strncmp(topic, "$dps/registrations/PUT/iotdps-register/", 39) == 0) {
        c->registers++;
        memcpy(c->last_body, p->payload, pl);
        c->last_body[pl] = '\0';
        dps_request(c, topic);
    } else if (strncmp(topic, "$dps/registrations/GET/iotdps-get-operationstatus/", 50) == 0) {
        c->polls++;
        dps_request(c, topic);
    } else if (strncmp(topic, "devices/", 8) == 0) {
        if (c->telemetry_flight < 0)
            c->telemetry_flight = c->flight;
        c->telemetry++;
        if (p->dup)
            c->telemetry_dup++;
        snprintf(c->last_topic, sizeof c->last_topic, "%s", topic);
        memcpy(c->last_payload, p->payload, pl);
        c->last_payload[pl] = '\0';
    } else if (strncmp(topic, "$iothub/twin/GET/", 17) == 0) {
        c->twin_gets++;
        char t[160];
        snprintf(t, sizeof t, "$iothub/twin/res/200/?$rid=%s", rid);
        publish_out(c, t, c->twin_doc, 0);
    } else if (strncmp(topic, "$iothub/twin/PATCH/properties/reported/", 39) == 0) {
        c->reported++;
        memcpy(c->last_payload, p->payload, pl);
        c->last_payload[pl] = '\0';
        char t[160];
        snprintf(t, sizeof t, "$iothub/twin/res/204/?$rid=%s&$version=5", rid);
        publish_out(c, t, "", 0);
    } else if (strncmp(topic, "$iothub/methods/res/", 20) == 0) {
        c->method_responses++;
        snprintf(c->last_topic, sizeof c->last_topic, "%s", topic);
        memcpy(c->last_payload, p->payload, pl);
        c->last_payload[pl] = '\0';
    }
}

static void serve(fake_cloud *c)
{
    size_t pos = 0;
    while (!c->cut) {
        hk_mqtt_packet pkt;
        size_t used = 0;
        if (hk_mqtt_packet_split(c->in + pos, c->in_len - pos, sizeof c->in, &pkt, &used) !=
                HK_OK ||
            used == 0)
            break;
        pos += used;
        if (c->telemetry_flight < 0)
            c->telemetry_packets++;
        const uint8_t *b = pkt.body;
        size_t n = pkt.body_len, q = 0;
        switch (pkt.type) {
        case HK_MQTT_CONNECT: {
            q = 7; /* protocol name, level */
            uint8_t flags = n > 7 ? b[7] : 0;
            c->connect_flight = c->flight;
            c->clean_session = (flags & 0x02) != 0;
            c->keep_alive_s = n > 9 ? (unsigned)((b[8] << 8) | b[9]) : 0;
            q = 10;
            get_str(b, n, &q, c->client_id, sizeof c->client_id);
            c->username[0] = '\0';
            if (flags & 0x80)
                get_str(b, n, &q, c->username, sizeof c->username);
            uint8_t code = c->kind == FAKE_HUB ? c->hub_connack : 0;
            uint8_t ack[4] = {0x20, 0x02, 0x00, code};
            out_put(c, ack, sizeof ack);
            if (code != 0)
                c->cut = true;
            break;
        }
        case HK_MQTT_SUBSCRIBE: {
            uint8_t ack[32] = {0x90, 0, b[0], b[1]};
            size_t k = 4;
            q = 2;
            while (q < n && k < sizeof ack) {
                char f[256];
                get_str(b, n, &q, f, sizeof f);
                q++;
                ack[k++] = 1;
                c->subscribe_filters++;
            }
            ack[1] = (uint8_t)(k - 2);
            out_put(c, ack, k);
            break;
        }
        case HK_MQTT_PUBLISH: {
            hk_mqtt_publish p;
            if (hk_mqtt_publish_decode(&pkt, &p) == HK_OK)
                on_publish(c, &p);
            break;
        }
        case HK_MQTT_PINGREQ: {
            uint8_t r[2] = {0xD0, 0x00};
            out_put(c, r, 2);
            break;
        }
        case HK_MQTT_DISCONNECT:
            c->disconnects++;
            c->cut = true;
            break;
        default:
            break;
        }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

/* Whether the byte cuts apply to the open connection. */
static bool cuts_apply(const fake_cloud *c)
{
    return c->kind == FAKE_DPS && (c->cut_every_connection || c->opens_dps == 1);
}

static hk_result t_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    fake_cloud *c = ctx;
    *out_sent = 0;
    if (!c->open)
        return HK_ERR_STATE;
    if (c->cut)
        return HK_ERR_CLOSED;
    if (c->delivered) {
        c->flight++;
        c->delivered = false;
    }
    size_t room = sizeof c->in - c->in_len;
    size_t n = len < room ? len : room;
    if (cuts_apply(c) && c->cut_up_at >= 0 && c->conn_up + n >= (size_t)c->cut_up_at) {
        /* The device's send succeeds; only the bytes before the cut reach
         * the server, which then sees the connection end. */
        size_t k = (size_t)c->cut_up_at - c->conn_up;
        memcpy(c->in + c->in_len, buf, k);
        c->in_len += k;
        c->conn_up += n;
        *out_sent = n;
        serve(c);
        c->cut = true;
        c->out_pos = c->out_len; /* whatever the server had not yet sent is lost */
        return HK_OK;
    }
    c->conn_up += n;
    memcpy(c->in + c->in_len, buf, n);
    c->in_len += n;
    *out_sent = n;
    serve(c);
    return HK_OK;
}

static hk_result t_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    fake_cloud *c = ctx;
    *out_received = 0;
    if (!c->open)
        return HK_ERR_STATE;
    size_t left = c->out_len - c->out_pos;
    if (cuts_apply(c) && c->cut_down_at >= 0 && !c->cut) {
        size_t room = (size_t)c->cut_down_at - c->conn_down;
        if (left >= room) {
            left = room; /* the rest never arrives */
            c->out_len = c->out_pos + room;
            c->cut = true;
        }
    }
    if (left == 0) {
        c->out_len = c->out_pos = 0;
        return c->cut ? HK_ERR_CLOSED : HK_OK;
    }
    size_t n = left < cap ? left : cap;
    c->conn_down += n;
    memcpy(buf, c->out + c->out_pos, n);
    c->out_pos += n;
    *out_received = n;
    c->delivered = true;
    return HK_OK;
}

static hk_result l_open(void *ctx, const char *host, uint16_t port, const uint8_t *trust,
                        size_t trust_len)
{
    fake_cloud *c = ctx;
    (void)port;
    snprintf(c->last_host, sizeof c->last_host, "%s", host);
    c->last_trust = trust != NULL;
    c->last_trust_text[0] = '\0';
    if (trust != NULL) {
        size_t n = trust_len < FAKE_TEXT ? trust_len : FAKE_TEXT - 1;
        memcpy(c->last_trust_text, trust, n);
        c->last_trust_text[n] = '\0';
        if (trust_len == 0 || trust[trust_len - 1] != '\0')
            return HK_ERR_INVALID_ARG; /* the PEM must carry its NUL */
    }
    bool dps = strcmp(host, c->dps_host) == 0;
    if (dps)
        c->opens_dps++;
    else
        c->opens_hub++;
    if (c->fail_open > 0) {
        c->fail_open--;
        return HK_ERR_CONNECT;
    }
    if (!dps && c->hub_reject > 0) {
        c->hub_reject--;
        return c->hub_reject_result;
    }
    c->kind = dps ? FAKE_DPS : FAKE_HUB;
    c->open = true;
    c->cut = false;
    c->polled_once = false;
    c->in_len = c->out_len = c->out_pos = 0;
    c->flight = 0;
    c->delivered = false;
    c->connect_flight = -1;
    c->telemetry_flight = -1;
    c->telemetry_packets = 0;
    c->conn_up = c->conn_down = 0;
    return HK_OK;
}

static hk_result l_poll(void *ctx, bool *out_ready, hk_transport *out_t)
{
    fake_cloud *c = ctx;
    *out_ready = false;
    if (!c->open)
        return HK_ERR_STATE;
    if (c->slow_handshake && !c->polled_once) {
        c->polled_once = true;
        c->handshaking = true; /* the server's flight is on its way */
        return HK_OK;
    }
    c->handshaking = false;
    if (c->kind == FAKE_DPS && c->dps_handshake_error != HK_OK && c->handshake_errors_left != 0) {
        if (c->handshake_errors_left > 0)
            c->handshake_errors_left--;
        return c->dps_handshake_error;
    }
    out_t->ctx = c;
    out_t->send = t_send;
    out_t->recv = t_recv;
    *out_ready = true;
    return HK_OK;
}

static void l_close(void *ctx)
{
    fake_cloud *c = ctx;
    if (c->kind == FAKE_DPS) {
        c->closed_dps_up = c->conn_up;
        c->closed_dps_down = c->conn_down;
    }
    c->open = false;
    c->kind = 0;
}

static void l_wait(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    (void)timeout_ms;
}

void fake_cloud_init(fake_cloud *c)
{
    memset(c, 0, sizeof *c);
    c->dps_host = "dps.test";
    c->cut_up_at = c->cut_down_at = -1;
    c->hub_ack_telemetry = true;
    c->twin_doc = "{\"desired\":{\"$version\":1},\"reported\":{\"$version\":1}}";
}

hk_device_link fake_cloud_link(fake_cloud *c)
{
    hk_device_link l = {c, l_open, l_poll, l_close, l_wait};
    return l;
}
