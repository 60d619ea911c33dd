#!/usr/bin/env bash
# imgfmt-check and the partition/signature parsers on disks built here with
# Debian's own tools, on plain sparse files (no root, no loop devices):
#  - partitions and file systems compared with sfdisk -J and blkid -p (the
#    util-linux oracles) for MBR with logicals, GPT 512 and 4096;
#  - every finding code both passing and failing, exit statuses; the root
#    file systems hold a minimal OS root (made by mkfs -d / a protofile /
#    --rootdir), since an empty file system is no root;
#  - refused formats named (VHDX, VDI, qcow1, QED, ISO, tar, gzip, xz, zip,
#    a lone VMDK descriptor);
#  - the same disks converted by qemu-img to vpc/qcow2/vmdk give the same
#    findings (skipped, with a message, while this libimgfmt lacks a reader);
#  - size limits just under and just over.
# Exits 77 (skip) without qemu-img or the partitioning/mkfs tools.
. "$(dirname "$0")/lib.sh"

CHECK="$B/tools/imgfmt-check"
PD="$B/tests/parts-dump"
PATH="$PATH:/usr/sbin:/sbin"
# The system interpreter: a version-manager shim can take seconds per start.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
for t in sfdisk sgdisk fdisk blkid mkfs.ext4 mkfs.xfs mkfs.btrfs mkntfs mkfs.vfat mkswap; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "$t not found (scripts/setup installs it): skipped"; exit 77; }
done

ok() { echo "ok: $*"; }

# findings IMAGE [args]: "code/check/status" lines; sets RC to the exit status.
findings() {
    local img=$1; shift
    "$CHECK" --output=json "$@" "$img" > "$W/out.json" 2> "$W/err.txt"
    RC=$?
    "$PY" > "$W/f.txt" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["findings"]:
    print("%s/%s/%s" % (f["code"], f["check"], f["status"]))
    if f["check"] == "converted-size" and "measured" in f:
        print("measured/converted-size/%d" % f["measured"])
print("verdict/%s" % d["verdict"])' "$W/out.json" 2>/dev/null
    return 0
}

# expect NAME IMAGE RC "code/check/status ..." [-- imgfmt-check args]
expect() {
    local name=$1 img=$2 want_rc=$3 want=$4; shift 4
    [ "${1:-}" = "--" ] && shift
    NCHECKED=$((NCHECKED + 1))
    findings "$img" "$@"
    local got; got=$(cat "$W/f.txt")
    if [ "$RC" != "$want_rc" ]; then
        fail "$name: exit $RC, expected $want_rc"; cat "$W/err.txt"; "$CHECK" "$@" "$img"; return
    fi
    local w
    for w in $want; do
        if ! grep -qx -- "$w" <<<"$got"; then
            fail "$name: no finding $w"; "$CHECK" "$@" "$img"; return
        fi
    done
    ok "$name"
}

# A message substring of the human output.
expect_text() {
    local name=$1 img=$2 text=$3; shift 3
    NCHECKED=$((NCHECKED + 1))
    if "$CHECK" "$@" "$img" 2>&1 | grep -qF -- "$text"; then ok "$name: \"$text\""
    else fail "$name: output lacks \"$text\""; "$CHECK" "$@" "$img"; fi
}

# put_fs DISK START_SECTOR FS_FILE: copy a file system into a partition.
put_fs() { dd if="$3" of="$1" bs=1M oflag=seek_bytes seek=$(($2 * 512)) conv=notrunc,sparse status=none; rm -f "$3"; }

# A minimal OS root (what makes a file system a root for the guest view:
# etc/fstab, an os-release, an init) with cloud-init installed and enabled.
ROOT="$W/root-tree"
mkdir -p "$ROOT/etc/systemd/system/cloud-init.target.wants" "$ROOT/sbin" "$ROOT/usr/bin" \
         "$ROOT/usr/lib/systemd/system"
