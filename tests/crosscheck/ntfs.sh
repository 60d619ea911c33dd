#!/usr/bin/env bash
# Cross-check the NTFS driver against ntfs-3g.  A volume made by mkntfs is
# populated through ntfs-3g's FUSE mount (-o loop,compression): a directory
# of 3000 files (a deep $I30 B+ tree), a fragmented 8 MiB file, a file in
# 1400 fragments (its $DATA over several records), a sparse
# file, LZNT1-compressed files (stored, compressed and sparse units), hard
# links, symlinks (ntfs-3g's own and a Windows reparse symlink), UTF-8 and
# 255-character names, an alternate data stream.  Oracles:
#   - the FUSE view: every path and type, every file's size, link count and
#     sha256, every symlink target;
#   - ntfsls -R: every directory's names (as sets: ntfsls lists the index
#     root, then the index blocks in disk order; we list in B+ tree order);
#   - ntfscat: the sha256 of a sample of files (every 100th plus all the
#     special ones);
#   - lookups: files opened by upper-cased paths (imgfmt-cat) read the same.
# Our side is imgfmt-ls -R --checksum=sha256 --output=json and imgfmt-cat.
# Without a usable FUSE mount the volume is populated with ntfscp only and
# the mount comparisons are skipped.  Exit 77 without mkntfs/ntfsls/ntfscat.
set -u
for t in mkntfs ntfsls ntfscat ntfscp; do
    command -v $t >/dev/null 2>&1 || { echo "$t not found: skipped"; exit 77; }
done
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
LS="$B/tools/imgfmt-ls"
CAT="$B/tools/imgfmt-cat"
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-ntfs.XXXXXX")
M=$W/mnt
mkdir "$M"
trap 'mountpoint -q "$M" && umount "$M"; [ -n "${KEEP:-}" ] && cp "$IMG" "$KEEP"; rm -rf "$W"' EXIT
NFAIL=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
prand() { openssl enc -aes-128-ctr -nosalt -pass "pass:$2" -pbkdf2 -in /dev/zero 2>/dev/null |
          head -c "$1"; }

IMG=$W/vol.img
truncate -s 96M "$IMG"
mkntfs -F -Q -s 512 -c 4096 -L xcheck "$IMG" >/dev/null 2>&1 || { fail mkntfs; exit 1; }

populate_mounted() {
    mkdir "$M/many" "$M/comp" "$M/links" "$M/uni"
    for i in $(seq 1 3000); do printf 'file %d\n' "$i" > "$M/many/f-$i.txt"; done
    for i in $(seq 1 32); do             # two files grown in turns: fragmented
        prand 131072 "a$i" >> "$M/frag-large.bin"
        prand 131072 "b$i" >> "$M/frag-other.bin"
    done
    truncate -s 4M "$M/frag-other.bin"
    truncate -s 20M "$M/sparse.bin"
    prand 65536 s | dd of="$M/sparse.bin" bs=65536 seek=100 conv=notrunc status=none
    setfattr -n system.ntfs_attrib_be -v 0x00000810 "$M/comp"
    seq 1 200000 > "$M/comp/text.txt"
    { seq 1 20000; prand 200000 c; seq 1 20000; } > "$M/comp/mixed.bin"
    truncate -s 1M "$M/comp/holes.bin"
    seq 1 1000 | dd of="$M/comp/holes.bin" bs=4096 seek=100 conv=notrunc status=none
    echo linked > "$M/links/target"
    for i in $(seq 1 20); do ln "$M/links/target" "$M/links/hard-link-with-a-long-name-$i"; done
    ln -s ../links/target "$M/uni/rel-link"
    : > "$M/uni/reparse-link"
    python3 - "$M/uni/reparse-link" <<'PY'
import os, struct, sys
s = '..\\links\\target'.encode('utf-16-le')
body = struct.pack('<HHHHI', 0, len(s), len(s) + 2, len(s), 1) + s + b'\0\0' + s + b'\0\0'
os.setxattr(sys.argv[1], 'system.ntfs_reparse_data',
            struct.pack('<IHH', 0xA000000C, len(body), 0) + body)
PY
    printf 'x\n' > "$M/uni/ünïcödé ✓ 日本語 😀.txt"
    printf 'y\n' > "$M/uni/$(printf 'L%.0s' $(seq 1 255))"
    echo dos > "$M/uni/Long Name With Alias.txt"
    setfattr -n system.ntfs_dos_name -v "LONGNA~1.TXT" "$M/uni/Long Name With Alias.txt"
    echo main > "$M/uni/with-stream"
    setfattr -n user.ads -v "not content" "$M/uni/with-stream"
    # Last, on a full volume: 1500 free 4 KiB holes, then one file written
    # into them.  Its runlist outgrows the record: $DATA spreads over
    # extension records through an $ATTRIBUTE_LIST.
    python3 - "$M" <<'PY'
import os, sys
m = sys.argv[1]
os.mkdir(m + '/holes')
for i in range(3000):
    with open('%s/holes/h%d' % (m, i), 'wb') as f:
        f.write(b'h' * 4096)
n = 0
try:
    while True:
        with open('%s/pad%d' % (m, n), 'wb') as f:
            n += 1
            f.write(b'\0' * (1 << 20))
except OSError:
    pass
for i in range(1, 3000, 2):
    os.unlink('%s/holes/h%d' % (m, i))
with open(m + '/frag-huge.bin', 'wb') as f:
    for i in range(1400):
        f.write(os.urandom(4096))
for i in range(n):
    os.unlink('%s/pad%d' % (m, i))
for i in range(0, 3000, 2):
    os.unlink('%s/holes/h%d' % (m, i))
PY
}

