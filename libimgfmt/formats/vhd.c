/*
 * vhd.c -- VHD (qemu's "vpc"): fixed, dynamic and differencing disks,
 * read as qemu-img 7.2 reads them (docs/formats.md, VHD), except that a
 * differencing disk follows its parent instead of reading zeros.
 *
 * Open, like qemu: a footer copy at offset 0 ("conectix") means a dynamic
 * disk; otherwise the last 512 bytes must be a fixed disk's footer.  The
 * footer checksum must match.  The virtual size follows the rule chosen in
 * the open options (qemu <= 9.2 by default).  Dynamic: the header's checks,
 * then the BAT, of which only the entries covering the virtual size are
 * kept (charged to the metadata cap), while all of them are scanned for
 * qemu's truncation check.
 *
 * Block status, like qemu's map: a fixed disk is its file (holes are ZERO);
 * a dynamic disk's unallocated block is ZERO and an allocated block is DATA
 * as a whole (qemu ignores the sector bitmap).  A differencing disk says
 * UNALLOC for unallocated blocks and for sectors whose bitmap bit is clear,
 * so the core reads the parent there.
 */
#define IMGFMT_BUILDING 1
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cache.h"
#include "core/checked.h"
#include "core/driver.h"
#include "core/window.h"
#include "formats/vhd.h"

#define BITMAP_CACHE_SLOTS 8u
#define BAT_SCAN_CHUNK     65536u
#define MAX_LOCATOR_BYTES  65536u   /* a path; Windows allows 32767 UTF-16 units */

struct vhd {
    struct vhd_footer f;
    struct vhd_dyn_header h;
    uint32_t type;              /* effective: fixed, dynamic or differencing */
    uint32_t block_size, bitmap_size;
    uint32_t *bat;              /* entries covering the virtual size */
    uint64_t nbat;
    uint64_t bat_charged;
    struct ifmt_cache *bitmaps; /* differencing: sector bitmaps by block */
    enum imgfmt_vhd_size_rule rule;
    uint64_t size_legacy, size_qemu10;
    uint64_t probe_raw_size;
    char uuid[37], parent_uuid[37];
};

static int vhd_probe(const uint8_t *head, size_t hlen, const uint8_t *tail,
                     size_t tlen, uint64_t size)
{
    (void)size;
    /* qemu's probe: the footer copy of a dynamic disk at offset 0. */
    if (hlen >= 8 && memcmp(head, VHD_COOKIE, 8) == 0)
        return 100;
    /* A fixed disk has its footer only at the end; qemu never probes it
     * (it sees raw), we do, below every format with a magic at the start. */
    if (tlen >= VHD_FOOTER_SIZE) {
        const uint8_t *f = tail + tlen - VHD_FOOTER_SIZE;
        if (memcmp(f, VHD_COOKIE, 8) == 0 &&
            ifmt_be32(f + VHD_F_DISK_TYPE) == VHD_TYPE_FIXED)
            return 50;
    }
    return 0;
}

static const char *vhd_type_str(uint32_t t)
{
    return t == VHD_TYPE_FIXED ? "fixed" : t == VHD_TYPE_DIFFERENCING ? "differencing"
                                                                      : "dynamic";
}

/* ---- the BAT ------------------------------------------------------------ */

/* Read every BAT entry (qemu scans them all for its truncation check), keep
 * the first s->nbat, and check that no allocated block ends past the end of
 * the file. */
