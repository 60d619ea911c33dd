#!/usr/bin/env bash
# Cross-check LVM2 against lvm2 itself, on a disk built at test time:
# GPT with three partitions, each a PV of one VG (1 MiB extents) holding
# linear LVs grown past each other and onto another PV (several segments),
# 2- and 3-stripe LVs (4 KiB and 128 KiB stripes, one extended to two
# striped segments).
#  1. Layout: every segment of every LV as lv-dump reads it (start, length,
#     type, stripes, stripe size, PV UUID and first extent of each stripe)
#     must equal `lvs --segments` (PE ranges mapped to PV UUIDs by `pvs`).
#  2. Bytes: with device-mapper in the kernel the LVs are activated, filled
#     with random data, and the sha256 of `dd` of /dev/VG/LV must equal that
#     of lv-dump's read.
#     Without device-mapper (containers) lvm runs with --driverloaded n, the
#     LVs are filled at the extents lvm reports (tests/gen/lvm-fill.py), and
#     every 4 KiB block read through lv-dump must hold its pattern.
# lvm runs with a private configuration (LVM_SYSTEM_DIR: a filter accepting
# only our loop devices, no devices file, no udev); LVs are deactivated and
# loop devices detached in the exit trap.
#  3. A file system on an LV: an ext4 made by mke2fs -d (files this script
#     writes) is put on LV a (three segments on two PVs); every file's
#     sha256 listed by imgfmt-ls --fs=VG/a must equal the source file's.  Exit 77 without root, lvm2,
# sgdisk or a free loop device.
set -u
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DUMP="$B/tests/lv-dump"
[ "$(id -u)" -eq 0 ] || { echo "not root: skipped"; exit 77; }
for t in pvcreate vgcreate lvcreate lvextend lvs pvs vgchange losetup sgdisk python3 sha256sum; do
    command -v "$t" >/dev/null 2>&1 || { echo "$t not found: skipped"; exit 77; }
done
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }

W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-lvm.XXXXXX")
loops=()
VG=imgfmtxc$$
export LVM_SUPPRESS_FD_WARNINGS=1 LVM_SYSTEM_DIR="$W/lvm"
mkdir -p "$LVM_SYSTEM_DIR"
cleanup() {
    set +e
    vgchange -an "$VG" >/dev/null 2>&1
    for l in "${loops[@]}"; do losetup -d "$l"; done
    rm -rf "$W"
}
trap cleanup EXIT

have_dm() { [ -e /sys/module/dm_mod ] || grep -q device-mapper /proc/devices 2>/dev/null; }
DRV=()
have_dm || DRV=(--driverloaded n)
act=(-an -Zn)
have_dm && act=(-ay)

write_config() {
    local filter=""
    for l in "${loops[@]}"; do filter="$filter\"a|^$l\$|\","; done
    cat > "$LVM_SYSTEM_DIR/lvm.conf" <<EOF
devices { filter = [ $filter "r|.*|" ] global_filter = [ $filter "r|.*|" ]
          use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 }
backup { backup = 0 archive = 0 }
global { locking_dir = "$W" }
EOF
}

NFAIL=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }

IMG=$W/disk.img
truncate -s 40M "$IMG"
sgdisk -n 1:2048:+12M -t 1:8e00 -n 2:0:+12M -t 2:8e00 -n 3:0:+12M -t 3:8e00 "$IMG" >/dev/null
maps=()
for n in 1 2 3; do
    start=$(sgdisk -i "$n" "$IMG" | awk '/First sector/ { print $3 }')
    end=$(sgdisk -i "$n" "$IMG" | awk '/Last sector/ { print $3 }')
    l=$(losetup -f --show --offset $((start * 512)) --sizelimit $(((end - start + 1) * 512)) \
        "$IMG" 2>/dev/null) || { echo "no free loop device: skipped"; exit 77; }
    loops+=("$l")
    maps+=("$l=$IMG:$((start * 512))")
done
write_config
P1=${loops[0]} P2=${loops[1]} P3=${loops[2]}

set -e
pvcreate -q "$P1" "$P2" "$P3" >/dev/null
vgcreate -q -s 1M "$VG" "$P1" "$P2" "$P3" >/dev/null
lvc() {   # lvc NAME SIZE [lvcreate options] -- PV...
    local name=$1 size=$2
    shift 2
    local opts=()
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    lvcreate "${DRV[@]}" -q "${act[@]}" -L "$size" -n "$name" "${opts[@]}" "$VG" "$@" >/dev/null
}
lvx() { lvextend "${DRV[@]}" -q "$@" >/dev/null; }
lvc a 3M -- "$P1"
lvc b 1M -- "$P1"
lvx -L +2M "$VG/a" "$P1"
lvx -L +1M "$VG/b" "$P1"
lvx -L +1M "$VG/a" "$P2"
lvc s2 4M -i 2 -I 4k -- "$P2" "$P3"
lvc s3 3M -i 3 -I 128k -- "$P1" "$P2" "$P3"
lvc c 1M -- "$P1"
lvx -L +3M "$VG/s3"
set +e
lvs -a --segments -o lv_name,segtype,stripes,stripesize,seg_pe_ranges "$VG"

# 1. Layout.
pvs --noheadings --separator '|' -o pv_name,pv_uuid > "$W/uuids"
lvs --noheadings --segments --units b --nosuffix --separator '|' \
    -o lv_name,seg_start,seg_size,segtype,stripes,stripe_size,seg_pe_ranges "$VG" |
python3 -c '
import sys
vg, uuids = sys.argv[1], {}
for line in open(sys.argv[2]):
    n, u = [x.strip() for x in line.split("|")]
    uuids[n] = u
