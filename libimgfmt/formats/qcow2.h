/*
 * qcow2.h -- QCOW2 on-disk constants and pure buffer encoders/decoders (no
 * I/O): the one set, shared by the reader (formats/qcow2.c) and the writer
 * (output/).  Layout: docs/formats.md, QCOW2; all fields are big-endian.
 */
#ifndef IMGFMT_QCOW2_H
#define IMGFMT_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"

#define QCOW2_MAGIC                 0x514649fbu   /* "QFI\xfb" */

/* Header field offsets. */
#define QCOW2_HDR_MAGIC             0
#define QCOW2_HDR_VERSION           4
#define QCOW2_HDR_BACKING_OFFSET    8
#define QCOW2_HDR_BACKING_SIZE      16
#define QCOW2_HDR_CLUSTER_BITS      20
#define QCOW2_HDR_SIZE              24
#define QCOW2_HDR_CRYPT_METHOD      32
#define QCOW2_HDR_L1_SIZE           36
#define QCOW2_HDR_L1_OFFSET         40
#define QCOW2_HDR_REFTABLE_OFFSET   48
#define QCOW2_HDR_REFTABLE_CLUSTERS 56
#define QCOW2_HDR_NB_SNAPSHOTS      60
#define QCOW2_HDR_SNAPSHOTS_OFFSET  64
#define QCOW2_HDR_INCOMPAT          72
#define QCOW2_HDR_COMPAT            80
#define QCOW2_HDR_AUTOCLEAR         88
#define QCOW2_HDR_REFCOUNT_ORDER    96
#define QCOW2_HDR_HEADER_LENGTH     100
#define QCOW2_HDR_COMPRESSION_TYPE  104

#define QCOW2_V2_HEADER_LENGTH      72u
#define QCOW2_V3_MIN_HEADER_LENGTH  104u
#define QCOW2_V3_HEADER_LENGTH      112u   /* what qemu writes */

#define QCOW2_MIN_CLUSTER_BITS      9u
#define QCOW2_MAX_CLUSTER_BITS      21u
#define QCOW2_MAX_REFCOUNT_ORDER    6u
#define QCOW2_MAX_BACKING_NAME      1023u
#define QCOW2_MAX_BACKING_FMT       15u    /* qemu: len < 16 */
#define QCOW2_MAX_L1_BYTES          (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES    (8u << 20)
#define QCOW2_MAX_SNAPSHOTS         65536u
#define QCOW2_MAX_SNAPSHOTS_BYTES   (64u << 20)
#define QCOW2_MAX_SNAPSHOT_EXTRA    1024u
#define QCOW2_SNAPSHOT_HDR_LEN      40u
#define QCOW2_MAX_BITMAPS           65535u

/* Encryption methods. */
#define QCOW2_CRYPT_NONE            0u
#define QCOW2_CRYPT_AES             1u
#define QCOW2_CRYPT_LUKS            2u

/* Compression types. */
#define QCOW2_COMPRESSION_ZLIB      0u
#define QCOW2_COMPRESSION_ZSTD      1u

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN        0x1full
/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
/* Autoclear feature bits. */
#define QCOW2_AUTOCLEAR_BITMAPS     (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_RAW    (1ull << 1)

/* Header extension types. */
#define QCOW2_EXT_END               0x00000000u
#define QCOW2_EXT_BACKING_FORMAT    0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE     0x6803f857u
#define QCOW2_EXT_BITMAPS           0x23852875u
#define QCOW2_EXT_CRYPTO            0x0537be77u
#define QCOW2_EXT_DATA_FILE         0x44415441u
/* A header extension: u32 type, u32 data length, data padded to 8. */
#define QCOW2_EXTHDR_TYPE           0
#define QCOW2_EXTHDR_DATA_LEN       4
#define QCOW2_EXTHDR_SIZE           8u
/* Feature name table entries: u8 type, u8 bit number, 46 bytes of name. */
#define QCOW2_FENTRY_TYPE           0
#define QCOW2_FENTRY_BIT            1
#define QCOW2_FENTRY_NAME           2
#define QCOW2_FEATURE_ENTRY_LEN     48u
#define QCOW2_FEATURE_NAME_LEN      46u
#define QCOW2_FEATURE_INCOMPAT      0u
#define QCOW2_FEATURE_COMPAT        1u
#define QCOW2_FEATURE_AUTOCLEAR     2u
#define QCOW2_BITMAPS_EXT_LEN       24u
/* Bitmap directory entries: u64 table offset, u32 table size, u32 flags,
 * u8 type, u8 granularity_bits, u16 name_size, u32 extra_data_size, extra
 * data, name, padding to 8. */
