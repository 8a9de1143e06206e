/* Emulator persistence (state file, atomic replace, autosave across
 * restarts), power loss in a multi-block write, fault injection with a fixed
 * seed, counters. */
#define _XOPEN_SOURCE 700 /* mkdtemp, P_tmpdir */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_test_crypto.h"
#include "emu_test_util.h"

static char dir[512];

static void make_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = P_tmpdir;
    snprintf(dir, sizeof dir, "%s/hk-emu-test-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Number of entries in the test directory (to spot leftover temp files). */
static int dir_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void remove_all(void)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char p[1024];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (remove(p) != 0)
            rmdir(p);
    }
    closedir(d);
}

static size_t file_read(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void file_write(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    fwrite(buf, 1, len, f);
    fclose(f);
}

static chip chip_load(const char *path, hk_result *out_r)
{
    chip c = {NULL, {0}};
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    *out_r = hk_emu_atecc608_load(path, &o, &c.emu);
    if (*out_r == HK_OK)
        c.i2c = hk_emu_atecc608_i2c(c.emu);
    return c;
}

static void test_save_load_round_trip(void)
{
    char path[1024];
    path_in_dir(path, sizeof path, "chip.bin");
    chip c = chip_new(30);
    uint8_t pub[64], blk[32], out[4];
    HK_CHECK(chip_provision(&c, pub));
    memset(blk, 0x5C, 32);
    HK_CHECK_EQ(chip_write32(&c, 2, data_addr(8, 4, 0), blk), 0x00);
    HK_CHECK(chip_data(&c, 0x24, 0x01, 1, NULL, 0, out, 4));
    HK_CHECK_RESULT(hk_emu_atecc608_save(c.emu, path), HK_OK);
    uint8_t cfg_before[128];
    hk_emu_atecc608_config_get(c.emu, cfg_before);
    chip_free(&c);

    /* Version-1 layout: magic, version, payload length, 1448 bytes in all. */
    uint8_t raw[2048];
    size_t n = file_read(path, raw, sizeof raw);
    HK_CHECK_EQ(n, 1448);
    HK_CHECK_MEM(raw, 8, "HKEMU608", 8);
    HK_CHECK_MEM(raw + 8, 8, "\x01\x00\x00\x00\x78\x05\x00\x00", 8);
    HK_CHECK_MEM(raw + 16, 128, cfg_before, 128);
    HK_CHECK_EQ(dir_entries(), 1); /* no temporary file left */

    hk_result r;
    chip d = chip_load(path, &r);
    HK_CHECK_RESULT(r, HK_OK);
    if (r != HK_OK)
        return;
    uint8_t cfg_after[128], b[32], pub2[64], digest[32], rs[64];
    hk_emu_atecc608_config_get(d.emu, cfg_after);
    HK_CHECK_MEM(cfg_after, 128, cfg_before, 128);
    HK_CHECK(chip_read32(&d, 2, data_addr(8, 4, 0), b));
    HK_CHECK_MEM(b, 32, blk, 32);
    HK_CHECK(chip_data(&d, 0x24, 0x00, 1, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x01\x00\x00\x00", 4);
    /* The key survived: same public key, signatures verify against it. */
    HK_CHECK(chip_data(&d, 0x40, 0x00, 0, NULL, 0, pub2, 64));
    HK_CHECK_MEM(pub2, 64, pub, 64);
    memset(digest, 0x42, 32);
    HK_CHECK_EQ(chip_status(&d, 0x16, 0x43, 0, digest, 32), 0x00);
    HK_CHECK(chip_data(&d, 0x41, 0xA0, 0, NULL, 0, rs, 64));
    HK_CHECK(test_verify(pub, digest, rs));
    chip_free(&d);
    remove_all();
}

static void test_atomic_replace(void)
{
    char path[1024], stale[1024];
    path_in_dir(path, sizeof path, "chip.bin");
    chip a = chip_new(31), b = chip_new(32);
    uint8_t fa[2048], fb[2048], now[2048];
    HK_CHECK_RESULT(hk_emu_atecc608_save(a.emu, path), HK_OK);
    size_t na = file_read(path, fa, sizeof fa);
    HK_CHECK_RESULT(hk_emu_atecc608_save(b.emu, path), HK_OK);
    size_t nb = file_read(path, fb, sizeof fb);
    HK_CHECK(na == nb && memcmp(fa, fb, na) != 0); /* different serials */
    HK_CHECK_EQ(dir_entries(), 1);
    /* A stale temporary file from a writer that died does not matter. */
    path_in_dir(stale, sizeof stale, "chip.bin.tmp.1");
    file_write(stale, fa, 100);
    hk_result r;
    chip c = chip_load(path, &r);
    HK_CHECK_RESULT(r, HK_OK);
    if (r == HK_OK)
        chip_free(&c);
    remove(stale);
    /* The target cannot be replaced (it is a directory): the save fails,
     * nothing is left behind. */
    char sub[1024];
    path_in_dir(sub, sizeof sub, "adir");
    HK_CHECK_EQ(mkdir(sub, 0700), 0);
    HK_CHECK_RESULT(hk_emu_atecc608_save(a.emu, sub), HK_ERR_FILE);
    HK_CHECK_EQ(dir_entries(), 2);
    /* A directory that does not exist. */
    char missing[1024];
    path_in_dir(missing, sizeof missing, "no/such/chip.bin");
    HK_CHECK_RESULT(hk_emu_atecc608_save(a.emu, missing), HK_ERR_FILE);
    size_t n = file_read(path, now, sizeof now);
    HK_CHECK(n == nb && memcmp(now, fb, nb) == 0);
    chip_free(&a);
    chip_free(&b);
    remove_all();
}

static void test_malformed_files(void)
{
    char path[1024], bad[1024];
    path_in_dir(path, sizeof path, "chip.bin");
    path_in_dir(bad, sizeof bad, "bad.bin");
    chip a = chip_new(33);
    HK_CHECK_RESULT(hk_emu_atecc608_save(a.emu, path), HK_OK);
    chip_free(&a);
    uint8_t good[2048], f[2048];
    size_t n = file_read(path, good, sizeof good);
    hk_result r;
    chip c;

    path_in_dir(bad, sizeof bad, "missing.bin");
    c = chip_load(bad, &r);
    HK_CHECK_RESULT(r, HK_ERR_FILE);
    HK_CHECK(c.emu == NULL);
    path_in_dir(bad, sizeof bad, "bad.bin");

    static const struct {
        const char *what;
        size_t offset; /* byte flipped; SIZE_MAX = resize instead */
        long resize;
        hk_result expect;
    } cases[] = {
        {"magic", 0, 0, HK_ERR_MALFORMED},
        {"version", 8, 0, HK_ERR_UNSUPPORTED},
        {"length", 12, 0, HK_ERR_MALFORMED},
        {"config byte", 16 + 87, 0, HK_ERR_MALFORMED},
        {"data byte", 208 + 500, 0, HK_ERR_MALFORMED},
        {"checksum", 1447, 0, HK_ERR_MALFORMED},
        {"truncated", SIZE_MAX, -1, HK_ERR_MALFORMED},
        {"header only", SIZE_MAX, 16 - 1448, HK_ERR_MALFORMED},
        {"empty", SIZE_MAX, -1448, HK_ERR_MALFORMED},
        {"trailing byte", SIZE_MAX, 1, HK_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(f, good, n);
        size_t len = n;
        if (cases[i].offset == SIZE_MAX) {
            len = (size_t)((long)n + cases[i].resize);
            if (cases[i].resize > 0)
                f[n] = 0;
        } else {
            f[cases[i].offset] ^= 0x01;
        }
        file_write(bad, f, len);
        c = chip_load(bad, &r);
        if (r != cases[i].expect)
            fprintf(stderr, "case %s\n", cases[i].what);
        HK_CHECK_RESULT(r, cases[i].expect);
        HK_CHECK(c.emu == NULL);
        if (c.emu)
            chip_free(&c);
    }
    remove_all();
}

/* A chip file that cannot be saved: the failure is an error the API
 * reports (with the system's reason), not only a counter; the file keeps
 * its old contents. A file without any write permission bit is read-only
 * even for root; a temporary file that cannot be made (here a directory in
 * its place) stands for a directory that cannot be written. A later
 * successful save clears the error. */
static void test_autosave_failure_reported(void)
{
    char path[1024], tmp[1100];
    path_in_dir(path, sizeof path, "ro-chip.bin");
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.seed = 35;
    o.deterministic_rng = true;
    chip c = {NULL, {0}};
    HK_CHECK_RESULT(hk_emu_atecc608_open(path, &o, &c.emu), HK_OK);
    if (c.emu == NULL)
        return;
    c.i2c = hk_emu_atecc608_i2c(c.emu);
    int err = -1;
    HK_CHECK_RESULT(hk_emu_atecc608_autosave_error(c.emu, &err), HK_OK);
    HK_CHECK_EQ(err, 0);
    uint8_t before[HK_EMU_ATECC608_FILE_SIZE + 1], after[HK_EMU_ATECC608_FILE_SIZE + 1];
    size_t n0 = file_read(path, before, sizeof before);
    HK_CHECK_EQ(n0, HK_EMU_ATECC608_FILE_SIZE);

    /* Read-only file: a Write changes the EEPROM, the save fails. */
    HK_CHECK(chmod(path, 0444) == 0);
    uint8_t word[4] = {0x8F, 0x20, 0xC4, 0x8F};
    HK_CHECK_EQ(chip_write4(&c, 0, 5, word), 0x00); /* config word 5 (slot configs) */
    HK_CHECK_RESULT(hk_emu_atecc608_autosave_error(c.emu, &err), HK_ERR_FILE);
    HK_CHECK_EQ(err, EACCES);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.autosave_failures, 1);
    HK_CHECK_EQ(file_read(path, after, sizeof after), n0);
    HK_CHECK_MEM(after, n0, before, n0);
    struct stat sb;
    HK_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0444); /* not replaced */
    /* An explicit save to the same path fails the same way. */
    HK_CHECK_RESULT(hk_emu_atecc608_save(c.emu, path), HK_ERR_FILE);

    /* Writable again: the next change saves and clears the error. */
    HK_CHECK(chmod(path, 0600) == 0);
    word[0] = 0x80;
    HK_CHECK_EQ(chip_write4(&c, 0, 5, word), 0x00);
    HK_CHECK_RESULT(hk_emu_atecc608_autosave_error(c.emu, &err), HK_OK);
    HK_CHECK_EQ(err, 0);

    /* The temporary file cannot be created. */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    HK_CHECK(mkdir(tmp, 0700) == 0);
    word[0] = 0x81;
    HK_CHECK_EQ(chip_write4(&c, 0, 5, word), 0x00);
    HK_CHECK_RESULT(hk_emu_atecc608_autosave_error(c.emu, &err), HK_ERR_FILE);
    HK_CHECK_EQ(err, EISDIR);
    rmdir(tmp);
    chip_free(&c);
    remove_all();
}

static void test_autosave_survives_restart(void)
{
    char path[1024];
    path_in_dir(path, sizeof path, "agent-chip.bin");
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.seed = 34;
    o.deterministic_rng = true;
    chip c = {NULL, {0}};
    HK_CHECK_RESULT(hk_emu_atecc608_open(path, &o, &c.emu), HK_OK);
    if (c.emu == NULL)
        return;
    c.i2c = hk_emu_atecc608_i2c(c.emu);
    uint8_t pub[64], out[4];
    HK_CHECK(chip_provision(&c, pub));
    HK_CHECK(chip_data(&c, 0x24, 0x01, 0, NULL, 0, out, 4));
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.saves, 1 + 3 + 1); /* create, lock, GenKey, lock, counter */
    HK_CHECK_EQ(k.autosave_failures, 0);
    /* The process "exits" without an explicit save. */
    chip_free(&c);

    HK_CHECK_RESULT(hk_emu_atecc608_open(path, &o, &c.emu), HK_OK);
    if (c.emu == NULL)
        return;
    c.i2c = hk_emu_atecc608_i2c(c.emu);
    uint8_t pub2[64], w[4];
    HK_CHECK(chip_read4(&c, 0, (2 << 3) | 5, w));
    HK_CHECK_MEM(w, 4, "\x00\x00\x00\x00", 4);
    HK_CHECK(chip_data(&c, 0x40, 0x00, 0, NULL, 0, pub2, 64));
    HK_CHECK_MEM(pub2, 64, pub, 64);
    HK_CHECK(chip_data(&c, 0x24, 0x00, 0, NULL, 0, out, 4));
    HK_CHECK_MEM(out, 4, "\x01\x00\x00\x00", 4);
    /* Reads do not save. */
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.saves, 0);
    HK_CHECK_RESULT(hk_emu_atecc608_set_autosave(c.emu, NULL), HK_OK);
    HK_CHECK(chip_data(&c, 0x24, 0x01, 0, NULL, 0, out, 4));
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.saves, 0);
    chip_free(&c);
    remove_all();
}

