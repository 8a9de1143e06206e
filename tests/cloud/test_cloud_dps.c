/*
 * hubkey-cloud DPS behaviour, end to end: a real mosquitto with the plugin,
 * libmosquitto as the device, certificates made with OpenSSL.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hk_test.h"
#include "hkc_pki.h"
#include "hkc_util.h"
#include "hkt_env.h"

static struct hkt_cloud cloud;
static struct hkt_cert root, signer;

static const char *state_str(json_t *body, const char *field)
{
    return json_string_value(json_object_get(json_object_get(body, "registrationState"), field));
}

static int registrations_count(const char *reg_id)
{
    json_t *rows = hkt_cli_json(&cloud, "registrations", "--json", NULL);
    size_t i;
    json_t *r;
    int count = -1;
    json_array_foreach(rows, i, r)
        if (hkc_streq_nocase(json_string_value(json_object_get(r, "reg_id")), reg_id))
            count = (int)json_integer_value(json_object_get(r, "count"));
    json_decref(rows);
    return count;
}

static void test_group_registration_then_hub_and_telemetry(void)
{
    struct hkt_cert dev;
    const struct hkt_cert *chain[] = {&signer, NULL};
    HK_CHECK(hkt_device_make(&cloud, &dev, "sn0123abcd4567ef01", &signer, chain));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "signer-group", "--cert",
                        signer.cert_path, NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "sn0123abcd4567ef01", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(body != NULL);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "assigned") == 0);
    const char *hub = state_str(body, "assignedHub");
    HK_CHECK(hub && strstr(hub, ".hubkey.test"));
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "sn0123abcd4567ef01") == 0);
    HK_CHECK(strcmp(state_str(body, "substatus") ?: "", "initialAssignment") == 0);
    HK_CHECK(strcmp(state_str(body, "registrationId") ?: "", "sn0123abcd4567ef01") == 0);
    const char *created = state_str(body, "createdDateTimeUtc");
    HK_CHECK(created && strlen(created) == 28 && created[10] == 'T' && created[27] == 'Z');
    HK_CHECK(state_str(body, "lastUpdatedDateTimeUtc") && state_str(body, "etag"));
    json_t *x509 = json_object_get(json_object_get(body, "registrationState"), "x509");
    HK_CHECK(strcmp(json_string_value(json_object_get(x509, "enrollmentGroupId")) ?: "",
                    "signer-group") == 0);
    const char *op = json_string_value(json_object_get(body, "operationId"));
    HK_CHECK(op && strncmp(op, "4.", 2) == 0);
    HK_CHECK_EQ(registrations_count("sn0123abcd4567ef01"), 1);

    /* The assigned hub accepts the same identity; telemetry is stored. */
    struct hkt_mqtt q;
    char *user = hkt_hub_username(hub, "sn0123abcd4567ef01");
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "sn0123abcd4567ef01", user), 0);
    free(user);
    const char *topic = "devices/sn0123abcd4567ef01/messages/events/"
                        "%24.ct=application%2Fjson&%24.ce=utf-8&temp%20alert=high%26hot";
    HK_CHECK(hkt_mqtt_publish(&q, topic, "{\"t\":21}", 8, 1));
    hkt_mqtt_close(&q);
    json_t *tel = hkt_cli_json(&cloud, "telemetry", "--json", "--device", "sn0123abcd4567ef01",
                               NULL);
    HK_CHECK_EQ(json_array_size(tel), 1);
    json_t *t0 = json_array_get(tel, 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(t0, "body")) ?: "", "{\"t\":21}") == 0);
    json_t *props = json_object_get(t0, "properties");
    HK_CHECK(strcmp(json_string_value(json_object_get(props, "$.ct")) ?: "", "application/json") == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(props, "temp alert")) ?: "", "high&hot") == 0);
    json_decref(tel);

    /* Warm boot: connecting to the hub again adds no DPS registration. */
    user = hkt_hub_username(hub, "sn0123abcd4567ef01");
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "sn0123abcd4567ef01", user), 0);
    hkt_mqtt_close(&q);
    free(user);
    HK_CHECK_EQ(registrations_count("sn0123abcd4567ef01"), 1);
    json_decref(body);
    hkt_cert_free(&dev);
}

static void test_group_on_root_with_uploaded_intermediate(void)
{
    struct hkt_cert r2, s2, dev;
    HK_CHECK(hkt_ca_make(&cloud, &r2, "Root Two", NULL));
    HK_CHECK(hkt_ca_make(&cloud, &s2, "Signer Two", &r2));
    const struct hkt_cert *chain[] = {&s2, NULL};
    HK_CHECK(hkt_device_make(&cloud, &dev, "root-two-dev", &s2, chain));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "root-two", "--cert",
                        r2.cert_path, NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "ca", "add", s2.cert_path, NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "root-two-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "assigned") == 0);
    json_decref(body);
    hkt_cert_free(&r2);
    hkt_cert_free(&s2);
    hkt_cert_free(&dev);
}

