/*
 * test-check.c -- the import pre-flight (imgfmt_check_*) on small committed
 * disks made by the real tools (tests/gen/mkcheck-images.sh: sfdisk, sgdisk,
 * mkfs, mkntfs, cryptsetup, qemu-img; testdata/README), on the qemu-made
 * images of the other suites, and on a few buffers laid out here (magics of
 * refused formats, hand-corrupted copies; each corruption is described next
 * to its assertion).  Every rule's pass, fail, warn and not-checked path,
 * and the API's edge cases: NULL arguments, struct_size, iteration.
 */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>

#include "testutil.h"
#include "testdata-gz.h"

/* ---- helpers ------------------------------------------------------------ */

/* testdata/NAME.gz inflated into a new buffer. */
static uint8_t *gz_load(const char *name, size_t *len)
{
    char gzname[512];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    gzFile in = gzopen(td_path(gzname), "rb");
    ck_assert_msg(in != NULL, "cannot open %s", td_path(gzname));
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int got;
    while ((got = gzread(in, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap)
            ck_assert_ptr_nonnull(b = realloc(b, cap *= 2));
    }
    ck_assert_int_eq(got, 0);
    gzclose(in);
    *len = n;
    return b;
}

static imgfmt_check_result *run_img(imgfmt_image *img, const imgfmt_check_opts *o)
{
    imgfmt_check_result *r = NULL;
    imgfmt_error err = {0};
    int rc = imgfmt_check_run(img, o, &r, &err);
    ck_assert_msg(rc == 0, "check_run: %d %s", rc, err.msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Open a buffer (format f, UNKNOWN: probe) and check it; the image is
 * closed before the result is looked at (the result does not borrow it). */
static imgfmt_check_result *run_mem_fmt(const void *b, size_t n, enum imgfmt_format f,
                                        const imgfmt_check_opts *o)
{
    imgfmt_open_opts oo;
    imgfmt_open_opts_init(&oo);
    oo.format = f;
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    ck_assert_msg(imgfmt_open_memory(b, n, &oo, &img, &err) == 0, "open: %s", err.msg);
    imgfmt_check_result *r = run_img(img, o);
    imgfmt_close(img);
    return r;
}

static imgfmt_check_result *run_mem(const void *b, size_t n, const imgfmt_check_opts *o)
{
    return run_mem_fmt(b, n, IMGFMT_FMT_UNKNOWN, o);
}

static imgfmt_check_result *run_path(const char *path, const imgfmt_check_opts *o)
{
    imgfmt_check_result *r = NULL;
    imgfmt_error err = {0};
    int rc = imgfmt_check_path(path, NULL, o, &r, &err);
    ck_assert_msg(rc == 0, "check_path %s: %d %s", path, rc, err.msg);
    return r;
}

static imgfmt_check_result *run_gz(const char *name, const imgfmt_check_opts *o)
{
    size_t n;
    uint8_t *b = gz_load(name, &n);
    imgfmt_check_result *r = run_mem(b, n, o);
    free(b);
    return r;
}

/* The nth finding (0 = first) of rule id, or 0 if none (*f filled). */
static int find_nth(const imgfmt_check_result *r, enum imgfmt_check_id id, int nth,
                    imgfmt_check_finding *f)
{
    for (uint32_t i = 0; i < imgfmt_check_count(r); i++) {
        memset(f, 0, sizeof *f);
        f->struct_size = sizeof *f;
        ck_assert_int_eq(imgfmt_check_get(r, i, f), 0);
        if (f->check == id && nth-- == 0)
            return 1;
    }
    return 0;
}

/* Rule id has a finding with status st whose message contains needle. */
static void expect(const imgfmt_check_result *r, enum imgfmt_check_id id,
                   enum imgfmt_check_status st, const char *needle)
{
    imgfmt_check_finding f;
    ck_assert_msg(find_nth(r, id, 0, &f), "no %s finding", imgfmt_check_id_name(id));
    ck_assert_msg(f.status == st, "%s: status %s, expected %s (%s)", f.check_name,
                  f.status_name, imgfmt_check_status_name(st), f.message);
    if (needle)
        ck_assert_msg(strstr(f.message, needle), "%s: \"%s\" lacks \"%s\"", f.check_name,
                      f.message, needle);
}

static void expect_fix(const imgfmt_check_result *r, enum imgfmt_check_id id,
                       const char *needle)
{
    imgfmt_check_finding f;
    ck_assert(find_nth(r, id, 0, &f));
    ck_assert_msg(strstr(f.fix, needle), "%s: fix \"%s\" lacks \"%s\"", f.check_name, f.fix,
                  needle);
}

static void expect_absent(const imgfmt_check_result *r, enum imgfmt_check_id id)
{
    imgfmt_check_finding f;
    ck_assert_msg(!find_nth(r, id, 0, &f), "unexpected %s finding: %s", f.check_name,
                  f.message);
}

static imgfmt_check_opts opts_os(enum imgfmt_check_os os)
{
    imgfmt_check_opts o;
    imgfmt_check_opts_init(&o);
    o.os = os;
    return o;
}

/* ---- names, options, arguments ------------------------------------------ */

START_TEST(test_names)
{
    ck_assert_str_eq(imgfmt_check_status_name(IMGFMT_CHECK_PASS), "pass");
    ck_assert_str_eq(imgfmt_check_status_name(IMGFMT_CHECK_FAIL), "fail");
    ck_assert_str_eq(imgfmt_check_status_name(IMGFMT_CHECK_WARN), "warn");
    ck_assert_str_eq(imgfmt_check_status_name(IMGFMT_CHECK_NOT_CHECKED), "not-checked");
    ck_assert_str_eq(imgfmt_check_status_name((enum imgfmt_check_status)4), "unknown");
    ck_assert_str_eq(imgfmt_check_status_name((enum imgfmt_check_status)-1), "unknown");
    static const char *const codes[] = {
        NULL, "InvalidFormatSize", "PartitionNotPresent", "RootPartitionNotFound",
        "VirtioNotInstall", "CloudInitNotInstalled", "ExternalFiles", "VhdSizeRule",
        "ImageState", "ImageWarning", "WindowsDiskLayout", "OsNotListed", "DeviceNames",
    };
    for (int c = 1; c <= 12; c++)
        ck_assert_str_eq(imgfmt_check_code_name((enum imgfmt_check_code)c), codes[c]);
    ck_assert_str_eq(imgfmt_check_code_name((enum imgfmt_check_code)0), "unknown");
    ck_assert_str_eq(imgfmt_check_code_name((enum imgfmt_check_code)13), "unknown");
    static const char *const ids[] = {
        NULL, "format", "virtual-size", "converted-size", "external-files", "corrupt",
        "dirty", "image-warning", "vhd-size", "partition-table", "partition-warning",
        "root-partition", "windows-table", "windows-dynamic-disk", "windows-lvm",
        "windows-system", "virtio-drivers", "cloud-init", "os-list", "device-names",
    };
    for (int i = 1; i <= 19; i++)
        ck_assert_str_eq(imgfmt_check_id_name((enum imgfmt_check_id)i), ids[i]);
    ck_assert_str_eq(imgfmt_check_id_name((enum imgfmt_check_id)0), "unknown");
    ck_assert_str_eq(imgfmt_check_id_name((enum imgfmt_check_id)20), "unknown");
    ck_assert_str_eq(imgfmt_check_os_name(IMGFMT_CHECK_OS_AUTO), "auto");
    ck_assert_str_eq(imgfmt_check_os_name(IMGFMT_CHECK_OS_LINUX), "linux");
    ck_assert_str_eq(imgfmt_check_os_name(IMGFMT_CHECK_OS_WINDOWS), "windows");
    ck_assert_str_eq(imgfmt_check_os_name((enum imgfmt_check_os)3), "unknown");
}
END_TEST

START_TEST(test_opts)
{
    imgfmt_check_opts o;
    memset(&o, 0xa5, sizeof o);
    imgfmt_check_opts_init(&o);
    imgfmt_check_opts_init(NULL);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert_int_eq(o.os, IMGFMT_CHECK_OS_AUTO);
    ck_assert_uint_eq(o.max_virtual_size, 500ull << 30);
    ck_assert_uint_eq(o.max_converted_size, 50ull << 30);
    ck_assert_uint_eq(o.accepted_formats, 0x1eu);   /* bits 1..4: raw vhd qcow2 vmdk */
    ck_assert_ptr_null(o.progress);

    size_t n;
    uint8_t *b = gz_load("check-linux-mbr.raw", &n);
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_check_result *r = NULL;
    imgfmt_error err = {0};
    /* struct_size: 0, too small, a prefix, larger than this library knows. */
    static const uint32_t bad[] = {0, 3, offsetof(imgfmt_check_opts, max_virtual_size),
                                   sizeof o - 1, sizeof o + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.struct_size = bad[i];
        ck_assert_int_eq(imgfmt_check_run(img, &o, &r, &err), IMGFMT_E_INVAL);
        ck_assert_ptr_null(r);
        ck_assert_int_eq(err.code, IMGFMT_E_INVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "struct_size"));
    }
    /* An unknown os; no accepted format, an unknown one. */
    imgfmt_check_opts_init(&o);
    o.os = (enum imgfmt_check_os)3;
    ck_assert_int_eq(imgfmt_check_run(img, &o, &r, &err), IMGFMT_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "os"));
    static const uint32_t masks[] = {0, IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_UNKNOWN),
                                     IMGFMT_CHECK_FORMAT_BIT(5) | 0x2u, 0x80000000u};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        imgfmt_check_opts_init(&o);
        o.accepted_formats = masks[i];
        ck_assert_int_eq(imgfmt_check_run(img, &o, &r, &err), IMGFMT_E_INVAL);
        ck_assert_ptr_null(r);
        ck_assert_ptr_nonnull(strstr(err.msg, "accepted_formats"));
    }
    /* The options are taken: the Windows rules, a 1-byte size limit. */
    imgfmt_check_opts_init(&o);
    o.os = IMGFMT_CHECK_OS_WINDOWS;
    o.max_virtual_size = 1;
    r = run_img(img, &o);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_WINDOWS);
    expect(r, IMGFMT_CHECK_ID_VIRTUAL_SIZE, IMGFMT_CHECK_FAIL, "vs limit 1 B (1 bytes)");
    imgfmt_check_result_free(r);
    /* NULL options: the defaults. */
    r = run_img(img, NULL);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_LINUX);
    imgfmt_check_result_free(r);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_null_args)
{
    imgfmt_check_result *r = (imgfmt_check_result *)&r;
    imgfmt_error err = {0};
    ck_assert_int_eq(imgfmt_check_run(NULL, NULL, &r, &err), IMGFMT_E_INVAL);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err.msg, "NULL"));
    size_t n;
    uint8_t *b = gz_load("check-empty-mbr.raw", &n);
    imgfmt_image *img = open_mem_ok(b, n);
    ck_assert_int_eq(imgfmt_check_run(img, NULL, NULL, NULL), IMGFMT_E_INVAL);
    imgfmt_close(img);
    free(b);
    r = (imgfmt_check_result *)&r;
    ck_assert_int_eq(imgfmt_check_path(NULL, NULL, NULL, &r, NULL), IMGFMT_E_INVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(imgfmt_check_path(td_path("check-empty-mbr.raw.gz"), NULL, NULL, NULL,
                                       &err), IMGFMT_E_INVAL);
    /* A file that is not there, a directory: I/O errors, not findings. */
    ck_assert_int_eq(imgfmt_check_path("/nonexistent/disk.raw", NULL, NULL, &r, &err),
                     IMGFMT_E_IO);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/disk.raw"));
    ck_assert_int_eq(imgfmt_check_path("/", NULL, NULL, &r, &err), IMGFMT_E_IO);
    /* Bad open options are the caller's error. */
    imgfmt_open_opts oo;
    imgfmt_open_opts_init(&oo);
    oo.struct_size = 1;
    ck_assert_int_eq(imgfmt_check_path(td_path("check-empty-mbr.raw.gz"), &oo, NULL, &r, &err),
                     IMGFMT_E_INVAL);
    /* Accessors on NULL. */
    ck_assert_uint_eq(imgfmt_check_count(NULL), 0);
    ck_assert_uint_eq(imgfmt_check_count_status(NULL, IMGFMT_CHECK_FAIL), 0);
    ck_assert_int_eq(imgfmt_check_result_os(NULL), IMGFMT_CHECK_OS_AUTO);
    ck_assert_int_eq(imgfmt_check_read_error(NULL)->code, IMGFMT_OK);
    imgfmt_check_finding f = {.struct_size = sizeof f};
    ck_assert_int_eq(imgfmt_check_get(NULL, 0, &f), IMGFMT_E_INVAL);
    imgfmt_check_result_free(NULL);
}
END_TEST

