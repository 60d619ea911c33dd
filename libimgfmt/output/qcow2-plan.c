/*
 * qcow2-plan.c -- the one qcow2 layout planner: scan (which output clusters
 * hold data, how long they compress), the layout cursor (where qemu's
 * qcow2 driver puts everything), and imgfmt_measure_qcow2().  See
 * qcow2-plan.h and docs/formats.md, qcow2 convert layout and qemu-img
 * measure.
 *
 * Refcount blocks after the first: qemu puts a new refcount block either
 * after the allocation run that first touches a new 2 GiB (64 KiB clusters)
 * range, or at the range start, depending on how qemu-img happened to split
 * its write requests.  The file stays dense either way, so the number of
 * refcount blocks, and the length, are the same; we always put it right
 * after the first cluster of the range (qemu's placement for one-cluster
 * allocations, which is exact for compressed output).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imgfmt-config.h"
#if IMGFMT_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "core/checked.h"
#include "formats/qcow2.h"
#include "output/qcow2-plan.h"

#define QP_DEFAULT_CAP (512ull << 20)
#define QP_CHUNK       (2ull << 20)    /* scan read size (qemu-img's buffer) */

void imgfmt_qcow2_opts_init(imgfmt_qcow2_opts *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->cluster_size = 65536;
    o->compat_v3 = 1;
    o->refcount_bits = 16;
    o->compression_type = IMGFMT_QCOW2_ZLIB;
    o->threads = 1;
    o->max_plan_bytes = QP_DEFAULT_CAP;
}

/* ---- geometry and options ------------------------------------------ */

/* Take the caller's options (defaults for what is 0) and check them. */
static int plan_set_opts(struct qplan *p, imgfmt_image *img, const imgfmt_qcow2_opts *o)
{
    imgfmt_qcow2_opts_init(&p->opts);
    if (o) {
        int r = ifmt_check_struct_size(&img->err, "imgfmt_qcow2_opts", o->struct_size,
                                       sizeof *o);
        if (r < 0)
            return r;
        p->opts = *o;
    }
    if (!p->opts.max_plan_bytes)
        p->opts.max_plan_bytes = QP_DEFAULT_CAP;
    if (!p->opts.threads)
        p->opts.threads = 1;
    uint32_t cs = p->opts.cluster_size;
    if (!ifmt_is_pow2(cs) || cs < (1u << QCOW2_MIN_CLUSTER_BITS) ||
        cs > (1u << QCOW2_MAX_CLUSTER_BITS))
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: cluster_size %u is not a power of two in 512..2M", cs);
    uint32_t rb = p->opts.refcount_bits;
    if (!ifmt_is_pow2(rb) || rb > 64)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: refcount_bits %u is not a power of two in 1..64", rb);
    if (!p->opts.compat_v3 && rb != 16)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: refcount_bits %u needs compat 1.1 (0.10 has 16 only)", rb);
    if (p->opts.compression_type != IMGFMT_QCOW2_ZLIB) {
        if (p->opts.compression_type != IMGFMT_QCOW2_ZSTD)
            return ifmt_error(img, IMGFMT_E_INVAL, "qcow2 output: compression_type %d unknown",
                              (int)p->opts.compression_type);
        if (!p->opts.compat_v3)
            return ifmt_error(img, IMGFMT_E_INVAL,
                              "qcow2 output: compression_type zstd needs compat 1.1");
#if !IMGFMT_HAVE_ZSTD
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: compression_type zstd: built without libzstd");
#endif
    }
    if (p->opts.threads > 256)
        return ifmt_error(img, IMGFMT_E_INVAL, "qcow2 output: threads %u > 256", p->opts.threads);
    return 0;
}

