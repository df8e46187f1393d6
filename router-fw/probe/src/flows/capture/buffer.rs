//! A refilling read buffer: capture records are parsed in place, so the reader hands out
//! slices of one reused buffer instead of allocating per packet.

use std::io::{self, Read};

/// Bytes read ahead from a stream; records are parsed where they lie.
pub(crate) struct ByteSource<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`, for error messages.
    offset: u64,
    eof: bool,
}

/// How much is read ahead: big reads keep the number of system calls low.
const READ_AHEAD: usize = 128 << 10;

impl<R: Read> ByteSource<R> {
    /// Wraps a stream.
    pub(crate) fn new(inner: R) -> Self {
        ByteSource {
            inner,
            buf: vec![0; READ_AHEAD],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Stream offset of the first unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes read but not consumed yet.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available unless the stream ends first; returns how many are.
    /// Callers bound `n` (record limits) so the buffer never grows past what they allow.
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.start >= n || self.eof {
            return Ok(self.end - self.start);
        }
        self.refill(n)
    }

    /// The slow half of `fill`: once per read-ahead, not once per packet.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<usize> {
        if self.buf.len() - self.start < n {
            // Move the partial record to the front; grow only for a record larger than the
            // read-ahead, which the callers have already bounded.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
        }
        while self.end - self.start < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Drops `n` available bytes.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops `n` bytes, reading through the stream in buffer-sized steps (constant memory
    /// whatever `n` claims); returns how many were dropped (fewer only at end of input).
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut left = n;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(READ_AHEAD);
            let got = self.fill(want)?;
            if got == 0 {
                break;
            }
            let step = got.min(want);
            self.consume(step);
            left -= step as u64;
        }
        Ok(n - left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn fill_gathers_short_reads() {
        let data: Vec<u8> = (0..100).collect();
        let mut src = ByteSource::new(Trickle(&data));
        assert_eq!(src.fill(10).unwrap(), 12);
        assert_eq!(&src.available()[..10], &data[..10]);
        src.consume(10);
        assert_eq!(src.offset(), 10);
        assert_eq!(src.skip(80).unwrap(), 80);
        assert_eq!(src.fill(50).unwrap(), 10);
        assert_eq!(src.available(), &data[90..]);
    }

    #[test]
    fn skip_past_end_reports_what_was_there() {
        let data = [1u8; 7];
        let mut src = ByteSource::new(&data[..]);
        assert_eq!(src.skip(u64::MAX).unwrap(), 7);
        assert_eq!(src.fill(1).unwrap(), 0);
    }

    #[test]
    fn large_record_grows_buffer_once() {
        let data = vec![9u8; READ_AHEAD + 10];
        let mut src = ByteSource::new(&data[..]);
        src.fill(5).unwrap();
        src.consume(5);
        assert_eq!(src.fill(READ_AHEAD + 5).unwrap(), READ_AHEAD + 5);
    }
}
