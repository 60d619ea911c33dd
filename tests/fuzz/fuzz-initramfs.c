/*
 * fuzz-initramfs -- the initramfs walker (segments, every decompressor
 * this build has, the cpio parser) on arbitrary bytes, keeping the data
 * of every entry up to 1 MiB.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "archive/initramfs.h"
#include "fuzz.h"

struct mem { const uint8_t *p; size_t n; };

static int read_mem(void *ctx, void *buf, size_t len, uint64_t off, size_t *got)
{
    const struct mem *m = ctx;
    *got = off >= m->n ? 0 : (len < m->n - off ? len : (size_t)(m->n - off));
    memcpy(buf, m->p + off, *got);
    return 0;
}

static bool want_all(void *opaque, const char *name, uint64_t size)
{
    (void)opaque; (void)name;
    return size <= (1u << 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m = { data, size };
    struct ifmt_initramfs_opts o;
    ifmt_initramfs_opts_init(&o);
    o.max_output = 64u << 20;
    o.max_entries = 100000;
    o.want = want_all;
    struct ifmt_initramfs_segment *segs;
    uint32_t n;
    imgfmt_error err;
    (void)ifmt_initramfs_walk(read_mem, &m, size, &o, &segs, &n, &err);
    free(segs);
    return 0;
}
