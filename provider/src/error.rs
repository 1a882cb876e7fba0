//! Provider errors. Their names are the Step Functions error names of the contract: the
//! retryable ones are retried by the state machine, the others alarm.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    // Retryable.
    SnapshotPending,
    DatabaseNotAvailable,
    Throttled,
    CopyLimitReached,
    TransientAwsError,
    // Final.
    PolicyInvalid,
    InputInvalid,
    AccessDenied,
    QuotaExceeded,
    EncryptionNotShareable,
    DatabaseNotFound,
    SnapshotNameTaken,
    AwsError,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::SnapshotPending => "SnapshotPending",
            ErrorKind::DatabaseNotAvailable => "DatabaseNotAvailable",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::CopyLimitReached => "CopyLimitReached",
            ErrorKind::TransientAwsError => "TransientAwsError",
            ErrorKind::PolicyInvalid => "PolicyInvalid",
            ErrorKind::InputInvalid => "InputInvalid",
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::QuotaExceeded => "QuotaExceeded",
            ErrorKind::EncryptionNotShareable => "EncryptionNotShareable",
            ErrorKind::DatabaseNotFound => "DatabaseNotFound",
            ErrorKind::SnapshotNameTaken => "SnapshotNameTaken",
            ErrorKind::AwsError => "AwsError",
        }
    }

    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::SnapshotPending
                | ErrorKind::DatabaseNotAvailable
                | ErrorKind::Throttled
                | ErrorKind::CopyLimitReached
                | ErrorKind::TransientAwsError
        )
    }
}

impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// An error with a message that names the database or snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
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
