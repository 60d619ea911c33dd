/*
 * test-btrfs.c -- the btrfs driver on images made by the real tools
 * (tests/gen/mkbtrfs-fixtures.sh): btrfs-rootdir.img (mkfs.btrfs
 * --rootdir) and btrfs-kernel.img (written by the kernel: subvolumes, a
 * set-default snapshot, zlib/lzo/zstd, holes, prealloc), plus crafted
 * corruptions of them (patched bytes, checksums recomputed) that must
 * give the right codes.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "testdata-gz.h"
#include "core/bytes.h"
#include "fs/fs.h"
#include "imgfmt-config.h"

/* A fixture in memory. */
static uint8_t *load_gz(const char *name, size_t *len)
{
    char gzname[256];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile in = gzopen(td_path(gzname), "rb");
    ck_assert_msg(in != NULL, "cannot open %s", gzname);
    size_t cap = 128u << 20, n = 0;
    uint8_t *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    int k;
    while ((k = gzread(in, buf + n, (unsigned)(cap - n))) > 0)
        n += (size_t)k;
    ck_assert_int_eq(k, 0);
    gzclose(in);
    *len = n;
    return buf;
}

static uint8_t *rootdir, *kernel;
static size_t rootdir_len, kernel_len;

static void load_fixtures(void)
{
    rootdir = load_gz("btrfs-rootdir.img", &rootdir_len);
    kernel = load_gz("btrfs-kernel.img", &kernel_len);
}

static void free_fixtures(void)
{
    free(rootdir);
    free(kernel);
}

/* Open a memory image as a file system with the public API. */
struct opened {
    imgfmt_image *img;
    imgfmt_filesystem *fs;
};

static int try_open(const uint8_t *buf, size_t len, const char *subvol, uint64_t subvolid,
                    struct opened *o, imgfmt_error *err)
{
    imgfmt_fs_opts opts;
    imgfmt_fs_opts_init(&opts);
    opts.subvol = subvol;
    opts.subvolid = subvolid;
    o->img = open_mem_ok(buf, len);
    int r = imgfmt_fs_open(o->img, 0, 0, &opts, &o->fs, err);
    if (r < 0) {
        imgfmt_close(o->img);
        o->img = NULL;
    }
    return r;
}

static struct opened open_ok(const uint8_t *buf, size_t len, const char *subvol,
                             uint64_t subvolid)
{
    struct opened o;
    imgfmt_error err = {0};
    int r = try_open(buf, len, subvol, subvolid, &o, &err);
    ck_assert_msg(r == 0, "fs open failed: %d %s", r, err.msg);
    return o;
}

static void close_opened(struct opened *o)
{
    imgfmt_fs_close(o->fs);
    imgfmt_close(o->img);
}

/* Whole file contents (malloc'ed) and its length. */
static uint8_t *slurp(imgfmt_filesystem *fs, const char *path, size_t *len)
{
    imgfmt_file *f;
    int r = imgfmt_fs_open_file(fs, path, &f);
    ck_assert_msg(r == 0, "open %s: %d %s", path, r, imgfmt_fs_last_error(fs)->msg);
    size_t size = (size_t)imgfmt_file_stat(f)->size, got;
    uint8_t *buf = malloc(size + 1);
    ck_assert_ptr_nonnull(buf);
    r = imgfmt_file_pread(f, buf, size, 0, &got);
    ck_assert_msg(r == 0, "read %s: %d %s", path, r, imgfmt_fs_last_error(fs)->msg);
    ck_assert_uint_eq(got, size);
    imgfmt_file_close(f);
    *len = size;
    return buf;
}

static void assert_content(imgfmt_filesystem *fs, const char *path, const void *want,
                           size_t want_len)
{
    size_t len;
    uint8_t *got = slurp(fs, path, &len);
    ck_assert_uint_eq(len, want_len);
    ck_assert_msg(memcmp(got, want, len) == 0, "%s: content differs", path);
    free(got);
}

static uint32_t file_crc(imgfmt_filesystem *fs, const char *path, size_t *len)
{
    uint8_t *got = slurp(fs, path, len);
    uint32_t c = (uint32_t)crc32(0, got, (uInt)*len);
    free(got);
    return c;
}

