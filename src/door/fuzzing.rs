//! What the chat doors do with a peer's bytes, minus the sockets and the
//! hub: pure entry points for the fuzz targets in `fuzz/` (not an API).
//!
//! Each function runs input through the same functions the door runs it
//! through (the line splitter, the command parser, the datagram parser, the
//! name and room rules, the hub's message check and the renderers) and
//! returns every byte string the door would write back, so a fuzz target
//! can check what a hostile peer could make the server say.

use std::sync::Arc;

use bytes::Bytes;

use super::chat_lines::{self, Command, Input, LineSplitter};
use super::chat_udp;
use super::echo::{echo_datagram, upper_datagram};
use crate::service::chat::{
    ChatError, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_ROOM, FilterRule, Message, WordFilter,
    guest_name, message_text, room_name,
};

/// The filter rules the fuzzed doors run with: one replacement, one block,
/// so both paths of the filter see fuzzed text.
pub const FILTER_RULES: &[&str] = &["darn=****", "spam=!block"];

/// The sender name that fuzzed messages are rendered under.
const FUZZ_NAME: &str = "~fuzz";

/// The compiled [`FILTER_RULES`].
#[doc(hidden)]
pub fn fuzz_filter() -> WordFilter {
    let rules: Vec<FilterRule> = FILTER_RULES
        .iter()
        .filter_map(|r| FilterRule::parse(r).ok())
        .collect();
    WordFilter::new(&rules)
}

/// The line door's units of input for `chunks` read in turn from one
/// connection, with lines of at most `max_line` bytes.
#[doc(hidden)]
pub fn split_lines<'a>(max_line: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Input> {
    let mut splitter = LineSplitter::new(max_line.min(chat_lines::LINE_MAX));
    let mut out = Vec::new();
    for chunk in chunks {
        splitter.feed(chunk, &mut out);
    }
    out
}

/// Everything the line door writes back for `inputs`, the first one
/// answering the name prompt and the others typed by a member in the
/// lobby: notices for refusals and mistakes, and each accepted message as
/// the room sees it. Commands that only read hub state write nothing here.
#[doc(hidden)]
pub fn line_door(inputs: &[Input], max_line: usize, filter: &WordFilter) -> Vec<Bytes> {
    let mut out = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let Input::Line(line) = input else {
            out.push(notice(&chat_lines::refusal(input, max_line)));
            continue;
        };
        let result = match chat_lines::parse(line) {
            Err(why) => Err(why),
            // At the prompt, a plain line is the member's name.
            Ok(Command::Say(name)) if i == 0 => guest_name(name.trim())
                .map(|_| None)
                .map_err(|e| e.to_string()),
            Ok(cmd) => line_command(&cmd, filter).map_err(|e| e.to_string()),
        };
        match result {
            Ok(Some(bytes)) => out.push(bytes),
            Ok(None) => {}
            Err(why) => out.push(notice(&why)),
        }
    }
    out
}

/// The checks the hub makes on one command, and the line a message
/// becomes for the room.
fn line_command(cmd: &Command<'_>, filter: &WordFilter) -> Result<Option<Bytes>, ChatError> {
    match *cmd {
        Command::Say(text) => {
            let text = message_text(text, DEFAULT_MAX_MESSAGE_BYTES, filter)?;
            Ok(Some(
                rendered(DEFAULT_ROOM, text).render(&*chat_lines::LINES),
            ))
        }
        Command::Join(room) => room_name(room).map(|_| None),
        Command::Nick(name) => guest_name(name).map(|_| None),
        Command::Query(to) | Command::Msg { to, .. } => {
            crate::service::chat::conversation("fuzz", false, &format!("@{to}")).map(|_| None)
        }
        _ => Ok(None),
    }
}

/// Everything the datagram chat door sends back for one datagram: an error
/// reply, or the message as the other members of its room receive it.
/// (Nothing at all for a valid datagram without `msg`.)
#[doc(hidden)]
pub fn datagram_door(datagram: &[u8], filter: &WordFilter) -> Option<Bytes> {
    let req = match chat_udp::parse(datagram) {
        Ok(req) => req,
        Err(r) => return Some(chat_udp::error_reply(r.code, &r.error)),
    };
    let checked = guest_name(&req.name)
        .and_then(|_| room_name(req.room.as_deref().unwrap_or(DEFAULT_ROOM)))
        .and_then(|room| match req.msg {
            Some(msg) => message_text(&msg, DEFAULT_MAX_MESSAGE_BYTES, filter)
                .map(|text| Some(rendered(&room, text).render(&*chat_udp::DATAGRAMS))),
            None => Ok(None),
        });
    match checked {
        Ok(sent) => sent,
        // As the member task answers a refusal.
        Err(e) => Some(chat_udp::error_reply(e.code().as_str(), &e.to_string())),
    }
}

/// What the UDP echo and upper services send back for one datagram, in
/// that order (`None` where the service would not answer).
#[doc(hidden)]
pub fn echo_upper_datagram(datagram: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut echo = Vec::new();
    let mut upper = Vec::new();
    (
        echo_datagram(datagram, &mut echo).then_some(echo),
        upper_datagram(datagram, &mut upper).then_some(upper),
    )
}

/// A committed message as the hub would fan it out.
fn rendered(room: &str, text: String) -> Message {
    Message::new(
        Arc::from(room),
        1,
        0,
        Arc::from(FUZZ_NAME),
        true,
        text,
        None,
    )
}

fn notice(text: &str) -> Bytes {
    Bytes::from(chat_lines::notice(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_door_answers_every_mistake_with_one_notice_line() {
        let inputs = split_lines(64, [&b"bob\n/frob\x1b[2J\n/join a b\ndarn it\n"[..]]);
        let out = line_door(&inputs, 64, &fuzz_filter());
        let text: Vec<&[u8]> = out.iter().map(|b| &b[..]).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with(b"* unknown command /frob;"), "{text:?}");
        assert!(text[1].starts_with(b"* usage: /join ROOM"));
        assert_eq!(text[2], b"<~fuzz> **** it\r\n");
    }

    #[test]
    fn the_datagram_door_answers_garbage_and_renders_messages() {
        let filter = fuzz_filter();
        let reply = datagram_door(b"\xff{", &filter).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(v["code"], "bad_json");
        let reply = datagram_door(br#"{"name":"bob","msg":"spam!"}"#, &filter).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(v["code"], "blocked");
        let sent = datagram_door(
            br##"{"name":"bob","msg":"hi\u001b[31m","room":"#Dev"}"##,
            &filter,
        );
        let v: serde_json::Value = serde_json::from_slice(&sent.unwrap()).unwrap();
        assert_eq!(
            (v["msg"].as_str(), v["room"].as_str()),
            (Some("hi"), Some("dev"))
        );
        assert_eq!(datagram_door(br#"{"name":"bob"}"#, &filter), None);
        let (echo, upper) = echo_upper_datagram(b"abc");
        assert_eq!(
            (echo.as_deref(), upper.as_deref()),
            (Some(&b"abc"[..]), Some(&b"ABC"[..]))
        );
    }
}
