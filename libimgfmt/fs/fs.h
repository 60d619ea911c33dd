/*
 * fs.h -- the contract between the file-system core (fs/fs.c: mounting,
 * the path walk, symlinks, bounds, the public imgfmt_fs_* calls) and one
 * read-only file-system driver (fs/ext4.c, fs/xfs.c, fs/btrfs.c,
 * fs/ntfs.c).  A driver describes one node at a time: it opens a node by
 * its id, lists one directory through a callback, reads file bytes and a
 * symlink target.  It never walks paths, follows links or sees mounts.
 *
 * Rules for drivers:
 *  - Every on-disk field is range-checked before use; errors go through
 *    ifmt_fs_error() with a message naming the fs, the object and the
 *    value ("ext4: inode 133 extent 4 block 99999 beyond the device").
 *  - Read the device only through ifmt_fs_read() (range-checked, cached).
 *  - Memory that metadata makes us allocate is charged (ifmt_fs_charge);
 *    every walk over metadata (trees, lists, runlists) is bounded.
 *  - Nothing is ever written.
 */
#ifndef IMGFMT_FS_H
#define IMGFMT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bdev.h"
#include "core/error.h"

struct ifmt_fs;

/* One node (inode, MFT record, ...) the core holds open. */
struct ifmt_node {
    uint64_t id;          /* the driver's handle for the node (btrfs: subvolume
                             and inode packed; others: the inode number) */
    imgfmt_stat st;       /* filled by open_node; st.ino is what stat reports */
    void *priv;           /* the driver's decoded state (extent map, ...) */
};

/* Called once per directory entry, "." and ".." excluded, each name once
 * (NTFS: no DOS 8.3 duplicates).  name is not NUL-terminated; UTF-8.
 * type is the entry's type if the directory records it, else
 * IMGFMT_FILE_UNKNOWN.  Return 0 to go on, 1 to stop (readdir returns 0),
 * or a negative IMGFMT_E_* to abort (readdir returns it). */
typedef int ifmt_dirent_fn(void *opaque, const char *name, size_t name_len,
                           uint64_t id, enum imgfmt_file_type type);

struct ifmt_fs_driver {
    const char *name;                       /* "ext4", "xfs", "btrfs", "ntfs" */

    /* True if this driver reads file systems of signature type t. */
    bool (*handles)(enum imgfmt_fs_type t);

    /* Read the superblock of fs->dev; set fs->priv, fs->root_id, and
     * fs->label / fs->uuid if known.  Honour fs->opts (btrfs subvolume).
     * May warn (ifmt_fs_warn).  On failure record the error and return it;
     * unmount is then called. */
    int (*mount)(struct ifmt_fs *fs);
    void (*unmount)(struct ifmt_fs *fs);  /* free fs->priv; may run after a failed mount */

    /* Fill node->st (and node->priv) for node id.  CORRUPT for a free or
     * invalid node, with its number in the message. */
    int (*open_node)(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node);
    void (*close_node)(struct ifmt_fs *fs, struct ifmt_node *node);

    /* List directory dir (st.type DIR) through fn. */
    int (*readdir)(struct ifmt_fs *fs, struct ifmt_node *dir, ifmt_dirent_fn *fn,
                   void *opaque);

    /* Optional (NULL: the core scans readdir): find name in dir through the
     * file system's index (B+ tree, hash).  0 and *id if found, else
     * IMGFMT_E_NOT_FOUND (no message needed).  NTFS matches names
     * case-insensitively as Windows does; the others byte for byte. */
    int (*lookup)(struct ifmt_fs *fs, struct ifmt_node *dir, const char *name,
                  size_t name_len, uint64_t *id, enum imgfmt_file_type *type);

    /* Read len bytes at off of a regular file (the core guarantees
     * off + len <= st.size); holes and unwritten extents read as zeros. */
    int (*read)(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                uint64_t off);

    /* The target of symlink node (st.type SYMLINK): *out is malloc'ed
     * (NUL-terminated, *len bytes without the NUL), the caller frees it.
     * NTFS reparse points: the target as a guest path ("/Windows/...",
     * with '/'), or an absolute target outside the volume as stored. */
    int (*readlink)(struct ifmt_fs *fs, struct ifmt_node *node, char **out, size_t *len);
};

struct ifmt_fs {
    const struct ifmt_fs_driver *drv;
    struct ifmt_bdev dev;          /* what it sits on (copied) */
    imgfmt_fs_opts opts;           /* copy; strings not owned */
    void *priv;                    /* driver state */
    uint64_t root_id;              /* set by mount */
    char label[256];               /* UTF-8, "" if none */
    char uuid[40];                 /* as the fs's own tools print it, "" if none */
    imgfmt_error err;              /* last error */
    char **warnings;
    uint32_t nb_warnings;
    uint64_t mem_charged;          /* against opts.max_metadata_bytes */
    struct ifmt_fs_cache *cache;   /* the core's block cache */
};

/* Mount dev with drv (NULL: chosen by the signature at byte 0).  On
 * failure *err says why and *out is NULL. */
int ifmt_fs_mount(const struct ifmt_bdev *dev, const struct ifmt_fs_driver *drv,
                  const imgfmt_fs_opts *opts, struct ifmt_fs **out, imgfmt_error *err);
void ifmt_fs_unmount(struct ifmt_fs *fs);   /* NULL ok */

/* The public handle on one mounted device (fs/fs.c): for devices that are
 * not an image range, e.g. LVM logical volumes (disk/lvm.c).  dev is
 * copied; what it points to must outlive the handle. */
int ifmt_filesystem_open_bdev(const struct ifmt_bdev *dev, const imgfmt_fs_opts *opts,
                              imgfmt_filesystem **out, imgfmt_error *err);

/* Record an error on fs (the message is prefixed by nothing: write the
 * driver name yourself) and return code. */
int ifmt_fs_error(struct ifmt_fs *fs, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
/* A user-visible warning ("ext4: needs_recovery set: the journal is not
 * replayed, recent changes may be missing"). */
void ifmt_fs_warn(struct ifmt_fs *fs, const char *fmt, ...) IFMT_PRINTF(2, 3);
/* Charge / release metadata memory; LIMIT naming what when over the cap. */
int ifmt_fs_charge(struct ifmt_fs *fs, uint64_t n, const char *what);
void ifmt_fs_uncharge(struct ifmt_fs *fs, uint64_t n);

/* Read len bytes at byte off of the device; CORRUPT naming what (and the
 * offset) when the range is outside it; errors recorded on fs.  Small
 * aligned metadata reads are served from a bounded block cache. */
int ifmt_fs_read(struct ifmt_fs *fs, void *buf, size_t len, uint64_t off,
                 const char *what);

/* Shared decoders. */
/* CRC-32C (Castagnoli), zlib convention: start with 0, feed pieces, the
 * result is the standard CRC.  ext4/XFS "raw" crc32c with seed s and no
 * final inversion is ~ifmt_crc32c(~s, buf, len). */
uint32_t ifmt_crc32c(uint32_t crc, const void *buf, size_t len);
/* UTF-16LE (n code units) to UTF-8 into out (cap bytes, NUL-terminated);
 * unpaired surrogates become U+FFFD.  Returns the UTF-8 length, or -1 if
 * it does not fit. */
int ifmt_utf16le_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap);

/* The drivers (fs/<name>.c). */
extern const struct ifmt_fs_driver ifmt_ext4_driver;
extern const struct ifmt_fs_driver ifmt_xfs_driver;
extern const struct ifmt_fs_driver ifmt_btrfs_driver;
extern const struct ifmt_fs_driver ifmt_ntfs_driver;

#endif
