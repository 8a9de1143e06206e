/* Messages come from the single list in result.h, so names, values and text
 * cannot drift apart. A switch (not a table indexed by value) because the
 * values are sparse by design (one range per module). */
#include "hubkey/result.h"

#include "common/hk_common.h"

#if HK_RESULT_MESSAGES
#define HK_RESULT_TEXT_(name, msg) msg
#else
/* No message texts on this build: the name stands in (the compiler merges
 * it with hk_result_name's copy). */
#define HK_RESULT_TEXT_(name, msg) #name
#endif

const char *hk_result_str(hk_result r)
{
    switch (r) {
#define HK_RESULT_STR_(name, value, msg) \
    case name:                           \
        return HK_RESULT_TEXT_(name, msg);
        HK_RESULT_LIST(HK_RESULT_STR_)
#undef HK_RESULT_STR_
    }
    return "unknown error";
}

const char *hk_result_name(hk_result r)
{
    switch (r) {
#define HK_RESULT_NAME_(name, value, msg) \
    case name:                            \
        return #name;
        HK_RESULT_LIST(HK_RESULT_NAME_)
#undef HK_RESULT_NAME_
    }
    return "HK_UNKNOWN";
}
