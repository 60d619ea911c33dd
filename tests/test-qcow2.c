/*
 * test-qcow2.c -- the QCOW2 reader: probing, header decoding from byte
 * arrays, reads and block status of images built here (every entry type)
 * and of committed qemu-made images (testdata/ *.qcow2.gz), and every bad
 * input with its error code and message.
 */
#define IMGFMT_BUILDING 1
#include <sys/stat.h>
#include <zlib.h>

#include "imgfmt-config.h"
#include "testutil.h"
#include "testdata-gz.h"
#include "core/internal.h"
#include "formats/qcow2.h"

/* ---- an image builder ------------------------------------------------ */

/*
 * A small valid image in memory.  Clusters: 0 header, 1 refcount table,
 * 2 refcount block, 3 L1, 4 L2 table of L1 entry 0, 5 data of guest
 * cluster 0, 6 compressed data of guest cluster 2 (at byte 100 of the
 * cluster), 7 host cluster of the zero-alloc guest cluster 3.  Guest
 * cluster 1 is zero-plain; the rest, and all of L1 entry 1, unallocated.
 * Extended L2 (cluster_bits >= 14) uses the bitmaps instead.
 */
struct bimg {
    uint8_t *b;
    size_t len;
    unsigned cb;
    uint64_t cs;
    unsigned entry_len;
    uint64_t size;
};

#define PAT_DATA 0xab

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i / 7) * 13 + seed);
}

static size_t deflate_raw(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(deflateInit2(&s, 6, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (Bytef *)(uintptr_t)in;
    s.avail_in = (uInt)inlen;
    s.next_out = out;
    s.avail_out = (uInt)outlen;
    ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t n = outlen - s.avail_out;
    deflateEnd(&s);
    return n;
}

static uint64_t l2_at(struct bimg *m, unsigned i)
{
    return ifmt_be64(m->b + 4 * m->cs + (size_t)i * m->entry_len);
}

static void set_l2(struct bimg *m, unsigned i, uint64_t e, uint64_t bitmap)
{
    ifmt_put_be64(m->b + 4 * m->cs + (size_t)i * m->entry_len, e);
    if (m->entry_len == 16)
        ifmt_put_be64(m->b + 4 * m->cs + (size_t)i * m->entry_len + 8, bitmap);
}

/* Compress inlen bytes of the pattern into cluster 6 + 100 and point
 * guest cluster 2 at it. */
static void put_compressed(struct bimg *m, size_t inlen)
{
    uint8_t *plain = malloc(inlen);
    pattern(plain, inlen, 3);
    uint64_t off = 6 * m->cs + 100;
    size_t clen = deflate_raw(plain, inlen, m->b + off, m->len - off);
    free(plain);
    set_l2(m, 2, qcow2_compressed_encode(off, clen, m->cb), 0);
}

static struct bimg build(unsigned cb, unsigned version, bool extl2)
{
    struct bimg m;
    m.cb = cb;
    m.cs = 1ull << cb;
    m.entry_len = extl2 ? 16 : 8;
    uint64_t l2_entries = m.cs / m.entry_len;
    m.size = l2_entries * m.cs + 4 * m.cs;          /* needs 2 L1 entries */
    m.len = (size_t)(8 * m.cs);
    m.b = calloc(1, m.len);
    uint8_t *h = m.b;
    ifmt_put_be32(h + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
    ifmt_put_be32(h + QCOW2_HDR_VERSION, version);
    ifmt_put_be32(h + QCOW2_HDR_CLUSTER_BITS, cb);
    ifmt_put_be64(h + QCOW2_HDR_SIZE, m.size);
    ifmt_put_be32(h + QCOW2_HDR_L1_SIZE, 2);
    ifmt_put_be64(h + QCOW2_HDR_L1_OFFSET, 3 * m.cs);
    ifmt_put_be64(h + QCOW2_HDR_REFTABLE_OFFSET, 1 * m.cs);
    ifmt_put_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
    if (version >= 3) {
        ifmt_put_be64(h + QCOW2_HDR_INCOMPAT, extl2 ? QCOW2_INCOMPAT_EXTL2 : 0);
        ifmt_put_be32(h + QCOW2_HDR_REFCOUNT_ORDER, 4);
        ifmt_put_be32(h + QCOW2_HDR_HEADER_LENGTH, QCOW2_V3_HEADER_LENGTH);
    }
    ifmt_put_be64(m.b + 1 * m.cs, 2 * m.cs);                 /* refcount table */
    ifmt_put_be64(m.b + 3 * m.cs, QCOW2_OFLAG_COPIED | 4 * m.cs);   /* L1[0] */
    pattern(m.b + 5 * m.cs, (size_t)m.cs, 1);
    memset(m.b + 7 * m.cs, 0x77, (size_t)m.cs);              /* must not show */
    if (!extl2) {
        set_l2(&m, 0, QCOW2_OFLAG_COPIED | 5 * m.cs, 0);
        if (version >= 3) {
            set_l2(&m, 1, QCOW2_OFLAG_ZERO, 0);
            set_l2(&m, 3, QCOW2_OFLAG_COPIED | 7 * m.cs | QCOW2_OFLAG_ZERO, 0);
        }
    } else {
        /* cluster 0: subclusters 0-15 data, 16-23 zero, 24-31 unallocated */
        set_l2(&m, 0, QCOW2_OFLAG_COPIED | 5 * m.cs, 0x00ff00000000ffffull);
        set_l2(&m, 1, 0, 0xffffffff00000000ull);              /* all zero */
        set_l2(&m, 3, QCOW2_OFLAG_COPIED | 7 * m.cs, 0xffffffff00000000ull);
    }
    put_compressed(&m, (size_t)m.cs);
    return m;
}

static imgfmt_image *bopen(struct bimg *m)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_QCOW2;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(m->b, m->len, &o, &img, &err);
    ck_assert_msg(r == 0, "open failed: %d %s", r, err.msg);
    return img;
}

static void bfails(struct bimg *m, int code, const char *needle)
{
    open_mem_fails(m->b, m->len, IMGFMT_FMT_QCOW2, code, needle);
}

/* Open succeeds; reading everything fails with code + needle. */
static void bread_fails(struct bimg *m, int code, const char *needle)
{
    imgfmt_image *img = bopen(m);
    uint64_t size = imgfmt_virtual_size(img);
    uint8_t *buf = malloc((size_t)size);
    int r = imgfmt_pread(img, buf, (size_t)size, 0);
    ck_assert_msg(r == code, "expected %d, got %d (%s) [%s]", code, r,
                  imgfmt_last_error(img)->msg, needle);
    ck_assert_msg(strstr(imgfmt_last_error(img)->msg, needle), "message \"%s\" lacks \"%s\"",
                  imgfmt_last_error(img)->msg, needle);
    free(buf);
    imgfmt_close(img);
}

static void bfree(struct bimg *m)
{
    free(m->b);
}

/* ---- helpers for committed images ------------------------------------ */

static uint32_t crc_all(imgfmt_image *img)
{
    uint64_t size = imgfmt_virtual_size(img);
    uint8_t *buf = malloc((size_t)size);
    ck_assert_int_eq(imgfmt_pread(img, buf, (size_t)size, 0), 0);
    uint32_t c = (uint32_t)crc32(0, buf, (uInt)size);
    free(buf);
    return c;
}

/* Extents as "start len D|Z;" */
static void map_str(imgfmt_image *img, char *out, size_t outlen)
{
    imgfmt_extent_iter *it;
    imgfmt_extent e;
    size_t pos = 0;
    out[0] = '\0';
    ck_assert_int_eq(imgfmt_extents_begin(img, 0, imgfmt_virtual_size(img), &it), 0);
    while (imgfmt_extents_next(it, &e) == 1)
        pos += (size_t)snprintf(out + pos, outlen - pos, "%llu %llu %c;",
                                (unsigned long long)e.offset, (unsigned long long)e.length,
                                (e.flags & IMGFMT_EXTENT_DATA) ? 'D' : 'Z');
    imgfmt_extents_end(it);
}

/* ---- probe and header ------------------------------------------------- */

START_TEST(test_probe)
{
    struct bimg m = build(9, 3, false);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_QCOW2)->probe(m.b, 512, NULL, 0, m.len), 100);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_QCOW2)->probe(m.b, 4, NULL, 0, m.len), 0);
    ifmt_put_be32(m.b + 4, 1);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_QCOW2)->probe(m.b, 512, NULL, 0, m.len), 0);
    ifmt_put_be32(m.b + 4, 2);
    m.b[0] = 'X';
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_QCOW2)->probe(m.b, 512, NULL, 0, m.len), 0);
    m.b[0] = 'Q';
    /* Probed through the core. */
    imgfmt_image *img = open_mem_ok(m.b, m.len);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_QCOW2);
    imgfmt_close(img);
    bfree(&m);
}
END_TEST

