/*
 * volumes.h -- the volume list behind imgfmt_volumes() (fs/volumes.c) and
 * its LVM2 part (fs/volumes-lvm.c).
 */
#ifndef IMGFMT_VOLUMES_H
#define IMGFMT_VOLUMES_H

#include "core/bdev.h"
#include "core/image.h"

struct ifmt_volume {
    imgfmt_volume pub;
    char spec[160];            /* "1", "0", "vg/lv" */
    char name[160];            /* "partition 1", "disk", "vg/lv" */
    char part_uuid[40];
    char part_label[109];
    char lv_path[300];         /* "/dev/mapper/vg-lv" */
    char refusal[200];         /* non-empty: why it cannot be opened */
    struct ifmt_bdev lv_dev;   /* LVs: the device (read != NULL) */
};

struct imgfmt_volume_list {
    imgfmt_image *img;         /* borrowed */
    struct ifmt_volume *vols;
    uint32_t nb, cap;
    char **warnings;
    uint32_t nb_warnings;
    void *lvm;                 /* LVM2 state the LV devices read through */
};

void ifmt_volumes_warn(imgfmt_volume_list *l, const char *msg);
/* A new zeroed volume at the end of l (NOMEM); pointers into l->vols move. */
int ifmt_volumes_add(imgfmt_volume_list *l, struct ifmt_volume **out);
/* Point v's public strings at its own fields; kind: "partition", "disk", "lv". */
void ifmt_volume_finish(struct ifmt_volume *v, const char *kind);
/* The byte device of volume i. */
int ifmt_volume_bdev(imgfmt_volume_list *l, uint32_t i, struct ifmt_bdev *dev);
/* LVM2: append the logical volumes of the physical volumes among l's
 * volumes; free what that kept. */
int ifmt_volumes_add_lvs(imgfmt_volume_list *l, imgfmt_error *err);
void ifmt_volumes_free_lvs(imgfmt_volume_list *l);

#endif
