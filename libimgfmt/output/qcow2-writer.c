/*
 * qcow2-writer.c -- the qcow2 writer, laid out by the planner in
 * qcow2-plan.c so the length is the one measure predicts.  Two modes, the
 * same bytes.
 *
 * Streaming (imgfmt_qcow2_writer_new): bytes strictly in file order to a
 * callback (a pipe works), two passes over the source.  Planning reads
 * every DATA run (zero scan, and compression with -c: only the lengths are
 * kept) because the header,
 * refcount table, refcount blocks and L1 that start the file depend on all
 * of it.  Emitting reads the allocated clusters again (and compresses them
 * again: the same deterministic zlib/zstd call gives the same bytes; a
 * source that changes in between is detected and reported).
 *
 * Uncompressed output is emitted straight from the simulation, which
 * allocates in file order.  Compressed output is emitted from the sorted
 * list of placed objects, because qemu's byte allocator can put a later
 * stream into an earlier, partly filled cluster.
 *
 * Seekable (imgfmt_qcow2_writer_new_seekable): one pass, see "seekable
 * mode" below.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "output/qcow2-format.h"
#include "output/qcow2-plan.h"

#define W_STEP_BYTES   (8ull << 20)     /* work per step */

enum { W_SCAN, W_HEAD, W_BODY, W_TAIL, W_DONE, W_FAILED };

struct imgfmt_qcow2_writer {
    struct qplan p;
    imgfmt_image *src;
    imgfmt_write_fn *wfn;
    void *opaque;
    imgfmt_error err;
    int phase;
    struct qscan *sc;
    uint64_t scan_done, written;
    uint8_t *meta;                 /* one cluster of metadata */
    uint8_t *zero;                 /* zeros for padding */
    size_t zero_len;
    /* uncompressed body */
    struct qsim s;
    size_t run_i;
    uint64_t g;                    /* next guest cluster of runs[run_i] */
    uint8_t *dbuf;
    uint64_t dbuf_g0, dbuf_n, dbuf_cap;
    /* compressed body */
    uint64_t *chost;               /* per compressed-mode cluster: host offset */
    size_t ev_i;
    struct qp_pool *pool;
    uint8_t **srcs, **dsts;
    int *lens;
    size_t nslots;
    uint8_t *slotbuf;
    /* seekable (one-pass) mode */
    imgfmt_pwrite_fn *pwfn;
    uint64_t hw;                   /* [0, hw) written or reserved */
    const uint8_t *pend;           /* coalesced write: pend_len bytes at pend_off */
    uint64_t pend_off;
    size_t pend_len;
    int pend_staged;               /* pend points into stage */
    uint8_t *stage;                /* compressed streams gathered for one write */
    size_t stage_cap;
    uint8_t *l2buf;                /* the L2 table being filled */
    uint64_t *l2h;                 /* per L1 entry: host cluster as placed here */
};

/* ---- output helpers ------------------------------------------------ */

static int w_fail(imgfmt_qcow2_writer *w, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
static int w_fail(imgfmt_qcow2_writer *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&w->err, code, 0, fmt, ap);
    va_end(ap);
    w->phase = W_FAILED;
    return code;
}

/* A failure recorded on the source image (read errors, planner errors). */
static int w_fail_src(imgfmt_qcow2_writer *w, int r)
{
    const imgfmt_error *e = imgfmt_last_error(w->src);
    if (e->code != IMGFMT_OK)
        w->err = *e;
    else
        ifmt_seterr(&w->err, r, 0, "qcow2 writer: %s", imgfmt_strerror(r));
    w->err.code = r;
    w->phase = W_FAILED;
    return r;
}

static int w_write(imgfmt_qcow2_writer *w, const void *buf, size_t len)
{
    if (!len)
        return 0;
    if (w->written + len > w->p.length)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: output would exceed the "
                      "planned length %llu", (unsigned long long)w->p.length);
    if (w->wfn(w->opaque, buf, len) < 0)
        return w_fail(w, IMGFMT_E_WRITE, "qcow2 writer: write callback failed at output offset %llu",
                      (unsigned long long)w->written);
    w->written += len;
    return 0;
}