int qp_init(struct qplan *p, imgfmt_image *img, const imgfmt_qcow2_opts *o)
{
    memset(p, 0, sizeof *p);
    p->img = img;
    int r = plan_set_opts(p, img, o);
    if (r < 0)
        return r;
    uint32_t cs = p->opts.cluster_size, rb = p->opts.refcount_bits;
    p->cluster_size = cs;
    p->cluster_bits = (uint32_t)__builtin_ctz(cs);
    p->refcount_bits = rb;
    p->refcount_max = rb == 64 ? UINT64_MAX : (1ull << rb) - 1;
    p->src_size = imgfmt_virtual_size(img);
    if (ifmt_round_up_overflow(p->src_size, 512, &p->virtual_size) ||
        p->virtual_size > (1ull << 62))
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED, "qcow2 output: virtual size %llu too large",
                          (unsigned long long)p->src_size);
    p->guest_clusters = ifmt_div_round_up(p->virtual_size, cs);
    p->l2_entries = cs / 8;
    p->l1_entries = ifmt_div_round_up(p->guest_clusters, p->l2_entries);
    if (p->l1_entries * 8 > QCOW2_MAX_L1_BYTES)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: virtual size %llu needs %llu L1 entries "
                          "(qemu's cap is %llu)",
                          (unsigned long long)p->virtual_size, (unsigned long long)p->l1_entries,
                          (unsigned long long)(QCOW2_MAX_L1_BYTES / 8));
    p->l1_clusters = ifmt_div_round_up(p->l1_entries * 8, cs);
    p->refblock_entries = (uint64_t)cs * 8 / rb;
    /* The first refcount block must describe header, tables and L1;
     * otherwise qemu allocates refcount blocks while creating the image,
     * which we do not model. */
    if (qp_first_free_cluster(p) >= p->refblock_entries)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: cluster_size %u with refcount_bits %u: the L1 table of "
                          "%llu clusters outgrows the first refcount block", cs, rb,
                          (unsigned long long)p->l1_clusters);
    p->l2_host_cluster = calloc(p->l1_entries ? p->l1_entries : 1, sizeof *p->l2_host_cluster);
    if (!p->l2_host_cluster)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2 output: out of memory (L1 of %llu entries)",
                          (unsigned long long)p->l1_entries);
    p->mem_used = p->l1_entries * 8;
    return 0;
}

void qp_free(struct qplan *p)
{
    free(p->runs);
    free(p->comp_guest);
    free(p->comp_len);
    free(p->l2_host_cluster);
    free(p->placed);
    memset(p, 0, sizeof *p);
}

/* Grow an array, charged against the plan's memory cap. */
static int qp_grow(struct qplan *p, void **arr, size_t *cap, size_t elem, const char *what)
{
    size_t ncap = *cap ? *cap * 2 : 1024;
    uint64_t add = (uint64_t)(ncap - *cap) * elem;
    if (p->mem_used + add > p->opts.max_plan_bytes)
        return ifmt_error(p->img, IMGFMT_E_LIMIT,
                          "qcow2 output: planner memory for %s exceeds the cap of %llu bytes",
                          what, (unsigned long long)p->opts.max_plan_bytes);
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return ifmt_error(p->img, IMGFMT_E_NOMEM, "qcow2 output: out of memory (%s)", what);
    *arr = n;
    *cap = ncap;
    p->mem_used += add;
    return 0;
}

static int qp_add_cluster(struct qplan *p, uint64_t g)
{
    struct qp_run *last = p->nruns ? &p->runs[p->nruns - 1] : NULL;
    if (!last || (last->first + last->count - 1) / p->l2_entries != g / p->l2_entries)
        p->l2_tables++;
    if (last && last->first + last->count == g) {
        last->count++;
    } else {
        if (p->nruns == p->runs_cap &&
            qp_grow(p, (void **)&p->runs, &p->runs_cap, sizeof *p->runs, "cluster runs") < 0)
            return p->img->err.code;
        p->runs[p->nruns].first = g;
        p->runs[p->nruns].count = 1;
        p->nruns++;
    }
    p->data_clusters++;
    return 0;
}

static int qp_add_comp(struct qplan *p, uint64_t g, int len)
{
    if (p->ncomp_recorded == p->comp_cap) {
        size_t cap1 = p->comp_cap, cap2 = p->comp_cap;
        const char *what = "compressed clusters";
        if (qp_grow(p, (void **)&p->comp_guest, &cap1, sizeof *p->comp_guest, what) < 0 ||
            qp_grow(p, (void **)&p->comp_len, &cap2, sizeof *p->comp_len, what) < 0)
            return p->img->err.code;
        p->comp_cap = cap1 < cap2 ? cap1 : cap2;
    }
    p->comp_guest[p->ncomp_recorded] = g;
    p->comp_len[p->ncomp_recorded] = (uint32_t)len;
    p->ncomp_recorded++;
    if (len > 0)
        p->compressed_clusters++;
    return qp_add_cluster(p, g);
}

/* ---- compression --------------------------------------------------- */

struct qp_compressor {
    const struct qplan *p;
    z_stream z;
    int z_ok;
#if IMGFMT_HAVE_ZSTD
    ZSTD_CCtx *zc;
#endif
};

