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
#include "testdata-gz.h"
#include "core/internal.h"
#include "core/bytes.h"
#include "formats/qcow2.h"
#include "formats/vmdk.h"

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
    td_make_tmpdir("imgfmt-zero");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        imgfmt_image *img = open_path_ok(td_unpack(names[i]));
        compare_all(img);
        imgfmt_close(img);
    }
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_chain)
{
    td_make_tmpdir("imgfmt-zero");
    td_unpack("backing-base.qcow2");
    imgfmt_image *img = open_path_ok(td_unpack("backing-top.qcow2"));
    compare_all(img);
    imgfmt_close(img);
    td_unpack("vhd-diff-parent.vhd");
    img = open_path_ok(td_unpack("vhd-diff-child.vhd"));
    compare_all(img);
    imgfmt_close(img);
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_bad_args)
{
    td_make_tmpdir("imgfmt-zero");
    imgfmt_image *img = open_path_ok(td_unpack("v2.qcow2"));
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
    td_rm_tmpdir();
}
END_TEST

/* ---- crafted compressed clusters / grains ------------------------------ */

/* Gunzip testdata/NAME.gz into memory. */
static uint8_t *gunzip_mem(const char *name, size_t *len)
{
    char gzname[512];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile in = gzopen(td_path(gzname), "rb");
    ck_assert_msg(in != NULL, "cannot open %s", td_path(gzname));
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int got;
    while ((got = gzread(in, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    ck_assert_int_eq(got, 0);
    gzclose(in);
    *len = n;
    return b;
}

static imgfmt_image *open_buf(const uint8_t *b, size_t len)
{
    return open_mem_ok(b, len);
}

/* Deflate in (raw deflate if raw, else zlib format) into out; when
 * flush_at < inlen, a full flush after flush_at bytes and the rest of the
 * stream replaced by garbage (valid for flush_at bytes of output only). */
static size_t squeeze(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen, bool raw,
                      size_t flush_at)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, raw ? -12 : 15, 9, Z_DEFAULT_STRATEGY),
                     Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.next_out = out;
    z.avail_out = (uInt)outlen;
    size_t n;
    if (flush_at < inlen) {
        z.avail_in = (uInt)flush_at;
        ck_assert_int_eq(deflate(&z, Z_FULL_FLUSH), Z_OK);
        n = outlen - z.avail_out;
        memset(out + n, 0xff, 64);            /* invalid block type 3 */
        n += 64;
    } else {
        z.avail_in = (uInt)inlen;
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        n = outlen - z.avail_out;
    }
    deflateEnd(&z);
    return n;
}

/* The host offset and sector budget of compressed guest cluster g of a
 * qcow2 image in memory. */
static void q2_comp(uint8_t *b, uint64_t g, uint64_t *coff, uint64_t *csize)
{
    unsigned cb = ifmt_be32(b + QCOW2_HDR_CLUSTER_BITS);
    uint64_t l1 = ifmt_be64(b + QCOW2_HDR_L1_OFFSET);
    uint64_t per = (1ull << cb) / 8;
    uint64_t l2 = ifmt_be64(b + l1 + (g / per) * 8) & QCOW2_L1E_OFFSET_MASK;
    uint64_t e = ifmt_be64(b + l2 + (g % per) * 8);
    ck_assert_msg(e & QCOW2_OFLAG_COMPRESSED, "cluster %llu not compressed",
                  (unsigned long long)g);
    qcow2_compressed_decode(e, cb, coff, csize);
}

/* Replace compressed cluster g's stream by the raw deflate of plain. */
static void q2_put(uint8_t *b, uint64_t g, const uint8_t *plain, size_t cs, size_t flush_at)
{
    uint64_t coff, csize;
    q2_comp(b, g, &coff, &csize);
    uint8_t tmp[16384];
    size_t n = squeeze(plain, cs, tmp, sizeof tmp, true, flush_at);
    ck_assert_uint_le(n, csize);
    memcpy(b + coff, tmp, n);
}

/* Check one unit against the plain answer; returns the verdict. */
static int unit_verdict(imgfmt_image *img, uint64_t off, size_t unit)
{
    uint8_t *buf = malloc(unit), nz = 7, want = 9;
    ck_assert_int_eq(ifmt_zero_units(img, off, unit, unit, buf, &nz), 0);
    plain_units(img, off, unit, unit, &want);
    ck_assert_int_eq(nz, want);
    free(buf);
    return nz;
}

START_TEST(test_qcow2_crafted)
{
    size_t len;
    uint8_t *b = gunzip_mem("compressed.qcow2", &len);
    const size_t cs = 4096;
    uint8_t plain[4096];
    /* clusters 1: zeros once inflated; 2: one non-zero byte at the end;
     * 3: non-zero first byte */
    memset(plain, 0, cs);
    q2_put(b, 1, plain, cs, cs);
    plain[cs - 1] = 1;
    q2_put(b, 2, plain, cs, cs);
    plain[cs - 1] = 0;
    plain[0] = 0x80;
    q2_put(b, 3, plain, cs, cs);
    imgfmt_image *img = open_buf(b, len);
    ck_assert_int_eq(unit_verdict(img, 1 * cs, cs), 0);
    ck_assert_int_eq(unit_verdict(img, 2 * cs, cs), 1);
    ck_assert_int_eq(unit_verdict(img, 3 * cs, cs), 1);
    ck_assert_int_eq(unit_verdict(img, 2 * cs, 512), 0);   /* first sector */
    ck_assert_int_eq(unit_verdict(img, 3 * cs - 512, 512), 1);
    compare_all(img);
    imgfmt_close(img);

    /* A partial last cluster: virtual size 1 MiB - 1536 (the last data
     * cluster at 1020k is cut); units past the end are zero. */
    ifmt_put_be64(b + QCOW2_HDR_SIZE, (1u << 20) - 1536);
    img = open_buf(b, len);
    compare_all(img);
    uint8_t buf[65536], nz[16];
    ck_assert_int_eq(ifmt_zero_units(img, (1u << 20) - 65536, 65536, 4096, buf, nz), 0);
    ck_assert_int_eq(nz[15], 1);          /* 0xa5 on [1020k, 1022.5k), the end */
    ck_assert_int_eq(nz[14], 0);
    ck_assert_int_eq(ifmt_zero_units(img, (1u << 20) - 4096, 4096, 512, buf, nz), 0);
    ck_assert_int_eq(nz[0] + nz[1] + nz[2] + nz[3] + nz[4], 5);
    ck_assert_int_eq(nz[5] + nz[6] + nz[7], 0);
    imgfmt_close(img);
    ifmt_put_be64(b + QCOW2_HDR_SIZE, 1u << 20);

    /* Corrupt: garbage in place of cluster 4's stream: an error, as for a read. */
    uint64_t coff, csize;
    q2_comp(b, 4, &coff, &csize);
    memset(b + coff, 0xff, 16);
    img = open_buf(b, len);
    uint8_t one;
    ck_assert_int_eq(ifmt_zero_units(img, 4 * cs, cs, cs, buf, &one), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "does not inflate"));
    ck_assert_int_eq(imgfmt_pread(img, buf, cs, 4 * cs), IMGFMT_E_CORRUPT);
    uint8_t nz16[16];
    ck_assert_int_eq(ifmt_zero_units(img, 0, 65536, 4096, buf, nz16), IMGFMT_E_CORRUPT);
    /* ... unless the unit is decided before the damaged cluster is reached:
     * [0, 64k) is non-zero from cluster 0 on, cluster 4 is not looked at. */
    ck_assert_int_eq(ifmt_zero_units(img, 0, 65536, 65536, buf, &one), 0);
    ck_assert_int_eq(one, 1);
    imgfmt_close(img);
    /* Zeros for 1000 bytes, then garbage: the probe finds no non-zero byte
     * before the damage, so it reports the read's error. */
    memset(plain, 0, cs);
    q2_comp(b, 5, &coff, &csize);
    size_t n = squeeze(plain, cs, b + coff, (size_t)csize, true, 1000);
    ck_assert_uint_le(n, csize);
    img = open_buf(b, len);
    ck_assert_int_eq(ifmt_zero_units(img, 5 * cs, cs, cs, buf, &one), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "does not inflate"));
    ck_assert_int_eq(imgfmt_pread(img, buf, cs, 5 * cs), IMGFMT_E_CORRUPT);
    imgfmt_close(img);
    free(b);
}
END_TEST

