/*
 * xfs-format.h -- XFS on-disk constants and pure decoders (no I/O).
 * Everything on disk is big-endian except the CRC fields.  Offsets are
 * in bytes from the start of the structure named in each group.
 */
#ifndef IMGFMT_XFS_FORMAT_H
#define IMGFMT_XFS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"

/* Superblock (sector 0 of AG 0, a copy at the start of every AG). */
#define XFS_SB_MAGIC           0x58465342u   /* "XFSB" */
#define XFS_SB_BLOCKSIZE       4
#define XFS_SB_DBLOCKS         8
#define XFS_SB_UUID            32
#define XFS_SB_LOGSTART        48
#define XFS_SB_ROOTINO         56
#define XFS_SB_AGBLOCKS        84
#define XFS_SB_AGCOUNT         88
#define XFS_SB_LOGBLOCKS       96
#define XFS_SB_VERSIONNUM      100
#define XFS_SB_SECTSIZE        102
#define XFS_SB_INODESIZE       104
#define XFS_SB_INOPBLOCK       106
#define XFS_SB_FNAME           108   /* 12 bytes, NUL-padded */
#define XFS_SB_BLOCKLOG        120
#define XFS_SB_INODELOG        122
#define XFS_SB_INOPBLOG        123
#define XFS_SB_AGBLKLOG        124
#define XFS_SB_DIRBLKLOG       192
#define XFS_SB_FEATURES2       200
#define XFS_SB_BAD_FEATURES2   204
#define XFS_SB_FEAT_INCOMPAT   216
#define XFS_SB_V5_SIZE         264   /* bytes we read of a v5 superblock */

#define XFS_SB_VERSION_NUMBITS 0x000fu
#define XFS_SB_VERSION_NLINKBIT 0x0020u
#define XFS_SB_VERSION_DIRV2BIT 0x2000u
#define XFS_SB_VERSION_BORGBIT  0x4000u   /* ASCII case-insensitive names */
#define XFS_SB_VERSION_MOREBITS 0x8000u

#define XFS_FEAT2_FTYPE        0x00000200u

#define XFS_INCOMPAT_FTYPE     0x01u
#define XFS_INCOMPAT_SPINODES  0x02u
#define XFS_INCOMPAT_META_UUID 0x04u
#define XFS_INCOMPAT_BIGTIME   0x08u
#define XFS_INCOMPAT_NEEDSREPAIR 0x10u
#define XFS_INCOMPAT_NREXT64   0x20u
#define XFS_INCOMPAT_EXCHRANGE 0x40u
#define XFS_INCOMPAT_PARENT    0x80u
#define XFS_INCOMPAT_METADIR   0x100u
#define XFS_INCOMPAT_ZONED     0x200u
/* What this reader understands: data layouts unchanged by the others. */
#define XFS_INCOMPAT_KNOWN (XFS_INCOMPAT_FTYPE | XFS_INCOMPAT_SPINODES | \
                            XFS_INCOMPAT_META_UUID | XFS_INCOMPAT_BIGTIME | \
                            XFS_INCOMPAT_NREXT64 | XFS_INCOMPAT_EXCHRANGE | \
                            XFS_INCOMPAT_PARENT)

/* AG free-space header (sector 1 of each AG). */
#define XFS_AGF_MAGIC          0x58414746u   /* "XAGF" */
#define XFS_AGF_SEQNO          8
#define XFS_AGF_LENGTH         12

/* Inode core. */
#define XFS_DINODE_MAGIC       0x494eu       /* "IN" */
#define XFS_DI_MODE            2
#define XFS_DI_VERSION         4
#define XFS_DI_FORMAT          5
#define XFS_DI_ONLINK          6
#define XFS_DI_UID             8
#define XFS_DI_GID             12
#define XFS_DI_NLINK           16
#define XFS_DI_BIG_NEXTENTS    24
#define XFS_DI_ATIME           32
#define XFS_DI_MTIME           40
#define XFS_DI_CTIME           48
#define XFS_DI_SIZE            56
#define XFS_DI_NBLOCKS         64
#define XFS_DI_NEXTENTS        76
#define XFS_DI_FORKOFF         82
#define XFS_DI_FLAGS           90
#define XFS_DI_FLAGS2          120
#define XFS_DI_CRTIME          144
#define XFS_DI_INO             152
#define XFS_DI_LITERAL_V2      100
#define XFS_DI_LITERAL_V3      176

#define XFS_DIFLAG_REALTIME    0x0001u
#define XFS_DIFLAG2_BIGTIME    (1ull << 3)
#define XFS_DIFLAG2_NREXT64    (1ull << 4)

enum xfs_fork_format {
    XFS_FMT_DEV = 0, XFS_FMT_LOCAL = 1, XFS_FMT_EXTENTS = 2, XFS_FMT_BTREE = 3
};

