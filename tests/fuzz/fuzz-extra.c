/*
 * fuzz-extra.c -- further paths the fuzz target drives on an opened image:
 * the qcow2 planner through measure (fast always; exact, and compressed,
 * only for small virtual sizes, so one input cannot run for long) and the
 * one-pass writer (small images), with a
 * small memory cap so a hostile extent map ends in a LIMIT error; and
 * the partition-table parser (MBR, EBR chains, GPT) with the file-system
 * probe of every partition, and the probe of a bare volume at offset 0;
 * the import pre-flight (small images: it measures exactly), whose
 * findings must be consistent.
 */
#include <stdlib.h>

#include "fuzz.h"

/* The seekable writer's output is only checked for its extent: every write
 * inside [0, length), the last byte written at length - 1. */
static int count_pwrite(void *opaque, const void *buf, size_t len, uint64_t off)
{
    uint64_t *end = opaque;
    (void)buf;
    if (off + len > *end)
        *end = off + len;
    return 0;
}

static void fuzz_writer(imgfmt_image *img)
{
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.max_plan_bytes = 1u << 20;
    o.cluster_size = 4096;
    uint64_t end = 0;
    imgfmt_qcow2_writer *w = NULL;
    if (imgfmt_qcow2_writer_new_seekable(img, &o, count_pwrite, &end, &w, NULL) < 0)
        return;
    int r;
    while ((r = imgfmt_qcow2_writer_step(w, NULL, NULL)) == 0)
        ;
    if (r == 1 && end != imgfmt_qcow2_writer_length(w))
        abort();   /* a layout bug: the file would not be what was planned */
    imgfmt_qcow2_writer_free(w);
}

/* Every rule of the pre-flight; the result must hold together. */
static void fuzz_check(imgfmt_image *img)
{
    imgfmt_check_result *r = NULL;
    if (imgfmt_check_run(img, NULL, &r, NULL) < 0)
        return;
    uint32_t n = imgfmt_check_count(r), sum = 0;
    for (int st = IMGFMT_CHECK_PASS; st <= IMGFMT_CHECK_NOT_CHECKED; st++)
        sum += imgfmt_check_count_status(r, (enum imgfmt_check_status)st);
    if (n == 0 || sum != n)
        abort();
    imgfmt_check_finding f;
    f.struct_size = sizeof f;
    for (uint32_t i = 0; i < n; i++) {
        if (imgfmt_check_get(r, i, &f) != 0 || !f.message[0])
            abort();
        int fails_or_warns = f.status == IMGFMT_CHECK_FAIL || f.status == IMGFMT_CHECK_WARN;
        if ((f.fix[0] != 0) != fails_or_warns)
            abort();   /* a fix exactly for what fails or warns */
    }
    imgfmt_check_result_free(r);
}

void fuzz_extra(imgfmt_image *img)
{
    (void)imgfmt_backing(img);
    imgfmt_qcow2_bitmap bm;
    for (uint32_t i = 0; i < 64 && imgfmt_qcow2_get_bitmap(img, i, &bm) == 0; i++)
        (void)bm.name;
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.max_plan_bytes = 1u << 20;
    imgfmt_measure m;
    m.struct_size = sizeof m;
    (void)imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_FAST, NULL, NULL, &m);
    uint64_t vs = imgfmt_virtual_size(img);
    if (vs <= (64u << 20))
        (void)imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m);
    if (vs <= (4u << 20)) {
        fuzz_writer(img);
        o.compress = 1;
        o.cluster_size = 4096;
        (void)imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m);
    }
    imgfmt_partition_table *t = NULL;
    if (imgfmt_partitions(img, &t) == 0) {
        for (uint32_t i = 0; i < t->nb_partitions; i++)
            (void)t->parts[i].fs.name[0];
        for (uint32_t i = 0; i < imgfmt_nb_warnings(img); i++)
            (void)imgfmt_warning(img, i)[0];
        imgfmt_partition_table_free(t);
    }
    imgfmt_fs fs;
    (void)imgfmt_probe_fs(img, 0, 0, &fs);
    if (vs <= (4u << 20))
        fuzz_check(img);
}
