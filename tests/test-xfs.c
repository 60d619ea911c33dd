/*
 * test-xfs.c -- the XFS driver on images made by mkfs.xfs from a
 * protofile (tests/gen/mkxfs-fixtures.sh; the tree is described there):
 * a v5 image (CRCs, ftype, big timestamps, 64-bit extent counters) and a
 * v4 one (no CRCs, no ftype, 1 KiB blocks, 4 KiB directory blocks).
 * Listing, stat, contents and symlinks of every directory format, then
 * bytes patched in memory for each corruption the driver must name.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define IMGFMT_BUILDING 1
#include "core/bytes.h"
#include "testdata-gz.h"
#include "testutil.h"

struct fixture {
    const char *name, *label, *uuid;
    bool v5;
    uint32_t mtime_nsec;   /* of /small/file.txt, as xfs_db prints it */
    uint8_t *buf;
    size_t len;
};

static struct fixture fixtures[] = {
    { "xfs-v5.img", "imgfmt-v5", "5e1f0c2a-7b3d-4e5f-8a9b-0c1d2e3f4a5b", true, 55374000, NULL, 0 },
    { "xfs-v4.img", "imgfmt-v4", "4a4b4c4d-0000-4111-8222-333344445555", false, 708086000, NULL, 0 },
};

