//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the log's signed tree head.
//!
//! ```text
//! <origin>                      non-empty; for minimis logs, the log key's name
//! <tree size>                   ASCII decimal, no leading zeroes ("0" for the empty tree)
//! <root hash>                   standard base64 of the 32-byte RFC 9162 root hash
//! [<extension line>...]         optional, each non-empty (NOT RECOMMENDED; minimis logs
//!                               write none)
//! ```
//!
//! The body is the text of a C2SP signed note signed by the log's Ed25519 key; witnesses
//! add `cosignature/v1` lines (see [`crate::cosignature`]).
//!
//! Spec: `spec/log.md` § Checkpoints (**LOG-12** to **LOG-14**).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::cosignature::{CosignatureError, VerifiedCosignature};
use crate::note::{
    NoteParseError, NoteSignature, NoteSigner, NoteTextError, NoteVerifyError, SignatureType,
    SignedNote, VerifierKey,
};
use crate::verify::Hash;

/// A checkpoint body: origin, tree size, root hash and extension lines.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    tree_size: u64,
    root_hash: Hash,
    extensions: Vec<String>,
}

/// Why a checkpoint body was refused (**LOG-12**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointParseError {
    /// The text does not end in a newline.
    #[error("a checkpoint body must end in a newline")]
    NoFinalNewline,
    /// Fewer than three lines.
    #[error("a checkpoint body has at least three lines: origin, tree size, root hash")]
    TooFewLines,
    /// The origin line is empty or contains a control character.
    #[error("a checkpoint origin must be non-empty text")]
    Origin,
    /// The tree size is not ASCII decimal without leading zeroes, or overflows 64 bits.
    #[error("a checkpoint tree size must be ASCII decimal with no leading zeroes")]
    TreeSize,
    /// The root hash is not standard base64 of 32 bytes.
    #[error("a checkpoint root hash must be standard base64 of 32 bytes")]
    RootHash,
    /// An extension line is empty or contains a control character.
    #[error("checkpoint extension lines must be non-empty")]
    Extension,
}

