// Nor by naming its fields.
use minimis_client::location::FixCapability;
use minimis_proto::ChallengeId;

fn forge() -> FixCapability {
    FixCapability { challenge: ChallengeId::from_bytes([0; 16]), _private: () }
}

fn main() {}
