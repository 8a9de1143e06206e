/*
 * The ATECC608A driver over the serial-line port, through the bridge library,
 * to the software chip on a chip file made by hubkey-factory, all in this
 * process (bridge_line.h: two byte queues and an injected clock):
 *  - Info, Random, the certificates, a signature that verifies; the same
 *    certificate bytes as the driver talking to the chip directly; the
 *    model's clock moved exactly by the delays the driver asked for;
 *  - a second boot (chip power-cycled, a new port context whose sequence
 *    numbers start again) opens the same identity;
 *  - raw I2C through the line: the wake response, NACK while the chip is
 *    busy, the response once the driver's wait has passed;
 *  - the line failing under the driver: HK_ERR_IO, bounded, and the next
 *    command works; garbage and late replies are ridden out.
 */
#include "bridge_fixture.h"
#include "bridge_line.h"
#include "emu_atecc608.h"

static bridge_fixture fx;
static int fx_ok;

typedef struct rig {
    hk_emu_atecc608 *emu;
    hk_chip_bridge bridge;
    fake_line l;
    hk_serial_line line;
    hk_serial_i2c port;
    hk_i2c i2c;
    hk_atecc608 dev;
} rig;

static int rig_open(rig *r)
{
    memset(r, 0, sizeof *r);
    if (hk_emu_atecc608_load(fx.chip, NULL, &r->emu) != HK_OK)
        return -1;
    hk_i2c chip = hk_emu_atecc608_i2c(r->emu);
    line_init(&r->l, &r->bridge, &r->line);
    if (hk_chip_bridge_init(&r->bridge, &chip, line_bridge_send, &r->l) != HK_OK ||
        hk_serial_i2c_init(&r->port, &r->line, 200, &r->i2c) != HK_OK ||
        hk_atecc608_init(&r->dev, &r->i2c, HK_ATECC608_ADDR_DEFAULT) != HK_OK)
        return -1;
    return 0;
}

static void rig_close(rig *r)
{
    hk_emu_atecc608_destroy(r->emu);
    r->emu = NULL;
}

static void test_driver_over_the_line(void)
{
    if (!fx_ok)
        return;
    rig r;
    HK_CHECK(rig_open(&r) == 0);
    HK_CHECK_RESULT(hk_serial_i2c_hello(&r.port, NULL), HK_OK);
    uint8_t rev[4];
    HK_CHECK_RESULT(hk_atecc608_info(&r.dev, 0, 0, rev, NULL), HK_OK);
    static const uint8_t want_rev[] = {0x00, 0x00, 0x60, 0x02};
    HK_CHECK_MEM(rev, 4, want_rev, 4);
    uint8_t rnd[32], rnd2[32];
    HK_CHECK_RESULT(hk_atecc608_random(&r.dev, rnd, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_random(&r.dev, rnd2, NULL), HK_OK);
    HK_CHECK(memcmp(rnd, rnd2, 32) != 0);

    hk_se_atecc608 ctx;
    hk_se se;
    hk_atecc608_problem problem = HK_ATECC608_PROBLEM_NONE;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &r.dev, &fx.ddef, &fx.sdef, &se, &problem), HK_OK);
    HK_CHECK_EQ(problem, HK_ATECC608_PROBLEM_NONE);
    uint8_t der[1200];
    size_t der_len = 0;
    fixture_check_se(&fx, &se, der, &der_len);

    /* Nothing went wrong on the line, and the model's clock moved exactly
     * by the delays forwarded to it. */
    HK_CHECK_EQ(r.port.stats.requests, r.port.stats.replies);
    HK_CHECK_EQ(r.port.stats.timeouts + r.port.stats.bad_frames + r.port.stats.garbage_bytes +
                    r.port.stats.stale_replies + r.port.stats.protocol_errors +
                    r.port.stats.delay_failures,
                0);
    HK_CHECK_EQ(r.bridge.stats.frames, r.port.stats.requests);
    HK_CHECK(r.bridge.stats.by_op[5] > 0);
    HK_CHECK_EQ(hk_emu_atecc608_now_us(r.emu), r.bridge.stats.delay_us);
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(r.emu, &c);
    HK_CHECK_EQ(c.signs, 1);
    HK_CHECK_EQ(c.crc_errors, 0);

    /* The same certificate as the driver reading the chip directly. */
    hk_emu_atecc608 *direct = NULL;
    HK_CHECK_RESULT(hk_emu_atecc608_load(fx.chip, NULL, &direct), HK_OK);
    hk_i2c di2c = hk_emu_atecc608_i2c(direct);
    hk_atecc608 ddev;
    HK_CHECK_RESULT(hk_atecc608_init(&ddev, &di2c, HK_ATECC608_ADDR_DEFAULT), HK_OK);
    hk_se_atecc608 dctx;
    hk_se dse;
    HK_CHECK_RESULT(hk_se_atecc608_open(&dctx, &ddev, &fx.ddef, &fx.sdef, &dse, NULL), HK_OK);
    uint8_t der2[1200];
    size_t der2_len = 0;
    HK_CHECK_RESULT(dse.cert(dse.ctx, 0, der2, sizeof der2, &der2_len), HK_OK);
    HK_CHECK_MEM(der, der_len, der2, der2_len);
    hk_emu_atecc608_destroy(direct);

    /* A second boot: the chip loses power, the firmware starts a new port
     * context (its sequence numbers start again), the identity is the same. */
    hk_emu_atecc608_power_cycle(r.emu);
    hk_chip_bridge_reset(&r.bridge);
    HK_CHECK_RESULT(hk_serial_i2c_init(&r.port, &r.line, 200, &r.i2c), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_init(&r.dev, &r.i2c, HK_ATECC608_ADDR_DEFAULT), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &r.dev, &fx.ddef, &fx.sdef, &se, NULL), HK_OK);
    uint8_t der3[1200];
    size_t der3_len = 0;
    fixture_check_se(&fx, &se, der3, &der3_len);
    HK_CHECK_MEM(der3, der3_len, der, der_len);
    rig_close(&r);
}

