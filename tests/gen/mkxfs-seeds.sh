#!/usr/bin/env bash
# mkxfs-seeds.sh -- fuzz seeds for tests/fuzz/fuzz-xfs.c: tiny XFS images
# made by mkfs.xfs from a protofile (1 KiB blocks, one AG, an external log
# so nothing the reader needs lies past the first blocks), cut to the
# bytes the tree uses and gzipped.  Writes tests/fuzz/corpus-xfs/.
#
# usage: tests/gen/mkxfs-seeds.sh [OUTDIR]
#
# Tree: /f ("hello\n", uid 1, gid 2), /g (6,756 bytes of text, one
# extent), /chr (4,64), /fifo, /ln -> f, /long -> 301-byte target (remote
# blocks), /d/entry-0..40 (a block directory).  v4-dirs.img: /n/e0..e599
# (a node directory) and /b/<'L' x 200>-0..79 (one-byte files "x").
set -eu
OUT=${1:-tests/fuzz/corpus-xfs}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1   # mkfs.xfs: allow tiny images
printf 'hello\n' > "$T/f"
seq 1 1500 | tr '\n' ' ' | fold -w 60 > "$T/g"
{
    echo "seed"; echo "0 0"; echo "d--755 0 0"
    echo "f ---644 1 2 $T/f"
    echo "g ---644 0 0 $T/g"
    echo "chr c--600 0 0 4 64"
    echo "fifo p--644 0 0"
    echo "ln l--777 0 0 f"
    echo "long l--777 0 0 /$(printf 'y%.0s' $(seq 1 300))"
    echo "d d--755 0 0"
    for i in $(seq 0 40); do echo "entry-$i ---644 0 0 $T/f"; done
    echo "\$"; echo "\$"
} > "$T/proto"
printf 'x' > "$T/one"
long=$(printf 'L%.0s' $(seq 1 200))
{
    echo "seed"; echo "0 0"; echo "d--755 0 0"
    echo "n d--755 0 0"
    for i in $(seq 0 599); do echo "e$i ---644 0 0 $T/f"; done
    echo "\$"
    echo "b d--755 0 0"
    for i in $(seq 0 79); do echo "$long-$i ---644 0 0 $T/one"; done
    echo "\$"; echo "\$"
} > "$T/proto-dirs"
mkdir -p "$OUT"
seed() {  # seed NAME KIB PROTO MKFS-OPTIONS...
    local name=$1 kib=$2 proto=$3
    shift 3
    truncate -s 16M "$T/img"
    truncate -s 8M "$T/log"
    mkfs.xfs -q -f -b size=1024 -d agcount=1 -l logdev="$T/log",size=4m -p "$proto" \
        "$@" "$T/img" 2>/dev/null
    head -c "${kib}K" "$T/img" | gzip -9 -n > "$OUT/$name.gz"
    rm -f "$T/img" "$T/log"
}
seed v5-tiny.img 96 "$T/proto"
seed v4-tiny.img 64 "$T/proto" -m crc=0
seed v4-dirs.img 1024 "$T/proto-dirs" -m crc=0
