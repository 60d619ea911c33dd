/*
 * qcow2-writer.c -- the qcow2 writer, laid out by the planner in
 * qcow2-plan.c so the length is the one measure predicts.  Two modes, the
 * same bytes.
 *
 * Streaming (imgfmt_qcow2_writer_new): bytes strictly in file order to a
 * callback (a pipe works), two passes over the source.  Planning reads
 * every DATA run (zero scan, and compression with -c: only the lengths are
 * kept) because the header, refcount table, refcount blocks and L1 that
 * start the file depend on all of it.  Emitting reads the allocated
 * clusters again (and compresses them again: the same deterministic
 * zlib/zstd call gives the same bytes; a source that changes in between is
 * detected and reported).
 *
 * Where everything goes comes from the planner's layout cursor
 * (struct qp_cursor), the one walk of qemu's allocator; this file only
 * fills and writes what it places.  Uncompressed output is emitted straight
 * from the cursor, which places in file order.  Compressed output is
 * emitted from the plan's placed objects sorted by host, because qemu's
 * byte allocator can put a later stream into an earlier, partly filled
 * cluster; each L2 table is then built by walking a copy of the cursor
 * saved before it (w_record_l2_starts).
 *
 * Seekable (imgfmt_qcow2_writer_new_seekable): one pass, see "seekable
 * mode" below.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "formats/qcow2.h"
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
    /* The layout cursor: streaming plain body, and the seekable writer. */
    struct qp_cursor cur;
    /* uncompressed body */
    uint8_t *dbuf;                 /* read-ahead of guest clusters */
    uint64_t dbuf_g0, dbuf_n, dbuf_cap;
    /* compressed body: the plan's placed objects, sorted by host */
    size_t placed_i;
    struct qp_cursor *l2_start;    /* per L2 table, in order: the cursor before it */
    size_t l2_seen;                /* L2 tables written */
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
        return w_fail(w, IMGFMT_E_WRITE, "qcow2 writer: write callback failed at output "
                      "offset %llu", (unsigned long long)w->written);
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

/* ---- metadata ------------------------------------------------------ */

/* The feature name table qemu writes: every feature it knows. */
static const struct { uint8_t type, bit; const char *name; } features[] = {
    {QCOW2_FEATURE_INCOMPAT, 0, "dirty bit"},
    {QCOW2_FEATURE_INCOMPAT, 1, "corrupt bit"},
    {QCOW2_FEATURE_INCOMPAT, 2, "external data file"},
    {QCOW2_FEATURE_INCOMPAT, 3, "compression type"},
    {QCOW2_FEATURE_INCOMPAT, 4, "extended L2 entries"},
    {QCOW2_FEATURE_COMPAT, 0, "lazy refcounts"},
    {QCOW2_FEATURE_AUTOCLEAR, 0, "bitmaps"},
    {QCOW2_FEATURE_AUTOCLEAR, 1, "raw external data"},
};

/* The feature name table extension at e (fits: the cluster is > 4 KiB). */
static void build_feature_table(uint8_t *e)
{
    size_t n = sizeof features / sizeof features[0];
    ifmt_put_be32(e + QCOW2_EXTHDR_TYPE, QCOW2_EXT_FEATURE_TABLE);
    ifmt_put_be32(e + QCOW2_EXTHDR_DATA_LEN, (uint32_t)(n * QCOW2_FEATURE_ENTRY_LEN));
    for (size_t i = 0; i < n; i++) {
        uint8_t *f = e + QCOW2_EXTHDR_SIZE + i * QCOW2_FEATURE_ENTRY_LEN;
        f[QCOW2_FENTRY_TYPE] = features[i].type;
        f[QCOW2_FENTRY_BIT] = features[i].bit;
        memcpy(f + QCOW2_FENTRY_NAME, features[i].name, strlen(features[i].name));
    }
}

