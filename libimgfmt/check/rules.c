/*
 * rules.c -- the import rules.  Each rule looks at one property of the
 * image (format, sizes, external files, state, the VHD size rule, the
 * partition table, the root or Windows system volume) and records its
 * findings, in the import service's error codes, with what it measured and
 * a one-sentence fix.  The texts are part of imgfmt-check's output.
 */
#define IMGFMT_BUILDING 1
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check/check.h"
#include "formats/vmdk.h"

#define FIX_FLATTEN "flatten the chain into one file with imgfmt-convert -O qcow2 IMAGE " \
                    "disk.qcow2 and upload that file"
#define FIX_NO_TABLE "the import needs a partitioned disk: install or copy the system onto " \
                     "a disk with an MBR or GPT partition table"

/* Shorthands: the result of this run. */
#define ADD(c, code, id, st, fix, ...) \
    ifmt_check_add((c)->res, IMGFMT_CODE_##code, IMGFMT_CHECK_ID_##id, IMGFMT_CHECK_##st, \
                   fix, __VA_ARGS__)

/* ---- text helpers ------------------------------------------------------- */

/* "1.5 GiB (1610612736 bytes)": qemu's size_to_str() (the unit changes at
 * 1000 of the smaller one, three significant digits), then the exact count. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double x = (double)v * 1.024;
    int i = 0;
    while (i < 6 && x >= (double)(1ull << (10 * (i + 1))))
        i++;
    snprintf(buf, len, "%0.3g %s (%" PRIu64 " bytes)", (double)v / (double)(1ull << (10 * i)),
             units[i], v);
    return buf;
}

/* "ext4 label "root" UUID ...", "xfs v5", "LUKS2", "no known file system". */
static void describe_fs(const imgfmt_fs *fs, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", fs->name[0] ? fs->name : "no known file system");
    if (fs->type == IMGFMT_FS_XFS && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " v%u", fs->version);
    if (fs->type == IMGFMT_FS_LUKS && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "%u", fs->version);
    if (fs->label[0] && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " label \"%s\"", fs->label);
    if (fs->uuid[0] && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " UUID %s", fs->uuid);
}

static const char *table_name(const imgfmt_partition_table *t)
{
    if (t->type == IMGFMT_TABLE_MBR)
        return "MBR";
    if (t->type == IMGFMT_TABLE_GPT)
        return t->hybrid_mbr ? "GPT (hybrid MBR)" : "GPT";
    return "none";
}

/* "RAW, VHD, QCOW2 or VMDK": the accepted formats. */
static void accepted_list(uint32_t mask, char *buf, size_t len)
{
    static const struct { enum imgfmt_format f; const char *name; } all[] = {
        {IMGFMT_FMT_RAW, "RAW"}, {IMGFMT_FMT_VHD, "VHD"},
        {IMGFMT_FMT_QCOW2, "QCOW2"}, {IMGFMT_FMT_VMDK, "VMDK"},
    };
    size_t total = 0, seen = 0, n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        total += (mask & IMGFMT_CHECK_FORMAT_BIT(all[i].f)) != 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < len; i++) {
        if (!(mask & IMGFMT_CHECK_FORMAT_BIT(all[i].f)))
            continue;
        const char *sep = seen == 0 ? "" : seen + 1 == total ? " or " : ", ";
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, all[i].name);
        seen++;
    }
}

/* Warning i of the image is one of the image format's (not a partition
 * table's). */
static bool is_format_warning(const imgfmt_image *img, uint32_t i)
{
    enum imgfmt_warning_code code = imgfmt_warning_code(img, i);
    return code != IMGFMT_W_NONE && code < IMGFMT_W_PARTITION_FIRST;
}

/* ---- rules that need no disk -------------------------------------------- */

/* The guest-content rules (and, when the disk could not be read at all,
 * the partition rules) with the reason they were not applied. */
static void not_checked_rest(struct ifmt_check *c, bool partitions, const char *why)
{
    if (partitions) {
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, NOT_CHECKED, NULL, "%s", why);
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, NOT_CHECKED, NULL, "%s", why);
    }
    ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
        "not checked: needs file-system inspection (drivers in the guest)");
    ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL,
        "not checked: needs file-system inspection (packages in the guest)");
}

