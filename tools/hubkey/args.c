/*
 * hubkey — command line and configuration file parsing.
 *
 * Everything here is pure: strings in, agent_options out, a message on
 * error. A command line is hostile input like any other: every value is
 * checked for length and form, nothing is read past a string's NUL, and
 * nothing is written past a field (fixed-size copies are refused when they
 * would not fit, never truncated).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

#define DEFAULT_TIMEOUT_MS 300000u
#define DEFAULT_METHOD_TIMEOUT_MS 10000u
#define MAX_DURATION_MS 0x7FFFFFFFu

static int usage_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return AGENT_EXIT_USAGE;
}

void agent_options_init(agent_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->timeout_ms = DEFAULT_TIMEOUT_MS;
    opts->method_timeout_ms = DEFAULT_METHOD_TIMEOUT_MS;
}

/* Copies s[0..len) with a NUL into out[cap]; false when it does not fit. */
static bool copy_n(char *out, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* ---- numbers ---- */

/* Unsigned decimal or 0x hex, whole string, at most max. */
static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    unsigned base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        if (v > (max - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

int agent_parse_duration(const char *text, uint32_t *out_ms, char *err, size_t err_cap)
{
    size_t len = strlen(text);
    size_t digits = 0;
    while (digits < len && text[digits] >= '0' && text[digits] <= '9')
        digits++;
    const char *unit = text + digits;
    uint64_t scale;
    if (strcmp(unit, "ms") == 0)
        scale = 1;
    else if (strcmp(unit, "s") == 0 || *unit == '\0')
        scale = 1000;
    else if (strcmp(unit, "m") == 0)
        scale = 60000;
    else if (strcmp(unit, "h") == 0)
        scale = 3600000;
    else
        digits = 0; /* reported below */
    uint64_t v;
    if (digits == 0 || !parse_uint(text, digits, MAX_DURATION_MS, &v) ||
        v > MAX_DURATION_MS / scale)
        return usage_err(err, err_cap,
                         "bad duration '%s' (examples: 250ms, 5s, 2m, 1h; at most 596h)", text);
    *out_ms = (uint32_t)(v * scale);
    return 0;
}

/* ---- hosts and endpoints ---- */

static bool host_char(char c, bool bracketed)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_' || (bracketed && c == ':');
}

int agent_parse_endpoint(const char *text, agent_endpoint *out, char *err, size_t err_cap)
{
    size_t len = strlen(text);
    const char *host = text;
    size_t host_len;
    const char *rest;
    bool bracketed = len > 0 && text[0] == '[';
    if (bracketed) {
        const char *close = memchr(text, ']', len);
        if (!close)
            return usage_err(err, err_cap, "bad address '%s': '[' without ']'", text);
        host = text + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
        if (*rest != '\0' && *rest != ':')
            return usage_err(err, err_cap, "bad address '%s': text after ']'", text);
    } else {
        const char *colon = strchr(text, ':');
        host_len = colon ? (size_t)(colon - text) : len;
        rest = text + host_len;
    }
    if (host_len == 0 || host_len > AGENT_HOST_MAX)
        return usage_err(err, err_cap, "bad address '%s': the host name must have 1..%u characters",
                         text, AGENT_HOST_MAX);
    for (size_t i = 0; i < host_len; i++)
        if (!host_char(host[i], bracketed))
            return usage_err(err, err_cap, "bad address '%s': character '%c' in the host name",
                             text, host[i] >= 0x20 && host[i] < 0x7F ? host[i] : '?');
    uint16_t port = 0;
    if (*rest == ':') {
        uint64_t p;
        rest++;
        if (!parse_uint(rest, strlen(rest), 65535, &p) || p == 0 || rest[0] == '0')
            return usage_err(err, err_cap, "bad address '%s': the port must be 1..65535", text);
        port = (uint16_t)p;
    }
    memset(out, 0, sizeof(*out));
    copy_n(out->host, sizeof(out->host), host, host_len);
    out->port = port;
    return 0;
}

int agent_parse_override(const char *text, agent_override *out, char *err, size_t err_cap)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return usage_err(err, err_cap,
                         "bad --connect '%s': expected HOST=ADDRESS[:PORT], e.g. "
                         "dps.hubkey.test=127.0.0.1:8883",
                         text);
    size_t host_len = (size_t)(eq - text);
    if (host_len == 0 || host_len > AGENT_HOST_MAX)
        return usage_err(err, err_cap, "bad --connect '%s': the host name must have 1..%u characters",
                         text, AGENT_HOST_MAX);
    for (size_t i = 0; i < host_len; i++)
        if (!host_char(text[i], false))
            return usage_err(err, err_cap, "bad --connect '%s': character '%c' in the host name",
                             text, text[i] >= 0x20 && text[i] < 0x7F ? text[i] : '?');
    agent_override o;
    memset(&o, 0, sizeof(o));
    copy_n(o.host, sizeof(o.host), text, host_len);
    int rc = agent_parse_endpoint(eq + 1, &o.to, err, err_cap);
    if (rc)
        return rc;
    *out = o;
    return 0;
}

/* ---- the chip ---- */

int agent_parse_chip(const char *text, agent_chip_spec *out, char *err, size_t err_cap)
{
    agent_chip_spec c;
    memset(&c, 0, sizeof(c));
    if (strncmp(text, "emu:", 4) == 0) {
        c.kind = AGENT_CHIP_EMU;
        const char *path = text + 4;
        if (*path == '\0' || !copy_n(c.path, sizeof(c.path), path, strlen(path)))
            return usage_err(err, err_cap, "bad --chip '%s': emu:FILE needs a file name (at most %u "
                             "characters)", text, AGENT_PATH_MAX - 1);
    } else if (strncmp(text, "i2c:", 4) == 0) {
        c.kind = AGENT_CHIP_I2C;
        const char *path = text + 4;
        const char *at = strrchr(path, '@');
        size_t path_len = at ? (size_t)(at - path) : strlen(path);
        c.addr7 = 0x60;
        if (path_len == 0 || !copy_n(c.path, sizeof(c.path), path, path_len))
            return usage_err(err, err_cap, "bad --chip '%s': expected i2c:/dev/i2c-N[@ADDRESS]",
                             text);
        if (at) {
            uint64_t a;
            if (!parse_uint(at + 1, strlen(at + 1), 0xFE, &a) || (a >= 0x80 && (a & 1u)))
                return usage_err(err, err_cap,
                                 "bad --chip '%s': the address must be 7-bit (0x00..0x7F) or the "
                                 "even 8-bit form (0x80..0xFE)",
                                 text);
            c.addr7 = (uint8_t)(a >= 0x80 ? a >> 1 : a);
        }
    } else if (strncmp(text, "soft:", 5) == 0) {
        c.kind = AGENT_CHIP_SOFT;
        const char *p = text + 5;
        char *fields[3] = {c.path, c.cert, c.signer};
        size_t n = 0;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t flen = comma ? (size_t)(comma - p) : strlen(p);
            if (n == 3 || flen == 0 || !copy_n(fields[n], AGENT_PATH_MAX, p, flen))
                return usage_err(err, err_cap,
                                 "bad --chip '%s': expected soft:KEY.pem,CERT.pem[,SIGNER.pem]",
                                 text);
            n++;
            if (!comma)
                break;
            p = comma + 1;
        }
        if (n < 2)
            return usage_err(err, err_cap,
                             "bad --chip '%s': expected soft:KEY.pem,CERT.pem[,SIGNER.pem]", text);
    } else {
        return usage_err(err, err_cap,
                         "bad --chip '%s': expected emu:FILE, i2c:/dev/i2c-N[@ADDRESS] or "
                         "soft:KEY,CERT[,SIGNER]",
                         text);
    }
    *out = c;
    return 0;
}

