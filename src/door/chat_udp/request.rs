//! The datagram chat door's input format, checked before anything else
//! happens: pure, no I/O.
//!
//! A datagram is one JSON object:
//! ```json
//! {"name": "bob", "msg": "hello", "room": "lobby"}
//! ```
//! `name` is required (except in a leave); `room` is optional (default
//! `lobby`); `msg` is optional: without it the datagram asks to join the
//! room or renews the lease. `cookie` carries the return-routability
//! cookie (see [`cookie`](super::cookie)); `{"leave": true}` ends the
//! membership at once. A `to` (a direct message) is refused: this door's
//! members are guests, and direct messages are between accounts. Other fields are ignored, so clients written for
//! the classic exercise (which may add a `time` or `type`) work unchanged.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Largest datagram accepted, in bytes: the hub's 4 KiB message limit
/// with room for JSON escaping (`\uXXXX` makes one byte six), a name and a
/// room. Larger ones are refused with an error before parsing.
pub const DATAGRAM_MAX: usize = 16 * 1024;

/// Longest error text sent back: a parser error can quote the input, and a
/// reply should never be much larger than a typical request.
const ERROR_TEXT_MAX: usize = 200;

/// One datagram, understood.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(expecting = "a JSON object {\"name\": .., \"msg\": .., \"room\": ..}")]
pub struct Request {
    /// The sender's guest name (shown `~name`); empty only in a leave.
    #[serde(default)]
    pub name: String,
    /// The message, if any.
    #[serde(default)]
    pub msg: Option<String>,
    /// The room, if not the lobby.
    #[serde(default)]
    pub room: Option<String>,
    /// The cookie the server sent this address, echoed.
    #[serde(default)]
    pub cookie: Option<String>,
    /// True to leave: the member leaves every room and frees its name.
    #[serde(default)]
    pub leave: bool,
    /// A direct message's recipient: refused, since this door's members
    /// are guests, and direct messages are between accounts.
    #[serde(default)]
    pub to: Option<serde_json::Value>,
}

/// Why a datagram was refused: the text and code of the error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable code: `too_large`, `bad_json` or `bad_request`.
    pub code: &'static str,
    /// One line naming the cause and the fix.
    pub error: String,
}

/// Checks and parses one datagram.
pub fn parse(datagram: &[u8]) -> Result<Request, Refusal> {
    if datagram.len() > DATAGRAM_MAX {
        return Err(Refusal {
            code: "too_large",
            error: format!(
                "datagram of {} bytes is over the {DATAGRAM_MAX}-byte limit; send a shorter message",
                datagram.len()
            ),
        });
    }
    // Through a `Value` first: serde would also read a struct from an
    // array (`["bob", "hi"]`), and only an object is the documented shape.
    let value: serde_json::Value = serde_json::from_slice(datagram).map_err(bad)?;
    if !value.is_object() {
        return Err(Refusal {
            code: "bad_request",
            error: format!(
                "expected a JSON object, got {}; send {{\"name\": NAME, \"msg\": TEXT, \"room\": ROOM}}",
                kind(&value)
            ),
        });
    }
    let req = Request::deserialize(value).map_err(bad)?;
    if req.to.is_some() {
        return Err(Refusal {
            code: "unauthenticated",
            error: "direct messages need an account; use sockit chat or the web page".to_owned(),
        });
    }
    if req.name.is_empty() && !req.leave {
        return Err(Refusal {
            code: "bad_request",
            error: "missing field `name`; send {\"name\": NAME, \"msg\": TEXT, \"room\": ROOM}"
                .to_owned(),
        });
    }
    Ok(req)
}

/// What a JSON value is, for an error message.
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The refusal for a parse error: bad JSON, or JSON of the wrong shape.
fn bad(e: serde_json::Error) -> Refusal {
    let (code, hint) = match e.classify() {
        serde_json::error::Category::Data => (
            "bad_request",
            "send {\"name\": NAME, \"msg\": TEXT, \"room\": ROOM}",
        ),
        _ => (
            "bad_json",
            "send one UTF-8 JSON object {\"name\": NAME, \"msg\": TEXT}",
        ),
    };
    Refusal {
        code,
        error: format!("{}; {hint}", shorten(&e.to_string())),
    }
}

/// The error reply: `{"error": TEXT, "code": CODE}`.
pub fn error_reply(code: &str, error: &str) -> Bytes {
    #[derive(Serialize)]
    struct Reply<'a> {
        error: &'a str,
        code: &'a str,
    }
    let clean = crate::service::chat::sanitize(error);
    let body = serde_json::to_vec(&Reply {
        error: &shorten(&clean),
        code,
    });
    Bytes::from(body.unwrap_or_default())
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(ERROR_TEXT_MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_shape_and_its_options() {
        let r = parse(br#"{"name":"bob","msg":"hi","time":1}"#).unwrap();
        assert_eq!(
            (r.name.as_str(), r.msg.as_deref(), r.room),
            ("bob", Some("hi"), None)
        );
        let r = parse(br#"{"name":"bob","room":"dev"}"#).unwrap();
        assert_eq!((r.msg, r.room.as_deref()), (None, Some("dev")));
        let r = parse(br#"{"name":"bob","cookie":"00ff"}"#).unwrap();
        assert_eq!((r.cookie.as_deref(), r.leave), (Some("00ff"), false));
        let r = parse(br#"{"leave":true}"#).unwrap();
        assert!(r.leave && r.name.is_empty());
    }

    #[test]
    fn garbage_is_refused_with_a_code() {
        let code = |d: &[u8]| parse(d).unwrap_err().code;
        assert_eq!(code(b"hello"), "bad_json");
        assert_eq!(code(b"\xff\xfe{"), "bad_json");
        assert_eq!(code(b""), "bad_json");
        assert_eq!(code(br#"{"msg":"no name"}"#), "bad_request");
        assert_eq!(code(br#"{"name":"","msg":"x"}"#), "bad_request");
        assert_eq!(code(br#"{"name":5,"msg":"x"}"#), "bad_request");
        assert_eq!(code(b"[1,2]"), "bad_request");
        assert_eq!(code(&vec![b' '; DATAGRAM_MAX + 1]), "too_large");
        // A quoted huge string does not come back whole.
        let big = format!("\"{}\"", "x".repeat(10_000));
        let e = parse(big.as_bytes()).unwrap_err();
        assert!(e.error.len() < 400, "{}", e.error);
    }

    #[test]
    fn error_replies_are_json_and_escape_free() {
        let r = error_reply("bad_json", "oops \x1b[31mred");
        let v: serde_json::Value = serde_json::from_slice(&r).unwrap();
        assert_eq!(v["code"], "bad_json");
        assert_eq!(v["error"], "oops red");
    }
}
