# Every public header (include/hubkey/*.h) compiles in a translation unit of
# its own and all of them together in one, with only include/ on the include
# path and without pulling in a single mbedTLS header: an application that
# uses hubkey (TLS link included) needs neither mbedTLS's headers nor its
# configuration. mbedTLS may still sit in a system include directory
# (Debian's libmbedtls-dev does), so the check reads the compiler's list of
# every file each unit opened (-M) and fails on any path with "mbedtls" in it.
# Run by CTest as public_headers_without_mbedtls.
#
#   cmake -DCC=compiler -DINCLUDE_DIR=include -DOUT_DIR=dir "-DFLAGS=-Wall;..."
#         -P check_public_headers.cmake
foreach(v CC INCLUDE_DIR OUT_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "check_public_headers: ${v} not set")
  endif()
endforeach()
file(GLOB headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/hubkey/*.h)
list(SORT headers)
list(LENGTH headers count)
if(count EQUAL 0)
  message(FATAL_ERROR "check_public_headers: no header in ${INCLUDE_DIR}/hubkey")
endif()
file(MAKE_DIRECTORY ${OUT_DIR})

set(units)
set(all "/* Every public header, in one translation unit. */\n")
foreach(h ${headers})
  string(APPEND all "#include \"${h}\"\n")
  string(MAKE_C_IDENTIFIER ${h} id)
  file(WRITE ${OUT_DIR}/${id}.c "#include \"${h}\"\n"
       "int hk_header_check_${id}(void);\n"
       "int hk_header_check_${id}(void) { return 0; }\n")
  list(APPEND units ${OUT_DIR}/${id}.c)
endforeach()
string(APPEND all "int hk_header_check_all(void);\nint hk_header_check_all(void) { return 0; }\n")
file(WRITE ${OUT_DIR}/all_headers.c "${all}")
list(APPEND units ${OUT_DIR}/all_headers.c)

set(failed "")
foreach(unit ${units})
  get_filename_component(name ${unit} NAME)
  execute_process(COMMAND ${CC} -std=c11 ${FLAGS} -I ${INCLUDE_DIR} -fsyntax-only ${unit}
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(APPEND failed "${name}: does not compile:\n${out}${err}\n")
    continue()
  endif()
  execute_process(COMMAND ${CC} -std=c11 ${FLAGS} -I ${INCLUDE_DIR} -M ${unit}
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE deps)
  if(NOT rc EQUAL 0)
    string(APPEND failed "${name}: ${CC} -M failed:\n${err}\n")
    continue()
  endif()
  string(REGEX MATCHALL "[^ \t\n\\\\]*mbedtls[^ \t\n\\\\]*" hits "${deps}")
  if(hits)
    list(REMOVE_DUPLICATES hits)
    list(JOIN hits "\n  " hits)
    string(APPEND failed "${name}: includes mbedTLS:\n  ${hits}\n")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "public headers:\n${failed}")
endif()
list(LENGTH units n)
message(STATUS "${count} public headers: ${n} translation units compile, "
               "none opens an mbedTLS header")
