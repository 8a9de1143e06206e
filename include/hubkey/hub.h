/*
 * hubkey — Azure IoT Hub client over MQTT 3.1.1, sans-I/O.
 *
 * Builds the CONNECT client id and username and every topic a device
 * publishes to or subscribes to, and classifies the topics IoT Hub publishes
 * to the device. It never touches a socket: the MQTT session engine sends and
 * receives, this module only turns names into bytes and bytes into fields.
 *
 * Output strings (all *_build functions):
 *   - are written to out[0..cap) followed by a NUL; *out_len receives the
 *     length without the NUL;
 *   - HK_ERR_BUFFER_TOO_SMALL when the string and its NUL do not fit: then
 *     *out_len receives the length needed (without the NUL), and out[0..cap)
 *     holds unspecified bytes. Nothing is ever written at or past out[cap].
 *     out may be NULL when cap is 0, to ask for the size only.
 *   - HK_ERR_INVALID_ARG for a NULL pointer, an empty required name, or a
 *     name with characters that would change the topic's structure.
 *
 * Parsed results hold pointers into the caller's topic buffer: they are valid
 * as long as that buffer is, and are not NUL-terminated (use the _len).
 *
 * Nothing here keeps a pointer after a call returns, except the parsed
 * slices described above.
 */
#ifndef HUBKEY_HUB_H
#define HUBKEY_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* api-version both Azure SDKs send in the username. */
#define HK_HUB_API_VERSION_DEFAULT "2020-09-30"

/* Subscription filters (QoS 1 is fine for all of them). The C2D filter
 * depends on the device id: see hk_hub_c2d_filter_build(). */
#define HK_HUB_TWIN_RESPONSE_FILTER "$iothub/twin/res/#"
#define HK_HUB_TWIN_DESIRED_FILTER "$iothub/twin/PATCH/properties/desired/#"
#define HK_HUB_METHODS_FILTER "$iothub/methods/POST/#"

/* Largest method status hk_hub_method_response_topic_build() accepts. */
#define HK_HUB_METHOD_STATUS_MAX 65535u

/*
 * The device's identity on one hub. Borrowed: every pointer must stay valid
 * while the struct is passed to this module; nothing is copied.
 */
typedef struct hk_hub_client {
    const char *host;        /* assigned hub host name, e.g. "contoso.azure-devices.net" */
    const char *device_id;   /* device id from DPS */
    const char *module_id;   /* NULL (or "") for a device identity */
    const char *api_version; /* NULL (or "") selects HK_HUB_API_VERSION_DEFAULT */
    const char *client_type; /* DeviceClientType, NULL/"" omits it; written verbatim,
                                so it must already be URL-encoded */
    const char *model_id;    /* IoT Plug and Play model id (DTMI), NULL/"" omits it;
                                URL-encoded by the builder */
} hk_hub_client;

/* One application property of a telemetry message: raw (not encoded) text. */
typedef struct hk_hub_property {
    const char *name;  /* non-empty */
    const char *value; /* may be "" */
} hk_hub_property;

/*
 * Telemetry properties. Every member may be NULL (omitted). Values are raw
 * text: the builder URL-encodes names and values. System properties are
 * written first, in the order of the members below, as "%24.<name>=<value>";
 * then the application properties in array order.
 */
typedef struct hk_hub_telemetry_properties {
    const char *content_type;     /* $.ct, e.g. "application/json" */
    const char *content_encoding; /* $.ce, e.g. "utf-8" */
    const char *message_id;       /* $.mid */
    const char *correlation_id;   /* $.cid */
    const char *user_id;          /* $.uid */
    const char *creation_time;    /* $.ctime, UTC, e.g. "2021-04-21T11:30:16Z" */
    const char *component;        /* $.sub, Plug and Play component name */
    const hk_hub_property *app;   /* may be NULL when app_count is 0 */
    size_t app_count;
} hk_hub_telemetry_properties;

/* "{deviceId}" or "{deviceId}/{moduleId}". */
HK_NODISCARD hk_result hk_hub_client_id_build(const hk_hub_client *client, char *out, size_t cap,
                                              size_t *out_len);

/* "{host}/{deviceId}[/{moduleId}]/?api-version={v}[&DeviceClientType={ct}][&model-id={enc}]" */
HK_NODISCARD hk_result hk_hub_username_build(const hk_hub_client *client, char *out, size_t cap,
                                             size_t *out_len);

/* "devices/{deviceId}[/modules/{moduleId}]/messages/events/[{property bag}]"
 * props may be NULL (no properties). A property name must be non-empty. */
HK_NODISCARD hk_result hk_hub_telemetry_topic_build(const hk_hub_client *client,
                                                    const hk_hub_telemetry_properties *props,
                                                    char *out, size_t cap, size_t *out_len);

/* "devices/{deviceId}/messages/devicebound/#" (modules: ".../modules/{m}/#"). */
HK_NODISCARD hk_result hk_hub_c2d_filter_build(const hk_hub_client *client, char *out, size_t cap,
                                               size_t *out_len);