START_TEST(test_iteration)
{
    imgfmt_check_result *r = run_gz("check-linux-mbr.raw", NULL);
    uint32_t n = imgfmt_check_count(r);
    ck_assert_uint_eq(n, 8);
    uint32_t sum = 0;
    for (int s = IMGFMT_CHECK_PASS; s <= IMGFMT_CHECK_NOT_CHECKED; s++)
        sum += imgfmt_check_count_status(r, (enum imgfmt_check_status)s);
    ck_assert_uint_eq(sum, n);
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_NOT_CHECKED), 2);
    ck_assert_uint_eq(imgfmt_check_count_status(r, (enum imgfmt_check_status)9), 0);
    static const enum imgfmt_check_id order[] = {
        IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_ID_VIRTUAL_SIZE, IMGFMT_CHECK_ID_CONVERTED_SIZE,
        IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_ID_PARTITION_TABLE,
        IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_ID_VIRTIO_DRIVERS,
        IMGFMT_CHECK_ID_CLOUD_INIT,
    };
    for (uint32_t i = 0; i < n; i++) {
        imgfmt_check_finding f = {.struct_size = sizeof f};
        ck_assert_int_eq(imgfmt_check_get(r, i, &f), 0);
        ck_assert_int_eq(f.check, order[i]);
        ck_assert_str_eq(f.check_name, imgfmt_check_id_name(f.check));
        ck_assert_str_eq(f.code_name, imgfmt_check_code_name(f.code));
        ck_assert_str_eq(f.status_name, imgfmt_check_status_name(f.status));
        ck_assert(f.message[0]);
        /* A fix exactly when the rule fails or warns. */
        ck_assert_int_eq(f.fix[0] != 0,
                         f.status == IMGFMT_CHECK_FAIL || f.status == IMGFMT_CHECK_WARN);
        int sized = f.check == IMGFMT_CHECK_ID_VIRTUAL_SIZE ||
                    f.check == IMGFMT_CHECK_ID_CONVERTED_SIZE;
        ck_assert_int_eq(f.measured != IMGFMT_CHECK_NO_VALUE, sized);
        ck_assert_int_eq(f.limit != IMGFMT_CHECK_NO_VALUE, sized);
    }
    imgfmt_check_finding f = {.struct_size = sizeof f};
    ck_assert_int_eq(imgfmt_check_get(r, n, &f), IMGFMT_E_RANGE);
    ck_assert_int_eq(imgfmt_check_get(r, UINT32_MAX, &f), IMGFMT_E_RANGE);
    ck_assert_int_eq(imgfmt_check_get(r, 0, NULL), IMGFMT_E_INVAL);
    f.struct_size = 0;
    ck_assert_int_eq(imgfmt_check_get(r, 0, &f), IMGFMT_E_INVAL);
    f.struct_size = sizeof f + 1;
    ck_assert_int_eq(imgfmt_check_get(r, 0, &f), IMGFMT_E_INVAL);
    /* A prefix of the struct is refused, and nothing is written. */
    memset(&f, 0x5a, sizeof f);
    f.struct_size = offsetof(imgfmt_check_finding, code_name);
    ck_assert_int_eq(imgfmt_check_get(r, 0, &f), IMGFMT_E_INVAL);
    ck_assert_uint_eq(f.struct_size, offsetof(imgfmt_check_finding, code_name));
    const unsigned char *rest = (const unsigned char *)&f + sizeof f.struct_size;
    for (size_t i = 0; i < offsetof(imgfmt_check_finding, code_name) - sizeof f.struct_size; i++)
        ck_assert_uint_eq(rest[i], 0x5a);
    /* The caller's struct_size is left as it was. */
    f.struct_size = sizeof f;
    ck_assert_int_eq(imgfmt_check_get(r, 0, &f), 0);
    ck_assert_uint_eq(f.struct_size, sizeof f);
    ck_assert_int_eq(imgfmt_check_read_error(r)->code, IMGFMT_OK);
    imgfmt_check_result_free(r);
}
END_TEST

