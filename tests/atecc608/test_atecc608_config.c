/* Config-zone decoding and the safety check that refuses chips whose zones
 * are unlocked or whose private-key slot could leak or be replaced. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "trustflex_config.h"

static uint8_t raw[128];

static void locked_image(void)
{
    memset(raw, 0, sizeof raw);
    static const uint8_t head[16] = {0x01, 0x23, 0xAB, 0xCD, 0x00, 0x00, 0x60, 0x02,
                                     0x11, 0x22, 0x33, 0x44, 0xEE, 0x01, 0x01, 0x00};
    memcpy(raw, head, sizeof head);
    tflx_config_fill(raw);
    raw[86] = 0x00;
    raw[87] = 0x00;
}

static void set_slot(int n, uint16_t slot_config, uint16_t key_config)
{
    raw[20 + 2 * n] = (uint8_t)slot_config;
    raw[21 + 2 * n] = (uint8_t)(slot_config >> 8);
    raw[96 + 2 * n] = (uint8_t)key_config;
    raw[97 + 2 * n] = (uint8_t)(key_config >> 8);
}

static void test_decode(void)
{
    locked_image();
    raw[19] = 0x28 | 0x04;
    raw[88] = 0xFE; /* slot 0 locked */
    raw[89] = 0x7F; /* slot 15 locked */
    raw[90] = 0x0E;
    raw[91] = 0x60;
    set_slot(3, 0x2087, 0x0033);
    hk_atecc608_config cfg;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_MEM(cfg.serial, 9, "\x01\x23\xAB\xCD\x11\x22\x33\x44\xEE", 9);
    HK_CHECK_MEM(cfg.revision, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK_EQ(cfg.i2c_address7, 0x60);
    HK_CHECK(cfg.i2c_enabled);
    HK_CHECK_EQ(cfg.chip_mode, 0x2C);
    HK_CHECK_EQ(cfg.clock_mode, 1);
    HK_CHECK(cfg.config_locked);
    HK_CHECK(cfg.data_locked);
    HK_CHECK_EQ(cfg.slot_locked, 0x7FFE);
    HK_CHECK_EQ(cfg.chip_options, 0x600E);
    HK_CHECK(cfg.slots[0].locked);
    HK_CHECK(!cfg.slots[1].locked);
    HK_CHECK(cfg.slots[15].locked);

    /* The reference's decoded example: SlotConfig 0x2087, KeyConfig 0x0033. */
    const hk_atecc608_slot_config *s = &cfg.slots[3];
    HK_CHECK_EQ(s->slot_config, 0x2087);
    HK_CHECK_EQ(s->key_config, 0x0033);
    HK_CHECK_EQ(s->read_key, 7);
    HK_CHECK(s->is_secret && !s->encrypt_read && !s->limited_use && !s->no_mac);
    HK_CHECK_EQ(s->write_key, 0);
    HK_CHECK_EQ(s->write_config, 2);
    HK_CHECK(s->private_key && s->pub_info && s->lockable);
    HK_CHECK_EQ(s->key_type, 4);
    HK_CHECK(!s->req_random && !s->req_auth && !s->persistent_disable);

    /* Slot 14 of the TrustFLEX map: 0x1F0D / 0x0012. */
    s = &cfg.slots[14];
    HK_CHECK_EQ(s->read_key, 0xD);
    HK_CHECK_EQ(s->write_key, 0xF);
    HK_CHECK_EQ(s->write_config, 1);
    HK_CHECK(!s->is_secret && !s->private_key && s->pub_info);
    HK_CHECK_EQ(s->key_type, 4);
    /* Slot 6: 0x0F8F / 0x007C: ReqRandom, lockable, SHA type. */
    s = &cfg.slots[6];
    HK_CHECK(s->req_random && s->lockable && s->is_secret);
    HK_CHECK_EQ(s->key_type, 7);
    /* KeyConfig 0x1F80 bits: ReqAuth, AuthKey 15, PersistentDisable. */
    set_slot(9, 0x0070, 0x1F80);
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    s = &cfg.slots[9];
    HK_CHECK(s->req_auth && s->persistent_disable && s->no_mac && s->limited_use &&
             s->encrypt_read);
    HK_CHECK_EQ(s->auth_key, 15);

    /* Factory-new: both lock bytes 0x55. Clock divider modes. */
    raw[86] = 0x55;
    raw[87] = 0x55;
    raw[19] = 0x68;
    raw[14] = 0x00;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK(!cfg.config_locked && !cfg.data_locked && !cfg.i2c_enabled);
    HK_CHECK_EQ(cfg.clock_mode, 2);
    raw[19] = 0x00;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_EQ(cfg.clock_mode, 0);
    raw[19] = 0x10;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_EQ(cfg.clock_mode, 0xFF);
    HK_CHECK_REQUIRE(hk_atecc608_config_decode(NULL, &cfg), HK_ERR_INVALID_ARG);
}

