/* libFuzzer harness: the input is a program of writer calls. Whatever the
 * writer accepts must parse back, token for token, to the same values; what
 * it refuses must be refused with a documented error; no call may write past
 * the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/json.h"

#define MAX_OPS 128
#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

/* What one token of the output must hold. */
struct expect {
    hk_json_type type;
    const char *text; /* string/key bytes (not NUL-terminated) */
    size_t len;
    int64_t num;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct expect exp[2 * MAX_OPS];
    static hk_json_token tokens[2 * MAX_OPS];
    if (size < 1)
        return 0;
    size_t cap = (size_t)data[0] * 4; /* 0..1020 */
    char *buf = malloc(cap + 16);
    if (buf == NULL)
        return 0;
    hk_guard_fill(buf, 0, cap + 16);

    hk_json_writer w;
    REQUIRE(hk_json_writer_init(&w, cap ? buf : NULL, cap) == HK_OK);
    size_t i = 1, ne = 0, ops = 0;
    hk_result r = HK_OK;
    while (i < size && ops++ < MAX_OPS) {
        uint8_t op = data[i++] % 10;
        struct expect e = {HK_JSON_NULL, NULL, 0, 0};
        switch (op) {
        case 0:
            r = hk_json_write_object_begin(&w);
            e.type = HK_JSON_OBJECT;
            break;
        case 1:
            r = hk_json_write_object_end(&w);
            break;
        case 2:
            r = hk_json_write_array_begin(&w);
            e.type = HK_JSON_ARRAY;
            break;
        case 3:
            r = hk_json_write_array_end(&w);
            break;
        case 4:
        case 5: {
            /* Length byte, then that many bytes (keys stop at a NUL). */
            size_t n = i < size ? data[i++] % 24 : 0;
            if (n > size - i)
                n = size - i;
            e.type = HK_JSON_STRING;
            e.text = (const char *)data + i;
            e.len = n;
            if (op == 4) {
                char key[32];
                memcpy(key, data + i, n);
                key[n] = '\0';
                e.len = strlen(key);
                r = hk_json_write_key(&w, key);
            } else {
                r = hk_json_write_string_n(&w, (const char *)data + i, n);
            }
            i += n;
            break;
        }
        case 6: {
            uint64_t u = 0;
            for (unsigned k = 0; k < 8 && i < size; k++)
                u = (u << 8) | data[i++];
            e.type = HK_JSON_NUMBER;
            e.num = (int64_t)u;
            r = hk_json_write_int(&w, e.num);
            break;
        }
        case 7:
            e.type = (i < size && (data[i++] & 1)) ? HK_JSON_TRUE : HK_JSON_FALSE;
            r = hk_json_write_bool(&w, e.type == HK_JSON_TRUE);
            break;
        case 8:
            r = hk_json_write_null(&w);
            break;
        default:
            /* Raw: an already-valid value of one token. */
            e.type = HK_JSON_ARRAY;
            r = hk_json_write_raw(&w, "[]", 2);
            break;
        }
        REQUIRE(hk_guard_intact(buf, cap, cap + 16));
        if (r != HK_OK)
            break;
        if (op != 1 && op != 3)
            exp[ne++] = e;
    }

    size_t len = 0;
    hk_result f = hk_json_writer_finish(&w, &len);
    REQUIRE(hk_guard_intact(buf, cap, cap + 16));
    if (r != HK_OK)
        REQUIRE(f == r);
    if (f != HK_OK) {
        REQUIRE(f == HK_ERR_BUFFER_TOO_SMALL || f == HK_ERR_STATE || f == HK_ERR_LIMIT ||
                f == HK_ERR_JSON_UTF8);
        free(buf);
        return 0;
    }
    REQUIRE(len < cap && buf[len] == '\0');

    hk_json_doc doc;
    /* The writer tracks its own containers up to HK_JSON_WRITER_MAX_DEPTH; the
     * raw value this harness inserts ("[]") nests one level below that. */
    REQUIRE(hk_json_parse(&doc, buf, len, tokens, 2 * MAX_OPS, HK_JSON_WRITER_MAX_DEPTH + 1) ==
            HK_OK);
    REQUIRE(doc.count == ne);
    for (size_t t = 0; t < ne; t++) {
        REQUIRE(doc.tokens[t].type == exp[t].type);
        if (exp[t].type == HK_JSON_STRING) {
            REQUIRE(hk_json_string_equals(&doc, t, exp[t].text, exp[t].len));
        } else if (exp[t].type == HK_JSON_NUMBER) {
            int64_t v;
            REQUIRE(hk_json_int64_get(&doc, t, &v) == HK_OK && v == exp[t].num);
        }
    }
    free(buf);
    return 0;
}
