//! The policy language of rds-snapshot-policy: model, validation and the CloudFormation macro
//! expansion. Pure: no AWS SDK, no I/O.

pub mod error;
pub mod expand;
pub mod kms;
pub mod macro_contract;
pub mod policy;
pub(crate) mod reader;
pub mod rpo;
pub mod schedule;
pub mod value;
pub mod yaml;

pub use error::{PolicyError, PolicyWarning, join_errors};
pub use expand::{ExpandContext, Expansion, expand};
pub use policy::{Policy, Role, Target, parse_policy};
pub use value::Resolver;