/* ---- Linux and Windows layouts ------------------------------------------ */

START_TEST(test_linux_mbr)
{
    size_t n;
    uint8_t *b = gz_load("check-linux-mbr.raw", &n);
    imgfmt_check_result *r = run_mem(b, n, NULL);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_LINUX);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format raw");
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_PASS, "self-contained");
    expect_absent(r, IMGFMT_CHECK_ID_DIRTY);        /* raw has no state */
    expect_absent(r, IMGFMT_CHECK_ID_VHD_SIZE);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_PASS,
           "MBR partition table, 4 partition(s), 512-byte sectors");
    /* Partition 2 is an empty ext4: a signature, not an OS root. */
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "no file system holds an OS root");
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL, "2 ext4");
    expect_fix(r, IMGFMT_CHECK_ID_ROOT_PARTITION, "/etc/fstab");
    expect(r, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, IMGFMT_CHECK_NOT_CHECKED, "no OS root");
    expect(r, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_NOT_CHECKED, "no OS root");
    expect_absent(r, IMGFMT_CHECK_ID_WINDOWS_TABLE);
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 1);
    imgfmt_check_result_free(r);

    /* The same disk under the Windows rules: MBR passes; the LDM (4) and
     * LVM (3) partitions and the missing NTFS fail. */
    imgfmt_check_opts o = opts_os(IMGFMT_CHECK_OS_WINDOWS);
    r = run_mem(b, n, &o);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_WINDOWS);
    expect(r, IMGFMT_CHECK_ID_WINDOWS_TABLE, IMGFMT_CHECK_PASS, "MBR partition table");
    expect(r, IMGFMT_CHECK_ID_WINDOWS_DYNAMIC_DISK, IMGFMT_CHECK_FAIL,
           "partition 4 is a dynamic disk (LDM, type 0x42)");
    expect(r, IMGFMT_CHECK_ID_WINDOWS_LVM, IMGFMT_CHECK_FAIL,
           "partition 3 is an LVM physical volume");
    expect(r, IMGFMT_CHECK_ID_WINDOWS_SYSTEM, IMGFMT_CHECK_FAIL, "no partition holds NTFS");
    expect_absent(r, IMGFMT_CHECK_ID_ROOT_PARTITION);
    imgfmt_check_result_free(r);

    /* The roles the partition code gives. */
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_partition_table *t = NULL;
    ck_assert_int_eq(imgfmt_partitions(img, &t), 0);
    ck_assert_uint_eq(t->nb_partitions, 4);
    ck_assert_int_eq(imgfmt_partition_role(&t->parts[0]), IMGFMT_PART_ROLE_ESP);
    ck_assert_int_eq(imgfmt_partition_role(&t->parts[1]), IMGFMT_PART_ROLE_OTHER);
    ck_assert_int_eq(imgfmt_partition_role(&t->parts[2]), IMGFMT_PART_ROLE_LVM_PV);
    ck_assert_int_eq(imgfmt_partition_role(&t->parts[3]), IMGFMT_PART_ROLE_LDM);
    ck_assert_int_eq(imgfmt_partition_role(NULL), IMGFMT_PART_ROLE_OTHER);
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
    free(b);
}
END_TEST