/* Zeros up to output offset `to`. */
static int w_pad(imgfmt_qcow2_writer *w, uint64_t to)
{
    if (to < w->written)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: object at %llu behind "
                      "output offset %llu", (unsigned long long)to,
                      (unsigned long long)w->written);
    while (w->written < to) {
        size_t n = (size_t)ifmt_min(to - w->written, w->zero_len);
        int r = w_write(w, w->zero, n);
        if (r < 0)
            return r;
    }
    return 0;
}

static void set_ref(uint8_t *blk, uint32_t bits, uint64_t i, uint64_t v)
{
    switch (bits) {
    case 1: case 2: case 4: {
        uint64_t bit = i * bits;
        unsigned mask = (1u << bits) - 1;
        blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~(mask << (bit % 8))) |
                                 ((v & mask) << (bit % 8)));
        break;
    }
    case 8: blk[i] = (uint8_t)v; break;
    case 16: ifmt_put_be16(blk + 2 * i, (uint16_t)v); break;
    case 32: ifmt_put_be32(blk + 4 * i, (uint32_t)v); break;
    default: ifmt_put_be64(blk + 8 * i, v); break;
    }
}

/* ---- metadata ------------------------------------------------------ */

static const struct { uint8_t type, bit; const char *name; } features[] = {
    {0, 0, "dirty bit"},
    {0, 1, "corrupt bit"},
    {0, 2, "external data file"},
    {0, 3, "compression type"},
    {0, 4, "extended L2 entries"},
    {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},
    {2, 1, "raw external data"},
};

static void build_header(const struct qplan *p, uint8_t *h)
{
    memset(h, 0, p->cs);
    int v3 = p->o.compat_v3;
    ifmt_put_be32(h + 0, QF_MAGIC);
    ifmt_put_be32(h + 4, v3 ? 3 : 2);
    ifmt_put_be32(h + 20, p->cbits);
    ifmt_put_be64(h + 24, p->vsize);
    ifmt_put_be32(h + 36, (uint32_t)p->l1);
    ifmt_put_be64(h + 40, p->l1 ? 3ull * p->cs : 0);
    ifmt_put_be64(h + 48, p->cs);
    ifmt_put_be32(h + 56, 1);
    if (!v3)
        return;
    int zstd = p->o.compression_type == IMGFMT_QCOW2_ZSTD;
    ifmt_put_be64(h + 72, zstd ? QF_INCOMPAT_COMPRESSION : 0);
    ifmt_put_be32(h + 96, (uint32_t)__builtin_ctz(p->rbits));
    ifmt_put_be32(h + 100, QF_HEADER_V3_LEN);
    h[104] = zstd ? 1 : 0;
    /* qemu writes the feature name table only when it fits comfortably:
     * clusters above 4 KiB (docs/formats.md, qcow2 header extensions). */
    if (p->cs > 4096) {
        uint8_t *e = h + QF_HEADER_V3_LEN;
        size_t n = sizeof features / sizeof features[0];
        ifmt_put_be32(e, QF_EXT_FEATURE_TABLE);
        ifmt_put_be32(e + 4, (uint32_t)(n * QF_FEATURE_ENTRY_LEN));
        for (size_t i = 0; i < n; i++) {
            uint8_t *f = e + 8 + i * QF_FEATURE_ENTRY_LEN;
            f[0] = features[i].type;
            f[1] = features[i].bit;
            memcpy(f + 2, features[i].name, strlen(features[i].name));
        }
    }
}

static uint64_t refblock_host(const struct qplan *p, uint64_t k)
{
    return k == 0 ? 2 * (uint64_t)p->cs : (k * p->per + 1) * p->cs;
}

static void build_reftable(const struct qplan *p, uint8_t *t)
{
    memset(t, 0, p->cs);
    uint64_t n = ifmt_div_round_up(p->F, p->per);
    for (uint64_t k = 0; k < n; k++)
        ifmt_put_be64(t + 8 * k, refblock_host(p, k));
}

/* Refcount block k, uncompressed output: every used cluster once. */
static void build_refblock_plain(const struct qplan *p, uint64_t k, uint8_t *b)
{
    memset(b, 0, p->cs);
    uint64_t first = k * p->per, end = ifmt_min(p->F, first + p->per);
    for (uint64_t c = first; c < end; c++)
        set_ref(b, p->rbits, c - first, 1);
}

