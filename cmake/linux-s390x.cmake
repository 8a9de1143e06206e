# IBM Z Linux (s390x): 64-bit and big-endian, the byte order no other
# hubkey build has: make test-cross.
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(HK_CROSS_TRIPLET s390x-linux-gnu)
set(HK_CROSS_QEMU qemu-s390x)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
