#define _POSIX_C_SOURCE 200809L

#include "posix_sleep.h"

#include <errno.h>
#include <time.h>

void hk_posix_sleep_us(uint64_t us)
{
    struct timespec until;
    if (clock_gettime(CLOCK_MONOTONIC, &until) != 0)
        return;
    until.tv_sec += (time_t)(us / 1000000u);
    until.tv_nsec += (long)(us % 1000000u) * 1000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
}
