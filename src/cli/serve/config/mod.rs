//! The TOML config file of `sockit serve`, done generically from clap's own
//! argument list: every long flag is a key (kebab-case, or snake_case), a
//! file becomes command-line arguments, and the command line wins.
//!
//! So a flag added to `serve` anywhere (a flattened struct included) is a
//! config key with no code here. The file is checked key by key against
//! the flags, and each value through the flag's own value parser, so
//! errors name the file, the line and the key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use toml::{Spanned, Value};

/// Flags that are not settings, so never keys.
const NOT_KEYS: [&str; 3] = ["config", "print-config", "help"];

/// What a config file says about one flag, as command-line arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The flag's clap id.
    pub id: String,
    /// `--flag=value`, once per value (just `--flag` for a switch).
    pub args: Vec<OsString>,
}

/// The settable flags: long name and argument.
pub(crate) fn keys(cmd: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long().map(|l| (l, a)))
        .filter(|(l, _)| !NOT_KEYS.contains(l))
}

/// Reads `path` into entries; see [`parse`].
pub fn read(path: &Path, cmd: &Command) -> anyhow::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "reading config file {}: {e}; give an existing file to --config",
            path.display()
        )
    })?;
    parse(&text, &path.display().to_string(), cmd).map_err(anyhow::Error::msg)
}

/// Turns a config file's text into arguments of `cmd`, checking every key
/// and value. The error is one line: `FILE:LINE: what is wrong`.
pub fn parse(text: &str, file: &str, cmd: &Command) -> Result<Vec<Entry>, String> {
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table: BTreeMap<Spanned<String>, Spanned<Value>> = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map_or(String::new(), |s| format!(":{}", line(s.start)));
        format!("{file}{at}: {}", e.message().trim())
    })?;
    // In file order, so the first mistake is the one reported.
    let mut items: Vec<_> = table.iter().collect();
    items.sort_by_key(|(k, _)| k.span().start);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, value) in items {
        let at = line(key.span().start);
        let name = key.get_ref().replace('_', "-");
        let Some(arg) = keys(cmd).find(|(l, _)| *l == name).map(|(_, a)| a) else {
            let hint = match nearest(&name, keys(cmd).map(|(l, _)| l)) {
                Some(k) => format!("; did you mean `{k}`?"),
                None => String::new(),
            };
            return Err(format!(
                "{file}:{at}: unknown key `{}`{hint} (`sockit serve --print-config` lists every key)",
                key.get_ref()
            ));
        };
        if let Some(first) = seen.insert(name.clone(), at) {
            return Err(format!(
                "{file}:{at}: `{name}` is set twice (first on line {first})"
            ));
        }
        let args = values(cmd, arg, value.get_ref(), &name)
            .map_err(|e| format!("{file}:{at}: `{name}`: {e}"))?;
        out.push(Entry {
            id: arg.get_id().to_string(),
            args,
        });
    }
    Ok(out)
}

/// The arguments one key's value stands for.
fn values(cmd: &Command, arg: &Arg, value: &Value, long: &str) -> Result<Vec<OsString>, String> {
    let kind = kind_of(arg);
    match (arg.get_action(), value) {
        (ArgAction::SetTrue | ArgAction::SetFalse, Value::Boolean(on)) => {
            let set = *on == matches!(arg.get_action(), ArgAction::SetTrue);
            Ok(if set {
                vec![format!("--{long}").into()]
            } else {
                vec![]
            })
        }
        (ArgAction::SetTrue | ArgAction::SetFalse, v) => {
            Err(format!("expected true or false, found {}", type_name(v)))
        }
        (ArgAction::Append, Value::Array(items)) => {
            items.iter().map(|v| scalar(cmd, v, long, kind)).collect()
        }
        (ArgAction::Append, v) => Ok(vec![scalar(cmd, v, long, kind)?]),
        (_, Value::Array(_)) => Err(format!(
            "expected {kind}, found an array (the flag takes one value)"
        )),
        (_, v) => Ok(vec![scalar(cmd, v, long, kind)?]),
    }
}

/// One value as `--long=value`, checked by the flag's own parser.
fn scalar(cmd: &Command, v: &Value, long: &str, kind: &str) -> Result<OsString, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        other => return Err(format!("expected {kind}, found {}", type_name(other))),
    };
    let flag = format!("--{long}={text}");
    // The flag's own parser, through clap (it keeps the parser to itself).
    if let Err(e) = cmd.clone().try_get_matches_from([cmd.get_name(), &flag]) {
        let why = std::error::Error::source(&e)
            .map_or_else(|| first_line(&e.to_string()), |s| s.to_string());
        // A negative number for a count says what is allowed, not how
        // Rust's integer parser failed ("invalid digit found in string").
        let why = if text.starts_with('-') && why.contains("invalid digit") {
            "must be 0 or more".to_owned()
        } else {
            why
        };
        return Err(match kind {
            "a string" => format!("invalid value {v}: {why}"),
            _ => format!("expected {kind}, found {v}: {why}"),
        });
    }
    Ok(flag.into())
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    l.strip_prefix("error: ").unwrap_or(l).to_owned()
}

/// What a flag's values look like, for error messages and printing.
pub(crate) fn kind_of(arg: &Arg) -> &'static str {
    use std::any::TypeId;
    let t = arg.get_value_parser().type_id();
    let ints = [
        TypeId::of::<usize>(),
        TypeId::of::<u64>(),
        TypeId::of::<u32>(),
        TypeId::of::<u16>(),
        TypeId::of::<u8>(),
        TypeId::of::<i64>(),
        TypeId::of::<i32>(),
    ];
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        "true or false"
    } else if ints.iter().any(|i| t == *i) {
        "an integer"
    } else if t == TypeId::of::<f64>() || t == TypeId::of::<f32>() {
        "a number"
    } else {
        "a string"
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table (sections are not supported; put keys at the top)",
    }
}

/// The known key closest to `key` by edit distance, if close enough to be
/// a typo (at most a third of the key's length).
fn nearest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (distance(key, k), k))
        .filter(|(d, _)| *d <= key.len().div_ceil(3).max(1))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Whether the user set `id` on the command line (or through its
/// environment variable), which beats the file.
fn set_by_user(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// The arguments `m` holds for `arg`, as `--long=value`.
fn args_of(arg: &Arg, m: &ArgMatches) -> Vec<OsString> {
    let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
        return Vec::new();
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => vec![format!("--{long}").into()],
        ArgAction::Count => {
            let n = m.get_count(id);
            (0..n).map(|_| format!("--{long}").into()).collect()
        }
        _ => m
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| {
                let mut a = OsString::from(format!("--{long}="));
                a.push(v);
                a
            })
            .collect(),
    }
}

/// The argument list of `cmd` from the file's entries and the command
/// line's matches: a flag the user gave replaces the file's value (a
/// repeatable flag's whole list). Starts with the command's name.
pub fn merge(cmd: &Command, file: &[Entry], cli: &ArgMatches) -> Vec<OsString> {
    let mut argv = vec![OsString::from(cmd.get_name())];
    for e in file.iter().filter(|e| !set_by_user(cli, &e.id)) {
        argv.extend(e.args.iter().cloned());
    }
    for arg in cmd.get_arguments() {
        if set_by_user(cli, arg.get_id().as_str()) {
            argv.extend(args_of(arg, cli));
        }
    }
    argv
}

mod print;

pub use print::{settings, to_toml};

#[cfg(test)]
mod tests;
