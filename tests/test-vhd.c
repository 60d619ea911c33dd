/*
 * test-vhd.c -- the VHD driver: probing, footer/header decoding from byte
 * arrays, the size rules, reads and block status of fixed, dynamic and
 * differencing disks, and every bad input (code + message).
 *
 * Images are built here from the VHD layout by build_vhd() (qemu-img
 * cannot create differencing disks), or taken from testdata/ (see its
 * README).  Layout written by build_vhd():
 *   0     footer copy (dynamic/differencing)      | fixed: data, then footer
 *   512   dynamic header
 *   1536  BAT, padded to 512 bytes
 *   ...   one 512-byte sector per parent locator
 *   ...   allocated blocks in order: [bitmap][block_size bytes of 0x40+block]
 *   end   footer
 */
#define IMGFMT_BUILDING 1
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "testutil.h"
#include "core/internal.h"
#include "formats/vhd.h"

/* ---- image builder ------------------------------------------------------- */

struct spec {
    uint64_t size;          /* current_size (bytes); geometry derived from it */
    uint32_t bs;            /* block size (dynamic/differencing) */
    uint32_t type;          /* 2, 3 or 4 */
    const char *app;        /* 4 bytes; default "win " (current_size rule) */
    uint32_t alloc;         /* bit i: block i allocated (first 32 blocks) */
    uint8_t bitmap_fill;    /* bitmap bytes of allocated blocks */
    uint8_t uuid[16], parent_uuid[16];
    const char *parent_name;            /* header, UTF-16BE */
    const char *w2ru, *w2ku, *macx;     /* locators */
};

static void put_utf16(uint8_t *p, const char *s, int be)
{
    for (; *s; s++, p += 2) {
        if (be)
            ifmt_put_be16(p, (uint8_t)*s);
        else
            ifmt_put_le16(p, (uint8_t)*s);
    }
}

static void make_footer(uint8_t *f, const struct spec *sp, uint64_t data_offset)
{
    memset(f, 0, VHD_FOOTER_SIZE);
    memcpy(f, VHD_COOKIE, 8);
    ifmt_put_be32(f + VHD_F_FEATURES, 2);
    ifmt_put_be32(f + VHD_F_VERSION, 0x00010000);
    ifmt_put_be64(f + VHD_F_DATA_OFFSET, data_offset);
    memcpy(f + VHD_F_CREATOR_APP, sp->app ? sp->app : "win ", 4);
    memcpy(f + VHD_F_CREATOR_OS, "Wi2k", 4);
    ifmt_put_be64(f + VHD_F_ORIG_SIZE, sp->size);
    ifmt_put_be64(f + VHD_F_CUR_SIZE, sp->size);
    uint16_t c;
    uint8_t h, s;
    vhd_geometry(sp->size / 512, &c, &h, &s);
    ifmt_put_be16(f + VHD_F_CYLINDERS, c);
    f[VHD_F_HEADS] = h;
    f[VHD_F_SPT] = s;
    ifmt_put_be32(f + VHD_F_DISK_TYPE, sp->type);
    memcpy(f + VHD_F_UUID, sp->uuid, 16);
    ifmt_put_be32(f + VHD_F_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
}

/* Recompute the checksums of both footers and the dynamic header. */
static void fix_sums(uint8_t *b, size_t len)
{
    if (memcmp(b, VHD_COOKIE, 8) == 0) {
        ifmt_put_be32(b + VHD_F_CHECKSUM, vhd_checksum(b, 512, VHD_F_CHECKSUM));
        uint64_t ho = ifmt_be64(b + VHD_F_DATA_OFFSET);
        if (ho + 1024 <= len && memcmp(b + ho, VHD_DYN_COOKIE, 8) == 0)
            ifmt_put_be32(b + ho + VHD_H_CHECKSUM, vhd_checksum(b + ho, 1024, VHD_H_CHECKSUM));
    }
    uint8_t *t = b + len - 512;
    if (memcmp(t, VHD_COOKIE, 8) == 0)
        ifmt_put_be32(t + VHD_F_CHECKSUM, vhd_checksum(t, 512, VHD_F_CHECKSUM));
}

static uint8_t *build_vhd(const struct spec *sp, size_t *len)
{
    if (sp->type == VHD_TYPE_FIXED) {
        size_t n = (size_t)sp->size + 512;
        uint8_t *b = calloc(1, n);
        for (size_t i = 0; i < sp->size; i += 512)
            memset(b + i, 0x40 + (int)(i / 512 % 64), 512);
        make_footer(b + sp->size, sp, UINT64_MAX);
        *len = n;
        return b;
    }
    uint64_t nblocks = (sp->size + sp->bs - 1) / sp->bs;
    size_t bat_bytes = (size_t)((4 * nblocks + 511) & ~511ull);
    uint32_t bm = sp->type == VHD_TYPE_DIFFERENCING ? vhd_bitmap_size_spec(sp->bs)
                                                    : vhd_bitmap_size(sp->bs);
    const char *locs[3] = {sp->w2ru, sp->w2ku, sp->macx};
    static const uint32_t codes[3] = {VHD_PLAT_W2RU, VHD_PLAT_W2KU, VHD_PLAT_MACX};
    size_t nloc = 0;
    for (int i = 0; i < 3; i++)
        nloc += locs[i] != NULL;
    size_t data_start = 1536 + bat_bytes + 512 * nloc;
    size_t nalloc = 0;
    for (uint64_t i = 0; i < nblocks && i < 32; i++)
        nalloc += (sp->alloc >> i) & 1;
    size_t n = data_start + nalloc * (bm + sp->bs) + 512;
    uint8_t *b = calloc(1, n);
    make_footer(b, sp, 512);
    uint8_t *h = b + 512;
    memcpy(h, VHD_DYN_COOKIE, 8);
    ifmt_put_be64(h + VHD_H_DATA_OFFSET, UINT64_MAX);
    ifmt_put_be64(h + VHD_H_TABLE_OFFSET, 1536);
    ifmt_put_be32(h + VHD_H_VERSION, 0x00010000);
    ifmt_put_be32(h + VHD_H_MAX_ENTRIES, (uint32_t)nblocks);
    ifmt_put_be32(h + VHD_H_BLOCK_SIZE, sp->bs);
    memcpy(h + VHD_H_PARENT_UUID, sp->parent_uuid, 16);
    if (sp->parent_name)
        put_utf16(h + VHD_H_PARENT_NAME, sp->parent_name, 1);
    size_t lo = 1536 + bat_bytes, li = 0;
    for (int i = 0; i < 3; i++) {
        if (!locs[i])
            continue;
        uint8_t *l = h + VHD_H_LOCATORS + li * VHD_LOCATOR_SIZE;
        size_t dl = codes[i] == VHD_PLAT_MACX ? strlen(locs[i]) : 2 * strlen(locs[i]);
        ifmt_put_be32(l, codes[i]);
        ifmt_put_be32(l + 4, 512);
        ifmt_put_be32(l + 8, (uint32_t)dl);
        ifmt_put_be64(l + 16, lo);
        if (codes[i] == VHD_PLAT_MACX)
            memcpy(b + lo, locs[i], dl);
        else
            put_utf16(b + lo, locs[i], 0);
        lo += 512;
        li++;
    }
    memset(b + 1536, 0xff, bat_bytes);
    size_t pos = data_start;
    for (uint64_t i = 0; i < nblocks; i++) {
        if (i >= 32 || !((sp->alloc >> i) & 1))
            continue;
        ifmt_put_be32(b + 1536 + 4 * i, (uint32_t)(pos / 512));
        memset(b + pos, sp->bitmap_fill, bm);
        memset(b + pos + bm, 0x40 + (int)i, sp->bs);
        pos += bm + sp->bs;
    }
    memcpy(b + n - 512, b, 512);
    fix_sums(b, n);
    *len = n;
    return b;
}

static const struct spec dyn64k = {
    .size = 65536, .bs = 16384, .type = VHD_TYPE_DYNAMIC, .alloc = 0x5, .bitmap_fill = 0xff,
    .uuid = {1, 2, 3, 4},
};

static imgfmt_image *open_mem_opts(const void *b, size_t n, const imgfmt_open_opts *o)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(b, n, o, &img, &err);
    ck_assert_msg(r == 0, "open failed: %d %s", r, err.msg);
    return img;
}

