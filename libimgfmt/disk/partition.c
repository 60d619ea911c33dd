/*
 * partition.c -- MBR (primaries, extended/logical EBR chains, protective
 * and hybrid MBRs) and GPT (primary and backup headers, CRC32s, 512 and
 * 4096-byte logical blocks) read through imgfmt_pread on any image.
 *
 * Everything a table says is checked before use: EBRs must stay inside
 * their extended partition and the disk and may not repeat (a loop), the
 * chain length is capped; GPT entry counts and sizes are capped before any
 * allocation (and charged to the image's metadata budget), and every
 * partition must lie inside the disk (MBR) or the usable area (GPT).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/bytes.h"
#include "disk/fsprobe.h"
#include "core/image.h"

#define MBR_SIG_OFF     510
#define MBR_TABLE_OFF   446
#define MBR_GPT         0xEE

struct pt {
    imgfmt_image *img;
    imgfmt_partition_table *t;
    uint32_t cap;           /* allocated parts */
    uint64_t charged;       /* bytes charged to img */
    uint64_t disk;          /* virtual size */
};

static imgfmt_partition *pt_add(struct pt *p)
{
    imgfmt_partition_table *t = p->t;
    if (t->nb_partitions == p->cap) {
        uint32_t ncap = p->cap ? p->cap * 2 : 8;
        uint64_t more = (uint64_t)(ncap - p->cap) * sizeof(imgfmt_partition);
        if (ifmt_charge(p->img, more, "partition list") < 0)
            return NULL;
        p->charged += more;
        imgfmt_partition *n = realloc(t->parts, (size_t)ncap * sizeof *n);
        if (!n) {
            ifmt_error(p->img, IMGFMT_E_NOMEM, "partitions: out of memory");
            return NULL;
        }
        t->parts = n;
        p->cap = ncap;
    }
    imgfmt_partition *e = &t->parts[t->nb_partitions++];
    memset(e, 0, sizeof *e);
    e->type_name = "";
    e->fs.name = "";
    return e;
}

/* ---- names ------------------------------------------------------------ */

static const char *mbr_type_name(uint8_t t)
{
    switch (t) {
    case 0x01: return "FAT12";
    case 0x04: case 0x06: case 0x0e: return "FAT16";
    case 0x05: return "Extended";
    case 0x07: return "HPFS/NTFS/exFAT";
    case 0x0b: case 0x0c: return "W95 FAT32";
    case 0x0f: return "W95 Ext'd (LBA)";
    case 0x27: return "Hidden NTFS WinRE";
    case 0x42: return "SFS (Windows dynamic disk, LDM)";
    case 0x82: return "Linux swap";
    case 0x83: return "Linux";
    case 0x85: return "Linux extended";
    case 0x8e: return "Linux LVM";
    case 0xa5: return "FreeBSD";
    case 0xee: return "GPT";
    case 0xef: return "EFI (FAT-12/16/32)";
    case 0xfd: return "Linux raid autodetect";
    }
    return "";
}

