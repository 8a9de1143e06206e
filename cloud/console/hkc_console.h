/*
 * hubkey-cloud console: a web page on 127.0.0.1 that shows the fleet (hubs,
 * devices and their connection state, registrations, twins, C2D messages,
 * live telemetry) and runs the CLI's actions on devices. Served by
 * libmicrohttpd from the same SQLite state the broker plugin writes; every
 * asset is compiled in, nothing is fetched from elsewhere.
 */
#ifndef HKC_CONSOLE_H
#define HKC_CONSOLE_H

#include <stdbool.h>

struct hkc_console_options {
    long port;      /* 0: any free port */
    bool read_only; /* no token, every action refused */
    bool help;      /* --help given: usage printed, nothing to run */
};

/* Parses the arguments after `console`: [--port N] [--read-only] [--help].
 * Returns 0, or the CLI's exit code after printing the problem (1 unknown
 * argument, 2 bad value). */
int hkc_console_parse(int argc, char **argv, struct hkc_console_options *out);

/* Serves the console over the state in db_path until SIGINT or SIGTERM.
 * Returns the CLI's exit code (0, or 4 when the server cannot start). */
int hkc_console_run(const char *db_path, const struct hkc_console_options *o);

#endif /* HKC_CONSOLE_H */
