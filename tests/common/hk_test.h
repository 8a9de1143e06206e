/*
 * A very small test harness for hubkey's unit tests (header only).
 *
 *   static void test_something(void) { HK_CHECK(x == 1); HK_CHECK_EQ(r, HK_OK); }
 *   int main(void) { HK_RUN(test_something); return hk_test_finish("mqtt"); }
 *
 * Every failed check prints file:line and the expression; the run ends with
 * "<suite>: N passed, N failed" and a non-zero exit status when anything failed.
 * Guard helpers fill the bytes after an output buffer with 0xCC and check
 * they were not touched.
 */
#ifndef HK_TEST_H
#define HK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hubkey/result.h"

/* The production variant of a device unit test (label production; CMake
 * builds it with HK_TEST_PRODUCTION=1, see hk_add_test in cmake/hubkey.cmake)
 * links the device libraries built with HK_CHECK_PRECONDITIONS=0 and
 * HK_RESULT_MESSAGES=0, as a shipped device is. What those settings compile
 * out by design is checked only where it is compiled in, and says so:
 *
 *   HK_CHECK_REQUIRE(call, HK_ERR_INVALID_ARG), HK_CHECK_BUILD_REQUIRE(call)
 *       a caller-bug precondition (HK_REQUIRE in src/); in the production
 *       variant the call is not made at all: with the check gone it would be
 *       the caller bug itself.
 *   HK_TEST_MESSAGES   1 where hk_result_str() gives the message texts, 0
 *       where it gives the results' names. */
#ifdef HK_TEST_PRODUCTION
#define HK_TEST_PRECONDITIONS 0
#define HK_TEST_MESSAGES 0
#else
#define HK_TEST_PRECONDITIONS 1
#define HK_TEST_MESSAGES 1
#endif

static int hk_test_checks_failed_;
static int hk_test_cases_passed_;
static int hk_test_cases_failed_;
static const char *hk_test_current_;

#define HK_GUARD_BYTE 0xCC

#define HK_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            hk_test_checks_failed_++;                                                   \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,        \
                    hk_test_current_, #cond);                                           \
        }                                                                               \
    } while (0)

/* Compare two integers (any integer type, printed as long long). */
#define HK_CHECK_EQ(a, b)                                                               \
    do {                                                                                \
        long long hk_a_ = (long long)(a), hk_b_ = (long long)(b);                       \
        if (hk_a_ != hk_b_) {                                                           \
            hk_test_checks_failed_++;                                                   \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n", __FILE__,      \
                    __LINE__, hk_test_current_, #a, #b, hk_a_, hk_b_);                  \
        }                                                                               \
    } while (0)

/* Compare results and print their names. */
#define HK_CHECK_RESULT(a, b)                                                           \
    do {                                                                                \
        hk_result hk_ra_ = (a), hk_rb_ = (b);                                           \
        if (hk_ra_ != hk_rb_) {                                                         \
            hk_test_checks_failed_++;                                                   \
            fprintf(stderr, "%s:%d: %s: %s gave %s (%d), expected %s (%d)\n", __FILE__,  \
                    __LINE__, hk_test_current_, #a, hk_result_name(hk_ra_), (int)hk_ra_, \
                    hk_result_name(hk_rb_), (int)hk_rb_);                               \
        }                                                                               \
    } while (0)

/* A check of an HK_REQUIRE precondition: see HK_TEST_PRECONDITIONS. */
#define HK_CHECK_REQUIRE(a, b)                                                          \
    do {                                                                                \
        if (HK_TEST_PRECONDITIONS)                                                      \
            HK_CHECK_RESULT(a, b);                                                      \
    } while (0)

/* Compare len bytes at p with the bytes of expected (len_e). */
#define HK_CHECK_MEM(p, len, expected, len_e)                                           \
    hk_test_check_mem_(__FILE__, __LINE__, #p, (const void *)(p), (size_t)(len),        \
                       (const void *)(expected), (size_t)(len_e))

/* Compare len bytes at p with a NUL-terminated string (the NUL is not compared). */
#define HK_CHECK_STRN(p, len, str) HK_CHECK_MEM(p, len, str, strlen(str))

#define HK_RUN(fn)                                                                      \
    do {                                                                                \
        int hk_before_ = hk_test_checks_failed_;                                        \
        hk_test_current_ = #fn;                                                         \
        fn();                                                                           \
        if (hk_test_checks_failed_ == hk_before_)                                       \
            hk_test_cases_passed_++;                                                    \
        else                                                                            \
            hk_test_cases_failed_++;                                                    \
    } while (0)

static inline void hk_test_hex_(FILE *f, const void *p, size_t len)
{
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", b[i]);
}

static inline void hk_test_check_mem_(const char *file, int line, const char *what, const void *p,
                                      size_t len, const void *e, size_t len_e)
{
    if (len == len_e && (len == 0 || memcmp(p, e, len) == 0))
        return;
    hk_test_checks_failed_++;
    fprintf(stderr, "%s:%d: %s: %s differs (len %zu vs expected %zu)\n  got:      ", file, line,
            hk_test_current_, what, len, len_e);
    hk_test_hex_(stderr, p, len);
    fprintf(stderr, "\n  expected: ");
    hk_test_hex_(stderr, e, len_e);
    fprintf(stderr, "\n");
}

/* Fill buf[used..cap) with guard bytes. */
static inline void hk_guard_fill(void *buf, size_t used, size_t cap)
{
    if (used < cap)
        memset((uint8_t *)buf + used, HK_GUARD_BYTE, cap - used);
}

/* True when buf[from..cap) still holds guard bytes. */
static inline int hk_guard_intact(const void *buf, size_t from, size_t cap)
{
    const uint8_t *b = (const uint8_t *)buf;
    for (size_t i = from; i < cap; i++)
        if (b[i] != HK_GUARD_BYTE)
            return 0;
    return 1;
}

/* Decode a hex string (no separators) into out; returns the byte count. */
static inline size_t hk_test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < cap; hex += 2) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
    }
    return n;
}

