/*
 * hubkey-factory — `ca verify` (verify.c): the verification certificate of
 * a CA's proof of possession on Azure IoT Hub and DPS.
 */
#ifndef HUBKEY_FACTORY_VERIFY_H
#define HUBKEY_FACTORY_VERIFY_H

#include <stdbool.h>

/*
 * Writes to out_path (NULL: "verification.pem"; replaced if it exists) a
 * certificate with subject CN=code, issued and signed by the CA of ca_dir:
 * with = NULL or "root" uses root.key, "signer" signer.key (the CA
 * certificate that was uploaded). Valid from an hour ago for 30 days; it is
 * checked to verify under the CA certificate before it is written. Returns
 * an FX_* exit code with the message printed: FX_USAGE (no or bad code, bad
 * with), FX_FILE (CA directory or key), FX_VERIFY (the key does not belong
 * to the certificate), FX_INTERNAL. json: what was written as one JSON
 * object on standard output ({"file", "code", "signed_by": "root" or
 * "signer", "certificate": subject, issuer, validity, sha256}) instead of
 * the text and the az example.
 */
int fx_ca_verification_cert(const char *ca_dir, const char *code, const char *with,
                            const char *out_path, bool json);

#endif /* HUBKEY_FACTORY_VERIFY_H */
