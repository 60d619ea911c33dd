#!/usr/bin/env bash
# Make the committed NTFS fixtures (testdata/ntfs-*.img.gz) with the real
# tools: mkntfs (ntfs-3g package) formats, ntfs-3g's FUSE driver populates
# (mount -o loop; needs root and /dev/fuse), setfattr/setxattr set NTFS
# attributes and reparse data through ntfs-3g's xattr interface.  Next to
# each image, NAME.sha256 lists every file's checksum as the FUSE mount
# reads it: the oracle tests/test-ntfs.c compares against.
#   tests/gen/mkntfs-fixtures.sh [OUTDIR]     (default: testdata)
set -eu
out=${1:-testdata}
tmp=$(mktemp -d)
mnt=$tmp/mnt
mkdir "$mnt"
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$tmp"; }
trap cleanup EXIT

# Deterministic pseudo-random bytes: N KiB from seed S (incompressible).
prand() { openssl enc -aes-128-ctr -nosalt -pass "pass:$2" -pbkdf2 -in /dev/zero 2>/dev/null |
          head -c $(( $1 * 1024 )); }
# N KiB of text unique to seed S (distinct lines, but gzip keeps it small).
text() { seq -f "$2 line %07g" 1 100000 | head -c $(( $1 * 1024 )); }

# A fresh volume NAME (label LABEL) mounted on $mnt.  An empty 12 MiB
# volume is already ~136 KiB gzipped ($UpCase, $AttrDef, $LogFile).
new_volume() {
    img=$tmp/$1.img
    truncate -s 12M "$img"
    mkntfs -F -Q -s 512 -c 4096 -p 0 -H 0 -S 0 -L "$2" "$img" >/dev/null 2>&1
    ntfs-3g -o loop,compression "$img" "$mnt"
}
finish_volume() {
    [ "${2:-}" = nosums ] ||
    (cd "$mnt" && find . -type f ! -name 'wof-*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
        sed 's|  \./|  /|' > "$out/$1.sha256"
    umount "$mnt"
    gzip -9n < "$img" > "$out/$1.img.gz"
    ls -l "$out/$1.img.gz"
}

# ntfs-bigdir: /big with enough entries for a two-level $INDEX_ALLOCATION tree.
new_volume ntfs-bigdir bigdir
mkdir "$mnt/big"
for i in $(seq -w 1 1000); do
    : > "$mnt/big/entry-$i-with-a-name-long-enough-to-fill-index-blocks-quickly"
done
finish_volume ntfs-bigdir nosums

# ntfs-fragmft: a fragmented $MFT.  Fill the volume with 64 KiB files,
# delete every other one, then create 600 files: the $MFT grows into the
# holes (its runlist in record 0 then has dozens of runs).
new_volume ntfs-fragmft fragmft
i=0
while head -c 65536 /dev/zero > "$mnt/pad$i" 2>/dev/null; do i=$((i + 1)); done
rm -f "$mnt/pad$i"
for j in $(seq 0 2 $i); do rm -f "$mnt/pad$j"; done
mkdir "$mnt/many"
for k in $(seq -w 1 600); do printf '%s\n' "$k" > "$mnt/many/n$k"; done
finish_volume ntfs-fragmft nosums

# ntfs-basic: one of everything else.
new_volume ntfs-basic fixture
printf 'hello, ntfs\n' > "$mnt/hello.txt"                 # resident data
setfattr -n user.secret -v "alternate stream" "$mnt/hello.txt"   # an ADS, ignored
mkdir "$mnt/Docs"
printf 'Mixed Case\n' > "$mnt/Docs/ReadMe.TXT"           # lookup "readme.txt"
prand 2 1 > "$mnt/Docs/random.bin"                       # non-resident, contiguous
# A fragmented file: two files grown in turns, 4 KiB at a time.
for i in $(seq 1 32); do
    text 4 "a$i" >> "$mnt/frag.bin"
    text 4 "b$i" >> "$mnt/other.bin"
done
# A sparse file: 4 MiB with data at 1 MiB and in the last 4 KiB.
truncate -s 4M "$mnt/sparse.bin"
text 8 s1 | dd of="$mnt/sparse.bin" bs=4096 seek=256 conv=notrunc status=none
text 4 s2 | dd of="$mnt/sparse.bin" bs=4096 seek=1023 conv=notrunc status=none
# LZNT1: files created in a directory with the compressed attribute.
mkdir "$mnt/comp"
setfattr -n system.ntfs_attrib_be -v 0x00000810 "$mnt/comp"
seq 1 5000 > "$mnt/comp/numbers.txt"
{ seq 1 3000; prand 2 c1; seq 1 3000; } > "$mnt/comp/mixed.bin"
# Hard links: one file with 31 names (its $FILE_NAMEs overflow the record:
# an $ATTRIBUTE_LIST).
mkdir "$mnt/links"
printf 'linked\n' > "$mnt/links/target"
for i in $(seq -w 1 30); do
    ln "$mnt/links/target" "$mnt/links/another-name-for-the-same-file-number-$i"
done
# Symlinks: ntfs-3g's own (Interix) and Windows reparse points.
ln -s ../hello.txt "$mnt/Docs/interix-link"
: > "$mnt/winlink"
mkdir "$mnt/junction"
python3 - "$mnt" <<'PY'
import os, struct, sys
def buf(tag, subst, prnt, flags=None):
    s, p = subst.encode('utf-16-le'), prnt.encode('utf-16-le')
    hdr = struct.pack('<HHHH', 0, len(s), len(s) + 2, len(p))
    if flags is not None:
        hdr += struct.pack('<I', flags)
    body = hdr + s + b'\0\0' + p + b'\0\0'
    return struct.pack('<IHH', tag, len(body), 0) + body
m = sys.argv[1]
os.setxattr(m + '/winlink', 'system.ntfs_reparse_data',
            buf(0xA000000C, '..\\hello.txt', '..\\hello.txt', 1))
os.setxattr(m + '/junction', 'system.ntfs_reparse_data',
            buf(0xA0000003, '\\??\\C:\\Docs', 'C:\\Docs'))
PY
# A WOF-compressed file (reparse tag 0x80000017, XPRESS4K): present, content
# refused; ntfs-3g cannot read it either, so it has no checksum.
printf 'wof\n' > "$mnt/wof-compressed.dll"
python3 - "$mnt" <<'PY'
import os, struct, sys
body = struct.pack('<IIII', 1, 2, 1, 0)
os.setxattr(sys.argv[1] + '/wof-compressed.dll', 'system.ntfs_reparse_data',
            struct.pack('<IHH', 0x80000017, len(body), 0) + body)
PY
# A hibernated Windows (Fast Startup) leaves hiberfil.sys starting "hibr".
{ printf 'hibr'; head -c 4092 /dev/zero; } > "$mnt/hiberfil.sys"
# A Win32 name with its DOS 8.3 alias (two index entries, listed once).
printf 'dos\n' > "$mnt/Long File Name.txt"
setfattr -n system.ntfs_dos_name -v "LONGFI~1.TXT" "$mnt/Long File Name.txt"
# UTF-8 names (one outside the BMP: a surrogate pair on disk).
printf 'u\n' > "$mnt/héllo wörld ✓.txt"
printf 'e\n' > "$mnt/😀.txt"
finish_volume ntfs-basic
