"""The `images` group of scripts/bench: `strata save` and `strata load` of
whole images against `podman save`/`podman load` and `docker save`/`docker
load`, in the same run. scripts/bench imports this module and passes itself
in as `bench` (its helpers: settle, secs, verdict, ...); the work runs on the
journaled ext4 loop mount scripts/bench makes for the run.

Images (written by scripts/sample-image, deterministic, no network):
  one     one layer: a small rootfs plus ONE_MIB MiB of pseudo-random files
          (`sample-image --layers 1 --size-mib ONE_MIB`)
  multi   five layers: the rootfs with ROOTFS_MIB MiB of filler, an "app"
          layer of APP_MIB MiB under opt/app/, and three small layers (the
          last with a whiteout and an opaque directory). sample-image only
          fills layer 1, so this script loads it as a module and swaps in
          its own layer 2 (same Tar helper, its own SHAKE-128 seed); the
          rest of the archive is sample-image's own.

Tools, all but strata vfs on kernel overlay, each in its own directories on
the loop mount:
  strata  `strata --root R --runroot R.run load -i FILE` into a fresh store
          (the default driver: overlay as root), `strata ... save -o FILE
          NAME`; `--driver vfs` alongside for reference; and through pipes,
          `cat FILE | strata ... load` and `strata ... save NAME | cat >
          FILE` (bash -o pipefail), in a table of their own.
  podman  isolated as crates/testkit/src/peers.rs does it: its own
          containers.conf, storage.conf (driver overlay) and
          registries.conf through the environment, `--root`, `--runroot`,
          `--tmpdir`, `--storage-driver overlay`, cgroupfs, file events; a
          fresh instance directory per load (its runroot under /run: podman
          refuses runroot paths over 50 bytes).
  docker  one private dockerd for the group (overlay2, data root and exec
          root on the loop mount, a unix socket only, no iptables, no IP
          forwarding, no bridge, daemon.json with deprecated-key-path),
          stopped at the end; before each load every image is removed
          (`docker rmi`), so each load starts from an empty image store.

Timing: wall time of each command; `sync` before every command, timed or
not. Round robin: in each of N rounds, for each image and tool, one
untimed load into a fresh store, one timed load into another, then one
untimed and one timed save of the loaded image to a fresh file; figures are
medians over the rounds. strata makes what it writes durable (load: one
`syncfs` per layer; save: fsync of the archive); podman and docker do not,
so right after each of their commands `sync -f` of the store (load) or the
archive (save) is timed too, and the table shows the command alone and
followed by that sync. The same sync after strata's commands is timed as a
check (it has little left to write). Floor, per image and round: `cat
ARCHIVE > FILE` (untimed once, then timed) and the `sync -f FILE` after it:
the archive's bytes written once and made durable, the least either
operation has to do.

Disk: during every untimed load a thread samples statvfs of the loop mount
every SAMPLE_EVERY s; peak extra disk is the highest use seen minus the use
before the load, against the store's growth (use after the load minus use
before). Space written elsewhere is not seen: podman load of an archive with
an `oci-layout` member (this layout, Docker 25+) first extracts it under
/var/tmp/oci*, which is on the host disk, not the loop mount.

Checks (untimed): after each timed load the tool lists exactly the image's
ID; in the first round each saved archive is read back (its manifest's
config hashes to the image ID, its layers to the DiffIDs). Each tool's
driver is checked once (`strata status`, `podman info`, `docker info`).

Host state the peers touch anyway (hard-coded paths, as
crates/testkit/src/peers.rs notes): dockerd creates /run/docker/plugins;
podman records blob locations in
/var/lib/containers/cache/blob-info-cache-v1.boltdb and extracts to
/var/tmp/oci* (removed again). Everything else is under the loop mount and
a /run/sbi-* directory, and dockerd, its containerd and any mount are gone
when the group ends, on error too.
"""

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

ONE_MIB = 115          # image one: one layer of ~120 MB
ROOTFS_MIB = 96        # image multi: ~100 MB rootfs layer ...
APP_MIB = 14           # ... a ~15 MB app layer, then three small layers
MULTI_LAYERS = 5
APP_SEED = "strata bench app layer"
SAMPLE_EVERY = 0.005   # seconds between statvfs samples
# Targets (printed beside the numbers, misses included).
VS_PEER = 2.0          # peer / strata, at least, for save and for load
DISK_PEAK = 1.1        # strata load: peak extra disk / store growth, at most

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"     # the docker.io client (/usr/local/bin may hold another)
TOOLS = ("strata", "podman", "docker", "vfs", "pipe")
LABEL = {"strata": "strata overlay", "podman": "podman overlay", "docker": "docker overlay2",
         "vfs": "strata vfs", "pipe": "strata overlay, pipes"}
