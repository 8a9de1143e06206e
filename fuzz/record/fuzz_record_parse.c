/*
 * Fuzz the provisioning-record parser with arbitrary 416-byte slot images,
 * and the updater on top: whatever the slot holds, an update followed by a
 * parse must give back exactly what was written. hk_record_read over the
 * same image (which reads the newest copy alone when that decides) must
 * give the parser's answer, or, when the newest copy has non-zero bytes in
 * padding that read did not fetch, the parser's answer for the image with
 * that copy's padding zero.
 */
#include <stdint.h>
#include <string.h>

#include "hubkey/record.h"
#include "hubkey/se.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hk_result mem_read(void *ctx, size_t offset, uint8_t *out, size_t len)
{
    memcpy(out, (const uint8_t *)ctx + offset, len);
    return HK_OK;
}

/* hk_record_read's answer against hk_record_parse's (res, r). */
static void check_read(const uint8_t *image, hk_result res, const hk_record *r)
{
    hk_se se;
    memset(&se, 0, sizeof(se));
    se.ctx = (void *)(uintptr_t)image;
    se.read_data = mem_read;
    se.data_size = HK_RECORD_AREA_SIZE;
    hk_record fast, full;
    hk_result rf = hk_record_read(&se, &fast);
    if (rf == res && (rf != HK_OK || memcmp(&fast, r, sizeof(fast)) == 0))
        return;
    for (size_t base = 0; rf == HK_OK && base < HK_RECORD_AREA_SIZE; base += 208) {
        uint8_t img[HK_RECORD_AREA_SIZE];
        memcpy(img, image, sizeof(img));
        size_t text_end = 10u + img[base + 8] + img[base + 9];
        if (text_end <= 204)
            memset(img + base + text_end, 0, 204 - text_end);
        if (hk_record_parse(img, sizeof(img), &full) == HK_OK &&
            memcmp(&fast, &full, sizeof(fast)) == 0)
            return;
    }
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t image[HK_RECORD_AREA_SIZE];
    memset(image, 0, sizeof(image));
    memcpy(image, data, size < sizeof(image) ? size : sizeof(image));
    hk_record r;
    hk_result res = hk_record_parse(image, sizeof(image), &r);
    check_read(image, res, &r);
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
