/*
 * LAN9118 driver for lwIP (contract in lan9118.h).
 *
 * Register map and behaviour from SMSC's LAN9118 data sheet as QEMU 7.2
 * models it (hw/net/lan9118.c); what QEMU does differently from the chip
 * is noted where the driver depends on it:
 *   - TX: command A, command B, then the data words. End alignment must be
 *     0 (4-byte): QEMU computes the padding from the wrong field and would
 *     take pad words as the next command A. With data start offset 0 and
 *     one buffer per frame (first and last segment), no padding is needed.
 *     QEMU sends the frame when the last word arrives and pushes a status
 *     word; the chip would stop transmitting once the status FIFO is full,
 *     so statuses are popped after every frame.
 *   - RX: the status word's length includes the 4-byte CRC (QEMU appends
 *     one), and ceil(length / 4) data words must be read per frame (RX_CFG
 *     = 0: no offset, 4-byte end alignment).
 *   - IRQ line: QEMU drives it inverted unless IRQ_CFG has both IRQ_TYPE
 *     and IRQ_POL set, and makes NVIC IRQ 13 pending on the first register
 *     write. The driver polls, so IRQ_CFG gets TYPE|POL with the output
 *     disabled and IRQ 13 stays disabled and cleared.
 *   - MAC_CSR and MII accesses complete at once in QEMU (busy never reads
 *     1); the driver still waits, bounded, as the chip needs.
 */
#include "lan9118.h"

#include <stdbool.h>
#include <string.h>

#include "board.h"
#include "board_internal.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"

#define LAN_BASE 0x40200000u
#define LAN_REG(off) BOARD_REG(LAN_BASE + (off))

#define RX_DATA_FIFO 0x00u
#define TX_DATA_FIFO 0x20u
#define RX_STATUS_FIFO 0x40u
#define TX_STATUS_FIFO 0x48u
#define ID_REV 0x50u
#define IRQ_CFG 0x54u
#define INT_STS 0x58u
#define INT_EN 0x5Cu
#define BYTE_TEST 0x64u
#define RX_CFG 0x6Cu
#define TX_CFG 0x70u
#define HW_CFG 0x74u
#define RX_DP_CTRL 0x78u
#define RX_FIFO_INF 0x7Cu
#define TX_FIFO_INF 0x80u
#define PMT_CTRL 0x84u
#define MAC_CSR_CMD 0xA4u
#define MAC_CSR_DATA 0xA8u
#define E2P_CMD 0xB0u
#define E2P_DATA 0xB4u

#define BYTE_TEST_VALUE 0x87654321u
#define IRQ_CFG_TYPE (1u << 0) /* push-pull */
#define IRQ_CFG_POL (1u << 4)  /* active high */
#define HW_CFG_SRST (1u << 0)
#define PMT_CTRL_READY (1u << 0)
#define TX_CFG_TX_ON (1u << 1)
#define RX_DP_CTRL_FFWD (1u << 31)
#define CSR_BUSY (1u << 31)
#define CSR_READ (1u << 30)
#define E2P_BUSY (1u << 31)
#define E2P_TIMEOUT (1u << 9)
#define E2P_MAC_LOADED (1u << 8)
#define STATUS_ES (1u << 15) /* error summary, RX and TX status */

/* MAC control and status registers (through MAC_CSR_CMD/DATA). */
#define MAC_CR 1u
#define MAC_ADDRH 2u
#define MAC_ADDRL 3u
#define MAC_MII_ACC 6u
#define MAC_MII_DATA 7u
#define MAC_CR_RXEN (1u << 2)
#define MAC_CR_TXEN (1u << 3)
#define MAC_CR_FDPX (1u << 20)
#define MII_BUSY (1u << 0)
#define MII_WRITE (1u << 1)
#define PHY_ADDR 1u /* the internal PHY */

