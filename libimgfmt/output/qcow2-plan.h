/*
 * qcow2-plan.h -- the qcow2 layout planner shared by measure and the writer
 * (private to libimgfmt).
 *
 * Planning has two parts.  The scan walks the source's extents, reads the
 * DATA runs and records which output clusters hold a non-zero byte (and,
 * with compression, how long each compressed cluster is).  The layout
 * cursor (struct qp_cursor) then places L2 tables, data and refcount
 * blocks after the fixed header, refcount table, refcount block 0 and L1,
 * exactly as qemu's qcow2 driver does during `qemu-img convert`
 * (docs/formats.md, qcow2 convert layout and compressed output): a
 * frontier over a dense file, an L2 table allocated just before the first
 * data cluster it maps, a new refcount block right after the cluster that
 * opens a new refcount range, compressed streams packed byte-wise.  The
 * cursor is a pure function of the scan result, and it is
 * the only place that knows the layout: measure (qp_place_all), the
 * streaming writer and the seekable writer all walk it, so they agree.
 *
 * On-disk constants and encoders are in formats/qcow2.h.
 */
#ifndef IMGFMT_QCOW2_PLAN_H
#define IMGFMT_QCOW2_PLAN_H

#include <stdint.h>
#include <stddef.h>

#include "core/image.h"

/* A maximal run: count allocated guest clusters from first on. */
struct qp_run { uint64_t first, count; };

/* What the layout cursor places (struct qp_placed.kind). */
enum qp_placed_kind {
    QP_L2_TABLE = 1,      /* index: L2 range (L1 entry); a full cluster */
    QP_DATA_CLUSTER,      /* index: guest cluster, stored whole */
    QP_STREAM,            /* index: guest cluster, compressed stream of len bytes */
    QP_REFBLOCK           /* index: refcount block number; a full cluster */
};

/* One placed object. */
struct qp_placed {
    uint64_t host;        /* byte offset in the output */
    uint64_t index;       /* see enum qp_placed_kind */
    uint32_t len;         /* QP_STREAM: stream length; else the cluster size */
    uint32_t kind;
};

struct qp_compressor;     /* zlib/zstd state, one per thread */

struct qplan {
    imgfmt_qcow2_opts opts;       /* validated, defaults filled */

    /* Geometry of the output. */
    uint32_t cluster_size;        /* bytes */
    uint32_t cluster_bits;        /* log2(cluster_size) */
    uint32_t refcount_bits;       /* width of one refcount entry */
    uint64_t src_size;            /* imgfmt_virtual_size(src) */
    uint64_t virtual_size;        /* in the header: src_size rounded up to 512 */
    uint64_t guest_clusters;      /* virtual_size in clusters, rounded up */
    uint64_t l2_entries;          /* entries per L2 table = guest clusters per L2 range */
    uint64_t l1_entries;          /* = L2 ranges of the disk */
    uint64_t l1_clusters;         /* clusters the L1 table takes */
    uint64_t refblock_entries;    /* host clusters one refcount block describes */
    uint64_t refcount_max;        /* largest refcount the width holds */

    /* Scan result: the allocated guest clusters, as runs in guest order. */
    struct qp_run *runs;
    size_t nruns, runs_cap;
    uint64_t data_clusters;       /* allocated guest clusters */
    uint64_t l2_tables;           /* L2 ranges holding one of them */
    /* Compressed mode, per allocated cluster in guest order: its guest
     * cluster and its stream length (0: stored uncompressed). */
    uint64_t *comp_guest;
    uint32_t *comp_len;
    size_t ncomp_recorded, comp_cap;
    uint64_t compressed_clusters; /* those with a stream */

    /* qemu-img measure's "required" and the fast bound: the clusters
     * overlapping a DATA extent, and their L2 ranges. */
    uint64_t overlap_clusters, overlap_l2_ranges;

    /* Layout result (qp_place_all). */
    uint64_t *l2_host_cluster;    /* per L1 entry: host cluster of its L2 table, 0 = none */
    uint64_t used_clusters;       /* host clusters in use (the file is dense) */
    uint64_t refcount_blocks;
    uint64_t length;              /* exact output length */
    struct qp_placed *placed;     /* compressed mode: every object, sorted by host */
    size_t nplaced, placed_cap;

