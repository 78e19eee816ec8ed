//! Fuzzes what the line chat door does with arbitrary bytes from nc or
//! telnet: line splitting with its limit, `/command` parsing, the name and
//! room rules, the hub's message check, and the notices written back.
//!
//! Input layout: byte 0 picks the line limit (small, so the fuzzer reaches
//! it, or the door's `LINE_MAX`), byte 1 seeds the chunk sizes, the rest is
//! the byte stream. Invariants checked on every input:
//! - no panic;
//! - chunking never changes the outcome: fed in random chunks or all at
//!   once, the stream splits into the same units and gets the same replies;
//! - one unit per line end (and one for an unfinished over-long line), and
//!   no line over the limit;
//! - everything written back is exactly one CRLF-terminated line with no
//!   other control character (no ESC, no bare CR or LF): a peer cannot make
//!   the server write terminal escapes or forge lines, to itself or others;
//! - a message line is `<~fuzz> TEXT` with TEXT within the message limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit::door::chat_lines::{Input, LINE_MAX};
use sockit::door::fuzzing::{fuzz_filter, line_door, split_lines};
use sockit::service::chat::DEFAULT_MAX_MESSAGE_BYTES;

/// A limit small enough that the fuzzer reaches it with short inputs.
const SMALL_LINE: usize = 32;

/// The longest notice a line may provoke: a refusal quotes at most a
/// shortened word, so none comes near a full line.
const NOTICE_MAX: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let (max, seed, stream) = match data {
        [a, b, rest @ ..] => (if a & 1 == 0 { SMALL_LINE } else { LINE_MAX }, *b, rest),
        _ => return,
    };
    let whole = split_lines(max, [stream]);
    let sizes = chunk_sizes(seed, stream.len());
    let mut fed = 0;
    let chunked = split_lines(
        max,
        sizes.iter().map(|&n| {
            let c = &stream[fed..fed + n];
            fed += n;
            c
        }),
    );
    assert_eq!(whole, chunked, "chunking changed the lines");
    // A unit per line end, plus at most one for an unfinished line that
    // went over the limit (refused as soon as it does).
    let ends = stream.iter().filter(|&&b| b == b'\n').count();
    assert!(
        whole.len() <= ends + 1,
        "{} units from {ends} line ends",
        whole.len()
    );
    for input in &whole {
        if let Input::Line(l) = input {
            assert!(
                l.len() <= max,
                "a line of {} bytes passed a {max} limit",
                l.len()
            );
            assert!(!l.contains('\n'));
        }
    }
    let filter = fuzz_filter();
    for reply in line_door(&whole, max, &filter) {
        check_reply(&reply);
    }
});

/// One line, CRLF-terminated, with no other control character.
fn check_reply(reply: &[u8]) {
    let text = std::str::from_utf8(reply).expect("a reply is UTF-8");
    let body = text.strip_suffix("\r\n").expect("a reply ends in CRLF");
    if let Some(msg) = body.strip_prefix("<~fuzz> ") {
        assert!(
            msg.len() <= DEFAULT_MAX_MESSAGE_BYTES,
            "message of {} bytes",
            msg.len()
        );
        assert!(
            !msg.is_empty() && msg.trim() == msg,
            "untrimmed message {msg:?}"
        );
    } else {
        assert!(
            body.starts_with("* "),
            "neither message nor notice: {body:?}"
        );
        assert!(body.len() <= NOTICE_MAX, "notice of {} bytes", body.len());
    }
    if let Some(c) = body.chars().find(|&c| dangerous(c)) {
        panic!("control character {c:?} in reply {body:?}");
    }
}

/// Chunk sizes from 1 to 64 bytes covering `len`, from a xorshift seed.
fn chunk_sizes(seed: u8, len: usize) -> Vec<usize> {
    let mut state = u32::from(seed) | 0x100;
    let mut sizes = Vec::new();
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = usize::try_from(state % 64).unwrap_or(0) + 1;
        sizes.push(n.min(left));
        left -= n.min(left);
    }
    sizes
}

/// What must never reach a terminal from a peer: controls (ESC, CR, LF,
/// C1 ...) and the bidi overrides that reorder what is shown.
fn dangerous(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
