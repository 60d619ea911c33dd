/*
 * vhd.h -- VHD on-disk constants and decoders (docs/formats.md, VHD).
 * Pure functions on byte buffers, no I/O, so the unit tests can feed them
 * header arrays.  All VHD fields are big-endian.
 */
#ifndef IMGFMT_VHD_H
#define IMGFMT_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "imgfmt.h"

#define VHD_FOOTER_SIZE      512u
#define VHD_DYN_HEADER_SIZE  1024u
#define VHD_COOKIE           "conectix"
#define VHD_DYN_COOKIE       "cxsparse"

/* Hard disk footer field offsets. */
#define VHD_F_COOKIE         0
#define VHD_F_FEATURES       8
#define VHD_F_VERSION        12
#define VHD_F_DATA_OFFSET    16
#define VHD_F_TIMESTAMP      24
#define VHD_F_CREATOR_APP    28
#define VHD_F_CREATOR_VER    32
#define VHD_F_CREATOR_OS     36
#define VHD_F_ORIG_SIZE      40
#define VHD_F_CUR_SIZE       48
#define VHD_F_CYLINDERS      56
#define VHD_F_HEADS          58
#define VHD_F_SPT            59
#define VHD_F_DISK_TYPE      60
#define VHD_F_CHECKSUM       64
#define VHD_F_UUID           68
#define VHD_F_SAVED_STATE    84

/* Dynamic disk header field offsets. */
#define VHD_H_COOKIE         0
#define VHD_H_DATA_OFFSET    8
#define VHD_H_TABLE_OFFSET   16
#define VHD_H_VERSION        24
#define VHD_H_MAX_ENTRIES    28
#define VHD_H_BLOCK_SIZE     32
#define VHD_H_CHECKSUM       36
#define VHD_H_PARENT_UUID    40
#define VHD_H_PARENT_TS      56
#define VHD_H_PARENT_NAME    64     /* 512 bytes of UTF-16BE */
#define VHD_H_PARENT_NAME_LEN 512
#define VHD_H_LOCATORS       576    /* 8 entries of 24 bytes */
#define VHD_NLOCATORS        8
#define VHD_LOCATOR_SIZE     24

#define VHD_TYPE_FIXED        2u
#define VHD_TYPE_DYNAMIC      3u
#define VHD_TYPE_DIFFERENCING 4u

#define VHD_BAT_UNUSED       0xFFFFFFFFu
/* qemu refuses disks over this many sectors (2040 GiB) with EFBIG. */
#define VHD_MAX_SECTORS      0xFF000000ull
/* 65535 cylinders x 16 heads x 255 sectors: "the maximum geometry". */
#define VHD_MAX_GEOMETRY     (65535ull * 16 * 255)
/* qemu: max_table_entries must be <= INT_MAX / 4. */
#define VHD_MAX_TABLE_ENTRIES 0x1FFFFFFFu

/* Parent locator platform codes. */
#define VHD_PLAT_NONE        0x00000000u
#define VHD_PLAT_W2KU        0x57326B75u  /* "W2ku": absolute path, UTF-16LE */
#define VHD_PLAT_W2RU        0x57327275u  /* "W2ru": relative path, UTF-16LE */
#define VHD_PLAT_WI2R        0x57693272u  /* "Wi2r": deprecated */
#define VHD_PLAT_WI2K        0x5769326Bu  /* "Wi2k": deprecated */
#define VHD_PLAT_MACX        0x4D616358u  /* "MacX": file URL, UTF-8 */
#define VHD_PLAT_MAC         0x4D616320u  /* "Mac ": alias blob */

struct vhd_footer {
    bool cookie_ok;
    uint32_t features, version, timestamp;
    uint64_t data_offset;
    uint8_t creator_app[4];
    uint16_t creator_major, creator_minor;
    uint8_t creator_os[4];
    uint64_t original_size, current_size;
    uint16_t cylinders;
    uint8_t heads, spt;
    uint32_t disk_type;
    uint32_t checksum;          /* as stored */
    uint32_t computed_checksum; /* of the 512 bytes with the field zeroed */
    uint8_t uuid[16];
    uint8_t saved_state;
};

struct vhd_locator {
    uint32_t code;
    uint32_t data_space;
    uint32_t data_length;
    uint64_t data_offset;
};

struct vhd_dyn_header {
    bool cookie_ok;
    uint64_t data_offset;
    uint64_t table_offset;
    uint32_t version;
    uint32_t max_table_entries;
    uint32_t block_size;
    uint32_t checksum, computed_checksum;
    uint8_t parent_uuid[16];
    uint32_t parent_timestamp;
    struct vhd_locator loc[VHD_NLOCATORS];
};

