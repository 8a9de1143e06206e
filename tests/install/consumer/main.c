/*
 * An application outside the hubkey tree, built against an installed hubkey
 * (tests/install: with pkg-config and with find_package). It uses the public
 * headers and the umbrella library: the JSON writer and reader, the slot-8
 * record codec, a certificate serial number (SHA-256 from mbedTLS, so the
 * link line must carry mbedTLS), and the TLS module (linked, not run).
 * Prints what it computed; the test checks every line. Exit 0 when each
 * step gave HK_OK.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hubkey/cert.h>
#include <hubkey/json.h>
#include <hubkey/record.h>
#include <hubkey/result.h>
#include <hubkey/tls.h>
#include <hubkey/version.h>

static int check(const char *what, hk_result r)
{
    if (r != HK_OK) {
        fprintf(stderr, "consumer: %s: %s (%s)\n", what, hk_result_name(r), hk_result_str(r));
        return 1;
    }
    return 0;
}

int main(void)
{
    printf("version %s\n", HUBKEY_VERSION);

    /* JSON: write a telemetry object, read it back. */
    char buf[128];
    hk_json_writer w;
    size_t len = 0;
    if (check("writer init", hk_json_writer_init(&w, buf, sizeof buf)))
        return 1;
    hk_json_write_object_begin(&w);
    hk_json_write_key(&w, "device");
    hk_json_write_string(&w, "consumer-1");
    hk_json_write_key(&w, "temperature");
    hk_json_write_int(&w, 21);
    hk_json_write_object_end(&w);
    if (check("writer finish", hk_json_writer_finish(&w, &len)))
        return 1;
    printf("json %s\n", buf);

    hk_json_token tokens[8];
    hk_json_doc doc;
    size_t tok = 0;
    int64_t temperature = 0;
    if (check("parse", hk_json_parse(&doc, buf, len, tokens, 8, 4)) ||
        check("find", hk_json_object_find(&doc, 0, "temperature", &tok)) ||
        check("int64", hk_json_int64_get(&doc, tok, &temperature)))
        return 1;
    printf("temperature %lld\n", (long long)temperature);

    /* The slot-8 record: write an assignment into an erased image, parse it. */
    uint8_t image[HK_RECORD_AREA_SIZE];
    memset(image, 0xFF, sizeof image);
    size_t off = 0, n = 0;
    hk_record rec;
    if (check("record update", hk_record_image_update(image, sizeof image, "hub.example.net", 15,
                                                      "dev-0001", 8, 0, &off, &n)) ||
        check("record parse", hk_record_parse(image, sizeof image, &rec)))
        return 1;
    printf("record %s %s\n", rec.hub_hostname, rec.device_id);

    /* A serial number hashed from a public key (SHA-256, mbedTLS). */
    uint8_t compressed[HK_CERT_COMPRESSED_SIZE] = {0};
    uint8_t pub[HK_CERT_PUBLIC_KEY_SIZE];
    for (size_t i = 0; i < sizeof pub; i++)
        pub[i] = (uint8_t)i;
    uint8_t sn[32];
    if (check("serial number", hk_cert_sn_generate(HK_CERT_SN_PUB_KEY_HASH_RAW, compressed, pub,
                                                   NULL, sn, sizeof sn)))
        return 1;
    printf("sn ");
    for (size_t i = 0; i < sizeof sn; i++)
        printf("%02x", sn[i]);
    printf("\n");

    /* The TLS client is in the library and links (mbedTLS's ssl and x509). */
    void (*volatile tls_free)(hk_tls *) = hk_tls_free;
    printf("tls %s\n", tls_free ? "linked" : "missing");
    return 0;
}
