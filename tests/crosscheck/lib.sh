# Shared by the cross-check scripts: compare libimgfmt with qemu-img.
# Source it; it sets W (a scratch directory), helpers, and `finish`.
set -u
command -v qemu-img >/dev/null 2>&1 || { echo "qemu-img not found: skipped"; exit 77; }
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
INFO="$B/tools/imgfmt-info"
CONVERT="$B/tools/imgfmt-convert"
# A python3 shim (pyenv) can cost seconds per call on a loaded machine:
# prefer the system interpreter for the many small JSON helpers.
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-xc.XXXXXX")
trap 'rm -rf "$W"' EXIT
NCHECKED=0
NFAIL=0

# rnd FILE OFFSET LEN: deterministic pseudo-random bytes (seeded by offset).
rnd() {
    head -c "$3" < <(openssl enc -aes-128-ctr -pass pass:"$2" -nosalt -pbkdf2 </dev/zero 2>/dev/null) |
        dd of="$1" bs=1M iflag=fullblock oflag=seek_bytes seek="$2" conv=notrunc status=none
}
# one FILE OFFSET: a single 0x01 byte
one() { printf '\001' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }

jnum() {  # jnum KEY  (first numeric value of "KEY" in JSON on stdin)
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])' "$1"
}

# Our map as "start length data" lines, merged; and qemu's, same shape.
our_map() { "$B/tests/map-dump" "$@"; }
# QEMU_MAP_ZERO_IS_HOLE=1: "data": true with "zero": true (qemu's answer for
# holes in a VMDK flat extent, which read as zeros) counts as zero.
qemu_map() {
    qemu-img map --output=json "$@" | ZH=${QEMU_MAP_ZERO_IS_HOLE:-0} python3 -c '
import json,os,sys
zh=os.environ.get("ZH")=="1"
runs=[]
for e in json.load(sys.stdin):
    if e["length"] == 0: continue
    d = 1 if e["data"] and not (zh and e["zero"]) else 0
    if runs and runs[-1][2]==d and runs[-1][0]+runs[-1][1]==e["start"]:
        runs[-1][1]+=e["length"]
    else:
        runs.append([e["start"],e["length"],d])
for r in runs: print(r[0], r[1], r[2])'
}

# check_image FILE QEMU_FMT [our -f]: virtual size, checksum, map.
check_image() {
    local f=$1 qf=$2 ours_f=${3:-}
    local name; name=$(basename "$f")
    NCHECKED=$((NCHECKED + 1))
    # writer.sh runs the reader scripts with this set: each image goes
    # through the qcow2 writer checks only (the reader checks are the
    # reader script's own run).
    if [ -n "${IMGFMT_XC_HOOK:-}" ]; then
        "$IMGFMT_XC_HOOK" "$f" "$qf" "$ours_f"; echo "ok: $name"; return
    fi
    local qv ov
    qv=$(qemu-img info -f "$qf" --output=json "$f" | jnum virtual-size) || { fail "$name: qemu-img info"; return; }
    ov=$("$INFO" ${ours_f:+-f "$ours_f"} --output=json "$f" | jnum virtual-size) || { fail "$name: imgfmt-info"; return; }
    [ "$qv" = "$ov" ] || { fail "$name: virtual size qemu=$qv ours=$ov"; return; }
    # Content: qemu-img's raw export (sparse) vs our reading of the source,
    # compared with the digest helper (data blocks only, so sparse is quick).
    local qs os
    rm -f "$W/q.raw"
    qemu-img convert -f "$qf" -O raw "$f" "$W/q.raw" || { fail "$name: qemu-img convert"; return; }
    qs=$("$B/tests/digest" -f raw "$W/q.raw")
    os=$("$B/tests/digest" ${ours_f:+-f "$ours_f"} "$f")
    [ "$qs" = "$os" ] || { fail "$name: content differs (qemu $qs, ours $os)"; return; }
    # Our raw export through a pipe must match too (small images only).
    if [ "$qv" -le $((256 << 20)) ]; then
        local a b
        a=$(sha256sum < "$W/q.raw")
        b=$("$CONVERT" ${ours_f:+-f "$ours_f"} -O raw "$f" - | sha256sum)
        [ "$a" = "$b" ] || { fail "$name: imgfmt-convert -O raw output differs"; return; }
    fi
    rm -f "$W/q.raw"
    if ! diff <(qemu_map -f "$qf" "$f") <(our_map ${ours_f:+-f "$ours_f"} "$f") > "$W/mapdiff"; then
        fail "$name: data/zero map differs:"; head -20 "$W/mapdiff"; return
    fi
    echo "ok: $name ($qf, $qv bytes)"
}

finish() {
    echo "checked $NCHECKED images, $NFAIL disagreements"
    [ "$NFAIL" -eq 0 ]
}