/* The VHD checksum: one's complement of the byte sum, with the 4 checksum
 * bytes at csum_off counted as zero. */
static inline uint32_t vhd_checksum(const uint8_t *p, size_t len, size_t csum_off)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < csum_off || i >= csum_off + 4)
            sum += p[i];
    return ~sum;
}

static inline void vhd_footer_decode(const uint8_t *b, struct vhd_footer *f)
{
    memset(f, 0, sizeof *f);
    f->cookie_ok = memcmp(b + VHD_F_COOKIE, VHD_COOKIE, 8) == 0;
    f->features = ifmt_be32(b + VHD_F_FEATURES);
    f->version = ifmt_be32(b + VHD_F_VERSION);
    f->data_offset = ifmt_be64(b + VHD_F_DATA_OFFSET);
    f->timestamp = ifmt_be32(b + VHD_F_TIMESTAMP);
    memcpy(f->creator_app, b + VHD_F_CREATOR_APP, 4);
    f->creator_major = ifmt_be16(b + VHD_F_CREATOR_VER);
    f->creator_minor = ifmt_be16(b + VHD_F_CREATOR_VER + 2);
    memcpy(f->creator_os, b + VHD_F_CREATOR_OS, 4);
    f->original_size = ifmt_be64(b + VHD_F_ORIG_SIZE);
    f->current_size = ifmt_be64(b + VHD_F_CUR_SIZE);
    f->cylinders = ifmt_be16(b + VHD_F_CYLINDERS);
    f->heads = b[VHD_F_HEADS];
    f->spt = b[VHD_F_SPT];
    f->disk_type = ifmt_be32(b + VHD_F_DISK_TYPE);
    f->checksum = ifmt_be32(b + VHD_F_CHECKSUM);
    f->computed_checksum = vhd_checksum(b, VHD_FOOTER_SIZE, VHD_F_CHECKSUM);
    memcpy(f->uuid, b + VHD_F_UUID, 16);
    f->saved_state = b[VHD_F_SAVED_STATE];
}

static inline void vhd_dyn_header_decode(const uint8_t *b, struct vhd_dyn_header *h)
{
    memset(h, 0, sizeof *h);
    h->cookie_ok = memcmp(b + VHD_H_COOKIE, VHD_DYN_COOKIE, 8) == 0;
    h->data_offset = ifmt_be64(b + VHD_H_DATA_OFFSET);
    h->table_offset = ifmt_be64(b + VHD_H_TABLE_OFFSET);
    h->version = ifmt_be32(b + VHD_H_VERSION);
    h->max_table_entries = ifmt_be32(b + VHD_H_MAX_ENTRIES);
    h->block_size = ifmt_be32(b + VHD_H_BLOCK_SIZE);
    h->checksum = ifmt_be32(b + VHD_H_CHECKSUM);
    h->computed_checksum = vhd_checksum(b, VHD_DYN_HEADER_SIZE, VHD_H_CHECKSUM);
    memcpy(h->parent_uuid, b + VHD_H_PARENT_UUID, 16);
    h->parent_timestamp = ifmt_be32(b + VHD_H_PARENT_TS);
    for (unsigned i = 0; i < VHD_NLOCATORS; i++) {
        const uint8_t *l = b + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
        h->loc[i].code = ifmt_be32(l);
        h->loc[i].data_space = ifmt_be32(l + 4);
        h->loc[i].data_length = ifmt_be32(l + 8);
        h->loc[i].data_offset = ifmt_be64(l + 16);
    }
}

/* Bytes of the sector bitmap in front of each block, as qemu computes it:
 * round_up(block_size / 4096, 512), 512 bytes for 2 MiB blocks.  For blocks
 * under 4 KiB this is 0 (qemu then reads the bitmap as data); the data
 * offsets of dynamic disks follow qemu. */
static inline uint32_t vhd_bitmap_size(uint32_t block_size)
{
    return ((block_size / 4096u) + 511u) & ~511u;
}

/* The specification's size: one bit per sector, padded to a whole sector
 * (never 0).  Equal to vhd_bitmap_size() for blocks of 4 KiB and more; used
 * for differencing disks, whose bitmap we must read. */
static inline uint32_t vhd_bitmap_size_spec(uint32_t block_size)
{
    uint32_t bytes = (block_size / 512u + 7u) / 8u;
    return (bytes + 511u) & ~511u;
}

