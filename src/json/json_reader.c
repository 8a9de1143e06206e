/*
 * Strict JSON reader (RFC 8259) into a caller token array.
 *
 * Accepts, for example (the shape of a DPS "assigning" response):
 *   {"operationId":"4.d0a671905ea5b2c8.e7173b7b-0e54-4568-a6d2-13c1e4bbbb41",
 *    "status":"assigning","registrationState":{"registrationId":"dev-1",
 *    "status":"assigning"}}
 * and rejects the lenient forms other parsers let through ({"a":1,},
 * 'single', 01, "\x", lone "\ud83d", bytes after the value).
 *
 * The parser is a loop, not a recursion: stack use does not grow with the
 * nesting depth a peer chooses. While a container is open, its token's
 * `next` field holds the index of its parent container, so closing a bracket
 * finds the parent in O(1) without a separate stack; the field gets its real
 * meaning (index past the container's last token) when the bracket closes.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/json.h"
#include "json/json_internal.h"

#define NO_PARENT SIZE_MAX

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Four hex digits at s[*io] -> *out (e.g. "00e9" -> 0xE9). */
static hk_result hex4(const char *s, size_t end, size_t *io, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < 4; k++) {
        if (*io >= end)
            return HK_ERR_JSON_TRUNCATED;
        char c = s[(*io)++];
        uint32_t d;
        if (is_digit(c))
            d = (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return HK_ERR_JSON_STRING;
        v = (v << 4) | d;
    }
    *out = v;
    return HK_OK;
}

/* One character of a string body at s[*io] (not the closing quote): a raw
 * UTF-8 sequence or an escape, decoded to a code point. Examples of what it
 * takes: `a`, `\u00e9`, `\n`, `\ud83d\ude00` (one call, U+1F600). */
static hk_result str_char(const char *s, size_t end, size_t *io, uint32_t *out_cp)
{
    static const char esc_in[8] = {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'};
    static const char esc_out[8] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
    size_t i = *io;
    uint8_t c = (uint8_t)s[i];

    if (c >= 0x80)
        return hk_json_utf8_next(s, end, io, out_cp);
    if (c < 0x20)
        return HK_ERR_JSON_STRING; /* raw control characters must be escaped */
    i++;
    uint32_t cp = c;
    if (c == '\\') {
        if (i >= end)
            return HK_ERR_JSON_TRUNCATED;
        c = (uint8_t)s[i++];
        const char *e = memchr(esc_in, c, sizeof esc_in);
        if (e != NULL) {
            cp = (uint8_t)esc_out[e - esc_in];
        } else if (c == 'u') {
            HK_TRY(hex4(s, end, &i, &cp));
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return HK_ERR_JSON_STRING; /* low surrogate without a high one */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate must be followed at once by \u + low. */
                uint32_t lo;
                for (unsigned k = 0; k < 2; k++, i++) {
                    if (i >= end)
                        return HK_ERR_JSON_TRUNCATED;
                    if (s[i] != "\\u"[k])
                        return HK_ERR_JSON_STRING;
                }
                HK_TRY(hex4(s, end, &i, &lo));
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return HK_ERR_JSON_STRING;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
        } else {
            return HK_ERR_JSON_STRING;
        }
    }
    *io = i;
    *out_cp = cp;
    return HK_OK;
}

/* Code point -> UTF-8 in out[0..4); returns the byte count. */
static size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
    static const uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t k = n - 1; k > 0; k--) {
        out[k] = (uint8_t)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    out[0] = (uint8_t)(lead[n] | cp);
    return n;
}

/* "..." starting at the opening quote s[*io]; *io ends past the closing one. */
static hk_result scan_string(const char *s, size_t len, size_t *io)
{
    size_t i = *io + 1;
    for (;;) {
        if (i >= len)
            return HK_ERR_JSON_TRUNCATED;
        if (s[i] == '"')
            break;
        uint32_t cp;
        HK_TRY(str_char(s, len, &i, &cp));
    }
    *io = i + 1;
    return HK_OK;
}