/* Open a file expecting failure. */
static void open_path_fails(const char *p, unsigned flags, int code, const char *needle)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = flags;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open(p, &o, &img, &err);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, err.msg);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* A temporary directory for multi-file images. */
static char *tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/imgfmt-vhd-XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(p));
    return p;
}

static char *write_in(const char *dir, const char *name, const void *b, size_t n)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    return p;
}

/* Gunzip testdata/NAME.gz into dir/NAME; returns the path. */
static char *gunzip_to(const char *dir, const char *name)
{
    char gzname[512];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile g = gzopen(td_path(gzname), "rb");
    ck_assert_msg(g != NULL, "cannot open %s", td_path(gzname));
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while ((r = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    gzclose(g);
    char *p = write_in(dir, name, b, n);
    free(b);
    return p;
}

static void rm_dir(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

static void expect_bytes(imgfmt_image *img, uint64_t off, size_t len, uint8_t v)
{
    uint8_t *b = malloc(len);
    ck_assert_int_eq(imgfmt_pread(img, b, len, off), 0);
    size_t i = 0;   /* one assertion: check marks every assertion it passes */
    while (i < len && b[i] == v)
        i++;
    ck_assert_msg(i == len, "byte at %llu is 0x%02x, expected 0x%02x",
                  (unsigned long long)(off + i), i < len ? b[i] : 0, v);
    free(b);
}

static void expect_extent(imgfmt_image *img, uint64_t off, uint64_t len, uint32_t flags)
{
    imgfmt_extent e;
    ck_assert_int_eq(imgfmt_block_status(img, off, UINT64_MAX, &e), 0);
    ck_assert_uint_eq(e.offset, off);
    ck_assert_msg(e.length == len && e.flags == flags,
                  "extent at %llu: %llu bytes flags %u, expected %llu flags %u",
                  (unsigned long long)off, (unsigned long long)e.length, e.flags,
                  (unsigned long long)len, flags);
}

/* ---- probe ---------------------------------------------------------------- */

START_TEST(test_probe)
{
    size_t n;
    uint8_t *d = build_vhd(&dyn64k, &n);
    /* The driver's score: conectix at 0 is 100, a fixed footer at the end 50. */
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_VHD)->probe(d, 512, d + n - 512, 512, n), 100);
    struct spec fs = dyn64k;
    fs.type = VHD_TYPE_FIXED;
    size_t fn;
    uint8_t *f = build_vhd(&fs, &fn);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_VHD)->probe(f, 512, f + fn - 512, 512, fn), 50);
    /* A "conectix" tail that is not a fixed footer does not score. */
    ifmt_put_be32(f + fn - 512 + VHD_F_DISK_TYPE, 3);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_VHD)->probe(f, 512, f + fn - 512, 512, fn), 0);
    ck_assert_int_eq(ifmt_driver_for(IMGFMT_FMT_VHD)->probe(f, 100, NULL, 0, 100), 0);

    char *p = tmp_file(d, n);
    enum imgfmt_format fmt = IMGFMT_FMT_UNKNOWN;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_probe(p, &fmt, &err), 0);
    ck_assert_int_eq(fmt, IMGFMT_FMT_VHD);
    unlink(p);
    free(p);
    ifmt_put_be32(f + fn - 512 + VHD_F_DISK_TYPE, 2);
    p = tmp_file(f, fn);
    ck_assert_int_eq(imgfmt_probe(p, &fmt, &err), 0);
    ck_assert_int_eq(fmt, IMGFMT_FMT_VHD);
    unlink(p);
    free(p);
    free(d);
    free(f);
}
END_TEST

