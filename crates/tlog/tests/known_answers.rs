//! Known answers from outside: the RFC 6962 test leaves with the roots and proofs Go's
//! `transparency-dev/merkle` publishes, and the signed notes of the C2SP spec and of
//! Go's `sumdb/note` (sources in `vectors/*.json`). Our tree must give those roots and
//! proofs, our verifiers must accept them and refuse every corruption Go's tests try,
//! and our signer must write Go's note byte for byte.

use std::collections::HashMap;

use grantlog_tlog::merkle::{
    Appender, Hash, NodeId, consistency_ranges, empty_root, inclusion_ranges, leaf_hash, range_hashes,
    verify_consistency, verify_inclusion,
};
use grantlog_tlog::note::{NoteSigner, NoteVerifier};
use serde::Deserialize;

#[derive(Deserialize)]
struct MerkleVectors {
    leaves_hex: Vec<String>,
    roots_hex: Vec<String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
}

#[derive(Deserialize)]
struct Inclusion {
    leaf_index: u64,
    tree_size: u64,
    proof_hex: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    from: u64,
    to: u64,
    proof_hex: Vec<String>,
}

#[derive(Deserialize)]
struct NoteVectors {
    notes: Vec<NoteVector>,
}

#[derive(Deserialize)]
struct NoteVector {
    verifier_key: String,
    signer_key: Option<String>,
    note: String,
    text: String,
}

fn hash(hex_text: &str) -> Hash {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

fn merkle() -> MerkleVectors {
    serde_json::from_str(include_str!("vectors/merkle.json")).unwrap()
}

/// The tree over the eight test leaves: its stored nodes and its root at each size.
fn tree(vectors: &MerkleVectors) -> (HashMap<NodeId, Hash>, Vec<Hash>) {
    let mut appender = Appender::new(0, []).unwrap();
    let mut roots = Vec::new();
    for leaf in &vectors.leaves_hex {
        appender.push(leaf_hash(&hex::decode(leaf).unwrap()));
        roots.push(appender.root());
    }
    (appender.added().iter().copied().collect(), roots)
}

#[test]
fn the_roots_of_the_test_trees_of_sizes_1_to_8() {
    let vectors = merkle();
    let (_, roots) = tree(&vectors);
    let expected: Vec<Hash> = vectors.roots_hex.iter().map(|root| hash(root)).collect();
    assert_eq!(roots, expected);
    assert_eq!(Appender::new(0, []).unwrap().root(), empty_root());
    assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn inclusion_proofs_are_gos_and_every_corruption_of_them_fails() {
    let vectors = merkle();
    let (stored, roots) = tree(&vectors);
    let some_hash = hash("abacaba000000000000000000000000000000000000000000060061e00123456");
    for case in &vectors.inclusion {
        let (index, size) = (case.leaf_index, case.tree_size);
        let expected: Vec<Hash> = case.proof_hex.iter().map(|h| hash(h)).collect();
        let proof = range_hashes(&inclusion_ranges(index, size).unwrap(), &stored).unwrap();
        assert_eq!(proof, expected, "leaf {index} of {size}");
        let root = roots[usize::try_from(size - 1).unwrap()];
        let leaf = leaf_hash(&hex::decode(&vectors.leaves_hex[usize::try_from(index).unwrap()]).unwrap());
        assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));

        // Go's corruptInclusionProof.
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>, String)> = vec![
            (index.wrapping_sub(1), size, root, leaf, proof.clone(), "index - 1".into()),
            (index + 1, size, root, leaf, proof.clone(), "index + 1".into()),
            (index ^ 2, size, root, leaf, proof.clone(), "index ^ 2".into()),
            (index, size * 2, root, leaf, proof.clone(), "size * 2".into()),
            (index, size / 2, root, leaf, proof.clone(), "size / 2".into()),
            (index, size, root, some_hash, proof.clone(), "wrong leaf".into()),
            (index, size, empty_root(), leaf, proof.clone(), "empty root".into()),
            (index, size, some_hash, leaf, proof.clone(), "random root".into()),
            (index, size, root, leaf, [proof.clone(), vec![root]].concat(), "trailing root".into()),
            (index, size, root, leaf, [vec![root], proof.clone()].concat(), "preceding root".into()),
        ];
        for i in 0..proof.len() {
            let mut bent = proof.clone();
            bent[i][0] ^= 8;
            probes.push((index, size, root, leaf, bent, format!("proof[{i}] bit 3")));
        }
        if let Some((_, shorter)) = proof.split_last() {
            probes.push((index, size, root, leaf, shorter.to_vec(), "removed component".into()));
        }
        if proof.len() > 1 {
            let inserted = [vec![proof[0], some_hash], proof[1..].to_vec()].concat();
            probes.push((index, size, root, leaf, inserted, "inserted component".into()));
        }
        for (index, size, root, leaf, proof, what) in probes {
            // A probe that happens to name the same proof for another true statement
            // (index ^ 2 == index when bit 1 is clear and the size is 1) is no probe.
            if (index, size) == (case.leaf_index, case.tree_size) && what.starts_with("index") {
                continue;
            }
            assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_err(), "{what}, leaf {index} of {size}");
        }
    }
}

