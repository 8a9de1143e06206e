#include "common/hk_text.h"

#include <string.h>

void hk_text_put(hk_text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, t->len++) {
        if (t->len < t->cap)
            t->buf[t->len] = s[i];
    }
}

void hk_text_puts(hk_text *t, const char *s)
{
    hk_text_put(t, s, strlen(s));
}

/* Digits are produced backwards into a small stack buffer; 32-bit division
 * only (no 64-bit helper from libgcc). */
void hk_text_put_uint(hk_text *t, uint32_t v)
{
    char d[10];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    hk_text_put(t, d + i, sizeof d - i);
}

hk_result hk_text_finish(hk_text *t, size_t *out_len)
{
    *out_len = t->len;
    if (t->len >= t->cap)
        return HK_ERR_BUFFER_TOO_SMALL;
    t->buf[t->len] = '\0';
    return HK_OK;
}

bool hk_text_token_ok(const char *s, size_t n, const char *forbidden)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c > '~' || strchr(forbidden, c) != NULL)
            return false;
    }
    return true;
}

unsigned hk_text_hex(char c)
{
    unsigned d = (unsigned)(unsigned char)c - '0';
    if (d < 10)
        return d;
    /* 'A'..'F' and 'a'..'f' (and nothing else) map to 'a'..'f' */
    d = ((unsigned)(unsigned char)c | 0x20u) - 'a';
    return d < 6 ? d + 10 : 16;
}

bool hk_text_uint(const char *s, size_t n, uint32_t *out, bool saturate)
{
    uint32_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        /* 32-bit only: v * 10 + d stays below 2^32 up to 429496729 and 5 */
        if (v > 429496729u || (v == 429496729u && d > 5)) {
            if (!saturate)
                return false;
            v = UINT32_MAX;
        } else {
            v = v * 10u + d;
        }
    }
    *out = v;
    return true;
}

hk_result hk_text_item_next(const char *list, size_t len, hk_text_item *it, hk_result bad)
{
    size_t pos = it->pos;
    if (pos >= len)
        return HK_ERR_NOT_FOUND;
    const char *p = list + pos;
    size_t rest = len - pos;
    const char *amp = memchr(p, '&', rest);
    size_t item = amp != NULL ? (size_t)(amp - p) : rest;
    const char *eq = memchr(p, '=', item);
    size_t name_len = eq != NULL ? (size_t)(eq - p) : item;
    if (name_len == 0 || (amp != NULL && item + 1 == rest))
        return bad;
    it->name = p;
    it->name_len = name_len;
    it->has_value = eq != NULL;
    it->value = eq != NULL ? eq + 1 : p + item;
    it->value_len = eq != NULL ? item - name_len - 1 : 0;
    it->pos = pos + item + (amp != NULL ? 1 : 0);
    return HK_OK;
}

bool hk_text_item_is(const hk_text_item *it, const char *name)
{
    return it->name_len == strlen(name) && memcmp(it->name, name, it->name_len) == 0;
}
