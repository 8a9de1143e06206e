/*
 * Start-up for the mps2-an386 board: the vector table, the reset handler
 * and the fault handlers.
 *
 * Reset: QEMU loads MSP from word 0 and the reset PC from word 1 of the
 * table at VTOR = 0 (link.ld places .isr_vector at 0x0). The reset handler
 * enables the FPU first, in assembly, before any compiled C code runs:
 * with the FPU off every VFP instruction is a UsageFault (NOCP), and GCC
 * emits them even in integer code when an object is built for the hard-float
 * ABI. Then, in C: .data copied from its load image, .bss zeroed, the unused
 * part of the stack painted for board_stack_used(), the configurable faults
 * enabled and the MPU's stack guards set, main() called; if main returns,
 * its value is the exit status.
 *
 * Faults: HardFault, MemManage, BusFault and UsageFault share one entry. It
 * switches to a small stack of its own (a stack overflow is itself a common
 * cause of the fault), prints the stacked registers and the fault status
 * registers on UART0 and ends the run with BOARD_EXIT_FAULT, so a fault
 * fails a test loudly instead of hanging it. One exception is handled and
 * resumed: a semihosting call (BKPT 0xAB) when QEMU's semihosting is off,
 * which becomes a HardFault; it returns -1 to the caller instead
 * (board.c: semihosting detection).
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "board_internal.h"

int main(void);

/* Symbols of link.ld. */
extern uint32_t __stack_top[];
extern uint32_t __stack_bottom[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern const uint32_t __data_load[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];

void Reset_Handler(void);
void board_reset_c(void);
void Default_Handler(void);
void board_fault_entry(void);
void board_fault_report(uint32_t *frame, uint32_t exc_return);
void SysTick_Handler(void);

/* ---- reset ------------------------------------------------------------------- */

/* CPACR (0xE000ED88): CP10 and CP11 full access = bits 23:20 set. The DSB
 * and ISB make the change visible before the next instruction. */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile("ldr r0, =0xE000ED88\n"
                   "ldr r1, [r0]\n"
                   "orr r1, r1, #0x00F00000\n"
                   "str r1, [r0]\n"
                   "dsb\n"
                   "isb\n"
                   "b board_reset_c\n");
}

__attribute__((noreturn, used)) void board_reset_c(void)
{
    size_t data_bytes = (size_t)((uintptr_t)__data_end - (uintptr_t)__data_start);
    size_t bss_bytes = (size_t)((uintptr_t)__bss_end - (uintptr_t)__bss_start);
    memcpy(__data_start, __data_load, data_bytes);
    memset(__bss_start, 0, bss_bytes);

    /* Paint from the bottom of the stack up to a little below where this
     * function's frame is: everything above is in use now. */
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *w = __stack_bottom; w < sp - 16; w++)
        *w = BOARD_STACK_PAINT;

    /* MemManage, BusFault and UsageFault as themselves (not escalated to
     * HardFault), so the report names the fault; integer division by zero
     * traps instead of giving 0. */
    BOARD_REG(SCB_SHCSR) |= (1u << 16) | (1u << 17) | (1u << 18);
    BOARD_REG(SCB_CCR) |= 1u << 4;

    /* Stack guard: the stack grows down towards 0x2000_0000, and QEMU's
     * machine reads zeros and ignores writes just below it, so an overflow
     * would go unnoticed. Two MPU regions, no access and execute never:
     * region 0, the lowest BOARD_STACK_GUARD bytes of the stack; region 1,
     * the 16 MiB below RAM (0x1F00_0000-0x1FFF_FFFF, nothing of the board
     * there), so a frame too large to touch the small guard still faults
     * at its first push. Everything else keeps the default memory map
     * (PRIVDEFENA; all code runs privileged). HFNMIENA stays 0: the
     * HardFault handler runs without the MPU. */
    BOARD_REG(MPU_RNR) = 0;
    BOARD_REG(MPU_RBAR) = (uint32_t)(uintptr_t)__stack_bottom;
    BOARD_REG(MPU_RASR) = (1u << 28) /* XN */ | (0u << 24) /* AP: none */ |
                          ((uint32_t)(__builtin_ctz(BOARD_STACK_GUARD) - 1) << 1) | 1u;
    BOARD_REG(MPU_RNR) = 1;
    BOARD_REG(MPU_RBAR) = BOARD_BELOW_RAM_GUARD_BASE;
    BOARD_REG(MPU_RASR) = (1u << 28) | (0u << 24) |
                          ((uint32_t)(__builtin_ctz(BOARD_BELOW_RAM_GUARD_SIZE) - 1) << 1) | 1u;
    BOARD_REG(MPU_CTRL) = (1u << 2) /* PRIVDEFENA */ | 1u /* ENABLE */;

    /* Relocation-proof: the table is wherever the linker put .isr_vector. */
    extern const uint32_t board_vectors[];
    BOARD_REG(SCB_VTOR) = (uint32_t)(uintptr_t)board_vectors;
    __asm volatile("dsb\nisb" ::: "memory");

    int status = main();
    board_exit(status);
}

/* ---- vector table ------------------------------------------------------------- */

/* Unexpected interrupts are reported like faults: nothing enables one this
 * board does not handle, so one arriving is a bug. */
__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile("b board_fault_entry\n");
}

