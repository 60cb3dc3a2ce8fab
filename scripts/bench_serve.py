"""The `serve` group of scripts/bench: `strata serve` handing the same image
to many clients at once, side by side with Debian's docker-registry serving
the same bytes and a floor, in the same run. scripts/bench imports this
module and passes itself in as `bench` (its helpers: secs, mib, verdict);
images come from scripts/bench_images.py and the registry from
scripts/bench_registry.py. The work runs on the journaled ext4 loop mount
scripts/bench makes for the run.

Images: bench_images.py's `one` (one ~120 MB layer) and `multi` (~100 MB
+ ~15 MB + three small layers), loaded with `strata load` into a store on
the loop mount (overlay as root), so their layers are uncompressed tars
that strata rebuilds from tar-split on every request.

Servers, all plain HTTP on 127.0.0.1 on a free port:
  strata    `strata --root R --runroot R.run serve --read-only --listen
            127.0.0.1:PORT` (release build) on the loaded store: each layer
            blob is the layer's tar, rebuilt from tar-split and the layer's
            files and checked against the diff id on every request
  kept      the same on a second store filled untimed by `strata pull`
            from the registry: strata keeps a pulled image's blobs as
            files, so each layer blob is sent from its file with
            sendfile(2), unchecked (it was hashed when it was kept)
  registry  Debian's `docker-registry serve CONFIG` as bench_registry.py
            configures it (filesystem storage on the loop mount), filled
            untimed with `skopeo copy --preserve-digests` from the strata
            server: it then holds and serves the very same manifest and
            blobs (checked: same manifest digest), without checking them.

Clients (against each server): C concurrent pulls (C = 1 and 16), each one `curl` process that
fetches the manifest, the config and every layer blob in order over one
connection (`curl -s -o /dev/null URL -o /dev/null URL ...`), as a
registry client pulling the image does, minus the unpacking. The figure is
the wall time from starting the C processes to the last one ending, as
throughput: C x the image's bytes / wall time.

Floor: C concurrent `cat` of the registry's blob files (the same bytes)
to /dev/null: reading the blobs from the page cache, with no HTTP and no
rebuilding.

Timing: round robin, N rounds; in each, per image and C, strata, the
registry and the floor each run once untimed (warming the page cache) and
once timed. Figures are medians. CPU: around each timed run of a server,
the server process's user+system seconds (/proc/PID/stat) and the whole
machine's busy seconds (/proc/stat): how much of the work is the
server's, the rest being the curl clients' and the kernel's on their
side. Memory: the peak RSS (VmHWM) of each
server process over the whole group, read from /proc when the group ends
(the servers run the whole time).

Targets (printed with the numbers, misses included): strata's throughput
at least 1.5x the registry's at 16 clients; strata serve's peak RSS at
most 64 MiB.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

import bench_images as images  # scripts/bench_images.py, beside this module
import bench_registry as registries  # scripts/bench_registry.py

CLIENTS = (1, 16)
VS_REGISTRY = 1.5       # strata throughput / registry throughput at 16 clients, at least
RSS_LIMIT_KIB = 64 * 1024
START_TIMEOUT = 30


class StrataServe:
    """`strata serve --read-only` on a store, on a free port."""

    def __init__(self, strata, root):
        self.strata, self.root, self.proc, self.host = strata, root, None, None

    def start(self):
        self.proc = subprocess.Popen(
            [self.strata, "--root", self.root, "--runroot", self.root + ".run", "serve",
             "--read-only", "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if line.startswith("listening on "):
                self.host = line.split()[-1]
                # The request log goes on; drain it so the pipe never fills.
                self.drain = subprocess.Popen(["cat"], stdin=self.proc.stderr,
                                              stdout=subprocess.DEVNULL)
                return self
            if not line and self.proc.poll() is not None:
                break
        sys.exit("strata serve did not start")

    @property
    def url(self):
        return f"http://{self.host}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
            self.drain.wait(20)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User and system CPU seconds process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """CPU seconds the whole machine has spent not idle so far."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def get(url, accept=None):
    request = urllib.request.Request(url)
    if accept:
        request.add_header("Accept", ", ".join(accept))
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read(), response.headers.get("Docker-Content-Digest")


