//! RFC 9162 §2.1 hashing and proof verification: the part of the log that clients and
//! auditors need, and nothing else.
//!
//! This module depends on `ring` (SHA-256) and `core` only: a participant's device or an
//! auditor can check inclusion and consistency proofs without linking the prover, the
//! tile storage or any signing key. Names follow RFC 9162: `leaf_index`, `tree_size`,
//! `inclusion_path`, `root_hash`, `first`, `second`, `first_hash`, `second_hash`,
//! `consistency_path`; the loop variables `fn`/`sn` of the RFC are `fn_`/`sn` here
//! (`fn` is a Rust keyword).
//!
//! ```text
//! leaf hash       = SHA-256(0x00 || entry)                        (RFC 9162 §2.1.1)
//! node hash       = SHA-256(0x01 || left || right)                (RFC 9162 §2.1.1)
//! MTH({})         = SHA-256()                                     (empty tree)
//! ```
//!
//! Spec: `spec/log.md` § Merkle tree (**LOG-1** to **LOG-5**).

use core::fmt;

use ring::digest;

/// The length of a SHA-256 hash in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 Merkle tree hash: a leaf hash, a node hash or a root hash (RFC 9162 §2.1.1).
///
/// Nothing in it is secret. `Debug` shows lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; HASH_LEN]);

/// A byte string that is not 32 bytes long was offered as a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 hash is 32 bytes, not {len}")]
pub struct HashLengthError {
    /// The length offered.
    pub len: usize,
}

impl Hash {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lowercase hexadecimal.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        let mut out = String::with_capacity(2 * HASH_LEN);
        for b in self.0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    fn from_digest(d: digest::Digest) -> Self {
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashLengthError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| HashLengthError { len: bytes.len() })
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// The leaf hash of an entry: `SHA-256(0x00 || entry)` (RFC 9162 §2.1.1, **LOG-1**).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(entry);
    Hash::from_digest(ctx.finish())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1,
/// **LOG-1**).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = 0x01;
    buf[1..1 + HASH_LEN].copy_from_slice(&left.0);
    buf[1 + HASH_LEN..].copy_from_slice(&right.0);
    Hash::from_digest(digest::digest(&digest::SHA256, &buf))
}

/// The root hash of the empty tree: `SHA-256()` (RFC 9162 §2.1.1, **LOG-1**).
pub fn empty_root() -> Hash {
    Hash::from_digest(digest::digest(&digest::SHA256, &[]))
}

/// The root a size-0 checkpoint must carry, [`empty_root`], for a party that checks
/// checkpoints without following the tree (a witness, **WIT-1**): it asks `minimis-log`
/// rather than hashing anything itself (**LOG-57**).
pub fn root_of_the_empty_tree() -> Hash {
    empty_root()
}

/// Why an inclusion proof was refused (RFC 9162 §2.1.3.2, **LOG-3**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InclusionError {
    /// `leaf_index` is not below `tree_size` (step 1).
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    LeafIndexOutOfRange {
        /// The leaf index claimed.
        leaf_index: u64,
        /// The tree size claimed.
        tree_size: u64,
    },
    /// The inclusion path has the wrong number of hashes for this index and size
    /// (step 4a, or `sn` not 0 in step 5).
    #[error(
        "inclusion path has {got} hashes; leaf {leaf_index} of a tree of {tree_size} needs {expected}"
    )]
    WrongPathLength {
        /// The leaf index claimed.
        leaf_index: u64,
        /// The tree size claimed.
        tree_size: u64,
        /// How many hashes the path must have.
        expected: usize,
        /// How many it has.
        got: usize,
    },
    /// The path leads to a different root: the entry, the path or the root was changed
    /// (step 5).
    #[error("the inclusion path does not lead to the root hash")]
    RootMismatch,
}

