#!/usr/bin/env bash
# mkcheck-images.sh OUTDIR -- the small disks of tests/test-check.c, made
# with the real tools (sfdisk, sgdisk, mkfs.ext4, mkfs.vfat, mkntfs,
# cryptsetup, qemu-img), each written as OUTDIR/check-NAME.gz (gzip -9n).
# Run as: tests/gen/mkcheck-images.sh testdata
#
#   check-linux-mbr.raw     8 MiB MBR: 1 ESP (0xEF, vfat "EFI"), 2 ext4
#                           "rootfs" (0x83, bootable), 3 Linux LVM (0x8E,
#                           empty), 4 Windows LDM (0x42, empty)
#   check-win-mbr.raw       4 MiB MBR: 1 NTFS "Windows" (0x07, bootable)
#   check-lvm-mbr.raw       4 MiB MBR: 1 vfat "BOOT" (0x0C), 2 Linux LVM (0x8E)
#   check-ldm-mbr.raw       2 MiB MBR: 1 Windows LDM (0x42)
#   check-luks-gpt.raw      4 MiB GPT: 1 vfat "BOOT" (Linux filesystem type),
#                           2 LUKS2 "cryptroot" (Linux LUKS type).  The LUKS
#                           keyslot area (random key material, never read by
#                           the signature probe) is zeroed afterwards to keep
#                           the file small; the binary header is cryptsetup's.
#   check-empty-mbr.raw     1 MiB, an MBR with no partitions (sfdisk label: dos)
#   check-bare-ext4.raw     2 MiB ext4 "bare", no partition table
#   check-tail-part.vhd     fixed VHD of a 4 MiB MBR disk whose partition 1
#                           (ext4) runs to the end, then the footer geometry
#                           patched to the largest C/16/63 below current_size
#                           (checksum fixed): qemu's CHS size drops the tail
#   check-tail-none.vhd     the same with a 2 MiB partition well before the end
#   check-d.vhdx, check-d.vdi, check-d.qcow, check-d.qed
#                           qemu-img create -f FMT 1M (formats the import refuses)
#   check-vmdk-base.vmdk, check-vmdk-child.vmdk
#                           qemu-img create -f vmdk 1M, and a child with
#                           -b check-vmdk-base.vmdk -F vmdk (parentFileNameHint)
set -eu
OUT=$(cd "${1:?usage: mkcheck-images.sh OUTDIR}" && pwd)
PATH="$PATH:/usr/sbin:/sbin"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"

# put_fs DISK START_SECTOR FS_FILE: copy a file system into a partition.
put_fs() { dd if="$3" of="$1" bs=64k oflag=seek_bytes seek=$(($2 * 512)) conv=notrunc,sparse status=none; }
mkfs_file() {  # KIND SIZE LABEL -> prints the file name
    local f="$W/fs.$1.$3"; rm -f "$f"; truncate -s "$2" "$f"
    case $1 in
    ext4) mkfs.ext4 -q -F -L "$3" "$f" ;;
    vfat) mkfs.vfat -n "$3" "$f" >/dev/null ;;
    ntfs) mkntfs -Q -q -F -L "$3" "$f" >/dev/null 2>&1 ;;
    esac
    echo "$f"
}
out() { gzip -9nc "$1" > "$OUT/check-$1.gz"; }

truncate -s 8M linux-mbr.raw
printf 'label: dos\nlabel-id: 0x1c4ec001\nstart=2048, size=2048, type=ef\nstart=4096, size=6144, type=83, bootable\nstart=10240, size=2048, type=8e\nstart=12288, size=2048, type=42\n' |
    sfdisk -q linux-mbr.raw
put_fs linux-mbr.raw 2048 "$(mkfs_file vfat 1M EFI)"
put_fs linux-mbr.raw 4096 "$(mkfs_file ext4 3M rootfs)"
out linux-mbr.raw

truncate -s 4M win-mbr.raw
printf 'label: dos\nlabel-id: 0x1c4ec002\nstart=2048, type=7, bootable\n' | sfdisk -q win-mbr.raw
put_fs win-mbr.raw 2048 "$(mkfs_file ntfs 3M Windows)"
out win-mbr.raw

