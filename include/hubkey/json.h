/*
 * hubkey — strict JSON reader and writer over caller buffers.
 *
 * No heap, no global state, no floating point. The reader never copies the
 * input: it fills a caller-supplied token array with the position of every
 * value, and accessors decode a value on demand (strings unescaped into a
 * caller buffer, integers range-checked). The writer appends to a caller
 * buffer and keeps the first error it meets ("sticky"), so a builder can
 * issue all its calls and check once, at hk_json_writer_finish(). That is
 * why the hk_json_write_* calls alone, of all hubkey's functions that return
 * an hk_result, are not HK_NODISCARD: their result is also the sticky error
 * that hk_json_writer_finish() returns.
 *
 * ---------------------------------------------------------------- reader --
 *
 * The reader accepts exactly RFC 8259 and rejects everything else:
 *   - one top-level value (any type), surrounded only by optional whitespace
 *     (space, tab, CR, LF); anything after it is HK_ERR_JSON_TRAILING;
 *   - input that ends before the value is complete (including empty or
 *     whitespace-only input, "[1", "\"ab", "tru") is HK_ERR_JSON_TRUNCATED;
 *   - trailing commas, missing commas or colons, bare words, single quotes,
 *     comments: HK_ERR_JSON_SYNTAX;
 *   - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? only; leading
 *     zeros ("01"), "1.", "1e", "-": HK_ERR_JSON_NUMBER;
 *   - strings: raw control characters (below 0x20), escapes other than
 *     \" \\ \/ \b \f \n \r \t \uXXXX, a high surrogate escape not followed by
 *     a low one, a lone low surrogate: HK_ERR_JSON_STRING;
 *   - the input must be valid UTF-8: overlong forms, encoded surrogates,
 *     code points above U+10FFFF and stray continuation bytes are
 *     HK_ERR_JSON_UTF8 (outside strings a non-ASCII byte is simply not
 *     JSON: HK_ERR_JSON_SYNTAX, or HK_ERR_JSON_TRAILING after the value);
 *   - nesting: a top-level object/array has depth 1, each container inside
 *     another one more; a container deeper than max_depth is HK_ERR_JSON_DEPTH
 *     (max_depth 0 allows only a scalar document);
 *   - more values than max_tokens: HK_ERR_JSON_TOO_MANY_TOKENS.
 * Duplicate object keys are accepted by the parser; hk_json_object_find()
 * refuses to pick one of them (HK_ERR_JSON_DUPLICATE_KEY).
 *
 * Tokens are stored in document order, one per value, and one per object key
 * (a STRING token). Token 0 is the top-level value. An object's token is
 * followed by key, value, key, value...; an array's by its elements. Every
 * token's `next` is the index just past the value and everything inside it,
 * so a whole value is skipped in O(1): an object member's value is at
 * key + 1, and the next key is at tokens[key + 1].next.
 *
 * Example: {"a":[1,true],"b":"x"}
 *   #  type    start len next   raw text
 *   0  OBJECT      0  22    7   the whole input
 *   1  STRING      1   3    2   "a"      (key)
 *   2  ARRAY       5   8    5   [1,true]
 *   3  NUMBER      6   1    4   1
 *   4  TRUE        8   4    5   true
 *   5  STRING     14   3    6   "b"      (key)
 *   6  STRING     18   3    7   "x"
 * `start`/`len` always cover the raw text of the value, quotes and brackets
 * included, so that slice is valid JSON on its own.
 *
 * Lifetimes: a hk_json_doc points into the caller's input and token array;
 * both must outlive the doc and stay unchanged while it is used. Accessors
 * take a token index below doc->count (a precondition: HK_ERR_INVALID_ARG).
 *
 * ---------------------------------------------------------------- writer --
 *
 * Output is compact (no whitespace). Strings and keys are escaped: '"' and
 * '\\' get a backslash, control characters below 0x20 become \b \f \n \r \t
 * or \u00XX (lowercase hex); every other byte is copied, and the text must be
 * valid UTF-8 (else HK_ERR_JSON_UTF8), so the writer only ever produces JSON
 * the reader accepts (text given to hk_json_write_raw is the caller's
 * responsibility). The writer checks the call sequence (a key only inside
 * an object and before each member value, ends matching begins, one
 * top-level value): a wrong sequence is HK_ERR_STATE; nesting deeper than
 * HK_JSON_WRITER_MAX_DEPTH is HK_ERR_LIMIT. It never writes at or past
 * buf + cap.
 *
 * Sticky error: the first failure (HK_ERR_BUFFER_TOO_SMALL, HK_ERR_STATE,
 * HK_ERR_LIMIT, HK_ERR_JSON_UTF8, or HK_ERR_INVALID_ARG for a NULL text or an
 * empty raw value) is
 * kept; every later call returns it and writes nothing. After an error the
 * buffer holds a truncated, unusable prefix that is not NUL-terminated.
 */
