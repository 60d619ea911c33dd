/*
 * test-ext4.c -- the ext2/3/4 driver on fixtures made by mke2fs -d and
 * debugfs (tests/gen/mkext4-fixtures.sh): every entry of the source tree's
 * manifest (type, size, sha256, symlink target), stat fields, directory
 * order and types, holes and unwritten extents, files over 4 GiB, inline
 * data; then corruptions patched into those images (an extent past the
 * device, an extent-tree loop, a tree deeper than 5, a bad rec_len, an
 * unknown INCOMPAT bit, needs_recovery, an encrypted inode, a dirent inode
 * out of range, a truncated image, a free inode), each with its
 * error code.
 */
#define IMGFMT_BUILDING 1
#include <zlib.h>

#include "testutil.h"
#include "fs/fs.h"
#include "sha256.h"

#define FIXTURE_MAX (16u << 20)
#define UUID "0b1d2c3e-4f50-4617-8293-a4b5c6d7e8f9"
#define MTIME 1609556645   /* 2021-01-02 03:04:05 UTC */

static uint8_t *img;
static size_t img_len;
static struct ifmt_fs *fs;

static void load(const char *name)
{
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", name);
    gzFile f = gzopen(td_path(gz), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", td_path(gz));
    free(img);
    img = malloc(FIXTURE_MAX);
    ck_assert_ptr_nonnull(img);
    int n;
    img_len = 0;
    while ((n = gzread(f, img + img_len, (unsigned)(FIXTURE_MAX - img_len))) > 0)
        img_len += (size_t)n;
    gzclose(f);
    ck_assert_uint_gt(img_len, 4096);
}

static int try_mount(void)
{
    struct ifmt_bdev dev;
    imgfmt_error err = { 0 };
    ifmt_bdev_init_memory(&dev, img, img_len, "fixture");
    ifmt_fs_unmount(fs);
    fs = NULL;
    int r = ifmt_fs_mount(&dev, &ifmt_ext4_driver, NULL, &fs, &err);
    if (r < 0)
        ck_assert_msg(strstr(err.msg, "ext4: ") == err.msg, "message: %s", err.msg);
    return r;
}

static void mount_ok(const char *name)
{
    load(name);
    ck_assert_int_eq(try_mount(), 0);
}

static void teardown(void)
{
    ifmt_fs_unmount(fs);
    fs = NULL;
    free(img);
    img = NULL;
}

/* ---- walking through the driver ---- */

struct find {
    const char *name;
    size_t len;
    uint64_t id;
    enum imgfmt_file_type type;
};

static int find_cb(void *opaque, const char *name, size_t len, uint64_t id,
                   enum imgfmt_file_type type)
{
    struct find *f = opaque;
    if (len != f->len || memcmp(name, f->name, len))
        return 0;
    f->id = id;
    f->type = type;
    return 1;
}

/* Open path (no symlinks followed); returns the error of the failing op. */
static int open_path(const char *path, struct ifmt_node *n)
{
    memset(n, 0, sizeof *n);
    int r = fs->drv->open_node(fs, fs->root_id, n);
    while (r == 0 && *path) {
        while (*path == '/')
            path++;
        size_t len = strcspn(path, "/");
        if (!len)
            break;
        struct find f = { path, len, 0, IMGFMT_FILE_UNKNOWN };
        r = fs->drv->readdir(fs, n, find_cb, &f);
        fs->drv->close_node(fs, n);
        if (r == 0 && !f.id)
            return IMGFMT_E_NOT_FOUND;
        if (r == 0)
            r = fs->drv->open_node(fs, f.id, n);
        if (r == 0 && f.type != IMGFMT_FILE_UNKNOWN)
            ck_assert_int_eq(f.type, n->st.type);   /* dirent type = inode type */
        path += len;
    }
    return r;
}

static void open_ok(const char *path, struct ifmt_node *n)
{
    int r = open_path(path, n);
    ck_assert_msg(r == 0, "%s: %d %s", path, r, fs->err.msg);
}

static void sha256_of(struct ifmt_node *n, char hex[65])
{
    static uint8_t buf[1 << 16];
    struct sha256 s;
    sha256_init(&s);
    for (uint64_t off = 0; off < n->st.size;) {
        size_t k = n->st.size - off < sizeof buf ? (size_t)(n->st.size - off) : sizeof buf;
        int r = fs->drv->read(fs, n, buf, k, off);
        ck_assert_msg(r == 0, "read: %s", fs->err.msg);
        sha256_update(&s, buf, k);
        off += k;
    }
    sha256_final_hex(&s, hex);
}

static const char *type_word(enum imgfmt_file_type t)
{
    return t == IMGFMT_FILE_REG ? "file" : t == IMGFMT_FILE_DIR ? "dir"
         : t == IMGFMT_FILE_SYMLINK ? "symlink" : "other";
}

/* Every manifest line: PATH TYPE SIZE SHA256|TARGET|-. */
static void check_manifest(const char *name)
{
    char mpath[256], line[8192];
    snprintf(mpath, sizeof mpath, "%s.manifest", name);
    FILE *m = fopen(td_path(mpath), "r");
    ck_assert_ptr_nonnull(m);
    int count = 0;
    while (fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = '\0';
        char *f[4], *save = NULL, *p = line;
        /* The path may hold spaces: the three last fields are split off. */
        for (int i = 3; i >= 1; i--) {
            char *sp = strrchr(p, ' ');
            ck_assert_ptr_nonnull(sp);
            *sp = '\0';
            f[i] = sp + 1;
        }
        f[0] = p;
        (void)save;
        struct ifmt_node n;
        open_ok(f[0], &n);
        ck_assert_msg(!strcmp(type_word(n.st.type), f[1]), "%s: type %s, expected %s",
                      f[0], type_word(n.st.type), f[1]);
        if (n.st.type == IMGFMT_FILE_REG || n.st.type == IMGFMT_FILE_SYMLINK)
            ck_assert_uint_eq(n.st.size, strtoull(f[2], NULL, 10));
        if (n.st.type == IMGFMT_FILE_REG && n.st.size < (64u << 20)) {
            char hex[65];
            sha256_of(&n, hex);
            ck_assert_msg(!strcmp(hex, f[3]), "%s: sha256 %s, expected %s", f[0], hex, f[3]);
        } else if (n.st.type == IMGFMT_FILE_SYMLINK) {
            char *t;
            size_t tl;
            ck_assert_int_eq(fs->drv->readlink(fs, &n, &t, &tl), 0);
            ck_assert_str_eq(t, f[3]);
            ck_assert_uint_eq(tl, strlen(f[3]));
            free(t);
        }
        fs->drv->close_node(fs, &n);
        count++;
    }
    fclose(m);
    ck_assert_int_gt(count, 5);
}

/* ---- reading the fixtures ---- */

static void check_common_stat(bool extra_time)
{
    struct ifmt_node n;
    open_ok("/hello.txt", &n);
    ck_assert_uint_eq(n.st.mode, 0100644);
    ck_assert_uint_eq(n.st.nlink, 2);
    ck_assert_int_eq(n.st.mtime.sec, MTIME);
    ck_assert_uint_eq(n.st.mtime.nsec, 0);
    uint64_t ino = n.st.ino;
    fs->drv->close_node(fs, &n);
    open_ok("/hello-hard", &n);
    ck_assert_uint_eq(n.st.ino, ino);
    fs->drv->close_node(fs, &n);
    open_ok("/owned", &n);
    ck_assert_uint_eq(n.st.uid, 70000);
    ck_assert_uint_eq(n.st.gid, 80001);
    ck_assert_uint_eq(n.st.mode, 0104750);
    /* ext4 fixture: nanoseconds and epoch bits set by debugfs. */
    ck_assert_int_eq(n.st.mtime.sec, extra_time ? MTIME + (1ll << 32) : MTIME);
    ck_assert_uint_eq(n.st.mtime.nsec, extra_time ? 123456789u : 0u);
    fs->drv->close_node(fs, &n);
    open_ok("/dev/null", &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_CHR);
    ck_assert_uint_eq(n.st.rdev_major, 1);
    ck_assert_uint_eq(n.st.rdev_minor, 3);
    fs->drv->close_node(fs, &n);
    open_ok("/dev/big", &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_BLK);
    ck_assert_uint_eq(n.st.rdev_major, 300);
    ck_assert_uint_eq(n.st.rdev_minor, 70000);
    fs->drv->close_node(fs, &n);
    open_ok("/dev/fifo", &n);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_FIFO);
    fs->drv->close_node(fs, &n);
    open_ok("/", &n);
    ck_assert_uint_eq(n.st.ino, 2);
    ck_assert_int_eq(n.st.type, IMGFMT_FILE_DIR);
    fs->drv->close_node(fs, &n);
}