static void test_individual_before_group(void)
{
    /* Self-signed device with an individual enrollment and its own device ID. */
    struct hkt_cert solo, grouped;
    HK_CHECK(hkt_device_make(&cloud, &solo, "solo-1", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "solo-1", "--cert",
                        solo.cert_path, "--device-id", "solo-device", NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &solo, "solo-1", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "solo-device") == 0);
    json_decref(body);

    /* A device under the enrolled group, but with an individual enrollment:
     * the individual one decides (its device ID), and when disabled it blocks. */
    const struct hkt_cert *chain[] = {&signer, NULL};
    HK_CHECK(hkt_device_make(&cloud, &grouped, "ind-over-group", &signer, chain));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "ind-over-group", "--cert",
                        grouped.cert_path, "--device-id", "from-individual", NULL), 0);
    body = hkt_dps_register(&cloud, &grouped, "ind-over-group", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "from-individual") == 0);
    json_decref(body);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "disable", "ind-over-group", NULL),
                0);
    body = hkt_dps_register(&cloud, &grouped, "ind-over-group", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "disabled") == 0);
    json_decref(body);
    /* Removing it lets the group take over (device ID = registration ID). */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "remove", "ind-over-group", NULL),
                0);
    body = hkt_dps_register(&cloud, &grouped, "ind-over-group", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "ind-over-group") == 0);
    json_decref(body);

    /* An individual enrollment whose certificate differs from the presented one: 401. */
    struct hkt_cert other;
    HK_CHECK(hkt_device_make(&cloud, &other, "solo-2", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "solo-2", "--cert",
                        other.cert_path, NULL), 0);
    struct hkt_cert impostor;
    HK_CHECK(hkt_device_make(&cloud, &impostor, "solo-2", &signer, chain));
    body = hkt_dps_register(&cloud, &impostor, "solo-2", NULL, &status);
    HK_CHECK_EQ(status, 401);
    HK_CHECK_EQ(json_integer_value(json_object_get(body, "errorCode")), 401002);
    HK_CHECK(json_string_value(json_object_get(body, "trackingId")));
    HK_CHECK(json_string_value(json_object_get(body, "timestampUtc")));
    HK_CHECK(json_string_value(json_object_get(body, "message")));
    json_decref(body);
    hkt_cert_free(&solo);
    hkt_cert_free(&grouped);
    hkt_cert_free(&other);
    hkt_cert_free(&impostor);
}

/* Registration IDs are case-insensitive: the same certificate registering
 * as "RegCase" after "regcase" is the same registration, keeps its device
 * ID, and a device disabled in the hub stays disabled. */
static void test_registration_id_case(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "regcase", &signer, chain));
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "regcase", NULL, &status);
    HK_CHECK_EQ(status, 200);
    char *hub = hkc_strdup(state_str(body, "assignedHub"));
    json_decref(body);
    HK_CHECK(hub != NULL);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "disable", "regcase", NULL), 0);

    body = hkt_dps_register(&cloud, &dev, "RegCase", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "assigned") == 0);
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "regcase") == 0);
    HK_CHECK(strcmp(state_str(body, "registrationId") ?: "", "regcase") == 0);
    HK_CHECK(hkc_streq_nocase(state_str(body, "assignedHub"), hub));
    json_decref(body);

    /* One hub identity, still disabled; one registration, counted twice. */
    json_t *devs = hkt_cli_json(&cloud, "devices", "--json", NULL);
    size_t i, found = 0;
    json_t *d;
    json_array_foreach(devs, i, d) {
        if (!hkc_streq_nocase(json_string_value(json_object_get(d, "device_id")), "regcase"))
            continue;
        found++;
        HK_CHECK(json_is_false(json_object_get(d, "enabled")));
    }
    HK_CHECK_EQ(found, 1);
    json_decref(devs);
    json_t *regs = hkt_cli_json(&cloud, "registrations", "--json", NULL);
    found = 0;
    json_array_foreach(regs, i, d)
        if (hkc_streq_nocase(json_string_value(json_object_get(d, "reg_id")), "regcase"))
            found++;
    HK_CHECK_EQ(found, 1);
    json_decref(regs);
    HK_CHECK_EQ(registrations_count("regcase"), 2);
    /* The hub refuses both spellings. */
    struct hkt_mqtt q;
    const char *ids[] = {"regcase", "RegCase"};
    for (int k = 0; k < 2; k++) {
        char *user = hkt_hub_username(hub, ids[k]);
        HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, ids[k], user), 5);
        hkt_mqtt_close(&q);
        free(user);
    }

    /* Individual enrollments too: one per registration ID whatever its
     * case; adding it again in another case replaces it. */
    struct hkt_cert solo;
    HK_CHECK(hkt_device_make(&cloud, &solo, "solocase", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "solocase", "--cert",
                        solo.cert_path, "--device-id", "solo-case-device", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "SoloCase", "--cert",
                        solo.cert_path, "--device-id", "solo-case-device", "--disabled", NULL),
                0);
    json_t *enr = hkt_cli_json(&cloud, "enroll", "individual", "list", "--json", NULL);
    found = 0;
    json_array_foreach(enr, i, d)
        if (hkc_streq_nocase(json_string_value(json_object_get(d, "name")), "solocase"))
            found++;
    HK_CHECK_EQ(found, 1);
    json_decref(enr);
    body = hkt_dps_register(&cloud, &solo, "solocase", NULL, &status);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "disabled") == 0);
    json_decref(body);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "enable", "SOLOCASE", NULL), 0);
    body = hkt_dps_register(&cloud, &solo, "SoloCase", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(state_str(body, "deviceId") ?: "", "solo-case-device") == 0);
    json_decref(body);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "remove", "SOLOcase", NULL), 0);
    free(hub);
    hkt_cert_free(&dev);
    hkt_cert_free(&solo);
}

