/*
 * fuzz-extra.c -- further paths the fuzz target drives on an opened image.
 */
#include "fuzz.h"

void fuzz_extra(imgfmt_image *img)
{
    (void)imgfmt_backing(img);
}
