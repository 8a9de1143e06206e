#include "json/json_internal.h"

/* Accepts exactly the well-formed multi-byte sequences of RFC 3629, e.g.
 * C3 A9 (U+00E9), E2 82 AC (U+20AC), F0 9F 98 80 (U+1F600). Rejects C0 80
 * (overlong NUL), ED A0 80 (an encoded surrogate), F4 90 80 80 (above
 * U+10FFFF) and a lone 80. The overlong check works on the decoded value
 * against the smallest code point that needs that many bytes, which covers
 * C0/C1 and E0 80../F0 80.. in one comparison instead of a byte table. */
hk_result hk_json_utf8_next(const char *s, size_t end, size_t *io_pos, uint32_t *out_cp)
{
    static const uint32_t min_for_len[4] = {0, 0x80, 0x800, 0x10000};
    size_t i = *io_pos;
    uint32_t cp = (uint8_t)s[i++];
    unsigned more;

    if (cp < 0xC0)
        return HK_ERR_JSON_UTF8; /* continuation byte without a lead */
    else if (cp < 0xE0)
        more = 1;
    else if (cp < 0xF0)
        more = 2;
    else if (cp < 0xF8)
        more = 3;
    else
        return HK_ERR_JSON_UTF8;

    uint32_t min = min_for_len[more];
    cp &= 0x7Fu >> more;
    for (; more > 0; more--) {
        if (i >= end)
            return HK_ERR_JSON_TRUNCATED;
        uint8_t b = (uint8_t)s[i++];
        if ((b & 0xC0) != 0x80)
            return HK_ERR_JSON_UTF8;
        cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return HK_ERR_JSON_UTF8;
    *io_pos = i;
    *out_cp = cp;
    return HK_OK;
}
