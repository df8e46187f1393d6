//! The binary search tree of a MaxMind DB file: building it from prefixes and writing its
//! nodes (spec v2.0, "Binary Search Tree Section").
//!
//! The tree is always an IPv6 (128-bit) tree. Each node has a left (bit 0) and right (bit 1)
//! record; node 0 is the root.

use super::MmdbError;

/// One prefix to store: its network bits in the 128-bit address space (host bits zero), its
/// prefix length (0..=128) and the index of its record among the distinct records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    /// Network address as a 128-bit big-endian integer, host bits cleared.
    pub(crate) bits: u128,
    /// Prefix length, 0..=128.
    pub(crate) len: u8,
    /// Index of the record in the list of distinct records.
    pub(crate) data: u32,
}

/// What one record of a node points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// No data for these addresses.
    Empty,
    /// The distinct record with this index.
    Data(u32),
    /// Another node of the tree.
    Node(u32),
}

/// A search tree under construction: `nodes[i]` holds the (left, right) records of node `i`.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// The nodes, root first.
    pub(crate) nodes: Vec<[Slot; 2]>,
}

/// Largest number of nodes a tree may have: record values must still fit in 32 bits.
const MAX_NODES: usize = u32::MAX as usize / 2;

impl Tree {
    /// Builds the tree for `entries`, which must be sorted by (`bits`, `len`) and hold each
    /// prefix at most once. Where prefixes overlap, the longest one wins.
    ///
    /// The root is always a real node (readers need at least one), so an empty `entries`
    /// gives a single node whose two records both mean "no data".
    pub(crate) fn build(entries: &[Entry]) -> Result<Tree, MmdbError> {
        let mut tree = Tree::default();
        let root = entries
            .iter()
            .find(|e| e.len == 0)
            .map_or(Slot::Empty, |e| Slot::Data(e.data));
        tree.build_subtree(entries, 0, 0, root)?;
        Ok(tree)
    }

    /// Builds the subtree for the addresses whose first `depth` bits equal those of `path`.
    ///
    /// `entries` holds every entry whose network lies in that subtree (it may also hold
    /// entries of length <= `depth`, which are ignored here), and `inherited` is what the
    /// longest prefix of length <= `depth` covering the subtree maps it to.
    fn build_subtree(
        &mut self,
        entries: &[Entry],
        path: u128,
        depth: u8,
        inherited: Slot,
    ) -> Result<Slot, MmdbError> {
        let has_more_specific = entries.iter().any(|e| e.len > depth);
        if depth > 0 && !has_more_specific {
            return Ok(inherited);
        }
        // depth < 128 here: no entry is longer than 128 bits, and the root is at depth 0.
        let Some(bit) = 127u32
            .checked_sub(u32::from(depth))
            .and_then(|shift| 1u128.checked_shl(shift))
        else {
            return Ok(inherited);
        };
        if self.nodes.len() >= MAX_NODES {
            return Err(MmdbError::TooLarge(format!(
                "the search tree needs more than {MAX_NODES} nodes"
            )));
        }
        let id = self.nodes.len();
        self.nodes.push([Slot::Empty, Slot::Empty]);

        // Sorted by network bits and sharing the first `depth` bits, the entries whose next
        // bit is 0 all come before those whose next bit is 1.
        let split = entries.partition_point(|e| e.bits & bit == 0);
        let (left_entries, right_entries) = entries.split_at(split);
        let child_depth = depth + 1;
        let mut children = [inherited; 2];
        for (side, (child_entries, child_path)) in
            [(left_entries, path), (right_entries, path | bit)]
                .into_iter()
                .enumerate()
        {
            let child_inherited = child_entries
                .iter()
                .find(|e| e.len == child_depth)
                .map_or(inherited, |e| Slot::Data(e.data));
            let child =
                self.build_subtree(child_entries, child_path, child_depth, child_inherited)?;
            if let Some(slot) = children.get_mut(side) {
                *slot = child;
            }
        }

        let [left, right] = children;
        let both_same_leaf = left == right && !matches!(left, Slot::Node(_));
        if depth > 0 && both_same_leaf {
            // Both halves map to the same thing: this node is not needed. It was the last one
            // pushed, since leaf children create no nodes.
            self.nodes.truncate(id);
            return Ok(left);
        }
        if let Some(node) = self.nodes.get_mut(id) {
            *node = children;
        }
        let id = u32::try_from(id).map_err(|_| {
            MmdbError::TooLarge(format!("node number {id} does not fit in 32 bits"))
        })?;
        Ok(Slot::Node(id))
    }

