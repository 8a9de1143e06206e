/* The driver against the software chip with faults injected: corrupted and
 * dropped responses (1 % each), NACK bursts, and power lost in the middle of
 * a multi-block write. The driver must still succeed where the chip did its
 * work (retries), report an error where it could not, and never return
 * wrong data. */
#include "emu_util.h"

static emu_rig rig;
static hk_atecc608 *dev;
static uint8_t pub[64];

static void open_faulty(uint64_t seed, uint32_t corrupt_ppm, uint32_t drop_ppm)
{
    HK_CHECK_RESULT(rig_open(&rig, seed), HK_OK);
    dev = &rig.dev;
    HK_CHECK_RESULT(rig_provision(&rig, pub), HK_OK);
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.seed = seed;
    f.corrupt_ppm = corrupt_ppm;
    f.drop_ppm = drop_ppm;
    hk_emu_atecc608_faults_set(rig.emu, &f);
    hk_emu_atecc608_counters_reset(rig.emu);
}

/* A mixed workload; every result is checked against an independent answer. */
static int workload(int rounds)
{
    int failures = 0;
    uint8_t img[416], back[416];
    for (int i = 0; i < rounds; i++) {
        uint8_t digest[32], rs[64];
        uint8_t seed_msg[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0x5A, 0xA5};
        sha256(seed_msg, sizeof seed_msg, digest);
        if (hk_atecc608_sign_digest(dev, 0, digest, rs, NULL) != HK_OK ||
            !mbed_verify(pub, digest, rs)) {
            failures++;
            fprintf(stderr, "round %d: sign failed\n", i);
        }
        if (hk_atecc608_verify_digest(dev, digest, rs, pub, NULL) != HK_OK) {
            failures++;
            fprintf(stderr, "round %d: verify failed\n", i);
        }
        for (int k = 0; k < 416; k++)
            img[k] = (uint8_t)(k * 7 + i);
        size_t off = (size_t)(i * 37) % 300, len = 1 + (size_t)(i * 53) % 116;
        if (hk_atecc608_write_slot(dev, 8, off, img + off, len, NULL) != HK_OK ||
            hk_atecc608_read_slot(dev, 8, off, back, len, NULL) != HK_OK ||
            memcmp(back, img + off, len) != 0) {
            failures++;
            fprintf(stderr, "round %d: slot 8 write/read failed\n", i);
        }
        uint8_t msg[150], want[32], got[32];
        for (int k = 0; k < 150; k++)
            msg[k] = (uint8_t)(k ^ i);
        size_t mlen = (size_t)(i * 11) % 150;
        sha256(msg, mlen, want);
        if (hk_atecc608_sha256(dev, msg, mlen, got, NULL) != HK_OK || memcmp(got, want, 32) != 0) {
            failures++;
            fprintf(stderr, "round %d: sha failed\n", i);
        }
        uint8_t rnd[32];
        if (hk_atecc608_random(dev, rnd, NULL) != HK_OK) {
            failures++;
            fprintf(stderr, "round %d: random failed\n", i);
        }
    }
    return failures;
}

static void test_corrupted_and_dropped(void)
{
    open_faulty(101, 10000, 10000);
    HK_CHECK_EQ(workload(150), 0);
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(rig.emu, &c);
    /* The faults really happened, and the driver saw them. */
    HK_CHECK(c.faults_corrupted >= 10);
    HK_CHECK(c.faults_dropped >= 10);
    HK_CHECK(dev->stats.crc_errors >= 10);
    HK_CHECK(dev->stats.resends >= 10);
    printf("faults: %llu commands, %llu corrupted, %llu dropped; driver: %u crc errors, %u resends\n",
           (unsigned long long)c.commands, (unsigned long long)c.faults_corrupted,
           (unsigned long long)c.faults_dropped, (unsigned)dev->stats.crc_errors,
           (unsigned)dev->stats.resends);
    rig_close(&rig);
}

static void test_corrupted_only_never_reruns(void)
{
    /* Corruption on the bus alone is cured by reading the output buffer
     * again: no command runs twice, so every signature is one Sign. */
    open_faulty(202, 20000, 0);
    uint8_t digest[32], rs[64];
    sha256((const uint8_t *)"x", 1, digest);
    for (int i = 0; i < 60; i++)
        HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(rig.emu, &c);
    HK_CHECK_EQ(c.signs, 60);
    HK_CHECK(c.faults_corrupted > 0);
    HK_CHECK_EQ(dev->stats.resends, 0);
    rig_close(&rig);
}

