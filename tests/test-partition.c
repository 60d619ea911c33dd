/*
 * test-partition.c -- MBR, EBR chains and GPT from byte arrays, including
 * hostile tables: looping or escaping EBR chains, GPT entry counts in the
 * millions, CRC-valid nonsense, partitions past the disk.
 */
#include <zlib.h>

#include "testutil.h"

#define DISK (1u << 20)     /* 1 MiB: 2048 sectors of 512, 256 of 4096 */

static uint8_t disk[8u << 20];

static void put16(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void mbr_entry(uint8_t *sector, int i, uint8_t boot, uint8_t type, uint32_t start,
                      uint32_t count)
{
    uint8_t *e = sector + 446 + 16 * i;
    e[0] = boot;
    e[4] = type;
    put32(e + 8, start);
    put32(e + 12, count);
    sector[510] = 0x55;
    sector[511] = 0xAA;
}

static void reset(void) { memset(disk, 0, sizeof disk); }

/* Open the first len bytes of disk; partitions or error code. */
static imgfmt_image *img_of(size_t len)
{
    return open_mem_ok(disk, len);
}

static imgfmt_partition_table *parts_ok(imgfmt_image *img)
{
    imgfmt_partition_table *t = NULL;
    int r = imgfmt_partitions(img, &t);
    ck_assert_msg(r == 0, "imgfmt_partitions: %d %s", r, imgfmt_last_error(img)->msg);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void parts_fail(size_t len, int code, const char *needle)
{
    imgfmt_image *img = img_of(len);
    imgfmt_partition_table *t = (imgfmt_partition_table *)1;
    int r = imgfmt_partitions(img, &t);
    const imgfmt_error *e = imgfmt_last_error(img);
    ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, e->msg);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e->msg, needle), "message \"%s\" lacks \"%s\"", e->msg, needle);
    imgfmt_close(img);
}

/* ---- MBR -------------------------------------------------------------- */

START_TEST(mbr_none)
{
    reset();
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_NONE);
    ck_assert_int_eq(t->nb_partitions, 0);
    ck_assert_int_eq(t->whole_disk.type, IMGFMT_FS_NONE);
    imgfmt_partition_table_free(t);
    /* Shorter than a sector: no table either. */
    imgfmt_close(img);
    img = img_of(100);
    t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_NONE);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
    imgfmt_partition_table_free(NULL);
}
END_TEST

START_TEST(mbr_primaries)
{
    reset();
    mbr_entry(disk, 0, 0x80, 0x83, 2048 / 8, 512);
    mbr_entry(disk, 2, 0x00, 0x07, 1024, 1024);
    put32(disk + 440, 0xdeadbeef);
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_MBR);
    ck_assert_uint_eq(t->sector_size, 512);
    ck_assert_uint_eq(t->mbr_signature, 0xdeadbeef);
    ck_assert_uint_eq(t->nb_partitions, 2);
    ck_assert_uint_eq(t->parts[0].number, 1);
    ck_assert_uint_eq(t->parts[0].start, 256 * 512);
    ck_assert_uint_eq(t->parts[0].length, 512 * 512);
    ck_assert_int_eq(t->parts[0].bootable, 1);
    ck_assert_str_eq(t->parts[0].type_name, "Linux");
    ck_assert_uint_eq(t->parts[1].number, 3);
    ck_assert_uint_eq(t->parts[1].mbr_type, 0x07);
    ck_assert_int_eq(t->parts[1].bootable, 0);
    ck_assert_str_eq(t->parts[1].type_guid, "");
    ck_assert_int_eq(t->parts[1].fs.type, IMGFMT_FS_NONE);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(mbr_empty_table)
{
    reset();
    disk[510] = 0x55;
    disk[511] = 0xAA;
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_MBR);
    ck_assert_uint_eq(t->nb_partitions, 0);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(mbr_bad)
{
    reset();
    mbr_entry(disk, 1, 0x12, 0x83, 2048, 10);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "partition 2 boot indicator 0x12 invalid");
    reset();
    mbr_entry(disk, 0, 0, 0x83, 2000, 100);     /* ends at sector 2099 > 2047 */
    parts_fail(DISK, IMGFMT_E_CORRUPT, "partition 1 (sectors 2000..2099) extends past the end");
    reset();
    mbr_entry(disk, 3, 0, 0x83, 0xFFFFFFFFu, 0xFFFFFFFFu);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "extends past the end of the disk");
    reset();
    mbr_entry(disk, 0, 0, 0x83, 0, 100);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "overlaps the MBR");
}
END_TEST

