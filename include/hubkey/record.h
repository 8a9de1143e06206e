/*
 * hubkey — the provisioning record (ATECC608A slot 8, 416 bytes).
 *
 * The record remembers where the device belongs: the IoT Hub host name and
 * the device ID that DPS assigned. It lives in the secure element's data
 * area (hk_se read_data/write_data) as two copies with a generation number
 * and a CRC-32 each; a write always replaces the older copy, so losing power
 * at any byte of a write leaves either the previous or the new assignment
 * readable, never a mix. The format is in docs/slot-map-and-record.md.
 *
 * Legacy chips: a chip whose slot 8 holds the seed firmware's layout (the
 * 9-byte serial number as 18 lower-case hex characters at offset 0,
 * NUL-padded to 20 bytes, then the hub host name NUL-padded in bytes 20..67)
 * reads as a valid assignment (device ID = those 18 characters). Bytes 0..67
 * of such a chip are never written: the two copies then live in bytes
 * 68..411, which holds less text (HK_RECORD_LEGACY_TEXT_MAX).
 *
 * Capacity: a host name and a device ID of up to 96 characters each always
 * fit (up to HK_RECORD_TEXT_MAX characters together). On a legacy chip
 * together at most HK_RECORD_LEGACY_TEXT_MAX. A longer assignment is
 * refused with HK_ERR_RECORD_TOO_LONG before anything is written.
 * Accepted characters: printable ASCII 0x21..0x7E (no space, no NUL).
 *
 * Device code: no heap, no global state. hk_record_read/write/forget use
 * about 0.5 KiB of stack (one 416-byte image); a cached write about 0.25 KiB
 * (one 208-byte copy).
 */
#ifndef HUBKEY_RECORD_H
#define HUBKEY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubkey/result.h"
#include "hubkey/se.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HK_RECORD_AREA_SIZE 416u        /* slot 8 */
#define HK_RECORD_TEXT_MAX 194u         /* host name + device ID, characters */
#define HK_RECORD_LEGACY_TEXT_MAX 158u  /* the same on a legacy chip */
#define HK_RECORD_FIELD_GUARANTEED 96u  /* each field alone always fits */
#define HK_RECORD_LEGACY_PRESERVED 68u  /* bytes 0..67 of a legacy chip */

/* Flags. Bits 0..6 belong to the caller: stored and returned unchanged.
 * Bit 7 is set by hk_record_forget() and is refused by hk_record_write(). */
#define HK_RECORD_FLAGS_USER_MASK 0x7Fu
#define HK_RECORD_FLAG_FORGOTTEN 0x80u

typedef struct hk_record {
    char hub_hostname[HK_RECORD_TEXT_MAX + 1]; /* NUL-terminated */
    char device_id[HK_RECORD_TEXT_MAX + 1];    /* NUL-terminated */
    size_t hub_hostname_len;
    size_t device_id_len;
    uint32_t generation; /* 0 for the seed firmware's legacy assignment */
    uint8_t flags;       /* HK_RECORD_FLAGS_USER_MASK bits */
    bool legacy_chip;    /* bytes 0..67 hold the legacy layout */
    bool from_legacy;    /* the assignment is the legacy one (no newer copy) */
} hk_record;

/* Parse a 416-byte slot image (len must be HK_RECORD_AREA_SIZE).
 * Example of accepted bytes (copy A at offset 0):
 *   48 4B 01 00 | 07 00 00 00 | 0F 08 | "hub.example.net" "dev-0001"
 *   | zero padding to byte 203 | CRC-32 of bytes 0..203, little-endian.
 * Returns:
 *   HK_OK                  out = the newest copy with a valid CRC (or the
 *                          legacy assignment when no copy is valid);
 *   HK_ERR_RECORD_EMPTY    nothing assigned: erased, forgotten, or a single
 *                          copy torn by a first write;
 *   HK_ERR_RECORD_CORRUPT  both copies carry the magic and neither is valid,
 *                          or a legacy layout with an invalid host name;
 *   HK_ERR_RECORD_VERSION  the newest copy is of an unknown version.
 * out is fully written on HK_OK and zeroed otherwise (legacy_chip is set in
 * every case). */
HK_NODISCARD hk_result hk_record_parse(const uint8_t *image, size_t len, hk_record *out);

/* Read the record through the secure element's data area (which must be at
 * least 416 bytes). Results as hk_record_parse, plus the se's own errors
 * (out untouched then). Blocks 0 and 6 first (both headers, copy A's CRC),
 * then the newest copy's text and CRC: when that copy is valid and not
 * forgotten it is the result (2 to 4 chip Reads for a typical assignment),
 * its padding beyond the bytes read taken as zero inside the CRC check;
 * otherwise the rest of the area, and the result is hk_record_parse's of
 * the whole image (docs/slot-map-and-record.md, "Reading the newest copy
 * alone"). The reads are one se->hold sequence when the se has hold. */
