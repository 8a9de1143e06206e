/* libFuzzer harness for the IoT Hub topic parser: any bytes as a topic, then
 * every parsed slice is checked to lie inside the input, and the C2D property
 * bag is walked and percent-decoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubkey/hub.h"

static void inside(const uint8_t *base, size_t len, const char *p, size_t n)
{
    if (p == NULL) {
        if (n != 0)
            abort();
        return;
    }
    if ((const uint8_t *)p < base || (const uint8_t *)p + n > base + len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so ASan flags any read past the topic's end. */
    char *topic = malloc(size ? size : 1);
    if (topic == NULL)
        return 0;
    memcpy(topic, data, size);
    hk_hub_topic t;
    if (hk_hub_topic_parse(topic, size, &t) == HK_OK) {
        const uint8_t *base = (const uint8_t *)topic;
        inside(base, size, t.rid, t.rid_len);
        inside(base, size, t.name, t.name_len);
        inside(base, size, t.properties, t.properties_len);
        if (t.kind == HK_HUB_TOPIC_C2D) {
            size_t pos = 0;
            const char *n, *v;
            size_t nl, vl;
            bool hv;
            char dec[64];
            size_t dl;
            while (hk_hub_properties_next(t.properties, t.properties_len, &pos, &n, &nl, &v, &vl,
                                          &hv) == HK_OK) {
                inside(base, size, n, nl);
                inside(base, size, v, vl);
                if (nl == 0)
                    abort();
                if (hk_hub_url_decode(v, vl, dec, sizeof dec, &dl) == HK_OK && dl > vl)
                    abort();
            }
        }
        if ((t.kind == HK_HUB_TOPIC_METHOD_REQUEST || t.kind == HK_HUB_TOPIC_TWIN_GET) &&
            t.rid == NULL)
            abort();
        if (t.kind == HK_HUB_TOPIC_METHOD_REQUEST) {
            /* A parsed rid must always be echoable. */
            char out[128];
            size_t ol;
            if (hk_hub_method_response_topic_build(200, t.rid, t.rid_len, out, sizeof out, &ol) !=
                HK_OK)
                abort();
        }
    }
    free(topic);
    return 0;
}