    /// Number of nodes in the tree.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends the nodes to `out` with records of `record_size` bits (24, 28 or 32).
    ///
    /// `data_offsets[i]` is the offset of distinct record `i` in the data section. Record
    /// values are: the node number for a node, `node_count` for "no data", and
    /// `node_count + 16 + offset` for data.
    pub(crate) fn write(
        &self,
        record_size: RecordSize,
        data_offsets: &[u32],
        out: &mut Vec<u8>,
    ) -> Result<(), MmdbError> {
        let node_count = u64::try_from(self.nodes.len())
            .map_err(|_| MmdbError::TooLarge("node count does not fit in 64 bits".to_owned()))?;
        let limit = record_size.max_value();
        let value_of = |slot: Slot| -> Result<u32, MmdbError> {
            let value = match slot {
                Slot::Empty => node_count,
                Slot::Node(n) => u64::from(n),
                Slot::Data(i) => {
                    let offset = usize::try_from(i)
                        .ok()
                        .and_then(|i| data_offsets.get(i))
                        .copied()
                        .ok_or_else(|| {
                            MmdbError::TooLarge(format!("record {i} has no data-section offset"))
                        })?;
                    node_count + 16 + u64::from(offset)
                }
            };
            if value > u64::from(limit) {
                return Err(MmdbError::TooLarge(format!(
                    "record value {value} does not fit in {} bits",
                    record_size.bits()
                )));
            }
            u32::try_from(value)
                .map_err(|_| MmdbError::TooLarge(format!("record value {value} exceeds 32 bits")))
        };
        out.reserve(self.nodes.len().saturating_mul(record_size.node_bytes()));
        for [left, right] in &self.nodes {
            write_node(record_size, value_of(*left)?, value_of(*right)?, out);
        }
        Ok(())
    }
}

/// Width of one record of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordSize {
    /// 24-bit records, 6-byte nodes.
    Bits24,
    /// 28-bit records, 7-byte nodes.
    Bits28,
    /// 32-bit records, 8-byte nodes.
    Bits32,
}

impl RecordSize {
    /// The smallest record size able to hold record values up to `max_value`.
    pub(crate) fn smallest_for(max_value: u64) -> Result<RecordSize, MmdbError> {
        [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32]
            .into_iter()
            .find(|size| max_value <= u64::from(size.max_value()))
            .ok_or_else(|| {
                MmdbError::TooLarge(format!(
                    "record values up to {max_value} do not fit in 32-bit records"
                ))
            })
    }

    /// Number of bits of a record, as stored in the metadata.
    pub(crate) fn bits(self) -> u16 {
        match self {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
            RecordSize::Bits32 => 32,
        }
    }

    /// Size in bytes of a node (two records).
    pub(crate) fn node_bytes(self) -> usize {
        usize::from(self.bits()) / 4
    }

    /// Largest value a record can hold.
    fn max_value(self) -> u32 {
        match self {
            RecordSize::Bits24 => (1 << 24) - 1,
            RecordSize::Bits28 => (1 << 28) - 1,
            RecordSize::Bits32 => u32::MAX,
        }
    }
}