static void load_fixtures(void)
{
    td_make_tmpdir("test-xfs");
    for (size_t i = 0; i < 2; i++) {
        const char *path = td_unpack(fixtures[i].name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        fixtures[i].len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        fixtures[i].buf = malloc(fixtures[i].len);
        ck_assert_ptr_nonnull(fixtures[i].buf);
        ck_assert_uint_eq(fread(fixtures[i].buf, 1, fixtures[i].len, f), fixtures[i].len);
        fclose(f);
    }
    td_rm_tmpdir();
}

static void free_fixtures(void)
{
    for (size_t i = 0; i < 2; i++) {
        free(fixtures[i].buf);
        fixtures[i].buf = NULL;
    }
}

/* An open file system on a memory image (a copy the test may patch). */
struct tfs {
    uint8_t *buf;
    size_t len;
    imgfmt_image *img;
    imgfmt_filesystem *fs;
    imgfmt_error err;
};

static uint8_t *copy_of(const struct fixture *f)
{
    uint8_t *b = malloc(f->len);
    ck_assert_ptr_nonnull(b);
    memcpy(b, f->buf, f->len);
    return b;
}

/* Open t->buf; returns the fs_open code (t->err has the message). */
static int tfs_open(struct tfs *t)
{
    imgfmt_error e = {0};
    int r = imgfmt_open_memory(t->buf, t->len, NULL, &t->img, &e);
    ck_assert_msg(r == 0, "open: %s", e.msg);
    memset(&t->err, 0, sizeof t->err);
    return imgfmt_fs_open(t->img, 0, 0, NULL, &t->fs, &t->err);
}

static void tfs_close(struct tfs *t)
{
    imgfmt_fs_close(t->fs);
    imgfmt_close(t->img);
    free(t->buf);
}

static void tfs_open_ok(struct tfs *t, const struct fixture *f)
{
    t->buf = copy_of(f);
    t->len = f->len;
    int r = tfs_open(t);
    ck_assert_msg(r == 0, "fs open %s: %s", f->name, t->err.msg);
}

static imgfmt_stat stat_ok(struct tfs *t, const char *path)
{
    imgfmt_stat st;
    int r = imgfmt_fs_stat(t->fs, path, IMGFMT_NOFOLLOW, &st);
    ck_assert_msg(r == 0, "stat %s: %d %s", path, r, imgfmt_fs_last_error(t->fs)->msg);
    return st;
}

/* The whole content of a regular file (malloc'ed, NUL-terminated). */
static char *read_all(struct tfs *t, const char *path, size_t *len)
{
    imgfmt_file *f;
    int r = imgfmt_fs_open_file(t->fs, path, &f);
    ck_assert_msg(r == 0, "open_file %s: %s", path, imgfmt_fs_last_error(t->fs)->msg);
    size_t size = (size_t)imgfmt_file_stat(f)->size, got = 0;
    char *buf = malloc(size + 1);
    while (got < size) {
        size_t n;
        r = imgfmt_file_pread(f, buf + got, size - got < 7777 ? size - got : 7777, got, &n);
        ck_assert_msg(r == 0 && n > 0, "pread %s: %s", path, imgfmt_fs_last_error(t->fs)->msg);
        got += n;
    }
    buf[size] = '\0';
    imgfmt_file_close(f);
    *len = size;
    return buf;
}

/* Names of a directory, sorted, as one '\n'-joined string. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *list_dir(struct tfs *t, const char *path, int *count, int *rc)
{
    imgfmt_dir *d;
    *rc = imgfmt_fs_opendir(t->fs, path, &d);
    if (*rc < 0)
        return NULL;
    char **names = NULL;
    int n = 0;
    imgfmt_dirent e;
    while ((*rc = imgfmt_fs_readdir(d, &e)) == 1) {
        names = realloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = strdup(e.name);
    }
    imgfmt_fs_closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += strlen(names[i]) + 1;
    char *s = malloc(total);
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        strcat(s, names[i]);
        strcat(s, "\n");
        free(names[i]);
    }
    free(names);
    *count = n;
    return s;
}

/* The expected listing: fmt applied to 0..n-1, sorted. */
static char *expected_names(const char *fmt, const char *prefix, int n)
{
    char *s = malloc((size_t)n * 300 + 1), *p = s;
    for (int i = 0; i < n; i++)
        p += sprintf(p, fmt, prefix, i);
    return s;
}

static char *long_prefix(void)
{
    static char l[241];
    memset(l, 'L', 240);
    l[240] = '\0';
    return l;
}

/* ------------------------------------------------------------------ */

START_TEST(mount_label_uuid)
{
    struct tfs t;
    tfs_open_ok(&t, &fixtures[_i]);
    ck_assert_str_eq(imgfmt_fs_type(t.fs), "xfs");
    ck_assert_str_eq(imgfmt_fs_label(t.fs), fixtures[_i].label);
    ck_assert_str_eq(imgfmt_fs_uuid(t.fs), fixtures[_i].uuid);
    ck_assert_uint_eq(imgfmt_fs_nb_warnings(t.fs), 0);
    tfs_close(&t);
}
END_TEST

START_TEST(shortform_and_stat)
{
    struct tfs t;
    tfs_open_ok(&t, &fixtures[_i]);
    int n, rc;
    char *names = list_dir(&t, "/small", &n, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(names, "blk\nchr\nfifo\nfile.txt\ninline\nremote\nsetuid\n");
    free(names);
    imgfmt_stat st = stat_ok(&t, "/small/file.txt");
    ck_assert_int_eq(st.type, IMGFMT_FILE_REG);
    ck_assert_uint_eq(st.mode, 0100644);
    ck_assert_uint_eq(st.uid, 1000);
    ck_assert_uint_eq(st.gid, 100);
    ck_assert_uint_eq(st.size, 15);
    ck_assert_uint_eq(st.nlink, 1);
    ck_assert_int_eq(st.mtime.sec, 1796191238);   /* 2026-12-02 06:00:38 UTC */
    ck_assert_uint_eq(st.mtime.nsec, fixtures[_i].mtime_nsec);
    ck_assert_int_eq(st.ctime.sec, st.mtime.sec);
    ck_assert_uint_eq(st.ctime.nsec, st.mtime.nsec);
    ck_assert_int_eq(st.atime.sec, 0);            /* mkfs -p leaves atime 0 */
    if (fixtures[_i].v5) {                        /* v3 inodes: creation time */
        ck_assert_int_eq(st.btime.sec, st.mtime.sec);
        ck_assert_uint_eq(st.btime.nsec, st.mtime.nsec);
    } else {
        ck_assert_int_eq(st.btime.sec, 0);
    }
    ck_assert_uint_eq(stat_ok(&t, "/small/setuid").mode, 0104755);
    st = stat_ok(&t, "/small/chr");
    ck_assert_int_eq(st.type, IMGFMT_FILE_CHR);
    ck_assert_uint_eq(st.rdev_major, 4);
    ck_assert_uint_eq(st.rdev_minor, 64);
    st = stat_ok(&t, "/small/blk");
    ck_assert_int_eq(st.type, IMGFMT_FILE_BLK);
    ck_assert_uint_eq(st.mode, 060660);
    ck_assert_uint_eq(st.gid, 6);
    ck_assert_uint_eq(st.rdev_major, 8);
    ck_assert_uint_eq(st.rdev_minor, 1);
    ck_assert_int_eq(stat_ok(&t, "/small/fifo").type, IMGFMT_FILE_FIFO);
    st = stat_ok(&t, "/");
    ck_assert_int_eq(st.type, IMGFMT_FILE_DIR);
    ck_assert_uint_eq(st.nlink, 8);
    tfs_close(&t);
}
END_TEST

START_TEST(contents)
{
    struct tfs t;
    tfs_open_ok(&t, &fixtures[_i]);
    size_t len;
    char *s = read_all(&t, "/small/file.txt", &len);
    ck_assert_str_eq(s, "hello from xfs\n");
    free(s);
    /* seq 1 20000 */
    char *want = malloc(200000), *p = want;
    for (int i = 1; i <= 20000; i++)
        p += sprintf(p, "%d\n", i);
    s = read_all(&t, "/data/seq", &len);
    ck_assert_uint_eq(len, (size_t)(p - want));
    ck_assert(memcmp(s, want, len) == 0);
    free(s);
    free(want);
    s = read_all(&t, "/data/empty", &len);
    ck_assert_uint_eq(len, 0);
    free(s);
    /* Through a symlink. */
    s = read_all(&t, "/small/inline", &len);
    ck_assert_str_eq(s, "hello from xfs\n");
    free(s);
    tfs_close(&t);
}
END_TEST

START_TEST(symlinks)
{
    struct tfs t;
    tfs_open_ok(&t, &fixtures[_i]);
    const char *target;
    ck_assert_int_eq(imgfmt_fs_readlink(t.fs, "/small/inline", &target), 0);
    ck_assert_str_eq(target, "file.txt");
    ck_assert_uint_eq(stat_ok(&t, "/small/remote").size, 600);
    int r = imgfmt_fs_readlink(t.fs, "/small/remote", &target);
    if (fixtures[_i].v5) {
        /* mkfs.xfs 6.1 writes protofile symlinks of v5 images without the
         * "XSLM" block header; the kernel refuses them too ("Structure
         * needs cleaning").  Valid v5 remote links: tests/crosscheck/xfs.sh. */
        ck_assert_int_eq(r, IMGFMT_E_CORRUPT);
        ck_assert_str_eq(imgfmt_fs_last_error(t.fs)->msg,
                         "xfs: symlink inode 65287 block 0: bad header");
    } else {
        ck_assert_int_eq(r, 0);
        char want[601];
        strcpy(want, "/remote/");
        memset(want + 8, 'r', 592);
        want[600] = '\0';
        ck_assert_str_eq(target, want);
    }
    tfs_close(&t);
}
END_TEST

/* Every directory format: the full listing, and lookups by hash. */
static void check_dir(struct tfs *t, const char *dir, const char *fmt, const char *prefix,
                      int n)
{
    int count, rc;
    char *got = list_dir(t, dir, &count, &rc);
    ck_assert_msg(rc == 0, "%s: %s", dir, imgfmt_fs_last_error(t->fs)->msg);
    ck_assert_int_eq(count, n);
    char *want = expected_names(fmt, prefix, n);
    ck_assert(strcmp(got, want) == 0);
    free(got);
    free(want);
    char path[600], name[300];
    for (int i = 0; i < n; i += n / 7 + 1) {
        snprintf(name, sizeof name, fmt, prefix, i);
        name[strlen(name) - 1] = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, name);
        ck_assert_int_eq(stat_ok(t, path).type, IMGFMT_FILE_REG);
    }
    snprintf(name, sizeof name, fmt, prefix, n);
    name[strlen(name) - 1] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, name);
    imgfmt_stat st;
    ck_assert_int_eq(imgfmt_fs_stat(t->fs, path, 0, &st), IMGFMT_E_NOT_FOUND);
}

