#!/usr/bin/env python3
"""Generate the tar-split test corpus for strata's `tarsplit` crate.

Usage:
    python3 generate.py OUTDIR            # write the corpus
    python3 generate.py OUTDIR --verify   # write it, then re-check every flag

The `tarsplit` crate disassembles a tar stream into tar-split metadata
(raw header/padding segments plus per-file entries) and reassembles the stream
bit-exactly from that metadata and the extracted files.  This script produces
the archives its tests run against: tars written by GNU tar 1.34, bsdtar
(libarchive), Python's `tarfile`, and hand-assembled tars that exercise the
corners of the format (base-256 numbers, signed checksums, header-only types
that carry a size, duplicate paths, missing or junk trailers, old-GNU and
PAX 1.0 sparse members, ...).

OUTDIR (absent or empty) receives the `*.tar` files and `corpus.json`, a JSON
array sorted by name with one object per tar:

    {"name": ..., "source": "gnutar|bsdtar|python|handmade", "about": ...,
     "go_disasm": bool, "gnu_extract": bool, "sparse": bool, "duplicates": bool}

go_disasm    Go's `tar-split disasm --no-stdout --output M X.tar`, then GNU tar
             extraction of X.tar into a fresh DIR, then
             `tar-split asm --input M --path DIR --output OUT` gives an OUT
             byte-identical to X.tar (Debian tar-split 0.11.2).
gnu_extract  `tar -xf X.tar -C DIR --xattrs --xattrs-include='*'
             --numeric-owner --same-permissions` (GNU tar 1.34, as root)
             exits 0.
sparse       the tar holds at least one sparse member.
duplicates   two members of the tar name the same (cleaned) path.

Both tool flags were observed by running the tools on every generated file;
they are hard-coded in CASES below, and `--verify` re-runs the tools and
reports any flag that no longer matches.  Byte identity across runs is not
promised (GNU tar records ctime/atime in some formats, bsdtar's member order
follows readdir), but every run yields archives with the same structure and
flags.

Requirements: Python 3.11 standard library, run as root (mknod, chown,
setuid bits, user.* and trusted.* xattrs), GNU tar 1.34 and bsdtar on PATH;
`--verify` also needs /usr/bin/tar-split.  The source trees are built in a
temporary directory inside OUTDIR (so it must support xattrs, e.g. ext4) and
are removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from typing import Callable

MTIME = 1700000000  # 2023-11-14T22:13:20Z, used for every file we create
BLOCK = 512
RECORD = 10240
EOF_BLOCKS = bytes(2 * BLOCK)

GNU_EXTRACT_OPTS = [
    "--xattrs",
    "--xattrs-include=*",
    "--numeric-owner",
    "--same-permissions",
]


# --------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------

def payload(n: int, seed: str) -> bytes:
    """Deterministic pseudo-random bytes (never all-zero for n > 16)."""
    return hashlib.shake_256(seed.encode()).digest(n) if n else b""


def pad_len(n: int, mult: int = BLOCK) -> int:
    return (-n) % mult


def padded(data: bytes, fill: bytes = b"\0") -> bytes:
    """data followed by padding up to the next 512-byte boundary."""
    n = pad_len(len(data))
    return data + (fill * n)[:n]


def run(cmd: list, *, cwd: str | None = None, stdout=None) -> None:
    """Run an external tool; fail loudly on non-zero exit."""
    res = subprocess.run(cmd, cwd=cwd, stdout=stdout if stdout is not None else subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if res.returncode != 0:
        raise RuntimeError(
            f"command failed ({res.returncode}): {cmd!r}\n{res.stderr.decode(errors='replace')}")


def write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------
# Raw header construction (for the hand-made cases)
# --------------------------------------------------------------------------

USTAR_MAGIC = b"ustar\x0000"      # POSIX: "ustar\0" + version "00"
GNU_MAGIC = b"ustar  \x00"        # old GNU: "ustar " + version " \0"


def octal(value: int, width: int) -> bytes:
    """Zero-padded octal with a trailing NUL, filling `width` bytes."""
    digits = b"%0*o" % (width - 1, value)
    if value < 0 or len(digits) > width - 1:
        raise ValueError(f"{value} does not fit in a {width}-byte octal field")
    return digits + b"\0"


def base256(value: int, width: int) -> bytes:
    """GNU base-256 field: big-endian two's complement, high bit set.

    Positive values get a leading 0x80 marker; negative values are plain
    two's complement, whose first byte is 0xff for anything small.
    """
    if value >= 0:
        raw = bytearray(value.to_bytes(width, "big"))
        if raw[0] & 0x80:
            raise ValueError("value too large for base-256 field")
        raw[0] |= 0x80
        return bytes(raw)
    raw = value.to_bytes(width, "big", signed=True)
    if raw[0] != 0xFF:
        raise ValueError("negative value too large for base-256 field")
    return raw


def checksum(blk: bytes | bytearray, signed: bool = False) -> int:
    """Header checksum with the chksum field counted as eight spaces."""
    tmp = bytes(blk[:148]) + b" " * 8 + bytes(blk[156:BLOCK])
    if signed:
        return sum(b - 256 if b >= 0x80 else b for b in tmp)
    return sum(tmp)


def _field(value, width: int) -> bytes:
    if isinstance(value, int):
        return octal(value, width)
    if isinstance(value, str):
        value = value.encode()
    if len(value) > width:
        raise ValueError(f"{value!r} longer than {width}")
    return value


def header(name, *, typeflag=b"0", size=0, mode=0o644, uid=0, gid=0,
           mtime=MTIME, linkname=b"", magic=USTAR_MAGIC, uname=b"root",
           gname=b"root", devmajor=0, devminor=0, prefix=b"",
           extra: dict | None = None, signed_checksum=False) -> bytes:
    """One 512-byte tar header.

    Numeric arguments may be ints (encoded as octal) or bytes (stored raw,
    e.g. from base256()).  magic=None produces a v7 header: nothing after
    the linkname field.  `extra` maps byte offsets to raw bytes (GNU sparse
    fields and the like) and is applied before the checksum.
    """
    blk = bytearray(BLOCK)

    def put(off, width, value):
        raw = _field(value, width)
        blk[off:off + len(raw)] = raw

    put(0, 100, name)
    put(100, 8, mode)
    put(108, 8, uid)
    put(116, 8, gid)
    put(124, 12, size)
    put(136, 12, mtime)
    blk[156:157] = typeflag
    put(157, 100, linkname)
    if magic is not None:
        put(257, 8, magic)
        put(265, 32, uname)
        put(297, 32, gname)
        if typeflag in (b"3", b"4") or devmajor or devminor:
            put(329, 8, devmajor)
            put(337, 8, devminor)
        put(345, 155, prefix)
    for off, raw in (extra or {}).items():
        blk[off:off + len(raw)] = raw
    blk[148:156] = b"%06o\x00 " % checksum(blk, signed_checksum)
    return bytes(blk)


def member(name, data: bytes = b"", *, pad_fill: bytes = b"\0", **kw) -> bytes:
    """Header + data + padding for a member whose size field is len(data)."""
    kw.setdefault("size", len(data))
    return header(name, **kw) + padded(data, pad_fill)


def pax_record(key, value) -> bytes:
    """One 'LEN key=value\\n' PAX record (LEN counts its own digits)."""
    if isinstance(key, str):
        key = key.encode()
    if isinstance(value, str):
        value = value.encode()
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return str(n).encode() + body


def pax_header(records, *, name=b"PaxHeaders.0/entry", typeflag=b"x") -> bytes:
    """A PAX extended ('x') or global ('g') header member."""
    data = b"".join(pax_record(k, v) for k, v in records)
    return member(name, data, typeflag=typeflag, uname=b"", gname=b"")


def gnu_long(kind: bytes, value: bytes) -> bytes:
    """A GNU ././@LongLink member ('L' long name or 'K' long link name)."""
    data = value + b"\0"
    return member(b"././@LongLink", data, typeflag=kind, magic=GNU_MAGIC,
                  mode=0o644, uname=b"root", gname=b"root", mtime=0)


def sparse_entries(regions, count: int) -> bytes:
    """`count` old-GNU sparse slots (offset[12] + numbytes[12] each)."""
    out = b""
    for off, length in regions:
        out += octal(off, 12) + octal(length, 12)
    return out + bytes(24 * (count - len(regions)))


# --------------------------------------------------------------------------
# Source trees for the tools
# --------------------------------------------------------------------------

LONG_FILE = "very-long-file-name-" * 6                      # 120 bytes
PREFIX_PATH = ("names/" + "p" * 60 + "/" + "q" * 60 + "/file-in-prefix-split-path.txt")


def set_all_mtimes(root: str) -> None:
    """Pin every mtime (and atime) under root, children before parents."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    os.utime(root, (MTIME, MTIME))