START_TEST(test_header_decode)
{
    struct bimg m = build(16, 3, false);
    struct qcow2_header h;
    ck_assert(!qcow2_header_decode(m.b, 71, &h));
    ck_assert(!qcow2_header_decode(m.b, 100, &h));      /* v3 needs 104 */
    ck_assert(qcow2_header_decode(m.b, 512, &h));
    ck_assert_uint_eq(h.magic, QCOW2_MAGIC);
    ck_assert_uint_eq(h.version, 3);
    ck_assert_uint_eq(h.cluster_bits, 16);
    ck_assert_uint_eq(h.size, m.size);
    ck_assert_uint_eq(h.l1_size, 2);
    ck_assert_uint_eq(h.l1_offset, 3 * 65536);
    ck_assert_uint_eq(h.reftable_offset, 65536);
    ck_assert_uint_eq(h.header_length, 112);
    ck_assert_uint_eq(h.refcount_order, 4);
    ck_assert_uint_eq(h.compression_type, 0);
    m.b[QCOW2_HDR_COMPRESSION_TYPE] = 1;
    ck_assert(qcow2_header_decode(m.b, 512, &h));
    ck_assert_uint_eq(h.compression_type, 1);
    bfree(&m);
    /* v2: implied fields. */
    m = build(9, 2, false);
    ck_assert(qcow2_header_decode(m.b, 72, &h));
    ck_assert_uint_eq(h.version, 2);
    ck_assert_uint_eq(h.header_length, 72);
    ck_assert_uint_eq(h.refcount_order, 4);
    ck_assert_uint_eq(h.incompat, 0);
    bfree(&m);
    /* Compressed descriptors (docs/formats.md, qcow2 entries): cs 64 KiB, offset field 54 bits. */
    uint64_t off, csize;
    uint64_t e = qcow2_compressed_encode(0x12345, 1000, 16);
    ck_assert_uint_eq(e >> 54 & 0xff, (0x12345 + 999) / 512 - 0x12345 / 512);
    qcow2_compressed_decode(e, 16, &off, &csize);
    ck_assert_uint_eq(off, 0x12345);
    ck_assert_uint_eq(csize, 3 * 512 - (0x12345 & 511));
    qcow2_compressed_decode(QCOW2_OFLAG_COMPRESSED | (1ull << 61) | 512, 9, &off, &csize);
    ck_assert_uint_eq(off, 512);                  /* 512 B clusters: x = 61 */
    ck_assert_uint_eq(csize, 1024);
    ck_assert_int_eq(qcow2_l2_type(0, false, false), QCOW2_CT_UNALLOC);
    ck_assert_int_eq(qcow2_l2_type(1, false, false), QCOW2_CT_ZERO_PLAIN);
    ck_assert_int_eq(qcow2_l2_type(0x10001, false, false), QCOW2_CT_ZERO_ALLOC);
    ck_assert_int_eq(qcow2_l2_type(0x10001, true, false), QCOW2_CT_NORMAL);
    ck_assert_int_eq(qcow2_l2_type(QCOW2_OFLAG_COPIED, false, true), QCOW2_CT_NORMAL);
    ck_assert_int_eq(qcow2_l2_type(QCOW2_OFLAG_COPIED, false, false), QCOW2_CT_UNALLOC);
    ck_assert_uint_eq(qcow2_size_to_l1(512ull << 20, 16, 13), 1);
    ck_assert_uint_eq(qcow2_size_to_l1((512ull << 20) + 1, 16, 13), 2);
}
END_TEST

/* ---- reads and status of built images --------------------------------- */

static void check_built(unsigned cb, unsigned version, bool extl2)
{
    struct bimg m = build(cb, version, extl2);
    imgfmt_image *img = bopen(&m);
    ck_assert_uint_eq(imgfmt_virtual_size(img), m.size);
    size_t cs = (size_t)m.cs;
    uint8_t *buf = malloc(4 * cs), *exp = calloc(1, 4 * cs);
    pattern(exp, cs, 1);
    pattern(exp + 2 * cs, cs, 3);
    if (extl2)
        memset(exp + cs / 2, 0, cs / 2);   /* subclusters 16-31 zero/unalloc */
    ck_assert_int_eq(imgfmt_pread(img, buf, 4 * cs, 0), 0);
    ck_assert(memcmp(buf, exp, 4 * cs) == 0);
    /* Unaligned small reads inside the compressed cluster. */
    ck_assert_int_eq(imgfmt_pread(img, buf, 7, 2 * cs + 3), 0);
    ck_assert(memcmp(buf, exp + 2 * cs + 3, 7) == 0);
    /* The end of the disk (L1 entry 1 unallocated) reads as zeros. */
    ck_assert_int_eq(imgfmt_pread(img, buf, cs, m.size - cs), 0);
    ck_assert(ifmt_is_zero(buf, cs));
    char map[512], want[512];
    map_str(img, map, sizeof map);
    if (version < 3)
        snprintf(want, sizeof want, "0 %zu D;%zu %zu Z;%zu %zu D;%zu %llu Z;", cs, cs, cs,
                 2 * cs, cs, 3 * cs, (unsigned long long)(m.size - 3 * cs));
    else if (!extl2)
        snprintf(want, sizeof want, "0 %zu D;%zu %zu Z;%zu %zu D;%zu %llu Z;", cs, cs, cs,
                 2 * cs, cs, 3 * cs, (unsigned long long)(m.size - 3 * cs));
    else
        snprintf(want, sizeof want, "0 %zu D;%zu %zu Z;%zu %zu D;%zu %llu Z;", cs / 2,
                 cs / 2, cs + cs / 2, 2 * cs, cs, 3 * cs,
                 (unsigned long long)(m.size - 3 * cs));
    ck_assert_str_eq(map, want);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.cluster_size, m.cs);
    ck_assert_uint_eq(in.qcow2.version, version);
    ck_assert_str_eq(in.qcow2.compat, version == 2 ? "0.10" : "1.1");
    ck_assert_int_eq(in.qcow2.extended_l2, extl2);
    ck_assert_uint_eq(in.qcow2.refcount_bits, 16);
    free(buf);
    free(exp);
    imgfmt_close(img);
    bfree(&m);
}