/* ---- decoders ------------------------------------------------------------- */

START_TEST(test_footer_decode)
{
    /* A footer as qemu-img 7.2 writes it for `create -f vpc x 1M`. */
    static const uint8_t qemu_1m[96] = {
        'c', 'o', 'n', 'e', 'c', 't', 'i', 'x', 0, 0, 0, 2, 0, 1, 0, 0,
        0, 0, 0, 0, 0, 0, 2, 0, 0x2e, 0x9a, 0x7b, 0x3c, 'q', 'e', 'm', 'u',
        0, 5, 0, 3, 'W', 'i', '2', 'k', 0, 0, 0, 0, 0, 0x10, 0x78, 0,
        0, 0, 0, 0, 0, 0x10, 0x78, 0, 0, 31, 4, 17, 0, 0, 0, 3,
        0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16,
    };
    uint8_t b[512] = {0};
    memcpy(b, qemu_1m, sizeof qemu_1m);
    ifmt_put_be32(b + 64, vhd_checksum(b, 512, 64));
    struct vhd_footer f;
    vhd_footer_decode(b, &f);
    ck_assert(f.cookie_ok);
    ck_assert_uint_eq(f.checksum, f.computed_checksum);
    ck_assert_uint_eq(f.data_offset, 512);
    ck_assert_uint_eq(f.current_size, 1079296);
    ck_assert_uint_eq(f.cylinders, 31);
    ck_assert_uint_eq(f.heads, 4);
    ck_assert_uint_eq(f.spt, 17);
    ck_assert_uint_eq(f.disk_type, 3);
    ck_assert_uint_eq(f.creator_major, 5);
    ck_assert_uint_eq(f.creator_minor, 3);
    ck_assert_mem_eq(f.creator_app, "qemu", 4);
    char u[37];
    vhd_uuid_str(f.uuid, u);
    ck_assert_str_eq(u, "deadbeef-0102-0304-0506-0708090a0b0c");
    /* The checksum is the complement of the byte sum without its own field. */
    uint32_t sum = 0;
    for (int i = 0; i < 512; i++)
        if (i < 64 || i >= 68)
            sum += b[i];
    ck_assert_uint_eq(f.computed_checksum, ~sum);
    b[100] ^= 1;
    vhd_footer_decode(b, &f);
    ck_assert_uint_ne(f.checksum, f.computed_checksum);
}
END_TEST

/* docs/formats.md, VHD size rule's table: 1 MiB disk, cur = 1,048,576, CHS 31/4/17. */
START_TEST(test_size_rules)
{
    static const struct {
        const char *app;
        uint64_t legacy, qemu10;
    } t[] = {
        {"qemu", 1079296, 1079296}, {"qem2", 1048576, 1048576},
        {"vpc ", 1079296, 1079296}, {"win ", 1048576, 1048576},
        {"d2v ", 1048576, 1048576}, {"CTXS", 1048576, 1048576},
        {"tap\0", 1048576, 1048576}, {"tap ", 1079296, 1048576},
        {"wa\0\0", 1079296, 1048576}, {"XXXX", 1079296, 1048576},
        {"vbox", 1079296, 1048576},
    };
    struct vhd_footer f = {0};
    f.current_size = 1048576;
    f.cylinders = 31;
    f.heads = 4;
    f.spt = 17;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        memcpy(f.creator_app, t[i].app, 4);
        ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_QEMU_LEGACY, NULL) * 512,
                          t[i].legacy);
        ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_QEMU10, NULL) * 512,
                          t[i].qemu10);
        ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_CHS, NULL) * 512, 1079296);
        ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_CURRENT_SIZE, NULL) * 512,
                          1048576);
    }
    /* Maximum geometry: current_size, even for "vpc " and with CHS forced. */
    memcpy(f.creator_app, "vpc ", 4);
    f.cylinders = 65535;
    f.heads = 16;
    f.spt = 255;
    bool chs = true;
    ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_CHS, &chs) * 512, 1048576);
    ck_assert(!chs);
    f.spt = 254;
    ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_QEMU_LEGACY, &chs) * 512,
                      136363130880ull);
    ck_assert(chs);
    /* current_size is floored to a sector. */
    memcpy(f.creator_app, "win ", 4);
    f.current_size = 1048577;
    ck_assert_uint_eq(vhd_total_sectors(&f, IMGFMT_VHD_RULE_QEMU_LEGACY, NULL), 2048);
}
END_TEST

/* qemu-img create's rounding (docs/formats.md, VHD create rounding) gives the sizes measured. */
static uint64_t qemu_create_size(uint64_t size)
{
    uint64_t t0 = size / 512;
    if (t0 > VHD_MAX_GEOMETRY)
        t0 = VHD_MAX_GEOMETRY;
    for (uint64_t i = 0;; i++) {
        uint16_t c;
        uint8_t h, s;
        vhd_geometry(t0 + i, &c, &h, &s);
        uint64_t chs = (uint64_t)c * h * s;
        if (chs >= t0)
            return chs == VHD_MAX_GEOMETRY ? size : chs * 512;
    }
}

START_TEST(test_geometry)
{
    ck_assert_uint_eq(qemu_create_size(1 << 20), 1079296);
    ck_assert_uint_eq(qemu_create_size(10 << 20), 10514432);
    ck_assert_uint_eq(qemu_create_size(100 << 20), 104865792);
    ck_assert_uint_eq(qemu_create_size(1ull << 30), 1073995776);
    ck_assert_uint_eq(qemu_create_size(10ull << 30), 10737893376ull);
    ck_assert_uint_eq(qemu_create_size(127ull << 30), 136365219840ull);
    ck_assert_uint_eq(qemu_create_size(128ull << 30), 128ull << 30);
    uint16_t c;
    uint8_t h, s;
    vhd_geometry(2048 + 60, &c, &h, &s);
    ck_assert(c == 31 && h == 4 && s == 17);
    ck_assert_uint_eq(vhd_bitmap_size(2 << 20), 512);
    ck_assert_uint_eq(vhd_bitmap_size(512), 0);   /* qemu's formula */
    ck_assert_uint_eq(vhd_bitmap_size_spec(512), 512);
    ck_assert_uint_eq(vhd_bitmap_size_spec(2 << 20), 512);
    ck_assert_uint_eq(vhd_bitmap_size_spec(4u << 20), 1024);
    ck_assert_uint_eq(vhd_bitmap_size(4u << 20), 1024);
}
END_TEST

