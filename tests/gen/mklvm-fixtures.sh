#!/usr/bin/env bash
# Build the LVM2 fixtures of tests/test-lvm.c (testdata/lvm-*.img.gz) with
# the real lvm2 tools on loop devices.  Run as root from the source root:
#     tests/gen/mklvm-fixtures.sh [OUTDIR]      (default: testdata)
#
# lvm runs with a private configuration (LVM_SYSTEM_DIR, a device filter
# accepting only our loop devices, no devices file, no udev), so it never
# sees or touches the host's volumes.  Loop devices are detached in a trap.
#
# Writing the LV contents: if the kernel has device-mapper, the LVs are
# activated and the patterns are written through /dev/VG/LV.  Without it
# (containers), lvm runs with --driverloaded n and the patterns are written
# at the physical extents lvm itself reports (lvs --segments: PE ranges in
# stripe order, stripe size; pvs: pe_start).
#
# The content of every LV: 4 KiB blocks, block k starting with the text
# "<lv> block <k>\n" and zero-filled (tests/test-lvm.c rebuilds it);
# but vg0/lin holds an ext4 made by mke2fs -d (files hello.txt and
# dir/big.bin, 1 MiB of a known pattern, written by this script).
#
# Fixtures:
#   lvm-two-pv.img  16 MiB, MBR with two partitions, each a PV of vg0
#                   (1 MiB extents): lin (linear, extended past `other`,
#                   so two segments; the ext4), other (linear), stripe (2 stripes of
#                   64 KiB over both PVs), pool (a thin pool: see below).
#   lvm-whole.img   8 MiB disk that is a PV itself (no partition table), two
#                   metadata areas of 60 KiB, vg1 with data (3 MiB); the
#                   metadata was rewritten until the circular buffer wrapped.
#   lvm-missing.img 8 MiB PV of vg2, whose other PV was on a second disk
#                   (not shipped): lv "spans" covers both.
#
# Thin pool: lvm2 creates a thin pool only through device-mapper.  Without
# it, the pool is added by vgcfgrestore of the VG's own backup, edited to
# turn two linear LVs into pool_tdata/pool_tmeta under a thin-pool LV (the
# metadata lvm writes is then lvm's, checked by its own validation).
set -euo pipefail

out=${1:-testdata}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
loops=()
export LVM_SUPPRESS_FD_WARNINGS=1
export LVM_SYSTEM_DIR="$work/lvm"
mkdir -p "$LVM_SYSTEM_DIR/backup" "$LVM_SYSTEM_DIR/archive"

have_dm() { [ -e /sys/module/dm_mod ] || grep -q device-mapper /proc/devices 2>/dev/null; }

cleanup() {
    set +e
    for vg in vg0 vg1 vg2; do lvm_ vgchange -an "$vg" >/dev/null 2>&1; done
    for l in "${loops[@]}"; do losetup -d "$l"; done
    rm -rf "$work"
}
trap cleanup EXIT

write_config() {
    local filter=""
    for l in "${loops[@]}"; do filter="$filter\"a|^$l\$|\","; done
    cat > "$LVM_SYSTEM_DIR/lvm.conf" <<EOF
devices { filter = [ $filter "r|.*|" ] global_filter = [ $filter "r|.*|" ]
          use_devicesfile = 0 obtain_device_list_from_udev = 0 scan = [ "/dev" ] }
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 }
backup { backup = 1 backup_dir = "$LVM_SYSTEM_DIR/backup"
         archive = 0 archive_dir = "$LVM_SYSTEM_DIR/archive" }
global { locking_dir = "$work" }
EOF
}

DRV=()
have_dm || DRV=(--driverloaded n)
lvm_() { "$@" "${DRV[@]}"; }
act=(-an -Zn)
have_dm && act=(-ay)

attach() {   # VAR file offset size: VAR = a new loop device on that range
    local l
    l=$(losetup -f --show --offset "$3" --sizelimit "$4" "$2")
    loops+=("$l")
    write_config
    printf -v "$1" %s "$l"
}