PEERS = ("podman", "docker")


def fail(what, proc):
    sys.exit(f"command failed: {what}\n{proc.stderr.decode(errors='replace')}")


def run(argv, env=None):
    """Runs argv (untimed); returns stdout as text."""
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        fail(" ".join(argv), proc)
    return proc.stdout.decode()


def timed(argv, env=None):
    """Wall seconds of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        fail(" ".join(argv), proc)
    return wall


def used(mnt):
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class DiskPeak:
    """Samples the loop mount's used bytes from a thread while the `with`
    block runs: `.before`, `.peak`, and `.after` (read on exit)."""

    def __init__(self, mnt):
        self.mnt = mnt

    def __enter__(self):
        self.before = self.peak = used(self.mnt)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(SAMPLE_EVERY):
            self.peak = max(self.peak, used(self.mnt))

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.after = used(self.mnt)
        self.peak = max(self.peak, self.after)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted((p for p in points if p == path or p.startswith(path + "/")), reverse=True)


def unmount_under(path):
    for point in mounts_under(path):
        if subprocess.run(["umount", point]).returncode != 0:
            subprocess.run(["umount", "-l", point])


def remove_tree(path):
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


# --- images ----------------------------------------------------------------

def load_sample_image():
    """scripts/sample-image as a module (it has no .py suffix)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample-image")
    loader = importlib.machinery.SourceFileLoader("sample_image", path)
    spec = importlib.util.spec_from_loader("sample_image", loader)
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # no __pycache__ in scripts/
    loader.exec_module(module)
    return module


def app_layer(sample, k):
    """Layer k of the multi image: APP_MIB MiB of files under opt/app/."""
    tar = sample.Tar(sample.EPOCH_CREATED + 60 * (k - 1))
    tar.dir("opt/")
    tar.dir("opt/app/")
    remaining, index = APP_MIB << 20, 0
    while remaining > 0:
        size = min(sample.FILLER_SIZES[index % len(sample.FILLER_SIZES)], remaining)
        data = hashlib.shake_128(f"{APP_SEED} {index}".encode()).digest(size)
        tar.file(f"opt/app/lib-{index:04d}.so", data, 0o755)
        remaining -= size
        index += 1
    return tar.finish()


def write_multi(sample, out, name):
    """The multi image, through sample-image's build() with layer 2 swapped."""
    upper = sample.upper_layer
    sample.upper_layer = lambda k, last: app_layer(sample, k) if k == 2 else upper(k, last)
    try:
        members, summary = sample.build(name, MULTI_LAYERS, ROOTFS_MIB)
    finally:
        sample.upper_layer = upper
    with open(out, "wb") as f:
        for member, data in members:
            sample.outer_member(f, member, data)
        f.write(b"\0" * (2 * sample.BLOCK))
    return summary


def make_images(base):
    """[(key, label, archive, summary, layer sizes)] for the two images."""
    sample = load_sample_image()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample-image")
    one = os.path.join(base, "one.tar")
    one_summary = json.loads(run([sys.executable, script, one, "--name", "localhost/bench-one:1",
                                  "--layers", "1", "--size-mib", str(ONE_MIB)]))
    multi = os.path.join(base, "multi.tar")
    multi_summary = write_multi(sample, multi, "localhost/bench-multi:1")
    images = []
    for key, path, summary in (("one", one, one_summary), ("multi", multi, multi_summary)):
        sizes = layer_sizes(path, summary)
        shape = " + ".join(f"{s / 1e6:.1f} MB" if s >= 1e6 else f"{s / 1e3:.0f} kB" for s in sizes)
        label = f"{key} ({len(sizes)} layer{'s' if len(sizes) > 1 else ''}: {shape})"
        images.append((key, label, path, summary, sizes))
    return images


def layer_sizes(path, summary):
    with tarfile.open(path) as tar:
        sizes = {m.name.rsplit("/", 1)[-1]: m.size for m in tar.getmembers() if m.isfile()}
    return [sizes[d.split(":", 1)[1]] for d in summary["diff_ids"]]