def mkfile(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_bytes(path, data)
    os.chmod(path, mode)


def build_full_tree(root: str, *, long_names: bool, big_uid: bool) -> None:
    """The tree the GNU tar / bsdtar format cases archive.

    long_names: include a 120-byte file name, a hardlink and a symlink whose
    targets exceed 100 bytes (not representable in ustar).
    big_uid: include a file owned by uid/gid 3000000 (> 07777777).
    """
    os.makedirs(root)
    files = os.path.join(root, "files")
    for size in (0, 1, 511, 512, 513, 100000):
        mkfile(os.path.join(files, f"size-{size}"), payload(size, f"size-{size}"))

    nested = os.path.join(root, "nested")
    mkfile(os.path.join(nested, "a", "b", "c", "deep.txt"), b"deep\n")
    mkfile(os.path.join(nested, "a", "sibling.txt"), b"sibling\n")
    os.makedirs(os.path.join(nested, "empty-dir"))

    links = os.path.join(root, "links")
    os.makedirs(links)
    os.symlink("../files/size-1", os.path.join(links, "symlink-to-size-1"))
    os.symlink("does/not/exist", os.path.join(links, "dangling-symlink"))
    mkfile(os.path.join(links, "hard-a"), b"one inode, two names\n")
    os.link(os.path.join(links, "hard-a"), os.path.join(links, "hard-b"))

    perm = os.path.join(root, "perm")
    mkfile(os.path.join(perm, "setuid"), b"#!/bin/sh\n", 0o755)
    os.chmod(os.path.join(perm, "setuid"), 0o4755)
    mkfile(os.path.join(perm, "setgid"), b"#!/bin/sh\n", 0o755)
    os.chmod(os.path.join(perm, "setgid"), 0o2755)
    mkfile(os.path.join(perm, "sticky-dir", "inside.txt"), b"inside\n")
    os.chmod(os.path.join(perm, "sticky-dir"), 0o1777)
    mkfile(os.path.join(perm, "read-only"), b"ro\n", 0o444)

    special = os.path.join(root, "special")
    os.makedirs(special)
    os.mkfifo(os.path.join(special, "fifo"), 0o644)
    os.mknod(os.path.join(special, "char-null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(special, "block-loop"), 0o660 | stat.S_IFBLK, os.makedev(7, 0))

    owners = os.path.join(root, "owners")
    mkfile(os.path.join(owners, "uid-1234"), b"owned by 1234\n")
    os.chown(os.path.join(owners, "uid-1234"), 1234, 1234)
    mkfile(os.path.join(owners, "dir-1234", "f"), b"f\n")
    os.chown(os.path.join(owners, "dir-1234"), 1234, 1234)
    os.chown(os.path.join(owners, "dir-1234", "f"), 1234, 1234)
    if big_uid:
        mkfile(os.path.join(owners, "uid-3000000"), b"owned by 3000000\n")
        os.chown(os.path.join(owners, "uid-3000000"), 3000000, 3000000)

    names = os.path.join(root, "names").encode()
    os.makedirs(names)
    write_bytes(os.path.join(names, b"caf\xe9"), b"latin-1 name\n")
    write_bytes(os.path.join(names, 'a<b&c"d.txt'.encode()), b"xml-ish name\n")
    write_bytes(os.path.join(names, "café-日本.txt".encode()), b"utf-8 name\n")
    mkfile(os.path.join(root, PREFIX_PATH), b"prefix-split\n")

    if long_names:
        long_dir = os.path.join(root, "long")
        mkfile(os.path.join(long_dir, LONG_FILE), payload(700, "long"))
        # Sorts after LONG_FILE, so it becomes the hardlink whose target is long.
        os.link(os.path.join(long_dir, LONG_FILE), os.path.join(long_dir, "zz-hardlink-to-long"))
        os.symlink(LONG_FILE, os.path.join(long_dir, "symlink-to-long"))
        deep = os.path.join(long_dir, "d" * 90, "e" * 90)
        mkfile(os.path.join(deep, "in-a-very-deep-directory.txt"), b"deep long path\n")

    set_all_mtimes(root)


def build_small_tree(root: str) -> None:
    os.makedirs(root)
    mkfile(os.path.join(root, "dir", "a.txt"), payload(1000, "small-a"))
    mkfile(os.path.join(root, "dir", "b.txt"), b"b\n")
    os.symlink("dir/a.txt", os.path.join(root, "link"))
    mkfile(os.path.join(root, "top.bin"), payload(2000, "small-top"))
    set_all_mtimes(root)


def write_sparse(path: str, size: int, regions) -> None:
    """A file of `size` bytes with data only in `regions` [(offset, len)]."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off, length in regions:
            f.seek(off)
            f.write(payload(length, f"{path}-{off}"))


def build_sparse_tree(root: str) -> None:
    os.makedirs(root)
    k = 4096
    # Six 4K-aligned data regions in 1 MiB (old GNU: 4 in header + 1 ext block).
    write_sparse(os.path.join(root, "six-regions.bin"), 1 << 20,
                 [(4 * k, k), (36 * k, 2 * k), (80 * k, k), (128 * k, 3 * k),
                  (175 * k, k), (225 * k, 2 * k)])
    # 30 regions: header (4) + first ext block (21) + second ext block (5).
    write_sparse(os.path.join(root, "thirty-regions.bin"), 1 << 20,
                 [(i * 8 * k + k, k) for i in range(30)])
    write_sparse(os.path.join(root, "all-hole.bin"), 1 << 20, [])
    write_sparse(os.path.join(root, "ends-in-data.bin"), 264 * 1024, [(256 * 1024, 8 * 1024)])
    mkfile(os.path.join(root, "dense.txt"), payload(3000, "dense"))
    set_all_mtimes(root)


def build_xattr_tree(root: str, *, trusted: bool) -> None:
    os.makedirs(root)
    f = os.path.join(root, "with-xattrs.txt")
    mkfile(f, b"has xattrs\n")
    os.setxattr(f, "user.comment", b"hello xattr")
    os.setxattr(f, "user.empty", b"")
    os.setxattr(f, "user.binary", bytes(range(256)))
    os.setxattr(f, "user.long", payload(2000, "xattr-long"))
    os.setxattr(f, "user.with=equals", b"a=b\nc")
    d = os.path.join(root, "dir-with-xattr")
    mkfile(os.path.join(d, "plain.txt"), b"no xattrs\n")
    os.setxattr(d, "user.dir", b"directory xattr")
    if trusted:
        # The overlayfs whiteout/opaque markers a layer store cares about.
        os.setxattr(d, "trusted.overlay.opaque", b"y")
        os.setxattr(f, "trusted.strata.test", b"\x00\x01\x02")
    set_all_mtimes(root)


TREES = {
    "full": lambda p: build_full_tree(p, long_names=True, big_uid=True),
    "full-no-big-uid": lambda p: build_full_tree(p, long_names=True, big_uid=False),
    "ustar": lambda p: build_full_tree(p, long_names=False, big_uid=False),
    "small": build_small_tree,
    "sparse": build_sparse_tree,
    "xattr-user": lambda p: build_xattr_tree(p, trusted=False),
    "xattr-mixed": lambda p: build_xattr_tree(p, trusted=True),
}


class Context:
    """Where the cases write, plus lazily built (cached) source trees."""

    def __init__(self, outdir: str, workdir: str):
        self.outdir = outdir
        self.workdir = workdir
        self._trees: dict[str, str] = {}

    def tree(self, kind: str) -> str:
        if kind not in self._trees:
            path = os.path.join(self.workdir, "tree-" + kind)
            TREES[kind](path)
            self._trees[kind] = path
        return self._trees[kind]

    def out(self, name: str) -> str:
        return os.path.join(self.outdir, name)


def top_entries(tree: str) -> list[bytes]:
    return sorted(os.listdir(tree.encode()))


# --------------------------------------------------------------------------
# Tool-made cases
# --------------------------------------------------------------------------

def gnutar(tree: str, *opts: str):
    """GNU tar over a tree; top-level names listed (no './' prefix)."""
    def build(ctx: Context, out: str) -> None:
        root = ctx.tree(tree)
        run([b"tar", *[o.encode() for o in opts], b"--sort=name", b"-cf", out.encode(),
             b"-C", root.encode(), *top_entries(root)])
    return build


def bsdtar(tree: str, *opts: str, pipe: bool = False):
    """bsdtar over a tree as '.', written to a file or through a pipe."""
    def build(ctx: Context, out: str) -> None:
        root = ctx.tree(tree)
        if pipe:
            with open(out, "wb") as f:
                run(["bsdtar", *opts, "-cf", "-", "-C", root, "."], stdout=f)
        else:
            run(["bsdtar", *opts, "-cf", out, "-C", root, "."])
    return build


def python_tarfile(fmt: int, entries: Callable[[], list], **kw):
    def build(ctx: Context, out: str) -> None:
        with tarfile.open(out, "w", format=fmt, encoding="utf-8",
                          errors="surrogateescape", **kw) as tf:
            for info, data in entries():
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return build


def ti(name: str, *, type=tarfile.REGTYPE, data: bytes | None = None, mode=0o644,
       uid=0, gid=0, mtime=MTIME, linkname="", uname="root", gname="root",
       devmajor=0, devminor=0, pax_headers=None):
    info = tarfile.TarInfo(name)
    info.type = type
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.uname, info.gname = uname, gname
    info.mtime = mtime
    info.linkname = linkname
    info.devmajor, info.devminor = devmajor, devminor
    info.size = len(data) if data is not None else 0
    if pax_headers:
        info.pax_headers = pax_headers
    return info, data


def py_common_entries() -> list:
    return [
        ti("dir", type=tarfile.DIRTYPE, mode=0o755),
        ti("dir/empty", data=b""),
        ti("dir/one", data=b"1"),
        ti("dir/513", data=payload(513, "py-513")),
        ti("dir/link", type=tarfile.SYMTYPE, linkname="one", mode=0o777),
        ti("dir/hard", type=tarfile.LNKTYPE, linkname="dir/one"),
        ti("dev-null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        ti("loop0", type=tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o660),
        ti("fifo", type=tarfile.FIFOTYPE),
        ti(PREFIX_PATH, data=b"prefix split by tarfile\n"),
    ]


def py_ustar_entries() -> list:
    return py_common_entries() + [
        ti("owned-1234", data=b"x\n", uid=1234, gid=1234, uname="", gname=""),
    ]


def py_gnu_entries() -> list:
    return py_common_entries() + [
        ti("long/" + LONG_FILE, data=payload(600, "py-long")),
        ti("long/symlink-long-target", type=tarfile.SYMTYPE, linkname="long/" + LONG_FILE),
        ti("long/hardlink-long-target", type=tarfile.LNKTYPE, linkname="long/" + LONG_FILE),
        ti("big-uid", data=b"base-256 uid\n", uid=3000000, gid=3000000, uname="", gname=""),
        ti("caf\udce9", data=b"latin-1 name\n"),
    ]


def py_pax_global_entries() -> list:
    return py_common_entries() + [
        ti("names/café-日本.txt", data=b"utf-8 name\n"),
    ]


def py_pax_member_entries() -> list:
    return py_common_entries() + [
        ti("big-uid", data=b"uid via PAX\n", uid=3000000, gid=3000001, uname="", gname=""),
        ti("fractional-mtime", data=b"mtime.25\n", mtime=MTIME + 0.25),
        ti("with-comment", data=b"c\n",
           pax_headers={"comment": "per-member comment",
                        "SCHILY.xattr.user.demo": "xattr via tarfile"}),
        ti("names/café-日本.txt", data=b"utf-8 name via PAX path\n"),
        ti("long/" + LONG_FILE, data=payload(600, "py-pax-long")),
        ti("long/symlink-long-target", type=tarfile.SYMTYPE, linkname="long/" + LONG_FILE),
        ti("large-size-field", data=payload(3000, "py-pax-size"),
           pax_headers={"size": "3000"}),
    ]


# --------------------------------------------------------------------------
# Hand-made cases
# --------------------------------------------------------------------------

def handmade(fn: Callable[[], bytes]):
    def build(ctx: Context, out: str) -> None:
        write_bytes(out, fn())
    return build


def hm_v7() -> bytes:
    return b"".join([
        member(b"v7-file.txt", b"hello from v7\n", typeflag=b"\0", magic=None),
        member(b"v7-dir/", typeflag=b"\0", mode=0o755, magic=None),
        member(b"v7-dir/inner.txt", b"inner\n", typeflag=b"0", magic=None),
        member(b"v7-dir/hardlink", typeflag=b"1", linkname=b"v7-dir/inner.txt", magic=None),
        member(b"v7-dir/symlink", typeflag=b"2", linkname=b"inner.txt", mode=0o777, magic=None),
        EOF_BLOCKS,
    ])


def hm_base256() -> bytes:
    data = payload(1000, "base256")
    return b"".join([
        member(b"base256-size-uid-mtime.txt", data, size=base256(len(data), 12),
               uid=base256(3000000, 8), gid=base256(3000001, 8),
               mtime=base256(MTIME, 12), magic=GNU_MAGIC, uname=b"", gname=b""),
        member(b"base256-negative-mtime.txt", b"1968\n",
               mtime=base256(-50000000, 12), magic=GNU_MAGIC),
        member(b"base256-mtime-beyond-octal.txt", b"2242\n",
               mtime=base256(8 ** 11 + 12345, 12), magic=GNU_MAGIC),
        member(b"base256-zero-size", size=base256(0, 12), magic=GNU_MAGIC),
        EOF_BLOCKS,
    ])


def hm_signed_checksum() -> bytes:
    name = b"signed-\xe9\xff\x80\xc3\xa9.txt"
    blk = header(name, size=6, signed_checksum=True, magic=USTAR_MAGIC)
    assert checksum(blk, True) != checksum(blk, False)
    return b"".join([
        blk, padded(b"signed"),
        member(b"unsigned-\xe9.txt", b"unsigned"),
        member(b"plain.txt", b"plain\n", signed_checksum=True),  # signed == unsigned here
        EOF_BLOCKS,
    ])


def hm_mode_type_bits() -> bytes:
    return b"".join([
        member(b"typed-dir/", typeflag=b"5", mode=0o40755),
        member(b"typed-dir/file.txt", b"mode 0100644\n", mode=0o100644),
        member(b"typed-dir/exec", b"#!/bin/sh\n", mode=0o100755),
        member(b"typed-dir/link", typeflag=b"2", linkname=b"file.txt", mode=0o120777),
        member(b"typed-dir/fifo", typeflag=b"6", mode=0o10644),
        member(b"typed-dir/setuid", b"su\n", mode=0o104755),
        EOF_BLOCKS,
    ])


def hm_header_only(kind: str) -> Callable[[], bytes]:
    """A header-only type carrying a size field but no data blocks.

    Go's archive/tar ignores the size of such types (the next header follows
    at once), and so does GNU tar 1.34 when extracting.  A reader that skips
    `size` bytes instead (GNU tar 1.34 `-t` does so for symlink, char device
    and fifo, not for hardlink or directory) swallows the filler member that
    follows, which occupies exactly that many blocks, and resynchronises on
    `after.txt`.  Go's tar-split records the size in its file entry, so its
    asm then tries to read the extracted path: checksum mismatch (hardlink,
    symlink), EISDIR (dir), ENXIO (char device 240,0) or it blocks (fifo).
    """
    specs = {
        "hardlink": dict(typeflag=b"1", linkname=b"target.txt", size=5),
        "symlink": dict(typeflag=b"2", linkname=b"target.txt", size=100, mode=0o777),
        "dir": dict(typeflag=b"5", size=700, mode=0o755),
        # 240 is a "local/experimental" major with no driver: opening it fails.
        # (With 1,3 = /dev/null Go's asm "works": it copies 0 bytes from it.)
        "chardev": dict(typeflag=b"3", devmajor=240, devminor=0, size=512, mode=0o666),
        "fifo": dict(typeflag=b"6", size=37),
    }
    spec = specs[kind]

    def fn() -> bytes:
        skip_blocks = -(-spec["size"] // BLOCK)
        filler = []
        if skip_blocks == 1:
            filler.append(member(b"filler-empty", b""))
        else:
            assert skip_blocks == 2
            filler.append(member(b"filler-one-block", b"filler\n"))
        name = f"{kind}-with-size".encode() + (b"/" if kind == "dir" else b"")
        return b"".join([
            member(b"target.txt", b"the target\n"),
            header(name, **spec),
            *filler,
            member(b"after.txt", b"after the odd member\n"),
            EOF_BLOCKS,
        ])
    return fn


def hm_simple_members() -> bytes:
    return b"".join([
        member(b"first.txt", b"first\n"),
        member(b"second.bin", payload(1500, "second")),
    ])


def hm_no_eof() -> bytes:
    return hm_simple_members()


def hm_single_zero_block() -> bytes:
    return hm_simple_members() + bytes(BLOCK)


def hm_trailing_junk() -> bytes:
    return hm_simple_members() + EOF_BLOCKS + (b"JUNK-after-the-end!\n" * 21)[:408]


def hm_record_padded() -> bytes:
    body = hm_simple_members() + EOF_BLOCKS
    return body + bytes(pad_len(len(body), RECORD))


def hm_empty() -> bytes:
    return b""


def hm_only_eof() -> bytes:
    return EOF_BLOCKS


def hm_repeated_longname() -> bytes:
    return b"".join([
        gnu_long(b"L", b"first-long-name-" + b"a" * 100),
        gnu_long(b"L", b"second-long-name-" + b"b" * 100),
        gnu_long(b"L", b"third-long-name-wins-" + b"c" * 100),
        member(b"short-name-in-header", b"which name am I?\n", magic=GNU_MAGIC),
        member(b"next.txt", b"next\n", magic=GNU_MAGIC),
        EOF_BLOCKS,
    ])


def hm_repeated_pax() -> bytes:
    return b"".join([
        pax_header([("path", "first-pax-name.txt"), ("uid", "77"), ("comment", "first x")]),
        pax_header([("path", "second-pax-name.txt"), ("comment", "second x")]),
        member(b"ustar-name.txt", b"two x headers precede me\n"),
        member(b"next.txt", b"next\n"),
        EOF_BLOCKS,
    ])


def hm_pax_overrides() -> bytes:
    long_path = "pax-override/" + "x" * 150 + "/real-name.txt"
    data3 = payload(1300, "pax-size-0")
    data4 = payload(600, "pax-size-1")
    return b"".join([
        pax_header([("path", long_path)]),
        member(b"ustar-name-is-ignored.txt", b"path comes from PAX\n"),
        pax_header([("linkpath", "pax-override/" + "t" * 140 + "/target")]),
        member(b"symlink-pax-linkpath", typeflag=b"2", linkname=b"ustar-linkname-ignored",
               mode=0o777),
        pax_header([("size", str(len(data3)))]),
        header(b"pax-size-ustar-zero.bin", size=0) + padded(data3),
        pax_header([("size", str(len(data4)))]),
        header(b"pax-size-ustar-one.bin", size=1) + padded(data4),
        member(b"after.txt", b"after\n"),
        EOF_BLOCKS,
    ])


def hm_pax_global_mid() -> bytes:
    return b"".join([
        member(b"before-global.txt", b"before\n"),
        pax_header([("comment", "global header in the middle"), ("mtime", "1600000000")],
                   name=b"GlobalHead.0.1", typeflag=b"g"),
        member(b"after-global.txt", b"after\n"),
        pax_header([("comment", "second global header")],
                   name=b"GlobalHead.0.2", typeflag=b"g"),
        member(b"last.txt", b"last\n"),
        EOF_BLOCKS,
    ])


def hm_xattr_records() -> bytes:
    return b"".join([
        pax_header([("SCHILY.xattr.user.schily", "schily value"),
                    ("LIBARCHIVE.xattr.user.libarchive",
                     base64.b64encode(b"libarchive value").decode().rstrip("=")),
                    ("SCHILY.xattr.user.binary", b"\x00\x01\xff"),
                    ]),
        member(b"xattrs.txt", b"xattr records in PAX\n"),
        pax_header([("LIBARCHIVE.xattr.user.only-libarchive",
                     base64.b64encode(b"only").decode())]),
        member(b"libarchive-only.txt", b"only LIBARCHIVE.xattr\n"),
        EOF_BLOCKS,
    ])


def hm_gnu_longlink() -> bytes:
    long_target = b"target-dir/" + b"t" * 120
    return b"".join([
        member(b"target-dir/", typeflag=b"5", mode=0o755, magic=GNU_MAGIC),
        gnu_long(b"L", long_target),
        member(long_target[:99], b"long-named target\n", magic=GNU_MAGIC),
        gnu_long(b"K", long_target),
        member(b"hardlink-long-target", typeflag=b"1", linkname=long_target[:99],
               magic=GNU_MAGIC),
        gnu_long(b"K", b"t" * 120),
        member(b"target-dir/symlink-long-target", typeflag=b"2", linkname=b"t" * 99,
               mode=0o777, magic=GNU_MAGIC),
        gnu_long(b"L", b"target-dir/" + b"s" * 110),
        gnu_long(b"K", b"t" * 130),
        member(b"both-long", typeflag=b"2", linkname=b"t" * 99, mode=0o777, magic=GNU_MAGIC),
        EOF_BLOCKS,
    ])


def hm_dup_same_file() -> bytes:
    return b"".join([
        member(b"dup.txt", b"first version\n"),
        member(b"other.txt", b"other\n"),
        member(b"dup.txt", b"second, longer version wins on extraction\n"),
        EOF_BLOCKS,
    ])


def hm_dup_clean_names() -> bytes:
    return b"".join([
        member(b"./x", b"named ./x\n"),
        member(b"x", b"named x, different content\n"),
        member(b"./d/", typeflag=b"5", mode=0o755),
        member(b"d/", typeflag=b"5", mode=0o700),
        member(b"d//f", b"named d//f\n"),
        member(b"./d/./f", b"named ./d/./f\n"),
        EOF_BLOCKS,
    ])


def hm_dup_file_then_dir() -> bytes:
    return b"".join([
        member(b"p", b"p is a regular file first\n"),
        member(b"p/", typeflag=b"5", mode=0o755),
        member(b"p/child.txt", b"child of p\n"),
        EOF_BLOCKS,
    ])


def hm_dup_dir() -> bytes:
    return b"".join([
        member(b"d/", typeflag=b"5", mode=0o755),
        member(b"d/a.txt", b"a\n"),
        member(b"d/", typeflag=b"5", mode=0o750, uid=1234, gid=1234),
        member(b"d/b.txt", b"b\n"),
        EOF_BLOCKS,
    ])


def hm_non_utf8_name() -> bytes:
    return b"".join([
        member(b"caf\xe9.txt", b"latin-1\n"),
        member(b"\xff\xfe-dir/", typeflag=b"5", mode=0o755),
        member(b"\xff\xfe-dir/\x80\x81.bin", b"invalid utf-8\n"),
        member(b"link-\xe9", typeflag=b"2", linkname=b"caf\xe9.txt", mode=0o777),
        EOF_BLOCKS,
    ])


def hm_nonzero_padding() -> bytes:
    big = payload((1 << 20) + 100, "nonzero-padding-big")
    return b"".join([
        member(b"big-with-junk-padding.bin", big, pad_fill=b"\xaa\x55"),
        member(b"small-with-junk-padding.txt", b"small\n", pad_fill=b"PADDING!"),
        member(b"normal.txt", b"normal padding\n"),
        EOF_BLOCKS,
    ])


def hm_oldgnu_sparse_ext() -> bytes:
    realsize = 65536
    # GNU tar reads every region from a fresh 512-byte block while Go packs them
    # back to back, so (as GNU tar writes them) all but the last region are
    # whole blocks; offsets need not be aligned.
    regions = [(0, 512), (4096, 1024), (10000, 512), (20000, 1536), (40000, 512), (65000, 536)]
    data = b"".join(payload(n, f"oldgnu-sparse-{off}") for off, n in regions)
    extra = {
        386: sparse_entries(regions[:4], 4),
        482: b"\x01",                      # isextended
        483: octal(realsize, 12),          # realsize
    }
    ext = bytearray(BLOCK)
    ext[0:504] = sparse_entries(regions[4:], 21)
    ext[504] = 0                           # no further extension block
    return b"".join([
        member(b"before.txt", b"before\n", magic=GNU_MAGIC),
        header(b"sparse-oldgnu.bin", typeflag=b"S", size=len(data), magic=GNU_MAGIC,
               extra=extra),
        bytes(ext),
        padded(data),
        member(b"after.txt", b"after\n", magic=GNU_MAGIC),
        EOF_BLOCKS,
    ])


def hm_pax_sparse_1_0() -> bytes:
    realsize = 40000
    regions = [(1024, 8192), (16384, 512), (39900, 100)]
    sparse_map = (f"{len(regions)}\n" + "".join(f"{o}\n{n}\n" for o, n in regions)).encode()
    data = b"".join(payload(n, f"pax-sparse-{off}") for off, n in regions)
    body = padded(sparse_map) + data
    return b"".join([
        member(b"before.txt", b"before\n"),
        pax_header([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                    ("GNU.sparse.name", "sparse-pax-1.0.bin"),
                    ("GNU.sparse.realsize", str(realsize))],
                   name=b"./PaxHeaders.0/sparse-pax-1.0.bin"),
        header(b"./GNUSparseFile.0/sparse-pax-1.0.bin", size=len(body)) + padded(body),
        member(b"after.txt", b"after\n"),
        EOF_BLOCKS,
    ])


def hm_large_trailing_zeros() -> bytes:
    return hm_simple_members() + EOF_BLOCKS + bytes(3 << 20)


# --------------------------------------------------------------------------
# The table of cases.  Flags are observed values (see module docstring).
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    source: str
    go_disasm: bool
    gnu_extract: bool
    sparse: bool
    duplicates: bool
    build: Callable[[Context, str], None]
    about: str


PAX_NOTIME = "--pax-option=delete=atime,delete=ctime"
XATTRS = ("--xattrs", "--xattrs-include=*")

# name, source, go_disasm, gnu_extract, sparse, duplicates, builder, about
CASES = [
    # 1. GNU tar formats over the full tree
    Case("gnutar-gnu.tar", "gnutar", True, True, False, False,
         gnutar("full", "--format=gnu"),
         "GNU tar --format=gnu: L/K long names, base-256 uid 3000000, devices, fifo, hardlink"),
    Case("gnutar-oldgnu.tar", "gnutar", True, True, False, False,
         gnutar("full-no-big-uid", "--format=oldgnu"),
         "GNU tar --format=oldgnu: L/K long names, devices, setuid/setgid/sticky, hardlink"),
    Case("gnutar-ustar.tar", "gnutar", True, True, False, False,
         gnutar("ustar", "--format=ustar"),
         "GNU tar --format=ustar: prefix-split path, no long names, no big uid"),
    Case("gnutar-posix.tar", "gnutar", True, True, False, False,
         gnutar("full", "--format=posix"),
         "GNU tar --format=posix default: PAX path/linkpath/uid records, atime/ctime"),
    Case("gnutar-posix-no-atime-ctime.tar", "gnutar", True, True, False, False,
         gnutar("full", "--format=posix", PAX_NOTIME),
         "GNU tar --format=posix --pax-option=delete=atime,delete=ctime"),
    # 2. GNU tar sparse
    Case("gnutar-sparse-gnu.tar", "gnutar", False, True, True, False,
         gnutar("sparse", "--format=gnu", "--sparse"),
         "GNU tar --sparse --format=gnu: 'S' headers with 1 and 2 extension blocks"),
    Case("gnutar-sparse-oldgnu.tar", "gnutar", False, True, True, False,
         gnutar("sparse", "--format=oldgnu", "--sparse"),
         "GNU tar --sparse --format=oldgnu: 'S' headers with extension blocks"),
    Case("gnutar-sparse-pax-0.0.tar", "gnutar", False, True, True, False,
         gnutar("sparse", "--format=posix", "--sparse", "--sparse-version=0.0", PAX_NOTIME),
         "GNU tar PAX sparse 0.0 (GNU.sparse.offset/numbytes record pairs)"),
    Case("gnutar-sparse-pax-0.1.tar", "gnutar", False, True, True, False,
         gnutar("sparse", "--format=posix", "--sparse", "--sparse-version=0.1", PAX_NOTIME),
         "GNU tar PAX sparse 0.1 (GNU.sparse.map record)"),
    Case("gnutar-sparse-pax-1.0.tar", "gnutar", False, True, True, False,
         gnutar("sparse", "--format=posix", "--sparse", "--sparse-version=1.0", PAX_NOTIME),
         "GNU tar PAX sparse 1.0 (sparse map at the start of the member data)"),
    # 3. GNU tar xattrs
    Case("gnutar-xattrs-user.tar", "gnutar", True, True, False, False,
         gnutar("xattr-user", "--format=posix", PAX_NOTIME, *XATTRS),
         "GNU tar --xattrs: user.* xattrs (empty, binary, 2000-byte, '=' in name) as SCHILY.xattr"),
    Case("gnutar-xattrs-mixed.tar", "gnutar", True, True, False, False,
         gnutar("xattr-mixed", "--format=posix", PAX_NOTIME, *XATTRS),
         "GNU tar --xattrs: user.* plus trusted.overlay.opaque, no security.capability"),
    # 4. GNU tar blocking
    Case("gnutar-blocking-default.tar", "gnutar", True, True, False, False,
         gnutar("small", "--format=gnu"),
         "GNU tar default blocking factor 20: zero padding to a 10240-byte record"),
    Case("gnutar-blocking-1.tar", "gnutar", True, True, False, False,
         gnutar("small", "--format=gnu", "-b", "1"),
         "GNU tar -b 1: no record padding beyond the two end blocks"),
    # 5. bsdtar
    Case("bsdtar-default.tar", "bsdtar", True, True, False, False,
         bsdtar("full"),
         "bsdtar default (restricted pax) written to a file: unpadded last record"),
    Case("bsdtar-pax.tar", "bsdtar", True, True, False, False,
         bsdtar("full", "--format", "pax"),
         "bsdtar --format pax to a file: hdrcharset=BINARY for the non-UTF-8 name"),
    Case("bsdtar-ustar.tar", "bsdtar", True, True, False, False,
         bsdtar("ustar", "--format", "ustar"),
         "bsdtar --format ustar to a file"),
    Case("bsdtar-gnutar.tar", "bsdtar", True, True, False, False,
         bsdtar("full", "--format", "gnutar"),
         "bsdtar --format gnutar to a file: ././@LongLink L/K headers"),
    Case("bsdtar-default-pipe.tar", "bsdtar", True, True, False, False,
         bsdtar("full", pipe=True),
         "bsdtar default format through a pipe: last record padded to 10240"),
    Case("bsdtar-pax-pipe.tar", "bsdtar", True, True, False, False,
         bsdtar("full", "--format", "pax", pipe=True),
         "bsdtar --format pax through a pipe: last record padded to 10240"),
    Case("bsdtar-xattrs.tar", "bsdtar", True, True, False, False,
         bsdtar("xattr-user", "--format", "pax", "--xattrs"),
         "bsdtar --xattrs: both LIBARCHIVE.xattr.* and SCHILY.xattr.* records"),
    # 6. Python tarfile
    Case("python-ustar.tar", "python", True, True, False, False,
         python_tarfile(tarfile.USTAR_FORMAT, py_ustar_entries),
         "tarfile USTAR_FORMAT: prefix split, devices, fifo, links, 10240 record"),
    Case("python-gnu-longnames.tar", "python", True, True, False, False,
         python_tarfile(tarfile.GNU_FORMAT, py_gnu_entries),
         "tarfile GNU_FORMAT: ././@LongLink L and K, base-256 uid, latin-1 name"),
    Case("python-pax-global.tar", "python", True, True, False, False,
         python_tarfile(tarfile.PAX_FORMAT, py_pax_global_entries,
                        pax_headers={"comment": "strata tarsplit corpus",
                                     "STRATA.corpus": "1"}),
         "tarfile PAX_FORMAT with a leading global 'g' header"),
    Case("python-pax-member.tar", "python", True, True, False, False,
         python_tarfile(tarfile.PAX_FORMAT, py_pax_member_entries),
         "tarfile PAX_FORMAT: per-member records: uid 3000000, fractional mtime, comment"),
    # 7. Hand-made
    Case("handmade-v7.tar", "handmade", True, True, False, False,
         handmade(hm_v7),
         "v7 headers (no magic); directory via trailing slash with typeflag NUL"),
    Case("handmade-base256.tar", "handmade", True, True, False, False,
         handmade(hm_base256),
         "base-256 size/uid/gid/mtime fields, incl. negative and >8^11 mtimes"),
    Case("handmade-signed-checksum.tar", "handmade", True, True, False, False,
         handmade(hm_signed_checksum),
         "header checksum computed over signed bytes (name has bytes >= 0x80)"),
    Case("handmade-mode-type-bits.tar", "handmade", True, True, False, False,
         handmade(hm_mode_type_bits),
         "mode fields carrying S_IFMT bits (0100644, 040755, 0120777, 010644)"),
    Case("handmade-headeronly-size-hardlink.tar", "handmade", False, True, False, False,
         handmade(hm_header_only("hardlink")),
         "hardlink header with size 5 and no data, then a 1-block filler member"),
    Case("handmade-headeronly-size-symlink.tar", "handmade", False, True, False, False,
         handmade(hm_header_only("symlink")),
         "symlink header with size 100 and no data, then a 1-block filler member"),
    Case("handmade-headeronly-size-dir.tar", "handmade", False, True, False, False,
         handmade(hm_header_only("dir")),
         "directory header with size 700 and no data, then a 2-block filler member"),
    Case("handmade-headeronly-size-chardev.tar", "handmade", False, True, False, False,
         handmade(hm_header_only("chardev")),
         "char device 240,0 header with size 512 and no data, then a 1-block filler member"),
    Case("handmade-headeronly-size-fifo.tar", "handmade", False, True, False, False,
         handmade(hm_header_only("fifo")),
         "fifo header with size 37 and no data, then a 1-block filler member"),
    Case("handmade-no-eof.tar", "handmade", True, True, False, False,
         handmade(hm_no_eof),
         "members only, no end-of-archive blocks at all"),
    Case("handmade-single-zero-block.tar", "handmade", True, True, False, False,
         handmade(hm_single_zero_block),
         "ends with a single zero block"),
    Case("handmade-trailing-junk.tar", "handmade", True, True, False, False,
         handmade(hm_trailing_junk),
         "408 bytes of non-zero junk after the two end blocks (not block aligned)"),
    Case("handmade-record-padded.tar", "handmade", True, True, False, False,
         handmade(hm_record_padded),
         "zero padding to a 10240-byte record after the end blocks"),
    Case("handmade-empty.tar", "handmade", True, False, False, False,
         handmade(hm_empty),
         "zero-byte file (GNU tar: 'This does not look like a tar archive')"),
    Case("handmade-only-eof.tar", "handmade", True, True, False, False,
         handmade(hm_only_eof),
         "just the two zero end blocks"),
    Case("handmade-repeated-gnu-longname.tar", "handmade", True, True, False, False,
         handmade(hm_repeated_longname),
         "three GNU 'L' headers before one member (the last one names it)"),
    Case("handmade-repeated-pax.tar", "handmade", True, True, False, False,
         handmade(hm_repeated_pax),
         "two PAX 'x' headers with different records before one member"),
    Case("handmade-pax-overrides.tar", "handmade", True, True, False, False,
         handmade(hm_pax_overrides),
         "PAX path, linkpath and size overrides (ustar size fields 0 and 1)"),
    Case("handmade-pax-global-mid.tar", "handmade", True, True, False, False,
         handmade(hm_pax_global_mid),
         "PAX global 'g' headers between members"),
    Case("handmade-xattr-records.tar", "handmade", True, True, False, False,
         handmade(hm_xattr_records),
         "SCHILY.xattr.* and LIBARCHIVE.xattr.* (base64) PAX records"),
    Case("handmade-gnu-longlink.tar", "handmade", True, True, False, False,
         handmade(hm_gnu_longlink),
         "GNU 'K' long link names for a hardlink and symlinks, with and without 'L'"),
    Case("handmade-dup-same-file.tar", "handmade", False, True, False, True,
         handmade(hm_dup_same_file),
         "the same regular file path twice with different contents"),
    Case("handmade-dup-clean-names.tar", "handmade", False, True, False, True,
         handmade(hm_dup_clean_names),
         "'./x' vs 'x', './d/' vs 'd/', 'd//f' vs './d/./f': names that clean alike"),
    Case("handmade-dup-file-then-dir.tar", "handmade", False, True, False, True,
         handmade(hm_dup_file_then_dir),
         "regular file 'p' later replaced by directory 'p/' with a child"),
    Case("handmade-dup-dir.tar", "handmade", False, True, False, True,
         handmade(hm_dup_dir),
         "the same directory twice with different mode/owner (tar-split refuses it too)"),
    Case("handmade-non-utf8-name.tar", "handmade", True, True, False, False,
         handmade(hm_non_utf8_name),
         "non-UTF-8 bytes in file, directory and link names"),
    Case("handmade-nonzero-padding.tar", "handmade", True, True, False, False,
         handmade(hm_nonzero_padding),
         "1 MiB+100 file and a small file whose padding bytes are not NUL"),
    Case("handmade-oldgnu-sparse-ext.tar", "handmade", False, True, True, False,
         handmade(hm_oldgnu_sparse_ext),
         "old GNU 'S' member with isextended=1 and one extension block (6 regions)"),
    Case("handmade-pax-sparse-1.0.tar", "handmade", False, True, True, False,
         handmade(hm_pax_sparse_1_0),
         "PAX 1.0 sparse member: GNU.sparse.* records and an in-data sparse map"),
    # 8. Large trailing padding
    Case("handmade-large-trailing-zeros.tar", "handmade", True, True, False, False,
         handmade(hm_large_trailing_zeros),
         "two members, end blocks, then 3 MiB of zeros"),
]


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def generate(outdir: str) -> None:
    if os.path.exists(outdir):
        if not os.path.isdir(outdir) or os.listdir(outdir):
            sys.exit(f"{outdir}: must be an empty directory or absent")
    else:
        os.makedirs(outdir)
    if os.geteuid() != 0:
        sys.exit("must run as root (mknod, chown, setuid bits, trusted.* xattrs)")

    os.umask(0o022)
    workdir = tempfile.mkdtemp(prefix=".build-", dir=outdir)
    try:
        probe = os.path.join(workdir, "xattr-probe")
        write_bytes(probe, b"")
        try:
            os.setxattr(probe, "user.probe", b"1")
        except OSError as e:
            sys.exit(f"{outdir}: filesystem does not support user xattrs ({e})")
        ctx = Context(outdir, workdir)
        names = [c.name for c in CASES]
        assert len(set(names)) == len(names), "duplicate case name"
        for case in CASES:
            case.build(ctx, ctx.out(case.name))
    finally:
        shutil.rmtree(workdir)

    index = [
        {"name": c.name, "source": c.source, "about": c.about,
         "go_disasm": c.go_disasm, "gnu_extract": c.gnu_extract,
         "sparse": c.sparse, "duplicates": c.duplicates}
        for c in sorted(CASES, key=lambda c: c.name)
    ]
    with open(os.path.join(outdir, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2, ensure_ascii=False)
        f.write("\n")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def observe(tar_path: str, scratch: str) -> tuple[bool, bool, str]:
    """Run GNU tar and Go tar-split on one tar: (go_disasm, gnu_extract, notes)."""
    work = tempfile.mkdtemp(dir=scratch)
    notes = []
    try:
        dest = os.path.join(work, "x")
        os.mkdir(dest)
        res = subprocess.run(["tar", "-xf", tar_path, "-C", dest, *GNU_EXTRACT_OPTS],
                             capture_output=True, timeout=60)
        gnu_ok = res.returncode == 0
        if res.stderr:
            notes.append("tar: " + res.stderr.decode(errors="replace").strip().replace("\n", " | "))
        meta = os.path.join(work, "m.gz")
        res = subprocess.run(["tar-split", "disasm", "--no-stdout", "--output", meta, tar_path],
                             capture_output=True, timeout=60)
        go_ok = False
        if res.returncode != 0:
            notes.append("disasm failed: " + res.stderr.decode(errors="replace").strip()[-200:])
        else:
            out = os.path.join(work, "out.tar")
            try:
                res = subprocess.run(["tar-split", "asm", "--input", meta, "--path", dest,
                                      "--output", out], capture_output=True, timeout=10)
                if res.returncode != 0:
                    notes.append("asm failed: " + res.stderr.decode(errors="replace").strip()[-200:])
                elif sha256_file(out) != sha256_file(tar_path):
                    notes.append(f"asm output differs ({os.path.getsize(out)} vs "
                                 f"{os.path.getsize(tar_path)} bytes)")
                else:
                    go_ok = True
            except subprocess.TimeoutExpired:
                notes.append("asm timed out (blocked opening a fifo?)")
        return go_ok, gnu_ok, "; ".join(notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verify(outdir: str) -> bool:
    scratch = tempfile.mkdtemp(prefix=".verify-", dir=outdir)
    ok = True
    try:
        for case in sorted(CASES, key=lambda c: c.name):
            go_ok, gnu_ok, notes = observe(os.path.join(outdir, case.name), scratch)
            bad = (go_ok != case.go_disasm) or (gnu_ok != case.gnu_extract)
            ok &= not bad
            print(f"{'MISMATCH' if bad else 'ok':8} {case.name:42} go_disasm={go_ok!s:5} "
                  f"gnu_extract={gnu_ok!s:5} {notes}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--verify", action="store_true",
                    help="after generating, run GNU tar and tar-split and compare flags")
    args = ap.parse_args()
    outdir = os.path.abspath(args.outdir)
    generate(outdir)
    if args.verify and not verify(outdir):
        sys.exit("some flags do not match the observed behaviour")


if __name__ == "__main__":
    main()
