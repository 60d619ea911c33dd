/*
 * test-raw.c -- the raw driver and the core it exercises: probing, the
 * 512-byte rounding of the virtual size, exact reads, holes as ZERO extents,
 * argument and range checks, the table cache.
 */
#define IMGFMT_BUILDING 1
#include <fcntl.h>

#include "testutil.h"
#include "core/internal.h"
#include "fs/fs.h"
#include "core/cache.h"

START_TEST(test_probe_raw)
{
    uint8_t buf[1000];
    memset(buf, 0xab, sizeof buf);
    char *p = tmp_file(buf, sizeof buf);
    enum imgfmt_format f = IMGFMT_FMT_UNKNOWN;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_probe(p, &f, &err), 0);
    ck_assert_int_eq(f, IMGFMT_FMT_RAW);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_empty_file)
{
    char *p = tmp_file(NULL, 0);
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), 0);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_RAW);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 0);
    uint8_t b;
    ck_assert_int_eq(imgfmt_pread(img, &b, 0, 0), 0);
    ck_assert_int_eq(imgfmt_pread(img, &b, 1, 0), IMGFMT_E_RANGE);
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, 0, 1, &e), IMGFMT_E_RANGE);
    imgfmt_close(img);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_size_rounding_and_tail)
{
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    imgfmt_image *img = open_mem_ok(buf, sizeof buf);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 1024);
    uint8_t out[1024];
    memset(out, 0xff, sizeof out);
    ck_assert_int_eq(imgfmt_pread(img, out, sizeof out, 0), 0);
    ck_assert_mem_eq(out, buf, sizeof buf);
    for (size_t i = sizeof buf; i < sizeof out; i++)
        ck_assert_uint_eq(out[i], 0);
    /* Past the end: nothing read, RANGE. */
    ck_assert_int_eq(imgfmt_pread(img, out, 2, 1023), IMGFMT_E_RANGE);
    ck_assert_int_eq(imgfmt_last_error(img)->code, IMGFMT_E_RANGE);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "beyond the virtual size"));
    ck_assert_int_eq(imgfmt_pread(img, out, 1, UINT64_MAX), IMGFMT_E_RANGE);
    /* The padding after the file is ZERO. */
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, 0, 1024, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_DATA);
    ck_assert_uint_eq(e.length, 1000);
    ck_assert_int_eq(imgfmt_block_status(img, 1000, 1024, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);
    ck_assert_uint_eq(e.length, 24);
    imgfmt_close(img);
}
END_TEST

START_TEST(test_holes)
{
    /* 1 MiB file: data at 0 and at 768 KiB, a hole between (if the file
     * system supports it; otherwise everything is DATA). */
    char *p = tmp_file(NULL, 0);
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    uint8_t blk[65536];
    memset(blk, 0x5a, sizeof blk);
    ck_assert_int_eq(pwrite(fd, blk, sizeof blk, 0), (ssize_t)sizeof blk);
    ck_assert_int_eq(pwrite(fd, blk, sizeof blk, 768 * 1024), (ssize_t)sizeof blk);
    ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
    close(fd);

    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), 0);
    imgfmt_extent_iter *it = NULL;
    ck_assert_int_eq(imgfmt_extents_begin(img, 0, 1 << 20, &it), 0);
    imgfmt_extent e;
    uint64_t pos = 0, data = 0;
    int r, n = 0;
    while ((r = imgfmt_extents_next(it, &e)) == 1) {
        ck_assert_uint_eq(e.offset, pos);
        ck_assert(e.flags == IMGFMT_EXTENT_DATA || e.flags == IMGFMT_EXTENT_ZERO);
        if (e.flags == IMGFMT_EXTENT_DATA)
            data += e.length;
        pos += e.length;
        n++;
    }
    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(pos, 1 << 20);
    ck_assert_uint_ge(data, 2 * 65536);
    imgfmt_extents_end(it);
    /* Content across the hole. */
    uint8_t *all = malloc(1 << 20);
    ck_assert_int_eq(imgfmt_pread(img, all, 1 << 20, 0), 0);
    ck_assert_uint_eq(all[0], 0x5a);
    ck_assert_uint_eq(all[65536], 0);
    ck_assert_uint_eq(all[768 * 1024 + 100], 0x5a);
    ck_assert_uint_eq(all[(1 << 20) - 1], 0);
    free(all);
    imgfmt_close(img);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_bad_arguments)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(NULL, NULL, &img, &err), IMGFMT_E_INVAL);
    ck_assert_int_eq(imgfmt_open("/nonexistent/x.img", NULL, &img, &err), IMGFMT_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.img"));
    ck_assert_int_eq(imgfmt_open("/", NULL, &img, &err), IMGFMT_E_IO);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.struct_size = 9999;
    uint8_t b[512] = {0};
    ck_assert_int_eq(imgfmt_open_memory(b, sizeof b, &o, &img, &err), IMGFMT_E_INVAL);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(imgfmt_open_memory(NULL, 5, NULL, &img, &err), IMGFMT_E_INVAL);
    imgfmt_close(NULL);
    imgfmt_extents_end(NULL);
    ck_assert_str_eq(imgfmt_strerror(IMGFMT_E_CORRUPT), "corrupt image");
    ck_assert_str_eq(imgfmt_strerror(12345), "unknown error");
    ck_assert_int_eq(imgfmt_format_from_name("vhd"), IMGFMT_FMT_VHD);
    ck_assert_int_eq(imgfmt_format_from_name("nope"), IMGFMT_FMT_UNKNOWN);
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_VHD), "vpc");
    ck_assert_uint_eq(imgfmt_version_number(), IMGFMT_VERSION_NUMBER);
}
END_TEST

