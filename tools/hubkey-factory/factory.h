/*
 * hubkey-factory — internal declarations shared by the tool's source files.
 *
 * Host code: it allocates, uses files and mbedTLS. Every function that can
 * fail prints one clear message on stderr naming the file, chip or slot, and
 * returns one of the exit codes below (docs/hubkey-factory.md has the table).
 */
#ifndef HUBKEY_FACTORY_H
#define HUBKEY_FACTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "emu_atecc608.h"
#include "hk_i2c_linux.h"
#include "hubkey/atecc608.h"
#include "hubkey/cert.h"
#include "hubkey/result.h"

/* Exit codes (documented; they never change meaning). */
enum {
    FX_OK = 0,
    FX_USAGE = 1,        /* unknown command or option, missing or bad argument */
    FX_FILE = 2,         /* a file or the CA directory cannot be read, written or parsed */
    FX_CHIP_IO = 3,      /* the chip does not answer, or answers with an error */
    FX_INCOMPATIBLE = 4, /* the chip is locked with a configuration hubkey cannot use */
    FX_PARTIAL = 5,      /* the chip is (or was left) partly configured or provisioned */
    FX_VERIFY = 6,       /* read-back, rebuilt chain or signature check failed */
    FX_CLOUD = 7,        /* hubkey-cloud could not be run or refused the enrollment */
    FX_NOT_READY = 8,    /* the chip is not configured yet (run chip configure) */
    FX_EXISTS = 9,       /* refused to overwrite an existing CA, file or directory */
    FX_INTERNAL = 10     /* out of memory or a cryptographic library failure */
};

#define FX_PATH_MAX 4096

/* Prints "hubkey-factory: <message>" on stderr and returns code. */
int fx_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "hubkey-factory: note: <message>" on stderr. */
void fx_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- utilities (util.c) ---- */

/* dir + "/" + name into out (FX_PATH_MAX). */
void fx_path(char *out, const char *dir, const char *name);
bool fx_exists(const char *path);
/* s as a JSON string (quoted, escaped) on f. */
void fx_json_str(FILE *f, const char *s);
/* Whole file into a heap buffer (caller frees). FX_FILE with a message. */
int fx_read_file(const char *path, uint8_t **out, size_t *out_len);
/* Writes a new file: O_CREAT|O_EXCL with mode (refuses to overwrite: FX_EXISTS). */
int fx_write_new(const char *path, const void *data, size_t len, unsigned mode);
/* Writes a file by atomic replace (temporary file in the same directory,
 * fsync, rename). */
int fx_write_replace(const char *path, const void *data, size_t len, unsigned mode);
/* DER -> PEM text with the given label ("CERTIFICATE"), heap, NUL-terminated. */
char *fx_pem(const char *label, const uint8_t *der, size_t len);
void fx_hex(char *out, const uint8_t *in, size_t len, bool upper);
void fx_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void fx_sha1(const uint8_t *data, size_t len, uint8_t out[20]);
/* The certificate's subject or issuer as text, and its CN value. */
void fx_cert_names(const uint8_t *der, size_t len, char *subject, size_t subject_cap,
                   char *issuer, size_t issuer_cap, char *validity, size_t validity_cap);
int fx_cert_cn(const uint8_t *der, size_t len, char *out, size_t cap);
/* The SHA-256 thumbprint of a certificate (of any bytes) as 64 upper-case
 * hex digits, the form the Azure portal and CLI show. */
void fx_sha256_hex(const uint8_t *der, size_t len, char out[65]);
/* Prints a certificate on stdout, every way the tool shows one:
 *   <indent>label
 *   <indent>  subject   ...
 *   <indent>  issuer    ...
 *   <indent>  validity  ... .. ...
 *   <indent>  SHA-256   ...
 * indent is a number of spaces; a DER that does not parse is named so. */
void fx_show_cert(const char *label, const uint8_t *der, size_t len, unsigned indent);
/* A certificate as one JSON object on f: subject, issuer, validity, sha256. */
void fx_json_cert(FILE *f, const uint8_t *der, size_t len);

/* Random bytes for keys and serial numbers. */
typedef struct fx_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} fx_rng;
int fx_rng_init(fx_rng *rng);
void fx_rng_free(fx_rng *rng);

/* ---- the chip (chip.c) ---- */

typedef enum fx_chip_kind { FX_CHIP_EMU = 1, FX_CHIP_I2C = 2 } fx_chip_kind;

typedef struct fx_chip_spec {
    fx_chip_kind kind;
    char path[FX_PATH_MAX]; /* emulator state file or /dev/i2c-N */
    uint8_t addr7;          /* I2C address, 7-bit */
} fx_chip_spec;

