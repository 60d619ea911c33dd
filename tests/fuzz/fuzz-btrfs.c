/*
 * fuzz-btrfs.c -- the btrfs driver on arbitrary bytes: mount as a memory
 * device, walk the tree through the driver ops (readdir, lookup of every
 * name, open, read, readlink), bounded (tests/fuzz/fuzz-fs.h).  Seeds:
 * corpus-btrfs/ (tests/gen/mkbtrfs-seeds.sh).  Fuzz builds define
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which turns off the tree block
 * and superblock checksums so mutations get past them.
 */
#include "fuzz-fs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_run(&ifmt_btrfs_driver, data, size);
}
