/*
 * lwIP's own TCP/IP stack for the tests of ports/lwip-sockets: Debian's
 * liblwip (lwIP's unix port: the tcpip thread, a TAP network interface
 * read by a thread of its own). Host test code.
 *
 * The TAP device must exist already (the test script creates it inside a
 * network namespace with the host-side address); lwIP attaches to it by
 * name and takes ip/24 with gw as its gateway.
 */
#ifndef HK_TEST_LWIP_STACK_H
#define HK_TEST_LWIP_STACK_H

#include <stdint.h>

/* 0 on success; -1 with a message on stderr. Once per process. */
int lwip_stack_start(const char *tap, const char *ip, const char *gw);

/* The clock and sleep hooks of hk_lwip_sockets_config for this process:
 * CLOCK_MONOTONIC in milliseconds plus ctx's uint32_t offset (so a test can
 * start the clock just before 2^32), and nanosleep. */
uint32_t lwip_stack_now_ms(void *ctx);
void lwip_stack_sleep_ms(void *ctx, uint32_t ms);
int64_t lwip_stack_wall_s(void *ctx);

#endif
