/*
 * qcow2-plan.h -- the qcow2 layout planner shared by measure and the writer
 * (private to libimgfmt).
 *
 * Planning has two parts.  The scan walks the source's extents, reads the
 * DATA runs and records which output clusters hold a non-zero byte (and,
 * with compression, how long each compressed cluster is).  The allocator
 * simulation then places header, refcount table, refcount blocks, L1, L2
 * tables and data exactly as qemu's qcow2 driver does during
 * `qemu-img convert` (docs/formats.md, qcow2 convert layout and compressed output): a frontier cursor over a
 * dense file, an L2 table allocated just before the first data cluster it
 * maps, a new refcount block right after the cluster that opens a new
 * refcount range, compressed streams packed byte-wise.  The simulation is
 * a pure function of the scan result, so measure and writer agree.
 */
#ifndef IMGFMT_QCOW2_PLAN_H
#define IMGFMT_QCOW2_PLAN_H

#include <stdint.h>
#include <stddef.h>

#include "core/image.h"

struct qp_run { uint64_t g, n; };     /* n allocated guest clusters from g */

enum qp_ev_kind { QP_EV_L2 = 1, QP_EV_FULL, QP_EV_COMP, QP_EV_REFBLOCK };

/* One placed object (compressed mode keeps them all, sorted by host). */
struct qp_event {
    uint64_t host;        /* byte offset in the output */
    uint64_t idx;         /* L2: range index; FULL/COMP: guest cluster;
                             REFBLOCK: refcount range */
    uint32_t len;         /* COMP: stream length; else cluster size */
    uint32_t kind;
};

struct qp_compressor;     /* zlib/zstd state, one per thread */

struct qplan {
    imgfmt_qcow2_opts o;
    uint32_t cs, cbits, rbits;
    uint64_t src_size;    /* imgfmt_virtual_size(src) */
    uint64_t vsize;       /* header size: src_size rounded up to 512 */
    uint64_t nguest;      /* guest clusters: ceil(vsize / cs) */
    uint64_t l2e, l1, l1c, per;
    uint64_t refmax;

    /* Scan result: runs of allocated guest clusters, in order. */
    struct qp_run *runs;
    size_t nruns, runs_cap;
    uint64_t D;           /* allocated clusters */
    uint64_t nl2;         /* L2 ranges with data */
    /* Compressed mode: per allocated cluster (in order), its guest index
     * and stream length (0 = stored uncompressed). */
    uint64_t *cg;
    uint32_t *clen;
    size_t nc, c_cap;
    uint64_t ncomp;

    /* qemu-img measure figures and the fast bound. */
    uint64_t A, A_l2;     /* clusters overlapping DATA, their L2 ranges */

    /* Simulation result. */
    uint64_t *l2_host;    /* per L1 entry: host cluster of the L2, 0 = none */
    uint64_t F;           /* host clusters used */
    uint64_t nrb;         /* refcount blocks */
    uint64_t length;      /* exact output length */
    struct qp_event *ev;  /* compressed mode: every object, sorted by host */
    size_t nev, ev_cap;

    uint64_t mem;         /* bytes allocated, against o.max_plan_bytes */
    imgfmt_image *img;    /* errors go here */
};

/* The allocator state: small, copied for look-ahead. */
struct qsim {
    uint64_t F, fb, fb_ref, end, nrb, cur_l2;
};

/* Validate opts and fill the geometry for src.  0 or an error (on img). */
int qp_init(struct qplan *p, imgfmt_image *img, const imgfmt_qcow2_opts *o);
void qp_free(struct qplan *p);

/* The incremental scan. */
struct qscan;
int qp_scan_new(struct qplan *p, int exact, struct qscan **out);
/* Scan at most budget bytes of source; 1 when finished, 0 more, <0 error.
 * *done: source bytes covered so far. */
int qp_scan_step(struct qscan *sc, uint64_t budget, uint64_t *done);
void qp_scan_free(struct qscan *sc);
/* Exact scans only: fn is called for every allocated cluster, in guest
 * order, once it is recorded: data is its cs bytes (zeros past the source's
 * end), and with compression cdata/clen its stream (clen 0: stored
 * uncompressed).  Both point into scan buffers that stay valid until fn is
 * called with data == NULL, at the end of each chunk.  A negative return
 * stops the scan with that code. */
typedef int qp_emit_fn(void *ctx, uint64_t g, const uint8_t *data,
                       const uint8_t *cdata, int clen);
void qp_scan_set_emit(struct qscan *sc, qp_emit_fn *fn, void *ctx);

/* Run the allocator simulation over the scan result: fills l2_host, F,
 * nrb, length, and (compressed) the sorted event list. */
int qp_simulate(struct qplan *p);

/* The closed formula of docs/formats.md, qcow2 exact length for D clusters in nl2 L2 ranges
 * (uncompressed); used for the fast bound and as a cross-check. */
uint64_t qp_formula_length(const struct qplan *p, uint64_t D, uint64_t nl2);
/* qemu-img measure's fully-allocated figure (docs/formats.md, qemu-img measure). */
uint64_t qp_fully_allocated(const struct qplan *p);

/* Allocator primitives (also used by the writer for look-ahead). */
void qs_init(struct qsim *s, const struct qplan *p);
/* One cluster at the frontier; *rb set to the host cluster of a refcount
 * block allocated with it (right after it), else 0. */
uint64_t qs_cluster(struct qsim *s, const struct qplan *p, uint64_t *rb);
/* Host byte offset of a compressed stream of len bytes; *rb as above. */
uint64_t qs_bytes(struct qsim *s, const struct qplan *p, uint32_t len, uint64_t *rb);
/* The output length the simulation state s stands for. */
uint64_t qs_length(const struct qsim *s, const struct qplan *p);

/* Compression of one cluster (src is cs bytes) into cs-1 bytes at most;
 * returns the length, 0 if it does not fit (stored uncompressed), or <0. */
struct qp_compressor *qp_compressor_new(const struct qplan *p);
void qp_compressor_free(struct qp_compressor *c);
int qp_compress(struct qp_compressor *c, const uint8_t *src, uint8_t *dst);

/* A pool of compression workers (threads - 1 threads plus the caller). */
struct qp_pool;
int qp_pool_new(const struct qplan *p, unsigned threads, struct qp_pool **out);
/* Compress n clusters: src[i] (cs bytes each) -> dst[i], lens[i]. */
int qp_pool_run(struct qp_pool *pool, size_t n, uint8_t *const *src,
                uint8_t *const *dst, int *lens);
void qp_pool_free(struct qp_pool *pool);

#endif
