/*
 * LAN9118 Ethernet controller (QEMU's model on mps2-an386, base
 * 0x4020_0000) as an lwIP network interface, polled (NO_SYS, no
 * interrupts).
 *
 * Use:
 *   struct netif nif;
 *   lwip_init();
 *   netif_add(&nif, &ip, &mask, &gw, NULL, hk_lan9118_netif_init, ethernet_input);
 *   netif_set_default(&nif);
 *   netif_set_up(&nif);
 *   for (;;) { hk_lan9118_poll(&nif); sys_check_timeouts(); ... }
 *
 * hk_lan9118_netif_init resets the controller, checks it is a LAN9118
 * family part (BYTE_TEST, ID_REV), takes the MAC address the controller
 * loaded from its EEPROM (ADDRL/ADDRH; QEMU: 52:54:00:12:34:56 unless
 * `-nic user,mac=...`), enables the receiver and transmitter and reads the
 * PHY's link state into the netif (NETIF_FLAG_LINK_UP). It returns ERR_IF
 * when no controller answers or no valid unicast MAC address is found.
 * There is one controller, so one netif at a time (the driver's state is
 * static); the netif's `state` is not used.
 *
 * Received frames are copied out of the controller's FIFO into PBUF_POOL
 * pbufs and given to netif->input; frames sent are copied from the pbuf
 * chain into the TX FIFO. When the pool is empty a received frame is
 * dropped (and counted); TCP's retransmission recovers it.
 */
#ifndef HK_BOARD_LAN9118_H
#define HK_BOARD_LAN9118_H

#include <stdint.h>

#include "lwip/err.h"
#include "lwip/netif.h"

/* netif_add's init callback. */
err_t hk_lan9118_netif_init(struct netif *netif);

/* Receives every frame the controller holds now (at most
 * HK_LAN9118_POLL_MAX per call) and passes each to netif->input; every
 * HK_LAN9118_LINK_POLL_MS it also re-reads the PHY link state and calls
 * netif_set_link_up/down on a change. Never blocks. */
#define HK_LAN9118_POLL_MAX 16
#define HK_LAN9118_LINK_POLL_MS 500u
void hk_lan9118_poll(struct netif *netif);

/* Counters since hk_lan9118_netif_init. */
struct hk_lan9118_stats {
    uint32_t rx_frames;  /* given to netif->input */
    uint32_t rx_dropped; /* no pbuf, bad status or bad length */
    uint32_t tx_frames;  /* written to the TX FIFO */
    uint32_t tx_errors;  /* too long, FIFO full, or an error status */
};
void hk_lan9118_get_stats(struct hk_lan9118_stats *out);

#endif /* HK_BOARD_LAN9118_H */
