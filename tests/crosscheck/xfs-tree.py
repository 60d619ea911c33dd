#!/usr/bin/env python3
"""xfs-tree.py -- helpers of tests/crosscheck/xfs.sh.

  populate ROOT [DEBDIR]   build the synthetic tree under the mounted ROOT
  oracle ROOT [SKIP...]    list ROOT as imgfmt-ls -R --output=json would,
                           from the kernel's view (os.lstat, getdents order,
                           sha256 of regular files except under SKIP dirs)
  compare A.json B.json    same entries, same order, same fields (B may
                           lack sha256 where A has none)
"""
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys

TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
         stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo",
         stat.S_IFSOCK: "socket"}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def xfs_io(path, cmds):
    args = ["xfs_io", "-f"]
    for c in cmds:
        args += ["-c", c]
    subprocess.run(args + [path], check=True, stdout=subprocess.DEVNULL)


def populate_big(root):
    os.mkdir(f"{root}/big")                      # 50,000 entries: a node/B+ tree dir
    for i in range(50000):
        write(f"{root}/big/f{i:05d}", b"%d\n" % i)


def populate_files(root):
    os.mkdir(f"{root}/sparse")                   # > 4 GiB, mostly holes
    with open(f"{root}/sparse/big", "wb") as f:
        for off in (0, 2 << 30, (4 << 30) + 4096):
            f.seek(off)
            f.write(bytes([65 + (off >> 30)]) * 4096)
        f.truncate((4 << 30) + 12288)
    os.mkdir(f"{root}/frag")                     # thousands of extents: a 2-level bmbt
    rnd = hashlib.sha256(b"frag").digest() * (48 << 15)
    write(f"{root}/frag/file", rnd[:48 << 20])
    xfs_io(f"{root}/frag/file", [f"fpunch {o} 4096" for o in range(0, 48 << 20, 8192)])
    write(f"{root}/frag/small", rnd[:1 << 20])
    xfs_io(f"{root}/frag/small", [f"fpunch {o} 4096" for o in range(0, 1 << 20, 65536)])
    os.mkdir(f"{root}/prealloc")                 # unwritten extents read as zeros
    xfs_io(f"{root}/prealloc/file", ["falloc 0 1m", "pwrite -S 0x61 256k 4k",
                                     "truncate 2m"])
    os.mkdir(f"{root}/hl")                       # hard links
    os.mkdir(f"{root}/hl2")
    write(f"{root}/hl/a", b"hard link\n")
    os.link(f"{root}/hl/a", f"{root}/hl/b")
    os.link(f"{root}/hl/a", f"{root}/hl2/c")


def populate_names(root):
    os.mkdir(f"{root}/names")
    for n in ("n" * 255, "héllo wörld", "日本語のファイル名", "emoji-\U0001f642",
              "with space", "tab\there", "dash-", "UPPER", "upper"):
        write(f"{root}/names/{n}", n.encode() + b"\n")
    os.mkdir(f"{root}/links")
    os.symlink("../hl/a", f"{root}/links/short")
    os.symlink("/" + "x" * 599, f"{root}/links/remote600")
    os.symlink("/" + "/".join(["d" * 99] * 10), f"{root}/links/remote1000")
    os.symlink("/nowhere/at/all", f"{root}/links/dangling")
    os.mkdir(f"{root}/dev")
    os.mknod(f"{root}/dev/chr", 0o620 | stat.S_IFCHR, os.makedev(4, 64))
    os.mknod(f"{root}/dev/blk", 0o660 | stat.S_IFBLK, os.makedev(259, 70000))
    os.mkfifo(f"{root}/dev/fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind(f"{root}/dev/sock")
    s.close()


def populate_attrs(root):
    os.mkdir(f"{root}/perm")
    for name, mode, uid, gid in (("suid", 0o4755, 0, 0), ("sgid", 0o2750, 1234, 5678),
                                 ("plain", 0o640, 65534, 65534), ("big-ids", 0o600,
                                                                  4000000000, 3000000000)):
        write(f"{root}/perm/{name}", name.encode())
        os.chown(f"{root}/perm/{name}", uid, gid)
        os.chmod(f"{root}/perm/{name}", mode)
    os.mkdir(f"{root}/perm/sticky")
    os.chmod(f"{root}/perm/sticky", 0o1777)
    os.mkdir(f"{root}/times")
    for name, ns in (("y1960", -315619200 * 10**9 + 5), ("y2100", 4102444800 * 10**9 + 123),
                     ("y2038", 2147483647 * 10**9 + 999999999), ("epoch", 0)):
        write(f"{root}/times/{name}", b"t")
        os.utime(f"{root}/times/{name}", ns=(ns, ns))


def populate(root, debdir=None):
    populate_big(root)
    populate_files(root)
    populate_names(root)
    populate_attrs(root)
    if debdir:
        shutil.copytree(debdir, f"{root}/deb", symlinks=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def oracle(root, skip):
    out = []

    def walk(rel):
        for name in os.listdir(root + rel or "/"):
            p = f"{rel}/{name}"
            st = os.lstat(root + p)
            e = {"path": p, "type": TYPES[stat.S_IFMT(st.st_mode)],
                 "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid,
                 "size": st.st_size, "mtime": st.st_mtime_ns // 10**9, "ino": st.st_ino,
                 "nlink": st.st_nlink}
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            if stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(root + p)
            if stat.S_ISREG(st.st_mode) and not any(p.startswith(s + "/") for s in skip):
                e["sha256"] = sha256_of(root + p)
            out.append(e)
            if stat.S_ISDIR(st.st_mode):
                walk(p)
    walk("")
    json.dump(out, sys.stdout)


def compare(a_path, b_path):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    bad = 0
    if [e["path"] for e in a] != [e["path"] for e in b]:
        sa, sb = {e["path"] for e in a}, {e["path"] for e in b}
        print(f"order or names differ: {len(a)} vs {len(b)} entries; only in first: "
              f"{sorted(sa - sb)[:5]}; only in second: {sorted(sb - sa)[:5]}")
        bad += 1
    bmap = {e["path"]: e for e in b}
    for e in a:
        o = bmap.get(e["path"])
        if o is None:
            continue
        for k, v in e.items():
            if o.get(k) != v:
                print(f"{e['path']}: {k}: {v!r} vs {o.get(k)!r}")
                bad += 1
                break
    print(f"compared {len(a)} entries, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "populate":
        populate(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "oracle":
        oracle(sys.argv[2], sys.argv[3:])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
