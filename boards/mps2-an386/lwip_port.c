/*
 * What lwIP (NO_SYS) asks of the platform: sys_now() and LWIP_RAND()
 * (arch/cc.h).
 */
#include <stdint.h>

#include "arch/cc.h"
#include "board.h"
#include "lwip/sys.h"

u32_t sys_now(void)
{
    return board_ms();
}

/* xorshift32 (Marsaglia). lwIP draws initial sequence numbers, the first
 * local port and DNS query ids from it: they must differ between boots,
 * they need not be secret (TLS carries the security). Seeded on first use
 * from the 25 MHz virtual-time counter and the host's wall clock. */
static uint32_t rand_state;

uint32_t hk_lwip_rand(void)
{
    if (rand_state == 0) {
        int64_t wall = board_wall_s();
        uint32_t seed = board_counter_25mhz() ^ (uint32_t)wall ^ (uint32_t)((uint64_t)wall >> 32);
        rand_state = seed != 0 ? seed : 0x9E3779B9u;
    }
    uint32_t x = rand_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rand_state = x;
    return x;
}
