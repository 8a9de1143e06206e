/*
 * ATECC608A command builders.
 *
 * An input group is: count (whole group, count and CRC included), opcode,
 * param1, param2 (LSB first), data, CRC-16 (LSB first) over everything
 * before it. Each builder also records the command's maximum execution time
 * (the ATECC608 M0 table, atecc608_exec.c) and the size of its successful
 * output group, so the transaction knows how long to poll and what to
 * expect.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"
#include "se/atecc608/atecc608_internal.h"

hk_result hk_atecc608_cmd_build(hk_atecc608_cmd *cmd, uint8_t opcode, uint8_t param1,
                                uint16_t param2, const uint8_t *data, size_t data_len,
                                uint8_t resp_len)
{
    HK_REQUIRE(cmd != NULL);
    HK_REQUIRE(data != NULL || data_len == 0);
    HK_REQUIRE(data_len <= HK_ATECC608_CMD_MAX - 7u);
    HK_REQUIRE(resp_len >= 4u && resp_len <= HK_ATECC608_RSP_MAX);
    size_t n = 7u + data_len;
    cmd->group[0] = (uint8_t)n;
    cmd->group[1] = opcode;
    cmd->group[2] = param1;
    cmd->group[3] = (uint8_t)(param2 & 0xFFu);
    cmd->group[4] = (uint8_t)(param2 >> 8);
    if (data_len > 0)
        memcpy(&cmd->group[5], data, data_len);
    uint16_t crc = hk_atecc608_crc16(cmd->group, n - 2u);
    cmd->group[n - 2u] = (uint8_t)(crc & 0xFFu);
    cmd->group[n - 1u] = (uint8_t)(crc >> 8);
    cmd->len = (uint8_t)n;
    cmd->resp_len = resp_len;
    cmd->exec_ms = hk_atecc608_exec_ms(opcode, 0);
    return HK_OK;
}

size_t hk_atecc608_slot_size(uint8_t slot)
{
    if (slot < 8)
        return 36;
    if (slot == 8)
        return 416;
    if (slot < 16)
        return 72;
    return 0;
}

/* Config: bits 4..3 block, 2..0 word. OTP: bit 3 block, 2..0 word.
 * Data: bits 6..3 slot, 2..0 word, 11..8 block. */
hk_result hk_atecc608_addr(hk_atecc608_zone zone, uint8_t slot, uint16_t offset,
                           uint16_t *out_param2)
{
    HK_REQUIRE(out_param2 != NULL);
    HK_REQUIRE((offset & 3u) == 0);
    uint16_t block = (uint16_t)(offset / 32u);
    uint16_t word = (uint16_t)((offset % 32u) / 4u);
    switch (zone) {
    case HK_ATECC608_ZONE_CONFIG:
        HK_REQUIRE(offset < HK_ATECC608_CONFIG_SIZE);
        *out_param2 = (uint16_t)(block << 3 | word);
        return HK_OK;
    case HK_ATECC608_ZONE_OTP:
        HK_REQUIRE(offset < HK_ATECC608_OTP_SIZE);
        *out_param2 = (uint16_t)(block << 3 | word);
        return HK_OK;
    case HK_ATECC608_ZONE_DATA:
        HK_REQUIRE(slot < HK_ATECC608_SLOTS && offset < hk_atecc608_slot_size(slot));
        *out_param2 = (uint16_t)(block << 8 | (uint16_t)slot << 3 | word);
        return HK_OK;
    }
    return HK_ERR_INVALID_ARG;
}

hk_result hk_atecc608_cmd_info(hk_atecc608_cmd *cmd, uint8_t mode, uint16_t param2)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_INFO, mode, param2, NULL, 0, 7);
}

hk_result hk_atecc608_cmd_read(hk_atecc608_cmd *cmd, hk_atecc608_zone zone, bool size32,
                               uint16_t param2)
{
    HK_REQUIRE((unsigned)zone <= 2u);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_READ,
                                 hk_atecc608_rw_param1(zone, size32 ? 32 : 4), param2, NULL, 0,
                                 size32 ? 35 : 7);
}

hk_result hk_atecc608_cmd_write(hk_atecc608_cmd *cmd, hk_atecc608_zone zone, uint16_t param2,
                                const uint8_t *data, size_t len)
{
    HK_REQUIRE((unsigned)zone <= 2u);
    HK_REQUIRE(len == 4 || len == 32);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_WRITE, hk_atecc608_rw_param1(zone, len),
                                 param2, data, len, 4);
}

