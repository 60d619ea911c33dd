#!/usr/bin/env bash
# Seeds of the ext4 fuzz target (tests/fuzz/corpus-ext4/), made with the
# real tools: 128 KiB-ish file systems small enough for libFuzzer, each one
# layout (ext2 block maps up to double indirect, ext4 extents with a depth-1
# tree, inline data, meta_bg + 64-byte descriptors, 128-byte inodes).
#   tests/gen/mkext4-seeds.sh [CORPUS_DIR]
set -eu
out=$(cd "${1:-$(dirname "$0")/../fuzz/corpus-ext4}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000
T="$W/t"
mkdir -p "$T/d/e"
printf 'hello\n' > "$T/hello"
ln "$T/hello" "$T/hard"
seq 1 4000 > "$T/d/numbers"                     # 18,893 bytes
truncate -s 300K "$T/d/sparse"; echo tail >> "$T/d/sparse"
ln -s hello "$T/fast"
ln -s "$(printf 'p/%.0s' $(seq 1 40))x" "$T/slow"
mkfifo "$T/fifo"
printf 'x\n' > "$T/d/e/leaf"
seed() {  # seed NAME SIZE MKE2FS-ARGS...
    local name=$1 size=$2; shift 2
    mke2fs -q -F -U 3c2d1e0f-0a1b-4c2d-8e3f-405162738495 "$@" -d "$T" "$W/$name" "$size"
}
seed ext2 400K -t ext2 -b 1024 -N 32
seed ext4 400K -t ext4 -b 1024 -N 32 -O ^has_journal
seq 1 2000 | head -c 20480 > "$W/frag-src"
echo "write $W/frag-src /frag" > "$W/cmds"
for i in $(seq 1 2 19); do echo "punch /frag $i $i"; done >> "$W/cmds"
debugfs -w -f "$W/cmds" "$W/ext4" >/dev/null 2>&1
seed inline 256K -t ext4 -b 1024 -N 32 -O ^has_journal,inline_data -I 256
seed metabg 400K -t ext4 -b 1024 -N 32 -O ^has_journal,meta_bg,^resize_inode,64bit -g 256
seed ino128 256K -t ext4 -b 1024 -N 32 -O ^has_journal,^metadata_csum -I 128
for s in ext2 ext4 inline metabg ino128; do
    gzip -9n < "$W/$s" > "$out/$s.img.gz"
    echo "$s.img.gz: $(stat -c %s "$out/$s.img.gz") bytes"
done
