/*
 * test-vmdk.c -- the VMDK driver, its descriptor parser and the OVA lister.
 * Synthetic images are built here from a small layout (each corruption is
 * one field change next to its assertion); committed images come from
 * testdata/ (see testdata/README).
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "testutil.h"
#include "core/bytes.h"
#include "core/internal.h"
#include "formats/vmdk.h"

/* ---- a synthetic sparse image ------------------------------------------
 * 64 KiB disk (128 sectors), grain 8 sectors, 512 GTEs per GT (one GT),
 * descriptor at sector 1, GD at sector 21, GT at sector 22, grains from
 * sector 32.  Grain 0 = 0xAB bytes at sector 32 (compressed: a marker and a
 * zlib stream there).  Grain 1 = GTE 1 (a zero grain if flag bit 2).
 * Grain 3 = 0xCD at sector 40 (uncompressed images only). */
#define SYN_SIZE (48 * 512)
static uint8_t syn[SYN_SIZE + 8192];
static size_t syn_len;

static const char syn_desc[] =
    "# Disk DescriptorFile\nversion=1\nCID=0badcafe\nparentCID=ffffffff\n"
    "createType=\"monolithicSparse\"\n\n# Extent description\n"
    "RW 128 SPARSE \"syn.vmdk\"\n";

static void build_syn(bool compressed, bool zero_grain)
{
    memset(syn, 0, sizeof syn);
    memcpy(syn, "KDMV", 4);
    ifmt_put_le32(syn + 4, zero_grain ? 2 : 1);
    uint32_t flags = 3 | (zero_grain ? VMDK4_FLAG_ZERO_GRAIN : 0) |
                     (compressed ? VMDK4_FLAG_COMPRESS | VMDK4_FLAG_MARKER : 0);
    ifmt_put_le32(syn + 8, flags);
    ifmt_put_le64(syn + 12, 128);          /* capacity */
    ifmt_put_le64(syn + 20, 8);            /* granularity */
    ifmt_put_le64(syn + 28, 1);            /* desc offset */
    ifmt_put_le64(syn + 36, 20);
    ifmt_put_le32(syn + 44, 512);
    ifmt_put_le64(syn + 48, 0);
    ifmt_put_le64(syn + 56, 21);           /* gd */
    ifmt_put_le64(syn + 64, 32);           /* grain offset */
    memcpy(syn + 73, "\n \r\n", 4);
    ifmt_put_le16(syn + 77, compressed ? 1 : 0);
    memcpy(syn + 512, syn_desc, sizeof syn_desc - 1);
    ifmt_put_le32(syn + 21 * 512, 22);     /* GD[0] -> GT at sector 22 */
    uint8_t *gt = syn + 22 * 512;
    ifmt_put_le32(gt + 0, 32);
    ifmt_put_le32(gt + 4, 1);
    uint8_t grain[4096];
    memset(grain, 0xab, sizeof grain);
    if (compressed) {
        uLongf zl = 4096;
        ck_assert_int_eq(compress(syn + 32 * 512 + 12, &zl, grain, sizeof grain), Z_OK);
        ifmt_put_le64(syn + 32 * 512, 0);
        ifmt_put_le32(syn + 32 * 512 + 8, (uint32_t)zl);
    } else {
        memcpy(syn + 32 * 512, grain, sizeof grain);
        ifmt_put_le32(gt + 12, 40);
        memset(syn + 40 * 512, 0xcd, 4096);
    }
    syn_len = SYN_SIZE;
}

static imgfmt_image *open_syn(unsigned flags)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = flags;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(syn, syn_len, &o, &img, &err);
    ck_assert_msg(r == 0, "open failed: %d %s", r, err.msg);
    return img;
}

static void syn_fails(int code, const char *needle)
{
    open_mem_fails(syn, syn_len, IMGFMT_FMT_UNKNOWN, code, needle);
}

/* Read the whole disk, expecting failure with code and needle. */
static void syn_read_fails(int code, const char *needle)
{
    imgfmt_image *img = open_syn(0);
    uint8_t buf[65536];
    int r = imgfmt_pread(img, buf, sizeof buf, 0);
    ck_assert_msg(r == code, "read: expected %d got %d (%s)", code, r,
                  imgfmt_last_error(img)->msg);
    ck_assert_msg(strstr(imgfmt_last_error(img)->msg, needle), "message \"%s\" lacks \"%s\"",
                  imgfmt_last_error(img)->msg, needle);
    imgfmt_close(img);
}

/* ---- files in a temp dir ---------------------------------------------- */

static char tdir[256];

