//! Upload limits: quota, maximum file size, chunk size, declared size, and
//! a full disk.

use super::*;

fn quota(q: u64) -> FilesConfig {
    FilesConfig {
        quota: q,
        max_file: 800,
        max_chunk: 1000,
        ..FilesConfig::default()
    }
}

#[test]
fn quota_counts_published_and_unfinished_uploads() {
    let (_dir, s) = store_with(quota(1000));
    put_new(&s, ALICE, "a", &data(600));
    let e = s.begin_upload(ALICE, &req("b", 500)).unwrap_err();
    assert_eq!(e.code(), "quota_exceeded");
    assert!(
        matches!(
            e,
            FileError::QuotaExceeded {
                used: 600,
                quota: 1000,
                needed: 500
            }
        ),
        "{e}"
    );
    // Another user has their own quota.
    put_new(&s, BOB, "b", &data(500));
    // Replacing a file only needs the difference.
    let mut r = req("a", 700);
    r.force = true;
    put(&s, ALICE, &r, &data(700)).unwrap();
    // An unfinished upload holds its declared size.
    let up = s.begin_upload(ALICE, &req("c", 200)).unwrap();
    up.pause().unwrap();
    assert_eq!(
        s.begin_upload(ALICE, &req("d", 200)).unwrap_err().code(),
        "quota_exceeded"
    );
    assert_eq!(
        s.usage(ALICE).unwrap(),
        Usage {
            published: 700,
            staged: 200,
            quota: 1000
        }
    );
    // Removing frees it.
    s.remove(ALICE, "a", false).unwrap();
    s.begin_upload(ALICE, &req("d", 200)).unwrap();
}

#[test]
fn maximum_file_chunk_and_declared_sizes() {
    let (dir, s) = store_with(quota(10_000));
    let e = s.begin_upload(ALICE, &req("big", 801)).unwrap_err();
    assert_eq!(e.code(), "too_large");
    let mut up = s.begin_upload(ALICE, &req("f", 700)).unwrap();
    assert_eq!(up.write(0, &data(1001)).unwrap_err().code(), "too_large");
    up.write(0, &data(600)).unwrap();
    // Never more than declared.
    assert_eq!(up.write(600, &data(101)).unwrap_err().code(), "too_large");
    up.write(600, &data(100)).unwrap();
    assert_eq!(up.offset(), 700);
    drop(up);
    assert!(!user_dir(&dir, ALICE).join("f").exists());
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_temporary() {
    let (dir, s) = store();
    let content = data(5000);
    let mut up = s.begin_upload(ALICE, &req("f", content.len())).unwrap();
    up.fail_after = Some(2500);
    up.write(0, &content[..2000]).unwrap();
    let e = up.write(2000, &content[2000..3000]).unwrap_err();
    assert_eq!(e.code(), "disk_full");
    assert!(e.to_string().contains("disk is full"), "{e}");
    assert_eq!(names(&staging_dir(&dir, ALICE)), Vec::<String>::new());
    assert!(up.write(2000, &content[2000..3000]).is_err());
    drop(up);
    assert_eq!(s.usage(ALICE).unwrap().staged, 0);
    // A new attempt starts from nothing.
    assert_eq!(
        s.begin_upload(ALICE, &req("f", content.len()))
            .unwrap()
            .offset(),
        0
    );
}

#[test]
fn too_many_uploads_at_once_for_one_user_is_busy() {
    let (_dir, s) = store();
    let running: Vec<_> = (0..MAX_ACTIVE_PER_USER)
        .map(|i| s.begin_upload(ALICE, &req(&format!("f{i}"), 1)).unwrap())
        .collect();
    assert_eq!(
        s.begin_upload(ALICE, &req("one-more", 1))
            .unwrap_err()
            .code(),
        "busy"
    );
    s.begin_upload(BOB, &req("f", 1)).unwrap();
    drop(running);
    s.begin_upload(ALICE, &req("one-more", 1)).unwrap();
}
