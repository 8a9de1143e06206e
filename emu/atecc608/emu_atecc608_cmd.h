/*
 * Private to emu/atecc608: the commands (emu_atecc608_cmd.c), called by the
 * I/O front-end (emu_atecc608.c) when a complete input group has arrived.
 * The commands use only the model helpers and crypto below them
 * (emu_atecc608_internal.h), never the front-end.
 */
#ifndef HK_EMU_ATECC608_CMD_H
#define HK_EMU_ATECC608_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu_atecc608_internal.h"

/* Executes one complete input group whose CRC and count were already
 * checked; fills emu->out with the response group. Returns true when the
 * EEPROM changed (autosave wanted). May set emu->state to OFF (injected
 * power loss): then no response is produced. */
bool emu_cmd_execute(hk_emu_atecc608 *emu, const uint8_t *group, size_t len);

/* Busy time of an opcode in microseconds (before exec_time_percent). */
uint32_t emu_cmd_exec_time_us(const hk_emu_atecc608 *emu, uint8_t opcode);

#endif /* HK_EMU_ATECC608_CMD_H */
