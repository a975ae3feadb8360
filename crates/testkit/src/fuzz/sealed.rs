//! The target for sealed check-ins as the custodians open them, and for the age headers
//! of legal holds.

use minimis_custodian::rewrap::{self, HeldHeader};
use minimis_proto::payload::NOTE_CAPACITY;
use minimis_proto::{CiphertextBounds, SealedCheckIn};
use minimis_seal::{OpenError, open, open_inner, remove_outer};

use super::{Outcome, keys};

/// A sealed check-in (**SEAL-1** to **SEAL-4**, **SEAL-10**) and an age layer as the
/// custodians receive them: the bytes are opened with both custodians' keyrings and with
/// the agency's alone, the outer layer is removed by the oversight custodian and an inner
/// file opened by the agency's; never a panic, and a record that opens holds a payload
/// that seals again and opens to the same payload. The same bytes as a layer are
/// re-wrapped for a legal hold (**RET-31**): a re-wrapped layer opens, with the hold's
/// key, to what the layer held.
pub fn sealed(data: &[u8]) -> Outcome {
    let e = keys::epoch();
    let agency = keys::agency_keyring();
    let oversight = keys::oversight_keyring();
    let max = super::reference_policy().max_note_bytes();
    let mut outcome = Outcome::Refused;
    if let Ok(sealed) = SealedCheckIn::try_from(data.to_vec()) {
        for o in [Some(oversight), None] {
            match open(&sealed, e, agency, o, max) {
                Ok(p) => {
                    outcome = Outcome::Accepted;
                    let keys = crate::fuzz::sealing_keys();
                    let again = minimis_seal::seal(&p, &keys)
                        .unwrap_or_else(|e| panic!("an opened payload seals again: {e}"));
                    assert_eq!(
                        open(&again, e, agency, Some(oversight), max).ok().as_ref(),
                        Some(&p),
                        "sealed and opened again"
                    );
                }
                Err(OpenError::KeyDestroyed { .. } | OpenError::UnknownEpoch { .. }) => {
                    unreachable!("both keyrings hold the epoch's identity")
                }
                Err(_) => {}
            }
        }
    }
    // An inner file alone, of any length, as the oversight custodian hands it over (with
    // the lengths of one layer, `open` with the agency's keyring alone did just that).
    if !CiphertextBounds::for_layers(1).contains(data.len()) {
        let agency_id = agency
            .identity(e)
            .unwrap_or_else(|_| unreachable!("a live identity"));
        let _ = open_inner(data, agency_id, NOTE_CAPACITY);
    }

    // A legal hold: the layer's file key re-wrapped, from its header, to the hold's
    // recipient (here the agency's identity stands for the hold's).
    let _ = rewrap::split(data);
    let _ = HeldHeader::from_bytes(data.to_vec());
    let hold = keys::agency_age_identity();
    if let Ok(held) =
        rewrap::rewrap_header(data, &keys::oversight_age_identity(), &hold.to_public())
    {
        assert!(HeldHeader::from_bytes(held.as_bytes().to_vec()).is_ok());
        let oversight_id = oversight
            .identity(e)
            .unwrap_or_else(|_| unreachable!("a live identity"));
        let outer = SealedCheckIn::try_from(data.to_vec())
            .ok()
            .map(|s| remove_outer(&s, oversight_id));
        if let Some(Ok(inner)) = outer {
            let rebuilt = rewrap::with_held_header(&held, data)
                .unwrap_or_else(|e| panic!("a re-wrapped layer reassembles: {e}"));
            let opened = rewrap::open_file(&rebuilt, &hold, data.len())
                .unwrap_or_else(|e| panic!("the hold's key opens the re-wrapped layer: {e}"));
            assert_eq!(
                opened.as_slice(),
                inner.as_bytes(),
                "the same layer (RET-31)"
            );
        }
    }
    outcome
}
