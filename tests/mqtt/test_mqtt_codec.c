/* MQTT 3.1.1 codec: known-answer packets, every encoder and decoder error
 * branch, guard bytes after every output buffer, stream framing at every
 * split position. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/mqtt.h"

#define S(str) str, (sizeof(str) - 1)
#define HK_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

/* Vectors from the shared protocol reference, section D.2. */
static const char DPS_CONNECT_HEX[] =
    "106300044d515454048200f00012736e303132334142434434353637454630310043306e6530303030303030302f"
    "726567697374726174696f6e732f736e303132334142434434353637454630312f6170692d76657273696f6e3d32"
    "3031392d30332d3331";
static const char DPS_SUBSCRIBE_HEX[] =
    "821d00010018246470732f726567697374726174696f6e732f7265732f2301";
static const char DPS_PUBLISH_HEX[] =
    "3259002e246470732f726567697374726174696f6e732f5055542f696f746470732d72656769737465722f3f2472"
    "69643d3100027b22726567697374726174696f6e4964223a22736e30313233414243443435363745463031227d";
static const char HUB_CONNECT_HEX[] =
    "106400044d515454048000f00012736e303132334142434434353637454630310044636f6e746f736f2e617a7572"
    "652d646576696365732e6e65742f736e303132334142434434353637454630312f3f6170692d76657273696f6e3d"
    "323032302d30392d3330";

/* One encoder call behind a common signature, so the size/guard contract is
 * checked the same way for every encoder. */
typedef hk_result (*enc_fn)(const void *arg, uint8_t *buf, size_t cap, size_t *out_len);

static hk_result enc_connect(const void *a, uint8_t *b, size_t c, size_t *n)
{
    return hk_mqtt_connect_encode(a, b, c, n);
}
static hk_result enc_publish(const void *a, uint8_t *b, size_t c, size_t *n)
{
    return hk_mqtt_publish_encode(a, b, c, n);
}
typedef struct {
    uint16_t id;
    const hk_mqtt_subscription *subs;
    size_t count;
} filters_arg;
static hk_result enc_subscribe(const void *a, uint8_t *b, size_t c, size_t *n)
{
    const filters_arg *f = a;
    return hk_mqtt_subscribe_encode(f->id, f->subs, f->count, b, c, n);
}
static hk_result enc_unsubscribe(const void *a, uint8_t *b, size_t c, size_t *n)
{
    const filters_arg *f = a;
    return hk_mqtt_unsubscribe_encode(f->id, f->subs, f->count, b, c, n);
}
static hk_result enc_puback(const void *a, uint8_t *b, size_t c, size_t *n)
{
    return hk_mqtt_puback_encode(*(const uint16_t *)a, b, c, n);
}
static hk_result enc_pingreq(const void *a, uint8_t *b, size_t c, size_t *n)
{
    (void)a;
    return hk_mqtt_pingreq_encode(b, c, n);
}
static hk_result enc_disconnect(const void *a, uint8_t *b, size_t c, size_t *n)
{
    (void)a;
    return hk_mqtt_disconnect_encode(b, c, n);
}

/* Size query, every too-small capacity (nothing written), exact fit with
 * guard bytes behind it, and the bytes themselves. */
static void check_encoder(enc_fn fn, const void *arg, const char *hex)
{
    static uint8_t expected[2048], buf[2048 + 16];
    size_t elen = hk_test_unhex(hex, expected, sizeof expected);
    size_t n = 0;
    HK_CHECK_RESULT(fn(arg, NULL, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, elen);
    for (size_t cap = 0; cap < elen; cap++) {
        hk_guard_fill(buf, 0, sizeof buf);
        n = 0;
        HK_CHECK_RESULT(fn(arg, buf, cap, &n), HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK_EQ(n, elen);
        HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));
    }
    hk_guard_fill(buf, 0, sizeof buf);
    n = 0;
    HK_CHECK_RESULT(fn(arg, buf, elen, &n), HK_OK);
    HK_CHECK_MEM(buf, n, expected, elen);
    HK_CHECK(hk_guard_intact(buf, elen, sizeof buf));
    /* A roomier buffer gives the same bytes. */
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(fn(arg, buf, elen + 16, &n), HK_OK);
    HK_CHECK_MEM(buf, n, expected, elen);
    HK_CHECK(hk_guard_intact(buf, elen, sizeof buf));
}

static const char REG_ID[] = "sn0123ABCD4567EF01";

