/*
 * driver.h -- the input-driver contract: the ops table a format's driver
 * fills (formats/<fmt>.c), the helpers the core gives drivers, and the
 * driver table (formats/drivers.c) the core opens and probes through.
 */
#ifndef IMGFMT_CORE_DRIVER_H
#define IMGFMT_CORE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/image.h"

/* What a driver says about a run of its own layer. */
enum ifmt_status {
    IFMT_ST_DATA    = 1,  /* stored here: the driver's read_data serves it */
    IFMT_ST_ZERO    = 2,  /* reads as zeros here (zero cluster/grain, hole) */
    IFMT_ST_UNALLOC = 3   /* not stored here: the backing image, else zeros */
};

/* Score 0..100 from the first head_len bytes and the last tail_len bytes of
 * a file of file_size bytes.  Pure function of its inputs. */
typedef int ifmt_probe_fn(const uint8_t *head, size_t head_len,
                          const uint8_t *tail, size_t tail_len, uint64_t file_size);

struct ifmt_driver {
    const char *name;                 /* "raw", "vpc", "qcow2", "vmdk" (qemu's) */
    const char *alias;                /* another accepted name ("vhd"), or NULL */
    enum imgfmt_format format;

    ifmt_probe_fn *probe;             /* NULL: never probed (only forced) */

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

/* A format we recognise but do not read: the probe refuses it by name with
 * UNSUPPORTED and the fix (formats/unread.c).  Giving it a reader later is
 * one driver file, and its line moves from that table to the driver table. */
struct ifmt_probe_bytes {
    const uint8_t *head;              /* the first head_len bytes (up to
                                         IFMT_UNREAD_HEAD, longer than drivers get) */
    size_t head_len;
    const uint8_t *tail;              /* the last tail_len bytes */
    size_t tail_len;
    uint64_t file_size;
};
struct ifmt_unread_format {
    const char *name;                 /* "VirtualBox VDI image" */
    bool (*match)(const struct ifmt_probe_bytes *b);  /* pure: no I/O */
    const char *fix;                  /* "convert it with qemu-img convert -f vdi ..." */
};
#define IFMT_UNREAD_HEAD (36u << 10)  /* ISO 9660 descriptors start at 32 KiB */

/* ---- helpers for drivers (backing.c, zero.c) -------------------------- */

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
/* For zero_probe ops: p holds guest bytes [a, b); set nonzero[i] for each unit
 * of the grid at base (see struct ifmt_driver) that has a non-zero byte there. */
void ifmt_mark_nonzero(const uint8_t *p, uint64_t a, uint64_t b, uint64_t base,
                       size_t unit, uint8_t *nonzero);
/* True if every unit of the grid at base overlapping [a, b) is marked. */
bool ifmt_units_marked(uint64_t a, uint64_t b, uint64_t base, size_t unit,
                       const uint8_t *nonzero);

/* ---- the driver table (formats/drivers.c, formats/unread.c) ------------ */

const struct ifmt_driver *ifmt_driver_for(enum imgfmt_format f);
/* The driver named name (its name or alias), or NULL. */
const struct ifmt_driver *ifmt_driver_named(const char *name);
/* Best-scoring driver for an io (raw if none scores); UNSUPPORTED naming the
 * format when it is one we recognise but do not read. */
int ifmt_probe_io(struct ifmt_io *io, const struct ifmt_driver **out, imgfmt_error *err);
/* The known-but-unread format the bytes are, or NULL. */
const struct ifmt_unread_format *ifmt_unread_match(const struct ifmt_probe_bytes *b);

#endif
