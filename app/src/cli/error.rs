//! The CLI's one error type: what a command could not do, printed as one line (exit 1).

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// An AWS call, a task or a check of the provider failed (its error name and message).
    #[error(transparent)]
    Provider(#[from] provider::error::ProviderError),
    /// A restore with no copy to start from.
    #[error(transparent)]
    Drill(#[from] provider::plan::drill::DrillError),
    /// An account whose status cannot be read.
    #[error(transparent)]
    Status(#[from] provider::status::StatusError),
    /// The command's own input (a file, a flag, a policy) cannot be used; the message names it.
    #[error("{0}")]
    Input(String),
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Input(message)
    }
}

/// A template, schedule or key the command was given that does not read.
macro_rules! input_from {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(error: $error) -> Self {
                CliError::Input(error.0)
            }
        }
    )*};
}

input_from!(
    rds_snapshot_policy_core::yaml::TemplateError,
    rds_snapshot_policy_core::schedule::ScheduleError,
    rds_snapshot_policy_core::kms::KeyError
);

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::Input(message.to_string())
    }
}
