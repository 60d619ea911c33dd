#!/usr/bin/env bash
# Make the ext2/3/4 fixtures of tests/test-ext4.c with the real tools
# (mke2fs -d, debugfs -w), gzipped into testdata/, and the manifest of the
# source tree (sha256sum, sizes, symlink targets) the test checks against.
#   tests/gen/mkext4-fixtures.sh [TESTDATA_DIR]
# Made with e2fsprogs 1.47.0 (Debian 12).  Deterministic: fixed UUIDs, hash
# seeds, times (E2FSPROGS_FAKE_TIME) and file contents.
set -eu
out=$(cd "${1:-$(dirname "$0")/../../testdata}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000
T="$W/tree"

lines() {  # lines FILE BYTES PREFIX: numbered text lines cut at BYTES (compressible,
           # no two blocks alike)
    python3 -c 'import sys
n, p = int(sys.argv[2]), sys.argv[3]
text = "".join("%s line %06d\n" % (p, i) for i in range(n // 10 + 1))
open(sys.argv[1], "w").write(text[:n])' "$1" "$2" "$3"
}

common_tree() {
    mkdir -p "$T/dir/sub" "$T/data" "$T/dev"
    printf 'hello, ext4\n' > "$T/hello.txt"
    ln "$T/hello.txt" "$T/hello-hard"
    printf 'deep\n' > "$T/dir/sub/deep.txt"
    : > "$T/empty"
    lines "$T/data/lines20k" 20000 small      # indirect with 1 KiB blocks
    lines "$T/data/lines300k" 300000 big     # double indirect (past 268 blocks)
    truncate -s $((5 * 1024 * 1024 * 1024 + 4096)) "$T/data/huge"
    lines "$W/chunk" 4000 chunk
    for o in 0 1048576 $((5 * 1024 * 1024 * 1024)); do
        dd if="$W/chunk" of="$T/data/huge" bs=4096 oflag=seek_bytes seek=$o conv=notrunc status=none
    done
    ln -s hello.txt "$T/fast-link"
    ln -s "/$(printf 'long/%.0s' $(seq 1 20))target" "$T/slow-link"   # 106 bytes
    printf 'owned\n' > "$T/owned"; chown 70000:80001 "$T/owned"; chmod 4750 "$T/owned"
    printf 'utf8\n' > "$T/dir/héllo ☃"
    mkfifo "$T/dev/fifo"
    mknod "$T/dev/null" c 1 3
    mknod "$T/dev/big" b 300 70000
    find "$T" -exec touch -h -d '2021-01-02 03:04:05.123456789 UTC' {} +
}

manifest() {  # manifest NAME: PATH TYPE SIZE SHA256|TARGET per entry, sorted
    (cd "$T" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
        if [ -L "$p" ]; then echo "${p#.} symlink $(stat -c %s "$p") $(readlink "$p")"
        elif [ -f "$p" ]; then echo "${p#.} file $(stat -c %s "$p") $(sha256sum < "$p" | cut -d' ' -f1)"
        elif [ -d "$p" ]; then echo "${p#.} dir 0 -"
        else echo "${p#.} other 0 -"; fi
    done) > "$out/$1.manifest"
}

mkfs() {  # mkfs NAME SIZE MKE2FS-ARGS...
    local name=$1 size=$2; shift 2
    rm -f "$W/$name"
    mke2fs -q -F -U 0b1d2c3e-4f50-4617-8293-a4b5c6d7e8f9 -E hash_seed=6d2e9a60-8b4f-4a3c-9e1d-2f3a4b5c6d7e \
        -L "fx-${name%.img}" "$@" -d "$T" "$W/$name" "$size"
}

finish() {  # finish NAME: gzip into testdata
    gzip -9n < "$W/$1" > "$out/$1.gz"
    echo "$1.gz: $(stat -c %s "$out/$1.gz") bytes"
}

rm -rf "$T"; mkdir -p "$T"; common_tree
mkfs ext2.img 4M -t ext2 -b 1024 -I 128
finish ext2.img
mkfs ext3.img 4M -t ext3 -b 1024 -J size=1
finish ext3.img

# ext4: the common tree plus a file whose extent tree has depth 1 (every
# other block punched: 20 extents) and one with unwritten extents.
lines "$T/frag" 40960 frag                   # 40 blocks
truncate -s 16384 "$T/prealloc"              # a hole of 16 blocks
find "$T" -exec touch -h -d '2021-01-02 03:04:05.123456789 UTC' {} +
mkfs ext4.img 4M -t ext4 -b 1024
# /owned gets nanoseconds and epoch bit 32 (mke2fs -d stores whole seconds):
# 2021-01-02 03:04:05.123456789 + 2^32 s = 2157-02-08 09:32:21.123456789.
{ for i in $(seq 1 2 39); do echo "punch /frag $i $i"; done
  echo "fallocate /prealloc 0 15"
  echo "sif /owned mtime_extra 0x1d6f3455"; } > "$W/cmds"
debugfs -w -f "$W/cmds" "$W/ext4.img" >/dev/null 2>&1
debugfs -R "ex /frag" "$W/ext4.img" 2>/dev/null | grep -q '^ 1/ 1' || { echo "frag: no depth-1 tree"; exit 1; }
debugfs -R "ex /prealloc" "$W/ext4.img" 2>/dev/null | grep -q 'Uninit' || { echo "prealloc: no unwritten extent"; exit 1; }
# The manifest sees frag with its punched blocks as zeros.
python3 -c 'import sys
f = open(sys.argv[1], "r+b")
for i in range(1, 40, 2):
    f.seek(i * 1024); f.write(bytes(1024))' "$T/frag"
manifest ext4
finish ext4.img
rm "$T/frag" "$T/prealloc"
manifest ext2   # ext2 and ext3 share it

# inline_data: small files in the inode, one spilling into the attribute
# area, an inline directory.
rm -rf "$T"; mkdir -p "$T/small-dir"
printf 'inline\n' > "$T/tiny"
lines "$T/spill" 75 s                       # 60 bytes in i_block, 15 in system.data
printf 'a\n' > "$T/small-dir/a"; printf 'b\n' > "$T/small-dir/b"
ln -s tiny "$T/link"
lines "$T/blocks" 6000 blk                  # not inline
find "$T" -exec touch -h -d '2021-01-02 03:04:05.123456789 UTC' {} +
mkfs ext4-inline.img 2M -t ext4 -O inline_data -I 256 -b 1024
manifest ext4-inline
finish ext4-inline.img
