//! Property tests: archives written by an independent tar writer (the `tar`
//! crate), with random members, formats, long names, extensions and
//! trailing bytes, disassemble and reassemble to exactly the same bytes,
//! however the input is chunked. Damaged archives either fail cleanly or
//! still round-trip.

use proptest::prelude::*;
use tar::{EntryType, Header};

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    HardLink,
    CharDevice(u32, u32),
    Fifo,
}

#[derive(Debug, Clone)]
struct Spec {
    name: String,
    kind: Kind,
    mode: u32,
    uid: u64,
    mtime: u64,
    pax: Vec<(String, Vec<u8>)>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}(/[a-z0-9._-]{1,12}){0,3}",
        "[a-z]{40,60}/[a-z]{40,70}/[a-z]{10,30}",
        "d/[é日a-z]{1,20}",
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Kind::File),
        1 => Just(Kind::Dir),
        1 => "[a-z/.]{1,150}".prop_map(Kind::Symlink),
        1 => Just(Kind::HardLink),
        1 => (0u32..300, 0u32..300).prop_map(|(a, b)| Kind::CharDevice(a, b)),
        1 => Just(Kind::Fifo),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let pax = proptest::collection::vec(
        (
            "user\\.[a-z]{1,10}",
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(k, v)| (format!("SCHILY.xattr.{k}"), v)),
        0..3,
    );
    (
        name(),
        kind(),
        0u32..0o7777,
        prop_oneof![0u64..70_000, 2_000_000u64..5_000_000],
        0u64..0o77777777777,
        pax,
    )
        .prop_map(|(name, kind, mode, uid, mtime, pax)| Spec {
            name,
            kind,
            mode,
            uid,
            mtime,
            pax,
        })
}

#[derive(Debug, Clone, Copy)]
enum Flavor {
    Gnu,
    Ustar,
    V7,
}

fn header(flavor: Flavor) -> Header {
    match flavor {
        Flavor::Gnu => Header::new_gnu(),
        Flavor::Ustar => Header::new_ustar(),
        Flavor::V7 => Header::new_old(),
    }
}

/// Writes the archive; members the writer refuses (a name too long for
/// ustar, say) are left out.
fn write_archive(specs: &[Spec], flavor: Flavor, trailer: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut first_file: Option<String> = None;
    for spec in specs {
        if !spec.pax.is_empty() && !matches!(flavor, Flavor::V7) {
            let records = spec.pax.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
            if builder.append_pax_extensions(records).is_err() {
                continue;
            }
        }
        let mut h = header(flavor);
        h.set_mode(spec.mode);
        let uid = if matches!(flavor, Flavor::Gnu) {
            spec.uid
        } else {
            spec.uid % 0o7777777
        };
        h.set_uid(uid);
        h.set_mtime(spec.mtime);
        let result = match &spec.kind {
            Kind::File(data) => {
                h.set_entry_type(EntryType::Regular);
                h.set_size(data.len() as u64);
                first_file.get_or_insert_with(|| spec.name.clone());
                builder.append_data(&mut h, &spec.name, data.as_slice())
            }
            Kind::Dir => {
                h.set_entry_type(EntryType::Directory);
                h.set_size(0);
                builder.append_data(&mut h, &spec.name, std::io::empty())
            }
            Kind::Symlink(target) => {
                h.set_entry_type(EntryType::Symlink);
                h.set_size(0);
                builder.append_link(&mut h, &spec.name, target)
            }
            Kind::HardLink => {
                h.set_entry_type(EntryType::Link);
                h.set_size(0);
                let target = first_file.clone().unwrap_or_else(|| "nothing".into());
                builder.append_link(&mut h, &spec.name, target)
            }
            Kind::CharDevice(major, minor) => {
                h.set_entry_type(EntryType::Char);
                h.set_size(0);
                let _ = h.set_device_major(*major);
                let _ = h.set_device_minor(*minor);
                builder.append_data(&mut h, &spec.name, std::io::empty())
            }
            Kind::Fifo => {
                h.set_entry_type(EntryType::Fifo);
                h.set_size(0);
                builder.append_data(&mut h, &spec.name, std::io::empty())
            }
        };
        let _ = result;
    }
    let mut bytes = builder.into_inner().expect("in-memory archive");
    bytes.extend_from_slice(trailer);
    bytes
}

fn flavor() -> impl Strategy<Value = Flavor> {
    prop_oneof![Just(Flavor::Gnu), Just(Flavor::Ustar), Just(Flavor::V7)]
}

fn trailer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => (0usize..20).prop_map(|blocks| vec![0u8; blocks * 512]),
        1 => proptest::collection::vec(any::<u8>(), 1..2000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_archives_round_trip(
        specs in proptest::collection::vec(spec(), 0..25),
        flavor in flavor(),
        trailer in trailer(),
        chunk in prop_oneof![Just(1usize), 2usize..700, Just(1 << 20)],
    ) {
        let tar = write_archive(&specs, flavor, &trailer);
        let rebuilt = tarsplit::memory::round_trip(&tar, chunk, 1 << 24)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?
            .expect("no sparse files here");
        prop_assert!(rebuilt == tar, "rebuilt archive differs ({} vs {} bytes)", rebuilt.len(), tar.len());
    }

    #[test]
    fn damaged_archives_fail_cleanly_or_round_trip(
        specs in proptest::collection::vec(spec(), 1..8),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut tar = write_archive(&specs, Flavor::Gnu, &[]);
        for (at, byte) in damage {
            let i = at.index(tar.len());
            tar[i] = byte;
        }
        if truncate {
            let keep = cut.index(tar.len());
            tar.truncate(keep);
        }
        if let Ok(Some(rebuilt)) = tarsplit::memory::round_trip(&tar, 333, 1 << 24) {
            prop_assert!(rebuilt == tar);
        }
    }
}

/// Found by `written_archives_round_trip`: the tar crate writes a PAX
/// header and then refuses the member's name (`a/..`), leaving a PAX header
/// right before the end blocks. Go's reader accepts that; so do we.
#[test]
fn extension_header_followed_by_the_end_round_trips() {
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([("SCHILY.xattr.user.x", &b"v"[..])])
        .expect("pax header");
    let tar = builder.into_inner().expect("archive");
    let rebuilt = tarsplit::memory::round_trip(&tar, 100, 1 << 20)
        .expect("accepted")
        .expect("no sparse files");
    assert_eq!(rebuilt, tar);
}
