/*
 * lvm.c -- LVM2 physical volumes, volume groups and logical volumes.
 *
 * A PV carries a label in one of its first four 512-byte sectors
 * ("LABELONE", its own sector number, a CRC of the rest of the sector),
 * followed by the PV header: the PV's UUID, its size, then two lists of
 * (offset, size) pairs ending in (0, 0): data areas, then metadata areas.
 * A metadata area starts with a 512-byte header (CRC, magic, version,
 * its own offset and size, raw locations); the first raw location gives
 * the offset (from the area start), size and CRC of the current text.
 * The area past the header is a circular buffer: a text running past its
 * end continues just after the header.
 *
 * The text (lvm-meta.c) describes the VG: its extent size, its PVs (id,
 * pe_start, pe_count) and LVs made of segments of extents.  A "striped"
 * segment of k stripes (k = 1 is linear) maps LV bytes to areas of k PVs,
 * interleaved by stripe_size sectors.  Each LV is a byte device a file
 * system opens like a partition.  Every number from the metadata is
 * checked when the VG is built (segments inside their PV, contiguous, in
 * order), so reads only do the arithmetic.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bdev.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/image.h"
#include "disk/lvm.h"
#include "fs/fs.h"

#define LVM_MAX_MDAS_PER_PV 8u
#define LVM_MAX_WARNINGS    64u

struct lvm_dev {              /* a PV label found on the image */
    char uuid[33];            /* 32 characters, no dashes */
    uint64_t base, size;      /* where the PV's device lies on the image */
    char where[32];           /* "partition 2", "the whole disk" */
    int mda_error;            /* a metadata area of it could not be read */
};

struct lvm_area {
    uint32_t pv;              /* index in vg->pvs */
    uint64_t start_pe;
};

struct lvm_seg {
    uint64_t start_le, count_le;
    const char *type;
    bool striped;             /* type "striped": we map it */
    uint32_t nb_stripes;
    uint64_t stripe_bytes;    /* 0 for one stripe */
    struct lvm_area *areas;
};

struct lvm_vg;

struct lvm_lv {
    struct lvm_vg *vg;
    const char *name, *uuid;
    char *full;               /* "vg/lv" */
    uint64_t extents;
    uint32_t nb_segs;
    struct lvm_seg *segs;
    bool visible;
    const char *type;
    int refusal_code;         /* 0: readable; else UNSUPPORTED or BACKING */
    char refusal[256];
};

struct lvm_vgpv {
    const char *name;         /* "pv0" */
    const char *id;           /* dashed */
    uint64_t pe_start;        /* bytes */
    uint64_t pe_count;
    int dev;                  /* index in lvm->devs, -1 if missing */
};

struct lvm_vg {
    imgfmt_lvm *lvm;
    struct lvm_meta *meta;
    const struct lvm_node *sec;
    const char *name, *uuid;
    uint64_t seqno, extent_bytes;
    uint32_t nb_pvs, nb_missing;
    struct lvm_vgpv *pvs;
    char *missing;
    uint32_t nb_lvs;
    struct lvm_lv *lvs;
};

struct imgfmt_lvm {
    imgfmt_image *img;
    uint32_t nb_devs;
    struct lvm_dev *devs;
    uint32_t nb_vgs;
    struct lvm_vg *vgs;
    char **warnings;
    uint32_t nb_warnings;
    uint64_t charged;
    imgfmt_error err;
    imgfmt_error mda_err;     /* first metadata-area failure (see finish_scan) */
};

static int lvm_err(imgfmt_lvm *lvm, int code, const char *fmt, ...) IFMT_PRINTF(3, 4);
static int lvm_err(imgfmt_lvm *lvm, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ifmt_vseterr(&lvm->err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

static void lvm_warn(imgfmt_lvm *lvm, const char *msg)
{
    if (lvm->nb_warnings >= LVM_MAX_WARNINGS)
        return;
    char **w = realloc(lvm->warnings, (lvm->nb_warnings + 1) * sizeof *w);
    if (!w)
        return;
    lvm->warnings = w;
    if ((w[lvm->nb_warnings] = strdup(msg)) != NULL)
        lvm->nb_warnings++;
}

/* Allocate n elements of size sz, charged to the image. */
static void *lvm_alloc(imgfmt_lvm *lvm, uint64_t n, size_t sz, const char *what)
{
    uint64_t bytes;
    if (ifmt_mul_overflow(n, sz, &bytes) || bytes > SIZE_MAX) {
        lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: %s: %llu entries is too many", what,
                (unsigned long long)n);
        return NULL;
    }
    if (ifmt_charge(lvm->img, bytes ? bytes : 1, what) < 0) {
        lvm->err = lvm->img->err;
        return NULL;
    }
    void *p = calloc(1, bytes ? (size_t)bytes : 1);
    if (!p) {
        ifmt_uncharge(lvm->img, bytes ? bytes : 1);
        lvm_err(lvm, IMGFMT_E_NOMEM, "lvm: out of memory for %s", what);
        return NULL;
    }
    lvm->charged += bytes ? bytes : 1;
    return p;
}

static int read_img(imgfmt_lvm *lvm, void *buf, size_t len, uint64_t off)
{
    int r = imgfmt_pread(lvm->img, buf, len, off);
    if (r < 0)
        lvm->err = *imgfmt_last_error(lvm->img);
    return r;
}

/* ---- labels and PV headers ---------------------------------------- */

/* 1 if sector s (512 bytes) is a valid LVM2 label for sector index i. */
static int is_label(const uint8_t *s, uint32_t i)
{
    if (memcmp(s, LVM_LABEL_ID, 8) != 0 || ifmt_le64(s + 8) != i)
        return 0;
    if (memcmp(s + 24, LVM_LABEL_TYPE, 8) != 0)
        return 0;
    return ifmt_lvm_crc(LVM_CRC_INIT, s + 20, LVM_SECTOR - 20) == ifmt_le32(s + 16);
}

struct pv_header {
    char uuid[33];
    uint64_t dev_size;
    uint32_t nb_mdas;
    uint64_t mda_off[LVM_MAX_MDAS_PER_PV], mda_size[LVM_MAX_MDAS_PER_PV];
};

/* The PV header at byte off of label sector s. */
static int parse_pv_header(imgfmt_lvm *lvm, const uint8_t *s, const char *where,
                           struct pv_header *h)
{
    uint32_t off = ifmt_le32(s + 20);
    if (off < 32 || off > LVM_SECTOR - 56)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: PV header offset %u invalid",
                       where, off);
    const uint8_t *p = s + off;
    for (int i = 0; i < 32; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: PV UUID not printable", where);
    memcpy(h->uuid, p, 32);
    h->uuid[32] = '\0';
    h->dev_size = ifmt_le64(p + 32);
    h->nb_mdas = 0;
    uint32_t pos = off + 40, list = 0;
    while (list < 2) {                 /* data areas, then metadata areas */
        if (pos + 16 > LVM_SECTOR)
            return lvm_err(lvm, IMGFMT_E_CORRUPT,
                           "lvm: %s: PV header area lists run past the label sector", where);
        uint64_t a = ifmt_le64(s + pos), b = ifmt_le64(s + pos + 8);
        pos += 16;
        if (a == 0 && b == 0) {
            list++;
            continue;
        }
        if (list == 1) {
            if (h->nb_mdas >= LVM_MAX_MDAS_PER_PV)
                return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: %s: more than %u metadata areas",
                               where, LVM_MAX_MDAS_PER_PV);
            h->mda_off[h->nb_mdas] = a;
            h->mda_size[h->nb_mdas++] = b;
        }
    }
    return IMGFMT_OK;
}

