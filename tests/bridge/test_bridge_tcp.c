/*
 * hubkey-chip-bridge as a real process on loopback (random port), with a
 * client that speaks the framing through the device port over a TCP socket
 * (a host hk_serial_line, as a board would give over its UART):
 *  - the command line: help, usage errors, missing and broken chip files;
 *  - the driver opens the identity and signs through the bridge; the client
 *    disconnects and a second connection (a second boot) works on the same
 *    bridge; a client that connects meanwhile waits its turn; the output has
 *    one line per connection and, with -v, one per command, without data;
 *    SIGTERM saves the chip and exits 0;
 *  - the bridge killed in the middle of a command: the client gets
 *    HK_ERR_IO at once (no timeout, no hang), and a new bridge on the same
 *    chip file serves the same identity;
 *  - a failed save is reported on standard error and by the exit code;
 *  - --create makes a factory-new chip, --once exits after one connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "bridge_fixture.h"
#include "emu_atecc608.h"
#include "hk_serial_i2c.h"
#include "hubkey/version.h"

static bridge_fixture fx;
static int fx_ok;

/* ---- the bridge process ---------------------------------------------------- */

typedef struct bridge_proc {
    pid_t pid;
    int out; /* its stdout and stderr */
    char text[65536];
    size_t len;
    unsigned port;
} bridge_proc;

static uint32_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Reads what the bridge printed until needle appears or wait_ms passes. */
static int proc_wait_for(bridge_proc *b, const char *needle, uint32_t wait_ms)
{
    uint32_t t0 = mono_ms();
    for (;;) {
        b->text[b->len] = '\0';
        if (strstr(b->text, needle) != NULL)
            return 1;
        uint32_t spent = mono_ms() - t0;
        if (spent >= wait_ms)
            return 0;
        struct pollfd pf = {b->out, POLLIN, 0};
        if (poll(&pf, 1, (int)(wait_ms - spent)) <= 0)
            continue;
        ssize_t n = read(b->out, b->text + b->len, sizeof b->text - 1 - b->len);
        if (n <= 0)
            return strstr(b->text, needle) != NULL;
        b->len += (size_t)n;
    }
}

/* Starts the bridge with --chip chip and the extra arguments (NULL-ended,
 * may be NULL) and reads the port from its first line. */
static int proc_start_args(bridge_proc *b, const char *chip, const char *const *extra)
{
    memset(b, 0, sizeof *b);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    b->pid = fork();
    if (b->pid < 0)
        return -1;
    if (b->pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        const char *argv[16] = {HK_BRIDGE_BIN, "--chip", chip};
        for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 12; i++)
            argv[3 + i] = extra[i];
        execv(HK_BRIDGE_BIN, (char *const *)argv);
        _exit(126);
    }
    close(p[1]);
    b->out = p[0];
    if (!proc_wait_for(b, "\n", 30000))
        return -1;
    /* First line: "listening on 127.0.0.1:PORT" */
    static const char first[] = "listening on 127.0.0.1:";
    if (strncmp(b->text, first, sizeof first - 1) != 0)
        return -1;
    char *end = NULL;
    unsigned long port = strtoul(b->text + sizeof first - 1, &end, 10);
    if (end == NULL || *end != '\n' || port == 0 || port > 65535)
        return -1;
    b->port = (unsigned)port;
    return 0;
}

static int proc_start(bridge_proc *b, const char *chip, const char *port_file)
{
    const char *const verbose[] = {"--listen", "127.0.0.1:0", "-v", "--port-file", port_file, NULL};
    return proc_start_args(b, chip, port_file != NULL ? verbose : NULL);
}

/* Waits (30 s at most) for the bridge to exit by itself; its exit code,
 * -1 if it did not. */
