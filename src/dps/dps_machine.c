/*
 * DPS registration state machine and backoff.
 *
 *   SEND --next()--> AWAIT --response--> WAIT --time--> SEND ...
 *                      |                   ^
 *                      +-- timeout --------+
 *   any response may end in ASSIGNED or FAILED; the deadline ends in FAILED.
 *
 * retry-after is clamped to HK_DPS_RETRY_AFTER_MIN_S..HK_DPS_RETRY_AFTER_MAX_S
 * (1..300 s), the range the Azure IoT C SDK accepts. The floor stops a
 * "retry-after=0"-style answer from turning the device into a tight poll loop
 * (DPS allows about one poll per 2 s per device; 0 itself is treated as
 * "absent" and gets the backoff). The ceiling keeps a buggy or hostile value
 * from parking the device for hours: after 5 minutes it asks again, and the
 * overall deadline still bounds the whole registration.
 *
 * Times are compared by unsigned difference, so a wrapping 32-bit clock is
 * fine as long as every span stays below 2^31 ms (init enforces that for the
 * deadline; every wait is shorter than the deadline).
 */
#include <string.h>

#include "common/hk_common.h"
#include "common/hk_text.h"
#include "hubkey/dps.h"

enum {
    DPS_ST_SEND = 1,
    DPS_ST_AWAIT,
    DPS_ST_WAIT,
    DPS_ST_ASSIGNED,
    DPS_ST_FAILED,
};

enum { DPS_PENDING_REGISTER = 1, DPS_PENDING_POLL };

#define DPS_SPAN_MAX 0x7fffffffu

uint32_t hk_dps_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t jitter_ms,
                           uint32_t random)
{
    uint32_t base = min_ms < max_ms ? min_ms : max_ms;
    /* Doubling stops at the cap, so no shift ever overflows. */
    for (uint32_t i = 0; i < attempt && base < max_ms; i++)
        base = base > max_ms / 2u ? max_ms : base * 2u;
    uint32_t j = jitter_ms == UINT32_MAX ? random : random % (jitter_ms + 1u);
    if (j <= max_ms - base)
        return base + j;
    return max_ms > j ? max_ms - j : 0;
}

/* True when now is at or after t. */
static bool dps_reached(uint32_t now, uint32_t t)
{
    return (uint32_t)(now - t) <= DPS_SPAN_MAX;
}

hk_result hk_dps_machine_init(hk_dps_machine *m, const hk_dps_machine_config *config,
                              uint32_t now_ms)
{
    HK_REQUIRE(m != NULL && config != NULL);
    if (config->deadline_ms == 0 || config->deadline_ms > DPS_SPAN_MAX ||
        config->response_timeout_ms == 0 || config->backoff_min_ms > config->backoff_max_ms ||
        config->jitter_ms > config->backoff_max_ms)
        return HK_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    m->_internal.config = *config;
    m->_internal.state = DPS_ST_SEND;
    m->_internal.pending = DPS_PENDING_REGISTER;
    m->_internal.start_ms = now_ms;
    m->_internal.result = HK_OK;
    return HK_OK;
}

static void dps_fail(hk_dps_machine *m, hk_result why)
{
    m->_internal.state = DPS_ST_FAILED;
    m->_internal.result = why;
}

/* Enter WAIT for delay_ms from now. */
static void dps_wait(hk_dps_machine *m, uint32_t now_ms, uint32_t delay_ms)
{
    m->_internal.state = DPS_ST_WAIT;
    m->_internal.wait_until_ms = now_ms + (delay_ms > DPS_SPAN_MAX ? DPS_SPAN_MAX : delay_ms);
}

static uint32_t dps_backoff(hk_dps_machine *m, uint32_t random)
{
    const hk_dps_machine_config *c = &m->_internal.config;
    uint32_t d = hk_dps_backoff_ms(m->_internal.attempt, c->backoff_min_ms, c->backoff_max_ms,
                                   c->jitter_ms, random);
    if (m->_internal.attempt < UINT32_MAX)
        m->_internal.attempt++;
    return d;
}