static void mk_tdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/imgfmt-vmdk-XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void rm_tdir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *name)
{
    static char p[2][512];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", tdir, name);
    return p[k];
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(tpath(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_text(const char *name, const char *text)
{
    write_file(name, text, strlen(text));
}

/* gunzip testdata/<gz> into the temp dir as name. */
static void gunzip_td(const char *gz, const char *name)
{
    gzFile g = gzopen(td_path(gz), "rb");
    ck_assert_msg(g != NULL, "cannot open %s", td_path(gz));
    FILE *f = fopen(tpath(name), "wb");
    ck_assert_ptr_nonnull(f);
    char b[65536];
    int n;
    while ((n = gzread(g, b, sizeof b)) > 0)
        ck_assert_uint_eq(fwrite(b, 1, (size_t)n, f), (size_t)n);
    ck_assert_int_eq(n, 0);
    gzclose(g);
    fclose(f);
}

static imgfmt_image *open_path_ok(const char *path, unsigned flags)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = flags;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(path, &o, &img, &err);
    ck_assert_msg(r == 0, "open %s failed: %d %s", path, r, err.msg);
    return img;
}

static void open_path_fails(const char *path, unsigned flags, const char *member, int code,
                            const char *needle)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = flags;
    o.member = member;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(path, &o, &img, &err);
    ck_assert_msg(r == code, "%s: expected %d, got %d (%s)", path, code, r, err.msg);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* The 2 MiB sample disk behind every committed VMDK (testdata/README). */
static void check_sample(imgfmt_image *img)
{
    ck_assert_uint_eq(imgfmt_virtual_size(img), 2u << 20);
    uint8_t *want = calloc(1, 2u << 20), *b = malloc(2u << 20);
    static const char line[] = "libimgfmt vmdk sample: hello from sector zero\n";
    for (size_t i = 0; i < 70000; i++)
        want[i] = (uint8_t)line[i % (sizeof line - 1)];
    memcpy(want + (2u << 20) - 512, "last sector", 11);
    ck_assert_int_eq(imgfmt_pread(img, b, 2u << 20, 0), 0);
    ck_assert(memcmp(b, want, 2u << 20) == 0);
    free(want);
    free(b);
}

/* ---- probe ------------------------------------------------------------- */

START_TEST(test_probe)
{
    build_syn(false, false);
    imgfmt_image *img = open_syn(0);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_VMDK);
    imgfmt_close(img);
    const char *d = "# c\n  \r\nversion=1\r\nCID=1\n";
    ck_assert(vmdk_desc_has_version(d, strlen(d)));
    /* an empty line before version= makes qemu probe it as raw */
    const char *e = "\nversion=1\n";
    ck_assert(!vmdk_desc_has_version(e, strlen(e)));
    ck_assert(!vmdk_desc_has_version("version=4\n", 10));
    ck_assert(!vmdk_desc_has_version("version=1", 9));
    img = open_mem_ok(e, strlen(e));
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_RAW);
    imgfmt_close(img);
}
END_TEST

/* ---- sparse reads ------------------------------------------------------ */

START_TEST(test_sparse_read)
{
    for (int z = 0; z < 2; z++) {
        build_syn(false, z);
        imgfmt_image *img = open_syn(0);
        ck_assert_uint_eq(imgfmt_virtual_size(img), 65536);
        uint8_t b[65536];
        ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
        for (int i = 0; i < 4096; i++)
            ck_assert_uint_eq(b[i], 0xab);
        if (z) {
            ck_assert(ifmt_is_zero(b + 4096, 4096));      /* zero grain */
        } else {
            /* GTE 1 without the flag: data at sector 1 (the descriptor) */
            ck_assert_mem_eq(b + 4096, syn + 512, 4096);
        }
        ck_assert(ifmt_is_zero(b + 8192, 4096));
        for (int i = 12288; i < 16384; i++)
            ck_assert_uint_eq(b[i], 0xcd);
        ck_assert(ifmt_is_zero(b + 16384, sizeof b - 16384));
        imgfmt_extent e;
        ck_assert_int_eq(imgfmt_block_status(img, 0, 65536, &e), 0);
        ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_DATA);
        ck_assert_uint_eq(e.length, z ? 4096 : 8192);
        ck_assert_int_eq(imgfmt_block_status(img, 4096, 65536, &e), 0);
        ck_assert_uint_eq(e.flags, z ? IMGFMT_EXTENT_ZERO : IMGFMT_EXTENT_DATA);
        ck_assert_int_eq(imgfmt_block_status(img, 8192, 65536, &e), 0);
        ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);    /* unallocated, no parent */
        ck_assert_uint_eq(e.length, 4096);
        ck_assert_int_eq(imgfmt_block_status(img, 16384, 65536, &e), 0);
        ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);
        ck_assert_uint_eq(e.length, 65536 - 16384);
        imgfmt_info in;
        in.struct_size = sizeof in;
        ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
        ck_assert_uint_eq(in.vmdk.cid, 0x0badcafe);
        ck_assert_uint_eq(in.vmdk.parent_cid, 0xffffffff);
        ck_assert_str_eq(in.vmdk.create_type, "monolithicSparse");
        ck_assert_uint_eq(in.vmdk.nb_extents, 1);
        ck_assert_uint_eq(in.vmdk.version, z ? 2 : 1);
        ck_assert_uint_eq(in.cluster_size, 4096);
        imgfmt_vmdk_extent x;
        ck_assert_int_eq(imgfmt_vmdk_get_extent(img, 0, &x), 0);
        ck_assert_str_eq(x.format, "");
        ck_assert_uint_eq(x.cluster_size, 4096);
        ck_assert_uint_eq(x.virtual_size, 65536);
        ck_assert_int_eq(x.compressed, 0);
        ck_assert_int_eq(imgfmt_vmdk_get_extent(img, 1, &x), IMGFMT_E_RANGE);
        imgfmt_close(img);
    }
}
END_TEST