static const struct { const char *guid, *name; } gpt_types[] = {
    {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System"},
    {"21686148-6449-6E6F-744E-656564454649", "BIOS boot"},
    {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"},
    {"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"},
    {"44479540-F297-41B2-9AF7-D131D5F0458A", "Linux root (x86)"},
    {"B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "Linux root (ARM-64)"},
    {"BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot"},
    {"933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home"},
    {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"},
    {"E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"},
    {"A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID"},
    {"CA7D7CCB-63ED-4C53-861C-1742536059CC", "Linux LUKS"},
    {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"},
    {"E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved"},
    {"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "Windows recovery environment"},
    {"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", "Microsoft LDM metadata"},
    {"AF9B60A0-1431-4F62-BC68-3311714A69AD", "Microsoft LDM data"},
};

static const char *gpt_type_name(const char *guid)
{
    for (size_t i = 0; i < sizeof gpt_types / sizeof gpt_types[0]; i++)
        if (strcmp(gpt_types[i].guid, guid) == 0)
            return gpt_types[i].name;
    return "";
}

/* GPT GUIDs: the first three fields little endian, the rest as stored. */
static void gpt_guid(char out[37], const uint8_t *g)
{
    snprintf(out, 37, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             ifmt_le32(g), ifmt_le16(g + 4), ifmt_le16(g + 6), g[8], g[9],
             g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* 36 UTF-16LE code units to UTF-8 (unpaired surrogates become '?'). */
static void gpt_name(char *out, size_t outlen, const uint8_t *in)
{
    size_t n = 0;
    for (int i = 0; i < 36; i++) {
        uint32_t c = ifmt_le16(in + 2 * i);
        if (c == 0)
            break;
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < 36) {
            uint32_t lo = ifmt_le16(in + 2 * i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            } else {
                c = '?';
            }
        } else if (c >= 0xD800 && c < 0xE000) {
            c = '?';
        }
        if (c < 0x20)
            c = '?';
        uint8_t u[4];
        size_t k;
        if (c < 0x80) { u[0] = (uint8_t)c; k = 1; }
        else if (c < 0x800) { u[0] = 0xC0 | (c >> 6); u[1] = 0x80 | (c & 0x3F); k = 2; }
        else if (c < 0x10000) {
            u[0] = 0xE0 | (c >> 12); u[1] = 0x80 | ((c >> 6) & 0x3F);
            u[2] = 0x80 | (c & 0x3F); k = 3;
        } else {
            u[0] = 0xF0 | (c >> 18); u[1] = 0x80 | ((c >> 12) & 0x3F);
            u[2] = 0x80 | ((c >> 6) & 0x3F); u[3] = 0x80 | (c & 0x3F); k = 4;
        }
        if (n + k >= outlen)
            break;
        memcpy(out + n, u, k);
        n += k;
    }
    out[n] = '\0';
}

/* ---- MBR -------------------------------------------------------------- */

static int is_extended(uint8_t t) { return t == 0x05 || t == 0x0f || t == 0x85; }

static int read_sector(struct pt *p, uint8_t *buf, uint32_t ss, uint64_t lba)
{
    return imgfmt_pread(p->img, buf, ss, lba * ss);
}

/* Walk the EBR chain of the extended partition [ext, ext+ext_len) sectors. */
static int mbr_logicals(struct pt *p, uint64_t ext, uint64_t ext_len, uint32_t *next_no)
{
    uint64_t visited[IMGFMT_MAX_LOGICAL_PARTITIONS + 1];
    uint32_t nvisited = 0;
    uint64_t disk_secs = p->disk / 512, ext_end = ext + ext_len;
    uint64_t cur = ext;
    uint8_t s[512];
    for (;;) {
        if (cur < ext || cur >= ext_end || cur >= disk_secs)
            return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                              "mbr: EBR at sector %llu outside the extended partition "
                              "(sectors %llu..%llu) or the disk",
                              (unsigned long long)cur, (unsigned long long)ext,
                              (unsigned long long)(ext_end - 1));
        for (uint32_t i = 0; i < nvisited; i++)
            if (visited[i] == cur)
                return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                                  "mbr: EBR chain loops back to sector %llu",
                                  (unsigned long long)cur);
        if (nvisited == IMGFMT_MAX_LOGICAL_PARTITIONS)
            return ifmt_error(p->img, IMGFMT_E_LIMIT,
                              "mbr: more than %u EBRs in the extended partition",
                              IMGFMT_MAX_LOGICAL_PARTITIONS);
        visited[nvisited++] = cur;
        int e = read_sector(p, s, 512, cur);
        if (e < 0)
            return e;
        if (s[MBR_SIG_OFF] != 0x55 || s[MBR_SIG_OFF + 1] != 0xAA) {
            if (cur == ext) {   /* an empty extended partition */
                ifmt_warn(p->img, IMGFMT_W_MBR_EMPTY_EXTENDED,
                          "mbr: extended partition at sector %llu holds no EBR",
                          (unsigned long long)ext);
                return 0;
            }
            return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                              "mbr: EBR at sector %llu lacks the 0x55AA signature",
                              (unsigned long long)cur);
        }
        const uint8_t *l = s + MBR_TABLE_OFF, *n = s + MBR_TABLE_OFF + 16;
        uint64_t lstart = ifmt_le32(l + 8), lcount = ifmt_le32(l + 12);
        if (l[4] != 0 && lcount != 0) {
            uint64_t a = cur + lstart;
            if (lstart == 0 || a + lcount > ext_end || a + lcount > disk_secs)
                return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                                  "mbr: logical partition %u (sectors %llu..%llu) outside "
                                  "the extended partition (sectors %llu..%llu) or the disk",
                                  *next_no, (unsigned long long)a,
                                  (unsigned long long)(a + lcount - 1),
                                  (unsigned long long)ext, (unsigned long long)(ext_end - 1));
            imgfmt_partition *q = pt_add(p);
            if (!q)
                return p->img->err.code;
            q->number = (*next_no)++;
            q->start = a * 512;
            q->length = lcount * 512;
            q->mbr_type = l[4];
            q->bootable = l[0] == 0x80;
            q->logical = 1;
            q->type_name = mbr_type_name(l[4]);
        }
        if (n[4] == 0 || ifmt_le32(n + 12) == 0)
            return 0;
        cur = ext + ifmt_le32(n + 8);
    }
}

static int parse_mbr(struct pt *p, const uint8_t *s)
{
    imgfmt_partition_table *t = p->t;
    uint64_t disk_secs = p->disk / 512;
    t->type = IMGFMT_TABLE_MBR;
    t->sector_size = 512;
    uint32_t next_no = 5;
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = s + MBR_TABLE_OFF + 16 * i;
        uint64_t start = ifmt_le32(e + 8), count = ifmt_le32(e + 12);
        if (e[4] == 0 || count == 0)
            continue;
        if (start == 0 || start + count > disk_secs)
            return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                              "mbr: partition %d (sectors %llu..%llu) %s (disk: %llu sectors)",
                              i + 1, (unsigned long long)start,
                              (unsigned long long)(start + count - 1),
                              start == 0 ? "overlaps the MBR" : "extends past the end of the disk",
                              (unsigned long long)disk_secs);
        imgfmt_partition *q = pt_add(p);
        if (!q)
            return p->img->err.code;
        q->number = (uint32_t)i + 1;
        q->start = start * 512;
        q->length = count * 512;
        q->mbr_type = e[4];
        q->bootable = e[0] == 0x80;
        q->type_name = mbr_type_name(e[4]);
        if (is_extended(e[4])) {
            q->extended = 1;
            int r = mbr_logicals(p, start, count, &next_no);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- GPT -------------------------------------------------------------- */

struct gpt_hdr {
    uint64_t my_lba, alt_lba, first_usable, last_usable, entries_lba;
    uint32_t nentries, entry_size, entries_crc;
    uint8_t disk_guid[16];
    uint8_t *entries;       /* nentries * entry_size bytes (charged) */
    uint64_t entries_bytes;
};

static void gpt_hdr_free(struct pt *p, struct gpt_hdr *h)
{
    if (h->entries) {
        free(h->entries);
        ifmt_uncharge(p->img, h->entries_bytes);
        h->entries = NULL;
    }
}

/* Load and check the header at lba (sector size ss) and its entry array.
 * which names it in messages ("primary", "backup"). */
/* The header at lba: signature, size, CRC32, fields. */
static int gpt_read_header(struct pt *p, uint32_t ss, uint64_t lba, const char *which,
                           struct gpt_hdr *h)
{
    uint64_t disk_secs = p->disk / ss;
    if (lba < 1 || lba >= disk_secs)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s header LBA %llu outside the disk (%llu sectors of %u bytes)",
                          which, (unsigned long long)lba, (unsigned long long)disk_secs, ss);
    uint8_t b[4096];
    int e = read_sector(p, b, ss, lba);
    if (e < 0)
        return e;
    if (memcmp(b, "EFI PART", 8) != 0)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: no %s header signature at LBA %llu", which,
                          (unsigned long long)lba);
    uint32_t hsize = ifmt_le32(b + 12);
    if (hsize < 92 || hsize > ss)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT, "gpt: %s header size %u invalid",
                          which, hsize);
    uint32_t crc = ifmt_le32(b + 16);
    ifmt_put_le32(b + 16, 0);
    uint32_t calc = (uint32_t)crc32(0L, b, hsize);
    if (crc != calc)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s header CRC32 0x%08x, computed 0x%08x", which, crc, calc);
    h->my_lba = ifmt_le64(b + 24);
    h->alt_lba = ifmt_le64(b + 32);
    h->first_usable = ifmt_le64(b + 40);
    h->last_usable = ifmt_le64(b + 48);
    memcpy(h->disk_guid, b + 56, 16);
    h->entries_lba = ifmt_le64(b + 72);
    h->nentries = ifmt_le32(b + 80);
    h->entry_size = ifmt_le32(b + 84);
    h->entries_crc = ifmt_le32(b + 88);
    return 0;
}

/* The header's own numbers: where it says it is, the usable area, and an
 * entry array inside the caps, the disk, off the header and the usable area. */
static int gpt_check_header(struct pt *p, uint32_t ss, uint64_t lba, const char *which,
                            struct gpt_hdr *h)
{
    uint64_t disk_secs = p->disk / ss;
    if (h->my_lba != lba)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s header at LBA %llu says it is at LBA %llu", which,
                          (unsigned long long)lba, (unsigned long long)h->my_lba);
    if (h->first_usable > h->last_usable || h->last_usable >= disk_secs || h->first_usable < 2)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s header usable area LBA %llu..%llu invalid or past the "
                          "end of the disk (%llu sectors)", which,
                          (unsigned long long)h->first_usable,
                          (unsigned long long)h->last_usable, (unsigned long long)disk_secs);
    if (h->entry_size < 128 || h->entry_size > 4096 || !ifmt_is_pow2(h->entry_size))
        return ifmt_error(p->img, IMGFMT_E_CORRUPT, "gpt: %s header entry size %u invalid",
                          which, h->entry_size);
    if (h->nentries > IMGFMT_MAX_GPT_ENTRIES)
        return ifmt_error(p->img, IMGFMT_E_LIMIT,
                          "gpt: %s header declares %u partition entries (cap %u)", which,
                          h->nentries, IMGFMT_MAX_GPT_ENTRIES);
    h->entries_bytes = (uint64_t)h->nentries * h->entry_size;
    if (h->entries_bytes > IMGFMT_MAX_GPT_ARRAY_BYTES)
        return ifmt_error(p->img, IMGFMT_E_LIMIT,
                          "gpt: %s entry array of %llu bytes (cap %u)", which,
                          (unsigned long long)h->entries_bytes, IMGFMT_MAX_GPT_ARRAY_BYTES);
    uint64_t esecs = (h->entries_bytes + ss - 1) / ss;
    /* The array lies inside the disk, off the header, outside the usable area. */
    if (h->entries_lba < 2 || h->entries_lba >= disk_secs || esecs > disk_secs - h->entries_lba ||
        (h->entries_lba <= lba && lba < h->entries_lba + esecs) ||
        (h->entries_lba <= h->last_usable && h->entries_lba + esecs > h->first_usable))
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s entry array at LBA %llu (%llu sectors) outside the disk "
                          "or overlapping the header or the usable area", which,
                          (unsigned long long)h->entries_lba, (unsigned long long)esecs);
    return 0;
}

