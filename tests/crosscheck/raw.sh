#!/usr/bin/env bash
# Cross-check RAW images against qemu-img: virtual size, content checksum,
# data/zero map.  Exits 77 (skip) without qemu-img.
. "$(dirname "$0")/lib.sh"

mk() {  # name size [offset:len ...]  (random data at offsets; holes elsewhere)
    local f="$W/$1.raw" size=$2; shift 2
    rm -f "$f"; truncate -s "$size" "$f"
    for seg in "$@"; do rnd "$f" "${seg%%:*}" "${seg##*:}"; done
    echo "$f"
}

imgs=(
  "$(mk empty 0)"
  "$(mk three 3 0:3)"
  "$(mk odd 1000001 0:100 999990:11)"
  "$(mk r1m 1M 0:1048576)"
  "$(mk sparse100m 100M 0:1 10498048:4096 52428700:65537 104857088:512)"
  "$(mk zeros64m 64M)"
  "$(mk big600g 600G 0:65536 644245094400:512)"
  "$(mk unaligned 1000000000 0:4096 999999000:1000)"
)
for f in "${imgs[@]}"; do
    check_image "$f" raw
done
finish