/* One or more digits at s[*io]. */
static hk_result digits(const char *s, size_t len, size_t *io)
{
    size_t i = *io;
    if (i >= len || !is_digit(s[i]))
        return HK_ERR_JSON_NUMBER;
    while (i < len && is_digit(s[i]))
        i++;
    *io = i;
    return HK_OK;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?  e.g. 0, -12, 3.25, 1e-7 */
static hk_result scan_number(const char *s, size_t len, size_t *io)
{
    size_t i = *io;
    if (s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
        if (i < len && is_digit(s[i]))
            return HK_ERR_JSON_NUMBER; /* leading zero */
    } else {
        HK_TRY(digits(s, len, &i));
    }
    if (i < len && s[i] == '.') {
        i++;
        HK_TRY(digits(s, len, &i));
    }
    if (i < len && (s[i] | 0x20) == 'e') {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        HK_TRY(digits(s, len, &i));
    }
    *io = i;
    return HK_OK;
}

/* true, false or null at s[*io]. */
static hk_result scan_literal(const char *s, size_t len, size_t *io, hk_json_type *out_type)
{
    const char *word;
    hk_json_type type;
    switch (s[*io]) {
    case 't':
        word = "true";
        type = HK_JSON_TRUE;
        break;
    case 'f':
        word = "false";
        type = HK_JSON_FALSE;
        break;
    case 'n':
        word = "null";
        type = HK_JSON_NULL;
        break;
    default:
        return HK_ERR_JSON_SYNTAX;
    }
    size_t i = *io;
    for (; *word != '\0'; word++, i++) {
        if (i >= len)
            return HK_ERR_JSON_TRUNCATED;
        if (s[i] != *word)
            return HK_ERR_JSON_SYNTAX;
    }
    *io = i;
    *out_type = type;
    return HK_OK;
}

hk_result hk_json_parse(hk_json_doc *out_doc, const char *json, size_t len, hk_json_token *tokens,
                        size_t max_tokens, unsigned max_depth)
{
    HK_REQUIRE(out_doc != NULL);
    HK_REQUIRE(json != NULL || len == 0);
    HK_REQUIRE(tokens != NULL || max_tokens == 0);
    out_doc->json = json;
    out_doc->len = len;
    out_doc->tokens = tokens;
    out_doc->count = 0;

    size_t pos = 0, n = 0, open = NO_PARENT;
    unsigned depth = 0;
    bool want_key = false;

    for (;;) {
        /* A value is due at pos (inside an object after '{' or ',': a key). */
        pos = skip_ws(json, len, pos);
        if (pos >= len)
            return HK_ERR_JSON_TRUNCATED;
        if (n >= max_tokens)
            return HK_ERR_JSON_TOO_MANY_TOKENS;
        hk_json_token *t = &tokens[n];
        char c = json[pos];
        t->start = pos;
        if (want_key && c != '"')
            return HK_ERR_JSON_SYNTAX;
        if (c == '{' || c == '[') {
            if (depth >= max_depth)
                return HK_ERR_JSON_DEPTH;
            depth++;
            t->type = c == '{' ? HK_JSON_OBJECT : HK_JSON_ARRAY;
            t->next = open; /* parent link while open */
            open = n++;
            want_key = c == '{';
            pos = skip_ws(json, len, pos + 1);
            /* '{' + 2 == '}' and '[' + 2 == ']' in ASCII. */
            if (pos >= len || json[pos] != c + 2)
                continue;
            /* Empty container: pos is at its closing bracket. */
        } else {
            size_t end = pos;
            hk_result r;
            if (c == '"') {
                t->type = HK_JSON_STRING;
                r = scan_string(json, len, &end);
            } else if (c == '-' || is_digit(c)) {
                t->type = HK_JSON_NUMBER;
                r = scan_number(json, len, &end);
            } else {
                r = scan_literal(json, len, &end, &t->type);
            }
            if (r != HK_OK)
                return r;
            t->len = end - pos;
            t->next = ++n;
            pos = skip_ws(json, len, end);
            if (want_key) {
                if (pos >= len)
                    return HK_ERR_JSON_TRUNCATED;
                if (json[pos] != ':')
                    return HK_ERR_JSON_SYNTAX;
                pos++;
                want_key = false;
                continue;
            }
        }
        /* A value just ended: close containers until a ',' asks for more. */
        for (;;) {
            pos = skip_ws(json, len, pos);
            if (open == NO_PARENT) {
                if (pos != len)
                    return HK_ERR_JSON_TRAILING;
                out_doc->count = n;
                return HK_OK;
            }
            if (pos >= len)
                return HK_ERR_JSON_TRUNCATED;
            hk_json_token *o = &tokens[open];
            c = json[pos++];
            if (c == ',') {
                want_key = o->type == HK_JSON_OBJECT;
                break;
            }
            if (c != (o->type == HK_JSON_OBJECT ? '}' : ']'))
                return HK_ERR_JSON_SYNTAX;
            open = o->next;
            o->next = n;
            o->len = pos - o->start;
            depth--;
        }
    }
}

hk_result hk_json_next(const hk_json_doc *doc, size_t container, size_t *io_child)
{
    HK_REQUIRE(doc != NULL && io_child != NULL && container < doc->count);
    const hk_json_token *t = &doc->tokens[container];
    if (t->type != HK_JSON_OBJECT && t->type != HK_JSON_ARRAY)
        return HK_ERR_JSON_TYPE;
    size_t i = *io_child;
    if (i == 0) {
        i = container + 1;
    } else {
        /* An object child is a key: step to its value, then past it. */
        if (t->type == HK_JSON_OBJECT)
            i++;
        HK_REQUIRE(i > container && i < t->next);
        i = doc->tokens[i].next;
    }
    if (i >= t->next)
        return HK_ERR_NOT_FOUND;
    *io_child = i;
    return HK_OK;
}

/* Decodes string token tok one character at a time. out == NULL compares
 * against cmp[0..cap) instead of writing; returns HK_ERR_NOT_FOUND on the
 * first difference. */
static hk_result string_walk(const hk_json_doc *doc, size_t tok, char *out, const char *cmp,
                             size_t cap, size_t *out_len)
{
    const hk_json_token *t = &doc->tokens[tok];
    if (t->type != HK_JSON_STRING)
        return HK_ERR_JSON_TYPE;
    /* The parser validated the body, so str_char cannot fail here; its
     * result is still checked rather than trusted. */
    size_t i = t->start + 1, end = t->start + t->len - 1, n = 0;
    while (i < end) {
        uint32_t cp;
        uint8_t u[4];
        HK_TRY(str_char(doc->json, end, &i, &cp));
        size_t k = utf8_encode(cp, u);
        if (k > cap - n)
            return out != NULL ? HK_ERR_BUFFER_TOO_SMALL : HK_ERR_NOT_FOUND;
        if (out != NULL) {
            if (cp == 0)
                return HK_ERR_JSON_STRING;
            memcpy(out + n, u, k);
        } else if (memcmp(cmp + n, u, k) != 0) {
            return HK_ERR_NOT_FOUND;
        }
        n += k;
    }
    *out_len = n;
    return HK_OK;
}

hk_result hk_json_string_get(const hk_json_doc *doc, size_t tok, char *out, size_t cap,
                             size_t *out_len)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out != NULL && out_len != NULL);
    size_t n;
    if (cap == 0)
        return doc->tokens[tok].type == HK_JSON_STRING ? HK_ERR_BUFFER_TOO_SMALL : HK_ERR_JSON_TYPE;
    /* Reserve the last byte for the NUL. */
    HK_TRY(string_walk(doc, tok, out, NULL, cap - 1, &n));
    out[n] = '\0';
    *out_len = n;
    return HK_OK;
}

