/*
 * The emulated ATECC608A behind a process boundary, for benchmarks.
 *
 * Why a second process: the emulator links Debian's mbedTLS 2.28 crypto
 * and allocates, so in the benchmark driver's process it would (a) clash
 * with the mbedTLS 3.6 build and (b) add its own heap to the device's heap
 * figure. hkb_chip_server (a small program) owns the emulator and answers
 * I2C transfers on its standard input/output; the driver's side is an
 * hk_i2c (hubkey/i2c.h), so the real ATECC608A driver and hk_se over it run
 * in the driver's process exactly as on a device.
 *
 * Wire format on the pipes (little-endian integers):
 *   request:  op(1) ...
 *     'W' write:    addr7(1) len(2) bytes[len]     -> result(4)
 *     'R' read:     addr7(1) len(2)                -> result(4) [bytes[len] when result is 0]
 *     'K' wake:                                    -> result(4)
 *     'D' delay_us: us(4)                          -> result(4)
 *     'C' counters:                                -> len(2) JSON text[len]
 *     'Z' reset the counters:                      -> result(4)
 *   result is an hk_result value.
 * End of input ends the server (the chip file is saved by the emulator's
 * autosave on every EEPROM change, as the agent does).
 */
#ifndef HKB_CHIP_H
#define HKB_CHIP_H

#include <stddef.h>
#include <sys/types.h>

#include "hubkey/i2c.h"

#define HKB_CHIP_MAX_TRANSFER 1024u
#define HKB_CHIP_COUNTERS_MAX 4096u

typedef struct hkb_chip {
    pid_t pid;
    int to_fd;   /* requests */
    int from_fd; /* answers */
    unsigned long transfers; /* I2C operations sent over the pipe */
} hkb_chip;

/* Starts server_path with the chip state file (which must exist). 0 or -1. */
int hkb_chip_spawn(hkb_chip *chip, const char *server_path, const char *chip_file);

/* The chip as an I2C port, valid until hkb_chip_close. */
hk_i2c hkb_chip_i2c(hkb_chip *chip);

/* The emulator's counters as a JSON object (NUL-terminated). 0 or -1. */
int hkb_chip_counters(hkb_chip *chip, char *out, size_t cap);

/* Zero the emulator's counters. 0 or -1. */
int hkb_chip_counters_reset(hkb_chip *chip);

/* Ends the server and waits for it. */
void hkb_chip_close(hkb_chip *chip);

/* Read or write exactly len bytes of a pipe (retrying on EINTR): 0, or -1
 * when the pipe closed or failed. Both ends of the chip protocol use them. */
int hkb_read_all(int fd, void *buf, size_t len);
int hkb_write_all(int fd, const void *buf, size_t len);

#endif
