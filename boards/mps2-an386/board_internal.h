/*
 * Registers and shared state of the board code (startup.c, board.c,
 * lan9118.c). Not for applications.
 */
#ifndef HK_BOARD_INTERNAL_H
#define HK_BOARD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#define BOARD_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control space (ARMv7-M). */
#define SCB_ICSR 0xE000ED04u
#define SCB_VTOR 0xE000ED08u
#define SCB_CCR 0xE000ED14u
#define SCB_SHPR3 0xE000ED20u
#define SCB_SHCSR 0xE000ED24u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_DFSR 0xE000ED30u
#define SCB_MMFAR 0xE000ED34u
#define SCB_BFAR 0xE000ED38u
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define MPU_CTRL 0xE000ED94u
#define MPU_RNR 0xE000ED98u
#define MPU_RBAR 0xE000ED9Cu
#define MPU_RASR 0xE000EDA0u
#define NVIC_ICER0 0xE000E180u
#define NVIC_ICPR0 0xE000E280u

/* FPGA IO block. */
#define FPGAIO_COUNTER 0x40028018u
#define FPGAIO_PRESCALE 0x4002801Cu

/* Bytes at the bottom of the stack that the MPU makes inaccessible
 * (startup.c): an overflow into them is a MemManage fault. */
#define BOARD_STACK_GUARD 32u
/* The 16 MiB below RAM, also inaccessible (startup.c). */
#define BOARD_BELOW_RAM_GUARD_BASE 0x1F000000u
#define BOARD_BELOW_RAM_GUARD_SIZE 0x01000000u

/* Word the start-up code paints the unused stack with. */
#define BOARD_STACK_PAINT 0xC5ACCE55u

/* Set by the fault handler when a semihosting call trapped because QEMU's
 * semihosting is off (startup.c); semihosting calls are skipped from then
 * on. */
extern volatile bool board_semihosting_absent;

/* Turns UART0's transmitter on even if board_init() has not run (a fault
 * early in start-up). */
void board_console_force_enable(void);

#endif /* HK_BOARD_INTERNAL_H */