static int load_bat(imgfmt_image *img, struct vhd *s)
{
    uint64_t fsize = img->io->size;
    uint64_t n_all = s->h.max_table_entries;
    uint64_t bat_end = s->h.table_offset + 4 * n_all;   /* checked by the caller */
    uint64_t free_off = (bat_end + 511) & ~(uint64_t)511;
    uint64_t worst_entry = UINT64_MAX, worst_off = 0;

    uint8_t *chunk = malloc(BAT_SCAN_CHUNK);
    if (!chunk)
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n_all;) {
        uint64_t cnt = ifmt_min(n_all - i, BAT_SCAN_CHUNK / 4);
        int r = ifmt_pread_meta(img, chunk, (size_t)(cnt * 4), s->h.table_offset + 4 * i,
                                "BAT");
        if (r < 0) {
            free(chunk);
            return r;
        }
        for (uint64_t k = 0; k < cnt; k++, i++) {
            uint32_t e = ifmt_be32(chunk + 4 * k);
            if (i < s->nbat)
                s->bat[i] = e;
            if (e == VHD_BAT_UNUSED)
                continue;
            uint64_t end = (uint64_t)e * 512 + s->bitmap_size + s->block_size;
            if (end > free_off) {
                free_off = end;
                worst_entry = i;
                worst_off = (uint64_t)e * 512;
            }
        }
    }
    free(chunk);
    if (free_off > fsize) {
        if (worst_entry != UINT64_MAX)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "vpc: BAT entry %llu (block at offset 0x%llx, %u bytes with "
                              "its bitmap) ends past the end of the file (length %llu): "
                              "the image has been truncated",
                              (unsigned long long)worst_entry,
                              (unsigned long long)worst_off,
                              s->bitmap_size + s->block_size, (unsigned long long)fsize);
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: free data offset 0x%llx (end of the BAT, rounded to a "
                          "sector) points after the end of the file (length %llu): "
                          "the image has been truncated", (unsigned long long)free_off,
                          (unsigned long long)fsize);
    }
    return IMGFMT_OK;
}

/* ---- the parent of a differencing disk ------------------------------- */

/* Turn a Windows path into a name we can look up: backslashes become
 * slashes; a drive-letter or UNC path cannot be followed on this system, so
 * only its last component is kept (looked up next to the child). */
static void windows_to_posix(char *p)
{
    for (char *c = p; *c; c++)
        if (*c == '\\')
            *c = '/';
    bool drive = ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) &&
                 p[1] == ':';
    bool unc = p[0] == '/' && p[1] == '/';
    if (drive || unc) {
        char *last = strrchr(p, '/');
        const char *base = last ? last + 1 : p + (drive ? 2 : 0);
        memmove(p, base, strlen(base) + 1);
    }
    while (p[0] == '.' && p[1] == '/')   /* ".\\parent.vhd" */
        memmove(p, p + 2, strlen(p + 2) + 1);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "file://localhost/a%20b/p.vhd" or "file:///a/p.vhd" -> "/a b/p.vhd". */
static void mac_url_to_posix(char *p)
{
    const char *src = p;
    if (strncmp(src, "file://", 7) == 0) {
        src += 7;
        if (strncmp(src, "localhost/", 10) == 0)
            src += 9;
    }
    char *d = p;
    while (*src) {
        int h1, h2;
        if (src[0] == '%' && (h1 = hexval((unsigned char)src[1])) >= 0 &&
            (h2 = hexval((unsigned char)src[2])) >= 0 && (h1 | h2)) {
            *d++ = (char)(h1 << 4 | h2);
            src += 3;
        } else {
            *d++ = *src++;
        }
    }
    *d = '\0';
}

struct cand {
    char *stored;   /* as decoded from the image (for info) */
    char *name;     /* converted for lookup */
};

static int add_cand(imgfmt_image *img, struct cand *c, unsigned *n, const char *stored,
                    const char *name)
{
    if (!*name)
        return IMGFMT_OK;
    for (unsigned i = 0; i < *n; i++)
        if (strcmp(c[i].name, name) == 0)
            return IMGFMT_OK;
    c[*n].stored = strdup(stored);
    c[*n].name = strdup(name);
    if (!c[*n].stored || !c[*n].name) {
        free(c[*n].stored);
        free(c[*n].name);
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    }
    (*n)++;
    return IMGFMT_OK;
}

