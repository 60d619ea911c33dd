#!/usr/bin/env bash
# A Windows-shaped guest built here by the real tools: MBR, partition 1 an
# active NTFS "System Reserved" holding bootmgr and Boot/BCD, partition 2 the
# NTFS Windows volume with Windows/System32/config/SYSTEM and SOFTWARE (hives
# written by hivexregedit from hivex's own minimal hive), a driver file and
# a PE header on cmd.exe; written through an ntfs-3g FUSE mount.
# The guest view must find the Windows root on partition 2, list it and read
# every file back with the bytes given; paths are matched case-insensitively
# as Windows does; imgfmt-check applies the Windows rules.
# Exits 77 without ntfs-3g's tools, hivexregedit or the base hive.
set -u
B=${IMGFMT_BUILD:?}
S=$(cd "$(dirname "$0")/../.." && pwd)
LS="$B/tools/imgfmt-ls" CAT="$B/tools/imgfmt-cat" CHECK="$B/tools/imgfmt-check"
PATH="$PATH:/usr/sbin:/sbin"
base="$S/../shared/fixtures/hivex/minimal"
for t in mkntfs ntfscp sfdisk hivexregedit; do
    command -v "$t" >/dev/null || { echo "$t missing: skipped"; exit 77; }
done
[ -f "$base" ] || { echo "no $base: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Hives: a SYSTEM with Select and a control set naming viostor, a SOFTWARE
# with the product name.
cp "$base" "$W/SYSTEM"; cp "$base" "$W/SOFTWARE"
cat > "$W/system.reg" <<'EOF'
Windows Registry Editor Version 5.00

[\Select]
"Current"=dword:00000001
"Default"=dword:00000001

[\ControlSet001]

[\ControlSet001\Services]

[\ControlSet001\Services\viostor]
"Type"=dword:00000001
"Start"=dword:00000000
"Group"="SCSI miniport"
"ImagePath"=hex(2):73,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,5c,00,64,00,72,00,69,00,76,00,65,00,72,00,73,00,5c,00,76,00,69,00,6f,00,73,00,74,00,6f,00,72,00,2e,00,73,00,79,00,73,00,00,00

[\ControlSet001\Services\cloudbase-init]
"Start"=dword:00000002
"ImagePath"="\"C:\\Program Files\\Cloudbase Solutions\\Cloudbase-Init\\bin\\OpenStackService.exe\""

[\ControlSet001\Control]

[\ControlSet001\Control\CriticalDeviceDatabase]

[\ControlSet001\Control\CriticalDeviceDatabase\pci#ven_1af4&dev_1001&subsys_00021af4&rev_00]
"Service"="viostor"
"ClassGUID"="{4D36E97B-E325-11CE-BFC1-08002BE10318}"
EOF
cat > "$W/software.reg" <<'EOF'
Windows Registry Editor Version 5.00

[\Microsoft]

[\Microsoft\Windows NT]

[\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows Server 2012 R2 Standard"
"CurrentVersion"="6.3"
"CurrentBuildNumber"="9600"
"EditionID"="ServerStandard"
"InstallationType"="Server"
EOF
hivexregedit --merge "$W/SYSTEM" "$W/system.reg" || { bad "hivexregedit SYSTEM"; exit 1; }
hivexregedit --merge "$W/SOFTWARE" "$W/software.reg" || { bad "hivexregedit SOFTWARE"; exit 1; }

# Files: bootmgr and BCD on System Reserved; drivers, cmd.exe on C:.
head -c 400000 /dev/urandom > "$W/bootmgr"
head -c 20000 /dev/urandom > "$W/BCD"
head -c 60000 /dev/urandom > "$W/viostor.sys"
{ printf 'MZ'; head -c 58 /dev/zero; printf '\x80\x00\x00\x00'; head -c 64 /dev/zero
  printf 'PE\x00\x00\x64\x86'; head -c 2000 /dev/urandom; } > "$W/cmd.exe"

img="$W/win.raw"; truncate -s 120M "$img"
printf 'label: dos\nstart=2048, size=40960, type=7, bootable\nstart=43008, type=7\n' | sfdisk -q "$img"
mkpart() {  # start_sector sectors label file
    truncate -s $(($2 * 512)) "$4"
    mkntfs -q -F -Q -s 512 -p "$1" -H 0 -S 0 -L "$3" "$4" >/dev/null 2>&1
}
mkpart 2048 40960 "System Reserved" "$W/p1"
mkpart 43008 202752 "Windows" "$W/p2"
# ntfscp copies files but makes no directories: the tree is made through an
# ntfs-3g FUSE mount (root), else the test is skipped.
if ! command -v ntfs-3g >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "ntfs-3g FUSE (as root) is needed for the directory tree: skipped"; exit 77
fi
M="$W/m"; mkdir -p "$M"
populate() {  # part file, then commands run in the mounted volume
    local part=$1; shift
    ntfs-3g "$part" "$M" 2>/dev/null || return 1
    ( cd "$M" && eval "$@" ); local rc=$?
    umount "$M"; return $rc
}
populate "$W/p1" "mkdir -p Boot && cp '$W/BCD' Boot/BCD && cp '$W/bootmgr' bootmgr" ||
    { echo "ntfs-3g mount refused here: skipped"; exit 77; }
populate "$W/p2" "mkdir -p Windows/System32/config Windows/System32/drivers &&
    cp '$W/SYSTEM' '$W/SOFTWARE' Windows/System32/config/ &&
    cp '$W/viostor.sys' Windows/System32/drivers/ && cp '$W/cmd.exe' Windows/System32/" ||
    { bad "populate the Windows volume"; exit 1; }
dd if="$W/p1" of="$img" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$W/p2" of="$img" bs=512 seek=43008 conv=notrunc,sparse status=none

same() {  # name guest_path source [image]
    local got want
    got=$("$CAT" "${4:-$img}" "$2" | sha256sum | cut -d' ' -f1)
    want=$(sha256sum < "$3" | cut -d' ' -f1)
    [ "$got" = "$want" ] && ok "$1: $2" || bad "$1: $2 sha256 $got, expected $want"
}
same view /Windows/System32/config/SYSTEM "$W/SYSTEM"
same view /Windows/System32/config/SOFTWARE "$W/SOFTWARE"
same view /windows/system32/DRIVERS/viostor.sys "$W/viostor.sys"   # case-insensitive
same view /Windows/System32/cmd.exe "$W/cmd.exe"
"$CAT" --fs=1 "$img" /bootmgr | cmp -s - "$W/bootmgr" && ok "System Reserved: bootmgr" ||
    bad "System Reserved: bootmgr differs"
"$LS" "$img" /Windows/System32/drivers | grep -qx viostor.sys && ok "listing: viostor.sys" ||
    bad "listing: $("$LS" "$img" /Windows/System32/drivers)"
out=$("$B/tools/imgfmt-inspect" "$img")
grep -q 'root: *partition 2 (ntfs): Windows/System32/config/SYSTEM' <<<"$out" &&
    ok "guest view: Windows root on partition 2" || bad "guest view: $out"
qemu-img convert -f raw -O vpc "$img" "$W/win.vhd" 2>/dev/null &&
    same "as vhd" /Windows/System32/drivers/viostor.sys "$W/viostor.sys" "$W/win.vhd"
# imgfmt-reg through the guest view (CurrentControlSet resolved by Select)
# says what hivexregedit --export says of the same key in the same hive.
"$B/tools/imgfmt-reg" "$img" 'HKLM\SYSTEM\CurrentControlSet\Services\viostor' > "$W/ours.reg"
hivexregedit --export --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$W/SYSTEM" '\ControlSet001\Services\viostor' > "$W/hivex.reg"
norm() { python3 "$S/tests/crosscheck/reg-normalise.py" "$1"; }   # formatting only
if diff <(norm "$W/hivex.reg") <(norm "$W/ours.reg") > "$W/reg.diff"; then
    ok "imgfmt-reg: viostor key equals hivexregedit --export"
else bad "imgfmt-reg differs from hivexregedit: $(head -20 "$W/reg.diff")"; fi
out=$("$B/tools/imgfmt-inspect" "$img")
grep -q 'product: *Windows Server 2012 R2 Standard (version 6.3, build 9600, ServerStandard, Server)' <<<"$out" &&
    ok "inspect: product" || bad "inspect: product: $out"
"$CHECK" "$img" > "$W/check.txt"; rc=$?
grep -q '^os: windows' "$W/check.txt" &&
    grep -q 'Windows system on partition 2 (ntfs): Windows/System32/config/SYSTEM' "$W/check.txt" &&
    ok "imgfmt-check: Windows rules (exit $rc)" || bad "imgfmt-check: $(cat "$W/check.txt")"
grep -q 'VirtioNotInstall *pass *ControlSet001\\Services\\viostor Start=0 (boot), /Windows/system32/drivers/viostor.sys present, bound by' "$W/check.txt" &&
    grep -q 'CloudInitNotInstalled *pass *ControlSet001\\Services\\cloudbase-init Start=2' "$W/check.txt" &&
    ok "imgfmt-check: viostor boot-critical and cloudbase-init automatic" ||
    bad "imgfmt-check verdicts: $(cat "$W/check.txt")"
[ -n "${IMGFMT_KEEP_IMAGE:-}" ] && cp --sparse=always "$img" "$IMGFMT_KEEP_IMAGE.good"

# Variants of SYSTEM (the Windows volume rewritten through ntfs-3g): viostor
# staged but not boot-start (what users hit after installing virtio-win
# without a virtio disk), no virtio driver at all, cloudbase-init disabled.
variant() {  # name reg-file expected-lines...
    local name=$1 reg=$2; shift 2
    cp "$base" "$W/SYSTEM.v"; chmod u+w "$W/SYSTEM.v"
    hivexregedit --merge "$W/SYSTEM.v" "$reg" || { bad "$name: hivexregedit"; return; }
    populate "$W/p2" "cp '$W/SYSTEM.v' Windows/System32/config/SYSTEM" || { bad "$name: populate"; return; }
    dd if="$W/p2" of="$img" bs=512 seek=43008 conv=notrunc,sparse status=none
    "$CHECK" "$img" > "$W/v.txt"
    local l
    for l in "$@"; do
        grep -q -- "$l" "$W/v.txt" || { bad "$name: no \"$l\" in $(cat "$W/v.txt")"; return; }
    done
    ok "$name"
}
sed -e 's/"Start"=dword:00000000/"Start"=dword:00000003/' -e '/CriticalDeviceDatabase\\pci/,$d' \
    "$W/system.reg" > "$W/staged.reg"
variant "viostor staged, not boot-start" "$W/staged.reg" \
    'VirtioNotInstall *warn *ControlSet001\\Services\\viostor Start=3 (not boot-critical'
# Windows 8 / 2012 and later bind drivers in SYSTEM\DriverDatabase, not the
# CriticalDeviceDatabase: boot-start viostor bound there passes.
{ sed -e '/CriticalDeviceDatabase/,$d' "$W/system.reg"
  printf '[\\DriverDatabase]\n\n[\\DriverDatabase\\DeviceIds]\n\n[\\DriverDatabase\\DeviceIds\\PCI]\n\n'
  printf '[\\DriverDatabase\\DeviceIds\\PCI\\VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00]\n"viostor.inf"=hex(3):01,ff,00,00\n'; } > "$W/drvdb.reg"
variant "viostor bound through the DriverDatabase" "$W/drvdb.reg" \
    'VirtioNotInstall *pass *.*bound by DriverDatabase\\DeviceIds\\PCI\\VEN_1AF4&DEV_1001'
printf 'Windows Registry Editor Version 5.00\n\n[\\Select]\n"Current"=dword:00000001\n\n[\\ControlSet001]\n\n[\\ControlSet001\\Services]\n\n[\\ControlSet001\\Services\\cloudbase-init]\n"Start"=dword:00000004\n' > "$W/bare.reg"
variant "no virtio, cloudbase-init disabled" "$W/bare.reg" \
    'VirtioNotInstall *fail *no viostor or vioscsi service in ControlSet001' \
    'CloudInitNotInstalled *fail *ControlSet001\\Services\\cloudbase-init Start=4: installed but disabled'
[ -n "${IMGFMT_KEEP_IMAGE:-}" ] && cp --sparse=always "$img" "$IMGFMT_KEEP_IMAGE"   # for docs
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
