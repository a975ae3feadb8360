//! C2SP tlog-policy (<https://c2sp.org/tlog-policy>): which logs a verifier accepts,
//! which witnesses it knows, and the quorum of their cosignatures a checkpoint must carry.
//!
//! ```text
//! # comment
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! One parser ([`TlogPolicy::parse`]) for every verifier (the auditor, the device, the
//! operator deciding when a checkpoint is cosigned), and one evaluation
//! ([`TlogPolicy::verify_quorum`]): a witness counts once however many lines it has, a line
//! by a key the policy does not know is ignored, and a line by a known witness that does
//! not verify rejects the whole note (signed-note: "clients SHOULD reject the whole note").
//!
//! The policy's identity is [`TlogPolicyHash`], the SHA-256 of the file's bytes exactly as
//! written; the operator logs it (entry `0x0f`, `spec/log.md`) so that every verifier can
//! check it holds the same policy as everyone else.
//!
//! Spec: `spec/log.md` § The quorum (**LOG-63** to **LOG-66**).

use core::fmt;
use core::str::FromStr as _;

use ring::digest;

use crate::checkpoint::SignedCheckpoint;
use crate::cosignature::{CosignatureError, VerifiedCosignature};
use crate::note::{SignatureType, SignedNote, VerifierKey, VerifierKeyError};

/// The largest policy file read, in bytes.
pub const MAX_POLICY_LEN: usize = 64 * 1024;

/// The most logs, witnesses and groups a policy may define, each (the spec recommends
/// supporting at least 32).
pub const MAX_DEFINITIONS: usize = 64;

/// The name `none`: predefined, only for `quorum none`.
const NONE: &[u8] = b"none";

/// The SHA-256 of a policy file's bytes: the policy's identity, logged by the operator
/// (entry `0x0f`, **LOG-65**).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlogPolicyHash(pub [u8; 32]);

impl TlogPolicyHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for TlogPolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TlogPolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlogPolicyHash({})", self.to_hex())
    }
}

/// A log the policy accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log's key (Ed25519, `0x01`); its name is the log's origin.
    pub key: VerifierKey,
    /// Where to reach the log, if given (opaque octets).
    pub url: Option<Vec<u8>>,
}

/// A witness the policy knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy (opaque octets; meaningful only inside the policy).
    pub name: Vec<u8>,
    /// Its `cosignature/v1` key.
    pub key: VerifierKey,
    /// Its submission prefix URL, if given (opaque octets).
    pub url: Option<Vec<u8>>,
}

/// A member of a group or the quorum: a witness or an earlier group, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// The witness at this index of [`TlogPolicy::witnesses`].
    Witness(usize),
    /// The group at this index of [`TlogPolicy::groups`].
    Group(usize),
}

/// A group: witnessed when at least `threshold` of its members are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Its name.
    pub name: Vec<u8>,
    /// How many members must have witnessed (1 to the number of members).
    pub threshold: usize,
    /// Its members, each defined on an earlier line.
    pub members: Vec<Member>,
}

/// The quorum rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// `quorum none`: no cosignature is required.
    None,
    /// A witness or a group that must have witnessed.
    Of(Member),
}

/// A parsed tlog-policy file (**LOG-63**).
#[derive(Clone, PartialEq, Eq)]
pub struct TlogPolicy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Quorum,
    hash: TlogPolicyHash,
    bytes: Vec<u8>,
}

impl fmt::Debug for TlogPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlogPolicy")
            .field("hash", &self.hash)
            .field("logs", &self.logs.len())
            .field("witnesses", &self.witnesses.len())
            .field("groups", &self.groups.len())
            .field("quorum", &self.quorum)
            .finish()
    }
}

