#!/usr/bin/env python3
"""mkvhd-diff.py -- write a differencing VHD (disk type 4) for a parent VHD.

qemu-img cannot create differencing VHDs, so this builds one from the VHD
layout (docs/formats.md, VHD):

  offset 0      footer copy (512 bytes, "conectix", disk type 4)
  offset 512    dynamic disk header (1024 bytes, "cxsparse"): parent UUID =
                the parent footer's unique id, parent unicode name (UTF-16BE),
                parent locators W2ru (relative, UTF-16LE), W2ku (absolute,
                UTF-16LE) and MacX (file URL, UTF-8)
  offset 1536   BAT (big-endian sector numbers, 0xFFFFFFFF = unallocated),
                padded to 512 bytes
  then          one 512-byte sector per locator's data
  then          blocks: [sector bitmap, MSB = first sector][block_size bytes]
  end           footer (same as the copy at 0)

The geometry, current size, original size and creator app are copied from the
parent's footer, so the child has the parent's virtual size.

usage: mkvhd-diff.py PARENT CHILD [--block-size N]
       [--write BLOCK:FIRST_SECTOR:COUNT:BYTE ...]   sectors present in the child
       [--garbage BYTE]   fill of the allocated blocks' absent sectors (these
                          must read from the parent, not from this file)
       [--relative NAME] [--absolute NAME] [--mac-url URL] [--name NAME]
       [--uuid HEX32] [--parent-uuid HEX32]
"""
import argparse
import os
import struct
import sys
import uuid as uuidmod


def checksum(buf, off):
    b = bytearray(buf)
    b[off:off + 4] = b"\0\0\0\0"
    return ~sum(b) & 0xFFFFFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("parent")
    ap.add_argument("child")
    ap.add_argument("--block-size", type=int, default=2 << 20)
    ap.add_argument("--write", action="append", default=[])
    ap.add_argument("--garbage", type=lambda s: int(s, 0), default=0xEE)
    ap.add_argument("--relative")
    ap.add_argument("--absolute")
    ap.add_argument("--mac-url")
    ap.add_argument("--name")
    ap.add_argument("--uuid")
    ap.add_argument("--parent-uuid")
    a = ap.parse_args()

    with open(a.parent, "rb") as f:
        head = f.read(512)
        if head[:8] != b"conectix":
            f.seek(-512, os.SEEK_END)
            head = f.read(512)
    if head[:8] != b"conectix":
        sys.exit("parent has no VHD footer")
    parent_uuid = bytes.fromhex(a.parent_uuid) if a.parent_uuid else head[68:84]
    pbase = os.path.basename(a.parent)
    rel = a.relative if a.relative is not None else ".\\" + pbase
    absn = a.absolute if a.absolute is not None else "C:\\images\\" + pbase
    name = a.name if a.name is not None else pbase

    bs = a.block_size
    cur = struct.unpack(">Q", head[48:56])[0]
    nblocks = (cur + bs - 1) // bs
    bitmap_size = ((bs // 4096) + 511) & ~511
    bat_bytes = (4 * nblocks + 511) & ~511

    locs = []
    if rel:
        locs.append((b"W2ru", rel.encode("utf-16-le")))
    if absn:
        locs.append((b"W2ku", absn.encode("utf-16-le")))
    if a.mac_url:
        locs.append((b"MacX", a.mac_url.encode("utf-8")))
    for _, d in locs:
        if len(d) > 512:
            sys.exit("locator too long")

    writes = {}
    for w in a.write:
        blk, first, count, byte = (int(x, 0) for x in w.split(":"))
        writes.setdefault(blk, []).append((first, count, byte))

    data_start = 1536 + bat_bytes + 512 * len(locs)
    bat = [0xFFFFFFFF] * nblocks
    blocks = b""
    pos = data_start
    for blk in sorted(writes):
        bat[blk] = pos // 512
        bitmap = bytearray(bitmap_size)
        data = bytearray([a.garbage]) * bs
        for first, count, byte in writes[blk]:
            for s in range(first, first + count):
                bitmap[s // 8] |= 0x80 >> (s % 8)
                data[s * 512:(s + 1) * 512] = bytes([byte]) * 512
        blocks += bytes(bitmap) + bytes(data)
        pos += bitmap_size + bs

    footer = bytearray(head)
    footer[16:24] = struct.pack(">Q", 512)                # data offset
    footer[60:64] = struct.pack(">I", 4)                  # differencing
    footer[68:84] = bytes.fromhex(a.uuid) if a.uuid else uuidmod.uuid4().bytes
    footer[84] = 0
    footer[64:68] = struct.pack(">I", checksum(footer, 64))

    hdr = bytearray(1024)
    hdr[0:8] = b"cxsparse"
    hdr[8:16] = b"\xff" * 8
    hdr[16:24] = struct.pack(">Q", 1536)
    hdr[24:28] = struct.pack(">I", 0x00010000)
    hdr[28:32] = struct.pack(">I", nblocks)
    hdr[32:36] = struct.pack(">I", bs)
    hdr[40:56] = parent_uuid
    hdr[56:60] = struct.pack(">I", 0)
    pn = name.encode("utf-16-be")[:510]
    hdr[64:64 + len(pn)] = pn
    loc_data = b""
    for i, (code, d) in enumerate(locs):
        off = 1536 + bat_bytes + 512 * i
        hdr[576 + 24 * i:576 + 24 * (i + 1)] = struct.pack(">4sIIIQ", code, 512, len(d), 0, off)
        loc_data += d + b"\0" * (512 - len(d))
    hdr[36:40] = struct.pack(">I", checksum(hdr, 36))

    batb = b"".join(struct.pack(">I", e) for e in bat)
    batb += b"\xff" * (bat_bytes - len(batb))
    with open(a.child, "wb") as f:
        f.write(bytes(footer) + bytes(hdr) + batb + loc_data + blocks + bytes(footer))


if __name__ == "__main__":
    main()
