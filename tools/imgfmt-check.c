/*
 * imgfmt-check -- the import pre-flight: what a cloud image import would
 * refuse, in the provider's own error codes, before the upload.
 *
 *   imgfmt-check [--os=auto|linux|windows] [--max-actual=50G]
 *                [--max-virtual=500G] [--output=human|json] [-p] IMAGE
 *
 * One finding per line: code, pass/fail/warn/not-checked, what was measured
 * against which limit, and a one-sentence fix; then a verdict.  Exit 0 when
 * nothing fails, 1 when something fails, 2 on usage or I/O errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

enum status { ST_PASS, ST_FAIL, ST_WARN, ST_NOT_CHECKED };
static const char *status_name[] = {"pass", "fail", "warn", "not-checked"};

#define NO_VALUE UINT64_MAX

struct finding {
    const char *code;       /* provider code, or ours for the extra findings */
    const char *check;      /* short stable id for programs */
    enum status st;
    char message[512];      /* what was measured / found */
    uint64_t measured, limit;   /* NO_VALUE when not a size comparison */
    char fix[512];          /* one sentence; empty on pass */
};

static struct finding findings[128];
static unsigned nfindings;

static struct finding *add(const char *code, const char *check, enum status st,
                           const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static struct finding *add(const char *code, const char *check, enum status st,
                           const char *fix, const char *fmt, ...)
{
    static struct finding overflow;
    struct finding *f = nfindings < sizeof findings / sizeof findings[0]
                            ? &findings[nfindings++] : &overflow;
    memset(f, 0, sizeof *f);
    f->code = code;
    f->check = check;
    f->st = st;
    f->measured = f->limit = NO_VALUE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    snprintf(f->fix, sizeof f->fix, "%s", fix ? fix : "");
    return f;
}

static const char *img_path;

/* ---- formats the import refuses, recognised by their first bytes ----- */

struct sniff {
    const char *name;       /* NULL: an accepted format (or unknown: raw) */
    const char *fix;
    const char *ours;       /* accepted formats: qemu name expected from the library */
    int vmdk_descriptor;    /* a text VMDK descriptor */
};

static int has(const uint8_t *b, size_t n, size_t off, const void *magic, size_t mlen)
{
    return off + mlen <= n && memcmp(b + off, magic, mlen) == 0;
}

static int contains(const uint8_t *b, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, needle, k) == 0)
            return 1;
    return 0;
}

static struct sniff sniff_file(const uint8_t *b, size_t n, const uint8_t *tail, size_t tn)
{
    struct sniff s = {NULL, NULL, NULL, 0};
    if (has(b, n, 0, "vhdxfile", 8))
        return (struct sniff){"VHDX",
            "convert it to QCOW2 first: qemu-img convert -f vhdx -O qcow2 IMAGE disk.qcow2", NULL, 0};
    if (has(b, n, 0x40, "\x7f\x10\xda\xbe", 4))
        return (struct sniff){"VDI (VirtualBox)",
            "convert it first: qemu-img convert -f vdi -O qcow2 IMAGE disk.qcow2 "
            "(or VBoxManage clonemedium --format VHD)", NULL, 0};
    if (has(b, n, 0, "QFI\xfb", 4) && n >= 8 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 1)
        return (struct sniff){"qcow (version 1)",
            "convert it to QCOW2: qemu-img convert -f qcow -O qcow2 IMAGE disk.qcow2", NULL, 0};
    if (has(b, n, 0, "QED\0", 4))
        return (struct sniff){"QED",
            "convert it to QCOW2: qemu-img convert -f qed -O qcow2 IMAGE disk.qcow2", NULL, 0};
    if (has(b, n, 0, "\x1f\x8b", 2))
        return (struct sniff){"gzip archive",
            "decompress it (gunzip) and check the disk image inside", NULL, 0};
    if (has(b, n, 0, "\xfd" "7zXZ\0", 6))
        return (struct sniff){"xz archive",
            "decompress it (unxz) and check the disk image inside", NULL, 0};
    if (has(b, n, 0, "BZh", 3) && n > 3 && b[3] >= '1' && b[3] <= '9')
        return (struct sniff){"bzip2 archive",
            "decompress it (bunzip2) and check the disk image inside", NULL, 0};
    if (has(b, n, 0, "\x28\xb5\x2f\xfd", 4))
        return (struct sniff){"zstd archive",
            "decompress it (unzstd) and check the disk image inside", NULL, 0};
    if (has(b, n, 0, "PK\x03\x04", 4) || has(b, n, 0, "PK\x05\x06", 4))
        return (struct sniff){"zip archive",
            "unzip it and check the disk image inside", NULL, 0};
    if (has(b, n, 257, "ustar", 5))
        return (struct sniff){"OVA/tar archive",
            "extract the disk (tar xf IMAGE) and check the .vmdk inside", NULL, 0};
    if (has(b, n, 0x8001, "CD001", 5))
        return (struct sniff){"ISO9660 (installer/CD image)",
            "install the system from the ISO into a virtual disk and upload that disk", NULL, 0};
    /* A text VMDK descriptor: the data are in other files. */
    if (n >= 20 && (has(b, n, 0, "# Disk DescriptorFile", 21) ||
                    (b[0] == '#' && contains(b, n < 1024 ? n : 1024, "createType"))))
        return (struct sniff){"VMDK descriptor (the data are in separate extent files)",
            "this file only describes the disk: make one file with "
            "imgfmt-convert -O qcow2 IMAGE disk.qcow2 (or qemu-img convert) and upload that",
            NULL, 1};
    if (has(b, n, 0, "QFI\xfb", 4))
        s.ours = "qcow2";
    else if (has(b, n, 0, "conectix", 8) || (tn >= 512 && has(tail, tn, tn - 512, "conectix", 8)))
        s.ours = "vpc";
    else if (has(b, n, 0, "KDMV", 4))
        s.ours = "vmdk";
    return s;
}