/*
 * Request ids ($rid) are caller-chosen for twin requests and echoed from the
 * request for method responses: 1..64 printable ASCII characters other than
 * '&', '#', '+', '/', '?' and space (HK_ERR_INVALID_ARG otherwise).
 */

/* "$iothub/twin/GET/?$rid={rid}" (publish with an empty payload). */
HK_NODISCARD hk_result hk_hub_twin_get_topic_build(const char *rid, size_t rid_len, char *out,
                                                   size_t cap, size_t *out_len);

/* "$iothub/twin/PATCH/properties/reported/?$rid={rid}" (payload: a JSON object). */
HK_NODISCARD hk_result hk_hub_twin_patch_topic_build(const char *rid, size_t rid_len, char *out,
                                                     size_t cap, size_t *out_len);

/* "$iothub/methods/res/{status}/?$rid={rid}"; status 0..HK_HUB_METHOD_STATUS_MAX. */
HK_NODISCARD hk_result hk_hub_method_response_topic_build(unsigned status, const char *rid,
                                                          size_t rid_len, char *out, size_t cap,
                                                          size_t *out_len);

/* What an incoming topic is. */
typedef enum hk_hub_topic_kind {
    HK_HUB_TOPIC_C2D = 1,        /* cloud-to-device message: properties set */
    HK_HUB_TOPIC_TWIN_GET,       /* twin GET response (200/202): rid set */
    HK_HUB_TOPIC_TWIN_REPORTED,  /* reported-properties ack (204): rid, version */
    HK_HUB_TOPIC_TWIN_ERROR,     /* twin request failed (status >= 400): rid set */
    HK_HUB_TOPIC_TWIN_DESIRED,   /* desired-properties update: version, status 200 */
    HK_HUB_TOPIC_METHOD_REQUEST, /* direct method: name, rid */
} hk_hub_topic_kind;

typedef struct hk_hub_topic {
    hk_hub_topic_kind kind;
    unsigned status;        /* twin kinds: the response status (desired: 200) */
    const char *rid;        /* twin responses, method requests; NULL otherwise */
    size_t rid_len;
    bool has_version;       /* $version present (reported ack, desired update) */
    uint32_t version;
    const char *name;       /* method name (PnP: "{component}*{command}") */
    size_t name_len;
    const char *properties; /* C2D property bag, still URL-encoded ("" when none) */
    size_t properties_len;
} hk_hub_topic;

/*
 * Classify a topic IoT Hub published to the device. Accepted forms:
 *   devices/dev1/messages/devicebound/%24.mid=7&abc=123
 *   devices/dev1/modules/m1/messages/devicebound/
 *   $iothub/twin/res/200/?$rid=1            (GET response; 202 too)
 *   $iothub/twin/res/204/?$rid=1&$version=6  (reported ack)
 *   $iothub/twin/res/429/?$rid=1            (any status >= 400: error)
 *   $iothub/twin/PATCH/properties/desired/?$version=8
 *   $iothub/methods/POST/reboot/?$rid=1
 * Unknown topic properties are ignored; $rid and $version may come in any
 * order. Anything else gives HK_ERR_HUB_TOPIC (out is then unspecified).
 */
HK_NODISCARD hk_result hk_hub_topic_parse(const char *topic, size_t topic_len, hk_hub_topic *out);

/*
 * Iterate over a property bag ("a=1&b&c=" ...): *pos starts at 0. Each call
 * yields the next name and value, both still URL-encoded; a property without
 * '=' has *out_has_value false (a null value), "c=" an empty value.
 * HK_ERR_NOT_FOUND when the bag is exhausted; HK_ERR_HUB_TOPIC for an empty
 * name. The slices point into bag.
 */
HK_NODISCARD hk_result hk_hub_properties_next(const char *bag, size_t bag_len, size_t *pos,
                                              const char **out_name, size_t *out_name_len,
                                              const char **out_value, size_t *out_value_len,
                                              bool *out_has_value);

/*
 * Find the property whose encoded name equals name (compared as given, so
 * look up "%24.mid" for the message id). HK_ERR_NOT_FOUND when absent.
 * A null value gives *out_value_len 0.
 */
HK_NODISCARD hk_result hk_hub_properties_find(const char *bag, size_t bag_len, const char *name,
                                              const char **out_value, size_t *out_value_len);

/*
 * Percent-decode in[0..in_len) into out (no NUL is written; '+' stays '+').
 * HK_ERR_MALFORMED for a '%' not followed by two hex digits;
 * HK_ERR_BUFFER_TOO_SMALL when the decoded text exceeds cap (then
 * *out_len is unspecified). out may alias in (decoding only shrinks).
 */
HK_NODISCARD hk_result hk_hub_url_decode(const char *in, size_t in_len, char *out, size_t cap,
                                         size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_HUB_H */
