/*
 * linux-boot.c -- the kernels a Linux guest has (/boot/vmlinuz-*, the
 * module trees) and the one its boot loader starts: GRUB 2's menu with
 * `set default` and grubenv's saved_entry, or BLS entries.  Never "the
 * newest file" unless no loader configuration can be read (then said so).
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "inspect/parse.h"

#define MAX_DIR_SCAN 4096u

static bool skip_kernel_name(const char *v)
{
    size_t n = strlen(v);
    return strstr(v, "-rescue-") != NULL || strstr(v, "kdump") != NULL || n == 0 ||
           (n > 4 && strcmp(v + n - 4, ".old") == 0) ||
           (n > 7 && strcmp(v + n - 7, ".rpmsave") == 0);
}

static struct ifmt_kernel *find_kernel(struct imgfmt_inspection *ins, const char *ver)
{
    for (uint32_t i = 0; i < ins->nb_kernels; i++)
        if (strcmp(ins->kernels[i].version, ver) == 0)
            return &ins->kernels[i];
    return NULL;
}

static struct ifmt_kernel *add_kernel(struct imgfmt_inspection *ins, const char *ver)
{
    struct ifmt_kernel *k = find_kernel(ins, ver);
    if (k || ins->nb_kernels >= IFMT_MAX_KERNELS || strlen(ver) >= sizeof k->version)
        return k;
    k = &ins->kernels[ins->nb_kernels++];
    memset(k, 0, sizeof *k);
    ifmt_copy(k->version, sizeof k->version, ver);
    k->blk = k->net = '?';
    return k;
}

static void scan_boot_dir(struct imgfmt_inspection *ins)
{
    imgfmt_dir *d;
    imgfmt_dirent e;
    if (imgfmt_fs_opendir(ins->fs, "/boot", &d) < 0)
        return;
    for (unsigned n = 0; n < MAX_DIR_SCAN && imgfmt_fs_readdir(d, &e) > 0; n++) {
        const char *v = NULL;
        if (strncmp(e.name, "vmlinuz-", 8) == 0 || strncmp(e.name, "vmlinux-", 8) == 0)
            v = e.name + 8;
        if (!v || skip_kernel_name(v))
            continue;
        struct ifmt_kernel *k = add_kernel(ins, v);
        if (k)
            snprintf(k->vmlinuz, sizeof k->vmlinuz, "/boot/%s", e.name);
    }
    imgfmt_fs_closedir(d);
}

static void scan_module_trees(struct imgfmt_inspection *ins)
{
    imgfmt_dir *d;
    imgfmt_dirent e;
    const char *root = ifmt_guest_is_dir(ins->fs, "/lib/modules") ? "/lib/modules"
                                                                   : "/usr/lib/modules";
    if (imgfmt_fs_opendir(ins->fs, root, &d) < 0)
        return;
    for (unsigned n = 0; n < MAX_DIR_SCAN && imgfmt_fs_readdir(d, &e) > 0; n++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s/modules.dep", root, e.name);
        if (skip_kernel_name(e.name) || !ifmt_guest_exists(ins->fs, p))
            continue;
        struct ifmt_kernel *k = add_kernel(ins, e.name);
        snprintf(p, sizeof p, "%s/%s/vmlinuz", root, e.name);
        if (k && !k->vmlinuz[0] && ifmt_guest_exists(ins->fs, p))
            ifmt_copy(k->vmlinuz, sizeof k->vmlinuz, p);
    }
    imgfmt_fs_closedir(d);
}

static void find_kernel_files(struct imgfmt_inspection *ins, struct ifmt_kernel *k)
{
    static const char *const configs[] = { "/boot/config-%s", "/lib/modules/%s/config",
                                           "/usr/lib/modules/%s/config" };
    static const char *const initrds[] = { "/boot/initrd.img-%s", "/boot/initramfs-%s.img",
                                           "/boot/initrd-%s", "/boot/initrd-%s.img",
                                           "/usr/lib/modules/%s/initrd" };
    char p[320];
    for (size_t i = 0; i < 3 && !k->config[0]; i++) {
        snprintf(p, sizeof p, configs[i], k->version);
        if (ifmt_guest_exists(ins->fs, p))
            ifmt_copy(k->config, sizeof k->config, p);
    }
    for (size_t i = 0; i < 5 && !k->initramfs[0]; i++) {
        snprintf(p, sizeof p, initrds[i], k->version);
        if (ifmt_guest_exists(ins->fs, p))
            ifmt_copy(k->initramfs, sizeof k->initramfs, p);
    }
}

/* The kernel version a loader's linux path names ("/vmlinuz-X",
 * "/boot/vmlinuz-X", "/ostree/.../vmlinuz-X"). */
static struct ifmt_kernel *kernel_of_path(struct imgfmt_inspection *ins, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "vmlinuz-", 8) && strncmp(base, "vmlinux-", 8))
        return NULL;
    return find_kernel(ins, base + 8);
}

static void read_saved_entry(struct imgfmt_inspection *ins, const char *dir, char *out,
                             size_t cap)
{
    char p[200], *t;
    size_t n;
    out[0] = '\0';
    snprintf(p, sizeof p, "%s/grubenv", dir);
    if (ifmt_guest_read(ins->fs, p, 65536, &t, &n) == 0) {
        ifmt_kv_get(t, n, "saved_entry", out, cap);
        free(t);
    }
}

