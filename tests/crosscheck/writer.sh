#!/usr/bin/env bash
# Cross-check the qcow2 writer against qemu-img convert -O qcow2.
#  - docs/formats.md, Measured lengths cases built here (raw): the exact lengths of the table;
#  - every image the reader cross-check scripts generate (raw.sh, vhd.sh,
#    and whatever lands next: they are run with IMGFMT_XC_HOOK so lib.sh's
#    check_image hands each image to writer-hook.sh);
#  - per image: predicted == produced == qemu-img's length (default options),
#    qemu-img check clean, qemu-img compare identical, pipe output ==
#    file output; then -c and a rotating option set (cluster_size 512..2M,
#    compat, refcount_bits, with or without -c): same checks, and the same
#    length as qemu-img (same zlib), for our own cases and one reader image
#    in three (every image with IMGFMT_SLOW_TESTS=1);
#  - failures: unwritable destination, disk full (pipe into /dev/full, and a
#    file size limit), interrupted run, overwriting the source: non-zero
#    exit, no destination and no temporary file left.
# IMGFMT_SLOW_TESTS=1 adds the multi-GiB refcount block growth cases (E4, E9).
# Exits 77 (skip) without qemu-img.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
HOOK="$HERE/writer-hook.sh"
LOG="$W/writer.log"
: > "$LOG"
export IMGFMT_XC_LOG="$LOG"

mk() {  # name size [offset:len ...]  (pseudo-random data at offsets)
    local f="$W/$1.raw" size=$2; shift 2
    rm -f "$f"; truncate -s "$size" "$f"
    for seg in "$@"; do rnd "$f" "${seg%%:*}" "${seg##*:}"; done
    echo "$f"
}
# text FILE OFFSET LEN: compressible bytes
text() {
    yes 'Lorem ipsum dolor sit amet, consectetur adipiscing' | head -c "$3" |
        dd of="$1" bs=1M iflag=fullblock oflag=seek_bytes seek="$2" conv=notrunc status=none
}
# expect FILE LEN: our measure and qemu-img's output both have length LEN
expect() {
    local got
    got=$("$INFO" --measure --output=json "$1" | sed -n 's/^ *"converted-size": \([0-9]*\),*$/\1/p')
    NCHECKED=$((NCHECKED + 1))
    [ "$got" = "$2" ] || fail "$(basename "$1"): predicted $got, docs/formats.md says $2"
}

# ---- docs/formats.md, Measured lengths cases ---------------------------------------------
e1=$(mk e1 1M 0:1048576)
e2=$(mk e2 100M 10498048:4096 52428700:65537 104857088:512); one "$e2" 0
e3=$(mk e3 1G 0:65536 $((511 << 20)):$((3 << 20)) 1073741312:512)
e6=$(mk e6 1000000000 0:4096 999999000:1000)
e7=$(mk e7 327680512); for i in $(seq 0 97); do one "$e7" $(( (i * 3341077) % 327680000 )); done
for i in $(seq 0 20); do rnd "$e7" $((i * 15000000 + 7)) $((40000 + i * 3000)); done
e8=$(mk e8 64M 0:65536 $((20 << 20)):65536)
dd if=/dev/zero of="$e8" bs=1M seek=10 count=4 conv=notrunc status=none
e10=$(mk e10 1000001 0:100 999990:11)
e14=$(mk e14 0)
e15=$(mk e15 3 0:3)
expect "$e1" 1376256; expect "$e2" 655360; expect "$e3" 3670016; expect "$e6" 524288
expect "$e8" 458752; expect "$e10" 458752; expect "$e14" 196608; expect "$e15" 393216
r=$("$INFO" --measure --output=json "$e8" | sed -n 's/^ *"qemu-required": \([0-9]*\),*$/\1/p')
[ "$r" = 4653056 ] || fail "e8: qemu-required $r, qemu-img measure says 4653056"
r=$("$INFO" --measure --output=json "$e8" | sed -n 's/^ *"required": \([0-9]*\),*$/\1/p')
[ "$r" = 458752 ] || fail "e8: required (exact) $r, qemu-img convert gives 458752"
# compressed sources: text, text + random, unaligned, 3 L2 ranges
c1="$W/c1.raw"; rm -f "$c1"; truncate -s 1M "$c1"; text "$c1" 0 1048576
c2=$(mk c2 100M 0:4194304 $((50 << 20)):3000000); text "$c2" $((10 << 20)) $((6 << 20))
text "$c2" $((60 << 20)) 100000
c4="$W/c4.raw"; rm -f "$c4"; truncate -s 1000000000 "$c4"; text "$c4" 0 500000; text "$c4" 999500000 500000
c3=$(mk c3 1536M $((500 << 20)):$((4 << 20))); text "$c3" $((100 << 20)) $((6 << 20)); text "$c3" $((1100 << 20)) $((6 << 20))
own=("$e1" "$e2" "$e3" "$e6" "$e7" "$e8" "$e10" "$e14" "$e15" "$c1" "$c2" "$c3" "$c4")
if [ "${IMGFMT_SLOW_TESTS:-0}" = 1 ]; then
    e4=$(mk e4 3G 0:$((2200 << 20))); expect "$e4" 2307522560
    e9=$(mk e9 5G 0:1048576 $((100 << 20)):$((4300 << 20)) $((5119 << 20)):1048576)
    expect "$e9" 4512022528
    own+=("$e4" "$e9")