/* PHY registers (IEEE 802.3 clause 22). */
#define PHY_BCR 0u
#define PHY_BSR 1u
#define PHY_ANAR 4u
#define PHY_ANLPAR 5u
#define PHY_BCR_ANENABLE (1u << 12)
#define PHY_BCR_ANRESTART (1u << 9)
#define PHY_BSR_LINK (1u << 2)
#define PHY_AN_FULL_DUPLEX ((1u << 8) | (1u << 6)) /* 100BASE-TX FD, 10BASE-T FD */

#define IRQ_LAN9118 13u
#define SPIN_LIMIT 100000u

/* Ethernet frame without FCS: 14 header + 1500 payload. */
#define FRAME_MAX 1514u
/* The largest frame QEMU accepts is < 2048 bytes with its CRC. */
#define FIFO_FRAME_WORDS (2048u / 4u)

static struct {
    uint32_t last_link_check_ms;
    struct hk_lan9118_stats stats;
    uint32_t rx_words[FIFO_FRAME_WORDS];
    uint32_t tx_words[FIFO_FRAME_WORDS];
} lan;

/* ---- register helpers -------------------------------------------------------- */

static bool wait_clear(uint32_t off, uint32_t mask)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        if ((LAN_REG(off) & mask) == 0)
            return true;
    }
    return false;
}

static uint32_t mac_read(uint32_t reg)
{
    (void)wait_clear(MAC_CSR_CMD, CSR_BUSY);
    LAN_REG(MAC_CSR_CMD) = CSR_BUSY | CSR_READ | reg;
    (void)wait_clear(MAC_CSR_CMD, CSR_BUSY);
    return LAN_REG(MAC_CSR_DATA);
}

static void mac_write(uint32_t reg, uint32_t value)
{
    (void)wait_clear(MAC_CSR_CMD, CSR_BUSY);
    LAN_REG(MAC_CSR_DATA) = value;
    LAN_REG(MAC_CSR_CMD) = CSR_BUSY | reg;
    (void)wait_clear(MAC_CSR_CMD, CSR_BUSY);
}

static bool mii_idle(void)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        if ((mac_read(MAC_MII_ACC) & MII_BUSY) == 0)
            return true;
    }
    return false;
}

static uint16_t phy_read(uint32_t reg)
{
    (void)mii_idle();
    mac_write(MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_BUSY);
    (void)mii_idle();
    return (uint16_t)mac_read(MAC_MII_DATA);
}

static void phy_write(uint32_t reg, uint16_t value)
{
    (void)mii_idle();
    mac_write(MAC_MII_DATA, value);
    mac_write(MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_WRITE | MII_BUSY);
    (void)mii_idle();
}

/* One EEPROM byte; -1 if the EEPROM did not answer. */
static int e2p_read(uint32_t addr)
{
    if (!wait_clear(E2P_CMD, E2P_BUSY))
        return -1;
    LAN_REG(E2P_CMD) = E2P_BUSY | (0u << 28) /* READ */ | (addr & 0x7Fu);
    if (!wait_clear(E2P_CMD, E2P_BUSY) || (LAN_REG(E2P_CMD) & E2P_TIMEOUT) != 0)
        return -1;
    return (int)(LAN_REG(E2P_DATA) & 0xFFu);
}

static bool mac_valid(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return (mac[0] & 1u) == 0 && memcmp(mac, zero, 6) != 0;
}

/* The address the controller loaded from its EEPROM at reset (ADDRL holds
 * bytes 0-3 with byte 0 in bits 7:0, ADDRH bytes 4-5); if that is not a
 * unicast address, the EEPROM itself (0xA5 signature, then six bytes). */
