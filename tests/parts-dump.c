/*
 * parts-dump -- print what imgfmt_partitions() finds, one line per
 * partition, for the cross-check scripts:
 *   table TYPE SECTOR_SIZE NB_PARTITIONS
 *   part NUMBER START LENGTH MBR_TYPE|TYPE_GUID FS LABEL UUID
 *   warning TEXT
 * or "error CODE MESSAGE" (exit 1).  -f FMT forces the format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "imgfmt.h"

static const char *orq(const char *s) { return s && s[0] ? s : "-"; }

int main(int argc, char **argv)
{
    imgfmt_open_opts o;
    imgfmt_open_opts_init(&o);
    int a = 1;
    if (argc > 3 && strcmp(argv[1], "-f") == 0) {
        o.format = imgfmt_format_from_name(argv[2]);
        a = 3;
    }
    if (a != argc - 1) {
        fprintf(stderr, "usage: parts-dump [-f FMT] IMAGE\n");
        return 2;
    }
    imgfmt_image *img = NULL;
    imgfmt_error err = {0};
    if (imgfmt_open(argv[a], &o, &img, &err) < 0) {
        printf("error %d %s\n", err.code, err.msg);
        return 1;
    }
    imgfmt_partition_table *t = NULL;
    if (imgfmt_partitions(img, &t) < 0) {
        const imgfmt_error *e = imgfmt_last_error(img);
        printf("error %d %s\n", e->code, e->msg);
        imgfmt_close(img);
        return 1;
    }
    static const char *names[] = {"none", "mbr", "gpt"};
    printf("table %s %u %u\n", names[t->type], t->sector_size, t->nb_partitions);
    if (t->type == IMGFMT_TABLE_NONE)
        printf("disk %s %s %s\n", orq(t->whole_disk.name), orq(t->whole_disk.label),
               orq(t->whole_disk.uuid));
    for (uint32_t i = 0; i < t->nb_partitions; i++) {
        const imgfmt_partition *p = &t->parts[i];
        char type[40];
        if (t->type == IMGFMT_TABLE_GPT)
            snprintf(type, sizeof type, "%s", p->type_guid);
        else
            snprintf(type, sizeof type, "%x", p->mbr_type);
        printf("part %u %" PRIu64 " %" PRIu64 " %s %s %s %s\n", p->number, p->start, p->length,
               type, orq(p->fs.name), orq(p->fs.label), orq(p->fs.uuid));
    }
    for (uint32_t i = 0; i < imgfmt_nb_warnings(img); i++)
        if (imgfmt_warning_code(img, i) >= IMGFMT_W_PARTITION_FIRST)
            printf("warning %s\n", imgfmt_warning(img, i));
    imgfmt_partition_table_free(t);
    imgfmt_close(img);
    return 0;
}
