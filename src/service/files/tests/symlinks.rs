//! A symlink planted in a user's tree, pointing outside it, is never
//! followed: not by put, get, ls, stat nor rm.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use super::*;

/// A store whose user ALICE has `link -> OUTSIDE/`, `flink -> OUTSIDE/secret`
/// and `d/inner -> OUTSIDE/` planted by someone with shell access.
fn planted() -> (tempfile::TempDir, FileStore, PathBuf) {
    let (dir, s) = store();
    put_new(&s, ALICE, "d/keep", b"k");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"top secret").unwrap();
    let home = user_dir(&dir, ALICE);
    symlink(&outside, home.join("link")).unwrap();
    symlink(outside.join("secret"), home.join("flink")).unwrap();
    symlink(&outside, home.join("d/inner")).unwrap();
    (dir, s, outside)
}

fn assert_outside_intact(outside: &std::path::Path) {
    assert_eq!(names(outside), ["secret"]);
    assert_eq!(
        std::fs::read(outside.join("secret")).unwrap(),
        b"top secret"
    );
}

#[test]
fn put_does_not_follow() {
    let (_dir, s, outside) = planted();
    for path in ["link/new", "link/secret", "d/inner/new"] {
        let mut r = req(path, 1);
        r.force = true;
        let e = s.begin_upload(ALICE, &r).unwrap_err();
        assert_eq!(e.code(), crate::wire::ErrorCode::BadPath, "{path}: {e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
    // A link as the destination itself: a conflict, and with force the
    // link is replaced by the file, the target untouched.
    assert_eq!(
        s.begin_upload(ALICE, &req("flink", 1)).unwrap_err().code(),
        crate::wire::ErrorCode::Conflict
    );
    let mut r = req("flink", 3);
    r.force = true;
    put(&s, ALICE, &r, b"new").unwrap();
    assert_eq!(get(&s, ALICE, "flink"), b"new");
    assert_outside_intact(&outside);
}

#[test]
fn put_does_not_follow_a_link_planted_during_the_upload() {
    let (dir, s, outside) = planted();
    let mut up = s.begin_upload(ALICE, &req("late/x", 1)).unwrap();
    up.write(0, b"x").unwrap();
    symlink(&outside, user_dir(&dir, ALICE).join("late")).unwrap();
    assert_eq!(
        up.finish(&blake3::hash(b"x")).unwrap_err().code(),
        crate::wire::ErrorCode::BadPath
    );
    assert_outside_intact(&outside);
}

#[test]
fn get_and_stat_do_not_follow() {
    let (_dir, s, outside) = planted();
    for path in ["link/secret", "flink", "d/inner/secret"] {
        assert_eq!(
            s.download(ALICE, path, 0).unwrap_err().code(),
            crate::wire::ErrorCode::BadPath,
            "{path}"
        );
        assert_eq!(
            s.stat(ALICE, path).unwrap_err().code(),
            crate::wire::ErrorCode::BadPath,
            "{path}"
        );
    }
    assert_outside_intact(&outside);
}

#[test]
fn ls_does_not_follow() {
    let (_dir, s, _outside) = planted();
    for dir in ["link", "d/inner"] {
        assert_eq!(
            s.list(ALICE, dir).unwrap_err().code(),
            crate::wire::ErrorCode::BadPath,
            "{dir}"
        );
    }
    let root = s.list(ALICE, "").unwrap();
    let shown: Vec<_> = root.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(shown, ["d"]);
    assert_eq!(root.skipped, 2, "link and flink are not listed");
    let d = s.list(ALICE, "d").unwrap();
    assert_eq!(d.entries.len(), 1);
    assert_eq!(d.skipped, 1);
}

#[test]
fn rm_does_not_follow() {
    let (dir, s, outside) = planted();
    for path in ["link/secret", "d/inner/secret"] {
        assert_eq!(
            s.remove(ALICE, path, true).unwrap_err().code(),
            crate::wire::ErrorCode::BadPath,
            "{path}"
        );
    }
    // Removing a link removes the link only.
    assert_eq!(s.remove(ALICE, "link", true).unwrap().files, 1);
    assert_eq!(s.remove(ALICE, "flink", false).unwrap().files, 1);
    // A recursive removal unlinks links inside the tree.
    let r = s.remove(ALICE, "d", true).unwrap();
    assert_eq!((r.files, r.dirs, r.bytes), (2, 1, 1));
    assert_outside_intact(&outside);
    assert_eq!(names(&user_dir(&dir, ALICE)), Vec::<String>::new());
}
