//! The `add-checkpoint` request body and the witness's answers, as C2SP tlog-witness
//! fixes them (<https://c2sp.org/tlog-witness>).
//!
//! ```text
//! POST <submission prefix>/add-checkpoint
//!
//! old <size>\n                 no leading zeroes ("0" for zero)
//! <base64 hash>\n ...           at most 63: a consistency proof from <size>
//! \n
//! <checkpoint: a signed note>
//! ```
//!
//! | answer | when (in the order the witness checks) |
//! |---|---|
//! | `400` | the body is not that shape ([`AddCheckpointError::Malformed`]) |
//! | `404` | the origin is not a log this witness knows |
//! | `403` | no valid signature by the log's key, or a line with its name and key ID that fails |
//! | `400` | the old size is above the checkpoint's size |
//! | `409` | the old size is not the size last cosigned; body: that size and `\n`, `Content-Type: text/x.tlog.size` |
//! | `422` | a size-0 checkpoint without the empty tree's root; a proof with old size 0; a proof that does not verify; the same size with another root |
//! | `429` | the log's rate is exceeded (not in tlog-witness; `Retry-After` says when to retry) |
//! | `503` | the new state could not be stored: nothing was cosigned |
//! | `200` | cosigned: the witness's note signature line(s), each `— <name> <base64>\n` |

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::Hash;

/// The most consistency-proof lines a request may carry (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a `409` answer's body (tlog-witness).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why the witness did not cosign. Each has the status tlog-witness gives it
/// ([`AddCheckpointError::status`]); none changes the witness's state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddCheckpointError {
    /// The body is not an `old` line, proof lines, an empty line and a signed note
    /// carrying a checkpoint (`400`).
    #[error("malformed add-checkpoint request: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// The checkpoint's origin is not a log this witness knows (`404`).
    #[error("unknown log origin")]
    UnknownOrigin,
    /// No signature by the log's key, or one with its name and key ID that does not
    /// verify (`403`).
    #[error("the checkpoint is not signed by the log's key")]
    NotSigned,
    /// The old size is above the checkpoint's size (`400`).
    #[error("the old size {old} is above the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size this witness last cosigned for the log (`409`,
    /// the body that size).
    #[error("the witness last cosigned size {latest}")]
    SizeMismatch {
        /// The size last cosigned (0 if none).
        latest: u64,
    },
    /// A checkpoint of size 0 whose root is not the empty tree's (`422`).
    #[error("a checkpoint of size 0 must have the empty tree's root hash")]
    EmptyTreeRoot,
    /// A consistency proof sent with the old size 0 (`422`).
    #[error("the consistency proof must be empty when the old size is 0")]
    ProofFromZero,
    /// The same size as last cosigned with another root hash: a split view (`422`).
    #[error("a second root hash for size {size}: split view")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not verify (`422`).
    #[error("the consistency proof does not verify")]
    Inconsistent,
    /// The log sent more requests than its rate allows (`429`).
    #[error("too many add-checkpoint requests for this log; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a request will be taken.
        retry_after: u64,
    },
    /// The new state could not be stored, or the clock is before 1970: nothing was
    /// cosigned (`503`).
    #[error("the witness could not store its state; nothing was cosigned")]
    Unavailable,
}

impl AddCheckpointError {
    /// The HTTP status tlog-witness gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed { .. } | Self::OldSizeTooLarge { .. } => 400,
            Self::NotSigned => 403,
            Self::UnknownOrigin => 404,
            Self::SizeMismatch { .. } => 409,
            Self::EmptyTreeRoot | Self::ProofFromZero | Self::SplitView { .. } => 422,
            Self::Inconsistent => 422,
            Self::RateLimited { .. } => 429,
            Self::Unavailable => 503,
        }
    }

    /// A machine-readable code, for a JSON refusal (every refusal but the `409`, whose
    /// body tlog-witness fixes).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "request_malformed",
            Self::UnknownOrigin => "unknown_origin",
            Self::NotSigned => "not_signed",
            Self::OldSizeTooLarge { .. } => "old_size_too_large",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::EmptyTreeRoot => "empty_tree_root",
            Self::ProofFromZero => "proof_from_zero",
            Self::SplitView { .. } => "split_view",
            Self::Inconsistent => "inconsistent_proof",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "witness_unavailable",
        }
    }

    /// Whether this refusal may be evidence of the log's misbehaviour: the origin is
    /// known and the log's signature verified, but the checkpoint fails a consistency
    /// check (tlog-witness lets the witness keep such requests).
    pub fn is_evidence(&self) -> bool {
        matches!(
            self,
            Self::EmptyTreeRoot | Self::SplitView { .. } | Self::Inconsistent
        )
    }

    /// The body of a `409`: the latest cosigned size and a newline (tlog-witness).
    pub fn size_body(&self) -> Option<String> {
        match self {
            Self::SizeMismatch { latest } => Some(format!("{latest}\n")),
            _ => None,
        }
    }
}