START_TEST(test_windows)
{
    imgfmt_check_result *r = run_gz("check-win-mbr.raw", NULL);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_WINDOWS);
    expect(r, IMGFMT_CHECK_ID_WINDOWS_TABLE, IMGFMT_CHECK_PASS, "MBR partition table");
    /* An empty NTFS: the signature alone is no Windows system volume (the
     * Windows-shaped guest of tests/crosscheck/windows.sh passes). */
    expect(r, IMGFMT_CHECK_ID_WINDOWS_SYSTEM, IMGFMT_CHECK_FAIL,
           "no NTFS volume holds Windows");
    expect(r, IMGFMT_CHECK_ID_WINDOWS_SYSTEM, IMGFMT_CHECK_FAIL, "1 ntfs");
    expect_absent(r, IMGFMT_CHECK_ID_WINDOWS_DYNAMIC_DISK);
    expect_absent(r, IMGFMT_CHECK_ID_WINDOWS_LVM);
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 1);
    imgfmt_check_result_free(r);
    /* The same disk with BitLocker's signature on partition 1: nothing about
     * the Windows system can be read, so it is not-checked (never a pass). */
    {
        size_t n;
        uint8_t *b = gz_load("check-win-mbr.raw", &n);
        uint64_t start = (uint64_t)(b[0x1c6] | b[0x1c7] << 8 | b[0x1c8] << 16 |
                                    (uint32_t)b[0x1c9] << 24) * 512;
        ck_assert_uint_lt(start + 16, n);
        memcpy(b + start + 3, "-FVE-FS-", 8);
        imgfmt_check_result *rb = run_mem(b, n, NULL);
        ck_assert_int_eq(imgfmt_check_result_os(rb), IMGFMT_CHECK_OS_WINDOWS);
        expect(rb, IMGFMT_CHECK_ID_WINDOWS_SYSTEM, IMGFMT_CHECK_NOT_CHECKED,
               "partition 1 is BitLocker-encrypted");
        expect(rb, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, IMGFMT_CHECK_NOT_CHECKED, "BitLocker");
        expect(rb, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_NOT_CHECKED, "BitLocker");
        ck_assert_uint_eq(imgfmt_check_count_status(rb, IMGFMT_CHECK_PASS) > 0, 1);
        imgfmt_check_result_free(rb);
        free(b);
    }
    /* Under the Linux rules: no root, and the partitions are named. */
    imgfmt_check_opts o = opts_os(IMGFMT_CHECK_OS_LINUX);
    r = run_gz("check-win-mbr.raw", &o);
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "no partition holds ext2/3/4, XFS or btrfs; partitions 1: ntfs");
    expect_fix(r, IMGFMT_CHECK_ID_ROOT_PARTITION, "ext2/3/4, XFS or btrfs on a partition");
    imgfmt_check_result_free(r);
    /* A lone LDM partition makes it a Windows disk. */
    r = run_gz("check-ldm-mbr.raw", NULL);
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_WINDOWS);
    expect(r, IMGFMT_CHECK_ID_WINDOWS_DYNAMIC_DISK, IMGFMT_CHECK_FAIL, "partition 1 is a dynamic");
    expect(r, IMGFMT_CHECK_ID_WINDOWS_SYSTEM, IMGFMT_CHECK_FAIL, "no partition holds NTFS");
    imgfmt_check_result_free(r);
}
END_TEST

/* The guest samples (tests/gen/mkguest-sample.sh): a real root with /boot
 * on its own partition, virtio in the initramfs and cloud-init enabled; and
 * the same guest without virtio in the initramfs and cloud-init disabled. */
START_TEST(test_guest)
{
    imgfmt_check_result *r = run_gz("guest-debian.qcow2", NULL);
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_PASS,
           "OS root on partition 2 (ext4): etc/fstab, etc/os-release, sbin/init");
    expect(r, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, IMGFMT_CHECK_PASS,
           "virtio_blk.ko, virtio_ring.ko, virtio.ko, virtio_pci.ko");
    expect(r, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, IMGFMT_CHECK_PASS,
           "in /boot/initrd.img-6.1.0-13-amd64 (none+zstd, 2 segments) of the default kernel "
           "6.1.0-13-amd64 (grub.cfg: set default=0");
    expect(r, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_PASS,
           "enabled by /etc/systemd/system/cloud-init.target.wants/");
    expect(r, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_PASS, "datasource_list: NoCloud");
    expect(r, IMGFMT_CHECK_ID_OS_LIST, IMGFMT_CHECK_PASS,
           "debian 12 (Debian GNU/Linux 12 (bookworm)), x86_64 64-bit: on the list");
    expect(r, IMGFMT_CHECK_ID_DEVICE_NAMES, IMGFMT_CHECK_PASS, "no /dev/sdX");
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 0);
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_NOT_CHECKED), 0);
    imgfmt_check_result_free(r);

    /* The provider's own list: Debian is not on it. */
    imgfmt_check_opts o;
    imgfmt_check_opts_init(&o);
    o.os_list = "# comment\nlinux rocky  \nlinux opensuse\nwindows Windows Server 2016\n";
    r = run_gz("guest-debian.qcow2", &o);
    expect(r, IMGFMT_CHECK_ID_OS_LIST, IMGFMT_CHECK_WARN, "is not on the list (rocky, opensuse)");
    expect_fix(r, IMGFMT_CHECK_ID_OS_LIST, "--os-list");
    imgfmt_check_result_free(r);

    r = run_gz("guest-debian-bad.qcow2", NULL);
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_PASS, "OS root on partition 2");
    expect(r, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, IMGFMT_CHECK_FAIL, "lacks virtio_blk");
    expect_fix(r, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, "update-initramfs -u -k 6.1.0-13-amd64");
    expect(r, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_FAIL, "cloud-init.disabled exists");
    expect_fix(r, IMGFMT_CHECK_ID_CLOUD_INIT, "remove /etc/cloud/cloud-init.disabled");
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 2);
    imgfmt_check_result_free(r);
}
END_TEST

