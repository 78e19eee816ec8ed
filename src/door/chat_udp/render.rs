//! The datagram door's rendering of chat events: one JSON object per
//! datagram (the shapes are listed in the door's module documentation).

use std::sync::LazyLock;

use bytes::Bytes;
use serde::Serialize;

use crate::service::chat::{Message, Presence, RenderSlot, Renderer};
use crate::wire::MessageKind;

/// The datagram door's renderer; its slot is claimed on first use.
pub static DATAGRAMS: LazyLock<Datagrams> = LazyLock::new(|| Datagrams {
    slot: RenderSlot::claim("datagram"),
});

/// Renders events as the JSON datagrams members receive.
#[derive(Debug)]
pub struct Datagrams {
    slot: RenderSlot,
}

/// A message: `{"name","msg","room","id","ts","guest"}`; an edit or
/// delete entry adds `"kind"` (`edit`, `delete`) and `"target"` (the id it
/// changes), and `msg` reads as the line door's notice ("edited #12: ...").
#[derive(Serialize)]
struct MessageJson<'a> {
    name: &'a str,
    msg: &'a str,
    room: &'a str,
    id: u64,
    ts: u64,
    guest: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<MessageKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<u64>,
}

/// A presence change; `from` only for a rename; a `summary` (joins and
/// leaves folded into one line) has `joined`, `left` and the counts past
/// them instead of `name` and `door`.
#[derive(Serialize)]
struct PresenceJson<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    room: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    door: &'a str,
    guest: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    joined: Vec<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    others_joined: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left: Vec<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    others_left: usize,
    notice: &'a str,
}

/// True for zero, which a count leaves out.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Renderer for Datagrams {
    fn slot(&self) -> RenderSlot {
        self.slot
    }

    /// `ts` is in Unix milliseconds.
    fn message(&self, m: &Message) -> Bytes {
        let j = MessageJson {
            name: &m.name,
            msg: &m.display_text(),
            room: &m.room,
            id: m.id,
            ts: m.ts,
            guest: m.guest,
            kind: m.revision.wire_kind(),
            target: m.revision.target(),
        };
        // Serialising strings and integers cannot fail.
        Bytes::from(serde_json::to_vec(&j).unwrap_or_default())
    }

    fn presence(&self, p: &Presence) -> Bytes {
        let summary = p.summary_of();
        let j = PresenceJson {
            event: p.event_name(),
            name: &p.name,
            room: &p.room,
            door: if summary.is_some() {
                ""
            } else {
                p.door.as_str()
            },
            guest: p.guest,
            from: p.renamed_from(),
            joined: summary.map_or(Vec::new(), |s| s.joined.iter().map(|n| &**n).collect()),
            others_joined: summary.map_or(0, |s| s.joined_more),
            left: summary.map_or(Vec::new(), |s| s.left.iter().map(|n| &**n).collect()),
            others_left: summary.map_or(0, |s| s.left_more),
            notice: &p.notice(),
        };
        Bytes::from(serde_json::to_vec(&j).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::chat::{Change, DoorKind, Summary};

    #[test]
    fn message_json_keeps_the_text_as_stored() {
        let text = format!("hi \"x\"{}end", " ".repeat(40));
        let m = Message::new(
            "lobby".into(),
            7,
            1_700_000_000_000,
            "~bob".into(),
            true,
            text.clone(),
            None,
        );
        let v: serde_json::Value = serde_json::from_slice(&m.render(&*DATAGRAMS)).unwrap();
        assert_eq!(v["name"], "~bob");
        assert_eq!(v["msg"], text.as_str());
        assert_eq!(
            (v["room"].as_str(), v["id"].as_u64(), v["ts"].as_u64()),
            (Some("lobby"), Some(7), Some(1_700_000_000_000))
        );
        assert_eq!(v["guest"], true);
    }

    #[test]
    fn presence_json() {
        let p = Presence::new(
            "dev".into(),
            "alice".into(),
            false,
            DoorKind::Line,
            Change::Renamed(Arc::from("~al")),
        );
        let v: serde_json::Value = serde_json::from_slice(&p.render(&*DATAGRAMS)).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["from"].as_str(), v["door"].as_str()),
            (Some("rename"), Some("~al"), Some("line"))
        );
        assert_eq!(v["notice"], "~al is now known as alice");
        let p = Presence::new(
            "dev".into(),
            "al".into(),
            true,
            DoorKind::Web,
            Change::Joined,
        );
        let v: serde_json::Value = serde_json::from_slice(&p.render(&*DATAGRAMS)).unwrap();
        assert_eq!(v["event"], "join");
        assert!(v.get("from").is_none());
        let s = Summary {
            joined: vec![Arc::from("ann"), Arc::from("~bob")],
            left_more: 2,
            ..Summary::default()
        };
        let p = Presence::summary("dev".into(), s);
        let v: serde_json::Value = serde_json::from_slice(&p.render(&*DATAGRAMS)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "summary", "room": "dev", "guest": false,
                "joined": ["ann", "~bob"], "others_left": 2,
                "notice": "ann and ~bob joined dev; 2 others left"})
        );
    }
}
