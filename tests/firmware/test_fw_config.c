/*
 * The firmware's settings file (firmware/fw_config.h): known answers, the
 * defaults, and every refusal with the line it names. The parser runs on
 * the host here exactly as in the firmware (it is plain C over a buffer).
 */
#include <stdlib.h>
#include <string.h>

#include "fw_config.h"
#include "hk_test.h"

static char buf[1024];

/* Copies text into buf (the parser writes into it) and parses it. */
static hk_result parse(const char *text, fw_config *cfg, unsigned *line)
{
    size_t n = strlen(text);
    memcpy(buf, text, n);
    return fw_config_parse(cfg, buf, n, line);
}

static void test_full_file(void)
{
    fw_config c;
    unsigned line = 99;
    HK_CHECK_RESULT(parse("# settings\n"
                          "id_scope=0ne00ABCDEF\n"
                          "  dps_host = dps.hubkey.test  \r\n"
                          "\n"
                          "port=45591\n"
                          "route=* 10.0.2.2\n"
                          "route=hub-1.hubkey.test 10.0.2.3:8884\n"
                          "trust=/tmp/ca.pem\n"
                          "telemetry=0\n"
                          "interval_ms=250\n"
                          "exit=never\n"
                          "force=1\n"
                          "floor=1\n"
                          "reconnect_min_ms=200\n"
                          "reconnect_max_ms=1000\n"
                          "reconnect_jitter_ms=100\n"
                          "reprovision_interval_ms=60000\n"
                          "dps_deadline_ms=120000\n"
                          "connect_timeout_ms=4294967295\n"
                          "chip_timeout_ms=5000",
                          &c, &line),
                    HK_OK);
    HK_CHECK(strcmp(c.id_scope, "0ne00ABCDEF") == 0);
    HK_CHECK(strcmp(c.dps_host, "dps.hubkey.test") == 0);
    HK_CHECK_EQ(c.port, 45591);
    HK_CHECK_EQ(c.route_count, 2);
    HK_CHECK(strcmp(c.routes[0].host, "*") == 0 && strcmp(c.routes[0].address, "10.0.2.2") == 0);
    HK_CHECK_EQ(c.routes[0].port, 0);
    HK_CHECK(strcmp(c.routes[1].host, "hub-1.hubkey.test") == 0);
    HK_CHECK(strcmp(c.routes[1].address, "10.0.2.3") == 0);
    HK_CHECK_EQ(c.routes[1].port, 8884);
    HK_CHECK(strcmp(c.trust_path, "/tmp/ca.pem") == 0);
    HK_CHECK_EQ(c.telemetry, 0);
    HK_CHECK_EQ(c.interval_ms, 250);
    HK_CHECK(!c.exit_after_sent && c.force && c.floor);
    HK_CHECK_EQ(c.reconnect_min_ms, 200);
    HK_CHECK_EQ(c.reconnect_max_ms, 1000);
    HK_CHECK_EQ(c.reconnect_jitter_ms, 100);
    HK_CHECK_EQ(c.reprovision_interval_ms, 60000);
    HK_CHECK_EQ(c.dps_deadline_ms, 120000);
    HK_CHECK_EQ(c.connect_timeout_ms, 4294967295u);
    HK_CHECK_EQ(c.chip_timeout_ms, 5000);
}

static void test_defaults(void)
{
    fw_config c;
    unsigned line = 99;
    HK_CHECK_RESULT(parse("id_scope=0ne1\n", &c, &line), HK_OK);
    HK_CHECK(strcmp(c.dps_host, "global.azure-devices-provisioning.net") == 0);
    HK_CHECK_EQ(c.port, 8883);
    HK_CHECK(c.trust_path == NULL);
    HK_CHECK_EQ(c.route_count, 0);
    HK_CHECK_EQ(c.telemetry, 3);
    HK_CHECK_EQ(c.interval_ms, 1000);
    HK_CHECK(c.exit_after_sent && !c.force && !c.floor);
    HK_CHECK_EQ(c.connect_timeout_ms, 0);
}

