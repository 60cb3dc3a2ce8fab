"""The `overlay` group of scripts/bench: strata's overlay driver against
containers/storage's (`containers-storage -s overlay`), with strata's vfs
driver alongside, in the same run. scripts/bench imports this module and
passes itself in as `bench` (its helpers: measure, round_robin, settle,
make_tar, verdict, ...), so the conventions are the same: a journaled ext4
loop mount, fresh store directories per run, `sync` before every run, round
robin over the commands of a table, GNU time for peak RSS, medians.

  import  the rootfs tar (bench.make_tar(ROOTFS_DIRS)) into a fresh store:
          `strata --driver overlay layer import FILE` vs `containers-storage
          -s overlay import-layer -f FILE` vs `strata --driver vfs layer
          import FILE`; floors `tar -xf FILE -C DIR` and the same followed by
          `sync -f DIR` (strata syncs each layer before publishing it; c/s
          and tar do not).
  chain   100 small layers, each imported on top of the one before
          (`layer import --parent PREV FILE` / `import-layer -f FILE PREV`),
          into a fresh store per round. Layer k: directory entries for d0-d4,
          20 files of 1-4 KiB (fixed seed) spread over them, and from layer 2
          on a whiteout of one file of layer k-1. Every import is timed on
          its own (`sync` before each, untimed); the table gives the total
          and the median per-layer time of layers 1-10 and 91-100 (pooled
          over the rounds).
  mount   `layer mount L` + `layer unmount L` (c/s: `mount ID` + `unmount
          ID`) of the layer at depth 10 and at depth 100 of the last
          round's chains, round robin, 5N rounds (an op takes milliseconds).
  rw diff a base layer of >= 10,000 files (the rootfs tar if it has that
          many, else a generated tar of 12,000 small files), a read-write
          layer on it (`layer create --rw --parent L` / `create-layer L`),
          mounted, 10,000 files appended one byte each, unmounted; then
          `layer diff RW > /dev/null` vs `containers-storage diff ID >
          /dev/null` (strata vfs for reference; floor: `tar -c` of strata
          overlay's upper directory through `cat`). Each diff is first read
          once, untimed, with Python's tarfile, which must find >= 10,000
          members.

Every c/s store is shut down (`containers-storage shutdown`, which unmounts
the bind mount c/s puts on its overlay directory) untimed, before the next
run; anything still mounted under the loop mount at the end is unmounted
and reported.
"""

import io
import os
import random
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

CHAIN_DEPTH = 100
CHAIN_FILES = 20              # per layer
CHAIN_DIRS = 5
CHAIN_SIZES = (1024, 4096)
CHAIN_SEED = 20261123
CHAIN_WARMUP = 3              # untimed layers per tool and round, in a throwaway store
EDGE = 10                     # layers 1-10 vs 91-100; mount depth 10 vs 100
RW_FILES = 12_000             # generated base for the rw diff when the rootfs is too small
RW_PER_DIR = 100
RW_SIZES = (100, 2048)
RW_SEED = 20261124
RW_CHANGED = 10_000
MOUNT_RUNS = 5                # mount series are this many times --runs long
# Targets (printed beside the numbers, misses included).
IMPORT_VS_FLOOR = 1.25        # strata overlay / tar -xf, at most
IMPORT_VS_PEER = 2.0          # c/s overlay / strata overlay, at least
FLAT = 1.25                   # cost at depth 100 (layers 91-100) / at depth 10 (1-10), at most

TOOLS = ("ovl", "cs", "vfs")
LABEL = {"ovl": "strata overlay", "cs": "c/s overlay", "vfs": "strata vfs"}


