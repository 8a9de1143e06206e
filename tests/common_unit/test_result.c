/* hk_result: every value has a distinct name and message; unknown values are safe. */
#include <string.h>

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

static void test_unknown_value(void)
{
    HK_CHECK(strcmp(hk_result_str((hk_result)12345), "unknown error") == 0);
    HK_CHECK(strcmp(hk_result_name((hk_result)-1), "HK_UNKNOWN") == 0);
}

int main(void)
{
    HK_RUN(test_values_distinct_and_named);
    HK_RUN(test_unknown_value);
    return hk_test_finish("result");
}
