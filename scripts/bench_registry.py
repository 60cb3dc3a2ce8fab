"""The `registry` group of scripts/bench: `strata pull` and `strata push`
against a local registry, side by side with podman, skopeo and docker and a
floor, in the same run. scripts/bench imports this module and passes itself
in as `bench` (its helpers: settle, time_once, secs, verdict, ...); images,
tools and disk sampling come from scripts/bench_images.py. The work runs on
the journaled ext4 loop mount scripts/bench makes for the run.

Registry: Debian's `docker-registry` (distribution 2.8) as
crates/testkit/src/registry.rs configures it (`docker-registry serve
CONFIG`: filesystem storage, delete enabled, no upload purging), plain HTTP
on 127.0.0.1 on a free port, storage and log on the loop mount. One
registry serves every pull; each push goes to a registry of its own,
started empty on a new port just before it and stopped after: strata,
podman and docker remember where they saw a blob and mount it from there
(`POST ...?mount=DIGEST&from=REPO`) when the destination is on the same
registry, which would turn a push into a few requests. The repository is
fresh per run too (`run-N/x:1`). Every registry is stopped when the group
ends, on error too.

Images: bench_images.py's `one` (one ~120 MB layer) and `multi` (~100 MB
+ ~15 MB + three small layers), put into the registry untimed with `skopeo
copy docker-archive:FILE docker://127.0.0.1:PORT/bench/NAME:1` (skopeo
compresses the layers with gzip; the config, hence the image ID, is kept).
Their layers are pseudo-random data, so gzip hardly shrinks them.

Pull, each into a fresh store on the loop mount:
  strata  `strata --root R --runroot R.run pull -q 127.0.0.1:PORT/...`
          (release build, default driver: overlay as root)
  podman  `podman pull -q --tls-verify=false ...`, isolated as in
          bench_images.py (overlay)
  skopeo  `skopeo --tmpdir DIR copy -q --src-tls-verify=false docker://...
          containers-storage:...` with that podman instance's
          storage.conf, containers.conf and registries.conf (overlay; its
          download spool in the instance's tmp/, as podman's)
  docker  `docker pull -q ...` through bench_images.py's private dockerd
          (127.0.0.0/8 is an insecure registry to docker by default);
          every image is removed before each pull, so each one fetches
  floor   `curl -s` of the manifest and the config to /dev/null, then per
          layer `curl -s BLOB | pigz -dc | tar -x -C DIR` (gzip -dc when
          pigz is missing), then `sync -f DIR`: fetching, unpacking and
          making durable, one layer after the other. `curl` of every blob
          to /dev/null alone (fetch) is shown as well.
Push, from the store the timed pull filled, to an empty registry:
  strata  `strata ... push -q NAME 127.0.0.1:PORT2/run-N/x:1` (gzip), and
          with `--compression zstd` as a reference row
  podman  `podman push -q --tls-verify=false NAME docker://...`
  docker  `docker push -q ...` after an untimed `docker tag`
  floor   `curl` upload of the blobs as the registry holds them (already
          compressed, fetched once untimed): per blob, layers then config,
          `POST /v2/REPO/blobs/uploads/` and `PUT LOCATION&digest=...`
          with the file as body, then `PUT` of the manifest. Every pushing
          tool here has to compress the layers from its store first (strata
          keeps the pulled blobs but does not push from them yet); the
          floor leaves that out, so it is the
          transfer alone, the least a push of stored blobs costs.

Timing: wall time of each command through GNU time, which also gives the
peak RSS (docker: of the client; dockerd does the work). `sync` before
every command. Round robin: in each of N rounds (the page cache dropped
before each), for each image and tool, one untimed pull into a fresh
store, thrown away, and one timed pull into another, then one untimed and
one timed push from that store; then the floors, untimed then timed.
Figures are medians over the rounds; RSS is the largest seen. strata makes
what it pulls durable (a `syncfs` per layer); the peers do not, so the
`sync -f` of the store right after their pull is timed too and shown
added. A push only reads the store.

Disk: during every untimed pull bench_images.DiskPeak samples statvfs of
the loop mount; the store's growth is use after minus use before, the
transient extra is the peak minus the use after: space held only while
pulling (downloaded blobs, staging), against the compressed size of the
image's layers, all of which may be in flight at once (target: at most that
plus DISK_SLACK for file system metadata and the store's databases).

Checks (untimed): after each timed pull the tool lists exactly the image's
ID; after each push the destination's manifest names the image's config.

Host state the peers touch anyway: as in bench_images.py, plus podman's
and skopeo's blob location cache in
/var/lib/containers/cache/blob-info-cache-v1.boltdb (not consulted for the
fresh push registries, which no tool has seen).
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import bench_images as images  # scripts/bench_images.py, beside this module

REGISTRY = "/usr/bin/docker-registry"
START_TIMEOUT = 30      # seconds for a registry to answer
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")
# Targets (printed beside the numbers, misses included).
VS_PEER = 2.0           # peer / strata, at least, for pull and for push
VS_FLOOR = 1.3          # strata pull / floor, at most
RSS_LIMIT_KIB = 64 * 1024
DISK_TRANSIENT = 1.0    # strata pull: transient extra disk / compressed layers, at most,
DISK_SLACK = 1 << 20    # ... after this many bytes of file system metadata and databases

PULLERS = ("strata", "podman", "skopeo", "docker")
# Who pushes from the store each puller filled.
PUSHERS = {"strata": ("strata", "strata-zstd"), "podman": ("podman",), "docker": ("docker",)}
LABEL = {"strata": "strata overlay", "podman": "podman overlay", "skopeo": "skopeo to c/s overlay",
         "docker": "docker overlay2", "strata-zstd": "strata push --compression zstd"}


# --- registries ------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """One `docker-registry serve` with its config, storage and log in `dir`."""

    def __init__(self, dir):
        self.dir, self.proc, self.port = dir, None, None
        os.makedirs(os.path.join(dir, "storage"))

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"http://{self.host}"

    def start(self):
        """Starts it on a free port (another one if that was taken meanwhile)."""
        for _ in range(5):
            self.port = free_port()
            config = os.path.join(self.dir, "config.yml")
            with open(config, "w") as f:
                f.write("version: 0.1\n"
                        "log:\n  level: info\n  formatter: json\n"
                        f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
                        "  delete:\n    enabled: true\n"
                        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                        f"http:\n  addr: {self.host}\n  secret: strata-bench-secret\n")
            log_path = os.path.join(self.dir, "registry.log")
            with open(log_path, "wb") as log:
                self.proc = subprocess.Popen([REGISTRY, "serve", config], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.url}/v2/", timeout=5):
                        return self
                except OSError:
                    time.sleep(0.02)
            self.stop()
            with open(log_path, errors="replace") as f:
                text = f.read()
            if "address already in use" not in text:
                sys.exit(f"docker-registry did not start:\n{text[-4000:]}")
        sys.exit("docker-registry: no free port in 5 tries")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def get(self, path, accept=None):
        request = urllib.request.Request(f"{self.url}{path}")
        if accept:
            request.add_header("Accept", ", ".join(accept))
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), response.headers.get("Content-Type")


class PushRegistries:
    """A fresh, empty registry for each push (see the module doc); the one
    in use is `current`, stopped and removed when the next starts."""

    def __init__(self, base):
        self.base, self.count, self.current = base, 0, None

    def fresh(self):
        self.close()
        self.count += 1
        self.current = Registry(os.path.join(self.base, f"push-registry-{self.count}")).start()
        return self.current

    def close(self):
        if self.current is not None:
            self.current.stop()
            shutil.rmtree(self.current.dir, ignore_errors=True)
            self.current = None


# --- tools -----------------------------------------------------------------

class Strata(images.Strata):
    """strata with its own (absent) auth files: nothing of the host's."""

    def __init__(self, binary, base):
        super().__init__(binary, base)
        self.env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR",)}
        self.env.update({"REGISTRY_AUTH_FILE": os.path.join(base, "strata-auth.json"),
                         "DOCKER_CONFIG": os.path.join(base, "strata-docker")})

    def cmd(self, store, *args):
        argv, _ = super().cmd(store, *args)
        return argv, self.env

    def pull(self, store, ref):
        return self.cmd(store, "pull", "-q", ref)

    def push(self, store, name, dest):
        return self.cmd(store, "push", "-q", name, dest)


