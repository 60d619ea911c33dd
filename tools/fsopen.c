/*
 * fsopen.c -- open the file system a guest tool reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fsopen.h"

static imgfmt_image *open_image(const char *image, const char *format)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    if (format && (o.format = imgfmt_format_from_name(format)) == IMGFMT_FMT_UNKNOWN) {
        tool_error("unknown format '%s'", format);
        return NULL;
    }
    return tool_open(image, &o);
}

/* The one volume a file system can be opened on, when the guest view finds
 * no OS root: a bare file-system image, a data disk. */
static int open_single_volume(struct tool_fs *t, imgfmt_error *err)
{
    int found = -1;
    for (uint32_t i = 0; i < imgfmt_volumes_count(t->vols); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(t->vols, i);
        if (v->fs.type == IMGFMT_FS_NONE || v->fs.type == IMGFMT_FS_SWAP ||
            v->fs.type == IMGFMT_FS_LVM2_PV)
            continue;
        if (found >= 0)
            return -1;
        found = (int)i;
    }
    if (found < 0)
        return -1;
    return imgfmt_volume_open(t->vols, (uint32_t)found, NULL, &t->fs, err);
}

static int open_guest(struct tool_fs *t)
{
    imgfmt_error err = { 0 }, err1 = { 0 };
    int r = imgfmt_guest_open(t->img, NULL, &t->fs, &err);
    if (r == IMGFMT_E_NOT_FOUND) {
        if (imgfmt_volumes(t->img, &t->vols, &err1) == 0 && open_single_volume(t, &err1) == 0)
            return EXIT_OK;
        if (err1.code < 0 && err1.code != IMGFMT_E_NOT_FOUND)
            err = err1;
    }
    if (r < 0 && !t->fs) {
        tool_error("%s", err.msg);
        return EXIT_IMAGE;
    }
    return EXIT_OK;
}

int tool_fs_open(const char *image, const char *format, const char *spec,
                 struct tool_fs *t)
{
    memset(t, 0, sizeof *t);
    if (!(t->img = open_image(image, format)))
        return EXIT_IMAGE;
    if (!spec)
        return open_guest(t);
    imgfmt_error err = { 0 };
    if (imgfmt_volumes(t->img, &t->vols, &err) < 0) {
        tool_error("%s: %s", image, err.msg);
        return EXIT_IMAGE;
    }
    int i = imgfmt_volumes_find(t->vols, spec);
    if (i < 0) {
        tool_error("%s: no volume '%s' (imgfmt-ls --fs=list %s lists them)", image, spec,
                   image);
        return EXIT_IMAGE;
    }
    if (imgfmt_volume_open(t->vols, (uint32_t)i, NULL, &t->fs, &err) < 0) {
        tool_error("%s: %s", image, err.msg);
        return EXIT_IMAGE;
    }
    return EXIT_OK;
}

void tool_fs_close(struct tool_fs *t)
{
    imgfmt_fs_close(t->fs);
    imgfmt_volumes_free(t->vols);
    imgfmt_close(t->img);
    memset(t, 0, sizeof *t);
}

static void print_volume_json(const imgfmt_volume *v, int first)
{
    printf("%s\n  {\"fs\": ", first ? "" : ",");
    json_string(stdout, v->spec);
    printf(", \"kind\": ");
    json_string(stdout, v->kind);
    printf(", \"offset\": %llu, \"size\": %llu, \"type\": ",
           (unsigned long long)v->offset, (unsigned long long)v->length);
    json_string(stdout, v->fs.name);
    printf(", \"label\": ");
    json_string(stdout, v->fs.label);
    printf(", \"uuid\": ");
    json_string(stdout, v->fs.uuid);
    printf(", \"partuuid\": ");
    json_string(stdout, v->part_uuid);
    printf("}");
}

int tool_fs_list(const char *image, const char *format, int json)
{
    imgfmt_image *img = open_image(image, format);
    imgfmt_volume_list *l;
    imgfmt_error err = { 0 };
    if (!img)
        return EXIT_IMAGE;
    if (imgfmt_volumes(img, &l, &err) < 0) {
        tool_error("%s: %s", image, err.msg);
        imgfmt_close(img);
        return EXIT_IMAGE;
    }
    if (json)
        printf("[");
    else
        printf("%-16s %-10s %14s  %-12s %-20s %s\n", "FS", "KIND", "SIZE", "TYPE",
               "LABEL", "UUID");
    for (uint32_t i = 0; i < imgfmt_volumes_count(l); i++) {
        const imgfmt_volume *v = imgfmt_volumes_get(l, i);
        if (json)
            print_volume_json(v, i == 0);
        else
            printf("%-16s %-10s %14llu  %-12s %-20s %s\n", v->spec, v->kind,
                   (unsigned long long)v->length, v->fs.name[0] ? v->fs.name : "-",
                   v->fs.label[0] ? v->fs.label : "-", v->fs.uuid[0] ? v->fs.uuid : "-");
    }
    if (json)
        printf("\n]\n");
    for (uint32_t i = 0; i < imgfmt_volumes_nb_warnings(l); i++)
        fprintf(stderr, "%s: warning: %s\n", prog, imgfmt_volumes_warning(l, i));
    imgfmt_volumes_free(l);
    imgfmt_close(img);
    return EXIT_OK;
}
