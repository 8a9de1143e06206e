/* hk_device_cert_cn_get: the registration ID from a DER certificate. */
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hubkey/device.h"
#include "test_certs.h"

static uint8_t der[1024];

static size_t load(const char *hex)
{
    return hk_test_unhex(hex, der, sizeof der);
}

static void test_known_answer(void)
{
    size_t n = load(CERT_DEV1_HEX), len = 0;
    char out[32];
    hk_guard_fill(out, 6, sizeof out);
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, 6, &len), HK_OK);
    HK_CHECK_STRN(out, len, "dev-1");
    HK_CHECK_EQ(out[5], '\0');
    HK_CHECK(hk_guard_intact(out, 6, sizeof out));
}

static void test_buffer_too_small(void)
{
    size_t n = load(CERT_DEV1_HEX), len = 0;
    char out[16];
    hk_guard_fill(out, 5, sizeof out);
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, 5, &len), HK_ERR_BUFFER_TOO_SMALL);
    HK_CHECK_EQ(len, 5);
    HK_CHECK(hk_guard_intact(out, 5, sizeof out));
}

static void test_no_cn_and_two_cns(void)
{
    char out[32];
    size_t len = 0;
    size_t n = load(CERT_NOCN_HEX);
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, sizeof out, &len), HK_ERR_NOT_FOUND);
    n = load(CERT_TWOCN_HEX);
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, sizeof out, &len), HK_ERR_CERT_PARSE);
}

/* Every truncation of a good certificate is refused without reading past it
 * (ASan watches the exact-size copy). */
static void test_every_truncation(void)
{
    size_t n = load(CERT_DEV1_HEX);
    int bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, der, cut);
        char out[32];
        size_t len = 0;
        hk_result r = hk_device_cert_cn_get(copy, cut, out, sizeof out, &len);
        if (r != HK_ERR_CERT_PARSE)
            bad++;
        free(copy);
    }
    HK_CHECK_EQ(bad, 0);
}

static void test_hostile_forms(void)
{
    char out[32];
    size_t len = 0;
    /* Indefinite length, high tag number, over-long length field. */
    static const uint8_t indefinite[] = {0x30, 0x80, 0x30, 0x00, 0x00, 0x00};
    static const uint8_t hightag[] = {0x3F, 0x01, 0x00};
    static const uint8_t longlen[] = {0x30, 0x85, 1, 0, 0, 0, 0};
    static const uint8_t huge[] = {0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xF0, 0x30};
    HK_CHECK_RESULT(hk_device_cert_cn_get(indefinite, sizeof indefinite, out, sizeof out, &len),
                    HK_ERR_CERT_PARSE);
    HK_CHECK_RESULT(hk_device_cert_cn_get(hightag, sizeof hightag, out, sizeof out, &len),
                    HK_ERR_CERT_PARSE);
    HK_CHECK_RESULT(hk_device_cert_cn_get(longlen, sizeof longlen, out, sizeof out, &len),
                    HK_ERR_CERT_PARSE);
    HK_CHECK_RESULT(hk_device_cert_cn_get(huge, sizeof huge, out, sizeof out, &len),
                    HK_ERR_CERT_PARSE);
    HK_CHECK_RESULT(hk_device_cert_cn_get(NULL, 0, out, sizeof out, &len), HK_ERR_CERT_PARSE);

    /* A CN with a control byte, and one of the wrong type (INTEGER). */
    size_t n = load(CERT_DEV1_HEX);
    static const uint8_t cn_hdr[] = {0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x05};
    size_t at = 0;
    for (size_t i = 0; i + sizeof cn_hdr < n; i++)
        if (memcmp(der + i, cn_hdr, sizeof cn_hdr) == 0)
            at = i; /* the last one: the subject's */
    HK_CHECK(at != 0);
    der[at + 7] = 0x01;
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, sizeof out, &len), HK_ERR_CERT_PARSE);
    n = load(CERT_DEV1_HEX);
    der[at + 5] = 0x02;
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, sizeof out, &len), HK_ERR_CERT_PARSE);
    /* Not a certificate at all: an INTEGER where tbsCertificate belongs. */
    n = load(CERT_DEV1_HEX);
    der[4] = 0x02;
    HK_CHECK_RESULT(hk_device_cert_cn_get(der, n, out, sizeof out, &len), HK_ERR_CERT_PARSE);
}

static void test_preconditions(void)
{
    char out[8];
    size_t len;
    HK_CHECK_REQUIRE(hk_device_cert_cn_get(der, 1, NULL, 8, &len), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_device_cert_cn_get(der, 1, out, 0, &len), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_device_cert_cn_get(der, 1, out, 8, NULL), HK_ERR_INVALID_ARG);
    HK_CHECK_REQUIRE(hk_device_cert_cn_get(NULL, 4, out, 8, &len), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_known_answer);
    HK_RUN(test_buffer_too_small);
    HK_RUN(test_no_cn_and_two_cns);
    HK_RUN(test_every_truncation);
    HK_RUN(test_hostile_forms);
    HK_RUN(test_preconditions);
    return hk_test_finish("device_cert");
}
