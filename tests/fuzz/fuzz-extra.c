/*
 * fuzz-extra.c -- further paths the fuzz target drives on an opened image.
 */
#include "fuzz.h"

void fuzz_extra(imgfmt_image *img)
{
    (void)imgfmt_backing(img);
    imgfmt_qcow2_bitmap bm;
    for (uint32_t i = 0; i < 64 && imgfmt_qcow2_get_bitmap(img, i, &bm) == 0; i++)
        (void)bm.name;
}