/* The entry array, read and CRC-checked (freed on failure). */
static int gpt_read_entries(struct pt *p, uint32_t ss, const char *which, struct gpt_hdr *h)
{
    int e;
    if (h->entries_bytes) {
        e = ifmt_charge(p->img, h->entries_bytes, "gpt entry array");
        if (e < 0)
            return e;
        h->entries = malloc(h->entries_bytes);
        if (!h->entries) {
            ifmt_uncharge(p->img, h->entries_bytes);
            return ifmt_error(p->img, IMGFMT_E_NOMEM, "gpt: out of memory");
        }
        e = imgfmt_pread(p->img, h->entries, h->entries_bytes, h->entries_lba * ss);
        if (e < 0) {
            gpt_hdr_free(p, h);
            return e;
        }
    }
    uint32_t calc = (uint32_t)crc32(0L, h->entries, (uInt)h->entries_bytes);
    if (calc != h->entries_crc) {
        gpt_hdr_free(p, h);
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: %s entry array CRC32 0x%08x, computed 0x%08x", which,
                          h->entries_crc, calc);
    }
    return 0;
}

static int gpt_load(struct pt *p, uint32_t ss, uint64_t lba, const char *which,
                    struct gpt_hdr *h)
{
    memset(h, 0, sizeof *h);
    int e = gpt_read_header(p, ss, lba, which, h);
    if (e == 0)
        e = gpt_check_header(p, ss, lba, which, h);
    if (e == 0)
        e = gpt_read_entries(p, ss, which, h);
    return e;
}

