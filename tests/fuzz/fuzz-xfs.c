/*
 * fuzz-xfs.c -- the XFS driver on arbitrary bytes: mount them as a memory
 * device and walk the tree through the driver (tests/fuzz/fuzz-fs.h).
 * Seeds: tests/fuzz/corpus-xfs (tests/gen/mkxfs-seeds.sh).
 */
#include "fuzz-fs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_run(&ifmt_xfs_driver, data, size);
}
