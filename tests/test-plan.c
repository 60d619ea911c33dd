/*
 * test-plan.c -- the qcow2 layout planner through imgfmt_measure_qcow2():
 * the converted lengths of docs/formats.md, Measured lengths, that can be
 * built small (sparse raw files; the content only needs the same
 * zero/non-zero clusters), the measure figures, refcount block growth with small clusters (lengths
 * taken from qemu-img 7.2), option checks and the refusals; and the layout
 * cursor directly: file order and density, and a cursor following a plan
 * that is still being recorded placing what the whole walk places.
 */
#define IMGFMT_BUILDING 1
#include <fcntl.h>

#include "testutil.h"
#include "core/internal.h"
#include "output/qcow2-plan.h"

struct seg { uint64_t off, len; };

/* A sparse raw file of size bytes with 0xa5 (or fill) in each segment. */
static char *mk_raw(uint64_t size, const struct seg *s, size_t n, int fill)
{
    char *p = tmp_file(NULL, 0);
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
    uint8_t *buf = malloc(1 << 20);
    memset(buf, fill, 1 << 20);
    for (size_t i = 0; i < n; i++)
        for (uint64_t o = 0; o < s[i].len;) {
            size_t k = (size_t)(s[i].len - o < (1u << 20) ? s[i].len - o : (1u << 20));
            ck_assert_int_eq(pwrite(fd, buf, k, (off_t)(s[i].off + o)), (ssize_t)k);
            o += k;
        }
    free(buf);
    close(fd);
    return p;
}

static imgfmt_measure measure_file(const char *path, const imgfmt_qcow2_opts *o,
                                   enum imgfmt_measure_mode mode)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(path, NULL, &img, &err), 0);
    imgfmt_measure m;
    m.struct_size = sizeof m;
    int r = imgfmt_measure_qcow2(img, o, mode, NULL, NULL, &m);
    ck_assert_msg(r == 0, "measure failed: %d %s", r, imgfmt_last_error(img)->msg);
    imgfmt_close(img);
    return m;
}

static uint64_t len_of(uint64_t size, const struct seg *s, size_t n, const imgfmt_qcow2_opts *o)
{
    char *p = mk_raw(size, s, n, 0xa5);
    imgfmt_measure m = measure_file(p, o, IMGFMT_MEASURE_EXACT);
    imgfmt_measure f = measure_file(p, o, IMGFMT_MEASURE_FAST);
    /* The fast figure is an upper bound of the exact one. */
    ck_assert_uint_ge(f.length, m.length);
    ck_assert_uint_eq(f.mode, IMGFMT_MEASURE_FAST);
    ck_assert_uint_eq(m.mode, IMGFMT_MEASURE_EXACT);
    unlink(p);
    free(p);
    return m.length;
}

START_TEST(test_e1_dense)
{
    struct seg s[] = {{0, 1 << 20}};
    ck_assert_uint_eq(len_of(1 << 20, s, 1, NULL), 1376256);
}
END_TEST

START_TEST(test_e2_sparse)
{
    struct seg s[] = {{0, 1}, {10 * 1048576 + 12288, 4096}, {52428700, 65537}, {104857088, 512}};
    char *p = mk_raw(100 << 20, s, 4, 0xa5);
    imgfmt_measure m = measure_file(p, NULL, IMGFMT_MEASURE_EXACT);
    ck_assert_uint_eq(m.length, 655360);
    ck_assert_uint_eq(m.required, 655360);
    ck_assert_uint_eq(m.fully_allocated, 105185280);
    ck_assert_uint_eq(m.data_clusters, 5);
    ck_assert_uint_eq(m.l2_tables, 1);
    ck_assert_uint_eq(m.refcount_blocks, 1);
    ck_assert_uint_eq(m.virtual_size, 100 << 20);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_e3_l2_boundary)
{
    struct seg s[] = {{0, 65536}, {511ull << 20, 3 << 20}, {(1ull << 30) - 512, 512}};
    char *p = mk_raw(1ull << 30, s, 3, 0xa5);
    imgfmt_measure m = measure_file(p, NULL, IMGFMT_MEASURE_EXACT);
    ck_assert_uint_eq(m.length, 3670016);
    ck_assert_uint_eq(m.required, 3670016);
    ck_assert_uint_eq(m.fully_allocated, 1074135040);
    ck_assert_uint_eq(m.l2_tables, 2);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_e6_unaligned)
{
    struct seg s[] = {{0, 4096}, {999999000, 1000}};
    ck_assert_uint_eq(len_of(1000000000, s, 2, NULL), 524288);
}
END_TEST

