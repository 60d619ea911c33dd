#!/usr/bin/env bash
# Formats libimgfmt recognises but does not read are refused by name in
# every tool, and forcing raw reads them as bytes.  The images are made by
# the real tools (qemu-img create/convert, xorriso, gzip, xz, bzip2, zstd,
# zip, tar); a bare seSparse extent has no maker outside VMware, so its
# header is written here from the format's constant header.  Oracle for the
# raw reading: qemu-img info -f raw (size) and qemu-img compare (content).
# Exits 77 (skip) without qemu-img.
. "$(dirname "$0")/lib.sh"
CHECK="$B/tools/imgfmt-check"
NSKIP=0

# A small raw disk with data, the source of the converted containers.
truncate -s 8M "$W/src.raw"
rnd "$W/src.raw" 0 65536
rnd "$W/src.raw" 4194304 12345

# refused FILE NAME_REGEX: the three tools exit 1 naming the format; the
# converter leaves no output; -f raw reads the file's bytes.
refused() {
    local f=$1 re=$2 name; name=$(basename "$f")
    NCHECKED=$((NCHECKED + 1))
    local out rc
    out=$("$INFO" "$f" 2>&1); rc=$?
    [ $rc -eq 1 ] || { fail "$name: imgfmt-info exit $rc (want 1): $out"; return; }
    grep -Eq "$re" <<<"$out" || { fail "$name: imgfmt-info does not name /$re/: $out"; return; }
    grep -Eq "does not read|without a .vmdk member" <<<"$out" ||
        { fail "$name: imgfmt-info: not a refusal: $out"; return; }
    rm -f "$W/out.qcow2"
    out=$("$CONVERT" -O qcow2 "$f" "$W/out.qcow2" 2>&1); rc=$?
    [ $rc -eq 1 ] || { fail "$name: imgfmt-convert exit $rc (want 1): $out"; return; }
    grep -Eq "$re" <<<"$out" || { fail "$name: imgfmt-convert does not name /$re/: $out"; return; }
    [ ! -e "$W/out.qcow2" ] || { fail "$name: imgfmt-convert left an output file"; return; }
    out=$("$CHECK" "$f" 2>&1); rc=$?
    [ $rc -eq 1 ] || { fail "$name: imgfmt-check exit $rc (want 1): $out"; return; }
    grep -Eiq "$re" <<<"$out" || { fail "$name: imgfmt-check does not name /$re/: $out"; return; }
    # Forced raw: the size qemu-img gives it as raw, the bytes themselves.
    local qv ov
    qv=$(qemu-img info -f raw --output=json "$f" | jnum virtual-size)
    ov=$("$INFO" -f raw --output=json "$f" | jnum virtual-size) ||
        { fail "$name: imgfmt-info -f raw failed"; return; }
    [ "$qv" = "$ov" ] || { fail "$name: -f raw size qemu=$qv ours=$ov"; return; }
    "$CONVERT" -f raw -O qcow2 "$f" "$W/out.qcow2" ||
        { fail "$name: imgfmt-convert -f raw failed"; return; }
    qemu-img compare -q -f raw -F qcow2 "$f" "$W/out.qcow2" ||
        { fail "$name: -f raw conversion differs from the file's bytes"; return; }
    rm -f "$W/out.qcow2"
    echo "ok: $name refused (/$re/), read as raw with -f raw"
}

# have TOOL: run the case only if the tool is installed (else say so).
have() { command -v "$1" >/dev/null 2>&1 && return 0; echo "skip: $1 not installed"; NSKIP=$((NSKIP + 1)); return 1; }

for fmt in vdi vhdx qed parallels qcow; do
    qemu-img convert -f raw -O "$fmt" "$W/src.raw" "$W/disk.$fmt"
done
refused "$W/disk.vdi" "VDI"
refused "$W/disk.vhdx" "VHDX"
refused "$W/disk.qed" "QED"
refused "$W/disk.parallels" "Parallels"
refused "$W/disk.qcow" "qcow( \(| )version 1"

# seSparse constant header: magic 0x00000000cafebabe (LE), version 2.1,
# capacity and grain size in sectors, then the table offsets.
{ printf '\xbe\xba\xfe\xca\0\0\0\0'; printf '\x02\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0'
  printf '\0\x40\0\0\0\0\0\0\x08\0\0\0\0\0\0\0'; } > "$W/disk-sesparse.vmdk"
truncate -s 1M "$W/disk-sesparse.vmdk"
refused "$W/disk-sesparse.vmdk" "seSparse"

mkdir -p "$W/isodir" && echo hello > "$W/isodir/readme.txt"
if have xorriso; then
    xorriso -as mkisofs -quiet -o "$W/disc.iso" "$W/isodir" 2>/dev/null
    refused "$W/disc.iso" "ISO ?9660"
fi
for z in gzip xz bzip2 zstd; do
    have "$z" || continue
    "$z" -c < "$W/src.raw" > "$W/src.raw.$z"
    refused "$W/src.raw.$z" "$z"
done
if have zip; then
    (cd "$W" && zip -q src.zip src.raw)
    refused "$W/src.zip" "zip"
fi
# An OVA (tar) whose members are not disk images.
tar cf "$W/notdisk.ova" -C "$W/isodir" readme.txt
refused "$W/notdisk.ova" "tar|OVA"

echo "skipped $NSKIP cases for missing tools"
finish
