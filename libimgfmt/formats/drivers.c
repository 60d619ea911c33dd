/*
 * drivers.c -- the driver table, format names and probing.  The head and
 * the tail of the file are read once; each driver scores them; the highest
 * score wins and raw (which scores 1) is the last resort.  When only raw
 * bids, the table of formats we know but do not read (unread.c) is asked:
 * such a file is refused by name rather than read as raw bytes.
 *
 * Adding an input format: its driver file (formats/<fmt>.c, defining
 * ifmt_<fmt>_driver), one X(<fmt>) line below, and the file in meson.build.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"

/* Best first; raw last (it bids lowest).  One line per input format. */
#define IFMT_DRIVERS(X) \
    X(vmdk)             \
    X(vhd)              \
    X(qcow2)            \
    X(raw)

#define DECLARE(fmt) extern const struct ifmt_driver ifmt_##fmt##_driver;
IFMT_DRIVERS(DECLARE)
#define ENTRY(fmt) &ifmt_##fmt##_driver,
static const struct ifmt_driver *const drivers[] = {IFMT_DRIVERS(ENTRY)};

#define NDRIVERS (sizeof drivers / sizeof drivers[0])

#define PROBE_HEAD 4096u   /* VMDK descriptors need more than qemu's 512 */
#define PROBE_TAIL 1536u   /* VHD footer; VMDK stream footer + EOS */

const struct ifmt_driver *ifmt_driver_for(enum imgfmt_format f)
{
    for (size_t i = 0; i < NDRIVERS; i++)
        if (drivers[i]->format == f)
            return drivers[i];
    return NULL;
}

const struct ifmt_driver *ifmt_driver_named(const char *name)
{
    for (size_t i = 0; name && i < NDRIVERS; i++)
        if (strcmp(drivers[i]->name, name) == 0 ||
            (drivers[i]->alias && strcmp(drivers[i]->alias, name) == 0))
            return drivers[i];
    return NULL;
}

const char *imgfmt_format_name(enum imgfmt_format f)
{
    const struct ifmt_driver *d = ifmt_driver_for(f);
    return d && f != IMGFMT_FMT_UNKNOWN ? d->name : "unknown";
}

enum imgfmt_format imgfmt_format_from_name(const char *name)
{
    const struct ifmt_driver *d = ifmt_driver_named(name);
    return d ? d->format : IMGFMT_FMT_UNKNOWN;
}

static const struct ifmt_driver *best_driver(const uint8_t *head, size_t hlen,
                                             const uint8_t *tail, size_t tlen,
                                             uint64_t size, int *score)
{
    const struct ifmt_driver *best = NULL;
    *score = 0;
    for (size_t i = 0; i < NDRIVERS; i++) {
        int s = drivers[i]->probe ? drivers[i]->probe(head, hlen, tail, tlen, size) : 0;
        if (s > *score) {
            *score = s;
            best = drivers[i];
        }
    }
    return best;
}

static int refuse(const struct ifmt_unread_format *u, const struct ifmt_io *io,
                  imgfmt_error *err)
{
    return ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0,
                       "%s: %s, a format libimgfmt does not read: %s; or force the "
                       "format raw to read the file's bytes", io->path, u->name, u->fix);
}

int ifmt_probe_io(struct ifmt_io *io, const struct ifmt_driver **out, imgfmt_error *err)
{
    uint8_t tail[PROBE_TAIL];
    size_t hcap = IFMT_UNREAD_HEAD;
    size_t hlen = io->size < hcap ? (size_t)io->size : hcap;
    size_t tlen = io->size < PROBE_TAIL ? (size_t)io->size : PROBE_TAIL;
    uint8_t *head = malloc(hlen ? hlen : 1);
    if (!head)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "%s: out of memory for probing",
                           io->path);
    int e = 0, r = IMGFMT_OK;
    if (ifmt_io_pread(io, head, hlen, 0, &e) < 0 ||
        ifmt_io_pread(io, tail, tlen, io->size - tlen, &e) < 0) {
        free(head);
        return ifmt_seterr(err, IMGFMT_E_IO, e, "%s: cannot read for probing", io->path);
    }
    int score;
    size_t dlen = hlen < PROBE_HEAD ? hlen : PROBE_HEAD;
    const struct ifmt_driver *best = best_driver(head, dlen, tail, tlen, io->size, &score);
    const struct ifmt_driver *raw = ifmt_driver_for(IMGFMT_FMT_RAW);
    if (!best || best == raw) {
        struct ifmt_probe_bytes b = {head, hlen, tail, tlen, io->size};
        const struct ifmt_unread_format *u = ifmt_unread_match(&b);
        if (u)
            r = refuse(u, io, err);
    }
    free(head);
    if (r == IMGFMT_OK && !best)
        r = ifmt_seterr(err, IMGFMT_E_UNKNOWN_FORMAT, 0, "%s: unknown image format",
                        io->path);
    if (r == IMGFMT_OK)
        *out = best;
    return r;
}
