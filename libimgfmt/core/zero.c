/*
 * zero.c -- zero detection: which units of a range hold a non-zero byte,
 * asking drivers (zero_probe) so compressed data need not all be inflated.
 */
#define IMGFMT_BUILDING 1
#include <string.h>

#include "core/fold.h"

/* ---- zero detection -------------------------------------------------- */

bool ifmt_is_zero(const void *p, size_t len)
{
    const uint8_t *b = p;
    /* Check a short prefix byte-wise, then compare the buffer with itself
     * shifted: memcmp is vectorised and this needs no zero page. */
    size_t head = len < 16 ? len : 16;
    for (size_t i = 0; i < head; i++)
        if (b[i])
            return false;
    if (len <= 16)
        return true;
    return memcmp(b, b + 16, len - 16) == 0;
}

/* ---- zero units --------------------------------------------------------- */

void ifmt_mark_nonzero(const uint8_t *p, uint64_t a, uint64_t b, uint64_t base,
                       size_t unit, uint8_t *nonzero)
{
    while (a < b) {
        uint64_t ui = (a - base) / unit;
        uint64_t e = ifmt_min(b, base + (ui + 1) * unit);
        if (!nonzero[ui] && !ifmt_is_zero(p, (size_t)(e - a)))
            nonzero[ui] = 1;
        p += e - a;
        a = e;
    }
}

bool ifmt_units_marked(uint64_t a, uint64_t b, uint64_t base, size_t unit,
                       const uint8_t *nonzero)
{
    if (a >= b)
        return true;
    for (uint64_t u = (a - base) / unit; u <= (b - 1 - base) / unit; u++)
        if (!nonzero[u])
            return false;
    return true;
}

/* Mark the units of [off, off+len) (grid at base) that hold a non-zero byte in
 * img's folded view; units already marked are skipped. */
static int zero_walk(imgfmt_image *img, uint64_t off, uint64_t len, uint64_t base,
                     size_t unit, uint8_t *buf, uint8_t *nz, imgfmt_image *top)
{
    uint64_t end = off + len;
    while (off < end) {
        /* Skip units already known to be non-zero. */
        uint64_t u = (off - base) / unit;
        if (nz[u]) {
            off = ifmt_min(end, base + (u + 1) * unit);
            continue;
        }
        uint64_t n = 0;
        int st = ifmt_layer_status(img, off, end - off, &n);
        if (st < 0)
            return ifmt_pass_error(top, img, st);
        if (st == IFMT_ST_UNALLOC && img->backing) {
            imgfmt_image *b = img->backing;
            if (off < b->virtual_size) {
                uint64_t inb = ifmt_min(n, b->virtual_size - off);
                int r = zero_walk(b, off, inb, base, unit, buf, nz, top);
                if (r < 0)
                    return r;
            }
        } else if (st == IFMT_ST_DATA) {
            int r;
            if (img->drv->zero_probe) {
                r = img->drv->zero_probe(img, off, (size_t)n, base, unit, buf, nz);
            } else {
                uint8_t *p = buf + (off - base);
                r = img->drv->read_data(img, p, (size_t)n, off);
                if (r == 0)
                    ifmt_mark_nonzero(p, off, off + n, base, unit, nz);
            }
            if (r < 0)
                return ifmt_pass_error(top, img, r);
        }
        off += n;
    }
    return IMGFMT_OK;
}

int ifmt_zero_units(imgfmt_image *img, uint64_t off, size_t len, size_t unit,
                    uint8_t *buf, uint8_t *nonzero)
{
    if (!img || (len && (!buf || !nonzero)))
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "ifmt_zero_units: NULL buffer")
                   : IMGFMT_E_INVAL;
    if (unit < 512 || !ifmt_is_pow2(unit) || off % unit || len % unit)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "ifmt_zero_units: range %llu+%zu not in units of %zu",
                          (unsigned long long)off, len, unit);
    memset(nonzero, 0, len / unit);
    uint64_t vs = img->virtual_size;
    size_t in = off >= vs ? 0 : (size_t)ifmt_min(len, vs - off);
    if (!in)
        return IMGFMT_OK;
    return zero_walk(img, off, in, off, unit, buf, nonzero, img);
}
