/* libFuzzer harness: hk_device_cert_cn over hostile DER (the device
 * certificate comes from the chip). The input is copied to an exact-size
 * buffer so any read past it trips ASan; a success must give a printable,
 * NUL-terminated CN that fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubkey/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    char out[65];
    memset(out, 0xCC, sizeof out);
    size_t len = 0;
    size_t cap = size > 0 ? (size_t)(data[0] % sizeof out) + 1 : sizeof out;
    hk_result r = hk_device_cert_cn(copy, size, out, cap, &len);
    if (r == HK_OK) {
        if (len >= cap || out[len] != '\0' || strlen(out) != len)
            abort();
        for (size_t i = 0; i < len; i++)
            if (out[i] < 0x20 || out[i] > 0x7E)
                abort();
    }
    for (size_t i = cap; i < sizeof out; i++)
        if ((uint8_t)out[i] != 0xCC)
            abort();
    free(copy);
    return 0;
}