static void expect(uint16_t sc, uint16_t kc, hk_result want, hk_atecc608_problem want_p)
{
    locked_image();
    set_slot(0, sc, kc);
    hk_atecc608_config cfg;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    hk_atecc608_problem p = (hk_atecc608_problem)99;
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 0, &p), want);
    HK_CHECK_EQ(p, want_p);
    p = (hk_atecc608_problem)99;
    HK_CHECK_RESULT(hk_atecc608_config_check_raw(raw, 0, &p), want);
    HK_CHECK_EQ(p, want_p);
}

/* The raw check and the decoded check agree on every SlotConfig/KeyConfig
 * bit that matters, in every lock state and slot; and the clock mode. */
static void test_check_raw(void)
{
    for (unsigned locks = 0; locks < 4; locks++) {
        for (uint32_t v = 0; v < 0x10000u; v += 0x0101u) {
            locked_image();
            raw[86] = (locks & 1u) ? 0x55 : 0x00;
            raw[87] = (locks & 2u) ? 0x55 : 0x00;
            uint16_t sc = (uint16_t)(v ^ 0x2085u), kc = (uint16_t)((v * 7u) ^ 0x0073u);
            set_slot((int)(v % 16u), sc, kc);
            hk_atecc608_config cfg;
            HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
            for (uint8_t slot = 0; slot < 16; slot++) {
                hk_atecc608_problem a, b;
                hk_result ra = hk_atecc608_config_check(&cfg, slot, &a);
                hk_result rb = hk_atecc608_config_check_raw(raw, slot, &b);
                if (ra != rb || a != b) {
                    HK_CHECK_RESULT(rb, ra);
                    HK_CHECK_EQ(b, a);
                    return;
                }
            }
        }
    }
    HK_CHECK_REQUIRE(hk_atecc608_config_check_raw(raw, 16, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_config_check_raw(NULL, 0, NULL), HK_ERR_INVALID_ARG);
    static const struct {
        uint8_t chip_mode, clock;
    } modes[] = {{0x00, 0}, {0x07, 0}, {0x28, 1}, {0x2D, 1}, {0x68, 2}, {0x6F, 2}, {0x08, 0xFF},
                 {0xF8, 0xFF}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        raw[19] = modes[i].chip_mode;
        HK_CHECK_EQ(hk_atecc608_config_clock_mode(raw), modes[i].clock);
    }
}

static void test_check(void)
{
    /* Acceptable key slots: the test map, Trust&GO's permanent 0x0085/0x0053,
     * the reference's GenKey slot 0x2087/0x0033. */
    expect(0x2085, 0x0073, HK_OK, HK_ATECC608_PROBLEM_NONE);
    expect(0x0085, 0x0053, HK_OK, HK_ATECC608_PROBLEM_NONE);
    expect(0x2087, 0x0033, HK_OK, HK_ATECC608_PROBLEM_NONE);
    /* Readable in clear (IsSecret clear). */
    expect(0x2005, 0x0073, HK_ERR_SE_KEY_EXPOSED, HK_ATECC608_PROBLEM_KEY_READABLE);
    /* Readable encrypted. */
    expect(0x20C5, 0x0073, HK_ERR_SE_KEY_EXPOSED, HK_ATECC608_PROBLEM_KEY_ENCRYPT_READ);
    /* PrivWrite allowed (cryptoauthlib's priv_write target 0x6483). */
    expect(0x6483, 0x0033, HK_ERR_SE_KEY_EXPOSED, HK_ATECC608_PROBLEM_KEY_WRITABLE);
    expect(0x4085, 0x0073, HK_ERR_SE_KEY_EXPOSED, HK_ATECC608_PROBLEM_KEY_WRITABLE);
    /* Not a P-256 private key: a data slot, or a P-256 public key type. */
    expect(0x0F0F, 0x003C, HK_ERR_SE_CONFIG, HK_ATECC608_PROBLEM_KEY_NOT_P256);
    expect(0x0085, 0x0052, HK_ERR_SE_CONFIG, HK_ATECC608_PROBLEM_KEY_NOT_P256);
    expect(0x0085, 0x001D, HK_ERR_SE_CONFIG, HK_ATECC608_PROBLEM_KEY_NOT_P256);
    /* Internal sign only (TrustFLEX slot 1). */
    expect(0x0082, 0x0053, HK_ERR_SE_CONFIG, HK_ATECC608_PROBLEM_KEY_NO_SIGN);

    /* Lock states come first. */
    hk_atecc608_config cfg;
    locked_image();
    raw[87] = 0x55;
    raw[86] = 0x55;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    hk_atecc608_problem p;
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 0, &p), HK_ERR_SE_UNLOCKED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_CONFIG_UNLOCKED);
    raw[87] = 0x00;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 0, &p), HK_ERR_SE_UNLOCKED);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_DATA_UNLOCKED);
    /* Any value but 0x55 counts as locked. */
    raw[86] = 0x01;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 0, NULL), HK_OK);
    /* Another key slot, and a bad slot number. */
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 8, &p), HK_ERR_SE_CONFIG);
    HK_CHECK_EQ(p, HK_ATECC608_PROBLEM_KEY_NOT_P256);
    HK_CHECK_RESULT(hk_atecc608_config_check(&cfg, 2, &p), HK_OK);
    HK_CHECK_REQUIRE(hk_atecc608_config_check(&cfg, 16, &p), HK_ERR_INVALID_ARG);
}

