/*
 * Board self-test image (tests/mcu): everything hubkey firmware stands on,
 * in one run under QEMU.
 *
 * Command line (semihosting; QEMU -semihosting-config ...,arg=board-selftest,
 * arg=port=N,...), words separated by spaces:
 *   port=N     TCP port of the host's echo server (required unless fault)
 *   file=PATH  a host file whose content (one line, at most 200 bytes, no
 *              newline) is the line to echo; otherwise a line of its own
 *   now=SECS   the host's time when QEMU started: the wall clock must agree
 *              within two minutes
 *   bulk=N     after the echo, receive N bytes of a pattern from the server
 *              and send N back (the server checks them and closes): many
 *              full-size segments and window updates each way
 *   line       also exchange a line over UART1: send "hubkey-line ping\n",
 *              expect "hubkey-line pong\n" back
 *   fault      read from an address nothing decodes: the fault handler must
 *              end the run (tests/mcu checks status and register dump)
 *   overflow   recurse until the main stack overflows: the MPU guard must
 *              turn it into a MemManage fault the handler reports
 *
 * The run: board start, clocks (SysTick milliseconds against the 25 MHz
 * counter), lwIP up on the LAN9118 with 10.0.2.15/24 (QEMU's user network),
 * a TCP connection to 10.0.2.2:port (the host's loopback), one line sent
 * and its echo checked byte for byte, the connection closed. Exit status 0
 * when every check passed, 1 when one failed (with a line saying which), 2
 * for a bad command line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "lan9118.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define RUN_DEADLINE_MS 20000u
#define LINE_MAX 200u
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* Nothing decodes this address on mps2-an386 (QEMU answers a bus error; the
 * holes near the memories, 0x00F0_0000 or 0x1FFF_FFF0 for instance, read
 * as zero instead): a load is a BusFault. */
#define FAULT_ADDRESS 0x30000000u

static struct {
    char line[LINE_MAX + 2]; /* the line and its newline */
    size_t line_len;
    char echo[LINE_MAX + 2];
    size_t echo_len;
    bool connected;
    bool echoed;
    bool failed;
    bool remote_closed;
    err_t error;
    struct tcp_pcb *pcb;
    uint32_t bulk;     /* bytes each way after the echo (bulk=N) */
    uint32_t bulk_in;  /* received and checked */
    uint32_t bulk_out; /* handed to tcp_write */
    bool bulk_bad;     /* a received byte differed from the pattern */
} run;

/* Byte i of the bulk stream, both directions. */
static uint8_t bulk_byte(uint32_t i)
{
    return (uint8_t)(i * 31u + 7u);
}

static _Noreturn void fail(const char *what)
{
    board_log("selftest: FAIL %s\n", what);
    board_exit(EXIT_FAIL);
}

/* ---- command line ------------------------------------------------------------------- */

