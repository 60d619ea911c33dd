#!/usr/bin/env bash
# Cross-check of the ext2/3/4 reader (fs/ext4.c) against debugfs and the
# kernel.  Images are built here with the real tools (mke2fs -d, e2fsck -D,
# debugfs -w) from real content: Debian packages unpacked with dpkg-deb
# (tests/crosscheck/fetch-debs.sh downloads them once into a cache) and
# synthetic trees (a 50,000-entry htree directory, hard links, empty files,
# 255-byte and UTF-8 names, device nodes, fifos, sockets, setuid/sticky
# modes, 32-bit uid/gid, times past 2038 and before 1970, fast and slow
# symlinks, a fragmented file with a depth-3 extent tree, sparse files over
# 4 GiB, ext2 triple-indirect blocks).  Every listing (order, names, types,
# sizes, modes, uid/gid, inode numbers), every file's sha256 and every
# symlink target is compared with `debugfs rdump` + `debugfs ls -p`, and
# with the kernel through a read-only loop mount when mounting works (else
# that part is skipped with a message).  The default ext4 image is also
# wrapped by qemu-img in qcow2, VMDK and VHD: the answers must not change.
# Exit 77 when mke2fs or debugfs are missing.
set -u
for t in mke2fs debugfs e2fsck python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "$t not found: skipped"; exit 77; }
done
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
HERE=$(cd "$(dirname "$0")" && pwd)
ORACLE="$HERE/ext4-oracle.py"
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-ext4.XXXXXX")
MNT="$W/mnt"
cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$MNT"
NFAIL=0
NIMG=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
step() { echo "-- ${SECONDS}s: $*"; }

# Our answers: imgfmt-ls once it is built, else the driver-level walker.
LS="$B/tools/imgfmt-ls"
listing() {  # listing IMAGE [--no-hash] > JSON
    local img=$1; shift
    if [ -x "$LS" ]; then
        local ck=--checksum=sha256
        [ "${1:-}" = --no-hash ] && ck=
        "$LS" -R $ck --output=json --fs=0 "$img" /
    else
        "$B/tests/fs-dump" "$@" "$img"
    fi
}

KERNEL=1
# check IMAGE [--no-hash]: debugfs (ordered) and the kernel (by path).
check() {
    local img=$1; shift
    local name; name=$(basename "$img")
    NIMG=$((NIMG + 1))
    listing "$img" "$@" > "$W/ours.json" || { fail "$name: our listing failed"; return; }
    rm -rf "$W/scratch"; mkdir "$W/scratch"
    python3 "$ORACLE" debugfs "$img" "$W/scratch" "$W/ours.json" "$@" ||
        fail "$name: differs from debugfs"
    rm -rf "$W/scratch"
    if [ $KERNEL = 1 ]; then
        if mount -o ro,loop,noload "$img" "$MNT" 2>/dev/null ||
           mount -o ro,loop "$img" "$MNT" 2>/dev/null; then
            python3 "$ORACLE" kernel "$MNT" "$W/ours.json" "$@" ||
                fail "$name: differs from the kernel"
            umount "$MNT"
        else
            echo "note: $name: loop mount refused (no loop devices or privileges):" \
                 "kernel comparison skipped"
        fi
    fi
    echo "ok: $name"
}

# range IMAGE GUESTPATH SOURCE OFF LEN: bytes of a big file against its source.
range() {
    local a b
    a=$("$B/tests/fs-dump" --range "$2" "$4" "$5" "$1") || { fail "$1 $2: range read"; return; }
    b=$(dd if="$3" bs=64K iflag=skip_bytes,count_bytes skip="$4" count="$5" status=none |
        sha256sum | cut -d' ' -f1)
    [ "$a" = "$b" ] || fail "$(basename "$1") $2 [$4, +$5): ours $a, source $b"
}

