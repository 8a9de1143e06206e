/*
 * The provisioning record: two copies, newest valid generation wins.
 *
 * Why two copies: the chip's data area is written block by block, and power
 * can fail between any two of them (or, as far as we know, in the middle of
 * one). A single copy could be left half old, half new. With two copies and
 * every write going to the older one, the copy holding the current
 * assignment is never touched; a torn write leaves one copy whose CRC fails
 * and the other (the previous assignment) still valid.
 *
 * Why 208-byte copies: 416 / 2. The two copies do not share any 4-byte word
 * (208 is a multiple of 4), which is the chip's smallest write unit. The
 * header and CRC take 14 bytes, which leaves 194 characters, enough for two
 * fields of 96 each.
 *
 * Why the legacy rules: the seed firmware stored its assignment in bytes
 * 0..67, and bytes 0..17 (the serial number in hex) feed that chip's
 * certificate. Such a chip keeps those bytes forever; the copies move to
 * bytes 68..411 (2 x 172, word-aligned), and the legacy assignment is what
 * reads back until a copy is written.
 *
 * Why a forgotten record is a copy and not an erase: erasing in place would
 * have the same torn-write problem; writing a newer copy marked forgotten
 * keeps the single-write rule.
 */
#include <string.h>

#include "common/hk_common.h"
#include "hubkey/record.h"

#define REC_MAGIC0 0x48u /* 'H' */
#define REC_MAGIC1 0x4Bu /* 'K' */
#define REC_VERSION 1u
#define REC_HEADER 10u
#define REC_CRC 4u
#define REC_COPY_SIZE 208u
#define REC_LEGACY_BASE 68u
#define REC_LEGACY_COPY_SIZE 172u
#define REC_LEGACY_SN_CHARS 18u
#define REC_LEGACY_HOST_OFFSET 20u

enum copy_state { COPY_NONE, COPY_TORN, COPY_VERSION, COPY_VALID };

/* What a read learns about the two copies. */
typedef struct rec_scan {
    uint8_t state[2];     /* enum copy_state of copy A, copy B */
    uint32_t generation[2];
    int best;             /* the newest valid copy (0, 1), or -1 */
    bool newest_version;  /* the newest copy with a good CRC is of an unknown version */
} rec_scan;

/* CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, init and final XOR
 * 0xFFFFFFFF). Bitwise: the record is small and code size matters more. */
static uint32_t rec_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static uint32_t rec_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void rec_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* p[0..text) printable (0x21..0x7E), p[text..size) zero. */
static bool rec_text_then_zeros(const uint8_t *p, size_t text, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (i < text ? (p[i] < 0x21u || p[i] > 0x7Eu) : p[i] != 0)
            return false;
    }
    return true;
}

/* The copies' layout: the legacy one keeps bytes 0..67. */
static size_t rec_base(bool legacy)
{
    return legacy ? REC_LEGACY_BASE : 0u;
}

static size_t rec_copy_size(bool legacy)
{
    return legacy ? REC_LEGACY_COPY_SIZE : REC_COPY_SIZE;
}

/* Legacy chip: bytes 0..17 lower-case hex, bytes 18..19 NUL. Decided by
 * these bytes alone, which are never written on such a chip, so the answer
 * cannot change after a write. Example: "0123a1b2c3d4e5f6ee" 00 00. */
