/* JSON writer: known-answer output, every escape, call-sequence errors, the
 * sticky error, and every buffer size from 0 to one past the exact fit with
 * guard bytes after the buffer. Output is read back with the reader. */
#include <stdint.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/json.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A document using every kind of call. */
static const char full_doc[] = "{\"registrationId\":\"dev-1\",\"n\":-42,\"ok\":true,\"off\":false,"
                               "\"none\":null,\"list\":[1,[],{},\"q\\\"\"],"
                               "\"payload\":{\"a\":[1,2]}}";

static hk_result build_full(hk_json_writer *w)
{
    hk_json_write_object_begin(w);
    hk_json_write_key(w, "registrationId");
    hk_json_write_string(w, "dev-1");
    hk_json_write_key(w, "n");
    hk_json_write_int(w, -42);
    hk_json_write_key(w, "ok");
    hk_json_write_bool(w, true);
    hk_json_write_key(w, "off");
    hk_json_write_bool(w, false);
    hk_json_write_key(w, "none");
    hk_json_write_null(w);
    hk_json_write_key(w, "list");
    hk_json_write_array_begin(w);
    hk_json_write_int(w, 1);
    hk_json_write_array_begin(w);
    hk_json_write_array_end(w);
    hk_json_write_object_begin(w);
    hk_json_write_object_end(w);
    hk_json_write_string_n(w, "q\"", 2);
    hk_json_write_array_end(w);
    hk_json_write_key(w, "payload");
    hk_json_write_raw(w, "{\"a\":[1,2]}", 11);
    return hk_json_write_object_end(w);
}

static void test_known_answer(void)
{
    char buf[256];
    hk_json_writer w;
    size_t n = 0;
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(build_full(&w), HK_OK);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_STRN(buf, n, full_doc);
    HK_CHECK_EQ(buf[n], 0);

    /* The reader takes it back. */
    hk_json_token t[32];
    hk_json_doc doc;
    size_t v;
    HK_CHECK_RESULT(hk_json_parse(&doc, buf, n, t, 32, 4), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "registrationId", &v), HK_OK);
    HK_CHECK(hk_json_string_equals(&doc, v, "dev-1", 5));
}

/* Every buffer size from 0 to the exact fit + 1: never a byte written at or
 * past cap; HK_OK exactly when text + NUL fit. */
static void test_every_buffer_size(void)
{
    const size_t len = sizeof full_doc - 1;
    char buf[sizeof full_doc + 16];
    for (size_t cap = 0; cap <= len + 1; cap++) {
        hk_json_writer w;
        size_t n = 999;
        hk_guard_fill(buf, 0, sizeof buf);
        HK_CHECK_RESULT(hk_json_writer_init(&w, cap ? buf : NULL, cap), HK_OK);
        hk_result r = build_full(&w);
        hk_result f = hk_json_writer_finish(&w, &n);
        HK_CHECK(hk_guard_intact(buf, cap, sizeof buf));
        if (cap == len + 1) {
            HK_CHECK_RESULT(r, HK_OK);
            HK_CHECK_RESULT(f, HK_OK);
            HK_CHECK_STRN(buf, n, full_doc);
            HK_CHECK_EQ(buf[len], 0);
        } else if (cap == len) {
            /* The text fits; its NUL does not. */
            HK_CHECK_RESULT(r, HK_OK);
            HK_CHECK_RESULT(f, HK_ERR_BUFFER_TOO_SMALL);
            HK_CHECK_MEM(buf, len, full_doc, len);
            HK_CHECK_EQ(n, 999);
        } else {
            HK_CHECK_RESULT(r, HK_ERR_BUFFER_TOO_SMALL);
            HK_CHECK_RESULT(f, HK_ERR_BUFFER_TOO_SMALL);
            HK_CHECK_EQ(n, 999);
        }
    }
}

