/*
 * ntfs-attr.c -- MFT records (fix-ups verified), the attributes inside
 * them, attribute lists that spread one file over several records,
 * runlists, and reading an attribute's value: resident, non-resident
 * with holes, or LZNT1-compressed by units.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "fs/ntfs-priv.h"

#define MASK48 0x0000FFFFFFFFFFFFull

/* ---- records ---------------------------------------------------------- */

int ntfs_check_record(struct ifmt_fs *fs, uint64_t no, uint8_t *buf, bool base)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    unsigned stride;
    if (memcmp(buf, "BAAD", 4) == 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: MFT record %llu is marked bad",
                             (unsigned long long)no);
    if (memcmp(buf, "FILE", 4) != 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu has no FILE signature",
                             (unsigned long long)no);
    int r = ntfs_apply_fixups(buf, v->record_size, &stride);
    if (r == -1)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: bad update sequence array",
                             (unsigned long long)no);
    if (r == -2)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: fix-up mismatch in sector %u (torn write)",
                             (unsigned long long)no, stride);
    uint32_t used = ifmt_le32(buf + NTFS_REC_USED);
    uint16_t first = ifmt_le16(buf + NTFS_REC_ATTR_OFF);
    if (used > v->record_size || first < 42 || first > used - 4 || used < 48)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: attributes at %u, %u bytes used, beyond "
                             "the %u-byte record", (unsigned long long)no, first, used,
                             v->record_size);
    if (!(ifmt_le16(buf + NTFS_REC_FLAGS) & NTFS_REC_IN_USE))
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: MFT record %llu is not in use",
                             (unsigned long long)no);
    if (base && (ifmt_le64(buf + NTFS_REC_BASE) & MASK48) != 0)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu is an extension of record %llu, not a file",
                             (unsigned long long)no,
                             (unsigned long long)(ifmt_le64(buf + NTFS_REC_BASE) & MASK48));
    return IMGFMT_OK;
}

int ntfs_read_mft_record(struct ifmt_fs *fs, uint64_t no, uint8_t *buf)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    if (no >= v->nrecords)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu beyond the %llu records of $MFT",
                             (unsigned long long)no, (unsigned long long)v->nrecords);
    return ntfs_stream_read(fs, &v->mft, buf, v->record_size, no * v->record_size,
                            "MFT record");
}

int ntfs_attr_next(struct ifmt_fs *fs, uint64_t no, const uint8_t *buf, uint32_t *pos,
                   struct ntfs_attr *out)
{
    uint32_t used = ifmt_le32(buf + NTFS_REC_USED);
    uint32_t p = *pos ? *pos : ifmt_le16(buf + NTFS_REC_ATTR_OFF);
    if (p > used - 4)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: attribute list runs past the record",
                             (unsigned long long)no);
    const uint8_t *a = buf + p;
    uint32_t type = ifmt_le32(a);
    if (type == NTFS_AT_END)
        return 0;
    uint32_t len = used - p >= 16 ? ifmt_le32(a + 4) : 0;
    bool nonres = len >= 16 && a[8] != 0;
    uint32_t min = nonres ? 64 : 24;
    if (len < min || len > used - p || len % 8)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: attribute 0x%x at %u of length %u runs "
                             "past the record", (unsigned long long)no, type, p, len);
    memset(out, 0, sizeof *out);
    out->a = a;
    out->len = len;
    out->type = type;
    out->nonresident = nonres;
    out->rec = no;
    out->name_len = a[9];
    uint16_t name_off = ifmt_le16(a + 10);
    if (out->name_len && (uint32_t)name_off + 2u * out->name_len > len)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                             "ntfs: MFT record %llu: attribute 0x%x name past its end",
                             (unsigned long long)no, type);
    out->name = a + name_off;
    if (!nonres) {
        uint32_t vlen = ifmt_le32(a + 16);
        uint16_t voff = ifmt_le16(a + 20);
        if (voff > len || vlen > len - voff)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ntfs: MFT record %llu: attribute 0x%x value (%u bytes at "
                                 "%u) past its end", (unsigned long long)no, type, vlen, voff);
        out->value = a + voff;
        out->value_len = vlen;
    }
    *pos = p + len;
    return 1;
}

