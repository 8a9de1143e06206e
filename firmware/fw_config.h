/*
 * hubkey firmware — the run-time settings of the QEMU firmware: what a
 * product would keep in flash (ID scope, DPS endpoint, where names route,
 * the trust store) read from a text file of the host at boot
 * (docs/firmware.md).
 *
 * One setting per line, "key=value"; '#' starts a comment line; blank lines
 * are skipped. Keys:
 *   id_scope=0ne00ABCDEF          required
 *   dps_host=NAME                 default global.azure-devices-provisioning.net
 *   port=N                        DPS and hub port (default 8883)
 *   route=NAME ADDRESS[:PORT]     send connections for NAME ("*" = any) to
 *                                 ADDRESS (an IPv4 literal); TLS still checks
 *                                 NAME. Up to FW_CONFIG_MAX_ROUTES.
 *   trust=PATH                    PEM trust store, a host file (default: the
 *                                 built-in Azure roots)
 *   telemetry=N                   messages to send once connected (default 3;
 *                                 0 = one every interval_ms, forever)
 *   interval_ms=N                 between messages (default 1000)
 *   exit=sent|never               after the last acknowledged message: exit
 *                                 QEMU with status 0 (default), or keep going
 *   force=0|1                     register with DPS even with a record
 *   reconnect_min_ms=N, reconnect_max_ms=N, reconnect_jitter_ms=N,
 *   reprovision_interval_ms=N, dps_deadline_ms=N, connect_timeout_ms=N
 *                                 the boot flow's policy (0 or absent = its
 *                                 default)
 *   chip_timeout_ms=N             the chip line's reply timeout (default
 *                                 HK_SERIAL_I2C_DEFAULT_TIMEOUT_MS)
 *   floor=0|1                     after the run, measure the TLS crypto floor
 *
 * The parser works in place: the text buffer is modified (NULs written) and
 * every string in fw_config points into it, so it must outlive the config.
 * Anything malformed is an error naming the line, never a crash.
 */
#ifndef HUBKEY_FW_CONFIG_H
#define HUBKEY_FW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#define FW_CONFIG_MAX_ROUTES 4u

typedef struct fw_route {
    const char *host;
    const char *address;
    uint16_t port; /* 0 = the port asked for */
} fw_route;

typedef struct fw_config {
    const char *id_scope;
    const char *dps_host;
    uint16_t port;
    const char *trust_path;
    fw_route routes[FW_CONFIG_MAX_ROUTES];
    size_t route_count;
    uint32_t telemetry;
    uint32_t interval_ms;
    bool exit_after_sent;
    bool force;
    bool floor;
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
    uint32_t reconnect_jitter_ms;
    uint32_t reprovision_interval_ms;
    uint32_t dps_deadline_ms;
    uint32_t connect_timeout_ms;
    uint32_t chip_timeout_ms;
} fw_config;

/* Parse text[0..len) (len < the buffer's size: a NUL is written at
 * text[len]). HK_OK, or HK_ERR_MALFORMED with *out_line = the 1-based line
 * at fault (0 = the whole file: id_scope missing). */
HK_NODISCARD hk_result fw_config_parse(fw_config *cfg, char *text, size_t len, unsigned *out_line);

#endif /* HUBKEY_FW_CONFIG_H */