def blob_urls(base, repo, tag):
    """The manifest's URL, then the config's and each layer's; the digest."""
    import json
    manifest_url = f"{base}/v2/{repo}/manifests/{tag}"
    body, digest = get(manifest_url, registries.MANIFEST_TYPES)
    manifest = json.loads(body)
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    return [manifest_url] + [f"{base}/v2/{repo}/blobs/{d}" for d in blobs], digest


def concurrent(commands):
    """Wall seconds from starting every command to the last one ending."""
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for cmd in commands]
    for proc, cmd in zip(procs, commands):
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"benchmark command failed: {' '.join(cmd[:6])} ...\n{err.decode(errors='replace')}")
    return time.perf_counter() - start


def pulls(urls, clients):
    accept = "Accept: " + ", ".join(registries.MANIFEST_TYPES)
    cmd = ["curl", "-s", "-f", "-H", accept]
    for url in urls:
        cmd += ["-o", "/dev/null", url]
    return [cmd] * clients


def serve_bench(bench, mnt, strata, runs):
    base = os.path.join(mnt, "serve")
    os.mkdir(base)
    made = images.make_images(base)
    store = os.path.join(base, "store")
    for _, _, archive, _, _ in made:
        subprocess.run([strata, "--root", store, "--runroot", store + ".run", "load", "-q",
                        "-i", archive], check=True, stdout=subprocess.DEVNULL)
    ours = StrataServe(strata, store).start()
    theirs = registries.Registry(os.path.join(base, "registry")).start()
    kept_store = os.path.join(base, "kept")
    kept = None
    try:
        targets = {}
        for key, label, _, summary, sizes in made:
            name = summary["name"].split("/", 1)[1]          # localhost/bench-one:1 -> bench-one:1
            repo, tag = name.rsplit(":", 1)
            subprocess.run(["skopeo", "copy", "-q", "--preserve-digests",
                            "--src-tls-verify=false", "--dest-tls-verify=false",
                            f"docker://{ours.host}/{name}", f"docker://{theirs.host}/{name}"],
                           check=True)
            our_urls, our_digest = blob_urls(ours.url, repo, tag)
            their_urls, their_digest = blob_urls(theirs.url, repo, tag)
            if our_digest != their_digest:
                sys.exit(f"{key}: the registry serves {their_digest}, strata {our_digest}")
            files = [os.path.join(theirs.dir, "storage/docker/registry/v2/blobs/sha256",
                                  u.rsplit(":", 1)[1][:2], u.rsplit(":", 1)[1], "data")
                     for u in their_urls[1:]]
            total = sum(os.path.getsize(f) for f in files)
            subprocess.run([strata, "--root", kept_store, "--runroot", kept_store + ".run", "pull",
                            "-q", "--tls-verify=false", f"{theirs.host}/{name}"],
                           check=True, stdout=subprocess.DEVNULL)
            targets[key] = (label, our_urls, their_urls, files, total, (repo, tag))
        kept = StrataServe(strata, kept_store).start()
        for key, (label, our_urls, their_urls, files, total, (repo, tag)) in targets.items():
            # The pulled image's full name is 127.0.0.1:PORT/REPO: served as REPO.
            kept_urls, kept_digest = blob_urls(kept.url, repo, tag)
            if kept_digest != blob_urls(theirs.url, repo, tag)[1]:
                sys.exit(f"{key}: the kept store serves another manifest ({kept_digest})")
            targets[key] = (label, our_urls, their_urls, files, total, kept_urls)
        walls, shares = {}, {}
        pids = {"strata": ours.proc.pid, "kept": kept.proc.pid, "registry": theirs.proc.pid}
        for _ in range(runs):
            for key, (label, our_urls, their_urls, files, total, kept_urls) in targets.items():
                for clients in CLIENTS:
                    row = {
                        "strata": pulls(our_urls, clients),
                        "kept": pulls(kept_urls, clients),
                        "registry": pulls(their_urls, clients),
                        "floor": [["cat", *files]] * clients,
                    }
                    for who, commands in row.items():
                        concurrent(commands)           # untimed: warms the caches
                        pid = pids.get(who)
                        before = (cpu_seconds(pid), busy_seconds()) if pid else None
                        wall = concurrent(commands)
                        walls.setdefault((key, clients, who), []).append(wall)
                        if before:
                            server = cpu_seconds(pid) - before[0]
                            machine = busy_seconds() - before[1]
                            shares.setdefault((key, clients, who), []).append(
                                (server, machine))
        rss = {"strata": peak_rss_kib(ours.proc.pid), "kept": peak_rss_kib(kept.proc.pid),
               "registry": peak_rss_kib(theirs.proc.pid)}
    finally:
        ours.stop()
        theirs.stop()
        if kept is not None:
            kept.stop()
    print_serve(bench, targets, walls, shares, rss, runs)


