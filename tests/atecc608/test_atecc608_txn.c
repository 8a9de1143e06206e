/* The ATECC608A transaction against a scripted I2C bus: every branch of
 * wake, send, poll, receive, CRC check, status decode, retry and idle/sleep,
 * with the exact bytes on the bus. */
#include <string.h>

#include "fake_i2c.h"
#include "hk_test.h"
#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"

static fake_i2c fake;
static hk_atecc608 dev;
static hk_atecc608_cmd info;

#define INFO_SEND "03073000000003" "5D"
#define INFO_RSP "07000060028038"

static void setup(void)
{
    hk_i2c i2c;
    fake_init(&fake, &i2c);
    HK_CHECK_RESULT(hk_atecc608_init(&dev, &i2c, 0x60), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_cmd_info(&info, 0, 0), HK_OK);
}

/* Status group 04 SS crc crc as hex. */
static const char *status_hex(uint8_t s)
{
    static char buf[9];
    uint8_t g[2] = {0x04, s};
    uint16_t crc = hk_atecc608_crc16(g, 2);
    snprintf(buf, sizeof buf, "04%02X%02X%02X", s, crc & 0xFF, crc >> 8);
    return buf;
}

static hk_result exec_info(uint8_t *out, size_t cap, size_t *out_len, uint8_t *status)
{
    return hk_atecc608_execute(&dev, &info, HK_ATECC608_AFTER_IDLE, out, cap, out_len, status);
}

static void test_happy_path(void)
{
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    uint8_t out[8];
    hk_guard_fill(out, 4, sizeof out);
    size_t len = 0;
    uint8_t status = 0xAA;
    HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_OK);
    HK_CHECK_EQ(len, 4);
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK(hk_guard_intact(out, 4, sizeof out));
    HK_CHECK_EQ(status, 0);
    HK_CHECK(fake_done(&fake));
    /* tWHI 1500 us, then the first poll 1 ms after sending. */
    HK_CHECK_EQ(fake.now_us, 2500);
    HK_CHECK_EQ(dev.stats.transactions, 1);
    HK_CHECK_EQ(dev.stats.wakes, 1);
    HK_CHECK_EQ(dev.stats.resends, 0);

    /* A second command wakes again: the chip was idled. Sleep when asked. */
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "01");
    HK_CHECK_RESULT(hk_atecc608_execute(&dev, &info, HK_ATECC608_AFTER_SLEEP, out, 4, &len, NULL),
                    HK_OK);
    HK_CHECK(fake_done(&fake));
}

static void test_status_only_and_nulls(void)
{
    setup();
    hk_atecc608_cmd lock;
    HK_CHECK_RESULT(hk_atecc608_cmd_lock(&lock, 0x80, 0), HK_OK);
    fake_wake_ok(&fake);
    fake_write(&fake, "03071780000039" "8D");
    fake_response(&fake, "04000340");
    fake_write(&fake, "02");
    size_t len = 9;
    HK_CHECK_RESULT(hk_atecc608_execute(&dev, &lock, HK_ATECC608_AFTER_IDLE, NULL, 0, &len, NULL),
                    HK_OK);
    HK_CHECK_EQ(len, 0);
    HK_CHECK(fake_done(&fake));
}

