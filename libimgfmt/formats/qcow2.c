/*
 * qcow2.c -- the QCOW2 reader (versions 2 and 3), docs/formats.md, QCOW2.
 *
 * Open reads cluster 0 (header, extensions, backing name), makes the checks
 * qemu 7.2 makes (each with the meaning qemu gives it), loads the active L1
 * table once (charged against the metadata cap) and the snapshot table.  L2
 * tables go through the bounded cache.  A cluster (or, with extended L2, a
 * subcluster) is one of: unallocated (the backing image shows through),
 * zero, normal data, compressed data.  Internal snapshots are listed only:
 * the content is the active L1 state, as qemu-img convert copies it.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imgfmt-config.h"
#if IMGFMT_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif
#if IMGFMT_HAVE_ZSTD
#include <zstd.h>
#endif

#include "core/cache.h"
#include "core/checked.h"
#include "core/driver.h"
#include "core/window.h"
#include "formats/qcow2.h"

#define L2_CACHE_BYTES (8u << 20)   /* table cache budget (at least 4 tables) */
#define L2_CACHE_MAX_SLOTS 64u

struct qcow2_snap {
    char *id, *name;
    uint64_t vm_state_size;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;
    uint64_t disk_size;
};

struct qcow2 {
    struct qcow2_header h;
    unsigned cluster_bits, l2_bits, sc_bits;  /* sc_bits: subcluster size bits */
    uint64_t cs;                 /* cluster size */
    uint32_t l2_entries;
    unsigned entry_len;          /* 8, or 16 with extended L2 */
    bool extl2, data_file, data_raw;
    uint64_t *l1;                /* the used part of the active L1 (host order) */
    uint64_t l1_used;
    uint64_t l1_charged;
    struct ifmt_cache *l2cache;
    struct ifmt_io *data_io;     /* external data file, owned; NULL = none */
    char *data_file_name;        /* as stored in the header extension */
    struct qcow2_snap *snaps;
    uint32_t nb_snaps;
    uint64_t snaps_charged;
    uint32_t nb_bitmaps;
    uint64_t bitmap_dir_off, bitmap_dir_size;
    struct qcow2_bitmap {
        char *name;
        uint64_t granularity;
        uint32_t flags;
    } *bitmaps;
    uint64_t bitmaps_charged;
    /* Compressed clusters: read window over the file, the last inflated
     * cluster (for partial reads). */
    struct ifmt_win win;
    uint8_t *dbuf;
    uint64_t dbuf_charged;
    uint64_t dbuf_entry;         /* L2 entry whose cluster dbuf holds */
    bool dbuf_valid;
    z_stream zs;
    bool zs_ready;
#if IMGFMT_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *ld;
#endif
#if IMGFMT_HAVE_ZSTD
    ZSTD_DCtx *zd;
#endif
};

/* ---- probe ---------------------------------------------------------- */

static int qcow2_probe(const uint8_t *head, size_t hlen, const uint8_t *tail,
                       size_t tlen, uint64_t size)
{
    (void)tail; (void)tlen; (void)size;
    if (hlen < 8 || ifmt_be32(head) != QCOW2_MAGIC)
        return 0;
    return ifmt_be32(head + QCOW2_HDR_VERSION) >= 2 ? 100 : 0;
}

/* ---- open ----------------------------------------------------------- */

/* The names of the incompatible bits in mask, from the feature table when
 * it has them ("dirty bit, extended L2 entries, unknown bits 0x20"). */
static void incompat_names(const uint8_t *table, uint64_t tlen, uint64_t mask,
                           char *out, size_t outlen)
{
    size_t pos = 0;
    out[0] = '\0';
    for (uint64_t i = 0; table && i + QCOW2_FEATURE_ENTRY_LEN <= tlen;
         i += QCOW2_FEATURE_ENTRY_LEN) {
        const uint8_t *e = table + i;
        if (e[0] != QCOW2_FEATURE_INCOMPAT || e[1] > 63 || !(mask & (1ull << e[1])))
            continue;
        char name[QCOW2_FEATURE_NAME_LEN + 1];
        memcpy(name, e + 2, QCOW2_FEATURE_NAME_LEN);
        name[QCOW2_FEATURE_NAME_LEN] = '\0';
        for (char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                *c = '?';
        int n = snprintf(out + pos, outlen - pos, "%s%s", pos ? ", " : "", name);
        if (n < 0 || (size_t)n >= outlen - pos)
            return;
        pos += (size_t)n;
        mask &= ~(1ull << e[1]);
    }
    if (mask)
        snprintf(out + pos, outlen - pos, "%sunknown bits 0x%llx", pos ? ", " : "",
                 (unsigned long long)mask);
}

/* A string from len bytes (cut at the first NUL); NULL on NOMEM. */
static char *dup_bytes(imgfmt_image *img, const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s) {
        ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory");
        return NULL;
    }
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Header extensions in hdr[start, end) (docs/formats.md, qcow2 header extensions).  Lengths are
 * checked as `len > end - off`, which cannot overflow. */
/* The bitmaps extension (len bytes at d): where the bitmap directory is. */
static int read_bitmaps_ext(imgfmt_image *img, const uint8_t *d, uint32_t len)
{
    struct qcow2 *q = img->priv;
    if (len != QCOW2_BITMAPS_EXT_LEN)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmaps extension length %u, expected %u", len,
                          QCOW2_BITMAPS_EXT_LEN);
    if (!(q->h.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        ifmt_warn(img, IMGFMT_W_QCOW2_BITMAPS_STALE,
                  "qcow2: bitmaps extension present but the autoclear "
                  "bitmaps bit is clear: all bitmaps are inconsistent");
        return IMGFMT_OK;
    }
    uint32_t nb = ifmt_be32(d), reserved = ifmt_be32(d + 4);
    uint64_t dir_size = ifmt_be64(d + 8), dir_off = ifmt_be64(d + 16);
    if (reserved)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmaps extension reserved field 0x%x is not zero",
                          reserved);
    if (nb == 0 || nb > QCOW2_MAX_BITMAPS)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmaps extension: %u bitmaps (1..%u allowed)",
                          nb, QCOW2_MAX_BITMAPS);
    if (dir_off & (q->cs - 1))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmap directory offset 0x%llx not cluster aligned",
                          (unsigned long long)dir_off);
    if (dir_size > QCOW2_BITMAP_MAX_DIR_BYTES)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmap directory size %llu too large",
                          (unsigned long long)dir_size);
    q->nb_bitmaps = nb;
    q->bitmap_dir_off = dir_off;
    q->bitmap_dir_size = dir_size;
    return IMGFMT_OK;
}

/* One extension of the given type (len bytes at d). */
static int read_extension(imgfmt_image *img, uint32_t type, const uint8_t *d, uint32_t len,
                          const uint8_t **ftable, uint64_t *ftable_len)
{
    struct qcow2 *q = img->priv;
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
        if (len > QCOW2_MAX_BACKING_FMT)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: backing format extension length %u too large "
                              "(at most %u)", len, QCOW2_MAX_BACKING_FMT);
        free(img->backing_fmt_name);
        return (img->backing_fmt_name = dup_bytes(img, d, len)) ? IMGFMT_OK : IMGFMT_E_NOMEM;
    case QCOW2_EXT_FEATURE_TABLE:
        *ftable = d;
        *ftable_len = len;
        return IMGFMT_OK;
    case QCOW2_EXT_CRYPTO:
        if (q->h.crypt_method != QCOW2_CRYPT_LUKS)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: crypto header extension without LUKS "
                              "encryption (crypt_method %u)", q->h.crypt_method);
        if (len != 16)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: crypto header extension length %u, expected 16", len);
        return IMGFMT_OK;
    case QCOW2_EXT_BITMAPS:
        return read_bitmaps_ext(img, d, len);
    case QCOW2_EXT_DATA_FILE:
        free(q->data_file_name);
        return (q->data_file_name = dup_bytes(img, d, len)) ? IMGFMT_OK : IMGFMT_E_NOMEM;
    default:
        return IMGFMT_OK;   /* unknown extensions are skipped */
    }
}