START_TEST(test_utf16)
{
    uint8_t b[16];
    char out[32];
    /* "a\u00e9\u20ac" + U+1F600 (surrogate pair), little-endian. */
    static const uint8_t le[] = {'a', 0, 0xe9, 0, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde, 0, 0};
    ck_assert_int_eq(vhd_utf16_to_utf8(le, sizeof le, false, out, sizeof out), 10);
    ck_assert_str_eq(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    memset(b, 0, sizeof b);
    b[0] = 0xdc;   /* lone low surrogate (BE) */
    ck_assert_int_eq(vhd_utf16_to_utf8(b, 2, true, out, sizeof out), -1);
    b[0] = 0xd8;   /* high surrogate at the end */
    ck_assert_int_eq(vhd_utf16_to_utf8(b, 2, true, out, sizeof out), -1);
    ck_assert_int_eq(vhd_utf16_to_utf8(le, sizeof le, false, out, 4), -1);  /* too small */
}
END_TEST

/* ---- reads and status ------------------------------------------------------ */

START_TEST(test_dynamic_read_status)
{
    size_t n;
    struct spec sp = dyn64k;
    sp.bitmap_fill = 0x00;   /* qemu ignores the bitmap of a dynamic disk */
    uint8_t *b = build_vhd(&sp, &n);
    imgfmt_image *img = open_mem_ok(b, n);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_VHD);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 65536);
    expect_bytes(img, 0, 16384, 0x40);
    expect_bytes(img, 16384, 16384, 0);
    expect_bytes(img, 32768, 16384, 0x42);
    expect_bytes(img, 49152, 16384, 0);
    /* Unallocated blocks are ZERO, allocated ones DATA as a whole. */
    expect_extent(img, 0, 16384, IMGFMT_EXTENT_DATA);
    expect_extent(img, 16384, 16384, IMGFMT_EXTENT_ZERO);
    expect_extent(img, 20000, 12768, IMGFMT_EXTENT_ZERO);
    expect_extent(img, 32768, 16384, IMGFMT_EXTENT_DATA);
    expect_extent(img, 49152, 16384, IMGFMT_EXTENT_ZERO);
    /* A read across blocks. */
    uint8_t x[4];
    ck_assert_int_eq(imgfmt_pread(img, x, 4, 16382), 0);
    ck_assert(x[0] == 0x40 && x[1] == 0x40 && x[2] == 0 && x[3] == 0);

    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.format_name, "vpc");
    ck_assert_str_eq(in.subformat, "dynamic");
    ck_assert_uint_eq(in.cluster_size, 16384);
    ck_assert_uint_eq(in.vhd.block_size, 16384);
    ck_assert_uint_eq(in.vhd.max_table_entries, 4);
    ck_assert_int_eq(in.vhd.disk_type, IMGFMT_VHD_DYNAMIC);
    ck_assert_str_eq(in.vhd.creator_app, "win ");
    ck_assert_str_eq(in.vhd.creator_os, "Wi2k");
    ck_assert_str_eq(in.vhd.uuid, "01020304-0000-0000-0000-000000000000");
    ck_assert_uint_eq(in.vhd.current_size, 65536);
    ck_assert_uint_eq(in.vhd.rule, IMGFMT_VHD_RULE_QEMU_LEGACY);
    ck_assert_uint_eq(in.vhd.size_legacy, 65536);
    ck_assert_uint_eq(in.vhd.qemu_probe_raw_size, 0);
    ck_assert_ptr_null(in.vhd.parent_name);
    ck_assert_uint_eq(in.vhd.chs_size, (uint64_t)in.vhd.cylinders * in.vhd.heads *
                                           in.vhd.sectors_per_track * 512);
    ck_assert_uint_eq(in.vhd.size_qemu10, 65536);
    imgfmt_close(img);

    /* The same disk under the CHS rule: 128 sectors give the geometry
     * 1/4/17 = 68 sectors. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.vhd_size_rule = IMGFMT_VHD_RULE_CHS;
    img = open_mem_opts(b, n, &o);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 68 * 512);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_size_rule_option)
{
    /* App "XXXX", cur 1 MiB, CHS 31/4/17: legacy CHS, qemu10 current_size. */
    struct spec sp = {.size = 1 << 20, .bs = 1 << 20, .type = 3, .app = "XXXX"};
    size_t n;
    uint8_t *b = build_vhd(&sp, &n);
    /* build_vhd derives the geometry from size; make it 31/4/17 and give
     * the BAT room for the CHS size. */
    ifmt_put_be16(b + VHD_F_CYLINDERS, 31);
    b[VHD_F_HEADS] = 4;
    b[VHD_F_SPT] = 17;
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 2);
    memcpy(b + n - 512, b, 512);
    fix_sums(b, n);
    /* The BAT now has 2 entries: the second one is in the padding (0xff). */
    static const struct {
        enum imgfmt_vhd_size_rule r;
        uint64_t size;
    } t[] = {
        {IMGFMT_VHD_RULE_QEMU_LEGACY, 1079296}, {IMGFMT_VHD_RULE_QEMU10, 1048576},
        {IMGFMT_VHD_RULE_CHS, 1079296}, {IMGFMT_VHD_RULE_CURRENT_SIZE, 1048576},
    };
    for (size_t i = 0; i < 4; i++) {
        imgfmt_open_opts o;
        imgfmt_open_opts_init(&o);
        o.vhd_size_rule = t[i].r;
        imgfmt_image *img = open_mem_opts(b, n, &o);
        ck_assert_uint_eq(imgfmt_virtual_size(img), t[i].size);
        imgfmt_info in;
        in.struct_size = sizeof in;
        ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
        ck_assert_uint_eq(in.vhd.rule, t[i].r);
        ck_assert_uint_eq(in.vhd.size_legacy, 1079296);
        ck_assert_uint_eq(in.vhd.size_qemu10, 1048576);
        ck_assert_uint_eq(in.vhd.chs_size, 1079296);
        imgfmt_close(img);
    }
    free(b);
}
END_TEST

