/*
 * test-probe.c -- the probe: formats we know but do not read are refused by
 * name (UNSUPPORTED) from small byte headers, near misses still read as raw,
 * forcing raw reads any of them as bytes; format names come from the driver
 * table.
 */
#include <fcntl.h>

#include "testutil.h"

#define BUF (64u << 10)
static uint8_t buf[BUF];

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;         p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Probing buf[0, len) is refused with UNSUPPORTED naming `name`; forced raw
 * it opens with the file's length as its size. */
static void refused(size_t len, const char *name, const char *fix)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_open_memory(buf, len, NULL, &img, &err), IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(err.msg, name), "\"%s\" does not name %s", err.msg, name);
    ck_assert_msg(strstr(err.msg, fix), "\"%s\" does not say %s", err.msg, fix);
    ck_assert_ptr_nonnull(strstr(err.msg, "raw"));
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_RAW;
    ck_assert_int_eq(imgfmt_open_memory(buf, len, &o, &img, &err), 0);
    ck_assert_uint_eq(imgfmt_virtual_size(img), len);
    uint8_t b[8];
    ck_assert_int_eq(imgfmt_pread(img, b, sizeof b, 0), 0);
    ck_assert_mem_eq(b, buf, sizeof b);
    imgfmt_close(img);
}

