# 32-bit ARM Linux (armhf: ARMv7, hard float), little-endian, 32-bit
# pointers and size_t: make test-cross.
set(CMAKE_SYSTEM_PROCESSOR arm)
set(HK_CROSS_TRIPLET arm-linux-gnueabihf)
set(HK_CROSS_QEMU qemu-arm)
# 64-bit file offsets and time_t, as Debian 13's armhf ABI has them. Without
# them a 32-bit readdir under qemu-user on a 64-bit kernel fails
# (EOVERFLOW: the host file system hands out 64-bit directory offsets).
set(CMAKE_C_FLAGS_INIT "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