START_TEST(directory_formats)
{
    struct tfs t;
    tfs_open_ok(&t, &fixtures[_i]);
    check_dir(&t, "/block", "%sblock-entry-%02d\n", "", 60);
    check_dir(&t, "/leaf", "%sleaf-entry-%04d\n", "", 300);
    check_dir(&t, "/node", "%snode-entry-%05d\n", "", 1200);
    check_dir(&t, "/btree", "%s-%03d\n", long_prefix(), 400);
    char path[300];
    snprintf(path, sizeof path, "/btree/%s-399", long_prefix());
    size_t len;
    char *s = read_all(&t, path, &len);
    ck_assert_str_eq(s, "x");
    free(s);
    int n, rc;
    char *root = list_dir(&t, "/", &n, &rc);
    ck_assert_str_eq(root, "block\nbtree\ndata\nleaf\nnode\nsmall\n");
    free(root);
    tfs_close(&t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Corruptions (v5 image)                                               */
/* ------------------------------------------------------------------ */

struct geometry {
    uint32_t bs, agblocks, inodesize;
    unsigned agblklog, inopblog;
};

static struct geometry geometry_of(const uint8_t *sb)
{
    struct geometry g = { ifmt_be32(sb + 4), ifmt_be32(sb + 84), ifmt_be16(sb + 104),
                          sb[124], sb[123] };
    return g;
}

static uint64_t fsb_byte(const struct geometry *g, uint64_t fsb)
{
    return ((fsb >> g->agblklog) * g->agblocks + (fsb & ((1ull << g->agblklog) - 1))) * g->bs;
}

static uint64_t inode_byte(const struct geometry *g, uint64_t ino)
{
    uint64_t blk = ino >> g->inopblog;
    return fsb_byte(g, blk) + (ino & ((1u << g->inopblog) - 1)) * g->inodesize;
}

/* A patched copy of the v5 image: the inode of path, and its first extent. */
struct patched {
    struct tfs t;
    struct geometry g;
    uint64_t ino_off, ext_off;
};

static void patch_begin(struct patched *p, const char *path)
{
    struct tfs probe;
    tfs_open_ok(&probe, &fixtures[0]);
    uint64_t ino = stat_ok(&probe, path).ino;
    tfs_close(&probe);
    p->t.buf = copy_of(&fixtures[0]);
    p->t.len = fixtures[0].len;
    p->g = geometry_of(p->t.buf);
    p->ino_off = inode_byte(&p->g, ino);
    const uint8_t *rec = p->t.buf + p->ino_off + 176;
    uint64_t l0 = ifmt_be64(rec), l1 = ifmt_be64(rec + 8);
    p->ext_off = fsb_byte(&p->g, (l0 & 0x1ff) << 43 | l1 >> 21);
}

static void expect_open_error(struct patched *p, int code, const char *msg)
{
    int r = tfs_open(&p->t);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, p->t.err.msg);
    ck_assert_str_eq(p->t.err.msg, msg);
    tfs_close(&p->t);
}

static void expect_error(struct patched *p, int r, int code, const char *msg)
{
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r,
                  imgfmt_fs_last_error(p->t.fs)->msg);
    ck_assert_str_eq(imgfmt_fs_last_error(p->t.fs)->msg, msg);
}

