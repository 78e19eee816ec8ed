//! Effective settings: what `--print-config` prints (a valid config file,
//! each key under its flag's help) and what a reload compares.

use clap::{Arg, ArgAction, ArgMatches, Command};
use toml::Value;

use super::{keys, kind_of};

/// One key's effective setting: its name, its flag, and its value as
/// TOML (None: not set and no default).
pub type Setting<'c> = (&'c str, &'c Arg, Option<Value>);

/// The effective setting of each key in `m`: what `--print-config` prints
/// and a reload compares.
pub fn settings<'c>(cmd: &'c Command, m: &ArgMatches) -> Vec<Setting<'c>> {
    keys(cmd)
        .filter(|(_, a)| !a.is_hide_set())
        .map(|(long, a)| (long, a, setting(a, m)))
        .collect()
}

fn setting(arg: &Arg, m: &ArgMatches) -> Option<Value> {
    let id = arg.get_id().as_str();
    let typed = |raw: &std::ffi::OsStr| {
        let s = raw.to_string_lossy().into_owned();
        match kind_of(arg) {
            "an integer" => s.parse().map(Value::Integer).unwrap_or(Value::String(s)),
            "a number" => s.parse().map(Value::Float).unwrap_or(Value::String(s)),
            _ => Value::String(s),
        }
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => Some(Value::Boolean(m.get_flag(id))),
        ArgAction::Append => Some(Value::Array(
            m.get_raw(id).into_iter().flatten().map(typed).collect(),
        )),
        _ => m.get_raw(id)?.next().map(typed),
    }
}

/// The effective settings as a config file, each key under its help.
pub fn to_toml(cmd: &Command, m: &ArgMatches) -> String {
    let mut out = String::new();
    for (key, arg, value) in settings(cmd, m) {
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        for l in wrap(&help, 76) {
            out.push_str(&format!("# {l}\n"));
        }
        match value {
            Some(v) => out.push_str(&format!("{key} = {v}\n\n")),
            None => {
                let name = arg.get_value_names().and_then(|n| n.first());
                let name = name.map_or("VALUE".to_owned(), |n| n.to_string());
                out.push_str(&format!("# {key} = {name}   (not set)\n\n"));
            }
        }
    }
    out
}

/// Greedy word wrap for comments.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}