/* An extended partition at sector 100..1099 with EBRs at given offsets. */
static void ebr(uint32_t at, uint32_t lstart_rel, uint32_t lcount, uint32_t next_rel_ext,
                int has_next)
{
    uint8_t *s = disk + (size_t)at * 512;
    mbr_entry(s, 0, 0, 0x83, lstart_rel, lcount);
    if (has_next)
        mbr_entry(s, 1, 0, 0x05, next_rel_ext, 10);
}

START_TEST(mbr_logicals)
{
    reset();
    mbr_entry(disk, 0, 0, 0x83, 10, 80);
    mbr_entry(disk, 1, 0, 0x0f, 100, 1000);
    ebr(100, 2, 100, 200, 1);   /* logical 5: 102..201; next EBR at 300 */
    ebr(300, 2, 100, 500, 1);   /* logical 6: 302..401; next at 600 */
    ebr(600, 4, 400, 0, 0);     /* logical 7: 604..1003, end */
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_uint_eq(t->nb_partitions, 5);
    ck_assert_int_eq(t->parts[1].extended, 1);
    ck_assert_uint_eq(t->parts[2].number, 5);
    ck_assert_uint_eq(t->parts[2].start, 102 * 512);
    ck_assert_int_eq(t->parts[2].logical, 1);
    ck_assert_uint_eq(t->parts[3].number, 6);
    ck_assert_uint_eq(t->parts[3].start, 302 * 512);
    ck_assert_uint_eq(t->parts[4].number, 7);
    ck_assert_uint_eq(t->parts[4].start, 604 * 512);
    ck_assert_uint_eq(t->parts[4].length, 400 * 512);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(mbr_ebr_hostile)
{
    /* A chain that points at itself. */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 100, 1000);
    ebr(100, 2, 10, 0, 1);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "EBR chain loops back to sector 100");
    /* A longer loop: 100 -> 300 -> 600 -> 300. */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 100, 1000);
    ebr(100, 2, 10, 200, 1);
    ebr(300, 2, 10, 500, 1);
    ebr(600, 2, 10, 200, 1);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "EBR chain loops back to sector 300");
    /* A link out of the extended partition (and out of the disk). */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 100, 1000);
    ebr(100, 2, 10, 0xFFFFFF00u, 1);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "outside the extended partition");
    /* A logical partition running past the extended one. */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 100, 1000);
    ebr(100, 2, 5000, 0, 0);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "logical partition 5");
    /* A later EBR without its signature. */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 100, 1000);
    ebr(100, 2, 10, 300, 1);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "EBR at sector 400 lacks the 0x55AA signature");
    /* A chain longer than the cap (each EBR links to the next sector). */
    reset();
    mbr_entry(disk, 1, 0, 0x05, 4, 2000);
    for (uint32_t i = 0; i < 400; i++)
        ebr(4 + i, 1000 - i, 1, i + 1, 1);
    parts_fail(DISK, IMGFMT_E_LIMIT, "more than 256 EBRs");
}
END_TEST

START_TEST(mbr_empty_extended)
{
    reset();
    mbr_entry(disk, 0, 0, 0x05, 100, 100);
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_uint_eq(t->nb_partitions, 1);
    ck_assert_uint_eq(imgfmt_nb_warnings(img), 1);
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_MBR_EMPTY_EXTENDED);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "holds no EBR"));
    /* Reading the table again records nothing new (one warning per fact). */
    imgfmt_partition_table_free(t);
    t = parts_ok(img);
    ck_assert_uint_eq(imgfmt_nb_warnings(img), 1);
    ck_assert_int_eq(imgfmt_warning_code(img, 1), IMGFMT_W_NONE);
    ck_assert_ptr_null(imgfmt_warning(img, 1));
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(mbr_fat_boot_sector_is_not_a_table)
{
    /* A FAT16 boot sector also ends in 0x55AA: it is a bare file system. */
    reset();
    uint8_t *b = disk;
    b[0] = 0xEB; b[1] = 0x3C; b[2] = 0x90;
    memcpy(b + 3, "mkfs.fat", 8);
    put16(b + 11, 512);
    b[13] = 4;
    put16(b + 14, 4);
    b[16] = 2;
    put16(b + 17, 512);
    put16(b + 19, 2048);
    b[21] = 0xF8;
    put16(b + 22, 2);
    b[38] = 0x29;
    put32(b + 39, 0x12345678);
    memcpy(b + 43, "MYDISK     ", 11);
    b[510] = 0x55; b[511] = 0xAA;
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_NONE);
    ck_assert_int_eq(t->whole_disk.type, IMGFMT_FS_FAT12);
    ck_assert_str_eq(t->whole_disk.label, "MYDISK");
    ck_assert_str_eq(t->whole_disk.uuid, "1234-5678");
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

