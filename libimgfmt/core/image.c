/*
 * image.c -- the public entry points.  The core checks arguments, clamps
 * ranges, folds the backing chain into reads and block status, and supplies
 * defaults, so that drivers only describe their own layer.
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/internal.h"

unsigned imgfmt_version_number(void)
{
    return IMGFMT_VERSION_NUMBER;
}

void imgfmt_open_opts_init(imgfmt_open_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->format = IMGFMT_FMT_UNKNOWN;
    o->vhd_size_rule = IMGFMT_VHD_RULE_QEMU_LEGACY;
    o->max_chain_depth = IFMT_DEFAULT_CHAIN_DEPTH;
    o->max_metadata_bytes = IFMT_DEFAULT_METADATA_CAP;
}

static const struct {
    const char *name;
    enum imgfmt_format f;
} format_names[] = {
    {"raw", IMGFMT_FMT_RAW},     {"vpc", IMGFMT_FMT_VHD},
    {"vhd", IMGFMT_FMT_VHD},     {"qcow2", IMGFMT_FMT_QCOW2},
    {"vmdk", IMGFMT_FMT_VMDK},
};

const char *imgfmt_format_name(enum imgfmt_format f)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (format_names[i].f == f)
            return format_names[i].name;
    return "unknown";
}

enum imgfmt_format imgfmt_format_from_name(const char *name)
{
    if (!name)
        return IMGFMT_FMT_UNKNOWN;
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (strcmp(format_names[i].name, name) == 0)
            return format_names[i].f;
    return IMGFMT_FMT_UNKNOWN;
}

/* ---- helpers for drivers ------------------------------------------ */

char *ifmt_strdup(imgfmt_image *img, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    return d;
}

int ifmt_charge(imgfmt_image *img, uint64_t n, const char *what)
{
    uint64_t total;
    if (ifmt_add_overflow(img->metadata_bytes, n, &total) ||
        total > img->opts.max_metadata_bytes)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "%s: %s needs %llu bytes of memory, over the %llu-byte "
                          "metadata cap", img->drv ? img->drv->name : "image", what,
                          (unsigned long long)n,
                          (unsigned long long)img->opts.max_metadata_bytes);
    img->metadata_bytes = total;
    return IMGFMT_OK;
}

void ifmt_uncharge(imgfmt_image *img, uint64_t n)
{
    img->metadata_bytes = n > img->metadata_bytes ? 0 : img->metadata_bytes - n;
}

int ifmt_pread_meta(imgfmt_image *img, void *buf, size_t len, uint64_t off,
                    const char *what)
{
    int e = 0;
    int r = ifmt_io_pread(img->io, buf, len, off, &e);
    if (r == IMGFMT_E_RANGE)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "%s: %s at offset 0x%llx (+%zu) beyond end of file "
                          "(length %llu)", img->drv->name, what,
                          (unsigned long long)off, len,
                          (unsigned long long)img->io->size);
    if (r < 0)
        return ifmt_error_errno(img, IMGFMT_E_IO, e, "%s: reading %s at 0x%llx: %s",
                                img->drv->name, what, (unsigned long long)off,
                                strerror(e ? e : EIO));
    return IMGFMT_OK;
}

int ifmt_pread_zero_fill(imgfmt_image *img, struct ifmt_io *io, void *buf, size_t len,
                         uint64_t off)
{
    size_t in = off >= io->size ? 0 : (size_t)ifmt_min(len, io->size - off);
    int e = 0;
    if (in && ifmt_io_pread(io, buf, in, off, &e) < 0)
        return ifmt_error_errno(img, IMGFMT_E_IO, e, "%s: %s: read at %llu failed: %s",
                                img->drv->name, io->path, (unsigned long long)off,
                                strerror(e ? e : EIO));
    memset((uint8_t *)buf + in, 0, len - in);
    return IMGFMT_OK;
}