printf 'LABEL=rootfs / ext4 defaults 0 1\n' > "$ROOT/etc/fstab"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > "$ROOT/etc/os-release"
printf '#!/bin/sh\n' > "$ROOT/sbin/init"
printf '#!/usr/bin/python3\n' > "$ROOT/usr/bin/cloud-init"
printf '[Service]\nExecStart=/usr/bin/cloud-init init\n' > "$ROOT/usr/lib/systemd/system/cloud-init.service"
ln -s /usr/lib/systemd/system/cloud-init.service "$ROOT/etc/systemd/system/cloud-init.target.wants/"
# xfs_proto DIR: an mkfs.xfs protofile reproducing DIR.
xfs_proto() { "$PY" "$(dirname "$0")/xfs-proto.py" "$1"; }

# mkfs_file KIND SIZE LABEL [ROOT]: a file holding a new file system (with the
# tree ROOT in it); prints its name.
mkfs_file() {
    local f="$W/fs.$1" ; rm -f "$f"; truncate -s "$2" "$f"
    local tree=${4:-}
    case $1 in
    ext2|ext3|ext4) "mkfs.$1" -q -F -L "$3" ${tree:+-d "$tree"} "$f" ;;
    xfs)   if [ -n "$tree" ]; then xfs_proto "$tree" > "$W/proto"; mkfs.xfs -q -f -L "$3" -p "$W/proto" "$f"
           else mkfs.xfs -q -f -L "$3" "$f"; fi ;;
    vfat32) mkfs.vfat -F 32 -s 1 -n "$3" "$f" >/dev/null ;;
    btrfs) mkfs.btrfs -q -f -L "$3" ${tree:+--rootdir "$tree"} "$f" >/dev/null ;;
    ntfs)  mkntfs -q -F -L "$3" "$f" >/dev/null 2>&1 ;;
    vfat)  mkfs.vfat -n "$3" "$f" >/dev/null ;;
    swap)  mkswap -L "$3" "$f" >/dev/null 2>&1 ;;
    esac || { echo "mkfs $1 failed" >&2; return 1; }
    echo "$f"
}

# oracle DISK [sector size]: our partitions and signatures against sfdisk -J
# and blkid -p on the same byte ranges.
oracle() {
    local disk=$1 name; name=$(basename "$1")
    NCHECKED=$((NCHECKED + 1))
    local out
    if ! out=$("$PY" - "$disk" "$PD" <<'EOF'
import json, subprocess, sys
disk, pd = sys.argv[1], sys.argv[2]
sf = json.loads(subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True,
                               check=True).stdout)["partitiontable"]
ss = sf.get("sectorsize", 512)
ours = {}
for line in subprocess.run([pd, disk], capture_output=True, text=True, check=True).stdout.splitlines():
    w = line.split(" ")
    if w[0] == "table":
        want = {"dos": "mbr", "gpt": "gpt"}[sf["label"]]
        assert w[1] == want, "table %s, sfdisk %s" % (w[1], sf["label"])
    if w[0] == "part":
        ours[int(w[1])] = w[2:]
errs = []
for p in sf.get("partitions", []):
    num = int(p["node"][len(disk):])
    if num not in ours:
        errs.append("partition %d missing" % num); continue
    start, length, typ, fs, label, uuid = ours.pop(num)
    if int(start) != p["start"] * ss or int(length) != p["size"] * ss:
        errs.append("partition %d: ours %s+%s, sfdisk %d+%d" % (num, start, length,
                    p["start"] * ss, p["size"] * ss))
    if typ.lower() != p["type"].lower():
        errs.append("partition %d type: ours %s, sfdisk %s" % (num, typ, p["type"]))
    if p["type"].lower() in ("5", "f", "85"):
        continue
    r = subprocess.run(["blkid", "-p", "-O", str(p["start"] * ss), "-S", str(p["size"] * ss),
                        "-o", "export", disk], capture_output=True, text=True)
    b = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    btype = b.get("TYPE", "-")
    mine = {"fat12": "vfat", "fat16": "vfat", "fat32": "vfat"}.get(fs, fs)
    if btype != mine:
        errs.append("partition %d fs: ours %s, blkid %s" % (num, fs, btype)); continue
    if uuid != b.get("UUID", "-"):
        errs.append("partition %d UUID: ours %s, blkid %s" % (num, uuid, b.get("UUID")))
    if fs not in ("ntfs", "exfat") and label != b.get("LABEL", "-"):
        errs.append("partition %d label: ours %s, blkid %s" % (num, label, b.get("LABEL")))
    if fs.startswith("fat") and b.get("VERSION", "").lower() != fs:
        errs.append("partition %d: ours %s, blkid VERSION %s" % (num, fs, b.get("VERSION")))
if ours:
    errs.append("extra partitions: %s" % sorted(ours))
print("; ".join(errs) if errs else "%d partitions" % len(sf.get("partitions", [])))
sys.exit(1 if errs else 0)
EOF
    ); then fail "$name: oracle: $out"; else ok "$name: same as sfdisk/blkid ($out)"; fi
}

