/*
 * hubkey-cloud CLI: lifecycle (start twice, stop, restart with state kept),
 * listings in both forms, and the documented exit codes for bad input.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_test.h"
#include "hkc_util.h"
#include "hkt_env.h"
#include "hubkey/version.h"

static struct hkt_cloud cloud;

static void test_usage_errors(void)
{
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "frobnicate", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "devices", "--bogus", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "club", "add", "x", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "fly", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "g", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "d", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "nonsense", "1", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "telemetry", "--device", NULL), 1);
    char *err = NULL;
    HK_CHECK_EQ(hkt_cli_all(&cloud, &err, "c2d", "send", "d", "body", "--hub", NULL), 1);
    HK_CHECK(err && strstr(err, "hubkey-cloud: --hub needs a value"));
    free(err);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "help", NULL), 0);
    HK_CHECK(out && strstr(out, "usage: hubkey-cloud"));
    free(out);
}

static void test_bad_input(void)
{
    char *missing = hkc_printf("%s/missing.pem", cloud.root);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "g", "--cert", missing, NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "ca", "add", missing, NULL), 2);
    /* A file that is not a certificate. */
    char *junk = hkc_printf("%s/junk.pem", cloud.root);
    FILE *f = fopen(junk, "w");
    if (f) {
        fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
        fclose(f);
    }
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "dev-1", "--cert", junk,
                        NULL), 2);
    /* A device certificate is not a group CA. */
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "cli-dev", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "add", "g", "--cert", dev.cert_path,
                        NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "bad id!", "--cert",
                        dev.cert_path, NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "cli-dev", "--cert",
                        dev.cert_path, "--reprovision", "sometimes", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "cli-dev", "--cert",
                        dev.cert_path, "--initial-twin", "{oops", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "cli-dev", "--cert",
                        dev.cert_path, "--allocation", "static", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "cli-dev", "--cert",
                        dev.cert_path, "--hubs", "no-such-hub.test", NULL), 3);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "cli-dev", "--hub", "hub-1.hubkey.test",
                        "--thumbprint", "xyz", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "cli-dev", "--hub", "nowhere", "--cert",
                        dev.cert_path, NULL), 3);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "disable", "nobody", NULL), 3);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "retry-after", "-1", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "retry-after", "abc", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "telemetry", "--limit", "0", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "method", "invoke", "cli-dev", "m", "--timeout", "0", NULL),
                2);
    /* Valid additions work and show up in the listings. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "individual", "add", "cli-dev", "--cert",
                        dev.cert_path, "--payload", "{\"role\":\"sensor\"}", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "cli-dev", "--hub", "hub-2.hubkey.test",
                        "--cert", dev.cert_path, NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "cli-dev", "--hub", "hub-2.hubkey.test",
                        "--cert", dev.cert_path, NULL), 3);
    json_t *e = hkt_cli_json(&cloud, "enroll", "individual", "list", "--json", NULL);
    HK_CHECK_EQ(json_array_size(e), 1);
    HK_CHECK(strcmp(json_string_value(json_object_get(json_array_get(e, 0), "name")) ?: "",
                    "cli-dev") == 0);
    json_decref(e);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "enroll", "individual", "list", NULL), 0);
    HK_CHECK(out && strstr(out, "cli-dev") && strstr(out, "reprovision"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "hub", "set", "hub-2.hubkey.test", "--weight", "5",
                        "--apply-allocation", "no", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "hub", "set", "hub-2.hubkey.test", "--weight", "0", NULL), 2);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "hub", "set", "hub-9.hubkey.test", "--weight", "2", NULL), 3);
    json_t *hubs = hkt_cli_json(&cloud, "hubs", "--json", NULL);
    json_t *h2 = json_array_get(hubs, 1);
    HK_CHECK_EQ(json_integer_value(json_object_get(h2, "weight")), 5);
    HK_CHECK(json_is_false(json_object_get(h2, "apply_allocation")));
    json_decref(hubs);
    json_t *fs = hkt_cli_json(&cloud, "fault", "show", "--json", NULL);
    HK_CHECK_EQ(json_array_size(fs), 3);
    json_decref(fs);
    json_t *cs = hkt_cli_json(&cloud, "config", "show", "--json", NULL);
    HK_CHECK(json_array_size(cs) >= 4);
    json_decref(cs);
    json_t *ca = hkt_cli_json(&cloud, "ca", "list", "--json", NULL);
    HK_CHECK(json_is_array(ca));
    json_decref(ca);
    json_t *regs = hkt_cli_json(&cloud, "registrations", "--json", NULL);
    HK_CHECK(json_is_array(regs));
    json_decref(regs);
    /* The individual enrollment's payload comes back in the registration. */
    int status;
    json_t *body = hkt_dps_register(&cloud, &dev, "cli-dev", NULL, &status);
    HK_CHECK_EQ(status, 200);
    json_t *payload = json_object_get(json_object_get(body, "registrationState"), "payload");
    HK_CHECK(strcmp(json_string_value(json_object_get(payload, "role")) ?: "", "sensor") == 0);
    json_decref(body);
    hkt_cert_free(&dev);
    free(junk);
    free(missing);
}

