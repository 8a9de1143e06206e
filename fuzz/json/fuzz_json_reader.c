/* libFuzzer harness for the JSON reader: parse with limits taken from the
 * first byte, then drive every accessor over every token and check the
 * token invariants and that no output buffer is overrun. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/json.h"

#define MAX_TOKENS 256
#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static void check_string(const hk_json_doc *doc, size_t i)
{
    char out[64 + 8];
    size_t n = 0;
    hk_result r;
    /* Full size, then a small capacity that often cuts a character. */
    hk_guard_fill(out, 0, sizeof out);
    r = hk_json_string_get(doc, i, out, 64, &n);
    REQUIRE(hk_guard_intact(out, 64, sizeof out));
    if (r == HK_OK) {
        REQUIRE(n < 64 && out[n] == '\0' && strlen(out) == n);
        REQUIRE(hk_json_string_equals(doc, i, out, n));
        if (n > 0)
            REQUIRE(!hk_json_string_equals(doc, i, out, n - 1));
        /* Decoded text is never longer than the raw text. */
        REQUIRE(n <= doc->tokens[i].len - 2);
    } else {
        REQUIRE(r == HK_ERR_BUFFER_TOO_SMALL || r == HK_ERR_JSON_STRING);
    }
    size_t cap = doc->tokens[i].len % 7;
    hk_guard_fill(out, 0, sizeof out);
    r = hk_json_string_get(doc, i, out, cap, &n);
    REQUIRE(hk_guard_intact(out, cap, sizeof out));
    REQUIRE(r == HK_OK || r == HK_ERR_BUFFER_TOO_SMALL || r == HK_ERR_JSON_STRING);
}

static void check_container(const hk_json_doc *doc, size_t i)
{
    const hk_json_token *t = &doc->tokens[i];
    size_t c = 0, prev = i, children = 0;
    while (hk_json_next(doc, i, &c) == HK_OK) {
        REQUIRE(c > prev && c < t->next);
        if (t->type == HK_JSON_OBJECT) {
            REQUIRE(doc->tokens[c].type == HK_JSON_STRING && doc->tokens[c].next == c + 1);
            /* Looking a member's own name up finds it (or reports a duplicate). */
            char key[32];
            size_t n, v;
            if (hk_json_string_get(doc, c, key, sizeof key, &n) == HK_OK) {
                hk_result r = hk_json_object_find(doc, i, key, &v);
                REQUIRE(r == HK_ERR_JSON_DUPLICATE_KEY || (r == HK_OK && v == c + 1));
            }
        }
        prev = c;
        REQUIRE(++children <= doc->count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hk_json_token tokens[MAX_TOKENS];
    if (size < 1)
        return 0;
    unsigned depth = data[0] & 15u;
    size_t max_tokens = (data[0] & 0x80u) ? MAX_TOKENS : 1u + (data[0] >> 4);
    /* A private copy so reads past the end are caught by the sanitizer. */
    size_t len = size - 1;
    char *json = malloc(len ? len : 1);
    if (json == NULL)
        return 0;
    memcpy(json, data + 1, len);

    hk_json_doc doc;
    hk_result r = hk_json_parse(&doc, json, len, tokens, max_tokens, depth);
    if (r != HK_OK) {
        REQUIRE(doc.count == 0);
        REQUIRE(r >= HK_ERR_JSON_SYNTAX && r <= HK_ERR_JSON_UTF8);
        free(json);
        return 0;
    }
    REQUIRE(doc.count >= 1 && doc.count <= max_tokens);
    REQUIRE(doc.tokens[0].next == doc.count);
    for (size_t i = 0; i < doc.count; i++) {
        const hk_json_token *t = &doc.tokens[i];
        REQUIRE(t->start < len && t->len >= 1 && t->len <= len - t->start);
        REQUIRE(t->next > i && t->next <= doc.count);
        if (i > 0)
            REQUIRE(t->start > doc.tokens[i - 1].start);
        const char *text;
        size_t n;
        int64_t v64;
        uint32_t v32;
        bool b;
        REQUIRE(hk_json_raw_get(&doc, i, &text, &n) == HK_OK && text == json + t->start);
        switch (t->type) {
        case HK_JSON_STRING:
            REQUIRE(text[0] == '"' && text[n - 1] == '"' && n >= 2);
            check_string(&doc, i);
            break;
        case HK_JSON_NUMBER:
            r = hk_json_int64_get(&doc, i, &v64);
            REQUIRE(r == HK_OK || r == HK_ERR_JSON_NOT_INTEGER || r == HK_ERR_JSON_RANGE);
            r = hk_json_uint32_get(&doc, i, &v32);
            REQUIRE(r == HK_OK || r == HK_ERR_JSON_NOT_INTEGER || r == HK_ERR_JSON_RANGE);
            break;
        case HK_JSON_TRUE:
        case HK_JSON_FALSE:
            REQUIRE(hk_json_bool_get(&doc, i, &b) == HK_OK && b == (t->type == HK_JSON_TRUE));
            break;
        case HK_JSON_NULL:
            REQUIRE(n == 4);
            break;
        case HK_JSON_OBJECT:
        case HK_JSON_ARRAY:
            REQUIRE(text[n - 1] == (t->type == HK_JSON_OBJECT ? '}' : ']'));
            check_container(&doc, i);
            break;
        default:
            abort();
        }
        if (t->type != HK_JSON_STRING)
            REQUIRE(hk_json_string_get(&doc, i, (char[4]){0}, 4, &n) == HK_ERR_JSON_TYPE);
    }
    free(json);
    return 0;
}
