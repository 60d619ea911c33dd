/*
 * virtio.c -- can kernel VER boot from a virtio disk?  Built in
 * (CONFIG_VIRTIO_BLK=y or modules.builtin) passes; a module (=m) passes
 * only if its initramfs holds virtio_blk, what modules.dep says it needs,
 * and the virtio_pci transport with its own needs (each in the initramfs
 * or built in).  An initramfs that cannot be read is not-checked.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/initramfs.h"
#include "inspect/inspect.h"
#include "inspect/parse.h"

#define MAX_NEEDED 64u

struct needed {
    char name[MAX_NEEDED][64];
    char found_as[MAX_NEEDED][96];   /* the initramfs file's base name */
    bool builtin[MAX_NEEDED];
    unsigned n;
};

struct module_db {
    char *dep, *builtin;
    size_t dep_len, builtin_len;
    char root[160];                  /* "/lib/modules/VER" */
};

static void need(struct needed *nd, const char *name)
{
    for (unsigned i = 0; i < nd->n; i++)
        if (strcmp(nd->name[i], name) == 0)
            return;
    if (nd->n < MAX_NEEDED)
        ifmt_copy(nd->name[nd->n++], sizeof nd->name[0], name);
}

/* name and, transitively, what modules.dep says it needs. */
static void need_with_deps(struct needed *nd, const struct module_db *db, const char *name)
{
    unsigned first = nd->n;
    need(nd, name);
    for (unsigned i = first; i < nd->n; i++) {
        char deps[2048];
        if (!db->dep || !ifmt_modules_dep_lookup(db->dep, db->dep_len, nd->name[i], deps,
                                                 sizeof deps))
            continue;
        for (char *tok = strtok(deps, " \t"); tok; tok = strtok(NULL, " \t")) {
            char m[64];
            need(nd, ifmt_module_name(tok, m, sizeof m));
        }
    }
}

static void load_module_db(struct imgfmt_inspection *ins, const char *ver,
                           struct module_db *db)
{
    static const char *const roots[] = { "/lib/modules/%s", "/usr/lib/modules/%s" };
    memset(db, 0, sizeof *db);
    for (size_t i = 0; i < 2; i++) {
        char p[400];
        snprintf(db->root, sizeof db->root, roots[i], ver);
        snprintf(p, sizeof p, "%s/modules.dep", db->root);
        if (ifmt_guest_read(ins->fs, p, 64u << 20, &db->dep, &db->dep_len) == 0) {
            snprintf(p, sizeof p, "%s/modules.builtin", db->root);
            ifmt_guest_read(ins->fs, p, 16u << 20, &db->builtin, &db->builtin_len);
            return;
        }
    }
    db->root[0] = '\0';
}

static bool is_builtin(const struct module_db *db, const char *name)
{
    return db->builtin && ifmt_modules_builtin_has(db->builtin, db->builtin_len, name);
}

struct scan {
    struct needed *nd;
};

static int initramfs_read(void *ctx, void *buf, size_t len, uint64_t off, size_t *got)
{
    return imgfmt_file_pread(ctx, buf, len, off, got);
}

static int note_module(void *opaque, const struct ifmt_cpio_entry *e)
{
    struct needed *nd = opaque;
    size_t l = strlen(e->name);
    if ((e->mode & 0170000) != 0100000 || l < 3 || !strstr(e->name, ".ko"))
        return 0;
    char m[64];
    ifmt_module_name(e->name, m, sizeof m);
    const char *base = strrchr(e->name, '/');
    base = base ? base + 1 : e->name;
    for (unsigned i = 0; i < nd->n; i++)
        if (!nd->found_as[i][0] && strcmp(nd->name[i], m) == 0)
            ifmt_copy(nd->found_as[i], sizeof nd->found_as[i], base);
    return 0;
}

/* Walk k's initramfs noting which needed modules it holds.  0, or an error
 * with the reason in why. */
static int scan_initramfs(struct imgfmt_inspection *ins, struct ifmt_kernel *k,
                          struct needed *nd, char *why, size_t cap)
{
    imgfmt_file *f;
    if (imgfmt_fs_open_file(ins->fs, k->initramfs, &f) < 0) {
        snprintf(why, cap, "%s: %s", k->initramfs, imgfmt_fs_last_error(ins->fs)->msg);
        return IMGFMT_E_IO;
    }
    struct ifmt_initramfs_opts o;
    ifmt_initramfs_opts_init(&o);
    o.entry = note_module;
    o.opaque = nd;
    struct ifmt_initramfs_segment *segs;
    uint32_t n;
    imgfmt_error err = { 0 };
    int r = ifmt_initramfs_walk(initramfs_read, f, imgfmt_file_stat(f)->size, &o, &segs, &n,
                                &err);
    imgfmt_file_close(f);
    k->segments = n;
    k->initramfs_format[0] = '\0';
    for (uint32_t i = 0; i < n; i++)
        ifmt_append(k->initramfs_format, sizeof k->initramfs_format, "+", "%s",
                    segs[i].unknown ? "unknown" : ifmt_codec_name(segs[i].codec));
    bool unknown = n && segs[n - 1].unknown;
    free(segs);
    if (r < 0) {
        snprintf(why, cap, "%s: %s", k->initramfs, err.msg);
        return r;
    }
    if (unknown) {
        snprintf(why, cap, "%s: segment %u is neither cpio nor a known compression",
                 k->initramfs, n - 1);
        return IMGFMT_E_UNSUPPORTED;
    }
    return 0;
}