START_TEST(test_fixed)
{
    struct spec sp = {.size = 8192, .type = VHD_TYPE_FIXED, .app = "win ", .uuid = {9}};
    size_t n;
    uint8_t *b = build_vhd(&sp, &n);
    imgfmt_image *img = open_mem_ok(b, n);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 8192);
    expect_bytes(img, 0, 512, 0x40);
    expect_bytes(img, 8192 - 512, 512, 0x4f);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.subformat, "fixed");
    ck_assert_uint_eq(in.cluster_size, 0);
    ck_assert_int_eq(in.vhd.disk_type, IMGFMT_VHD_FIXED);
    ck_assert_uint_eq(in.vhd.qemu_probe_raw_size, 8704);
    ck_assert_uint_ge(in.nb_warnings, 1);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "without -f vpc"));
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_VHD_FIXED_PROBES_RAW);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "8704"));
    imgfmt_close(img);

    /* current_size larger than the file: the footer is read as data, then
     * zeros, as qemu does. */
    ifmt_put_be64(b + n - 512 + VHD_F_CUR_SIZE, 16384);
    fix_sums(b, n);
    img = open_mem_ok(b, n);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 16384);
    uint8_t x[8];
    ck_assert_int_eq(imgfmt_pread(img, x, 8, 8192), 0);
    ck_assert_mem_eq(x, "conectix", 8);
    expect_bytes(img, 8704, 16384 - 8704, 0);
    expect_extent(img, 0, 8704, IMGFMT_EXTENT_DATA);
    expect_extent(img, 8704, 16384 - 8704, IMGFMT_EXTENT_ZERO);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_testdata_images)
{
    char *dir = tmp_dir();
    /* sample.vhd: qemu-made dynamic, 200,000 bytes of text at 0. */
    char *p = gunzip_to(dir, "sample.vhd");
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), 0);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 8390656);
    char t[16];
    ck_assert_int_eq(imgfmt_pread(img, t, 16, 0), 0);
    ck_assert_mem_eq(t, "libimgfmt sample", 16);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.vhd.creator_app, "qemu");
    ck_assert_uint_eq(in.vhd.cylinders, 241);
    ck_assert_uint_eq(in.cluster_size, 2 << 20);
    imgfmt_close(img);
    free(p);

    /* vhd-fixed-1m.vhd: qemu-made fixed, 0x5a x 64 KiB at 0, 0xa5 x 4 KiB at
     * 1044480; probed from its footer. */
    p = gunzip_to(dir, "vhd-fixed-1m.vhd");
    ck_assert_int_eq(imgfmt_open(p, NULL, &img, &err), 0);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_VHD);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 1079296);
    expect_bytes(img, 0, 65536, 0x5a);
    expect_bytes(img, 65536, 1044480 - 65536, 0);
    expect_bytes(img, 1044480, 4096, 0xa5);
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_uint_eq(in.vhd.qemu_probe_raw_size, 1079808);
    imgfmt_close(img);
    free(p);
    rm_dir(dir);
}
END_TEST

/* testdata/vhd-diff-child.vhd over vhd-diff-parent.vhd (see README):
 * parent 0x11 on [0, 3M); child 0x22 on sectors 0-7 and 0x33 on [3M, 3M+8K);
 * the child's allocated blocks hold 0xEE where their bitmap bit is clear. */
START_TEST(test_differencing_testdata)
{
    char *dir = tmp_dir();
    char *pp = gunzip_to(dir, "vhd-diff-parent.vhd");
    char *cp = gunzip_to(dir, "vhd-diff-child.vhd");
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_msg(imgfmt_open(cp, NULL, &img, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 4212736);
    expect_bytes(img, 0, 4096, 0x22);
    expect_bytes(img, 4096, (3 << 20) - 4096, 0x11);
    expect_bytes(img, 3 << 20, 8192, 0x33);
    expect_bytes(img, (3 << 20) + 8192, 4212736 - (3 << 20) - 8192, 0);
    expect_extent(img, 0, 4 << 20, IMGFMT_EXTENT_DATA);
    expect_extent(img, 4 << 20, 4212736 - (4 << 20), IMGFMT_EXTENT_ZERO);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.subformat, "differencing");
    ck_assert_str_eq(in.backing_filename, ".\\vhd-diff-parent.vhd");
    ck_assert_str_eq(in.backing_format, "vpc");
    ck_assert_str_eq(in.vhd.parent_name, pp);
    ck_assert_str_eq(in.vhd.parent_uuid, "0cfcfbef-1507-4b17-9bd0-a16edbed4f44");
    ck_assert_str_eq(in.vhd.uuid, "01234567-89ab-cdef-0123-456789abcdef");
    int found = 0;
    for (uint32_t i = 0; i < in.nb_warnings; i++)
        found |= strstr(imgfmt_warning(img, i), "qemu-img ignores the parent") != NULL;
    ck_assert(found);
    ck_assert_ptr_nonnull(imgfmt_backing(img));
    imgfmt_close(img);

    /* Top layer only: what qemu shows for unallocated blocks (zeros); the
     * clear-bit sectors still come from... nowhere: zeros. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = IMGFMT_OPEN_NO_BACKING;
    ck_assert_int_eq(imgfmt_open(cp, &o, &img, &err), 0);
    ck_assert_ptr_null(imgfmt_backing(img));
    expect_bytes(img, 0, 4096, 0x22);
    expect_bytes(img, 4096, 4096, 0);
    expect_extent(img, 0, 4096, IMGFMT_EXTENT_DATA);
    expect_extent(img, 4096, (3 << 20) - 4096, IMGFMT_EXTENT_ZERO);
    imgfmt_close(img);

    /* Untrusted mode refuses the parent. */
    open_path_fails(cp, IMGFMT_OPEN_NO_EXTERNAL, IMGFMT_E_BACKING, "refused");
    /* Without the parent file. */
    unlink(pp);
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "not found");
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "vhd-diff-parent.vhd");
    free(pp);
    free(cp);
    rm_dir(dir);
}
END_TEST

