/*
 * guest.c -- the rules that need the guest's files (Linux): a real OS
 * root (RootPartitionNotFound), the default kernel's virtio drivers
 * (VirtioNotInstall), cloud-init (CloudInitNotInstalled).  Each verdict
 * names its evidence; nothing is "pass" unless it was read.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <string.h>

#include "check/check.h"
#include "fs/fstab.h"

#define ADD(c, code, id, st, fix, ...) \
    ifmt_check_add((c)->res, IMGFMT_CODE_##code, IMGFMT_CHECK_ID_##id, IMGFMT_CHECK_##st, \
                   fix, __VA_ARGS__)

static enum imgfmt_check_status status_of(enum imgfmt_verdict v)
{
    switch (v) {
    case IMGFMT_VERDICT_PASS: return IMGFMT_CHECK_PASS;
    case IMGFMT_VERDICT_FAIL: return IMGFMT_CHECK_FAIL;
    case IMGFMT_VERDICT_WARN: return IMGFMT_CHECK_WARN;
    default:                  return IMGFMT_CHECK_NOT_CHECKED;
    }
}

/* Root-capable volumes that could not be opened: why, for not-checked. */
static bool unreadable_roots(imgfmt_image *img, char *why, size_t cap)
{
    imgfmt_volume_list *l;
    imgfmt_error err = { 0 };
    bool any = false;
    why[0] = '\0';
    if (imgfmt_volumes(img, &l, &err) < 0) {
        snprintf(why, cap, "%s", err.msg);
        return true;
    }
    for (uint32_t i = 0; i < imgfmt_volumes_nb_warnings(l); i++) {   /* e.g. an unread PV */
        size_t n = strlen(why);
        snprintf(why + n, cap - n, "%s%s", n ? "; " : "", imgfmt_volumes_warning(l, i));
        any = true;
    }
    for (uint32_t i = 0; i < imgfmt_volumes_count(l); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(l, i);
        imgfmt_filesystem *fs;
        if (!imgfmt_fs_is_linux_root(v->fs.type))
            continue;
        if (imgfmt_volume_open(l, i, NULL, &fs, &err) < 0) {
            size_t n = strlen(why);
            snprintf(why + n, cap - n, "%s%s", n ? "; " : "", err.msg);
            any = true;
        } else {
            imgfmt_fs_close(fs);
        }
    }
    imgfmt_volumes_free(l);
    return any;
}

static void judge_root(struct ifmt_check *c, const imgfmt_os_info *os, bool *have_root)
{
    char why[600];
    *have_root = os->type == IMGFMT_OS_LINUX;
    if (*have_root) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, PASS, NULL, "OS root on %s",
            os->root);
        return;
    }
    if (unreadable_roots(c->img, why, sizeof why)) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, NOT_CHECKED, NULL,
            "not checked: a root-capable file system could not be read: %s", why);
        return;
    }
    ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, FAIL,
        "the image must hold the system disk: a root file system with /etc/fstab, an "
        "os-release and an init (a data disk or an empty file system is not importable)",
        "no file system holds an OS root: %s", os->not_read);
}

static const char *virtio_fix(const imgfmt_os_info *os, const char *ver)
{
    static char fix[400];
    if (strcmp(os->package_format, "deb") == 0)
        snprintf(fix, sizeof fix, "in the guest: add virtio_blk and virtio_pci to "
                 "/etc/initramfs-tools/modules, then update-initramfs -u -k %s", ver);
    else
        snprintf(fix, sizeof fix, "in the guest: dracut --add-drivers \"virtio_blk "
                 "virtio_pci\" -f /boot/initramfs-%s.img %s", ver, ver);
    return fix;
}