/* Writes the 416 bytes of slot 8 as 13 block writes, stopping at the first
 * failure (no response: the power went). Returns the blocks acknowledged. */
static int write_slot8(chip *c, uint8_t value)
{
    uint8_t blk[32];
    memset(blk, value, 32);
    for (unsigned b = 0; b < 13; b++)
        if (chip_write32(c, 2, data_addr(8, b, 0), blk) != 0x00)
            return (int)b;
    return 13;
}

static void test_power_loss_every_byte(void)
{
    chip c = chip_new(35);
    HK_CHECK(chip_provision(&c, NULL));
    uint8_t slot[416];
    int bad_offsets = 0;
    for (uint32_t k = 0; k <= 416; k += (k < 40 || k > 380) ? 1 : 7) {
        HK_CHECK_EQ(write_slot8(&c, 0x11), 13); /* the old contents */
        hk_emu_atecc608_faults f;
        memset(&f, 0, sizeof f);
        f.power_loss_by_bytes = true;
        f.power_loss_after_bytes = k;
        hk_emu_atecc608_faults_set(c.emu, &f);
        int acked = write_slot8(&c, 0x22);
        if (k < 416) {
            HK_CHECK_EQ(acked, (int)(k / 32));
            /* Unpowered: nothing answers, not even a wake. */
            HK_CHECK_EQ(hk_emu_atecc608_power_state_get(c.emu), HK_EMU_ATECC608_OFF);
            HK_CHECK(!chip_wake(&c));
            hk_emu_atecc608_power_cycle(c.emu);
        } else {
            HK_CHECK_EQ(acked, 13);
        }
        hk_emu_atecc608_faults_clear(c.emu);
        HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 8, 0, slot, 416), HK_OK);
        for (uint32_t i = 0; i < 416; i++)
            if (slot[i] != (i < k ? 0x22 : 0x11))
                bad_offsets++;
    }
    HK_CHECK_EQ(bad_offsets, 0);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK(k.power_losses > 50);

    /* At a given write: the 3rd Write stores 10 of its 32 bytes. */
    HK_CHECK_EQ(write_slot8(&c, 0x11), 13);
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.power_loss_at_write = 3;
    f.power_loss_keep_bytes = 10;
    hk_emu_atecc608_faults_set(c.emu, &f);
    HK_CHECK_EQ(write_slot8(&c, 0x33), 2);
    hk_emu_atecc608_power_cycle(c.emu);
    HK_CHECK_RESULT(hk_emu_atecc608_slot_peek(c.emu, 8, 0, slot, 416), HK_OK);
    for (uint32_t i = 0; i < 416; i++)
        if (slot[i] != (i < 74 ? 0x33 : 0x11))
            bad_offsets++;
    HK_CHECK_EQ(bad_offsets, 0);
    /* The volatile state went with the power. */
    uint8_t st[4];
    HK_CHECK(chip_data(&c, 0x30, 0x02, 0, NULL, 0, st, 4));
    HK_CHECK_EQ(st[0], 0);
    chip_free(&c);
}