/* ---- options ---- */

typedef enum opt_id {
    OPT_CHIP,
    OPT_CERTDEFS,
    OPT_RECORD,
    OPT_ID_SCOPE,
    OPT_DPS,
    OPT_CONNECT,
    OPT_CLOUD_ADDRESS,
    OPT_TRUST,
    OPT_PAYLOAD,
    OPT_MODEL_ID,
    OPT_METHOD_COMMAND,
    OPT_METHOD_TIMEOUT,
    OPT_REPORT,
    OPT_CONFIG,
    OPT_TIMEOUT,
    OPT_REPROVISION_INTERVAL,
    OPT_DPS_DEADLINE,
    OPT_DPS_RESPONSE_TIMEOUT,
    OPT_HUB_FALLBACK,
    OPT_RECONNECT_MIN,
    OPT_RECONNECT_MAX,
    OPT_RECONNECT_JITTER,
    OPT_CONNECT_TIMEOUT,
    OPT_KEEP_ALIVE,
    OPT_CHIP_FAULTS,
    OPT_CHIP_POWER_LOSS,
    OPT_JSON,
    OPT_VERBOSE,
    OPT_FORCE,
    OPT_HELP,
    OPT_VERSION,
    OPT_SOCKET,
    OPT_SOCKET_GROUP
} opt_id;