/* ---- the exact converted size ---------------------------------------- */

/* The exact length of the QCOW2 file the service's qemu-img convert makes
 * (default options: compat 1.1, 64 KiB clusters), reading every DATA run as
 * qemu-img does to skip all-zero clusters.  Returns 1 and *len; 0 with *why
 * when the layout cannot be predicted exactly (UNSUPPORTED, LIMIT); <0 with
 * *why on a read error. */
struct measure_progress { enum progress_mode mode; uint64_t done, total; };

static void measure_progress(void *opaque, uint64_t done, uint64_t total)
{
    struct measure_progress *p = opaque;
    p->done = done;
    p->total = total;
    progress_update(p->mode, done, total, 0);
}

static int measure_converted(imgfmt_image *img, enum progress_mode progress,
                             uint64_t *len, char *why, size_t whylen)
{
    imgfmt_measure m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    *len = 0;
    struct measure_progress p = {progress, 0, 0};
    int r = imgfmt_measure_qcow2(img, NULL, IMGFMT_MEASURE_EXACT,
                                 progress != PROGRESS_NONE ? measure_progress : NULL, &p, &m);
    if (progress != PROGRESS_NONE)
        progress_update(progress, p.done, p.total, 1);
    if (r < 0) {
        snprintf(why, whylen, "%s", imgfmt_last_error(img)->msg);
        return r == IMGFMT_E_UNSUPPORTED || r == IMGFMT_E_LIMIT ? 0 : r;
    }
    *len = m.length;
    return 1;
}

/* ---- helpers ---------------------------------------------------------- */

static const char *sz(uint64_t v, char *buf, size_t len)
{
    char h[32];
    human_size(v, h, sizeof h);
    snprintf(buf, len, "%s (%" PRIu64 " bytes)", h, v);
    return buf;
}

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

/* ---- the checks ------------------------------------------------------- */

struct ctx {
    imgfmt_image *img;
    imgfmt_info info;
    imgfmt_partition_table *table;  /* NULL if unreadable */
    uint64_t max_actual, max_virtual;
    enum progress_mode progress;
    const char *os;                 /* "auto", "linux", "windows" */
    int io_error;
};

static void not_checked_rest(int from_partitions, const char *why)
{
    if (from_partitions) {
        add("PartitionNotPresent", "partition-table", ST_NOT_CHECKED, NULL, "%s", why);
        add("RootPartitionNotFound", "root-partition", ST_NOT_CHECKED, NULL, "%s", why);
    }
    add("VirtioNotInstall", "virtio-drivers", ST_NOT_CHECKED, NULL,
        "not checked: needs file-system inspection (drivers in the guest)");
    add("CloudInitNotInstalled", "cloud-init", ST_NOT_CHECKED, NULL,
        "not checked: needs file-system inspection (packages in the guest)");
}

