//! Round trips and shapes of the `file` family's messages.

use super::*;

#[test]
fn requests_round_trip_with_dotted_types() {
    let r = FileRequest::Write {
        handle: 3,
        offset: 8,
    };
    let f = r.to_frame(Some(9));
    assert_eq!(f.kind(), Some("file.write"));
    assert_eq!(f.id(), Some(9));
    assert_eq!(FileRequest::from_frame(&f).unwrap(), r);
}

#[test]
fn defaults_keep_requests_short() {
    let f = Frame::new("file.put").set("path", "a").set("file_size", 1);
    let r = FileRequest::from_frame(&f).unwrap();
    assert!(
        matches!(r, FileRequest::Put { force: false, md5: false, ref fingerprint, .. } if fingerprint.is_empty())
    );
    let f = Frame::new("file.ls");
    assert_eq!(
        FileRequest::from_frame(&f).unwrap(),
        FileRequest::Ls {
            path: String::new(),
            partial: false,
            after: None,
        }
    );
}

#[test]
fn a_negative_offset_is_a_bad_request() {
    let f = Frame::new("file.write").set("handle", 1).set("offset", -1);
    let e = FileRequest::from_frame(&f).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::BadRequest);
}

#[test]
fn stat_reply_flattens_the_entry() {
    let r = FileReply::Stat(EntryInfo {
        name: "a/b".into(),
        kind: EntryKind::File,
        size: 3,
        mtime: 1,
        blake3: None,
        offset: None,
        running: None,
    });
    let f = r.to_frame(Some(1));
    assert_eq!(f.get("kind").and_then(|v| v.as_str()), Some("file"));
    assert_eq!(FileReply::from_frame(&f).unwrap(), r);
}