/// Why a policy file was refused (**LOG-63**). `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogPolicyError {
    /// Larger than [`MAX_POLICY_LEN`].
    #[error("a tlog-policy file is at most {MAX_POLICY_LEN} bytes")]
    TooLong,
    /// A control character other than tab and newline, or DEL.
    #[error("line {line}: a tlog-policy file holds no control character but tab and newline")]
    ControlCharacter {
        /// The line.
        line: usize,
    },
    /// The last line is not terminated by a newline.
    #[error("line {line}: every line of a tlog-policy file ends in a newline")]
    NoFinalNewline {
        /// The line.
        line: usize,
    },
    /// A line that starts with no keyword this format defines.
    #[error("line {line}: unknown keyword (log, witness, group and quorum are defined)")]
    UnknownKeyword {
        /// The line.
        line: usize,
    },
    /// A line with too few or too many items for its keyword.
    #[error("line {line}: wrong number of items for `{keyword}`")]
    Arity {
        /// The line.
        line: usize,
        /// The keyword.
        keyword: &'static str,
    },
    /// A vkey that does not parse.
    #[error("line {line}: {source}")]
    Vkey {
        /// The line.
        line: usize,
        /// Why.
        source: VerifierKeyError,
    },
    /// A log key that is not an Ed25519 (`0x01`) note key, or a witness key that is not a
    /// cosignature key.
    #[error("line {line}: the key's signature type is not one for a {role}")]
    WrongKeyType {
        /// The line.
        line: usize,
        /// `log` or `witness`.
        role: &'static str,
    },
    /// Two logs with the same public key.
    #[error("line {line}: a log with this public key is already defined")]
    DuplicateLog {
        /// The line.
        line: usize,
    },
    /// Two witnesses with the same public key.
    #[error("line {line}: a witness with this public key is already defined")]
    DuplicateWitness {
        /// The line.
        line: usize,
    },
    /// A witness or group name already defined, or `none`.
    #[error("line {line}: the name is already defined, or is `none`")]
    DuplicateName {
        /// The line.
        line: usize,
    },
    /// A name not defined on an earlier line (or `none` as a group member).
    #[error("line {line}: the name is not defined on an earlier line")]
    UndefinedName {
        /// The line.
        line: usize,
    },
    /// A name listed as a group member a second time (in this group or an earlier one).
    #[error("line {line}: a name is listed as a group member at most once")]
    MemberTwice {
        /// The line.
        line: usize,
    },
    /// A threshold that is not `all`, `any` or a decimal 1 to the number of members.
    #[error("line {line}: the threshold must be all, any, or 1 to the number of members")]
    Threshold {
        /// The line.
        line: usize,
    },
    /// A second `quorum` line.
    #[error("line {line}: a tlog-policy file has exactly one quorum line")]
    SecondQuorum {
        /// The line.
        line: usize,
    },
    /// No `quorum` line.
    #[error("a tlog-policy file has exactly one quorum line; there is none")]
    NoQuorum,
    /// More than [`MAX_DEFINITIONS`] logs, witnesses or groups.
    #[error("line {line}: more than {MAX_DEFINITIONS} {what}")]
    TooMany {
        /// The line.
        line: usize,
        /// `logs`, `witnesses` or `groups`.
        what: &'static str,
    },
}

/// Why a checkpoint does not satisfy a policy (**LOG-64**).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuorumError {
    /// A line by a witness the policy knows does not verify: the whole note is refused.
    #[error(transparent)]
    Cosignature(CosignatureError),
    /// Valid cosignatures from too few witnesses.
    #[error("cosigned by {cosigned} of the policy's {known} witnesses: below its quorum")]
    BelowQuorum {
        /// How many distinct known witnesses cosigned validly.
        cosigned: usize,
        /// How many witnesses the policy knows.
        known: usize,
    },
}

/// The cosignatures that satisfied a policy's quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedQuorum {
    /// One per known witness that cosigned, in the policy's order.
    pub cosignatures: Vec<VerifiedCosignature>,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&b| is_ws(b))
        .filter(|f| !f.is_empty())
        .collect()
}

