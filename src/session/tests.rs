//! The session driven directly, request frame in, reply frame out: no
//! socket, no door. Services live in a temporary directory.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::service::accounts::{Accounts, AccountsConfig, HashParams};
use crate::service::chat::{ChatConfig, LocalHub};
use crate::service::files::{FileError, FileStore, FilesConfig};
use crate::wire::ErrorCode;

const PASSWORD: &str = "correct horse battery";

/// A frame from JSON.
fn frame(v: Value) -> Frame {
    match v {
        Value::Object(m) => Frame::from_parts(m, bytes::Bytes::new()),
        _ => unreachable!("test frames are objects"),
    }
}

fn code(reply: &Frame) -> Option<&str> {
    reply.get("code").and_then(Value::as_str)
}

/// Accounts (with alice) in `dir`, cheap hashing.
fn accounts(dir: &std::path::Path) -> Accounts {
    let cfg = AccountsConfig {
        hash: HashParams {
            m_kib: 256,
            t: 1,
            p: 1,
        },
        ..AccountsConfig::default()
    };
    let accounts = Accounts::open(dir, cfg).unwrap();
    accounts.add_user("alice", PASSWORD).unwrap();
    accounts
}

/// Every service, in `dir`.
fn services(dir: &std::path::Path) -> Services {
    let accounts = accounts(dir);
    let hub = LocalHub::open(dir, ChatConfig::default(), Arc::new(accounts.clone())).unwrap();
    let (store, _) = FileStore::open(dir, FilesConfig::default()).unwrap();
    Services {
        accounts: Some(accounts),
        chat: Some(hub),
        files: Some(store),
        shares: None,
    }
}

async fn login(s: &mut Session) -> Frame {
    let req = frame(json!({"type":"login","id":1,"name":"alice","password":PASSWORD}));
    s.answer(&req, &ServerInfo::default()).await
}

#[tokio::test]
async fn families_a_server_does_not_offer_are_unknown_whatever_their_fields() {
    let mut s = Session::new(None, Services::default(), DoorKind::Frame);
    let info = ServerInfo::default();
    for family in [Family::Auth, Family::Chat, Family::File] {
        assert!(!s.offers(family), "{family:?}");
    }
    for req in [
        json!({"type":"login","id":2}),
        json!({"type":"chat.send","id":2,"room":"x"}),
        json!({"type":"file.write","id":2,"handle":"nope"}),
    ] {
        let f = frame(req.clone());
        assert!(!s.serves(&f), "{req}");
        let reply = s.answer(&f, &info).await;
        assert_eq!(code(&reply), Some("unknown_type"), "{req}");
        assert_eq!(reply.id(), Some(2));
    }
    // Core requests are always answered, here as in the framed batch.
    let pong = s
        .answer(&frame(json!({"type":"ping","id":3,"ts":7})), &info)
        .await;
    assert_eq!(
        (pong.kind(), pong.get("ts")),
        (Some("pong"), Some(&json!(7)))
    );
}

#[tokio::test]
async fn auth_gates_chat_and_files_and_logout_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(None, services(dir.path()), DoorKind::Frame);
    let info = ServerInfo::default();
    for req in [
        json!({"type":"chat.join","room":"lobby"}),
        json!({"type":"file.ls"}),
        json!({"type":"whoami"}),
        json!({"type":"file.write","handle":1,"offset":0}),
    ] {
        let reply = s.answer(&frame(req.clone()), &info).await;
        assert_eq!(code(&reply), Some("unauthenticated"), "{req}");
    }
    let wrong = frame(json!({"type":"login","name":"alice","password":"wrong password"}));
    let reply = s.answer(&wrong, &info).await;
    assert_eq!(code(&reply), Some("invalid_credentials"));
    assert!(!s.is_authed());

    let reply = login(&mut s).await;
    assert_eq!(reply.kind(), Some("login"), "{reply:?}");
    assert!(s.is_authed());
    let who = s.answer(&frame(json!({"type":"whoami"})), &info).await;
    assert_eq!(who.get("user"), Some(&json!("alice")));

    let out = s.answer(&frame(json!({"type":"logout"})), &info).await;
    assert_eq!(out.kind(), Some("logout"));
    assert!(!s.is_authed());
    let who = s.answer(&frame(json!({"type":"whoami"})), &info).await;
    assert_eq!(code(&who), Some("unauthenticated"));
}

