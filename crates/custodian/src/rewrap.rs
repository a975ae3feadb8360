//! Re-wrapping an age layer's file key to a legal hold's recipient, without touching the
//! layer's payload (**RET-31**, spec/retention.md § Legal holds).
//!
//! An age v1 file is a header, which wraps a random 16-byte *file key* to each
//! recipient and ends with an HMAC over itself, followed by the payload, encrypted under
//! a key derived from the file key and a nonce (C2SP age):
//!
//! ```text
//! header   = "age-encryption.org/v1\n" stanza* "---" SP base64(MAC) "\n"
//! MAC      = HMAC-SHA-256(HKDF-SHA-256(ikm = file key, salt = "", info = "header"),
//!                         header up to and including "---")
//! payload  = nonce (16) || STREAM(HKDF-SHA-256(ikm = file key, salt = nonce,
//!                                               info = "payload"), plaintext)
//! ```
//!
//! So a custodian that can unwrap a layer's file key can write a *new header* for the
//! same file key to another recipient; the new header followed by the original payload
//! is a standard age file that the other recipient's identity opens. [`rewrap_header`]
//! does that from the header alone: the payload is never needed, so the agency custodian
//! re-wraps the inner layer seeing only the inner header, never the inner payload.

use std::fmt;

use age::secrecy::ExposeSecret as _;
use age_core::format::{FileKey, Stanza};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64_NO_PAD;
use zeroize::Zeroizing;

const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
const MAC_PREFIX: &[u8] = b"---";
const ENCODED_MAC_LEN: usize = 43;

/// Why a header could not be re-wrapped or an age file re-assembled. No variant carries
/// key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewrapError {
    /// Not a well-formed age v1 header (or file): bad syntax, a MAC line that is not
    /// 32 bytes of canonical base64, or an X25519 stanza that age refuses before any
    /// decryption (wrong arguments or body length, a low-order ephemeral share).
    #[error("not an age v1 header")]
    Malformed,
    /// No stanza of the header unwraps with the identity. An X25519 stanza whose
    /// ephemeral share or wrapped key was changed reads the same as one for another
    /// recipient: both fail the same AEAD check, and age (C2SP age) tries the next
    /// stanza rather than tell them apart.
    #[error("the identity is not a recipient of this age header")]
    NoMatchingKey,
    /// The file key unwrapped, and the header's MAC does not verify under it: the
    /// header was changed elsewhere than in this identity's stanza (another stanza
    /// added, removed or changed; the MAC replaced).
    #[error("the age header's MAC does not verify")]
    BadMac,
    /// The header verified, and the payload does not authenticate under its file key
    /// (STREAM: a chunk changed, reordered or cut off).
    #[error("the age payload does not authenticate")]
    BadPayload,
    /// The payload opened, and is longer than the caller's bound.
    #[error("the age payload is longer than {max} bytes")]
    TooLong {
        /// The bound.
        max: usize,
    },
    /// The recipient refused to wrap the file key.
    #[error("the file key could not be wrapped to the hold recipient")]
    Wrap,
}

/// An age header that wraps one layer's file key to a legal hold's recipient. Not
/// secret on its own (it is a recipient stanza and a MAC), but together with the hold
/// identity it opens the layer, so it is kept with the hold and deleted with it.
#[derive(Clone, PartialEq, Eq)]
pub struct HeldHeader(Vec<u8>);

impl HeldHeader {
    /// Wraps bytes read back from storage; checks they are one age header and nothing
    /// else.
    ///
    /// # Errors
    /// [`RewrapError::Malformed`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, RewrapError> {
        let h = parse(&bytes)?;
        if !h.payload.is_empty() {
            return Err(RewrapError::Malformed);
        }
        Ok(Self(bytes))
    }

    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HeldHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeldHeader(<{} bytes>)", self.0.len())
    }
}

