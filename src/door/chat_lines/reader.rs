//! Splitting a byte stream from nc or telnet into chat lines, with a hard
//! cap on what is buffered: pure, no I/O, fed any number of bytes at a time.
//!
//! Lines end in LF, with an optional CR before it (telnet sends CRLF, nc
//! LF). A line longer than the limit is reported once as
//! [`Input::TooLong`] as soon as the limit is passed, and the rest of it,
//! up to its newline, is discarded as it arrives: a peer sending one
//! endless line costs at most the limit. A line that is not UTF-8 is
//! refused whole ([`Input::BadUtf8`]) rather than converted lossily: a
//! message full of U+FFFD would reach everyone in the room, while a refusal
//! tells the one sender to fix their terminal's encoding.

/// One complete unit of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A line of valid UTF-8, without its line end.
    Line(String),
    /// A line went past the limit; it has been (or is being) discarded.
    TooLong,
    /// A line was not valid UTF-8; it was discarded.
    BadUtf8,
}

/// Accumulates bytes into lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
    /// True while the rest of an over-long line is being skipped.
    discarding: bool,
}

impl LineSplitter {
    /// A splitter refusing lines longer than `max` bytes (without line end).
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max,
            discarding: false,
        }
    }

    /// The limit, for notices.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Feeds bytes; appends each finished unit to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Input>) {
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let (part, rest) = match newline {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &data[data.len()..]),
            };
            data = rest;
            if self.discarding {
                // Still inside the refused line: its end resumes normal input.
                self.discarding = newline.is_none();
                continue;
            }
            // One byte of slack for the CR that may precede the LF.
            if self.buf.len() + part.len() > self.max + 1 {
                self.reset();
                out.push(Input::TooLong);
                self.discarding = newline.is_none();
                continue;
            }
            self.buf.extend_from_slice(part);
            if newline.is_some() {
                out.push(self.finish_line());
            }
        }
    }

    fn finish_line(&mut self) -> Input {
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let input = if self.buf.len() > self.max {
            Input::TooLong
        } else {
            match std::str::from_utf8(&self.buf) {
                Ok(s) => Input::Line(s.to_owned()),
                Err(_) => Input::BadUtf8,
            }
        };
        self.reset();
        input
    }

    /// Empties the buffer, and gives its memory back after a long line so
    /// that an idle member holds no more than a short line's worth.
    fn reset(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }
}

/// Buffer capacity kept between lines: typical typed lines fit, and a
/// burst of long pasted lines does not stay allocated afterwards.
const KEEP_CAPACITY: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Input> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        out
    }

    fn line(s: &str) -> Input {
        Input::Line(s.to_owned())
    }

    #[test]
    fn crlf_and_lf_lines_byte_at_a_time() {
        let input = b"hello\r\nworld\n\nla\rst";
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            split(10, &bytes),
            vec![line("hello"), line("world"), line("")]
        );
        // The unfinished "la\rst" waits for its newline.
        assert_eq!(split(10, &[input, b"\n"]).last(), Some(&line("la\rst")));
    }

    #[test]
    fn over_long_lines_are_refused_once_and_skipped_to_their_end() {
        let long = vec![b'x'; 100];
        let out = split(10, &[&long, &long, b"\nnext\n"]);
        assert_eq!(out, vec![Input::TooLong, line("next")]);
        // Exactly at the limit is fine, with or without CR.
        let out = split(4, &[b"abcd\r\nabcd\nabcde\n"]);
        assert_eq!(out, vec![line("abcd"), line("abcd"), Input::TooLong]);
    }

    #[test]
    fn bad_utf8_is_refused_and_the_next_line_goes_through() {
        let out = split(10, &[b"caf\xe9\nok\n"]);
        assert_eq!(out, vec![Input::BadUtf8, line("ok")]);
        // A character split across reads is not bad UTF-8.
        let out = split(10, &[b"caf\xc3", b"\xa9\n"]);
        assert_eq!(out, vec![line("café")]);
    }

    #[test]
    fn the_buffer_never_exceeds_the_limit() {
        let mut s = LineSplitter::new(64);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            s.feed(&[b'y'; 1000], &mut out);
            assert!(s.buf.len() <= 65);
        }
        assert_eq!(out, vec![Input::TooLong]);
    }
}