class Stores:
    """Command lines for the three stores; shuts c/s stores down."""

    def __init__(self, strata):
        self.strata = strata
        self.cs_roots = set()

    def cmd(self, tool, root, *args):
        if tool == "cs":
            self.cs_roots.add(root)
            return ["containers-storage", "-g", root, "-R", root + ".run", "-s", "overlay", *args]
        driver = {"ovl": "overlay", "vfs": "vfs"}[tool]
        return [self.strata, "--root", root, "--runroot", root + ".run", "--driver", driver, *args]

    def shutdown(self, root=None):
        """Untimed: `containers-storage shutdown` of one c/s store (of every
        one when root is None) that has its overlay directory mounted (c/s
        bind-mounts it on itself and leaves it so)."""
        with open("/proc/self/mountinfo") as f:
            mounted = {line.split()[4] for line in f}
        for r in sorted(self.cs_roots) if root is None else [root]:
            if os.path.join(r, "overlay") in mounted:
                subprocess.run(["containers-storage", "-g", r, "-R", r + ".run", "-s", "overlay",
                                "shutdown", "-f"], check=True, stdout=subprocess.DEVNULL)


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"command failed: {shlex.join(argv)}\n{proc.stderr}")
    return proc.stdout


def layer_id(out):
    lid = out.split()[-1] if out.split() else ""
    if len(lid) != 64 or any(c not in "0123456789abcdef" for c in lid):
        sys.exit(f"no layer id in {out!r}")
    return lid