/* Built pairs: locator kinds, bitmap runs, UUID mismatch, loops. */
static const struct spec parent_spec = {
    .size = 65536, .bs = 16384, .type = VHD_TYPE_DYNAMIC, .alloc = 0xf, .bitmap_fill = 0xff,
    .uuid = {0xaa, 0xbb},
};

static struct spec child_spec(void)
{
    struct spec c = {
        .size = 65536, .bs = 16384, .type = VHD_TYPE_DIFFERENCING, .alloc = 0x2,
        .bitmap_fill = 0x0f,  /* sectors 4-7, 12-15, ... present */
        .uuid = {0xcc}, .parent_uuid = {0xaa, 0xbb},
    };
    return c;
}

START_TEST(test_differencing_built)
{
    char *dir = tmp_dir();
    size_t pn, cn;
    uint8_t *pb = build_vhd(&parent_spec, &pn);
    char *pp = write_in(dir, "par.vhd", pb, pn);
    struct spec cs = child_spec();
    const char *names[][4] = {
        /* w2ru, w2ku, macx, header name */
        {".\\par.vhd", NULL, NULL, NULL},
        {NULL, "D:\\vms\\disks\\par.vhd", NULL, NULL},
        {NULL, NULL, NULL, "par.vhd"},
        {".\\missing.vhd", NULL, NULL, "par.vhd"},   /* first existing wins */
        {NULL, NULL, "file://localhost", NULL},      /* completed below */
    };
    char url[4200];
    snprintf(url, sizeof url, "file://localhost%s", pp);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        cs.w2ru = names[k][0];
        cs.w2ku = names[k][1];
        cs.macx = names[k][2] ? url : NULL;
        cs.parent_name = names[k][3];
        uint8_t *cb = build_vhd(&cs, &cn);
        char *cp = write_in(dir, "child.vhd", cb, cn);
        imgfmt_image *img = NULL;
        imgfmt_error err = {0};
        ck_assert_msg(imgfmt_open(cp, NULL, &img, &err) == 0, "case %zu: %s", k, err.msg);
        /* Block 0: parent (0x40).  Block 1: bitmap 0x0f per byte, so sectors
         * 0-3 from the parent (0x41), 4-7 from the child (0x41 too: use the
         * status to tell them apart), block 2-3: parent. */
        expect_bytes(img, 0, 16384, 0x40);
        expect_bytes(img, 16384, 16384, 0x41);
        expect_bytes(img, 32768, 16384, 0x42);
        ck_assert_int_eq(imgfmt_get_info(img, &(imgfmt_info){.struct_size = sizeof(imgfmt_info)}), 0);
        ck_assert_ptr_nonnull(imgfmt_backing(img));
        imgfmt_close(img);
        unlink(cp);
        free(cp);
        free(cb);
    }
    /* The child's own sectors: give the parent zeros in block 1 by
     * unallocating it there, and check the child's 0x41 appears only where
     * the bitmap says. */
    struct spec ps = parent_spec;
    ps.alloc = 0xd;
    free(pb);
    pb = build_vhd(&ps, &pn);
    unlink(pp);
    free(write_in(dir, "par.vhd", pb, pn));
    cs = child_spec();
    cs.w2ru = "par.vhd";
    uint8_t *cb = build_vhd(&cs, &cn);
    char *cp = write_in(dir, "child.vhd", cb, cn);
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_msg(imgfmt_open(cp, NULL, &img, &err) == 0, "%s", err.msg);
    for (int sec = 0; sec < 32; sec++)
        expect_bytes(img, 16384 + 512 * sec, 512, (sec % 8) >= 4 ? 0x41 : 0);
    /* Status: sectors 0-3 of block 1 fold to the parent's unallocated block
     * (ZERO), 4-7 are the child's DATA. */
    expect_extent(img, 16384, 2048, IMGFMT_EXTENT_ZERO);
    expect_extent(img, 16384 + 2048, 2048, IMGFMT_EXTENT_DATA);
    imgfmt_close(img);

    /* The top layer alone reports UNALLOC for clear bits: zeros. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.flags = IMGFMT_OPEN_NO_BACKING;
    ck_assert_int_eq(imgfmt_open(cp, &o, &img, &err), 0);
    expect_extent(img, 0, 16384 + 2048, IMGFMT_EXTENT_ZERO);
    imgfmt_close(img);
    unlink(cp);
    free(cp);
    free(cb);

    /* UUID mismatch. */
    cs.parent_uuid[0] = 0x99;
    cb = build_vhd(&cs, &cn);
    cp = write_in(dir, "child.vhd", cb, cn);
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "UUID");
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "99bb0000-");
    free(cb);
    free(cp);

    /* Parent loop: a differencing disk whose parent is itself, and a pair
     * that name each other. */
    cs = child_spec();
    cs.w2ru = "self.vhd";
    memcpy(cs.parent_uuid, cs.uuid, 16);
    cb = build_vhd(&cs, &cn);
    cp = write_in(dir, "self.vhd", cb, cn);
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "loops");
    free(cb);
    free(cp);
    struct spec a = child_spec(), b = child_spec();
    a.uuid[0] = 0xa1;
    b.uuid[0] = 0xb1;
    memcpy(a.parent_uuid, b.uuid, 16);
    memcpy(b.parent_uuid, a.uuid, 16);
    a.w2ru = "b.vhd";
    b.w2ru = "a.vhd";
    uint8_t *ab = build_vhd(&a, &cn);
    char *ap = write_in(dir, "a.vhd", ab, cn);
    free(ab);
    ab = build_vhd(&b, &cn);
    free(write_in(dir, "b.vhd", ab, cn));
    free(ab);
    open_path_fails(ap, 0, IMGFMT_E_BACKING, "loops");
    free(ap);

    /* Child without parent file, and from memory (no external files). */
    cs = child_spec();
    cs.w2ru = "gone.vhd";
    cb = build_vhd(&cs, &cn);
    cp = write_in(dir, "orphan.vhd", cb, cn);
    open_path_fails(cp, 0, IMGFMT_E_BACKING, "\"gone.vhd\"");
    open_mem_fails(cb, cn, IMGFMT_FMT_UNKNOWN, IMGFMT_E_BACKING, "refused");
    /* The top layer alone needs no file, even from memory. */
    imgfmt_open_opts_init(&o);
    o.flags = IMGFMT_OPEN_NO_BACKING;
    img = open_mem_opts(cb, cn, &o);
    expect_bytes(img, 16384 + 2048, 2048, 0x41);
    expect_bytes(img, 0, 16384, 0);
    imgfmt_info in;
    in.struct_size = sizeof in;
    ck_assert_int_eq(imgfmt_get_info(img, &in), 0);
    ck_assert_str_eq(in.backing_filename, "gone.vhd");
    ck_assert_ptr_null(imgfmt_backing(img));
    imgfmt_close(img);
    free(cp);
    /* No name at all. */
    cs.w2ru = NULL;
    free(cb);
    cb = build_vhd(&cs, &cn);
    cp = write_in(dir, "noname.vhd", cb, cn);
    open_path_fails(cp, 0, IMGFMT_E_CORRUPT, "names no parent");
    free(cp);
    free(cb);
    /* A locator whose data lies past the end of the file. */
    cs.w2ru = "par.vhd";
    cb = build_vhd(&cs, &cn);
    ifmt_put_be64(cb + 512 + VHD_H_LOCATORS + 16, 1 << 30);
    fix_sums(cb, cn);
    cp = write_in(dir, "badloc.vhd", cb, cn);
    open_path_fails(cp, 0, IMGFMT_E_CORRUPT, "parent locator 0 (W2ru)");
    free(cp);
    free(cb);
    free(pb);
    free(pp);
    rm_dir(dir);
}
END_TEST