int ifmt_resolve_path(imgfmt_image *img, const char *name, const char *what,
                      char **out)
{
    *out = NULL;
    const char *drv = img->drv ? img->drv->name : "image";
    if (!name || !*name)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "%s: empty %s name", drv, what);
    if ((img->opts.flags & IMGFMT_OPEN_NO_EXTERNAL) || !img->io->dir)
        return ifmt_error(img, IMGFMT_E_BACKING,
                          "%s: %s \"%s\" refused: external files are not allowed%s",
                          drv, what, name,
                          img->io->dir ? "" : " for an image in memory");
    char *p;
    if (name[0] == '/' || !strchr(img->io->path, '/')) {
        /* Absolute, or the image was named without a directory: qemu's
         * path_combine() gives the name unchanged (relative to the cwd). */
        p = strdup(name);
    } else {
        size_t n = strlen(img->io->dir) + 1 + strlen(name) + 1;
        p = malloc(n);
        if (p)
            snprintf(p, n, "%s/%s", img->io->dir, name);
    }
    if (!p)
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    *out = p;
    return IMGFMT_OK;
}

static int chain_has(const struct ifmt_chain *c, const struct ifmt_io *io)
{
    for (; c; c = c->up)
        if (c->dev == io->dev && c->ino == io->ino)
            return 1;
    return 0;
}

int ifmt_open_related_io(imgfmt_image *img, const char *path, struct ifmt_io **out)
{
    *out = NULL;
    if (img->opts.flags & IMGFMT_OPEN_NO_EXTERNAL)
        return ifmt_error(img, IMGFMT_E_BACKING,
                          "%s: \"%s\" refused: external files are not allowed",
                          img->drv->name, path);
    imgfmt_error e = {0};
    int r = ifmt_io_open_path(path, out, &e);
    if (r < 0)
        return ifmt_error_errno(img, IMGFMT_E_BACKING, e.sys_errno, "%s: %s",
                                img->drv->name, e.msg);
    return IMGFMT_OK;
}

static int open_io(struct ifmt_io *io, const imgfmt_open_opts *opts, unsigned depth,
                   const struct ifmt_chain *up, imgfmt_image **out, imgfmt_error *err);

int ifmt_open_backing(imgfmt_image *img, const char *path, enum imgfmt_format fmt)
{
    if (img->depth + 1 > img->opts.max_chain_depth)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "%s: backing chain deeper than %u images at \"%s\"",
                          img->drv->name, img->opts.max_chain_depth, path);
    if (img->opts.flags & IMGFMT_OPEN_NO_EXTERNAL)
        return ifmt_error(img, IMGFMT_E_BACKING,
                          "%s: backing file \"%s\" refused: external files are "
                          "not allowed", img->drv->name, path);
    struct ifmt_io *io = NULL;
    imgfmt_error e = {0};
    if (ifmt_io_open_path(path, &io, &e) < 0)
        return ifmt_error_errno(img, IMGFMT_E_BACKING, e.sys_errno,
                                "%s: backing file: %s", img->drv->name, e.msg);
    struct ifmt_chain self = {img->io->dev, img->io->ino, img->chain};
    if (io->fd >= 0 && chain_has(&self, io)) {
        ifmt_io_close(io);
        return ifmt_error(img, IMGFMT_E_BACKING,
                          "%s: backing chain loops back to \"%s\"", img->drv->name, path);
    }
    imgfmt_open_opts o = img->opts;
    o.format = fmt;
    o.member = NULL;
    imgfmt_image *b = NULL;
    int r = open_io(io, &o, img->depth + 1, &self, &b, &e);
    if (r < 0) {
        /* Keep the inner message; the code says what kind of problem it was. */
        return ifmt_error_errno(img, r, e.sys_errno, "%s (backing file of %s)", e.msg,
                                img->io->path);
    }
    char *p = strdup(path);
    if (!p) {
        imgfmt_close(b);
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    }
    imgfmt_close(img->backing);
    free(img->backing_path);
    img->backing = b;
    img->backing_path = p;
    return IMGFMT_OK;
}

/* ---- open / close --------------------------------------------------- */

