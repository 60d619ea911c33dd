#!/usr/bin/env bash
# Download a small fixed set of Debian packages once into a cache directory
# (never committed): real file trees for the file-system cross-checks, which
# unpack them with `dpkg-deb -x`.  Prints the directory; exits 1 if the
# packages cannot be had (the caller then skips that part).
#   fetch-debs.sh [DIR]   (default $IMGFMT_CACHE/debs, else /var/cache/imgfmt-debs)
set -eu
dir=${1:-${IMGFMT_CACHE:+$IMGFMT_CACHE/debs}}
dir=${dir:-/var/cache/imgfmt-debs}
pkgs="tzdata bash coreutils findutils sed grep base-files libc-bin"
mkdir -p "$dir"
cd "$dir"
if [ ! -f .complete ]; then
    command -v apt-get >/dev/null 2>&1 || exit 1
    apt-get download $pkgs >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get download $pkgs >/dev/null 2>&1; } ||
        exit 1
    touch .complete
fi
echo "$dir"
