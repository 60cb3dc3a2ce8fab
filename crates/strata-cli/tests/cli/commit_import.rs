//! `strata commit`, `strata import` and `strata export` as users type them,
//! with skopeo reading what a commit then `strata save` wrote, GNU tar
//! making what `import` reads and reading what `export` writes; and their
//! rejections (one line, store unchanged).

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use testkit::peers::{sample_image, skopeo_ok};

use crate::store_support::CliStore;

const NAME: &str = "localhost/sample:1";

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

fn tar_ok(args: &[&str]) {
    let out = Command::new("tar").args(args).output().expect("run tar");
    assert!(
        out.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every regular file under `dir` with its contents, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            let kind = path.symlink_metadata().expect("stat").file_type();
            if kind.is_dir() {
                stack.push(path.clone());
            } else if kind.is_file() {
                let rel = path.strip_prefix(dir).expect("under dir");
                out.push((
                    rel.display().to_string(),
                    std::fs::read(&path).expect("read"),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn commit_then_save_is_an_image_skopeo_reads() {
    let s = CliStore::new();
    let sample = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--name", NAME, "--layers", "2"],
    );
    s.ok(&["load", "-q", "-i", sample.path.to_str().expect("utf-8")]);
    let id = s.ok(&["container", "create", NAME, "--name", "web"]);
    let id = id.trim();
    let inspect = json(&s.ok(&["container", "inspect", "web"]));
    assert_eq!(inspect[0]["image"], sample.image_id.as_str());
    let table = s.ok(&["containers"]);
    assert!(table.contains(NAME), "the image's name: {table}");

    let root = s.ok(&["container", "mount", "web"]);
    std::fs::write(Path::new(root.trim()).join("hello"), b"hi").expect("write");
    s.ok(&["container", "unmount", "web"]);
    let image = s.ok(&[
        "commit",
        "-c",
        "ENV GREETING=hi",
        "--change",
        r#"CMD ["/hello"]"#,
        "-m",
        "say hi",
        "-a",
        "Ann",
        "-q",
        &id[..12],
        "localhost/hello:1",
    ]);
    let image = image.trim();
    assert_eq!(image.len(), 64, "the full id: {image}");

    let out = s.dir.path().join("hello.tar");
    s.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        out.to_str().expect("utf-8"),
        "localhost/hello:1",
    ]);
    let reference = format!("oci-archive:{}", out.display());
    let inspected = json(&skopeo_ok(["inspect", &reference]));
    assert_eq!(inspected["Layers"].as_array().expect("layers").len(), 3);
    assert!(
        inspected["Env"]
            .as_array()
            .expect("Env")
            .contains(&"GREETING=hi".into()),
        "{inspected}"
    );
    let config = json(&skopeo_ok(["inspect", "--config", &reference]));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/hello"]));
    assert_eq!(config["author"], "Ann");
    let history = config["history"].as_array().expect("history");
    assert_eq!(history.last().expect("entry")["comment"], "say hi");
    let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
    assert_eq!(diff_ids.len(), 3);
    // skopeo copy checks every blob against its digest.
    let layout = s.dir.path().join("layout");
    skopeo_ok([
        "copy",
        &reference,
        &format!("oci:{}:hello", layout.display()),
    ]);

    // `container commit` is the same command.
    let again = s.ok(&["container", "commit", "web"]);
    assert_eq!(again.trim().len(), 64);
    s.assert_clean();
}

#[test]
fn import_a_gnu_tar_and_export_it_back() {
    let s = CliStore::new();
    let src = s.dir.path().join("src");
    std::fs::create_dir_all(src.join("etc/app")).expect("dirs");
    std::fs::write(src.join("etc/app/conf"), b"key=value\n").expect("write");
    std::fs::write(src.join("readme"), vec![7u8; 70_000]).expect("write");
    std::os::unix::fs::symlink("readme", src.join("link")).expect("symlink");
    let tarball = s.dir.path().join("rootfs.tar.gz");
    tar_ok(&[
        "-czf",
        tarball.to_str().expect("utf-8"),
        "-C",
        src.to_str().expect("utf-8"),
        ".",
    ]);

    let image = s.ok(&[
        "import",
        "-c",
        "WORKDIR /etc/app",
        "-m",
        "imported",
        tarball.to_str().expect("utf-8"),
        "localhost/rootfs:1",
    ]);
    let image = image.trim().to_string();
    assert_eq!(image.len(), 64);
    s.ok(&["container", "create", "localhost/rootfs:1", "--name", "box"]);
    let root = s.ok(&["container", "mount", "box"]);
    std::fs::write(Path::new(root.trim()).join("added"), b"added").expect("write");
    std::fs::remove_file(Path::new(root.trim()).join("etc/app/conf")).expect("delete");
    s.ok(&["container", "unmount", "box"]);

    let exported = s.dir.path().join("box.tar");
    s.ok(&["export", "box", "-o", exported.to_str().expect("utf-8")]);
    let stdout = s.output(&["export", "box"]);
    assert!(stdout.status.success());
    assert_eq!(
        std::fs::read(&exported).expect("read"),
        stdout.stdout,
        "-o and stdout give the same tar"
    );
    let back = s.dir.path().join("back");
    std::fs::create_dir(&back).expect("dir");
    tar_ok(&[
        "-xf",
        exported.to_str().expect("utf-8"),
        "-C",
        back.to_str().expect("utf-8"),
    ]);
    std::fs::write(src.join("added"), b"added").expect("expected");
    std::fs::remove_file(src.join("etc/app/conf")).expect("expected");
    assert_eq!(files(&back), files(&src));
    assert_eq!(
        std::fs::read_link(back.join("link")).expect("link"),
        Path::new("readme")
    );

    // From stdin too; the same layer, a new config.
    let piped = s
        .command(&["import", "-", "localhost/rootfs:2"])
        .stdin(std::fs::File::open(&tarball).expect("open"))
        .output()
        .expect("run");
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    s.assert_clean();
}

#[test]
fn rejections_are_one_line_and_change_nothing() {
    let s = CliStore::new();
    let not_tar = s.dir.path().join("notes.txt");
    std::fs::write(
        &not_tar,
        "this is not a tar archive, not even close\n".repeat(20),
    )
    .expect("write");
    let err = s.fails(&["import", not_tar.to_str().expect("utf-8")]);
    assert!(err.contains("cannot import"), "{err}");
    assert_eq!(s.ok(&["layers", "--json"]).trim(), "[]");
    let err = s.fails(&["commit", "nothing"]);
    assert!(err.contains("not found"), "{err}");

    let tarball = s.dir.path().join("one.tar");
    std::fs::write(
        &tarball,
        testkit::TarBuilder::default().file("f", b"f").finish(),
    )
    .expect("write");
    s.ok(&["import", tarball.to_str().expect("utf-8"), "one"]);
    s.ok(&["container", "create", "one", "--name", "c"]);
    let before = (s.ok(&["images", "-q"]), s.ok(&["layers", "--json"]));
    let err = s.fails(&["commit", "c", "two", "-c", "RUN make"]);
    assert!(
        err.contains("invalid change") && err.contains("RUN"),
        "{err}"
    );
    assert_eq!(
        (s.ok(&["images", "-q"]), s.ok(&["layers", "--json"])),
        before
    );
    s.assert_clean();
}
