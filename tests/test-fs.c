/*
 * test-fs.c -- the file-system core: the path walk (".", "..", symlinks
 * relative and absolute, the hop limit, loops), mount points, directory
 * iteration and file reads, over a small in-memory tree served by a test
 * driver through the driver contract (fs/fs.h).  The drivers themselves
 * are judged against the native tools in their own suites.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define IMGFMT_BUILDING 1
#include "fs/fs-handle.h"
#include "fs/fstab.h"
#include "testutil.h"

/* The tree: id -> (name, parent, type, content or target). */
struct tnode {
    uint64_t id, parent;
    const char *name;
    enum imgfmt_file_type type;
    const char *data;
};

static const struct tnode tree_a[] = {
    { 1, 1, "", IMGFMT_FILE_DIR, NULL },
    { 2, 1, "etc", IMGFMT_FILE_DIR, NULL },
    { 3, 2, "fstab", IMGFMT_FILE_REG, "UUID=b /boot ext4 defaults 0 2\n" },
    { 4, 1, "boot", IMGFMT_FILE_DIR, NULL },
    { 5, 1, "rel", IMGFMT_FILE_SYMLINK, "etc/fstab" },
    { 6, 2, "abs", IMGFMT_FILE_SYMLINK, "/etc/fstab" },
    { 7, 2, "up", IMGFMT_FILE_SYMLINK, "../../../../etc" },
    { 8, 1, "loop1", IMGFMT_FILE_SYMLINK, "loop2" },
    { 9, 1, "loop2", IMGFMT_FILE_SYMLINK, "/loop1" },
    { 10, 1, "dangling", IMGFMT_FILE_SYMLINK, "nowhere" },
    { 11, 1, "self", IMGFMT_FILE_SYMLINK, "." },
    { 0, 0, NULL, 0, NULL },
};

static const struct tnode tree_b[] = {
    { 1, 1, "", IMGFMT_FILE_DIR, NULL },
    { 2, 1, "vmlinuz", IMGFMT_FILE_REG, "kernel" },
    { 3, 1, "toroot", IMGFMT_FILE_SYMLINK, "/etc/fstab" },
    { 0, 0, NULL, 0, NULL },
};

static const struct tnode *find_node(struct ifmt_fs *fs, uint64_t id)
{
    for (const struct tnode *n = fs->priv; n->name; n++)
        if (n->id == id)
            return n;
    return NULL;
}

static int t_mount(struct ifmt_fs *fs)
{
    fs->priv = (void *)fs->dev.ctx;
    fs->root_id = 1;
    return 0;
}

static int t_open(struct ifmt_fs *fs, uint64_t id, struct ifmt_node *node)
{
    const struct tnode *n = find_node(fs, id);
    if (!n)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "test: no node %llu",
                             (unsigned long long)id);
    node->st.ino = id;
    node->st.type = n->type;
    node->st.size = n->data ? strlen(n->data) : 0;
    node->priv = (void *)n;
    return 0;
}

static int t_readdir(struct ifmt_fs *fs, struct ifmt_node *dir, ifmt_dirent_fn *fn, void *o)
{
    for (const struct tnode *n = fs->priv; n->name; n++)
        if (n->parent == dir->id && n->id != dir->id) {
            int r = fn(o, n->name, strlen(n->name), n->id, n->type);
            if (r)
                return r < 0 ? r : 0;
        }
    return 0;
}

static int t_read(struct ifmt_fs *fs, struct ifmt_node *node, void *buf, size_t len,
                  uint64_t off)
{
    (void)fs;
    const struct tnode *n = node->priv;
    memcpy(buf, n->data + off, len);
    return 0;
}

static int t_readlink(struct ifmt_fs *fs, struct ifmt_node *node, char **out, size_t *len)
{
    (void)fs;
    const struct tnode *n = node->priv;
    *out = strdup(n->data);
    *len = strlen(n->data);
    return *out ? 0 : IMGFMT_E_NOMEM;
}

static bool t_handles(enum imgfmt_fs_type t) { (void)t; return false; }

static const struct ifmt_fs_driver test_driver = {
    .name = "testfs", .handles = t_handles, .mount = t_mount,
    .open_node = t_open, .readdir = t_readdir, .read = t_read, .readlink = t_readlink,
};