/* The GTE sector of grain g of a qemu-layout streamOptimized VMDK. */
static uint32_t vmdk_gte(const uint8_t *b, uint64_t g)
{
    struct vmdk4_header h;
    vmdk4_header_decode(b, &h);
    uint64_t gt = ifmt_le32(b + h.gd_offset * 512 + (g / h.num_gtes_per_gt) * 4);
    return ifmt_le32(b + gt * 512 + (g % h.num_gtes_per_gt) * 4);
}

/* Point grain g at a new grain appended to the file (*b grows): marker +
 * the zlib stream of plain. */
static void vmdk_put(uint8_t **b, size_t *len, uint64_t g, const uint8_t *plain, size_t gb,
                     size_t flush_at)
{
    struct vmdk4_header h;
    vmdk4_header_decode(*b, &h);
    uint64_t gt = ifmt_le32(*b + h.gd_offset * 512 + (g / h.num_gtes_per_gt) * 4);
    size_t at = (*len + 511) / 512 * 512;
    uint8_t *tmp = malloc(gb * 2);
    size_t n = squeeze(plain, gb, tmp, gb * 2, false, flush_at);
    size_t nlen = (at + 12 + n + 511) / 512 * 512;
    *b = realloc(*b, nlen);
    memset(*b + *len, 0, nlen - *len);
    ifmt_put_le64(*b + at, g * h.granularity);
    ifmt_put_le32(*b + at + 8, (uint32_t)n);
    memcpy(*b + at + 12, tmp, n);
    ifmt_put_le32(*b + gt * 512 + (g % h.num_gtes_per_gt) * 4, (uint32_t)(at / 512));
    *len = nlen;
    free(tmp);
}

