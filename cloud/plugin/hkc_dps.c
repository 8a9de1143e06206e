/*
 * hubkey-cloud plugin, DPS half: answers $dps/registrations/... requests.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "hkc_dps.h"

#define CHAIN_MAX 8
#define CSR_API_VERSION "2025-07-01-preview"

/* $dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}] with an Azure error body:
 * {"errorCode":401002,"trackingId":"<uuid>","message":"...","timestampUtc":"..."} */
static void dps_error(struct ctx *c, struct client *cl, const char *rid, int status, int code,
                      const char *message, int retry_after)
{
    char ts[40];
    hkc_time_utc(ts, sizeof(ts));
    char *tracking = hkc_uuid();
    json_t *body = json_pack("{s:i,s:s,s:s,s:s}", "errorCode", code, "trackingId", tracking,
                             "message", message, "timestampUtc", ts);
    char *topic = retry_after > 0
                      ? hkc_printf("$dps/registrations/res/%d/?$rid=%s&retry-after=%d", status,
                                   rid, retry_after)
                      : hkc_printf("$dps/registrations/res/%d/?$rid=%s", status, rid);
    send_json(c, cl->client_id, topic, body, true);
    mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> %d %d %s", cl->id, status, code,
                         message);
    free(topic);
    free(tracking);
    json_decref(body);
}

/* A storage failure answered as DPS answers an internal error. */
static void dps_storage_error(struct ctx *c, struct client *cl, const char *rid)
{
    dps_error(c, cl, rid, 500, 500000, "Internal server error.", 0);
}

/* Registration rate: a token bucket of reg_rate_per_min tokens refilled
 * evenly over a minute. Returns 0 when admitted, else seconds to wait. */
static int reg_rate_wait(struct ctx *c)
{
    if (c->s.reg_rate_per_min <= 0)
        return 0;
    uint64_t now = hkc_now_ms();
    double cap = (double)c->s.reg_rate_per_min;
    if (c->reg_last_ms == 0)
        c->reg_tokens = cap;
    else
        c->reg_tokens += (double)(now - c->reg_last_ms) * cap / 60000.0;
    if (c->reg_tokens > cap)
        c->reg_tokens = cap;
    c->reg_last_ms = now;
    if (c->reg_tokens >= 1.0) {
        c->reg_tokens -= 1.0;
        return 0;
    }
    double ms = (1.0 - c->reg_tokens) * 60000.0 / cap;
    return (int)(ms / 1000.0) + 1;
}

static unsigned poll_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % POLL_BUCKETS;
}

/* Per-device poll limit (5 per 10 s by default): a sliding window of the
 * accepted poll times. Returns 0 when admitted, else seconds to wait. */
static int poll_wait(struct ctx *c, const char *reg_id)
{
    char *key = hkc_strdup(reg_id);
    for (char *p = key; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    unsigned h = poll_hash(key);
    struct poll_entry *e = c->polls[h];
    while (e && strcmp(e->reg_id, key) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            free(key);
            return 0;
        }
        e->reg_id = key;
        e->next = c->polls[h];
        c->polls[h] = e;
    } else {
        free(key);
    }
    uint64_t now = hkc_now_ms();
    uint64_t window = (uint64_t)c->s.poll_window_ms;
    int keep = 0;
    for (int i = 0; i < e->n; i++)
        if (now - e->t[i] < window)
            e->t[keep++] = e->t[i];
    e->n = keep;
    if (e->n >= c->s.poll_limit) {
        uint64_t wait = e->t[e->n - c->s.poll_limit] + window - now;
        return (int)((wait + 999) / 1000);
    }
    e->t[e->n++] = now;
    return 0;
}