/// Why a consistency proof was refused (RFC 9162 §2.1.4.2, **LOG-5**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// `first` is larger than `second`: a log never shrinks.
    #[error("first tree size {first} is larger than second tree size {second}")]
    FirstExceedsSecond {
        /// The older size.
        first: u64,
        /// The newer size.
        second: u64,
    },
    /// `first` is 0. RFC 9162 defines consistency proofs only for `0 < first`; every
    /// tree extends the empty tree, so such a proof would prove nothing.
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyFirstTree,
    /// The path has the wrong number of hashes for these sizes (including a non-empty
    /// path for equal sizes and an empty path for different sizes; steps 1, 6a and 7).
    #[error("consistency path has {got} hashes; sizes {first} and {second} need {expected}")]
    WrongPathLength {
        /// The older size.
        first: u64,
        /// The newer size.
        second: u64,
        /// How many hashes the path must have.
        expected: usize,
        /// How many it has.
        got: usize,
    },
    /// Two different root hashes for the same tree size: a split view.
    #[error("two different root hashes for tree size {size}: split view")]
    SplitView {
        /// The size both trees claim.
        size: u64,
    },
    /// The path does not lead to `first_hash` (step 7).
    #[error("the consistency path does not lead to the first root hash")]
    FirstRootMismatch,
    /// The path does not lead to `second_hash` (step 7).
    #[error("the consistency path does not lead to the second root hash")]
    SecondRootMismatch,
}

/// How many hashes the inclusion path of `leaf_index` in a tree of `tree_size` has.
///
/// Zero when `leaf_index >= tree_size` (there is no such path).
pub fn inclusion_path_len(leaf_index: u64, tree_size: u64) -> usize {
    if leaf_index >= tree_size {
        return 0;
    }
    // The path splits where the paths to `leaf_index` and to the last leaf diverge:
    // below that, one hash per level; above it, one per left sibling on the border.
    let inner = 64 - (leaf_index ^ (tree_size - 1)).leading_zeros();
    let border = (leaf_index >> inner).count_ones();
    (inner + border) as usize
}

/// How many hashes the consistency path from `first` to `second` has (0 when none is
/// defined).
pub fn consistency_path_len(first: u64, second: u64) -> usize {
    if first == 0 || first >= second {
        return 0;
    }
    let shift = first.trailing_zeros();
    let inner = 64 - ((first - 1) ^ (second - 1)).leading_zeros();
    let border = ((first - 1) >> inner).count_ones();
    let seed = usize::from(first != 1u64 << shift);
    seed + (inner - shift) as usize + border as usize
}

