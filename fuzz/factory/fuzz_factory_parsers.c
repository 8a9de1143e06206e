/* libFuzzer harness for hubkey-factory's parsers of untrusted text: the
 * chip spec (command line), ca.conf (a file of the CA directory) and the
 * device subject template. Byte 0 selects the parser (bits 1..0: 0 chip
 * spec, 1 ca.conf, 2 CA name, 3 device subject); the rest is the text.
 * Every input must give an exit code, never a crash or an out-of-bounds
 * access (ASan/UBSan). The parsers explain each refusal on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] & 3) {
    case 0: {
        fx_chip_spec spec;
        int rc = fx_chip_spec_parse(text, &spec);
        if (rc == FX_OK && (spec.path[0] == '\0' || spec.addr7 == 0 || spec.addr7 > 0x7F))
            abort();
        if (rc != FX_OK && rc != FX_USAGE)
            abort();
        break;
    }
    case 1: {
        fx_ca *ca = calloc(1, sizeof *ca);
        if (ca) {
            int rc = fx_ca_conf_parse(ca, "ca.conf", text);
            if (rc == FX_OK && (fx_device_subject_check(ca->device_subject) != FX_OK ||
                                ca->device_years > 127))
                abort();
            free(ca);
        }
        break;
    }
    case 2:
        (void)fx_name_ok(text);
        break;
    default:
        (void)fx_device_subject_check(text);
        break;
    }
    free(text);
    return 0;
}
