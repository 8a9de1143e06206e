# Shared build rules for hubkey. Every module uses these functions so that
# warnings, sanitizers, labels and fuzzing are applied the same way everywhere.

set(HK_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)
get_filename_component(HK_ROOT ${HK_ROOT} ABSOLUTE)

# The device library sources, per module (shared with ports/esp-idf).
include(${CMAKE_CURRENT_LIST_DIR}/hubkey_sources.cmake)

# Warnings for device code (src/, ports/): the bar is -Wall -Wextra -Werror, C11.
set(HK_DEVICE_WARNINGS -Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wcast-align -Wwrite-strings)
# Host code (tests, tools, cloud) keeps the same core warnings.
set(HK_HOST_WARNINGS -Wall -Wextra -Werror -Wshadow -Wundef)

set(HK_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

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

# hk_add_test(NAME LABELS l1 [l2] SOURCES ... [LIBS ...] [ARGS ...] [TIMEOUT s])
# One test executable registered with CTest. Its labels select it:
# ctest --test-dir build -L <label>.
function(hk_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS;SOURCES;LIBS;ARGS" ${ARGN})
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
