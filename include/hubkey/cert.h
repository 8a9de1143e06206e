/*
 * hubkey — compressed X.509 certificates (the ATECC608A "atcacert" scheme).
 *
 * A chip stores a certificate as 72 bytes (signature, encoded dates, signer
 * ID, template/chain IDs, serial-number source). Together with a
 * certificate definition ("certdef": a template DER certificate plus the
 * offsets of every per-device field) and the subject public key, those 72
 * bytes rebuild the exact DER certificate that was issued.
 *
 * Certificate definitions are data. They travel as a compact binary
 * serialization (docs/certificates.md gives it byte by byte), produced by
 * the factory tool for its CA and embedded in firmware or read from a file.
 *
 * Everything here is device code: no heap, caller buffers, no global state.
 *
 * Ownership and lifetimes:
 *  - hk_cert_def_parse() does not copy: the hk_cert_def it fills points into
 *    the serialized bytes (template and extra elements), which must outlive
 *    the definition.
 *  - hk_cert_def_derive() points the definition at the certificate passed
 *    in (it becomes the template), which must outlive the definition.
 *  - No function keeps a pointer to its arguments after returning, except
 *    the two above as described.
 *
 * Definitions: every function taking a const hk_cert_def * needs one that
 * hk_cert_def_parse() returned or hk_cert_def_check() accepted (hubkey-factory
 * checks the definitions it writes into certdefs.h). Passing any other is a
 * caller bug: HK_ERR_INVALID_ARG while precondition checks are compiled in,
 * and not checked again on a device built without them.
 *
 * Errors: HK_ERR_INVALID_ARG for caller bugs (NULL pointers, unchecked
 * definitions);
 * HK_ERR_CERT_COMPRESSED for malformed 72-byte input;
 * HK_ERR_CERT_TEMPLATE for a malformed or inconsistent definition;
 * HK_ERR_CERT_WRONG_DEF when compressed data or a certificate does not
 * belong to the definition; HK_ERR_CERT_PARSE for a certificate that is not
 * the DER this module understands; HK_ERR_BUFFER_TOO_SMALL when the output
 * does not fit (nothing past cap is ever written).
 */
#ifndef HUBKEY_CERT_H
#define HUBKEY_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_CERT_COMPRESSED_SIZE 72u
#define HK_CERT_PUBLIC_KEY_SIZE 64u /* X || Y, big-endian, no 0x04 prefix */
#define HK_CERT_PADDED_PUBLIC_KEY_SIZE 72u /* 00000000 || X || 00000000 || Y */
#define HK_CERT_DEVICE_SN_SIZE 9u
#define HK_CERT_KEY_ID_SIZE 20u /* SHA-1 */
#define HK_CERT_MAX_EXTRAS 8u
/* Largest template a certdef may carry (and so the largest certificate). */
#define HK_CERT_MAX_TEMPLATE 2048u
/* A rebuilt certificate is at most this many bytes longer than its template. */
#define HK_CERT_MAX_GROWTH 8u

/* ---- the 72-byte compressed certificate -------------------------------- */

/* Serial-number sources (the high nibble of byte 70). */
enum {
    HK_CERT_SN_STORED = 0x0,          /* not supported by this module */
    HK_CERT_SN_STORED_DYNAMIC = 0x7,  /* not supported by this module */
    HK_CERT_SN_DEVICE_SN = 0x8,       /* 0x40 || 9-byte device SN */
    HK_CERT_SN_SIGNER_ID = 0x9,       /* 0x40 || signer ID */
    HK_CERT_SN_PUB_KEY_HASH = 0xA,    /* SHA-256(pubkey || dates), &0x7F |0x40 */
    HK_CERT_SN_DEVICE_SN_HASH = 0xB,  /* SHA-256(device SN || dates), &0x7F |0x40 */
    HK_CERT_SN_PUB_KEY_HASH_POS = 0xC,
    HK_CERT_SN_DEVICE_SN_HASH_POS = 0xD,
    HK_CERT_SN_PUB_KEY_HASH_RAW = 0xE,
    HK_CERT_SN_DEVICE_SN_HASH_RAW = 0xF
};

