//! The rds-snapshot-policy provider: the snapshot planner (pure), the executor (AWS SDK), the
//! custom-resource handler and the CLI.

pub mod aws;
pub mod custom_resource;
pub mod drill;
pub mod drill_record;
pub mod error;
pub mod forecast;
pub mod hold;
pub mod identity;
pub mod inventory;
pub mod lambda;
pub mod measure;
pub mod plan;
pub mod policy;
pub mod provenance;
pub mod status;
pub mod task;
pub mod trust;
