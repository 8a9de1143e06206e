/* hk_result: every value has a distinct name and message; unknown values are
 * safe. The shared text helpers of src/common: the counting writer and the
 * list reader. */
#include <string.h>

#include "common/hk_text.h"
#include "hk_test.h"
#include "hubkey/result.h"

static const int all_values[] = {
#define V_(name, value, msg) value,
    HK_RESULT_LIST(V_)
#undef V_
};

static void test_values_distinct_and_named(void)
{
    size_t n = sizeof(all_values) / sizeof(all_values[0]);
    for (size_t i = 0; i < n; i++) {
        HK_CHECK(strcmp(hk_result_str((hk_result)all_values[i]), "unknown error") != 0);
        HK_CHECK(strncmp(hk_result_name((hk_result)all_values[i]), "HK_", 3) == 0);
        for (size_t j = i + 1; j < n; j++)
            HK_CHECK(all_values[i] != all_values[j]);
    }
    HK_CHECK(strcmp(hk_result_name(HK_OK), "HK_OK") == 0);
    HK_CHECK(strcmp(hk_result_name(HK_ERR_TIMEOUT), "HK_ERR_TIMEOUT") == 0);
}

/* Known answers for every text: the message of result.h, or in the
 * production variant (HK_RESULT_MESSAGES=0, no texts on the device) the
 * result's name. */
static void test_texts(void)
{
#define T_(name, value, msg) HK_CHECK(strcmp(hk_result_str(name), HK_TEST_MESSAGES ? msg : #name) == 0);
    HK_RESULT_LIST(T_)
#undef T_
    /* every name, exactly (a lookup table, not a switch, gives them) */
#define N_(name, value, msg) HK_CHECK(strcmp(hk_result_name(name), #name) == 0);
    HK_RESULT_LIST(N_)
#undef N_
    const char *want = HK_TEST_MESSAGES ? "timed out" : "HK_ERR_TIMEOUT";
    HK_CHECK(strcmp(hk_result_str(HK_ERR_TIMEOUT), want) == 0);
}

static void test_unknown_value(void)
{
    HK_CHECK(strcmp(hk_result_str((hk_result)12345), "unknown error") == 0);
    HK_CHECK(strcmp(hk_result_name((hk_result)-1), "HK_UNKNOWN") == 0);
}

/* The list reader shared by the IoT Hub and DPS topic parsers. */
static void test_text_items(void)
{
    static const char list[] = "$rid=1&flag&empty=&a==b";
    hk_text_item it = {0};
    HK_CHECK_RESULT(hk_text_item_next(list, strlen(list), &it, HK_ERR_MALFORMED), HK_OK);
    HK_CHECK(hk_text_item_is(&it, "$rid") && !hk_text_item_is(&it, "$ri") && it.has_value);
    HK_CHECK_STRN(it.value, it.value_len, "1");
    HK_CHECK_RESULT(hk_text_item_next(list, strlen(list), &it, HK_ERR_MALFORMED), HK_OK);
    HK_CHECK(hk_text_item_is(&it, "flag") && !it.has_value && it.value_len == 0);
    HK_CHECK(it.value == list + 11);
    HK_CHECK_RESULT(hk_text_item_next(list, strlen(list), &it, HK_ERR_MALFORMED), HK_OK);
    HK_CHECK(hk_text_item_is(&it, "empty") && it.has_value && it.value_len == 0);
    HK_CHECK_RESULT(hk_text_item_next(list, strlen(list), &it, HK_ERR_MALFORMED), HK_OK);
    HK_CHECK(hk_text_item_is(&it, "a"));
    HK_CHECK_STRN(it.value, it.value_len, "=b");
    HK_CHECK(it.pos == strlen(list));
    HK_CHECK_RESULT(hk_text_item_next(list, strlen(list), &it, HK_ERR_MALFORMED),
                    HK_ERR_NOT_FOUND);
    /* an empty name, an empty item, a trailing '&': the caller's error */
    static const char *bad[] = {"=1", "&a", "a&&b", "a&", "a=1&"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_result r;
        it.pos = 0;
        while ((r = hk_text_item_next(bad[i], strlen(bad[i]), &it, HK_ERR_STATE)) == HK_OK) {
        }
        HK_CHECK_RESULT(r, HK_ERR_STATE);
    }
    it.pos = 0;
    HK_CHECK_RESULT(hk_text_item_next("", 0, &it, HK_ERR_STATE), HK_ERR_NOT_FOUND);
}