static bool rec_is_legacy(const uint8_t *image)
{
    for (size_t i = 0; i < REC_LEGACY_SN_CHARS; i++) {
        uint8_t c = image[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return image[18] == 0 && image[19] == 0;
}

/* Classify one copy. A copy reads as valid only when magic, version, CRC,
 * lengths, characters, zero padding and flags are all right. */
static enum copy_state rec_copy_check(const uint8_t *c, size_t size)
{
    if (c[0] != REC_MAGIC0 || c[1] != REC_MAGIC1)
        return COPY_NONE;
    /* The framing (magic, version byte, generation at 4..7, CRC-32 in the
     * last 4 bytes) is the same for every version, so a torn copy is told
     * from a newer firmware's copy before the version is looked at. */
    size_t end = size - REC_CRC;
    if (rec_crc32(c, end) != rec_get_le32(c + end))
        return COPY_TORN;
    if (c[2] != REC_VERSION)
        return COPY_VERSION;
    size_t text_end = REC_HEADER + c[8] + (size_t)c[9];
    bool forgotten = (c[3] & HK_RECORD_FLAG_FORGOTTEN) != 0;
    if (text_end > end || (forgotten ? (text_end != REC_HEADER || (c[3] & HK_RECORD_FLAGS_USER_MASK) != 0)
                                     : (c[8] == 0 || c[9] == 0)))
        return COPY_TORN;
    return rec_text_then_zeros(c + REC_HEADER, text_end - REC_HEADER, end - REC_HEADER)
               ? COPY_VALID
               : COPY_TORN;
}

/* Serial-number arithmetic: a is newer than b when it is less than 2^31
 * ahead, so the generation may wrap around. */
static bool rec_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* The newest copy (0, 1) whose state is at least min, copy A on a tie;
 * -1 when there is none. */
static int rec_newest(const rec_scan *s, unsigned min)
{
    int best = -1;
    for (int i = 0; i < 2; i++)
        if (s->state[i] >= min && (best < 0 || rec_newer(s->generation[i], s->generation[best])))
            best = i;
    return best;
}

/* Check both copies of a slot image and find the newest valid one and
 * whether the newest one with a good CRC is of an unknown version. */
static void rec_scan_image(const uint8_t *image, bool legacy, rec_scan *s)
{
    size_t size = rec_copy_size(legacy);
    for (int i = 0; i < 2; i++) {
        const uint8_t *c = image + rec_base(legacy) + (size_t)i * size;
        s->state[i] = (uint8_t)rec_copy_check(c, size);
        s->generation[i] = rec_get_le32(c + 4);
    }
    s->best = rec_newest(s, COPY_VALID);
    int seen = rec_newest(s, COPY_VERSION);
    s->newest_version = seen >= 0 && s->state[seen] == COPY_VERSION;
}

/* The legacy assignment: host name in bytes 20..67, NUL-padded, at least
 * one character, no character after the first NUL. out is zeroed and only
 * written on HK_OK. Example:
 *   "0123a1b2c3d4e5f6ee" 00 00 "myhub.azure-devices.net" 00 ... 00 */
static hk_result rec_legacy_parse(const uint8_t *image, hk_record *out)
{
    const uint8_t *h = image + REC_LEGACY_HOST_OFFSET;
    size_t room = HK_RECORD_LEGACY_PRESERVED - REC_LEGACY_HOST_OFFSET;
    size_t n = 0;
    while (n < room && h[n] != 0)
        n++;
    if (n == 0)
        return HK_ERR_RECORD_EMPTY;
    if (!rec_text_then_zeros(h, n, room))
        return HK_ERR_RECORD_CORRUPT;
    memcpy(out->hub_hostname, h, n);
    out->hub_hostname_len = n;
    memcpy(out->device_id, image, REC_LEGACY_SN_CHARS);
    out->device_id_len = REC_LEGACY_SN_CHARS;
    out->from_legacy = true;
    return HK_OK;
}

hk_result hk_record_parse(const uint8_t *image, size_t len, hk_record *out)
{
    HK_REQUIRE(image != NULL && out != NULL);
    memset(out, 0, sizeof(*out)); /* also the text fields' NULs */
    if (len != HK_RECORD_AREA_SIZE)
        return HK_ERR_INVALID_ARG;
    bool legacy = rec_is_legacy(image);
    out->legacy_chip = legacy;
    rec_scan s;
    rec_scan_image(image, legacy, &s);

    /* The newest copy that carries the magic decides about versions: a
     * newer firmware's record is never silently rolled back. */
    if (s.newest_version)
        return HK_ERR_RECORD_VERSION;
    if (s.best >= 0) {
        const uint8_t *best = image + rec_base(legacy) + (size_t)s.best * rec_copy_size(legacy);
        if (best[3] & HK_RECORD_FLAG_FORGOTTEN)
            return HK_ERR_RECORD_EMPTY;
        size_t hl = best[8], dl = best[9];
        memcpy(out->hub_hostname, best + REC_HEADER, hl);
        out->hub_hostname_len = hl;
        memcpy(out->device_id, best + REC_HEADER + hl, dl);
        out->device_id_len = dl;
        out->generation = s.generation[s.best];
        out->flags = best[3];
        return HK_OK;
    }
    /* No valid copy. Two copies with the magic cannot come from one
     * interrupted write: that is damage. */
    if (s.state[0] == COPY_TORN && s.state[1] == COPY_TORN)
        return HK_ERR_RECORD_CORRUPT;
    return legacy ? rec_legacy_parse(image, out) : HK_ERR_RECORD_EMPTY;
}

enum { CACHE_EMPTY = 0, CACHE_READY = 1 };

/* What a write stores. host and dev are never NULL. */
typedef struct rec_text {
    const char *host;
    size_t host_len;
    const char *dev;
    size_t dev_len;
    uint8_t flags;
} rec_text;

/* Where the next write goes, decided from a slot image, kept as a cache
 * (the cache is exactly this plan): the copy that does not hold the newest
 * valid record, with the generation after it. version is set when a copy
 * of an unknown version is there (nothing may be written then). */
static void rec_plan_of(const uint8_t *image, hk_record_cache *plan)
{
    rec_scan s;
    bool legacy = rec_is_legacy(image);
    rec_scan_image(image, legacy, &s);
    plan->_internal.status = CACHE_READY;
    plan->_internal.legacy = legacy;
    plan->_internal.version = s.state[0] == COPY_VERSION || s.state[1] == COPY_VERSION;
    plan->_internal.target =
        (uint16_t)(rec_base(legacy) + (s.best == 0 ? rec_copy_size(legacy) : 0u));
    plan->_internal.generation = s.best >= 0 ? s.generation[s.best] + 1u : 1u;
    const uint8_t *c = image + plan->_internal.target;
    size_t used = rec_copy_size(legacy) - REC_CRC;
    while (used > 0 && c[used - 1] == 0)
        used--;
    plan->_internal.used = (uint8_t)used;
}

/* The checks of a write, in the order the API promises: malformed text,
 * then too long for the layout, then a newer version in the slot. */
static hk_result rec_write_check(const hk_record_cache *plan, const rec_text *t)
{
    HK_REQUIRE(t->host_len == 0 || t->host != NULL);
    HK_REQUIRE(t->dev_len == 0 || t->dev != NULL);
    /* The text usually comes from the network (a DPS response): checked
     * with ordinary code, never only by a precondition. */
    if ((t->flags & HK_RECORD_FLAG_FORGOTTEN) != 0) {
        HK_REQUIRE(t->host_len == 0 && t->dev_len == 0 &&
                   (t->flags & HK_RECORD_FLAGS_USER_MASK) == 0);
    } else if (t->host_len == 0 || t->dev_len == 0 ||
               !rec_text_then_zeros((const uint8_t *)t->host, t->host_len, t->host_len) ||
               !rec_text_then_zeros((const uint8_t *)t->dev, t->dev_len, t->dev_len)) {
        return HK_ERR_MALFORMED;
    }
    size_t text_max = rec_copy_size(plan->_internal.legacy) - REC_HEADER - REC_CRC;
    if (t->host_len > text_max || t->dev_len > text_max - t->host_len)
        return HK_ERR_RECORD_TOO_LONG;
    return plan->_internal.version ? HK_ERR_RECORD_VERSION : HK_OK;
}

/* Copy: 48 4B | version | flags | generation LE32 | hlen | dlen | host
 * | device ID | zeros | CRC-32 LE32. host and dev are never NULL. */
static void rec_copy_build(uint8_t *target, const hk_record_cache *plan, const rec_text *t)
{
    size_t size = rec_copy_size(plan->_internal.legacy);
    memset(target, 0, size);
    target[0] = REC_MAGIC0;
    target[1] = REC_MAGIC1;
    target[2] = REC_VERSION;
    target[3] = t->flags;
    rec_put_le32(target + 4, plan->_internal.generation);
    target[8] = (uint8_t)t->host_len;
    target[9] = (uint8_t)t->dev_len;
    memcpy(target + REC_HEADER, t->host, t->host_len);
    memcpy(target + REC_HEADER + t->host_len, t->dev, t->dev_len);
    rec_put_le32(target + size - REC_CRC, rec_crc32(target, size - REC_CRC));
}

hk_result hk_record_image_update(uint8_t *image, size_t len, const char *hub_hostname,
                                 size_t hub_hostname_len, const char *device_id,
                                 size_t device_id_len, uint8_t flags, size_t *out_offset,
                                 size_t *out_len)
{
    HK_REQUIRE(image != NULL && out_offset != NULL && out_len != NULL);
    HK_REQUIRE(len == HK_RECORD_AREA_SIZE);
    HK_REQUIRE(hub_hostname != NULL || hub_hostname_len == 0);
    HK_REQUIRE(device_id != NULL || device_id_len == 0);
    (void)len; /* only checked: the image size is fixed */
    hk_record_cache p;
    /* "" for an absent empty text: the copy's memcpy never sees NULL. */
    rec_text t = {hub_hostname != NULL ? hub_hostname : "", hub_hostname_len,
                  device_id != NULL ? device_id : "", device_id_len, flags};
    rec_plan_of(image, &p);
    HK_TRY(rec_write_check(&p, &t));
    rec_copy_build(image + p._internal.target, &p, &t);
    *out_offset = p._internal.target;
    *out_len = rec_copy_size(p._internal.legacy);
    return HK_OK;
}

/* The cache holds a plan whose target is one of the two copies. */
static bool rec_cache_sane(const hk_record_cache *cache)
{
    size_t base = rec_base(cache->_internal.legacy);
    size_t target = cache->_internal.target;
    return cache->_internal.status == CACHE_READY &&
           (target == base || target == base + rec_copy_size(cache->_internal.legacy));
}

/* Read the whole area into image; *cache (if any) emptied first, then
 * filled from the image. */
static hk_result rec_load(const hk_se *se, uint8_t image[HK_RECORD_AREA_SIZE],
                          hk_record_cache *cache)
{
    if (cache != NULL)
        memset(cache, 0, sizeof(*cache));
    if (se->data_size < HK_RECORD_AREA_SIZE)
        return HK_ERR_SE_CONFIG;
    HK_TRY(se->read_data(se->ctx, 0, image, HK_RECORD_AREA_SIZE));
    if (cache != NULL)
        rec_plan_of(image, cache);
    return HK_OK;
}

/* One write: the plan comes from the cache when it holds one, else from
 * the slot read now. Only the target copy is sent, built in a copy-sized
 * buffer. A failed write empties the cache: the write may have reached
 * the chip whole, and only a fresh read tells which copy is newest now.
 *
 * Zero padding that is already zero is not sent. A chip Write is 45 ms
 * at most, and a copy is mostly padding that is zero on the chip already
 * (the factory clears the slot, and an assignment leaves zeros behind its
 * text); writing all 208 bytes took 10 Writes where an assignment of
 * typical length needs 3 to 6. The plan knows how far the copy it replaces
 * held non-zero bytes before its CRC (used; unknown after a write of the
 * cache, then the whole copy). The write sends the copy from its start to
 * the further of that and the end of the new text, rounded up to the end
 * of a 32-byte block of the data area (within the copy; whole blocks are
 * one chip Write), then the CRC when that did not reach it. Every byte
 * left out is zero in the new copy and on the chip, so the slot ends
 * exactly as after a full write, and a write cut anywhere leaves what a
 * cut full write could have left: the torn-write argument is the same. */
static hk_result rec_store(const hk_se *se, hk_record_cache *cache, const rec_text *t)
{
    HK_REQUIRE(se != NULL && se->read_data != NULL && se->write_data != NULL);
    if (se->data_size < HK_RECORD_AREA_SIZE)
        return HK_ERR_SE_CONFIG;
    hk_record_cache local;
    hk_record_cache *p = cache;
    if (p == NULL) {
        p = &local;
        memset(p, 0, sizeof(*p));
    }
    if (!rec_cache_sane(p)) {
        uint8_t image[HK_RECORD_AREA_SIZE];
        HK_TRY(rec_load(se, image, p));
    }
    size_t base = rec_base(p->_internal.legacy), size = rec_copy_size(p->_internal.legacy);
    HK_TRY(rec_write_check(p, t));
    uint8_t copy[REC_COPY_SIZE];
    rec_copy_build(copy, p, t);
    size_t target = p->_internal.target;
    size_t end = REC_HEADER + t->host_len + t->dev_len;
    end = end > p->_internal.used ? end : p->_internal.used;
    end = ((target + end + 31u) & ~(size_t)31) - target;
    end = end < size ? end : size;
    hk_result r = se->write_data(se->ctx, target, copy, end);
    if (r == HK_OK && end < size)
        r = se->write_data(se->ctx, target + size - REC_CRC, copy + size - REC_CRC, REC_CRC);
    if (r == HK_OK) {
        /* The copy just written is the newest: the next write replaces
         * the other one, one generation on, whose bytes are not known. */
        p->_internal.target = (uint16_t)(target == base ? base + size : base);
        p->_internal.generation++;
        p->_internal.used = UINT8_MAX;
    } else {
        memset(p, 0, sizeof(*p));
    }
    return r;
}

/* Read part of the area into the image, rounded out to the chip's 32-byte
 * blocks (a block costs one chip Read however few of its bytes are asked
 * for, so the rest comes free). */
static hk_result rec_fetch(const hk_se *se, uint8_t *image, size_t from, size_t to)
{
    from &= ~(size_t)31;
    to = (to + 31u) & ~(size_t)31;
    return from < to ? se->read_data(se->ctx, from, image + from, to - from) : HK_OK;
}

/* The newest copy alone. Blocks 0 and 6 hold both headers (copy A at 0,
 * copy B at 208) and copy A's CRC; the copy whose header shows the magic
 * and the newer generation (A on a tie, as rec_newest) is read up to the
 * end of its text, and its CRC. The bytes not read stay zero in the image,
 * so the check below takes the copy's zero padding as zero and the CRC
 * vouches for it: a copy that is not the one a full read would find valid
 * passes only if its CRC matches bytes it does not hold, the 2^-32 a torn
 * copy has anyway. Then the newest copy is valid, and a valid newest copy
 * decides the read whatever the other holds (hk_record_parse of the full
 * image gives the same record). Anything else (a legacy chip, no copy with
 * the magic, the newest torn, forgotten or of a newer version) returns
 * false and the caller reads the rest. */
static bool rec_read_newest(const hk_se *se, uint8_t *image, hk_record *out, hk_result *r)
{
    *r = rec_fetch(se, image, 0, 32);
    if (*r == HK_OK)
        *r = rec_fetch(se, image, 192, 224);
    if (*r != HK_OK)
        return true;
    if (rec_is_legacy(image))
        return false;
    /* The states of this partial image count for their magic and
     * generation only: the newest copy with the magic. */
    rec_scan s;
    rec_scan_image(image, false, &s);
    int newest = rec_newest(&s, COPY_TORN);
    if (newest < 0)
        return false;
    size_t base = (size_t)newest * REC_COPY_SIZE;
    const uint8_t *c = image + base;
    size_t to = base + REC_HEADER + c[8] + (size_t)c[9];
    if (to > base + REC_COPY_SIZE - REC_CRC)
        return false;
    /* Copy A's CRC came with block 6; copy B's is in block 12, unless its
     * text reaches that far. */
    *r = rec_fetch(se, image, base + 32u, to);
    if (*r == HK_OK && base != 0 && to <= HK_RECORD_AREA_SIZE - 32u)
        *r = rec_fetch(se, image, HK_RECORD_AREA_SIZE - REC_CRC, HK_RECORD_AREA_SIZE);
    if (*r != HK_OK)
        return true;
    if (rec_copy_check(c, REC_COPY_SIZE) != COPY_VALID || (c[3] & HK_RECORD_FLAG_FORGOTTEN))
        return false;
    *r = hk_record_parse(image, HK_RECORD_AREA_SIZE, out);
    return true;
}

/* A read: the newest copy alone when that decides it (2 to 4 chip Reads
 * for an assignment of typical length instead of 13); otherwise the whole
 * area, exactly as before. After the short read the cache stays empty: a
 * write has to know the other copy (the one it replaces) and reads the
 * whole area first. All of it in one awake sequence of the chip. */
static hk_result rec_read(const hk_se *se, hk_record *out, hk_record_cache *cache)
{
    HK_REQUIRE(se != NULL && se->read_data != NULL && out != NULL);
    if (cache != NULL)
        memset(cache, 0, sizeof(*cache));
    if (se->data_size < HK_RECORD_AREA_SIZE)
        return HK_ERR_SE_CONFIG;
    uint8_t image[HK_RECORD_AREA_SIZE];
    memset(image, 0, sizeof(image));
    hk_result r;
    if (se->hold != NULL)
        se->hold(se->ctx, true);
    if (!rec_read_newest(se, image, out, &r)) {
        r = rec_fetch(se, image, 32, 192);
        if (r == HK_OK)
            r = rec_fetch(se, image, 224, HK_RECORD_AREA_SIZE);
        if (r == HK_OK) {
            if (cache != NULL)
                rec_plan_of(image, cache);
            r = hk_record_parse(image, sizeof(image), out);
        }
    }
    if (se->hold != NULL)
        se->hold(se->ctx, false);
    return r;
}

hk_result hk_record_read(const hk_se *se, hk_record *out)
{
    return rec_read(se, out, NULL);
}

hk_result hk_record_read_cached(const hk_se *se, hk_record *out, hk_record_cache *cache)
{
    HK_REQUIRE(cache != NULL);
    return rec_read(se, out, cache);
}

hk_result hk_record_write(const hk_se *se, const char *hub_hostname, size_t hub_hostname_len,
                          const char *device_id, size_t device_id_len, uint8_t user_flags)
{
    HK_REQUIRE(hub_hostname != NULL && device_id != NULL);
    HK_REQUIRE((user_flags & HK_RECORD_FLAG_FORGOTTEN) == 0);
    rec_text t = {hub_hostname, hub_hostname_len, device_id, device_id_len, user_flags};
    return rec_store(se, NULL, &t);
}

hk_result hk_record_write_cached(const hk_se *se, hk_record_cache *cache,
                                 const char *hub_hostname, size_t hub_hostname_len,
                                 const char *device_id, size_t device_id_len, uint8_t user_flags)
{
    HK_REQUIRE(cache != NULL && hub_hostname != NULL && device_id != NULL);
    HK_REQUIRE((user_flags & HK_RECORD_FLAG_FORGOTTEN) == 0);
    rec_text t = {hub_hostname, hub_hostname_len, device_id, device_id_len, user_flags};
    return rec_store(se, cache, &t);
}

hk_result hk_record_forget(const hk_se *se)
{
    static const rec_text forgotten = {"", 0, "", 0, HK_RECORD_FLAG_FORGOTTEN};
    return rec_store(se, NULL, &forgotten);
}