/* Names of a directory joined by '|', in directory order. */
static void list_dir(imgfmt_filesystem *fs, const char *path, char *out, size_t cap)
{
    imgfmt_dir *d;
    imgfmt_dirent e;
    int r = imgfmt_fs_opendir(fs, path, &d);
    ck_assert_msg(r == 0, "opendir %s: %d %s", path, r, imgfmt_fs_last_error(fs)->msg);
    out[0] = '\0';
    while ((r = imgfmt_fs_readdir(d, &e)) > 0) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? "|" : "", e.name);
    }
    ck_assert_int_eq(r, 0);
    imgfmt_fs_closedir(d);
}

static imgfmt_stat stat_ok(imgfmt_filesystem *fs, const char *path, unsigned flags)
{
    imgfmt_stat st;
    int r = imgfmt_fs_stat(fs, path, flags, &st);
    ck_assert_msg(r == 0, "stat %s: %d %s", path, r, imgfmt_fs_last_error(fs)->msg);
    return st;
}

/* ------------------------------------------------------------------ */
/* mkfs.btrfs --rootdir                                               */
/* ------------------------------------------------------------------ */

START_TEST(rootdir_listing)
{
    struct opened o = open_ok(rootdir, rootdir_len, NULL, 0);
    ck_assert_str_eq(imgfmt_fs_type(o.fs), "btrfs");
    ck_assert_str_eq(imgfmt_fs_label(o.fs), "imgfmt-rootdir");
    ck_assert_str_eq(imgfmt_fs_uuid(o.fs), "5e2b8a1c-3d4f-4a6b-9c8d-7e6f5a4b3c2d");
    ck_assert_uint_eq(imgfmt_fs_nb_warnings(o.fs), 0);
    char names[4096];
    list_dir(o.fs, "/", names, sizeof names);
    /* DIR_INDEX order: the order mkfs created them in. */
    ck_assert_msg(strstr(names, "hello.txt") && strstr(names, "regular.bin") &&
                  strstr(names, "link-rel") && strstr(names, "dir") &&
                  strstr(names, "empty"), "root: %s", names);
    list_dir(o.fs, "/empty", names, sizeof names);
    ck_assert_str_eq(names, "");
    list_dir(o.fs, "/dir/sub", names, sizeof names);
    ck_assert_str_eq(names, "deep.txt");
    close_opened(&o);
}
END_TEST

