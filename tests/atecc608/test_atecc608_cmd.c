/* Command builders and the response decoder against the byte-exact examples
 * of the ATECC608A reference (CRC table, Info trace, Read slot 8 block 12,
 * Sign from the message-digest buffer, Nonce pass-through, Lock config). */
#include <string.h>

#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"

static uint8_t seq[64]; /* 00 01 02 ... */

static void check_group(const hk_atecc608_cmd *cmd, const char *hex, unsigned resp_len,
                        unsigned exec_ms)
{
    uint8_t want[HK_ATECC608_CMD_MAX];
    size_t n = hk_test_unhex(hex, want, sizeof want);
    HK_CHECK_MEM(cmd->group, cmd->len, want, n);
    HK_CHECK_EQ(cmd->group[0], cmd->len);
    HK_CHECK_EQ(cmd->resp_len, resp_len);
    HK_CHECK_EQ(cmd->exec_ms, exec_ms);
}

static void test_crc(void)
{
    HK_CHECK_EQ(hk_atecc608_crc16((const uint8_t *)"123456789", 9), 0xBCDD);
    const uint8_t wake[2] = {0x04, 0x11};
    HK_CHECK_EQ(hk_atecc608_crc16(wake, 2), 0x4333);
}

static void test_reference_groups(void)
{
    hk_atecc608_cmd cmd;
    HK_CHECK_RESULT(hk_atecc608_cmd_info(&cmd, 0x00, 0), HK_OK);
    check_group(&cmd, "073000000003" "5D", 7, 5);
    HK_CHECK_RESULT(hk_atecc608_cmd_random(&cmd), HK_OK);
    check_group(&cmd, "071B00000024CD", 35, 23);
    HK_CHECK_RESULT(hk_atecc608_cmd_read(&cmd, HK_ATECC608_ZONE_CONFIG, true, 0), HK_OK);
    check_group(&cmd, "070280000009AD", 35, 5);
    HK_CHECK_RESULT(hk_atecc608_cmd_genkey(&cmd, true, 2), HK_OK);
    check_group(&cmd, "07400402008507", 67, 115);
    HK_CHECK_RESULT(hk_atecc608_cmd_lock(&cmd, 0x80, 0), HK_OK);
    check_group(&cmd, "071780000039" "8D", 4, 35);
    HK_CHECK_RESULT(hk_atecc608_cmd_sign_external(&cmd, 2), HK_OK);
    check_group(&cmd, "0741A002007D05", 67, 115);

    uint16_t p2 = 0;
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 8, 12 * 32, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x0C40);
    HK_CHECK_RESULT(hk_atecc608_cmd_read(&cmd, HK_ATECC608_ZONE_DATA, true, p2), HK_OK);
    check_group(&cmd, "070282400CA9A4", 35, 5);

    /* The lock-state read: config block 2 word 5 (bytes 84..87). */
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, 84, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x15);
    HK_CHECK_RESULT(hk_atecc608_cmd_read(&cmd, HK_ATECC608_ZONE_CONFIG, false, p2), HK_OK);
    check_group(&cmd, "070200150017" "5D", 7, 5);

    HK_CHECK_RESULT(hk_atecc608_cmd_nonce_load(&cmd, HK_ATECC608_NONCE_TEMPKEY, seq, 32), HK_OK);
    check_group(&cmd,
                "2716030000"
                "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
                "04EE",
                4, 20);
}

