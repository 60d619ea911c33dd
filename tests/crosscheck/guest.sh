#!/usr/bin/env bash
# The guest view on disks laid out as distributions do, built here by the
# real tools (sfdisk/sgdisk, mke2fs -d, mkfs.xfs -p protofile, and for btrfs
# subvolumes a loop mount): the root is found by its files, /etc/fstab's
# /boot is mounted whatever names it (UUID=, LABEL=, PARTUUID=, /dev/sda1,
# /dev/vda1, /dev/disk/by-uuid/), entries that cannot be placed are notes,
# and every file read through the view has the bytes the tools were given.
# Wrapped by qemu-img in qcow2, VMDK and VHD the answers do not change.
# Exits 77 without the tools.
set -u
B=${IMGFMT_BUILD:?}
LS="$B/tools/imgfmt-ls" CAT="$B/tools/imgfmt-cat" INS="$B/tools/imgfmt-inspect"
PATH="$PATH:/usr/sbin:/sbin"
for t in sfdisk sgdisk mke2fs mkfs.xfs qemu-img python3; do
    command -v "$t" >/dev/null || { echo "$t missing: skipped"; exit 77; }
done
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Source trees: the oracle for every byte read back.
mk_trees() {  # dir
    local d=$1
    mkdir -p "$d/boot/grub" "$d/root/etc" "$d/root/usr/lib/systemd" "$d/root/boot" "$d/root/home/u"
    head -c 200000 /dev/urandom > "$d/boot/vmlinuz-6.1.0-13-amd64"
    printf 'set default=0\nmenuentry "L" {\n linux /vmlinuz-6.1.0-13-amd64\n}\n' > "$d/boot/grub/grub.cfg"
    printf 'ID=debian\nVERSION_ID="12"\n' > "$d/root/etc/os-release"
    printf '#!/bin/sh\n' > "$d/root/usr/lib/systemd/systemd"
    head -c 70000 /dev/urandom > "$d/root/home/u/data.bin"
    ln -s /boot/vmlinuz-6.1.0-13-amd64 "$d/root/vmlinuz"     # absolute: resolves in the guest
}

# same_bytes NAME IMAGE GUEST_PATH SOURCE_FILE
same_bytes() {
    local got want
    got=$("$CAT" "$2" "$3" | sha256sum | cut -d' ' -f1)
    want=$(sha256sum < "$4" | cut -d' ' -f1)
    [ "$got" = "$want" ] && ok "$1: $3 ($want)" || bad "$1: $3 sha256 $got, expected $want"
}

# An MBR disk: 1 = ext4 /boot (label boot), 2 = ext4 root; fstab names /boot by $1.
mk_mbr_guest() {  # spec img
    local spec=$1 img=$2 T="$W/t-mbr"
    rm -rf "$T"; mk_trees "$T"
    { printf 'LABEL=root / ext4 defaults 0 1\n%s /boot ext4 defaults 0 2\n' "$spec"
      printf 'server:/export /mnt/nfs nfs defaults 0 0\n'
      printf 'UUID=00000000-dead-beef-0000-000000000000 /data ext4 nofail 0 2\n'
      printf 'tmpfs /tmp tmpfs defaults 0 0\n/dev/sdb1 /srv ext4 defaults 0 2\n'; } > "$T/root/etc/fstab"
    truncate -s 48M "$img"
    printf 'label: dos\nlabel-id: 0x5eed0001\nstart=2048, size=16384, type=83\nstart=18432, type=83\n' |
        sfdisk -q "$img"
    mke2fs -q -F -t ext4 -L boot -U 11111111-2222-3333-4444-555555555555 -d "$T/boot" \
        -E offset=$((2048 * 512)) "$img" 8M
    mke2fs -q -F -t ext4 -L root -d "$T/root" -E offset=$((18432 * 512)) "$img" 38M
}

check_mbr_guest() {  # name img
    local n=$1 img=$2 T="$W/t-mbr"
    same_bytes "$n" "$img" /boot/vmlinuz-6.1.0-13-amd64 "$T/boot/vmlinuz-6.1.0-13-amd64"
    same_bytes "$n" "$img" /boot/grub/grub.cfg "$T/boot/grub/grub.cfg"
    same_bytes "$n" "$img" /home/u/data.bin "$T/root/home/u/data.bin"
    same_bytes "$n" "$img" /vmlinuz "$T/boot/vmlinuz-6.1.0-13-amd64"
    same_bytes "$n" "$img" /boot/../home/./u/data.bin "$T/root/home/u/data.bin"
    local out; out=$("$INS" "$img")
    grep -q 'mount: *\/boot *partition 1 (ext4)' <<<"$out" && ok "$n: /boot mounted from partition 1" ||
        bad "$n: /boot not mounted: $out"
    grep -q 'network file system (nfs)' <<<"$out" && grep -q 'no volume has it' <<<"$out" &&
        grep -q '/dev/sdb1 on /srv: on another disk' <<<"$out" && ok "$n: unplaced entries noted" ||
        bad "$n: notes missing: $out"
    grep -q '/tmp' <<<"$out" && bad "$n: tmpfs reported as a note" || ok "$n: tmpfs ignored"
    # /dev/sdb1 is in every variant's fstab: DeviceNames warns, naming the line.
    "$B/tools/imgfmt-check" "$img" | grep -q 'DeviceNames *warn *.*/etc/fstab line 6: /dev/sdb1 on /srv' &&
        ok "$n: DeviceNames warns on /dev/sdb1" || bad "$n: DeviceNames: $("$B/tools/imgfmt-check" "$img")"
}

