/*
 * cpio-dump -- test helper: walk an initramfs file with the library's
 * reader and print one line per segment and per entry:
 *   segment N CODEC offset=O in=I out=B entries=E [unknown]
 *   MODE(octal) SIZE SHA256-or-"-" NAME
 * Every regular file's data is kept (up to 64 MiB) and hashed.
 *   cpio-dump FILE
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/initramfs.h"
#include "../tools/sha256.h"  /* not tests/sha256.h (fs-dump's) */

static int read_file(void *ctx, void *buf, size_t len, uint64_t off, size_t *got)
{
    FILE *f = ctx;
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        return IMGFMT_E_IO;
    *got = fread(buf, 1, len, f);
    return ferror(f) ? IMGFMT_E_IO : 0;
}

static bool want_regular(void *opaque, const char *name, uint64_t size)
{
    (void)opaque; (void)name; (void)size;
    return true;
}

static int print_entry(void *opaque, const struct ifmt_cpio_entry *e)
{
    (void)opaque;
    char hex[65] = "-";
    if ((e->mode & 0170000) == 0100000 && e->data) {
        struct sha256 s;
        sha256_init(&s);
        sha256_update(&s, e->data, (size_t)e->size);
        sha256_final_hex(&s, hex);
    }
    printf("%06o %llu %s %s\n", e->mode, (unsigned long long)e->size, hex,
           e->name[0] ? e->name : ".");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cpio-dump FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseeko(f, 0, SEEK_END);
    uint64_t size = (uint64_t)ftello(f);
    struct ifmt_initramfs_opts o;
    ifmt_initramfs_opts_init(&o);
    o.max_kept = 64u << 20;
    o.want = want_regular;
    o.entry = print_entry;
    struct ifmt_initramfs_segment *segs;
    uint32_t n;
    imgfmt_error err = { 0 };
    int r = ifmt_initramfs_walk(read_file, f, size, &o, &segs, &n, &err);
    for (uint32_t i = 0; i < n; i++)
        printf("segment %u %s offset=%llu in=%llu out=%llu entries=%u%s\n", i,
               ifmt_codec_name(segs[i].codec), (unsigned long long)segs[i].offset,
               (unsigned long long)segs[i].in_bytes, (unsigned long long)segs[i].out_bytes,
               segs[i].entries, segs[i].unknown ? " unknown" : "");
    free(segs);
    fclose(f);
    if (r < 0) {
        fprintf(stderr, "cpio-dump: %s\n", err.msg);
        return 1;
    }
    return 0;
}