static int read_extensions(imgfmt_image *img, const uint8_t *hdr, uint64_t start,
                           uint64_t end, const uint8_t **ftable, uint64_t *ftable_len)
{
    uint64_t off = start;
    while (off < end) {
        if (end - off < 8)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: header extension at offset %llu runs past the "
                              "end of the extension area (%llu)",
                              (unsigned long long)off, (unsigned long long)end);
        uint32_t type = ifmt_be32(hdr + off), len = ifmt_be32(hdr + off + 4);
        off += 8;
        if (len > end - off)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: header extension 0x%08x at offset %llu too large: "
                              "length %u, %llu bytes left in the extension area",
                              type, (unsigned long long)(off - 8), len,
                              (unsigned long long)(end - off));
        if (type == QCOW2_EXT_END)
            return IMGFMT_OK;
        int r = read_extension(img, type, hdr + off, len, ftable, ftable_len);
        if (r < 0)
            return r;
        off += ((uint64_t)len + 7) & ~(uint64_t)7;
    }
    return IMGFMT_OK;
}

/* qemu's validate_table_offset(): size in range, no overflow, aligned. */
static int check_table(imgfmt_image *img, const char *what, uint64_t off,
                       uint64_t entries, uint64_t entry_len, uint64_t max_bytes,
                       bool need_in_file)
{
    struct qcow2 *q = img->priv;
    if (entries > max_bytes / entry_len)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "qcow2: %s of %llu entries is too large (over %llu bytes)",
                          what, (unsigned long long)entries,
                          (unsigned long long)max_bytes);
    uint64_t bytes = entries * entry_len;
    if (off > (uint64_t)INT64_MAX - bytes)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "qcow2: %s offset 0x%llx too large",
                          what, (unsigned long long)off);
    if (off & (q->cs - 1))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: %s offset 0x%llx not cluster aligned", what,
                          (unsigned long long)off);
    if (need_in_file && bytes && !ifmt_range_ok(off, bytes, img->io->size))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: %s at offset 0x%llx (%llu bytes) beyond end of file "
                          "(length %llu)", what, (unsigned long long)off,
                          (unsigned long long)bytes, (unsigned long long)img->io->size);
    return IMGFMT_OK;
}

static int read_snapshots(imgfmt_image *img)
{
    struct qcow2 *q = img->priv;
    uint32_t n = q->h.nb_snapshots;
    if (n == 0)
        return IMGFMT_OK;
    uint64_t bytes = (uint64_t)n * sizeof *q->snaps;
    int r = ifmt_charge(img, bytes, "snapshot table");
    if (r < 0)
        return r;
    q->snaps_charged = bytes;
    q->snaps = calloc(n, sizeof *q->snaps);
    if (!q->snaps)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory for snapshots");
    uint64_t base = q->h.snapshots_offset, off = base;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t h[QCOW2_SNAPSHOT_HDR_LEN];
        uint8_t extra[24] = {0};
        off = (off + 7) & ~(uint64_t)7;
        if ((r = ifmt_pread_meta(img, h, sizeof h, off, "snapshot table entry")) < 0)
            return r;
        off += sizeof h;
        struct qcow2_snap *s = &q->snaps[i];
        uint16_t id_len = ifmt_be16(h + 12), name_len = ifmt_be16(h + 14);
        uint32_t extra_len = ifmt_be32(h + 36);
        s->date_sec = ifmt_be32(h + 16);
        s->date_nsec = ifmt_be32(h + 20);
        s->vm_clock_nsec = ifmt_be64(h + 24);
        s->vm_state_size = ifmt_be32(h + 32);
        if (extra_len > QCOW2_MAX_SNAPSHOT_EXTRA)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: snapshot %u: extra data of %u bytes (at most %u)",
                              i, extra_len, QCOW2_MAX_SNAPSHOT_EXTRA);
        size_t want = extra_len < sizeof extra ? extra_len : sizeof extra;
        if (want && (r = ifmt_pread_meta(img, extra, want, off, "snapshot extra data")) < 0)
            return r;
        off += extra_len;
        if (extra_len >= 8)
            s->vm_state_size = ifmt_be64(extra);
        s->disk_size = extra_len >= 16 ? ifmt_be64(extra + 8) : (q->h.size & ~511ull);
        s->icount = extra_len >= 24 ? ifmt_be64(extra + 16) : UINT64_MAX;
        r = ifmt_charge(img, (uint64_t)id_len + name_len + 2, "snapshot names");
        if (r < 0)
            return r;
        q->snaps_charged += (uint64_t)id_len + name_len + 2;
        s->id = malloc((size_t)id_len + 1);
        s->name = malloc((size_t)name_len + 1);
        if (!s->id || !s->name)
            return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory for snapshots");
        if ((r = ifmt_pread_meta(img, s->id, id_len, off, "snapshot id")) < 0)
            return r;
        s->id[id_len] = '\0';
        off += id_len;
        if ((r = ifmt_pread_meta(img, s->name, name_len, off, "snapshot name")) < 0)
            return r;
        s->name[name_len] = '\0';
        off += name_len;
        q->nb_snaps = i + 1;
        if (off - base > QCOW2_MAX_SNAPSHOTS_BYTES)
            return ifmt_error(img, IMGFMT_E_LIMIT,
                              "qcow2: snapshot table larger than %u bytes",
                              QCOW2_MAX_SNAPSHOTS_BYTES);
    }
    return IMGFMT_OK;
}