/* ---- metadata areas ----------------------------------------------- */

/* A text found in a metadata area, parsed. */
static int merge_vg(imgfmt_lvm *lvm, struct lvm_meta *m, const char *where);

/* Read the text of raw location (off, size) of the area [mda, mda+mda_size)
 * of dev: it wraps past the end of the area to just after the header. */
static int read_text(imgfmt_lvm *lvm, const struct lvm_dev *dev, uint64_t mda,
                     uint64_t mda_size, uint64_t off, uint64_t size, uint8_t *text)
{
    uint64_t first = size;
    if (off + size > mda_size)
        first = mda_size - off;
    int r = read_img(lvm, text, (size_t)first, dev->base + mda + off);
    if (r == 0 && first < size)
        r = read_img(lvm, text + first, (size_t)(size - first),
                     dev->base + mda + LVM_MDA_HEADER_SIZE);
    return r;
}

static int check_mda_header(imgfmt_lvm *lvm, const uint8_t *h, uint64_t mda,
                            uint64_t mda_size, const char *where)
{
    if (memcmp(h + 4, LVM_MDA_MAGIC, LVM_MDA_MAGIC_LEN) != 0)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata area at byte %llu: bad magic", where,
                       (unsigned long long)mda);
    uint32_t crc = ifmt_lvm_crc(LVM_CRC_INIT, h + 4, LVM_MDA_HEADER_SIZE - 4);
    if (crc != ifmt_le32(h))
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata area header checksum 0x%08x, expected 0x%08x",
                       where, crc, ifmt_le32(h));
    if (ifmt_le32(h + 20) != 1)
        return lvm_err(lvm, IMGFMT_E_UNSUPPORTED,
                       "lvm: %s: metadata area version %u", where, ifmt_le32(h + 20));
    if (ifmt_le64(h + 24) != mda || ifmt_le64(h + 32) != mda_size)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata area header says start %llu size %llu, the PV "
                       "header %llu and %llu", where, (unsigned long long)ifmt_le64(h + 24),
                       (unsigned long long)ifmt_le64(h + 32), (unsigned long long)mda,
                       (unsigned long long)mda_size);
    return IMGFMT_OK;
}

/* Read and parse the current text of one metadata area. */
static int read_mda(imgfmt_lvm *lvm, const struct lvm_dev *dev, uint64_t mda,
                    uint64_t mda_size)
{
    const char *where = dev->where;
    if (mda_size <= LVM_MDA_HEADER_SIZE || !ifmt_range_ok(mda, mda_size, dev->size))
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata area at byte %llu (%llu bytes) outside the PV",
                       where, (unsigned long long)mda, (unsigned long long)mda_size);
    uint8_t h[LVM_MDA_HEADER_SIZE];
    int r = read_img(lvm, h, sizeof h, dev->base + mda);
    if (r == 0)
        r = check_mda_header(lvm, h, mda, mda_size, where);
    if (r < 0)
        return r;
    uint64_t off = ifmt_le64(h + 40), size = ifmt_le64(h + 48);
    uint32_t crc = ifmt_le32(h + 56), flags = ifmt_le32(h + 60);
    if ((off == 0 && size == 0) || (flags & LVM_RAW_LOCN_IGNORED))
        return IMGFMT_OK;                       /* no metadata kept here */
    if (off < LVM_MDA_HEADER_SIZE || off >= mda_size || size == 0 ||
        size > mda_size - LVM_MDA_HEADER_SIZE)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata text at %llu (+%llu) outside its %llu-byte area",
                       where, (unsigned long long)off, (unsigned long long)size,
                       (unsigned long long)mda_size);
    if (size > LVM_META_MAX_TEXT)
        return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: %s: metadata text of %llu bytes",
                       where, (unsigned long long)size);
    uint8_t *text = lvm_alloc(lvm, size, 1, "lvm metadata text");
    if (!text)
        return lvm->err.code;
    r = read_text(lvm, dev, mda, mda_size, off, size, text);
    if (r == 0 && ifmt_lvm_crc(LVM_CRC_INIT, text, (size_t)size) != crc)
        r = lvm_err(lvm, IMGFMT_E_CORRUPT,
                    "lvm: %s: metadata text checksum mismatch (expected 0x%08x)", where, crc);
    struct lvm_meta *m = NULL;
    if (r == 0) {
        uint64_t room = lvm->img->opts.max_metadata_bytes - lvm->img->metadata_bytes;
        r = ifmt_lvm_meta_parse((const char *)text, (size_t)size, room, &m, &lvm->err);
    }
    free(text);
    ifmt_uncharge(lvm->img, size);
    lvm->charged -= size;
    return r < 0 ? r : merge_vg(lvm, m, where);
}

