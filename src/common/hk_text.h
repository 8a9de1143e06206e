/*
 * A counting text writer for the string builders of src/ (private).
 *
 * It counts every byte a string needs and stores only those that fit, so one
 * pass both sizes and writes, and a buffer that is too small is never
 * written past its end: builders report the size they need either way.
 *
 *     hk_text t = HK_TEXT_INIT(out, cap);
 *     hk_text_puts(&t, "devices/"); hk_text_put(&t, id, id_len);
 *     return hk_text_finish(&t, out_len);
 */
#ifndef HK_TEXT_H
#define HK_TEXT_H

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
hk_result hk_text_finish(hk_text *t, size_t *out_len);

#endif /* HK_TEXT_H */