void polls_gc(struct ctx *c)
{
    uint64_t now = hkc_now_ms();
    for (int b = 0; b < POLL_BUCKETS; b++) {
        struct poll_entry **pp = &c->polls[b];
        while (*pp) {
            struct poll_entry *e = *pp;
            if (e->n == 0 || now - e->t[e->n - 1] >= (uint64_t)c->s.poll_window_ms) {
                *pp = e->next;
                free(e->reg_id);
                free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

/* Every uploaded CA and every group certificate, for the chain walk. Parsing
 * PEM is costly in OpenSSL 3, so the set is kept until the database changes
 * (the plugin's own writes do not count: SQLite's data_version moves only for
 * commits by other connections, i.e. the CLI). */
void cas_free(struct ctx *c)
{
    hkc_pki_free_certs(c->cas, c->cas_n);
    c->cas = NULL;
    c->cas_n = 0;
}

static X509 *const *load_cas(struct ctx *c, size_t *out_n)
{
    if (c->cas_stale || !c->cas) {
        cas_free(c);
        json_t *rows = hkc_db_query(c->db,
                                    "SELECT pem FROM cas UNION ALL "
                                    "SELECT cert_pem AS pem FROM enrollments WHERE kind='group'",
                                    NULL);
        size_t n = json_array_size(rows);
        c->cas = calloc(n ? n : 1, sizeof(*c->cas));
        for (size_t i = 0; c->cas && i < n; i++) {
            X509 *x = hkc_pki_from_pem(hkc_row_str(json_array_get(rows, i), "pem"));
            if (x)
                c->cas[c->cas_n++] = x;
        }
        c->cas_stale = rows == NULL; /* a failed read is retried next time */
        json_decref(rows);
    }
    *out_n = c->cas_n;
    return c->cas;
}

/* The enrollment that decides for this device: individual first (by
 * registration ID, attestation by thumbprint), then the nearest group on the
 * leaf's issuer chain. Returns the enrollment row, or NULL with *out_status /
 * *out_code / *out_msg describing the refusal (status 0 = "disabled"). */
static json_t *find_enrollment(struct ctx *c, struct client *cl, int *out_status, int *out_code,
                               const char **out_msg)
{
    *out_status = 401;
    *out_code = 401002;
    *out_msg = "Invalid certificate.";
    json_t *ind = hkc_db_row(c->db,
                             "SELECT * FROM enrollments WHERE kind='individual' AND "
                             "lower(name)=lower(?)",
                             "s", cl->id);
    if (ind) {
        if (!hkc_row_int(ind, "enabled")) {
            *out_status = 0;
            json_decref(ind);
            return NULL;
        }
        const char *want = hkc_row_str(ind, "sha256");
        if (want && strcasecmp(want, cl->sha256) == 0)
            return ind;
        json_decref(ind);
        return NULL;
    }
    size_t n = 0;
    X509 *const *cas = load_cas(c, &n);
    size_t idx[CHAIN_MAX];
    size_t depth = cas ? hkc_pki_ancestry(cl->leaf, cas, n, idx, CHAIN_MAX) : 0;
    json_t *found = NULL;
    for (size_t i = 0; i < depth && !found; i++) {
        char s1[41], s2[65];
        hkc_pki_thumbprints(cas[idx[i]], s1, s2);
        json_t *g = hkc_db_row(c->db,
                               "SELECT * FROM enrollments WHERE kind='group' AND sha256=? "
                               "ORDER BY enabled ASC LIMIT 1",
                               "s", s2);
        if (!g)
            continue;
        if (!hkc_row_int(g, "enabled")) {
            *out_status = 0;
            json_decref(g);
            break;
        }
        found = g;
    }
    return found;
}

/* Splits the enrollment's comma-separated hub list, or takes every hub that
 * takes part in allocation. Only hubs that exist are returned. */
static json_t *candidate_hubs(struct ctx *c, json_t *enr)
{
    const char *list = hkc_row_str(enr, "hubs");
    json_t *all = hkc_db_query(c->db, "SELECT name, weight, apply_allocation FROM hubs "
                                      "ORDER BY name", NULL);
    json_t *out = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(all, i, h) {
        const char *name = hkc_row_str(h, "name");
        bool take;
        if (list && *list) {
            take = false;
            char *copy = hkc_strdup(list), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (hkc_streq_nocase(t, name))
                    take = true;
            free(copy);
        } else {
            take = hkc_row_int(h, "apply_allocation") != 0;
        }
        if (take)
            json_array_append(out, h);
    }
    json_decref(all);
    return out;
}

/* Picks the hub for a registration: static needs exactly one named hub;
 * hashed is weighted rendezvous hashing of the registration ID. */
static char *allocate(struct ctx *c, json_t *enr, const char *reg_id)
{
    json_t *hubs = candidate_hubs(c, enr);
    size_t n = json_array_size(hubs);
    char *pick = NULL;
    const char *policy = hkc_row_str(enr, "allocation");
    if (policy && strcmp(policy, "static") == 0) {
        if (n == 1)
            pick = hkc_strdup(hkc_row_str(json_array_get(hubs, 0), "name"));
    } else if (n > 0) {
        const char **names = calloc(n, sizeof(*names));
        int *weights = calloc(n, sizeof(*weights));
        if (names && weights) {
            for (size_t i = 0; i < n; i++) {
                names[i] = hkc_row_str(json_array_get(hubs, i), "name");
                weights[i] = (int)hkc_row_int(json_array_get(hubs, i), "weight");
            }
            int k = hkc_hash_pick(reg_id, names, weights, n);
            if (k >= 0)
                pick = hkc_strdup(names[k]);
        }
        free(names);
        free(weights);
    }
    json_decref(hubs);
    return pick;
}

static char *initial_desired(json_t *enr)
{
    const char *twin = hkc_row_str(enr, "initial_twin");
    json_t *t = twin ? json_loads(twin, 0, NULL) : NULL;
    json_t *desired = json_object();
    if (json_is_object(t)) {
        /* Accept either {"desired":{...}} or the desired properties themselves. */
        json_t *d = json_object_get(t, "desired");
        hkc_json_merge(desired, json_is_object(d) ? d : t);
    }
    char *s = json_dumps(desired, JSON_COMPACT);
    json_decref(t);
    json_decref(desired);
    return s;
}

struct assignment {
    char *reg_id; /* as first stored: the case of the first registration */
    char *hub;
    char *device_id;
    const char *substatus;
    char *created;
    char *updated;
    char *etag;
};

static void assignment_clear(struct assignment *a)
{
    free(a->reg_id);
    free(a->hub);
    free(a->device_id);
    free(a->created);
    free(a->updated);
    free(a->etag);
}

/* Applies allocation and the enrollment's reprovision policy, creating,
 * moving or refreshing the hub identity. Runs inside a transaction.
 * Returns false when no hub can be allocated. */
static bool assign(struct ctx *c, struct client *cl, json_t *enr, const char *sha1,
                   const char *sha256, const char *cert_pem, struct assignment *a)
{
    memset(a, 0, sizeof(*a));
    char now[40];
    hkc_time_utc(now, sizeof(now));
    const char *kind = hkc_row_str(enr, "kind");
    const char *enr_dev = hkc_row_str(enr, "device_id");
    const char *policy = hkc_row_str(enr, "reprovision");
    /* Registration IDs are case-insensitive (reg_id is COLLATE NOCASE): a
     * device registering as "DevC" after "devc" continues that registration,
     * under the ID it was first stored with, and so keeps its device ID (and
     * with it the hub identity, enabled or not). */
    json_t *prev = hkc_db_row(c->db, "SELECT * FROM registrations WHERE reg_id=?", "s", cl->id);
    const char *reg_id = prev && hkc_row_str(prev, "reg_id") ? hkc_row_str(prev, "reg_id") : cl->id;
    a->reg_id = hkc_strdup(reg_id);
    a->device_id = hkc_strdup(strcmp(kind, "individual") == 0 && enr_dev && *enr_dev ? enr_dev
                                                                                  : reg_id);
    const char *prev_hub = hkc_row_str(prev, "hub");
    const char *prev_dev = hkc_row_str(prev, "device_id");
    bool was_assigned = prev && prev_hub && hkc_row_str(prev, "status") &&
                        strcmp(hkc_row_str(prev, "status"), "assigned") == 0;

    if (was_assigned && strcmp(policy, "never") == 0)
        a->hub = hkc_strdup(prev_hub);
    else
        a->hub = allocate(c, enr, reg_id);
    if (!a->hub) {
        json_decref(prev);
        return false;
    }
    bool moving = was_assigned && !hkc_streq_nocase(a->hub, prev_hub);
    json_t *old = was_assigned ? hkc_db_row(c->db,
                                            "SELECT * FROM devices WHERE hub=? AND device_id=?",
                                            "ss", prev_hub, prev_dev)
                               : NULL;
    if (!was_assigned) {
        a->substatus = "initialAssignment";
    } else if (!moving) {
        const char *ss = hkc_row_str(prev, "substatus");
        a->substatus = ss && strcmp(ss, "deviceDataMigrated") == 0   ? "deviceDataMigrated"
                       : ss && strcmp(ss, "deviceDataReset") == 0    ? "deviceDataReset"
                       : ss && strcmp(ss, "reprovisionedToInitialAssignment") == 0
                           ? "reprovisionedToInitialAssignment"
                           : "initialAssignment";
    } else if (hkc_streq_nocase(a->hub, hkc_row_str(prev, "initial_hub"))) {
        a->substatus = "reprovisionedToInitialAssignment";
    } else if (strcmp(policy, "migrate") == 0) {
        a->substatus = "deviceDataMigrated";
    } else {
        a->substatus = "deviceDataReset";
    }

    char *desired = initial_desired(enr);
    if (moving) {
        bool migrate = strcmp(policy, "migrate") == 0 && old;
        hkc_db_exec(c->db, "DELETE FROM devices WHERE hub=? AND device_id=?", "ss", a->hub,
                    a->device_id);
        if (migrate)
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "desired_version,reported,reported_version,source,created) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,'dps',?)",
                        "ssissssisis", a->hub, a->device_id, (int64_t)hkc_row_int(old, "enabled"),
                        sha1, sha256, cert_pem, hkc_row_str(old, "desired"),
                        (int64_t)hkc_row_int(old, "desired_version"), hkc_row_str(old, "reported"),
                        (int64_t)hkc_row_int(old, "reported_version"), now);
        else
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "source,created) VALUES(?,?,1,?,?,?,?,'dps',?)",
                        "sssssss", a->hub, a->device_id, sha1, sha256, cert_pem, desired, now);
        hkc_db_exec(c->db, "DELETE FROM devices WHERE hub=? AND device_id=?", "ss", prev_hub,
                    prev_dev);
    } else {
        int changed = hkc_db_exec(c->db,
                                  "UPDATE devices SET sha1=?, sha256=?, cert_pem=? "
                                  "WHERE hub=? AND device_id=?",
                                  "sssss", sha1, sha256, cert_pem, a->hub, a->device_id);
        if (changed == 0)
            hkc_db_exec(c->db,
                        "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,desired,"
                        "source,created) VALUES(?,?,1,?,?,?,?,'dps',?)",
                        "sssssss", a->hub, a->device_id, sha1, sha256, cert_pem, desired, now);
    }
    free(desired);

    a->created = hkc_strdup(prev && hkc_row_str(prev, "created") ? hkc_row_str(prev, "created")
                                                                  : now);
    a->updated = hkc_strdup(now);
    a->etag = hkc_etag();
    const char *initial = prev && hkc_row_str(prev, "initial_hub") ? hkc_row_str(prev, "initial_hub")
                                                                   : a->hub;
    hkc_db_exec(c->db,
                "INSERT INTO registrations(reg_id,enrollment_kind,enrollment_name,hub,initial_hub,"
                "device_id,status,substatus,created,updated,etag,count) "
                "VALUES(?,?,?,?,?,?,'assigned',?,?,?,?,1) ON CONFLICT(reg_id) DO UPDATE SET "
                "enrollment_kind=excluded.enrollment_kind,enrollment_name=excluded.enrollment_name,"
                "hub=excluded.hub,device_id=excluded.device_id,status='assigned',"
                "substatus=excluded.substatus,updated=excluded.updated,etag=excluded.etag,"
                "count=count+1,error_code=NULL,error_message=NULL",
                "ssssssssss", reg_id, kind, hkc_row_str(enr, "name"), a->hub, initial,
                a->device_id, a->substatus, a->created, a->updated, a->etag);
    json_decref(old);
    json_decref(prev);
    return true;
}

/* "CN=Root, O=Example, C=US", as DPS writes certificate names. Heap. */
static char *name_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_DN_REV |
                                                 ASN1_STRFLGS_RFC2253) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out ? out : hkc_strdup("");
}

