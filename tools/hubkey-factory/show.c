/*
 * hubkey-factory — `chip show`: what a chip holds, read only. Works on a
 * chip in any state; certificates are rebuilt when a CA directory (its
 * certificate definitions) is given, otherwise their 72-byte compressed
 * form is decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory.h"
#include "hubkey/record.h"

static void show_compressed(fx_chip *chip, uint8_t slot, const char *what)
{
    uint8_t raw[HK_CERT_COMPRESSED_SIZE], st = 0;
    hk_result r = hk_atecc608_read_slot(&chip->dev, slot, 0, raw, sizeof raw, &st);
    if (r != HK_OK) {
        printf("  slot %2u %s: not readable (%s)\n", slot, what, hk_result_str(r));
        return;
    }
    hk_cert_compressed c;
    if (hk_cert_compressed_decode(raw, sizeof raw, &c) != HK_OK) {
        printf("  slot %2u %s: empty or not a compressed certificate\n", slot, what);
        return;
    }
    printf("  slot %2u %s: compressed, issued %04u-%02u-%02u %02u:00 UTC, %u years%s, signer "
           "ID %02X%02X, template %u, chain %u\n",
           slot, what, c.issue.year, c.issue.month, c.issue.day, c.issue.hour, c.expire_years,
           c.expire_years ? "" : " (no expiry)", c.signer_id[0], c.signer_id[1], c.template_id,
           c.chain_id);
}

static void show_record(fx_chip *chip)
{
    uint8_t image[HK_RECORD_AREA_SIZE], st = 0;
    hk_result r = hk_atecc608_read_slot(&chip->dev, HK_ATECC608_SLOT_RECORD, 0, image,
                                        sizeof image, &st);
    if (r != HK_OK) {
        printf("provisioning record (slot 8): not readable (%s)\n", hk_result_str(r));
        return;
    }
    hk_record rec;
    r = hk_record_parse(image, sizeof image, &rec);
    const char *legacy = rec.legacy_chip ? " (legacy layout in bytes 0-67)" : "";
    if (r == HK_OK)
        printf("provisioning record (slot 8)%s: hub %s, device %s, generation %lu, flags 0x%02X%s\n",
               legacy, rec.hub_hostname, rec.device_id, (unsigned long)rec.generation, rec.flags,
               rec.from_legacy ? ", from the legacy layout" : "");
    else if (r == HK_ERR_RECORD_EMPTY)
        printf("provisioning record (slot 8)%s: empty (the device has not been assigned)\n",
               legacy);
    else
        printf("provisioning record (slot 8)%s: %s\n", legacy, hk_result_str(r));
}

/* ---- chip show --json ---- */

static void json_compressed(fx_chip *chip, uint8_t slot)
{
    uint8_t raw[HK_CERT_COMPRESSED_SIZE], st = 0;
    hk_cert_compressed c;
    if (hk_atecc608_read_slot(&chip->dev, slot, 0, raw, sizeof raw, &st) != HK_OK ||
        hk_cert_compressed_decode(raw, sizeof raw, &c) != HK_OK) {
        printf("null");
        return;
    }
    printf("{\"slot\":%u,\"issued\":\"%04u-%02u-%02uT%02u:00:00Z\",\"years\":%u,"
           "\"signer_id\":\"%02X%02X\",\"template\":%u,\"chain\":%u}",
           slot, c.issue.year, c.issue.month, c.issue.day, c.issue.hour, c.expire_years,
           c.signer_id[0], c.signer_id[1], c.template_id, c.chain_id);
}

static void json_record(fx_chip *chip)
{
    uint8_t image[HK_RECORD_AREA_SIZE], st = 0;
    hk_result r = hk_atecc608_read_slot(&chip->dev, HK_ATECC608_SLOT_RECORD, 0, image,
                                        sizeof image, &st);
    if (r != HK_OK) {
        printf("{\"state\":\"unreadable\",\"error\":");
        fx_json_str(stdout, hk_result_str(r));
        printf("}");
        return;
    }
    hk_record rec;
    r = hk_record_parse(image, sizeof image, &rec);
    if (r == HK_OK) {
        printf("{\"state\":\"assigned\",\"hub\":");
        fx_json_str(stdout, rec.hub_hostname);
        printf(",\"device_id\":");
        fx_json_str(stdout, rec.device_id);
        printf(",\"generation\":%lu,\"flags\":%u,\"legacy_layout\":%s}",
               (unsigned long)rec.generation, rec.flags, rec.legacy_chip ? "true" : "false");
    } else if (r == HK_ERR_RECORD_EMPTY) {
        printf("{\"state\":\"empty\"}");
    } else {
        printf("{\"state\":\"invalid\",\"error\":");
        fx_json_str(stdout, hk_result_str(r));
        printf("}");
    }
}

