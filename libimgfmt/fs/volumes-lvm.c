/*
 * volumes-lvm.c -- LVM2 logical volumes in the volume list.  Until the
 * LVM2 reader (disk/lvm.c) is part of the build, a physical volume is
 * reported as a warning naming it, and no logical volume is listed.
 */
#define IMGFMT_BUILDING 1
#include <stdio.h>

#include "fs/volumes.h"

int ifmt_volumes_add_lvs(imgfmt_volume_list *l, imgfmt_error *err)
{
    (void)err;
    uint32_t n = l->nb;
    for (uint32_t i = 0; i < n; i++) {
        if (l->vols[i].pub.fs.type != IMGFMT_FS_LVM2_PV)
            continue;
        char msg[256];
        snprintf(msg, sizeof msg, "%s: LVM2 physical volume: logical volumes are not "
                 "read by this build", l->vols[i].name);
        ifmt_volumes_warn(l, msg);
    }
    return IMGFMT_OK;
}

void ifmt_volumes_free_lvs(imgfmt_volume_list *l)
{
    (void)l;
}
