//! The real container tools strata is tested against, each confined to
//! temporary directories: a private `dockerd` ([`Dockerd`]), an isolated
//! `podman` ([`Podman`]), [`skopeo`] and [`umoci`], and the deterministic
//! sample image written by `scripts/sample-image` ([`sample_image`]).
//!
//! ```text
//! Dockerd, one temp dir (short: unix sockets live in it):
//!   daemon.json        {"deprecated-key-path": …}; replaces /etc/docker/daemon.json
//!   key.json           the daemon's trust key, otherwise written to /etc/docker
//!   data/              --data-root (dockerd bind-mounts it onto itself)
//!   exec/              --exec-root; exec/containerd/ holds the containerd it starts
//!   docker.sock        the only API endpoint (no TCP)
//!   docker.pid         --pidfile
//!   client/            DOCKER_CONFIG of the `docker` client
//!   dockerd.log        dockerd's and the watchdog's output
//! Podman, one temp dir:
//!   root/ runroot/ tmp/ networks/   --root --runroot --tmpdir --network-config-dir
//!   containers.conf storage.conf registries.conf   the only config podman reads
//! ```
//!
//! Dropping a [`Dockerd`] or [`Podman`] stops what it started, unmounts what
//! is left under its directory and removes the directory. `dockerd` runs
//! under a small watchdog shell in its own process group that holds the read
//! end of a pipe from the test process, so when a test process ends without
//! running `Drop` (a timeout kill, `panic = abort`, a `Dockerd` kept in a
//! `static`) the pipe closes and the watchdog still stops `dockerd`,
//! unmounts its data root and removes its directory.
//!
//! Host state these tool versions touch anyway, because the path is
//! hard-coded: dockerd 20.10 creates the empty directory `/run/docker/plugins`;
//! `podman load` and `skopeo copy` as root record blob locations in
//! `/var/lib/containers/cache/blob-info-cache-v1.boltdb` (a cache only); and
//! `podman load` of an archive holding `oci-layout` (the Docker 25+ layout)
//! first tries it as an OCI archive, extracting it to `/var/tmp/oci*` whatever
//! `TMPDIR` says, and removes that again.
//!
//! The tools are expected to be installed (`scripts/test` installs them); a
//! missing one panics with the name of the Debian package that provides it.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

/// The Debian docker.io daemon (not a Docker CE install under /usr/local).
const DOCKERD: &str = "/usr/sbin/dockerd";
/// The docker.io client; `/usr/local/bin/docker` may be a different build.
const DOCKER: &str = "/usr/bin/docker";
/// How long `dockerd` gets to answer `docker version`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the watchdog gets to stop `dockerd` and clean up (it sends
/// SIGKILL itself after 30 s of SIGTERM).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Overrides the dockerd storage driver choice (no fallback then).
const DRIVER_ENV: &str = "STRATA_TEST_DOCKER_DRIVER";

/// Runs `dockerd` (`$2…`) for the instance directory `$1` and cleans up after
/// it. Stdin is a pipe from the test process: a line (`Drop`) or EOF (the
/// test process is gone) means stop. dockerd normally stops its containerd
/// and unmounts its data root itself; after a SIGKILL it does neither, so the
/// script does both. Only an abandoned instance's directory is removed here
/// (otherwise the test process still wants to read `dockerd.log`).
const WATCHDOG: &str = r#"
dir=$1
shift
exec 3<&0 </dev/null >>"$dir/dockerd.log" 2>&1
"$@" 3<&- &
daemon=$!
(
    read -r _ <&3 || : >"$dir/abandoned"
    kill -TERM "$daemon" 2>/dev/null
    i=0
    while kill -0 "$daemon" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$daemon" 2>/dev/null
) &
watcher=$!
exec 3<&-
wait "$daemon"
status=$?
kill "$watcher" 2>/dev/null
wait "$watcher"
echo "strata watchdog: dockerd exited with status $status"
pidfile=$dir/exec/containerd/containerd.pid
if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    owned() { tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; }
    if owned; then
        kill -TERM "$pid"
        i=0
        while owned && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        if owned; then kill -KILL "$pid"; fi
    fi
