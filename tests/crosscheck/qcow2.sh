#!/usr/bin/env bash
# Cross-check QCOW2 images made by qemu-img / qemu-io against libimgfmt:
# virtual size, content checksum and data/zero map.  Exits 77 (skip)
# without qemu-img.
. "$(dirname "$0")/lib.sh"
command -v qemu-io >/dev/null 2>&1 || { echo "qemu-io not found: skipped"; exit 77; }
# qemu 7.2 resolves a relative data file name against its current
# directory (libimgfmt: against the image's directory): work in $W.
cd "$W" || exit 1

# Python starts slowly (about 1 s on some CI hosts) and check_image calls
# it three times: for 50+ images use awk versions of lib.sh's two JSON
# helpers (same output: qemu-img prints one map entry per line).
jnum() {
    awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }'
}
qemu_map() {
    qemu-img map --output=json "$@" | awk '
        /"start":/ {
            s = $0; sub(/.*"start": */, "", s); sub(/[^0-9].*/, "", s)
            l = $0; sub(/.*"length": */, "", l); sub(/[^0-9].*/, "", l)
            d = ($0 ~ /"data": true/) ? 1 : 0
            if (l == 0) next
            if (n && d == rd && rs + rl == s) { rl += l; next }
            if (n) printf "%.0f %.0f %d\n", rs, rl, rd
            rs = s; rl = l; rd = d; n = 1
        }
        END { if (n) printf "%.0f %.0f %d\n", rs, rl, rd }'
}

qio() {  # qio FILE CMD... : qemu-io commands on a qcow2 (or -f FMT FILE)
    local fmt=qcow2
    if [ "$1" = -f ]; then fmt=$2; shift 2; fi
    local f=$1; shift
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f "$fmt" "${args[@]}" "$f" >/dev/null || echo "qemu-io failed on $f: $*"
}
mk() {  # mk NAME SIZE "-o opts" : create a qcow2, print its path
    local f="$W/$1.qcow2"
    qemu-img create -q -f qcow2 ${3:+-o "$3"} "$f" "$2" || echo "create failed: $1" >&2
    echo "$f"
}
# A raw source with random data at some offsets, holes, and a pattern run.
mkraw() {  # mkraw NAME SIZE [offset:len ...]
    local f="$W/$1.raw" size=$2; shift 2
    rm -f "$f"; truncate -s "$size" "$f"
    for seg in "$@"; do rnd "$f" "${seg%%:*}" "${seg##*:}"; done
    echo "$f"
}
# Our driver knows this format (vpc/vmdk land from other branches).
have_fmt() {
    local f="$W/probe.$1"
    rm -f "$f"
    qemu-img create -q -f "$1" "$f" 1M >/dev/null 2>&1 || return 1
    "$INFO" -f "$1" "$f" >/dev/null 2>&1
}

