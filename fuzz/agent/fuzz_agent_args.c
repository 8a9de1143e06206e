/*
 * libFuzzer over the agent's parsers: the input is split at NUL bytes into
 * a command line, and the whole input is also read as a configuration file
 * and as JSON text. Whatever the bytes, the parsers must return 0 or
 * AGENT_EXIT_USAGE with a NUL-terminated message, and never read or write
 * outside their buffers (ASan checks the latter).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char err[AGENT_ERR_MAX];
    agent_options opts;

    /* Command line: NUL-separated arguments (exact-size copy so ASan sees
     * any read past the end). */
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[66];
    int argc = 0;
    argv[argc++] = (char *)"hubkey";
    for (size_t i = 0; i <= size && argc < 65;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    agent_options_init(&opts);
    err[0] = '\0';
    int rc = agent_args_parse(argc, argv, &opts, err, sizeof(err));
    if (rc != 0 && (rc != AGENT_EXIT_USAGE || memchr(err, '\0', sizeof(err)) == NULL))
        abort();

    /* Each argument through the single-value parsers. */
    for (int i = 1; i < argc; i++) {
        agent_chip_spec chip;
        agent_endpoint ep;
        agent_override ov;
        uint32_t ms;
        (void)agent_parse_chip(argv[i], &chip, err, sizeof(err));
        (void)agent_parse_endpoint(argv[i], &ep, err, sizeof(err));
        (void)agent_parse_override(argv[i], &ov, err, sizeof(err));
        (void)agent_parse_duration(argv[i], &ms, err, sizeof(err));
    }
    free(buf);

    /* Configuration file. */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    agent_options_init(&opts);
    rc = agent_config_parse(text, size, &opts, err, sizeof(err));
    if (rc != 0 && rc != AGENT_EXIT_USAGE)
        abort();
    free(text);

    /* JSON text of network bytes. */
    char *exact = malloc(size ? size : 1);
    memcpy(exact, data, size);
    char out[256];
    size_t need = agent_json_string_buf(out, sizeof(out), exact, size);
    if (need < size + 2 || strlen(out) >= sizeof(out))
        abort();
    (void)agent_json_valid(exact, size);
    free(exact);
    return 0;
}
