/*
 * hubkey-factory — `chip provision`: the device key made inside the chip,
 * its certificate issued by the signer CA, compressed and written with the
 * signer certificate, then everything read back through the same hk_se a
 * device uses and checked.
 *
 * Steps, and what a re-run does after an interruption at each:
 *  1. GenKey in slot 0, then Lock slot 0 (the key becomes permanent). A
 *     re-run finds slot 0 locked and reuses its key (GenKey public mode).
 *  2. Device certificate issued for that key and compressed with the CA's
 *     device definition (the compress step rebuilds it and compares).
 *  3. Slots 10 (device), 11 (signer public key, padded) and 12 (signer)
 *     written. A re-run rewrites them.
 *  4. The chain rebuilt from the chip with the CA's definitions compared
 *     byte for byte with what was issued, verified up to the root, and one
 *     signature made by slot 0 verified with the certificate's key.
 * A chip whose slot 0 is locked and whose slots 10-12 already rebuild a
 * chain of this CA is left alone (exit 0) unless --reissue is given.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ecdsa.h>

#include "factory.h"

static int read_config(fx_chip *chip, hk_atecc608_config *cfg)
{
    uint8_t raw[128], st = 0;
    hk_result r = hk_atecc608_read_config(&chip->dev, raw, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "reading the config zone", r, st);
    /* Never fails on any bytes (only NULL pointers, and these are not). */
    hk_result_ignore(hk_atecc608_config_decode(raw, cfg));
    fx_compat c;
    fx_config_compare(raw, &c);
    if (cfg->config_locked && c.problems > 0) {
        fprintf(stderr, "%s", c.text);
        return fx_fail(FX_INCOMPATIBLE, "chip %s: its locked configuration cannot hold a "
                                        "hubkey identity (problems above)", chip->name);
    }
    return FX_OK;
}

static int chip_ready(fx_chip *chip, const hk_atecc608_config *cfg)
{
    if (!cfg->config_locked)
        return fx_fail(FX_NOT_READY, "chip %s is not configured (config zone unlocked): run "
                                     "`hubkey-factory chip configure --chip %s` first",
                       chip->name, chip->name);
    if (!cfg->data_locked)
        return fx_fail(FX_PARTIAL, "chip %s is partly configured (config zone locked, data zone "
                                   "NOT locked): run `hubkey-factory chip configure --chip %s` to "
                                   "finish it", chip->name, chip->name);
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    if (hk_atecc608_config_check(cfg, HK_ATECC608_SLOT_DEVICE_KEY, &p) != HK_OK)
        return fx_fail(FX_INCOMPATIBLE, "chip %s: slot 0 cannot hold the device key: %s",
                       chip->name, hk_atecc608_problem_str(p));
    return FX_OK;
}

int fx_chip_read_chain(fx_chip *chip, fx_ca *ca, uint8_t **dev, size_t *dev_len, uint8_t **signer,
                       size_t *signer_len)
{
    *dev = *signer = NULL;
    hk_se_atecc608 ctx;
    hk_se se;
    hk_atecc608_problem p = HK_ATECC608_PROBLEM_NONE;
    hk_result r = hk_se_atecc608_open(&ctx, &chip->dev, &ca->device_def, &ca->signer_def, &se, &p);
    if (r != HK_OK) {
        if (p != HK_ATECC608_PROBLEM_NONE)
            return fx_fail(FX_INCOMPATIBLE, "chip %s: %s", chip->name,
                           hk_atecc608_problem_str(p));
        return fx_chip_error(chip, "opening the chip as a secure element", r, 0);
    }
    size_t cap = HK_CERT_MAX_TEMPLATE + HK_CERT_MAX_GROWTH;
    *dev = malloc(cap);
    *signer = malloc(cap);
    if (!*dev || !*signer)
        return fx_fail(FX_INTERNAL, "out of memory");
    r = se.cert(se.ctx, 0, *dev, cap, dev_len);
    if (r == HK_OK)
        r = se.cert(se.ctx, 1, *signer, cap, signer_len);
    if (r == HK_ERR_CERT_COMPRESSED || r == HK_ERR_CERT_WRONG_DEF || r == HK_ERR_CERT_TEMPLATE)
        return fx_fail(FX_VERIFY, "chip %s: slots 10-12 do not hold certificates of this CA's "
                                  "definitions (%s)", chip->name, hk_result_str(r));
    if (r != HK_OK)
        return fx_chip_error(chip, "rebuilding the certificate chain", r, 0);
    return FX_OK;
}