/* --help at every depth: each command the top-level help lists answers its
 * own --help (and `help COMMAND`) on stdout with exit 0, its usage line and
 * the exit codes; an unknown command or action stays a usage error. */
static void test_help(void)
{
    char *top = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &top, "--help", NULL), 0);
    HK_CHECK(top && strstr(top, "usage: hubkey-cloud") && strstr(top, "Exit codes:") &&
             strstr(top, "  5  direct method"));
    char *h2 = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &h2, "-h", NULL), 0);
    HK_CHECK(h2 && top && strcmp(h2, top) == 0);
    free(h2);
    int commands = 0;
    for (char *line = top; line && *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char words[4][32];
        int nw = 0;
        if (len > 2 && line[0] == ' ' && line[1] == ' ' && line[2] >= 'a' && line[2] <= 'z') {
            const char *p = line + 2;
            while (nw < 4 && p < line + len) {
                size_t wl = strcspn(p, " \n");
                bool word = wl > 0 && wl < sizeof(words[0]);
                for (size_t k = 0; word && k < wl; k++)
                    word = (p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9');
                if (!word)
                    break;
                snprintf(words[nw++], sizeof(words[0]), "%.*s", (int)wl, p);
                p += wl;
                while (*p == ' ')
                    p++;
            }
        }
        if (nw > 0) {
            commands++;
            char *out = NULL;
            int rc = nw == 1   ? hkt_cli(&cloud, &out, words[0], "--help", NULL)
                     : nw == 2 ? hkt_cli(&cloud, &out, words[0], words[1], "--help", NULL)
                               : hkt_cli(&cloud, &out, words[0], words[1], words[2], "--help",
                                         NULL);
            char *want = hkc_printf("usage: hubkey-cloud [--dir STATE] %s%s%s%s%s", words[0],
                                    nw > 1 ? " " : "", nw > 1 ? words[1] : "",
                                    nw > 2 ? " " : "", nw > 2 ? words[2] : "");
            HK_CHECK_EQ(rc, 0);
            HK_CHECK(out && strncmp(out, want, strlen(want)) == 0 && strstr(out, "Exit codes:"));
            if (!(out && strncmp(out, want, strlen(want)) == 0))
                fprintf(stderr, "help for '%s' printed: %s\n", want, out ? out : "(nothing)");
            free(want);
            free(out);
        }
        line = end ? end + 1 : NULL;
    }
    HK_CHECK(commands >= 30);
    free(top);
    /* At any depth, with other arguments on the line, and as `help COMMAND`. */
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "enroll", "group", "add", "g", "--cert", "x.pem", "--help",
                        NULL), 0);
    HK_CHECK(out && strstr(out, "--initial-twin") && strstr(out, "Exit codes:"));
    free(out);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "help", "device", "disable", NULL), 0);
    HK_CHECK(out && strstr(out, "device disable ID [--hub HUB]"));
    free(out);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "enroll", "-h", NULL), 0);
    HK_CHECK(out && strstr(out, "enroll individual add REG_ID") &&
             strstr(out, "enroll group remove NAME"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "frobnicate", "--help", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "enroll", "group", "fly", "--help", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "help", "twin", "kick", NULL), 1);
    /* Nothing happens with --help: not even a start. */
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "stop", "--help", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "status", NULL), 0);
    /* --version */
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "--version", NULL), 0);
    HK_CHECK(out && strcmp(out, "hubkey-cloud " HUBKEY_VERSION "\n") == 0);
    free(out);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "version", NULL), 0);
    HK_CHECK(out && strcmp(out, "hubkey-cloud " HUBKEY_VERSION "\n") == 0);
    free(out);
}