void ifmt_check_refused(struct ifmt_check *c, const struct ifmt_refused *why,
                        const imgfmt_error *open_err)
{
    char list[64];
    accepted_list(c->opts.accepted_formats, list, sizeof list);
    ADD(c, INVALID_FORMAT_SIZE, FORMAT, FAIL, why->fix,
        "format %s is not accepted (%s only)", why->name, list);
    if (why->vmdk_descriptor && c->img) {
        /* What the extents would give: qemu drops RDONLY/NOACCESS extent
         * lines (the library warns). */
        for (uint32_t i = 0; i < imgfmt_nb_warnings(c->img); i++)
            if (is_format_warning(c->img, i))
                ADD(c, IMAGE_WARNING, IMAGE_WARNING, WARN,
                    "make every extent RW in the descriptor before converting it to one "
                    "file, so no extent is dropped", "%s", imgfmt_warning(c->img, i));
    } else if (why->vmdk_descriptor) {
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL, why->fix,
            "the descriptor's extents cannot be read: %s", open_err->msg);
    }
    not_checked_rest(c, true, "not checked: the format is refused");
}

void ifmt_check_unopenable(struct ifmt_check *c, const imgfmt_error *open_err)
{
    if (open_err->code == IMGFMT_E_BACKING)
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL,
            "upload a self-contained image: flatten it with imgfmt-convert -O qcow2 IMAGE "
            "disk.qcow2 where its other files are present",
            "the image needs other files: %s", open_err->msg);
    else
        ADD(c, INVALID_FORMAT_SIZE, FORMAT, FAIL,
            "re-export the disk from its source; this file cannot be read as RAW, VHD, "
            "QCOW2 or VMDK", "unreadable image: %s", open_err->msg);
    not_checked_rest(c, true, "not checked: the image could not be read");
}

/* ---- sizes -------------------------------------------------------------- */

static void check_virtual_size(struct ifmt_check *c)
{
    char a[64], b[64];
    uint64_t v = c->info.virtual_size, max = c->opts.max_virtual_size;
    struct ifmt_finding *f = v <= max
        ? ADD(c, INVALID_FORMAT_SIZE, VIRTUAL_SIZE, PASS, NULL, "virtual size %s vs limit %s",
              size_text(v, a, sizeof a), size_text(max, b, sizeof b))
        : ADD(c, INVALID_FORMAT_SIZE, VIRTUAL_SIZE, FAIL,
              "shrink the file systems and the disk below the limit (or raise the limit if "
              "your service allows more) before uploading", "virtual size %s vs limit %s",
              size_text(v, a, sizeof a), size_text(max, b, sizeof b));
    if (f) {
        f->measured = v;
        f->limit = max;
    }
}

/* The exact length of the QCOW2 file the service's qemu-img convert makes
 * (default options: compat 1.1, 64 KiB clusters), reading every DATA run as
 * qemu-img does to skip all-zero clusters. */
static void check_converted_size(struct ifmt_check *c)
{
    imgfmt_measure m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    int r = imgfmt_measure_qcow2(c->img, NULL, IMGFMT_MEASURE_EXACT, c->opts.progress,
                                 c->opts.progress_opaque, &m);
    const imgfmt_error *e = imgfmt_last_error(c->img);
    if (r == IMGFMT_E_UNSUPPORTED || r == IMGFMT_E_LIMIT) {
        ADD(c, INVALID_FORMAT_SIZE, CONVERTED_SIZE, NOT_CHECKED, NULL,
            "converted QCOW2 size: cannot be predicted exactly: %s", e->msg);
        return;
    }
    if (r < 0) {
        ADD(c, INVALID_FORMAT_SIZE, CONVERTED_SIZE, NOT_CHECKED, NULL,
            "converted QCOW2 size: reading the image failed: %s", e->msg);
        ifmt_check_read_failed(c->res, e);
        return;
    }
    char a[64], b[64];
    uint64_t max = c->opts.max_converted_size;
    struct ifmt_finding *f = m.length <= max
        ? ADD(c, INVALID_FORMAT_SIZE, CONVERTED_SIZE, PASS, NULL,
              "converted QCOW2 size %s vs limit %s", size_text(m.length, a, sizeof a),
              size_text(max, b, sizeof b))
        : ADD(c, INVALID_FORMAT_SIZE, CONVERTED_SIZE, FAIL,
              "free space inside the guest and zero it (fstrim, or fill with zeros and "
              "delete) so fewer clusters are allocated, or shrink the disk",
              "converted QCOW2 size %s vs limit %s", size_text(m.length, a, sizeof a),
              size_text(max, b, sizeof b));
    if (f) {
        f->measured = m.length;
        f->limit = max;
    }
}

