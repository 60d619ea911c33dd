/*
 * unread.c -- formats we recognise but do not read.  Read as raw they
 * would be converted into a disk full of container bytes, so the probe
 * refuses them by name (IMGFMT_E_UNSUPPORTED) with the way out.  Each
 * signature test looks at the bytes the driver probes get (plus a longer
 * head), checks as much as a driver would before bidding, and does no I/O.
 *
 * Giving one of these a reader: write formats/<fmt>.c (its probe can start
 * from the test here), add it to the driver table in drivers.c and remove
 * its line below.
 */
#define IMGFMT_BUILDING 1
#include <string.h>

#include "core/bytes.h"
#include "core/driver.h"

/* True if the head holds magic (n bytes) at off. */
static bool at(const struct ifmt_probe_bytes *b, size_t off, const void *magic, size_t n)
{
    return b->head_len >= off + n && memcmp(b->head + off, magic, n) == 0;
}

/* Hyper-V VHDX (and AVHDX, its differencing form): the file type identifier
 * "vhdxfile" opens the file. */
static bool is_vhdx(const struct ifmt_probe_bytes *b) { return at(b, 0, "vhdxfile", 8); }

/* VirtualBox VDI: after a 64-byte text banner, the signature 0xbeda107f (LE). */
static bool is_vdi(const struct ifmt_probe_bytes *b)
{
    return b->head_len >= 0x48 && ifmt_le32(b->head + 0x40) == 0xbeda107fu;
}

/* qcow version 1: the qcow magic with version 1 (qcow2 takes 2 and 3). */
static bool is_qcow1(const struct ifmt_probe_bytes *b)
{
    return b->head_len >= 8 && ifmt_be32(b->head) == 0x514649fbu && ifmt_be32(b->head + 4) == 1;
}

/* QED: "QED\0", then a cluster size that is a power of two. */
static bool is_qed(const struct ifmt_probe_bytes *b)
{
    return at(b, 0, "QED\0", 4) && b->head_len >= 8 && ifmt_is_pow2(ifmt_le32(b->head + 4));
}

/* Parallels (and Virtuozzo) disks: one of two 16-byte magics. */
static bool is_parallels(const struct ifmt_probe_bytes *b)
{
    return at(b, 0, "WithoutFreeSpace", 16) || at(b, 0, "WithouFreSpacExt", 16);
}

/* A VMware seSparse extent on its own: the constant header's magic
 * 0xcafebabe as a little-endian 64-bit value. */
static bool is_sesparse(const struct ifmt_probe_bytes *b)
{
    return b->head_len >= 8 && ifmt_le64(b->head) == 0xcafebabeull;
}

/* ISO 9660: a volume descriptor ("CD001", version 1) in sector 16 (2 KiB). */
static bool is_iso9660(const struct ifmt_probe_bytes *b)
{
    return at(b, 0x8001, "CD001", 5) && b->head[0x8006] == 1;
}

/* Apple DMG (UDIF): the "koly" trailer, version 4, 512 bytes, ends the file. */
static bool is_dmg(const struct ifmt_probe_bytes *b)
{
    if (b->tail_len < 512)
        return false;
    const uint8_t *k = b->tail + b->tail_len - 512;
    return memcmp(k, "koly", 4) == 0 && ifmt_be32(k + 4) == 4 && ifmt_be32(k + 8) == 512;
}

/* Compressed or archive containers: their stream magics. */
static bool is_gzip(const struct ifmt_probe_bytes *b) { return at(b, 0, "\x1f\x8b\x08", 3); }
static bool is_xz(const struct ifmt_probe_bytes *b) { return at(b, 0, "\xfd" "7zXZ\0", 6); }
static bool is_zstd(const struct ifmt_probe_bytes *b) { return at(b, 0, "\x28\xb5\x2f\xfd", 4); }
static bool is_bzip2(const struct ifmt_probe_bytes *b)
{
    /* "BZh" and the block size digit, then a block or end-of-stream magic. */
    return at(b, 0, "BZh", 3) && b->head_len >= 10 && b->head[3] >= '1' && b->head[3] <= '9' &&
           (at(b, 4, "\x31\x41\x59\x26\x53\x59", 6) ||
            at(b, 4, "\x17\x72\x45\x38\x50\x90", 6));
}
static bool is_zip(const struct ifmt_probe_bytes *b)
{
    return at(b, 0, "PK\x03\x04", 4) || at(b, 0, "PK\x05\x06", 4);
}

static const struct ifmt_unread_format unread[] = {
    {"VHDX (Hyper-V) image", is_vhdx,
     "convert it: qemu-img convert -f vhdx -O qcow2 IN OUT.qcow2 (an AVHDX snapshot: merge "
     "it into its parent in Hyper-V first)"},
    {"VirtualBox VDI image", is_vdi,
     "convert it: qemu-img convert -f vdi -O qcow2 IN OUT.qcow2 (or VBoxManage clonemedium "
     "IN OUT.vmdk --format VMDK)"},
    {"qcow version 1 image", is_qcow1,
     "convert it: qemu-img convert -f qcow -O qcow2 IN OUT.qcow2"},
    {"QED image", is_qed, "convert it: qemu-img convert -f qed -O qcow2 IN OUT.qcow2"},
    {"Parallels image", is_parallels,
     "convert it: qemu-img convert -f parallels -O qcow2 IN OUT.qcow2"},
    {"VMware seSparse extent (a snapshot delta, not a whole disk)", is_sesparse,
     "consolidate the snapshots in VMware (or vmkfstools -i DISK.vmdk -d thin OUT.vmdk) "
     "and use the result"},
    {"ISO 9660 optical-disc image", is_iso9660,
     "it is an installer or data disc, not a disk: install the system onto a disk and "
     "use that disk's image"},
    {"Apple DMG image", is_dmg,
     "convert it: qemu-img convert -f dmg -O raw IN OUT.raw (or hdiutil convert)"},
    {"gzip-compressed file", is_gzip, "decompress it first (gzip -d)"},
    {"xz-compressed file", is_xz, "decompress it first (xz -d)"},
    {"bzip2-compressed file", is_bzip2, "decompress it first (bzip2 -d)"},
    {"zstd-compressed file", is_zstd, "decompress it first (zstd -d)"},
    {"zip archive", is_zip, "extract the disk image from it first (unzip)"},
};

const struct ifmt_unread_format *ifmt_unread_match(const struct ifmt_probe_bytes *b)
{
    for (size_t i = 0; i < sizeof unread / sizeof unread[0]; i++)
        if (unread[i].match(b))
            return &unread[i];
    return NULL;
}