/* ASN.1 time as "2024-01-31T12:00:00Z" into out (at least 21 bytes). */
static void time_text(const ASN1_TIME *t, char *out, size_t cap)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "%s", "");
}

/* The enrollment's trust bundle in DPS's shape (registrationState.trustBundle,
 * api-version 2021-11-01-preview):
 *   {"certificates":[{"certificate":"-----BEGIN CERTIFICATE-----\n...",
 *     "metadata":{"subjectName":"CN=Root","sha1Thumbprint":"..","sha256Thumbprint":"..",
 *      "issuerName":"CN=Root","notBeforeUtc":"2024-..Z","notAfterUtc":"..","serialNumber":"..",
 *      "version":3}}],
 *    "id":"<enrollment name>","createdDateTime":"..","lastModifiedDateTime":"..","etag":".."}
 * NULL when the enrollment has none. */
static json_t *trust_bundle_json(json_t *enr)
{
    const char *pem = hkc_row_str(enr, "trust_bundle");
    size_t n = 0;
    X509 **certs = pem && *pem ? hkc_pki_parse_certs(pem, &n) : NULL;
    if (n == 0) {
        hkc_pki_free_certs(certs, n);
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char s1[41], s2[65], nb[32], na[32];
        hkc_pki_thumbprints(certs[i], s1, s2);
        time_text(X509_get0_notBefore(certs[i]), nb, sizeof(nb));
        time_text(X509_get0_notAfter(certs[i]), na, sizeof(na));
        char *subject = name_text(X509_get_subject_name(certs[i]));
        char *issuer = name_text(X509_get_issuer_name(certs[i]));
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certs[i]), NULL);
        char *serial = bn ? BN_bn2hex(bn) : NULL;
        char *text = hkc_pki_to_pem(certs[i]);
        json_array_append_new(
            list, json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}}", "certificate",
                            text ? text : "", "metadata", "subjectName", subject,
                            "sha1Thumbprint", s1, "sha256Thumbprint", s2, "issuerName", issuer,
                            "notBeforeUtc", nb, "notAfterUtc", na, "serialNumber",
                            serial ? serial : "", "version",
                            (int)X509_get_version(certs[i]) + 1));
        free(text);
        OPENSSL_free(serial);
        BN_free(bn);
        free(subject);
        free(issuer);
    }
    hkc_pki_free_certs(certs, n);
    /* A stable etag: the bundle's content decides it. */
    unsigned char digest[32];
    char hex[65];
    SHA256((const unsigned char *)pem, strlen(pem), digest);
    hkc_hex(digest, 8, hex);
    char *quoted = hkc_printf("\"%s\"", hex);
    char *etag = hkc_base64((const uint8_t *)quoted, strlen(quoted));
    const char *created = hkc_row_str(enr, "created");
    json_t *out = json_pack("{s:o,s:s,s:s,s:s,s:s}", "certificates", list, "id",
                            hkc_row_str(enr, "name"), "createdDateTime", created ? created : "",
                            "lastModifiedDateTime", created ? created : "", "etag", etag);
    free(quoted);
    free(etag);
    return out;
}

