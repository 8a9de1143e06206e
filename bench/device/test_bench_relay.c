#include "hk_test.h"
#include "hkb_relay.h"

static void test_placeholder_due(void)
{
    HK_CHECK_EQ(hkb_relay_due_down(1000, 100000), 51000);
}

int main(void)
{
    HK_RUN(test_placeholder_due);
    return hk_test_finish("bench_relay");
}