/// The root hash that `inclusion_path` leads to from `hash`, the leaf hash of entry
/// `leaf_index` in a tree of `tree_size` (RFC 9162 §2.1.3.2, steps 1 to 4).
///
/// # Errors
/// [`InclusionError::LeafIndexOutOfRange`] and [`InclusionError::WrongPathLength`].
pub fn root_from_inclusion_path(
    hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
    inclusion_path: &[Hash],
) -> Result<Hash, InclusionError> {
    let wrong_length = || InclusionError::WrongPathLength {
        leaf_index,
        tree_size,
        expected: inclusion_path_len(leaf_index, tree_size),
        got: inclusion_path.len(),
    };
    // 1. If leaf_index is greater than or equal to tree_size, fail.
    if leaf_index >= tree_size {
        return Err(InclusionError::LeafIndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3. Set r to hash.
    let mut r = *hash;
    // 4. For each value p in the inclusion_path array:
    for p in inclusion_path {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //     either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: Set r to HASH(0x01 || r || p).
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Compare sn to 0.
    if sn != 0 {
        return Err(wrong_length());
    }
    Ok(r)
}

/// Verifies that `hash`, the leaf hash of entry `leaf_index`, is in the tree of
/// `tree_size` whose root is `root_hash` (RFC 9162 §2.1.3.2, **LOG-3**).
///
/// # Errors
/// An [`InclusionError`] saying which step failed.
pub fn verify_inclusion(
    hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
    inclusion_path: &[Hash],
    root_hash: &Hash,
) -> Result<(), InclusionError> {
    // 5. ... Compare r against the root_hash.
    if root_from_inclusion_path(hash, leaf_index, tree_size, inclusion_path)? == *root_hash {
        Ok(())
    } else {
        Err(InclusionError::RootMismatch)
    }
}

/// Verifies that the tree of size `second` with root `second_hash` extends the tree of
/// size `first` with root `first_hash` (RFC 9162 §2.1.4.2, **LOG-5**).
///
/// Equal sizes need an empty path and equal roots (`PROOF(m, D[m])` is empty, §2.1.4.1);
/// two roots for one size are a split view.
///
/// # Errors
/// A [`ConsistencyError`] saying which check failed.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_hash: &Hash,
    second_hash: &Hash,
    consistency_path: &[Hash],
) -> Result<(), ConsistencyError> {
    let wrong_length = || ConsistencyError::WrongPathLength {
        first,
        second,
        expected: consistency_path_len(first, second),
        got: consistency_path.len(),
    };
    if first > second {
        return Err(ConsistencyError::FirstExceedsSecond { first, second });
    }
    if first == 0 {
        return Err(ConsistencyError::EmptyFirstTree);
    }
    if first == second {
        if !consistency_path.is_empty() {
            return Err(wrong_length());
        }
        return if first_hash == second_hash {
            Ok(())
        } else {
            Err(ConsistencyError::SplitView { size: first })
        };
    }
    // 1. If consistency_path is an empty array, stop and fail the proof verification.
    if consistency_path.is_empty() {
        return Err(wrong_length());
    }
    // 2. If first is an exact power of 2, then prepend first_hash to the
    //    consistency_path array.
    let seed = first.is_power_of_two().then_some(first_hash);
    let mut path = seed.into_iter().chain(consistency_path);
    // 3. Set fn to first - 1 and sn to second - 1.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is
    //    not set.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let Some(&start) = path.next() else {
        return Err(wrong_length());
    };
    let mut fr = start;
    let mut sr = start;
    // 6. For each subsequent value c in the consistency_path array:
    for c in path {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn equally
            //     until either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: Set sr to HASH(0x01 || sr || c).
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verify that the fr calculated is equal to the first_hash supplied, that the sr
    //    calculated is equal to the second_hash supplied, and that sn is 0.
    if sn != 0 {
        return Err(wrong_length());
    }
    if fr != *first_hash {
        return Err(ConsistencyError::FirstRootMismatch);
    }
    if sr != *second_hash {
        return Err(ConsistencyError::SecondRootMismatch);
    }
    Ok(())
}

/// An inclusion proof: the hashes that lead from entry `leaf_index` to the root of the
/// tree of `tree_size` (RFC 9162 §2.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The zero-based index of the entry.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes from the leaf's sibling up to the root's child.
    pub inclusion_path: Vec<Hash>,
}

impl InclusionProof {
    /// Verifies the proof for the entry with leaf hash `hash` against `root_hash`.
    ///
    /// # Errors
    /// See [`verify_inclusion`].
    pub fn verify(&self, hash: &Hash, root_hash: &Hash) -> Result<(), InclusionError> {
        verify_inclusion(
            hash,
            self.leaf_index,
            self.tree_size,
            &self.inclusion_path,
            root_hash,
        )
    }
}

/// A consistency proof between the tree of size `first` and the tree of size `second`
/// (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub first: u64,
    /// The newer tree size.
    pub second: u64,
    /// The proof hashes.
    pub consistency_path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Verifies the proof against the two root hashes.
    ///
    /// # Errors
    /// See [`verify_consistency`].
    pub fn verify(&self, first_hash: &Hash, second_hash: &Hash) -> Result<(), ConsistencyError> {
        verify_consistency(
            self.first,
            self.second,
            first_hash,
            second_hash,
            &self.consistency_path,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Hash {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        Hash::try_from(bytes.as_slice()).unwrap()
    }

    #[test]
    fn log_1_hashes_are_domain_separated_sha256() {
        // RFC 6962 / RFC 9162 reference values: the empty tree and the empty leaf.
        assert_eq!(
            empty_root(),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            leaf_hash(b""),
            hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
        let l = leaf_hash(b"a");
        let r = leaf_hash(b"b");
        let mut input = vec![1u8];
        input.extend_from_slice(l.as_bytes());
        input.extend_from_slice(r.as_bytes());
        let d = ring::digest::digest(&ring::digest::SHA256, &input);
        assert_eq!(node_hash(&l, &r).as_bytes().as_slice(), d.as_ref());
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    }

    #[test]
    fn log_3_path_lengths_match_the_rfc_algorithm() {
        assert_eq!(inclusion_path_len(0, 1), 0);
        assert_eq!(inclusion_path_len(0, 8), 3);
        assert_eq!(inclusion_path_len(6, 7), 2);
        assert_eq!(inclusion_path_len(4, 5), 1);
        assert_eq!(inclusion_path_len(5, 5), 0);
        assert_eq!(consistency_path_len(1, 8), 3);
        assert_eq!(consistency_path_len(6, 8), 3);
        assert_eq!(consistency_path_len(2, 5), 2);
        assert_eq!(consistency_path_len(4, 4), 0);
    }

    #[test]
    fn log_5_refusals_are_typed() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let r2 = node_hash(&a, &b);
        assert_eq!(
            verify_consistency(2, 1, &r2, &a, &[]),
            Err(ConsistencyError::FirstExceedsSecond {
                first: 2,
                second: 1
            })
        );
        assert_eq!(
            verify_consistency(0, 2, &empty_root(), &r2, &[]),
            Err(ConsistencyError::EmptyFirstTree)
        );
        assert_eq!(
            verify_consistency(2, 2, &r2, &r2, &[a]),
            Err(ConsistencyError::WrongPathLength {
                first: 2,
                second: 2,
                expected: 0,
                got: 1
            })
        );
        assert_eq!(
            verify_consistency(2, 2, &r2, &a, &[]),
            Err(ConsistencyError::SplitView { size: 2 })
        );
        assert_eq!(verify_consistency(2, 2, &r2, &r2, &[]), Ok(()));
        assert_eq!(
            verify_consistency(1, 2, &a, &r2, &[]),
            Err(ConsistencyError::WrongPathLength {
                first: 1,
                second: 2,
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            verify_consistency(1, 2, &a, &r2, &[b, b]),
            Err(ConsistencyError::WrongPathLength {
                first: 1,
                second: 2,
                expected: 1,
                got: 2
            })
        );
        assert_eq!(verify_consistency(1, 2, &a, &r2, &[b]), Ok(()));
        assert_eq!(
            verify_consistency(1, 2, &a, &a, &[b]),
            Err(ConsistencyError::SecondRootMismatch)
        );
        assert_eq!(
            verify_inclusion(&a, 2, 2, &[b], &r2),
            Err(InclusionError::LeafIndexOutOfRange {
                leaf_index: 2,
                tree_size: 2
            })
        );
        assert_eq!(
            verify_inclusion(&a, 0, 2, &[], &r2),
            Err(InclusionError::WrongPathLength {
                leaf_index: 0,
                tree_size: 2,
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            verify_inclusion(&a, 0, 2, &[b, b], &r2),
            Err(InclusionError::WrongPathLength {
                leaf_index: 0,
                tree_size: 2,
                expected: 1,
                got: 2
            })
        );
        assert_eq!(
            verify_inclusion(&b, 0, 2, &[b], &r2),
            Err(InclusionError::RootMismatch)
        );
        assert_eq!(verify_inclusion(&a, 0, 2, &[b], &r2), Ok(()));
    }

    #[test]
    fn hash_debug_is_hex_and_length_is_checked() {
        let h = Hash::from_bytes([0xab; 32]);
        assert_eq!(format!("{h:?}"), format!("Hash({})", "ab".repeat(32)));
        assert_eq!(
            Hash::try_from(&[0u8; 31][..]),
            Err(HashLengthError { len: 31 })
        );
    }

    /// The transparency-dev/merkle test data (Apache-2.0, commit 417fb0c), vendored in
    /// `crates/log/testdata/rfc9162-merkle/` (see its README).
    fn vector_files(kind: &str) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "json") {
                    out.push(p);
                }
            }
        }
        let root = std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/rfc9162-merkle/"
        ))
        .join(kind);
        let mut out = Vec::new();
        walk(&root, &mut out);
        out.sort();
        out
    }

    fn b64(s: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// A vector value as a hash; `None` when it is not 32 bytes, which the typed API
    /// refuses before any verification.
    fn typed(s: &str) -> Option<Hash> {
        Hash::try_from(b64(s).as_slice()).ok()
    }

    fn typed_path(p: &Option<Vec<String>>) -> Option<Vec<Hash>> {
        p.iter().flatten().map(|h| typed(h)).collect()
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct InclusionVector {
        leaf_idx: u64,
        tree_size: u64,
        root: String,
        leaf_hash: String,
        proof: Option<Vec<String>>,
        desc: String,
        want_err: bool,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ConsistencyVector {
        size1: u64,
        size2: u64,
        root1: String,
        root2: String,
        proof: Option<Vec<String>>,
        desc: String,
        want_err: bool,
    }

    #[test]
    fn log_3_transparency_dev_inclusion_vectors() {
        // Source: github.com/transparency-dev/merkle testdata/inclusion (Apache-2.0).
        let files = vector_files("inclusion");
        assert!(files.len() >= 80, "vectors not found: {}", files.len());
        for f in files {
            let v: InclusionVector =
                serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let got = match (typed(&v.leaf_hash), typed(&v.root), typed_path(&v.proof)) {
                (Some(leaf), Some(root), Some(path)) => {
                    verify_inclusion(&leaf, v.leaf_idx, v.tree_size, &path, &root).is_ok()
                }
                _ => false,
            };
            assert_eq!(got, !v.want_err, "{}: {}", f.display(), v.desc);
        }
    }

    #[test]
    fn log_5_transparency_dev_consistency_vectors() {
        // Source: github.com/transparency-dev/merkle testdata/consistency (Apache-2.0).
        let files = vector_files("consistency");
        assert!(files.len() >= 90, "vectors not found: {}", files.len());
        for f in files {
            let v: ConsistencyVector =
                serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let got = match (typed(&v.root1), typed(&v.root2), typed_path(&v.proof)) {
                (Some(r1), Some(r2), Some(path)) => {
                    verify_consistency(v.size1, v.size2, &r1, &r2, &path).is_ok()
                }
                _ if !v.want_err => {
                    // One vector accepts the 12-byte placeholder roots "don't care 2"
                    // for equal sizes: it checks only that equal roots with an empty
                    // proof pass. Our roots are typed 32-byte hashes, so we check the
                    // same rule with a 32-byte stand-in.
                    assert!(f.ends_with("additional/sizes-are-equal-one-and-proof-is-empty.json"));
                    assert_eq!((v.size1, v.size2, v.root1 == v.root2), (1, 1, true));
                    assert!(v.proof.as_ref().is_some_and(Vec::is_empty));
                    let stand_in = leaf_hash(&b64(&v.root1));
                    verify_consistency(1, 1, &stand_in, &stand_in, &[]).is_ok()
                }
                _ => false,
            };
            assert_eq!(got, !v.want_err, "{}: {}", f.display(), v.desc);
        }
    }
}