class StrataZstd(Strata):
    """Pushes with zstd instead of gzip (a reference row); pulls as Strata."""

    def push(self, store, name, dest):
        return self.cmd(store, "push", "-q", "--compression", "zstd", name, dest)


class Podman(images.Podman):
    """bench_images.py's isolated podman with an empty auth file (podman
    refuses a REGISTRY_AUTH_FILE that does not exist)."""

    def new_store(self):
        store = super().new_store()
        with open(os.path.join(store, "config", "auth.json"), "w") as f:
            f.write('{"auths": {}}\n')
        return store

    def pull(self, store, ref):
        return self.cmd(store, "pull", "-q", "--tls-verify=false", ref)

    def push(self, store, name, dest):
        return self.cmd(store, "push", "-q", "--tls-verify=false", name, f"docker://{dest}")


class Skopeo(Podman):
    """skopeo copying into a podman instance's containers-storage (its
    storage.conf through CONTAINERS_STORAGE_CONF); podman lists it.
    skopeo 1.9 spools blobs under /var/tmp whatever TMPDIR says; its
    `--tmpdir` keeps them on the loop mount, as podman's are."""

    kind = "skopeo"

    def pull(self, store, ref):
        _, env = self.cmd(store)
        return ["skopeo", "--tmpdir", f"{store}/tmp", "copy", "-q", "--src-tls-verify=false",
                f"docker://{ref}", f"containers-storage:{ref}"], env