/* Tables print whole values (a SHA-256 thumbprint is 64 hex digits) and
 * booleans as yes/no; JSON listings are arrays with true/false and
 * snake_case keys. */
static void test_tables_and_json(void)
{
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "table-dev-with-a-rather-long-device-identifier",
                             NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add",
                        "table-dev-with-a-rather-long-device-identifier", "--hub",
                        "hub-1.hubkey.test", "--cert", dev.cert_path, NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "disable",
                        "table-dev-with-a-rather-long-device-identifier", NULL), 0);
    json_t *devs = hkt_cli_json(&cloud, "devices", "--hub", "hub-1.hubkey.test", "--json", NULL);
    HK_CHECK(json_is_array(devs));
    const char *sha = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "device_id")) ?: "",
                   "table-dev-with-a-rather-long-device-identifier") == 0) {
            sha = json_string_value(json_object_get(d, "sha256"));
            HK_CHECK(json_is_false(json_object_get(d, "enabled")));
        }
    }
    HK_CHECK(sha && strlen(sha) == 64);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "devices", "--hub", "hub-1.hubkey.test", NULL), 0);
    /* The row: the whole device ID, "no", the whole thumbprint. */
    const char *row = out ? strstr(out, "table-dev-with-a-rather-long-device-identifier") : NULL;
    HK_CHECK(row && sha && strstr(row, sha));
    HK_CHECK(row && strstr(row, "  no  "));
    free(out);
    json_decref(devs);
    /* An unknown hub is an error, not an empty listing; a hub's other case is that hub. */
    char *err = NULL;
    HK_CHECK_EQ(hkt_cli_all(&cloud, &err, "devices", "--hub", "nosuch", NULL), 3);
    HK_CHECK(err && strstr(err, "hubkey-cloud: no hub named nosuch"));
    free(err);
    json_t *upper = hkt_cli_json(&cloud, "devices", "--hub", "HUB-1.hubkey.test", "--json", NULL);
    HK_CHECK(json_array_size(upper) >= 1);
    json_decref(upper);
    json_t *none = hkt_cli_json(&cloud, "enroll", "group", "list", "--json", NULL);
    HK_CHECK(json_is_array(none));
    json_decref(none);
    /* twin show is one JSON object, with or without --json. */
    json_t *twin = hkt_cli_json(&cloud, "twin", "show",
                                "table-dev-with-a-rather-long-device-identifier", "--json", NULL);
    HK_CHECK(strcmp(json_string_value(json_object_get(twin, "device_id")) ?: "",
                    "table-dev-with-a-rather-long-device-identifier") == 0);
    HK_CHECK(json_is_object(json_object_get(json_object_get(twin, "properties"), "desired")));
    json_decref(twin);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "remove",
                        "table-dev-with-a-rather-long-device-identifier", NULL), 0);
    hkt_cert_free(&dev);
}

