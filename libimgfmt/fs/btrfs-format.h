/*
 * btrfs-format.h -- on-disk constants of btrfs and the pure decoders
 * (keys, item headers) of fs/btrfs.c.  Everything is little-endian; byte
 * offsets are from the start of the structure named.
 */
#ifndef IMGFMT_BTRFS_FORMAT_H
#define IMGFMT_BTRFS_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "core/bytes.h"

/* Superblock: 4 KiB at 64 KiB, copies at 64 MiB and 256 GiB. */
#define BTRFS_SB_SIZE           4096u
#define BTRFS_SB_CSUM           0x00    /* 32 bytes; crc32c uses the first 4 */
#define BTRFS_SB_FSID           0x20    /* 16 bytes */
#define BTRFS_SB_BYTENR         0x30    /* where this copy sits */
#define BTRFS_SB_MAGIC          0x40    /* "_BHRfS_M" */
#define BTRFS_SB_GENERATION     0x48
#define BTRFS_SB_ROOT           0x50    /* logical address of the root tree */
#define BTRFS_SB_CHUNK_ROOT     0x58
#define BTRFS_SB_LOG_ROOT       0x60    /* non-zero: a log tree awaits replay */
#define BTRFS_SB_ROOT_DIR       0x80    /* objectid of the root tree's directory (6) */
#define BTRFS_SB_NUM_DEVICES    0x88
#define BTRFS_SB_SECTORSIZE     0x90
#define BTRFS_SB_NODESIZE       0x94
#define BTRFS_SB_SYS_ARRAY_SIZE 0xa0
#define BTRFS_SB_INCOMPAT       0xbc
#define BTRFS_SB_CSUM_TYPE      0xc4
#define BTRFS_SB_ROOT_LEVEL     0xc6
#define BTRFS_SB_CHUNK_LEVEL    0xc7
#define BTRFS_SB_DEVID          0xc9    /* dev_item.devid: this device */
#define BTRFS_SB_LABEL          0x12b   /* 256 bytes, NUL-padded */
#define BTRFS_SB_METADATA_UUID  0x23b   /* tree blocks carry it with METADATA_UUID */
#define BTRFS_SB_SYS_ARRAY      0x32b   /* (key, chunk item) pairs */
#define BTRFS_SB_SYS_ARRAY_MAX  2048u

#define BTRFS_CSUM_CRC32C 0u
#define BTRFS_CSUM_MAX    3u   /* xxhash64 1, sha256 2, blake2b 3: not verified */

/* Incompat feature bits. */
#define BTRFS_INCOMPAT_METADATA_UUID    0x400ull
#define BTRFS_INCOMPAT_UNDERSTOOD       0xfffull     /* mixed backref .. raid1c34 */
#define BTRFS_INCOMPAT_ZONED            0x1000ull
#define BTRFS_INCOMPAT_EXTENT_TREE_V2   0x2000ull
#define BTRFS_INCOMPAT_RAID_STRIPE_TREE 0x4000ull
#define BTRFS_INCOMPAT_SIMPLE_QUOTA     0x10000ull   /* accounting only */

/* Tree block header (0x65 bytes), then items. */
#define BTRFS_HDR_CSUM    0x00
#define BTRFS_HDR_FSID    0x20
#define BTRFS_HDR_BYTENR  0x30
#define BTRFS_HDR_OWNER   0x58
#define BTRFS_HDR_NRITEMS 0x60
#define BTRFS_HDR_LEVEL   0x64
#define BTRFS_HDR_SIZE    0x65
#define BTRFS_KEY_SIZE    17u
#define BTRFS_LEAF_ITEM   25u   /* key, u32 data offset (from the header end), u32 size */
#define BTRFS_INNER_ITEM  33u   /* key, u64 block pointer, u64 generation */
#define BTRFS_MAX_LEVEL   8     /* levels 0..7 */

/* Item types (the key's middle field). */
#define BTRFS_INODE_ITEM   1
#define BTRFS_INODE_REF    12
#define BTRFS_DIR_ITEM     84
#define BTRFS_DIR_INDEX    96
#define BTRFS_EXTENT_DATA  108
#define BTRFS_ROOT_ITEM    132
#define BTRFS_ROOT_REF     156
#define BTRFS_CHUNK_ITEM   228

/* Well-known objectids. */
#define BTRFS_FS_TREE        5ull
#define BTRFS_FIRST_FREE     256ull   /* root directory of every subvolume */
#define BTRFS_CHUNK_OBJECTID 256ull   /* key objectid of chunk items */
#define BTRFS_LAST_FREE      0xffffffffffffff00ull
#define BTRFS_EMPTY_SUBVOL_DIR 2ull   /* what an unlinked subvolume entry shows */