START_TEST(test_lvm_luks)
{
    imgfmt_check_result *r = run_gz("check-lvm-mbr.raw", NULL);
    /* Partition 2 is typed LVM but holds no LVM2 label: nothing to look into. */
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "no file system holds an OS root");
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 1);
    imgfmt_check_result_free(r);

    r = run_gz("check-luks-gpt.raw", NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_PASS,
           "GPT partition table, 2 partition(s), 512-byte sectors");
    expect_absent(r, IMGFMT_CHECK_ID_PARTITION_WARNING);
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "no root-capable file system; partition 2 is LUKS2-encrypted; partitions 1: fat12, "
           "2: crypto_LUKS");
    imgfmt_check_result_free(r);
    /* A GPT disk under the Windows rules. */
    imgfmt_check_opts o = opts_os(IMGFMT_CHECK_OS_WINDOWS);
    r = run_gz("check-luks-gpt.raw", &o);
    expect(r, IMGFMT_CHECK_ID_WINDOWS_TABLE, IMGFMT_CHECK_FAIL,
           "GPT partition table (Windows images need MBR)");
    expect_fix(r, IMGFMT_CHECK_ID_WINDOWS_TABLE, "MBR disk");
    imgfmt_check_result_free(r);
}
END_TEST

START_TEST(test_gpt_damaged)
{
    size_t n;
    uint8_t *b = gz_load("check-luks-gpt.raw", &n);
    /* One byte of the primary entry array (LBA 2) changed: its CRC fails,
     * the backup is used, with a warning. */
    b[2 * 512 + 100] ^= 0xff;
    imgfmt_check_result *r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_PASS, "GPT partition table");
    expect(r, IMGFMT_CHECK_ID_PARTITION_WARNING, IMGFMT_CHECK_WARN, "gpt");
    expect_fix(r, IMGFMT_CHECK_ID_PARTITION_WARNING, "sgdisk -e");
    imgfmt_check_result_free(r);
    /* And the backup entry array (33 sectors before the end) too: invalid. */
    b[n - 33 * 512 + 100] ^= 0xff;
    r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_FAIL, "partition table invalid: ");
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_NOT_CHECKED,
           "the partition table could not be read");
    /* Invalid metadata is a finding, not a read error. */
    ck_assert_int_eq(imgfmt_check_read_error(r)->code, IMGFMT_OK);
    imgfmt_check_result_free(r);
    free(b);
}
END_TEST

START_TEST(test_no_table)
{
    imgfmt_check_result *r = run_gz("check-bare-ext4.raw", NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_FAIL,
           "no partition table: a bare file system (ext4 label \"bare\" UUID ");
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "the ext4 root-capable file system is not in a partition");
    imgfmt_check_result_free(r);
    r = run_gz("check-empty-mbr.raw", NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_FAIL,
           "MBR partition table with no partitions");
    expect_fix(r, IMGFMT_CHECK_ID_PARTITION_TABLE, "MBR or GPT partition table");
    imgfmt_check_result_free(r);
    /* 1 MiB of zeros. */
    uint8_t *z = calloc(1, 1 << 20);
    r = run_mem(z, 1 << 20, NULL);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_FAIL,
           "no MBR or GPT partition table and no file system at offset 0");
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL,
           "no partition holds ext2/3/4, XFS or btrfs");
    imgfmt_check_result_free(r);
    free(z);
}
END_TEST

/* ---- sizes -------------------------------------------------------------- */

START_TEST(test_sizes)
{
    size_t n;
    uint8_t *b = gz_load("check-linux-mbr.raw", &n);
    imgfmt_image *img = open_mem_ok(b, n);
    imgfmt_measure m = {.struct_size = sizeof m};
    ck_assert_int_eq(imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_EXACT, NULL, NULL, &m), 0);
    imgfmt_check_opts o;
    imgfmt_check_opts_init(&o);
    /* Both limits exactly at the measured values: pass. */
    o.max_virtual_size = n;
    o.max_converted_size = m.length;
    imgfmt_check_result *r = run_img(img, &o);
    imgfmt_check_finding f;
    ck_assert(find_nth(r, IMGFMT_CHECK_ID_VIRTUAL_SIZE, 0, &f));
    ck_assert_int_eq(f.status, IMGFMT_CHECK_PASS);
    ck_assert_uint_eq(f.measured, n);
    ck_assert_uint_eq(f.limit, n);
    ck_assert_str_eq(f.message, "virtual size 8 MiB (8388608 bytes) vs limit 8 MiB (8388608 bytes)");
    ck_assert(find_nth(r, IMGFMT_CHECK_ID_CONVERTED_SIZE, 0, &f));
    ck_assert_int_eq(f.status, IMGFMT_CHECK_PASS);
    ck_assert_uint_eq(f.measured, m.length);
    ck_assert_uint_eq(f.limit, m.length);
    imgfmt_check_result_free(r);
    /* One byte less: fail, with a fix. */
    o.max_virtual_size = n - 1;
    o.max_converted_size = m.length - 1;
    r = run_img(img, &o);
    ck_assert(find_nth(r, IMGFMT_CHECK_ID_VIRTUAL_SIZE, 0, &f));
    ck_assert_int_eq(f.status, IMGFMT_CHECK_FAIL);
    ck_assert_uint_eq(f.limit, n - 1);
    expect_fix(r, IMGFMT_CHECK_ID_VIRTUAL_SIZE, "shrink the file systems");
    ck_assert(find_nth(r, IMGFMT_CHECK_ID_CONVERTED_SIZE, 0, &f));
    ck_assert_int_eq(f.status, IMGFMT_CHECK_FAIL);
    ck_assert_uint_eq(f.measured, m.length);
    expect_fix(r, IMGFMT_CHECK_ID_CONVERTED_SIZE, "fstrim");
    /* The two size rules, and the root rule (an empty ext4 is no OS root). */
    ck_assert_uint_eq(imgfmt_check_count_status(r, IMGFMT_CHECK_FAIL), 3);
    imgfmt_check_result_free(r);
    imgfmt_close(img);
    free(b);
}
END_TEST

struct progress_seen { unsigned calls; uint64_t done, total; int backwards; };

static void on_progress(void *opaque, uint64_t done, uint64_t total)
{
    struct progress_seen *p = opaque;
    p->backwards |= done < p->done || done > total;
    p->calls++;
    p->done = done;
    p->total = total;
}