static void test_kat_dps_connect(void)
{
    hk_mqtt_connect_options o = {0};
    o.client_id = REG_ID;
    o.client_id_len = strlen(REG_ID);
    o.username = "0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31";
    o.username_len = strlen(o.username);
    o.keep_alive_s = 240;
    o.clean_session = true;
    check_encoder(enc_connect, &o, DPS_CONNECT_HEX);
}

static void test_kat_hub_connect(void)
{
    hk_mqtt_connect_options o = {0};
    o.client_id = REG_ID;
    o.client_id_len = strlen(REG_ID);
    o.username = "contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2020-09-30";
    o.username_len = strlen(o.username);
    o.keep_alive_s = 240;
    check_encoder(enc_connect, &o, HUB_CONNECT_HEX);
}

static void test_kat_dps_subscribe(void)
{
    hk_mqtt_subscription sub = {S("$dps/registrations/res/#"), 1};
    filters_arg f = {1, &sub, 1};
    check_encoder(enc_subscribe, &f, DPS_SUBSCRIBE_HEX);
}

static void test_kat_dps_publish(void)
{
    static const char payload[] = "{\"registrationId\":\"sn0123ABCD4567EF01\"}";
    hk_mqtt_publish m = {0};
    m.topic = "$dps/registrations/PUT/iotdps-register/?$rid=1";
    m.topic_len = strlen(m.topic);
    m.payload = (const uint8_t *)payload;
    m.payload_len = strlen(payload);
    m.qos = 1;
    m.packet_id = 2;
    check_encoder(enc_publish, &m, DPS_PUBLISH_HEX);
}

static void test_connect_variants(void)
{
    hk_mqtt_connect_options o = {0};
    o.client_id = "c";
    o.client_id_len = 1;
    /* No user name, no clean session, keep-alive 0x1234. */
    o.keep_alive_s = 0x1234;
    check_encoder(enc_connect, &o, "100d00044d5154540400123400016" "3");
    /* User name and password, clean session. */
    o.username = "u";
    o.username_len = 1;
    o.password = (const uint8_t *)"pw";
    o.password_len = 2;
    o.clean_session = true;
    o.keep_alive_s = 0;
    check_encoder(enc_connect, &o, "101400044d51545404c20000000163000175000270" "77");
    /* Empty client id is the server's call; the codec encodes it. */
    o.client_id = NULL;
    o.client_id_len = 0;
    o.password = NULL;
    o.password_len = 0;
    check_encoder(enc_connect, &o, "100f00044d5154540482000000000001" "75");
}

