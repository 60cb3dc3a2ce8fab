//! Image names through the library: short names given to `tag_image`,
//! `commit` and `import_image` go under `localhost/`, loads keep Docker
//! Hub's; `Store::image` finds a short name in podman's order; an
//! ambiguous last resort is refused; `similar_image_names` offers the
//! closest names; `open_to_read` of a store the user may write is `open`
//! (the CLI tests read a root-owned store as another user).

use strata::{Error, Store, StoreOptions};

use crate::common::TestStore;
use crate::from_images::load_image;

#[test]
fn short_names_are_local_and_found_in_podmans_order() {
    let t = TestStore::new();
    let one = load_image(&t, "one", "localhost/sample:1", &["a"]);
    let two = load_image(&t, "two", "sample:9", &["b", "c"]);
    assert_eq!(
        two.names,
        ["docker.io/library/sample:9"],
        "a load is Docker Hub's"
    );
    let s = &t.store;
    s.tag_image(&two.id, "docker.io/library/sample:1")
        .expect("tag");
    s.tag_image(&two.id, "quay.io/z/deep:2").expect("tag");
    s.tag_image(&one.id, "quay.io/y/deep:3").expect("tag");
    s.tag_image(&one.id, "quay.io/x/deep:3").expect("tag");
    s.tag_image(&one.id, &two.id[..10]).expect("tag");
    let tagged = s.tag_image(&one.id, "mine").expect("tag");
    assert!(tagged.names.contains(&"localhost/mine:latest".to_string()));
    assert!(
        tagged
            .names
            .contains(&format!("localhost/{}:latest", &two.id[..10]))
    );

    let found = |reference: &str| s.image(reference).map(|image| image.id);
    assert_eq!(
        found("sample:1").ok(),
        Some(one.id.clone()),
        "localhost first"
    );
    assert_eq!(found("docker.io/sample:1").ok(), Some(two.id.clone()));
    assert_eq!(
        found("sample:9").ok(),
        Some(two.id.clone()),
        "then Docker Hub"
    );
    assert_eq!(
        found(&two.id[..10]).ok(),
        Some(one.id.clone()),
        "a name before an id prefix"
    );
    assert_eq!(
        found(&two.id[..12]).ok(),
        Some(two.id.clone()),
        "then an id prefix"
    );
    assert_eq!(found("deep:2").ok(), Some(two.id.clone()), "then */NAME");
    assert_eq!(found("z/deep:2").ok(), Some(two.id.clone()));
    assert_eq!(
        found("deep:3").ok(),
        Some(one.id.clone()),
        "one image, two names"
    );
    assert!(matches!(found("mine:2"), Err(Error::ImageNotFound(_))));
    assert!(matches!(
        found("quay.io/deep:2"),
        Err(Error::ImageNotFound(_))
    ));

    s.tag_image(&two.id, "quay.io/w/deep:3").expect("tag");
    match found("deep:3") {
        Err(Error::Ambiguous { candidates, .. }) => {
            assert_eq!(candidates.len(), 2, "{candidates:?}")
        }
        other => panic!("deep:3 names two images: {other:?}"),
    }

    assert_eq!(
        s.similar_image_names("sampel:1").expect("similar"),
        [
            "localhost/sample:1",
            "docker.io/library/sample:1",
            "docker.io/library/sample:9"
        ]
    );
    assert!(s.similar_image_names("zzz").expect("similar").is_empty());

    // untag takes the local name of a short name, as podman's does.
    assert!(s.untag_image(&two.id, "sample:1").is_err());
    s.untag_image(&one.id, "sample:1").expect("untag");
    // rm by a name of several takes only that name.
    let removed = s.delete_image("sample:1", false).expect("rm");
    assert_eq!(removed.untagged, ["docker.io/library/sample:1"]);
    assert_eq!(removed.image, None);
}

#[test]
fn open_to_read_is_open_for_a_user_who_may_write() {
    let t = TestStore::new();
    let image = load_image(&t, "one", "localhost/sample:1", &["a"]);
    let options = StoreOptions {
        root: Some(t.store.root().to_path_buf()),
        runroot: Some(t.store.runroot().to_path_buf()),
        driver: None,
    };
    // As root the store is writable: open_to_read is open.
    let store = Store::open_to_read(&options).expect("open to read");
    assert!(!store.is_read_only());
    assert_eq!(store.image("sample:1").expect("image").id, image.id);
}
