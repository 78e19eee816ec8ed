//! The upper service: each line back upper-cased (the socketserver classic).
//!
//! Lines are cut at `\n` and keep their terminator (`\n` or `\r\n`), so a
//! client reading line by line gets one answer per line. Text that is valid
//! UTF-8 is upper-cased by Unicode rules ("straße" -> "STRASSE"); other bytes
//! are upper-cased as ASCII and otherwise left alone.

use std::borrow::Cow;

/// A line grew past the limit before its newline arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {max} bytes; send shorter lines or raise --max-line")]
pub struct LineTooLong {
    /// The limit that was exceeded.
    pub max: usize,
}

/// Upper-cases one piece of text (a line or a datagram).
pub fn upper_case(input: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(input) {
        Ok(s) if s.is_ascii() => Cow::Owned(input.to_ascii_uppercase()),
        Ok(s) => Cow::Owned(s.to_uppercase().into_bytes()),
        Err(_) => Cow::Owned(input.to_ascii_uppercase()),
    }
}

/// Per-connection line splitter with a bounded partial-line buffer.
#[derive(Debug)]
pub struct UpperLines {
    partial: Vec<u8>,
    max_line: usize,
}

impl UpperLines {
    /// A splitter refusing lines longer than `max_line` bytes (newline excluded).
    pub fn new(max_line: usize) -> UpperLines {
        UpperLines {
            partial: Vec::new(),
            max_line,
        }
    }

    /// Feeds received bytes; appends the answer to every completed line to `out`.
    ///
    /// Never buffers more than `max_line` bytes of an unfinished line.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), LineTooLong> {
        while let Some(nl) = input.iter().position(|&b| b == b'\n') {
            let (line, rest) = input.split_at(nl + 1);
            input = rest;
            if self.partial.is_empty() {
                self.answer(line, out)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.answer(&whole, out)?;
            }
        }
        // One byte of slack: a line of exactly max_line may wait for the
        // "\n" of its "\r\n" terminator.
        if self.partial.len() + input.len() > self.max_line + 1 {
            return Err(LineTooLong { max: self.max_line });
        }
        self.partial.extend_from_slice(input);
        Ok(())
    }

    /// At end of input: answers a last line that had no newline.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty() {
            out.extend_from_slice(&upper_case(&last));
        }
    }

    /// True when no partial line is held (an idle connection owns no buffer).
    pub fn is_idle(&self) -> bool {
        self.partial.capacity() == 0
    }

    fn answer(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), LineTooLong> {
        let body_len = line.len() - 1 - usize::from(line.ends_with(b"\r\n"));
        if body_len > self.max_line {
            return Err(LineTooLong { max: self.max_line });
        }
        out.extend_from_slice(&upper_case(line));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<u8>, Result<(), LineTooLong>) {
        let mut u = UpperLines::new(max);
        let mut out = Vec::new();
        for c in chunks {
            if let Err(e) = u.feed(c, &mut out) {
                return (out, Err(e));
            }
        }
        u.finish(&mut out);
        (out, Ok(()))
    }

    #[test]
    fn classic_hello() {
        assert_eq!(run(100, &[b"hello\n"]).0, b"HELLO\n");
    }

    #[test]
    fn lines_split_anywhere_and_keep_crlf() {
        let input = b"ab\r\ncd\nef";
        for i in 0..input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(100, &[a, b]).0, b"AB\r\nCD\nEF");
        }
    }

    #[test]
    fn unicode_and_binary() {
        assert_eq!(&*upper_case("straße é".as_bytes()), "STRASSE É".as_bytes());
        assert_eq!(&*upper_case(b"a\xffb"), b"A\xffB");
    }

    #[test]
    fn long_line_is_refused_without_buffering_it() {
        let mut u = UpperLines::new(4);
        let mut out = Vec::new();
        assert!(u.feed(b"abcd", &mut out).is_ok());
        assert_eq!(u.feed(b"ef", &mut out), Err(LineTooLong { max: 4 }));
        assert_eq!(run(4, &[b"abcde\n"]).1, Err(LineTooLong { max: 4 }));
        assert_eq!(run(4, &[b"abcd\r\n"]).0, b"ABCD\r\n");
        // However TCP splits it.
        assert_eq!(run(4, &[b"abcd\r", b"\n"]).0, b"ABCD\r\n");
        assert_eq!(run(4, &[b"abcde", b"\n"]).1, Err(LineTooLong { max: 4 }));
    }
}