/* Cluster 0: the header, then (v3) header extensions, up to the cluster end. */
static void build_header(const struct qplan *p, uint8_t *h)
{
    uint64_t cs = p->cluster_size;
    memset(h, 0, cs);
    int v3 = p->opts.compat_v3;
    ifmt_put_be32(h + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
    ifmt_put_be32(h + QCOW2_HDR_VERSION, v3 ? 3 : 2);
    ifmt_put_be32(h + QCOW2_HDR_CLUSTER_BITS, p->cluster_bits);
    ifmt_put_be64(h + QCOW2_HDR_SIZE, p->virtual_size);
    ifmt_put_be32(h + QCOW2_HDR_L1_SIZE, (uint32_t)p->l1_entries);
    ifmt_put_be64(h + QCOW2_HDR_L1_OFFSET, p->l1_entries ? QP_L1_CLUSTER * cs : 0);
    ifmt_put_be64(h + QCOW2_HDR_REFTABLE_OFFSET, QP_REFTABLE_CLUSTER * cs);
    ifmt_put_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
    if (!v3)
        return;
    int zstd = p->opts.compression_type == IMGFMT_QCOW2_ZSTD;
    ifmt_put_be64(h + QCOW2_HDR_INCOMPAT, zstd ? QCOW2_INCOMPAT_COMPRESSION : 0);
    ifmt_put_be32(h + QCOW2_HDR_REFCOUNT_ORDER, (uint32_t)__builtin_ctz(p->refcount_bits));
    ifmt_put_be32(h + QCOW2_HDR_HEADER_LENGTH, QCOW2_V3_HEADER_LENGTH);
    h[QCOW2_HDR_COMPRESSION_TYPE] = zstd ? QCOW2_COMPRESSION_ZSTD : QCOW2_COMPRESSION_ZLIB;
    /* qemu writes the feature name table only when it fits comfortably:
     * clusters above 4 KiB (docs/formats.md, qcow2 header extensions). */
    if (cs > 4096)
        build_feature_table(h + QCOW2_V3_HEADER_LENGTH);
}

static uint64_t refblock_host(const struct qplan *p, uint64_t k)
{
    return qp_refblock_cluster(p, k) * p->cluster_size;
}

/* Cluster i of the L1 table into t.  Returns how many of its bytes the
 * file holds: all, except that an image without data ends after the
 * L1's own l1_size * 8 bytes. */
static size_t build_l1_cluster(const struct qplan *p, uint64_t i, uint8_t *t)
{
    memset(t, 0, p->cluster_size);
    uint64_t first = i * p->l2_entries, n = ifmt_min(p->l1_entries - first, p->l2_entries);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t host = p->l2_host_cluster[first + k];
        ifmt_put_be64(t + 8 * k, host ? (host * p->cluster_size) | QCOW2_OFLAG_COPIED : 0);
    }
    uint64_t off = (QP_L1_CLUSTER + i) * p->cluster_size;
    return (size_t)ifmt_min(p->cluster_size, p->length - off);
}

static void build_reftable(const struct qplan *p, uint8_t *t)
{
    memset(t, 0, p->cluster_size);
    uint64_t n = ifmt_div_round_up(p->used_clusters, p->refblock_entries);
    for (uint64_t k = 0; k < n; k++)
        ifmt_put_be64(t + 8 * k, refblock_host(p, k));
}

/* Refcount block k, uncompressed output: every used cluster once. */
static void build_refblock_plain(const struct qplan *p, uint64_t k, uint8_t *b)
{
    memset(b, 0, p->cluster_size);
    uint64_t first = k * p->refblock_entries;
    uint64_t end = ifmt_min(p->used_clusters, first + p->refblock_entries);
    for (uint64_t c = first; c < end; c++)
        qcow2_refcount_put(b, p->refcount_bits, c - first, 1);
}