START_TEST(test_e8_written_zeros)
{
    /* 4 MiB of written zeros: measure's "required" counts them, the
     * conversion does not allocate them. */
    char *p = mk_raw(64 << 20, (struct seg[]){{10 << 20, 4 << 20}}, 1, 0);
    int fd = open(p, O_WRONLY);
    uint8_t b[65536];
    memset(b, 0x5a, sizeof b);
    ck_assert_int_eq(pwrite(fd, b, sizeof b, 0), (ssize_t)sizeof b);
    ck_assert_int_eq(pwrite(fd, b, sizeof b, 20 << 20), (ssize_t)sizeof b);
    close(fd);
    imgfmt_measure m = measure_file(p, NULL, IMGFMT_MEASURE_EXACT);
    ck_assert_uint_eq(m.length, 458752);
    ck_assert_uint_eq(m.required, 4653056);
    ck_assert_uint_eq(m.fully_allocated, 67436544);
    imgfmt_measure f = measure_file(p, NULL, IMGFMT_MEASURE_FAST);
    ck_assert_uint_ge(f.length, m.length);
    ck_assert_uint_eq(f.length, f.upper_bound);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_e10_odd_size)
{
    struct seg s[] = {{0, 100}, {999990, 11}};
    ck_assert_uint_eq(len_of(1000001, s, 2, NULL), 458752);
}
END_TEST

START_TEST(test_e14_e15_tiny)
{
    ck_assert_uint_eq(len_of(0, NULL, 0, NULL), 196608);
    struct seg s[] = {{0, 3}};
    ck_assert_uint_eq(len_of(3, s, 1, NULL), 393216);
    /* Empty 1 GiB: 3 clusters plus the written part of L1 (2 entries). */
    ck_assert_uint_eq(len_of(1ull << 30, NULL, 0, NULL), 196624);
    /* -c with nothing to compress (no placed objects at all); qemu-img
     * convert -c gives 196608 and, for 1 GiB, 197120 (rounded to 512). */
    imgfmt_qcow2_opts c;
    imgfmt_qcow2_opts_init(&c);
    c.compress = 1;
    ck_assert_uint_eq(len_of(0, NULL, 0, &c), 196608);
    ck_assert_uint_eq(len_of(1ull << 30, NULL, 0, &c), 197120);
}
END_TEST

START_TEST(test_cluster_sizes)
{
    /* E2 content at other cluster sizes (qemu-img 7.2 lengths). */
    struct seg s[] = {{0, 1}, {10 * 1048576 + 12288, 4096}, {52428700, 65537}, {104857088, 512}};
    static const struct { uint32_t cs, bits; uint64_t len; } k[] = {
        {4096, 16, 118784}, {2u << 20, 16, 20971520}, {512, 16, 112128},
        {1024, 16, 97280}, {2048, 16, 100352}, {65536, 1, 655360}, {65536, 64, 655360},
    };
    char *p = mk_raw(100 << 20, s, 4, 0xa5);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        imgfmt_qcow2_opts o;
        imgfmt_qcow2_opts_init(&o);
        o.cluster_size = k[i].cs;
        o.refcount_bits = k[i].bits;
        imgfmt_measure m = measure_file(p, &o, IMGFMT_MEASURE_EXACT);
        ck_assert_msg(m.length == k[i].len, "cs %u bits %u: %llu != %llu", k[i].cs, k[i].bits,
                      (unsigned long long)m.length, (unsigned long long)k[i].len);
    }
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_refblock_growth_small_clusters)
{
    /* Dense data with small clusters: many refcount blocks.  Lengths from
     * qemu-img convert -O qcow2 -o cluster_size=...,refcount_bits=... */
    static const struct { uint64_t size; uint32_t cs, bits; uint64_t len, rb; } k[] = {
        {2 << 20, 512, 16, 2140160, 17},
        {2 << 20, 1024, 32, 2125824, 0},
        {20 << 20, 4096, 16, 21037056, 3},
        {20 << 20, 4096, 64, 21069824, 11},
        {20 << 20, 2048, 16, 21082112, 0},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        struct seg s[] = {{0, k[i].size}};
        char *p = mk_raw(k[i].size, s, 1, 0xa5);
        imgfmt_qcow2_opts o;
        imgfmt_qcow2_opts_init(&o);
        o.cluster_size = k[i].cs;
        o.refcount_bits = k[i].bits;
        imgfmt_measure m = measure_file(p, &o, IMGFMT_MEASURE_EXACT);
        ck_assert_msg(m.length == k[i].len, "case %zu: %llu != %llu", i,
                      (unsigned long long)m.length, (unsigned long long)k[i].len);
        ck_assert_uint_gt(m.refcount_blocks, 1);
        if (k[i].rb)
            ck_assert_uint_eq(m.refcount_blocks, k[i].rb);
        unlink(p);
        free(p);
    }
}
END_TEST

