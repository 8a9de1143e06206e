/*
 * lwIP architecture header for the mps2-an386 board (Cortex-M4,
 * arm-none-eabi-gcc, newlib-nano without its stdio).
 *
 * lwIP's defaults for the rest hold: little-endian, <stdint.h>,
 * <inttypes.h> and <limits.h> from the toolchain, format specifiers from
 * <inttypes.h> (which board_log understands, "l" and "h" modifiers
 * included).
 */
#ifndef HK_BOARD_ARCH_CC_H
#define HK_BOARD_ARCH_CC_H

#include <stdint.h>

/* Board functions lwIP's macros call (boards/mps2-an386/board.h and
 * lwip_port.c). Declared here rather than by including board.h so that
 * lwIP's compilation depends only on this file and lwipopts.h. */
void board_log(const char *fmt, ...);
_Noreturn void board_exit(int status);
uint32_t hk_lwip_rand(void);

/* Exit status of a failed lwIP assertion (board.h: BOARD_EXIT_ASSERT). */
#define HK_LWIP_ASSERT_EXIT 4

/* __FILE_NAME__ (GCC 12) keeps the build machine's directories out of the
 * image's strings. */
#if defined(__FILE_NAME__)
#define HK_LWIP_FILE __FILE_NAME__
#else
#define HK_LWIP_FILE __FILE__
#endif

/* Diagnostics go to the console (UART0); x is a parenthesised argument
 * list, e.g. LWIP_PLATFORM_DIAG(("pbuf %p\n", p)). Only used when
 * LWIP_DEBUG is defined. */
#define LWIP_PLATFORM_DIAG(x) do { board_log x; } while (0)

/* A failed assertion is a bug: say where, then stop the machine with a
 * non-zero exit status (QEMU exits with it), never continue. */
#define LWIP_PLATFORM_ASSERT(x)                                                  \
    do {                                                                         \
        board_log("lwIP assertion \"%s\" failed at %s:%d\n", (x), HK_LWIP_FILE, \
                  __LINE__);                                                     \
        board_exit(HK_LWIP_ASSERT_EXIT);                                         \
    } while (0)

/* Initial sequence numbers, local ports and DNS query ids
 * (lwip_port.c: xorshift seeded from the virtual-time counter and the
 * host's wall clock). */
#define LWIP_RAND() hk_lwip_rand()

/* Packed wire structures: lwIP's GCC default (__attribute__((packed))). The
 * Cortex-M4 performs the unaligned word and halfword loads this produces
 * (UNALIGN_TRP is clear at reset; GCC never uses LDRD/LDM on a packed
 * member). */

#endif /* HK_BOARD_ARCH_CC_H */