/// A parsed `add-checkpoint` request body: what the witness is asked to cosign, not yet
/// checked against anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest<'a> {
    /// The size of the last checkpoint the client saw this witness cosign.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: &'a [u8],
}

/// An ASCII decimal with no leading zeroes (`0` for zero), as tlog-witness writes sizes.
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

impl<'a> AddCheckpointRequest<'a> {
    /// Parses a body: an `old <size>` line, at most [`MAX_PROOF_LINES`] base64 hashes, an
    /// empty line, then the checkpoint (tlog-witness). A proof with the old size 0 is
    /// parsed: it is refused later, with `422`, as tlog-witness says.
    ///
    /// # Errors
    /// [`AddCheckpointError::Malformed`].
    pub fn parse(body: &'a [u8]) -> Result<Self, AddCheckpointError> {
        let bad = |what| AddCheckpointError::Malformed { what };
        let mut rest = body;
        let next_line = |rest: &mut &'a [u8]| -> Option<&'a str> {
            let i = rest.iter().position(|&b| b == b'\n')?;
            let line = std::str::from_utf8(&rest[..i]).ok()?;
            *rest = &rest[i + 1..];
            Some(line)
        };
        let first = next_line(&mut rest).ok_or(bad("no `old` line"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(bad("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest).ok_or(bad("no empty line before the checkpoint"))?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let bytes = B64
                .decode(line.as_bytes())
                .map_err(|_| bad("a proof line is not base64"))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("a proof line is not a 32-byte hash"))?;
            proof.push(Hash::from_bytes(hash));
        }
        Ok(Self {
            old,
            proof,
            checkpoint: rest,
        })
    }

    /// The body, written as [`AddCheckpointRequest::parse`] reads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h.as_bytes()).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(self.checkpoint);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_1_the_body_parses_as_tlog_witness_writes_it_and_nothing_else() {
        let h = B64.encode([7u8; 32]);
        let ok = format!("old 3\n{h}\n{h}\n\nnote");
        let r = AddCheckpointRequest::parse(ok.as_bytes()).unwrap();
        assert_eq!((r.old, r.proof.len(), r.checkpoint), (3, 2, &b"note"[..]));
        assert_eq!(r.to_bytes(), ok.as_bytes());
        let sixty_four = format!("old 3\n{}\nnote", format!("{h}\n").repeat(64));
        for bad in [
            "",
            "old 3",
            "old 01\n\n",
            "old -1\n\n",
            "old +1\n\n",
            "old  1\n\n",
            "old x\n\n",
            "new 3\n\n",
            "old 3\nnot base64!\n\n",
            "old 3\nAAAA\n\n",
            "old 3\n",
            sixty_four.as_str(),
        ] {
            assert!(
                matches!(
                    AddCheckpointRequest::parse(bad.as_bytes()),
                    Err(AddCheckpointError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
        // 63 lines are allowed; a proof from 0 parses (refused later with 422).
        let sixty_three = format!("old 3\n{}\nnote", format!("{h}\n").repeat(63));
        assert_eq!(
            AddCheckpointRequest::parse(sixty_three.as_bytes())
                .unwrap()
                .proof
                .len(),
            63
        );
        assert!(AddCheckpointRequest::parse(format!("old 0\n{h}\n\n").as_bytes()).is_ok());
    }
}
