/*
 * windows.c -- what a Windows guest's registry and files say: the product
 * (SOFTWARE\Microsoft\Windows NT\CurrentVersion), the current control set
 * (SYSTEM\Select\Current), the architecture (cmd.exe's PE header), whether
 * the virtio storage driver is installed and boot-critical (viostor or
 * vioscsi: Start=0, its file present, a device binding), and cloudbase-init.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/bytes.h"
#include "inspect/inspect.h"

static bool dword_of(imgfmt_hive *h, imgfmt_hive_key k, const char *name, uint32_t *out)
{
    imgfmt_hive_value v;
    return imgfmt_hive_get_value(h, k, name, &v) == 0 && imgfmt_hive_value_dword(h, v, out) == 0;
}

static bool string_of(imgfmt_hive *h, imgfmt_hive_key k, const char *name, char *out,
                      size_t cap)
{
    imgfmt_hive_value v;
    const char *s;
    if (imgfmt_hive_get_value(h, k, name, &v) < 0 || imgfmt_hive_value_string(h, v, &s) < 0)
        return false;
    ifmt_copy(out, cap, s);
    return true;
}

static void read_product(struct imgfmt_inspection *ins)
{
    imgfmt_hive *h;
    imgfmt_error err = { 0 };
    imgfmt_hive_key k;
    if (imgfmt_hive_open_file(ins->fs, "/Windows/System32/config/SOFTWARE", &h, &err) < 0) {
        ifmt_append(ins->not_read, sizeof ins->not_read, "; ", "SOFTWARE hive: %s", err.msg);
        return;
    }
    if (imgfmt_hive_lookup(h, imgfmt_hive_root(h), "Microsoft\\Windows NT\\CurrentVersion",
                           &k) == 0) {
        uint32_t major = 0, minor = 0;
        char v[64] = "";
        string_of(h, k, "ProductName", ins->product, sizeof ins->product);
        string_of(h, k, "EditionID", ins->win_edition, sizeof ins->win_edition);
        string_of(h, k, "InstallationType", ins->win_install_type, sizeof ins->win_install_type);
        if (!string_of(h, k, "CurrentBuildNumber", ins->win_build, sizeof ins->win_build))
            string_of(h, k, "CurrentBuild", ins->win_build, sizeof ins->win_build);
        if (dword_of(h, k, "CurrentMajorVersionNumber", &major)) {
            dword_of(h, k, "CurrentMinorVersionNumber", &minor);
        } else if (string_of(h, k, "CurrentVersion", v, sizeof v)) {
            char *end;
            major = (uint32_t)strtoul(v, &end, 10);
            minor = *end == '.' ? (uint32_t)strtoul(end + 1, NULL, 10) : 0;
        }
        ins->major = major;
        ins->minor = minor;
        snprintf(ins->version, sizeof ins->version, "%u.%u", major, minor);
        ifmt_copy(ins->distro, sizeof ins->distro, "windows");
        ifmt_copy(ins->distro_source, sizeof ins->distro_source,
                  "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion");
    }
    imgfmt_hive_close(h);
}

static void read_arch(struct imgfmt_inspection *ins)
{
    static const char *const bins[] = { "/Windows/System32/cmd.exe",
                                        "/Windows/System32/ntoskrnl.exe" };
    for (size_t i = 0; i < 2; i++) {
        imgfmt_file *f;
        uint8_t b[512];
        size_t got;
        if (imgfmt_fs_open_file(ins->fs, bins[i], &f) < 0)
            continue;
        int r = imgfmt_file_pread(f, b, sizeof b, 0, &got);
        imgfmt_file_close(f);
        if (r < 0 || got < 64 || b[0] != 'M' || b[1] != 'Z')
            continue;
        uint32_t pe = ifmt_le32(b + 0x3c);
        if (pe > got - 6 || memcmp(b + pe, "PE\0\0", 4) != 0)
            continue;
        uint16_t m = ifmt_le16(b + pe + 4);
        const char *a = m == 0x8664 ? "x86_64" : m == 0x14c ? "i386" : m == 0xaa64 ? "aarch64" : NULL;
        if (!a)
            continue;
        ifmt_copy(ins->arch, sizeof ins->arch, a);
        snprintf(ins->arch_source, sizeof ins->arch_source, "%s (PE machine 0x%04x)", bins[i], m);
        return;
    }
}

/* "system32\drivers\viostor.sys", "\SystemRoot\System32\..." -> a guest path. */
static void driver_path(const char *image_path, const char *service, char *out, size_t cap)
{
    const char *p = image_path[0] ? image_path : NULL;
    char def[96];
    if (!p) {
        snprintf(def, sizeof def, "system32\\drivers\\%s.sys", service);
        p = def;
    }
    static const char *const prefixes[] = { "\\SystemRoot\\", "%SystemRoot%\\",
                                            "\\??\\C:\\Windows\\", "C:\\Windows\\" };
    for (size_t i = 0; i < 4; i++)
        if (strncasecmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
            p += strlen(prefixes[i]);
            break;
        }
    snprintf(out, cap, "/Windows/%s", p);
    for (char *c = out; *c; c++)
        if (*c == '\\')
            *c = '/';
}

