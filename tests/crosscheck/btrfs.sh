#!/usr/bin/env bash
# fs-btrfs: btrfs images built at test time by the real tools -- mkfs.btrfs
# --rootdir from an unpacked Debian package tree, and the kernel through a
# loop mount (openSUSE-like and Fedora-like subvolumes, a set-default
# snapshot, compress=zstd/lzo/zlib, sparse, fallocate, hard links, long
# and UTF-8 names, DUP and single metadata, 16 and 64 KiB nodes, crc32c
# and xxhash) -- read with imgfmt-ls and
# imgfmt-cat and compared with two oracles: the kernel's view through a
# read-only loop mount (type, mode, uid, gid, size, mtime, inode, nlink,
# symlink targets, sha256 of every file) and `btrfs restore` (sha256 of
# every file, symlink targets).  Exit 77 without mkfs.btrfs, root or loop
# devices.
set -u
command -v mkfs.btrfs >/dev/null 2>&1 || { echo "mkfs.btrfs not found: skipped"; exit 77; }
command -v btrfs >/dev/null 2>&1 || { echo "btrfs not found: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "not root (loop mounts): skipped"; exit 77; }
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
LS=$B/tools/imgfmt-ls
CAT=$B/tools/imgfmt-cat
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-btrfs.XXXXXX")
M=$W/mnt
mkdir -p "$M"
cleanup() { mountpoint -q "$M" && umount "$M"; rm -rf "$W"; }
trap cleanup EXIT
NFAIL=0
NFILES=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }

mount_or_skip() {   # mount_or_skip OPTS IMAGE
    mount -o "loop,$1" "$2" "$M" 2>"$W/mount.err" && return 0
    echo "loop mount failed ($(cat "$W/mount.err")): skipped"
    exit 77
}

# Real content: Debian packages unpacked (cache never committed).
debs_dir() {
    if [ -x "$HERE/fetch-debs.sh" ]; then
        "$HERE/fetch-debs.sh"
        return
    fi
    local d=${IMGFMT_CACHE:+$IMGFMT_CACHE/debs}
    d=${d:-/var/cache/imgfmt-debs}
    mkdir -p "$d" && cd "$d" || return 1
    if [ ! -f .complete ]; then
        local pkgs="tzdata bash coreutils findutils sed grep base-files libc-bin"
        apt-get download $pkgs >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get download $pkgs >/dev/null 2>&1; } ||
            return 1
        touch .complete
    fi
    echo "$d"
}

SRC=$W/src
mkdir -p "$SRC"
if debs=$(debs_dir); then
    for p in tzdata sed grep; do
        deb=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -1)
        [ -n "$deb" ] && dpkg-deb -x "$deb" "$SRC"
    done
else
    echo "note: Debian packages unavailable; generated content only"
fi
# What packages lack: hard links, long and UTF-8 names, odd modes.
mkdir -p "$SRC/extra/sub dir"
seq 1 20000 > "$SRC/extra/numbers.txt"
ln "$SRC/extra/numbers.txt" "$SRC/extra/sub dir/numbers-hardlink"
printf 'utf8\n' > "$SRC/extra/$(printf 'gr\xc3\xbc\xc3\x9fe-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80')"
printf 'long\n' > "$SRC/extra/$(printf 'L%.0s' $(seq 1 255))"
ln -s ../extra/numbers.txt "$SRC/extra/sub dir/rel-link"
ln -s /nonexistent/target "$SRC/extra/dangling"
chmod 4755 "$SRC/extra/numbers.txt"; chmod 1777 "$SRC/extra/sub dir"
chown 1234:5678 "$SRC/extra/dangling" 2>/dev/null || true