truncate -s 4M lvm-mbr.raw
printf 'label: dos\nlabel-id: 0x1c4ec003\nstart=2048, size=2048, type=c\nstart=4096, type=8e\n' | sfdisk -q lvm-mbr.raw
put_fs lvm-mbr.raw 2048 "$(mkfs_file vfat 1M BOOT)"
out lvm-mbr.raw

truncate -s 2M ldm-mbr.raw
printf 'label: dos\nlabel-id: 0x1c4ec004\nstart=2048, type=42\n' | sfdisk -q ldm-mbr.raw
out ldm-mbr.raw

truncate -s 4M luks-gpt.raw
printf 'label: gpt\nlabel-id: 6E1F7C2A-5B3D-4C8E-9A0F-1B2C3D4E5F60\nstart=2048, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=11111111-2222-4333-8444-555555555555\nstart=4096, size=3072, type=CA7D7CCB-63ED-4C53-861C-1742536059CC, uuid=66666666-7777-4888-9999-AAAAAAAAAAAA\n' |
    sfdisk -q luks-gpt.raw
put_fs luks-gpt.raw 2048 "$(mkfs_file vfat 1M BOOT)"
truncate -s 1536K luks.part
printf 'x' > key
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --luks2-metadata-size 16k --luks2-keyslots-size 256k --key-size 256 \
    --label cryptroot --uuid 5a2c1f3e-7d6b-4c8a-9e0f-1b2c3d4e5f60 --key-file key luks.part 2>/dev/null
# keyslots start after the two 16 KiB metadata copies
dd if=/dev/zero of=luks.part bs=1k seek=32 count=256 conv=notrunc status=none
put_fs luks-gpt.raw 4096 luks.part
out luks-gpt.raw

truncate -s 1M empty-mbr.raw
printf 'label: dos\nlabel-id: 0x1c4ec005\n' | sfdisk -q empty-mbr.raw
out empty-mbr.raw

mv "$(mkfs_file ext4 2M bare)" bare-ext4.raw
out bare-ext4.raw

# A fixed VHD whose footer geometry gives a CHS size below current_size
# (creator "qemu": qemu 7.2 then uses the CHS size).
mk_tail_vhd() {  # RAW OUT
    qemu-img convert -q -f raw -O vpc -o subformat=fixed,force_size=on "$1" "$2"
    python3 - "$2" <<'EOF'
import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(0, 2); end = f.tell()
f.seek(end - 512); ft = bytearray(f.read(512))
cur = struct.unpack(">Q", ft[48:56])[0] // 512
ft[56:60] = struct.pack(">HBB", cur // (16 * 63), 16, 63)
ft[28:32] = b"qemu"
ft[64:68] = b"\0\0\0\0"
ft[64:68] = struct.pack(">I", (~sum(ft)) & 0xffffffff)
f.seek(end - 512); f.write(ft)
EOF
}
truncate -s 4M tail-part.raw
printf 'label: dos\nlabel-id: 0x1c4ec006\nstart=2048, type=83\n' | sfdisk -q tail-part.raw
put_fs tail-part.raw 2048 "$(mkfs_file ext4 3M tailpart)"
mk_tail_vhd tail-part.raw tail-part.vhd
out tail-part.vhd
truncate -s 4M tail-none.raw
printf 'label: dos\nlabel-id: 0x1c4ec007\nstart=2048, size=4096, type=83\n' | sfdisk -q tail-none.raw
put_fs tail-none.raw 2048 "$(mkfs_file ext4 2M tailnone)"
mk_tail_vhd tail-none.raw tail-none.vhd
out tail-none.vhd

for f in vhdx vdi qcow qed; do
    qemu-img create -q -f "$f" "d.$f" 1M
    out "d.$f"
done
# The child names its parent by the committed name.
qemu-img create -q -f vmdk check-vmdk-base.vmdk 1M
qemu-img create -q -f vmdk -b check-vmdk-base.vmdk -F vmdk check-vmdk-child.vmdk
for f in check-vmdk-base.vmdk check-vmdk-child.vmdk; do gzip -9nc "$f" > "$OUT/$f.gz"; done
