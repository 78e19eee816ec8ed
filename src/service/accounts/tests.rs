//! Tests of the whole service over a real database in a temporary directory,
//! with cheap argon2 parameters.

use std::net::IpAddr;
use std::time::Duration;

use super::password::Hasher;
use super::schema::V1_USERS;
use super::*;

const CHEAP: HashParams = HashParams {
    m_kib: 256,
    t: 1,
    p: 1,
};

fn cfg() -> AccountsConfig {
    AccountsConfig {
        hash: CHEAP,
        hash_threads: 1,
        ..AccountsConfig::default()
    }
}

fn open(dir: &tempfile::TempDir) -> Accounts {
    Accounts::open(dir.path(), cfg()).unwrap()
}

fn raw(dir: &tempfile::TempDir) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap()
}

const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

#[tokio::test]
async fn login_resume_logout() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("Alice", "correct horse").unwrap();
    let l = a.login("alice", "correct horse", IP).await.unwrap();
    assert_eq!(l.identity.name, "Alice", "the registered spelling");
    assert_eq!(l.token.len(), 64);
    assert!(
        l.token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert!(
        !format!("{l:?}").contains(&l.token),
        "Debug hides the token"
    );
    let id = a.resume(&l.token).await.unwrap();
    assert_eq!(id, l.identity);
    let info = &a.list_users().unwrap()[0];
    assert!(info.last_login.is_some_and(|t| t >= info.created));
    a.logout(&l.token).await.unwrap();
    assert_eq!(a.resume(&l.token).await, Err(AuthError::InvalidToken));
    assert_eq!(a.logout(&l.token).await, Err(AuthError::InvalidToken));
    assert_eq!(a.resume("not a token").await, Err(AuthError::InvalidToken));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    let wrong = a.login("alice", "wrong horse", IP).await.unwrap_err();
    let unknown = a.login("mallory", "correct horse", IP).await.unwrap_err();
    assert_eq!(wrong, AuthError::InvalidCredentials);
    assert_eq!(unknown, wrong);
    assert_eq!(wrong.to_string(), unknown.to_string());
}

#[tokio::test]
async fn bad_input_is_refused_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    let e = a.login("alice", &long, IP).await.unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::BadRequest);
    assert!(!e.to_string().contains(&long));
    let e = a.login("~guest", "whatever1", IP).await.unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::BadRequest);
}

#[tokio::test]
async fn expired_sessions_are_invalid_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let a = Accounts::open(
        dir.path(),
        AccountsConfig {
            session_ttl: Duration::ZERO,
            ..cfg()
        },
    )
    .unwrap();
    a.add_user("alice", "correct horse").unwrap();
    let l = a.login("alice", "correct horse", None).await.unwrap();
    assert_eq!(a.resume(&l.token).await, Err(AuthError::InvalidToken));
    let left: i64 = raw(&dir)
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "the expired session was deleted");
}

#[tokio::test]
async fn passwd_lock_and_delete_revoke_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    let t1 = a.login("alice", "correct horse", None).await.unwrap().token;
    a.set_password("ALICE", "battery staple").unwrap();
    assert_eq!(a.resume(&t1).await, Err(AuthError::InvalidToken));
    assert_eq!(
        a.login("alice", "correct horse", None).await.unwrap_err(),
        AuthError::InvalidCredentials
    );

    let t2 = a
        .login("alice", "battery staple", None)
        .await
        .unwrap()
        .token;
    a.lock_user("alice").unwrap();
    assert_eq!(a.resume(&t2).await, Err(AuthError::InvalidToken));
    assert_eq!(
        a.login("alice", "battery staple", None).await.unwrap_err(),
        AuthError::AccountLocked
    );
    assert_eq!(
        a.login("alice", "wrong guess", None).await.unwrap_err(),
        AuthError::InvalidCredentials,
        "a locked account is only revealed to the right password"
    );
    assert!(a.list_users().unwrap()[0].locked);
    a.unlock_user("alice").unwrap();
    let t3 = a
        .login("alice", "battery staple", None)
        .await
        .unwrap()
        .token;
    a.delete_user("alice").unwrap();
    assert_eq!(a.resume(&t3).await, Err(AuthError::InvalidToken));
    assert!(!a.is_registered("alice").await.unwrap());
    assert!(matches!(
        a.delete_user("alice"),
        Err(AccountsError::NoSuchUser(_))
    ));
}

