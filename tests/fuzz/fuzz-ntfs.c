/*
 * fuzz-ntfs.c -- the NTFS driver on arbitrary bytes: mount as a memory
 * device, walk the tree through the driver ops (readdir, lookup of every
 * name, open, read, readlink), bounded (tests/fuzz/fuzz-fs.h).  Seeds:
 * corpus-ntfs/ (tests/gen/mkntfs-seeds.sh) and the testdata fixtures.
 */
#include "fuzz-fs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_run(&ifmt_ntfs_driver, data, size);
}
