//! Provider errors. Their names are the contract's Step Functions error names
//! (`contract::ErrorName`): the retryable ones are retried by the state machine, the others alarm.

use std::fmt;

pub use rds_snapshot_policy_core::contract::ErrorName;

/// An error with a message that names the database or snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorName,
    pub message: String,
}

impl ProviderError {
    pub fn new(kind: ErrorName, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for ProviderError {}