/* ---- bad inputs ----------------------------------------------------------- */

START_TEST(test_truncated)
{
    size_t n;
    uint8_t *b = build_vhd(&dyn64k, &n);
    /* Under 512 bytes. */
    open_mem_fails(b, 511, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "too small");
    open_mem_fails(b, 0, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "too small");
    /* Cut inside the dynamic header. */
    open_mem_fails(b, 1000, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "dynamic disk header");
    /* Cut inside the BAT. */
    open_mem_fails(b, 1536 + 8, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "BAT");
    /* Cut inside the last block (the trailing footer is gone, like qemu we
     * never need it for a dynamic disk): truncated. */
    open_mem_fails(b, n - 4096, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "truncated");
    open_mem_fails(b, n - 4096, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "BAT entry 2");
    /* Without the trailing footer it still opens (qemu does too). */
    imgfmt_image *img = open_mem_ok(b, n - 512);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_bad_checksum_and_cookie)
{
    size_t n;
    uint8_t *b = build_vhd(&dyn64k, &n);
    b[VHD_F_CHECKSUM + 3] ^= 1;
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "footer checksum");
    b[VHD_F_CHECKSUM + 3] ^= 1;
    /* A bad trailing copy is ignored for dynamic disks, as in qemu. */
    b[n - 512 + VHD_F_CHECKSUM] ^= 1;
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_close(img);
    /* Bad dynamic header checksum: a warning only (qemu does not check it). */
    b[512 + VHD_H_CHECKSUM] ^= 1;
    img = open_mem_ok(b, n);
    int found = 0;
    for (uint32_t i = 0; imgfmt_warning(img, i); i++)
        found |= strstr(imgfmt_warning(img, i), "header checksum") != NULL;
    ck_assert(found);
    imgfmt_close(img);
    /* Bad cookie: neither end starts with "conectix". */
    b[0] = 'C';
    b[n - 512] = 'C';
    open_mem_fails(b, n, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "conectix");
    /* Bad dynamic header cookie. */
    b[0] = 'c';
    b[512] = 'X';
    open_mem_fails(b, n, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "cxsparse");
    free(b);

    /* Fixed: a bad checksum in the only footer; a non-fixed trailing footer. */
    struct spec fs = {.size = 4096, .type = VHD_TYPE_FIXED};
    b = build_vhd(&fs, &n);
    b[n - 512 + VHD_F_CHECKSUM] ^= 0x80;
    open_mem_fails(b, n, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "footer checksum");
    b[n - 512 + VHD_F_CHECKSUM] ^= 0x80;
    ifmt_put_be32(b + n - 512 + VHD_F_DISK_TYPE, 3);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_VHD, IMGFMT_E_CORRUPT, "disk type 3");
    free(b);
}
END_TEST

START_TEST(test_bad_block_size)
{
    size_t n;
    uint8_t *b = build_vhd(&dyn64k, &n);
    static const uint32_t bad[] = {0, 256, 16385, 3 << 20, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ifmt_put_be32(b + 512 + VHD_H_BLOCK_SIZE, bad[i]);
        fix_sums(b, n);
        open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "not a power of two");
    }
    free(b);
}
END_TEST