static size_t ev_lower_bound(const struct qplan *p, uint64_t host)
{
    size_t lo = 0, hi = p->nev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ev[mid].host < host)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Refcount block k, compressed output: the number of objects overlapping
 * each cluster (docs/formats.md, qcow2 compressed output). */
static void build_refblock_comp(const struct qplan *p, uint64_t k, uint8_t *b)
{
    memset(b, 0, p->cs);
    uint64_t cs = p->cs, first = k * p->per, last = first + p->per;   /* clusters */
    /* Counts fit the width: qemu never lets a cluster exceed refmax. */
    if (k == 0)
        for (uint64_t c = 0; c < 3 + p->l1c; c++)
            set_ref(b, p->rbits, c, 1);
    size_t i = ev_lower_bound(p, first ? (first - 1) * cs : 0);
    uint64_t prev_c = UINT64_MAX, prev_v = 0;
    for (; i < p->nev && p->ev[i].host < last * cs; i++) {
        const struct qp_event *e = &p->ev[i];
        uint64_t c0 = e->host / cs, c1 = (e->host + e->len - 1) / cs;
        for (uint64_t c = c0; c <= c1; c++) {
            if (c < first || c >= last)
                continue;
            uint64_t v = (c == prev_c ? prev_v : 0) + 1;
            set_ref(b, p->rbits, c - first, v);
            prev_c = c;
            prev_v = v;
        }
    }
}

static uint64_t comp_entry(const struct qplan *p, uint64_t off, uint32_t len)
{
    unsigned x = 62 - (p->cbits - 8);
    uint64_t nsect = (off + len - 1) / 512 - off / 512;
    return QF_OFLAG_COMPRESSED | (nsect << x) | off;
}

/* ---- seekable mode: one read pass ----------------------------------- */

/*
 * The scan (qcow2-plan.c) hands every allocated cluster over in guest
 * order, with its data and (with -c) its stream, compressed once.  The
 * allocator simulation runs alongside, so each cluster is written where the
 * plan puts it, at the frontier; L2 tables and refcount blocks get their
 * place when allocated and are written once complete, header, refcount
 * table and L1 at the end.  Every byte of the output is written at least
 * once (gaps are written as zeros), so the destination need not be empty.
 * At the end the simulation is run again over the recorded scan result and
 * must agree with what was written.
 */

static int d_pwrite(imgfmt_qcow2_writer *w, const void *buf, size_t len, uint64_t off)
{
    if (!len)
        return 0;
    if (w->pwfn(w->opaque, buf, len, off) < 0)
        return w_fail(w, IMGFMT_E_WRITE, "qcow2 writer: write callback failed at output offset %llu",
                      (unsigned long long)off);
    w->written += len;
    return 0;
}

static int d_flush(imgfmt_qcow2_writer *w)
{
    int r = d_pwrite(w, w->pend, w->pend_len, w->pend_off);
    w->pend_len = 0;
    w->pend = NULL;
    w->pend_staged = 0;
    return r;
}

/* Zeros over [hw, off): space nothing else will cover. */
static int d_gap(imgfmt_qcow2_writer *w, uint64_t off)
{
    while (w->hw < off) {
        size_t n = (size_t)ifmt_min(off - w->hw, w->zero_len);
        int r = d_pwrite(w, w->zero, n, w->hw);
        if (r < 0)
            return r;
        w->hw += n;
    }
    return 0;
}

/* A cluster written later (L2 table, refcount block). */
static int d_reserve(imgfmt_qcow2_writer *w, uint64_t cluster)
{
    uint64_t off = cluster * w->p.cs;
    int r = d_gap(w, off);
    if (r < 0)
        return r;
    w->hw = ifmt_max(w->hw, off + w->p.cs);
    return 0;
}

/* Data (a cluster or a stream) at off, coalesced with what precedes it. */
static int d_out(imgfmt_qcow2_writer *w, const uint8_t *buf, size_t len, uint64_t off)
{
    int r;
    if ((r = d_gap(w, off)) < 0)
        return r;
    w->hw = ifmt_max(w->hw, off + len);
    if (w->pend_len && off == w->pend_off + w->pend_len) {
        if (!w->pend_staged && buf == w->pend + w->pend_len) {
            w->pend_len += len;
            return 0;
        }
        if (w->pend_staged && w->pend_len + len <= w->stage_cap) {
            memcpy(w->stage + w->pend_len, buf, len);
            w->pend_len += len;
            return 0;
        }
    }
    if (w->pend_len && (r = d_flush(w)) < 0)
        return r;
    w->pend_off = off;
    w->pend_len = len;
    if (len < w->p.cs && len <= w->stage_cap) {
        memcpy(w->stage, buf, len);
        w->pend = w->stage;
        w->pend_staged = 1;
    } else {
        w->pend = buf;
    }
    return 0;
}

