//! The policy model: one `Custom::RdsSnapshotPolicy` resource, read, validated and normalized.

use chrono::Duration;
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::error::{Diagnostics, PolicyError, PolicyWarning};
use crate::reader::Reader;
use crate::schedule::{Schedule, longest_snapshot_gap};
use crate::value::{Resolver, Text, did_you_mean, find_import_values};

/// The custom resource type the macro expands.
pub const RESOURCE_TYPE: &str = "Custom::RdsSnapshotPolicy";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The production account: take, share and delete snapshots.
    Source,
    /// The DR account: copy shared snapshots and delete old copies.
    Destination,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "Source",
            Role::Destination => "Destination",
        }
    }
}

/// Which properties a role accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    Both,
    Only(Role),
}

/// Every property the policy language accepts.
const PROPERTIES: &[(&str, Applies)] = &[
    ("Role", Applies::Both),
    ("PolicyId", Applies::Both),
    ("DBInstanceIdentifier", Applies::Both),
    ("DBClusterIdentifier", Applies::Both),
    ("RetentionDays", Applies::Both),
    ("DeleteSchedule", Applies::Both),
    ("DeleteOldSnapshots", Applies::Both),
    ("KeepLatest", Applies::Both),
    ("RpoMinutes", Applies::Both),
    ("LogLevel", Applies::Both),
    ("SourceRegionOverride", Applies::Both),
    ("NotificationTopicArn", Applies::Both),
    ("NotificationEmail", Applies::Both),
    ("StrictChecks", Applies::Both),
    ("ServiceToken", Applies::Both),
    ("GeneratedResources", Applies::Both),
    ("BackupInterval", Applies::Only(Role::Source)),
    ("BackupSchedule", Applies::Only(Role::Source)),
    ("ShareSchedule", Applies::Only(Role::Source)),
    ("InstanceNamePattern", Applies::Only(Role::Source)),
    ("DestinationAccount", Applies::Only(Role::Source)),
    ("DestinationAccounts", Applies::Only(Role::Source)),
    ("ShareSnapshots", Applies::Only(Role::Source)),
    ("TaggedInstance", Applies::Only(Role::Source)),
    ("DestinationRegion", Applies::Only(Role::Destination)),
    ("SnapshotPattern", Applies::Only(Role::Destination)),
    ("CopySchedule", Applies::Only(Role::Destination)),
    ("CrossAccountCopy", Applies::Only(Role::Destination)),
    ("KmsKeySource", Applies::Only(Role::Destination)),
    ("KmsKeyDestination", Applies::Only(Role::Destination)),
    ("CopyRetentionDays", Applies::Only(Role::Destination)),
];

/// Defaults, documented in the README's policy reference.
pub mod defaults {
    pub const BACKUP_INTERVAL_HOURS: u64 = 1;
    pub const BACKUP_SCHEDULE: &str = "cron(0 * * * ? *)";
    pub const SHARE_SCHEDULE: &str = "cron(10,25,40,55 * * * ? *)";
    pub const COPY_SCHEDULE: &str = "cron(5,20,35,50 * * * ? *)";
    pub const SOURCE_DELETE_SCHEDULE: &str = "cron(0 3 * * ? *)";
    pub const DESTINATION_DELETE_SCHEDULE: &str = "cron(30 3 * * ? *)";
    pub const SOURCE_RETENTION_DAYS: u64 = 1;
    pub const DESTINATION_RETENTION_DAYS: u64 = 7;
    pub const COPY_RETENTION_DAYS: u64 = 2;
    pub const KEEP_LATEST: u64 = 1;
    pub const RPO_MINUTES: u64 = 60;
    pub const LOG_LEVEL: &str = "INFO";
    /// AWS allows a manual snapshot to be shared with at most 20 accounts.
    pub const MAX_DESTINATION_ACCOUNTS: usize = 20;
}

