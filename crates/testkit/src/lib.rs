//! # minimis-testkit: fixtures and test vectors (not published)
//!
//! [`canary`] searches a party's files for what it must never hold (the demo's scan of
//! the operator, and the tests that plant each kind to show the scan finds it); it needs
//! no default feature. With the default feature `fixtures`: [`World`] builds a policy,
//! two custodians with epoch keyrings and signed recipients, an operator key and
//! participants, for tests that cross crates; [`device`] enrolls a participant's device in
//! it; [`https`] is a TLS test client (and [`https::enroll`], enrollment over the officer
//! API); [`serve`] runs `minimis serve` as a child process. [`vectors`] produces
//! the test vectors under `spec/vectors/`; the `gen-vectors` binary writes them, and the
//! workspace tests check that the committed files match and decode as they claim.
//!
//! **Trust domain:** tests only. It holds every party's keys at once, which no deployment
//! ever does. The `minimis` command links [`canary`] alone, for its demo (which runs
//! every party); the operator's server, the custodians and the device library never do.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod canary;
#[cfg(feature = "fixtures")]
pub mod device;
#[cfg(feature = "fixtures")]
pub mod fuzz;
#[cfg(feature = "fixtures")]
pub mod https;
#[cfg(feature = "fixtures")]
pub mod serve;
#[cfg(feature = "fixtures")]
pub mod vectors;

#[cfg(feature = "fixtures")]
mod fixtures;
#[cfg(feature = "fixtures")]
pub use fixtures::*;
