/*
 * hubkey-cloud shared helpers. Parsers here see bytes straight from devices,
 * so they check every character they consume and never index past the NUL.
 */
#define _GNU_SOURCE
#include "hkc_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("hubkey-cloud: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *hkc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static char *strndup_x(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *hkc_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fputs("hubkey-cloud: out of memory\n", stderr);
        abort();
    }
    return out;
}

bool hkc_streq_nocase(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    return strcasecmp(a, b) == 0;
}

void hkc_username_clear(struct hkc_username *u)
{
    free(u->scope);
    free(u->reg_id);
    free(u->hub);
    free(u->device_id);
    free(u->module_id);
    free(u->api_version);
    memset(u, 0, sizeof(*u));
}

/* Reads the api-version value out of `api-version=V[&more]`. */
static char *api_version_of(const char *params)
{
    return hkc_query_get(params, "api-version");
}

bool hkc_username_parse(const char *username, struct hkc_username *out)
{
    memset(out, 0, sizeof(*out));
    if (!username || !*username || strlen(username) > 1024)
        return false;

    /* DPS: scope/registrations/regid/api-version=... (no '?'). */
    const char *s1 = strchr(username, '/');
    if (!s1 || s1 == username)
        return false;
    const char *rest = s1 + 1;
    static const char reg[] = "registrations/";
    if (strncmp(rest, reg, sizeof(reg) - 1) == 0 && !strchr(username, '?')) {
        const char *id = rest + sizeof(reg) - 1;
        const char *s2 = strchr(id, '/');
        if (!s2 || s2 == id)
            return false;
        const char *params = s2 + 1;
        if (strncmp(params, "api-version=", 12) != 0)
            return false;
        char *ver = api_version_of(params);
        if (!ver || !*ver) {
            free(ver);
            return false;
        }
        out->role = HKC_ROLE_DPS;
        out->scope = strndup_x(username, (size_t)(s1 - username));
        out->reg_id = strndup_x(id, (size_t)(s2 - id));
        out->api_version = ver;
        if (!hkc_reg_id_valid(out->reg_id)) {
            hkc_username_clear(out);
            return false;
        }
        return true;
    }

    /* Hub: host/device[/module]/?api-version=... */
    const char *q = strstr(username, "/?");
    if (!q)
        return false;
    const char *dev = s1 + 1;
    if (dev >= q)
        return false;
    const char *s2 = memchr(dev, '/', (size_t)(q - dev));
    char *ver = api_version_of(q + 2);
    if (!ver || !*ver) {
        free(ver);
        return false;
    }
    out->role = HKC_ROLE_HUB;
    out->hub = strndup_x(username, (size_t)(s1 - username));
    out->api_version = ver;
    if (s2) {
        out->device_id = strndup_x(dev, (size_t)(s2 - dev));
        out->module_id = strndup_x(s2 + 1, (size_t)(q - s2 - 1));
        if (!*out->module_id || strchr(out->module_id, '/')) {
            hkc_username_clear(out);
            return false;
        }
    } else {
        out->device_id = strndup_x(dev, (size_t)(q - dev));
    }
    if (!hkc_device_id_valid(out->device_id)) {
        hkc_username_clear(out);
        return false;
    }
    return true;
}

bool hkc_reg_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > HKC_REG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':'))
            return false;
    }
    unsigned char last = (unsigned char)s[n - 1];
    return isalnum(last) || last == '-';
}

bool hkc_device_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > HKC_DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || !(isalnum(c) || strchr("-.%_*?!(),:=@$'", c)))
            return false;
    }
    return true;
}

char *hkc_query_get(const char *query, const char *name)
{
    if (!query || !name)
        return NULL;
    size_t nl = strlen(name);
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return strndup_x(p + nl + 1, len - nl - 1);
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *hkc_url_decode(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            /* s[i+1] is at worst the NUL; s[i+2] is read only when s[i+1] is a digit. */
            int hi = hexval(s[i + 1]);
            int lo = hi < 0 ? -1 : hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *hkc_url_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1);
    size_t o = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

json_t *hkc_props_decode(const char *bag)
{
    json_t *obj = json_object();
    const char *p = bag;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) { /* empty pair: `a=1&&b=2` is malformed */
            json_decref(obj);
            return NULL;
        }
        char *pair = strndup_x(p, len);
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        char *name = hkc_url_decode(pair);
        char *value = eq ? hkc_url_decode(eq + 1) : NULL;
        bool ok = name && *name && (!eq || value);
        if (ok) {
            json_t *v = value ? json_string(value) : json_null();
            ok = v != NULL && json_object_set_new(obj, name, v) == 0;
        }
        free(pair);
        free(name);
        free(value);
        if (!ok) {
            json_decref(obj);
            return NULL;
        }
        p = end ? end + 1 : NULL;
    }
    return obj;
}

