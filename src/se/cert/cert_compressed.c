/*
 * The 72-byte compressed certificate and the date texts.
 *
 * Layout (docs/certificates.md): signature R||S (64), dates (3), signer ID
 * (2), template/chain IDs (1), SN source/format version (1), byte 71.
 * Strict decoding: version 2 (P-384/P-521) and reserved bits are refused,
 * and so are dates that do not exist, because a chip's bytes are hostile
 * input and a wrong date would only surface later as a certificate that
 * does not verify.
 */
#include <string.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

int hk_cert_date_valid(unsigned year, unsigned month, unsigned day)
{
    static const uint8_t days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month - 1u > 11u || day - 1u >= days[month - 1u])
        return 0;
    /* 29 February only in leap years. */
    return month != 2 || day != 29 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
}

/* Bytes 64..66: Y(5) M(4) D(5) h(5) E(5), from bit 7 of byte 64 down;
 * byte 71 (version 1): Y bits 6..5 in bits 7..6, E bits 6..5 in bits 5..4. */
hk_result hk_cert_compressed_decode(const uint8_t *in, size_t len, hk_cert_compressed *out)
{
    HK_REQUIRE(in != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (len != HK_CERT_COMPRESSED_SIZE)
        return HK_ERR_CERT_COMPRESSED;
    uint8_t version = in[70] & 0x0F;
    if (version > 1)
        return HK_ERR_CERT_COMPRESSED;
    if (version == 0 ? in[71] != 0 : (in[71] & 0x0F) != 0)
        return HK_ERR_CERT_COMPRESSED;
    unsigned y = in[64] >> 3;
    unsigned m = ((in[64] & 0x07u) << 1) | (in[65] >> 7);
    unsigned d = (in[65] >> 2) & 0x1Fu;
    unsigned h = ((in[65] & 0x03u) << 3) | (in[66] >> 5);
    unsigned e = in[66] & 0x1Fu;
    if (version == 1) {
        y |= (unsigned)(in[71] >> 6) << 5;
        e |= (unsigned)((in[71] >> 4) & 0x03u) << 5;
    }
    if (h > 23 || !hk_cert_date_valid(2000 + y, m, d))
        return HK_ERR_CERT_COMPRESSED;
    memcpy(out->signature, in, 64);
    out->issue.year = (uint16_t)(2000 + y);
    out->issue.month = (uint8_t)m;
    out->issue.day = (uint8_t)d;
    out->issue.hour = (uint8_t)h;
    out->expire_years = (uint8_t)e;
    out->signer_id[0] = in[67];
    out->signer_id[1] = in[68];
    out->template_id = in[69] >> 4;
    out->chain_id = in[69] & 0x0F;
    out->sn_source = in[70] >> 4;
    out->format_version = version;
    return HK_OK;
}

/* Builder: R||S | Y M D h E (24 bits) | signer ID | tpl<<4|chain | sn<<4|ver | ext */
hk_result hk_cert_compressed_encode(const hk_cert_compressed *in,
                                    uint8_t out[HK_CERT_COMPRESSED_SIZE])
{
    HK_REQUIRE(in != NULL && out != NULL);
    const hk_cert_date *t = &in->issue;
    HK_REQUIRE(t->year >= 2000 && t->year <= 2127 && t->hour <= 23);
    HK_REQUIRE(hk_cert_date_valid(t->year, t->month, t->day));
    HK_REQUIRE(in->expire_years <= 127 && in->template_id <= 15 && in->chain_id <= 15);
    HK_REQUIRE(in->sn_source <= 15 && in->format_version <= 1);
    unsigned y = t->year - 2000u;
    unsigned e = in->expire_years;
    unsigned version = in->format_version;
    if (y > 31 || e > 31)
        version = 1;
    memcpy(out, in->signature, 64);
    out[64] = (uint8_t)(((y & 0x1Fu) << 3) | (t->month >> 1));
    out[65] = (uint8_t)(((t->month & 1u) << 7) | ((t->day & 0x1Fu) << 2) | (t->hour >> 3));
    out[66] = (uint8_t)(((t->hour & 7u) << 5) | (e & 0x1Fu));
    out[67] = in->signer_id[0];
    out[68] = in->signer_id[1];
    out[69] = (uint8_t)((in->template_id << 4) | in->chain_id);
    out[70] = (uint8_t)((in->sn_source << 4) | version);
    out[71] = version == 1 ? (uint8_t)(((y >> 5) << 6) | (((e >> 5) & 3u) << 4)) : 0;
    return HK_OK;
}

size_t hk_cert_date_text_len(uint8_t format)
{
    return format == HK_CERT_DATE_UTC ? 13u : format == HK_CERT_DATE_GENERALIZED ? 15u : 0u;
}

/* Writes v as n decimal digits. */
static uint8_t *put_digits(uint8_t *p, unsigned v, unsigned n)
{
    for (unsigned k = n; k-- > 0; v /= 10u)
        p[k] = (uint8_t)('0' + v % 10u);
    return p + n;
}

hk_result hk_cert_date_format(uint8_t format, const uint16_t v[6], uint8_t *out)
{
    HK_REQUIRE(v != NULL && out != NULL);
    unsigned year = v[0];
    unsigned year_digits = 4;
    if (format == HK_CERT_DATE_UTC) {
        if (year < 1950 || year > 2049)
            return HK_ERR_CERT_COMPRESSED;
        year %= 100u;
        year_digits = 2;
    } else if (year > 9999) {
        return HK_ERR_CERT_COMPRESSED;
    }
    uint8_t *p = out;
    for (unsigned i = 0; i < 6; i++)
        p = put_digits(p, i == 0 ? year : v[i], i == 0 ? year_digits : 2);
    *p = 'Z';
    return HK_OK;
}

static int get2(const uint8_t *p, unsigned *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return 0;
    *v = (unsigned)(p[0] - '0') * 10u + (unsigned)(p[1] - '0');
    return 1;
}

/* Accepts e.g. "190312140000Z" (UTCTime) or "20470312140000Z". */
hk_result hk_cert_date_parse(uint8_t format, const uint8_t *text, uint16_t *year, uint8_t *month,
                             uint8_t *day, uint8_t *hour, uint8_t *minute, uint8_t *second)
{
    HK_REQUIRE(text != NULL && year != NULL && month != NULL && day != NULL && hour != NULL &&
               minute != NULL && second != NULL);
    unsigned y, hi, mo, d, h, mi, s;
    const uint8_t *p = text;
    if (format == HK_CERT_DATE_UTC) {
        if (!get2(p, &y))
            return HK_ERR_CERT_PARSE;
        y += y < 50 ? 2000u : 1900u;
        p += 2;
    } else if (format == HK_CERT_DATE_GENERALIZED) {
        if (!get2(p, &hi) || !get2(p + 2, &y))
            return HK_ERR_CERT_PARSE;
        y += hi * 100u;
        p += 4;
    } else {
        return HK_ERR_CERT_TEMPLATE;
    }
    if (!get2(p, &mo) || !get2(p + 2, &d) || !get2(p + 4, &h) || !get2(p + 6, &mi) ||
        !get2(p + 8, &s) || p[10] != 'Z')
        return HK_ERR_CERT_PARSE;
    if (!hk_cert_date_valid(y, mo, d) || h > 23 || mi > 59 || s > 59)
        return HK_ERR_CERT_PARSE;
    *year = (uint16_t)y;
    *month = (uint8_t)mo;
    *day = (uint8_t)d;
    *hour = (uint8_t)h;
    *minute = (uint8_t)mi;
    *second = (uint8_t)s;
    return HK_OK;
}