START_TEST(test_bad_bat)
{
    size_t n;
    uint8_t *b = build_vhd(&dyn64k, &n);
    /* The BAT (4 entries) runs past the end of the file. */
    ifmt_put_be64(b + 512 + VHD_H_TABLE_OFFSET, n - 8);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "runs past the end of the file");
    ifmt_put_be64(b + 512 + VHD_H_TABLE_OFFSET, UINT64_MAX - 4);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "BAT");
    ifmt_put_be64(b + 512 + VHD_H_TABLE_OFFSET, 1536);
    /* More entries than the file holds. */
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 0x100000);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "runs past the end of the file");
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 4);
    /* An entry pointing past the end of the file. */
    ifmt_put_be32(b + 1536 + 4, 0x100000);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "BAT entry 1");
    /* ... even in an entry past the virtual size (qemu checks them all). */
    ifmt_put_be32(b + 1536 + 4, 0xFFFFFFFFu);
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 5);
    ifmt_put_be32(b + 1536 + 16, 0x7FFFFFFF);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "BAT entry 4");
    ifmt_put_be32(b + 1536 + 16, 0xFFFFFFFFu);
    fix_sums(b, n);
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_close(img);
    /* Too few entries for the virtual size. */
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 3);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "too small");
    free(b);
}
END_TEST

START_TEST(test_absurd_table)
{
    size_t n;
    uint8_t *b = build_vhd(&dyn64k, &n);
    /* max_table_entries = 2^32-1: refused before any allocation. */
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 0xFFFFFFFFu);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_LIMIT, "max_table_entries 4294967295");
    ifmt_put_be32(b + 512 + VHD_H_MAX_ENTRIES, 0x1FFFFFFF);
    fix_sums(b, n);
    open_mem_fails(b, n, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "runs past the end of the file");
    free(b);

    /* A 2040 GiB disk with 512-byte blocks needs 4 G entries (16 GiB of
     * BAT): the metadata cap stops it before allocating.  A 512 KiB file
     * holds its first 128 Ki entries; max_table_entries is large enough to
     * pass the size check but the BAT would run past the file. */
    struct spec sp = {.size = 2040ull << 30, .bs = 512, .type = 3};
    uint8_t hdr[2048] = {0};
    make_footer(hdr, &sp, 512);
    memcpy(hdr + 512, VHD_DYN_COOKIE, 8);
    ifmt_put_be64(hdr + 512 + VHD_H_TABLE_OFFSET, 1536);
    ifmt_put_be32(hdr + 512 + VHD_H_BLOCK_SIZE, 512);
    ifmt_put_be32(hdr + 512 + VHD_H_MAX_ENTRIES, 0xFF000000u);
    size_t big = 512 * 1024;
    uint8_t *f = calloc(1, big);
    memcpy(f, hdr, sizeof hdr);
    fix_sums(f, big);
    open_mem_fails(f, big, IMGFMT_FMT_UNKNOWN, IMGFMT_E_LIMIT, "max_table_entries");
    /* Within qemu's entry limit, a huge BAT must still lie in the file. */
    sp.size = 64ull << 30;           /* 128 Mi entries of 512 bytes */
    make_footer(f, &sp, 512);
    ifmt_put_be32(f + 512 + VHD_H_MAX_ENTRIES, 0x10000000u);
    fix_sums(f, big);
    open_mem_fails(f, big, IMGFMT_FMT_UNKNOWN, IMGFMT_E_CORRUPT, "runs past the end");
    /* A BAT that fits the file but not the cap. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.max_metadata_bytes = 4096;
    sp.size = 4ull << 20;            /* 8 Ki entries = 32 KiB of BAT */
    make_footer(f, &sp, 512);
    ifmt_put_be32(f + 512 + VHD_H_MAX_ENTRIES, 8192);
    memset(f + 1536, 0xff, 32768);
    fix_sums(f, big);
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_memory(f, big, &o, &img, &err), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "BAT needs 32768 bytes"));
    o.max_metadata_bytes = 1 << 20;
    img = open_mem_opts(f, big, &o);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 4 << 20);
    imgfmt_close(img);
    free(f);
}
END_TEST

START_TEST(test_too_large)
{
    /* current_size 2040 GiB + 1 sector with "win ": qemu's EFBIG. */
    struct spec sp = {.size = (2040ull << 30) + 512, .type = VHD_TYPE_FIXED};
    uint8_t f[1024] = {0};
    make_footer(f + 512, &sp, UINT64_MAX);
    open_mem_fails(f, sizeof f, IMGFMT_FMT_VHD, IMGFMT_E_LIMIT, "2040 GiB");
    open_mem_fails(f, sizeof f, IMGFMT_FMT_VHD, IMGFMT_E_LIMIT, "2190433321472");
    /* Exactly 2040 GiB is accepted (a sparse fixed disk: zeros past EOF). */
    sp.size = 2040ull << 30;
    make_footer(f + 512, &sp, UINT64_MAX);
    imgfmt_image *img = open_mem_ok(f, sizeof f);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 2040ull << 30);
    imgfmt_close(img);
    /* Under the CHS rule the maximum geometry still gives current_size. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.vhd_size_rule = IMGFMT_VHD_RULE_CHS;
    img = open_mem_opts(f, sizeof f, &o);
    ck_assert_uint_eq(imgfmt_virtual_size(img), 2040ull << 30);
    imgfmt_close(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vhd");
    TCase *tc = tcase_create("probe");
    tcase_add_test(tc, test_probe);
    suite_add_tcase(s, tc);
    tc = tcase_create("header");
    tcase_add_test(tc, test_footer_decode);
    tcase_add_test(tc, test_size_rules);
    tcase_add_test(tc, test_geometry);
    tcase_add_test(tc, test_utf16);
    suite_add_tcase(s, tc);
    tc = tcase_create("read");
    tcase_add_test(tc, test_dynamic_read_status);
    tcase_add_test(tc, test_size_rule_option);
    tcase_add_test(tc, test_fixed);
    tcase_add_test(tc, test_testdata_images);
    tcase_add_test(tc, test_differencing_testdata);
    tcase_add_test(tc, test_differencing_built);
    suite_add_tcase(s, tc);
    tc = tcase_create("corrupt");
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_bad_checksum_and_cookie);
    tcase_add_test(tc, test_bad_block_size);
    tcase_add_test(tc, test_bad_bat);
    tcase_add_test(tc, test_absurd_table);
    tcase_add_test(tc, test_too_large);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