typedef struct opt_def {
    const char *name;
    opt_id id;
    bool value;
} opt_def;

static const opt_def opt_defs[] = {
    {"chip", OPT_CHIP, true},
    {"certdefs", OPT_CERTDEFS, true},
    {"record", OPT_RECORD, true},
    {"id-scope", OPT_ID_SCOPE, true},
    {"dps", OPT_DPS, true},
    {"connect", OPT_CONNECT, true},
    {"cloud-address", OPT_CLOUD_ADDRESS, true},
    {"trust", OPT_TRUST, true},
    {"payload", OPT_PAYLOAD, true},
    {"model-id", OPT_MODEL_ID, true},
    {"method-command", OPT_METHOD_COMMAND, true},
    {"method-timeout", OPT_METHOD_TIMEOUT, true},
    {"report", OPT_REPORT, true},
    {"config", OPT_CONFIG, true},
    {"timeout", OPT_TIMEOUT, true},
    {"reprovision-interval", OPT_REPROVISION_INTERVAL, true},
    {"dps-deadline", OPT_DPS_DEADLINE, true},
    {"dps-response-timeout", OPT_DPS_RESPONSE_TIMEOUT, true},
    {"hub-fallback", OPT_HUB_FALLBACK, true},
    {"reconnect-min", OPT_RECONNECT_MIN, true},
    {"reconnect-max", OPT_RECONNECT_MAX, true},
    {"reconnect-jitter", OPT_RECONNECT_JITTER, true},
    {"connect-timeout", OPT_CONNECT_TIMEOUT, true},
    {"keep-alive", OPT_KEEP_ALIVE, true},
    {"chip-faults", OPT_CHIP_FAULTS, true},
    {"chip-power-loss", OPT_CHIP_POWER_LOSS, true},
    {"json", OPT_JSON, false},
    {"verbose", OPT_VERBOSE, false},
    {"force", OPT_FORCE, false},
    {"help", OPT_HELP, false},
    {"version", OPT_VERSION, false},
    {"socket", OPT_SOCKET, true},
    {"socket-group", OPT_SOCKET_GROUP, true},
};

static const opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
        if (strcmp(opt_defs[i].name, name) == 0)
            return &opt_defs[i];
    return NULL;
}

int agent_option_arity(const char *name)
{
    const opt_def *d = find_opt(name);
    return d ? (d->value ? 1 : 0) : -1;
}

/* A non-empty value without control characters (it goes into messages). */
static int check_text(const char *name, const char *value, char *err, size_t cap)
{
    if (value[0] == '\0')
        return usage_err(err, cap, "--%s needs a non-empty value", name);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return usage_err(err, cap, "--%s: control character in the value", name);
    return 0;
}

static int set_duration(const char *name, const char *value, uint32_t *out, bool allow_zero,
                        char *err, size_t cap)
{
    uint32_t ms;
    char why[AGENT_ERR_MAX];
    if (agent_parse_duration(value, &ms, why, sizeof(why)))
        return usage_err(err, cap, "--%s: %s", name, why);
    if (ms == 0 && !allow_zero)
        return usage_err(err, cap, "--%s must be more than 0", name);
    *out = ms;
    return 0;
}

/* "PPM[,SEED]" */
static int set_faults(agent_options *o, const char *value, char *err, size_t cap)
{
    const char *comma = strchr(value, ',');
    size_t n = comma ? (size_t)(comma - value) : strlen(value);
    uint64_t ppm, seed = 1;
    if (!parse_uint(value, n, 1000000, &ppm) ||
        (comma && !parse_uint(comma + 1, strlen(comma + 1), UINT64_MAX, &seed)))
        return usage_err(err, cap,
                         "--chip-faults: expected PPM[,SEED] with PPM 0..1000000 (10000 = 1 %%)");
    o->chip_fault_ppm = (uint32_t)ppm;
    o->chip_fault_seed = seed;
    return 0;
}