/* Decode locator i into *buf (UTF-8); 0 if this locator gives no path. */
static int read_locator(imgfmt_image *img, struct vhd *s, unsigned i, char **out)
{
    const struct vhd_locator *l = &s->h.loc[i];
    char code[5];
    *out = NULL;
    vhd_code_str(l->code, code);
    if (l->code != VHD_PLAT_W2KU && l->code != VHD_PLAT_W2RU && l->code != VHD_PLAT_MACX)
        return IMGFMT_OK;
    if (l->data_length == 0)
        return IMGFMT_OK;
    if (l->data_length > MAX_LOCATOR_BYTES)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: parent locator %u (%s) data length %u is over %u bytes", i,
                          code, l->data_length, MAX_LOCATOR_BYTES);
    if (!ifmt_range_ok(l->data_offset, l->data_length, img->io->size))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: parent locator %u (%s) data at offset 0x%llx (+%u) runs "
                          "past the end of the file (length %llu)", i, code,
                          (unsigned long long)l->data_offset, l->data_length,
                          (unsigned long long)img->io->size);
    uint8_t *raw = malloc(l->data_length);
    size_t cap = (size_t)l->data_length * 2 + 1;   /* UTF-16 unit -> at most 3 bytes */
    char *txt = malloc(cap);
    if (!raw || !txt) {
        free(raw);
        free(txt);
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    }
    int r = ifmt_pread_meta(img, raw, l->data_length, l->data_offset, "parent locator");
    if (r < 0)
        goto fail;
    if (l->code == VHD_PLAT_MACX) {
        size_t n = strnlen((const char *)raw, l->data_length);
        memcpy(txt, raw, n);
        txt[n] = '\0';
    } else if (vhd_utf16_to_utf8(raw, l->data_length, false, txt, cap) < 0) {
        r = ifmt_error(img, IMGFMT_E_CORRUPT,
                       "vpc: parent locator %u (%s) is not valid UTF-16", i, code);
        goto fail;
    }
    free(raw);
    *out = txt;
    return IMGFMT_OK;
fail:
    free(raw);
    free(txt);
    return r;
}

/* Collect the parent's names in the order we try them: relative (W2ru),
 * absolute (W2ku), Mac URL (MacX), then the header's parent name. */
static int parent_candidates(imgfmt_image *img, struct vhd *s, const uint8_t *hdr,
                             struct cand *c, unsigned *n)
{
    static const uint32_t order[] = {VHD_PLAT_W2RU, VHD_PLAT_W2KU, VHD_PLAT_MACX};
    *n = 0;
    for (unsigned o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (unsigned i = 0; i < VHD_NLOCATORS; i++) {
            if (s->h.loc[i].code != order[o])
                continue;
            char *txt = NULL;
            int r = read_locator(img, s, i, &txt);
            if (r < 0)
                return r;
            if (!txt)
                continue;
            char *name = strdup(txt);
            if (!name) {
                free(txt);
                return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
            }
            if (order[o] == VHD_PLAT_MACX)
                mac_url_to_posix(name);
            else
                windows_to_posix(name);
            r = add_cand(img, c, n, txt, name);
            free(txt);
            free(name);
            if (r < 0)
                return r;
        }
    }
    char pname[VHD_H_PARENT_NAME_LEN * 2 + 1];
    if (vhd_utf16_to_utf8(hdr + VHD_H_PARENT_NAME, VHD_H_PARENT_NAME_LEN, true, pname,
                          sizeof pname) < 0)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: parent unicode name in the dynamic header is not valid "
                          "UTF-16");
    char conv[sizeof pname];
    memcpy(conv, pname, sizeof conv);
    windows_to_posix(conv);
    return add_cand(img, c, n, pname, conv);
}

