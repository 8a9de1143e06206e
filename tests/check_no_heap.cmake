# Fails when any of LIBS (a ;-list of static libraries) has an undefined
# reference to an allocator entry point: the C library's heap (malloc and
# every relative, the functions that return malloc'ed memory), newlib's
# reentrant forms, the heap's growth (sbrk, brk) and C++ operator new.
# Run by CTest as no_heap_in_device_code.
set(heap_functions
  malloc calloc realloc free reallocarray aligned_alloc posix_memalign memalign valloc pvalloc
  cfree malloc_usable_size
  strdup strndup wcsdup asprintf vasprintf getline getdelim open_memstream open_wmemstream
  tempnam scandir get_current_dir_name
  sbrk brk
  _malloc_r _calloc_r _realloc_r _free_r _memalign_r _valloc_r _pvalloc_r _reallocf_r
  _strdup_r _strndup_r _asprintf_r _vasprintf_r _sbrk_r __malloc_lock __malloc_unlock
  _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t
  _ZnamSt11align_val_t _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm
  _Znwj _Znaj)
list(JOIN heap_functions "|" alternatives)
set(bad "")
foreach(lib ${LIBS})
  execute_process(COMMAND ${NM} -u ${lib} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${lib}")
  endif()
  string(REGEX MATCHALL "[ \t](${alternatives})\n" hits "${out}")
  if(hits)
    string(APPEND bad "${lib}: ${hits}\n")
  endif()
endforeach()
list(LENGTH LIBS n)
list(LENGTH heap_functions nf)
if(bad)
  message(FATAL_ERROR "heap functions referenced by device code:\n${bad}")
endif()
message(STATUS "checked ${n} device libraries for ${nf} allocator entry points: none referenced")
