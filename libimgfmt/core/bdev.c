/*
 * bdev.c -- byte devices over an image range or a memory buffer.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <string.h>

#include "core/bdev.h"
#include "core/error.h"

static int read_image(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                      imgfmt_error *err)
{
    int r = imgfmt_pread(d->img, buf, len, d->base + off);
    if (r < 0 && err)
        *err = *imgfmt_last_error(d->img);
    return r;
}

static int read_memory(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                       imgfmt_error *err)
{
    (void)err;
    memcpy(buf, d->mem + off, len);
    return IMGFMT_OK;
}

static void set_name(struct ifmt_bdev *d, const char *name)
{
    snprintf(d->name, sizeof d->name, "%s", name ? name : "device");
}

void ifmt_bdev_init_image(struct ifmt_bdev *d, imgfmt_image *img, uint64_t base,
                          uint64_t size, const char *name)
{
    memset(d, 0, sizeof *d);
    d->img = img;
    d->base = base;
    d->size = size;
    d->read = read_image;
    set_name(d, name);
}

void ifmt_bdev_init_memory(struct ifmt_bdev *d, const void *buf, size_t len,
                           const char *name)
{
    memset(d, 0, sizeof *d);
    d->mem = buf;
    d->size = len;
    d->read = read_memory;
    set_name(d, name ? name : "<memory>");
}

int ifmt_bdev_read(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                   const char *what, imgfmt_error *err)
{
    if (len == 0)
        return IMGFMT_OK;
    if (off > d->size || len > d->size - off)
        return ifmt_seterr(err, IMGFMT_E_CORRUPT, 0,
                           "%s at byte %llu (+%zu) beyond the end of %s (%llu bytes)",
                           what ? what : "read", (unsigned long long)off, len, d->name,
                           (unsigned long long)d->size);
    return d->read(d, buf, len, off, err);
}
