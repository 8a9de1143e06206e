/*
 * hubkey — the Linux device agent and CLI: internal declarations shared by
 * its source files.
 *
 * Host code: it may allocate and use files, sockets and processes; the
 * device stack it drives (src/) does not.
 *
 *   args.c   command line and configuration file: pure parsing into
 *            agent_options (no I/O), unit-tested and fuzzed
 *   out.c    progress lines and JSON output
 *   chip.c   the secure element: emulated chip file, /dev/i2c-N, or the
 *            development software key; certificate definitions
 *   link.c   the device link: TCP (with the host -> address override) and
 *            TLS with the chip-held key
 *   request.c  the local socket's request lines (pure)
 *   sock.c   the local socket: listening, clients, answers in order
 *   main.c   the commands and the event loop
 *
 * Exit codes are part of the interface (docs/hubkey-agent.md) and never
 * change meaning.
 */
#ifndef HUBKEY_AGENT_H
#define HUBKEY_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hubkey/device.h"
#include "hubkey/result.h"

enum {
    AGENT_EXIT_OK = 0,
    AGENT_EXIT_USAGE = 1,     /* bad command line or configuration file */
    AGENT_EXIT_FILE = 2,      /* a file cannot be read: trust, certdefs, key, config */
    AGENT_EXIT_CHIP = 3,      /* the secure element cannot be used */
    AGENT_EXIT_NOT_PROVISIONED = 4, /* status: no provisioning record */
    AGENT_EXIT_TIMEOUT = 5,   /* the cloud was not reached in time */
    AGENT_EXIT_REFUSED = 6,   /* DPS or the hub refused the device identity */
    AGENT_EXIT_NOT_SENT = 7,  /* send: a message was not acknowledged */
    AGENT_EXIT_INTERNAL = 8   /* out of memory or an unexpected failure */
};

#define AGENT_PATH_MAX 1024u
#define AGENT_HOST_MAX 253u
#define AGENT_MAX_OVERRIDES 8u
#define AGENT_MAX_MESSAGES 64u
#define AGENT_ERR_MAX 256u
#define AGENT_SOCKET_PATH_MAX 108u /* sun_path, with its NUL */

typedef enum agent_chip_kind {
    AGENT_CHIP_NONE = 0,
    AGENT_CHIP_EMU,  /* emu:FILE */
    AGENT_CHIP_I2C,  /* i2c:/dev/i2c-N[@ADDR] */
    AGENT_CHIP_SOFT  /* soft:KEY,CERT[,SIGNER] */
} agent_chip_kind;

typedef struct agent_chip_spec {
    agent_chip_kind kind;
    char path[AGENT_PATH_MAX];   /* emu file, i2c adapter, or the key (soft) */
    char cert[AGENT_PATH_MAX];   /* soft: device certificate */
    char signer[AGENT_PATH_MAX]; /* soft: signer certificate, may be empty */
    uint8_t addr7;               /* i2c: 7-bit address */
} agent_chip_spec;

typedef struct agent_endpoint {
    char host[AGENT_HOST_MAX + 1];
    uint16_t port; /* 0 = not given */
} agent_endpoint;

/* host -> address[:port]; host "*" applies to every host (--cloud-address). */
typedef struct agent_override {
    char host[AGENT_HOST_MAX + 1];
    agent_endpoint to;
} agent_override;

typedef enum agent_command {
    AGENT_CMD_NONE = 0,
    AGENT_CMD_PROVISION,
    AGENT_CMD_STATUS,
    AGENT_CMD_SEND,
    AGENT_CMD_RUN,
    AGENT_CMD_FORGET,
    AGENT_CMD_HELP,
    AGENT_CMD_VERSION
} agent_command;

/* Everything the command line and the configuration file can set. String
 * pointers point into the argument strings given to the parser, which must
 * outlive the options. */
typedef struct agent_options {
    agent_command command;
    agent_chip_spec chip;
    bool chip_set;
    const char *certdefs;       /* directory with device.certdef, signer.certdef */
    const char *record_file;    /* soft: the 416-byte record file */
    const char *id_scope;
    agent_endpoint dps;         /* host empty = the global DPS endpoint */
    agent_override overrides[AGENT_MAX_OVERRIDES];
    size_t override_count;
    const char *trust_file;
    const char *payload;        /* registration custom payload (JSON) */
    const char *model_id;
    const char *method_command; /* run: answers direct methods */
    const char *report;         /* run/provision: reported properties patch */
    const char *config_file;
    const char *socket_path;    /* run: the local socket ("off" = none; NULL = default) */
    const char *socket_group;   /* run: the socket file's group (NULL = the agent's) */
    bool help;                  /* --help: the usage of the command given (or all) */
    agent_command help_topic;   /* "help COMMAND" */
    bool version;               /* --version */
    bool json;
    unsigned verbose;
    bool force;
    uint32_t timeout_ms;        /* 0 = no limit */
    uint32_t method_timeout_ms;
    hk_device_policy policy;    /* zero fields: the device defaults */
    /* Emulated chips only (testing): injected faults. */
    uint32_t chip_fault_ppm;
    uint64_t chip_fault_seed;
    uint32_t power_loss_at_write; /* 0 = off */
    uint32_t power_loss_keep_bytes;
    /* send: the messages ("-" = read lines from standard input). */
    const char *messages[AGENT_MAX_MESSAGES];
    size_t message_count;
} agent_options;