/// Which databases (source) or whose snapshots (destination) a policy covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A regex searched in the DB instance/cluster identifier (source) or snapshot identifier
    /// (destination).
    Pattern(String),
    Instance(Text),
    Cluster(Text),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// A topic created by the expansion, without subscription.
    Created,
    /// A topic created by the expansion, with an email subscription.
    Email(String),
    /// An existing topic.
    Topic(Text),
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub backup_interval_hours: u64,
    pub backup_schedule: Schedule,
    pub share_schedule: Schedule,
    pub share_snapshots: bool,
    pub destination_accounts: Vec<Text>,
    /// A whole-list intrinsic (for example a Ref to a CommaDelimitedList parameter).
    pub destination_accounts_intrinsic: Option<Value>,
    pub tagged_instance: bool,
}

#[derive(Debug, Clone)]
pub struct DestinationSettings {
    pub destination_region: Text,
    pub copy_schedule: Schedule,
    pub cross_account_copy: bool,
    pub kms_key_source: Option<Text>,
    pub kms_key_destination: Option<Text>,
    pub copy_retention_days: u64,
}

/// A validated policy with every default filled in.
#[derive(Debug, Clone)]
pub struct Policy {
    pub logical_id: String,
    pub role: Role,
    pub policy_id: Option<Text>,
    pub target: Target,
    pub retention_days: u64,
    pub delete_schedule: Schedule,
    pub delete_old_snapshots: bool,
    pub keep_latest: u64,
    pub rpo_minutes: u64,
    pub log_level: String,
    pub source_region_override: Option<String>,
    pub notification: Notification,
    pub strict_checks: bool,
    pub source: Option<SourceSettings>,
    pub destination: Option<DestinationSettings>,
    pub warnings: Vec<PolicyWarning>,
}

/// Reads and validates the Properties of resource `logical_id`, reporting all errors at once.
pub fn parse_policy(
    logical_id: &str,
    properties: &Value,
    resolver: &Resolver,
) -> Result<Policy, Vec<PolicyError>> {
    let mut diag = Diagnostics::new(logical_id);
    let empty = Map::new();
    let props = match properties {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            diag.error("", "Properties must be an object");
            return Err(diag.errors);
        }
    };
    let mut imports = Vec::new();
    find_import_values(properties, "", &mut imports);
    for path in imports {
        diag.error(
            &path,
            "Fn::ImportValue cannot be used here: CloudFormation does not resolve it before a macro runs; pass the value as a template parameter instead",
        );
    }
    let mut reader = Reader {
        props,
        resolver,
        diag: &mut diag,
    };
    let role = read_role(&mut reader);
    check_property_names(&mut reader, role);
    let Some(role) = role else {
        return Err(diag.errors);
    };
    let policy = read_policy(&mut reader, logical_id, role);
    if diag.errors.is_empty() {
        let mut policy = policy;
        policy.warnings = diag.warnings;
        Ok(policy)
    } else {
        diag.errors.sort();
        diag.errors.dedup();
        Err(diag.errors)
    }
}

fn read_role(r: &mut Reader) -> Option<Role> {
    if !r.has("Role") {
        r.diag.error(
            "Role",
            "is required: Source (the production account takes and shares snapshots) or Destination (the DR account copies them)",
        );
        return None;
    }
    match r.string("Role").as_deref() {
        Some(s) if s.eq_ignore_ascii_case("source") => Some(Role::Source),
        Some(s) if s.eq_ignore_ascii_case("destination") => Some(Role::Destination),
        Some(other) => {
            r.diag.error(
                "Role",
                format!("must be Source or Destination, got {other:?}"),
            );
            None
        }
        None => None,
    }
}