START_TEST(test_read_built)
{
    check_built(9, 3, false);
    check_built(12, 3, false);
    check_built(16, 3, false);
    check_built(21, 3, false);
    check_built(9, 2, false);
    check_built(14, 3, true);
    check_built(16, 3, true);
}
END_TEST

START_TEST(test_status_runs_merge)
{
    /* 40 consecutive data clusters stored contiguously: one DATA run from
     * one block_status call, read in one go. */
    struct bimg m = build(9, 3, false);
    size_t n = 40, cs = 512;
    m.b = realloc(m.b, m.len + n * cs);
    for (size_t i = 0; i < n; i++) {
        pattern(m.b + m.len + i * cs, cs, (unsigned)i);
        set_l2(&m, (unsigned)(8 + i), QCOW2_OFLAG_COPIED | (m.len + i * cs), 0);
    }
    m.len += n * cs;
    imgfmt_image *img = bopen(&m);
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, 8 * cs, m.size, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_DATA);
    ck_assert_uint_eq(e.length, n * cs);
    uint8_t *buf = malloc(n * cs);
    ck_assert_int_eq(imgfmt_pread(img, buf, n * cs, 8 * cs), 0);
    ck_assert(memcmp(buf, m.b + m.len - n * cs, n * cs) == 0);
    /* The driver itself reports a merged run. */
    uint64_t len = 0;
    ck_assert_int_eq(img->drv->block_status(img, 8 * cs + 5, m.size - 8 * cs - 5,
                                             &len), IFMT_ST_DATA);
    ck_assert_uint_eq(len, n * cs - 5);
    ck_assert_int_eq(img->drv->block_status(img, 48 * cs, m.size - 48 * cs, &len),
                     IFMT_ST_UNALLOC);
    ck_assert_uint_eq(len, m.size - 48 * cs);
    free(buf);
    imgfmt_close(img);
    bfree(&m);
}
END_TEST

/* ---- committed qemu images ------------------------------------------- */

START_TEST(test_committed_images)
{
    static const struct {
        const char *name;
        uint32_t crc;
        const char *map;
    } cases[] = {
        {"v2.qcow2", 0xe85d7e1b,
         "0 102400 D;102400 159744 Z;262144 65536 D;327680 716800 Z;1044480 4096 D;"},
        {"v3-zero.qcow2", 0xec198838,
         "0 8192 Z;8192 8192 D;16384 114688 Z;131072 4096 D;135168 913408 Z;"},
        {"compressed.qcow2", 0xe85d7e1b,
         "0 102400 D;102400 159744 Z;262144 65536 D;327680 716800 Z;1044480 4096 D;"},
#if IMGFMT_HAVE_ZSTD
        {"compressed-zstd.qcow2", 0xe85d7e1b,
         "0 102400 D;102400 159744 Z;262144 65536 D;327680 716800 Z;1044480 4096 D;"},
#endif
        {"snapshot.qcow2", 0x2c5a989b, "0 12288 D;12288 1036288 Z;"},
        {"extl2.qcow2", 0x63ebf54f,
         "0 1024 D;1024 3072 Z;4096 2048 D;6144 26624 Z;32768 8192 D;40960 1024 Z;"
         "41984 7168 D;49152 999424 Z;"},
    };
    td_make_tmpdir("imgfmt-q2");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        imgfmt_image *img = open_path_ok(td_unpack(cases[i].name));
        ck_assert_uint_eq(imgfmt_virtual_size(img), 1048576);
        ck_assert_msg(crc_all(img) == cases[i].crc, "%s: crc 0x%08x", cases[i].name,
                      crc_all(img));
        char map[1024];
        map_str(img, map, sizeof map);
        ck_assert_msg(strcmp(map, cases[i].map) == 0, "%s: map %s", cases[i].name, map);
        imgfmt_close(img);
    }
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_zstd_build_option)
{
    td_make_tmpdir("imgfmt-q2");
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(td_unpack("compressed-zstd.qcow2"), NULL, &img, &err);
#if IMGFMT_HAVE_ZSTD
    ck_assert_int_eq(r, 0);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.qcow2.compression_type, "zstd");
    imgfmt_close(img);
#else
    ck_assert_int_eq(r, IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "zstd"));
