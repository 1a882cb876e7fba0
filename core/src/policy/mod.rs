//! A `Custom::RdsSnapshotPolicy` resource as the expansion sees it: the normalized policy
//! (`PolicySpec`) plus what only the expansion needs (logical ID, notification, warnings).

pub mod properties;
mod validate;

pub use properties::{Applies, PROPERTIES, Property, Shape};
pub use validate::parse_policy;

use serde_json::{Map, Value};

use crate::error::PolicyWarning;
use crate::spec::{PolicySpec, Role};
use crate::value::Text;

#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// A topic created by the expansion, without subscription.
    Created,
    /// A topic created by the expansion, with an email subscription.
    Email(String),
    /// An existing topic.
    Topic(Text),
}

/// A validated policy resource with every default filled in.
#[derive(Debug, Clone)]
pub struct Policy {
    pub logical_id: String,
    /// The normalized policy, as the state machines carry it.
    pub spec: PolicySpec<Text>,
    pub notification: Notification,
    /// `DestinationAccounts` given as one intrinsic for the whole list (a `Ref` to a
    /// CommaDelimitedList parameter); `spec.destination_accounts` is then empty.
    pub destination_accounts_intrinsic: Option<Value>,
    pub warnings: Vec<PolicyWarning>,
}

impl Policy {
    pub fn role(&self) -> Role {
        self.spec.role
    }

    /// The normalized policy as JSON: every property explicit, in a fixed order. Intrinsics
    /// stay intrinsics.
    pub fn to_properties(&self) -> Map<String, Value> {
        let mut map = match serde_json::to_value(&self.spec) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, numbers and intrinsics always serializes to an object.
            _ => Map::new(),
        };
        if let Some(list) = &self.destination_accounts_intrinsic
            && self.spec.accounts().is_empty()
        {
            map.insert("DestinationAccounts".into(), list.clone());
        }
        map
    }
}