static void test_nack_bursts(void)
{
    open_faulty(303, 0, 0);
    for (uint32_t burst = 1; burst <= 40; burst += 3) {
        hk_emu_atecc608_faults f;
        memset(&f, 0, sizeof f);
        f.seed = burst;
        f.nack_reads = burst;
        hk_emu_atecc608_faults_set(rig.emu, &f);
        uint8_t rev[4];
        HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
        HK_CHECK_MEM(rev, 4, "\x00\x00\x60\x02", 4);
        hk_emu_atecc608_faults_set(rig.emu, &f);
        uint8_t digest[32] = {1}, rs[64];
        HK_CHECK_RESULT(hk_atecc608_sign_digest(dev, 0, digest, rs, NULL), HK_OK);
        HK_CHECK(mbed_verify(pub, digest, rs));
    }
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(rig.emu, &c);
    HK_CHECK(c.faults_nacked > 100);
    /* A burst longer than the driver will wait: an error, not a hang. */
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.nack_reads = 100000;
    hk_emu_atecc608_faults_set(rig.emu, &f);
    uint8_t rev[4];
    hk_result r = hk_atecc608_info(dev, 0, 0, rev, NULL);
    HK_CHECK(r == HK_ERR_SE_WAKE || r == HK_ERR_SE_NO_RESPONSE);
    hk_emu_atecc608_faults_clear(rig.emu);
    HK_CHECK_RESULT(hk_atecc608_info(dev, 0, 0, rev, NULL), HK_OK);
    rig_close(&rig);
}

static void test_power_loss_mid_write(void)
{
    /* Power fails during the k-th block Write of a 13-block slot-8 write,
     * after `keep` bytes of that block: blocks before it hold the new bytes,
     * that block the first `keep` new bytes, the rest the old ones. The
     * driver reports an error, and after power returns reads back exactly
     * that mix. */
    uint8_t old_img[416], new_img[416], want[416], back[416];
    for (int i = 0; i < 416; i++) {
        old_img[i] = (uint8_t)(0x30 + i % 17);
        new_img[i] = (uint8_t)(0xC0 ^ i);
    }
    const uint32_t keeps[] = {0, 1, 16, 31};
    for (uint32_t k = 1; k <= 13; k += 3) {
        for (size_t ki = 0; ki < sizeof keeps / sizeof keeps[0]; ki++) {
            open_faulty(400 + k, 0, 0);
            HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 0, old_img, 416, NULL), HK_OK);
            hk_emu_atecc608_faults f;
            memset(&f, 0, sizeof f);
            f.power_loss_at_write = k;
            f.power_loss_keep_bytes = keeps[ki];
            hk_emu_atecc608_faults_set(rig.emu, &f);
            hk_result r = hk_atecc608_write_slot(dev, 8, 0, new_img, 416, NULL);
            HK_CHECK(r == HK_ERR_SE_WAKE || r == HK_ERR_SE_NO_RESPONSE);
            HK_CHECK_EQ(hk_emu_atecc608_power_state_get(rig.emu), HK_EMU_ATECC608_OFF);
            hk_emu_atecc608_power_cycle(rig.emu);
            hk_emu_atecc608_faults_clear(rig.emu);
            size_t cut = (k - 1) * 32 + keeps[ki];
            memcpy(want, new_img, cut);
            memcpy(want + cut, old_img + cut, 416 - cut);
            HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 0, back, 416, NULL), HK_OK);
            HK_CHECK_MEM(back, 416, want, 416);
            /* The chip works again and the write can be completed. */
            HK_CHECK_RESULT(hk_atecc608_write_slot(dev, 8, 0, new_img, 416, NULL), HK_OK);
            HK_CHECK_RESULT(hk_atecc608_read_slot(dev, 8, 0, back, 416, NULL), HK_OK);
            HK_CHECK_MEM(back, 416, new_img, 416);
            rig_close(&rig);
        }
    }
}

int main(void)
{
    HK_RUN(test_corrupted_and_dropped);
    HK_RUN(test_corrupted_only_never_reruns);
    HK_RUN(test_nack_bursts);
    HK_RUN(test_power_loss_mid_write);
    return hk_test_finish("atecc608_faults");
}