static void test_power_loss_persists(void)
{
    /* With autosave the torn write is what the next process finds. */
    char path[1024];
    path_in_dir(path, sizeof path, "torn.bin");
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    chip c = {NULL, {0}};
    HK_CHECK_RESULT(hk_emu_atecc608_open(path, &o, &c.emu), HK_OK);
    if (c.emu == NULL)
        return;
    c.i2c = hk_emu_atecc608_i2c(c.emu);
    HK_CHECK(chip_provision(&c, NULL));
    HK_CHECK_EQ(write_slot8(&c, 0x11), 13);
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.power_loss_by_bytes = true;
    f.power_loss_after_bytes = 100;
    hk_emu_atecc608_faults_set(c.emu, &f);
    HK_CHECK_EQ(write_slot8(&c, 0x22), 3);
    chip_free(&c);
    hk_result r;
    chip d = chip_load(path, &r);
    HK_CHECK_RESULT(r, HK_OK);
    if (r != HK_OK)
        return;
    uint8_t b[32];
    HK_CHECK(chip_read32(&d, 2, data_addr(8, 3, 0), b));
    HK_CHECK_EQ(b[3], 0x22);
    HK_CHECK_EQ(b[4], 0x11);
    chip_free(&d);
    remove_all();
}

/* Sends Info and reads the whole 7-byte reply in one transfer after the busy
 * time. 0 = good reply, 1 = CRC broken, 2 = NACK. */
