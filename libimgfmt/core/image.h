/*
 * image.h -- the image handle and what every part of the library may do
 * with one: read its guest view, charge memory, record warnings.  The
 * driver contract (the ops behind img->drv) is core/driver.h.
 */
#ifndef IMGFMT_CORE_IMAGE_H
#define IMGFMT_CORE_IMAGE_H

#ifndef IMGFMT_BUILDING
#error "core/image.h is private to libimgfmt"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"
#include "core/error.h"
#include "core/io.h"
#include "core/util.h"

#define IFMT_DEFAULT_CHAIN_DEPTH   16u
#define IFMT_DEFAULT_METADATA_CAP  (256ull << 20)

struct ifmt_driver;

struct ifmt_warning {
    enum imgfmt_warning_code code;
    char *msg;
};

/* The chain of files being opened, for loop detection. */
struct ifmt_chain {
    uint64_t dev, ino;
    const struct ifmt_chain *up;
};

struct imgfmt_image {
    const struct ifmt_driver *drv;
    void *priv;
    struct ifmt_io *io;               /* the image file (owned) */
    imgfmt_open_opts opts;            /* copy; opts.member not kept */
    uint64_t virtual_size;
    imgfmt_image *backing;            /* owned; NULL if none */
    char *backing_name;               /* as stored; owned */
    char *backing_path;               /* resolved; owned */
    char *backing_fmt_name;           /* owned, may be NULL */
    unsigned depth;                   /* 0 for the top image */
    const struct ifmt_chain *chain;   /* files already open above us (loops) */
    struct ifmt_warning *warnings;    /* warning.c */
    uint32_t nb_warnings;
    uint64_t metadata_bytes;          /* charged against opts.max_metadata_bytes */
    imgfmt_error err;
};

/* warning.c */
/* Record a user-visible warning with its code (once: a repeat of the same
 * code and text is dropped); ignores allocation failure. */
void ifmt_warn(imgfmt_image *img, enum imgfmt_warning_code code, const char *fmt, ...)
    IFMT_PRINTF(3, 4);
void ifmt_warnings_free(imgfmt_image *img);

/* charge.c */
/* Charge n bytes of metadata memory; a LIMIT error naming what if over cap. */
int ifmt_charge(imgfmt_image *img, uint64_t n, const char *what);
void ifmt_uncharge(imgfmt_image *img, uint64_t n);
/* Strdup that records NOMEM. */
char *ifmt_strdup(imgfmt_image *img, const char *s);

/* read.c */
/* Read through the core (status + backing folding), for code that needs
 * to read an image's guest view; same contract as imgfmt_pread without
 * the range check. */
int ifmt_read(imgfmt_image *img, void *buf, size_t len, uint64_t off);

/* zero.c */
/* Which units of [off, off+len) of img's guest view (backing chain folded, as
 * imgfmt_pread sees it) contain a non-zero byte.  off and len are multiples of
 * unit (unit a power of two >= 512); bytes past the virtual size read as zeros.
 * nonzero[i] (len/unit entries) is set to 1 if unit i has a non-zero byte, else 0.
 * buf is len bytes of caller scratch; its contents afterwards are unspecified.
 * Returns 0 or a negative IMGFMT_E_* (error set on img). */
int ifmt_zero_units(imgfmt_image *img, uint64_t off, size_t len, size_t unit,
                    uint8_t *buf, uint8_t *nonzero);

#endif