/* An individual enrollment of a CA-signed device certificate: the TLS layer
 * needs the issuers up to a root. Given after the certificate in the --cert
 * file they are uploaded with it; given alone, the CLI says which issuer is
 * missing and how to upload it. */
static void test_individual_ca_signed(void)
{
    /* The certificate alone: a note naming the issuer and `ca add`. */
    struct hkt_cert root_a, dev_a;
    HK_CHECK(hkt_ca_make(&cloud, &root_a, "Chain Root A", NULL));
    HK_CHECK(hkt_device_make(&cloud, &dev_a, "ind-chain-a", &root_a, NULL));
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli_all(&cloud, &out, "enroll", "individual", "add", "ind-chain-a", "--cert",
                            dev_a.cert_path, NULL), 0);
    HK_CHECK(out && strstr(out, "CN=Chain Root A") && strstr(out, "hubkey-cloud ca add") &&
             strstr(out, "TLS handshake"));
    free(out);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev_a, "ind-chain-a", NULL, &status);
    HK_CHECK_EQ(status, -1); /* refused in the TLS handshake */
    json_decref(body);
    /* Doing what it says works. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "ca", "add", root_a.cert_path, NULL), 0);
    body = hkt_dps_register(&cloud, &dev_a, "ind-chain-a", NULL, &status);
    HK_CHECK_EQ(status, 200);
    json_decref(body);

    /* The chain in the file (leaf, intermediate, root): uploaded with it. */
    struct hkt_cert root_b, mid_b, dev_b;
    HK_CHECK(hkt_ca_make(&cloud, &root_b, "Chain Root B", NULL));
    HK_CHECK(hkt_ca_make(&cloud, &mid_b, "Chain Intermediate B", &root_b));
    const struct hkt_cert *chain_b[] = {&mid_b, &root_b, NULL};
    HK_CHECK(hkt_device_make(&cloud, &dev_b, "ind-chain-b", &mid_b, chain_b));
    out = NULL;
    HK_CHECK_EQ(hkt_cli_all(&cloud, &out, "enroll", "individual", "add", "ind-chain-b", "--cert",
                            dev_b.chain_path, NULL), 0);
    HK_CHECK(out && !strstr(out, "note"));
    free(out);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "ca", "list", NULL), 0);
    HK_CHECK(out && strstr(out, "Chain Root B") && strstr(out, "Chain Intermediate B"));
    free(out);
    body = hkt_dps_register(&cloud, &dev_b, "ind-chain-b", NULL, &status);
    HK_CHECK_EQ(status, 200);
    json_decref(body);
    /* A self-signed device certificate needs nothing more: no note. */
    struct hkt_cert solo;
    HK_CHECK(hkt_device_make(&cloud, &solo, "ind-chain-c", NULL, NULL));
    out = NULL;
    HK_CHECK_EQ(hkt_cli_all(&cloud, &out, "enroll", "individual", "add", "ind-chain-c", "--cert",
                            solo.cert_path, NULL), 0);
    HK_CHECK(out && !strstr(out, "note"));
    free(out);
    hkt_cert_free(&root_a), hkt_cert_free(&dev_a), hkt_cert_free(&root_b);
    hkt_cert_free(&mid_b), hkt_cert_free(&dev_b), hkt_cert_free(&solo);
}

/* An enrollment's trust bundle (a PEM file of CA certificates) comes back in
 * registrationState.trustBundle, in DPS's shape. */
