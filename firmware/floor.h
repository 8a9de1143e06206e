/*
 * hubkey firmware — the crypto floor: the work no TLS 1.2 client of this
 * cloud can avoid in one handshake (an ECDHE P-256 key pair, one shared
 * secret, and the RSA verifications of the server's chain and of its
 * ServerKeyExchange signature), each operation run alone in the firmware
 * that also ran the boot, so "boot instructions / floor" compares like with
 * like (docs/performance.md).
 *
 * Measured in 25 MHz ticks of the board's counter: under QEMU's
 * -icount shift=0 one tick is 40 instructions. Printed as one "floor:" line.
 */
#ifndef HUBKEY_FW_FLOOR_H
#define HUBKEY_FW_FLOOR_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/se.h"

/* trust_pem: the PEM trust store the run used (its first certificate is an
 * RSA root whose own signature stands in for one RSA verification), with
 * its NUL counted in trust_len; NULL/0 = no RSA figure. */
void fw_floor_measure(const hk_se *se, const uint8_t *trust_pem, size_t trust_len);

#endif /* HUBKEY_FW_FLOOR_H */
