/*
 * internal.h -- private to libimgfmt: the image handle, the driver ops
 * table and the helpers every driver uses.
 */
#ifndef IMGFMT_INTERNAL_H
#define IMGFMT_INTERNAL_H

#ifndef IMGFMT_BUILDING
#error "internal.h is private to libimgfmt"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"
#include "core/io.h"

#define IFMT_DEFAULT_CHAIN_DEPTH   16u
#define IFMT_DEFAULT_METADATA_CAP  (256ull << 20)

#if defined(__GNUC__) || defined(__clang__)
#define IFMT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IFMT_PRINTF(a, b)
#endif

/* What a driver says about a run of its own layer. */
enum ifmt_status {
    IFMT_ST_DATA    = 1,  /* stored here: the driver's read_data serves it */
    IFMT_ST_ZERO    = 2,  /* reads as zeros here (zero cluster/grain, hole) */
    IFMT_ST_UNALLOC = 3   /* not stored here: the backing image, else zeros */
};

struct ifmt_driver {
    const char *name;                 /* "raw", "vpc", "qcow2", "vmdk" */
    enum imgfmt_format format;

    /* Score 0..100 from the first head_len bytes and the last tail_len
     * bytes of a file of file_size bytes.  Pure function of its inputs. */
    int (*probe)(const uint8_t *head, size_t head_len,
                 const uint8_t *tail, size_t tail_len, uint64_t file_size);

    /* Parse img->io, set img->virtual_size and img->priv; may open a
     * backing image with ifmt_open_backing().  On failure, record the
     * error with ifmt_error() and return it; close() is then called. */
    int (*open)(imgfmt_image *img);

    /* The status of [off, off+max) in this layer: *len (>= 1, <= max) bytes
     * from off share the returned IFMT_ST_* value.  The core guarantees
     * off < virtual_size and off+max <= virtual_size.  May be NULL: all DATA. */
    int (*block_status)(imgfmt_image *img, uint64_t off, uint64_t max,
                        uint64_t *len);

    /* Read a range the driver reported as IFMT_ST_DATA (the core never asks
     * for bytes across a status change).  Returns 0 or an error code. */
    int (*read_data)(imgfmt_image *img, void *buf, size_t len, uint64_t off);

    /* Fill driver-specific parts of the info struct (may be NULL). */
    void (*info)(imgfmt_image *img, imgfmt_info *out);

    /* Optional lists: qcow2 internal snapshots, VMDK extents (NULL: none). */
    int (*snapshot)(imgfmt_image *img, uint32_t i, imgfmt_snapshot *out);
    int (*vmdk_extent)(imgfmt_image *img, uint32_t i, imgfmt_vmdk_extent *out);

    /* Free img->priv (may be called after a failed open). */
    void (*close)(imgfmt_image *img);