/* Parses "emu:FILE" or "i2c:/dev/i2c-N[@ADDR]" (ADDR 7-bit 0x00..0x7F, or
 * the 8-bit form 0x80..0xFE, even). FX_USAGE with a message otherwise. */
int fx_chip_spec_parse(const char *text, fx_chip_spec *out);

typedef struct fx_chip {
    fx_chip_spec spec;
    char name[FX_PATH_MAX + 16]; /* for messages: the spec as given */
    hk_emu_atecc608 *emu;
    hk_i2c_linux linux_i2c;
    bool linux_open;
    hk_atecc608 dev;
} fx_chip;

/* --part: the part a new emulated chip is made as, and, when given, what an
 * existing chip (emulated or real) must be. FX_PART_ANY: no check; a new
 * emulated chip is an ATECC608A. */
typedef enum fx_part { FX_PART_ANY = 0, FX_PART_608A = 1, FX_PART_608B = 2 } fx_part;

/* "608a" or "608b" (any case); NULL gives FX_PART_ANY. FX_USAGE otherwise. */
int fx_part_parse(const char *text, fx_part *out);
/* The part a revision number names, for messages: "ATECC608A",
 * "ATECC608B", or "unknown part (revision xx xx xx xx)". */
void fx_part_text(const uint8_t revision[4], char *out, size_t cap);

typedef enum fx_open_mode {
    FX_OPEN_EXISTING = 0, /* the emulator file must exist */
    FX_OPEN_CREATE = 1,   /* a missing emulator file becomes a factory-new chip */
    FX_OPEN_DRY = 2       /* as CREATE, but nothing is ever saved */
} fx_open_mode;

/* Opens the chip. Emulated chips are saved after every command that changes
 * their EEPROM (so an interrupted run leaves the file as a real chip would
 * be), except in FX_OPEN_DRY. */
int fx_chip_open(fx_chip *chip, const char *spec_text, fx_open_mode mode, fx_part part);
/* Wraps a chip made in memory (batch): no file, no autosave. */
int fx_chip_wrap_emu(fx_chip *chip, hk_emu_atecc608 *emu, const char *name);
/* Testing aids for emulated chips (FX_USAGE for an i2c: chip or bad text):
 * faults "PPM[,SEED]" = each response corrupted and each response dropped
 * with PPM parts per million; power_loss "N[,KEEP]" = power fails in the
 * N-th Write command from now after KEEP of its bytes. Either may be NULL. */
int fx_chip_set_faults(fx_chip *chip, const char *faults, const char *power_loss);
/* Puts the chip to sleep and releases it (the emulator too). */
void fx_chip_close(fx_chip *chip);
/* Reports a failed chip command: names the chip and the step. */
int fx_chip_error(const fx_chip *chip, const char *step, hk_result r, uint8_t status);

/* ---- the configuration (config.c) ---- */

/* The hubkey configuration's bytes 16..127 put into cfg (bytes 0..15 and
 * 84..87 are left as they are). */
void fx_config_fill(uint8_t cfg[HK_ATECC608_CONFIG_SIZE]);

/* What is wrong with a (locked) configuration for hubkey. */
typedef struct fx_compat {
    int problems;          /* > 0: incompatible */
    int differences;       /* bytes that differ from the hubkey configuration */
    bool exact;            /* no difference at all in the compared bytes */
    char text[4096];       /* the explanation, one item per line */
} fx_compat;

/* Compares raw (a chip's config zone) with the hubkey configuration. */
void fx_config_compare(const uint8_t raw[HK_ATECC608_CONFIG_SIZE], fx_compat *out);
/* Prints the configuration summary (slot roles) of a decoded zone. */
void fx_config_print(const hk_atecc608_config *cfg, const char *indent);

typedef struct fx_configure_opts {
    bool dry_run;
    bool quiet;
} fx_configure_opts;

/* chip configure on an open chip. */
int fx_configure(fx_chip *chip, const fx_configure_opts *opts);

/* ---- the CA (ca.c) ---- */

typedef struct fx_ca {
    char dir[FX_PATH_MAX];
    char org[128];
    char root_subject[256];
    char signer_subject[256];
    char device_subject[256]; /* with "{sn}" where the 18 hex characters go */
    unsigned device_years;
    uint8_t signer_id[2];
    uint8_t *root_der, *signer_der;
    size_t root_len, signer_len;
    uint8_t root_pub[64], signer_pub[64];
    mbedtls_pk_context signer_key;
    bool have_signer_key;
    uint8_t *device_def_buf, *signer_def_buf;
    size_t device_def_len, signer_def_len;
    hk_cert_def device_def, signer_def;
    fx_rng rng;
    bool rng_ready;
} fx_ca;