/* The text of tests/gen/mkext4-fixtures.sh's lines(): "PREFIX line %06d\n"
 * lines cut at n bytes, into out (n + 1 bytes). */
static void gen_lines(char *out, size_t n, const char *prefix)
{
    size_t k = 0;
    char line[64];
    for (int i = 0; k < n; i++) {
        int w = snprintf(line, sizeof line, "%s line %06d\n", prefix, i);
        size_t c = n - k < (size_t)w ? n - k : (size_t)w;
        memcpy(out + k, line, c);
        k += c;
    }
    out[n] = '\0';
}

/* The file over 4 GiB: 4,000-byte chunks at 0, 1 MiB and 5 GiB, holes
 * elsewhere. */
static void check_huge(void)
{
    char chunk[4001];
    gen_lines(chunk, 4000, "chunk");
    struct ifmt_node n;
    open_ok("/data/huge", &n);
    ck_assert_uint_eq(n.st.size, 5ull * 1024 * 1024 * 1024 + 4096);
    ck_assert(n.st.flags & IMGFMT_STAT_SPARSE);
    static const uint64_t at[3] = { 0, 1048576, 5ull << 30 };
    uint8_t buf[8192];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fs->drv->read(fs, &n, buf, 4096, at[i]), 0);
        ck_assert_int_eq(memcmp(buf, chunk, 4000), 0);
        for (int j = 4000; j < 4096; j++)
            ck_assert_uint_eq(buf[j], 0);
    }
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, sizeof buf, (4ull << 30) - 100), 0);
    for (size_t j = 0; j < sizeof buf; j++)
        ck_assert_uint_eq(buf[j], 0);
    fs->drv->close_node(fs, &n);
}

