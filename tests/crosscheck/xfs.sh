#!/usr/bin/env bash
# xfs.sh -- the XFS driver against the kernel.  An image is made with
# mkfs.xfs and filled through a loop mount (50,000 files in one directory,
# a sparse file over 4 GiB, a file of thousands of extents, unwritten
# extents, hard links, long and UTF-8 names, symlinks inline and remote,
# devices, set-id bits, big ids, times before 1970 and after 2038, the
# files of unpacked Debian packages); then every listing, mode, id, size,
# time, link count, inode number, symlink target and sha256 that
# imgfmt-ls reports is compared with what the kernel shows through a
# read-only loop mount, and directory listings with xfs_db.  The same
# answers are required of a qcow2 copy, and a log left dirty by a shutdown
# must be reported.  A v4 image (which kernels without v4 support cannot
# mount) is made from a protofile and judged by its source tree and xfs_db.
# Exit 77 when mkfs.xfs or loop mounts are missing.
set -u
command -v mkfs.xfs >/dev/null 2>&1 || { echo "mkfs.xfs not found: skipped"; exit 77; }
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
HERE=$(cd "$(dirname "$0")" && pwd)
LS="$B/tools/imgfmt-ls"
CAT="$B/tools/imgfmt-cat"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TREE="$PY $HERE/xfs-tree.py"
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-xfs.XXXXXX")
M="$W/mnt"
cleanup() {
    mountpoint -q "$M" 2>/dev/null && umount "$M"
    rm -rf "$W"
}
trap cleanup EXIT
NFAIL=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
t0=$(date +%s)

# Debian packages, unpacked (the .debs are cached, never committed).
CACHE=/var/cache/imgfmt-debs
fetch_debs() {
    mkdir -p "$CACHE" "$W/deb" || return 1
    for p in tzdata coreutils; do
        ls "$CACHE/${p}_"*.deb >/dev/null 2>&1 ||
            (cd "$CACHE" && apt-get download -q "$p" >/dev/null 2>&1) || return 1
        dpkg-deb -x "$(ls "$CACHE/${p}_"*.deb | head -1)" "$W/deb/$p" || return 1
    done
}
DEB="$W/deb"
fetch_debs || { echo "note: Debian packages not available: /deb not checked"; DEB=""; }

# v4 (this kernel may not mount it): a protofile copy of a source tree,
# judged by the source itself and by xfs_db.
V4="$W/v4.img"
$TREE v4src "$W/v4src" && $TREE proto "$W/v4src" > "$W/v4.proto" || fail "v4 source tree"
truncate -s 64M "$V4"
TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f -m crc=0 -p "$W/v4.proto" "$V4" \
    >/dev/null 2>&1 || fail "mkfs.xfs v4"
"$LS" -R --checksum=sha256 --output=json --fs=0 "$V4" > "$W/v4.json" || fail "imgfmt-ls v4"
$TREE v4check "$W/v4src" "$W/v4.json" "$V4" || fail "v4 image differs"
for d in /node /long /; do
    xfs_db -r -c "ls $d" "$V4" | $PY -c 'import sys; [print(l.split(None, 5)[1].decode(), l.split(None, 5)[5][:-7].decode()) for l in sys.stdin.buffer.read().split(b"\n")[1:] if l.endswith(b" (good)") and l.split(None, 5)[5][:-7] not in (b".", b"..")]' > "$W/db.ls"
    "$LS" --output=json --fs=0 "$V4" "$d" | $PY -c 'import json,sys; [print(e["ino"], e["path"].rsplit("/",1)[1]) for e in json.load(sys.stdin)]' > "$W/our.ls"
    cmp -s "$W/db.ls" "$W/our.ls" || fail "v4: xfs_db ls $d differs"
done
rm -rf "$W/v4src" "$V4"
echo "v4 image checked in $(( $(date +%s) - t0 )) s"

IMG="$W/xfs.img"
truncate -s 1G "$IMG"
mkfs.xfs -q -f -L xc-xfs -i nrext64=1 "$IMG" || { fail "mkfs.xfs"; exit 1; }
mkdir "$M"
if ! mount -o loop "$IMG" "$M" 2>/dev/null; then
    echo "loop mount not possible: skipped"
    exit 77
fi
$TREE populate "$M" $DEB || { fail "populate"; exit 1; }
umount "$M"
echo "image built in $(( $(date +%s) - t0 )) s"