#endif
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_backing_pair)
{
    td_make_tmpdir("imgfmt-q2");
    td_unpack("backing-base.qcow2");
    imgfmt_image *img = open_path_ok(td_unpack("backing-top.qcow2"));
    ck_assert_uint_eq(crc_all(img), 0x413528dc);
    char map[512];
    map_str(img, map, sizeof map);
    ck_assert_str_eq(map, "0 102400 D;102400 163840 Z;266240 61440 D;"
                          "327680 716800 Z;1044480 4096 D;");
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.backing_filename, "backing-base.qcow2");
    ck_assert_str_eq(in.backing_format, "qcow2");
    ck_assert_ptr_nonnull(strstr(in.full_backing_filename, "/backing-base.qcow2"));
    ck_assert_ptr_nonnull(imgfmt_backing(img));
    imgfmt_close(img);

    /* Refusing external files. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = IMGFMT_OPEN_NO_EXTERNAL;
    imgfmt_error err = {0};
    char top[4200];
    snprintf(top, sizeof top, "%s/backing-top.qcow2", td_tmpdir);
    ck_assert_int_eq(imgfmt_open(top, &o, &img, &err), IMGFMT_E_BACKING);
    ck_assert_ptr_nonnull(strstr(err.msg, "backing-base.qcow2"));
    ck_assert_ptr_nonnull(strstr(err.msg, "refused"));
    /* Top layer only: unallocated reads as zeros. */
    o.flags = IMGFMT_OPEN_NO_BACKING;
    ck_assert_int_eq(imgfmt_open(top, &o, &img, &err), 0);
    ck_assert_ptr_null(imgfmt_backing(img));
    map_str(img, map, sizeof map);
    ck_assert_str_eq(map, "0 4096 D;4096 1044480 Z;");
    imgfmt_close(img);
    /* A missing backing file is an error naming it. */
    char base[4200];
    snprintf(base, sizeof base, "%s/backing-base.qcow2", td_tmpdir);
    ck_assert_int_eq(unlink(base), 0);
    ck_assert_int_eq(imgfmt_open(top, NULL, &img, &err), IMGFMT_E_BACKING);
    ck_assert_ptr_nonnull(strstr(err.msg, "backing-base.qcow2"));
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_snapshots)
{
    td_make_tmpdir("imgfmt-q2");
    imgfmt_image *img = open_path_ok(td_unpack("snapshot.qcow2"));
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.qcow2.nb_snapshots, 1);
    imgfmt_snapshot s;
    ck_assert_int_eq(imgfmt_qcow2_get_snapshot(img, 0, &s), 0);
    ck_assert_str_eq(s.id, "1");
    ck_assert_str_eq(s.name, "first");
    ck_assert_uint_eq(s.vm_state_size, 0);
    ck_assert_uint_eq(s.disk_size, 1048576);
    ck_assert_uint_eq(s.icount, 0);
    ck_assert_uint_gt(s.date_sec, 1600000000u);
    ck_assert_int_eq(imgfmt_qcow2_get_snapshot(img, 1, &s), IMGFMT_E_RANGE);
    /* Content is the active state: 0x44 x 4k then 0x55 x 8k. */
    uint8_t buf[12288];
    ck_assert_int_eq(imgfmt_pread(img, buf, sizeof buf, 0), 0);
    ck_assert_uint_eq(buf[0], 0x44);
    ck_assert_uint_eq(buf[4095], 0x44);
    ck_assert_uint_eq(buf[4096], 0x55);
    ck_assert_uint_eq(buf[12287], 0x55);
    imgfmt_close(img);
    td_rm_tmpdir();
}
END_TEST

/* Write a file into td_tmpdir. */
static void put_file(const char *name, const void *data, size_t len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", td_tmpdir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Give a built image a backing file name (and format extension). */
static void set_backing(struct bimg *m, const char *name, const char *fmt)
{
    size_t off = 112;
    if (fmt) {
        ifmt_put_be32(m->b + off, QCOW2_EXT_BACKING_FORMAT);
        ifmt_put_be32(m->b + off + 4, (uint32_t)strlen(fmt));
        memcpy(m->b + off + 8, fmt, strlen(fmt));
        off += 8 + ((strlen(fmt) + 7) & ~(size_t)7);
    }
    ifmt_put_be32(m->b + off, 0);       /* end */
    ifmt_put_be32(m->b + off + 4, 0);
    off += 8;
    ifmt_put_be64(m->b + QCOW2_HDR_BACKING_OFFSET, off);
    ifmt_put_be32(m->b + QCOW2_HDR_BACKING_SIZE, (uint32_t)strlen(name));
    memcpy(m->b + off, name, strlen(name));
}

START_TEST(test_backing_loop_and_depth)
{
    td_make_tmpdir("imgfmt-q2");
    struct bimg a = build(9, 3, false), b = build(9, 3, false);
    set_backing(&a, "b.qcow2", "qcow2");
    set_backing(&b, "a.qcow2", NULL);            /* probed */
    put_file("a.qcow2", a.b, a.len);
    put_file("b.qcow2", b.b, b.len);
    char p[4200];
    snprintf(p, sizeof p, "%s/a.qcow2", td_tmpdir);
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), IMGFMT_E_BACKING);
    ck_assert_msg(strstr(err.msg, "loops"), "%s", err.msg);
    /* Self reference. */
    set_backing(&a, "a.qcow2", "qcow2");
    put_file("a.qcow2", a.b, a.len);
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), IMGFMT_E_BACKING);
    ck_assert_msg(strstr(err.msg, "loops"), "%s", err.msg);
    /* A chain c0 -> c1 -> ... -> c19 hits the depth cap. */
    for (int i = 0; i < 20; i++) {
        char name[32], next[32];
        snprintf(name, sizeof name, "c%d.qcow2", i);
        snprintf(next, sizeof next, "c%d.qcow2", i + 1);
        struct bimg c = build(9, 3, false);
        if (i < 19)
            set_backing(&c, next, "qcow2");
        put_file(name, c.b, c.len);
        bfree(&c);
    }
    snprintf(p, sizeof p, "%s/c0.qcow2", td_tmpdir);
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "deeper"), "%s", err.msg);
    snprintf(p, sizeof p, "%s/c5.qcow2", td_tmpdir);
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), 0);
    imgfmt_close(img);
    /* Unsupported backing format name. */
    set_backing(&a, "b.qcow2", "vdi");
    put_file("a.qcow2", a.b, a.len);
    snprintf(p, sizeof p, "%s/a.qcow2", td_tmpdir);
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), IMGFMT_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "vdi"), "%s", err.msg);
    bfree(&a);
    bfree(&b);
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_data_file)
{
    td_make_tmpdir("imgfmt-q2");
    struct bimg m = build(9, 3, false);
    /* Guest cluster 0 -> data file offset 0 (offset 0 + COPIED), cluster 4
     * -> offset 4*512; no compressed cluster, zero-alloc must match too. */
    set_l2(&m, 0, QCOW2_OFLAG_COPIED, 0);
    set_l2(&m, 2, 0, 0);
    set_l2(&m, 3, QCOW2_OFLAG_COPIED | 3 * 512 | QCOW2_OFLAG_ZERO, 0);
    set_l2(&m, 4, QCOW2_OFLAG_COPIED | 4 * 512, 0);
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, QCOW2_INCOMPAT_DATA_FILE);
    ifmt_put_be32(m.b + 112, QCOW2_EXT_DATA_FILE);
    ifmt_put_be32(m.b + 116, 7);
    memcpy(m.b + 120, "d.data", 7 - 1);
    put_file("img.qcow2", m.b, m.len);
    uint8_t data[5 * 512];
    pattern(data, sizeof data, 9);
    put_file("d.data", data, sizeof data);
    char p[4200];
    snprintf(p, sizeof p, "%s/img.qcow2", td_tmpdir);
    imgfmt_image *img = open_path_ok(p);
    uint8_t buf[5 * 512];
    ck_assert_int_eq(imgfmt_pread(img, buf, sizeof buf, 0), 0);
    ck_assert(memcmp(buf, data, 512) == 0);
    ck_assert(ifmt_is_zero(buf + 512, 3 * 512));
    ck_assert(memcmp(buf + 4 * 512, data + 4 * 512, 512) == 0);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.qcow2.data_file, "d.data");
    ck_assert_int_eq(in.qcow2.data_file_raw, 0);
    imgfmt_close(img);
    imgfmt_error err = {0};
    /* Host offset must equal the guest offset. */
    set_l2(&m, 4, QCOW2_OFLAG_COPIED | 2 * 512, 0);
    put_file("img.qcow2", m.b, m.len);
    img = open_path_ok(p);
    ck_assert_int_eq(imgfmt_pread(img, buf, 512, 4 * 512), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "does not match guest offset"));
    imgfmt_close(img);
    /* Compressed clusters are forbidden with a data file. */
    set_l2(&m, 4, qcow2_compressed_encode(6 * 512, 100, 9), 0);
    put_file("img.qcow2", m.b, m.len);
    img = open_path_ok(p);
    ck_assert_int_eq(imgfmt_pread(img, buf, 512, 4 * 512), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "external data file"));
    imgfmt_close(img);
    /* Missing data file; refused data file; no name; raw bit without file. */
    unlink(p);
    snprintf(p, sizeof p, "%s/d.data", td_tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/img.qcow2", td_tmpdir);
    set_l2(&m, 4, 0, 0);
    put_file("img.qcow2", m.b, m.len);
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), IMGFMT_E_BACKING);
    ck_assert_msg(strstr(err.msg, "d.data"), "%s", err.msg);
    bfails(&m, IMGFMT_E_BACKING, "d.data");          /* memory: external refused */
    ifmt_put_be32(m.b + 112, 0x12345678);            /* unknown ext: no name */
    bfails(&m, IMGFMT_E_BACKING, "names none");
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, 0);
    ifmt_put_be64(m.b + QCOW2_HDR_AUTOCLEAR, QCOW2_AUTOCLEAR_DATA_RAW);
    bfails(&m, IMGFMT_E_CORRUPT, "data-file-raw");
    bfree(&m);
    td_rm_tmpdir();
}
END_TEST

