/*
 * The device boot flow (include/hubkey/device.h).
 *
 *   IDENTITY -> RECORD -+-> HUB_CONNECT -> HUB_SESSION -> READY
 *                       |        ^   |            |          |
 *                       v        |   +---- WAIT <-+----------+  (backoff)
 *              DPS_CONNECT -> DPS_REGISTER -> RECORD_WRITE
 *                       ^                         |
 *                       +-- hub refused (rate-limited) / hub lost too long
 *
 * Why the policy is what it is:
 *  - The old record is never erased before a new assignment is written:
 *    when DPS is down or refuses, the device still has a hub to go back to,
 *    and losing power mid-way leaves a usable record (hk_record writes are
 *    torn-write safe).
 *  - Re-provisioning after a hub refusal is limited to once per
 *    reprovision interval, measured in RAM from the start of the last DPS
 *    registration. A device whose enrollment still points at a hub that
 *    refuses it would otherwise alternate hub/DPS forever; with the limit it
 *    costs DPS a few registrations an hour. The first refusal after boot
 *    goes to DPS at once: a reboot is rare, and persisting a timestamp would
 *    wear the chip's slot for little gain.
 *  - Hub failures that are not refusals (network, 5xx-style closes) keep the
 *    assignment: the cached DPS result is reused, as Azure asks, with
 *    exponential backoff plus jitter; only after hub_fallback_ms without a
 *    session is DPS asked whether the device moved.
 *  - A refusal of the identity that repeats (HK_DEVICE_REFUSALS_MAX
 *    connections in a row, the same result) is the server's word, not a
 *    passing fault: the round ends instead of repeating the handshake until
 *    the deadline. One refusal alone is retried: a server being
 *    reconfigured may refuse once.
 *  - An identity that cannot be used (certificates that cannot be rebuilt
 *    from the chip, no usable CN) fails the flow at once: no retry changes
 *    a definition that does not match the chip, and retrying would hide the
 *    cause behind timeouts.
 *  - The record is written from what the RECORD read learnt about the slot
 *    (hk_record_cache): the flow is the slot's only writer while it runs,
 *    so reading the 416 bytes again before the write would only repeat the
 *    first read (13 chip commands on an ATECC608A).
 */
#include <stddef.h>
#include <string.h>

#include "common/hk_common.h"
#include "device_core.h"
#include "device_dps.h"
#include "device_hub.h"
#include "hubkey/record.h"

#define SE_RETRIES 5u
#define DPS_ROUND_MIN_MS 5000u

/* One array of its own, not string literals: literals share one section
 * with the strings the flow uses, which would keep the names in every
 * image, also where hk_device_state_name is not linked. The names follow
 * each other, NUL after NUL (shorter than a table of fixed-width rows). */
static const char state_names[] = "identity\0record\0dps-connect\0dps-register\0record-write\0"
                                  "hub-connect\0hub-session\0ready\0wait\0stopped\0failed";

const char *hk_device_state_name(hk_device_state state)
{
    if ((unsigned)state >= HK_DEVICE_STATE_COUNT_)
        return "unknown";
    const char *name = state_names;
    for (unsigned n = (unsigned)state; n != 0; name++) /* past n NULs */
        if (*name == '\0')
            n--;
    return name;
}