/* The bitmap directory: names, granularities and flags for info. */
static int read_bitmaps(imgfmt_image *img)
{
    struct qcow2 *q = img->priv;
    uint32_t n = q->nb_bitmaps;
    if (n == 0)
        return IMGFMT_OK;
    uint64_t size = q->bitmap_dir_size;
    if (!ifmt_range_ok(q->bitmap_dir_off, size, img->io->size))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: bitmap directory at offset 0x%llx (%llu bytes) beyond "
                          "end of file", (unsigned long long)q->bitmap_dir_off,
                          (unsigned long long)size);
    uint64_t charge = size + (uint64_t)n * sizeof *q->bitmaps;
    int r = ifmt_charge(img, charge, "bitmap directory");
    if (r < 0)
        return r;
    q->bitmaps_charged = charge;
    uint8_t *dir = malloc(size ? (size_t)size : 1);
    q->bitmaps = calloc(n, sizeof *q->bitmaps);
    if (!dir || !q->bitmaps) {
        free(dir);
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory for bitmaps");
    }
    r = ifmt_pread_meta(img, dir, (size_t)size, q->bitmap_dir_off, "bitmap directory");
    uint64_t off = 0;
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        if (size - off < QCOW2_BITMAP_ENTRY_HDR) {
            r = ifmt_error(img, IMGFMT_E_CORRUPT,
                           "qcow2: bitmap directory of %llu bytes too short for %u bitmaps",
                           (unsigned long long)size, n);
            break;
        }
        const uint8_t *e = dir + off;
        uint32_t flags = ifmt_be32(e + 12);
        unsigned gbits = e[17];
        uint32_t name_size = ifmt_be16(e + 18), extra = ifmt_be32(e + 20);
        uint64_t elen = (QCOW2_BITMAP_ENTRY_HDR + (uint64_t)extra + name_size + 7) & ~7ull;
        if (elen > size - off) {
            r = ifmt_error(img, IMGFMT_E_CORRUPT,
                           "qcow2: bitmap directory entry %u runs past the directory end", i);
            break;
        }
        if (name_size == 0 || name_size > QCOW2_BITMAP_MAX_NAME ||
            gbits < QCOW2_BITMAP_MIN_GRAN_BITS || gbits > QCOW2_BITMAP_MAX_GRAN_BITS) {
            r = ifmt_error(img, IMGFMT_E_CORRUPT,
                           "qcow2: bitmap directory entry %u invalid (name size %u, "
                           "granularity bits %u)", i, name_size, gbits);
            break;
        }
        struct qcow2_bitmap *b = &q->bitmaps[i];
        if (!(b->name = dup_bytes(img, e + QCOW2_BITMAP_ENTRY_HDR + extra, name_size))) {
            r = IMGFMT_E_NOMEM;
            break;
        }
        b->granularity = 1ull << gbits;
        b->flags = flags & (IMGFMT_QCOW2_BITMAP_IN_USE | IMGFMT_QCOW2_BITMAP_AUTO);
        off += elen;
    }
    free(dir);
    return r;
}

#define HDR_PREFIX 4096u

/* True if the first len bytes of cluster 0 hold everything the open reads
 * from it: the header, the header extensions as read_extensions walks them
 * (up to the end marker or the end of the area), and the backing name. */
static bool hdr_prefix_enough(const uint8_t *hdr, size_t len, const struct qcow2_header *h,
                              uint64_t cs)
{
    if (h->header_length > len)
        return false;
    if (h->backing_offset &&
        (h->backing_offset > len || h->backing_size > len - h->backing_offset))
        return false;
    uint64_t off = h->header_length, end = h->backing_offset ? h->backing_offset : cs;
    while (off < end) {
        if (off + 8 > len)
            return false;
        uint32_t type = ifmt_be32(hdr + off), elen = ifmt_be32(hdr + off + 4);
        off += 8;
        if (elen > len - off)
            return false;
        if (type == QCOW2_EXT_END)
            return true;
        off += ((uint64_t)elen + 7) & ~(uint64_t)7;
    }
    return true;
}

static int open_backing(imgfmt_image *img, const uint8_t *hdr, uint64_t hdr_len)
{
    struct qcow2 *q = img->priv;
    uint64_t boff = q->h.backing_offset;
    uint32_t blen = q->h.backing_size;
    if (boff == 0)
        return IMGFMT_OK;
    uint64_t room = q->cs - boff;     /* boff <= cs was checked */
    if (blen > QCOW2_MAX_BACKING_NAME || blen > room)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: backing file name length %u too long (at most %llu)",
                          blen, (unsigned long long)ifmt_min(QCOW2_MAX_BACKING_NAME, room));
    if (blen == 0)
        return IMGFMT_OK;
    if (!ifmt_range_ok(boff, blen, hdr_len))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: backing file name at offset %llu (%u bytes) beyond end "
                          "of file", (unsigned long long)boff, blen);
    char *name = dup_bytes(img, hdr + boff, blen);
    if (!name)
        return IMGFMT_E_NOMEM;
    img->backing_name = name;
    if (!*name)
        return IMGFMT_OK;
    enum imgfmt_format fmt = IMGFMT_FMT_UNKNOWN;
    if (img->backing_fmt_name && *img->backing_fmt_name) {
        fmt = imgfmt_format_from_name(img->backing_fmt_name);
        if (fmt == IMGFMT_FMT_UNKNOWN)
            return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                              "qcow2: backing file \"%s\" has format \"%s\", which is not "
                              "supported", name, img->backing_fmt_name);
    }
    if (img->opts.flags & IMGFMT_OPEN_NO_BACKING)
        return IMGFMT_OK;
    char *path = NULL;
    int r = ifmt_resolve_path(img, name, "backing file", &path);
    if (r < 0)
        return r;
    r = ifmt_open_backing(img, path, fmt);
    free(path);
    return r;
}

static int open_data_file(imgfmt_image *img)
{
    struct qcow2 *q = img->priv;
    if (!q->data_file) {
        if (q->data_raw)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: data-file-raw (autoclear bit 1) set without an "
                              "external data file");
        return IMGFMT_OK;
    }
    if (!q->data_file_name || !*q->data_file_name)
        return ifmt_error(img, IMGFMT_E_BACKING,
                          "qcow2: the image needs an external data file (incompatible "
                          "bit 2) but names none");
    char *path = NULL;
    int r = ifmt_resolve_path(img, q->data_file_name, "data file", &path);
    if (r < 0)
        return r;
    r = ifmt_open_related_io(img, path, &q->data_io);
    free(path);
    return r;
}

/* The fixed header fields, checked: magic, version, cluster size, header
 * and backing-name bounds. */
static int read_fixed_header(imgfmt_image *img, struct qcow2 *q)
{
    struct qcow2_header *h = &q->h;
    uint8_t fixed[QCOW2_V3_MIN_HEADER_LENGTH];
    uint64_t fsize = img->io->size;
    size_t flen = (size_t)ifmt_min(fsize, sizeof fixed);
    int r = ifmt_pread_meta(img, fixed, flen, 0, "header");
    if (r < 0)
        return r;
    if (flen < 8 || ifmt_be32(fixed) != QCOW2_MAGIC)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "qcow2: not a qcow2 image (bad magic)");
    uint32_t version = ifmt_be32(fixed + QCOW2_HDR_VERSION);
    if (version != 2 && version != 3)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED, "qcow2: unsupported version %u",
                          version);
    if (!qcow2_header_decode(fixed, flen, h))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: file of %llu bytes too short for a version %u header",
                          (unsigned long long)fsize, version);
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: cluster_bits %u out of range (9..21)", h->cluster_bits);
    if (h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2: cluster_bits %u out of range (9..21): clusters over "
                          "2 MiB are not supported", h->cluster_bits);
    q->cluster_bits = h->cluster_bits;
    q->cs = 1ull << h->cluster_bits;
    if (version == 3 && h->header_length < QCOW2_V3_MIN_HEADER_LENGTH)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: header_length %u too short (at least %u)",
                          h->header_length, QCOW2_V3_MIN_HEADER_LENGTH);
    if (h->header_length > q->cs)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: header_length %u exceeds the cluster size %llu",
                          h->header_length, (unsigned long long)q->cs);
    if (h->header_length > fsize)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: header_length %u beyond end of file (length %llu)",
                          h->header_length, (unsigned long long)fsize);
    if (h->backing_offset > q->cs)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: backing_file_offset 0x%llx beyond the first cluster",
                          (unsigned long long)h->backing_offset);
    return IMGFMT_OK;
}

