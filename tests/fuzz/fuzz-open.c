/*
 * fuzz-open.c -- libFuzzer target: open the input from memory (probed, and
 * forced as each format), print nothing, walk every extent and read the
 * DATA ones, within fixed bounds so one input cannot run for long.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "imgfmt.h"
#include "fuzz.h"

#define MAX_READ   (8u << 20)    /* bytes read per open */
#define MAX_EXTENTS 4096

static void exercise(imgfmt_image *img)
{
    imgfmt_info in;
    in.struct_size = sizeof in;
    (void)imgfmt_get_info(img, &in);
    for (uint32_t i = 0; i < in.nb_warnings; i++)
        (void)imgfmt_warning(img, i);
    if (in.format == IMGFMT_FMT_QCOW2)
        for (uint32_t i = 0; i < in.qcow2.nb_snapshots && i < 64; i++) {
            imgfmt_snapshot s;
            (void)imgfmt_qcow2_get_snapshot(img, i, &s);
        }
    if (in.format == IMGFMT_FMT_VMDK)
        for (uint32_t i = 0; i < in.vmdk.nb_extents && i < 64; i++) {
            imgfmt_vmdk_extent e;
            (void)imgfmt_vmdk_get_extent(img, i, &e);
        }

    uint64_t size = imgfmt_virtual_size(img), budget = MAX_READ;
    static uint8_t buf[65536];
    imgfmt_extent_iter *it = NULL;
    if (imgfmt_extents_begin(img, 0, size, &it) < 0)
        return;
    imgfmt_extent e;
    int n = 0;
    while (n++ < MAX_EXTENTS && budget > 0 && imgfmt_extents_next(it, &e) == 1) {
        if (!(e.flags & IMGFMT_EXTENT_DATA))
            continue;
        uint64_t pos = e.offset, end = e.offset + e.length;
        while (pos < end && budget > 0) {
            size_t len = (size_t)(end - pos < sizeof buf ? end - pos : sizeof buf);
            if (len > budget)
                len = (size_t)budget;
            if (imgfmt_pread(img, buf, len, pos) < 0)
                break;
            budget -= len;
            pos += len;
        }
    }
    imgfmt_extents_end(it);
    /* The last byte, and a read across the end (must fail cleanly). */
    if (size) {
        (void)imgfmt_pread(img, buf, 1, size - 1);
        (void)imgfmt_pread(img, buf, 2, size - 1);
    }
    fuzz_extra(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum imgfmt_format forced[] = {
        IMGFMT_FMT_UNKNOWN, IMGFMT_FMT_VHD, IMGFMT_FMT_QCOW2, IMGFMT_FMT_VMDK,
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++) {
        imgfmt_open_opts o;
        imgfmt_open_opts_init(&o);
        o.format = forced[i];
        o.max_metadata_bytes = 64u << 20;
        imgfmt_image *img = NULL;
        imgfmt_error err;
        if (imgfmt_open_memory(data, size, &o, &img, &err) == 0) {
            exercise(img);
            imgfmt_close(img);
        }
    }
    return 0;
}
