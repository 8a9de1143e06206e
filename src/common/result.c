/* Messages come from the single list in result.h, so names, values and text
 * cannot drift apart. The values are sparse by design (one range per
 * module): no table indexed by value. */
#include "hubkey/result.h"

#include "common/hk_common.h"

/* The names: the values in list order, and the names one after another in
 * one string. A loop over 2-byte values instead of a switch: the switch
 * over sparse values compiled to a compare tree of about 1.1 KiB on a
 * Cortex-M4, the table is about 0.2 KiB; the result of an error path needs
 * no speed. */
static const uint16_t result_values[] = {
#define HK_RESULT_VALUE_(name, value, msg) value,
    HK_RESULT_LIST(HK_RESULT_VALUE_)
#undef HK_RESULT_VALUE_
};
_Static_assert(sizeof(result_values) / sizeof(result_values[0]) < 256, "an 8-bit index");

static const char result_names[] =
#define HK_RESULT_NAMEZ_(name, value, msg) #name "\0"
    HK_RESULT_LIST(HK_RESULT_NAMEZ_)
#undef HK_RESULT_NAMEZ_
    ;

/* The name of a known result, NULL for any other value. */
static const char *result_name_or_null(hk_result r)
{
    const char *p = result_names;
    for (size_t i = 0; i < sizeof(result_values) / sizeof(result_values[0]); i++) {
        if (result_values[i] == (unsigned)r)
            return p;
        while (*p++ != '\0') {
        }
    }
    return NULL;
}

const char *hk_result_str(hk_result r)
{
#if HK_RESULT_MESSAGES
    switch (r) {
#define HK_RESULT_STR_(name, value, msg) \
    case name:                           \
        return msg;
        HK_RESULT_LIST(HK_RESULT_STR_)
#undef HK_RESULT_STR_
    }
    return "unknown error";
#else
    /* No message texts on this build: the name stands in. */
    const char *n = result_name_or_null(r);
    return n != NULL ? n : "unknown error";
#endif
}

const char *hk_result_name(hk_result r)
{
    const char *n = result_name_or_null(r);
    return n != NULL ? n : "HK_UNKNOWN";
}
