//! The first bytes of a stream (a TCP client's stream, QUIC CRYPTO data) gathered from pieces
//! that may arrive out of order, overlap or repeat; bounded in bytes and in gaps.

/// Gaps tracked at once; more means a stream we will not make sense of anyway.
const MAX_RANGES: usize = 16;

/// The piece that does not fit: too many gaps at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooFragmented;

/// The first `cap` bytes of a stream, in order.
#[derive(Debug)]
pub(crate) struct Reassembly {
    data: Vec<u8>,
    /// Filled byte ranges, sorted and merged.
    ranges: Vec<(usize, usize)>,
    cap: usize,
}

impl Reassembly {
    /// An empty stream that keeps at most `cap` bytes; nothing is allocated yet.
    pub(crate) fn new(cap: usize) -> Self {
        Reassembly {
            data: Vec::new(),
            ranges: Vec::new(),
            cap,
        }
    }

    /// Puts `bytes` at stream `offset`; bytes past the cap are dropped. Returns whether the
    /// in-order prefix grew.
    pub(crate) fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<bool, TooFragmented> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(false);
        };
        if start >= self.cap || bytes.is_empty() {
            return Ok(false);
        }
        let end = start + bytes.len().min(self.cap - start);
        let before = self.contiguous_len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[start..end].copy_from_slice(&bytes[..end - start]);
        self.add_range(start, end)?;
        Ok(self.contiguous_len() > before)
    }

    /// The in-order bytes from offset 0.
    pub(crate) fn contiguous(&self) -> &[u8] {
        &self.data[..self.contiguous_len()]
    }

    /// Whether the in-order prefix has reached the cap: nothing more will be kept.
    pub(crate) fn is_full(&self) -> bool {
        self.contiguous_len() >= self.cap
    }

    /// Bytes held, holes included: what this stream costs in memory.
    pub(crate) fn buffered(&self) -> usize {
        self.data.len()
    }

    /// Whether bytes past a hole were kept (they never join the in-order prefix).
    pub(crate) fn has_gap(&self) -> bool {
        self.ranges.len() > 1 || self.ranges.first().is_some_and(|&(start, _)| start > 0)
    }

    /// The in-order bytes from offset 0, the buffer handed over without a copy.
    pub(crate) fn into_contiguous(mut self) -> Vec<u8> {
        let n = self.contiguous_len();
        self.data.truncate(n);
        self.data
    }

    fn contiguous_len(&self) -> usize {
        match self.ranges.first() {
            Some(&(0, end)) => end,
            _ => 0,
        }
    }

    fn add_range(&mut self, start: usize, end: usize) -> Result<(), TooFragmented> {
        let mut merged = (start, end);
        // Ranges that touch or overlap the new one are folded into it.
        self.ranges.retain(|&(s, e)| {
            if s <= merged.1 && merged.0 <= e {
                merged = (merged.0.min(s), merged.1.max(e));
                false
            } else {
                true
            }
        });
        if self.ranges.len() >= MAX_RANGES {
            return Err(TooFragmented);
        }
        let at = self.ranges.partition_point(|&(s, _)| s < merged.0);
        self.ranges.insert(at, merged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_of_order_pieces_join() {
        let mut r = Reassembly::new(100);
        assert_eq!(r.insert(5, b"fghij"), Ok(false));
        assert_eq!(r.contiguous(), b"");
        assert_eq!(r.insert(0, b"abcde"), Ok(true));
        assert_eq!(r.contiguous(), b"abcdefghij");
        assert_eq!(r.insert(3, b"de"), Ok(false));
        assert_eq!(r.insert(8, b"ijklm"), Ok(true));
        assert_eq!(r.contiguous(), b"abcdefghijklm");
    }

    #[test]
    fn cap_and_gaps_are_bounded() {
        let mut r = Reassembly::new(8);
        assert_eq!(r.insert(0, b"0123456789"), Ok(true));
        assert_eq!(r.contiguous(), b"01234567");
        assert!(r.is_full());
        assert_eq!(r.insert(u64::MAX, b"x"), Ok(false));

        let mut r = Reassembly::new(1000);
        for i in 0..MAX_RANGES as u64 {
            r.insert(10 + i * 10, b"x").unwrap();
        }
        assert_eq!(r.insert(500, b"x"), Err(TooFragmented));
    }

    proptest! {
        #[test]
        fn any_arrival_order_gives_the_stream(cuts in prop::collection::vec(1usize..50, 1..10), seed in any::<u64>()) {
            let stream: Vec<u8> = (0..cuts.iter().sum::<usize>()).map(|i| i as u8).collect();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in &cuts {
                pieces.push((at, &stream[at..at + c]));
                at += c;
            }
            // A deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..pieces.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                pieces.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembly::new(stream.len());
            for (offset, bytes) in pieces {
                r.insert(offset as u64, bytes).unwrap();
            }
            prop_assert_eq!(r.contiguous(), &stream[..]);
        }
    }
}
