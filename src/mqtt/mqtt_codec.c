/*
 * MQTT 3.1.1 packet codec (OASIS standard, sections 2 and 3).
 *
 * Encoders compute the remaining length first, so the exact size is known
 * before a single byte is written; frame() is the only place that compares it
 * with the buffer. Decoders check every length against what is actually
 * present before reading, and treat anything a server is not allowed to send
 * as a protocol error (no lenient parsing: a confused peer is a failed
 * connection, not a guess).
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/mqtt.h"

/* The CONNACK refusals are consecutive so a return code maps by addition. */
_Static_assert(HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED == HK_ERR_MQTT_REFUSED_PROTOCOL + 4,
               "CONNACK refusal results must be consecutive");

#define STR_MAX 0xFFFFu

static uint8_t *put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/* Two-byte length prefix, then the bytes (MQTT "UTF-8 string" / binary data). */
static uint8_t *put_str(uint8_t *p, const void *s, size_t n)
{
    p = put_u16(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Fixed header: <first byte> <remaining length, 7 bits per byte, low first,
 * bit 7 = more>. Reports the total size; writes the header only when the
 * whole packet fits, and returns where the variable header starts. */
static hk_result frame(uint8_t first, size_t rl, uint8_t *buf, size_t cap, size_t *out_len,
                       uint8_t **out_p)
{
    if (rl > HK_MQTT_MAX_REMAINING_LENGTH)
        return HK_ERR_MQTT_PACKET_TOO_LARGE;
    size_t total = 2 + rl;
    for (size_t v = rl; v > 127; v >>= 7)
        total++;
    *out_len = total;
    if (cap < total)
        return HK_ERR_BUFFER_TOO_SMALL;
    uint8_t *p = buf;
    *p++ = first;
    do {
        uint8_t b = (uint8_t)(rl & 0x7F);
        rl >>= 7;
        *p++ = (uint8_t)(rl ? b | 0x80 : b);
    } while (rl);
    *out_p = p;
    return HK_OK;
}

/* CONNECT: 10 <len> 00 04 'M' 'Q' 'T' 'T' 04 <flags> <keep-alive:2> <client id:2+n>
 *          [<user name:2+n>] [<password:2+n>]; flags 0x80 user, 0x40 password,
 *          0x02 clean session. */
hk_result hk_mqtt_connect_encode(const hk_mqtt_connect_options *options, uint8_t *buf, size_t cap,
                                 size_t *out_len)
{
    static const uint8_t protocol[7] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04};
    HK_REQUIRE(options != NULL && out_len != NULL && (buf != NULL || cap == 0));
    const hk_mqtt_connect_options *o = options;
    if (o->client_id_len > STR_MAX || o->username_len > STR_MAX || o->password_len > STR_MAX ||
        (o->client_id == NULL && o->client_id_len) || (o->password != NULL && o->username == NULL))
        return HK_ERR_INVALID_ARG;
    uint8_t flags = o->clean_session ? 0x02 : 0x00;
    size_t rl = 12 + o->client_id_len;
    if (o->username) {
        flags |= 0x80;
        rl += 2 + o->username_len;
    }
    if (o->password) {
        flags |= 0x40;
        rl += 2 + o->password_len;
    }
    uint8_t *p;
    HK_TRY(frame(0x10, rl, buf, cap, out_len, &p));
    memcpy(p, protocol, sizeof protocol);
    p += sizeof protocol;
    *p++ = flags;
    p = put_u16(p, o->keep_alive_s);
    p = put_str(p, o->client_id, o->client_id_len);
    if (o->username)
        p = put_str(p, o->username, o->username_len);
    if (o->password)
        put_str(p, o->password, o->password_len);
    return HK_OK;
}

/* SUBSCRIBE:   82 <len> <packet id:2> { <filter:2+n> <requested QoS> }...
 * UNSUBSCRIBE: a2 <len> <packet id:2> { <filter:2+n> }...
 * (both carry the reserved flags 0010 that MQTT 3.1.1 requires). */
static hk_result encode_filters(uint8_t first, uint16_t packet_id, const hk_mqtt_subscription *subs,
                                size_t count, uint8_t *buf, size_t cap, size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (buf != NULL || cap == 0) && (subs != NULL || count == 0));
    size_t with_qos = first == 0x82;
    if (packet_id == 0 || count == 0)
        return HK_ERR_INVALID_ARG;
    size_t rl = 2;
    for (size_t i = 0; i < count; i++) {
        const hk_mqtt_subscription *s = &subs[i];
        if (s->filter == NULL || s->filter_len == 0 || s->filter_len > STR_MAX ||
            (with_qos && s->qos > 1))
            return HK_ERR_INVALID_ARG;
        rl += 2 + s->filter_len + with_qos;
        if (rl > HK_MQTT_MAX_REMAINING_LENGTH)
            return HK_ERR_MQTT_PACKET_TOO_LARGE;
    }
    uint8_t *p;
    HK_TRY(frame(first, rl, buf, cap, out_len, &p));
    p = put_u16(p, packet_id);
    for (size_t i = 0; i < count; i++) {
        p = put_str(p, subs[i].filter, subs[i].filter_len);
        if (with_qos)
            *p++ = subs[i].qos;
    }
    return HK_OK;
}