struct qp_compressor *qp_compressor_new(const struct qplan *p)
{
    struct qp_compressor *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->p = p;
    if (p->opts.compression_type == IMGFMT_QCOW2_ZLIB) {
        /* qemu's qcow2_compress(): raw deflate, 4 KiB window, memLevel 9. */
        if (deflateInit2(&c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            free(c);
            return NULL;
        }
        c->z_ok = 1;
    }
#if IMGFMT_HAVE_ZSTD
    else {
        c->zc = ZSTD_createCCtx();
        if (!c->zc) {
            free(c);
            return NULL;
        }
    }
#endif
    return c;
}

void qp_compressor_free(struct qp_compressor *c)
{
    if (!c)
        return;
    if (c->z_ok)
        deflateEnd(&c->z);
#if IMGFMT_HAVE_ZSTD
    ZSTD_freeCCtx(c->zc);
#endif
    free(c);
}

int qp_compress(struct qp_compressor *c, const uint8_t *src, uint8_t *dst)
{
    uint32_t cs = c->p->cluster_size;
    if (c->z_ok) {
        if (deflateReset(&c->z) != Z_OK)
            return -1;
        c->z.next_in = (Bytef *)(uintptr_t)src;
        c->z.avail_in = cs;
        c->z.next_out = dst;
        c->z.avail_out = cs - 1;
        int r = deflate(&c->z, Z_FINISH);
        if (r == Z_STREAM_END)
            return (int)(cs - 1 - c->z.avail_out);
        return r == Z_OK || r == Z_BUF_ERROR ? 0 : -1;
    }
#if IMGFMT_HAVE_ZSTD
    /* qemu's qcow2_zstd_compress(): one ZSTD_e_end call, default level. */
    ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_and_parameters);
    ZSTD_outBuffer out = {dst, cs - 1, 0};
    ZSTD_inBuffer in = {src, cs, 0};
    size_t r = ZSTD_compressStream2(c->zc, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? 0 : -1;
    if (r != 0)
        return 0;
    return (int)out.pos;
#else
    (void)dst;
    return -1;
#endif
}

/* A small fixed pool; the caller is worker 0.  Workers take the next item
 * as they become free (clusters compress at different speeds); each result
 * depends on its item alone, so the output does not depend on who did it. */
struct qp_pool {
    const struct qplan *p;
    unsigned n;                       /* workers including the caller */
    struct qp_compressor **comp;
    pthread_t *th;
    unsigned nth;                     /* threads started */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    unsigned pending;
    int stop, failed;
    size_t items;
    atomic_size_t next;               /* next item to take */
    uint8_t *const *src;
    uint8_t *const *dst;
    int *lens;
};

struct qp_worker_arg { struct qp_pool *pool; unsigned id; };

static void pool_work(struct qp_pool *pl, unsigned id)
{
    size_t i;
    while ((i = atomic_fetch_add(&pl->next, 1)) < pl->items)
        pl->lens[i] = qp_compress(pl->comp[id], pl->src[i], pl->dst[i]);
}

static void *pool_main(void *arg)
{
    struct qp_worker_arg *a = arg;
    struct qp_pool *pl = a->pool;
    unsigned id = a->id;
    free(a);
    uint64_t seen = 0;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->stop && pl->gen == seen)
            pthread_cond_wait(&pl->go, &pl->mu);
        if (pl->stop)
            break;
        seen = pl->gen;
        pthread_mutex_unlock(&pl->mu);
        pool_work(pl, id);
        pthread_mutex_lock(&pl->mu);
        if (--pl->pending == 0)
            pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

int qp_pool_new(const struct qplan *p, unsigned threads, struct qp_pool **out)
{
    *out = NULL;
    struct qp_pool *pl = calloc(1, sizeof *pl);
    if (!pl)
        return IMGFMT_E_NOMEM;
    pl->p = p;
    pl->n = threads ? threads : 1;
    pl->comp = calloc(pl->n, sizeof *pl->comp);
    pl->th = calloc(pl->n, sizeof *pl->th);
    if (!pl->comp || !pl->th) {
        qp_pool_free(pl);
        return IMGFMT_E_NOMEM;
    }
    for (unsigned i = 0; i < pl->n; i++)
        if (!(pl->comp[i] = qp_compressor_new(p))) {
            qp_pool_free(pl);
            return IMGFMT_E_NOMEM;
        }
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->go, NULL);
    pthread_cond_init(&pl->done, NULL);
    for (unsigned i = 1; i < pl->n; i++) {
        struct qp_worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->pool = pl;
            a->id = i;
        }
        if (!a || pthread_create(&pl->th[pl->nth], NULL, pool_main, a) != 0) {
            free(a);
            pl->n = pl->nth + 1;      /* run with the threads we have */
            break;
        }
        pl->nth++;
    }
    *out = pl;
    return 0;
}

int qp_pool_run(struct qp_pool *pl, size_t n, uint8_t *const *src, uint8_t *const *dst,
                int *lens)
{
    pthread_mutex_lock(&pl->mu);
    pl->items = n;
    atomic_store(&pl->next, 0);
    pl->src = src;
    pl->dst = dst;
    pl->lens = lens;
    pl->pending = pl->nth;
    pl->gen++;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    pool_work(pl, 0);
    pthread_mutex_lock(&pl->mu);
    while (pl->pending)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
    for (size_t i = 0; i < n; i++)
        if (lens[i] < 0)
            return IMGFMT_E_IO;
    return 0;
}

