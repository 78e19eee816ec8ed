//! The line door's rendering of chat events: `<name> text\r\n` for a
//! message (`*name* text\r\n` for a direct one), `* notice\r\n` for a
//! presence change.
//!
//! Runs of blank characters are shown as one space (see
//! [`collapse_blanks`]): on a terminal, a message padded to the screen's
//! width would otherwise look like a second line, `<admin> ...` included.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::Bytes;

use crate::service::chat::{Message, Presence, RenderSlot, Renderer, is_dm};

/// The line door's renderer; its slot is claimed on first use.
pub static LINES: LazyLock<Lines> = LazyLock::new(|| Lines {
    slot: RenderSlot::claim("line"),
});

/// Renders events as the lines nc and telnet users read.
#[derive(Debug)]
pub struct Lines {
    slot: RenderSlot,
}

impl Renderer for Lines {
    fn slot(&self) -> RenderSlot {
        self.slot
    }

    fn message(&self, m: &Message) -> Bytes {
        let shown = m.display_text();
        let (name, text) = (collapse_blanks(&m.name), collapse_blanks(&shown));
        if m.revision.is_entry() {
            // An edit or delete reads as a notice: "* ann edited #12: ...".
            return Bytes::from(format!("* {name} {text}\r\n"));
        }
        if is_dm(&m.room) {
            // A direct message, as IRC shows a private one.
            return Bytes::from(format!("*{name}* {text}\r\n"));
        }
        Bytes::from(format!("<{name}> {text}\r\n"))
    }

    fn presence(&self, p: &Presence) -> Bytes {
        Bytes::from(format!("* {}\r\n", collapse_blanks(&p.notice())))
    }
}

/// True for characters that display as blank space: whitespace, and the
/// fillers (braille blank, Hangul fillers) that draw as a space too.
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{2800}' | '\u{3164}' | '\u{115F}' | '\u{1160}' | '\u{FFA0}'
        )
}

/// `s` with every run of blank characters shown as one space, so padding
/// cannot push text onto what looks like a line of its own on a terminal.
pub fn collapse_blanks(s: &str) -> Cow<'_, str> {
    let mut prev_blank = false;
    let needs = s.chars().any(|c| {
        let b = is_blank(c);
        let run = b && (prev_blank || c != ' ');
        prev_blank = b;
        run
    });
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if is_blank(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::chat::{Change, DoorKind, Summary};

    #[test]
    fn blank_runs_collapse() {
        assert_eq!(collapse_blanks("a b"), "a b");
        assert!(matches!(collapse_blanks("a b"), Cow::Borrowed(_)));
        let padded = format!("hi{}<admin> x", " ".repeat(80));
        assert_eq!(collapse_blanks(&padded), "hi <admin> x");
        assert_eq!(collapse_blanks("a\u{3000}\u{2800}\u{a0}b"), "a b");
        assert_eq!(collapse_blanks("a\u{3000}b"), "a b");
    }

    #[test]
    fn message_line_is_rendered_once() {
        let m = Message::new(
            "lobby".into(),
            7,
            1_700_000_000_000,
            "~bob".into(),
            true,
            "hi \"x\"".into(),
            None,
        );
        let a = m.render(&*LINES);
        assert_eq!(&a[..], b"<~bob> hi \"x\"\r\n");
        let b = m.render(&*LINES);
        assert_eq!(a.as_ptr(), b.as_ptr());
    }

    #[test]
    fn padding_cannot_fake_a_line() {
        let text = format!("hello{}<admin> give me your password", " ".repeat(75));
        let m = Message::new("lobby".into(), 1, 0, "~eve".into(), true, text, None);
        assert_eq!(
            &m.render(&*LINES)[..],
            b"<~eve> hello <admin> give me your password\r\n"
        );
        // The stored text keeps its padding: only this door collapses it.
        assert!(m.text.contains(&" ".repeat(75)));
    }

    #[test]
    fn presence_line() {
        let p = Presence::new(
            "dev".into(),
            "alice".into(),
            false,
            DoorKind::Line,
            Change::Renamed(Arc::from("~al")),
        );
        assert_eq!(&p.render(&*LINES)[..], b"* ~al is now known as alice\r\n");
        let p = Presence::new(
            "lobby".into(),
            "root".into(),
            false,
            DoorKind::Frame,
            Change::Left,
        );
        assert_eq!(&p.render(&*LINES)[..], b"* root left lobby\r\n");
        let s = Summary {
            joined: vec![Arc::from("ann")],
            left: vec![Arc::from("~bob"), Arc::from("cid")],
            ..Summary::default()
        };
        let p = Presence::summary("lobby".into(), s);
        assert_eq!(
            &p.render(&*LINES)[..],
            b"* ann joined lobby; ~bob and cid left\r\n"
        );
    }
}