/* config show prints the value in effect: the default when nothing is set. */
static void test_config_show(void)
{
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "poll-limit", "7", NULL), 0);
    json_t *cs = hkt_cli_json(&cloud, "config", "show", "--json", NULL);
    size_t i;
    json_t *k;
    int seen = 0;
    json_array_foreach(cs, i, k) {
        const char *name = json_string_value(json_object_get(k, "name")) ?: "";
        const char *value = json_string_value(json_object_get(k, "value")) ?: "";
        if (strcmp(name, "registration-rate") == 0) {
            HK_CHECK(strcmp(value, "1000") == 0);
            HK_CHECK(json_is_false(json_object_get(k, "set")));
            seen++;
        }
        if (strcmp(name, "poll-limit") == 0) {
            HK_CHECK(strcmp(value, "7") == 0);
            HK_CHECK(strcmp(json_string_value(json_object_get(k, "default")) ?: "", "5") == 0);
            HK_CHECK(json_is_true(json_object_get(k, "set")));
            seen++;
        }
        HK_CHECK(strcmp(value, "default") != 0);
    }
    HK_CHECK_EQ(seen, 2);
    json_decref(cs);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "fault", "show", NULL), 0);
    HK_CHECK(out && strstr(out, "drop") && strstr(out, "none"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "config", "set", "poll-limit", "5", NULL), 0);
}

/* env: the agent's settings in three forms that agree with status. */
static void test_env(void)
{
    char *sh = NULL, *conf = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &sh, "env", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, &conf, "env", "--conf", NULL), 0);
    json_t *j = hkt_cli_json(&cloud, "env", "--json", NULL);
    char *want = hkc_printf("export HUBKEY_ID_SCOPE='%s'\n", cloud.scope);
    HK_CHECK(sh && strstr(sh, want));
    free(want);
    want = hkc_printf("export HUBKEY_CLOUD_ADDRESS='127.0.0.1:%d'\n", cloud.port);
    HK_CHECK(sh && strstr(sh, want));
    free(want);
    want = hkc_printf("export HUBKEY_TRUST='%s'\n", cloud.ca);
    HK_CHECK(sh && strstr(sh, want));
    free(want);
    HK_CHECK(sh && strstr(sh, "export HUBKEY_DPS='dps.hubkey.test'\n"));
    want = hkc_printf("\nid-scope %s\ndps dps.hubkey.test\ncloud-address 127.0.0.1:%d\ntrust %s\n",
                      cloud.scope, cloud.port, cloud.ca);
    HK_CHECK(conf && strstr(conf, want));
    free(want);
    HK_CHECK(strcmp(json_string_value(json_object_get(j, "id_scope")) ?: "", cloud.scope) == 0);
    HK_CHECK(strcmp(json_string_value(json_object_get(j, "trust")) ?: "", cloud.ca) == 0);
    json_decref(j);
    /* The shell form is what a shell reads back. */
    char *script = hkc_printf("%s/env.sh", cloud.root);
    FILE *f = fopen(script, "w");
    if (f) {
        fputs(sh ? sh : "", f);
        fclose(f);
    }
    char *cmd = hkc_printf("sh -c '. %s && test \"$HUBKEY_ID_SCOPE\" = %s && "
                           "test \"$HUBKEY_CLOUD_ADDRESS\" = 127.0.0.1:%d'",
                           script, cloud.scope, cloud.port);
    HK_CHECK_EQ(system(cmd), 0);
    free(cmd);
    free(script);
    free(sh);
    free(conf);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "env", "--conf", "--json", NULL), 1);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "env", "extra", NULL), 1);
    /* A directory that was never started has nothing to print. */
    struct hkt_cloud other = cloud;
    other.reaper_fd = -1;
    snprintf(other.state, sizeof(other.state), "%s/never-env", cloud.root);
    HK_CHECK_EQ(hkt_cli(&other, NULL, "env", NULL), 3);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 64 * 1024);
    size_t n = buf ? fread(buf, 1, 64 * 1024 - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static int restart(const char *extra1, const char *extra2)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", cloud.port);
    hkt_cli(&cloud, NULL, "stop", NULL);
    return hkt_cli(&cloud, NULL, "start", "--port", port, extra1, extra2, NULL);
}

