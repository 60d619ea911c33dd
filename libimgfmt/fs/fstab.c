/*
 * fstab.c -- parse /etc/fstab and attach the file systems it names to the
 * guest view.  Devices are matched the way the guest's udev would name
 * them: UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/by-*, /dev/sdXN
 * (and vd, hd, xvd, nvme0n1pN, mmcblk0pN) on the first disk, and LVM's
 * /dev/mapper/VG-LV and /dev/VG/LV.
 */
#define IMGFMT_BUILDING 1
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs/fstab.h"
#include "fs/volumes.h"

#define FSTAB_LINE_MAX 4096u
#define MAX_FSTAB_BYTES (1u << 20)
#define MAX_GUEST_MOUNTS 64u

/* Decode \NNN octal escapes in place (fstab's way to write a space). */
static void unescape_octal(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static int parse_line(char *line, unsigned no,
                      int (*fn)(void *, const struct ifmt_fstab_entry *), void *opaque)
{
    char *field[4] = { NULL, NULL, NULL, NULL };
    int n = 0;
    char *p = line;
    while (n < 4) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            break;
        field[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (n < 2)
        return 0;
    for (int i = 0; i < n; i++)
        unescape_octal(field[i]);
    struct ifmt_fstab_entry e = { field[0], field[1], n > 2 ? field[2] : "",
                                  n > 3 ? field[3] : "", no };
    return fn(opaque, &e);
}

int ifmt_fstab_parse(const char *text, size_t len,
                     int (*fn)(void *opaque, const struct ifmt_fstab_entry *e),
                     void *opaque)
{
    char line[FSTAB_LINE_MAX + 1];
    unsigned no = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        no++;
        /* Over-long lines and lines with a NUL byte are not fstab text. */
        if (ll <= FSTAB_LINE_MAX && !memchr(text + pos, '\0', ll)) {
            memcpy(line, text + pos, ll);
            line[ll] = '\0';
            if (ll && line[ll - 1] == '\r')
                line[ll - 1] = '\0';
            int r = parse_line(line, no, fn, opaque);
            if (r)
                return r;
        }
        pos += ll + 1;
    }
    return 0;
}

bool ifmt_mntopt(const char *mntops, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = mntops;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= kl && strncmp(p, key, kl) == 0 && (l == kl || p[kl] == '=')) {
            size_t vl = l == kl ? 0 : l - kl - 1;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, p + kl + (l == kl ? 0 : 1), vl);
            out[vl] = '\0';
            return true;
        }
        p = e ? e + 1 : NULL;
    }
    return false;
}

static void add_note(imgfmt_filesystem *h, const char *fmt, ...) IFMT_PRINTF(2, 3);
static void add_note(imgfmt_filesystem *h, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **n = realloc(h->notes, (h->nb_notes + 1) * sizeof *n);
    if (!n)
        return;
    h->notes = n;
    if ((n[h->nb_notes] = strdup(buf)) != NULL)
        h->nb_notes++;
}

static const char *strip_quotes(const char *s, char *buf, size_t cap)
{
    size_t l = strlen(s);
    if (l >= 2 && (s[0] == '"' || s[0] == '\'') && s[l - 1] == s[0]) {
        snprintf(buf, cap, "%.*s", (int)(l - 2), s + 1);
        return buf;
    }
    return s;
}

/* "/dev/sda2" -> partition 2 of the first disk; -1 if not that shape. */
static int disk_partition_number(const char *dev, bool *other_disk)
{
    static const char *const prefixes[] = { "/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd" };
    *other_disk = false;
    for (size_t i = 0; i < 4; i++) {
        size_t pl = strlen(prefixes[i]);
        if (strncmp(dev, prefixes[i], pl) == 0 && islower((unsigned char)dev[pl]) &&
            isdigit((unsigned char)dev[pl + 1])) {
            *other_disk = dev[pl] != 'a';
            return atoi(dev + pl + 1);
        }
    }
    static const char *const nvme[] = { "/dev/nvme0n1p", "/dev/mmcblk0p" };
    for (size_t i = 0; i < 2; i++)
        if (strncmp(dev, nvme[i], strlen(nvme[i])) == 0 &&
            isdigit((unsigned char)dev[strlen(nvme[i])]))
            return atoi(dev + strlen(nvme[i]));
    return -1;
}