static void test_connect_errors(void)
{
    uint8_t buf[64];
    size_t n;
    hk_mqtt_connect_options o = {0};
    o.client_id = "c";
    o.client_id_len = 1;
    hk_guard_fill(buf, 0, sizeof buf);
    o.client_id_len = 65536;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    o.client_id_len = 1;
    o.username = "u";
    o.username_len = 65536;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    o.username_len = 1;
    o.password = (const uint8_t *)"p";
    o.password_len = 65536;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    o.password_len = 1;
    o.username = NULL;
    o.username_len = 0;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    o.password = NULL;
    o.client_id = NULL;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));
    /* Caller bugs. */
    HK_CHECK_REQUIRE(hk_mqtt_connect_encode(NULL, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    o.client_id = "c";
    HK_CHECK_REQUIRE(hk_mqtt_connect_encode(&o, buf, sizeof buf, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_connect_encode(&o, NULL, 4, &n), HK_ERR_INVALID_ARG);
    /* Largest strings still encode (size query). */
    static char big[65535];
    o.client_id = big;
    o.client_id_len = sizeof big;
    o.username = big;
    o.username_len = sizeof big;
    o.password = (const uint8_t *)big;
    o.password_len = sizeof big;
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&o, NULL, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, 1 + 3 + 10 + 3 * (2 + 65535));
}

static void test_subscribe_unsubscribe(void)
{
    hk_mqtt_subscription subs[3] = {
        {S("a/b"), 0},
        {S("$iothub/twin/res/#"), 1},
        {S("x"), 1},
    };
    filters_arg f = {0x0102, subs, 3};
    check_encoder(enc_subscribe, &f,
                  "822101020003612f620000122469" "6f746875622f7477696e2f7265732f2301" "00017801");
    /* UNSUBSCRIBE ignores qos (even an invalid one). */
    subs[0].qos = 7;
    check_encoder(enc_unsubscribe, &f,
                  "a21e01020003612f6200122469" "6f746875622f7477696e2f7265732f23" "000178");
    subs[0].qos = 0;

    uint8_t buf[128];
    size_t n;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(0, subs, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_mqtt_unsubscribe_encode(0, subs, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, subs, 0, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_subscribe_encode(1, NULL, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_subscribe_encode(1, subs, 1, NULL, 8, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_subscribe_encode(1, subs, 1, buf, sizeof buf, NULL), HK_ERR_INVALID_ARG);
    hk_mqtt_subscription bad = {S("t"), 2};
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, &bad, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    bad.qos = 0;
    bad.filter_len = 0;
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, &bad, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    bad.filter_len = 65536;
    HK_CHECK_RESULT(hk_mqtt_unsubscribe_encode(1, &bad, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    bad.filter = NULL;
    bad.filter_len = 1;
    HK_CHECK_RESULT(hk_mqtt_unsubscribe_encode(1, &bad, 1, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));

    /* Enough 65535-byte filters overflow the largest remaining length. */
    static char big[65535];
    size_t count = HK_MQTT_MAX_REMAINING_LENGTH / (2 + 65535 + 1) + 1;
    hk_mqtt_subscription *many = calloc(count, sizeof *many);
    HK_CHECK(many != NULL);
    if (!many)
        return;
    for (size_t i = 0; i < count; i++) {
        many[i].filter = big;
        many[i].filter_len = sizeof big;
    }
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, many, count, NULL, 0, &n),
                    HK_ERR_MQTT_PACKET_TOO_LARGE);
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, many, count - 1, NULL, 0, &n),
                    HK_ERR_BUFFER_TOO_SMALL);
    free(many);
}

static void test_publish_variants(void)
{
    hk_mqtt_publish m = {0};
    m.topic = "t/x";
    m.topic_len = 3;
    /* QoS 0, empty payload (NULL allowed when empty). */
    check_encoder(enc_publish, &m, "300500037" "42f78");
    /* QoS 0 retain. */
    m.retain = true;
    m.payload = (const uint8_t *)"hi";
    m.payload_len = 2;
    check_encoder(enc_publish, &m, "3107000374" "2f786869");
    /* QoS 1 DUP retain, packet id 0xABCD. */
    m.qos = 1;
    m.dup = true;
    m.packet_id = 0xABCD;
    check_encoder(enc_publish, &m, "3b09000374" "2f78abcd6869");
    /* Remaining length of exactly 127 and 128 (one and two length bytes). */
    static uint8_t payload[200];
    static char hex[2 * 220 + 1];
    memset(payload, 'z', sizeof payload);
    m = (hk_mqtt_publish){0};
    m.topic = "t";
    m.topic_len = 1;
    m.payload = payload;
    m.payload_len = 124;
    strcpy(hex, "307f000174");
    for (size_t i = 0; i < 124; i++)
        strcat(hex, "7a");
    check_encoder(enc_publish, &m, hex);
    m.payload_len = 125;
    strcpy(hex, "30800100017" "4");
    for (size_t i = 0; i < 125; i++)
        strcat(hex, "7a");
    check_encoder(enc_publish, &m, hex);
}

static void test_remaining_length_boundaries(void)
{
    /* Size queries: a remaining length of r needs 1..4 length bytes. */
    static const struct {
        size_t rl, total;
    } cases[] = {
        {127, 129},          {128, 131},           {16383, 16386},
        {16384, 16388},      {2097151, 2097155},   {2097152, 2097157},
        {268435455, 268435460},
    };
    hk_mqtt_publish m = {0};
    static const uint8_t one = 0;
    m.topic = "t";
    m.topic_len = 1;
    m.payload = &one; /* never read: only sizes are asked for */
    for (size_t i = 0; i < HK_ARRAY_LEN_(cases); i++) {
        size_t n = 0;
        m.payload_len = cases[i].rl - 3;
        HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, NULL, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK_EQ(n, cases[i].total);
    }
    size_t n;
    m.payload_len = HK_MQTT_MAX_REMAINING_LENGTH - 2; /* plus the topic: one over */
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, NULL, 0, &n), HK_ERR_MQTT_PACKET_TOO_LARGE);
    m.payload_len = HK_MQTT_MAX_REMAINING_LENGTH + 1;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, NULL, 0, &n), HK_ERR_MQTT_PACKET_TOO_LARGE);
    m.payload_len = (size_t)-1; /* would wrap a naive sum */
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, NULL, 0, &n), HK_ERR_MQTT_PACKET_TOO_LARGE);

    /* The bytes of a four-byte length, written for real. */
    uint8_t *big = malloc(2097157 + 8);
    HK_CHECK(big != NULL);
    if (!big)
        return;
    uint8_t *pl = calloc(1, 2097152);
    HK_CHECK(pl != NULL);
    if (pl) {
        m.payload = pl;
        m.payload_len = 2097152 - 3;
        hk_guard_fill(big, 0, 2097157 + 8);
        HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, big, 2097157, &n), HK_OK);
        static const uint8_t head[] = {0x30, 0x80, 0x80, 0x80, 0x01, 0x00, 0x01, 't'};
        HK_CHECK_MEM(big, sizeof head, head, sizeof head);
        HK_CHECK(hk_guard_intact(big, 2097157, 2097157 + 8));
        free(pl);
    }
    free(big);
}