/* The chip's own answers through the line: wake token, NACK while busy. */
static void test_raw_i2c_nack_while_busy(void)
{
    if (!fx_ok)
        return;
    rig r;
    HK_CHECK(rig_open(&r) == 0);
    uint8_t rsp[8];
    /* Asleep: reads NACK. */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, rsp, 4), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(r.i2c.wake(r.i2c.ctx), HK_OK);
    /* Within tWHI: still NACK; after it, the wake token. */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, rsp, 4), HK_ERR_SE_NO_RESPONSE);
    r.i2c.delay_us(r.i2c.ctx, 1500);
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, rsp, 4), HK_OK);
    static const uint8_t token[] = {0x04, 0x11, 0x33, 0x43};
    HK_CHECK_MEM(rsp, 4, token, 4);
    /* Info, then read at once: the chip is busy. */
    static const uint8_t info[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, info, sizeof info), HK_OK);
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, rsp, 7), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(r.i2c.write(r.i2c.ctx, 0x60, info, sizeof info), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK(r.bridge.stats.nacks >= 3);
    HK_CHECK_EQ(hk_emu_atecc608_power_state_get(r.emu), HK_EMU_ATECC608_BUSY);
    /* The driver's maximum wait for Info, then the answer. */
    r.i2c.delay_us(r.i2c.ctx, (uint32_t)hk_atecc608_exec_ms(HK_ATECC608_OP_INFO, 0) * 1000u);
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x60, rsp, 7), HK_OK);
    HK_CHECK_EQ(rsp[0], 7);
    HK_CHECK_MEM(rsp + 1, 4, ((const uint8_t[]){0x00, 0x00, 0x60, 0x02}), 4);
    /* Another address: NACK. */
    HK_CHECK_RESULT(r.i2c.read(r.i2c.ctx, 0x61, rsp, 1), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_EQ(r.port.stats.timeouts + r.port.stats.protocol_errors, 0);
    rig_close(&r);
}

/* The line failing under the driver: HK_ERR_IO within the reply timeout
 * (injected clock), and the next command works. */
static void test_driver_line_faults(void)
{
    if (!fx_ok)
        return;
    rig r;
    HK_CHECK(rig_open(&r) == 0);
    uint8_t rev[4];
    static const line_mangle lost[] = {MANGLE_DROP, MANGLE_BAD_CRC, MANGLE_TRUNCATE,
                                       MANGLE_WRONG_SEQ};
    for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        r.l.mangle = lost[i];
        r.l.mangle_count = 1;
        r.l.keep = 4;
        uint32_t t0 = r.l.now_ms;
        HK_CHECK_RESULT(hk_atecc608_info(&r.dev, 0, 0, rev, NULL), HK_ERR_IO);
        HK_CHECK((uint32_t)(r.l.now_ms - t0) <= 200u);
        HK_CHECK_RESULT(hk_atecc608_info(&r.dev, 0, 0, rev, NULL), HK_OK);
    }
    HK_CHECK_EQ(r.port.stats.timeouts, 4);
    /* Garbage before replies and late copies of earlier replies: ridden out
     * over a whole signature. */
    r.l.mangle = MANGLE_GARBAGE_BEFORE;
    r.l.mangle_count = 1000000;
    hk_se_atecc608 ctx;
    hk_se se;
    HK_CHECK_RESULT(hk_se_atecc608_open(&ctx, &r.dev, &fx.ddef, &fx.sdef, &se, NULL), HK_OK);
    r.l.mangle = MANGLE_STALE_BEFORE;
    fixture_check_se(&fx, &se, NULL, NULL);
    HK_CHECK(r.port.stats.garbage_bytes > 0);
    HK_CHECK(r.port.stats.stale_replies > 0);
    HK_CHECK_EQ(r.port.stats.timeouts, 4);
    /* A dead line: every call fails at once, the driver gives up. */
    r.l.mangle_count = 0;
    r.l.fail_write = true;
    uint32_t t0 = r.l.now_ms;
    HK_CHECK_RESULT(hk_atecc608_info(&r.dev, 0, 0, rev, NULL), HK_ERR_IO);
    HK_CHECK_EQ(r.l.now_ms, t0);
    rig_close(&r);
}

int main(void)
{
    fx_ok = fixture_make(&fx, "bridge-chip") == 0;
    HK_CHECK(fx_ok);
    HK_RUN(test_driver_over_the_line);
    HK_RUN(test_raw_i2c_nack_while_busy);
    HK_RUN(test_driver_line_faults);
    fixture_free(&fx);
    return hk_test_finish("bridge_chip");
}