hk_result hk_mqtt_subscribe_encode(uint16_t packet_id, const hk_mqtt_subscription *subs,
                                   size_t count, uint8_t *buf, size_t cap, size_t *out_len)
{
    return encode_filters(0x82, packet_id, subs, count, buf, cap, out_len);
}

hk_result hk_mqtt_unsubscribe_encode(uint16_t packet_id, const hk_mqtt_subscription *subs,
                                     size_t count, uint8_t *buf, size_t cap, size_t *out_len)
{
    return encode_filters(0xA2, packet_id, subs, count, buf, cap, out_len);
}

/* PUBLISH: 3<DUP:1 QoS:2 RETAIN:1> <len> <topic:2+n> [<packet id:2> when QoS 1] <payload> */
hk_result hk_mqtt_publish_encode(const hk_mqtt_publish *publish, uint8_t *buf, size_t cap,
                                 size_t *out_len)
{
    HK_REQUIRE(publish != NULL && out_len != NULL && (buf != NULL || cap == 0));
    const hk_mqtt_publish *m = publish;
    if (m->topic == NULL || m->topic_len == 0 || m->topic_len > STR_MAX || m->qos > 1 ||
        (m->qos && m->packet_id == 0) || (m->dup && !m->qos) ||
        (m->payload == NULL && m->payload_len))
        return HK_ERR_INVALID_ARG;
    if (m->payload_len > HK_MQTT_MAX_REMAINING_LENGTH)
        return HK_ERR_MQTT_PACKET_TOO_LARGE;
    size_t rl = 2 + m->topic_len + 2u * m->qos + m->payload_len;
    uint8_t first = (uint8_t)(0x30 | (m->dup ? 0x08 : 0) | (m->qos << 1) | (m->retain ? 1 : 0));
    uint8_t *p;
    HK_TRY(frame(first, rl, buf, cap, out_len, &p));
    p = put_str(p, m->topic, m->topic_len);
    if (m->qos)
        p = put_u16(p, m->packet_id);
    if (m->payload_len)
        memcpy(p, m->payload, m->payload_len);
    return HK_OK;
}

/* PUBACK 40 02 <packet id:2>; PINGREQ c0 00; DISCONNECT e0 00. */
static hk_result encode_short(uint8_t first, uint16_t packet_id, uint8_t *buf, size_t cap,
                              size_t *out_len)
{
    HK_REQUIRE(out_len != NULL && (buf != NULL || cap == 0));
    size_t rl = first == 0x40 ? 2 : 0;
    uint8_t *p;
    HK_TRY(frame(first, rl, buf, cap, out_len, &p));
    if (rl)
        put_u16(p, packet_id);
    return HK_OK;
}

hk_result hk_mqtt_puback_encode(uint16_t packet_id, uint8_t *buf, size_t cap, size_t *out_len)
{
    if (packet_id == 0)
        return HK_ERR_INVALID_ARG;
    return encode_short(0x40, packet_id, buf, cap, out_len);
}

hk_result hk_mqtt_pingreq_encode(uint8_t *buf, size_t cap, size_t *out_len)
{
    return encode_short(0xC0, 0, buf, cap, out_len);
}

hk_result hk_mqtt_disconnect_encode(uint8_t *buf, size_t cap, size_t *out_len)
{
    return encode_short(0xE0, 0, buf, cap, out_len);
}