static int d_close_l2(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    if (w->s.cur_l2 == UINT64_MAX)
        return 0;
    return d_pwrite(w, w->l2buf, p->cs, w->l2h[w->s.cur_l2] * p->cs);
}

static int d_emit(void *ctx, uint64_t g, const uint8_t *data, const uint8_t *cdata, int clen)
{
    imgfmt_qcow2_writer *w = ctx;
    struct qplan *p = &w->p;
    uint64_t rb, e, j = g / p->l2e;
    int r;
    if (!data)
        return w->pend_len ? d_flush(w) : 0;
    if (j != w->s.cur_l2) {
        if ((r = d_close_l2(w)) < 0)
            return r;
        w->s.cur_l2 = j;
        uint64_t h = qs_cluster(&w->s, p, &rb);
        w->l2h[j] = h;
        memset(w->l2buf, 0, p->cs);
        if ((r = d_reserve(w, h)) < 0 || (rb && (r = d_reserve(w, rb)) < 0))
            return r;
    }
    if (clen > 0) {
        uint64_t off = qs_bytes(&w->s, p, (uint32_t)clen, &rb);
        r = d_out(w, cdata, (size_t)clen, off);
        e = comp_entry(p, off, (uint32_t)clen);
    } else {
        uint64_t off = qs_cluster(&w->s, p, &rb) * p->cs;
        r = d_out(w, data, p->cs, off);
        e = off | QF_OFLAG_COPIED;
    }
    if (r < 0 || (rb && (r = d_reserve(w, rb)) < 0))
        return r;
    ifmt_put_be64(w->l2buf + 8 * (g % p->l2e), e);
    return 0;
}

/* After the scan: check the layout against the simulation, then write the
 * refcount blocks, L1, refcount table and header. */
static int d_finish(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    if ((r = d_flush(w)) < 0 || (r = d_close_l2(w)) < 0)
        return r;
    qp_scan_free(w->sc);
    w->sc = NULL;
    if ((r = qp_simulate(p)) < 0)
        return w_fail_src(w, r);
    if (p->F != w->s.F || p->length != qs_length(&w->s, p) ||
        memcmp(p->l2_host, w->l2h, (p->l1 ? p->l1 : 1) * sizeof *w->l2h) != 0)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: one-pass layout (%llu "
                      "clusters) differs from the plan (%llu)", (unsigned long long)w->s.F,
                      (unsigned long long)p->F);
    for (uint64_t k = 1; k < p->nrb; k++) {
        if (p->o.compress)
            build_refblock_comp(p, k, w->meta);
        else
            build_refblock_plain(p, k, w->meta);
        if ((r = d_pwrite(w, w->meta, p->cs, refblock_host(p, k))) < 0)
            return r;
    }
    /* L1: whole clusters, or only as far as the file goes (no data). */
    uint64_t l1_end = ifmt_min((3 + p->l1c) * p->cs, p->length);
    for (uint64_t j = 0, off = 3ull * p->cs; off < l1_end; j += p->l2e, off += p->cs) {
        memset(w->meta, 0, p->cs);
        for (uint64_t i = 0; i < p->l2e && j + i < p->l1; i++)
            ifmt_put_be64(w->meta + 8 * i, p->l2_host[j + i] ?
                          (p->l2_host[j + i] * p->cs) | QF_OFLAG_COPIED : 0);
        if ((r = d_pwrite(w, w->meta, (size_t)ifmt_min(p->cs, l1_end - off), off)) < 0)
            return r;
    }
    w->hw = ifmt_max(w->hw, l1_end);
    if ((r = d_gap(w, p->length)) < 0)
        return r;
    if (p->o.compress)
        build_refblock_comp(p, 0, w->meta);
    else
        build_refblock_plain(p, 0, w->meta);
    if ((r = d_pwrite(w, w->meta, p->cs, 2ull * p->cs)) < 0)
        return r;
    build_reftable(p, w->meta);
    if ((r = d_pwrite(w, w->meta, p->cs, p->cs)) < 0)
        return r;
    /* The header last: until then the file is not a qcow2 image. */
    build_header(p, w->meta);
    if ((r = d_pwrite(w, w->meta, p->cs, 0)) < 0)
        return r;
    w->phase = W_DONE;
    return 1;
}