void qp_pool_free(struct qp_pool *pl)
{
    if (!pl)
        return;
    if (pl->nth) {
        pthread_mutex_lock(&pl->mu);
        pl->stop = 1;
        pthread_cond_broadcast(&pl->go);
        pthread_mutex_unlock(&pl->mu);
        for (unsigned i = 0; i < pl->nth; i++)
            pthread_join(pl->th[i], NULL);
    }
    if (pl->th) {
        pthread_mutex_destroy(&pl->mu);
        pthread_cond_destroy(&pl->go);
        pthread_cond_destroy(&pl->done);
    }
    if (pl->comp)
        for (unsigned i = 0; i < pl->n; i++)
            qp_compressor_free(pl->comp[i]);
    free(pl->comp);
    free(pl->th);
    free(pl);
}

/* ---- scan ---------------------------------------------------------- */

struct qscan {
    struct qplan *p;
    int exact;
    imgfmt_extent_iter *it;
    imgfmt_extent ext;        /* current DATA extent being read */
    int have_ext, at_end;
    uint64_t pos;             /* next byte of ext to read */
    uint64_t next_g;          /* first guest cluster not yet decided */
    uint64_t next_overlap;    /* first cluster not yet counted in overlap_clusters */
    uint64_t last_overlap_l2; /* L2 range of the last one counted */
    uint8_t *buf;             /* QP_CHUNK + one unit */
    size_t buf_len;
    struct qp_pool *pool;
    uint8_t **srcs, **dsts;
    int *lens;
    uint8_t *cbuf;            /* compressed output slots */
    uint64_t *pend;           /* guest clusters awaiting compression */
    size_t npend, maxpend;
    qp_emit_fn *emit;
    void *emit_ctx;
    uint8_t *nz;              /* per unit: non-zero (ifmt_zero_units) */
};

void qp_scan_set_emit(struct qscan *sc, qp_emit_fn *fn, void *ctx)
{
    sc->emit = fn;
    sc->emit_ctx = ctx;
}

int qp_scan_new(struct qplan *p, int exact, struct qscan **out)
{
    *out = NULL;
    struct qscan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return ifmt_error(p->img, IMGFMT_E_NOMEM, "qcow2 output: out of memory");
    sc->p = p;
    sc->exact = exact;
    sc->last_overlap_l2 = UINT64_MAX;
    uint64_t unit = p->cluster_size > 4096 ? p->cluster_size : 4096;
    sc->buf_len = (size_t)(QP_CHUNK > unit ? QP_CHUNK : unit) + (size_t)unit;
    if (exact) {
        sc->buf = malloc(sc->buf_len);
        sc->nz = malloc(sc->buf_len / 4096 + 1);
        if (!sc->buf || !sc->nz)
            goto nomem;
    }
    if (exact && p->opts.compress) {
        sc->maxpend = sc->buf_len / p->cluster_size;
        sc->srcs = calloc(sc->maxpend, sizeof *sc->srcs);
        sc->dsts = calloc(sc->maxpend, sizeof *sc->dsts);
        sc->lens = calloc(sc->maxpend, sizeof *sc->lens);
        sc->pend = calloc(sc->maxpend, sizeof *sc->pend);
        sc->cbuf = malloc(sc->maxpend * (size_t)p->cluster_size);
        if (!sc->srcs || !sc->dsts || !sc->lens || !sc->pend || !sc->cbuf)
            goto nomem;
        for (size_t i = 0; i < sc->maxpend; i++)
            sc->dsts[i] = sc->cbuf + i * p->cluster_size;
        if (qp_pool_new(p, p->opts.threads, &sc->pool) < 0)
            goto nomem;
    }
    int r = imgfmt_extents_begin(p->img, 0, p->src_size, &sc->it);
    if (r < 0) {
        qp_scan_free(sc);
        return r;
    }
    *out = sc;
    return 0;
nomem:
    qp_scan_free(sc);
    return ifmt_error(p->img, IMGFMT_E_NOMEM, "qcow2 output: out of memory");
}

void qp_scan_free(struct qscan *sc)
{
    if (!sc)
        return;
    imgfmt_extents_end(sc->it);
    qp_pool_free(sc->pool);
    free(sc->buf);
    free(sc->srcs);
    free(sc->dsts);
    free(sc->lens);
    free(sc->pend);
    free(sc->cbuf);
    free(sc->nz);
    free(sc);
}