/* The top-level section of a text is the VG. */
static const struct lvm_node *vg_section(const struct lvm_meta *m)
{
    for (const struct lvm_node *n = ifmt_lvm_meta_root(m)->first; n; n = n->next)
        if (n->kind == LVM_SECTION)
            return n;
    return NULL;
}

/* Store m (charged) as the metadata of VG slot i. */
static int keep_meta(imgfmt_lvm *lvm, uint32_t i, struct lvm_meta *m)
{
    struct lvm_vg *vg = &lvm->vgs[i];
    if (ifmt_charge(lvm->img, ifmt_lvm_meta_bytes(m), "lvm metadata") < 0) {
        lvm->err = lvm->img->err;
        ifmt_lvm_meta_free(m);
        return lvm->err.code;
    }
    if (vg->meta) {
        ifmt_uncharge(lvm->img, ifmt_lvm_meta_bytes(vg->meta));
        ifmt_lvm_meta_free(vg->meta);
    }
    int64_t seqno = 0;
    vg->meta = m;
    vg->sec = vg_section(m);
    vg->name = vg->sec->key;
    vg->uuid = ifmt_lvm_get_str(vg->sec, "id");
    ifmt_lvm_get_num(vg->sec, "seqno", &seqno);
    vg->seqno = (uint64_t)seqno;
    vg->lvm = lvm;
    return IMGFMT_OK;
}

/* Keep m if it is the newest copy of its VG seen so far (VGs are told
 * apart by their id: two VGs may share a name). */
static int merge_vg(imgfmt_lvm *lvm, struct lvm_meta *m, const char *where)
{
    const struct lvm_node *sec = vg_section(m);
    int64_t seqno;
    const char *id = ifmt_lvm_get_str(sec, "id");
    if (!sec || !id || !ifmt_lvm_get_num(sec, "seqno", &seqno) || seqno < 0) {
        ifmt_lvm_meta_free(m);
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: metadata has no VG section with id and seqno", where);
    }
    for (uint32_t i = 0; i < lvm->nb_vgs; i++) {
        if (strcmp(lvm->vgs[i].uuid, id) != 0)
            continue;
        if ((uint64_t)seqno > lvm->vgs[i].seqno)
            return keep_meta(lvm, i, m);
        ifmt_lvm_meta_free(m);
        return IMGFMT_OK;
    }
    if (lvm->nb_vgs >= IMGFMT_LVM_MAX_PVS) {
        ifmt_lvm_meta_free(m);
        return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: more than %u VGs", IMGFMT_LVM_MAX_PVS);
    }
    struct lvm_vg *vgs = realloc(lvm->vgs, (lvm->nb_vgs + 1) * sizeof *vgs);
    if (!vgs) {
        ifmt_lvm_meta_free(m);
        return lvm_err(lvm, IMGFMT_E_NOMEM, "lvm: out of memory");
    }
    lvm->vgs = vgs;
    memset(&vgs[lvm->nb_vgs], 0, sizeof *vgs);
    int r = keep_meta(lvm, lvm->nb_vgs, m);
    if (r == 0)
        lvm->nb_vgs++;
    return r;
}

/* ---- scanning devices ---------------------------------------------- */

static int add_dev(imgfmt_lvm *lvm, const struct pv_header *h, uint64_t base,
                   uint64_t size, const char *where, struct lvm_dev **out)
{
    *out = NULL;
    for (uint32_t i = 0; i < lvm->nb_devs; i++)
        if (strcmp(lvm->devs[i].uuid, h->uuid) == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "lvm: PV %s found on %s and %s: the second ignored",
                     h->uuid, lvm->devs[i].where, where);
            lvm_warn(lvm, msg);
            return IMGFMT_OK;
        }
    if (lvm->nb_devs >= IMGFMT_LVM_MAX_PVS)
        return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: more than %u PVs", IMGFMT_LVM_MAX_PVS);
    struct lvm_dev *d = realloc(lvm->devs, (lvm->nb_devs + 1) * sizeof *d);
    if (!d)
        return lvm_err(lvm, IMGFMT_E_NOMEM, "lvm: out of memory");
    lvm->devs = d;
    d += lvm->nb_devs++;
    memset(d, 0, sizeof *d);
    memcpy(d->uuid, h->uuid, sizeof d->uuid);
    d->base = base;
    d->size = size;
    snprintf(d->where, sizeof d->where, "%s", where);
    *out = d;
    return IMGFMT_OK;
}

/* A metadata area that cannot be read is not fatal while another copy of
 * the VG's metadata is good: the error is kept (finish_scan decides). */
static int note_mda_error(imgfmt_lvm *lvm, struct lvm_dev *d, int r)
{
    if (r == IMGFMT_E_NOMEM || r == IMGFMT_E_IO)
        return r;
    if (!lvm->mda_err.code)
        lvm->mda_err = lvm->err;
    lvm_warn(lvm, lvm->err.msg);
    d->mda_error = 1;
    memset(&lvm->err, 0, sizeof lvm->err);
    return IMGFMT_OK;
}

