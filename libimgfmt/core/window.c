/*
 * window.c -- reading an image's own files: exact metadata reads,
 * zero-filled reads, and the read window over compressed data.
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"
#include "core/window.h"

int ifmt_pread_meta(imgfmt_image *img, void *buf, size_t len, uint64_t off,
                    const char *what)
{
    int e = 0;
    int r = ifmt_io_pread(img->io, buf, len, off, &e);
    if (r == IMGFMT_E_RANGE)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "%s: %s at offset 0x%llx (+%zu) beyond end of file "
                          "(length %llu)", img->drv->name, what,
                          (unsigned long long)off, len,
                          (unsigned long long)img->io->size);
    if (r < 0)
        return ifmt_error_errno(img, IMGFMT_E_IO, e, "%s: reading %s at 0x%llx: %s",
                                img->drv->name, what, (unsigned long long)off,
                                strerror(e ? e : EIO));
    return IMGFMT_OK;
}

int ifmt_pread_zero_fill(imgfmt_image *img, struct ifmt_io *io, void *buf, size_t len,
                         uint64_t off)
{
    size_t in = off >= io->size ? 0 : (size_t)ifmt_min(len, io->size - off);
    int e = 0;
    if (in && ifmt_io_pread(io, buf, in, off, &e) < 0)
        return ifmt_error_errno(img, IMGFMT_E_IO, e, "%s: %s: read at %llu failed: %s",
                                img->drv->name, io->path, (unsigned long long)off,
                                strerror(e ? e : EIO));
    memset((uint8_t *)buf + in, 0, len - in);
    return IMGFMT_OK;
}

/* ---- read window ------------------------------------------------------ */

int ifmt_win_get(imgfmt_image *img, struct ifmt_win *w, struct ifmt_io *io, uint64_t off,
                 size_t need, size_t want, const uint8_t **out)
{
    if (ifmt_win_has(w, io, off, need)) {
        *out = w->buf + (off - w->off);
        return IMGFMT_OK;
    }
    size_t full = need > IFMT_WIN_BYTES ? need : IFMT_WIN_BYTES;
    if (w->cap < need || (w->cap < full && want > w->cap)) {
        /* Grow: a full window if the metadata cap allows, else just need. */
        size_t size = full;
        uint64_t old = w->charged;
        ifmt_uncharge(img, old);
        imgfmt_error keep = img->err;
        if (ifmt_charge(img, size, "read window") < 0) {
            img->err = keep;
            size = need > w->cap ? need : w->cap;
            if (ifmt_charge(img, size, "read window") < 0) {
                ifmt_charge(img, old, "read window");   /* was within the cap */
                return img->err.code;
            }
        }
        if (size != w->cap) {
            uint8_t *nb = malloc(size);
            if (!nb) {
                ifmt_uncharge(img, size);
                ifmt_charge(img, old, "read window");
                return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory for a read window");
            }
            free(w->buf);
            w->buf = nb;
            w->cap = size;
        }
        w->charged = size;
    }
    size_t len = want > need ? want : need;
    if (len > w->cap)
        len = w->cap;
    w->io = NULL;
    w->len = 0;
    /* Do not read ahead past the end of the file (zeros need no syscall). */
    size_t in = off >= io->size ? 0 : (size_t)ifmt_min(len, io->size - off);
    if (in < need)
        in = need;
    int r = ifmt_pread_zero_fill(img, io, w->buf, in, off);
    if (r < 0)
        return r;
    w->io = io;
    w->off = off;
    w->len = in;
    *out = w->buf;
    return IMGFMT_OK;
}

void ifmt_win_free(imgfmt_image *img, struct ifmt_win *w)
{
    free(w->buf);
    ifmt_uncharge(img, w->charged);
    memset(w, 0, sizeof *w);
}
