/*
 * initramfs.h -- the kernel's initramfs buffer format: cpio "newc"/"crc"
 * archives, uncompressed or compressed (gzip, zstd, xz, lzma, lz4, bzip2),
 * concatenated with zero padding between them (an uncompressed early
 * microcode archive, then the main one compressed).  Read streaming: the
 * caller sees every entry, keeps the data of the few it asks for, and the
 * decompressed size is capped.
 */
#ifndef IMGFMT_INITRAMFS_H
#define IMGFMT_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive/decompress.h"

struct ifmt_cpio_entry {
    const char *name;          /* as stored, "./" and "/" prefixes removed */
    uint32_t mode, uid, gid, nlink;
    uint64_t mtime;
    uint64_t size;
    uint32_t rdev_major, rdev_minor;
    const uint8_t *data;       /* the content if asked for, else NULL */
    uint32_t segment;          /* index into the segments */
};

struct ifmt_initramfs_segment {
    enum ifmt_codec codec;     /* NONE: uncompressed cpio (or unknown data) */
    uint64_t offset;           /* where it starts in the file */
    uint64_t in_bytes;         /* bytes of the file it spans */
    uint64_t out_bytes;        /* bytes after decompression */
    uint32_t entries;
    bool unknown;              /* data that is neither cpio nor a known codec:
                                  the walk stopped there */
};

/* Read len bytes at off of the initramfs file; *got short only at its end. */
typedef int ifmt_initramfs_read_fn(void *ctx, void *buf, size_t len, uint64_t off,
                                   size_t *got);

struct ifmt_initramfs_opts {
    uint64_t max_output;       /* cap on decompressed bytes (default 1 GiB): LIMIT */
    uint64_t max_kept;         /* largest file whose data is kept (default 16 MiB) */
    uint32_t max_entries;      /* cap on entries (default 1,000,000): LIMIT */
    /* Keep the data of this entry?  NULL: keep none. */
    bool (*want)(void *opaque, const char *name, uint64_t size);
    /* Called for every entry but the trailer; non-zero stops the walk (returned). */
    int (*entry)(void *opaque, const struct ifmt_cpio_entry *e);
    void *opaque;
};

void ifmt_initramfs_opts_init(struct ifmt_initramfs_opts *o);

/* Walk the initramfs of size bytes.  *segs (malloc'ed, *nsegs entries) lists
 * what was found, also on error (NULL-safe to free).  Errors: CORRUPT
 * (bad cpio header, truncated stream), UNSUPPORTED (a codec this build
 * lacks, odc/binary cpio), LIMIT, and the read function's. */
int ifmt_initramfs_walk(ifmt_initramfs_read_fn *read, void *ctx, uint64_t size,
                        const struct ifmt_initramfs_opts *o,
                        struct ifmt_initramfs_segment **segs, uint32_t *nsegs,
                        imgfmt_error *err);

#endif