# ---- disks ------------------------------------------------------------------

# Linux on MBR: ext4 root, a logical swap and a logical xfs, a vfat /boot/efi.
D1="$W/linux-mbr.raw"
truncate -s 700M "$D1"
printf 'label: dos\nstart=2048, size=65536, type=ef\nstart=67584, size=131072, type=83, bootable\nstart=198656, type=5\nstart=200704, size=16384, type=82\nstart=219136, size=655360, type=83\n' |
    sfdisk -q "$D1"
put_fs "$D1" 2048 "$(mkfs_file vfat 32M EFI)"
put_fs "$D1" 67584 "$(mkfs_file ext4 64M rootfs "$ROOT")"
put_fs "$D1" 200704 "$(mkfs_file swap 8M sw)"
put_fs "$D1" 219136 "$(mkfs_file xfs 320M data)"
oracle "$D1"

# Linux on GPT: BIOS boot, EFI (FAT32), xfs root, btrfs home, ext3, ext2.
D2="$W/linux-gpt.raw"
truncate -s 1G "$D2"
sgdisk -n 1:2048:+1M -t 1:ef02 -c 1:bios -n 2:0:+64M -t 2:ef00 -c 2:"EFI System" \
       -n 3:0:+300M -t 3:8304 -c 3:root -n 4:0:+200M -t 4:8302 -c 4:home \
       -n 5:0:+16M -t 5:8300 -n 6:0:0 -t 6:8300 "$D2" >/dev/null
start_of() { sfdisk -J "$1" | "$PY" -c 'import json,sys; print([p["start"] for p in json.load(sys.stdin)["partitiontable"]["partitions"] if p["node"].endswith(sys.argv[1])][0])' "$2"; }
put_fs "$D2" "$(start_of "$D2" 2)" "$(mkfs_file vfat32 64M ESP)"
put_fs "$D2" "$(start_of "$D2" 3)" "$(mkfs_file xfs 300M rootx "$ROOT")"
put_fs "$D2" "$(start_of "$D2" 4)" "$(mkfs_file btrfs 200M homeb)"
put_fs "$D2" "$(start_of "$D2" 5)" "$(mkfs_file ext3 16M e3)"
put_fs "$D2" "$(start_of "$D2" 6)" "$(mkfs_file ext2 16M e2)"
oracle "$D2"