/* Escaped form of one string value. */
static void check_escape(const char *in, size_t in_len, const char *want)
{
    char buf[128];
    hk_json_writer w;
    size_t n;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, strlen(want) + 1), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string_n(&w, in, in_len), HK_OK);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_STRN(buf, n, want);
    HK_CHECK(hk_guard_intact(buf, strlen(want) + 1, sizeof buf));

    /* And it reads back to the same bytes. */
    hk_json_token t[1];
    hk_json_doc doc;
    HK_CHECK_RESULT(hk_json_parse(&doc, buf, n, t, 1, 0), HK_OK);
    HK_CHECK(hk_json_string_equals(&doc, 0, in, in_len));
}

#define ESC(in, want) check_escape(in, sizeof(in) - 1, want)

static void test_escapes(void)
{
    ESC("", "\"\"");
    ESC("plain", "\"plain\"");
    ESC("\"", "\"\\\"\"");
    ESC("\\", "\"\\\\\"");
    ESC("/", "\"/\"");
    ESC("\b", "\"\\b\"");
    ESC("\f", "\"\\f\"");
    ESC("\n", "\"\\n\"");
    ESC("\r", "\"\\r\"");
    ESC("\t", "\"\\t\"");
    ESC("\0", "\"\\u0000\"");
    ESC("\x01", "\"\\u0001\"");
    ESC("\x0b", "\"\\u000b\"");
    ESC("\x1f", "\"\\u001f\"");
    ESC(" ", "\" \"");
    ESC("\x7f", "\"\x7f\"");
    ESC("\xc3\xa9", "\"\xc3\xa9\"");
    ESC("\xe2\x82\xac", "\"\xe2\x82\xac\"");
    ESC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
    ESC("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
    ESC("a\"b\\c\nd\x01\xc3\xa9", "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
}

static void test_keys_are_escaped(void)
{
    char buf[64];
    hk_json_writer w;
    size_t n;
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "a\"\n");
    hk_json_write_int(&w, 0);
    hk_json_write_key(&w, "");
    hk_json_write_string(&w, "");
    hk_json_write_object_end(&w);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_STRN(buf, n, "{\"a\\\"\\n\":0,\"\":\"\"}");
}

static void test_invalid_utf8_refused(void)
{
    static const char *bad[] = {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
                                "ok\xc3", "\xe2\x82", "\xc3x"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        char buf[32];
        hk_json_writer w;
        size_t n;
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
        HK_CHECK_RESULT(hk_json_write_string(&w, bad[i]), HK_ERR_JSON_UTF8);
        HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_JSON_UTF8);
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
        hk_json_write_object_begin(&w);
        HK_CHECK_RESULT(hk_json_write_key(&w, bad[i]), HK_ERR_JSON_UTF8);
        HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_JSON_UTF8);
    }
}

/* The first error wins: a buffer that runs out before the bad sequence
 * gives HK_ERR_BUFFER_TOO_SMALL, one that holds the text up to it gives
 * HK_ERR_JSON_UTF8; nothing is written past the buffer either way. */
static void test_invalid_utf8_after_full_buffer(void)
{
    for (size_t cap = 0; cap < 16; cap++) {
        char buf[32];
        hk_json_writer w;
        hk_guard_fill(buf, 0, sizeof buf);
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, cap), HK_OK);
        HK_CHECK_RESULT(hk_json_write_string(&w, "ab\ncd\xc3("),
                        cap >= 7 ? HK_ERR_JSON_UTF8 : HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK(hk_guard_intact(buf, cap, sizeof buf));
    }
}

static void test_integers(void)
{
    static const struct {
        int64_t v;
        const char *s;
    } c[] = {
        {0, "0"},
        {7, "7"},
        {-1, "-1"},
        {10, "10"},
        {4294967295LL, "4294967295"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < N_ELEMS(c); i++) {
        char buf[32];
        hk_json_writer w;
        size_t n;
        hk_guard_fill(buf, 0, sizeof buf);
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, strlen(c[i].s) + 1), HK_OK);
        HK_CHECK_RESULT(hk_json_write_int(&w, c[i].v), HK_OK);
        HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
        HK_CHECK_STRN(buf, n, c[i].s);
        HK_CHECK(hk_guard_intact(buf, n + 1, sizeof buf));
        /* One byte short: the number itself does not fit. */
        hk_guard_fill(buf, 0, sizeof buf);
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, strlen(c[i].s) - 1), HK_OK);
        HK_CHECK_RESULT(hk_json_write_int(&w, c[i].v), HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK(hk_guard_intact(buf, 0, sizeof buf));
        /* Round trip through the reader. */
        hk_json_token t[1];
        hk_json_doc doc;
        int64_t back = 0;
        HK_CHECK_RESULT(hk_json_parse(&doc, c[i].s, strlen(c[i].s), t, 1, 0), HK_OK);
        HK_CHECK_RESULT(hk_json_int64_get(&doc, 0, &back), HK_OK);
        HK_CHECK(back == c[i].v);
    }
}