# Write the pattern of every LV of $1 (VG) into the image files.  $2...:
# "loopdev=file:offset" pairs.
fill_lvs() {
    local vg=$1
    shift
    if have_dm; then
        lvm_ vgchange -ay "$vg" >/dev/null
        [ -n "${EXT4_LV:-}" ] && dd if="$work/ext4.img" of="/dev/$vg/$EXT4_LV" bs=1M status=none
        for lv in $(lvs --noheadings --separator '|' -o lv_name,lv_attr,segtype "$vg" |
                    awk -F'|' '$2 ~ /^ *-/ && $3 ~ /linear|striped/ { gsub(/ /, "", $1); print $1 }'); do
            [ "$lv" = "${EXT4_LV:-}" ] && continue
            python3 - "$lv" "/dev/$vg/$lv" <<'EOF'
import os, sys
name, dev = sys.argv[1], sys.argv[2]
fd = os.open(dev, os.O_WRONLY)
size = os.lseek(fd, 0, os.SEEK_END)
for k in range(size // 4096):
    blk = (b"%s block %d\n" % (name.encode(), k)).ljust(4096, b"\0")
    os.pwrite(fd, blk, k * 4096)
os.close(fd)
EOF
        done
        lvm_ vgchange -an "$vg" >/dev/null
        return
    fi
    lvs --noheadings --segments --units b --nosuffix --separator '|' \
        -o lv_name,lv_attr,seg_start,seg_size,stripes,stripe_size,seg_pe_ranges,segtype \
        "$vg" > "$work/segs"
    pvs --noheadings --units b --nosuffix --separator '|' -o pv_name,pe_start,vg_extent_size \
        > "$work/pvs"
    local c=()
    [ -n "${EXT4_LV:-}" ] && c=(--content "$EXT4_LV=$work/ext4.img")
    python3 "$(dirname "$0")/lvm-fill.py" "${c[@]}" "$work/segs" "$work/pvs" "$@"
}

# Turn data+meta of $1 into a thin pool "pool" by editing the VG backup.
make_thin_pool() {
    local vg=$1
    if have_dm; then
        lvm_ lvcreate -q -ay --type thin-pool -L 1M -n pool "$vg" >/dev/null
        return
    fi
    lvm_ lvcreate -q "${act[@]}" -L 1M -n pooldata "$vg" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -L 1M -n poolmeta "$vg" >/dev/null
    vgcfgbackup -q -f "$work/vg.txt" "$vg" >/dev/null
    python3 - "$work/vg.txt" <<'EOF'
import re, sys
p = sys.argv[1]
t = open(p).read()
# Hide the two parts (drop VISIBLE) and add the pool LV that uses them.
for part in ("pooldata", "poolmeta"):
    t = re.sub(r'(\n\t\t%s \{.*?status = \[)([^]]*)\]' % part,
               lambda m: m.group(1) + '"READ", "WRITE"]', t, count=1, flags=re.S)
    t = t.replace("\n\t\t%s {" % part, "\n\t\tpool_%s {" % part[4:].replace("data", "tdata").replace("meta", "tmeta"), 1)
pool = '''
		pool {
			id = "Thinpo-0000-0000-0000-0000-0000-000000"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			creation_time = 1700000000
			creation_host = "imgfmt"
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "thin-pool"
				metadata = "pool_tmeta"
				pool = "pool_tdata"
				transaction_id = 0
				chunk_size = 128
				discards = "passdown"
				zero_new_blocks = 1
			}
		}
'''
t = t.replace("\tlogical_volumes {\n", "\tlogical_volumes {\n" + pool, 1)
open(p, "w").write(t)
EOF
    vgcfgrestore -q --force -f "$work/vg.txt" "$vg" >/dev/null
}

# $work/ext4.img: an ext4 of $1 bytes holding hello.txt and dir/big.bin.
make_ext4() {
    mkdir -p "$work/root/dir"
    printf 'hello from an LV\n' > "$work/root/hello.txt"
    python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 31 + 7) & 255 for i in range(1 << 20)))' \
        > "$work/root/dir/big.bin"
    rm -f "$work/ext4.img"
    truncate -s "$1" "$work/ext4.img"
    mke2fs -q -t ext4 -b 1024 -E root_owner=0:0 -U 2c1b5d1e-1111-4222-8333-444455556666 \
        -L lvroot -d "$work/root" "$work/ext4.img"
}