/* Cluster 0 (header, extensions, backing name) into *out (hdr_len bytes
 * valid); bytes past the end of a short file read as zeros, as in qemu.
 * All of it usually lies in the first 4 KiB: read those, and the rest of
 * the cluster only if the extensions or the backing name reach past them
 * (a 64 KiB read and buffer cost imgfmt-info about a tenth of its run
 * time).  The caller has charged cs bytes; *out is the caller's to free. */
static int read_header_cluster(imgfmt_image *img, struct qcow2 *q, uint64_t hdr_len,
                               uint8_t **out)
{
    size_t hbuf = (size_t)ifmt_min(q->cs, HDR_PREFIX);
    uint8_t *hdr = calloc(1, hbuf);
    *out = hdr;
    if (!hdr)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory");
    int r = ifmt_pread_meta(img, hdr, (size_t)ifmt_min(hdr_len, hbuf), 0, "header cluster");
    if (r < 0 || hbuf == q->cs || hdr_prefix_enough(hdr, hbuf, &q->h, q->cs))
        return r;
    uint8_t *full = calloc(1, (size_t)q->cs);
    if (!full)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory");
    free(hdr);
    *out = full;
    return ifmt_pread_meta(img, full, (size_t)hdr_len, 0, "header cluster");
}

static int check_compression(imgfmt_image *img, const struct qcow2_header *h)
{
    if (h->compression_type > QCOW2_COMPRESSION_ZSTD)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED, "qcow2: unknown compression type %u",
                          h->compression_type);
    if ((h->compression_type != QCOW2_COMPRESSION_ZLIB) !=
        !!(h->incompat & QCOW2_INCOMPAT_COMPRESSION))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: compression type %u inconsistent with incompatible bit 3 "
                          "(%s)", h->compression_type,
                          (h->incompat & QCOW2_INCOMPAT_COMPRESSION) ? "set" : "clear");
#if !IMGFMT_HAVE_ZSTD
    if (h->compression_type == QCOW2_COMPRESSION_ZSTD)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2: zstd compression is not supported by this build "
                          "(built without libzstd)");
#endif
    return IMGFMT_OK;
}

/* Extensions, feature bits and encryption; sets the entry geometry. */
static int check_features(imgfmt_image *img, struct qcow2 *q, const uint8_t *hdr)
{
    const struct qcow2_header *h = &q->h;
    const uint8_t *ftable = NULL;
    uint64_t ftable_len = 0;
    uint64_t ext_end = h->backing_offset ? h->backing_offset : q->cs;
    int r = read_extensions(img, hdr, h->header_length, ext_end, &ftable, &ftable_len);
    if (r < 0)
        return r;
    uint64_t unknown = h->incompat & ~QCOW2_INCOMPAT_KNOWN;
    if (unknown) {
        char names[200];
        incompat_names(ftable, ftable_len, unknown, names, sizeof names);
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2: unsupported incompatible feature(s): %s", names);
    }
    if (h->crypt_method > QCOW2_CRYPT_LUKS)
        return ifmt_error(img, IMGFMT_E_CORRUPT, "qcow2: unknown encryption method %u",
                          h->crypt_method);
    if (h->crypt_method != QCOW2_CRYPT_NONE)
        return ifmt_error(img, IMGFMT_E_UNSUPPORTED,
                          "qcow2: encrypted images (%s) are not supported",
                          h->crypt_method == QCOW2_CRYPT_AES ? "AES" : "LUKS");
    q->extl2 = (h->incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    q->data_file = (h->incompat & QCOW2_INCOMPAT_DATA_FILE) != 0;
    q->data_raw = (h->autoclear & QCOW2_AUTOCLEAR_DATA_RAW) != 0;
    if (q->extl2 && q->cluster_bits < QCOW2_EXTL2_MIN_CLUSTER_BITS)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: extended L2 with cluster_bits %u: subclusters smaller "
                          "than 512 bytes", q->cluster_bits);
    if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: refcount_order %u too large (at most 6)", h->refcount_order);
    q->entry_len = q->extl2 ? 16 : 8;
    q->l2_bits = q->cluster_bits - (q->extl2 ? 4 : 3);
    q->l2_entries = 1u << q->l2_bits;
    q->sc_bits = q->cluster_bits - (q->extl2 ? 5 : 0);
    return IMGFMT_OK;
}

/* Refcount, snapshot and L1 tables inside the file and within the caps;
 * *need = the L1 entries the virtual size uses. */
static int check_tables(imgfmt_image *img, struct qcow2 *q, uint64_t *need)
{
    const struct qcow2_header *h = &q->h;
    if (h->reftable_clusters == 0)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: no refcount table (refcount_table_clusters 0)");
    int r = check_table(img, "refcount table", h->reftable_offset, h->reftable_clusters,
                        q->cs, QCOW2_MAX_REFTABLE_BYTES, true);
    if (r < 0)
        return r;
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        return ifmt_error(img, IMGFMT_E_LIMIT, "qcow2: %u snapshots (at most %u)",
                          h->nb_snapshots, QCOW2_MAX_SNAPSHOTS);
    r = check_table(img, "snapshot table", h->snapshots_offset, h->nb_snapshots,
                    QCOW2_SNAPSHOT_HDR_LEN, INT64_MAX, false);
    if (r < 0)
        return r;
    r = check_table(img, "L1 table", h->l1_offset, h->l1_size, 8, QCOW2_MAX_L1_BYTES, true);
    if (r < 0)
        return r;
    *need = qcow2_size_to_l1(h->size, q->cluster_bits, q->l2_bits);
    if (*need > INT32_MAX)
        return ifmt_error(img, IMGFMT_E_LIMIT, "qcow2: image too big (size %llu)",
                          (unsigned long long)h->size);
    if (h->l1_size < *need)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: L1 table too small: l1_size %u, %llu entries needed for "
                          "size %llu", h->l1_size, (unsigned long long)*need,
                          (unsigned long long)h->size);
    return IMGFMT_OK;
}

/* Everything cluster 0 describes: the checks above, snapshots, bitmaps,
 * the data file and the backing file. */
static int open_header(imgfmt_image *img, struct qcow2 *q, uint64_t *need)
{
    uint64_t hdr_len = ifmt_min(q->cs, img->io->size);
    int r = ifmt_charge(img, q->cs, "header cluster");
    if (r < 0)
        return r;
    uint8_t *hdr = NULL;
    r = read_header_cluster(img, q, hdr_len, &hdr);
    if (r == 0) {
        /* Re-decode: the compression type byte lies past the fixed fields. */
        qcow2_header_decode(hdr, (size_t)q->cs, &q->h);
        if (q->h.header_length <= QCOW2_HDR_COMPRESSION_TYPE)
            q->h.compression_type = QCOW2_COMPRESSION_ZLIB;
        r = check_compression(img, &q->h);
    }
    if (r == 0)
        r = check_features(img, q, hdr);
    if (r == 0)
        r = check_tables(img, q, need);
    if (r == 0)
        r = read_snapshots(img);
    if (r == 0)
        r = read_bitmaps(img);
    if (r == 0)
        r = open_data_file(img);
    if (r == 0)
        r = open_backing(img, hdr, hdr_len);
    free(hdr);
    ifmt_uncharge(img, q->cs);
    return r;
}

