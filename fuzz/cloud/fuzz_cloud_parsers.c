/*
 * libFuzzer harness for every parser hubkey-cloud runs on device input:
 * MQTT usernames, topic query strings and property bags, percent-decoding,
 * Base64 (CSR field) and the ID rules. Input bytes become one NUL-terminated
 * string (device strings reach the plugin NUL-terminated).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hkc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct hkc_username u;
    if (hkc_username_parse(s, &u))
        hkc_username_clear(&u);
    json_t *p = hkc_props_decode(s);
    if (p) {
        char *bag = hkc_props_encode(p);
        json_t *back = hkc_props_decode(bag);
        if (!back || !json_equal(p, back))
            abort(); /* encode/decode must round-trip */
        json_decref(back);
        free(bag);
        json_decref(p);
    }
    free(hkc_query_get(s, "$rid"));
    free(hkc_query_get(s, "operationId"));
    free(hkc_url_decode(s));
    size_t n = 0;
    free(hkc_base64_decode(s, &n));
    (void)hkc_reg_id_valid(s);
    (void)hkc_device_id_valid(s);
    free(s);
    return 0;
}