fi
mounts() { awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }
for m in $(mounts); do umount "$m" || umount -l "$m"; done
if [ -e "$dir/abandoned" ] && [ -z "$(mounts)" ]; then rm -rf "$dir"; fi
exit "$status"
"#;

/// A private `dockerd` listening only on a unix socket in a temp dir, with
/// its own data root, exec root, pidfile, config file and containerd, and no
/// networking (`--bridge=none`, no iptables, no IP forwarding), so it never
/// meets the system's dockerd or changes host network settings.
///
/// Storage driver: `overlay2`, falling back to `vfs` when dockerd refuses it
/// (a temp dir on overlayfs, or xfs without d_type). On this host the temp
/// dir is on ext4 with d_type and the kernel has overlayfs, so overlay2
/// works; it is what real Docker users run, so interop results mean
/// something, and `docker load` of a layered image stays cheap, where vfs
/// copies the whole parent tree for every layer (N copies of a 120 MB base).
/// `STRATA_TEST_DOCKER_DRIVER=vfs` (or any driver) forces one driver.
pub struct Dockerd {
    _dir: TempDir,
    path: PathBuf,
    watchdog: Child,
    stop: Option<ChildStdin>,
    driver: String,
}

impl Dockerd {
    /// Starts dockerd and waits until `docker version` answers; panics
    /// with the tail of dockerd's log when it does not within 60 s.
    pub fn start() -> Dockerd {
        require(DOCKERD, "docker.io");
        require(DOCKER, "docker.io");
        if let Ok(driver) = std::env::var(DRIVER_ENV) {
            return Self::try_start(&driver)
                .unwrap_or_else(|log| panic!("dockerd ({driver}, from {DRIVER_ENV}):\n{log}"));
        }
        match Self::try_start("overlay2") {
            Ok(dockerd) => dockerd,
            Err(log) if log.contains("error initializing graphdriver") => Self::try_start("vfs")
                .unwrap_or_else(|vfs| panic!("dockerd refused overlay2:\n{log}\nand vfs:\n{vfs}")),
            Err(log) => panic!("dockerd (overlay2):\n{log}"),
        }
    }

    /// One attempt with `driver`; the error is why, with the log tail.
    fn try_start(driver: &str) -> Result<Dockerd, String> {
        let dir = short_tempdir("strata-dockerd-");
        let path = fs::canonicalize(dir.path()).expect("canonical dockerd dir");
        for sub in ["data", "exec", "client"] {
            fs::create_dir(path.join(sub)).expect("create dockerd subdir");
        }
        let config = serde_json::json!({ "deprecated-key-path": path.join("key.json") });
        fs::write(path.join("daemon.json"), config.to_string()).expect("write daemon.json");
        let mut watchdog = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("strata-dockerd-watchdog")
            .arg(&path)
            .arg(DOCKERD)
            .args(daemon_args(&path, driver))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn /bin/sh for the dockerd watchdog");
        let stop = watchdog.stdin.take();
        let mut dockerd = Dockerd {
            _dir: dir,
            path,
            watchdog,
            stop,
            driver: driver.to_owned(),
        };
        dockerd.wait_ready()?;
        Ok(dockerd)
    }

