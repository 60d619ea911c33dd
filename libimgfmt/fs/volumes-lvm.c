/*
 * volumes-lvm.c -- LVM2 logical volumes in the volume list: when a PV
 * signature is among the volumes, the disk is scanned (disk/lvm.c) and
 * every visible LV becomes a volume "vg/lv" whose device maps reads
 * through its segments.  LVs we cannot read (thin, raid, a missing PV ...)
 * are listed with their refusal; a scan that fails is a warning.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>
#include <string.h>

#include "disk/fsprobe.h"
#include "disk/lvm.h"
#include "fs/volumes.h"

/* "/dev/mapper/vg-lv", each '-' inside a name doubled. */
static void mapper_path(char *out, size_t cap, const char *vg, const char *lv)
{
    size_t o = (size_t)snprintf(out, cap, "/dev/mapper/");
    for (const char *s = vg; *s && o + 3 < cap; s++) {
        if (*s == '-')
            out[o++] = '-';
        out[o++] = *s;
    }
    if (o + 2 < cap)
        out[o++] = '-';
    for (const char *s = lv; *s && o + 3 < cap; s++) {
        if (*s == '-')
            out[o++] = '-';
        out[o++] = *s;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static int add_lv(imgfmt_volume_list *l, imgfmt_lvm *lvm, uint32_t vg, uint32_t i)
{
    imgfmt_lvm_lv lv;
    if (imgfmt_lvm_get_lv(lvm, vg, i, &lv) < 0 || !lv.visible)
        return IMGFMT_OK;
    struct ifmt_volume *v;
    int r = ifmt_volumes_add(l, &v);
    if (r < 0)
        return r;
    snprintf(v->spec, sizeof v->spec, "%s", lv.full_name);
    snprintf(v->name, sizeof v->name, "%s", lv.full_name);
    mapper_path(v->lv_path, sizeof v->lv_path, lv.vg_name, lv.name);
    v->pub.offset = 0;
    v->pub.length = lv.size;
    v->pub.fs.name = "";
    if (!lv.readable) {
        snprintf(v->refusal, sizeof v->refusal, "%s", lv.refusal);
    } else if (ifmt_lvm_bdev(lvm, vg, i, &v->lv_dev) == 0) {
        imgfmt_error e = {0};
        if (ifmt_probe_fs_bdev(&v->lv_dev, &v->pub.fs, &e) < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: signature probe failed: %s", v->name, e.msg);
            ifmt_volumes_warn(l, msg);
        }
    }
    ifmt_volume_finish(v, "lv");
    return IMGFMT_OK;
}

int ifmt_volumes_add_lvs(imgfmt_volume_list *l, imgfmt_error *err)
{
    (void)err;
    bool any = false;
    for (uint32_t i = 0; i < l->nb; i++)
        any |= l->vols[i].pub.fs.type == IMGFMT_FS_LVM2_PV;
    if (!any)
        return IMGFMT_OK;
    imgfmt_lvm *lvm;
    imgfmt_error e = {0};
    if (imgfmt_lvm_scan(l->img, &lvm, &e) < 0) {
        ifmt_volumes_warn(l, e.msg);
        return IMGFMT_OK;
    }
    l->lvm = lvm;
    for (uint32_t i = 0; i < imgfmt_lvm_nb_warnings(lvm); i++)
        ifmt_volumes_warn(l, imgfmt_lvm_warning(lvm, i));
    for (uint32_t vg = 0; vg < imgfmt_lvm_nb_vgs(lvm); vg++) {
        imgfmt_lvm_vg info;
        imgfmt_lvm_get_vg(lvm, vg, &info);
        if (info.missing_pv) {
            char msg[320];
            snprintf(msg, sizeof msg, "lvm: %s", info.missing_pv);
            ifmt_volumes_warn(l, msg);
        }
        for (uint32_t i = 0; i < info.nb_lvs; i++) {
            int r = add_lv(l, lvm, vg, i);
            if (r < 0)
                return r;
        }
    }
    return IMGFMT_OK;
}

void ifmt_volumes_free_lvs(imgfmt_volume_list *l)
{
    imgfmt_lvm_free(l->lvm);
    l->lvm = NULL;
}
