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
#include "common/hk_text.h"
#include "hubkey/json.h"
#include "json/json_internal.h"

#define F_COMMA 0x01u /* an item was written at this level: ',' before the next */
#define F_KEY 0x02u   /* a key was written: its value is due */
#define F_DONE 0x04u  /* the top-level value is complete */

/* What a call adds; every public call is one emit(). */
enum { K_VERBATIM, K_STRING, K_OPEN, K_KEY, K_CLOSE_OBJECT, K_CLOSE_ARRAY };

#define VALUES ((1u << K_VERBATIM) | (1u << K_STRING) | (1u << K_OPEN))

/* Record the error. Only the first one is ever recorded: emit() returns
 * early once err is set, and every failure below it returns at once. */
static hk_result fail(hk_json_writer *w, hk_result r)
{
    w->_internal.err = r;
    return r;
}

static hk_result put(hk_json_writer *w, const char *s, size_t n)
{
    if (n > w->_internal.cap - w->_internal.len)
        return fail(w, HK_ERR_BUFFER_TOO_SMALL);
    memcpy(w->_internal.buf + w->_internal.len, s, n);
    w->_internal.len += n;
    return HK_OK;
}

/* "text" with JSON escapes: "a\"b\\c\n\u0001" for a"b\c<LF><SOH>. Multi-byte
 * UTF-8 is copied as is once it is known to be valid; at an invalid sequence
 * the text stops there, without its closing quote. */
hk_result hk_json_text_string(hk_text *t, const char *s, size_t len)
{
    static const char hex[16] = "0123456789abcdef";
    /* Characters with a short escape, and the letter of each. */
    static const char short_in[7] = {'"', '\\', '\b', '\f', '\n', '\r', '\t'};
    static const char short_out[7] = {'"', '\\', 'b', 'f', 'n', 'r', 't'};
    hk_text_put(t, "\"", 1);
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)s[i];
        size_t k = 6, used = 1;
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        const char *src = e;
        const char *sh = memchr(short_in, c, sizeof short_in);
        if (c >= 0x80) {
            size_t j = i;
            uint32_t cp;
            if (hk_json_utf8_next(s, len, &j, &cp) != HK_OK)
                return HK_ERR_JSON_UTF8;
            src = s + i;
            k = used = j - i;
        } else if (sh != NULL) {
            e[1] = short_out[sh - short_in];
            k = 2;
        } else if (c >= 0x20) {
            e[0] = (char)c;
            k = 1;
        }
        hk_text_put(t, src, k);
        i += used;
    }
    hk_text_put(t, "\"", 1);
    return HK_OK;
}

/* A string or key into the buffer. Bytes past cap are only counted, so the
 * first piece that does not fit shows as a length beyond cap, checked before
 * an invalid UTF-8 sequence that comes later in the string. */
static hk_result put_string(hk_json_writer *w, const char *s, size_t len)
{
    struct hk_json_writer_internal *x = &w->_internal;
    hk_text t = HK_TEXT_INIT(x->buf, x->cap);
    t.len = x->len;
    hk_result r = hk_json_text_string(&t, s, len);
    if (t.len > x->cap)
        r = HK_ERR_BUFFER_TOO_SMALL;
    if (r != HK_OK)
        return fail(w, r);
    x->len = t.len;
    return HK_OK;
}

/* Check that `kind` may come next, write the separating comma, the text
 * (escaped for strings and keys) and move the state on. */
