/*
 * backing.c -- other files an image refers to: backing files, VHD parents,
 * VMDK extent files.  Names resolve relative to the image; depth and loops
 * are checked; IMGFMT_OPEN_NO_EXTERNAL refuses them all.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fold.h"

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
    int r = ifmt_open_io(io, &o, img->depth + 1, &self, &b, &e);
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