static void check_sizes(struct ctx *c)
{
    char a[64], b[64];
    uint64_t v = c->info.virtual_size;
    struct finding *f = add("InvalidFormatSize", "virtual-size",
        v <= c->max_virtual ? ST_PASS : ST_FAIL,
        v <= c->max_virtual ? NULL
            : "shrink the file systems and the disk below the limit (or raise the "
              "limit if your service allows more) before uploading",
        "virtual size %s vs limit %s", sz(v, a, sizeof a), sz(c->max_virtual, b, sizeof b));
    f->measured = v;
    f->limit = c->max_virtual;

    uint64_t len = 0;
    char why[256] = "";
    int r = measure_converted(c->img, c->progress, &len, why, sizeof why);
    if (r < 0) {
        add("InvalidFormatSize", "converted-size", ST_NOT_CHECKED, NULL,
            "converted QCOW2 size: reading the image failed: %s", why);
        c->io_error = 1;
    } else if (r == 0) {
        add("InvalidFormatSize", "converted-size", ST_NOT_CHECKED, NULL,
            "converted QCOW2 size: cannot be predicted exactly: %s", why);
    } else {
        f = add("InvalidFormatSize", "converted-size", len <= c->max_actual ? ST_PASS : ST_FAIL,
            len <= c->max_actual ? NULL
                : "free space inside the guest and zero it (fstrim, or fill with zeros "
                  "and delete) so fewer clusters are allocated, or shrink the disk",
            "converted QCOW2 size %s vs limit %s", sz(len, a, sizeof a),
            sz(c->max_actual, b, sizeof b));
        f->measured = len;
        f->limit = c->max_actual;
    }
}

/* An extent file name (as in the descriptor, relative to the image's
 * directory) that is not the image file itself. */