/* Look for a PV label at the start of [base, base+size) of the image. */
static int scan_device(imgfmt_lvm *lvm, uint64_t base, uint64_t size, const char *where)
{
    uint8_t s[LVM_SECTOR * LVM_LABEL_SCAN_SECTORS];
    if (size < sizeof s)
        return IMGFMT_OK;
    int r = read_img(lvm, s, sizeof s, base);
    if (r < 0)
        return r;
    uint32_t i = 0;
    while (i < LVM_LABEL_SCAN_SECTORS && !is_label(s + i * LVM_SECTOR, i))
        i++;
    if (i == LVM_LABEL_SCAN_SECTORS)
        return IMGFMT_OK;
    struct pv_header h;
    struct lvm_dev *d = NULL;
    r = parse_pv_header(lvm, s + i * LVM_SECTOR, where, &h);
    if (r == 0)
        r = add_dev(lvm, &h, base, size, where, &d);
    if (r < 0 || !d)
        return r;
    if (h.dev_size > size)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: PV size %llu bytes but the device has %llu", where,
                       (unsigned long long)h.dev_size, (unsigned long long)size);
    for (uint32_t k = 0; k < h.nb_mdas; k++) {
        r = read_mda(lvm, d, h.mda_off[k], h.mda_size[k]);
        if (r < 0 && (r = note_mda_error(lvm, d, r)) < 0)
            return r;
    }
    return IMGFMT_OK;
}

static int scan_partitions(imgfmt_lvm *lvm)
{
    imgfmt_partition_table *t;
    int r = imgfmt_partitions(lvm->img, &t);
    if (r < 0) {
        lvm->err = *imgfmt_last_error(lvm->img);
        return r;
    }
    for (uint32_t i = 0; i < t->nb_partitions && r == 0; i++) {
        const imgfmt_partition *p = &t->parts[i];
        char where[32];
        if (p->extended)
            continue;
        snprintf(where, sizeof where, "partition %u", p->number);
        r = scan_device(lvm, p->start, p->length, where);
    }
    imgfmt_partition_table_free(t);
    return r;
}

/* ---- building VGs from metadata ------------------------------------ */

/* Metadata ids are dashed (6-4-4-4-4-4-6), labels hold the 32 characters. */
static bool same_uuid(const char *dashed, const char *plain)
{
    size_t j = 0;
    for (size_t i = 0; dashed[i]; i++) {
        if (dashed[i] == '-')
            continue;
        if (j >= 32 || dashed[i] != plain[j])
            return false;
        j++;
    }
    return j == 32;
}

static int get_u64(imgfmt_lvm *lvm, const struct lvm_node *sec, const char *key,
                   const char *owner, uint64_t *out)
{
    int64_t v;
    if (!ifmt_lvm_get_num(sec, key, &v) || v < 0)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: %s missing or invalid", owner, key);
    *out = (uint64_t)v;
    return IMGFMT_OK;
}

static int build_pv(struct lvm_vg *vg, const struct lvm_node *sec, struct lvm_vgpv *pv)
{
    imgfmt_lvm *lvm = vg->lvm;
    char owner[160];
    snprintf(owner, sizeof owner, "%s/%s", vg->name, sec->key);
    uint64_t pe_start = 0;
    pv->name = sec->key;
    pv->id = ifmt_lvm_get_str(sec, "id");
    pv->dev = -1;
    if (!pv->id)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: id missing", owner);
    int r = get_u64(lvm, sec, "pe_start", owner, &pe_start);
    if (r == 0)
        r = get_u64(lvm, sec, "pe_count", owner, &pv->pe_count);
    if (r < 0)
        return r;
    uint64_t end;
    if (ifmt_mul_overflow(pe_start, LVM_SECTOR, &pv->pe_start) ||
        ifmt_mul_overflow(pv->pe_count, vg->extent_bytes, &end) ||
        ifmt_add_overflow(end, pv->pe_start, &end))
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: pe_start/pe_count overflow", owner);
    for (uint32_t i = 0; i < lvm->nb_devs; i++)
        if (same_uuid(pv->id, lvm->devs[i].uuid))
            pv->dev = (int)i;
    if (pv->dev < 0) {
        if (!vg->nb_missing++) {
            char msg[200];
            snprintf(msg, sizeof msg, "PV %s (%s) of %s is missing from the image",
                     pv->name, pv->id, vg->name);
            vg->missing = strdup(msg);
            if (!vg->missing)
                return lvm_err(lvm, IMGFMT_E_NOMEM, "lvm: out of memory");
        }
        return IMGFMT_OK;
    }
    if (end > lvm->devs[pv->dev].size)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: %llu extents from byte %llu end beyond %s (%llu bytes)",
                       owner, (unsigned long long)pv->pe_count,
                       (unsigned long long)pv->pe_start, lvm->devs[pv->dev].where,
                       (unsigned long long)lvm->devs[pv->dev].size);
    return IMGFMT_OK;
}

static int build_pvs(struct lvm_vg *vg)
{
    imgfmt_lvm *lvm = vg->lvm;
    const struct lvm_node *pvs = ifmt_lvm_get_section(vg->sec, "physical_volumes");
    if (!pvs)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: no physical_volumes", vg->name);
    if (pvs->count > IMGFMT_LVM_MAX_PVS)
        return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: %s: %u PVs (at most %u)", vg->name,
                       pvs->count, IMGFMT_LVM_MAX_PVS);
    if (!(vg->pvs = lvm_alloc(lvm, pvs->count, sizeof *vg->pvs, "lvm PV list")))
        return lvm->err.code;
    for (const struct lvm_node *n = pvs->first; n; n = n->next) {
        if (n->kind != LVM_SECTION)
            continue;
        int r = build_pv(vg, n, &vg->pvs[vg->nb_pvs]);
        if (r < 0)
            return r;
        vg->nb_pvs++;
    }
    return IMGFMT_OK;
}

static uint64_t vg_extent_sectors(const struct lvm_vg *vg)
{
    return vg->extent_bytes / LVM_SECTOR;
}