struct options {
    uint32_t port;
    const char *file;
    int64_t now;
    uint32_t bulk;
    bool line;
    bool fault;
    bool overflow;
};

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10u + (uint64_t)(*s - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

/* Splits cmd in place at spaces. The first word is the program name. */
static void parse_options(char *cmd, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->now = INT64_MIN;
    bool first = true;
    char *next = cmd;
    while (*next != '\0') {
        char *w = next;
        while (*next != '\0' && *next != ' ')
            next++;
        if (*next == ' ')
            *next++ = '\0';
        if (*w == '\0')
            continue;
        if (first) {
            first = false;
            continue;
        }
        uint64_t v;
        if (strncmp(w, "port=", 5) == 0) {
            if (!parse_u64(w + 5, 65535, &v) || v == 0) {
                board_log("selftest: bad port '%s'\n", w + 5);
                board_exit(EXIT_USAGE);
            }
            o->port = (uint32_t)v;
        } else if (strncmp(w, "bulk=", 5) == 0) {
            if (!parse_u64(w + 5, 16u * 1024u * 1024u, &v)) {
                board_log("selftest: bad bulk size '%s'\n", w + 5);
                board_exit(EXIT_USAGE);
            }
            o->bulk = (uint32_t)v;
        } else if (strncmp(w, "file=", 5) == 0) {
            o->file = w + 5;
        } else if (strncmp(w, "now=", 4) == 0) {
            if (!parse_u64(w + 4, (uint64_t)INT64_MAX, &v)) {
                board_log("selftest: bad time '%s'\n", w + 4);
                board_exit(EXIT_USAGE);
            }
            o->now = (int64_t)v;
        } else if (strcmp(w, "line") == 0) {
            o->line = true;
        } else if (strcmp(w, "fault") == 0) {
            o->fault = true;
        } else if (strcmp(w, "overflow") == 0) {
            o->overflow = true;
        } else {
            board_log("selftest: unknown option '%s'\n", w);
            board_exit(EXIT_USAGE);
        }
    }
}

/* ---- TCP echo -------------------------------------------------------------------------- */

static void on_err(void *arg, err_t err)
{
    (void)arg;
    /* lwIP has freed the PCB already. */
    run.pcb = NULL;
    run.failed = true;
    run.error = err;
}

/* Bytes up to the first newline are the echo; what follows is the bulk
 * stream, checked against the pattern as it arrives. */
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    if (p == NULL) {
        run.remote_closed = true;
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return err;
    }
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *b = q->payload;
        for (u16_t i = 0; i < q->len; i++) {
            if (!run.echoed) {
                if (run.echo_len < sizeof run.echo)
                    run.echo[run.echo_len++] = (char)b[i];
                if (b[i] == '\n' || run.echo_len == sizeof run.echo)
                    run.echoed = true;
            } else {
                if (run.bulk_in >= run.bulk || b[i] != bulk_byte(run.bulk_in))
                    run.bulk_bad = true;
                run.bulk_in++;
            }
        }
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

/* Queues as much of the outgoing bulk stream as the send buffer takes. */
static void bulk_send(struct tcp_pcb *pcb)
{
    uint8_t chunk[512];
    bool queued = false;
    while (run.bulk_out < run.bulk) {
        uint32_t n = run.bulk - run.bulk_out;
        if (n > sizeof chunk)
            n = sizeof chunk;
        if (n > tcp_sndbuf(pcb))
            n = tcp_sndbuf(pcb);
        if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 1)
            break;
        for (uint32_t i = 0; i < n; i++)
            chunk[i] = bulk_byte(run.bulk_out + i);
        err_t err = tcp_write(pcb, chunk, (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (err == ERR_MEM)
            break;
        if (err != ERR_OK) {
            run.failed = true;
            run.error = err;
            return;
        }
        run.bulk_out += n;
        queued = true;
    }
    if (queued)
        (void)tcp_output(pcb);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)len;
    if (run.bulk_in == run.bulk)
        bulk_send(pcb);
    return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK) {
        run.failed = true;
        run.error = err;
        return err;
    }
    run.connected = true;
    err = tcp_write(pcb, run.line, (u16_t)run.line_len, TCP_WRITE_FLAG_COPY);
    if (err == ERR_OK)
        err = tcp_output(pcb);
    if (err != ERR_OK) {
        run.failed = true;
        run.error = err;
    }
    return ERR_OK;
}

/* One pass of the main loop: frames in, timers, then sleep until the next
 * tick. */
static void service(struct netif *nif)
{
    hk_lan9118_poll(nif);
    sys_check_timeouts();
    board_idle();
}

/* ---- UART1 line ----------------------------------------------------------------------- */

static void line_exchange(void)
{
    static const char ping[] = "hubkey-line ping\n";
    static const char pong[] = "hubkey-line pong\n";
    if (!board_line_write((const uint8_t *)ping, sizeof ping - 1))
        fail("UART1 write");
    uint8_t got[sizeof pong];
    size_t n = 0;
    uint32_t start = board_ms();
    while (n < sizeof pong - 1) {
        n += board_line_read(got + n, sizeof pong - 1 - n);
        if ((uint32_t)(board_ms() - start) > RUN_DEADLINE_MS)
            fail("UART1 answer timed out");
        if (n < sizeof pong - 1)
            board_idle();
    }
    if (memcmp(got, pong, sizeof pong - 1) != 0)
        fail("UART1 answer differs");
    board_log("selftest: UART1 line ok\n");
}

/* ---- board functions' edges ----------------------------------------------------------- */

/* The logger's conversions, for the test to compare with the exact text it
 * expects (tests/mcu/run_board_selftest.py). */
static void log_formats(void)
{
    board_log("selftest: format [%5u|%-4d|%05x|%lu|%ld|%lx|%zu|%c|%s|%.3s|%8s|%-3s|%p|%%|%X|%lld|%hhu|%d]\n",
              42u, -7, 0xbeefu, 4294967295ul, -2147483647l - 1, 0xdeadbeeful, (size_t)12345,
              'k', "hub", "keyring", "right", "l", (void *)0x2000abcdu, 0xabcdu,
              -9000000000ll, (unsigned char)300, 0);
}

