/*
 * test-writer.c -- the streaming qcow2 writer: the output is parsed back by
 * a small independent verifier (header, L1/L2, compressed descriptors,
 * refcounts recomputed from every reference and compared with the stored
 * ones, COPIED flags, content against the source), its length equals the
 * measured one for every option set, the bytes do not depend on the thread
 * count, the seekable (one-pass) writer produces the same bytes, and a
 * failing write callback gives a clean error.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "imgfmt-config.h"
#if IMGFMT_HAVE_ZSTD
#include <zstd.h>
#endif
#include "core/bytes.h"

/* ---- output collection --------------------------------------------- */

struct outbuf { uint8_t *p; size_t len, cap; size_t fail_at; int calls; };

static int collect(void *opaque, const void *buf, size_t len)
{
    struct outbuf *o = opaque;
    o->calls++;
    if (o->fail_at && o->len + len >= o->fail_at)
        return -1;
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->p = realloc(o->p, o->cap);
        ck_assert_ptr_nonnull(o->p);
    }
    memcpy(o->p + o->len, buf, len);
    o->len += len;
    return 0;
}

static int write_all(imgfmt_image *img, const imgfmt_qcow2_opts *o, struct outbuf *out,
                     uint64_t *planned)
{
    imgfmt_qcow2_writer *w = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_qcow2_writer_new(img, o, collect, out, &w, &err);
    if (r < 0)
        return r;
    ck_assert_uint_eq(imgfmt_qcow2_writer_length(w), 0);   /* not planned yet */
    uint64_t done = 0, total = 0, last = 0;
    while ((r = imgfmt_qcow2_writer_step(w, &done, &total)) == 0) {
        ck_assert_uint_ge(done, last);
        ck_assert_uint_le(done, total);
        last = done;
        if (imgfmt_qcow2_writer_length(w))
            *planned = imgfmt_qcow2_writer_length(w);
    }
    if (r == 1) {
        ck_assert_uint_eq(done, total);
        *planned = imgfmt_qcow2_writer_length(w);
        ck_assert_uint_eq(imgfmt_qcow2_writer_written(w), out->len);
        r = 0;
    } else {
        ck_assert_int_eq(imgfmt_qcow2_writer_error(w)->code, r);
        ck_assert_int_eq(imgfmt_qcow2_writer_step(w, NULL, NULL), r);  /* stays failed */
    }
    imgfmt_qcow2_writer_free(w);
    return r;
}

/* The seekable (one-pass) writer into a buffer that starts full of 0xa5
 * garbage: it must write every byte, nothing at or past the length, and
 * produce exactly the streaming writer's bytes (ref). */
struct pbuf { uint8_t *p; size_t cap; uint64_t end; int calls, fail_call; };

static int pcollect(void *opaque, const void *buf, size_t len, uint64_t off)
{
    struct pbuf *o = opaque;
    if (o->fail_call && ++o->calls >= o->fail_call)
        return -1;
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_le(off + len, o->cap);
    memcpy(o->p + off, buf, len);
    if (off + len > o->end)
        o->end = off + len;
    return 0;
}

static void seekable_same(imgfmt_image *img, const imgfmt_qcow2_opts *o, const struct outbuf *ref)
{
    struct pbuf pb = {0};
    pb.cap = ref->len + (1u << 20);
    pb.p = malloc(pb.cap);
    ck_assert_ptr_nonnull(pb.p);
    memset(pb.p, 0xa5, pb.cap);
    imgfmt_qcow2_writer *w = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_qcow2_writer_new_seekable(img, o, pcollect, &pb, &w, &err), 0);
    uint64_t done = 0, total = 0, last = 0;
    int r;
    while ((r = imgfmt_qcow2_writer_step(w, &done, &total)) == 0) {
        ck_assert_uint_ge(done, last);
        ck_assert_uint_le(done, total);
        ck_assert_uint_eq(total, imgfmt_virtual_size(img));
        last = done;
    }
    ck_assert_msg(r == 1, "seekable writer: %d %s", r, imgfmt_qcow2_writer_error(w)->msg);
    ck_assert_uint_eq(done, total);
    ck_assert_uint_eq(imgfmt_qcow2_writer_length(w), ref->len);
    ck_assert_uint_ge(imgfmt_qcow2_writer_written(w), ref->len);
    ck_assert_uint_eq(pb.end, ref->len);
    ck_assert_msg(memcmp(pb.p, ref->p, ref->len) == 0, "seekable output differs from streamed");
    ck_assert_int_eq(imgfmt_qcow2_writer_step(w, NULL, NULL), 1);   /* stays done */
    imgfmt_qcow2_writer_free(w);
    free(pb.p);
}

