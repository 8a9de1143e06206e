# make install (docs/install.md): the programs, the broker plugin, the
# public headers, the device stack's static libraries and one umbrella
# library (libhubkey.a), hubkey.pc for pkg-config, the CMake package
# (find_package(hubkey): hubkey::hubkey and one target per library), man
# pages made with help2man, the systemd unit, an example configuration and
# the documentation. Paths follow GNUInstallDirs.
#
# Only an uninstrumented build installs: the test build's programs carry
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer hooks (slow,
# noisy, and they abort on the first report), so installing them is refused.

# (The refusal is the first install rule, in the top-level CMakeLists.txt.)
if(HK_SANITIZE OR HK_FUZZ)
  return()
endif()

include(CMakePackageConfigHelpers)

set(HK_MANPAGES AUTO CACHE STRING
    "Man pages for the programs, made with help2man: ON, OFF, or AUTO (when help2man is found)")
set_property(CACHE HK_MANPAGES PROPERTY STRINGS AUTO ON OFF)
set(HK_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit is installed: relative to the prefix, or absolute")

# ---- programs and the broker plugin ----------------------------------------

set(hk_programs hubkey hubkey-factory hubkey-cloud hubkey-chip-bridge)
foreach(p ${hk_programs} hubkey_cloud_plugin)
  if(NOT TARGET ${p})
    message(FATAL_ERROR "make install: ${p} is not built in this configuration "
                        "(see the messages above for what it needs)")
  endif()
endforeach()
install(TARGETS ${hk_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# hubkey-cloud finds it there (HKC_PLUGIN_RELPATH, cloud/CMakeLists.txt).
install(TARGETS hubkey_cloud_plugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/hubkey)

# ---- libraries ---------------------------------------------------------------

# The device stack on Linux: the boot flow with its TLS link, the chip's
# hk_se and the POSIX port, and every library they link (found by walking
# their link interfaces, so a module split into more libraries is installed
# without a change here), top of the stack first. The software chip is
# installed as a library of its own (hubkey::emu_atecc608) for applications
# that test without hardware.
set(hk_stack_roots hk_device_tls hk_se_atecc608 hk_port_posix)
foreach(t ${hk_stack_roots} hk_emu_atecc608)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "make install: the library ${t} is not built in this configuration")
  endif()
endforeach()
set(hk_stack)
set(hk_todo ${hk_stack_roots})
while(hk_todo)
  list(POP_FRONT hk_todo t)
  if(t MATCHES "^\\$<LINK_ONLY:(.+)>$")
    set(t ${CMAKE_MATCH_1})
  endif()
  if(NOT TARGET ${t} OR t IN_LIST hk_stack)
    continue()
  endif()
  get_target_property(type ${t} TYPE)
  get_target_property(imported ${t} IMPORTED)
  if(imported OR NOT type STREQUAL "STATIC_LIBRARY")
    continue()
  endif()
  list(APPEND hk_stack ${t})
  get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
  if(deps)
    list(APPEND hk_todo ${deps})
  endif()
endwhile()
set(hk_export_libs ${hk_stack} hk_emu_atecc608)

# hk_install_interface(TARGET): what a target tells its users, made
# installable. Include directories inside the source or build tree hold
# only while building (the installed headers are all under
# CMAKE_INSTALL_INCLUDEDIR/hubkey); a library given by its full path on this
# machine (/usr/lib/.../libmbedtls.so) is named (mbedtls) in the installed
# package, so the linker finds it on the consumer's machine; the compiler's
# own directories (/usr/include) are not repeated.
function(hk_install_interface t)
  foreach(prop INTERFACE_INCLUDE_DIRECTORIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES)
    get_target_property(v ${t} ${prop})
    if(NOT v)
      continue()
    endif()
    set(out)
    foreach(item ${v})
      string(FIND "${item}" "${HK_ROOT}/" in_src)
      string(FIND "${item}" "${CMAKE_BINARY_DIR}/" in_bin)
      if(item MATCHES "^\\$<")
        list(APPEND out "${item}")
      elseif(item STREQUAL HK_ROOT OR in_src EQUAL 0 OR in_bin EQUAL 0 OR
             item IN_LIST CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES)
        list(APPEND out "$<BUILD_INTERFACE:${item}>")
      else()
        list(APPEND out "${item}")
      endif()
    endforeach()
    set_property(TARGET ${t} PROPERTY ${prop} "${out}")
  endforeach()
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  get_target_property(v ${t} INTERFACE_LINK_LIBRARIES)
  if(v)
    set(out)
    foreach(item ${v})
      # A private dependency of a static library is $<LINK_ONLY:...>.
      set(lo_open "")
      set(lo_close "")
      if(item MATCHES "^\\$<LINK_ONLY:(.+)>$")
        set(item "${CMAKE_MATCH_1}")
        set(lo_open "$<LINK_ONLY:")
        set(lo_close ">")
      endif()
      if(IS_ABSOLUTE "${item}" AND item MATCHES "/lib([^/]+)\\.(so|a)(\\.[0-9.]+)?$")
        list(APPEND out "${lo_open}$<BUILD_INTERFACE:${item}>${lo_close}"
                        "${lo_open}$<INSTALL_INTERFACE:${CMAKE_MATCH_1}>${lo_close}")
      else()
        list(APPEND out "${lo_open}${item}${lo_close}")
      endif()
    endforeach()
    set_property(TARGET ${t} PROPERTY INTERFACE_LINK_LIBRARIES "${out}")
  endif()
endfunction()

# The libraries outside hubkey the stack links (mbedTLS), as the installed
# package names them: hk_libs_external (CMake link items) and hk_pc_libs
# (-l flags for hubkey.pc).
set(hk_libs_external)
set(hk_pc_libs)
foreach(t ${hk_export_libs})
  hk_install_interface(${t})
  string(REGEX REPLACE "^hk_" "" name ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${name})
endforeach()
# From the top of the stack down, so that a static link sees each library
# before the ones it needs (mbedtls, mbedx509, mbedcrypto).
foreach(t ${hk_stack})
  get_target_property(v ${t} INTERFACE_LINK_LIBRARIES)
  if(NOT v)
    continue()
  endif()
  foreach(item ${v})
    if(item MATCHES "^\\$<LINK_ONLY:(.+)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(TARGET ${item} OR item IN_LIST hk_libs_external OR
       "$<INSTALL_INTERFACE:${item}>" IN_LIST hk_libs_external)
      continue()
    endif()
    list(APPEND hk_libs_external "${item}")
    if(item MATCHES "^\\$<INSTALL_INTERFACE:(.+)>$")
      list(APPEND hk_pc_libs "-l${CMAKE_MATCH_1}")
    elseif(NOT item MATCHES "^\\$<")
      list(APPEND hk_pc_libs "-l${item}")
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES hk_pc_libs)

# libhubkey.a: the whole stack in one archive (the objects of hk_stack), for
# a link line that needs one name (and hubkey.pc). Target hk_umbrella, since
# hubkey is the agent program; installed as hubkey::hubkey.
set(hk_objects)
foreach(t ${hk_stack})
  list(APPEND hk_objects $<TARGET_OBJECTS:${t}>)
endforeach()
add_library(hk_umbrella STATIC ${hk_objects})
set_target_properties(hk_umbrella PROPERTIES OUTPUT_NAME hubkey EXPORT_NAME hubkey
                      LINKER_LANGUAGE C ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
target_include_directories(hk_umbrella INTERFACE
  $<BUILD_INTERFACE:${HK_ROOT}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(hk_umbrella INTERFACE ${hk_libs_external})

install(TARGETS ${hk_export_libs} hk_umbrella EXPORT hubkeyTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# ---- headers -----------------------------------------------------------------

# include/hubkey, plus the headers of the POSIX port and the software chip,
# which live next to their code in the tree and go to the same directory:
# #include <hubkey/hk_posix.h>.
install(DIRECTORY ${HK_ROOT}/include/hubkey DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
foreach(h ports/posix/hk_posix.h ports/posix/hk_i2c_linux.h emu/atecc608/emu_atecc608.h)
  if(EXISTS ${HK_ROOT}/${h})
    install(FILES ${HK_ROOT}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hubkey)
  endif()
endforeach()

# ---- pkg-config and the CMake package ---------------------------------------

list(JOIN hk_pc_libs " " HK_PC_LIBS)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HK_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(HK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HK_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(HK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${HK_ROOT}/cmake/hubkey.pc.in ${CMAKE_BINARY_DIR}/hubkey.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/hubkey.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(hk_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/hubkey)
install(EXPORT hubkeyTargets NAMESPACE hubkey:: DESTINATION ${hk_cmake_dir})
configure_package_config_file(${HK_ROOT}/cmake/hubkeyConfig.cmake.in
  ${CMAKE_BINARY_DIR}/hubkeyConfig.cmake INSTALL_DESTINATION ${hk_cmake_dir})
# Below 1.0.0 a minor release may change the API (include/hubkey/version.h).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/hubkeyConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/hubkeyConfig.cmake ${CMAKE_BINARY_DIR}/hubkeyConfigVersion.cmake
        DESTINATION ${hk_cmake_dir})

# ---- man pages ---------------------------------------------------------------

# Made from what the programs print for --help (help2man runs each built
# program), so they cannot drift from the programs.
find_program(HK_HELP2MAN help2man)
if(HK_MANPAGES STREQUAL "ON" AND NOT HK_HELP2MAN)
  message(FATAL_ERROR "HK_MANPAGES=ON needs help2man (Debian package help2man; "
                      "scripts/install-deps installs it)")
endif()
if(HK_HELP2MAN AND NOT HK_MANPAGES STREQUAL "OFF")
  set(hk_man_name_hubkey
      "device agent: provision through Azure DPS and stay connected to IoT Hub, key in an ATECC608")
  set(hk_man_name_hubkey-factory
      "give ATECC608 chips their identity: CA, configuration and lock, keys, certificates")
  set(hk_man_name_hubkey-cloud "a local Azure DPS and IoT Hub on Mosquitto, for development and tests")
  set(hk_man_name_hubkey-chip-bridge "serve an emulated ATECC608 over a serial line (TCP)")
  set(hk_man_pages)
  foreach(p ${hk_programs})
    set(page ${CMAKE_BINARY_DIR}/man/${p}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HK_HELP2MAN} --no-info --no-discard-stderr
              --version-string=${PROJECT_VERSION} "--name=${hk_man_name_${p}}"
              --output=${page} $<TARGET_FILE:${p}>
      DEPENDS ${p} VERBATIM COMMENT "help2man ${p}.1")
    list(APPEND hk_man_pages ${page})
  endforeach()
  add_custom_target(hk_man_pages ALL DEPENDS ${hk_man_pages})
  install(FILES ${hk_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "man pages: not made (help2man not found, or HK_MANPAGES=OFF)")
endif()

# ---- systemd unit, example configuration, documentation ----------------------

# The unit in the tree names /usr/local; the installed one names where this
# installation puts the agent and its documentation.
set(hk_unit_src ${HK_ROOT}/tools/hubkey/hubkey.service)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${hk_unit_src})
file(READ ${hk_unit_src} hk_unit)
string(REGEX REPLACE "ExecStart=[^ \n]*/hubkey " "ExecStart=${CMAKE_INSTALL_FULL_BINDIR}/hubkey "
       hk_unit "${hk_unit}")
string(REGEX REPLACE "file://[^ \n]*/hubkey-agent\\.md"
       "file://${CMAKE_INSTALL_FULL_DOCDIR}/docs/hubkey-agent.md" hk_unit "${hk_unit}")
set(hk_unit_out ${CMAKE_BINARY_DIR}/systemd/hubkey.service)
set(hk_unit_old)
if(EXISTS ${hk_unit_out})
  file(READ ${hk_unit_out} hk_unit_old)
endif()
if(NOT hk_unit_old STREQUAL hk_unit)
  file(WRITE ${hk_unit_out} "${hk_unit}")
endif()
install(FILES ${hk_unit_out} DESTINATION ${HK_SYSTEMD_UNIT_DIR})

install(FILES ${HK_ROOT}/tools/hubkey/hubkey.conf.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples RENAME hubkey.conf)
foreach(f README.md LICENSE CHANGELOG.md SECURITY.md)
  if(EXISTS ${HK_ROOT}/${f})
    install(FILES ${HK_ROOT}/${f} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  endif()
endforeach()
install(DIRECTORY ${HK_ROOT}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md")
