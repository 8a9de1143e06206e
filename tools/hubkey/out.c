/*
 * hubkey — JSON text for --json output and method answers.
 *
 * Cloud-to-device payloads, twin documents and method requests are bytes
 * from the network: they are printed as JSON strings with every control
 * byte escaped and every byte that is not part of valid UTF-8 replaced by
 * U+FFFD, so the output stays one valid JSON line whatever arrives.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "hubkey/json.h"

/* Length of the valid UTF-8 sequence at s[0..len), 0 when invalid
 * (overlong forms, surrogates and values above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    unsigned v = c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

/* Writes through a small sink: either a FILE or a bounded buffer. */
typedef struct sink {
    FILE *f;
    char *buf;
    size_t cap;
    size_t len; /* bytes the whole text needs */
} sink;

static void put(sink *k, const char *s, size_t n)
{
    if (k->f) {
        fwrite(s, 1, n, k->f);
    } else if (k->cap) {
        for (size_t i = 0; i < n; i++)
            if (k->len + i + 1 < k->cap)
                k->buf[k->len + i] = s[i];
    }
    k->len += n;
}

static void json_string(sink *k, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    put(k, "\"", 1);
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(k, esc, 2);
            i++;
        } else if (c == '\n') {
            put(k, "\\n", 2);
            i++;
        } else if (c == '\r') {
            put(k, "\\r", 2);
            i++;
        } else if (c == '\t') {
            put(k, "\\t", 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(k, esc, 6);
            i++;
        } else {
            size_t n = utf8_len(u + i, len - i);
            if (n == 0) {
                put(k, "\\ufffd", 6);
                i++;
            } else {
                put(k, s + i, n);
                i += n;
            }
        }
    }
    put(k, "\"", 1);
}

void agent_json_string(FILE *f, const char *s, size_t len)
{
    sink k = {.f = f};
    json_string(&k, s, len);
}

size_t agent_json_string_buf(char *out, size_t cap, const char *s, size_t len)
{
    sink k = {.buf = out, .cap = cap};
    json_string(&k, s, len);
    if (cap)
        out[k.len < cap ? k.len : cap - 1] = '\0';
    return k.len;
}

bool agent_json_valid(const char *s, size_t len)
{
    /* Enough tokens for a method answer or a configuration value; a larger
     * document is refused rather than half-checked. */
    enum { TOKENS = 512 };
    static const unsigned depth = 16;
    hk_json_token tokens[TOKENS];
    hk_json_doc doc;
    return hk_json_parse(&doc, s, len, tokens, TOKENS, depth) == HK_OK;
}
