/*
 * The help lookup of hubkey-cloud and hubkey-factory (cli_help.h). The
 * paths are built in a fixed buffer: a path longer than any entry's cannot
 * match, so a word that does not fit ends the walk like an unknown one.
 */
#include "cli_help.h"

#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 128

const cli_help_entry *cli_help_find(const cli_help *h, const char *path)
{
    for (size_t i = 0; i < h->count; i++)
        if (strcmp(h->entries[i].path, path) == 0)
            return &h->entries[i];
    return NULL;
}

int cli_help_words(const cli_help *h, const char *const *words, int n, char *err, size_t err_cap)
{
    const cli_help_entry *e = NULL;
    char path[PATH_MAX_LEN] = "";
    int used = 0;
    for (int k = 0; k < n; k++) {
        char next[PATH_MAX_LEN];
        int len = snprintf(next, sizeof(next), "%s%s%s", path, k ? " " : "", words[k]);
        const cli_help_entry *m =
            len > 0 && (size_t)len < sizeof(next) ? cli_help_find(h, next) : NULL;
        if (!m)
            break;
        e = m;
        used = k + 1;
        memcpy(path, next, (size_t)len + 1);
        if (m->text)
            break; /* a command: the rest are its arguments */
    }
    if (!e) {
        snprintf(err, err_cap, "unknown command '%s' (see %s --help)", n > 0 ? words[0] : "",
                 h->program);
        return -1;
    }
    if (!e->text && used < n) {
        snprintf(err, err_cap, "%s: unknown action '%s' (see %s %s --help)", path, words[used],
                 h->program, path);
        return -1;
    }
    printf("usage: %s %s\n\n", h->usage_prefix, e->usage);
    if (e->text) {
        fputs(e->text, stdout);
    } else {
        size_t plen = strlen(path);
        for (size_t i = 0; i < h->count; i++)
            if (h->entries[i].text && strncmp(h->entries[i].path, path, plen) == 0 &&
                h->entries[i].path[plen] == ' ')
                printf("  %s\n", h->entries[i].usage);
        printf("\n`%s %s ACTION --help` explains one.\n", h->program, path);
    }
    printf("\n%s", h->exit_codes);
    return 0;
}