static int find_attr_list(struct ifmt_fs *fs, struct ntfs_record *rec)
{
    uint32_t pos = 0;
    struct ntfs_attr at;
    int r;
    while ((r = ntfs_attr_next(fs, rec->no, rec->buf, &pos, &at)) == 1) {
        if (at.type != NTFS_AT_ATTR_LIST)
            continue;
        if (!at.nonresident) {
            if ((r = ifmt_fs_charge(fs, at.value_len, "attribute list")) < 0)
                return r;
            rec->alist = malloc(at.value_len ? at.value_len : 1);
            if (!rec->alist)
                return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
            memcpy(rec->alist, at.value, at.value_len);
            rec->alist_len = at.value_len;
            return IMGFMT_OK;
        }
        struct ntfs_stream s;
        memset(&s, 0, sizeof s);
        r = ntfs_stream_add_extent(fs, &s, &at);
        if (r == 0)
            r = ntfs_stream_slurp(fs, &s, NTFS_MAX_ATTR_LIST, "attribute list", &rec->alist);
        if (r == 0)
            rec->alist_len = (size_t)s.size;
        ntfs_stream_free(fs, &s);
        return r;
    }
    return r;
}

int ntfs_record_open(struct ifmt_fs *fs, uint64_t no, struct ntfs_record *rec)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    memset(rec, 0, sizeof *rec);
    rec->no = no;
    int r = ifmt_fs_charge(fs, v->record_size, "MFT record");
    if (r < 0)
        return r;
    rec->buf = malloc(v->record_size);
    if (!rec->buf) {
        ifmt_fs_uncharge(fs, v->record_size);
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    }
    r = ntfs_read_mft_record(fs, no, rec->buf);
    if (r == 0)
        r = ntfs_check_record(fs, no, rec->buf, true);
    if (r == 0)
        r = find_attr_list(fs, rec);
    if (r < 0)
        ntfs_record_close(fs, rec);
    return r;
}

void ntfs_record_close(struct ifmt_fs *fs, struct ntfs_record *rec)
{
    if (rec->buf)
        ifmt_fs_uncharge(fs, ntfs_vol(fs)->record_size);
    if (rec->alist)
        ifmt_fs_uncharge(fs, rec->alist_len);
    free(rec->buf);
    free(rec->alist);
    rec->buf = rec->alist = NULL;
    rec->alist_len = 0;
}

/* The attribute with type and instance in buf (record no). */
static int find_instance(struct ifmt_fs *fs, uint64_t no, const uint8_t *buf, uint32_t type,
                         uint16_t instance, struct ntfs_attr *out)
{
    uint32_t pos = 0;
    int r;
    while ((r = ntfs_attr_next(fs, no, buf, &pos, out)) == 1)
        if (out->type == type && ifmt_le16(out->a + 14) == instance)
            return IMGFMT_OK;
    if (r < 0)
        return r;
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                         "ntfs: attribute list names attribute 0x%x #%u in record %llu, "
                         "which does not hold it", type, instance, (unsigned long long)no);
}

/* One attribute list entry of type: locate its attribute and call fn. */
static int visit_list_entry(struct ifmt_fs *fs, const struct ntfs_record *rec,
                            const uint8_t *e, ntfs_attr_fn *fn, void *opaque)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    uint64_t no = ifmt_le64(e + 16) & MASK48;
    const uint8_t *buf = rec->buf;
    if (no != rec->no) {
        int r = ntfs_read_mft_record(fs, no, v->scratch);
        if (r == 0)
            r = ntfs_check_record(fs, no, v->scratch, false);
        if (r < 0)
            return r;
        if ((ifmt_le64(v->scratch + NTFS_REC_BASE) & MASK48) != rec->no)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ntfs: record %llu lists record %llu, which belongs to "
                                 "another file", (unsigned long long)rec->no,
                                 (unsigned long long)no);
        buf = v->scratch;
    }
    struct ntfs_attr at;
    int r = find_instance(fs, no, buf, ifmt_le32(e), ifmt_le16(e + 24), &at);
    return r < 0 ? r : fn(fs, &at, opaque);
}