/* Out-of-order calls: each is HK_ERR_STATE and sticks. */
static void test_call_sequence_errors(void)
{
    char buf[64];
    hk_json_writer w;
    size_t n;

    /* A key at top level and inside an array. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_key(&w, "a"), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    HK_CHECK_RESULT(hk_json_write_key(&w, "a"), HK_ERR_STATE);
    /* Two keys in a row. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "a");
    HK_CHECK_RESULT(hk_json_write_key(&w, "b"), HK_ERR_STATE);
    /* A value in an object without a key, for every kind of value. */
    for (int kind = 0; kind < 7; kind++) {
        HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
        hk_json_write_object_begin(&w);
        hk_result r = kind == 0   ? hk_json_write_int(&w, 1)
                      : kind == 1 ? hk_json_write_string(&w, "x")
                      : kind == 2 ? hk_json_write_bool(&w, true)
                      : kind == 3 ? hk_json_write_null(&w)
                      : kind == 4 ? hk_json_write_raw(&w, "1", 1)
                      : kind == 5 ? hk_json_write_object_begin(&w)
                                  : hk_json_write_array_begin(&w);
        HK_CHECK_RESULT(r, HK_ERR_STATE);
        HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_STATE);
    }
    /* Mismatched and extra ends; an end right after a key. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_object_begin(&w);
    HK_CHECK_RESULT(hk_json_write_array_end(&w), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    HK_CHECK_RESULT(hk_json_write_object_end(&w), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_object_end(&w), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_array_end(&w), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "a");
    HK_CHECK_RESULT(hk_json_write_object_end(&w), HK_ERR_STATE);
    /* A second top-level value. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_int(&w, 1);
    HK_CHECK_RESULT(hk_json_write_int(&w, 2), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    hk_json_write_array_end(&w);
    HK_CHECK_RESULT(hk_json_write_array_begin(&w), HK_ERR_STATE);
    /* Finish with nothing written, or with an open container. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_STATE);
    /* A value after finish. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_null(&w);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_RESULT(hk_json_write_null(&w), HK_ERR_STATE);
}

/* The first error is kept; later calls write nothing and return it. */
static void test_sticky_error(void)
{
    char buf[16];
    hk_json_writer w;
    size_t n = 5;
    hk_guard_fill(buf, 0, sizeof buf);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, 4), HK_OK);
    HK_CHECK_RESULT(hk_json_write_array_begin(&w), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string(&w, "abc"), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_write_array_end(&w), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_write_key(&w, "k"), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_write_object_end(&w), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_write_null(&w), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_write_string(&w, NULL), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(n, 5);
    HK_CHECK(hk_guard_intact(buf, 4, sizeof buf));

    /* A state error also sticks, even though the buffer has room. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    HK_CHECK_RESULT(hk_json_write_key(&w, "k"), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_write_array_end(&w), HK_ERR_STATE);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_STATE);
}

static void test_invalid_arguments(void)
{
    char buf[16];
    hk_json_writer w;
    size_t n;
    HK_CHECK_REQUIRE(hk_json_writer_init(NULL, buf, sizeof buf), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_writer_init(&w, NULL, 1), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_object_begin(NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_object_end(NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_array_begin(NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_array_end(NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_key(NULL, "k"), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_string(NULL, "s"), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_string_n(NULL, "s", 1), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_int(NULL, 1), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_bool(NULL, true), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_null(NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_write_raw(NULL, "1", 1), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_writer_finish(NULL, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_REQUIRE(hk_json_writer_finish(&w, NULL), HK_ERR_INVALID_ARG);

    /* NULL or empty texts are kept as the sticky error. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string(&w, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string_n(&w, NULL, 1), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_raw(&w, NULL, 1), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_raw(&w, "1", 0), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_object_begin(&w);
    HK_CHECK_RESULT(hk_json_write_key(&w, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_INVALID_ARG);
    /* Not even an empty string may be NULL. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string_n(&w, NULL, 0), HK_ERR_INVALID_ARG);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_ERR_INVALID_ARG);
    /* An empty string or key is fine. */
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    HK_CHECK_RESULT(hk_json_write_string_n(&w, "", 0), HK_OK);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_STRN(buf, n, "\"\"");
}

