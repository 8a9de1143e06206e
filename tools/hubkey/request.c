/*
 * hubkey — the local socket's request lines (docs/hubkey-agent.md, "The
 * local socket"): pure parsing, unit-tested and fuzzed with the command line.
 */
#include <string.h>

#include "agent.h"

static bool starts_word(const char *s, size_t len, const char *word, size_t *rest)
{
    size_t n = strlen(word);
    if (len < n || memcmp(s, word, n) != 0)
        return false;
    if (len == n) {
        *rest = n;
        return true;
    }
    if (s[n] != ' ' && s[n] != '\t')
        return false;
    while (n < len && (s[n] == ' ' || s[n] == '\t'))
        n++;
    *rest = n;
    return true;
}

agent_request_kind agent_request_parse(const char *line, size_t len, const char **arg,
                                       size_t *arg_len, const char **why)
{
    *arg = NULL;
    *arg_len = 0;
    *why = NULL;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return AGENT_REQ_EMPTY;
    if (memchr(line, '\0', len)) {
        *why = "NUL byte in the line";
        return AGENT_REQ_BAD;
    }
    size_t at;
    if (line[0] == '{') {
        *arg = line;
        *arg_len = len;
        return AGENT_REQ_TELEMETRY;
    }
    if (starts_word(line, len, "telemetry", &at)) {
        if (at == len) {
            *why = "telemetry needs a message: telemetry TEXT";
            return AGENT_REQ_BAD;
        }
        *arg = line + at;
        *arg_len = len - at;
        return AGENT_REQ_TELEMETRY;
    }
    if (starts_word(line, len, "reported", &at)) {
        if (at == len || line[at] != '{' || !agent_json_valid(line + at, len - at)) {
            *why = "reported needs a JSON object: reported {\"name\":value}";
            return AGENT_REQ_BAD;
        }
        *arg = line + at;
        *arg_len = len - at;
        return AGENT_REQ_REPORTED;
    }
    *why = "unknown request: expected 'telemetry TEXT', a JSON object (telemetry), or "
           "'reported JSON'";
    return AGENT_REQ_BAD;
}
