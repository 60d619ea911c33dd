/*
 * lv-dump -- test helper over the public LVM API, for the cross-checks:
 *   lv-dump IMAGE          one line per LV:
 *                          lv VG/LV SIZE TYPE SEGMENTS VISIBLE readable|refused: WHY
 *                          then per segment, as `lvs --segments` reports it:
 *                          seg VG/LV START LENGTH TYPE STRIPES STRIPE_SIZE PVUUID:PE...
 *                          (TYPE "linear" for one stripe, bytes)
 *   lv-dump IMAGE VG/LV    the LV's bytes on stdout
 * or "error CODE MESSAGE" on stderr (exit 1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "imgfmt.h"

static void print_segment(imgfmt_lvm *lvm, uint32_t v, uint32_t i, uint32_t s,
                          const char *name)
{
    imgfmt_lvm_segment seg;
    imgfmt_lvm_get_segment(lvm, v, i, s, &seg);
    const char *type = seg.nb_stripes == 1 ? "linear" : seg.type;
    printf("seg %s %" PRIu64 " %" PRIu64 " %s %u %" PRIu64, name, seg.start, seg.length,
           type, seg.nb_stripes, seg.stripe_size);
    for (uint32_t k = 0; k < seg.nb_stripes; k++) {
        imgfmt_lvm_area a;
        imgfmt_lvm_get_area(lvm, v, i, s, k, &a);
        printf(" %s:%" PRIu64, a.pv_uuid, a.start_extent);
    }
    printf("\n");
}

static int list(imgfmt_lvm *lvm)
{
    for (uint32_t v = 0; v < imgfmt_lvm_nb_vgs(lvm); v++) {
        imgfmt_lvm_vg vg;
        imgfmt_lvm_get_vg(lvm, v, &vg);
        for (uint32_t i = 0; i < vg.nb_lvs; i++) {
            imgfmt_lvm_lv lv;
            imgfmt_lvm_get_lv(lvm, v, i, &lv);
            printf("lv %s %" PRIu64 " %s %u %d %s%s\n", lv.full_name, lv.size, lv.type,
                   lv.nb_segments, lv.visible, lv.readable ? "readable" : "refused: ",
                   lv.readable ? "" : lv.refusal);
            for (uint32_t s = 0; s < lv.nb_segments; s++)
                print_segment(lvm, v, i, s, lv.full_name);
        }
    }
    for (uint32_t i = 0; i < imgfmt_lvm_nb_warnings(lvm); i++)
        printf("warning %s\n", imgfmt_lvm_warning(lvm, i));
    return 0;
}

static int dump(imgfmt_lvm *lvm, const char *name)
{
    uint32_t v, i;
    imgfmt_lvm_lv lv;
    static char buf[1 << 20];
    int r = imgfmt_lvm_find_lv(lvm, name, &v, &i);
    if (r == 0)
        r = imgfmt_lvm_get_lv(lvm, v, i, &lv);
    for (uint64_t off = 0; r == 0 && off < lv.size; off += sizeof buf) {
        size_t n = lv.size - off < sizeof buf ? (size_t)(lv.size - off) : sizeof buf;
        r = imgfmt_lvm_pread(lvm, v, i, buf, n, off);
        if (r == 0 && fwrite(buf, 1, n, stdout) != n)
            return 1;
    }
    if (r < 0) {
        fprintf(stderr, "error %d %s\n", r, imgfmt_lvm_last_error(lvm)->msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: lv-dump IMAGE [VG/LV]\n");
        return 2;
    }
    imgfmt_image *img = NULL;
    imgfmt_lvm *lvm = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(argv[1], NULL, &img, &err);
    if (r == 0)
        r = imgfmt_lvm_scan(img, &lvm, &err);
    if (r < 0) {
        fprintf(stderr, "error %d %s\n", r, err.msg);
        imgfmt_close(img);
        return 1;
    }
    int rc = argc == 2 ? list(lvm) : dump(lvm, argv[2]);
    imgfmt_lvm_free(lvm);
    imgfmt_close(img);
    return rc;
}
