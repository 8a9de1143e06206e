/*
 * Deriving a certificate definition from an issued certificate.
 *
 * The factory issues one certificate per device with the conventions the
 * 72 bytes can carry (docs/certificates.md). Any one of them, walked as
 * DER, tells where the per-device fields sit; the certificate itself is a
 * valid template because every per-device field has the right length in
 * every certificate of the same CA and definition.
 *
 * The walker is deliberately small: definite lengths up to 2 bytes, every
 * element checked to end inside its parent. It is not a general X.509
 * parser and decides nothing about trust.
 */
#include <string.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

typedef struct der_el {
    uint8_t tag;
    size_t start; /* offset of the tag */
    size_t value; /* offset of the first value byte */
    size_t len;   /* value length */
    size_t end;   /* value + len */
} der_el;

/* Read one element at pos, which must end at or before limit.
 * Example: 02 10 40 .. (INTEGER of 16 bytes). */
static bool der_read(const uint8_t *d, size_t pos, size_t limit, der_el *el)
{
    if (pos + 2 > limit)
        return false;
    el->tag = d[pos];
    el->start = pos;
    size_t l = d[pos + 1], hdr = 2;
    if (l == 0x81) {
        if (pos + 3 > limit)
            return false;
        l = d[pos + 2];
        hdr = 3;
    } else if (l == 0x82) {
        if (pos + 4 > limit)
            return false;
        l = ((size_t)d[pos + 2] << 8) | d[pos + 3];
        hdr = 4;
    } else if (l > 0x80 || l == 0x80) {
        return false;
    }
    el->value = pos + hdr;
    if (l > limit - el->value)
        return false;
    el->len = l;
    el->end = el->value + l;
    return true;
}

static bool der_expect(const uint8_t *d, size_t pos, size_t limit, uint8_t tag, der_el *el)
{
    return der_read(d, pos, limit, el) && el->tag == tag;
}

static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const uint8_t oid_ski[] = {0x06, 0x03, 0x55, 0x1D, 0x0E};
static const uint8_t oid_aki[] = {0x06, 0x03, 0x55, 0x1D, 0x23};

/* The value of the last commonName in a Name (SEQUENCE OF SET OF
 * SEQUENCE { OID, string }). Example: 30 1F 31 1D 30 1B 06 03 55 04 03 0C
 * 14 "sn0123a1b2c3d4e5f6ee". */
static bool find_cn(const uint8_t *d, const der_el *name, hk_cert_loc *out)
{
    bool found = false;
    for (size_t pos = name->value; pos < name->end;) {
        der_el set, atv, oid, val;
        if (!der_expect(d, pos, name->end, 0x31, &set))
            return false;
        for (size_t p2 = set.value; p2 < set.end;) {
            if (!der_expect(d, p2, set.end, 0x30, &atv) ||
                !der_expect(d, atv.value, atv.end, 0x06, &oid) ||
                !der_read(d, oid.end, atv.end, &val) || val.end != atv.end)
                return false;
            if (oid.end - oid.start == sizeof(oid_cn) &&
                memcmp(d + oid.start, oid_cn, sizeof(oid_cn)) == 0 &&
                (val.tag == 0x0C || val.tag == 0x13 || val.tag == 0x16) && val.len <= 0xFFFF) {
                out->offset = (uint16_t)val.value;
                out->count = (uint16_t)val.len;
                found = true;
            }
            p2 = atv.end;
        }
        pos = set.end;
    }
    return found;
}

/* Extensions: [3] { SEQUENCE OF Extension { OID, [BOOLEAN], OCTET STRING } }.
 * SKI value: 04 14 <20>; AKI value: 30 16 80 14 <20>. */
