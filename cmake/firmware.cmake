# Firmware images for the mps2-an386 board (QEMU -M mps2-an386, Cortex-M4),
# built by the firmware configuration (make firmware: -DHK_FIRMWARE_BUILD=ON
# with cmake/arm-none-eabi.cmake, into build-firmware/).
#
# hk_firmware_image(NAME SOURCES a.c ... [LIBS lib ...] [MBEDTLS]
#                   [STACK_SIZE bytes] [LTO])
#   Links NAME.elf and its linker map NAME.map into
#   <firmware build dir>/images/ from SOURCES, LIBS, the board (hk_board:
#   start-up, board support, LAN9118 driver) and lwIP, with the board's
#   linker script (boards/mps2-an386/link.ld) and no C start-up files.
#   MBEDTLS adds mbedTLS 3.6 as scripts/build-mbedtls-arm built it for the
#   device code (libmbedtls, libmbedx509, libmbedcrypto, with mbedTLS's
#   headers and hubkey's configuration for SOURCES; hk_tls_mbedtls3 in LIBS
#   brings them too). STACK_SIZE sets the main stack (default 32 KiB).
#   LTO links with link-time optimisation (the archives carry both forms);
#   without it every input section in the map names its archive, which is
#   what docs/firmware.md's per-part figures read.
#   SOURCES are compiled with hubkey's device warnings (-Werror with
#   HK_WERROR, which make firmware sets) and see
#   include/, src/, the board's headers and lwIP's.
#   After the link, the image is checked: no malloc, free, calloc, realloc
#   or _sbrk may be in it (the firmware has no heap).
#
# Host tests find an image as ${HK_FIRMWARE_DIR}/images/NAME.elf, where the
# host configuration's HK_FIRMWARE_DIR is this build directory (the
# Makefile passes it).
set(HK_FIRMWARE_IMAGE_DIR ${CMAKE_BINARY_DIR}/images)
file(MAKE_DIRECTORY ${HK_FIRMWARE_IMAGE_DIR})

function(hk_firmware_image name)
  cmake_parse_arguments(A "MBEDTLS;LTO" "STACK_SIZE" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${HK_ROOT}/include ${HK_ROOT}/src)
  target_compile_options(${name} PRIVATE ${HK_DEVICE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_LIBS} hk_board)
  if(A_MBEDTLS)
    # mbedcrypto (src/CMakeLists.txt) carries the headers and the
    # configuration definitions with the library.
    set(mbed ${CMAKE_BINARY_DIR}/mbedtls-arm/install/lib)
    target_link_libraries(${name} PRIVATE ${mbed}/libmbedtls.a ${mbed}/libmbedx509.a mbedcrypto)
  endif()
  set(map ${HK_FIRMWARE_IMAGE_DIR}/${name}.map)
  target_link_options(${name} PRIVATE -T${HK_BOARD_DIR}/link.ld -nostartfiles
                      -Wl,-Map=${map} -Wl,--cref)
  if(A_STACK_SIZE)
    target_link_options(${name} PRIVATE -Wl,--defsym=__stack_size=${A_STACK_SIZE})
  endif()
  if(NOT A_LTO)
    target_compile_options(${name} PRIVATE -fno-lto)
    target_link_options(${name} PRIVATE -fno-lto)
  endif()
  set_target_properties(${name} PROPERTIES
    SUFFIX ".elf"
    RUNTIME_OUTPUT_DIRECTORY ${HK_FIRMWARE_IMAGE_DIR}
    LINK_DEPENDS ${HK_BOARD_DIR}/link.ld)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM} -DELF=$<TARGET_FILE:${name}>
            -P ${HK_ROOT}/cmake/firmware_check_heap.cmake
    VERBATIM)
endfunction()
