//! The client's side of path safety: check that what a server sends back is
//! what was asked for before writing it locally, and print names harmlessly.
//!
//! A server (or a man in the middle) must never choose where a client
//! writes: scp's CVE-2019-6111 let a server overwrite arbitrary files in the
//! target directory, croc's 2023 CVEs let a sender pick `../` paths and
//! terminal escapes. So every name received is validated with the same
//! rules as the server's, then compared with the request.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{PathError, RelPath, check_name, is_bidi_control};

/// Checks a name received for a single-file request: it must be valid and
/// be exactly the path asked for.
pub fn check_received(asked: &RelPath, got: &str) -> Result<RelPath, PathError> {
    let p = RelPath::parse(got)?;
    if &p != asked {
        return Err(unexpected(asked, got));
    }
    Ok(p)
}

/// Checks a name received for a recursive request on `dir`: it must be
/// valid and lie strictly below `dir`.
pub fn check_received_below(dir: &RelPath, got: &str) -> Result<RelPath, PathError> {
    let p = RelPath::parse(got)?;
    if p == *dir || !p.starts_with(dir) {
        return Err(unexpected(dir, got));
    }
    Ok(p)
}

/// Checks one entry of a listing: a single valid name (no `/`), so a client
/// joining it to the listed directory stays inside that directory.
pub fn check_entry_name(name: &str) -> Result<(), PathError> {
    if name.contains('/') {
        return Err(PathError::Unexpected {
            asked: "a single name".into(),
            got: escape_name(name).into_owned(),
        });
    }
    check_name(name)
}

fn unexpected(asked: &RelPath, got: &str) -> PathError {
    PathError::Unexpected {
        asked: asked.to_string(),
        got: escape_name(got).into_owned(),
    }
}

/// Makes a name safe to print on a terminal: control characters, bidi
/// overrides and backslashes become visible escapes (`\n`, `\x1b`,
/// `\u{202e}`, `\\`), so a hostile name can neither move the cursor, recolour
/// the screen nor disguise itself. Borrowed when nothing needs escaping.
pub fn escape_name(name: &str) -> Cow<'_, str> {
    if !name.chars().any(needs_escape) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for ch in name.chars() {
        push_escaped(&mut out, ch);
    }
    Cow::Owned(out)
}

/// Like [`escape_name`] for raw bytes (a name read from disk): bytes that
/// are not UTF-8 print as `\xNN`.
pub fn escape_bytes(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for ch in chunk.valid().chars() {
            push_escaped(&mut out, ch);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn needs_escape(ch: char) -> bool {
    ch == '\\' || ch.is_control() || is_bidi_control(ch)
}

fn push_escaped(out: &mut String, ch: char) {
    match ch {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}
