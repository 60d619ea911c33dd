/*
 * fsprobe.c -- file-system and volume signatures at an offset of the
 * virtual disk: ext2/3/4, XFS, btrfs, NTFS, FAT12/16/32, exFAT, swap,
 * LVM2 PV, LUKS1/2, ISO9660, Linux RAID.
 *
 * Each probe looks at the magic and at the few header fields that make a
 * false positive unlikely (a FAT boot sector has a plausible BPB; an MBR
 * does not).  Order matters: containers that sit in front of a file system
 * (LUKS, LVM, md 1.1/1.2) come first, and FAT, whose signature is weakest,
 * comes after NTFS and exFAT, which share its 0x55AA trailer.
 */
#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/image.h"
#include "core/bdev.h"
#include "disk/fsprobe.h"

const char *imgfmt_fs_type_name(enum imgfmt_fs_type t)
{
    switch (t) {
    case IMGFMT_FS_NONE: return "";
    case IMGFMT_FS_EXT2: return "ext2";
    case IMGFMT_FS_EXT3: return "ext3";
    case IMGFMT_FS_EXT4: return "ext4";
    case IMGFMT_FS_XFS: return "xfs";
    case IMGFMT_FS_BTRFS: return "btrfs";
    case IMGFMT_FS_NTFS: return "ntfs";
    case IMGFMT_FS_FAT12: return "fat12";
    case IMGFMT_FS_FAT16: return "fat16";
    case IMGFMT_FS_FAT32: return "fat32";
    case IMGFMT_FS_EXFAT: return "exfat";
    case IMGFMT_FS_SWAP: return "swap";
    case IMGFMT_FS_LVM2_PV: return "LVM2_member";
    case IMGFMT_FS_LUKS: return "crypto_LUKS";
    case IMGFMT_FS_ISO9660: return "iso9660";
    case IMGFMT_FS_LINUX_RAID: return "linux_raid_member";
    case IMGFMT_FS_BITLOCKER: return "BitLocker";
    }
    return "";
}

int imgfmt_fs_is_linux_root(enum imgfmt_fs_type t)
{
    return t == IMGFMT_FS_EXT2 || t == IMGFMT_FS_EXT3 || t == IMGFMT_FS_EXT4 ||
           t == IMGFMT_FS_XFS || t == IMGFMT_FS_BTRFS;
}

/* The region being probed: of an image, or a byte device (an LV). */
struct region {
    imgfmt_image *img;
    uint64_t off, len;
    const struct ifmt_bdev *dev;    /* when not NULL, read through it */
    imgfmt_error *err;              /* device read errors */
};

/* Read n bytes at rel into buf.  1 read, 0 outside the region, <0 error. */
static int rd(struct region *r, void *buf, size_t n, uint64_t rel)
{
    if (rel > r->len || n > r->len - rel)
        return 0;
    int e = r->dev ? ifmt_bdev_read(r->dev, buf, n, rel, "signature probe", r->err)
                   : imgfmt_pread(r->img, buf, n, r->off + rel);
    return e < 0 ? e : 1;
}

/* Copy a fixed-size on-disk string: stop at NUL, trim trailing spaces,
 * replace control bytes, truncate to the destination. */