# GPT with 4096-byte logical sectors (fdisk -b 4096), btrfs root.
D3="$W/gpt4k.raw"
truncate -s 256M "$D3"
printf 'g\nn\n\n\n+16M\nn\n\n\n\nw\n' | fdisk -b 4096 "$D3" >/dev/null 2>&1
put_fs "$D3" 2048 "$(mkfs_file vfat 16M V4K)"
put_fs "$D3" $((17825792 / 512)) "$(mkfs_file btrfs 200M root4k "$ROOT")"
NCHECKED=$((NCHECKED + 1))
want=$(fdisk -b 4096 -l -o Start,Sectors "$D3" | awk '/^ *[0-9]+ +[0-9]+$/ {printf "%d %d|", $1 * 4096, $2 * 4096}')
got=$("$PD" "$D3" | awk '$1 == "part" {printf "%s %s|", $3, $4} $1 == "table" {t = $2 " " $3} END {print "|" t}')
if [ "$got" = "$want|gpt 4096" ] && "$PD" "$D3" | grep -q "^part 2 .* btrfs root4k"; then
    ok "gpt4k: 4096-byte sectors, same as fdisk -b 4096 ($want)"
else fail "gpt4k: ours $got, fdisk $want"; fi

# Windows on MBR: a system-reserved NTFS and the NTFS system volume.
D4="$W/win-mbr.raw"
truncate -s 200M "$D4"
printf 'label: dos\nstart=2048, size=65536, type=7, bootable\nstart=67584, type=7\n' | sfdisk -q "$D4"
put_fs "$D4" 2048 "$(mkfs_file ntfs 32M Reserved)"
put_fs "$D4" 67584 "$(mkfs_file ntfs 150M Windows)"
oracle "$D4"

# Windows on GPT.
D5="$W/win-gpt.raw"
truncate -s 200M "$D5"
sgdisk -n 1:2048:+100M -t 1:0700 -c 1:"Basic data partition" "$D5" >/dev/null
put_fs "$D5" 2048 "$(mkfs_file ntfs 100M Windows)"

# Windows dynamic disk (LDM: MBR type 0x42).
D6="$W/win-ldm.raw"
truncate -s 100M "$D6"
printf 'label: dos\nstart=2048, type=42\n' | sfdisk -q "$D6"
put_fs "$D6" 2048 "$(mkfs_file ntfs 90M Dyn)"

# A bare ext4 (no table), an empty disk, a table with only swap and FAT.
D7="$W/bare-ext4.raw"; mv "$(mkfs_file ext4 64M bare)" "$D7"
D8="$W/zeros.raw"; truncate -s 64M "$D8"
D9="$W/noroot.raw"
truncate -s 100M "$D9"
printf 'label: dos\nstart=2048, size=20480, type=82\nstart=22528, type=c\n' | sfdisk -q "$D9"
put_fs "$D9" 2048 "$(mkfs_file swap 10M sw)"
put_fs "$D9" 22528 "$(mkfs_file vfat 80M DATA)"
oracle "$D9"

# LVM2 PV and LUKS2 headers, written from their specs (pvcreate and
# cryptsetup need block devices): label "LABELONE" in sector 1 with the
# pv_header at offset 32; LUKS magic, version 2, label and UUID.
D10="$W/lvm.raw"
truncate -s 100M "$D10"
printf 'label: dos\nstart=2048, size=20480, type=83\nstart=22528, type=8e\n' | sfdisk -q "$D10"
put_fs "$D10" 2048 "$(mkfs_file vfat 10M BOOT)"
"$PY" - "$D10" $((22528 * 512)) <<'EOF'
import struct, sys
f = open(sys.argv[1], "r+b"); base = int(sys.argv[2])
lab = bytearray(512)
lab[0:8] = b"LABELONE"; lab[8:16] = struct.pack("<Q", 1); lab[20:24] = struct.pack("<I", 32)
lab[24:32] = b"LVM2 001"; lab[32:64] = b"Hr2fUcV3kL8sXeHcQ0bD7mTqWn1yPz4A"
f.seek(base + 512); f.write(lab)
EOF
D11="$W/luks.raw"
truncate -s 100M "$D11"
printf 'label: gpt\nstart=2048, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=22528, size=100000, type=CA7D7CCB-63ED-4C53-861C-1742536059CC\n' | sfdisk -q "$D11"
put_fs "$D11" 2048 "$(mkfs_file vfat 10M BOOT)"
"$PY" - "$D11" $((22528 * 512)) <<'EOF'
import struct, sys
f = open(sys.argv[1], "r+b"); base = int(sys.argv[2])
h = bytearray(4096)
h[0:6] = b"LUKS\xba\xbe"; h[6:8] = struct.pack(">H", 2); h[24:33] = b"cryptroot"
h[168:204] = b"5a2c1f3e-7d6b-4c8a-9e0f-1b2c3d4e5f60"
f.seek(base); f.write(h)
EOF