static int has_gpt_sig(struct pt *p, uint32_t ss, uint64_t lba)
{
    uint8_t b[8];
    if ((lba + 1) * ss > p->disk)
        return 0;
    if (imgfmt_pread(p->img, b, 8, lba * ss) < 0)
        return -1;
    return memcmp(b, "EFI PART", 8) == 0;
}

/* Logical block size: where a header signature is, first or last LBA. */
static int gpt_sector_size(struct pt *p, uint32_t *out)
{
    uint32_t ss = 0;
    static const uint32_t sizes[] = {512, 4096};
    for (int i = 0; i < 2 && !ss; i++) {
        int a = has_gpt_sig(p, sizes[i], 1);
        if (a < 0)
            return p->img->err.code;
        int b = a ? 0 : has_gpt_sig(p, sizes[i], p->disk / sizes[i] - 1);
        if (b < 0)
            return p->img->err.code;
        if (a || b)
            ss = sizes[i];
    }
    if (!ss)
        return ifmt_error(p->img, IMGFMT_E_CORRUPT,
                          "gpt: the MBR has a GPT (0xEE) entry but no GPT header is at "
                          "LBA 1 or the last LBA (512 or 4096-byte sectors)");
    *out = ss;
    return 0;
}

/* Protective or hybrid: anything besides the 0xEE entry makes it hybrid. */
static void gpt_mbr_kind(struct pt *p, const uint8_t *mbr)
{
    imgfmt_partition_table *t = p->t;
    int others = 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = mbr + MBR_TABLE_OFF + 16 * i;
        if (e[4] == MBR_GPT) {
            if (ifmt_le32(e + 8) != 1)
                ifmt_warn(p->img, IMGFMT_W_MBR_PROTECTIVE_START,
                          "mbr: protective 0xEE entry starts at sector %u, not 1",
                          ifmt_le32(e + 8));
        } else if (e[4] != 0 && ifmt_le32(e + 12) != 0) {
            others++;
        }
    }
    t->hybrid_mbr = others > 0;
    t->protective_mbr = !others;
}

