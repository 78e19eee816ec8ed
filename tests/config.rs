//! `sockit serve --config FILE` and `--print-config` through the real
//! binary: errors a user sees, precedence, round trips, the shipped example.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Server, run};

fn conf(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("sockit.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `sockit serve ARGS --print-config`: (success, stdout, stderr).
fn print_config(args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.push("--print-config");
    let out = run(&all, b"");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The value line of `key` in printed settings.
fn line<'a>(printed: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key} = ");
    printed
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
}

#[test]
fn unknown_keys_are_errors_with_line_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let p = conf(dir.path(), "# limits\nmax-conns = 10\nmax-con-per-ip = 5\n");
    let (ok, _, err) = print_config(&["--config", p.to_str().unwrap()]);
    assert!(!ok);
    let want = format!(
        "{}:3: unknown key `max-con-per-ip`; did you mean `max-conns-per-ip`?",
        p.display()
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn type_errors_name_the_key_and_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let p = conf(dir.path(), "max-conns-per-ip = \"plenty\"\n");
    let (ok, _, err) = print_config(&["--config", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains(":1: `max-conns-per-ip`: expected an integer"),
        "{err}"
    );
    let p = conf(dir.path(), "no-files = \"yes\"\n");
    let (_, _, err) = print_config(&["--config", p.to_str().unwrap()]);
    assert!(
        err.contains("`no-files`: expected true or false, found a string"),
        "{err}"
    );
    let (ok, _, err) = print_config(&["--config", "/nonexistent/sockit.toml"]);
    assert!(!ok);
    assert!(
        err.contains("reading config file /nonexistent/sockit.toml"),
        "{err}"
    );
}

#[test]
fn the_command_line_beats_the_file_and_replaces_its_lists() {
    let dir = tempfile::tempdir().unwrap();
    let p = conf(
        dir.path(),
        "max_conns_per_ip = 100\nallow = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n\
         listen = [\"tcp://0.0.0.0:7878\"]\nquota = \"1G\"\n",
    );
    let p = p.to_str().unwrap();
    let (ok, out, err) = print_config(&["--config", p]);
    assert!(ok, "{err}");
    assert_eq!(line(&out, "max-conns-per-ip"), "max-conns-per-ip = 100");
    assert_eq!(
        line(&out, "allow"),
        "allow = [\"10.0.0.0/8\", \"192.168.0.0/16\"]"
    );
    assert_eq!(line(&out, "quota"), "quota = \"1G\"");
    assert_eq!(
        line(&out, "echo"),
        "echo = []",
        "a listener in the file: no defaults"
    );
    let (ok, out, err) = print_config(&[
        "--config",
        p,
        "--allow",
        "172.16.0.0/12",
        "--max-conns-per-ip",
        "7",
    ]);
    assert!(ok, "{err}");
    assert_eq!(line(&out, "max-conns-per-ip"), "max-conns-per-ip = 7");
    assert_eq!(line(&out, "allow"), "allow = [\"172.16.0.0/12\"]");
    assert_eq!(line(&out, "listen"), "listen = [\"tcp://0.0.0.0:7878\"]");
}

#[test]
fn printed_config_loads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, first, _) = print_config(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--chat-filter",
        "darn=****",
        "--first-frame-timeout",
        "2.5",
        "--no-files",
    ]);
    assert!(ok);
    let p = conf(dir.path(), &first);
    let (ok, again, err) = print_config(&["--config", p.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(again, first);
}

#[test]
fn the_shipped_example_holds_every_default() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sockit.toml");
    let (ok, from_example, err) = print_config(&["--config", example]);
    assert!(ok, "{err}");
    let (_, defaults, _) = print_config(&[]);
    assert_eq!(from_example, defaults);
    // And it is that output itself, so it lists every key with its help
    // (regenerate: sockit serve --print-config > examples/sockit.toml).
    let text = std::fs::read_to_string(example).unwrap();
    assert_eq!(text, defaults, "examples/sockit.toml is out of date");
}

#[test]
fn a_server_runs_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = conf(
        dir.path(),
        "upper = [\"tcp://127.0.0.1:0\"]\nmax_line = 8\nmax-conns-per-ip = 5\n",
    );
    let srv = Server::start(&["--config", p.to_str().unwrap()]);
    assert_eq!(
        srv.listeners.len(),
        1,
        "only the file's listener: {:?}",
        srv.banner
    );
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(srv.sock("upper", "tcp://")).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"abc\n0123456789\n").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert!(
        got.starts_with("ABC\nERROR: "),
        "max-line from the file: {got:?}"
    );
}