static void test_wake_failures(void)
{
    uint8_t out[4];
    size_t len;
    /* No answer at all: each wake try ends with a sleep word, then the
     * attempt budget runs out. */
    setup();
    dev.policy.attempts = 2;
    dev.policy.wake_tries = 2;
    for (int i = 0; i < 4; i++) {
        fake_wake(&fake);
        fake_read_nack(&fake, 4, 1);
    }
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_SE_WAKE);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.wakes, 4);
    HK_CHECK_EQ(dev.stats.nacks, 4);

    /* A wrong wake answer (self-test failure), read twice, then sleep and
     * a good one. */
    setup();
    fake_wake(&fake);
    fake_read(&fake, "040740C2");
    fake_write(&fake, "00");
    fake_read(&fake, "040740C2");
    fake_write(&fake, "01");
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));

    /* A garbled wake answer reads clean from the start of the buffer: the
     * chip is not put to sleep (it may hold TempKey from before its idle). */
    setup();
    fake_wake(&fake);
    fake_read(&fake, "04113347");
    fake_write(&fake, "00");
    fake_read(&fake, "04113343");
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));

    /* Wake NACKed a few times (not ready, bus noise): pulse again, no sleep. */
    setup();
    for (int i = 0; i < 3; i++) {
        fake_wake(&fake);
        fake_read_nack(&fake, 4, 1);
    }
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.wakes, 4);

    /* A bus error during the wake check is not retried. */
    setup();
    fake_wake(&fake);
    fake_add(&fake, FAKE_READ, "00000000", HK_ERR_IO, 1);
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_IO);
    HK_CHECK(fake_done(&fake));

    /* A port whose wake pulse itself fails with a bus error. */
    setup();
    fake_add(&fake, FAKE_WAKE, "", HK_ERR_IO, 1);
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_IO);
    HK_CHECK(fake_done(&fake));
}

static void test_nack_bursts(void)
{
    uint8_t out[4];
    size_t len;
    /* The send is NACKed twice, then the chip is busy for three polls. */
    setup();
    fake_wake_ok(&fake);
    fake_write_nack(&fake, INFO_SEND, 2);
    fake_write(&fake, INFO_SEND);
    fake_busy(&fake, 3);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.nacks, 5);
    HK_CHECK_EQ(fake.now_us, 1500 + 2 * 2000 + 1000 + 3 * 2000);

    /* NACKs on the word-address write of a poll count as busy too; a NACK
     * after the count byte (response not complete) polls again. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_write_nack(&fake, "00", 1);
    fake_write(&fake, "00");
    fake_read(&fake, "07");
    fake_read_nack(&fake, 6, 1);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));

    /* Send NACKed for the whole budget: sleep, wake again, send again. */
    setup();
    dev.policy.send_nack_tries = 3;
    fake_wake_ok(&fake);
    fake_write_nack(&fake, INFO_SEND, 3);
    fake_write(&fake, "01");
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.resends, 1);

    /* Send NACKed for every attempt. */
    setup();
    dev.policy.send_nack_tries = 2;
    dev.policy.attempts = 2;
    for (int i = 0; i < 2; i++) {
        fake_wake_ok(&fake);
        fake_write_nack(&fake, INFO_SEND, 2);
        fake_write(&fake, "01");
    }
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK(fake_done(&fake));
}

static void test_poll_timeout(void)
{
    uint8_t out[4];
    size_t len;
    /* Info may take 5 ms; polling goes on for 5 + 50 ms: polls at 1, 3, ...,
     * 55 ms (28 polls), then the chip is put to sleep. */
    setup();
    dev.policy.attempts = 1;
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_busy(&fake, 28);
    fake_write(&fake, "01");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(fake.now_us, 1500 + 55000);

    /* The slower clock table stretches the budget: Sign at M2 = 665 ms. */
    setup();
    dev.policy.attempts = 1;
    dev.policy.poll_extra_ms = 0;
    HK_CHECK_RESULT(hk_atecc608_set_clock_mode(&dev, 2), HK_OK);
    hk_atecc608_cmd sign;
    HK_CHECK_RESULT(hk_atecc608_cmd_sign_external(&sign, 0), HK_OK);
    fake_wake_ok(&fake);
    fake_write(&fake, NULL);
    fake_busy(&fake, 333); /* 1, 3, ..., 665 ms */
    fake_write(&fake, "01");
    uint8_t rs[64];
    HK_CHECK_RESULT(hk_atecc608_execute(&dev, &sign, HK_ATECC608_AFTER_IDLE, rs, 64, &len, NULL),
                    HK_ERR_SE_NO_RESPONSE);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_REQUIRE(hk_atecc608_set_clock_mode(&dev, 3), HK_ERR_INVALID_ARG);
}