int ntfs_for_each_attr(struct ifmt_fs *fs, const struct ntfs_record *rec, uint32_t type,
                       ntfs_attr_fn *fn, void *opaque)
{
    int r;
    if (!rec->alist) {
        uint32_t pos = 0;
        struct ntfs_attr at;
        while ((r = ntfs_attr_next(fs, rec->no, rec->buf, &pos, &at)) == 1)
            if (at.type == type && (r = fn(fs, &at, opaque)) != 0)
                return r < 0 ? r : 0;
        return r;
    }
    for (size_t off = 0; off < rec->alist_len;) {
        const uint8_t *e = rec->alist + off;
        size_t left = rec->alist_len - off;
        size_t len = left >= 26 ? ifmt_le16(e + 4) : 0;
        if (len < 26 || len > left || len % 8)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT,
                                 "ntfs: record %llu: attribute list entry at %zu of length "
                                 "%zu runs past the list", (unsigned long long)rec->no, off,
                                 len);
        off += len;
        if (ifmt_le32(e) != type)
            continue;
        if ((r = visit_list_entry(fs, rec, e, fn, opaque)) != 0)
            return r < 0 ? r : 0;
    }
    return IMGFMT_OK;
}

/* ---- runlists --------------------------------------------------------- */

static int push_run(struct ifmt_fs *fs, struct ntfs_stream *s, uint64_t vcn, uint64_t len,
                    uint64_t lcn)
{
    if (s->nruns == s->cap_runs) {
        if (s->nruns >= NTFS_MAX_RUNS)
            return ifmt_fs_error(fs, IMGFMT_E_LIMIT, "ntfs: more than %u runs in one "
                                 "attribute", NTFS_MAX_RUNS);
        size_t cap = s->cap_runs ? 2 * s->cap_runs : 8;
        uint64_t grow = (uint64_t)(cap - s->cap_runs) * sizeof *s->runs;
        int r = ifmt_fs_charge(fs, grow, "runlist");
        if (r < 0)
            return r;
        struct ntfs_run *n = realloc(s->runs, cap * sizeof *n);
        if (!n) {
            ifmt_fs_uncharge(fs, grow);
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
        }
        s->charged += grow;
        s->runs = n;
        s->cap_runs = cap;
    }
    s->runs[s->nruns++] = (struct ntfs_run){ vcn, len, lcn };
    return IMGFMT_OK;
}

static uint64_t load_uvar(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int64_t load_svar(const uint8_t *p, unsigned n)
{
    uint64_t v = load_uvar(p, n);
    if (n < 8 && (p[n - 1] & 0x80))
        v |= ~0ull << (8 * n);
    return (int64_t)v;
}

/* Decode the mapping pairs [p, end) of an extent covering VCN [vcn, last]. */
static int decode_runlist(struct ifmt_fs *fs, struct ntfs_stream *s, const uint8_t *p,
                          const uint8_t *end, uint64_t vcn, uint64_t stop, uint64_t rec)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    int64_t lcn = 0;
    while (p < end && *p) {
        unsigned lb = *p & 15, ob = *p >> 4;
        p++;
        if (lb == 0 || lb > 8 || ob > 8 || (size_t)(end - p) < lb + ob)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: bad runlist "
                                 "header at VCN %llu", (unsigned long long)rec,
                                 (unsigned long long)vcn);
        uint64_t len = load_uvar(p, lb), vend;
        if (len == 0 || ifmt_add_overflow(vcn, len, &vend) || vend > stop)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: run of %llu "
                                 "clusters at VCN %llu overflows the extent",
                                 (unsigned long long)rec, (unsigned long long)len,
                                 (unsigned long long)vcn);
        uint64_t at = NTFS_LCN_SPARSE;
        if (ob) {
            int64_t d = load_svar(p + lb, ob);
            if ((d > 0 && lcn > INT64_MAX - d) || lcn + d < 0 ||
                (uint64_t)(lcn + d) > v->total_clusters ||
                len > v->total_clusters - (uint64_t)(lcn + d))
                return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: run at VCN "
                                     "%llu (%llu clusters) outside the volume's %llu "
                                     "clusters", (unsigned long long)rec,
                                     (unsigned long long)vcn, (unsigned long long)len,
                                     (unsigned long long)v->total_clusters);
            lcn += d;
            at = (uint64_t)lcn;
        }
        int r = push_run(fs, s, vcn, len, at);
        if (r < 0)
            return r;
        vcn = vend;
        p += lb + ob;
    }
    if (vcn != stop)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: runlist ends at VCN "
                             "%llu, the extent at %llu", (unsigned long long)rec,
                             (unsigned long long)vcn, (unsigned long long)stop);
    s->next_vcn = vcn;
    return IMGFMT_OK;
}