START_TEST(rootdir_stat)
{
    struct opened o = open_ok(rootdir, rootdir_len, NULL, 0);
    imgfmt_stat st = stat_ok(o.fs, "/hello.txt", 0);
    ck_assert_int_eq(st.type, IMGFMT_FILE_REG);
    ck_assert_uint_eq(st.mode, 0100604);
    ck_assert_uint_eq(st.size, 12);
    ck_assert_uint_eq(st.nlink, 2);
    imgfmt_stat hl = stat_ok(o.fs, "/dir/hardlink.txt", 0);
    ck_assert_uint_eq(hl.ino, st.ino);
    st = stat_ok(o.fs, "/dir", 0);
    ck_assert_int_eq(st.type, IMGFMT_FILE_DIR);
    ck_assert_uint_eq(st.mode, 040750);
    st = stat_ok(o.fs, "/link-rel", IMGFMT_NOFOLLOW);
    ck_assert_int_eq(st.type, IMGFMT_FILE_SYMLINK);
    ck_assert_uint_eq(st.size, 9);
    st = stat_ok(o.fs, "/", 0);
    ck_assert_uint_eq(st.ino, 256);
    ck_assert_int_eq(imgfmt_fs_stat(o.fs, "/nope", 0, &st), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(imgfmt_fs_stat(o.fs, "/hello.txt/x", 0, &st), IMGFMT_E_NOT_DIR);
    close_opened(&o);
}
END_TEST

START_TEST(rootdir_contents)
{
    struct opened o = open_ok(rootdir, rootdir_len, NULL, 0);
    assert_content(o.fs, "/hello.txt", "hello btrfs\n", 12);
    assert_content(o.fs, "/dir/hardlink.txt", "hello btrfs\n", 12);
    assert_content(o.fs, "/dir/sub/deep.txt", "deep\n", 5);
    /* 1500 bytes: an inline extent. */
    const char *line = "line of text for the inline file\n";
    char want[1500];
    for (size_t i = 0; i < sizeof want; i++)
        want[i] = line[i % strlen(line)];
    assert_content(o.fs, "/dir/inline.txt", want, sizeof want);
    /* 20000 bytes: a regular extent. */
    size_t len;
    ck_assert_uint_eq(file_crc(o.fs, "/regular.bin", &len), 0x7acf1e0cu);
    ck_assert_uint_eq(len, 20000);
    /* An unaligned read in the middle. */
    imgfmt_file *f;
    uint8_t a[100], b[100];
    size_t got;
    uint8_t *all = slurp(o.fs, "/regular.bin", &len);
    ck_assert_int_eq(imgfmt_fs_open_file(o.fs, "/regular.bin", &f), 0);
    ck_assert_int_eq(imgfmt_file_pread(f, a, sizeof a, 12345, &got), 0);
    memcpy(b, all + 12345, sizeof b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    imgfmt_file_close(f);
    free(all);
    close_opened(&o);
}
END_TEST

START_TEST(rootdir_names_and_links)
{
    struct opened o = open_ok(rootdir, rootdir_len, NULL, 0);
    const char *t;
    ck_assert_int_eq(imgfmt_fs_readlink(o.fs, "/link-rel", &t), 0);
    ck_assert_str_eq(t, "hello.txt");
    ck_assert_int_eq(imgfmt_fs_readlink(o.fs, "/dir/link-abs", &t), 0);
    ck_assert_str_eq(t, "/dir/sub/deep.txt");
    assert_content(o.fs, "/link-rel", "hello btrfs\n", 12);
    assert_content(o.fs, "/dir/link-abs", "deep\n", 5);
    assert_content(o.fs, "/dir/caf\xc3\xa9-\xe2\x82\xac.txt", "utf8\n", 5);
    char longname[260] = "/dir/";
    memset(longname + 5, 'n', 200);
    longname[205] = '\0';
    assert_content(o.fs, longname, "long\n", 5);
    close_opened(&o);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Written by the kernel: subvolumes, compression, holes, prealloc    */
/* ------------------------------------------------------------------ */

/* What the fixture script wrote with compress-force=NAME. */
static uint8_t *compressible(const char *name, size_t *len)
{
    size_t n = 8192 + 153600, k = 0;
    uint8_t *buf = malloc(n);
    char line[64];
    for (unsigned i = 1; k < 8192; i++) {
        int m = snprintf(line, sizeof line, "%u\n", i);
        for (int j = 0; j < m && k < 8192; j++)
            buf[k++] = (uint8_t)line[j];
    }
    int m = snprintf(line, sizeof line, "%s compressible line\n", name);
    for (size_t i = 0; k < n; i++)
        buf[k++] = (uint8_t)line[i % (size_t)m];
    *len = n;
    return buf;
}

static void check_compressed(imgfmt_filesystem *fs, const char *name)
{
    char path[64];
    size_t len;
    uint8_t *want = compressible(name, &len);
    snprintf(path, sizeof path, "/%s.txt", name);
    assert_content(fs, path, want, len);
    free(want);
    char small[3000], line[64];
    int m = snprintf(line, sizeof line, "%s inline\n", name);
    for (size_t i = 0; i < sizeof small; i++)
        small[i] = line[i % (size_t)m];
    snprintf(path, sizeof path, "/%s-inline.txt", name);
    assert_content(fs, path, small, sizeof small);
}

START_TEST(kernel_default_subvolume)
{
    /* A plain mount shows the set-default subvolume @/.snapshots/1/snapshot. */
    struct opened o = open_ok(kernel, kernel_len, NULL, 0);
    ck_assert_str_eq(imgfmt_fs_label(o.fs), "imgfmt-kernel");
    assert_content(o.fs, "/etc-release", "root of the default\n", 20);
    imgfmt_stat st;
    ck_assert_int_eq(imgfmt_fs_stat(o.fs, "/top.txt", 0, &st), IMGFMT_E_NOT_FOUND);
    close_opened(&o);
}
END_TEST

START_TEST(kernel_compression)
{
    struct opened o = open_ok(kernel, kernel_len, NULL, 0);
    check_compressed(o.fs, "zlib");
#if IMGFMT_HAVE_LZO
    check_compressed(o.fs, "lzo");
#endif
#if IMGFMT_HAVE_ZSTD
    check_compressed(o.fs, "zstd");
#endif
#if !IMGFMT_HAVE_LZO || !IMGFMT_HAVE_ZSTD
    /* Without the library: UNSUPPORTED naming it. */
    const char *absent = !IMGFMT_HAVE_LZO ? "/lzo.txt" : "/zstd.txt";
    imgfmt_file *nf;
    uint8_t tmp[64];
    size_t ngot;
    ck_assert_int_eq(imgfmt_fs_open_file(o.fs, absent, &nf), 0);
    ck_assert_int_eq(imgfmt_file_pread(nf, tmp, sizeof tmp, 0, &ngot), IMGFMT_E_UNSUPPORTED);
    ck_assert_msg(strstr(imgfmt_fs_last_error(o.fs)->msg, "this build has no"), "%s",
                  imgfmt_fs_last_error(o.fs)->msg);
    imgfmt_file_close(nf);
#endif
    /* A read across the boundary of the two compressed extents. */
    size_t len;
    uint8_t *want = compressible("zlib", &len), buf[300];
    imgfmt_file *f;
    size_t got;
    ck_assert_int_eq(imgfmt_fs_open_file(o.fs, "/zlib.txt", &f), 0);
    ck_assert_int_eq(imgfmt_file_pread(f, buf, sizeof buf, 131072 - 150, &got), 0);
    ck_assert(memcmp(buf, want + 131072 - 150, sizeof buf) == 0);
    imgfmt_file_close(f);
    free(want);
    close_opened(&o);
}
END_TEST

START_TEST(kernel_top_level_crossing)
{
    struct opened o = open_ok(kernel, kernel_len, NULL, 5);
    char names[1024];
    list_dir(o.fs, "/", names, sizeof names);
    ck_assert_str_eq(names, "top.txt|@|sparse.bin|prealloc.bin");
    list_dir(o.fs, "/@", names, sizeof names);
    ck_assert_str_eq(names, "home|.snapshots|at.txt");
    assert_content(o.fs, "/@/at.txt", "in @\n", 5);
    assert_content(o.fs, "/@/home/user.txt", "in home\n", 8);
    assert_content(o.fs, "/@/.snapshots/1/snapshot/etc-release", "root of the default\n", 20);
    /* Each subvolume's root is inode 256 of its own tree. */
    imgfmt_stat a = stat_ok(o.fs, "/@", 0), h = stat_ok(o.fs, "/@/home", 0);
    ck_assert_uint_eq(a.ino, 256);
    ck_assert_uint_eq(h.ino, 256);
    ck_assert_int_eq(h.type, IMGFMT_FILE_DIR);
    /* ".." out of a subvolume goes back to its parent. */
    assert_content(o.fs, "/@/home/../at.txt", "in @\n", 5);
    close_opened(&o);
}
END_TEST

START_TEST(kernel_holes_prealloc)
{
    struct opened o = open_ok(kernel, kernel_len, NULL, 5);
    size_t len;
    ck_assert_uint_eq(file_crc(o.fs, "/sparse.bin", &len), 0x7f0f13edu);
    ck_assert_uint_eq(len, 2097152);
    uint8_t *s = slurp(o.fs, "/sparse.bin", &len);
    for (size_t i = 16384; i < 260 * 4096; i++)
        ck_assert_msg(s[i] == 0, "hole byte %zu not zero", i);
    free(s);
    uint8_t *p = slurp(o.fs, "/prealloc.bin", &len);
    ck_assert_uint_eq(len, 65536);
    const char *w = "written into prealloc\n";
    ck_assert(memcmp(p + 20000, w, strlen(w)) == 0);
    for (size_t i = 0; i < len; i++)
        if (i < 20000 || i >= 20000 + strlen(w))
            ck_assert_msg(p[i] == 0, "prealloc byte %zu not zero", i);
    free(p);
    close_opened(&o);
}
END_TEST

START_TEST(kernel_subvol_option)
{
    struct opened o = open_ok(kernel, kernel_len, "@/home", 0);
    assert_content(o.fs, "/user.txt", "in home\n", 8);
    close_opened(&o);
    o = open_ok(kernel, kernel_len, "/@", 0);
    assert_content(o.fs, "/at.txt", "in @\n", 5);
    assert_content(o.fs, "/home/user.txt", "in home\n", 8);
    close_opened(&o);
    imgfmt_error err = {0};
    ck_assert_int_eq(try_open(kernel, kernel_len, "@/nope", 0, &o, &err),
                     IMGFMT_E_NOT_FOUND);
    ck_assert_msg(strstr(err.msg, "nope"), "%s", err.msg);
    ck_assert_int_eq(try_open(kernel, kernel_len, "@/at.txt", 0, &o, &err), IMGFMT_E_INVAL);
    ck_assert_msg(strstr(err.msg, "not a subvolume"), "%s", err.msg);
    ck_assert_int_eq(try_open(kernel, kernel_len, "@/.snapshots", 0, &o, &err),
                     IMGFMT_E_INVAL);
    ck_assert_int_eq(try_open(kernel, kernel_len, NULL, 9999, &o, &err), IMGFMT_E_NOT_FOUND);
    ck_assert_msg(strstr(err.msg, "9999"), "%s", err.msg);
    ck_assert_int_eq(try_open(kernel, kernel_len, "@", 5, &o, &err), IMGFMT_E_INVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crafted corruptions                                                */
/* ------------------------------------------------------------------ */

static uint8_t *copy_of(const uint8_t *buf, size_t len)
{
    uint8_t *c = malloc(len);
    ck_assert_ptr_nonnull(c);
    memcpy(c, buf, len);
    return c;
}

static void sb_fix_csum(uint8_t *img, size_t off)
{
    ifmt_put_le32(img + off, ifmt_crc32c(0, img + off + 0x20, 4096 - 0x20));
}

/* Mount through the driver on memory: the code, and the message in msg. */
static int mount_code(const uint8_t *buf, size_t len, char *msg, size_t cap,
                      struct ifmt_fs **keep)
{
    struct ifmt_bdev dev;
    struct ifmt_fs *fs = NULL;
    imgfmt_error err = {0};
    ifmt_bdev_init_memory(&dev, buf, len, "<test>");
    int r = ifmt_fs_mount(&dev, &ifmt_btrfs_driver, NULL, &fs, &err);
    snprintf(msg, cap, "%s", err.msg);
    if (keep)
        *keep = fs;
    else
        ifmt_fs_unmount(fs);
    return r;
}

static void expect_mount(const uint8_t *buf, size_t len, int code, const char *needle)
{
    char msg[256];
    int r = mount_code(buf, len, msg, sizeof msg, NULL);
    ck_assert_msg(r == code, "mount gave %d (%s), want %d", r, msg, code);
    if (needle)
        ck_assert_msg(strstr(msg, needle), "message \"%s\" lacks \"%s\"", msg, needle);
}

START_TEST(corrupt_superblock_mirror)
{
    uint8_t *img = copy_of(rootdir, rootdir_len);
    img[0x10000 + 0x40] ^= 0xff;            /* primary magic */
    struct ifmt_fs *fs;
    char msg[256];
    ck_assert_int_eq(mount_code(img, rootdir_len, msg, sizeof msg, &fs), 0);
    ck_assert_uint_eq(fs->nb_warnings, 1);
    ck_assert_msg(strstr(fs->warnings[0], "67108864"), "%s", fs->warnings[0]);
    ifmt_fs_unmount(fs);
    img[0x10000 + 0x100] ^= 1;              /* checksum mismatch, magic back */
    img[0x10000 + 0x40] ^= 0xff;
    ck_assert_int_eq(mount_code(img, rootdir_len, msg, sizeof msg, &fs), 0);
    ck_assert_msg(strstr(fs->warnings[0], "checksum"), "%s", fs->warnings[0]);
    ifmt_fs_unmount(fs);
    img[0x4000000 + 0x40] ^= 0xff;          /* and the copy */
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "checksum mismatch");
    free(img);
}
END_TEST

START_TEST(corrupt_features)
{
    uint8_t *img = copy_of(rootdir, rootdir_len);
    uint8_t *sb = img + 0x10000;
    uint64_t inc = ifmt_le64(sb + 0xbc);
    ifmt_put_le64(sb + 0xbc, inc | 0x1000);
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_UNSUPPORTED, "zoned");
    ifmt_put_le64(sb + 0xbc, inc | (1ull << 40));
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_UNSUPPORTED, "0x10000000000");
    ifmt_put_le64(sb + 0xbc, inc);
    ifmt_put_le64(sb + 0x88, 2);            /* num_devices */
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_UNSUPPORTED, "2 devices");
    ifmt_put_le64(sb + 0x88, 1);
    ifmt_put_le64(sb + 0x60, 12345);        /* log_root */
    sb_fix_csum(img, 0x10000);
    struct ifmt_fs *fs;
    char msg[256];
    ck_assert_int_eq(mount_code(img, rootdir_len, msg, sizeof msg, &fs), 0);
    ck_assert_uint_eq(fs->nb_warnings, 1);
    ck_assert_msg(strstr(fs->warnings[0], "log tree"), "%s", fs->warnings[0]);
    ifmt_fs_unmount(fs);
    free(img);
}
END_TEST

START_TEST(corrupt_chunks)
{
    uint8_t *img = copy_of(rootdir, rootdir_len);
    uint8_t *arr = img + 0x10000 + 0x32b;   /* key (17), then the chunk item */
    uint8_t *chunk = arr + 17;
    uint64_t type = ifmt_le64(chunk + 0x18);
    ifmt_put_le64(chunk + 0x18, (type & ~0x7f8ull) | 0x10);   /* RAID1 */
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_UNSUPPORTED, "RAID1");
    ifmt_put_le64(chunk + 0x18, (type & ~0x7f8ull) | 0x80);   /* RAID5 */
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_UNSUPPORTED, "RAID5");
    ifmt_put_le64(chunk + 0x18, type);
    uint64_t phys = ifmt_le64(chunk + 0x38);
    /* Stripe 0 beyond the device: the DUP copy (stripe 1) still serves. */
    ifmt_put_le64(chunk + 0x38, rootdir_len);
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, 0, NULL);
    uint64_t phys1 = ifmt_le64(chunk + 0x58);
    ifmt_put_le64(chunk + 0x58, rootdir_len);                  /* and stripe 1 */
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "beyond the end");
    ifmt_put_le64(chunk + 0x58, phys1);
    ifmt_put_le64(chunk + 0x38, UINT64_MAX - 4096);
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "past 2^64");
    ifmt_put_le64(chunk + 0x38, phys);
    /* A second system chunk overlapping the first. */
    uint32_t asize = ifmt_le32(img + 0x10000 + 0xa0);
    ck_assert_uint_eq(asize, 17 + 0x30 + 2 * 0x20);            /* one DUP chunk */
    memcpy(arr + asize, arr, asize);
    ifmt_put_le64(arr + asize + 9, ifmt_le64(arr + 9) + 4096);
    ifmt_put_le32(img + 0x10000 + 0xa0, 2 * asize);
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "overlaps");
    ifmt_put_le32(img + 0x10000 + 0xa0, 4000);                 /* array size */
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "system chunk array");
    free(img);
}
END_TEST