/* The DPS registration id alphabet (dps.h). */
static bool registration_id_check(const char *s, size_t n)
{
    if (n == 0 || n > HK_DPS_DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], l = (char)(c | 0x20);
        bool ok = (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '_' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

/* The MQTT engine's events go to the session that runs: a PUBLISH to the
 * DPS round or the hub session by state, a PUBACK to telemetry. */
static void mqtt_route(void *ctx, const hk_mqtt_event *e)
{
    hk_device *dev = ctx;
    hk_device_in *I = &dev->_internal;
    switch (e->type) {
    case HK_MQTT_EVENT_CONNACK:
        if (e->result == HK_OK)
            I->connack = true;
        break;
    case HK_MQTT_EVENT_SUBACK:
        if (e->result != HK_OK)
            I->session_error = e->result;
        break;
    case HK_MQTT_EVENT_PUBLISH:
        if (I->state == HK_DEVICE_STATE_DPS_REGISTER)
            hk_device_dps_publish_(dev, &e->publish);
        else if (I->state == HK_DEVICE_STATE_HUB_SESSION || I->state == HK_DEVICE_STATE_READY)
            hk_device_hub_publish_(dev, &e->publish);
        break;
    case HK_MQTT_EVENT_PUBACK:
        hk_device_sent_finish_(dev, &e->packet_id, e->result);
        break;
    default:
        break;
    }
}

/* ---- policy: where the flow goes next ----------------------------------------------- */

static void flow_fail(hk_device *dev, hk_result why)
{
    dev->_internal.fatal = why;
    hk_device_state_set_(dev, HK_DEVICE_STATE_FAILED, why);
}

static void se_retry(hk_device *dev, hk_device_state again, hk_result why)
{
    hk_device_backoff_then_(dev, &dev->_internal.se_attempt, 100u, 5000u, 100u, again, why);
}

/* Back to the hub after its reconnect backoff. */
static void hub_backoff(hk_device *dev, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    const hk_device_policy *p = &I->cfg.policy;
    hk_device_backoff_then_(dev, &I->hub_attempt, p->reconnect_min_ms, p->reconnect_max_ms,
                            p->reconnect_jitter_ms, HK_DEVICE_STATE_HUB_CONNECT, why);
}

static void dps_round_start(hk_device *dev, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    I->force_dps = false;
    I->dps_round_start_ms = I->now_ms;
    I->last_dps_ms = I->now_ms;
    I->dps_done_once = true;
    I->dps_attempt = 0;
    I->refusals = 0;
    hk_device_dps_round_init_(dev);
    hk_device_state_set_(dev, HK_DEVICE_STATE_DPS_CONNECT, why);
}

static uint32_t dps_deadline_get(const hk_device_in *I)
{
    return I->dps_round_start_ms + I->cfg.policy.dps_deadline_ms;
}

/* The registration is over without an assignment. */
static void dps_round_end(hk_device *dev, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    if (I->has_record || I->assigned) {
        /* Back to the hub we know; DPS is asked again no sooner than the
         * reprovision interval allows. */
        hub_backoff(dev, why);
        return;
    }
    uint32_t max = I->cfg.policy.reprovision_interval_ms;
    I->force_dps = true;
    hk_device_backoff_then_(dev, &I->dps_round_attempt, DPS_ROUND_MIN_MS, max,
                            HK_DEVICE_DPS_JITTER_MS < max ? HK_DEVICE_DPS_JITTER_MS : 0,
                            HK_DEVICE_STATE_RECORD, why);
}

/* A DPS connection failed (refused: it refused the identity): tried again
 * within the round's deadline, unless DPS refused the identity
 * HK_DEVICE_REFUSALS_MAX times in a row (the same way each time: a refusal
 * that repeats is not a passing fault). */
static void dps_lost(hk_device *dev, bool refused, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    I->refusals = (uint8_t)(refused && why == I->refused_with ? I->refusals + 1u : refused);
    I->refused_with = why;
    if (hk_device_reached_(I->now_ms, dps_deadline_get(I)) ||
        I->refusals >= HK_DEVICE_REFUSALS_MAX) {
        dps_round_end(dev, why);
        return;
    }
    hk_device_backoff_then_(dev, &I->dps_attempt, HK_DEVICE_DPS_BACKOFF_MIN_MS,
                            HK_DEVICE_DPS_BACKOFF_MAX_MS, HK_DEVICE_DPS_JITTER_MS,
                            HK_DEVICE_STATE_DPS_CONNECT, why);
}

/* The hub session ended: a refusal of the identity goes to DPS, so does a
 * hub that failed for hub_fallback_ms without a session; DPS at most once
 * per reprovision interval (the first time at once). Anything else: the
 * hub again after its backoff. */
static void hub_lost(hk_device *dev, bool refused, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    if (I->session_up && hk_device_reached_(I->now_ms, I->ready_since_ms + HK_DEVICE_STABLE_MS))
        I->hub_attempt = 0;
    I->session_up = false;
    if (!I->hub_failing) {
        I->hub_failing = true;
        I->hub_fail_since_ms = I->now_ms;
    }
    uint32_t fallback_at = I->hub_fail_since_ms + I->cfg.policy.hub_fallback_ms;
    bool want_dps = refused || hk_device_reached_(I->now_ms, fallback_at);
    if (want_dps &&
        (!I->dps_done_once ||
         hk_device_reached_(I->now_ms, I->last_dps_ms + I->cfg.policy.reprovision_interval_ms))) {
        dps_round_start(dev, why);
        return;
    }
    hub_backoff(dev, why);
}

/* What a step of the DPS round or of the hub session returned (o, with
 * why) decides what follows: this is the one place that does. */
static void outcome_apply(hk_device *dev, hk_device_outcome o, hk_result why)
{
    hk_device_in *I = &dev->_internal;
    bool dps = I->state <= HK_DEVICE_STATE_DPS_REGISTER;
    switch (o) {
    case HK_DEVICE_OUTCOME_CONNECTED:
        hk_device_state_set_(dev, dps ? HK_DEVICE_STATE_DPS_REGISTER : HK_DEVICE_STATE_HUB_SESSION,
                             HK_OK);
        break;
    case HK_DEVICE_OUTCOME_ASSIGNED:
        I->dps_round_attempt = 0;
        hk_device_state_set_(dev, HK_DEVICE_STATE_RECORD_WRITE, HK_OK);
        break;
    case HK_DEVICE_OUTCOME_READY:
        I->hub_failing = false;
        I->session_up = true;
        I->ready_since_ms = I->now_ms;
        hk_device_state_set_(dev, HK_DEVICE_STATE_READY, HK_OK);
        break;
    case HK_DEVICE_OUTCOME_REFUSED:
    case HK_DEVICE_OUTCOME_CONNECTION_LOST:
        if (dps)
            dps_lost(dev, o == HK_DEVICE_OUTCOME_REFUSED, why);
        else
            hub_lost(dev, o == HK_DEVICE_OUTCOME_REFUSED, why);
        break;
    case HK_DEVICE_OUTCOME_FAILED:
        dps_round_end(dev, why);
        break;
    case HK_DEVICE_OUTCOME_UNUSABLE:
        flow_fail(dev, why);
        break;
    default: /* PENDING */
        break;
    }
}

/* ---- the secure-element states ---------------------------------------------------- */

static void identity_read(hk_device *dev)
{
    hk_device_in *I = &dev->_internal;
    const hk_se *se = I->cfg.se;
    size_t n = 0, cn = 0;
    hk_result r = se->cert(se->ctx, 0, I->rx, sizeof I->rx, &n);
    if (r == HK_OK && n > sizeof I->rx)
        r = HK_ERR_SE_RESPONSE;
    if (r != HK_OK) {
        /* Only the chip not answering properly is worth a retry; a
         * certificate that cannot be rebuilt stays so. */
        if (hk_device_result_is_se_(r))
            se_retry(dev, HK_DEVICE_STATE_IDENTITY, r);
        else
            flow_fail(dev, r);
        return;
    }
    r = hk_device_cert_cn_get(I->rx, n, I->registration_id, sizeof I->registration_id, &cn);
    if (r != HK_OK || !registration_id_check(I->registration_id, cn)) {
        I->registration_id[0] = '\0';
        flow_fail(dev, HK_ERR_CERT_PARSE);
        return;
    }
    uint8_t seed[4] = {0, 0, 0, 0};
    hk_result_ignore(se->random(se->ctx, seed, sizeof seed)); /* the CN follows */
    uint32_t s = 0;
    for (size_t i = 0; i < 4; i++)
        s = (s << 8) | seed[i];
    for (size_t i = 0; i < cn; i++) /* devices differ even if the RNG read failed */
        s = s * 31u + (uint8_t)I->registration_id[i];
    I->rng = s != 0 ? s : 0x9E3779B9u;
    I->se_attempt = 0;
    hk_device_state_set_(dev, HK_DEVICE_STATE_RECORD, HK_OK);
}

static void record_read(hk_device *dev)
{
    hk_device_in *I = &dev->_internal;
    hk_record rec;
    hk_result r = hk_record_read_cached(I->cfg.se, &rec, &I->rec_cache);
    if (r == HK_OK && (rec.hub_hostname_len >= sizeof I->hub ||
                       rec.device_id_len >= sizeof I->device_id))
        r = HK_ERR_RECORD_TOO_LONG; /* valid but not usable here: provision */
    if (r == HK_OK) {
        memcpy(I->hub, rec.hub_hostname, rec.hub_hostname_len + 1);
        memcpy(I->device_id, rec.device_id, rec.device_id_len + 1);
    } else if (r != HK_ERR_RECORD_EMPTY && r != HK_ERR_RECORD_CORRUPT &&
               r != HK_ERR_RECORD_VERSION && r != HK_ERR_RECORD_TOO_LONG) {
        se_retry(dev, HK_DEVICE_STATE_RECORD, r);
        return;
    }
    I->has_record = r == HK_OK;
    I->se_attempt = 0;
    if (I->has_record && !I->force_dps)
        hk_device_state_set_(dev, HK_DEVICE_STATE_HUB_CONNECT, HK_OK);
    else
        dps_round_start(dev, r);
}

static void record_write(hk_device *dev)
{
    hk_device_in *I = &dev->_internal;
    hk_result r = HK_OK;
    if (!(I->has_record && I->same_as_record)) {
        r = hk_record_write_cached(I->cfg.se, &I->rec_cache, I->hub, strlen(I->hub),
                                   I->device_id, strlen(I->device_id), 0);
        if (r != HK_OK && hk_device_result_is_se_(r) && I->se_attempt + 1 < SE_RETRIES) {
            se_retry(dev, HK_DEVICE_STATE_RECORD_WRITE, r);
            return;
        }
        /* Written, or not writable (then the device still goes to the hub
         * with the assignment in RAM; the next boot registers again). */
        I->has_record = r == HK_OK;
    }
    I->se_attempt = 0;
    I->hub_attempt = 0;
    I->hub_failing = false;
    hk_device_state_set_(dev, HK_DEVICE_STATE_HUB_CONNECT, r);
}

/* ---- the step ------------------------------------------------------------------------ */

static void state_run(hk_device *dev, uint32_t *dl)
{
    hk_device_in *I = &dev->_internal;
    hk_device_outcome o = HK_DEVICE_OUTCOME_PENDING;
    hk_result why = HK_OK;
    switch ((hk_device_state)I->state) {
    case HK_DEVICE_STATE_IDENTITY:
        identity_read(dev);
        break;
    case HK_DEVICE_STATE_RECORD:
        record_read(dev);
        break;
    case HK_DEVICE_STATE_DPS_CONNECT:
        if (!I->link_open && hk_device_reached_(I->now_ms, dps_deadline_get(I)))
            dps_round_end(dev, HK_ERR_DPS_DEADLINE);
        else
            o = hk_device_dps_connect_(dev, dl, &why);
        break;
    case HK_DEVICE_STATE_DPS_REGISTER:
        o = hk_device_dps_register_(dev, dl, &why);
        break;
    case HK_DEVICE_STATE_RECORD_WRITE:
        record_write(dev);
        break;
    case HK_DEVICE_STATE_HUB_CONNECT:
        o = hk_device_hub_connect_(dev, dl, &why);
        break;
    case HK_DEVICE_STATE_HUB_SESSION:
    case HK_DEVICE_STATE_READY:
        o = hk_device_hub_session_(dev, dl, &why);
        break;
    case HK_DEVICE_STATE_WAIT:
        if (hk_device_reached_(I->now_ms, I->wait_until_ms))
            hk_device_state_set_(dev, (hk_device_state)I->wait_next, HK_OK);
        else
            hk_device_deadline_lower_(I, dl, I->wait_until_ms);
        break;
    default: /* STOPPED, FAILED */
        break;
    }
    outcome_apply(dev, o, why);
}

/* Requests made from callbacks (or between steps) take effect here. */
static void requests_apply(hk_device *dev)
{
    hk_device_in *I = &dev->_internal;
    if (I->state == HK_DEVICE_STATE_FAILED)
        return;
    if (I->stop_requested) {
        I->stop_requested = false;
        if (I->state != HK_DEVICE_STATE_STOPPED) {
            hk_device_link_close_(dev, true);
            hk_device_state_set_(dev, HK_DEVICE_STATE_STOPPED, HK_OK);
        }
        return;
    }
    if (I->reprovision_requested && I->state > HK_DEVICE_STATE_RECORD &&
        I->state != HK_DEVICE_STATE_STOPPED) {
        I->reprovision_requested = false;
        hk_device_link_close_(dev, true);
        dps_round_start(dev, HK_OK);
    }
}

/* ---- public API --------------------------------------------------------------- */

/* The policy with every zero replaced by its default, field by field. Out
 * of line: with p as its own base the loads and stores stay short. */
HK_NOINLINE static void policy_fill(hk_device_policy *p)
{
#define HK_POLICY_DEFAULT(field, value) \
    do {                                \
        if (p->field == 0)              \
            p->field = (value);         \
    } while (0)
    HK_POLICY_DEFAULT(dps_deadline_ms, HK_DEVICE_DPS_DEADLINE_MS);
    HK_POLICY_DEFAULT(dps_response_timeout_ms, HK_DEVICE_DPS_RESPONSE_TIMEOUT_MS);
    HK_POLICY_DEFAULT(reprovision_interval_ms, HK_DEVICE_REPROVISION_INTERVAL_MS);
    HK_POLICY_DEFAULT(hub_fallback_ms, HK_DEVICE_HUB_FALLBACK_MS);
    HK_POLICY_DEFAULT(reconnect_min_ms, HK_DEVICE_RECONNECT_MIN_MS);
    HK_POLICY_DEFAULT(reconnect_max_ms, HK_DEVICE_RECONNECT_MAX_MS);
    HK_POLICY_DEFAULT(reconnect_jitter_ms, HK_DEVICE_RECONNECT_JITTER_MS);
    HK_POLICY_DEFAULT(connect_timeout_ms, HK_DEVICE_CONNECT_TIMEOUT_MS);
    HK_POLICY_DEFAULT(keep_alive_s, HK_DEVICE_KEEP_ALIVE_S);
#undef HK_POLICY_DEFAULT
}

hk_result hk_device_init(hk_device *dev, const hk_device_config *config, uint32_t now_ms)
{
    HK_REQUIRE(dev != NULL && config != NULL);
    const hk_se *se = config->se;
    const hk_device_link *l = &config->link;
    if (se == NULL || se->cert == NULL || se->random == NULL || se->read_data == NULL ||
        se->write_data == NULL || l->open == NULL || l->poll == NULL || l->close == NULL ||
        l->wait == NULL || config->id_scope == NULL || config->id_scope[0] == '\0')
        return HK_ERR_INVALID_ARG;
    memset(dev, 0, sizeof *dev);
    hk_device_in *I = &dev->_internal;
    I->cfg = *config;
    hk_device_policy *p = &I->cfg.policy;
    policy_fill(p);
    if (p->reconnect_min_ms > p->reconnect_max_ms || p->reconnect_jitter_ms > p->reconnect_max_ms ||
        p->dps_deadline_ms > HK_DEVICE_SPAN_MAX ||
        p->reprovision_interval_ms > HK_DEVICE_SPAN_MAX || p->hub_fallback_ms > HK_DEVICE_SPAN_MAX ||
        (config->registration_payload != NULL &&
         strlen(config->registration_payload) > HK_DEVICE_PAYLOAD_MAX)) {
        /* Refused after the defaults were filled in: a device that is
         * stepped anyway stays FAILED instead of starting from IDENTITY. */
        I->state = HK_DEVICE_STATE_FAILED;
        return HK_ERR_INVALID_ARG;
    }
    I->dps_client.id_scope = config->id_scope;
    I->dps_client.registration_id = I->registration_id;
    I->dps_client.api_version = HK_DPS_API_2019_03_31;
    I->hub_client.host = I->hub;
    I->hub_client.device_id = I->device_id;
    I->hub_client.model_id = config->model_id;
    HK_TRY(hk_device_mqtt_init_(dev, mqtt_route));
    I->now_ms = I->start_ms = I->state_since_ms = now_ms;
    I->state = HK_DEVICE_STATE_IDENTITY;
    I->visited = 1u << HK_DEVICE_STATE_IDENTITY;
    I->force_dps = config->force_provisioning;
    I->rng = 0x9E3779B9u;
    return HK_OK;
}

hk_result hk_device_step(hk_device *dev, uint32_t now_ms, uint32_t *out_next_deadline_ms)
{
    HK_REQUIRE(dev != NULL && out_next_deadline_ms != NULL);
    hk_device_in *I = &dev->_internal;
    I->now_ms = now_ms;
    I->in_step = true;
    uint32_t dl = now_ms + HK_DEVICE_FAR_MS;
    bool settled = false, held = false;
    const hk_se *se = I->cfg.se;
    for (int i = 0; i < 16 && !settled; i++) {
        requests_apply(dev);
        uint8_t before = I->state;
        /* The chip's states that run one after the other in a step (the
         * identity, then the record read) are one awake sequence: one wake
         * instead of one per operation. Released before any other state
         * runs: the driver does not count time spent outside it (a
         * connect's name lookup), so a hold never spans the network. The
         * event callbacks of these states' changes do run inside it
         * (device.h says to keep them short). */
        bool chip = before == HK_DEVICE_STATE_IDENTITY || before == HK_DEVICE_STATE_RECORD ||
                    before == HK_DEVICE_STATE_RECORD_WRITE;
        if (chip != held && se->hold != NULL) {
            se->hold(se->ctx, chip);
            held = chip;
        }
        dl = now_ms + HK_DEVICE_FAR_MS;
        state_run(dev, &dl);
        settled = I->state == before;
    }
    if (held)
        se->hold(se->ctx, false);
    if (!settled || I->kick || I->stop_requested || I->reprovision_requested)
        dl = now_ms; /* more to do right away */
    I->kick = false;
    I->in_step = false;
    *out_next_deadline_ms = dl;
    return I->state == HK_DEVICE_STATE_FAILED ? I->fatal : HK_OK;
}

hk_result hk_device_run(hk_device *dev, const hk_platform *platform, hk_device_state until,
                        uint32_t timeout_ms)
{
    HK_REQUIRE(dev != NULL && platform != NULL && platform->monotonic_ms != NULL);
    HK_REQUIRE((unsigned)until < HK_DEVICE_STATE_COUNT_ && timeout_ms <= HK_DEVICE_SPAN_MAX);
    hk_device_in *I = &dev->_internal;
    uint32_t start = platform->monotonic_ms(platform->ctx);
    I->visited = 1u << I->state;
    for (;;) {
        uint32_t now = platform->monotonic_ms(platform->ctx), dl = 0;
        HK_TRY(hk_device_step(dev, now, &dl));
        if ((I->visited & (1u << until)) != 0 || I->state == HK_DEVICE_STATE_STOPPED)
            return HK_OK;
        now = platform->monotonic_ms(platform->ctx);
        uint32_t wait = hk_device_reached_(now, dl) ? 0 : dl - now;
        if (timeout_ms != 0) {
            uint32_t end = start + timeout_ms;
            if (hk_device_reached_(now, end))
                return HK_ERR_TIMEOUT;
            if (end - now < wait)
                wait = end - now;
        }
        if (wait != 0)
            I->cfg.link.wait(I->cfg.link.ctx, wait);
    }
}

hk_result hk_device_stop(hk_device *dev)
{
    HK_REQUIRE(dev != NULL);
    dev->_internal.stop_requested = true;
    if (!dev->_internal.in_step)
        requests_apply(dev);
    return HK_OK;
}

hk_result hk_device_reprovision(hk_device *dev)
{
    HK_REQUIRE(dev != NULL);
    hk_device_in *I = &dev->_internal;
    if (I->state == HK_DEVICE_STATE_FAILED || I->state == HK_DEVICE_STATE_STOPPED)
        return HK_ERR_STATE;
    if (I->state <= HK_DEVICE_STATE_RECORD) {
        I->force_dps = true; /* the identity is not read yet: RECORD goes to DPS */
        return HK_OK;
    }
    I->reprovision_requested = true;
    if (!I->in_step)
        requests_apply(dev);
    return HK_OK;
}

hk_device_state hk_device_state_get(const hk_device *dev)
{
    return dev == NULL ? HK_DEVICE_STATE_FAILED : (hk_device_state)dev->_internal.state;
}

hk_result hk_device_registration_id_get(const hk_device *dev, const char **out_id)
{
    HK_REQUIRE(dev != NULL && out_id != NULL);
    if (dev->_internal.registration_id[0] == '\0')
        return HK_ERR_STATE;
    *out_id = dev->_internal.registration_id;
    return HK_OK;
}

hk_result hk_device_assignment_get(const hk_device *dev, const char **out_hub,
                               const char **out_device_id)
{
    HK_REQUIRE(dev != NULL && out_hub != NULL && out_device_id != NULL);
    const hk_device_in *I = &dev->_internal;
    if (!(I->has_record || I->assigned) || I->hub[0] == '\0')
        return HK_ERR_DEVICE_NOT_ASSIGNED;
    *out_hub = I->hub;
    *out_device_id = I->device_id;
    return HK_OK;
}
