# cmake -P sources.cmake: prints the device library sources the ESP-IDF
# component compiles (cmake/hubkey_sources.cmake), one per line, for
# scripts/check-esp-idf.
include(${CMAKE_CURRENT_LIST_DIR}/../../../cmake/hubkey_sources.cmake)
foreach(f ${HK_SOURCES_COMMON} ${HK_SOURCES_MQTT} ${HK_SOURCES_JSON} ${HK_SOURCES_DPS}
          ${HK_SOURCES_HUB} ${HK_SOURCES_SE} ${HK_SOURCES_SE_ATECC608} ${HK_SOURCES_CERT}
          ${HK_SOURCES_RECORD} ${HK_SOURCES_DEVICE} ${HK_SOURCES_DEVICE_TLS}
          ${HK_SOURCES_TLS_MBEDTLS3})
  message(NOTICE "${f}")
endforeach()