/* Both headers of the disk (last LBA last): one valid copy is enough, with a
 * warning for the other.  *prc / *brc say which loaded; *alt = backup LBA. */
static int gpt_load_both(struct pt *p, uint32_t ss, struct gpt_hdr *prim,
                         struct gpt_hdr *back, int *prc, int *brc, uint64_t *alt)
{
    uint64_t last = p->disk / ss - 1;
    char perr[256] = "";
    *prc = gpt_load(p, ss, 1, "primary", prim);
    if (*prc < 0)
        snprintf(perr, sizeof perr, "%s", p->img->err.msg);
    *alt = (*prc == 0 && prim->alt_lba > 1 && prim->alt_lba <= last) ? prim->alt_lba : last;
    if (*prc == 0 && prim->alt_lba != last)
        ifmt_warn(p->img, IMGFMT_W_GPT_BACKUP_MISPLACED,
                  "gpt: primary header puts the backup at LBA %llu, the disk's last "
                  "LBA is %llu", (unsigned long long)prim->alt_lba, (unsigned long long)last);
    *brc = gpt_load(p, ss, *alt, "backup", back);
    if (*brc < 0 && *prc < 0) {
        int code = *prc == IMGFMT_E_LIMIT || *brc == IMGFMT_E_LIMIT ? IMGFMT_E_LIMIT : *prc;
        char berr[256];
        snprintf(berr, sizeof berr, "%s", p->img->err.msg);
        return ifmt_error(p->img, code, "%s; %s", perr, berr);
    }
    if (*brc < 0)
        ifmt_warn(p->img, IMGFMT_W_GPT_BACKUP_INVALID, "%s", p->img->err.msg);
    else if (*prc < 0)
        ifmt_warn(p->img, IMGFMT_W_GPT_PRIMARY_INVALID, "%s (the backup GPT was used)", perr);
    if (*brc < 0 || *prc < 0) {
        p->img->err.code = IMGFMT_OK;
        p->img->err.msg[0] = '\0';
    }
    if (*prc == 0 && *brc == 0 &&
        (prim->nentries != back->nentries || prim->entry_size != back->entry_size ||
         prim->entries_crc != back->entries_crc))
        ifmt_warn(p->img, IMGFMT_W_GPT_COPIES_DIFFER,
                  "gpt: primary and backup entry arrays differ");
    return 0;
}

