/*
 * Private to src/: the UTF-8 decoder shared by the reader (validating input
 * strings) and the writer (validating what it is asked to emit), and the
 * string escaper the writer shares with the builders that write their JSON
 * as text (the DPS registration body).
 */
#ifndef HK_JSON_INTERNAL_H
#define HK_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/hk_text.h"
#include "hubkey/result.h"

/* Decode the multi-byte UTF-8 sequence at s[*io_pos] (*io_pos < end; callers
 * handle ASCII themselves, so a byte below 0x80 is refused like a stray
 * continuation byte) into *out_cp and move *io_pos past it. HK_ERR_JSON_UTF8 for a stray continuation byte, an
 * invalid lead byte, an overlong form, an encoded surrogate or a code point
 * above U+10FFFF; HK_ERR_JSON_TRUNCATED when end cuts the sequence short.
 * *io_pos and *out_cp are unchanged on error. */
HK_NODISCARD hk_result hk_json_utf8_next(const char *s, size_t end, size_t *io_pos,
                                         uint32_t *out_cp);

/* Append s[0..len) as a JSON string with its quotes and escapes, e.g.
 * "a\"b\\c\n\u0001" for a"b\c<LF><SOH> (the writer's escapes: \" \\ \b \f
 * \n \r \t, \u00xx for the other control characters, everything else as
 * it is). HK_ERR_JSON_UTF8 at an invalid UTF-8 sequence: the text then ends
 * before it. Running out of room shows only in t's length. */
HK_NODISCARD hk_result hk_json_text_string(hk_text *t, const char *s, size_t len);

#endif /* HK_JSON_INTERNAL_H */
