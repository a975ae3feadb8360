//! RFC 9162 §2.1 proof generation: the tree hash `MTH` of any range, inclusion paths
//! (`PATH`, §2.1.3.1) and consistency paths (`PROOF`/`SUBPROOF`, §2.1.4.1).
//!
//! The definitions are written once, generic over where subtree hashes come from: the
//! [`crate::Log`] reads them from tiles, and the functions in this module compute them
//! from a slice of leaf hashes (the reference an auditor who downloaded every entry can
//! recompute, and what the tests check the tile-based prover against).
//!
//! Spec: `spec/log.md` § Merkle tree (**LOG-1**, **LOG-2**, **LOG-4**).

use crate::verify::{ConsistencyProof, Hash, InclusionProof, empty_root, node_hash};

/// Why a proof could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// The leaf is not in the tree of that size.
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    LeafIndexOutOfRange {
        /// The leaf index asked for.
        leaf_index: u64,
        /// The tree size asked for.
        tree_size: u64,
    },
    /// A tree larger than the log.
    #[error("tree size {tree_size} is larger than the log's {log_size}")]
    TreeSizeOutOfRange {
        /// The tree size asked for.
        tree_size: u64,
        /// The log's size.
        log_size: u64,
    },
    /// `first` is 0 or larger than `second`: RFC 9162 defines `PROOF(m, D[n])` for
    /// `0 < m <= n` only.
    #[error("no consistency proof exists from size {first} to size {second}")]
    NoConsistencyProof {
        /// The older size asked for.
        first: u64,
        /// The newer size asked for.
        second: u64,
    },
}

/// The largest power of two smaller than `n` (`n > 1`): the split point `k` of RFC 9162
/// §2.1.1.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n > 1);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A source of subtree hashes `MTH(D[start:end])` for the ranges RFC 9162 proofs use.
pub(crate) trait SubtreeHashes {
    /// Why a hash could not be read.
    type Error;

    /// `MTH(D[start:end])`, `start < end`.
    fn subtree_hash(&self, start: u64, end: u64) -> Result<Hash, Self::Error>;
}

/// `PATH(m, D[lo:hi])` (RFC 9162 §2.1.3.1), appending to `out` from the leaf up.
fn path<S: SubtreeHashes + ?Sized>(
    m: u64,
    lo: u64,
    hi: u64,
    src: &S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    // The path for a single leaf is empty.
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
        path(m, lo, lo + k, src, out)?;
        out.push(src.subtree_hash(lo + k, hi)?);
    } else {
        // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
        path(m - k, lo + k, hi, src, out)?;
        out.push(src.subtree_hash(lo, lo + k)?);
    }
    Ok(())
}

/// `SUBPROOF(m, D[lo:hi], b)` (RFC 9162 §2.1.4.1), appending to `out`.
fn subproof<S: SubtreeHashes + ?Sized>(
    m: u64,
    lo: u64,
    hi: u64,
    b: bool,
    src: &S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        if !b {
            out.push(src.subtree_hash(lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        subproof(m, lo, lo + k, b, src, out)?;
        out.push(src.subtree_hash(lo + k, hi)?);
    } else {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        subproof(m - k, lo + k, hi, false, src, out)?;
        out.push(src.subtree_hash(lo, lo + k)?);
    }
    Ok(())
}

/// The inclusion proof of `leaf_index` in the tree of `tree_size`, hashes from `src`.
pub(crate) fn prove_inclusion<S: SubtreeHashes + ?Sized>(
    leaf_index: u64,
    tree_size: u64,
    src: &S,
) -> Result<InclusionProof, S::Error> {
    let mut inclusion_path =
        Vec::with_capacity(crate::verify::inclusion_path_len(leaf_index, tree_size));
    path(leaf_index, 0, tree_size, src, &mut inclusion_path)?;
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        inclusion_path,
    })
}

/// The consistency proof from `first` to `second` (`0 < first <= second`), hashes from
/// `src`.
pub(crate) fn prove_consistency<S: SubtreeHashes + ?Sized>(
    first: u64,
    second: u64,
    src: &S,
) -> Result<ConsistencyProof, S::Error> {
    let mut consistency_path =
        Vec::with_capacity(crate::verify::consistency_path_len(first, second));
    // PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
    subproof(first, 0, second, true, src, &mut consistency_path)?;
    Ok(ConsistencyProof {
        first,
        second,
        consistency_path,
    })
}