/* The used part of the active L1 table, and the L2 cache. */
static int load_l1(imgfmt_image *img, struct qcow2 *q, uint64_t need)
{
    int r;
    q->l1_used = need;
    if (need) {
        q->l1_charged = need * 8;
        if ((r = ifmt_charge(img, q->l1_charged, "L1 table")) < 0) {
            q->l1_charged = 0;
            return r;
        }
        q->l1 = malloc((size_t)q->l1_charged);
        if (!q->l1)
            return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory for the L1 table");
        if ((r = ifmt_pread_meta(img, q->l1, (size_t)q->l1_charged, q->h.l1_offset,
                                 "L1 table")) < 0)
            return r;
        for (uint64_t i = 0; i < need; i++)
            q->l1[i] = ifmt_be64((const uint8_t *)&q->l1[i]);
    }
    uint64_t slots = ifmt_max(4, ifmt_min(L2_CACHE_MAX_SLOTS, L2_CACHE_BYTES / q->cs));
    slots = ifmt_min(slots, ifmt_max(need, 1));
    return ifmt_cache_new(img, (size_t)q->cs, (unsigned)slots, &q->l2cache);
}

static int qcow2_open(imgfmt_image *img)
{
    struct qcow2 *q = calloc(1, sizeof *q);
    if (!q)
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory");
    img->priv = q;
    uint64_t need = 0;
    int r = read_fixed_header(img, q);
    if (r == 0)
        r = open_header(img, q, &need);
    if (r == 0)
        r = load_l1(img, q, need);
    if (r < 0)
        return r;
    img->virtual_size = q->h.size & ~(uint64_t)511;
    return IMGFMT_OK;
}

static void qcow2_close(imgfmt_image *img)
{
    struct qcow2 *q = img->priv;
    if (!q)
        return;
    ifmt_cache_free(img, q->l2cache);
    free(q->l1);
    ifmt_uncharge(img, q->l1_charged);
    if (q->data_io)
        ifmt_io_close(q->data_io);
    free(q->data_file_name);
    for (uint32_t i = 0; q->snaps && i < q->h.nb_snapshots; i++) {
        free(q->snaps[i].id);
        free(q->snaps[i].name);
    }
    free(q->snaps);
    ifmt_uncharge(img, q->snaps_charged);
    for (uint32_t i = 0; q->bitmaps && i < q->nb_bitmaps; i++)
        free(q->bitmaps[i].name);
    free(q->bitmaps);
    ifmt_uncharge(img, q->bitmaps_charged);
    ifmt_win_free(img, &q->win);
    free(q->dbuf);
    ifmt_uncharge(img, q->dbuf_charged);
    if (q->zs_ready)
        inflateEnd(&q->zs);
#if IMGFMT_HAVE_LIBDEFLATE
    if (q->ld)
        libdeflate_free_decompressor(q->ld);
#endif
#if IMGFMT_HAVE_ZSTD
    ZSTD_freeDCtx(q->zd);
#endif
    free(q);
    img->priv = NULL;
}

/* ---- tables ---------------------------------------------------------- */

/* The L2 table for L1 index l1i, or *tbl = NULL if unallocated. */
static int get_l2(imgfmt_image *img, uint64_t l1i, const uint8_t **tbl, uint64_t *l2off)
{
    struct qcow2 *q = img->priv;
    uint64_t off = q->l1[l1i] & QCOW2_L1E_OFFSET_MASK;
    *tbl = NULL;
    *l2off = off;
    if (!off)
        return IMGFMT_OK;
    if (off & (q->cs - 1))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: L2 table offset 0x%llx not cluster aligned (L1 index %llu)",
                          (unsigned long long)off, (unsigned long long)l1i);
    uint8_t *t = ifmt_cache_get(q->l2cache, off);
    if (t) {
        *tbl = t;
        return IMGFMT_OK;
    }
    if (!ifmt_range_ok(off, q->cs, img->io->size))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: L2 table offset 0x%llx (L1 index %llu) beyond end of "
                          "file (length %llu)", (unsigned long long)off,
                          (unsigned long long)l1i, (unsigned long long)img->io->size);
    t = ifmt_cache_put(q->l2cache, off);
    int r = ifmt_pread_meta(img, t, (size_t)q->cs, off, "L2 table");
    if (r < 0) {
        ifmt_cache_drop(q->l2cache, off);
        return r;
    }
    *tbl = t;
    return IMGFMT_OK;
}

/* Checks on one cluster's entry before it is used (qemu's I/O-time checks).
 * guest is the cluster's guest offset. */
static int check_entry(imgfmt_image *img, uint64_t l2e, uint64_t bitmap,
                       enum qcow2_cluster_type t, uint64_t guest, uint64_t l2off,
                       uint64_t l2i)
{
    struct qcow2 *q = img->priv;
    if (q->extl2 && t != QCOW2_CT_COMPRESSED) {
        if ((bitmap >> 32) & bitmap)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: invalid subcluster bitmap 0x%016llx (L2 offset 0x%llx, "
                              "index %llu): subclusters both allocated and zero",
                              (unsigned long long)bitmap, (unsigned long long)l2off,
                              (unsigned long long)l2i);
        if (t == QCOW2_CT_UNALLOC && (bitmap & QCOW2_SUB_ALL_ALLOC))
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: subclusters allocated in an unallocated cluster "
                              "(L2 offset 0x%llx, index %llu)", (unsigned long long)l2off,
                              (unsigned long long)l2i);
    }
    switch (t) {
    case QCOW2_CT_UNALLOC:
    case QCOW2_CT_ZERO_PLAIN:
        break;
    case QCOW2_CT_COMPRESSED: {
        if (q->data_file)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: compressed cluster in an image with an external data "
                              "file (L2 offset 0x%llx, index %llu)",
                              (unsigned long long)l2off, (unsigned long long)l2i);
        if (q->extl2 && bitmap)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: compressed cluster with subcluster bitmap 0x%llx "
                              "(L2 offset 0x%llx, index %llu)", (unsigned long long)bitmap,
                              (unsigned long long)l2off, (unsigned long long)l2i);
        uint64_t coff, csize;
        qcow2_compressed_decode(l2e, q->cluster_bits, &coff, &csize);
        /* The last sector of a compressed run may end past EOF (qemu writes
         * exact lengths), so the bound is EOF rounded up to a sector. */
        uint64_t lim = (img->io->size + QCOW2_COMPRESSED_SECTOR - 1) &
                       ~(uint64_t)(QCOW2_COMPRESSED_SECTOR - 1);
        if (coff >= img->io->size || !ifmt_range_ok(coff, csize, lim))
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: compressed cluster at offset 0x%llx (%llu bytes) runs "
                              "past end of file (length %llu; L2 index %llu)",
                              (unsigned long long)coff, (unsigned long long)csize,
                              (unsigned long long)img->io->size, (unsigned long long)l2i);
        break;
    }
    case QCOW2_CT_ZERO_ALLOC:
    case QCOW2_CT_NORMAL: {
        uint64_t host = l2e & QCOW2_L2E_OFFSET_MASK;
        if (host & (q->cs - 1))
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: cluster offset 0x%llx not cluster aligned (L2 offset "
                              "0x%llx, index %llu)", (unsigned long long)host,
                              (unsigned long long)l2off, (unsigned long long)l2i);
        if (q->data_file && host != guest)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: external data file cluster offset 0x%llx does not "
                              "match guest offset 0x%llx", (unsigned long long)host,
                              (unsigned long long)guest);
        if (!q->data_file && t == QCOW2_CT_NORMAL && host >= img->io->size)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: data cluster offset 0x%llx beyond end of file "
                              "(length %llu; L2 offset 0x%llx, index %llu)",
                              (unsigned long long)host, (unsigned long long)img->io->size,
                              (unsigned long long)l2off, (unsigned long long)l2i);
        break;
    }
    }
    if (q->h.version < 3 && (t == QCOW2_CT_ZERO_PLAIN || t == QCOW2_CT_ZERO_ALLOC))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: zero cluster in a version 2 image (L2 offset 0x%llx, "
                          "index %llu)", (unsigned long long)l2off, (unsigned long long)l2i);
    return IMGFMT_OK;
}

