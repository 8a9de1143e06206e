# Fails when a firmware image contains the C library's heap: the firmware
# allocates nothing (lwIP uses its own static pools, mbedTLS the arena given
# to hk_tls_arena_init), so malloc and friends or _sbrk in an image mean
# something pulled newlib's allocator in (stdio, for instance).
# cmake -DNM=<nm> -DELF=<image> -P firmware_check_heap.cmake
execute_process(COMMAND ${NM} ${ELF} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} ${ELF} failed")
endif()
set(found)
foreach(sym malloc free calloc realloc _malloc_r _free_r _calloc_r _realloc_r _sbrk _sbrk_r)
  if(syms MATCHES "[ \t][TtWw] ${sym}\n")
    list(APPEND found ${sym})
  endif()
endforeach()
if(found)
  message(FATAL_ERROR "${ELF} contains the C library heap (${found}); the map file "
                      "(--cref) shows what references them")
endif()