START_TEST(test_compressed_read)
{
    build_syn(true, true);
    imgfmt_image *img = open_syn(0);
    uint8_t b[65536];
    ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
    for (int i = 0; i < 4096; i++)
        ck_assert_uint_eq(b[i], 0xab);
    ck_assert(ifmt_is_zero(b + 4096, sizeof b - 4096));
    /* a read inside the grain */
    ck_assert_int_eq(imgfmt_pread(img, b, 10, 4000), 0);
    ck_assert_uint_eq(b[9], 0xab);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.vmdk.create_type, "streamOptimized");
    ck_assert_str_eq(in.subformat, "streamOptimized");
    imgfmt_vmdk_extent x;
    ck_assert_int_eq(imgfmt_vmdk_get_extent(img, 0, &x), 0);
    ck_assert_int_eq(x.compressed, 1);
    imgfmt_close(img);
}
END_TEST

/* ---- header corruption --------------------------------------------------- */

START_TEST(test_bad_headers)
{
    build_syn(false, false);
    ifmt_put_le64(syn + 20, 0);
    syn_fails(IMGFMT_E_CORRUPT, "L1 entry size is invalid");

    build_syn(false, false);
    ifmt_put_le64(syn + 20, 0x400000);                  /* 2 GiB grains */
    syn_fails(IMGFMT_E_CORRUPT, "Invalid granularity");

    build_syn(false, false);
    ifmt_put_le64(syn + 20, UINT64_MAX);
    syn_fails(IMGFMT_E_CORRUPT, "Invalid granularity");

    build_syn(false, false);
    ifmt_put_le32(syn + 44, 513);
    syn_fails(IMGFMT_E_CORRUPT, "L2 table size too big");

    build_syn(false, false);
    ifmt_put_le32(syn + 44, 0);
    syn_fails(IMGFMT_E_CORRUPT, "L1 entry size is invalid");

    build_syn(false, false);
    ifmt_put_le32(syn + 4, 4);
    syn_fails(IMGFMT_E_UNSUPPORTED, "Unsupported VMDK version 4");

    build_syn(false, false);
    ifmt_put_le64(syn + 56, 1000);                      /* GD past EOF */
    syn_fails(IMGFMT_E_CORRUPT, "grain directory");

    build_syn(false, false);
    ifmt_put_le64(syn + 56, UINT64_MAX / 256);
    syn_fails(IMGFMT_E_CORRUPT, "grain directory");

    build_syn(false, false);
    ifmt_put_le32(syn + 21 * 512, 47);                  /* GT runs past EOF */
    syn_fails(IMGFMT_E_CORRUPT, "grain table 0 at sector 47 beyond end of file");

    build_syn(false, false);
    ifmt_put_le64(syn + 64, 100);                       /* grain offset > file */
    syn_fails(IMGFMT_E_CORRUPT, "File truncated");

    build_syn(false, false);
    ifmt_put_le64(syn + 12, (uint64_t)1 << 50);         /* capacity: 2^50 sectors */
    syn_fails(IMGFMT_E_CORRUPT, "L1 size too big");

    build_syn(false, false);
    memset(syn + 512, 0, 10240);                        /* no descriptor: no CID */
    syn_fails(IMGFMT_E_CORRUPT, "has no CID");

    build_syn(false, false);
    syn_len = 3;
    open_mem_fails(syn, syn_len, IMGFMT_FMT_VMDK, IMGFMT_E_CORRUPT, "too small");

    /* a grain past the end of the file (qemu-img check calls it corrupt) */
    build_syn(false, false);
    ifmt_put_le32(syn + 22 * 512 + 8, 5000);
    syn_read_fails(IMGFMT_E_CORRUPT, "beyond end of file");

    /* metadata cap (the grain table cache alone is 64 KiB) */
    build_syn(false, false);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.max_metadata_bytes = 4096;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_memory(syn, syn_len, &o, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "metadata cap"));
}
END_TEST