populate_ntfscp() {
    prand 300000 p > "$W/src"
    ntfscp -f "$IMG" "$W/src" /plain.bin >/dev/null 2>&1 || fail ntfscp
    seq 1 1000 > "$W/src2"
    ntfscp -f "$IMG" "$W/src2" /numbers.txt >/dev/null 2>&1 || fail ntfscp
}

MOUNTED=0
if [ "$(id -u)" = 0 ] && command -v ntfs-3g >/dev/null && command -v setfattr >/dev/null &&
   ntfs-3g -o loop,compression "$IMG" "$M" 2>/dev/null; then
    MOUNTED=1
    populate_mounted
    # Remount: the kernel cached reparse-link as the regular file it was
    # created as, and reports EIO when ntfs-3g now calls it a symlink.
    umount "$M"
    ntfs-3g -o ro,loop "$IMG" "$M" || fail "ntfs-3g remount"
    # The FUSE view: path type size nlink sha256-or-target.
    (cd "$M" && find . -mindepth 1 -printf '%P\t%y\t%s\t%n\t%l\n') | LC_ALL=C sort > "$W/find"
    (cd "$M" && find . -type f -print0 | xargs -0 sha256sum) |
        sed 's|  \./|\t|' | awk -F'\t' '{print $2 "\t" $1}' | LC_ALL=C sort > "$W/fuse-sha"
    umount "$M"
    command -v ntfsinfo >/dev/null &&
        [ "$(ntfsinfo -F /frag-huge.bin "$IMG" 2>/dev/null | grep -c 'Dumping attribute \$DATA')" -lt 2 ] &&
        echo "note: ntfs-3g kept frag-huge.bin's \$DATA in one record this time" &&
        ntfsinfo -v -F /frag-huge.bin "$IMG" | grep -cE '^\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x' 
else
    echo "no ntfs-3g FUSE mount: populating with ntfscp, mount comparisons skipped"
    populate_ntfscp
fi

# Our view, as "path type size nlink sha256-or-target" lines.
"$LS" -R --checksum=sha256 --output=json --fs=0 "$IMG" > "$W/ls.json" 2> "$W/ls.err" ||
    { cat "$W/ls.err"; fail "imgfmt-ls failed"; }
grep -v 'warning:' "$W/ls.err" && fail "imgfmt-ls errors"
python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    x = e.get("sha256", e.get("target", "-"))
    size = e["size"] if e["type"] == "file" else 0
    print("%s\t%s\t%d\t%d\t%s" % (e["path"], e["type"], size, e["nlink"], x))
