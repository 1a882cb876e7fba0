//! Errors and warnings that name the resource and the property they are about.

use std::fmt;

/// One problem with a policy, located by logical ID and property path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyError {
    /// Logical ID of the resource (or `Template` for template-wide problems).
    pub resource: String,
    /// Property path such as `RetentionDays` or `DestinationAccounts[2]`; empty for the resource.
    pub property: String,
    pub message: String,
}

impl PolicyError {
    pub fn new(resource: &str, property: &str, message: impl Into<String>) -> Self {
        Self {
            resource: resource.to_string(),
            property: property.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.property.is_empty() {
            write!(f, "Resource [{}]: {}", self.resource, self.message)
        } else {
            write!(
                f,
                "Resource [{}] property [{}]: {}",
                self.resource, self.property, self.message
            )
        }
    }
}

impl std::error::Error for PolicyError {}

/// A warning has the same shape as an error but does not stop the expansion.
pub type PolicyWarning = PolicyError;

/// Joins errors one per line, the format of the macro's `errorMessage` and the CLI's stderr.
pub fn join_errors(errors: &[PolicyError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects errors while a policy is read, so all of them are reported at once.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub resource: String,
    pub errors: Vec<PolicyError>,
    pub warnings: Vec<PolicyWarning>,
}

impl Diagnostics {
    pub fn new(resource: &str) -> Self {
        Self {
            resource: resource.to_string(),
            ..Self::default()
        }
    }

    pub fn error(&mut self, property: &str, message: impl Into<String>) {
        self.errors
            .push(PolicyError::new(&self.resource, property, message));
    }

    pub fn warn(&mut self, property: &str, message: impl Into<String>) {
        self.warnings
            .push(PolicyError::new(&self.resource, property, message));
    }

    /// An error for each broken cross-field rule (`spec::rules`).
    pub fn broken(&mut self, problems: impl IntoIterator<Item = crate::spec::rules::Problem>) {
        for p in problems {
            self.error(p.field, p.message);
        }
    }
}

/// Declares an error that carries the one line saying why an input is refused (a schedule, a
/// template, a key reference, a Lambda event): its `Display` is that line, and it converts
/// into a `String` where a message is all a caller keeps.
macro_rules! refusal {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<$name> for String {
            fn from(error: $name) -> String {
                error.0
            }
        }
    };
}
pub(crate) use refusal;