/* The used entries of h as partitions. */
static int gpt_add_partitions(struct pt *p, const struct gpt_hdr *h, uint32_t ss)
{
    int rc = 0;
    for (uint32_t i = 0; i < h->nentries && rc == 0; i++) {
        const uint8_t *e = h->entries + (size_t)i * h->entry_size;
        static const uint8_t zero[16];
        if (memcmp(e, zero, 16) == 0)
            continue;
        uint64_t a = ifmt_le64(e + 32), z = ifmt_le64(e + 40);
        if (a > z || a < h->first_usable || z > h->last_usable) {
            rc = ifmt_error(p->img, IMGFMT_E_CORRUPT,
                            "gpt: partition %u (LBA %llu..%llu) outside the usable area "
                            "(LBA %llu..%llu)", i + 1, (unsigned long long)a,
                            (unsigned long long)z, (unsigned long long)h->first_usable,
                            (unsigned long long)h->last_usable);
            break;
        }
        imgfmt_partition *q = pt_add(p);
        if (!q) {
            rc = p->img->err.code;
            break;
        }
        q->number = i + 1;
        q->start = a * ss;
        q->length = (z - a + 1) * ss;
        gpt_guid(q->type_guid, e);
        gpt_guid(q->part_guid, e + 16);
        q->attributes = ifmt_le64(e + 48);
        gpt_name(q->name, sizeof q->name, e + 56);
        q->type_name = gpt_type_name(q->type_guid);
    }
    return rc;
}

static int parse_gpt(struct pt *p, const uint8_t *mbr)
{
    imgfmt_partition_table *t = p->t;
    t->type = IMGFMT_TABLE_GPT;
    uint32_t ss = 0;
    int r = gpt_sector_size(p, &ss);
    if (r < 0)
        return r;
    t->sector_size = ss;
    gpt_mbr_kind(p, mbr);
    struct gpt_hdr prim, back;
    int prc, brc;
    uint64_t alt;
    if ((r = gpt_load_both(p, ss, &prim, &back, &prc, &brc, &alt)) < 0)
        return r;
    const struct gpt_hdr *h = prc == 0 ? &prim : &back;
    t->gpt_primary_ok = prc == 0;
    t->gpt_backup_ok = brc == 0;
    t->gpt_primary_offset = (uint64_t)ss;
    t->gpt_backup_offset = alt * ss;
    t->gpt_entries = h->nentries;
    t->gpt_entry_size = h->entry_size;
    t->first_usable = h->first_usable * ss;
    t->last_usable_end = (h->last_usable + 1) * ss;
    gpt_guid(t->disk_guid, h->disk_guid);
    r = gpt_add_partitions(p, h, ss);
    if (prc == 0)
        gpt_hdr_free(p, &prim);
    if (brc == 0)
        gpt_hdr_free(p, &back);
    return r;
}

/* ---- entry points ----------------------------------------------------- */

void imgfmt_partition_table_free(imgfmt_partition_table *t)
{
    if (!t)
        return;
    free(t->parts);
    free(t);
}

