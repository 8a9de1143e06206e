# The device library sources, per module: the one list that hubkey's own
# CMake (src/*/CMakeLists.txt) and the ESP-IDF component
# (ports/esp-idf/CMakeLists.txt) both build from, so the two cannot drift.
# Plain variables only (no functions, no targets): ESP-IDF's component
# manager includes this file in its own, script-like processing.
#
# Paths are absolute, rooted at this repository; HK_SOURCES_ROOT is that root.

get_filename_component(HK_SOURCES_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(hk_s "${HK_SOURCES_ROOT}/src")

# hk_common: results, text helpers, the default precondition hook.
set(HK_SOURCES_COMMON ${hk_s}/common/result.c ${hk_s}/common/text.c ${hk_s}/common/precondition.c)
# hk_mqtt: MQTT 3.1.1 codec and client session engine.
set(HK_SOURCES_MQTT ${hk_s}/mqtt/mqtt_codec.c ${hk_s}/mqtt/mqtt_client.c)
# hk_json: reader, writer, UTF-8 checks.
set(HK_SOURCES_JSON ${hk_s}/json/json_reader.c ${hk_s}/json/json_writer.c ${hk_s}/json/json_utf8.c)
# hk_dps: DPS builders, parser, registration state machine.
set(HK_SOURCES_DPS ${hk_s}/dps/dps.c ${hk_s}/dps/dps_machine.c)
# hk_hub: IoT Hub builders and topic parser.
set(HK_SOURCES_HUB ${hk_s}/hub/hub.c)
# hk_atecc608: the ATECC608A driver.
set(HK_SOURCES_SE
    ${hk_s}/se/atecc608/atecc608_crc.c ${hk_s}/se/atecc608/atecc608_cmd.c
    ${hk_s}/se/atecc608/atecc608_exec.c ${hk_s}/se/atecc608/atecc608_io.c
    ${hk_s}/se/atecc608/atecc608_commands.c ${hk_s}/se/atecc608/atecc608_config.c)
# hk_se_atecc608: hk_se over the chip (needs the certificate module).
set(HK_SOURCES_SE_ATECC608 ${hk_s}/se/atecc608/se_atecc608.c)
# hk_cert: compressed certificates (SHA-256 from mbedTLS's mbedcrypto).
set(HK_SOURCES_CERT
    ${hk_s}/se/cert/cert_compressed.c ${hk_s}/se/cert/cert_def.c ${hk_s}/se/cert/cert_build.c
    ${hk_s}/se/cert/cert_derive.c ${hk_s}/se/cert/cert_hash.c ${hk_s}/se/cert/cert_key.c)
# hk_record: the slot-8 provisioning record.
set(HK_SOURCES_RECORD ${hk_s}/se/record/record.c)
# hk_device: the boot flow's portable core; hk_device_tls: its TCP+TLS link.
set(HK_SOURCES_DEVICE ${hk_s}/device/device.c ${hk_s}/device/device_core.c
    ${hk_s}/device/device_dps.c ${hk_s}/device/device_hub.c ${hk_s}/device/device_hub_send.c
    ${hk_s}/device/device_cert.c)
set(HK_SOURCES_DEVICE_TLS ${hk_s}/device/device_tls.c)
# hk_tls: the TLS client with the key in the secure element, per mbedTLS
# line (2.28 as Debian ships it; 3.6, which ESP-IDF 5.x carries): the common
# client (set-up, I/O engine, verification and reasons) plus that line's key
# hook.
set(hk_tls_common ${hk_s}/tls/tls.c ${hk_s}/tls/tls_io.c ${hk_s}/tls/tls_verify.c
    ${hk_s}/tls/tls_roots.c)
set(HK_SOURCES_TLS_MBEDTLS2 ${hk_tls_common} ${hk_s}/tls/tls_key_mbedtls2.c)
set(HK_SOURCES_TLS_MBEDTLS3 ${hk_tls_common} ${hk_s}/tls/tls_key_mbedtls3.c)
unset(hk_tls_common)
unset(hk_s)