static void test_crc_errors(void)
{
    uint8_t out[8];
    size_t len;
    /* Bad CRC, the second read of the same output buffer is good: no resend. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, "07000060028039");
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.crc_errors, 1);
    HK_CHECK_EQ(dev.stats.resends, 0);

    /* Bad twice: the command is sent again (the chip is still awake). */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, "07000060028039");
    fake_response(&fake, "07000060028039");
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    hk_guard_fill(out, 4, sizeof out);
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK_MEM(out, 4, "\x00\x00\x60\x02", 4);
    HK_CHECK(hk_guard_intact(out, 4, sizeof out));
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.crc_errors, 2);
    HK_CHECK_EQ(dev.stats.resends, 1);

    /* Bad every time: HK_ERR_SE_CRC after the attempt budget; nothing written. */
    setup();
    dev.policy.attempts = 2;
    fake_wake_ok(&fake);
    for (int i = 0; i < 2; i++) {
        fake_write(&fake, INFO_SEND);
        fake_response(&fake, "07000060028039");
        fake_response(&fake, "07000060028039");
    }
    fake_write(&fake, "02");
    hk_guard_fill(out, 0, sizeof out);
    uint8_t status = 0xAA;
    HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_ERR_SE_CRC);
    HK_CHECK(hk_guard_intact(out, 0, sizeof out));
    HK_CHECK_EQ(len, 0);
    HK_CHECK_EQ(status, 0);
    HK_CHECK(fake_done(&fake));

    /* The re-read NACKs: send again. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, "07000060028039");
    fake_write(&fake, "00");
    fake_read_nack(&fake, 1, 1);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));

    /* Bad CRC, then the re-read brings a real error status: reported. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, "04030000");
    fake_response(&fake, status_hex(0x03));
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, 0x03);
    HK_CHECK(fake_done(&fake));
}

static void test_malformed_counts(void)
{
    uint8_t out[4];
    size_t len;
    /* Count below 4 (a short group), count larger than the response buffer,
     * and a count that is neither 4 nor the expected size: never read on. */
    const char *counts[] = {"00", "03", "50", "FF", "23"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        setup();
        dev.policy.attempts = 1;
        fake_wake_ok(&fake);
        fake_write(&fake, INFO_SEND);
        fake_write(&fake, "00");
        fake_read(&fake, counts[i]);
        fake_write(&fake, "00");
        fake_read(&fake, counts[i]);
        fake_write(&fake, "02");
        HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_SE_RESPONSE);
        HK_CHECK(fake_done(&fake));
    }
    /* A garbled count, then the right group on the re-read. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_write(&fake, "00");
    fake_read(&fake, "87");
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
}

static void test_error_statuses(void)
{
    static const uint8_t statuses[] = {0x01, 0x03, 0x05, 0x07, 0x08, 0x0F};
    for (size_t i = 0; i < sizeof statuses; i++) {
        setup();
        fake_wake_ok(&fake);
        fake_write(&fake, INFO_SEND);
        fake_response(&fake, status_hex(statuses[i]));
        fake_write(&fake, "02");
        uint8_t out[4];
        size_t len = 7;
        uint8_t status = 0;
        HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_ERR_SE_STATUS);
        HK_CHECK_EQ(status, statuses[i]);
        HK_CHECK_EQ(len, 0);
        HK_CHECK_EQ(dev.stats.resends, 0);
        HK_CHECK(fake_done(&fake));
    }
}

static void test_retried_statuses(void)
{
    uint8_t out[4];
    size_t len;
    uint8_t status;
    /* 0xFF: the chip saw a bad CRC: sent again at once. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, status_hex(0xFF));
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));

    /* 0xFF every time. */
    setup();
    dev.policy.attempts = 3;
    fake_wake_ok(&fake);
    for (int i = 0; i < 3; i++) {
        fake_write(&fake, INFO_SEND);
        fake_response(&fake, status_hex(0xFF));
    }
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, 0xFF);
    HK_CHECK(fake_done(&fake));

    /* 0xEE (watchdog about to expire): idle, wake, send again. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, status_hex(0xEE));
    fake_write(&fake, "02");
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_EQ(dev.stats.wakes, 2);

    /* 0xEE every time. */
    setup();
    dev.policy.attempts = 2;
    for (int i = 0; i < 2; i++) {
        fake_wake_ok(&fake);
        fake_write(&fake, INFO_SEND);
        fake_response(&fake, status_hex(0xEE));
        fake_write(&fake, "02");
    }
    HK_CHECK_RESULT(exec_info(out, 4, &len, &status), HK_ERR_SE_STATUS);
    HK_CHECK_EQ(status, 0xEE);
    HK_CHECK(fake_done(&fake));

    /* 0x11: the chip had not received the command. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, "04113343");
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
}

static void test_bus_errors_and_buffers(void)
{
    uint8_t out[4];
    size_t len;
    /* A bus error on the send is not retried; the chip is still idled. */
    setup();
    fake_wake_ok(&fake);
    fake_add(&fake, FAKE_WRITE, INFO_SEND, HK_ERR_IO, 1);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_IO);
    HK_CHECK(fake_done(&fake));

    /* A bus error while reading the response. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_write(&fake, "00");
    fake_add(&fake, FAKE_READ, "00", HK_ERR_IO, 1);
    fake_write(&fake, "02");
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_ERR_IO);
    HK_CHECK(fake_done(&fake));

    /* Payload larger than the caller's buffer: nothing written. */
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(exec_info(out, 3, &len, NULL), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(out, 0, sizeof out));
    HK_CHECK(fake_done(&fake));

    /* Caller bugs. */
    setup();
    HK_CHECK_REQUIRE(exec_info(NULL, 4, &len, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(exec_info(out, 4, NULL, NULL), HK_ERR_INVALID_ARG);
    hk_atecc608_cmd bad = info;
    bad.len = 3;
    HK_CHECK_REQUIRE(hk_atecc608_execute(&dev, &bad, HK_ATECC608_AFTER_IDLE, out, 4, &len, NULL),
                     HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_atecc608_execute(&dev, &info, (hk_atecc608_after)7, out, 4, &len, NULL),
                     HK_ERR_INVALID_ARG);
    hk_i2c none = {0};
    HK_CHECK_REQUIRE(hk_atecc608_init(&dev, &none, 0x60), HK_ERR_INVALID_ARG);
    HK_CHECK(fake_done(&fake));
}

static void test_sleep(void)
{
    setup();
    fake_wake_ok(&fake);
    fake_write(&fake, "01");
    HK_CHECK_RESULT(hk_atecc608_sleep(&dev), HK_OK);
    HK_CHECK(fake_done(&fake));

    setup();
    dev.policy.wake_tries = 1;
    fake_wake(&fake);
    fake_read_nack(&fake, 4, 1);
    HK_CHECK_RESULT(hk_atecc608_sleep(&dev), HK_ERR_SE_WAKE);
    HK_CHECK(fake_done(&fake));
}

static void test_address(void)
{
    hk_i2c i2c;
    fake_init(&fake, &i2c);
    fake.addr7 = 0x35;
    HK_CHECK_RESULT(hk_atecc608_init(&dev, &i2c, 0x35), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_cmd_info(&info, 0, 0), HK_OK);
    fake_wake_ok(&fake);
    fake_write(&fake, INFO_SEND);
    fake_response(&fake, INFO_RSP);
    fake_write(&fake, "02");
    uint8_t out[4];
    size_t len;
    HK_CHECK_RESULT(exec_info(out, 4, &len, NULL), HK_OK);
    HK_CHECK(fake_done(&fake));
    HK_CHECK_REQUIRE(hk_atecc608_init(&dev, &i2c, 0x80), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_happy_path);
    HK_RUN(test_status_only_and_nulls);
    HK_RUN(test_wake_failures);
    HK_RUN(test_nack_bursts);
    HK_RUN(test_poll_timeout);
    HK_RUN(test_crc_errors);
    HK_RUN(test_malformed_counts);
    HK_RUN(test_error_statuses);
    HK_RUN(test_retried_statuses);
    HK_RUN(test_bus_errors_and_buffers);
    HK_RUN(test_sleep);
    HK_RUN(test_address);
    return hk_test_finish("atecc608_txn");
}