/* ---- the verifier -------------------------------------------------- */

static uint64_t get_ref(const uint8_t *b, unsigned bits, uint64_t i)
{
    switch (bits) {
    case 1: case 2: case 4:
        return (b[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
    case 8: return b[i];
    case 16: return ifmt_be16(b + 2 * i);
    case 32: return ifmt_be32(b + 4 * i);
    default: return ifmt_be64(b + 8 * i);
    }
}

static void decompress(int zstd, const uint8_t *in, size_t inlen, uint8_t *out, size_t cs)
{
    if (!zstd) {
        z_stream z;
        memset(&z, 0, sizeof z);
        ck_assert_int_eq(inflateInit2(&z, -12), Z_OK);
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)inlen;
        z.next_out = out;
        z.avail_out = (uInt)cs;
        int r = inflate(&z, Z_FINISH);
        ck_assert_msg(r == Z_STREAM_END || (r == Z_BUF_ERROR && z.avail_out == 0),
                      "inflate: %d", r);
        ck_assert_uint_eq(z.avail_out, 0);
        inflateEnd(&z);
        return;
    }
#if IMGFMT_HAVE_ZSTD
    /* As qemu: stream until the cluster is full (the sector padding after
     * the frame is never looked at). */
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in, inlen, 0};
    ZSTD_outBuffer ob = {out, cs, 0};
    while (ob.pos < cs) {
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        ck_assert_msg(!ZSTD_isError(r), "zstd: %s", ZSTD_getErrorName(r));
        if (r == 0 && ob.pos < cs)
            ck_assert_msg(ib.pos < ib.size, "zstd: short output");
    }
    ZSTD_freeDCtx(d);
#else
    ck_abort_msg("zstd output without zstd");
#endif
}