START_TEST(test_formula_matches_simulation)
{
    /* qp_place_all() and the closed formula (docs/formats.md, qcow2 exact
     * length) agree on every uncompressed plan (the fast bound uses the
     * formula). */
    imgfmt_image *img = NULL;
    static uint8_t buf[1 << 20];
    ck_assert_int_eq(imgfmt_open_memory(buf, sizeof buf, NULL, &img, NULL), 0);
    static const uint32_t css[] = {512, 4096, 65536};
    for (size_t c = 0; c < 3; c++)
        for (uint64_t D = 0; D < 3000; D += 97) {
            imgfmt_qcow2_opts o;
            imgfmt_qcow2_opts_init(&o);
            o.cluster_size = css[c];
            o.refcount_bits = 8;
            struct qplan p;
            ck_assert_int_eq(qp_init(&p, img, &o), 0);
            /* Every third cluster of the disk, up to D of them. */
            uint64_t n = 0;
            for (uint64_t g = 0; g < p.guest_clusters && n < D; g += 3, n++) {
                struct qp_run *r;
                if (p.nruns == p.runs_cap) {
                    p.runs_cap = p.runs_cap ? 2 * p.runs_cap : 64;
                    p.runs = realloc(p.runs, p.runs_cap * sizeof *p.runs);
                }
                r = &p.runs[p.nruns++];
                r->first = g;
                r->count = 1;
                if (p.nruns == 1 || (p.runs[p.nruns - 2].first / p.l2_entries) != g / p.l2_entries)
                    p.l2_tables++;
                p.data_clusters++;
            }
            ck_assert_int_eq(qp_place_all(&p), 0);
            ck_assert_uint_eq(p.length, qp_formula_length(&p, p.data_clusters, p.l2_tables));
            qp_free(&p);
        }
    imgfmt_close(img);
}
END_TEST

/* Record allocated guest cluster g (after every one before it) in a plan,
 * as the scan does; stream_len is used with compression (0: stored). */
static void plan_add(struct qplan *p, uint64_t g, uint32_t stream_len)
{
    struct qp_run *last = p->nruns ? &p->runs[p->nruns - 1] : NULL;
    if (!last || (last->first + last->count - 1) / p->l2_entries != g / p->l2_entries)
        p->l2_tables++;
    if (last && last->first + last->count == g) {
        last->count++;
    } else {
        if (p->nruns == p->runs_cap) {
            p->runs_cap = p->runs_cap ? 2 * p->runs_cap : 64;
            p->runs = realloc(p->runs, p->runs_cap * sizeof *p->runs);
            ck_assert_ptr_nonnull(p->runs);
        }
        p->runs[p->nruns].first = g;
        p->runs[p->nruns].count = 1;
        p->nruns++;
    }
    p->data_clusters++;
    if (!p->opts.compress)
        return;
    if (p->ncomp_recorded == p->comp_cap) {
        p->comp_cap = p->comp_cap ? 2 * p->comp_cap : 64;
        p->comp_guest = realloc(p->comp_guest, p->comp_cap * sizeof *p->comp_guest);
        p->comp_len = realloc(p->comp_len, p->comp_cap * sizeof *p->comp_len);
        ck_assert(p->comp_guest && p->comp_len);
    }
    p->comp_guest[p->ncomp_recorded] = g;
    p->comp_len[p->ncomp_recorded++] = stream_len;
}

/* The guest clusters of the cursor tests: a dense start, a sparse tail
 * that crosses L2 ranges (64 entries with 512-byte clusters). */
static uint64_t cursor_test_guest(size_t i)
{
    return i < 200 ? i : 200 + (i - 200) * 5;
}

