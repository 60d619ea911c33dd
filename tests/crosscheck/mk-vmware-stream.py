#!/usr/bin/env python3
"""Write a VMware-style streamOptimized VMDK (docs/formats.md, VMDK streamOptimized), which
qemu-img cannot make: gd_offset = GD_AT_END in the primary header, grains
as marker + zlib stream, a GT marker before each grain table, a GD marker
before the grain directory, then footer marker + footer header + EOS.

  mk-vmware-stream.py RAW OUT [--grain-sectors N] [--zeroed] [--no-eos]

Only grains that are not all zero are stored (like VMware).  --no-eos leaves
the end-of-stream marker out (a broken file for the unit tests).
"""
import struct, sys, zlib

SECTOR = 512


def header(capacity, grain, gtes, gd_offset, desc_off, desc_size, overhead, flags):
    h = bytearray(SECTOR)
    struct.pack_into('<4sIIQQQQIQQQ', h, 0, b'KDMV', 3, flags, capacity, grain,
                     desc_off, desc_size, gtes, 0, gd_offset, overhead)
    h[72] = 0
    h[73:77] = b'\n \r\n'
    struct.pack_into('<H', h, 77, 1)
    return bytes(h)


def marker(value, mtype):
    m = bytearray(SECTOR)
    struct.pack_into('<QII', m, 0, value, 0, mtype)
    return bytes(m)


def pad(b):
    return b + b'\0' * (-len(b) % SECTOR)


def main():
    args = sys.argv[1:]
    grain = 128
    no_eos = '--no-eos' in args
    if '--grain-sectors' in args:
        i = args.index('--grain-sectors')
        grain = int(args[i + 1])
        del args[i:i + 2]
    args = [a for a in args if not a.startswith('--')]
    raw, out = args
    data = open(raw, 'rb').read()
    size = len(data)
    capacity = (size + SECTOR - 1) // SECTOR
    gtes = 512
    gbytes = grain * SECTOR
    ngrains = (capacity + grain - 1) // grain
    ngts = (ngrains + gtes - 1) // gtes
    desc = (
        '# Disk DescriptorFile\nversion=1\nCID=2b5e4d31\nparentCID=ffffffff\n'
        'createType="streamOptimized"\n\n# Extent description\n'
        'RW %d SPARSE "vw.vmdk"\n\n# The Disk Data Base\n#DDB\n\n'
        'ddb.virtualHWVersion = "4"\nddb.adapterType = "lsilogic"\n' % capacity
    ).encode()
    desc = pad(desc)
    flags = 0x30001
    f = bytearray()
    f += header(capacity, grain, gtes, 0xFFFFFFFFFFFFFFFF, 1, len(desc) // SECTOR, 128, flags)
    f += desc
    f += b'\0' * (128 * SECTOR - len(f))
    gte = [0] * (ngts * gtes)
    for g in range(ngrains):
        chunk = data[g * gbytes:(g + 1) * gbytes]
        if not chunk.strip(b'\0'):
            continue
        if len(chunk) < gbytes and (g + 1) * gbytes <= capacity * SECTOR:
            chunk += b'\0' * (gbytes - len(chunk))
        # the last grain may be partial: the stream holds what the disk has
        last = min(gbytes, capacity * SECTOR - g * gbytes)
        chunk = chunk + b'\0' * (last - len(chunk))
        z = zlib.compress(chunk, 6)
        gte[g] = len(f) // SECTOR
        f += pad(struct.pack('<QI', g * grain, len(z)) + z)
    gd = []
    for t in range(ngts):
        entries = gte[t * gtes:(t + 1) * gtes]
        f += marker(4, 1)           # GT marker: 4 sectors of table follow
        gd.append(len(f) // SECTOR)
        f += pad(struct.pack('<%dI' % gtes, *entries))
    gd_sectors = (ngts * 4 + SECTOR - 1) // SECTOR
    f += marker(gd_sectors, 2)
    gd_off = len(f) // SECTOR
    f += pad(struct.pack('<%dI' % ngts, *gd))
    f += marker(1, 3)
    f += header(capacity, grain, gtes, gd_off, 1, len(desc) // SECTOR, 128, flags)
    if not no_eos:
        f += marker(0, 0)
    open(out, 'wb').write(f)


if __name__ == '__main__':
    main()