/* Fixed header, e.g. 20 02 ... (CONNACK, remaining length 2) or
 * 30 81 01 ... (PUBLISH, remaining length 129 in two bytes). The length is
 * at most four bytes; the total is checked against max_packet as soon as the
 * length is complete, before the body has arrived. */
hk_result hk_mqtt_packet_split(const uint8_t *buf, size_t len, size_t max_packet,
                               hk_mqtt_packet *out_packet, size_t *out_consumed)
{
    HK_REQUIRE(out_packet != NULL && out_consumed != NULL && (buf != NULL || len == 0));
    *out_consumed = 0;
    size_t rl = 0;
    size_t i = 1;
    uint8_t b;
    do {
        if (i > 4)
            return HK_ERR_MQTT_BAD_LENGTH;
        if (i >= len)
            return HK_OK;
        b = buf[i];
        rl |= (size_t)(b & 0x7F) << (7 * (i - 1));
        i++;
    } while (b & 0x80);
    size_t total = i + rl;
    if (total > max_packet)
        return HK_ERR_MQTT_PACKET_TOO_LARGE;
    if (len < total)
        return HK_OK;
    out_packet->type = (uint8_t)(buf[0] >> 4);
    out_packet->flags = (uint8_t)(buf[0] & 0x0F);
    out_packet->body = buf + i;
    out_packet->body_len = rl;
    *out_consumed = total;
    return HK_OK;
}

/* True when the packet is of this type with flags 0000 and a body of at least
 * min bytes (the reserved flags of every server-to-client packet except
 * PUBLISH are zero). */
static int plain(const hk_mqtt_packet *p, uint8_t type, size_t min)
{
    return p->type == type && p->flags == 0 && p->body_len >= min;
}

/* CONNACK: 20 02 <ack flags: bit 0 = session present> <return code>,
 * e.g. 20 02 00 00 (accepted, no session) or 20 02 00 05 (not authorized). */
hk_result hk_mqtt_connack_decode(const hk_mqtt_packet *packet, bool *out_session_present)
{
    HK_REQUIRE(packet != NULL && out_session_present != NULL &&
               (packet->body != NULL || packet->body_len == 0));
    const uint8_t *b = packet->body;
    *out_session_present = false;
    if (!plain(packet, HK_MQTT_CONNACK, 2) || packet->body_len != 2 || (b[0] & 0xFE) ||
        (b[1] && b[0]))
        return HK_ERR_MQTT_PROTOCOL;
    if (b[1] > 5)
        return HK_ERR_MQTT_REFUSED_OTHER;
    if (b[1])
        return (hk_result)(HK_ERR_MQTT_REFUSED_PROTOCOL + b[1] - 1);
    *out_session_present = b[0] != 0;
    return HK_OK;
}

/* SUBACK: 90 <len> <packet id:2> <return code per filter>,
 * e.g. 90 03 00 01 01 (packet id 1, QoS 1 granted) or 90 04 00 07 00 80. */
hk_result hk_mqtt_suback_decode(const hk_mqtt_packet *packet, uint16_t *out_packet_id,
                                const uint8_t **out_codes, size_t *out_count)
{
    HK_REQUIRE(packet != NULL && out_packet_id != NULL && out_codes != NULL && out_count != NULL &&
               (packet->body != NULL || packet->body_len == 0));
    const uint8_t *b = packet->body;
    if (!plain(packet, HK_MQTT_SUBACK, 3) || get_u16(b) == 0)
        return HK_ERR_MQTT_PROTOCOL;
    for (size_t i = 2; i < packet->body_len; i++)
        if (b[i] > 2 && b[i] != HK_MQTT_SUBACK_FAILURE)
            return HK_ERR_MQTT_PROTOCOL;
    *out_packet_id = get_u16(b);
    *out_codes = b + 2;
    *out_count = packet->body_len - 2;
    return HK_OK;
}

/* PUBLISH from the server, e.g. QoS 0: 30 07 00 03 't' '/' 'x' 'h' 'i';
 * QoS 1: 32 09 00 03 't' '/' 'x' 00 05 'h' 'i' (packet id 5). */
