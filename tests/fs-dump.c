/*
 * fs-dump -- test helper: walk a bare file system image (or one at a byte
 * offset) through a driver's ops, depth first in directory order, and
 * print what `imgfmt-ls -R --checksum=sha256 --output=json --fs=0` prints:
 * a JSON array of {path, type, mode, uid, gid, size, mtime, ino, nlink,
 * target | sha256}.  The cross-checks compare it with the native tools.
 *   fs-dump [--info] [--offset N] IMAGE
 * --info prints label, UUID and warnings instead, one per line.
 */
#define IMGFMT_BUILDING 1
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "sha256.h"

#define MAX_DEPTH 256

struct entry {
    char *name;
    uint64_t id;
};

struct listing {
    struct entry *e;
    size_t n, cap;
};

static struct ifmt_fs *fs;
static int first = 1;
static int failures;

static int collect(void *opaque, const char *name, size_t len, uint64_t id,
                   enum imgfmt_file_type type)
{
    struct listing *l = opaque;
    (void)type;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        if (!l->e)
            abort();
    }
    l->e[l->n].name = strndup(name, len);
    l->e[l->n].id = id;
    l->n++;
    return 0;
}

static const char *type_name(enum imgfmt_file_type t)
{
    static const char *const names[] = { "unknown", "file", "dir", "symlink",
                                         "chardev", "blockdev", "fifo", "socket" };
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_error(const char *path)
{
    fprintf(stderr, "fs-dump: %s: %s\n", path, fs->err.msg);
    failures++;
}

static void file_sha256(struct ifmt_node *n, char hex[65], const char *path)
{
    static uint8_t buf[1 << 20];
    struct sha256 s;
    sha256_init(&s);
    for (uint64_t off = 0; off < n->st.size;) {
        size_t len = n->st.size - off < sizeof buf ? (size_t)(n->st.size - off) : sizeof buf;
        if (fs->drv->read(fs, n, buf, len, off) < 0) {
            print_error(path);
            strcpy(hex, "error");
            return;
        }
        sha256_update(&s, buf, len);
        off += len;
    }
    sha256_final_hex(&s, hex);
}

static void print_node(struct ifmt_node *n, const char *path)
{
    printf("%s\n {\"path\": ", first ? "[" : ",");
    first = 0;
    json_str(path);
    printf(", \"type\": \"%s\", \"mode\": %u, \"uid\": %u, \"gid\": %u, \"size\": %" PRIu64
           ", \"mtime\": %" PRId64 ", \"ino\": %" PRIu64 ", \"nlink\": %" PRIu64,
           type_name(n->st.type), n->st.mode & 07777, n->st.uid, n->st.gid,
           n->st.size, n->st.mtime.sec, n->st.ino, n->st.nlink);
    if (n->st.type == IMGFMT_FILE_SYMLINK) {
        char *t = NULL;
        size_t tl;
        if (fs->drv->readlink(fs, n, &t, &tl) < 0) {
            print_error(path);
        } else {
            printf(", \"target\": ");
            json_str(t);
            free(t);
        }
    } else if (n->st.type == IMGFMT_FILE_REG) {
        char hex[65];
        file_sha256(n, hex, path);
        printf(", \"sha256\": \"%s\"", hex);
    }
    putchar('}');
}

static void walk(struct ifmt_node *dir, const char *path, int depth)
{
    struct listing l = { 0 };
    if (fs->drv->readdir(fs, dir, collect, &l) < 0)
        print_error(path);
    for (size_t i = 0; i < l.n; i++) {
        size_t plen = strlen(path) + strlen(l.e[i].name) + 2;
        char *child = malloc(plen);
        snprintf(child, plen, "%s/%s", strcmp(path, "/") ? path : "", l.e[i].name);
        struct ifmt_node n;
        memset(&n, 0, sizeof n);
        if (fs->drv->open_node(fs, l.e[i].id, &n) < 0) {
            print_error(child);
        } else {
            print_node(&n, child);
            if (n.st.type == IMGFMT_FILE_DIR && depth < MAX_DEPTH)
                walk(&n, child, depth + 1);
            fs->drv->close_node(fs, &n);
        }
        free(child);
        free(l.e[i].name);
    }
    free(l.e);
}

int main(int argc, char **argv)
{
    int info = 0, i = 1;
    uint64_t offset = 0;
    for (; i < argc - 1; i++) {
        if (!strcmp(argv[i], "--info"))
            info = 1;
        else if (!strcmp(argv[i], "--offset") && i + 2 < argc)
            offset = strtoull(argv[++i], NULL, 0);
        else
            break;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: fs-dump [--info] [--offset N] IMAGE\n");
        return 2;
    }
    imgfmt_image *img;
    imgfmt_error err = { 0 };
    if (imgfmt_open(argv[i], NULL, &img, &err) < 0) {
        fprintf(stderr, "fs-dump: %s\n", err.msg);
        return 1;
    }
    struct ifmt_bdev dev;
    ifmt_bdev_init_image(&dev, img, offset, imgfmt_virtual_size(img) - offset, "image");
    if (ifmt_fs_mount(&dev, NULL, NULL, &fs, &err) < 0) {
        fprintf(stderr, "fs-dump: %s\n", err.msg);
        imgfmt_close(img);
        return 1;
    }
    if (info) {
        printf("label=%s\nuuid=%s\n", fs->label, fs->uuid);
        for (uint32_t w = 0; w < fs->nb_warnings; w++)
            printf("warning=%s\n", fs->warnings[w]);
    } else {
        struct ifmt_node root;
        memset(&root, 0, sizeof root);
        if (fs->drv->open_node(fs, fs->root_id, &root) < 0) {
            print_error("/");
        } else {
            walk(&root, "/", 0);
            fs->drv->close_node(fs, &root);
        }
        printf("%s\n", first ? "[]" : "\n]");
    }
    ifmt_fs_unmount(fs);
    imgfmt_close(img);
    return failures ? 1 : 0;
}