/* ---- construction -------------------------------------------------- */

static int writer_new(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                      imgfmt_write_fn *write_fn, imgfmt_pwrite_fn *pwrite_fn, void *opaque,
                      imgfmt_qcow2_writer **out, imgfmt_error *err)
{
    if (out)
        *out = NULL;
    if (!src || (!write_fn && !pwrite_fn) || !out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "qcow2 writer: NULL argument");
    imgfmt_qcow2_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "qcow2 writer: out of memory");
    w->src = src;
    w->wfn = write_fn;
    w->pwfn = pwrite_fn;
    w->opaque = opaque;
    int r = qp_init(&w->p, src, opts);
    if (r < 0)
        goto fail_src;
    w->meta = malloc(w->p.cs);
    w->zero_len = 65536;
    w->zero = calloc(1, w->zero_len);
    if (!w->meta || !w->zero)
        goto nomem;
    if (pwrite_fn) {
        w->l2buf = malloc(w->p.cs);
        w->l2h = calloc(w->p.l1 ? w->p.l1 : 1, sizeof *w->l2h);
        w->stage_cap = 1u << 20;
        w->stage = malloc(w->stage_cap);
        if (!w->l2buf || !w->l2h || !w->stage)
            goto nomem;
        qs_init(&w->s, &w->p);
        w->hw = (3 + w->p.l1c) * w->p.cs;
    } else {
        w->dbuf_cap = ifmt_max(1, (2u << 20) / w->p.cs);
        w->dbuf = malloc(w->dbuf_cap * w->p.cs);
        if (!w->dbuf)
            goto nomem;
    }
    if ((r = qp_scan_new(&w->p, 1, &w->sc)) < 0)
        goto fail_src;
    if (pwrite_fn)
        qp_scan_set_emit(w->sc, d_emit, w);
    w->phase = W_SCAN;
    *out = w;
    return 0;
nomem:
    r = ifmt_error(src, IMGFMT_E_NOMEM, "qcow2 writer: out of memory");
fail_src:
    {
        const imgfmt_error *e = imgfmt_last_error(src);
        if (err) {
            *err = *e;
            err->code = r;
        }
    }
    imgfmt_qcow2_writer_free(w);
    return r;
}

int imgfmt_qcow2_writer_new(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                            imgfmt_write_fn *write_fn, void *opaque,
                            imgfmt_qcow2_writer **out, imgfmt_error *err)
{
    if (!write_fn) {
        if (out)
            *out = NULL;
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "qcow2 writer: NULL argument");
    }
    return writer_new(src, opts, write_fn, NULL, opaque, out, err);
}

int imgfmt_qcow2_writer_new_seekable(imgfmt_image *src, const imgfmt_qcow2_opts *opts,
                                     imgfmt_pwrite_fn *pwrite_fn, void *opaque,
                                     imgfmt_qcow2_writer **out, imgfmt_error *err)
{
    if (!pwrite_fn) {
        if (out)
            *out = NULL;
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "qcow2 writer: NULL argument");
    }
    return writer_new(src, opts, NULL, pwrite_fn, opaque, out, err);
}

void imgfmt_qcow2_writer_free(imgfmt_qcow2_writer *w)
{
    if (!w)
        return;
    qp_scan_free(w->sc);
    qp_pool_free(w->pool);
    qp_free(&w->p);
    free(w->meta);
    free(w->zero);
    free(w->dbuf);
    free(w->chost);
    free(w->srcs);
    free(w->dsts);
    free(w->lens);
    free(w->slotbuf);
    free(w->stage);
    free(w->l2buf);
    free(w->l2h);
    free(w);
}

uint64_t imgfmt_qcow2_writer_length(const imgfmt_qcow2_writer *w)
{
    /* p.length is set by the simulation, at the end of planning. */
    return w ? w->p.length : 0;
}

uint64_t imgfmt_qcow2_writer_written(const imgfmt_qcow2_writer *w)
{
    return w ? w->written : 0;
}