START_TEST(test_progress)
{
    struct progress_seen p = {0};
    imgfmt_check_opts o;
    imgfmt_check_opts_init(&o);
    o.progress = on_progress;
    o.progress_opaque = &p;
    imgfmt_check_result *r = run_gz("check-linux-mbr.raw", &o);
    ck_assert_uint_gt(p.calls, 0);
    ck_assert_int_eq(p.backwards, 0);
    ck_assert_uint_eq(p.done, p.total);
    imgfmt_check_result_free(r);
    /* A refused format is not measured. */
    memset(&p, 0, sizeof p);
    r = run_path(td_path("check-d.vdi.gz"), &o);
    ck_assert_uint_eq(p.calls, 0);
    imgfmt_check_result_free(r);
}
END_TEST

/* The converted size cannot always be measured. */
START_TEST(test_converted_not_checked)
{
    /* Metadata caps that let the image open but not hold what measuring
     * needs (a read window for the compressed clusters): LIMIT, so the
     * length cannot be predicted.  The smallest caps that open it, up to
     * one that is enough. */
    size_t n;
    uint8_t *b = gz_load("compressed.qcow2", &n);
    int limited = 0, measured = 0;
    for (uint64_t cap = 512; cap <= (64u << 10) && !measured; cap += 512) {
        imgfmt_open_opts oo;
        imgfmt_open_opts_init(&oo);
        oo.max_metadata_bytes = cap;
        imgfmt_image *img = NULL;
        if (imgfmt_open_memory(b, n, &oo, &img, NULL) != 0)
            continue;
        imgfmt_check_result *r = run_img(img, NULL);
        imgfmt_check_finding f;
        ck_assert(find_nth(r, IMGFMT_CHECK_ID_CONVERTED_SIZE, 0, &f));
        if (f.status == IMGFMT_CHECK_NOT_CHECKED) {
            ck_assert_ptr_nonnull(strstr(f.message, "converted QCOW2 size: cannot be predicted "
                                                    "exactly: "));
            ck_assert_uint_eq(f.measured, IMGFMT_CHECK_NO_VALUE);
            ck_assert_int_eq(imgfmt_check_read_error(r)->code, IMGFMT_OK);
            limited++;
        } else {
            ck_assert_int_eq(f.status, IMGFMT_CHECK_PASS);
            measured = 1;
        }
        imgfmt_check_result_free(r);
        imgfmt_close(img);
    }
    ck_assert_int_gt(limited, 0);
    ck_assert_int_eq(measured, 1);
    free(b);
    b = gz_load("v2.qcow2", &n);   /* 4 KiB clusters, 1 MiB */
    /* L1 entry 0 pointed past the end of the file (the L1 table offset is
     * the big-endian 64-bit field at byte 40): reading the data fails. */
    uint64_t l1 = 0;
    for (int i = 0; i < 8; i++)
        l1 = l1 << 8 | b[40 + i];
    ck_assert_uint_lt(l1 + 8, n);
    static const uint8_t beyond[8] = {0x80, 0, 0, 0, 0, 0x7f, 0xf0, 0};  /* COPIED | 8 MiB-64K */
    memcpy(b + l1, beyond, 8);
    imgfmt_check_result *r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_CONVERTED_SIZE, IMGFMT_CHECK_NOT_CHECKED,
           "converted QCOW2 size: reading the image failed: ");
    ck_assert_int_lt(imgfmt_check_read_error(r)->code, 0);
    ck_assert(imgfmt_check_read_error(r)->msg[0]);
    imgfmt_check_result_free(r);
    free(b);
}
END_TEST

/* ---- external files, state, VHD ----------------------------------------- */

START_TEST(test_external)
{
    td_make_tmpdir("test-check");
    char child[4200], top[4200], vmdk[4200];
    td_unpack("vhd-diff-parent.vhd");
    snprintf(child, sizeof child, "%s", td_unpack("vhd-diff-child.vhd"));
    td_unpack("backing-base.qcow2");
    snprintf(top, sizeof top, "%s", td_unpack("backing-top.qcow2"));
    td_unpack("check-vmdk-base.vmdk");
    snprintf(vmdk, sizeof vmdk, "%s", td_unpack("check-vmdk-child.vmdk"));

    imgfmt_check_result *r = run_path(child, NULL);
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL,
           "differencing VHD: the data also lives in its parent ");
    expect_fix(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, "flatten the chain");
    /* Its warning (qemu ignores the parent) has the general fix. */
    expect(r, IMGFMT_CHECK_ID_IMAGE_WARNING, IMGFMT_CHECK_WARN, "differencing VHD");
    expect_fix(r, IMGFMT_CHECK_ID_IMAGE_WARNING, "read the warning");
    imgfmt_check_result_free(r);

    r = run_path(top, NULL);
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL,
           "qcow2 image with a backing file backing-base.qcow2: the uploaded file alone");
    imgfmt_check_result_free(r);

    r = run_path(vmdk, NULL);
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL, "check-vmdk-base.vmdk");
    imgfmt_check_result_free(r);
    /* The VMDK's top layer only: its parent hint still names the parent. */
    imgfmt_open_opts oo;
    imgfmt_open_opts_init(&oo);
    oo.flags = IMGFMT_OPEN_NO_BACKING;
    imgfmt_image *img = NULL;
    ck_assert_int_eq(imgfmt_open(vmdk, &oo, &img, NULL), 0);
    r = run_img(img, NULL);
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL, "check-vmdk-base.vmdk");
    imgfmt_check_result_free(r);
    imgfmt_close(img);

    /* The backing file missing: the image cannot be opened at all. */
    char base[4200];
    snprintf(base, sizeof base, "%s/backing-base.qcow2", td_tmpdir);
    ck_assert_int_eq(unlink(base), 0);
    r = run_path(top, NULL);
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL, "the image needs other files: ");
    expect_fix(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, "where its other files are present");
    expect_absent(r, IMGFMT_CHECK_ID_FORMAT);
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_NOT_CHECKED,
           "not checked: the image could not be read");
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_NOT_CHECKED, "could not be read");
    ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_AUTO);
    imgfmt_check_result_free(r);

    /* Self-contained VHD, qcow2, VMDK. */
    static const char *const alone[] = {"sample.vhd", "v2.qcow2", "vmdk-sparse.vmdk"};
    for (size_t i = 0; i < 3; i++) {
        r = run_gz(alone[i], NULL);
        expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_PASS,
               "self-contained: no backing, parent or extent files");
        imgfmt_check_result_free(r);
    }
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_state)
{
    size_t n;
    uint8_t *b = gz_load("v3-zero.qcow2", &n);
    imgfmt_check_result *r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_DIRTY, IMGFMT_CHECK_PASS, "not marked dirty or corrupt");
    expect_absent(r, IMGFMT_CHECK_ID_CORRUPT);
    imgfmt_check_result_free(r);
    /* Incompatible feature bits (big-endian 64-bit at byte 72): bit 0 dirty. */
    b[79] = 0x01;
    r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_DIRTY, IMGFMT_CHECK_WARN,
           "qcow2 image is marked dirty (not closed cleanly)");
    expect_fix(r, IMGFMT_CHECK_ID_DIRTY, "qemu-img check -r all");
    expect_absent(r, IMGFMT_CHECK_ID_CORRUPT);
    imgfmt_check_result_free(r);
    /* Bit 1: corrupt. */
    b[79] = 0x02;
    r = run_mem(b, n, NULL);
    expect(r, IMGFMT_CHECK_ID_CORRUPT, IMGFMT_CHECK_FAIL, "qcow2 image is marked corrupt");
    expect_absent(r, IMGFMT_CHECK_ID_DIRTY);
    imgfmt_check_result_free(r);
    free(b);
}
END_TEST