static void copy_label(char *dst, size_t dlen, const uint8_t *src, size_t slen)
{
    size_t n = 0;
    for (size_t i = 0; i < slen && src[i]; i++) {
        if (n + 1 >= dlen)
            break;
        dst[n++] = (src[i] < 0x20 || src[i] == 0x7f) ? '?' : (char)src[i];
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

void ifmt_format_uuid(char out[37], const uint8_t u[16])
{
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
             u[11], u[12], u[13], u[14], u[15]);
}

static void set(imgfmt_fs *out, enum imgfmt_fs_type t, uint32_t version)
{
    out->type = t;
    out->name = imgfmt_fs_type_name(t);
    out->version = version;
}

/* ---- containers ------------------------------------------------------ */

static int probe_luks(struct region *r, imgfmt_fs *out)
{
    uint8_t b[512];
    int e = rd(r, b, sizeof b, 0);
    if (e <= 0)
        return e;
    if (memcmp(b, "LUKS\xba\xbe", 6) != 0)
        return 0;
    uint16_t ver = ifmt_be16(b + 6);
    if (ver != 1 && ver != 2)
        return 0;
    set(out, IMGFMT_FS_LUKS, ver);
    copy_label(out->uuid, sizeof out->uuid, b + 168, 40);
    if (ver == 2)
        copy_label(out->label, sizeof out->label, b + 24, 48);
    return 1;
}

static int probe_lvm(struct region *r, imgfmt_fs *out)
{
    /* The label is in one of the first four 512-byte sectors. */
    uint8_t b[2048];
    int e = rd(r, b, sizeof b, 0);
    if (e <= 0)
        return e;
    for (int s = 0; s < 4; s++) {
        const uint8_t *l = b + 512 * s;
        if (memcmp(l, "LABELONE", 8) != 0 || memcmp(l + 24, "LVM2 001", 8) != 0)
            continue;
        /* label_header: id[8] sector(8) crc(4) offset(4) type[8]; the
         * pv_header (uuid[32] first) lies offset bytes into the sector. */
        if (ifmt_le64(l + 8) != (uint64_t)s)
            continue;
        uint32_t off = ifmt_le32(l + 20);
        if (off < 32 || off > 512 - 32)
            continue;
        set(out, IMGFMT_FS_LVM2_PV, 2);
        const uint8_t *u = l + off;
        char *o = out->uuid;
        /* LVM prints its 32-character id as 6-4-4-4-4-4-6. */
        static const int groups[] = {6, 4, 4, 4, 4, 4, 6};
        int k = 0;
        for (int g = 0; g < 7; g++) {
            if (g)
                *o++ = '-';
            for (int i = 0; i < groups[g]; i++, k++)
                *o++ = (u[k] >= 0x21 && u[k] < 0x7f) ? (char)u[k] : '?';
        }
        *o = '\0';
        return 1;
    }
    return 0;
}

/* md superblock 1.x at rel; 0.90 is handled by probe_raid_end. */
static int probe_md1_at(struct region *r, uint64_t rel, imgfmt_fs *out)
{
    uint8_t b[256];
    int e = rd(r, b, sizeof b, rel);
    if (e <= 0)
        return e;
    if (ifmt_le32(b) != 0xa92b4efcu || ifmt_le32(b + 4) != 1)
        return 0;
    /* super_offset (at 136) must name where we found it, in sectors. */
    if (ifmt_le64(b + 136) != rel / 512)
        return 0;
    set(out, IMGFMT_FS_LINUX_RAID, 1);
    ifmt_format_uuid(out->uuid, b + 16);
    copy_label(out->label, sizeof out->label, b + 32, 32);
    return 1;
}

static int probe_raid_end(struct region *r, imgfmt_fs *out)
{
    int e;
    if (r->len >= 3 * 65536) {
        /* 0.90: 64 KiB-aligned, the last 64 KiB block; magic in host order
         * (little endian on every machine that matters). */
        uint64_t rel = (r->len & ~(uint64_t)65535) - 65536;
        uint8_t b[64];
        e = rd(r, b, sizeof b, rel);
        if (e < 0)
            return e;
        if (e && ifmt_le32(b) == 0xa92b4efcu && ifmt_le32(b + 4) == 0) {
            set(out, IMGFMT_FS_LINUX_RAID, 0);
            uint8_t u[16];
            memcpy(u, b + 20, 4);       /* set_uuid0 */
            memcpy(u + 4, b + 52, 12);  /* set_uuid1..3 */
            ifmt_format_uuid(out->uuid, u);
            return 1;
        }
    }
    if (r->len >= 16 * 512 + 4096) {
        /* 1.0: 8 KiB before the end, 4 KiB aligned. */
        uint64_t rel = ((r->len / 512 - 16) & ~(uint64_t)7) * 512;
        return probe_md1_at(r, rel, out);
    }
    return 0;
}

/* ---- file systems ---------------------------------------------------- */

static int probe_ext(struct region *r, imgfmt_fs *out)
{
    uint8_t sb[256];
    int e = rd(r, sb, sizeof sb, 1024);
    if (e <= 0)
        return e;
    if (ifmt_le16(sb + 56) != 0xEF53)
        return 0;
    uint32_t log_bs = ifmt_le32(sb + 24);
    if (log_bs > 6)     /* block size 1 KiB .. 64 KiB */
        return 0;
    uint32_t compat = ifmt_le32(sb + 0x5C), incompat = ifmt_le32(sb + 0x60),
             ro_compat = ifmt_le32(sb + 0x64);
    if (incompat & 0x8)  /* an external journal device, not a file system */
        return 0;
    /* Features beyond ext3's (filetype, recover, meta_bg; sparse_super,
     * large_file, btree_dir) make it ext4: extents, 64bit, flex_bg,
     * huge_file, gdt_csum, dir_nlink, extra_isize, metadata_csum... */
    enum imgfmt_fs_type t;
    if ((incompat & ~(uint32_t)(0x2 | 0x4 | 0x10)) || (ro_compat & ~(uint32_t)0x7))
        t = IMGFMT_FS_EXT4;
    else if (compat & 0x4)   /* has_journal */
        t = IMGFMT_FS_EXT3;
    else
        t = IMGFMT_FS_EXT2;
    set(out, t, 0);
    ifmt_format_uuid(out->uuid, sb + 0x68);
    copy_label(out->label, sizeof out->label, sb + 0x78, 16);
    return 1;
}

static int probe_xfs(struct region *r, imgfmt_fs *out)
{
    uint8_t sb[120];
    int e = rd(r, sb, sizeof sb, 0);
    if (e <= 0)
        return e;
    if (memcmp(sb, "XFSB", 4) != 0)
        return 0;
    uint32_t bs = ifmt_be32(sb + 4);
    uint16_t sect = ifmt_be16(sb + 102);
    if (bs < 512 || bs > 65536 || !ifmt_is_pow2(bs) || sect < 512 || !ifmt_is_pow2(sect))
        return 0;
    uint32_t ver = ifmt_be16(sb + 100) & 0xf;
    if (ver < 1 || ver > 5)
        return 0;
    set(out, IMGFMT_FS_XFS, ver == 5 ? 5 : 4);
    ifmt_format_uuid(out->uuid, sb + 32);
    copy_label(out->label, sizeof out->label, sb + 108, 12);
    return 1;
}

static int probe_btrfs(struct region *r, imgfmt_fs *out)
{
    uint8_t sb[0x22b];
    int e = rd(r, sb, sizeof sb, 65536);
    if (e <= 0)
        return e;
    if (memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)
        return 0;
    set(out, IMGFMT_FS_BTRFS, 0);
    ifmt_format_uuid(out->uuid, sb + 0x20);
    copy_label(out->label, sizeof out->label, sb + 0x12b, 256);
    return 1;
}

static int probe_iso(struct region *r, imgfmt_fs *out)
{
    uint8_t vd[72];
    int e = rd(r, vd, sizeof vd, 32768);
    if (e <= 0)
        return e;
    if (vd[0] != 1 || memcmp(vd + 1, "CD001", 5) != 0)
        return 0;
    set(out, IMGFMT_FS_ISO9660, 0);
    copy_label(out->label, sizeof out->label, vd + 40, 32);
    return 1;
}

static int probe_swap(struct region *r, imgfmt_fs *out)
{
    static const uint32_t pages[] = {4096, 8192, 16384, 65536};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        uint8_t m[10];
        int e = rd(r, m, sizeof m, pages[i] - 10);
        if (e <= 0)
            return e;
        int v2 = memcmp(m, "SWAPSPACE2", 10) == 0;
        if (!v2 && memcmp(m, "SWAP-SPACE", 10) != 0)
            continue;
        set(out, IMGFMT_FS_SWAP, v2 ? 1 : 0);
        if (v2) {
            uint8_t h[44];  /* version, last_page, nr_badpages, uuid, label */
            e = rd(r, h, sizeof h, 1024);
            if (e < 0)
                return e;
            if (e) {
                ifmt_format_uuid(out->uuid, h + 12);
                copy_label(out->label, sizeof out->label, h + 28, 16);
            }
        }
        return 1;
    }
    return 0;
}