    /// Polls until `docker version` succeeds, dockerd exits, or time is up.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while let Ok(None) = self.watchdog.try_wait() {
            if self.socket().exists() && self.answers() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer within {START_TIMEOUT:?}\n{}",
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(100));
        }
        Err(format!("dockerd exited\n{}", self.log_tail()))
    }

    fn answers(&self) -> bool {
        let mut cmd = self.command();
        cmd.arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().is_ok_and(|status| status.success())
    }

    /// The last 40 lines of dockerd's log.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.path.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- tail of {}/dockerd.log ---\n{tail}",
            self.path.display()
        )
    }

    /// The instance directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The storage driver dockerd runs with (`overlay2` or `vfs`).
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// dockerd's `--data-root`.
    pub fn data_root(&self) -> PathBuf {
        self.path.join("data")
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.path.join("docker.sock")
    }

    /// The API address, `unix:///…/docker.sock` (for `docker -H`, or
    /// skopeo's `--src-daemon-host`).
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// A `docker` client command aimed at this daemon, with its own client
    /// config dir and stdin from /dev/null; add arguments and run it.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(DOCKER);
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("DOCKER_CONFIG", self.path.join("client"))
            .arg("--host")
            .arg(self.host())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `docker ARGS` against this daemon.
    pub fn docker<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        output(cmd, "docker.io")
    }

    /// Runs `docker ARGS`, panics unless it succeeds, returns its stdout.
    pub fn docker_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        output_ok(cmd, "docker.io")
    }
}

/// dockerd's command line for the instance directory `dir`.
fn daemon_args(dir: &Path, driver: &str) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    // Only used if a system containerd runs (dockerd then joins it instead
    // of starting its own): keep this instance's objects apart.
    let namespace = dir.file_name().map_or_else(
        || "strata-dockerd".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    vec![
        format!("--data-root={}", at("data")),
        format!("--exec-root={}", at("exec")),
        format!("--pidfile={}", at("docker.pid")),
        format!("--host=unix://{}", at("docker.sock")),
        format!("--config-file={}", at("daemon.json")),
        format!("--storage-driver={driver}"),
        // Keeps the log tail shown on failure to warnings and errors.
        "--log-level=warn".to_owned(),
        "--iptables=false".to_owned(),
        "--ip6tables=false".to_owned(),
        // The bridge driver is initialised even with --bridge=none and would
        // otherwise set net.ipv4.ip_forward=1 on the host.
        "--ip-forward=false".to_owned(),
        "--ip-masq=false".to_owned(),
        "--bridge=none".to_owned(),
        "--userland-proxy=false".to_owned(),
        format!("--containerd-namespace={namespace}"),
        format!("--containerd-plugins-namespace={namespace}-plugins"),
    ]
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut stop) = self.stop.take() {
            // EPIPE when dockerd already exited is fine.
            let _ = stop.write_all(b"stop\n");
        }
        if !wait_for_exit(&mut self.watchdog, STOP_TIMEOUT) {
            eprintln!("dockerd watchdog still running after {STOP_TIMEOUT:?}; killing its group");
            let group = format!("-{}", self.watchdog.id());
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &group])
                .status();
            let _ = self.watchdog.wait();
        }
        unmount_under(&self.path);
        // `_dir` (a TempDir) removes the directory when it is dropped next.
    }
}

/// An isolated `podman` (rootful): its own `--root`, `--runroot`,
/// `--tmpdir`, network config dir and config files, file locks instead of
/// the shared `/dev/shm/libpod_lock`, cgroupfs, a file events log.
///
/// Storage driver `vfs` by default: it never mounts anything, so nothing can
/// be left mounted, and the sample images are small. The CNI network
/// backend is configured because podman 4.3 with netavark creates
/// `/run/containers/networks` on every invocation; with CNI it does not
/// (see the module doc for what podman 4.3 still writes outside).
pub struct Podman {
    _dir: TempDir,
    path: PathBuf,
    driver: String,
}

impl Default for Podman {
    fn default() -> Self {
        Self::new()
    }
}

impl Podman {
    /// An empty store on the `vfs` driver.
    pub fn new() -> Podman {
        Self::with_driver("vfs")
    }