static void test_trust_bundle(void)
{
    struct hkt_cert dev, extra;
    HK_CHECK(hkt_device_make(&cloud, &dev, "bundle-dev", NULL, NULL));
    HK_CHECK(hkt_ca_make(&cloud, &extra, "Bundle Extra CA", NULL));
    char *bundle = hkc_printf("%s/bundle.pem", cloud.root);
    X509 *pair[2] = {root.cert, extra.cert};
    HK_CHECK(hkc_pki_write_cert(bundle, pair, 2));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "bundle-dev", "--cert",
                        dev.cert_path, "--trust-bundle", bundle, NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "bundle-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    json_t *tb = json_object_get(json_object_get(body, "registrationState"), "trustBundle");
    json_t *certs = json_object_get(tb, "certificates");
    HK_CHECK_EQ(json_array_size(certs), 2);
    for (size_t i = 0; i < 2 && i < json_array_size(certs); i++) {
        json_t *e = json_array_get(certs, i);
        char *pem = hkc_pki_to_pem(pair[i]);
        HK_CHECK(strcmp(json_string_value(json_object_get(e, "certificate")) ?: "", pem) == 0);
        free(pem);
        json_t *md = json_object_get(e, "metadata");
        char s1[41], s2[65];
        hkc_pki_thumbprints(pair[i], s1, s2);
        HK_CHECK(strcmp(json_string_value(json_object_get(md, "sha1Thumbprint")) ?: "", s1) == 0);
        HK_CHECK(strcmp(json_string_value(json_object_get(md, "sha256Thumbprint")) ?: "", s2) ==
                 0);
        const char *subject = json_string_value(json_object_get(md, "subjectName"));
        HK_CHECK(subject && strstr(subject, i == 0 ? "CN=Test Root CA" : "CN=Bundle Extra CA"));
        HK_CHECK(json_string_value(json_object_get(md, "issuerName")));
        const char *nb = json_string_value(json_object_get(md, "notBeforeUtc"));
        HK_CHECK(nb && strlen(nb) == 20 && nb[10] == 'T' && nb[19] == 'Z');
        HK_CHECK(json_string_value(json_object_get(md, "notAfterUtc")));
        HK_CHECK(json_string_value(json_object_get(md, "serialNumber")));
        HK_CHECK_EQ(json_integer_value(json_object_get(md, "version")), 3);
    }
    HK_CHECK(strcmp(json_string_value(json_object_get(tb, "id")) ?: "", "bundle-dev") == 0);
    HK_CHECK(json_string_value(json_object_get(tb, "etag")));
    HK_CHECK(json_string_value(json_object_get(tb, "createdDateTime")));
    HK_CHECK(json_string_value(json_object_get(tb, "lastModifiedDateTime")));
    json_decref(body);
    /* Replaced without one: no trustBundle. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "bundle-dev", "--cert",
                        dev.cert_path, NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "bundle-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(json_object_get(json_object_get(body, "registrationState"), "trustBundle") == NULL);
    json_decref(body);
    /* Not a bundle of CA certificates, or no file: bad input. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "bundle-dev", "--cert",
                        dev.cert_path, "--trust-bundle", dev.cert_path, NULL), 2);
    char *missing = hkc_printf("%s/no-bundle.pem", cloud.root);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "bundle-group", "--cert",
                        root.cert_path, "--trust-bundle", missing, NULL), 2);
    free(missing);
    free(bundle);
    hkt_cert_free(&dev);
    hkt_cert_free(&extra);
}

static void test_wrong_cn_and_unknown_ca(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "cn-one", &signer, chain));
    struct hkt_mqtt q;
    char *user = hkt_dps_username(&cloud, "cn-two", NULL);
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "cn-two", user), 5);
    hkt_mqtt_close(&q);
    free(user);
    /* Wrong ID scope. */
    user = hkc_printf("0neFFFFFFFF/registrations/cn-one/api-version=2019-03-31");
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "cn-one", user), 5);
    hkt_mqtt_close(&q);
    free(user);

    /* A CA the cloud never saw: the TLS handshake is refused. */
    struct hkt_cert rogue_ca, rogue;
    HK_CHECK(hkt_ca_make(&cloud, &rogue_ca, "Rogue CA", NULL));
    HK_CHECK(hkt_device_make(&cloud, &rogue, "rogue-dev", &rogue_ca, NULL));
    user = hkt_dps_username(&cloud, "rogue-dev", NULL);
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &rogue, "rogue-dev", user), -1);
    hkt_mqtt_close(&q);
    free(user);

    /* A CA that was uploaded but has no enrollment group: 401002. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "ca", "add", rogue_ca.cert_path, NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &rogue, "rogue-dev", NULL, &status);
    HK_CHECK_EQ(status, 401);
    HK_CHECK_EQ(json_integer_value(json_object_get(body, "errorCode")), 401002);
    json_decref(body);
    hkt_cert_free(&dev);
    hkt_cert_free(&rogue_ca);
    hkt_cert_free(&rogue);
}

static void test_disabled_group(void)
{
    struct hkt_cert ca, dev;
    HK_CHECK(hkt_ca_make(&cloud, &ca, "Disabled Group CA", NULL));
    HK_CHECK(hkt_device_make(&cloud, &dev, "dis-dev", &ca, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "dis-group", "--cert",
                        ca.cert_path, "--disabled", NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "dis-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "disabled") == 0);
    HK_CHECK(strcmp(state_str(body, "status") ?: "", "disabled") == 0);
    json_decref(body);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "enable", "dis-group", NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "dis-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "assigned") == 0);
    json_decref(body);
    hkt_cert_free(&ca);
    hkt_cert_free(&dev);
}

static json_t *twin_of(const char *device)
{
    return hkt_cli_json(&cloud, "twin", "show", device, NULL);
}

static void report(struct hkt_cert *dev, const char *hub, const char *id, const char *patch)
{
    struct hkt_mqtt q;
    char *user = hkt_hub_username(hub, id);
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, dev, id, user), 0);
    free(user);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$iothub/twin/res/#", 1), 1);
    HK_CHECK(hkt_mqtt_publish(&q, "$iothub/twin/PATCH/properties/reported/?$rid=9", patch,
                              (int)strlen(patch), 1));
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$iothub/twin/res/204/?$rid=9", HKT_WAIT_MS);
    HK_CHECK(m != NULL);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
}

static void test_reprovision_policies(void)
{
    struct hkt_cert ca, dev;
    HK_CHECK(hkt_ca_make(&cloud, &ca, "Reprovision CA", NULL));
    HK_CHECK(hkt_device_make(&cloud, &dev, "repro-dev", &ca, NULL));
    const char *h1 = "hub-1.hubkey.test", *h2 = "hub-2.hubkey.test";
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "repro", "--cert", ca.cert_path,
                        "--allocation", "static", "--hubs", h1, "--initial-twin",
                        "{\"desired\":{\"mode\":\"initial\"}}", NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "repro-dev", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "assignedHub") ?: "", h1) == 0);
    HK_CHECK(strcmp(state_str(body, "substatus") ?: "", "initialAssignment") == 0);
    json_decref(body);
    report(&dev, h1, "repro-dev", "{\"fw\":\"1.0\"}");
    json_t *twin = twin_of("repro-dev");
    json_t *props = json_object_get(twin, "properties");
    HK_CHECK(strcmp(json_string_value(json_object_get(json_object_get(props, "desired"), "mode")) ?: "",
                    "initial") == 0);
    json_decref(twin);

    /* Re-provision and migrate: moves to hub-2 with the twin. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "repro", "--cert", ca.cert_path,
                        "--allocation", "static", "--hubs", h2, "--reprovision", "migrate",
                        NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "repro-dev", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "assignedHub") ?: "", h2) == 0);
    HK_CHECK(strcmp(state_str(body, "substatus") ?: "", "deviceDataMigrated") == 0);
    json_decref(body);
    twin = twin_of("repro-dev");
    props = json_object_get(twin, "properties");
    HK_CHECK(strcmp(json_string_value(json_object_get(twin, "hub")) ?: "", h2) == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(json_object_get(props, "reported"), "fw")) ?: "",
                    "1.0") == 0);
    json_decref(twin);
    /* The old hub no longer knows the device. */
    json_t *devs = hkt_cli_json(&cloud, "devices", "--hub", h1, "--json", NULL);
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d)
        HK_CHECK(strcmp(json_string_value(json_object_get(d, "device_id")), "repro-dev") != 0);
    json_decref(devs);

    /* Never re-provision: stays on hub-2 although the enrollment names hub-1. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "repro", "--cert", ca.cert_path,
                        "--allocation", "static", "--hubs", h1, "--reprovision", "never", NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "repro-dev", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "assignedHub") ?: "", h2) == 0);
    json_decref(body);

    /* Reset to initial config: back to hub-1, which was the first assignment. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "repro", "--cert", ca.cert_path,
                        "--allocation", "static", "--hubs", h1, "--reprovision", "reset",
                        "--initial-twin", "{\"mode\":\"reset\"}", NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "repro-dev", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "assignedHub") ?: "", h1) == 0);
    HK_CHECK(strcmp(state_str(body, "substatus") ?: "", "reprovisionedToInitialAssignment") == 0);
    json_decref(body);
    twin = twin_of("repro-dev");
    props = json_object_get(twin, "properties");
    HK_CHECK(json_object_get(json_object_get(props, "reported"), "fw") == NULL);
    HK_CHECK(strcmp(json_string_value(json_object_get(json_object_get(props, "desired"), "mode")) ?: "",
                    "reset") == 0);
    json_decref(twin);
    /* And to hub-2 with reset: deviceDataReset. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "repro", "--cert", ca.cert_path,
                        "--allocation", "static", "--hubs", h2, "--reprovision", "reset", NULL), 0);
    body = hkt_dps_register(&cloud, &dev, "repro-dev", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "substatus") ?: "", "deviceDataReset") == 0);
    json_decref(body);
    HK_CHECK_EQ(registrations_count("repro-dev"), 5);
    hkt_cert_free(&ca);
    hkt_cert_free(&dev);
}

static void test_hashed_allocation(void)
{
    struct hkt_cert ca;
    HK_CHECK(hkt_ca_make(&cloud, &ca, "Hashed CA", NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "hashed", "--cert", ca.cert_path,
                        NULL), 0);
    int per_hub[2] = {0, 0};
    char first_hub[64] = "";
    struct hkt_cert first;
    memset(&first, 0, sizeof(first));
    for (int i = 0; i < 12; i++) {
        char id[32];
        snprintf(id, sizeof(id), "hash-dev-%02d", i);
        struct hkt_cert dev;
        HK_CHECK(hkt_device_make(&cloud, &dev, id, &ca, NULL));
        int status;
        json_t *body = hkt_dps_register(&cloud, &dev, id, NULL, &status);
        const char *hub = state_str(body, "assignedHub");
        if (hub && strcmp(hub, "hub-1.hubkey.test") == 0)
            per_hub[0]++;
        else if (hub && strcmp(hub, "hub-2.hubkey.test") == 0)
            per_hub[1]++;
        if (i == 0) {
            snprintf(first_hub, sizeof(first_hub), "%s", hub ? hub : "");
            first = dev;
        } else {
            hkt_cert_free(&dev);
        }
        json_decref(body);
    }
    HK_CHECK_EQ(per_hub[0] + per_hub[1], 12);
    HK_CHECK(per_hub[0] > 0 && per_hub[1] > 0);
    /* Stable: the same device lands on the same hub again. */
    int status;
    json_t *body = hkt_dps_register(&cloud, &first, "hash-dev-00", NULL, &status);
    HK_CHECK(strcmp(state_str(body, "assignedHub") ?: "", first_hub) == 0);
    json_decref(body);
    hkt_cert_free(&first);
    hkt_cert_free(&ca);
}