static int find_pv(const struct lvm_vg *vg, const char *name)
{
    for (uint32_t i = 0; i < vg->nb_pvs; i++)
        if (strcmp(vg->pvs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* stripes = [ "pv0", start_pe, "pv1", start_pe, ... ]: the areas of seg. */
static int build_areas(struct lvm_lv *lv, const struct lvm_node *sec, struct lvm_seg *seg,
                       const char *owner)
{
    imgfmt_lvm *lvm = lv->vg->lvm;
    const struct lvm_node *arr = ifmt_lvm_get(sec, "stripes");
    if (!arr || arr->kind != LVM_ARRAY || arr->count != 2 * seg->nb_stripes)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: stripes list does not name %u areas",
                       owner, seg->nb_stripes);
    if (!(seg->areas = lvm_alloc(lvm, seg->nb_stripes, sizeof *seg->areas, "lvm areas")))
        return lvm->err.code;
    uint64_t per_stripe = seg->count_le / seg->nb_stripes;
    const struct lvm_node *e = arr->first;
    for (uint32_t i = 0; i < seg->nb_stripes; i++, e = e->next->next) {
        int pv = e->kind == LVM_STRING ? find_pv(lv->vg, e->str) : -1;
        const struct lvm_node *pe = e->next;
        if (pv < 0 || pe->kind != LVM_NUMBER || pe->num < 0)
            return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: stripe %u names no PV of %s",
                           owner, i, lv->vg->name);
        seg->areas[i].pv = (uint32_t)pv;
        seg->areas[i].start_pe = (uint64_t)pe->num;
        const struct lvm_vgpv *p = &lv->vg->pvs[pv];
        if (seg->areas[i].start_pe > p->pe_count ||
            per_stripe > p->pe_count - seg->areas[i].start_pe)
            return lvm_err(lvm, IMGFMT_E_CORRUPT,
                           "lvm: %s: stripe %u extents %llu..%llu beyond %s (%llu extents)",
                           owner, i, (unsigned long long)seg->areas[i].start_pe,
                           (unsigned long long)(seg->areas[i].start_pe + per_stripe),
                           p->name, (unsigned long long)p->pe_count);
    }
    return IMGFMT_OK;
}

static int build_striped(struct lvm_lv *lv, const struct lvm_node *sec, struct lvm_seg *seg,
                         const char *owner)
{
    imgfmt_lvm *lvm = lv->vg->lvm;
    uint64_t k = 0, ss = 0;
    int r = get_u64(lvm, sec, "stripe_count", owner, &k);
    if (r < 0)
        return r;
    if (k == 0 || k > IMGFMT_LVM_MAX_STRIPES)
        return lvm_err(lvm, k ? IMGFMT_E_LIMIT : IMGFMT_E_CORRUPT,
                       "lvm: %s: stripe_count %llu", owner, (unsigned long long)k);
    seg->nb_stripes = (uint32_t)k;
    if (seg->count_le % k)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: %llu extents do not divide into %llu stripes", owner,
                       (unsigned long long)seg->count_le, (unsigned long long)k);
    if (k > 1) {
        if ((r = get_u64(lvm, sec, "stripe_size", owner, &ss)) < 0)
            return r;
        if (ss == 0 || ss > vg_extent_sectors(lv->vg) ||
            vg_extent_sectors(lv->vg) % ss)
            return lvm_err(lvm, IMGFMT_E_CORRUPT,
                           "lvm: %s: stripe_size %llu sectors does not divide the extent",
                           owner, (unsigned long long)ss);
        seg->stripe_bytes = ss * LVM_SECTOR;
    }
    return build_areas(lv, sec, seg, owner);
}

static void refuse(struct lvm_lv *lv, int code, const char *why)
{
    if (lv->refusal_code)
        return;
    snprintf(lv->refusal, sizeof lv->refusal, "lvm: %s: %s", lv->full, why);
    lv->refusal_code = code;
}

static int build_segment(struct lvm_lv *lv, const struct lvm_node *lvsec, uint32_t i)
{
    imgfmt_lvm *lvm = lv->vg->lvm;
    char key[24], owner[200];
    snprintf(key, sizeof key, "segment%u", i + 1);
    snprintf(owner, sizeof owner, "%s %s", lv->full, key);
    const struct lvm_node *sec = ifmt_lvm_get_section(lvsec, key);
    if (!sec)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s missing", owner);
    struct lvm_seg *seg = &lv->segs[i];
    int r = get_u64(lvm, sec, "start_extent", owner, &seg->start_le);
    if (r == 0)
        r = get_u64(lvm, sec, "extent_count", owner, &seg->count_le);
    if (r < 0)
        return r;
    if (seg->start_le != lv->extents || seg->count_le == 0 ||
        seg->count_le > UINT64_MAX / lv->vg->extent_bytes - lv->extents)
        return lvm_err(lvm, IMGFMT_E_CORRUPT,
                       "lvm: %s: extents %llu (+%llu), expected to start at %llu", owner,
                       (unsigned long long)seg->start_le, (unsigned long long)seg->count_le,
                       (unsigned long long)lv->extents);
    lv->extents += seg->count_le;
    if (!(seg->type = ifmt_lvm_get_str(sec, "type")))
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: no type", owner);
    if (strcmp(seg->type, "striped") != 0) {
        char why[96];
        snprintf(why, sizeof why, "%.40s LV: not supported", seg->type);
        refuse(lv, IMGFMT_E_UNSUPPORTED, why);
        if (!lv->type)
            lv->type = seg->type;
        return IMGFMT_OK;
    }
    seg->striped = true;
    return build_striped(lv, sec, seg, owner);
}