/* Block-map B+ tree blocks ("BMAP" v4, "BMA3" v5). */
#define XFS_BMAP_MAGIC         0x424d4150u
#define XFS_BMAP_CRC_MAGIC     0x424d4133u
#define XFS_BMBT_HDR_V4        24
#define XFS_BMBT_HDR_V5        72
#define XFS_BMBT_MAX_DEPTH     16

/* Directories. */
#define XFS_DIR2_BLOCK_MAGIC   0x58443242u   /* "XD2B" */
#define XFS_DIR2_DATA_MAGIC    0x58443244u   /* "XD2D" */
#define XFS_DIR3_BLOCK_MAGIC   0x58444233u   /* "XDB3" */
#define XFS_DIR3_DATA_MAGIC    0x58444433u   /* "XDD3" */
#define XFS_DIR2_DATA_HDR_V4   16
#define XFS_DIR2_DATA_HDR_V5   64
#define XFS_DIR2_LEAF_OFFSET   (1ull << 35)  /* data blocks lie below 32 GiB */
#define XFS_DIR2_FREE_TAG      0xffffu
#define XFS_DIR2_LEAF1_MAGIC   0xd2f1u
#define XFS_DIR3_LEAF1_MAGIC   0x3df1u
#define XFS_DIR2_LEAFN_MAGIC   0xd2ffu
#define XFS_DIR3_LEAFN_MAGIC   0x3dffu
#define XFS_DA_NODE_MAGIC      0xfebeu
#define XFS_DA3_NODE_MAGIC     0x3ebeu
#define XFS_DA_HDR_V4          16            /* blkinfo 12 + count + level/stale */
#define XFS_DA_HDR_V5          64
#define XFS_DA_MAX_DEPTH       8

/* Remote symlink blocks (v5 header "XSLM"). */
#define XFS_SYMLINK_MAGIC      0x58534c4du
#define XFS_SYMLINK_HDR_V5     56
#define XFS_SYMLINK_MAXLEN     1024u

/* Log records. */
#define XLOG_HEADER_MAGIC      0xfeedbabeu
#define XLOG_UNMOUNT_TRANS     0x20u
#define XLOG_HEADER_CYCLE_SIZE 32768u

/* Seconds between 1901-12-13 (bigtime 0) and the Unix epoch. */
#define XFS_BIGTIME_EPOCH_OFFSET 2147483648ll

/* One data-fork extent, unpacked from its 16-byte record. */
struct xfs_extent {
    uint64_t offset;      /* logical file block */
    uint64_t block;       /* fsblock: agno << agblklog | agbno */
    uint32_t count;       /* blocks */
    bool unwritten;       /* preallocated: reads as zeros */
};

static inline void xfs_extent_unpack(const uint8_t *rec, struct xfs_extent *e)
{
    uint64_t l0 = ifmt_be64(rec), l1 = ifmt_be64(rec + 8);
    e->unwritten = (l0 >> 63) != 0;
    e->offset = (l0 & ~(1ull << 63)) >> 9;
    e->block = (l0 & 0x1ffu) << 43 | l1 >> 21;
    e->count = (uint32_t)(l1 & 0x1fffffu);
}

/* The name hash of directory lookups (leaf and node entries are sorted by it). */
static inline uint32_t xfs_rol32(uint32_t v, unsigned s)
{
    return v << s | v >> (32 - s);
}

static inline uint32_t xfs_da_hashname(const uint8_t *name, size_t len)
{
    uint32_t h = 0;
    for (; len >= 4; len -= 4, name += 4)
        h = (uint32_t)name[0] << 21 ^ (uint32_t)name[1] << 14 ^ (uint32_t)name[2] << 7 ^
            name[3] ^ xfs_rol32(h, 28);
    switch (len) {
    case 3: return (uint32_t)name[0] << 14 ^ (uint32_t)name[1] << 7 ^ name[2] ^ xfs_rol32(h, 21);
    case 2: return (uint32_t)name[0] << 7 ^ name[1] ^ xfs_rol32(h, 14);
    case 1: return name[0] ^ xfs_rol32(h, 7);
    default: return h;
    }
}

/* A timestamp: legacy (s32 seconds, u32 ns) or big-time (u64 ns since 1901). */
static inline void xfs_timestamp(const uint8_t *p, bool bigtime, int64_t *sec, uint32_t *nsec)
{
    if (bigtime) {
        uint64_t ns = ifmt_be64(p);
        *sec = (int64_t)(ns / 1000000000u) - XFS_BIGTIME_EPOCH_OFFSET;
        *nsec = (uint32_t)(ns % 1000000000u);
    } else {
        *sec = (int32_t)ifmt_be32(p);
        *nsec = ifmt_be32(p + 4);
    }
}

/* Size of a data-block entry of name length n (8-aligned). */
static inline size_t xfs_dir_entry_size(size_t n, bool ftype)
{
    return (8 + 1 + n + (ftype ? 1u : 0u) + 2 + 7) & ~(size_t)7;
}

#endif
