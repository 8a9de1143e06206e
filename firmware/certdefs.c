/*
 * The CA's certificate definitions (hk_certdefs.h). The build puts the
 * directory holding the CA's certdefs.h (written by hubkey-factory ca init)
 * on the include path.
 */
#include "certdefs.h"
#include "hk_certdefs.h"

const struct hk_cert_def *const hk_certdefs_device = &hubkey_device_def;
const struct hk_cert_def *const hk_certdefs_signer = &hubkey_signer_def;