#ifndef HUBKEY_JSON_H
#define HUBKEY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hk_json_type {
    HK_JSON_OBJECT = 1,
    HK_JSON_ARRAY = 2,
    HK_JSON_STRING = 3,
    HK_JSON_NUMBER = 4,
    HK_JSON_TRUE = 5,
    HK_JSON_FALSE = 6,
    HK_JSON_NULL = 7
} hk_json_type;

/* One value of the document. All fields are read-only for the caller. */
typedef struct hk_json_token {
    hk_json_type type;
    size_t start; /* byte offset of the value's first byte in the input */
    size_t len;   /* bytes of its raw text (quotes/brackets included) */
    size_t next;  /* index of the first token after this value */
} hk_json_token;

/* A parsed document: the input and the caller's tokens. Read-only. */
typedef struct hk_json_doc {
    const char *json;
    size_t len;
    const hk_json_token *tokens;
    size_t count; /* tokens used; the top-level value is token 0 */
} hk_json_doc;

/* Parse json[0..len) into tokens[0..max_tokens). On HK_OK *out_doc describes
 * the document (out_doc->count >= 1). On error *out_doc is cleared (count 0)
 * and the token array holds unspecified values. Errors as listed above;
 * HK_ERR_INVALID_ARG for NULL out_doc, NULL json with len > 0, NULL tokens
 * with max_tokens > 0. json need not be NUL-terminated. */
HK_NODISCARD hk_result hk_json_parse(hk_json_doc *out_doc, const char *json, size_t len,
                                     hk_json_token *tokens, size_t max_tokens, unsigned max_depth);

/* Find member `key` (NUL-terminated, compared byte for byte with the
 * unescaped member name) in object token obj; *out_value = its value's token.
 * HK_ERR_JSON_TYPE: obj is not an object. HK_ERR_NOT_FOUND: no such member.
 * HK_ERR_JSON_DUPLICATE_KEY: the name occurs more than once. */
HK_NODISCARD hk_result hk_json_object_find(const hk_json_doc *doc, size_t obj, const char *key,
                                           size_t *out_value);

/* Iterate the children of array or object token `container`. Start with
 * *io_child = 0; each HK_OK call moves *io_child to the next element (for an
 * object: the next member's key; its value is *io_child + 1). Returns
 * HK_ERR_NOT_FOUND after the last child (and for an empty container),
 * HK_ERR_JSON_TYPE when container is not an array or object. A non-zero
 * *io_child must be one this function returned for the same container
 * (else HK_ERR_INVALID_ARG where detectable; never a read outside it).
 *
 *   size_t i = 0;
 *   while (hk_json_next(doc, arr, &i) == HK_OK) { use token i }
 */
HK_NODISCARD hk_result hk_json_next(const hk_json_doc *doc, size_t container, size_t *io_child);

/* Unescape string token tok into out as UTF-8 and NUL-terminate it;
 * *out_len = bytes before the NUL. Needs cap >= decoded length + 1, else
 * HK_ERR_BUFFER_TOO_SMALL (out may hold a partial prefix, never written at
 * or past out + cap). A string holding \u0000 is refused with
 * HK_ERR_JSON_STRING, so out is always a proper C string (no silent
 * truncation of host names and IDs). HK_ERR_JSON_TYPE: not a string. */
