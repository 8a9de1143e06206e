/*
 * The help lookup the command-line programs share (docs/cli.md): a table of
 * commands at every depth, and `PROGRAM WORDS... --help` answered with the
 * longest known prefix of WORDS.
 *
 * Each program keeps its own table, overview and exit-code text; this file
 * only walks the table, so the rule "help after any command, at any depth"
 * is written once.
 */
#ifndef HK_CLI_HELP_H
#define HK_CLI_HELP_H

#include <stddef.h>

/* One entry per command, at every depth ("enroll group add"). An entry
 * without text is a group: its help lists the entries whose path begins
 * with its path and a space. */
typedef struct cli_help_entry {
    const char *path;
    const char *usage; /* after "usage: PROGRAM " (the usage prefix) */
    const char *text;  /* what it does and its options; NULL for a group */
} cli_help_entry;

typedef struct cli_help {
    const char *program;      /* "hubkey-factory": named in the hints */
    const char *usage_prefix; /* "hubkey-cloud [--dir STATE]": before each usage */
    const cli_help_entry *entries;
    size_t count;
    const char *exit_codes; /* printed after a blank line at the end */
} cli_help;

/* The entry whose path is exactly path, or NULL. */
const cli_help_entry *cli_help_find(const cli_help *h, const char *path);

/* Prints the help of the command named by words[0..n) (n >= 1) on standard
 * output and returns 0: the longest prefix of the words that names an
 * entry; words after a command (not a group) are its arguments and are
 * ignored. Returns -1 with a message in err (never cut silently: at most
 * err_cap bytes, NUL-terminated) when the first word names no command or a
 * group is followed by a word that names none of its commands. */
int cli_help_words(const cli_help *h, const char *const *words, int n, char *err, size_t err_cap);

#endif /* HK_CLI_HELP_H */