/* Records a failed registration attempt for the listing. */
static void record_failure(struct ctx *c, const char *reg_id, json_t *enr, int code,
                           const char *msg)
{
    char now[40];
    hkc_time_utc(now, sizeof(now));
    hkc_db_exec(c->db,
                "INSERT INTO registrations(reg_id,enrollment_kind,enrollment_name,status,created,"
                "updated,count,error_code,error_message) VALUES(?,?,?,'failed',?,?,0,?,?) "
                "ON CONFLICT(reg_id) DO UPDATE SET status='failed',updated=excluded.updated,"
                "error_code=excluded.error_code,error_message=excluded.error_message",
                "sssssis", reg_id, hkc_row_str(enr, "kind"), hkc_row_str(enr, "name"), now, now,
                (int64_t)code, msg);
}

/* Handles $dps/registrations/PUT/iotdps-register/?$rid={rid} with a body like
 *   {"registrationId":"sn0123ABCD4567EF01","payload":{"modelId":"dtmi:x;1"}}
 * (an empty body is accepted too: the registration ID comes from the username). */
int dps_register(struct ctx *c, struct client *cl, const char *rid, const void *payload,
                 uint32_t len)
{
    if (drop_at(c, "dps-register")) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: fault: drop %s at dps-register", cl->id);
        return MOSQ_ERR_UNKNOWN;
    }
    if (inject_error(c)) {
        dps_error(c, cl, rid, 500, 500000, "Internal server error (injected fault).", 0);
        return MOSQ_ERR_SUCCESS;
    }
    json_t *req = NULL;
    if (len > 0) {
        json_error_t jerr;
        req = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(req)) {
            json_decref(req);
            dps_error(c, cl, rid, 400, 400001, "The request body is not a valid JSON object.", 0);
            return MOSQ_ERR_SUCCESS;
        }
        json_t *id = json_object_get(req, "registrationId");
        if (id && (!json_is_string(id) || !hkc_streq_nocase(json_string_value(id), cl->id))) {
            json_decref(req);
            dps_error(c, cl, rid, 400, 400004, "Invalid RegistrationId.", 0);
            return MOSQ_ERR_SUCCESS;
        }
    }
    json_t *csr = json_object_get(req, "csr");
    if (csr && (!json_is_string(csr) || strcmp(cl->api_version, CSR_API_VERSION) != 0)) {
        json_decref(req);
        dps_error(c, cl, rid, 400, 400040,
                  "A csr needs api-version " CSR_API_VERSION " and a Base64 string.", 0);
        return MOSQ_ERR_SUCCESS;
    }
    int wait = reg_rate_wait(c);
    if (wait > 0) {
        json_decref(req);
        dps_error(c, cl, rid, 429, 429001, "Registration rate limit exceeded.", wait);
        return MOSQ_ERR_SUCCESS;
    }

    int status, code;
    const char *msg;
    c->db_failed = false;
    json_t *enr = find_enrollment(c, cl, &status, &code, &msg);
    if (c->db_failed) {
        json_decref(enr);
        json_decref(req);
        dps_storage_error(c, cl, rid);
        return MOSQ_ERR_SUCCESS;
    }
    if (!enr && status == 0) {
        /* {"operationId":"","status":"disabled","registrationState":{"registrationId":"x","status":"disabled"}} */
        json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s}}", "operationId", "", "status", "disabled",
                                 "registrationState", "registrationId", cl->id, "status",
                                 "disabled");
        char *topic = hkc_printf("$dps/registrations/res/200/?$rid=%s", rid);
        send_json(c, cl->client_id, topic, body, true);
        free(topic);
        json_decref(body);
        json_decref(req);
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> disabled", cl->id);
        return MOSQ_ERR_SUCCESS;
    }
    if (!enr) {
        json_decref(req);
        dps_error(c, cl, rid, status, code, msg, 0);
        return MOSQ_ERR_SUCCESS;
    }

    /* Certificate issuance (2025-07-01-preview): the hub identity then uses
     * the issued certificate's thumbprint. */
    X509 *issued = NULL;
    if (csr) {
        size_t der_len = 0;
        uint8_t *der = hkc_base64_decode(json_string_value(csr), &der_len);
        const char *why = "CSR is not valid Base64";
        if (der && c->issuing_ca && c->issuing_key)
            issued = hkc_pki_issue_csr(der, der_len, cl->id, c->issuing_ca, c->issuing_key,
                                       c->s.issued_days, &why);
        else if (der)
            why = "certificate issuance is not configured";
        free(der);
        if (!issued) {
            json_decref(enr);
            json_decref(req);
            dps_error(c, cl, rid, 400, 400040, why, 0);
            return MOSQ_ERR_SUCCESS;
        }
    }
    char sha1[41], sha256[65];
    if (issued)
        hkc_pki_thumbprints(issued, sha1, sha256);
    else {
        memcpy(sha1, cl->sha1, sizeof(sha1));
        memcpy(sha256, cl->sha256, sizeof(sha256));
    }
    char *cert_pem = hkc_pki_to_pem(issued ? issued : cl->leaf);

    char *op_id = hkc_operation_id();
    json_t *state;
    struct assignment a;
    hkc_db_begin(c->db);
    bool ok = assign(c, cl, enr, sha1, sha256, cert_pem, &a);
    if (ok) {
        state = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "x509",
                          strcmp(hkc_row_str(enr, "kind"), "group") == 0
                              ? json_pack("{s:s}", "enrollmentGroupId", hkc_row_str(enr, "name"))
                              : json_object(),
                          "registrationId", a.reg_id, "createdDateTimeUtc", a.created,
                          "assignedHub", a.hub, "deviceId", a.device_id, "status", "assigned",
                          "substatus", a.substatus, "lastUpdatedDateTimeUtc", a.updated, "etag",
                          a.etag);
        const char *pl = hkc_row_str(enr, "payload");
        json_t *pj = pl ? json_loads(pl, 0, NULL) : NULL;
        if (pj)
            json_object_set_new(state, "payload", pj);
        json_t *bundle = trust_bundle_json(enr);
        if (bundle)
            json_object_set_new(state, "trustBundle", bundle);
        if (issued) {
            json_t *chain = json_array();
            X509 *certs[2] = {issued, c->issuing_ca};
            for (int i = 0; i < 2; i++) {
                unsigned char *der = NULL;
                int dl = i2d_X509(certs[i], &der);
                if (dl > 0) {
                    char *b64 = hkc_base64(der, (size_t)dl);
                    json_array_append_new(chain, json_string(b64));
                    free(b64);
                }
                OPENSSL_free(der);
            }
            json_object_set_new(state, "issuedCertificateChain", chain);
        }
        assignment_clear(&a);
    } else {
        char now[40];
        hkc_time_utc(now, sizeof(now));
        char *etag = hkc_etag();
        state = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "registrationId", cl->id,
                          "createdDateTimeUtc", now, "status", "failed", "errorCode", 400208,
                          "errorMessage", "No linked IoT hub is available for allocation.",
                          "lastUpdatedDateTimeUtc", now, "etag", etag);
        free(etag);
        record_failure(c, cl->id, enr, 400208, "No linked IoT hub is available for allocation.");
        assignment_clear(&a);
    }
    json_t *result = json_pack("{s:s,s:s,s:o}", "operationId", op_id, "status",
                               ok ? "assigned" : "failed", "registrationState", state);
    char *text = json_dumps(result, JSON_COMPACT);
    char now[40];
    hkc_time_utc(now, sizeof(now));
    hkc_db_exec(c->db, "INSERT INTO operations(op_id,reg_id,result,created) VALUES(?,?,?,?)",
                "ssss", op_id, cl->id, text, now);
    /* Any storage error in the transaction: nothing was decided. */
    bool stored = !c->db_failed && hkc_db_commit(c->db);
    if (!stored)
        hkc_db_rollback(c->db);
    free(text);
    json_decref(result);
    if (stored) {
        /* {"operationId":"4.<hex>.<uuid>","status":"assigning"} */
        json_t *body = json_pack("{s:s,s:s}", "operationId", op_id, "status", "assigning");
        char *topic = hkc_printf("$dps/registrations/res/202/?$rid=%s&retry-after=%d", rid,
                                 c->s.retry_after_s);
        send_json(c, cl->client_id, topic, body, true);
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: dps %s -> 202 %s", cl->id, op_id);
        free(topic);
        json_decref(body);
    } else {
        dps_storage_error(c, cl, rid);
    }
    free(op_id);
    free(cert_pem);
    X509_free(issued);
    json_decref(enr);
    json_decref(req);
    return MOSQ_ERR_SUCCESS;
}