static int open_parent(imgfmt_image *img, struct vhd *s, const uint8_t *hdr)
{
    struct cand c[VHD_NLOCATORS + 1];
    unsigned n = 0;
    char *path = NULL;
    int r = parent_candidates(img, s, hdr, c, &n);
    if (r < 0)
        goto out;
    if (n == 0) {
        r = ifmt_error(img, IMGFMT_E_CORRUPT,
                       "vpc: differencing disk names no parent (no parent locator, "
                       "empty parent name)");
        goto out;
    }
    if (img->opts.flags & IMGFMT_OPEN_NO_BACKING) {
        /* Top layer only: no file is looked up; unallocated reads as zeros. */
        img->backing_name = strdup(c[0].stored);
        img->backing_fmt_name = strdup("vpc");
        r = img->backing_name && img->backing_fmt_name
                ? IMGFMT_OK : ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
        goto out;
    }
    /* The first name that exists is the parent; if none does, name the first. */
    unsigned pick = 0;
    for (unsigned i = 0; i < n; i++) {
        char *p = NULL;
        r = ifmt_resolve_path(img, c[i].name, "parent", &p);
        if (r < 0)
            goto out;
        struct stat st;
        if (stat(p, &st) == 0) {
            free(path);
            path = p;
            pick = i;
            break;
        }
        if (!path)
            path = p;   /* remembered for the error message */
        else
            free(p);
    }
    img->backing_name = strdup(c[pick].stored);
    img->backing_fmt_name = strdup("vpc");
    if (!img->backing_name || !img->backing_fmt_name) {
        r = ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        r = ifmt_error(img, IMGFMT_E_BACKING,
                       "vpc: parent \"%s\" of the differencing disk not found (looked for "
                       "\"%s\"%s)", c[0].stored, path, n > 1 ? " and other locators" : "");
        goto out;
    }
    r = ifmt_open_backing(img, path, IMGFMT_FMT_VHD);
    if (r < 0)
        goto out;
    const struct vhd *ps = img->backing->priv;
    if (memcmp(ps->f.uuid, s->h.parent_uuid, 16) != 0) {
        char want[37];
        vhd_uuid_str(s->h.parent_uuid, want);
        r = ifmt_error(img, IMGFMT_E_BACKING,
                       "vpc: parent \"%s\" has UUID %s, but the differencing disk expects "
                       "parent UUID %s", path, ps->uuid, want);
        goto out;
    }
    r = IMGFMT_OK;
out:
    free(path);
    for (unsigned i = 0; i < n; i++) {
        free(c[i].stored);
        free(c[i].name);
    }
    return r;
}

/* ---- open ---------------------------------------------------------- */

static int open_dynamic(imgfmt_image *img, struct vhd *s)
{
    uint64_t fsize = img->io->size;
    uint8_t hdr[VHD_DYN_HEADER_SIZE];
    int r = ifmt_pread_meta(img, hdr, sizeof hdr, s->f.data_offset, "dynamic disk header");
    if (r < 0)
        return r;
    vhd_dyn_header_decode(hdr, &s->h);
    if (!s->h.cookie_ok)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: dynamic disk header at offset 0x%llx has no \"cxsparse\" "
                          "cookie", (unsigned long long)s->f.data_offset);
    if (s->h.checksum != s->h.computed_checksum)
        ifmt_warn(img, IMGFMT_W_VHD_HEADER_CHECKSUM,
                  "dynamic disk header checksum 0x%08x does not match the computed "
                  "0x%08x (qemu does not check it either)", s->h.checksum,
                  s->h.computed_checksum);
    uint32_t bs = s->h.block_size;
    if (!ifmt_is_pow2(bs) || bs < 512)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: block size %u is not a power of two of at least 512", bs);
    s->block_size = bs;
    s->bitmap_size = s->type == VHD_TYPE_DIFFERENCING ? vhd_bitmap_size_spec(bs)
                                                      : vhd_bitmap_size(bs);
    uint64_t vbytes = img->virtual_size;
    if (vbytes / bs > 0xFFFFFFFFu)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: too many blocks (%llu of %u bytes)",
                          (unsigned long long)(vbytes / bs), bs);
    uint64_t mte = s->h.max_table_entries;
    if (mte * bs < vbytes)   /* both < 2^32: no overflow */
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: BAT of %llu entries of %u bytes is too small for the "
                          "virtual size %llu", (unsigned long long)mte, bs,
                          (unsigned long long)vbytes);
    if (mte > VHD_MAX_TABLE_ENTRIES)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "vpc: max_table_entries %llu is too large (at most %u)",
                          (unsigned long long)mte, VHD_MAX_TABLE_ENTRIES);
    uint64_t bat_bytes = 4 * mte;
    if (!ifmt_range_ok(s->h.table_offset, bat_bytes, fsize))
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: BAT (%llu entries at offset 0x%llx) runs past the end of "
                          "the file (length %llu)", (unsigned long long)mte,
                          (unsigned long long)s->h.table_offset, (unsigned long long)fsize);
    s->nbat = ifmt_div_round_up(vbytes, bs);
    if (s->nbat) {
        r = ifmt_charge(img, s->nbat * 4, "BAT");
        if (r < 0)
            return r;
        s->bat_charged = s->nbat * 4;
        s->bat = malloc((size_t)(s->nbat * 4));
        if (!s->bat)
            return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory for a BAT of %llu entries",
                              (unsigned long long)s->nbat);
    }
    r = load_bat(img, s);
    if (r < 0)
        return r;
    if (s->type == VHD_TYPE_DIFFERENCING) {
        r = ifmt_cache_new(img, s->bitmap_size, BITMAP_CACHE_SLOTS, &s->bitmaps);
        if (r < 0)
            return r;
        vhd_uuid_str(s->h.parent_uuid, s->parent_uuid);
        ifmt_warn(img, IMGFMT_W_VHD_PARENT_UNREAD_BY_QEMU,
                  "differencing VHD: qemu-img ignores the parent and reads the "
                  "sectors not stored in this file as zeros; libimgfmt reads them from "
                  "the parent");
        r = open_parent(img, s, hdr);
        if (r < 0)
            return r;
    }
    return IMGFMT_OK;
}