static int build_lv(struct lvm_vg *vg, const struct lvm_node *sec, struct lvm_lv *lv)
{
    imgfmt_lvm *lvm = vg->lvm;
    lv->vg = vg;
    lv->name = sec->key;
    lv->uuid = ifmt_lvm_get_str(sec, "id");
    size_t n = strlen(vg->name) + strlen(lv->name) + 2;
    if (!(lv->full = lvm_alloc(lvm, n, 1, "lvm LV name")))
        return lvm->err.code;
    snprintf(lv->full, n, "%s/%s", vg->name, lv->name);
    lv->visible = ifmt_lvm_array_has(sec, "status", "VISIBLE");
    uint64_t nseg = 0;
    int r = get_u64(lvm, sec, "segment_count", lv->full, &nseg);
    if (r < 0)
        return r;
    if (nseg == 0 || nseg > IMGFMT_LVM_MAX_SEGMENTS || nseg > sec->count)
        return lvm_err(lvm, nseg > IMGFMT_LVM_MAX_SEGMENTS ? IMGFMT_E_LIMIT : IMGFMT_E_CORRUPT,
                       "lvm: %s: segment_count %llu", lv->full, (unsigned long long)nseg);
    if (!(lv->segs = lvm_alloc(lvm, nseg, sizeof *lv->segs, "lvm segments")))
        return lvm->err.code;
    lv->nb_segs = (uint32_t)nseg;
    bool multi = false;
    for (uint32_t i = 0; i < lv->nb_segs; i++) {
        if ((r = build_segment(lv, sec, i)) < 0)
            return r;
        multi |= lv->segs[i].striped && lv->segs[i].nb_stripes > 1;
    }
    if (!lv->type)
        lv->type = multi ? "striped" : "linear";
    if (vg->missing)
        refuse(lv, IMGFMT_E_BACKING, vg->missing);
    return IMGFMT_OK;
}

static struct lvm_lv *vg_lv(struct lvm_vg *vg, const char *name)
{
    for (uint32_t i = 0; i < vg->nb_lvs; i++)
        if (strcmp(vg->lvs[i].name, name) == 0)
            return &vg->lvs[i];
    return NULL;
}

/* A snapshot segment (in a hidden LV) names the origin and the LV holding
 * its copy-on-write store: that LV's bytes are not a file system. */
static void refuse_snapshot_stores(struct lvm_vg *vg, const struct lvm_node *lvs)
{
    for (const struct lvm_node *n = lvs->first; n; n = n->next) {
        const struct lvm_node *s1 = ifmt_lvm_get_section(n, "segment1");
        const char *type = ifmt_lvm_get_str(s1, "type");
        const char *cow = ifmt_lvm_get_str(s1, "cow_store");
        const char *origin = ifmt_lvm_get_str(s1, "origin");
        struct lvm_lv *lv = cow ? vg_lv(vg, cow) : NULL;
        if (!type || strcmp(type, "snapshot") != 0 || !lv)
            continue;
        char why[160];
        snprintf(why, sizeof why, "snapshot LV (copy-on-write store of %.60s): not supported",
                 origin ? origin : "?");
        refuse(lv, IMGFMT_E_UNSUPPORTED, why);
        lv->type = "snapshot";
    }
}

static int build_vg(struct lvm_vg *vg)
{
    imgfmt_lvm *lvm = vg->lvm;
    uint64_t es = 0;
    int r = get_u64(lvm, vg->sec, "extent_size", vg->name, &es);
    if (r < 0)
        return r;
    if (es == 0 || es > (UINT64_C(1) << 40) / LVM_SECTOR)
        return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: extent_size %llu sectors", vg->name,
                       (unsigned long long)es);
    vg->extent_bytes = es * LVM_SECTOR;
    if ((r = build_pvs(vg)) < 0)
        return r;
    const struct lvm_node *lvs = ifmt_lvm_get_section(vg->sec, "logical_volumes");
    if (!lvs)
        return IMGFMT_OK;
    if (lvs->count > IMGFMT_LVM_MAX_LVS)
        return lvm_err(lvm, IMGFMT_E_LIMIT, "lvm: %s: %u LVs (at most %u)", vg->name,
                       lvs->count, IMGFMT_LVM_MAX_LVS);
    if (!(vg->lvs = lvm_alloc(lvm, lvs->count, sizeof *vg->lvs, "lvm LV list")))
        return lvm->err.code;
    for (const struct lvm_node *n = lvs->first; n; n = n->next) {
        if (n->kind != LVM_SECTION)
            continue;
        if (vg_lv(vg, n->key))
            return lvm_err(lvm, IMGFMT_E_CORRUPT, "lvm: %s: LV %s listed twice", vg->name,
                           n->key);
        r = build_lv(vg, n, &vg->lvs[vg->nb_lvs]);
        vg->nb_lvs++;
        if (r < 0)
            return r;
    }
    refuse_snapshot_stores(vg, lvs);
    return IMGFMT_OK;
}

/* ---- the handle ----------------------------------------------------- */

/* Every PV whose metadata areas all failed must belong to a VG read from
 * another PV, else the first failure is the scan's error. */
static int finish_scan(imgfmt_lvm *lvm)
{
    for (uint32_t i = 0; i < lvm->nb_vgs; i++) {
        int r = build_vg(&lvm->vgs[i]);
        if (r < 0)
            return r;
    }
    for (uint32_t d = 0; d < lvm->nb_devs; d++) {
        bool used = false;
        for (uint32_t i = 0; i < lvm->nb_vgs && !used; i++)
            for (uint32_t k = 0; k < lvm->vgs[i].nb_pvs && !used; k++)
                used = lvm->vgs[i].pvs[k].dev == (int)d;
        if (!used && lvm->devs[d].mda_error) {
            lvm->err = lvm->mda_err;
            return lvm->err.code;
        }
    }
    return IMGFMT_OK;
}

int imgfmt_lvm_scan(imgfmt_image *img, imgfmt_lvm **out, imgfmt_error *err)
{
    if (!out || !img)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_lvm_scan: NULL argument");
    *out = NULL;
    imgfmt_lvm *lvm = calloc(1, sizeof *lvm);
    if (!lvm)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "lvm: out of memory");
    lvm->img = img;
    int r = scan_device(lvm, 0, imgfmt_virtual_size(img), "the whole disk");
    if (r == 0)
        r = scan_partitions(lvm);
    if (r == 0)
        r = finish_scan(lvm);
    if (r < 0) {
        if (err)
            *err = lvm->err;
        imgfmt_lvm_free(lvm);
        return r;
    }
    *out = lvm;
    return IMGFMT_OK;
}

static void free_vg(struct lvm_vg *vg)
{
    for (uint32_t i = 0; i < vg->nb_lvs; i++) {
        struct lvm_lv *lv = &vg->lvs[i];
        for (uint32_t s = 0; lv->segs && s < lv->nb_segs; s++)
            free(lv->segs[s].areas);
        free(lv->segs);
        free(lv->full);
    }
    free(vg->lvs);
    free(vg->pvs);
    free(vg->missing);
    ifmt_lvm_meta_free(vg->meta);
}

