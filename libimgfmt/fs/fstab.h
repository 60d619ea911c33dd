/*
 * fstab.h -- /etc/fstab: the parser (pure: text in, entries out) and the
 * guest view's mounting of what it names (fs/fstab.c).
 */
#ifndef IMGFMT_FSTAB_H
#define IMGFMT_FSTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/fs-handle.h"

struct ifmt_fstab_entry {
    const char *spec;      /* "UUID=...", "/dev/sda1" (octal escapes decoded) */
    const char *file;      /* mount point */
    const char *vfstype;   /* "ext4", "swap", "nfs", ... ("" if missing) */
    const char *mntops;    /* "defaults,subvol=@" ("" if missing) */
    unsigned line;         /* 1-based */
};

/* Call fn for each entry of the fstab text (comments and blank lines
 * skipped, lines with fewer than two fields skipped).  fn returns 0 to go
 * on.  Lines are capped at 4096 bytes (longer ones skipped). */
int ifmt_fstab_parse(const char *text, size_t len,
                     int (*fn)(void *opaque, const struct ifmt_fstab_entry *e),
                     void *opaque);

/* The value of key=value in a comma-separated option list, or (for a bare
 * key) "".  False if absent. */
bool ifmt_mntopt(const char *mntops, const char *key, char *out, size_t cap);

/* Mount, on h (the guest's root, from volume root_vol of l), what its
 * /etc/fstab names; what cannot be placed becomes a note on h. */
void ifmt_guest_mount_fstab(imgfmt_filesystem *h, imgfmt_volume_list *l,
                            uint32_t root_vol, const imgfmt_fs_opts *opts);

#endif
