//! Provider errors. Their names are the contract's Step Functions error names
//! (`contract::ErrorName`): the retryable ones are retried by the state machine, the others alarm.

pub use rds_snapshot_policy_core::contract::ErrorName;

/// An error with a message that names the database or snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
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
