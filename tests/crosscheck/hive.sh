#!/usr/bin/env bash
# Cross-check the REGF reader and imgfmt-reg against hivex, on hives built
# at test time by hivexregedit --merge (tests/gen/mkhive-reg.py: a SYSTEM
# hive with two control sets, viostor, a CriticalDeviceDatabase entry, a
# value of every type, UTF-16 names, data > 16 KiB, 3000 subkeys) onto
# hivex's `minimal` hive, plus hivex's fixtures.
#  1. For every key of each hive (the subtree export from the root), the
#     output of `imgfmt-reg --hive` must equal `hivexregedit --export` after
#     tests/crosscheck/reg-normalise.py, which undoes only formatting:
#     encoding of the lines, regedit's line wrapping, "text" / dword: /
#     hex: notation (turned back into type + bytes), a trailing "\" in the
#     root path, and the order of keys and of values in a key.
#  2. Typed reads of the viostor service (Start, Type, Group, ImagePath)
#     and of Select\Current through CurrentControlSet must equal hivexget.
#  3. imgfmt-reg on a disk image (an ext4 holding WINDOWS/system32/Config/
#     system) must print what --hive prints for the same file.
# Exit 77 without hivexregedit/hivexget or the hivex fixtures.
set -u
B=${IMGFMT_BUILD:?IMGFMT_BUILD not set}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REG="$B/tools/imgfmt-reg"
FIX=${HIVEX_FIXTURES:-$SRC/../shared/fixtures/hivex}
for t in hivexregedit hivexget python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "$t not found: skipped"; exit 77; }
done
[ -r "$FIX/minimal" ] || { echo "$FIX/minimal not found: skipped"; exit 77; }
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imgfmt-hive.XXXXXX")
trap 'rm -rf "$W"' EXIT
NFAIL=0
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
norm() { python3 "$SRC/tests/crosscheck/reg-normalise.py" "$1"; }

python3 "$SRC/tests/gen/mkhive-reg.py" 3000 > "$W/system.reg"
cp "$FIX/minimal" "$W/SYSTEM"
chmod u+w "$W/SYSTEM"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$W/SYSTEM" "$W/system.reg" ||
    { fail "hivexregedit --merge"; exit 1; }

# compare HIVE PREFIX (PREFIX "" = no HKLM prefix)
compare() {
    local hive=$1 prefix=$2 name; name=$(basename "$hive")
    if [ -n "$prefix" ]; then
        hivexregedit --export --prefix "HKEY_LOCAL_MACHINE\\$prefix" "$hive" '\' \
            > "$W/$name.hivex" 2>/dev/null
        "$REG" --hive="$hive" "HKLM\\$prefix" > "$W/$name.ours" || fail "$name: imgfmt-reg"
    else
        hivexregedit --export "$hive" '\' > "$W/$name.hivex" 2>/dev/null
        "$REG" --hive="$hive" '\' > "$W/$name.ours" || fail "$name: imgfmt-reg"
    fi
    norm "$W/$name.hivex" > "$W/$name.hivex.n" || fail "$name: normalise hivex output"
    norm "$W/$name.ours" > "$W/$name.ours.n" || fail "$name: normalise our output"
    local nkeys; nkeys=$(grep -c '^\[' "$W/$name.hivex.n")
    if diff -u "$W/$name.hivex.n" "$W/$name.ours.n" > "$W/$name.diff"; then
        echo "ok: $name: $nkeys keys, $(grep -c '^  ' "$W/$name.hivex.n") values equal hivexregedit's"
    else
        head -20 "$W/$name.diff"
        fail "$name: export differs from hivexregedit --export"
    fi
}
compare "$W/SYSTEM" SYSTEM
compare "$FIX/minimal" ""
compare "$FIX/rlenvalue_test_hive" ""
# special: its "zero\0key" names hold a NUL, which a C string cannot (see
# imgfmt.h): compared without that key.
hivexregedit --export "$FIX/special" '\' 2>/dev/null | python3 -c '
import sys
d = sys.stdin.buffer.read().split(b"\n\n")
sys.stdout.buffer.write(b"\n\n".join(s for s in d if b"\0" not in s))' > "$W/special.hivex"
"$REG" --hive="$FIX/special" '\' | python3 -c '
import sys
d = sys.stdin.buffer.read().split(b"\n\n")
sys.stdout.buffer.write(b"\n\n".join(s for s in d if not s.startswith(b"[\\zero]")))' > "$W/special.ours"
if diff <(norm "$W/special.hivex") <(norm "$W/special.ours") >/dev/null; then
    echo "ok: special (Latin-1 and UTF-16 names) equals hivexregedit's but for the NUL key"
