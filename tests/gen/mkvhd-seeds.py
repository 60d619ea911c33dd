#!/usr/bin/env python3
"""mkvhd-seeds.py OUTDIR -- tiny VHD fuzz seeds (tests/fuzz/corpus/vhd-*).

Built from the VHD specification, a few KiB each:
  vhd-dynamic.vhd       dynamic, 4 KiB disk, 512-byte blocks (qemu's bitmap
                        size is 0 for them), blocks 0 and 5 allocated
  vhd-dynamic-4k.vhd    dynamic, 16 KiB disk, 4 KiB blocks (512-byte bitmap)
  vhd-fixed.vhd         fixed, 1 KiB disk + footer, creator "tap\\0"
  vhd-diff.vhd          differencing, 16 KiB, 4 KiB blocks, bitmap 0x0f, W2ru,
                        W2ku and MacX locators and a header parent name (opened
                        from memory the parent is refused, after parsing)
"""
import os
import struct
import sys


def csum(b, off):
    b = bytearray(b)
    b[off:off + 4] = b"\0\0\0\0"
    return ~sum(b) & 0xFFFFFFFF


def footer(size, dtype, data_off, app=b"win "):
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">IIQI4sHH4sQQHBBI", f, 8, 2, 0x10000, data_off, 0, app, 5, 3,
                     b"Wi2k", size, size, size // 512 // 68 or 1, 4, 17, dtype)
    f[68:84] = bytes(range(1, 17))
    struct.pack_into(">I", f, 64, csum(f, 64))
    return bytes(f)


def dynamic(size, bs, alloc, dtype=3, bitmap_fill=0xFF, locs=(), pname=""):
    n = (size + bs - 1) // bs
    bm = ((bs // 4096) + 511) & ~511 if dtype == 3 else (((bs // 512 + 7) // 8) + 511) & ~511
    bat_bytes = (4 * n + 511) & ~511
    data = 1536 + bat_bytes + 512 * len(locs)
    hdr = bytearray(1024)
    hdr[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", hdr, 8, 2**64 - 1, 1536, 0x10000, n, bs)
    hdr[40:56] = bytes(range(16, 32))
    p = pname.encode("utf-16-be")
    hdr[64:64 + len(p)] = p
    locdata = b""
    for i, (code, d) in enumerate(locs):
        struct.pack_into(">4sIIIQ", hdr, 576 + 24 * i, code, 512, len(d), 0,
                         1536 + bat_bytes + 512 * i)
        locdata += d + b"\0" * (512 - len(d))
    struct.pack_into(">I", hdr, 36, csum(hdr, 36))
    bat = [0xFFFFFFFF] * n
    blocks = b""
    pos = data
    for i in alloc:
        bat[i] = pos // 512
        blocks += bytes([bitmap_fill]) * bm + bytes([0x40 + i]) * bs
        pos += bm + bs
    batb = b"".join(struct.pack(">I", e) for e in bat) + b"\xff" * (bat_bytes - 4 * n)
    ft = footer(size, dtype, 512)
    return ft + bytes(hdr) + batb + locdata + blocks + ft


out = sys.argv[1]
seeds = {
    "vhd-dynamic.vhd": dynamic(4096, 512, [0, 5]),
    "vhd-dynamic-4k.vhd": dynamic(16384, 4096, [1, 3]),
    "vhd-fixed.vhd": bytes([0x5A]) * 1024 + footer(1024, 2, 2**64 - 1, b"tap\0"),
    "vhd-diff.vhd": dynamic(16384, 4096, [0, 2], dtype=4, bitmap_fill=0x0F,
                            locs=[(b"W2ru", ".\\p.vhd".encode("utf-16-le")),
                                  (b"W2ku", "C:\\x\\p.vhd".encode("utf-16-le")),
                                  (b"MacX", b"file://localhost/tmp/p.vhd")],
                            pname="p.vhd"),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