/* ---- external files ----------------------------------------------------- */

/* A VMDK extent kept in another file than the one opened, or -1. */
static int64_t vmdk_other_extent(struct ifmt_check *c)
{
    for (uint32_t i = 0; i < c->info.vmdk.nb_extents; i++)
        if (ifmt_vmdk_extent_in_other_file(c->img, i))
            return i;
    return -1;
}

static void check_external(struct ifmt_check *c)
{
    const imgfmt_info *in = &c->info;
    if (in->format == IMGFMT_FMT_VHD && in->vhd.disk_type == IMGFMT_VHD_DIFFERENCING) {
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL, FIX_FLATTEN,
            "differencing VHD: the data also lives in its parent %s",
            in->backing_filename ? in->backing_filename : "(unnamed)");
        return;
    }
    if (in->backing_filename) {
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL, FIX_FLATTEN,
            "%s image with a backing file %s: the uploaded file alone is not the disk",
            in->format_name, in->backing_filename);
        return;
    }
    if (in->format == IMGFMT_FMT_VMDK && in->vmdk.parent_hint && in->vmdk.parent_hint[0]) {
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL, FIX_FLATTEN,
            "VMDK with a parent %s: the uploaded file alone is not the disk",
            in->vmdk.parent_hint);
        return;
    }
    int64_t i = in->format == IMGFMT_FMT_VMDK ? vmdk_other_extent(c) : -1;
    imgfmt_vmdk_extent e;
    if (i >= 0 && imgfmt_vmdk_get_extent(c->img, (uint32_t)i, &e) == 0) {
        ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, FAIL, FIX_FLATTEN,
            "VMDK (%s) keeps its data in %u extent file(s), e.g. %s: upload one file",
            in->vmdk.create_type ? in->vmdk.create_type : "?", in->vmdk.nb_extents,
            e.filename);
        return;
    }
    ADD(c, EXTERNAL_FILES, EXTERNAL_FILES, PASS, NULL,
        "self-contained: no backing, parent or extent files");
}

/* ---- image state -------------------------------------------------------- */

/* The fix for an image-format warning, by its code. */
static const char *fix_for_image_warning(enum imgfmt_warning_code code)
{
    switch (code) {
    case IMGFMT_W_VHD_FIXED_PROBES_RAW:
        return "declare the format as VHD when importing (undeclared, a fixed VHD is read as "
               "raw, footer included)";
    case IMGFMT_W_VMDK_EXTENT_NOT_RW:
        return "make every extent RW in the descriptor, or convert to one file with "
               "imgfmt-convert, so no extent is dropped";
    default:
        return "read the warning, and check the disk converted with imgfmt-convert before "
               "uploading it";
    }
}

static void check_state(struct ifmt_check *c)
{
    const imgfmt_info *in = &c->info;
    if (in->corrupt)
        ADD(c, IMAGE_STATE, CORRUPT, FAIL,
            "repair it with qemu-img check -r all IMAGE, or convert from the original",
            "%s image is marked corrupt", in->format_name);
    if (in->dirty)
        ADD(c, IMAGE_STATE, DIRTY, WARN,
            "run qemu-img check -r all IMAGE (or shut the VM down cleanly) before uploading",
            "%s image is marked dirty (not closed cleanly)", in->format_name);
    if (!in->corrupt && !in->dirty)
        ADD(c, IMAGE_STATE, DIRTY, PASS, NULL, "not marked dirty or corrupt");
    for (uint32_t i = 0; i < imgfmt_nb_warnings(c->img); i++)
        if (is_format_warning(c->img, i))
            ADD(c, IMAGE_WARNING, IMAGE_WARNING, WARN,
                fix_for_image_warning(imgfmt_warning_code(c->img, i)), "%s",
                imgfmt_warning(c->img, i));
}

/* ---- the VHD size rule -------------------------------------------------- */

/* img's file opened again with the VHD size rule current_size. */
static imgfmt_image *open_full_size(const imgfmt_image *img)
{
    imgfmt_open_opts o = img->opts;
    o.member = NULL;
    o.format = IMGFMT_FMT_VHD;
    o.vhd_size_rule = IMGFMT_VHD_RULE_CURRENT_SIZE;
    const struct ifmt_io *io = img->io;
    imgfmt_image *full = NULL;
    if (io->mem)
        imgfmt_open_memory(io->mem, (size_t)io->size, &o, &full, NULL);
    else if (strncmp(io->path, "<fd ", 4) == 0)
        imgfmt_open_fd(io->fd, &o, &full, NULL);
    else
        imgfmt_open(io->path, &o, &full, NULL);
    return full;
}