/* Parse q (as qemu-img check would) and compare its content with src. */
static void verify(const struct outbuf *q, imgfmt_image *src)
{
    const uint8_t *f = q->p;
    size_t len = q->len;
    ck_assert_uint_ge(len, 512);
    ck_assert_uint_eq(ifmt_be32(f), 0x514649fb);
    uint32_t ver = ifmt_be32(f + 4), cbits = ifmt_be32(f + 20);
    uint64_t cs = 1ull << cbits, size = ifmt_be64(f + 24);
    uint32_t l1n = ifmt_be32(f + 36);
    uint64_t l1o = ifmt_be64(f + 40), rto = ifmt_be64(f + 48);
    uint32_t rtc = ifmt_be32(f + 56);
    unsigned rbits = ver >= 3 ? 1u << ifmt_be32(f + 96) : 16;
    int zstd = ver >= 3 && f[104] == 1;
    ck_assert(ver == 2 || ver == 3);
    ck_assert_uint_eq(size, (imgfmt_virtual_size(src) + 511) / 512 * 512);
    uint64_t nclus = (len + cs - 1) / cs + 1;
    uint64_t *ref = calloc(nclus, sizeof *ref);
    /* a reference [o, o+n) */
#define REF(o, n) do { uint64_t _o = (o), _n = (n); \
        ck_assert_msg(_o + _n <= len + cs - 1, "reference %llu+%llu past EOF %zu", \
                      (unsigned long long)_o, (unsigned long long)_n, len); \
        for (uint64_t _c = _o / cs; _c <= (_o + _n - 1) / cs; _c++) ref[_c]++; } while (0)
    REF(0, cs);
    REF(rto, rtc * cs);
    uint64_t per = cs * 8 / rbits;
    for (uint64_t k = 0; k < rtc * cs / 8; k++) {
        uint64_t rb = ifmt_be64(f + rto + 8 * k);
        if (!rb)
            continue;
        ck_assert_uint_eq(rb % cs, 0);
        REF(rb, cs);
    }
    if (l1n)
        REF(l1o, (uint64_t)l1n * 8);
    uint8_t *clu = malloc(cs), *want = malloc(cs);
    uint64_t l2e = cs / 8;
    for (uint64_t j = 0; j < l1n; j++) {
        ck_assert_uint_le(l1o + 8 * j + 8, len);
        uint64_t e = ifmt_be64(f + l1o + 8 * j);
        if (!e)
            continue;
        ck_assert_uint_eq(e & 0x7f000000000001ffull, 0);
        uint64_t l2 = e & 0x00fffffffffffe00ull;
        REF(l2, cs);
        ck_assert_uint_le(l2 + cs, len);
        for (uint64_t i = 0; i < l2e; i++) {
            uint64_t d = ifmt_be64(f + l2 + 8 * i);
            if (!d)
                continue;
            if (d & (1ull << 62)) {
                ck_assert_msg(!(d >> 63), "COPIED on a compressed entry");
                unsigned x = 62 - (cbits - 8);
                uint64_t off = d & ((1ull << x) - 1);
                uint64_t nsect = ((d & ((1ull << 62) - 1)) >> x) + 1;
                uint64_t csize = nsect * 512 - (off & 511);
                REF(off, csize);
                size_t avail = (size_t)(off + csize <= len ? csize : len - off);
                decompress(zstd, f + off, avail, clu, cs);
            } else {
                ck_assert_uint_eq(d & 0x3f000000000001feull, 0);
                uint64_t h = d & 0x00fffffffffffe00ull;
                REF(h, cs);
                ck_assert_uint_le(h + cs, len);
                memcpy(clu, f + h, cs);
            }
            /* content */
            uint64_t g = j * l2e + i, off = g * cs, vs = imgfmt_virtual_size(src);
            memset(want, 0, cs);
            ck_assert_uint_lt(off, size);
            size_t have = (size_t)(off < vs ? (vs - off < cs ? vs - off : cs) : 0);
            if (have)
                ck_assert_int_eq(imgfmt_pread(src, want, have, off), 0);
            ck_assert_msg(memcmp(clu, want, cs) == 0, "content of guest cluster %llu",
                          (unsigned long long)g);
        }
    }
    /* Stored refcounts == computed, for every cluster of the file. */
    for (uint64_t c = 0; c < nclus; c++) {
        uint64_t k = c / per, stored = 0;
        uint64_t rb = k < rtc * cs / 8 ? ifmt_be64(f + rto + 8 * k) : 0;
        if (rb)
            stored = get_ref(f + rb, rbits, c % per);
        ck_assert_msg(stored == ref[c], "cluster %llu: refcount %llu, referenced %llu times",
                      (unsigned long long)c, (unsigned long long)stored,
                      (unsigned long long)ref[c]);
    }
    /* COPIED iff refcount 1 (L1 and standard L2 entries). */
    for (uint64_t j = 0; j < l1n; j++) {
        uint64_t e = ifmt_be64(f + l1o + 8 * j);
        if (!e)
            continue;
        uint64_t l2 = e & 0x00fffffffffffe00ull;
        ck_assert_int_eq(!!(e >> 63), ref[l2 / cs] == 1);
        for (uint64_t i = 0; i < l2e; i++) {
            uint64_t d = ifmt_be64(f + l2 + 8 * i);
            if (!d || (d & (1ull << 62)))
                continue;
            ck_assert_int_eq(!!(d >> 63), ref[(d & 0x00fffffffffffe00ull) / cs] == 1);
        }
    }
#undef REF
    free(ref);
    free(clu);
    free(want);
}

/* ---- images -------------------------------------------------------- */

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (uint8_t)rng;
}

/* 3 MiB + 700 bytes: text, random, zeros, single bytes, an odd tail. */
static uint8_t *mixed_image(size_t *len)
{
    size_t n = (3u << 20) + 700;
    uint8_t *b = calloc(1, n);
    static const char txt[] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
    for (size_t i = 0; i < (1u << 20); i++)
        b[i] = (uint8_t)txt[i % (sizeof txt - 1)];
    for (size_t i = 1200000; i < 1200000 + 300000; i++)
        b[i] = rnd8();
    b[2u << 20] = 1;
    b[(2u << 20) + 65535] = 7;
    for (size_t i = n - 600; i < n; i++)
        b[i] = (uint8_t)(i | 1);
    *len = n;
    return b;
}

