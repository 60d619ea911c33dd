#!/usr/bin/env bash
# Make the btrfs fixtures of tests/test-btrfs.c (testdata/btrfs-*.img.gz)
# with the real tools: mkfs.btrfs --rootdir for the first, the kernel
# (a loop mount, as root) for the second.  Contents are deterministic;
# the images are not (mkfs and the kernel stamp times and uuids).
#   tests/gen/mkbtrfs-fixtures.sh OUTDIR
set -eu   # no pipefail: yes | head ends on SIGPIPE
out=${1:?usage: mkbtrfs-fixtures.sh OUTDIR}
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

# Incompressible bytes, deterministic: sha256 chained.
prng() {   # prng SEED BYTES
    python3 -c '
import hashlib, sys
seed, n = sys.argv[1].encode(), int(sys.argv[2])
out, h = bytearray(), hashlib.sha256(seed).digest()
while len(out) < n:
    out += h; h = hashlib.sha256(h).digest()
sys.stdout.buffer.write(out[:n])' "$1" "$2"
}

# 1. btrfs-rootdir.img: mkfs.btrfs --rootdir.
src=$work/src
mkdir -p "$src/dir/sub" "$src/empty"
printf 'hello btrfs\n' > "$src/hello.txt"
prng regular 20000 > "$src/regular.bin"          # > max_inline: a regular extent
yes 'line of text for the inline file' | head -c 1500 > "$src/dir/inline.txt"
printf 'deep\n' > "$src/dir/sub/deep.txt"
ln -s hello.txt "$src/link-rel"
ln -s /dir/sub/deep.txt "$src/dir/link-abs"
ln "$src/hello.txt" "$src/dir/hardlink.txt"
printf 'utf8\n' > "$src/dir/caf$(printf '\xc3\xa9')-$(printf '\xe2\x82\xac').txt"
printf 'long\n' > "$src/dir/$(printf 'n%.0s' $(seq 1 200))"
chmod 0750 "$src/dir"; chmod 0604 "$src/hello.txt"
truncate -s 0 "$work/rootdir.img"; truncate -s 114M "$work/rootdir.img"
mkfs.btrfs -q -L imgfmt-rootdir -U 5e2b8a1c-3d4f-4a6b-9c8d-7e6f5a4b3c2d \
    --rootdir "$src" "$work/rootdir.img"
gzip -9n < "$work/rootdir.img" > "$out/btrfs-rootdir.img.gz"

# 2. btrfs-kernel.img: subvolumes, compression, holes, prealloc (kernel).
img=$work/kernel.img
truncate -s 114M "$img"
mkfs.btrfs -q -O ^no-holes -L imgfmt-kernel -U 8a7b6c5d-4e3f-4a1b-8c2d-1e0f9a8b7c6d "$img"
mkdir -p "$work/mnt"; m=$work/mnt
mount -o loop "$img" "$m"
printf 'top level\n' > "$m/top.txt"
btrfs -q subvolume create "$m/@"
btrfs -q subvolume create "$m/@/home"
mkdir -p "$m/@/.snapshots/1"
btrfs -q subvolume create "$m/@/.snapshots/1/snapshot"
printf 'in @\n' > "$m/@/at.txt"
printf 'in home\n' > "$m/@/home/user.txt"
printf 'root of the default\n' > "$m/@/.snapshots/1/snapshot/etc-release"
id=$(btrfs subvolume list "$m" | awk '$NF == "@/.snapshots/1/snapshot" {print $2}')
btrfs -q subvolume set-default "$id" "$m"
# Sparse: 16 KiB data, a 1 MiB hole, 4 KiB data, a hole to 2 MiB.
prng sparse-a 16384 > "$m/sparse.bin"
prng sparse-b 4096 | dd of="$m/sparse.bin" bs=4096 seek=260 conv=notrunc status=none
truncate -s 2M "$m/sparse.bin"
# Preallocated: 64 KiB unwritten, 4 KiB written in the middle.
fallocate -l 65536 "$m/prealloc.bin"
printf 'written into prealloc\n' | dd of="$m/prealloc.bin" bs=1 seek=20000 conv=notrunc status=none
umount "$m"
for c in zlib lzo zstd; do
    mount -o loop,compress-force=$c "$img" "$m"
    # Compressible, 8 KiB of numbers then 150 KiB of one line: two
    # compressed extents (at most 128 KiB each), small once compressed.
    { seq 1 2000 | head -c 8192; yes "$c compressible line" | head -c 153600; } > "$m/$c.txt"
    # Small and compressible: an inline compressed extent.
    yes "$c inline" | head -c 3000 > "$m/$c-inline.txt"
    umount "$m"
done
gzip -9n < "$img" > "$out/btrfs-kernel.img.gz"
ls -l "$out"/btrfs-*.img.gz