/* Status of subcluster sc of a cluster whose entry is checked. */
static int sub_status(const struct qcow2 *q, enum qcow2_cluster_type t, uint64_t bitmap,
                      unsigned sc)
{
    switch (t) {
    case QCOW2_CT_COMPRESSED:
        return IFMT_ST_DATA;
    case QCOW2_CT_ZERO_PLAIN:
    case QCOW2_CT_ZERO_ALLOC:
        return IFMT_ST_ZERO;
    case QCOW2_CT_UNALLOC:
        return (q->extl2 && (bitmap & QCOW2_SUB_ZERO(sc))) ? IFMT_ST_ZERO : IFMT_ST_UNALLOC;
    case QCOW2_CT_NORMAL:
        if (!q->extl2)
            return IFMT_ST_DATA;
        if (bitmap & QCOW2_SUB_ZERO(sc))
            return IFMT_ST_ZERO;
        return (bitmap & QCOW2_SUB_ALLOC(sc)) ? IFMT_ST_DATA : IFMT_ST_UNALLOC;
    }
    return IFMT_ST_UNALLOC;
}

/* Entry for the guest cluster containing off: first word and bitmap. */
static int lookup(imgfmt_image *img, uint64_t off, uint64_t *l2e, uint64_t *bitmap,
                  enum qcow2_cluster_type *t)
{
    struct qcow2 *q = img->priv;
    uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
    uint64_t l2i = (off >> q->cluster_bits) & (q->l2_entries - 1);
    const uint8_t *tbl;
    uint64_t l2off;
    int r = get_l2(img, l1i, &tbl, &l2off);
    if (r < 0)
        return r;
    *l2e = tbl ? ifmt_be64(tbl + l2i * q->entry_len) : 0;
    *bitmap = (tbl && q->extl2) ? ifmt_be64(tbl + l2i * q->entry_len + 8) : 0;
    *t = qcow2_l2_type(*l2e, q->extl2, q->data_file);
    uint64_t guest = off & ~(q->cs - 1);
    return check_entry(img, *l2e, *bitmap, *t, guest, l2off, l2i);
}

/* ---- block status ---------------------------------------------------- */

static int qcow2_block_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len)
{
    struct qcow2 *q = img->priv;
    uint64_t pos = off, end = off + max;
    unsigned l1_shift = q->cluster_bits + q->l2_bits;
    uint64_t sc_size = 1ull << q->sc_bits;
    int st = 0;
    while (pos < end) {
        uint64_t l1i = pos >> l1_shift;
        uint64_t tend = ifmt_min(end, (l1i + 1) << l1_shift);
        const uint8_t *tbl;
        uint64_t l2off;
        int r = get_l2(img, l1i, &tbl, &l2off);
        if (r < 0)
            return r;
        if (!tbl) {
            if (st && st != IFMT_ST_UNALLOC)
                break;
            st = IFMT_ST_UNALLOC;
            pos = tend;
            continue;
        }
        while (pos < tend) {
            uint64_t l2i = (pos >> q->cluster_bits) & (q->l2_entries - 1);
            uint64_t l2e = ifmt_be64(tbl + l2i * q->entry_len);
            uint64_t bm = q->extl2 ? ifmt_be64(tbl + l2i * q->entry_len + 8) : 0;
            enum qcow2_cluster_type t = qcow2_l2_type(l2e, q->extl2, q->data_file);
            uint64_t guest = pos & ~(q->cs - 1);
            r = check_entry(img, l2e, bm, t, guest, l2off, l2i);
            if (r < 0)
                return r;
            uint64_t cend = ifmt_min(tend, guest + q->cs);
            while (pos < cend) {
                unsigned sc = (unsigned)((pos - guest) >> q->sc_bits);
                int s = sub_status(q, t, bm, sc);
                if (st && s != st)
                    goto done;
                st = s;
                pos = ifmt_min(cend, guest + (uint64_t)(sc + 1) * sc_size);
            }
        }
    }
done:
    *len = pos - off;
    return st;
}

/* ---- reads ------------------------------------------------------------ */

/* Read host bytes of a data cluster run; bytes past the end of the file
 * read as zeros (a partial last cluster; a sparse external data file). */
static int read_host(imgfmt_image *img, struct ifmt_io *io, uint8_t *buf, uint64_t len,
                     uint64_t host)
{
    uint64_t in = host >= io->size ? 0 : ifmt_min(len, io->size - host);
    int e = 0;
    if (in && ifmt_io_pread(io, buf, (size_t)in, host, &e) < 0)
        return ifmt_error_errno(img, IMGFMT_E_IO, e, "qcow2: read of %llu bytes at host "
                                "offset 0x%llx in %s failed: %s", (unsigned long long)in,
                                (unsigned long long)host, io->path, strerror(e ? e : 5));
    memset(buf + in, 0, (size_t)(len - in));
    return IMGFMT_OK;
}

static int zs_start(imgfmt_image *img, const uint8_t *src, size_t slen)
{
    struct qcow2 *q = img->priv;
    if (!q->zs_ready) {
        memset(&q->zs, 0, sizeof q->zs);
        if (inflateInit2(&q->zs, -12) != Z_OK)
            return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: cannot initialise zlib");
        q->zs_ready = true;
    } else if (inflateReset(&q->zs) != Z_OK) {
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: cannot reset zlib");
    }
    q->zs.next_in = (Bytef *)(uintptr_t)src;
    q->zs.avail_in = (uInt)slen;
    return IMGFMT_OK;
}

static int inflate_zlib(imgfmt_image *img, const uint8_t *src, size_t slen, uint8_t *dst)
{
    struct qcow2 *q = img->priv;
#if IMGFMT_HAVE_LIBDEFLATE
    /* libdeflate (faster) when the stream gives exactly one cluster; any
     * other outcome is decided by zlib below, so verdicts and messages are
     * zlib's. */
    if (!q->ld && !(q->ld = libdeflate_alloc_decompressor()))
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: cannot create a libdeflate "
                          "decompressor");
    size_t in_n = 0, out_n = 0;
    if (libdeflate_deflate_decompress_ex(q->ld, src, slen, dst, (size_t)q->cs, &in_n,
                                         &out_n) == LIBDEFLATE_SUCCESS && out_n == q->cs)
        return IMGFMT_OK;
#endif
    int r = zs_start(img, src, slen);
    if (r < 0)
        return r;
    q->zs.next_out = dst;
    q->zs.avail_out = (uInt)q->cs;
    int zr = inflate(&q->zs, Z_FINISH);
    /* Z_BUF_ERROR is fine once the cluster is full: the input is only
     * known to sector precision. */
    if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && q->zs.avail_out == 0)
        return IMGFMT_OK;
    return ifmt_error(img, IMGFMT_E_CORRUPT,
                      "qcow2: compressed cluster (zlib) does not inflate to exactly one "
                      "cluster (%llu of %llu bytes, zlib %d)",
                      (unsigned long long)(q->cs - q->zs.avail_out),
                      (unsigned long long)q->cs, zr);
}