static int open_io(struct ifmt_io *io, const imgfmt_open_opts *opts, unsigned depth,
                   const struct ifmt_chain *up, imgfmt_image **out, imgfmt_error *err)
{
    *out = NULL;
    imgfmt_image *img = calloc(1, sizeof *img);
    if (!img) {
        ifmt_io_close(io);
        return ifmt_seterr(err, IMGFMT_E_NOMEM, ENOMEM, "out of memory");
    }
    imgfmt_open_opts_init(&img->opts);
    if (opts) {
        if (opts->struct_size < sizeof(uint32_t) ||
            opts->struct_size > sizeof(imgfmt_open_opts)) {
            free(img);
            ifmt_io_close(io);
            return ifmt_seterr(err, IMGFMT_E_INVAL, 0,
                               "imgfmt_open_opts: struct_size %u is not valid "
                               "(call imgfmt_open_opts_init)", (unsigned)opts->struct_size);
        }
        memcpy(&img->opts, opts, opts->struct_size);
        img->opts.struct_size = sizeof img->opts;
    }
    if (img->opts.max_chain_depth == 0)
        img->opts.max_chain_depth = IFMT_DEFAULT_CHAIN_DEPTH;
    if (img->opts.max_metadata_bytes == 0)
        img->opts.max_metadata_bytes = IFMT_DEFAULT_METADATA_CAP;
    img->io = io;
    img->depth = depth;
    img->chain = up;

    int r;
    if (img->opts.format != IMGFMT_FMT_UNKNOWN) {
        img->drv = ifmt_driver_for(img->opts.format);
        if (!img->drv) {
            r = ifmt_error(img, IMGFMT_E_UNSUPPORTED, "format %s is not supported",
                           imgfmt_format_name(img->opts.format));
            goto fail;
        }
    } else {
        r = ifmt_probe_io(io, &img->drv, &img->err);
        if (r < 0)
            goto fail;
    }
    r = img->drv->open(img);
    if (r < 0)
        goto fail;
    img->chain = NULL;     /* only valid while opening */
    *out = img;
    return IMGFMT_OK;
fail:
    if (err)
        *err = img->err;
    if (err && err->code == IMGFMT_OK)
        ifmt_seterr(err, r, 0, "%s", imgfmt_strerror(r));
    imgfmt_close(img);
    return r;
}

int imgfmt_open(const char *path, const imgfmt_open_opts *opts, imgfmt_image **out,
                imgfmt_error *err)
{
    if (!out || !path)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_open: NULL argument");
    *out = NULL;
    struct ifmt_io *io;
    int r = ifmt_io_open_path(path, &io, err);
    if (r < 0)
        return r;
    return open_io(io, opts, 0, NULL, out, err);
}

int imgfmt_open_fd(int fd, const imgfmt_open_opts *opts, imgfmt_image **out,
                   imgfmt_error *err)
{
    if (!out || fd < 0)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_open_fd: bad argument");
    *out = NULL;
    struct ifmt_io *io;
    int r = ifmt_io_open_fd(fd, &io, err);
    if (r < 0)
        return r;
    return open_io(io, opts, 0, NULL, out, err);
}

int imgfmt_open_memory(const void *buf, size_t len, const imgfmt_open_opts *opts,
                       imgfmt_image **out, imgfmt_error *err)
{
    if (!out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_open_memory: NULL argument");
    *out = NULL;
    struct ifmt_io *io;
    int r = ifmt_io_open_memory(buf, len, &io, err);
    if (r < 0)
        return r;
    return open_io(io, opts, 0, NULL, out, err);
}

int imgfmt_probe(const char *path, enum imgfmt_format *out, imgfmt_error *err)
{
    if (!path || !out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_probe: NULL argument");
    *out = IMGFMT_FMT_UNKNOWN;
    struct ifmt_io *io;
    int r = ifmt_io_open_path(path, &io, err);
    if (r < 0)
        return r;
    const struct ifmt_driver *d = NULL;
    r = ifmt_probe_io(io, &d, err);
    ifmt_io_close(io);
    if (r == 0)
        *out = d->format;
    return r;
}

void imgfmt_close(imgfmt_image *img)
{
    if (!img)
        return;
    if (img->drv && img->drv->close)
        img->drv->close(img);
    imgfmt_close(img->backing);
    ifmt_io_close(img->io);
    free(img->backing_name);
    free(img->backing_path);
    free(img->backing_fmt_name);
    ifmt_warnings_free(img);
    free(img);
}

const imgfmt_error *imgfmt_last_error(const imgfmt_image *img)
{
    static const imgfmt_error none = {IMGFMT_E_INVAL, 0, "NULL image handle"};
    return img ? &img->err : &none;
}

enum imgfmt_format imgfmt_format(const imgfmt_image *img)
{
    return img ? img->drv->format : IMGFMT_FMT_UNKNOWN;
}

uint64_t imgfmt_virtual_size(const imgfmt_image *img)
{
    return img ? img->virtual_size : 0;
}

imgfmt_image *imgfmt_backing(const imgfmt_image *img)
{
    return img ? img->backing : NULL;
}

/* ---- reads and block status ---------------------------------------- */

/* Status of this layer only; clamps what the driver returns. */
static int layer_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len)
{
    if (!img->drv->block_status) {
        *len = max;
        return IFMT_ST_DATA;
    }
    uint64_t n = 0;
    int st = img->drv->block_status(img, off, max, &n);
    if (st < 0)
        return st;
    if (st != IFMT_ST_DATA && st != IFMT_ST_ZERO && st != IFMT_ST_UNALLOC)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "%s: internal: bad block status %d",
                          img->drv->name, st);
    if (n == 0 || n > max)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "%s: internal: block status length %llu for a request of %llu",
                          img->drv->name, (unsigned long long)n, (unsigned long long)max);
    *len = n;
    return st;
}

