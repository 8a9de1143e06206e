/*
 * ATECC608A transaction: wake, send, poll, receive, check, idle/sleep.
 *
 * Why the retries look the way they do:
 *  - A response that fails its CRC was most likely garbled on the bus; the
 *    chip keeps its output buffer and word address 0x00 rewinds it, so the
 *    first remedy is to read it again. That never runs a command twice
 *    (important for Counter increment, GenKey create, Sign). Only when the
 *    second read fails too is the command sent again.
 *  - Status 0xFF means the chip saw our group corrupted, 0x11 that it never
 *    got it: both are safe to send again. 0xEE (watchdog about to expire)
 *    needs a fresh watchdog period first: idle, then wake.
 *  - A chip that NACKs for longer than the budget may have fallen asleep
 *    (watchdog) or be stuck mid-I/O; sleep (word 0x01) followed by a wake
 *    puts it into a known state.
 *  - Elapsed time is the sum of the delays asked of the port, so the emulator
 *    (whose clock moves with delay_us) and a real bus agree, and no clock is
 *    needed. Real I2C transfers add to that, so on hardware the driver only
 *    ever waits longer than the budget, never shorter.
 *
 * Awake sequences (hk_atecc608_hold): a wake costs tWHI (1.5 ms) and a
 * pulse on the bus; cryptoauthlib idles after every command and wakes for
 * the next, which for the 30 to 50 commands of a boot adds up to more than
 * one Sign. Inside a hold the chip stays awake between commands. What
 * bounds that is the watchdog: it runs from the wake, idle is the only way
 * to stop it, and a command that would end after it expires is refused
 * with 0xEE (or, if it expires during I/O, the chip sleeps and loses
 * TempKey). The driver counts the same time it counts for polling (its own
 * waits since the wake, awake_us) and idles and wakes again before a
 * command that would take the total past policy.awake_max_ms. 1000 ms
 * against the nominal 1.3 s leaves 300 ms for what is not counted: bus
 * transfers (a 35-byte read at 100 kHz is about 4 ms) and the caller's CPU
 * time between the commands of one sequence. If the estimate is still
 * wrong, the 0xEE and NACK paths below recover as before.
 *
 * rng_fresh: Microchip's library runs Random before every Sign to make
 * sure the RNG seed was updated since the chip woke from sleep. Idle
 * keeps the RNG state (reference §1.4), so the flag is set by a Random
 * that succeeded (hk_atecc608_random, mode 0) and cleared whenever the
 * driver puts the chip to sleep or finds it in an unknown state;
 * hk_atecc608_sign_digest skips its Random while it is set. A power cycle
 * between two commands is invisible here (the chip then wakes as from
 * idle); sign_digest runs the Random and signs again if the chip refuses
 * the Sign.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/atecc608.h"
#include "se/atecc608/atecc608_crc.h"

/* GCC inlines a static function called once, and then threads every
 * result test into the common tail of execute, copying it several times;
 * kept apart, the attempt and the tail are each written once. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define WORD_RESET 0x00u
#define WORD_SLEEP 0x01u
#define WORD_IDLE 0x02u
#define WORD_COMMAND 0x03u

hk_result hk_atecc608_init(hk_atecc608 *dev, const hk_i2c *i2c, uint8_t addr7)
{
    HK_REQUIRE(dev != NULL && i2c != NULL);
    HK_REQUIRE(i2c->write != NULL && i2c->read != NULL && i2c->wake != NULL &&
               i2c->delay_us != NULL);
    HK_REQUIRE(addr7 < 0x80u);
    memset(dev, 0, sizeof *dev);
    dev->policy.attempts = 4;
    dev->policy.wake_tries = 20;
    dev->policy.send_nack_tries = 20;
    dev->policy.wake_delay_us = 1500;
    dev->policy.poll_first_us = 1000;
    dev->policy.poll_every_us = 2000;
    dev->policy.poll_extra_ms = 50;
    dev->policy.awake_max_ms = 1000;
    dev->_internal.i2c = *i2c;
    dev->_internal.addr7 = addr7;
    return HK_OK;
}

hk_result hk_atecc608_set_clock_mode(hk_atecc608 *dev, unsigned clock_mode)
{
    HK_REQUIRE(dev != NULL && clock_mode <= 2);
    dev->_internal.clock_mode = (uint8_t)clock_mode;
    return HK_OK;
}

static hk_result bus_write(hk_atecc608 *dev, const uint8_t *buf, size_t len)
{
    return dev->_internal.i2c.write(dev->_internal.i2c.ctx, dev->_internal.addr7, buf, len);
}

static hk_result bus_read(hk_atecc608 *dev, uint8_t *buf, size_t len)
{
    return dev->_internal.i2c.read(dev->_internal.i2c.ctx, dev->_internal.addr7, buf, len);
}

static hk_result send_word(hk_atecc608 *dev, uint8_t word)
{
    return bus_write(dev, &word, 1);
}

static void delay_us(hk_atecc608 *dev, uint32_t us)
{
    dev->_internal.awake_us += us;
    dev->_internal.i2c.delay_us(dev->_internal.i2c.ctx, us);
}

/* The longer of the table's time for the clock mode and the command's. */
static uint32_t exec_ms_of(const hk_atecc608 *dev, const hk_atecc608_cmd *cmd)
{
    uint32_t exec_ms = hk_atecc608_exec_ms(cmd->group[1], dev->_internal.clock_mode);
    return cmd->exec_ms > exec_ms ? cmd->exec_ms : exec_ms;
}