static bool is_virtio_storage_id(const char *name, size_t skip)
{
    static const char *const ids[] = { "ven_1af4&dev_1001", "ven_1af4&dev_1042",
                                       "ven_1af4&dev_1004", "ven_1af4&dev_1048" };
    if (strlen(name) < skip)
        return false;
    for (size_t i = 0; i < 4; i++)
        if (strncasecmp(name + skip, ids[i], strlen(ids[i])) == 0)
            return true;
    return false;
}

/* A device binding for the virtio block/SCSI PCI ids: in the control set's
 * CriticalDeviceDatabase ("pci#ven_1af4&dev_1001...", Windows <= 6.1) or in
 * SYSTEM\DriverDatabase\DeviceIds\PCI ("VEN_1AF4&DEV_1001...", >= 6.2). */
static bool has_binding(imgfmt_hive *h, imgfmt_hive_key cs, char *where, size_t cap)
{
    static const char *const parents[] = { "Control\\CriticalDeviceDatabase",
                                           "DriverDatabase\\DeviceIds\\PCI", NULL };
    imgfmt_hive_key k;
    for (size_t i = 0; parents[i]; i++) {
        if (imgfmt_hive_lookup(h, i == 0 ? cs : imgfmt_hive_root(h), parents[i], &k) < 0)
            continue;
        imgfmt_hive_iter *it;
        uint32_t sub;
        if (imgfmt_hive_subkeys(h, k, &it) < 0)
            continue;
        bool found = false;
        for (unsigned n = 0; !found && n < 100000 && imgfmt_hive_next(it, &sub) > 0; n++) {
            imgfmt_hive_key_info ki;
            if (imgfmt_hive_key_stat(h, sub, &ki) < 0)
                continue;
            if (is_virtio_storage_id(ki.name, i == 0 ? 4 : 0)) {
                snprintf(where, cap, "%s\\%s", parents[i], ki.name);
                found = true;
            }
        }
        imgfmt_hive_iter_free(it);
        if (found)
            return true;
    }
    return false;
}

