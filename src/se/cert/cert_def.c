/*
 * Certificate definitions ("certdef"): checking and the binary form.
 *
 * The serialized form (docs/certificates.md) is read from files and
 * firmware images, so the parser treats it as hostile: every offset is
 * checked against the template, every count against what its element
 * needs, and the rebuild can then write without further bounds checks.
 */
#include <stddef.h>
#include <string.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

#define DEF_MAGIC "HKCD"
#define DEF_VERSION 1u
#define DEF_HEADER 50u
#define DEF_EXTRA_SIZE 8u

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put_be16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static bool loc_inside(hk_cert_loc loc, size_t start, size_t end)
{
    return loc.offset >= start && loc.offset <= end && loc.count <= end - loc.offset;
}

/* Whether count bytes are the serial number a source gives; false for a
 * source this module does not support (stored serial numbers live outside
 * the 72 bytes). */
static bool sn_count_ok(uint8_t sn_source, size_t count)
{
    if (sn_source == HK_CERT_SN_DEVICE_SN)
        return count == 10;
    if (sn_source == HK_CERT_SN_SIGNER_ID)
        return count == 3;
    return sn_source >= HK_CERT_SN_PUB_KEY_HASH && sn_source <= HK_CERT_SN_DEVICE_SN_HASH_RAW &&
           count >= 1 && count <= 32;
}

/* Length of the DER SEQUENCE header + content at p (room bytes available),
 * or 0 when it is not a SEQUENCE with a definite length that fits. Needs 4
 * bytes of room even for a short form: a TBS shorter than that cannot hold
 * the 64-byte public key, so the definition is refused either way. */
static size_t der_seq_total(const uint8_t *p, size_t room)
{
    if (room < 4 || p[0] != 0x30)
        return 0;
    size_t hdr = 2, len = p[1];
    if (len == 0x81) {
        hdr = 3;
        len = p[2];
    } else if (len == 0x82) {
        hdr = 4;
        len = (size_t)p[2] << 8 | p[3];
    } else if (len >= 0x80) {
        return 0;
    }
    return len <= room - hdr ? hdr + len : 0;
}

hk_result hk_cert_def_check(const hk_cert_def *def)
{
    HK_REQUIRE(def != NULL);
    const uint8_t *t = def->template_der;
    size_t n = def->template_len;
    size_t issue_len = hk_cert_date_text_len(def->issue_date_format);
    size_t expire_len = hk_cert_date_text_len(def->expire_date_format);
    /* The outer SEQUENCE uses the 2-byte long form so its length can be
     * fixed in place after the signature is written. */
    if (t == NULL || n < 64 || n > HK_CERT_MAX_TEMPLATE || t[0] != 0x30 || t[1] != 0x82 ||
        (def->template_id | def->chain_id) > 15 || def->expire_years > 127 || issue_len == 0 ||
        expire_len == 0)
        return HK_ERR_CERT_TEMPLATE;

    /* The signature ends the template (so it lies inside it), the TBS
     * SEQUENCE starts at 4 and ends where its DER length says, before the
     * signature. */
    hk_cert_loc sig = def->std[HK_CERT_EL_SIGNATURE];
    hk_cert_loc tbs = def->tbs;
    if (sig.count < 8 || sig.count > 75 || sig.offset + sig.count != n || t[sig.offset] != 0x03 ||
        tbs.offset != 4 || sig.offset < 4 || der_seq_total(t + 4, sig.offset - 4u) != tbs.count)
        return HK_ERR_CERT_TEMPLATE;
    size_t tbs_end = 4u + tbs.count;

    /* Sizes of the elements inside the TBS; 4 and 20 (signer ID, key IDs)
     * may also be absent, with count 0. The signature was checked above,
     * the serial number depends on its source. */
    static const uint8_t fixed[HK_CERT_EL_COUNT] = {64, 0, 0, 0, 4, 0, 20, 20};
    for (unsigned i = 0; i < HK_CERT_EL_COUNT; i++) {
        hk_cert_loc loc = def->std[i];
        size_t want = fixed[i];
        if (i == HK_CERT_EL_SIGNATURE || (loc.count == 0 && (want == 4 || want == 20)))
            continue; /* absent optional element: its offset means nothing */
        if (i == HK_CERT_EL_ISSUE_DATE)
            want = issue_len;
        if (i == HK_CERT_EL_EXPIRE_DATE)
            want = expire_len;
        if (!loc_inside(loc, 4, tbs_end) ||
            (i == HK_CERT_EL_CERT_SN ? !sn_count_ok(def->sn_source, loc.count)
                                     : loc.count != want))
            return HK_ERR_CERT_TEMPLATE;
    }

    if (def->extra_count > HK_CERT_MAX_EXTRAS)
        return HK_ERR_CERT_TEMPLATE;
    for (unsigned i = 0; i < def->extra_count; i++) {
        const hk_cert_extra *x = &def->extras[i];
        /* NONE copies the bytes, HEX_UPPER and HEX_LOWER double them. */
        if (x->source != HK_CERT_SRC_DEVICE_SN || x->src_count == 0 ||
            x->src_offset + x->src_count > HK_CERT_DEVICE_SN_SIZE ||
            x->transform > HK_CERT_TF_HEX_LOWER ||
            x->cert.count != (unsigned)x->src_count << (x->transform != HK_CERT_TF_NONE) ||
            !loc_inside(x->cert, 4, tbs_end))
            return HK_ERR_CERT_TEMPLATE;
    }
    return HK_OK;
}