/* Tree-block surgery: every leaf of this file system (all copies, stale
 * ones too) whose owner is owner; fn may patch it; checksums redone. */
typedef int leaf_fn(uint8_t *blk, uint32_t nodesize, uint32_t i, const uint8_t *item);

static int patch_leaves(uint8_t *img, size_t len, uint64_t owner, leaf_fn *fn)
{
    const uint8_t *sb = img + 0x10000;
    uint32_t nodesize = ifmt_le32(sb + 0x94);
    int patched = 0;
    for (size_t off = 0x100000; off + nodesize <= len; off += 4096) {
        uint8_t *blk = img + off;
        if (memcmp(blk + 0x20, sb + 0x20, 16) != 0 || blk[0x64] != 0 ||
            ifmt_le64(blk + 0x58) != owner)
            continue;
        uint32_t n = ifmt_le32(blk + 0x60);
        if (n > (nodesize - 0x65) / 25)
            continue;
        int hit = 0;
        for (uint32_t i = 0; i < n && !hit; i++)
            hit = fn(blk, nodesize, i, blk + 0x65 + (size_t)i * 25);
        if (hit) {
            ifmt_put_le32(blk, ifmt_crc32c(0, blk + 0x20, nodesize - 0x20));
            patched++;
        }
    }
    return patched;
}