static bool read_mac(uint8_t mac[6])
{
    uint32_t lo = mac_read(MAC_ADDRL);
    uint32_t hi = mac_read(MAC_ADDRH);
    for (unsigned i = 0; i < 4; i++)
        mac[i] = (uint8_t)(lo >> (8u * i));
    mac[4] = (uint8_t)hi;
    mac[5] = (uint8_t)(hi >> 8);
    if (mac_valid(mac))
        return true;
    if (e2p_read(0) != 0xA5)
        return false;
    for (unsigned i = 0; i < 6; i++) {
        int b = e2p_read(1u + i);
        if (b < 0)
            return false;
        mac[i] = (uint8_t)b;
    }
    return mac_valid(mac);
}

static bool link_up(void)
{
    /* The link bit latches low on the chip: read twice for the current
     * state. */
    (void)phy_read(PHY_BSR);
    return (phy_read(PHY_BSR) & PHY_BSR_LINK) != 0;
}

/* ---- transmit ---------------------------------------------------------------------- */

static void drain_tx_status(void)
{
    while (((LAN_REG(TX_FIFO_INF) >> 16) & 0xFFu) != 0) {
        if ((LAN_REG(TX_STATUS_FIFO) & STATUS_ES) != 0)
            lan.stats.tx_errors++;
    }
}

static err_t lan9118_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    uint16_t len = p->tot_len;
    if (len > FRAME_MAX) {
        lan.stats.tx_errors++;
        return ERR_BUF;
    }
    uint32_t words = ((uint32_t)len + 3u) / 4u;
    /* TDFREE: bytes free in the data FIFO; the two command words too. */
    uint32_t spin = 0;
    while ((LAN_REG(TX_FIFO_INF) & 0xFFFFu) < words * 4u + 8u) {
        if (++spin >= SPIN_LIMIT) {
            lan.stats.tx_errors++;
            return ERR_MEM;
        }
    }
    lan.tx_words[words - 1u] = 0; /* tail bytes of the last word */
    if (pbuf_copy_partial(p, lan.tx_words, len, 0) != len) {
        lan.stats.tx_errors++;
        return ERR_BUF;
    }
    /* Command A: first and last segment (one buffer), data start offset 0,
     * end alignment 0, buffer size. Command B: packet tag (the length, for
     * reading the status), packet length. */
    uint32_t cmd_a = (1u << 13) | (1u << 12) | len;
    uint32_t cmd_b = ((uint32_t)len << 16) | len;
    LAN_REG(TX_DATA_FIFO) = cmd_a;
    LAN_REG(TX_DATA_FIFO) = cmd_b;
    for (uint32_t i = 0; i < words; i++)
        LAN_REG(TX_DATA_FIFO) = lan.tx_words[i];
    lan.stats.tx_frames++;
    drain_tx_status();
    return ERR_OK;
}

/* ---- receive ------------------------------------------------------------------------ */

static void discard_frame(uint32_t words)
{
    if (words >= 4u) {
        LAN_REG(RX_DP_CTRL) = RX_DP_CTRL_FFWD;
        (void)wait_clear(RX_DP_CTRL, RX_DP_CTRL_FFWD);
    } else {
        for (uint32_t i = 0; i < words; i++)
            (void)LAN_REG(RX_DATA_FIFO);
    }
}

