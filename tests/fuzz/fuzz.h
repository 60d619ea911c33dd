/*
 * fuzz.h -- the fuzz entry point, and a hook later paths (measure, the
 * partition parser) add to without touching the open/read walk.
 */
#ifndef IMGFMT_FUZZ_H
#define IMGFMT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* More work on an opened image (fuzz-extra.c). */
void fuzz_extra(imgfmt_image *img);

#endif
