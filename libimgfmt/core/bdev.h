/*
 * bdev.h -- a read-only byte device that a file system (or LVM) sits on:
 * a byte range of an image (a partition), a logical volume, or memory.
 * A file system never knows which one it reads.
 */
#ifndef IMGFMT_BDEV_H
#define IMGFMT_BDEV_H

#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"

struct ifmt_bdev;

/* Read exactly len bytes at off; the caller has checked off+len <= size.
 * Returns 0 or a negative IMGFMT_E_* with the message in *err. */
typedef int ifmt_bdev_read_fn(const struct ifmt_bdev *dev, void *buf, size_t len,
                              uint64_t off, imgfmt_error *err);

struct ifmt_bdev {
    uint64_t size;             /* bytes */
    char name[64];             /* for messages: "partition 2", "vg0/root", "<memory>" */
    ifmt_bdev_read_fn *read;
    imgfmt_image *img;         /* image devices: the image */
    uint64_t base;             /* image devices: offset of byte 0 in the image */
    const uint8_t *mem;        /* memory devices */
    const void *ctx;           /* other devices (LVs): their own state */
};

/* [base, base+size) of img's virtual disk.  img is borrowed. */
void ifmt_bdev_init_image(struct ifmt_bdev *d, imgfmt_image *img, uint64_t base,
                          uint64_t size, const char *name);
/* A memory buffer (tests, fuzzing); borrowed. */
void ifmt_bdev_init_memory(struct ifmt_bdev *d, const void *buf, size_t len,
                           const char *name);
/* Range-checked read: CORRUPT "<what> at byte N (+len) beyond the end of
 * <name> (size S)" if it does not fit, else the device's read. */
int ifmt_bdev_read(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                   const char *what, imgfmt_error *err);

#endif
