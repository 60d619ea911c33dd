/*
 * drivers.c -- the driver table and probing.  The head and the tail of the
 * file are read once; each driver scores them; the highest score wins and
 * raw (which scores 1) is the last resort.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define PROBE_HEAD 4096u   /* VMDK descriptors need more than qemu's 512 */
#define PROBE_TAIL 1536u   /* VHD footer; VMDK stream footer + EOS */

static const struct ifmt_driver *const drivers[] = {
    &ifmt_vmdk_driver,
    &ifmt_vhd_driver,
    &ifmt_qcow2_driver,
    &ifmt_raw_driver,      /* keep last: it bids lowest */
};

#define NDRIVERS (sizeof drivers / sizeof drivers[0])

const struct ifmt_driver *ifmt_driver_for(enum imgfmt_format f)
{
    for (size_t i = 0; i < NDRIVERS; i++)
        if (drivers[i]->format == f)
            return drivers[i];
    return NULL;
}

int ifmt_probe_io(struct ifmt_io *io, const struct ifmt_driver **out, imgfmt_error *err)
{
    uint8_t head[PROBE_HEAD], tail[PROBE_TAIL];
    size_t hlen = io->size < PROBE_HEAD ? (size_t)io->size : PROBE_HEAD;
    size_t tlen = io->size < PROBE_TAIL ? (size_t)io->size : PROBE_TAIL;
    int e = 0;
    if (ifmt_io_pread(io, head, hlen, 0, &e) < 0 ||
        ifmt_io_pread(io, tail, tlen, io->size - tlen, &e) < 0)
        return ifmt_seterr(err, IMGFMT_E_IO, e, "%s: cannot read for probing", io->path);
    const struct ifmt_driver *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < NDRIVERS; i++) {
        int s = drivers[i]->probe ? drivers[i]->probe(head, hlen, tail, tlen, io->size) : 0;
        if (s > best_score) {
            best_score = s;
            best = drivers[i];
        }
    }
    if (!best)
        return ifmt_seterr(err, IMGFMT_E_UNKNOWN_FORMAT, 0, "%s: unknown image format",
                           io->path);
    *out = best;
    return IMGFMT_OK;
}