const imgfmt_error *imgfmt_qcow2_writer_error(const imgfmt_qcow2_writer *w)
{
    static const imgfmt_error none = {0, 0, ""};
    return w ? &w->err : &none;
}

/* ---- phases -------------------------------------------------------- */

static int w_plan_done(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r = qp_simulate(p);
    if (r < 0)
        return w_fail_src(w, r);
    qp_scan_free(w->sc);
    w->sc = NULL;
    if (p->o.compress) {
        /* Host offset of each cluster, for the L2 tables. */
        if (p->mem + p->nc * 8 > p->o.max_plan_bytes)
            return w_fail(w, IMGFMT_E_LIMIT, "qcow2 writer: planner memory exceeds the cap of "
                          "%llu bytes", (unsigned long long)p->o.max_plan_bytes);
        w->chost = malloc((p->nc ? p->nc : 1) * sizeof *w->chost);
        w->nslots = (size_t)ifmt_max(1, (8u << 20) / p->cs);
        w->srcs = calloc(w->nslots, sizeof *w->srcs);
        w->dsts = calloc(w->nslots, sizeof *w->dsts);
        w->lens = calloc(w->nslots, sizeof *w->lens);
        w->slotbuf = malloc(w->nslots * 2 * (size_t)p->cs);
        if (!w->chost || !w->srcs || !w->dsts || !w->lens || !w->slotbuf)
            return w_fail(w, IMGFMT_E_NOMEM, "qcow2 writer: out of memory");
        for (size_t i = 0; i < w->nslots; i++) {
            w->srcs[i] = w->slotbuf + 2 * i * p->cs;
            w->dsts[i] = w->srcs[i] + p->cs;
        }
        /* Events hold guest -> host; clusters are in guest order in cg. */
        for (size_t i = 0; i < p->nev; i++) {
            const struct qp_event *e = &p->ev[i];
            if (e->kind != QP_EV_FULL && e->kind != QP_EV_COMP)
                continue;
            size_t lo = 0, hi = p->nc;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (p->cg[mid] < e->idx)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            w->chost[lo] = e->host;
        }
        if (qp_pool_new(p, p->o.threads, &w->pool) < 0)
            return w_fail(w, IMGFMT_E_NOMEM, "qcow2 writer: out of memory (workers)");
    }
    qs_init(&w->s, p);
    w->run_i = 0;
    w->g = p->nruns ? p->runs[0].g : 0;
    w->phase = W_HEAD;
    return 0;
}

static int w_head(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    build_header(p, w->meta);
    if ((r = w_write(w, w->meta, p->cs)) < 0)
        return r;
    build_reftable(p, w->meta);
    if ((r = w_write(w, w->meta, p->cs)) < 0)
        return r;
    if (p->o.compress)
        build_refblock_comp(p, 0, w->meta);
    else
        build_refblock_plain(p, 0, w->meta);
    if ((r = w_write(w, w->meta, p->cs)) < 0)
        return r;
    /* L1: only its l1_size * 8 bytes if nothing follows. */
    for (uint64_t j = 0; j < p->l1; j += p->l2e) {
        uint64_t n = ifmt_min(p->l1 - j, p->l2e);
        for (uint64_t i = 0; i < n; i++)
            ifmt_put_be64(w->meta + 8 * i, p->l2_host[j + i] ?
                          (p->l2_host[j + i] * p->cs) | QF_OFLAG_COPIED : 0);
        if ((r = w_write(w, w->meta, n * 8)) < 0)
            return r;
    }
    w->phase = W_BODY;
    return 0;
}

/* Read guest cluster g (plain mode) through the read-ahead buffer. */
static const uint8_t *w_cluster(imgfmt_qcow2_writer *w, uint64_t g, uint64_t run_end)
{
    struct qplan *p = &w->p;
    if (g < w->dbuf_g0 || g >= w->dbuf_g0 + w->dbuf_n) {
        uint64_t n = ifmt_min(run_end - g, w->dbuf_cap);
        uint64_t off = g * p->cs, len = n * p->cs, have = 0;
        if (off < p->src_size)
            have = ifmt_min(len, p->src_size - off);
        if (have && imgfmt_pread(w->src, w->dbuf, (size_t)have, off) < 0)
            return NULL;
        memset(w->dbuf + have, 0, (size_t)(len - have));
        w->dbuf_g0 = g;
        w->dbuf_n = n;
    }
    return w->dbuf + (g - w->dbuf_g0) * p->cs;
}

