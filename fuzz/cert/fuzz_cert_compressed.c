/*
 * Fuzz the 72-byte compressed-certificate decoder: whatever it accepts
 * must encode back to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "hubkey/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_cert_compressed c;
    if (hk_cert_compressed_decode(data, size, &c) != HK_OK)
        return 0;
    uint8_t again[HK_CERT_COMPRESSED_SIZE];
    if (hk_cert_compressed_encode(&c, again) != HK_OK ||
        memcmp(again, data, HK_CERT_COMPRESSED_SIZE) != 0)
        __builtin_trap();
    uint8_t key[HK_CERT_PUBLIC_KEY_SIZE] = {0}, sn[9] = {0}, out[32];
    /* Any source from the input: it may be refused, it must not crash. */
    hk_result_ignore(hk_cert_sn_generate(c.sn_source, data, key, sn, out,
                                         c.sn_source == HK_CERT_SN_DEVICE_SN   ? 10
                                         : c.sn_source == HK_CERT_SN_SIGNER_ID ? 3
                                                                               : 16));
    return 0;
}
