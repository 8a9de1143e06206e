/*
 * The firmware's settings file (fw_config.h). Strict: an unknown key, a
 * number out of range or a route without an address is refused with its
 * line, so a typo cannot silently select a default.
 */
#include <string.h>

#include "fw_config.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Decimal, at most max; false for anything else. */
static bool number(const char *s, uint32_t max, uint32_t *out)
{
    uint32_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint32_t d = (uint32_t)(*s - '0');
        if (v > (max - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

static bool flag(const char *s, bool *out)
{
    if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0) {
        *out = s[0] == '1';
        return true;
    }
    return false;
}

/* "NAME ADDRESS[:PORT]" */
static bool route(char *v, fw_route *out)
{
    char *sp = v;
    while (*sp != '\0' && !is_space(*sp))
        sp++;
    if (*sp == '\0' || sp == v)
        return false;
    *sp = '\0';
    char *addr = trim(sp + 1);
    if (*addr == '\0')
        return false;
    uint32_t port = 0;
    char *colon = strchr(addr, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (!number(colon + 1, 65535u, &port) || port == 0 || *addr == '\0')
            return false;
    }
    out->host = v;
    out->address = addr;
    out->port = (uint16_t)port;
    return true;
}

typedef enum { K_STR, K_U32, K_FLAG } kind;

typedef struct key {
    const char *name;
    kind kind;
    size_t offset;
} key;

#define STR(f) {#f, K_STR, offsetof(fw_config, f)}
#define U32(f) {#f, K_U32, offsetof(fw_config, f)}
#define FLG(f) {#f, K_FLAG, offsetof(fw_config, f)}

static const key keys[] = {
    STR(id_scope),          STR(dps_host),          {"trust", K_STR, offsetof(fw_config, trust_path)},
    U32(telemetry),         U32(interval_ms),       FLG(force),
    FLG(floor),             U32(reconnect_min_ms),  U32(reconnect_max_ms),
    U32(reconnect_jitter_ms), U32(reprovision_interval_ms), U32(dps_deadline_ms),
};

static bool apply(fw_config *cfg, const char *name, char *value)
{
    if (strcmp(name, "route") == 0)
        return cfg->route_count < FW_CONFIG_MAX_ROUTES &&
               route(value, &cfg->routes[cfg->route_count++]);
    if (strcmp(name, "port") == 0) {
        uint32_t p;
        if (!number(value, 65535u, &p) || p == 0)
            return false;
        cfg->port = (uint16_t)p;
        return true;
    }
    if (strcmp(name, "exit") == 0) {
        if (strcmp(value, "sent") != 0 && strcmp(value, "never") != 0)
            return false;
        cfg->exit_after_sent = value[0] == 's';
        return true;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i].name, name) != 0)
            continue;
        void *field = (char *)cfg + keys[i].offset;
        switch (keys[i].kind) {
        case K_STR:
            if (*value == '\0')
                return false;
            *(const char **)field = value;
            return true;
        case K_U32:
            return number(value, UINT32_MAX, (uint32_t *)field);
        case K_FLAG:
            return flag(value, (bool *)field);
        }
    }
    return false;
}

hk_result fw_config_parse(fw_config *cfg, char *text, size_t len, unsigned *out_line)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dps_host = "global.azure-devices-provisioning.net";
    cfg->port = 8883;
    cfg->telemetry = 3;
    cfg->interval_ms = 1000;
    cfg->exit_after_sent = true;
    *out_line = 0;
    text[len] = '\0';
    if (strlen(text) != len) { /* a NUL inside the file */
        unsigned line = 1;
        for (size_t i = 0; text[i] != '\0'; i++)
            line += text[i] == '\n';
        *out_line = line;
        return HK_ERR_MALFORMED;
    }
    unsigned line = 0;
    char *p = text;
    while (*p != '\0') {
        line++;
        char *end = strchr(p, '\n');
        char *next = end != NULL ? end + 1 : p + strlen(p);
        if (end != NULL)
            *end = '\0';
        char *l = trim(p);
        p = next;
        if (*l == '\0' || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (eq == NULL) {
            *out_line = line;
            return HK_ERR_MALFORMED;
        }
        *eq = '\0';
        if (!apply(cfg, trim(l), trim(eq + 1))) {
            *out_line = line;
            return HK_ERR_MALFORMED;
        }
    }
    if (cfg->id_scope == NULL)
        return HK_ERR_MALFORMED;
    return HK_OK;
}