static void get_loc(hk_cert_loc *loc, const uint8_t *p)
{
    loc->offset = get_be16(p);
    loc->count = get_be16(p + 2);
}

/* The header's six one-byte fields land in hk_cert_def's six consecutive
 * bytes from template_id on. */
_Static_assert(offsetof(hk_cert_def, expire_date_format) ==
                   offsetof(hk_cert_def, template_id) + 5,
               "template_id .. expire_date_format are consecutive bytes");
/* An extra element's first four bytes are its four one-byte fields. */
_Static_assert(offsetof(hk_cert_extra, source) == 0 && offsetof(hk_cert_extra, transform) == 1 &&
                   offsetof(hk_cert_extra, src_offset) == 2 &&
                   offsetof(hk_cert_extra, src_count) == 3,
               "source .. src_count are the first four bytes");

/* Accepts "HKCD" 01 tpl chain sn exp fmt_i fmt_e n_extra | len16 | tbs |
 * 8 x (off16 cnt16) | n_extra x 8 | template. Example head of a device
 * definition (template ID 3, SN from the key hash, UTCTime dates, one
 * extra element, 455-byte template, TBS at 4 for 362 bytes):
 *   48 4B 43 44 01 03 00 0A 00 01 01 01 01 C7 00 04 01 6A ... */
hk_result hk_cert_def_parse(const uint8_t *buf, size_t len, hk_cert_def *out)
{
    HK_REQUIRE(buf != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (len < DEF_HEADER || memcmp(buf, DEF_MAGIC "\x01", 5) != 0)
        return HK_ERR_CERT_TEMPLATE;
    size_t n_extra = buf[11];
    size_t tlen = get_be16(buf + 12);
    if (n_extra > HK_CERT_MAX_EXTRAS || len != DEF_HEADER + n_extra * DEF_EXTRA_SIZE + tlen)
        return HK_ERR_CERT_TEMPLATE;
    memcpy((uint8_t *)out + offsetof(hk_cert_def, template_id), buf + 5, 6);
    out->extra_count = (uint8_t)n_extra;
    out->template_len = tlen;
    for (unsigned i = 0; i <= HK_CERT_EL_COUNT; i++)
        get_loc(i == 0 ? &out->tbs : &out->std[i - 1], buf + 14 + 4 * i);
    const uint8_t *x = buf + DEF_HEADER;
    for (size_t i = 0; i < n_extra; i++, x += DEF_EXTRA_SIZE) {
        hk_cert_extra *e = &out->extras[i];
        memcpy(e, x, 4); /* source, transform, src_offset, src_count */
        get_loc(&e->cert, x + 4);
    }
    out->template_der = x;
    hk_result r = hk_cert_def_check(out);
    if (r != HK_OK)
        memset(out, 0, sizeof(*out));
    return r;
}

/* Builder: "HKCD" 01 | ids, formats, counts | offsets (BE16) | extras | template */
hk_result hk_cert_def_serialize(const hk_cert_def *def, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    HK_REQUIRE(def != NULL && out_len != NULL && (out != NULL || cap == 0));
    HK_TRY(hk_cert_def_check(def));
    size_t need = DEF_HEADER + (size_t)def->extra_count * DEF_EXTRA_SIZE + def->template_len;
    *out_len = need;
    if (cap < need)
        return out == NULL ? HK_OK : HK_ERR_BUFFER_TOO_SMALL;
    memcpy(out, DEF_MAGIC, 4);
    out[4] = DEF_VERSION;
    out[5] = def->template_id;
    out[6] = def->chain_id;
    out[7] = def->sn_source;
    out[8] = def->expire_years;
    out[9] = def->issue_date_format;
    out[10] = def->expire_date_format;
    out[11] = def->extra_count;
    put_be16(out + 12, def->template_len);
    put_be16(out + 14, def->tbs.offset);
    put_be16(out + 16, def->tbs.count);
    for (unsigned i = 0; i < HK_CERT_EL_COUNT; i++) {
        put_be16(out + 18 + 4 * i, def->std[i].offset);
        put_be16(out + 20 + 4 * i, def->std[i].count);
    }
    uint8_t *x = out + DEF_HEADER;
    for (unsigned i = 0; i < def->extra_count; i++, x += DEF_EXTRA_SIZE) {
        const hk_cert_extra *e = &def->extras[i];
        x[0] = e->source;
        x[1] = e->transform;
        x[2] = e->src_offset;
        x[3] = e->src_count;
        put_be16(x + 4, e->cert.offset);
        put_be16(x + 6, e->cert.count);
    }
    memcpy(x, def->template_der, def->template_len);
    return HK_OK;
}
