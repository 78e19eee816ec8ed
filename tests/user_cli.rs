//! `sockit user` driven through the real binary, on a temporary data directory.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use sockit::service::accounts::{Accounts, AccountsConfig, AuthError};

/// Runs `sockit user ARGS --data DIR` with `stdin`.
fn user(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--data", data.to_str().unwrap()]);
    common::run(&all, stdin)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The one error line of a failed run.
fn error_line(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(2), "should fail: {o:?}");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let line = err
        .lines()
        .find(|l| l.contains("error:"))
        .unwrap_or_default()
        .to_string();
    assert!(!line.is_empty(), "no error line in {err:?}");
    line
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{o:?}");
    stdout(&o)
}

fn list_json(data: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(user(data, &["list", "--json"], b""))).unwrap()
}

#[test]
fn add_list_lock_unlock_del() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = ok(user(
        &data,
        &["add", "Alice", "--password-stdin"],
        b"correct horse\n",
    ));
    // It names the store it wrote to: a server elsewhere has its own.
    let db = std::fs::canonicalize(data.join("sockit.db")).unwrap();
    assert_eq!(
        out.trim(),
        format!(
            "user Alice added to {} (serve with --data {})",
            db.display(),
            data.display()
        )
    );

    let dup = error_line(&user(
        &data,
        &["add", "alice", "--password-stdin"],
        b"another one\n",
    ));
    assert!(dup.contains("user Alice already exists"), "{dup}");
    assert!(dup.contains("sockit user passwd Alice"), "{dup}");

    let users = list_json(&data);
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(u["name"], "Alice");
    assert!(u["created"].as_u64().unwrap() > 1_600_000_000);
    assert!(u["last_login"].is_null());
    assert_eq!(u["locked"], false);

    ok(user(&data, &["lock", "ALICE"], b""));
    assert_eq!(list_json(&data)[0]["locked"], true);
    let table = ok(user(&data, &["list"], b""));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Alice") && l.ends_with("locked")),
        "{table}"
    );
    ok(user(&data, &["unlock", "alice"], b""));
    assert_eq!(list_json(&data)[0]["locked"], false);

    ok(user(&data, &["del", "alice"], b""));
    assert!(list_json(&data).is_empty());
    let gone = error_line(&user(&data, &["del", "alice"], b""));
    assert!(gone.contains("no user alice"), "{gone}");
    let gone = error_line(&user(&data, &["passwd", "alice", "--password-stdin"], b""));
    assert!(gone.contains("no user alice"), "{gone}");
}

#[tokio::test]
async fn passwd_changes_the_password_and_ends_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(user(
        &data,
        &["add", "bob", "--password-stdin"],
        b"first password\n",
    ));
    let cfg = AccountsConfig {
        hash_threads: 1,
        ..AccountsConfig::default()
    };
    // A "server" holding the database open while the CLI works on it.
    let accounts = Accounts::open(&data, cfg).unwrap();
    let token = accounts
        .login("bob", "first password", None)
        .await
        .unwrap()
        .token;
    // Windows line endings are stripped too.
    ok(user(
        &data,
        &["passwd", "bob", "--password-stdin"],
        b"second password\r\n",
    ));
    assert_eq!(accounts.resume(&token).await, Err(AuthError::InvalidToken));
    let old = accounts.login("bob", "first password", None).await;
    assert_eq!(old.unwrap_err(), AuthError::InvalidCredentials);
    accounts
        .login("bob", "second password", None)
        .await
        .unwrap();
    let listed = list_json(&data);
    assert!(listed[0]["last_login"].as_u64().is_some());
}

#[test]
fn bad_names_and_passwords_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let e = error_line(&user(
        &data,
        &["add", "~bob", "--password-stdin"],
        b"long enough\n",
    ));
    assert!(e.contains("invalid user name") && e.contains('~'), "{e}");
    let e = error_line(&user(
        &data,
        &["add", "bob", "--password-stdin"],
        b"short\n",
    ));
    assert!(e.contains("at least 8"), "{e}");
    let e = error_line(&user(
        &data,
        &["add", "bob", "--password-stdin"],
        b"caf\xe9 au lait\n",
    ));
    assert!(e.contains("not valid UTF-8"), "{e}");
    // Without --password-stdin and no terminal, nothing is read silently.
    let e = error_line(&user(&data, &["add", "bob"], b"long enough\n"));
    assert!(e.contains("--password-stdin"), "{e}");
    assert!(list_json(&data).is_empty(), "no user was created");
}

#[test]
fn commands_on_a_missing_data_dir_say_so_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nowhere");
    let e = error_line(&user(&data, &["lock", "alice"], b""));
    assert!(e.contains("sockit user add"), "{e}");
    assert_eq!(ok(user(&data, &["list", "--json"], b"")).trim(), "[]");
    assert!(!data.exists());
}

#[test]
fn help_shows_examples() {
    let out = ok(common::run(&["user", "--help"], b""));
    assert!(
        out.contains("Examples:") && out.contains("--password-stdin"),
        "{out}"
    );
}
