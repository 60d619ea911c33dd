#!/usr/bin/env bash
# Cross-check VMDK images against qemu-img: virtual size, content checksum,
# data/zero map, for every subformat qemu-img creates, zeroed grains, parent
# chains, a VMware-style (GD_AT_END) stream and hand-edited descriptors.
# Exits 77 (skip) without qemu-img.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
# qemu reports holes in flat extents as data+zero; they read as zeros.
export QEMU_MAP_ZERO_IS_HOLE=1
QIO() { qemu-io -f vmdk "$@" | grep -v -E '^wrote | ops; ' ; }

mkraw() {  # name size [offset:len ...]
    local f="$W/$1.raw" size=$2; shift 2
    rm -f "$f"; truncate -s "$size" "$f"
    for seg in "$@"; do rnd "$f" "${seg%%:*}" "${seg##*:}"; done
    echo "$f"
}
conv() {  # raw out.vmdk [qemu-img -o options]
    qemu-img convert -q -f raw -O vmdk ${3:+-o "$3"} "$1" "$2"
}
chk() { check_image "$1" vmdk; }
# check_info FILE: qemu-img info --output=json equals ours (minus "imgfmt").
NINFO=0
check_info() {
    NINFO=$((NINFO + 1))
    python3 - "$1" "$INFO" <<'PY' || fail "$(basename "$1"): info JSON differs"
import json, subprocess, sys
f, info = sys.argv[1], sys.argv[2]
q = json.loads(subprocess.check_output(['qemu-img', 'info', '--output=json', f]))
o = json.loads(subprocess.check_output([info, '--output=json', f]))
o.pop('imgfmt', None)
bad = [k for k in sorted(set(q) | set(o)) if q.get(k) != o.get(k)]
for k in bad:
    print('  %s: qemu=%r ours=%r' % (k, q.get(k), o.get(k)))
sys.exit(1 if bad else 0)
PY
}

R100=$(mkraw r100 100M 0:1 10498048:4096 52428700:65537 104857088:512)
RODD=$(mkraw rodd 1000001 0:100 999990:11)
R1M=$(mkraw r1m 1M 0:1048576)
R5G=$(mkraw r5g 5G 0:1048576 2146435072:2097152 4294967296:65536 5367660544:1048576)

# --- every subformat qemu-img creates ---------------------------------------
for sf in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
    mkdir -p "$W/$sf"
    conv "$R100" "$W/$sf/r100.vmdk" "subformat=$sf"; chk "$W/$sf/r100.vmdk"
    case $sf in twoGb*|monolithicFlat) continue;; esac   # odd sizes: enough with 2
    conv "$RODD" "$W/$sf/odd.vmdk" "subformat=$sf"; chk "$W/$sf/odd.vmdk"
done
conv "$R1M" "$W/full1m.vmdk"; chk "$W/full1m.vmdk"
mkdir -p "$W/split"
conv "$R5G" "$W/split/m.vmdk" subformat=twoGbMaxExtentSparse; chk "$W/split/m.vmdk"
conv "$R5G" "$W/split/f.vmdk" subformat=twoGbMaxExtentFlat; chk "$W/split/f.vmdk"

# --- versions, compat6, zeroed grains ----------------------------------------
conv "$R100" "$W/compat6.vmdk" compat6=on; chk "$W/compat6.vmdk"
qemu-img create -q -f vmdk -o zeroed_grain=on "$W/zg.vmdk" 64M
QIO -c "write -P 0x11 0 1M" -c "write -z 256K 128K" -c "write -P 0x22 10M 64K" \
    -c "write -z 10M 64K" -c "write -z 32M 1M" -c "write -P 0x33 67108352 512" "$W/zg.vmdk"
chk "$W/zg.vmdk"
qemu-img create -q -f vmdk "$W/nozg.vmdk" 64M
QIO -c "write -P 0x11 0 1M" -c "write -z 256K 128K" -c "write -z 32M 1M" "$W/nozg.vmdk"
chk "$W/nozg.vmdk"

# --- sizes: up to 600 GiB sparse, data at the last sector, odd sizes ---------
qemu-img create -q -f vmdk "$W/big600g.vmdk" 600G
QIO -c "write -P 0x5a 0 64K" -c "write -P 0xa5 300G 4K" -c "write -P 0x77 644245093888 512" "$W/big600g.vmdk"
chk "$W/big600g.vmdk"
qemu-img create -q -f vmdk "$W/last3g.vmdk" 3G
QIO -c "write -P 0x01 3221224960 512" "$W/last3g.vmdk"; chk "$W/last3g.vmdk"
qemu-img create -q -f vmdk "$W/tiny.vmdk" 512
QIO -c "write -P 0x42 0 512" "$W/tiny.vmdk"; chk "$W/tiny.vmdk"

# --- parent chains (parentFileNameHint) --------------------------------------
mkdir -p "$W/chain"
conv "$R100" "$W/chain/base.vmdk"
qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$W/chain/delta.vmdk"
QIO -c "write -P 0x99 1M 64K" -c "write -P 0x98 104853504 4K" "$W/chain/delta.vmdk"
chk "$W/chain/delta.vmdk"
qemu-img create -q -f vmdk -o zeroed_grain=on -b delta.vmdk -F vmdk "$W/chain/top.vmdk"
QIO -c "write -z 0 64K" -c "write -P 0x97 50M 64K" "$W/chain/top.vmdk"
chk "$W/chain/top.vmdk"