static int vhd_open(imgfmt_image *img)
{
    uint64_t fsize = img->io->size;
    struct vhd *s = calloc(1, sizeof *s);
    if (!s)
        return ifmt_error(img, IMGFMT_E_NOMEM, "out of memory");
    img->priv = s;
    if (fsize < VHD_FOOTER_SIZE)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: file too small for a VHD footer (%llu bytes)",
                          (unsigned long long)fsize);
    uint8_t ft[VHD_FOOTER_SIZE];
    int r = ifmt_pread_meta(img, ft, sizeof ft, 0, "footer copy");
    if (r < 0)
        return r;
    bool fixed = memcmp(ft, VHD_COOKIE, 8) != 0;
    if (fixed) {
        r = ifmt_pread_meta(img, ft, sizeof ft, fsize - VHD_FOOTER_SIZE, "footer");
        if (r < 0)
            return r;
        if (memcmp(ft, VHD_COOKIE, 8) != 0)
            return ifmt_error(img, IMGFMT_E_CORRUPT,
                              "vpc: bad cookie: neither the first nor the last 512 bytes "
                              "start with \"conectix\"");
    }
    vhd_footer_decode(ft, &s->f);
    if (fixed && s->f.disk_type != VHD_TYPE_FIXED)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: footer at the end of the file has disk type %u, expected %u "
                          "(fixed)", s->f.disk_type, VHD_TYPE_FIXED);
    if (s->f.checksum != s->f.computed_checksum)
        return ifmt_error(img, IMGFMT_E_CORRUPT,
                          "vpc: footer checksum 0x%08x does not match the computed 0x%08x",
                          s->f.checksum, s->f.computed_checksum);
    vhd_uuid_str(s->f.uuid, s->uuid);

    if (fixed)
        s->type = VHD_TYPE_FIXED;
    else if (s->f.disk_type == VHD_TYPE_DIFFERENCING)
        s->type = VHD_TYPE_DIFFERENCING;
    else
        s->type = VHD_TYPE_DYNAMIC;
    if (!fixed && s->f.disk_type != VHD_TYPE_DYNAMIC &&
        s->f.disk_type != VHD_TYPE_DIFFERENCING)
        ifmt_warn(img, IMGFMT_W_VHD_DISK_TYPE,
                  "footer at offset 0 has disk type %u; opened as dynamic, as qemu "
                  "does", s->f.disk_type);

    s->rule = img->opts.vhd_size_rule;
    if (s->rule > IMGFMT_VHD_RULE_CURRENT_SIZE)
        return ifmt_error(img, IMGFMT_E_INVAL, "vpc: unknown VHD size rule %d", (int)s->rule);
    s->size_legacy = vhd_total_sectors(&s->f, IMGFMT_VHD_RULE_QEMU_LEGACY, NULL) * 512;
    s->size_qemu10 = vhd_total_sectors(&s->f, IMGFMT_VHD_RULE_QEMU10, NULL) * 512;
    uint64_t sectors = vhd_total_sectors(&s->f, s->rule, NULL);
    if (sectors > VHD_MAX_SECTORS)
        return ifmt_error(img, IMGFMT_E_LIMIT,
                          "vpc: virtual size %llu bytes (%llu sectors) is over qemu's "
                          "2040 GiB limit (file too large)",
                          (unsigned long long)(sectors * 512), (unsigned long long)sectors);
    img->virtual_size = sectors * 512;

    if (fixed) {
        s->probe_raw_size = (fsize + 511) & ~(uint64_t)511;
        ifmt_warn(img, IMGFMT_W_VHD_FIXED_PROBES_RAW,
                  "fixed VHD: qemu-img without -f vpc treats this file as raw, with "
                  "virtual size %llu (the whole file, footer included)",
                  (unsigned long long)s->probe_raw_size);
        return IMGFMT_OK;
    }
    return open_dynamic(img, s);
}

