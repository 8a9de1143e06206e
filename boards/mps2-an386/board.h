/*
 * mps2-an386 board support (QEMU `-M mps2-an386`: Cortex-M4 at 25 MHz,
 * CMSDK UARTs, LAN9118 Ethernet), bare metal, for hubkey firmware images.
 *
 * What the board gives an application:
 *   - time: milliseconds (the FPGA's 25 MHz counter, extended by a 1 kHz
 *     SysTick), the 25 MHz counter itself, and
 *     the host's wall clock (semihosting) advanced by the millisecond count;
 *   - a console on UART0 (first `-serial`, or stdio with -nographic) and a
 *     printf-like logger on it;
 *   - a raw byte line on UART1 (second `-serial`): the chip bridge;
 *   - the host through semihosting (QEMU `-semihosting-config
 *     enable=on,target=native`): read a file, the command line, exit with
 *     a status;
 *   - the main stack's high-water mark.
 * The start-up code (startup.c) sets up the FPU, .data, .bss and the stack
 * pattern and calls main(); main() calls board_init() first.
 *
 * One thread of execution, no interrupts other than SysTick (which only
 * counts) and the fault handlers. Nothing here allocates.
 *
 * Semihosting: every board_* function that talks to the host (board_wall_s
 * at init, board_host_read_file, board_cmdline, board_exit) needs QEMU's
 * semihosting enabled; without it the BKPT instruction becomes a HardFault,
 * which the fault handler reports before it tries to exit. board_init()
 * reads the wall clock only when semihosting is enabled, which it detects
 * safely (see board.c).
 *
 * Exit statuses of the board itself (QEMU exits with them):
 *   BOARD_EXIT_FAULT   a HardFault, MemManage, BusFault or UsageFault;
 *   BOARD_EXIT_ASSERT  a failed lwIP assertion (arch/cc.h).
 */
#ifndef HK_BOARD_H
#define HK_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOARD_EXIT_FAULT 3
#define BOARD_EXIT_ASSERT 4

/* CPU (SYSCLK) frequency: SysTick, UARTs and the FPGA counter run on it. */
#define BOARD_CPU_HZ 25000000u

/* Clocks, SysTick (1 kHz from the CPU clock), UART0 and UART1 (115200 8N1
 * on hardware; QEMU ignores the rate), the wall-clock reading. Call once,
 * first thing in main(). */
void board_init(void);

/* Milliseconds since board_init(); wraps at 2^32 (49.7 days): compare with
 * (uint32_t)(a - b). Counted on the 25 MHz counter, which the 1 kHz SysTick
 * interrupt extends to 64 bits (board.c says why not by counting ticks), so
 * it follows QEMU's virtual clock exactly. */
uint32_t board_ms(void);

/* The FPGA IO COUNTER (0x4002_8018, prescaler 0): a free-running 25 MHz
 * virtual-time counter, wraps every 171.8 s. Under `-icount shift=0` one
 * count is 40 guest instructions. */
uint32_t board_counter_25mhz(void);

/* Host wall clock in seconds since 1970: semihosting SYS_TIME read once by
 * board_init(), plus board_ms() since then. INT64_MIN when semihosting is
 * not enabled or the host gave no time. */
int64_t board_wall_s(void);

/* printf-like output to UART0. Conversions: %s %c %d %i %u %x %X %p %%,
 * with the length modifiers hh h l ll z (so %lu %ld %lx %zu and
 * <inttypes.h>'s PRIu32 etc.), a '-' flag (left-justify), a '0' flag and a
 * field width on every numeric conversion and %s, and a precision on %s
 * (%.*s included). %p prints 0x and 8 hex digits. A NULL %s prints
 * "(null)". An unknown conversion is printed as is. Output is written
 * character by character; nothing is buffered or allocated. */
void board_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* n bytes to UART0 as they are (no newline translation). */
void board_console_write(const char *s, size_t n);

/* UART1, a raw 8-bit byte line (the chip bridge). board_line_read copies
 * the bytes available now (at most cap; the CMSDK UART holds one byte, so
 * QEMU hands over the next as soon as the previous one is read) into buf and
 * returns their count; 0 = none now. Never blocks. */
size_t board_line_read(uint8_t *buf, size_t cap);

/* Sends all n bytes on UART1. Each byte waits for the transmitter for a
 * bounded time (BOARD_LINE_TX_SPIN polls); false if it stayed full that
 * long (the host end stopped reading): some bytes may have gone out. */
#define BOARD_LINE_TX_SPIN 1000000u
bool board_line_write(const uint8_t *buf, size_t n);

/* Reads a whole host file (semihosting SYS_OPEN "rb", SYS_FLEN, SYS_READ,
 * SYS_CLOSE) into buf. true with *out_len set when the file was read
 * completely and fits in cap bytes; false on any error (no such file,
 * semihosting off, a short read) or if the file is larger than cap.
 * *out_len is 0 on failure. */
bool board_host_read_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len);

/* The semihosting command line (QEMU: `-semihosting-config ...,arg=A,arg=B`
 * gives "A B"; with -kernel and no arg= it is the kernel file name) as a
 * NUL-terminated string in buf. Returns its length (without the NUL); 0 if
 * there is none, semihosting is off, or it does not fit in cap - 1 bytes. */
size_t board_cmdline(char *buf, size_t cap);

/* Ends the run: semihosting SYS_EXIT_EXTENDED {ADP_Stopped_ApplicationExit,
 * status}, so QEMU exits with status (0-255 as the host sees it). If
 * semihosting is off, stops the CPU (interrupts off, WFI forever). */
_Noreturn void board_exit(int status);

/* Bytes of the main stack ever used: the stack is painted with a pattern
 * at reset; this finds the deepest word overwritten. */
size_t board_stack_used(void);

/* Size of the main stack region (link.ld: 32 KiB unless the image sets
 * another with hk_firmware_image STACK_SIZE). */
size_t board_stack_size(void);

/* Nothing to do until the next interrupt (at the latest the next SysTick):
 * WFI. Under QEMU without -icount the CPU sleeps in host time; with
 * `-icount shift=N` and the default sleep=on, virtual time advances with
 * host time while idle; with sleep=off it jumps to the next timer deadline
 * (QEMU 7.2 was seen to advance twice the SysTick period per idle period
 * then, so board_ms() runs ahead of instruction-count time while the
 * firmware idles). Measurements by instruction count must not idle. */
void board_idle(void);

#endif /* HK_BOARD_H */