/* start --server-name adds names to the server certificate, which is
 * reissued whenever the set of names changes, and only then. */
static void test_server_names(void)
{
    const char *azure = "global.azure-devices-provisioning.net";
    char *srv_path = hkc_printf("%s/pki/server.pem", cloud.state);
    struct hkt_cert dev;
    HK_CHECK(hkt_device_make(&cloud, &dev, "names-dev", NULL, NULL));
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "names-dev", "--hub", "hub-1.hubkey.test",
                        "--cert", dev.cert_path, NULL), 0);
    char *before = read_text(srv_path);
    HK_CHECK_EQ(restart("--server-name", azure), 0);
    char *with = read_text(srv_path);
    HK_CHECK(before && with && strcmp(before, with) != 0);
    struct hkt_tls t;
    HK_CHECK(hkt_tls_open(&cloud, &t, &dev, azure));
    HK_CHECK_EQ(t.verify, X509_V_OK);
    hkt_tls_close(&t);
    HK_CHECK(hkt_tls_open(&cloud, &t, &dev, "dps.hubkey.test"));
    hkt_tls_close(&t);
    /* The same set again: the certificate stays. */
    HK_CHECK_EQ(restart("--server-name", azure), 0);
    char *again = read_text(srv_path);
    HK_CHECK(with && again && strcmp(with, again) == 0);
    /* Without it: reissued without the name, which no longer verifies. */
    HK_CHECK_EQ(restart(NULL, NULL), 0);
    char *without = read_text(srv_path);
    HK_CHECK(with && without && strcmp(with, without) != 0);
    HK_CHECK(!hkt_tls_open(&cloud, &t, &dev, azure));
    HK_CHECK_EQ(t.verify, X509_V_ERR_HOSTNAME_MISMATCH);
    hkt_tls_close(&t);
    HK_CHECK(hkt_tls_open(&cloud, &t, &dev, "hub-2.hubkey.test"));
    hkt_tls_close(&t);
    /* Names that are not DNS host names are refused before anything starts. */
    HK_CHECK_EQ(restart("--server-name", "bad name"), 2);
    HK_CHECK_EQ(restart("--server-name", "-x.example"), 2);
    HK_CHECK_EQ(restart(NULL, NULL), 0);
    free(before), free(with), free(again), free(without), free(srv_path);
    hkt_cert_free(&dev);
}

/* Replaces every occurrence of from in *s by to. */
static void replace_all(char **s, const char *from, const char *to)
{
    char *p;
    while ((p = strstr(*s, from)) != NULL) {
        *p = '\0';
        char *next = hkc_printf("%s%s%s", *s, to, p + strlen(from));
        free(*s);
        *s = next;
    }
}

/* What start prints is true: the host names do not resolve by themselves,
 * the way to reach the cloud is named, and the printed mosquitto_pub
 * command, with a device's files filled in, delivers a message. */