static int info_once(chip *c)
{
    uint8_t g[8], r[7];
    size_t len = group_build(g, 0x30, 0, 0, NULL, 0);
    if (chip_send_raw(c, g, len) != HK_OK)
        return 3;
    c->i2c.delay_us(c->i2c.ctx, 5000);
    if (c->i2c.read(c->i2c.ctx, ADDR, r, 7) != HK_OK)
        return 2;
    return memcmp(r, "\x07\x00\x00\x60\x02\x80\x38", 7) == 0 ? 0 : 1;
}

static void fault_run(uint64_t seed, uint32_t corrupt, uint32_t drop, int out[3],
                      hk_emu_atecc608_counters *out_k)
{
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.deterministic_rng = true;
    chip c = chip_new_opts(&o);
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.seed = seed;
    f.corrupt_ppm = corrupt;
    f.drop_ppm = drop;
    hk_emu_atecc608_faults_set(c.emu, &f);
    out[0] = out[1] = out[2] = 0;
    for (int i = 0; i < 2000; i++) {
        if (i % 100 == 0) {
            /* A fresh watchdog period; the wake response is not read so
             * that every corruption draw lands on an Info reply. */
            chip_word(&c, 0x02);
            hk_result_ignore(c.i2c.wake(c.i2c.ctx));
            c.i2c.delay_us(c.i2c.ctx, HK_EMU_ATECC608_TWHI_US);
        }
        int v = info_once(&c);
        if (v <= 2)
            out[v]++;
    }
    hk_emu_atecc608_counters_get(c.emu, out_k);
    chip_free(&c);
}

