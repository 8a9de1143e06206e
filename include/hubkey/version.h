/*
 * hubkey — the release version, one place for it.
 *
 * Semantic versioning (MAJOR.MINOR.PATCH): the programs' --version, the
 * pkg-config file and the CMake package report this string. Below 1.0.0 a
 * MINOR release may change the API; the wire format and the chip's record
 * layout stay readable across every release.
 */
#ifndef HUBKEY_VERSION_H
#define HUBKEY_VERSION_H

#define HUBKEY_VERSION_MAJOR 0
#define HUBKEY_VERSION_MINOR 1
#define HUBKEY_VERSION_PATCH 0
#define HUBKEY_VERSION "0.1.0"

#endif /* HUBKEY_VERSION_H */