void hk_lan9118_poll(struct netif *netif)
{
    for (unsigned n = 0; n < HK_LAN9118_POLL_MAX; n++) {
        if (((LAN_REG(RX_FIFO_INF) >> 16) & 0xFFu) == 0)
            break;
        uint32_t status = LAN_REG(RX_STATUS_FIFO);
        uint32_t len = (status >> 16) & 0x3FFFu; /* with the 4-byte CRC */
        uint32_t words = (len + 3u) / 4u;
        if ((status & STATUS_ES) != 0 || len < 14u + 4u || len - 4u > FRAME_MAX + 4u ||
            words > FIFO_FRAME_WORDS) {
            discard_frame(words);
            lan.stats.rx_dropped++;
            continue;
        }
        for (uint32_t i = 0; i < words; i++)
            lan.rx_words[i] = LAN_REG(RX_DATA_FIFO);
        uint16_t frame_len = (uint16_t)(len - 4u);
        struct pbuf *p = pbuf_alloc(PBUF_RAW, frame_len, PBUF_POOL);
        if (p == NULL) {
            lan.stats.rx_dropped++;
            continue;
        }
        if (pbuf_take(p, lan.rx_words, frame_len) != ERR_OK || netif->input(p, netif) != ERR_OK) {
            pbuf_free(p);
            lan.stats.rx_dropped++;
            continue;
        }
        lan.stats.rx_frames++;
    }

    uint32_t now = board_ms();
    if ((uint32_t)(now - lan.last_link_check_ms) >= HK_LAN9118_LINK_POLL_MS) {
        lan.last_link_check_ms = now;
        bool up = link_up();
        if (up && !netif_is_link_up(netif))
            netif_set_link_up(netif);
        else if (!up && netif_is_link_up(netif))
            netif_set_link_down(netif);
    }
}

void hk_lan9118_get_stats(struct hk_lan9118_stats *out)
{
    if (out != NULL)
        *out = lan.stats;
}

/* ---- init ---------------------------------------------------------------------------- */

static bool known_part(uint32_t id_rev)
{
    uint32_t id = id_rev >> 16;
    return (id >= 0x0115u && id <= 0x0118u) || id == 0x9220u || id == 0x9221u;
}

err_t hk_lan9118_netif_init(struct netif *netif)
{
    memset(&lan.stats, 0, sizeof lan.stats);
    if (LAN_REG(BYTE_TEST) != BYTE_TEST_VALUE || !known_part(LAN_REG(ID_REV)))
        return ERR_IF;

    /* Soft reset (also reloads the MAC address from the EEPROM), then wait
     * for the device to be ready. */
    LAN_REG(HW_CFG) = HW_CFG_SRST;
    if (!wait_clear(HW_CFG, HW_CFG_SRST))
        return ERR_IF;
    uint32_t spin = 0;
    while ((LAN_REG(PMT_CTRL) & PMT_CTRL_READY) == 0) {
        if (++spin >= SPIN_LIMIT)
            return ERR_IF;
    }

    /* No interrupts: a sane line level, every source off and cleared, and
     * the NVIC line disabled with its pending bit (set by QEMU on the
     * first register write above) cleared. */
    LAN_REG(IRQ_CFG) = IRQ_CFG_TYPE | IRQ_CFG_POL;
    LAN_REG(INT_EN) = 0;
    LAN_REG(INT_STS) = UINT32_MAX;
    BOARD_REG(NVIC_ICER0) = 1u << IRQ_LAN9118;
    BOARD_REG(NVIC_ICPR0) = 1u << IRQ_LAN9118;

    uint8_t mac[6];
    (void)wait_clear(E2P_CMD, E2P_BUSY);
    if (!read_mac(mac))
        return ERR_IF;

    /* Auto-negotiation on; the MAC's duplex follows what both ends offer. */
    phy_write(PHY_BCR, PHY_BCR_ANENABLE | PHY_BCR_ANRESTART);
    bool full_duplex = (phy_read(PHY_ANAR) & phy_read(PHY_ANLPAR) & PHY_AN_FULL_DUPLEX) != 0;

    /* Receive what is addressed to us and broadcasts (ARP); no promiscuous
     * mode (QEMU's reset value of MAC_CR), no multicast. */
    LAN_REG(RX_CFG) = 0;
    LAN_REG(TX_CFG) = TX_CFG_TX_ON;
    mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | (full_duplex ? MAC_CR_FDPX : 0u));

    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, mac, ETH_HWADDR_LEN);
    netif->mtu = 1500;
    netif->output = etharp_output;
    netif->linkoutput = lan9118_linkoutput;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    if (link_up())
        netif->flags |= NETIF_FLAG_LINK_UP;
    lan.last_link_check_ms = board_ms();
    return ERR_OK;
}