/* ---- bad input -------------------------------------------------------- */

START_TEST(test_bad_header)
{
    struct bimg m = build(9, 3, false);
    /* Magic / version / too short. */
    open_mem_fails(m.b, 50, IMGFMT_FMT_QCOW2, IMGFMT_E_CORRUPT, "too short");
    m.b[3] = 0;
    bfails(&m, IMGFMT_E_CORRUPT, "bad magic");
    m.b[3] = 0xfb;
    ifmt_put_be32(m.b + 4, 4);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "version 4");
    ifmt_put_be32(m.b + 4, 3);
    /* cluster_bits out of range. */
    ifmt_put_be32(m.b + QCOW2_HDR_CLUSTER_BITS, 8);
    bfails(&m, IMGFMT_E_CORRUPT, "cluster_bits 8");
    ifmt_put_be32(m.b + QCOW2_HDR_CLUSTER_BITS, 22);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "cluster_bits 22");
    ifmt_put_be32(m.b + QCOW2_HDR_CLUSTER_BITS, 0xffffffff);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "cluster_bits 4294967295");
    ifmt_put_be32(m.b + QCOW2_HDR_CLUSTER_BITS, 9);
    /* header_length. */
    ifmt_put_be32(m.b + QCOW2_HDR_HEADER_LENGTH, 100);
    bfails(&m, IMGFMT_E_CORRUPT, "header_length 100 too short");
    ifmt_put_be32(m.b + QCOW2_HDR_HEADER_LENGTH, 513);
    bfails(&m, IMGFMT_E_CORRUPT, "header_length 513 exceeds the cluster size");
    ifmt_put_be32(m.b + QCOW2_HDR_HEADER_LENGTH, 0xfffffff8);
    bfails(&m, IMGFMT_E_CORRUPT, "exceeds the cluster size");
    ifmt_put_be32(m.b + QCOW2_HDR_HEADER_LENGTH, 112);
    /* backing_file_offset past cluster 0; name too long. */
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 513);
    bfails(&m, IMGFMT_E_CORRUPT, "backing_file_offset");
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 400);
    ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 113);
    bfails(&m, IMGFMT_E_CORRUPT, "backing file name length 113 too long");
    ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 0xffffffff);
    bfails(&m, IMGFMT_E_CORRUPT, "too long");
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 0);
    ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 0);
    bfree(&m);
    /* 2 MiB clusters: a name of 1024 bytes is too long even though it fits. */
    m = build(21, 3, false);
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 4096);
    ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 1024);
    bfails(&m, IMGFMT_E_CORRUPT, "at most 1023");
    bfree(&m);
    /* refcount_order, reftable clusters, compression type. */
    m = build(9, 3, false);
    ifmt_put_be32(m.b + QCOW2_HDR_REFCOUNT_ORDER, 7);
    bfails(&m, IMGFMT_E_CORRUPT, "refcount_order 7");
    ifmt_put_be32(m.b + QCOW2_HDR_REFCOUNT_ORDER, 4);
    ifmt_put_be32(m.b + QCOW2_HDR_REFTABLE_CLUSTERS, 0);
    bfails(&m, IMGFMT_E_CORRUPT, "no refcount table");
    ifmt_put_be32(m.b + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
    m.b[QCOW2_HDR_COMPRESSION_TYPE] = 1;
    bfails(&m, IMGFMT_E_CORRUPT, "inconsistent with incompatible bit 3");
    m.b[QCOW2_HDR_COMPRESSION_TYPE] = 7;
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, QCOW2_INCOMPAT_COMPRESSION);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "unknown compression type 7");
    m.b[QCOW2_HDR_COMPRESSION_TYPE] = 0;
    bfails(&m, IMGFMT_E_CORRUPT, "inconsistent with incompatible bit 3");
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, 0);
    /* Extended L2 needs 16 KiB clusters. */
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, QCOW2_INCOMPAT_EXTL2);
    bfails(&m, IMGFMT_E_CORRUPT, "subclusters smaller than 512");
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, 0);
    /* Encryption is refused. */
    ifmt_put_be32(m.b + QCOW2_HDR_CRYPT_METHOD, 1);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "encrypted images (AES)");
    ifmt_put_be32(m.b + QCOW2_HDR_CRYPT_METHOD, 2);
    bfails(&m, IMGFMT_E_UNSUPPORTED, "encrypted images (LUKS)");
    ifmt_put_be32(m.b + QCOW2_HDR_CRYPT_METHOD, 3);
    bfails(&m, IMGFMT_E_CORRUPT, "unknown encryption method 3");
    ifmt_put_be32(m.b + QCOW2_HDR_CRYPT_METHOD, 0);
    /* Still valid after all the restores. */
    imgfmt_close(bopen(&m));
    bfree(&m);
}
END_TEST

/* The open reads the first 4 KiB of cluster 0 and the rest only when the
 * extensions or the backing name reach past them: both cases, 64 KiB clusters. */