/* Copy an error from a backing image to img (keeps one message per handle). */
static int pass_error(imgfmt_image *img, imgfmt_image *from, int r)
{
    if (from != img)
        img->err = from->err;
    return r;
}

int ifmt_read(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t n = 0;
        int st = layer_status(img, off, len, &n);
        if (st < 0)
            return st;
        size_t chunk = (size_t)n;
        int r = 0;
        if (st == IFMT_ST_DATA) {
            r = img->drv->read_data(img, p, chunk, off);
        } else if (st == IFMT_ST_UNALLOC && img->backing) {
            uint64_t bsize = img->backing->virtual_size;
            size_t inb = off >= bsize ? 0 : (size_t)ifmt_min(chunk, bsize - off);
            if (inb) {
                r = ifmt_read(img->backing, p, inb, off);
                if (r < 0)
                    return pass_error(img, img->backing, r);
            }
            memset(p + inb, 0, chunk - inb);
        } else {
            memset(p, 0, chunk);
        }
        if (r < 0)
            return r;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return IMGFMT_OK;
}

int imgfmt_pread(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    if (!img || (!buf && len))
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "imgfmt_pread: NULL buffer")
                   : IMGFMT_E_INVAL;
    if (!ifmt_range_ok(off, len, img->virtual_size))
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "read of %zu bytes at %llu is beyond the virtual size %llu",
                          len, (unsigned long long)off,
                          (unsigned long long)img->virtual_size);
    return ifmt_read(img, buf, len, off);
}

/* One step of folded status: DATA or ZERO for *len bytes from off. */
static int folded_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len,
                         imgfmt_image *top)
{
    int st = layer_status(img, off, max, len);
    if (st < 0)
        return pass_error(top, img, st);
    if (st == IFMT_ST_UNALLOC) {
        imgfmt_image *b = img->backing;
        if (!b || off >= b->virtual_size)
            return IFMT_ST_ZERO;
        return folded_status(b, off, ifmt_min(*len, b->virtual_size - off), len, top);
    }
    return st;
}

int imgfmt_block_status(imgfmt_image *img, uint64_t off, uint64_t max_len,
                        imgfmt_extent *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    if (off >= img->virtual_size || max_len == 0)
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "block status at %llu is beyond the virtual size %llu",
                          (unsigned long long)off, (unsigned long long)img->virtual_size);
    max_len = ifmt_min(max_len, img->virtual_size - off);
    uint64_t n = 0;
    int st = folded_status(img, off, max_len, &n, img);
    if (st < 0)
        return st;
    uint64_t total = n;
    /* Merge following runs of the same kind. */
    while (total < max_len) {
        int st2 = folded_status(img, off + total, max_len - total, &n, img);
        if (st2 < 0)
            return st2;
        if (st2 != st)
            break;
        total += n;
    }
    out->offset = off;
    out->length = total;
    out->flags = st == IFMT_ST_DATA ? IMGFMT_EXTENT_DATA : IMGFMT_EXTENT_ZERO;
    return IMGFMT_OK;
}

struct imgfmt_extent_iter {
    imgfmt_image *img;
    uint64_t pos, end;
};