# GPT with broken CRCs: entry array in both copies (fail) or primary only (warn).
D12="$W/gpt-badcrc.raw"
truncate -s 64M "$D12"
sgdisk -n 1:2048:0 -t 1:8300 "$D12" >/dev/null
put_fs "$D12" 2048 "$(mkfs_file ext4 62M small "$ROOT")"
printf 'X' | dd of="$D12" bs=1 seek=$((2 * 512 + 100)) conv=notrunc status=none
cp --sparse=always "$D12" "$W/gpt-badprimary.raw"
size12=$(stat -c %s "$D12")
printf 'X' | dd of="$D12" bs=1 seek=$((size12 - 33 * 512 + 100)) conv=notrunc status=none

# ---- findings ---------------------------------------------------------------
P=pass; F=fail; N=not-checked
expect linux-mbr "$D1" 0 "InvalidFormatSize/format/$P InvalidFormatSize/virtual-size/$P PartitionNotPresent/partition-table/$P RootPartitionNotFound/root-partition/$P VirtioNotInstall/virtio-drivers/$N CloudInitNotInstalled/cloud-init/$P ExternalFiles/external-files/$P verdict/pass"
expect_text linux-mbr "$D1" 'OS root on partition 2 (ext4): etc/fstab, etc/os-release, sbin/init'
expect_text linux-mbr "$D1" 'enabled by /etc/systemd/system/cloud-init.target.wants/cloud-init.service'
expect linux-gpt "$D2" 0 "PartitionNotPresent/partition-table/$P RootPartitionNotFound/root-partition/$P verdict/pass"
expect_text linux-gpt "$D2" "GPT partition table, 6 partition(s), 512-byte sectors"
expect_text linux-gpt "$D2" "OS root on partition 3 (xfs)"
expect gpt4k "$D3" 0 "PartitionNotPresent/partition-table/$P RootPartitionNotFound/root-partition/$P"
expect_text gpt4k "$D3" "4096-byte sectors"
# Empty NTFS volumes: no Windows system (tests/crosscheck/windows.sh has a passing one).
expect win-mbr "$D4" 1 "WindowsDiskLayout/windows-table/$P RootPartitionNotFound/windows-system/$F verdict/fail"
expect_text win-mbr "$D4" "os: windows"
expect win-gpt "$D5" 1 "WindowsDiskLayout/windows-table/$F verdict/fail"
expect win-ldm "$D6" 1 "WindowsDiskLayout/windows-dynamic-disk/$F"
expect win-lvm "$D10" 1 "WindowsDiskLayout/windows-lvm/$F RootPartitionNotFound/windows-system/$F" -- --os=windows
expect linux-as-windows "$D1" 1 "RootPartitionNotFound/windows-system/$F" -- --os=windows
expect windows-as-linux "$D4" 1 "RootPartitionNotFound/root-partition/$F" -- --os=linux
expect bare-ext4 "$D7" 1 "PartitionNotPresent/partition-table/$F RootPartitionNotFound/root-partition/$F"
expect_text bare-ext4 "$D7" "no partition table: a bare file system (ext4"
expect zeros "$D8" 1 "PartitionNotPresent/partition-table/$F"
expect noroot "$D9" 1 "PartitionNotPresent/partition-table/$P RootPartitionNotFound/root-partition/$F"
expect_text noroot "$D9" "partitions 1: swap, 2: fat16"
# A PV label without metadata: its logical volumes cannot be read, so the root
# question is not-checked (never a pass, never a guess).
expect lvm "$D10" 0 "RootPartitionNotFound/root-partition/$N"
expect_text lvm "$D10" "LVM2"
expect luks "$D11" 1 "RootPartitionNotFound/root-partition/$F" -- --os=linux
expect_text luks "$D11" "partition 2 is LUKS2-encrypted"
expect gpt-badcrc "$D12" 1 "PartitionNotPresent/partition-table/$F"
expect_text gpt-badcrc "$D12" "entry array CRC32"
expect gpt-badprimary "$W/gpt-badprimary.raw" 0 "PartitionNotPresent/partition-table/$P PartitionNotPresent/partition-warning/warn"