/* ---- GPT -------------------------------------------------------------- */

static const uint8_t linux_fs[16] = {0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47,
                                     0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4};
static const uint8_t efi_sys[16] = {0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
                                    0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B};

struct gpt_geo {
    uint32_t ss;
    uint64_t secs;          /* disk sectors */
    uint32_t nentries, esize;
    uint64_t first, last;   /* usable LBAs */
    uint64_t prim_entries, back_entries, back_hdr;
};

static void fix_hdr_crc(uint32_t ss, uint64_t lba)
{
    uint8_t *h = disk + lba * ss;
    put32(h + 16, 0);
    put32(h + 16, (uint32_t)crc32(0, h, get32(h + 12)));
}

static void write_hdr(const struct gpt_geo *g, uint64_t lba, uint64_t alt, uint64_t entries)
{
    uint8_t *h = disk + lba * g->ss;
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, lba);
    put64(h + 32, alt);
    put64(h + 40, g->first);
    put64(h + 48, g->last);
    for (int i = 0; i < 16; i++)
        h[56 + i] = (uint8_t)(0x10 + i);
    put64(h + 72, entries);
    put32(h + 80, g->nentries);
    put32(h + 84, g->esize);
    size_t bytes = (size_t)g->nentries * g->esize;
    put32(h + 88, (uint32_t)crc32(0, disk + entries * g->ss, (uInt)bytes));
    fix_hdr_crc(g->ss, lba);
}

/* Write a GPT with two partitions (EFI at first..first+15, Linux after it,
 * named "root ü"), both headers, a protective MBR. */
static struct gpt_geo build_gpt(uint32_t ss, size_t disk_bytes)
{
    reset();
    struct gpt_geo g = {ss, disk_bytes / ss, 128, 128, 0, 0, 2, 0, 0};
    uint64_t esecs = (uint64_t)g.nentries * g.esize / ss;
    g.first = 2 + esecs;
    g.back_hdr = g.secs - 1;
    g.back_entries = g.back_hdr - esecs;
    g.last = g.back_entries - 1;
    mbr_entry(disk, 0, 0, 0xEE, 1, (uint32_t)(g.secs - 1));
    uint8_t *e = disk + 2 * ss;
    memcpy(e, efi_sys, 16);
    e[16] = 1;
    put64(e + 32, g.first);
    put64(e + 40, g.first + 15);
    put16(e + 56, 'E'); put16(e + 58, 'F'); put16(e + 60, 'I');
    e += g.esize;
    memcpy(e, linux_fs, 16);
    e[16] = 2;
    put64(e + 32, g.first + 16);
    put64(e + 40, g.last);
    put64(e + 48, 1ull << 60);
    static const uint16_t name[] = {'r', 'o', 'o', 't', ' ', 0xFC, 0xD83D, 0xDE00};
    for (int i = 0; i < 8; i++)
        put16(e + 56 + 2 * i, name[i]);
    memcpy(disk + g.back_entries * ss, disk + 2 * ss, (size_t)esecs * ss);
    write_hdr(&g, 1, g.back_hdr, 2);
    write_hdr(&g, g.back_hdr, 1, g.back_entries);
    return g;
}