# "path type mode uid gid size mtime ino nlink sha256-or-target" lines.
ours() {   # ours IMAGE
    "$LS" -R --checksum=sha256 --output=json --fs=0 "$1" / | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    extra = e.get("sha256", e.get("target", "-"))
    print(e["path"], e["type"], e["mode"], e["uid"], e["gid"], e["size"], e["mtime"],
          e["ino"], e["nlink"], extra)' | LC_ALL=C sort
}
kernel() {   # kernel MOUNTPOINT
    python3 - "$1" <<'EOF' | LC_ALL=C sort
import hashlib, os, stat, sys
root = sys.argv[1]
names = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
         stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo",
         stat.S_IFSOCK: "socket"}
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        extra = "-"
        if stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for b in iter(lambda: f.read(1 << 20), b""):
                    h.update(b)
            extra = h.hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        rel = "/" + os.path.relpath(p, root)
        mtime = int(st.st_mtime)
        if st.st_ino == 2 and stat.S_ISDIR(st.st_mode):
            mtime = 0   # a snapshot's stand-in for a nested subvolume: stamped "now"
        print(rel, names[stat.S_IFMT(st.st_mode)], stat.S_IMODE(st.st_mode), st.st_uid,
              st.st_gid, st.st_size, mtime, st.st_ino, st.st_nlink, extra)
EOF
}

# Compare imgfmt-ls of IMAGE with the kernel's plain read-only mount.
compare_kernel() {   # compare_kernel NAME IMAGE [MOUNTOPTS]
    local name=$1 img=$2
    ours "$img" > "$W/$name.ours" || fail "$name: imgfmt-ls failed"
    mount_or_skip "ro${3:+,$3}" "$img"
    kernel "$M" > "$W/$name.kernel"
    umount "$M"
    local n; n=$(wc -l < "$W/$name.kernel")
    if ! diff -u "$W/$name.kernel" "$W/$name.ours" > "$W/$name.diff"; then
        fail "$name: imgfmt-ls differs from the kernel's view"
        head -20 "$W/$name.diff"
    else
        echo "ok: $name: $n entries agree with the kernel"
    fi
    NFILES=$((NFILES + n))
}

# Compare with btrfs restore of subvolume ID: every file's sha256 and
# symlink target against our listing NAME.ours (the subvolume's files
# under PREFIX in it).
compare_restore() {   # compare_restore NAME IMAGE ID LISTING [PREFIX]
    local name=$1 img=$2 out=$W/restore-$1
    mkdir -p "$out"
    btrfs restore -S -x -r "$3" "$img" "$out" > /dev/null 2>&1 ||
        { fail "$name: btrfs restore failed"; return; }
    if python3 - "$out" "$W/$4.ours" "${5:-}" > "$W/$name.restore" <<'EOF'
import hashlib, os, sys
out, listing, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
ours = {}
for line in open(listing, encoding="utf-8", errors="surrogateescape"):
    f = line.rstrip("\n").split(" ")
    path, rest = " ".join(f[:-9]), f[-9:]   # names may hold spaces
    ours[path] = (rest[0], rest[-1])
n = bad = 0
for d, dirs, files in os.walk(out):
    for fn in files:
        p = os.path.join(d, fn)
        rel = prefix + "/" + os.path.relpath(p, out)
        n += 1
        if os.path.islink(p):
            want = ("symlink", os.readlink(p))
        else:
            with open(p, "rb") as fh:
                want = ("file", hashlib.sha256(fh.read()).hexdigest())
        if ours.get(rel) != want:
            bad += 1
            if bad <= 5:
                print("  %s: restore %s, ours %s" % (rel, want, ours.get(rel)), file=sys.stderr)
print(n)
sys.exit(1 if bad or n == 0 else 0)
EOF
    then
        echo "ok: $name: $(cat "$W/$name.restore") files agree with btrfs restore"
    else
        fail "$name: differs from btrfs restore"
    fi
}

