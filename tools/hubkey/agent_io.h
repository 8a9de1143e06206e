/*
 * hubkey — the agent's secure element and connections (chip.c, link.c).
 *
 * Host code. An agent_chip and an agent_link must not move in memory once
 * opened: the hk_se and the hk_device_link they hand out point into them.
 */
#ifndef HUBKEY_AGENT_IO_H
#define HUBKEY_AGENT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "emu_atecc608.h"
#include "hk_i2c_linux.h"
#include "hk_posix.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/device.h"
#include "hubkey/device_tls.h"
#include "hubkey/se.h"
#include "hubkey/tls.h"
#include "softkey.h"

/* ---- the chip ---- */

typedef struct agent_chip {
    agent_chip_kind kind;
    char name[AGENT_PATH_MAX + 16]; /* the --chip text, for messages */
    char certdefs_dir[AGENT_PATH_MAX];
    hk_emu_atecc608 *emu;
    hk_i2c_linux i2c_linux;
    bool i2c_open;
    hk_atecc608 dev;
    hk_se_atecc608 se_ctx;
    uint8_t *device_def_buf; /* heap; the definitions point into these */
    uint8_t *signer_def_buf;
    hk_cert_def device_def;
    hk_cert_def signer_def;
    hk_softkey soft;
    bool soft_open;
    char record_file[AGENT_PATH_MAX + 8]; /* soft: the key path + ".record" */
    hk_se se;
} agent_chip;

/* Opens the chip named by opts->chip (and its certificate definitions, for
 * emu and i2c chips) and fills chip->se. On failure returns
 * AGENT_EXIT_CHIP or AGENT_EXIT_FILE with a message in err naming the
 * chip or file; the chip is then closed. Emulated chips: the file must
 * exist (hubkey-factory makes it); every EEPROM change is saved to it at
 * once; opts->chip_fault_ppm / power_loss_* arm the emulator's faults. */
int agent_chip_open(agent_chip *chip, const agent_options *opts, char *err, size_t err_cap);

/* Puts the chip to sleep and releases everything. Safe when closed. */
void agent_chip_close(agent_chip *chip);

/* Emulated chips: whether every change reached the chip file. 0 when it
 * did (and for other chips, whose writes report their own errors);
 * AGENT_EXIT_CHIP with a message naming the file and the system's reason
 * when the last save failed (the change lives only in this process). */
int agent_chip_saved(const agent_chip *chip, char *err, size_t cap);

/* Emulated chips: true once an injected power loss switched the chip off
 * (a real device would have lost power too, so the agent stops at once). */
bool agent_chip_lost_power(agent_chip *chip);

/* ---- the link ----
 *
 * The connections are the device library's production link
 * (hk_device_tls_link: platform TCP + TLS with the chip-held key), with one
 * route per --connect override. Underneath it the agent wraps the POSIX
 * platform to learn the open socket (its descriptor goes into the event
 * loop's poll() together with standard input and signals) and whether the
 * last send was short (then the loop also waits for POLLOUT). */

typedef struct agent_link {
    const hk_platform *inner;
    hk_posix *posix;
    hk_platform platform;      /* the wrapper given to the TLS link */
    hk_transport sock;         /* the inner socket while open */
    bool sock_open;
    bool want_write;
    char address[AGENT_HOST_MAX + 1]; /* where the last socket went */
    uint16_t port;
    unsigned opens;            /* tcp_connect calls so far */
    hk_device_route routes[AGENT_MAX_OVERRIDES];
    size_t route_count;
    hk_device_tls_link tls;
    hk_device_link device_link;
} agent_link;

/* Prepares the link over inner (the POSIX platform of posix). Borrowed
 * pointers must outlive it; trust_pem (or NULL for the built-in roots) is
 * PEM text ending with a NUL that trust_len counts. HK_ERR_INVALID_ARG from
 * the TLS link for a missing se. */
HK_NODISCARD hk_result agent_link_init(agent_link *link, const hk_platform *inner, hk_posix *posix,
                                       const hk_se *se, const agent_override *overrides,
                                       size_t override_count, const uint8_t *trust_pem,
                                       size_t trust_len);

/* Where host:port really connects after the overrides: an exact host name
 * first, then "*"; the port stays when the override has none. The routes
 * given to the TLS link are ordered the same way. */
void agent_link_resolve(const agent_override *overrides, size_t count, const char *host,
                        uint16_t port, const char **out_address, uint16_t *out_port);

/* The socket's file descriptor (-1 when nothing is open) and whether the
 * last send was short (wait for POLLOUT too). */
int agent_link_fd(const agent_link *link);
bool agent_link_want_write(const agent_link *link);

/* Why the last connection set-up failed ("" when it did not). */
const char *agent_link_reason(const agent_link *link);

#endif /* HUBKEY_AGENT_IO_H */