START_TEST(test_info_and_fd)
{
    uint8_t buf[4096] = {1};
    char *p = tmp_file(buf, sizeof buf);
    int fd = open(p, O_RDONLY);
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_fd(fd, NULL, &img, &err), 0);
    close(fd);   /* the library has its own descriptor */
    imgfmt_info in;
    in.struct_size = 3;
    ck_assert_int_eq(imgfmt_get_info(img, &in), IMGFMT_E_INVAL);
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.format_name, "raw");
    ck_assert_uint_eq(in.virtual_size, 4096);
    ck_assert_uint_eq(in.file_length, 4096);
    ck_assert_ptr_null(in.backing_filename);
    uint8_t out[4096];
    ck_assert_int_eq(imgfmt_pread(img, out, sizeof out, 0), 0);
    ck_assert_mem_eq(out, buf, sizeof buf);
    imgfmt_snapshot s;
    ck_assert_int_eq(imgfmt_qcow2_get_snapshot(img, 0, &s), IMGFMT_E_RANGE);
    imgfmt_close(img);
    unlink(p);
    free(p);
}
END_TEST

START_TEST(test_cache_and_cap)
{
    uint8_t b[512] = {0};
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.max_metadata_bytes = 4096;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_memory(b, sizeof b, &o, &img, &err), 0);
    struct ifmt_cache *c = NULL;
    ck_assert_int_eq(ifmt_cache_new(img, 1024, 8, &c), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "metadata cap"));
    ck_assert_int_eq(ifmt_cache_new(img, 1024, 2, &c), 0);
    ck_assert_ptr_null(ifmt_cache_get(c, 7));
    uint8_t *s7 = ifmt_cache_put(c, 7);
    s7[0] = 7;
    uint8_t *s9 = ifmt_cache_put(c, 9);
    s9[0] = 9;
    ck_assert_ptr_eq(ifmt_cache_get(c, 7), s7);     /* 7 now most recent */
    uint8_t *s11 = ifmt_cache_put(c, 11);           /* evicts 9 */
    ck_assert_ptr_eq(s11, s9);
    ck_assert_ptr_null(ifmt_cache_get(c, 9));
    ck_assert_ptr_eq(ifmt_cache_get(c, 7), s7);
    ifmt_cache_drop(c, 7);
    ck_assert_ptr_null(ifmt_cache_get(c, 7));
    ifmt_cache_free(img, c);
    ck_assert_uint_eq(img->metadata_bytes, 0);
    ck_assert(ifmt_is_zero(b, sizeof b));
    b[300] = 1;
    ck_assert(!ifmt_is_zero(b, sizeof b));
    ck_assert(ifmt_is_zero(b, 300));
    imgfmt_close(img);
}
END_TEST

/* One struct_size rule (imgfmt.h, Conventions) for every versioned struct:
 * sizeof is accepted, anything else is INVAL naming the struct. */
START_TEST(test_struct_size_rule)
{
    uint8_t b[4096] = {1};
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    const uint32_t bad[] = {0, 4, 1u << 20};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        imgfmt_open_opts o;
        imgfmt_open_opts_init(&o);
        ck_assert_uint_eq(o.struct_size, sizeof o);
        o.struct_size = bad[i];
        ck_assert_int_eq(imgfmt_open_memory(b, sizeof b, &o, &img, &err), IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "imgfmt_open_opts: struct_size"));
        ck_assert_ptr_null(img);
    }
    img = open_mem_ok(b, sizeof b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        imgfmt_info in;
        in.struct_size = bad[i];
        ck_assert_int_eq(imgfmt_get_info(img, &in), IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "imgfmt_info: struct_size"));
        imgfmt_qcow2_opts q;
        imgfmt_qcow2_opts_init(&q);
        ck_assert_uint_eq(q.struct_size, sizeof q);
        imgfmt_measure m;
        m.struct_size = sizeof m;
        q.struct_size = bad[i];
        ck_assert_int_eq(imgfmt_measure_qcow2(img, &q, IMGFMT_MEASURE_FAST, NULL, NULL, &m),
                         IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "imgfmt_qcow2_opts"));
        m.struct_size = bad[i];
        ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_FAST, NULL, NULL, &m),
                         IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "imgfmt_measure"));
        imgfmt_fs_opts f;
        imgfmt_fs_opts_init(&f);
        ck_assert_uint_eq(f.struct_size, sizeof f);
        f.struct_size = bad[i];
        struct ifmt_bdev dev;
        ifmt_bdev_init_memory(&dev, b, sizeof b, "mem");
        struct ifmt_fs *fs = NULL;
        ck_assert_int_eq(ifmt_fs_mount(&dev, NULL, &f, &fs, &err), IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "imgfmt_fs_opts"));
        ck_assert_ptr_null(fs);
    }
    /* The right sizes work, and results keep their struct_size. */
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.struct_size, sizeof in);
    imgfmt_measure m;
    m.struct_size = sizeof m;
    ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_FAST, NULL, NULL, &m), 0);
    ck_assert_uint_eq(m.struct_size, sizeof m);
    imgfmt_close(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("raw");
    TCase *tc = tcase_create("raw");
    tcase_add_test(tc, test_probe_raw);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_size_rounding_and_tail);
    tcase_add_test(tc, test_holes);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_info_and_fd);
    tcase_add_test(tc, test_struct_size_rule);
    tcase_add_test(tc, test_cache_and_cap);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
