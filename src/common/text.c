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