START_TEST(corrupt_superblock)
{
    struct patched p;
    patch_begin(&p, "/");
    ifmt_put_be32(p.t.buf + 216, ifmt_be32(p.t.buf + 216) | 0x80000000u);
    expect_open_error(&p, IMGFMT_E_UNSUPPORTED,
                      "xfs: unknown incompatible features 0x80000000 not supported");
    patch_begin(&p, "/");
    ifmt_put_be32(p.t.buf + 216, ifmt_be32(p.t.buf + 216) | 0x10u);
    expect_open_error(&p, IMGFMT_E_UNSUPPORTED, "xfs: incompatible feature needsrepair "
                      "(xfs_repair must run first) not supported");
    patch_begin(&p, "/");
    p.t.buf[124]++;   /* agblklog */
    expect_open_error(&p, IMGFMT_E_CORRUPT, "xfs: superblock: bad AG geometry");
    patch_begin(&p, "/");
    ifmt_put_be64(p.t.buf + 56, 1ull << 40);   /* root inode */
    expect_open_error(&p, IMGFMT_E_CORRUPT, "xfs: root inode 1099511627776 out of range");
}
END_TEST

START_TEST(corrupt_inodes)
{
    struct patched p;
    imgfmt_stat st;
    patch_begin(&p, "/data/seq");
    p.t.buf[p.ino_off] = 'X';
    ck_assert_int_eq(tfs_open(&p.t), 0);
    expect_error(&p, imgfmt_fs_stat(p.t.fs, "/data/seq", 0, &st), IMGFMT_E_CORRUPT,
                 "xfs: inode 5048: bad magic 0x584e");
    tfs_close(&p.t);
    patch_begin(&p, "/data/seq");
    ifmt_put_be16(p.t.buf + p.ino_off + 2, 0);   /* mode: a free inode */
    ck_assert_int_eq(tfs_open(&p.t), 0);
    expect_error(&p, imgfmt_fs_stat(p.t.fs, "/data/seq", 0, &st), IMGFMT_E_CORRUPT,
                 "xfs: inode 5048 is free");
    tfs_close(&p.t);
    patch_begin(&p, "/data/seq");
    p.t.buf[p.ino_off + 91] |= 1;                /* realtime flag */
    ck_assert_int_eq(tfs_open(&p.t), 0);
    size_t len;
    imgfmt_file *f;
    ck_assert_int_eq(imgfmt_fs_open_file(p.t.fs, "/data/seq", &f), 0);
    char b[16];
    expect_error(&p, imgfmt_file_pread(f, b, sizeof b, 0, &len), IMGFMT_E_UNSUPPORTED,
                 "xfs: inode 5048 is a realtime file (data on the realtime device): "
                 "not supported");
    imgfmt_file_close(f);
    tfs_close(&p.t);
}
END_TEST