/* The read of every file of the top level; the first error. */
static int read_all(const uint8_t *img, size_t len, uint64_t subvolid, char *msg,
                    size_t cap)
{
    struct opened o;
    imgfmt_error err = {0};
    int r = try_open(img, len, NULL, subvolid, &o, &err);
    if (r < 0) {
        snprintf(msg, cap, "%s", err.msg);
        return r;
    }
    imgfmt_dir *d;
    imgfmt_dirent e;
    if ((r = imgfmt_fs_opendir(o.fs, "/", &d)) == 0) {
        while (r == 0 && imgfmt_fs_readdir(d, &e) > 0) {
            char path[300];
            imgfmt_file *f;
            snprintf(path, sizeof path, "/%s", e.name);
            if (e.type != IMGFMT_FILE_REG || imgfmt_fs_open_file(o.fs, path, &f) < 0)
                continue;
            uint64_t size = imgfmt_file_stat(f)->size;
            uint8_t *buf = malloc(size + 1);
            size_t got;
            r = imgfmt_file_pread(f, buf, (size_t)size, 0, &got);
            free(buf);
            imgfmt_file_close(f);
        }
        imgfmt_fs_closedir(d);
    }
    snprintf(msg, cap, "%s", imgfmt_fs_last_error(o.fs)->msg);
    close_opened(&o);
    return r;
}