START_TEST(test_header_past_4k)
{
    struct bimg m = build(16, 3, false);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_QCOW2;
    o.flags = IMGFMT_OPEN_NO_BACKING;
    imgfmt_info info;
    for (int far = 0; far < 2; far++) {
        size_t skip = far ? 5000 : 100;          /* an unknown extension first */
        memset(m.b + 112, 0, 8000);
        ifmt_put_be32(m.b + 112, 0x12345678);
        ifmt_put_be32(m.b + 116, (uint32_t)skip);
        size_t at = 120 + (skip + 7) / 8 * 8;
        ifmt_put_be32(m.b + at, QCOW2_EXT_BACKING_FORMAT);
        ifmt_put_be32(m.b + at + 4, 5);
        memcpy(m.b + at + 8, "qcow2", 5);
        size_t boff = far ? 7000 : 1000;
        memcpy(m.b + boff, "base-far.qcow2", 14);
        ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, boff);
        ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 14);
        imgfmt_image *img = NULL;
        imgfmt_error err = {0};
        ck_assert_msg(imgfmt_open_memory(m.b, m.len, &o, &img, &err) == 0, "%s", err.msg);
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        ck_assert_int_eq(imgfmt_get_info(img, &info), 0);
        ck_assert_str_eq(info.backing_format, "qcow2");
        ck_assert_str_eq(info.backing_filename, "base-far.qcow2");
        imgfmt_close(img);
    }
    /* An extension header straddling 4 KiB; one too long for the area. */
    ifmt_put_be32(m.b + 116, 4096 - 120 - 4);
    ifmt_put_be32(m.b + 4092, QCOW2_EXT_END);
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 0);
    ifmt_put_be32(m.b + QCOW2_HDR_BACKING_SIZE, 0);
    imgfmt_close(bopen(&m));
    ifmt_put_be32(m.b + 116, 70000);
    bfails(&m, IMGFMT_E_CORRUPT, "too large");
    bfree(&m);
}
END_TEST

START_TEST(test_bad_extensions)
{
    struct bimg m = build(9, 3, false);
    /* A length that would overflow 32-bit arithmetic, and one one byte
     * too long for the header cluster. */
    ifmt_put_be32(m.b + 112, 0x12345678);
    ifmt_put_be32(m.b + 116, 0xfffffff9);
    bfails(&m, IMGFMT_E_CORRUPT, "too large");
    ifmt_put_be32(m.b + 116, 512 - 120 + 1);
    bfails(&m, IMGFMT_E_CORRUPT, "too large");
    ifmt_put_be32(m.b + 116, 512 - 120);         /* exactly fits: unknown, skipped */
    imgfmt_close(bopen(&m));
    /* Extension header itself crossing the end (backing name at 116). */
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 116);
    bfails(&m, IMGFMT_E_CORRUPT, "runs past the end of the extension area");
    ifmt_put_be64(m.b + QCOW2_HDR_BACKING_OFFSET, 0);
    /* Backing format too long. */
    ifmt_put_be32(m.b + 112, QCOW2_EXT_BACKING_FORMAT);
    ifmt_put_be32(m.b + 116, 16);
    bfails(&m, IMGFMT_E_CORRUPT, "backing format extension length 16");
    /* Bitmaps extension checks. */
    ifmt_put_be64(m.b + QCOW2_HDR_AUTOCLEAR, QCOW2_AUTOCLEAR_BITMAPS);
    ifmt_put_be32(m.b + 112, QCOW2_EXT_BITMAPS);
    ifmt_put_be32(m.b + 116, 23);
    bfails(&m, IMGFMT_E_CORRUPT, "bitmaps extension length 23");
    ifmt_put_be32(m.b + 116, 24);
    memset(m.b + 120, 0, 24);
    bfails(&m, IMGFMT_E_CORRUPT, "0 bitmaps");
    ifmt_put_be32(m.b + 120, 1);
    ifmt_put_be64(m.b + 136, 100);
    bfails(&m, IMGFMT_E_CORRUPT, "bitmap directory offset");
    ifmt_put_be64(m.b + 136, 1024);
    ifmt_put_be32(m.b + 144, 0);                     /* end */
    ifmt_put_be32(m.b + 148, 0);
    /* The directory (in the unused refcount block): dir_size 0 is too
     * short; then one entry "bm", 64 KiB granularity, auto. */
    bfails(&m, IMGFMT_E_CORRUPT, "too short for 1 bitmaps");
    ifmt_put_be64(m.b + 128, 32);
    uint8_t *d = m.b + 1024;
    ifmt_put_be32(d + 12, 2);
    d[16] = 1;
    d[17] = 8;
    ifmt_put_be16(d + 18, 2);
    memcpy(d + 24, "bm", 2);
    bfails(&m, IMGFMT_E_CORRUPT, "granularity bits 8");
    d[17] = 16;
    ifmt_put_be32(d + 20, 8);                        /* extra data: 40 > 32 */
    bfails(&m, IMGFMT_E_CORRUPT, "runs past the directory end");
    ifmt_put_be32(d + 20, 0);
    ifmt_put_be64(m.b + 136, 1ull << 30);
    bfails(&m, IMGFMT_E_CORRUPT, "bitmap directory at offset 0x40000000");
    ifmt_put_be64(m.b + 136, 1024);
    imgfmt_image *img = bopen(&m);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.qcow2.nb_bitmaps, 1);
    imgfmt_qcow2_bitmap bm;
    ck_assert_int_eq(imgfmt_qcow2_get_bitmap(img, 0, &bm), 0);
    ck_assert_str_eq(bm.name, "bm");
    ck_assert_uint_eq(bm.granularity, 65536);
    ck_assert_uint_eq(bm.flags, IMGFMT_QCOW2_BITMAP_AUTO);
    ck_assert_int_eq(imgfmt_qcow2_get_bitmap(img, 1, &bm), IMGFMT_E_RANGE);
    imgfmt_close(img);
    /* Without the autoclear bit the extension is ignored, with a warning. */
    ifmt_put_be64(m.b + QCOW2_HDR_AUTOCLEAR, 0);
    img = bopen(&m);
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.nb_warnings, 1);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "bitmaps"));
    imgfmt_close(img);
    /* Crypto extension without LUKS. */
    ifmt_put_be32(m.b + 112, QCOW2_EXT_CRYPTO);
    ifmt_put_be32(m.b + 116, 16);
    bfails(&m, IMGFMT_E_CORRUPT, "without LUKS");
    bfree(&m);
}
END_TEST

