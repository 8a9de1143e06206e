/* JSON reader: known-answer token streams, every escape, every error branch
 * with its result code, depth and token limits at and one past the edge,
 * accessors with guard bytes after every output buffer. */
#include <stdint.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/json.h"

#define MAXTOK 64
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static hk_json_token toks[MAXTOK];

/* Parse a NUL-terminated text with generous limits. */
static hk_result parse(hk_json_doc *doc, const char *s)
{
    return hk_json_parse(doc, s, strlen(s), toks, MAXTOK, 16);
}

/* Parse text of explicit length (may hold NUL bytes). */
static hk_result parse_n(hk_json_doc *doc, const char *s, size_t n)
{
    return hk_json_parse(doc, s, n, toks, MAXTOK, 16);
}

static void check_tok(const hk_json_doc *doc, size_t i, hk_json_type type, size_t start,
                      size_t len, size_t next)
{
    HK_CHECK(i < doc->count);
    if (i >= doc->count)
        return;
    HK_CHECK_EQ(doc->tokens[i].type, type);
    HK_CHECK_EQ(doc->tokens[i].start, start);
    HK_CHECK_EQ(doc->tokens[i].len, len);
    HK_CHECK_EQ(doc->tokens[i].next, next);
}

static void test_token_stream_header_example(void)
{
    hk_json_doc doc;
    const char *s = "{\"a\":[1,true],\"b\":\"x\"}";
    HK_CHECK_RESULT(parse(&doc, s), HK_OK);
    HK_CHECK_EQ(doc.count, 7);
    HK_CHECK(doc.json == s);
    HK_CHECK_EQ(doc.len, 22);
    check_tok(&doc, 0, HK_JSON_OBJECT, 0, 22, 7);
    check_tok(&doc, 1, HK_JSON_STRING, 1, 3, 2);
    check_tok(&doc, 2, HK_JSON_ARRAY, 5, 8, 5);
    check_tok(&doc, 3, HK_JSON_NUMBER, 6, 1, 4);
    check_tok(&doc, 4, HK_JSON_TRUE, 8, 4, 5);
    check_tok(&doc, 5, HK_JSON_STRING, 14, 3, 6);
    check_tok(&doc, 6, HK_JSON_STRING, 18, 3, 7);
}

static void test_token_stream_whitespace_and_nesting(void)
{
    hk_json_doc doc;
    /*          0         1         2         3
     *          0123456789012345678901234567890123456 */
    const char *s = " \t\r\n[ {} , [ ] ,{ \"k\" : null } , false,-1.5e+3 ]\n";
    HK_CHECK_RESULT(parse(&doc, s), HK_OK);
    HK_CHECK_EQ(doc.count, 8);
    check_tok(&doc, 0, HK_JSON_ARRAY, 4, 44, 8);
    check_tok(&doc, 1, HK_JSON_OBJECT, 6, 2, 2);
    check_tok(&doc, 2, HK_JSON_ARRAY, 11, 3, 3);
    check_tok(&doc, 3, HK_JSON_OBJECT, 16, 14, 6);
    check_tok(&doc, 4, HK_JSON_STRING, 18, 3, 5);
    check_tok(&doc, 5, HK_JSON_NULL, 24, 4, 6);
    check_tok(&doc, 6, HK_JSON_FALSE, 33, 5, 7);
    check_tok(&doc, 7, HK_JSON_NUMBER, 39, 7, 8);
}

static void test_scalar_documents(void)
{
    static const struct {
        const char *s;
        hk_json_type type;
        size_t start, len;
    } cases[] = {
        {"0", HK_JSON_NUMBER, 0, 1},
        {"-0", HK_JSON_NUMBER, 0, 2},
        {" -0.0e-0 ", HK_JSON_NUMBER, 1, 7},
        {"1E+2", HK_JSON_NUMBER, 0, 4},
        {"120.075E9", HK_JSON_NUMBER, 0, 9},
        {"\"\"", HK_JSON_STRING, 0, 2},
        {"true", HK_JSON_TRUE, 0, 4},
        {"false\n", HK_JSON_FALSE, 0, 5},
        {"\tnull", HK_JSON_NULL, 1, 4},
        {"[]", HK_JSON_ARRAY, 0, 2},
        {"{ }", HK_JSON_OBJECT, 0, 3},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        hk_json_doc doc;
        HK_CHECK_RESULT(parse(&doc, cases[i].s), HK_OK);
        HK_CHECK_EQ(doc.count, 1);
        check_tok(&doc, 0, cases[i].type, cases[i].start, cases[i].len, 1);
    }
}

/* Unescaped bytes of a one-string document. */
static void check_unescape(const char *json, size_t json_len, const char *want, size_t want_len)
{
    hk_json_doc doc;
    char out[64];
    size_t n = 12345;
    HK_CHECK_RESULT(parse_n(&doc, json, json_len), HK_OK);
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 0, out, want_len + 1, &n), HK_OK);
    HK_CHECK_MEM(out, n, want, want_len);
    HK_CHECK_EQ(out[want_len], 0);
    HK_CHECK(hk_guard_intact(out, want_len + 1, sizeof out));
    HK_CHECK(hk_json_string_equals(&doc, 0, want, want_len));
}

#define UNESCAPE(json, want) check_unescape(json, sizeof(json) - 1, want, sizeof(want) - 1)

