//! The Merkle tree of RFC 6962 §2.1 (RFC 9162 §2.1): SHA-256, a leaf hashed as
//! `SHA-256(0x00 ‖ leaf)` and a node as `SHA-256(0x01 ‖ left ‖ right)`, the tree over
//! `n` leaves split at the largest power of two below `n`.
//!
//! A store keeps the hash of every *complete* subtree ([`NodeId`]: 2^level leaves from
//! a multiple of 2^level), written once when its last leaf is appended ([`Appender`]).
//! Every hash a root or a proof needs is then a fold of at most 2·log₂(n) stored
//! nodes: the proof functions say which ranges they need ([`inclusion_ranges`],
//! [`consistency_ranges`]), [`nodes_for`] which stored nodes make those up, and
//! [`range_hashes`] folds them. Verification ([`verify_inclusion`],
//! [`verify_consistency`]) follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and needs
//! nothing but the proof.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A leaf's hash: `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// An interior node's hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A complete subtree: the 2^`level` leaves from index `index · 2^level`. Level 0 is a
/// leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Its height: 0 for a leaf.
    pub level: u8,
    /// Its place among the nodes of its level, from 0.
    pub index: u64,
}

impl NodeId {
    /// The leaves it covers.
    pub fn leaves(self) -> Range<u64> {
        let start = self.index << self.level;
        start..start + (1 << self.level)
    }
}

/// The complete subtrees that make up the leaves `range`, left to right, largest first.
/// Every range the RFC's recursion produces starts at a multiple of its largest block,
/// so its hash is the right fold of these ([`fold`]).
pub fn range_nodes(range: Range<u64>) -> Vec<NodeId> {
    let (mut start, end) = (range.start, range.end);
    let mut nodes = Vec::new();
    while start < end {
        let fits = 63 - (end - start).leading_zeros();
        let aligned = if start == 0 { fits } else { start.trailing_zeros().min(fits) };
        let level = u8::try_from(aligned).expect("a level is below 64");
        nodes.push(NodeId { level, index: start >> level });
        start += 1 << level;
    }
    nodes
}

/// The hash of a range from its complete subtrees' hashes, left to right:
/// `H(a, H(b, H(c, …)))`, which is RFC 6962's split at the largest power of two.
pub fn fold(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |right, left| node_hash(left, &right)))
}

/// Keeps the tree's stored nodes as leaves are appended: given the nodes of the tree's
/// right edge ([`Appender::needs`]), says which complete subtrees each new leaf
/// completes and their hashes.
#[derive(Debug)]
pub struct Appender {
    size: u64,
    known: HashMap<NodeId, Hash>,
    added: Vec<(NodeId, Hash)>,
}

/// The stored nodes an [`Appender`] was given do not cover the tree's right edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree's right edge at size {size} is missing node {missing:?}")]
pub struct MissingNode {
    /// The tree's size.
    pub size: u64,
    /// A node it needs.
    pub missing: NodeId,
}

impl Appender {
    /// The stored nodes a tree of `size` leaves needs to grow: its right edge.
    pub fn needs(size: u64) -> Vec<NodeId> {
        range_nodes(0..size)
    }

    /// An appender for a tree of `size` leaves whose right edge is `edge`.
    pub fn new(size: u64, edge: impl IntoIterator<Item = (NodeId, Hash)>) -> Result<Self, MissingNode> {
        let known: HashMap<NodeId, Hash> = edge.into_iter().collect();
        if let Some(missing) = Self::needs(size).into_iter().find(|node| !known.contains_key(node)) {
            return Err(MissingNode { size, missing });
        }
        Ok(Self { size, known, added: Vec::new() })
    }

