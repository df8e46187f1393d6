//! Bounded reading of `\n`-terminated lines from an untrusted stream.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// One result of [`LineReader::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, without its `\n` (and without a `\r` just before it).
    Text(String),
    /// The line exceeded the limit; the stream is no longer in sync and should be closed.
    TooLong,
    /// The line was not valid UTF-8.
    BadUtf8,
    /// The peer closed its side (a partial last line is discarded).
    Eof,
}

/// Reads lines of at most `max` bytes. Cancel-safe: all partial state lives in `self`, so a
/// `next_line` future may be dropped at an `.await` without losing input.
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    partial: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self {
            inner: BufReader::new(inner),
            partial: Vec::new(),
            max,
        }
    }

    /// The underlying stream (for writing, when it is bidirectional).
    pub(crate) fn get_mut(&mut self) -> &mut R {
        self.inner.get_mut()
    }

    /// The next line. Never buffers more than `max` bytes of it plus one read buffer.
    pub(crate) async fn next_line(&mut self) -> io::Result<Line> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                self.partial.clear();
                return Ok(Line::Eof);
            }
            let (chunk_len, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(pos) => (pos, true),
                None => (available.len(), false),
            };
            if self.partial.len().saturating_add(chunk_len) > self.max {
                let consumed = if complete { chunk_len + 1 } else { chunk_len };
                self.inner.consume(consumed);
                self.partial.clear();
                return Ok(Line::TooLong);
            }
            self.partial
                .extend_from_slice(available.get(..chunk_len).unwrap_or_default());
            if !complete {
                self.inner.consume(chunk_len);
                continue;
            }
            self.inner.consume(chunk_len + 1);
            let mut bytes = std::mem::take(&mut self.partial);
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
            return Ok(match String::from_utf8(bytes) {
                Ok(text) => Line::Text(text),
                Err(_) => Line::BadUtf8,
            });
        }
    }

    /// Reads and discards exactly `len` bytes (a request body), failing on early EOF.
    pub(crate) async fn discard_exact(&mut self, len: u64) -> io::Result<()> {
        let copied =
            tokio::io::copy(&mut (&mut self.inner).take(len), &mut tokio::io::sink()).await?;
        if copied == len {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a body",
            ))
        }
    }

    /// Reads and discards up to `limit` bytes until EOF, so that closing the socket afterwards
    /// does not reset the connection (and destroy our last reply) because of unread input.
    pub(crate) async fn drain(&mut self, limit: u64) {
        let _ = tokio::io::copy(&mut (&mut self.inner).take(limit), &mut tokio::io::sink()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            let line = reader.next_line().await.expect("reading from a slice");
            let end = line == Line::Eof;
            out.push(line);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_strips_cr() {
        assert_eq!(
            lines(b"a b\r\n\nc\nrest", 10).await,
            vec![
                Line::Text("a b".into()),
                Line::Text(String::new()),
                Line::Text("c".into()),
                Line::Eof
            ]
        );
    }

    #[tokio::test]
    async fn enforces_the_limit_and_utf8() {
        assert_eq!(
            lines(b"12345\n123456\n\xff\n", 5).await,
            vec![
                Line::Text("12345".into()),
                Line::TooLong,
                Line::BadUtf8,
                Line::Eof
            ]
        );
    }
}
