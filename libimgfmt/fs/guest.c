/*
 * guest.c -- the guest view: find the OS root among an image's volumes,
 * then mount what its /etc/fstab names where the guest would see it.
 */
#define IMGFMT_BUILDING 1
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs/fs-handle.h"
#include "fs/fstab.h"
#include "fs/volumes.h"

#define MAX_FSTAB_BYTES   (1u << 20)
#define MAX_SUBVOL_PROBES 64u

static bool exists(imgfmt_filesystem *h, const char *path)
{
    imgfmt_stat st;
    return imgfmt_fs_stat(h, path, IMGFMT_NOFOLLOW, &st) == 0;
}

/* The Linux root markers under prefix ("" or "/root"); the evidence list. */
static bool is_linux_root(imgfmt_filesystem *h, const char *prefix, char *ev, size_t cap)
{
    static const char *const osrel[] = { "etc/os-release", "usr/lib/os-release" };
    static const char *const init[] = { "sbin/init", "usr/lib/systemd/systemd",
                                        "usr/sbin/init", "lib/systemd/systemd" };
    char p[512];
    snprintf(p, sizeof p, "%s/etc/fstab", prefix);
    if (!exists(h, p))
        return false;
    const char *found_rel = NULL, *found_init = NULL;
    for (size_t i = 0; i < 2 && !found_rel; i++) {
        snprintf(p, sizeof p, "%s/%s", prefix, osrel[i]);
        if (exists(h, p))
            found_rel = osrel[i];
    }
    for (size_t i = 0; i < 4 && !found_init; i++) {
        snprintf(p, sizeof p, "%s/%s", prefix, init[i]);
        if (exists(h, p))
            found_init = init[i];
    }
    if (!found_rel || !found_init)
        return false;
    snprintf(ev, cap, "etc/fstab, %s, %s", found_rel, found_init);
    return true;
}

static bool is_windows_root(imgfmt_filesystem *h, char *ev, size_t cap)
{
    if (!exists(h, "/Windows/System32/config/SYSTEM"))
        return false;
    snprintf(ev, cap, "Windows/System32/config/SYSTEM");
    return true;
}

/* btrfs: a root in a top-level subvolume ("root" on Fedora, "@" on Ubuntu)
 * when the default subvolume is not one.  *subvol gets its name. */
static bool find_root_subvolume(imgfmt_filesystem *h, char *subvol, size_t scap,
                                char *ev, size_t ecap)
{
    imgfmt_dir *d;
    imgfmt_dirent e;
    bool found = false;
    if (imgfmt_fs_opendir(h, "/", &d) < 0)
        return false;
    for (unsigned n = 0; !found && n < MAX_SUBVOL_PROBES && imgfmt_fs_readdir(d, &e) > 0; n++) {
        char prefix[300];
        if (e.type != IMGFMT_FILE_DIR && e.type != IMGFMT_FILE_UNKNOWN)
            continue;
        if (strlen(e.name) > 255)
            continue;
        snprintf(prefix, sizeof prefix, "/%s", e.name);
        if (is_linux_root(h, prefix, ev, ecap)) {
            snprintf(subvol, scap, "%s", e.name);
            found = true;
        }
    }
    imgfmt_fs_closedir(d);
    return found;
}

struct root_found {
    imgfmt_filesystem *h;
    uint32_t volume;
    enum imgfmt_os_type os;
    char evidence[512];
};

