//! What sockit writes to disk is readable by its own user only, even under
//! the common umask 022; an existing data directory others can read is
//! warned about at start.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{CHEAP_ARGON2, Server, bin, run_env};

const PASS: &str = "correct horse battery";

/// Every path under `dir` (itself included) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = vec![(
        dir.to_owned(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
    )];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.is_dir() {
            out.extend(modes(&e.path()));
        } else {
            out.push((e.path(), meta.permissions().mode() & 0o777));
        }
    }
    out
}

#[test]
fn the_data_directory_and_everything_in_it_is_private_under_umask_022() {
    // SAFETY: umask only sets this process's file-creation mask, which the
    // server inherits; 022 is the common default that made files 0644.
    unsafe { libc::umask(0o022) };
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--listen",
        "tls://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
    ]);
    common::add_user(&srv.data(), "alice", PASS);
    let addr = srv.addr("framed", "tcp://");
    let home = tempfile::tempdir().unwrap();
    let env: [(&str, &Path); 2] = [
        ("SOCKIT_CONFIG_DIR", home.path()),
        ("SOCKIT_SERVER", Path::new(&addr)),
    ];
    let login = ["login", &addr, "--user", "alice", "--password-stdin"];
    let out = run_env(&login, format!("{PASS}\n").as_bytes(), &env);
    assert!(out.status.success(), "login: {out:?}");
    let local = home.path().join("notes.txt");
    std::fs::write(&local, b"private notes\n").unwrap();
    let out = run_env(&["put", local.to_str().unwrap(), ":docs"], b"", &env);
    assert!(out.status.success(), "put: {out:?}");
    let all = modes(&srv.data());
    let names: Vec<String> = all
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "sockit.db",
        "sockit.db-wal",
        "chat.db",
        "docs",
        "staging",
        "key.pem",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    for (path, mode) in &all {
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
}

#[test]
fn an_existing_data_directory_others_can_read_is_warned_about_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "tcp://127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.unwrap();
    assert!(line.contains("open to other users"), "{line}");
    assert!(
        line.contains(&format!("chmod 700 {}", data.display())),
        "{line}"
    );
}
