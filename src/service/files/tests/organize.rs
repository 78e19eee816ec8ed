//! `mkdir` and `rename` (mv): path tricks, links, a second user, moving
//! onto an existing name or into itself, and the quota.

use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;
use crate::wire::ErrorCode;

#[test]
fn mkdir_creates_private_directories_and_charges_them() {
    let (dir, s) = store();
    let before = s.usage(ALICE).unwrap().published;
    assert_eq!(s.mkdir(ALICE, "photos", false).unwrap(), 1);
    assert_eq!(s.mkdir(ALICE, "a/b/c", true).unwrap(), 3);
    assert_eq!(s.usage(ALICE).unwrap().published, before + 4 * ENTRY_CHARGE);
    let mode = std::fs::metadata(user_dir(&dir, ALICE).join("a/b"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(s.stat(ALICE, "a/b/c").unwrap().kind, EntryKind::Dir);
    // -p on what exists is fine; without it, a conflict.
    assert_eq!(s.mkdir(ALICE, "a/b", true).unwrap(), 0);
    assert_eq!(
        s.mkdir(ALICE, "a/b", false).unwrap_err().code(),
        ErrorCode::Conflict
    );
    // A missing parent without -p: not found, nothing created.
    let e = s.mkdir(ALICE, "x/y", false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
    assert!(!user_dir(&dir, ALICE).join("x").exists());
    // A file in the way.
    put_new(&s, ALICE, "f", b"1");
    assert_eq!(
        s.mkdir(ALICE, "f", true).unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert_eq!(
        s.mkdir(ALICE, "f/g", true).unwrap_err().code(),
        ErrorCode::Conflict
    );
}

#[test]
fn mkdir_and_mv_refuse_every_hostile_path() {
    let (_dir, s) = store();
    put_new(&s, ALICE, "ok", b"1");
    for h in HOSTILE_NAMES {
        let name = h.name();
        let shown = escape_name(&name).into_owned();
        for e in [
            s.mkdir(ALICE, &name, true).unwrap_err(),
            s.rename(ALICE, "ok", &name).unwrap_err(),
            s.rename(ALICE, &name, "ok2").unwrap_err(),
        ] {
            assert_eq!(e.code(), ErrorCode::BadPath, "{shown} ({}): {e}", h.why);
        }
    }
    for p in ["", "/abs", "../up", "a/../b", "a//b"] {
        assert_eq!(
            s.mkdir(ALICE, p, true).unwrap_err().code(),
            ErrorCode::BadPath,
            "{p}"
        );
        assert_eq!(
            s.rename(ALICE, "ok", p).unwrap_err().code(),
            ErrorCode::BadPath,
            "{p}"
        );
    }
    assert_eq!(get(&s, ALICE, "ok"), b"1");
}

#[test]
fn mkdir_stops_at_the_quota() {
    let (_dir, s) = store_with(FilesConfig {
        quota: 3 * ENTRY_CHARGE,
        ..FilesConfig::default()
    });
    assert_eq!(s.mkdir(ALICE, "a/b", true).unwrap(), 2);
    // Two more would pass the quota: refused whole, none made.
    let e = s.mkdir(ALICE, "c/d", true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::QuotaExceeded, "{e}");
    assert_eq!(s.stat(ALICE, "c").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(s.mkdir(ALICE, "c", false).unwrap(), 1);
    assert_eq!(
        s.mkdir(ALICE, "e", false).unwrap_err().code(),
        ErrorCode::QuotaExceeded
    );
    // A move changes no usage, so it passes at a full quota.
    s.rename(ALICE, "c", "a/c").unwrap();
}

#[test]
fn mv_renames_and_moves_files_and_trees_keeping_content_and_hash() {
    let (_dir, s) = store();
    let p = put_new(&s, ALICE, "d/one.txt", b"hello");
    put_new(&s, ALICE, "d/sub/two.txt", b"world");
    s.mkdir(ALICE, "archive", false).unwrap();
    assert_eq!(
        s.rename(ALICE, "d/one.txt", "d/uno.txt").unwrap().kind,
        EntryKind::File
    );
    assert_eq!(
        s.stat(ALICE, "d/one.txt").unwrap_err().code(),
        ErrorCode::NotFound
    );
    let e = s.stat(ALICE, "d/uno.txt").unwrap();
    assert_eq!(
        e.blake3,
        Some(p.hashes.blake3),
        "the hash row moved with the file"
    );
    assert_eq!(
        s.rename(ALICE, "d", "archive/d").unwrap().kind,
        EntryKind::Dir
    );
    assert_eq!(get(&s, ALICE, "archive/d/uno.txt"), b"hello");
    assert_eq!(get(&s, ALICE, "archive/d/sub/two.txt"), b"world");
    assert!(
        s.stat(ALICE, "archive/d/sub/two.txt")
            .unwrap()
            .blake3
            .is_some()
    );
    assert_eq!(s.stat(ALICE, "d").unwrap_err().code(), ErrorCode::NotFound);
}

#[test]
fn mv_never_replaces_and_never_moves_into_itself() {
    let (dir, s) = store();
    put_new(&s, ALICE, "a.txt", b"a");
    put_new(&s, ALICE, "b.txt", b"b");
    put_new(&s, ALICE, "t/inner/x", b"x");
    s.mkdir(ALICE, "empty", false).unwrap();
    // Onto an existing file, directory (even empty) or into a missing parent.
    assert_eq!(
        s.rename(ALICE, "a.txt", "b.txt").unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert_eq!(
        s.rename(ALICE, "a.txt", "empty").unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert_eq!(
        s.rename(ALICE, "t", "empty").unwrap_err().code(),
        ErrorCode::Conflict
    );
    assert_eq!(
        s.rename(ALICE, "a.txt", "nope/a.txt").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        s.rename(ALICE, "gone", "c.txt").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(get(&s, ALICE, "b.txt"), b"b");
    assert_eq!(get(&s, ALICE, "a.txt"), b"a");
    // Into itself or below itself.
    for to in ["t/inner/t", "t/t"] {
        let e = s.rename(ALICE, "t", to).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Conflict, "{to}: {e}");
    }
    // A file moved "below itself" is just a missing parent.
    assert_eq!(
        s.rename(ALICE, "a.txt", "a.txt/b").unwrap_err().code(),
        ErrorCode::Conflict
    );
    // Same name: nothing to do.
    s.rename(ALICE, "a.txt", "a.txt").unwrap();
    assert_eq!(
        names(&user_dir(&dir, ALICE)),
        ["a.txt", "b.txt", "empty", "t"]
    );
}

#[test]
fn a_second_user_neither_sees_nor_moves_the_first_users_files() {
    let (dir, s) = store();
    put_new(&s, ALICE, "mine.txt", b"alice");
    assert_eq!(
        s.rename(BOB, "mine.txt", "taken.txt").unwrap_err().code(),
        ErrorCode::NotFound
    );
    s.mkdir(BOB, "mine.txt", false).unwrap();
    assert_eq!(get(&s, ALICE, "mine.txt"), b"alice");
    assert_eq!(s.stat(BOB, "mine.txt").unwrap().kind, EntryKind::Dir);
    assert!(!user_dir(&dir, BOB).join("taken.txt").exists());
}

#[test]
fn links_are_neither_followed_nor_moved_through() {
    let (dir, s) = store();
    put_new(&s, ALICE, "d/keep", b"k");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"top secret").unwrap();
    let home = user_dir(&dir, ALICE);
    symlink(&outside, home.join("link")).unwrap();
    // Moving the link itself, something through it, or into it: refused.
    assert_eq!(
        s.rename(ALICE, "link", "l2").unwrap_err().code(),
        ErrorCode::BadPath
    );
    assert_eq!(
        s.rename(ALICE, "link/secret", "s").unwrap_err().code(),
        ErrorCode::BadPath
    );
    assert_eq!(
        s.rename(ALICE, "d/keep", "link/keep").unwrap_err().code(),
        ErrorCode::BadPath
    );
    assert_eq!(
        s.mkdir(ALICE, "link/new", true).unwrap_err().code(),
        ErrorCode::BadPath
    );
    assert_eq!(
        s.mkdir(ALICE, "link", true).unwrap_err().code(),
        ErrorCode::BadPath
    );
    assert_eq!(names(&outside), ["secret"]);
    assert_eq!(get(&s, ALICE, "d/keep"), b"k");
}