#define QCOW2_BITMAP_ENTRY_HDR      24u
#define QCOW2_BITMAP_MAX_NAME       1023u
#define QCOW2_BITMAP_MAX_DIR_BYTES  (1024ull * 65535u)
#define QCOW2_BITMAP_MIN_GRAN_BITS  9u
#define QCOW2_BITMAP_MAX_GRAN_BITS  31u

/* L1 / L2 / refcount table entries. */
#define QCOW2_OFLAG_COPIED          (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED      (1ull << 62)
#define QCOW2_OFLAG_ZERO            (1ull << 0)
#define QCOW2_L1E_OFFSET_MASK       0x00fffffffffffe00ull
#define QCOW2_L1E_RESERVED_MASK     0x7f000000000001ffull
#define QCOW2_L2E_OFFSET_MASK       0x00fffffffffffe00ull
#define QCOW2_L2E_RESERVED_MASK     0x3f000000000001feull
#define QCOW2_REFT_OFFSET_MASK      0xfffffffffffffe00ull
#define QCOW2_COMPRESSED_SECTOR     512u
/* Extended L2: 32 subclusters; bitmap bits 0-31 allocated, 32-63 zero. */
#define QCOW2_SUBCLUSTERS           32u
#define QCOW2_EXTL2_MIN_CLUSTER_BITS 14u
#define QCOW2_SUB_ALLOC(i)          (1ull << (i))
#define QCOW2_SUB_ZERO(i)           (1ull << ((i) + 32))
#define QCOW2_SUB_ALL_ALLOC         0x00000000ffffffffull

/* The decoded fixed header, before any validation. */
struct qcow2_header {
    uint32_t magic, version;
    uint64_t backing_offset;
    uint32_t backing_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t reftable_offset;
    uint32_t reftable_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompat, compat, autoclear;
    uint32_t refcount_order;
    uint32_t header_length;
    uint32_t compression_type;
};

/* Decode the fixed fields from buf (len >= 72; v3 fields read only if
 * present: a v2 header gets refcount_order 4 and header_length 72).
 * Returns false if len is too short for the version. */
static inline bool qcow2_header_decode(const uint8_t *buf, size_t len,
                                       struct qcow2_header *h)
{
    if (len < QCOW2_V2_HEADER_LENGTH)
        return false;
    h->magic = ifmt_be32(buf + QCOW2_HDR_MAGIC);
    h->version = ifmt_be32(buf + QCOW2_HDR_VERSION);
    h->backing_offset = ifmt_be64(buf + QCOW2_HDR_BACKING_OFFSET);
    h->backing_size = ifmt_be32(buf + QCOW2_HDR_BACKING_SIZE);
    h->cluster_bits = ifmt_be32(buf + QCOW2_HDR_CLUSTER_BITS);
    h->size = ifmt_be64(buf + QCOW2_HDR_SIZE);
    h->crypt_method = ifmt_be32(buf + QCOW2_HDR_CRYPT_METHOD);
    h->l1_size = ifmt_be32(buf + QCOW2_HDR_L1_SIZE);
    h->l1_offset = ifmt_be64(buf + QCOW2_HDR_L1_OFFSET);
    h->reftable_offset = ifmt_be64(buf + QCOW2_HDR_REFTABLE_OFFSET);
    h->reftable_clusters = ifmt_be32(buf + QCOW2_HDR_REFTABLE_CLUSTERS);
    h->nb_snapshots = ifmt_be32(buf + QCOW2_HDR_NB_SNAPSHOTS);
    h->snapshots_offset = ifmt_be64(buf + QCOW2_HDR_SNAPSHOTS_OFFSET);
    h->incompat = h->compat = h->autoclear = 0;
    h->refcount_order = 4;
    h->header_length = QCOW2_V2_HEADER_LENGTH;
    h->compression_type = QCOW2_COMPRESSION_ZLIB;
    if (h->version >= 3) {
        if (len < QCOW2_V3_MIN_HEADER_LENGTH)
            return false;
        h->incompat = ifmt_be64(buf + QCOW2_HDR_INCOMPAT);
        h->compat = ifmt_be64(buf + QCOW2_HDR_COMPAT);
        h->autoclear = ifmt_be64(buf + QCOW2_HDR_AUTOCLEAR);
        h->refcount_order = ifmt_be32(buf + QCOW2_HDR_REFCOUNT_ORDER);
        h->header_length = ifmt_be32(buf + QCOW2_HDR_HEADER_LENGTH);
        if (h->header_length > QCOW2_HDR_COMPRESSION_TYPE &&
            len > QCOW2_HDR_COMPRESSION_TYPE)
            h->compression_type = buf[QCOW2_HDR_COMPRESSION_TYPE];
    }
    return true;
}