static void roundtrip(imgfmt_image *img, const imgfmt_qcow2_opts *o)
{
    struct outbuf out = {0};
    uint64_t planned = 0;
    int r = write_all(img, o, &out, &planned);
    ck_assert_msg(r == 0, "writer failed: %d", r);
    ck_assert_uint_eq(planned, out.len);
    imgfmt_measure m;
    m.struct_size = sizeof m;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, o, IMGFMT_MEASURE_EXACT, NULL, NULL, &m), 0);
    ck_assert_uint_eq(m.length, out.len);
    ck_assert_uint_ge(m.upper_bound, m.length);
    verify(&out, img);
    seekable_same(img, o, &out);
    free(out.p);
}

START_TEST(test_roundtrip_options)
{
    size_t n;
    uint8_t *b = mixed_image(&n);
    imgfmt_image *img = open_mem_ok(b, n);
    static const struct { uint32_t cs, bits; int v3, comp, zstd; } k[] = {
        {65536, 16, 1, 0, 0}, {65536, 16, 0, 0, 0}, {4096, 16, 1, 0, 0},
        {2u << 20, 16, 1, 0, 0}, {512, 16, 1, 0, 0}, {1024, 64, 1, 0, 0},
        {65536, 1, 1, 0, 0}, {4096, 2, 1, 0, 0}, {8192, 8, 1, 0, 0},
        {65536, 16, 1, 1, 0}, {4096, 16, 1, 1, 0}, {512, 16, 1, 1, 0},
        {65536, 1, 1, 1, 0}, {65536, 2, 1, 1, 0}, {2u << 20, 16, 1, 1, 0},
        {65536, 16, 0, 1, 0},
#if IMGFMT_HAVE_ZSTD
        {65536, 16, 1, 1, 1}, {4096, 16, 1, 1, 1},
#endif
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        imgfmt_qcow2_opts o;
        imgfmt_qcow2_opts_init(&o);
        o.cluster_size = k[i].cs;
        o.refcount_bits = k[i].bits;
        o.compat_v3 = k[i].v3;
        o.compress = k[i].comp;
        o.compression_type = k[i].zstd ? IMGFMT_QCOW2_ZSTD : IMGFMT_QCOW2_ZLIB;
        roundtrip(img, &o);
    }
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_refblocks_compressed)
{
    /* Small clusters and narrow refcounts: many refcount blocks, some of
     * them opened by compressed streams. */
    size_t n = 6u << 20;
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (i / 512) % 3 == 0 ? rnd8() : (uint8_t)(i % 251);
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 4096;
    o.refcount_bits = 64;
    o.compress = 1;
    roundtrip(img, &o);
    o.compress = 0;
    roundtrip(img, &o);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_empty_and_zero)
{
    static uint8_t z[1 << 20];
    imgfmt_image *img = open_mem_ok(z, sizeof z);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    struct outbuf out = {0};
    uint64_t planned = 0;
    ck_assert_int_eq(write_all(img, &o, &out, &planned), 0);
    ck_assert_uint_eq(out.len, 196616);   /* 3 clusters + one L1 entry */
    verify(&out, img);
    seekable_same(img, &o, &out);
    free(out.p);
    o.compress = 1;                       /* nothing to compress: 512-byte tail */
    out = (struct outbuf){0};
    ck_assert_int_eq(write_all(img, &o, &out, &planned), 0);
    ck_assert_uint_eq(out.len, 197120);
    seekable_same(img, &o, &out);
    o.compress = 0;
    free(out.p);
    imgfmt_close(img);
    img = open_mem_ok(z, 0);
    out = (struct outbuf){0};
    ck_assert_int_eq(write_all(img, &o, &out, &planned), 0);
    ck_assert_uint_eq(out.len, 196608);
    seekable_same(img, &o, &out);
    free(out.p);
    imgfmt_close(img);
}
END_TEST