for spec in UUID=11111111-2222-3333-4444-555555555555 LABEL=boot PARTUUID=5eed0001-01 \
            /dev/sda1 /dev/vda1 /dev/disk/by-uuid/11111111-2222-3333-4444-555555555555 \
            'UUID="11111111-2222-3333-4444-555555555555"'; do
    img="$W/mbr.raw"; rm -f "$img"
    mk_mbr_guest "$spec" "$img" || { bad "mkfs for $spec"; continue; }
    check_mbr_guest "fstab $spec" "$img"
done

# The same disk wrapped by qemu-img: the answers do not change.
for fmt in qcow2 vmdk vpc; do
    qemu-img convert -f raw -O $fmt "$W/mbr.raw" "$W/mbr.$fmt"
    check_mbr_guest "as $fmt" "$W/mbr.$fmt"
done

# RHEL-like: GPT, XFS /boot (protofile) and XFS root.
xfs_proto() {  # dir: a protofile reproducing it
    python3 - "$1" <<'EOF'
import os, stat, sys
def walk(d, depth):
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n); st = os.lstat(p); pad = " " * depth
        perm = "%03o" % (st.st_mode & 0o777)
        if stat.S_ISLNK(st.st_mode): print("%s%s l--%s 0 0 %s" % (pad, n, perm, os.readlink(p)))
        elif stat.S_ISDIR(st.st_mode):
            print("%s%s d--%s 0 0" % (pad, n, perm)); walk(p, depth + 1); print("%s$" % pad)
        else: print("%s%s ---%s 0 0 %s" % (pad, n, perm, p))
print("/dev/null\n0 0\nd--755 0 0"); walk(sys.argv[1], 1); print("$")
EOF
}
T="$W/t-xfs"; mk_trees "$T"
printf 'UUID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee / xfs defaults 0 0\nUUID=12345678-1234-1234-1234-123456789abc /boot xfs defaults 0 0\n' > "$T/root/etc/fstab"
img="$W/rhel.raw"; truncate -s 700M "$img"
sgdisk -n 1:2048:+300M -t 1:8300 -n 2:0:0 -t 2:8300 "$img" >/dev/null
for p in 1 2; do
    sub=$([ $p = 1 ] && echo boot || echo root)
    uuid=$([ $p = 1 ] && echo 12345678-1234-1234-1234-123456789abc || echo aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
    xfs_proto "$T/$sub" > "$W/proto"
    truncate -s 300M "$W/p.xfs"; rm -f "$W/p.xfs"; truncate -s 300M "$W/p.xfs"
    mkfs.xfs -q -f -m uuid=$uuid -p "$W/proto" "$W/p.xfs"
    start=$(sgdisk -i $p "$img" | awk '/First sector/ {print $3}')
    dd if="$W/p.xfs" of="$img" bs=1M oflag=seek_bytes seek=$((start * 512)) conv=notrunc,sparse status=none
done
same_bytes rhel-xfs "$img" /boot/vmlinuz-6.1.0-13-amd64 "$T/boot/vmlinuz-6.1.0-13-amd64"
same_bytes rhel-xfs "$img" /vmlinuz "$T/boot/vmlinuz-6.1.0-13-amd64"
"$INS" "$img" | grep -q 'mount: *\/boot *partition 1 (xfs)' && ok "rhel-xfs: /boot on XFS mounted by UUID" ||
    bad "rhel-xfs: $("$INS" "$img")"

# Fedora-like btrfs: the root is the subvolume "root" (not the default),
# /home the subvolume "home" by subvol=; made through a loop mount (root only).
if command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null && [ "$(id -u)" = 0 ] &&
   losetup -f >/dev/null 2>&1; then
    T="$W/t-btrfs"; mk_trees "$T"
    img="$W/fedora.raw"; truncate -s 400M "$img"
    printf 'label: gpt\nstart=2048, size=262144, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=264192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' | sfdisk -q "$img"
    mke2fs -q -F -t ext4 -L boot -d "$T/boot" -E offset=$((2048 * 512)) "$img" 128M
    truncate -s 250M "$W/p.btrfs"; mkfs.btrfs -q -f -L fedora "$W/p.btrfs" >/dev/null
    M="$W/mnt"; mkdir -p "$M"
    if mount -o loop "$W/p.btrfs" "$M" 2>/dev/null; then
        btrfs -q subvolume create "$M/root" >/dev/null && btrfs -q subvolume create "$M/home" >/dev/null
        cp -a "$T/root/." "$M/root/"; mv "$M/root/home/u" "$M/home/u"
        uuid=$(blkid -o value -s UUID "$W/p.btrfs" 2>/dev/null || btrfs filesystem show "$M" | awk '/uuid:/ {print $4}')
        printf 'UUID=%s / btrfs subvol=root 0 0\nUUID=%s /home btrfs subvol=home 0 0\nLABEL=boot /boot ext4 defaults 0 0\n' \
            "$uuid" "$uuid" > "$M/root/etc/fstab"
        umount "$M"
        dd if="$W/p.btrfs" of="$img" bs=1M oflag=seek_bytes seek=$((264192 * 512)) conv=notrunc,sparse status=none
        out=$("$INS" "$img")
        grep -q 'subvolume root' <<<"$out" && ok "fedora-btrfs: root found in subvolume root" ||
            bad "fedora-btrfs: root: $out"
        same_bytes fedora-btrfs "$img" /home/u/data.bin "$T/root/home/u/data.bin"
        same_bytes fedora-btrfs "$img" /boot/vmlinuz-6.1.0-13-amd64 "$T/boot/vmlinuz-6.1.0-13-amd64"
    else
        echo "btrfs loop mount refused: subvolume layout skipped"
    fi
else
    echo "no root/loop devices/btrfs-progs: subvolume layout skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
