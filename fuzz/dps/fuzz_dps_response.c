/* libFuzzer harness for the DPS response parser (topic + JSON body).
 * Input: topic bytes, a NUL, body bytes (no NUL: all topic, empty body).
 * A parsed response is then fed to a registration state machine, and every
 * slice and token it exposes is checked against the input bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubkey/dps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *base, size_t len, const char *p, size_t n)
{
    if (p == NULL) {
        if (n != 0)
            abort();
        return;
    }
    if (p < base || p + n > base + len)
        abort();
}

static void terminated(const char *s, size_t size)
{
    if (memchr(s, '\0', size) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t topic_len = nul != NULL ? (size_t)(nul - data) : size;
    size_t body_len = nul != NULL ? size - topic_len - 1 : 0;
    /* Exact-size heap copies, so ASan sees any read past either end. */
    char *topic = malloc(topic_len ? topic_len : 1);
    char *body = malloc(body_len ? body_len : 1);
    if (topic == NULL || body == NULL) {
        free(topic);
        free(body);
        return 0;
    }
    memcpy(topic, data, topic_len);
    if (body_len != 0)
        memcpy(body, nul + 1, body_len);

    static hk_json_token tokens[HK_DPS_JSON_TOKENS];
    hk_dps_response r;
    if (hk_dps_response_parse(topic, topic_len, body, body_len, tokens, HK_DPS_JSON_TOKENS, &r) ==
        HK_OK) {
        inside(topic, topic_len, r.topic.rid, r.topic.rid_len);
        if (r.topic.rid == NULL || r.topic.status < 100 || r.topic.status > 599)
            abort();
        inside(body, body_len, r.payload, r.payload_len);
        terminated(r.operation_id, sizeof r.operation_id);
        terminated(r.assigned_hub, sizeof r.assigned_hub);
        terminated(r.device_id, sizeof r.device_id);
        if (r.issued_chain_count > HK_DPS_CERTS_MAX || r.trust_bundle_count > HK_DPS_CERTS_MAX)
            abort();
        if ((r.assigned_hub[0] == '\0') != (r.device_id[0] == '\0'))
            abort();
        char text[256];
        size_t len;
        /* Decoded to exercise the accessor: a string may not fit text. */
        for (size_t i = 0; i < r.issued_chain_count; i++)
            hk_result_ignore(
                hk_dps_response_string_get(&r, r.issued_chain[i], text, sizeof text, &len));
        for (size_t i = 0; i < r.trust_bundle_count; i++)
            hk_result_ignore(
                hk_dps_response_string_get(&r, r.trust_bundle[i], text, sizeof text, &len));
        if (r.message != 0)
            hk_result_ignore(hk_dps_response_string_get(&r, r.message, text, sizeof text, &len));

        /* Drive a machine that has just sent rid 1 with this response. */
        static const hk_dps_machine_config cfg = {600000, 10000, 1000, 100000, 5000};
        hk_dps_machine m;
        hk_dps_step s;
        if (hk_dps_machine_init(&m, &cfg, 0) != HK_OK || hk_dps_machine_next(&m, 0, 0, &s) != HK_OK)
            abort();
        hk_result res = hk_dps_machine_on_response(&m, &r, 1, (uint32_t)size * 2654435761u);
        if (res != HK_OK && res != HK_ERR_DPS_RID)
            abort();
        if (hk_dps_machine_next(&m, 1, 0, &s) != HK_OK)
            abort();
        if (s.action == HK_DPS_ACTION_WAIT && (uint32_t)(s.wait_until_ms - 1) > 600000u)
            abort();
        if (s.action == HK_DPS_ACTION_ASSIGNED) {
            const char *hub, *dev;
            hk_dps_substatus sub;
            if (hk_dps_machine_assignment(&m, &hub, &dev, &sub) != HK_OK || hub[0] == '\0' ||
                dev[0] == '\0')
                abort();
        }
        if (s.action == HK_DPS_ACTION_WAIT) {
            /* A poll that follows must always be buildable. */
            if (hk_dps_machine_next(&m, 600000 - 1, 0, &s) != HK_OK)
                abort();
            if (s.action == HK_DPS_ACTION_SEND_POLL) {
                char poll[256];
                if (hk_dps_poll_topic_build(s.rid, s.operation_id, strlen(s.operation_id), poll,
                                            sizeof poll, &len) != HK_OK)
                    abort();
            }
        }
    }
    free(topic);
    free(body);
    return 0;
}
