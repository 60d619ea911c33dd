#!/usr/bin/env python3
"""ext4-oracle.py -- the independent answers the ext4 cross-check compares
our listing (imgfmt-ls / fs-dump JSON) with.

  ext4-oracle.py debugfs IMAGE SCRATCH OURS.json [--no-hash]
      `ls -p` of every directory (order, inode, mode, uid, gid, size), and
      unless --no-hash a debugfs rdump of the whole tree (contents, symlink
      targets, mtimes).
      The order must match ours entry for entry.
  ext4-oracle.py kernel MOUNTPOINT OURS.json [--no-hash]
      the kernel through a loop mount: lstat of every path (type, mode,
      uid, gid, size, mtime, inode, nlink, device numbers), readlink, sha256.  Order is
      not compared (the kernel lists htree directories in hash order).

Prints the disagreements (at most 30) and exits 1 if there are any.
"""
import hashlib
import json
import os
import stat
import subprocess
import sys

TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
         stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo",
         stat.S_IFSOCK: "socket"}


def fsdecode(b):
    return b.decode("utf-8", "surrogateescape")


def sha256_of(path, size=None):
    h = hashlib.sha256()
    left = size
    with open(path, "rb") as f:
        while left is None or left > 0:
            b = f.read(1 << 20 if left is None else min(left, 1 << 20))
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return h.hexdigest()


def debugfs_ls(image, dirs, scratch):
    """{dir: [(name, ino, mode, uid, gid, size-or-None)]} from one debugfs
    run of `ls -p` per directory."""
    cmds = os.path.join(scratch, "ls.cmd")
    with open(cmds, "w", encoding="utf-8", errors="surrogateescape") as f:
        for d in dirs:
            f.write('ls -p "%s"\n' % d)
    out = subprocess.run(["debugfs", "-f", cmds, image], capture_output=True,
                         check=True).stdout
    listing, current, i = {}, None, -1
    for line in out.split(b"\n"):
        if line.startswith(b"debugfs: ls -p "):
            i += 1
            current = listing.setdefault(dirs[i], [])
            continue
        if not line.startswith(b"/") or current is None:
            continue
        parts = line.split(b"/")
        name = fsdecode(b"/".join(parts[5:-2]))
        if name in (".", "..") or int(parts[1]) == 0:
            continue
        size = int(parts[-2]) if parts[-2] else None
        current.append((name, int(parts[1]), int(parts[2], 8), int(parts[3]),
                        int(parts[4]), size))
    return listing


def debugfs_tree(image, scratch):
    """The listing of every directory, found level by level."""
    listing, level = {}, ["/"]
    while level:
        found = debugfs_ls(image, level, scratch)
        listing.update(found)
        level = [(d if d != "/" else "") + "/" + name
                 for d in level for name, _, mode, *_ in found.get(d, [])
                 if stat.S_ISDIR(mode)]
    return listing


def from_debugfs(image, scratch, hashes):
    listing = debugfs_tree(image, scratch)
    rd = None
    if hashes:   # rdump writes holes out as zeros: not for the huge sparse files
        rd = os.path.join(scratch, "rdump")
        os.makedirs(rd)
        subprocess.run(["debugfs", "-R", "rdump / " + rd, image], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = []

    def emit(d):
        for name, ino, mode, uid, gid, size in listing.get(d, []):
            path = (d if d != "/" else "") + "/" + name
            t = TYPES.get(stat.S_IFMT(mode), "unknown")
            e = {"path": path, "type": t, "mode": mode & 0o7777, "uid": uid,
                 "gid": gid, "ino": ino}
            if size is not None:
                e["size"] = size
            local = rd + path if rd else None
            if local and t in ("file", "dir"):
                # rdump sets times from the low 32 bits taken as unsigned
                # (before 1970 or past 2106 they come out shifted by 2^32):
                # compared modulo 2^32, the kernel checks the full value.
                e["mtime%2^32"] = int(os.lstat(local).st_mtime // 1) % (1 << 32)
            if local and t == "file":
                # rdump writes inline-data files padded to the inline
                # capacity (60 bytes and more): only the first size bytes.
                e["sha256"] = sha256_of(local, size)
            elif local and t == "symlink":
                e["target"] = fsdecode(os.readlink(os.fsencode(local)))
            result.append(e)
            if t == "dir":
                emit(path)
    emit("/")
    return result


def from_kernel(mnt, hashes):
    result = []
    for top, subdirs, files in os.walk(mnt):
        for name in subdirs + files:
            local = os.path.join(top, name)
            st = os.lstat(local)
            t = TYPES.get(stat.S_IFMT(st.st_mode), "unknown")
            e = {"path": "/" + os.path.relpath(local, mnt), "type": t,
                 "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid,
                 "size": st.st_size, "mtime": int(st.st_mtime // 1),
                 "ino": st.st_ino, "nlink": st.st_nlink}
            if t in ("chardev", "blockdev"):
                e["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            if t == "file" and hashes:
                e["sha256"] = sha256_of(local)
            elif t == "symlink":
                e["target"] = os.readlink(local)
            result.append(e)
    return result


def compare(ours, theirs, ordered, who):
    bad = []
    mine = {e["path"]: e for e in ours}
    if len(mine) != len(ours):
        bad.append("duplicate paths in our listing")
    if ordered and [e["path"] for e in ours] != [e["path"] for e in theirs]:
        a, b = [e["path"] for e in ours], [e["path"] for e in theirs]
        first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                     min(len(a), len(b)))
        bad.append("order differs at entry %d: ours %r, %s %r"
                   % (first, a[first:first + 1], who, b[first:first + 1]))
    paths = {e["path"] for e in theirs}
    for p in sorted(set(mine) - paths):
        bad.append("%s: only in our listing" % p)
    for e in theirs:
        m = mine.get(e["path"])
        if m is None:
            bad.append("%s: missing from our listing" % e["path"])
            continue
        for k, v in e.items():
            if k == "mtime%2^32":
                if m.get("mtime", 0) % (1 << 32) != v:
                    bad.append("%s: mtime ours %r, %s %r (mod 2^32)"
                               % (e["path"], m.get("mtime"), who, v))
            elif m.get(k) != v:
                bad.append("%s: %s ours %r, %s %r" % (e["path"], k, m.get(k), who, v))
    for line in bad[:30]:
        print("FAIL:", line)
    print("%s: compared %d entries (%d files), %d disagreements"
          % (who, len(theirs), sum(e["type"] == "file" for e in theirs), len(bad)))
    return not bad


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    hashes = "--no-hash" not in args
    args = [a for a in args if a != "--no-hash"]
    if mode == "debugfs":
        image, scratch, ours = args
        theirs, ordered = from_debugfs(image, scratch, hashes), True
    else:
        mnt, ours = args
        theirs, ordered = from_kernel(mnt, hashes), False
    with open(ours, "rb") as f:
        mine = json.loads(f.read().decode("utf-8", "surrogateescape"))
    sys.exit(0 if compare(mine, theirs, ordered, mode) else 1)


if __name__ == "__main__":
    main()
