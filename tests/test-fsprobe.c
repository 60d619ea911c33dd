/*
 * test-fsprobe.c -- file-system and volume signatures from byte arrays:
 * each format's magic with its label/UUID, near misses that must not match,
 * probing at an offset and inside a bounded region.
 */
#include "testutil.h"

#define SIZE (4u << 20)
static uint8_t d[SIZE];

static void put16le(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32le(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64le(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put16be(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32be(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i)); }

static const uint8_t uuid[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
#define UUID_STR "01234567-89ab-cdef-fedc-ba9876543210"

/* Probe d[0, len) at off (whole image), asserting success. */
static imgfmt_fs probe(size_t len, uint64_t off, uint64_t rlen)
{
    imgfmt_image *img = open_mem_ok(d, len);
    imgfmt_fs fs;
    int r = imgfmt_probe_fs(img, off, rlen, &fs);
    ck_assert_msg(r == 0, "probe: %d %s", r, imgfmt_last_error(img)->msg);
    imgfmt_close(img);
    return fs;
}

static void expect(size_t len, uint64_t off, enum imgfmt_fs_type t, const char *name,
                   uint32_t ver, const char *label, const char *uu)
{
    imgfmt_fs fs = probe(len, off, 0);
    ck_assert_msg(fs.type == t, "type %d (%s), expected %d", fs.type, fs.name, t);
    ck_assert_str_eq(fs.name, name);
    ck_assert_uint_eq(fs.version, ver);
    ck_assert_str_eq(fs.label, label);
    ck_assert_str_eq(fs.uuid, uu);
}

static void ext_sb(uint8_t *p, uint32_t compat, uint32_t incompat, uint32_t ro)
{
    uint8_t *sb = p + 1024;
    put16le(sb + 56, 0xEF53);
    put32le(sb + 24, 2);
    put32le(sb + 0x5C, compat);
    put32le(sb + 0x60, incompat);
    put32le(sb + 0x64, ro);
    memcpy(sb + 0x68, uuid, 16);
    memcpy(sb + 0x78, "rootfs", 6);
}

START_TEST(ext)
{
    memset(d, 0, SIZE);
    ext_sb(d, 0, 0x2, 0x3);
    expect(SIZE, 0, IMGFMT_FS_EXT2, "ext2", 0, "rootfs", UUID_STR);
    ext_sb(d, 0x4, 0x2, 0x3);
    expect(SIZE, 0, IMGFMT_FS_EXT3, "ext3", 0, "rootfs", UUID_STR);
    ext_sb(d, 0x4, 0x2 | 0x40 | 0x200, 0x3);
    expect(SIZE, 0, IMGFMT_FS_EXT4, "ext4", 0, "rootfs", UUID_STR);
    ext_sb(d, 0x4, 0x2, 0x400);   /* metadata_csum alone */
    expect(SIZE, 0, IMGFMT_FS_EXT4, "ext4", 0, "rootfs", UUID_STR);
    /* An external journal device is not a file system. */
    ext_sb(d, 0x4, 0x8, 0);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    /* Nonsense block size. */
    ext_sb(d, 0, 0, 0);
    put32le(d + 1024 + 24, 40);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
}
END_TEST

START_TEST(xfs)
{
    memset(d, 0, SIZE);
    memcpy(d, "XFSB", 4);
    put32be(d + 4, 4096);
    memcpy(d + 32, uuid, 16);
    put16be(d + 100, 0xB4A5);   /* version 5 with feature bits */
    put16be(d + 102, 512);
    memcpy(d + 108, "xfsroot", 7);
    expect(SIZE, 0, IMGFMT_FS_XFS, "xfs", 5, "xfsroot", UUID_STR);
    put16be(d + 100, 0xB4A4);
    expect(SIZE, 0, IMGFMT_FS_XFS, "xfs", 4, "xfsroot", UUID_STR);
    put32be(d + 4, 3000);       /* block size not a power of two */
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
}
END_TEST

START_TEST(btrfs)
{
    memset(d, 0, SIZE);
    uint8_t *sb = d + 65536;
    memcpy(sb + 0x20, uuid, 16);
    memcpy(sb + 0x40, "_BHRfS_M", 8);
    memcpy(sb + 0x12b, "bt", 2);
    expect(SIZE, 0, IMGFMT_FS_BTRFS, "btrfs", 0, "bt", UUID_STR);
    /* A region too short to hold the superblock finds nothing. */
    imgfmt_fs fs = probe(SIZE, 0, 65536);
    ck_assert_int_eq(fs.type, IMGFMT_FS_NONE);
}
END_TEST

START_TEST(ntfs_exfat)
{
    memset(d, 0, SIZE);
    memcpy(d + 3, "NTFS    ", 8);
    put16le(d + 11, 512);
    put64le(d + 0x48, 0x0FB35EEE269BDA5Cull);
    d[510] = 0x55; d[511] = 0xAA;
    expect(SIZE, 0, IMGFMT_FS_NTFS, "ntfs", 0, "", "0FB35EEE269BDA5C");
    put16le(d + 11, 300);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    memset(d, 0, 512);
    memcpy(d + 3, "EXFAT   ", 8);
    put32le(d + 100, 0x7BBCF197);
    expect(SIZE, 0, IMGFMT_FS_EXFAT, "exfat", 0, "", "7BBC-F197");
}
END_TEST

static void fat_bpb(uint16_t total16, uint32_t total32, uint16_t fatsz16, uint32_t fatsz32,
                    uint16_t root_ent)
{
    memset(d, 0, 512);
    d[0] = 0xEB; d[1] = 0x58; d[2] = 0x90;
    put16le(d + 11, 512);
    d[13] = 1;
    put16le(d + 14, 32);
    d[16] = 2;
    put16le(d + 17, root_ent);
    put16le(d + 19, total16);
    d[21] = 0xF8;
    put16le(d + 22, fatsz16);
    put32le(d + 32, total32);
    put32le(d + 36, fatsz32);
    uint8_t *e = d + (fatsz16 ? 36 : 64);
    e[2] = 0x29;
    put32le(e + 3, 0xABCD1234);
    memcpy(e + 7, "BOOT       ", 11);
    d[510] = 0x55; d[511] = 0xAA;
}

START_TEST(fat)
{
    memset(d, 0, SIZE);
    fat_bpb(4000, 0, 12, 0, 512);         /* < 4085 clusters */
    expect(SIZE, 0, IMGFMT_FS_FAT12, "fat12", 0, "BOOT", "ABCD-1234");
    fat_bpb(0, 60000, 400, 0, 512);       /* 65525 > clusters >= 4085 */
    expect(SIZE, 0, IMGFMT_FS_FAT16, "fat16", 0, "BOOT", "ABCD-1234");
    fat_bpb(0, 200000, 0, 1600, 0);
    expect(SIZE, 0, IMGFMT_FS_FAT32, "fat32", 0, "BOOT", "ABCD-1234");
    /* Near misses: no jump, 3 sectors per cluster, FAT32 with root entries,
     * metadata larger than the volume. */
    fat_bpb(0, 200000, 0, 1600, 0);
    d[0] = 0x33;
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    fat_bpb(0, 200000, 0, 1600, 0);
    d[13] = 3;
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    fat_bpb(0, 200000, 0, 1600, 512);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    fat_bpb(100, 0, 400, 0, 512);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
}
END_TEST

START_TEST(swap)
{
    memset(d, 0, SIZE);
    memcpy(d + 4096 - 10, "SWAPSPACE2", 10);
    put32le(d + 1024, 1);
    memcpy(d + 1036, uuid, 16);
    memcpy(d + 1052, "sw", 2);
    expect(SIZE, 0, IMGFMT_FS_SWAP, "swap", 1, "sw", UUID_STR);
    memset(d, 0, 8192);
    memcpy(d + 65536 - 10, "SWAP-SPACE", 10);   /* old format, 64 KiB pages */
    expect(SIZE, 0, IMGFMT_FS_SWAP, "swap", 0, "", "");
}
END_TEST

START_TEST(lvm)
{
    memset(d, 0, SIZE);
    uint8_t *l = d + 512;
    memcpy(l, "LABELONE", 8);
    put64le(l + 8, 1);
    put32le(l + 20, 32);
    memcpy(l + 24, "LVM2 001", 8);
    memcpy(l + 32, "abcdefghijklmnopqrstuvwxyz012345", 32);
    expect(SIZE, 0, IMGFMT_FS_LVM2_PV, "LVM2_member", 2, "",
           "abcdef-ghij-klmn-opqr-stuv-wxyz-012345");
    put64le(l + 8, 3);   /* says it is in another sector */
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
}
END_TEST

START_TEST(luks)
{
    memset(d, 0, SIZE);
    memcpy(d, "LUKS\xba\xbe", 6);
    put16be(d + 6, 1);
    memcpy(d + 168, UUID_STR, 36);
    expect(SIZE, 0, IMGFMT_FS_LUKS, "crypto_LUKS", 1, "", UUID_STR);
    put16be(d + 6, 2);
    memcpy(d + 24, "cryptroot", 9);
    expect(SIZE, 0, IMGFMT_FS_LUKS, "crypto_LUKS", 2, "cryptroot", UUID_STR);
    put16be(d + 6, 7);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
}
END_TEST

START_TEST(iso)
{
    memset(d, 0, SIZE);
    d[32768] = 1;
    memcpy(d + 32769, "CD001", 5);
    memcpy(d + 32768 + 40, "DEBIAN 12                       ", 32);
    expect(SIZE, 0, IMGFMT_FS_ISO9660, "iso9660", 0, "DEBIAN 12", "");
}
END_TEST

START_TEST(raid)
{
    /* 1.2 at 4 KiB, in front of an ext4 signature that must not win. */
    memset(d, 0, SIZE);
    ext_sb(d, 0x4, 0x40, 0);
    uint8_t *sb = d + 4096;
    put32le(sb, 0xa92b4efc);
    put32le(sb + 4, 1);
    memcpy(sb + 16, uuid, 16);
    memcpy(sb + 32, "host:0", 6);
    put64le(sb + 136, 8);
    expect(SIZE, 0, IMGFMT_FS_LINUX_RAID, "linux_raid_member", 1, "host:0", UUID_STR);
    put64le(sb + 136, 9);   /* wrong super_offset: not a superblock */
    expect(SIZE, 0, IMGFMT_FS_EXT4, "ext4", 0, "rootfs", UUID_STR);
    /* 1.0 near the end. */
    memset(d, 0, SIZE);
    uint64_t rel = ((SIZE / 512 - 16) & ~7ull) * 512;
    sb = d + rel;
    put32le(sb, 0xa92b4efc);
    put32le(sb + 4, 1);
    memcpy(sb + 16, uuid, 16);
    put64le(sb + 136, rel / 512);
    expect(SIZE, 0, IMGFMT_FS_LINUX_RAID, "linux_raid_member", 1, "", UUID_STR);
    /* 0.90 in the last 64 KiB block. */
    memset(d, 0, SIZE);
    sb = d + SIZE - 65536;
    put32le(sb, 0xa92b4efc);
    put32le(sb + 4, 0);
    memcpy(sb + 20, uuid, 4);
    memcpy(sb + 52, uuid + 4, 12);
    expect(SIZE, 0, IMGFMT_FS_LINUX_RAID, "linux_raid_member", 0, "", UUID_STR);
}
END_TEST

START_TEST(offset_and_range)
{
    memset(d, 0, SIZE);
    ext_sb(d + 1048576, 0x4, 0x40, 0);
    expect(SIZE, 1048576, IMGFMT_FS_EXT4, "ext4", 0, "rootfs", UUID_STR);
    expect(SIZE, 0, IMGFMT_FS_NONE, "", 0, "", "");
    /* A region too small for the superblock. */
    imgfmt_fs fs = probe(SIZE, 1048576, 1100);
    ck_assert_int_eq(fs.type, IMGFMT_FS_NONE);
    /* Offset past the end: RANGE. */
    imgfmt_image *img = open_mem_ok(d, 4096);
    ck_assert_int_eq(imgfmt_probe_fs(img, 8192, 0, &fs), IMGFMT_E_RANGE);
    ck_assert_ptr_nonnull(strstr(imgfmt_last_error(img)->msg, "beyond the virtual size"));
    ck_assert_int_eq(imgfmt_probe_fs(img, 0, 0, NULL), IMGFMT_E_INVAL);
    /* A tiny image: every probe stays in bounds. */
    imgfmt_close(img);
    fs = probe(10, 0, 0);
    ck_assert_int_eq(fs.type, IMGFMT_FS_NONE);
    ck_assert_int_eq(imgfmt_probe_fs(NULL, 0, 0, &fs), IMGFMT_E_INVAL);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(imgfmt_fs_type_name(IMGFMT_FS_FAT32), "fat32");
    ck_assert_str_eq(imgfmt_fs_type_name(IMGFMT_FS_NONE), "");
    ck_assert_int_eq(imgfmt_fs_is_linux_root(IMGFMT_FS_XFS), 1);
    ck_assert_int_eq(imgfmt_fs_is_linux_root(IMGFMT_FS_BTRFS), 1);
    ck_assert_int_eq(imgfmt_fs_is_linux_root(IMGFMT_FS_NTFS), 0);
    ck_assert_int_eq(imgfmt_fs_is_linux_root(IMGFMT_FS_LVM2_PV), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fsprobe");
    TCase *t = tcase_create("signatures");
    tcase_add_test(t, ext);
    tcase_add_test(t, xfs);
    tcase_add_test(t, btrfs);
    tcase_add_test(t, ntfs_exfat);
    tcase_add_test(t, fat);
    tcase_add_test(t, swap);
    tcase_add_test(t, lvm);
    tcase_add_test(t, luks);
    tcase_add_test(t, iso);
    tcase_add_test(t, raid);
    tcase_add_test(t, offset_and_range);
    tcase_add_test(t, names);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