/* 16 system exceptions, then the 32 external interrupts of the machine. */
__attribute__((section(".isr_vector"), used)) const uint32_t board_vectors[16 + 32] = {
    [0] = (uint32_t)(uintptr_t)__stack_top,
    [1] = (uint32_t)(uintptr_t)Reset_Handler,
    [2] = (uint32_t)(uintptr_t)Default_Handler, /* NMI (the watchdog) */
    [3] = (uint32_t)(uintptr_t)board_fault_entry,  /* HardFault */
    [4] = (uint32_t)(uintptr_t)board_fault_entry,  /* MemManage */
    [5] = (uint32_t)(uintptr_t)board_fault_entry,  /* BusFault */
    [6] = (uint32_t)(uintptr_t)board_fault_entry,  /* UsageFault */
    [11] = (uint32_t)(uintptr_t)Default_Handler, /* SVCall */
    [12] = (uint32_t)(uintptr_t)Default_Handler, /* DebugMonitor */
    [14] = (uint32_t)(uintptr_t)Default_Handler, /* PendSV */
    [15] = (uint32_t)(uintptr_t)SysTick_Handler,
    [16 ... 47] = (uint32_t)(uintptr_t)Default_Handler,
};

/* ---- faults ------------------------------------------------------------------ */

/* The fault handler's own stack (8-byte aligned as the AAPCS wants);
 * board_fault_entry loads its top as board_fault_stack + 1024. */
__attribute__((used)) uint64_t board_fault_stack[128];
_Static_assert(sizeof board_fault_stack == 1024, "board_fault_entry's stack top");

/* Entry for every fault: r0 = the exception frame (from MSP or PSP, as
 * EXC_RETURN bit 2 says), r1 = EXC_RETURN; the original MSP is kept on the
 * fault stack. board_fault_report returns only when it resumed a
 * semihosting call; then MSP is restored and the exception returns. */
__attribute__((naked)) void board_fault_entry(void)
{
    __asm volatile("tst lr, #4\n"
                   "ite eq\n"
                   "mrseq r0, msp\n"
                   "mrsne r0, psp\n"
                   "mov r1, lr\n"
                   "mrs r2, msp\n"
                   "ldr r3, =board_fault_stack + 1024\n"
                   "mov sp, r3\n"
                   "push {r1, r2}\n"
                   "bl board_fault_report\n"
                   "pop {r1, r2}\n"
                   "msr msp, r2\n"
                   "bx r1\n");
}

static const char *exception_name(uint32_t ipsr)
{
    switch (ipsr) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 11: return "SVCall";
    case 12: return "DebugMonitor";
    case 14: return "PendSV";
    default: return ipsr >= 16 ? "IRQ" : "exception";
    }
}

__attribute__((used)) void board_fault_report(uint32_t *frame, uint32_t exc_return)
{
    uint32_t cfsr = BOARD_REG(SCB_CFSR);
    uint32_t hfsr = BOARD_REG(SCB_HFSR);
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;

    /* Stacking errors (MSTKERR, STKERR) mean the frame could not be
     * written: reading it would fault again, inside this handler. */
    bool frame_ok = (cfsr & ((1u << 4) | (1u << 12))) == 0;

    /* A semihosting call with semihosting off: QEMU raises a HardFault
     * (HFSR FORCED or DEBUGEVT, no configurable fault) at the BKPT 0xAB
     * (0xBEAB). Answer -1 in r0 and resume after it. The PC is only
     * dereferenced when it lies in the code SSRAM. */
    uint32_t pc = frame_ok ? frame[6] : 0u;
    if (ipsr == 3 && frame_ok && cfsr == 0 && (hfsr & ((1u << 31) | (1u << 30))) != 0 &&
        pc < 0x00400000u && (pc & 1u) == 0 &&
        *(const volatile uint16_t *)(uintptr_t)pc == 0xBEABu) {
        board_semihosting_absent = true;
        frame[0] = UINT32_MAX;
        frame[6] = pc + 2u;
        BOARD_REG(SCB_HFSR) = (1u << 31) | (1u << 30); /* write 1 to clear */
        BOARD_REG(SCB_DFSR) = 0x1Fu;                   /* BKPT and the other debug events */
        return;
    }

    board_console_force_enable();
    board_log("\n*** %s (exception %lu)\n", exception_name(ipsr), (unsigned long)ipsr);
    if (frame_ok) {
        board_log("  r0  =0x%08lx r1 =0x%08lx r2 =0x%08lx r3  =0x%08lx\n",
                  (unsigned long)frame[0], (unsigned long)frame[1], (unsigned long)frame[2],
                  (unsigned long)frame[3]);
        board_log("  r12 =0x%08lx lr =0x%08lx pc =0x%08lx xpsr=0x%08lx\n",
                  (unsigned long)frame[4], (unsigned long)frame[5], (unsigned long)frame[6],
                  (unsigned long)frame[7]);
    } else {
        board_log("  (exception frame not readable: stacking failed, sp=%p)\n", (void *)frame);
    }
    board_log("  CFSR=0x%08lx HFSR=0x%08lx MMFAR=0x%08lx BFAR=0x%08lx EXC_RETURN=0x%08lx\n",
              (unsigned long)cfsr, (unsigned long)hfsr, (unsigned long)BOARD_REG(SCB_MMFAR),
              (unsigned long)BOARD_REG(SCB_BFAR), (unsigned long)exc_return);
    board_log("  sp=%p stack used %zu of %zu bytes\n", (void *)frame, board_stack_used(),
              board_stack_size());
    board_exit(BOARD_EXIT_FAULT);
}
