/*
 * fuzz-lvm.c -- LVM2: the input is the start of a disk (zero-filled to
 * 8 MiB, so a PV found in it has room for its extents), scanned for PVs
 * with imgfmt_lvm_scan; every LV is listed and the first and last bytes of
 * each readable one read.  The input is also parsed as a metadata text.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "disk/lvm.h"
#include "fuzz.h"

#define FUZZ_LVM_DISK (8u << 20)

static void read_lvs(imgfmt_lvm *lvm)
{
    static uint8_t buf[65536];
    for (uint32_t v = 0; v < imgfmt_lvm_nb_vgs(lvm); v++) {
        imgfmt_lvm_vg vg;
        if (imgfmt_lvm_get_vg(lvm, v, &vg) < 0)
            continue;
        for (uint32_t i = 0; i < vg.nb_lvs; i++) {
            imgfmt_lvm_lv lv;
            imgfmt_lvm_segment s;
            uint32_t fv, fl;
            if (imgfmt_lvm_get_lv(lvm, v, i, &lv) < 0)
                continue;
            for (uint32_t k = 0; k < lv.nb_segments; k++)
                (void)imgfmt_lvm_get_segment(lvm, v, i, k, &s);
            (void)imgfmt_lvm_find_lv(lvm, lv.full_name, &fv, &fl);
            size_t n = lv.size < sizeof buf ? (size_t)lv.size : sizeof buf;
            (void)imgfmt_lvm_pread(lvm, v, i, buf, n, 0);
            (void)imgfmt_lvm_pread(lvm, v, i, buf, n, lv.size - n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lvm_meta *m = NULL;
    if (ifmt_lvm_meta_parse((const char *)data, size, 16u << 20, &m, NULL) == 0)
        ifmt_lvm_meta_free(m);
    size_t len = size > FUZZ_LVM_DISK ? size : FUZZ_LVM_DISK;
    uint8_t *disk = calloc(1, len);
    if (!disk)
        return 0;
    memcpy(disk, data, size);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_RAW;
    o.max_metadata_bytes = 64u << 20;
    imgfmt_image *img = NULL;
    imgfmt_lvm *lvm = NULL;
    if (imgfmt_open_memory(disk, len, &o, &img, NULL) == 0 &&
        imgfmt_lvm_scan(img, &lvm, NULL) == 0)
        read_lvs(lvm);
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    free(disk);
    return 0;
}