class Docker(images.Docker):
    def pull(self, store, ref):
        return self.cmd(store, "pull", "-q", ref)

    def push(self, store, name, dest):
        argv, env = self.cmd(store, "tag", name, dest)
        images.run(argv, env)  # untimed
        return self.cmd(store, "push", "-q", dest)


# --- images in the registry --------------------------------------------------

class Pushed:
    """An image as the pull registry holds it."""

    def __init__(self, registry, repo, summary, blobs_dir):
        self.repo, self.ref = repo, f"{registry.host}/{repo}:1"
        self.image_id = summary["image_id"]
        raw, self.manifest_type = registry.get(f"/v2/{repo}/manifests/1", MANIFEST_TYPES)
        self.manifest = json.loads(raw)
        if self.manifest["config"]["digest"] != "sha256:" + self.image_id:
            sys.exit(f"{self.ref}: the registry's manifest names config "
                     f"{self.manifest['config']['digest']}, want sha256:{self.image_id}")
        self.layers = [layer["digest"] for layer in self.manifest["layers"]]
        self.compressed = sum(layer["size"] for layer in self.manifest["layers"])
        self.config = self.manifest["config"]["digest"]
        # The blobs as files, for the push floor.
        self.manifest_file = os.path.join(blobs_dir, f"{repo.replace('/', '-')}.manifest")
        with open(self.manifest_file, "wb") as f:
            f.write(raw)
        self.blob_files = []
        for digest in self.layers + [self.config]:
            path = os.path.join(blobs_dir, digest.split(":", 1)[1])
            data, _ = registry.get(f"/v2/{repo}/blobs/{digest}")
            if hashlib.sha256(data).hexdigest() != digest.split(":", 1)[1]:
                sys.exit(f"{self.ref}: blob {digest} does not hash to its digest")
            with open(path, "wb") as f:
                f.write(data)
            self.blob_files.append(path)


def size_text(n):
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


def put_images(registry, base, made):
    """Copies the images into the registry (untimed); [(key, label, Pushed)]."""
    env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": os.path.join(base, "registries.conf")}
    with open(env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
        f.write("unqualified-search-registries = []\n")
    blobs = os.path.join(base, "blobs")
    os.mkdir(blobs)
    out = []
    for key, _, archive, summary, _ in made:
        repo = f"bench/{key}"
        images.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                    f"docker-archive:{archive}", f"docker://{registry.host}/{repo}:1"], env)
        pushed = Pushed(registry, repo, summary, blobs)
        sizes = " + ".join(size_text(layer["size"]) for layer in pushed.manifest["layers"])
        n = len(pushed.layers)
        out.append((key, f"{key} ({n} layer{'s' if n > 1 else ''}, gzip: {sizes})", pushed))
    return out


# --- floors ------------------------------------------------------------------

FETCH = r'''
set -e -o pipefail
url=$1 repo=$2; shift 2
for digest in "$@"; do curl -sf "$url/v2/$repo/blobs/$digest" > /dev/null; done
'''

PULL_FLOOR = r'''
set -e -o pipefail
url=$1 repo=$2 dir=$3 gunzip=$4 accept=$5 config=$6; shift 6
curl -sf -H "Accept: $accept" "$url/v2/$repo/manifests/1" > /dev/null
curl -sf "$url/v2/$repo/blobs/$config" > /dev/null
for digest in "$@"; do curl -sf "$url/v2/$repo/blobs/$digest" | $gunzip | tar -x -C "$dir"; done
sync -f "$dir"
'''