' "$W/ls.json" > "$W/walk"
NFILES=$(awk -F'\t' '$2 == "file"' "$W/walk" | wc -l)

if [ $MOUNTED = 1 ]; then
    # Paths and types.
    awk -F'\t' '{t = $2 == "f" ? "file" : $2 == "d" ? "dir" : $2 == "l" ? "symlink" : $2;
                 print $1 "\t" t}' "$W/find" > "$W/fuse-types"
    awk -F'\t' '{print substr($1, 2) "\t" $2}' "$W/walk" | LC_ALL=C sort > "$W/our-types"
    diff "$W/fuse-types" "$W/our-types" > "$W/d" || { head "$W/d"; fail "paths/types differ"; }
    # Files: size, nlink, sha256.
    # ntfs-3g counts a DOS alias as a link (the record's link count); we
    # count the names a listing shows, as Windows does: 1 for that file.
    awk -F'\t' '$2 == "f" {n = $1 ~ /Long Name With Alias/ ? 1 : $4; print $1 "\t" $3 "\t" n}' "$W/find" |
        LC_ALL=C join -t $'\t' - "$W/fuse-sha" > "$W/fuse-files"
    awk -F'\t' '$2 == "file" {print substr($1, 2) "\t" $3 "\t" $4 "\t" $5}' "$W/walk" |
        LC_ALL=C sort > "$W/our-files"
    diff "$W/fuse-files" "$W/our-files" > "$W/d" || { head "$W/d"; fail "file contents differ"; }
    # Symlink targets.
    awk -F'\t' '$2 == "l" {print $1 "\t" $5}' "$W/find" > "$W/fuse-links"
    awk -F'\t' '$2 == "symlink" {print substr($1, 2) "\t" $5}' "$W/walk" |
        LC_ALL=C sort > "$W/our-links"
    diff "$W/fuse-links" "$W/our-links" > "$W/d" || { head "$W/d"; fail "symlinks differ"; }
    [ "$(wc -l < "$W/fuse-links")" = 2 ] || fail "expected 2 symlinks"
    awk -F'\t' '$1 ~ /Long Name With Alias/ && $4 == 2 {ok = 1} END {exit !ok}' "$W/find" ||
        fail "ntfs-3g no longer counts the DOS alias as a link"
    [ "$NFILES" -ge 3020 ] || fail "only $NFILES files"
fi

# ntfsls: each directory's names.
ntfsls -R "$IMG" | awk '/^\/.*:$/ {d = substr($0, 1, length($0) - 1); next}
                        NF && $0 != "." && $0 != ".." {print d "\t" $0}' > "$W/ls-names"
awk -F'\t' '{p = $1; n = p; sub(/.*\//, "", n); d = p; sub(/\/[^\/]*$/, "", d);
             if (d == "") d = "/"; print d "\t" n}' "$W/walk" |
    LC_ALL=C sort > "$W/our-names"
LC_ALL=C sort "$W/ls-names" > "$W/ls-sorted"
diff "$W/ls-sorted" "$W/our-names" > "$W/d" || { head "$W/d"; fail "names differ from ntfsls"; }

# ntfscat on a sample; lookups through upper-cased paths.
n=0
while IFS=$'\t' read -r path type size nlink sum; do
    [ "$type" = file ] || continue
    n=$((n + 1))
    case "$path" in /many/*) [ $((n % 100)) = 0 ] || continue ;; esac
    c=$(ntfscat "$IMG" "$path" 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ "$c" = "$sum" ] || fail "$path: ntfscat $c, we $sum"
    u=$("$CAT" --fs=0 "$IMG" "$(printf '%s' "$path" | tr '[:lower:]' '[:upper:]')" |
        sha256sum | cut -d' ' -f1)
    [ "$u" = "$sum" ] || fail "$path: upper-case lookup read $u"
done < "$W/walk"

echo "ntfs: $(wc -l < "$W/walk") nodes, $NFILES files compared (mounted=$MOUNTED), $NFAIL failures"
[ $NFAIL = 0 ]