struct Parsed<'a> {
    stanzas: Vec<Stanza>,
    /// The header up to and including `---`: what the MAC covers.
    mac_input: &'a [u8],
    mac: [u8; 32],
    /// The header, its final newline included.
    header: &'a [u8],
    payload: &'a [u8],
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, RewrapError> {
    let mut rest = bytes
        .strip_prefix(VERSION_LINE)
        .ok_or(RewrapError::Malformed)?;
    let mut stanzas = Vec::new();
    while !rest.starts_with(MAC_PREFIX) {
        let (r, s) =
            age_core::format::read::age_stanza(rest).map_err(|_| RewrapError::Malformed)?;
        stanzas.push(Stanza::from(s));
        rest = r;
        if stanzas.len() > 64 {
            return Err(RewrapError::Malformed);
        }
    }
    // "---" SP 43 base64 characters LF.
    let line_len = MAC_PREFIX.len() + 1 + ENCODED_MAC_LEN + 1;
    if rest.len() < line_len || rest[3] != b' ' || rest[line_len - 1] != b'\n' {
        return Err(RewrapError::Malformed);
    }
    let mac_b64 = &rest[4..4 + ENCODED_MAC_LEN];
    let decoded = B64_NO_PAD
        .decode(mac_b64)
        .map_err(|_| RewrapError::Malformed)?;
    let mac: [u8; 32] = decoded.try_into().map_err(|_| RewrapError::Malformed)?;
    let header_len = bytes.len() - rest.len() + line_len;
    let mac_input_len = bytes.len() - rest.len() + MAC_PREFIX.len();
    Ok(Parsed {
        stanzas,
        mac_input: &bytes[..mac_input_len],
        mac,
        header: &bytes[..header_len],
        payload: &bytes[header_len..],
    })
}

fn mac_key(file_key: &FileKey) -> ring::hmac::Key {
    let k = Zeroizing::new(age_core::primitives::hkdf(
        &[],
        b"header",
        file_key.expose_secret(),
    ));
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &*k)
}

/// Splits an age file into its header and its payload.
///
/// # Errors
/// [`RewrapError::Malformed`].
pub fn split(file: &[u8]) -> Result<(&[u8], &[u8]), RewrapError> {
    let p = parse(file)?;
    Ok((p.header, p.payload))
}

/// Unwraps the file key of an age header (or a whole age file) with `identity` and
/// checks the header's MAC.
fn unwrap(header_or_file: &[u8], identity: &age::x25519::Identity) -> Result<FileKey, RewrapError> {
    let p = parse(header_or_file)?;
    let file_key = match age::Identity::unwrap_stanzas(identity, &p.stanzas) {
        Some(Ok(k)) => k,
        Some(Err(_)) => return Err(RewrapError::Malformed),
        None => return Err(RewrapError::NoMatchingKey),
    };
    ring::hmac::verify(&mac_key(&file_key), p.mac_input, &p.mac)
        .map_err(|_| RewrapError::BadMac)?;
    Ok(file_key)
}

/// Writes a header that wraps `file_key` to `recipient`, with its MAC.
fn header_for(
    file_key: &FileKey,
    recipient: &age::x25519::Recipient,
) -> Result<HeldHeader, RewrapError> {
    let (stanzas, _labels) =
        age::Recipient::wrap_file_key(recipient, file_key).map_err(|_| RewrapError::Wrap)?;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(VERSION_LINE);
    for s in &stanzas {
        out.extend_from_slice(b"-> ");
        out.extend_from_slice(s.tag.as_bytes());
        for a in &s.args {
            out.push(b' ');
            out.extend_from_slice(a.as_bytes());
        }
        out.push(b'\n');
        // Full lines of 64 characters, then a short final line (empty if need be).
        let body = B64_NO_PAD.encode(&s.body);
        let mut rest = body.as_bytes();
        while rest.len() >= 64 {
            out.extend_from_slice(&rest[..64]);
            out.push(b'\n');
            rest = &rest[64..];
        }
        out.extend_from_slice(rest);
        out.push(b'\n');
    }
    out.extend_from_slice(MAC_PREFIX);
    let tag = ring::hmac::sign(&mac_key(file_key), &out);
    out.push(b' ');
    out.extend_from_slice(B64_NO_PAD.encode(tag.as_ref()).as_bytes());
    out.push(b'\n');
    Ok(HeldHeader(out))
}