/* Raw exchange on one connection, for throttling and fault tests. */
static struct hkt_msg *exchange(struct hkt_mqtt *q, const char *topic, const char *body)
{
    hkt_mqtt_publish(q, topic, body, body ? (int)strlen(body) : 0, 1);
    return hkt_mqtt_wait(q, "$dps/registrations/res/", HKT_WAIT_MS);
}

static bool dps_connect(struct hkt_mqtt *q, struct hkt_cert *dev, const char *id,
                        const char *api)
{
    char *user = hkt_dps_username(&cloud, id, api);
    int ack = hkt_mqtt_connect(&cloud, q, dev, id, user);
    free(user);
    return ack == 0 && hkt_mqtt_subscribe(q, "$dps/registrations/res/#", 1) == 1;
}

static void test_throttling(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "throttle-dev", &signer, chain));
    struct hkt_mqtt q;
    HK_CHECK(dps_connect(&q, &dev, "throttle-dev", NULL));
    struct hkt_msg *m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 202);
    json_t *b = m ? json_loads(m->payload, 0, NULL) : NULL;
    char *poll = hkc_printf("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=%s",
                            json_string_value(json_object_get(b, "operationId")));
    json_decref(b);
    hkt_msg_free(m);
    /* Five polls within the window are answered, the sixth is throttled. */
    for (int i = 0; i < 5; i++) {
        m = exchange(&q, poll, NULL);
        HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 200);
        hkt_msg_free(m);
    }
    m = exchange(&q, poll, NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 429);
    HK_CHECK(m && strstr(m->topic, "retry-after=") != NULL && strstr(m->topic, "$rid=7"));
    b = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(b, "errorCode")) / 1000, 429);
    json_decref(b);
    hkt_msg_free(m);
    free(poll);

    /* Unknown operation: 404. */
    m = exchange(&q, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=8&operationId=nope",
                 NULL);
    /* The poll window is still full: widen the limit first. */
    hkt_msg_free(m);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "poll-limit", "64", NULL), 0);
    m = exchange(&q, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=8&operationId=nope",
                 NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 404);
    hkt_msg_free(m);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "poll-limit", "5", NULL), 0);

    /* Registration rate: 2 per minute, the third is refused with retry-after. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "registration-rate", "2", NULL), 0);
    int got429 = 0;
    for (int i = 0; i < 4; i++) {
        m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=3", NULL);
        if (m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 429 &&
            strstr(m->topic, "retry-after="))
            got429++;
        hkt_msg_free(m);
    }
    HK_CHECK(got429 >= 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "registration-rate", "0", NULL), 0);
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
}

static void test_bad_requests(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "bad-req-dev", &signer, chain));
    struct hkt_mqtt q;
    HK_CHECK(dps_connect(&q, &dev, "bad-req-dev", NULL));
    struct hkt_msg *m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", "{not json");
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    hkt_msg_free(m);
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=2",
                 "{\"registrationId\":\"someone-else\"}");
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    json_t *b = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(b, "errorCode")), 400004);
    json_decref(b);
    hkt_msg_free(m);
    /* A CSR with the GA api-version is refused. */
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=3",
                 "{\"registrationId\":\"bad-req-dev\",\"csr\":\"AAAA\"}");
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    hkt_msg_free(m);
    /* Publishing outside the DPS topics closes the connection. */
    hkt_mqtt_publish(&q, "$dps/registrations/PUT/other/?$rid=4", "x", 1, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);
    hkt_cert_free(&dev);
}