    /// Appends a leaf by its hash ([`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let index = self.size;
        let mut node = NodeId { level: 0, index };
        let mut hash = leaf;
        self.remember(node, hash);
        // Each level the new leaf closes: its node is the left sibling's hash and this.
        while node.index % 2 == 1 {
            let left = NodeId { level: node.level, index: node.index - 1 };
            hash = node_hash(&self.known[&left], &hash);
            // Only the right edge is needed from here on: the children of a closed
            // subtree never are again.
            self.known.remove(&left);
            self.known.remove(&node);
            node = NodeId { level: node.level + 1, index: node.index / 2 };
            self.remember(node, hash);
        }
        self.size += 1;
    }

    fn remember(&mut self, node: NodeId, hash: Hash) {
        self.known.insert(node, hash);
        self.added.push((node, hash));
    }

    /// The tree's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root now.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = Self::needs(self.size).iter().map(|node| self.known[node]).collect();
        fold(&hashes).unwrap_or_else(empty_root)
    }

    /// The complete subtrees the appended leaves made, to store.
    pub fn added(&self) -> &[(NodeId, Hash)] {
        &self.added
    }

    /// Forgets [`Appender::added`], for a caller that only wants roots: memory then
    /// stays one hash per level.
    pub fn forget_added(&mut self) {
        self.added.clear();
    }
}

/// A proof asked for what the tree cannot prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// An inclusion proof for a leaf at or past the tree's size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    LeafOutsideTree {
        /// The leaf index asked.
        index: u64,
        /// The tree size asked.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one, or from the empty tree.
    #[error("no consistency proof from size {from} to size {to}")]
    NoConsistency {
        /// The first size.
        from: u64,
        /// The second size.
        to: u64,
    },
}

/// The ranges whose hashes make the inclusion proof of leaf `index` in a tree of `size`
/// leaves (RFC 9162 §2.1.3.1), the leaf's sibling first.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutsideTree { index, size });
    }
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    // Walk down from the root, noting the other side at each split; the proof lists them
    // from the leaf up.
    while end - start > 1 {
        let split = start + largest_power_of_two_below(end - start);
        if index < split {
            ranges.push(split..end);
            end = split;
        } else {
            ranges.push(start..split);
            start = split;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The ranges whose hashes make the consistency proof from a tree of `from` leaves to
/// one of `to` leaves (RFC 9162 §2.1.4.1). Empty when `from == to`.
pub fn consistency_ranges(from: u64, to: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::NoConsistency { from, to });
    }
    let mut ranges = Vec::new();
    let (mut start, mut end, mut m, mut whole) = (0, to, from, true);
    // SUBPROOF(m, D[start:end], whole), unrolled: the recursion only ever narrows one side.
    while m != end - start {
        let k = largest_power_of_two_below(end - start);
        if m <= k {
            ranges.push(start + k..end);
            end = start + k;
        } else {
            ranges.push(start..start + k);
            start += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        ranges.push(start..end);
    }
    ranges.reverse();
    Ok(ranges)
}

/// The stored nodes `ranges` are made of.
pub fn nodes_for(ranges: &[Range<u64>]) -> BTreeSet<NodeId> {
    ranges.iter().flat_map(|range| range_nodes(range.clone())).collect()
}

/// Each range's hash from the stored nodes; the first node missing from `nodes` if any.
pub fn range_hashes(ranges: &[Range<u64>], nodes: &HashMap<NodeId, Hash>) -> Result<Vec<Hash>, NodeId> {
    ranges
        .iter()
        .map(|range| {
            let hashes = range_nodes(range.clone())
                .into_iter()
                .map(|node| nodes.get(&node).copied().ok_or(node))
                .collect::<Result<Vec<Hash>, NodeId>>()?;
            Ok(fold(&hashes).expect("a proof's ranges are never empty"))
        })
        .collect()
}

/// The largest power of two strictly below `n` (`n` ≥ 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a proof did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The sizes or index cannot be proved (a leaf outside the tree, a tree that shrank).
    #[error("the proof's sizes are impossible")]
    Sizes,
    /// The proof has the wrong number of hashes for its sizes.
    #[error("the proof has the wrong number of hashes")]
    Length,
    /// The hashes lead to a different root.
    #[error("the proof leads to a different root")]
    Mismatch,
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::Sizes);
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::Length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::Length);
    }
    if r != *root {
        return Err(VerifyError::Mismatch);
    }
    Ok(())
}