HK_NODISCARD hk_result hk_record_read(const hk_se *se, hk_record *out);

/* Store a new assignment (generation = newest + 1, wrapping at 2^32).
 * hostname/device_id: 1.. characters, 0x21..0x7E; user_flags: bits 0..6.
 * HK_ERR_RECORD_TOO_LONG when the text does not fit (see Capacity);
 * HK_ERR_MALFORMED for an empty string or a character outside 0x21..0x7E
 * (the text usually comes from the network); HK_ERR_INVALID_ARG for NULL
 * pointers or flag bit 7;
 * HK_ERR_RECORD_VERSION when the slot holds a newer-version record (left
 * untouched). On success the record reads back as exactly this assignment. */
HK_NODISCARD hk_result hk_record_write(const hk_se *se, const char *hub_hostname,
                                       size_t hub_hostname_len, const char *device_id,
                                       size_t device_id_len, uint8_t user_flags);

/*
 * Reading once for a read and the write that follows. A write has to know
 * which copy holds the newest record (it replaces the other one), which
 * generation comes next and the layout; hk_record_write reads the whole
 * 416-byte area for that (13 Read commands on an ATECC608A). A device that
 * has just read the record knows it already: hk_record_read_cached keeps
 * those few facts in a caller-owned hk_record_cache, and
 * hk_record_write_cached writes from them without reading (unless the read
 * needed only the newest copy: see hk_record_read_cached). The bytes
 * written are exactly those hk_record_write would write, so the torn-write
 * guarantee is the same.
 *
 * The rule that makes it safe: between the read that filled the cache and
 * the cached write, nothing else writes the record area (one owner of the
 * chip, e.g. the boot flow). Whoever cannot promise that uses
 * hk_record_write. A successful cached write moves the cache on (the next
 * write replaces the other copy); a failed one empties it, since the write
 * may have reached the chip whole: the next cached write then reads first,
 * as hk_record_write does. A zeroed cache is empty. 16 bytes of RAM.
 *
 * Both writes leave out zero padding that is zero on the chip already:
 * the new copy is sent up to the end of its text or of the replaced
 * copy's non-zero bytes (as read; the whole copy when not known), rounded
 * up to a 32-byte block, then its CRC; an assignment of typical length on
 * a cleared slot takes 3 to 6 chip Writes instead of 10. The slot ends
 * byte for byte as after a full write.
 */
typedef struct hk_record_cache {
    struct {
        uint32_t generation; /* of the next write */
        uint16_t target;     /* offset of the copy the next write replaces */
        uint8_t status;      /* 0 = empty: read before writing */
        bool legacy;         /* the legacy layout (bytes 0..67 kept) */
        bool version;        /* a copy of a newer version is there: no write */
        uint8_t used;        /* target copy: bytes up to its last non-zero one before the CRC */
    } _internal;
} hk_record_cache;

/* hk_record_read, and *cache filled from the same image when the whole
 * area was read (also when the result is HK_ERR_RECORD_EMPTY, _CORRUPT or
 * _VERSION, so a write can follow). Empty after a read decided by the
 * newest copy alone (the write has to know the other copy and reads the
 * area first) and when the area could not be read. */
HK_NODISCARD hk_result hk_record_read_cached(const hk_se *se, hk_record *out,
                                             hk_record_cache *cache);

/* hk_record_write with the slot facts from *cache (no read when it holds
 * them; read first when it is empty). Same arguments, results and bytes
 * written as hk_record_write; see the rule above. */
HK_NODISCARD hk_result hk_record_write_cached(const hk_se *se, hk_record_cache *cache,
                                              const char *hub_hostname, size_t hub_hostname_len,
                                              const char *device_id, size_t device_id_len,
                                              uint8_t user_flags);

/* Forget the assignment: writes a newer copy marked forgotten, so the next
 * read gives HK_ERR_RECORD_EMPTY. Legacy bytes 0..67 stay as they are. */
HK_NODISCARD hk_result hk_record_forget(const hk_se *se);

/* The pure core of hk_record_write/forget: update a 416-byte image in place
 * the way a write would (the older copy is replaced) and report the byte
 * range that changed, which is all a write has to send. flags may include
 * HK_RECORD_FLAG_FORGOTTEN, and then both strings must be empty (len 0).
 * Exposed for tests and the factory tool. */
HK_NODISCARD hk_result hk_record_image_update(uint8_t *image, size_t len, const char *hub_hostname,
                                              size_t hub_hostname_len, const char *device_id,
                                              size_t device_id_len, uint8_t flags,
                                              size_t *out_offset, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* HUBKEY_RECORD_H */
