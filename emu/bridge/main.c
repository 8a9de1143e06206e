/*
 * hubkey-chip-bridge: serves a software ATECC608A (a chip file made by
 * hubkey-factory) to one device at a time over TCP, in the framing of
 * docs/chip-bridge.md. QEMU connects its second UART to it
 * (-serial tcp:127.0.0.1:PORT); when the device disconnects the bridge waits
 * for the next connection, so a second boot finds the same chip.
 *
 * One thread, one poll() loop over the listening socket (or the connection)
 * and a self-pipe written by the SIGTERM/SIGINT handler, so a signal ends the
 * loop at once and the chip is saved before the exit. Usage and exit codes:
 * usage() below and docs/chip-bridge.md.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "chip_bridge.h"
#include "emu_atecc608.h"
#include "hubkey/version.h"

#define EXIT_RUNTIME 1 /* socket failure, or the chip could not be saved at exit */
#define EXIT_USAGE 2   /* bad command line */
#define EXIT_CHIP 3    /* the chip file cannot be read (or created with --create) */

static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    if (stop_pipe[1] >= 0) {
        ssize_t w = write(stop_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

static void usage(FILE *f)
{
    fputs("usage: hubkey-chip-bridge --chip FILE [--listen HOST:PORT] [--port-file F]\n"
          "                          [--create] [--once] [-v]\n"
          "\n"
          "Serves the software ATECC608A in FILE (a chip file made by hubkey-factory)\n"
          "over TCP in the chip-bridge framing (docs/chip-bridge.md), to one\n"
          "connection at a time; QEMU connects with -serial tcp:HOST:PORT.\n"
          "\n"
          "  --chip FILE         the emulated chip's state file (\"emu:FILE\" also works);\n"
          "                      every change is saved to it at once, and again at exit\n"
          "  --listen HOST:PORT  where to listen (default 127.0.0.1:0; port 0 picks a\n"
          "                      free one). The first line on standard output is\n"
          "                      \"listening on HOST:PORT\" with the real port\n"
          "  --port-file F       also write the port number to F (replaced atomically)\n"
          "  --create            make a factory-new chip in FILE if there is none\n"
          "  --once              exit when the first connection ends\n"
          "  -v, --verbose       one line per command (sizes and opcodes, never data)\n"
          "  -h, --help          this text\n"
          "  --version           the version (hubkey's)\n"
          "\n"
          "Each connection starts with the chip power-cycled (volatile state lost, the\n"
          "EEPROM kept), as a board's reset would. SIGTERM or SIGINT: the chip is\n"
          "saved and the bridge exits 0.\n"
          "\n"
          "Exit codes: 0 stopped by a signal (or --once done), 1 socket failure or the\n"
          "chip could not be saved at exit, 2 usage, 3 the chip file cannot be read.\n",
          f);
}

typedef struct bridge_app {
    const char *chip_path;
    const char *listen;
    const char *port_file;
    bool create, once, verbose;
    hk_emu_atecc608 *emu;
    hk_chip_bridge bridge;
    int conn;
    unsigned long conn_no;
    uint64_t autosave_failures;
} bridge_app;

/* ---- the connection ------------------------------------------------------ */

static hk_result send_all(void *ctx, const uint8_t *buf, size_t len)
{
    bridge_app *app = ctx;
    while (len > 0) {
        ssize_t w = send(app->conn, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR && !stop_signal)
            continue;
        if (w <= 0)
            return HK_ERR_IO;
        buf += w;
        len -= (size_t)w;
    }
    return HK_OK;
}

static const char *status_name(uint8_t st)
{
    static const char *const names[] = {"ACK", "NACK", "BUS_ERROR", "BAD_REQUEST"};
    return st < 4 ? names[st] : "?";
}

static void log_command(void *ctx, const hk_chip_bridge_event *ev)
{
    (void)ctx;
    char what[96] = "";
    switch (ev->op) {
    case 1:
        snprintf(what, sizeof what, " version %u", ev->version);
        break;
    case 3:
        if (ev->chip_opcode >= 0)
            snprintf(what, sizeof what, " 0x%02X word 0x%02X opcode 0x%02X, %u bytes", ev->addr7,
                     (unsigned)ev->word, (unsigned)ev->chip_opcode, ev->len);
        else if (ev->word >= 0)
            snprintf(what, sizeof what, " 0x%02X word 0x%02X, %u bytes", ev->addr7,
                     (unsigned)ev->word, ev->len);
        else
            snprintf(what, sizeof what, " 0x%02X, 0 bytes", ev->addr7);
        break;
    case 4:
        snprintf(what, sizeof what, " 0x%02X, %u bytes", ev->addr7, ev->len);
        break;
    case 5:
        snprintf(what, sizeof what, " %lu us", (unsigned long)ev->us);
        break;
    default:
        break;
    }
    printf("  #%u %s%s -> %s\n", ev->seq, hk_chip_bridge_op_name(ev->op), what,
           status_name(ev->status));
}

/* A failed autosave is said, once per failure, not kept quiet. */
static void check_autosave(bridge_app *app)
{
    hk_emu_atecc608_counters c;
    hk_emu_atecc608_counters_get(app->emu, &c);
    if (c.autosave_failures > app->autosave_failures) {
        fprintf(stderr,
                "hubkey-chip-bridge: could not save the chip to %s (%llu failed saves); the "
                "chip keeps working in memory\n",
                app->chip_path, (unsigned long long)c.autosave_failures);
        app->autosave_failures = c.autosave_failures;
    }
}

static void close_conn(bridge_app *app, const char *why)
{
    const hk_chip_bridge_stats *st = &app->bridge.stats;
    printf("connection %lu closed (%s): %llu requests, %llu bad frames, %llu garbage bytes\n",
           app->conn_no, why, (unsigned long long)st->frames, (unsigned long long)st->bad_frames,
           (unsigned long long)st->garbage_bytes);
    close(app->conn);
    app->conn = -1;
}

static void accept_conn(bridge_app *app, int lfd)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
    if (fd < 0)
        return; /* EINTR, or the peer went away before accept: poll again */
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo((struct sockaddr *)&peer, plen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    /* A peer that stops reading must not hold the bridge forever. */
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    app->conn = fd;
    app->conn_no++;
    hk_emu_atecc608_power_cycle(app->emu);
    hk_chip_bridge_reset(&app->bridge);
    memset(&app->bridge.stats, 0, sizeof app->bridge.stats);
    printf("connection %lu from %s:%s (chip power-cycled)\n", app->conn_no, host, serv);
}

static void serve_conn(bridge_app *app)
{
    uint8_t buf[4096];
    ssize_t n = recv(app->conn, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
        return;
    if (n == 0) {
        close_conn(app, "peer closed");
        return;
    }
    if (n < 0) {
        close_conn(app, strerror(errno));
        return;
    }
    hk_result r = hk_chip_bridge_input(&app->bridge, buf, (size_t)n);
    check_autosave(app);
    if (r != HK_OK)
        close_conn(app, "reply could not be sent");
}

/* ---- setup --------------------------------------------------------------- */

static int listen_on(const char *spec, char *out_host, size_t host_cap, unsigned *out_port)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0' ||
        (size_t)(colon - spec) >= sizeof host) {
        fprintf(stderr, "hubkey-chip-bridge: --listen %s: expected HOST:PORT\n", spec);
        return -2;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535 || colon[1] < '0' || colon[1] > '9') {
        fprintf(stderr, "hubkey-chip-bridge: --listen %s: the port is not a number 0..65535\n",
                spec);
        return -2;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "hubkey-chip-bridge: --listen %s: %s\n", spec, gai_strerror(gai));
        return -2;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "hubkey-chip-bridge: cannot listen on %s: %s\n", spec, strerror(err));
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t slen = sizeof sa;
    char serv[NI_MAXSERV] = "0";
    if (getsockname(fd, (struct sockaddr *)&sa, &slen) != 0 ||
        getnameinfo((struct sockaddr *)&sa, slen, out_host, (socklen_t)host_cap, serv,
                    sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "hubkey-chip-bridge: cannot read the address listened on\n");
        close(fd);
        return -1;
    }
    *out_port = (unsigned)strtoul(serv, NULL, 10);
    return fd;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int open_chip(bridge_app *app)
{
    struct stat st;
    hk_result r;
    if (stat(app->chip_path, &st) != 0) {
        if (!app->create) {
            fprintf(stderr,
                    "hubkey-chip-bridge: no chip file %s (make one with hubkey-factory chip "
                    "configure / provision, or pass --create for a factory-new chip)\n",
                    app->chip_path);
            return -1;
        }
        r = hk_emu_atecc608_open(app->chip_path, NULL, &app->emu);
    } else {
        r = hk_emu_atecc608_load(app->chip_path, NULL, &app->emu);
        if (r == HK_OK)
            r = hk_emu_atecc608_set_autosave(app->emu, app->chip_path);
    }
    if (r != HK_OK) {
        const char *why = r == HK_ERR_MALFORMED     ? "is not an emulated-chip state file"
                          : r == HK_ERR_UNSUPPORTED ? "has an unknown state-file version"
                          : r == HK_ERR_FILE        ? "cannot be read or written"
                                                    : hk_result_str(r);
        fprintf(stderr, "hubkey-chip-bridge: chip file %s %s (%s)\n", app->chip_path, why,
                hk_result_name(r));
        hk_emu_atecc608_destroy(app->emu);
        app->emu = NULL;
        return -1;
    }
    return 0;
}

static int parse_args(bridge_app *app, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **value = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("hubkey-chip-bridge %s\n", HUBKEY_VERSION);
            return 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            app->verbose = true;
        } else if (strcmp(a, "--create") == 0) {
            app->create = true;
        } else if (strcmp(a, "--once") == 0) {
            app->once = true;
        } else if (strcmp(a, "--chip") == 0) {
            value = &app->chip_path;
        } else if (strcmp(a, "--listen") == 0) {
            value = &app->listen;
        } else if (strcmp(a, "--port-file") == 0) {
            value = &app->port_file;
        } else {
            fprintf(stderr, "hubkey-chip-bridge: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
        if (value != NULL) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "hubkey-chip-bridge: %s needs a value\n", a);
                return -1;
            }
            *value = argv[++i];
        }
    }
    if (app->chip_path == NULL) {
        fprintf(stderr, "hubkey-chip-bridge: --chip FILE is required (see --help)\n");
        return -1;
    }
    if (strncmp(app->chip_path, "emu:", 4) == 0)
        app->chip_path += 4;
    if (app->chip_path[0] == '\0') {
        fprintf(stderr, "hubkey-chip-bridge: --chip: empty file name\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bridge_app app;
    memset(&app, 0, sizeof app);
    app.conn = -1;
    app.listen = "127.0.0.1:0";
    setvbuf(stdout, NULL, _IOLBF, 0);

    int pa = parse_args(&app, argc, argv);
    if (pa != 0)
        return pa > 0 ? 0 : EXIT_USAGE;

    if (pipe(stop_pipe) != 0) {
        perror("hubkey-chip-bridge: pipe");
        return EXIT_RUNTIME;
    }
    fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked send returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char host[NI_MAXHOST] = "";
    unsigned port = 0;
    int lfd = listen_on(app.listen, host, sizeof host, &port);
    if (lfd < 0)
        return lfd == -2 ? EXIT_USAGE : EXIT_RUNTIME;
    if (open_chip(&app) != 0) {
        close(lfd);
        return EXIT_CHIP;
    }
    hk_i2c chip = hk_emu_atecc608_i2c(app.emu);
    hk_result br = hk_chip_bridge_init(&app.bridge, &chip, send_all, &app);
    if (br != HK_OK) {
        fprintf(stderr, "hubkey-chip-bridge: bridge set-up failed: %s\n", hk_result_str(br));
        close(lfd);
        return EXIT_RUNTIME;
    }
    if (app.verbose)
        hk_chip_bridge_set_log(&app.bridge, log_command, &app);

    /* The port file first: whoever sees the first line finds it there. */
    int rc = 0;
    if (app.port_file != NULL && write_port_file(app.port_file, port) != 0) {
        fprintf(stderr, "hubkey-chip-bridge: cannot write the port file %s: %s\n", app.port_file,
                strerror(errno));
        rc = EXIT_RUNTIME;
    } else {
        printf(strchr(host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n", host,
               port);
    }

    while (rc == 0 && !stop_signal) {
        struct pollfd pf[2] = {{stop_pipe[0], POLLIN, 0},
                               {app.conn >= 0 ? app.conn : lfd, POLLIN, 0}};
        /* While part of a frame is held, silence on the line ends it. */
        bool partial = app.conn >= 0 && hk_chip_bridge_pending(&app.bridge);
        int n = poll(pf, 2, partial ? HK_CHIP_BRIDGE_IDLE_MS : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("hubkey-chip-bridge: poll");
            rc = EXIT_RUNTIME;
            break;
        }
        if (pf[0].revents)
            break;
        if (n == 0 && partial) {
            if (hk_chip_bridge_line_idle(&app.bridge) != HK_OK)
                close_conn(&app, "reply could not be sent");
            check_autosave(&app);
            continue;
        }
        if (!pf[1].revents)
            continue;
        if (app.conn < 0) {
            accept_conn(&app, lfd);
        } else {
            serve_conn(&app);
            if (app.conn < 0 && app.once)
                break;
        }
    }
    if (app.conn >= 0)
        close_conn(&app, stop_signal ? "bridge stopping" : "bridge stopping after an error");
    close(lfd);

    hk_result r = hk_emu_atecc608_save(app.emu, app.chip_path);
    if (r != HK_OK) {
        fprintf(stderr, "hubkey-chip-bridge: could not save the chip to %s (%s)\n", app.chip_path,
                hk_result_name(r));
        rc = EXIT_RUNTIME;
    } else {
        printf("chip saved to %s; bridge stopped%s\n", app.chip_path,
               stop_signal == SIGTERM  ? " (SIGTERM)"
               : stop_signal == SIGINT ? " (SIGINT)"
                                       : "");
    }
    hk_emu_atecc608_destroy(app.emu);
    return rc;
}
