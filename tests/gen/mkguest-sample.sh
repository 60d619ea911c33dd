#!/usr/bin/env bash
# Make a tiny Linux guest disk, every file in it written by this script
# (nothing copied from a package; the "modules" and binaries are stand-ins
# with the real names and headers).  MBR with
#   1: ext4 "boot" (/boot: vmlinuz, config, initrd.img, grub.cfg), 8 MiB
#   2: ext4 "root" (/etc/fstab naming /boot by UUID, os-release, init,
#      module tree, cloud-init files, dpkg status), 24 MiB
# The initramfs is an uncompressed early cpio + a zstd-compressed main one.
# Variant "good": virtio_blk and what it needs are in the initramfs, cloud-
# init is installed and enabled.  Variant "bad": the initramfs lacks virtio
# (as a VMware-built host-only one does) and cloud-init is disabled.
# Built with cpio, zstd, sfdisk, mke2fs -d (no mounting, no root), wrapped
# by qemu-img.  Usage: tests/gen/mkguest-sample.sh good|bad OUT.qcow2.gz
set -eu
variant=${1:?usage: $0 good|bad OUT.qcow2.gz}
out=${2:?usage: $0 good|bad OUT.qcow2.gz}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000
boot_uuid=0b1e5c4e-1111-4a2b-9c3d-000000000001
root_uuid=0b1e5c4e-2222-4a2b-9c3d-000000000002

mkdir -p "$W/boot/grub" "$W/root/etc/default" "$W/root/usr/lib/systemd" "$W/root/usr/sbin" \
         "$W/root/usr/lib" "$W/root/home/user" "$W/root/boot" "$W/root/var/log"
kver=6.1.0-13-amd64
printf 'demo kernel image\n' > "$W/boot/vmlinuz-6.1.0-13-amd64"
printf 'CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=m\n' > "$W/boot/config-6.1.0-13-amd64"
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
ln -s usr/lib "$W/root/lib"
mkdir -p "$W/root/usr/bin"
ln -s usr/bin "$W/root/bin"
# An x86-64 ELF header (what the architecture check reads) on a stand-in shell.
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\076\000' > "$W/root/usr/bin/bash"
chmod 755 "$W/root/usr/bin/bash"
# The module tree of the kernel: modules.dep / modules.builtin as depmod writes them.
mods="$W/root/usr/lib/modules/$kver"
mkdir -p "$mods/kernel/drivers/block" "$mods/kernel/drivers/virtio" "$mods/kernel/drivers/net"
for m in block/virtio_blk virtio/virtio virtio/virtio_ring virtio/virtio_pci \
         virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev net/virtio_net; do
    printf 'stand-in for %s.ko\n' "$m" > "$mods/kernel/drivers/$m.ko"
done
cat > "$mods/modules.dep" <<D
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
D
printf 'kernel/drivers/block/loop.ko\nkernel/fs/ext4/ext4.ko\n' > "$mods/modules.builtin"
# The initramfs: an early (microcode) cpio, then the main one compressed.
mkdir -p "$W/early/kernel/x86/microcode" "$W/initrd/usr/lib/modules/$kver" "$W/initrd/scripts"
printf 'microcode stand-in\n' > "$W/early/kernel/x86/microcode/GenuineIntel.bin"
printf '#!/bin/sh\n' > "$W/initrd/init"
cp "$mods/modules.dep" "$mods/modules.builtin" "$W/initrd/usr/lib/modules/$kver/"
if [ "$variant" = good ]; then
    (cd "$W/root" && cp -r --parents "usr/lib/modules/$kver/kernel" "$W/initrd/")
fi
(cd "$W/early" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$W/initrd.img"
(cd "$W/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | zstd -q -19 >> "$W/initrd.img"
cp "$W/initrd.img" "$W/boot/initrd.img-$kver"
# cloud-init: binary, Python package, units, the enabling link, config, dpkg entry.
py="$W/root/usr/lib/python3/dist-packages/cloudinit"
mkdir -p "$py" "$W/root/usr/lib/systemd/system" "$W/root/etc/systemd/system/cloud-init.target.wants" \
         "$W/root/etc/cloud" "$W/root/var/lib/dpkg"
printf '#!/usr/bin/python3\n' > "$W/root/usr/bin/cloud-init"; chmod 755 "$W/root/usr/bin/cloud-init"
: > "$py/__init__.py"
printf '__VERSION__ = "22.4.2"\n' > "$py/version.py"
for u in cloud-init-local cloud-init cloud-config cloud-final; do
    printf '[Service]\nExecStart=/usr/bin/cloud-init init\n' > "$W/root/usr/lib/systemd/system/$u.service"
    ln -s "/usr/lib/systemd/system/$u.service" "$W/root/etc/systemd/system/cloud-init.target.wants/$u.service"
done
printf 'datasource_list: [ NoCloud, ConfigDrive, None ]\n' > "$W/root/etc/cloud/cloud.cfg"
printf 'Package: cloud-init\nStatus: install ok installed\nVersion: 22.4.2-1\n\n' > "$W/root/var/lib/dpkg/status"
[ "$variant" = bad ] && : > "$W/root/etc/cloud/cloud-init.disabled"
find "$W/root" "$W/boot" -exec touch -h -d @1700000000 {} +
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