static int match_tag(imgfmt_volume_list *l, const char *tag, const char *value)
{
    for (uint32_t i = 0; i < imgfmt_volumes_count(l); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(l, i);
        if ((strcmp(tag, "UUID") == 0 && v->fs.uuid[0] && strcasecmp(v->fs.uuid, value) == 0) ||
            (strcmp(tag, "LABEL") == 0 && v->fs.label[0] && strcmp(v->fs.label, value) == 0) ||
            (strcmp(tag, "PARTUUID") == 0 && v->part_uuid[0] &&
             strcasecmp(v->part_uuid, value) == 0) ||
            (strcmp(tag, "PARTLABEL") == 0 && v->part_label[0] &&
             strcmp(v->part_label, value) == 0))
            return (int)i;
    }
    return -1;
}

/* The volume an fstab device names, or -1 with *why set. */
static int resolve_spec(imgfmt_volume_list *l, const char *spec, const char **why)
{
    static const char *const tags[] = { "UUID", "LABEL", "PARTUUID", "PARTLABEL" };
    static const char *const by[] = { "/dev/disk/by-uuid/", "/dev/disk/by-label/",
                                      "/dev/disk/by-partuuid/", "/dev/disk/by-partlabel/" };
    char buf[300];
    *why = "no volume has it";
    for (size_t i = 0; i < 4; i++) {
        size_t tl = strlen(tags[i]);
        if (strncmp(spec, tags[i], tl) == 0 && spec[tl] == '=')
            return match_tag(l, tags[i], strip_quotes(spec + tl + 1, buf, sizeof buf));
        if (strncmp(spec, by[i], strlen(by[i])) == 0)
            return match_tag(l, tags[i], spec + strlen(by[i]));
    }
    bool other;
    int part = disk_partition_number(spec, &other);
    if (part >= 0) {
        if (other) {
            *why = "on another disk than this image";
            return -1;
        }
        snprintf(buf, sizeof buf, "%d", part);
        return imgfmt_volumes_find(l, buf);
    }
    for (uint32_t i = 0; i < imgfmt_volumes_count(l); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(l, i);
        if (v->lv_path[0] && strcmp(v->lv_path, spec) == 0)
            return (int)i;
        if (strcmp(v->kind, "lv") == 0 && strncmp(spec, "/dev/", 5) == 0 &&
            strcmp(spec + 5, v->spec) == 0)
            return (int)i;
    }
    *why = "not a device of this image";
    return -1;
}

static bool is_virtual_fs(const char *t)
{
    static const char *const virt[] = {
        "proc", "sysfs", "tmpfs", "devpts", "devtmpfs", "cgroup", "cgroup2", "securityfs",
        "debugfs", "efivarfs", "hugetlbfs", "mqueue", "binfmt_misc", "fusectl",
        "configfs", "pstore", "bpf", "tracefs", "autofs", "ramfs", "usbfs", "none",
    };
    for (size_t i = 0; i < sizeof virt / sizeof virt[0]; i++)
        if (strcmp(t, virt[i]) == 0)
            return true;
    return false;
}

static bool is_network_fs(const char *t)
{
    static const char *const net[] = { "nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs",
                                       "fuse.sshfs", "glusterfs", "ceph", "9p", "davfs" };
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++)
        if (strcmp(t, net[i]) == 0)
            return true;
    return false;
}

