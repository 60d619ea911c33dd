/*
 * window.h -- reading the image's own files for drivers: exact metadata
 * reads, zero-filled reads, and a read window over one file.
 */
#ifndef IMGFMT_CORE_WINDOW_H
#define IMGFMT_CORE_WINDOW_H

#include "core/image.h"

/* Read a byte range of img->io exactly; CORRUPT naming `what` if it runs past
 * EOF, IO on a read error. */
int ifmt_pread_meta(imgfmt_image *img, void *buf, size_t len, uint64_t off,
                    const char *what);
/* Read [off, off+len) of io (img's file or one of its extent files); the
 * part past the end of the file reads as zeros.  IO error naming the file. */
int ifmt_pread_zero_fill(imgfmt_image *img, struct ifmt_io *io, void *buf, size_t len,
                         uint64_t off);

/* A read window over one file: consecutive compressed clusters/grains are
 * read with one pread and inflated from the buffer.  Zeroed = empty. */
struct ifmt_win {
    uint8_t *buf;
    size_t cap;                       /* allocated bytes */
    uint64_t charged;
    const struct ifmt_io *io;         /* the file buf holds bytes of; NULL = none */
    uint64_t off;                     /* file offset of buf[0] */
    size_t len;                       /* valid bytes (zeros past the end of the file) */
};
#define IFMT_WIN_BYTES (1u << 20)
/* *out = the bytes [off, off+need) of io (zeros past its end), from the window
 * if it holds them, else after reading [off, off + max(need, want)) into it
 * (want is capped to IFMT_WIN_BYTES, or to need if the metadata cap does not
 * allow a full window).  Valid until the next call.  IO / LIMIT / NOMEM. */
int ifmt_win_get(imgfmt_image *img, struct ifmt_win *w, struct ifmt_io *io, uint64_t off,
                 size_t need, size_t want, const uint8_t **out);
/* True if the window holds [off, off+need) of io. */
static inline bool ifmt_win_has(const struct ifmt_win *w, const struct ifmt_io *io,
                                uint64_t off, size_t need)
{
    return w->io == io && off >= w->off && off - w->off <= w->len &&
           need <= w->len - (off - w->off);
}
/* Forget the contents (e.g. after the file changed hands). */
static inline void ifmt_win_reset(struct ifmt_win *w) { w->io = NULL; w->len = 0; }
void ifmt_win_free(imgfmt_image *img, struct ifmt_win *w);

#endif