/* An issue date: whole hours (minutes and seconds are always 0). */
typedef struct hk_cert_date {
    uint16_t year;  /* 2000..2127 */
    uint8_t month;  /* 1..12 */
    uint8_t day;    /* 1..31, valid for the month */
    uint8_t hour;   /* 0..23 */
} hk_cert_date;

typedef struct hk_cert_compressed {
    uint8_t signature[64];  /* R || S, big-endian */
    hk_cert_date issue;
    uint8_t expire_years;   /* 0 = no expiry; 0..127 */
    uint8_t signer_id[2];   /* printed "%02X%02X", byte 0 first */
    uint8_t template_id;    /* 0..15 */
    uint8_t chain_id;       /* 0..15 */
    uint8_t sn_source;      /* 0..15, HK_CERT_SN_* */
    uint8_t format_version; /* 0 or 1 */
} hk_cert_compressed;

/* Decode 72 bytes (len must be exactly 72, else HK_ERR_CERT_COMPRESSED).
 * Refuses format versions other than 0 and 1 (2 is for P-384/P-521),
 * non-zero reserved bits and impossible dates (month 0, hour 24, day 31 in
 * April...). */
HK_NODISCARD hk_result hk_cert_compressed_decode(const uint8_t *in, size_t len,
                                                 hk_cert_compressed *out);

/* Encode into out[72]. The format version written is in->format_version,
 * raised to 1 when the issue year is after 2031 or expire_years is above 31
 * (what a version-0 record cannot hold). HK_ERR_INVALID_ARG for values out
 * of the ranges above. */
HK_NODISCARD hk_result hk_cert_compressed_encode(const hk_cert_compressed *in,
                                                 uint8_t out[HK_CERT_COMPRESSED_SIZE]);

/* ---- certificate definitions ------------------------------------------- */

/* Standard elements, in the order they are serialized. */
enum {
    HK_CERT_EL_PUBLIC_KEY = 0, /* 64 bytes: X || Y after the 0x04 */
    HK_CERT_EL_SIGNATURE,      /* the signatureValue BIT STRING to the end */
    HK_CERT_EL_ISSUE_DATE,     /* 13 (UTCTime) or 15 (GeneralizedTime) */
    HK_CERT_EL_EXPIRE_DATE,
    HK_CERT_EL_SIGNER_ID,      /* 4 upper-case hex characters, or absent */
    HK_CERT_EL_CERT_SN,        /* serialNumber INTEGER value bytes */
    HK_CERT_EL_AUTH_KEY_ID,    /* 20 bytes, or absent */
    HK_CERT_EL_SUBJ_KEY_ID,    /* 20 bytes, or absent */
    HK_CERT_EL_COUNT
};

/* Date formats (the values cryptoauthlib uses for the same formats). */
enum { HK_CERT_DATE_UTC = 1, HK_CERT_DATE_GENERALIZED = 4 };

/* Sources of extra elements. */
enum { HK_CERT_SRC_DEVICE_SN = 1 /* the 9-byte device serial number */ };

/* Transforms applied to an extra element's bytes. */
enum {
    HK_CERT_TF_NONE = 0,
    HK_CERT_TF_HEX_UPPER = 1, /* each byte -> 2 upper-case hex characters */
    HK_CERT_TF_HEX_LOWER = 2  /* each byte -> 2 lower-case hex characters */
};

/* A range of the template. count 0 = the element is absent. */
typedef struct hk_cert_loc {
    uint16_t offset;
    uint16_t count;
} hk_cert_loc;

/* An extra element: bytes [src_offset, src_offset+src_count) of a source,
 * transformed, written at cert (for example the subject CN "sn" + 18 hex
 * characters of the device serial number). */