static hk_result emit(hk_json_writer *w, unsigned kind, const char *s, size_t len)
{
    /* The calls allowed in each place: a member's key or the end of its
     * object; a member's value; an array element or the end of the array;
     * the top-level value; nothing once that is complete. */
    static const uint8_t allowed[5] = {
        (1u << K_KEY) | (1u << K_CLOSE_OBJECT), VALUES, VALUES | (1u << K_CLOSE_ARRAY), VALUES, 0};
    HK_REQUIRE(w != NULL);
    struct hk_json_writer_internal *x = &w->_internal;
    if (x->err != HK_OK)
        return x->err;
    if (s == NULL || (len == 0 && kind == K_VERBATIM))
        return fail(w, HK_ERR_INVALID_ARG);
    unsigned at = x->flags & F_DONE                          ? 4
                  : x->depth == 0                            ? 3
                  : !((x->is_object >> (x->depth - 1)) & 1u) ? 2
                  : x->flags & F_KEY                         ? 1
                                                             : 0;
    if (!((allowed[at] >> kind) & 1u))
        return fail(w, HK_ERR_STATE);
    if (kind == K_OPEN && x->depth >= HK_JSON_WRITER_MAX_DEPTH)
        return fail(w, HK_ERR_LIMIT);
    /* F_COMMA is never set together with F_KEY. */
    if ((x->flags & F_COMMA) && kind < K_CLOSE_OBJECT)
        HK_TRY(put(w, ",", 1));
    HK_TRY(kind == K_STRING || kind == K_KEY ? put_string(w, s, len) : put(w, s, len));
    if (kind == K_KEY) {
        x->flags = F_KEY;
        return put(w, ":", 1);
    }
    if (kind == K_OPEN) {
        uint32_t bit = 1u << x->depth;
        x->is_object = s[0] == '{' ? (x->is_object | bit) : (x->is_object & ~bit);
        x->depth++;
        x->flags = 0;
        return HK_OK;
    }
    if (kind > K_KEY)
        x->depth--;
    x->flags = x->depth > 0 ? F_COMMA : F_DONE;
    return HK_OK;
}

hk_result hk_json_writer_init(hk_json_writer *w, char *buf, size_t cap)
{
    HK_REQUIRE(w != NULL && (buf != NULL || cap == 0));
    memset(w, 0, sizeof *w);
    w->_internal.buf = buf;
    w->_internal.cap = cap;
    return HK_OK;
}

hk_result hk_json_write_object_begin(hk_json_writer *w)
{
    return emit(w, K_OPEN, "{", 1);
}

hk_result hk_json_write_object_end(hk_json_writer *w)
{
    return emit(w, K_CLOSE_OBJECT, "}", 1);
}

hk_result hk_json_write_array_begin(hk_json_writer *w)
{
    return emit(w, K_OPEN, "[", 1);
}

hk_result hk_json_write_array_end(hk_json_writer *w)
{
    return emit(w, K_CLOSE_ARRAY, "]", 1);
}

hk_result hk_json_write_key(hk_json_writer *w, const char *key)
{
    return emit(w, K_KEY, key, key != NULL ? strlen(key) : 0);
}

hk_result hk_json_write_string_n(hk_json_writer *w, const char *s, size_t len)
{
    return emit(w, K_STRING, s, len);
}

hk_result hk_json_write_string(hk_json_writer *w, const char *s)
{
    return emit(w, K_STRING, s, s != NULL ? strlen(s) : 0);
}

/* Decimal, e.g. -9223372036854775808. The magnitude is divided by 10 in
 * four 16-bit limbs so that only 32-bit division is used: a 64-bit division
 * would pull a large helper routine into a Cortex-M image. */
hk_result hk_json_write_int(hk_json_writer *w, int64_t v)
{
    char d[20];
    size_t i = sizeof d;
    /* Magnitude in unsigned arithmetic: INT64_MIN has no positive twin. */
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint16_t limb[4] = {(uint16_t)(m >> 48), (uint16_t)(m >> 32), (uint16_t)(m >> 16),
                        (uint16_t)m};
    bool more;
    do {
        uint32_t r = 0;
        more = false;
        for (unsigned k = 0; k < 4; k++) {
            uint32_t cur = (r << 16) | limb[k];
            limb[k] = (uint16_t)(cur / 10);
            r = cur % 10;
            more |= limb[k] != 0;
        }
        d[--i] = (char)('0' + r);
    } while (more);
    if (v < 0)
        d[--i] = '-';
    return emit(w, K_VERBATIM, d + i, sizeof d - i);
}

hk_result hk_json_write_bool(hk_json_writer *w, bool v)
{
    return v ? emit(w, K_VERBATIM, "true", 4) : emit(w, K_VERBATIM, "false", 5);
}

hk_result hk_json_write_null(hk_json_writer *w)
{
    return emit(w, K_VERBATIM, "null", 4);
}

hk_result hk_json_write_raw(hk_json_writer *w, const char *json, size_t len)
{
    return emit(w, K_VERBATIM, json, len);
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
