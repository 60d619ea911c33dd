#!/usr/bin/env bash
# writer-hook.sh FILE QEMU_FMT [OUR_FMT]: the qcow2 writer checks for one
# image, called by lib.sh's check_image when writer.sh drives a reader
# script (IMGFMT_XC_HOOK).  Appends one line per check to $IMGFMT_XC_LOG:
#   ok NAME VARIANT LEN        predicted == produced == qemu-img's length,
#                              qemu-img check clean, qemu-img compare same,
#                              pipe (streaming writer) == file (one-pass)
#   FAIL NAME VARIANT REASON
#   skip NAME VARIANT REASON   an option set we refuse (UNSUPPORTED)
set -u
f=$1 qf=$2 of=${3:-}
B=${IMGFMT_BUILD:?}
LOG=${IMGFMT_XC_LOG:?}
name=$(basename "$f")
T=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-wh.XXXXXX")
trap 'rm -rf "$T"' EXIT
OF=()
[ -n "$of" ] && OF=(-f "$of")
if [ ! -e "$f" ]; then
    # The reader script failed to make it (reported by that script's own run).
    echo "skip $name all missing: the reader script did not create it" >> "$LOG"
    exit 0
fi

# one VARIANT [convert options...]
one() {
    local v=$1; shift
    local pred prod ql err
    # (no python here: it is called hundreds of times)
    if ! pred=$("$B/tools/imgfmt-info" "${OF[@]}" --measure "$@" --output=json "$f" 2>"$T/err" |
                sed -n 's/^ *"converted-size": \([0-9]*\),*$/\1/p') || [ -z "$pred" ]; then
        err=$(cat "$T/err")
        case $err in
        *"refcount table"*|*outgrows*|*"L1 entries"*)
            echo "skip $name $v ${err#*: }" >> "$LOG"; return;;
        esac
        echo "FAIL $name $v measure: $err" >> "$LOG"; return
    fi
    rm -f "$T/o.qcow2" "$T/q.qcow2"
    "$B/tools/imgfmt-convert" "${OF[@]}" -O qcow2 "$@" "$f" "$T/o.qcow2" 2>"$T/err" ||
        { echo "FAIL $name $v convert: $(cat "$T/err")" >> "$LOG"; return; }
    prod=$(stat -c %s "$T/o.qcow2")
    [ "$pred" = "$prod" ] || { echo "FAIL $name $v predicted $pred != produced $prod" >> "$LOG"; return; }
    qemu-img check -q "$T/o.qcow2" >"$T/err" 2>&1 ||
        { echo "FAIL $name $v qemu-img check: $(head -3 "$T/err" | tr '\n' ' ')" >> "$LOG"; return; }
    qemu-img compare -q -f "$qf" -F qcow2 "$f" "$T/o.qcow2" >"$T/err" 2>&1 ||
        { echo "FAIL $name $v qemu-img compare: $(head -2 "$T/err" | tr '\n' ' ')" >> "$LOG"; return; }
    # A file gets the one-pass writer, a pipe the streaming one: same bytes.
    "$B/tools/imgfmt-convert" "${OF[@]}" -O qcow2 "$@" "$f" - 2>/dev/null | cmp -s - "$T/o.qcow2" ||
        { echo "FAIL $name $v pipe output differs from file output" >> "$LOG"; return; }
    qemu-img convert -f "$qf" -O qcow2 "$@" "$f" "$T/q.qcow2" 2>"$T/err" ||
        { echo "FAIL $name $v qemu-img convert: $(cat "$T/err")" >> "$LOG"; return; }
    ql=$(stat -c %s "$T/q.qcow2")
    [ "$prod" = "$ql" ] || { echo "FAIL $name $v length $prod, qemu-img $ql" >> "$LOG"; return; }
    echo "ok $name $v $prod" >> "$LOG"
}

one default
vs=$(qemu-img info -f "$qf" --output=json "$f" | sed -n 's/^ *"virtual-size": \([0-9]*\),*$/\1/p' | head -1)
# -c, and one rotating non-default option set (compressed or not): for
# every image given with IMGFMT_XC_ALL=1 (writer.sh's own cases), else for
# one image in three (time), every image with IMGFMT_SLOW_TESTS=1.
sum=$(printf '%s' "$name" | cksum | cut -d' ' -f1)
if [ "${IMGFMT_XC_ALL:-0}" != 1 ] && [ "${IMGFMT_SLOW_TESTS:-0}" != 1 ] && [ $((sum % 3)) != 0 ]; then
    exit 0
fi
one "-c" -c
opts=("-o cluster_size=4k" "-o cluster_size=2M" "-o cluster_size=8k,refcount_bits=1"
      "-o compat=0.10" "-o cluster_size=1M,refcount_bits=64" "-o cluster_size=16k,refcount_bits=4"
      "-c -o cluster_size=4k" "-c -o cluster_size=2M" "-c -o cluster_size=16k,refcount_bits=2")
if [ "$vs" -le $((256 << 20)) ]; then
    opts+=("-o cluster_size=512" "-o cluster_size=2k" "-c -o cluster_size=1k")
fi
o=${opts[$((sum % ${#opts[@]}))]}
# shellcheck disable=SC2086
one "${o// /}" $o
exit 0