# info_also FILE: compare `imgfmt-info --output=json --backing-chain` with
# qemu-img's (every key but our "imgfmt" block), all files in one python
# run at the end.
INFO_LIST=()
info_also() {
    local n=${#INFO_LIST[@]}
    qemu-img info --backing-chain --output=json "$1" > "$W/info-q-$n.json" || fail "$1: qemu-img info"
    "$INFO" --backing-chain --output=json "$1" > "$W/info-o-$n.json" || fail "$1: imgfmt-info"
    INFO_LIST+=("$1")
}
info_compare() {
    [ ${#INFO_LIST[@]} -gt 0 ] || return 0
    local out
    out=$(python3 - "$W" "${INFO_LIST[@]}" <<'EOF'
import json, sys
w = sys.argv[1]
for n, name in enumerate(sys.argv[2:]):
    q = json.load(open(f"{w}/info-q-{n}.json"))
    o = json.load(open(f"{w}/info-o-{n}.json"))
    bad = len(q) != len(o)
    for a, b in zip(q, o):
        b.pop("imgfmt", None)
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                print(f"FAIL: {name}: info key {k}: qemu {a.get(k)!r} ours {b.get(k)!r}")
                bad = True
    print(f"{'bad' if bad else 'ok'}: info {name}")
EOF
)
    echo "$out"
    NFAIL=$((NFAIL + $(grep -c '^bad:' <<< "$out")))
}

std_io=("write -P 0x11 0 96k" "write -P 0x22 200k 4k" "write -z 300k 64k"
        "write -P 0x33 1M 64k" "write -z 1M 64k" "write -P 0x44 2000k 50k")

# 1-4: versions and cluster sizes with ordinary writes and zeros.
for cs in 512 4k 64k 2M; do
    f=$(mk "v3-cs$cs" 5M "cluster_size=$cs")
    qio "$f" "${std_io[@]}"
    check_image "$f" qcow2
done
# 5-7: version 2 (zero writes there become plain writes of zeros).
for cs in 512 64k 2M; do
    f=$(mk "v2-cs$cs" 5M "compat=0.10,cluster_size=$cs")
    qio "$f" "${std_io[@]}"
    check_image "$f" qcow2
done
# 8: 16 KiB clusters, data in many L2 tables of 512-byte clusters (cache
# eviction: 100 tables, 64 slots).
f=$(mk many-l2 8M "cluster_size=512")
cmds=()
for i in $(seq 0 99); do cmds+=("write -P $((i % 250 + 1)) $((i * 80 + 3))k 1k"); done
qio "$f" "${cmds[@]}"
check_image "$f" qcow2

# 9-12: zero clusters: plain (on unallocated), alloc (over data, kept
# allocated), unmapped (-u), discard.
f=$(mk zero-plain 4M); qio "$f" "write -z 0 1M" "write -P 1 1M 64k"; check_image "$f" qcow2
f=$(mk zero-alloc 4M); qio "$f" "write -P 5 0 2M" "write -z 64k 1M"; check_image "$f" qcow2
f=$(mk zero-unmap 4M); qio "$f" "write -P 5 0 2M" "write -z -u 64k 1M"; check_image "$f" qcow2
f=$(mk discard 4M); qio "$f" "write -P 6 0 3M" "discard 128k 1M" "discard 2M 64k"; check_image "$f" qcow2

# 13-19: compressed (convert -c) with zlib and zstd, several cluster sizes.
src=$(mkraw csrc 6M 0:300000 1048576:65536 3145728:1000 6290432:1024)
qio -f raw "$src" "write -P 0x5a 2M 512k" "write -P 0 4M 64k"
for cs in 512 4k 64k 2M; do
    f="$W/comp-zlib-$cs.qcow2"
    qemu-img convert -c -f raw -O qcow2 -o "cluster_size=$cs" "$src" "$f"
    check_image "$f" qcow2
done
for cs in 4k 64k 1M; do
    f="$W/comp-zstd-$cs.qcow2"
    qemu-img convert -c -f raw -O qcow2 -o "cluster_size=$cs,compression_type=zstd" "$src" "$f"
    check_image "$f" qcow2
done
# 20: v2 compressed.
f="$W/comp-v2.qcow2"
qemu-img convert -c -f raw -O qcow2 -o compat=0.10 "$src" "$f"; check_image "$f" qcow2
# 21: compressed writes with qemu-io, then overwritten in part.
f=$(mk comp-io 2M); qio "$f" "write -c -P 7 0 64k" "write -c -P 8 128k 64k" "write -P 9 128k 4k"
check_image "$f" qcow2
# 22: zstd header but no compressed cluster.
f=$(mk zstd-plain 2M "compression_type=zstd"); qio "$f" "write -P 3 0 100k"; check_image "$f" qcow2

# 23-26: extended L2 (subclusters): partial writes, zeros, on a backing.
f=$(mk extl2 4M "extended_l2=on")
qio "$f" "write -P 1 0 2k" "write -P 2 6k 2k" "write -z 16k 4k" "write -P 3 64k 64k" \
    "write -z 70k 2k" "write -P 4 1M 1k" "write -z -u 2M 8k"
check_image "$f" qcow2
f=$(mk extl2-2M 8M "extended_l2=on,cluster_size=2M")
qio "$f" "write -P 1 0 64k" "write -P 2 200k 70k" "write -z 2M 64k" "write -P 3 4M 1k"
check_image "$f" qcow2
base=$(mkraw extl2-base 4M 0:4194304)
f="$W/extl2-ovl.qcow2"
qemu-img create -q -f qcow2 -o extended_l2=on -b "$base" -F raw "$f"
qio "$f" "write -P 1 1k 1k" "write -z 8k 4k" "write -P 2 64k 2k" "write -z -u 200k 8k"
check_image "$f" qcow2
f="$W/extl2-comp.qcow2"
qemu-img convert -c -f raw -O qcow2 -o extended_l2=on "$src" "$f"; check_image "$f" qcow2

# 27-31: refcounts and preallocation.
f=$(mk lazy 2M "lazy_refcounts=on"); qio "$f" "write -P 1 0 128k"; check_image "$f" qcow2
for rb in 1 8 64; do
    f=$(mk "refbits$rb" 2M "refcount_bits=$rb"); qio "$f" "write -P 2 64k 200k"; check_image "$f" qcow2
done
f=$(mk prealloc-meta 3M "preallocation=metadata"); qio "$f" "write -P 3 1M 10k"; check_image "$f" qcow2
f=$(mk prealloc-falloc 3M "preallocation=falloc"); qio "$f" "write -P 3 0 10k"; check_image "$f" qcow2
f=$(mk prealloc-full 1M "preallocation=full"); check_image "$f" qcow2
f=$(mk prealloc-meta-v2 3000k "preallocation=metadata,compat=0.10"); check_image "$f" qcow2

# 35-42: backing chains.
base=$(mkraw base 4M 0:1048576 2097152:65536)
f="$W/ovl-raw.qcow2"
qemu-img create -q -f qcow2 -b base.raw -F raw "$f"     # relative name
qio "$f" "write -P 1 512k 64k" "write -z 2M 32k" "write -z -u 0 4k" "write -P 2 3M 4k"
check_image "$f" qcow2
mid="$W/mid.qcow2"
qemu-img create -q -f qcow2 -b "$base" -F raw "$mid"
qio "$mid" "write -P 3 1M 128k" "write -z 2080k 8k"
top="$W/top.qcow2"
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 "$top"
qio "$top" "write -P 4 1056k 8k" "write -z 0 64k"
check_image "$top" qcow2
# v2 overlay on v3, 4 KiB clusters over 64 KiB.
f="$W/ovl-v2.qcow2"
qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=4k -b mid.qcow2 -F qcow2 "$f"
qio "$f" "write -P 5 1030k 4k"
check_image "$f" qcow2
# Backing shorter than the overlay (reads zeros past its end).
short=$(mkraw short 1000k 0:1024000)
f="$W/ovl-longer.qcow2"
qemu-img create -q -f qcow2 -b "$short" -F raw "$f" 3M
qio "$f" "write -P 6 2M 4k"
check_image "$f" qcow2
# ... and a short qcow2 backing (size not a cluster multiple).
sq=$(mk shortq 1000448); qio "$sq" "write -P 7 0 1000448"
f="$W/ovl-longer2.qcow2"
qemu-img create -q -f qcow2 -b "$sq" -F qcow2 "$f" 2M
check_image "$f" qcow2
# Backing format probed (no backing format extension): hide the extension
# by giving it an unknown type, which qemu and we skip.
f="$W/ovl-probe.qcow2"
qemu-img create -q -f qcow2 -b "$base" -F raw "$f"
qio "$f" "write -P 8 0 4k"
python3 - "$f" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read(65536))
off = 112
while off + 8 <= 65536:
    t, l = struct.unpack('>II', b[off:off + 8])
    if t == 0:
        break
    if t == 0xE2792ACA:
        b[off:off + 4] = struct.pack('>I', 0x12345678)
    off += 8 + ((l + 7) & ~7)
with open(p, 'r+b') as fh:
    fh.write(b)
EOF
check_image "$f" qcow2
# qcow2 -> vpc, qcow2 -> vmdk -> raw, when those drivers are built.
if have_fmt vpc; then
    vb="$W/vbase.vhd"
    qemu-img convert -f raw -O vpc "$base" "$vb"
    f="$W/ovl-vpc.qcow2"
    qemu-img create -q -f qcow2 -b "$vb" -F vpc "$f"
    qio "$f" "write -P 9 4k 4k"
    check_image "$f" qcow2
fi
if have_fmt vmdk; then
    # qemu only stacks VMDK on VMDK: qcow2 -> vmdk -> vmdk (3 formats deep).
    vb="$W/vbase.vmdk"
    qemu-img convert -f raw -O vmdk "$base" "$vb"
    vm="$W/vmid.vmdk"
    qemu-img create -q -f vmdk -b "$vb" -F vmdk "$vm"
    qio -f vmdk "$vm" "write -P 10 1M 64k"
    f="$W/ovl-vmdk.qcow2"
    qemu-img create -q -f qcow2 -b "$vm" -F vmdk "$f"
    qio "$f" "write -P 11 0 4k" "write -z 2M 4k"
    check_image "$f" qcow2
fi

# 43-44: external data file (relative name), and data_file_raw.
f=$(mk datafile 3M "data_file=datafile.data")
qio "$f" "write -P 1 0 100k" "write -z 1M 64k" "write -P 2 2M 4k"
check_image "$f" qcow2
f=$(mk datafile-raw 3M "data_file=$W/datafile-raw.data,data_file_raw=on")
qio "$f" "write -P 3 64k 100k" "write -z 1M 64k"
check_image "$f" qcow2

# 45-46: internal snapshots (the content is the active state).
f=$(mk snap 4M)
qio "$f" "write -P 1 0 1M"
qemu-img snapshot -c first "$f"
qio "$f" "write -P 2 512k 1M" "write -z 0 64k"
qemu-img snapshot -c second "$f"
qio "$f" "discard 1M 64k" "write -P 3 3M 4k"
check_image "$f" qcow2
f=$(mk snap-v2 2M "compat=0.10")
qio "$f" "write -P 1 0 100k"; qemu-img snapshot -c s1 "$f"; qio "$f" "write -P 2 0 4k"
check_image "$f" qcow2

# 47-51: sizes: 600 GiB sparse with data in the last cluster; odd sizes;
# an empty image.
f=$(mk big600g 600G); qio "$f" "write -P 1 0 4k" "write -P 2 $((600 * 1024 * 1024 * 1024 - 65536)) 64k"
check_image "$f" qcow2
f=$(mk odd1g 1000000000); qio "$f" "write -P 1 999999488 512" "write -P 2 0 1k"; check_image "$f" qcow2
f=$(mk odd1000448 1000448 "cluster_size=4k"); qio "$f" "write -P 3 995328 5120"; check_image "$f" qcow2
f=$(mk empty 0); check_image "$f" qcow2
f=$(mk odd-v2 1000448 "compat=0.10"); qio "$f" "write -P 4 0 1000448"; check_image "$f" qcow2

# 52-53: converted from a dense random raw, and bitmaps + dirty bit.
f="$W/dense.qcow2"
qemu-img convert -f raw -O qcow2 "$src" "$f"; check_image "$f" qcow2
f=$(mk bitmaps 2M); qio "$f" "write -P 1 0 64k"; qemu-img bitmap --add "$f" b0
qemu-img bitmap --add -g 128k "$f" b1; check_image "$f" qcow2
f=$(mk dirty 2M "lazy_refcounts=on")
qemu-io -c "write -P 7 0 128k" -c abort "$f" >/dev/null 2>&1
"$INFO" --output=json "$f" | grep -q '"dirty-flag": true' || fail "dirty: dirty flag not reported"
check_image "$f" qcow2

# qemu-img info --output=json vs ours, for images with every kind of key.
for n in v2-cs64k v3-cs4k comp-zstd-64k extl2 lazy refbits1 ovl-raw top ovl-v2 ovl-probe \
         datafile datafile-raw snap snap-v2 bitmaps dirty odd1g ovl-vpc ovl-vmdk; do
    [ -f "$W/$n.qcow2" ] && info_also "$W/$n.qcow2"
done
info_compare
finish