struct names {
    char buf[1024];
    size_t len;
};

static int names_cb(void *opaque, const char *name, size_t len, uint64_t id,
                    enum imgfmt_file_type type)
{
    struct names *l = opaque;
    (void)id;
    (void)type;
    ck_assert_uint_lt(l->len + len + 2, sizeof l->buf);
    memcpy(l->buf + l->len, name, len);
    l->len += len;
    l->buf[l->len++] = ' ';
    l->buf[l->len] = '\0';
    return 0;
}

static void check_root_order(const char *expect)
{
    struct ifmt_node n;
    struct names l = { "", 0 };
    open_ok("/", &n);
    ck_assert_int_eq(fs->drv->readdir(fs, &n, names_cb, &l), 0);
    ck_assert_str_eq(l.buf, expect);
    fs->drv->close_node(fs, &n);
}

START_TEST(ext2_read)
{
    mount_ok("ext2.img");
    ck_assert_str_eq(fs->label, "fx-ext2");
    ck_assert_str_eq(fs->uuid, UUID);
    ck_assert_uint_eq(fs->nb_warnings, 0);
    check_manifest("ext2");
    check_common_stat(false);
    check_huge();
    check_root_order("lost+found data dev dir empty fast-link hello-hard hello.txt "
                     "owned slow-link ");
}
END_TEST

START_TEST(ext3_read)
{
    mount_ok("ext3.img");
    ck_assert_str_eq(fs->label, "fx-ext3");
    check_manifest("ext2");
    check_common_stat(false);
    check_huge();
}
END_TEST