# ---- the trees ----
T="$W/tree"
mkdir -p "$T"
make_small_tree() {  # the synthetic part every variant gets
    local s=$1
    mkdir -p "$s/names" "$s/links" "$s/special" "$s/modes" "$s/empty/dir" "$s/data/sub/deeper"
    local long; long=$(printf 'L%.0s' $(seq 1 255))
    echo long > "$s/names/$long"
    echo utf8 > "$s/names/héllo wörld ☃ 日本語"
    echo space > "$s/names/with space"
    printf 'shared\n' > "$s/links/a"
    ln "$s/links/a" "$s/links/b"; ln "$s/links/a" "$s/links/c"
    ln -s a "$s/links/fast"
    ln -s "$(printf 'd%.0s' $(seq 1 59))" "$s/links/fast59"
    ln -s "$(printf 's%.0s' $(seq 1 60))" "$s/links/slow60"
    ln -s "/$(printf 'x/%.0s' $(seq 1 400))target" "$s/links/slow807"
    ln -s /does/not/exist "$s/links/dangling"
    mkfifo "$s/special/fifo"
    mknod "$s/special/null" c 1 3
    mknod "$s/special/bigdev" c 300 70000
    mknod "$s/special/loop" b 7 1
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
        "$s/special/sock"
    echo suid > "$s/modes/suid"; chmod 4755 "$s/modes/suid"
    echo none > "$s/modes/none"; chmod 0 "$s/modes/none"
    mkdir "$s/modes/sticky"; chmod 1777 "$s/modes/sticky"
    echo ids > "$s/modes/ids"; chown 70000:80001 "$s/modes/ids"
    echo future > "$s/modes/future"; touch -d '2240-03-04 05:06:07' "$s/modes/future"
    echo past > "$s/modes/past"; touch -d '1960-01-02 03:04:05' "$s/modes/past"
    : > "$s/empty/zero"; : > "$s/empty/zero2"
    for n in 1 4095 4096 4097 65536 1048579; do
        head -c $n /dev/urandom > "$s/data/r$n"
    done
    head -c 200000 /dev/urandom > "$s/data/sub/deeper/file"
    { head -c 5000 /dev/urandom; head -c 300000 /dev/zero; head -c 7000 /dev/urandom; } \
        > "$s/data/zeros-inside"
    truncate -s 3M "$s/data/sparse-tail"; echo end >> "$s/data/sparse-tail"
}
make_small_tree "$T/small"
step "small tree made"

