//! Credential lookup and storage against real files in temp dirs, a real
//! credential helper (a shell script on the Environment's PATH) and the
//! real skopeo reading and editing what strata writes (podman shares
//! skopeo's containers/image code but initializes its storage under /var
//! and /run even for `login`, so it is left out).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use strata_registry::credentials::{
    Credentials, Environment, Error, StoredIn, find, remove, remove_all, store,
};

/// A home, runtime dir, system root and PATH dir in one temp dir, and an
/// Environment pointing at them.
struct Fixture {
    dir: tempfile::TempDir,
    env: Environment,
}

const UID: u32 = 4242;

/// A credential helper keeping one file per server URL in `state`, and
/// logging `<action> <server url>` lines to `log`.
const HELPER: &str = r#"#!/bin/sh
state=@STATE@
log=@LOG@
input=$(cat)
case "$1" in
store) url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p') ;;
*) url=$input ;;
esac
echo "$1 $url" >> "$log"
file="$state/$(printf '%s' "$url" | tr '/:' '__')"
case "$1" in
get) if [ -f "$file" ]; then cat "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store) printf '%s' "$input" > "$file" ;;
erase) if [ -f "$file" ]; then rm "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action $1" >&2; exit 2 ;;
esac
"#;

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        for sub in ["home", "run", "root", "bin", "helper-state"] {
            fs::create_dir(p.join(sub)).expect("mkdir");
        }
        let script = HELPER
            .replace("@STATE@", &shell_quote(&p.join("helper-state")))
            .replace("@LOG@", &shell_quote(&p.join("helper.log")));
        write_executable(&p.join("bin/docker-credential-test"), &script);
        write_executable(
            &p.join("bin/docker-credential-broken"),
            "#!/bin/sh\ncat >/dev/null\necho 'keychain is locked'\nexit 1\n",
        );
        let mut env = Environment::default();
        env.home = Some(p.join("home"));
        env.xdg_runtime_dir = Some(p.join("run"));
        env.uid = Some(UID);
        env.root = p.join("root");
        // The helper scripts need sh, cat, sed and tr besides themselves.
        env.path = Some(format!("{}:/usr/bin:/bin", p.join("bin").display()).into());
        Fixture { dir, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `value` as JSON at `rel`, creating parent dirs.
    fn write(&self, rel: &str, value: &Value) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, serde_json::to_vec(value).expect("json")).expect("write");
        path
    }

    fn find(&self, registry: &str, repository: &str) -> Option<Credentials> {
        find(&self.env, None, registry, repository).expect("find")
    }

    fn helper_log(&self) -> String {
        fs::read_to_string(self.path("helper.log")).unwrap_or_default()
    }
}

