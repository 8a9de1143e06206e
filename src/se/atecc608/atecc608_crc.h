/*
 * CRC-16 of the ATECC608A I/O groups (private to src/se/atecc608 and the
 * emulator, which share it on purpose: everything else in the emulator is
 * decoded independently of the driver).
 *
 * Polynomial 0x8005, initial value 0, data bits taken least significant bit
 * first, no final XOR; the low byte goes on the wire first. Check value for
 * "123456789" is 0xBCDD.
 */
#ifndef HK_ATECC608_CRC_H
#define HK_ATECC608_CRC_H

#include <stddef.h>
#include <stdint.h>

uint16_t hk_atecc608_crc16(const uint8_t *data, size_t len);

#endif /* HK_ATECC608_CRC_H */