static int chip_show_json(fx_chip *chip, const char *ca_dir, const uint8_t raw[128],
                          const hk_atecc608_config *cfg)
{
    uint8_t st = 0, rev[4];
    /* The CA first: when it cannot be read, nothing is printed but the error. */
    fx_ca ca;
    bool have_ca = ca_dir && cfg->data_locked;
    if (have_ca) {
        int rc = fx_ca_load(&ca, ca_dir, false);
        if (rc) {
            fx_ca_free(&ca);
            return rc;
        }
    }
    char sn[19];
    fx_hex(sn, cfg->serial, 9, false);
    printf("{\"chip\":");
    fx_json_str(stdout, chip->name);
    printf(",\"serial\":\"%s\"", sn);
    if (hk_atecc608_info(&chip->dev, 0, 0, rev, &st) == HK_OK) {
        char part[48];
        fx_part_text(rev, part, sizeof part);
        printf(",\"revision\":\"%02X%02X%02X%02X\",\"part\":", rev[0], rev[1], rev[2], rev[3]);
        fx_json_str(stdout, hk_atecc608_part_of(rev) != HK_ATECC608_PART_UNKNOWN ? part
                                                                                 : "unknown");
    }
    printf(",\"config_locked\":%s,\"data_locked\":%s,\"slots_locked\":[",
           cfg->config_locked ? "true" : "false", cfg->data_locked ? "true" : "false");
    int any = 0;
    for (unsigned n = 0; n < 16; n++)
        if (cfg->slots[n].locked)
            printf("%s%u", any++ ? "," : "", n);
    fx_compat c;
    fx_config_compare(raw, &c);
    printf("],\"configuration\":\"%s\",\"differences\":%d,\"problems\":%d,"
           "\"configuration_notes\":",
           c.exact ? "hubkey" : c.problems == 0 ? "compatible" : "incompatible", c.differences,
           c.problems);
    fx_json_str(stdout, c.exact ? "" : c.text);
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    bool key_ok = hk_atecc608_config_check(cfg, HK_ATECC608_SLOT_DEVICE_KEY, &p) == HK_OK;
    printf(",\"key_slot_usable\":%s,\"key_slot_problem\":", key_ok ? "true" : "false");
    fx_json_str(stdout, key_ok ? "" : hk_atecc608_problem_str(p));
    printf(",\"certificates\":");
    if (!cfg->data_locked) {
        printf("null");
    } else {
        bool rebuilt = false;
        if (have_ca) {
            uint8_t *dev = NULL, *sig = NULL;
            size_t dlen = 0, slen = 0;
            if (fx_chip_read_chain(chip, &ca, &dev, &dlen, &sig, &slen) == FX_OK) {
                char why[300], cn[160];
                bool verifies = fx_ca_verify_chain(&ca, dev, dlen, sig, slen, why, sizeof why) == 0;
                printf("{\"rebuilt\":true,\"device\":");
                fx_json_cert(stdout, dev, dlen);
                printf(",\"signer\":");
                fx_json_cert(stdout, sig, slen);
                printf(",\"registration_id\":");
                fx_json_str(stdout, fx_cert_cn(dev, dlen, cn, sizeof cn) == 0 ? cn : "");
                printf(",\"chain_verifies\":%s,\"chain_error\":", verifies ? "true" : "false");
                fx_json_str(stdout, verifies ? "" : why);
                printf("}");
                rebuilt = true;
            }
            free(dev);
            free(sig);
            fx_ca_free(&ca);
        }
        if (!rebuilt) {
            printf("{\"rebuilt\":false,\"device\":");
            json_compressed(chip, HK_ATECC608_SLOT_DEVICE_CERT);
            printf(",\"signer\":");
            json_compressed(chip, HK_ATECC608_SLOT_SIGNER_CERT);
            printf("}");
        }
    }
    printf(",\"record\":");
    if (cfg->data_locked)
        json_record(chip);
    else
        printf("null");
    printf("}\n");
    return FX_OK;
}