def timed(argv):
    """One run of argv under GNU time: (wall seconds, peak RSS KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"benchmark command failed: {shlex.join(argv)}\n"
                     f"{proc.stderr.decode(errors='replace')}")
        rss = int(report.read().split()[-1])
    return wall, rss, proc.stdout.decode()


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(path + "/")]


def median(xs):
    return statistics.median(xs)


# --- inputs ----------------------------------------------------------------

def tar_header(name, kind, mtime, size=0, mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.size = kind, mode, mtime, size
    info.uname = info.gname = "root"
    return info


def make_chain_tars(base):
    """CHAIN_DEPTH small layer tars, the same bytes on every run. Layer k
    adds files L{k}-{j}.dat in d0-d4 and, from k = 2, whites out L{k-1}-00.dat.
    Returns the paths and the number of files the top of the chain has."""
    rng = random.Random(CHAIN_SEED)
    mtime = 1_700_000_000
    paths = []
    for k in range(1, CHAIN_DEPTH + 1):
        path = os.path.join(base, f"layer-{k:03}.tar")
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            for d in range(CHAIN_DIRS):
                tar.addfile(tar_header(f"d{d}/", tarfile.DIRTYPE, mtime, mode=0o755))
            if k > 1:
                tar.addfile(tar_header(f"d0/.wh.L{k - 1:03}-00.dat", tarfile.REGTYPE, mtime))
            for j in range(CHAIN_FILES):
                data = rng.randbytes(rng.randint(*CHAIN_SIZES))
                tar.addfile(tar_header(f"d{j % CHAIN_DIRS}/L{k:03}-{j:02}.dat", tarfile.REGTYPE,
                                       mtime, size=len(data)), io.BytesIO(data))
        paths.append(path)
    return paths


def chain_files(depth):
    """Regular files a layer at this depth shows: each layer adds
    CHAIN_FILES and hides one of the layer below."""
    return depth * CHAIN_FILES - (depth - 1)


def make_rw_base(path):
    """RW_FILES small files in RW_FILES / RW_PER_DIR directories."""
    rng = random.Random(RW_SEED)
    mtime = 1_700_000_000
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in range(RW_FILES // RW_PER_DIR):
            tar.addfile(tar_header(f"r{d:03}", tarfile.DIRTYPE, mtime, mode=0o755))
            for f in range(RW_PER_DIR):
                data = rng.randbytes(rng.randint(*RW_SIZES))
                tar.addfile(tar_header(f"r{d:03}/f{f:03}.dat", tarfile.REGTYPE, mtime,
                                       size=len(data)), io.BytesIO(data))
    return os.path.getsize(path)


def regular_files(tar_path):
    """Names of the regular files in a tar (sorted)."""
    with tarfile.open(tar_path) as tar:
        names = [m.name for m in tar.getmembers()
                 if m.isreg() and not os.path.basename(m.name).startswith(".wh.")]
    return sorted(n[2:] if n.startswith("./") else n.lstrip("/") for n in names)


def count_members(argv, scratch):
    """Members and bytes of the tar argv writes to stdout (untimed check;
    the tar goes through the file scratch, removed afterwards)."""
    with open(scratch, "wb") as out:
        if subprocess.run(argv, stdout=out).returncode != 0:
            sys.exit(f"command failed: {shlex.join(argv)}")
    size = os.path.getsize(scratch)
    members = 0
    if size:
        with tarfile.open(scratch, "r:") as tar:
            members = sum(1 for _ in tar)
    os.unlink(scratch)
    return members, size


# --- 1. import -------------------------------------------------------------

def import_bench(bench, stores, base, runs):
    rootfs = os.path.join(base, "rootfs.tar")
    size, entries = bench.make_tar(rootfs, bench.ROOTFS_DIRS)
    dirs = {key: bench.numbered(os.path.join(base, f"import-{key}"))
            for key in ("ovl", "cs", "vfs", "floor", "floorsync")}

    def cs_before(i):
        if i > 0:
            stores.shutdown(dirs["cs"](i - 1))
        os.sync()

    series = {
        "ovl": (lambda i: stores.cmd("ovl", dirs["ovl"](i), "layer", "import", rootfs), bench.synced),
        "cs": (lambda i: stores.cmd("cs", dirs["cs"](i), "import-layer", "-f", rootfs), cs_before),
        "vfs": (lambda i: stores.cmd("vfs", dirs["vfs"](i), "layer", "import", rootfs), bench.synced),
        "floor": (lambda i: ["tar", "-xf", rootfs, "-C", dirs["floor"](i)], bench.fresh(dirs["floor"])),
        "floorsync": (lambda i: ["sh", "-c", f"tar -xf {shlex.quote(rootfs)} -C {shlex.quote(dirs['floorsync'](i))}"
                                 f" && sync -f {shlex.quote(dirs['floorsync'](i))}"],
                      bench.fresh(dirs["floorsync"])),
    }
    got = bench.round_robin(series, runs, between=bench.settle)
    stores.shutdown()
    (o, o_rss), (c, c_rss), (v, v_rss) = got["ovl"], got["cs"], got["vfs"]
    (f, _), (fs, _) = got["floor"], got["floorsync"]
    print("### import (the rootfs tar into a fresh store)\n")
    print("| input | strata overlay | c/s overlay | strata vfs | floor `tar -xf` | floor + `sync -f` "
          "| overlay / floor | overlay / (floor + sync) | c/s / overlay | strata overlay peak RSS "
          "| c/s peak RSS | strata vfs peak RSS | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    targets = "; ".join([
        bench.verdict(o / f <= IMPORT_VS_FLOOR, f"≤ {IMPORT_VS_FLOOR}x floor"),
        bench.verdict(c / o >= IMPORT_VS_PEER, f"≥ {IMPORT_VS_PEER:g}x c/s"),
        bench.verdict(o_rss <= bench.RSS_LIMIT_KIB, "RSS"),
    ])
    print(f"| rootfs ({size / 1e6:.0f} MB, {entries} entries) | {bench.secs(o)} | {bench.secs(c)} "
          f"| {bench.secs(v)} | {bench.secs(f)} | {bench.secs(fs)} | {o / f:.2f}x | {o / fs:.2f}x "
          f"| **{c / o:.2f}x** | {bench.mib(o_rss)} | {bench.mib(c_rss)} | {bench.mib(v_rss)} "
          f"| {targets} |")
    print()
    return rootfs, entries


# --- 2. chain --------------------------------------------------------------

def build_chain(stores, tool, root, tars, count, walls=None):
    """Imports the first `count` tars as a chain into a fresh store at root;
    with `walls` (a list), times each import into it. Returns the ids and
    the largest peak RSS."""
    ids, rss = [], 0
    for k, tar in enumerate(tars[:count]):
        os.sync()
        if tool == "cs":
            argv = stores.cmd(tool, root, "import-layer", "-f", tar, *ids[-1:])
        else:
            parent = ["--parent", ids[-1]] if ids else []
            argv = stores.cmd(tool, root, "layer", "import", *parent, tar)
        wall, peak, out = timed(argv)
        ids.append(layer_id(out))
        rss = max(rss, peak)
        if walls is not None:
            walls.append(wall)
    return ids, rss


def chain_bench(bench, stores, base, runs):
    tar_dir = os.path.join(base, "chain-tars")
    os.mkdir(tar_dir)
    tars = make_chain_tars(tar_dir)
    layers = {tool: [[] for _ in range(CHAIN_DEPTH)] for tool in TOOLS}  # per-layer walls
    totals = {tool: [] for tool in TOOLS}
    rss = {tool: 0 for tool in TOOLS}
    last = {}
    for r in range(runs):
        bench.settle()
        for tool in TOOLS:
            warm = os.path.join(base, f"chain-warm-{tool}-{r}")
            build_chain(stores, tool, warm, tars, CHAIN_WARMUP)
            stores.shutdown(warm)
            root = os.path.join(base, f"chain-{tool}-{r}")
            walls = []
            ids, peak = build_chain(stores, tool, root, tars, CHAIN_DEPTH, walls)
            stores.shutdown(root)
            for k, wall in enumerate(walls):
                layers[tool][k].append(wall)
            totals[tool].append(sum(walls))
            rss[tool] = max(rss[tool], peak)
            last[tool] = (root, ids)
    # Untimed: vfs's top layer must hold what the overlay mounts show (the
    # overlay chains are checked in mount_bench).
    root, ids = last["vfs"]
    path = run(stores.cmd("vfs", root, "layer", "mount", ids[-1])).strip().splitlines()[-1]
    check_mounted(path, CHAIN_DEPTH, LABEL["vfs"])
    run(stores.cmd("vfs", root, "layer", "unmount", ids[-1]))
    print(f"### chain ({CHAIN_DEPTH} small layers, each imported on the one before; "
          f"median of {runs} chains)\n")
    print(f"| store | total, {CHAIN_DEPTH} layers | per layer, layers 1-{EDGE} "
          f"| per layer, layers {CHAIN_DEPTH - EDGE + 1}-{CHAIN_DEPTH} | last / first "
          f"| total / strata overlay | peak RSS | targets |")
    print("|---|---|---|---|---|---|---|---|")
    o_total = median(totals["ovl"])
    for tool in TOOLS:
        first = median([w for k in range(EDGE) for w in layers[tool][k]])
        final = median([w for k in range(CHAIN_DEPTH - EDGE, CHAIN_DEPTH) for w in layers[tool][k]])
        total = median(totals[tool])
        if tool == "ovl":
            targets = "; ".join([bench.verdict(final / first <= FLAT, f"flat (≤ {FLAT}x)"),
                                 bench.verdict(rss[tool] <= bench.RSS_LIMIT_KIB, "RSS")])
        else:
            targets = "(reference)"
        print(f"| {LABEL[tool]} | {bench.secs(total)} | {bench.msecs(first)} | {bench.msecs(final)} "
              f"| {final / first:.2f}x | {total / o_total:.2f}x | {bench.mib(rss[tool])} | {targets} |")
    print(f"\nLayer k holds directory entries for d0-d{CHAIN_DIRS - 1}, {CHAIN_FILES} files of "
          f"{CHAIN_SIZES[0] // 1024}-{CHAIN_SIZES[1] // 1024} KiB and (k ≥ 2) a whiteout of a "
          f"file of layer k-1; per-layer figures are medians of the {EDGE * runs} imports in "
          f"that range over all rounds.\n")
    return last


# --- 3. mount --------------------------------------------------------------

def check_mounted(path, depth, what):
    files = sum(len(fs) for _, _, fs in os.walk(path))
    want = chain_files(depth)
    hidden = os.path.join(path, "d0", f"L{depth - 1:03}-00.dat")
    if files != want or os.path.exists(hidden):
        sys.exit(f"{what}: the mount at depth {depth} shows {files} files (want {want}), "
                 f"whited-out file {'present' if os.path.exists(hidden) else 'absent'}")


def mount_bench(bench, stores, chains, runs):
    cmds = {}
    for tool in ("ovl", "cs"):
        root, ids = chains[tool]
        for depth in (EDGE, CHAIN_DEPTH):
            lid = ids[depth - 1]
            if tool == "cs":
                mount, unmount = stores.cmd(tool, root, "mount", lid), stores.cmd(tool, root, "unmount", lid)
            else:
                mount, unmount = (stores.cmd(tool, root, "layer", "mount", lid),
                                  stores.cmd(tool, root, "layer", "unmount", lid))
            # Once untimed: the mount must show the layer's tree and go away again.
            path = run(mount).strip().splitlines()[-1]
            check_mounted(path, depth, LABEL[tool])
            run(unmount)
            if path in mounts_under(os.path.dirname(root)):
                sys.exit(f"{LABEL[tool]}: {path} is still mounted after unmount")
            cmds[(tool, depth)] = (mount, unmount)
    rounds = runs * MOUNT_RUNS
    samples = {key: [] for key in cmds}
    bench.settle()
    for _ in range(rounds):
        for key, (mount, unmount) in cmds.items():
            for timed_run in (False, True):
                os.sync()
                m_wall, m_rss, _ = timed(mount)
                u_wall, u_rss, _ = timed(unmount)
                if timed_run:
                    samples[key].append((m_wall, u_wall, max(m_rss, u_rss)))
    stores.shutdown()
    got = {key: (median(m + u for m, u, _ in s), median(m for m, _, _ in s),
                 median(u for _, u, _ in s), max(x for _, _, x in s)) for key, s in samples.items()}
    print(f"### mount (`mount` + `unmount` of one layer of the chain, median of {rounds})\n")
    print(f"| store | depth {EDGE} | depth {CHAIN_DEPTH} | {CHAIN_DEPTH} / {EDGE} "
          f"| mount @{CHAIN_DEPTH} | unmount @{CHAIN_DEPTH} | c/s / strata @{CHAIN_DEPTH} "
          f"| peak RSS | targets |")
    print("|---|---|---|---|---|---|---|---|---|")
    o_deep = got[("ovl", CHAIN_DEPTH)][0]
    for tool in ("ovl", "cs"):
        shallow, deep = got[(tool, EDGE)], got[(tool, CHAIN_DEPTH)]
        peak = max(shallow[3], deep[3])
        if tool == "ovl":
            targets = "; ".join([bench.verdict(deep[0] / shallow[0] <= FLAT, f"flat (≤ {FLAT}x)"),
                                 bench.verdict(peak <= bench.RSS_LIMIT_KIB, "RSS")])
        else:
            targets = "(reference)"
        print(f"| {LABEL[tool]} | {bench.msecs(shallow[0])} | {bench.msecs(deep[0])} "
              f"| {deep[0] / shallow[0]:.2f}x | {bench.msecs(deep[1])} | {bench.msecs(deep[2])} "
              f"| {deep[0] / o_deep:.2f}x | {bench.mib(peak)} | {targets} |")
    print()


# --- 4. rw diff ------------------------------------------------------------

def rw_diff_bench(bench, stores, base, runs, rootfs, rootfs_entries):
    files = regular_files(rootfs)
    if len(files) >= RW_CHANGED:
        base_tar, label = rootfs, f"rootfs ({rootfs_entries} entries, {len(files)} files)"
    else:
        base_tar = os.path.join(base, "rw-base.tar")
        size = make_rw_base(base_tar)
        files = regular_files(base_tar)
        label = f"generated ({size / 1e6:.0f} MB, {len(files)} files)"
    changed = files[:RW_CHANGED]
    prepared = {}
    for tool in TOOLS:
        root = os.path.join(base, f"rw-{tool}")
        if tool == "cs":
            lower = layer_id(run(stores.cmd(tool, root, "import-layer", "-f", base_tar)))
            rw = layer_id(run(stores.cmd(tool, root, "create-layer", lower)))
            mount, unmount = stores.cmd(tool, root, "mount", rw), stores.cmd(tool, root, "unmount", rw)
            diff = stores.cmd(tool, root, "diff", rw)
        else:
            lower = layer_id(run(stores.cmd(tool, root, "layer", "import", base_tar)))
            rw = layer_id(run(stores.cmd(tool, root, "layer", "create", "--rw", "--parent", lower)))
            mount = stores.cmd(tool, root, "layer", "mount", rw)
            unmount = stores.cmd(tool, root, "layer", "unmount", rw)
            diff = stores.cmd(tool, root, "layer", "diff", rw)
        path = run(mount).strip().splitlines()[-1]
        for name in changed:
            with open(os.path.join(path, name), "ab") as f:
                f.write(b"\n")
        run(unmount)
        if path in mounts_under(base):
            sys.exit(f"{LABEL[tool]}: {path} is still mounted after unmount")
        prepared[tool] = (root, rw, diff)
    stores.shutdown()
    os.sync()
    counts = {}
    for tool, (_, _, diff) in prepared.items():
        members, size = count_members(diff, os.path.join(base, f"rw-{tool}.diff.tar"))
        if size == 0 or members < RW_CHANGED:
            sys.exit(f"{LABEL[tool]}: the diff has {members} members ({size} bytes), "
                     f"want at least {RW_CHANGED}")
        counts[tool] = (members, size)
    stores.shutdown()
    o_root, o_rw, _ = prepared["ovl"]
    upper = os.path.join(o_root, "overlay", o_rw, "diff")
    if not os.path.isdir(upper):
        sys.exit(f"strata overlay's upper directory is not at {upper}")
    series = {tool: (diff, bench.synced) for tool, (_, _, diff) in prepared.items()}
    series["floor"] = (["sh", "-c", f"tar -cf - -C {shlex.quote(upper)} . | cat"], bench.synced)
    bench.settle()
    got = bench.round_robin(series, runs)
    stores.shutdown()
    (o, o_rss), (c, c_rss), (v, v_rss), (f, _) = got["ovl"], got["cs"], got["vfs"], got["floor"]
    print(f"### rw diff (a read-write layer after appending a byte to {RW_CHANGED:,} files, "
          f"to /dev/null)\n")
    print("| base layer | strata overlay | c/s overlay | strata vfs | floor `tar -c upper \\| cat` "
          "| c/s / overlay | vfs / overlay | overlay / floor | members (overlay / c/s / vfs) "
          "| strata overlay peak RSS | c/s peak RSS | strata vfs peak RSS | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    members = " / ".join(f"{counts[t][0]:,} ({counts[t][1] / 1e6:.1f} MB)" for t in TOOLS)
    targets = bench.verdict(o_rss <= bench.RSS_LIMIT_KIB, "RSS")
    print(f"| {label} | {bench.secs(o)} | {bench.secs(c)} | {bench.secs(v)} | {bench.secs(f)} "
          f"| **{c / o:.2f}x** | {v / o:.2f}x | {o / f:.2f}x | {members} | {bench.mib(o_rss)} "
          f"| {bench.mib(c_rss)} | {bench.mib(v_rss)} | {targets} |")
    print()


# --- the group -------------------------------------------------------------

def overlay_bench(bench, mnt, strata, runs):
    if subprocess.run(["which", "containers-storage"], capture_output=True).returncode != 0:
        sys.exit("containers-storage is needed: apt-get install containers-storage")
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "containers-storage"],
                             capture_output=True, text=True).stdout or "unknown version"
    print(f"Peer: containers-storage {version} (`-s overlay`); c/s = containers-storage. "
          f"strata overlay = `strata --driver overlay`, strata vfs = `strata --driver vfs`.\n")
    base = os.path.join(mnt, "overlay")
    os.mkdir(base)
    stores = Stores(strata)
    try:
        rootfs, entries = import_bench(bench, stores, base, runs)
        chains = chain_bench(bench, stores, base, runs)
        mount_bench(bench, stores, chains, runs)
        rw_diff_bench(bench, stores, base, runs, rootfs, entries)
    finally:
        stores.shutdown()
        left = mounts_under(mnt)
        for point in reversed(left):
            subprocess.run(["umount", point])
        if left:
            print(f"note: {len(left)} mount(s) were left under the loop mount and have been "
                  f"unmounted: {', '.join(left[:5])}{' ...' if len(left) > 5 else ''}")