static void thumbprints(fx_provision_result *out)
{
    uint8_t h[20];
    fx_sha256_hex(out->device_der, out->device_len, out->sha256);
    fx_sha1(out->device_der, out->device_len, h);
    fx_hex(out->sha1, h, 20, true);
}

/* A signature by slot 0 over a fresh digest, checked with the key in the
 * device certificate: proves the certificate belongs to the chip's key. */
static int sign_check(fx_chip *chip, fx_ca *ca, const uint8_t *dev, size_t dev_len)
{
    uint8_t pub[64], digest[32], rs[64], st = 0;
    if (hk_cert_public_key(&ca->device_def, dev, dev_len, pub) != HK_OK)
        return fx_fail(FX_VERIFY, "chip %s: no public key in the rebuilt certificate", chip->name);
    if (mbedtls_ctr_drbg_random(&ca->rng.drbg, digest, sizeof digest) != 0)
        return fx_fail(FX_INTERNAL, "no randomness for the signature check");
    hk_result r = hk_atecc608_sign_digest(&chip->dev, HK_ATECC608_SLOT_DEVICE_KEY, digest, rs, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "signing with slot 0", r, st);
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi rr, ss;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&rr);
    mbedtls_mpi_init(&ss);
    uint8_t pt[65] = {0x04};
    memcpy(pt + 1, pub, 64);
    int ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
             mbedtls_ecp_point_read_binary(&grp, &q, pt, sizeof pt) == 0 &&
             mbedtls_mpi_read_binary(&rr, rs, 32) == 0 &&
             mbedtls_mpi_read_binary(&ss, rs + 32, 32) == 0 &&
             mbedtls_ecdsa_verify(&grp, digest, sizeof digest, &q, &rr, &ss) == 0;
    mbedtls_mpi_free(&rr);
    mbedtls_mpi_free(&ss);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (!ok)
        return fx_fail(FX_VERIFY, "chip %s: a signature by slot 0 does not verify with the "
                                  "certificate's public key", chip->name);
    return FX_OK;
}

/* A slot 13 locked earlier (by another tool, or by an earlier run) that
 * holds a P-256 point must hold exactly slot 0's key (pub; NULL when slot 0
 * has no key yet, so no key can match), in either stored form: a device
 * trusts a locked slot 13 and would rebuild its certificate with that
 * point. A locked slot the chip will not let anyone read (configured
 * secret) or whose bytes are no point at all is not used by devices (they
 * fall back to GenKey): accepted, with *out_no_key set. Any other read
 * failure is an error, not a reason to skip the check. Checked before
 * anything is made or written. */
static int slot13_check(fx_chip *chip, const hk_atecc608_config *cfg, const uint8_t *pub,
                        bool *out_no_key)
{
    const hk_atecc608_slot_config *s = &cfg->slots[HK_ATECC608_SLOT_DEVICE_PUBKEY];
    uint8_t back[HK_CERT_PADDED_PUBLIC_KEY_SIZE], key[HK_CERT_PUBLIC_KEY_SIZE];
    *out_no_key = false;
    if (!s->locked)
        return FX_OK;
    if (s->is_secret || s->encrypt_read) {
        *out_no_key = true;
        return FX_OK;
    }
    uint8_t st = 0;
    hk_result r = hk_atecc608_read_slot(&chip->dev, HK_ATECC608_SLOT_DEVICE_PUBKEY, 0, back,
                                        sizeof back, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "reading slot 13 (device public key)", r, st);
    r = hk_atecc608_pubkey_stored(back, key);
    if (r == HK_ERR_CERT_COMPRESSED) {
        *out_no_key = true;
        return FX_OK;
    }
    if (r != HK_OK)
        return fx_fail(FX_INTERNAL, "chip %s: slot 13 could not be checked (%s)", chip->name,
                       hk_result_str(r));
    if (pub == NULL || memcmp(key, pub, sizeof key) != 0)
        return fx_fail(FX_INCOMPATIBLE, "chip %s: slot 13 is locked and holds a public key that "
                                        "is not slot 0's; a device would rebuild its certificate "
                                        "with it, so this chip cannot be used", chip->name);
    return FX_OK;
}

