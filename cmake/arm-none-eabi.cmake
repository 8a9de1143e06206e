# Cortex-M4 cross build used by `make size` (hubkey's device code and, through
# scripts/build-mbedtls-arm, mbedTLS).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# -flto -ffat-lto-objects: every object carries both GCC's intermediate code
# and ordinary machine code, so one set of archives serves the production
# link (link-time optimisation across modules, -flto) and the plain link
# (-fno-lto) make size reports next to it. The archiver and ranlib must be
# GCC's wrappers so the archives index the intermediate code too.
# -flto-partition=one: the link-time compiler sees the whole image as one
# unit (an image this size needs no parallel partitions), which also makes
# its output independent of the partitioning heuristics.
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -ffunction-sections -fdata-sections -flto -ffat-lto-objects -flto-partition=one")
find_program(HK_ARM_GCC_AR arm-none-eabi-gcc-ar REQUIRED)
find_program(HK_ARM_GCC_RANLIB arm-none-eabi-gcc-ranlib REQUIRED)
set(CMAKE_AR ${HK_ARM_GCC_AR})
set(CMAKE_RANLIB ${HK_ARM_GCC_RANLIB})
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections --specs=nano.specs --specs=nosys.specs")

# Headers and libraries are looked up in the target's tree only: the host's
# /usr/include and /usr/lib (mbedTLS 2.28 for Linux, for instance) must never
# end up in a Cortex-M4 image. Programs (python3, ...) are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/lib/arm-none-eabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