PUSH_FLOOR = r'''
set -e -o pipefail
url=$1 repo=$2 manifest=$3 type=$4; shift 4
for blob in "$@"; do
    location=$(curl -sf -X POST -o /dev/null -w '%header{location}' "$url/v2/$repo/blobs/uploads/")
    case $location in http*) ;; *) location=$url$location ;; esac
    case $location in *\?*) sep='&' ;; *) sep='?' ;; esac
    curl -sf -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
        -T "$blob" "$location${sep}digest=sha256:${blob##*/}"
done
curl -sf -o /dev/null -H "Content-Type: $type" -T "$manifest" "$url/v2/$repo/manifests/1"
'''


def gunzip_cmd():
    return "pigz -dc" if shutil.which("pigz") else "gzip -dc"


# --- the benchmark ---------------------------------------------------------

class Group:
    """The group's registries and tools, and what its rounds collect."""

    def __init__(self, bench, mnt, base, registry, pushes, tools, floors_dir):
        self.bench, self.mnt, self.base = bench, mnt, base
        self.registry, self.pushes, self.tools, self.floors_dir = registry, pushes, tools, floors_dir
        self.samples = {}   # (key, op, tool) -> [(wall, rss, sync after)]
        self.disk = {}      # (key, tool) -> [(growth, transient)]
        self.runs = 0

    def add(self, key, value):
        self.samples.setdefault(key, []).append(value)

    def timed(self, argv, env=None):
        os.sync()
        return self.bench.time_once(argv, env, stdin=subprocess.DEVNULL)

    def pull_pair(self, tool, key, img):
        impl = self.tools[tool]
        store = impl.new_store()
        os.sync()
        argv, env = impl.pull(store, img.ref)
        with images.DiskPeak(self.mnt) as peak:
            images.run(argv, env)
        self.disk.setdefault((key, tool), []).append((peak.after - peak.before,
                                                      peak.peak - peak.after))
        impl.drop(store)
        store = impl.new_store()
        argv, env = impl.pull(store, img.ref)
        wall, rss = self.timed(argv, env)
        self.add((key, "pull", tool), (wall, rss, images.sync_after(impl.sync_target(store))))
        if impl.image_ids(store) != [img.image_id]:
            sys.exit(f"{LABEL[tool]}: after pull the store lists {impl.image_ids(store)}, "
                     f"want [{img.image_id}]")
        return store

    def push_pair(self, tool, key, img, store):
        impl = self.tools[tool]
        for timed_run in (False, True):
            dest = self.pushes.fresh()
            self.runs += 1
            target = f"{dest.host}/run-{self.runs}/x:1"
            argv, env = impl.push(store, img.ref, target)
            if timed_run:
                wall, rss = self.timed(argv, env)
                self.add((key, "push", tool), (wall, rss, 0.0))
            else:
                os.sync()
                images.run(argv, env)
            check_pushed(dest, f"run-{self.runs}/x", img, LABEL[tool])

    def floors(self, key, img):
        gunzip = gunzip_cmd()
        accept = ", ".join(MANIFEST_TYPES)
        for timed_run in (False, True):
            self.runs += 1
            fetch = ["bash", "-c", FETCH, "fetch", self.registry.url, img.repo, *img.layers,
                     img.config]
            wall, rss = self.timed(fetch)
            if timed_run:
                self.add((key, "pull", "fetch"), (wall, rss, 0.0))
            out = os.path.join(self.floors_dir, f"floor-{self.runs}")
            os.mkdir(out)
            pull = ["bash", "-c", PULL_FLOOR, "pull-floor", self.registry.url, img.repo, out,
                    gunzip, accept, img.config, *img.layers]
            wall, rss = self.timed(pull)
            if timed_run:
                self.add((key, "pull", "floor"), (wall, rss, 0.0))
            images.remove_tree(out)
            dest = self.pushes.fresh()
            push = ["bash", "-c", PUSH_FLOOR, "push-floor", dest.url, f"run-{self.runs}/x",
                    img.manifest_file, img.manifest_type, *img.blob_files]
            wall, rss = self.timed(push)
            if timed_run:
                self.add((key, "push", "floor"), (wall, rss, 0.0))
            check_pushed(dest, f"run-{self.runs}/x", img, "push floor")

    def one_round(self, made):
        for key, _, img in made:
            for tool in PULLERS:
                store = self.pull_pair(tool, key, img)
                for pusher in PUSHERS.get(tool, ()):
                    self.push_pair(pusher, key, img, store)
                self.tools[tool].drop(store)
            self.floors(key, img)
        self.pushes.close()