START_TEST(ext4_read)
{
    mount_ok("ext4.img");
    ck_assert_str_eq(fs->label, "fx-ext4");
    ck_assert_str_eq(fs->uuid, UUID);
    check_manifest("ext4");
    check_common_stat(true);
    check_root_order("lost+found data dev dir empty fast-link frag hello-hard hello.txt "
                     "owned prealloc slow-link ");
    check_huge();
    /* Unwritten extents read as zeros. */
    struct ifmt_node n;
    uint8_t buf[16384];
    open_ok("/prealloc", &n);
    memset(buf, 0xAA, sizeof buf);
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, sizeof buf, 0), 0);
    for (size_t i = 0; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0);
    fs->drv->close_node(fs, &n);
    /* The fragmented file, read across its holes in odd pieces. */
    static char frag[40961];
    gen_lines(frag, 40960, "frag");
    for (int b = 1; b < 40; b += 2)
        memset(frag + b * 1024, 0, 1024);    /* the punched blocks */
    open_ok("/frag", &n);
    for (uint64_t off = 1000; off < 40960; off += 3001) {
        size_t k = 40960 - off < 3001 ? (size_t)(40960 - off) : 3001;
        ck_assert_int_eq(fs->drv->read(fs, &n, buf, k, off), 0);
        ck_assert_int_eq(memcmp(buf, frag + off, k), 0);
    }
    fs->drv->close_node(fs, &n);
}
END_TEST

START_TEST(ext4_inline)
{
    mount_ok("ext4-inline.img");
    check_manifest("ext4-inline");
    struct ifmt_node n;
    open_ok("/small-dir", &n);
    struct names l = { "", 0 };
    ck_assert_int_eq(fs->drv->readdir(fs, &n, names_cb, &l), 0);
    ck_assert_str_eq(l.buf, "a b ");
    fs->drv->close_node(fs, &n);
    open_ok("/spill", &n);
    uint8_t buf[20];
    char spill[76];
    gen_lines(spill, 75, "s");
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, 20, 55), 0);   /* across i_block's end */
    ck_assert_int_eq(memcmp(buf, spill + 55, 20), 0);
    fs->drv->close_node(fs, &n);
}
END_TEST

/* The driver's lookup: a small directory scanned, a big one (lost+found,
 * 12 blocks) through the name index; both agree with readdir. */
static uint64_t ino_of(const char *path);