/* retry-after (clamped) when the topic had one, else the next backoff. */
static uint32_t dps_retry_delay(hk_dps_machine *m, const hk_dps_response *r, uint32_t random)
{
    uint32_t s = r->topic.retry_after_s;
    if (s == 0)
        return dps_backoff(m, random);
    if (s < HK_DPS_RETRY_AFTER_MIN_S)
        s = HK_DPS_RETRY_AFTER_MIN_S;
    if (s > HK_DPS_RETRY_AFTER_MAX_S)
        s = HK_DPS_RETRY_AFTER_MAX_S;
    return s * 1000u;
}

/* Out of line: its caller is large, and inlined there it measured bigger. */
HK_NOINLINE
hk_result hk_dps_machine_next(hk_dps_machine *m, uint32_t now_ms, uint32_t random,
                              hk_dps_step *out_step)
{
    HK_REQUIRE(m != NULL && out_step != NULL);
    memset(out_step, 0, sizeof *out_step);
    out_step->result = HK_OK;
    const hk_dps_machine_config *c = &m->_internal.config;
    uint32_t deadline = m->_internal.start_ms + c->deadline_ms;

    if (m->_internal.state == DPS_ST_ASSIGNED) {
        out_step->action = HK_DPS_ACTION_ASSIGNED;
        return HK_OK;
    }
    if (m->_internal.state != DPS_ST_FAILED && dps_reached(now_ms, deadline))
        dps_fail(m, HK_ERR_DPS_DEADLINE);
    if (m->_internal.state == DPS_ST_FAILED) {
        out_step->action = HK_DPS_ACTION_FAILED;
        out_step->result = m->_internal.result;
        return HK_OK;
    }
    if (m->_internal.state == DPS_ST_AWAIT) {
        uint32_t timeout_at = m->_internal.sent_ms + c->response_timeout_ms;
        if (!dps_reached(now_ms, timeout_at)) {
            out_step->action = HK_DPS_ACTION_WAIT;
            out_step->wait_until_ms = dps_reached(timeout_at, deadline) ? deadline : timeout_at;
            return HK_OK;
        }
        /* No answer: the request or its response was lost. Same step again. */
        dps_wait(m, now_ms, dps_backoff(m, random));
    }
    if (m->_internal.state == DPS_ST_WAIT) {
        uint32_t until = m->_internal.wait_until_ms;
        if (!dps_reached(now_ms, until)) {
            out_step->action = HK_DPS_ACTION_WAIT;
            out_step->wait_until_ms = dps_reached(until, deadline) ? deadline : until;
            return HK_OK;
        }
        m->_internal.state = DPS_ST_SEND;
    }
    /* DPS_ST_SEND */
    m->_internal.rid++;
    if (m->_internal.rid == 0) /* keep 0 out, so a rid is never "unset" */
        m->_internal.rid = 1;
    m->_internal.state = DPS_ST_AWAIT;
    m->_internal.sent_ms = now_ms;
    out_step->rid = m->_internal.rid;
    if (m->_internal.pending == DPS_PENDING_POLL) {
        out_step->action = HK_DPS_ACTION_SEND_POLL;
        out_step->operation_id = m->_internal.operation_id;
    } else {
        out_step->action = HK_DPS_ACTION_SEND_REGISTER;
    }
    return HK_OK;
}

/* True when the response's $rid is the decimal text of rid (written by the
 * same routine that wrote it into the request topic). */
static bool dps_rid_matches(const hk_dps_response *r, uint32_t rid)
{
    char d[11];
    hk_text t = HK_TEXT_INIT(d, sizeof d);
    hk_text_put_uint(&t, rid);
    return r->topic.rid != NULL && r->topic.rid_len == t.len &&
           memcmp(r->topic.rid, d, t.len) == 0;
}

/* Copy a NUL-terminated array member of the response; false when it is not
 * terminated inside its array (a response the parser did not produce). */