fi
for f in "${own[@]}"; do
    NCHECKED=$((NCHECKED + 1))
    IMGFMT_XC_ALL=1 "$HOOK" "$f" raw
    echo "ok: $(basename "$f") (writer)"
done
rm -f "$W"/*.raw

# ---- the images of the reader scripts ---------------------------------
for s in "$HERE"/*.sh; do
    case $(basename "$s") in lib.sh|writer.sh|writer-hook.sh) continue;; esac
    echo "== $(basename "$s") (images through the writer)"
    IMGFMT_XC_HOOK="$HOOK" bash "$s" > "$W/sub.log" 2>&1
    n=$(grep -c '^ok:' "$W/sub.log")
    NCHECKED=$((NCHECKED + n))
done

# ---- failures: nothing lost -------------------------------------------
src=$(mk fsrc 64M 0:$((8 << 20)))
leftovers() { ls -A "$1" | grep -E '\.tmp-' ; }
# unwritable destination (missing directory; as root, permissions do not stop us)
NCHECKED=$((NCHECKED + 1))
if "$CONVERT" -O qcow2 "$src" "$W/nodir/out.qcow2" 2>"$W/err"; then fail "missing directory: exit 0"; fi
grep -q "cannot create" "$W/err" || fail "missing directory: message $(cat "$W/err")"
mkdir -p "$W/ro"
if [ "$(id -u)" != 0 ]; then
    chmod 555 "$W/ro"
    NCHECKED=$((NCHECKED + 1))
    if "$CONVERT" -O qcow2 "$src" "$W/ro/out.qcow2" 2>/dev/null; then fail "read-only dir: exit 0"; fi
    chmod 755 "$W/ro"
fi
# disk full: a pipe into /dev/full
NCHECKED=$((NCHECKED + 1))
if "$CONVERT" -O qcow2 "$src" - > /dev/full 2>"$W/err"; then fail "/dev/full: exit 0"; fi
grep -q "No space left" "$W/err" || fail "/dev/full: message $(cat "$W/err")"
# disk full for a file: a 1 MiB file size limit (EFBIG instead of SIGXFSZ)
NCHECKED=$((NCHECKED + 1))
mkdir -p "$W/full"
if (trap '' XFSZ; ulimit -f 1024; exec "$CONVERT" -O qcow2 "$src" "$W/full/out.qcow2") 2>"$W/err"; then
    fail "file size limit: exit 0"
fi
[ -e "$W/full/out.qcow2" ] && fail "file size limit: destination left behind"
[ -n "$(leftovers "$W/full")" ] && fail "file size limit: temporary file left: $(leftovers "$W/full")"
# interrupted run: SIGINT in the middle of a larger conversion
NCHECKED=$((NCHECKED + 1))
big=$(mk big 2G 0:$((64 << 20)) $((1024 << 20)):$((64 << 20)))
mkdir -p "$W/int"
"$CONVERT" -O qcow2 -c --threads=1 "$big" "$W/int/out.qcow2" 2>"$W/err" &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
if wait "$pid"; then fail "SIGINT: exit 0 (conversion finished before the signal?)"; fi
[ -e "$W/int/out.qcow2" ] && fail "SIGINT: destination left behind"
[ -n "$(leftovers "$W/int")" ] && fail "SIGINT: temporary file left: $(leftovers "$W/int")"
grep -q interrupted "$W/err" || fail "SIGINT: message $(cat "$W/err")"
# the source is never overwritten
NCHECKED=$((NCHECKED + 1))
cp "$e1" "$W/self.raw" 2>/dev/null || mk self 1M 0:1048576 >/dev/null
h=$(sha256sum < "$W/self.raw")
if "$CONVERT" -O qcow2 "$W/self.raw" "$W/self.raw" 2>/dev/null; then fail "overwrite source: exit 0"; fi
[ "$h" = "$(sha256sum < "$W/self.raw")" ] || fail "overwrite source: source changed"
[ -n "$(leftovers "$W")" ] && fail "temporary files left in $W: $(leftovers "$W")"

# ---- tally ------------------------------------------------------------
while read -r st rest; do
    case $st in
    FAIL) fail "writer: $rest";;
    esac
done < "$LOG"
nimg=$(awk '$3 == "default"' "$LOG" | wc -l)
nok=$(awk '$1 == "ok" && $3 == "default"' "$LOG" | wc -l)
echo "writer: $nimg images; default options: $nok of them predicted == produced == qemu-img length, check clean, compare identical, pipe == file"
echo "writer: $(grep -c '^ok' "$LOG") checks ok, $(grep -c '^FAIL' "$LOG") failed, $(grep -c '^skip' "$LOG") skipped (option sets we refuse):"
grep '^skip' "$LOG" | head -20
grep '^FAIL' "$LOG" | head -40
finish