static void test_every_escape(void)
{
    UNESCAPE("\"\\\"\"", "\"");
    UNESCAPE("\"\\\\\"", "\\");
    UNESCAPE("\"\\/\"", "/");
    UNESCAPE("\"\\b\"", "\b");
    UNESCAPE("\"\\f\"", "\f");
    UNESCAPE("\"\\n\"", "\n");
    UNESCAPE("\"\\r\"", "\r");
    UNESCAPE("\"\\t\"", "\t");
    UNESCAPE("\"\\u0041\"", "A");
    UNESCAPE("\"\\u007f\"", "\x7f");
    UNESCAPE("\"\\u0080\"", "\xc2\x80");
    UNESCAPE("\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
    UNESCAPE("\"\\u07FF\"", "\xdf\xbf");
    UNESCAPE("\"\\u0800\"", "\xe0\xa0\x80");
    UNESCAPE("\"\\u20AC\"", "\xe2\x82\xac");
    UNESCAPE("\"\\uFFFF\"", "\xef\xbf\xbf");
    UNESCAPE("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
    UNESCAPE("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80");
    UNESCAPE("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf");
    UNESCAPE("\"a\\tb\\\"c\\u00e9d\\ud83d\\ude00e\"", "a\tb\"c\xc3\xa9" "d\xf0\x9f\x98\x80" "e");
    UNESCAPE("\"\"", "");
}

static void test_raw_utf8_in_strings(void)
{
    UNESCAPE("\"\xc3\xa9\"", "\xc3\xa9");
    UNESCAPE("\"\xe2\x82\xac\"", "\xe2\x82\xac");
    UNESCAPE("\"\xef\xbf\xbf\"", "\xef\xbf\xbf");
    UNESCAPE("\"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80");
    UNESCAPE("\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf");
    UNESCAPE("\"\x7f\"", "\x7f");
}

struct err_case {
    const char *s;
    size_t n; /* 0: strlen(s) */
    hk_result want;
};

static void run_errors(const struct err_case *c, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        hk_json_doc doc;
        size_t n = c[i].n ? c[i].n : strlen(c[i].s);
        hk_result r = parse_n(&doc, c[i].s, n);
        if (r != c[i].want)
            fprintf(stderr, "input #%zu '%.*s'\n", i, (int)n, c[i].s);
        HK_CHECK_RESULT(r, c[i].want);
        HK_CHECK_EQ(doc.count, 0);
    }
}

static void test_errors_truncated(void)
{
    static const struct err_case c[] = {
        {"", 0, HK_ERR_JSON_TRUNCATED},
        {" \t\r\n", 0, HK_ERR_JSON_TRUNCATED},
        {"[", 0, HK_ERR_JSON_TRUNCATED},
        {"{", 0, HK_ERR_JSON_TRUNCATED},
        {"[1", 0, HK_ERR_JSON_TRUNCATED},
        {"[1,", 0, HK_ERR_JSON_TRUNCATED},
        {"[[]", 0, HK_ERR_JSON_TRUNCATED},
        {"{\"a\"", 0, HK_ERR_JSON_TRUNCATED},
        {"{\"a\" ", 0, HK_ERR_JSON_TRUNCATED},
        {"{\"a\":", 0, HK_ERR_JSON_TRUNCATED},
        {"{\"a\":1", 0, HK_ERR_JSON_TRUNCATED},
        {"{\"a\":1,", 0, HK_ERR_JSON_TRUNCATED},
        {"\"abc", 0, HK_ERR_JSON_TRUNCATED},
        {"\"", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\u", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\u12", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\ud83d", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\ud83d\\", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\ud83d\\u", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\\ud83d\\ude0", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\xc3", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\xe2\x82", 0, HK_ERR_JSON_TRUNCATED},
        {"\"\xf0\x9f\x98", 0, HK_ERR_JSON_TRUNCATED},
        {"t", 0, HK_ERR_JSON_TRUNCATED},
        {"tru", 0, HK_ERR_JSON_TRUNCATED},
        {"fals", 0, HK_ERR_JSON_TRUNCATED},
        {"nul", 0, HK_ERR_JSON_TRUNCATED},
        {"[true", 0, HK_ERR_JSON_TRUNCATED},
    };
    run_errors(c, N_ELEMS(c));
}

static void test_errors_syntax(void)
{
    static const struct err_case c[] = {
        {"[1,]", 0, HK_ERR_JSON_SYNTAX},          /* trailing comma in array */
        {"{\"a\":1,}", 0, HK_ERR_JSON_SYNTAX},    /* trailing comma in object */
        {"[,1]", 0, HK_ERR_JSON_SYNTAX},
        {"{,}", 0, HK_ERR_JSON_SYNTAX},
        {"[1 2]", 0, HK_ERR_JSON_SYNTAX},         /* missing comma */
        {"{\"a\":1 \"b\":2}", 0, HK_ERR_JSON_SYNTAX},
        {"{\"a\" 1}", 0, HK_ERR_JSON_SYNTAX},     /* missing colon */
        {"{\"a\",1}", 0, HK_ERR_JSON_SYNTAX},
        {"{1:2}", 0, HK_ERR_JSON_SYNTAX},         /* key is not a string */
        {"{a:1}", 0, HK_ERR_JSON_SYNTAX},
        {"{\"a\":1:2}", 0, HK_ERR_JSON_SYNTAX},
        {"[\"a\":1]", 0, HK_ERR_JSON_SYNTAX},
        {"[1}", 0, HK_ERR_JSON_SYNTAX},           /* mismatched brackets */
        {"{\"a\":1]", 0, HK_ERR_JSON_SYNTAX},
        {"]", 0, HK_ERR_JSON_SYNTAX},
        {"}", 0, HK_ERR_JSON_SYNTAX},
        {",", 0, HK_ERR_JSON_SYNTAX},
        {"'a'", 0, HK_ERR_JSON_SYNTAX},
        {"+1", 0, HK_ERR_JSON_SYNTAX},
        {".5", 0, HK_ERR_JSON_SYNTAX},
        {"True", 0, HK_ERR_JSON_SYNTAX},
        {"truE", 0, HK_ERR_JSON_SYNTAX},
        {"nulx", 0, HK_ERR_JSON_SYNTAX},
        {"fxlse", 0, HK_ERR_JSON_SYNTAX},
        {"[truex]", 0, HK_ERR_JSON_SYNTAX},
        {"[1x]", 0, HK_ERR_JSON_SYNTAX},
        {"/*c*/1", 0, HK_ERR_JSON_SYNTAX},
        {"NaN", 0, HK_ERR_JSON_SYNTAX},
        {"\xc3\xa9", 0, HK_ERR_JSON_SYNTAX},      /* non-ASCII outside a string */
        {"\xef\xbb\xbf{}", 0, HK_ERR_JSON_SYNTAX}, /* byte order mark */
        {"\0", 1, HK_ERR_JSON_SYNTAX},
        {"\v1", 0, HK_ERR_JSON_SYNTAX},           /* not JSON whitespace */
    };
    run_errors(c, N_ELEMS(c));
}

static void test_errors_trailing(void)
{
    static const struct err_case c[] = {
        {"1 2", 0, HK_ERR_JSON_TRAILING},  {"{} {}", 0, HK_ERR_JSON_TRAILING},
        {"[]x", 0, HK_ERR_JSON_TRAILING},  {"1x", 0, HK_ERR_JSON_TRAILING},
        {"0x10", 0, HK_ERR_JSON_TRAILING}, {"\"a\"\"b\"", 0, HK_ERR_JSON_TRAILING},
        {"null\0", 5, HK_ERR_JSON_TRAILING}, {"[]]", 0, HK_ERR_JSON_TRAILING},
        {"{},", 0, HK_ERR_JSON_TRAILING},  {"true false", 0, HK_ERR_JSON_TRAILING},
    };
    run_errors(c, N_ELEMS(c));
}

static void test_errors_number(void)
{
    static const struct err_case c[] = {
        {"01", 0, HK_ERR_JSON_NUMBER},   {"-01", 0, HK_ERR_JSON_NUMBER},
        {"00", 0, HK_ERR_JSON_NUMBER},   {"-", 0, HK_ERR_JSON_NUMBER},
        {"-a", 0, HK_ERR_JSON_NUMBER},   {"[-]", 0, HK_ERR_JSON_NUMBER},
        {"1.", 0, HK_ERR_JSON_NUMBER},   {"1.e3", 0, HK_ERR_JSON_NUMBER},
        {"[1.]", 0, HK_ERR_JSON_NUMBER}, {"1e", 0, HK_ERR_JSON_NUMBER},
        {"1e+", 0, HK_ERR_JSON_NUMBER},  {"1E-x", 0, HK_ERR_JSON_NUMBER},
        {"-.5", 0, HK_ERR_JSON_NUMBER},  {"[0123]", 0, HK_ERR_JSON_NUMBER},
    };
    run_errors(c, N_ELEMS(c));
}

static void test_errors_string(void)
{
    static const struct err_case c[] = {
        {"\"\\x\"", 0, HK_ERR_JSON_STRING},            /* unknown escape */
        {"\"\\U0041\"", 0, HK_ERR_JSON_STRING},
        {"\"\\'\"", 0, HK_ERR_JSON_STRING},
        {"\"\\\0\"", 4, HK_ERR_JSON_STRING},
        {"\"\\u12G4\"", 0, HK_ERR_JSON_STRING},       /* bad hex digit */
        {"\"\\u 123\"", 0, HK_ERR_JSON_STRING},
        {"\"\\ud83d\"", 0, HK_ERR_JSON_STRING},       /* high surrogate alone */
        {"\"\\ud83dx\"", 0, HK_ERR_JSON_STRING},
        {"\"\\ud83d\xc3\xa9\"", 0, HK_ERR_JSON_STRING}, /* high, then raw UTF-8 */
        {"\"\\ud83d\xff\"", 0, HK_ERR_JSON_STRING},      /* high, then a byte never UTF-8 */
        {"\"\\ud83d\\/\"", 0, HK_ERR_JSON_STRING},       /* high, then \/ */
        {"\"\\ud83d\\n\"", 0, HK_ERR_JSON_STRING},    /* high, then another escape */
        {"\"\\ud83d\\ud83d\"", 0, HK_ERR_JSON_STRING}, /* high, high */
        {"\"\\ud83d\\u0041\"", 0, HK_ERR_JSON_STRING}, /* high, not a low */
        {"\"\\udbff\\ue000\"", 0, HK_ERR_JSON_STRING},
        {"\"\\ude00\"", 0, HK_ERR_JSON_STRING},       /* low surrogate alone */
        {"\"\\udc00\\ud800\"", 0, HK_ERR_JSON_STRING}, /* reversed pair */
        {"\"\\ud83d\\uzzzz\"", 0, HK_ERR_JSON_STRING},
        {"\"a\x01\"", 0, HK_ERR_JSON_STRING},         /* raw control characters */
        {"\"\t\"", 0, HK_ERR_JSON_STRING},
        {"\"\n\"", 0, HK_ERR_JSON_STRING},
        {"\"\x1f\"", 0, HK_ERR_JSON_STRING},
        {"\"\0\"", 3, HK_ERR_JSON_STRING},
        {"{\"a\\q\":1}", 0, HK_ERR_JSON_STRING},      /* in a key too */
    };
    run_errors(c, N_ELEMS(c));
}

static void test_errors_utf8(void)
{
    static const struct err_case c[] = {
        {"\"\x80\"", 0, HK_ERR_JSON_UTF8},                 /* stray continuation */
        {"\"\xbf\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xc0\x80\"", 0, HK_ERR_JSON_UTF8},             /* overlong NUL */
        {"\"\xc1\xbf\"", 0, HK_ERR_JSON_UTF8},             /* overlong 2-byte */
        {"\"\xe0\x80\x80\"", 0, HK_ERR_JSON_UTF8},         /* overlong 3-byte */
        {"\"\xe0\x9f\xbf\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xf0\x8f\xbf\xbf\"", 0, HK_ERR_JSON_UTF8},     /* overlong 4-byte */
        {"\"\xed\xa0\x80\"", 0, HK_ERR_JSON_UTF8},         /* encoded high surrogate */
        {"\"\xed\xbf\xbf\"", 0, HK_ERR_JSON_UTF8},         /* encoded low surrogate */
        {"\"\xf4\x90\x80\x80\"", 0, HK_ERR_JSON_UTF8},     /* above U+10FFFF */
        {"\"\xf7\xbf\xbf\xbf\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xf8\x88\x80\x80\x80\"", 0, HK_ERR_JSON_UTF8}, /* 5-byte form */
        {"\"\xfe\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xff\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xc3x\"", 0, HK_ERR_JSON_UTF8},                /* missing continuation */
        {"\"\xe2\x82x\"", 0, HK_ERR_JSON_UTF8},
        {"\"\xf0\x9f\x98\"\"", 0, HK_ERR_JSON_UTF8},
        {"{\"\xc3\":1}", 0, HK_ERR_JSON_UTF8},
    };
    run_errors(c, N_ELEMS(c));
}

static void test_invalid_arguments(void)
{
    hk_json_doc doc;
    HK_CHECK_REQUIRE(hk_json_parse(NULL, "1", 1, toks, MAXTOK, 4), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_parse(&doc, NULL, 1, toks, MAXTOK, 4), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_parse(&doc, "1", 1, NULL, 1, 4), HK_ERR_INVALID_ARG);
    /* Zero-length input with a NULL pointer is legal (and truncated). */
    HK_CHECK_RESULT(hk_json_parse(&doc, NULL, 0, toks, MAXTOK, 4), HK_ERR_JSON_TRUNCATED);
    /* No token room at all. */
    HK_CHECK_RESULT(hk_json_parse(&doc, "1", 1, NULL, 0, 4), HK_ERR_JSON_TOO_MANY_TOKENS);
}

static void test_depth_limit(void)
{
    hk_json_doc doc;
    const char *three = "[{\"a\":[1]}]"; /* depth 3 */
    HK_CHECK_RESULT(hk_json_parse(&doc, three, strlen(three), toks, MAXTOK, 3), HK_OK);
    HK_CHECK_EQ(doc.count, 5);
    HK_CHECK_RESULT(hk_json_parse(&doc, three, strlen(three), toks, MAXTOK, 2),
                    HK_ERR_JSON_DEPTH);
    HK_CHECK_EQ(doc.count, 0);
    /* Empty containers count too. */
    HK_CHECK_RESULT(hk_json_parse(&doc, "[[[]]]", 6, toks, MAXTOK, 3), HK_OK);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[[[]]]", 6, toks, MAXTOK, 2), HK_ERR_JSON_DEPTH);
    /* Depth returns to zero after siblings close: [[],[],[]] is depth 2. */
    HK_CHECK_RESULT(hk_json_parse(&doc, "[[],[],[]]", 10, toks, MAXTOK, 2), HK_OK);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[[],[],[]]", 10, toks, MAXTOK, 1), HK_ERR_JSON_DEPTH);
    /* max_depth 0: scalars only. */
    HK_CHECK_RESULT(hk_json_parse(&doc, "\"s\"", 3, toks, MAXTOK, 0), HK_OK);
    HK_CHECK_RESULT(hk_json_parse(&doc, "{}", 2, toks, MAXTOK, 0), HK_ERR_JSON_DEPTH);

    /* A deep document, well past any stack a recursive parser could use. */
    static char deep[20002];
    static hk_json_token deep_toks[10001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    HK_CHECK_RESULT(hk_json_parse(&doc, deep, 20000, deep_toks, 10001, 10000), HK_OK);
    HK_CHECK_EQ(doc.count, 10000);
    HK_CHECK_EQ(deep_toks[0].next, 10000);
    HK_CHECK_EQ(deep_toks[9999].start, 9999);
    HK_CHECK_EQ(deep_toks[9999].len, 2);
    HK_CHECK_RESULT(hk_json_parse(&doc, deep, 20000, deep_toks, 10001, 9999), HK_ERR_JSON_DEPTH);
}

static void test_token_limit(void)
{
    hk_json_doc doc;
    hk_json_token t[5];
    const char *s = "{\"a\":[1,2]}"; /* 5 tokens */
    HK_CHECK_RESULT(hk_json_parse(&doc, s, strlen(s), t, 5, 4), HK_OK);
    HK_CHECK_EQ(doc.count, 5);
    HK_CHECK_RESULT(hk_json_parse(&doc, s, strlen(s), t, 4, 4), HK_ERR_JSON_TOO_MANY_TOKENS);
    HK_CHECK_EQ(doc.count, 0);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[]", 2, t, 1, 4), HK_OK);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[0]", 3, t, 1, 4), HK_ERR_JSON_TOO_MANY_TOKENS);

    /* The parser writes no token past max_tokens. */
    hk_json_token g[4];
    memset(g, 0xCC, sizeof g);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[1,2,3]", 7, g, 2, 4), HK_ERR_JSON_TOO_MANY_TOKENS);
    HK_CHECK(hk_guard_intact(g, 2 * sizeof g[0], sizeof g));
}

