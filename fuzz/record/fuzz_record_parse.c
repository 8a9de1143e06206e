/*
 * Fuzz the provisioning-record parser with arbitrary 416-byte slot images,
 * and the updater on top: whatever the slot holds, an update followed by a
 * parse must give back exactly what was written.
 */
#include <stdint.h>
#include <string.h>

#include "hubkey/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t image[HK_RECORD_AREA_SIZE];
    memset(image, 0, sizeof(image));
    memcpy(image, data, size < sizeof(image) ? size : sizeof(image));
    hk_record r;
    hk_result res = hk_record_parse(image, sizeof(image), &r);
    if (res == HK_OK) {
        if (strlen(r.hub_hostname) != r.hub_hostname_len ||
            strlen(r.device_id) != r.device_id_len || r.hub_hostname_len == 0)
            __builtin_trap();
    }
    size_t off = 0, len = 0;
    res = hk_record_image_update(image, sizeof(image), "hub.example", 11, "dev-1", 5, 1, &off,
                                 &len);
    if (res == HK_OK) {
        if (off + len > sizeof(image))
            __builtin_trap();
        if (hk_record_parse(image, sizeof(image), &r) != HK_OK ||
            strcmp(r.hub_hostname, "hub.example") != 0 || strcmp(r.device_id, "dev-1") != 0)
            __builtin_trap();
    } else if (res != HK_ERR_RECORD_VERSION) {
        __builtin_trap();
    }
    return 0;
}
