/*
 * lwIP 2.1.3 options for hubkey firmware on the mps2-an386 board (QEMU,
 * Cortex-M4, LAN9118 Ethernet on user networking).
 *
 * scripts/build-lwip-arm compiles lwIP with this file, and every firmware
 * target that includes an lwIP header sees the same file (boards/mps2-an386
 * is on their include path), so structure layouts agree on both sides. A
 * change here rebuilds lwIP (the file is part of the build stamp).
 *
 * Shape: one thread, no operating system (NO_SYS), raw callback API only,
 * every buffer from static pools, IPv4 with a static address (QEMU's user
 * network: 10.0.2.15/24, gateway and host 10.0.2.2, DNS 10.0.2.3).
 */
#ifndef HK_BOARD_LWIPOPTS_H
#define HK_BOARD_LWIPOPTS_H

/* --- system ------------------------------------------------------------------
 * NO_SYS: no threads, semaphores or mailboxes; the application's main loop
 * calls hk_lan9118_poll() and sys_check_timeouts(). Nothing touches lwIP
 * from an interrupt (the NIC is polled), so no critical sections either. */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1

/* --- APIs ---------------------------------------------------------------------
 * The raw API (tcp_new/tcp_connect/tcp_write/tcp_recv callbacks) is the
 * only one: sockets and netconn need an OS layer, and hubkey's platform
 * port (ports/lwip-raw) is written against the callbacks. */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0
#define LWIP_CALLBACK_API 1
#define LWIP_ALTCP 0

/* --- memory ----------------------------------------------------------------------
 * No C library heap anywhere in the image: lwIP's own heap (mem.c, a static
 * array of MEM_SIZE bytes) serves PBUF_RAM buffers, the pools (memp.c) are
 * static arrays too. */
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_USE_POOLS 0
#define MEM_ALIGNMENT 4
/* The heap carries what TCP copies for sending (TCP_SND_BUF, 5,840 bytes,
 * plus a header pbuf per segment), a packet queued behind an ARP request,
 * ICMP echo replies and DNS queries: 12 KB leaves room for all at once. */
#define MEM_SIZE (12 * 1024)

/* --- TCP ---------------------------------------------------------------------
 * Sizes chosen for TLS records carried over one connection at a time:
 *  - TCP_MSS 1460: a full Ethernet frame (1500 - 20 IP - 20 TCP).
 *  - TCP_WND 6 * MSS = 8,760 bytes: bounded by the NIC, not by TLS. The
 *    LAN9118's receive FIFO holds 10,560 bytes (QEMU: 2,640 words), six
 *    full-size frames with their status and CRC words, and QEMU drops a
 *    frame that does not fit (user networking delivers a whole window
 *    back to back, faster than any polling loop drains the FIFO). A window
 *    of six segments always fits, even if the firmware does not poll
 *    during the burst. Measured on the self-test's 100 KB transfer: with
 *    12 * MSS QEMU dropped frames and it took 1.5 s (the peer's
 *    retransmission timer); with 6 * MSS none were dropped and it took
 *    40-120 ms. A TLS record (at most 16,384 bytes of plaintext
 *    plus 29 of AES-GCM framing: 5 header, 8 explicit nonce, 16 tag) then
 *    arrives in two windows; the record does not have to fit in one,
 *    since mbedTLS reads it piecewise and the port acknowledges
 *    (tcp_recved) what it has copied out. hubkey's mbedTLS configuration
 *    asks for records of at most 2 KB (max_fragment_length) and holds at
 *    most 6 KB (docs/tls.md). No window scaling is needed.
 *  - TCP_SND_BUF 4 * MSS = 5,840 bytes: hubkey's largest outgoing TLS record
 *    is 2 KB plus 29 bytes (MBEDTLS_SSL_OUT_CONTENT_LEN 2048); four
 *    segments let a whole record and the next MQTT packet be queued before
 *    the first ACK comes back.
 *  - TCP_SND_QUEUELEN stays lwIP's default formula (16 pbufs for this
 *    buffer); MEMP_NUM_TCP_SEG must be at least that, plus segments parked
 *    on the out-of-sequence queue. */
#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (6 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)
#define MEMP_NUM_TCP_SEG 24
#define TCP_QUEUE_OOSEQ 1
#define LWIP_WND_SCALE 0
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_LISTEN_BACKLOG 0
/* A handful of connections: DPS, then the IoT Hub, one in TIME_WAIT from
 * the previous step, one spare; one listening PCB for tests that accept. */
#define MEMP_NUM_TCP_PCB 4
#define MEMP_NUM_TCP_PCB_LISTEN 1
/* Local ports and initial sequence numbers from LWIP_RAND (arch/cc.h). */
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1

/* --- receive buffers -----------------------------------------------------------
 * Each received frame is copied from the NIC's FIFO into one pool pbuf
 * (PBUF_POOL_BUFSIZE from lwIP's default: MSS + headers = 1,516 bytes, one
 * whole frame). 10 of them hold a full receive window of full-size segments
 * (6) that the application has not read yet, plus ARP, ICMP and DNS frames
 * arriving meanwhile: about 15 KB of RAM. A frame that finds the pool
 * empty is dropped at the driver and retransmitted by the peer, never a
 * failure. */
#define PBUF_POOL_SIZE 10
/* Pbufs that only reference data (tcp_write without TCP_WRITE_FLAG_COPY,
 * pbuf_ref chains). */
#define MEMP_NUM_PBUF 16

/* --- IPv4, ARP, ICMP, UDP, DNS ------------------------------------------------------
 * Static address on QEMU's user network, so no DHCP or AutoIP. No
 * fragmentation either way: the path MTU is Ethernet's and TCP's MSS keeps
 * every segment inside it; DNS queries and answers are small. */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ARP_TABLE_SIZE 4
/* One packet (the newest) waits per unresolved address: enough for a SYN
 * or a DNS query sent before the gateway's ARP answer. */
#define ARP_QUEUEING 0
#define ETH_PAD_SIZE 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_IGMP 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
/* UDP only for DNS: the firmware resolves its DPS and IoT Hub host names
 * through QEMU's resolver alias 10.0.2.3 (dns_setserver at run time). */
#define LWIP_UDP 1
#define MEMP_NUM_UDP_PCB 2
#define LWIP_DNS 1
#define DNS_TABLE_SIZE 2
#define DNS_MAX_SERVERS 1
#define DNS_MAX_NAME_LENGTH 128

/* --- network interface ---------------------------------------------------------------
 * One NIC (the LAN9118): the single-netif build drops the netif list walks. */
#define LWIP_SINGLE_NETIF 1
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0

/* --- checksums ------------------------------------------------------------------------
 * All in software: QEMU's LAN9118 has no checksum offload (and the real
 * board's LAN9220 offload is not used), so lwIP generates and checks every
 * IP, UDP, TCP and ICMP checksum. */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define LWIP_CHECKSUM_ON_COPY 0

/* --- diagnostics -------------------------------------------------------------------------
 * No statistics, no debug messages (LWIP_DEBUG undefined). Assertions stay
 * on: on this test board a broken invariant (a port misusing the raw API,
 * for instance) ends the run with a message and a non-zero exit status
 * (arch/cc.h) instead of corrupting memory quietly. */
#define LWIP_STATS 0
#define LWIP_STATS_DISPLAY 0

#endif /* HK_BOARD_LWIPOPTS_H */
