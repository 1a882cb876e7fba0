//! The CloudFormation macro of rds-snapshot-policy: the expansion of each `Custom::RdsSnapshotPolicy`
//! into state machines, schedules, alarms, topics and roles, and the macro Lambda's answer. Pure:
//! no AWS SDK, no I/O; the policy language itself is `rds_snapshot_policy_core`.

pub mod expand;
pub mod macro_contract;

pub use expand::{ExpandContext, Expansion, expand};