static int w_emit_refblock(imgfmt_qcow2_writer *w, uint64_t rb)
{
    int r = w_pad(w, rb * w->p.cs);
    if (r < 0)
        return r;
    if (w->p.o.compress)
        build_refblock_comp(&w->p, rb / w->p.per, w->meta);
    else
        build_refblock_plain(&w->p, rb / w->p.per, w->meta);
    return w_write(w, w->meta, w->p.cs);
}

/* The L2 table of range j (plain mode): simulate ahead over its clusters. */
static void w_build_l2_plain(imgfmt_qcow2_writer *w, uint64_t j)
{
    struct qplan *p = &w->p;
    struct qsim s = w->s;
    memset(w->meta, 0, p->cs);
    uint64_t rb;
    for (size_t i = w->run_i; i < p->nruns; i++) {
        uint64_t g0 = i == w->run_i ? w->g : p->runs[i].g, g1 = p->runs[i].g + p->runs[i].n;
        for (uint64_t g = g0; g < g1; g++) {
            if (g / p->l2e != j)
                return;
            uint64_t h = qs_cluster(&s, p, &rb);
            ifmt_put_be64(w->meta + 8 * (g % p->l2e), (h * p->cs) | QF_OFLAG_COPIED);
        }
    }
}

static int w_body_plain(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    uint64_t budget = ifmt_max(1, W_STEP_BYTES / p->cs), rb;
    int r;
    while (budget-- && w->run_i < p->nruns) {
        uint64_t g = w->g, j = g / p->l2e;
        uint64_t run_end = p->runs[w->run_i].g + p->runs[w->run_i].n;
        if (j != w->s.cur_l2) {
            w->s.cur_l2 = j;
            uint64_t h = qs_cluster(&w->s, p, &rb);
            if ((r = w_pad(w, h * p->cs)) < 0)
                return r;
            w_build_l2_plain(w, j);
            if ((r = w_write(w, w->meta, p->cs)) < 0)
                return r;
            if (rb && (r = w_emit_refblock(w, rb)) < 0)
                return r;
        }
        uint64_t h = qs_cluster(&w->s, p, &rb);
        const uint8_t *d = w_cluster(w, g, run_end);
        if (!d)
            return w_fail_src(w, imgfmt_last_error(w->src)->code);
        /* The clusters after it that land right after it in the file (same
         * L2 table, no refcount block in between, already read) go out in
         * the same write. */
        uint64_t n = 1;
        while (!rb && budget && g + n < run_end && (g + n) / p->l2e == j &&
               g + n < w->dbuf_g0 + w->dbuf_n) {
            struct qsim t = w->s;
            uint64_t rb2;
            (void)qs_cluster(&t, p, &rb2);
            if (rb2)
                break;
            w->s = t;
            n++;
            budget--;
        }
        if ((r = w_pad(w, h * p->cs)) < 0 || (r = w_write(w, d, (size_t)(n * p->cs))) < 0)
            return r;
        if (rb && (r = w_emit_refblock(w, rb)) < 0)
            return r;
        w->g += n;
        if (w->g == run_end && ++w->run_i < p->nruns)
            w->g = p->runs[w->run_i].g;
    }
    if (w->run_i == p->nruns)
        w->phase = W_TAIL;
    return 0;
}

static void w_build_l2_comp(imgfmt_qcow2_writer *w, uint64_t j)
{
    struct qplan *p = &w->p;
    memset(w->meta, 0, p->cs);
    size_t lo = 0, hi = p->nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->cg[mid] < j * p->l2e)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < p->nc && p->cg[i] / p->l2e == j; i++) {
        uint64_t e = p->clen[i] ? comp_entry(p, w->chost[i], p->clen[i])
                                : w->chost[i] | QF_OFLAG_COPIED;
        ifmt_put_be64(w->meta + 8 * (p->cg[i] % p->l2e), e);
    }
}

