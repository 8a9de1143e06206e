/*
 * The agent's pure parsers: chip specs, endpoints and overrides, durations,
 * the command line, the configuration file, JSON text. Known answers and
 * every rejection; guard bytes after the buffers the JSON writer fills.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "hk_test.h"

static char err[AGENT_ERR_MAX];

static void test_chip_emu(void)
{
    agent_chip_spec c;
    HK_CHECK_EQ(agent_parse_chip("emu:/var/lib/hubkey/chip.emu", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.kind, AGENT_CHIP_EMU);
    HK_CHECK(strcmp(c.path, "/var/lib/hubkey/chip.emu") == 0);
    HK_CHECK_EQ(agent_parse_chip("emu:", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "emu:FILE") != NULL);
    /* A path that does not fit is refused, not truncated. */
    char big[AGENT_PATH_MAX + 16];
    memcpy(big, "emu:", 4);
    memset(big + 4, 'a', AGENT_PATH_MAX);
    big[4 + AGENT_PATH_MAX] = '\0';
    HK_CHECK_EQ(agent_parse_chip(big, &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    big[4 + AGENT_PATH_MAX - 1] = '\0'; /* exactly AGENT_PATH_MAX - 1 characters fit */
    HK_CHECK_EQ(agent_parse_chip(big, &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(strlen(c.path), AGENT_PATH_MAX - 1);
}

static void test_chip_i2c(void)
{
    agent_chip_spec c;
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.kind, AGENT_CHIP_I2C);
    HK_CHECK(strcmp(c.path, "/dev/i2c-1") == 0);
    HK_CHECK_EQ(c.addr7, 0x60);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@0x35", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.addr7, 0x35);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@0xC0", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.addr7, 0x60); /* the 8-bit form */
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@96", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.addr7, 96);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@0xC1", &c, err, sizeof(err)),
                AGENT_EXIT_USAGE); /* odd 8-bit address */
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@0x100", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@0x", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("i2c:/dev/i2c-1@6O", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("i2c:@0x60", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("i2c:", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
}

static void test_chip_soft(void)
{
    agent_chip_spec c;
    HK_CHECK_EQ(agent_parse_chip("soft:dev.key,dev.pem", &c, err, sizeof(err)), 0);
    HK_CHECK_EQ(c.kind, AGENT_CHIP_SOFT);
    HK_CHECK(strcmp(c.path, "dev.key") == 0 && strcmp(c.cert, "dev.pem") == 0);
    HK_CHECK_EQ(c.signer[0], '\0');
    HK_CHECK_EQ(agent_parse_chip("soft:k,c,s", &c, err, sizeof(err)), 0);
    HK_CHECK(strcmp(c.signer, "s") == 0);
    HK_CHECK_EQ(agent_parse_chip("soft:k", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("soft:k,,s", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("soft:k,c,s,x", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("soft:k,c,", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("pkcs11:x", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_chip("", &c, err, sizeof(err)), AGENT_EXIT_USAGE);
}

static void test_endpoint(void)
{
    agent_endpoint e;
    HK_CHECK_EQ(agent_parse_endpoint("dps.hubkey.test", &e, err, sizeof(err)), 0);
    HK_CHECK(strcmp(e.host, "dps.hubkey.test") == 0);
    HK_CHECK_EQ(e.port, 0);
    HK_CHECK_EQ(agent_parse_endpoint("127.0.0.1:8883", &e, err, sizeof(err)), 0);
    HK_CHECK(strcmp(e.host, "127.0.0.1") == 0);
    HK_CHECK_EQ(e.port, 8883);
    HK_CHECK_EQ(agent_parse_endpoint("[::1]:65535", &e, err, sizeof(err)), 0);
    HK_CHECK(strcmp(e.host, "::1") == 0);
    HK_CHECK_EQ(e.port, 65535);
    HK_CHECK_EQ(agent_parse_endpoint("[::1]", &e, err, sizeof(err)), 0);
    HK_CHECK_EQ(e.port, 0);
    const char *bad[] = {"",        ":8883",     "host:",     "host:0",     "host:65536",
                         "host:08", "host:1x",   "[::1",      "[::1]x",     "[]:1",
                         "ho st",   "host/path", "a:b:c",     "[::1]:",     "host:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (agent_parse_endpoint(bad[i], &e, err, sizeof(err)) != AGENT_EXIT_USAGE) {
            HK_CHECK(!"accepted a bad endpoint");
            fprintf(stderr, "  accepted: '%s'\n", bad[i]);
        }
    }
    char host[AGENT_HOST_MAX + 2];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0'; /* 254 characters */
    HK_CHECK_EQ(agent_parse_endpoint(host, &e, err, sizeof(err)), AGENT_EXIT_USAGE);
    host[AGENT_HOST_MAX] = '\0'; /* 253 */
    HK_CHECK_EQ(agent_parse_endpoint(host, &e, err, sizeof(err)), 0);
}

static void test_override(void)
{
    agent_override o;
    HK_CHECK_EQ(agent_parse_override("dps.hubkey.test=127.0.0.1:8883", &o, err, sizeof(err)), 0);
    HK_CHECK(strcmp(o.host, "dps.hubkey.test") == 0);
    HK_CHECK(strcmp(o.to.host, "127.0.0.1") == 0);
    HK_CHECK_EQ(o.to.port, 8883);
    HK_CHECK_EQ(agent_parse_override("hub=10.0.0.2", &o, err, sizeof(err)), 0);
    HK_CHECK_EQ(o.to.port, 0);
    HK_CHECK_EQ(agent_parse_override("nohost", &o, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "HOST=ADDRESS") != NULL);
    HK_CHECK_EQ(agent_parse_override("=1.2.3.4", &o, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_override("a b=1.2.3.4", &o, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_override("host=", &o, err, sizeof(err)), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_parse_override("host=1.2.3.4:99999", &o, err, sizeof(err)),
                AGENT_EXIT_USAGE);
}

static void test_duration(void)
{
    uint32_t ms = 0;
    HK_CHECK_EQ(agent_parse_duration("250ms", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 250);
    HK_CHECK_EQ(agent_parse_duration("5s", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 5000);
    HK_CHECK_EQ(agent_parse_duration("30", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 30000);
    HK_CHECK_EQ(agent_parse_duration("2m", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 120000);
    HK_CHECK_EQ(agent_parse_duration("1h", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 3600000);
    HK_CHECK_EQ(agent_parse_duration("0", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 0);
    HK_CHECK_EQ(agent_parse_duration("596h", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 596u * 3600000u);
    HK_CHECK_EQ(agent_parse_duration("2147483647ms", &ms, err, sizeof(err)), 0);
    HK_CHECK_EQ(ms, 2147483647u);
    const char *bad[] = {"",    "s",   "5x",  "5 s",  "-5s",         "5.5s", "597h",
                         "1d",  "5S",  "ms5", "2147483648ms", "99999999999999999999999", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 77;
        if (agent_parse_duration(bad[i], &ms, err, sizeof(err)) != AGENT_EXIT_USAGE) {
            HK_CHECK(!"accepted a bad duration");
            fprintf(stderr, "  accepted: '%s'\n", bad[i]);
        }
        HK_CHECK_EQ(ms, 77); /* untouched on error */
    }
    /* The message is cut to the buffer, never past it. */
    char small[8 + 4];
    memset(small, HK_GUARD_BYTE, sizeof(small));
    HK_CHECK_EQ(agent_parse_duration("bad", &ms, small, 8), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(small[7], '\0');
    HK_CHECK(hk_guard_intact(small, 8, sizeof(small)));
}

static int parse(agent_options *o, const char *const *args)
{
    int argc = 0;
    char *argv[64];
    argv[argc++] = (char *)"hubkey";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    agent_options_init(o);
    return agent_args_parse(argc, argv, o, err, sizeof(err));
}

static void test_args_full(void)
{
    agent_options o;
    const char *args[] = {"--chip",
                          "emu:chip.emu",
                          "--id-scope=0ne00ABC123",
                          "--dps",
                          "dps.hubkey.test:8883",
                          "--connect",
                          "dps.hubkey.test=127.0.0.1:9000",
                          "--cloud-address",
                          "127.0.0.1:9001",
                          "--connect",
                          "dps.hubkey.test=127.0.0.1:9002",
                          "--trust",
                          "ca.pem",
                          "--payload",
                          "{\"model\":\"x\"}",
                          "--report",
                          "{\"fw\":\"1.0\"}",
                          "-vv",
                          "--json",
                          "--reprovision-interval",
                          "30s",
                          "--reconnect-jitter",
                          "0",
                          "--keep-alive",
                          "60s",
                          "--chip-faults",
                          "10000,7",
                          "--chip-power-loss",
                          "2,17",
                          "send",
                          "one",
                          "-",
                          "--",
                          "--not-an-option",
                          NULL};
    HK_CHECK_EQ(parse(&o, args), 0);
    HK_CHECK_EQ(o.command, AGENT_CMD_SEND);
    HK_CHECK_EQ(o.chip.kind, AGENT_CHIP_EMU);
    HK_CHECK(strcmp(o.id_scope, "0ne00ABC123") == 0);
    HK_CHECK(strcmp(o.dps.host, "dps.hubkey.test") == 0 && o.dps.port == 8883);
    HK_CHECK_EQ(o.override_count, 2); /* the second --connect replaced the first */
    HK_CHECK(strcmp(o.overrides[0].host, "dps.hubkey.test") == 0);
    HK_CHECK_EQ(o.overrides[0].to.port, 9002);
    HK_CHECK(strcmp(o.overrides[1].host, "*") == 0);
    HK_CHECK_EQ(o.overrides[1].to.port, 9001);
    HK_CHECK_EQ(o.verbose, 2);
    HK_CHECK(o.json);
    HK_CHECK_EQ(o.policy.reprovision_interval_ms, 30000);
    HK_CHECK_EQ(o.policy.reconnect_jitter_ms, 1); /* "none" as the policy can say it */
    HK_CHECK_EQ(o.policy.keep_alive_s, 60);
    HK_CHECK_EQ(o.chip_fault_ppm, 10000);
    HK_CHECK_EQ(o.chip_fault_seed, 7);
    HK_CHECK_EQ(o.power_loss_at_write, 2);
    HK_CHECK_EQ(o.power_loss_keep_bytes, 17);
    HK_CHECK_EQ(o.message_count, 3);
    HK_CHECK(strcmp(o.messages[0], "one") == 0);
    HK_CHECK(strcmp(o.messages[1], "-") == 0);
    HK_CHECK(strcmp(o.messages[2], "--not-an-option") == 0);
    HK_CHECK_EQ(o.timeout_ms, 300000); /* default kept */
}

static void test_args_errors(void)
{
    agent_options o;
    struct {
        const char *args[6];
        const char *message;
    } cases[] = {
        {{"frobnicate", NULL}, "unknown command"},
        {{"--nope", NULL}, "unknown option"},
        {{"-x", NULL}, "unknown option"},
        {{"--chip", NULL}, "needs a value"},
        {{"--json=1", NULL}, "takes no value"},
        {{"--chip=", NULL}, "non-empty"},
        {{"--id-scope", "0ne/x", NULL}, "letters and digits"},
        {{"--payload", "{bad", NULL}, "JSON value"},
        {{"--report", "[1]", NULL}, "JSON object"},
        {{"--timeout", "soon", NULL}, "bad duration"},
        {{"--reconnect-min", "0", NULL}, "more than 0"},
        /* Relations between the policy options, with the device defaults
         * (min 5s, max 5m, jitter 5s) for what is not given. */
        {{"--reconnect-max", "1s", "--reconnect-min", "200ms", NULL},
         "--reconnect-jitter (5000 ms) must not exceed --reconnect-max (1000 ms)"},
        {{"--reconnect-max", "2s", NULL}, "--reconnect-min (5000 ms) must not exceed --reconnect-max (2000 ms)"},
        {{"--reconnect-jitter", "6m", NULL}, "must not exceed --reconnect-max (300000 ms)"},
        {{"--keep-alive", "500ms", NULL}, "1s..65535s"},
        {{"--chip-faults", "2000000", NULL}, "PPM"},
        {{"--chip-power-loss", "0", NULL}, "WRITE"},
        {{"--chip-power-loss", "1,33", NULL}, "WRITE"},
        {{"status", "extra", NULL}, "unexpected argument"},
        {{"--model-id", "a\nb", NULL}, "control character"},
        {{"--this-option-name-is-far-too-long-to-be-any-real-option-at-all=1", NULL},
         "unknown option"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        int rc = parse(&o, cases[i].args);
        if (rc != AGENT_EXIT_USAGE || !strstr(err, cases[i].message)) {
            HK_CHECK(!"wrong rejection");
            fprintf(stderr, "  case %zu (%s): rc %d, message '%s'\n", i, cases[i].args[0], rc,
                    err);
        }
    }
    /* The registration payload must fit the DPS request buffer with the
     * longest registration ID: HK_DEVICE_PAYLOAD_MAX bytes. */
    static char big[HK_DEVICE_PAYLOAD_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[0] = '"';
    big[HK_DEVICE_PAYLOAD_MAX] = '"'; /* a JSON string of HK_DEVICE_PAYLOAD_MAX + 1 bytes */
    big[HK_DEVICE_PAYLOAD_MAX + 1] = '\0';
    const char *too_big[] = {"--payload", big, NULL};
    err[0] = '\0';
    HK_CHECK_EQ(parse(&o, too_big), AGENT_EXIT_USAGE);
    char want[128];
    snprintf(want, sizeof(want), "--payload is %u bytes; at most %u fit",
             (unsigned)HK_DEVICE_PAYLOAD_MAX + 1, (unsigned)HK_DEVICE_PAYLOAD_MAX);
    HK_CHECK(strstr(err, want) != NULL);
    big[HK_DEVICE_PAYLOAD_MAX - 1] = '"';
    big[HK_DEVICE_PAYLOAD_MAX] = '\0';
    const char *fits[] = {"--payload", big, "provision", NULL};
    HK_CHECK_EQ(parse(&o, fits), 0);
    HK_CHECK_EQ(strlen(o.payload), HK_DEVICE_PAYLOAD_MAX);
    /* The policy relations hold for the values that are given together. */
    const char *ok_timing[] = {"--reconnect-min", "200ms", "--reconnect-max", "1s",
                               "--reconnect-jitter", "100ms", NULL};
    HK_CHECK_EQ(parse(&o, ok_timing), 0);
    /* More overrides than fit. */
    const char *many[2 * AGENT_MAX_OVERRIDES + 4];
    char names[AGENT_MAX_OVERRIDES + 1][32];
    size_t n = 0;
    for (size_t i = 0; i <= AGENT_MAX_OVERRIDES; i++) {
        snprintf(names[i], sizeof(names[i]), "h%zu=1.2.3.4", i);
        many[n++] = "--connect";
        many[n++] = names[i];
    }
    many[n] = NULL;
    HK_CHECK_EQ(parse(&o, many), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "at most") != NULL);
    /* Help and version need nothing else. */
    const char *help[] = {"-h", NULL};
    HK_CHECK_EQ(parse(&o, help), 0);
    HK_CHECK(o.help);
    HK_CHECK_EQ(o.command, AGENT_CMD_NONE);
    /* --help after a command keeps the command: its own usage. */
    const char *run_help[] = {"run", "--help", NULL};
    HK_CHECK_EQ(parse(&o, run_help), 0);
    HK_CHECK(o.help);
    HK_CHECK_EQ(o.command, AGENT_CMD_RUN);
    const char *send_h[] = {"send", "-h", NULL};
    HK_CHECK_EQ(parse(&o, send_h), 0);
    HK_CHECK(o.help);
    HK_CHECK_EQ(o.command, AGENT_CMD_SEND);
    HK_CHECK_EQ(o.message_count, 0u);
    const char *help_run[] = {"help", "run", NULL};
    HK_CHECK_EQ(parse(&o, help_run), 0);
    HK_CHECK_EQ(o.command, AGENT_CMD_HELP);
    HK_CHECK_EQ(o.help_topic, AGENT_CMD_RUN);
    const char *help_bad[] = {"help", "frobnicate", NULL};
    HK_CHECK_EQ(parse(&o, help_bad), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "frobnicate") != NULL);
    const char *help_two[] = {"help", "run", "send", NULL};
    HK_CHECK_EQ(parse(&o, help_two), AGENT_EXIT_USAGE);
    const char *version[] = {"version", NULL};
    HK_CHECK_EQ(parse(&o, version), 0);
    HK_CHECK_EQ(o.command, AGENT_CMD_VERSION);
    const char *version_opt[] = {"--version", NULL};
    HK_CHECK_EQ(parse(&o, version_opt), 0);
    HK_CHECK(o.version);
    /* The local socket: a path that fits a Unix socket address, or off. */
    const char *sock[] = {"--socket", "/run/hubkey/hubkey.sock", "run", NULL};
    HK_CHECK_EQ(parse(&o, sock), 0);
    HK_CHECK(strcmp(o.socket_path, "/run/hubkey/hubkey.sock") == 0);
    char long_path[AGENT_SOCKET_PATH_MAX + 1];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    const char *sock_long[] = {"--socket", long_path, "run", NULL};
    HK_CHECK_EQ(parse(&o, sock_long), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "--socket") != NULL);
    long_path[AGENT_SOCKET_PATH_MAX - 1] = '\0'; /* 107 bytes fit */
    HK_CHECK_EQ(parse(&o, sock_long), 0);
    const char *sock_empty[] = {"--socket", "", "run", NULL};
    HK_CHECK_EQ(parse(&o, sock_empty), AGENT_EXIT_USAGE);
    HK_CHECK_EQ(agent_option_arity("chip"), 1);
    HK_CHECK_EQ(agent_option_arity("json"), 0);
    HK_CHECK_EQ(agent_option_arity("nope"), -1);
}

static int config(agent_options *o, const char *text)
{
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    memcpy(buf, text, len + 1);
    agent_options_init(o);
    int rc = agent_config_parse(buf, len, o, err, sizeof(err));
    /* The options point into buf: keep it for the checks (freed by the
     * caller through o->config_file, which nothing else sets here). */
    o->config_file = buf;
    return rc;
}

static void test_config(void)
{
    agent_options o;
    HK_CHECK_EQ(config(&o, "# hubkey agent\n"
                           "chip = emu:/var/lib/hubkey/chip.emu\r\n"
                           "   id-scope    0ne00ABC123   \n"
                           "\n"
                           "method-command  /usr/bin/handler --flag value\n"
                           "json\n"
                           "verbose\n"
                           "timeout=2m"),
                0);
    HK_CHECK_EQ(o.chip.kind, AGENT_CHIP_EMU);
    HK_CHECK(strcmp(o.chip.path, "/var/lib/hubkey/chip.emu") == 0);
    HK_CHECK(strcmp(o.id_scope, "0ne00ABC123") == 0);
    HK_CHECK(strcmp(o.method_command, "/usr/bin/handler --flag value") == 0);
    HK_CHECK(o.json);
    HK_CHECK_EQ(o.verbose, 1);
    HK_CHECK_EQ(o.timeout_ms, 120000);
    free((void *)o.config_file);

    HK_CHECK_EQ(config(&o, "json\nbogus 1\n"), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "line 2") != NULL && strstr(err, "unknown option") != NULL);
    free((void *)o.config_file);
    HK_CHECK_EQ(config(&o, "chip\n"), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "needs a value") != NULL);
    free((void *)o.config_file);
    HK_CHECK_EQ(config(&o, "json yes\n"), AGENT_EXIT_USAGE);
    free((void *)o.config_file);
    HK_CHECK_EQ(config(&o, "= value\n"), AGENT_EXIT_USAGE);
    free((void *)o.config_file);
    HK_CHECK_EQ(config(&o, "config other.conf\n"), AGENT_EXIT_USAGE);
    HK_CHECK(strstr(err, "nested") != NULL);
    free((void *)o.config_file);
    HK_CHECK_EQ(config(&o, ""), 0);
    free((void *)o.config_file);
    char with_nul[] = "json\0verbose";
    agent_options_init(&o);
    HK_CHECK_EQ(agent_config_parse(with_nul, sizeof(with_nul) - 1, &o, err, sizeof(err)),
                AGENT_EXIT_USAGE);
}

static void test_json_string(void)
{
    char out[64 + 8];
    const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\r\t\x01\x7f", 5, "\"\\n\\r\\t\\u0001\\u007f\""},
        {"\xc3\xa9t\xc3\xa9", 5, "\"\xc3\xa9t\xc3\xa9\""},            /* UTF-8 kept */
        {"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},                       /* euro sign */
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},               /* 4-byte form */
        {"\xff", 1, "\"\\ufffd\""},                                     /* not UTF-8 */
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},                         /* overlong */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},              /* surrogate */
        {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},   /* > U+10FFFF */
        {"\xe2\x82", 2, "\"\\ufffd\\ufffd\""},                         /* truncated */
        {"a\0b", 3, "\"a\\u0000b\""},
        {"", 0, "\"\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hk_guard_fill(out, 64, sizeof(out));
        size_t need = agent_json_string_buf(out, 64, cases[i].in, cases[i].len);
        HK_CHECK_EQ(need, strlen(cases[i].want));
        if (strcmp(out, cases[i].want) != 0) {
            HK_CHECK(!"JSON string differs");
            fprintf(stderr, "  case %zu: got %s\n", i, out);
        }
        HK_CHECK(hk_guard_intact(out, 64, sizeof(out)));
    }
    /* Too small: cut with a NUL inside the buffer, the full size reported. */
    hk_guard_fill(out, 4, sizeof(out));
    HK_CHECK_EQ(agent_json_string_buf(out, 4, "abcdef", 6), 8);
    HK_CHECK(memcmp(out, "\"ab\0", 4) == 0);
    HK_CHECK(hk_guard_intact(out, 4, sizeof(out)));
    HK_CHECK_EQ(agent_json_string_buf(NULL, 0, "abc", 3), 5);
}

static void test_json_valid(void)
{
    const char *doc = "{\"a\":[1,2,{\"b\":null}]}";
    HK_CHECK(agent_json_valid(doc, strlen(doc)));
    HK_CHECK(agent_json_valid("\"text\"", 6));
    HK_CHECK(agent_json_valid("42", 2));
    HK_CHECK(!agent_json_valid("{", 1));
    HK_CHECK(!agent_json_valid("hello", 5));
    HK_CHECK(!agent_json_valid("{} {}", 5));
    HK_CHECK(!agent_json_valid("", 0));
    char deep[64];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    HK_CHECK(!agent_json_valid(deep, 64)); /* deeper than the limit */
}

static agent_request_kind req(const char *line, const char **arg, size_t *arg_len,
                              const char **why)
{
    return agent_request_parse(line, strlen(line), arg, arg_len, why);
}

static void test_request(void)
{
    const char *arg, *why;
    size_t n;
    HK_CHECK_EQ(req("", &arg, &n, &why), AGENT_REQ_EMPTY);
    HK_CHECK_EQ(req("\r", &arg, &n, &why), AGENT_REQ_EMPTY);
    /* A JSON object is telemetry as it is. */
    HK_CHECK_EQ(req("{\"t\":21.5}\r", &arg, &n, &why), AGENT_REQ_TELEMETRY);
    HK_CHECK(n == 10 && memcmp(arg, "{\"t\":21.5}", n) == 0);
    HK_CHECK_EQ(req("telemetry  door open", &arg, &n, &why), AGENT_REQ_TELEMETRY);
    HK_CHECK(n == 9 && memcmp(arg, "door open", n) == 0);
    HK_CHECK_EQ(req("telemetry", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK(strstr(why, "telemetry TEXT") != NULL);
    HK_CHECK_EQ(req("telemetryx a", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK_EQ(req("reported {\"fw\":\"1.2\"}", &arg, &n, &why), AGENT_REQ_REPORTED);
    HK_CHECK(n == 12 && memcmp(arg, "{\"fw\":\"1.2\"}", n) == 0);
    HK_CHECK_EQ(req("reported", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK_EQ(req("reported [1]", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK_EQ(req("reported {\"fw\":", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK(strstr(why, "JSON object") != NULL);
    HK_CHECK_EQ(req("hello", &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK(strstr(why, "unknown request") != NULL);
    HK_CHECK_EQ(agent_request_parse("telemetry a\0b", 13, &arg, &n, &why), AGENT_REQ_BAD);
    HK_CHECK(strstr(why, "NUL") != NULL);
}

int main(void)
{
    HK_RUN(test_chip_emu);
    HK_RUN(test_chip_i2c);
    HK_RUN(test_chip_soft);
    HK_RUN(test_endpoint);
    HK_RUN(test_override);
    HK_RUN(test_duration);
    HK_RUN(test_args_full);
    HK_RUN(test_args_errors);
    HK_RUN(test_config);
    HK_RUN(test_json_string);
    HK_RUN(test_json_valid);
    HK_RUN(test_request);
    return hk_test_finish("agent");
}