START_TEST(test_bad_grains)
{
    build_syn(true, false);
    ifmt_put_le32(syn + 32 * 512 + 8, 0);
    syn_read_fails(IMGFMT_E_CORRUPT, "has size 0");

    build_syn(true, false);
    ifmt_put_le32(syn + 32 * 512 + 8, 3 * 4096);
    syn_read_fails(IMGFMT_E_CORRUPT, "must be 1..");

    build_syn(true, false);
    syn[32 * 512 + 12 + 5] ^= 0xff;                     /* damage the stream */
    syn_read_fails(IMGFMT_E_CORRUPT, "does not inflate");

    /* a valid stream of only 100 bytes where a grain of 4096 is needed */
    build_syn(true, false);
    uint8_t small[100];
    memset(small, 0xab, sizeof small);
    uLongf zl = 4096;
    ck_assert_int_eq(compress(syn + 32 * 512 + 12, &zl, small, sizeof small), Z_OK);
    ifmt_put_le32(syn + 32 * 512 + 8, (uint32_t)zl);
    syn_read_fails(IMGFMT_E_CORRUPT, "inflated to 100 bytes, expected 4096");

    /* compressed grain pointing past the end */
    build_syn(true, false);
    ifmt_put_le32(syn + 22 * 512, 9999);
    syn_read_fails(IMGFMT_E_CORRUPT, "beyond end of file");
}
END_TEST

/* ---- GD_AT_END footer ---------------------------------------------------- */

static void build_footer_stream(void)
{
    /* The compressed synthetic image with gd_offset = GD_AT_END in the primary
     * header and footer marker + footer header + EOS appended. */
    build_syn(true, false);
    uint8_t hdr[512];
    memcpy(hdr, syn, 512);
    ifmt_put_le64(syn + 56, VMDK4_GD_AT_END);
    syn_len = SYN_SIZE + 1536;
    uint8_t *f = syn + SYN_SIZE;
    memset(f, 0, 1536);
    ifmt_put_le64(f, 1);
    ifmt_put_le32(f + 12, VMDK_MARKER_FOOTER);
    memcpy(f + 512, hdr, 512);
}

START_TEST(test_footer)
{
    build_footer_stream();
    imgfmt_image *img = open_syn(0);
    uint8_t b[4096];
    ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
    ck_assert_uint_eq(b[4095], 0xab);
    imgfmt_close(img);

    build_footer_stream();
    ifmt_put_le32(syn + SYN_SIZE + 12, 2);              /* not a footer marker */
    syn_fails(IMGFMT_E_CORRUPT, "Invalid footer (footer marker missing)");

    build_footer_stream();
    ifmt_put_le32(syn + SYN_SIZE + 1036, 1);            /* EOS type wrong */
    syn_fails(IMGFMT_E_CORRUPT, "end-of-stream marker missing");

    build_footer_stream();
    syn_len = SYN_SIZE + 1024;                           /* no EOS: footer misplaced */
    syn_fails(IMGFMT_E_CORRUPT, "Invalid footer");

    build_footer_stream();
    memcpy(syn + SYN_SIZE + 512, "XXXX", 4);
    syn_fails(IMGFMT_E_CORRUPT, "no KDMV footer header");

    build_footer_stream();
    ifmt_put_le64(syn + SYN_SIZE + 512 + 56, VMDK4_GD_AT_END);
    syn_fails(IMGFMT_E_CORRUPT, "GD_AT_END too");

    build_footer_stream();
    syn_len = 1000;
    syn_fails(IMGFMT_E_CORRUPT, "too short for a footer");
}
END_TEST

/* ---- descriptor parser ----------------------------------------------------- */