static void judge_module_path(struct imgfmt_inspection *ins, struct ifmt_kernel *k,
                              const struct module_db *db)
{
    struct needed nd = { .n = 0 };
    char why[600];
    need_with_deps(&nd, db, "virtio_blk");
    need_with_deps(&nd, db, "virtio_pci");
    for (unsigned i = 0; i < nd.n; i++)
        nd.builtin[i] = is_builtin(db, nd.name[i]);
    if (!k->initramfs[0]) {
        k->virtio = IMGFMT_VERDICT_FAIL;
        snprintf(k->evidence, sizeof k->evidence,
                 "virtio_blk is a module (%s) and kernel %s has no initramfs",
                 k->config[0] ? "=m" : "in modules.dep", k->version);
        return;
    }
    if (scan_initramfs(ins, k, &nd, why, sizeof why) < 0) {
        k->virtio = IMGFMT_VERDICT_NOT_CHECKED;
        snprintf(k->evidence, sizeof k->evidence, "initramfs not read: %s", why);
        return;
    }
    char have[700] = "", missing[400] = "";
    for (unsigned i = 0; i < nd.n; i++) {
        if (nd.found_as[i][0])
            ifmt_append(have, sizeof have, ", ", "%s", nd.found_as[i]);
        else if (nd.builtin[i])
            ifmt_append(have, sizeof have, ", ", "%s (built in)", nd.name[i]);
        else
            ifmt_append(missing, sizeof missing, ", ", "%s", nd.name[i]);
    }
    k->virtio = missing[0] ? IMGFMT_VERDICT_FAIL : IMGFMT_VERDICT_PASS;
    if (missing[0])
        snprintf(k->evidence, sizeof k->evidence, "%s (%s, %u segments) lacks %s%s%s",
                 k->initramfs, k->initramfs_format, k->segments, missing,
                 have[0] ? "; it has " : "", have);
    else
        snprintf(k->evidence, sizeof k->evidence, "%s in %s (%s, %u segment%s)", have,
                 k->initramfs, k->initramfs_format, k->segments, k->segments == 1 ? "" : "s");
}

void ifmt_inspect_virtio(struct imgfmt_inspection *ins, struct ifmt_kernel *k)
{
    struct module_db db;
    char *cfg = NULL;
    size_t cl = 0;
    if (k->config[0] && ifmt_guest_read(ins->fs, k->config, IFMT_SMALL_FILE, &cfg, &cl) == 0) {
        k->blk = ifmt_kconfig_get(cfg, cl, "CONFIG_VIRTIO_BLK");
        k->net = ifmt_kconfig_get(cfg, cl, "CONFIG_VIRTIO_NET");
        free(cfg);
    }
    load_module_db(ins, k->version, &db);
    k->builtin_blk = is_builtin(&db, "virtio_blk");
    char deps[64];
    bool module_known = db.dep && ifmt_modules_dep_lookup(db.dep, db.dep_len, "virtio_blk",
                                                          deps, sizeof deps);
    if (k->blk == 'y' || k->builtin_blk) {
        k->virtio = IMGFMT_VERDICT_PASS;
        snprintf(k->evidence, sizeof k->evidence, "virtio_blk built into kernel %s (%s)",
                 k->version, k->blk == 'y' ? "CONFIG_VIRTIO_BLK=y" : "modules.builtin");
    } else if (k->blk == 'm' || (k->blk == '?' && module_known)) {
        judge_module_path(ins, k, &db);
    } else if (k->blk == 'n') {
        k->virtio = IMGFMT_VERDICT_FAIL;
        snprintf(k->evidence, sizeof k->evidence,
                 "CONFIG_VIRTIO_BLK is not set in %s and virtio_blk is not built in",
                 k->config);
    } else {
        k->virtio = IMGFMT_VERDICT_NOT_CHECKED;
        snprintf(k->evidence, sizeof k->evidence,
                 "kernel %s: no config and no modules.dep to tell", k->version);
    }
    free(db.dep);
    free(db.builtin);
}
