/*
 * Compact JSON writer into a caller buffer with a sticky error.
 *
 * The state is three facts: the nesting depth with one bit per level saying
 * "object" (so a 32-bit mask bounds the depth), whether a comma is due
 * before the next item, and whether a key is waiting for its value. That is
 * enough to refuse every out-of-order call without a stack.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/json.h"
#include "json/json_internal.h"

#define F_COMMA 0x01u   /* an item was written at this level: ',' before the next */
#define F_KEY 0x02u     /* a key was written: its value is due */
#define F_DONE 0x04u    /* the top-level value is complete */

/* Record the first error only: later ones are consequences of it. */
static hk_result fail(hk_json_writer *w, hk_result r)
{
    if (w->_internal.err == HK_OK)
        w->_internal.err = r;
    return w->_internal.err;
}

static hk_result put(hk_json_writer *w, const char *s, size_t n)
{
    if (w->_internal.err != HK_OK)
        return w->_internal.err;
    if (n > w->_internal.cap - w->_internal.len)
        return fail(w, HK_ERR_BUFFER_TOO_SMALL);
    memcpy(w->_internal.buf + w->_internal.len, s, n);
    w->_internal.len += n;
    return HK_OK;
}

static bool in_object(const hk_json_writer *w)
{
    return w->_internal.depth > 0 &&
           ((w->_internal.is_object >> (w->_internal.depth - 1)) & 1u) != 0;
}

/* Before any value: check it is allowed here, then write a separating comma. */
static hk_result value_begin(hk_json_writer *w)
{
    uint8_t *flags = &w->_internal.flags;
    if (w->_internal.err != HK_OK)
        return w->_internal.err;
    if ((*flags & F_DONE) || (in_object(w) && !(*flags & F_KEY)))
        return fail(w, HK_ERR_STATE);
    if (!(*flags & F_KEY) && (*flags & F_COMMA))
        HK_TRY(put(w, ",", 1));
    *flags &= (uint8_t)~F_KEY;
    return HK_OK;
}

/* After any value: the next item at this level needs a comma. */
static hk_result value_end(hk_json_writer *w)
{
    w->_internal.flags |= w->_internal.depth == 0 ? F_DONE : F_COMMA;
    return HK_OK;
}

/* "text" with JSON escapes: "a\"b\\c\n\u0001" for a"b\c<LF><SOH>. */
static hk_result put_string(hk_json_writer *w, const char *s, size_t len)
{
    static const char hex[16] = "0123456789abcdef";
    static const char short_in[5] = {'\b', '\f', '\n', '\r', '\t'};
    static const char short_out[5] = {'b', 'f', 'n', 'r', 't'};
    HK_TRY(put(w, "\"", 1));
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x80) {
            /* Multi-byte UTF-8: copied as is once it is known to be valid. */
            size_t j = i;
            uint32_t cp;
            if (hk_json_utf8_next(s, len, &j, &cp) != HK_OK)
                return fail(w, HK_ERR_JSON_UTF8);
            HK_TRY(put(w, s + i, j - i));
            i = j;
            continue;
        }
        char e[6] = {'\\', (char)c, '0', '0', 0, 0};
        size_t k = 2;
        const char *sh = memchr(short_in, c, sizeof short_in);
        if (sh != NULL) {
            e[1] = short_out[sh - short_in];
        } else if (c < 0x20) {
            e[1] = 'u';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            k = 6;
        } else if (c != '"' && c != '\\') {
            e[0] = (char)c;
            k = 1;
        }
        HK_TRY(put(w, e, k));
        i++;
    }
    return put(w, "\"", 1);
}

hk_result hk_json_writer_init(hk_json_writer *w, char *buf, size_t cap)
{
    HK_REQUIRE(w != NULL && (buf != NULL || cap == 0));
    memset(w, 0, sizeof *w);
    w->_internal.buf = buf;
    w->_internal.cap = cap;
    return HK_OK;
}

static hk_result container_begin(hk_json_writer *w, bool object)
{
    HK_REQUIRE(w != NULL);
    HK_TRY(value_begin(w));
    if (w->_internal.depth >= HK_JSON_WRITER_MAX_DEPTH)
        return fail(w, HK_ERR_LIMIT);
    HK_TRY(put(w, object ? "{" : "[", 1));
    uint32_t bit = 1u << w->_internal.depth;
    w->_internal.is_object = object ? (w->_internal.is_object | bit) : (w->_internal.is_object & ~bit);
    w->_internal.depth++;
    w->_internal.flags = 0;
    return HK_OK;
}