START_TEST(lookup)
{
    mount_ok("ext4.img");
    struct ifmt_node root, lf;
    open_ok("/", &root);
    uint64_t id;
    enum imgfmt_file_type t;
    ck_assert_int_eq(fs->drv->lookup(fs, &root, "hello.txt", 9, &id, &t), 0);
    ck_assert_uint_eq(id, ino_of("/hello.txt"));
    ck_assert_int_eq(t, IMGFMT_FILE_REG);
    ck_assert_int_eq(fs->drv->lookup(fs, &root, "hello.tx", 8, &id, &t), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(fs->drv->lookup(fs, &root, "dir", 3, &id, &t), 0);
    ck_assert_int_eq(t, IMGFMT_FILE_DIR);
    open_ok("/lost+found", &lf);
    ck_assert_uint_ge(lf.st.size, 4096);
    for (int i = 0; i < 2; i++)   /* built, then cached */
        ck_assert_int_eq(fs->drv->lookup(fs, &lf, "x", 1, &id, &t), IMGFMT_E_NOT_FOUND);
    fs->drv->close_node(fs, &lf);
    fs->drv->close_node(fs, &root);
}
END_TEST

/* Mount through the signature probe on an image handle. */
START_TEST(probe_mount)
{
    load("ext4.img");
    imgfmt_image *im = open_mem_ok(img, img_len);
    struct ifmt_bdev dev;
    imgfmt_error err = { 0 };
    ifmt_bdev_init_image(&dev, im, 0, imgfmt_virtual_size(im), "disk");
    ck_assert_int_eq(ifmt_fs_mount(&dev, NULL, NULL, &fs, &err), 0);
    ck_assert_str_eq(fs->drv->name, "ext4");
    ifmt_fs_unmount(fs);
    fs = NULL;
    imgfmt_close(im);
}
END_TEST

/* ---- corruptions ---- */

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static uint8_t *sb(void) { return img + 1024; }
static uint32_t bsize(void) { return 1024u << le32(sb() + 0x18); }

/* Byte offset of inode ino (group 0 only), parsed independently. */
static uint8_t *inode_at(uint64_t ino)
{
    ck_assert_uint_le(ino, le32(sb() + 0x28));
    uint32_t ds = (le32(sb() + 0x60) & 0x80) ? le16(sb() + 0xFE) : 32;
    const uint8_t *gd = img + (size_t)(bsize() == 1024 ? 2 : 1) * bsize();
    uint64_t table = le32(gd + 8) | (ds >= 64 ? (uint64_t)le32(gd + 0x28) << 32 : 0);
    return img + table * bsize() + (ino - 1) * le16(sb() + 0x58);
}

static uint64_t ino_of(const char *path)
{
    struct ifmt_node n;
    open_ok(path, &n);
    uint64_t ino = n.st.ino;
    fs->drv->close_node(fs, &n);
    return ino;
}

/* Open path and read its first byte: the code of the first failure. */
static int read_first(const char *path)
{
    struct ifmt_node n;
    int r = open_path(path, &n);
    if (r < 0)
        return r;
    uint8_t b;
    r = fs->drv->read(fs, &n, &b, 1, 0);
    fs->drv->close_node(fs, &n);
    return r;
}

START_TEST(bad_incompat)
{
    load("ext4.img");
    put32(sb() + 0x60, le32(sb() + 0x60) | 0x100000);
    ck_assert_int_eq(try_mount(), IMGFMT_E_UNSUPPORTED);
    load("ext4.img");
    put32(sb() + 0x60, le32(sb() + 0x60) | 0x1000);     /* dirdata */
    ck_assert_int_eq(try_mount(), IMGFMT_E_UNSUPPORTED);
    load("ext4.img");
    put16(sb() + 0x38, 0x1234);
    ck_assert_int_eq(try_mount(), IMGFMT_E_UNKNOWN_FORMAT);
    load("ext4.img");
    put32(sb() + 0x18, 9);                              /* 512 KiB blocks */
    ck_assert_int_eq(try_mount(), IMGFMT_E_CORRUPT);
}
END_TEST

START_TEST(needs_recovery)
{
    load("ext4.img");
    put32(sb() + 0x60, le32(sb() + 0x60) | 0x4);
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_uint_eq(fs->nb_warnings, 1);
    ck_assert_ptr_nonnull(strstr(fs->warnings[0], "needs_recovery"));
    ck_assert_int_eq(read_first("/hello.txt"), 0);
}
END_TEST

START_TEST(extent_beyond_device)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/data/lines20k"));
    ck_assert_uint_eq(le16(in + 0x28), 0xF30A);
    ck_assert_uint_eq(le16(in + 0x28 + 6), 0);          /* a leaf in the inode */
    put32(in + 0x28 + 12 + 8, 0x00FFFFF0);              /* extent 0 start */
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_int_eq(read_first("/data/lines20k"), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "beyond the file system"));
}
END_TEST

START_TEST(extent_loop)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/frag"));
    ck_assert_uint_eq(le16(in + 0x28 + 6), 1);          /* depth 1: an index root */
    uint32_t leaf = le32(in + 0x28 + 12 + 4);
    uint8_t *node = img + (size_t)leaf * bsize();
    ck_assert_uint_eq(le16(node), 0xF30A);
    /* The root claims depth 2; the leaf becomes an index pointing at itself. */
    put16(in + 0x28 + 6, 2);
    put16(node + 6, 1);
    put32(node + 12 + 4, leaf);
    put16(node + 12 + 8, 0);
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_int_eq(read_first("/frag"), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "loop"));
}
END_TEST

START_TEST(extent_too_deep)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/hello.txt"));
    put16(in + 0x28 + 6, 6);
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_int_eq(read_first("/hello.txt"), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "deeper than 5"));
}
END_TEST

