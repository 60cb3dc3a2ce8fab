"""The `memory` group of scripts/bench: peak RSS and wall time of strata on
inputs whose shape, not size, used to decide its memory. scripts/bench
imports this module and passes itself in as `bench`; the work runs on the
journaled ext4 loop mount scripts/bench makes for the run. Inputs are
generated here, deterministically (nothing is shipped):

  bomb   an xz bomb: a one-member tar of BOMB_GIB GiB of zeros, xz-compressed
         (LZMA2 preset 0, 1 MiB dictionary, CRC-64) and its block header's
         dictionary field rewritten to 2 GiB (CRC-32 fixed): a few hundred KB
         that a decoder without a memory limit fills gigabytes of dictionary
         with. `strata layer import` must refuse it with the memory-limit
         error (the row checks the message); reference: `xz -dc FILE`, which
         decodes it with no limit (xz's default for decompression).
  many   a docker-archive whose manifest.json has MANY_ENTRIES entries, all
         naming one config and one tiny layer, each with its own tag
         (localhost/many:N): `strata load -i FILE` into a fresh store (it
         must list one image with MANY_ENTRIES names); peer: `podman load`
         into an isolated store (as the images group runs it), when podman
         is installed (stopped after PODMAN_TIMEOUT s, noted).
  tiny   a tar of TINY_ENTRIES entries (TINY_DIRS directories of empty
         files, ustar, fixed mtime): `strata --driver vfs layer import FILE`
         into a fresh store; floor: `tar -xf FILE -C DIR`.

`--before BINARY` adds the same strata commands run with an older strata
binary (built from an earlier commit), for a before/after comparison in the
same run. Each command runs --runs times (default 1 for this group alone:
memory is the figure, not time) after `sync`; the table gives the median
wall time and the largest peak RSS (GNU time), and the target (peak RSS at
most 64 MiB for strata).
"""

import hashlib
import io
import json
import lzma
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib

BOMB_GIB = 2
BOMB_DICT_LOG = 31          # the dictionary the bomb's header declares: 2 GiB
MANY_ENTRIES = 10_000
TINY_DIRS, TINY_PER_DIR = 1_000, 999   # 1,000,000 entries with the directories
MTIME = 1_700_000_000
RSS_LIMIT_KIB = 64 * 1024
PODMAN_TIMEOUT = 300        # seconds


# --- inputs ------------------------------------------------------------------