HK_NODISCARD hk_result hk_json_string_get(const hk_json_doc *doc, size_t tok, char *out, size_t cap,
                                          size_t *out_len);

/* True when tok is a string whose unescaped bytes equal s[0..len). */
bool hk_json_string_equals(const hk_json_doc *doc, size_t tok, const char *s, size_t len);

/* Integer value of number token tok. HK_ERR_JSON_TYPE: not a number.
 * HK_ERR_JSON_NOT_INTEGER: it has a fraction or exponent ("1.0", "1e3").
 * HK_ERR_JSON_RANGE: it does not fit (uint32 accepts 0..4294967295; "-0" is
 * 0). *out_value is written only on HK_OK. */
HK_NODISCARD hk_result hk_json_int64_get(const hk_json_doc *doc, size_t tok, int64_t *out_value);
HK_NODISCARD hk_result hk_json_uint32_get(const hk_json_doc *doc, size_t tok, uint32_t *out_value);

/* true/false token -> *out_value; HK_ERR_JSON_TYPE for any other type. */
HK_NODISCARD hk_result hk_json_bool_get(const hk_json_doc *doc, size_t tok, bool *out_value);

/* Raw text of any value (valid JSON on its own, e.g. a nested object to be
 * handed on verbatim): *out_text points into the parsed input (same
 * lifetime), *out_len bytes, not NUL-terminated. */
HK_NODISCARD hk_result hk_json_raw_get(const hk_json_doc *doc, size_t tok, const char **out_text,
                                       size_t *out_len);

/* ---------------------------------------------------------------- writer */

/* Deepest nesting the writer tracks. */
#define HK_JSON_WRITER_MAX_DEPTH 32u

typedef struct hk_json_writer {
    struct hk_json_writer_internal {
        char *buf;
        size_t cap;
        size_t len;
        hk_result err;
        uint32_t is_object; /* bit d-1 set: container at depth d is an object */
        uint8_t depth;
        uint8_t flags;
    } _internal;
} hk_json_writer;

/* Start writing into buf[0..cap). buf must outlive the writer's use. cap 0 is
 * allowed (every write then fails with HK_ERR_BUFFER_TOO_SMALL). */
HK_NODISCARD hk_result hk_json_writer_init(hk_json_writer *w, char *buf, size_t cap);

/* {"a":1,"b":[true,null]} is: object_begin, key "a", int 1, key "b",
 * array_begin, bool true, null, array_end, object_end. */
hk_result hk_json_write_object_begin(hk_json_writer *w);
hk_result hk_json_write_object_end(hk_json_writer *w);
hk_result hk_json_write_array_begin(hk_json_writer *w);
hk_result hk_json_write_array_end(hk_json_writer *w);

/* Member name (NUL-terminated, escaped). The next call writes its value. */
hk_result hk_json_write_key(hk_json_writer *w, const char *key);

/* String value, escaped: NUL-terminated, or s[0..len) (may hold NUL bytes,
 * written as \u0000). s is never NULL, not even with len 0 (else
 * HK_ERR_INVALID_ARG, kept as the sticky error). */
hk_result hk_json_write_string(hk_json_writer *w, const char *s);
hk_result hk_json_write_string_n(hk_json_writer *w, const char *s, size_t len);

hk_result hk_json_write_int(hk_json_writer *w, int64_t v);
hk_result hk_json_write_bool(hk_json_writer *w, bool v);
hk_result hk_json_write_null(hk_json_writer *w);

/* Insert json[0..len) verbatim as one value (e.g. an application payload
 * that came from hk_json_raw_get). Contract: it must be one complete valid
 * JSON value; the writer does not parse it (an empty text is
 * HK_ERR_INVALID_ARG). */
hk_result hk_json_write_raw(hk_json_writer *w, const char *json, size_t len);

/* Finish: requires one complete top-level value (else HK_ERR_STATE), then
 * appends a NUL terminator. HK_OK only if the text and its NUL fit in cap;
 * *out_len = text length without the NUL. Returns the sticky error if any
 * earlier call failed. */
HK_NODISCARD hk_result hk_json_writer_finish(hk_json_writer *w, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_JSON_H */
