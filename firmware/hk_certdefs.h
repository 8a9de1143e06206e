/*
 * hubkey firmware — the certificate definitions of the CA a firmware serves,
 * compiled in (hubkey-factory's certdefs.h, checked when it was written:
 * docs/certificates.md). firmware/certdefs.c is built against the CA's
 * certdefs.h in an archive of its own (hk_certdefs), so flash reports count
 * these bytes with hubkey's.
 */
#ifndef HUBKEY_FW_CERTDEFS_H
#define HUBKEY_FW_CERTDEFS_H

#include "hubkey/cert.h"

extern const struct hk_cert_def *const hk_certdefs_device;
extern const struct hk_cert_def *const hk_certdefs_signer;

#endif /* HUBKEY_FW_CERTDEFS_H */
