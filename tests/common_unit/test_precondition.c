/* The precondition hook (hubkey/result.h): this program defines its own
 * hk_precondition_failed(), which replaces hubkey's weak no-op at link
 * time, and checks that a caller bug reaches it, with the file and line of
 * the failed HK_REQUIRE, before the function returns HK_ERR_INVALID_ARG;
 * that correct calls and hostile input never do. */
#include <string.h>

#include "hk_test.h"
#include "hubkey/dps.h"
#include "hubkey/mqtt.h"
#include "hubkey/result.h"

static int g_calls;
static const char *g_file;
static int g_line;

void hk_precondition_failed(const char *file, int line)
{
    g_calls++;
    g_file = file;
    g_line = line;
}

static void reset(void)
{
    g_calls = 0;
    g_file = NULL;
    g_line = 0;
}

/* file is a base name (__FILE_NAME__) or a path ending in one. */
static int file_is(const char *file, const char *base)
{
    if (file == NULL)
        return 0;
    size_t n = strlen(file), b = strlen(base);
    return n >= b && strcmp(file + n - b, base) == 0 && (n == b || file[n - b - 1] == '/');
}

static const hk_dps_client client = {.registration_id = "dev-1", .id_scope = "0ne00000001"};

static void test_caller_bug_calls_hook(void)
{
    char buf[64];
    reset();
    HK_CHECK_RESULT(hk_dps_client_id_build(&client, buf, sizeof buf, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(g_calls, 1);
    HK_CHECK(file_is(g_file, "dps.c"));
    HK_CHECK(g_line > 0);

    /* Another module, another place: the hook names where the check is. */
    int dps_line = g_line;
    reset();
    HK_CHECK_RESULT(hk_mqtt_pingreq_encode((uint8_t *)buf, sizeof buf, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(g_calls, 1);
    HK_CHECK(file_is(g_file, "mqtt_codec.c"));
    HK_CHECK(g_line > 0 && g_line != dps_line);

    /* Each failed check calls it once more. */
    HK_CHECK_RESULT(hk_dps_client_id_build(&client, NULL, 4, &(size_t){0}), HK_ERR_INVALID_ARG);
    HK_CHECK_EQ(g_calls, 2);
    HK_CHECK(file_is(g_file, "dps.c"));
    HK_CHECK_EQ(g_line, dps_line);
}

static void test_correct_calls_do_not(void)
{
    char buf[64];
    size_t n = 0;
    reset();
    HK_CHECK_RESULT(hk_dps_client_id_build(&client, buf, sizeof buf, &n), HK_OK);
    HK_CHECK_EQ(n, 5);
    /* Too small a buffer is the caller's ordinary case, not a bug. */
    HK_CHECK_RESULT(hk_dps_client_id_build(&client, buf, 2, &n), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_RESULT(hk_mqtt_pingreq_encode((uint8_t *)buf, sizeof buf, &n), HK_OK);
    HK_CHECK_EQ(g_calls, 0);
}

/* Input from the network is validated by ordinary code: a refused topic is
 * its own error and no caller bug. */
static void test_hostile_input_does_not(void)
{
    static const char topic[] = "$dps/registrations/res/2x0/?$rid=1";
    hk_dps_topic t;
    reset();
    HK_CHECK_RESULT(hk_dps_topic_parse(topic, sizeof topic - 1, &t), HK_ERR_DPS_TOPIC);
    HK_CHECK_EQ(g_calls, 0);
}

int main(void)
{
    HK_RUN(test_caller_bug_calls_hook);
    HK_RUN(test_correct_calls_do_not);
    HK_RUN(test_hostile_input_does_not);
    return hk_test_finish("precondition");
}