START_TEST(test_cursor_dense_file_order)
{
    /* Uncompressed, the cursor yields every object in file order with no
     * gap: L2 tables before the first cluster they map, refcount blocks
     * where the refcount table says, and it agrees with qp_place_all(). */
    imgfmt_image *img = NULL;
    static uint8_t buf[4 << 20];
    ck_assert_int_eq(imgfmt_open_memory(buf, sizeof buf, NULL, &img, NULL), 0);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 512;
    o.refcount_bits = 64;              /* 64 clusters per refcount block */
    struct qplan p;
    ck_assert_int_eq(qp_init(&p, img, &o), 0);
    for (size_t i = 0; i < 700; i++)
        plan_add(&p, cursor_test_guest(i), 0);
    struct qp_cursor c;
    struct qp_placed obj[QP_MAX_PLACED];
    size_t n, data = 0;
    uint64_t expect = qp_first_free_cluster(&p) * 512, refblocks = 1, range = UINT64_MAX;
    qp_cursor_init(&c, &p);
    while ((n = qp_cursor_next(&c, obj)) > 0) {
        ck_assert_uint_le(n, QP_MAX_PLACED);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(obj[i].host, expect);
            ck_assert_uint_eq(obj[i].len, 512);
            expect += 512;
            if (obj[i].kind == QP_REFBLOCK) {
                ck_assert_uint_eq(obj[i].host, qp_refblock_cluster(&p, obj[i].index) * 512);
                ck_assert_uint_eq(obj[i].index, refblocks++);
            } else if (obj[i].kind == QP_L2_TABLE) {
                ck_assert_uint_eq(obj[i].index, cursor_test_guest(data) / p.l2_entries);
                range = obj[i].index;
            } else {
                ck_assert_uint_eq(obj[i].kind, QP_DATA_CLUSTER);
                ck_assert_uint_eq(obj[i].index, cursor_test_guest(data++));
                ck_assert_uint_eq(obj[i].index / p.l2_entries, range);
            }
        }
    }
    ck_assert_uint_eq(data, 700);
    ck_assert_uint_gt(refblocks, 10);
    ck_assert_int_eq(qp_place_all(&p), 0);
    ck_assert_uint_eq(expect, p.used_clusters * 512);
    ck_assert_uint_eq(refblocks, p.refcount_blocks);
    ck_assert_uint_eq(qp_cursor_length(&c), p.length);
    ck_assert_uint_eq(p.length, qp_formula_length(&p, p.data_clusters, p.l2_tables));
    qp_free(&p);
    imgfmt_close(img);
}
END_TEST

static int placed_by_host(const void *a, const void *b)
{
    const struct qp_placed *x = a, *y = b;
    return x->host < y->host ? -1 : x->host > y->host;
}

START_TEST(test_cursor_follows_growing_plan)
{
    /* Compressed, with streams of many lengths and 2-bit refcounts: a
     * cursor that follows a plan still being recorded (the seekable
     * writer) places exactly what qp_place_all() places on the whole plan;
     * objects never overlap and no cluster is shared by more streams than
     * a refcount can count. */
    imgfmt_image *img = NULL;
    static uint8_t buf[4 << 20];
    ck_assert_int_eq(imgfmt_open_memory(buf, sizeof buf, NULL, &img, NULL), 0);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 512;
    o.refcount_bits = 2;              /* at most 3 streams share a cluster */
    o.compress = 1;
    struct qplan whole, growing;
    ck_assert_int_eq(qp_init(&whole, img, &o), 0);
    ck_assert_int_eq(qp_init(&growing, img, &o), 0);
    struct qp_placed *seen = calloc(4 * 700, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    size_t nseen = 0, n;
    struct qp_cursor c;
    qp_cursor_init(&c, &growing);
    uint32_t x = 12345;
    for (size_t i = 0; i < 700; i++) {
        x = x * 1103515245u + 12345u;
        /* A quarter stored whole, a quarter tiny streams (more than 3
         * would fit in a cluster), the rest up to a cluster. */
        uint32_t kind = (x >> 8) % 4, r = x >> 12;
        uint32_t len = kind == 0 ? 0 : kind == 1 ? 1 + r % 40 : 1 + r % 511;
        plan_add(&whole, cursor_test_guest(i), len);
        plan_add(&growing, cursor_test_guest(i), len);
        while ((n = qp_cursor_next(&c, seen + nseen)) > 0)
            nseen += n;
    }
    ck_assert_int_eq(qp_place_all(&whole), 0);
    ck_assert_uint_eq(nseen, whole.nplaced);
    /* Streams went back into partly used clusters: allocation order is
     * not file order here. */
    size_t backwards = 0;
    for (size_t i = 1; i < nseen; i++)
        backwards += seen[i].host < seen[i - 1].host;
    ck_assert_uint_gt(backwards, 0);
    qsort(seen, nseen, sizeof *seen, placed_by_host);
    ck_assert_int_eq(memcmp(seen, whole.placed, nseen * sizeof *seen), 0);
    ck_assert_uint_eq(qp_cursor_length(&c), whole.length);
    uint64_t cluster = UINT64_MAX, refs = 0, full = 0;
    for (size_t i = 0; i < nseen; i++) {
        if (i > 0)
            ck_assert_uint_le(seen[i - 1].host + seen[i - 1].len, seen[i].host);
        for (uint64_t k = seen[i].host / 512; k <= (seen[i].host + seen[i].len - 1) / 512; k++) {
            refs = k == cluster ? refs + 1 : 1;
            cluster = k;
            ck_assert_uint_le(refs, whole.refcount_max);
            full += refs == whole.refcount_max;
        }
    }
    ck_assert_uint_gt(full, 0);       /* the refcount limit was reached */
    free(seen);
    qp_free(&whole);
    qp_free(&growing);
    imgfmt_close(img);
}
END_TEST

START_TEST(test_bad_options)
{
    static uint8_t buf[4096];
    imgfmt_image *img = open_mem_ok(buf, sizeof buf);
    imgfmt_measure m;
    m.struct_size = sizeof m;
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 3000;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "cluster_size 3000"));
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 4u << 20;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    imgfmt_qcow2_opts_init(&o);
    o.refcount_bits = 3;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "refcount_bits 3"));
    imgfmt_qcow2_opts_init(&o);
    o.compat_v3 = 0;
    o.refcount_bits = 8;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "compat 1.1"));
    imgfmt_qcow2_opts_init(&o);
    o.compat_v3 = 0;
    o.compression_type = IMGFMT_QCOW2_ZSTD;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    imgfmt_qcow2_opts_init(&o);
    o.struct_size = 4;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, (enum imgfmt_measure_mode)7, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    m.struct_size = 0;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_INVAL);
    imgfmt_close(img);
}
END_TEST

