/*
 * ext4-format.h -- on-disk constants of ext2/3/4 and small pure decoders
 * (no I/O).  Everything is little-endian; offsets are bytes from the start
 * of the structure named in the prefix.
 */
#ifndef IMGFMT_EXT4_FORMAT_H
#define IMGFMT_EXT4_FORMAT_H

#include <stdint.h>

#include "core/bytes.h"

#define EXT4_SB_OFFSET 1024u   /* the superblock: byte 1024 of the volume */
#define EXT4_SB_SIZE   1024u
#define EXT4_MAGIC     0xEF53u

/* Superblock fields. */
#define EXT4_SB_INODES_COUNT     0x00
#define EXT4_SB_BLOCKS_LO        0x04
#define EXT4_SB_FIRST_DATA_BLOCK 0x14
#define EXT4_SB_LOG_BLOCK_SIZE   0x18
#define EXT4_SB_LOG_CLUSTER_SIZE 0x1C
#define EXT4_SB_BLOCKS_PER_GROUP 0x20
#define EXT4_SB_CLUSTERS_PER_GROUP 0x24
#define EXT4_SB_INODES_PER_GROUP 0x28
#define EXT4_SB_MAGIC            0x38
#define EXT4_SB_STATE            0x3A
#define EXT4_SB_REV_LEVEL        0x4C
#define EXT4_SB_INODE_SIZE       0x58
#define EXT4_SB_FEATURE_COMPAT   0x5C
#define EXT4_SB_FEATURE_INCOMPAT 0x60
#define EXT4_SB_FEATURE_RO_COMPAT 0x64
#define EXT4_SB_UUID             0x68
#define EXT4_SB_VOLUME_NAME      0x78   /* 16 bytes, NUL-padded */
#define EXT4_SB_DESC_SIZE        0xFE
#define EXT4_SB_FIRST_META_BG    0x104
#define EXT4_SB_BLOCKS_HI        0x150
#define EXT4_SB_BACKUP_BGS       0x24C  /* sparse_super2: two u32 group numbers */

#define EXT4_COMPAT_SPARSE_SUPER2 0x0200u

#define EXT4_RO_COMPAT_SPARSE_SUPER  0x0001u
#define EXT4_RO_COMPAT_HUGE_FILE     0x0008u
#define EXT4_RO_COMPAT_GDT_CSUM      0x0010u
#define EXT4_RO_COMPAT_BIGALLOC      0x0200u
#define EXT4_RO_COMPAT_METADATA_CSUM 0x0400u

#define EXT4_INCOMPAT_COMPRESSION 0x00001u
#define EXT4_INCOMPAT_FILETYPE    0x00002u
#define EXT4_INCOMPAT_RECOVER     0x00004u
#define EXT4_INCOMPAT_JOURNAL_DEV 0x00008u
#define EXT4_INCOMPAT_META_BG     0x00010u
#define EXT4_INCOMPAT_EXTENTS     0x00040u
#define EXT4_INCOMPAT_64BIT       0x00080u
#define EXT4_INCOMPAT_MMP         0x00100u
#define EXT4_INCOMPAT_FLEX_BG     0x00200u
#define EXT4_INCOMPAT_EA_INODE    0x00400u
#define EXT4_INCOMPAT_DIRDATA     0x01000u
#define EXT4_INCOMPAT_CSUM_SEED   0x02000u
#define EXT4_INCOMPAT_LARGEDIR    0x04000u
#define EXT4_INCOMPAT_INLINE_DATA 0x08000u
#define EXT4_INCOMPAT_ENCRYPT     0x10000u
#define EXT4_INCOMPAT_CASEFOLD    0x20000u

/* Incompatible features this reader understands (the others are refused
 * by name).  ENCRYPT is accepted at mount: only encrypted inodes are
 * refused, the rest of the tree stays readable. */
#define EXT4_INCOMPAT_KNOWN                                                   \
    (EXT4_INCOMPAT_FILETYPE | EXT4_INCOMPAT_RECOVER | EXT4_INCOMPAT_META_BG | \
     EXT4_INCOMPAT_EXTENTS | EXT4_INCOMPAT_64BIT | EXT4_INCOMPAT_MMP |        \
     EXT4_INCOMPAT_FLEX_BG | EXT4_INCOMPAT_EA_INODE | EXT4_INCOMPAT_CSUM_SEED | \
     EXT4_INCOMPAT_LARGEDIR | EXT4_INCOMPAT_INLINE_DATA | EXT4_INCOMPAT_ENCRYPT | \
     EXT4_INCOMPAT_CASEFOLD)

/* Group descriptor fields (32 bytes, or desc_size with 64BIT). */
#define EXT4_GD_INODE_TABLE_LO 0x08
#define EXT4_GD_FLAGS          0x12
#define EXT4_GD_ITABLE_UNUSED_LO 0x1C
#define EXT4_GD_INODE_TABLE_HI 0x28
#define EXT4_GD_ITABLE_UNUSED_HI 0x32
#define EXT4_GD_INODE_UNINIT   0x0001u