START_TEST(corrupt_extents)
{
    struct patched p;
    patch_begin(&p, "/data/seq");
    uint8_t *rec = p.t.buf + p.ino_off + 176;
    /* startblock: AG 0, block agblocks - 1 (the extent runs past the AG). */
    uint64_t fsb = p.g.agblocks - 1;
    uint64_t l0 = ifmt_be64(rec), l1 = ifmt_be64(rec + 8);
    l0 = (l0 & ~0x1ffull) | fsb >> 43;
    l1 = (l1 & 0x1fffffull) | fsb << 21;
    ifmt_put_be64(rec, l0);
    ifmt_put_be64(rec + 8, l1);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    imgfmt_file *f;
    size_t len;
    char b[16];
    ck_assert_int_eq(imgfmt_fs_open_file(p.t.fs, "/data/seq", &f), 0);
    expect_error(&p, imgfmt_file_pread(f, b, sizeof b, 0, &len), IMGFMT_E_CORRUPT,
                 "xfs: inode 5048 extent 0 beyond the AG (AG 0 block 4095, 27 blocks)");
    imgfmt_file_close(f);
    tfs_close(&p.t);
}
END_TEST

/* Find needle in the dir block at off (bs bytes); its offset in the image. */
static uint64_t find_in_block(struct patched *p, uint64_t off, const char *needle)
{
    size_t n = strlen(needle);
    for (uint64_t i = off; i + n <= off + p->g.bs; i++)
        if (memcmp(p->t.buf + i, needle, n) == 0)
            return i;
    ck_abort_msg("%s not found", needle);
    return 0;
}

START_TEST(corrupt_directories)
{
    struct patched p;
    int n, rc;
    /* The last entry of the block directory claims a 255-byte name. */
    patch_begin(&p, "/block");
    p.t.buf[find_in_block(&p, p.ext_off, "block-entry-59") - 1] = 255;
    ck_assert_int_eq(tfs_open(&p.t), 0);
    free(list_dir(&p.t, "/block", &n, &rc));
    expect_error(&p, rc, IMGFMT_E_CORRUPT,
                 "xfs: directory inode 131 block 0: entry at byte 2256 runs past the block");
    tfs_close(&p.t);
    /* An entry's inode number points past the last AG. */
    patch_begin(&p, "/block");
    ifmt_put_be64(p.t.buf + find_in_block(&p, p.ext_off, "block-entry-00") - 9, 1ull << 40);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    free(list_dir(&p.t, "/block", &n, &rc));
    expect_error(&p, rc, IMGFMT_E_CORRUPT, "xfs: directory inode 131: entry "
                 "'block-entry-00' has bad inode number 1099511627776");
    tfs_close(&p.t);
    /* A shortform directory counting more entries than it holds. */
    patch_begin(&p, "/small");
    p.t.buf[p.ino_off + 176] = 200;
    ck_assert_int_eq(tfs_open(&p.t), 0);
    free(list_dir(&p.t, "/small", &n, &rc));
    expect_error(&p, rc, IMGFMT_E_CORRUPT, "xfs: directory inode 65280: shortform entry "
                 "at byte 98 runs past the 98-byte directory");
    tfs_close(&p.t);
}
END_TEST