static bool dps_copy(char *dst, const char *src, size_t size)
{
    const char *nul = memchr(src, '\0', size);
    if (nul == NULL)
        return false;
    memcpy(dst, src, (size_t)(nul - src) + 1);
    return true;
}

/* Out of line: its caller is large, and inlined there it measured bigger. */
HK_NOINLINE
hk_result hk_dps_machine_on_response(hk_dps_machine *m, const hk_dps_response *response,
                                     uint32_t now_ms, uint32_t random)
{
    HK_REQUIRE(m != NULL && response != NULL);
    if (m->_internal.state != DPS_ST_AWAIT)
        return HK_ERR_STATE;
    if (!dps_rid_matches(response, m->_internal.rid))
        return HK_ERR_DPS_RID;

    unsigned status = response->topic.status;
    if (status == 200 || status == 202) {
        switch (response->operation_status) {
        case HK_DPS_OPERATION_ASSIGNED:
            if (!dps_copy(m->_internal.assigned_hub, response->assigned_hub,
                          sizeof response->assigned_hub) ||
                !dps_copy(m->_internal.device_id, response->device_id,
                          sizeof response->device_id) ||
                m->_internal.assigned_hub[0] == '\0' || m->_internal.device_id[0] == '\0')
                return HK_ERR_INVALID_ARG;
            m->_internal.substatus = response->substatus;
            m->_internal.state = DPS_ST_ASSIGNED;
            return HK_OK;
        case HK_DPS_OPERATION_FAILED:
            dps_fail(m, HK_ERR_DPS_FAILED);
            return HK_OK;
        case HK_DPS_OPERATION_DISABLED:
            dps_fail(m, HK_ERR_DPS_DISABLED);
            return HK_OK;
        default:
            break;
        }
        /* Still assigning: poll with the (new) operation id. A response
         * without one while registering gives nothing to poll: register
         * again after a backoff. */
        if (response->operation_id[0] != '\0') {
            if (!dps_copy(m->_internal.operation_id, response->operation_id,
                          sizeof response->operation_id))
                return HK_ERR_INVALID_ARG;
            if (m->_internal.pending == DPS_PENDING_REGISTER)
                m->_internal.attempt = 0;
            m->_internal.pending = DPS_PENDING_POLL;
        }
        dps_wait(m, now_ms, dps_retry_delay(m, response, random));
        return HK_OK;
    }
    if (status == 404 && m->_internal.pending == DPS_PENDING_POLL) {
        /* The operation is not known (any more): register again. */
        m->_internal.pending = DPS_PENDING_REGISTER;
        dps_wait(m, now_ms, dps_backoff(m, random));
        return HK_OK;
    }
    if (status == 429 || status >= 500) {
        dps_wait(m, now_ms, dps_retry_delay(m, response, random));
        return HK_OK;
    }
    dps_fail(m, status == 401 ? HK_ERR_DPS_UNAUTHORIZED : HK_ERR_DPS_REJECTED);
    return HK_OK;
}

/* Why a poll and not a register after a reconnect: DPS keeps a
 * registration operation on the service and answers its status query on
 * any connection, so registering again would only start a second
 * operation (and count a second registration). */
hk_result hk_dps_machine_resume(hk_dps_machine *m)
{
    HK_REQUIRE(m != NULL);
    if (m->_internal.state == DPS_ST_AWAIT)
        m->_internal.state = DPS_ST_SEND;
    return HK_OK;
}

hk_result hk_dps_machine_assignment(const hk_dps_machine *m, const char **out_hub,
                                    const char **out_device_id, hk_dps_substatus *out_substatus)
{
    HK_REQUIRE(m != NULL && out_hub != NULL && out_device_id != NULL && out_substatus != NULL);
    if (m->_internal.state != DPS_ST_ASSIGNED)
        return HK_ERR_STATE;
    *out_hub = m->_internal.assigned_hub;
    *out_device_id = m->_internal.device_id;
    *out_substatus = m->_internal.substatus;
    return HK_OK;
}