def print_serve(bench, targets, walls, shares, rss, runs):
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "docker-registry"],
                             capture_output=True, text=True).stdout or "unknown version"
    print(f"Serving: `strata serve` vs Debian's docker-registry {version}, the same manifest "
          f"and blobs; C concurrent curl pulls (manifest, config, layers); floor: C concurrent "
          f"`cat` of the blob files. Median of {runs}; throughput = C x image bytes / wall.\n")
    print("| image | C | strata serve (rebuilt tars) | strata serve (kept blobs) | docker-registry "
          "| floor (cat) | rebuilt vs registry | kept vs registry |")
    print("|---|---|---|---|---|---|---|---|")
    misses = []
    who_all = ("strata", "kept", "registry", "floor")
    for key, (label, _, _, _, total, _) in targets.items():
        for clients in CLIENTS:
            med = {who: statistics.median(walls[(key, clients, who)]) for who in who_all}
            rate = {who: clients * total / med[who] / 1e6 for who in med}
            cell = {who: f"{bench.secs(med[who])} ({rate[who]:.0f} MB/s)" for who in med}
            vs = {who: med["registry"] / med[who] for who in ("strata", "kept")}
            print(f"| {label} | {clients} | {cell['strata']} | {cell['kept']} | {cell['registry']} "
                  f"| {cell['floor']} | {vs['strata']:.2f}x | {vs['kept']:.2f}x |")
            if clients == max(CLIENTS) and max(vs.values()) < VS_REGISTRY:
                misses.append(key)
    print()
    print(f"CPU at {max(CLIENTS)} clients (median over the runs): the server's user+system "
          f"seconds / the whole machine's busy seconds during the timed pulls.\n")
    print("| image | strata serve (rebuilt tars) | strata serve (kept blobs) | docker-registry |")
    print("|---|---|---|---|")
    for key, (label, *_rest) in targets.items():
        cells = []
        for who in ("strata", "kept", "registry"):
            pairs = shares[(key, max(CLIENTS), who)]
            server = statistics.median(p[0] for p in pairs)
            machine = statistics.median(p[1] for p in pairs)
            cells.append(f"{server:.2f} s / {machine:.2f} s ({100 * server / machine:.0f}%)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(f"Peak RSS over the group: strata serve {bench.mib(rss['strata'])} (rebuilt), "
          f"{bench.mib(rss['kept'])} (kept), docker-registry {bench.mib(rss['registry'])}.")
    print(bench.verdict(not misses, f"Target: strata >= {VS_REGISTRY}x the registry's "
                                    f"throughput at {max(CLIENTS)} clients"))
    print(bench.verdict(rss["strata"] <= RSS_LIMIT_KIB,
                        f"Target: strata serve peak RSS <= {bench.mib(RSS_LIMIT_KIB)}"))