/* Count clusters overlapping a DATA extent (qemu-img measure counts them). */
static void scan_count_overlap(struct qscan *sc, uint64_t a, uint64_t b)
{
    struct qplan *p = sc->p;
    uint64_t g0 = a / p->cluster_size, g1 = (b - 1) / p->cluster_size + 1;
    if (g0 < sc->next_overlap)
        g0 = sc->next_overlap;
    if (g0 >= g1)
        return;
    p->overlap_clusters += g1 - g0;
    uint64_t j0 = g0 / p->l2_entries, j1 = (g1 - 1) / p->l2_entries;
    p->overlap_l2_ranges += j1 - j0 + 1 - (j0 == sc->last_overlap_l2);
    sc->last_overlap_l2 = j1;
    sc->next_overlap = g1;
}

/* Read [off, off+len) of the source into buf, zeros past its end. */
static int scan_read(struct qplan *p, uint8_t *buf, uint64_t off, size_t len)
{
    size_t n = len;
    if (off >= p->src_size)
        n = 0;
    else if (p->src_size - off < len)
        n = (size_t)(p->src_size - off);
    if (n) {
        int r = imgfmt_pread(p->img, buf, n, off);
        if (r < 0)
            return r;
    }
    memset(buf + n, 0, len - n);
    return 0;
}

static int scan_flush_comp(struct qscan *sc)
{
    if (!sc->npend)
        return 0;
    struct qplan *p = sc->p;
    int r = qp_pool_run(sc->pool, sc->npend, sc->srcs, sc->dsts, sc->lens);
    if (r < 0)
        return ifmt_error(p->img, IMGFMT_E_IO, "qcow2 output: compression failed");
    for (size_t i = 0; i < sc->npend; i++) {
        if ((r = qp_add_comp(p, sc->pend[i], sc->lens[i])) < 0)
            return r;
        if (sc->emit && (r = sc->emit(sc->emit_ctx, sc->pend[i], sc->srcs[i], sc->dsts[i],
                                      sc->lens[i])) < 0)
            return r;
    }
    sc->npend = 0;
    return 0;
}

/* Decide the clusters of one chunk [start, end) of a DATA extent. */
static int scan_chunk(struct qscan *sc, uint64_t start, uint64_t end)
{
    struct qplan *p = sc->p;
    uint64_t cs = p->cluster_size;
    if (!sc->exact) {
        for (uint64_t g = ifmt_max(start / cs, sc->next_g); g <= (end - 1) / cs; g++) {
            int r = qp_add_cluster(p, g);
            if (r < 0)
                return r;
        }
        sc->next_g = ifmt_max(sc->next_g, (end - 1) / cs + 1);
        return 0;
    }
    int small = cs < 4096 && !p->opts.compress;
    uint64_t unit = small ? 4096 : cs;
    uint64_t u0 = start / unit * unit, u1 = ifmt_div_round_up(end, unit) * unit;
    /* Only zero-ness needed (measure, the streaming writer's planning
     * pass): the drivers answer it, compressed clusters without inflating
     * all of them.  Otherwise the data are read (and handed on). */
    int probe = !p->opts.compress && !sc->emit;
    int r = probe ? ifmt_zero_units(p->img, u0, (size_t)(u1 - u0), (size_t)unit, sc->buf, sc->nz)
                  : scan_read(p, sc->buf, u0, (size_t)(u1 - u0));
    if (r < 0)
        return r;
    for (uint64_t u = u0; u < u1; u += unit) {
        const uint8_t *ub = sc->buf + (u - u0);
        int zero = probe ? !sc->nz[(u - u0) / unit] : -1;   /* -1: look at ub */
        if (small) {
            /* Every cluster of a non-zero 4 KiB block, within the extent. */
            if (zero == 1 || (zero < 0 && ifmt_is_zero(ub, 4096)))
                continue;
            uint64_t a = ifmt_max(u, start), b = ifmt_min(u + 4096, end);
            for (uint64_t g = ifmt_max(a / cs, sc->next_g); g <= (b - 1) / cs; g++) {
                if ((r = qp_add_cluster(p, g)) < 0)
                    return r;
                if (sc->emit && (r = sc->emit(sc->emit_ctx, g, sc->buf + (g * cs - u0),
                                              NULL, 0)) < 0)
                    return r;
                sc->next_g = g + 1;
            }
            continue;
        }
        uint64_t g = u / cs;
        if (g < sc->next_g)
            continue;
        sc->next_g = g + 1;
        if (zero == 1 || (zero < 0 && ifmt_is_zero(ub, (size_t)cs)))
            continue;
        if (p->opts.compress) {
            sc->srcs[sc->npend] = (uint8_t *)ub;
            sc->pend[sc->npend++] = g;
        } else {
            if ((r = qp_add_cluster(p, g)) < 0)
                return r;
            if (sc->emit && (r = sc->emit(sc->emit_ctx, g, ub, NULL, 0)) < 0)
                return r;
        }
    }
    if (p->opts.compress && (r = scan_flush_comp(sc)) < 0)
        return r;
    return sc->emit ? sc->emit(sc->emit_ctx, UINT64_MAX, NULL, NULL, 0) : 0;
}