/* regular.bin's extent of mkfs: sent beyond every chunk. */
static int extent_far_away(uint8_t *blk, uint32_t ns, uint32_t i, const uint8_t *item)
{
    (void)i;
    uint8_t *d = blk + 0x65 + ifmt_le32(item + 17);
    if (item[8] != 108 || ifmt_le32(item + 21) < 53 || d[0x14] != 1 ||
        ifmt_le64(d + 0x1d) != 20480 || (size_t)(d - blk) + 53 > ns)
        return 0;
    ifmt_put_le64(d + 0x15, 1ull << 50);
    return 1;
}

/* A zlib extent of the kernel image: ram_bytes far beyond 128 KiB. */
static int extent_huge(uint8_t *blk, uint32_t ns, uint32_t i, const uint8_t *item)
{
    (void)i;
    uint8_t *d = blk + 0x65 + ifmt_le32(item + 17);
    if (item[8] != 108 || ifmt_le32(item + 21) < 53 || d[0x10] != 1 || d[0x14] != 1 ||
        (size_t)(d - blk) + 53 > ns)
        return 0;
    ifmt_put_le64(d + 0x08, 1ull << 30);
    return 1;
}

/* The first two keys of a leaf swapped. */
static int keys_swapped(uint8_t *blk, uint32_t ns, uint32_t i, const uint8_t *item)
{
    (void)ns;
    if (i != 1 || item[8] != 132)
        return 0;
    uint8_t tmp[17];
    memcpy(tmp, blk + 0x65, 17);
    memcpy(blk + 0x65, blk + 0x65 + 25, 17);
    memcpy(blk + 0x65 + 25, tmp, 17);
    return 1;
}