/// Re-wraps the file key of `header_or_file` (an age header, or a whole age file, of
/// which only the header is read) from `identity` to `recipient` (**RET-31**). The file
/// key exists in memory only inside this call and is zeroized when it returns.
///
/// # Errors
/// [`RewrapError`]: not a header, not `identity`'s, a changed header.
pub fn rewrap_header(
    header_or_file: &[u8],
    identity: &age::x25519::Identity,
    recipient: &age::x25519::Recipient,
) -> Result<HeldHeader, RewrapError> {
    let file_key = unwrap(header_or_file, identity)?;
    header_for(&file_key, recipient)
}

/// The age file made of `held` followed by the payload of `file`: what the hold's
/// identity opens.
///
/// # Errors
/// [`RewrapError::Malformed`] if `file` is not an age file.
pub fn with_held_header(held: &HeldHeader, file: &[u8]) -> Result<Vec<u8>, RewrapError> {
    let (_, payload) = split(file)?;
    let mut out = Vec::with_capacity(held.0.len() + payload.len());
    out.extend_from_slice(&held.0);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decrypts an age file with `identity` into a zeroizing buffer of at most `max` bytes:
/// how a custodian opens a layer re-assembled with a [`HeldHeader`].
///
/// # Errors
/// [`RewrapError::Malformed`] if it is not an age file, [`RewrapError::NoMatchingKey`]
/// if `identity` is not its recipient, [`RewrapError::BadMac`] if its header was
/// changed, [`RewrapError::BadPayload`] if its payload was, [`RewrapError::TooLong`] if
/// it opens to more than `max` bytes.
pub fn open_file(
    file: &[u8],
    identity: &age::x25519::Identity,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, RewrapError> {
    use std::io::Read as _;
    let d = age::Decryptor::new_buffered(file).map_err(|_| RewrapError::Malformed)?;
    let r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => RewrapError::NoMatchingKey,
            age::DecryptError::InvalidMac => RewrapError::BadMac,
            // An AEAD failure: for X25519, only the payload's first chunk can fail here.
            age::DecryptError::DecryptionFailed => RewrapError::BadPayload,
            _ => RewrapError::Malformed,
        })?;
    let mut out = Zeroizing::new(Vec::with_capacity(max + 1));
    // Reading from memory fails only when a STREAM chunk does not authenticate (or the
    // last is missing).
    r.take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| RewrapError::BadPayload)?;
    if out.len() > max {
        return Err(RewrapError::TooLong { max });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    fn seal(plain: &[u8], to: &age::x25519::Recipient) -> Vec<u8> {
        let e =
            age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap();
        out
    }

    fn open(file: &[u8], id: &age::x25519::Identity) -> Result<Vec<u8>, age::DecryptError> {
        let d = age::Decryptor::new_buffered(file)?;
        let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(age::DecryptError::Io)?;
        Ok(out)
    }

    #[test]
    fn ret_31_a_rewrapped_header_opens_the_original_payload_with_the_hold_key_only() {
        let epoch = age::x25519::Identity::generate();
        let hold = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let file = seal(b"the inner layer", &epoch.to_public());
        let (header, _) = split(&file).unwrap();
        // Re-wrapping needs only the header.
        let held = rewrap_header(header, &epoch, &hold.to_public()).unwrap();
        assert!(HeldHeader::from_bytes(held.as_bytes().to_vec()).is_ok());
        let rebuilt = with_held_header(&held, &file).unwrap();
        assert_eq!(open(&rebuilt, &hold).unwrap(), b"the inner layer");
        // The hold key does not open the original; the epoch key does not open the
        // re-wrapped one; nor does any other key.
        assert!(open(&file, &hold).is_err());
        assert!(open(&rebuilt, &epoch).is_err());
        assert!(open(&rebuilt, &other).is_err());
        // Only the holder of the epoch key can re-wrap.
        assert_eq!(
            rewrap_header(header, &other, &hold.to_public()).unwrap_err(),
            RewrapError::NoMatchingKey
        );
    }

    /// `header` with its MAC line replaced by `mac` (43 characters).
    fn with_mac_line(header: &[u8], mac: &[u8]) -> Vec<u8> {
        let n = header.len();
        [&header[..n - 1 - ENCODED_MAC_LEN], mac, b"\n"].concat()
    }

    /// `header`'s MAC, decoded.
    fn mac_of(header: &[u8]) -> [u8; 32] {
        let n = header.len();
        B64_NO_PAD
            .decode(&header[n - 1 - ENCODED_MAC_LEN..n - 1])
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// `header`'s stanza lines (between the version line and the MAC line).
    fn stanza_lines(header: &[u8]) -> &[u8] {
        let n = header.len();
        &header[VERSION_LINE.len()..n - (MAC_PREFIX.len() + 1 + ENCODED_MAC_LEN + 1)]
    }

    /// `header` with its X25519 stanza's (the first: age may add a grease stanza after
    /// it) ephemeral share and body replaced, the rest kept as it is.
    fn with_stanza(header: &[u8], share: &[u8; 32], body: &[u8]) -> Vec<u8> {
        let lines = stanza_lines(header);
        assert!(lines.starts_with(b"-> X25519 "), "an X25519 stanza first");
        let (rest, _) = age_core::format::read::age_stanza(lines).unwrap();
        let after = &header[VERSION_LINE.len() + lines.len() - rest.len()..];
        [
            VERSION_LINE,
            b"-> X25519 ",
            B64_NO_PAD.encode(share).as_bytes(),
            b"\n",
            B64_NO_PAD.encode(body).as_bytes(),
            b"\n",
            after,
        ]
        .concat()
    }

    /// The ephemeral share and wrapped key of `header`'s X25519 stanza.
    fn stanza_of(header: &[u8]) -> ([u8; 32], Vec<u8>) {
        let (_, s) = age_core::format::read::age_stanza(stanza_lines(header)).unwrap();
        let share = B64_NO_PAD.decode(s.args[0]).unwrap().try_into().unwrap();
        (share, s.body())
    }

    #[test]
    fn ret_31_a_header_whose_mac_was_changed_fails_its_mac() {
        // The attack: keep the stanzas, replace the MAC by another well-formed one. The
        // file key unwraps; the MAC, recomputed under it, differs.
        let epoch = age::x25519::Identity::generate();
        let hold = age::x25519::Identity::generate();
        let file = seal(b"x", &epoch.to_public());
        let (header, _) = split(&file).unwrap();
        for bit in [0, 7, 100, 255] {
            let mut mac = mac_of(header);
            mac[bit / 8] ^= 1 << (bit % 8);
            let bad = with_mac_line(header, B64_NO_PAD.encode(mac).as_bytes());
            assert_eq!(
                rewrap_header(&bad, &epoch, &hold.to_public()).unwrap_err(),
                RewrapError::BadMac,
                "bit {bit}"
            );
        }
    }

    #[test]
    fn ret_31_a_stanza_added_to_a_header_fails_its_mac() {
        // The attack: add a recipient (another custodian's stanza) to the header and keep
        // the MAC. This identity's stanza still unwraps the file key; the MAC covers the
        // whole header and no longer verifies. Removing a stanza is the same attack seen
        // from the larger header.
        let epoch = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let hold = age::x25519::Identity::generate();
        let file = seal(b"x", &epoch.to_public());
        let (header, _) = split(&file).unwrap();
        let (other_header, _) = split(&seal(b"y", &other.to_public()))
            .map(|(h, p)| (h.to_vec(), p.to_vec()))
            .unwrap();
        let lines = stanza_lines(header);
        let added = [
            VERSION_LINE,
            lines,
            stanza_lines(&other_header),
            &header[VERSION_LINE.len() + lines.len()..],
        ]
        .concat();
        assert_eq!(
            rewrap_header(&added, &epoch, &hold.to_public()).unwrap_err(),
            RewrapError::BadMac
        );
        // The other recipient's identity unwraps its own stanza: the same refusal.
        assert_eq!(
            rewrap_header(&added, &other, &hold.to_public()).unwrap_err(),
            RewrapError::BadMac
        );
    }

    #[test]
    fn ret_31_a_changed_stanza_reads_as_another_recipients() {
        // The attack: change this identity's own stanza (its wrapped key, or its
        // ephemeral share). The AEAD that wraps the file key fails, exactly as for a
        // stanza to another recipient, and age moves on: no stanza is this identity's.
        let epoch = age::x25519::Identity::generate();
        let hold = age::x25519::Identity::generate();
        let file = seal(b"x", &epoch.to_public());
        let (header, _) = split(&file).unwrap();
        let (share, body) = stanza_of(header);
        // Unchanged, the stanza rebuilt is the header itself.
        assert_eq!(with_stanza(header, &share, &body), header);
        let mut wrapped = body.clone();
        wrapped[3] ^= 0x10;
        let mut other_share = share;
        other_share[5] ^= 0x01;
        for bad in [
            with_stanza(header, &share, &wrapped),
            with_stanza(header, &other_share, &body),
        ] {
            assert_eq!(
                rewrap_header(&bad, &epoch, &hold.to_public()).unwrap_err(),
                RewrapError::NoMatchingKey
            );
        }
    }

    #[test]
    fn ret_31_a_header_that_is_not_well_formed_is_malformed() {
        let epoch = age::x25519::Identity::generate();
        let hold = age::x25519::Identity::generate();
        let file = seal(b"x", &epoch.to_public());
        let (header, _) = split(&file).unwrap();
        let (share, body) = stanza_of(header);
        let mut not_base64 = header[header.len() - 1 - ENCODED_MAC_LEN..header.len() - 1].to_vec();
        not_base64[10] = b'!';
        for (bad, what) in [
            (b"not age".to_vec(), "no version line"),
            (
                with_mac_line(header, &not_base64),
                "a MAC that is not base64",
            ),
            (
                with_mac_line(header, &[b'A'; ENCODED_MAC_LEN - 1]),
                "a MAC line one character short",
            ),
            // The identity point: the shared secret is all zero, which age refuses
            // before it tries to decrypt (C2SP age, X25519 recipient stanza).
            (
                with_stanza(header, &[0; 32], &body),
                "a low-order ephemeral share",
            ),
            (
                with_stanza(header, &share, &body[..body.len() - 1]),
                "a wrapped key one byte short",
            ),
        ] {
            assert_eq!(
                rewrap_header(&bad, &epoch, &hold.to_public()).unwrap_err(),
                RewrapError::Malformed,
                "{what}"
            );
        }
        assert!(
            HeldHeader::from_bytes(file.clone()).is_err(),
            "a whole file is not a header"
        );
        for cut in [0, 10, header.len() - 1] {
            assert_eq!(split(&header[..cut]).unwrap_err(), RewrapError::Malformed);
        }
    }

    #[test]
    fn ret_31_open_file_names_what_was_changed() {
        let epoch = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let file = seal(&[7; 100], &epoch.to_public());
        assert_eq!(open_file(&file, &epoch, 100).unwrap().as_slice(), [7; 100]);
        let (header, payload) = split(&file).unwrap();
        // The header: its MAC changed.
        let mut mac = mac_of(header);
        mac[0] ^= 1;
        let bad = [
            with_mac_line(header, B64_NO_PAD.encode(mac).as_bytes()).as_slice(),
            payload,
        ]
        .concat();
        assert_eq!(
            open_file(&bad, &epoch, 100).unwrap_err(),
            RewrapError::BadMac
        );
        // The payload: a byte of its one chunk changed, or its end cut off.
        let mut changed = file.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert_eq!(
            open_file(&changed, &epoch, 100).unwrap_err(),
            RewrapError::BadPayload
        );
        assert_eq!(
            open_file(&file[..file.len() - 1], &epoch, 100).unwrap_err(),
            RewrapError::BadPayload
        );
        // Not its recipient; not age; longer than the bound.
        assert_eq!(
            open_file(&file, &other, 100).unwrap_err(),
            RewrapError::NoMatchingKey
        );
        assert_eq!(
            open_file(b"not age", &epoch, 100).unwrap_err(),
            RewrapError::Malformed
        );
        assert_eq!(
            open_file(&file, &epoch, 99).unwrap_err(),
            RewrapError::TooLong { max: 99 }
        );
    }
}
