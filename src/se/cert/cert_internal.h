/*
 * Private helpers of the certificate module (src/se/cert). Not installed.
 */
#ifndef HK_CERT_INTERNAL_H
#define HK_CERT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hubkey/cert.h"

/* SHA-256 of len bytes at msg. HK_ERR_CRYPTO if the hash library fails. */
HK_NODISCARD hk_result hk_cert_sha256(const uint8_t *msg, size_t len, uint8_t out[32]);

/* Date text of a format: 13 characters for UTCTime, 15 for GeneralizedTime. */
size_t hk_cert_date_text_len(uint8_t format);

/* Format v = {year, month, day, hour, minute, second} (each in its range)
 * as "YYMMDDhhmmssZ" (HK_CERT_DATE_UTC) or "YYYYMMDDhhmmssZ" (any other
 * format: the callers pass a checked definition's, so it is
 * HK_CERT_DATE_GENERALIZED). HK_ERR_CERT_COMPRESSED when the year does not
 * fit the format (UTCTime: 1950..2049). */
HK_NODISCARD hk_result hk_cert_date_format(uint8_t format, const uint16_t v[6], uint8_t *out);

/* Parse the text of a date in the given format. Strict: digits only,
 * valid ranges, trailing 'Z'. */
HK_NODISCARD hk_result hk_cert_date_parse(uint8_t format, const uint8_t *text, uint16_t *year,
                                          uint8_t *month, uint8_t *day, uint8_t *hour,
                                          uint8_t *minute, uint8_t *second);

/* true when (year, month, day) is a real calendar date. */
int hk_cert_date_valid(unsigned year, unsigned month, unsigned day);

#endif /* HK_CERT_INTERNAL_H */