static int proc_wait_exit(bridge_proc *b)
{
    int st = 0;
    uint32_t t0 = mono_ms();
    pid_t w;
    while ((w = waitpid(b->pid, &st, WNOHANG)) == 0 && mono_ms() - t0 < 30000u) {
        struct pollfd pf = {b->out, POLLIN, 0};
        if (poll(&pf, 1, 50) > 0) {
            ssize_t n = read(b->out, b->text + b->len, sizeof b->text - 1 - b->len);
            if (n > 0)
                b->len += (size_t)n;
        }
    }
    if (w == 0)
        return -1;
    ssize_t n;
    while ((n = read(b->out, b->text + b->len, sizeof b->text - 1 - b->len)) > 0)
        b->len += (size_t)n;
    b->text[b->len] = '\0';
    close(b->out);
    b->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Signals the bridge and returns its exit code (-1: did not exit by itself
 * within 30 s, or killed by a signal). */
static int proc_stop(bridge_proc *b, int sig)
{
    if (b->pid <= 0)
        return -1;
    kill(b->pid, sig);
    int rc = proc_wait_exit(b);
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        int st;
        waitpid(b->pid, &st, 0);
        close(b->out);
        b->pid = 0;
    }
    return rc;
}

/* ---- a host serial line over a TCP socket --------------------------------- */

typedef struct tcp_line {
    int fd;
    /* Called when a read finds nothing (the test kills the bridge there). */
    void (*on_empty)(struct tcp_line *l);
    void *hook_ctx;
    unsigned empty_reads;
} tcp_line;

