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

typedef struct copy_info {
    enum copy_state state;
    uint32_t generation;
} copy_info;

typedef struct layout {
    size_t base;
    size_t copy_size;
    bool legacy;
} layout;

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
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static bool rec_text_char_ok(uint8_t c)
{
    return c >= 0x21u && c <= 0x7Eu;
}

static bool rec_text_ok(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!rec_text_char_ok(p[i]))
            return false;
    return true;
}

static bool rec_hex_lower(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Legacy chip: bytes 0..17 lower-case hex, bytes 18..19 NUL. Decided by
 * these bytes alone, which are never written on such a chip, so the answer
 * cannot change after a write. Example: "0123a1b2c3d4e5f6ee" 00 00. */
static bool rec_is_legacy(const uint8_t *image)
{
    for (size_t i = 0; i < REC_LEGACY_SN_CHARS; i++)
        if (!rec_hex_lower(image[i]))
            return false;
    return image[18] == 0 && image[19] == 0;
}

static layout rec_layout(const uint8_t *image)
{
    layout l;
    l.legacy = rec_is_legacy(image);
    l.base = l.legacy ? REC_LEGACY_BASE : 0u;
    l.copy_size = l.legacy ? REC_LEGACY_COPY_SIZE : REC_COPY_SIZE;
    return l;
}

/* Classify one copy. A copy reads as valid only when magic, version, CRC,
 * lengths, characters, zero padding and flags are all right. */
static copy_info rec_copy_check(const uint8_t *c, size_t size)
{
    copy_info info = {COPY_NONE, 0};
    if (c[0] != REC_MAGIC0 || c[1] != REC_MAGIC1)
        return info;
    info.generation = rec_get_le32(c + 4);
    info.state = COPY_TORN;
    /* The framing (magic, version byte, generation at 4..7, CRC-32 in the
     * last 4 bytes) is the same for every version, so a torn copy is told
     * from a newer firmware's copy before the version is looked at. */
    if (rec_crc32(c, size - REC_CRC) != rec_get_le32(c + size - REC_CRC))
        return info;
    if (c[2] != REC_VERSION) {
        info.state = COPY_VERSION;
        return info;
    }
    size_t hl = c[8], dl = c[9];
    size_t text_max = size - REC_HEADER - REC_CRC;
    if (hl + dl > text_max)
        return info;
    bool forgotten = (c[3] & HK_RECORD_FLAG_FORGOTTEN) != 0;
    if (forgotten ? (hl != 0 || dl != 0 || (c[3] & HK_RECORD_FLAGS_USER_MASK) != 0)
                  : (hl == 0 || dl == 0))
        return info;
    if (!rec_text_ok(c + REC_HEADER, hl + dl))
        return info;
    for (size_t i = REC_HEADER + hl + dl; i < size - REC_CRC; i++)
        if (c[i] != 0)
            return info;
    info.state = COPY_VALID;
    return info;
}

/* Serial-number arithmetic: a is newer than b when it is less than 2^31
 * ahead, so the generation may wrap around. */
static bool rec_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static void rec_copy_text(char *dst, const uint8_t *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The legacy assignment: host name in bytes 20..67, NUL-padded, at least
 * one character, no character after the first NUL. Example:
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
    if (!rec_text_ok(h, n))
        return HK_ERR_RECORD_CORRUPT;
    for (size_t i = n; i < room; i++)
        if (h[i] != 0)
            return HK_ERR_RECORD_CORRUPT;
    rec_copy_text(out->hub_hostname, h, n);
    out->hub_hostname_len = n;
    rec_copy_text(out->device_id, image, REC_LEGACY_SN_CHARS);
    out->device_id_len = REC_LEGACY_SN_CHARS;
    out->generation = 0;
    out->flags = 0;
    out->from_legacy = true;
    return HK_OK;
}

hk_result hk_record_parse(const uint8_t *image, size_t len, hk_record *out)
{
    HK_REQUIRE(image != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (len != HK_RECORD_AREA_SIZE)
        return HK_ERR_INVALID_ARG;
    layout l = rec_layout(image);
    out->legacy_chip = l.legacy;

    const uint8_t *ca = image + l.base;
    const uint8_t *cb = ca + l.copy_size;
    copy_info a = rec_copy_check(ca, l.copy_size);
    copy_info b = rec_copy_check(cb, l.copy_size);

    /* The newest copy that carries the magic decides about versions: a
     * newer firmware's record is never silently rolled back. */
    const copy_info *newest_seen = NULL;
    if (a.state != COPY_NONE && a.state != COPY_TORN)
        newest_seen = &a;
    if (b.state != COPY_NONE && b.state != COPY_TORN &&
        (newest_seen == NULL || rec_newer(b.generation, newest_seen->generation)))
        newest_seen = &b;
    if (newest_seen != NULL && newest_seen->state == COPY_VERSION)
        return HK_ERR_RECORD_VERSION;

    const uint8_t *best = NULL;
    uint32_t gen = 0;
    if (a.state == COPY_VALID) {
        best = ca;
        gen = a.generation;
    }
    if (b.state == COPY_VALID && (best == NULL || rec_newer(b.generation, gen))) {
        best = cb;
        gen = b.generation;
    }
    if (best != NULL) {
        if (best[3] & HK_RECORD_FLAG_FORGOTTEN) {
            memset(out, 0, sizeof(*out));
            out->legacy_chip = l.legacy;
            return HK_ERR_RECORD_EMPTY;
        }
        size_t hl = best[8], dl = best[9];
        rec_copy_text(out->hub_hostname, best + REC_HEADER, hl);
        out->hub_hostname_len = hl;
        rec_copy_text(out->device_id, best + REC_HEADER + hl, dl);
        out->device_id_len = dl;
        out->generation = gen;
        out->flags = best[3];
        return HK_OK;
    }
    /* No valid copy. Two copies with the magic cannot come from one
     * interrupted write: that is damage. */
    if (a.state == COPY_TORN && b.state == COPY_TORN)
        return HK_ERR_RECORD_CORRUPT;
    if (l.legacy) {
        hk_result r = rec_legacy_parse(image, out);
        if (r != HK_OK) {
            memset(out, 0, sizeof(*out));
            out->legacy_chip = true;
        }
        return r;
    }
    return HK_ERR_RECORD_EMPTY;
}

/* Where the next write goes, decided from a slot image: the copy that does
 * not hold the newest valid record, with the generation after it. version
 * is set when a copy of an unknown version is there (nothing may be
 * written then). */
typedef struct rec_plan {
    layout l;
    size_t target; /* offset of the copy to replace */
    uint32_t generation;
    bool version;
} rec_plan;

static rec_plan rec_plan_of(const uint8_t *image)
{
    rec_plan p;
    p.l = rec_layout(image);
    const uint8_t *ca = image + p.l.base;
    const uint8_t *cb = ca + p.l.copy_size;
    copy_info a = rec_copy_check(ca, p.l.copy_size);
    copy_info b = rec_copy_check(cb, p.l.copy_size);
    p.version = a.state == COPY_VERSION || b.state == COPY_VERSION;
    size_t off_a = p.l.base, off_b = p.l.base + p.l.copy_size;
    if (a.state == COPY_VALID && b.state == COPY_VALID) {
        bool b_newer = rec_newer(b.generation, a.generation);
        p.target = b_newer ? off_a : off_b;
        p.generation = (b_newer ? b.generation : a.generation) + 1u;
    } else if (a.state == COPY_VALID) {
        p.target = off_b;
        p.generation = a.generation + 1u;
    } else if (b.state == COPY_VALID) {
        p.target = off_a;
        p.generation = b.generation + 1u;
    } else {
        p.target = off_a;
        p.generation = 1u;
    }
    return p;
}

/* The text checks of a write, in the order the API promises: malformed
 * text, then too long for the layout. */
static hk_result rec_text_check(const layout *l, const char *host, size_t host_len,
                                const char *dev, size_t dev_len, uint8_t flags)
{
    HK_REQUIRE(host_len == 0 || host != NULL);
    HK_REQUIRE(dev_len == 0 || dev != NULL);
    /* The text usually comes from the network (a DPS response): checked
     * with ordinary code, never only by a precondition. */
    if ((flags & HK_RECORD_FLAG_FORGOTTEN) != 0) {
        HK_REQUIRE(host_len == 0 && dev_len == 0 && (flags & HK_RECORD_FLAGS_USER_MASK) == 0);
    } else if (host_len == 0 || dev_len == 0 || !rec_text_ok((const uint8_t *)host, host_len) ||
               !rec_text_ok((const uint8_t *)dev, dev_len)) {
        return HK_ERR_MALFORMED;
    }
    size_t text_max = l->copy_size - REC_HEADER - REC_CRC;
    if (host_len > text_max || dev_len > text_max || host_len + dev_len > text_max)
        return HK_ERR_RECORD_TOO_LONG;
    return HK_OK;
}

/* Copy: 48 4B | version | flags | generation LE32 | hlen | dlen | host
 * | device ID | zeros | CRC-32 LE32 */
static void rec_copy_build(uint8_t *target, size_t size, uint32_t gen, uint8_t flags,
                           const char *host, size_t host_len, const char *dev, size_t dev_len)
{
    memset(target, 0, size);
    target[0] = REC_MAGIC0;
    target[1] = REC_MAGIC1;
    target[2] = REC_VERSION;
    target[3] = flags;
    rec_put_le32(target + 4, gen);
    target[8] = (uint8_t)host_len;
    target[9] = (uint8_t)dev_len;
    if (host_len > 0)
        memcpy(target + REC_HEADER, host, host_len);
    if (dev_len > 0)
        memcpy(target + REC_HEADER + host_len, dev, dev_len);
    rec_put_le32(target + size - REC_CRC, rec_crc32(target, size - REC_CRC));
}

hk_result hk_record_image_update(uint8_t *image, size_t len, const char *hub_hostname,
                                 size_t hub_hostname_len, const char *device_id,
                                 size_t device_id_len, uint8_t flags, size_t *out_offset,
                                 size_t *out_len)
{
    HK_REQUIRE(image != NULL && out_offset != NULL && out_len != NULL);
    HK_REQUIRE(len == HK_RECORD_AREA_SIZE);
    (void)len; /* only checked: the image size is fixed */
    rec_plan p = rec_plan_of(image);
    HK_TRY(rec_text_check(&p.l, hub_hostname, hub_hostname_len, device_id, device_id_len, flags));
    if (p.version)
        return HK_ERR_RECORD_VERSION;
    rec_copy_build(image + p.target, p.l.copy_size, p.generation, flags, hub_hostname,
                   hub_hostname_len, device_id, device_id_len);
    *out_offset = p.target;
    *out_len = p.l.copy_size;
    return HK_OK;
}

enum { CACHE_EMPTY = 0, CACHE_READY = 1 };

static void rec_cache_set(hk_record_cache *cache, const rec_plan *p)
{
    cache->_internal.status = CACHE_READY;
    cache->_internal.legacy = p->l.legacy;
    cache->_internal.version = p->version;
    cache->_internal.target = (uint16_t)p->target;
    cache->_internal.generation = p->generation;
}

static rec_plan rec_cache_plan(const hk_record_cache *cache)
{
    rec_plan p;
    p.l.legacy = cache->_internal.legacy;
    p.l.base = p.l.legacy ? REC_LEGACY_BASE : 0u;
    p.l.copy_size = p.l.legacy ? REC_LEGACY_COPY_SIZE : REC_COPY_SIZE;
    p.target = cache->_internal.target;
    p.generation = cache->_internal.generation;
    p.version = cache->_internal.version;
    return p;
}

static bool rec_cache_sane(const hk_record_cache *cache)
{
    if (cache->_internal.status != CACHE_READY)
        return false;
    size_t base = cache->_internal.legacy ? REC_LEGACY_BASE : 0u;
    size_t size = cache->_internal.legacy ? REC_LEGACY_COPY_SIZE : REC_COPY_SIZE;
    return cache->_internal.target == base || cache->_internal.target == base + size;
}

/* One write: the plan comes from the cache when it holds one, else from
 * the slot read now. Only the target copy is sent, built in a copy-sized
 * buffer. A failed write empties the cache: the write may have reached
 * the chip whole, and only a fresh read tells which copy is newest now. */
static hk_result rec_store(const hk_se *se, hk_record_cache *cache, const char *host,
                           size_t host_len, const char *dev, size_t dev_len, uint8_t flags)
{
    HK_REQUIRE(se != NULL && se->read_data != NULL && se->write_data != NULL);
    if (se->data_size < HK_RECORD_AREA_SIZE)
        return HK_ERR_SE_CONFIG;
    rec_plan p;
    if (cache != NULL && rec_cache_sane(cache)) {
        p = rec_cache_plan(cache);
    } else {
        uint8_t image[HK_RECORD_AREA_SIZE];
        if (cache != NULL)
            memset(cache, 0, sizeof(*cache));
        HK_TRY(se->read_data(se->ctx, 0, image, sizeof(image)));
        p = rec_plan_of(image);
        if (cache != NULL)
            rec_cache_set(cache, &p);
    }
    HK_TRY(rec_text_check(&p.l, host, host_len, dev, dev_len, flags));
    if (p.version)
        return HK_ERR_RECORD_VERSION;
    uint8_t copy[REC_COPY_SIZE];
    rec_copy_build(copy, p.l.copy_size, p.generation, flags, host, host_len, dev, dev_len);
    hk_result r = se->write_data(se->ctx, p.target, copy, p.l.copy_size);
    if (cache != NULL) {
        if (r == HK_OK) {
            /* The copy just written is the newest: the next write replaces
             * the other one, one generation on. */
            size_t a = p.l.base, b = p.l.base + p.l.copy_size;
            p.target = p.target == a ? b : a;
            p.generation++;
            rec_cache_set(cache, &p);
        } else {
            memset(cache, 0, sizeof(*cache));
        }
    }
    return r;
}

static hk_result rec_read(const hk_se *se, hk_record *out, hk_record_cache *cache)
{
    HK_REQUIRE(se != NULL && se->read_data != NULL && out != NULL);
    if (cache != NULL)
        memset(cache, 0, sizeof(*cache));
    if (se->data_size < HK_RECORD_AREA_SIZE)
        return HK_ERR_SE_CONFIG;
    uint8_t image[HK_RECORD_AREA_SIZE];
    HK_TRY(se->read_data(se->ctx, 0, image, sizeof(image)));
    if (cache != NULL) {
        rec_plan p = rec_plan_of(image);
        rec_cache_set(cache, &p);
    }
    return hk_record_parse(image, sizeof(image), out);
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
    return rec_store(se, NULL, hub_hostname, hub_hostname_len, device_id, device_id_len,
                     user_flags);
}

hk_result hk_record_write_cached(const hk_se *se, hk_record_cache *cache,
                                 const char *hub_hostname, size_t hub_hostname_len,
                                 const char *device_id, size_t device_id_len, uint8_t user_flags)
{
    HK_REQUIRE(cache != NULL && hub_hostname != NULL && device_id != NULL);
    HK_REQUIRE((user_flags & HK_RECORD_FLAG_FORGOTTEN) == 0);
    return rec_store(se, cache, hub_hostname, hub_hostname_len, device_id, device_id_len,
                     user_flags);
}

hk_result hk_record_forget(const hk_se *se)
{
    return rec_store(se, NULL, NULL, 0, NULL, 0, HK_RECORD_FLAG_FORGOTTEN);
}