#if IMGFMT_HAVE_ZSTD
static int inflate_zstd(imgfmt_image *img, const uint8_t *src, size_t slen, uint8_t *dst)
{
    struct qcow2 *q = img->priv;
    if (!q->zd && !(q->zd = ZSTD_createDCtx()))
        return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: cannot create a zstd context");
    ZSTD_DCtx_reset(q->zd, ZSTD_reset_session_only);
    ZSTD_inBuffer in = {src, slen, 0};
    ZSTD_outBuffer out = {dst, (size_t)q->cs, 0};
    size_t zr = 0;
    /* Several frames may follow each other: go on until the cluster is full. */
    while (out.pos < out.size) {
        size_t ip = in.pos, op = out.pos;
        zr = ZSTD_decompressStream(q->zd, &out, &in);
        if (ZSTD_isError(zr))
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: compressed cluster (zstd) does not decompress: %s",
                              ZSTD_getErrorName(zr));
        if (in.pos <= ip && out.pos <= op)
            break;
    }
    if (out.pos != out.size || zr != 0)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "qcow2: compressed cluster (zstd) does not decompress to exactly "
                          "one cluster (%zu of %llu bytes)", out.pos,
                          (unsigned long long)q->cs);
    return IMGFMT_OK;
}
#endif

/* The entry of guest cluster `guest` if its L2 table is at hand, without
 * checks or errors (read-ahead planning only): 0 if it cannot be had. */
static uint64_t peek_entry(imgfmt_image *img, uint64_t guest)
{
    struct qcow2 *q = img->priv;
    uint64_t l1i = guest >> (q->cluster_bits + q->l2_bits);
    if (l1i >= q->l1_used)
        return 0;
    uint64_t l2off = q->l1[l1i] & QCOW2_L1E_OFFSET_MASK;
    const uint8_t *tbl = l2off ? ifmt_cache_get(q->l2cache, l2off) : NULL;
    if (!tbl)
        return 0;
    uint64_t l2i = (guest >> q->cluster_bits) & (q->l2_entries - 1);
    return ifmt_be64(tbl + l2i * q->entry_len);
}

/* The stored bytes of the compressed cluster of entry l2e (checked).  The
 * read request goes on from guest offset next to req_end: compressed clusters
 * of it stored close behind this one are read by the same pread. */
static int comp_src(imgfmt_image *img, uint64_t l2e, uint64_t next, uint64_t req_end,
                    const uint8_t **src, size_t *slen)
{
    struct qcow2 *q = img->priv;
    uint64_t coff, csize;
    qcow2_compressed_decode(l2e, q->cluster_bits, &coff, &csize);
    *slen = (size_t)csize;
    if (ifmt_win_has(&q->win, img->io, coff, (size_t)csize)) {
        *src = q->win.buf + (coff - q->win.off);
        return IMGFMT_OK;
    }
    uint64_t end = coff + csize;
    for (uint64_t g = next; g < req_end; g += q->cs) {
        uint64_t e = peek_entry(img, g);
        if (qcow2_l2_type(e, q->extl2, q->data_file) != QCOW2_CT_COMPRESSED)
            break;
        uint64_t c2, s2;
        qcow2_compressed_decode(e, q->cluster_bits, &c2, &s2);
        if (c2 < coff || c2 + s2 - coff > IFMT_WIN_BYTES)
            break;
        end = ifmt_max(end, c2 + s2);
    }
    return ifmt_win_get(img, &q->win, img->io, coff, (size_t)csize,
                        (size_t)(end - coff), src);
}

/* Inflate the compressed cluster of entry l2e into dst (one cluster). */
static int decompress(imgfmt_image *img, uint64_t l2e, uint64_t next, uint64_t req_end,
                      uint8_t *dst)
{
    struct qcow2 *q = img->priv;
    const uint8_t *src;
    size_t slen;
    int r = comp_src(img, l2e, next, req_end, &src, &slen);
    if (r < 0)
        return r;
#if IMGFMT_HAVE_ZSTD
    if (q->h.compression_type == QCOW2_COMPRESSION_ZSTD)
        return inflate_zstd(img, src, slen, dst);
#else
    (void)q;
#endif
    return inflate_zlib(img, src, slen, dst);
}

/* Inflate the compressed cluster of entry l2e into q->dbuf (cached). */
static int load_compressed(imgfmt_image *img, uint64_t l2e, uint64_t next,
                           uint64_t req_end)
{
    struct qcow2 *q = img->priv;
    if (q->dbuf_valid && q->dbuf_entry == l2e)
        return IMGFMT_OK;
    if (!q->dbuf) {
        int r = ifmt_charge(img, q->cs, "compressed cluster buffer");
        if (r < 0)
            return r;
        q->dbuf_charged = q->cs;
        q->dbuf = malloc((size_t)q->cs);
        if (!q->dbuf) {
            ifmt_uncharge(img, q->cs);
            q->dbuf_charged = 0;
            return ifmt_error(img, IMGFMT_E_NOMEM, "qcow2: out of memory");
        }
    }
    q->dbuf_valid = false;
    int r = decompress(img, l2e, next, req_end, q->dbuf);
    if (r < 0)
        return r;
    q->dbuf_entry = l2e;
    q->dbuf_valid = true;
    return IMGFMT_OK;
}

static int qcow2_read_data(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    struct qcow2 *q = img->priv;
    uint8_t *p = buf;
    struct ifmt_io *io = q->data_io ? q->data_io : img->io;
    /* A pending run of contiguous host bytes: read in one pread. */
    uint8_t *run_buf = NULL;
    uint64_t run_host = 0, run_len = 0;
    int r;
    while (len > 0) {
        uint64_t l2e, bm;
        enum qcow2_cluster_type t;
        if ((r = lookup(img, off, &l2e, &bm, &t)) < 0)
            return r;
        uint64_t in = off & (q->cs - 1);
        size_t n = (size_t)ifmt_min(len, q->cs - in);
        if (t == QCOW2_CT_COMPRESSED) {
            if (run_len && (r = read_host(img, io, run_buf, run_len, run_host)) < 0)
                return r;
            run_len = 0;
            uint64_t next = off - in + q->cs;
            if (n == q->cs && !(q->dbuf_valid && q->dbuf_entry == l2e)) {
                /* A whole cluster: inflate straight into the caller's buffer. */
                if ((r = decompress(img, l2e, next, off + len, p)) < 0)
                    return r;
            } else {
                if ((r = load_compressed(img, l2e, next, off + len)) < 0)
                    return r;
                memcpy(p, q->dbuf + in, n);
            }
        } else if (t == QCOW2_CT_NORMAL) {
            uint64_t host = (l2e & QCOW2_L2E_OFFSET_MASK) + in;
            if (run_len && run_host + run_len == host) {
                run_len += n;
            } else {
                if (run_len && (r = read_host(img, io, run_buf, run_len, run_host)) < 0)
                    return r;
                run_buf = p;
                run_host = host;
                run_len = n;
            }
        } else {
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "qcow2: internal: data read of a cluster of type %d at %llu",
                              (int)t, (unsigned long long)off);
        }
        p += n;
        off += n;
        len -= n;
    }
    if (run_len && (r = read_host(img, io, run_buf, run_len, run_host)) < 0)
        return r;
    return IMGFMT_OK;
}

/* ---- zero probing ------------------------------------------------------ */