/* CRC and status of an output group whose count byte rsp[0] is 4 or at
 * least 7 and whose bytes are all in rsp: the check shared by the public
 * decoder and the transaction, which knows the count is consistent. */
static hk_result group_check(const uint8_t *rsp, size_t expected_len, uint8_t *status)
{
    size_t len = rsp[0];
    if (hk_atecc608_crc16(rsp, len - 2) != (uint16_t)(rsp[len - 2] | rsp[len - 1] << 8))
        return HK_ERR_SE_CRC;
    if (len == 4) {
        *status = rsp[1];
        if (rsp[1] != HK_ATECC608_STATUS_OK)
            return HK_ERR_SE_STATUS;
    }
    return len == expected_len ? HK_OK : HK_ERR_SE_RESPONSE;
}

/* Accepts, for example, 04 0F 43 C2... as a status group (0x0F), or
 * 07 00 00 60 02 80 38 as a data group (Info revision 00 00 60 02). */
hk_result hk_atecc608_response_decode(const uint8_t *rsp, size_t len, size_t expected_len,
                                      const uint8_t **out_data, size_t *out_data_len,
                                      uint8_t *out_status)
{
    HK_REQUIRE(rsp != NULL || len == 0);
    HK_REQUIRE(out_data != NULL && out_data_len != NULL);
    *out_data = NULL;
    *out_data_len = 0;
    uint8_t status = 0;
    hk_result r = HK_ERR_SE_RESPONSE;
    if (len >= 4 && rsp[0] == len)
        r = group_check(rsp, expected_len, &status);
    if (out_status != NULL)
        *out_status = status;
    if (r == HK_OK && len != 4) {
        *out_data = rsp + 1;
        *out_data_len = len - 3;
    }
    return r;
}

/* Best effort: a chip in an unknown state goes to sleep so that the next
 * wake pulse really wakes it (an awake chip ignores the pulse). */
static void force_sleep(hk_atecc608 *dev)
{
    (void)send_word(dev, WORD_SLEEP);
    dev->_internal.awake = false;
    dev->_internal.rng_fresh = false;
}

/* Pulse, tWHI, read 04 11 33 43. A NACK means the chip is not ready yet (or
 * the bus is noisy): pulse again, which an awake chip ignores, so nothing it
 * holds is lost. Wrong bytes are read once more from the start of the output
 * buffer (noise reads clean the second time); only if they are still wrong
 * (a chip left awake with other output, or one in self-test failure) is the
 * chip put to sleep before the next pulse. The port's read and write only
 * ever return HK_OK, HK_ERR_SE_NO_RESPONSE or HK_ERR_IO (hubkey/i2c.h). */