/* Compressed L2 entry geometry for a cluster size of 1 << cluster_bits. */
static inline unsigned qcow2_csize_shift(unsigned cluster_bits)
{
    return 62u - (cluster_bits - 8u);
}

/* Decode a compressed L2 entry: host byte offset and the byte count to
 * read (nsect * 512 - (offset & 511)), docs/formats.md, qcow2 entries. */
static inline void qcow2_compressed_decode(uint64_t l2e, unsigned cluster_bits,
                                           uint64_t *host_off, uint64_t *csize)
{
    unsigned shift = qcow2_csize_shift(cluster_bits);
    uint64_t sect_mask = (1ull << (cluster_bits - 8u)) - 1;
    uint64_t nsect = ((l2e >> shift) & sect_mask) + 1;
    *host_off = l2e & ((1ull << shift) - 1);
    *csize = nsect * QCOW2_COMPRESSED_SECTOR - (*host_off & (QCOW2_COMPRESSED_SECTOR - 1));
}

/* Encode one (the writer's side): off + len bytes, len >= 1. */
static inline uint64_t qcow2_compressed_encode(uint64_t off, uint64_t len,
                                               unsigned cluster_bits)
{
    uint64_t extra = (off + len - 1) / QCOW2_COMPRESSED_SECTOR - off / QCOW2_COMPRESSED_SECTOR;
    return QCOW2_OFLAG_COMPRESSED | extra << qcow2_csize_shift(cluster_bits) | off;
}

/* Set entry i of a refcount block to v (refcount_bits 1..64, a power of
 * two; below 8 bits the entries fill each byte from its low bit). */
static inline void qcow2_refcount_put(uint8_t *blk, uint32_t refcount_bits, uint64_t i,
                                      uint64_t v)
{
    switch (refcount_bits) {
    case 1: case 2: case 4: {
        uint64_t bit = i * refcount_bits;
        unsigned mask = (1u << refcount_bits) - 1;
        blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~(mask << (bit % 8))) |
                                 ((v & mask) << (bit % 8)));
        break;
    }
    case 8: blk[i] = (uint8_t)v; break;
    case 16: ifmt_put_be16(blk + 2 * i, (uint16_t)v); break;
    case 32: ifmt_put_be32(blk + 4 * i, (uint32_t)v); break;
    default: ifmt_put_be64(blk + 8 * i, v); break;
    }
}

/* Cluster types of a standard L2 entry (docs/formats.md, qcow2 entries). */
enum qcow2_cluster_type {
    QCOW2_CT_UNALLOC,
    QCOW2_CT_ZERO_PLAIN,
    QCOW2_CT_ZERO_ALLOC,
    QCOW2_CT_NORMAL,
    QCOW2_CT_COMPRESSED
};

/* Type of an L2 entry (the first word with extended L2).  With extended L2
 * the zero bit is not used (the bitmap says); with an external data file
 * offset 0 plus COPIED is a normal cluster at host offset 0. */
static inline enum qcow2_cluster_type qcow2_l2_type(uint64_t l2e, bool extl2,
                                                    bool data_file)
{
    if (l2e & QCOW2_OFLAG_COMPRESSED)
        return QCOW2_CT_COMPRESSED;
    if ((l2e & QCOW2_OFLAG_ZERO) && !extl2)
        return (l2e & QCOW2_L2E_OFFSET_MASK) ? QCOW2_CT_ZERO_ALLOC : QCOW2_CT_ZERO_PLAIN;
    if (!(l2e & QCOW2_L2E_OFFSET_MASK))
        return (data_file && (l2e & QCOW2_OFLAG_COPIED)) ? QCOW2_CT_NORMAL : QCOW2_CT_UNALLOC;
    return QCOW2_CT_NORMAL;
}

/* Number of L1 entries needed for a virtual size (qemu's size_to_l1). */
static inline uint64_t qcow2_size_to_l1(uint64_t size, unsigned cluster_bits,
                                        unsigned l2_bits)
{
    unsigned shift = cluster_bits + l2_bits;
    return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

#endif
