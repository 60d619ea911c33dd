/*
 * volumes.c -- the places a file system can be: every partition, the
 * whole disk when there is no partition table, and LVM2 logical volumes.
 */
#define IMGFMT_BUILDING 1
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/volumes.h"

int ifmt_volumes_add(imgfmt_volume_list *l, struct ifmt_volume **out)
{
    if (l->nb == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 8;
        struct ifmt_volume *v = realloc(l->vols, ncap * sizeof *v);
        if (!v)
            return IMGFMT_E_NOMEM;
        l->vols = v;
        l->cap = ncap;
    }
    *out = &l->vols[l->nb++];
    memset(*out, 0, sizeof **out);
    return IMGFMT_OK;
}

void ifmt_volume_finish(struct ifmt_volume *v, const char *kind)
{
    v->pub.spec = v->spec;
    v->pub.kind = kind;
    v->pub.part_uuid = v->part_uuid;
    v->pub.part_label = v->part_label;
    v->pub.lv_path = v->lv_path;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static int add_partitions(imgfmt_volume_list *l, const imgfmt_partition_table *t)
{
    for (uint32_t i = 0; i < t->nb_partitions; i++) {
        const imgfmt_partition *p = &t->parts[i];
        struct ifmt_volume *v;
        if (p->extended)
            continue;
        if (ifmt_volumes_add(l, &v) < 0)
            return IMGFMT_E_NOMEM;
        snprintf(v->spec, sizeof v->spec, "%u", p->number);
        snprintf(v->name, sizeof v->name, "partition %u", p->number);
        v->pub.offset = p->start;
        v->pub.length = p->length;
        v->pub.fs = p->fs;
        if (t->type == IMGFMT_TABLE_GPT)
            lower_copy(v->part_uuid, sizeof v->part_uuid, p->part_guid);
        else
            snprintf(v->part_uuid, sizeof v->part_uuid, "%08x-%02x", t->mbr_signature,
                     p->number);
        snprintf(v->part_label, sizeof v->part_label, "%s", p->name);
        ifmt_volume_finish(v, "partition");
    }
    return IMGFMT_OK;
}

static int add_whole_disk(imgfmt_volume_list *l, const imgfmt_partition_table *t)
{
    struct ifmt_volume *v;
    if (ifmt_volumes_add(l, &v) < 0)
        return IMGFMT_E_NOMEM;
    snprintf(v->spec, sizeof v->spec, "0");
    snprintf(v->name, sizeof v->name, "disk");
    v->pub.offset = 0;
    v->pub.length = imgfmt_virtual_size(l->img);
    v->pub.fs = t->whole_disk;
    ifmt_volume_finish(v, "disk");
    return IMGFMT_OK;
}

void ifmt_volumes_warn(imgfmt_volume_list *l, const char *msg)
{
    char **w = realloc(l->warnings, (l->nb_warnings + 1) * sizeof *w);
    if (!w)
        return;
    l->warnings = w;
    if ((w[l->nb_warnings] = strdup(msg)) != NULL)
        l->nb_warnings++;
}

int imgfmt_volumes(imgfmt_image *img, imgfmt_volume_list **out, imgfmt_error *err)
{
    if (!out || !img)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_volumes: NULL argument");
    *out = NULL;
    imgfmt_volume_list *l = calloc(1, sizeof *l);
    if (!l)
        return ifmt_seterr(err, IMGFMT_E_NOMEM, 0, "volumes: out of memory");
    l->img = img;
    imgfmt_partition_table *t;
    int r = imgfmt_partitions(img, &t);
    if (r < 0) {
        if (err)
            *err = *imgfmt_last_error(img);
        free(l);
        return r;
    }
    r = t->type == IMGFMT_TABLE_NONE ? add_whole_disk(l, t) : add_partitions(l, t);
    /* Partition-table warnings are recorded on the image (imgfmt_warning). */
    imgfmt_partition_table_free(t);
    if (r == 0)
        r = ifmt_volumes_add_lvs(l, err);
    if (r < 0) {
        if (r == IMGFMT_E_NOMEM)
            ifmt_seterr(err, r, 0, "volumes: out of memory");
        imgfmt_volumes_free(l);
        return r;
    }
    *out = l;
    return IMGFMT_OK;
}

uint32_t imgfmt_volumes_count(const imgfmt_volume_list *l)
{
    return l ? l->nb : 0;
}

const imgfmt_volume *imgfmt_volumes_get(const imgfmt_volume_list *l, uint32_t i)
{
    return l && i < l->nb ? &l->vols[i].pub : NULL;
}

int imgfmt_volumes_find(const imgfmt_volume_list *l, const char *spec)
{
    for (uint32_t i = 0; l && spec && i < l->nb; i++)
        if (strcmp(l->vols[i].spec, spec) == 0)
            return (int)i;
    return -1;
}

uint32_t imgfmt_volumes_nb_warnings(const imgfmt_volume_list *l)
{
    return l ? l->nb_warnings : 0;
}

const char *imgfmt_volumes_warning(const imgfmt_volume_list *l, uint32_t i)
{
    return l && i < l->nb_warnings ? l->warnings[i] : NULL;
}

int ifmt_volume_bdev(imgfmt_volume_list *l, uint32_t i, struct ifmt_bdev *dev)
{
    struct ifmt_volume *v = &l->vols[i];
    if (v->lv_dev.read) {
        *dev = v->lv_dev;
        return IMGFMT_OK;
    }
    ifmt_bdev_init_image(dev, l->img, v->pub.offset, v->pub.length, v->name);
    return IMGFMT_OK;
}

int imgfmt_volume_open(imgfmt_volume_list *l, uint32_t i, const imgfmt_fs_opts *opts,
                       imgfmt_filesystem **out, imgfmt_error *err)
{
    if (!out)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "imgfmt_volume_open: NULL argument");
    *out = NULL;
    if (!l || i >= l->nb)
        return ifmt_seterr(err, IMGFMT_E_INVAL, 0, "volume %u does not exist", i);
    if (l->vols[i].refusal[0])
        return ifmt_seterr(err, IMGFMT_E_UNSUPPORTED, 0, "%s: %s", l->vols[i].name,
                           l->vols[i].refusal);
    struct ifmt_bdev dev;
    int r = ifmt_volume_bdev(l, i, &dev);
    if (r < 0)
        return ifmt_seterr(err, r, 0, "%s: cannot be read", l->vols[i].name);
    return ifmt_filesystem_open_bdev(&dev, opts, out, err);
}

void imgfmt_volumes_free(imgfmt_volume_list *l)
{
    if (!l)
        return;
    ifmt_volumes_free_lvs(l);
    for (uint32_t i = 0; i < l->nb_warnings; i++)
        free(l->warnings[i]);
    free(l->warnings);
    free(l->vols);
    free(l);
}