    /// An empty store on `driver` (`vfs` or `overlay`).
    pub fn with_driver(driver: &str) -> Podman {
        let dir = short_tempdir("strata-podman-");
        let path = fs::canonicalize(dir.path()).expect("canonical podman dir");
        for sub in ["root", "runroot", "tmp", "networks", "config"] {
            fs::create_dir(path.join(sub)).expect("create podman subdir");
        }
        let tmp = path.join("tmp");
        let containers_conf = format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             lock_type = \"file\"\nimage_copy_tmp_dir = \"{}\"\n\
             [network]\nnetwork_backend = \"cni\"\n",
            tmp.display()
        );
        let storage_conf = format!(
            "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            path.join("root").display(),
            path.join("runroot").display()
        );
        let write = |name: &str, text: &str| {
            fs::write(path.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"))
        };
        write("containers.conf", &containers_conf);
        write("storage.conf", &storage_conf);
        write("registries.conf", "unqualified-search-registries = []\n");
        Podman {
            _dir: dir,
            path,
            driver: driver.to_owned(),
        }
    }

    /// The instance directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The storage driver.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// `--root`: the containers/storage graph root.
    pub fn root(&self) -> PathBuf {
        self.path.join("root")
    }

    /// `--runroot`.
    pub fn runroot(&self) -> PathBuf {
        self.path.join("runroot")
    }

    /// A `podman` command with the isolating flags and environment and
    /// stdin from /dev/null; add arguments and run it.
    pub fn command(&self) -> Command {
        let at = |name: &str| self.path.join(name);
        let mut cmd = Command::new("podman");
        for var in ["CONTAINER_HOST", "CONTAINER_CONNECTION"] {
            cmd.env_remove(var);
        }
        cmd.env("CONTAINERS_CONF", at("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", at("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", at("registries.conf"))
            .env("REGISTRY_AUTH_FILE", at("config/auth.json"))
            .env("XDG_CONFIG_HOME", at("config"))
            .env("TMPDIR", at("tmp"))
            .arg("--root")
            .arg(at("root"))
            .arg("--runroot")
            .arg(at("runroot"))
            .arg("--storage-driver")
            .arg(&self.driver)
            .arg("--tmpdir")
            .arg(at("tmp"))
            .arg("--network-config-dir")
            .arg(at("networks"))
            .args(["--cgroup-manager=cgroupfs", "--events-backend=file"])
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `podman ARGS` against this store.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        output(cmd, "podman")
    }

    /// Runs `podman ARGS`, panics unless it succeeds, returns its stdout.
    pub fn run_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        output_ok(cmd, "podman")
    }

    /// Whether containers/storage holds any container (`podman create`).
    fn has_containers(&self) -> bool {
        let list = self
            .root()
            .join(format!("{}-containers/containers.json", self.driver));
        fs::read(list).is_ok_and(|json| json.contains(&b'{'))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        if self.has_containers() {
            // Stops conmon and unmounts container roots the podman way.
            let mut cmd = self.command();
            cmd.args(["rm", "--all", "--force", "--time", "0"]);
            let _ = cmd.output();
        }
        unmount_under(&self.path);
    }
}

/// Runs `skopeo --insecure-policy ARGS` with a fresh temp dir for big files
/// (`--tmpdir`, `TMPDIR`), an empty `--registries.d`, an empty
/// registries.conf and no stored credentials.
pub fn skopeo<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let tmp = short_tempdir("strata-skopeo-");
    output(skopeo_command(tmp.path(), args), "skopeo")
}

/// [`skopeo`], panicking unless it succeeds; returns its stdout.
pub fn skopeo_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let tmp = short_tempdir("strata-skopeo-");
    output_ok(skopeo_command(tmp.path(), args), "skopeo")
}