    uint64_t mem_used;            /* bytes allocated, against opts.max_plan_bytes */
    imgfmt_image *img;            /* errors go here */
};

/* Where the fixed metadata of a fresh image lies (host clusters): the
 * header, the refcount table (one cluster), refcount block 0, the L1
 * table (l1c clusters); allocation starts after it. */
#define QP_HEADER_CLUSTER    0u
#define QP_REFTABLE_CLUSTER  1u
#define QP_REFBLOCK0_CLUSTER 2u
#define QP_L1_CLUSTER        3u

static inline uint64_t qp_first_free_cluster(const struct qplan *p)
{
    return QP_L1_CLUSTER + p->l1_clusters;
}

/* Host cluster of refcount block k: block 0 is fixed, block k > 0 comes
 * right after the cluster that opens its range (see qcow2-plan.c). */
static inline uint64_t qp_refblock_cluster(const struct qplan *p, uint64_t k)
{
    return k == 0 ? QP_REFBLOCK0_CLUSTER : k * p->refblock_entries + 1;
}

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

/* Walk the layout cursor over the whole scan result: fills
 * l2_host_cluster, used_clusters, refcount_blocks, length and (compressed)
 * the placed objects sorted by host. */
int qp_place_all(struct qplan *p);

/* The closed formula (docs/formats.md, qcow2 exact length) for D data
 * clusters in nl2 L2 ranges (uncompressed); used for the fast bound and as
 * a cross-check. */
uint64_t qp_formula_length(const struct qplan *p, uint64_t D, uint64_t nl2);
/* qemu-img measure's fully-allocated figure (docs/formats.md, qemu-img
 * measure). */
uint64_t qp_fully_allocated(const struct qplan *p);

/*
 * The layout cursor: the one walk of qemu's allocator over the recorded
 * clusters (runs, and with compression the stream lengths), in guest order.
 * Each step places one allocated guest cluster and yields what that costs
 * in the file, in allocation order: the L2 table of a new L2 range, the
 * data (a whole cluster or a compressed stream), and a refcount block
 * right after any cluster that opens a new refcount range.  Uncompressed,
 * allocation order is file order; compressed, a stream can go back into
 * the partly used cluster of the previous one, so qp_place_all() keeps the
 * objects sorted by host (qplan.placed).
 * The cursor is small and copied for look-ahead.  It only reads the plan,
 * so it can follow a scan that is still recording.
 */
#define QP_MAX_PLACED 4   /* objects per guest cluster: L2, refblock, data, refblock */

struct qp_cursor {
    const struct qplan *p;
    /* where the walk is in the recorded clusters */
    size_t run;               /* index in p->runs */
    uint64_t guest;           /* next guest cluster to place */
    size_t comp_i;            /* compressed: index in p->comp_len */
    uint64_t l2_range;        /* L2 range of the last cluster, UINT64_MAX none */
    /* the allocator */
    uint64_t next_free;       /* first free host cluster (the file is dense) */
    uint64_t free_byte;       /* byte after the last stream, 0 = none open */
    uint64_t free_byte_refs;  /* refcount of free_byte's cluster (its streams) */
    uint64_t end;             /* file length so far (before rounding) */
    uint64_t refblocks;       /* refcount blocks allocated */
};

void qp_cursor_init(struct qp_cursor *c, const struct qplan *p);
/* Place the next recorded cluster: its objects go to out[] in allocation
 * order; returns how many (1..QP_MAX_PLACED), 0 when every cluster the
 * plan holds is placed. */
size_t qp_cursor_next(struct qp_cursor *c, struct qp_placed out[QP_MAX_PLACED]);
/* The first guest cluster after the run of the cluster last placed. */
uint64_t qp_cursor_run_end(const struct qp_cursor *c);
/* The output length for what is placed so far. */
uint64_t qp_cursor_length(const struct qp_cursor *c);

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
