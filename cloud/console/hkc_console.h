/*
 * hubkey-cloud console: a web page on 127.0.0.1 that shows the fleet (hubs,
 * devices and their connection state, registrations, twins, C2D messages,
 * live telemetry) and runs the CLI's actions on devices. Served by
 * libmicrohttpd from the same SQLite state the broker plugin writes; every
 * asset is compiled in, nothing is fetched from elsewhere.
 */
#ifndef HKC_CONSOLE_H
#define HKC_CONSOLE_H

/* `hubkey-cloud console [--port N] [--read-only]`: serves until SIGINT or
 * SIGTERM. argv holds the arguments after `console`. Returns the CLI's exit
 * code (0, 1 usage, 2 bad value, 3 state, 4 the server could not start). */
int hkc_console_main(const char *db_path, int argc, char **argv);

#endif /* HKC_CONSOLE_H */