/* What lies at or past byte `seen` of the full-size disk: the first
 * partition reaching there, else a backup GPT header there; "" if none. */
static void what_lies_past(const imgfmt_image *img, uint64_t seen, char *where, size_t len)
{
    where[0] = '\0';
    imgfmt_image *full = open_full_size(img);
    imgfmt_partition_table *t = NULL;
    if (full && imgfmt_partitions(full, &t) == 0) {
        for (uint32_t i = 0; i < t->nb_partitions && !where[0]; i++)
            if (t->parts[i].start + t->parts[i].length > seen)
                snprintf(where, len, "partition %u (ends at byte %" PRIu64 ")",
                         t->parts[i].number, t->parts[i].start + t->parts[i].length);
        if (!where[0] && t->type == IMGFMT_TABLE_GPT && t->gpt_backup_offset >= seen)
            snprintf(where, len, "the backup GPT header (byte %" PRIu64 ")",
                     t->gpt_backup_offset);
    }
    imgfmt_partition_table_free(t);
    imgfmt_close(full);
}

/* The VHD virtual size qemu computes (CHS rule) can be below current_size:
 * converting then drops the tail.  Look at what lies there. */
static void check_vhd_tail(struct ifmt_check *c)
{
    uint64_t seen = c->info.virtual_size, cur = c->info.vhd.current_size;
    char a[64], b[64], where[256];
    if (cur <= seen) {
        ADD(c, VHD_SIZE_RULE, VHD_SIZE, PASS, NULL, "qemu's size %s covers current_size %s",
            size_text(seen, a, sizeof a), size_text(cur, b, sizeof b));
        return;
    }
    const char *fix = "convert it yourself reading the full size: qemu-img convert --image-opts "
                      "driver=vpc,force_size_calc=current_size,file.filename=IMAGE -O qcow2 "
                      "disk.qcow2, and upload the qcow2";
    what_lies_past(c->img, seen, where, sizeof where);
    struct ifmt_finding *f = where[0]
        ? ADD(c, VHD_SIZE_RULE, VHD_SIZE, FAIL, fix,
              "qemu's CHS size %s is %" PRIu64 " bytes short of current_size %s: %s lies in "
              "the lost tail", size_text(seen, a, sizeof a), cur - seen,
              size_text(cur, b, sizeof b), where)
        : ADD(c, VHD_SIZE_RULE, VHD_SIZE, WARN, fix,
              "qemu's CHS size %s is %" PRIu64 " bytes short of current_size %s; no partition "
              "or GPT lies there", size_text(seen, a, sizeof a), cur - seen,
              size_text(cur, b, sizeof b));
    if (f) {
        f->measured = cur - seen;
        f->limit = 0;
    }
}

/* ---- partitions --------------------------------------------------------- */

/* The partition-table warnings (recorded on the image by imgfmt_partitions). */
static void table_warnings(struct ifmt_check *c)
{
    for (uint32_t i = 0; i < imgfmt_nb_warnings(c->img); i++)
        if (imgfmt_warning_code(c->img, i) >= IMGFMT_W_PARTITION_FIRST)
            ADD(c, PARTITION_NOT_PRESENT, PARTITION_WARNING, WARN,
                "repair the partition table (sgdisk -e moves a misplaced backup GPT; fdisk "
                "rewrites an MBR)", "%s", imgfmt_warning(c->img, i));
}

static void check_partitions(struct ifmt_check *c)
{
    int r = imgfmt_partitions(c->img, &c->table);
    if (r < 0) {
        const imgfmt_error *e = imgfmt_last_error(c->img);
        if (r == IMGFMT_E_IO)
            ifmt_check_read_failed(c->res, e);
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, FAIL,
            "repair or recreate the partition table (e.g. sgdisk -v / fdisk) so the import "
            "can find the partitions", "partition table invalid: %s", e->msg);
        return;
    }
    const imgfmt_partition_table *t = c->table;
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->nb_partitions; i++)
        n += !t->parts[i].extended;
    char d[256];
    describe_fs(&t->whole_disk, d, sizeof d);
    if (t->type == IMGFMT_TABLE_NONE && t->whole_disk.type != IMGFMT_FS_NONE)
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, FAIL, FIX_NO_TABLE,
            "no partition table: a bare file system (%s) starts at offset 0", d);
    else if (t->type == IMGFMT_TABLE_NONE)
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, FAIL, FIX_NO_TABLE,
            "no MBR or GPT partition table and no file system at offset 0");
    else if (n == 0)
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, FAIL, FIX_NO_TABLE,
            "%s partition table with no partitions", table_name(t));
    else
        ADD(c, PARTITION_NOT_PRESENT, PARTITION_TABLE, PASS, NULL,
            "%s partition table, %u partition(s), %u-byte sectors", table_name(t), n,
            t->sector_size);
    table_warnings(c);
}