static void vhd_close(imgfmt_image *img)
{
    struct vhd *s = img->priv;
    if (!s)
        return;
    if (s->bitmaps)
        ifmt_cache_free(img, s->bitmaps);
    free(s->bat);
    ifmt_uncharge(img, s->bat_charged);
    free(s);
    img->priv = NULL;
}

/* ---- block status and reads ------------------------------------------- */

static int fixed_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len)
{
    struct ifmt_io *io = img->io;
    if (off >= io->size) {      /* qemu reads zeros past the end of the file */
        *len = max;
        return IFMT_ST_ZERO;
    }
    uint64_t next;
    int r = ifmt_io_next_data(io, off, &next);
    if (r < 0)
        return r;
    if (next > off) {
        *len = ifmt_min(max, next - off);
        return IFMT_ST_ZERO;
    }
    r = ifmt_io_next_hole(io, off, &next);
    if (r < 0)
        return r;
    if (next <= off)
        next = io->size;
    *len = ifmt_min(max, next - off);
    return IFMT_ST_DATA;
}

static int get_bitmap(imgfmt_image *img, struct vhd *s, uint64_t blk, const uint8_t **out)
{
    uint8_t *bm = ifmt_cache_get(s->bitmaps, blk);
    if (!bm) {
        bm = ifmt_cache_put(s->bitmaps, blk);
        int r = ifmt_pread_meta(img, bm, s->bitmap_size, (uint64_t)s->bat[blk] * 512,
                                "sector bitmap");
        if (r < 0) {
            ifmt_cache_drop(s->bitmaps, blk);
            return r;
        }
    }
    *out = bm;
    return IMGFMT_OK;
}

/* Status of the run starting at off, inside one block. */
static int block_run(imgfmt_image *img, struct vhd *s, uint64_t off, uint64_t max,
                     uint64_t *len)
{
    uint64_t blk = off / s->block_size;
    uint64_t in = off % s->block_size;
    uint64_t n = ifmt_min(max, s->block_size - in);
    if (blk >= s->nbat || s->bat[blk] == VHD_BAT_UNUSED) {
        *len = n;
        return s->type == VHD_TYPE_DIFFERENCING ? IFMT_ST_UNALLOC : IFMT_ST_ZERO;
    }
    if (s->type != VHD_TYPE_DIFFERENCING) {
        *len = n;
        return IFMT_ST_DATA;
    }
    /* Differencing: one bit per sector, most significant bit first. */
    const uint8_t *bm;
    int r = get_bitmap(img, s, blk, &bm);
    if (r < 0)
        return r;
    uint64_t sec = in / 512, end_sec = (in + n + 511) / 512;
    int bit = (bm[sec / 8] >> (7 - sec % 8)) & 1;
    uint64_t k = sec + 1;
    while (k < end_sec && ((bm[k / 8] >> (7 - k % 8)) & 1) == bit)
        k++;
    *len = ifmt_min(n, k * 512 - in);
    return bit ? IFMT_ST_DATA : IFMT_ST_UNALLOC;
}