START_TEST(bad_rec_len)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/dir"));
    ck_assert_uint_eq(le16(in + 0x28 + 6), 0);
    uint32_t blk = le32(in + 0x28 + 12 + 8);
    uint8_t *de = img + (size_t)blk * bsize();
    ck_assert_uint_eq(le16(de + 4), 12);                 /* "." */
    put16(de + 4, (uint16_t)(bsize() + 4));
    ck_assert_int_eq(try_mount(), 0);
    struct ifmt_node n;
    ck_assert_int_eq(open_path("/dir/sub", &n), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "record length"));
    /* A name running past its record. */
    mount_ok("ext4.img");
    de = img + (size_t)blk * bsize();
    de[6] = 200;
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_int_eq(open_path("/dir/sub", &n), IMGFMT_E_CORRUPT);
}
END_TEST

START_TEST(dirent_inode_range)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/dir"));
    uint8_t *de = img + (size_t)le32(in + 0x28 + 12 + 8) * bsize();
    ck_assert_uint_eq(le16(de + 12 + 4), 12);            /* ".." then the third entry */
    put32(de + 24, 0x00FFFFFF);
    ck_assert_int_eq(try_mount(), 0);
    struct ifmt_node n;
    ck_assert_int_eq(open_path("/dir/sub", &n), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "out of range"));
}
END_TEST

/* The image cut inside /data/lines300k (blocks 1363-1655 of 4096): a
 * warning at mount, the part before the cut reads, the rest is CORRUPT. */
START_TEST(truncated)
{
    load("ext4.img");
    img_len = 1400 * 1024;
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_uint_eq(fs->nb_warnings, 1);
    ck_assert_ptr_nonnull(strstr(fs->warnings[0], "truncated"));
    struct ifmt_node n;
    open_ok("/data/lines300k", &n);
    uint8_t buf[4096];
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, sizeof buf, 0), 0);
    ck_assert_int_eq(fs->drv->read(fs, &n, buf, sizeof buf, 100 * 1024), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "beyond the end"));
    fs->drv->close_node(fs, &n);
}
END_TEST

START_TEST(encrypted_inode)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/owned"));
    put32(in + 0x20, le32(in + 0x20) | 0x800);
    ck_assert_int_eq(try_mount(), 0);
    struct ifmt_node n;
    open_ok("/owned", &n);
    ck_assert(n.st.flags & IMGFMT_STAT_ENCRYPTED);
    fs->drv->close_node(fs, &n);
    ck_assert_int_eq(read_first("/owned"), IMGFMT_E_UNSUPPORTED);
}
END_TEST

START_TEST(free_inode)
{
    mount_ok("ext4.img");
    uint8_t *in = inode_at(ino_of("/empty"));
    put16(in + 0x1A, 0);                                 /* no links */
    ck_assert_int_eq(try_mount(), 0);
    ck_assert_int_eq(read_first("/empty"), IMGFMT_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(fs->err.msg, "free"));
}
END_TEST

static Suite *ext4_suite(void)
{
    Suite *s = suite_create("ext4");
    TCase *t = tcase_create("read");
    tcase_add_checked_fixture(t, NULL, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, ext2_read);
    tcase_add_test(t, ext3_read);
    tcase_add_test(t, ext4_read);
    tcase_add_test(t, ext4_inline);
    tcase_add_test(t, probe_mount);
    tcase_add_test(t, lookup);
    suite_add_tcase(s, t);
    t = tcase_create("corrupt");
    tcase_add_checked_fixture(t, NULL, teardown);
    tcase_add_test(t, bad_incompat);
    tcase_add_test(t, needs_recovery);
    tcase_add_test(t, extent_beyond_device);
    tcase_add_test(t, extent_loop);
    tcase_add_test(t, extent_too_deep);
    tcase_add_test(t, bad_rec_len);
    tcase_add_test(t, dirent_inode_range);
    tcase_add_test(t, truncated);
    tcase_add_test(t, encrypted_inode);
    tcase_add_test(t, free_inode);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ext4_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
