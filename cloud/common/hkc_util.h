/*
 * hubkey-cloud shared helpers: parsing of the strings devices send (MQTT
 * usernames, topics, property bags), formatting of the strings the cloud
 * sends back (timestamps, identifiers), JSON merge-patch and allocation
 * hashing. Host code: functions may allocate; every returned heap string is
 * owned by the caller and released with free().
 *
 * Every parser takes untrusted input and reports failure by its return value;
 * none of them reads past the NUL terminator of its input.
 */
#ifndef HKC_UTIL_H
#define HKC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Longest registration ID accepted with X.509 attestation (the CN limit). */
#define HKC_REG_ID_MAX 64
/* Longest IoT Hub device ID. */
#define HKC_DEVICE_ID_MAX 128
/* Largest device-to-cloud message IoT Hub accepts (body + properties). */
#define HKC_MESSAGE_MAX (256u * 1024u)
/* Largest MQTT packet the broker reads at all (its max_packet_size, counted
 * as mosquitto does: remaining length + 1). The largest legitimate packet is
 * a telemetry PUBLISH of HKC_MESSAGE_MAX bytes of topic and body plus a few
 * bytes of framing (topic length, packet identifier, remaining length); the
 * extra KiB leaves room for that and an MQTT 5 property block. Everything
 * else a device sends is far smaller (DPS requests stay under 96 KB). */
#define HKC_PACKET_MAX (HKC_MESSAGE_MAX + 1024u)

enum hkc_role { HKC_ROLE_NONE = 0, HKC_ROLE_DPS, HKC_ROLE_HUB };

/* What the MQTT username of a connecting device says. Heap strings, released
 * by hkc_username_clear(). */
struct hkc_username {
    enum hkc_role role;
    char *scope;       /* DPS: ID scope */
    char *reg_id;      /* DPS: registration ID */
    char *hub;         /* Hub: host name */
    char *device_id;   /* Hub: device ID */
    char *module_id;   /* Hub: module ID when the module form is used, else NULL */
    char *api_version; /* both: value of api-version */
};

/* Parses a DPS username `{idScope}/registrations/{registrationId}/api-version={v}[&...]`
 * or an IoT Hub username `{hubHostName}/{deviceId}[/{moduleId}]/?api-version={v}[&...]`.
 * Example accepted bytes:
 *   0ne00000000/registrations/sn0123ABCD4567EF01/api-version=2019-03-31&ClientVersion=c/1.2.3
 *   contoso.azure-devices.net/sn0123ABCD4567EF01/?api-version=2020-09-30&DeviceClientType=x
 * Returns true and fills out on success; false (out cleared) on anything else. */
bool hkc_username_parse(const char *username, struct hkc_username *out);
void hkc_username_clear(struct hkc_username *u);

/* Registration ID rules (DPS): 1..64 of [A-Za-z0-9-._:], the last one alphanumeric or '-'. */
bool hkc_reg_id_valid(const char *s);
/* Device ID rules (IoT Hub): 1..128 of ASCII alphanumerics and -.%_*?!(),:=@$' */
bool hkc_device_id_valid(const char *s);

/* Finds `name=value` in a `?a=b&c=d` style query (the part after '?', or a whole
 * property bag). Returns a heap copy of the raw (still encoded) value, or NULL.
 * Example: hkc_query_get("$rid=1&retry-after=3", "$rid") -> "1". */
char *hkc_query_get(const char *query, const char *name);

/* Percent-decodes s (`%2F` -> `/`; '+' is kept as is). Returns NULL when an
 * escape is malformed or decodes to a NUL byte. */
char *hkc_url_decode(const char *s);
/* Percent-encodes every byte outside A-Z a-z 0-9 - _ . ~ as upper-case %XX. */
char *hkc_url_encode(const char *s);

/* Decodes an IoT Hub property bag (`%24.ct=application%2Fjson&k=v&flag`) into a
 * JSON object of decoded names to decoded values (a bare `flag` maps to null).
 * Returns NULL when the bag is malformed. An empty bag gives an empty object. */
json_t *hkc_props_decode(const char *bag);
/* Encodes a JSON object of string (or null) values into a property bag. */
char *hkc_props_encode(const json_t *obj);

/* Applies a JSON merge patch (members replace, null deletes, objects merge
 * recursively) to target in place. Members whose name starts with '$' are
 * ignored. Returns false when patch is not an object. */
bool hkc_json_merge(json_t *target, const json_t *patch);

/* Current UTC time as `2020-04-10T05:24:22.4718526Z` into out (at least 32 bytes). */
void hkc_time_utc(char *out, size_t cap);
/* Monotonic milliseconds. */
uint64_t hkc_now_ms(void);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void hkc_hex(const uint8_t *in, size_t len, char *out);
/* Random operation ID in Azure's observed shape `4.<16 hex>.<uuid>`. */
char *hkc_operation_id(void);
/* Random RFC 4122 version-4 UUID string. */
char *hkc_uuid(void);
/* An opaque etag: Base64 of a quoted random UUID, the shape DPS uses. */
char *hkc_etag(void);
/* Base64 (standard alphabet, padded) of len bytes. */
char *hkc_base64(const uint8_t *in, size_t len);
/* Decodes standard Base64 (whitespace not allowed). Returns NULL on bad input. */
uint8_t *hkc_base64_decode(const char *in, size_t *out_len);

/* Case-insensitive ASCII string equality. */
bool hkc_streq_nocase(const char *a, const char *b);
/* Duplicates s; NULL in gives NULL out. Aborts on allocation failure. */
char *hkc_strdup(const char *s);
/* printf into a fresh heap string. */
char *hkc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Weighted rendezvous hashing: returns the index of the hub chosen for key
 * (compared lower-cased) among n hub names with weights (>= 1). Deterministic:
 * the same key and hub set always give the same hub. -1 when n == 0. */
int hkc_hash_pick(const char *key, const char *const *hubs, const int *weights, size_t n);

/* Topic helpers. hkc_topic_after returns the part of topic after prefix, or NULL. */
const char *hkc_topic_after(const char *topic, const char *prefix);

#endif /* HKC_UTIL_H */
