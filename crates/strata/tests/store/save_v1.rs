//! Saving images in the legacy `docker save` layout (`docker-archive-v1`,
//! Docker 1.10 to 24): byte-for-byte what Debian's dockerd 20.10 writes
//! for the same image, v1 ids as Docker computes them, symlinked duplicate
//! layers, and docker, skopeo and strata itself reading the result.

use std::io::Read;
use std::path::Path;

use strata::SaveFormat;
use strata::digest::Digest;
use strata::image::chain_ids;
use testkit::peers::{Dockerd, skopeo_ok};

use crate::common::{TestStore, open};
use crate::save::{app_tar, base_tar, item, json, make_image, other_tar, save};

/// A member: name, type, mode, mtime, owner names, link target, contents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    kind: u8,
    mode: u32,
    mtime: u64,
    owner: (String, String),
    link: String,
    data: Vec<u8>,
}

fn members(archive: &[u8]) -> Vec<Member> {
    assert!(archive.len().is_multiple_of(512) && archive.ends_with(&[0; 1024]));
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read member");
        let name = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        out.push(Member {
            name: String::from_utf8(entry.path_bytes().into_owned()).expect("utf-8 name"),
            kind: header.entry_type().as_byte(),
            mode: header.mode().expect("mode"),
            mtime: header.mtime().expect("mtime"),
            owner: (
                name(header.username_bytes()),
                name(header.groupname_bytes()),
            ),
            link: entry
                .link_name()
                .expect("link")
                .map(|l| l.display().to_string())
                .unwrap_or_default(),
            data,
        });
    }
    out
}

fn names(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

fn data<'a>(members: &'a [Member], name: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .data
}

/// The v1 id Docker gives a layer below the top, written out from the
/// algorithm (moby `image/v1.CreateID` of an empty v1 image created at
/// the epoch), independently of strata's code.
fn lower_v1_id(chain: &Digest, parent: Option<&str>) -> String {
    let empty = concat!(
        r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"#,
        r#""AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"#,
        r#""Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
    );
    let parent = parent
        .map(|p| format!(r#","parent":"sha256:{p}""#))
        .unwrap_or_default();
    let hashed = format!(
        r#"{{"container_config":{empty},"created":"1970-01-01T00:00:00Z","layer_id":"{chain}"{parent}}}"#
    );
    Digest::of(hashed.as_bytes()).hex().to_string()
}

#[test]
fn v1_layout_has_docker_ids_headers_and_member_order() {
    let t = TestStore::new();
    let layers = [base_tar(), app_tar(), base_tar()];
    let image = make_image(&t.store, &layers, "v1", vec![], &["localhost/v1:1"]);
    let (bytes, report) = save(
        &t.store,
        &[item(&image, Some("localhost/v1:1"))],
        SaveFormat::DockerArchiveV1,
    );
    assert_eq!((report.images, report.layers), (1, 2), "{report:?}");
    let members = members(&bytes);

    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let chain = chain_ids(&diff_ids);
    let first = lower_v1_id(&chain[0], None);
    let second = lower_v1_id(&chain[1], Some(&first));
    let manifest = json(data(&members, "manifest.json"));
    let listed: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l.as_str().expect("str").to_string())
        .collect();
    assert_eq!(
        listed[..2],
        [format!("{first}/layer.tar"), format!("{second}/layer.tar")]
    );
    let top = listed[2]
        .strip_suffix("/layer.tar")
        .expect("top")
        .to_string();
    assert_eq!(manifest[0]["Config"], format!("{}.json", image.id));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["localhost/v1:1"])
    );
    assert_eq!(
        data(&members, "repositories"),
        format!("{{\"localhost/v1\":{{\"1\":\"{top}\"}}}}\n").as_bytes()
    );

    let mut want: Vec<String> = Vec::new();
    for id in [&first, &second, &top] {
        for file in ["", "VERSION", "json", "layer.tar"] {
            want.push(format!("{id}/{file}"));
        }
    }
    want.push(format!("{}.json", image.id));
    want.sort();
    want.extend(["manifest.json".into(), "repositories".into()]);
    assert_eq!(names(&members), want);

    let created = 1_704_164_645; // 2024-01-02T03:04:05Z, the config's created
    for m in &members {
        let metadata = m.name == "manifest.json" || m.name == "repositories";
        assert_eq!(m.mtime, if metadata { 0 } else { created }, "{}", m.name);
        assert_eq!(m.owner, ("root".into(), "root".into()), "{}", m.name);
        let mode = match m.kind {
            b'5' => 0o40755,
            b'2' => 0o120777,
            _ => 0o100644,
        };
        assert_eq!(m.mode, mode, "{}", m.name);
    }
    // The base layer's second use is a link to its first directory.
    let top_tar = members
        .iter()
        .find(|m| m.name == format!("{top}/layer.tar"))
        .expect("top layer");
    assert_eq!(
        (top_tar.kind, top_tar.link.as_str()),
        (b'2', &*format!("../{first}/layer.tar"))
    );
    assert_eq!(
        data(&members, &format!("{first}/layer.tar")),
        &layers[0][..]
    );
    assert_eq!(data(&members, &format!("{second}/VERSION")), b"1.0");
    assert_eq!(
        String::from_utf8_lossy(data(&members, &format!("{second}/json"))),
        format!(
            r#"{{"id":"{second}","parent":"{first}","created":"1970-01-01T00:00:00Z","container_config":{},"os":"linux"}}"#,
            r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
        )
    );
    let top_json = String::from_utf8_lossy(data(&members, &format!("{top}/json"))).into_owned();
    assert!(
        top_json.starts_with(&format!(
            r#"{{"id":"{top}","parent":"{second}","created":"2024-01-02T03:04:05Z","container_config":{{"#
        )) && top_json.ends_with(r#""config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{"test":"v1"}},"architecture":"amd64","os":"linux"}"#),
        "{top_json}"
    );

    let (again, _) = save(
        &t.store,
        &[item(&image, Some("localhost/v1:1"))],
        SaveFormat::DockerArchiveV1,
    );
    assert_eq!(again, bytes, "the same image saves to the same bytes");
}

