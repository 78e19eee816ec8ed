//! The transfer table with no door: the typed upload steps the web door
//! uses, the frame rules beside them, and what becomes of an upload left
//! open (removed or kept, as [`Unfinished`] says).

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Expected, FilesState, Unfinished};
use crate::service::files::{FileStore, FilesConfig, UploadRequest};
use crate::wire::{ErrorCode, FileRequest};

const USER: i64 = 7;

fn store(dir: &std::path::Path) -> FileStore {
    FileStore::open(dir, FilesConfig::default()).unwrap().0
}

fn req(path: &str, size: u64) -> UploadRequest {
    UploadRequest {
        path: path.into(),
        size,
        fingerprint: "test".into(),
        force: false,
        md5: false,
    }
}

/// Bytes the user's unfinished uploads hold of the quota.
fn staged(store: &FileStore) -> u64 {
    store.usage(USER).unwrap().staged
}

#[tokio::test]
async fn a_sha256_upload_publishes_only_the_bytes_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = FilesState::ending(store(dir.path()), Unfinished::Remove);
    let body = b"the browser's bytes";
    let right: [u8; 32] = Sha256::digest(body).into();
    let mut wrong = right;
    wrong[0] ^= 1;
    for (want, ok) in [(wrong, false), (right, true)] {
        let size = body.len() as u64;
        let (h, offset) = files
            .begin_upload(USER, req("a.txt", size), true)
            .await
            .unwrap();
        assert_eq!(offset, 0);
        let end = files
            .write(USER, h, 0, Bytes::from_static(body))
            .await
            .unwrap();
        assert_eq!(end, size);
        let expected = Expected {
            sha256: Some(want),
            ..Expected::default()
        };
        let r = files.finish_upload(USER, h, expected).await;
        match r {
            Ok(p) => assert!(ok && p.size == size && !p.replaced),
            Err(e) => {
                assert!(!ok);
                assert_eq!(e.code(), ErrorCode::VerifyFailed);
                // Removed at once: nothing held, the name still free.
                assert_eq!(staged(files.store()), 0);
                assert!(files.store().stat(USER, "a.txt").is_err());
            }
        }
    }
    let stat = files.store().stat(USER, "a.txt").unwrap();
    assert_eq!(stat.size, body.len() as u64);
}

#[tokio::test]
async fn frames_must_name_a_hash_the_typed_finish_may_rest_on_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = FilesState::new(store(dir.path()));
    let (h, _) = files.begin_upload(USER, req("b", 3), false).await.unwrap();
    // Before every byte: refused, and the upload stays open.
    let early = files.finish_upload(USER, h, Expected::default()).await;
    assert_eq!(early.unwrap_err().code(), ErrorCode::BadOffset);
    files
        .write(USER, h, 0, Bytes::from_static(b"abc"))
        .await
        .unwrap();
    let end = FileRequest::PutEnd {
        handle: h,
        blake3: None,
        md5: None,
    };
    let reply = files.handle(USER, end, Bytes::new(), Some(4)).await;
    assert_eq!(
        reply.get("code").and_then(|v| v.as_str()),
        Some("bad_request")
    );
    // An MD5 the upload was not begun for: refused, still open.
    let md5 = Expected {
        md5: Some([0; 16]),
        ..Expected::default()
    };
    let e = files.finish_upload(USER, h, md5).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadRequest);
    // Another login never reaches the handle.
    let e = files.finish_upload(USER + 1, h, Expected::default()).await;
    assert_eq!(e.unwrap_err().code(), ErrorCode::BadHandle);
    let p = files
        .finish_upload(USER, h, Expected::default())
        .await
        .unwrap();
    assert_eq!(p.hashes.blake3, blake3::hash(b"abc"));
}

#[tokio::test]
async fn closing_pauses_or_removes_the_open_uploads() {
    let dir = tempfile::tempdir().unwrap();
    for (unfinished, kept) in [(Unfinished::Resume, true), (Unfinished::Remove, false)] {
        let mut files = FilesState::ending(store(dir.path()), unfinished);
        let (h, _) = files.begin_upload(USER, req("c", 10), false).await.unwrap();
        files
            .write(USER, h, 0, Bytes::from_static(b"12345"))
            .await
            .unwrap();
        files.close().await;
        let partials = files.store().partials(USER, "").unwrap();
        assert_eq!(partials.len(), usize::from(kept), "{unfinished:?}");
        assert_eq!(staged(files.store()) > 0, kept, "{unfinished:?}");
        if kept {
            assert_eq!(partials[0].held, 5);
            files.store().cancel_upload(USER, "c").unwrap();
        }
    }
}

#[test]
fn a_dropped_web_upload_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut files = FilesState::ending(store(dir.path()), Unfinished::Remove);
    rt.block_on(async {
        let (h, _) = files.begin_upload(USER, req("d", 10), false).await.unwrap();
        files
            .write(USER, h, 0, Bytes::from_static(b"123"))
            .await
            .unwrap();
    });
    drop(rt);
    let store = files.store().clone();
    assert!(staged(&store) > 0);
    // Outside a runtime the drop removes it there and then.
    drop(files);
    assert_eq!(staged(&store), 0);
    assert!(store.partials(USER, "").unwrap().is_empty());
}