static bool scan_extensions(const uint8_t *d, const der_el *ctx3, hk_cert_def *def)
{
    der_el seq;
    if (!der_expect(d, ctx3->value, ctx3->end, 0x30, &seq) || seq.end != ctx3->end)
        return false;
    for (size_t pos = seq.value; pos < seq.end;) {
        der_el ext, oid, v;
        if (!der_expect(d, pos, seq.end, 0x30, &ext) ||
            !der_expect(d, ext.value, ext.end, 0x06, &oid) || !der_read(d, oid.end, ext.end, &v))
            return false;
        if (v.tag == 0x01 && !der_read(d, v.end, ext.end, &v))
            return false;
        if (v.tag != 0x04 || v.end != ext.end)
            return false;
        size_t olen = oid.end - oid.start;
        der_el inner, kid;
        if (olen == sizeof(oid_ski) && memcmp(d + oid.start, oid_ski, olen) == 0) {
            if (der_expect(d, v.value, v.end, 0x04, &inner) && inner.len == 20) {
                def->std[HK_CERT_EL_SUBJ_KEY_ID].offset = (uint16_t)inner.value;
                def->std[HK_CERT_EL_SUBJ_KEY_ID].count = 20;
            }
        } else if (olen == sizeof(oid_aki) && memcmp(d + oid.start, oid_aki, olen) == 0) {
            if (der_expect(d, v.value, v.end, 0x30, &inner) &&
                der_expect(d, inner.value, inner.end, 0x80, &kid) && kid.len == 20) {
                def->std[HK_CERT_EL_AUTH_KEY_ID].offset = (uint16_t)kid.value;
                def->std[HK_CERT_EL_AUTH_KEY_ID].count = 20;
            }
        }
        pos = ext.end;
    }
    return true;
}

static bool date_el(const der_el *el, hk_cert_loc *loc, uint8_t *format)
{
    if (el->tag == 0x17 && el->len == 13)
        *format = HK_CERT_DATE_UTC;
    else if (el->tag == 0x18 && el->len == 15)
        *format = HK_CERT_DATE_GENERALIZED;
    else
        return false;
    loc->offset = (uint16_t)el->value;
    loc->count = (uint16_t)el->len;
    return true;
}

