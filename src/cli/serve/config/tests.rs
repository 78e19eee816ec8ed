//! Unit tests of the TOML to argv translation, on a small command with a
//! flag of every kind.

use std::ffi::OsString;

use clap::{Args, Command};

use super::*;
use clap::ArgMatches;

#[derive(Debug, Args)]
struct Demo {
    /// A repeatable address.
    #[arg(long)]
    listen: Vec<String>,
    /// An integer.
    #[arg(long, default_value_t = 10)]
    max_conns: usize,
    /// A number.
    #[arg(long, default_value_t = 1.5)]
    grace: f64,
    /// A switch.
    #[arg(long)]
    no_files: bool,
    /// An optional string.
    #[arg(long)]
    data: Option<String>,
    /// Not a key.
    #[arg(long)]
    config: Option<String>,
}

fn cmd() -> Command {
    Demo::augment_args(Command::new("serve"))
}

fn argv(text: &str) -> Result<Vec<String>, String> {
    let entries = parse(text, "f.toml", &cmd())?;
    Ok(entries
        .into_iter()
        .flat_map(|e| e.args)
        .map(|a| a.into_string().unwrap())
        .collect())
}

#[test]
fn every_kind_of_value_becomes_flags() {
    let got = argv(
        "listen = [\"a\", \"b\"]\nmax_conns = 5\ngrace = 0.25\nno-files = true\ndata = \"/d\"\n",
    )
    .unwrap();
    assert_eq!(
        got,
        [
            "--listen=a",
            "--listen=b",
            "--max-conns=5",
            "--grace=0.25",
            "--no-files",
            "--data=/d"
        ]
    );
    // A false switch is the default; one value for a repeatable flag is a
    // list of one; an integer for a number is fine.
    let got = argv("no-files = false\nlisten = \"x\"\ngrace = 3\n").unwrap();
    assert_eq!(got, ["--listen=x", "--grace=3"]);
}

#[test]
fn unknown_keys_name_line_and_suggestion() {
    let e = argv("max-conns = 1\n\nmax_cons = 2\n").unwrap_err();
    assert!(e.starts_with("f.toml:3: unknown key `max_cons`"), "{e}");
    assert!(e.contains("did you mean `max-conns`?"), "{e}");
    let e = argv("zzzzzzzz = 1\n").unwrap_err();
    assert!(!e.contains("did you mean"), "nothing close: {e}");
    let e = argv("config = \"x\"\n").unwrap_err();
    assert!(e.contains("unknown key `config`"), "not settable: {e}");
}

#[test]
fn type_mismatches_name_key_and_type() {
    let cases = [
        ("max-conns = \"many\"", "`max-conns`: expected an integer"),
        ("max-conns = 1.5", "`max-conns`: expected an integer"),
        (
            "grace = true",
            "`grace`: expected a number, found a boolean",
        ),
        ("no-files = \"yes\"", "`no-files`: expected true or false"),
        (
            "data = [\"a\"]",
            "`data`: expected a string, found an array",
        ),
        (
            "listen = [true]",
            "`listen`: expected a string, found a boolean",
        ),
        // What is allowed, not how the integer parser failed.
        (
            "max-conns = -3",
            "`max-conns`: expected an integer, found -3: must be 0 or more",
        ),
    ];
    for (text, want) in cases {
        let e = argv(text).unwrap_err();
        assert!(e.starts_with("f.toml:1: "), "{e}");
        assert!(e.contains(want), "{text}: {e}");
    }
    let e = argv("max-conns = 1\nmax_conns = 2\n").unwrap_err();
    assert!(e.contains("set twice (first on line 1)"), "{e}");
    let e = argv("data = \n").unwrap_err();
    assert!(e.starts_with("f.toml:1: "), "TOML syntax errors too: {e}");
}

fn matches(args: &[&str]) -> ArgMatches {
    let argv = std::iter::once("serve").chain(args.iter().copied());
    cmd().try_get_matches_from(argv).unwrap()
}

fn merged(file: &str, cli: &[&str]) -> ArgMatches {
    let entries = parse(file, "f.toml", &cmd()).unwrap();
    let argv: Vec<OsString> = merge(&cmd(), &entries, &matches(cli));
    cmd().try_get_matches_from(argv).unwrap()
}

#[test]
fn the_command_line_wins_and_replaces_lists() {
    let file = "listen = [\"a\", \"b\"]\nmax-conns = 5\ndata = \"/file\"\n";
    let m = merged(file, &["--listen", "c", "--max-conns", "7"]);
    let listen: Vec<&String> = m.get_many("listen").unwrap().collect();
    assert_eq!(listen, ["c"], "the file's list is replaced, not extended");
    assert_eq!(m.get_one::<usize>("max_conns"), Some(&7));
    assert_eq!(m.get_one::<String>("data").unwrap(), "/file");
    // A value given on the command line that equals the default still wins.
    let m = merged(file, &["--max-conns", "10"]);
    assert_eq!(m.get_one::<usize>("max_conns"), Some(&10));
    let m = merged(file, &[]);
    assert_eq!(m.get_one::<usize>("max_conns"), Some(&5));
}

#[test]
fn printed_settings_load_back_the_same() {
    let m = merged(
        "listen = [\"a\"]\nno-files = true\ngrace = 2.5\n",
        &["--data", "/x"],
    );
    let text = to_toml(&cmd(), &m);
    assert!(text.contains("\nlisten = [\"a\"]\n"), "{text}");
    assert!(
        text.contains("\nmax-conns = 10\n"),
        "defaults are printed: {text}"
    );
    assert!(text.contains("\ngrace = 2.5\n"), "{text}");
    assert!(!text.contains("\nconfig ="), "{text}");
    let again = merged(&text, &[]);
    assert_eq!(settings(&cmd(), &again), settings(&cmd(), &m));
}

#[test]
fn unset_options_are_commented_out() {
    let text = to_toml(&cmd(), &matches(&[]));
    assert!(text.contains("\n# data = DATA   (not set)\n"), "{text}");
    parse(&text, "f.toml", &cmd()).unwrap();
}

#[test]
fn edit_distance() {
    assert_eq!(distance("kitten", "sitting"), 3);
    assert_eq!(distance("", "abc"), 3);
    assert_eq!(
        nearest("lisen", ["listen", "echo"].into_iter()),
        Some("listen")
    );
}