START_TEST(test_vhd)
{
    imgfmt_check_result *r = run_gz("sample.vhd", NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format vpc (dynamic)");
    expect(r, IMGFMT_CHECK_ID_VHD_SIZE, IMGFMT_CHECK_PASS,
           "qemu's size 8 MiB (8390656 bytes) covers current_size 8 MiB (8390656 bytes)");
    expect_absent(r, IMGFMT_CHECK_ID_IMAGE_WARNING);
    imgfmt_check_result_free(r);
    /* A fixed VHD: its warning has a fix of its own. */
    r = run_gz("vhd-fixed-1m.vhd", NULL);
    expect(r, IMGFMT_CHECK_ID_IMAGE_WARNING, IMGFMT_CHECK_WARN, "fixed VHD");
    expect_fix(r, IMGFMT_CHECK_ID_IMAGE_WARNING, "declare the format as VHD when importing");
    imgfmt_check_result_free(r);
    /* CHS size below current_size, nothing in the lost 64 KiB (opened from
     * memory: the full-size view is opened on the same buffer). */
    r = run_gz("check-tail-none.vhd", NULL);
    imgfmt_check_finding f;
    ck_assert(find_nth(r, IMGFMT_CHECK_ID_VHD_SIZE, 0, &f));
    ck_assert_int_eq(f.status, IMGFMT_CHECK_WARN);
    ck_assert_str_eq(f.message, "qemu's CHS size 3.94 MiB (4128768 bytes) is 65536 bytes short "
                     "of current_size 4 MiB (4194304 bytes); no partition or GPT lies there");
    ck_assert_uint_eq(f.measured, 65536);
    ck_assert_uint_eq(f.limit, 0);
    ck_assert(strstr(f.fix, "force_size_calc=current_size"));
    expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_FAIL, "1 ext4");
    imgfmt_check_result_free(r);
    /* A partition reaches into the tail: fail (opened by path, and by fd). */
    td_make_tmpdir("test-check");
    const char *path = td_unpack("check-tail-part.vhd");
    for (int by_fd = 0; by_fd < 2; by_fd++) {
        imgfmt_image *img = NULL;
        int fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(by_fd ? imgfmt_open_fd(fd, NULL, &img, NULL)
                               : imgfmt_open(path, NULL, &img, NULL), 0);
        close(fd);
        r = run_img(img, NULL);
        expect(r, IMGFMT_CHECK_ID_VHD_SIZE, IMGFMT_CHECK_FAIL,
               "is 65536 bytes short of current_size 4 MiB (4194304 bytes): partition 1 (ends "
               "at byte 4194304) lies in the lost tail");
        /* Seen at qemu's size, the partition runs past the end. */
        expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_FAIL, "extends past the end");
        imgfmt_check_result_free(r);
        imgfmt_close(img);
    }
    td_rm_tmpdir();
}
END_TEST

/* ---- formats ------------------------------------------------------------ */

START_TEST(test_refused_qemu_made)
{
    static const struct { const char *file, *name; } made[] = {
        {"check-d.vhdx", "format VHDX is not accepted (RAW, VHD, QCOW2 or VMDK only)"},
        {"check-d.vdi", "format VDI (VirtualBox) is not accepted"},
        {"check-d.qcow", "format qcow (version 1) is not accepted"},
        {"check-d.qed", "format QED is not accepted"},
    };
    td_make_tmpdir("test-check");
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        imgfmt_check_result *r = run_path(td_unpack(made[i].file), NULL);
        expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, made[i].name);
        expect_fix(r, IMGFMT_CHECK_ID_FORMAT, "qemu-img convert");
        expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_NOT_CHECKED,
               "not checked: the format is refused");
        expect(r, IMGFMT_CHECK_ID_ROOT_PARTITION, IMGFMT_CHECK_NOT_CHECKED, "refused");
        expect(r, IMGFMT_CHECK_ID_CLOUD_INIT, IMGFMT_CHECK_NOT_CHECKED, NULL);
        expect_absent(r, IMGFMT_CHECK_ID_VIRTUAL_SIZE);
        ck_assert_uint_eq(imgfmt_check_count(r), 5);
        ck_assert_int_eq(imgfmt_check_result_os(r), IMGFMT_CHECK_OS_AUTO);
        imgfmt_check_result_free(r);
    }
    /* The committed files are gzip files themselves. */
    imgfmt_check_result *r = run_path(td_path("check-d.qcow.gz"), NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "format gzip archive is not accepted");
    expect_fix(r, IMGFMT_CHECK_ID_FORMAT, "gunzip");
    imgfmt_check_result_free(r);
    /* An OVA: opened (as its VMDK member) or read as raw, it is refused. */
    const char *ova = td_unpack("sample.ova");
    r = run_path(ova, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "format OVA/tar archive is not accepted");
    imgfmt_check_result_free(r);
    size_t n;
    uint8_t *b = gz_load("sample.ova", &n);
    r = run_mem_fmt(b, n, IMGFMT_FMT_RAW, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "format OVA/tar archive");
    imgfmt_check_result_free(r);
    free(b);
    td_rm_tmpdir();
}
END_TEST

