/*
 * read.c -- reads and block status of the guest view: each layer's status,
 * the backing chain folded in, adjacent runs merged; the extent iterator.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/fold.h"

/* ---- reads and block status ---------------------------------------- */

/* Status of this layer only; clamps what the driver returns. */
int ifmt_layer_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len)
{
    if (!img->drv->block_status) {
        *len = max;
        return IFMT_ST_DATA;
    }
    uint64_t n = 0;
    int st = img->drv->block_status(img, off, max, &n);
    if (st < 0)
        return st;
    if (st != IFMT_ST_DATA && st != IFMT_ST_ZERO && st != IFMT_ST_UNALLOC)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "%s: internal: bad block status %d",
                          img->drv->name, st);
    if (n == 0 || n > max)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "%s: internal: block status length %llu for a request of %llu",
                          img->drv->name, (unsigned long long)n, (unsigned long long)max);
    *len = n;
    return st;
}

/* Copy an error from a backing image to img (keeps one message per handle). */
int ifmt_pass_error(imgfmt_image *img, imgfmt_image *from, int r)
{
    if (from != img)
        img->err = from->err;
    return r;
}

int ifmt_read(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t n = 0;
        int st = ifmt_layer_status(img, off, len, &n);
        if (st < 0)
            return st;
        size_t chunk = (size_t)n;
        int r = 0;
        if (st == IFMT_ST_DATA) {
            r = img->drv->read_data(img, p, chunk, off);
        } else if (st == IFMT_ST_UNALLOC && img->backing) {
            uint64_t bsize = img->backing->virtual_size;
            size_t inb = off >= bsize ? 0 : (size_t)ifmt_min(chunk, bsize - off);
            if (inb) {
                r = ifmt_read(img->backing, p, inb, off);
                if (r < 0)
                    return ifmt_pass_error(img, img->backing, r);
            }
            memset(p + inb, 0, chunk - inb);
        } else {
            memset(p, 0, chunk);
        }
        if (r < 0)
            return r;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return IMGFMT_OK;
}

int imgfmt_pread(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    if (!img || (!buf && len))
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "imgfmt_pread: NULL buffer")
                   : IMGFMT_E_INVAL;
    if (!ifmt_range_ok(off, len, img->virtual_size))
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "read of %zu bytes at %llu is beyond the virtual size %llu",
                          len, (unsigned long long)off,
                          (unsigned long long)img->virtual_size);
    return ifmt_read(img, buf, len, off);
}

/* One step of folded status: DATA or ZERO for *len bytes from off. */
static int folded_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len,
                         imgfmt_image *top)
{
    int st = ifmt_layer_status(img, off, max, len);
    if (st < 0)
        return ifmt_pass_error(top, img, st);
    if (st == IFMT_ST_UNALLOC) {
        imgfmt_image *b = img->backing;
        if (!b || off >= b->virtual_size)
            return IFMT_ST_ZERO;
        return folded_status(b, off, ifmt_min(*len, b->virtual_size - off), len, top);
    }
    return st;
}

int imgfmt_block_status(imgfmt_image *img, uint64_t off, uint64_t max_len,
                        imgfmt_extent *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    if (off >= img->virtual_size || max_len == 0)
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "block status at %llu is beyond the virtual size %llu",
                          (unsigned long long)off, (unsigned long long)img->virtual_size);
    max_len = ifmt_min(max_len, img->virtual_size - off);
    uint64_t n = 0;
    int st = folded_status(img, off, max_len, &n, img);
    if (st < 0)
        return st;
    uint64_t total = n;
    /* Merge following runs of the same kind. */
    while (total < max_len) {
        int st2 = folded_status(img, off + total, max_len - total, &n, img);
        if (st2 < 0)
            return st2;
        if (st2 != st)
            break;
        total += n;
    }
    out->offset = off;
    out->length = total;
    out->flags = st == IFMT_ST_DATA ? IMGFMT_EXTENT_DATA : IMGFMT_EXTENT_ZERO;
    return IMGFMT_OK;
}

struct imgfmt_extent_iter {
    imgfmt_image *img;
    uint64_t pos, end;
};

int imgfmt_extents_begin(imgfmt_image *img, uint64_t off, uint64_t len,
                         imgfmt_extent_iter **out)
{
    if (!out)
        return IMGFMT_E_INVAL;
    *out = NULL;
    if (!img)
        return IMGFMT_E_INVAL;
    if (!ifmt_range_ok(off, len, img->virtual_size))
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "extent range %llu+%llu is beyond the virtual size %llu",
                          (unsigned long long)off, (unsigned long long)len,
                          (unsigned long long)img->virtual_size);
    imgfmt_extent_iter *it = calloc(1, sizeof *it);
    if (!it)
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    it->img = img;
    it->pos = off;
    it->end = off + len;
    *out = it;
    return IMGFMT_OK;
}

int imgfmt_extents_next(imgfmt_extent_iter *it, imgfmt_extent *out)
{
    if (!it || !out)
        return IMGFMT_E_INVAL;
    if (it->pos >= it->end)
        return 0;
    int r = imgfmt_block_status(it->img, it->pos, it->end - it->pos, out);
    if (r < 0)
        return r;
    it->pos += out->length;
    return 1;
}

void imgfmt_extents_end(imgfmt_extent_iter *it)
{
    free(it);
}