def ustar_header(name, size, typeflag, mode):
    """A ustar header block for `name` (uid/gid 0, fixed mtime)."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def make_bomb(path):
    """The xz bomb described above; returns its size."""
    zeros = 1 << 20
    header = ustar_header(b"zeros", BOMB_GIB << 30, b"0", 0o644)
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": 1 << 20}]
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, filters=filters)
    chunk = bytes(zeros)
    with open(path, "wb") as f:
        f.write(comp.compress(header))
        for _ in range((BOMB_GIB << 30) // zeros):
            f.write(comp.compress(chunk))
        f.write(comp.compress(bytes(1024)))  # end-of-archive blocks
        f.write(comp.flush())
    with open(path, "r+b") as f:
        xz = bytearray(f.read(64))
        start = 12  # after the stream header
        size = (xz[start] + 1) * 4
        if xz[start + 1] & 0xc0 or xz[start + 2:start + 4] != b"\x21\x01":
            sys.exit("unexpected xz block header")
        xz[start + 4] = (BOMB_DICT_LOG - 12) * 2
        xz[start + size - 4:start + size] = struct.pack("<I", zlib.crc32(xz[start:start + size - 4]))
        f.seek(0)
        f.write(xz)
    return os.path.getsize(path)


def make_many(path):
    """The docker-archive of MANY_ENTRIES manifest.json entries."""
    layer = ustar_header(b"hello", 6, b"0", 0o644) + b"hello\n".ljust(512, b"\0") + bytes(1024)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = "0" * 64 + "/layer.tar"
    items = [{"Config": config_name, "RepoTags": [f"localhost/many:{i}"], "Layers": [layer_name]}
             for i in range(MANY_ENTRIES)]
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in [(config_name, config), (layer_name, layer),
                           ("manifest.json", json.dumps(items).encode())]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return os.path.getsize(path)


def make_tiny(path):
    """The tar of TINY_DIRS directories of TINY_PER_DIR empty files."""
    entries = 0
    with open(path, "wb") as f:
        batch = []
        for d in range(TINY_DIRS):
            batch.append(ustar_header(b"d%04d/" % d, 0, b"5", 0o755))
            for i in range(TINY_PER_DIR):
                batch.append(ustar_header(b"d%04d/f%04d" % (d, i), 0, b"0", 0o644))
            entries += 1 + TINY_PER_DIR
            f.write(b"".join(batch))
            batch.clear()
        f.write(bytes(1024))
    return os.path.getsize(path), entries


# --- running -----------------------------------------------------------------

def timed(argv, env=None, expect_ok=True, timeout=None):
    """Wall seconds, peak RSS (KiB) and stderr of one run of `argv`, after
    `sync`. Exits on an unexpected exit status (`expect_ok` None: any is
    fine); returns None for the time and RSS when the command outlived
    `timeout` seconds (it is killed)."""
    os.sync()
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-o", report.name, "-f", "%M", *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            return None, None, ""
        wall = time.perf_counter() - start
        rss = int(report.read().split()[-1])
    err = err.decode(errors="replace").strip()
    if expect_ok is not None and (proc.returncode == 0) != expect_ok:
        sys.exit(f"unexpected exit status {proc.returncode}: {' '.join(argv)}\n{err}")
    return wall, rss, err


def series(runs, make_argv, env=None, expect_ok=True, check=None, after=None):
    """Median wall time and largest peak RSS over `runs` runs; `make_argv(i)`
    gives run i's command (a fresh store each), `check(i, stderr)` checks
    its result, `after(i)` runs untimed after it."""
    walls, rss = [], 0
    for i in range(runs):
        wall, peak, err = timed(make_argv(i), env, expect_ok)
        if check is not None:
            check(i, err)
        if after is not None:
            after(i)
        walls.append(wall)
        rss = max(rss, peak)
    return statistics.median(walls), rss


def remove(path):
    """Removes a tree (the loop mount has inodes for about two trees of a
    million entries at a time)."""
    subprocess.run(["rm", "-rf", "--one-file-system", path, path + ".run"], check=True)


def memory_bench(bench, mnt, strata, runs, before=None):
    base = os.path.join(mnt, "memory")
    os.mkdir(base)
    binaries = [("strata", strata)] + ([("strata (before)", before)] if before else [])

    def store(tag, name, i):
        return os.path.join(base, f"{tag}-{name.split()[-1].strip('()')}-{i}")

    def cmd(binary, root, *args):
        return [binary, "--root", root, "--runroot", root + ".run", *args]

    rows = []  # (input, command, (wall, rss), is strata)

    bomb = os.path.join(base, "bomb.tar.xz")
    size = make_bomb(bomb)
    label = f"xz bomb ({size / 1e3:.0f} KB → {BOMB_GIB} GiB, declares a 2 GiB dictionary)"

    def refused(i, err):
        if "more than the limit" not in err:
            sys.exit(f"the bomb was not refused with the memory-limit error: {err}")

    for name, binary in binaries:
        if name == "strata":
            got = series(runs, lambda i, binary=binary, name=name: cmd(
                binary, store("bomb", name, i), "layer", "import", bomb),
                expect_ok=False, check=refused)
        else:
            # An earlier binary may decode it all (and import 2 GiB of
            # zeros): either exit status is fine.
            got = series(runs, lambda i, binary=binary, name=name: [
                "sh", "-c", '"$@" || true', "sh",
                *cmd(binary, store("bomb", name, i), "layer", "import", bomb)],
                after=lambda i, name=name: remove(store("bomb", name, i)))
        rows.append((label, f"`{name} layer import`", got, name == "strata"))
    rows.append((label, "`xz -dc` (no limit)", series(runs, lambda i: ["xz", "-dc", bomb]), False))

    many = os.path.join(base, "many.tar")
    size = make_many(many)
    label = f"docker-archive, {MANY_ENTRIES:,} manifest.json entries, one config and layer " \
            f"({size / 1e6:.1f} MB)"
    for name, binary in binaries:
        got = series(runs, lambda i, binary=binary, name=name: cmd(
            binary, store("many", name, i), "load", "-i", many))
        rows.append((label, f"`{name} load`", got, name == "strata"))
    names = json.loads(subprocess.run(cmd(strata, store("many", "strata", 0), "images", "--json"),
                                      check=True, capture_output=True).stdout)
    if len(names) != 1 or len(names[0]["Names"]) != MANY_ENTRIES:
        sys.exit("strata load did not record one image with every name")
    if shutil.which("podman"):
        sys.dont_write_bytecode = True
        import bench_images  # scripts/bench_images.py, beside this script
        podman = bench_images.Podman(base)
        try:
            stores = [podman.new_store() for _ in range(runs)]
            walls, rss = [], 0
            refused = None
            for s in stores:
                argv, env = podman.load(s, many)
                wall, peak, err = timed(argv, env, expect_ok=None, timeout=PODMAN_TIMEOUT)
                if wall is None or "Error:" in err:
                    refused = err
                    break
                walls.append(wall)
                rss = max(rss, peak)
            if refused is None and len(walls) == runs:
                rows.append((label, "`podman load`", (statistics.median(walls), rss), False))
            elif refused:
                reason = next((line.strip() for line in refused.splitlines()
                               if "docker-archive" in line), refused.splitlines()[0])
                print(f"note: `podman load` refuses the {MANY_ENTRIES:,}-entry archive "
                      f"({reason}); no peer row\n")
            else:
                print(f"note: `podman load` of the {MANY_ENTRIES:,}-entry archive did not finish "
                      f"in {PODMAN_TIMEOUT} s and was stopped; no peer row\n")
        finally:
            bench_images.unmount_under(base)
            podman.close()
    else:
        print("note: podman is missing; the 10,000-entry load has no peer row\n")

    tiny = os.path.join(base, "tiny.tar")
    size, entries = make_tiny(tiny)
    label = f"layer of {entries:,} entries ({size / 1e6:.0f} MB)"
    for name, binary in binaries:
        got = series(runs, lambda i, binary=binary, name=name: cmd(
            binary, store("tiny", name, i), "--driver", "vfs", "layer", "import", tiny),
            after=lambda i, name=name: remove(store("tiny", name, i)))
        rows.append((label, f"`{name} --driver vfs layer import`", got, name == "strata"))

    def floor(i):
        d = os.path.join(base, f"tiny-floor-{i}")
        os.mkdir(d)
        return ["tar", "-xf", tiny, "-C", d]
    rows.append((label, "floor `tar -xf`", series(
        runs, floor, after=lambda i: remove(os.path.join(base, f"tiny-floor-{i}"))), False))

    print("| input | command | wall | peak RSS | target |")
    print("|---|---|---|---|---|")
    for label, command, (wall, rss), is_strata in rows:
        target = bench.verdict(rss <= RSS_LIMIT_KIB, "≤ 64 MiB") if is_strata else ""
        print(f"| {label} | {command} | {bench.secs(wall)} | {bench.mib(rss)} | {target} |")
