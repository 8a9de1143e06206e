/*
 * ATECC608A execution times. A file of its own so that the builders and the
 * transaction both call the one lookup instead of each carrying an inlined
 * copy of it.
 */
#include "common/hk_common.h"
#include "hubkey/atecc608.h"

/* Execution times in ms per opcode for the three clock-divider modes
 * (ChipMode bits 7..3 = 0x00 / 0x28 / 0x68). These are the fixed waits that
 * Microchip's own library uses when it does not poll, so they are upper
 * bounds for the polling loop. Every M0 time fits a byte and most commands
 * take the same time in all modes, so the table is three rows: the opcodes,
 * their M0 times, and M1/M2 times only for the first SLOWER opcodes, whose
 * times grow with the divider. */
#define SLOWER 8u
#define OPCODES 22u
static const struct {
    uint8_t op[OPCODES];
    uint8_t m0[OPCODES];
    uint16_t m12[SLOWER][2];
} exec = {
    {
        0x15, 0x40, 0x41, 0x43, 0x45, 0x47, 0x77, 0x80, /* GenDig GenKey Sign ECDH Verify SHA SelfTest SecureBoot */
        0x02, 0x08, 0x12, 0x16, 0x17, 0x1B, 0x1C,       /* Read MAC Write Nonce Lock Random DeriveKey */
        0x20, 0x24, 0x28, 0x30, 0x46, 0x51, 0x56,       /* UpdateExtra Counter CheckMac Info PrivWrite AES KDF */
    },
    {
        25, 115, 115, 75, 105, 36, 250, 80,
        5, 55, 45, 20, 35, 23, 50,
        10, 25, 40, 5, 50, 27, 165,
    },
    {
        {35, 35}, {215, 653}, {220, 665}, {172, 531}, {295, 1085}, {42, 75}, {625, 2324},
        {160, 480},
    },
};

#define EXEC_MS_LONGEST 2324u

uint16_t hk_atecc608_exec_ms(uint8_t opcode, unsigned clock_mode)
{
    if (clock_mode <= 2)
        for (size_t i = 0; i < OPCODES; i++)
            if (exec.op[i] == opcode)
                return clock_mode == 0 || i >= SLOWER ? exec.m0[i] : exec.m12[i][clock_mode - 1];
    return EXEC_MS_LONGEST;
}