else
    fail "special: export differs"
fi

# 2. Typed reads against hivexget.
val() {  # val KEY NAME -> our value as hivexget prints it, from the export
    "$REG" --hive="$W/SYSTEM" "HKLM\\SYSTEM\\$1" | python3 -c '
import sys
name = sys.argv[1]
for line in sys.stdin.read().split("\n\n")[1].split("\n")[1:]:
    if line.startswith("\"%s\"=" % name):
        v = line.split("=", 1)[1]
        if v.startswith("dword:"):
            print(int(v[6:], 16))
        elif v.startswith("\""):
            print(v[1:-1])
        elif v.startswith("hex(2):"):
            b = bytes.fromhex(v[7:].replace(",", "").replace("\\\n  ", ""))
            print(b.decode("utf-16le").rstrip("\0"))' "$2"
}
for kv in 'ControlSet001\Services\viostor|Start' 'ControlSet001\Services\viostor|Type' \
          'ControlSet001\Services\viostor|Group' 'ControlSet002\Services\viostor|Start' \
          'Select|Current'; do
    k=${kv%|*} n=${kv#*|}
    theirs=$(hivexget "$W/SYSTEM" "\\$k" "$n")
    ours=$(val "$k" "$n")
    if [ "$ours" = "$theirs" ]; then echo "ok: $k $n = $ours"; else fail "$k $n: ours '$ours', hivexget '$theirs'"; fi
done
# ImagePath is long enough to be wrapped: compare it from the export joined.
theirs=$(hivexget "$W/SYSTEM" '\ControlSet001\Services\viostor' ImagePath)
ours=$("$REG" --hive="$W/SYSTEM" 'HKLM\SYSTEM\CurrentControlSet\Services\viostor' |
       python3 -c '
import re, sys
t = sys.stdin.read().replace("\\\n  ", "")
m = re.search(r"\"ImagePath\"=hex\(2\):([0-9a-f,]+)", t)
print(bytes.fromhex(m.group(1).replace(",", "")).decode("utf-16le").rstrip("\0"))')
if [ "$ours" = "$theirs" ]; then echo "ok: CurrentControlSet\\Services\\viostor ImagePath = $ours"
else fail "ImagePath: ours '$ours', hivexget '$theirs'"; fi
"$REG" --hive="$W/SYSTEM" 'HKLM\SYSTEM\CurrentControlSet\Services\viostor' | head -3 |
    grep -q '^\[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\viostor\]$' ||
    fail "CurrentControlSet not resolved to ControlSet001"

# 3. From a disk image: the hive in an ext4 (mke2fs -d) under a path of
#    other case, found through the guest file system, must export as the
#    file read directly.
if command -v mke2fs >/dev/null 2>&1; then
    mkdir -p "$W/root/WINDOWS/system32/Config"
    cp "$W/SYSTEM" "$W/root/WINDOWS/system32/Config/system"
    truncate -s 128M "$W/disk.img"
    mke2fs -q -t ext4 -d "$W/root" "$W/disk.img"
    k='HKLM\SYSTEM\CurrentControlSet\Services\viostor'
    if "$REG" --fs=0 "$W/disk.img" "$k" > "$W/img.reg" &&
       "$REG" --hive="$W/SYSTEM" "$k" | cmp -s - "$W/img.reg"; then
        echo "ok: $k from an ext4 image equals the hive file's export"
    else
        fail "$k from the image differs from --hive"
    fi
fi

[ "$NFAIL" -eq 0 ] || { echo "$NFAIL failures"; exit 1; }
echo "all hive cross-checks passed"