bool hk_json_string_equals(const hk_json_doc *doc, size_t tok, const char *s, size_t len)
{
    size_t n;
    if (doc == NULL || tok >= doc->count || (s == NULL && len != 0))
        return false;
    return string_walk(doc, tok, NULL, s, len, &n) == HK_OK && n == len;
}

hk_result hk_json_object_find(const hk_json_doc *doc, size_t obj, const char *key,
                              size_t *out_value)
{
    HK_REQUIRE(doc != NULL && key != NULL && out_value != NULL);
    size_t i = 0, found = 0, klen = strlen(key);
    hk_result r;
    while ((r = hk_json_next(doc, obj, &i)) == HK_OK) {
        if (hk_json_string_equals(doc, i, key, klen)) {
            if (found != 0)
                return HK_ERR_JSON_DUPLICATE_KEY;
            found = i + 1; /* a value token is never token 0 */
        }
    }
    if (r != HK_ERR_NOT_FOUND)
        return r;
    if (found == 0)
        return HK_ERR_NOT_FOUND;
    *out_value = found;
    return HK_OK;
}

/* Integer value of a number token: "-42" -> -42; "1.5", "1e3" refused. */
hk_result hk_json_int64_get(const hk_json_doc *doc, size_t tok, int64_t *out_value)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out_value != NULL);
    const hk_json_token *t = &doc->tokens[tok];
    if (t->type != HK_JSON_NUMBER)
        return HK_ERR_JSON_TYPE;
    const char *s = doc->json + t->start;
    bool neg = s[0] == '-', over = false;
    uint64_t m = 0;
    for (size_t i = neg; i < t->len; i++) {
        if (!is_digit(s[i]))
            return HK_ERR_JSON_NOT_INTEGER; /* '.', 'e' or 'E' */
        /* The parser allows no leading zeros, so a 20th digit means at
         * least 10^19, beyond int64, and 19 digits never overflow uint64.
         * Scanning goes on so that a later '.' or 'e' still answers "not an
         * integer" rather than "out of range". */
        if (i - neg >= 19)
            over = true;
        else
            m = m * 10 + (unsigned)(s[i] - '0');
    }
    if (over || m > (uint64_t)INT64_MAX + neg)
        return HK_ERR_JSON_RANGE;
    /* -(m - 1) - 1 reaches INT64_MIN without a signed overflow. */
    *out_value = neg && m != 0 ? -(int64_t)(m - 1) - 1 : (int64_t)m;
    return HK_OK;
}

hk_result hk_json_uint32_get(const hk_json_doc *doc, size_t tok, uint32_t *out_value)
{
    HK_REQUIRE(out_value != NULL);
    int64_t v;
    HK_TRY(hk_json_int64_get(doc, tok, &v));
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return HK_ERR_JSON_RANGE;
    *out_value = (uint32_t)v;
    return HK_OK;
}

hk_result hk_json_bool_get(const hk_json_doc *doc, size_t tok, bool *out_value)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out_value != NULL);
    hk_json_type type = doc->tokens[tok].type;
    if (type != HK_JSON_TRUE && type != HK_JSON_FALSE)
        return HK_ERR_JSON_TYPE;
    *out_value = type == HK_JSON_TRUE;
    return HK_OK;
}

hk_result hk_json_raw_get(const hk_json_doc *doc, size_t tok, const char **out_text,
                          size_t *out_len)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out_text != NULL && out_len != NULL);
    *out_text = doc->json + doc->tokens[tok].start;
    *out_len = doc->tokens[tok].len;
    return HK_OK;
}