int imgfmt_extents_begin(imgfmt_image *img, uint64_t off, uint64_t len,
                         imgfmt_extent_iter **out)
{
    if (!out)
        return IMGFMT_E_INVAL;
    *out = NULL;
    if (!img)
        return IMGFMT_E_INVAL;
    if (!ifmt_range_ok(off, len, img->virtual_size))
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "extent range %llu+%llu is beyond the virtual size %llu",
                          (unsigned long long)off, (unsigned long long)len,
                          (unsigned long long)img->virtual_size);
    imgfmt_extent_iter *it = calloc(1, sizeof *it);
    if (!it)
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    it->img = img;
    it->pos = off;
    it->end = off + len;
    *out = it;
    return IMGFMT_OK;
}

int imgfmt_extents_next(imgfmt_extent_iter *it, imgfmt_extent *out)
{
    if (!it || !out)
        return IMGFMT_E_INVAL;
    if (it->pos >= it->end)
        return 0;
    int r = imgfmt_block_status(it->img, it->pos, it->end - it->pos, out);
    if (r < 0)
        return r;
    it->pos += out->length;
    return 1;
}

void imgfmt_extents_end(imgfmt_extent_iter *it)
{
    free(it);
}

/* ---- info ------------------------------------------------------------ */

int imgfmt_get_info(imgfmt_image *img, imgfmt_info *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    if (out->struct_size != sizeof *out)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "imgfmt_get_info: struct_size %u, expected %zu",
                          (unsigned)out->struct_size, sizeof *out);
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->format = img->drv->format;
    out->format_name = img->drv->name;
    out->filename = img->io->path;
    out->virtual_size = img->virtual_size;
    out->file_length = img->io->size;
    out->actual_size = img->io->allocated;
    out->backing_filename = img->backing_name;
    out->full_backing_filename = img->backing_path;
    out->backing_format = img->backing_fmt_name;
    if (!out->backing_format && img->backing)
        out->backing_format = img->backing->drv->name;
    if (img->drv->info)
        img->drv->info(img, out);
    out->nb_warnings = img->nb_warnings;
    return IMGFMT_OK;
}

/* Per-format lists, dispatched to the driver (NULL op: there are none). */
int imgfmt_qcow2_get_snapshot(imgfmt_image *img, uint32_t i, imgfmt_snapshot *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    if (!img->drv->snapshot)
        return ifmt_error(img, IMGFMT_E_RANGE, "%s: no snapshot %u", img->drv->name, i);
    return img->drv->snapshot(img, i, out);
}

int imgfmt_vmdk_get_extent(imgfmt_image *img, uint32_t i, imgfmt_vmdk_extent *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    if (!img->drv->vmdk_extent)
        return ifmt_error(img, IMGFMT_E_RANGE, "%s: no extent %u", img->drv->name, i);
    return img->drv->vmdk_extent(img, i, out);
}

/* ---- zero detection -------------------------------------------------- */

bool ifmt_is_zero(const void *p, size_t len)
{
    const uint8_t *b = p;
    /* Check a short prefix byte-wise, then compare the buffer with itself
     * shifted: memcmp is vectorised and this needs no zero page. */
    size_t head = len < 16 ? len : 16;
    for (size_t i = 0; i < head; i++)
        if (b[i])
            return false;
    if (len <= 16)
        return true;
    return memcmp(b, b + 16, len - 16) == 0;
}

/* ---- read window ------------------------------------------------------ */

int ifmt_win_get(imgfmt_image *img, struct ifmt_win *w, struct ifmt_io *io, uint64_t off,
                 size_t need, size_t want, const uint8_t **out)
{
    if (ifmt_win_has(w, io, off, need)) {
        *out = w->buf + (off - w->off);
        return IMGFMT_OK;
    }
    size_t full = need > IFMT_WIN_BYTES ? need : IFMT_WIN_BYTES;
    if (w->cap < need || (w->cap < full && want > w->cap)) {
        /* Grow: a full window if the metadata cap allows, else just need. */
        size_t size = full;
        uint64_t old = w->charged;
        ifmt_uncharge(img, old);
        imgfmt_error keep = img->err;
        if (ifmt_charge(img, size, "read window") < 0) {
            img->err = keep;
            size = need > w->cap ? need : w->cap;
            if (ifmt_charge(img, size, "read window") < 0) {
                ifmt_charge(img, old, "read window");   /* was within the cap */
                return img->err.code;
            }
        }
        if (size != w->cap) {
            uint8_t *nb = malloc(size);
            if (!nb) {
                ifmt_uncharge(img, size);
                ifmt_charge(img, old, "read window");
                return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory for a read window");
            }
            free(w->buf);
            w->buf = nb;
            w->cap = size;
        }
        w->charged = size;
    }
    size_t len = want > need ? want : need;
    if (len > w->cap)
        len = w->cap;
    w->io = NULL;
    w->len = 0;
    /* Do not read ahead past the end of the file (zeros need no syscall). */
    size_t in = off >= io->size ? 0 : (size_t)ifmt_min(len, io->size - off);
    if (in < need)
        in = need;
    int r = ifmt_pread_zero_fill(img, io, w->buf, in, off);
    if (r < 0)
        return r;
    w->io = io;
    w->off = off;
    w->len = in;
    *out = w->buf;
    return IMGFMT_OK;
}