fn check_property_names(r: &mut Reader, role: Option<Role>) {
    for name in r.props.keys() {
        match PROPERTIES.iter().find(|(n, _)| n == name) {
            Some((_, Applies::Only(owner))) if role.is_some_and(|role| role != *owner) => {
                r.diag.error(
                    name,
                    format!(
                        "applies only to Role {}, this policy has Role {}",
                        owner.as_str(),
                        role.map(Role::as_str).unwrap_or("?")
                    ),
                );
            }
            Some(_) => {}
            None => {
                let hint = did_you_mean(name, PROPERTIES.iter().map(|(n, _)| *n))
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                r.diag
                    .error(name, format!("is not a property of {RESOURCE_TYPE}{hint}"));
            }
        }
    }
}

fn read_policy(r: &mut Reader, logical_id: &str, role: Role) -> Policy {
    let policy_id = read_policy_id(r);
    let target = read_target(r, role);
    let (retention_default, delete_default) = match role {
        Role::Source => (
            defaults::SOURCE_RETENTION_DAYS,
            defaults::SOURCE_DELETE_SCHEDULE,
        ),
        Role::Destination => (
            defaults::DESTINATION_RETENTION_DAYS,
            defaults::DESTINATION_DELETE_SCHEDULE,
        ),
    };
    let retention_days = r.whole("RetentionDays", retention_default, 1, 36_500);
    let delete_schedule = r.schedule("DeleteSchedule", delete_default);
    let delete_old_snapshots = r.boolean("DeleteOldSnapshots", true);
    let keep_latest = r.whole("KeepLatest", defaults::KEEP_LATEST, 1, 1000);
    let rpo_minutes = r.whole("RpoMinutes", defaults::RPO_MINUTES, 1, 525_600);
    let log_level = read_log_level(r);
    let source_region_override = read_region(r, "SourceRegionOverride");
    let notification = read_notification(r);
    let strict_checks = r.boolean("StrictChecks", false);
    let mut policy = Policy {
        logical_id: logical_id.to_string(),
        role,
        policy_id,
        target,
        retention_days,
        delete_schedule,
        delete_old_snapshots,
        keep_latest,
        rpo_minutes,
        log_level,
        source_region_override,
        notification,
        strict_checks,
        source: None,
        destination: None,
        warnings: Vec::new(),
    };
    match role {
        Role::Source => policy.source = Some(read_source(r)),
        Role::Destination => policy.destination = Some(read_destination(r, &policy)),
    }
    crate::rpo::warn_about_schedules(&policy, r.diag);
    policy
}

fn read_policy_id(r: &mut Reader) -> Option<Text> {
    let id = r.text("PolicyId")?;
    if let Text::Literal(s) = &id {
        let ok = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=".contains(&b));
        if !ok {
            r.diag.error(
                "PolicyId",
                format!("must be 1 to 128 letters, digits or - _ . / : @ + =, got {s:?}"),
            );
        }
    }
    Some(id)
}

fn read_target(r: &mut Reader, role: Role) -> Target {
    let pattern_name = match role {
        Role::Source => "InstanceNamePattern",
        Role::Destination => "SnapshotPattern",
    };
    let given: Vec<&str> = [pattern_name, "DBInstanceIdentifier", "DBClusterIdentifier"]
        .into_iter()
        .filter(|n| r.has(n))
        .collect();
    if given.len() > 1 {
        for name in &given[1..] {
            r.diag.error(
                name,
                format!(
                    "conflicts with {}: give one of {pattern_name} (several databases), DBInstanceIdentifier or DBClusterIdentifier (one database)",
                    given[0]
                ),
            );
        }
    }
    match given.first().copied() {
        None => {
            r.diag.error(
                pattern_name,
                format!(
                    "one of {pattern_name}, DBInstanceIdentifier or DBClusterIdentifier is required to say which databases this policy covers"
                ),
            );
            Target::Pattern(String::new())
        }
        Some("DBInstanceIdentifier") => {
            Target::Instance(read_db_identifier(r, "DBInstanceIdentifier"))
        }
        Some("DBClusterIdentifier") => {
            Target::Cluster(read_db_identifier(r, "DBClusterIdentifier"))
        }
        Some(name) => {
            let Some(pattern) = r.string(name) else {
                return Target::Pattern(String::new());
            };
            if pattern.is_empty() {
                r.diag.error(
                    name,
                    "must be a non-empty regular expression (use \".*\" for every database)",
                );
            } else if let Err(e) = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
            {
                let detail = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                r.diag.error(
                    name,
                    format!("is not a valid regular expression ({detail}), got {pattern:?}"),
                );
            }
            Target::Pattern(pattern)
        }
    }
}

