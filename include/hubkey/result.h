/*
 * hubkey — one result type for the whole library.
 *
 * Every fallible function returns an hk_result. HK_OK is 0; every error is a
 * distinct positive value that never changes once released (they are part of
 * the CLI's documented output). Values are grouped in ranges per module so a
 * number alone tells where it came from:
 *
 *     1..99 generic   100..199 MQTT   200..299 JSON   300..399 DPS
 *   400..499 IoT Hub  500..599 secure element / ATECC608A
 *   600..699 certificates   700..799 provisioning record
 *   800..899 TLS      900..999 device boot flow
 *
 * A chip status byte or an MQTT return code is decoded into its own result
 * (or its own field); it is never passed through as a raw number.
 */
#ifndef HUBKEY_RESULT_H
#define HUBKEY_RESULT_H

#ifdef __cplusplus
extern "C" {
#endif

/* HK_NODISCARD marks a function whose hk_result must not be ignored: GCC and
 * clang warn (and -Werror stops the build) when a caller drops it. Every
 * function of hubkey's headers that returns an hk_result carries it. A
 * caller that really means to ignore one passes it to hk_result_ignore()
 * (below) with a comment saying why: GCC, unlike clang, does not accept a
 * (void) cast as an answer to warn_unused_result. */
#if defined(__GNUC__) || defined(__clang__)
#define HK_NODISCARD __attribute__((warn_unused_result))
#else
#define HK_NODISCARD
#endif

/* X(name, value, message). The message is what hk_result_str() returns. */
#define HK_RESULT_LIST(X)                                                                     \
    X(HK_OK, 0, "success")                                                                    \
    /* generic */                                                                             \
    X(HK_ERR_INVALID_ARG, 1, "invalid argument (caller bug)")                                 \
    X(HK_ERR_BUFFER_TOO_SMALL, 2, "output does not fit the buffer")                           \
    X(HK_ERR_MALFORMED, 3, "input is malformed")                                              \
    X(HK_ERR_TIMEOUT, 4, "timed out")                                                         \
    X(HK_ERR_CLOSED, 5, "connection closed by peer")                                          \
    X(HK_ERR_IO, 6, "I/O error")                                                              \
    X(HK_ERR_UNSUPPORTED, 7, "not supported")                                                 \
    X(HK_ERR_NOT_FOUND, 8, "not found")                                                       \
    X(HK_ERR_STATE, 9, "operation not valid in the current state")                            \
    X(HK_ERR_LIMIT, 10, "a configured limit was exceeded")                                    \
    X(HK_ERR_FULL, 11, "no free slot (queue or table full)")                                  \
    X(HK_ERR_CONNECT, 12, "could not connect")                                                \
    X(HK_ERR_RESOLVE, 13, "could not resolve host name")                                      \
    X(HK_ERR_FILE, 14, "file could not be read or written")                                   \
    X(HK_ERR_CRYPTO, 15, "cryptographic operation failed")                                    \
    /* MQTT 100..199 */                                                                       \
    X(HK_ERR_MQTT_PROTOCOL, 100, "MQTT protocol violation by peer")                           \
    X(HK_ERR_MQTT_PACKET_TOO_LARGE, 101, "MQTT packet larger than the configured maximum")    \
    X(HK_ERR_MQTT_BAD_LENGTH, 102, "MQTT remaining length invalid (more than 4 bytes)")       \
    X(HK_ERR_MQTT_QOS2, 103, "MQTT QoS 2 is not supported")                                   \
    X(HK_ERR_MQTT_REFUSED_PROTOCOL, 110, "MQTT CONNACK: unacceptable protocol version")       \
    X(HK_ERR_MQTT_REFUSED_IDENTIFIER, 111, "MQTT CONNACK: client identifier rejected")        \
    X(HK_ERR_MQTT_REFUSED_UNAVAILABLE, 112, "MQTT CONNACK: server unavailable")               \
    X(HK_ERR_MQTT_REFUSED_CREDENTIALS, 113, "MQTT CONNACK: bad user name or password")        \
    X(HK_ERR_MQTT_REFUSED_NOT_AUTHORIZED, 114, "MQTT CONNACK: not authorized")                \
    X(HK_ERR_MQTT_REFUSED_OTHER, 115, "MQTT CONNACK: unknown return code")                    \
    X(HK_ERR_MQTT_SUBSCRIBE_FAILED, 120, "MQTT SUBACK: subscription refused (0x80)")          \
    X(HK_ERR_MQTT_PING_TIMEOUT, 121, "MQTT PINGRESP not received in time")                    \
    X(HK_ERR_MQTT_NOT_CONNECTED, 122, "MQTT session is not connected")                        \
    X(HK_ERR_MQTT_CONNACK_TIMEOUT, 123, "MQTT CONNACK not received in time")                  \
    /* JSON 200..299 */                                                                       \
    X(HK_ERR_JSON_SYNTAX, 200, "JSON syntax error")                                           \
    X(HK_ERR_JSON_DEPTH, 201, "JSON nesting deeper than the limit")                           \
    X(HK_ERR_JSON_TOO_MANY_TOKENS, 202, "JSON has more tokens than the buffer holds")         \
    X(HK_ERR_JSON_TYPE, 203, "JSON value has an unexpected type")                             \
    X(HK_ERR_JSON_STRING, 204, "JSON string: bad escape, lone surrogate or control byte")     \
    X(HK_ERR_JSON_TRUNCATED, 205, "JSON input ends before the value is complete")             \
    X(HK_ERR_JSON_TRAILING, 206, "JSON input has bytes after the top-level value")            \
    X(HK_ERR_JSON_NUMBER, 207, "JSON number is malformed (e.g. leading zero)")                \
    X(HK_ERR_JSON_UTF8, 208, "JSON text is not valid UTF-8")                                  \
    X(HK_ERR_JSON_DUPLICATE_KEY, 209, "JSON object has the same key more than once")          \
    X(HK_ERR_JSON_NOT_INTEGER, 210, "JSON number has a fraction or exponent")                 \
    X(HK_ERR_JSON_RANGE, 211, "JSON number is out of range for the type")                     \
    /* DPS 300..399 */                                                                        \
    X(HK_ERR_DPS_TOPIC, 300, "topic is not a DPS response")                                   \
    X(HK_ERR_DPS_PAYLOAD, 301, "DPS response body is malformed")                              \
    X(HK_ERR_DPS_FAILED, 302, "DPS registration failed")                                      \
    X(HK_ERR_DPS_DISABLED, 303, "DPS enrollment is disabled")                                 \
    X(HK_ERR_DPS_UNAUTHORIZED, 304, "DPS refused the device identity (401)")                  \
    X(HK_ERR_DPS_REJECTED, 305, "DPS rejected the request (4xx)")                             \
    X(HK_ERR_DPS_THROTTLED, 306, "DPS throttled the device (429)")                            \
    X(HK_ERR_DPS_SERVER, 307, "DPS server error (5xx)")                                       \
    X(HK_ERR_DPS_DEADLINE, 308, "DPS registration did not finish before the deadline")       \
    X(HK_ERR_DPS_RID, 309, "DPS response does not match the pending request")                 \
    /* IoT Hub 400..499 */                                                                    \
    X(HK_ERR_HUB_TOPIC, 400, "topic is not an IoT Hub topic")                                 \
    X(HK_ERR_HUB_STATUS, 401, "IoT Hub returned an error status")                             \
    /* secure element 500..599 */                                                             \
    X(HK_ERR_SE_NO_RESPONSE, 500, "secure element did not respond (NACK)")                    \
    X(HK_ERR_SE_CRC, 501, "secure element response failed its CRC")                          \
    X(HK_ERR_SE_WAKE, 502, "secure element wake response invalid")                            \
    X(HK_ERR_SE_STATUS, 503, "secure element returned an error status")                       \
    X(HK_ERR_SE_RESPONSE, 504, "secure element response has the wrong size or form")          \
    X(HK_ERR_SE_UNLOCKED, 505, "secure element zones are not locked")                         \
    X(HK_ERR_SE_KEY_EXPOSED, 506, "secure element private-key slot is readable or writable")  \
    X(HK_ERR_SE_CONFIG, 507, "secure element configuration is not compatible")               \
    X(HK_ERR_SE_VERIFY, 508, "signature did not verify")                                      \
    /* certificates 600..699 */                                                               \
    X(HK_ERR_CERT_TEMPLATE, 600, "certificate template or definition is invalid")             \
    X(HK_ERR_CERT_COMPRESSED, 601, "compressed certificate is invalid")                       \
    X(HK_ERR_CERT_WRONG_DEF, 602, "compressed certificate does not match the definition")     \
    X(HK_ERR_CERT_PARSE, 603, "certificate could not be parsed")                              \
    /* provisioning record 700..799 */                                                        \
    X(HK_ERR_RECORD_EMPTY, 700, "no provisioning record")                                     \
    X(HK_ERR_RECORD_CORRUPT, 701, "provisioning record is corrupt")                           \
    X(HK_ERR_RECORD_VERSION, 702, "provisioning record version is not supported")             \
    X(HK_ERR_RECORD_TOO_LONG, 703, "assignment too long for the provisioning record")         \
    /* TLS 800..899 */                                                                        \
    X(HK_ERR_TLS_HANDSHAKE, 800, "TLS handshake failed")                                      \
    X(HK_ERR_TLS_UNTRUSTED, 801, "TLS server certificate is not trusted")                     \
    X(HK_ERR_TLS_HOSTNAME, 802, "TLS server certificate does not match the host name")        \
    X(HK_ERR_TLS_EXPIRED, 803, "TLS server certificate is expired or not yet valid")          \
    X(HK_ERR_TLS_CLIENT_REJECTED, 804, "TLS server rejected the client certificate")          \
    X(HK_ERR_TLS_ALERT, 805, "TLS alert received from the server")                            \
    X(HK_ERR_TLS_SETUP, 806, "TLS configuration error")                                       \
    X(HK_ERR_TLS_TRUST_STORE, 807, "TLS trust store could not be parsed")                     \
    X(HK_ERR_TLS_OWN_CERT, 808, "device certificate chain is not usable for TLS")            \
    /* device boot flow 900..999 */                                                           \
    X(HK_ERR_DEVICE_NOT_ASSIGNED, 900, "device is not assigned to a hub")                     \
    X(HK_ERR_DEVICE_HUB_REFUSED, 901, "IoT Hub refused the device identity")

typedef enum hk_result {
#define HK_RESULT_ENUM_(name, value, msg) name = value,
    HK_RESULT_LIST(HK_RESULT_ENUM_)
#undef HK_RESULT_ENUM_
} hk_result;

/* Human-readable message for a result. Never NULL; unknown values give
 * "unknown error". The string is static. A build with HK_RESULT_MESSAGES=0
 * (devices without a console; src/common/hk_common.h) keeps no message
 * texts: there it returns the result's name, as hk_result_name() does. */
const char *hk_result_str(hk_result r);

/* The enum's symbolic name ("HK_ERR_TIMEOUT"); "HK_UNKNOWN" when unknown. */
const char *hk_result_name(hk_result r);

/* Precondition hook: a hubkey function that finds a caller bug (what its
 * header states as a precondition: a NULL pointer, an impossible size)
 * calls hk_precondition_failed() with its own source file name and line,
 * then returns HK_ERR_INVALID_ARG. hubkey's definition does nothing. It is a
 * weak symbol: an application that defines its own replaces it at link time
 * (nothing to register, no state), e.g. to stop in the debugger at the
 * caller's bug instead of chasing the error code back up:
 *
 *     void hk_precondition_failed(const char *file, int line)
 *     {
 *         (void)file; (void)line;
 *         __builtin_trap();            // or a breakpoint, or a log line
 *     }
 *
 * file is the base name where the compiler provides one (__FILE_NAME__),
 * else the path it was given. The hook may return (the function then
 * returns HK_ERR_INVALID_ARG as usual) or not return at all. Builds with
 * HK_CHECK_PRECONDITIONS=0 (the production settings, src/common/hk_common.h)
 * compile the checks and so these calls out: there the hook costs nothing
 * and is never called. A build that keeps the checks but not the calls
 * (about 12 bytes each on a Cortex-M4) sets HK_PRECONDITION_HOOK=0.
 * Hostile input (network, chip, files) never reaches it: that is validated
 * by ordinary code and is not a caller bug. */
void hk_precondition_failed(const char *file, int line);

/* Drop a result on purpose, e.g. hk_result_ignore(hk_tls_close(&tls)) when a
 * best-effort close cannot change what follows. Compiles to nothing. */
static inline void hk_result_ignore(hk_result r)
{
    (void)r;
}

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_RESULT_H */
