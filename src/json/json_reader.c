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
#include "common/hk_text.h"
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
        uint32_t d = hk_text_hex(s[(*io)++]);
        if (d > 15)
            return HK_ERR_JSON_STRING;
        v = (v << 4) | d;
    }
    *out = v;
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

/* Where walk() puts a string's decoded bytes: written to out[0..cap),
 * compared with cmp[0..cap) (out == NULL), or, without a sink, nowhere (the
 * parser only validates). n counts the bytes so far. */
typedef struct sink {
    char *out;
    const char *cmp;
    size_t cap;
    size_t n;
} sink;

/* A string body from just past its opening quote at s[*io] to past the
 * closing quote, one character at a time: a raw UTF-8 sequence or an escape,
 * decoded to a code point and, with a sink, handed to it as UTF-8. Takes
 * e.g. `caf\u00e9 \n"` and `\ud83d\ude00"` (U+1F600). The parser runs it on
 * the raw input; the accessors run it again on a token the parser accepted,
 * and still check every result rather than trust it. */
static hk_result walk(const char *s, size_t end, size_t *io, sink *k)
{
    /* Short escapes: the letter after the backslash, then what it stands for. */
    static const char esc[16] = {'"', '\\', '/', 'b',  'f',  'n',  'r',  't',
                                 '"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
    size_t i = *io;
    uint32_t hi = 0; /* a \u high surrogate still waiting for its low half */
    for (;;) {
        if (i >= end)
            return HK_ERR_JSON_TRUNCATED;
        uint32_t cp = (uint8_t)s[i];
        bool u = false;
        if (hi != 0 && cp != '\\')
            return HK_ERR_JSON_STRING; /* only \u + low surrogate may follow */
        if (cp == '"')
            break;
        if (cp >= 0x80) {
            HK_TRY(hk_json_utf8_next(s, end, &i, &cp));
        } else if (cp < 0x20) {
            return HK_ERR_JSON_STRING; /* raw control characters must be escaped */
        } else if (cp != '\\') {
            i++;
        } else {
            if (++i >= end)
                return HK_ERR_JSON_TRUNCATED;
            const char *e = memchr(esc, s[i], 8);
            if (e != NULL) {
                cp = (uint8_t)e[8];
                i++;
            } else if (s[i++] == 'u') {
                HK_TRY(hex4(s, end, &i, &cp));
                u = true;
            } else {
                return HK_ERR_JSON_STRING;
            }
        }
        /* Surrogates: a high one, then at once a low one, make one character. */
        if (u && cp - 0xDC00u < 0x400u) {
            if (hi == 0)
                return HK_ERR_JSON_STRING;
            cp = 0x10000u + ((hi - 0xD800u) << 10) + (cp - 0xDC00u);
            hi = 0;
        } else if (hi != 0) {
            return HK_ERR_JSON_STRING;
        } else if (u && cp - 0xD800u < 0x400u) {
            hi = cp;
            continue;
        }
        if (k != NULL) {
            uint8_t b[4];
            size_t m = utf8_encode(cp, b);
            if (m > k->cap - k->n)
                return k->out != NULL ? HK_ERR_BUFFER_TOO_SMALL : HK_ERR_NOT_FOUND;
            if (k->out != NULL) {
                if (cp == 0)
                    return HK_ERR_JSON_STRING;
                memcpy(k->out + k->n, b, m);
            } else if (memcmp(k->cmp + k->n, b, m) != 0) {
                return HK_ERR_NOT_FOUND;
            }
            k->n += m;
        }
    }
    *io = i + 1;
    return HK_OK;
}

/* One or more digits at s[*io] (HK_ERR_JSON_NUMBER when there is none);
 * *io ends past them. */
static hk_result digits(const char *s, size_t len, size_t *io)
{
    size_t i = *io;
    while (i < len && is_digit(s[i]))
        i++;
    if (i == *io)
        return HK_ERR_JSON_NUMBER;
    *io = i;
    return HK_OK;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?  e.g. 0, -12, 3.25, 1e-7 */
static hk_result scan_number(const char *s, size_t len, size_t *io)
{
    size_t i = *io;
    if (s[i] == '-')
        i++;
    size_t first = i;
    HK_TRY(digits(s, len, &i));
    if (s[first] == '0' && i - first > 1)
        return HK_ERR_JSON_NUMBER; /* leading zero */
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
    static const char words[3][6] = {"true", "false", "null"};
    for (unsigned w = 0; w < 3; w++) {
        const char *word = words[w];
        if (s[*io] != word[0])
            continue;
        size_t i = *io;
        for (; *word != '\0'; word++, i++) {
            if (i >= len)
                return HK_ERR_JSON_TRUNCATED;
            if (s[i] != *word)
                return HK_ERR_JSON_SYNTAX;
        }
        *io = i;
        *out_type = (hk_json_type)(HK_JSON_TRUE + w);
        return HK_OK;
    }
    return HK_ERR_JSON_SYNTAX;
}

/* What the parser expects next. */
enum { W_VALUE, W_KEY, W_COLON, W_NEXT };

/* Out of line: its caller is large, and inlined there it measured bigger. */
HK_NOINLINE
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
    unsigned depth = 0, want = W_VALUE;

    /* One step per token or punctuation mark: W_VALUE (a value; in an
     * array also the ']' of an empty one), W_KEY (a member name; after '{'
     * also its '}'), W_COLON, W_NEXT (after a value: ',' or the bracket that
     * closes the open container; at the top level only the end). */
    for (;;) {
        pos = skip_ws(json, len, pos);
        if (want == W_NEXT && open == NO_PARENT) {
            if (pos != len)
                return HK_ERR_JSON_TRAILING;
            out_doc->count = n;
            return HK_OK;
        }
        if (pos >= len)
            return HK_ERR_JSON_TRUNCATED;
        char c = json[pos];
        if (want == W_COLON) {
            if (c != ':')
                return HK_ERR_JSON_SYNTAX;
            pos++;
            want = W_VALUE;
            continue;
        }
        if (open != NO_PARENT) {
            hk_json_token *o = &tokens[open];
            char close = o->type == HK_JSON_OBJECT ? '}' : ']';
            /* An empty container ends right after its opening bracket. */
            if (want == W_NEXT || (n == open + 1 && c == close)) {
                pos++;
                if (want == W_NEXT && c == ',') {
                    want = o->type == HK_JSON_OBJECT ? W_KEY : W_VALUE;
                    continue;
                }
                if (c != close)
                    return HK_ERR_JSON_SYNTAX;
                /* The parent link gives way to the real `next`. */
                open = o->next;
                o->next = n;
                o->len = pos - o->start;
                depth--;
                want = W_NEXT;
                continue;
            }
        }
        if (n >= max_tokens)
            return HK_ERR_JSON_TOO_MANY_TOKENS;
        hk_json_token *t = &tokens[n];
        t->start = pos;
        if (want == W_KEY && c != '"')
            return HK_ERR_JSON_SYNTAX;
        if (c == '{' || c == '[') {
            if (depth >= max_depth)
                return HK_ERR_JSON_DEPTH;
            depth++;
            t->type = c == '{' ? HK_JSON_OBJECT : HK_JSON_ARRAY;
            t->next = open; /* parent link while open */
            open = n++;
            pos++;
            want = c == '{' ? W_KEY : W_VALUE;
            continue;
        }
        size_t end = pos;
        hk_result r;
        if (c == '"') {
            t->type = HK_JSON_STRING;
            end++;
            r = walk(json, len, &end, NULL);
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
        pos = end;
        want = want == W_KEY ? W_COLON : W_NEXT;
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

/* Decode string token tok into the sink. */
static hk_result string_decode(const hk_json_doc *doc, size_t tok, sink *k)
{
    const hk_json_token *t = &doc->tokens[tok];
    if (t->type != HK_JSON_STRING)
        return HK_ERR_JSON_TYPE;
    size_t i = t->start + 1;
    return walk(doc->json, t->start + t->len, &i, k);
}

hk_result hk_json_string_get(const hk_json_doc *doc, size_t tok, char *out, size_t cap,
                             size_t *out_len)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out != NULL && out_len != NULL);
    /* Reserve the last byte for the NUL; with cap 0 there is none. */
    sink k = {out, NULL, cap ? cap - 1 : 0, 0};
    HK_TRY(string_decode(doc, tok, &k));
    if (k.n >= cap) /* only with cap 0: an empty string and no room for its NUL */
        return HK_ERR_BUFFER_TOO_SMALL;
    out[k.n] = '\0';
    *out_len = k.n;
    return HK_OK;
}

bool hk_json_string_equals(const hk_json_doc *doc, size_t tok, const char *s, size_t len)
{
    if (doc == NULL || tok >= doc->count || (s == NULL && len != 0))
        return false;
    sink k = {NULL, s, len, 0};
    return string_decode(doc, tok, &k) == HK_OK && k.n == len;
}

hk_result hk_json_object_find(const hk_json_doc *doc, size_t obj, const char *key,
                              size_t *out_value)
{
    HK_REQUIRE(doc != NULL && obj < doc->count && key != NULL && out_value != NULL);
    size_t i = 0, found = 0, klen = strlen(key);
    /* hk_json_next() walks arrays too: their elements are not keys. On an
     * object it only ends with HK_ERR_NOT_FOUND. */
    if (doc->tokens[obj].type != HK_JSON_OBJECT)
        return HK_ERR_JSON_TYPE;
    while (hk_json_next(doc, obj, &i) == HK_OK) {
        if (hk_json_string_equals(doc, i, key, klen)) {
            if (found != 0)
                return HK_ERR_JSON_DUPLICATE_KEY;
            found = i + 1; /* a value token is never token 0 */
        }
    }
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

/* The same scan as hk_json_int64_get in 32-bit arithmetic, not a wrapper
 * around it: the device reads its counts and intervals through here, and
 * 64-bit code would only add to its image. */
hk_result hk_json_uint32_get(const hk_json_doc *doc, size_t tok, uint32_t *out_value)
{
    HK_REQUIRE(doc != NULL && tok < doc->count && out_value != NULL);
    const hk_json_token *t = &doc->tokens[tok];
    if (t->type != HK_JSON_NUMBER)
        return HK_ERR_JSON_TYPE;
    const char *s = doc->json + t->start;
    bool neg = s[0] == '-', over = false;
    uint32_t v = 0;
    for (size_t i = neg; i < t->len; i++) {
        uint32_t d = (uint32_t)(s[i] - '0');
        if (d > 9)
            return HK_ERR_JSON_NOT_INTEGER;
        uint64_t next = (uint64_t)v * 10u + d; /* one multiply, no division */
        if (next > UINT32_MAX)
            over = true; /* stays set: the wrapped value is never used */
        v = (uint32_t)next;
    }
    if (over || (neg && v != 0)) /* "-0" is 0 */
        return HK_ERR_JSON_RANGE;
    *out_value = v;
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
