/*
 * qcow2-plan.c -- the one qcow2 layout planner: scan (which output clusters
 * hold data, how long they compress), allocator simulation (where qemu's
 * qcow2 driver puts everything), and imgfmt_measure_qcow2().  See
 * qcow2-plan.h and docs/formats.md, qcow2 convert layout and qemu-img measure.
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
#include "output/qcow2-format.h"
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

int qp_init(struct qplan *p, imgfmt_image *img, const imgfmt_qcow2_opts *o)
{
    memset(p, 0, sizeof *p);
    p->img = img;
    imgfmt_qcow2_opts_init(&p->o);
    if (o) {
        int r = ifmt_check_struct_size(&img->err, "imgfmt_qcow2_opts", o->struct_size,
                                       sizeof *o);
        if (r < 0)
            return r;
        p->o = *o;
    }
    if (!p->o.max_plan_bytes)
        p->o.max_plan_bytes = QP_DEFAULT_CAP;
    if (!p->o.threads)
        p->o.threads = 1;
    uint32_t cs = p->o.cluster_size;
    if (!ifmt_is_pow2(cs) || cs < (1u << QF_MIN_CLUSTER_BITS) || cs > (1u << QF_MAX_CLUSTER_BITS))
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: cluster_size %u is not a power of two in 512..2M", cs);
    uint32_t rb = p->o.refcount_bits;
    if (!ifmt_is_pow2(rb) || rb > 64)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: refcount_bits %u is not a power of two in 1..64", rb);
    if (!p->o.compat_v3 && rb != 16)
        return ifmt_error(img, IMGFMT_E_INVAL,
                          "qcow2 output: refcount_bits %u needs compat 1.1 (0.10 has 16 only)", rb);
    if (p->o.compression_type != IMGFMT_QCOW2_ZLIB) {
        if (p->o.compression_type != IMGFMT_QCOW2_ZSTD)
            return ifmt_error(img, IMGFMT_E_INVAL, "qcow2 output: compression_type %d unknown",
                              (int)p->o.compression_type);
        if (!p->o.compat_v3)
            return ifmt_error(img, IMGFMT_E_INVAL,
                              "qcow2 output: compression_type zstd needs compat 1.1");
#if !IMGFMT_HAVE_ZSTD
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: compression_type zstd: built without libzstd");
#endif
    }
    if (p->o.threads > 256)
        return ifmt_error(img, IMGFMT_E_INVAL, "qcow2 output: threads %u > 256", p->o.threads);
    p->cs = cs;
    p->cbits = (uint32_t)__builtin_ctz(cs);
    p->rbits = rb;
    p->refmax = rb == 64 ? UINT64_MAX : (1ull << rb) - 1;
    p->src_size = imgfmt_virtual_size(img);
    if (ifmt_round_up_overflow(p->src_size, 512, &p->vsize) || p->vsize > (1ull << 62))
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED, "qcow2 output: virtual size %llu too large",
                          (unsigned long long)p->src_size);
    p->nguest = ifmt_div_round_up(p->vsize, cs);
    p->l2e = cs / 8;
    p->l1 = ifmt_div_round_up(p->nguest, p->l2e);
    if (p->l1 * 8 > QF_MAX_L1_BYTES)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: virtual size %llu needs %llu L1 entries (qemu's cap is %llu)",
                          (unsigned long long)p->vsize, (unsigned long long)p->l1,
                          (unsigned long long)(QF_MAX_L1_BYTES / 8));
    p->l1c = ifmt_div_round_up(p->l1 * 8, cs);
    p->per = (uint64_t)cs * 8 / rb;
    /* The first refcount block must describe header, tables and L1;
     * otherwise qemu allocates refcount blocks while creating the image,
     * which we do not model. */
    if (3 + p->l1c >= p->per)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: cluster_size %u with refcount_bits %u: the L1 table of "
                          "%llu clusters outgrows the first refcount block", cs, rb,
                          (unsigned long long)p->l1c);
    p->l2_host = calloc(p->l1 ? p->l1 : 1, sizeof *p->l2_host);
    if (!p->l2_host)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2 output: out of memory (L1 of %llu entries)",
                          (unsigned long long)p->l1);
    p->mem = p->l1 * 8;
    return 0;
}

void qp_free(struct qplan *p)
{
    free(p->runs);
    free(p->cg);
    free(p->clen);
    free(p->l2_host);
    free(p->ev);
    memset(p, 0, sizeof *p);
}