/* Slot 0's public key into slot 13 (the form hk_atecc608_pubkey_store_form
 * gives: X || Y, 2 Reads at every boot), read back, then slot 13 locked
 * and the chain read through hk_se again, which now takes the key from
 * slot 13: devices then read it at every boot instead of running GenKey.
 * A device trusts slot 13 only when it is locked, so a slot that cannot be
 * locked (another tool's configuration) is left alone (devices keep using
 * GenKey), and a slot locked earlier holds this key already (slot13_check
 * ran first). */
static int store_pubkey(fx_chip *chip, fx_ca *ca, const uint8_t pub[64], const uint8_t *der,
                        size_t der_len, bool quiet)
{
    hk_atecc608_config cfg;
    int rc = read_config(chip, &cfg);
    if (rc)
        return rc;
    const uint8_t slot = HK_ATECC608_SLOT_DEVICE_PUBKEY;
    const hk_atecc608_slot_config *s = &cfg.slots[slot];
    uint8_t form[HK_CERT_PADDED_PUBLIC_KEY_SIZE], back[HK_CERT_PADDED_PUBLIC_KEY_SIZE];
    uint8_t st = 0;
    size_t form_len = hk_atecc608_pubkey_store_form(pub, form);
    bool no_key = false;
    rc = slot13_check(chip, &cfg, pub, &no_key);
    if (!rc && no_key && !quiet)
        printf("slot 13 is locked and holds no public key (another tool's data); devices "
               "derive it with GenKey at every boot\n");
    if (rc || s->locked)
        return rc;
    if (!s->lockable || s->write_config != 0 || s->is_secret || s->encrypt_read) {
        if (!quiet)
            printf("slot 13 cannot keep the public key (not a lockable clear slot); devices "
                   "derive it with GenKey at every boot\n");
        return FX_OK;
    }
    hk_result r = hk_atecc608_write_slot(&chip->dev, slot, 0, form, form_len, &st);
    if (r == HK_OK)
        r = hk_atecc608_read_slot(&chip->dev, slot, 0, back, sizeof back, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "writing slot 13 (device public key)", r, st);
    uint8_t key[HK_CERT_PUBLIC_KEY_SIZE];
    if (memcmp(back, form, form_len) != 0 || hk_atecc608_pubkey_stored(back, key) != HK_OK ||
        memcmp(key, pub, sizeof key) != 0)
        return fx_fail(FX_VERIFY, "chip %s: slot 13 reads back differently from the public key "
                                  "written; it is not locked (run `hubkey-factory chip provision "
                                  "--chip %s` again)", chip->name, chip->name);
    r = hk_atecc608_lock_slot(&chip->dev, slot, &st);
    if (r != HK_OK)
        return fx_chip_error(chip, "locking slot 13 (device public key)", r, st);
    uint8_t *dev = NULL, *sig = NULL;
    size_t dlen = 0, slen = 0;
    rc = fx_chip_read_chain(chip, ca, &dev, &dlen, &sig, &slen);
    if (!rc && (dlen != der_len || memcmp(dev, der, der_len) != 0))
        rc = fx_fail(FX_VERIFY, "chip %s: the device certificate rebuilt with the key of slot 13 "
                                "differs from the one issued", chip->name);
    free(dev);
    free(sig);
    if (!rc && !quiet)
        printf("public key stored in slot 13 and the slot locked\n");
    return rc;
}

static int write_pem_file(const char *path, const uint8_t *der, size_t len, const uint8_t *more,
                          size_t more_len)
{
    char *a = fx_pem("CERTIFICATE", der, len);
    char *b = more ? fx_pem("CERTIFICATE", more, more_len) : NULL;
    char *all = NULL;
    int rc = FX_INTERNAL;
    if (a && (!more || b) && asprintf(&all, "%s%s", a, b ? b : "") >= 0)
        rc = fx_write_replace(path, all, strlen(all), 0644);
    else
        fx_fail(FX_INTERNAL, "out of memory");
    free(a);
    free(b);
    free(all);
    return rc;
}

static int write_slot(fx_chip *chip, uint8_t slot, const uint8_t *data, size_t len,
                      const char *what)
{
    uint8_t st = 0;
    hk_result r = hk_atecc608_write_slot(&chip->dev, slot, 0, data, len, &st);
    if (r != HK_OK) {
        char step[120];
        snprintf(step, sizeof step, "writing slot %u (%s)", slot, what);
        fx_chip_error(chip, step, r, st);
        return fx_fail(FX_PARTIAL, "chip %s is partly provisioned: its key in slot 0 is made and "
                                   "locked, but its certificates are not all written. Run "
                                   "`hubkey-factory chip provision --chip %s` again to finish.",
                       chip->name, chip->name);
    }
    return FX_OK;
}