/* "WRITE[,KEEP_BYTES]" */
static int set_power_loss(agent_options *o, const char *value, char *err, size_t cap)
{
    const char *comma = strchr(value, ',');
    size_t n = comma ? (size_t)(comma - value) : strlen(value);
    uint64_t at, keep = 0;
    if (!parse_uint(value, n, 1000000, &at) || at == 0 ||
        (comma && !parse_uint(comma + 1, strlen(comma + 1), 32, &keep)))
        return usage_err(err, cap,
                         "--chip-power-loss: expected WRITE[,KEEP] (the 1-based Write command "
                         "to interrupt, and 0..32 of its bytes that reach the EEPROM)");
    o->power_loss_at_write = (uint32_t)at;
    o->power_loss_keep_bytes = (uint32_t)keep;
    return 0;
}

int agent_option_set(agent_options *o, const char *name, const char *value, char *err,
                     size_t cap)
{
    const opt_def *d = find_opt(name);
    if (!d)
        return usage_err(err, cap, "unknown option --%s (see hubkey help)", name);
    if (d->value && !value)
        return usage_err(err, cap, "--%s needs a value", name);
    if (!d->value && value)
        return usage_err(err, cap, "--%s takes no value", name);
    if (d->value) {
        int rc = check_text(name, value, err, cap);
        if (rc)
            return rc;
    }
    uint32_t ms = 0; /* set by set_duration whenever it returns 0 */
    int rc = 0;
    switch (d->id) {
    case OPT_CHIP:
        rc = agent_parse_chip(value, &o->chip, err, cap);
        o->chip_set = rc == 0;
        return rc;
    case OPT_CERTDEFS:
        o->certdefs = value;
        return 0;
    case OPT_RECORD:
        o->record_file = value;
        return 0;
    case OPT_ID_SCOPE:
        for (const char *p = value; *p; p++)
            if (!host_char(*p, false))
                return usage_err(err, cap, "--id-scope '%s': letters and digits only", value);
        if (strlen(value) > 64)
            return usage_err(err, cap, "--id-scope is at most 64 characters");
        o->id_scope = value;
        return 0;
    case OPT_DPS:
        return agent_parse_endpoint(value, &o->dps, err, cap);
    case OPT_CONNECT:
    case OPT_CLOUD_ADDRESS: {
        agent_override ov;
        if (d->id == OPT_CONNECT) {
            rc = agent_parse_override(value, &ov, err, cap);
        } else {
            memset(&ov, 0, sizeof(ov));
            ov.host[0] = '*';
            rc = agent_parse_endpoint(value, &ov.to, err, cap);
        }
        if (rc)
            return rc;
        for (size_t i = 0; i < o->override_count; i++)
            if (strcmp(o->overrides[i].host, ov.host) == 0) {
                o->overrides[i] = ov; /* the later one wins */
                return 0;
            }
        if (o->override_count == AGENT_MAX_OVERRIDES)
            return usage_err(err, cap, "at most %u --connect overrides", AGENT_MAX_OVERRIDES);
        o->overrides[o->override_count++] = ov;
        return 0;
    }
    case OPT_TRUST:
        o->trust_file = value;
        return 0;
    case OPT_PAYLOAD:
        if (!agent_json_valid(value, strlen(value)))
            return usage_err(err, cap, "--payload must be one JSON value, e.g. '{\"model\":\"x\"}'");
        if (strlen(value) > HK_DEVICE_PAYLOAD_MAX)
            return usage_err(err, cap,
                             "--payload is %zu bytes; at most %u fit the DPS registration request "
                             "(with the longest registration ID)",
                             strlen(value), (unsigned)HK_DEVICE_PAYLOAD_MAX);
        o->payload = value;
        return 0;
    case OPT_MODEL_ID:
        o->model_id = value;
        return 0;
    case OPT_METHOD_COMMAND:
        o->method_command = value;
        return 0;
    case OPT_METHOD_TIMEOUT:
        return set_duration(name, value, &o->method_timeout_ms, false, err, cap);
    case OPT_REPORT:
        if (!agent_json_valid(value, strlen(value)) || value[0] != '{')
            return usage_err(err, cap, "--report must be a JSON object, e.g. '{\"fw\":\"1.0\"}'");
        o->report = value;
        return 0;
    case OPT_CONFIG:
        o->config_file = value;
        return 0;
    case OPT_TIMEOUT:
        return set_duration(name, value, &o->timeout_ms, true, err, cap);
    case OPT_REPROVISION_INTERVAL:
        return set_duration(name, value, &o->policy.reprovision_interval_ms, false, err, cap);
    case OPT_DPS_DEADLINE:
        return set_duration(name, value, &o->policy.dps_deadline_ms, false, err, cap);
    case OPT_DPS_RESPONSE_TIMEOUT:
        return set_duration(name, value, &o->policy.dps_response_timeout_ms, false, err, cap);
    case OPT_HUB_FALLBACK:
        return set_duration(name, value, &o->policy.hub_fallback_ms, false, err, cap);
    case OPT_RECONNECT_MIN:
        return set_duration(name, value, &o->policy.reconnect_min_ms, false, err, cap);
    case OPT_RECONNECT_MAX:
        return set_duration(name, value, &o->policy.reconnect_max_ms, false, err, cap);
    case OPT_RECONNECT_JITTER:
        /* 0 is a real choice here (no jitter), but 0 in the policy means
         * "the default": 1 ms is the closest the policy can express. */
        rc = set_duration(name, value, &ms, true, err, cap);
        if (rc == 0)
            o->policy.reconnect_jitter_ms = ms ? ms : 1;
        return rc;
    case OPT_CONNECT_TIMEOUT:
        return set_duration(name, value, &o->policy.connect_timeout_ms, false, err, cap);
    case OPT_KEEP_ALIVE:
        rc = set_duration(name, value, &ms, false, err, cap);
        if (rc == 0 && (ms < 1000 || ms / 1000 > 65535))
            return usage_err(err, cap, "--keep-alive must be 1s..65535s");
        if (rc == 0)
            o->policy.keep_alive_s = (uint16_t)(ms / 1000);
        return rc;
    case OPT_CHIP_FAULTS:
        return set_faults(o, value, err, cap);
    case OPT_CHIP_POWER_LOSS:
        return set_power_loss(o, value, err, cap);
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_VERBOSE:
        if (o->verbose < 3)
            o->verbose++;
        return 0;
    case OPT_FORCE:
        o->force = true;
        return 0;
    case OPT_HELP:
        o->help = true;
        return 0;
    case OPT_VERSION:
        o->version = true;
        return 0;
    case OPT_SOCKET:
        if (strlen(value) >= AGENT_SOCKET_PATH_MAX)
            return usage_err(err, cap, "--socket: a path of at most %u bytes (a Unix socket "
                             "address), or off", AGENT_SOCKET_PATH_MAX - 1);
        o->socket_path = value;
        return 0;
    case OPT_SOCKET_GROUP:
        o->socket_group = value;
        return 0;
    }
    return usage_err(err, cap, "unknown option --%s", name);
}