def check_archive(path, summary, who):
    """A saved archive holds the image: config and layers hash right."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        if len(manifest) != 1:
            sys.exit(f"{who}: {len(manifest)} images in {path}")
        entry = manifest[0]

        def digest(name):
            h = hashlib.sha256()
            f = tar.extractfile(name)
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            return h.hexdigest()

        config = digest(entry["Config"])
        layers = ["sha256:" + digest(name) for name in entry["Layers"]]
    if config != summary["image_id"] or layers != summary["diff_ids"]:
        sys.exit(f"{who}: the saved archive {path} does not hold the image "
                 f"(config {config[:12]}, {len(layers)} layers)")


# --- tools -----------------------------------------------------------------

class Strata:
    """Fresh strata stores under base; driver None is the default one."""

    def __init__(self, binary, base, driver=None):
        self.binary, self.base, self.driver, self.count = binary, base, driver, 0

    def new_store(self):
        self.count += 1
        kind = type(self).__name__.lower() + "-" + (self.driver or "default")
        return os.path.join(self.base, f"{kind}-{self.count}")

    def cmd(self, store, *args):
        driver = ["--driver", self.driver] if self.driver else []
        return [self.binary, "--root", store, "--runroot", store + ".run", *driver, *args], None

    def load(self, store, archive):
        return self.cmd(store, "load", "-i", archive)

    def save(self, store, name, out):
        return self.cmd(store, "save", "-o", out, name)

    def image_ids(self, store):
        argv, env = self.cmd(store, "images", "--json")
        return sorted(image["Id"] for image in json.loads(run(argv, env)))

    def driver_name(self, store):
        argv, env = self.cmd(store, "status")
        return next(line.split()[1] for line in run(argv, env).splitlines()
                    if line.startswith("driver:"))

    def sync_target(self, store):
        return store

    def drop(self, store):
        remove_tree(store)
        remove_tree(store + ".run")


class StrataPipe(Strata):
    """strata reading the archive from a pipe (`cat FILE | strata load`) and
    writing it to one (`strata save NAME | cat > FILE`), as in `docker save
    | strata load` or over ssh: not seekable, so a load cannot read the
    layers in place."""

    def load(self, store, archive):
        argv, env = self.cmd(store, "load")
        return ["bash", "-o", "pipefail", "-c", 'f=$1; shift; cat "$f" | "$@"', "bash",
                archive, *argv], env

    def save(self, store, name, out):
        argv, env = self.cmd(store, "save", name)
        return ["bash", "-o", "pipefail", "-c", 'f=$1; shift; "$@" | cat > "$f"', "bash",
                out, *argv], env


class Podman:
    """Isolated podman stores, as crates/testkit/src/peers.rs makes them.
    podman refuses a runroot path longer than 50 bytes, so the runroots
    (lock files and a few small state files) live in a short directory
    under /run (tmpfs, where podman keeps them by default), removed at the
    end; everything else is on the loop mount."""

    kind = "podman"  # instance directories are KIND-N

    def __init__(self, base):
        self.base, self.count = base, 0
        self.run_dir = tempfile.mkdtemp(prefix="sbi-", dir="/run")

    def runroot(self, store):
        return os.path.join(self.run_dir, os.path.basename(store))

    def new_store(self):
        self.count += 1
        path = os.path.join(self.base, f"{self.kind}-{self.count}")
        for sub in ("root", "tmp", "networks", "config"):
            os.makedirs(os.path.join(path, sub))
        os.mkdir(self.runroot(path))
        tmp = os.path.join(path, "tmp")
        files = {
            "containers.conf": f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                               f'lock_type = "file"\nimage_copy_tmp_dir = "{tmp}"\n'
                               f'[network]\nnetwork_backend = "cni"\n',
            "storage.conf": f'[storage]\ndriver = "overlay"\n'
                            f'graphroot = "{path}/root"\nrunroot = "{self.runroot(path)}"\n',
            "registries.conf": "unqualified-search-registries = []\n",
        }
        for name, text in files.items():
            with open(os.path.join(path, name), "w") as f:
                f.write(text)
        return path

    def cmd(self, store, *args):
        env = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION")}
        env.update({
            "CONTAINERS_CONF": f"{store}/containers.conf",
            "CONTAINERS_STORAGE_CONF": f"{store}/storage.conf",
            "CONTAINERS_REGISTRIES_CONF": f"{store}/registries.conf",
            "REGISTRY_AUTH_FILE": f"{store}/config/auth.json",
            "XDG_CONFIG_HOME": f"{store}/config",
            "TMPDIR": f"{store}/tmp",
        })
        argv = ["podman", "--root", f"{store}/root", "--runroot", self.runroot(store),
                "--storage-driver", "overlay", "--tmpdir", f"{store}/tmp",
                "--network-config-dir", f"{store}/networks",
                "--cgroup-manager=cgroupfs", "--events-backend=file", *args]
        return argv, env

    def load(self, store, archive):
        return self.cmd(store, "load", "-q", "-i", archive)

    def save(self, store, name, out):
        return self.cmd(store, "save", "-q", "-o", out, name)

    def image_ids(self, store):
        argv, env = self.cmd(store, "images", "-q", "--no-trunc")
        return sorted(set(line.removeprefix("sha256:") for line in run(argv, env).split()))

    def driver_name(self, store):
        argv, env = self.cmd(store, "info", "--format", "{{.Store.GraphDriverName}}")
        return run(argv, env).strip()

    def sync_target(self, store):
        return store

    def drop(self, store):
        remove_tree(store)
        remove_tree(self.runroot(store))

    def close(self):
        remove_tree(self.run_dir)


class Docker:
    """One private dockerd for the group, as crates/testkit/src/peers.rs
    runs it; "stores" are the same daemon, emptied before each load."""

    def __init__(self, base):
        self.dir = os.path.join(base, "dockerd")
        for sub in ("data", "exec", "client"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "daemon.json"), "w") as f:
            json.dump({"deprecated-key-path": os.path.join(self.dir, "key.json")}, f)
        self.daemon = None

    def at(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        name = os.path.basename(os.path.dirname(self.dir)) + "-images"
        args = [
            f"--data-root={self.at('data')}", f"--exec-root={self.at('exec')}",
            f"--pidfile={self.at('docker.pid')}", f"--host=unix://{self.at('docker.sock')}",
            f"--config-file={self.at('daemon.json')}", "--storage-driver=overlay2",
            "--log-level=warn", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
            f"--containerd-namespace={name}", f"--containerd-plugins-namespace={name}-plugins",
        ]
        with open(self.at("dockerd.log"), "ab") as log:
            self.daemon = subprocess.Popen([DOCKERD, *args], stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                sys.exit(f"dockerd exited ({self.daemon.returncode}):\n{self.log_tail()}")
            argv, env = self.cmd(None, "version")
            if os.path.exists(self.at("docker.sock")) and \
                    subprocess.run(argv, env=env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit(f"dockerd did not answer within 60 s:\n{self.log_tail()}")

    def log_tail(self):
        with open(self.at("dockerd.log"), errors="replace") as f:
            return "".join(f.readlines()[-40:])

    def stop(self):
        """SIGTERM to the dockerd started here (SIGKILL after 30 s), then its
        containerd if it outlived it, then anything left mounted."""
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        pidfile = self.at("exec/containerd/containerd.pid")
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = f.read().strip()
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    ours = (self.dir + "/").encode() in f.read()
            except (FileNotFoundError, ProcessLookupError):
                ours = False
            if ours:
                os.kill(int(pid), signal.SIGTERM)
        unmount_under(self.dir)

    def cmd(self, store, *args):
        env = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
        env["DOCKER_CONFIG"] = self.at("client")
        return [DOCKER, "--host", f"unix://{self.at('docker.sock')}", *args], env

    def new_store(self):
        self.empty()
        return self.at("data")

    def empty(self):
        argv, env = self.cmd(None, "images", "-aq", "--no-trunc")
        ids = sorted(set(run(argv, env).split()))
        if ids:
            argv, env = self.cmd(None, "rmi", "-f", *ids)
            run(argv, env)
        if self.image_ids(None):
            sys.exit("docker: images left after rmi")

    def load(self, store, archive):
        return self.cmd(store, "load", "-q", "-i", archive)

    def save(self, store, name, out):
        return self.cmd(store, "save", "-o", out, name)

    def image_ids(self, store):
        argv, env = self.cmd(store, "images", "-q", "--no-trunc")
        return sorted(set(line.removeprefix("sha256:") for line in run(argv, env).split()))

    def driver_name(self, store):
        argv, env = self.cmd(store, "info", "--format", "{{.Driver}}")
        return run(argv, env).strip()

    def sync_target(self, store):
        return store

    def drop(self, store):
        self.empty()


def versions():
    podman = run(["podman", "--version"]).split()[-1]
    docker = run([DOCKERD, "--version"]).split(",")[0].split()[-1]
    return podman, docker


# --- the benchmark ---------------------------------------------------------

def sync_after(path):
    """Wall seconds of `sync -f PATH` (syncfs of its file system)."""
    return timed(["sync", "-f", path])


def load_pair(mnt, impl, tool, key, archive, summary, samples, disk):
    """An untimed load (disk sampled) into a fresh store, thrown away, then a
    timed one into another; returns the timed one's store."""
    store = impl.new_store()
    os.sync()
    argv, env = impl.load(store, archive)
    with DiskPeak(mnt) as peak:
        run(argv, env)
    disk[(key, tool)].append((peak.peak - peak.before, peak.after - peak.before))
    impl.drop(store)
    store = impl.new_store()
    os.sync()
    argv, env = impl.load(store, archive)
    wall = timed(argv, env)
    samples[(key, "load", tool)].append((wall, sync_after(impl.sync_target(store))))
    if impl.image_ids(store) != [summary["image_id"]]:
        sys.exit(f"{LABEL[tool]}: after load the store lists {impl.image_ids(store)}, "
                 f"want [{summary['image_id']}]")
    return store