/* The first partition (not the extended container) matching pred, or -1. */
static int find_part(const imgfmt_partition_table *t, bool (*pred)(const imgfmt_partition *))
{
    for (uint32_t i = 0; i < t->nb_partitions && i < INT32_MAX; i++)
        if (!t->parts[i].extended && pred(&t->parts[i]))
            return (int)i;
    return -1;
}

static bool is_root(const imgfmt_partition *p) { return imgfmt_fs_is_linux_root(p->fs.type); }
static bool is_ntfs(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_NTFS; }
static bool is_luks(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_LUKS; }
static bool is_lvm(const imgfmt_partition *p)
{
    return imgfmt_partition_role(p) == IMGFMT_PART_ROLE_LVM_PV;
}
static bool is_bitlocker(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_BITLOCKER; }

static bool is_ldm(const imgfmt_partition *p)
{
    return imgfmt_partition_role(p) == IMGFMT_PART_ROLE_LDM;
}

/* "1: swap, 2: fat16": what the partitions hold. */
static void list_partitions(const imgfmt_partition_table *t, char *names, size_t len)
{
    size_t n = 0;
    names[0] = '\0';
    for (uint32_t k = 0; k < t->nb_partitions && n + 80 < len; k++) {
        const imgfmt_partition *p = &t->parts[k];
        if (!p->extended)
            n += (size_t)snprintf(names + n, len - n, "%s%u: %s", n ? ", " : "", p->number,
                                  p->fs.name[0] ? p->fs.name : "unknown");
    }
}

/* No root-capable file system in a partition: say what is there instead. */
static void linux_no_root(struct ifmt_check *c)
{
    const imgfmt_partition_table *t = c->table;
    char names[512];
    list_partitions(t, names, sizeof names);
    const char *sep = names[0] ? "; partitions " : "";
    int lvm = find_part(t, is_lvm), luks = find_part(t, is_luks);
    if (t->type == IMGFMT_TABLE_NONE && imgfmt_fs_is_linux_root(t->whole_disk.type))
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, FAIL,
            "put the file system into a partition (an MBR or GPT disk) and install a boot loader",
            "the %s root-capable file system is not in a partition", t->whole_disk.name);
    else if (lvm >= 0)
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, WARN,
            "make sure your service imports LVM root volumes, or move the root file system to "
            "a plain partition",
            "no root-capable file system in a partition; partition %u is an LVM2 physical "
            "volume (its logical volumes are not inspected)%s%s", t->parts[lvm].number, sep,
            names);
    else if (luks >= 0)
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, FAIL,
            "the import cannot read an encrypted root: upload an image whose root file system "
            "is not LUKS-encrypted",
            "no root-capable file system; partition %u is LUKS%u-encrypted%s%s",
            t->parts[luks].number, t->parts[luks].fs.version, sep, names);
    else
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, FAIL,
            "the root file system must be ext2/3/4, XFS or btrfs on a partition of this disk",
            "no partition holds ext2/3/4, XFS or btrfs%s%s", sep, names);
}

/* Linux: with a root-capable file system (or LVM) to look into, the guest's
 * files decide (check/guest.c); without one, say what the disk holds. */
static void check_linux(struct ifmt_check *c)
{
    const imgfmt_partition_table *t = c->table;
    if (find_part(t, is_root) >= 0 || find_part(t, is_lvm) >= 0) {
        ifmt_check_guest_linux(c);
        return;
    }
    linux_no_root(c);
    ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
        "not checked: no OS root to inspect");
    ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL,
        "not checked: no OS root to inspect");
}

