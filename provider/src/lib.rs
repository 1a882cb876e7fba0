//! The rds-snapshot-policy provider: the snapshot planner (pure), the executor (AWS SDK), the
//! custom-resource handler and the CLI.

pub mod cli;