static void test_object_find(void)
{
    hk_json_doc doc;
    size_t v = 999;
    const char *s = "{\"status\":\"assigned\",\"a\\u0062\":2,\"x\":{\"status\":3},\"\":4,"
                    "\"ab\\u0000\":5}";
    HK_CHECK_RESULT(parse(&doc, s), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "status", &v), HK_OK);
    HK_CHECK_EQ(v, 2);
    HK_CHECK(hk_json_string_equals(&doc, v, "assigned", 8));
    /* Keys are compared after unescaping. */
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "ab", &v), HK_OK);
    HK_CHECK_EQ(v, 4);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "", &v), HK_OK);
    HK_CHECK_EQ(v, 10);
    /* Nested members are not found from the outer object. */
    HK_CHECK_RESULT(hk_json_object_find(&doc, 6, "status", &v), HK_OK);
    HK_CHECK_EQ(v, 8);
    v = 999;
    /* No prefix or extension matches. */
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "a", &v), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "statuses", &v), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "Status", &v), HK_ERR_NOT_FOUND);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 6, "x", &v), HK_ERR_NOT_FOUND);
    HK_CHECK_EQ(v, 999);
    /* Not an object. */
    HK_CHECK_RESULT(hk_json_object_find(&doc, 2, "x", &v), HK_ERR_JSON_TYPE);
    HK_CHECK_REQUIRE(hk_json_object_find(&doc, 99, "x", &v), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_object_find(&doc, 0, NULL, &v), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_object_find(&doc, 0, "x", NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_object_find(NULL, 0, "x", &v), HK_ERR_INVALID_ARG);

    /* Duplicate names: refused, whether spelled the same or escaped. */
    HK_CHECK_RESULT(parse(&doc, "{\"k\":1,\"j\":2,\"\\u006b\":3}"), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "k", &v), HK_ERR_JSON_DUPLICATE_KEY);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "j", &v), HK_OK);
    HK_CHECK_RESULT(parse(&doc, "{}"), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "k", &v), HK_ERR_NOT_FOUND);

    /* An array whose elements look like a key and its value is not an
     * object; nor is an array ending in such a "key", whose "value" would
     * lie past the last token. */
    v = 999;
    HK_CHECK_RESULT(parse(&doc, "[\"k\",\"v\"]"), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "k", &v), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(hk_json_parse(&doc, "[\"k\"]", 5, toks, 2, 16), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "k", &v), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(parse(&doc, "[]"), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "k", &v), HK_ERR_JSON_TYPE);
    HK_CHECK_EQ(v, 999);
}