static hk_result wake(hk_atecc608 *dev)
{
    for (unsigned t = 0; t < dev->policy.wake_tries; t++) {
        dev->stats.wakes++;
        dev->_internal.awake_us = 0;
        hk_result r = dev->_internal.i2c.wake(dev->_internal.i2c.ctx);
        if (r == HK_ERR_IO)
            return r;
        delay_us(dev, dev->policy.wake_delay_us);
        uint8_t rsp[4];
        bool token;
        unsigned reads = 0;
        do {
            r = bus_read(dev, rsp, sizeof rsp);
            token = r == HK_OK && (rsp[0] | rsp[1] << 8 | rsp[2] << 16 | (uint32_t)rsp[3] << 24) ==
                                      0x43331104u; /* 04 11 33 43 */
        } while (r == HK_OK && !token && reads++ == 0 && send_word(dev, WORD_RESET) == HK_OK);
        if (token) {
            dev->_internal.awake = true;
            return HK_OK;
        }
        if (r == HK_ERR_IO)
            return r;
        if (r != HK_OK)
            dev->stats.nacks++;
        else
            force_sleep(dev);
    }
    return HK_ERR_SE_WAKE;
}

static hk_result send_group(hk_atecc608 *dev, const hk_atecc608_cmd *cmd)
{
    uint8_t buf[1 + HK_ATECC608_CMD_MAX];
    buf[0] = WORD_COMMAND;
    memcpy(buf + 1, cmd->group, cmd->len);
    for (unsigned t = 0; t < dev->policy.send_nack_tries; t++) {
        hk_result r = bus_write(dev, buf, (size_t)cmd->len + 1);
        if (r != HK_ERR_SE_NO_RESPONSE)
            return r;
        dev->stats.nacks++;
        delay_us(dev, dev->policy.poll_every_us);
    }
    return HK_ERR_SE_NO_RESPONSE;
}

/* Rewind the output buffer, read the count, then the rest, and check the
 * group. A count that is neither 4 nor the expected size is refused before
 * reading on. */
static hk_result read_group(hk_atecc608 *dev, size_t expected, uint8_t rsp[HK_ATECC608_RSP_MAX],
                            uint8_t *status)
{
    HK_TRY(send_word(dev, WORD_RESET));
    HK_TRY(bus_read(dev, rsp, 1));
    size_t n = rsp[0];
    if (n != 4 && n != expected)
        return HK_ERR_SE_RESPONSE;
    HK_TRY(bus_read(dev, rsp + 1, n - 1));
    hk_result r = group_check(rsp, expected, status);
    if (r == HK_ERR_SE_CRC)
        dev->stats.crc_errors++;
    return r;
}

/* Poll until the chip answers or the time is up; a garbled group is read
 * once more from the same output buffer. */
static hk_result receive(hk_atecc608 *dev, const hk_atecc608_cmd *cmd, uint32_t exec_ms,
                         uint8_t rsp[HK_ATECC608_RSP_MAX], uint8_t *status)
{
    size_t expected = cmd->resp_len;
    uint32_t limit_us = (exec_ms + dev->policy.poll_extra_ms) * 1000u;
    uint32_t waited_us = 0;
    uint32_t wait_us = dev->policy.poll_first_us;
    hk_result r;
    for (;;) {
        delay_us(dev, wait_us);
        waited_us += wait_us;
        r = read_group(dev, expected, rsp, status);
        if (r != HK_ERR_SE_NO_RESPONSE)
            break;
        dev->stats.nacks++;
        if (waited_us >= limit_us)
            return r;
        wait_us = dev->policy.poll_every_us;
    }
    if (r == HK_ERR_SE_CRC || r == HK_ERR_SE_RESPONSE) {
        hk_result again = read_group(dev, expected, rsp, status);
        if (again == HK_OK || again == HK_ERR_SE_STATUS || again == HK_ERR_IO)
            r = again;
    }
    return r;
}

/* One attempt: wake when needed, send, receive. *may_have_run tells the
 * next attempt that this one's group reached the chip and may have run. */
NOINLINE static hk_result send_once(hk_atecc608 *dev, const hk_atecc608_cmd *cmd,
                                    uint32_t exec_ms, uint8_t rsp[HK_ATECC608_RSP_MAX],
                                    uint8_t *status, bool *may_have_run)
{
    if (*may_have_run)
        dev->_internal.reruns++;
    *may_have_run = false;
    hk_result r = HK_OK;
    if (!dev->_internal.awake)
        r = wake(dev);
    if (r != HK_OK)
        return r;
    r = send_group(dev, cmd);
    if (r == HK_OK) {
        r = receive(dev, cmd, exec_ms, rsp, status);
        /* The chip took the group; unless it says it did not run it, it
         * may have. */
        *may_have_run = r == HK_ERR_SE_NO_RESPONSE || r == HK_ERR_SE_CRC ||
                        r == HK_ERR_SE_RESPONSE;
    }
    if (r == HK_ERR_SE_NO_RESPONSE)
        force_sleep(dev);
    return r;
}