static inline int hk_test_finish(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, hk_test_cases_passed_, hk_test_cases_failed_);
    return hk_test_cases_failed_ == 0 ? 0 : 1;
}

/* String builders with the (out, cap, &out_len) contract.
 * Runs `call` three times: with room for the expected string and its NUL,
 * with one byte too few, and as a size query (out NULL, cap 0). `call` uses
 * out_, cap_ and &len_. Bytes from cap_ on must keep their guard value. */
#define HK_CHECK_BUILD(expected, call)                                               \
    do {                                                                             \
        const char *e_ = (expected);                                                 \
        size_t n_ = strlen(e_);                                                      \
        size_t caps_[3] = {n_ + 1, n_, 0};                                           \
        for (int k_ = 0; k_ < 3; k_++) {                                             \
            char buf_[512];                                                          \
            size_t len_ = 99999, cap_ = caps_[k_];                                   \
            char *out_ = cap_ != 0 ? buf_ : NULL;                                    \
            hk_guard_fill(buf_, 0, sizeof buf_);                                     \
            hk_result r_ = (call);                                                   \
            if (k_ == 0) {                                                           \
                HK_CHECK_RESULT(r_, HK_OK);                                          \
                HK_CHECK_STRN(buf_, len_, e_);                                       \
                HK_CHECK(buf_[n_] == '\0');                                          \
                HK_CHECK(hk_guard_intact(buf_, n_ + 1, sizeof buf_));                \
            } else {                                                                 \
                HK_CHECK_RESULT(r_, HK_ERR_BUFFER_TOO_SMALL);                        \
                HK_CHECK_EQ(len_, n_);                                               \
                HK_CHECK(hk_guard_intact(buf_, cap_, sizeof buf_));                  \
            }                                                                        \
        }                                                                            \
    } while (0)

/* Expect `call` to fail with `want` and leave the whole buffer untouched. */
#define HK_CHECK_BUILD_FAILS(want, call)                                             \
    do {                                                                             \
        char buf_[256];                                                              \
        size_t len_ = 0, cap_ = sizeof buf_;                                         \
        char *out_ = buf_;                                                           \
        (void)len_;                                                                  \
        hk_guard_fill(buf_, 0, sizeof buf_);                                         \
        HK_CHECK_RESULT((call), (want));                                             \
        HK_CHECK(hk_guard_intact(buf_, 0, sizeof buf_));                             \
    } while (0)

/* HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, call) for an HK_REQUIRE
 * precondition: not made in the production variant (HK_TEST_PRECONDITIONS). */
#define HK_CHECK_BUILD_REQUIRE(call)                                                 \
    do {                                                                             \
        if (HK_TEST_PRECONDITIONS)                                                   \
            HK_CHECK_BUILD_FAILS(HK_ERR_INVALID_ARG, call);                          \
    } while (0)

#endif /* HK_TEST_H */
