//! Key material for one registry fixture, made with the `openssl` and
//! `htpasswd` command line tools: a throwaway CA, a server certificate for
//! `127.0.0.1` and `localhost` signed by it, a client certificate signed by
//! it, a self-signed token signing certificate, and a bcrypt htpasswd file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user every fixture with authentication knows.
pub const USER: &str = "strata-tester";
/// That user's password.
pub const PASSWORD: &str = "s3cret-Pa55";

/// RSA key size: 2048 keeps `openssl genpkey` fast.
const RSA_BITS: &str = "rsa_keygen_bits:2048";
/// Certificates only need to outlive a test run.
const DAYS: &str = "2";

/// Where the generated files are.
pub struct Certs {
    /// The CA's certificate, which signed the others.
    pub ca_cert: PathBuf,
    /// The server's certificate, for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
}

/// Runs a tool, panicking with its stderr unless it succeeds.
pub(crate) fn run(cmd: &mut Command, package: &str) -> Vec<u8> {
    let what = format!("{cmd:?}");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{} not found: install the Debian package `{package}` (scripts/test does)",
            cmd.get_program().to_string_lossy()
        ),
        Err(e) => panic!("run {what}: {e}"),
    };
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn openssl(dir: &Path, args: &[&str]) {
    run(
        Command::new("openssl").current_dir(dir).args(args),
        "openssl",
    );
}

fn key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            RSA_BITS,
            "-out",
            name,
        ],
    );
}

/// A certificate for `key` with subject `cn` and the extensions in `ext`
/// (an openssl extension file body), signed by the CA in `dir`.
fn signed(dir: &Path, name: &str, cn: &str, ext: &str) {
    let key_file = format!("{name}.key");
    let csr = format!("{name}.csr");
    let ext_file = format!("{name}.ext");
    let cert = format!("{name}.crt");
    key(dir, &key_file);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key_file,
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ],
    );
    fs::write(dir.join(&ext_file), ext).expect("write extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            // Distinct serials: the CA signs two certificates.
            if name == "server" { "2" } else { "3" },
            "-days",
            DAYS,
            "-sha256",
            "-extfile",
            &ext_file,
            "-out",
            &cert,
        ],
    );
}

/// Makes the CA, server and client certificates in `dir` (the client's
/// are `client.crt` and `client.key`).
pub fn make_tls(dir: &Path) -> Certs {
    fs::create_dir_all(dir).expect("create cert dir");
    key(dir, "ca.key");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=strata test CA",
            "-days",
            DAYS,
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.crt",
        ],
    );
    signed(
        dir,
        "server",
        "localhost",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    );
    signed(
        dir,
        "client",
        "strata test client",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=clientAuth\n",
    );
    Certs {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    }
}

/// A self-signed certificate and key for signing tokens: `(cert, key)`.
/// The registry's `rootcertbundle` is this certificate and the token
/// server puts it in each token's `x5c` header.
pub(crate) fn make_token_signer(dir: &Path) -> (PathBuf, PathBuf) {
    fs::create_dir_all(dir).expect("create token dir");
    key(dir, "signer.key");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "signer.key",
            "-subj",
            "/CN=strata test token signer",
            "-days",
            DAYS,
            "-sha256",
            "-out",
            "signer.crt",
        ],
    );
    (dir.join("signer.crt"), dir.join("signer.key"))
}

/// Writes an htpasswd file (bcrypt, as distribution requires) for
/// [`USER`] with [`PASSWORD`].
pub fn make_htpasswd(path: &Path) {
    let line = run(
        Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]),
        "apache2-utils",
    );
    fs::write(path, line).expect("write htpasswd");
}