static const struct {
    const char *name;
    agent_command cmd;
} commands[] = {
    {"provision", AGENT_CMD_PROVISION}, {"status", AGENT_CMD_STATUS}, {"send", AGENT_CMD_SEND},
    {"run", AGENT_CMD_RUN},             {"forget", AGENT_CMD_FORGET}, {"help", AGENT_CMD_HELP},
    {"version", AGENT_CMD_VERSION},
};

static int positional(agent_options *o, const char *arg, char *err, size_t cap)
{
    if (o->command == AGENT_CMD_NONE) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(commands[i].name, arg) == 0) {
                o->command = commands[i].cmd;
                return 0;
            }
        return usage_err(err, cap, "unknown command '%.64s' (commands: provision, status, send, "
                         "run, forget, help, version)", arg);
    }
    if (o->command == AGENT_CMD_SEND) {
        if (o->message_count == AGENT_MAX_MESSAGES)
            return usage_err(err, cap, "send takes at most %u messages", AGENT_MAX_MESSAGES);
        o->messages[o->message_count++] = arg;
        return 0;
    }
    if (o->command == AGENT_CMD_HELP) {
        /* "hubkey help run": the usage of that command */
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(commands[i].name, arg) == 0 && o->help_topic == AGENT_CMD_NONE) {
                o->help_topic = commands[i].cmd;
                return 0;
            }
        return usage_err(err, cap, "help: unknown command '%.64s' (commands: provision, status, "
                         "send, run, forget)", arg);
    }
    return usage_err(err, cap, "unexpected argument '%.64s'", arg);
}

/* The rules hk_device_init applies to the reconnect timings, checked here
 * with the device defaults for what was not given, so that a bad
 * combination is named as options, not found later as a refused device
 * configuration. */
static int agent_args_parse_only(int argc, char *const argv[], agent_options *o, char *err,
                                 size_t cap);