    /* Optional, for ifmt_zero_units: which units hold a non-zero byte in
     * [off, off+len), a range this layer reported as IFMT_ST_DATA.  The unit
     * grid starts at base (base <= off, off+len <= base + len of the caller's
     * range): unit i is [base + i*unit, base + (i+1)*unit), and guest byte x
     * maps to buf[x - base], which the op may use as scratch for its part of
     * the range.  Set nonzero[i] = 1 for each unit with a non-zero byte in the
     * range (never clear an entry; units already 1 need not be looked at).
     * A compressed cluster may be inflated only until its units are decided:
     * damage after that point is then not reported (a read would report it).
     * Returns 0 or an error code (error set on img).  NULL: read_data. */
    int (*zero_probe)(imgfmt_image *img, uint64_t off, size_t len, uint64_t base,
                      size_t unit, uint8_t *buf, uint8_t *nonzero);
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

struct ifmt_warning {
    enum imgfmt_warning_code code;
    char *msg;
};

/* The chain of files being opened, for loop detection. */
struct ifmt_chain {
    uint64_t dev, ino;
    const struct ifmt_chain *up;
};

/* error.c */
int ifmt_error(imgfmt_image *img, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
int ifmt_error_errno(imgfmt_image *img, int code, int sys_errno,
                     const char *fmt, ...) IFMT_PRINTF(4, 5);
int ifmt_seterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, ...)
    IFMT_PRINTF(4, 5);
int ifmt_vseterr(imgfmt_error *e, int code, int sys_errno, const char *fmt, va_list ap);

/* warning.c */
/* Record a user-visible warning with its code (once: a repeat of the same
 * code and text is dropped); ignores allocation failure. */
void ifmt_warn(imgfmt_image *img, enum imgfmt_warning_code code, const char *fmt, ...)
    IFMT_PRINTF(3, 4);
void ifmt_warnings_free(imgfmt_image *img);

/* image.c */
/* Charge n bytes of metadata memory; a LIMIT error naming what if over cap. */
int ifmt_charge(imgfmt_image *img, uint64_t n, const char *what);
void ifmt_uncharge(imgfmt_image *img, uint64_t n);
/* Resolve name (relative to img's file) into a newly allocated path, honouring
 * IMGFMT_OPEN_NO_EXTERNAL.  what names the reference for messages
 * ("backing file", "parent", "extent file"). */
int ifmt_resolve_path(imgfmt_image *img, const char *name, const char *what,
                      char **out);
/* Open path as img's backing image (format fmt, UNKNOWN = probe) with depth and
 * loop checks; sets img->backing and img->backing_path. */
int ifmt_open_backing(imgfmt_image *img, const char *path, enum imgfmt_format fmt);
/* Open another file read-only relative to img (extent files) with the same
 * checks; the caller owns the io. */
int ifmt_open_related_io(imgfmt_image *img, const char *path, struct ifmt_io **out);
/* Read through the core (status + backing folding), for drivers that need
 * to read their own layer recursively; same contract as imgfmt_pread. */
int ifmt_read(imgfmt_image *img, void *buf, size_t len, uint64_t off);
/* Read a byte range of img->io exactly; CORRUPT naming `what` if it runs past
 * EOF, IO on a read error. */
int ifmt_pread_meta(imgfmt_image *img, void *buf, size_t len, uint64_t off,
                    const char *what);
/* Read [off, off+len) of io (img's file or one of its extent files); the
 * part past the end of the file reads as zeros.  IO error naming the file. */
int ifmt_pread_zero_fill(imgfmt_image *img, struct ifmt_io *io, void *buf, size_t len,
                         uint64_t off);
/* Which units of [off, off+len) of img's guest view (backing chain folded, as
 * imgfmt_pread sees it) contain a non-zero byte.  off and len are multiples of
 * unit (unit a power of two >= 512); bytes past the virtual size read as zeros.
 * nonzero[i] (len/unit entries) is set to 1 if unit i has a non-zero byte, else 0.
 * buf is len bytes of caller scratch; its contents afterwards are unspecified.
 * Returns 0 or a negative IMGFMT_E_* (error set on img). */
int ifmt_zero_units(imgfmt_image *img, uint64_t off, size_t len, size_t unit,
                    uint8_t *buf, uint8_t *nonzero);
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
/* For zero_probe ops: p holds guest bytes [a, b); set nonzero[i] for each unit
 * of the grid at base (see struct ifmt_driver) that has a non-zero byte there. */
void ifmt_mark_nonzero(const uint8_t *p, uint64_t a, uint64_t b, uint64_t base,
                       size_t unit, uint8_t *nonzero);
/* True if every unit of the grid at base overlapping [a, b) is marked. */
bool ifmt_units_marked(uint64_t a, uint64_t b, uint64_t base, size_t unit,
                       const uint8_t *nonzero);
/* Strdup that records NOMEM. */
char *ifmt_strdup(imgfmt_image *img, const char *s);

/* drivers.c */
extern const struct ifmt_driver ifmt_raw_driver;
extern const struct ifmt_driver ifmt_vmdk_driver;
extern const struct ifmt_driver ifmt_vhd_driver;
extern const struct ifmt_driver ifmt_qcow2_driver;
const struct ifmt_driver *ifmt_driver_for(enum imgfmt_format f);
/* Best-scoring driver for an io (raw if none scores). */
int ifmt_probe_io(struct ifmt_io *io, const struct ifmt_driver **out, imgfmt_error *err);

/* utilities */
static inline bool ifmt_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }
static inline uint64_t ifmt_min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t ifmt_max(uint64_t a, uint64_t b) { return a > b ? a : b; }
/* True if all len bytes of p are zero (fast). */
bool ifmt_is_zero(const void *p, size_t len);

#endif