static void check_windows(struct ifmt_check *c)
{
    const imgfmt_partition_table *t = c->table;
    if (t->type == IMGFMT_TABLE_GPT)
        ADD(c, WINDOWS_DISK_LAYOUT, WINDOWS_TABLE, FAIL,
            "Windows images must boot from an MBR disk: convert the system disk to MBR (BIOS "
            "boot) before exporting it", "GPT partition table (Windows images need MBR)");
    else if (t->type == IMGFMT_TABLE_MBR)
        ADD(c, WINDOWS_DISK_LAYOUT, WINDOWS_TABLE, PASS, NULL, "MBR partition table");
    int ldm = find_part(t, is_ldm), lvm = find_part(t, is_lvm), ntfs = find_part(t, is_ntfs);
    if (ldm >= 0)
        ADD(c, WINDOWS_DISK_LAYOUT, WINDOWS_DYNAMIC_DISK, FAIL,
            "convert the dynamic disk to a basic disk (Disk Management) before exporting",
            "partition %u is a dynamic disk (LDM, type %s)", t->parts[ldm].number,
            t->parts[ldm].mbr_type ? "0x42" : t->parts[ldm].type_name);
    if (lvm >= 0)
        ADD(c, WINDOWS_DISK_LAYOUT, WINDOWS_LVM, FAIL,
            "Windows images cannot use LVM: upload a plain NTFS disk",
            "partition %u is an LVM physical volume", t->parts[lvm].number);
    int bl = find_part(t, is_bitlocker);
    if (ntfs >= 0) {
        ifmt_check_guest_windows_root(c);
    } else if (bl >= 0) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, NOT_CHECKED, NULL,
            "not checked: partition %u is BitLocker-encrypted: its files cannot be read "
            "(suspend or decrypt BitLocker before exporting)", t->parts[bl].number);
    } else {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, FAIL,
            "the Windows system volume must be NTFS on a partition of this disk",
            "no partition holds NTFS");
    }
}

/* Which rules: asked for, else windows when NTFS or LDM is there and no
 * Linux root, else linux. */
static enum imgfmt_check_os decide_os(const struct ifmt_check *c)
{
    const imgfmt_partition_table *t = c->table;
    if (c->opts.os != IMGFMT_CHECK_OS_AUTO)
        return c->opts.os;
    if (!t || find_part(t, is_root) >= 0 || imgfmt_fs_is_linux_root(t->whole_disk.type))
        return IMGFMT_CHECK_OS_LINUX;
    if (find_part(t, is_ntfs) >= 0 || find_part(t, is_ldm) >= 0 ||
        find_part(t, is_bitlocker) >= 0 ||
        t->whole_disk.type == IMGFMT_FS_NTFS)
        return IMGFMT_CHECK_OS_WINDOWS;
    return IMGFMT_CHECK_OS_LINUX;
}

/* ---- all rules ---------------------------------------------------------- */

static bool check_format(struct ifmt_check *c)
{
    const imgfmt_info *in = &c->info;
    if (!(c->opts.accepted_formats & IMGFMT_CHECK_FORMAT_BIT(in->format))) {
        char list[64];
        accepted_list(c->opts.accepted_formats, list, sizeof list);
        ADD(c, INVALID_FORMAT_SIZE, FORMAT, FAIL,
            "convert it to an accepted format first: imgfmt-convert -O qcow2 IMAGE disk.qcow2",
            "format %s is not accepted (%s only)", in->format_name, list);
        not_checked_rest(c, true, "not checked: the format is refused");
        return false;
    }
    const char *sub = in->subformat;
    ADD(c, INVALID_FORMAT_SIZE, FORMAT, PASS, NULL, "format %s%s%s%s", in->format_name,
        sub ? " (" : "", sub ? sub : "", sub ? ")" : "");
    return true;
}

void ifmt_check_rules(struct ifmt_check *c)
{
    if (!check_format(c))
        return;
    check_virtual_size(c);
    check_converted_size(c);
    check_external(c);
    if (c->info.format != IMGFMT_FMT_RAW)
        check_state(c);
    if (c->info.format == IMGFMT_FMT_VHD)
        check_vhd_tail(c);
    check_partitions(c);
    c->res->os = decide_os(c);
    if (!c->table) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, NOT_CHECKED, NULL,
            "not checked: the partition table could not be read");
        not_checked_rest(c, false, NULL);
    } else if (c->res->os == IMGFMT_CHECK_OS_WINDOWS) {
        check_windows(c);
        ifmt_check_guest_windows(c);
    } else {
        check_linux(c);
    }
}
