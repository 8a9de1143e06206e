#include "se/atecc608/atecc608_crc.h"

/* Bitwise rather than table-driven: groups are at most 155 bytes and a
 * 512-byte table would cost more flash than the whole codec. */
uint16_t hk_atecc608_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        for (uint8_t mask = 0x01; mask != 0; mask = (uint8_t)(mask << 1)) {
            unsigned data_bit = (data[i] & mask) ? 1u : 0u;
            unsigned crc_bit = (crc >> 15) & 1u;
            crc = (uint16_t)(crc << 1);
            if (data_bit != crc_bit)
                crc ^= 0x8005;
        }
    }
    return crc;
}