/* BLS: the entry saved_entry names, else the highest version. */
static void default_from_bls(struct imgfmt_inspection *ins, const char *saved)
{
    imgfmt_dir *d;
    imgfmt_dirent e;
    struct ifmt_bls_entry best, cur;
    char best_name[256] = "";
    bool have = false, by_saved = false;
    if (imgfmt_fs_opendir(ins->fs, "/boot/loader/entries", &d) < 0) {
        snprintf(ins->default_rule, sizeof ins->default_rule,
                 "grub.cfg calls blscfg, but /boot/loader/entries cannot be listed");
        return;
    }
    for (unsigned n = 0; n < MAX_DIR_SCAN && !by_saved && imgfmt_fs_readdir(d, &e) > 0; n++) {
        size_t l = strlen(e.name);
        char p[400], *t;
        size_t tl;
        if (l < 6 || strcmp(e.name + l - 5, ".conf") || l > 250)
            continue;
        snprintf(p, sizeof p, "/boot/loader/entries/%s", e.name);
        if (ifmt_guest_read(ins->fs, p, 65536, &t, &tl) < 0)
            continue;
        ifmt_bls_parse(t, tl, &cur);
        free(t);
        by_saved = saved[0] && strncmp(e.name, saved, l - 5) == 0 && saved[l - 5] == '\0';
        if (by_saved || !have || ifmt_version_cmp(cur.version, best.version) > 0) {
            best = cur;
            ifmt_copy(best_name, sizeof best_name, e.name);
            have = true;
        }
    }
    imgfmt_fs_closedir(d);
    if (!have)
        return;
    ifmt_copy(ins->default_linux, sizeof ins->default_linux, best.linux_path);
    ifmt_copy(ins->default_options, sizeof ins->default_options, best.options);
    snprintf(ins->default_rule, sizeof ins->default_rule, by_saved
             ? "BLS entry %s (grubenv saved_entry)" : "BLS entry %s (highest version)",
             best_name);
    snprintf(ins->bootloader, sizeof ins->bootloader, "bls");
}

static bool default_from_grub2(struct imgfmt_inspection *ins)
{
    static const char *const dirs[] = { "/boot/grub", "/boot/grub2" };
    for (size_t i = 0; i < 2; i++) {
        char p[200], *t, saved[256];
        size_t n;
        snprintf(p, sizeof p, "%s/grub.cfg", dirs[i]);
        if (ifmt_guest_read(ins->fs, p, IFMT_SMALL_FILE, &t, &n) < 0)
            continue;
        struct ifmt_grub_menu *m = malloc(sizeof *m);
        if (!m) {
            free(t);
            return false;
        }
        ifmt_grub_parse(t, n, m);
        free(t);
        read_saved_entry(ins, dirs[i], saved, sizeof saved);
        snprintf(ins->bootloader, sizeof ins->bootloader, "grub2");
        ifmt_copy(ins->bootcfg, sizeof ins->bootcfg, p);
        if (m->blscfg && m->nb == 0) {
            default_from_bls(ins, saved);
        } else {
            int idx = ifmt_grub_default(m, saved, ins->default_rule, sizeof ins->default_rule);
            if (idx >= 0) {
                snprintf(ins->default_linux, sizeof ins->default_linux, "%s",
                         m->entries[idx].linux_path);
                snprintf(ins->default_options, sizeof ins->default_options, "%s",
                         m->entries[idx].options);
                ifmt_append(ins->default_rule, sizeof ins->default_rule, ": ", "'%s'",
                            m->entries[idx].title);
            } else {
                ifmt_append(ins->default_rule, sizeof ins->default_rule, ": ",
                            "no menu entry matches");
            }
        }
        free(m);
        return true;
    }
    return false;
}

static void choose_default(struct imgfmt_inspection *ins)
{
    ins->default_kernel = -1;
    if (!default_from_grub2(ins))
        snprintf(ins->bootloader, sizeof ins->bootloader, "none");
    struct ifmt_kernel *k = ins->default_linux[0] ? kernel_of_path(ins, ins->default_linux)
                                                  : NULL;
    if (k) {
        ins->default_kernel = (int)(k - ins->kernels);
        return;
    }
    /* Unknown default: the highest version, and say so. */
    for (uint32_t i = 0; i < ins->nb_kernels; i++)
        if (ins->default_kernel < 0 ||
            ifmt_version_cmp(ins->kernels[i].version,
                             ins->kernels[ins->default_kernel].version) > 0)
            ins->default_kernel = (int)i;
    if (ins->default_kernel >= 0)
        ifmt_append(ins->default_rule, sizeof ins->default_rule, "; ",
                    "default kernel unknown: the highest version, %s",
                    ins->kernels[ins->default_kernel].version);
}

void ifmt_inspect_linux_boot(struct imgfmt_inspection *ins)
{
    scan_boot_dir(ins);
    scan_module_trees(ins);
    for (uint32_t i = 0; i < ins->nb_kernels; i++)
        find_kernel_files(ins, &ins->kernels[i]);
    choose_default(ins);
    for (uint32_t i = 0; i < ins->nb_kernels; i++)
        ifmt_inspect_virtio(ins, &ins->kernels[i]);
}