/// Appends one node: both records big-endian; with 28-bit records the top four bits of the
/// left and right records share the middle byte (left in its high nibble).
fn write_node(record_size: RecordSize, left: u32, right: u32, out: &mut Vec<u8>) {
    let [_, l1, l2, l3] = left.to_be_bytes();
    let [_, r1, r2, r3] = right.to_be_bytes();
    match record_size {
        RecordSize::Bits24 => out.extend_from_slice(&[l1, l2, l3, r1, r2, r3]),
        RecordSize::Bits28 => {
            let middle = (((left >> 24) & 0x0F) << 4) | ((right >> 24) & 0x0F);
            let middle = u8::try_from(middle).unwrap_or(0);
            out.extend_from_slice(&[l1, l2, l3, middle, r1, r2, r3]);
        }
        RecordSize::Bits32 => {
            out.extend_from_slice(&left.to_be_bytes());
            out.extend_from_slice(&right.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bits: u128, len: u8, data: u32) -> Entry {
        Entry { bits, len, data }
    }

    #[test]
    fn empty_tree_has_one_node_without_data() {
        let tree = Tree::build(&[]).unwrap();
        assert_eq!(tree.nodes, vec![[Slot::Empty, Slot::Empty]]);
    }

    #[test]
    fn zero_length_prefix_fills_the_root() {
        let tree = Tree::build(&[entry(0, 0, 7)]).unwrap();
        assert_eq!(tree.nodes, vec![[Slot::Data(7), Slot::Data(7)]]);
    }

    #[test]
    fn more_specific_prefix_splits_the_less_specific_one() {
        // 0::/1 -> 0, 0::/2 -> 1: the root's left child is a node with 1 on its left
        // and 0 on its right.
        let mut entries = vec![entry(0, 1, 0), entry(0, 2, 1)];
        entries.sort();
        let tree = Tree::build(&entries).unwrap();
        assert_eq!(
            tree.nodes,
            vec![[Slot::Node(1), Slot::Empty], [Slot::Data(1), Slot::Data(0)]]
        );
    }

    #[test]
    fn sibling_halves_with_same_data_collapse() {
        let top = 1u128 << 127;
        let mut entries = vec![entry(top, 2, 3), entry(top | (1 << 126), 2, 3)];
        entries.sort();
        let tree = Tree::build(&entries).unwrap();
        assert_eq!(tree.nodes, vec![[Slot::Empty, Slot::Data(3)]]);
    }

    #[test]
    fn a_128_bit_prefix_gives_a_path_of_128_nodes() {
        let tree = Tree::build(&[entry(u128::MAX, 128, 0)]).unwrap();
        assert_eq!(tree.node_count(), 128);
        assert_eq!(tree.nodes.last(), Some(&[Slot::Empty, Slot::Data(0)]));
    }

    #[test]
    fn node_layouts_follow_the_spec() {
        let left = 0x0ABC_DEF1;
        let right = 0x0123_4567;
        let mut out = Vec::new();
        write_node(RecordSize::Bits28, left, right, &mut out);
        assert_eq!(out, vec![0xBC, 0xDE, 0xF1, 0xA1, 0x23, 0x45, 0x67]);
        out.clear();
        write_node(RecordSize::Bits24, 0x00AB_CDEF, 0x0012_3456, &mut out);
        assert_eq!(out, vec![0xAB, 0xCD, 0xEF, 0x12, 0x34, 0x56]);
        out.clear();
        write_node(RecordSize::Bits32, 0xDEAD_BEEF, 1, &mut out);
        assert_eq!(out, vec![0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 1]);
    }

    #[test]
    fn record_size_is_the_smallest_that_fits() {
        assert_eq!(RecordSize::smallest_for(0).unwrap(), RecordSize::Bits24);
        assert_eq!(
            RecordSize::smallest_for((1 << 24) - 1).unwrap(),
            RecordSize::Bits24
        );
        assert_eq!(
            RecordSize::smallest_for(1 << 24).unwrap(),
            RecordSize::Bits28
        );
        assert_eq!(
            RecordSize::smallest_for(1 << 28).unwrap(),
            RecordSize::Bits32
        );
        assert_eq!(
            RecordSize::smallest_for(u64::from(u32::MAX)).unwrap(),
            RecordSize::Bits32
        );
        assert!(matches!(
            RecordSize::smallest_for(u64::from(u32::MAX) + 1),
            Err(MmdbError::TooLarge(_))
        ));
    }

    #[test]
    fn record_values_that_do_not_fit_are_rejected() {
        let tree = Tree::build(&[entry(0, 0, 0)]).unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            tree.write(RecordSize::Bits24, &[1 << 24], &mut out),
            Err(MmdbError::TooLarge(_))
        ));
        out.clear();
        tree.write(RecordSize::Bits28, &[1 << 24], &mut out)
            .unwrap();
        assert_eq!(out.len(), 7);
    }
}