static int check_policy(const agent_options *o, char *err, size_t cap)
{
    const hk_device_policy *p = &o->policy;
    uint32_t min = p->reconnect_min_ms ? p->reconnect_min_ms : HK_DEVICE_RECONNECT_MIN_MS;
    uint32_t max = p->reconnect_max_ms ? p->reconnect_max_ms : HK_DEVICE_RECONNECT_MAX_MS;
    uint32_t jitter = p->reconnect_jitter_ms ? p->reconnect_jitter_ms : HK_DEVICE_RECONNECT_JITTER_MS;
    if (jitter == 1 && p->reconnect_jitter_ms == 1)
        jitter = 0; /* --reconnect-jitter 0 */
    if (min > max)
        return usage_err(err, cap,
                         "--reconnect-min (%u ms) must not exceed --reconnect-max (%u ms): the "
                         "backoff starts at the minimum and doubles up to the maximum",
                         (unsigned)min, (unsigned)max);
    if (jitter > max)
        return usage_err(err, cap,
                         "--reconnect-jitter (%u ms) must not exceed --reconnect-max (%u ms): no "
                         "wait is longer than the maximum, jitter included",
                         (unsigned)jitter, (unsigned)max);
    return 0;
}

int agent_args_parse(int argc, char *const argv[], agent_options *o, char *err, size_t cap)
{
    int rc = agent_args_parse_only(argc, argv, o, err, cap);
    return rc ? rc : check_policy(o, err, cap);
}

static int agent_args_parse_only(int argc, char *const argv[], agent_options *o, char *err,
                                 size_t cap)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a)
            break;
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            int rc = positional(o, a, err, cap);
            if (rc)
                return rc;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (a[1] != '-') {
            /* Short flags: -v (repeatable, also -vv), -h. */
            for (const char *p = a + 1; *p; p++) {
                int rc;
                if (*p == 'v')
                    rc = agent_option_set(o, "verbose", NULL, err, cap);
                else if (*p == 'h')
                    rc = agent_option_set(o, "help", NULL, err, cap);
                else
                    rc = usage_err(err, cap, "unknown option '-%c' (see hubkey help)",
                                   *p >= 0x20 && *p < 0x7F ? *p : '?');
                if (rc)
                    return rc;
            }
            continue;
        }
        /* --name, --name VALUE, --name=VALUE */
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        char buf[64];
        const char *value = NULL;
        if (eq) {
            size_t n = (size_t)(eq - name);
            if (n == 0 || n >= sizeof(buf))
                return usage_err(err, cap, "unknown option '%.64s' (see hubkey help)", a);
            memcpy(buf, name, n);
            buf[n] = '\0';
            name = buf;
            value = eq + 1;
        }
        int arity = agent_option_arity(name);
        if (arity < 0)
            return usage_err(err, cap, "unknown option '--%.64s' (see hubkey help)", name);
        if (arity == 1 && !value) {
            if (i + 1 >= argc || !argv[i + 1])
                return usage_err(err, cap, "--%s needs a value", name);
            value = argv[++i];
        }
        int rc = agent_option_set(o, name, value, err, cap);
        if (rc)
            return rc;
    }
    return 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int agent_config_parse(char *text, size_t len, agent_options *o, char *err, size_t cap)
{
    if (memchr(text, '\0', len))
        return usage_err(err, cap, "configuration: NUL byte in the file");
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl ? 1 : 0);
        /* Trim both ends. */
        while (line_len > 0 && blank(line[0])) {
            line++;
            line_len--;
        }
        while (line_len > 0 && blank(line[line_len - 1]))
            line_len--;
        if (line_len == 0 || line[0] == '#')
            continue;
        line[line_len] = '\0'; /* the '\n', a trailing blank, or text[len] */
        size_t name_len = 0;
        while (name_len < line_len && !blank(line[name_len]) && line[name_len] != '=')
            name_len++;
        char *value = NULL;
        size_t v = name_len;
        while (v < line_len && blank(line[v]))
            v++;
        if (v < line_len && line[v] == '=') {
            v++;
            while (v < line_len && blank(line[v]))
                v++;
        }
        if (v < line_len)
            value = line + v;
        line[name_len] = '\0';
        if (name_len == 0)
            return usage_err(err, cap, "configuration line %zu: expected 'name value'", line_no);
        if (strcmp(line, "config") == 0)
            return usage_err(err, cap, "configuration line %zu: 'config' cannot be nested",
                             line_no);
        char why[AGENT_ERR_MAX];
        int rc = agent_option_set(o, line, value, why, sizeof(why));
        if (rc)
            return usage_err(err, cap, "configuration line %zu: %s", line_no, why);
    }
    return 0;
}
