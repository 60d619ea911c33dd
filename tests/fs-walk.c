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

/* ---- SHA-256 (FIPS 180-4) ---- */
struct sha256 {
    uint32_t h[8];
    uint64_t n;
    uint8_t buf[64];
    size_t fill;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2 };

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha_block(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof *v);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha_init(struct sha256 *s)
{
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(s->h, h0, sizeof h0);
    s->n = 0;
    s->fill = 0;
}

static void sha_update(struct sha256 *s, const uint8_t *p, size_t len)
{
    s->n += len;
    while (len) {
        size_t k = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->buf + s->fill, p, k);
        s->fill += k;
        p += k;
        len -= k;
        if (s->fill == 64) {
            sha_block(s, s->buf);
            s->fill = 0;
        }
    }
}

static void sha_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->n * 8;
    uint8_t pad[72] = { 0x80 };
    size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(s, pad, padlen + 8);
    for (int i = 0; i < 8; i++)
        sprintf(out + 8 * i, "%08x", s->h[i]);
}

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
        sha_init(&s);
        for (uint64_t off = 0; off < n->st.size;) {
            size_t k = n->st.size - off < sizeof buf ? (size_t)(n->st.size - off) : sizeof buf;
            if (fs->drv->read(fs, n, buf, k, off) < 0) {
                fail(path);
                snprintf(extra, sizeof extra, "error");
                goto out;
            }
            sha_update(&s, buf, k);
            off += k;
        }
        sha_hex(&s, extra);
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