/* Magics laid out here, in 64 KiB of zeros (each then reads as raw). */
START_TEST(test_refused_magics)
{
    static const struct { size_t off; const char *magic; size_t len; const char *name; } m[] = {
        {0, "\xfd" "7zXZ\0", 6, "xz archive"},
        {0, "BZh9", 4, "bzip2 archive"},
        {0, "\x28\xb5\x2f\xfd", 4, "zstd archive"},
        {0, "PK\x03\x04", 4, "zip archive"},
        {0, "PK\x05\x06", 4, "zip archive"},
        {0x8001, "CD001", 5, "ISO9660 (installer/CD image)"},
        {0, "# Disk DescriptorFile\n", 22, "VMDK descriptor"},
        /* Known to the probe's table of formats it does not read. */
        {0, "WithoutFreeSpace", 16, "Parallels image"},
    };
    const size_t n = 64 << 10;
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        memset(b, 0, n);
        memcpy(b + m[i].off, m[i].magic, m[i].len);
        imgfmt_check_result *r = run_mem_fmt(b, n, IMGFMT_FMT_RAW, NULL);
        char want[128];
        snprintf(want, sizeof want, "format %s", m[i].name);
        expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, want);
        imgfmt_check_result_free(r);
    }
    /* Near misses: a bzip2 magic without its level digit, a qcow2 (version
     * 2) magic are no refused format. */
    memset(b, 0, n);
    memcpy(b, "BZhx", 4);
    imgfmt_check_result *r = run_mem_fmt(b, n, IMGFMT_FMT_RAW, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format raw");
    imgfmt_check_result_free(r);
    memcpy(b, "QFI\xfb\0\0\0\x02", 8);
    r = run_mem_fmt(b, n, IMGFMT_FMT_RAW, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format raw");
    imgfmt_check_result_free(r);
    /* A file shorter than every magic. */
    r = run_mem_fmt(b, 3, IMGFMT_FMT_RAW, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format raw");
    imgfmt_check_result_free(r);
    free(b);
}
END_TEST

START_TEST(test_vmdk_descriptor)
{
    td_make_tmpdir("test-check");
    const char *desc = td_unpack("desc-pair.vmdk");
    char path[4200];
    snprintf(path, sizeof path, "%s", desc);
    /* Without its extent file: the descriptor cannot be opened. */
    imgfmt_check_result *r = run_path(path, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL,
           "format VMDK descriptor (the data are in separate extent files) is not accepted");
    expect(r, IMGFMT_CHECK_ID_EXTERNAL_FILES, IMGFMT_CHECK_FAIL,
           "the descriptor's extents cannot be read: ");
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_NOT_CHECKED, "refused");
    imgfmt_check_result_free(r);
    /* With it: refused all the same, no warnings. */
    td_unpack("desc-pair-flat.vmdk");
    r = run_path(path, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "VMDK descriptor");
    expect_absent(r, IMGFMT_CHECK_ID_EXTERNAL_FILES);
    expect_absent(r, IMGFMT_CHECK_ID_IMAGE_WARNING);
    imgfmt_check_result_free(r);
    /* A descriptor written here whose first extent line is RDONLY: qemu
     * drops it (the library warns), which the finding reports. */
    static const char text[] =
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        "createType=\"monolithicFlat\"\n"
        "RDONLY 2048 FLAT \"desc-pair-flat.vmdk\" 0\n"
        "RW 2048 FLAT \"desc-pair-flat.vmdk\" 2048\n";
    snprintf(path, sizeof path, "%s/ro.vmdk", td_tmpdir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    r = run_path(path, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "VMDK descriptor");
    expect(r, IMGFMT_CHECK_ID_IMAGE_WARNING, IMGFMT_CHECK_WARN, "access other than RW ignored");
    expect_fix(r, IMGFMT_CHECK_ID_IMAGE_WARNING, "make every extent RW in the descriptor");
    imgfmt_check_result_free(r);
    td_rm_tmpdir();
}
END_TEST

START_TEST(test_accepted_and_unreadable)
{
    /* Accepted formats narrowed: VMDK refused by the caller's profile. */
    imgfmt_check_opts o;
    imgfmt_check_opts_init(&o);
    o.accepted_formats = IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_RAW) |
                         IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_VHD) |
                         IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_QCOW2);
    imgfmt_check_result *r = run_gz("vmdk-sparse.vmdk", &o);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL,
           "format vmdk is not accepted (RAW, VHD or QCOW2 only)");
    expect_fix(r, IMGFMT_CHECK_ID_FORMAT, "imgfmt-convert -O qcow2");
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_NOT_CHECKED, "refused");
    ck_assert_uint_eq(imgfmt_check_count(r), 5);
    imgfmt_check_result_free(r);
    o.accepted_formats = IMGFMT_CHECK_FORMAT_BIT(IMGFMT_FMT_QCOW2);
    r = run_gz("sample.vhd", &o);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "format vpc is not accepted (QCOW2 only)");
    imgfmt_check_result_free(r);
    r = run_gz("v2.qcow2", &o);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_PASS, "format qcow2");
    imgfmt_check_result_free(r);

    /* A qcow2 whose cluster_bits (big-endian 32-bit at byte 20) is 99:
     * nothing opens it, and it is no refused format either. */
    size_t n;
    uint8_t *b = gz_load("v2.qcow2", &n);
    b[23] = 99;
    char *path = tmp_file(b, n);
    r = run_path(path, NULL);
    expect(r, IMGFMT_CHECK_ID_FORMAT, IMGFMT_CHECK_FAIL, "unreadable image: qcow2");
    expect_fix(r, IMGFMT_CHECK_ID_FORMAT, "re-export the disk");
    expect(r, IMGFMT_CHECK_ID_PARTITION_TABLE, IMGFMT_CHECK_NOT_CHECKED,
           "not checked: the image could not be read");
    imgfmt_check_result_free(r);
    unlink(path);
    free(path);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_opts);
    tcase_add_test(tc, test_null_args);
    tcase_add_test(tc, test_iteration);
    suite_add_tcase(s, tc);
    tc = tcase_create("layout");
    tcase_add_test(tc, test_linux_mbr);
    tcase_add_test(tc, test_windows);
    tcase_add_test(tc, test_lvm_luks);
    tcase_add_test(tc, test_guest);
    tcase_add_test(tc, test_gpt_damaged);
    tcase_add_test(tc, test_no_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("sizes");
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_progress);
    tcase_add_test(tc, test_converted_not_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("image");
    tcase_add_test(tc, test_external);
    tcase_add_test(tc, test_state);
    tcase_add_test(tc, test_vhd);
    suite_add_tcase(s, tc);
    tc = tcase_create("formats");
    tcase_add_test(tc, test_refused_qemu_made);
    tcase_add_test(tc, test_refused_magics);
    tcase_add_test(tc, test_vmdk_descriptor);
    tcase_add_test(tc, test_accepted_and_unreadable);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