def save_pair(base, impl, tool, key, store, summary, samples, check):
    """An untimed then a timed save to fresh files (removed after); the
    timed archive is read back when `check`."""
    for timed_run in (False, True):
        out = os.path.join(base, f"save-{key}-{tool}-{int(timed_run)}.tar")
        argv, env = impl.save(store, summary["name"], out)
        os.sync()
        if timed_run:
            wall = timed(argv, env)
            samples[(key, "save", tool)].append((wall, sync_after(out)))
            if check:
                check_archive(out, summary, LABEL[tool])
        else:
            run(argv, env)
        os.unlink(out)


def floor_pair(base, key, archive, samples):
    """`cat ARCHIVE > FILE` and the `sync -f FILE` after it, untimed then timed."""
    for timed_run in (False, True):
        out = os.path.join(base, f"floor-{key}-{int(timed_run)}.tar")
        os.sync()
        wall = timed(["sh", "-c", 'cat "$1" > "$2"', "sh", archive, out])
        synced = sync_after(out)
        if timed_run:
            samples[(key, "floor")].append((wall, synced))
        os.unlink(out)


def check_driver(impl, tool, store):
    want = {"strata": "overlay", "podman": "overlay", "docker": "overlay2", "vfs": "vfs",
            "pipe": "overlay"}[tool]
    driver = impl.driver_name(store)
    if driver != want:
        sys.exit(f"{LABEL[tool]}: runs on {driver}, want {want}")