static int set_stream_sizes(struct ifmt_fs *fs, struct ntfs_stream *s,
                            const struct ntfs_attr *at)
{
    struct ntfs_vol *v = ntfs_vol(fs);
    const uint8_t *a = at->a;
    s->flags = ifmt_le16(a + 12);
    s->alloc = ifmt_le64(a + 40);
    s->size = ifmt_le64(a + 48);
    s->init_size = ifmt_le64(a + 56);
    if (s->size > s->alloc || s->init_size > s->size || s->alloc > INT64_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: attribute 0x%x sizes "
                             "inconsistent (size %llu, allocated %llu, initialized %llu)",
                             (unsigned long long)at->rec, at->type,
                             (unsigned long long)s->size, (unsigned long long)s->alloc,
                             (unsigned long long)s->init_size);
    uint16_t cu = ifmt_le16(a + 34);
    if ((s->flags & NTFS_ATTR_COMPRESSED) && cu) {
        if (cu > 8 || ((uint64_t)v->cluster_size << cu) > NTFS_MAX_UNIT)
            return ifmt_fs_error(fs, IMGFMT_E_UNSUPPORTED, "ntfs: record %llu: compression "
                                 "unit of 2^%u clusters of %u bytes",
                                 (unsigned long long)at->rec, cu, v->cluster_size);
        s->unit_clusters = 1u << cu;
    } else if (s->flags & NTFS_ATTR_COMPRESSED && at->len < 72) {
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: compressed attribute "
                             "without a compression unit", (unsigned long long)at->rec);
    }
    return IMGFMT_OK;
}

int ntfs_stream_add_extent(struct ifmt_fs *fs, struct ntfs_stream *s,
                           const struct ntfs_attr *at)
{
    if (!at->nonresident)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: attribute 0x%x both "
                             "resident and not", (unsigned long long)at->rec, at->type);
    const uint8_t *a = at->a;
    uint64_t first = ifmt_le64(a + 16), last = ifmt_le64(a + 24);
    uint16_t rl = ifmt_le16(a + 32);
    if (first != s->next_vcn)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: attribute 0x%x extent "
                             "starts at VCN %llu, expected %llu", (unsigned long long)at->rec,
                             at->type, (unsigned long long)first,
                             (unsigned long long)s->next_vcn);
    if (first == 0) {
        int r = set_stream_sizes(fs, s, at);
        if (r < 0)
            return r;
    }
    if (rl < 64 || rl > at->len)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: runlist offset %u "
                             "outside the attribute", (unsigned long long)at->rec, rl);
    /* last = first - 1 is an empty extent (a zero-length attribute). */
    uint64_t stop;
    if (last == first - 1 || (first == 0 && last == UINT64_MAX))
        stop = first;
    else if (last < first || last == UINT64_MAX)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: extent VCNs %llu..%llu",
                             (unsigned long long)at->rec, (unsigned long long)first,
                             (unsigned long long)last);
    else
        stop = last + 1;
    return decode_runlist(fs, s, a + rl, a + at->len, first, stop, at->rec);
}

void ntfs_stream_free(struct ifmt_fs *fs, struct ntfs_stream *s)
{
    ifmt_fs_uncharge(fs, s->charged);
    free(s->runs);
    free(s->data);
    free(s->unit_buf);
    memset(s, 0, sizeof *s);
}

struct load_ctx {
    struct ntfs_stream *s;
    const uint8_t *name;
    uint8_t name_len;
    bool found;
};

static int load_one(struct ifmt_fs *fs, const struct ntfs_attr *at, void *opaque)
{
    struct load_ctx *c = opaque;
    if (at->name_len != c->name_len ||
        (c->name_len && memcmp(at->name, c->name, 2u * c->name_len) != 0))
        return 0;   /* (an unnamed stream has no name pointer: no memcmp) */
    struct ntfs_stream *s = c->s;
    if (!at->nonresident) {
        if (c->found)
            return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: attribute 0x%x "
                                 "both resident and not", (unsigned long long)at->rec,
                                 at->type);
        int r = ifmt_fs_charge(fs, at->value_len, "resident attribute");
        if (r < 0)
            return r;
        s->charged += at->value_len;
        s->data = malloc(at->value_len ? at->value_len : 1);
        if (!s->data)
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
        memcpy(s->data, at->value, at->value_len);
        s->resident = true;
        s->size = s->alloc = s->init_size = at->value_len;
        s->flags = ifmt_le16(at->a + 12);
        c->found = true;
        return 1;
    }
    c->found = true;
    return ntfs_stream_add_extent(fs, s, at);
}

