#!/usr/bin/env python3
"""A .reg file shaped like a real SYSTEM hive, for `hivexregedit --merge`
onto hivex's `minimal` hive (tests/gen/mkhive-fixtures.sh, and
tests/crosscheck/hive.sh at test time):

    mkhive-reg.py [NSUBKEYS]     (default 3000) > system.reg

Select (Current = 1), two control sets with Services\\viostor (Type,
Start, ErrorControl, Group, ImagePath as REG_EXPAND_SZ, DisplayName) and a
CriticalDeviceDatabase entry, ControlSet001\\Types with a value of every
type (and edge cases: empty, no terminating NUL, odd length, control
characters, > 16 KiB data, UTF-16 text, a default value), a key and value
named outside Latin-1 (stored as UTF-16 names), and ControlSet001\\Many
with NSUBKEYS subkeys.  Parent keys come before their children (the merge
needs them)."""
import sys
P = "HKEY_LOCAL_MACHINE\\SYSTEM"
def q(s): return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'
def hx(b): return ",".join("%02x" % x for x in b)
def u16(s): return s.encode("utf-16le") + b"\0\0"
out = ["Windows Registry Editor Version 5.00", ""]
made = set()
def key(path, vals):
    parts = path.split("\\")
    for i in range(1, len(parts)):
        parent = "\\".join(parts[:i])
        if parent not in made:
            made.add(parent)
            out.append("[%s\\%s]" % (P, parent))
            out.append("")
    made.add(path)
    out.append("[%s\\%s]" % (P, path) if path else "[%s]" % P)
    for name, v in vals:
        out.append("%s=%s" % ("@" if name is None else q(name), v))
    out.append("")
key("Select", [("Current", "dword:00000001"), ("Default", "dword:00000001"),
               ("Failed", "dword:00000000"), ("LastKnownGood", "dword:00000002")])
for cs, start in (("ControlSet001", 0), ("ControlSet002", 3)):
    key(cs + "\\Services\\viostor", [
        ("Type", "dword:00000001"), ("Start", "dword:%08x" % start),
        ("ErrorControl", "dword:00000001"), ("Group", q("SCSI miniport")),
        ("ImagePath", "hex(2):" + hx(u16("system32\\drivers\\viostor.sys"))),
        ("DisplayName", q("Red Hat VirtIO SCSI controller"))])
    key(cs + "\\Services\\viostor\\Parameters\\PnpInterface", [("5", "dword:00000001")])
    key(cs + "\\Control\\CriticalDeviceDatabase\\pci#ven_1af4&dev_1001&subsys_00021af4&rev_00", [
        ("Service", q("viostor")), ("ClassGUID", q("{4D36E97B-E325-11CE-BFC1-08002BE10318}"))])
key("ControlSet001\\Types", [
    (None, q("default value")),
    ("none", "hex(0):01,02"), ("sz", q("text with \"quotes\" and \\backslash\\")),
    ("sz_empty", q("")), ("sz_nonul", "hex(1):41,00,42,00"),
    ("sz_odd", "hex(1):41,00,42"), ("expand", "hex(2):" + hx(u16("%SystemRoot%\\x"))),
    ("binary", "hex:" + hx(bytes(range(40)))), ("binary_empty", "hex:"),
    ("dword", "dword:0000000a"), ("dword_be", "hex(5):00,00,01,02"),
    ("link", "hex(6):" + hx("\\Registry\\Machine\\X".encode("utf-16le"))),
    ("multi", "hex(7):" + hx(u16("one") + u16("two") + u16("") )),
    ("resource_list", "hex(8):00,01"), ("qword", "hex(b):" + hx((2**40 + 5).to_bytes(8, "little"))),
    ("big20k", "hex:" + hx(bytes((i * 7) & 0xff for i in range(20000)))),
    ("big50k", "hex(3):" + hx(bytes((i * 13 + 1) & 0xff for i in range(50000)))),
    ("Ünïcødé ∑ name", q("Grüße ∑ ₤")),
    ("sz_utf16", "hex(1):" + hx(u16("Grüße ∑ ₤ \U0001F600"))),
    ("sz_ctrl", "hex(1):" + hx(u16("tab\there"))),
    ("multi_utf16", "hex(7):" + hx(u16("Ключ") + u16("∑") + u16("")))])
key("ControlSet001\\Ключ™ UTF16", [("значение", "dword:00000007")])
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3000):
    key("ControlSet001\\Many\\Key%05d" % i, [("i", "dword:%08x" % i)] if i % 500 == 0 else [])
sys.stdout.write("\n".join(out) + "\n")
