/* The default precondition hook (hubkey/result.h): does nothing. Weak, so
 * an application's own definition replaces it at link time without any
 * registration or state; alone in this file so that an image whose checks
 * are compiled out (HK_CHECK_PRECONDITIONS=0) never links it. A compiler
 * without weak symbols gets an ordinary definition: the hook then cannot
 * be replaced, and the checks still return HK_ERR_INVALID_ARG. */
#include "hubkey/result.h"

#if defined(__GNUC__)
__attribute__((weak))
#endif
void hk_precondition_failed(const char *file, int line)
{
    (void)file;
    (void)line;
}