typedef struct hk_cert_extra {
    uint8_t source;    /* HK_CERT_SRC_* */
    uint8_t transform; /* HK_CERT_TF_* */
    uint8_t src_offset;
    uint8_t src_count;
    hk_cert_loc cert;
} hk_cert_extra;

typedef struct hk_cert_def {
    const uint8_t *template_der; /* not owned; see the top of this file */
    size_t template_len;
    uint8_t template_id;        /* 0..15 */
    uint8_t chain_id;           /* 0..15 */
    uint8_t sn_source;          /* HK_CERT_SN_*, not STORED/STORED_DYNAMIC */
    uint8_t expire_years;       /* 0 = taken from each compressed certificate */
    uint8_t issue_date_format;  /* HK_CERT_DATE_* */
    uint8_t expire_date_format; /* HK_CERT_DATE_* */
    hk_cert_loc tbs;            /* the tbsCertificate SEQUENCE, header included */
    hk_cert_loc std[HK_CERT_EL_COUNT];
    uint8_t extra_count;
    hk_cert_extra extras[HK_CERT_MAX_EXTRAS];
} hk_cert_def;

/* Parse a serialized certdef. Every offset is checked against the template
 * (see docs/certificates.md for the rules); any inconsistency gives
 * HK_ERR_CERT_TEMPLATE. out points into buf afterwards. */
HK_NODISCARD hk_result hk_cert_def_parse(const uint8_t *buf, size_t len, hk_cert_def *out);

/* Check a definition built in code (the same rules as the parser). */
HK_NODISCARD hk_result hk_cert_def_check(const hk_cert_def *def);

/* Serialize. Writes the size in *out_len; with out == NULL (cap 0) only the
 * size is reported. HK_ERR_BUFFER_TOO_SMALL (out_len = size needed) when
 * cap is too small. */
HK_NODISCARD hk_result hk_cert_def_serialize(const hk_cert_def *def, uint8_t *out, size_t cap,
                                             size_t *out_len);

/* How to find the per-device fields when deriving a definition from an
 * issued certificate. */
typedef struct hk_cert_derive_opts {
    uint8_t template_id;
    uint8_t chain_id;
    uint8_t sn_source;      /* the serial number in cert must come from it */
    /* Where the 4 hex characters of the signer ID sit: 0 = absent,
     * 1 = last 4 characters of the issuer CN (device certificates),
     * 2 = last 4 characters of the subject CN (signer certificates). */
    uint8_t signer_id_where;
    /* When not NULL: the subject CN ends with these 9 bytes as 18 lower-case
     * hex characters; an extra element (DEVICE_SN, bin->hex lower) is added
     * for them. */
    const uint8_t *device_sn;
    bool fixed_expire_years; /* true: store the certificate's expire years in
                                the definition; false: 0 (per certificate) */
} hk_cert_derive_opts;

enum { HK_CERT_SIGNER_ID_NONE = 0, HK_CERT_SIGNER_ID_ISSUER_CN = 1,
       HK_CERT_SIGNER_ID_SUBJECT_CN = 2 };

/* Build a definition from an issued P-256 certificate: the certificate
 * itself becomes the template and the offsets of its fields are found by
 * walking the DER (serial number, validity, issuer/subject CN, public key,
 * subject and authority key identifier extensions, signature).
 * HK_ERR_CERT_PARSE for a certificate that cannot be walked;
 * HK_ERR_CERT_TEMPLATE when a requested field is missing (for example no
 * CN ending in the device serial). The result passes hk_cert_def_check(). */
HK_NODISCARD hk_result hk_cert_def_derive(const uint8_t *der, size_t der_len,
                                          const hk_cert_derive_opts *opts, hk_cert_def *out);

/* ---- rebuild and compress ---------------------------------------------- */