/* Root ref (root tree key parent, ROOT_REF, child): u64 dirid, u64
 * sequence, u16 name_len, name. */
#define BTRFS_ROOT_REF_NAME_LEN 0x10
#define BTRFS_ROOT_REF_NAME     0x12

/* Chunk item (0x30 bytes, then 32-byte stripes). */
#define BTRFS_CHUNK_LENGTH      0x00
#define BTRFS_CHUNK_TYPE        0x18
#define BTRFS_CHUNK_NUM_STRIPES 0x2c
#define BTRFS_CHUNK_SIZE        0x30
#define BTRFS_STRIPE_SIZE       0x20   /* u64 devid, u64 offset, uuid */

#define BTRFS_BG_RAID0   0x8ull
#define BTRFS_BG_RAID1   0x10ull
#define BTRFS_BG_DUP     0x20ull
#define BTRFS_BG_RAID10  0x40ull
#define BTRFS_BG_RAID5   0x80ull
#define BTRFS_BG_RAID6   0x100ull
#define BTRFS_BG_RAID1C3 0x200ull
#define BTRFS_BG_RAID1C4 0x400ull
#define BTRFS_BG_PROFILE_MASK 0x7f8ull

/* Root item: an inode item (160 bytes), then these. */
#define BTRFS_ROOT_BYTENR 0xb0
#define BTRFS_ROOT_REFS   0xd8
#define BTRFS_ROOT_LEVEL  0xee
#define BTRFS_ROOT_MIN    0xef

/* Inode item (160 bytes). */
#define BTRFS_INODE_SIZE  0x10
#define BTRFS_INODE_NLINK 0x28
#define BTRFS_INODE_UID   0x2c
#define BTRFS_INODE_GID   0x30
#define BTRFS_INODE_MODE  0x34
#define BTRFS_INODE_RDEV  0x38
#define BTRFS_INODE_FLAGS 0x40
#define BTRFS_INODE_ATIME 0x70   /* u64 seconds, u32 nanoseconds */
#define BTRFS_INODE_CTIME 0x7c
#define BTRFS_INODE_MTIME 0x88
#define BTRFS_INODE_OTIME 0x94
#define BTRFS_INODE_ITEM_SIZE 0xa0
#define BTRFS_INODE_FLAG_COMPRESS 0x800ull

/* Dir item / dir index: location key, u64 transid, u16 data_len,
 * u16 name_len, u8 type, name, data. */
#define BTRFS_DIR_LOCATION 0x00
#define BTRFS_DIR_DATA_LEN 0x19
#define BTRFS_DIR_NAME_LEN 0x1b
#define BTRFS_DIR_TYPE     0x1d
#define BTRFS_DIR_HDR      0x1e
#define BTRFS_NAME_MAX     255u

/* File extent item: u64 generation, u64 ram_bytes, u8 compression,
 * u8 encryption, u16 other encoding, u8 type; inline data at 0x15, else
 * disk_bytenr, disk_num_bytes, offset, num_bytes. */
#define BTRFS_FE_RAM_BYTES   0x08
#define BTRFS_FE_COMPRESSION 0x10
#define BTRFS_FE_ENCRYPTION  0x11
#define BTRFS_FE_OTHER       0x12
#define BTRFS_FE_TYPE        0x14
#define BTRFS_FE_INLINE_DATA 0x15
#define BTRFS_FE_DISK_BYTENR 0x15
#define BTRFS_FE_DISK_BYTES  0x1d
#define BTRFS_FE_OFFSET      0x25
#define BTRFS_FE_NUM_BYTES   0x2d
#define BTRFS_FE_REG_SIZE    0x35
#define BTRFS_FE_INLINE   0
#define BTRFS_FE_REG      1
#define BTRFS_FE_PREALLOC 2
#define BTRFS_COMPRESS_NONE 0
#define BTRFS_COMPRESS_ZLIB 1
#define BTRFS_COMPRESS_LZO  2
#define BTRFS_COMPRESS_ZSTD 3
/* The kernel never compresses more than 128 KiB into one extent. */
#define BTRFS_MAX_COMPRESSED 131072u

struct btrfs_key {
    uint64_t objectid;
    uint8_t type;
    uint64_t offset;
};

static inline void btrfs_key_load(struct btrfs_key *k, const uint8_t *p)
{
    k->objectid = ifmt_le64(p);
    k->type = p[8];
    k->offset = ifmt_le64(p + 9);
}

/* <0, 0, >0 as a is below, equal to, above b (unsigned, field by field). */
static inline int btrfs_key_cmp(const struct btrfs_key *a, const struct btrfs_key *b)
{
    if (a->objectid != b->objectid)
        return a->objectid < b->objectid ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return 0;
}

#endif