static void test_depth_limit(void)
{
    char buf[8 * HK_JSON_WRITER_MAX_DEPTH];
    hk_json_writer w;
    size_t n;
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    for (unsigned d = 0; d < HK_JSON_WRITER_MAX_DEPTH; d++) {
        /* Alternate arrays and objects to exercise every bit of the mask. */
        if (d % 2 == 0) {
            HK_CHECK_RESULT(hk_json_write_array_begin(&w), HK_OK);
        } else {
            HK_CHECK_RESULT(hk_json_write_object_begin(&w), HK_OK);
            HK_CHECK_RESULT(hk_json_write_key(&w, ""), HK_OK);
        }
    }
    hk_json_writer w2 = w;
    HK_CHECK_RESULT(hk_json_write_array_begin(&w2), HK_ERR_LIMIT);
    HK_CHECK_RESULT(hk_json_write_int(&w, 0), HK_OK);
    for (unsigned d = HK_JSON_WRITER_MAX_DEPTH; d-- > 0;) {
        if (d % 2 == 0)
            HK_CHECK_RESULT(hk_json_write_array_end(&w), HK_OK);
        else
            HK_CHECK_RESULT(hk_json_write_object_end(&w), HK_OK);
    }
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    hk_json_token t[64];
    hk_json_doc doc;
    HK_CHECK_RESULT(hk_json_parse(&doc, buf, n, t, 64, HK_JSON_WRITER_MAX_DEPTH), HK_OK);
    HK_CHECK_EQ(doc.count, HK_JSON_WRITER_MAX_DEPTH + HK_JSON_WRITER_MAX_DEPTH / 2 + 1);
}

/* Commas: first item none, later items one, nested levels independent. */
static void test_commas(void)
{
    char buf[64];
    hk_json_writer w;
    size_t n;
    HK_CHECK_RESULT(hk_json_writer_init(&w, buf, sizeof buf), HK_OK);
    hk_json_write_array_begin(&w);
    hk_json_write_array_begin(&w);
    hk_json_write_int(&w, 1);
    hk_json_write_int(&w, 2);
    hk_json_write_array_end(&w);
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "a");
    hk_json_write_array_begin(&w);
    hk_json_write_array_end(&w);
    hk_json_write_key(&w, "b");
    hk_json_write_raw(&w, "{\"c\":3}", 7);
    hk_json_write_object_end(&w);
    hk_json_write_raw(&w, "4", 1);
    hk_json_write_array_end(&w);
    HK_CHECK_RESULT(hk_json_writer_finish(&w, &n), HK_OK);
    HK_CHECK_STRN(buf, n, "[[1,2],{\"a\":[],\"b\":{\"c\":3}},4]");
}

int main(void)
{
    HK_RUN(test_known_answer);
    HK_RUN(test_every_buffer_size);
    HK_RUN(test_escapes);
    HK_RUN(test_keys_are_escaped);
    HK_RUN(test_invalid_utf8_refused);
    HK_RUN(test_invalid_utf8_after_full_buffer);
    HK_RUN(test_integers);
    HK_RUN(test_call_sequence_errors);
    HK_RUN(test_sticky_error);
    HK_RUN(test_invalid_arguments);
    HK_RUN(test_depth_limit);
    HK_RUN(test_commas);
    return hk_test_finish("json_writer");
}
