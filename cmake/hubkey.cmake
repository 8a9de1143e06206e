# Shared build rules for hubkey. Every module uses these functions so that
# warnings, sanitizers, labels and fuzzing are applied the same way everywhere.

set(HK_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)
get_filename_component(HK_ROOT ${HK_ROOT} ABSOLUTE)

# The device library sources, per module (shared with ports/esp-idf).
include(${CMAKE_CURRENT_LIST_DIR}/hubkey_sources.cmake)

# Warnings for device code (src/, ports/): the bar is -Wall -Wextra -Werror, C11.
# -Werror comes with HK_WERROR (on in every build the Makefile configures,
# off by default for consumers' builds).
set(hk_werror)
if(HK_WERROR)
  set(hk_werror -Werror)
endif()
set(HK_DEVICE_WARNINGS -Wall -Wextra ${hk_werror} -Wshadow -Wundef -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wcast-align -Wwrite-strings)
# Host code (tests, tools, cloud) keeps the same core warnings.
set(HK_HOST_WARNINGS -Wall -Wextra ${hk_werror} -Wshadow -Wundef)

set(HK_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

# hk_require_dependency(FOUND PACKAGE pkg WHAT "what needs it")
# A dependency of the test build: when FOUND (a variable's value, e.g. a
# find_library result) is false, configuring fails and names the Debian
# package and scripts/install-deps, instead of leaving the tests that need it
# unregistered (CTest would still report 100 % passed). The size build, which
# builds no host code, is not concerned.
function(hk_require_dependency found)
  cmake_parse_arguments(A "" "PACKAGE;WHAT" "" ${ARGN})
  if(NOT found AND NOT HK_SIZE_BUILD)
    message(FATAL_ERROR "${A_WHAT} needs the Debian package ${A_PACKAGE}, which is not "
                        "installed: run scripts/install-deps (or apt-get install ${A_PACKAGE})")
  endif()
endfunction()

function(hk_add_optional_subdirectory dir)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
    add_subdirectory(${dir})
  endif()
endfunction()

# Instrumentation shared by every host target of the test build.
function(hk_host_instrument target)
  if(HK_SIZE_BUILD)
    return()
  endif()
  if(HK_SANITIZE)
    target_compile_options(${target} PRIVATE ${HK_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${HK_SANITIZE_FLAGS})
  endif()
  if(HK_FUZZ)
    # Coverage hooks so the fuzz harnesses see inside the library.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# hk_device_library(NAME SOURCES a.c b.c [DEPS other_lib ...] [PUBLIC_LIBS ...])
# A static library of device code. It joins the list checked by the no-heap
# test and the size report.
function(hk_device_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PUBLIC_LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${HK_ROOT}/include PRIVATE ${HK_ROOT}/src)
  target_compile_options(${name} PRIVATE ${HK_DEVICE_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS} ${A_PUBLIC_LIBS})
  hk_host_instrument(${name})
  set_property(GLOBAL APPEND PROPERTY HK_DEVICE_LIBS ${name})
endfunction()

# hk_host_library(NAME SOURCES ... [LIBS ...]): host-only code (ports, emulator, tools).
function(hk_host_library name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${HK_ROOT}/include PRIVATE ${HK_ROOT}/src)
  target_compile_options(${name} PRIVATE ${HK_HOST_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_LIBS})
  hk_host_instrument(${name})
endfunction()

# hk_add_test(NAME LABELS l1 [l2] SOURCES ... [LIBS ...] [ARGS ...] [TIMEOUT s]
#             [PRODUCTION])
# One test executable registered with CTest. Its labels select it:
# ctest --test-dir build -L <label>.
# PRODUCTION (unit tests of device code): with HK_PRODUCTION_TESTS, a second
# executable NAME_production is built from the same sources against the
# production variant of every device library in LIBS (hk_production_lib) and
# registered with the labels plus "production". It is compiled with
# HK_TEST_PRODUCTION, so checks of what the production settings compile out
# by design say so explicitly (tests/common/hk_test.h).
function(hk_add_test name)
  cmake_parse_arguments(A "PRODUCTION" "TIMEOUT" "LABELS;SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${HK_ROOT}/include ${HK_ROOT}/src ${HK_ROOT}/tests/common)
  target_compile_options(${name} PRIVATE ${HK_HOST_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  hk_host_instrument(${name})
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT})
  if(A_PRODUCTION AND HK_PRODUCTION_TESTS AND NOT HK_SIZE_BUILD)
    set(prod ${name}_production)
    set(libs)
    foreach(lib ${A_LIBS})
      hk_production_lib(${lib} mapped)
      list(APPEND libs ${mapped})
    endforeach()
    add_executable(${prod} ${A_SOURCES})
    target_include_directories(${prod} PRIVATE ${HK_ROOT}/include ${HK_ROOT}/src
                               ${HK_ROOT}/tests/common)
    target_compile_options(${prod} PRIVATE ${HK_HOST_WARNINGS})
    target_compile_definitions(${prod} PRIVATE HK_TEST_PRODUCTION=1 ${HK_PRODUCTION_DEFINITIONS})
    target_link_libraries(${prod} PRIVATE ${libs})
    hk_host_instrument(${prod})
    add_test(NAME ${prod} COMMAND ${prod} ${A_ARGS})
    set_tests_properties(${prod} PROPERTIES LABELS "${A_LABELS};production" TIMEOUT ${A_TIMEOUT})
  endif()
endfunction()

# The settings of a production device without a console, the ones the size
# build measures (src/CMakeLists.txt): HK_REQUIRE's caller-bug checks and the
# result texts compiled out.
set(HK_PRODUCTION_DEFINITIONS HK_CHECK_PRECONDITIONS=0 HK_RESULT_MESSAGES=0)

# hk_production_lib(LIB OUT_VAR): OUT_VAR names the production variant of LIB
# when LIB is a device library (hk_device_library), else LIB itself. The
# variant, LIB_prod, is made on first use from LIB's final properties (its
# sources, include directories, definitions and options) plus
# HK_PRODUCTION_DEFINITIONS, and links the variants of LIB's device
# dependencies, so a production test never mixes the two settings.
function(hk_production_lib lib out)
  get_property(device_libs GLOBAL PROPERTY HK_DEVICE_LIBS)
  if(NOT lib IN_LIST device_libs)
    set(${out} ${lib} PARENT_SCOPE)
    return()
  endif()
  set(prod ${lib}_prod)
  if(NOT TARGET ${prod})
    get_target_property(srcs ${lib} SOURCES)
    get_target_property(dir ${lib} SOURCE_DIR)
    set(abs)
    foreach(src ${srcs})
      if(IS_ABSOLUTE ${src})
        list(APPEND abs ${src})
      else()
        list(APPEND abs ${dir}/${src})
      endif()
    endforeach()
    add_library(${prod} STATIC ${abs})
    foreach(prop INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES
                 INTERFACE_SYSTEM_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS
                 INTERFACE_COMPILE_DEFINITIONS COMPILE_OPTIONS LINK_OPTIONS)
      get_target_property(v ${lib} ${prop})
      if(v)
        set_property(TARGET ${prod} PROPERTY ${prop} "${v}")
      endif()
    endforeach()
    target_compile_definitions(${prod} PRIVATE ${HK_PRODUCTION_DEFINITIONS})
    get_target_property(deps ${lib} INTERFACE_LINK_LIBRARIES)
    if(NOT deps)
      set(deps)
    endif()
    set(mapped_deps)
    foreach(dep ${deps})
      hk_production_lib(${dep} m)
      list(APPEND mapped_deps ${m})
    endforeach()
    target_link_libraries(${prod} PUBLIC ${mapped_deps})
  endif()
  set(${out} ${prod} PARENT_SCOPE)
endfunction()

# hk_add_fuzzer(NAME LABEL l [LABELS more ...] SOURCES ... [LIBS ...] [SEEDS dir])
# A libFuzzer harness (LLVMFuzzerTestOneInput). With HK_FUZZ it is built with
# -fsanitize=fuzzer, and a smoke run of HK_FUZZ_SMOKE_SECONDS is registered as
# a CTest test labelled "fuzz" and l. `make fuzz` runs every harness for
# HK_FUZZ_LONG_SECONDS. SEEDS is a directory of starting inputs in the source
# tree; new inputs found go to build/fuzz-corpus/NAME.
add_custom_target(fuzz-long)
function(hk_add_fuzzer name)
  cmake_parse_arguments(A "" "LABEL;SEEDS" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT HK_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${HK_ROOT}/include ${HK_ROOT}/src ${HK_ROOT}/tests/common)
  target_compile_options(${name} PRIVATE ${HK_HOST_WARNINGS} -fsanitize=fuzzer ${HK_SANITIZE_FLAGS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer ${HK_SANITIZE_FLAGS})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  file(MAKE_DIRECTORY ${corpus})
  set(seed_args)
  if(A_SEEDS)
    set(seed_args ${A_SEEDS})
  endif()
  # Harness names already start with fuzz_; the test name is the harness name.
  set(test_name ${name})
  if(NOT name MATCHES "^fuzz_")
    set(test_name fuzz_${name})
  endif()
  add_test(NAME ${test_name}
           COMMAND ${name} -max_total_time=${HK_FUZZ_SMOKE_SECONDS} -rss_limit_mb=2048
                   -print_final_stats=1 ${corpus} ${seed_args})
  set_tests_properties(${test_name} PROPERTIES LABELS "fuzz;${A_LABEL};${A_LABELS}"
                       TIMEOUT 600 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
  add_custom_target(fuzz-long-${name}
    COMMAND ${name} -max_total_time=${HK_FUZZ_LONG_SECONDS} -rss_limit_mb=2048
            -print_final_stats=1 ${corpus} ${seed_args}
    DEPENDS ${name} USES_TERMINAL)
  add_dependencies(fuzz-long fuzz-long-${name})
endfunction()