# Virtual size limit: just under/at and just over.
expect max-virtual-at "$D1" 0 "InvalidFormatSize/virtual-size/$P" -- --max-virtual=700M
expect max-virtual-over "$D1" 1 "InvalidFormatSize/virtual-size/$F verdict/fail" -- --max-virtual=$((700 * 1048576 - 1))

# Converted size limit: exactly the qemu-img convert -O qcow2 length passes,
# one byte less fails (when this libimgfmt has the exact measure).
qemu-img convert -f raw -O qcow2 "$D1" "$W/d1.qcow2"
qlen=$(stat -c %s "$W/d1.qcow2")
findings "$D1"
if grep -qx "InvalidFormatSize/converted-size/not-checked" "$W/f.txt"; then
    echo "skip: converted-size limit (this libimgfmt has no imgfmt_measure_qcow2 yet)"
    expect converted-size-not-checked "$D1" 0 "InvalidFormatSize/converted-size/$N"
else
    expect max-actual-at "$D1" 0 "InvalidFormatSize/converted-size/$P" -- --max-actual=$qlen -p
    expect max-actual-over "$D1" 1 "InvalidFormatSize/converted-size/$F" -- --max-actual=$((qlen - 1))
    NCHECKED=$((NCHECKED + 1))
    m=$("$PY" -c 'import json,sys; print([f["measured"] for f in json.load(open(sys.argv[1]))["findings"] if f["check"]=="converted-size"][0])' "$W/out.json")
    [ "$m" = "$qlen" ] && ok "measured $m = qemu-img $qlen" || fail "converted size ours $m, qemu-img $qlen"
fi

# ---- refused formats ----------------------------------------------------------
mkdir -p "$W/fmt"
qemu-img create -q -f vhdx "$W/fmt/d.vhdx" 64M
qemu-img create -q -f vdi "$W/fmt/d.vdi" 64M
qemu-img create -q -f qcow "$W/fmt/d.qcow" 64M
qemu-img create -q -f qed "$W/fmt/d.qed" 64M
qemu-img create -q -f vmdk -o subformat=monolithicFlat "$W/fmt/d.vmdk" 64M
head -c 1M "$D1" | gzip -c > "$W/fmt/d.raw.gz"
head -c 1M "$D1" | xz -c > "$W/fmt/d.raw.xz" 2>/dev/null || rm -f "$W/fmt/d.raw.xz"
"$PY" - "$W/fmt" <<'EOF'
import io, sys, tarfile, zipfile
d = sys.argv[1]
with zipfile.ZipFile(d + "/d.zip", "w") as z: z.writestr("disk.raw", b"\0" * 4096)
with tarfile.open(d + "/d.ova", "w", format=tarfile.USTAR_FORMAT) as t:
    for n in ("d.ovf", "d-disk1.vmdk"):
        ti = tarfile.TarInfo(n); ti.size = 512; t.addfile(ti, io.BytesIO(b"\0" * 512))