static void judge_virtio(struct ifmt_check *c, const imgfmt_inspection *ins,
                         const imgfmt_os_info *os)
{
    imgfmt_kernel_info k;
    if (os->default_kernel < 0 ||
        imgfmt_inspection_kernel(ins, (uint32_t)os->default_kernel, &k) < 0) {
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
            "not checked: no kernel found (/boot/vmlinuz-*, /lib/modules/*)%s%s",
            os->default_rule[0] ? "; " : "", os->default_rule);
        return;
    }
    enum imgfmt_check_status st = status_of(k.virtio);
    ifmt_check_add(c->res, IMGFMT_CODE_VIRTIO_NOT_INSTALL, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, st,
                   st == IMGFMT_CHECK_FAIL ? virtio_fix(os, k.version) : NULL,
                   "%s%s of the default kernel %s (%s)",
                   st == IMGFMT_CHECK_NOT_CHECKED ? "not checked: " : "", k.virtio_evidence,
                   k.version, os->default_rule);
    for (uint32_t i = 0; i < os->nb_kernels; i++) {
        imgfmt_kernel_info o;
        if ((int)i == os->default_kernel || imgfmt_inspection_kernel(ins, i, &o) < 0 ||
            o.virtio != IMGFMT_VERDICT_FAIL || st != IMGFMT_CHECK_PASS)
            continue;
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, WARN, virtio_fix(os, o.version),
            "kernel %s (not the default) would not boot from a virtio disk: %s", o.version,
            o.virtio_evidence);
    }
}

static void judge_cloudinit(struct ifmt_check *c, const imgfmt_inspection *ins)
{
    imgfmt_cloudinit_info ci;
    imgfmt_inspection_cloudinit(ins, &ci);
    enum imgfmt_check_status st = status_of(ci.verdict);
    const char *fix = NULL;
    if (st == IMGFMT_CHECK_FAIL)
        fix = strstr(ci.evidence, "disabled") || strstr(ci.evidence, "masked")
                  ? "enable cloud-init in the guest: remove /etc/cloud/cloud-init.disabled "
                    "(and cloud-init=disabled from the kernel command line), systemctl "
                    "unmask/enable cloud-init-local cloud-init cloud-config cloud-final"
                  : "install cloud-init in the guest (apt-get install cloud-init, yum install "
                    "cloud-init, zypper install cloud-init) and enable its services";
    else if (st == IMGFMT_CHECK_WARN)
        fix = "update cloud-init to 0.7.9 or later";
    ifmt_check_add(c->res, IMGFMT_CODE_CLOUD_INIT_NOT_INSTALLED, IMGFMT_CHECK_ID_CLOUD_INIT,
                   st, fix, "%s%s%s%s",
        st == IMGFMT_CHECK_NOT_CHECKED ? "not checked: " : "", ci.evidence,
        ci.datasources[0] ? "; datasource_list: " : "", ci.datasources);
}

/* The list's name for an os-release ID (families listed by one name). */
static const char *os_family(const char *id)
{
    if (strncmp(id, "opensuse", 8) == 0)
        return "opensuse";
    if (strcmp(id, "sles") == 0 || strcmp(id, "sled") == 0 || strncmp(id, "sles_", 5) == 0)
        return "suse";
    if (strcmp(id, "fedora-coreos") == 0 || strcmp(id, "flatcar") == 0 ||
        strcmp(id, "coreos") == 0 || strcmp(id, "rhcos") == 0)
        return "coreos";
    return id;
}

/* Is (kind, name) on the list?  Linux entries match the family exactly,
 * Windows entries as a substring of the product name. */
static bool os_listed(const char *list, const char *kind, const char *name, char *names,
                      size_t cap)
{
    bool found = false;
    size_t kl = strlen(kind);
    names[0] = '\0';
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(l < 255 ? l : 255), p);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        size_t ll = strlen(line);
        while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
            line[--ll] = '\0';
        if (ll > kl + 1 && strncmp(line, kind, kl) == 0 && line[kl] == ' ') {
            const char *v = line + kl + 1;
            size_t n = strlen(names);
            snprintf(names + n, cap - n, "%s%s", n ? ", " : "", v);
            if (kind[0] == 'l' ? strcmp(v, name) == 0 : strstr(name, v) != NULL)
                found = true;
        }
        p = e ? e + 1 : NULL;
    }
    return found;
}

static const char *bits_of(const char *arch)
{
    return strcmp(arch, "i386") == 0 || strcmp(arch, "arm") == 0 ? "32-bit"
           : arch[0] ? "64-bit" : "unknown width";
}

