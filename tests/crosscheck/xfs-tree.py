#!/usr/bin/env python3
"""xfs-tree.py -- helpers of tests/crosscheck/xfs.sh.

  populate ROOT [DEBDIR]   build the synthetic tree under the mounted ROOT
  oracle ROOT [SKIP...]    list ROOT as imgfmt-ls -R --output=json would,
                           from the kernel's view (os.lstat, getdents order,
                           sha256 of regular files except under SKIP dirs)
  compare A.json B.json    same entries, same order, same fields (B may
                           lack sha256 where A has none)
  v4src DIR                a source tree for the v4 image (names without
                           blanks: a protofile splits on them)
  proto DIR                the mkfs.xfs protofile that copies DIR
  v4check SRC OURS.json IMAGE   our listing against the source tree
                           (contents, targets) and xfs_db (names, inode
                           numbers, mode, ids, size, links)
"""
import concurrent.futures
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
    out, todo = [], []

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
                todo.append(e)
            out.append(e)
            if stat.S_ISDIR(st.st_mode):
                walk(p)
    walk("")
    # Reads through the loop device wait on it: overlap them.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for e, h in zip(todo, pool.map(lambda e: sha256_of(root + e["path"]), todo)):
            e["sha256"] = h
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


def v4src(d):
    os.makedirs(f"{d}/node")
    for i in range(3000):                        # a node directory
        write(f"{d}/node/entry-{i:04d}", b"%d\n" % i)
    os.makedirs(f"{d}/long")
    for i in range(300):                         # long names: a B+ tree directory
        write(f"{d}/long/{'l' * 240}-{i:03d}", b"l")
    write(f"{d}/blob", hashlib.sha256(b"v4").digest() * 65536)   # 2 MiB
    os.symlink("blob", f"{d}/short")
    os.symlink("/" + "v" * 700, f"{d}/remote")
    write(f"{d}/utf8-héllo-日本", b"utf8\n")
    os.mknod(f"{d}/chr", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(f"{d}/fifo")


def proto(d):
    def mode(st):
        kind = {stat.S_IFREG: "-", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
                stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(st.st_mode)]
        return (kind + ("u" if st.st_mode & 0o4000 else "-") +
                ("g" if st.st_mode & 0o2000 else "-") + "%03o" % (st.st_mode & 0o777))

    def tree(path):
        for name in sorted(os.listdir(path)):
            p = f"{path}/{name}"
            st = os.lstat(p)
            line = f"{name} {mode(st)} {st.st_uid} {st.st_gid}"
            if stat.S_ISREG(st.st_mode):
                print(f"{line} {p}")
            elif stat.S_ISLNK(st.st_mode):
                print(f"{line} {os.readlink(p)}")
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                print(f"{line} {os.major(st.st_rdev)} {os.minor(st.st_rdev)}")
            elif stat.S_ISDIR(st.st_mode):
                print(line)
                tree(p)
                print("$")
            else:
                print(line)
    print("v4-crosscheck\n0 0\nd--755 0 0")
    tree(d)
    print("$")


def xfs_db_inodes(image, inos):
    cmds = []
    for i in inos:
        cmds += ["-c", f"inode {i}", "-c",
                 "print core.mode core.uid core.gid core.size core.nlinkv2"]
    out = subprocess.run(["xfs_db", "-r"] + cmds + [image], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    vals = [line.split(" = ", 1)[1] for line in out if " = " in line]
    return {i: vals[5 * k:5 * k + 5] for k, i in enumerate(inos)}


def v4check(src, ours_path, image):
    ours = json.load(open(ours_path))
    bad = 0
    if sorted(e["path"] for e in ours) != sorted(
            os.path.join(r, n)[len(src):] for r, ds, fs in os.walk(src) for n in ds + fs):
        print("v4: names differ from the source tree")
        bad += 1
    for e in ours:
        p = src + e["path"]
        if e["type"] == "file" and e["sha256"] != sha256_of(p):
            print(f"v4: {e['path']}: content differs")
            bad += 1
        if e["type"] == "symlink" and e["target"] != os.readlink(p):
            print(f"v4: {e['path']}: target differs")
            bad += 1
    sample = ours[::37] + ours[-3:]
    db = xfs_db_inodes(image, [e["ino"] for e in sample])
    for e in sample:
        want = [oct(e["mode"] | {"file": 0o100000, "dir": 0o40000, "symlink": 0o120000,
                                 "chardev": 0o20000, "fifo": 0o10000}[e["type"]])
                .replace("0o", "0"), str(e["uid"]), str(e["gid"]), str(e["size"]),
                str(e["nlink"])]
        if db[e["ino"]] != want:
            print(f"v4: {e['path']}: xfs_db says {db[e['ino']]}, we say {want}")
            bad += 1
    print(f"v4: compared {len(ours)} entries with the source, {len(sample)} with xfs_db, "
          f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "populate":
        populate(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "oracle":
        oracle(sys.argv[2], sys.argv[3:])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    elif cmd == "v4src":
        v4src(sys.argv[2])
    elif cmd == "proto":
        proto(sys.argv[2])
    elif cmd == "v4check":
        sys.exit(v4check(sys.argv[2], sys.argv[3], sys.argv[4]))