static int is_other_file(const char *name)
{
    if (!name || !name[0])
        return 0;
    char path[4096];
    const char *slash = strrchr(img_path, '/');
    if (name[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - img_path), img_path, name);
    struct stat a, b;
    if (stat(path, &a) < 0 || stat(img_path, &b) < 0)
        return 1;
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

static void check_external(struct ctx *c)
{
    const imgfmt_info *in = &c->info;
    const char *fix = "flatten the chain into one file with imgfmt-convert -O qcow2 IMAGE "
                      "disk.qcow2 and upload that file";
    if (in->format == IMGFMT_FMT_VHD && in->vhd.disk_type == IMGFMT_VHD_DIFFERENCING) {
        add("ExternalFiles", "external-files", ST_FAIL, fix,
            "differencing VHD: the data also lives in its parent %s",
            in->backing_filename ? in->backing_filename : "(unnamed)");
        return;
    }
    if (in->backing_filename) {
        add("ExternalFiles", "external-files", ST_FAIL, fix,
            "%s image with a backing file %s: the uploaded file alone is not the disk",
            in->format_name, in->backing_filename);
        return;
    }
    if (in->format == IMGFMT_FMT_VMDK) {
        if (in->vmdk.parent_hint && in->vmdk.parent_hint[0]) {
            add("ExternalFiles", "external-files", ST_FAIL, fix,
                "VMDK with a parent %s: the uploaded file alone is not the disk",
                in->vmdk.parent_hint);
            return;
        }
        for (uint32_t i = 0; i < in->vmdk.nb_extents; i++) {
            imgfmt_vmdk_extent e;
            if (imgfmt_vmdk_get_extent(c->img, i, &e) == 0 && is_other_file(e.filename)) {
                add("ExternalFiles", "external-files", ST_FAIL, fix,
                    "VMDK (%s) keeps its data in %u extent file(s), e.g. %s: upload one file",
                    in->vmdk.create_type ? in->vmdk.create_type : "?", in->vmdk.nb_extents,
                    e.filename);
                return;
            }
        }
    }
    add("ExternalFiles", "external-files", ST_PASS, NULL,
        "self-contained: no backing, parent or extent files");
}

static void check_state(struct ctx *c)
{
    const imgfmt_info *in = &c->info;
    if (in->corrupt)
        add("ImageState", "corrupt", ST_FAIL,
            "repair it with qemu-img check -r all IMAGE, or convert from the original",
            "%s image is marked corrupt", in->format_name);
    if (in->dirty)
        add("ImageState", "dirty", ST_WARN,
            "run qemu-img check -r all IMAGE (or shut the VM down cleanly) before uploading",
            "%s image is marked dirty (not closed cleanly)", in->format_name);
    if (!in->corrupt && !in->dirty && in->format != IMGFMT_FMT_RAW)
        add("ImageState", "dirty", ST_PASS, NULL, "not marked dirty or corrupt");
    for (uint32_t i = 0; i < in->nb_warnings; i++) {
        const char *w = imgfmt_warning(c->img, i);
        enum imgfmt_warning_code code = imgfmt_warning_code(c->img, i);
        if (!w || code >= IMGFMT_W_PARTITION_FIRST)
            continue;
        const char *fix = "read the warning, and check the disk converted with imgfmt-convert "
                          "before uploading it";
        if (code == IMGFMT_W_VHD_FIXED_PROBES_RAW)
            fix = "declare the format as VHD when importing (undeclared, a fixed VHD is "
                  "read as raw, footer included)";
        else if (code == IMGFMT_W_VMDK_EXTENT_NOT_RW)
            fix = "make every extent RW in the descriptor, or convert to one file with "
                  "imgfmt-convert, so no extent is dropped";
        add("ImageWarning", "image-warning", ST_WARN, fix, "%s", w);
    }
}

/* The VHD virtual size qemu computes (CHS rule) can be below current_size:
 * converting then drops the tail.  Look at what lies there. */
static void check_vhd_tail(struct ctx *c)
{
    const imgfmt_vhd_info *v = &c->info.vhd;
    uint64_t seen = c->info.virtual_size;
    char a[64], b[64];
    if (v->current_size <= seen) {
        add("VhdSizeRule", "vhd-size", ST_PASS, NULL,
            "qemu's size %s covers current_size %s", sz(seen, a, sizeof a),
            sz(v->current_size, b, sizeof b));
        return;
    }
    uint64_t lost = v->current_size - seen;
    const char *fix = "convert it yourself reading the full size: qemu-img convert --image-opts "
                      "driver=vpc,force_size_calc=current_size,file.filename=IMAGE -O qcow2 "
                      "disk.qcow2, and upload the qcow2";
    /* Reopen with the full size to see the partitions that reach the tail. */
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    o.format = IMGFMT_FMT_VHD;
    o.vhd_size_rule = IMGFMT_VHD_RULE_CURRENT_SIZE;
    imgfmt_image *full = NULL;
    imgfmt_error err = {0};
    imgfmt_partition_table *t = NULL;
    char where[256] = "";
    if (imgfmt_open(img_path, &o, &full, &err) == 0 && imgfmt_partitions(full, &t) == 0) {
        for (uint32_t i = 0; i < t->nb_partitions && !where[0]; i++)
            if (t->parts[i].start + t->parts[i].length > seen)
                snprintf(where, sizeof where, "partition %u (ends at byte %" PRIu64 ")",
                         t->parts[i].number, t->parts[i].start + t->parts[i].length);
        if (!where[0] && t->type == IMGFMT_TABLE_GPT && t->gpt_backup_offset >= seen)
            snprintf(where, sizeof where, "the backup GPT header (byte %" PRIu64 ")",
                     t->gpt_backup_offset);
    }
    imgfmt_partition_table_free(t);
    imgfmt_close(full);
    struct finding *f;
    if (where[0])
        f = add("VhdSizeRule", "vhd-size", ST_FAIL, fix,
                "qemu's CHS size %s is %" PRIu64 " bytes short of current_size %s: %s "
                "lies in the lost tail", sz(seen, a, sizeof a), lost,
                sz(v->current_size, b, sizeof b), where);
    else
        f = add("VhdSizeRule", "vhd-size", ST_WARN, fix,
                "qemu's CHS size %s is %" PRIu64 " bytes short of current_size %s; "
                "no partition or GPT lies there", sz(seen, a, sizeof a), lost,
                sz(v->current_size, b, sizeof b));
    f->measured = lost;
    f->limit = 0;
}

static void check_partitions(struct ctx *c)
{
    imgfmt_partition_table *t = NULL;
    int r = imgfmt_partitions(c->img, &t);
    if (r < 0) {
        const imgfmt_error *e = imgfmt_last_error(c->img);
        if (r == IMGFMT_E_IO)
            c->io_error = 1;
        add("PartitionNotPresent", "partition-table", ST_FAIL,
            "repair or recreate the partition table (e.g. sgdisk -v / fdisk) so the import "
            "can find the partitions",
            "partition table invalid: %s", e->msg);
        return;
    }
    c->table = t;
    const char *fix_none = "the import needs a partitioned disk: install or copy the "
                           "system onto a disk with an MBR or GPT partition table";
    if (t->type == IMGFMT_TABLE_NONE) {
        if (t->whole_disk.type != IMGFMT_FS_NONE) {
            char d[256];
            describe_fs(&t->whole_disk, d, sizeof d);
            add("PartitionNotPresent", "partition-table", ST_FAIL, fix_none,
                "no partition table: a bare file system (%s) starts at offset 0", d);
        } else {
            add("PartitionNotPresent", "partition-table", ST_FAIL, fix_none,
                "no MBR or GPT partition table and no file system at offset 0");
        }
    } else {
        uint32_t n = 0;
        for (uint32_t i = 0; i < t->nb_partitions; i++)
            n += !t->parts[i].extended;
        if (n == 0)
            add("PartitionNotPresent", "partition-table", ST_FAIL, fix_none,
                "%s partition table with no partitions", table_name(t));
        else
            add("PartitionNotPresent", "partition-table", ST_PASS, NULL,
                "%s partition table, %u partition(s), %u-byte sectors", table_name(t), n,
                t->sector_size);
    }
    for (uint32_t i = 0; i < imgfmt_nb_warnings(c->img); i++)
        if (imgfmt_warning_code(c->img, i) >= IMGFMT_W_PARTITION_FIRST)
            add("PartitionNotPresent", "partition-warning", ST_WARN,
                "repair the partition table (sgdisk -e moves a misplaced backup GPT; fdisk "
                "rewrites an MBR)", "%s", imgfmt_warning(c->img, i));
}

static int find_fs(const imgfmt_partition_table *t, int (*pred)(const imgfmt_partition *))
{
    for (uint32_t i = 0; i < t->nb_partitions; i++)
        if (!t->parts[i].extended && pred(&t->parts[i]))
            return (int)i;
    return -1;
}
static int is_root(const imgfmt_partition *p) { return imgfmt_fs_is_linux_root(p->fs.type); }
static int is_ntfs(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_NTFS; }
static int is_lvm(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_LVM2_PV || p->mbr_type == 0x8e || strcmp(p->type_name, "Linux LVM") == 0; }
static int is_luks(const imgfmt_partition *p) { return p->fs.type == IMGFMT_FS_LUKS; }
static int is_ldm(const imgfmt_partition *p) { return p->mbr_type == 0x42 || strncmp(p->type_name, "Microsoft LDM", 13) == 0; }

static void check_linux(struct ctx *c)
{
    const imgfmt_partition_table *t = c->table;
    char d[256], names[512] = "";
    int i = find_fs(t, is_root);
    if (i >= 0) {
        describe_fs(&t->parts[i].fs, d, sizeof d);
        add("RootPartitionNotFound", "root-partition", ST_PASS, NULL,
            "partition %u holds a root-capable file system: %s", t->parts[i].number, d);
        return;
    }
    /* Name what is there instead: LVM, LUKS, a bare file system. */
    size_t n = 0;
    for (uint32_t k = 0; k < t->nb_partitions && n < sizeof names - 80; k++) {
        const imgfmt_partition *p = &t->parts[k];
        if (p->extended)
            continue;
        describe_fs(&p->fs, d, sizeof d);
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%u: %s", n ? ", " : "",
                              p->number, p->fs.name[0] ? p->fs.name : "unknown");
    }
    int lvm = find_fs(t, is_lvm), luks = find_fs(t, is_luks);
    if (t->type == IMGFMT_TABLE_NONE && imgfmt_fs_is_linux_root(t->whole_disk.type)) {
        add("RootPartitionNotFound", "root-partition", ST_FAIL,
            "put the file system into a partition (an MBR or GPT disk) and install a boot loader",
            "the %s root-capable file system is not in a partition", t->whole_disk.name);
    } else if (lvm >= 0) {
        add("RootPartitionNotFound", "root-partition", ST_WARN,
            "make sure your service imports LVM root volumes, or move the root file system "
            "to a plain partition",
            "no root-capable file system in a partition; partition %u is an LVM2 physical "
            "volume (its logical volumes are not inspected)%s%s", t->parts[lvm].number,
            names[0] ? "; partitions " : "", names);
    } else if (luks >= 0) {
        add("RootPartitionNotFound", "root-partition", ST_FAIL,
            "the import cannot read an encrypted root: upload an image whose root file "
            "system is not LUKS-encrypted",
            "no root-capable file system; partition %u is LUKS%u-encrypted%s%s",
            t->parts[luks].number, t->parts[luks].fs.version,
            names[0] ? "; partitions " : "", names);
    } else {
        add("RootPartitionNotFound", "root-partition", ST_FAIL,
            "the root file system must be ext2/3/4, XFS or btrfs on a partition of this disk",
            "no partition holds ext2/3/4, XFS or btrfs%s%s", names[0] ? "; partitions " : "",
            names);
    }
}