static hk_result container_end(hk_json_writer *w, bool object)
{
    HK_REQUIRE(w != NULL);
    if (w->_internal.err != HK_OK)
        return w->_internal.err;
    if (w->_internal.depth == 0 || in_object(w) != object || (w->_internal.flags & F_KEY))
        return fail(w, HK_ERR_STATE);
    HK_TRY(put(w, object ? "}" : "]", 1));
    w->_internal.depth--;
    return value_end(w);
}

hk_result hk_json_write_object_begin(hk_json_writer *w)
{
    return container_begin(w, true);
}

hk_result hk_json_write_object_end(hk_json_writer *w)
{
    return container_end(w, true);
}

hk_result hk_json_write_array_begin(hk_json_writer *w)
{
    return container_begin(w, false);
}

hk_result hk_json_write_array_end(hk_json_writer *w)
{
    return container_end(w, false);
}

hk_result hk_json_write_key(hk_json_writer *w, const char *key)
{
    HK_REQUIRE(w != NULL);
    if (w->_internal.err != HK_OK)
        return w->_internal.err;
    if (key == NULL)
        return fail(w, HK_ERR_INVALID_ARG);
    if (!in_object(w) || (w->_internal.flags & F_KEY))
        return fail(w, HK_ERR_STATE);
    if (w->_internal.flags & F_COMMA)
        HK_TRY(put(w, ",", 1));
    HK_TRY(put_string(w, key, strlen(key)));
    HK_TRY(put(w, ":", 1));
    w->_internal.flags = F_KEY;
    return HK_OK;
}

hk_result hk_json_write_string_n(hk_json_writer *w, const char *s, size_t len)
{
    HK_REQUIRE(w != NULL);
    if (s == NULL && len != 0)
        return fail(w, HK_ERR_INVALID_ARG);
    HK_TRY(value_begin(w));
    HK_TRY(put_string(w, s, len));
    return value_end(w);
}

hk_result hk_json_write_string(hk_json_writer *w, const char *s)
{
    HK_REQUIRE(w != NULL);
    if (s == NULL)
        return fail(w, HK_ERR_INVALID_ARG);
    return hk_json_write_string_n(w, s, strlen(s));
}

/* Decimal, e.g. -9223372036854775808. */
hk_result hk_json_write_int(hk_json_writer *w, int64_t v)
{
    HK_REQUIRE(w != NULL);
    char d[20];
    size_t i = sizeof d;
    /* Magnitude in unsigned arithmetic: INT64_MIN has no positive twin. */
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (v < 0)
        d[--i] = '-';
    HK_TRY(value_begin(w));
    HK_TRY(put(w, d + i, sizeof d - i));
    return value_end(w);
}

/* A literal or verbatim JSON text as one value. */
static hk_result put_value(hk_json_writer *w, const char *text, size_t len)
{
    HK_TRY(value_begin(w));
    HK_TRY(put(w, text, len));
    return value_end(w);
}

hk_result hk_json_write_bool(hk_json_writer *w, bool v)
{
    HK_REQUIRE(w != NULL);
    return v ? put_value(w, "true", 4) : put_value(w, "false", 5);
}

hk_result hk_json_write_null(hk_json_writer *w)
{
    HK_REQUIRE(w != NULL);
    return put_value(w, "null", 4);
}

hk_result hk_json_write_raw(hk_json_writer *w, const char *json, size_t len)
{
    HK_REQUIRE(w != NULL);
    if (json == NULL || len == 0)
        return fail(w, HK_ERR_INVALID_ARG);
    return put_value(w, json, len);
}

hk_result hk_json_writer_finish(hk_json_writer *w, size_t *out_len)
{
    HK_REQUIRE(w != NULL && out_len != NULL);
    if (w->_internal.err != HK_OK)
        return w->_internal.err;
    if (!(w->_internal.flags & F_DONE))
        return fail(w, HK_ERR_STATE);
    if (w->_internal.len >= w->_internal.cap)
        return fail(w, HK_ERR_BUFFER_TOO_SMALL);
    w->_internal.buf[w->_internal.len] = '\0';
    *out_len = w->_internal.len;
    return HK_OK;
}