# An ISO9660 primary volume descriptor at 32 KiB (as mkisofs writes it).
iso = bytearray(64 * 1024)
iso[32768] = 1; iso[32769:32774] = b"CD001"; iso[32770 - 1 + 6] = 1
iso[32768 + 40:32768 + 72] = b"DEBIAN_12".ljust(32)
open(d + "/d.iso", "wb").write(iso)
EOF
for spec in "d.vhdx:VHDX" "d.vdi:VDI" "d.qcow:qcow (version 1)" "d.qed:QED" "d.vmdk:VMDK descriptor" \
            "d.raw.gz:gzip" "d.raw.xz:xz" "d.zip:zip" "d.ova:OVA/tar" "d.iso:ISO9660"; do
    f="$W/fmt/${spec%%:*}"
    [ -f "$f" ] || { echo "skip: ${spec%%:*} (no tool to make it)"; continue; }
    expect "refused ${spec%%:*}" "$f" 1 "InvalidFormatSize/format/$F PartitionNotPresent/partition-table/$N verdict/fail"
    expect_text "refused ${spec%%:*}" "$f" "format ${spec#*:}"
done

# ---- usage and I/O -------------------------------------------------------------
NCHECKED=$((NCHECKED + 1))
"$CHECK" >/dev/null 2>&1; a=$?
"$CHECK" --os=beos "$D1" >/dev/null 2>&1; b=$?
"$CHECK" --max-actual=lots "$D1" >/dev/null 2>&1; c=$?
"$CHECK" "$W/does-not-exist" >/dev/null 2>&1; d=$?
[ "$a$b$c$d" = "2222" ] && ok "usage/IO errors exit 2" || fail "usage/IO exits $a $b $c $d"

# ---- the same disks in the other formats ---------------------------------------
# The findings that do not depend on the container must be identical.
same_findings() {  # RAW FMT [qemu-img -o]
    local raw=$1 fmt=$2 opts=${3:-} out="$W/conv.$2"
    rm -f "$out"
    qemu-img convert -f raw -O "$fmt" ${opts:+-o "$opts"} "$raw" "$out" || { fail "qemu-img convert $fmt"; return; }
    local want got
    # vpc grows the disk to whole CHS cylinders: its sizes differ.
    local skip='ImageState|VhdSizeRule|ExternalFiles|ImageWarning|/format/|virtual-size'
    [ "$fmt" = vpc ] && skip="$skip|converted-size"
    findings "$raw"; want=$(grep -vE "$skip" "$W/f.txt")
    findings "$out"; got=$(grep -vE "$skip" "$W/f.txt")
    if [ "$RC" = 2 ] && grep -q "has no .* reader" "$W/err.txt"; then
        echo "skip: $(basename "$raw") as $fmt: $(cat "$W/err.txt")"; return
    fi
    NCHECKED=$((NCHECKED + 1))
    if [ "$want" = "$got" ]; then ok "$(basename "$raw") as $fmt: same findings"
    else fail "$(basename "$raw") as $fmt: findings differ"; diff <(echo "$want") <(echo "$got"); fi
}
for d in "$D1" "$D2" "$D4" "$D5" "$D9" "$D12"; do
    same_findings "$d" vpc "subformat=dynamic,force_size=on"
    same_findings "$d" qcow2
    same_findings "$d" vmdk
done

# qcow2 with a backing file; the dirty and corrupt bits.
qemu-img create -q -f qcow2 -b "$W/d1.qcow2" -F qcow2 "$W/overlay.qcow2"
cp "$W/d1.qcow2" "$W/dirty.qcow2"; cp "$W/d1.qcow2" "$W/corrupt.qcow2"
printf '\001' | dd of="$W/dirty.qcow2" bs=1 seek=79 conv=notrunc status=none
printf '\002' | dd of="$W/corrupt.qcow2" bs=1 seek=79 conv=notrunc status=none
if "$CHECK" "$W/d1.qcow2" >/dev/null 2>"$W/err.txt" || [ $? != 2 ]; then
    expect qcow2-backing "$W/overlay.qcow2" 1 "ExternalFiles/external-files/$F"
    expect_text qcow2-backing "$W/overlay.qcow2" "imgfmt-convert"
    expect qcow2-dirty "$W/dirty.qcow2" 0 "ImageState/dirty/warn"
    expect qcow2-corrupt "$W/corrupt.qcow2" 1 "ImageState/corrupt/$F"
    expect qcow2-clean "$W/d1.qcow2" 0 "ImageState/dirty/$P ExternalFiles/external-files/$P"
