/*
 * Private helpers shared by the modules in src/. Not installed.
 *
 * HK_REQUIRE checks a caller precondition (NULL pointers, impossible sizes).
 * Those are programming errors, not hostile input, so the check can be
 * compiled out with -DHK_CHECK_PRECONDITIONS=0 for the smallest builds.
 * A failed check calls the application's hk_precondition_failed() hook
 * (hubkey/result.h; a weak no-op by default) before it returns
 * HK_ERR_INVALID_ARG, so a debugger can stop at the caller's bug.
 * Anything that comes from the wire, the chip, a file or a command line must
 * be validated with ordinary code that returns an error, never with this.
 */
#ifndef HK_COMMON_H
#define HK_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifndef HK_CHECK_PRECONDITIONS
#define HK_CHECK_PRECONDITIONS 1
#endif

/* The file name the hook gets: the base name where the compiler has one
 * (shorter strings, no build paths in the image). */
#if defined(__FILE_NAME__)
#define HK_SOURCE_FILE __FILE_NAME__
#else
#define HK_SOURCE_FILE __FILE__
#endif

/* HK_PRECONDITION_HOOK=1 (default): a failed check calls the hook with its
 * file and line, about 12 bytes of Cortex-M4 code per check. 0: no call,
 * for a build that keeps the checks but wants none of the hook's bytes.
 * Irrelevant with HK_CHECK_PRECONDITIONS=0 (the production settings, what
 * make size measures): no check, no call, nothing linked. */
#ifndef HK_PRECONDITION_HOOK
#define HK_PRECONDITION_HOOK 1
#endif

#if HK_CHECK_PRECONDITIONS && HK_PRECONDITION_HOOK
#define HK_REQUIRE(cond)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            hk_precondition_failed(HK_SOURCE_FILE, __LINE__);      \
            return HK_ERR_INVALID_ARG;                             \
        }                                                          \
    } while (0)
#elif HK_CHECK_PRECONDITIONS
#define HK_REQUIRE(cond)                   \
    do {                                   \
        if (!(cond))                       \
            return HK_ERR_INVALID_ARG;     \
    } while (0)
#else
#define HK_REQUIRE(cond) \
    do {                 \
    } while (0)
#endif

/* HK_RESULT_MESSAGES=1 (default): hk_result_str() returns the English
 * message of result.h. 0: a device without a console keeps no texts;
 * hk_result_str() returns the result's name and the reasons hubkey formats
 * (hk_tls_reason) give the result's number, which hk_result_str() on a host
 * turns back into the message. The size build uses 0. */
#ifndef HK_RESULT_MESSAGES
#define HK_RESULT_MESSAGES 1
#endif

/* Propagate an error: evaluates expr once. */
#define HK_TRY(expr)                   \
    do {                               \
        hk_result hk_try_r_ = (expr);  \
        if (hk_try_r_ != HK_OK)        \
            return hk_try_r_;          \
    } while (0)

/* Keep a helper out of line: under link-time optimisation GCC may copy a
 * helper's code into several paths of its caller, which costs more flash
 * than one shared copy. Used only where a smaller image was measured. */
#if defined(__GNUC__)
#define HK_NOINLINE __attribute__((noinline))
#else
#define HK_NOINLINE
#endif

#define HK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* HK_COMMON_H */