/// Checks that the tree of `to` leaves with root `to_root` extends the tree of `from`
/// leaves with root `from_root` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and
/// an empty proof; the empty tree is extended by every tree.
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if from > to {
        return Err(VerifyError::Sizes);
    }
    if from == to || from == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::Length);
        }
        return if from != to || from_root == to_root { Ok(()) } else { Err(VerifyError::Mismatch) };
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (first, rest) = path.split_first().ok_or(VerifyError::Length)?;
    let (mut fn_, mut sn) = (from - 1, to - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(VerifyError::Length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::Length);
    }
    if fr != *from_root || sr != *to_root {
        return Err(VerifyError::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's MTH, straight from its definition: the reference the stored-node
    /// arithmetic is checked against.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = usize::try_from(largest_power_of_two_below(n as u64)).unwrap();
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn grown(leaves: &[Hash]) -> (Appender, HashMap<NodeId, Hash>) {
        let mut appender = Appender::new(0, []).unwrap();
        for leaf in leaves {
            appender.push(*leaf);
        }
        let stored = appender.added().iter().copied().collect();
        (appender, stored)
    }

    #[test]
    fn the_appender_keeps_every_complete_subtree_and_the_root_of_every_size() {
        let all = leaves(70);
        for n in 0..=70 {
            let (appender, stored) = grown(&all[..n]);
            assert_eq!(appender.root(), mth(&all[..n]), "size {n}");
            for (node, hash) in &stored {
                let range = node.leaves();
                let (start, end) = (usize::try_from(range.start).unwrap(), usize::try_from(range.end).unwrap());
                assert_eq!(*hash, mth(&all[start..end]), "{node:?}");
            }
            // 2n - popcount(n) complete subtrees: each written once.
            assert_eq!(stored.len(), 2 * n - (n as u64).count_ones() as usize, "size {n}");
        }
    }

    #[test]
    fn an_appender_resumes_from_the_right_edge_alone() {
        let all = leaves(45);
        let (whole, _) = grown(&all);
        let (first, stored) = grown(&all[..29]);
        let edge = Appender::needs(29).into_iter().map(|node| (node, stored[&node]));
        let mut resumed = Appender::new(29, edge).unwrap();
        for leaf in &all[29..] {
            resumed.push(*leaf);
        }
        assert_eq!(resumed.root(), whole.root());
        assert_eq!(first.size() + 16, resumed.size());
        assert_eq!(Appender::new(29, []).unwrap_err().size, 29);
    }

    #[test]
    fn every_proof_of_small_trees_verifies_and_a_changed_one_does_not() {
        let all = leaves(33);
        let (_, stored) = grown(&all);
        for size in 1..=33u64 {
            let root = mth(&all[..usize::try_from(size).unwrap()]);
            for index in 0..size {
                let proof = range_hashes(&inclusion_ranges(index, size).unwrap(), &stored).unwrap();
                let leaf = &all[usize::try_from(index).unwrap()];
                assert_eq!(verify_inclusion(index, size, leaf, &proof, &root), Ok(()), "{index} in {size}");
                if let Some(first) = proof.first() {
                    let mut bent = proof.clone();
                    bent[0] = node_hash(first, first);
                    assert!(verify_inclusion(index, size, leaf, &bent, &root).is_err());
                }
            }
            for from in 1..=size {
                let from_root = mth(&all[..usize::try_from(from).unwrap()]);
                let proof = range_hashes(&consistency_ranges(from, size).unwrap(), &stored).unwrap();
                assert_eq!(verify_consistency(from, size, &from_root, &root, &proof), Ok(()), "{from} to {size}");
                if from < size {
                    assert!(verify_consistency(from, size, &root, &from_root, &proof).is_err(), "roots swapped");
                }
            }
        }
    }

    #[test]
    fn impossible_proofs_are_refused_up_front() {
        assert_eq!(inclusion_ranges(3, 3), Err(ProofError::LeafOutsideTree { index: 3, size: 3 }));
        assert_eq!(consistency_ranges(0, 3), Err(ProofError::NoConsistency { from: 0, to: 3 }));
        assert_eq!(consistency_ranges(4, 3), Err(ProofError::NoConsistency { from: 4, to: 3 }));
    }

    #[test]
    fn a_proof_reads_at_most_two_nodes_per_level() {
        let size = 1_000_003;
        for index in [0, 1, 524_287, 999_999, size - 1] {
            assert!(nodes_for(&inclusion_ranges(index, size).unwrap()).len() <= 2 * 20, "{index}");
        }
        assert!(nodes_for(&consistency_ranges(617_283, size).unwrap()).len() <= 2 * 20);
    }
}