def one_round(mnt, base, tools, images, first, samples, disk):
    """One round: for each image, each tool loads it twice and saves it
    twice (untimed, then timed), then the floor copies it twice."""
    for key, _, archive, summary, _ in images:
        for tool, impl in tools.items():
            store = load_pair(mnt, impl, tool, key, archive, summary, samples, disk)
            if first:
                check_driver(impl, tool, store)
            save_pair(base, impl, tool, key, store, summary, samples, first)
            impl.drop(store)
        floor_pair(base, key, archive, samples)


def print_times(bench, images, samples, runs):
    med = lambda key, i=0: statistics.median(s[i] for s in samples[key])  # noqa: E731
    both = lambda key: statistics.median(w + s for w, s in samples[key])  # noqa: E731
    print(f"### save and load (median of {runs}; fresh store per load; `sync` before each "
          f"command)\n")
    print("| image | op | strata overlay | strata min-max | podman overlay | docker overlay2 "
          "| podman / strata | docker / strata | podman + `sync -f` | docker + `sync -f` "
          "| (podman + sync) / strata | (docker + sync) / strata | strata vfs "
          "| floor `cat` + `sync -f` | strata / floor | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, label, _, _, _ in images:
        floor = both((key, "floor"))
        for op in ("save", "load"):
            s = med((key, op, "strata"))
            walls = [w for w, _ in samples[(key, op, "strata")]]
            p, d = med((key, op, "podman")), med((key, op, "docker"))
            ps, ds = both((key, op, "podman")), both((key, op, "docker"))
            v = med((key, op, "vfs"))
            targets = "; ".join(bench.verdict(x / s >= VS_PEER, f"≥ {VS_PEER:g}x {peer}")
                                for x, peer in ((p, "podman"), (d, "docker")))
            print(f"| {label} | {op} | {bench.secs(s)} | {min(walls):.3f}-{max(walls):.3f} s "
                  f"| {bench.secs(p)} | {bench.secs(d)} | **{p / s:.2f}x** | **{d / s:.2f}x** "
                  f"| {bench.secs(ps)} | {bench.secs(ds)} | {ps / s:.2f}x | {ds / s:.2f}x "
                  f"| {bench.secs(v)} | {bench.secs(floor)} | {s / floor:.2f}x | {targets} |")
    cat = statistics.median(w for key, *_ in images for w, _ in samples[(key, "floor")])
    print(f"\nFloor: `cat ARCHIVE > FILE` then `sync -f FILE` (the archive's bytes written "
          f"once and made durable; `cat` alone: median {bench.secs(cat)} over both images).")
    after = [sync for key in samples if key[-1] in ("strata", "vfs") for _, sync in samples[key]]
    print(f"`sync -f` right after strata's own commands (its writes already durable): "
          f"median {bench.msecs(statistics.median(after))}, max {bench.msecs(max(after))}.\n")


def print_pipes(bench, images, samples):
    med = lambda key: statistics.median(w for w, _ in samples[key])  # noqa: E731
    print("### strata through pipes (`cat FILE | strata load`, `strata save NAME | cat > FILE`; "
          "the peers as above, reading and writing the file)\n")
    print("| image | op | strata `-i`/`-o FILE` | strata, pipes | pipes / file "
          "| podman / strata pipes | docker / strata pipes |")
    print("|---|---|---|---|---|---|---|")
    for key, label, _, _, _ in images:
        for op in ("save", "load"):
            s, q = med((key, op, "strata")), med((key, op, "pipe"))
            p, d = med((key, op, "podman")), med((key, op, "docker"))
            print(f"| {label} | {op} | {bench.secs(s)} | {bench.secs(q)} | {q / s:.2f}x "
                  f"| {p / q:.2f}x | {d / q:.2f}x |")
    print()


def print_disk(bench, images, disk):
    print("### disk during load (statvfs of the loop mount every "
          f"{SAMPLE_EVERY * 1000:g} ms; worst of the untimed loads)\n")
    print("| image | store | store growth | peak extra during load | peak / growth | target |")
    print("|---|---|---|---|---|---|")
    for key, label, _, _, _ in images:
        for tool in TOOLS:
            peak, growth = max(disk[(key, tool)], key=lambda pg: pg[0] / pg[1])
            ratio = peak / growth
            target = (bench.verdict(ratio <= DISK_PEAK, f"≤ {DISK_PEAK}x")
                      if tool in ("strata", "pipe") else "(reference)")
            print(f"| {label} | {LABEL[tool]} | {growth / 1e6:.1f} MB | {peak / 1e6:.1f} MB "
                  f"| {ratio:.2f}x | {target} |")
    print()


def images_bench(bench, mnt, strata, runs):
    for program in ("podman", DOCKERD, DOCKER):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed: apt-get install podman docker.io")
    podman_version, docker_version = versions()
    print(f"Peers: podman {podman_version} (`--storage-driver overlay`), dockerd "
          f"{docker_version} (`overlay2`), each isolated on the loop mount. strata overlay = "
          f"the default driver, strata vfs = `--driver vfs`.\n")
    base = os.path.join(mnt, "images")
    os.mkdir(base)
    images = make_images(base)
    tools = {"strata": Strata(strata, base), "podman": Podman(base), "docker": Docker(base),
             "vfs": Strata(strata, base, "vfs"), "pipe": StrataPipe(strata, base)}
    samples = {(key, op, tool): [] for key, *_ in images for op in ("save", "load")
               for tool in TOOLS}
    samples.update({(key, "floor"): [] for key, *_ in images})
    disk = {(key, tool): [] for key, *_ in images for tool in TOOLS}
    try:
        tools["docker"].start()
        for r in range(runs):
            bench.settle()
            one_round(mnt, base, tools, images, r == 0, samples, disk)
    finally:
        tools["docker"].stop()
        tools["podman"].close()
        left = mounts_under(base)
        unmount_under(base)
        if left:
            print(f"note: {len(left)} mount(s) were left under {base} and have been unmounted: "
                  f"{', '.join(left[:5])}")
    print_times(bench, images, samples, runs)
    print_pipes(bench, images, samples)
    print_disk(bench, images, disk)