static int vhd_block_status(imgfmt_image *img, uint64_t off, uint64_t max, uint64_t *len)
{
    struct vhd *s = img->priv;
    if (s->type == VHD_TYPE_FIXED)
        return fixed_status(img, off, max, len);
    uint64_t n;
    int st = block_run(img, s, off, max, &n);
    if (st < 0)
        return st;
    uint64_t total = n;
    while (total < max) {
        int st2 = block_run(img, s, off + total, max - total, &n);
        if (st2 < 0)
            return st2;
        if (st2 != st)
            break;
        total += n;
    }
    *len = total;
    return st;
}

static int read_file(imgfmt_image *img, void *buf, size_t len, uint64_t foff)
{
    return ifmt_pread_zero_fill(img, img->io, buf, len, foff);
}

static int vhd_read_data(imgfmt_image *img, void *buf, size_t len, uint64_t off)
{
    struct vhd *s = img->priv;
    if (s->type == VHD_TYPE_FIXED)
        return read_file(img, buf, len, off);
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t blk = off / s->block_size, in = off % s->block_size;
        size_t n = (size_t)ifmt_min(len, s->block_size - in);
        if (blk >= s->nbat || s->bat[blk] == VHD_BAT_UNUSED) {
            memset(p, 0, n);   /* not reached: the core asks for DATA only */
        } else {
            uint64_t foff = (uint64_t)s->bat[blk] * 512 + s->bitmap_size + in;
            int r = read_file(img, p, n, foff);
            if (r < 0)
                return r;
        }
        p += n;
        off += n;
        len -= n;
    }
    return IMGFMT_OK;
}

/* ---- info ---------------------------------------------------------------- */

static void vhd_info(imgfmt_image *img, imgfmt_info *out)
{
    struct vhd *s = img->priv;
    imgfmt_vhd_info *v = &out->vhd;
    out->subformat = vhd_type_str(s->type);
    out->cluster_size = s->type == VHD_TYPE_FIXED ? 0 : s->block_size;
    memcpy(v->app_raw, s->f.creator_app, 4);
    memcpy(v->creator_app, s->f.creator_app, 4);
    v->creator_app[4] = '\0';
    memcpy(v->creator_os, s->f.creator_os, 4);
    v->creator_os[4] = '\0';
    v->disk_type = (enum imgfmt_vhd_disk_type)s->f.disk_type;
    v->cylinders = s->f.cylinders;
    v->heads = s->f.heads;
    v->sectors_per_track = s->f.spt;
    v->current_size = s->f.current_size;
    v->original_size = s->f.original_size;
    v->chs_size = (uint64_t)s->f.cylinders * s->f.heads * s->f.spt * 512;
    v->rule = s->rule;
    v->size_legacy = s->size_legacy;
    v->size_qemu10 = s->size_qemu10;
    v->block_size = s->type == VHD_TYPE_FIXED ? 0 : s->block_size;
    v->max_table_entries = s->type == VHD_TYPE_FIXED ? 0 : s->h.max_table_entries;
    v->qemu_probe_raw_size = s->probe_raw_size;
    memcpy(v->uuid, s->uuid, sizeof v->uuid);
    if (s->type == VHD_TYPE_DIFFERENCING) {
        v->parent_name = img->backing_path ? img->backing_path : img->backing_name;
        memcpy(v->parent_uuid, s->parent_uuid, sizeof v->parent_uuid);
    }
}

_Static_assert(VHD_TYPE_FIXED == IMGFMT_VHD_FIXED && VHD_TYPE_DYNAMIC == IMGFMT_VHD_DYNAMIC &&
               VHD_TYPE_DIFFERENCING == IMGFMT_VHD_DIFFERENCING,
               "the public VHD disk types are the footer's values");

const struct ifmt_driver ifmt_vhd_driver = {
    .name = "vpc",
    .alias = "vhd",
    .format = IMGFMT_FMT_VHD,
    .probe = vhd_probe,
    .open = vhd_open,
    .block_status = vhd_block_status,
    .read_data = vhd_read_data,
    .info = vhd_info,
    .close = vhd_close,
};
