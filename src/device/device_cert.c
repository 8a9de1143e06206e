/*
 * The registration ID: the subject CN of the device certificate, found by a
 * small DER walk (no certificate library on the device side of the flow).
 *
 * Only the path to the subject is walked:
 *   Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 *     serialNumber INTEGER, signature SEQUENCE, issuer Name, validity SEQUENCE,
 *     subject Name, ... } ... }
 *   Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
 * Every length is checked against its enclosing element before it is used,
 * so hostile bytes can only produce HK_ERR_CERT_PARSE. Lengths are DER
 * (definite; long form up to 4 bytes); indefinite lengths and multi-byte
 * tags are refused. More than one CN is refused too: which one DPS would
 * take is not something to guess.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/device.h"

/* A TLV inside [*pos, end): its tag, and its content as [*out_start, +*out_len). */
static hk_result der_next(const uint8_t *der, size_t end, size_t *pos, uint8_t *out_tag,
                          size_t *out_start, size_t *out_len)
{
    size_t p = *pos;
    if (end - p < 2)
        return HK_ERR_CERT_PARSE;
    uint8_t tag = der[p++];
    if ((tag & 0x1Fu) == 0x1Fu)
        return HK_ERR_CERT_PARSE;
    size_t len = der[p++];
    if (len & 0x80u) {
        size_t n = len & 0x7Fu;
        if (n == 0 || n > 4 || end - p < n)
            return HK_ERR_CERT_PARSE;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | der[p++];
    }
    if (len > end - p)
        return HK_ERR_CERT_PARSE;
    *out_tag = tag;
    *out_start = p;
    *out_len = len;
    *pos = p + len;
    return HK_OK;
}

/* Step into the next element, which must have tag `want`. */
static hk_result der_expect(const uint8_t *der, size_t end, size_t *pos, uint8_t want,
                            size_t *out_start, size_t *out_len)
{
    uint8_t tag;
    HK_TRY(der_next(der, end, pos, &tag, out_start, out_len));
    return tag == want ? HK_OK : HK_ERR_CERT_PARSE;
}

static bool is_string_tag(uint8_t tag)
{
    /* UTF8String, PrintableString, TeletexString, IA5String */
    return tag == 0x0C || tag == 0x13 || tag == 0x14 || tag == 0x16;
}

hk_result hk_device_cert_cn(const uint8_t *der, size_t len, char *out, size_t cap,
                            size_t *out_len)
{
    HK_REQUIRE(der != NULL || len == 0);
    HK_REQUIRE(out != NULL && cap > 0 && out_len != NULL);
    static const uint8_t cn_oid[] = {0x55, 0x04, 0x03};
    size_t pos = 0, s, n;
    uint8_t tag;

    HK_TRY(der_expect(der, len, &pos, 0x30, &s, &n)); /* Certificate */
    size_t end = s + n;
    pos = s;
    HK_TRY(der_expect(der, end, &pos, 0x30, &s, &n)); /* tbsCertificate */
    end = s + n;
    pos = s;
    HK_TRY(der_next(der, end, &pos, &tag, &s, &n));
    if (tag == 0xA0) /* [0] version */
        HK_TRY(der_next(der, end, &pos, &tag, &s, &n));
    if (tag != 0x02) /* serialNumber */
        return HK_ERR_CERT_PARSE;
    /* signature, issuer, validity, subject: four SEQUENCEs; the last one
     * read is the subject. */
    for (int i = 0; i < 4; i++)
        HK_TRY(der_expect(der, end, &pos, 0x30, &s, &n));

    size_t name_end = s + n, rdn_pos = s;
    size_t cn_start = 0, cn_len = 0;
    bool found = false;
    while (rdn_pos < name_end) {
        size_t set_s, set_n;
        HK_TRY(der_expect(der, name_end, &rdn_pos, 0x31, &set_s, &set_n));
        size_t set_end = set_s + set_n, atv_pos = set_s;
        while (atv_pos < set_end) {
            size_t atv_s, atv_n, oid_s, oid_n, val_s, val_n;
            HK_TRY(der_expect(der, set_end, &atv_pos, 0x30, &atv_s, &atv_n));
            size_t atv_end = atv_s + atv_n, p = atv_s;
            HK_TRY(der_expect(der, atv_end, &p, 0x06, &oid_s, &oid_n));
            HK_TRY(der_next(der, atv_end, &p, &tag, &val_s, &val_n));
            if (p != atv_end)
                return HK_ERR_CERT_PARSE;
            if (oid_n != sizeof(cn_oid) || memcmp(der + oid_s, cn_oid, sizeof(cn_oid)) != 0)
                continue;
            if (found || !is_string_tag(tag))
                return HK_ERR_CERT_PARSE;
            found = true;
            cn_start = val_s;
            cn_len = val_n;
        }
    }
    if (!found)
        return HK_ERR_NOT_FOUND;
    for (size_t i = 0; i < cn_len; i++)
        if (der[cn_start + i] < 0x20 || der[cn_start + i] > 0x7E)
            return HK_ERR_CERT_PARSE;
    *out_len = cn_len;
    if (cn_len >= cap)
        return HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, der + cn_start, cn_len);
    out[cn_len] = '\0';
    return HK_OK;
}