START_TEST(test_refusals)
{
    /* 512-byte clusters: one refcount table cluster covers 8 MiB of output;
     * qemu would grow the table, which we do not model. */
    struct seg s[] = {{0, 9 << 20}};
    char *p = mk_raw(9 << 20, s, 1, 0xa5);
    imgfmt_image *img = NULL;
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, NULL), 0);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 512;
    imgfmt_measure m;
    m.struct_size = sizeof m;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "refcount table"));
    /* The planner's memory cap. */
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 4096;
    o.max_plan_bytes = 1024;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, &o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m),
                     IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "cap"));
    imgfmt_close(img);
    unlink(p);
    free(p);
}
END_TEST

static uint64_t prog_calls, prog_last;
static void prog_cb(void *opaque, uint64_t done, uint64_t total)
{
    (void)opaque;
    ck_assert_uint_le(done, total);
    ck_assert_uint_ge(done, prog_last);
    prog_last = done;
    prog_calls++;
}

START_TEST(test_progress)
{
    struct seg s[] = {{0, 1 << 20}};
    char *p = mk_raw(200 << 20, s, 1, 0xa5);
    imgfmt_image *img = NULL;
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, NULL), 0);
    imgfmt_measure m;
    m.struct_size = sizeof m;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_EXACT, prog_cb, NULL, &m), 0);
    ck_assert_uint_ge(prog_calls, 1);
    ck_assert_uint_eq(prog_last, 200 << 20);
    imgfmt_close(img);
    unlink(p);
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("lengths");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_e1_dense);
    tcase_add_test(tc, test_e2_sparse);
    tcase_add_test(tc, test_e3_l2_boundary);
    tcase_add_test(tc, test_e6_unaligned);
    tcase_add_test(tc, test_e8_written_zeros);
    tcase_add_test(tc, test_e10_odd_size);
    tcase_add_test(tc, test_e14_e15_tiny);
    tcase_add_test(tc, test_cluster_sizes);
    tcase_add_test(tc, test_refblock_growth_small_clusters);
    tcase_add_test(tc, test_formula_matches_simulation);
    tcase_add_test(tc, test_cursor_dense_file_order);
    tcase_add_test(tc, test_cursor_follows_growing_plan);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("options");
    tcase_add_test(tb, test_bad_options);
    tcase_add_test(tb, test_refusals);
    tcase_add_test(tb, test_progress);
    suite_add_tcase(s, tb);
    return run_suite(s);
}