#[tokio::test]
async fn chat_join_opens_membership_and_leave_ends_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(None, services(dir.path()), DoorKind::Frame);
    let info = ServerInfo::default();
    login(&mut s).await;
    assert!(!s.listens());
    let joined = s
        .answer(
            &frame(json!({"type":"chat.join","id":5,"room":"lobby"})),
            &info,
        )
        .await;
    assert_eq!(
        (joined.kind(), joined.id(), joined.get("room")),
        (Some("chat.join"), Some(5), Some(&json!("lobby")))
    );
    assert!(s.listens());
    let sent = s
        .answer(
            &frame(json!({"type":"chat.send","room":"lobby","text":"hi"})),
            &info,
        )
        .await;
    assert_eq!(sent.get("seq"), Some(&json!(1)), "{sent:?}");
    // Our own message comes back as an event (after our own join's
    // presence), which doors skip.
    let mut own = false;
    for _ in 0..4 {
        let ev = tokio::time::timeout(Duration::from_secs(5), s.next_event())
            .await
            .unwrap();
        match ev {
            Some(crate::service::chat::Event::Message(m)) => {
                own = s.is_own(&m);
                break;
            }
            Some(crate::service::chat::Event::Presence(_)) => continue,
            other => panic!("expected our message, got {other:?}"),
        }
    }
    assert!(own, "our message arrived, marked as ours");
    let left = s
        .answer(&frame(json!({"type":"chat.leave","room":"lobby"})), &info)
        .await;
    assert_eq!(left.kind(), Some("chat.leave"));
    let refused = s
        .answer(
            &frame(json!({"type":"chat.send","room":"lobby","text":"again"})),
            &info,
        )
        .await;
    assert_eq!(code(&refused), Some("not_in_room"));
    // A new login starts without the old identity's membership.
    login(&mut s).await;
    assert!(!s.listens());
    s.close().await;
}

#[tokio::test]
async fn transfer_handles_are_limited_per_connection_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(None, services(dir.path()), DoorKind::Frame);
    let info = ServerInfo::default();
    login(&mut s).await;
    let mut handles = Vec::new();
    for i in 0..MAX_OPEN_PER_CONN {
        let put = json!({"type":"file.put","path":format!("f{i}"),"file_size":1});
        let reply = s.answer(&frame(put), &info).await;
        assert_eq!(reply.kind(), Some("file.put"), "{reply:?}");
        handles.push(reply.get("handle").and_then(Value::as_u64).unwrap());
    }
    let one_more = json!({"type":"file.put","path":"extra","file_size":1});
    let reply = s.answer(&frame(one_more.clone()), &info).await;
    assert_eq!(code(&reply), Some("busy"));
    let stray = json!({"type":"file.write","handle":999,"offset":0});
    let reply = s.answer(&frame(stray), &info).await;
    assert_eq!(code(&reply), Some("bad_handle"));
    // Closing one frees a slot.
    let close = json!({"type":"file.close","handle":handles[0]});
    let reply = s.answer(&frame(close), &info).await;
    assert_eq!(reply.kind(), Some("file.close"));
    let reply = s.answer(&frame(one_more), &info).await;
    assert_eq!(reply.kind(), Some("file.put"), "{reply:?}");
    s.close().await;
}

#[test]
fn failures_map_to_one_code_each() {
    use crate::service::accounts::AuthError;
    use crate::service::chat::ChatError;
    let cases = [
        (Failure::Unauthenticated, ErrorCode::Unauthenticated),
        (Failure::Revoked, ErrorCode::Unauthenticated),
        (Failure::NoAccounts, ErrorCode::UnknownType),
        (Failure::NoChat, ErrorCode::UnknownType),
        (
            Failure::Auth(AuthError::TooManyAttempts {
                retry_after: Duration::from_secs(1),
            }),
            ErrorCode::TooManyAttempts,
        ),
        (Failure::Chat(ChatError::Empty), ErrorCode::Empty),
        (Failure::Files(FileError::DiskFull), ErrorCode::DiskFull),
        (Failure::BadHandle(3), ErrorCode::BadHandle),
        (Failure::BadRequest("x".into()), ErrorCode::BadRequest),
        (Failure::TooManyTransfers, ErrorCode::Busy),
        (
            Failure::EarlyEnd {
                handle: 1,
                offset: 2,
                size: 3,
            },
            ErrorCode::BadOffset,
        ),
    ];
    for (failure, code) in cases {
        assert_eq!(failure.code(), code, "{failure}");
        assert!(!failure.to_string().contains('\n'));
        let f = failure.to_frame(Some(9));
        assert_eq!((f.kind(), f.id()), (Some("error"), Some(9)));
        assert_eq!(f.get("code"), Some(&json!(code.as_str())));
    }
    // Where to continue, and when to retry, travel as fields.
    let f = Failure::Files(FileError::BadOffset {
        expected: 7,
        got: 1,
    })
    .to_frame(None);
    assert_eq!(f.get("offset"), Some(&json!(7)));
    let f = Failure::Auth(AuthError::TooManyAttempts {
        retry_after: Duration::from_millis(1500),
    })
    .to_frame(None);
    assert_eq!(f.get("retry_after"), Some(&json!(2)));
    // An internal error's details stay in the server's log.
    let f = Failure::Files(FileError::Internal {
        doing: "reading /srv/secret",
        source: std::io::Error::other("EIO"),
    })
    .to_frame(None);
    let message = f.get("message").and_then(Value::as_str).unwrap();
    assert!(!message.contains("/srv"), "{message}");
}