for line in sys.stdin:
    lv, start, size, t, k, ss, ranges = [x.strip() for x in line.split("|")]
    areas = []
    for r in ranges.split():
        dev, pe = r.rsplit(":", 1)
        areas.append("%s:%s" % (uuids[dev], pe.split("-")[0]))
    ss = ss if int(k) > 1 else "0"
    print("seg %s/%s %s %s %s %s %s %s" % (vg, lv, start, size, t, k, ss, " ".join(areas)))
' "$VG" "$W/uuids" | sort > "$W/lvs.segs"
"$DUMP" "$IMG" > "$W/ours.txt" || fail "lv-dump $(cat "$W/ours.txt")"
grep '^seg ' "$W/ours.txt" | sort > "$W/ours.segs"
nseg=$(wc -l < "$W/lvs.segs")
if diff -u "$W/lvs.segs" "$W/ours.segs"; then
    echo "ok: layout of $nseg segments equals lvs --segments"
else
    fail "layout differs from lvs --segments"
fi

# 2. Bytes.
lvnames=(a b c s2 s3)
if have_dm; then
    for lv in "${lvnames[@]}"; do
        dd if=/dev/urandom of="/dev/$VG/$lv" bs=64k status=none 2>/dev/null
    done
    sync
    for lv in "${lvnames[@]}"; do
        dd if="/dev/$VG/$lv" bs=1M status=none | sha256sum | cut -d' ' -f1 > "$W/$lv.kernel"
    done
    vgchange -q -an "$VG" >/dev/null
    lvs --noheadings --segments --units b --nosuffix --separator '|' \
        -o lv_name,lv_attr,seg_start,seg_size,stripes,stripe_size,seg_pe_ranges,segtype \
        "$VG" > "$W/segs"
    pvs --noheadings --units b --nosuffix --separator '|' -o pv_name,pe_start,vg_extent_size \
        > "$W/pvs"
    for lv in "${lvnames[@]}"; do
        ours=$("$DUMP" "$IMG" "$VG/$lv" | sha256sum | cut -d' ' -f1)
        if [ "$ours" = "$(cat "$W/$lv.kernel")" ]; then
            echo "ok: $VG/$lv sha256 equals the kernel's"
        else
            fail "$VG/$lv sha256 $ours, kernel $(cat "$W/$lv.kernel")"
        fi
    done
else
    lvs --noheadings --segments --units b --nosuffix --separator '|' \
        -o lv_name,lv_attr,seg_start,seg_size,stripes,stripe_size,seg_pe_ranges,segtype \
        "$VG" > "$W/segs"
    pvs --noheadings --units b --nosuffix --separator '|' -o pv_name,pe_start,vg_extent_size \
        > "$W/pvs"
    python3 "$SRC/tests/gen/lvm-fill.py" "$W/segs" "$W/pvs" "${maps[@]}"
    for lv in "${lvnames[@]}"; do
        if "$DUMP" "$IMG" "$VG/$lv" | python3 -c '
import sys
name, d = sys.argv[1], sys.stdin.buffer.read()
bad = [k for k in range(len(d) // 4096)
       if d[k * 4096:(k + 1) * 4096] != (b"%s block %d\n" % (name.encode(), k)).ljust(4096, b"\0")]
sys.exit(1 if bad or len(d) == 0 else 0)' "$lv"; then
            echo "ok: $VG/$lv every block where lvm put it (no dm in the kernel: read not compared with it)"
        else
            fail "$VG/$lv blocks differ from the pattern written at lvm's extents"
        fi
    done
fi
# 3. ext4 on a (written through the kernel's LV with dm, else at lvm's
#    extents like the patterns).
if command -v mke2fs >/dev/null 2>&1; then
    mkdir -p "$W/root/d/e"
    for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom > "$W/root/d/f$i"; done
    echo hello > "$W/root/d/e/hello"
    size=$(lvs --noheadings --units b --nosuffix -o lv_size "$VG/a" | tr -d ' ')
    truncate -s "$size" "$W/ext4.img"
    mke2fs -q -t ext4 -d "$W/root" "$W/ext4.img"
    if have_dm; then
        vgchange -q -ay "$VG" >/dev/null && dd if="$W/ext4.img" of="/dev/$VG/a" bs=1M status=none
        sync
        vgchange -q -an "$VG" >/dev/null
    else
        python3 "$SRC/tests/gen/lvm-fill.py" --content "a=$W/ext4.img" "$W/segs" "$W/pvs" \
            "${maps[@]}"
    fi
    (cd "$W/root" && find . -type f -printf '/%P\n' | sort | while read -r f; do
        echo "$f $(sha256sum < ".$f" | cut -d' ' -f1)"; done) > "$W/src.sums"
    "$B/tools/imgfmt-ls" -R --checksum=sha256 --output=json --fs="$VG/a" "$IMG" / |
        python3 -c '
import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: e["path"]):
    if e["type"] == "file" and not e["path"].startswith("/lost+found"):
        print(e["path"], e["sha256"])' > "$W/ours.sums"
    if [ -s "$W/src.sums" ] && diff -u "$W/src.sums" "$W/ours.sums"; then
        echo "ok: ext4 on $VG/a: $(wc -l < "$W/src.sums") files' sha256 equal the sources'"
    else
        fail "ext4 on $VG/a: files differ from the sources"
    fi
fi
[ "$NFAIL" -eq 0 ] || { echo "$NFAIL failures"; exit 1; }
echo "all LVM cross-checks passed"