/* The storage driver in control set cs: the first of viostor, vioscsi. */
static void judge_virtio(struct imgfmt_inspection *ins, imgfmt_hive *h, imgfmt_hive_key cs)
{
    static const char *const services[] = { "viostor", "vioscsi" };
    for (size_t i = 0; i < 2; i++) {
        char path[96], img[256] = "", file[320], bind[300];
        imgfmt_hive_key svc;
        uint32_t start = 0xffffffffu;
        snprintf(path, sizeof path, "Services\\%s", services[i]);
        if (imgfmt_hive_lookup(h, cs, path, &svc) < 0)
            continue;
        dword_of(h, svc, "Start", &start);
        string_of(h, svc, "ImagePath", img, sizeof img);
        driver_path(img, services[i], file, sizeof file);
        imgfmt_stat st;
        if (imgfmt_fs_stat(ins->fs, file, 0, &st) < 0) {
            ins->win_virtio = IMGFMT_VERDICT_FAIL;
            snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
                     "service %s (%s) is registered but its driver %s is missing",
                     services[i], ins->win_control_set, file);
            return;
        }
        bool bound = has_binding(h, cs, bind, sizeof bind);
        ins->win_virtio = start == 0 && bound ? IMGFMT_VERDICT_PASS : IMGFMT_VERDICT_WARN;
        snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
                 "%s\\Services\\%s Start=%u%s, %s present%s%s%s", ins->win_control_set,
                 services[i], start, start == 0 ? " (boot)" : " (not boot-critical: expect "
                 "INACCESSIBLE_BOOT_DEVICE on a virtio disk)", file,
                 bound ? ", bound by " : "", bound ? bind : "",
                 bound ? "" : ", no virtio PCI device binding (CriticalDeviceDatabase, "
                 "DriverDatabase)");
        return;
    }
    ins->win_virtio = IMGFMT_VERDICT_FAIL;
    snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
             "no viostor or vioscsi service in %s", ins->win_control_set);
}

static void judge_cloudbase(struct imgfmt_inspection *ins, imgfmt_hive *h, imgfmt_hive_key cs)
{
    imgfmt_hive_key svc;
    uint32_t start = 0xffffffffu;
    if (imgfmt_hive_lookup(h, cs, "Services\\cloudbase-init", &svc) < 0) {
        ins->ci_verdict = IMGFMT_VERDICT_FAIL;
        snprintf(ins->ci_evidence, sizeof ins->ci_evidence,
                 "no cloudbase-init service in %s", ins->win_control_set);
        return;
    }
    dword_of(h, svc, "Start", &start);
    ins->ci_verdict = start == 2 ? IMGFMT_VERDICT_PASS
                    : start == 4 ? IMGFMT_VERDICT_FAIL : IMGFMT_VERDICT_WARN;
    snprintf(ins->ci_evidence, sizeof ins->ci_evidence, "%s\\Services\\cloudbase-init Start=%u%s",
             ins->win_control_set, start,
             start == 2 ? " (automatic)" : start == 4 ? ": installed but disabled"
                                                      : ": not started automatically");
}

void ifmt_inspect_windows(struct imgfmt_inspection *ins)
{
    imgfmt_hive *h;
    imgfmt_error err = { 0 };
    imgfmt_hive_key sel, cs;
    uint32_t cur = 0;
    read_product(ins);
    read_arch(ins);
    ins->win_virtio = ins->ci_verdict = IMGFMT_VERDICT_NOT_CHECKED;
    if (imgfmt_hive_open_file(ins->fs, "/Windows/System32/config/SYSTEM", &h, &err) < 0) {
        snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
                 "SYSTEM hive not read: %s", err.msg);
        ifmt_copy(ins->ci_evidence, sizeof ins->ci_evidence, ins->win_virtio_evidence);
        return;
    }
    if (imgfmt_hive_lookup(h, imgfmt_hive_root(h), "Select", &sel) < 0 ||
        !dword_of(h, sel, "Current", &cur) || cur == 0 || cur > 999) {
        snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
                 "SYSTEM hive has no Select\\Current: the current control set is unknown");
        ifmt_copy(ins->ci_evidence, sizeof ins->ci_evidence, ins->win_virtio_evidence);
    } else {
        snprintf(ins->win_control_set, sizeof ins->win_control_set, "ControlSet%03u", cur);
        if (imgfmt_hive_lookup(h, imgfmt_hive_root(h), ins->win_control_set, &cs) < 0) {
            snprintf(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence,
                     "Select\\Current names %s, which the hive lacks", ins->win_control_set);
            ins->win_virtio = IMGFMT_VERDICT_FAIL;
        } else {
            judge_virtio(ins, h, cs);
            judge_cloudbase(ins, h, cs);
        }
    }
    if (imgfmt_hive_dirty(h))
        ifmt_append(ins->win_virtio_evidence, sizeof ins->win_virtio_evidence, "; ",
                    "SYSTEM hive dirty: newer changes in .LOG1/.LOG2 were not replayed");
    imgfmt_hive_close(h);
}
