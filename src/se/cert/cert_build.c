/*
 * Rebuilding a DER certificate from its definition and the 72 compressed
 * bytes, and the reverse for the factory.
 *
 * The rebuild follows the atcacert algorithm (docs/certificates.md):
 * template, then public key and key IDs, dates, signer ID, extra elements,
 * serial number, and last the signature, whose DER length varies (each
 * INTEGER is 32 or 33 bytes, or shorter with leading zeros), which is why
 * it must be the last element of the template and why the outer SEQUENCE
 * length is fixed afterwards. The definition was checked when it was
 * parsed, or by hk_cert_def_check() for one built in code (hubkey-factory's
 * certdefs.h), so checking it again is a precondition: the test build
 * catches an unchecked definition, a device does not pay for the check on
 * every rebuild and links no definition checker when its definitions are
 * compiled in.
 *
 * Compression does not try to be clever: it extracts the fields, encodes
 * the 72 bytes and rebuilds, and only a byte-identical rebuild counts.
 */
#include <string.h>

#include "common/hk_common.h"
#include "se/cert/cert_internal.h"

/* Each byte as two hex digits, upper case; lower case with case 0x20 (the
 * bit that lowers a letter and that every digit already has). */
static void to_hex(const uint8_t *in, size_t n, uint8_t lower, uint8_t *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < 2 * n; i++)
        out[i] = (uint8_t)(digits[(in[i / 2] >> (i & 1u ? 0 : 4)) & 0x0Fu] | lower);
}

/* The DER signatureValue of R || S, at most 75 bytes; returns its length.
 * Builder: 03 L 00 30 L 02 rl R' 02 sl S', each INTEGER without its
 * leading zero bytes (one kept) and with 0x00 added when the top bit is
 * set. */
static size_t sig_der_write(const uint8_t rs[64], uint8_t *out)
{
    uint8_t *p = out + 5;
    for (int k = 0; k < 2; k++) {
        const uint8_t *v = rs + 32 * k;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0)
            skip++;
        size_t l = 32 - skip;
        size_t pad = v[skip] >> 7;
        *p++ = 0x02;
        *p++ = (uint8_t)(l + pad);
        *p = 0x00;
        p += pad;
        memcpy(p, v + skip, l);
        p += l;
    }
    size_t seq = (size_t)(p - out) - 5;
    out[0] = 0x03;
    out[1] = (uint8_t)(seq + 3);
    out[2] = 0x00;
    out[3] = 0x30;
    out[4] = (uint8_t)seq;
    return seq + 5;
}

/* Parse "03 L 00 30 L 02 rl R 02 sl S" exactly filling len bytes, with
 * minimal INTEGER encodings of non-negative values of at most 32 bytes.
 * Example: 03 47 00 30 44 02 21 00 80 .. 02 1F 7F .. */
static hk_result sig_der_parse(const uint8_t *p, size_t len, uint8_t rs[64])
{
    if (len < 5 || p[0] != 0x03 || p[1] != len - 2 || p[2] != 0x00 || p[3] != 0x30 ||
        p[4] != len - 5)
        return HK_ERR_CERT_WRONG_DEF;
    size_t pos = 5;
    memset(rs, 0, 64);
    for (int k = 0; k < 2; k++) {
        if (pos + 2 > len || p[pos] != 0x02)
            return HK_ERR_CERT_WRONG_DEF;
        size_t l = p[pos + 1];
        pos += 2;
        if (l == 0 || l > 33 || l > len - pos)
            return HK_ERR_CERT_WRONG_DEF;
        const uint8_t *v = p + pos;
        if (l > 1 && v[0] == 0 && !(v[1] & 0x80))
            return HK_ERR_CERT_WRONG_DEF; /* not minimal */
        if (v[0] & 0x80)
            return HK_ERR_CERT_WRONG_DEF; /* negative */
        if (l == 33 && v[0] != 0)
            return HK_ERR_CERT_WRONG_DEF; /* more than 256 bits */
        if (l == 33) {
            v++;
            l--;
        }
        memcpy(rs + 32 * k + (32 - l), v, l);
        pos += p[pos - 1];
    }
    return pos == len ? HK_OK : HK_ERR_CERT_WRONG_DEF;
}

/* The hashed sources that start from the device SN: 0xB, 0xD, 0xF (the
 * public-key ones are 0xA, 0xC, 0xE). */