static void test_disconnect_mid_registration(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "midway-dev", &signer, chain));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "delay-ms", "300", NULL), 0);
    for (int i = 0; i < 5; i++) {
        struct hkt_mqtt q;
        HK_CHECK(dps_connect(&q, &dev, "midway-dev", NULL));
        hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", NULL, 0, 1);
        hkt_mqtt_close(&q); /* gone before the delayed answer */
    }
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "midway-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    HK_CHECK(strcmp(json_string_value(json_object_get(body, "status")) ?: "", "assigned") == 0);
    json_decref(body);
    hkt_cert_free(&dev);
}

static void test_fault_knobs(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "fault-dev", &signer, chain));
    struct hkt_mqtt q;

    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "error-rate", "1", NULL), 0);
    HK_CHECK(dps_connect(&q, &dev, "fault-dev", NULL));
    struct hkt_msg *m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 500);
    json_t *b = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(b, "errorCode")), 500000);
    json_decref(b);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);

    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "drop", "dps-register", NULL), 0);
    HK_CHECK(dps_connect(&q, &dev, "fault-dev", NULL));
    hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", NULL, 0, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    hkt_mqtt_close(&q);

    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "drop", "dps-connect", NULL), 0);
    char *user = hkt_dps_username(&cloud, "fault-dev", NULL);
    HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &q, &dev, "fault-dev", user), -1);
    hkt_mqtt_close(&q);
    free(user);

    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "delay-ms", "200", NULL), 0);
    HK_CHECK(dps_connect(&q, &dev, "fault-dev", NULL));
    uint64_t t0 = hkc_now_ms();
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", NULL);
    /* The cloud never answers before the configured delay. */
    HK_CHECK(m && hkc_now_ms() - t0 >= 200);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "error-rate", "2", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "set", "drop", "nowhere", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "fault", "clear", NULL), 0);
    hkt_cert_free(&dev);
}

static char *make_csr_b64(const char *cn, EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_REQ_get_subject_name(req);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);
    char *b64 = hkc_base64(der, (size_t)len);
    OPENSSL_free(der);
    X509_REQ_free(req);
    return b64;
}

