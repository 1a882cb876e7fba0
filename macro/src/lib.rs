//! The policy language of rds-snapshot-policy: the contract, the normalized policy, validation
//! and the CloudFormation macro expansion. Pure: no AWS SDK, no I/O.

pub mod contract;
pub mod error;
pub mod expand;
pub mod kms;
pub mod lambda_input;
pub mod macro_contract;
pub mod policy;
pub(crate) mod reader;
pub mod rpo;
pub mod schedule;
pub mod spec;
pub mod spread;
pub mod value;
pub mod yaml;

pub use error::{PolicyError, PolicyWarning, join_errors};
pub use expand::{ExpandContext, Expansion, expand};
pub use policy::{Policy, parse_policy};
pub use spec::{PolicySpec, Role, Target};
pub use value::Resolver;