fn vkey(line: usize, text: &[u8]) -> Result<VerifierKey, TlogPolicyError> {
    let s = core::str::from_utf8(text).map_err(|_| TlogPolicyError::Vkey {
        line,
        source: VerifierKeyError::Format,
    })?;
    VerifierKey::from_str(s).map_err(|source| TlogPolicyError::Vkey { line, source })
}

fn decimal(text: &[u8]) -> Option<usize> {
    if text.is_empty()
        || !text.iter().all(u8::is_ascii_digit)
        || (text.len() > 1 && text[0] == b'0')
    {
        return None;
    }
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// Names defined so far, in one namespace.
#[derive(Default)]
struct Names {
    defined: Vec<(Vec<u8>, Member)>,
    used: Vec<Member>,
}

impl Names {
    fn define(&mut self, line: usize, name: &[u8], m: Member) -> Result<(), TlogPolicyError> {
        if name == NONE || self.defined.iter().any(|(n, _)| n == name) {
            return Err(TlogPolicyError::DuplicateName { line });
        }
        self.defined.push((name.to_vec(), m));
        Ok(())
    }

    fn get(&self, line: usize, name: &[u8]) -> Result<Member, TlogPolicyError> {
        self.defined
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| *m)
            .ok_or(TlogPolicyError::UndefinedName { line })
    }
}