START_TEST(test_desc_parser)
{
    struct vmdk_desc d;
    char err[256];
    const char *t =
        "# Disk DescriptorFile\r\nversion=1\r\nCID=12ab\r\nparentCID=ffffffff\r\n"
        "createType=\"twoGbMaxExtentFlat\"\r\n\r\nRW 100 FLAT \"a b.bin\" 7\r\n"
        "RDONLY 50 FLAT \"r.bin\" 0\r\nNOACCESS 10 SPARSE \"n.vmdk\"\r\n"
        "RW 30 ZERO\r\nRW 0 FLAT \"z.bin\" 0\r\nRW   20\tVMFS   \"v.bin\"\r\n"
        "ddb.adapterType = \"ide\"\r\n";
    ck_assert_int_eq(vmdk_desc_parse(t, strlen(t), &d, err, sizeof err), 0);
    ck_assert(d.has_create_type);
    ck_assert_str_eq(d.create_type, "twoGbMaxExtentFlat");
    /* the blank CRLF line before "RW 100" starts a second match of it */
    ck_assert_uint_eq(d.n_ext, 3);
    ck_assert_str_eq(d.ext[0].fname, "a b.bin");
    ck_assert_int_eq(d.ext[0].offset, 7);
    ck_assert_uint_eq(d.ext[0].line, 6);
    ck_assert_str_eq(d.ext[1].fname, "a b.bin");
    ck_assert_uint_eq(d.ext[1].line, 7);
    ck_assert_int_eq(d.ext[2].type, VMDK_EXT_VMFS);
    ck_assert_int_eq(d.ext[2].sectors, 20);
    ck_assert_uint_eq(d.n_not_rw, 2);
    ck_assert_uint_eq(d.not_rw_sectors, 60);
    ck_assert_ptr_nonnull(strstr(d.not_rw_first, "RDONLY 50"));
    ck_assert_uint_eq(d.n_ignored, 2);                  /* ZERO, and 0 sectors */
    vmdk_desc_free(&d);

    uint32_t cid = 0;
    ck_assert(vmdk_desc_cid(t, strlen(t), false, &cid));
    ck_assert_uint_eq(cid, 0x12ab);
    ck_assert(vmdk_desc_cid(t, strlen(t), true, &cid));
    ck_assert_uint_eq(cid, 0xffffffff);
    /* without CID, qemu finds the "CID" inside parentCID */
    const char *p = "parentCID=0x1f\n";
    ck_assert(vmdk_desc_cid(p, strlen(p), false, &cid));
    ck_assert_uint_eq(cid, 0x1f);
    ck_assert(!vmdk_desc_cid("version=1\n", 10, false, &cid));
    ck_assert(!vmdk_desc_cid("CID=zz\n", 7, false, &cid));
    ck_assert(vmdk_desc_cid("CID=123456789\n", 14, false, &cid));
    ck_assert_uint_eq(cid, 0x23456789);                  /* truncated like sscanf */

    /* createType: qemu skips exactly `="` */
    const char *sp = "createType = \"monolithicFlat\"\n";
    ck_assert_int_eq(vmdk_desc_parse(sp, strlen(sp), &d, err, sizeof err), 0);
    ck_assert_str_eq(d.create_type, " ");
    vmdk_desc_free(&d);
    ck_assert_int_eq(vmdk_desc_parse("x\n", 2, &d, err, sizeof err), 0);
    ck_assert(!d.has_create_type);

    const char *bad1 = "RW 100 FLAT \"f\"\n";                 /* FLAT needs an offset */
    ck_assert_int_eq(vmdk_desc_parse(bad1, strlen(bad1), &d, err, sizeof err),
                     IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "Invalid extent line 1: RW 100 FLAT"));
    const char *bad2 = "RW 100 VMFS \"f\" 5\n";               /* VMFS takes none */
    ck_assert_int_eq(vmdk_desc_parse(bad2, strlen(bad2), &d, err, sizeof err),
                     IMGFMT_E_CORRUPT);
    const char *bad3 = "RW 100 SPARSE \"f\" 5\n";
    ck_assert_int_eq(vmdk_desc_parse(bad3, strlen(bad3), &d, err, sizeof err),
                     IMGFMT_E_CORRUPT);
    const char *bad4 = "RW 100 FLAT \"f\" -1\n";
    ck_assert_int_eq(vmdk_desc_parse(bad4, strlen(bad4), &d, err, sizeof err),
                     IMGFMT_E_CORRUPT);

    /* absurd extent counts */
    size_t n = 5000 * 24;
    char *many = malloc(n + 1);
    many[0] = '\0';
    for (int i = 0; i < 5000; i++)
        strcat(many, "RW 1 FLAT \"f.bin\" 0\n");
    ck_assert_int_eq(vmdk_desc_parse(many, strlen(many), &d, err, sizeof err),
                     IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "more than 4096 extents"));
    free(many);

    /* parentFileNameHint */
    char *hint = NULL;
    const char *ph = "parentFileNameHint=\"../base.vmdk\"\n";
    ck_assert_int_eq(vmdk_desc_parent_hint(ph, strlen(ph), &hint), 1);
    ck_assert_str_eq(hint, "../base.vmdk");
    free(hint);
    ck_assert_int_eq(vmdk_desc_parent_hint("x", 1, &hint), 0);
    const char *ph2 = "parentFileNameHint=\"unterminated\n";
    ck_assert_int_lt(vmdk_desc_parent_hint(ph2, strlen(ph2), &hint), 0);
}
END_TEST

/* ---- descriptor files ---------------------------------------------------- */

static const char *dhead(const char *type)
{
    static char b[256];
    snprintf(b, sizeof b, "# Disk DescriptorFile\nversion=1\nCID=fffffffe\n"
             "parentCID=ffffffff\ncreateType=\"%s\"\n\n# Extent description\n", type);
    return b;
}

static void write_desc(const char *name, const char *type, const char *extents)
{
    char b[4096];
    snprintf(b, sizeof b, "%s%s", dhead(type), extents);
    write_text(name, b);
}