/* "/boot//efi/" -> "/boot/efi"; false for a relative or ".."-using path. */
static bool canonical_mount_point(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    if (in[0] != '/')
        return false;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t l = (size_t)(e - p);
        if (l == 0)
            break;
        if ((l == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!(l == 1 && p[0] == '.')) {
            if (o + l + 2 > cap)
                return false;
            out[o++] = '/';
            memcpy(out + o, p, l);
            o += l;
        }
        p = e;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return true;
}

struct mount_ctx {
    imgfmt_filesystem *h;
    imgfmt_volume_list *l;
    uint32_t root_vol;
    const imgfmt_fs_opts *opts;
};

static int mount_volume(struct mount_ctx *c, const struct ifmt_fstab_entry *e, int vol,
                        const char *mp)
{
    imgfmt_fs_opts o;
    char subvol[256], subvolid[32];
    if (c->opts)
        o = *c->opts;
    else
        imgfmt_fs_opts_init(&o);
    if (ifmt_mntopt(e->mntops, "subvol", subvol, sizeof subvol))
        o.subvol = subvol;
    if (ifmt_mntopt(e->mntops, "subvolid", subvolid, sizeof subvolid))
        o.subvolid = strtoull(subvolid, NULL, 10);
    imgfmt_filesystem *one;
    imgfmt_error err;
    if (imgfmt_volume_open(c->l, (uint32_t)vol, &o, &one, &err) < 0) {
        add_note(c->h, "/etc/fstab line %u: %s on %s: %s", e->line, e->spec, e->file,
                 err.msg);
        return 0;
    }
    struct ifmt_fs *fs = one->mounts[0].fs;
    if (ifmt_fsh_add_mount(c->h, fs, mp, one->mounts[0].source) == 0) {
        c->h->mounts[c->h->nb_mounts - 1].options = strdup(e->mntops);
        /* fs now belongs to the guest view: one lets go of it (its names are
         * copies, freed here) without unmounting it. */
        free(one->mounts[0].path);
        free(one->mounts[0].source);
        free(one->mounts[0].options);
        one->nb_mounts = 0;
    }
    imgfmt_fs_close(one);
    return 0;
}

static int mount_entry(void *opaque, const struct ifmt_fstab_entry *e)
{
    struct mount_ctx *c = opaque;
    char mp[4096];
    const char *why;
    if (strcmp(e->vfstype, "swap") == 0 || strcmp(e->file, "none") == 0 ||
        strcmp(e->file, "swap") == 0)
        return 0;
    if (strcmp(e->file, "/") == 0)
        return 0;   /* the root is already there */
    if (is_virtual_fs(e->vfstype))
        return 0;   /* nothing on disk */
    if (c->h->nb_mounts >= MAX_GUEST_MOUNTS) {
        add_note(c->h, "/etc/fstab line %u: more than %u mounts, the rest ignored",
                 e->line, MAX_GUEST_MOUNTS);
        return 1;
    }
    if (is_network_fs(e->vfstype)) {
        add_note(c->h, "/etc/fstab line %u: %s on %s: network file system (%s), not on "
                 "this disk", e->line, e->spec, e->file, e->vfstype);
        return 0;
    }
    char bind[8];
    if (ifmt_mntopt(e->mntops, "noauto", bind, sizeof bind))
        return 0;   /* not mounted at boot */
    if (ifmt_mntopt(e->mntops, "bind", bind, sizeof bind) ||
        ifmt_mntopt(e->mntops, "rbind", bind, sizeof bind)) {
        add_note(c->h, "/etc/fstab line %u: bind mount of %s on %s not placed", e->line,
                 e->spec, e->file);
        return 0;
    }
    if (!canonical_mount_point(e->file, mp, sizeof mp)) {
        add_note(c->h, "/etc/fstab line %u: mount point %s is not an absolute path",
                 e->line, e->file);
        return 0;
    }
    int vol = resolve_spec(c->l, e->spec, &why);
    if (vol < 0) {
        add_note(c->h, "/etc/fstab line %u: %s on %s: %s", e->line, e->spec, e->file, why);
        return 0;
    }
    return mount_volume(c, e, vol, mp);
}

void ifmt_guest_mount_fstab(imgfmt_filesystem *h, imgfmt_volume_list *l,
                            uint32_t root_vol, const imgfmt_fs_opts *opts)
{
    imgfmt_file *f;
    if (imgfmt_fs_open_file(h, "/etc/fstab", &f) < 0) {
        add_note(h, "/etc/fstab: %s", h->err.msg);
        return;
    }
    uint64_t size = imgfmt_file_stat(f)->size;
    if (size > MAX_FSTAB_BYTES) {
        add_note(h, "/etc/fstab: %llu bytes, over the %u-byte cap: not read",
                 (unsigned long long)size, MAX_FSTAB_BYTES);
        imgfmt_file_close(f);
        return;
    }
    char *text = malloc((size_t)size + 1);
    size_t got = 0;
    if (!text || imgfmt_file_pread(f, text, (size_t)size, 0, &got) < 0) {
        add_note(h, "/etc/fstab: %s", text ? h->err.msg : "out of memory");
        free(text);
        imgfmt_file_close(f);
        return;
    }
    imgfmt_file_close(f);
    struct mount_ctx c = { h, l, root_vol, opts };
    ifmt_fstab_parse(text, got, mount_entry, &c);
    free(text);
}
