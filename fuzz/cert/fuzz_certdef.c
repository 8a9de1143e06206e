/*
 * Fuzz the certdef parser. Whatever it accepts must serialize back to the
 * same bytes, and a rebuild (and compression of the result) must stay
 * inside its buffers (AddressSanitizer watches) and report a size it
 * respected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubkey/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_cert_def def;
    if (hk_cert_def_parse(data, size, &def) != HK_OK)
        return 0;
    uint8_t *ser = malloc(size);
    size_t n = 0;
    if (!ser || hk_cert_def_serialize(&def, ser, size, &n) != HK_OK || n != size ||
        memcmp(ser, data, size) != 0)
        __builtin_trap();
    free(ser);

    hk_cert_compressed c;
    memset(&c, 0, sizeof(c));
    memset(c.signature, 0x5A, sizeof(c.signature));
    c.issue = (hk_cert_date){2019, 3, 12, 14};
    c.expire_years = 28;
    c.template_id = def.template_id;
    c.chain_id = def.chain_id;
    c.sn_source = def.sn_source;
    uint8_t comp[HK_CERT_COMPRESSED_SIZE];
    if (hk_cert_compressed_encode(&c, comp) != HK_OK)
        __builtin_trap();
    uint8_t key[HK_CERT_PUBLIC_KEY_SIZE], sn[HK_CERT_DEVICE_SN_SIZE];
    memset(key, 0x11, sizeof(key));
    memset(sn, 0x22, sizeof(sn));
    hk_cert_inputs in = {key, sn, key};
    /* exactly sized heap buffer so any overrun is caught */
    size_t need = 0;
    hk_result r = hk_cert_rebuild(&def, comp, &in, NULL, 0, &need);
    if (r == HK_ERR_BUFFER_TOO_SMALL) {
        uint8_t *out = malloc(need);
        size_t got = 0;
        if (!out || hk_cert_rebuild(&def, comp, &in, out, need, &got) != HK_OK || got != need)
            __builtin_trap();
        uint8_t *scratch = malloc(need + HK_CERT_MAX_GROWTH);
        uint8_t back[HK_CERT_COMPRESSED_SIZE];
        /* Compression may refuse definitions whose elements overlap; it
         * must not crash or read outside the certificate. */
        if (!scratch)
            __builtin_trap();
        hk_result_ignore(
            hk_cert_compress(&def, out, got, &in, scratch, need + HK_CERT_MAX_GROWTH, back));
        free(scratch);
        free(out);
    }
    return 0;
}
