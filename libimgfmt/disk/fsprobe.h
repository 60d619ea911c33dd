/*
 * fsprobe.h -- private helpers shared by fsprobe.c and partition.c.
 */
#ifndef IMGFMT_FSPROBE_H
#define IMGFMT_FSPROBE_H

#include <stdint.h>

#include "imgfmt.h"

/* 16 bytes as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (byte order as stored). */
void ifmt_format_uuid(char out[37], const uint8_t u[16]);
/* NTFS, exFAT or FAT boot sector in the 512 bytes b: 1 and *out filled, or 0. */
int ifmt_probe_boot_sector(const uint8_t *b, imgfmt_fs *out);

struct ifmt_bdev;
/* imgfmt_probe_fs on a byte device (an LV): the signature at its byte 0.
 * Read errors go to *err (may be NULL). */
int ifmt_probe_fs_bdev(const struct ifmt_bdev *dev, imgfmt_fs *out, imgfmt_error *err);

#endif