static void test_csr_issuance(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "csr-dev", &signer, chain));
    EVP_PKEY *op_key = hkc_pki_key_ec(NID_secp384r1);
    char *csr = make_csr_b64("csr-dev", op_key);
    char *body = hkc_printf("{\"registrationId\":\"csr-dev\",\"csr\":\"%s\"}", csr);
    struct hkt_mqtt q;
    HK_CHECK(dps_connect(&q, &dev, "csr-dev", "2025-07-01-preview"));
    struct hkt_msg *m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=1", body);
    json_t *b = m ? json_loads(m->payload, 0, NULL) : NULL;
    char *poll = hkc_printf("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=%s",
                            json_string_value(json_object_get(b, "operationId")));
    json_decref(b);
    hkt_msg_free(m);
    m = exchange(&q, poll, NULL);
    free(poll);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 200);
    b = m ? json_loads(m->payload, 0, NULL) : NULL;
    hkt_msg_free(m);
    json_t *issued = json_object_get(json_object_get(b, "registrationState"),
                                     "issuedCertificateChain");
    HK_CHECK_EQ(json_array_size(issued), 2);
    size_t l0 = 0, l1 = 0;
    uint8_t *d0 = hkc_base64_decode(json_string_value(json_array_get(issued, 0)) ?: "", &l0);
    uint8_t *d1 = hkc_base64_decode(json_string_value(json_array_get(issued, 1)) ?: "", &l1);
    const unsigned char *p0 = d0, *p1 = d1;
    X509 *leaf = d0 ? d2i_X509(NULL, &p0, (long)l0) : NULL;
    X509 *ca = d1 ? d2i_X509(NULL, &p1, (long)l1) : NULL;
    HK_CHECK(leaf && ca);
    if (leaf && ca) {
        char *cn = hkc_pki_cn(leaf);
        HK_CHECK(cn && strcmp(cn, "csr-dev") == 0);
        free(cn);
        HK_CHECK_EQ(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
        HK_CHECK_EQ(EVP_PKEY_eq(X509_get0_pubkey(leaf), op_key), 1);
        /* The hub accepts the issued certificate with the operational key. */
        struct hkt_cert op = {.cert = leaf, .key = op_key};
        snprintf(op.chain_path, sizeof(op.chain_path), "%s/csr-op.chain.pem", cloud.root);
        snprintf(op.key_path, sizeof(op.key_path), "%s/csr-op.key", cloud.root);
        X509 *both[2] = {leaf, ca};
        HK_CHECK(hkc_pki_write_cert(op.chain_path, both, 2));
        HK_CHECK(hkc_pki_write_key(op.key_path, op_key));
        const char *hub = json_string_value(
            json_object_get(json_object_get(b, "registrationState"), "assignedHub"));
        char *user = hkt_hub_username(hub ? hub : "", "csr-dev");
        struct hkt_mqtt hq;
        HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &hq, &op, "csr-dev", user), 0);
        hkt_mqtt_close(&hq);
        /* The bootstrap certificate no longer matches the hub identity. */
        HK_CHECK_EQ(hkt_mqtt_connect(&cloud, &hq, &dev, "csr-dev", user), 5);
        hkt_mqtt_close(&hq);
        free(user);
    }
    X509_free(leaf);
    X509_free(ca);
    free(d0);
    free(d1);
    json_decref(b);

    /* A CSR whose CN is not the registration ID is refused. (The hub
     * connections above took over the client ID, so reconnect.) */
    hkt_mqtt_close(&q);
    HK_CHECK(dps_connect(&q, &dev, "csr-dev", "2025-07-01-preview"));
    char *bad = make_csr_b64("someone-else", op_key);
    char *bad_body = hkc_printf("{\"registrationId\":\"csr-dev\",\"csr\":\"%s\"}", bad);
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=3", bad_body);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    hkt_msg_free(m);
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=4",
                 "{\"registrationId\":\"csr-dev\",\"csr\":\"not base64!\"}");
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    free(bad);
    free(bad_body);
    free(csr);
    free(body);
    EVP_PKEY_free(op_key);
    hkt_cert_free(&dev);
}

/* Odd requests get an answer or a closed connection, never a broken cloud. */
static void test_hostile_requests(void)
{
    const struct hkt_cert *chain[] = {&signer, NULL};
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "hostile-dev", &signer, chain));
    struct hkt_mqtt q;
    HK_CHECK(dps_connect(&q, &dev, "hostile-dev", NULL));
    struct hkt_msg *m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?", NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 202);
    HK_CHECK(m && strstr(m->topic, "$rid=&") != NULL);
    hkt_msg_free(m);
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=%2F%23", NULL);
    HK_CHECK(m && strstr(m->topic, "$rid=%2F%23") != NULL);
    hkt_msg_free(m);
    m = exchange(&q, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=5&operationId=%zz",
                 NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 404);
    hkt_msg_free(m);
    m = exchange(&q, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=6", NULL);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 404);
    hkt_msg_free(m);
    static const char *const bodies[] = {
        "{\"registrationId\":null}", "{\"registrationId\":\"hostile-dev\",\"registrationId\":\"x\"}",
        "\x00\x01\x02", "[]", "\"str\"", "{\"registrationId\":\"hostile-dev\"", "",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int len = i == 2 ? 3 : (int)strlen(bodies[i]);
        hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=9", bodies[i], len, 1);
        m = hkt_mqtt_wait(&q, "$dps/registrations/res/", HKT_WAIT_MS);
        int st = m ? hkt_topic_status(m->topic, "$dps/registrations/res/") : -1;
        HK_CHECK(i == 6 ? st == 202 : st == 400);
        hkt_msg_free(m);
    }
    /* Deep nesting is refused by the JSON reader, not by a crash. */
    size_t deep = 20000;
    char *nest = malloc(deep * 2 + 1);
    memset(nest, '[', deep);
    memset(nest + deep, ']', deep);
    nest[2 * deep] = '\0';
    m = exchange(&q, "$dps/registrations/PUT/iotdps-register/?$rid=10", nest);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 400);
    hkt_msg_free(m);
    free(nest);
    /* Over the DPS message limit (96 KB): closed. */
    char *big = malloc(100 * 1024);
    memset(big, ' ', 100 * 1024);
    hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=11", big, 100 * 1024, 1);
    HK_CHECK(hkt_mqtt_wait_closed(&q, HKT_WAIT_MS));
    free(big);
    hkt_mqtt_close(&q);
    /* Subscribing to anything but the response filter: closed. */
    HK_CHECK(dps_connect(&q, &dev, "hostile-dev", NULL));
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$dps/#", 1), -1);
    hkt_mqtt_close(&q);
    /* The cloud still works. */
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "hostile-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    json_decref(body);
    hkt_cert_free(&dev);
}

