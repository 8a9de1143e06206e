/*
 * mps2-an386 board support: time, console, byte line, semihosting, stack
 * high-water mark. Contracts in board.h; register facts from QEMU 7.2's
 * models of the machine (CMSDK APB UART, ARMv7-M SysTick, MPS2 FPGA IO).
 */
#include "board.h"

#include <stdarg.h>
#include <string.h>

#include "board_internal.h"

/* ---- CMSDK APB UART ---------------------------------------------------------- */

#define UART0_BASE 0x40004000u
#define UART1_BASE 0x40005000u
#define UART_DATA 0x00u
#define UART_STATE 0x04u
#define UART_CTRL 0x08u
#define UART_BAUDDIV 0x10u
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
/* 25 MHz / 115200 = 217: QEMU does not pace output by it, hardware does. */
#define UART_BAUDDIV_115200 217u

/* A byte arriving on UART1 is handed over by QEMU's I/O thread once the
 * previous one is read; this many polls give it a chance to arrive within
 * one board_line_read call before it returns what it has. */
#define BOARD_LINE_RX_SPIN 256u

volatile bool board_semihosting_absent;

static bool console_blocked;

static void uart_init(uint32_t base)
{
    BOARD_REG(base + UART_CTRL) = 0;
    BOARD_REG(base + UART_BAUDDIV) = UART_BAUDDIV_115200;
    BOARD_REG(base + UART_CTRL) = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
}

void board_console_force_enable(void)
{
    if ((BOARD_REG(UART0_BASE + UART_CTRL) & UART_CTRL_TX_EN) == 0) {
        BOARD_REG(UART0_BASE + UART_BAUDDIV) = UART_BAUDDIV_115200;
        BOARD_REG(UART0_BASE + UART_CTRL) |= UART_CTRL_TX_EN;
    }
    console_blocked = false;
}

/* Waits for room in the transmitter for at most BOARD_LINE_TX_SPIN polls.
 * QEMU keeps TXFULL set while its backend cannot take the byte. */
static bool uart_tx_ready(uint32_t base)
{
    for (uint32_t i = 0; i < BOARD_LINE_TX_SPIN; i++) {
        if ((BOARD_REG(base + UART_STATE) & UART_STATE_TXFULL) == 0)
            return true;
    }
    return false;
}

void board_console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* Once the console stalled, later output is dropped at once unless
         * the transmitter is free again, so logging never hangs the board
         * for long. */
        if (console_blocked) {
            if ((BOARD_REG(UART0_BASE + UART_STATE) & UART_STATE_TXFULL) != 0)
                return;
            console_blocked = false;
        }
        if (!uart_tx_ready(UART0_BASE)) {
            console_blocked = true;
            return;
        }
        BOARD_REG(UART0_BASE + UART_DATA) = (uint8_t)s[i];
    }
}

size_t board_line_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        uint32_t spin = 0;
        while ((BOARD_REG(UART1_BASE + UART_STATE) & UART_STATE_RXFULL) == 0) {
            /* Nothing at all yet: report that at once. */
            if (n == 0 || ++spin >= BOARD_LINE_RX_SPIN)
                return n;
        }
        buf[n++] = (uint8_t)BOARD_REG(UART1_BASE + UART_DATA);
    }
    return n;
}

bool board_line_write(const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!uart_tx_ready(UART1_BASE))
            return false;
        BOARD_REG(UART1_BASE + UART_DATA) = buf[i];
    }
    return true;
}

/* ---- time ---------------------------------------------------------------------- */

/* Milliseconds are counted on the FPGA's 25 MHz counter, not by counting
 * SysTick interrupts: QEMU drops SysTick periods whenever it delivers the
 * interrupt late (measured on QEMU 7.2: 3,000 ticks in 3,334 ms of an idle
 * loop and in 9,431 ms of a busy one), while the counter always equals
 * virtual time. The 32-bit counter wraps every 171.8 s; the SysTick
 * interrupt (1 kHz) extends it to 64 bits, which stays exact as long as one
 * tick is taken per wrap period. */
static volatile uint64_t counts_total; /* 25 MHz counts from board_init to counts_last */
static volatile uint32_t counts_last;  /* counter value when counts_total was updated */
static int64_t wall_at_init = INT64_MIN;

/* Brings the 64-bit count up to date and returns it. PRIMASK is restored,
 * not cleared, so this also works with interrupts off (fault handler). */
static uint64_t counts_now(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\ncpsid i" : "=r"(primask)::"memory");
    uint32_t now = BOARD_REG(FPGAIO_COUNTER);
    uint64_t total = counts_total + (uint32_t)(now - counts_last);
    counts_total = total;
    counts_last = now;
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return total;
}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    (void)counts_now();
}