static void check_windows(struct ctx *c)
{
    const imgfmt_partition_table *t = c->table;
    if (t->type == IMGFMT_TABLE_GPT) {
        add("WindowsDiskLayout", "windows-table", ST_FAIL,
            "Windows images must boot from an MBR disk: convert the system disk to MBR "
            "(BIOS boot) before exporting it",
            "GPT partition table (Windows images need MBR)");
    } else if (t->type == IMGFMT_TABLE_MBR) {
        add("WindowsDiskLayout", "windows-table", ST_PASS, NULL, "MBR partition table");
    }
    int ldm = find_fs(t, is_ldm), lvm = find_fs(t, is_lvm), ntfs = find_fs(t, is_ntfs);
    if (ldm >= 0)
        add("WindowsDiskLayout", "windows-dynamic-disk", ST_FAIL,
            "convert the dynamic disk to a basic disk (Disk Management) before exporting",
            "partition %u is a dynamic disk (LDM, type %s)", t->parts[ldm].number,
            t->parts[ldm].mbr_type ? "0x42" : t->parts[ldm].type_name);
    if (lvm >= 0)
        add("WindowsDiskLayout", "windows-lvm", ST_FAIL,
            "Windows images cannot use LVM: upload a plain NTFS disk",
            "partition %u is an LVM physical volume", t->parts[lvm].number);
    if (ntfs >= 0) {
        char d[256];
        describe_fs(&t->parts[ntfs].fs, d, sizeof d);
        add("RootPartitionNotFound", "windows-system", ST_PASS, NULL,
            "partition %u holds NTFS: %s", t->parts[ntfs].number, d);
    } else {
        add("RootPartitionNotFound", "windows-system", ST_FAIL,
            "the Windows system volume must be NTFS on a partition of this disk",
            "no partition holds NTFS");
    }
}