static int w_read_cluster(imgfmt_qcow2_writer *w, uint64_t g, uint8_t *buf)
{
    struct qplan *p = &w->p;
    uint64_t off = g * p->cs, have = 0;
    if (off < p->src_size)
        have = ifmt_min(p->cs, p->src_size - off);
    if (have && imgfmt_pread(w->src, buf, (size_t)have, off) < 0)
        return w_fail_src(w, imgfmt_last_error(w->src)->code);
    memset(buf + have, 0, (size_t)(p->cs - have));
    return 0;
}

static int w_body_comp(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    /* A batch of events; their data clusters are read and compressed
     * together (in parallel with threads > 1), then written in order. */
    size_t i0 = w->ev_i, i1 = i0, nslot = 0;
    while (i1 < p->nev && nslot < w->nslots) {
        const struct qp_event *e = &p->ev[i1];
        if (e->kind == QP_EV_FULL || e->kind == QP_EV_COMP) {
            if ((r = w_read_cluster(w, e->idx, w->srcs[nslot])) < 0)
                return r;
            nslot++;
        }
        i1++;
    }
    /* Every data slot is compressed again, the uncompressed fallbacks too:
     * the result must say "does not fit" exactly as in planning. */
    size_t slot = 0;
    if (nslot && (r = qp_pool_run(w->pool, nslot, w->srcs, w->dsts, w->lens)) < 0)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: compression failed");
    for (size_t i = i0; i < i1; i++) {
        const struct qp_event *e = &p->ev[i];
        if ((r = w_pad(w, e->host)) < 0)
            return r;
        switch (e->kind) {
        case QP_EV_L2:
            w_build_l2_comp(w, e->idx);
            r = w_write(w, w->meta, p->cs);
            break;
        case QP_EV_REFBLOCK:
            build_refblock_comp(p, e->idx, w->meta);
            r = w_write(w, w->meta, p->cs);
            break;
        case QP_EV_FULL:
            if (w->lens[slot] != 0)
                return w_fail(w, IMGFMT_E_IO, "qcow2 writer: guest cluster %llu compressed "
                              "differently than planned (source changed?)",
                              (unsigned long long)e->idx);
            r = w_write(w, w->srcs[slot++], p->cs);
            break;
        default:
            if (w->lens[slot] != (int)e->len)
                return w_fail(w, IMGFMT_E_IO, "qcow2 writer: guest cluster %llu compressed to %d "
                              "bytes, planned %u (source changed?)",
                              (unsigned long long)e->idx, w->lens[slot], e->len);
            r = w_write(w, w->dsts[slot++], e->len);
            break;
        }
        if (r < 0)
            return r;
    }
    w->ev_i = i1;
    if (w->ev_i == p->nev)
        w->phase = W_TAIL;
    return 0;
}

int imgfmt_qcow2_writer_step(imgfmt_qcow2_writer *w, uint64_t *done, uint64_t *total)
{
    if (!w)
        return IMGFMT_E_INVAL;
    int r = 0;
    switch (w->phase) {
    case W_FAILED:
        return w->err.code ? w->err.code : IMGFMT_E_IO;
    case W_DONE:
        r = 1;
        break;
    case W_SCAN:
        r = qp_scan_step(w->sc, W_STEP_BYTES, &w->scan_done);
        if (r < 0)
            return w->phase == W_FAILED ? r : w_fail_src(w, r);
        if (w->pwfn) {
            if (r == 1 && (r = d_finish(w)) < 0)
                return r;
            break;
        }
        if (r == 1 && (r = w_plan_done(w)) < 0)
            return r;
        r = 0;
        break;
    case W_HEAD:
        r = w_head(w);
        break;
    case W_BODY:
        r = w->p.o.compress ? w_body_comp(w) : w_body_plain(w);
        break;
    case W_TAIL:
        if ((r = w_pad(w, w->p.length)) < 0)
            return r;
        if (w->written != w->p.length)
            return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: wrote %llu bytes, "
                          "planned %llu", (unsigned long long)w->written,
                          (unsigned long long)w->p.length);
        w->phase = W_DONE;
        r = 1;
        break;
    }
    if (r < 0)
        return r;
    if (w->pwfn) {
        /* One pass: progress is the source read. */
        if (done)
            *done = w->scan_done;
        if (total)
            *total = w->p.src_size;
        return r;
    }
    if (done)
        *done = w->scan_done + w->written;
    if (total)
        *total = w->p.src_size + (w->phase > W_SCAN ? w->p.length : 0);
    return r;
}