START_TEST(test_descriptor_files)
{
    mk_tdir();
    uint8_t flat[8192];
    for (size_t i = 0; i < sizeof flat; i++)
        flat[i] = (uint8_t)(i / 512 + 1);
    write_file("f.bin", flat, sizeof flat);
    mkdir(tpath("sub"), 0755);
    write_file("sub/g.bin", flat, sizeof flat);

    /* two FLAT extents with offsets, an RDONLY one dropped (with a warning),
     * a ZERO one ignored; CRLF line ends */
    write_text("d1.vmdk",
               "# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\nparentCID=ffffffff\r\n"
               "createType=\"monolithicFlat\"\r\n# Extent description\r\n"
               "RW 4 FLAT \"f.bin\" 2\r\nRDONLY 4 FLAT \"f.bin\" 0\r\nRW 8 ZERO\r\n"
               "RW 2 FLAT \"sub/g.bin\" 15\r\n");
    imgfmt_image *img = open_path_ok(tpath("d1.vmdk"), 0);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 6 * 512);
    uint8_t b[6 * 512];
    ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
    ck_assert_uint_eq(b[0], 3);
    ck_assert_uint_eq(b[4 * 512 - 1], 6);
    ck_assert_uint_eq(b[4 * 512], 16);
    ck_assert_uint_eq(b[5 * 512 + 511], 0);             /* past the end of g.bin */
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.vmdk.create_type, "monolithicFlat");
    ck_assert_uint_eq(in.vmdk.nb_extents, 2);
    ck_assert_uint_eq(in.cluster_size, 0);
    ck_assert_uint_eq(in.file_length, 
                      (uint64_t)strlen("# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\n"
                                       "parentCID=ffffffff\r\ncreateType=\"monolithicFlat\"\r\n"
                                       "# Extent description\r\nRW 4 FLAT \"f.bin\" 2\r\n"
                                       "RDONLY 4 FLAT \"f.bin\" 0\r\nRW 8 ZERO\r\n"
                                       "RW 2 FLAT \"sub/g.bin\" 15\r\n") + 2 * 8192);
    ck_assert_uint_eq(in.nb_warnings, 2);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "RDONLY 4 FLAT"));
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "lost"));
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 1), "ZERO"));
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_VMDK_EXTENT_NOT_RW);
    ck_assert_int_eq(imgfmt_warning_code(img, 1), IMGFMT_W_VMDK_EXTENT_IGNORED);
    imgfmt_vmdk_extent x;
    ck_assert_int_eq(imgfmt_vmdk_get_extent(img, 1, &x), 0);
    ck_assert_str_eq(x.format, "FLAT");
    ck_assert_ptr_nonnull(strstr(x.filename, "sub/g.bin"));
    ck_assert_uint_eq(x.virtual_size, 1024);
    imgfmt_close(img);

    /* a missing extent file: names the file and the line */
    write_desc("d2.vmdk", "monolithicFlat", "RW 4 FLAT \"f.bin\" 0\nRW 4 FLAT \"gone.bin\" 0\n");
    open_path_fails(tpath("d2.vmdk"), 0, NULL, IMGFMT_E_BACKING,
                    "gone.bin\" (descriptor line 9: RW 4 FLAT \"gone.bin\" 0) not found: "
                    "uploaded only the descriptor?");

    /* external files refused: paths escaping upward are named as such */
    write_desc("d3.vmdk", "monolithicFlat", "RW 4 FLAT \"../../etc/passwd\" 0\n");
    open_path_fails(tpath("d3.vmdk"), IMGFMT_OPEN_NO_EXTERNAL, NULL, IMGFMT_E_BACKING,
                    "leaves the image's directory");
    open_path_fails(tpath("d1.vmdk"), IMGFMT_OPEN_NO_EXTERNAL, NULL, IMGFMT_E_BACKING,
                    "refused");

    /* createType rules */
    write_desc("d4.vmdk", "monolithicSparse", "RW 4 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d4.vmdk"), 0, NULL, IMGFMT_E_UNSUPPORTED, "Unsupported image type");
    write_text("d5.vmdk", "version=1\nCID=1\nparentCID=ffffffff\nRW 4 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d5.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "no createType");

    /* descriptor without CID or parentCID */
    write_text("d6.vmdk", "version=1\ncreateType=\"monolithicFlat\"\nRW 4 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d6.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "has no CID");
    write_text("d7.vmdk",
               "version=1\nCID=5\ncreateType=\"monolithicFlat\"\nRW 4 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d7.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "has no parentCID");

    /* descriptor without version: probes as raw (like qemu); forced, refused */
    write_text("d8.vmdk", "CID=5\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
                          "RW 4 FLAT \"f.bin\" 0\n");
    enum imgfmt_format f;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_probe(tpath("d8.vmdk"), &f, &err), 0);
    ck_assert_int_eq(f, IMGFMT_FMT_RAW);
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_VMDK;
    img = NULL;
    ck_assert_int_eq(imgfmt_open(tpath("d8.vmdk"), &o, &img, &err), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "no version=1|2|3 line"));

    /* only RDONLY extents: qemu-img aborts; we refuse */
    write_desc("d9.vmdk", "monolithicFlat", "RDONLY 4 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d9.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "no usable extent");

    /* absurd sizes */
    write_desc("d10.vmdk", "monolithicFlat",
               "RW 9223372036854775807 FLAT \"f.bin\" 0\n");
    open_path_fails(tpath("d10.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "larger than 2^63");
    write_desc("d11.vmdk", "monolithicFlat", "RW 4 FLAT \"f.bin\" 99999999999999999999\n");
    open_path_fails(tpath("d11.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "offset");
    /* a huge FLAT extent on a small file is fine (reads zeros, as qemu) */
    write_desc("d12.vmdk", "monolithicFlat", "RW 2147483648 FLAT \"f.bin\" 0\n");
    img = open_path_ok(tpath("d12.vmdk"), 0);
    ck_assert_uint_eq(imgfmt_virtual_size(img), (uint64_t)1 << 40);
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, 8192, (uint64_t)1 << 40, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);
    ck_assert_uint_eq(e.length, ((uint64_t)1 << 40) - 8192);
    imgfmt_close(img);
    /* a SPARSE extent that is not a sparse file */
    write_desc("d13.vmdk", "twoGbMaxExtentSparse", "RW 4 SPARSE \"f.bin\"\n");
    open_path_fails(tpath("d13.vmdk"), 0, NULL, IMGFMT_E_CORRUPT, "not in VMDK format");
    /* seSparse is valid but not implemented */
    write_desc("d14.vmdk", "seSparse", "RW 4 SESPARSE \"f.bin\"\n");
    open_path_fails(tpath("d14.vmdk"), 0, NULL, IMGFMT_E_UNSUPPORTED, "seSparse");
    rm_tdir();
}
END_TEST

/* ---- parents ------------------------------------------------------------ */

START_TEST(test_parent)
{
    mk_tdir();
    build_syn(false, false);
    write_file("base.vmdk", syn, syn_len);
    /* delta: same layout, no grains, parentCID = base's CID */
    build_syn(false, true);
    memset(syn + 22 * 512, 0, 2048);                     /* empty GT */
    ifmt_put_le32(syn + 22 * 512 + 4, 1);                /* grain 1: zero grain */
    const char *dd = "# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=0badcafe\n"
                     "createType=\"monolithicSparse\"\nparentFileNameHint=\"base.vmdk\"\n";
    memset(syn + 512, 0, 1024);
    memcpy(syn + 512, dd, strlen(dd));
    write_file("delta.vmdk", syn, syn_len);
    imgfmt_image *img = open_path_ok(tpath("delta.vmdk"), 0);
    uint8_t b[65536];
    ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
    ck_assert_uint_eq(b[0], 0xab);                       /* from the parent */
    ck_assert(ifmt_is_zero(b + 4096, 4096));             /* zero grain hides it */
    ck_assert_uint_eq(b[12288], 0xcd);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.backing_filename, "base.vmdk");
    ck_assert_str_eq(in.backing_format, "vmdk");
    ck_assert_str_eq(in.vmdk.parent_hint, "base.vmdk");
    ck_assert_uint_eq(in.vmdk.parent_cid, 0x0badcafe);
    imgfmt_close(img);

    open_path_fails(tpath("delta.vmdk"), IMGFMT_OPEN_NO_EXTERNAL, NULL, IMGFMT_E_BACKING,
                    "refused");
    /* CID mismatch */
    memcpy(syn + 512 + strlen("# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID="),
           "0badcaff", 8);
    write_file("delta2.vmdk", syn, syn_len);
    open_path_fails(tpath("delta2.vmdk"), 0, NULL, IMGFMT_E_BACKING, "parentCID 0badcaff");
    /* missing parent */
    memcpy(syn + 512 + strlen(dd) - 11, "gone", 4);
    write_file("delta3.vmdk", syn, syn_len);
    open_path_fails(tpath("delta3.vmdk"), 0, NULL, IMGFMT_E_BACKING, "gone");
    rm_tdir();
}
END_TEST

/* ---- committed images ----------------------------------------------------- */

START_TEST(test_committed)
{
    mk_tdir();
    static const char *const names[] = {"vmdk-sparse.vmdk", "vmdk-stream.vmdk",
                                        "vmdk-vmware-stream.vmdk"};
    for (size_t i = 0; i < 3; i++) {
        char gz[64];
        snprintf(gz, sizeof gz, "%s.gz", names[i]);
        gunzip_td(gz, names[i]);
        imgfmt_image *img = open_path_ok(tpath(names[i]), 0);
        check_sample(img);
        imgfmt_info in;
        in.struct_size = sizeof in;
        ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
        ck_assert_str_eq(in.vmdk.create_type, i ? "streamOptimized" : "monolithicSparse");
        ck_assert_uint_eq(in.vmdk.version, i ? 3 : 1);
        imgfmt_extent e;
        ck_assert_int_eq(imgfmt_block_status(img, 0, 2u << 20, &e), 0);
        ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_DATA);
        ck_assert_uint_eq(e.length, 2 * 65536);
        ck_assert_int_eq(imgfmt_block_status(img, 2 * 65536, 2u << 20, &e), 0);
        ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);
        ck_assert_uint_eq(e.length, (2u << 20) - 3 * 65536);
        imgfmt_close(img);
    }
    gunzip_td("desc-pair.vmdk.gz", "desc-pair.vmdk");
    /* the descriptor alone: the flat file is missing */
    open_path_fails(tpath("desc-pair.vmdk"), 0, NULL, IMGFMT_E_BACKING,
                    "uploaded only the descriptor?");
    gunzip_td("desc-pair-flat.vmdk.gz", "desc-pair-flat.vmdk");
    imgfmt_image *img = open_path_ok(tpath("desc-pair.vmdk"), 0);
    check_sample(img);
    imgfmt_close(img);

    gunzip_td("vmdk-zeroed.vmdk.gz", "z.vmdk");
    img = open_path_ok(tpath("z.vmdk"), 0);
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, 0, 1 << 20, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_DATA);
    ck_assert_uint_eq(e.length, 65536);
    ck_assert_int_eq(imgfmt_block_status(img, 65536, 1 << 20, &e), 0);
    ck_assert_uint_eq(e.flags, IMGFMT_EXTENT_ZERO);
    uint8_t b[512];
    ck_assert_int_eq(imgfmt_pread(img, b, 512, 1048064), 0);
    ck_assert_uint_eq(b[0], 0x62);
    ck_assert_int_eq(imgfmt_pread(img, b, 512, 65536), 0);
    ck_assert(ifmt_is_zero(b, 512));
    imgfmt_close(img);
    rm_tdir();
}
END_TEST

