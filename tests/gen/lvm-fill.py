#!/usr/bin/env python3
"""Write the test pattern of every visible linear/striped LV straight into
the image files, at the physical extents lvm2 reports (for machines without
device-mapper, where LVs cannot be activated).

    lvm-fill.py [--content LV=FILE]... SEGS PVS DEV=FILE:OFFSET...

SEGS: `lvs --segments --units b --nosuffix --separator '|' -o
lv_name,lv_attr,seg_start,seg_size,stripes,stripe_size,seg_pe_ranges,segtype`;
PVS: `pvs --units b --nosuffix --separator '|' -o pv_name,pe_start,vg_extent_size`;
DEV=FILE:OFFSET: the loop device DEV shows FILE from byte OFFSET.

The pattern: 4 KiB blocks, block k of LV <lv> starting with "<lv> block <k>\\n",
zero-filled; with --content, LV gets the bytes of FILE instead (a file
system made by mke2fs into a file of the LV's size).  A k-stripe segment is laid out as dm-stripe does: chunk c of
stripe_size bytes goes to stripe c mod k, row c div k, stripes in the order
lvs lists the PE ranges."""
import sys


def pattern(lv, k):
    return (b"%s block %d\n" % (lv.encode(), k)).ljust(4096, b"\0")


def main():
    args, content = sys.argv[1:], {}
    while args[0] == "--content":
        lv, f = args[1].split("=", 1)
        content[lv] = open(f, "rb").read()
        args = args[2:]
    segs, pvs, maps = args[0], args[1], args[2:]
    where = {}
    for m in maps:
        dev, rest = m.split("=", 1)
        f, off = rest.rsplit(":", 1)
        where[dev] = (f, int(off))
    pe_start, ext = {}, 0
    for line in open(pvs):
        name, start, e = [x.strip() for x in line.split("|")]
        if name in where and e:
            pe_start[name] = int(start)
            ext = int(e)
    for line in open(segs):
        lv, attr, start, size, stripes, ss, ranges, segtype = \
            [x.strip() for x in line.split("|")]
        if attr[0] != "-" or segtype not in ("linear", "striped"):
            continue   # hidden LVs, thin pools, ...: no pattern
        start, size, k = int(start), int(size), int(stripes)
        ss = int(ss) if k > 1 else size
        areas = []
        for r in ranges.split():
            dev, pe = r.rsplit(":", 1)
            areas.append((dev, int(pe.split("-")[0])))
        for lvoff in range(start, start + size, 4096):
            chunk, within = divmod(lvoff - start, ss)
            row, stripe = divmod(chunk, k)
            dev, pe0 = areas[stripe]
            f, base = where[dev]
            with open(f, "r+b") as fh:
                fh.seek(base + pe_start[dev] + pe0 * ext + row * ss + within)
                if lv in content:
                    fh.write(content[lv][lvoff:lvoff + 4096])
                else:
                    fh.write(pattern(lv, lvoff // 4096))


main()