/* Defaults: command NONE, timeout 300 s, method timeout 10 s, rest zero. */
void agent_options_init(agent_options *opts);

/* ---- pure parsers (args.c); each returns 0 or AGENT_EXIT_USAGE with a
 * message in err (NUL-terminated, at most err_cap bytes) ---- */

/* "emu:FILE", "i2c:/dev/i2c-N[@ADDR]" (ADDR 7-bit 0x00..0x7F or the 8-bit
 * form 0x80..0xFE, even; decimal or 0x hex; default 0x60),
 * "soft:KEY,CERT[,SIGNER]". */
int agent_parse_chip(const char *text, agent_chip_spec *out, char *err, size_t err_cap);

/* "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT"; port 1..65535 (0 in out
 * when absent). HOST: 1..253 characters of letters, digits, '.', '-', '_'
 * (and ':' inside brackets). */
int agent_parse_endpoint(const char *text, agent_endpoint *out, char *err, size_t err_cap);

/* "HOST=ADDR[:PORT]" (--connect). */
int agent_parse_override(const char *text, agent_override *out, char *err, size_t err_cap);

/* "250ms", "5s", "2m", "1h" or a plain number of seconds; at most
 * 2^31 - 1 ms in total. */
int agent_parse_duration(const char *text, uint32_t *out_ms, char *err, size_t err_cap);

/* One option by its long name without the dashes ("id-scope"); value is
 * NULL for flags. Returns 0, or AGENT_EXIT_USAGE for an unknown name, a
 * missing or unexpected value, or a bad value. */
int agent_option_set(agent_options *opts, const char *name, const char *value, char *err,
                     size_t err_cap);
/* Whether the option takes a value: 1 yes, 0 flag, -1 unknown name. */
int agent_option_arity(const char *name);

/* The whole command line (argv[0] is skipped). Options may come before or
 * after the command; "-v" may repeat ("-vv"); "--" ends the options. Then
 * checks the relations between the options in opts (also those set before
 * from the environment or a configuration file), with the device defaults
 * for timings not given: --reconnect-min and --reconnect-jitter at most
 * --reconnect-max; the message states the rule. */
int agent_args_parse(int argc, char *const argv[], agent_options *opts, char *err,
                     size_t err_cap);

/*
 * The configuration file, modified in place: one option per line,
 * "name value", "name = value" or a bare "name" for a flag; '#' starts a
 * comment line; blank lines are skipped; the value runs to the end of the
 * line with surrounding blanks removed (it may contain spaces). Applies
 * each option with agent_option_set; the option strings point into text,
 * which must outlive opts. text[len] must exist and hold a NUL (the
 * buffer has len + 1 bytes). A NUL byte inside text[0..len) is an error.
 */
int agent_config_parse(char *text, size_t len, agent_options *opts, char *err, size_t err_cap);

/* ---- the local socket's request lines (request.c) ---- */

typedef enum agent_request_kind {
    AGENT_REQ_EMPTY = 0, /* a blank line: no answer */
    AGENT_REQ_TELEMETRY, /* "telemetry TEXT", or a line starting with '{' as it is */
    AGENT_REQ_REPORTED,  /* "reported JSON" with a JSON object */
    AGENT_REQ_BAD        /* anything else: *why says what was expected */
} agent_request_kind;

/* One request line without its '\n' (a trailing '\r' is dropped). For
 * TELEMETRY and REPORTED, *arg and *arg_len delimit the message or the
 * patch inside line; for BAD, *why is a static message. */
agent_request_kind agent_request_parse(const char *line, size_t len, const char **arg,
                                       size_t *arg_len, const char **why);

/* ---- output (out.c) ---- */

/* Appends s[0..len) as a JSON string (with quotes) to f: '"', '\\' and
 * control bytes escaped, valid UTF-8 kept, every invalid byte as \ufffd. */
void agent_json_string(FILE *f, const char *s, size_t len);

/* The same into a buffer: writes at most cap bytes including a NUL; returns
 * the length the full text needs (without the NUL), like snprintf. */
size_t agent_json_string_buf(char *out, size_t cap, const char *s, size_t len);

/* True when s[0..len) is one JSON value (for method answers). */
bool agent_json_valid(const char *s, size_t len);

#endif /* HUBKEY_AGENT_H */