hk_result hk_mqtt_publish_decode(const hk_mqtt_packet *packet, hk_mqtt_publish *out)
{
    HK_REQUIRE(packet != NULL && out != NULL && (packet->body != NULL || packet->body_len == 0));
    const uint8_t *b = packet->body;
    unsigned qos = (packet->flags >> 1) & 3;
    if (packet->type != HK_MQTT_PUBLISH || qos == 3 || ((packet->flags & 0x08) && !qos))
        return HK_ERR_MQTT_PROTOCOL;
    if (qos == 2)
        return HK_ERR_MQTT_QOS2;
    if (packet->body_len < 2)
        return HK_ERR_MQTT_PROTOCOL;
    size_t topic_len = get_u16(b);
    size_t head = 2 + topic_len + 2 * qos;
    if (topic_len == 0 || packet->body_len < head || (qos && get_u16(b + head - 2) == 0))
        return HK_ERR_MQTT_PROTOCOL;
    for (size_t i = 2; i < 2 + topic_len; i++)
        if (b[i] == '+' || b[i] == '#' || b[i] == 0)
            return HK_ERR_MQTT_PROTOCOL;
    out->topic = (const char *)(b + 2);
    out->topic_len = topic_len;
    out->packet_id = qos ? get_u16(b + head - 2) : 0;
    out->payload = b + head;
    out->payload_len = packet->body_len - head;
    out->qos = (uint8_t)qos;
    out->retain = packet->flags & 1;
    out->dup = (packet->flags & 0x08) != 0;
    return HK_OK;
}

/* PUBACK 40 02 00 02 (packet id 2), UNSUBACK b0 02 00 03, PINGRESP d0 00. */
hk_result hk_mqtt_ack_decode(const hk_mqtt_packet *packet, uint16_t *out_packet_id)
{
    HK_REQUIRE(packet != NULL && out_packet_id != NULL &&
               (packet->body != NULL || packet->body_len == 0));
    uint8_t t = packet->type;
    size_t want = t == HK_MQTT_PINGRESP ? 0 : 2;
    if ((t != HK_MQTT_PUBACK && t != HK_MQTT_UNSUBACK && t != HK_MQTT_PINGRESP) ||
        !plain(packet, t, want) || packet->body_len != want || (want && get_u16(packet->body) == 0))
        return HK_ERR_MQTT_PROTOCOL;
    *out_packet_id = want ? get_u16(packet->body) : 0;
    return HK_OK;
}

hk_result hk_mqtt_stream_init(hk_mqtt_stream *stream, uint8_t *buf, size_t cap, size_t max_packet)
{
    HK_REQUIRE(stream != NULL && buf != NULL && cap >= 2 && max_packet <= cap);
    struct hk_mqtt_stream_internal *s = &stream->_internal;
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    s->start = 0;
    s->max_packet = max_packet ? max_packet : cap;
    return HK_OK;
}

/* Packets already handed out are dropped here, not in next(), so that a
 * packet stays readable while the caller handles it. */
hk_result hk_mqtt_stream_space(hk_mqtt_stream *stream, uint8_t **out_space, size_t *out_cap)
{
    HK_REQUIRE(stream != NULL && out_space != NULL && out_cap != NULL);
    struct hk_mqtt_stream_internal *s = &stream->_internal;
    if (s->start) {
        memmove(s->buf, s->buf + s->start, s->len - s->start);
        s->len -= s->start;
        s->start = 0;
    }
    *out_space = s->buf + s->len;
    *out_cap = s->cap - s->len;
    return HK_OK;
}

hk_result hk_mqtt_stream_commit(hk_mqtt_stream *stream, size_t n)
{
    HK_REQUIRE(stream != NULL && n <= stream->_internal.cap - stream->_internal.len);
    stream->_internal.len += n;
    return HK_OK;
}

hk_result hk_mqtt_stream_next(hk_mqtt_stream *stream, hk_mqtt_packet *out_packet, bool *out_ready)
{
    HK_REQUIRE(stream != NULL && out_packet != NULL && out_ready != NULL);
    struct hk_mqtt_stream_internal *s = &stream->_internal;
    size_t used;
    *out_ready = false;
    HK_TRY(hk_mqtt_packet_split(s->buf + s->start, s->len - s->start, s->max_packet, out_packet,
                                &used));
    if (used) {
        s->start += used;
        *out_ready = true;
    } else if (s->len - s->start == s->cap) {
        /* Only a length field cut short by a tiny buffer gets here: a known
         * length is already limited to max_packet <= cap. */
        return HK_ERR_MQTT_PACKET_TOO_LARGE;
    }
    return HK_OK;
}