/* Boot-sector file systems: NTFS, exFAT, FAT.  Exposed for the MBR parser,
 * which must not mistake a bare FAT/NTFS volume for a partition table. */
int ifmt_probe_boot_sector(const uint8_t *b, imgfmt_fs *out)
{
    memset(out, 0, sizeof *out);
    out->name = "";
    if (memcmp(b + 3, "NTFS    ", 8) == 0) {
        uint16_t bps = ifmt_le16(b + 11);
        if (bps < 256 || bps > 4096 || !ifmt_is_pow2(bps))
            return 0;
        set(out, IMGFMT_FS_NTFS, 0);
        snprintf(out->uuid, sizeof out->uuid, "%016llX",
                 (unsigned long long)ifmt_le64(b + 0x48));
        return 1;
    }
    if (memcmp(b + 3, "-FVE-FS-", 8) == 0) {   /* BitLocker: NTFS's place, encrypted */
        set(out, IMGFMT_FS_BITLOCKER, 0);
        return 1;
    }
    if (memcmp(b + 3, "EXFAT   ", 8) == 0) {
        set(out, IMGFMT_FS_EXFAT, 0);
        uint32_t s = ifmt_le32(b + 100);
        snprintf(out->uuid, sizeof out->uuid, "%04X-%04X", s >> 16, s & 0xffff);
        return 1;
    }
    if (b[510] != 0x55 || b[511] != 0xAA)
        return 0;
    /* FAT: a jump, then a BPB with powers of two where they belong. */
    if (b[0] != 0xEB && b[0] != 0xE9)
        return 0;
    uint16_t bps = ifmt_le16(b + 11);
    uint8_t spc = b[13], nfats = b[16], media = b[21];
    uint16_t reserved = ifmt_le16(b + 14), root_ent = ifmt_le16(b + 17);
    if (bps < 512 || bps > 4096 || !ifmt_is_pow2(bps) || !ifmt_is_pow2(spc) ||
        reserved == 0 || nfats < 1 || nfats > 4 || (media < 0xF8 && media != 0xF0))
        return 0;
    uint32_t total = ifmt_le16(b + 19);
    if (!total)
        total = ifmt_le32(b + 32);
    uint32_t fatsz = ifmt_le16(b + 22);
    int fat32 = fatsz == 0;
    if (fat32)
        fatsz = ifmt_le32(b + 36);
    if (!total || !fatsz)
        return 0;
    uint64_t root_secs = ((uint64_t)root_ent * 32 + bps - 1) / bps;
    uint64_t meta = reserved + (uint64_t)nfats * fatsz + root_secs;
    if (meta >= total)
        return 0;
    uint64_t clusters = (total - meta) / spc;
    enum imgfmt_fs_type t;
    if (fat32 && root_ent == 0)
        t = IMGFMT_FS_FAT32;
    else if (fat32)
        return 0;
    else
        t = clusters < 4085 ? IMGFMT_FS_FAT12 : IMGFMT_FS_FAT16;
    set(out, t, 0);
    const uint8_t *ext = b + (t == IMGFMT_FS_FAT32 ? 64 : 36);  /* drive number */
    if (ext[2] == 0x29) {   /* extended boot signature: serial and label */
        uint32_t s = ifmt_le32(ext + 3);
        snprintf(out->uuid, sizeof out->uuid, "%04X-%04X", s >> 16, s & 0xffff);
        copy_label(out->label, sizeof out->label, ext + 7, 11);
        if (strcmp(out->label, "NO NAME") == 0)
            out->label[0] = '\0';
    }
    return 1;
}

