/*
 * inspect.h -- the inspection result and the steps that fill it:
 * linux-os.c (distribution, architecture), linux-boot.c (kernels and the
 * default one), virtio.c (the VirtioNotInstall rule), cloudinit.c (the
 * CloudInitNotInstalled rule); guestfile.c reads guest files for them.
 */
#ifndef IMGFMT_INSPECT_H
#define IMGFMT_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/image.h"

#define IFMT_MAX_KERNELS 32u
#define IFMT_SMALL_FILE  (4u << 20)     /* cap for config-style files */

struct ifmt_kernel {
    char version[128];
    char vmlinuz[320], config[320], initramfs[320], initramfs_format[64];
    uint32_t segments;
    char blk, net;
    int builtin_blk;
    enum imgfmt_verdict virtio;
    char evidence[1024];
};

struct imgfmt_inspection {
    imgfmt_filesystem *fs;
    enum imgfmt_os_type type;
    char root[600], distro[64], product[256], version[64], distro_source[64];
    uint32_t major, minor;
    char arch[16], arch_source[160], pkgfmt[8];
    char bootloader[16], bootcfg[160], default_rule[400], not_read[400];
    char default_options[1024];          /* the default kernel's command line */
    char default_linux[512];             /* its linux path as the loader says */
    struct ifmt_kernel kernels[IFMT_MAX_KERNELS];
    uint32_t nb_kernels;
    int default_kernel;
    enum imgfmt_verdict ci_verdict;
    char ci_evidence[2048], ci_version[64], ci_enabled_by[256], ci_datasources[256];
    char ci_package[128];
    /* Windows */
    char win_edition[64], win_install_type[32], win_build[32], win_control_set[16];
    enum imgfmt_verdict win_virtio;
    char win_virtio_evidence[1024];
};

/* guestfile.c */
/* Read a guest file (symlinks followed) of at most cap bytes into a new
 * NUL-terminated buffer.  0, NOT_FOUND, LIMIT (bigger), or a read error. */
int ifmt_guest_read(imgfmt_filesystem *fs, const char *path, size_t cap, char **buf,
                    size_t *len);
bool ifmt_guest_exists(imgfmt_filesystem *fs, const char *path);   /* nofollow */
bool ifmt_guest_is_dir(imgfmt_filesystem *fs, const char *path);   /* followed */
/* Copy src into dst (cap bytes), truncating; always NUL-terminated. */
void ifmt_copy(char *dst, size_t cap, const char *src);
/* Append to a bounded string: "a, b". */
void ifmt_append(char *dst, size_t cap, const char *sep, const char *fmt, ...)
    IFMT_PRINTF(4, 5);

/* linux-os.c */
void ifmt_inspect_linux_os(struct imgfmt_inspection *ins);
/* linux-boot.c */
void ifmt_inspect_linux_boot(struct imgfmt_inspection *ins);
/* virtio.c */
void ifmt_inspect_virtio(struct imgfmt_inspection *ins, struct ifmt_kernel *k);
/* windows.c: product, architecture, viostor/vioscsi, cloudbase-init. */
void ifmt_inspect_windows(struct imgfmt_inspection *ins);
/* cloudinit.c */
void ifmt_inspect_cloudinit(struct imgfmt_inspection *ins);

#endif