void imgfmt_lvm_free(imgfmt_lvm *lvm)
{
    if (!lvm)
        return;
    for (uint32_t i = 0; i < lvm->nb_vgs; i++) {
        if (lvm->vgs[i].meta)
            ifmt_uncharge(lvm->img, ifmt_lvm_meta_bytes(lvm->vgs[i].meta));
        free_vg(&lvm->vgs[i]);
    }
    ifmt_uncharge(lvm->img, lvm->charged);
    free(lvm->vgs);
    free(lvm->devs);
    for (uint32_t i = 0; i < lvm->nb_warnings; i++)
        free(lvm->warnings[i]);
    free(lvm->warnings);
    free(lvm);
}

const imgfmt_error *imgfmt_lvm_last_error(const imgfmt_lvm *lvm)
{
    return &lvm->err;
}

uint32_t imgfmt_lvm_nb_warnings(const imgfmt_lvm *lvm)
{
    return lvm ? lvm->nb_warnings : 0;
}

const char *imgfmt_lvm_warning(const imgfmt_lvm *lvm, uint32_t i)
{
    return lvm && i < lvm->nb_warnings ? lvm->warnings[i] : NULL;
}

uint32_t imgfmt_lvm_nb_vgs(const imgfmt_lvm *lvm)
{
    return lvm ? lvm->nb_vgs : 0;
}

int imgfmt_lvm_get_vg(const imgfmt_lvm *lvm, uint32_t i, imgfmt_lvm_vg *out)
{
    if (!lvm || !out)
        return IMGFMT_E_INVAL;
    if (i >= lvm->nb_vgs)
        return IMGFMT_E_RANGE;
    const struct lvm_vg *vg = &lvm->vgs[i];
    out->name = vg->name;
    out->uuid = vg->uuid;
    out->seqno = vg->seqno;
    out->extent_size = vg->extent_bytes;
    out->nb_pvs = vg->nb_pvs;
    out->nb_missing_pvs = vg->nb_missing;
    out->missing_pv = vg->missing;
    out->nb_lvs = vg->nb_lvs;
    return IMGFMT_OK;
}

static const struct lvm_lv *get_lv(const imgfmt_lvm *lvm, uint32_t vg, uint32_t lv)
{
    if (!lvm || vg >= lvm->nb_vgs || lv >= lvm->vgs[vg].nb_lvs)
        return NULL;
    return &lvm->vgs[vg].lvs[lv];
}

int imgfmt_lvm_get_lv(const imgfmt_lvm *lvm, uint32_t vg, uint32_t i, imgfmt_lvm_lv *out)
{
    const struct lvm_lv *lv = get_lv(lvm, vg, i);
    if (!out)
        return IMGFMT_E_INVAL;
    if (!lv)
        return IMGFMT_E_RANGE;
    out->vg_name = lv->vg->name;
    out->name = lv->name;
    out->full_name = lv->full;
    out->uuid = lv->uuid ? lv->uuid : "";
    out->size = lv->extents * lv->vg->extent_bytes;
    out->nb_segments = lv->nb_segs;
    out->type = lv->type;
    out->visible = lv->visible;
    out->readable = lv->refusal_code == 0;
    out->refusal = lv->refusal_code ? lv->refusal : NULL;
    return IMGFMT_OK;
}

int imgfmt_lvm_get_segment(const imgfmt_lvm *lvm, uint32_t vg, uint32_t i, uint32_t s,
                           imgfmt_lvm_segment *out)
{
    const struct lvm_lv *lv = get_lv(lvm, vg, i);
    if (!out)
        return IMGFMT_E_INVAL;
    if (!lv || s >= lv->nb_segs)
        return IMGFMT_E_RANGE;
    const struct lvm_seg *seg = &lv->segs[s];
    out->start = seg->start_le * lv->vg->extent_bytes;
    out->length = seg->count_le * lv->vg->extent_bytes;
    out->type = seg->type;
    out->nb_stripes = seg->striped ? seg->nb_stripes : 0;
    out->stripe_size = seg->stripe_bytes;
    return IMGFMT_OK;
}

/* ---- reading LVs ---------------------------------------------------- */

static const struct lvm_seg *find_seg(const struct lvm_lv *lv, uint64_t le)
{
    uint32_t lo = 0, hi = lv->nb_segs;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (lv->segs[mid].start_le <= le)
            lo = mid;
        else
            hi = mid;
    }
    return &lv->segs[lo];
}

/* Where LV byte off lies: *dev_off on the image, and *n bytes (<= len)
 * that follow it there. */
static void map_lv(const struct lvm_lv *lv, uint64_t off, size_t len, uint64_t *dev_off,
                   size_t *n)
{
    const struct lvm_vg *vg = lv->vg;
    uint64_t E = vg->extent_bytes;
    const struct lvm_seg *seg = find_seg(lv, off / E);
    uint64_t rel = off - seg->start_le * E;
    uint64_t left = seg->count_le * E - rel;
    const struct lvm_area *a = &seg->areas[0];
    uint64_t in_area = rel;
    if (seg->nb_stripes > 1) {
        uint64_t chunk = rel / seg->stripe_bytes, within = rel % seg->stripe_bytes;
        a = &seg->areas[chunk % seg->nb_stripes];
        in_area = chunk / seg->nb_stripes * seg->stripe_bytes + within;
        left = seg->stripe_bytes - within;
    }
    const struct lvm_vgpv *pv = &vg->pvs[a->pv];
    *dev_off = vg->lvm->devs[pv->dev].base + pv->pe_start + a->start_pe * E + in_area;
    *n = left < len ? (size_t)left : len;
}

