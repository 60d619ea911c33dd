/*
 * test-zero.c -- ifmt_zero_units (internal.h): which units of a guest range
 * hold a non-zero byte.  Every answer is compared with the plain one
 * (imgfmt_pread, zeros past the virtual size, ifmt_is_zero per unit) on the
 * committed images of all formats, a backing chain, images built here with
 * compressed clusters/grains that are zero only once inflated, a partial last
 * cluster, and corrupt compressed data (an error, never a crash).
 */
#define IMGFMT_BUILDING 1
#include <sys/stat.h>
#include <zlib.h>

#include "testutil.h"
#include "internal.h"

static char tmpdir[4096];

static void make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/imgfmt-zero-XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Gunzip testdata/NAME.gz to tmpdir/NAME; returns the path (static). */
static const char *unpack(const char *name)
{
    static char out[4200];
    char gzname[512];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile in = gzopen(td_path(gzname), "rb");
    ck_assert_msg(in != NULL, "cannot open %s", td_path(gzname));
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    FILE *f = fopen(out, "wb");
    ck_assert_ptr_nonnull(f);
    char buf[65536];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    ck_assert_int_eq(n, 0);
    gzclose(in);
    fclose(f);
    return out;
}

static imgfmt_image *open_path(const char *path)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(path, NULL, &img, &err);
    ck_assert_msg(r == 0, "open %s failed: %d %s", path, r, err.msg);
    return img;
}

/* The plain answer for [off, off+len): pread, zeros past the end, is_zero. */
static void plain_units(imgfmt_image *img, uint64_t off, size_t len, size_t unit,
                        uint8_t *nz)
{
    uint8_t *buf = malloc(len);
    uint64_t vs = imgfmt_virtual_size(img);
    size_t in = off >= vs ? 0 : (size_t)(len < vs - off ? len : vs - off);
    memset(buf, 0, len);
    if (in)
        ck_assert_msg(imgfmt_pread(img, buf, in, off) == 0, "pread: %s",
                      imgfmt_last_error(img)->msg);
    for (size_t i = 0; i < len / unit; i++)
        nz[i] = !ifmt_is_zero(buf + i * unit, unit);
    free(buf);
}

/* Compare ifmt_zero_units with the plain answer over the whole image (and one
 * step past its end) in steps of `step` bytes, for one unit size.  Returns the
 * number of non-zero units seen. */
static size_t compare_units(imgfmt_image *img, size_t unit, size_t step)
{
    uint64_t vs = imgfmt_virtual_size(img);
    uint64_t end = (vs + unit - 1) / unit * unit + step;
    uint8_t *buf = malloc(step);
    uint8_t *nz = malloc(step / unit);
    uint8_t *want = malloc(step / unit);
    size_t count = 0;
    for (uint64_t off = 0; off < end; off += step) {
        memset(buf, 0x5c, step);
        memset(nz, 0xee, step / unit);
        int r = ifmt_zero_units(img, off, step, unit, buf, nz);
        ck_assert_msg(r == 0, "zero_units at %llu: %d %s", (unsigned long long)off, r,
                      imgfmt_last_error(img)->msg);
        plain_units(img, off, step, unit, want);
        for (size_t i = 0; i < step / unit; i++) {
            ck_assert_msg(nz[i] == want[i], "unit %zu of %zu at %llu: got %d want %d",
                          i, unit, (unsigned long long)off, nz[i], want[i]);
            count += nz[i];
        }
    }
    free(buf);
    free(nz);
    free(want);
    return count;
}

static void compare_all(imgfmt_image *img)
{
    static const size_t units[] = {512, 4096, 65536};
    size_t nz512 = 0;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        /* steps of one unit, and of several units at once */
        size_t a = compare_units(img, units[u], units[u]);
        size_t b = compare_units(img, units[u], units[u] * 4);
        ck_assert_uint_eq(a, b);
        if (u == 0)
            nz512 = a;
    }
    ck_assert_uint_gt(nz512, 0);
}

START_TEST(test_committed_images)
{
    static const char *names[] = {
        "v2.qcow2", "v3-zero.qcow2", "compressed.qcow2", "compressed-zstd.qcow2",
        "backing-base.qcow2", "snapshot.qcow2", "extl2.qcow2", "sample.vhd",
        "vhd-fixed-1m.vhd", "vmdk-sparse.vmdk", "vmdk-stream.vmdk",
        "vmdk-vmware-stream.vmdk", "vmdk-zeroed.vmdk",
    };
    make_tmpdir();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        imgfmt_image *img = open_path(unpack(names[i]));
        compare_all(img);
        imgfmt_close(img);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_chain)
{
    make_tmpdir();
    unpack("backing-base.qcow2");
    imgfmt_image *img = open_path(unpack("backing-top.qcow2"));
    compare_all(img);
    imgfmt_close(img);
    unpack("vhd-diff-parent.vhd");
    img = open_path(unpack("vhd-diff-child.vhd"));
    compare_all(img);
    imgfmt_close(img);
    rm_tmpdir();
}
END_TEST

START_TEST(test_bad_args)
{
    make_tmpdir();
    imgfmt_image *img = open_path(unpack("v2.qcow2"));
    uint8_t buf[4096], nz[8];
    ck_assert_int_eq(ifmt_zero_units(img, 0, 4096, 1000, buf, nz), IMGFMT_E_INVAL);
    ck_assert_int_eq(ifmt_zero_units(img, 0, 4096, 256, buf, nz), IMGFMT_E_INVAL);
    ck_assert_int_eq(ifmt_zero_units(img, 512, 4096, 4096, buf, nz), IMGFMT_E_INVAL);
    ck_assert_int_eq(ifmt_zero_units(img, 0, 1024, 4096, buf, nz), IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "units of 4096"));
    /* len 0 is fine */
    ck_assert_int_eq(ifmt_zero_units(img, 0, 0, 4096, buf, nz), 0);
    /* entirely past the end: all zero */
    memset(nz, 9, sizeof nz);
    ck_assert_int_eq(ifmt_zero_units(img, 1 << 30, 4096, 512, buf, nz), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(nz[i], 0);
    imgfmt_close(img);
    rm_tmpdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zero");
    TCase *tc = tcase_create("units");
    tcase_add_test(tc, test_committed_images);
    tcase_add_test(tc, test_chain);
    tcase_add_test(tc, test_bad_args);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
