/*
 * The driver's side of the chip pipe (hkb_chip.h).
 */
#define _GNU_SOURCE
#include "hkb_chip.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A broken pipe is a bus error to the driver. */
static hk_result get_result(hkb_chip *c)
{
    uint8_t b[4];
    if (hkb_read_all(c->from_fd, b, 4) != 0)
        return HK_ERR_IO;
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                 (uint32_t)b[3] << 24;
    return (hk_result)(int32_t)v;
}

static hk_result c_write(void *ctx, uint8_t addr7, const uint8_t *buf, size_t len)
{
    hkb_chip *c = ctx;
    if (len > HKB_CHIP_MAX_TRANSFER)
        return HK_ERR_IO;
    uint8_t req[4 + HKB_CHIP_MAX_TRANSFER];
    req[0] = 'W';
    req[1] = addr7;
    req[2] = (uint8_t)len;
    req[3] = (uint8_t)(len >> 8);
    memcpy(req + 4, buf, len);
    c->transfers++;
    if (hkb_write_all(c->to_fd, req, 4 + len) != 0)
        return HK_ERR_IO;
    return get_result(c);
}

static hk_result c_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    hkb_chip *c = ctx;
    if (len > HKB_CHIP_MAX_TRANSFER)
        return HK_ERR_IO;
    uint8_t req[4] = {'R', addr7, (uint8_t)len, (uint8_t)(len >> 8)};
    c->transfers++;
    if (hkb_write_all(c->to_fd, req, 4) != 0)
        return HK_ERR_IO;
    hk_result r = get_result(c);
    if (r == HK_OK && hkb_read_all(c->from_fd, buf, len) != 0)
        return HK_ERR_IO;
    return r;
}

static hk_result c_wake(void *ctx)
{
    hkb_chip *c = ctx;
    c->transfers++;
    if (hkb_write_all(c->to_fd, "K", 1) != 0)
        return HK_ERR_IO;
    return get_result(c);
}

static void c_delay(void *ctx, uint32_t us)
{
    hkb_chip *c = ctx;
    uint8_t req[5] = {'D', (uint8_t)us, (uint8_t)(us >> 8), (uint8_t)(us >> 16),
                      (uint8_t)(us >> 24)};
    c->transfers++;
    if (hkb_write_all(c->to_fd, req, 5) == 0)
        (void)get_result(c);
}

int hkb_chip_spawn(hkb_chip *chip, const char *server_path, const char *chip_file)
{
    memset(chip, 0, sizeof *chip);
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(from, O_CLOEXEC) != 0) {
        close(to[0]);
        close(to[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        return -1;
    }
    if (pid == 0) {
        if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
            _exit(127);
        execl(server_path, server_path, chip_file, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    chip->pid = pid;
    chip->to_fd = to[1];
    chip->from_fd = from[0];
    return 0;
}

hk_i2c hkb_chip_i2c(hkb_chip *chip)
{
    return (hk_i2c){.ctx = chip, .write = c_write, .read = c_read, .wake = c_wake,
                    .delay_us = c_delay};
}

int hkb_chip_counters(hkb_chip *chip, char *out, size_t cap)
{
    uint8_t l[2];
    if (cap == 0 || hkb_write_all(chip->to_fd, "C", 1) != 0 || hkb_read_all(chip->from_fd, l, 2) != 0)
        return -1;
    size_t n = (size_t)l[0] | (size_t)l[1] << 8;
    if (n >= cap)
        return -1;
    if (hkb_read_all(chip->from_fd, out, n) != 0)
        return -1;
    out[n] = '\0';
    return 0;
}

int hkb_chip_counters_reset(hkb_chip *chip)
{
    if (hkb_write_all(chip->to_fd, "Z", 1) != 0)
        return -1;
    return get_result(chip) == HK_OK ? 0 : -1;
}

void hkb_chip_close(hkb_chip *chip)
{
    if (chip->pid <= 0)
        return;
    close(chip->to_fd);
    close(chip->from_fd);
    int st;
    while (waitpid(chip->pid, &st, 0) < 0 && errno == EINTR) {
    }
    chip->pid = 0;
}