typedef struct fx_ca_init_opts {
    const char *org;
    const char *root_cn;
    const char *signer_cn; /* the signer ID's 4 hex characters are appended */
    const char *device_subject;
    unsigned root_years, signer_years, device_years;
} fx_ca_init_opts;

int fx_ca_init(const char *dir, const fx_ca_init_opts *opts);
/* parse.c: names for the CA's subjects (1..64 printable characters, none of
 * , = + \ " < > ; #), the device subject template, and ca.conf (text, NUL-
 * terminated, NAME=VALUE lines; fills the name/validity fields of ca). */
bool fx_name_ok(const char *s);
int fx_device_subject_check(const char *s);
int fx_ca_conf_parse(fx_ca *ca, const char *path, const char *text);
/* Loads the CA directory; with need_key the signer's private key too. */
int fx_ca_load(fx_ca *ca, const char *dir, bool need_key);
void fx_ca_free(fx_ca *ca);
/* With json: one JSON object on standard output. */
int fx_ca_show(const char *dir, bool json);
/* A device certificate for (serial, public key) issued at now. */
int fx_ca_issue_device(fx_ca *ca, const uint8_t serial[9], const uint8_t pub[64], time_t now,
                       uint8_t **out_der, size_t *out_len);
/* The compressed signer certificate (72 bytes). */
int fx_ca_signer_compressed(fx_ca *ca, uint8_t out[HK_CERT_COMPRESSED_SIZE]);
/* Checks a device chain (device DER, signer DER) up to the CA's root with
 * mbedTLS. 0 when it verifies; otherwise a message in why. */
int fx_ca_verify_chain(const fx_ca *ca, const uint8_t *dev, size_t dev_len, const uint8_t *signer,
                       size_t signer_len, char *why, size_t why_cap);
/* Copies device.certdef and signer.certdef into dir (replacing them), where
 * the hubkey agent looks for them next to an emulated chip's file. */
int fx_ca_export_certdefs(const fx_ca *ca, const char *dir);
/* The registration ID (subject CN) a device certificate of this CA gets. */
void fx_ca_registration_id(const fx_ca *ca, const uint8_t serial[9], char *out, size_t cap);

/* ---- provisioning (provision.c) ---- */

typedef struct fx_provision_opts {
    bool reissue;         /* write a new certificate on an already provisioned chip */
    bool quiet;
    const char *out_dir;  /* when set: device.pem and chain.pem written there */
    const char *cert_out; /* when set: the device certificate (PEM) written to this file */
    time_t now;           /* 0 = the current time */
} fx_provision_opts;

typedef struct fx_provision_result {
    uint8_t serial[9];
    char registration_id[160];
    char sha256[65];
    char sha1[41];
    uint8_t *device_der; /* heap; fx_provision_result_free */
    size_t device_len;
    bool already;        /* the chip was provisioned before and left as it was */
    char part[48];       /* fx_part_text of the chip's revision */
} fx_provision_result;

int fx_provision(fx_chip *chip, fx_ca *ca, const fx_provision_opts *opts,
                 fx_provision_result *out);
void fx_provision_result_free(fx_provision_result *r);

/* Reads the chain back from a provisioned chip (hk_se over the chip with the
 * CA's definitions). Heap buffers. */
int fx_chip_read_chain(fx_chip *chip, fx_ca *ca, uint8_t **dev, size_t *dev_len, uint8_t **signer,
                       size_t *signer_len);

/* ---- commands (show.c, batch.c, enroll.c) ---- */

/* With json: one JSON object on standard output. */
int fx_chip_show(fx_chip *chip, const char *ca_dir, bool json);
/* With json: the manifest (manifest.json) on standard output instead of the summary. */
int fx_batch(const char *ca_dir, const char *dir, unsigned count, bool quiet, fx_part part,
             bool json);

typedef struct fx_enroll_opts {
    const char *cloud_dir;
    const char *cloud_cli; /* NULL: next to this program, then PATH */
    const char *ca_dir;
    const char *kind;      /* "group" or "individual" */
    const char *name;      /* group: enrollment group ID (default from the signer) */
    const char *chip;      /* individual: the chip */
    const char *device_id; /* individual: optional device ID */
    const char *hubs;      /* optional --hubs for hubkey-cloud */
    const char *self_path; /* argv[0] */
} fx_enroll_opts;

int fx_enroll(const fx_enroll_opts *opts);

#endif /* HUBKEY_FACTORY_H */
