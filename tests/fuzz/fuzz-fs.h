/*
 * fuzz-fs.h -- the shared body of the file-system fuzz targets
 * (fuzz-<fs>.c): mount the input as a memory device with one driver and
 * walk its tree through the driver ops, bounded, reading every file and
 * symlink.  Errors are expected; crashes, hangs, leaks and sanitizer
 * reports are the bugs.
 */
#ifndef IMGFMT_FUZZ_FS_H
#define IMGFMT_FUZZ_FS_H

#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

#define FUZZ_FS_MAX_NODES 2000u
#define FUZZ_FS_MAX_DEPTH 16u

struct fuzz_fs_walk {
    struct ifmt_fs *fs;
    struct ifmt_node *dir;      /* the directory being listed */
    unsigned nodes, depth;
};

static void fuzz_fs_visit(struct fuzz_fs_walk *w, uint64_t id);

static int fuzz_fs_entry(void *opaque, const char *name, size_t len, uint64_t id,
                         enum imgfmt_file_type type)
{
    struct fuzz_fs_walk *w = opaque;
    (void)type;
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
        return 0;
    if (w->nodes >= FUZZ_FS_MAX_NODES)
        return 1;
    if (w->fs->drv->lookup) {
        uint64_t found;
        enum imgfmt_file_type t;
        (void)w->fs->drv->lookup(w->fs, w->dir, name, len, &found, &t);
    }
    fuzz_fs_visit(w, id);
    return 0;
}

static void fuzz_fs_visit(struct fuzz_fs_walk *w, uint64_t id)
{
    struct ifmt_node node;
    memset(&node, 0, sizeof node);
    w->nodes++;
    if (w->fs->drv->open_node(w->fs, id, &node) < 0)
        return;
    node.id = id;
    if (node.st.type == IMGFMT_FILE_DIR && w->depth < FUZZ_FS_MAX_DEPTH) {
        struct ifmt_node *up = w->dir;
        w->depth++;
        w->dir = &node;
        (void)w->fs->drv->readdir(w->fs, &node, fuzz_fs_entry, w);
        w->dir = up;
        w->depth--;
    } else if (node.st.type == IMGFMT_FILE_REG) {
        uint8_t buf[65536];
        uint64_t size = node.st.size < (1u << 20) ? node.st.size : (1u << 20);
        for (uint64_t off = 0; off < size; off += sizeof buf) {
            size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
            if (w->fs->drv->read(w->fs, &node, buf, n, off) < 0)
                break;
        }
    } else if (node.st.type == IMGFMT_FILE_SYMLINK) {
        char *t = NULL;
        size_t tl = 0;
        if (w->fs->drv->readlink(w->fs, &node, &t, &tl) == 0)
            free(t);
    }
    if (w->fs->drv->close_node)
        w->fs->drv->close_node(w->fs, &node);
}

/* Mount data with drv and walk it. */
static inline int fuzz_fs_run(const struct ifmt_fs_driver *drv, const uint8_t *data,
                              size_t size)
{
    struct ifmt_bdev dev;
    struct ifmt_fs *fs;
    imgfmt_fs_opts o;
    imgfmt_fs_opts_init(&o);
    o.max_metadata_bytes = 64u << 20;
    ifmt_bdev_init_memory(&dev, data, size, "<fuzz>");
    if (ifmt_fs_mount(&dev, drv, &o, &fs, NULL) < 0)
        return 0;
    struct fuzz_fs_walk w = { fs, NULL, 0, 0 };
    fuzz_fs_visit(&w, fs->root_id);
    ifmt_fs_unmount(fs);
    return 0;
}

#endif