static void test_publish_errors(void)
{
    uint8_t buf[32];
    size_t n;
    hk_mqtt_publish m = {0};
    m.topic = "t";
    m.topic_len = 1;
    hk_guard_fill(buf, 0, sizeof buf);
    m.topic = NULL;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.topic = "t";
    m.topic_len = 0;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.topic_len = 65536;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.topic_len = 1;
    m.qos = 2;
    m.packet_id = 1;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.qos = 1;
    m.packet_id = 0;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.qos = 0;
    m.dup = true;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    m.dup = false;
    m.payload_len = 3;
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&m, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));
    HK_CHECK_REQUIRE(hk_mqtt_publish_encode(NULL, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
}

static void test_short_packets(void)
{
    uint16_t id = 0x0007;
    check_encoder(enc_puback, &id, "40020007");
    id = 0xFFFF;
    check_encoder(enc_puback, &id, "4002ffff");
    check_encoder(enc_pingreq, NULL, "c000");
    check_encoder(enc_disconnect, NULL, "e000");
    uint8_t buf[8];
    size_t n;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_mqtt_puback_encode(0, buf, sizeof buf, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_pingreq_encode(NULL, 2, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_disconnect_encode(buf, sizeof buf, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));
}

/* Frame a whole packet given as hex. */
static hk_result split_hex(const char *hex, uint8_t *buf, hk_mqtt_packet *p)
{
    size_t len = hk_test_unhex(hex, buf, 512), used = 0;
    hk_result r = hk_mqtt_packet_split(buf, len, 512, p, &used);
    if (r == HK_OK && used != len)
        return HK_ERR_STATE; /* the test vector itself is wrong */
    return r;
}

static void test_split(void)
{
    uint8_t buf[600];
    hk_mqtt_packet p;
    size_t used = 99;
    /* Every proper prefix of a packet asks for more. */
    size_t len = hk_test_unhex("30810100017" "4", buf, sizeof buf);
    memset(buf + len, 'p', 126);
    len += 126; /* 1 + 2 + 129 bytes */
    for (size_t k = 0; k < len; k++) {
        used = 99;
        HK_CHECK_RESULT(hk_mqtt_packet_split(buf, k, 1000, &p, &used), HK_OK);
        HK_CHECK_EQ(used, 0);
    }
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, len + 5, 1000, &p, &used), HK_OK);
    HK_CHECK_EQ(used, 132);
    HK_CHECK_EQ(p.type, HK_MQTT_PUBLISH);
    HK_CHECK_EQ(p.flags, 0);
    HK_CHECK(p.body == buf + 3);
    HK_CHECK_EQ(p.body_len, 129);
    /* Exactly at the maximum is fine, one byte less is too large, reported
     * from the header alone. */
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, len, 132, &p, &used), HK_OK);
    HK_CHECK_EQ(used, 132);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, 3, 131, &p, &used), HK_ERR_MQTT_PACKET_TOO_LARGE);
    /* A fifth length byte is an error as soon as the fourth says "more". */
    len = hk_test_unhex("3080808080" "01", buf, sizeof buf);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, len, (size_t)-1, &p, &used), HK_ERR_MQTT_BAD_LENGTH);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, 5, (size_t)-1, &p, &used), HK_ERR_MQTT_BAD_LENGTH);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, 4, (size_t)-1, &p, &used), HK_OK);
    HK_CHECK_EQ(used, 0);
    /* The largest four-byte length parses, then is too large for any buffer. */
    len = hk_test_unhex("30ffffff7f", buf, sizeof buf);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, len, 1u << 20, &p, &used),
                    HK_ERR_MQTT_PACKET_TOO_LARGE);
    HK_CHECK_RESULT(hk_mqtt_packet_split(buf, len, (size_t)-1, &p, &used), HK_OK);
    HK_CHECK_EQ(used, 0);
    /* Empty input and caller bugs. */
    HK_CHECK_RESULT(hk_mqtt_packet_split(NULL, 0, 10, &p, &used), HK_OK);
    HK_CHECK_EQ(used, 0);
    HK_CHECK_REQUIRE(hk_mqtt_packet_split(NULL, 1, 10, &p, &used), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_packet_split(buf, 1, 10, NULL, &used), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_packet_split(buf, 1, 10, &p, NULL), HK_ERR_INVALID_ARG);
    /* A zero-length body. */
    HK_CHECK_RESULT(split_hex("d000", buf, &p), HK_OK);
    HK_CHECK_EQ(p.type, HK_MQTT_PINGRESP);
    HK_CHECK_EQ(p.body_len, 0);
}