static bool sn_uses_device_sn(uint8_t src)
{
    return src == HK_CERT_SN_DEVICE_SN || (src >= HK_CERT_SN_PUB_KEY_HASH && (src & 1u) != 0);
}

hk_result hk_cert_sn_generate(uint8_t sn_source, const uint8_t compressed[HK_CERT_COMPRESSED_SIZE],
                              const uint8_t *public_key, const uint8_t *device_sn, uint8_t *out,
                              size_t n)
{
    HK_REQUIRE(compressed != NULL && out != NULL);
    if (sn_source == HK_CERT_SN_DEVICE_SN || sn_source == HK_CERT_SN_SIGNER_ID) {
        /* 0x40 || device SN (9 bytes) or signer ID (compressed bytes 67, 68) */
        bool dsn = sn_source == HK_CERT_SN_DEVICE_SN;
        HK_REQUIRE(dsn ? device_sn != NULL && n == 10 : n == 3);
        out[0] = 0x40;
        memcpy(out + 1, dsn ? device_sn : compressed + 67, n - 1);
        return HK_OK;
    }
    if (sn_source < HK_CERT_SN_PUB_KEY_HASH || sn_source > HK_CERT_SN_DEVICE_SN_HASH_RAW)
        return HK_ERR_CERT_TEMPLATE;
    HK_REQUIRE(n >= 1 && n <= 32);
    /* Hashed: key or device SN || encoded dates (64..66) [|| byte71 & F0] */
    uint8_t msg[HK_CERT_PUBLIC_KEY_SIZE + 3 + 1];
    size_t len = HK_CERT_PUBLIC_KEY_SIZE;
    const uint8_t *first = public_key;
    if (sn_uses_device_sn(sn_source)) {
        first = device_sn;
        len = HK_CERT_DEVICE_SN_SIZE;
    }
    HK_REQUIRE(first != NULL);
    memcpy(msg, first, len);
    memcpy(msg + len, compressed + 64, 3);
    len += 3;
    if ((compressed[70] & 0x0F) >= 1)
        msg[len++] = compressed[71] & 0xF0;
    uint8_t digest[32];
    HK_TRY(hk_cert_sha256(msg, len, digest));
    memcpy(out, digest, n);
    /* HASH (0xA, 0xB): positive with bit 6 set; HASH_POS (0xC, 0xD):
     * positive; HASH_RAW (0xE, 0xF): as hashed. */
    if (sn_source <= HK_CERT_SN_DEVICE_SN_HASH_POS) {
        out[0] &= 0x7F;
        if (sn_source <= HK_CERT_SN_DEVICE_SN_HASH)
            out[0] |= 0x40;
    }
    return HK_OK;
}

#if HK_CHECK_PRECONDITIONS
/* Only preconditions use it. */
static bool def_needs_device_sn(const hk_cert_def *def)
{
    return sn_uses_device_sn(def->sn_source) || def->extra_count > 0;
}
#endif

/* Write the issue and expire dates of c into cert. */
static hk_result write_dates(const hk_cert_def *def, const hk_cert_compressed *c, uint8_t *cert)
{
    const hk_cert_date *t = &c->issue;
    uint16_t v[6] = {t->year, t->month, t->day, t->hour, 0, 0};
    HK_TRY(hk_cert_date_format(def->issue_date_format, v,
                               cert + def->std[HK_CERT_EL_ISSUE_DATE].offset));
    if (c->expire_years == 0) {
        /* no expiry: the largest date of the format */
        static const uint16_t never[6] = {9999, 12, 31, 23, 59, 59};
        memcpy(v, never, sizeof v);
        if (def->expire_date_format == HK_CERT_DATE_UTC)
            v[0] = 2049;
    } else {
        v[0] = (uint16_t)(v[0] + c->expire_years);
    }
    return hk_cert_date_format(def->expire_date_format, v,
                               cert + def->std[HK_CERT_EL_EXPIRE_DATE].offset);
}