static uint64_t ms64(void)
{
    return counts_now() / (BOARD_CPU_HZ / 1000u);
}

uint32_t board_ms(void)
{
    return (uint32_t)ms64();
}

uint32_t board_counter_25mhz(void)
{
    return BOARD_REG(FPGAIO_COUNTER);
}

int64_t board_wall_s(void)
{
    if (wall_at_init == INT64_MIN)
        return INT64_MIN;
    return wall_at_init + (int64_t)(ms64() / 1000u);
}

void board_idle(void)
{
    __asm volatile("wfi" ::: "memory");
}

/* ---- semihosting ----------------------------------------------------------------- */

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_READ 0x06u
#define SYS_FLEN 0x0Cu
#define SYS_TIME 0x11u
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define SYS_OPEN_MODE_RB 1u

/* One call: operation in r0, argument block address in r1, result in r0.
 * With semihosting off the BKPT traps; the fault handler answers -1 and
 * marks it absent, after which no call is attempted. */
static uint32_t semihost(uint32_t op, const void *arg)
{
    if (board_semihosting_absent)
        return UINT32_MAX;
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

bool board_host_read_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if (path == NULL || out_len == NULL || (buf == NULL && cap != 0))
        return false;
    uint32_t open_args[3] = {(uint32_t)(uintptr_t)path, SYS_OPEN_MODE_RB, (uint32_t)strlen(path)};
    uint32_t handle = semihost(SYS_OPEN, open_args);
    if (handle == UINT32_MAX)
        return false;
    bool ok = false;
    uint32_t handle_args[1] = {handle};
    uint32_t len = semihost(SYS_FLEN, handle_args);
    if (len != UINT32_MAX && len <= cap) {
        ok = true;
        if (len > 0) {
            /* SYS_READ answers the number of bytes *not* read. */
            uint32_t read_args[3] = {handle, (uint32_t)(uintptr_t)buf, len};
            ok = semihost(SYS_READ, read_args) == 0;
        }
    }
    (void)semihost(SYS_CLOSE, handle_args);
    if (ok)
        *out_len = len;
    return ok;
}

size_t board_cmdline(char *buf, size_t cap)
{
    if (buf == NULL || cap < 2)
        return 0;
    buf[0] = '\0';
    /* In: buffer and its size; out: the length written (without the NUL).
     * Fails when the command line and its NUL do not fit. */
    uint32_t args[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    if (semihost(SYS_GET_CMDLINE, args) != 0 || args[1] >= cap) {
        buf[0] = '\0';
        return 0;
    }
    buf[args[1]] = '\0';
    return strlen(buf);
}

_Noreturn void board_exit(int status)
{
    uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost(SYS_EXIT_EXTENDED, args);
    /* No host to tell: stop here. */
    __asm volatile("cpsid i" ::: "memory");
    for (;;)
        __asm volatile("wfi");
}

/* ---- stack ----------------------------------------------------------------------- */

extern uint32_t __stack_bottom[];
extern uint32_t __stack_top[];

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

size_t board_stack_used(void)
{
    /* The guard at the bottom (startup.c) is not readable. */
    const uint32_t *w = __stack_bottom + BOARD_STACK_GUARD / sizeof(uint32_t);
    while (w < __stack_top && *w == BOARD_STACK_PAINT)
        w++;
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)w);
}

/* ---- init -------------------------------------------------------------------------- */

void board_init(void)
{
    /* The FPGA counter counts the 25 MHz clock undivided. */
    BOARD_REG(FPGAIO_PRESCALE) = 0;

    uart_init(UART0_BASE);
    uart_init(UART1_BASE);
    console_blocked = false;

    /* SysTick: 1 kHz from the 25 MHz processor clock (CLKSOURCE = 1; 0
     * would be the 1 MHz reference), interrupt on, lowest priority. */
    BOARD_REG(SCB_SHPR3) = (BOARD_REG(SCB_SHPR3) & 0x00FFFFFFu) | 0xFF000000u;
    counts_last = BOARD_REG(FPGAIO_COUNTER);
    counts_total = 0;
    BOARD_REG(SYST_CSR) = 0;
    BOARD_REG(SYST_RVR) = BOARD_CPU_HZ / 1000u - 1u;
    BOARD_REG(SYST_CVR) = 0;
    BOARD_REG(SYST_CSR) = (1u << 2) | (1u << 1) | (1u << 0);
    __asm volatile("cpsie i" ::: "memory");

    /* The first semihosting call doubles as the probe: with semihosting
     * off it traps and comes back as -1 (startup.c). */
    uint32_t t = semihost(SYS_TIME, NULL);
    wall_at_init = t == UINT32_MAX ? INT64_MIN : (int64_t)t;
}

