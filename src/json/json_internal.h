/*
 * Private to src/json: the UTF-8 decoder shared by the reader (validating
 * input strings) and the writer (validating what it is asked to emit).
 */
#ifndef HK_JSON_INTERNAL_H
#define HK_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

/* Decode the multi-byte UTF-8 sequence at s[*io_pos] (*io_pos < end; callers
 * handle ASCII themselves, so a byte below 0x80 is refused like a stray
 * continuation byte) into *out_cp and move *io_pos past it. HK_ERR_JSON_UTF8 for a stray continuation byte, an
 * invalid lead byte, an overlong form, an encoded surrogate or a code point
 * above U+10FFFF; HK_ERR_JSON_TRUNCATED when end cuts the sequence short.
 * *io_pos and *out_cp are unchanged on error. */
hk_result hk_json_utf8_next(const char *s, size_t end, size_t *io_pos, uint32_t *out_cp);

#endif /* HK_JSON_INTERNAL_H */