int qp_scan_step(struct qscan *sc, uint64_t budget, uint64_t *done)
{
    struct qplan *p = sc->p;
    uint64_t spent = 0;
    int r;
    while (!sc->at_end && spent < budget) {
        if (!sc->have_ext) {
            r = imgfmt_extents_next(sc->it, &sc->ext);
            if (r < 0)
                return r;
            if (r == 0) {
                sc->at_end = 1;
                break;
            }
            if (!(sc->ext.flags & IMGFMT_EXTENT_DATA) || sc->ext.length == 0) {
                if (done)
                    *done = sc->ext.offset + sc->ext.length;
                continue;
            }
            scan_count_overlap(sc, sc->ext.offset, sc->ext.offset + sc->ext.length);
            sc->have_ext = 1;
            sc->pos = sc->ext.offset;
        }
        uint64_t end = sc->ext.offset + sc->ext.length;
        /* Chunks end on a 2 MiB boundary (cluster aligned for cs <= 2M). */
        uint64_t cend = ifmt_min(end, (sc->pos / QP_CHUNK + 1) * QP_CHUNK);
        if (!sc->exact)
            cend = end;
        if ((r = scan_chunk(sc, sc->pos, cend)) < 0)
            return r;
        spent += sc->exact ? cend - sc->pos : 1;
        sc->pos = cend;
        if (done)
            *done = cend;
        if (cend == end)
            sc->have_ext = 0;
    }
    if (sc->at_end && done)
        *done = p->src_size;
    return sc->at_end;
}

/* ---- the layout cursor -------------------------------------------- */

void qp_cursor_init(struct qp_cursor *c, const struct qplan *p)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->l2_range = UINT64_MAX;
    c->next_free = qp_first_free_cluster(p);
    /* An image without data ends after the L1's own bytes. */
    c->end = QP_L1_CLUSTER * (uint64_t)p->cluster_size + 8 * p->l1_entries;
    c->refblocks = 1;
}

/* The next recorded guest cluster and its stream length (0: stored whole);
 * 0 when the walk has caught up with the plan.  The last run may still
 * grow, so the walk only leaves a run for one that exists. */
static int cursor_next_guest(struct qp_cursor *c, uint64_t *g, uint32_t *stream_len)
{
    const struct qplan *p = c->p;
    while (c->run < p->nruns) {
        const struct qp_run *r = &p->runs[c->run];
        if (c->guest < r->first)
            c->guest = r->first;
        if (c->guest < r->first + r->count) {
            *g = c->guest++;
            *stream_len = p->opts.compress ? p->comp_len[c->comp_i++] : 0;
            return 1;
        }
        if (c->run + 1 == p->nruns)
            return 0;
        c->run++;
    }
    return 0;
}

static void cursor_put(struct qp_placed *out, size_t *n, uint32_t kind, uint64_t host,
                       uint64_t index, uint32_t len)
{
    out[*n].host = host;
    out[*n].index = index;
    out[*n].len = len;
    out[*n].kind = kind;
    (*n)++;
}

/* The refcount block qemu allocates at host cluster rb, if any (0: none). */
static void cursor_put_refblock(const struct qp_cursor *c, struct qp_placed *out, size_t *n,
                                uint64_t rb)
{
    const struct qplan *p = c->p;
    if (rb)
        cursor_put(out, n, QP_REFBLOCK, rb * p->cluster_size, rb / p->refblock_entries,
                   p->cluster_size);
}

/* One cluster at the frontier.  A cluster that opens a new refcount range
 * makes qemu allocate that range's refcount block at the next free
 * cluster, right after it: *rb is its host cluster, else 0. */
static uint64_t cursor_alloc_cluster(struct qp_cursor *c, uint64_t *rb)
{
    const struct qplan *p = c->p;
    uint64_t cl = c->next_free;
    *rb = 0;
    if (cl % p->refblock_entries == 0) {
        *rb = qp_refblock_cluster(p, cl / p->refblock_entries);
        c->refblocks++;
        c->next_free = *rb + 1;
    } else {
        c->next_free = cl + 1;
    }
    c->end = ifmt_max(c->end, c->next_free * p->cluster_size);
    return cl;
}

/* qcow2_alloc_bytes(): continue in the partly used cluster if the stream
 * fits (or spans into the cluster right after it), else start a fresh
 * cluster; a new refcount block restarts the stream in a fresh cluster.
 * Returns the stream's byte offset; *rb as above. */