fn write_executable(path: &Path, text: &str) {
    fs::write(path, text).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn auth(user: &str, password: &str) -> Value {
    json!({ "auth": STANDARD.encode(format!("{user}:{password}")) })
}

fn auths(entries: &[(&str, Value)]) -> Value {
    let map: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    json!({ "auths": map })
}

fn basic(user: &str, password: &str) -> Option<Credentials> {
    Some(Credentials::basic(user, password))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn files_are_read_in_podman_order() {
    let fx = Fixture::new();
    let files = [
        ("run/containers/auth.json", "runtime"),
        ("home/.config/containers/auth.json", "config"),
        ("home/.docker/config.json", "docker"),
    ];
    for (rel, user) in files {
        fx.write(rel, &auths(&[("quay.io", auth(user, "pw"))]));
    }
    fx.write(
        "home/.dockercfg",
        &json!({ "https://quay.io/v1/": auth("legacy", "pw") }),
    );
    for (rel, user) in files {
        assert_eq!(fx.find("quay.io", "ns/img"), basic(user, "pw"), "{rel}");
        fs::remove_file(fx.path(rel)).expect("rm");
    }
    assert_eq!(fx.find("quay.io", "ns/img"), basic("legacy", "pw"));
    fs::remove_file(fx.path("home/.dockercfg")).expect("rm");
    assert_eq!(fx.find("quay.io", "ns/img"), None);
}

#[test]
fn environment_variables_move_the_files() {
    let mut fx = Fixture::new();
    // Without XDG_RUNTIME_DIR: /run/containers/<uid>/auth.json.
    fx.env.xdg_runtime_dir = None;
    fx.write(
        &format!("root/run/containers/{UID}/auth.json"),
        &auths(&[("a.example", auth("uid-file", "pw"))]),
    );
    assert_eq!(fx.find("a.example", ""), basic("uid-file", "pw"));

    fx.env.xdg_config_home = Some(fx.path("xdg-config"));
    fx.write(
        "xdg-config/containers/auth.json",
        &auths(&[("b.example", auth("xdg-config", "pw"))]),
    );
    fx.write(
        "home/.config/containers/auth.json",
        &auths(&[("b.example", auth("home-config", "pw"))]),
    );
    assert_eq!(fx.find("b.example", ""), basic("xdg-config", "pw"));

    fx.env.docker_config = Some(fx.path("docker-config"));
    fx.write(
        "docker-config/config.json",
        &auths(&[("c.example", auth("docker-config", "pw"))]),
    );
    fx.write(
        "home/.docker/config.json",
        &auths(&[("c.example", auth("home-docker", "pw"))]),
    );
    assert_eq!(fx.find("c.example", ""), basic("docker-config", "pw"));
}

#[test]
fn an_explicit_file_or_registry_auth_file_is_the_only_one_read() {
    let mut fx = Fixture::new();
    fx.write(
        "run/containers/auth.json",
        &auths(&[("quay.io", auth("runtime", "pw"))]),
    );
    let env_file = fx.write(
        "env-auth.json",
        &auths(&[("ghcr.io", auth("from-env", "pw"))]),
    );
    let explicit = fx.write(
        "explicit.json",
        &auths(&[("docker.io", auth("explicit", "pw"))]),
    );
    fx.env.registry_auth_file = Some(env_file);

    assert_eq!(fx.find("ghcr.io", "x"), basic("from-env", "pw"));
    // As with podman and skopeo, the default files are not consulted.
    assert_eq!(fx.find("quay.io", "x"), None);
    let in_explicit = |registry| find(&fx.env, Some(&explicit), registry, "x").expect("find");
    assert_eq!(in_explicit("docker.io"), basic("explicit", "pw"));
    assert_eq!(in_explicit("ghcr.io"), None);
    assert_eq!(in_explicit("quay.io"), None);
    // A missing explicit file is skipped like any other.
    assert_eq!(
        find(&fx.env, Some(&fx.path("none.json")), "quay.io", "").expect("find"),
        None
    );
}

#[test]
fn the_most_specific_key_wins() {
    let fx = Fixture::new();
    fx.write(
        "run/containers/auth.json",
        &auths(&[
            ("quay.io", auth("registry", "pw")),
            ("quay.io/ns", auth("namespace", "pw")),
            ("quay.io/ns/img", auth("repository", "pw")),
            ("https://quay.io/v1/", auth("url-form", "pw")),
        ]),
    );
    assert_eq!(fx.find("quay.io", "ns/img"), basic("repository", "pw"));
    assert_eq!(fx.find("quay.io", "ns/other"), basic("namespace", "pw"));
    assert_eq!(
        fx.find("quay.io", "ns/img/deeper"),
        basic("repository", "pw")
    );
    assert_eq!(fx.find("quay.io", "elsewhere/img"), basic("registry", "pw"));
    assert_eq!(fx.find("quay.io", ""), basic("registry", "pw"));
    // A namespace key never stands for a different registry.
    assert_eq!(fx.find("quay.io:8443", "ns/img"), None);
}

#[test]
fn legacy_key_forms_and_docker_hub_aliases_match() {
    let fx = Fixture::new();
    fx.write(
        "home/.docker/config.json",
        &auths(&[
            ("https://index.docker.io/v1/", auth("hub", "pw")),
            ("http://localhost:5000/v1/", auth("local", "pw")),
            ("https://ghcr.io", auth("ghcr", "pw")),
        ]),
    );
    for registry in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        assert_eq!(
            fx.find(registry, "library/busybox"),
            basic("hub", "pw"),
            "{registry}"
        );
    }
    assert_eq!(fx.find("localhost:5000", "x"), basic("local", "pw"));
    assert_eq!(fx.find("ghcr.io", "x/y"), basic("ghcr", "pw"));

    // And the other way: podman's `docker.io` key for docker hub's aliases.
    fx.write(
        "run/containers/auth.json",
        &auths(&[("docker.io", auth("podman-hub", "pw"))]),
    );
    assert_eq!(
        fx.find("registry-1.docker.io", "library/busybox"),
        basic("podman-hub", "pw")
    );
}

#[test]
fn legacy_dockercfg_has_registry_keys_only() {
    let fx = Fixture::new();
    fx.write(
        "home/.dockercfg",
        &json!({
            "https://index.docker.io/v1/": { "auth": STANDARD.encode("hub:pw"), "email": "a@b.c" },
            "quay.io/ns": auth("namespaced", "pw"),
        }),
    );
    assert_eq!(fx.find("docker.io", "library/x"), basic("hub", "pw"));
    // `quay.io/ns` counts as the registry `quay.io` in a legacy file.
    assert_eq!(fx.find("quay.io", "other/x"), basic("namespaced", "pw"));
}

#[test]
fn bad_base64_and_malformed_files_are_errors_naming_the_file() {
    let fx = Fixture::new();
    let path = fx.write(
        "run/containers/auth.json",
        &auths(&[("quay.io", json!({ "auth": "not base64!" }))]),
    );
    let err = find(&fx.env, None, "quay.io", "x").expect_err("bad base64");
    assert!(matches!(err, Error::Base64 { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("quay.io"),
        "{text}"
    );

    for bad in [
        "",
        "{",
        "[]",
        r#"{"auths": []}"#,
        r#"{"auths": {"quay.io": []}}"#,
        r#"{"auths": {"quay.io": {"auth": 7}}}"#,
        r#"{"credHelpers": ["test"]}"#,
        r#"{"credsStore": 1}"#,
    ] {
        fs::write(&path, bad).expect("write");
        let err = find(&fx.env, None, "ghcr.io", "x").expect_err(bad);
        assert!(matches!(err, Error::Malformed { .. }), "{bad:?}: {err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn empty_entries_and_colonless_auth_fall_through_to_the_next_file() {
    let fx = Fixture::new();
    fx.write(
        "run/containers/auth.json",
        &auths(&[
            ("quay.io", json!({})),
            ("ghcr.io", json!({ "auth": STANDARD.encode("nocolon") })),
        ]),
    );
    fx.write(
        "home/.docker/config.json",
        &auths(&[
            ("quay.io", auth("docker", "pw")),
            ("ghcr.io", auth("docker2", "pw")),
        ]),
    );
    assert_eq!(fx.find("quay.io", "x"), basic("docker", "pw"));
    assert_eq!(fx.find("ghcr.io", "x"), basic("docker2", "pw"));
}

#[test]
fn identity_tokens_are_read() {
    let fx = Fixture::new();
    fx.write(
        "home/.docker/config.json",
        &auths(&[
            (
                "a.example",
                json!({ "auth": STANDARD.encode("alice:"), "identitytoken": "refresh-1" }),
            ),
            ("b.example", json!({ "identitytoken": "refresh-2" })),
        ]),
    );
    assert_eq!(
        fx.find("a.example", "x"),
        Some(Credentials::IdentityToken {
            username: Some("alice".into()),
            token: "refresh-1".into()
        })
    );
    assert_eq!(
        fx.find("b.example", "x"),
        Some(Credentials::identity_token("refresh-2"))
    );
}

#[test]
fn cred_helpers_answer_for_their_registry() {
    let fx = Fixture::new();
    fx.write(
        "helper-state/quay.io",
        &json!({ "ServerURL": "quay.io", "Username": "helped", "Secret": "s3cret" }),
    );
    fx.write(
        "helper-state/ghcr.io",
        &json!({ "ServerURL": "ghcr.io", "Username": "<token>", "Secret": "tok" }),
    );
    fx.write(
        "home/.docker/config.json",
        &json!({
            "auths": { "quay.io": auth("file", "pw"), "other.example": auth("file", "pw") },
            "credHelpers": { "quay.io": "test", "ghcr.io": "test", "none.example": "test", "bad.example": "broken",
                             "gone.example": "missing" },
        }),
    );
    // The helper goes before the file's own entry, and gets the registry.
    assert_eq!(fx.find("quay.io", "ns/img"), basic("helped", "s3cret"));
    assert_eq!(
        fx.find("ghcr.io", "x"),
        Some(Credentials::identity_token("tok"))
    );
    assert_eq!(fx.find("none.example", "x"), None);
    assert_eq!(fx.find("other.example", "x"), basic("file", "pw"));
    assert_eq!(
        fx.helper_log(),
        "get quay.io\nget ghcr.io\nget none.example\n"
    );

    let err = find(&fx.env, None, "bad.example", "x").expect_err("broken helper");
    assert!(matches!(err, Error::HelperFailed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("docker-credential-broken") && text.contains("keychain is locked"),
        "{text}"
    );

    let err = find(&fx.env, None, "gone.example", "x").expect_err("missing helper");
    assert!(
        matches!(&err, Error::HelperNotFound(h) if h == "docker-credential-missing"),
        "{err:?}"
    );
}

#[test]
fn creds_store_is_docker_default_store() {
    let fx = Fixture::new();
    fx.write(
        "helper-state/https___index.docker.io_v1_",
        &json!({ "ServerURL": "https://index.docker.io/v1/", "Username": "hub", "Secret": "pw" }),
    );
    let config = fx.write(
        "home/.docker/config.json",
        &json!({ "auths": { "https://index.docker.io/v1/": {}, "quay.io": auth("file", "pw") }, "credsStore": "test" }),
    );
    // docker login keeps docker hub under its URL key in the store.
    assert_eq!(fx.find("docker.io", "library/busybox"), basic("hub", "pw"));
    assert_eq!(fx.find("quay.io", "x"), basic("file", "pw"));
    assert_eq!(fx.find("ghcr.io", "x"), None);
    assert_eq!(
        fx.helper_log(),
        "get https://index.docker.io/v1/\nget ghcr.io\n"
    );

    // A store that is not installed (a desktop config copied here) is no
    // credentials, not an error.
    fx.write(
        "home/.docker/config.json",
        &json!({ "auths": { "quay.io": auth("file", "pw") }, "credsStore": "desktop" }),
    );
    assert_eq!(fx.find("ghcr.io", "x"), None);
    assert_eq!(fx.find("quay.io", "x"), basic("file", "pw"));
    assert!(config.exists());
}

#[test]
fn store_writes_podmans_file_privately_and_atomically() {
    let fx = Fixture::new();
    let stored =
        store(&fx.env, None, "quay.io", &Credentials::basic("alice", "pw")).expect("store");
    let path = fx.path("run/containers/auth.json");
    assert_eq!(stored, StoredIn::File(path.clone()));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&fx.path("run/containers")), 0o700);
    assert_eq!(fx.find("quay.io", "x"), basic("alice", "pw"));
    let names: Vec<_> = fs::read_dir(fx.path("run/containers"))
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["auth.json"], "temporary files left behind");

    // Without XDG_RUNTIME_DIR: /run/containers/<uid>/auth.json, as podman.
    let mut env = fx.env.clone();
    env.xdg_runtime_dir = None;
    store(&env, None, "ghcr.io", &Credentials::basic("bob", "pw")).expect("store");
    let uid_file = fx.path(&format!("root/run/containers/{UID}/auth.json"));
    assert_eq!(mode(&uid_file), 0o600);
    assert_eq!(mode(uid_file.parent().expect("parent")), 0o700);
    assert_eq!(
        find(&env, None, "ghcr.io", "").expect("find"),
        basic("bob", "pw")
    );

    // A set XDG_RUNTIME_DIR must exist.
    env.xdg_runtime_dir = Some(fx.path("no-such-dir"));
    let err =
        store(&env, None, "ghcr.io", &Credentials::basic("bob", "pw")).expect_err("missing dir");
    assert!(matches!(err, Error::RuntimeDirMissing(_)), "{err:?}");
}

#[test]
fn store_keeps_everything_else_in_the_file() {
    let fx = Fixture::new();
    let original = json!({
        "auths": {
            "ghcr.io": { "auth": STANDARD.encode("keep:me"), "email": "x@y.z", "future": [1, 2] },
            "quay.io": { "auth": STANDARD.encode("old:pw"), "identitytoken": "stale" },
        },
        "credHelpers": { "gcr.io": "gcloud" },
        "psFormat": "table {{.ID}}",
        "proxies": { "default": { "httpProxy": "http://proxy:3128" } },
    });
    let path = fx.write("custom/auth.json", &original);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    store(
        &fx.env,
        Some(&path),
        "quay.io",
        &Credentials::basic("new", "pw"),
    )
    .expect("store");

    let mut want = original.clone();
    want["auths"]["quay.io"] = auth("new", "pw");
    let got: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
    assert_eq!(got, want);
    assert_eq!(mode(&path), 0o600);

    // A malformed file is refused and left as it was.
    fs::write(&path, "{ not json").expect("write");
    let err = store(
        &fx.env,
        Some(&path),
        "quay.io",
        &Credentials::basic("a", "b"),
    )
    .expect_err("malformed");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert_eq!(fs::read_to_string(&path).expect("read"), "{ not json");
}

#[test]
fn store_namespaced_keys_and_identity_tokens() {
    let fx = Fixture::new();
    store(
        &fx.env,
        None,
        "quay.io/team",
        &Credentials::basic("team", "pw"),
    )
    .expect("store");
    store(
        &fx.env,
        None,
        "quay.io",
        &Credentials::identity_token("refresh"),
    )
    .expect("store");
    assert_eq!(fx.find("quay.io", "team/app"), basic("team", "pw"));
    assert_eq!(
        fx.find("quay.io", "other/app"),
        Some(Credentials::identity_token("refresh"))
    );
    for bad in ["https://quay.io", "quay.io/app:latest", ""] {
        let err = store(&fx.env, None, bad, &Credentials::basic("a", "b")).expect_err(bad);
        assert!(matches!(err, Error::InvalidKey { .. }), "{bad:?}: {err:?}");
    }
}

#[test]
fn store_and_remove_go_through_the_files_cred_helper() {
    let fx = Fixture::new();
    let path = fx.write(
        "run/containers/auth.json",
        &json!({ "auths": {}, "credHelpers": { "quay.io": "test" } }),
    );
    let before = fs::read(&path).expect("read");
    let stored =
        store(&fx.env, None, "quay.io", &Credentials::basic("alice", "pw")).expect("store");
    assert_eq!(stored, StoredIn::Helper("test".into()));
    assert_eq!(fs::read(&path).expect("read"), before, "the file changed");
    assert_eq!(fx.find("quay.io", "x"), basic("alice", "pw"));

    store(
        &fx.env,
        None,
        "quay.io",
        &Credentials::identity_token("tok"),
    )
    .expect("store token");
    assert_eq!(
        fx.find("quay.io", "x"),
        Some(Credentials::identity_token("tok"))
    );

    let err =
        store(&fx.env, None, "quay.io/ns", &Credentials::basic("a", "b")).expect_err("namespaced");
    assert!(matches!(err, Error::NamespacedHelperKey { .. }), "{err:?}");

    assert!(remove(&fx.env, None, "quay.io").expect("remove"));
    assert_eq!(fx.find("quay.io", "x"), None);
    assert!(!remove(&fx.env, None, "quay.io").expect("remove again"));
    assert_eq!(
        fx.helper_log(),
        "store quay.io\nget quay.io\nstore quay.io\nget quay.io\nerase quay.io\nget quay.io\nerase quay.io\n"
    );
}

#[test]
fn remove_and_remove_all() {
    let fx = Fixture::new();
    assert!(!remove(&fx.env, None, "quay.io").expect("no file"));
    remove_all(&fx.env, None).expect("no file");
    assert!(!fx.path("run/containers/auth.json").exists());

    fx.write(
        "helper-state/gcr.io",
        &json!({ "ServerURL": "gcr.io", "Username": "g", "Secret": "pw" }),
    );
    let path = fx.write(
        "run/containers/auth.json",
        &json!({
            "auths": { "quay.io": auth("a", "pw"), "quay.io/ns": auth("b", "pw"), "ghcr.io": auth("c", "pw") },
            "credHelpers": { "gcr.io": "test" },
            "other": true,
        }),
    );
    assert!(remove(&fx.env, None, "quay.io").expect("remove"));
    assert!(!remove(&fx.env, None, "quay.io").expect("remove again"));
    assert_eq!(fx.find("quay.io", "ns/x"), basic("b", "pw"));
    assert_eq!(fx.find("quay.io", "x"), None);

    remove_all(&fx.env, None).expect("remove all");
    let got: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
    assert_eq!(
        got,
        json!({ "auths": {}, "credHelpers": { "gcr.io": "test" }, "other": true })
    );
    assert_eq!(fx.find("gcr.io", "x"), None);
    assert_eq!(mode(&path), 0o600);
}

/// skopeo in an environment of nothing but the fixture's dirs.
fn tool(fx: &Fixture, program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", fx.path("home"))
        .env("XDG_RUNTIME_DIR", fx.path("run"))
        .output()
        .unwrap_or_else(|e| panic!("{program} (Debian package {program}) cannot run: {e}"))
}

#[test]
fn skopeo_reads_and_edits_what_store_writes() {
    let fx = Fixture::new();
    let file = fx.path("auth.json");
    store(
        &fx.env,
        Some(&file),
        "quay.io",
        &Credentials::basic("alice", "pw"),
    )
    .expect("store");
    store(
        &fx.env,
        Some(&file),
        "quay.io/team",
        &Credentials::basic("team", "pw"),
    )
    .expect("store");
    store(
        &fx.env,
        Some(&file),
        "docker.io",
        &Credentials::basic("hub", "pw"),
    )
    .expect("store");
    let file_arg = file.to_str().expect("utf-8 path");
    let login = |key: &str| {
        let out = tool(
            &fx,
            "skopeo",
            &["login", "--get-login", "--authfile", file_arg, key],
        );
        assert!(
            out.status.success(),
            "skopeo {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(login("quay.io"), "alice");
    assert_eq!(login("docker.io"), "hub");
    assert_eq!(login("quay.io/team/app"), "team");

    let out = tool(
        &fx,
        "skopeo",
        &["logout", "--authfile", file_arg, "quay.io"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        find(&fx.env, Some(&file), "quay.io", "x").expect("find"),
        None
    );
    assert_eq!(
        find(&fx.env, Some(&file), "quay.io", "team/app").expect("find"),
        basic("team", "pw")
    );
    assert_eq!(
        find(&fx.env, Some(&file), "docker.io", "library/x").expect("find"),
        basic("hub", "pw")
    );
}
