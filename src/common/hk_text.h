/*
 * Text helpers for the builders and parsers of src/ (private): a counting
 * writer and a reader of "name=value&..." lists.
 *
 * The writer counts every byte a string needs and stores only those that fit, so one
 * pass both sizes and writes, and a buffer that is too small is never
 * written past its end: builders report the size they need either way.
 *
 *     hk_text t = HK_TEXT_INIT(out, cap);
 *     hk_text_puts(&t, "devices/"); hk_text_put(&t, id, id_len);
 *     return hk_text_finish(&t, out_len);
 */
#ifndef HK_TEXT_H
#define HK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

/* Initializer for a writer over out[0..cap). */
#define HK_TEXT_INIT(out, cap) {(out), (cap), 0}

typedef struct hk_text {
    char *buf;  /* may be NULL when cap is 0 (size query) */
    size_t cap;
    size_t len; /* bytes the text needs so far, stored or not */
} hk_text;

/* Append s[0..n). */
void hk_text_put(hk_text *t, const char *s, size_t n);
/* Append a NUL-terminated string. */
void hk_text_puts(hk_text *t, const char *s);
/* Append v in decimal. */
void hk_text_put_uint(hk_text *t, uint32_t v);
/* *out_len = the text's length (without NUL). HK_OK and a NUL-terminated
 * text when text and NUL fit; HK_ERR_BUFFER_TOO_SMALL otherwise. */
HK_NODISCARD hk_result hk_text_finish(hk_text *t, size_t *out_len);

/* True when s[0..n) is 1 or more printable ASCII bytes (no space), none of
 * them in the NUL-terminated list forbidden. */
bool hk_text_token_ok(const char *s, size_t n, const char *forbidden);

/* Unsigned decimal s[0..n): 1 or more digits, nothing else. A value above
 * UINT32_MAX is refused, or with saturate gives UINT32_MAX. */
bool hk_text_uint(const char *s, size_t n, uint32_t *out, bool saturate);

/* Value of hex digit c ('0'-'9', 'A'-'F', 'a'-'f'), or 16 and more when c
 * is not one. */
unsigned hk_text_hex(char c);

/* One item of a "name=value&name2=&name3" list (a topic's query or property
 * bag). pos is the reader's cursor: 0 before the first item. */
typedef struct hk_text_item {
    size_t pos;
    const char *name;
    size_t name_len;
    const char *value; /* the bytes after '=', or the end of the item without one */
    size_t value_len;
    bool has_value;
} hk_text_item;

/* The item of list[0..len) at it->pos, e.g. "$rid=1" and then "$version=6"
 * from "$rid=1&$version=6"; items are "name=value", "name=" or "name",
 * joined by '&'. HK_ERR_NOT_FOUND past the last one; bad for an empty name
 * and for the empty last item that a trailing '&' leaves. */
HK_NODISCARD hk_result hk_text_item_next(const char *list, size_t len, hk_text_item *it,
                                         hk_result bad);

/* True when the item's name is name. */
bool hk_text_item_is(const hk_text_item *it, const char *name);

#endif /* HK_TEXT_H */