hk_result hk_cert_rebuild(const hk_cert_def *def, const uint8_t compressed[HK_CERT_COMPRESSED_SIZE],
                          const hk_cert_inputs *in, uint8_t *out, size_t cap, size_t *out_len)
{
    HK_REQUIRE(def != NULL && compressed != NULL && in != NULL && out_len != NULL);
    HK_REQUIRE(out != NULL || cap == 0);
    HK_REQUIRE(in->public_key != NULL);
    *out_len = 0;
    HK_REQUIRE(hk_cert_def_check(def) == HK_OK);
    HK_REQUIRE(in->device_sn != NULL || !def_needs_device_sn(def));
    hk_cert_compressed c;
    HK_TRY(hk_cert_compressed_decode(compressed, HK_CERT_COMPRESSED_SIZE, &c));
    if (c.template_id != def->template_id || c.chain_id != def->chain_id ||
        c.sn_source != def->sn_source)
        return HK_ERR_CERT_WRONG_DEF;

    size_t sig_off = def->std[HK_CERT_EL_SIGNATURE].offset;
    uint8_t sig[75];
    size_t sig_len = sig_der_write(c.signature, sig);
    size_t need = sig_off + sig_len;
    size_t content = need - 4;
    if (content < 256 || content > 0xFFFF)
        return HK_ERR_CERT_TEMPLATE; /* the 0x82 length form would not be DER */
    *out_len = need;
    if (cap < need)
        return HK_ERR_BUFFER_TOO_SMALL;

    /* Everything below writes only inside [0, need). */
    memcpy(out, def->template_der, sig_off);
    out[2] = (uint8_t)(content >> 8);
    out[3] = (uint8_t)content;
    memcpy(out + sig_off, sig, sig_len);

    hk_cert_loc pk = def->std[HK_CERT_EL_PUBLIC_KEY];
    memcpy(out + pk.offset, in->public_key, HK_CERT_PUBLIC_KEY_SIZE);
    /* hk_cert_key_id only refuses NULL pointers, and these are not. */
    hk_cert_loc ski = def->std[HK_CERT_EL_SUBJ_KEY_ID];
    if (ski.count == HK_CERT_KEY_ID_SIZE)
        hk_result_ignore(hk_cert_key_id(in->public_key, out + ski.offset));
    hk_cert_loc aki = def->std[HK_CERT_EL_AUTH_KEY_ID];
    if (aki.count == HK_CERT_KEY_ID_SIZE && in->ca_public_key != NULL)
        hk_result_ignore(hk_cert_key_id(in->ca_public_key, out + aki.offset));

    hk_result r = write_dates(def, &c, out);
    if (r != HK_OK) {
        *out_len = 0;
        return r;
    }
    hk_cert_loc sid = def->std[HK_CERT_EL_SIGNER_ID];
    if (sid.count == 4)
        to_hex(c.signer_id, 2, 0, out + sid.offset);

    for (unsigned i = 0; i < def->extra_count; i++) {
        const hk_cert_extra *x = &def->extras[i];
        const uint8_t *src = in->device_sn + x->src_offset;
        uint8_t *dst = out + x->cert.offset;
        if (x->transform == HK_CERT_TF_NONE)
            memcpy(dst, src, x->src_count);
        else
            to_hex(src, x->src_count, x->transform == HK_CERT_TF_HEX_LOWER ? 0x20 : 0, dst);
    }

    hk_cert_loc sn = def->std[HK_CERT_EL_CERT_SN];
    HK_TRY(hk_cert_sn_generate(def->sn_source, compressed, in->public_key, in->device_sn,
                               out + sn.offset, sn.count));
    return HK_OK;
}

hk_result hk_cert_public_key(const hk_cert_def *def, const uint8_t *der, size_t der_len,
                             uint8_t out[HK_CERT_PUBLIC_KEY_SIZE])
{
    HK_REQUIRE(def != NULL && der != NULL && out != NULL);
    HK_REQUIRE(hk_cert_def_check(def) == HK_OK);
    hk_cert_loc pk = def->std[HK_CERT_EL_PUBLIC_KEY];
    if (der_len < def->std[HK_CERT_EL_SIGNATURE].offset)
        return HK_ERR_CERT_WRONG_DEF;
    memcpy(out, der + pk.offset, HK_CERT_PUBLIC_KEY_SIZE);
    return HK_OK;
}

