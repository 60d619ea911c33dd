/*
 * charge.c -- the per-image memory cap: metadata-driven allocations are
 * charged against opts.max_metadata_bytes.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/driver.h"

char *ifmt_strdup(imgfmt_image *img, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    return d;
}

int ifmt_charge(imgfmt_image *img, uint64_t n, const char *what)
{
    uint64_t total;
    if (ifmt_add_overflow(img->metadata_bytes, n, &total) ||
        total > img->opts.max_metadata_bytes)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "%s: %s needs %llu bytes of memory, over the %llu-byte "
                          "metadata cap", img->drv ? img->drv->name : "image", what,
                          (unsigned long long)n,
                          (unsigned long long)img->opts.max_metadata_bytes);
    img->metadata_bytes = total;
    return IMGFMT_OK;
}

void ifmt_uncharge(imgfmt_image *img, uint64_t n)
{
    img->metadata_bytes = n > img->metadata_bytes ? 0 : img->metadata_bytes - n;
}
