/*
 * map-dump -- test helper: print an image's merged extents as
 * "start length data(0|1)" lines, the shape the cross-checks make of
 * `qemu-img map --output=json`.
 *   map-dump [-f FMT] IMAGE
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "imgfmt.h"

int main(int argc, char **argv)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "-f") == 0) {
        o.format = imgfmt_format_from_name(argv[2]);
        i = 3;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: map-dump [-f FMT] IMAGE\n");
        return 2;
    }
    imgfmt_image *img;
    imgfmt_error err;
    if (imgfmt_open(argv[i], &o, &img, &err) < 0) {
        fprintf(stderr, "map-dump: %s\n", err.msg);
        return 1;
    }
    imgfmt_extent_iter *it;
    imgfmt_extent e;
    uint64_t size = imgfmt_virtual_size(img);
    if (imgfmt_extents_begin(img, 0, size, &it) < 0)
        return 1;
    int r;
    while ((r = imgfmt_extents_next(it, &e)) == 1)
        printf("%" PRIu64 " %" PRIu64 " %d\n", e.offset, e.length,
               (e.flags & IMGFMT_EXTENT_DATA) ? 1 : 0);
    imgfmt_extents_end(it);
    if (r < 0)
        fprintf(stderr, "map-dump: %s\n", imgfmt_last_error(img)->msg);
    imgfmt_close(img);
    return r < 0;
}