static size_t placed_lower_bound(const struct qplan *p, uint64_t host)
{
    size_t lo = 0, hi = p->nplaced;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->placed[mid].host < host)
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
    memset(b, 0, p->cluster_size);
    uint64_t cs = p->cluster_size;
    uint64_t first = k * p->refblock_entries, last = first + p->refblock_entries; /* clusters */
    /* Counts fit the width: qemu never lets a cluster exceed refcount_max. */
    if (k == 0)
        for (uint64_t c = 0; c < qp_first_free_cluster(p); c++)
            qcow2_refcount_put(b, p->refcount_bits, c, 1);
    size_t i = placed_lower_bound(p, first ? (first - 1) * cs : 0);
    uint64_t prev_c = UINT64_MAX, prev_v = 0;
    for (; i < p->nplaced && p->placed[i].host < last * cs; i++) {
        const struct qp_placed *e = &p->placed[i];
        uint64_t c0 = e->host / cs, c1 = (e->host + e->len - 1) / cs;
        for (uint64_t c = c0; c <= c1; c++) {
            if (c < first || c >= last)
                continue;
            uint64_t v = (c == prev_c ? prev_v : 0) + 1;
            qcow2_refcount_put(b, p->refcount_bits, c - first, v);
            prev_c = c;
            prev_v = v;
        }
    }
}

/* Refcount block k, in either mode. */
static void build_refblock(const struct qplan *p, uint64_t k, uint8_t *b)
{
    if (p->opts.compress)
        build_refblock_comp(p, k, b);
    else
        build_refblock_plain(p, k, b);
}

/* The L2 entry of a placed data cluster or stream. */
static uint64_t l2_entry(const struct qplan *p, const struct qp_placed *obj)
{
    if (obj->kind == QP_STREAM)
        return qcow2_compressed_encode(obj->host, obj->len, p->cluster_bits);
    return obj->host | QCOW2_OFLAG_COPIED;
}

/* The L2 table of range j, into t: walk a copy of the cursor as it was
 * before the cluster that allocated the table, over the clusters of j. */