static uint64_t cursor_alloc_bytes(struct qp_cursor *c, uint32_t len, uint64_t *rb)
{
    const struct qplan *p = c->p;
    uint64_t cs = p->cluster_size, off = c->free_byte;
    *rb = 0;
    if (off && c->free_byte_refs >= p->refcount_max)
        off = 0;
    uint64_t free_in = off ? cs - off % cs : cs;
    int fresh = 0;
    if (!off || free_in < len) {
        uint64_t n = c->next_free;
        if (!off || (off / cs + 1) != n) {
            off = n * cs;
            fresh = 1;
        }
        if (n % p->refblock_entries == 0) {
            /* The refcount block is written in full; the stream's cluster
             * only as far as the stream goes. */
            *rb = qp_refblock_cluster(p, n / p->refblock_entries);
            c->refblocks++;
            c->next_free = *rb + 1;
            off = n * cs;
            fresh = 1;
            c->end = ifmt_max(c->end, c->next_free * cs);
        } else {
            c->next_free = n + 1;
        }
    }
    uint64_t last = (off + len - 1) / cs;
    if (fresh || last != off / cs)
        c->free_byte_refs = 1;
    else
        c->free_byte_refs++;
    c->free_byte = off + len;
    if (c->free_byte % cs == 0)
        c->free_byte = 0;
    c->end = ifmt_max(c->end, off + len);
    return off;
}

size_t qp_cursor_next(struct qp_cursor *c, struct qp_placed out[QP_MAX_PLACED])
{
    const struct qplan *p = c->p;
    uint64_t g, rb;
    uint32_t stream_len;
    size_t n = 0;
    if (!cursor_next_guest(c, &g, &stream_len))
        return 0;
    if (g / p->l2_entries != c->l2_range) {
        c->l2_range = g / p->l2_entries;
        uint64_t h = cursor_alloc_cluster(c, &rb);
        cursor_put(out, &n, QP_L2_TABLE, h * p->cluster_size, c->l2_range, p->cluster_size);
        cursor_put_refblock(c, out, &n, rb);
    }
    if (stream_len) {
        uint64_t off = cursor_alloc_bytes(c, stream_len, &rb);
        cursor_put(out, &n, QP_STREAM, off, g, stream_len);
    } else {
        uint64_t h = cursor_alloc_cluster(c, &rb);
        cursor_put(out, &n, QP_DATA_CLUSTER, h * p->cluster_size, g, p->cluster_size);
    }
    cursor_put_refblock(c, out, &n, rb);
    return n;
}

uint64_t qp_cursor_run_end(const struct qp_cursor *c)
{
    const struct qplan *p = c->p;
    return c->run < p->nruns ? p->runs[c->run].first + p->runs[c->run].count : c->guest;
}

uint64_t qp_cursor_length(const struct qp_cursor *c)
{
    return c->p->opts.compress ? ifmt_div_round_up(c->end, 512) * 512 : c->end;
}

/* ---- the whole walk ------------------------------------------------ */

static int record_placed(struct qplan *p, const struct qp_placed *obj)
{
    if (p->nplaced == p->placed_cap &&
        qp_grow(p, (void **)&p->placed, &p->placed_cap, sizeof *p->placed, "layout events") < 0)
        return p->img->err.code;
    p->placed[p->nplaced++] = *obj;
    return 0;
}

static int placed_cmp(const void *a, const void *b)
{
    const struct qp_placed *x = a, *y = b;
    return x->host < y->host ? -1 : x->host > y->host;
}

