/*
 * open.c -- the public entry points that make, describe and close an image
 * handle: options, probing or the forced driver, info and the per-format
 * lists (dispatched to the driver).
 */
#define IMGFMT_BUILDING 1
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/fold.h"

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

/* ---- open / close --------------------------------------------------- */

int ifmt_open_io(struct ifmt_io *io, const imgfmt_open_opts *opts, unsigned depth,
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
        int r = ifmt_check_struct_size(err, "imgfmt_open_opts", opts->struct_size,
                                       sizeof *opts);
        if (r < 0) {
            free(img);
            ifmt_io_close(io);
            return r;
        }
        img->opts = *opts;
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
    return ifmt_open_io(io, opts, 0, NULL, out, err);
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
    return ifmt_open_io(io, opts, 0, NULL, out, err);
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
    return ifmt_open_io(io, opts, 0, NULL, out, err);
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

/* ---- info ------------------------------------------------------------ */

int imgfmt_get_info(imgfmt_image *img, imgfmt_info *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    int r = ifmt_check_struct_size(&img->err, "imgfmt_info", out->struct_size, sizeof *out);
    if (r < 0)
        return r;
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