static void build_l2_table(const struct qplan *p, const struct qp_cursor *before, uint64_t j,
                           uint8_t *t)
{
    struct qp_cursor c = *before;
    struct qp_placed obj[QP_MAX_PLACED];
    size_t n;
    memset(t, 0, p->cluster_size);
    while ((n = qp_cursor_next(&c, obj)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (obj[i].kind == QP_L2_TABLE && obj[i].index != j)
                return;
            if (obj[i].kind == QP_DATA_CLUSTER || obj[i].kind == QP_STREAM)
                ifmt_put_be64(t + 8 * (obj[i].index % p->l2_entries), l2_entry(p, &obj[i]));
        }
}

/* ---- seekable mode: one read pass ----------------------------------- */

/*
 * The scan (qcow2-plan.c) hands every allocated cluster over in guest
 * order, with its data and (with -c) its stream, compressed once.  The
 * layout cursor follows the scan, so each cluster is written where it
 * places it, at the frontier; L2 tables and refcount blocks get their
 * place when allocated and are written once complete, header, refcount
 * table and L1 at the end.  Every byte of the output is written at least
 * once (gaps are written as zeros), so the destination need not be empty.
 * At the end qp_place_all() walks the whole scan result again and must
 * agree with what was written.
 */

static int d_pwrite(imgfmt_qcow2_writer *w, const void *buf, size_t len, uint64_t off)
{
    if (!len)
        return 0;
    if (w->pwfn(w->opaque, buf, len, off) < 0)
        return w_fail(w, IMGFMT_E_WRITE, "qcow2 writer: write callback failed at output "
                      "offset %llu", (unsigned long long)off);
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
    uint64_t off = cluster * w->p.cluster_size;
    int r = d_gap(w, off);
    if (r < 0)
        return r;
    w->hw = ifmt_max(w->hw, off + w->p.cluster_size);
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
    if (len < w->p.cluster_size && len <= w->stage_cap) {
        memcpy(w->stage, buf, len);
        w->pend = w->stage;
        w->pend_staged = 1;
    } else {
        w->pend = buf;
    }
    return 0;
}

/* The L2 table being filled, once its range is complete. */
static int d_close_l2(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    if (w->cur.l2_range == UINT64_MAX)
        return 0;
    return d_pwrite(w, w->l2buf, p->cluster_size, w->l2h[w->cur.l2_range] * p->cluster_size);
}

/* Guest cluster g is next: the table being filled is complete if g lies
 * in another range. */
static int d_close_l2_if_leaving(imgfmt_qcow2_writer *w, uint64_t g)
{
    if (w->cur.l2_range == UINT64_MAX || g / w->p.l2_entries == w->cur.l2_range)
        return 0;
    return d_close_l2(w);
}

/* The data object among the placed objects of one cluster. */
static const struct qp_placed *placed_data(const struct qp_placed *obj, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (obj[i].kind == QP_DATA_CLUSTER || obj[i].kind == QP_STREAM)
            return &obj[i];
    return NULL;
}

/* One placed object of the cluster the scan just handed over. */
static int d_place(imgfmt_qcow2_writer *w, const struct qp_placed *obj, const uint8_t *data,
                   const uint8_t *cdata)
{
    struct qplan *p = &w->p;
    int r;
    switch (obj->kind) {
    case QP_L2_TABLE:
        w->l2h[obj->index] = obj->host / p->cluster_size;
        memset(w->l2buf, 0, p->cluster_size);
        return d_reserve(w, obj->host / p->cluster_size);
    case QP_REFBLOCK:
        return d_reserve(w, obj->host / p->cluster_size);
    case QP_STREAM:
        r = d_out(w, cdata, obj->len, obj->host);
        break;
    default:
        r = d_out(w, data, p->cluster_size, obj->host);
        break;
    }
    if (r < 0)
        return r;
    ifmt_put_be64(w->l2buf + 8 * (obj->index % p->l2_entries), l2_entry(p, obj));
    return 0;
}

static int d_emit(void *ctx, uint64_t g, const uint8_t *data, const uint8_t *cdata, int clen)
{
    imgfmt_qcow2_writer *w = ctx;
    struct qp_placed obj[QP_MAX_PLACED];
    int r;
    if (!data)
        return w->pend_len ? d_flush(w) : 0;
    /* The table of the previous range is complete once the cursor leaves it. */
    if ((r = d_close_l2_if_leaving(w, g)) < 0)
        return r;
    size_t n = qp_cursor_next(&w->cur, obj);
    const struct qp_placed *d = placed_data(obj, n);
    if (!d || d->index != g || (clen > 0) != (d->kind == QP_STREAM))
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: guest cluster %llu is "
                      "not the next one the layout places", (unsigned long long)g);
    for (size_t i = 0; i < n; i++)
        if ((r = d_place(w, &obj[i], data, cdata)) < 0)
            return r;
    return 0;
}

/* Metadata cluster `cluster` from w->meta. */
static int d_put_meta(imgfmt_qcow2_writer *w, uint64_t cluster)
{
    return d_pwrite(w, w->meta, w->p.cluster_size, cluster * w->p.cluster_size);
}

/* After the scan: place everything again in one walk (which also sorts the
 * compressed objects the refcount blocks count) and check it against what
 * was written. */
static int d_check_layout(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    if ((r = qp_place_all(p)) < 0)
        return w_fail_src(w, r);
    size_t l1_bytes = (p->l1_entries ? p->l1_entries : 1) * sizeof *w->l2h;
    if (p->used_clusters != w->cur.next_free || p->length != qp_cursor_length(&w->cur) ||
        memcmp(p->l2_host_cluster, w->l2h, l1_bytes) != 0)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: one-pass layout (%llu "
                      "clusters) differs from the plan (%llu)",
                      (unsigned long long)w->cur.next_free, (unsigned long long)p->used_clusters);
    return 0;
}