START_TEST(test_threads_deterministic)
{
    size_t n;
    uint8_t *b = mixed_image(&n);
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.compress = 1;
    o.cluster_size = 4096;
    struct outbuf a = {0}, c = {0};
    uint64_t pl;
    ck_assert_int_eq(write_all(img, &o, &a, &pl), 0);
    o.threads = 4;
    ck_assert_int_eq(write_all(img, &o, &c, &pl), 0);
    ck_assert_uint_eq(a.len, c.len);
    ck_assert_int_eq(memcmp(a.p, c.p, a.len), 0);
    free(a.p);
    free(c.p);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_write_failure)
{
    size_t n;
    uint8_t *b = mixed_image(&n);
    imgfmt_image *img = open_mem_ok(b, n);
    static const size_t at[] = {1, 65536 * 3 + 10, 400000};
    for (int comp = 0; comp < 2; comp++)
        for (size_t i = 0; i < 3; i++) {
            imgfmt_qcow2_opts o;
            imgfmt_qcow2_opts_init(&o);
            o.compress = comp;
            struct outbuf out = {0};
            out.fail_at = at[i];
            imgfmt_qcow2_writer *w = NULL;
            ck_assert_int_eq(imgfmt_qcow2_writer_new(img, &o, collect, &out, &w, NULL), 0);
            int r;
            while ((r = imgfmt_qcow2_writer_step(w, NULL, NULL)) == 0)
                ;
            ck_assert_int_eq(r, IMGFMT_E_WRITE);
            ck_assert_ptr_nonnull(strstr(imgfmt_qcow2_writer_error(w)->msg,
                                         "write callback failed"));
            ck_assert_uint_lt(out.len, at[i]);
            imgfmt_qcow2_writer_free(w);
            free(out.p);
        }
    /* The seekable writer: the first, a middle and the last write fail. */
    for (int comp = 0; comp < 2; comp++)
        for (int call = 1; call <= 3; call++) {
            imgfmt_qcow2_opts o;
            imgfmt_qcow2_opts_init(&o);
            o.compress = comp;
            struct pbuf pb = {0};
            pb.cap = 8u << 20;
            pb.p = calloc(1, pb.cap);
            pb.fail_call = call == 3 ? 9999 : call * 4;
            imgfmt_qcow2_writer *w = NULL;
            ck_assert_int_eq(imgfmt_qcow2_writer_new_seekable(img, &o, pcollect, &pb, &w, NULL), 0);
            int r;
            while ((r = imgfmt_qcow2_writer_step(w, NULL, NULL)) == 0)
                ;
            if (call == 3) {            /* fewer calls than that: it finishes */
                ck_assert_int_eq(r, 1);
                pb.fail_call = pb.calls;    /* now fail on the last (header) write */
                imgfmt_qcow2_writer_free(w);
                pb.calls = 0;
                ck_assert_int_eq(imgfmt_qcow2_writer_new_seekable(img, &o, pcollect, &pb, &w,
                                                                  NULL), 0);
                while ((r = imgfmt_qcow2_writer_step(w, NULL, NULL)) == 0)
                    ;
            }
            ck_assert_int_eq(r, IMGFMT_E_WRITE);
            ck_assert_ptr_nonnull(strstr(imgfmt_qcow2_writer_error(w)->msg,
                                         "write callback failed"));
            ck_assert_int_eq(imgfmt_qcow2_writer_step(w, NULL, NULL), IMGFMT_E_WRITE);
            imgfmt_qcow2_writer_free(w);
            free(pb.p);
        }
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_writer_bad_args)
{
    static uint8_t z[4096];
    imgfmt_image *img = open_mem_ok(z, sizeof z);
    imgfmt_qcow2_writer *w = (imgfmt_qcow2_writer *)1;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_qcow2_writer_new(img, NULL, NULL, NULL, &w, &err), IMGFMT_E_INVAL);
    ck_assert_ptr_null(w);
    w = (imgfmt_qcow2_writer *)1;
    ck_assert_int_eq(imgfmt_qcow2_writer_new_seekable(img, NULL, NULL, NULL, &w, &err),
                     IMGFMT_E_INVAL);
    ck_assert_ptr_null(w);
    imgfmt_qcow2_opts o;
    imgfmt_qcow2_opts_init(&o);
    o.cluster_size = 100;
    ck_assert_int_eq(imgfmt_qcow2_writer_new(img, &o, collect, NULL, &w, &err), IMGFMT_E_INVAL);
    ck_assert_int_eq(err.code, IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cluster_size 100"));
    ck_assert_ptr_null(w);
    imgfmt_qcow2_writer_free(NULL);
    ck_assert_int_eq(imgfmt_qcow2_writer_step(NULL, NULL, NULL), IMGFMT_E_INVAL);
    ck_assert_uint_eq(imgfmt_qcow2_writer_length(NULL), 0);
    imgfmt_close(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_roundtrip_options);
    tcase_add_test(tc, test_refblocks_compressed);
    tcase_add_test(tc, test_empty_and_zero);
    tcase_add_test(tc, test_threads_deterministic);
    tcase_add_test(tc, test_write_failure);
    tcase_add_test(tc, test_writer_bad_args);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