static int hex_val(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The date fields of an issued certificate as the 72 bytes can carry them:
 * whole hours, expiry a whole number of years later or "never". */
static hk_result compress_dates(const hk_cert_def *def, const uint8_t *der, hk_cert_compressed *c)
{
    uint16_t y, ey;
    uint8_t mo, d, h, mi, s, emo, ed, eh, emi, es;
    if (hk_cert_date_parse(def->issue_date_format, der + def->std[HK_CERT_EL_ISSUE_DATE].offset,
                           &y, &mo, &d, &h, &mi, &s) != HK_OK ||
        hk_cert_date_parse(def->expire_date_format, der + def->std[HK_CERT_EL_EXPIRE_DATE].offset,
                           &ey, &emo, &ed, &eh, &emi, &es) != HK_OK)
        return HK_ERR_CERT_WRONG_DEF;
    if (mi != 0 || s != 0 || y < 2000 || y > 2127)
        return HK_ERR_CERT_WRONG_DEF;
    c->issue.year = y;
    c->issue.month = mo;
    c->issue.day = d;
    c->issue.hour = h;
    uint16_t max_y = def->expire_date_format == HK_CERT_DATE_UTC ? 2049 : 9999;
    if (ey == max_y && emo == 12 && ed == 31 && eh == 23 && emi == 59 && es == 59) {
        c->expire_years = 0;
    } else {
        if (ey <= y || ey - y > 127 || emo != mo || ed != d || eh != h || emi != 0 || es != 0)
            return HK_ERR_CERT_WRONG_DEF;
        c->expire_years = (uint8_t)(ey - y);
    }
    if (def->expire_years != 0 && c->expire_years != def->expire_years)
        return HK_ERR_CERT_WRONG_DEF;
    return HK_OK;
}

hk_result hk_cert_compress(const hk_cert_def *def, const uint8_t *der, size_t der_len,
                           const hk_cert_inputs *in, uint8_t *scratch, size_t scratch_cap,
                           uint8_t out[HK_CERT_COMPRESSED_SIZE])
{
    HK_REQUIRE(def != NULL && der != NULL && in != NULL && scratch != NULL && out != NULL);
    HK_REQUIRE(hk_cert_def_check(def) == HK_OK);
    HK_REQUIRE(in->device_sn != NULL || !def_needs_device_sn(def));
    size_t sig_off = def->std[HK_CERT_EL_SIGNATURE].offset;
    if (der_len <= sig_off || der_len > sig_off + 75u)
        return HK_ERR_CERT_WRONG_DEF;
    HK_REQUIRE(scratch_cap >= der_len);

    hk_cert_compressed c;
    memset(&c, 0, sizeof(c));
    HK_TRY(sig_der_parse(der + sig_off, der_len - sig_off, c.signature));
    HK_TRY(compress_dates(def, der, &c));
    hk_cert_loc sid = def->std[HK_CERT_EL_SIGNER_ID];
    if (sid.count == 4) {
        int v[4];
        for (int i = 0; i < 4; i++) {
            v[i] = hex_val(der[sid.offset + i]);
            if (v[i] < 0)
                return HK_ERR_CERT_WRONG_DEF;
        }
        c.signer_id[0] = (uint8_t)(v[0] << 4 | v[1]);
        c.signer_id[1] = (uint8_t)(v[2] << 4 | v[3]);
    }
    c.template_id = def->template_id;
    c.chain_id = def->chain_id;
    c.sn_source = def->sn_source;
    c.format_version = 0;
    HK_TRY(hk_cert_compressed_encode(&c, out));

    uint8_t key[HK_CERT_PUBLIC_KEY_SIZE];
    hk_cert_inputs inputs = *in;
    if (inputs.public_key == NULL) {
        memcpy(key, der + def->std[HK_CERT_EL_PUBLIC_KEY].offset, sizeof(key));
        inputs.public_key = key;
    }
    size_t got = 0;
    hk_result r = hk_cert_rebuild(def, out, &inputs, scratch, scratch_cap, &got);
    if (r == HK_ERR_BUFFER_TOO_SMALL || (r == HK_OK && (got != der_len ||
                                                        memcmp(scratch, der, der_len) != 0)))
        r = HK_ERR_CERT_WRONG_DEF;
    if (r != HK_OK)
        memset(out, 0, HK_CERT_COMPRESSED_SIZE);
    return r;
}

hk_result hk_cert_public_key_unpad(const uint8_t padded[HK_CERT_PADDED_PUBLIC_KEY_SIZE],
                                   uint8_t out[HK_CERT_PUBLIC_KEY_SIZE])
{
    HK_REQUIRE(padded != NULL && out != NULL);
    /* Two halves of 36 bytes: four zero bytes, then 32 key bytes. */
    for (unsigned i = 0; i < HK_CERT_PADDED_PUBLIC_KEY_SIZE; i++) {
        if (i % 36 >= 4)
            *out++ = padded[i];
        else if (padded[i] != 0)
            return HK_ERR_CERT_COMPRESSED;
    }
    return HK_OK;
}