/* ---- logger ------------------------------------------------------------------------ */

static void put_repeat(char c, size_t n)
{
    while (n-- > 0)
        board_console_write(&c, 1);
}

static void put_field(const char *s, size_t len, size_t width, bool left)
{
    if (!left && width > len)
        put_repeat(' ', width - len);
    board_console_write(s, len);
    if (left && width > len)
        put_repeat(' ', width - len);
}

/* An integer with an optional sign, zero padding or space padding. */
static void put_number(uint64_t v, unsigned base, bool upper, bool negative, size_t width, bool zero,
                       bool left)
{
    char digits[24];
    size_t n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        /* 32-bit division while the value fits keeps libgcc's 64-bit
         * division off the common path. */
        if (v <= UINT32_MAX) {
            uint32_t w = (uint32_t)v;
            digits[n++] = set[w % base];
            v = w / base;
        } else {
            digits[n++] = set[v % base];
            v /= base;
        }
    } while (v != 0);
    size_t len = n + (negative ? 1u : 0u);
    if (!left && !zero && width > len)
        put_repeat(' ', width - len);
    if (negative)
        board_console_write("-", 1);
    if (!left && zero && width > len)
        put_repeat('0', width - len);
    while (n > 0)
        board_console_write(&digits[--n], 1);
    if (left && width > len)
        put_repeat(' ', width - len);
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static void board_vlog(const char *fmt, va_list ap)
{
    const char *p = fmt;
    while (*p != '\0') {
        if (*p != '%') {
            const char *start = p;
            while (*p != '\0' && *p != '%')
                p++;
            board_console_write(start, (size_t)(p - start));
            continue;
        }
        const char *spec = p++;
        bool left = false;
        bool zero = false;
        for (;; p++) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        size_t width = 0;
        if (*p == '*') {
            int w = va_arg(ap, int);
            if (w < 0) {
                left = true;
                w = -w;
            }
            width = (size_t)w;
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                width = width * 10u + (size_t)(*p++ - '0');
        }
        bool has_precision = false;
        size_t precision = 0;
        if (*p == '.') {
            has_precision = true;
            p++;
            if (*p == '*') {
                int pr = va_arg(ap, int);
                precision = pr < 0 ? 0 : (size_t)pr;
                has_precision = pr >= 0;
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    precision = precision * 10u + (size_t)(*p++ - '0');
            }
        }
        enum length length = LEN_INT;
        if (*p == 'h') {
            p++;
            length = LEN_SHORT;
            if (*p == 'h') {
                p++;
                length = LEN_CHAR;
            }
        } else if (*p == 'l') {
            p++;
            length = LEN_LONG;
            if (*p == 'l') {
                p++;
                length = LEN_LLONG;
            }
        } else if (*p == 'z' || *p == 't') {
            p++;
            length = LEN_SIZE;
        }
        char conv = *p;
        if (conv == '\0') {
            board_console_write(spec, (size_t)(p - spec));
            break;
        }
        p++;
        switch (conv) {
        case 'd':
        case 'i': {
            int64_t v;
            switch (length) {
            case LEN_LONG: v = va_arg(ap, long); break;
            case LEN_LLONG: v = va_arg(ap, long long); break;
            case LEN_SIZE: v = (int64_t)(int)va_arg(ap, size_t); break;
            case LEN_SHORT: v = (short)va_arg(ap, int); break;
            case LEN_CHAR: v = (signed char)va_arg(ap, int); break;
            default: v = va_arg(ap, int); break;
            }
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_number(mag, 10, false, v < 0, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v;
            switch (length) {
            case LEN_LONG: v = va_arg(ap, unsigned long); break;
            case LEN_LLONG: v = va_arg(ap, unsigned long long); break;
            case LEN_SIZE: v = va_arg(ap, size_t); break;
            case LEN_SHORT: v = (unsigned short)va_arg(ap, unsigned); break;
            case LEN_CHAR: v = (unsigned char)va_arg(ap, unsigned); break;
            default: v = va_arg(ap, unsigned); break;
            }
            put_number(v, conv == 'u' ? 10u : 16u, conv == 'X', false, width, zero, left);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            board_console_write("0x", 2);
            put_number(v, 16, false, false, 8, true, false);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_field(&c, 1, width, left);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            size_t len = 0;
            while ((!has_precision || len < precision) && s[len] != '\0')
                len++;
            put_field(s, len, width, left);
            break;
        }
        case '%':
            board_console_write("%", 1);
            break;
        default:
            /* Unknown: shown as written, so the mistake is visible. */
            board_console_write(spec, (size_t)(p - spec));
            break;
        }
    }
}

void board_log(const char *fmt, ...)
{
    if (fmt == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    board_vlog(fmt, ap);
    va_end(ap);
}
