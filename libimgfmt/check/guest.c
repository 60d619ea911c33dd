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
    } else {
        ADD(c, VIRTIO_NOT_INSTALL, VIRTIO_DRIVERS, NOT_CHECKED, NULL,
            "not checked: no OS root to inspect");
        ADD(c, CLOUD_INIT_NOT_INSTALLED, CLOUD_INIT, NOT_CHECKED, NULL,
            "not checked: no OS root to inspect");
    }
    imgfmt_inspection_free(ins);
}
