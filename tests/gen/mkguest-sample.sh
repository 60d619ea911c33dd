#!/usr/bin/env bash
# Make testdata/guest-debian.qcow2.gz: a tiny Linux guest disk, every file
# in it written by this script (nothing copied from a package).  MBR with
#   1: ext4 "boot" (/boot: vmlinuz, config, initrd, grub.cfg), 8 MiB
#   2: ext4 "root" (/etc/fstab naming /boot by UUID, os-release, init), 24 MiB
# Built with sfdisk + mke2fs -d (no mounting, no root), wrapped by qemu-img.
# Usage: tests/gen/mkguest-sample.sh OUT.qcow2.gz
set -eu
out=${1:?usage: $0 OUT.qcow2.gz}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000
boot_uuid=0b1e5c4e-1111-4a2b-9c3d-000000000001
root_uuid=0b1e5c4e-2222-4a2b-9c3d-000000000002

mkdir -p "$W/boot/grub" "$W/root/etc/default" "$W/root/usr/lib/systemd" "$W/root/usr/sbin" \
         "$W/root/usr/lib" "$W/root/home/user" "$W/root/boot" "$W/root/var/log"
printf 'demo kernel image\n' > "$W/boot/vmlinuz-6.1.0-13-amd64"
printf 'CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=m\n' > "$W/boot/config-6.1.0-13-amd64"
printf 'not a real initramfs\n' > "$W/boot/initrd.img-6.1.0-13-amd64"
cat > "$W/boot/grub/grub.cfg" <<'G'
set default=0
menuentry 'Debian GNU/Linux' {
	linux /vmlinuz-6.1.0-13-amd64 root=UUID=0b1e5c4e-2222-4a2b-9c3d-000000000002 ro quiet
	initrd /initrd.img-6.1.0-13-amd64
}
G
cat > "$W/root/etc/fstab" <<F
# /etc/fstab: static file system information.
UUID=$root_uuid / ext4 errors=remount-ro 0 1
UUID=$boot_uuid /boot ext4 defaults 0 2
tmpfs /tmp tmpfs defaults 0 0
F
cat > "$W/root/usr/lib/os-release" <<'O'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
O
ln -s ../usr/lib/os-release "$W/root/etc/os-release"
printf 'demo\n' > "$W/root/etc/hostname"
printf '#!/bin/sh\n# stands in for systemd in this sample\n' > "$W/root/usr/lib/systemd/systemd"
chmod 755 "$W/root/usr/lib/systemd/systemd"
ln -s usr/sbin "$W/root/sbin"
ln -s ../lib/systemd/systemd "$W/root/usr/sbin/init"
printf 'hello from the guest\n' > "$W/root/home/user/notes.txt"
: > "$W/root/var/log/empty.log"

disk="$W/disk.raw"
truncate -s 34M "$disk"
printf 'label: dos\nlabel-id: 0x1e5c4e00\nstart=2048, size=16384, type=83, bootable\nstart=18432, type=83\n' |
    sfdisk -q "$disk"
mke2fs -q -F -t ext4 -L boot -U "$boot_uuid" -d "$W/boot" -E offset=$((2048 * 512)) "$disk" 8M
mke2fs -q -F -t ext4 -L root -U "$root_uuid" -d "$W/root" -E offset=$((18432 * 512)) "$disk" 24M
qemu-img convert -O qcow2 "$disk" "$W/guest.qcow2"
gzip -9n < "$W/guest.qcow2" > "$out"
ls -l "$out"