static void gpt_valid(uint32_t ss, size_t bytes)
{
    struct gpt_geo g = build_gpt(ss, bytes);
    imgfmt_image *img = img_of(bytes);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_GPT);
    ck_assert_uint_eq(t->sector_size, ss);
    ck_assert_int_eq(t->protective_mbr, 1);
    ck_assert_int_eq(t->hybrid_mbr, 0);
    ck_assert_int_eq(t->gpt_primary_ok, 1);
    ck_assert_int_eq(t->gpt_backup_ok, 1);
    ck_assert_uint_eq(t->gpt_backup_offset, (uint64_t)(g.secs - 1) * ss);
    ck_assert_uint_eq(t->gpt_entries, 128);
    ck_assert_str_eq(t->disk_guid, "13121110-1514-1716-1819-1A1B1C1D1E1F");
    ck_assert_uint_eq(t->nb_partitions, 2);
    ck_assert_uint_eq(imgfmt_nb_warnings(img), 0);
    ck_assert_uint_eq(t->parts[0].number, 1);
    ck_assert_uint_eq(t->parts[0].start, g.first * ss);
    ck_assert_uint_eq(t->parts[0].length, 16ull * ss);
    ck_assert_str_eq(t->parts[0].type_guid, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    ck_assert_str_eq(t->parts[0].type_name, "EFI System");
    ck_assert_str_eq(t->parts[0].name, "EFI");
    ck_assert_str_eq(t->parts[1].type_guid, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    ck_assert_str_eq(t->parts[1].type_name, "Linux filesystem");
    ck_assert_str_eq(t->parts[1].name, "root \xc3\xbc\xf0\x9f\x98\x80");
    ck_assert_uint_eq(t->parts[1].attributes, 1ull << 60);
    ck_assert_uint_eq(t->parts[1].start + t->parts[1].length, (g.last + 1) * ss);
    ck_assert_uint_eq(t->last_usable_end, (g.last + 1) * ss);
    ck_assert_uint_eq(t->parts[1].mbr_type, 0);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}

START_TEST(gpt_512) { gpt_valid(512, DISK); }
END_TEST
START_TEST(gpt_4096) { gpt_valid(4096, 8u << 20); }
END_TEST

START_TEST(gpt_hybrid)
{
    struct gpt_geo g = build_gpt(512, DISK);
    mbr_entry(disk, 1, 0x80, 0x83, (uint32_t)g.first + 16, 100);
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->type, IMGFMT_TABLE_GPT);
    ck_assert_int_eq(t->hybrid_mbr, 1);
    ck_assert_int_eq(t->protective_mbr, 0);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(gpt_backup_used)
{
    /* A broken primary header: the backup serves, with a warning. */
    build_gpt(512, DISK);
    disk[512 + 20] ^= 1;    /* inside the CRC'd header: CRC mismatch */
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->gpt_primary_ok, 0);
    ck_assert_int_eq(t->gpt_backup_ok, 1);
    ck_assert_uint_eq(t->nb_partitions, 2);
    ck_assert_uint_eq(imgfmt_nb_warnings(img), 1);
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_GPT_PRIMARY_INVALID);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "primary header CRC32"));
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0), "backup GPT was used"));
    ck_assert_int_eq(imgfmt_last_error(img)->code, 0);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(gpt_backup_missing)
{
    /* A disk cut short (as a VHD's lost tail): no backup, a warning. */
    struct gpt_geo g = build_gpt(512, DISK);
    (void)g;
    memset(disk + DISK - 512, 0, 512);
    imgfmt_image *img = img_of(DISK);
    imgfmt_partition_table *t = parts_ok(img);
    ck_assert_int_eq(t->gpt_primary_ok, 1);
    ck_assert_int_eq(t->gpt_backup_ok, 0);
    ck_assert_int_eq(imgfmt_warning_code(img, 0), IMGFMT_W_GPT_BACKUP_INVALID);
    ck_assert_ptr_nonnull(strstr(imgfmt_warning(img, 0),
                                 "no backup header signature at LBA 2047"));
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
}
END_TEST

START_TEST(gpt_crc_bad)
{
    build_gpt(512, DISK);
    disk[512 + 20] ^= 1;
    disk[DISK - 512 + 20] ^= 1;
    parts_fail(DISK, IMGFMT_E_CORRUPT, "primary header CRC32");
    /* Entry array CRC mismatch in both copies. */
    struct gpt_geo g = build_gpt(512, DISK);
    disk[2 * 512 + 200] ^= 1;
    disk[g.back_entries * 512 + 200] ^= 1;
    parts_fail(DISK, IMGFMT_E_CORRUPT, "primary entry array CRC32");
}
END_TEST

/* Change a header field in both copies and fix their CRCs. */
static void both_hdrs(struct gpt_geo *g, int off, uint64_t v, int width)
{
    uint64_t lbas[2] = {1, g->back_hdr};
    for (int i = 0; i < 2; i++) {
        uint8_t *h = disk + lbas[i] * g->ss + off;
        if (width == 4)
            put32(h, (uint32_t)v);
        else
            put64(h, v);
        fix_hdr_crc(g->ss, lbas[i]);
    }
}

