//! `minimis serve`: the operator's server (`minimis-server`), with a configuration file
//! and flags over embedded defaults, so that it works out of the box. The flags and the
//! start-up are the operator's own binary's ([`minimis_operator`]), which is what an
//! operator deploys: this command stays for the demo, the guide and the tools.

use crate::Outcome;

/// Options of `minimis serve`: those of `minimis-operator`. Flags override the
/// configuration file.
pub(crate) type ServeArgs = minimis_operator::ServeArgs;

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<Outcome> {
    minimis_operator::serve(args.config()?, "minimis serve", &[])?;
    Ok(Outcome::Success)
}