static void test_iteration(void)
{
    hk_json_doc doc;
    size_t i = 0, seen[8], n = 0;
    HK_CHECK_RESULT(parse(&doc, "[1,[2,3],{\"a\":[]},\"s\"]"), HK_OK);
    while (hk_json_next(&doc, 0, &i) == HK_OK && n < 8)
        seen[n++] = i;
    HK_CHECK_EQ(n, 4);
    HK_CHECK_EQ(seen[0], 1);
    HK_CHECK_EQ(seen[1], 2);
    HK_CHECK_EQ(seen[2], 5);
    HK_CHECK_EQ(seen[3], 8);
    /* The end is sticky. */
    HK_CHECK_RESULT(hk_json_next(&doc, 0, &i), HK_ERR_NOT_FOUND);
    HK_CHECK_EQ(i, 8);
    /* Inner array. */
    i = 0;
    HK_CHECK_RESULT(hk_json_next(&doc, 2, &i), HK_OK);
    HK_CHECK_EQ(i, 3);
    HK_CHECK_RESULT(hk_json_next(&doc, 2, &i), HK_OK);
    HK_CHECK_EQ(i, 4);
    HK_CHECK_RESULT(hk_json_next(&doc, 2, &i), HK_ERR_NOT_FOUND);
    /* Empty array inside an object. */
    i = 0;
    HK_CHECK_RESULT(hk_json_next(&doc, 7, &i), HK_ERR_NOT_FOUND);
    HK_CHECK_EQ(i, 0);
    /* Not a container. */
    HK_CHECK_RESULT(hk_json_next(&doc, 1, &i), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(hk_json_next(&doc, 8, &i), HK_ERR_JSON_TYPE);
    /* Preconditions: container index, a cursor outside the container. */
    HK_CHECK_REQUIRE(hk_json_next(&doc, 9, &i), HK_ERR_INVALID_ARG);
    i = 1;
    HK_CHECK_REQUIRE(hk_json_next(&doc, 2, &i), HK_ERR_INVALID_ARG);
    i = 5;
    HK_CHECK_REQUIRE(hk_json_next(&doc, 2, &i), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_next(&doc, 0, NULL), HK_ERR_INVALID_ARG);

    /* Object members: the cursor is on keys; values at key + 1. */
    HK_CHECK_RESULT(parse(&doc, "{\"a\":{\"b\":1},\"c\":[2],\"d\":3}"), HK_OK);
    i = 0;
    n = 0;
    while (hk_json_next(&doc, 0, &i) == HK_OK && n < 8)
        seen[n++] = i;
    HK_CHECK_EQ(n, 3);
    HK_CHECK_EQ(seen[0], 1);
    HK_CHECK_EQ(seen[1], 5);
    HK_CHECK_EQ(seen[2], 8);
    HK_CHECK(hk_json_string_equals(&doc, 5, "c", 1));
    /* A cursor on the last member's value is not a key: refused, and
     * nothing is read past the container. */
    i = 9;
    HK_CHECK_REQUIRE(hk_json_next(&doc, 0, &i), HK_ERR_INVALID_ARG);
    i = 0;
    HK_CHECK_RESULT(hk_json_next(&doc, 2, &i), HK_OK);
    HK_CHECK_EQ(i, 3);
    HK_CHECK_RESULT(hk_json_next(&doc, 2, &i), HK_ERR_NOT_FOUND);
    HK_CHECK_EQ(doc.tokens[9].type, HK_JSON_NUMBER);
}

static void test_string_get(void)
{
    hk_json_doc doc;
    char out[16];
    size_t n = 777;
    /* Decodes to 7 bytes: 'a', U+1F600 (4 bytes), 'b', 'c'. */
    HK_CHECK_RESULT(parse(&doc, "[\"a\\ud83d\\ude00bc\",1,\"\\u0000\",\"x\\u0000\"]"), HK_OK);
    for (size_t cap = 0; cap <= 9; cap++) {
        hk_guard_fill(out, 0, sizeof out);
        n = 777;
        hk_result r = hk_json_string_get(&doc, 1, out, cap, &n);
        if (cap >= 8) {
            HK_CHECK_RESULT(r, HK_OK);
            HK_CHECK_MEM(out, n, "a\xf0\x9f\x98\x80" "bc", 7);
            HK_CHECK_EQ(out[7], 0);
            HK_CHECK(hk_guard_intact(out, 8, sizeof out));
        } else {
            HK_CHECK_RESULT(r, HK_ERR_BUFFER_TOO_SMALL);
            HK_CHECK_EQ(n, 777);
            HK_CHECK(hk_guard_intact(out, cap, sizeof out));
        }
    }
    /* The 4-byte character is never split: with room for 3 bytes only 'a'. */
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 1, out, 4, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(out, 1, sizeof out));
    /* No room for even the NUL: too small, also for an empty string and
     * before an embedded NUL is seen; an empty string fits in one byte. */
    HK_CHECK_RESULT(hk_json_string_get(&doc, 3, out, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
    {
        hk_json_doc empty;
        hk_json_token et[1];
        HK_CHECK_RESULT(hk_json_parse(&empty, "\"\"", 2, et, 1, 0), HK_OK);
        hk_guard_fill(out, 0, sizeof out);
        n = 777;
        HK_CHECK_RESULT(hk_json_string_get(&empty, 0, out, 0, &n), HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK_EQ(n, 777);
        HK_CHECK(hk_guard_intact(out, 0, sizeof out));
        HK_CHECK_RESULT(hk_json_string_get(&empty, 0, out, 1, &n), HK_OK);
        HK_CHECK_EQ(n, 0);
        HK_CHECK_EQ(out[0], 0);
        HK_CHECK(hk_guard_intact(out, 1, sizeof out));
    }
    /* Embedded NUL is refused. */
    HK_CHECK_RESULT(hk_json_string_get(&doc, 3, out, sizeof out, &n), HK_ERR_JSON_STRING);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 4, out, sizeof out, &n), HK_ERR_JSON_STRING);
    /* ...but compares fine. */
    HK_CHECK(hk_json_string_equals(&doc, 4, "x\0", 2));
    /* Type and argument errors. */
    HK_CHECK_RESULT(hk_json_string_get(&doc, 2, out, sizeof out, &n), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 2, out, 0, &n), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 0, out, sizeof out, &n), HK_ERR_JSON_TYPE);
    HK_CHECK_REQUIRE(hk_json_string_get(&doc, 5, out, sizeof out, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_string_get(&doc, 1, NULL, sizeof out, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_string_get(&doc, 1, out, sizeof out, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_string_get(NULL, 1, out, sizeof out, &n), HK_ERR_INVALID_ARG);
    /* Empty string needs just the NUL. */
    HK_CHECK_RESULT(parse(&doc, "\"\""), HK_OK);
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_json_string_get(&doc, 0, out, 1, &n), HK_OK);
    HK_CHECK_EQ(n, 0);
    HK_CHECK_EQ(out[0], 0);
    HK_CHECK(hk_guard_intact(out, 1, sizeof out));
}

static void test_string_equals(void)
{
    hk_json_doc doc;
    HK_CHECK_RESULT(parse(&doc, "[\"ab\\u00e9\",\"\",5]"), HK_OK);
    HK_CHECK(hk_json_string_equals(&doc, 1, "ab\xc3\xa9", 4));
    HK_CHECK(!hk_json_string_equals(&doc, 1, "ab\xc3", 3));
    HK_CHECK(!hk_json_string_equals(&doc, 1, "ab\xc3\xa9!", 5));
    HK_CHECK(!hk_json_string_equals(&doc, 1, "ab\xc3\xa8", 4));
    HK_CHECK(!hk_json_string_equals(&doc, 1, "ab\\u00e9", 8));
    HK_CHECK(hk_json_string_equals(&doc, 2, "", 0));
    HK_CHECK(hk_json_string_equals(&doc, 2, NULL, 0));
    HK_CHECK(!hk_json_string_equals(&doc, 2, "x", 1));
    HK_CHECK(!hk_json_string_equals(&doc, 1, NULL, 4));
    HK_CHECK(!hk_json_string_equals(&doc, 3, "5", 1));
    HK_CHECK(!hk_json_string_equals(&doc, 0, "", 0));
    HK_CHECK(!hk_json_string_equals(&doc, 4, "", 0));
    HK_CHECK(!hk_json_string_equals(NULL, 0, "", 0));
}

static void test_integers(void)
{
    static const struct {
        const char *s;
        hk_result r64;
        int64_t v64;
        hk_result r32;
        uint32_t v32;
    } c[] = {
        {"0", HK_OK, 0, HK_OK, 0},
        {"-0", HK_OK, 0, HK_OK, 0},
        {"7", HK_OK, 7, HK_OK, 7},
        {"-1", HK_OK, -1, HK_ERR_JSON_RANGE, 0},
        {"4294967295", HK_OK, 4294967295LL, HK_OK, 4294967295u},
        {"4294967296", HK_OK, 4294967296LL, HK_ERR_JSON_RANGE, 0},
        {"4294967289", HK_OK, 4294967289LL, HK_OK, 4294967289u},
        {"4294967299", HK_OK, 4294967299LL, HK_ERR_JSON_RANGE, 0},
        {"4294967300", HK_OK, 4294967300LL, HK_ERR_JSON_RANGE, 0},
        {"42949672950", HK_OK, 42949672950LL, HK_ERR_JSON_RANGE, 0},
        {"10000000000", HK_OK, 10000000000LL, HK_ERR_JSON_RANGE, 0},
        {"-4294967296", HK_OK, -4294967296LL, HK_ERR_JSON_RANGE, 0},
        {"-4294967295", HK_OK, -4294967295LL, HK_ERR_JSON_RANGE, 0},
        {"429496729", HK_OK, 429496729LL, HK_OK, 429496729u},
        {"9223372036854775807", HK_OK, INT64_MAX, HK_ERR_JSON_RANGE, 0},
        {"-9223372036854775808", HK_OK, INT64_MIN, HK_ERR_JSON_RANGE, 0},
        {"9223372036854775808", HK_ERR_JSON_RANGE, 0, HK_ERR_JSON_RANGE, 0},
        {"-9223372036854775809", HK_ERR_JSON_RANGE, 0, HK_ERR_JSON_RANGE, 0},
        {"18446744073709551615", HK_ERR_JSON_RANGE, 0, HK_ERR_JSON_RANGE, 0},
        {"18446744073709551616", HK_ERR_JSON_RANGE, 0, HK_ERR_JSON_RANGE, 0},
        {"99999999999999999999999", HK_ERR_JSON_RANGE, 0, HK_ERR_JSON_RANGE, 0},
        {"99999999999999999999999.5", HK_ERR_JSON_NOT_INTEGER, 0, HK_ERR_JSON_NOT_INTEGER, 0},
        {"1.0", HK_ERR_JSON_NOT_INTEGER, 0, HK_ERR_JSON_NOT_INTEGER, 0},
        {"1e3", HK_ERR_JSON_NOT_INTEGER, 0, HK_ERR_JSON_NOT_INTEGER, 0},
        {"1E3", HK_ERR_JSON_NOT_INTEGER, 0, HK_ERR_JSON_NOT_INTEGER, 0},
        {"-2.5", HK_ERR_JSON_NOT_INTEGER, 0, HK_ERR_JSON_NOT_INTEGER, 0},
        {"\"1\"", HK_ERR_JSON_TYPE, 0, HK_ERR_JSON_TYPE, 0},
        {"true", HK_ERR_JSON_TYPE, 0, HK_ERR_JSON_TYPE, 0},
        {"null", HK_ERR_JSON_TYPE, 0, HK_ERR_JSON_TYPE, 0},
        {"[1]", HK_ERR_JSON_TYPE, 0, HK_ERR_JSON_TYPE, 0},
    };
    for (size_t i = 0; i < N_ELEMS(c); i++) {
        hk_json_doc doc;
        int64_t v64 = 4242;
        uint32_t v32 = 4242;
        HK_CHECK_RESULT(parse(&doc, c[i].s), HK_OK);
        HK_CHECK_RESULT(hk_json_int64_get(&doc, 0, &v64), c[i].r64);
        HK_CHECK_RESULT(hk_json_uint32_get(&doc, 0, &v32), c[i].r32);
        HK_CHECK(v64 == (c[i].r64 == HK_OK ? c[i].v64 : 4242));
        HK_CHECK_EQ(v32, c[i].r32 == HK_OK ? c[i].v32 : 4242);
    }
    hk_json_doc doc;
    int64_t v64;
    uint32_t v32;
    HK_CHECK_RESULT(parse(&doc, "1"), HK_OK);
    HK_CHECK_REQUIRE(hk_json_int64_get(&doc, 1, &v64), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_int64_get(&doc, 0, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_int64_get(NULL, 0, &v64), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_uint32_get(&doc, 1, &v32), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_uint32_get(&doc, 0, NULL), HK_ERR_INVALID_ARG);
}

static void test_bool_and_raw(void)
{
    hk_json_doc doc;
    bool b = false;
    const char *text = NULL;
    size_t n = 0;
    const char *s = "{\"ok\":true,\"no\":false,\"n\":null,\"payload\":{\"x\": [1, \"}\"]} }";
    HK_CHECK_RESULT(parse(&doc, s), HK_OK);
    HK_CHECK_RESULT(hk_json_bool_get(&doc, 2, &b), HK_OK);
    HK_CHECK(b);
    HK_CHECK_RESULT(hk_json_bool_get(&doc, 4, &b), HK_OK);
    HK_CHECK(!b);
    b = true;
    HK_CHECK_RESULT(hk_json_bool_get(&doc, 6, &b), HK_ERR_JSON_TYPE);
    HK_CHECK_RESULT(hk_json_bool_get(&doc, 5, &b), HK_ERR_JSON_TYPE);
    HK_CHECK(b);
    HK_CHECK_EQ(doc.tokens[6].type, HK_JSON_NULL);
    HK_CHECK_REQUIRE(hk_json_bool_get(&doc, 99, &b), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_bool_get(&doc, 2, NULL), HK_ERR_INVALID_ARG);

    size_t v;
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "payload", &v), HK_OK);
    HK_CHECK_RESULT(hk_json_raw_get(&doc, v, &text, &n), HK_OK);
    HK_CHECK_STRN(text, n, "{\"x\": [1, \"}\"]}");
    HK_CHECK(text == s + 41);
    HK_CHECK_RESULT(hk_json_raw_get(&doc, 0, &text, &n), HK_OK);
    HK_CHECK_EQ(n, strlen(s));
    HK_CHECK_RESULT(hk_json_raw_get(&doc, 1, &text, &n), HK_OK);
    HK_CHECK_STRN(text, n, "\"ok\"");
    HK_CHECK_REQUIRE(hk_json_raw_get(&doc, 99, &text, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_raw_get(&doc, 0, NULL, &n), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_json_raw_get(&doc, 0, &text, NULL), HK_ERR_INVALID_ARG);

    /* The raw slice of a value is itself a document. */
    hk_json_token t2[8];
    hk_json_doc sub;
    HK_CHECK_RESULT(hk_json_raw_get(&doc, v, &text, &n), HK_OK);
    HK_CHECK_RESULT(hk_json_parse(&sub, text, n, t2, 8, 4), HK_OK);
    HK_CHECK_EQ(sub.count, 5);
}

/* A DPS registration response as the service sends it. */
static void test_dps_shaped_document(void)
{
    hk_json_doc doc;
    const char *s =
        "{\"operationId\":\"5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550\","
        "\"status\":\"assigned\",\"registrationState\":{\"x509\":{},"
        "\"registrationId\":\"my-device\",\"createdDateTimeUtc\":\"2024-05-01T10:00:00.1Z\","
        "\"assignedHub\":\"hub1.azure-devices.net\",\"deviceId\":\"my-device\","
        "\"status\":\"assigned\",\"substatus\":\"initialAssignment\","
        "\"lastUpdatedDateTimeUtc\":\"2024-05-01T10:00:00.2Z\",\"etag\":\"IjE=\","
        "\"payload\":{\"threshold\":12.5}}}";
    size_t rs, hub, status;
    char out[64];
    size_t n;
    HK_CHECK_RESULT(parse(&doc, s), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "status", &status), HK_OK);
    HK_CHECK(hk_json_string_equals(&doc, status, "assigned", 8));
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "registrationState", &rs), HK_OK);
    HK_CHECK_RESULT(hk_json_object_find(&doc, rs, "assignedHub", &hub), HK_OK);
    hk_guard_fill(out, 0, sizeof out);
    HK_CHECK_RESULT(hk_json_string_get(&doc, hub, out, 23, &n), HK_OK);
    HK_CHECK_STRN(out, n, "hub1.azure-devices.net");
    HK_CHECK(hk_guard_intact(out, 23, sizeof out));
    HK_CHECK_RESULT(hk_json_string_get(&doc, hub, out, 22, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK(hk_guard_intact(out, 23, sizeof out));
    HK_CHECK_RESULT(hk_json_object_find(&doc, rs, "payload", &status), HK_OK);
    const char *text;
    HK_CHECK_RESULT(hk_json_raw_get(&doc, status, &text, &n), HK_OK);
    HK_CHECK_STRN(text, n, "{\"threshold\":12.5}");
    HK_CHECK_RESULT(hk_json_object_find(&doc, 0, "assignedHub", &hub), HK_ERR_NOT_FOUND);
}

int main(void)
{
    HK_RUN(test_token_stream_header_example);
    HK_RUN(test_token_stream_whitespace_and_nesting);
    HK_RUN(test_scalar_documents);
    HK_RUN(test_every_escape);
    HK_RUN(test_raw_utf8_in_strings);
    HK_RUN(test_errors_truncated);
    HK_RUN(test_errors_syntax);
    HK_RUN(test_errors_trailing);
    HK_RUN(test_errors_number);
    HK_RUN(test_errors_string);
    HK_RUN(test_errors_utf8);
    HK_RUN(test_invalid_arguments);
    HK_RUN(test_depth_limit);
    HK_RUN(test_token_limit);
    HK_RUN(test_object_find);
    HK_RUN(test_iteration);
    HK_RUN(test_string_get);
    HK_RUN(test_string_equals);
    HK_RUN(test_integers);
    HK_RUN(test_bool_and_raw);
    HK_RUN(test_dps_shaped_document);
    return hk_test_finish("json_reader");
}