static struct ifmt_fs *mount_tree(const struct tnode *tree)
{
    struct ifmt_bdev dev;
    struct ifmt_fs *fs;
    static const uint8_t byte;
    ifmt_bdev_init_memory(&dev, &byte, 1, "tree");
    dev.ctx = tree;
    ck_assert_int_eq(ifmt_fs_mount(&dev, &test_driver, NULL, &fs, NULL), 0);
    return fs;
}

static imgfmt_filesystem *open_view(int with_boot)
{
    imgfmt_filesystem *h;
    ck_assert_int_eq(ifmt_fsh_new(&h, NULL), 0);
    ck_assert_int_eq(ifmt_fsh_add_mount(h, mount_tree(tree_a), "/", "a"), 0);
    if (with_boot)
        ck_assert_int_eq(ifmt_fsh_add_mount(h, mount_tree(tree_b), "/boot", "b"), 0);
    return h;
}

static uint64_t ino_of(imgfmt_filesystem *h, const char *path, unsigned flags)
{
    imgfmt_stat st;
    int r = imgfmt_fs_stat(h, path, flags, &st);
    ck_assert_msg(r == 0, "%s: %s", path, imgfmt_fs_last_error(h)->msg);
    return st.ino * 100 + st.dev;
}

START_TEST(walk_dots_and_links)
{
    imgfmt_filesystem *h = open_view(0);
    ck_assert_uint_eq(ino_of(h, "/", 0), 100);
    ck_assert_uint_eq(ino_of(h, "/etc/fstab", 0), 300);
    ck_assert_uint_eq(ino_of(h, "//etc/./fstab/", 0), 300);
    ck_assert_uint_eq(ino_of(h, "/../../etc/../etc/fstab", 0), 300);
    ck_assert_uint_eq(ino_of(h, "/rel", 0), 300);
    ck_assert_uint_eq(ino_of(h, "/rel", IMGFMT_NOFOLLOW), 500);
    ck_assert_uint_eq(ino_of(h, "/etc/abs", 0), 300);
    ck_assert_uint_eq(ino_of(h, "/etc/up/fstab", 0), 300);   /* ".." past the root stays */
    ck_assert_uint_eq(ino_of(h, "/self/self/etc", 0), 200);
    ck_assert_uint_eq(ino_of(h, "etc/fstab", 0), 300);       /* relative = from the root */
    imgfmt_fs_close(h);
}
END_TEST

START_TEST(walk_errors)
{
    imgfmt_filesystem *h = open_view(0);
    imgfmt_stat st;
    ck_assert_int_eq(imgfmt_fs_stat(h, "/nope", 0, &st), IMGFMT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(imgfmt_fs_last_error(h)->msg, "/nope"));
    ck_assert_int_eq(imgfmt_fs_stat(h, "/etc/fstab/x", 0, &st), IMGFMT_E_NOT_DIR);
    ck_assert_int_eq(imgfmt_fs_stat(h, "/loop1", 0, &st), IMGFMT_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(imgfmt_fs_last_error(h)->msg, "symbolic links"));
    ck_assert_int_eq(imgfmt_fs_stat(h, "/loop1", IMGFMT_NOFOLLOW, &st), 0);
    ck_assert_int_eq(imgfmt_fs_stat(h, "/loop1/x", IMGFMT_NOFOLLOW, &st), IMGFMT_E_LIMIT);
    ck_assert_int_eq(imgfmt_fs_stat(h, "/dangling", 0, &st), IMGFMT_E_NOT_FOUND);
    ck_assert_int_eq(imgfmt_fs_stat(h, "/dangling", IMGFMT_NOFOLLOW, &st), 0);
    const char *t;
    ck_assert_int_eq(imgfmt_fs_readlink(h, "/dangling", &t), 0);
    ck_assert_str_eq(t, "nowhere");
    ck_assert_int_eq(imgfmt_fs_readlink(h, "/etc", &t), IMGFMT_E_INVAL);
    imgfmt_file *f;
    ck_assert_int_eq(imgfmt_fs_open_file(h, "/etc", &f), IMGFMT_E_INVAL);
    ck_assert_int_eq(imgfmt_fs_stat(h, NULL, 0, &st), IMGFMT_E_INVAL);
    imgfmt_fs_close(h);
}
END_TEST

