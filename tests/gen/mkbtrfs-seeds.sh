#!/usr/bin/env bash
# Seeds of the btrfs fuzz target (tests/fuzz/corpus-btrfs/*.img.gz): small
# mixed-block-group file systems (data and metadata share chunks, 4 KiB
# nodes), the first by mkfs.btrfs --rootdir --shrink, the second written
# by the kernel through a loop mount (as root): subvolumes, a default
# subvolume, zlib/lzo/zstd, a hole, prealloc.
#   tests/gen/mkbtrfs-seeds.sh OUTDIR
set -eu   # no pipefail: yes | head ends on SIGPIPE
out=${1:?usage: mkbtrfs-seeds.sh OUTDIR}
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

src=$work/src
mkdir -p "$src/d/e"
printf 'hi\n' > "$src/a"
seq 1 3000 > "$src/d/numbers"
ln "$src/a" "$src/d/hard"
ln -s ../a "$src/d/e/link"
truncate -s 16M "$work/rootdir.img"
mkfs.btrfs -q -M --rootdir "$src" --shrink "$work/rootdir.img" > /dev/null 2>&1
gzip -9n < "$work/rootdir.img" > "$out/mixed-rootdir.img.gz"

img=$work/kernel.img
truncate -s 16M "$img"
mkfs.btrfs -q -M -O ^no-holes "$img" > /dev/null 2>&1
mkdir -p "$work/mnt"; m=$work/mnt
mount -o loop "$img" "$m"
btrfs -q subvolume create "$m/@"
btrfs -q subvolume create "$m/@/home"
printf 'x\n' > "$m/@/home/f"
btrfs -q subvolume snapshot "$m/@" "$m/snap"
btrfs -q subvolume set-default "$(btrfs subvolume list "$m" | awk '$NF == "@" {print $2}')" "$m"
printf 'sparse\n' | dd of="$m/@/sparse" bs=1 seek=40000 status=none
fallocate -l 16384 "$m/@/prealloc"
ln -s home/f "$m/@/link"
umount "$m"
for c in zlib lzo zstd; do
    mount -o loop,compress-force=$c "$img" "$m"
    { seq 1 3000; yes "$c" | head -c 20000; } > "$m/$c"
    yes "$c" | head -c 1000 > "$m/$c-inline"
    umount "$m"
done
gzip -9n < "$img" > "$out/mixed-kernel.img.gz"
ls -l "$out"
# Their sparse forms (see tests/fuzz/fuzz-btrfs.c): only the non-zero
# blocks; also of the test-btrfs fixtures (DUP metadata, 16 KiB nodes).
td=$(cd "$(dirname "$0")/../../testdata" && pwd)
for f in "$out/mixed-rootdir" "$out/mixed-kernel" "$td/btrfs-rootdir" "$td/btrfs-kernel"; do
    zcat "$f.img.gz" | python3 -c '
import struct, sys
d = sys.stdin.buffer.read()
out = [b"btrfs-sparse-v1\n", struct.pack("<I", len(d) // 4096)]
for b in range(len(d) // 4096):
    blk = d[b * 4096:(b + 1) * 4096]
    if blk.strip(b"\0"):
        out += [struct.pack("<I", b), blk]
sys.stdout.buffer.write(b"".join(out))' | gzip -9n > "$out/$(basename "$f").sparse.gz"
done
ls -l "$out"