static int lv_read(const struct lvm_lv *lv, void *buf, size_t len, uint64_t off,
                   imgfmt_error *err)
{
    uint8_t *p = buf;
    while (len) {
        uint64_t dev_off;
        size_t n;
        map_lv(lv, off, len, &dev_off, &n);
        int r = imgfmt_pread(lv->vg->lvm->img, p, n, dev_off);
        if (r < 0) {
            if (err)
                *err = *imgfmt_last_error(lv->vg->lvm->img);
            return r;
        }
        p += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

int imgfmt_lvm_pread(imgfmt_lvm *lvm, uint32_t vg, uint32_t i, void *buf, size_t len,
                     uint64_t off)
{
    const struct lvm_lv *lv = get_lv(lvm, vg, i);
    if (!lvm)
        return IMGFMT_E_INVAL;
    if (!lv)
        return lvm_err(lvm, IMGFMT_E_RANGE, "lvm: no LV %u in VG %u", i, vg);
    if (lv->refusal_code)
        return lvm_err(lvm, lv->refusal_code, "%s", lv->refusal);
    uint64_t size = lv->extents * lv->vg->extent_bytes;
    if (!ifmt_range_ok(off, len, size))
        return lvm_err(lvm, IMGFMT_E_RANGE, "lvm: %s: read at %llu (+%zu) past its %llu bytes",
                       lv->full, (unsigned long long)off, len, (unsigned long long)size);
    if (!buf && len)
        return IMGFMT_E_INVAL;
    return lv_read(lv, buf, len, off, &lvm->err);
}

static int bdev_read_lv(const struct ifmt_bdev *d, void *buf, size_t len, uint64_t off,
                        imgfmt_error *err)
{
    return lv_read(d->ctx, buf, len, off, err);
}

int ifmt_lvm_bdev(imgfmt_lvm *lvm, uint32_t vg, uint32_t i, struct ifmt_bdev *dev)
{
    const struct lvm_lv *lv = get_lv(lvm, vg, i);
    if (!lv)
        return lvm_err(lvm, IMGFMT_E_RANGE, "lvm: no LV %u in VG %u", i, vg);
    if (lv->refusal_code)
        return lvm_err(lvm, lv->refusal_code, "%s", lv->refusal);
    memset(dev, 0, sizeof *dev);
    dev->size = lv->extents * lv->vg->extent_bytes;
    snprintf(dev->name, sizeof dev->name, "%s", lv->full);
    dev->read = bdev_read_lv;
    dev->ctx = lv;
    return IMGFMT_OK;
}

int imgfmt_fs_open_lv(imgfmt_lvm *lvm, const char *name, const imgfmt_fs_opts *opts,
                      imgfmt_filesystem **out, imgfmt_error *err)
{
    if (!out || !lvm || !name)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_fs_open_lv: NULL argument");
    *out = NULL;
    uint32_t vg, lv;
    struct ifmt_bdev dev;
    int r = imgfmt_lvm_find_lv(lvm, name, &vg, &lv);
    if (r == 0)
        r = ifmt_lvm_bdev(lvm, vg, lv, &dev);
    if (r < 0) {
        if (err)
            *err = lvm->err;
        return r;
    }
    return ifmt_filesystem_open_bdev(&dev, opts, out, err);
}

/* "vg-lv" as /dev/mapper spells it ("--" stands for "-" in either name). */
static bool split_mapper(const char *s, char *vg, char *lv, size_t cap)
{
    size_t o = 0;
    char *dst = vg;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '-' && s[i + 1] == '-') {
            i++;
        } else if (s[i] == '-' && dst == vg) {
            vg[o] = '\0';
            dst = lv;
            o = 0;
            continue;
        }
        if (o + 1 >= cap)
            return false;
        dst[o++] = s[i];
    }
    dst[o] = '\0';
    return dst == lv;
}

int imgfmt_lvm_find_lv(imgfmt_lvm *lvm, const char *name, uint32_t *vg, uint32_t *lv)
{
    if (!lvm || !name || !vg || !lv)
        return IMGFMT_E_INVAL;
    char vgn[256], lvn[256];
    const char *s = name;
    if (strncmp(s, "/dev/mapper/", 12) == 0) {
        if (!split_mapper(s + 12, vgn, lvn, sizeof vgn))
            vgn[0] = '\0';
    } else {
        if (strncmp(s, "/dev/", 5) == 0)
            s += 5;
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : 0;
        if (!slash || n >= sizeof vgn || strlen(slash + 1) >= sizeof lvn) {
            vgn[0] = '\0';
        } else {
            memcpy(vgn, s, n);
            vgn[n] = '\0';
            snprintf(lvn, sizeof lvn, "%s", slash + 1);
        }
    }
    for (uint32_t i = 0; vgn[0] && i < lvm->nb_vgs; i++) {
        if (strcmp(lvm->vgs[i].name, vgn) != 0)
            continue;
        for (uint32_t k = 0; k < lvm->vgs[i].nb_lvs; k++)
            if (strcmp(lvm->vgs[i].lvs[k].name, lvn) == 0) {
                *vg = i;
                *lv = k;
                return IMGFMT_OK;
            }
    }
    return lvm_err(lvm, IMGFMT_E_NOT_FOUND, "lvm: no logical volume %s", name);
}

int imgfmt_lvm_get_area(const imgfmt_lvm *lvm, uint32_t vg, uint32_t i, uint32_t s,
                        uint32_t k, imgfmt_lvm_area *out)
{
    const struct lvm_lv *lv = get_lv(lvm, vg, i);
    if (!out)
        return IMGFMT_E_INVAL;
    if (!lv || s >= lv->nb_segs || !lv->segs[s].striped || k >= lv->segs[s].nb_stripes)
        return IMGFMT_E_RANGE;
    const struct lvm_area *a = &lv->segs[s].areas[k];
    const struct lvm_vgpv *pv = &lv->vg->pvs[a->pv];
    out->pv_name = pv->name;
    out->pv_uuid = pv->id;
    out->device = pv->dev >= 0 ? lvm->devs[pv->dev].where : NULL;
    out->start_extent = a->start_pe;
    return IMGFMT_OK;
}