/* Handles $dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.0a1b...:
 * answers the stored terminal state with 200. */
int dps_poll(struct ctx *c, struct client *cl, const char *rid, const char *query)
{
    if (drop_at(c, "dps-poll")) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "hubkey-cloud: fault: drop %s at dps-poll", cl->id);
        return MOSQ_ERR_UNKNOWN;
    }
    int wait = poll_wait(c, cl->id);
    if (wait > 0) {
        dps_error(c, cl, rid, 429, 429002, "Operation status polling rate exceeded.", wait);
        return MOSQ_ERR_SUCCESS;
    }
    if (inject_error(c)) {
        dps_error(c, cl, rid, 500, 500000, "Internal server error (injected fault).", 0);
        return MOSQ_ERR_SUCCESS;
    }
    char *op_raw = hkc_query_get(query, "operationId");
    char *op = op_raw ? hkc_url_decode(op_raw) : NULL;
    c->db_failed = false;
    json_t *row = op ? hkc_db_row(c->db,
                                  "SELECT result FROM operations WHERE op_id=? AND "
                                  "lower(reg_id)=lower(?)",
                                  "ss", op, cl->id)
                     : NULL;
    if (!row && c->db_failed) {
        dps_storage_error(c, cl, rid);
    } else if (!row) {
        dps_error(c, cl, rid, 404, 404002, "Operation not found.", 0);
    } else {
        const char *text = hkc_row_str(row, "result");
        char *topic = hkc_printf("$dps/registrations/res/200/?$rid=%s", rid);
        send_to(c, cl->client_id, topic, text, strlen(text), 0, true);
        free(topic);
    }
    json_decref(row);
    free(op);
    free(op_raw);
    return MOSQ_ERR_SUCCESS;
}