/* Host file and command line failures: each must be refused cleanly. */
static void host_edges(const char *file, size_t file_len)
{
    uint8_t buf[8];
    size_t len = 99;
    if (board_host_read_file("/nonexistent/hubkey-selftest", buf, sizeof buf, &len) || len != 0)
        fail("reading a missing host file succeeded");
    if (file != NULL && file_len > 1) {
        len = 99;
        if (board_host_read_file(file, buf, file_len - 1, &len) || len != 0)
            fail("a host file larger than the buffer was accepted");
    }
    char small[4];
    if (board_cmdline(small, sizeof small) != 0 || small[0] != '\0')
        fail("a command line longer than the buffer was accepted");
    board_log("selftest: host edges ok\n");
}

/* Uses 256 bytes of stack per level and cannot be turned into a loop (the
 * buffer is read after the call). The depth limit, far beyond any stack
 * this board has, is read at run time so the compiler cannot bound it. */
static volatile uint32_t recurse_limit = 1000000u;

static uint32_t recurse(uint32_t n)
{
    volatile uint8_t frame[256];
    frame[0] = (uint8_t)n;
    if (n >= recurse_limit)
        return frame[0];
    uint32_t below = recurse(n + 1u);
    return below + frame[0];
}

/* ---- main ------------------------------------------------------------------------------ */