int qp_place_all(struct qplan *p)
{
    struct qp_cursor c;
    struct qp_placed obj[QP_MAX_PLACED];
    size_t n;
    int r;
    qp_cursor_init(&c, p);
    memset(p->l2_host_cluster, 0, (p->l1_entries ? p->l1_entries : 1) * sizeof *p->l2_host_cluster);
    p->nplaced = 0;
    while ((n = qp_cursor_next(&c, obj)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (obj[i].kind == QP_L2_TABLE)
                p->l2_host_cluster[obj[i].index] = obj[i].host / p->cluster_size;
            if (p->opts.compress && (r = record_placed(p, &obj[i])) < 0)
                return r;
        }
    /* Refcount table: one cluster of cs/8 entries; qemu grows it beyond,
     * with a layout we do not model. */
    if (ifmt_div_round_up(c.next_free, p->refblock_entries) > p->cluster_size / 8)
        return ifmt_error(p->img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: %llu clusters of %llu bytes need more refcount blocks "
                          "than one refcount table cluster holds; use a larger cluster_size",
                          (unsigned long long)c.next_free, (unsigned long long)p->cluster_size);
    p->used_clusters = c.next_free;
    p->refcount_blocks = c.refblocks;
    p->length = qp_cursor_length(&c);
    if (p->opts.compress && p->nplaced)      /* qsort(NULL, 0, ...) is undefined */
        qsort(p->placed, p->nplaced, sizeof *p->placed, placed_cmp);
    return 0;
}

uint64_t qp_formula_length(const struct qplan *p, uint64_t D, uint64_t nl2)
{
    if (D == 0)
        return QP_L1_CLUSTER * (uint64_t)p->cluster_size + 8 * p->l1_entries;
    uint64_t base = qp_first_free_cluster(p) + nl2 + D, T = base;
    for (;;) {
        uint64_t t2 = base + ifmt_div_round_up(T, p->refblock_entries) - 1;
        if (t2 == T)
            return T * p->cluster_size;
        T = t2;
    }
}

uint64_t qp_fully_allocated(const struct qplan *p)
{
    uint64_t cs = p->cluster_size, vs = ifmt_div_round_up(p->virtual_size, cs) * cs;
    uint64_t l2e = cs / 8;
    uint64_t meta = cs;
    uint64_t nl2e = ifmt_div_round_up(vs / cs, l2e) * l2e;
    meta += nl2e * 8;
    uint64_t nl1e = ifmt_div_round_up(nl2e * 8 / cs, cs / 8) * (cs / 8);
    meta += nl1e * 8;
    uint64_t clusters = (meta + vs) / cs;
    uint64_t rpb = cs * 8 / p->refcount_bits, bpt = cs / 8, t = 0, b = 0, n = 0, last;
    do {
        last = n;
        b = ifmt_div_round_up(clusters + t + b, rpb);
        t = ifmt_div_round_up(b, bpt);
        n = clusters + b + t;
    } while (n != last);
    return meta + (b + t) * cs + vs;
}

/* ---- measure ------------------------------------------------------- */

int imgfmt_measure_qcow2(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                         enum imgfmt_measure_mode mode,
                         imgfmt_progress_fn *progress, void *opaque,
                         imgfmt_measure *out)
{
    if (!src)
        return IMGFMT_E_INVAL;
    if (!out)
        return ifmt_error(src, IMGFMT_E_INVAL, "measure: NULL result");
    int rs = ifmt_check_struct_size(&src->err, "imgfmt_measure", out->struct_size,
                                    sizeof *out);
    if (rs < 0)
        return rs;
    if (mode != IMGFMT_MEASURE_EXACT && mode != IMGFMT_MEASURE_FAST)
        return ifmt_error(src, IMGFMT_E_INVAL, "measure: unknown mode %d", (int)mode);
    struct qplan p;
    int r = qp_init(&p, src, opts);
    if (r < 0) {
        qp_free(&p);
        return r;
    }
    int exact = mode == IMGFMT_MEASURE_EXACT;
    int compressed_output = p.opts.compress;
    if (!exact)
        p.opts.compress = 0;      /* the bound: every DATA cluster stored whole */
    struct qscan *sc = NULL;
    if ((r = qp_scan_new(&p, exact, &sc)) < 0)
        goto out;
    uint64_t done = 0;
    while ((r = qp_scan_step(sc, 64ull << 20, &done)) == 0)
        if (progress)
            progress(opaque, done, p.src_size);
    if (r < 0)
        goto out;
    if ((r = qp_place_all(&p)) < 0)
        goto out;
    if (progress)
        progress(opaque, p.src_size, p.src_size);
    uint32_t ss = out->struct_size;
    memset(out, 0, sizeof *out);
    out->struct_size = ss;
    out->mode = mode;
    out->virtual_size = p.virtual_size;
    out->length = p.length;
    out->upper_bound = qp_formula_length(&p, p.overlap_clusters, p.overlap_l2_ranges);
    /* Compressed output is truncated to a whole 512-byte sector, which can
     * lie past the metadata-only figure (an empty 1 GiB disk: 196624 bytes
     * of header, refcounts and L1, written as 197120). */
    if (compressed_output)
        out->upper_bound = ifmt_div_round_up(out->upper_bound, 512) * 512;
    if (out->upper_bound < p.length)
        out->upper_bound = p.length;
    if (!exact)
        out->length = out->upper_bound;   /* FAST: length is the bound */
    out->data_clusters = p.data_clusters;
    out->compressed_clusters = p.compressed_clusters;
    out->l2_tables = p.l2_tables;
    out->refcount_blocks = p.refcount_blocks;
    out->fully_allocated = qp_fully_allocated(&p);
    uint64_t vs = ifmt_div_round_up(p.virtual_size, p.cluster_size) * p.cluster_size;
    out->required = out->fully_allocated - vs + p.overlap_clusters * p.cluster_size;
    r = 0;
out:
    qp_scan_free(sc);
    qp_free(&p);
    return r;
}
