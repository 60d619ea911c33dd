/*
 * refused.c -- file formats a cloud image import refuses, named from their
 * first bytes so the user learns what the file is and how to turn it into
 * a disk image the import takes, in the words of the import check.  The
 * probe's own table of formats it knows but does not read (formats/unread.c)
 * names the rest.
 */
#define IMGFMT_BUILDING 1
#include <string.h>

#include "check/check.h"
#include "core/driver.h"

/* One magic: bytes at an offset, with an optional check of what follows. */
struct magic {
    size_t off;
    const char *bytes;
    size_t len;
    bool (*more)(const uint8_t *b, size_t n);
    struct ifmt_refused what;
};

static bool qcow_v1(const uint8_t *b, size_t n)
{
    return n >= 8 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 1;
}

static bool bzip2_level(const uint8_t *b, size_t n)
{
    return n > 3 && b[3] >= '1' && b[3] <= '9';
}

static const struct magic magics[] = {
    {0, "vhdxfile", 8, NULL, {"VHDX",
        "convert it to QCOW2 first: qemu-img convert -f vhdx -O qcow2 IMAGE disk.qcow2", false}},
    {0x40, "\x7f\x10\xda\xbe", 4, NULL, {"VDI (VirtualBox)",
        "convert it first: qemu-img convert -f vdi -O qcow2 IMAGE disk.qcow2 "
        "(or VBoxManage clonemedium --format VHD)", false}},
    {0, "QFI\xfb", 4, qcow_v1, {"qcow (version 1)",
        "convert it to QCOW2: qemu-img convert -f qcow -O qcow2 IMAGE disk.qcow2", false}},
    {0, "QED\0", 4, NULL, {"QED",
        "convert it to QCOW2: qemu-img convert -f qed -O qcow2 IMAGE disk.qcow2", false}},
    {0, "\x1f\x8b", 2, NULL, {"gzip archive",
        "decompress it (gunzip) and check the disk image inside", false}},
    {0, "\xfd" "7zXZ\0", 6, NULL, {"xz archive",
        "decompress it (unxz) and check the disk image inside", false}},
    {0, "BZh", 3, bzip2_level, {"bzip2 archive",
        "decompress it (bunzip2) and check the disk image inside", false}},
    {0, "\x28\xb5\x2f\xfd", 4, NULL, {"zstd archive",
        "decompress it (unzstd) and check the disk image inside", false}},
    {0, "PK\x03\x04", 4, NULL, {"zip archive", "unzip it and check the disk image inside", false}},
    {0, "PK\x05\x06", 4, NULL, {"zip archive", "unzip it and check the disk image inside", false}},
    {257, "ustar", 5, NULL, {"OVA/tar archive",
        "extract the disk (tar xf IMAGE) and check the .vmdk inside", false}},
    {0x8001, "CD001", 5, NULL, {"ISO9660 (installer/CD image)",
        "install the system from the ISO into a virtual disk and upload that disk", false}},
};

static const struct ifmt_refused vmdk_descriptor = {
    "VMDK descriptor (the data are in separate extent files)",
    "this file only describes the disk: make one file with "
    "imgfmt-convert -O qcow2 IMAGE disk.qcow2 (or qemu-img convert) and upload that",
    true,
};

static bool has(const uint8_t *b, size_t n, size_t off, const char *m, size_t len)
{
    return off <= n && len <= n - off && memcmp(b + off, m, len) == 0;
}

static bool contains(const uint8_t *b, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, needle, k) == 0)
            return true;
    return false;
}

/* A text VMDK descriptor: its header comment, or a comment line and a
 * createType key in the first KiB. */
static bool is_vmdk_descriptor(const uint8_t *b, size_t n)
{
    return n >= 20 && (has(b, n, 0, "# Disk DescriptorFile", 21) ||
                       (b[0] == '#' && contains(b, n < 1024 ? n : 1024, "createType")));
}

bool ifmt_refused_format(const struct ifmt_probe_bytes *b, struct ifmt_refused *out)
{
    const uint8_t *head = b->head;
    size_t n = b->head_len;
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        const struct magic *m = &magics[i];
        if (has(head, n, m->off, m->bytes, m->len) && (!m->more || m->more(head, n))) {
            *out = m->what;
            return true;
        }
    }
    if (is_vmdk_descriptor(head, n)) {
        *out = vmdk_descriptor;
        return true;
    }
    /* Other formats the library knows but does not read (Parallels,
     * seSparse, DMG, ...): named as the probe names them. */
    const struct ifmt_unread_format *u = ifmt_unread_match(b);
    if (u) {
        *out = (struct ifmt_refused){u->name, u->fix, false};
        return true;
    }
    return false;
}

struct ifmt_refused ifmt_refused_tar(void)
{
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (magics[i].off == 257)
            return magics[i].what;
    return (struct ifmt_refused){"tar archive", "extract the disk and check it", false};
}