/* Grow an array, charged against the plan's memory cap. */
static int qp_grow(struct qplan *p, void **arr, size_t *cap, size_t elem, const char *what)
{
    size_t ncap = *cap ? *cap * 2 : 1024;
    uint64_t add = (uint64_t)(ncap - *cap) * elem;
    if (p->mem + add > p->o.max_plan_bytes)
        return ifmt_error(p->img, IMGFMT_E_LIMIT,
                          "qcow2 output: planner memory for %s exceeds the cap of %llu bytes",
                          what, (unsigned long long)p->o.max_plan_bytes);
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return ifmt_error(p->img, IMGFMT_E_NOMEM, "qcow2 output: out of memory (%s)", what);
    *arr = n;
    *cap = ncap;
    p->mem += add;
    return 0;
}

static int qp_add_cluster(struct qplan *p, uint64_t g)
{
    struct qp_run *last = p->nruns ? &p->runs[p->nruns - 1] : NULL;
    if (!last || (last->g + last->n - 1) / p->l2e != g / p->l2e)
        p->nl2++;
    if (last && last->g + last->n == g) {
        last->n++;
    } else {
        if (p->nruns == p->runs_cap &&
            qp_grow(p, (void **)&p->runs, &p->runs_cap, sizeof *p->runs, "cluster runs") < 0)
            return p->img->err.code;
        p->runs[p->nruns].g = g;
        p->runs[p->nruns].n = 1;
        p->nruns++;
    }
    p->D++;
    return 0;
}