hk_result hk_atecc608_execute(hk_atecc608 *dev, const hk_atecc608_cmd *cmd,
                              hk_atecc608_after after, uint8_t *out, size_t cap,
                              size_t *out_len, uint8_t *out_status)
{
    HK_REQUIRE(dev != NULL && cmd != NULL && out_len != NULL);
    HK_REQUIRE(cmd->len >= 7 && cmd->len <= HK_ATECC608_CMD_MAX && cmd->group[0] == cmd->len);
    HK_REQUIRE(cmd->resp_len >= 4 && cmd->resp_len <= HK_ATECC608_RSP_MAX);
    HK_REQUIRE(out != NULL || cap == 0);
    HK_REQUIRE(after == HK_ATECC608_AFTER_IDLE || after == HK_ATECC608_AFTER_SLEEP);
    *out_len = 0;
    if (out_status != NULL)
        *out_status = 0;
    dev->stats.transactions++;

    uint8_t rsp[HK_ATECC608_RSP_MAX];
    uint8_t status = 0;
    hk_result r = HK_ERR_SE_NO_RESPONSE;
    bool may_have_run = false;
    uint32_t exec_ms = exec_ms_of(dev, cmd);
    /* A held chip that would pass the awake budget during this command is
     * idled first (the next attempt wakes it, which restarts the watchdog). */
    if (dev->_internal.awake &&
        dev->_internal.awake_us / 1000u + exec_ms > dev->policy.awake_max_ms) {
        (void)send_word(dev, WORD_IDLE);
        dev->_internal.awake = false;
    }
    for (unsigned attempt = 0; attempt < dev->policy.attempts; attempt++) {
        if (attempt > 0)
            dev->stats.resends++;
        r = send_once(dev, cmd, exec_ms, rsp, &status, &may_have_run);
        if (r == HK_ERR_SE_STATUS) {
            if (status == HK_ATECC608_STATUS_WATCHDOG) {
                (void)send_word(dev, WORD_IDLE);
                dev->_internal.awake = false;
            } else if (status != HK_ATECC608_STATUS_CRC && status != HK_ATECC608_STATUS_WAKE) {
                break;
            }
        } else if (r == HK_OK || r == HK_ERR_IO) {
            break;
        }
        /* Otherwise (no wake, NACKs, CRC, wrong form, a resendable status)
         * the command goes again. */
    }

    if (after == HK_ATECC608_AFTER_SLEEP)
        dev->_internal.rng_fresh = false;
    if (dev->_internal.awake && (dev->_internal.hold == 0 || after == HK_ATECC608_AFTER_SLEEP)) {
        (void)send_word(dev, after == HK_ATECC608_AFTER_SLEEP ? WORD_SLEEP : WORD_IDLE);
        dev->_internal.awake = false;
    }
    if (r == HK_ERR_SE_STATUS && out_status != NULL)
        *out_status = status;
    if (r != HK_OK)
        return r;
    size_t data_len = rsp[0] == 4 ? 0u : rsp[0] - 3u;
    if (data_len > cap)
        return HK_ERR_BUFFER_TOO_SMALL;
    if (data_len > 0)
        memcpy(out, rsp + 1, data_len);
    *out_len = data_len;
    return HK_OK;
}

hk_result hk_atecc608_sleep(hk_atecc608 *dev)
{
    HK_REQUIRE(dev != NULL);
    /* An idle chip only listens after a wake, so wake it first. */
    if (!dev->_internal.awake)
        HK_TRY(wake(dev));
    dev->_internal.awake = false;
    dev->_internal.rng_fresh = false;
    return send_word(dev, WORD_SLEEP);
}

hk_result hk_atecc608_hold(hk_atecc608 *dev)
{
    HK_REQUIRE(dev != NULL && dev->_internal.hold < UINT8_MAX);
    dev->_internal.hold++;
    return HK_OK;
}

hk_result hk_atecc608_release(hk_atecc608 *dev)
{
    HK_REQUIRE(dev != NULL && dev->_internal.hold > 0);
    if (--dev->_internal.hold != 0 || !dev->_internal.awake)
        return HK_OK;
    dev->_internal.awake = false;
    return send_word(dev, WORD_IDLE);
}
