#!/usr/bin/env bash
# initramfs reader against GNU cpio: archives made by `cpio -o -H newc`
# (and -H crc), each compressed by the real gzip, xz, lzma, zstd, lz4 -l and
# bzip2 tools, behind an uncompressed early archive (as initramfs-tools and
# dracut lay them out), plus multi-segment and padded layouts.  Every name,
# mode, size and file sha256 our reader reports must equal what GNU cpio
# extracts.  Exit 77 when cpio is missing.
set -eu
B=${IMGFMT_BUILD:?}
dump="$B/tests/cpio-dump"
command -v cpio >/dev/null || { echo "cpio missing: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"

# A tree like an initramfs: directories, modules, a symlink, empty and big files.
mkdir -p tree/usr/lib/modules/6.1.0-13-amd64/kernel/drivers/block tree/etc tree/dev tree/bin
for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > "tree/usr/lib/modules/6.1.0-13-amd64/kernel/drivers/block/m$i.ko"; done
head -c 3000000 /dev/urandom > tree/bin/big            # crosses the 1 MiB buffers
printf 'kernel/drivers/block/virtio_blk.ko.zst:\n' > tree/usr/lib/modules/6.1.0-13-amd64/modules.dep
: > tree/etc/empty
ln -s usr/lib tree/lib
printf 'name with spaces\n' > 'tree/etc/a file'
printf 'utf8\n' > "tree/etc/$(printf 'caf\xc3\xa9')"
mkdir -p early/kernel/x86/microcode
head -c 5000 /dev/urandom > early/kernel/x86/microcode/GenuineIntel.bin

(cd tree && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > main.cpio
(cd tree && find . | LC_ALL=C sort | cpio -o -H crc --quiet) > main-crc.cpio
(cd early && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > early.cpio

# The oracle: what GNU cpio extracts, as "MODE SIZE SHA256|- NAME" sorted.
oracle() {  # archive (uncompressed, possibly several concatenated)...
    local d; d=$(mktemp -d -p "$W")
    for a in "$@"; do (cd "$d" && cpio -i -d --quiet --no-absolute-filenames < "$a"); done
    (cd "$d" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r f; do
        n=${f#./}
        m=$(stat -c '%f' "$f"); m=$(printf '%06o' $((16#$m)))
        if [ -L "$f" ]; then s=$(stat -c %s "$f"); h=-
        elif [ -d "$f" ]; then s=0; h=-
        else s=$(stat -c %s "$f"); h=$(sha256sum < "$f" | cut -d' ' -f1); fi
        echo "$m $s $h $n"
    done)
    rm -rf "$d"
}
ours() { "$dump" "$1" | grep -v '^segment ' | grep -v ' \.$' | LC_ALL=C sort -k4; }

want=$(oracle "$W/early.cpio" "$W/main.cpio" | LC_ALL=C sort -k4)
fail=0; n=0
check() {  # name file expected-segment-codecs
    n=$((n + 1))
    got=$(ours "$2") || { echo "FAIL $1: cpio-dump failed"; fail=$((fail + 1)); return; }
    if [ "$got" != "$want" ]; then
        echo "FAIL $1: listing differs"; diff <(echo "$want") <(echo "$got") | head -10
        fail=$((fail + 1)); return
    fi
    segs=$("$dump" "$2" | awk '/^segment/ {printf "%s%s", sep, $3; sep=","}')
    [ "$segs" = "$3" ] || { echo "FAIL $1: segments $segs, expected $3"; fail=$((fail + 1)); return; }
    echo "ok $1 ($segs)"
}

for c in "gzip -9n" "xz --check=crc32" "lzma" "zstd -q -19" "lz4 -l -q" "bzip2"; do
    name=${c%% *}
    $c < main.cpio > main.$name
    cat early.cpio main.$name > initrd.$name
    codec=$name; [ "$name" = lz4 ] && codec=lz4
    check "early+$name" initrd.$name "none,$codec"
done
# Uncompressed only, crc format, zero padding between segments, two
# compressed segments in a row (dracut's squash-less layout), gzip multi-member.
cat early.cpio main.cpio > initrd.plain;                 check plain initrd.plain "none"
cat early.cpio main-crc.cpio > initrd.crc;               check crc-format initrd.crc "none"
{ cat early.cpio; head -c 4096 /dev/zero; cat main.zstd; head -c 512 /dev/zero; } > initrd.pad
check zero-padding initrd.pad "none,zstd"
gzip -9n < early.cpio > early.gz
cat early.gz main.xz > initrd.two;                       check two-compressed initrd.two "gzip,xz"
cat early.gz main.gzip > initrd.multi;                   check gzip-members initrd.multi "gzip,gzip"

# Damage must be a clean error, never a crash: truncated streams, a bad header.
for name in gzip xz zstd lz4 bzip2 lzma; do
    f=initrd.$name; sz=$(stat -c %s $f)
    head -c $((sz - 2000)) $f > trunc.$name
    n=$((n + 1))
    if "$dump" trunc.$name >/dev/null 2>err.txt; then
        echo "FAIL truncated $name accepted"; fail=$((fail + 1))
    else echo "ok truncated $name: $(cat err.txt)"; fi
done
printf '070701XXXXXXXX' | cat - main.cpio > bad.cpio
n=$((n + 1))
if "$dump" bad.cpio >/dev/null 2>err.txt; then echo "FAIL bad header accepted"; fail=$((fail + 1))
else echo "ok bad header: $(cat err.txt)"; fi
(cd tree && find . | cpio -o -H odc --quiet) > odc.cpio
n=$((n + 1))
if "$dump" odc.cpio >/dev/null 2>err.txt && ! grep -q odc err.txt; then echo "FAIL odc not named"; fail=$((fail + 1))
else echo "ok odc: $(cat err.txt)"; fi

echo "$((n - fail)) of $n initramfs checks passed"
[ "$fail" -eq 0 ]