int main(void)
{
    board_init();
    uint32_t ms0 = board_ms();
    uint32_t c0 = board_counter_25mhz();
    board_log("selftest: mps2-an386 board up, stack %zu bytes at boot\n", board_stack_used());

    static char cmd[512];
    if (board_cmdline(cmd, sizeof cmd) == 0) {
        board_log("selftest: no command line (semihosting off?)\n");
        return EXIT_USAGE;
    }
    board_log("selftest: command line '%s'\n", cmd);
    struct options opt;
    parse_options(cmd, &opt);

    if (opt.fault) {
        board_log("selftest: reading 0x%08lx\n", (unsigned long)FAULT_ADDRESS);
        uint32_t v = *(volatile uint32_t *)(uintptr_t)FAULT_ADDRESS;
        board_log("selftest: read 0x%08lx, no fault\n", (unsigned long)v);
        return EXIT_FAIL;
    }
    if (opt.overflow) {
        board_log("selftest: recursing into the stack guard\n");
        board_log("selftest: returned %lu, no fault\n", (unsigned long)recurse(0));
        return EXIT_FAIL;
    }
    if (opt.port == 0) {
        board_log("selftest: port=N is required\n");
        return EXIT_USAGE;
    }

    int64_t wall = board_wall_s();
    if (wall == INT64_MIN)
        fail("no wall clock from the host");
    board_log("selftest: wall clock %ld s\n", (long)wall);
    if (opt.now != INT64_MIN && (wall < opt.now - 120 || wall > opt.now + 120))
        fail("wall clock differs from the host's by more than 2 minutes");

    if (opt.file != NULL) {
        size_t len;
        if (!board_host_read_file(opt.file, (uint8_t *)run.line, LINE_MAX, &len))
            fail("cannot read the line file");
        if (len == 0 || memchr(run.line, '\n', len) != NULL)
            fail("the line file must hold one line without a newline");
        run.line_len = len;
    } else {
        static const char text[] = "hubkey board self-test";
        memcpy(run.line, text, sizeof text - 1);
        run.line_len = sizeof text - 1;
    }
    host_edges(opt.file, run.line_len);
    run.line[run.line_len++] = '\n';
    log_formats();

    if (opt.line)
        line_exchange();

    static struct netif nif;
    ip4_addr_t ip;
    ip4_addr_t mask;
    ip4_addr_t gw;
    IP4_ADDR(&ip, 10, 0, 2, 15);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 0, 2, 2);
    lwip_init();
    if (netif_add(&nif, &ip, &mask, &gw, NULL, hk_lan9118_netif_init, ethernet_input) == NULL)
        fail("LAN9118 not found");
    netif_set_default(&nif);
    netif_set_up(&nif);
    board_log("selftest: LAN9118 mac %02x:%02x:%02x:%02x:%02x:%02x link %s\n", nif.hwaddr[0],
              nif.hwaddr[1], nif.hwaddr[2], nif.hwaddr[3], nif.hwaddr[4], nif.hwaddr[5],
              netif_is_link_up(&nif) ? "up" : "down");
    if (!netif_is_link_up(&nif))
        fail("no link");

    run.bulk = opt.bulk;
    run.pcb = tcp_new();
    if (run.pcb == NULL)
        fail("tcp_new");
    tcp_err(run.pcb, on_err);
    tcp_recv(run.pcb, on_recv);
    tcp_sent(run.pcb, on_sent);
    if (tcp_connect(run.pcb, &gw, (u16_t)opt.port, on_connected) != ERR_OK)
        fail("tcp_connect");
    board_log("selftest: connecting to 10.0.2.2:%lu\n", (unsigned long)opt.port);

    uint32_t start = board_ms();
    while (!run.echoed && !run.failed && !run.remote_closed) {
        if ((uint32_t)(board_ms() - start) > RUN_DEADLINE_MS)
            fail("no echo before the deadline");
        service(&nif);
    }
    if (run.failed || !run.echoed) {
        board_log("selftest: FAIL connection error %d%s\n", (int)run.error,
                  run.remote_closed ? " (closed by the server)" : "");
        return EXIT_FAIL;
    }
    if (run.echo_len != run.line_len || memcmp(run.echo, run.line, run.line_len) != 0) {
        board_log("selftest: FAIL echo differs: sent %zu bytes, got %zu: '%.*s'\n", run.line_len,
                  run.echo_len, (int)run.echo_len, run.echo);
        return EXIT_FAIL;
    }
    board_log("selftest: echo ok (%zu bytes)\n", run.line_len);

    /* Bulk: the server sends run.bulk bytes, then expects as many back and
     * closes once it has them all. */
    if (run.bulk > 0) {
        start = board_ms();
        while (!run.failed && !run.bulk_bad && run.bulk_in < run.bulk) {
            if ((uint32_t)(board_ms() - start) > RUN_DEADLINE_MS)
                fail("bulk data in: deadline");
            service(&nif);
        }
        if (run.bulk_bad)
            fail("bulk data in differs from the pattern");
        while (!run.failed && !run.remote_closed) {
            if ((uint32_t)(board_ms() - start) > RUN_DEADLINE_MS)
                fail("bulk data out: deadline");
            if (run.pcb != NULL)
                bulk_send(run.pcb);
            service(&nif);
        }
        if (run.failed || run.bulk_out != run.bulk || run.bulk_in != run.bulk) {
            board_log("selftest: FAIL bulk: in %lu out %lu of %lu, error %d\n",
                      (unsigned long)run.bulk_in, (unsigned long)run.bulk_out,
                      (unsigned long)run.bulk, (int)run.error);
            return EXIT_FAIL;
        }
        board_log("selftest: bulk ok (%lu bytes each way in %lu ms)\n", (unsigned long)run.bulk,
                  (unsigned long)(board_ms() - start));
    }

    /* Close, and keep the stack running until the FIN has gone out. */
    if (run.pcb != NULL && tcp_close(run.pcb) != ERR_OK)
        tcp_abort(run.pcb);
    run.pcb = NULL;
    uint32_t closing = board_ms();
    while ((uint32_t)(board_ms() - closing) < 50u)
        service(&nif);

    struct hk_lan9118_stats st;
    hk_lan9118_get_stats(&st);
    board_log("selftest: lan9118 rx %lu dropped %lu tx %lu errors %lu\n",
              (unsigned long)st.rx_frames, (unsigned long)st.rx_dropped,
              (unsigned long)st.tx_frames, (unsigned long)st.tx_errors);
    if (st.tx_errors != 0)
        fail("transmit errors");

    /* board_ms extends the 25 MHz counter to 64 bits (board.c): over the
     * run both must agree within the rounding of the two readings. */
    uint32_t dms = board_ms() - ms0;
    uint32_t dcount_ms = (board_counter_25mhz() - c0) / (BOARD_CPU_HZ / 1000u);
    board_log("selftest: %lu ms by board_ms, %lu ms by the 25 MHz counter\n", (unsigned long)dms,
              (unsigned long)dcount_ms);
    if (dcount_ms == 0 || dms > dcount_ms + 2u || dcount_ms > dms + 2u)
        fail("SysTick and the 25 MHz counter disagree");

    size_t used = board_stack_used();
    board_log("selftest: stack high-water %zu of %zu bytes\n", used, board_stack_size());
    if (used == 0 || used >= board_stack_size())
        fail("stack high-water mark out of range");
    board_log("selftest: PASS\n");
    return 0;
}