/* Overwrites a file in place with text that is no database. */
static bool scribble(const char *path)
{
    FILE *f = fopen(path, "r+");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    static const char junk[] = "this is not an SQLite database. ";
    for (long i = 0; i < size; i++)
        fputc(junk[i % (long)(sizeof(junk) - 1)], f);
    return fclose(f) == 0;
}

static bool log_has(struct hkt_cloud *c, const char *what)
{
    char *path = hkc_printf("%s/mosquitto.log", c->state);
    FILE *f = fopen(path, "r");
    free(path);
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* The database breaks while the broker runs: DPS answers as it does for an
 * internal error (500, errorCode 500000) instead of "not found", and the
 * broker log says what failed. Its own cloud: this one is broken for good. */
static void test_storage_error(void)
{
    struct hkt_cloud b;
    HK_CHECK(hkt_cloud_start(&b));
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&b, &dev, "store-dev", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&b, NULL, "enroll", "individual", "add", "store-dev", "--cert",
                        dev.cert_path, NULL), 0);
    int status;
    json_t *body = hkt_dps_register(&b, &dev, "store-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    char *poll = hkc_printf("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=5&"
                            "operationId=%s",
                            json_string_value(json_object_get(body, "operationId")) ?: "x");
    json_decref(body);
    struct hkt_mqtt q;
    char *user = hkt_dps_username(&b, "store-dev", NULL);
    HK_CHECK_EQ(hkt_mqtt_connect(&b, &q, &dev, "store-dev", user), 0);
    free(user);
    HK_CHECK_EQ(hkt_mqtt_subscribe(&q, "$dps/registrations/res/#", 1), 1);

    const char *files[] = {"cloud.db", "cloud.db-wal", "cloud.db-shm"};
    for (int i = 0; i < 3; i++) {
        char *path = hkc_printf("%s/%s", b.state, files[i]);
        scribble(path);
        free(path);
    }
    /* A stored operation: 500, not 404 "Operation not found". */
    hkt_mqtt_publish(&q, poll, NULL, 0, 1);
    struct hkt_msg *m = hkt_mqtt_wait(&q, "$dps/registrations/res/", HKT_WAIT_MS);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 500);
    json_t *err = m ? json_loads(m->payload, 0, NULL) : NULL;
    HK_CHECK_EQ(json_integer_value(json_object_get(err, "errorCode")), 500000);
    HK_CHECK(json_string_value(json_object_get(err, "trackingId")));
    HK_CHECK(json_string_value(json_object_get(err, "timestampUtc")));
    json_decref(err);
    hkt_msg_free(m);
    /* A new registration: 500 too. */
    const char *reg = "{\"registrationId\":\"store-dev\"}";
    hkt_mqtt_publish(&q, "$dps/registrations/PUT/iotdps-register/?$rid=6", reg,
                     (int)strlen(reg), 1);
    m = hkt_mqtt_wait(&q, "$dps/registrations/res/", HKT_WAIT_MS);
    HK_CHECK(m && hkt_topic_status(m->topic, "$dps/registrations/res/") == 500);
    hkt_msg_free(m);
    hkt_mqtt_close(&q);
    HK_CHECK(log_has(&b, "hubkey-cloud: storage error"));
    free(poll);
    hkt_cert_free(&dev);
    hkt_cloud_stop(&b);
}

int main(void)
{
    if (!hkt_cloud_start(&cloud)) {
        fprintf(stderr, "could not start hubkey-cloud\n");
        hkt_cloud_stop(&cloud);
        return 1;
    }
    if (!hkt_ca_make(&cloud, &root, "Test Root CA", NULL) ||
        !hkt_ca_make(&cloud, &signer, "Test Signer CA", &root)) {
        hkt_cloud_stop(&cloud);
        return 1;
    }
    /* The root is uploaded (verified) so TLS can anchor chains ending at the signer. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "ca", "add", root.cert_path, NULL), 0);
    HK_RUN(test_group_registration_then_hub_and_telemetry);
    HK_RUN(test_group_on_root_with_uploaded_intermediate);
    HK_RUN(test_individual_before_group);
    HK_RUN(test_wrong_cn_and_unknown_ca);
    HK_RUN(test_registration_id_case);
    HK_RUN(test_individual_ca_signed);
    HK_RUN(test_trust_bundle);
    HK_RUN(test_disabled_group);
    HK_RUN(test_reprovision_policies);
    HK_RUN(test_hashed_allocation);
    HK_RUN(test_throttling);
    HK_RUN(test_bad_requests);
    HK_RUN(test_disconnect_mid_registration);
    HK_RUN(test_fault_knobs);
    HK_RUN(test_csr_issuance);
    HK_RUN(test_hostile_requests);
    HK_RUN(test_storage_error);
    hkt_cert_free(&root);
    hkt_cert_free(&signer);
    hkt_cloud_stop(&cloud);
    return hk_test_finish("cloud_dps");
}