else
    echo "skip: qcow2 backing/dirty/corrupt ($(cat "$W/err.txt"))"
fi

# VMDK with a separate extent file (the descriptor is what users upload).
qemu-img convert -q -f raw -O vmdk -o subformat=twoGbMaxExtentSparse "$D1" "$W/split.vmdk"
expect vmdk-split "$W/split.vmdk" 1 "InvalidFormatSize/format/$F"
# A descriptor with an RDONLY extent: qemu drops it; the library warns.
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentFlat "$W/ro.vmdk" 5G
sed -i '0,/^RW /s//RDONLY /' "$W/ro.vmdk"
expect vmdk-rdonly "$W/ro.vmdk" 1 "InvalidFormatSize/format/$F ImageWarning/image-warning/warn"
expect_text vmdk-rdonly "$W/ro.vmdk" "access other than RW ignored"

# VHD whose CHS size is below current_size: the tail is lost in conversion.
# force_size keeps current_size exact; the geometry patched to the largest
# C/16/63 below it and creator "qemu" (footer checksum fixed) make qemu 7.2
# use the smaller CHS size, as a VHD made by another tool would.
mk_tail_vhd() {  # RAW OUT
    qemu-img convert -q -f raw -O vpc -o subformat=fixed,force_size=on "$1" "$2"
    "$PY" - "$2" <<'EOF'
import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(0, 2); end = f.tell()
f.seek(end - 512); ft = bytearray(f.read(512))
cur = struct.unpack(">Q", ft[48:56])[0] // 512
ft[56:60] = struct.pack(">HBB", cur // (16 * 63), 16, 63)    # CHS rounded down
ft[28:32] = b"qemu"; ft[64:68] = b"\0\0\0\0"
ft[64:68] = struct.pack(">I", (~sum(ft)) & 0xffffffff)
f.seek(end - 512); f.write(ft)
EOF
}
mk_tail_vhd "$D2" "$W/tail-gpt.vhd"
mk_tail_vhd "$D1" "$W/tail-mbr.vhd"
if "$CHECK" "$W/tail-gpt.vhd" >/dev/null 2>"$W/err.txt" || [ $? != 2 ]; then
    expect vhd-tail-gpt "$W/tail-gpt.vhd" 1 "VhdSizeRule/vhd-size/$F"
    expect_text vhd-tail-gpt "$W/tail-gpt.vhd" "lies in the lost tail"
    # D1's extended partition runs to the end of the disk: in the lost tail.
    expect vhd-tail-mbr "$W/tail-mbr.vhd" 1 "VhdSizeRule/vhd-size/$F PartitionNotPresent/partition-table/$F"
    expect_text vhd-tail-mbr "$W/tail-mbr.vhd" "partition 3 (ends at byte 734003200) lies in the lost tail"
    # A partition well before the end: the loss is a warning.
    truncate -s 64M "$W/short.raw"
    printf 'label: dos\nstart=2048, size=100000, type=83\n' | sfdisk -q "$W/short.raw"
    put_fs "$W/short.raw" 2048 "$(mkfs_file ext4 48M short "$ROOT")"
    mk_tail_vhd "$W/short.raw" "$W/tail-none.vhd"
    expect vhd-tail-none "$W/tail-none.vhd" 0 "VhdSizeRule/vhd-size/warn RootPartitionNotFound/root-partition/$P"
    qemu-img convert -q -f raw -O vpc -o subformat=fixed,force_size=on "$D1" "$W/exact.vhd"
    expect vhd-exact "$W/exact.vhd" 0 "VhdSizeRule/vhd-size/$P"
else
    echo "skip: VHD tail checks ($(cat "$W/err.txt"))"
fi

finish