static void test_fault_statistics(void)
{
    int a[3], b[3];
    hk_emu_atecc608_counters ka, kb;
    /* 5 % corrupted, 3 % dropped, over 2000 commands. */
    fault_run(77, 50000, 30000, a, &ka);
    HK_CHECK_EQ(a[0] + a[1] + a[2], 2000);
    HK_CHECK_EQ(a[1], (int)ka.faults_corrupted);
    HK_CHECK_EQ(a[2], (int)ka.faults_dropped);
    HK_CHECK(a[1] > 60 && a[1] < 140);
    HK_CHECK(a[2] > 30 && a[2] < 90);
    /* The same seed repeats exactly; another seed does not. */
    fault_run(77, 50000, 30000, b, &kb);
    HK_CHECK_MEM(a, sizeof a, b, sizeof b);
    fault_run(78, 50000, 30000, b, &kb);
    HK_CHECK(memcmp(a, b, sizeof a) != 0);
    /* No faults configured: every reply is good. */
    fault_run(77, 0, 0, b, &kb);
    HK_CHECK_EQ(b[0], 2000);
}

static void test_nack_burst_and_counters(void)
{
    chip c = chip_new(36);
    uint8_t r[4];
    HK_CHECK(chip_wake(&c));
    hk_emu_atecc608_faults f;
    memset(&f, 0, sizeof f);
    f.nack_reads = 5;
    hk_emu_atecc608_faults_set(c.emu, &f);
    for (int i = 0; i < 5; i++)
        HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, r, 4), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(chip_word(&c, 0x00), HK_OK);
    HK_CHECK_RESULT(c.i2c.read(c.i2c.ctx, ADDR, r, 4), HK_OK);
    HK_CHECK_MEM(r, 4, "\x04\x11\x33\x43", 4);
    hk_emu_atecc608_counters k;
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.faults_nacked, 5);
    HK_CHECK_EQ(k.nacks, 5);
    HK_CHECK_EQ(k.wakes, 1);
    /* Operation counters for a provisioning-like sequence, then reset. */
    uint8_t digest[32] = {1}, rs[64];
    HK_CHECK_RESULT(chip_word(&c, 0x02), HK_OK);
    HK_CHECK(chip_provision(&c, NULL));
    hk_emu_atecc608_counters_reset(c.emu);
    for (int i = 0; i < 3; i++) {
        HK_CHECK_EQ(chip_status(&c, 0x16, 0x43, 0, digest, 32), 0x00);
        HK_CHECK(chip_data(&c, 0x41, 0xA0, 0, NULL, 0, rs, 64));
    }
    HK_CHECK(chip_read32(&c, 2, data_addr(8, 0, 0), rs));
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.signs, 3);
    HK_CHECK_EQ(k.nonces, 3);
    HK_CHECK_EQ(k.slot_reads[8], 1);
    HK_CHECK_EQ(k.commands, 7);
    HK_CHECK_EQ(k.by_opcode[0x41], 3);
    HK_CHECK_EQ(k.wakes, 7);
    HK_CHECK_EQ(k.idles, 7);
    hk_emu_atecc608_counters_reset(c.emu);
    hk_emu_atecc608_counters_get(c.emu, &k);
    HK_CHECK_EQ(k.signs + k.commands + k.wakes, 0);
    chip_free(&c);
}

int main(void)
{
    make_dir();
    HK_RUN(test_save_load_round_trip);
    HK_RUN(test_atomic_replace);
    HK_RUN(test_malformed_files);
    HK_RUN(test_autosave_survives_restart);
    HK_RUN(test_autosave_failure_reported);
    HK_RUN(test_power_loss_every_byte);
    HK_RUN(test_power_loss_persists);
    HK_RUN(test_fault_statistics);
    HK_RUN(test_nack_burst_and_counters);
    remove_all();
    rmdir(dir);
    return hk_test_finish("emu_persist_faults");
}