char *hkc_props_encode(const json_t *obj)
{
    char *out = hkc_strdup("");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        char *k = hkc_url_encode(key);
        char *v = json_is_string(val) ? hkc_url_encode(json_string_value(val)) : NULL;
        char *next = v ? hkc_printf("%s%s%s=%s", out, *out ? "&" : "", k, v)
                       : hkc_printf("%s%s%s", out, *out ? "&" : "", k);
        free(out);
        free(k);
        free(v);
        out = next;
    }
    return out;
}

bool hkc_json_merge(json_t *target, const json_t *patch)
{
    if (!json_is_object(target) || !json_is_object(patch))
        return false;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)patch, key, val) {
        if (key[0] == '$')
            continue;
        if (json_is_null(val)) {
            json_object_del(target, key);
        } else if (json_is_object(val)) {
            json_t *cur = json_object_get(target, key);
            if (!json_is_object(cur)) {
                cur = json_object();
                json_object_set_new(target, key, cur);
            }
            hkc_json_merge(cur, val);
        } else {
            json_object_set(target, key, val);
        }
    }
    return true;
}

void hkc_time_utc(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%07ldZ", base, ts.tv_nsec / 100);
}

uint64_t hkc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hkc_hex(const uint8_t *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static void random_bytes(uint8_t *b, size_t n)
{
    if (RAND_bytes(b, (int)n) != 1) {
        fputs("hubkey-cloud: no randomness available\n", stderr);
        abort();
    }
}

char *hkc_uuid(void)
{
    uint8_t b[16];
    random_bytes(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char h[33];
    hkc_hex(b, 16, h);
    return hkc_printf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

char *hkc_operation_id(void)
{
    uint8_t b[8];
    random_bytes(b, sizeof(b));
    char h[17];
    hkc_hex(b, 8, h);
    char *u = hkc_uuid();
    char *op = hkc_printf("4.%s.%s", h, u);
    free(u);
    return op;
}

char *hkc_etag(void)
{
    char *u = hkc_uuid();
    char *q = hkc_printf("\"%s\"", u);
    char *e = hkc_base64((const uint8_t *)q, strlen(q));
    free(u);
    free(q);
    return e;
}

char *hkc_base64(const uint8_t *in, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    out[n < 0 ? 0 : n] = '\0';
    return out;
}

uint8_t *hkc_base64_decode(const char *in, size_t *out_len)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 != 0 || n > (1u << 24))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(isalnum(c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return NULL;
    }
    if (in[n - 2] == '=' && in[n - 1] != '=')
        return NULL;
    uint8_t *out = xmalloc(n / 4 * 3 + 1);
    int m = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (m < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    *out_len = (size_t)m - pad;
    return out;
}

int hkc_hash_pick(const char *key, const char *const *hubs, const int *weights, size_t n)
{
    int best = -1;
    double best_score = 0;
    size_t kl = strlen(key);
    char *lower = strndup_x(key, kl);
    for (size_t i = 0; i < kl; i++)
        lower[i] = (char)tolower((unsigned char)lower[i]);
    for (size_t i = 0; i < n; i++) {
        /* score = w / -ln(u), u = SHA-256(hub '\n' key) mapped into (0,1). */
        char *m = hkc_printf("%s\n%s", hubs[i], lower);
        uint8_t d[32];
        unsigned dl = 0;
        EVP_Digest(m, strlen(m), d, &dl, EVP_sha256(), NULL);
        free(m);
        uint64_t v = 0;
        for (int j = 0; j < 8; j++)
            v = (v << 8) | d[j];
        double u = ((double)(v >> 11) + 0.5) / 9007199254740992.0; /* 2^53 */
        int w = weights && weights[i] > 0 ? weights[i] : 1;
        double score = (double)w / -log(u);
        if (best < 0 || score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    free(lower);
    return best;
}

const char *hkc_topic_after(const char *topic, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(topic, prefix, n) != 0)
        return NULL;
    return topic + n;
}