fn skopeo_command<I, S>(tmp: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let registries_d = tmp.join("registries.d");
    fs::create_dir(&registries_d).expect("create registries.d");
    let registries_conf = tmp.join("registries.conf");
    fs::write(&registries_conf, "unqualified-search-registries = []\n")
        .expect("write registries.conf");
    let mut cmd = Command::new("skopeo");
    cmd.env("TMPDIR", tmp)
        .env("CONTAINERS_REGISTRIES_CONF", registries_conf)
        .env("REGISTRY_AUTH_FILE", tmp.join("auth.json"))
        .arg("--insecure-policy")
        .arg("--tmpdir")
        .arg(tmp)
        .arg("--registries.d")
        .arg(registries_d)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Runs `umoci ARGS` with `TMPDIR` in a fresh temp dir.
pub fn umoci<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let tmp = short_tempdir("strata-umoci-");
    output(umoci_command(tmp.path(), args), "umoci")
}

/// [`umoci`], panicking unless it succeeds; returns its stdout.
pub fn umoci_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let tmp = short_tempdir("strata-umoci-");
    output_ok(umoci_command(tmp.path(), args), "umoci")
}

fn umoci_command<I, S>(tmp: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("umoci");
    cmd.env("TMPDIR", tmp).args(args).stdin(Stdio::null());
    cmd
}

/// What `scripts/sample-image` reports about the archive it wrote.
#[derive(Debug, Deserialize)]
pub struct SampleImage {
    /// The archive.
    #[serde(skip)]
    pub path: PathBuf,
    /// The name as it appears in `RepoTags`, e.g. `localhost/sample:1`.
    pub name: String,
    /// The image ID: hex sha256 of the config blob.
    pub image_id: String,
    /// The config digest, `sha256:<image_id>`.
    pub config: String,
    /// The OCI manifest digest.
    pub manifest: String,
    /// The layer DiffIDs, base first.
    pub diff_ids: Vec<String>,
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/sample-image OUT ARGS` (e.g. `["--layers", "4"]`) and
/// returns its summary.
pub fn sample_image(out: &Path, args: &[&str]) -> SampleImage {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/sample-image"))
        .arg(out)
        .args(args);
    let stdout = output_ok(cmd, "python3");
    let mut image: SampleImage =
        serde_json::from_str(&stdout).expect("sample-image prints its JSON summary");
    image.path = out.to_owned();
    image
}

/// Runs `cmd`; a missing program panics naming the Debian `package`.
fn output(mut cmd: Command, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{} not found: install the Debian package `{package}` (scripts/test does)",
            cmd.get_program().to_string_lossy()
        ),
        Err(e) => panic!("run {cmd:?}: {e}"),
    }
}

/// [`output`], panicking unless the command succeeds; returns stdout.
fn output_ok(cmd: Command, package: &str) -> String {
    let what = format!("{cmd:?}");
    let out = output(cmd, package);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what}: stdout is not UTF-8: {e}"))
}

/// Panics naming `package` unless `program` exists.
fn require(program: &str, package: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} not found: install the Debian package `{package}` (scripts/test does)"
    );
}

/// A temp dir with a short path: dockerd and containerd put unix sockets
/// in it and a socket path holds at most 107 bytes.
fn short_tempdir(prefix: &str) -> TempDir {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() <= 40 {
        base
    } else {
        PathBuf::from("/tmp")
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("create a temp dir in {}: {e}", base.display()))
}

/// Waits up to `timeout` for `child` to exit; whether it did.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => return false,
        }
    }
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|point| point.starts_with(dir))
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.dedup();
    found
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Unmounts everything at or below `dir` (lazily if it is busy), reporting
/// failures on stderr: called from `Drop`, so it must not panic.
fn unmount_under(dir: &Path) {
    for point in mounts_under(dir) {
        let unmounted = Command::new("umount")
            .arg(&point)
            .status()
            .is_ok_and(|s| s.success())
            || Command::new("umount")
                .arg("-l")
                .arg(&point)
                .status()
                .is_ok_and(|s| s.success());
        if !unmounted {
            eprintln!("testkit::peers: could not unmount {}", point.display());
        }
    }
}
