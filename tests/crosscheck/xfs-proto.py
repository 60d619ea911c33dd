#!/usr/bin/env python3
"""Print an mkfs.xfs protofile that reproduces the tree DIR (directories,
regular files, symlinks; modes kept, owner root), for `mkfs.xfs -p`.
Usage: xfs-proto.py DIR"""
import os
import stat
import sys


def walk(d, depth):
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        st = os.lstat(p)
        pad = " " * depth
        perm = "%03o" % (st.st_mode & 0o777)
        if stat.S_ISLNK(st.st_mode):
            print("%s%s l--%s 0 0 %s" % (pad, n, perm, os.readlink(p)))
        elif stat.S_ISDIR(st.st_mode):
            print("%s%s d--%s 0 0" % (pad, n, perm))
            walk(p, depth + 1)
            print("%s$" % pad)
        else:
            print("%s%s ---%s 0 0 %s" % (pad, n, perm, p))


print("/dev/null\n0 0\nd--755 0 0")
walk(sys.argv[1], 1)
print("$")