/* Inode fields. */
#define EXT4_I_MODE        0x00
#define EXT4_I_UID_LO      0x02
#define EXT4_I_SIZE_LO     0x04
#define EXT4_I_ATIME       0x08
#define EXT4_I_CTIME       0x0C
#define EXT4_I_MTIME       0x10
#define EXT4_I_GID_LO      0x18
#define EXT4_I_LINKS       0x1A
#define EXT4_I_BLOCKS_LO   0x1C
#define EXT4_I_FLAGS       0x20
#define EXT4_I_BLOCK       0x28   /* 60 bytes: block map, extent root, inline data */
#define EXT4_I_BLOCK_SIZE  60u
#define EXT4_I_FILE_ACL_LO 0x68
#define EXT4_I_SIZE_HI     0x6C
#define EXT4_I_BLOCKS_HI   0x74
#define EXT4_I_FILE_ACL_HI 0x76
#define EXT4_I_UID_HI      0x78
#define EXT4_I_GID_HI      0x7A
#define EXT4_I_EXTRA_ISIZE 0x80
#define EXT4_I_CTIME_EXTRA 0x84
#define EXT4_I_MTIME_EXTRA 0x88
#define EXT4_I_ATIME_EXTRA 0x8C
#define EXT4_I_CRTIME      0x90
#define EXT4_I_CRTIME_EXTRA 0x94
#define EXT4_GOOD_OLD_INODE_SIZE 128u

#define EXT4_INODE_FL_ENCRYPT     0x00000800u
#define EXT4_INODE_FL_HUGE_FILE   0x00040000u
#define EXT4_INODE_FL_EXTENTS     0x00080000u
#define EXT4_INODE_FL_INLINE_DATA 0x10000000u

#define EXT4_ROOT_INO 2u

/* Extent tree. */
#define EXT4_EXT_MAGIC      0xF30Au
#define EXT4_EXT_ENTRY_SIZE 12u
#define EXT4_EXT_MAX_DEPTH  5u       /* the kernel's own cap */
#define EXT4_EXT_INIT_MAX_LEN 32768u /* longer lengths mark unwritten extents */

/* Block map (ext2/3): 12 direct pointers, then single, double, triple. */
#define EXT4_NDIR_BLOCKS 12u

/* In-inode extended attributes. */
#define EXT4_XATTR_MAGIC      0xEA020000u
#define EXT4_XATTR_INDEX_SYSTEM 7u
#define EXT4_XATTR_ENTRY_SIZE 16u

/* Directory entries. */
#define EXT4_DIRENT_HEADER 8u
#define EXT4_DIRENT_MIN_REC 12u

/* Group descriptor i (desc_size bytes each) from a table. */
static inline uint64_t ext4_gd_inode_table(const uint8_t *gd, uint32_t desc_size)
{
    uint64_t v = ifmt_le32(gd + EXT4_GD_INODE_TABLE_LO);
    if (desc_size >= 64)
        v |= (uint64_t)ifmt_le32(gd + EXT4_GD_INODE_TABLE_HI) << 32;
    return v;
}

static inline uint32_t ext4_gd_itable_unused(const uint8_t *gd, uint32_t desc_size)
{
    uint32_t v = ifmt_le16(gd + EXT4_GD_ITABLE_UNUSED_LO);
    if (desc_size >= 64)
        v |= (uint32_t)ifmt_le16(gd + EXT4_GD_ITABLE_UNUSED_HI) << 16;
    return v;
}

/* A directory entry's record length: 65536-byte blocks store 65536 as 0 or
 * 65535 and carry bits 16-17 in the low two bits. */
static inline uint32_t ext4_rec_len(const uint8_t *de, uint32_t block_size)
{
    uint32_t v = ifmt_le16(de + 4);
    if (block_size < 65536)
        return v;
    if (v == 65535 || v == 0)
        return 65536;
    return (v & 65532u) | ((v & 3u) << 16);
}

/* An inode time: 32 signed seconds, and where the inode is large enough an
 * extra word of 2 epoch bits (seconds bits 32-33) and 30 nanosecond bits. */
static inline void ext4_decode_time(uint32_t lo, const uint8_t *extra, int64_t *sec,
                                    uint32_t *nsec)
{
    *sec = (int32_t)lo;
    *nsec = 0;
    if (!extra)
        return;
    uint32_t x = ifmt_le32(extra);
    *sec += (int64_t)(x & 3u) << 32;
    *nsec = x >> 2;
    if (*nsec > 999999999u)
        *nsec = 999999999u;
}

/* Device number of a device inode: old format in i_block[0] (8-bit major
 * and minor), else new format in i_block[1] (12-bit major, 20-bit minor). */
static inline void ext4_decode_dev(const uint8_t *i_block, uint32_t *major,
                                   uint32_t *minor)
{
    uint32_t old = ifmt_le32(i_block), nw = ifmt_le32(i_block + 4);
    if (old) {
        *major = (old >> 8) & 0xff;
        *minor = old & 0xff;
    } else {
        *major = (nw >> 8) & 0xfff;
        *minor = (nw & 0xff) | ((nw >> 12) & 0xfff00);
    }
}

#endif