START_TEST(test_unknown_incompat)
{
    struct bimg m = build(9, 3, false);
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, (1ull << 5) | (1ull << 40));
    bfails(&m, IMGFMT_E_UNSUPPORTED, "unknown bits 0x10000000020");
    /* With a feature name table naming bit 5. */
    ifmt_put_be32(m.b + 112, QCOW2_EXT_FEATURE_TABLE);
    ifmt_put_be32(m.b + 116, 2 * 48);
    m.b[120] = QCOW2_FEATURE_INCOMPAT;
    m.b[121] = 5;
    memcpy(m.b + 122, "shiny new thing", 15);
    m.b[168] = QCOW2_FEATURE_COMPAT;
    m.b[169] = 40;
    memcpy(m.b + 170, "not incompat", 12);
    bfails(&m, IMGFMT_E_UNSUPPORTED,
           "unsupported incompatible feature(s): shiny new thing, unknown bits 0x10000000000");
    /* Dirty and corrupt bits: readable, reported. */
    ifmt_put_be64(m.b + QCOW2_HDR_INCOMPAT, QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);
    imgfmt_image *img = bopen(&m);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_int_eq(in.dirty, 1);
    ck_assert_int_eq(in.corrupt, 1);
    uint8_t b[512];
    ck_assert_int_eq(imgfmt_pread(img, b, 512, 0), 0);
    imgfmt_close(img);
    bfree(&m);
}
END_TEST

START_TEST(test_bad_tables)
{
    struct bimg m = build(9, 3, false);
    /* L1 table offset unaligned / past EOF / overflowing. */
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, 3 * 512 + 8);
    bfails(&m, IMGFMT_E_CORRUPT, "L1 table offset 0x608 not cluster aligned");
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, 1ull << 40);
    bfails(&m, IMGFMT_E_CORRUPT, "L1 table at offset 0x10000000000");
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, 0xfffffffffffffe00ull);
    bfails(&m, IMGFMT_E_CORRUPT, "L1 table offset 0xfffffffffffffe00 too large");
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, 8 * 512 - 512);  /* last cluster: 16 B fit */
    imgfmt_close(bopen(&m));
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, 3 * 512);
    /* l1_size too small / absurd. */
    ifmt_put_be32(m.b + QCOW2_HDR_L1_SIZE, 1);
    bfails(&m, IMGFMT_E_CORRUPT, "L1 table too small: l1_size 1, 2 entries needed");
    ifmt_put_be32(m.b + QCOW2_HDR_L1_SIZE, 0xffffffff);
    bfails(&m, IMGFMT_E_LIMIT, "L1 table of 4294967295 entries is too large");
    ifmt_put_be32(m.b + QCOW2_HDR_L1_SIZE, 4u << 20);           /* 32 MiB: allowed size */
    bfails(&m, IMGFMT_E_CORRUPT, "beyond end of file");
    ifmt_put_be32(m.b + QCOW2_HDR_L1_SIZE, 2);
    /* A size needing more than INT_MAX L1 entries. */
    ifmt_put_be64(m.b + QCOW2_HDR_SIZE, UINT64_MAX);
    bfails(&m, IMGFMT_E_LIMIT, "too big");
    ifmt_put_be64(m.b + QCOW2_HDR_SIZE, m.size);
    /* Refcount table unaligned / past EOF / too large. */
    ifmt_put_be64(m.b + QCOW2_HDR_REFTABLE_OFFSET, 700);
    bfails(&m, IMGFMT_E_CORRUPT, "refcount table offset 0x2bc not cluster aligned");
    ifmt_put_be64(m.b + QCOW2_HDR_REFTABLE_OFFSET, 8 * 512);
    bfails(&m, IMGFMT_E_CORRUPT, "refcount table at offset 0x1000");
    ifmt_put_be64(m.b + QCOW2_HDR_REFTABLE_OFFSET, 512);
    ifmt_put_be32(m.b + QCOW2_HDR_REFTABLE_CLUSTERS, (8u << 20) / 512 + 1);
    bfails(&m, IMGFMT_E_LIMIT, "refcount table");
    ifmt_put_be32(m.b + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
    /* Snapshot table: too many, unaligned, past EOF. */
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 65537);
    bfails(&m, IMGFMT_E_LIMIT, "65537 snapshots");
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 0);
    ifmt_put_be64(m.b + QCOW2_HDR_SNAPSHOTS_OFFSET, 12);
    bfails(&m, IMGFMT_E_CORRUPT, "snapshot table offset 0xc not cluster aligned");
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 65536);
    ifmt_put_be64(m.b + QCOW2_HDR_SNAPSHOTS_OFFSET, 1ull << 30);
    bfails(&m, IMGFMT_E_CORRUPT, "snapshot table entry");
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 0);
    ifmt_put_be64(m.b + QCOW2_HDR_SNAPSHOTS_OFFSET, 0);
    imgfmt_close(bopen(&m));
    bfree(&m);
}
END_TEST

START_TEST(test_bad_snapshot_entries)
{
    struct bimg m = build(9, 3, false);
    m.b = realloc(m.b, m.len + 512);
    memset(m.b + m.len, 0, 512);
    uint8_t *s = m.b + m.len;
    ifmt_put_be64(m.b + QCOW2_HDR_SNAPSHOTS_OFFSET, m.len);
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 1);
    m.len += 512;
    ifmt_put_be16(s + 12, 1);       /* id_len */
    ifmt_put_be16(s + 14, 3);       /* name_len */
    ifmt_put_be32(s + 36, 2000);    /* extra too large */
    bfails(&m, IMGFMT_E_CORRUPT, "extra data of 2000 bytes");
    ifmt_put_be32(s + 36, 16);
    ifmt_put_be64(s + 40, 12345);   /* vm_state_size_large */
    ifmt_put_be64(s + 48, 777);     /* disk_size */
    memcpy(s + 56, "7abc", 4);
    imgfmt_image *img = bopen(&m);
    imgfmt_snapshot sn;
    ck_assert_int_eq(imgfmt_qcow2_get_snapshot(img, 0, &sn), 0);
    ck_assert_str_eq(sn.id, "7");
    ck_assert_str_eq(sn.name, "abc");
    ck_assert_uint_eq(sn.vm_state_size, 12345);
    ck_assert_uint_eq(sn.disk_size, 777);
    ck_assert_uint_eq(sn.icount, UINT64_MAX);
    imgfmt_close(img);
    /* Names running past the end of the file. */
    ifmt_put_be16(s + 14, 60000);
    bfails(&m, IMGFMT_E_CORRUPT, "snapshot name");
    bfree(&m);
}
END_TEST