int fx_provision(fx_chip *chip, fx_ca *ca, const fx_provision_opts *opts,
                 fx_provision_result *out)
{
    memset(out, 0, sizeof *out);
    hk_atecc608_config cfg;
    int rc = read_config(chip, &cfg);
    if (!rc)
        rc = chip_ready(chip, &cfg);
    if (rc)
        return rc;
    memcpy(out->serial, cfg.serial, 9);
    fx_part_text(cfg.revision, out->part, sizeof out->part);
    fx_ca_registration_id(ca, cfg.serial, out->registration_id, sizeof out->registration_id);
    const hk_atecc608_slot_config *s0 = &cfg.slots[HK_ATECC608_SLOT_DEVICE_KEY];
    uint8_t pub[64], st = 0;
    hk_result r;

    if (s0->locked || !(s0->write_config & 0x2u)) {
        /* The key exists (made earlier, by us or by another tool). */
        r = hk_atecc608_genkey(&chip->dev, false, HK_ATECC608_SLOT_DEVICE_KEY, pub, &st);
        if (r != HK_OK) {
            fx_chip_error(chip, "reading the public key of slot 0", r, st);
            return fx_fail(FX_INCOMPATIBLE, "chip %s: slot 0 holds no usable key and does not "
                                            "allow a new one", chip->name);
        }
        bool no_key = false;
        rc = slot13_check(chip, &cfg, pub, &no_key);
        if (rc)
            return rc;
        uint8_t *dev = NULL, *sig = NULL;
        size_t dlen = 0, slen = 0;
        char why[300];
        if (!opts->reissue) {
            /* Quietly probe for an existing chain of this CA. */
            hk_se_atecc608 ctx;
            hk_se se;
            bool have = false;
            if (hk_se_atecc608_open(&ctx, &chip->dev, &ca->device_def, &ca->signer_def, &se,
                                    NULL) == HK_OK) {
                size_t cap = HK_CERT_MAX_TEMPLATE + HK_CERT_MAX_GROWTH;
                dev = malloc(cap);
                sig = malloc(cap);
                have = dev && sig && se.cert(se.ctx, 0, dev, cap, &dlen) == HK_OK &&
                       se.cert(se.ctx, 1, sig, cap, &slen) == HK_OK &&
                       fx_ca_verify_chain(ca, dev, dlen, sig, slen, why, sizeof why) == 0;
            }
            if (have) {
                free(sig);
                out->device_der = dev;
                out->device_len = dlen;
                out->already = true;
                thumbprints(out);
                if (!opts->quiet)
                    printf("chip %s is already provisioned by this CA (slot 0 locked, chain "
                           "verifies); no certificate written (--reissue writes a new one)\n",
                           chip->name);
                /* A chip provisioned before slot 13 held the key gets it now. */
                rc = store_pubkey(chip, ca, pub, dev, dlen, opts->quiet);
                if (rc)
                    return rc;
                goto outputs;
            }
            free(dev);
            free(sig);
        }
        if (!opts->quiet)
            printf("slot 0 already holds the device key; %s\n",
                   s0->locked ? "reusing it" : "reusing it (the slot does not allow GenKey)");
    } else {
        bool no_key = false;
        rc = slot13_check(chip, &cfg, NULL, &no_key);
        if (rc)
            return rc;
        r = hk_atecc608_genkey(&chip->dev, true, HK_ATECC608_SLOT_DEVICE_KEY, pub, &st);
        if (r != HK_OK)
            return fx_chip_error(chip, "GenKey in slot 0", r, st);
        if (s0->lockable) {
            r = hk_atecc608_lock_slot(&chip->dev, HK_ATECC608_SLOT_DEVICE_KEY, &st);
            if (r != HK_OK) {
                hk_atecc608_config now;
                if (read_config(chip, &now) != FX_OK || !now.slots[0].locked) {
                    fx_chip_error(chip, "locking slot 0", r, st);
                    return fx_fail(FX_PARTIAL, "chip %s: a key was made in slot 0 but the slot "
                                               "is NOT locked; run `hubkey-factory chip "
                                               "provision --chip %s` again (a new key is made)",
                                   chip->name, chip->name);
                }
            }
        }
        if (!opts->quiet)
            printf("key made in slot 0%s\n", s0->lockable ? " and the slot locked" : "");
    }

    /* Issue and compress. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    rc = fx_ca_issue_device(ca, cfg.serial, pub, opts->now ? opts->now : time(NULL), &der,
                            &der_len);
    if (rc)
        return rc;
    out->device_der = der;
    out->device_len = der_len;
    thumbprints(out);
    uint8_t dcomp[HK_CERT_COMPRESSED_SIZE], scomp[HK_CERT_COMPRESSED_SIZE];
    uint8_t *scratch = malloc(der_len + HK_CERT_MAX_GROWTH);
    if (!scratch)
        return fx_fail(FX_INTERNAL, "out of memory");
    hk_cert_inputs in = {pub, cfg.serial, ca->signer_pub};
    r = hk_cert_compress(&ca->device_def, der, der_len, &in, scratch, der_len + HK_CERT_MAX_GROWTH,
                         dcomp);
    free(scratch);
    if (r != HK_OK)
        return fx_fail(FX_FILE, "%s/device.certdef: the device certificate does not fit the CA's "
                                "device definition (%s); nothing was written to the "
                                "certificate slots", ca->dir, hk_result_str(r));
    rc = fx_ca_signer_compressed(ca, scomp);
    if (rc)
        return rc;
    uint8_t padded[HK_CERT_PADDED_PUBLIC_KEY_SIZE] = {0};
    memcpy(padded + 4, ca->signer_pub, 32);
    memcpy(padded + 40, ca->signer_pub + 32, 32);
    rc = write_slot(chip, HK_ATECC608_SLOT_DEVICE_CERT, dcomp, sizeof dcomp,
                    "device compressed certificate");
    if (!rc)
        rc = write_slot(chip, HK_ATECC608_SLOT_SIGNER_KEY, padded, sizeof padded,
                        "signer public key");
    if (!rc)
        rc = write_slot(chip, HK_ATECC608_SLOT_SIGNER_CERT, scomp, sizeof scomp,
                        "signer compressed certificate");
    if (rc)
        return rc;

    /* Read back through hk_se, as a device will. */
    {
        uint8_t *dev = NULL, *sig = NULL;
        size_t dlen = 0, slen = 0;
        char why[300];
        rc = fx_chip_read_chain(chip, ca, &dev, &dlen, &sig, &slen);
        if (!rc && (dlen != der_len || memcmp(dev, der, der_len) != 0))
            rc = fx_fail(FX_VERIFY, "chip %s: the device certificate rebuilt from the chip "
                                    "differs from the one issued", chip->name);
        if (!rc && (slen != ca->signer_len || memcmp(sig, ca->signer_der, slen) != 0))
            rc = fx_fail(FX_VERIFY, "chip %s: the signer certificate rebuilt from the chip "
                                    "differs from %s/signer.pem", chip->name, ca->dir);
        if (!rc && fx_ca_verify_chain(ca, dev, dlen, sig, slen, why, sizeof why) != 0)
            rc = fx_fail(FX_VERIFY, "chip %s: the rebuilt chain does not verify up to %s/root.pem: "
                                    "%s", chip->name, ca->dir, why);
        free(dev);
        free(sig);
        if (rc)
            return rc;
    }
    rc = sign_check(chip, ca, der, der_len);
    if (!rc)
        rc = store_pubkey(chip, ca, pub, der, der_len, opts->quiet);
    if (rc)
        return rc;

outputs:
    if (opts->cert_out) {
        rc = write_pem_file(opts->cert_out, out->device_der, out->device_len, NULL, 0);
        if (rc)
            return rc;
    }
    if (opts->out_dir) {
        char p[FX_PATH_MAX];
        if (mkdir(opts->out_dir, 0755) != 0 && !fx_exists(opts->out_dir))
            return fx_fail(FX_FILE, "%s: cannot create the directory", opts->out_dir);
        fx_path(p, opts->out_dir, "device.pem");
        rc = write_pem_file(p, out->device_der, out->device_len, NULL, 0);
        if (rc)
            return rc;
        fx_path(p, opts->out_dir, "chain.pem");
        rc = write_pem_file(p, out->device_der, out->device_len, ca->signer_der, ca->signer_len);
        if (!rc)
            rc = fx_ca_export_certdefs(ca, opts->out_dir);
        if (rc)
            return rc;
    }
    return FX_OK;
}

void fx_provision_result_free(fx_provision_result *r)
{
    free(r->device_der);
    r->device_der = NULL;
}