static void test_start_text(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", cloud.port);
    hkt_cli(&cloud, NULL, "stop", NULL);
    char *out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "start", "--port", port, NULL), 0);
    HK_CHECK(out && !strstr(out, "resolve to 127.0.0.1"));
    char *addr = hkc_printf("--cloud-address 127.0.0.1:%d", cloud.port);
    HK_CHECK(out && strstr(out, addr));
    free(addr);
    HK_CHECK(out && strstr(out, "127.0.0.1 dps.hubkey.test hub-1.hubkey.test hub-2.hubkey.test"));
    char *line = out ? strstr(out, "mosquitto_pub ") : NULL;
    HK_CHECK(line != NULL);
    if (line) {
        char *end = strchr(line, '\n');
        char *cmd = hkc_printf("%.*s", end ? (int)(end - line) : (int)strlen(line), line);
        struct hkt_cert dev;
        HK_CHECK(hkt_device_make(&cloud, &dev, "try-dev", NULL, NULL));
        HK_CHECK_EQ(hkt_cli(&cloud, NULL, "device", "add", "try-dev", "--hub",
                            "hub-1.hubkey.test", "--cert", dev.cert_path, NULL), 0);
        replace_all(&cmd, "DEVICE.pem", dev.cert_path);
        replace_all(&cmd, "DEVICE.key", dev.key_path);
        replace_all(&cmd, "DEVICE", "try-dev");
        char *full = hkc_printf("%s 2>&1", cmd);
        HK_CHECK_EQ(system(full), 0);
        free(full);
        json_t *tel = hkt_cli_json(&cloud, "telemetry", "--json", "--device", "try-dev", NULL);
        HK_CHECK_EQ(json_array_size(tel), 1);
        json_t *t0 = json_array_get(tel, 0);
        HK_CHECK(strcmp(json_string_value(json_object_get(t0, "device_id")) ?: "", "try-dev") == 0);
        HK_CHECK(json_is_string(json_object_get(t0, "body_base64")));
        json_decref(tel);
        free(cmd);
        hkt_cert_free(&dev);
    }
    free(out);
}

static void test_lifecycle(void)
{
    char *out = NULL;
    /* A second start reports the running cloud. */
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "start", NULL), 0);
    HK_CHECK(out && strstr(out, "already running"));
    free(out);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "status", NULL), 0);
    HK_CHECK(out && strstr(out, "running") && strstr(out, "ID scope") &&
             strstr(out, "hub-1.hubkey.test"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "stop", NULL), 0);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "status", NULL), 3);
    out = NULL;
    HK_CHECK_EQ(hkt_cli(&cloud, &out, "stop", NULL), 0);
    HK_CHECK(out && strstr(out, "not running"));
    free(out);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "method", "invoke", "cli-dev", "m", NULL), 3);
    /* Restart on the same port: state (scope, enrollments) is kept. */
    char port[16];
    snprintf(port, sizeof(port), "%d", cloud.port);
    HK_CHECK_EQ(hkt_cli(&cloud, NULL, "start", "--port", port, NULL), 0);
    json_t *st = hkt_cli_json(&cloud, "status", "--json", NULL);
    HK_CHECK(strcmp(json_string_value(json_object_get(st, "id_scope")) ?: "", cloud.scope) == 0);
    HK_CHECK_EQ(json_integer_value(json_object_get(st, "enrollments")), 1);
    json_decref(st);
    /* A port in use is reported as a broker start failure. */
    struct hkt_cloud other = cloud;
    other.reaper_fd = -1;
    snprintf(other.state, sizeof(other.state), "%s/other", cloud.root);
    HK_CHECK_EQ(hkt_cli(&other, NULL, "start", "--port", port, NULL), 4);
    HK_CHECK_EQ(hkt_cli(&other, NULL, "start", "--port", "70000", NULL), 2);
    /* Commands on a directory that was never started. */
    snprintf(other.state, sizeof(other.state), "%s/never", cloud.root);
    HK_CHECK_EQ(hkt_cli(&other, NULL, "devices", NULL), 3);
    HK_CHECK_EQ(hkt_cli(&other, NULL, "status", NULL), 3);
}

int main(void)
{
    if (!hkt_cloud_start(&cloud)) {
        fprintf(stderr, "could not start hubkey-cloud\n");
        hkt_cloud_stop(&cloud);
        return 1;
    }
    HK_RUN(test_usage_errors);
    HK_RUN(test_bad_input);
    HK_RUN(test_help);
    HK_RUN(test_tables_and_json);
    HK_RUN(test_config_show);
    HK_RUN(test_env);
    HK_RUN(test_server_names);
    HK_RUN(test_start_text);
    HK_RUN(test_lifecycle);
    hkt_cloud_stop(&cloud);
    return hk_test_finish("cloud_cli");
}