static void test_other_groups(void)
{
    hk_atecc608_cmd cmd;
    /* Nonce into the message-digest buffer: param1 0x43, CRC checked by the
     * generic CRC (the bytes before it are fixed by the reference). */
    HK_CHECK_RESULT(hk_atecc608_cmd_nonce_load(&cmd, HK_ATECC608_NONCE_MSG_DIGEST, seq, 32),
                    HK_OK);
    HK_CHECK_EQ(cmd.len, 39);
    HK_CHECK_EQ(cmd.group[2], 0x43);
    HK_CHECK_EQ(hk_atecc608_crc16(cmd.group, 37), cmd.group[37] | cmd.group[38] << 8);
    HK_CHECK_RESULT(hk_atecc608_cmd_nonce_load(&cmd, HK_ATECC608_NONCE_ALT_KEY, seq, 64), HK_OK);
    HK_CHECK_EQ(cmd.len, 71);
    HK_CHECK_EQ(cmd.group[2], 0xA3);

    HK_CHECK_RESULT(hk_atecc608_cmd_nonce_random(&cmd, seq), HK_OK);
    HK_CHECK_EQ(cmd.len, 27);
    HK_CHECK_EQ(cmd.resp_len, 35);
    HK_CHECK_MEM(cmd.group + 5, 20, seq, 20);

    HK_CHECK_RESULT(hk_atecc608_cmd_verify_external(&cmd, seq, seq), HK_OK);
    HK_CHECK_EQ(cmd.len, 135);
    HK_CHECK_MEM(cmd.group, 5, "\x87\x45\x22\x04\x00", 5);
    HK_CHECK_MEM(cmd.group + 5, 64, seq, 64);
    HK_CHECK_MEM(cmd.group + 69, 64, seq, 64);
    HK_CHECK_EQ(cmd.resp_len, 4);
    HK_CHECK_EQ(cmd.exec_ms, 105);

    HK_CHECK_RESULT(hk_atecc608_cmd_ecdh(&cmd, 0, seq), HK_OK);
    HK_CHECK_EQ(cmd.len, 71);
    HK_CHECK_MEM(cmd.group, 5, "\x47\x43\x00\x00\x00", 5);
    HK_CHECK_EQ(cmd.resp_len, 35);

    HK_CHECK_RESULT(hk_atecc608_cmd_write(&cmd, HK_ATECC608_ZONE_DATA, 0x0040, seq, 32), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x27\x12\x82\x40\x00", 5);
    HK_CHECK_RESULT(hk_atecc608_cmd_write(&cmd, HK_ATECC608_ZONE_CONFIG, 0x0005, seq, 4), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x0B\x12\x00\x05\x00", 5);
    HK_CHECK_EQ(cmd.exec_ms, 45);

    HK_CHECK_RESULT(hk_atecc608_cmd_sha_start(&cmd), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x07\x47\x00\x00\x00", 5);
    HK_CHECK_RESULT(hk_atecc608_cmd_sha_update(&cmd, seq), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x47\x47\x01\x40\x00", 5);
    HK_CHECK_RESULT(hk_atecc608_cmd_sha_end(&cmd, seq, 3), HK_OK);
    HK_CHECK_MEM(cmd.group, 8, "\x0A\x47\x02\x03\x00\x00\x01\x02", 8);
    HK_CHECK_EQ(cmd.resp_len, 35);
    HK_CHECK_RESULT(hk_atecc608_cmd_sha_end(&cmd, NULL, 0), HK_OK);
    HK_CHECK_EQ(cmd.len, 7);

    HK_CHECK_RESULT(hk_atecc608_cmd_selftest(&cmd, HK_ATECC608_SELFTEST_ALL), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x07\x77\x3B\x00\x00", 5);
    HK_CHECK_EQ(cmd.exec_ms, 250);
    HK_CHECK_RESULT(hk_atecc608_cmd_counter(&cmd, true, 1), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x07\x24\x01\x01\x00", 5);
    HK_CHECK_EQ(cmd.resp_len, 7);
    HK_CHECK_RESULT(hk_atecc608_cmd_lock(&cmd, 0x02 | 8 << 2, 0), HK_OK);
    HK_CHECK_EQ(cmd.group[2], 0x22);
    HK_CHECK_RESULT(hk_atecc608_cmd_genkey(&cmd, false, 0), HK_OK);
    HK_CHECK_MEM(cmd.group, 5, "\x07\x40\x00\x00\x00", 5);
}

static void test_addresses(void)
{
    uint16_t p2 = 0xFFFF;
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, 96, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x18);
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_OTP, 0, 36, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x09);
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 10, 64, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x0250);
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 0, 32, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x0100);
    HK_CHECK_RESULT(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 15, 68, &p2), HK_OK);
    HK_CHECK_EQ(p2, 0x0279);
    /* Out of range or misaligned. */
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, 128, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_OTP, 0, 64, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 0, 36, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 8, 416, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 16, 0, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_addr(HK_ATECC608_ZONE_DATA, 8, 2, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_atecc608_addr((hk_atecc608_zone)3, 0, 0, &p2), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(hk_atecc608_slot_size(0), 36);
    HK_CHECK_EQ(hk_atecc608_slot_size(7), 36);
    HK_CHECK_EQ(hk_atecc608_slot_size(8), 416);
    HK_CHECK_EQ(hk_atecc608_slot_size(9), 72);
    HK_CHECK_EQ(hk_atecc608_slot_size(15), 72);
    HK_CHECK_EQ(hk_atecc608_slot_size(16), 0);
}

static void test_exec_table(void)
{
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_SIGN, 0), 115);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_SIGN, 1), 220);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_SIGN, 2), 665);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_VERIFY, 2), 1085);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_SELFTEST, 2), 2324);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_COUNTER, 0), 25);
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_SHA, 1), 42);
    HK_CHECK_EQ(hk_atecc608_exec_ms(0x11, 0), 2324); /* HMAC: not a 608 command */
    HK_CHECK_EQ(hk_atecc608_exec_ms(HK_ATECC608_OP_READ, 3), 2324);
    /* Every opcode in every mode (Microchip's fixed waits, M0 / M1 / M2). */
    static const struct {
        uint8_t opcode;
        uint16_t ms[3];
    } want[] = {
        {0x02, {5, 5, 5}},        {0x08, {55, 55, 55}},     {0x12, {45, 45, 45}},
        {0x15, {25, 35, 35}},     {0x16, {20, 20, 20}},     {0x17, {35, 35, 35}},
        {0x1B, {23, 23, 23}},     {0x1C, {50, 50, 50}},     {0x20, {10, 10, 10}},
        {0x24, {25, 25, 25}},     {0x28, {40, 40, 40}},     {0x30, {5, 5, 5}},
        {0x40, {115, 215, 653}},  {0x41, {115, 220, 665}},  {0x43, {75, 172, 531}},
        {0x45, {105, 295, 1085}}, {0x46, {50, 50, 50}},     {0x47, {36, 42, 75}},
        {0x51, {27, 27, 27}},     {0x56, {165, 165, 165}},  {0x77, {250, 625, 2324}},
        {0x80, {80, 160, 480}},
    };
    for (unsigned op = 0; op < 256; op++) {
        for (unsigned mode = 0; mode < 3; mode++) {
            unsigned expect = 2324;
            for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
                if (want[i].opcode == op)
                    expect = want[i].ms[mode];
            HK_CHECK_EQ(hk_atecc608_exec_ms((uint8_t)op, mode), expect);
        }
    }
}

