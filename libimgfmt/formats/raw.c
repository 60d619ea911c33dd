/*
 * raw.c -- a raw disk: the file is the disk.  Like qemu, the virtual
 * size is the file length rounded up to a whole 512-byte sector; the bytes
 * past the end of the file read as zeros.  Holes (SEEK_HOLE) are ZERO.
 */
#define IMGFMT_BUILDING 1
#include <string.h>

#include "core/driver.h"
#include "core/window.h"

static int raw_probe(const uint8_t *head, size_t hlen, const uint8_t *tail,
                     size_t tlen, uint64_t size)
{
    (void)head; (void)hlen; (void)tail; (void)tlen; (void)size;
    return 1;   /* anything is a raw disk: the last resort */
}

static int raw_open(imgfmt_image *img)
{
    uint64_t size = img->io->size;
    if (size > UINT64_MAX - 511)
        return ifmt_error(img, IMGFMT_E_LIMIT, "raw: file too large");
    img->virtual_size = (size + 511) & ~(uint64_t)511;
    return IMGFMT_OK;
}

static int raw_block_status(imgfmt_image *img, uint64_t off, uint64_t max,
                            uint64_t *len)
{
    struct ifmt_io *io = img->io;
    if (off >= io->size) {           /* the zero padding up to a sector */
        *len = max;
        return IFMT_ST_ZERO;
    }
    uint64_t next;
    int r = ifmt_io_next_data(io, off, &next);
    if (r < 0)
        return r;
    if (next > off) {                /* a hole at off */
        *len = ifmt_min(max, next - off);
        return IFMT_ST_ZERO;
    }
    r = ifmt_io_next_hole(io, off, &next);
    if (r < 0)
        return r;
    if (next <= off)
        next = io->size;
    *len = ifmt_min(max, next - off);
    return IFMT_ST_DATA;
}

static int raw_read_data(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    return ifmt_pread_zero_fill(img, img->io, buf, len, off);
}

const struct ifmt_driver ifmt_raw_driver = {
    .name = "raw",
    .format = IMGFMT_FMT_RAW,
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .read_data = raw_read_data,
};