/* Inputs of a rebuild besides the definition and the 72 bytes. */
typedef struct hk_cert_inputs {
    const uint8_t *public_key;    /* subject X || Y (64 bytes); required */
    const uint8_t *device_sn;     /* 9 bytes; required when the definition
                                     has DEVICE_SN extras or an SN source that
                                     uses it, else may be NULL */
    const uint8_t *ca_public_key; /* issuer X || Y (64 bytes) for the
                                     AuthorityKeyID; NULL keeps the template's
                                     bytes */
} hk_cert_inputs;

/* Rebuild the DER certificate into out (algorithm in docs/certificates.md).
 * HK_ERR_CERT_WRONG_DEF when the compressed template ID, chain ID or SN
 * source differ from the definition's; HK_ERR_CERT_COMPRESSED for dates the
 * template's date format cannot hold; HK_ERR_BUFFER_TOO_SMALL with *out_len
 * = the size needed when cap is too small (out untouched past cap).
 * Needs about 0.3 KiB of stack. */
HK_NODISCARD hk_result hk_cert_rebuild(const hk_cert_def *def,
                                       const uint8_t compressed[HK_CERT_COMPRESSED_SIZE],
                                       const hk_cert_inputs *in, uint8_t *out, size_t cap,
                                       size_t *out_len);

/* The reverse, for the factory: compress an issued certificate that
 * follows def, and check that rebuilding gives the same bytes. scratch (at
 * least der_len + HK_CERT_MAX_GROWTH bytes) holds the rebuilt copy.
 * in->public_key may be NULL: the key is then taken from the certificate.
 * HK_ERR_CERT_WRONG_DEF when the certificate cannot be reproduced from the
 * 72 bytes (dates with minutes or seconds, a serial number not from the SN
 * source, fields that differ from the template, ...). */
HK_NODISCARD hk_result hk_cert_compress(const hk_cert_def *def, const uint8_t *der, size_t der_len,
                                        const hk_cert_inputs *in, uint8_t *scratch,
                                        size_t scratch_cap, uint8_t out[HK_CERT_COMPRESSED_SIZE]);

/* The subject public key of a certificate that follows def (64 bytes from
 * the PUBLIC_KEY element). */
HK_NODISCARD hk_result hk_cert_public_key(const hk_cert_def *def, const uint8_t *der,
                                          size_t der_len, uint8_t out[HK_CERT_PUBLIC_KEY_SIZE]);

/* The serial number the SN source gives for (public key, device SN,
 * compressed bytes): n bytes (1..32; 10 for DEVICE_SN, 3 for SIGNER_ID). */
HK_NODISCARD hk_result hk_cert_sn_generate(uint8_t sn_source,
                                           const uint8_t compressed[HK_CERT_COMPRESSED_SIZE],
                                           const uint8_t *public_key, const uint8_t *device_sn,
                                           uint8_t *out, size_t n);

/* SHA-1(0x04 || X || Y): the key identifier of a public key. */
HK_NODISCARD hk_result hk_cert_key_id(const uint8_t public_key[HK_CERT_PUBLIC_KEY_SIZE],
                                      uint8_t out[HK_CERT_KEY_ID_SIZE]);

/* Unpad a 72-byte stored public key (00000000 || X || 00000000 || Y) into
 * X || Y. HK_ERR_CERT_COMPRESSED when the pad bytes are not zero (out may
 * then hold the bytes before the first bad pad byte). */
HK_NODISCARD hk_result
hk_cert_public_key_unpad(const uint8_t padded[HK_CERT_PADDED_PUBLIC_KEY_SIZE],
                         uint8_t out[HK_CERT_PUBLIC_KEY_SIZE]);

/* HK_OK when X || Y is a point of P-256 (on the curve, coordinates below
 * the field prime); HK_ERR_CERT_COMPRESSED when it is not;
 * HK_ERR_CRYPTO when mbedTLS could not check (no memory for the group). */
HK_NODISCARD hk_result hk_cert_public_key_check(const uint8_t key[HK_CERT_PUBLIC_KEY_SIZE]);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_CERT_H */