# The kernel's view, read-only.
mount -o loop,ro "$IMG" "$M" || { fail "read-only mount"; exit 1; }
$TREE oracle "$M" /sparse /frag > "$W/kernel.json" || fail "oracle walk"
echo "kernel walk in $(( $(date +%s) - t0 )) s"
# The sparse file: ranges around its data, below and above 4 GiB.
for r in 0:8192 $(((2 << 30) - 4096)):12288 $(((4 << 30) - 4096)):20480 $(((4 << 30) + 8192)):8192; do
    o=${r%:*} l=${r#*:}
    cmp <("$B/tests/fs-pread" "$IMG" /sparse/big "$o" "$l") \
        <(dd if="$M/sparse/big" iflag=skip_bytes,count_bytes skip="$o" count="$l" status=none) ||
        fail "/sparse/big differs in [$o, +$l)"
done
# Large files compared byte for byte, not hashed (hashing is slow in
# sanitizer builds).
for f in /frag/file /frag/small; do
    cmp <("$CAT" --fs=0 "$IMG" "$f") "$M$f" || fail "$f differs"
done
umount "$M"
echo "kernel view in $(( $(date +%s) - t0 )) s"

# Ours: the whole tree, checksums everywhere but the large files.
ours() {  # ours IMAGE OUT
    local img=$1 out=$2 d
    "$LS" -R --output=json --fs=0 "$img" > "$out.all" || { fail "imgfmt-ls -R $img"; return; }
    : > "$out.sums"
    for d in $("$LS" --fs=0 "$img" /); do
        [ "$d" = sparse ] || [ "$d" = frag ] && continue
        "$LS" -R --checksum=sha256 --output=json --fs=0 "$img" "/$d" >> "$out.sums" ||
            fail "imgfmt-ls --checksum $img /$d"
    done
    # Entries of the full listing, with the sha256 of the per-directory runs.
    $PY - "$out.all" "$out.sums" > "$out" <<'EOF'
import json, sys, re
full = json.load(open(sys.argv[1]))
sums = {}
for chunk in re.split(r'(?<=\])\s*(?=\[)', open(sys.argv[2]).read().strip()):
    for e in json.loads(chunk):
        if "sha256" in e:
            sums[e["path"]] = e["sha256"]
for e in full:
    if e["path"] in sums:
        e["sha256"] = sums[e["path"]]
json.dump(full, sys.stdout)
EOF
}
ours "$IMG" "$W/ours.json"
$TREE compare "$W/kernel.json" "$W/ours.json" || fail "imgfmt-ls differs from the kernel"
echo "raw image compared in $(( $(date +%s) - t0 )) s"

# Label and UUID as blkid prints them.
if command -v blkid >/dev/null 2>&1; then
    want="$(blkid -o value -s LABEL "$IMG") $(blkid -o value -s UUID "$IMG")"
    got=$("$LS" --fs=list --output=json "$IMG" |
          $PY -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["label"], d["uuid"])')
    [ "$want" = "$got" ] || fail "label/UUID: blkid says '$want', we say '$got'"
fi

# xfs_db's listing of a few directories: names, order and inode numbers.
for d in /hl /names /links /big; do
    xfs_db -r -c "ls $d" "$IMG" | $PY -c '
import sys
for line in sys.stdin.buffer.read().split(b"\n")[1:]:
    f = line.split(None, 5)
    if len(f) == 6 and f[5].endswith(b" (good)"):
        name = f[5][:-7]
        if name not in (b".", b".."):
            sys.stdout.buffer.write(f[1] + b" " + name + b"\n")' > "$W/db.ls"
    "$LS" --output=json --fs=0 "$IMG" "$d" | $PY -c 'import json,sys; [print(e["ino"], e["path"].rsplit("/",1)[1]) for e in json.load(sys.stdin)]' > "$W/our.ls"
    cmp -s "$W/db.ls" "$W/our.ls" || fail "xfs_db ls $d differs ($(wc -l < "$W/db.ls") vs $(wc -l < "$W/our.ls") names)"
done

# A qcow2 copy gives the same answers (the listing; contents of the
# fragmented and sparse files and of a few directories).
if command -v qemu-img >/dev/null 2>&1; then
    qemu-img convert -O qcow2 "$IMG" "$W/xfs.qcow2" || fail "qemu-img convert"
    "$LS" -R --output=json --fs=0 "$W/xfs.qcow2" | cmp -s - "$W/ours.json.all" ||
        fail "qcow2 copy: listing differs"
    for f in /frag/file /frag/small /sparse/big; do
        cmp <("$B/tests/fs-pread" "$W/xfs.qcow2" "$f" 0 $((64 << 20))) \
            <("$B/tests/fs-pread" "$IMG" "$f" 0 $((64 << 20))) || fail "qcow2 copy: $f differs"
    done
    for d in /prealloc /names /hl /links; do
        cmp -s <("$LS" -R --checksum=sha256 --output=json --fs=0 "$W/xfs.qcow2" "$d") \
            <("$LS" -R --checksum=sha256 --output=json --fs=0 "$IMG" "$d") ||
            fail "qcow2 copy: $d differs"
    done
    rm -f "$W/xfs.qcow2"
    echo "qcow2 copy compared in $(( $(date +%s) - t0 )) s"
else
    echo "note: qemu-img not found: qcow2 copy not checked"
fi

# A log left dirty (shutdown without flushing the log) is reported.
mount -o loop "$IMG" "$M" || fail "rw mount"
echo new > "$M/hl/new" && sync -f "$M/hl/new" 2>/dev/null
xfs_io -x -c "shutdown -f" "$M" >/dev/null 2>&1 || fail "xfs_io shutdown"
umount "$M"
"$LS" --fs=0 "$IMG" / 2> "$W/warn" >/dev/null
grep -q "xfs: the log is dirty" "$W/warn" || fail "no dirty-log warning after a shutdown"
mount -o loop "$IMG" "$M" && umount "$M"    # the kernel replays the log
"$LS" --fs=0 "$IMG" / 2> "$W/warn" >/dev/null
grep -q "dirty" "$W/warn" && fail "dirty-log warning after the kernel replayed the log"

echo "xfs cross-check: $(( $(date +%s) - t0 )) s, $NFAIL failures"
[ "$NFAIL" -eq 0 ]