START_TEST(test_bad_entries)
{
    /* 4 KiB clusters: with 512-byte ones the entry masks leave nothing
     * that can be unaligned. */
    struct bimg m = build(12, 3, false);
    uint64_t good0 = l2_at(&m, 0);
    /* L2 table offset (L1 entry) unaligned / past EOF. */
    ifmt_put_be64(m.b + 3 * 4096, 4 * 4096 + 512);
    bread_fails(&m, IMGFMT_E_CORRUPT, "L2 table offset 0x4200 not cluster aligned");
    ifmt_put_be64(m.b + 3 * 4096, 1ull << 33);
    bread_fails(&m, IMGFMT_E_CORRUPT, "L2 table offset 0x200000000 (L1 index 0) beyond end");
    ifmt_put_be64(m.b + 3 * 4096, QCOW2_OFLAG_COPIED | 4 * 4096);
    /* Data cluster unaligned / past EOF. */
    set_l2(&m, 0, QCOW2_OFLAG_COPIED | (5 * 4096 + 512), 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "cluster offset 0x5200 not cluster aligned");
    set_l2(&m, 0, QCOW2_OFLAG_COPIED | (1ull << 40), 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "data cluster offset 0x10000000000 beyond end of file");
    set_l2(&m, 0, good0, 0);
    /* Zero-alloc pointing at an unaligned host cluster. */
    set_l2(&m, 3, QCOW2_OFLAG_ZERO | (7 * 4096 + 512), 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "not cluster aligned");
    bfree(&m);
    m = build(9, 3, false);
    /* Compressed descriptors past EOF. */
    uint64_t good2 = l2_at(&m, 2);
    set_l2(&m, 2, qcow2_compressed_encode(1ull << 40, 100, 9), 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "compressed cluster at offset 0x10000000000");
    set_l2(&m, 2, qcow2_compressed_encode(m.len - 100, 200, 9), 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "runs past end of file");
    set_l2(&m, 2, good2, 0);
    /* The last sector of a compressed run may end past EOF (qemu writes
     * exact lengths): a file ending right after the data is fine, one
     * ending before it is not.  (A cut inside the data reads zeros there,
     * as in qemu, and inflating usually fails.) */
    struct bimg t = build(9, 3, false);
    uint8_t plain[512], tmp[1024];
    pattern(plain, sizeof plain, 3);
    size_t clen = deflate_raw(plain, sizeof plain, tmp, sizeof tmp);
    t.len = 6 * 512 + 100 + clen;
    imgfmt_image *img = bopen(&t);
    uint8_t out[512];
    ck_assert_int_eq(imgfmt_pread(img, out, 512, 2 * 512), 0);
    ck_assert(memcmp(out, plain, 512) == 0);
    imgfmt_close(img);
    t.len = 6 * 512 + 100;                /* the data would start at EOF */
    bread_fails(&t, IMGFMT_E_CORRUPT, "compressed cluster at offset 0xc64");
    bfree(&t);
    /* Inflate output shorter / longer than one cluster; garbage. */
    put_compressed(&m, 300);
    bread_fails(&m, IMGFMT_E_CORRUPT, "(300 of 512 bytes");
    put_compressed(&m, 4000);             /* more than a cluster: fills it */
    imgfmt_close(bopen(&m));
    memset(m.b + 6 * 512 + 100, 0xff, 200);
    bread_fails(&m, IMGFMT_E_CORRUPT, "does not inflate to exactly one cluster");
    put_compressed(&m, 512);
    bfree(&m);
    /* Zero flag in a version 2 image. */
    m = build(9, 2, false);
    set_l2(&m, 1, QCOW2_OFLAG_ZERO, 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "zero cluster in a version 2 image");
    set_l2(&m, 1, QCOW2_OFLAG_COPIED | 7 * 512 | QCOW2_OFLAG_ZERO, 0);
    bread_fails(&m, IMGFMT_E_CORRUPT, "version 2");
    bfree(&m);
    /* Extended L2: a subcluster both allocated and zero; allocated
     * subclusters in an unallocated cluster; compressed with a bitmap. */
    m = build(14, 3, true);
    set_l2(&m, 0, QCOW2_OFLAG_COPIED | 5 * m.cs, 0x0000000100000001ull);
    bread_fails(&m, IMGFMT_E_CORRUPT, "invalid subcluster bitmap");
    set_l2(&m, 0, 0, 0x1);
    bread_fails(&m, IMGFMT_E_CORRUPT, "subclusters allocated in an unallocated cluster");
    set_l2(&m, 0, QCOW2_OFLAG_COPIED | 5 * m.cs, 0xffff);
    uint64_t c = l2_at(&m, 2);
    set_l2(&m, 2, c, 1);
    bread_fails(&m, IMGFMT_E_CORRUPT, "compressed cluster with subcluster bitmap");
    bfree(&m);
}
END_TEST

START_TEST(test_memory_bounded)
{
    /* A cap below what the header cluster needs: LIMIT, nothing allocated. */
    struct bimg m = build(21, 3, false);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_QCOW2;
    o.max_metadata_bytes = 1u << 20;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_memory(m.b, m.len, &o, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "metadata cap"));
    bfree(&m);
    /* A valid L1 over the cap. */
    m = build(9, 3, false);
    uint64_t need = 40000;                     /* 320,000 bytes of L1 */
    uint64_t l1off = m.len;
    m.len += (size_t)(need * 8 + 511) / 512 * 512;
    m.b = realloc(m.b, m.len);
    memset(m.b + l1off, 0, m.len - l1off);
    ifmt_put_be64(m.b + QCOW2_HDR_SIZE, need * 64 * 512);
    ifmt_put_be32(m.b + QCOW2_HDR_L1_SIZE, (uint32_t)need);
    ifmt_put_be64(m.b + QCOW2_HDR_L1_OFFSET, l1off);
    o.max_metadata_bytes = 256u << 10;
    ck_assert_int_eq(imgfmt_open_memory(m.b, m.len, &o, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "L1 table"));
    o.max_metadata_bytes = 1u << 20;
    ck_assert_int_eq(imgfmt_open_memory(m.b, m.len, &o, &img, &err), 0);
    imgfmt_close(img);
    /* Many snapshots are charged too. */
    ifmt_put_be32(m.b + QCOW2_HDR_NB_SNAPSHOTS, 65536);
    ifmt_put_be64(m.b + QCOW2_HDR_SNAPSHOTS_OFFSET, l1off);
    o.max_metadata_bytes = 1u << 20;
    ck_assert_int_eq(imgfmt_open_memory(m.b, m.len, &o, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "snapshot table"));
    bfree(&m);
}
END_TEST

static Suite *qcow2_suite(void)
{
    Suite *s = suite_create("qcow2");
    TCase *tc = tcase_create("probe");
    tcase_add_test(tc, test_probe);
    suite_add_tcase(s, tc);
    tc = tcase_create("header");
    tcase_add_test(tc, test_header_decode);
    suite_add_tcase(s, tc);
    tc = tcase_create("read");
    tcase_add_test(tc, test_read_built);
    tcase_add_test(tc, test_committed_images);
    tcase_add_test(tc, test_zstd_build_option);
    tcase_add_test(tc, test_backing_pair);
    tcase_add_test(tc, test_snapshots);
    tcase_add_test(tc, test_data_file);
    tcase_add_test(tc, test_backing_loop_and_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("status");
    tcase_add_test(tc, test_status_runs_merge);
    suite_add_tcase(s, tc);
    tc = tcase_create("corrupt");
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_bad_extensions);
    tcase_add_test(tc, test_header_past_4k);
    tcase_add_test(tc, test_unknown_incompat);
    tcase_add_test(tc, test_bad_tables);
    tcase_add_test(tc, test_bad_snapshot_entries);
    tcase_add_test(tc, test_bad_entries);
    tcase_add_test(tc, test_memory_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(qcow2_suite());
}