DEBS=$("$HERE/fetch-debs.sh" 2>/dev/null) || DEBS=
if [ -n "$DEBS" ] && command -v dpkg-deb >/dev/null 2>&1; then
    mkdir -p "$T/deb"
    for d in "$DEBS"/*.deb; do dpkg-deb -x "$d" "$T/deb" || fail "dpkg-deb -x $d"; done
else
    echo "note: Debian packages unavailable (offline?): the real-content part is skipped"
fi
# mkbig DIR N: N entries, one in ten with content.
mkbig() {
    python3 - "$1" "$2" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open(os.path.join(d, "entry-%05d" % i), "w") as f:
        if i % 10 == 0:
            f.write("file %d\n" % i)
EOF
}

# ---- ext4, default features: packages + synthetic + 50,000-entry htree ----
# mke2fs -d links entries one by one into an unindexed directory (quadratic:
# minutes for 50,000), so the big directory is written by the kernel
# through a loop mount, which builds the htree as it goes.  Without mounts:
# 5,000 entries by mke2fs -d, indexed by e2fsck -D.
mkdir -p "$W/full"
cp -a "$T/small" "$W/full/"
[ -d "$T/deb" ] && cp -a "$T/deb" "$W/full/"
IMG="$W/ext4.img"
if mke2fs -q -F -t ext4 -N 120000 -L "xcheck label" -d "$W/full" "$IMG" 400M &&
   mount -o loop "$IMG" "$MNT" 2>/dev/null; then
    mkbig "$MNT/big" 50000
    umount "$MNT"
else
    echo "note: loop mount refused: a 5,000-entry directory by mke2fs -d instead"
    KERNEL=0
    mkbig "$W/full/big" 5000
    mke2fs -q -F -t ext4 -N 120000 -L "xcheck label" -d "$W/full" "$IMG" 400M ||
        fail "mke2fs ext4"
    e2fsck -fyD "$IMG" >/dev/null 2>&1   # index the directories (htree)
fi
debugfs -R "htree /big" "$IMG" 2>/dev/null | grep -q "Root node dump" ||
    fail "ext4.img: /big is not an htree directory (test setup)"
rm -rf "$W/full"
step "ext4.img built"
check "$IMG"
exp_uuid=$(blkid -o value -s UUID "$IMG" 2>/dev/null || true)
got=$("$B/tests/fs-dump" --info "$IMG")
echo "$got" | grep -qx "label=xcheck label" || fail "label: $got"
[ -z "$exp_uuid" ] || echo "$got" | grep -qx "uuid=$exp_uuid" || fail "uuid: $got, blkid $exp_uuid"
step "ext4.img checked"

# The same image through qcow2, VMDK and VHD: identical answers.
if command -v qemu-img >/dev/null 2>&1; then
    listing "$IMG" > "$W/raw.json"
    # Under the sanitizers (scripts/test sets IMGFMT_SANITIZED) one wrapper:
    # hashing 52,000 files four times there costs minutes and tests no more
    # of our code than once (the gcc build runs all three).
    wrappers="qcow2 vmdk vpc"
    [ -n "${IMGFMT_SANITIZED:-}" ] && wrappers=qcow2
    for f in $wrappers; do
        qemu-img convert -f raw -O $f "$IMG" "$W/wrapped.$f" || { fail "qemu-img -O $f"; continue; }
        listing "$W/wrapped.$f" > "$W/wrapped.json" || fail "$f: our listing failed"
        cmp -s "$W/raw.json" "$W/wrapped.json" && echo "ok: ext4.img as $f" ||
            fail "ext4.img as $f: listing differs from the raw image's"
        rm -f "$W/wrapped.$f"
    done
else
    echo "note: qemu-img not found: the qcow2/vmdk/vhd wrapping is skipped"
fi
rm -f "$IMG"
step "wrapped images checked"

# ---- a fragmented file with a depth-3 extent tree (1 KiB blocks) ----
mkdir -p "$W/frag"
head -c $((36000 * 1024)) /dev/urandom > "$W/frag/punched"
IMG="$W/frag.img"
mke2fs -q -F -t ext4 -b 1024 -d "$W/frag" "$IMG" 56M || fail "mke2fs frag"
# Free every other block of the file, then write a second file into the holes.
python3 -c 'for i in range(1, 36000, 2): print("punch /punched %d %d" % (i, i))' > "$W/punch.cmd"
head -c $((9000 * 1024 + 123)) /dev/urandom > "$W/written"
echo "write $W/written /written" >> "$W/punch.cmd"
debugfs -w -f "$W/punch.cmd" "$IMG" >/dev/null 2>&1 || fail "debugfs punch/write"
debugfs -R "ex /punched" "$IMG" 2>/dev/null | grep -q '^ 2/ 3' ||
    fail "frag.img: /punched has no depth-3 extent tree (test setup)"
debugfs -R "ex /written" "$IMG" 2>/dev/null | grep -q '^ 1/ ' ||
    fail "frag.img: /written is not fragmented (test setup)"
check "$IMG"
rm -rf "$IMG" "$W/frag" "$W/written"
step "frag.img checked"

# ---- ext2 / ext3 (block maps), and ext4 feature variants ----
variant() {  # variant NAME MKE2FS-ARGS...
    local name=$1; shift
    IMG="$W/$name.img"
    mke2fs -q -F "$@" -d "$T/small" "$IMG" 32M 2>/dev/null || { fail "mke2fs $name: $*"; return; }
    check "$IMG"
    rm -f "$IMG"
}
variant ext2-1k -t ext2 -b 1024
variant ext3-4k -t ext3
variant ext4-inline -t ext4 -O inline_data -I 256
variant ext4-128 -t ext4 -I 128 -O ^metadata_csum,^64bit
variant ext4-metabg -t ext4 -O meta_bg,^resize_inode -b 1024 -g 1024
variant ext4-sparse2 -t ext4 -O sparse_super2
variant ext4-noflex -t ext4 -O ^flex_bg,^has_journal
variant ext4-bigalloc -t ext4 -O bigalloc -C 16384
variant ext4-64k -t ext4 -b 65536
# meta_bg with inodes in later meta groups (8 inodes per 256-block group,
# 16 descriptors per block: 300 files reach groups past 16).
mkdir -p "$W/many"
for i in $(seq 1 300); do echo "$i" > "$W/many/f$i"; done
IMG="$W/metabg-many.img"
mke2fs -q -F -t ext4 -O meta_bg,^resize_inode -b 1024 -g 256 -N 512 -d "$W/many" "$IMG" 32M ||
    fail "mke2fs metabg-many"
check "$IMG"
rm -rf "$IMG" "$W/many"
step "variants checked"

# ---- files over 4 GiB: ext2 triple-indirect and ext4 extents ----
S="$W/sparse"
mkdir -p "$S"
rnd_at() { head -c "$3" /dev/urandom | dd of="$1" bs=64K oflag=seek_bytes seek="$2" conv=notrunc status=none; }
G=$((1 << 30))
truncate -s $((5 * G + 12345)) "$S/huge"
for o in 0 5000 100000 $((10 << 20)) $((70 << 20)) $G $((4 * G - 3000)) $((5 * G))
do rnd_at "$S/huge" "$o" 8192; done
echo small > "$S/small"
for fsargs in "ext2 -b 1024" "ext4"; do
    set -- $fsargs
    IMG="$W/huge-$1.img"
    mke2fs -q -F -t "$@" -d "$S" "$IMG" 64M || { fail "mke2fs huge $1"; continue; }
    check "$IMG" --no-hash
    for o in 0 5000 100000 $((10 << 20)) $((70 << 20)) $G $((4 * G - 3000)) $((5 * G)); do
        range "$IMG" /huge "$S/huge" $((o > 1000 ? o - 1000 : 0)) 10192
    done
    range "$IMG" /huge "$S/huge" $((2 * G)) $((1 << 20))          # a hole
    range "$IMG" /huge "$S/huge" $((5 * G)) 12345                  # the tail
    rm -f "$IMG"
done

echo "checked $NIMG images, $NFAIL disagreements"
[ "$NFAIL" -eq 0 ]
