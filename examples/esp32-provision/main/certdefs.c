/*
 * The CA's certificate definitions (app.h), from the certdefs.h that
 * `hubkey-factory ca init` wrote into the CA directory (HUBKEY_CA_DIR).
 */
#include "app.h"
#include "certdefs.h"

const struct hk_cert_def *const example_certdefs_device = &hubkey_device_def;
const struct hk_cert_def *const example_certdefs_signer = &hubkey_signer_def;