/* After the scan: the refcount blocks, L1, refcount table and header. */
static int d_finish(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    if ((r = d_flush(w)) < 0 || (r = d_close_l2(w)) < 0)
        return r;
    qp_scan_free(w->sc);
    w->sc = NULL;
    if ((r = d_check_layout(w)) < 0)
        return r;
    for (uint64_t k = 1; k < p->refcount_blocks; k++) {
        build_refblock(p, k, w->meta);
        if ((r = d_pwrite(w, w->meta, p->cluster_size, refblock_host(p, k))) < 0)
            return r;
    }
    for (uint64_t i = 0; i < p->l1_clusters; i++) {
        size_t len = build_l1_cluster(p, i, w->meta);
        uint64_t off = (QP_L1_CLUSTER + i) * p->cluster_size;
        if ((r = d_pwrite(w, w->meta, len, off)) < 0)
            return r;
        w->hw = ifmt_max(w->hw, off + len);
    }
    if ((r = d_gap(w, p->length)) < 0)
        return r;
    build_refblock(p, 0, w->meta);
    if ((r = d_put_meta(w, QP_REFBLOCK0_CLUSTER)) < 0)
        return r;
    build_reftable(p, w->meta);
    if ((r = d_put_meta(w, QP_REFTABLE_CLUSTER)) < 0)
        return r;
    /* The header last: until then the file is not a qcow2 image. */
    build_header(p, w->meta);
    if ((r = d_put_meta(w, QP_HEADER_CLUSTER)) < 0)
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
    w->meta = malloc(w->p.cluster_size);
    w->zero_len = 65536;
    w->zero = calloc(1, w->zero_len);
    if (!w->meta || !w->zero)
        goto nomem;
    if (pwrite_fn) {
        w->l2buf = malloc(w->p.cluster_size);
        w->l2h = calloc(w->p.l1_entries ? w->p.l1_entries : 1, sizeof *w->l2h);
        w->stage_cap = 1u << 20;
        w->stage = malloc(w->stage_cap);
        if (!w->l2buf || !w->l2h || !w->stage)
            goto nomem;
        qp_cursor_init(&w->cur, &w->p);
        w->hw = qp_first_free_cluster(&w->p) * w->p.cluster_size;
    } else {
        w->dbuf_cap = ifmt_max(1, (2u << 20) / w->p.cluster_size);
        w->dbuf = malloc(w->dbuf_cap * w->p.cluster_size);
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
    free(w->l2_start);
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
    /* p.length is set by qp_place_all(), at the end of planning. */
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

/* Compressed output is written in file order, where an L2 table can come
 * after streams it maps: keep, per L2 table, the cursor from which
 * build_l2_table() walks its range. */
static int w_record_l2_starts(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    if (p->mem_used + p->l2_tables * sizeof *w->l2_start > p->opts.max_plan_bytes)
        return w_fail(w, IMGFMT_E_LIMIT, "qcow2 writer: planner memory exceeds the cap of "
                      "%llu bytes", (unsigned long long)p->opts.max_plan_bytes);
    w->l2_start = malloc((p->l2_tables ? p->l2_tables : 1) * sizeof *w->l2_start);
    if (!w->l2_start)
        return w_fail(w, IMGFMT_E_NOMEM, "qcow2 writer: out of memory");
    struct qp_cursor c, before;
    struct qp_placed obj[QP_MAX_PLACED];
    size_t n, k = 0;
    qp_cursor_init(&c, p);
    for (before = c; (n = qp_cursor_next(&c, obj)) > 0; before = c)
        if (obj[0].kind == QP_L2_TABLE && k < p->l2_tables)
            w->l2_start[k++] = before;
    return 0;
}

static int w_plan_done(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r = qp_place_all(p);
    if (r < 0)
        return w_fail_src(w, r);
    qp_scan_free(w->sc);
    w->sc = NULL;
    if (p->opts.compress) {
        w->nslots = (size_t)ifmt_max(1, (8u << 20) / p->cluster_size);
        w->srcs = calloc(w->nslots, sizeof *w->srcs);
        w->dsts = calloc(w->nslots, sizeof *w->dsts);
        w->lens = calloc(w->nslots, sizeof *w->lens);
        w->slotbuf = malloc(w->nslots * 2 * (size_t)p->cluster_size);
        if (!w->srcs || !w->dsts || !w->lens || !w->slotbuf)
            return w_fail(w, IMGFMT_E_NOMEM, "qcow2 writer: out of memory");
        for (size_t i = 0; i < w->nslots; i++) {
            w->srcs[i] = w->slotbuf + 2 * i * p->cluster_size;
            w->dsts[i] = w->srcs[i] + p->cluster_size;
        }
        if ((r = w_record_l2_starts(w)) < 0)
            return r;
        if (qp_pool_new(p, p->opts.threads, &w->pool) < 0)
            return w_fail(w, IMGFMT_E_NOMEM, "qcow2 writer: out of memory (workers)");
    }
    qp_cursor_init(&w->cur, p);
    w->phase = W_HEAD;
    return 0;
}

static int w_head(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    int r;
    build_header(p, w->meta);
    if ((r = w_write(w, w->meta, p->cluster_size)) < 0)
        return r;
    build_reftable(p, w->meta);
    if ((r = w_write(w, w->meta, p->cluster_size)) < 0)
        return r;
    build_refblock(p, 0, w->meta);
    if ((r = w_write(w, w->meta, p->cluster_size)) < 0)
        return r;
    for (uint64_t i = 0; i < p->l1_clusters; i++)
        if ((r = w_write(w, w->meta, build_l1_cluster(p, i, w->meta))) < 0)
            return r;
    w->phase = W_BODY;
    return 0;
}

/* Read guest cluster g (plain mode) through the read-ahead buffer. */
static const uint8_t *w_cluster(imgfmt_qcow2_writer *w, uint64_t g, uint64_t run_end)
{
    struct qplan *p = &w->p;
    if (g < w->dbuf_g0 || g >= w->dbuf_g0 + w->dbuf_n) {
        uint64_t n = ifmt_min(run_end - g, w->dbuf_cap);
        uint64_t off = g * p->cluster_size, len = n * p->cluster_size, have = 0;
        if (off < p->src_size)
            have = ifmt_min(len, p->src_size - off);
        if (have && imgfmt_pread(w->src, w->dbuf, (size_t)have, off) < 0)
            return NULL;
        memset(w->dbuf + have, 0, (size_t)(len - have));
        w->dbuf_g0 = g;
        w->dbuf_n = n;
    }
    return w->dbuf + (g - w->dbuf_g0) * p->cluster_size;
}

/* Data cluster obj and the ones placed right after it in the file (same
 * run, nothing in between, already read) in one write.  last: obj is the
 * last object of its cluster (no refcount block follows it). */
static int w_data_run(imgfmt_qcow2_writer *w, const struct qp_placed *obj, int last,
                      uint64_t *budget)
{
    struct qplan *p = &w->p;
    uint64_t g = obj->index, n = 1;
    const uint8_t *d = w_cluster(w, g, qp_cursor_run_end(&w->cur));
    if (!d)
        return w_fail_src(w, imgfmt_last_error(w->src)->code);
    while (last && *budget && g + n < w->dbuf_g0 + w->dbuf_n) {
        struct qp_cursor peek = w->cur;
        struct qp_placed next[QP_MAX_PLACED];
        if (qp_cursor_next(&peek, next) != 1 || next[0].index != g + n ||
            next[0].host != obj->host + n * p->cluster_size)
            break;
        w->cur = peek;
        n++;
        (*budget)--;
    }
    return w_write(w, d, (size_t)(n * p->cluster_size));
}

/* Uncompressed body: the cursor's objects in the order it places them,
 * which is file order. */
static int w_body_plain(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    uint64_t budget = ifmt_max(1, W_STEP_BYTES / p->cluster_size);
    struct qp_placed obj[QP_MAX_PLACED];
    int r;
    while (budget--) {
        struct qp_cursor before = w->cur;
        size_t n = qp_cursor_next(&w->cur, obj);
        if (n == 0) {
            w->phase = W_TAIL;
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if ((r = w_pad(w, obj[i].host)) < 0)
                return r;
            if (obj[i].kind == QP_DATA_CLUSTER) {
                r = w_data_run(w, &obj[i], i + 1 == n, &budget);
            } else {
                if (obj[i].kind == QP_L2_TABLE)
                    build_l2_table(p, &before, obj[i].index, w->meta);
                else
                    build_refblock(p, obj[i].index, w->meta);
                r = w_write(w, w->meta, p->cluster_size);
            }
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int w_read_cluster(imgfmt_qcow2_writer *w, uint64_t g, uint8_t *buf)
{
    struct qplan *p = &w->p;
    uint64_t off = g * p->cluster_size, have = 0;
    if (off < p->src_size)
        have = ifmt_min(p->cluster_size, p->src_size - off);
    if (have && imgfmt_pread(w->src, buf, (size_t)have, off) < 0)
        return w_fail_src(w, imgfmt_last_error(w->src)->code);
    memset(buf + have, 0, (size_t)(p->cluster_size - have));
    return 0;
}

/* Read and compress the data of the placed objects [i0, i1) into the
 * slots (in parallel with threads > 1); *i1 stops when the slots are full. */
static int w_comp_batch(imgfmt_qcow2_writer *w, size_t i0, size_t *i1)
{
    struct qplan *p = &w->p;
    size_t i = i0, nslot = 0;
    int r;
    for (; i < p->nplaced && nslot < w->nslots; i++) {
        const struct qp_placed *e = &p->placed[i];
        if (e->kind == QP_DATA_CLUSTER || e->kind == QP_STREAM) {
            if ((r = w_read_cluster(w, e->index, w->srcs[nslot])) < 0)
                return r;
            nslot++;
        }
    }
    *i1 = i;
    /* Every data slot is compressed again, the uncompressed fallbacks too:
     * the result must say "does not fit" exactly as in planning. */
    if (nslot && qp_pool_run(w->pool, nslot, w->srcs, w->dsts, w->lens) < 0)
        return w_fail(w, IMGFMT_E_IO, "qcow2 writer: compression failed");
    return 0;
}

/* One placed object, compressed mode; data objects take the next slot. */
static int w_comp_object(imgfmt_qcow2_writer *w, const struct qp_placed *e, size_t *slot)
{
    struct qplan *p = &w->p;
    int r = w_pad(w, e->host);
    if (r < 0)
        return r;
    switch (e->kind) {
    case QP_L2_TABLE:
        if (w->l2_seen >= p->l2_tables)
            return w_fail(w, IMGFMT_E_IO, "qcow2 writer: internal error: more L2 tables than "
                          "planned");
        build_l2_table(p, &w->l2_start[w->l2_seen++], e->index, w->meta);
        return w_write(w, w->meta, p->cluster_size);
    case QP_REFBLOCK:
        build_refblock(p, e->index, w->meta);
        return w_write(w, w->meta, p->cluster_size);
    case QP_DATA_CLUSTER:
        if (w->lens[*slot] != 0)
            return w_fail(w, IMGFMT_E_IO, "qcow2 writer: guest cluster %llu compressed "
                          "differently than planned (source changed?)",
                          (unsigned long long)e->index);
        return w_write(w, w->srcs[(*slot)++], p->cluster_size);
    default:
        if (w->lens[*slot] != (int)e->len)
            return w_fail(w, IMGFMT_E_IO, "qcow2 writer: guest cluster %llu compressed to %d "
                          "bytes, planned %u (source changed?)",
                          (unsigned long long)e->index, w->lens[*slot], e->len);
        return w_write(w, w->dsts[(*slot)++], e->len);
    }
}

/* Compressed body: the plan's placed objects, sorted by host, a batch of
 * data clusters at a time. */
static int w_body_comp(imgfmt_qcow2_writer *w)
{
    struct qplan *p = &w->p;
    size_t i1, slot = 0;
    int r;
    if ((r = w_comp_batch(w, w->placed_i, &i1)) < 0)
        return r;
    for (size_t i = w->placed_i; i < i1; i++)
        if ((r = w_comp_object(w, &p->placed[i], &slot)) < 0)
            return r;
    w->placed_i = i1;
    if (w->placed_i == p->nplaced)
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
        r = w->p.opts.compress ? w_body_comp(w) : w_body_plain(w);
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
