#!/usr/bin/env bash
# The shared library exports only imgfmt_* (versioned IMGFMT_0), has a
# soname, and the README's ten-line example builds against the installed
# header and pkg-config file and runs.
set -eu
B=${IMGFMT_BUILD:?}
S=$(cd "$(dirname "$0")/.." && pwd)
so="$B/libimgfmt/libimgfmt.so"
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^IMGFMT_0$' | grep -v '^imgfmt_.*@@IMGFMT_0$' || true)
[ -z "$bad" ] || { echo "unexpected exports: $bad"; exit 1; }
objdump -p "$so" | grep -q 'SONAME.*libimgfmt.so.0' || { echo "no soname"; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
DESTDIR="$W/root" meson install -C "$B" --no-rebuild --quiet >/dev/null
pc=$(find "$W/root" -name imgfmt.pc | head -1)
[ -n "$pc" ] || { echo "imgfmt.pc not installed"; exit 1; }
inc=$(find "$W/root" -name imgfmt.h -printf '%h\n' | head -1)
libdir=$(dirname "$(find "$W/root" -name 'libimgfmt.so.0' | head -1)")
grep -q '^Name: imgfmt' "$pc"
{ echo '#include <stdio.h>'; echo '#include <stdint.h>'; echo 'int main(void) {'
  sed -n '/^```c$/,/^```$/p' "$S/README.md" | sed '1d;$d'
  echo 'return 0; }'; } > "$W/ex.c"
san=""
nm -D "$so" | grep -q ' U __asan_' && san="-fsanitize=address,undefined"
${CC:-cc} $san -std=c11 -Wall -Wextra -Werror -I"$inc" "$W/ex.c" -L"$libdir" -limgfmt -o "$W/ex"
gzip -dc "$S/testdata/sample.vhd.gz" > "$W/disk.vhd"
(cd "$W" && LD_LIBRARY_PATH="$libdir" ./ex)
echo "abi ok"