#[tokio::test]
async fn names_collide_ignoring_case_and_normal_form() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("Jos\u{e9}", "password1").unwrap();
    match a.add_user("JOSE\u{301}", "password2") {
        Err(AccountsError::NameTaken(existing)) => assert_eq!(existing, "Jos\u{e9}"),
        other => panic!("{other:?}"),
    }
    assert!(a.is_registered("jose\u{301}").await.unwrap());
    assert!(!a.is_registered("~jose").await.unwrap());
    assert!(matches!(
        a.add_user("a b", "password1"),
        Err(AccountsError::BadName(_))
    ));
    assert!(matches!(
        a.add_user("bob", "short"),
        Err(AccountsError::BadPassword(_))
    ));
    let e = AccountsError::NameTaken("alice".into()).to_string();
    assert!(e.contains("sockit user passwd alice"), "{e}");
}

#[tokio::test]
async fn a_login_upgrades_an_old_hash_to_the_configured_params() {
    let dir = tempfile::tempdir().unwrap();
    let phc = |dir: &tempfile::TempDir| -> String {
        raw(dir)
            .query_row("SELECT phc FROM users", [], |r| r.get(0))
            .unwrap()
    };
    open(&dir).add_user("alice", "correct horse").unwrap();
    let before = phc(&dir);
    assert!(before.contains("m=256,t=1,p=1"), "{before}");
    let stronger = AccountsConfig {
        hash: HashParams {
            m_kib: 512,
            t: 2,
            p: 1,
        },
        ..cfg()
    };
    let a = Accounts::open(dir.path(), stronger).unwrap();
    assert!(a.login("alice", "wrong horse", None).await.is_err());
    assert_eq!(phc(&dir), before, "a failed login changes nothing");
    a.login("alice", "correct horse", None).await.unwrap();
    let after = phc(&dir);
    assert!(after.contains("m=512,t=2,p=1"), "{after}");
    a.login("alice", "correct horse", None).await.unwrap();
    assert_eq!(phc(&dir), after, "no rehash once current");
}

#[tokio::test]
async fn a_database_from_the_first_schema_step_upgrades_and_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let c = crate::store::open(&path, &[V1_USERS], crate::store::Durability::Full).unwrap();
    let phc = Hasher::new(CHEAP).unwrap().hash("correct horse").unwrap();
    c.execute(
        "INSERT INTO users (name, name_key, phc, created) VALUES ('Alice', 'alice', ?1, 1700000000)",
        [&phc],
    )
    .unwrap();
    drop(c);
    let a = open(&dir);
    let l = a.login("alice", "correct horse", None).await.unwrap();
    assert_eq!(a.resume(&l.token).await.unwrap().name, "Alice");
    let u = &a.list_users().unwrap()[0];
    assert_eq!((u.created, u.locked), (1_700_000_000, false));
    assert!(u.last_login.is_some());
    assert_eq!(crate::store::schema_version(&raw(&dir)).unwrap(), 5);
    // The id counter starts above the rows already there.
    a.add_user("bob", "correct horse").unwrap();
    let bob = a.login("bob", "correct horse", None).await.unwrap();
    assert_eq!(bob.identity.user_id, l.identity.user_id + 1);
}

#[tokio::test]
async fn ids_are_never_reused_and_stay_above_reserved_ones() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    a.add_user("bob", "correct horse").unwrap();
    let bob = a.login("bob", "correct horse", None).await.unwrap();
    // bob is the newest: deleting him must not free his id.
    assert_eq!(a.delete_user("bob").unwrap(), bob.identity.user_id);
    a.add_user("mallory", "correct horse").unwrap();
    let m = a.login("mallory", "correct horse", None).await.unwrap();
    assert!(m.identity.user_id > bob.identity.user_id, "{m:?} {bob:?}");
    // Another process (a fresh open) continues the count, and a file
    // store holding id 40 pushes new accounts past it.
    let other = open(&dir);
    other.reserve_ids_through(40).unwrap();
    other.add_user("zed", "correct horse").unwrap();
    let z = a.login("zed", "correct horse", None).await.unwrap();
    assert_eq!(z.identity.user_id, 41);
    // The deleted account's files are queued for removal, once.
    let mut seen = Vec::new();
    let done = a
        .run_purges_blocking(|id| {
            seen.push(id);
            true
        })
        .unwrap();
    assert_eq!((done, seen), (1, vec![bob.identity.user_id]));
    assert_eq!(a.run_purges_blocking(|_| true).unwrap(), 0);
}

#[tokio::test]
async fn neither_password_nor_token_reaches_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    let l = a.login("alice", "correct horse", None).await.unwrap();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"argon2id"), "the scan sees the store's contents");
    assert!(!has(b"correct horse"));
    assert!(!has(l.token.as_bytes()));
    assert!(!has(&hex::decode(&l.token).unwrap()));
}

#[test]
fn the_service_and_its_futures_can_move_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    send_sync(&a);
    send(&a.login("a", "b", None));
    send(&a.resume("t"));
    send(&a.logout("t"));
    send(&a.is_registered("a"));
}

#[path = "tests_lockout.rs"]
mod lockout;