/* Probing buf[0, len) gives raw. */
static void raw(size_t len)
{
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_msg(imgfmt_open_memory(buf, len, NULL, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(imgfmt_format(img), IMGFMT_FMT_RAW);
    imgfmt_close(img);
}

static void reset(void) { memset(buf, 0, sizeof buf); }

START_TEST(vhdx)
{
    reset();
    memcpy(buf, "vhdxfile", 8);
    refused(BUF, "VHDX", "qemu-img convert -f vhdx");
    buf[7] = 'E';
    raw(BUF);
}
END_TEST

START_TEST(vdi)
{
    reset();
    memcpy(buf, "<<< Oracle VM VirtualBox Disk Image >>>\n", 40);
    put_le32(buf + 0x40, 0xbeda107f);
    refused(BUF, "VirtualBox VDI", "-f vdi");
    put_le32(buf + 0x40, 0xbeda107e);
    raw(BUF);
    /* The banner alone is not the format. */
    reset();
    memcpy(buf, "<<< Oracle VM VirtualBox Disk Image >>>\n", 40);
    raw(BUF);
}
END_TEST

START_TEST(qcow1)
{
    reset();
    put_be32(buf, 0x514649fb);
    put_be32(buf + 4, 1);
    refused(BUF, "qcow version 1", "-f qcow -O qcow2");
    /* Version 0 is nothing we know. */
    put_be32(buf + 4, 0);
    raw(BUF);
}
END_TEST

START_TEST(qed)
{
    reset();
    memcpy(buf, "QED\0", 4);
    put_le32(buf + 4, 65536);
    refused(BUF, "QED", "-f qed");
    put_le32(buf + 4, 65535);   /* not a power of two */
    raw(BUF);
}
END_TEST

START_TEST(parallels)
{
    reset();
    memcpy(buf, "WithoutFreeSpace", 16);
    refused(BUF, "Parallels", "-f parallels");
    memcpy(buf, "WithouFreSpacExt", 16);
    refused(BUF, "Parallels", "-f parallels");
    buf[15] = 'x';
    raw(BUF);
}
END_TEST

START_TEST(sesparse)
{
    reset();
    put_le32(buf, 0xcafebabe);
    put_le32(buf + 8, 2);        /* version 2.1 */
    put_le32(buf + 12, 1);
    refused(BUF, "seSparse", "consolidate");
    buf[4] = 1;                  /* the high half of the magic must be 0 */
    raw(BUF);
}
END_TEST

START_TEST(iso9660)
{
    reset();
    buf[0x8000] = 1;             /* primary volume descriptor */
    memcpy(buf + 0x8001, "CD001", 5);
    buf[0x8006] = 1;
    refused(BUF, "ISO 9660", "not a disk");
    buf[0x8006] = 2;
    raw(BUF);
    /* A file too short to hold sector 16 is not an ISO. */
    reset();
    raw(0x8000);
}
END_TEST

START_TEST(dmg)
{
    reset();
    uint8_t *k = buf + BUF - 512;
    memcpy(k, "koly", 4);
    put_be32(k + 4, 4);
    put_be32(k + 8, 512);
    refused(BUF, "Apple DMG", "-f dmg");
    put_be32(k + 4, 3);
    raw(BUF);
}
END_TEST

START_TEST(compressed_containers)
{
    static const struct {
        const char *magic;
        size_t n;
        const char *name, *fix;
    } c[] = {
        {"\x1f\x8b\x08\x00", 4, "gzip", "gzip -d"},
        {"\xfd" "7zXZ\0", 6, "xz", "xz -d"},
        {"BZh91AY&SY", 10, "bzip2", "bzip2 -d"},
        {"\x28\xb5\x2f\xfd", 4, "zstd", "zstd -d"},
        {"PK\x03\x04", 4, "zip", "unzip"},
        {"PK\x05\x06", 4, "zip", "unzip"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        reset();
        memcpy(buf, c[i].magic, c[i].n);
        refused(4096, c[i].name, c[i].fix);
        buf[0] ^= 0x40;           /* one byte off: raw */
        raw(4096);
    }
}
END_TEST

START_TEST(readers_win)
{
    /* A format we read keeps its driver even when bytes further in happen to
     * look like an unread one: a qcow2 header with "CD001" at 32 KiB. */
    reset();
    put_be32(buf, 0x514649fb);
    put_be32(buf + 4, 3);
    memcpy(buf + 0x8001, "CD001", 5);
    buf[0x8006] = 1;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    int r = imgfmt_open_memory(buf, BUF, NULL, &img, &err);
    ck_assert_int_ne(r, IMGFMT_E_UNSUPPORTED);
    ck_assert_ptr_null(strstr(err.msg, "ISO"));
    imgfmt_close(img);
    /* An all-zero file is raw. */
    reset();
    raw(BUF);
    raw(1);
}
END_TEST

START_TEST(probe_by_path)
{
    reset();
    memcpy(buf, "vhdxfile", 8);
    char *p = tmp_file(buf, BUF);
    enum imgfmt_format f = IMGFMT_FMT_RAW;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_probe(p, &f, &err), IMGFMT_E_UNSUPPORTED);
    ck_assert_int_eq(f, IMGFMT_FMT_UNKNOWN);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    ck_assert_ptr_nonnull(strstr(err.msg, "VHDX"));
    unlink(p);
    free(p);
}
END_TEST

START_TEST(names_from_driver_table)
{
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_RAW), "raw");
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_VHD), "vpc");
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_QCOW2), "qcow2");
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_VMDK), "vmdk");
    ck_assert_str_eq(imgfmt_format_name(IMGFMT_FMT_UNKNOWN), "unknown");
    ck_assert_str_eq(imgfmt_format_name((enum imgfmt_format)99), "unknown");
    ck_assert_int_eq(imgfmt_format_from_name("vpc"), IMGFMT_FMT_VHD);
    ck_assert_int_eq(imgfmt_format_from_name("vhd"), IMGFMT_FMT_VHD);
    ck_assert_int_eq(imgfmt_format_from_name("vmdk"), IMGFMT_FMT_VMDK);
    ck_assert_int_eq(imgfmt_format_from_name("vdi"), IMGFMT_FMT_UNKNOWN);
    ck_assert_int_eq(imgfmt_format_from_name(NULL), IMGFMT_FMT_UNKNOWN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("unread");
    tcase_add_test(tc, vhdx);
    tcase_add_test(tc, vdi);
    tcase_add_test(tc, qcow1);
    tcase_add_test(tc, qed);
    tcase_add_test(tc, parallels);
    tcase_add_test(tc, sesparse);
    tcase_add_test(tc, iso9660);
    tcase_add_test(tc, dmg);
    tcase_add_test(tc, compressed_containers);
    tcase_add_test(tc, readers_win);
    tcase_add_test(tc, probe_by_path);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("names");
    tcase_add_test(tn, names_from_driver_table);
    suite_add_tcase(s, tn);
    return run_suite(s);
}
