/*
 * fuzz-extra.c -- further paths the fuzz target drives on an opened image:
 * the partition-table parser (MBR, EBR chains, GPT) with the file-system
 * probe of every partition, and the probe of a bare volume at offset 0.
 */
#include "fuzz.h"

void fuzz_extra(imgfmt_image *img)
{
    (void)imgfmt_backing(img);
    imgfmt_partition_table *t = NULL;
    if (imgfmt_partitions(img, &t) == 0) {
        for (uint32_t i = 0; i < t->nb_partitions; i++)
            (void)t->parts[i].fs.name[0];
        for (uint32_t i = 0; i < t->nb_warnings; i++)
            (void)t->warnings[i][0];
        imgfmt_partition_table_free(t);
    }
    imgfmt_fs fs;
    (void)imgfmt_probe_fs(img, 0, 0, &fs);
}
