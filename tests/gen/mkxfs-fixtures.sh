#!/usr/bin/env bash
# mkxfs-fixtures.sh -- build the XFS fixtures of tests/test-xfs.c with the
# real mkfs.xfs, populated through a protofile (mkfs.xfs -p), so no mount
# is needed.  Writes testdata/xfs-v5.img.gz and testdata/xfs-v4.img.gz.
#
# usage: tests/gen/mkxfs-fixtures.sh [OUTDIR]   (default: testdata)
#
# mkfs.xfs refuses file systems under 300 MiB unless it believes it runs
# under fstests (TEST_DIR / TEST_DEV / QA_CHECK_FS set); small images keep
# the fixtures small, so the script sets them.
#
# Tree (the same in both images; tests/test-xfs.c rebuilds the names):
#   /small/            shortform directory:
#     file.txt         "hello from xfs\n", mode 0644, uid 1000 gid 100
#     setuid           "#!/bin/sh\n", mode 04755
#     chr              character device 4,64;  blk  block device 8,1
#     fifo             named pipe
#     inline           symlink -> "file.txt"
#     remote           symlink -> 600-byte target ("/remote/" then 'r'*592)
#   /block/block-entry-00..59  60 empty files: a single-block directory
#   /leaf/leaf-entry-0000..0299   300 empty files: leaf directory
#   /node/node-entry-00000..01199 1200 empty files: node directory (its
#                    extent map is a B+ tree too: inode chunks interleave)
#   /btree/<'L' x 240>-NNN  400 one-byte files "x": the directory's blocks are
#                    interleaved with the files' data, so its extent map
#                    outgrows the inode (B+ tree format directory)
#   /data/seq        `seq 1 20000` (108,894 bytes)
#   /data/empty      0 bytes
set -eu
OUT=${1:-testdata}
command -v mkfs.xfs >/dev/null || { echo "mkfs.xfs not found" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1

printf 'hello from xfs\n' > "$T/file.txt"
printf '#!/bin/sh\n' > "$T/setuid"
printf 'x' > "$T/one"
: > "$T/empty"
seq 1 20000 > "$T/seq"
remote="/remote/$(printf 'r%.0s' $(seq 1 592))"

proto() {
    echo "xfs-fixture"
    echo "0 0"
    echo "d--755 0 0"
    echo "small d--755 0 0"
    echo "file.txt ---644 1000 100 $T/file.txt"
    echo "setuid -u-755 0 0 $T/setuid"
    echo "chr c--600 0 0 4 64"
    echo "blk b--660 0 6 8 1"
    echo "fifo p--644 0 0"
    echo "inline l--777 0 0 file.txt"
    echo "remote l--777 0 0 $remote"
    echo "\$"
    echo "block d--755 0 0"
    for i in $(seq 0 59); do printf 'block-entry-%02d ---644 0 0 %s\n' "$i" "$T/empty"; done
    echo "\$"
    echo "leaf d--755 0 0"
    for i in $(seq 0 299); do printf 'leaf-entry-%04d ---644 0 0 %s\n' "$i" "$T/empty"; done
    echo "\$"
    echo "node d--755 0 0"
    for i in $(seq 0 1199); do printf 'node-entry-%05d ---644 0 0 %s\n' "$i" "$T/empty"; done
    echo "\$"
    echo "btree d--755 0 0"
    long=$(printf 'L%.0s' $(seq 1 240))
    for i in $(seq 0 399); do printf '%s-%03d ---644 0 0 %s\n' "$long" "$i" "$T/one"; done
    echo "\$"
    echo "data d--755 0 0"
    echo "seq ---644 0 0 $T/seq"
    echo "empty ---644 0 0 $T/empty"
    echo "\$"
    echo "\$"
}
proto > "$T/proto"

make() {  # make NAME SIZE MKFS-OPTIONS...
    local name=$1 size=$2
    shift 2
    rm -f "$T/$name"
    truncate -s "$size" "$T/$name"
    mkfs.xfs -q -f -p "$T/proto" "$@" "$T/$name"
    gzip -9 -n -c "$T/$name" > "$OUT/$name.gz"
    echo "$OUT/$name.gz: $(stat -c %s "$OUT/$name.gz") bytes"
}

# v5: CRCs, ftype, sparse inodes, big timestamps, 64-bit extent counters.
make xfs-v5.img 32M -L imgfmt-v5 -m uuid=5e1f0c2a-7b3d-4e5f-8a9b-0c1d2e3f4a5b \
    -i nrext64=1
# v4: no CRCs, no ftype, 1 KiB blocks with 4 KiB directory blocks.
make xfs-v4.img 32M -L imgfmt-v4 -m crc=0,uuid=4a4b4c4d-0000-4111-8222-333344445555 \
    -n ftype=0,size=4096 -b size=1024