int fx_chip_show(fx_chip *chip, const char *ca_dir, bool json)
{
    uint8_t raw[128], st = 0, rev[4];
    hk_result r = hk_atecc608_read_config(&chip->dev, raw, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "reading the config zone", r, st);
    hk_atecc608_config cfg;
    /* Never fails on any bytes (only NULL pointers, and these are not). */
    hk_result_ignore(hk_atecc608_config_decode(raw, &cfg));
    if (json)
        return chip_show_json(chip, ca_dir, raw, &cfg);
    char sn[19];
    fx_hex(sn, cfg.serial, 9, false);
    printf("chip %s\n", chip->name);
    printf("serial          %s\n", sn);
    if (hk_atecc608_info(&chip->dev, 0, 0, rev, &st) == HK_OK)
    {
        char part[48];
        fx_part_text(rev, part, sizeof part);
        printf("revision        %02X %02X %02X %02X (%s)\n", rev[0], rev[1], rev[2], rev[3],
               hk_atecc608_part_of(rev) != HK_ATECC608_PART_UNKNOWN ? part : "unknown part");
    }
    printf("config zone     %s\n", cfg.config_locked ? "locked" : "unlocked");
    printf("data zone       %s\n", cfg.data_locked ? "locked" : "unlocked");
    printf("slots locked    ");
    int any = 0;
    for (unsigned n = 0; n < 16; n++)
        if (cfg.slots[n].locked)
            printf("%s%u", any++ ? ", " : "", n);
    printf("%s\n", any ? "" : "none");

    fx_compat c;
    fx_config_compare(raw, &c);
    if (c.exact)
        printf("configuration   the hubkey configuration%s\n",
               cfg.config_locked ? "" : " (not locked yet)");
    else if (c.problems == 0)
        printf("configuration   compatible with hubkey, %d bytes differ:\n%s", c.differences,
               c.text);
    else
        printf("configuration   NOT usable by hubkey (%d problems):\n%s", c.problems, c.text);
    fx_config_print(&cfg, "  ");
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    if (hk_atecc608_config_check(&cfg, HK_ATECC608_SLOT_DEVICE_KEY, &p) == HK_OK)
        printf("key slot 0      safe for the device key\n");
    else
        printf("key slot 0      not usable yet: %s\n", hk_atecc608_problem_str(p));

    if (!cfg.data_locked) {
        printf("certificates    none (the data zone is not locked)\n");
        if (cfg.config_locked)
            printf("next step       hubkey-factory chip configure --chip %s (finishes the "
                   "partly configured chip)\n", chip->name);
        else
            printf("next step       hubkey-factory chip configure --chip %s\n", chip->name);
        return FX_OK;
    }

    printf("certificates\n");
    bool rebuilt = false;
    if (ca_dir) {
        fx_ca ca;
        int rc = fx_ca_load(&ca, ca_dir, false);
        if (rc) {
            fx_ca_free(&ca);
            return rc;
        }
        uint8_t *dev = NULL, *sig = NULL;
        size_t dlen = 0, slen = 0;
        if (fx_chip_read_chain(chip, &ca, &dev, &dlen, &sig, &slen) == FX_OK) {
            char why[300], cn[160];
            fx_show_cert("device (slot 10, rebuilt)", dev, dlen, 2);
            fx_show_cert("signer (slot 12, rebuilt)", sig, slen, 2);
            if (fx_cert_cn(dev, dlen, cn, sizeof cn) == 0)
                printf("  registration ID  %s\n", cn);
            if (fx_ca_verify_chain(&ca, dev, dlen, sig, slen, why, sizeof why) == 0)
                printf("  chain verifies up to %s/root.pem\n", ca_dir);
            else
                printf("  chain does NOT verify up to %s/root.pem: %s\n", ca_dir, why);
            rebuilt = true;
        }
        free(dev);
        free(sig);
        fx_ca_free(&ca);
    }
    if (!rebuilt) {
        show_compressed(chip, HK_ATECC608_SLOT_DEVICE_CERT, "device certificate");
        show_compressed(chip, HK_ATECC608_SLOT_SIGNER_CERT, "signer certificate");
        if (!ca_dir)
            printf("  (give --ca DIR to rebuild and verify the certificates)\n");
    }
    show_record(chip);
    return FX_OK;
}