static const char *decide_os(struct ctx *c)
{
    if (strcmp(c->os, "auto") != 0)
        return c->os;
    const imgfmt_partition_table *t = c->table;
    if (!t)
        return "linux";
    if (find_fs(t, is_root) >= 0 || imgfmt_fs_is_linux_root(t->whole_disk.type))
        return "linux";
    if (find_fs(t, is_ntfs) >= 0 || find_fs(t, is_ldm) >= 0 ||
        t->whole_disk.type == IMGFMT_FS_NTFS)
        return "windows";
    return "linux";
}

/* ---- output ----------------------------------------------------------- */

static void print_human(const char *os, int verdict_fail, unsigned nf, unsigned nw, unsigned nn)
{
    printf("image: %s\n", img_path);
    printf("os: %s\n", os);
    for (unsigned i = 0; i < nfindings; i++) {
        const struct finding *f = &findings[i];
        printf("%-22s %-11s %s", f->code, status_name[f->st], f->message);
        if (f->fix[0] && (f->st == ST_FAIL || f->st == ST_WARN))
            printf("; fix: %s", f->fix);
        printf("\n");
    }
    printf("verdict: %s (%u failed, %u warnings, %u not checked)\n",
           verdict_fail ? "FAIL" : "PASS", nf, nw, nn);
}