/* Tokens: printable ASCII without space, none of the forbidden bytes. */
static void test_text_token(void)
{
    HK_CHECK(hk_text_token_ok("a!~", 3, "/#"));
    HK_CHECK(hk_text_token_ok("ab/", 2, "/#")); /* only n bytes count */
    HK_CHECK(!hk_text_token_ok("a", 0, ""));
    static const char *bad[] = {"a b", "a/b", "#", "\x7f", "\x1f", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        HK_CHECK(!hk_text_token_ok(bad[i], strlen(bad[i]), "/#"));
}

/* Decimal numbers: strict, or saturating at UINT32_MAX. */
static void test_text_uint(void)
{
    uint32_t v = 7;
    HK_CHECK(hk_text_uint("0", 1, &v, false) && v == 0);
    HK_CHECK(hk_text_uint("4294967295", 10, &v, false) && v == UINT32_MAX);
    HK_CHECK(hk_text_uint("4294967289", 10, &v, true) && v == 4294967289u);
    HK_CHECK(hk_text_uint("4294967290", 10, &v, false) && v == 4294967290u);
    HK_CHECK(hk_text_uint("0004294967295", 13, &v, false) && v == UINT32_MAX);
    HK_CHECK(hk_text_uint("12x", 2, &v, false) && v == 12); /* only n bytes count */
    v = 7;
    HK_CHECK(!hk_text_uint("4294967296", 10, &v, false) && v == 7);
    HK_CHECK(!hk_text_uint("4294967300", 10, &v, false) && v == 7);
    HK_CHECK(!hk_text_uint("42949672950", 11, &v, false) && v == 7);
    HK_CHECK(hk_text_uint("4294967296", 10, &v, true) && v == UINT32_MAX);
    v = 7;
    HK_CHECK(hk_text_uint("99999999999999999999", 20, &v, true) && v == UINT32_MAX);
    v = 7;
    static const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1a", "/", ":", "99999999999x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        HK_CHECK(!hk_text_uint(bad[i], strlen(bad[i]), &v, false));
        HK_CHECK(!hk_text_uint(bad[i], strlen(bad[i]), &v, true));
    }
    HK_CHECK(v == 7);
}

/* Hex digits in either case; every other byte is 16 or more. */
static void test_text_hex(void)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < 16; i++) {
        HK_CHECK_EQ(hk_text_hex(lower[i]), i);
        HK_CHECK_EQ(hk_text_hex(upper[i]), i);
    }
    for (unsigned c = 0; c < 256; c++) {
        if (strchr("0123456789abcdefABCDEF", (int)c) == NULL || c == 0)
            HK_CHECK(hk_text_hex((char)c) >= 16);
    }
}

/* The counting writer: sizes what does not fit, never writes past cap. */
static void test_text_writer(void)
{
    char buf[8];
    size_t len = 0;
    for (size_t cap = 0; cap <= 7; cap++) {
        hk_guard_fill(buf, 0, sizeof buf);
        hk_text t = HK_TEXT_INIT(buf, cap);
        hk_text_puts(&t, "ab");
        hk_text_put_uint(&t, 4294967295u);
        HK_CHECK_RESULT(hk_text_finish(&t, &len), HK_ERR_BUFFER_TOO_SMALL);
        HK_CHECK(len == 12 && hk_guard_intact(buf, cap, sizeof buf));
    }
    hk_text t = HK_TEXT_INIT(buf, sizeof buf);
    hk_text_put(&t, "x=", 2);
    hk_text_put_uint(&t, 0);
    HK_CHECK_RESULT(hk_text_finish(&t, &len), HK_OK);
    HK_CHECK_STRN(buf, len, "x=0");
    HK_CHECK(buf[3] == '\0');
}

int main(void)
{
    HK_RUN(test_text_items);
    HK_RUN(test_text_token);
    HK_RUN(test_text_hex);
    HK_RUN(test_text_uint);
    HK_RUN(test_text_writer);
    HK_RUN(test_values_distinct_and_named);
    HK_RUN(test_texts);
    HK_RUN(test_unknown_value);
    return hk_test_finish("result");
}