fn is_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// Parses an ASCII decimal with no leading zeroes (unless it is `0`).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    ///
    /// # Errors
    /// [`CheckpointParseError::Origin`] if `origin` is empty or contains a control
    /// character (a newline included).
    pub fn new(
        origin: &str,
        tree_size: u64,
        root_hash: Hash,
    ) -> Result<Self, CheckpointParseError> {
        if !is_line(origin) {
            return Err(CheckpointParseError::Origin);
        }
        Ok(Self {
            origin: origin.to_owned(),
            tree_size,
            root_hash,
            extensions: Vec::new(),
        })
    }

    /// Parses a checkpoint body (**LOG-12**).
    ///
    /// # Errors
    /// A [`CheckpointParseError`] naming the broken rule.
    pub fn parse(text: &str) -> Result<Self, CheckpointParseError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointParseError::NoFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointParseError::TooFewLines);
        };
        if !is_line(origin) {
            return Err(CheckpointParseError::Origin);
        }
        let tree_size = parse_decimal(size).ok_or(CheckpointParseError::TreeSize)?;
        let root_hash = B64
            .decode(root.as_bytes())
            .ok()
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
            .ok_or(CheckpointParseError::RootHash)?;
        let mut extensions = Vec::new();
        for line in lines {
            if !is_line(line) {
                return Err(CheckpointParseError::Extension);
            }
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            tree_size,
            root_hash,
            extensions,
        })
    }

    /// The origin: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of entries in the tree.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The RFC 9162 root hash of the tree.
    pub fn root_hash(&self) -> &Hash {
        &self.root_hash
    }

    /// The extension lines (opaque; minimis logs write none).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The body text, each line ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            B64.encode(self.root_hash.as_bytes())
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("origin", &self.origin)
            .field("tree_size", &self.tree_size)
            .field("root_hash", &self.root_hash)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Why a checkpoint could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignCheckpointError {
    /// The origin is not the signer's key name (**LOG-13**).
    #[error("the checkpoint origin must be the log key's name `{key_name}`")]
    OriginIsNotKeyName {
        /// The signer's key name.
        key_name: String,
    },
    /// The body cannot be carried in a note.
    #[error(transparent)]
    Text(#[from] NoteTextError),
}

/// Why a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenCheckpointError {
    /// The key given is not an Ed25519 (`0x01`) note key.
    #[error("a log key must be an Ed25519 (0x01) key")]
    NotALogKey,
    /// The note is malformed.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteParseError),
    /// The log's signature is missing or bad.
    #[error("checkpoint signature: {0}")]
    Signature(#[from] NoteVerifyError),
    /// The body is not a checkpoint.
    #[error("checkpoint body: {0}")]
    Body(#[from] CheckpointParseError),
    /// The origin line is not the log key's name (**LOG-13**).
    #[error("checkpoint origin is not `{expected}`")]
    OriginMismatch {
        /// The log key's name.
        expected: String,
    },
}

/// A checkpoint with its signed note: the log's signature and any witness cosignatures.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log's key. The origin must be the key's name
    /// (**LOG-13**).
    ///
    /// # Errors
    /// A [`SignCheckpointError`].
    pub fn sign(checkpoint: Checkpoint, signer: &NoteSigner) -> Result<Self, SignCheckpointError> {
        if checkpoint.origin != signer.name().as_str() {
            return Err(SignCheckpointError::OriginIsNotKeyName {
                key_name: signer.name().to_string(),
            });
        }
        let note = signer.sign_note(&checkpoint.to_text())?;
        Ok(Self { checkpoint, note })
    }

    /// Parses a signed checkpoint and verifies the log's signature with `log_key`; the
    /// origin must be the key's name (**LOG-11**, **LOG-13**). Other signatures (witness
    /// cosignatures) are kept, unverified; see [`SignedCheckpoint::verify_cosignatures`].
    ///
    /// # Errors
    /// An [`OpenCheckpointError`].
    pub fn open(msg: &[u8], log_key: &VerifierKey) -> Result<Self, OpenCheckpointError> {
        if log_key.signature_type() != SignatureType::Ed25519 {
            return Err(OpenCheckpointError::NotALogKey);
        }
        let note = SignedNote::parse(msg)?;
        note.verify(core::slice::from_ref(log_key))?;
        let checkpoint = Checkpoint::parse(note.text())?;
        if checkpoint.origin != log_key.name().as_str() {
            return Err(OpenCheckpointError::OriginMismatch {
                expected: log_key.name().to_string(),
            });
        }
        Ok(Self { checkpoint, note })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// Adds a witness's cosignature after verifying it with `witness`; replaces any
    /// earlier cosignature by the same key.
    ///
    /// # Errors
    /// A [`CosignatureError`] if it is not `witness`'s valid cosignature of this
    /// checkpoint.
    pub fn add_cosignature(
        &mut self,
        cosignature: NoteSignature,
        witness: &VerifierKey,
    ) -> Result<VerifiedCosignature, CosignatureError> {
        let verified = crate::cosignature::verify_one(&self.note, &cosignature, witness)?;
        self.note
            .add_signature(cosignature)
            .map_err(|_| CosignatureError::TooManySignatures)?;
        Ok(verified)
    }

    /// Verifies that every key in `witnesses` cosigned this checkpoint (**LOG-15**).
    ///
    /// # Errors
    /// A [`CosignatureError`] naming the first witness whose cosignature is missing or
    /// bad.
    pub fn verify_cosignatures(
        &self,
        witnesses: &[VerifierKey],
    ) -> Result<Vec<VerifiedCosignature>, CosignatureError> {
        witnesses
            .iter()
            .map(|w| crate::cosignature::verify_required(&self.note, w))
            .collect()
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.note, f)
    }
}

impl fmt::Debug for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCheckpoint")
            .field("checkpoint", &self.checkpoint)
            .field("signatures", &self.note.signatures())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::KeyName;
    use crate::verify::empty_root;
    use minimis_crypto::SigningKey;

    fn signer() -> NoteSigner {
        NoteSigner::new(
            KeyName::new("log.minimis.example/test").unwrap(),
            SigningKey::from_seed(&[1; 32]).unwrap(),
        )
    }

    #[test]
    fn log_12_body_round_trips_and_matches_the_spec_example() {
        // The example of c2sp.org/tlog-checkpoint.
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(text).unwrap();
        assert_eq!(cp.origin(), "example.com/behind-the-sofa");
        assert_eq!(cp.tree_size(), 20_852_163);
        assert_eq!(cp.to_text(), text);
        let ext = format!("{text}ext one\next two\n");
        let cp = Checkpoint::parse(&ext).unwrap();
        assert_eq!(cp.extensions(), ["ext one", "ext two"]);
        assert_eq!(cp.to_text(), ext);
        let empty = Checkpoint::new("o", 0, empty_root()).unwrap();
        assert_eq!(
            empty.to_text(),
            "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
    }

    #[test]
    fn log_12_malformed_bodies_are_refused() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let cases = [
            (
                format!("o\n1\n{root}"),
                CheckpointParseError::NoFinalNewline,
            ),
            ("o\n1\n".to_owned(), CheckpointParseError::TooFewLines),
            (format!("\n1\n{root}\n"), CheckpointParseError::Origin),
            (format!("o\n01\n{root}\n"), CheckpointParseError::TreeSize),
            (format!("o\n+1\n{root}\n"), CheckpointParseError::TreeSize),
            (format!("o\n\n{root}\n"), CheckpointParseError::TreeSize),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                CheckpointParseError::TreeSize,
            ),
            ("o\n1\nAAAA\n".to_owned(), CheckpointParseError::RootHash),
            (
                format!("o\n1\n{}\n", &root[..43]),
                CheckpointParseError::RootHash,
            ),
            (format!("o\n1\n{root}\n\n"), CheckpointParseError::Extension),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n"))
                .unwrap()
                .tree_size(),
            u64::MAX
        );
    }

    #[test]
    fn log_13_origin_is_the_log_key_name() {
        let s = signer();
        let cp = Checkpoint::new("someone.else/log", 0, empty_root()).unwrap();
        assert!(matches!(
            SignedCheckpoint::sign(cp.clone(), &s),
            Err(SignCheckpointError::OriginIsNotKeyName { .. })
        ));
        // A checkpoint signed by the right key but naming another origin is refused.
        let other = NoteSigner::new(
            KeyName::new("log.minimis.example/test").unwrap(),
            SigningKey::from_seed(&[1; 32]).unwrap(),
        );
        let note = other.sign_note(&cp.to_text()).unwrap().to_string();
        assert_eq!(
            SignedCheckpoint::open(note.as_bytes(), &s.verifier_key()),
            Err(OpenCheckpointError::OriginMismatch {
                expected: "log.minimis.example/test".into()
            })
        );
        let good = Checkpoint::new(s.name().as_str(), 0, empty_root()).unwrap();
        let signed = SignedCheckpoint::sign(good.clone(), &s).unwrap();
        let opened =
            SignedCheckpoint::open(signed.to_string().as_bytes(), &s.verifier_key()).unwrap();
        assert_eq!(opened.checkpoint(), &good);
    }
}
