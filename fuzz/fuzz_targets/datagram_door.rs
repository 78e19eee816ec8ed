//! Fuzzes what the datagram chat door does with one arbitrary datagram
//! (JSON `{"name","msg","room"}` parsing, the name and room rules, the
//! hub's message check, the error reply), and the UDP echo and upper rules.
//!
//! Invariants checked on every input:
//! - no panic;
//! - whatever goes back is one JSON object, no bigger than a bound: an
//!   error reply `{"error","code"}` with a short error free of control
//!   characters (the door cannot be used to amplify or to reflect escapes),
//!   or a message `{"name","msg","room",..}` whose text is sanitised, within
//!   the message limit, in a valid room;
//! - echo sends back the datagram unchanged; upper keeps the length of
//!   ASCII and of non-UTF-8 input, sends valid UTF-8 for valid UTF-8, and
//!   never sends more bytes than it got (no amplification).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit::door::fuzzing::{datagram_door, echo_upper_datagram, fuzz_filter};
use sockit::service::chat::{DEFAULT_MAX_MESSAGE_BYTES, room_name};

/// Largest error reply: 200 characters of error text, each at most
/// six bytes once JSON-escaped, plus the code and the punctuation.
const ERROR_REPLY_MAX: usize = 200 * 6 + 128;

fuzz_target!(|data: &[u8]| {
    let filter = fuzz_filter();
    if let Some(reply) = datagram_door(data, &filter) {
        check_reply(&reply);
    }
    let (echo, upper) = echo_upper_datagram(data);
    assert_eq!(echo.as_deref(), Some(data), "echo changed the datagram");
    let upper = upper.expect("upper answers every datagram");
    assert!(upper.len() <= data.len(), "upper answered more than it got");
    match std::str::from_utf8(data) {
        Ok(s) if !s.is_ascii() => {
            assert!(std::str::from_utf8(&upper).is_ok(), "upper broke UTF-8");
        }
        _ => {
            assert_eq!(upper.len(), data.len(), "upper changed the length");
            assert!(upper.eq_ignore_ascii_case(data));
        }
    }
});

fn check_reply(reply: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(reply).expect("a reply is JSON");
    let obj = v.as_object().expect("a reply is a JSON object");
    if let Some(error) = obj.get("error") {
        assert!(
            reply.len() <= ERROR_REPLY_MAX,
            "error reply of {} bytes",
            reply.len()
        );
        let error = error.as_str().expect("error is a string");
        assert!(
            obj.get("code").and_then(|c| c.as_str()).is_some(),
            "no code"
        );
        assert!(!error.chars().any(dangerous), "control in {error:?}");
        return;
    }
    let msg = obj
        .get("msg")
        .and_then(|m| m.as_str())
        .expect("a message has msg");
    assert!(!msg.is_empty() && msg.len() <= DEFAULT_MAX_MESSAGE_BYTES);
    assert!(!msg.chars().any(dangerous), "control in {msg:?}");
    let room = obj
        .get("room")
        .and_then(|r| r.as_str())
        .expect("a message has a room");
    assert_eq!(
        room_name(room).ok().as_deref(),
        Some(room),
        "room not normal"
    );
}

/// What must never reach a terminal from a peer: controls (ESC, CR, LF,
/// C1 ...) and the bidi overrides that reorder what is shown.
fn dangerous(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
