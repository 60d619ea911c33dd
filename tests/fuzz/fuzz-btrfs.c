/*
 * fuzz-btrfs.c -- the btrfs driver on arbitrary bytes: mount as a memory
 * device, walk the tree through the driver ops (readdir, lookup of every
 * name, open, read, readlink), bounded (tests/fuzz/fuzz-fs.h).
 *
 * A btrfs image is megabytes of mostly zeros, too big to mutate quickly,
 * so an input may also be a sparse image: the 16 bytes "btrfs-sparse-v1\n",
 * a u32 LE device size in 4 KiB blocks (at most 128 MiB), then records of a
 * u32 LE block number and 4096 bytes; what no record covers is zero.  Any
 * other input is the device itself.  Seeds: corpus-btrfs/
 * (tests/gen/mkbtrfs-seeds.sh: real images and the sparse forms of them
 * and of the test-btrfs fixtures).  Fuzz
 * builds define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which turns off
 * the tree block and superblock checksums so mutations get past them.
 */
#include "fuzz-fs.h"
#include "fuzz.h"
#include "core/bytes.h"

#define SPARSE_MAGIC "btrfs-sparse-v1\n"
#define SPARSE_BLOCK 4096u
#define SPARSE_MAX_BLOCKS 32768u  /* 128 MiB */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 20 || memcmp(data, SPARSE_MAGIC, 16) != 0)
        return fuzz_fs_run(&ifmt_btrfs_driver, data, size);
    uint32_t blocks = ifmt_le32(data + 16);
    if (blocks == 0 || blocks > SPARSE_MAX_BLOCKS)
        return 0;
    uint8_t *dev = calloc(blocks, SPARSE_BLOCK);
    if (!dev)
        return 0;
    for (size_t pos = 20; size - pos >= 4 + SPARSE_BLOCK; pos += 4 + SPARSE_BLOCK) {
        uint32_t b = ifmt_le32(data + pos);
        if (b < blocks)
            memcpy(dev + (size_t)b * SPARSE_BLOCK, data + pos + 4, SPARSE_BLOCK);
    }
    fuzz_fs_run(&ifmt_btrfs_driver, dev, (size_t)blocks * SPARSE_BLOCK);
    free(dev);
    return 0;
}
