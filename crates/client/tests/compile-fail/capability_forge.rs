// A fix capability cannot be made outside the library: no fix without an accepted
// challenge.
use minimis_client::location::{Fix, FixCapability};
use minimis_proto::ChallengeId;

fn forge() -> Fix {
    let cap = FixCapability::new(ChallengeId::from_bytes([0; 16]));
    cap.into_fix(29.76, -95.37)
}

fn main() {}