/* ---- OVA ------------------------------------------------------------------ */

START_TEST(test_ova)
{
    mk_tdir();
    gunzip_td("sample.ova.gz", "s.ova");
    imgfmt_image *img = open_path_ok(tpath("s.ova"), 0);
    check_sample(img);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.subformat, "ova:disk1.vmdk streamOptimized");
    ck_assert_uint_eq(in.file_length, 143360);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "OVA (tar) archive with 2 members"));
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 1), "sample.ovf"));
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 2), "disk1.vmdk (132096 bytes) <- opened"));
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_OVA_ARCHIVE);
    ck_assert_int_eq(imgfmt_warning_code(img, 2), IMGFMT_W_OVA_MEMBER);
    imgfmt_close(img);
    enum imgfmt_format f;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_probe(tpath("s.ova"), &f, &err), 0);
    ck_assert_int_eq(f, IMGFMT_FMT_VMDK);

    /* a named member */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.member = "disk1.vmdk";
    ck_assert_int_eq(imgfmt_open(tpath("s.ova"), &o, &img, &err), 0);
    imgfmt_close(img);
    open_path_fails(tpath("s.ova"), 0, "nope.vmdk", IMGFMT_E_INVAL, "no member \"nope.vmdk\"");
    open_path_fails(tpath("s.ova"), 0, "sample.ovf", IMGFMT_E_CORRUPT, "not a VMDK descriptor");

    /* truncated in the middle of the disk member */
    FILE *fp = fopen(tpath("s.ova"), "rb");
    uint8_t *buf = malloc(143360);
    ck_assert_uint_eq(fread(buf, 1, 143360, fp), 143360);
    fclose(fp);
    write_file("t.ova", buf, 100000);
    open_path_fails(tpath("t.ova"), 0, NULL, IMGFMT_E_CORRUPT, "truncated tar archive");
    write_file("t2.ova", buf, 1024 + 700);               /* a partial header */
    open_path_fails(tpath("t2.ova"), 0, NULL, IMGFMT_E_CORRUPT, "truncated tar");
    /* a damaged header */
    buf[1024 + 3] ^= 1;
    write_file("t3.ova", buf, 143360);
    open_path_fails(tpath("t3.ova"), 0, NULL, IMGFMT_E_CORRUPT, "bad checksum");
    /* only the .ovf: no disk image */
    write_file("t4.ova", buf, 1024);
    open_path_fails(tpath("t4.ova"), 0, NULL, IMGFMT_E_UNSUPPORTED, "without a .vmdk member");
    free(buf);
    rm_tdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vmdk");
    TCase *tc = tcase_create("vmdk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_sparse_read);
    tcase_add_test(tc, test_compressed_read);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_bad_grains);
    tcase_add_test(tc, test_footer);
    tcase_add_test(tc, test_desc_parser);
    tcase_add_test(tc, test_descriptor_files);
    tcase_add_test(tc, test_parent);
    tcase_add_test(tc, test_committed);
    tcase_add_test(tc, test_ova);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
