/*
 * fs.c -- the public file API over mounted file systems: one handle holds
 * a mount table (the root file system, and in the guest view what its
 * fstab mounts), and one path walk resolves every path through it: ".",
 * "..", mount points, symlinks (relative, and absolute ones inside the
 * guest root) with a hop limit.  Drivers only describe single nodes.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/fs-handle.h"

#define MAX_PATH_BYTES   65536u   /* a path (after symlink expansion) */
#define MAX_COMPONENTS   4096u    /* depth of a walk */

const char *imgfmt_file_type_name(enum imgfmt_file_type t)
{
    switch (t) {
    case IMGFMT_FILE_REG:     return "file";
    case IMGFMT_FILE_DIR:     return "dir";
    case IMGFMT_FILE_SYMLINK: return "symlink";
    case IMGFMT_FILE_CHR:     return "chardev";
    case IMGFMT_FILE_BLK:     return "blockdev";
    case IMGFMT_FILE_FIFO:    return "fifo";
    case IMGFMT_FILE_SOCK:    return "socket";
    default:                  return "unknown";
    }
}

/* ---- the handle and its mount table ---- */

int ifmt_fsh_new(imgfmt_filesystem **out, imgfmt_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    return IMGFMT_OK;
}

int ifmt_fsh_add_mount(imgfmt_filesystem *h, struct ifmt_fs *fs, const char *path,
                       const char *source)
{
    struct ifmt_fsh_mount *m = realloc(h->mounts, (h->nb_mounts + 1) * sizeof *m);
    if (!m)
        return ifmt_seterr(&h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    h->mounts = m;
    m += h->nb_mounts;
    memset(m, 0, sizeof *m);
    m->fs = fs;
    m->path = strdup(path);
    m->source = strdup(source ? source : fs->dev.name);
    if (!m->path || !m->source) {
        free(m->path);
        free(m->source);
        return ifmt_seterr(&h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    }
    h->nb_mounts++;
    return IMGFMT_OK;
}

void imgfmt_fs_close(imgfmt_filesystem *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nb_mounts; i++) {
        ifmt_fs_unmount(h->mounts[i].fs);
        free(h->mounts[i].path);
        free(h->mounts[i].source);
        free(h->mounts[i].options);
    }
    free(h->mounts);
    for (uint32_t i = 0; i < h->nb_notes; i++)
        free(h->notes[i]);
    free(h->notes);
    free(h->root_evidence);
    free(h->link_buf);
    if (h->on_close)
        h->on_close(h->on_close_ctx);
    free(h);
}

int ifmt_filesystem_open_bdev(const struct ifmt_bdev *dev, const imgfmt_fs_opts *opts,
                              imgfmt_filesystem **out, imgfmt_error *err)
{
    struct ifmt_fs *fs;
    imgfmt_filesystem *h;
    *out = NULL;
    int r = ifmt_fs_mount(dev, NULL, opts, &fs, err);
    if (r < 0)
        return r;
    if ((r = ifmt_fsh_new(&h, err)) < 0) {
        ifmt_fs_unmount(fs);
        return r;
    }
    if ((r = ifmt_fsh_add_mount(h, fs, "/", dev->name)) < 0) {
        if (err)
            *err = h->err;
        ifmt_fs_unmount(fs);
        imgfmt_fs_close(h);
        return r;
    }
    *out = h;
    return IMGFMT_OK;
}

int imgfmt_fs_open(imgfmt_image *img, uint64_t offset, uint64_t length,
                   const imgfmt_fs_opts *opts, imgfmt_filesystem **out, imgfmt_error *err)
{
    if (!out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_fs_open: NULL argument");
    *out = NULL;
    if (!img)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_fs_open: NULL image");
    uint64_t vsize = imgfmt_virtual_size(img);
    if (offset > vsize || (length && length > vsize - offset))
        return ifmt_seterr(err, IMGFMT_E_RANGE, 0,
                           "fs: range %llu+%llu outside the %llu-byte disk",
                           (unsigned long long)offset, (unsigned long long)length,
                           (unsigned long long)vsize);
    if (!length)
        length = vsize - offset;
    struct ifmt_bdev dev;
    char name[64];
    snprintf(name, sizeof name, offset ? "bytes %llu+%llu" : "disk",
             (unsigned long long)offset, (unsigned long long)length);
    ifmt_bdev_init_image(&dev, img, offset, length, name);
    return ifmt_filesystem_open_bdev(&dev, opts, out, err);
}

const imgfmt_error *imgfmt_fs_last_error(const imgfmt_filesystem *h)
{
    static const imgfmt_error none = { IMGFMT_E_INVAL, 0, "NULL file-system handle" };
    return h ? &h->err : &none;
}

const char *imgfmt_fs_type(const imgfmt_filesystem *h)
{
    return h && h->nb_mounts ? h->mounts[0].fs->drv->name : "";
}

const char *imgfmt_fs_label(const imgfmt_filesystem *h)
{
    return h && h->nb_mounts ? h->mounts[0].fs->label : "";
}

const char *imgfmt_fs_uuid(const imgfmt_filesystem *h)
{
    return h && h->nb_mounts ? h->mounts[0].fs->uuid : "";
}

uint32_t imgfmt_fs_nb_warnings(const imgfmt_filesystem *h)
{
    uint32_t n = 0;
    for (uint32_t i = 0; h && i < h->nb_mounts; i++)
        n += h->mounts[i].fs->nb_warnings;
    return n;
}

const char *imgfmt_fs_warning(const imgfmt_filesystem *h, uint32_t i)
{
    for (uint32_t m = 0; h && m < h->nb_mounts; m++) {
        if (i < h->mounts[m].fs->nb_warnings)
            return h->mounts[m].fs->warnings[i];
        i -= h->mounts[m].fs->nb_warnings;
    }
    return NULL;
}

/* ---- errors: the failing mount's error becomes the handle's ---- */

static int take_fs_error(imgfmt_filesystem *h, struct ifmt_fs *fs, int code)
{
    if (fs->err.code == code && fs->err.msg[0])
        h->err = fs->err;
    else
        ifmt_seterr(&h->err, code, 0, "%s: error %d", fs->drv->name, code);
    return code;
}

/* ---- lookup of one name in one directory ---- */

struct scan_ctx {
    const char *name;
    size_t len;
    uint64_t id;
    int found;
};

static int scan_entry(void *opaque, const char *name, size_t len, uint64_t id,
                      enum imgfmt_file_type type)
{
    struct scan_ctx *c = opaque;
    (void)type;
    if (len == c->len && memcmp(name, c->name, len) == 0) {
        c->id = id;
        c->found = 1;
        return 1;
    }
    return 0;
}

static int lookup_name(struct ifmt_fs *fs, struct ifmt_node *dir, const char *name,
                       size_t len, uint64_t *id)
{
    if (fs->drv->lookup) {
        enum imgfmt_file_type t;
        return fs->drv->lookup(fs, dir, name, len, id, &t);
    }
    struct scan_ctx c = { name, len, 0, 0 };
    int r = fs->drv->readdir(fs, dir, scan_entry, &c);
    if (r < 0)
        return r;
    if (!c.found)
        return IMGFMT_E_NOT_FOUND;
    *id = c.id;
    return IMGFMT_OK;
}

/* ---- the path walk ---- */

struct frame {
    uint32_t mount;
    uint64_t id;
    size_t canon_len;    /* length of canon before this component was added */
};

struct walk {
    imgfmt_filesystem *h;
    struct frame *stack;
    uint32_t depth, cap;  /* stack[0] is the root */
    char *canon;          /* "/a/b" of the current frame ("" at the root) */
    size_t canon_len;
    char *rest;           /* what is left to resolve */
    unsigned hops;
};

static int walk_push(struct walk *w, uint32_t mount, uint64_t id, const char *name,
                     size_t len)
{
    if (w->depth + 1 >= MAX_COMPONENTS)
        return ifmt_seterr(&w->h->err, IMGFMT_E_LIMIT, 0,
                           "fs: path deeper than %u components", MAX_COMPONENTS);
    if (w->depth + 1 >= w->cap) {
        uint32_t ncap = w->cap ? w->cap * 2 : 16;
        struct frame *s = realloc(w->stack, ncap * sizeof *s);
        if (!s)
            return ifmt_seterr(&w->h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
        w->stack = s;
        w->cap = ncap;
    }
    if (w->canon_len + len + 2 > MAX_PATH_BYTES)
        return ifmt_seterr(&w->h->err, IMGFMT_E_LIMIT, 0,
                           "fs: path longer than %u bytes", MAX_PATH_BYTES);
    struct frame *f = &w->stack[++w->depth];
    f->mount = mount;
    f->id = id;
    f->canon_len = w->canon_len;
    w->canon[w->canon_len++] = '/';
    memcpy(w->canon + w->canon_len, name, len);
    w->canon_len += len;
    w->canon[w->canon_len] = '\0';
    return IMGFMT_OK;
}

static void walk_pop(struct walk *w)
{
    if (w->depth == 0)
        return;
    w->canon_len = w->stack[w->depth].canon_len;
    w->canon[w->canon_len] = '\0';
    w->depth--;
}

/* A mount point at the current canonical path replaces the frame with the
 * root of the file system mounted there (the last one mounted wins). */
static void walk_cross_mounts(struct walk *w)
{
    const char *cur = w->canon_len ? w->canon : "/";
    for (uint32_t i = w->h->nb_mounts; i-- > 1;)
        if (strcmp(w->h->mounts[i].path, cur) == 0) {
            w->stack[w->depth].mount = i;
            w->stack[w->depth].id = w->h->mounts[i].fs->root_id;
            return;
        }
}

/* rest := target + "/" + rest, dropping what was consumed. */
static int walk_splice(struct walk *w, const char *target, size_t tlen, const char *tail)
{
    size_t rlen = strlen(tail);
    if (tlen + rlen + 2 > MAX_PATH_BYTES)
        return ifmt_seterr(&w->h->err, IMGFMT_E_LIMIT, 0,
                           "fs: path longer than %u bytes after symlinks", MAX_PATH_BYTES);
    char *n = malloc(tlen + rlen + 2);
    if (!n)
        return ifmt_seterr(&w->h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    memcpy(n, target, tlen);
    n[tlen] = '/';
    memcpy(n + tlen + 1, tail, rlen + 1);
    free(w->rest);
    w->rest = n;
    return IMGFMT_OK;
}

static int open_frame(struct walk *w, struct ifmt_node *node)
{
    struct frame *f = &w->stack[w->depth];
    struct ifmt_fs *fs = w->h->mounts[f->mount].fs;
    memset(node, 0, sizeof *node);
    node->id = f->id;
    int r = fs->drv->open_node(fs, f->id, node);
    if (r < 0)
        return take_fs_error(w->h, fs, r);
    node->id = f->id;
    return IMGFMT_OK;
}

static void close_node(imgfmt_filesystem *h, uint32_t mount, struct ifmt_node *node)
{
    struct ifmt_fs *fs = h->mounts[mount].fs;
    if (fs->drv->close_node)
        fs->drv->close_node(fs, node);
    memset(node, 0, sizeof *node);
}

/* Follow the symlink node (the top frame): pop it and splice its target. */
static int walk_follow(struct walk *w, struct ifmt_node *node, const char *tail)
{
    uint32_t mount = w->stack[w->depth].mount;
    struct ifmt_fs *fs = w->h->mounts[mount].fs;
    if (++w->hops > IMGFMT_MAX_SYMLINKS)
        return ifmt_seterr(&w->h->err, IMGFMT_E_LIMIT, 0,
                           "fs: %s: too many levels of symbolic links (more than %u)",
                           w->canon, IMGFMT_MAX_SYMLINKS);
    char *target = NULL;
    size_t tlen = 0;
    int r = fs->drv->readlink(fs, node, &target, &tlen);
    if (r < 0)
        return take_fs_error(w->h, fs, r);
    walk_pop(w);
    if (tlen && target[0] == '/')
        while (w->depth)
            walk_pop(w);
    r = walk_splice(w, target, tlen, tail);
    free(target);
    return r;
}

/* The next component of p (name, len) and the tail after it. */
static const char *next_component(const char *p, const char **name, size_t *len)
{
    while (*p == '/')
        p++;
    const char *e = p;
    while (*e && *e != '/')
        e++;
    *name = p;
    *len = (size_t)(e - p);
    return e;
}

static int walk_step(struct walk *w, const char *name, size_t len, const char *tail,
                     bool follow, struct ifmt_node *node)
{
    if (len == 1 && name[0] == '.')
        return IMGFMT_OK;
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        walk_pop(w);
        return IMGFMT_OK;
    }
    int r = open_frame(w, node);
    if (r < 0)
        return r;
    uint32_t mount = w->stack[w->depth].mount;
    struct ifmt_fs *fs = w->h->mounts[mount].fs;
    if (node->st.type != IMGFMT_FILE_DIR) {
        close_node(w->h, mount, node);
        return ifmt_seterr(&w->h->err, IMGFMT_E_NOT_DIR, 0, "%s: not a directory",
                           w->canon_len ? w->canon : "/");
    }
    uint64_t id;
    r = lookup_name(fs, node, name, len, &id);
    close_node(w->h, mount, node);
    if (r == IMGFMT_E_NOT_FOUND)
        return ifmt_seterr(&w->h->err, r, 0, "%s/%.*s: no such file or directory",
                           w->canon, (int)len, name);
    if (r < 0)
        return take_fs_error(w->h, fs, r);
    if ((r = walk_push(w, mount, id, name, len)) < 0)
        return r;
    walk_cross_mounts(w);
    if ((r = open_frame(w, node)) < 0)
        return r;
    bool last = tail[strspn(tail, "/")] == '\0';
    uint32_t here = w->stack[w->depth].mount;
    if (node->st.type == IMGFMT_FILE_SYMLINK && (follow || !last)) {
        r = walk_follow(w, node, tail);
        close_node(w->h, here, node);
        return r < 0 ? r : 1;   /* 1: w->rest was replaced */
    }
    close_node(w->h, here, node);
    return IMGFMT_OK;
}

/* Resolve path; on success *mount and node (open: close with close_node)
 * are the final object.  canon is kept in the walk for messages. */
int ifmt_fsh_resolve(imgfmt_filesystem *h, const char *path, bool follow,
                     uint32_t *mount, struct ifmt_node *node)
{
    if (!h || !path)
        return h ? ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: NULL path") : IMGFMT_E_INVAL;
    if (!h->nb_mounts)
        return ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: nothing mounted");
    struct walk w = { .h = h };
    int r = IMGFMT_OK;
    if (strlen(path) >= MAX_PATH_BYTES)
        return ifmt_seterr(&h->err, IMGFMT_E_LIMIT, 0, "fs: path longer than %u bytes",
                           MAX_PATH_BYTES);
    w.canon = malloc(MAX_PATH_BYTES);
    w.rest = strdup(path);
    w.stack = malloc(16 * sizeof *w.stack);
    w.cap = 16;
    if (!w.canon || !w.rest || !w.stack) {
        r = ifmt_seterr(&h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
        goto out;
    }
    w.canon[0] = '\0';
    w.stack[0] = (struct frame){ 0, h->mounts[0].fs->root_id, 0 };
    walk_cross_mounts(&w);
    const char *p = w.rest;
    for (;;) {
        const char *name;
        size_t len;
        const char *tail = next_component(p, &name, &len);
        if (len == 0)
            break;
        r = walk_step(&w, name, len, tail, follow, node);
        if (r < 0)
            goto out;
        p = r == 1 ? w.rest : tail;
    }
    r = open_frame(&w, node);
    *mount = w.stack[w.depth].mount;
    node->st.dev = *mount;
out:
    free(w.canon);
    free(w.rest);
    free(w.stack);
    return r;
}

/* ---- stat, readlink ---- */

int imgfmt_fs_stat(imgfmt_filesystem *h, const char *path, unsigned flags,
                   imgfmt_stat *out)
{
    struct ifmt_node node;
    uint32_t m;
    if (!out)
        return h ? ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: NULL argument") : IMGFMT_E_INVAL;
    int r = ifmt_fsh_resolve(h, path, !(flags & IMGFMT_NOFOLLOW), &m, &node);
    if (r < 0)
        return r;
    *out = node.st;
    close_node(h, m, &node);
    return IMGFMT_OK;
}

int imgfmt_fs_readlink(imgfmt_filesystem *h, const char *path, const char **out)
{
    struct ifmt_node node;
    uint32_t m;
    if (!out)
        return h ? ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: NULL argument") : IMGFMT_E_INVAL;
    *out = NULL;
    int r = ifmt_fsh_resolve(h, path, false, &m, &node);
    if (r < 0)
        return r;
    struct ifmt_fs *fs = h->mounts[m].fs;
    if (node.st.type != IMGFMT_FILE_SYMLINK) {
        close_node(h, m, &node);
        return ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "%s: not a symbolic link", path);
    }
    char *t = NULL;
    size_t len = 0;
    r = fs->drv->readlink(fs, &node, &t, &len);
    close_node(h, m, &node);
    if (r < 0)
        return take_fs_error(h, fs, r);
    free(h->link_buf);
    h->link_buf = t;
    *out = t;
    return IMGFMT_OK;
}

/* ---- directories ---- */

struct imgfmt_dir {
    imgfmt_filesystem *h;
    char *names;               /* NUL-separated */
    size_t names_len, names_cap;
    struct dir_entry { size_t name; uint64_t ino; enum imgfmt_file_type type; } *ents;
    size_t nb, cap, pos;
    uint64_t charged_cap;
};

static int dir_grow(struct imgfmt_dir *d, size_t name_len)
{
    if (d->nb == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 64;
        struct dir_entry *e = realloc(d->ents, ncap * sizeof *e);
        if (!e)
            return IMGFMT_E_NOMEM;
        d->ents = e;
        d->cap = ncap;
    }
    if (d->names_len + name_len + 1 > d->names_cap) {
        size_t ncap = d->names_cap ? d->names_cap * 2 : 4096;
        while (ncap < d->names_len + name_len + 1)
            ncap *= 2;
        char *n = realloc(d->names, ncap);
        if (!n)
            return IMGFMT_E_NOMEM;
        d->names = n;
        d->names_cap = ncap;
    }
    if ((uint64_t)d->names_cap + (uint64_t)d->cap * sizeof *d->ents > d->charged_cap)
        return IMGFMT_E_LIMIT;
    return IMGFMT_OK;
}

static int dir_collect(void *opaque, const char *name, size_t len, uint64_t id,
                       enum imgfmt_file_type type)
{
    struct imgfmt_dir *d = opaque;
    if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len) ||
        (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;   /* never hand out a name the path walk cannot take back */
    int r = dir_grow(d, len);
    if (r == IMGFMT_E_LIMIT)
        return ifmt_seterr(&d->h->err, r, 0,
                           "fs: directory listing over the %llu-byte memory cap",
                           (unsigned long long)d->charged_cap);
    if (r < 0)
        return ifmt_seterr(&d->h->err, r, 0, "fs: out of memory");
    d->ents[d->nb++] = (struct dir_entry){ d->names_len, id, type };
    memcpy(d->names + d->names_len, name, len);
    d->names[d->names_len + len] = '\0';
    d->names_len += len + 1;
    return 0;
}

void imgfmt_fs_closedir(imgfmt_dir *d)
{
    if (!d)
        return;
    free(d->names);
    free(d->ents);
    free(d);
}

int imgfmt_fs_opendir(imgfmt_filesystem *h, const char *path, imgfmt_dir **out)
{
    struct ifmt_node node;
    uint32_t m;
    if (!out)
        return h ? ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: NULL argument") : IMGFMT_E_INVAL;
    *out = NULL;
    int r = ifmt_fsh_resolve(h, path, true, &m, &node);
    if (r < 0)
        return r;
    struct ifmt_fs *fs = h->mounts[m].fs;
    if (node.st.type != IMGFMT_FILE_DIR) {
        close_node(h, m, &node);
        return ifmt_seterr(&h->err, IMGFMT_E_NOT_DIR, 0, "%s: not a directory", path);
    }
    struct imgfmt_dir *d = calloc(1, sizeof *d);
    if (!d) {
        close_node(h, m, &node);
        return ifmt_seterr(&h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    }
    d->h = h;
    d->charged_cap = fs->opts.max_metadata_bytes;
    h->err.code = IMGFMT_OK;
    r = fs->drv->readdir(fs, &node, dir_collect, d);
    close_node(h, m, &node);
    if (r < 0) {
        if (h->err.code != r)
            take_fs_error(h, fs, r);
        imgfmt_fs_closedir(d);
        return r;
    }
    *out = d;
    return IMGFMT_OK;
}

int imgfmt_fs_readdir(imgfmt_dir *d, imgfmt_dirent *out)
{
    if (!d || !out)
        return IMGFMT_E_INVAL;
    if (d->pos >= d->nb)
        return 0;
    struct dir_entry *e = &d->ents[d->pos++];
    out->name = d->names + e->name;
    out->type = e->type;
    out->ino = e->ino;
    return 1;
}

/* ---- files ---- */

struct imgfmt_file {
    imgfmt_filesystem *h;
    uint32_t mount;
    struct ifmt_node node;
};

int imgfmt_fs_open_file(imgfmt_filesystem *h, const char *path, imgfmt_file **out)
{
    struct ifmt_node node;
    uint32_t m;
    if (!out)
        return h ? ifmt_seterr(&h->err, IMGFMT_E_INVAL, 0, "fs: NULL argument") : IMGFMT_E_INVAL;
    *out = NULL;
    int r = ifmt_fsh_resolve(h, path, true, &m, &node);
    if (r < 0)
        return r;
    if (node.st.type != IMGFMT_FILE_REG || (node.st.flags & IMGFMT_STAT_ENCRYPTED)) {
        int dir = node.st.type == IMGFMT_FILE_DIR, enc = node.st.type == IMGFMT_FILE_REG;
        close_node(h, m, &node);
        return ifmt_seterr(&h->err, enc ? IMGFMT_E_UNSUPPORTED : IMGFMT_E_INVAL, 0,
                           "%s: %s", path, enc ? "content is encrypted" :
                           dir ? "is a directory" : "not a regular file");
    }
    imgfmt_file *f = calloc(1, sizeof *f);
    if (!f) {
        close_node(h, m, &node);
        return ifmt_seterr(&h->err, IMGFMT_E_NOMEM, 0, "fs: out of memory");
    }
    f->h = h;
    f->mount = m;
    f->node = node;
    *out = f;
    return IMGFMT_OK;
}

const imgfmt_stat *imgfmt_file_stat(const imgfmt_file *f)
{
    return f ? &f->node.st : NULL;
}

int imgfmt_file_pread(imgfmt_file *f, void *buf, size_t len, uint64_t off, size_t *got)
{
    if (!f || (!buf && len) || !got)
        return IMGFMT_E_INVAL;
    *got = 0;
    uint64_t size = f->node.st.size;
    if (off >= size || len == 0)
        return IMGFMT_OK;
    if (len > size - off)
        len = (size_t)(size - off);
    struct ifmt_fs *fs = f->h->mounts[f->mount].fs;
    int r = fs->drv->read(fs, &f->node, buf, len, off);
    if (r < 0)
        return take_fs_error(f->h, fs, r);
    *got = len;
    return IMGFMT_OK;
}

void imgfmt_file_close(imgfmt_file *f)
{
    if (!f)
        return;
    close_node(f->h, f->mount, &f->node);
    free(f);
}