static void judge_os_list(struct ifmt_check *c, const imgfmt_os_info *os)
{
    const char *list = c->opts.os_list ? c->opts.os_list : IMGFMT_CHECK_DEFAULT_OS_LIST;
    bool win = os->type == IMGFMT_OS_WINDOWS;
    const char *name = win ? os->product_name : os_family(os->distro);
    char names[512];
    if (!name[0]) {
        ADD(c, OS_NOT_LISTED, OS_LIST, NOT_CHECKED, NULL,
            "not checked: the %s could not be read%s%s", win ? "product name" : "distribution",
            os->not_read[0] ? ": " : "", os->not_read);
        return;
    }
    bool ok = os_listed(list, win ? "windows" : "linux", name, names, sizeof names);
    if (ok)
        ADD(c, OS_NOT_LISTED, OS_LIST, PASS, NULL, "%s %s (%s), %s %s: on the list",
            win ? os->product_name : os->distro, os->version,
            win ? os->distro_source : os->product_name, os->arch[0] ? os->arch : "arch unknown",
            bits_of(os->arch));
    else
        ADD(c, OS_NOT_LISTED, OS_LIST, WARN,
            "check the provider's current list of importable operating systems (or pass "
            "your own with --os-list=FILE)",
            "%s %s (%s), %s %s is not on the list (%s)", win ? os->product_name : os->distro,
            os->version, win ? os->distro_source : os->product_name,
            os->arch[0] ? os->arch : "arch unknown", bits_of(os->arch), names);
}

struct devname_ctx {
    char found[600];
};

static bool is_sd_name(const char *s)
{
    return (strncmp(s, "/dev/sd", 7) == 0 || strncmp(s, "/dev/hd", 7) == 0) &&
           s[7] >= 'a' && s[7] <= 'z';
}

static int note_devname(void *opaque, const struct ifmt_fstab_entry *e)
{
    struct devname_ctx *d = opaque;
    if (is_sd_name(e->spec)) {
        size_t n = strlen(d->found);
        snprintf(d->found + n, sizeof d->found - n, "%s/etc/fstab line %u: %s on %s",
                 n ? "; " : "", e->line, e->spec, e->file);
    }
    return 0;
}

/* /dev/sdX and /dev/hdX names: under virtio the disks are /dev/vdX. */
static void judge_device_names(struct ifmt_check *c, const imgfmt_inspection *ins,
                               const imgfmt_os_info *os)
{
    imgfmt_filesystem *fs = imgfmt_inspection_fs(ins);
    struct devname_ctx d = { "" };
    imgfmt_file *f;
    if (imgfmt_fs_open_file(fs, "/etc/fstab", &f) == 0) {
        char buf[65536];
        size_t got = 0;
        if (imgfmt_file_pread(f, buf, sizeof buf, 0, &got) == 0)
            ifmt_fstab_parse(buf, got, note_devname, &d);
        imgfmt_file_close(f);
    }
    const char *root = strstr(os->default_cmdline, "root=");
    if (root && is_sd_name(root + 5)) {
        size_t n = strlen(d.found);
        snprintf(d.found + n, sizeof d.found - n, "%sthe default kernel's %.*s",
                 n ? "; " : "", (int)strcspn(root, " "), root);
    }
    if (d.found[0])
        ADD(c, DEVICE_NAMES, DEVICE_NAMES, WARN,
            "name the file systems by UUID= or LABEL= (blkid shows them): under virtio the "
            "disks are /dev/vdX", "%s", d.found);
    else
        ADD(c, DEVICE_NAMES, DEVICE_NAMES, PASS, NULL,
            "no /dev/sdX or /dev/hdX names in /etc/fstab or the default kernel's root=");
}

void ifmt_check_guest_linux(struct ifmt_check *c)
{
    imgfmt_inspection *ins;
    imgfmt_error err = { 0 };
    if (imgfmt_inspect(c->img, &ins, &err) < 0) {
        const char *why = err.msg[0] ? err.msg : imgfmt_strerror(err.code);
        ADD(c, ROOT_PARTITION_NOT_FOUND, ROOT_PARTITION, NOT_CHECKED, NULL,
            "not checked: guest inspection failed: %s", why);
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
            "not checked: guest inspection failed: %s", why);
        ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL,
            "not checked: guest inspection failed: %s", why);
        ifmt_check_read_failed(c->res, &err);
        return;
    }
    imgfmt_os_info os;
    bool have_root;
    imgfmt_inspection_os(ins, &os);
    judge_root(c, &os, &have_root);
    if (have_root) {
        judge_virtio(c, ins, &os);
        judge_cloudinit(c, ins);
        judge_os_list(c, &os);
        judge_device_names(c, ins, &os);
    } else {
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
            "not checked: no OS root to inspect");
        ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL,
            "not checked: no OS root to inspect");
    }
    imgfmt_inspection_free(ins);
}

