//! A `Custom::RdsSnapshotPolicy` resource as the expansion sees it: the normalized policy
//! (`PolicySpec`) plus what only the expansion needs (logical ID, notification, warnings).

mod validate;

pub use validate::parse_policy;

use serde_json::{Map, Value};

use crate::error::PolicyWarning;
use crate::spec::{PolicySpec, Role};
use crate::value::Text;

/// Which properties a role accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    Both,
    Only(Role),
}

/// Every property a user may write (`ServiceToken`, `GeneratedResources` and
/// `IdentityVersion` are the expansion's own and refused).
pub(crate) const PROPERTIES: &[(&str, Applies)] = &[
    ("Role", Applies::Both),
    ("PolicyId", Applies::Both),
    ("DBInstanceIdentifier", Applies::Both),
    ("DBClusterIdentifier", Applies::Both),
    ("RetentionDays", Applies::Both),
    ("DeleteSchedule", Applies::Both),
    ("DeleteOldSnapshots", Applies::Both),
    ("KeepLatest", Applies::Both),
    ("KeepDaily", Applies::Both),
    ("KeepWeekly", Applies::Both),
    ("KeepMonthly", Applies::Both),
    ("KeepYearly", Applies::Both),
    ("RpoMinutes", Applies::Both),
    ("LogLevel", Applies::Both),
    ("SourceRegionOverride", Applies::Both),
    ("NotificationTopicArn", Applies::Both),
    ("NotificationEmail", Applies::Both),
    ("StrictChecks", Applies::Both),
    ("ExpectedSnapshotMinutes", Applies::Both),
    ("ExpectedCopyMinutes", Applies::Both),
    ("EventDriven", Applies::Both),
    ("RetentionHours", Applies::Both),
    ("RetiredDatabases", Applies::Both),
    ("RetiredKeepDays", Applies::Both),
    ("BackupInterval", Applies::Only(Role::Source)),
    ("BackupIntervalMinutes", Applies::Only(Role::Source)),
    ("BackupSchedule", Applies::Only(Role::Source)),
    ("SpreadSnapshots", Applies::Only(Role::Source)),
    ("ShareSchedule", Applies::Only(Role::Source)),
    ("InstanceNamePattern", Applies::Only(Role::Source)),
    ("DestinationAccount", Applies::Only(Role::Source)),
    ("DestinationAccounts", Applies::Only(Role::Source)),
    ("ShareSnapshots", Applies::Only(Role::Source)),
    ("TaggedInstance", Applies::Only(Role::Source)),
    ("RevokeUnknownShares", Applies::Only(Role::Source)),
    ("DestinationEventBusArn", Applies::Only(Role::Source)),
    ("ReencryptKmsKey", Applies::Only(Role::Source)),
    ("SourceAccounts", Applies::Only(Role::Destination)),
    ("DestinationRegion", Applies::Only(Role::Destination)),
    ("SnapshotPattern", Applies::Only(Role::Destination)),
    ("CopySchedule", Applies::Only(Role::Destination)),
    ("CrossAccountCopy", Applies::Only(Role::Destination)),
    ("KmsKeySource", Applies::Only(Role::Destination)),
    ("KmsKeyDestination", Applies::Only(Role::Destination)),
    ("TwoStepCopy", Applies::Only(Role::Destination)),
    (
        "DestinationOptionGroupName",
        Applies::Only(Role::Destination),
    ),
    ("CopyRetentionDays", Applies::Only(Role::Destination)),
    ("RestoreDrill", Applies::Only(Role::Destination)),
    ("RestoreDrillSchedule", Applies::Only(Role::Destination)),
    ("RtoMinutes", Applies::Only(Role::Destination)),
    ("DrillDBInstanceClass", Applies::Only(Role::Destination)),
    ("DrillDBSubnetGroupName", Applies::Only(Role::Destination)),
    ("DrillVpcSecurityGroupIds", Applies::Only(Role::Destination)),
    (
        "DrillValidationFunctionArn",
        Applies::Only(Role::Destination),
    ),
];

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