int ntfs_stream_load(struct ifmt_fs *fs, const struct ntfs_record *rec, uint32_t type,
                     const uint8_t *name, uint8_t name_len, struct ntfs_stream *s)
{
    memset(s, 0, sizeof *s);
    struct load_ctx c = { s, name, name_len, false };
    int r = ntfs_for_each_attr(fs, rec, type, load_one, &c);
    if (r == 0 && !c.found)
        r = IMGFMT_E_NOT_FOUND;
    if (r == 0 && !s->resident &&
        ifmt_div_round_up(s->alloc, ntfs_vol(fs)->cluster_size) > s->next_vcn)
        r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: record %llu: attribute 0x%x maps %llu "
                          "clusters of its %llu allocated bytes", (unsigned long long)rec->no,
                          type, (unsigned long long)s->next_vcn,
                          (unsigned long long)s->alloc);
    if (r < 0)
        ntfs_stream_free(fs, s);
    return r;
}

/* ---- reading values --------------------------------------------------- */

/* The run holding vcn (runs are sorted and contiguous from VCN 0). */
static const struct ntfs_run *find_run(const struct ntfs_stream *s, uint64_t vcn)
{
    size_t lo = 0, hi = s->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ntfs_run *r = &s->runs[mid];
        if (vcn < r->vcn)
            hi = mid;
        else if (vcn >= r->vcn + r->len)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static int unmapped(struct ifmt_fs *fs, uint64_t vcn, const char *what)
{
    return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: %s: VCN %llu not mapped by the runlist",
                         what, (unsigned long long)vcn);
}