# 1. mkfs.btrfs --rootdir: DUP metadata (the default); single metadata
#    with 64 KiB nodes and xxhash checksums (which we do not verify).
for v in "dup:-m dup" "single:-m single -n 65536 --csum xxhash"; do
    name=rootdir-${v%%:*}
    img=$W/$name.img
    truncate -s 300M "$img"
    # shellcheck disable=SC2086 # the options are words
    mkfs.btrfs -q ${v#*:} -L "$name" --rootdir "$SRC" "$img" > /dev/null ||
        { fail "mkfs.btrfs --rootdir ${v#*:}"; continue; }
    compare_kernel "$name" "$img"
done
compare_restore rootdir "$W/rootdir-dup.img" 5 rootdir-dup
uuid=$(btrfs inspect-internal dump-super "$W/rootdir-dup.img" | awk '$1 == "fsid" {print $2}')
"$B/tools/imgfmt-ls" --fs=list --output=json "$W/rootdir-dup.img" | grep -q "$uuid" ||
    fail "rootdir: fsid $uuid not reported"

# 2. openSUSE-like: @, @/home, @/.snapshots/1/snapshot as the default;
#    files written through compress=zstd, lzo, zlib.
img=$W/suse.img
truncate -s 300M "$img"
mkfs.btrfs -q -L suse "$img" > /dev/null
mount_or_skip "" "$img"
btrfs -q subvolume create "$M/@"
btrfs -q subvolume create "$M/@/home"
mkdir -p "$M/@/.snapshots/1"
btrfs -q subvolume create "$M/@/.snapshots/1/snapshot"
snap=$M/@/.snapshots/1/snapshot
cp -a "$SRC/." "$snap/"
seq 1 100000 > "$M/@/home/numbers.txt"
truncate -s 10M "$snap/sparse.img"
printf 'middle\n' | dd of="$snap/sparse.img" bs=1 seek=5000000 conv=notrunc status=none
fallocate -l 1M "$snap/prealloc.bin"
printf 'in prealloc\n' | dd of="$snap/prealloc.bin" bs=1 seek=300000 conv=notrunc status=none
for c in zstd lzo zlib; do
    mount -o "remount,compress=$c" "$M"
    mkdir -p "$snap/$c"
    cp -a "$SRC/usr/share/zoneinfo/." "$snap/$c/" 2>/dev/null || cp -a "$SRC/extra/." "$snap/$c/"
    seq 1 200000 > "$snap/$c/compressible.txt"
    yes "$c inline" | head -c 2000 > "$snap/$c/small.txt"
    sync
done
btrfs -q subvolume snapshot "$M/@" "$M/@/.snapshots/2"   # nested entries: empty dirs
id=$(btrfs subvolume list "$M" | awk '$NF == "@/.snapshots/1/snapshot" {print $2}')
btrfs -q subvolume set-default "$id" "$M"
umount "$M"
compare_kernel suse-default "$img"
# The compressed extents really are there (else the test proves less).
btrfs inspect-internal dump-tree -t "$id" "$img" > "$W/suse.tree"
for c in "1 (zlib)" "2 (lzo)" "3 (zstd)"; do
    n=$(grep -c "compression $c" "$W/suse.tree")
    [ "$n" -gt 0 ] && echo "ok: suse-default: $n extents with compression $c" ||
        fail "suse-default: no extent with compression $c"
done
grep -q "type 2 (prealloc)" "$W/suse.tree" || fail "suse-default: no prealloc extent"
compare_restore suse-default "$img" "$id" suse-default
# @/home as the default: what mount -o subvol=@/home shows.
mount_or_skip "" "$img"
home=$(btrfs subvolume list "$M" | awk '$NF == "@/home" {print $2}')
btrfs -q subvolume set-default "$home" "$M"; umount "$M"
compare_kernel suse-home "$img"
# The whole tree from the top level (crossing every subvolume).
mount_or_skip "" "$img"; btrfs -q subvolume set-default 5 "$M"; umount "$M"
compare_kernel suse-top "$img"

# 3. Fedora-like: top-level subvolumes root and home, default 5.
img=$W/fedora.img
truncate -s 300M "$img"
mkfs.btrfs -q -L fedora "$img" > /dev/null
mount_or_skip "compress=zstd:1" "$img"
btrfs -q subvolume create "$M/root"
btrfs -q subvolume create "$M/home"
cp -a "$SRC/." "$M/root/"
mkdir -p "$M/home/user"
seq 1 50000 > "$M/home/user/notes.txt"
rootid=$(btrfs subvolume list "$M" | awk '$NF == "root" {print $2}')
umount "$M"
compare_kernel fedora "$img"
compare_restore fedora-root "$img" "$rootid" fedora /root

echo "$NFILES entries compared with the kernel in ${SECONDS}s"
[ "$NFAIL" -eq 0 ] || { echo "$NFAIL failures"; exit 1; }