/// Leaf hashes held in memory: the reference source.
struct Leaves<'a>(&'a [Hash]);

impl SubtreeHashes for Leaves<'_> {
    type Error = core::convert::Infallible;

    fn subtree_hash(&self, start: u64, end: u64) -> Result<Hash, Self::Error> {
        Ok(mth(&self.0[start as usize..end as usize]))
    }
}

/// `MTH(D[n])` over leaf hashes, exactly as RFC 9162 §2.1.1 defines it.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The root hash of the tree whose leaf hashes are `leaves` (RFC 9162 §2.1.1, **LOG-1**).
pub fn root(leaves: &[Hash]) -> Hash {
    mth(leaves)
}

/// The inclusion proof of `leaf_index` in the tree whose leaf hashes are `leaves`
/// (RFC 9162 §2.1.3.1, **LOG-2**).
///
/// # Errors
/// [`ProveError::LeafIndexOutOfRange`].
pub fn inclusion_proof(leaves: &[Hash], leaf_index: u64) -> Result<InclusionProof, ProveError> {
    let tree_size = leaves.len() as u64;
    if leaf_index >= tree_size {
        return Err(ProveError::LeafIndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    match prove_inclusion(leaf_index, tree_size, &Leaves(leaves)) {
        Ok(p) => Ok(p),
        Err(never) => match never {},
    }
}

/// The consistency proof from the tree of the first `first` leaves to the tree of all
/// of `leaves` (RFC 9162 §2.1.4.1, **LOG-4**).
///
/// # Errors
/// [`ProveError::NoConsistencyProof`] unless `0 < first <= leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], first: u64) -> Result<ConsistencyProof, ProveError> {
    let second = leaves.len() as u64;
    if first == 0 || first > second {
        return Err(ProveError::NoConsistencyProof { first, second });
    }
    match prove_consistency(first, second, &Leaves(leaves)) {
        Ok(p) => Ok(p),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{ConsistencyError, InclusionError, leaf_hash};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn log_2_log_3_inclusion_proof_every_index_every_size_to_130() {
        let all = leaves(130);
        for tree_size in 1..=130u64 {
            let d = &all[..tree_size as usize];
            let root_hash = root(d);
            for leaf_index in 0..tree_size {
                let proof = inclusion_proof(d, leaf_index).unwrap();
                assert_eq!(
                    proof.inclusion_path.len(),
                    crate::verify::inclusion_path_len(leaf_index, tree_size)
                );
                proof.verify(&d[leaf_index as usize], &root_hash).unwrap();
                // Any other leaf fails.
                let other = leaf_hash(b"other");
                assert_eq!(
                    proof.verify(&other, &root_hash),
                    Err(InclusionError::RootMismatch)
                );
            }
            assert!(matches!(
                inclusion_proof(d, tree_size),
                Err(ProveError::LeafIndexOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn log_4_log_5_consistency_proof_every_pair_to_130() {
        let all = leaves(130);
        let roots: Vec<Hash> = (0..=130).map(|n| root(&all[..n])).collect();
        for second in 1..=130u64 {
            let d = &all[..second as usize];
            for first in 1..=second {
                let proof = consistency_proof(d, first).unwrap();
                assert_eq!(
                    proof.consistency_path.len(),
                    crate::verify::consistency_path_len(first, second)
                );
                proof
                    .verify(&roots[first as usize], &roots[second as usize])
                    .unwrap();
                if first < second {
                    // A wrong first root fails; when `first` is a power of two the RFC
                    // seeds both chains with it, so the mismatch shows in the second.
                    assert!(
                        matches!(
                            proof.verify(&roots[first as usize - 1], &roots[second as usize]),
                            Err(ConsistencyError::FirstRootMismatch
                                | ConsistencyError::SecondRootMismatch)
                        ),
                        "{first} {second}"
                    );
                }
            }
            assert!(consistency_proof(d, 0).is_err());
            assert!(consistency_proof(d, second + 1).is_err());
        }
    }
}