static void test_connack(void)
{
    uint8_t buf[512];
    hk_mqtt_packet p;
    bool sp = true;
    HK_CHECK_RESULT(split_hex("20020000", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_connack_decode(&p, &sp), HK_OK);
    HK_CHECK(!sp);
    HK_CHECK_RESULT(split_hex("20020100", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_connack_decode(&p, &sp), HK_OK);
    HK_CHECK(sp);
    static const struct {
        const char *hex;
        hk_result r;
    } cases[] = {
        {"20020001", HK_ERR_MQTT_REFUSED_PROTOCOL},
        {"20020002", HK_ERR_MQTT_REFUSED_IDENTIFIER},
        {"20020003", HK_ERR_MQTT_REFUSED_UNAVAILABLE},
        {"20020004", HK_ERR_MQTT_REFUSED_CREDENTIALS},
        {"20020005", HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED},
        {"20020006", HK_ERR_MQTT_REFUSED_OTHER},
        {"200200ff", HK_ERR_MQTT_REFUSED_OTHER},
        {"20020105", HK_ERR_MQTT_PROTOCOL},   /* session present on a refusal */
        {"20020200", HK_ERR_MQTT_PROTOCOL},   /* reserved ack flag bit */
        {"20028000", HK_ERR_MQTT_PROTOCOL},
        {"21020000", HK_ERR_MQTT_PROTOCOL},   /* flags */
        {"2003000000", HK_ERR_MQTT_PROTOCOL}, /* long */
        {"200100", HK_ERR_MQTT_PROTOCOL},     /* short */
        {"2000", HK_ERR_MQTT_PROTOCOL},
        {"90020000", HK_ERR_MQTT_PROTOCOL},   /* not a CONNACK */
    };
    for (size_t i = 0; i < HK_ARRAY_LEN_(cases); i++) {
        HK_CHECK_RESULT(split_hex(cases[i].hex, buf, &p), HK_OK);
        sp = true;
        HK_CHECK_RESULT(hk_mqtt_connack_decode(&p, &sp), cases[i].r);
        HK_CHECK(!sp);
    }
    HK_CHECK_REQUIRE(hk_mqtt_connack_decode(NULL, &sp), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_connack_decode(&p, NULL), HK_ERR_INVALID_ARG);
}

static void test_suback(void)
{
    uint8_t buf[512];
    hk_mqtt_packet p;
    uint16_t id = 0;
    const uint8_t *codes = NULL;
    size_t count = 0;
    HK_CHECK_RESULT(split_hex("9003000101", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_suback_decode(&p, &id, &codes, &count), HK_OK);
    HK_CHECK_EQ(id, 1);
    HK_CHECK_EQ(count, 1);
    HK_CHECK(codes == buf + 4);
    HK_CHECK_EQ(codes[0], 1);
    HK_CHECK_RESULT(split_hex("9006abcd00800201", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_suback_decode(&p, &id, &codes, &count), HK_OK);
    HK_CHECK_EQ(id, 0xabcd);
    HK_CHECK_MEM(codes, count, "\x00\x80\x02\x01", 4);
    static const char *bad[] = {
        "9003000103", /* code 3 */
        "9003000181", /* code 0x81 */
        "900300017f",
        "9003000001", /* packet id 0 */
        "90020001",   /* no codes */
        "900100",
        "9000",
        "9203000101", /* flags */
        "b003000101", /* not a SUBACK */
    };
    for (size_t i = 0; i < HK_ARRAY_LEN_(bad); i++) {
        HK_CHECK_RESULT(split_hex(bad[i], buf, &p), HK_OK);
        HK_CHECK_RESULT(hk_mqtt_suback_decode(&p, &id, &codes, &count), HK_ERR_MQTT_PROTOCOL);
    }
    HK_CHECK_REQUIRE(hk_mqtt_suback_decode(&p, NULL, &codes, &count), HK_ERR_INVALID_ARG);
}

static void test_publish_decode(void)
{
    uint8_t buf[512];
    hk_mqtt_packet p;
    hk_mqtt_publish m;
    HK_CHECK_RESULT(split_hex("300700037" "42f786869", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_OK);
    HK_CHECK_STRN(m.topic, m.topic_len, "t/x");
    HK_CHECK_STRN(m.payload, m.payload_len, "hi");
    HK_CHECK_EQ(m.qos, 0);
    HK_CHECK_EQ(m.packet_id, 0);
    HK_CHECK(!m.retain && !m.dup);
    HK_CHECK_RESULT(split_hex("3b0900037" "42f7800056869", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_OK);
    HK_CHECK_STRN(m.topic, m.topic_len, "t/x");
    HK_CHECK_STRN(m.payload, m.payload_len, "hi");
    HK_CHECK_EQ(m.qos, 1);
    HK_CHECK_EQ(m.packet_id, 5);
    HK_CHECK(m.retain && m.dup);
    /* Empty payloads, QoS 0 and 1. */
    HK_CHECK_RESULT(split_hex("3003000161", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_OK);
    HK_CHECK_EQ(m.payload_len, 0);
    HK_CHECK_RESULT(split_hex("32050001610001", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_OK);
    HK_CHECK_EQ(m.payload_len, 0);
    HK_CHECK_EQ(m.packet_id, 1);
    /* The DPS register request decodes back to its fields. */
    HK_CHECK_RESULT(split_hex(DPS_PUBLISH_HEX, buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_OK);
    HK_CHECK_STRN(m.topic, m.topic_len, "$dps/registrations/PUT/iotdps-register/?$rid=1");
    HK_CHECK_EQ(m.packet_id, 2);
    HK_CHECK_EQ(m.payload_len, 39);

    static const struct {
        const char *hex;
        hk_result r;
    } cases[] = {
        {"3407000374" "2f786869", HK_ERR_MQTT_QOS2},
        {"3d0900037" "42f7800056869", HK_ERR_MQTT_QOS2},
        {"3609000374" "2f7800056869", HK_ERR_MQTT_PROTOCOL}, /* QoS 3 */
        {"3807000374" "2f786869", HK_ERR_MQTT_PROTOCOL},     /* DUP on QoS 0 */
        {"3000", HK_ERR_MQTT_PROTOCOL},
        {"300100", HK_ERR_MQTT_PROTOCOL},
        {"30020000", HK_ERR_MQTT_PROTOCOL},                  /* empty topic */
        {"3004000374" "2f", HK_ERR_MQTT_PROTOCOL},           /* topic cut short */
        {"300400ff7478", HK_ERR_MQTT_PROTOCOL},
        {"3205000374" "2f78", HK_ERR_MQTT_PROTOCOL},         /* no packet id */
        {"3206000374" "2f7800", HK_ERR_MQTT_PROTOCOL},       /* half a packet id */
        {"3207000374" "2f780000", HK_ERR_MQTT_PROTOCOL},     /* packet id 0 */
        {"300500037" "42f2b", HK_ERR_MQTT_PROTOCOL},         /* '+' */
        {"30050003232f78", HK_ERR_MQTT_PROTOCOL},            /* '#' */
        {"30050003740078", HK_ERR_MQTT_PROTOCOL},            /* NUL */
    };
    for (size_t i = 0; i < HK_ARRAY_LEN_(cases); i++) {
        HK_CHECK_RESULT(split_hex(cases[i].hex, buf, &p), HK_OK);
        HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), cases[i].r);
    }
    HK_CHECK_RESULT(split_hex("40020001", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_publish_decode(&p, &m), HK_ERR_MQTT_PROTOCOL); /* not a PUBLISH */
    HK_CHECK_REQUIRE(hk_mqtt_publish_decode(NULL, &m), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_publish_decode(&p, NULL), HK_ERR_INVALID_ARG);
}

static void test_acks(void)
{
    uint8_t buf[512];
    hk_mqtt_packet p;
    uint16_t id = 0;
    HK_CHECK_RESULT(split_hex("40020002", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_ack_decode(&p, &id), HK_OK);
    HK_CHECK_EQ(id, 2);
    HK_CHECK_RESULT(split_hex("b002fffe", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_ack_decode(&p, &id), HK_OK);
    HK_CHECK_EQ(id, 0xfffe);
    id = 9;
    HK_CHECK_RESULT(split_hex("d000", buf, &p), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_ack_decode(&p, &id), HK_OK);
    HK_CHECK_EQ(id, 0);
    static const char *bad[] = {
        "4003000200", "400100", "4000", "42020002", "40020000", /* PUBACK */
        "b0030002ff", "b00100", "b1020002", "b0020000",         /* UNSUBACK */
        "d0020001", "d100",                                     /* PINGRESP */
        "50020001", "60020001", "70020001",                     /* QoS 2 flow */
        "20020000", "9003000101", "c000", "e000", "f000", "0000", "10020000", "8000",
    };
    for (size_t i = 0; i < HK_ARRAY_LEN_(bad); i++) {
        HK_CHECK_RESULT(split_hex(bad[i], buf, &p), HK_OK);
        HK_CHECK_RESULT(hk_mqtt_ack_decode(&p, &id), HK_ERR_MQTT_PROTOCOL);
    }
    HK_CHECK_REQUIRE(hk_mqtt_ack_decode(&p, NULL), HK_ERR_INVALID_ARG);
}

/* A server byte stream with packets of every kind and both length sizes. */
static size_t server_stream(uint8_t *out)
{
    size_t n = 0;
    n += hk_test_unhex("20020100", out + n, 64);
    n += hk_test_unhex("9004000100" "80", out + n, 64);
    n += hk_test_unhex("3209000374" "2f7800056869", out + n, 64);
    n += hk_test_unhex("d000", out + n, 64);
    /* PUBLISH with a two-byte remaining length: 3 + 200 body bytes. */
    n += hk_test_unhex("30c8010001" "74", out + n, 64);
    memset(out + n, 'q', 197);
    n += 197;
    n += hk_test_unhex("40020002", out + n, 64);
    n += hk_test_unhex("b0020003", out + n, 64);
    return n;
}

static const struct {
    uint8_t type;
    size_t body_len;
} stream_expect[] = {
    {HK_MQTT_CONNACK, 2}, {HK_MQTT_SUBACK, 4}, {HK_MQTT_PUBLISH, 9},  {HK_MQTT_PINGRESP, 0},
    {HK_MQTT_PUBLISH, 200}, {HK_MQTT_PUBACK, 2}, {HK_MQTT_UNSUBACK, 2},
};

/* Feed data in pieces of the given sizes (cycled) and check the framing.
 * Each piece is copied only up to the space the stream offers. */
static void feed_stream(const uint8_t *data, size_t len, size_t cap, const size_t *pieces,
                        size_t npieces)
{
    static uint8_t buf[1024];
    hk_mqtt_stream s;
    size_t got = 0, pos = 0, pi = 0;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_mqtt_stream_init(&s, buf, cap, 0), HK_OK);
    while (pos < len) {
        uint8_t *space;
        size_t room;
        HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
        HK_CHECK(space >= buf && space + room <= buf + cap);
        size_t k = pieces[pi++ % npieces];
        if (k > len - pos)
            k = len - pos;
        if (k > room)
            k = room;
        HK_CHECK(k > 0);
        if (k == 0)
            return;
        memcpy(space, data + pos, k);
        pos += k;
        HK_CHECK_RESULT(hk_mqtt_stream_commit(&s, k), HK_OK);
        for (;;) {
            hk_mqtt_packet p;
            bool ready;
            HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_OK);
            if (!ready)
                break;
            HK_CHECK(got < HK_ARRAY_LEN_(stream_expect));
            if (got >= HK_ARRAY_LEN_(stream_expect))
                return;
            HK_CHECK_EQ(p.type, stream_expect[got].type);
            HK_CHECK_EQ(p.body_len, stream_expect[got].body_len);
            if (p.type == HK_MQTT_PUBLISH && p.body_len == 200)
                HK_CHECK(p.body[3] == 'q' && p.body[199] == 'q');
            got++;
        }
    }
    HK_CHECK_EQ(got, HK_ARRAY_LEN_(stream_expect));
    HK_CHECK(hk_guard_intact(buf, cap, sizeof buf));
}

static void test_stream_every_split(void)
{
    static uint8_t data[1024];
    size_t len = server_stream(data);
    /* Everything in one read. */
    size_t all = len;
    feed_stream(data, len, 1000, &all, 1);
    /* Two pieces, split at every byte position. */
    for (size_t k = 1; k < len; k++) {
        size_t pieces[2] = {k, len};
        feed_stream(data, len, 1000, pieces, 2);
    }
    /* Fixed piece sizes 1..len, and a buffer that only just holds the largest
     * packet (203 bytes). */
    for (size_t k = 1; k <= len; k++) {
        feed_stream(data, len, 1000, &k, 1);
        feed_stream(data, len, 203, &k, 1);
    }
    size_t odd[3] = {1, 7, 3};
    feed_stream(data, len, 203, odd, 3);
}

static void test_stream_errors(void)
{
    uint8_t buf[16];
    hk_mqtt_stream s;
    hk_mqtt_packet p;
    bool ready = true;
    uint8_t *space;
    size_t room;
    /* A partial length field that fills a tiny buffer. */
    HK_CHECK_RESULT(hk_mqtt_stream_init(&s, buf, 3, 0), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
    HK_CHECK_EQ(room, 3);
    memcpy(space, "\x30\x80\x80", 3);
    HK_CHECK_RESULT(hk_mqtt_stream_commit(&s, 3), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_ERR_MQTT_PACKET_TOO_LARGE);
    HK_CHECK(!ready);
    HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_ERR_MQTT_PACKET_TOO_LARGE);
    HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
    HK_CHECK_EQ(room, 0);
    /* Over max_packet: reported from the header, the body never needed. */
    HK_CHECK_RESULT(hk_mqtt_stream_init(&s, buf, sizeof buf, 8), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
    memcpy(space, "\x30\x07", 2);
    HK_CHECK_RESULT(hk_mqtt_stream_commit(&s, 2), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_ERR_MQTT_PACKET_TOO_LARGE);
    /* Exactly max_packet is fine. */
    HK_CHECK_RESULT(hk_mqtt_stream_init(&s, buf, sizeof buf, 8), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
    memcpy(space, "\x30\x06\x00\x01tabc", 8);
    HK_CHECK_RESULT(hk_mqtt_stream_commit(&s, 8), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_OK);
    HK_CHECK(ready);
    /* Five length bytes. */
    HK_CHECK_RESULT(hk_mqtt_stream_init(&s, buf, sizeof buf, 0), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_space(&s, &space, &room), HK_OK);
    memcpy(space, "\x30\xff\xff\xff\xff", 5);
    HK_CHECK_RESULT(hk_mqtt_stream_commit(&s, 5), HK_OK);
    HK_CHECK_RESULT(hk_mqtt_stream_next(&s, &p, &ready), HK_ERR_MQTT_BAD_LENGTH);
    /* Caller bugs. */
    HK_CHECK_REQUIRE(hk_mqtt_stream_commit(&s, sizeof buf), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_init(&s, buf, 1, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_init(&s, buf, 8, 9), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_init(&s, NULL, 8, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_init(NULL, buf, 8, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_space(&s, NULL, &room), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_next(&s, NULL, &ready), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_mqtt_stream_commit(NULL, 0), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_kat_dps_connect);
    HK_RUN(test_kat_hub_connect);
    HK_RUN(test_kat_dps_subscribe);
    HK_RUN(test_kat_dps_publish);
    HK_RUN(test_connect_variants);
    HK_RUN(test_connect_errors);
    HK_RUN(test_subscribe_unsubscribe);
    HK_RUN(test_publish_variants);
    HK_RUN(test_remaining_length_boundaries);
    HK_RUN(test_publish_errors);
    HK_RUN(test_short_packets);
    HK_RUN(test_split);
    HK_RUN(test_connack);
    HK_RUN(test_suback);
    HK_RUN(test_publish_decode);
    HK_RUN(test_acks);
    HK_RUN(test_stream_every_split);
    HK_RUN(test_stream_errors);
    return hk_test_finish("mqtt_codec");
}