int imgfmt_partitions(imgfmt_image *img, imgfmt_partition_table **out)
{
    if (!out)
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "imgfmt_partitions: NULL argument")
                   : IMGFMT_E_INVAL;
    *out = NULL;
    if (!img)
        return IMGFMT_E_INVAL;
    struct pt p = {img, calloc(1, sizeof(imgfmt_partition_table)), 0, 0,
                   imgfmt_virtual_size(img)};
    if (!p.t)
        return ifmt_error(img, IMGFMT_E_NOMEM, "partitions: out of memory");
    imgfmt_partition_table *t = p.t;
    t->whole_disk.name = "";
    int rc = 0;
    uint8_t s[512];
    if (p.disk >= 512) {
        rc = imgfmt_pread(img, s, 512, 0);
        if (rc < 0)
            goto fail;
        imgfmt_fs bs;
        /* 0x55AA on a FAT/NTFS/exFAT boot sector is not an MBR. */
        if (s[MBR_SIG_OFF] == 0x55 && s[MBR_SIG_OFF + 1] == 0xAA &&
            !ifmt_probe_boot_sector(s, &bs)) {
            int gpt = 0;
            for (int i = 0; i < 4; i++) {
                const uint8_t *e = s + MBR_TABLE_OFF + 16 * i;
                if (e[0] != 0 && e[0] != 0x80) {
                    rc = ifmt_error(img, IMGFMT_E_CORRUPT,
                                    "mbr: partition %d boot indicator 0x%02x invalid", i + 1,
                                    e[0]);
                    goto fail;
                }
                gpt |= e[4] == MBR_GPT;
            }
            t->mbr_signature = ifmt_le32(s + 440);
            rc = gpt ? parse_gpt(&p, s) : parse_mbr(&p, s);
            if (rc < 0)
                goto fail;
        }
    }
    if (t->type == IMGFMT_TABLE_NONE) {
        rc = imgfmt_probe_fs(img, 0, 0, &t->whole_disk);
        if (rc < 0)
            goto fail;
    }
    for (uint32_t i = 0; i < t->nb_partitions; i++) {
        imgfmt_partition *q = &t->parts[i];
        if (q->extended)
            continue;
        rc = imgfmt_probe_fs(img, q->start, q->length, &q->fs);
        if (rc < 0)
            goto fail;
    }
    ifmt_uncharge(img, p.charged);
    *out = t;
    return 0;
fail:
    ifmt_uncharge(img, p.charged);
    imgfmt_partition_table_free(t);
    return rc < 0 ? rc : IMGFMT_E_CORRUPT;
}

/* ---- roles -------------------------------------------------------------- */

static const struct { const char *guid; enum imgfmt_partition_role role; } gpt_roles[] = {
    {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", IMGFMT_PART_ROLE_ESP},
    {"E6D6D379-F507-44C2-A23C-238F2A3DF928", IMGFMT_PART_ROLE_LVM_PV},
    {"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", IMGFMT_PART_ROLE_LDM},    /* metadata */
    {"AF9B60A0-1431-4F62-BC68-3311714A69AD", IMGFMT_PART_ROLE_LDM},    /* data */
};

enum imgfmt_partition_role imgfmt_partition_role(const imgfmt_partition *p)
{
    if (!p)
        return IMGFMT_PART_ROLE_OTHER;
    if (p->extended)
        return IMGFMT_PART_ROLE_EXTENDED;
    /* An LVM2 label makes a physical volume whatever the type says. */
    if (p->fs.type == IMGFMT_FS_LVM2_PV)
        return IMGFMT_PART_ROLE_LVM_PV;
    switch (p->mbr_type) {
    case 0x05: case 0x0f: case 0x85: return IMGFMT_PART_ROLE_EXTENDED;
    case 0xef: return IMGFMT_PART_ROLE_ESP;
    case 0x8e: return IMGFMT_PART_ROLE_LVM_PV;
    case 0x42: return IMGFMT_PART_ROLE_LDM;
    default: break;
    }
    for (size_t i = 0; i < sizeof gpt_roles / sizeof gpt_roles[0]; i++)
        if (strcmp(gpt_roles[i].guid, p->type_guid) == 0)
            return gpt_roles[i].role;
    return IMGFMT_PART_ROLE_OTHER;
}