static hk_result tl_write(void *ctx, const uint8_t *buf, size_t len)
{
    tcp_line *l = ctx;
    while (len > 0) {
        ssize_t w = send(l->fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return HK_ERR_IO;
        buf += w;
        len -= (size_t)w;
    }
    return HK_OK;
}

/* Non-blocking as the contract says; when nothing has arrived it first
 * lets the CPU go for at most a millisecond (poll), so the port's polling
 * loop does not spin against the bridge on a shared machine. */
static hk_result tl_read(void *ctx, uint8_t *buf, size_t cap, size_t *out_len)
{
    tcp_line *l = ctx;
    *out_len = 0;
    ssize_t n = recv(l->fd, buf, cap, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        l->empty_reads++;
        if (l->on_empty)
            l->on_empty(l);
        struct pollfd pf = {l->fd, POLLIN, 0};
        poll(&pf, 1, 1);
        return HK_OK;
    }
    if (n <= 0)
        return n == 0 ? HK_ERR_CLOSED : HK_ERR_IO;
    *out_len = (size_t)n;
    return HK_OK;
}

static uint32_t tl_now(void *ctx)
{
    (void)ctx;
    return mono_ms();
}

static int tcp_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

typedef struct client {
    tcp_line tl;
    hk_serial_line line;
    hk_serial_i2c port;
    hk_i2c i2c;
    hk_atecc608 dev;
    hk_se_atecc608 ctx;
    hk_se se;
} client;

static int client_open(client *c, unsigned port, uint32_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->tl.fd = tcp_connect(port);
    if (c->tl.fd < 0)
        return -1;
    c->line.ctx = &c->tl;
    c->line.write = tl_write;
    c->line.read = tl_read;
    c->line.now_ms = tl_now;
    if (hk_serial_i2c_init(&c->port, &c->line, timeout_ms, &c->i2c) != HK_OK ||
        hk_atecc608_init(&c->dev, &c->i2c, HK_ATECC608_ADDR_DEFAULT) != HK_OK)
        return -1;
    return 0;
}

static void client_close(client *c)
{
    if (c->tl.fd >= 0)
        close(c->tl.fd);
    c->tl.fd = -1;
}

/* One boot's worth of chip work: hello, open, chain, signature. */
static void boot_once(client *c, uint8_t *der, size_t *der_len)
{
    HK_CHECK_RESULT(hk_serial_i2c_hello(&c->port, NULL), HK_OK);
    HK_CHECK_RESULT(hk_se_atecc608_open(&c->ctx, &c->dev, &fx.ddef, &fx.sdef, &c->se, NULL),
                    HK_OK);
    fixture_check_se(&fx, &c->se, der, der_len);
    HK_CHECK_EQ(c->port.stats.timeouts + c->port.stats.bad_frames + c->port.stats.line_errors +
                    c->port.stats.protocol_errors,
                0);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_command_line(void)
{
    if (!fx_ok)
        return;
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--help", NULL), 0);
    HK_CHECK(fr_has("usage: hubkey-chip-bridge --chip FILE"));
    HK_CHECK(fr_has("Exit codes"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--version", NULL), 0);
    HK_CHECK(fr_has("hubkey-chip-bridge " HUBKEY_VERSION "\n"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, NULL), 2);
    HK_CHECK(fr_has("--chip FILE is required"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", fx.chip, "--frobnicate", NULL), 2);
    HK_CHECK(fr_has("unknown argument '--frobnicate'"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", NULL), 2);
    HK_CHECK(fr_has("--chip needs a value"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", fx.chip, "--listen", "127.0.0.1", NULL), 2);
    HK_CHECK(fr_has("expected HOST:PORT"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", fx.chip, "--listen", "127.0.0.1:70000", NULL), 2);
    HK_CHECK(fr_has("not a number 0..65535"));
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", fx.chip, "--listen", "127.0.0.1:-1", NULL), 2);
    char p[700];
    snprintf(p, sizeof p, "%s/missing.emu", fx.dir);
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", p, NULL), 3);
    HK_CHECK(fr_has("no chip file"));
    HK_CHECK(access(p, F_OK) != 0); /* not created without --create */
    snprintf(p, sizeof p, "%s/garbage.emu", fx.dir);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("not a chip", f);
        fclose(f);
    }
    HK_CHECK_EQ(fr_run(HK_BRIDGE_BIN, "--chip", p, NULL), 3);
    HK_CHECK(fr_has("is not an emulated-chip state file"));
}

static void test_sessions(void)
{
    if (!fx_ok)
        return;
    char pf[700];
    snprintf(pf, sizeof pf, "%s/port", fx.dir);
    bridge_proc b;
    HK_CHECK(proc_start(&b, fx.chip, pf) == 0);
    uint8_t buf[32];
    size_t n = fx_read_file(pf, buf, sizeof buf - 1);
    buf[n] = '\0';
    HK_CHECK_EQ(strtoul((char *)buf, NULL, 10), b.port);

    client c1, c2;
    HK_CHECK(client_open(&c1, b.port, 5000) == 0);
    uint8_t der1[1200], der2[1200];
    size_t der1_len = 0, der2_len = 0;
    uint32_t t0 = mono_ms();
    boot_once(&c1, der1, &der1_len);
    /* For the record (docs/chip-bridge.md): what one boot's chip work costs
     * on the line. */
    printf("one boot (hello, open, two certificates, random, sign): %u requests, %u ms\n",
           (unsigned)c1.port.stats.requests, (unsigned)(mono_ms() - t0));
    /* A second device connecting meanwhile waits: its request is not
     * answered while the first is served. */
    HK_CHECK(client_open(&c2, b.port, 5000) == 0);
    /* HELLO with sequence 0, which the port never uses first. */
    static const uint8_t hello[] = {0xA5, 0x00, 0x01, 0x01, 0x01, 0x90, 0xE0};
    HK_CHECK_RESULT(tl_write(&c2.tl, hello, sizeof hello), HK_OK);
    uint8_t rev[4];
    HK_CHECK_RESULT(hk_atecc608_info(&c1.dev, 0, 0, rev, NULL), HK_OK);
    HK_CHECK(recv(c2.tl.fd, buf, sizeof buf, MSG_DONTWAIT) < 0);
    client_close(&c1);
    /* The second connection (a second boot) gets the old request answered
     * (a late reply the port drops), then works. */
    boot_once(&c2, der2, &der2_len);
    HK_CHECK_EQ(c2.port.stats.stale_replies, 1);
    HK_CHECK_MEM(der2, der2_len, der1, der1_len);
    /* Garbage on the line does not upset it. */
    static const uint8_t junk[] = {0xA5, 0xA5, 0x00, 0xFF, 0x13, 0xA5, 0x01, 0x02, 0xC8};
    HK_CHECK_RESULT(tl_write(&c2.tl, junk, sizeof junk), HK_OK);
    HK_CHECK_RESULT(hk_serial_i2c_hello(&c2.port, NULL), HK_OK);
    client_close(&c2);
    HK_CHECK(proc_wait_for(&b, "connection 2 closed", 30000));

    HK_CHECK_EQ(proc_stop(&b, SIGTERM), 0);
    HK_CHECK(strstr(b.text, "connection 1 from 127.0.0.1:") != NULL);
    HK_CHECK(strstr(b.text, "connection 1 closed (peer closed)") != NULL);
    HK_CHECK(strstr(b.text, "connection 2 from 127.0.0.1:") != NULL);
    HK_CHECK(strstr(b.text, "HELLO version 1 -> ACK") != NULL);
    HK_CHECK(strstr(b.text, "WRITE 0x60 word 0x03 opcode 0x41, 8 bytes -> ACK") != NULL);
    HK_CHECK(strstr(b.text, "DELAY 1500 us -> ACK") != NULL);
    HK_CHECK(strstr(b.text, "-> NACK") != NULL);
    HK_CHECK(strstr(b.text, "chip saved to") != NULL);
    HK_CHECK(strstr(b.text, "(SIGTERM)") != NULL);
    /* No data in the log: no run of more than 8 hex digits anywhere. */
    size_t run = 0, longest = 0;
    for (size_t i = 0; i < b.len; i++) {
        char ch = b.text[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        run = hex ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    HK_CHECK(longest <= 8);
}

/* The bridge is stopped with the request in its socket, then killed: the
 * client's read sees the connection die and fails at once. */
static bridge_proc *victim;

static void kill_victim(tcp_line *l)
{
    (void)l;
    if (victim == NULL || victim->pid <= 0)
        return;
    kill(victim->pid, SIGKILL);
    int st;
    waitpid(victim->pid, &st, 0);
    victim->pid = 0;
    victim = NULL;
}

static void test_kill_mid_command(void)
{
    if (!fx_ok)
        return;
    bridge_proc b;
    HK_CHECK(proc_start(&b, fx.chip, NULL) == 0);
    client c;
    HK_CHECK(client_open(&c, b.port, 10000) == 0);
    boot_once(&c, NULL, NULL);

    /* Freeze the bridge, so the next request is certainly not answered,
     * and kill it while the port waits for the reply. */
    kill(b.pid, SIGSTOP);
    int st = 0;
    HK_CHECK_EQ(waitpid(b.pid, &st, WUNTRACED), b.pid);
    HK_CHECK(WIFSTOPPED(st));
    victim = &b;
    c.tl.on_empty = kill_victim;
    uint32_t t0 = mono_ms();
    uint8_t rev[4];
    HK_CHECK_RESULT(hk_atecc608_info(&c.dev, 0, 0, rev, NULL), HK_ERR_IO);
    uint32_t spent = mono_ms() - t0;
    HK_CHECK(victim == NULL);
    HK_CHECK(spent < 10000u);
    HK_CHECK_EQ(c.port.stats.timeouts, 0);
    HK_CHECK_EQ(c.port.stats.line_errors, 1);
    /* Every later call fails at once too. */
    HK_CHECK_RESULT(hk_atecc608_info(&c.dev, 0, 0, rev, NULL), HK_ERR_IO);
    client_close(&c);
    close(b.out);

    /* A new bridge on the same chip file: the same identity. */
    HK_CHECK(proc_start(&b, fx.chip, NULL) == 0);
    HK_CHECK(client_open(&c, b.port, 10000) == 0);
    boot_once(&c, NULL, NULL);
    client_close(&c);
    HK_CHECK_EQ(proc_stop(&b, SIGINT), 0);
    HK_CHECK(strstr(b.text, "(SIGINT)") != NULL);
}

/* The chip file cannot be replaced any more (a directory took its name):
 * the autosave of a command that changes the EEPROM fails and says so, the
 * chip keeps answering, and the save at exit fails with exit code 1. */
static void test_save_failure(void)
{
    if (!fx_ok)
        return;
    char chip[700], inner[760];
    snprintf(chip, sizeof chip, "%s/doomed.emu", fx.dir);
    HK_CHECK_EQ(fr_run("/bin/cp", fx.chip, chip, NULL), 0);
    bridge_proc b;
    HK_CHECK(proc_start(&b, chip, NULL) == 0);
    client c;
    HK_CHECK(client_open(&c, b.port, 10000) == 0);
    HK_CHECK(unlink(chip) == 0);
    HK_CHECK(mkdir(chip, 0700) == 0);
    snprintf(inner, sizeof inner, "%s/keep", chip);
    FILE *f = fopen(inner, "w");
    if (f)
        fclose(f);
    uint32_t before = 0, after = 0;
    HK_CHECK_RESULT(hk_atecc608_counter(&c.dev, 1, false, &before, NULL), HK_OK);
    HK_CHECK_RESULT(hk_atecc608_counter(&c.dev, 1, true, &after, NULL), HK_OK);
    HK_CHECK_EQ(after, before + 1);
    HK_CHECK(proc_wait_for(&b, "could not save the chip", 30000));
    HK_CHECK_RESULT(hk_atecc608_counter(&c.dev, 1, false, &after, NULL), HK_OK);
    HK_CHECK_EQ(after, before + 1);
    client_close(&c);
    HK_CHECK_EQ(proc_stop(&b, SIGTERM), 1);
    HK_CHECK(strstr(b.text, "keeps working in memory") != NULL);
    HK_CHECK(strstr(b.text, "could not save the chip to") != NULL);
    HK_CHECK(strstr(b.text, "chip saved") == NULL);
}

/* --create makes a factory-new chip; --once exits after the first
 * connection, saving it. */
static void test_create_and_once(void)
{
    if (!fx_ok)
        return;
    char chip[700];
    snprintf(chip, sizeof chip, "%s/new.emu", fx.dir);
    const char *const args[] = {"--create", "--once", NULL};
    bridge_proc b;
    HK_CHECK(proc_start_args(&b, chip, args) == 0);
    struct stat st;
    HK_CHECK(stat(chip, &st) == 0 && st.st_size == HK_EMU_ATECC608_FILE_SIZE);
    client c;
    HK_CHECK(client_open(&c, b.port, 10000) == 0);
    uint8_t rnd[32], config[HK_ATECC608_CONFIG_SIZE];
    /* Unlocked: Random gives the fixed pattern, the config zone is open. */
    HK_CHECK_RESULT(hk_atecc608_random(&c.dev, rnd, NULL), HK_OK);
    HK_CHECK(rnd[0] == 0xFF && rnd[1] == 0xFF && rnd[2] == 0x00 && rnd[3] == 0x00);
    HK_CHECK_RESULT(hk_atecc608_read_config(&c.dev, config, NULL), HK_OK);
    HK_CHECK_EQ(config[87], 0x55);
    client_close(&c);
    HK_CHECK_EQ(proc_wait_exit(&b), 0);
    HK_CHECK(strstr(b.text, "connection 1 closed (peer closed)") != NULL);
    HK_CHECK(strstr(b.text, "chip saved to") != NULL);
    if (b.pid > 0)
        proc_stop(&b, SIGKILL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    fx_ok = fixture_make(&fx, "bridge-tcp") == 0;
    HK_CHECK(fx_ok);
    HK_RUN(test_command_line);
    HK_RUN(test_sessions);
    HK_RUN(test_kill_mid_command);
    HK_RUN(test_save_failure);
    HK_RUN(test_create_and_once);
    fixture_free(&fx);
    return hk_test_finish("bridge_tcp");
}