/* An item's data sent past the end of its leaf. */
static int item_outside(uint8_t *blk, uint32_t ns, uint32_t i, const uint8_t *item)
{
    if (i != 0 || item[8] != 132)
        return 0;
    ifmt_put_le32(blk + 0x65 + 17, ns - 0x65 - 10);
    ifmt_put_le32(blk + 0x65 + 21, 200);
    return 1;
}

START_TEST(corrupt_extents)
{
    char msg[256];
    uint8_t *img = copy_of(rootdir, rootdir_len);
    ck_assert_int_ge(patch_leaves(img, rootdir_len, 5, extent_far_away), 1);
    ck_assert_int_eq(read_all(img, rootdir_len, 0, msg, sizeof msg), IMGFMT_E_CORRUPT);
    ck_assert_msg(strstr(msg, "in no chunk"), "%s", msg);
    free(img);
    /* The kernel image's zlib file sits in the default subvolume (tree 258). */
    img = copy_of(kernel, kernel_len);
    ck_assert_int_ge(patch_leaves(img, kernel_len, 258, extent_huge), 1);
    ck_assert_int_eq(read_all(img, kernel_len, 0, msg, sizeof msg), IMGFMT_E_CORRUPT);
    ck_assert_msg(strstr(msg, "128 KiB"), "%s", msg);
    free(img);
}
END_TEST

