/*
 * fs-walk -- test helper: mount a bare file-system image through the
 * driver ops (fs/fs.h) and print every node below the root, depth first in
 * directory order, one line each:
 *     PATH <TAB> TYPE <TAB> SIZE <TAB> NLINK <TAB> SHA256-or-TARGET
 * (SHA-256 for regular files, the target for symlinks, "-" otherwise), or
 * with -c PATH write one file's bytes to stdout (the path is resolved with
 * the driver's lookup when it has one, so that is exercised too).
 *   fs-walk IMAGE            fs-walk -c /dir/file IMAGE
 * Warnings go to stderr as "warning: ...".  Exit 1 on any error.
 */
#define IMGFMT_BUILDING 1
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "sha256.h"

/* ---- the walk ---- */
static struct ifmt_fs *fs;
static int failed;
static unsigned nodes;

static const char *type_name(enum imgfmt_file_type t)
{
    static const char *const names[] = { "unknown", "file", "dir", "symlink", "chardev",
                                         "blockdev", "fifo", "socket" };
    return (unsigned)t < 8 ? names[t] : "unknown";
}

static void fail(const char *path)
{
    fprintf(stderr, "fs-walk: %s: %s\n", path, fs->err.msg);
    failed = 1;
}

static void print_node(const char *path, struct ifmt_node *n)
{
    char extra[8192] = "-";
    if (n->st.type == IMGFMT_FILE_REG) {
        static uint8_t buf[1 << 20];
        struct sha256 s;
        sha256_init(&s);
        for (uint64_t off = 0; off < n->st.size;) {
            size_t k = n->st.size - off < sizeof buf ? (size_t)(n->st.size - off) : sizeof buf;
            if (fs->drv->read(fs, n, buf, k, off) < 0) {
                fail(path);
                snprintf(extra, sizeof extra, "error");
                goto out;
            }
            sha256_update(&s, buf, k);
            off += k;
        }
        sha256_final_hex(&s, extra);
    } else if (n->st.type == IMGFMT_FILE_SYMLINK) {
        char *t;
        size_t tl;
        if (fs->drv->readlink(fs, n, &t, &tl) < 0) {
            fail(path);
        } else {
            snprintf(extra, sizeof extra, "%s", t);
            free(t);
        }
    }
out:
    printf("%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%s\n", path, type_name(n->st.type),
           n->st.type == IMGFMT_FILE_DIR ? 0 : n->st.size, n->st.nlink, extra);
}

static void walk(const char *path, uint64_t id, unsigned depth);

struct walk_ctx {
    const char *path;
    unsigned depth;
    char (*names)[1024];
    uint64_t *ids;
    size_t n, cap;
};

static int collect(void *opaque, const char *name, size_t len, uint64_t id,
                   enum imgfmt_file_type type)
{
    struct walk_ctx *c = opaque;
    (void)type;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->names = realloc(c->names, c->cap * sizeof *c->names);
        c->ids = realloc(c->ids, c->cap * sizeof *c->ids);
        if (!c->names || !c->ids)
            abort();
    }
    snprintf(c->names[c->n], sizeof c->names[c->n], "%.*s", (int)len, name);
    c->ids[c->n++] = id;
    return 0;
}

static void walk(const char *path, uint64_t id, unsigned depth)
{
    struct ifmt_node node;
    memset(&node, 0, sizeof node);
    if (++nodes > 1000000 || depth > 64) {
        fprintf(stderr, "fs-walk: %s: walk too large\n", path);
        failed = 1;
        return;
    }
    if (fs->drv->open_node(fs, id, &node) < 0) {
        fail(path);
        return;
    }
    if (depth > 0)
        print_node(path, &node);
    if (node.st.type == IMGFMT_FILE_DIR) {
        struct walk_ctx c = { path, depth, NULL, NULL, 0, 0 };
        if (fs->drv->readdir(fs, &node, collect, &c) < 0)
            fail(path);
        if (fs->drv->close_node)
            fs->drv->close_node(fs, &node);
        for (size_t i = 0; i < c.n; i++) {
            char sub[8192];
            snprintf(sub, sizeof sub, "%s/%s", depth ? path : "", c.names[i]);
            walk(sub, c.ids[i], depth + 1);
        }
        free(c.names);
        free(c.ids);
        return;
    }
    if (fs->drv->close_node)
        fs->drv->close_node(fs, &node);
}

/* Resolve path component by component with lookup (or a readdir scan). */
static int resolve(const char *path, uint64_t *id)
{
    *id = fs->root_id;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (!len)
            break;
        struct ifmt_node dir;
        memset(&dir, 0, sizeof dir);
        if (fs->drv->open_node(fs, *id, &dir) < 0)
            return -1;
        enum imgfmt_file_type t;
        int r = fs->drv->lookup(fs, &dir, p, len, id, &t);
        if (fs->drv->close_node)
            fs->drv->close_node(fs, &dir);
        if (r < 0) {
            fprintf(stderr, "fs-walk: %.*s: not found (%d)\n", (int)len, p, r);
            return -1;
        }
        p += len;
    }
    return 0;
}

static int cat(const char *path)
{
    uint64_t id;
    struct ifmt_node n;
    memset(&n, 0, sizeof n);
    if (resolve(path, &id) < 0 || fs->drv->open_node(fs, id, &n) < 0) {
        fail(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    for (uint64_t off = 0; off < n.st.size && n.st.type == IMGFMT_FILE_REG;) {
        size_t k = n.st.size - off < sizeof buf ? (size_t)(n.st.size - off) : sizeof buf;
        if (fs->drv->read(fs, &n, buf, k, off) < 0) {
            fail(path);
            break;
        }
        fwrite(buf, 1, k, stdout);
        off += k;
    }
    if (fs->drv->close_node)
        fs->drv->close_node(fs, &n);
    return failed;
}

int main(int argc, char **argv)
{
    const char *cat_path = NULL;
    int a = 1;
    if (argc > 2 && strcmp(argv[1], "-c") == 0) {
        cat_path = argv[2];
        a = 3;
    }
    if (a != argc - 1) {
        fprintf(stderr, "usage: fs-walk [-c PATH] IMAGE\n");
        return 2;
    }
    imgfmt_image *img;
    imgfmt_error err = { 0 };
    if (imgfmt_open(argv[a], NULL, &img, &err) < 0) {
        fprintf(stderr, "fs-walk: %s\n", err.msg);
        return 1;
    }
    struct ifmt_bdev dev;
    ifmt_bdev_init_image(&dev, img, 0, imgfmt_virtual_size(img), "disk");
    if (ifmt_fs_mount(&dev, NULL, NULL, &fs, &err) < 0) {
        fprintf(stderr, "fs-walk: %s\n", err.msg);
        imgfmt_close(img);
        return 1;
    }
    for (uint32_t i = 0; i < fs->nb_warnings; i++)
        fprintf(stderr, "warning: %s\n", fs->warnings[i]);
    if (cat_path)
        cat(cat_path);
    else
        walk("/", fs->root_id, 0);
    ifmt_fs_unmount(fs);
    imgfmt_close(img);
    return failed;
}