static int qp_add_comp(struct qplan *p, uint64_t g, int len)
{
    if (p->nc == p->c_cap) {
        size_t cap1 = p->c_cap, cap2 = p->c_cap;
        if (qp_grow(p, (void **)&p->cg, &cap1, sizeof *p->cg, "compressed clusters") < 0 ||
            qp_grow(p, (void **)&p->clen, &cap2, sizeof *p->clen, "compressed clusters") < 0)
            return p->img->err.code;
        p->c_cap = cap1 < cap2 ? cap1 : cap2;
    }
    p->cg[p->nc] = g;
    p->clen[p->nc] = (uint32_t)len;
    p->nc++;
    if (len > 0)
        p->ncomp++;
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
    if (p->o.compression_type == IMGFMT_QCOW2_ZLIB) {
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
    uint32_t cs = c->p->cs;
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
    uint64_t next_a;          /* first cluster not yet counted in A */
    uint64_t last_a_l2;
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
    sc->last_a_l2 = UINT64_MAX;
    uint64_t unit = p->cs > 4096 ? p->cs : 4096;
    sc->buf_len = (size_t)(QP_CHUNK > unit ? QP_CHUNK : unit) + (size_t)unit;
    if (exact) {
        sc->buf = malloc(sc->buf_len);
        sc->nz = malloc(sc->buf_len / 4096 + 1);
        if (!sc->buf || !sc->nz)
            goto nomem;
    }
    if (exact && p->o.compress) {
        sc->maxpend = sc->buf_len / p->cs;
        sc->srcs = calloc(sc->maxpend, sizeof *sc->srcs);
        sc->dsts = calloc(sc->maxpend, sizeof *sc->dsts);
        sc->lens = calloc(sc->maxpend, sizeof *sc->lens);
        sc->pend = calloc(sc->maxpend, sizeof *sc->pend);
        sc->cbuf = malloc(sc->maxpend * (size_t)p->cs);
        if (!sc->srcs || !sc->dsts || !sc->lens || !sc->pend || !sc->cbuf)
            goto nomem;
        for (size_t i = 0; i < sc->maxpend; i++)
            sc->dsts[i] = sc->cbuf + i * p->cs;
        if (qp_pool_new(p, p->o.threads, &sc->pool) < 0)
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

/* Count clusters overlapping a DATA extent (qemu-img measure's A). */
static void scan_count_a(struct qscan *sc, uint64_t a, uint64_t b)
{
    struct qplan *p = sc->p;
    uint64_t g0 = a / p->cs, g1 = (b - 1) / p->cs + 1;
    if (g0 < sc->next_a)
        g0 = sc->next_a;
    if (g0 >= g1)
        return;
    p->A += g1 - g0;
    uint64_t j0 = g0 / p->l2e, j1 = (g1 - 1) / p->l2e;
    p->A_l2 += j1 - j0 + 1 - (j0 == sc->last_a_l2);
    sc->last_a_l2 = j1;
    sc->next_a = g1;
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
    uint64_t cs = p->cs;
    if (!sc->exact) {
        for (uint64_t g = ifmt_max(start / cs, sc->next_g); g <= (end - 1) / cs; g++) {
            int r = qp_add_cluster(p, g);
            if (r < 0)
                return r;
        }
        sc->next_g = ifmt_max(sc->next_g, (end - 1) / cs + 1);
        return 0;
    }
    int small = cs < 4096 && !p->o.compress;
    uint64_t unit = small ? 4096 : cs;
    uint64_t u0 = start / unit * unit, u1 = ifmt_div_round_up(end, unit) * unit;
    /* Only zero-ness needed (measure, the streaming writer's planning
     * pass): the drivers answer it, compressed clusters without inflating
     * all of them.  Otherwise the data are read (and handed on). */
    int probe = !p->o.compress && !sc->emit;
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
        if (p->o.compress) {
            sc->srcs[sc->npend] = (uint8_t *)ub;
            sc->pend[sc->npend++] = g;
        } else {
            if ((r = qp_add_cluster(p, g)) < 0)
                return r;
            if (sc->emit && (r = sc->emit(sc->emit_ctx, g, ub, NULL, 0)) < 0)
                return r;
        }
    }
    if (p->o.compress && (r = scan_flush_comp(sc)) < 0)
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
            scan_count_a(sc, sc->ext.offset, sc->ext.offset + sc->ext.length);
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

/* ---- allocator simulation ------------------------------------------ */

void qs_init(struct qsim *s, const struct qplan *p)
{
    s->F = 3 + p->l1c;
    s->fb = 0;
    s->fb_ref = 0;
    s->end = 3ull * p->cs + 8 * p->l1;
    s->nrb = 1;
    s->cur_l2 = UINT64_MAX;
}

/* Clusters [0, F) are in use (the file stays dense).  A cluster that opens
 * a new refcount range makes qemu allocate that range's refcount block at
 * the next free cluster, right after it. */
uint64_t qs_cluster(struct qsim *s, const struct qplan *p, uint64_t *rb)
{
    uint64_t c = s->F;
    *rb = 0;
    if (c % p->per == 0) {
        *rb = c + 1;
        s->nrb++;
        s->F = c + 2;
    } else {
        s->F = c + 1;
    }
    s->end = ifmt_max(s->end, s->F * p->cs);
    return c;
}

/* qcow2_alloc_bytes(): continue in the partly used cluster if the stream
 * fits (or spans into the cluster right after it), else start a fresh
 * cluster; a new refcount block restarts the stream in a fresh cluster. */
uint64_t qs_bytes(struct qsim *s, const struct qplan *p, uint32_t len, uint64_t *rb)
{
    uint64_t cs = p->cs, off = s->fb;
    *rb = 0;
    if (off && s->fb_ref >= p->refmax)
        off = 0;
    uint64_t free_in = off ? cs - off % cs : cs;
    int fresh = 0;
    if (!off || free_in < len) {
        uint64_t n = s->F;
        if (!off || (off / cs + 1) != n) {
            off = n * cs;
            fresh = 1;
        }
        if (n % p->per == 0) {
            /* The refcount block is written in full; the stream's cluster
             * only as far as the stream goes. */
            *rb = n + 1;
            s->nrb++;
            s->F = n + 2;
            off = n * cs;
            fresh = 1;
            s->end = ifmt_max(s->end, s->F * cs);
        } else {
            s->F = n + 1;
        }
    }
    uint64_t last = (off + len - 1) / cs;
    if (fresh || last != off / cs)
        s->fb_ref = 1;
    else
        s->fb_ref++;
    s->fb = off + len;
    if (s->fb % cs == 0)
        s->fb = 0;
    s->end = ifmt_max(s->end, off + len);
    return off;
}

uint64_t qs_length(const struct qsim *s, const struct qplan *p)
{
    return p->o.compress ? ifmt_div_round_up(s->end, 512) * 512 : s->end;
}

static int sim_event(struct qplan *p, uint64_t host, uint64_t idx, uint32_t len, uint32_t kind)
{
    if (p->nev == p->ev_cap &&
        qp_grow(p, (void **)&p->ev, &p->ev_cap, sizeof *p->ev, "layout events") < 0)
        return p->img->err.code;
    struct qp_event *e = &p->ev[p->nev++];
    e->host = host;
    e->idx = idx;
    e->len = len;
    e->kind = kind;
    return 0;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct qp_event *x = a, *y = b;
    return x->host < y->host ? -1 : x->host > y->host;
}

int qp_simulate(struct qplan *p)
{
    struct qsim s;
    qs_init(&s, p);
    uint64_t cs = p->cs, rb;
    int comp = p->o.compress, r;
    size_t ci = 0;
    memset(p->l2_host, 0, (p->l1 ? p->l1 : 1) * sizeof *p->l2_host);
    p->nev = 0;
    for (size_t i = 0; i < p->nruns; i++) {
        for (uint64_t g = p->runs[i].g; g < p->runs[i].g + p->runs[i].n; g++) {
            uint64_t j = g / p->l2e;
            if (j != s.cur_l2) {
                s.cur_l2 = j;
                uint64_t h = qs_cluster(&s, p, &rb);
                p->l2_host[j] = h;
                if (comp && ((r = sim_event(p, h * cs, j, (uint32_t)cs, QP_EV_L2)) < 0 ||
                             (rb && (r = sim_event(p, rb * cs, rb / p->per, (uint32_t)cs,
                                                   QP_EV_REFBLOCK)) < 0)))
                    return r;
            }
            if (!comp) {
                (void)qs_cluster(&s, p, &rb);
                continue;
            }
            uint32_t len = p->clen[ci++];
            uint64_t off;
            if (len)
                off = qs_bytes(&s, p, len, &rb);
            else
                off = qs_cluster(&s, p, &rb) * cs;
            if ((r = sim_event(p, off, g, len ? len : (uint32_t)cs,
                               len ? QP_EV_COMP : QP_EV_FULL)) < 0 ||
                (rb && (r = sim_event(p, rb * cs, rb / p->per, (uint32_t)cs,
                                      QP_EV_REFBLOCK)) < 0))
                return r;
        }
    }
    /* Refcount table: one cluster of cs/8 entries; qemu grows it beyond,
     * with a layout we do not model. */
    if (ifmt_div_round_up(s.F, p->per) > cs / 8)
        return ifmt_error(p->img, IMGFMT_E_UNSUPPORTED,
                          "qcow2 output: %llu clusters of %llu bytes need more refcount blocks "
                          "than one refcount table cluster holds; use a larger cluster_size",
                          (unsigned long long)s.F, (unsigned long long)cs);
    p->F = s.F;
    p->nrb = s.nrb;
    p->length = qs_length(&s, p);
    if (comp && p->nev)      /* qsort(NULL, 0, ...) is undefined */
        qsort(p->ev, p->nev, sizeof *p->ev, ev_cmp);
    return 0;
}

uint64_t qp_formula_length(const struct qplan *p, uint64_t D, uint64_t nl2)
{
    if (D == 0)
        return 3ull * p->cs + 8 * p->l1;
    uint64_t base = 3 + p->l1c + nl2 + D, T = base;
    for (;;) {
        uint64_t t2 = base + ifmt_div_round_up(T, p->per) - 1;
        if (t2 == T)
            return T * p->cs;
        T = t2;
    }
}

uint64_t qp_fully_allocated(const struct qplan *p)
{
    uint64_t cs = p->cs, vs = ifmt_div_round_up(p->vsize, cs) * cs;
    uint64_t l2e = cs / 8;
    uint64_t meta = cs;
    uint64_t nl2e = ifmt_div_round_up(vs / cs, l2e) * l2e;
    meta += nl2e * 8;
    uint64_t nl1e = ifmt_div_round_up(nl2e * 8 / cs, cs / 8) * (cs / 8);
    meta += nl1e * 8;
    uint64_t clusters = (meta + vs) / cs;
    uint64_t rpb = cs * 8 / p->rbits, bpt = cs / 8, t = 0, b = 0, n = 0, last;
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
    int compressed_output = p.o.compress;
    if (!exact)
        p.o.compress = 0;      /* the bound: every DATA cluster stored whole */
    struct qscan *sc = NULL;
    if ((r = qp_scan_new(&p, exact, &sc)) < 0)
        goto out;
    uint64_t done = 0;
    while ((r = qp_scan_step(sc, 64ull << 20, &done)) == 0)
        if (progress)
            progress(opaque, done, p.src_size);
    if (r < 0)
        goto out;
    if ((r = qp_simulate(&p)) < 0)
        goto out;
    if (progress)
        progress(opaque, p.src_size, p.src_size);
    uint32_t ss = out->struct_size;
    memset(out, 0, sizeof *out);
    out->struct_size = ss;
    out->mode = mode;
    out->virtual_size = p.vsize;
    out->length = p.length;
    out->upper_bound = qp_formula_length(&p, p.A, p.A_l2);
    /* Compressed output is truncated to a whole 512-byte sector, which can
     * lie past the metadata-only figure (an empty 1 GiB disk: 196624 bytes
     * of header, refcounts and L1, written as 197120). */
    if (compressed_output)
        out->upper_bound = ifmt_div_round_up(out->upper_bound, 512) * 512;
    if (out->upper_bound < p.length)
        out->upper_bound = p.length;
    if (!exact)
        out->length = out->upper_bound;   /* FAST: length is the bound */
    out->data_clusters = p.D;
    out->compressed_clusters = p.ncomp;
    out->l2_tables = p.nl2;
    out->refcount_blocks = p.nrb;
    out->fully_allocated = qp_fully_allocated(&p);
    uint64_t vs = ifmt_div_round_up(p.vsize, p.cs) * p.cs;
    out->required = out->fully_allocated - vs + p.A * p.cs;
    r = 0;
out:
    qp_scan_free(sc);
    qp_free(&p);
    return r;
}
