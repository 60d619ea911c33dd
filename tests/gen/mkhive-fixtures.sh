#!/usr/bin/env bash
# Build testdata/hive-system.gz for tests/test-hive.c with hivex's own
# tools: hivexregedit --merge (Debian libwin-hivex-perl) of the .reg that
# tests/gen/mkhive-reg.py writes (1000 subkeys under Many) onto a copy of
# hivex's images/minimal (../shared/fixtures/hivex/minimal).
#     tests/gen/mkhive-fixtures.sh [OUTDIR]     (default: testdata)
set -euo pipefail
out=${1:-testdata}
here=$(cd "$(dirname "$0")" && pwd)
minimal=${HIVEX_MINIMAL:-$here/../../../shared/fixtures/hivex/minimal}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/mkhive-reg.py" 1000 > "$work/system.reg"
cp "$minimal" "$work/SYSTEM"
chmod u+w "$work/SYSTEM"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$work/SYSTEM" "$work/system.reg"
gzip -9 -n -c "$work/SYSTEM" > "$out/hive-system.gz"
ls -l "$out/hive-system.gz" >&2
