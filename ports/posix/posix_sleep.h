/*
 * The POSIX port's one sleep primitive (private to ports/posix). Both delays
 * of the platform surface use it: hk_platform.wait with no socket, and
 * hk_i2c.delay_us of the /dev/i2c-N port.
 */
#ifndef HK_POSIX_SLEEP_H
#define HK_POSIX_SLEEP_H

#include <stdint.h>

/* Sleeps at least us microseconds of CLOCK_MONOTONIC (an absolute deadline,
 * so signals that interrupt the sleep do not shorten or stretch it). */
void hk_posix_sleep_us(uint64_t us);

#endif /* HK_POSIX_SLEEP_H */