# --- VMware-style stream (GD_AT_END, markers, footer) ------------------------
python3 "$HERE/mk-vmware-stream.py" "$R100" "$W/vw100.vmdk"; chk "$W/vw100.vmdk"
python3 "$HERE/mk-vmware-stream.py" "$RODD" "$W/vwodd.vmdk"; chk "$W/vwodd.vmdk"
python3 "$HERE/mk-vmware-stream.py" --grain-sectors 8 "$R1M" "$W/vw4k.vmdk"; chk "$W/vw4k.vmdk"

# --- hand-edited descriptors --------------------------------------------------
mkdir -p "$W/d/sub"
D=$W/d
rnd "$D/sub/a.bin" 0 3145728
truncate -s 8M "$D/sub/a.bin"; rnd "$D/sub/a.bin" 7340032 4096
hdr() { printf '# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType="%s"\n\n# Extent description\n' "$1"; }
{ hdr monolithicFlat; printf 'RW 4096 FLAT "sub/a.bin" 0\nRDONLY 4096 FLAT "sub/a.bin" 4096\nRW 2048 FLAT "sub/a.bin" 12288\n'; } > "$D/rdonly.vmdk"
chk "$D/rdonly.vmdk"
{ hdr monolithicFlat; printf 'RW 16384 FLAT "sub/a.bin" 0\n\n# The Disk Data Base\n#DDB\nddb.adapterType = "ide"\n'; } | sed 's/$/\r/' > "$D/crlf.vmdk"
chk "$D/crlf.vmdk"
{ hdr twoGbMaxExtentFlat; printf '\n\nRW 1024 FLAT "sub/a.bin" 100\n'; } > "$D/blank-dup.vmdk"
chk "$D/blank-dup.vmdk"
{ hdr monolithicFlat; printf 'RW 2048 FLAT "sub/a.bin" 0\nRW 4096 ZERO\nRW 4000 FLAT "sub/a.bin" 14000\n'; } > "$D/zero-ext.vmdk"
chk "$D/zero-ext.vmdk"
{ hdr vmfs; printf 'RW 20000 VMFS "sub/a.bin"\n'; } > "$D/vmfs.vmdk"     # past EOF: zeros
chk "$D/vmfs.vmdk"
conv "$R100" "$D/sub/sp.vmdk"
{ hdr vmfsSparse; printf 'RW 1000 VMFSSPARSE "sub/sp.vmdk"\n'; } > "$D/vmfssparse.vmdk"
chk "$D/vmfssparse.vmdk"
{ hdr twoGbMaxExtentSparse; printf 'RW 8 SPARSE "sub/sp.vmdk"\nRW 2048 FLAT "%s" 0\n' "$D/sub/a.bin"; } > "$D/mixed-abs.vmdk"
chk "$D/mixed-abs.vmdk"
# GTE 1 without the zeroed-grain flag: qemu reads sector 1 of the file as data.
cp "$W/full1m.vmdk" "$D/gte1.vmdk"
python3 - "$D/gte1.vmdk" <<'EOF'
import struct, sys
f = open(sys.argv[1], 'r+b'); h = f.read(512)
gd_off = struct.unpack_from('<Q', h, 56)[0] * 512
f.seek(gd_off); gt = struct.unpack('<I', f.read(4))[0] * 512
f.seek(gt + 4); f.write(struct.pack('<I', 1))     # grain 1 -> "sector 1"
EOF
chk "$D/gte1.vmdk"

# --- qemu-img info: format-specific block, actual-size (descriptor + extents)
# (not for mixed extent types: qemu-img then omits cluster-size and dirty-flag)
for f in monolithicSparse/r100 monolithicFlat/r100 twoGbMaxExtentSparse/r100 \
         twoGbMaxExtentFlat/r100 streamOptimized/r100 vw100 chain/top compat6 zg d/rdonly d/vmfs; do
    check_info "$W/$f.vmdk"
done
echo "info JSON compared for $NINFO images"

# --- OVA: the member read in place equals qemu's reading of the extracted file
mkdir -p "$W/ova"
conv "$R100" "$W/ova/disk1.vmdk" subformat=streamOptimized
printf '<?xml version="1.0"?><Envelope/>\n' > "$W/ova/x.ovf"
(cd "$W/ova" && tar --format=ustar -cf ../x.ova x.ovf disk1.vmdk)
NCHECKED=$((NCHECKED + 1))
a=$(qemu-img convert -O raw "$W/ova/disk1.vmdk" "$W/ova.raw" && "$B/tests/digest" -f raw "$W/ova.raw")
b=$("$B/tests/digest" "$W/x.ova")
rm -f "$W/ova.raw"
if [ "$a" = "$b" ] && "$INFO" "$W/x.ova" | grep -q 'subformat: ova:disk1.vmdk streamOptimized'; then
    echo "ok: x.ova (member disk1.vmdk read in place)"
else
    fail "x.ova: content or subformat differs (qemu $a, ours $b)"
fi
finish
