//! The policy core of rds-snapshot-policy, shared by the macro, the provider and the CLI: the
//! contract (every action, error, tag, metric and event name), the policy as written and as
//! carried (`policy`, `spec`), its invariants, schedules, snapshot spreading and the RPO. Pure:
//! no AWS SDK, no I/O, no async runtime (its `Cargo.toml` has none to use).

pub mod contract;
pub mod error;
pub mod kms;
pub mod lambda_input;
pub mod policy;
pub(crate) mod reader;
pub mod rpo;
pub mod schedule;
pub mod spec;
pub mod spread;
pub mod value;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use error::{PolicyError, PolicyWarning, join_errors};
pub use policy::{Policy, parse_policy};
pub use spec::{PolicySpec, Role, Target};
pub use value::Resolver;