fn read_db_identifier(r: &mut Reader, name: &str) -> Text {
    let text = r.text(name).unwrap_or(Text::Literal(String::new()));
    if let Text::Literal(id) = &text
        && !is_db_identifier(id)
    {
        r.diag.error(
                name,
                format!("must be a DB identifier (1-63 letters, digits and hyphens, starting with a letter, no trailing or double hyphen), got {id:?}"),
            );
    }
    text
}

/// RDS's rules for DB instance and cluster identifiers.
pub fn is_db_identifier(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

fn read_log_level(r: &mut Reader) -> String {
    let Some(level) = r.string("LogLevel") else {
        return defaults::LOG_LEVEL.to_string();
    };
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => "ERROR".into(),
        "WARN" | "WARNING" => "WARN".into(),
        "INFO" => "INFO".into(),
        "DEBUG" => "DEBUG".into(),
        _ => {
            r.diag.error(
                "LogLevel",
                format!("must be ERROR, WARN, INFO or DEBUG, got {level:?}"),
            );
            defaults::LOG_LEVEL.to_string()
        }
    }
}

/// Region names such as `eu-west-1`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(name: &str) -> bool {
    static_regex(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$").is_match(name)
}

fn static_regex(source: &str) -> Regex {
    Regex::new(source).unwrap_or_else(|_| Regex::new("$^").expect("the empty-match regex compiles"))
}

fn read_region(r: &mut Reader, name: &str) -> Option<String> {
    let region = r.string(name)?;
    if !is_region(&region) {
        r.diag.error(
            name,
            format!("must be an AWS region name such as eu-west-1, got {region:?}"),
        );
    }
    Some(region)
}

