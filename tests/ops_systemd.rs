//! contrib/systemd/sockit.service: the hardening an operator expects, a
//! command line `sockit serve` accepts with the shipped config, and a
//! clean `systemd-analyze verify` where systemd is installed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

const UNIT: &str = include_str!("../contrib/systemd/sockit.service");
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/systemd/sockit.toml");

/// The `[Service]` settings as (key, value), in order.
fn service() -> Vec<(String, String)> {
    let mut section = "";
    let mut out = Vec::new();
    for line in UNIT.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let (k, v) = line.split_once('=').unwrap();
        if section == "[Service]" {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn get(key: &str) -> String {
    service()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key}= in [Service]"))
}

#[test]
fn the_unit_is_hardened_and_reloads_with_sighup() {
    for (key, want) in [
        ("DynamicUser", "yes"),
        ("User", "sockit"),
        ("StateDirectory", "sockit"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("PrivateMounts", "yes"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(get(key), want, "{key}");
    }
    let exec = get("ExecStart");
    assert!(
        exec.contains("--data /var/lib/sockit"),
        "the state directory: {exec}"
    );
    assert!(exec.contains("--config /etc/sockit/sockit.toml"), "{exec}");
}

#[test]
fn its_command_line_is_accepted_by_sockit_serve() {
    let exec = get("ExecStart");
    let mut args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(args.remove(0), "/usr/local/bin/sockit");
    // The shipped config in place of /etc/sockit/sockit.toml; a dry run.
    let args: Vec<&str> = args
        .into_iter()
        .map(|a| {
            if a == "/etc/sockit/sockit.toml" {
                CONFIG
            } else {
                a
            }
        })
        .chain(["--print-config"])
        .collect();
    let out = common::run(&args, b"");
    let text = common::ok(&out);
    assert!(text.contains("listen = [\"tcp://0.0.0.0:7878\"]"), "{text}");
    assert!(text.contains("data = \"/var/lib/sockit\""), "{text}");
    assert!(text.contains("\nmetrics = "), "{text}");
}

#[test]
fn systemd_analyze_verify_finds_nothing_to_say() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed; the unit's options are checked above");
        return;
    };
    assert!(probe.status.success());
    // verify wants the ExecStart binary to exist: point it at ours.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("sockit.service");
    std::fs::write(&unit, UNIT.replace("/usr/local/bin/sockit", common::bin())).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(Path::new(&unit))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Unknown or misspelt keys are only warned about: none may appear.
    assert!(
        !err.contains("sockit.service"),
        "systemd-analyze complains: {err}"
    );
    // Its exposure score (0 best, 10 worst) stays at 2.0 or below (1.4
    // on systemd 252): what is left is the network access it serves on.
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        text.lines().last().unwrap_or_default()
    );
}