#[test]
fn consistency_proofs_are_gos_and_every_corruption_of_them_fails() {
    let vectors = merkle();
    let (stored, roots) = tree(&vectors);
    let root_at = |size: u64| roots[usize::try_from(size - 1).unwrap()];
    for case in &vectors.consistency {
        let (from, to) = (case.from, case.to);
        let expected: Vec<Hash> = case.proof_hex.iter().map(|h| hash(h)).collect();
        let proof = range_hashes(&consistency_ranges(from, to).unwrap(), &stored).unwrap();
        assert_eq!(proof, expected, "{from} to {to}");
        let (root1, root2) = (root_at(from), root_at(to));
        assert_eq!(verify_consistency(from, to, &root1, &root2, &proof), Ok(()));
        if proof.is_empty() {
            continue;
        }
        // Go's corruptConsistencyProof.
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>, String)> = vec![
            (from - 1, to, root1, root2, proof.clone(), "from - 1".into()),
            (from + 1, to, root1, root2, proof.clone(), "from + 1".into()),
            (from ^ 2, to, root1, root2, proof.clone(), "from ^ 2".into()),
            (from, to * 2, root1, root2, proof.clone(), "to * 2".into()),
            (from, to / 2, root1, root2, proof.clone(), "to / 2".into()),
            (from, to, empty_root(), root2, proof.clone(), "wrong root1".into()),
            (from, to, root1, empty_root(), proof.clone(), "wrong root2".into()),
            (from, to, root2, root1, proof.clone(), "swapped roots".into()),
            (from, to, root1, root2, vec![], "empty proof".into()),
            (from, to, root1, root2, [proof.clone(), vec![root1]].concat(), "trailing root1".into()),
            (from, to, root1, root2, [proof.clone(), vec![root2]].concat(), "trailing root2".into()),
            (from, to, root1, root2, [vec![root1], proof.clone()].concat(), "preceding root1".into()),
            (from, to, root1, root2, [vec![root2], proof.clone()].concat(), "preceding root2".into()),
            (from, to, root1, root2, [vec![proof[0]], proof.clone()].concat(), "preceding proof[0]".into()),
            (from, to, root1, root2, proof[..proof.len() - 1].to_vec(), "truncated proof".into()),
        ];
        for i in 0..proof.len() {
            let mut bent = proof.clone();
            bent[i][0] ^= 16;
            probes.push((from, to, root1, root2, bent, format!("proof[{i}] bit 4")));
        }
        for (from, to, root1, root2, proof, what) in probes {
            assert!(verify_consistency(from, to, &root1, &root2, &proof).is_err(), "{what}: {from} to {to}");
        }
    }
}

/// Go's TestVerifyConsistency table: the sizes that are always, or never, consistent.
#[test]
fn edge_sizes_of_consistency_follow_go() {
    let (root1, root2, empty) = ([1; 32], [2; 32], empty_root());
    let cases: [(u64, u64, Hash, Hash, Vec<Hash>, bool); 13] = [
        (0, 0, root1, root2, vec![], false),
        (1, 1, root1, root2, vec![], false),
        (0, 0, root1, root1, vec![], true),
        (0, 1, root1, root2, vec![], true),
        (1, 1, root2, root2, vec![], true),
        (1, 0, root1, root2, vec![], false),
        (2, 1, root1, root2, vec![], false),
        (1, 2, root1, root2, vec![], false),
        (0, 0, empty, root2, vec![], false),
        (1, 1, empty, root2, vec![], false),
        (0, 0, empty, empty, vec![empty], false),
        (0, 1, empty, empty, vec![empty], false),
        (1, 1, empty, empty, vec![empty], false),
    ];
    for (from, to, first, second, proof, consistent) in cases {
        assert_eq!(verify_consistency(from, to, &first, &second, &proof).is_ok(), consistent, "{from} to {to}");
    }
}

#[test]
fn the_spec_and_go_example_notes_verify_and_ours_match_gos_bytes() {
    let vectors: NoteVectors = serde_json::from_str(include_str!("vectors/signed_note.json")).unwrap();
    for vector in &vectors.notes {
        let verifier = NoteVerifier::parse(&vector.verifier_key).unwrap();
        assert_eq!(verifier.to_string(), vector.verifier_key, "keys write back as read");
        assert_eq!(verifier.open(&vector.note), Ok(vector.text.as_str()));
        let tampered = vector.note.replacen(&vector.text[..1], "X", 1);
        assert!(verifier.open(&tampered).is_err(), "a changed text fails");
        if let Some(signer_key) = &vector.signer_key {
            let signer = NoteSigner::parse(signer_key).unwrap();
            assert_eq!(signer.to_private_string(), *signer_key);
            assert_eq!(signer.verifier(), verifier);
            assert_eq!(signer.sign(&vector.text).unwrap(), vector.note, "Ed25519 is deterministic (RFC 8032)");
        }
    }
}