#[test]
fn v1_archives_load_back_into_strata() {
    let t = TestStore::new();
    let one = make_image(&t.store, &[base_tar(), app_tar()], "one", vec![], &[]);
    let two = make_image(&t.store, &[base_tar(), other_tar()], "two", vec![], &[]);
    let items = [
        item(&one, Some("localhost/one:1")),
        item(&two, Some("localhost/two:1")),
        item(&two, None),
    ];
    let (bytes, report) = save(&t.store, &items, SaveFormat::DockerArchiveV1);
    assert_eq!((report.images, report.layers), (2, 3));
    let path = t.dir.path().join("v1.tar");
    std::fs::write(&path, &bytes).expect("write");

    let dir = tempfile::tempdir().expect("tempdir");
    let other = open(dir.path());
    let loaded = other.load_path(&path).expect("load");
    let mut got: Vec<(String, Vec<String>)> = loaded
        .images
        .iter()
        .map(|i| (i.id.clone(), i.names.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        (one.id.clone(), vec!["localhost/one:1".to_string()]),
        (two.id.clone(), vec!["localhost/two:1".to_string()]),
    ];
    want.sort();
    assert_eq!(got, want);
    let (resaved, _) = save(&other, &items, SaveFormat::DockerArchiveV1);
    assert_eq!(resaved, bytes, "load then save gives the same archive");

    let inspect = json(
        skopeo_ok([
            "inspect",
            "--config",
            &format!("docker-archive:{}:localhost/one:1", path.display()),
        ])
        .as_bytes(),
    );
    assert_eq!(inspect["config"]["Labels"]["test"], "one");
}

#[test]
fn v1_refuses_layerless_images_before_writing() {
    let t = TestStore::new();
    let empty = make_image(&t.store, &[], "empty", vec![], &[]);
    let mut out = Vec::new();
    let error = t
        .store
        .save(
            &[item(&empty, Some("localhost/e:1"))],
            SaveFormat::DockerArchiveV1,
            &mut out,
        )
        .expect_err("no layers");
    assert!(error.to_string().contains("no layers"), "{error}");
    assert!(out.is_empty(), "nothing written");
}

/// Builds an image with the classic builder from `FROM scratch` and
/// instructions that fill every field of the v1 JSON Docker writes.
fn docker_build(docker: &Dockerd, dir: &Path) -> String {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).expect("context");
    std::fs::write(context.join("a.txt"), "hello\n").expect("a");
    std::fs::write(context.join("b.txt"), "world\n").expect("b");
    std::fs::write(
        context.join("Dockerfile"),
        r#"FROM scratch
COPY a.txt /a.txt
ENV FOO=bar PATH=/bin
LABEL x="<a&b>" y=z
COPY b.txt /b.txt
EXPOSE 80/tcp 53/udp
VOLUME /data
WORKDIR /w
USER 1000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD ["true"]
SHELL ["/bin/sh","-c"]
ONBUILD RUN echo hi
ENTRYPOINT ["/bin/app"]
CMD ["--flag"]
"#,
    )
    .expect("Dockerfile");
    let mut build = docker.command();
    build
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "test/built:v1"])
        .arg(&context);
    let output = build.output().expect("docker build");
    assert!(
        output.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    "test/built:v1".into()
}