/* Windows: the system volume is the NTFS holding Windows/System32/config/
 * SYSTEM (not the "System Reserved" boot partition beside it). */
void ifmt_check_guest_windows_root(struct ifmt_check *c)
{
    imgfmt_filesystem *fs;
    imgfmt_error err = { 0 };
    int r = imgfmt_guest_open(c->img, NULL, &fs, &err);
    if (r == 0 && imgfmt_guest_os_type(fs) == IMGFMT_OS_WINDOWS) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, PASS, NULL, "Windows system on %s",
            imgfmt_guest_root_evidence(fs));
    } else if (r == 0) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, FAIL,
            "the Windows system volume (NTFS with \\Windows\\System32\\config) must be a "
            "partition of this disk", "the OS root found is not Windows: %s",
            imgfmt_guest_root_evidence(fs));
    } else if (r == IMGFMT_E_NOT_FOUND) {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, FAIL,
            "the Windows system volume (NTFS with \\Windows\\System32\\config) must be a "
            "partition of this disk", "no NTFS volume holds Windows: %s", err.msg);
    } else {
        ADD(c, ROOT_PARTITION_NOT_FOUND, WINDOWS_SYSTEM, NOT_CHECKED, NULL,
            "not checked: the volumes could not be read: %s", err.msg);
    }
    imgfmt_fs_close(fs);
}

/* Windows: viostor/vioscsi boot-critical (VirtioNotInstall) and
 * cloudbase-init (CloudInitNotInstalled) from the registry. */
void ifmt_check_guest_windows(struct ifmt_check *c)
{
    imgfmt_inspection *ins;
    imgfmt_error err = { 0 };
    imgfmt_windows_info w;
    imgfmt_cloudinit_info ci;
    if (imgfmt_inspect(c->img, &ins, &err) < 0) {
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL, "not checked: %s", err.msg);
        ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL, "not checked: %s",
            err.msg);
        return;
    }
    if (imgfmt_inspection_windows(ins, &w) < 0) {
        imgfmt_os_info os;
        imgfmt_inspection_os(ins, &os);
        const char *why = os.not_read[0] ? os.not_read : "no Windows system volume to inspect";
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL, "not checked: %s", why);
        ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL, "not checked: %s", why);
        imgfmt_inspection_free(ins);
        return;
    }
    enum imgfmt_check_status st = status_of(w.virtio);
    ifmt_check_add(c->res, IMGFMT_CODE_VIRTIO_NOT_INSTALL, IMGFMT_CHECK_ID_VIRTIO_DRIVERS, st,
                   st == IMGFMT_CHECK_PASS || st == IMGFMT_CHECK_NOT_CHECKED ? NULL
                   : "install the virtio-win drivers in the guest (viostor) and make the "
                     "storage driver boot-start, e.g. boot once with a virtio disk attached, "
                     "before exporting", "%s%s", st == IMGFMT_CHECK_NOT_CHECKED
                   ? "not checked: " : "", w.virtio_evidence);
    imgfmt_inspection_cloudinit(ins, &ci);
    st = status_of(ci.verdict);
    ifmt_check_add(c->res, IMGFMT_CODE_CLOUD_INIT_NOT_INSTALLED, IMGFMT_CHECK_ID_CLOUD_INIT, st,
                   st == IMGFMT_CHECK_PASS || st == IMGFMT_CHECK_NOT_CHECKED ? NULL
                   : "install cloudbase-init in the guest and set its service to start "
                     "automatically", "%s%s", st == IMGFMT_CHECK_NOT_CHECKED
                   ? "not checked: " : "", ci.evidence);
    imgfmt_os_info os;
    imgfmt_inspection_os(ins, &os);
    judge_os_list(c, &os);
    imgfmt_inspection_free(ins);
}