static int probe_boot(struct region *r, imgfmt_fs *out)
{
    uint8_t b[512];
    int e = rd(r, b, sizeof b, 0);
    if (e <= 0)
        return e;
    imgfmt_fs tmp;
    if (!ifmt_probe_boot_sector(b, &tmp))
        return 0;
    *out = tmp;
    return 1;
}

static int probe_region(struct region *r, imgfmt_fs *out);

int imgfmt_probe_fs(imgfmt_image *img, uint64_t offset, uint64_t length, imgfmt_fs *out)
{
    if (!img || !out)
        return img ? ifmt_error(img, IMGFMT_E_INVAL, "imgfmt_probe_fs: NULL argument")
                   : IMGFMT_E_INVAL;
    memset(out, 0, sizeof *out);
    out->name = "";
    uint64_t size = imgfmt_virtual_size(img);
    if (offset > size)
        return ifmt_error(img, IMGFMT_E_RANGE,
                          "probe: offset %llu beyond the virtual size %llu",
                          (unsigned long long)offset, (unsigned long long)size);
    if (length == 0 || length > size - offset)
        length = size - offset;
    struct region r = {img, offset, length, NULL, NULL};
    return probe_region(&r, out);
}

int ifmt_probe_fs_bdev(const struct ifmt_bdev *dev, imgfmt_fs *out, imgfmt_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = "";
    struct region r = {NULL, 0, dev->size, dev, err};
    return probe_region(&r, out);
}

static int probe_region(struct region *r, imgfmt_fs *out)
{
    int (*const probes[])(struct region *, imgfmt_fs *) = {
        probe_luks, probe_lvm, probe_xfs, probe_btrfs, probe_ext,
        probe_iso, probe_boot, probe_swap, probe_raid_end,
    };
    /* md 1.1 (offset 0) and 1.2 (4 KiB) sit in front of the member's data,
     * which may itself carry a file-system signature: check them first. */
    int e = probe_md1_at(r, 0, out);
    if (e == 0)
        e = probe_md1_at(r, 4096, out);
    for (size_t i = 0; e == 0 && i < sizeof probes / sizeof probes[0]; i++)
        e = probes[i](r, out);
    if (e < 0) {
        memset(out, 0, sizeof *out);
        out->name = "";
        return e;
    }
    return IMGFMT_OK;
}
