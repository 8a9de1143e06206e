/*
 * Test helpers for hubkey-factory (header only): run the tool (or another
 * program) as a child process and capture what it prints, temporary
 * directories, and chips prepared directly through the emulator and driver
 * for the states the tool must recognise.
 */
#ifndef HK_FACTORY_RUN_H
#define HK_FACTORY_RUN_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu_atecc608.h"
#include "hubkey/atecc608.h"

/* Output of the last run (stdout and stderr together, NUL-terminated). */
static char *fr_out;

/* Runs argv (NULL-terminated, argv[0] = program path); returns the exit
 * code, -1 when it did not exit normally. */
static inline int fr_runv(char *const argv[])
{
    free(fr_out);
    fr_out = NULL;
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(126);
    }
    close(p[1]);
    size_t cap = 8192, n = 0;
    fr_out = malloc(cap);
    for (;;) {
        if (n + 4096 > cap) {
            cap *= 2;
            fr_out = realloc(fr_out, cap);
        }
        ssize_t r = read(p[0], fr_out + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    fr_out[n] = '\0';
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (getenv("HK_FACTORY_TEST_VERBOSE"))
        fprintf(stderr, "--- %s %s -> %d\n%s", argv[0], argv[1] ? argv[1] : "",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1, fr_out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fr_run(prog, arg, ..., NULL) */
static inline int fr_run(const char *prog, ...)
{
    char *argv[40];
    int k = 0;
    argv[k++] = (char *)prog;
    va_list ap;
    va_start(ap, prog);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && k < 39)
        argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    return fr_runv(argv);
}

static inline int fr_has(const char *needle)
{
    return fr_out != NULL && strstr(fr_out, needle) != NULL;
}

static inline void fr_mkdtemp(char *out, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/hk-factory-%s-XXXXXX", t && t[0] ? t : P_tmpdir, tag);
    if (!mkdtemp(out))
        out[0] = '\0';
    chmod(out, 0755);
}

static inline void fr_rmrf(const char *dir)
{
    if (!dir[0] || getenv("HK_FACTORY_TEST_KEEP"))
        return;
    char *argv[] = {(char *)"/bin/rm", (char *)"-rf", (char *)dir, NULL};
    char *saved = fr_out;
    fr_out = NULL;
    fr_runv(argv);
    free(fr_out);
    fr_out = saved;
}

/* A chip prepared in memory, then saved to path. */
typedef struct fr_chip {
    hk_emu_atecc608 *emu;
    hk_atecc608 dev;
} fr_chip;

static inline int fr_chip_new(fr_chip *c, uint64_t seed)
{
    hk_emu_atecc608_options o;
    hk_emu_atecc608_options_init(&o);
    o.seed = seed;
    o.deterministic_rng = true;
    if (hk_emu_atecc608_create(&o, &c->emu) != HK_OK)
        return -1;
    hk_i2c i2c = hk_emu_atecc608_i2c(c->emu);
    return hk_atecc608_init(&c->dev, &i2c, HK_ATECC608_ADDR_DEFAULT) == HK_OK ? 0 : -1;
}

static inline int fr_chip_load(fr_chip *c, const char *path)
{
    if (hk_emu_atecc608_load(path, NULL, &c->emu) != HK_OK)
        return -1;
    hk_i2c i2c = hk_emu_atecc608_i2c(c->emu);
    return hk_atecc608_init(&c->dev, &i2c, HK_ATECC608_ADDR_DEFAULT) == HK_OK ? 0 : -1;
}

static inline void fr_chip_free(fr_chip *c)
{
    hk_emu_atecc608_destroy(c->emu);
    c->emu = NULL;
}

/* Writes bytes 16..127 of cfg the way the chip allows (4-byte writes in
 * blocks 0 and 2, skipping 84..87; 32-byte writes for blocks 1 and 3). */
static inline int fr_write_config(fr_chip *c, const uint8_t cfg[128])
{
    for (uint16_t at = 16; at < 128;) {
        uint16_t p2;
        size_t len = (at == 32 || at == 96) ? 32 : 4;
        if (hk_atecc608_addr(HK_ATECC608_ZONE_CONFIG, 0, at, &p2) != HK_OK)
            return -1;
        if (at != 84 &&
            hk_atecc608_write(&c->dev, HK_ATECC608_ZONE_CONFIG, p2, cfg + at, len, NULL) != HK_OK)
            return -1;
        at = (uint16_t)(at + len);
    }
    return 0;
}

/* Sets SlotConfig/KeyConfig of one slot in a config image. */
static inline void fr_set_slot(uint8_t cfg[128], unsigned slot, uint16_t slot_config,
                               uint16_t key_config)
{
    cfg[20 + 2 * slot] = (uint8_t)slot_config;
    cfg[21 + 2 * slot] = (uint8_t)(slot_config >> 8);
    cfg[96 + 2 * slot] = (uint8_t)key_config;
    cfg[97 + 2 * slot] = (uint8_t)(key_config >> 8);
}

#endif /* HK_FACTORY_RUN_H */