fn read_notification(r: &mut Reader) -> Notification {
    if r.has("NotificationTopicArn") && r.has("NotificationEmail") {
        r.diag.error(
            "NotificationEmail",
            "conflicts with NotificationTopicArn: subscribe the address to that topic instead",
        );
    }
    if let Some(arn) = r.text("NotificationTopicArn") {
        let topic_arn =
            static_regex(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$");
        if let Text::Literal(s) = &arn
            && !topic_arn.is_match(s)
        {
            r.diag.error(
                "NotificationTopicArn",
                format!("must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got {s:?}"),
            );
        }
        return Notification::Topic(arn);
    }
    if let Some(email) = r.string("NotificationEmail") {
        if !static_regex(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").is_match(&email) {
            r.diag.error(
                "NotificationEmail",
                format!("must be an email address, got {email:?}"),
            );
        }
        return Notification::Email(email);
    }
    Notification::Created
}

fn read_source(r: &mut Reader) -> SourceSettings {
    let backup_interval_hours =
        r.whole("BackupInterval", defaults::BACKUP_INTERVAL_HOURS, 1, 8_760);
    let backup_schedule = r.schedule("BackupSchedule", defaults::BACKUP_SCHEDULE);
    let share_schedule = r.schedule("ShareSchedule", defaults::SHARE_SCHEDULE);
    let share_snapshots = r.boolean("ShareSnapshots", true);
    let tagged_instance = r.boolean("TaggedInstance", false);
    let mut accounts = Vec::new();
    let mut accounts_intrinsic = None;
    let accounts_given = r.has("DestinationAccount") || r.has("DestinationAccounts");
    if let Some(v) = r.props.get("DestinationAccount").cloned() {
        accounts.extend(r.account("DestinationAccount", &v));
    }
    match r.list("DestinationAccounts") {
        Some(Ok(items)) => {
            for (i, item) in items.iter().enumerate() {
                accounts.extend(r.account(&format!("DestinationAccounts[{i}]"), item));
            }
        }
        Some(Err(intrinsic)) => accounts_intrinsic = Some(intrinsic),
        None => {}
    }
    let mut unique: Vec<Text> = Vec::new();
    for a in accounts {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if share_snapshots {
        if !accounts_given {
            r.diag.error(
                "DestinationAccount",
                "is required when ShareSnapshots is true: the DR account(s) to share snapshots with (or set ShareSnapshots: false)",
            );
        }
        if unique.len() > defaults::MAX_DESTINATION_ACCOUNTS {
            r.diag.error(
                "DestinationAccounts",
                format!(
                    "names {} accounts; AWS shares a manual snapshot with at most {}",
                    unique.len(),
                    defaults::MAX_DESTINATION_ACCOUNTS
                ),
            );
        }
        if let Some(own) = r.resolver.account_id.as_deref()
            && unique.iter().any(|a| a.literal() == Some(own))
        {
            r.diag.error(
                "DestinationAccounts",
                format!("names this stack's own account {own}; share with the DR account instead"),
            );
        }
    } else if !unique.is_empty() || accounts_intrinsic.is_some() {
        r.diag.warn(
            "ShareSnapshots",
            "is false, so the destination accounts are ignored and nothing is shared",
        );
    }
    SourceSettings {
        backup_interval_hours,
        backup_schedule,
        share_schedule,
        share_snapshots,
        destination_accounts: unique,
        destination_accounts_intrinsic: accounts_intrinsic,
        tagged_instance,
    }
}

fn read_destination(r: &mut Reader, policy: &Policy) -> DestinationSettings {
    let region = match r.text("DestinationRegion") {
        Some(Text::Literal(s)) => {
            if !is_region(&s) {
                r.diag.error(
                    "DestinationRegion",
                    format!("must be an AWS region name such as eu-west-1, got {s:?}"),
                );
            }
            Text::Literal(s)
        }
        Some(intrinsic) => intrinsic,
        None => match &r.resolver.region {
            Some(region) => Text::Literal(region.clone()),
            None => Text::Intrinsic(json!({"Ref": "AWS::Region"})),
        },
    };
    let copy_schedule = r.schedule("CopySchedule", defaults::COPY_SCHEDULE);
    let cross_account_copy = r.boolean("CrossAccountCopy", true);
    let copy_retention_days = r.whole(
        "CopyRetentionDays",
        defaults::COPY_RETENTION_DAYS,
        1,
        36_500,
    );
    if copy_retention_days > policy.retention_days && policy.delete_old_snapshots {
        r.diag.error(
            "RetentionDays",
            format!(
                "must be >= CopyRetentionDays ({copy_retention_days}): otherwise copies older than {} are deleted and copied again on the next run",
                crate::rpo::human(Duration::days(policy.retention_days as i64))
            ),
        );
    }
    let source_region = policy
        .source_region_override
        .clone()
        .or_else(|| r.resolver.region.clone());
    let same_region = match (region.literal(), source_region.as_deref()) {
        (Some(d), Some(s)) => Some(d == s),
        _ => None,
    };
    let kms_key_source = r.text("KmsKeySource");
    let kms_key_destination = r.text("KmsKeyDestination");
    crate::kms::check_keys(
        r,
        kms_key_source.as_ref(),
        kms_key_destination.as_ref(),
        &region,
        source_region.as_deref(),
        same_region,
    );
    if !cross_account_copy && same_region == Some(true) {
        r.diag.error(
            "CrossAccountCopy",
            "is false and DestinationRegion is the source region: this policy has nothing to copy (copy across accounts, or to another region)",
        );
    }
    DestinationSettings {
        destination_region: region,
        copy_schedule,
        cross_account_copy,
        kms_key_source,
        kms_key_destination,
        copy_retention_days,
    }
}

impl Policy {
    /// The normalized policy: every property explicit, in a fixed order, as the provider and
    /// the state machines receive it. Intrinsics stay intrinsics.
    pub fn to_properties(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Role".into(), json!(self.role.as_str()));
        if let Some(id) = &self.policy_id {
            m.insert("PolicyId".into(), id.to_value());
        }
        match &self.target {
            Target::Pattern(p) => {
                let name = match self.role {
                    Role::Source => "InstanceNamePattern",
                    Role::Destination => "SnapshotPattern",
                };
                m.insert(name.into(), json!(p));
            }
            Target::Instance(t) => {
                m.insert("DBInstanceIdentifier".into(), t.to_value());
            }
            Target::Cluster(t) => {
                m.insert("DBClusterIdentifier".into(), t.to_value());
            }
        }
        if let Some(s) = &self.source {
            m.insert("BackupInterval".into(), json!(s.backup_interval_hours));
            m.insert(
                "BackupSchedule".into(),
                json!(s.backup_schedule.expression()),
            );
            m.insert("ShareSnapshots".into(), json!(s.share_snapshots));
            m.insert("ShareSchedule".into(), json!(s.share_schedule.expression()));
            let accounts = match &s.destination_accounts_intrinsic {
                Some(v) if s.destination_accounts.is_empty() => v.clone(),
                _ => Value::Array(s.destination_accounts.iter().map(Text::to_value).collect()),
            };
            m.insert("DestinationAccounts".into(), accounts);
            m.insert("TaggedInstance".into(), json!(s.tagged_instance));
        }
        if let Some(d) = &self.destination {
            m.insert("DestinationRegion".into(), d.destination_region.to_value());
            m.insert("CopySchedule".into(), json!(d.copy_schedule.expression()));
            m.insert("CrossAccountCopy".into(), json!(d.cross_account_copy));
            if let Some(k) = &d.kms_key_source {
                m.insert("KmsKeySource".into(), k.to_value());
            }
            if let Some(k) = &d.kms_key_destination {
                m.insert("KmsKeyDestination".into(), k.to_value());
            }
            m.insert("CopyRetentionDays".into(), json!(d.copy_retention_days));
        }
        m.insert("RetentionDays".into(), json!(self.retention_days));
        m.insert(
            "DeleteOldSnapshots".into(),
            json!(self.delete_old_snapshots),
        );
        m.insert(
            "DeleteSchedule".into(),
            json!(self.delete_schedule.expression()),
        );
        m.insert("KeepLatest".into(), json!(self.keep_latest));
        m.insert("RpoMinutes".into(), json!(self.rpo_minutes));
        m.insert("LogLevel".into(), json!(self.log_level));
        if let Some(region) = &self.source_region_override {
            m.insert("SourceRegionOverride".into(), json!(region));
        }
        m.insert("StrictChecks".into(), json!(self.strict_checks));
        m
    }

    /// The schedules in effect, as (action, schedule) pairs, in a fixed order.
    pub fn actions(&self) -> Vec<(&'static str, &Schedule)> {
        let mut out = Vec::new();
        if let Some(s) = &self.source {
            out.push(("take", &s.backup_schedule));
            if s.share_snapshots {
                out.push(("share", &s.share_schedule));
            }
        }
        if let Some(d) = &self.destination {
            out.push(("copy", &d.copy_schedule));
        }
        if self.delete_old_snapshots {
            out.push(("delete", &self.delete_schedule));
        }
        out
    }

    /// Longest time between two snapshots, given BackupSchedule and BackupInterval.
    pub fn snapshot_spacing(&self) -> Option<Duration> {
        let s = self.source.as_ref()?;
        longest_snapshot_gap(
            &s.backup_schedule,
            Duration::hours(s.backup_interval_hours as i64),
        )
    }
}