#define PROBE_STEP 4096u

/* Inflate the zlib-compressed cluster of entry l2e (guest offset guest) into
 * dst in steps, marking units; stop at the step that decides the last unit
 * of the cluster non-zero.  A cluster that reads as zeros is inflated and
 * checked in full, like a read. */
static int probe_zlib(imgfmt_image *img, uint64_t l2e, uint64_t guest, uint64_t req_end,
                      uint8_t *dst, uint64_t base, size_t unit, uint8_t *nz)
{
    struct qcow2 *q = img->priv;
    const uint8_t *src;
    size_t slen;
    int r = comp_src(img, l2e, guest + q->cs, req_end, &src, &slen);
    if (r < 0 || (r = zs_start(img, src, slen)) < 0)
        return r;
    uint64_t pos = 0;
    int zr = Z_OK;
    while (pos < q->cs) {
        uint64_t step = ifmt_min(PROBE_STEP, q->cs - pos);
        bool last = pos + step == q->cs;
        q->zs.next_out = dst + pos;
        q->zs.avail_out = (uInt)step;
        zr = inflate(&q->zs, last ? Z_FINISH : Z_NO_FLUSH);
        uint64_t got = step - q->zs.avail_out;
        ifmt_mark_nonzero(dst + pos, guest + pos, guest + pos + got, base, unit, nz);
        pos += got;
        if (ifmt_units_marked(guest, guest + q->cs, base, unit, nz))
            return IMGFMT_OK;
        if (last || zr != Z_OK || got == 0)
            break;
    }
    if (pos == q->cs && (zr == Z_STREAM_END || zr == Z_BUF_ERROR))
        return IMGFMT_OK;
    return ifmt_error(img, IMGFMT_E_CORRUPT,
                      "qcow2: compressed cluster (zlib) does not inflate to exactly one "
                      "cluster (%llu of %llu bytes, zlib %d)", (unsigned long long)pos,
                      (unsigned long long)q->cs, zr);
}

static int qcow2_zero_probe(imgfmt_image *img, uint64_t off, size_t len, uint64_t base,
                            size_t unit, uint8_t *buf, uint8_t *nz)
{
    struct qcow2 *q = img->priv;
    uint64_t end = off + len;
    int r;
    while (off < end) {
        uint64_t u = (off - base) / unit;
        if (nz[u]) {
            off = ifmt_min(end, base + (u + 1) * unit);
            continue;
        }
        uint64_t l2e, bm;
        enum qcow2_cluster_type t;
        if ((r = lookup(img, off, &l2e, &bm, &t)) < 0)
            return r;
        uint64_t in = off & (q->cs - 1);
        uint64_t n = ifmt_min(end - off, q->cs - in);
        if (t != QCOW2_CT_COMPRESSED) {
            /* A run of uncompressed clusters: read (merged) and look. */
            uint64_t rend = off + n;
            while (rend < end) {
                if ((r = lookup(img, rend, &l2e, &bm, &t)) < 0)
                    return r;
                if (t == QCOW2_CT_COMPRESSED)
                    break;
                rend += ifmt_min(end - rend, q->cs);
            }
            uint8_t *p = buf + (off - base);
            if ((r = qcow2_read_data(img, p, (size_t)(rend - off), off)) < 0)
                return r;
            ifmt_mark_nonzero(p, off, rend, base, unit, nz);
            off = rend;
            continue;
        }
        uint64_t guest = off - in;
        if (q->dbuf_valid && q->dbuf_entry == l2e) {
            ifmt_mark_nonzero(q->dbuf + in, off, off + n, base, unit, nz);
        } else if (n == q->cs && q->h.compression_type != QCOW2_COMPRESSION_ZSTD) {
            if ((r = probe_zlib(img, l2e, guest, end, buf + (off - base), base, unit,
                                nz)) < 0)
                return r;
        } else {
            if ((r = load_compressed(img, l2e, guest + q->cs, end)) < 0)
                return r;
            ifmt_mark_nonzero(q->dbuf + in, off, off + n, base, unit, nz);
        }
        off += n;
    }
    return IMGFMT_OK;
}

/* ---- info, snapshots -------------------------------------------------- */

static void qcow2_info(imgfmt_image *img, imgfmt_info *out)
{
    struct qcow2 *q = img->priv;
    const struct qcow2_header *h = &q->h;
    out->subformat = h->version == 2 ? "v2" : "v3";
    out->cluster_size = (uint32_t)q->cs;
    out->dirty = (h->incompat & QCOW2_INCOMPAT_DIRTY) != 0;
    out->corrupt = (h->incompat & QCOW2_INCOMPAT_CORRUPT) != 0;
    /* Like qemu-img: the backing format is the one the header names; a
     * probed backing format is not reported. */
    out->backing_format = (img->backing_fmt_name && *img->backing_fmt_name)
                              ? img->backing_fmt_name : NULL;
    imgfmt_qcow2_info *o = &out->qcow2;
    o->version = h->version;
    o->compat = h->version == 2 ? "0.10" : "1.1";
    o->compression_type = h->compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib";
    o->lazy_refcounts = (h->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    o->refcount_bits = 1u << h->refcount_order;
    o->extended_l2 = q->extl2;
    o->encrypted = h->crypt_method != 0;
    o->data_file = q->data_file_name;
    o->data_file_raw = q->data_raw;
    o->incompatible_features = h->incompat;
    o->compatible_features = h->compat;
    o->autoclear_features = h->autoclear;
    o->nb_snapshots = q->nb_snaps;
    o->nb_bitmaps = q->nb_bitmaps;
}

static int qcow2_snapshot(imgfmt_image *img, uint32_t i, imgfmt_snapshot *out)
{
    struct qcow2 *q = img->priv;
    if (i >= q->nb_snaps)
        return ifmt_error(img, IMGFMT_E_RANGE, "qcow2: no snapshot %u (the image has %u)",
                          i, q->nb_snaps);
    const struct qcow2_snap *s = &q->snaps[i];
    out->id = s->id;
    out->name = s->name;
    out->vm_state_size = s->vm_state_size;
    out->date_sec = s->date_sec;
    out->date_nsec = s->date_nsec;
    out->vm_clock_nsec = s->vm_clock_nsec;
    out->icount = s->icount;
    out->disk_size = s->disk_size;
    return IMGFMT_OK;
}

int imgfmt_qcow2_get_bitmap(imgfmt_image *img, uint32_t i, imgfmt_qcow2_bitmap *out)
{
    if (!img || !out)
        return IMGFMT_E_INVAL;
    struct qcow2 *q = img->drv->format == IMGFMT_FMT_QCOW2 ? img->priv : NULL;
    if (!q || i >= q->nb_bitmaps || !q->bitmaps)
        return ifmt_error(img, IMGFMT_E_RANGE, "%s: no bitmap %u", img->drv->name, i);
    out->name = q->bitmaps[i].name;
    out->granularity = q->bitmaps[i].granularity;
    out->flags = q->bitmaps[i].flags;
    return IMGFMT_OK;
}

const struct ifmt_driver ifmt_qcow2_driver = {
    .name = "qcow2",
    .format = IMGFMT_FMT_QCOW2,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .block_status = qcow2_block_status,
    .read_data = qcow2_read_data,
    .info = qcow2_info,
    .snapshot = qcow2_snapshot,
    .close = qcow2_close,
    .zero_probe = qcow2_zero_probe,
};