def check_pushed(registry, repo, img, who):
    raw, _ = registry.get(f"/v2/{repo}/manifests/1", MANIFEST_TYPES)
    manifest = json.loads(raw)
    if manifest["config"]["digest"] != img.config or len(manifest["layers"]) != len(img.layers):
        sys.exit(f"{who}: the pushed manifest names config {manifest['config']['digest']} and "
                 f"{len(manifest['layers'])} layers, want {img.config} and {len(img.layers)}")


# --- tables ------------------------------------------------------------------

def print_pull(bench, made, r, runs):
    med = lambda key, i=0: statistics.median(s[i] for s in r.samples[key])  # noqa: E731
    both = lambda key: statistics.median(s[0] + s[2] for s in r.samples[key])  # noqa: E731
    rss = lambda key: max(s[1] for s in r.samples[key])  # noqa: E731
    print(f"### pull (median of {runs}; fresh store per pull; `sync` before each command)\n")
    print("| image | strata | strata min-max | podman | skopeo | docker | podman / strata "
          "| skopeo / strata | docker / strata | podman + `sync -f` | skopeo + `sync -f` "
          "| docker + `sync -f` | floor | strata / floor | fetch only | strata peak RSS "
          "| podman peak RSS | skopeo peak RSS | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, label, _ in made:
        s = med((key, "pull", "strata"))
        walls = [w for w, *_ in r.samples[(key, "pull", "strata")]]
        p, k, d = (med((key, "pull", t)) for t in ("podman", "skopeo", "docker"))
        ps, ks, ds = (both((key, "pull", t)) for t in ("podman", "skopeo", "docker"))
        f, fetch = med((key, "pull", "floor")), med((key, "pull", "fetch"))
        s_rss = rss((key, "pull", "strata"))
        targets = "; ".join([
            bench.verdict(p / s >= VS_PEER, f"≥ {VS_PEER:g}x podman"),
            bench.verdict(d / s >= VS_PEER, f"≥ {VS_PEER:g}x docker"),
            bench.verdict(s / f <= VS_FLOOR, f"≤ {VS_FLOOR}x floor"),
            bench.verdict(s_rss <= RSS_LIMIT_KIB, "RSS ≤ 64 MiB"),
        ])
        print(f"| {label} | {bench.secs(s)} | {min(walls):.3f}-{max(walls):.3f} s "
              f"| {bench.secs(p)} | {bench.secs(k)} | {bench.secs(d)} | **{p / s:.2f}x** "
              f"| {k / s:.2f}x | **{d / s:.2f}x** | {bench.secs(ps)} | {bench.secs(ks)} "
              f"| {bench.secs(ds)} | {bench.secs(f)} | **{s / f:.2f}x** | {bench.secs(fetch)} "
              f"| {bench.mib(s_rss)} | {bench.mib(rss((key, 'pull', 'podman')))} "
              f"| {bench.mib(rss((key, 'pull', 'skopeo')))} | {targets} |")
    after = [sync for key in r.samples if key[1:] == ("pull", "strata")
             for *_, sync in r.samples[key]]
    print(f"\nFloor: `curl` of manifest and config, then per layer `curl BLOB | {gunzip_cmd()} | "
          f"tar -x`, then `sync -f`. Fetch only: `curl` of every blob to /dev/null. "
          f"`sync -f` right after strata's pulls: median {bench.msecs(statistics.median(after))}, "
          f"max {bench.msecs(max(after))}.\n")


def print_push(bench, made, r, runs):
    med = lambda key: statistics.median(s[0] for s in r.samples[key])  # noqa: E731
    rss = lambda key: max(s[1] for s in r.samples[key])  # noqa: E731
    print(f"### push (median of {runs}; from the store the timed pull filled, each to an empty "
          f"registry)\n")
    print("| image | strata | strata min-max | podman | docker | podman / strata "
          "| docker / strata | floor `curl` upload | strata / floor | strata peak RSS "
          "| podman peak RSS | strata zstd | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, label, _ in made:
        s = med((key, "push", "strata"))
        walls = [w for w, *_ in r.samples[(key, "push", "strata")]]
        p, d, f = med((key, "push", "podman")), med((key, "push", "docker")), \
            med((key, "push", "floor"))
        s_rss = rss((key, "push", "strata"))
        targets = "; ".join([
            bench.verdict(p / s >= VS_PEER, f"≥ {VS_PEER:g}x podman"),
            bench.verdict(d / s >= VS_PEER, f"≥ {VS_PEER:g}x docker"),
            bench.verdict(s_rss <= RSS_LIMIT_KIB, "RSS ≤ 64 MiB"),
        ])
        print(f"| {label} | {bench.secs(s)} | {min(walls):.3f}-{max(walls):.3f} s "
              f"| {bench.secs(p)} | {bench.secs(d)} | **{p / s:.2f}x** | **{d / s:.2f}x** "
              f"| {bench.secs(f)} | {s / f:.2f}x | {bench.mib(s_rss)} "
              f"| {bench.mib(rss((key, 'push', 'podman')))} "
              f"| {bench.secs(med((key, 'push', 'strata-zstd')))} | {targets} |")
    print("\nFloor: upload of the already-compressed blobs and the manifest with `curl`, one "
          "blob after the other (no compression). strata zstd: `strata push --compression zstd` "
          "(reference, not a target).\n")


def print_disk(bench, made, r):
    print("### disk during pull (statvfs of the loop mount every "
          f"{images.SAMPLE_EVERY * 1000:g} ms; worst of the untimed pulls)\n")
    print("| image | tool | store growth | transient extra (peak - after) | compressed layers "
          "| transient / compressed | target |")
    print("|---|---|---|---|---|---|---|")
    for key, label, img in made:
        for tool in PULLERS:
            growth, transient = max(r.disk[(key, tool)], key=lambda gt: gt[1])
            ratio = transient / img.compressed
            ok = transient <= DISK_TRANSIENT * img.compressed + DISK_SLACK
            target = (bench.verdict(ok, f"≤ {DISK_TRANSIENT:g}x + {DISK_SLACK >> 20} MiB")
                      if tool == "strata" else "(reference)")
            print(f"| {label} | {LABEL[tool]} | {growth / 1e6:.1f} MB | {transient / 1e6:.1f} MB "
                  f"| {img.compressed / 1e6:.1f} MB | {ratio:.3f}x | {target} |")
    print()


def registry_bench(bench, mnt, strata, runs):
    for program in ("podman", "skopeo", "curl", images.DOCKERD, images.DOCKER, REGISTRY):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed: apt-get install podman skopeo curl docker.io "
                     f"docker-registry")
    podman_version, docker_version = images.versions()
    skopeo_version = images.run(["skopeo", "--version"]).split()[-1]
    registry_version = images.run([REGISTRY, "--version"]).split()[-1]
    print(f"Registry: docker-registry {registry_version}, plain HTTP on 127.0.0.1. Peers: podman "
          f"{podman_version} and skopeo {skopeo_version} (overlay), dockerd {docker_version} "
          f"(overlay2), each isolated on the loop mount.\n")
    base = os.path.join(mnt, "registry")
    os.mkdir(base)
    floors = os.path.join(base, "floors")
    os.mkdir(floors)
    tools = {"strata": Strata(strata, base), "podman": Podman(base), "skopeo": Skopeo(base),
             "docker": Docker(base), "strata-zstd": StrataZstd(strata, base)}
    registry = Registry(os.path.join(base, "pull-registry"))
    pushes = PushRegistries(base)
    try:
        made = images.make_images(base)
        registry.start()
        made = put_images(registry, base, made)
        tools["docker"].start()
        r = Group(bench, mnt, base, registry, pushes, tools, floors)
        for _ in range(runs):
            bench.settle()
            r.one_round(made)
    finally:
        pushes.close()
        registry.stop()
        tools["docker"].stop()
        tools["podman"].close()
        tools["skopeo"].close()
        left = images.mounts_under(base)
        images.unmount_under(base)
        if left:
            print(f"note: {len(left)} mount(s) were left under {base} and have been unmounted: "
                  f"{', '.join(left[:5])}")
    print_pull(bench, made, r, runs)
    print_push(bench, made, r, runs)
    print_disk(bench, made, r)