hk_result hk_atecc608_cmd_lock(hk_atecc608_cmd *cmd, uint8_t param1, uint16_t summary_crc)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_LOCK, param1, summary_crc, NULL, 0, 4);
}

hk_result hk_atecc608_cmd_random(hk_atecc608_cmd *cmd)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_RANDOM, 0x00, 0, NULL, 0, 35);
}

hk_result hk_atecc608_cmd_nonce_random(hk_atecc608_cmd *cmd, const uint8_t num_in[20])
{
    HK_REQUIRE(num_in != NULL);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_NONCE, 0x00, 0, num_in, 20, 35);
}

hk_result hk_atecc608_cmd_nonce_load(hk_atecc608_cmd *cmd, hk_atecc608_nonce_target target,
                                     const uint8_t *data, size_t len)
{
    HK_REQUIRE(len == 32 || len == 64);
    HK_REQUIRE(target == HK_ATECC608_NONCE_TEMPKEY || target == HK_ATECC608_NONCE_MSG_DIGEST ||
               target == HK_ATECC608_NONCE_ALT_KEY);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_NONCE, hk_atecc608_nonce_param1(target, len),
                                 0, data, len, 4);
}

hk_result hk_atecc608_cmd_genkey(hk_atecc608_cmd *cmd, bool create, uint16_t slot)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_GENKEY,
                                 create ? HK_ATECC608_GENKEY_CREATE : 0x00, slot, NULL, 0, 67);
}

hk_result hk_atecc608_cmd_sign_external(hk_atecc608_cmd *cmd, uint16_t slot)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_SIGN, HK_ATECC608_SIGN_EXTERNAL, slot, NULL,
                                 0, 67);
}

hk_result hk_atecc608_cmd_verify_external(hk_atecc608_cmd *cmd,
                                          const uint8_t signature[HK_ATECC608_SIGNATURE_SIZE],
                                          const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE])
{
    HK_REQUIRE(signature != NULL && pubkey != NULL);
    uint8_t data[HK_ATECC608_SIGNATURE_SIZE + HK_ATECC608_PUBKEY_SIZE];
    memcpy(data, signature, HK_ATECC608_SIGNATURE_SIZE);
    memcpy(data + HK_ATECC608_SIGNATURE_SIZE, pubkey, HK_ATECC608_PUBKEY_SIZE);
    /* 0x22 = external key, message in the message-digest buffer; 0x0004 = P-256. */
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_VERIFY, 0x22, 0x0004, data, sizeof data, 4);
}

hk_result hk_atecc608_cmd_ecdh(hk_atecc608_cmd *cmd, uint16_t slot,
                               const uint8_t pubkey[HK_ATECC608_PUBKEY_SIZE])
{
    HK_REQUIRE(pubkey != NULL);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_ECDH, 0x00, slot, pubkey,
                                 HK_ATECC608_PUBKEY_SIZE, 35);
}

hk_result hk_atecc608_cmd_sha_start(hk_atecc608_cmd *cmd)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_SHA, 0x00, 0, NULL, 0, 4);
}

hk_result hk_atecc608_cmd_sha_update(hk_atecc608_cmd *cmd, const uint8_t block[64])
{
    HK_REQUIRE(block != NULL);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_SHA, 0x01, 64, block, 64, 4);
}

hk_result hk_atecc608_cmd_sha_end(hk_atecc608_cmd *cmd, const uint8_t *data, size_t len)
{
    HK_REQUIRE(len <= 63);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_SHA, 0x02, (uint16_t)len, data, len, 35);
}

hk_result hk_atecc608_cmd_selftest(hk_atecc608_cmd *cmd, uint8_t tests)
{
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_SELFTEST, tests, 0, NULL, 0, 4);
}

hk_result hk_atecc608_cmd_counter(hk_atecc608_cmd *cmd, bool increment, uint16_t counter_id)
{
    HK_REQUIRE(counter_id <= 1);
    return hk_atecc608_cmd_build(cmd, HK_ATECC608_OP_COUNTER, increment ? 0x01 : 0x00,
                                 counter_id, NULL, 0, 7);
}