START_TEST(corrupt_tree_blocks)
{
    char msg[256];
    uint8_t *img = copy_of(rootdir, rootdir_len);
    ck_assert_int_ge(patch_leaves(img, rootdir_len, 1, keys_swapped), 1);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "keys out of order");
    memcpy(img, rootdir, rootdir_len);
    ck_assert_int_ge(patch_leaves(img, rootdir_len, 1, item_outside), 1);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "outside the leaf");
    /* The root tree said to be 3 levels high: its block is a leaf. */
    memcpy(img, rootdir, rootdir_len);
    img[0x10000 + 0xc6] = 3;
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "expected 3");
    img[0x10000 + 0xc6] = 9;
    sb_fix_csum(img, 0x10000);
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "level above 7");
    /* A block whose checksum no longer matches. */
    memcpy(img, rootdir, rootdir_len);
    ck_assert_int_ge(patch_leaves(img, rootdir_len, 1, keys_swapped), 1);
    for (size_t off = 0x100000; off + 16384 <= rootdir_len; off += 4096)
        if (!memcmp(img + off + 0x20, img + 0x10000 + 0x20, 16) && img[off + 0x64] == 0 &&
            ifmt_le64(img + off + 0x58) == 1)
            img[off] ^= 1;
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "checksum mismatch");
    (void)msg;
    free(img);
}
END_TEST

/* Offsets of the copies of the root tree's top block (DUP: two). */
static size_t root_block_copies(const uint8_t *img, size_t len, size_t *offs, size_t max)
{
    const uint8_t *sb = img + 0x10000;
    uint64_t root = ifmt_le64(sb + 0x50);
    uint32_t ns = ifmt_le32(sb + 0x94);
    size_t n = 0;
    for (size_t off = 0x100000; off + ns <= len && n < max; off += 4096)
        if (!memcmp(img + off + 0x20, sb + 0x20, 16) && ifmt_le64(img + off + 0x30) == root)
            offs[n++] = off;
    return n;
}

START_TEST(corrupt_dup_copy)
{
    size_t offs[4];
    ck_assert_uint_eq(root_block_copies(rootdir, rootdir_len, offs, 4), 2);
    int warned = 0;
    uint8_t *img = copy_of(rootdir, rootdir_len);
    for (int i = 0; i < 2; i++) {
        memcpy(img, rootdir, rootdir_len);
        img[offs[i] + 0x70] ^= 0x55;        /* one copy's checksum fails */
        struct ifmt_fs *fs;
        char msg[256];
        ck_assert_int_eq(mount_code(img, rootdir_len, msg, sizeof msg, &fs), 0);
        for (uint32_t w = 0; w < fs->nb_warnings; w++)
            warned += strstr(fs->warnings[w], "checksum mismatch; read its DUP copy") != NULL;
        ifmt_fs_unmount(fs);
    }
    ck_assert_int_eq(warned, 1);            /* only a bad first copy is noticed */
    img[offs[0] + 0x70] ^= 0x55;            /* both bad */
    expect_mount(img, rootdir_len, IMGFMT_E_CORRUPT, "checksum mismatch");
    free(img);
}
END_TEST

START_TEST(truncated_device)
{
    expect_mount(rootdir, 0x10000 + 100, IMGFMT_E_CORRUPT, "too small");
    /* Chunks beyond a device cut short: a warning, then reads fail. */
    expect_mount(rootdir, 8u << 20, IMGFMT_E_CORRUPT, "beyond the end");
}
END_TEST

static Suite *btrfs_suite(void)
{
    Suite *s = suite_create("btrfs");
    TCase *t = tcase_create("rootdir");
    tcase_add_unchecked_fixture(t, load_fixtures, free_fixtures);
    tcase_add_test(t, rootdir_listing);
    tcase_add_test(t, rootdir_stat);
    tcase_add_test(t, rootdir_contents);
    tcase_add_test(t, rootdir_names_and_links);
    suite_add_tcase(s, t);
    t = tcase_create("kernel");
    tcase_add_unchecked_fixture(t, load_fixtures, free_fixtures);
    tcase_add_test(t, kernel_default_subvolume);
    tcase_add_test(t, kernel_compression);
    tcase_add_test(t, kernel_top_level_crossing);
    tcase_add_test(t, kernel_holes_prealloc);
    tcase_add_test(t, kernel_subvol_option);
    suite_add_tcase(s, t);
    t = tcase_create("corrupt");
    tcase_add_unchecked_fixture(t, load_fixtures, free_fixtures);
    tcase_add_test(t, corrupt_superblock_mirror);
    tcase_add_test(t, corrupt_features);
    tcase_add_test(t, corrupt_chunks);
    tcase_add_test(t, corrupt_extents);
    tcase_add_test(t, corrupt_tree_blocks);
    tcase_add_test(t, corrupt_dup_copy);
    tcase_add_test(t, truncated_device);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(btrfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