START_TEST(walk_mounts)
{
    imgfmt_filesystem *h = open_view(1);
    ck_assert_uint_eq(ino_of(h, "/boot", 0), 101);           /* the mounted root */
    ck_assert_uint_eq(ino_of(h, "/boot/vmlinuz", 0), 201);
    ck_assert_uint_eq(ino_of(h, "/boot/../etc", 0), 200);    /* back across the mount */
    ck_assert_uint_eq(ino_of(h, "/boot/toroot", 0), 300);    /* absolute = guest root */
    imgfmt_dir *d;
    imgfmt_dirent e;
    ck_assert_int_eq(imgfmt_fs_opendir(h, "/boot", &d), 0);
    int n = 0;
    while (imgfmt_fs_readdir(d, &e) > 0)
        n++;
    ck_assert_int_eq(n, 2);
    imgfmt_fs_closedir(d);
    imgfmt_file *f;
    char buf[16];
    size_t got;
    ck_assert_int_eq(imgfmt_fs_open_file(h, "/boot/vmlinuz", &f), 0);
    ck_assert_int_eq(imgfmt_file_pread(f, buf, sizeof buf, 2, &got), 0);
    ck_assert_uint_eq(got, 4);
    ck_assert_int_eq(memcmp(buf, "rnel", 4), 0);
    ck_assert_int_eq(imgfmt_file_pread(f, buf, sizeof buf, 6, &got), 0);
    ck_assert_uint_eq(got, 0);
    imgfmt_file_close(f);
    imgfmt_fs_close(h);
}
END_TEST

struct collected {
    char spec[8][64], file[8][64], opts[8][64];
    unsigned line[8];
    int n;
};

static int collect(void *o, const struct ifmt_fstab_entry *e)
{
    struct collected *c = o;
    if (c->n == 8)
        return 1;
    snprintf(c->spec[c->n], 64, "%s", e->spec);
    snprintf(c->file[c->n], 64, "%s", e->file);
    snprintf(c->opts[c->n], 64, "%s", e->mntops);
    c->line[c->n++] = e->line;
    return 0;
}

START_TEST(fstab_parse)
{
    static const char text[] =
        "# comment\n\n"
        "UUID=\"1234\"  /  ext4  errors=remount-ro 0 1\n"
        "   LABEL=My\\040Disk\t/mnt/my\\040disk xfs defaults\r\n"
        "/dev/sda3 none swap sw 0 0\n"
        "lonely\n"
        "/dev/vg/lv /home btrfs subvol=@home,compress=zstd";
    struct collected c = { 0 };
    ck_assert_int_eq(ifmt_fstab_parse(text, sizeof text - 1, collect, &c), 0);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.spec[0], "UUID=\"1234\"");
    ck_assert_uint_eq(c.line[0], 3);
    ck_assert_str_eq(c.spec[1], "LABEL=My Disk");
    ck_assert_str_eq(c.file[1], "/mnt/my disk");
    ck_assert_str_eq(c.opts[1], "defaults");
    ck_assert_str_eq(c.file[3], "/home");
    char v[32];
    ck_assert(ifmt_mntopt(c.opts[3], "subvol", v, sizeof v));
    ck_assert_str_eq(v, "@home");
    ck_assert(ifmt_mntopt(c.opts[3], "compress", v, sizeof v));
    ck_assert_str_eq(v, "zstd");
    ck_assert(!ifmt_mntopt(c.opts[3], "subvolid", v, sizeof v));
    ck_assert(!ifmt_mntopt(c.opts[3], "sub", v, sizeof v));
}
END_TEST

START_TEST(crc32c_and_utf16)
{
    /* The CRC-32C check value of "123456789" (RFC 3720 test vectors). */
    ck_assert_uint_eq(ifmt_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(ifmt_crc32c(ifmt_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    static const uint8_t u16[] = { 'a', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8 };
    char out[16];
    ck_assert_int_eq(ifmt_utf16le_to_utf8(u16, 5, out, sizeof out), 10);
    ck_assert_str_eq(out, "a\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
    ck_assert_int_eq(ifmt_utf16le_to_utf8(u16, 5, out, 5), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fs");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, walk_dots_and_links);
    tcase_add_test(tc, walk_errors);
    tcase_add_test(tc, walk_mounts);
    tcase_add_test(tc, fstab_parse);
    tcase_add_test(tc, crc32c_and_utf16);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