static int try_volume(imgfmt_volume_list *l, uint32_t i, const imgfmt_fs_opts *opts,
                      struct root_found *rf)
{
    imgfmt_filesystem *h;
    imgfmt_error err;
    char ev[400], subvol[260];
    const imgfmt_volume *v = imgfmt_volumes_get(l, i);
    if (imgfmt_volume_open(l, i, opts, &h, &err) < 0)
        return 0;
    rf->os = IMGFMT_OS_NONE;
    if (is_linux_root(h, "", ev, sizeof ev))
        rf->os = IMGFMT_OS_LINUX;
    else if (is_windows_root(h, ev, sizeof ev))
        rf->os = IMGFMT_OS_WINDOWS;
    else if (v->fs.type == IMGFMT_FS_BTRFS &&
             find_root_subvolume(h, subvol, sizeof subvol, ev, sizeof ev)) {
        imgfmt_fs_close(h);
        imgfmt_fs_opts o = opts ? *opts : (imgfmt_fs_opts){ 0 };
        if (!opts)
            imgfmt_fs_opts_init(&o);
        o.subvol = subvol;
        o.subvolid = 0;
        if (imgfmt_volume_open(l, i, &o, &h, &err) < 0)
            return 0;
        rf->os = IMGFMT_OS_LINUX;
        size_t n = strlen(ev);
        snprintf(ev + n, sizeof ev - n, " (subvolume %s)", subvol);
    }
    if (rf->os == IMGFMT_OS_NONE) {
        imgfmt_fs_close(h);
        return 0;
    }
    snprintf(rf->evidence, sizeof rf->evidence, "%s (%s): %s",
             h->mounts[0].source, imgfmt_fs_type(h), ev);
    rf->h = h;
    rf->volume = i;
    return 1;
}

static void free_volume_list(void *ctx)
{
    imgfmt_volumes_free(ctx);
}

static int find_root(imgfmt_volume_list *l, const imgfmt_fs_opts *opts,
                     struct root_found *rf, imgfmt_error *err)
{
    char looked[200] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < imgfmt_volumes_count(l); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(l, i);
        if (v->fs.type == IMGFMT_FS_NONE || v->fs.type == IMGFMT_FS_SWAP ||
            v->fs.type == IMGFMT_FS_LVM2_PV)
            continue;
        if (try_volume(l, i, opts, rf))
            return IMGFMT_OK;
        int n = snprintf(looked + used, sizeof looked - used, "%s%s %s",
                         used ? ", " : "", v->spec, v->fs.name);
        if (n > 0 && (size_t)n < sizeof looked - used)
            used += (size_t)n;
    }
    return ifmt_seterr(err, IMGFMT_E_NOT_FOUND, 0,
                       "no OS root (etc/fstab + os-release + init, or Windows/System32/"
                       "config/SYSTEM) on any volume%s%s", used ? "; looked at: " : "",
                       looked);
}

int imgfmt_guest_open(imgfmt_image *img, const imgfmt_fs_opts *opts,
                      imgfmt_filesystem **out, imgfmt_error *err)
{
    if (!out || !img)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_guest_open: NULL argument");
    *out = NULL;
    imgfmt_volume_list *l;
    int r = imgfmt_volumes(img, &l, err);
    if (r < 0)
        return r;
    struct root_found rf = { 0 };
    if ((r = find_root(l, opts, &rf, err)) < 0) {
        imgfmt_volumes_free(l);
        return r;
    }
    imgfmt_filesystem *h = rf.h;
    h->os_type = rf.os;
    h->root_evidence = strdup(rf.evidence);
    h->on_close = free_volume_list;
    h->on_close_ctx = l;
    if (rf.os == IMGFMT_OS_LINUX)
        ifmt_guest_mount_fstab(h, l, rf.volume, opts);
    *out = h;
    return IMGFMT_OK;
}

enum imgfmt_os_type imgfmt_guest_os_type(const imgfmt_filesystem *h)
{
    return h ? h->os_type : IMGFMT_OS_NONE;
}

const char *imgfmt_guest_root_evidence(const imgfmt_filesystem *h)
{
    return h && h->root_evidence ? h->root_evidence : "";
}

uint32_t imgfmt_fs_nb_mounts(const imgfmt_filesystem *h)
{
    return h ? h->nb_mounts : 0;
}

int imgfmt_fs_get_mount(const imgfmt_filesystem *h, uint32_t i, imgfmt_mount_info *out)
{
    if (!h || !out || i >= h->nb_mounts)
        return IMGFMT_E_INVAL;
    out->path = h->mounts[i].path;
    out->source = h->mounts[i].source;
    out->fs_type = h->mounts[i].fs->drv->name;
    out->options = h->mounts[i].options ? h->mounts[i].options : "";
    return IMGFMT_OK;
}

uint32_t imgfmt_guest_nb_notes(const imgfmt_filesystem *h)
{
    return h ? h->nb_notes : 0;
}

const char *imgfmt_guest_note(const imgfmt_filesystem *h, uint32_t i)
{
    return h && i < h->nb_notes ? h->notes[i] : NULL;
}
