# Shared part of the Linux cross builds for make test-cross: the device
# libraries and their unit tests built for another architecture with
# Debian's cross compiler and multiarch libraries, run under qemu-user.
# Included by the per-architecture toolchain files, which set
# HK_CROSS_TRIPLET (GNU triplet, also Debian's multiarch directory) and
# HK_CROSS_QEMU (the qemu-user program).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${HK_CROSS_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${HK_CROSS_TRIPLET})

# Libraries and headers: the target's (/usr/lib/<triplet> and the shared
# /usr/include, Debian multiarch), never the build machine's
# /usr/lib/x86_64-linux-gnu. Programs (sh, openssl, mosquitto) are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/${HK_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config answers for the target architecture only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${HK_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)

# CTest runs every test executable through qemu-user. Executables are
# dynamic; their loader, C library and the multiarch libraries (mbedTLS,
# OpenSSL) are Debian's libc6:<arch> & co. in /lib and /usr/lib/<triplet>,
# which qemu-user finds without -L. (With -L /usr/<triplet>, qemu 7.2 kills
# a forked child that executes a host program, which the tests that start
# mosquitto or openssl s_server do.)
find_program(HK_CROSS_QEMU_PROGRAM ${HK_CROSS_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${HK_CROSS_QEMU_PROGRAM})