/* Each bad file is refused naming its line (0: the whole file). */
static void test_refusals(void)
{
    static const struct {
        const char *text;
        unsigned line;
    } bad[] = {
        {"", 0},                                     /* no id_scope */
        {"# only a comment\n", 0},
        {"id_scope=x\nnonsense\n", 2},                /* no '=' */
        {"id_scope=x\nunknown=1\n", 2},               /* unknown key */
        {"id_scope=\n", 1},                          /* empty string */
        {"id_scope=x\nport=0\n", 2},
        {"id_scope=x\nport=65536\n", 2},
        {"id_scope=x\nport=12a\n", 2},
        {"id_scope=x\ntelemetry=4294967296\n", 2},    /* over 32 bits */
        {"id_scope=x\ntelemetry=-1\n", 2},
        {"id_scope=x\ntelemetry=\n", 2},
        {"id_scope=x\nforce=yes\n", 2},
        {"id_scope=x\nexit=later\n", 2},
        {"id_scope=x\nroute=*\n", 2},                 /* no address */
        {"id_scope=x\nroute=* \n", 2},
        {"id_scope=x\nroute=* 10.0.2.2:\n", 2},
        {"id_scope=x\nroute=* 10.0.2.2:0\n", 2},
        {"id_scope=x\nroute=* 10.0.2.2:70000\n", 2},
        {"id_scope=x\nroute=* :8883\n", 2},
        {"id_scope=x\nroute=a 1\nroute=b 2\nroute=c 3\nroute=d 4\nroute=e 5\n", 6}, /* too many */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fw_config c;
        unsigned line = 99;
        hk_result r = parse(bad[i].text, &c, &line);
        if (r != HK_ERR_MALFORMED || line != bad[i].line)
            printf("  case %zu: result %d, line %u (expected line %u)\n", i, (int)r, line,
                   bad[i].line);
        HK_CHECK_RESULT(r, HK_ERR_MALFORMED);
        HK_CHECK_EQ(line, bad[i].line);
    }
}

/* A NUL inside the file is refused with its line; nothing is read past the
 * length given. */
static void test_nul_and_length(void)
{
    fw_config c;
    unsigned line = 0;
    static const char text[] = "id_scope=x\nport=1\0port=2\n";
    memcpy(buf, text, sizeof text - 1);
    HK_CHECK_RESULT(fw_config_parse(&c, buf, sizeof text - 1, &line), HK_ERR_MALFORMED);
    HK_CHECK_EQ(line, 2);
    memcpy(buf, "id_scope=x\nport=12345", 21);
    HK_CHECK_RESULT(fw_config_parse(&c, buf, 17, &line), HK_OK); /* "...\nport=1" */
    HK_CHECK_EQ(c.port, 1);
}

/* Random bytes never crash it and give either a config or a line. */
static void test_random_bytes(void)
{
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand() % 200);
        static const char alphabet[] = "id_scope=port=route=* 10.0.2.2:8\n#\r\t force=1exit=sent";
        for (size_t k = 0; k < n; k++)
            buf[k] = (rand() % 8 == 0) ? (char)(rand() % 256) : alphabet[rand() % (sizeof alphabet - 1)];
        fw_config c;
        unsigned line = 0;
        hk_result r = fw_config_parse(&c, buf, n, &line);
        HK_CHECK(r == HK_OK || r == HK_ERR_MALFORMED);
        if (r == HK_OK)
            HK_CHECK(c.id_scope != NULL && c.id_scope[0] != '\0');
    }
}

int main(void)
{
    HK_RUN(test_full_file);
    HK_RUN(test_defaults);
    HK_RUN(test_refusals);
    HK_RUN(test_nul_and_length);
    HK_RUN(test_random_bytes);
    return hk_test_finish("fw_config");
}
