/*
 * The certificate definitions compiled into the size build's firmware
 * (size/certdefs.h, written by `hubkey-factory ca init`): the device never
 * checks them, so this test does. They must pass hk_cert_def_check() and
 * equal what their own serialization parses back to.
 */
#include <string.h>

#include "certdefs.h"
#include "hk_test.h"
#include "hubkey/cert.h"

static void check_def(const hk_cert_def *def)
{
    HK_CHECK_RESULT(hk_cert_def_check(def), HK_OK);
    static uint8_t ser[2048];
    size_t n = 0;
    HK_CHECK_RESULT(hk_cert_def_serialize(def, ser, sizeof ser, &n), HK_OK);
    hk_cert_def back;
    HK_CHECK_RESULT(hk_cert_def_parse(ser, n, &back), HK_OK);
    HK_CHECK_EQ(back.template_len, def->template_len);
    HK_CHECK_MEM(back.template_der, back.template_len, def->template_der, def->template_len);
    HK_CHECK_EQ(back.template_id, def->template_id);
    HK_CHECK_EQ(back.chain_id, def->chain_id);
    HK_CHECK_EQ(back.sn_source, def->sn_source);
    HK_CHECK_EQ(back.expire_years, def->expire_years);
    HK_CHECK_EQ(back.issue_date_format, def->issue_date_format);
    HK_CHECK_EQ(back.expire_date_format, def->expire_date_format);
    HK_CHECK(memcmp(&back.tbs, &def->tbs, sizeof back.tbs) == 0);
    HK_CHECK(memcmp(back.std, def->std, sizeof back.std) == 0);
    HK_CHECK_EQ(back.extra_count, def->extra_count);
    HK_CHECK(memcmp(back.extras, def->extras, sizeof back.extras) == 0);
}

static void test_device_def(void)
{
    check_def(&hubkey_device_def);
    HK_CHECK_EQ(hubkey_device_def.extra_count, 1);
}

static void test_signer_def(void)
{
    check_def(&hubkey_signer_def);
}

int main(void)
{
    HK_RUN(test_device_def);
    HK_RUN(test_signer_def);
    return hk_test_finish("certdefs_header");
}
