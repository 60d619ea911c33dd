#!/usr/bin/env python3
"""Canonical form of a .reg export, for comparing imgfmt-reg with
`hivexregedit --export`.  Only what does not change the registry content
the file describes is normalised:

  * text encoding: each line is read as UTF-8, else as Latin-1 (hivexregedit
    prints names through Perl, which writes a string of code points below
    256 as Latin-1 bytes and other strings as UTF-8);
  * line wrapping: a line ending in "\\" continues on the next one after
    its two leading spaces (regedit's wrapping of hex data);
  * a trailing "\\" in a key path (hivexregedit prints the root "[P\\]");
  * value notation: "text" stands for REG_SZ data UTF-16LE(text) + NUL,
    dword:X for a 4-byte little-endian REG_DWORD, hex: for hex(3):, so each
    value becomes name, type number, data bytes;
  * order: a .reg file is a set of keys, each with a set of named values,
    so keys are sorted by path and values by name.

Prints one line per key ("[path]") and per value ("  name type hexbytes")."""
import re
import sys


def unquote(s, i):
    """The quoted string at s[i] (s[i] == '"'): (text, index after it)."""
    out, i = [], i + 1
    while s[i] != '"':
        if s[i] == "\\":
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out), i + 1


def value(line):
    if line.startswith("@="):
        name, rest = "@", line[2:]
    else:
        name, j = unquote(line, 0)
        name = '"' + name + '"'
        assert line[j] == "=", line
        rest = line[j + 1:]
    if rest.startswith('"'):
        text, j = unquote(rest, 0)
        assert j == len(rest), line
        return name, 1, (text.encode("utf-16le") + b"\0\0").hex()
    m = re.fullmatch(r"dword:([0-9a-f]{8})", rest)
    if m:
        return name, 4, int(m.group(1), 16).to_bytes(4, "little").hex()
    m = re.fullmatch(r"hex(?:\(([0-9a-f]+)\))?:([0-9a-f,]*)", rest)
    assert m, line
    t = int(m.group(1), 16) if m.group(1) else 3
    return name, t, bytes.fromhex(m.group(2).replace(",", "")).hex()


def main():
    raw = open(sys.argv[1], "rb").read().split(b"\n")
    lines = []
    for b in raw:
        try:
            lines.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(b.decode("latin-1"))
    joined, cur = [], None
    for line in lines:
        if cur is not None:
            assert line.startswith("  "), line
            cur += line[2:]
        else:
            cur = line
        if cur.endswith("\\") and not cur.startswith("["):
            cur = cur[:-1]
            continue
        joined.append(cur)
        cur = None
    assert joined[0] == "Windows Registry Editor Version 5.00", joined[0]
    keys, path = {}, None
    for line in joined[1:]:
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            path = line[1:-1]
            if path.endswith("\\"):
                path = path[:-1]
            assert path not in keys, path
            keys[path] = []
        else:
            keys[path].append(value(line))
    for p in sorted(keys):
        print("[%s]" % p)
        for name, t, data in sorted(keys[p]):
            print("  %s %d %s" % (name, t, data))


main()
