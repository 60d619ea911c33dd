/*
 * fs-handle.h -- the public file-system handle: a mount table over
 * mounted drivers (fs.c), filled by imgfmt_fs_open (one file system) or
 * the guest view (guest.c: the root and what its fstab mounts).
 */
#ifndef IMGFMT_FS_HANDLE_H
#define IMGFMT_FS_HANDLE_H

#include "fs/fs.h"

struct ifmt_fsh_mount {
    struct ifmt_fs *fs;        /* owned */
    char *path;                /* canonical mount point: "/", "/boot" */
    char *source;              /* "partition 2", "vg0/root" */
    char *options;             /* fstab options, or NULL */
};

struct imgfmt_filesystem {
    struct ifmt_fsh_mount *mounts;   /* mounts[0] is "/" */
    uint32_t nb_mounts;
    char **notes;                    /* guest view: fstab entries not placed */
    uint32_t nb_notes;
    char *root_evidence;             /* guest view: why this is the root */
    enum imgfmt_os_type os_type;     /* guest view: what the root holds */
    imgfmt_error err;
    char *link_buf;                  /* the last readlink result */
    void (*on_close)(void *);        /* frees what the devices point to */
    void *on_close_ctx;
};

int ifmt_fsh_new(imgfmt_filesystem **out, imgfmt_error *err);
/* Add fs (ownership passes on success) mounted at path. */
int ifmt_fsh_add_mount(imgfmt_filesystem *h, struct ifmt_fs *fs, const char *path,
                       const char *source);
/* Resolve path through the mount table; *mount and node (open: close it
 * with the mount's driver close_node) are the object reached. */
int ifmt_fsh_resolve(imgfmt_filesystem *h, const char *path, bool follow,
                     uint32_t *mount, struct ifmt_node *node);

#endif
