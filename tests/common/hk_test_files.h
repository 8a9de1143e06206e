/*
 * Host helpers for the programs that run a whole boot from files (the lwIP
 * boot test, the device benchmark): a file read whole into a caller buffer,
 * and a certificate definition (`hubkey-factory ca init`'s device.certdef,
 * signer.certdef) read and parsed.
 */
#ifndef HK_TEST_FILES_H
#define HK_TEST_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hubkey/cert.h"
#include "hubkey/result.h"

/* 0 with *out_len set when the whole file fits in cap bytes; -1 when it
 * cannot be opened, read, or is larger. */
static inline int hk_test_read_file(const char *path, uint8_t *buf, size_t cap, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    bool bad = ferror(f) != 0 || !feof(f);
    fclose(f);
    if (bad)
        return -1;
    *out_len = n;
    return 0;
}

/* DIR/NAME into buf (cap bytes, which def keeps pointing into) and parsed
 * into def; -1 with the reason on standard error, prefixed by who. */
static inline int hk_test_load_certdef(const char *who, const char *dir, const char *name,
                                       uint8_t *buf, size_t cap, hk_cert_def *def)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    if (hk_test_read_file(path, buf, cap, &len) != 0) {
        fprintf(stderr, "%s: cannot read %s\n", who, path);
        return -1;
    }
    hk_result r = hk_cert_def_parse(buf, len, def);
    if (r != HK_OK) {
        fprintf(stderr, "%s: %s: %s\n", who, path, hk_result_name(r));
        return -1;
    }
    return 0;
}

#endif /* HK_TEST_FILES_H */