static void test_problem_strings(void)
{
    const char *seen[8];
    for (int p = 0; p <= (int)HK_ATECC608_PROBLEM_KEY_NO_SIGN; p++) {
        const char *s = hk_atecc608_problem_str((hk_atecc608_problem)p);
        HK_CHECK(s != NULL && strlen(s) > 10);
        for (int q = 0; q < p; q++)
            HK_CHECK(strcmp(seen[q], s) != 0);
        seen[p] = s;
    }
    HK_CHECK(strstr(hk_atecc608_problem_str(HK_ATECC608_PROBLEM_KEY_READABLE), "IsSecret"));
    HK_CHECK(strcmp(hk_atecc608_problem_str((hk_atecc608_problem)42), "unknown problem") == 0);
}

/* The part named by a revision number (Info mode 0 / config bytes 4..7):
 * atecc608a.md §4.1, byte 2 = family (0x60 = 608), byte 3 = silicon
 * revision, 0x02 = ATECC608A, 0x03 or higher = ATECC608B. */
static void test_part(void)
{
    static const struct {
        const char *rev;
        hk_atecc608_part part;
    } cases[] = {
        {"00006002", HK_ATECC608_PART_A},       {"00006003", HK_ATECC608_PART_B},
        {"00006004", HK_ATECC608_PART_B},       {"000060FF", HK_ATECC608_PART_B},
        {"00006001", HK_ATECC608_PART_UNKNOWN}, {"00006000", HK_ATECC608_PART_UNKNOWN},
        {"00005000", HK_ATECC608_PART_UNKNOWN}, /* ATECC508A */
        {"00000002", HK_ATECC608_PART_UNKNOWN}, /* SHA204A */
        {"00006102", HK_ATECC608_PART_UNKNOWN}, {"FFFFFFFF", HK_ATECC608_PART_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t rev[4];
        hk_test_unhex(cases[i].rev, rev, 4);
        HK_CHECK_EQ(hk_atecc608_part_of(rev), cases[i].part);
    }
    HK_CHECK(strcmp(hk_atecc608_part_name(HK_ATECC608_PART_A), "ATECC608A") == 0);
    HK_CHECK(strcmp(hk_atecc608_part_name(HK_ATECC608_PART_B), "ATECC608B") == 0);
    HK_CHECK(strcmp(hk_atecc608_part_name(HK_ATECC608_PART_UNKNOWN), "unknown part") == 0);
    HK_CHECK(strcmp(hk_atecc608_part_name((hk_atecc608_part)9), "unknown part") == 0);
    /* A decoded config zone carries the revision the part is read from. */
    locked_image();
    raw[7] = 0x03;
    hk_atecc608_config cfg;
    HK_CHECK_RESULT(hk_atecc608_config_decode(raw, &cfg), HK_OK);
    HK_CHECK_EQ(hk_atecc608_part_of(cfg.revision), HK_ATECC608_PART_B);
    /* The safety check does not depend on the part. */
    HK_CHECK_RESULT(hk_atecc608_config_check_raw(raw, 0, NULL), HK_OK);
}

int main(void)
{
    HK_RUN(test_decode);
    HK_RUN(test_check);
    HK_RUN(test_check_raw);
    HK_RUN(test_problem_strings);
    HK_RUN(test_part);
    return hk_test_finish("atecc608_config");
}