static inline bool vhd_app_is(const uint8_t app[4], const char *name4)
{
    return memcmp(app, name4, 4) == 0;
}

/* The sector count qemu uses as the disk size (docs/formats.md, VHD size rule), under a
 * rule.  *used_chs (may be NULL) says whether the CHS product was taken. */
static inline uint64_t vhd_total_sectors(const struct vhd_footer *f,
                                         enum imgfmt_vhd_size_rule rule, bool *used_chs)
{
    uint64_t chs = (uint64_t)f->cylinders * f->heads * f->spt;
    uint64_t cur = f->current_size / 512;
    bool use_chs;
    switch (rule) {
    case IMGFMT_VHD_RULE_QEMU10:
        /* qemu >= 10.0: only Virtual PC and qemu's own "qemu" use CHS. */
        use_chs = vhd_app_is(f->creator_app, "vpc ") || vhd_app_is(f->creator_app, "qemu");
        break;
    case IMGFMT_VHD_RULE_CHS:
        use_chs = true;
        break;
    case IMGFMT_VHD_RULE_CURRENT_SIZE:
        use_chs = false;
        break;
    case IMGFMT_VHD_RULE_QEMU_LEGACY:
    default:
        /* qemu 2.x .. 9.2: every app except these uses CHS.  "tap\0" is
         * compared with its NUL, so "tap " uses CHS. */
        use_chs = !(vhd_app_is(f->creator_app, "win ") ||
                    vhd_app_is(f->creator_app, "qem2") ||
                    vhd_app_is(f->creator_app, "d2v ") ||
                    vhd_app_is(f->creator_app, "CTXS") ||
                    vhd_app_is(f->creator_app, "tap\0"));
        break;
    }
    /* The maximum geometry cannot describe the disk: current_size wins even
     * when CHS is forced. */
    if (chs == VHD_MAX_GEOMETRY)
        use_chs = false;
    if (used_chs)
        *used_chs = use_chs;
    return use_chs ? chs : cur;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (bytes in stored order). */
static inline void vhd_uuid_str(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 15];
    }
    *p = '\0';
}

/* Append code point cp as UTF-8 to out (capacity cap, position *n); false if
 * it does not fit. */
static inline bool vhd_put_utf8(char *out, size_t cap, size_t *n, uint32_t cp)
{
    uint8_t b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (*n + k >= cap)
        return false;
    memcpy(out + *n, b, k);
    *n += k;
    return true;
}

/* UTF-16 (big-endian if be, else little-endian) of len bytes into NUL-
 * terminated UTF-8; stops at a NUL code unit.  Returns the UTF-8 length,
 * or -1 on a lone surrogate, a NUL-free overlong result, or an odd length
 * with content. */
static inline long vhd_utf16_to_utf8(const uint8_t *p, size_t len, bool be, char *out,
                                     size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return -1;
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint32_t u = be ? ifmt_be16(p + i) : ifmt_le16(p + i);
        if (u == 0)
            break;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 3 >= len)
                return -1;
            uint32_t lo = be ? ifmt_be16(p + i + 2) : ifmt_le16(p + i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return -1;
        }
        if (!vhd_put_utf8(out, cap, &n, u))
            return -1;
    }
    out[n] = '\0';
    return (long)n;
}

/* Platform code as 4 printable characters. */
static inline void vhd_code_str(uint32_t code, char out[5])
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = (uint8_t)(code >> (24 - 8 * i));
        out[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    out[4] = '\0';
}

/* The geometry qemu-img create (and the VHD spec) derives from a sector
 * count, capped at the maximum geometry (docs/formats.md, VHD create rounding). */
static inline void vhd_geometry(uint64_t sectors, uint16_t *cyl, uint8_t *heads,
                                uint8_t *spt)
{
    uint64_t cth, h, s;
    if (sectors > VHD_MAX_GEOMETRY)
        sectors = VHD_MAX_GEOMETRY;
    if (sectors >= 65535ull * 16 * 63) {
        s = 255;
        h = 16;
        cth = sectors / s;
    } else {
        s = 17;
        cth = sectors / s;
        h = (cth + 1023) / 1024;
        if (h < 4)
            h = 4;
        if (cth >= h * 1024 || h > 16) {
            s = 31;
            h = 16;
            cth = sectors / s;
        }
        if (cth >= h * 1024) {
            s = 63;
            h = 16;
            cth = sectors / s;
        }
    }
    *cyl = (uint16_t)(cth / h);
    *heads = (uint8_t)h;
    *spt = (uint8_t)s;
}

#endif
