/*
 * fold.h -- private to core/: one layer's block status, checked, and
 * error passing up the backing chain (read.c, zero.c), and the opener
 * shared by the public calls and backing files (open.c, backing.c).
 */
#ifndef IMGFMT_CORE_FOLD_H
#define IMGFMT_CORE_FOLD_H

#include "core/driver.h"

/* Status of this layer only; clamps what the driver returns. */
int ifmt_layer_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len);
/* Copy an error from a backing image to img (one message per handle). */
int ifmt_pass_error(imgfmt_image *img, imgfmt_image *from, int r);
/* Open an image on io (owned from here on) at depth below the chain up. */
int ifmt_open_io(struct ifmt_io *io, const imgfmt_open_opts *opts, unsigned depth,
                 const struct ifmt_chain *up, imgfmt_image **out, imgfmt_error *err);

#endif