/* Plain (not compressed) non-resident read of [off, off + len). */
static int read_plain(struct ifmt_fs *fs, struct ntfs_stream *s, uint8_t *buf, size_t len,
                      uint64_t off, const char *what)
{
    uint32_t cs = ntfs_vol(fs)->cluster_size;
    while (len) {
        if (off >= s->init_size) {
            memset(buf, 0, len);
            return IMGFMT_OK;
        }
        uint64_t vcn = off / cs;
        const struct ntfs_run *run = find_run(s, vcn);
        if (!run)
            return unmapped(fs, vcn, what);
        uint64_t in_run = (run->vcn + run->len - vcn) * cs - off % cs;
        size_t n = len;
        if (n > in_run)
            n = (size_t)in_run;
        if (n > s->init_size - off)
            n = (size_t)(s->init_size - off);
        if (run->lcn == NTFS_LCN_SPARSE) {
            memset(buf, 0, n);
        } else {
            uint64_t at = (run->lcn + (vcn - run->vcn)) * cs + off % cs;
            int r = ifmt_fs_read(fs, buf, n, at, what);
            if (r < 0)
                return r;
        }
        buf += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

/* Clusters [vcn, vcn + count) into buf: holes as zeros, or skipped when
 * pack (the stored part of a compressed unit).  *got = bytes written. */
static int read_clusters(struct ifmt_fs *fs, struct ntfs_stream *s, uint64_t vcn,
                         uint64_t count, uint8_t *buf, bool pack, size_t *got,
                         const char *what)
{
    uint32_t cs = ntfs_vol(fs)->cluster_size;
    size_t o = 0;
    for (uint64_t end = vcn + count; vcn < end;) {
        const struct ntfs_run *run = find_run(s, vcn);
        if (!run)
            return unmapped(fs, vcn, what);
        uint64_t n = run->vcn + run->len - vcn;
        if (n > end - vcn)
            n = end - vcn;
        if (run->lcn != NTFS_LCN_SPARSE) {
            int r = ifmt_fs_read(fs, buf + o, (size_t)n * cs,
                                 (run->lcn + (vcn - run->vcn)) * cs, what);
            if (r < 0)
                return r;
            o += (size_t)n * cs;
        } else if (!pack) {
            memset(buf + o, 0, (size_t)n * cs);
            o += (size_t)n * cs;
        }
        vcn += n;
    }
    *got = o;
    return IMGFMT_OK;
}

/* Count the stored clusters of [vcn, vcn + count); CORRUPT if unmapped. */
static int stored_clusters(struct ifmt_fs *fs, const struct ntfs_stream *s, uint64_t vcn,
                           uint64_t count, uint64_t *stored, const char *what)
{
    *stored = 0;
    for (uint64_t end = vcn + count; vcn < end;) {
        const struct ntfs_run *run = find_run(s, vcn);
        if (!run)
            return unmapped(fs, vcn, what);
        uint64_t n = run->vcn + run->len - vcn;
        if (n > end - vcn)
            n = end - vcn;
        if (run->lcn != NTFS_LCN_SPARSE)
            *stored += n;
        vcn += n;
    }
    return IMGFMT_OK;
}

/* Make s->unit_buf hold compression unit u, decompressed. */
static int load_unit(struct ifmt_fs *fs, struct ntfs_stream *s, uint64_t u, const char *what)
{
    uint32_t cs = ntfs_vol(fs)->cluster_size;
    size_t unit = (size_t)s->unit_clusters * cs;
    if (s->unit_no == u + 1)
        return IMGFMT_OK;
    if (!s->unit_buf) {
        int r = ifmt_fs_charge(fs, unit, "compression unit");
        if (r < 0)
            return r;
        s->charged += unit;
        if (!(s->unit_buf = malloc(unit)))
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    }
    s->unit_no = 0;
    uint64_t vcn = u * s->unit_clusters, stored;
    uint64_t count = s->next_vcn - vcn < s->unit_clusters ? s->next_vcn - vcn
                                                          : s->unit_clusters;
    int r = stored_clusters(fs, s, vcn, count, &stored, what);
    if (r < 0)
        return r;
    size_t got;
    if (stored == 0) {
        memset(s->unit_buf, 0, unit);
    } else if (stored == count) {
        r = read_clusters(fs, s, vcn, count, s->unit_buf, false, &got, what);
    } else {
        uint8_t *tmp = malloc((size_t)stored * cs);
        if (!tmp)
            return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
        r = read_clusters(fs, s, vcn, count, tmp, true, &got, what);
        const char *why = NULL;
        if (r == 0 && ntfs_lznt1_decompress(tmp, got, s->unit_buf, unit, &why) < 0)
            r = ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: %s: compression unit %llu: "
                              "LZNT1 %s", what, (unsigned long long)u, why);
        free(tmp);
    }
    if (r == 0)
        s->unit_no = u + 1;
    return r;
}

static int read_compressed(struct ifmt_fs *fs, struct ntfs_stream *s, uint8_t *buf,
                           size_t len, uint64_t off, const char *what)
{
    uint64_t unit = (uint64_t)s->unit_clusters * ntfs_vol(fs)->cluster_size;
    while (len) {
        if (off >= s->init_size) {
            memset(buf, 0, len);
            return IMGFMT_OK;
        }
        int r = load_unit(fs, s, off / unit, what);
        if (r < 0)
            return r;
        size_t in = (size_t)(off % unit), n = len;
        if (n > unit - in)
            n = (size_t)(unit - in);
        if (n > s->init_size - off)
            n = (size_t)(s->init_size - off);
        memcpy(buf, s->unit_buf + in, n);
        buf += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

int ntfs_stream_read(struct ifmt_fs *fs, struct ntfs_stream *s, void *buf, size_t len,
                     uint64_t off, const char *what)
{
    if (off > s->size || len > s->size - off)
        return ifmt_fs_error(fs, IMGFMT_E_CORRUPT, "ntfs: %s: %zu bytes at %llu beyond the "
                             "%llu-byte value", what, len, (unsigned long long)off,
                             (unsigned long long)s->size);
    if (s->resident) {
        if (len)
            memcpy(buf, s->data + off, len);
        return IMGFMT_OK;
    }
    if (s->unit_clusters)
        return read_compressed(fs, s, buf, len, off, what);
    return read_plain(fs, s, buf, len, off, what);
}

int ntfs_stream_slurp(struct ifmt_fs *fs, struct ntfs_stream *s, size_t cap,
                      const char *what, uint8_t **out)
{
    *out = NULL;
    if (s->size > cap)
        return ifmt_fs_error(fs, IMGFMT_E_LIMIT, "ntfs: %s of %llu bytes, over %zu", what,
                             (unsigned long long)s->size, cap);
    size_t n = (size_t)s->size;
    int r = ifmt_fs_charge(fs, n, what);
    if (r < 0)
        return r;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        ifmt_fs_uncharge(fs, n);
        return ifmt_fs_error(fs, IMGFMT_E_NOMEM, "ntfs: out of memory");
    }
    if ((r = ntfs_stream_read(fs, s, b, n, 0, what)) < 0) {
        ifmt_fs_uncharge(fs, n);
        free(b);
        return r;
    }
    *out = b;
    return IMGFMT_OK;
}
