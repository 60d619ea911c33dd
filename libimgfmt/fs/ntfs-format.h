/*
 * ntfs-format.h -- NTFS on-disk constants and the small pure decoders the
 * driver (fs/ntfs*.c) and its tests share.  Everything is little-endian;
 * nothing here does I/O.
 */
#ifndef IMGFMT_NTFS_FORMAT_H
#define IMGFMT_NTFS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"

/* Boot sector. */
#define NTFS_OEM_OFF          3
#define NTFS_BPS_OFF          11     /* u16 bytes per sector */
#define NTFS_SPC_OFF          13     /* u8 sectors per cluster (> 0x80: 2^(256-v)) */
#define NTFS_SECTORS_OFF      40     /* u64 sectors in the volume */
#define NTFS_MFT_LCN_OFF      48     /* u64 */
#define NTFS_MFTMIRR_LCN_OFF  56     /* u64 */
#define NTFS_REC_SIZE_OFF     64     /* s8 clusters per MFT record (< 0: 2^-v bytes) */
#define NTFS_IDX_SIZE_OFF     68     /* s8 clusters per index block, same rule */
#define NTFS_SERIAL_OFF       72     /* u64 volume serial number */

/* Well-known MFT records. */
#define NTFS_REC_MFT      0u
#define NTFS_REC_VOLUME   3u
#define NTFS_REC_ROOT     5u
#define NTFS_REC_UPCASE   10u
#define NTFS_FIRST_USER   16u  /* records below are metadata files (hidden) */

/* MFT record header. */
#define NTFS_REC_USA_OFF      4      /* u16 update sequence array offset */
#define NTFS_REC_USA_COUNT    6      /* u16 entries: 1 + number of strides */
#define NTFS_REC_SEQ          16     /* u16 sequence number */
#define NTFS_REC_LINKS        18     /* u16 */
#define NTFS_REC_ATTR_OFF     20     /* u16 first attribute */
#define NTFS_REC_FLAGS        22     /* u16 */
#define NTFS_REC_USED         24     /* u32 bytes in use */
#define NTFS_REC_ALLOC        28     /* u32 bytes allocated */
#define NTFS_REC_BASE         32     /* u64 base record reference (0: is a base) */
#define NTFS_REC_IN_USE       0x0001u
#define NTFS_REC_IS_DIR       0x0002u
#define NTFS_FIXUP_STRIDE     512u

/* Attribute types. */
#define NTFS_AT_STANDARD_INFO  0x10u
#define NTFS_AT_ATTR_LIST      0x20u
#define NTFS_AT_FILE_NAME      0x30u
#define NTFS_AT_VOLUME_NAME    0x60u
#define NTFS_AT_VOLUME_INFO    0x70u
#define NTFS_AT_DATA           0x80u
#define NTFS_AT_INDEX_ROOT     0x90u
#define NTFS_AT_INDEX_ALLOC    0xA0u
#define NTFS_AT_REPARSE        0xC0u
#define NTFS_AT_END            0xFFFFFFFFu

/* Attribute header flags. */
#define NTFS_ATTR_COMPRESSED   0x0001u
#define NTFS_ATTR_ENCRYPTED    0x4000u
#define NTFS_ATTR_SPARSE       0x8000u

/* File attribute bits ($STANDARD_INFORMATION 32, $FILE_NAME 56). */
#define NTFS_FA_SYSTEM         0x00000004u
#define NTFS_FA_REPARSE        0x00000400u
#define NTFS_FA_COMPRESSED     0x00000800u
#define NTFS_FA_ENCRYPTED      0x00004000u
#define NTFS_FA_DIRECTORY      0x10000000u  /* $FILE_NAME only: has an $I30 index */

/* $FILE_NAME value. */
#define NTFS_FN_PARENT         0
#define NTFS_FN_ATTRS          56
#define NTFS_FN_REPARSE_TAG    60
#define NTFS_FN_NAME_LEN       64   /* u8, UTF-16 units */
#define NTFS_FN_NAMESPACE      65
#define NTFS_FN_NAME           66
#define NTFS_NS_POSIX          0
#define NTFS_NS_WIN32          1
#define NTFS_NS_DOS            2    /* the 8.3 alias of a Win32 name: skipped */
#define NTFS_NS_WIN32_DOS      3

/* Index entries and nodes. */
#define NTFS_IE_SUBNODE        0x01u
#define NTFS_IE_LAST           0x02u
#define NTFS_INDX_VCN          16   /* u64 in an "INDX" block */
#define NTFS_INDX_NODE         24   /* node header in an "INDX" block */
#define NTFS_IR_NODE           16   /* node header in $INDEX_ROOT */
#define NTFS_COLLATION_FILENAME 1u

/* Reparse tags. */
#define NTFS_TAG_MOUNT_POINT   0xA0000003u
#define NTFS_TAG_SYMLINK       0xA000000Cu
#define NTFS_TAG_WOF           0x80000017u
#define NTFS_TAG_DEDUP         0x80000013u
#define NTFS_SYMLINK_RELATIVE  0x1u

/* $VOLUME_INFORMATION flags. */
#define NTFS_VOLUME_DIRTY      0x0001u

/* Windows FILETIME (100 ns units since 1601-01-01) to Unix seconds and
 * nanoseconds (floor division, so times before 1970 come out right). */
#define NTFS_EPOCH_DELTA 116444736000000000ll
static inline void ntfs_filetime(uint64_t ft, int64_t *sec, uint32_t *nsec)
{
    /* FILETIMEs beyond INT64_MAX are not meaningful: clamp. */
    int64_t t = ft > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ft;
    int64_t rel = t - NTFS_EPOCH_DELTA;   /* no overflow: t >= 0 */
    int64_t s = rel / 10000000, r = rel % 10000000;
    if (r < 0) {
        r += 10000000;
        s--;
    }
    *sec = s;
    *nsec = (uint32_t)r * 100u;
}

/* A size encoded as a signed byte: > 0 counts clusters, < 0 is 2^-v bytes.
 * Returns 0 when the value is not usable. */
static inline uint64_t ntfs_size_code(int8_t v, uint32_t cluster_size)
{
    if (v > 0)
        return (uint64_t)(uint8_t)v * cluster_size;
    if (v < 0 && v >= -31)
        return 1ull << -v;
    return 0;
}

/* Apply the update-sequence fix-ups of a multi-sector record (an MFT
 * record or an INDX block) of len bytes in place: the last two bytes of
 * every 512-byte stride must equal the sequence value and are restored
 * from the array.  Returns 0, -1 for a bad array, -2 for a mismatch (a
 * torn write) with the failing stride in *stride. */
static inline int ntfs_apply_fixups(uint8_t *b, size_t len, unsigned *stride)
{
    size_t usa = ifmt_le16(b + NTFS_REC_USA_OFF);
    size_t count = ifmt_le16(b + NTFS_REC_USA_COUNT);
    *stride = 0;
    if (len % NTFS_FIXUP_STRIDE || count != len / NTFS_FIXUP_STRIDE + 1 ||
        usa < 8 || usa % 2 || usa + 2 * count > len)
        return -1;
    uint16_t seq = ifmt_le16(b + usa);
    for (size_t i = 1; i < count; i++) {
        uint8_t *end = b + i * NTFS_FIXUP_STRIDE - 2;
        if (ifmt_le16(end) != seq) {
            *stride = (unsigned)i;
            return -2;
        }
        end[0] = b[usa + 2 * i];
        end[1] = b[usa + 2 * i + 1];
    }
    return 0;
}

#endif