fn docker_save(docker: &Dockerd, dir: &Path, names: &[&str]) -> Vec<u8> {
    let path = dir.join("docker-saved.tar");
    let mut args = vec!["save", "-o", path.to_str().expect("utf-8")];
    args.extend(names);
    docker.docker_ok(args);
    std::fs::read(&path).expect("read docker's archive")
}

/// One dockerd for all the comparisons: it takes seconds to start.
#[test]
fn docker_20_10_writes_the_same_archive_and_loads_strata_s() {
    let t = TestStore::new();
    let docker = Dockerd::start();
    let version = docker.docker_ok(["version", "--format", "{{.Server.Version}}"]);
    assert!(
        version.starts_with("20.10."),
        "this comparison needs docker 20.10 to 24: {version}"
    );

    // An image docker built: every v1 field, HTML characters, docker's
    // own config bytes. docker save and strata's save must be identical.
    let name = docker_build(&docker, t.dir.path());
    let from_docker = docker_save(&docker, t.dir.path(), &[&name]);
    let path = t.dir.path().join("from-docker.tar");
    std::fs::write(&path, &from_docker).expect("write");
    let loaded = t.store.load_path(&path).expect("load docker's archive");
    let built = t.store.image(&loaded.images[0].id).expect("image");
    let (ours, _) = save(
        &t.store,
        &[item(&built, Some("test/built:v1"))],
        SaveFormat::DockerArchiveV1,
    );
    assert_eq!(members(&ours), members(&from_docker));
    assert_eq!(ours, from_docker, "byte for byte");

    // Images made by strata, with a layer used twice (a symlink) and a
    // base shared by two images: docker load then docker save.
    let one = make_image(
        &t.store,
        &[base_tar(), app_tar(), base_tar()],
        "one",
        vec![],
        &[],
    );
    let two = make_image(&t.store, &[base_tar(), other_tar()], "two", vec![], &[]);
    let items = [
        item(&one, Some("localhost/one:1")),
        item(&two, Some("localhost/two:1")),
    ];
    let (v25, _) = save(&t.store, &items, SaveFormat::DockerArchive);
    let v25_path = t.dir.path().join("v25.tar");
    std::fs::write(&v25_path, v25).expect("write");
    docker.docker_ok(["load", "-i", v25_path.to_str().expect("utf-8")]);
    for (image_item, docker_name) in items.iter().zip(["localhost/one:1", "localhost/two:1"]) {
        let theirs = members(&docker_save(&docker, t.dir.path(), &[docker_name]));
        let (ours, _) = save(
            &t.store,
            std::slice::from_ref(image_item),
            SaveFormat::DockerArchiveV1,
        );
        let mut ours = members(&ours);
        // Docker leaves the v1 directory of a symlinked layer (and its
        // files) with the time of the save; strata gives it the created time.
        let linked: Vec<String> = theirs
            .iter()
            .filter(|m| m.kind == b'2')
            .map(|m| m.name.trim_end_matches("layer.tar").to_string())
            .collect();
        for m in ours
            .iter_mut()
            .filter(|m| linked.iter().any(|d| m.name.starts_with(d.as_str())))
        {
            let docker_time = theirs
                .iter()
                .find(|d| d.name == m.name)
                .map_or(0, |d| d.mtime);
            m.mtime = docker_time;
        }
        assert_eq!(ours, theirs, "{docker_name}");
    }
    let both = members(&docker_save(
        &docker,
        t.dir.path(),
        &["localhost/one:1", "localhost/two:1"],
    ));
    let (ours, _) = save(&t.store, &items, SaveFormat::DockerArchiveV1);
    let ours = members(&ours);
    assert_eq!(
        names(&ours),
        names(&both),
        "the same members in the same order"
    );

    // docker loads strata's v1 archive: same ids and tags.
    docker.docker_ok(["rmi", "localhost/one:1", "localhost/two:1", &name]);
    let (v1, _) = save(
        &t.store,
        &[
            items[0].clone(),
            items[1].clone(),
            item(&built, Some("test/built:v1")),
        ],
        SaveFormat::DockerArchiveV1,
    );
    let v1_path = t.dir.path().join("v1.tar");
    std::fs::write(&v1_path, v1).expect("write");
    docker.docker_ok(["load", "-i", v1_path.to_str().expect("utf-8")]);
    for (docker_name, id) in [
        ("localhost/one:1", &one.id),
        ("localhost/two:1", &two.id),
        (name.as_str(), &built.id),
    ] {
        let inspect = json(
            docker
                .docker_ok(["image", "inspect", docker_name])
                .as_bytes(),
        );
        assert_eq!(inspect[0]["Id"], format!("sha256:{id}"), "{docker_name}");
    }
    drop(docker);
}
