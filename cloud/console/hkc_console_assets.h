/*
 * The console page's files, compiled in from cloud/console/web/ at build time
 * (cloud/console/embed.cmake writes hkc_console_assets.c), so the console
 * needs nothing from the network or the file system to serve its page.
 */
#ifndef HKC_CONSOLE_ASSETS_H
#define HKC_CONSOLE_ASSETS_H

#include <stddef.h>

struct hkc_console_asset {
    const char *path; /* "/index.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* The asset served at path, or NULL. */
const struct hkc_console_asset *hkc_console_asset_find(const char *path);

#endif /* HKC_CONSOLE_ASSETS_H */