START_TEST(test_vmdk_crafted)
{
    size_t len;
    uint8_t *b = gunzip_mem("vmdk-stream.vmdk", &len);
    struct vmdk4_header h;
    vmdk4_header_decode(b, &h);
    size_t gb = (size_t)h.granularity * 512;
    ck_assert_uint_eq(gb, 65536);
    uint8_t *plain = calloc(1, gb);
    /* grain 0: zeros once inflated; grain 1: a non-zero last byte */
    vmdk_put(&b, &len, 0, plain, gb, gb);
    plain[gb - 1] = 2;
    vmdk_put(&b, &len, 1, plain, gb, gb);
    imgfmt_image *img = open_buf(b, len);
    ck_assert_int_eq(unit_verdict(img, 0, gb), 0);
    ck_assert_int_eq(unit_verdict(img, gb, gb), 1);
    ck_assert_int_eq(unit_verdict(img, gb, 4096), 0);
    ck_assert_int_eq(unit_verdict(img, 2 * gb - 4096, 4096), 1);
    compare_all(img);
    imgfmt_close(img);

    /* Grain 1: 8 KiB of data, then garbage.  A read fails; the probe decides
     * "non-zero" from the first 4 KiB of output and stops before the damage
     * (the point of probing: a fraction of the inflate). */
    memset(plain, 0x33, 8192);
    vmdk_put(&b, &len, 1, plain, gb, 8192);
    img = open_buf(b, len);
    uint8_t *buf = malloc(gb), nz = 0;
    ck_assert_int_eq(imgfmt_pread(img, buf, gb, gb), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "does not inflate"));
    ck_assert_int_eq(ifmt_zero_units(img, gb, gb, gb, buf, &nz), 0);
    ck_assert_int_eq(nz, 1);
    imgfmt_close(img);

    /* Garbage from the start (grain 0, zeros so far): an error. */
    uint32_t gte = vmdk_gte(b, 0);
    memset(b + (uint64_t)gte * 512 + 12, 0xff, 8);
    img = open_buf(b, len);
    ck_assert_int_eq(ifmt_zero_units(img, 0, gb, gb, buf, &nz), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "does not inflate"));
    uint8_t nz16[16];
    ck_assert_int_eq(ifmt_zero_units(img, 0, gb, 4096, buf, nz16), IMGFMT_E_CORRUPT);
    imgfmt_close(img);
    /* A marker size past the grain bound: the read's error. */
    ifmt_put_le32(b + (uint64_t)gte * 512 + 8, (uint32_t)(3 * gb));
    img = open_buf(b, len);
    ck_assert_int_eq(ifmt_zero_units(img, 0, gb, gb, buf, &nz), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "grain marker"));
    imgfmt_close(img);
    free(buf);
    free(plain);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zero");
    TCase *tc = tcase_create("units");
    tcase_add_test(tc, test_committed_images);
    tcase_add_test(tc, test_chain);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_qcow2_crafted);
    tcase_add_test(tc, test_vmdk_crafted);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