START_TEST(corrupt_bmbt)
{
    struct patched p;
    int n, rc;
    /* The B+ tree root of /btree: level 17 (deeper than any real tree). */
    patch_begin(&p, "/btree");
    ifmt_put_be16(p.t.buf + p.ino_off + 176, 17);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    free(list_dir(&p.t, "/btree", &n, &rc));
    expect_error(&p, rc, IMGFMT_E_CORRUPT,
                 "xfs: inode 1638: bad block map root (level 17, 1 records)");
    tfs_close(&p.t);
    /* Its leaf claims level 1: a block pointing at itself would need that. */
    patch_begin(&p, "/btree");
    const uint8_t *root = p.t.buf + p.ino_off + 176;
    uint64_t leaf = ifmt_be64(root + 4 + 8 * ((336 - 4) / 16));
    uint8_t *blk = p.t.buf + fsb_byte(&p.g, leaf);
    ck_assert_uint_eq(ifmt_be32(blk), 0x424d4133u);
    ifmt_put_be16(blk + 4, 1);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    free(list_dir(&p.t, "/btree", &n, &rc));
    ck_assert_int_eq(rc, IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(imgfmt_fs_last_error(p.t.fs)->msg,
                                 "level 1, expected 0"));
    tfs_close(&p.t);
}
END_TEST

/* The v5 remote symlink given the "XSLM" header mkfs 6.1 left out: the
 * target then reads from after the 56-byte header. */
START_TEST(v5_remote_symlink_with_header)
{
    struct patched p;
    patch_begin(&p, "/small/remote");
    uint8_t *b = p.t.buf + p.ext_off;
    memmove(b + 56, b, 600);
    memset(b, 0, 56);
    ifmt_put_be32(b, 0x58534c4du);
    ifmt_put_be32(b + 8, 600);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    const char *target;
    ck_assert_int_eq(imgfmt_fs_readlink(p.t.fs, "/small/remote", &target), 0);
    ck_assert_uint_eq(strlen(target), 600);
    ck_assert(strncmp(target, "/remote/rrrr", 12) == 0);
    ck_assert_int_eq(target[599], 'r');
    tfs_close(&p.t);
    /* A header that claims other bytes than the inode's size. */
    patch_begin(&p, "/small/remote");
    b = p.t.buf + p.ext_off;
    ifmt_put_be32(b, 0x58534c4du);
    ifmt_put_be32(b + 8, 599);
    ck_assert_int_eq(tfs_open(&p.t), 0);
    expect_error(&p, imgfmt_fs_readlink(p.t.fs, "/small/remote", &target), IMGFMT_E_CORRUPT,
                 "xfs: symlink inode 65287 block 0: bad header");
    tfs_close(&p.t);
}
END_TEST

START_TEST(dirty_log)
{
    struct patched p;
    patch_begin(&p, "/");
    uint64_t log = fsb_byte(&p.g, ifmt_be64(p.t.buf + 48));
    ck_assert_uint_eq(ifmt_be32(p.t.buf + log), 0xfeedbabeu);
    ifmt_put_be32(p.t.buf + log + 40, 2);   /* not a lone unmount record */
    ck_assert_int_eq(tfs_open(&p.t), 0);
    ck_assert_uint_eq(imgfmt_fs_nb_warnings(p.t.fs), 1);
    ck_assert_str_eq(imgfmt_fs_warning(p.t.fs, 0),
                     "xfs: the log is dirty (not cleanly unmounted): it is not replayed, "
                     "recent changes may be missing");
    tfs_close(&p.t);
}
END_TEST

static Suite *xfs_suite(void)
{
    Suite *s = suite_create("xfs");
    TCase *tc = tcase_create("read");
    tcase_add_unchecked_fixture(tc, load_fixtures, free_fixtures);
    tcase_add_loop_test(tc, mount_label_uuid, 0, 2);
    tcase_add_loop_test(tc, shortform_and_stat, 0, 2);
    tcase_add_loop_test(tc, contents, 0, 2);
    tcase_add_loop_test(tc, symlinks, 0, 2);
    tcase_add_loop_test(tc, directory_formats, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("corrupt");
    tcase_add_unchecked_fixture(tc, load_fixtures, free_fixtures);
    tcase_add_test(tc, corrupt_superblock);
    tcase_add_test(tc, corrupt_inodes);
    tcase_add_test(tc, corrupt_extents);
    tcase_add_test(tc, corrupt_directories);
    tcase_add_test(tc, corrupt_bmbt);
    tcase_add_test(tc, v5_remote_symlink_with_header);
    tcase_add_test(tc, dirty_log);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(xfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
