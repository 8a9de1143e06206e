/* The protocol reference's D.2 MQTT packets, rebuilt from this module's
 * strings and the MQTT encoder: DPS CONNECT, SUBSCRIBE, register PUBLISH and
 * the IoT Hub CONNECT, byte for byte, with guard bytes after each packet. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/dps.h"
#include "hubkey/hub.h"
#include "hubkey/mqtt.h"

static const hk_dps_client dps = {"0ne00000000", "sn0123ABCD4567EF01", HK_DPS_API_2019_03_31,
                                  NULL};

static void check_packet(const uint8_t *buf, size_t len, size_t cap, const char *hex)
{
    uint8_t want[512];
    size_t n = hk_test_unhex(hex, want, sizeof want);
    HK_CHECK_MEM(buf, len, want, n);
    HK_CHECK(hk_guard_intact(buf, len, cap));
}

static void test_dps_packets(void)
{
    char client_id[64], username[128], topic[64], body[128];
    size_t client_id_len, username_len, topic_len, body_len, len;
    uint8_t packet[512];

    HK_CHECK_RESULT(hk_dps_client_id_build(&dps, client_id, sizeof client_id, &client_id_len),
                    HK_OK);
    HK_CHECK_RESULT(hk_dps_username_build(&dps, username, sizeof username, &username_len), HK_OK);
    hk_mqtt_connect_options c = {client_id, client_id_len, username, username_len, NULL, 0, 240,
                                 true};
    hk_guard_fill(packet, 0, sizeof packet);
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&c, packet, sizeof packet, &len), HK_OK);
    check_packet(packet, len, sizeof packet,
                 "106300044d515454048200f00012736e303132334142434434353637454630310043306e65303030"
                 "30303030302f726567697374726174696f6e732f736e3031323341424344343536374546303"
                 "12f6170692d76657273696f6e3d323031392d30332d3331");

    hk_mqtt_subscription sub = {HK_DPS_SUBSCRIBE_FILTER, strlen(HK_DPS_SUBSCRIBE_FILTER), 1};
    hk_guard_fill(packet, 0, sizeof packet);
    HK_CHECK_RESULT(hk_mqtt_subscribe_encode(1, &sub, 1, packet, sizeof packet, &len), HK_OK);
    check_packet(packet, len, sizeof packet,
                 "821d00010018246470732f726567697374726174696f6e732f7265732f2301");

    HK_CHECK_RESULT(hk_dps_register_topic_build(1, topic, sizeof topic, &topic_len), HK_OK);
    HK_CHECK_RESULT(hk_dps_register_body_build(&dps, NULL, NULL, body, sizeof body, &body_len),
                    HK_OK);
    hk_mqtt_publish p = {topic, topic_len, (const uint8_t *)body, body_len, 2, 1, false, false};
    hk_guard_fill(packet, 0, sizeof packet);
    HK_CHECK_RESULT(hk_mqtt_publish_encode(&p, packet, sizeof packet, &len), HK_OK);
    check_packet(packet, len, sizeof packet,
                 "3259002e246470732f726567697374726174696f6e732f5055542f696f746470732d7265676973"
                 "7465722f3f247269643d3100027b22726567697374726174696f6e4964223a22736e303132334"
                 "14243443435363745463031227d");
}

static void test_hub_connect(void)
{
    const hk_hub_client hub = {"contoso.azure-devices.net", "sn0123ABCD4567EF01", NULL, NULL,
                               NULL, NULL};
    char client_id[64], username[128];
    size_t client_id_len, username_len, len;
    uint8_t packet[512];
    HK_CHECK_RESULT(hk_hub_client_id_build(&hub, client_id, sizeof client_id, &client_id_len),
                    HK_OK);
    HK_CHECK_RESULT(hk_hub_username_build(&hub, username, sizeof username, &username_len), HK_OK);
    hk_mqtt_connect_options c = {client_id, client_id_len, username, username_len, NULL, 0, 240,
                                 false};
    hk_guard_fill(packet, 0, sizeof packet);
    HK_CHECK_RESULT(hk_mqtt_connect_encode(&c, packet, sizeof packet, &len), HK_OK);
    check_packet(packet, len, sizeof packet,
                 "106400044d515454048000f00012736e303132334142434434353637454630310044636f6e746f73"
                 "6f2e617a7572652d646576696365732e6e65742f736e303132334142434434353637454630312f"
                 "3f6170692d76657273696f6e3d323032302d30392d3330");
}

int main(void)
{
    HK_RUN(test_dps_packets);
    HK_RUN(test_hub_connect);
    return hk_test_finish("dps_packets");
}
