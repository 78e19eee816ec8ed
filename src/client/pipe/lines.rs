//! Input split into lines, one UDP datagram each, in a fixed buffer one
//! datagram long: a line too long for a datagram is an error, never a
//! reallocation.

use std::ops::Range;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{MAX_DATAGRAM, PipeError};

/// Splits input into lines (newline kept) in a fixed buffer one datagram
/// long, so a line too long for a datagram is an error, not a reallocation.
pub(super) struct Lines {
    buf: Box<[u8]>,
    /// Start of the unconsumed bytes.
    start: usize,
    /// End of the bytes read.
    end: usize,
    /// Bytes in `start..scanned` hold no newline (saves rescanning).
    scanned: usize,
    eof: bool,
}

impl Lines {
    pub(super) fn new() -> Lines {
        Lines {
            // One byte over the limit: a full buffer without a newline
            // proves the line too long.
            buf: vec![0u8; MAX_DATAGRAM + 1].into_boxed_slice(),
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
        }
    }

    /// The bytes of a range returned by [`Lines::next`].
    pub(super) fn get(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// The next line, with its newline if it had one; `None` at the end.
    /// Cancel-safe: a cancelled read leaves the state as it was.
    pub(super) async fn next<R: AsyncRead + Unpin>(
        &mut self,
        input: &mut R,
    ) -> Result<Option<Range<usize>>, PipeError> {
        loop {
            if let Some(i) = self.buf[self.scanned..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                return self.take(self.scanned + i + 1);
            }
            self.scanned = self.end;
            if self.eof {
                return if self.start < self.end {
                    self.take(self.end)
                } else {
                    Ok(None)
                };
            }
            if self.start > 0 {
                // Move the partial line to the front to make room.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.scanned = self.end;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                return Err(PipeError::Oversize { len: self.end });
            }
            let n = input
                .read(&mut self.buf[self.end..])
                .await
                .map_err(PipeError::Input)?;
            self.end += n;
            self.eof = n == 0;
        }
    }

    /// Consumes `start..upto` as one datagram.
    fn take(&mut self, upto: usize) -> Result<Option<Range<usize>>, PipeError> {
        let r = self.start..upto;
        if r.len() > MAX_DATAGRAM {
            return Err(PipeError::Oversize { len: r.len() });
        }
        self.start = upto;
        self.scanned = upto;
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn split(input: &[u8]) -> Result<Vec<Vec<u8>>, PipeError> {
        let mut lines = Lines::new();
        let mut input = input;
        let mut out = Vec::new();
        while let Some(r) = lines.next(&mut input).await? {
            out.push(lines.get(r).to_vec());
        }
        Ok(out)
    }

    #[tokio::test]
    async fn one_datagram_per_line_newline_kept() {
        let got = split(b"a\n\nbc\nlast").await.unwrap();
        assert_eq!(got, [&b"a\n"[..], b"\n", b"bc\n", b"last"]);
        assert!(split(b"").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn byte_at_a_time_input() {
        let data = b"one\ntwo\n";
        let (mut w, mut r) = tokio::io::duplex(1);
        let feed = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            w.write_all(data).await.unwrap();
        });
        let mut lines = Lines::new();
        let mut out = Vec::new();
        while let Some(range) = lines.next(&mut r).await.unwrap() {
            out.push(lines.get(range).to_vec());
        }
        feed.await.unwrap();
        assert_eq!(out, [&b"one\n"[..], b"two\n"]);
    }

    #[tokio::test]
    async fn lines_at_the_limit_pass_longer_ones_fail() {
        let mut max = vec![b'x'; MAX_DATAGRAM - 1];
        max.push(b'\n');
        max.extend_from_slice(&vec![b'y'; MAX_DATAGRAM]);
        let got = split(&max).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].len(), MAX_DATAGRAM);

        let long = vec![b'z'; MAX_DATAGRAM + 1];
        let e = split(&long).await.unwrap_err();
        assert!(e.to_string().contains("65507"), "{e}");
        let mut long_line = long;
        long_line.push(b'\n');
        assert!(matches!(
            split(&long_line).await,
            Err(PipeError::Oversize { .. })
        ));
    }
}