impl TlogPolicy {
    /// Parses a policy file (**LOG-63**), to the letter of c2sp.org/tlog-policy: lines
    /// end in newline, items are separated by spaces and tabs, `#` lines and blank lines
    /// are ignored, names are opaque octets in one namespace with `none` predefined, a
    /// group or the quorum names only what earlier lines defined, each name is a group
    /// member at most once in the whole file, and there is exactly one quorum line.
    ///
    /// Where the spec leaves room, this parser is strict: the file ends in a newline, a
    /// numeric threshold has no leading zero, a log key is Ed25519 (`0x01`) and a witness
    /// key `cosignature/v1` (`0x04`), and at most [`MAX_DEFINITIONS`] of each kind.
    ///
    /// # Errors
    /// A [`TlogPolicyError`] naming the line and the broken rule.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogPolicyError> {
        if bytes.len() > MAX_POLICY_LEN {
            return Err(TlogPolicyError::TooLong);
        }
        let mut logs: Vec<PolicyLog> = Vec::new();
        let mut witnesses: Vec<PolicyWitness> = Vec::new();
        let mut groups: Vec<PolicyGroup> = Vec::new();
        let mut quorum = None;
        let mut names = Names::default();
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        // `split` yields an empty last piece after a final newline.
        let last = lines.pop().unwrap_or_default();
        if !last.is_empty() {
            return Err(TlogPolicyError::NoFinalNewline {
                line: lines.len() + 1,
            });
        }
        for (i, raw) in lines.iter().enumerate() {
            let line = i + 1;
            if raw.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(TlogPolicyError::ControlCharacter { line });
            }
            let f = fields(raw);
            let Some((&keyword, args)) = f.split_first() else {
                continue;
            };
            if keyword.first() == Some(&b'#') {
                continue;
            }
            match keyword {
                b"log" => {
                    let (key, url) = match args {
                        [k] => (*k, None),
                        [k, u] => (*k, Some(u.to_vec())),
                        _ => {
                            return Err(TlogPolicyError::Arity {
                                line,
                                keyword: "log",
                            });
                        }
                    };
                    let key = vkey(line, key)?;
                    if key.signature_type() != SignatureType::Ed25519 {
                        return Err(TlogPolicyError::WrongKeyType { line, role: "log" });
                    }
                    if logs.iter().any(|l| l.key.public_key() == key.public_key()) {
                        return Err(TlogPolicyError::DuplicateLog { line });
                    }
                    if logs.len() == MAX_DEFINITIONS {
                        return Err(TlogPolicyError::TooMany { line, what: "logs" });
                    }
                    logs.push(PolicyLog { key, url });
                }
                b"witness" => {
                    let (name, key, url) = match args {
                        [n, k] => (*n, *k, None),
                        [n, k, u] => (*n, *k, Some(u.to_vec())),
                        _ => {
                            return Err(TlogPolicyError::Arity {
                                line,
                                keyword: "witness",
                            });
                        }
                    };
                    let key = vkey(line, key)?;
                    if key.signature_type() != SignatureType::CosignatureV1 {
                        return Err(TlogPolicyError::WrongKeyType {
                            line,
                            role: "witness",
                        });
                    }
                    if witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(TlogPolicyError::DuplicateWitness { line });
                    }
                    if witnesses.len() == MAX_DEFINITIONS {
                        return Err(TlogPolicyError::TooMany {
                            line,
                            what: "witnesses",
                        });
                    }
                    names.define(line, name, Member::Witness(witnesses.len()))?;
                    witnesses.push(PolicyWitness {
                        name: name.to_vec(),
                        key,
                        url,
                    });
                }
                b"group" => {
                    let [name, threshold, members @ ..] = args else {
                        return Err(TlogPolicyError::Arity {
                            line,
                            keyword: "group",
                        });
                    };
                    if members.is_empty() {
                        return Err(TlogPolicyError::Arity {
                            line,
                            keyword: "group",
                        });
                    }
                    let mut resolved = Vec::with_capacity(members.len());
                    for m in members {
                        if *m == NONE {
                            return Err(TlogPolicyError::UndefinedName { line });
                        }
                        let member = names.get(line, m)?;
                        if names.used.contains(&member) {
                            return Err(TlogPolicyError::MemberTwice { line });
                        }
                        names.used.push(member);
                        resolved.push(member);
                    }
                    let n = resolved.len();
                    let threshold = match *threshold {
                        b"all" => n,
                        b"any" => 1,
                        k => decimal(k)
                            .filter(|k| (1..=n).contains(k))
                            .ok_or(TlogPolicyError::Threshold { line })?,
                    };
                    if groups.len() == MAX_DEFINITIONS {
                        return Err(TlogPolicyError::TooMany {
                            line,
                            what: "groups",
                        });
                    }
                    names.define(line, name, Member::Group(groups.len()))?;
                    groups.push(PolicyGroup {
                        name: name.to_vec(),
                        threshold,
                        members: resolved,
                    });
                }
                b"quorum" => {
                    let [name] = args else {
                        return Err(TlogPolicyError::Arity {
                            line,
                            keyword: "quorum",
                        });
                    };
                    if quorum.is_some() {
                        return Err(TlogPolicyError::SecondQuorum { line });
                    }
                    quorum = Some(if *name == NONE {
                        Quorum::None
                    } else {
                        Quorum::Of(names.get(line, name)?)
                    });
                }
                _ => return Err(TlogPolicyError::UnknownKeyword { line }),
            }
        }
        Ok(Self {
            logs,
            witnesses,
            groups,
            quorum: quorum.ok_or(TlogPolicyError::NoQuorum)?,
            hash: TlogPolicyHash::of(bytes),
            bytes: bytes.to_vec(),
        })
    }

    /// The logs the policy accepts (may be empty: the log is then known from context).
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses the policy knows.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in the order defined.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum rule.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// The file's bytes, exactly as parsed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of the file's bytes (**LOG-65**).
    pub fn hash(&self) -> TlogPolicyHash {
        self.hash
    }

    /// Whether the policy accepts checkpoints signed by `log_key`: it lists that key
    /// (name and public key), or lists no log at all (the log is known from context).
    pub fn accepts_log(&self, log_key: &VerifierKey) -> bool {
        self.logs.is_empty() || self.logs.iter().any(|l| l.key == *log_key)
    }

    /// Whether the set of witnesses marked in `cosigned` (indexed as
    /// [`TlogPolicy::witnesses`]) satisfies the quorum (**LOG-64**).
    pub fn satisfied_by(&self, cosigned: &[bool]) -> bool {
        let witnessed = |m: Member, groups: &[bool]| match m {
            Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            Member::Group(g) => groups.get(g).copied().unwrap_or(false),
        };
        // Groups name only earlier groups: one pass in order evaluates them all.
        let mut groups = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let count = g.members.iter().filter(|&&m| witnessed(m, &groups)).count();
            groups.push(count >= g.threshold);
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Of(m) => witnessed(m, &groups),
        }
    }

    /// Which of the policy's witnesses validly cosigned `note`: every line by a known
    /// witness (its key's name and key ID) must verify, lines by other keys are ignored,
    /// and a witness counts once however many valid lines it has.
    ///
    /// # Errors
    /// [`QuorumError::Cosignature`] if a known witness's line does not verify.
    pub fn cosigned(
        &self,
        note: &SignedNote,
    ) -> Result<Vec<Option<VerifiedCosignature>>, QuorumError> {
        self.witnesses
            .iter()
            .map(
                |w| match crate::cosignature::verify_required(note, &w.key) {
                    Ok(v) => Ok(Some(v)),
                    Err(CosignatureError::Missing { .. }) => Ok(None),
                    Err(e) => Err(QuorumError::Cosignature(e)),
                },
            )
            .collect()
    }

    /// Verifies that `checkpoint` (whose log signature the caller has verified with a key
    /// [`TlogPolicy::accepts_log`]) carries the quorum's cosignatures (**LOG-64**).
    ///
    /// # Errors
    /// A [`QuorumError`].
    pub fn verify_quorum(
        &self,
        checkpoint: &SignedCheckpoint,
    ) -> Result<VerifiedQuorum, QuorumError> {
        let found = self.cosigned(checkpoint.note())?;
        let marks: Vec<bool> = found.iter().map(Option::is_some).collect();
        if !self.satisfied_by(&marks) {
            return Err(QuorumError::BelowQuorum {
                cosigned: marks.iter().filter(|&&b| b).count(),
                known: self.witnesses.len(),
            });
        }
        Ok(VerifiedQuorum {
            cosignatures: found.into_iter().flatten().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature::Cosigner;
    use crate::note::{KeyName, NoteSignature, NoteSigner};
    use crate::verify::empty_root;
    use minimis_crypto::SigningKey;

    fn log() -> NoteSigner {
        NoteSigner::new(
            KeyName::new("log.minimis.example/q").unwrap(),
            SigningKey::from_seed(&[1; 32]).unwrap(),
        )
    }

    fn cosigner(i: u8) -> Cosigner {
        Cosigner::new(
            KeyName::new(&format!("witness{i}.example")).unwrap(),
            SigningKey::from_seed(&[10 + i; 32]).unwrap(),
        )
    }

    fn three_of(k: &str) -> String {
        format!(
            "# a 2-of-3 policy\nlog {}\n\nwitness A {}\nwitness B {} https://b.example/\n\twitness C {}\ngroup all-three {k} A B C\nquorum all-three\n",
            log().verifier_key(),
            cosigner(1).verifier_key(),
            cosigner(2).verifier_key(),
            cosigner(3).verifier_key(),
        )
    }

    fn checkpoint(by: &[u8]) -> SignedCheckpoint {
        let cp = Checkpoint::new(log().name().as_str(), 0, empty_root()).unwrap();
        let mut signed = SignedCheckpoint::sign(cp, &log()).unwrap();
        for &i in by {
            let c = cosigner(i);
            let sig = c.cosign_unchecked(signed.checkpoint(), 1_800_000_000);
            signed.add_cosignature(sig, &c.verifier_key()).unwrap();
        }
        signed
    }

    #[test]
    fn log_63_the_spec_example_parses_with_two_levels_of_groups() {
        let w: Vec<String> = (1..=6)
            .map(|i| cosigner(i).verifier_key().to_string())
            .collect();
        let text = format!(
            "log {}\n\nwitness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\nwitness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log().verifier_key(),
            w[0],
            w[1],
            w[2],
            w[3],
            w[4],
            w[5]
        );
        let p = TlogPolicy::parse(text.as_bytes()).unwrap();
        assert_eq!(p.logs().len(), 1);
        assert_eq!(p.witnesses().len(), 6);
        assert_eq!(p.groups()[0].threshold, 2);
        assert_eq!(p.groups()[1].threshold, 1);
        assert_eq!(p.groups()[2].threshold, 2);
        assert_eq!(p.quorum(), Quorum::Of(Member::Group(2)));
        // Two X and one Y: witnessed. Three X and no Y: not. One X and three Y: not.
        let set = |on: &[usize]| -> Vec<bool> { (0..6).map(|i| on.contains(&i)).collect() };
        assert!(p.satisfied_by(&set(&[0, 1, 5])));
        assert!(!p.satisfied_by(&set(&[0, 1, 2])));
        assert!(!p.satisfied_by(&set(&[2, 3, 4, 5])));
        assert_eq!(p.hash(), TlogPolicyHash::of(text.as_bytes()));
    }

    #[test]
    fn log_63_every_malformed_policy_is_refused_with_its_line_and_rule() {
        let l = log().verifier_key().to_string();
        let a = cosigner(1).verifier_key().to_string();
        let b = cosigner(2).verifier_key().to_string();
        // The same public key under another name is a duplicate.
        let a_renamed = VerifierKey::cosignature_v1(
            KeyName::new("other.name").unwrap(),
            *cosigner(1).verifier_key().public_key(),
        )
        .to_string();
        let l_renamed = VerifierKey::ed25519(
            KeyName::new("other.log").unwrap(),
            *log().verifier_key().public_key(),
        )
        .to_string();
        use TlogPolicyError as E;
        let cases: Vec<(String, E)> = vec![
            ("quorum none".to_owned(), E::NoFinalNewline { line: 1 }),
            (
                "quorum none\r\n".to_owned(),
                E::ControlCharacter { line: 1 },
            ),
            (
                "# \x00\nquorum none\n".to_owned(),
                E::ControlCharacter { line: 1 },
            ),
            (
                "quorum none\x7f\n".to_owned(),
                E::ControlCharacter { line: 1 },
            ),
            (
                format!("logs {l}\nquorum none\n"),
                E::UnknownKeyword { line: 1 },
            ),
            (
                format!("Log {l}\nquorum none\n"),
                E::UnknownKeyword { line: 1 },
            ),
            (
                "log\nquorum none\n".to_owned(),
                E::Arity {
                    line: 1,
                    keyword: "log",
                },
            ),
            (
                format!("log {l} u x\nquorum none\n"),
                E::Arity {
                    line: 1,
                    keyword: "log",
                },
            ),
            (
                format!("log {a}\nquorum none\n"),
                E::WrongKeyType {
                    line: 1,
                    role: "log",
                },
            ),
            (
                format!("witness A {l}\nquorum none\n"),
                E::WrongKeyType {
                    line: 1,
                    role: "witness",
                },
            ),
            (
                format!("log {l}\nlog {l_renamed}\nquorum none\n"),
                E::DuplicateLog { line: 2 },
            ),
            (
                format!("witness A {a}\nwitness B {a_renamed}\nquorum none\n"),
                E::DuplicateWitness { line: 2 },
            ),
            (
                format!("witness A {a}\nwitness A {b}\nquorum none\n"),
                E::DuplicateName { line: 2 },
            ),
            (
                format!("witness none {a}\nquorum none\n"),
                E::DuplicateName { line: 1 },
            ),
            (
                format!("witness A {a}\ngroup A any A\nquorum A\n"),
                E::DuplicateName { line: 2 },
            ),
            (
                format!("witness A {a}\nquorum B\n"),
                E::UndefinedName { line: 2 },
            ),
            (
                format!("quorum A\nwitness A {a}\n"),
                E::UndefinedName { line: 1 },
            ),
            (
                format!("witness A {a}\ngroup G any A none\nquorum G\n"),
                E::UndefinedName { line: 2 },
            ),
            (
                "group G any H\ngroup H any G\nquorum G\n".to_owned(),
                E::UndefinedName { line: 1 },
            ),
            (
                format!("witness A {a}\ngroup G 1 A A\nquorum G\n"),
                E::MemberTwice { line: 2 },
            ),
            (
                format!("witness A {a}\nwitness B {b}\ngroup G any A\ngroup H any A B\nquorum H\n"),
                E::MemberTwice { line: 4 },
            ),
            (
                format!("witness A {a}\ngroup G any\nquorum G\n"),
                E::Arity {
                    line: 2,
                    keyword: "group",
                },
            ),
            (
                format!("witness A {a}\ngroup G 0 A\nquorum G\n"),
                E::Threshold { line: 2 },
            ),
            (
                format!("witness A {a}\ngroup G 2 A\nquorum G\n"),
                E::Threshold { line: 2 },
            ),
            (
                format!("witness A {a}\ngroup G 01 A\nquorum G\n"),
                E::Threshold { line: 2 },
            ),
            (
                format!("witness A {a}\ngroup G some A\nquorum G\n"),
                E::Threshold { line: 2 },
            ),
            (
                "quorum none\nquorum none\n".to_owned(),
                E::SecondQuorum { line: 2 },
            ),
            (
                "quorum\n".to_owned(),
                E::Arity {
                    line: 1,
                    keyword: "quorum",
                },
            ),
            (format!("log {l}\n"), E::NoQuorum),
            (String::new(), E::NoQuorum),
        ];
        for (text, want) in cases {
            assert_eq!(TlogPolicy::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        let bad_vkey = TlogPolicy::parse(b"log nope\nquorum none\n");
        assert!(
            matches!(bad_vkey, Err(E::Vkey { line: 1, .. })),
            "{bad_vkey:?}"
        );
        let long = vec![b'#'; MAX_POLICY_LEN + 1];
        assert_eq!(TlogPolicy::parse(&long), Err(E::TooLong));
    }

    #[test]
    fn log_63_names_are_opaque_octets_and_whitespace_is_space_and_tab() {
        let a = cosigner(1).verifier_key().to_string();
        let b = cosigner(2).verifier_key().to_string();
        // "K" and the Kelvin sign (UTF-8 E2 84 AA) are two names; a comment may hold any
        // octet with the high bit set.
        let mut text = format!("  # caf\u{e9}\nwitness K {a}\nwitness \u{212a} {b}\n").into_bytes();
        text.extend_from_slice(b"# \xff\xfe opaque\n \t group G\t all K \xe2\x84\xaa \nquorum G\n");
        let p = TlogPolicy::parse(&text).unwrap();
        assert_eq!(p.witnesses()[1].name, "\u{212a}".as_bytes());
        assert_eq!(p.groups()[0].threshold, 2);
        // A name with an octet that is not UTF-8.
        let mut raw = b"witness \xff ".to_vec();
        raw.extend_from_slice(a.as_bytes());
        raw.extend_from_slice(b"\nquorum \xff\n");
        let p = TlogPolicy::parse(&raw).unwrap();
        assert_eq!(p.quorum(), Quorum::Of(Member::Witness(0)));
        // The URL is kept as written.
        let p = TlogPolicy::parse(three_of("2").as_bytes()).unwrap();
        assert_eq!(
            p.witnesses()[1].url.as_deref(),
            Some(&b"https://b.example/"[..])
        );
    }

    #[test]
    fn log_64_a_2_of_3_quorum_needs_two_distinct_known_witnesses() {
        let p = TlogPolicy::parse(three_of("2").as_bytes()).unwrap();
        assert!(p.accepts_log(&log().verifier_key()));
        let stranger_log = NoteSigner::new(
            KeyName::new("log.minimis.example/q").unwrap(),
            SigningKey::from_seed(&[2; 32]).unwrap(),
        );
        assert!(!p.accepts_log(&stranger_log.verifier_key()));
        for (by, ok) in [
            (&[][..], false),
            (&[1][..], false),
            (&[3][..], false),
            (&[1, 2][..], true),
            (&[2, 3][..], true),
            (&[1, 2, 3][..], true),
        ] {
            let r = p.verify_quorum(&checkpoint(by));
            assert_eq!(r.is_ok(), ok, "{by:?}: {r:?}");
            if ok {
                assert_eq!(r.unwrap().cosignatures.len(), by.len());
            } else {
                assert_eq!(
                    r,
                    Err(QuorumError::BelowQuorum {
                        cosigned: by.len(),
                        known: 3
                    })
                );
            }
        }
    }

    #[test]
    fn log_64_a_stranger_s_cosignature_does_not_count() {
        let p = TlogPolicy::parse(three_of("2").as_bytes()).unwrap();
        // Witness 4 is not in the policy: its valid line is ignored, one known is not two.
        let cp = checkpoint(&[1, 4]);
        assert_eq!(
            p.verify_quorum(&cp),
            Err(QuorumError::BelowQuorum {
                cosigned: 1,
                known: 3
            })
        );
        // A stranger using a known witness's name but its own key is a stranger too.
        let mut cp = checkpoint(&[1]);
        let impostor = Cosigner::new(
            cosigner(2).name().clone(),
            SigningKey::from_seed(&[99; 32]).unwrap(),
        );
        let sig = impostor.cosign_unchecked(cp.checkpoint(), 1_800_000_000);
        cp.add_cosignature(sig, &impostor.verifier_key()).unwrap();
        assert!(matches!(
            p.verify_quorum(&cp),
            Err(QuorumError::BelowQuorum { cosigned: 1, .. })
        ));
    }

    #[test]
    fn log_64_one_witness_s_duplicated_cosignatures_count_once() {
        let p = TlogPolicy::parse(three_of("2").as_bytes()).unwrap();
        let cp = checkpoint(&[1]);
        // Witness 1 cosigns again at other times: three valid lines, one witness.
        let mut text = cp.to_string();
        for t in [1_800_000_001, 1_800_000_002] {
            let line = cosigner(1).cosign_unchecked(cp.checkpoint(), t).to_line();
            text.push_str(&line);
        }
        let cp = SignedCheckpoint::open(text.as_bytes(), &log().verifier_key()).unwrap();
        assert_eq!(cp.note().signatures().len(), 4);
        assert_eq!(
            p.verify_quorum(&cp),
            Err(QuorumError::BelowQuorum {
                cosigned: 1,
                known: 3
            })
        );
    }

    #[test]
    fn log_64_a_known_witness_s_bad_line_rejects_the_note() {
        let p = TlogPolicy::parse(three_of("2").as_bytes()).unwrap();
        let cp = checkpoint(&[1, 2, 3]);
        let mut text = cp.to_string();
        // A fourth line under witness 3's name and key ID whose signature is garbage.
        let w3 = cosigner(3).verifier_key();
        let forged = NoteSignature::new(w3.name().clone(), w3.key_id(), vec![0; 72]);
        text.push_str(&forged.to_line());
        let cp = SignedCheckpoint::open(text.as_bytes(), &log().verifier_key()).unwrap();
        assert!(matches!(
            p.verify_quorum(&cp),
            Err(QuorumError::Cosignature(CosignatureError::Bad { .. }))
        ));
    }

    #[test]
    fn log_64_quorum_none_and_a_single_witness() {
        let p = TlogPolicy::parse(b"quorum none\n").unwrap();
        assert!(p.accepts_log(&log().verifier_key()));
        assert!(p.verify_quorum(&checkpoint(&[])).is_ok());
        let one = format!("witness W {}\nquorum W\n", cosigner(2).verifier_key());
        let p = TlogPolicy::parse(one.as_bytes()).unwrap();
        assert!(p.verify_quorum(&checkpoint(&[1])).is_err());
        assert!(p.verify_quorum(&checkpoint(&[2])).is_ok());
    }
}