void ifmt_win_free(imgfmt_image *img, struct ifmt_win *w)
{
    free(w->buf);
    ifmt_uncharge(img, w->charged);
    memset(w, 0, sizeof *w);
}

/* ---- zero units --------------------------------------------------------- */

void ifmt_mark_nonzero(const uint8_t *p, uint64_t a, uint64_t b, uint64_t base,
                       size_t unit, uint8_t *nonzero)
{
    while (a < b) {
        uint64_t ui = (a - base) / unit;
        uint64_t e = ifmt_min(b, base + (ui + 1) * unit);
        if (!nonzero[ui] && !ifmt_is_zero(p, (size_t)(e - a)))
            nonzero[ui] = 1;
        p += e - a;
        a = e;
    }
}

bool ifmt_units_marked(uint64_t a, uint64_t b, uint64_t base, size_t unit,
                       const uint8_t *nonzero)
{
    if (a >= b)
        return true;
    for (uint64_t u = (a - base) / unit; u <= (b - 1 - base) / unit; u++)
        if (!nonzero[u])
            return false;
    return true;
}

/* Mark the units of [off, off+len) (grid at base) that hold a non-zero byte in
 * img's folded view; units already marked are skipped. */
static int zero_walk(imgfmt_image *img, uint64_t off, uint64_t len, uint64_t base,
                     size_t unit, uint8_t *buf, uint8_t *nz, imgfmt_image *top)
{
    uint64_t end = off + len;
    while (off < end) {
        /* Skip units already known to be non-zero. */
        uint64_t u = (off - base) / unit;
        if (nz[u]) {
            off = ifmt_min(end, base + (u + 1) * unit);
            continue;
        }
        uint64_t n = 0;
        int st = layer_status(img, off, end - off, &n);
        if (st < 0)
            return pass_error(top, img, st);
        if (st == IFMT_ST_UNALLOC && img->backing) {
            imgfmt_image *b = img->backing;
            if (off < b->virtual_size) {
                uint64_t inb = ifmt_min(n, b->virtual_size - off);
                int r = zero_walk(b, off, inb, base, unit, buf, nz, top);
                if (r < 0)
                    return r;
            }
        } else if (st == IFMT_ST_DATA) {
            int r;
            if (img->drv->zero_probe) {
                r = img->drv->zero_probe(img, off, (size_t)n, base, unit, buf, nz);
            } else {
                uint8_t *p = buf + (off - base);
                r = img->drv->read_data(img, p, (size_t)n, off);
                if (r == 0)
                    ifmt_mark_nonzero(p, off, off + n, base, unit, nz);
            }
            if (r < 0)
                return pass_error(top, img, r);
        }
        off += n;
    }
    return IMGFMT_OK;
}

int ifmt_zero_units(imgfmt_image *img, uint64_t off, size_t len, size_t unit,
                    uint8_t *buf, uint8_t *nonzero)
{
    if (!img || (len && (!buf || !nonzero)))
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "ifmt_zero_units: NULL buffer")
                   : IMGFMT_E_INVAL;
    if (unit < 512 || !ifmt_is_pow2(unit) || off % unit || len % unit)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "ifmt_zero_units: range %llu+%zu not in units of %zu",
                          (unsigned long long)off, len, unit);
    memset(nonzero, 0, len / unit);
    uint64_t vs = img->virtual_size;
    size_t in = off >= vs ? 0 : (size_t)ifmt_min(len, vs - off);
    if (!in)
        return IMGFMT_OK;
    return zero_walk(img, off, in, off, unit, buf, nonzero, img);
}