START_TEST(gpt_hostile)
{
    /* Millions of entries, CRC-valid: a LIMIT error before any allocation. */
    struct gpt_geo g = build_gpt(512, DISK);
    both_hdrs(&g, 80, 3000000, 4);
    parts_fail(DISK, IMGFMT_E_LIMIT, "3000000 partition entries (cap 65536)");
    /* Under the count cap but over the array cap. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 80, 60000, 4);
    both_hdrs(&g, 84, 4096, 4);
    parts_fail(DISK, IMGFMT_E_LIMIT, "entry array of 245760000 bytes");
    /* Entry size nonsense. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 84, 100, 4);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "entry size 100 invalid");
    /* Usable area past the end of the disk. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 48, 1u << 30, 8);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "usable area");
    /* first > last. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 40, 2000, 8);
    both_hdrs(&g, 48, 100, 8);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "usable area LBA 2000..100 invalid");
    /* Entry array outside the disk. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 72, 1ull << 62, 8);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "entry array at LBA");
    /* Entry array inside the usable area. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 72, 100, 8);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "overlapping the header or the usable area");
    /* A header that names another LBA as its own. */
    g = build_gpt(512, DISK);
    both_hdrs(&g, 24, 7, 8);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "says it is at LBA 7");
    /* Header size nonsense. */
    g = build_gpt(512, DISK);
    put32(disk + 512 + 12, 9000);
    put32(disk + g.back_hdr * 512 + 12, 9000);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "header size 9000 invalid");
}
END_TEST

/* Rewrite partition 2's LBAs (entry arrays and both CRC chains). */
static void set_part2(struct gpt_geo *g, uint64_t a, uint64_t z)
{
    uint8_t *e = disk + 2 * g->ss + g->esize;
    put64(e + 32, a);
    put64(e + 40, z);
    size_t bytes = (size_t)g->nentries * g->esize;
    memcpy(disk + g->back_entries * g->ss, disk + 2 * g->ss, bytes);
    write_hdr(g, 1, g->back_hdr, 2);
    write_hdr(g, g->back_hdr, 1, g->back_entries);
}

START_TEST(gpt_entries_outside)
{
    struct gpt_geo g = build_gpt(512, DISK);
    set_part2(&g, g.first + 16, 1u << 20);       /* past the disk */
    parts_fail(DISK, IMGFMT_E_CORRUPT, "partition 2 (LBA 50..1048576) outside the usable area");
    g = build_gpt(512, DISK);
    set_part2(&g, 500, 400);                     /* start after end */
    parts_fail(DISK, IMGFMT_E_CORRUPT, "partition 2 (LBA 500..400)");
    g = build_gpt(512, DISK);
    set_part2(&g, 1, 40);                        /* over the header */
    parts_fail(DISK, IMGFMT_E_CORRUPT, "outside the usable area");
}
END_TEST

START_TEST(gpt_missing)
{
    reset();
    mbr_entry(disk, 0, 0, 0xEE, 1, 2047);
    parts_fail(DISK, IMGFMT_E_CORRUPT, "no GPT header");
}
END_TEST

START_TEST(null_args)
{
    imgfmt_partition_table *t;
    ck_assert_int_eq(imgfmt_partitions(NULL, &t), IMGFMT_E_INVAL);
    reset();
    imgfmt_image *img = img_of(DISK);
    ck_assert_int_eq(imgfmt_partitions(img, NULL), IMGFMT_E_INVAL);
    imgfmt_close(img);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("partition");
    TCase *m = tcase_create("mbr");
    tcase_add_test(m, mbr_none);
    tcase_add_test(m, mbr_primaries);
    tcase_add_test(m, mbr_empty_table);
    tcase_add_test(m, mbr_bad);
    tcase_add_test(m, mbr_logicals);
    tcase_add_test(m, mbr_ebr_hostile);
    tcase_add_test(m, mbr_empty_extended);
    tcase_add_test(m, mbr_fat_boot_sector_is_not_a_table);
    tcase_add_test(m, null_args);
    suite_add_tcase(s, m);
    TCase *g = tcase_create("gpt");
    tcase_add_test(g, gpt_512);
    tcase_add_test(g, gpt_4096);
    tcase_add_test(g, gpt_hybrid);
    tcase_add_test(g, gpt_backup_used);
    tcase_add_test(g, gpt_backup_missing);
    tcase_add_test(g, gpt_crc_bad);
    tcase_add_test(g, gpt_hostile);
    tcase_add_test(g, gpt_entries_outside);
    tcase_add_test(g, gpt_missing);
    suite_add_tcase(s, g);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