static void print_json(const char *os, int verdict_fail, unsigned nf, unsigned nw, unsigned nn)
{
    printf("{\n  \"image\": ");
    json_string(stdout, img_path);
    printf(",\n  \"os\": ");
    json_string(stdout, os);
    printf(",\n  \"findings\": [");
    for (unsigned i = 0; i < nfindings; i++) {
        const struct finding *f = &findings[i];
        printf("%s\n    {\"code\": ", i ? "," : "");
        json_string(stdout, f->code);
        printf(", \"check\": ");
        json_string(stdout, f->check);
        printf(", \"status\": ");
        json_string(stdout, status_name[f->st]);
        printf(", \"message\": ");
        json_string(stdout, f->message);
        if (f->measured != NO_VALUE)
            printf(", \"measured\": %" PRIu64, f->measured);
        if (f->limit != NO_VALUE)
            printf(", \"limit\": %" PRIu64, f->limit);
        if (f->fix[0] && (f->st == ST_FAIL || f->st == ST_WARN)) {
            printf(", \"fix\": ");
            json_string(stdout, f->fix);
        }
        printf("}");
    }
    printf("\n  ],\n  \"failed\": %u,\n  \"warnings\": %u,\n  \"not-checked\": %u,\n"
           "  \"verdict\": \"%s\"\n}\n", nf, nw, nn, verdict_fail ? "fail" : "pass");
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: %s [--os=auto|linux|windows] [--max-actual=50G] [--max-virtual=500G]\n"
        "          [--output=human|json] [-p] IMAGE\n"
        "\n"
        "Check a disk image against the cloud import rules before uploading it.\n"
        "Findings use the import service's error codes (InvalidFormatSize,\n"
        "PartitionNotPresent, RootPartitionNotFound, VirtioNotInstall,\n"
        "CloudInitNotInstalled) plus ExternalFiles, VhdSizeRule, ImageState,\n"
        "ImageWarning and WindowsDiskLayout for what the service does not say.\n"
        "  --os=OS            rules to apply: auto (from the file systems), linux, windows\n"
        "  --max-actual=SIZE  limit on the converted QCOW2 length (default 50G, binary units)\n"
        "  --max-virtual=SIZE limit on the virtual size (default 500G)\n"
        "  --output=json      machine-readable findings\n"
        "  -p                 show progress of the exact measure on stderr\n"
        "Exit status: 0 nothing fails, 1 something fails, 2 usage or I/O error.\n",
        prog);
}