two_pv() {
    local img=$work/lvm-two-pv.img
    truncate -s 16M "$img"
    printf 'label: dos\nunit: sectors\n2048,14336,8e\n16384,16384,8e\n' | sfdisk -q "$img"
    local p1 p2
    attach p1 "$img" $((2048 * 512)) $((14336 * 512))
    attach p2 "$img" $((16384 * 512)) $((16384 * 512))
    pvcreate -q "$p1" "$p2" >/dev/null
    vgcreate -q -s 1M vg0 "$p1" "$p2" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -L 2M -n lin vg0 "$p1" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -L 1M -n other vg0 "$p1" >/dev/null
    lvm_ lvextend -q -L +2M vg0/lin "$p1" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -i 2 -I 64k -L 2M -n stripe vg0 "$p1" "$p2" >/dev/null
    make_thin_pool vg0
    make_ext4 $((4 << 20))
    EXT4_LV=lin fill_lvs vg0 "$p1=$img:$((2048 * 512))" "$p2=$img:$((16384 * 512))"
    lvs -a -o lv_name,segtype,seg_pe_ranges --segments vg0 >&2
    lvm_ vgchange -q -an vg0 >/dev/null
}

# True if the first metadata area of the PV at byte 0 of $1 has its text
# split by the end of the area.
wrapped() {
    python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read(1 << 20)
i = 512 + 32 + 40
while struct.unpack_from("<QQ", d, i) != (0, 0):
    i += 16                      # data areas
mda_off, mda_size = struct.unpack_from("<QQ", d, i + 16)
off, size = struct.unpack_from("<QQ", d, mda_off + 40)
sys.exit(0 if off + size > mda_size else 1)
EOF
}

whole() {
    local img=$work/lvm-whole.img
    truncate -s 8M "$img"
    local d
    attach d "$img" 0 $((8 << 20))
    pvcreate -q --metadatasize 4k --dataalignment 64k --metadatacopies 2 "$d" >/dev/null
    vgcreate -q -s 1M vg1 "$d" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -L 3M -n data vg1 >/dev/null
    # Rewrite the metadata until the latest text wraps round the end of the
    # first 60 KiB area (its raw location runs past the area).
    local i=0
    while ! wrapped "$img"; do
        i=$((i + 1))
        [ $i -le 400 ] || { echo "metadata never wrapped" >&2; exit 1; }
        lvm_ lvchange -q --addtag "t$i" vg1/data >/dev/null
    done
    echo "whole: wrapped after $i commits" >&2
    fill_lvs vg1 "$d=$img:0"
    lvm_ vgchange -q -an vg1 >/dev/null
}

missing() {
    local img=$work/lvm-missing.img other=$work/other.img
    truncate -s 8M "$img" "$other"
    local a b
    attach a "$img" 0 $((8 << 20))
    attach b "$other" 0 $((8 << 20))
    pvcreate -q "$a" "$b" >/dev/null
    vgcreate -q -s 1M vg2 "$a" "$b" >/dev/null
    lvm_ lvcreate -q "${act[@]}" -L 10M -n spans vg2 >/dev/null
    lvm_ vgchange -q -an vg2 >/dev/null
}

two_pv
whole
missing
for f in lvm-two-pv lvm-whole lvm-missing; do
    gzip -9 -n -c "$work/$f.img" > "$out/$f.img.gz"
    ls -l "$out/$f.img.gz" >&2
done
