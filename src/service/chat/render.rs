//! Render caches: each event is encoded at most once per door format.
//!
//! A room of 1,000 members gets one `Arc<Message>`; the first line-door
//! member to write it fills the line slot, and the other 999 copy the same
//! `Bytes` (a reference count, not a copy). The hub renders the line and
//! datagram forms itself, since their formats are fixed by the issue; the
//! frame and web doors pass their own encoder to [`Message::render`].

use std::sync::OnceLock;

use bytes::Bytes;
use serde::Serialize;

use super::event::{Change, Message, Presence};
use super::fold::collapse_blanks;

/// The encodings an event may be cached in, one slot each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The frame protocol's push frame, encoded by the framed door.
    Frame,
    /// The line door's `<name> text\r\n` or `* notice\r\n`.
    Line,
    /// The datagram door's JSON object.
    Datagram,
    /// The web door's WebSocket payload.
    Web,
}

/// One lazily filled slot per [`Format`].
#[derive(Debug, Default)]
pub(super) struct RenderCache {
    slots: [OnceLock<Bytes>; 4],
}

impl RenderCache {
    fn get_or(&self, format: Format, render: impl FnOnce() -> Bytes) -> Bytes {
        let slot = match format {
            Format::Frame => &self.slots[0],
            Format::Line => &self.slots[1],
            Format::Datagram => &self.slots[2],
            Format::Web => &self.slots[3],
        };
        slot.get_or_init(render).clone()
    }
}

/// The datagram JSON of a message: `{"name","msg","room","id","ts","guest"}`.
#[derive(Serialize)]
struct MessageJson<'a> {
    name: &'a str,
    msg: &'a str,
    room: &'a str,
    id: u64,
    ts: u64,
    guest: bool,
}

/// The datagram JSON of a presence change.
#[derive(Serialize)]
struct PresenceJson<'a> {
    event: &'a str,
    name: &'a str,
    room: &'a str,
    door: &'a str,
    guest: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    notice: &'a str,
}

impl Message {
    /// The message in `format`, encoded by `render` the first time only.
    pub fn render(&self, format: Format, render: impl FnOnce(&Message) -> Bytes) -> Bytes {
        self.cache.get_or(format, || render(self))
    }

    /// The line door's form: `<name> text\r\n`, with runs of blanks shown
    /// as one space (see `collapse_blanks`): on a terminal, a message
    /// padded to the screen's width would otherwise look like a second
    /// line, `<admin> ...` included.
    pub fn line(&self) -> Bytes {
        self.render(Format::Line, |m| {
            let (name, text) = (collapse_blanks(&m.name), collapse_blanks(&m.text));
            Bytes::from(format!("<{name}> {text}\r\n"))
        })
    }

    /// The datagram door's form: one JSON object with `name`, `msg`, `room`,
    /// `id`, `ts` (unix millis) and `guest`.
    pub fn json(&self) -> Bytes {
        self.render(Format::Datagram, |m| {
            let j = MessageJson {
                name: &m.name,
                msg: &m.text,
                room: &m.room,
                id: m.id,
                ts: m.ts,
                guest: m.guest,
            };
            Bytes::from(serde_json::to_vec(&j).unwrap_or_default())
        })
    }
}

impl Presence {
    /// The presence event in `format`, encoded by `render` the first time.
    pub fn render(&self, format: Format, render: impl FnOnce(&Presence) -> Bytes) -> Bytes {
        self.cache.get_or(format, || render(self))
    }

    /// The human sentence, without the `* ` or line end: "alice joined lobby".
    pub fn notice(&self) -> String {
        match &self.change {
            Change::Joined => format!("{} joined {}", self.name, self.room),
            Change::Left => format!("{} left {}", self.name, self.room),
            Change::CutOff => format!("{} was cut off from {} (too slow)", self.name, self.room),
            Change::Renamed(from) => format!("{from} is now known as {}", self.name),
        }
    }

    /// Its name on the wire: `join`, `leave`, `cutoff` or `rename`.
    pub fn event_name(&self) -> &'static str {
        match self.change {
            Change::Joined => "join",
            Change::Left => "leave",
            Change::CutOff => "cutoff",
            Change::Renamed(_) => "rename",
        }
    }

    /// The line door's form: `* alice joined lobby\r\n` (blank runs in
    /// names shown as one space, as in messages).
    pub fn line(&self) -> Bytes {
        self.render(Format::Line, |p| {
            Bytes::from(format!("* {}\r\n", collapse_blanks(&p.notice())))
        })
    }

    /// The datagram door's form: a JSON object with `event`, `name`, `room`,
    /// `door`, `guest`, `notice` and, for a rename, `from`.
    pub fn json(&self) -> Bytes {
        self.render(Format::Datagram, |p| {
            let from = match &p.change {
                Change::Renamed(from) => Some(&**from),
                _ => None,
            };
            let j = PresenceJson {
                event: p.event_name(),
                name: &p.name,
                room: &p.room,
                door: p.door.as_str(),
                guest: p.guest,
                from,
                notice: &p.notice(),
            };
            Bytes::from(serde_json::to_vec(&j).unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::event::DoorKind;
    use super::*;

    #[test]
    fn message_forms_are_rendered_once() {
        let m = Message::new(
            "lobby".into(),
            7,
            1_700_000_000_000,
            "~bob".into(),
            true,
            "hi \"x\"".into(),
            None,
        );
        assert_eq!(&m.line()[..], b"<~bob> hi \"x\"\r\n");
        let v: serde_json::Value = serde_json::from_slice(&m.json()).unwrap();
        assert_eq!(v["name"], "~bob");
        assert_eq!(v["msg"], "hi \"x\"");
        assert_eq!(
            (v["room"].as_str(), v["id"].as_u64(), v["ts"].as_u64()),
            (Some("lobby"), Some(7), Some(1_700_000_000_000))
        );
        let a = m.render(Format::Frame, |_| Bytes::from_static(b"frame"));
        let b = m.render(Format::Frame, |_| panic!("rendered twice"));
        assert_eq!(a, b);
        assert_eq!(a.as_ptr(), b.as_ptr());
    }

    #[test]
    fn padding_cannot_fake_a_line() {
        let text = format!("hello{}<admin> give me your password", " ".repeat(75));
        let m = Message::new("lobby".into(), 1, 0, "~eve".into(), true, text, None);
        assert_eq!(
            &m.line()[..],
            b"<~eve> hello <admin> give me your password\r\n"
        );
        // Other doors get the text as stored.
        let v: serde_json::Value = serde_json::from_slice(&m.json()).unwrap();
        assert!(v["msg"].as_str().unwrap().contains(&" ".repeat(75)));
    }

    #[test]
    fn presence_forms() {
        let p = Presence::new(
            "dev".into(),
            "alice".into(),
            false,
            DoorKind::Line,
            Change::Renamed(Arc::from("~al")),
        );
        assert_eq!(&p.line()[..], b"* ~al is now known as alice\r\n");
        let v: serde_json::Value = serde_json::from_slice(&p.json()).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["from"].as_str()),
            (Some("rename"), Some("~al"))
        );
    }
}