static bool is_upper_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static hk_result derive(const uint8_t *der, size_t der_len, const hk_cert_derive_opts *opts,
                        hk_cert_def *out)
{
    if (der_len > HK_CERT_MAX_TEMPLATE)
        return HK_ERR_CERT_PARSE;
    der_el cert, tbs, el, issuer, subject, validity, nb, na, spki, alg, bits, sigalg, sig;
    if (!der_expect(der, 0, der_len, 0x30, &cert) || cert.end != der_len || der[1] != 0x82 ||
        !der_expect(der, cert.value, cert.end, 0x30, &tbs))
        return HK_ERR_CERT_PARSE;
    size_t pos = tbs.value;
    if (!der_read(der, pos, tbs.end, &el))
        return HK_ERR_CERT_PARSE;
    if (el.tag == 0xA0) { /* version */
        pos = el.end;
        if (!der_read(der, pos, tbs.end, &el))
            return HK_ERR_CERT_PARSE;
    }
    if (el.tag != 0x02 || el.len == 0 || el.len > 32)
        return HK_ERR_CERT_PARSE;
    out->std[HK_CERT_EL_CERT_SN].offset = (uint16_t)el.value;
    out->std[HK_CERT_EL_CERT_SN].count = (uint16_t)el.len;
    if (!der_expect(der, el.end, tbs.end, 0x30, &el) || /* signature algorithm */
        !der_expect(der, el.end, tbs.end, 0x30, &issuer) ||
        !der_expect(der, issuer.end, tbs.end, 0x30, &validity) ||
        !der_read(der, validity.value, validity.end, &nb) ||
        !der_read(der, nb.end, validity.end, &na) || na.end != validity.end ||
        !date_el(&nb, &out->std[HK_CERT_EL_ISSUE_DATE], &out->issue_date_format) ||
        !date_el(&na, &out->std[HK_CERT_EL_EXPIRE_DATE], &out->expire_date_format) ||
        !der_expect(der, validity.end, tbs.end, 0x30, &subject) ||
        !der_expect(der, subject.end, tbs.end, 0x30, &spki) ||
        !der_expect(der, spki.value, spki.end, 0x30, &alg) ||
        !der_expect(der, alg.end, spki.end, 0x03, &bits) || bits.end != spki.end)
        return HK_ERR_CERT_PARSE;
    /* BIT STRING 03 42 00 04 X Y: a P-256 point, uncompressed */
    if (bits.len != 66 || der[bits.value] != 0x00 || der[bits.value + 1] != 0x04)
        return HK_ERR_CERT_PARSE;
    out->std[HK_CERT_EL_PUBLIC_KEY].offset = (uint16_t)(bits.value + 2);
    out->std[HK_CERT_EL_PUBLIC_KEY].count = 64;
    for (pos = spki.end; pos < tbs.end; pos = el.end) {
        if (!der_read(der, pos, tbs.end, &el))
            return HK_ERR_CERT_PARSE;
        if (el.tag == 0xA3 && !scan_extensions(der, &el, out))
            return HK_ERR_CERT_PARSE;
    }
    if (!der_expect(der, tbs.end, cert.end, 0x30, &sigalg) ||
        !der_expect(der, sigalg.end, cert.end, 0x03, &sig) || sig.end != cert.end)
        return HK_ERR_CERT_PARSE;
    out->std[HK_CERT_EL_SIGNATURE].offset = (uint16_t)sig.start;
    out->std[HK_CERT_EL_SIGNATURE].count = (uint16_t)(sig.end - sig.start);
    out->tbs.offset = (uint16_t)tbs.start;
    out->tbs.count = (uint16_t)(tbs.end - tbs.start);

    if (opts->signer_id_where != HK_CERT_SIGNER_ID_NONE) {
        hk_cert_loc cn;
        const der_el *name = opts->signer_id_where == HK_CERT_SIGNER_ID_ISSUER_CN ? &issuer
                                                                                  : &subject;
        if (opts->signer_id_where > HK_CERT_SIGNER_ID_SUBJECT_CN || !find_cn(der, name, &cn) ||
            cn.count < 4)
            return HK_ERR_CERT_TEMPLATE;
        for (size_t i = cn.offset + cn.count - 4u; i < (size_t)cn.offset + cn.count; i++)
            if (!is_upper_hex(der[i]))
                return HK_ERR_CERT_TEMPLATE;
        out->std[HK_CERT_EL_SIGNER_ID].offset = (uint16_t)(cn.offset + cn.count - 4);
        out->std[HK_CERT_EL_SIGNER_ID].count = 4;
    }
    if (opts->device_sn != NULL) {
        hk_cert_loc cn;
        uint8_t hex[18];
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < HK_CERT_DEVICE_SN_SIZE; i++) {
            hex[2 * i] = (uint8_t)digits[opts->device_sn[i] >> 4];
            hex[2 * i + 1] = (uint8_t)digits[opts->device_sn[i] & 0x0F];
        }
        if (!find_cn(der, &subject, &cn) || cn.count < 18 ||
            memcmp(der + cn.offset + cn.count - 18, hex, 18) != 0)
            return HK_ERR_CERT_TEMPLATE;
        out->extra_count = 1;
        out->extras[0].source = HK_CERT_SRC_DEVICE_SN;
        out->extras[0].transform = HK_CERT_TF_HEX_LOWER;
        out->extras[0].src_offset = 0;
        out->extras[0].src_count = HK_CERT_DEVICE_SN_SIZE;
        out->extras[0].cert.offset = (uint16_t)(cn.offset + cn.count - 18);
        out->extras[0].cert.count = 18;
    }
    out->template_der = der;
    out->template_len = der_len;
    out->template_id = opts->template_id;
    out->chain_id = opts->chain_id;
    out->sn_source = opts->sn_source;
    if (opts->fixed_expire_years) {
        uint16_t y, ey;
        uint8_t m, d, h, mi, s;
        if (hk_cert_date_parse(out->issue_date_format,
                               der + out->std[HK_CERT_EL_ISSUE_DATE].offset, &y, &m, &d, &h, &mi,
                               &s) != HK_OK ||
            hk_cert_date_parse(out->expire_date_format,
                               der + out->std[HK_CERT_EL_EXPIRE_DATE].offset, &ey, &m, &d, &h,
                               &mi, &s) != HK_OK ||
            ey <= y || ey - y > 127)
            return HK_ERR_CERT_TEMPLATE;
        out->expire_years = (uint8_t)(ey - y);
    }
    return hk_cert_def_check(out);
}

hk_result hk_cert_def_derive(const uint8_t *der, size_t der_len, const hk_cert_derive_opts *opts,
                             hk_cert_def *out)
{
    HK_REQUIRE(der != NULL && opts != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    hk_result r = derive(der, der_len, opts, out);
    if (r != HK_OK)
        memset(out, 0, sizeof(*out)); /* no half-filled definition escapes */
    return r;
}