static void test_bad_arguments(void)
{
    hk_atecc608_cmd cmd;
    uint8_t big[200] = {0};
    HK_CHECK_REQUIRE(hk_atecc608_cmd_build(&cmd, 0x12, 0, 0, big, 149, 4), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_atecc608_cmd_build(&cmd, 0x12, 0, 0, big, 148, 4), HK_OK);
    HK_CHECK_EQ(cmd.len, 155);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_build(&cmd, 0x12, 0, 0, NULL, 1, 4), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_build(&cmd, 0x12, 0, 0, NULL, 0, 3), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_build(&cmd, 0x12, 0, 0, NULL, 0, 68), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_build(NULL, 0x12, 0, 0, NULL, 0, 4), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_write(&cmd, HK_ATECC608_ZONE_DATA, 0, seq, 8),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_nonce_load(&cmd, HK_ATECC608_NONCE_TEMPKEY, seq, 20),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_nonce_load(&cmd, (hk_atecc608_nonce_target)0xC0, seq, 32),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_sha_end(&cmd, seq, 64), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_counter(&cmd, false, 2), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_read(&cmd, (hk_atecc608_zone)3, false, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_cmd_verify_external(&cmd, NULL, seq), HK_ERR_INVALID_ARG);
}

static void decode(const char *hex, size_t expected, hk_result want, uint8_t want_status,
                   size_t want_len)
{
    uint8_t rsp[80];
    size_t n = hk_test_unhex(hex, rsp, sizeof rsp);
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 99;
    uint8_t status = 0xAA;
    HK_CHECK_RESULT(hk_atecc608_response_decode(rsp, n, expected, &data, &len, &status), want);
    HK_CHECK_EQ(status, want_status);
    HK_CHECK_EQ(len, want_len);
    if (want == HK_OK && want_len > 0)
        HK_CHECK(data == rsp + 1);
    if (want != HK_OK || want_len == 0)
        HK_CHECK(data == NULL);
}

static void test_response_decode(void)
{
    decode("07000060028038", 7, HK_OK, 0, 4);         /* Info revision trace */
    decode("04000340", 4, HK_OK, 0, 0);               /* success status */
    decode("04000340", 35, HK_ERR_SE_RESPONSE, 0, 0); /* status where data expected */
    decode("07000060028039", 7, HK_ERR_SE_CRC, 0, 0);
    decode("07000060028038", 35, HK_ERR_SE_RESPONSE, 0, 0); /* wrong size */
    decode("08000060028038", 7, HK_ERR_SE_RESPONSE, 0, 0);  /* count != length */
    decode("040003", 4, HK_ERR_SE_RESPONSE, 0, 0);          /* shorter than 4 */
    decode("", 4, HK_ERR_SE_RESPONSE, 0, 0);
    decode("04113343", 4, HK_ERR_SE_STATUS, 0x11, 0);
    static const uint8_t statuses[] = {0x01, 0x03, 0x05, 0x07, 0x08, 0x0F, 0xEE, 0xFF};
    for (size_t i = 0; i < sizeof statuses; i++) {
        uint8_t g[4] = {0x04, statuses[i], 0, 0};
        uint16_t crc = hk_atecc608_crc16(g, 2);
        g[2] = (uint8_t)crc;
        g[3] = (uint8_t)(crc >> 8);
        const uint8_t *data;
        size_t len;
        uint8_t status = 0;
        HK_CHECK_RESULT(hk_atecc608_response_decode(g, 4, 35, &data, &len, &status),
                        HK_ERR_SE_STATUS);
        HK_CHECK_EQ(status, statuses[i]);
    }
    /* out_status may be NULL. */
    const uint8_t ok[4] = {0x04, 0x00, 0x03, 0x40};
    const uint8_t *data;
    size_t len;
    HK_CHECK_RESULT(hk_atecc608_response_decode(ok, 4, 4, &data, &len, NULL), HK_OK);
}

int main(void)
{
    for (unsigned i = 0; i < sizeof seq; i++)
        seq[i] = (uint8_t)i;
    HK_RUN(test_crc);
    HK_RUN(test_reference_groups);
    HK_RUN(test_other_groups);
    HK_RUN(test_addresses);
    HK_RUN(test_exec_table);
    HK_RUN(test_bad_arguments);
    HK_RUN(test_response_decode);
    return hk_test_finish("atecc608_cmd");
}
