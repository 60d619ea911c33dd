#!/usr/bin/env bash
# Seeds for tests/fuzz/fuzz-ntfs.c: a 2 MiB volume with 512-byte clusters
# (the smallest mkntfs makes), populated through ntfs-3g's FUSE mount (root,
# /dev/fuse): an indexed directory, an LZNT1 file, a sparse file, a symlink,
# a hard link.  The larger fixtures in testdata/ are replayed too.
#   tests/gen/mkntfs-seeds.sh [OUTDIR]   (default: tests/fuzz/corpus-ntfs)
set -eu
out=${1:-tests/fuzz/corpus-ntfs}
tmp=$(mktemp -d)
mnt=$tmp/mnt
mkdir "$mnt"
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$tmp"' EXIT
img=$tmp/small.img
truncate -s 2M "$img"
mkntfs -F -Q -s 512 -c 512 -p 0 -H 0 -S 0 -L seed "$img" >/dev/null 2>&1
ntfs-3g -o loop,compression "$img" "$mnt"
mkdir "$mnt/d" "$mnt/c"
for i in $(seq 1 40); do echo "$i" > "$mnt/d/file-$i"; done
setfattr -n system.ntfs_attrib_be -v 0x00000810 "$mnt/c"
seq 1 3000 > "$mnt/c/n.txt"
truncate -s 100000 "$mnt/sparse"
echo x >> "$mnt/sparse"
ln -s d/file-1 "$mnt/link"
ln "$mnt/d/file-2" "$mnt/hardlink"
umount "$mnt"
gzip -9n < "$img" > "$out/small-512.img.gz"
# Its first 300 KiB: boot sector, $MFT and the root index, nothing else
# (the $UpCase and file data lie beyond): small inputs fuzz faster.
head -c 307200 "$img" | gzip -9n > "$out/small-512-head.img.gz"
ls -l "$out"