int main(int argc, char **argv)
{
    prog = "imgfmt-check";
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.max_actual = 50ull << 30;
    c.max_virtual = 500ull << 30;
    c.os = "auto";
    int json = 0;
    static const struct option lopts[] = {
        {"os", required_argument, NULL, 'o'},
        {"max-actual", required_argument, NULL, 'a'},
        {"max-virtual", required_argument, NULL, 'v'},
        {"output", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "ph", lopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (strcmp(optarg, "auto") && strcmp(optarg, "linux") && strcmp(optarg, "windows")) {
                tool_error("--os must be auto, linux or windows");
                return EXIT_USAGE;
            }
            c.os = optarg;
            break;
        case 'a':
        case 'v':
            if (parse_size(optarg, ch == 'a' ? &c.max_actual : &c.max_virtual) < 0) {
                tool_error("invalid size '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'O':
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "human") != 0) {
                tool_error("--output must be human or json");
                return EXIT_USAGE;
            }
            break;
        case 'p':
            c.progress = isatty(2) ? PROGRESS_BAR : PROGRESS_JSON;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    img_path = argv[optind];

    /* Look at the bytes ourselves first: refused formats are named here. */
    int fd = open(img_path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        tool_error("%s: %s", img_path, strerror(errno));
        return EXIT_USAGE;
    }
    static uint8_t head[0x8010], tail[512];
    ssize_t hn = pread(fd, head, sizeof head, 0);
    ssize_t tn = st.st_size >= 512 ? pread(fd, tail, 512, st.st_size - 512) : 0;
    close(fd);
    if (hn < 0 || tn < 0) {
        tool_error("%s: read: %s", img_path, strerror(errno));
        return EXIT_USAGE;
    }
    struct sniff s = sniff_file(head, (size_t)hn, tail, (size_t)tn);
    const char *os = c.os;
    if (s.name) {
        add("InvalidFormatSize", "format", ST_FAIL, s.fix,
            "format %s is not accepted (RAW, VHD, QCOW2 or VMDK only)", s.name);
        if (s.vmdk_descriptor) {
            /* What the extents would give, if they are here: qemu drops
             * RDONLY/NOACCESS extent lines (the library warns). */
            imgfmt_error e2 = {0};
            imgfmt_image *d = NULL;
            if (imgfmt_open(img_path, NULL, &d, &e2) == 0) {
                for (uint32_t i = 0; imgfmt_warning(d, i); i++)
                    add("ImageWarning", "image-warning", ST_WARN,
                        "make every extent RW in the descriptor before converting it to "
                        "one file, so no extent is dropped", "%s", imgfmt_warning(d, i));
                imgfmt_close(d);
            } else {
                add("ExternalFiles", "external-files", ST_FAIL, s.fix,
                    "the descriptor's extents cannot be read: %s", e2.msg);
            }
        }
        not_checked_rest(1, "not checked: the format is refused");
        goto report;
    }

    imgfmt_error err = {0};
    if (imgfmt_open(img_path, NULL, &c.img, &err) < 0) {
        if (err.code == IMGFMT_E_IO || err.code == IMGFMT_E_NOMEM) {
            tool_error("%s", err.msg);
            return EXIT_USAGE;
        }
        if (err.code == IMGFMT_E_BACKING)
            add("ExternalFiles", "external-files", ST_FAIL,
                "upload a self-contained image: flatten it with imgfmt-convert -O qcow2 "
                "IMAGE disk.qcow2 where its other files are present",
                "the image needs other files: %s", err.msg);
        else
            add("InvalidFormatSize", "format", ST_FAIL,
                "re-export the disk from its source; this file cannot be read as RAW, VHD, "
                "QCOW2 or VMDK",
                "unreadable image: %s", err.msg);
        not_checked_rest(1, "not checked: the image could not be read");
        goto report;
    }
    c.info.struct_size = sizeof c.info;
    if (imgfmt_get_info(c.img, &c.info) < 0) {
        tool_error("%s", imgfmt_last_error(c.img)->msg);
        imgfmt_close(c.img);
        return EXIT_USAGE;
    }
    if (s.ours && strcmp(s.ours, c.info.format_name) != 0) {
        tool_error("%s looks like %s, but this libimgfmt has no %s reader", img_path, s.ours,
                   s.ours);
        imgfmt_close(c.img);
        return EXIT_USAGE;
    }
    add("InvalidFormatSize", "format", ST_PASS, NULL, "format %s%s%s%s", c.info.format_name,
        c.info.subformat ? " (" : "", c.info.subformat ? c.info.subformat : "",
        c.info.subformat ? ")" : "");
    check_sizes(&c);
    check_external(&c);
    if (c.info.format != IMGFMT_FMT_RAW)
        check_state(&c);
    if (c.info.format == IMGFMT_FMT_VHD)
        check_vhd_tail(&c);
    check_partitions(&c);
    os = decide_os(&c);
    if (c.table) {
        if (strcmp(os, "windows") == 0)
            check_windows(&c);
        else
            check_linux(&c);
    } else {
        add("RootPartitionNotFound", "root-partition", ST_NOT_CHECKED, NULL,
            "not checked: the partition table could not be read");
    }
    not_checked_rest(0, NULL);

report:;
    unsigned nf = 0, nw = 0, nn = 0;
    for (unsigned i = 0; i < nfindings; i++) {
        nf += findings[i].st == ST_FAIL;
        nw += findings[i].st == ST_WARN;
        nn += findings[i].st == ST_NOT_CHECKED;
    }
    if (json)
        print_json(os, nf > 0, nf, nw, nn);
    else
        print_human(os, nf > 0, nf, nw, nn);
    imgfmt_partition_table_free(c.table);
    imgfmt_close(c.img);
    if (c.io_error)
        return EXIT_USAGE;
    return nf ? EXIT_IMAGE : EXIT_OK;
}
