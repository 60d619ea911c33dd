/*
 * fuzz-lvm.c -- LVM2: the input is the start of a disk (zero-filled to
 * 8 MiB, so a PV found in it has room for its extents), scanned for PVs
 * with imgfmt_lvm_scan; every LV is listed and the first and last bytes of
 * each readable one read.  The input is also parsed as a metadata text,
 * and scanned a second time with the checksums of every label, metadata
 * area header and (unwrapped) metadata text found in it set right, so
 * that mutations get past them to the VG builder.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
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

/* The metadata area at byte mda of disk (len bytes): text CRC (when the
 * text does not wrap), then the header CRC. */
static void fix_mda(uint8_t *d, size_t len, uint64_t mda)
{
    if (mda > len || len - mda < 512 || memcmp(d + mda + 4, LVM_MDA_MAGIC, 16) != 0)
        return;
    uint64_t off = ifmt_le64(d + mda + 40), n = ifmt_le64(d + mda + 48);
    uint64_t area = ifmt_le64(d + mda + 32);
    if (off <= area && n <= area - off && off <= len - mda && n <= len - mda - off)
        ifmt_put_le32(d + mda + 56, ifmt_lvm_crc(LVM_CRC_INIT, d + mda + off, (size_t)n));
    ifmt_put_le32(d + mda, ifmt_lvm_crc(LVM_CRC_INIT, d + mda + 4, 508));
}

static void fix_checksums(uint8_t *d, size_t len)
{
    for (size_t s = 0; s + 512 <= len; s += 512) {
        uint8_t *l = d + s;
        uint64_t own = ifmt_le64(l + 8);
        uint32_t at = ifmt_le32(l + 20);
        if (memcmp(l, LVM_LABEL_ID, 8) != 0 || own >= 4 || own * 512 > s ||
            at < 32 || at > 512 - 56)
            continue;
        size_t base = s - (size_t)own * 512;
        int list = 0;
        for (uint32_t p = at + 40; p + 16 <= 512 && list < 2; p += 16) {
            uint64_t a = ifmt_le64(l + p), b = ifmt_le64(l + p + 8);
            if (a == 0 && b == 0)
                list++;
            else if (list == 1 && a < len - base)
                fix_mda(d, len, base + a);
        }
        ifmt_put_le32(l + 16, ifmt_lvm_crc(LVM_CRC_INIT, l + 20, 492));
    }
}

static void scan(const uint8_t *data, size_t size, int fix)
{
    size_t len = size > FUZZ_LVM_DISK ? size : FUZZ_LVM_DISK;
    uint8_t *disk = calloc(1, len);
    if (!disk)
        return;
    memcpy(disk, data, size);
    if (fix)
        fix_checksums(disk, size);
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lvm_meta *m = NULL;
    if (ifmt_lvm_meta_parse((const char *)data, size, 16u << 20, &m, NULL) == 0)
        ifmt_lvm_meta_free(m);
    scan(data, size, 0);
    scan(data, size, 1);
    return 0;
}
