/*
 * fuzz-ext4.c -- the ext2/3/4 driver on hostile bytes: mount from memory
 * and walk the whole tree through the driver ops (tests/fuzz/fuzz-fs.h).
 */
#include "fuzz-fs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_run(&ifmt_ext4_driver, data, size);
}
