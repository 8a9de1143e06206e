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

/* The TLV at *pos, which must lie inside [*pos, end): returns its tag
 * and moves *pos to the start of its content, *out_end after it; -1 for
 * malformed DER. */
static int der_head_read(const uint8_t *der, size_t end, size_t *pos, size_t *out_end)
{
    size_t p = *pos;
    if (end - p < 2)
        return -1;
    uint8_t tag = der[p++];
    size_t len = der[p++];
    if ((tag & 0x1Fu) == 0x1Fu)
        return -1;
    if (len & 0x80u) {
        size_t n = len & 0x7Fu;
        if (n == 0 || n > 4 || end - p < n)
            return -1;
        for (len = 0; n > 0; n--)
            len = (len << 8) | der[p++];
    }
    if (len > end - p)
        return -1;
    *pos = p;
    *out_end = p + len;
    return tag;
}

hk_result hk_device_cert_cn_get(const uint8_t *der, size_t len, char *out, size_t cap,
                            size_t *out_len)
{
    HK_REQUIRE(der != NULL || len == 0);
    HK_REQUIRE(out != NULL && cap > 0 && out_len != NULL);
    static const uint8_t cn_oid[] = {0x55, 0x04, 0x03};
    size_t pos = 0, end = len, e = 0;
    size_t cn_start = 0, cn_len = 0;
    bool found = false;

    /* Into Certificate, then tbsCertificate. */
    for (int i = 0; i < 2; i++) {
        if (der_head_read(der, end, &pos, &end) != 0x30)
            return HK_ERR_CERT_PARSE;
    }
    int tag = der_head_read(der, end, &pos, &e);
    pos = e;
    if (tag == 0xA0) { /* [0] version */
        tag = der_head_read(der, end, &pos, &e);
        pos = e;
    }
    if (tag != 0x02) /* serialNumber */
        return HK_ERR_CERT_PARSE;
    /* signature, issuer, validity, subject: four SEQUENCEs; the last one
     * is entered. */
    for (int i = 0; i < 4; i++) {
        pos = e;
        if (der_head_read(der, end, &pos, &e) != 0x30)
            return HK_ERR_CERT_PARSE;
    }
    size_t name_end = e;
    while (pos < name_end) {
        size_t set_end, atv_end, oid_end, val_end;
        if (der_head_read(der, name_end, &pos, &set_end) != 0x31)
            return HK_ERR_CERT_PARSE;
        while (pos < set_end) {
            if (der_head_read(der, set_end, &pos, &atv_end) != 0x30 ||
                der_head_read(der, atv_end, &pos, &oid_end) != 0x06)
                return HK_ERR_CERT_PARSE;
            bool is_cn = oid_end - pos == sizeof cn_oid &&
                         memcmp(der + pos, cn_oid, sizeof cn_oid) == 0;
            pos = oid_end;
            tag = der_head_read(der, atv_end, &pos, &val_end);
            if (tag < 0 || val_end != atv_end)
                return HK_ERR_CERT_PARSE;
            if (is_cn) {
                /* UTF8String, PrintableString, TeletexString, IA5String */
                if (found || !(tag == 0x0C || tag == 0x13 || tag == 0x14 || tag == 0x16))
                    return HK_ERR_CERT_PARSE;
                found = true;
                cn_start = pos;
                cn_len = val_end - pos;
            }
            pos = val_end;
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
