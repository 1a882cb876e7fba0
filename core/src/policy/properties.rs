//! Every property a user may write in a `Custom::RdsSnapshotPolicy`, declared once: its name,
//! the role it applies to, its shape and bounds, and its reference text (type, default, what it
//! does). The table drives the property-name checks and the numeric bounds of reading
//! (`policy::validate`) and of the invariant (`spec::check`, through `spec::bounds`), the
//! reference page (`reference_markdown`, in docs/src/reference/policy.md) and the JSON Schema
//! of the Properties (`json_schema`, shipped as docs/src/reference/policy-properties.schema.json).
//! `ServiceToken`, `GeneratedResources` and `IdentityVersion` are the expansion's own and refused.

use serde_json::{Map, Value, json};

use crate::spec::Role;

/// Which roles accept a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Both,
    Only(Role),
}

/// What a property's value looks like. Every shape also accepts an intrinsic function where
/// the reader resolves it (a `Ref` to a parameter) or passes it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `true`/`false`, or the strings `"true"`/`"false"` in any case.
    Boolean,
    /// A whole number within these inclusive bounds, or a string of one (parameters).
    Whole(u64, u64),
    /// One of these words, in any case.
    OneOf(&'static [&'static str]),
    /// An EventBridge `rate(...)` or `cron(...)` expression.
    Schedule,
    /// A list of strings, or one comma-separated string.
    List,
    /// A string.
    Text,
}

/// One property as the table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    pub applies: Applies,
    pub shape: Shape,
    /// The reference's "type" column (markdown).
    pub kind: &'static str,
    /// The reference's "default" column (markdown).
    pub default: &'static str,
    /// What it does (markdown).
    pub doc: &'static str,
    /// The seed design's name for it, where it had one.
    pub seed: Option<&'static str>,
}

/// The table, in the reference's order: both roles, then Source, then Destination.
pub const PROPERTIES: &[Property] = &[
    Property {
        name: "Role",
        applies: Applies::Both,
        shape: Shape::OneOf(&["Source", "Destination"]),
        kind: "`Source` \\| `Destination`",
        default: "required",
        doc: "Source: the production account takes, shares and deletes snapshots. Destination: the DR account copies and deletes.",
        seed: None,
    },
    Property {
        name: "DBInstanceIdentifier",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "string",
        default: "—",
        doc: "One DB instance (Source: snapshot it; Destination: copy its snapshots). Conflicts with the pattern and `DBClusterIdentifier`.",
        seed: None,
    },
    Property {
        name: "DBClusterIdentifier",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "string",
        default: "—",
        doc: "One Aurora cluster, the same way (cluster snapshot APIs).",
        seed: None,
    },
    Property {
        name: "RetentionDays",
        applies: Applies::Both,
        shape: Shape::Whole(1, 36500),
        kind: "whole number ≥ 1",
        default: "Source 1; Destination: none (see `RetentionHours`)",
        doc: "Snapshots (copies) of this policy older than this are deleted, except the newest `KeepLatest` and what a tier keeps. Destination: must be ≥ `CopyRetentionDays`. Conflicts with `RetentionHours`.",
        seed: Some("RetentionDays"),
    },
    Property {
        name: "RetentionHours",
        applies: Applies::Both,
        shape: Shape::Whole(1, 23),
        kind: "whole hours 1–23",
        default: "Destination 6, with `KeepDaily: 7`, when the policy declares no retention (no `RetentionDays`, `RetentionHours` or tier)",
        doc: "A retention shorter than a day (a 30-minute cadence with 12 hours keeps 25 snapshots per database, inside the default quota of 100). Conflicts with `RetentionDays`; the delete schedule then defaults to hourly. Destination: only shared snapshots younger than it are copied (whatever `CopyRetentionDays` says). See [the DR default](databases.md#retention-tiers-and-the-snapshot-quota).",
        seed: None,
    },
    Property {
        name: "DeleteOldSnapshots",
        applies: Applies::Both,
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true`",
        doc: "`false`: no delete state machine at all. **Turning it on later** deletes, on the first delete run, every snapshot of this policy that the retention and tiers do not keep, not only those taken after the change (`plan delete` shows which first).",
        seed: Some("DeleteOldSnapshots"),
    },
    Property {
        name: "DeleteSchedule",
        applies: Applies::Both,
        shape: Shape::Schedule,
        kind: "schedule",
        default: "Source `cron(45 * * * ? *)` (hourly), Destination with `RetentionHours` `cron(45 * * * ? *)`, with `RetentionDays` `cron(30 3 * * ? *)`",
        doc: "When old snapshots are deleted. Snapshots past the retention wait for the next run, so the longer the gap, the more are held (see [Sizing](databases.md#retention-tiers-and-the-snapshot-quota)); the source default was daily (`cron(0 3 * * ? *)`) before this release, which held 97 snapshots per database at a 30-minute cadence just before each run.",
        seed: Some("DeleteSchedule"),
    },
    Property {
        name: "KeepLatest",
        applies: Applies::Both,
        shape: Shape::Whole(1, 1000),
        kind: "whole number ≥ 1",
        default: "1",
        doc: "The newest N available snapshots per database are never deleted, however old (a stalled pipeline never ages out the last recovery point).",
        seed: None,
    },
    Property {
        name: "KeepDaily",
        applies: Applies::Both,
        shape: Shape::Whole(1, 366),
        kind: "whole number 1–366",
        default: "— (no tier)",
        doc: "For each of the last N days (UTC) that has a snapshot, its newest is kept, however old. Both roles; see [Retention](databases.md#retention-tiers-and-the-snapshot-quota).",
        seed: None,
    },
    Property {
        name: "KeepWeekly",
        applies: Applies::Both,
        shape: Shape::Whole(1, 520),
        kind: "whole number 1–520",
        default: "—",
        doc: "The same for the last N ISO weeks (Monday to Sunday) with a snapshot.",
        seed: None,
    },
    Property {
        name: "KeepMonthly",
        applies: Applies::Both,
        shape: Shape::Whole(1, 240),
        kind: "whole number 1–240",
        default: "—",
        doc: "The same for the last N calendar months with a snapshot.",
        seed: None,
    },
    Property {
        name: "KeepYearly",
        applies: Applies::Both,
        shape: Shape::Whole(1, 100),
        kind: "whole number 1–100",
        default: "—",
        doc: "The same for the last N calendar years with a snapshot.",
        seed: None,
    },
    Property {
        name: "RpoMinutes",
        applies: Applies::Both,
        shape: Shape::Whole(1, 525600),
        kind: "whole number ≥ 1",
        default: "60",
        doc: "The recovery point objective at the DR copy: the source's default cadence is chosen to meet it, the worst case is checked against it (warning) and the RPO alarm fires above it. See \"RPO\".",
        seed: None,
    },
    Property {
        name: "ExpectedSnapshotMinutes",
        applies: Applies::Both,
        shape: Shape::Whole(1, 1440),
        kind: "whole minutes 1–1440",
        default: "5",
        doc: "How long a snapshot takes to become available: a term of the RPO formula.",
        seed: None,
    },
    Property {
        name: "ExpectedCopyMinutes",
        applies: Applies::Both,
        shape: Shape::Whole(1, 1440),
        kind: "whole minutes 1–1440",
        default: "10",
        doc: "How long a copy into the DR account and region takes: a term of the RPO formula.",
        seed: None,
    },
    Property {
        name: "EventDriven",
        applies: Applies::Both,
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true`",
        doc: "Generate the event rules that start the next stage at once (the schedules stay as the fallback).",
        seed: None,
    },
    Property {
        name: "LogLevel",
        applies: Applies::Both,
        shape: Shape::OneOf(&["ERROR", "WARN", "WARNING", "INFO", "DEBUG"]),
        kind: "`ERROR` \\| `WARN` \\| `INFO` \\| `DEBUG`",
        default: "`INFO`",
        doc: "Provider log level (any case; `WARNING` = `WARN`).",
        seed: Some("LogLevel"),
    },
    Property {
        name: "SourceRegionOverride",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "region",
        default: "the stack's region",
        doc: "Where the databases (Source) or the shared snapshots (Destination) are, when Step Functions runs elsewhere.",
        seed: Some("SourceRegionOverride"),
    },
    Property {
        name: "NotificationTopicArn",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "SNS topic ARN",
        default: "—",
        doc: "Use this topic instead of creating one. Conflicts with `NotificationEmail`.",
        seed: None,
    },
    Property {
        name: "NotificationEmail",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "email",
        default: "—",
        doc: "Subscribe this address to the created topic.",
        seed: None,
    },
    Property {
        name: "PolicyId",
        applies: Applies::Both,
        shape: Shape::Text,
        kind: "1–128 of `A-Za-z0-9-_./:@+=`",
        default: "`<stack>-<logical ID>`",
        doc: "Tag value that marks the snapshots this policy owns.",
        seed: None,
    },
    Property {
        name: "StrictChecks",
        applies: Applies::Both,
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`false`",
        doc: "Deploy-time checks that cannot run fail the deployment instead of warning.",
        seed: None,
    },
    Property {
        name: "RetiredDatabases",
        applies: Applies::Both,
        shape: Shape::List,
        kind: "list of DB identifiers (Destination also `<source account>/<identifier>`)",
        default: "—",
        doc: "Databases whose protection ends: no new snapshot or copy, no RPO datum (their alarm stops), no drill; their snapshots are kept by the usual rules until `RetiredKeepDays` after the newest recovery point. See [Retiring a database](databases.md#retiring-a-database).",
        seed: None,
    },
    Property {
        name: "RetiredKeepDays",
        applies: Applies::Both,
        shape: Shape::Whole(1, 36500),
        kind: "whole days 1–36500",
        default: "as long as the policy keeps any recovery point (its retention or oldest tier, in days)",
        doc: "How long a retired database's final recovery point is kept after it was taken. Only with `RetiredDatabases`.",
        seed: None,
    },
    Property {
        name: "InstanceNamePattern",
        applies: Applies::Only(Role::Source),
        shape: Shape::Text,
        kind: "regex",
        default: "— (one of pattern / identifier required)",
        doc: "Searched in each DB instance and cluster identifier (`orders` matches `orders-prod`; anchor with `^...$`). Rust regex syntax: no look-around or backreferences.",
        seed: Some("InstanceNamePattern"),
    },
    Property {
        name: "BackupIntervalMinutes",
        applies: Applies::Only(Role::Source),
        shape: Shape::Whole(15, 1440),
        kind: "whole minutes 15–1440",
        default: "the cadence for `RpoMinutes` (30 for 60)",
        doc: "A snapshot is taken only if this policy's newest snapshot of the database is at least this old (by creation time). Conflicts with `BackupInterval`.",
        seed: None,
    },
    Property {
        name: "BackupInterval",
        applies: Applies::Only(Role::Source),
        shape: Shape::Whole(1, 8760),
        kind: "whole hours ≥ 1",
        default: "—",
        doc: "The same in hours (the seed's form).",
        seed: Some("BackupInterval"),
    },
    Property {
        name: "BackupSchedule",
        applies: Applies::Only(Role::Source),
        shape: Shape::Schedule,
        kind: "schedule",
        default: "fires at the interval, at the database's own minute (`cron(<m>/30 * * * ? *)` for a 30-minute interval; see `SpreadSnapshots`)",
        doc: "When the take state machine runs.",
        seed: Some("BackupSchedule"),
    },
    Property {
        name: "SpreadSnapshots",
        applies: Applies::Only(Role::Source),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true` unless `BackupSchedule` is written",
        doc: "The default `BackupSchedule` fires at the database's own minute of the interval instead of at :00, so that the copies of many databases do not all queue behind the DR region's copies in flight at once (see [How many databases per DR region](../rpo.md#how-many-databases-per-dr-region)). The minute is a stable hash of the stack's account and region and what the policy covers (`<account>/<region>/source:db-instance/<id>`), computed by the deploy-time check and answered as the `BackupSchedule` and `SnapshotMinute` attributes. `false`: all at minute 0, as before. Conflicts with a written `BackupSchedule` other than the default.",
        seed: None,
    },
    Property {
        name: "ShareSnapshots",
        applies: Applies::Only(Role::Source),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true`",
        doc: "`false`: no share state machine; snapshots stay in the account.",
        seed: Some("ShareSnapshots"),
    },
    Property {
        name: "ShareSchedule",
        applies: Applies::Only(Role::Source),
        shape: Shape::Schedule,
        kind: "schedule",
        default: "`cron(2/5 * * * ? *)`",
        doc: "The share sweep (the fallback when an event is lost).",
        seed: Some("ShareSchedule"),
    },
    Property {
        name: "DestinationEventBusArn",
        applies: Applies::Only(Role::Source),
        shape: Shape::List,
        kind: "event bus ARN, or a list",
        default: "each destination account's default bus in this region",
        doc: "Where the share's announcement is forwarded; each must be in one of the destination accounts. Point it at the DR region's bus when the DR policy runs in another region.",
        seed: None,
    },
    Property {
        name: "DestinationAccount",
        applies: Applies::Only(Role::Source),
        shape: Shape::Text,
        kind: "12-digit account ID",
        default: "— (required when sharing)",
        doc: "The DR account snapshots are shared with.",
        seed: Some("DestinationAccount"),
    },
    Property {
        name: "DestinationAccounts",
        applies: Applies::Only(Role::Source),
        shape: Shape::List,
        kind: "list of account IDs (or comma-separated)",
        default: "—",
        doc: "More DR accounts; merged with `DestinationAccount`, at most 20 in all (AWS's limit per snapshot), never this stack's own account.",
        seed: None,
    },
    Property {
        name: "TaggedInstance",
        applies: Applies::Only(Role::Source),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`false`",
        doc: "Only databases tagged `CopyDBSnapshot=True` (AND the pattern/identifier).",
        seed: Some("TaggedInstance"),
    },
    Property {
        name: "RevokeUnknownShares",
        applies: Applies::Only(Role::Source),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`false`",
        doc: "Each share run with nothing to share reads every shared policy snapshot's `restore` attribute (one `DescribeDB(Cluster)SnapshotAttributes` per snapshot, so the audit never delays a share) and reports accounts the tool did not share with, and `all` (the run's `sharedOutside`, the `SnapshotsSharedOutsidePolicy` metric and its alarm, `status`). `true`: the share run also removes them. Accounts the tool shared with and the policy dropped are revoked either way.",
        seed: None,
    },
    Property {
        name: "ReencryptKmsKey",
        applies: Applies::Only(Role::Source),
        shape: Shape::Text,
        kind: "KMS key ARN, ID or alias",
        default: "— (databases on `aws/rds` are refused)",
        doc: "A customer-managed key of this account in the source region, shared with the DR accounts like a database key (see [Databases on the AWS-managed key](databases.md#databases-on-the-aws-managed-key)). Snapshots encrypted with the AWS-managed `aws/rds` key are copied under it as `<snapshot>-cmk`; only the copy is shared, and the original is deleted once the copy is available. Snapshots on a customer-managed key are shared as they are.",
        seed: None,
    },
    Property {
        name: "SnapshotPattern",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "regex",
        default: "— (one of pattern / identifier required)",
        doc: "Searched in each shared snapshot's identifier.",
        seed: Some("SnapshotPattern"),
    },
    Property {
        name: "DestinationRegion",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "region",
        default: "the stack's region",
        doc: "Where copies are made. The same region as the source keeps copies in the source region (account isolation only).",
        seed: Some("DestinationRegion"),
    },
    Property {
        name: "CopySchedule",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Schedule,
        kind: "schedule",
        default: "`cron(4/5 * * * ? *)`",
        doc: "The copy sweep (the fallback when an event is lost); each run also publishes the recovery-point ages.",
        seed: Some("CopySchedule"),
    },
    Property {
        name: "SourceAccounts",
        applies: Applies::Only(Role::Destination),
        shape: Shape::List,
        kind: "list of 12-digit account IDs (at most 20)",
        default: "— (**required** when `CrossAccountCopy` is true)",
        doc: "The production accounts whose shared snapshots are copied; snapshots shared by any other account are never copied, each run reports them (`unexpectedSharers`) and `PUnexpectedSharesAlarm` notifies on the first sighting. Only these accounts may announce shares on this account's default bus (the generated bus policy).",
        seed: None,
    },
    Property {
        name: "CrossAccountCopy",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true`",
        doc: "`false`: copy this account's own snapshots to `DestinationRegion` (must then differ from the source region).",
        seed: Some("CrossAccountCopy"),
    },
    Property {
        name: "KmsKeyDestination",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "KMS key ARN, alias ARN, key ID or `alias/name`",
        default: "required for a copy to another region",
        doc: "The DR account's customer-managed key in `DestinationRegion` the copies are encrypted with. An ARN must name that region and this account.",
        seed: Some("KmsKeyDestination"),
    },
    Property {
        name: "DestinationOptionGroupName",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "option group name",
        default: "—",
        doc: "An option group in `DestinationRegion` (same engine) given to cross-region copies of instance snapshots that carry a non-default option group (Oracle, SQL Server, MySQL/MariaDB with options): AWS refuses such a copy without one. Without it, such a snapshot fails the copy run with `PolicyInvalid` naming the snapshot, its option group and this property (the other snapshots are still copied).",
        seed: None,
    },
    Property {
        name: "KmsKeySource",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "full key ARN",
        default: "—",
        doc: "The DR account's key in the source region, used for copies that stay in the source region (the seed's same-region key). A key ID or alias is refused: they resolve in the caller's account and break cross-account copies.",
        seed: Some("KmsKeySource"),
    },
    Property {
        name: "TwoStepCopy",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`false`",
        doc: "Copy each shared snapshot in two steps: first into this account in the source region under `KmsKeySource` (required), then that copy into `DestinationRegion` under `KmsKeyDestination`; the first-step copy is deleted once the DR copy is available. For where AWS refuses the one-step cross-account, cross-region copy of an encrypted shared snapshot (see [Real AWS](../real-aws.md#real-aws-what-the-emulator-cannot-show)). Costs a second full copy's time and, until the DR copy is available, a snapshot in the source region (the DR account's quota there); the RPO formula adds both terms. Cross-account, cross-region policies only.",
        seed: None,
    },
    Property {
        name: "CopyRetentionDays",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Whole(1, 36500),
        kind: "whole number ≥ 1",
        default: "2",
        doc: "Only shared snapshots newer than this are copied, and never older than the retention window (a copy the next delete run would remove is not made): with `RetentionHours`, the hours.",
        seed: Some("CopyRetentionDays"),
    },
    Property {
        name: "RestoreDrill",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Boolean,
        kind: "boolean",
        default: "`true`",
        doc: "The restore drill (see [Failing over](../operations/failover.md#failing-over-rto)). `false`: no drill state machine, schedules or RTO alarm.",
        seed: None,
    },
    Property {
        name: "RestoreDrillSchedule",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Schedule,
        kind: "schedule",
        default: "`cron(0 4 ? * SUN *)` (weekly)",
        doc: "When the drill runs.",
        seed: None,
    },
    Property {
        name: "RtoMinutes",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Whole(15, 1440),
        kind: "whole number, 15 to 1440",
        default: "180",
        doc: "The recovery time objective: the RTO alarm fires when a drill's restore takes longer; a drill still not available after it is failed and cleaned up.",
        seed: None,
    },
    Property {
        name: "DrillDBInstanceClass",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "DB instance class",
        default: "`db.t4g.micro` (Aurora: `db.t4g.medium`)",
        doc: "The drill instances' class.",
        seed: None,
    },
    Property {
        name: "DrillDBSubnetGroupName",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "string",
        default: "— (the default VPC)",
        doc: "Where drill instances are created.",
        seed: None,
    },
    Property {
        name: "DrillVpcSecurityGroupIds",
        applies: Applies::Only(Role::Destination),
        shape: Shape::List,
        kind: "list of `sg-…`",
        default: "— (the VPC's default group)",
        doc: "Their security groups.",
        seed: None,
    },
    Property {
        name: "DrillValidationFunctionArn",
        applies: Applies::Only(Role::Destination),
        shape: Shape::Text,
        kind: "Lambda ARN",
        default: "—",
        doc: "Called with the restored endpoints; answers `{\"passed\": true\\|false}`. A failed validation fails the drill (after cleanup).",
        seed: None,
    },
];

/// The property named `name`.
pub fn property(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// The bounds of the whole-number property `name`, at compile time: a name that is not a
/// whole-number property of the table fails the build.
pub const fn whole_bounds(name: &str) -> (u64, u64) {
    let mut i = 0;
    while i < PROPERTIES.len() {
        if same(PROPERTIES[i].name, name) {
            if let Shape::Whole(min, max) = PROPERTIES[i].shape {
                return (min, max);
            }
            panic!("not a whole-number property");
        }
        i += 1;
    }
    panic!("no such property in the table");
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const SECTIONS: [(&str, Applies); 3] = [
    ("Both roles", Applies::Both),
    ("Source role", Applies::Only(Role::Source)),
    ("Destination role", Applies::Only(Role::Destination)),
];

/// The reference tables (markdown), one per role: what docs/src/reference/policy.md holds
/// between its `properties` markers and `rds-snapshot-policy reference` prints.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for (i, (title, applies)) in SECTIONS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("## {title}\n\n"));
        out.push_str("| property | type | default | meaning | seed name |\n");
        out.push_str("|---|---|---|---|---|\n");
        for p in PROPERTIES.iter().filter(|p| p.applies == *applies) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                p.name,
                p.kind,
                p.default,
                p.doc,
                p.seed.unwrap_or("—")
            ));
        }
    }
    out
}

/// The JSON Schema (2020-12) of a policy's Properties: names, shapes, bounds, the role each
/// applies to, and the reference text as descriptions (for editor completion).
pub fn json_schema() -> Value {
    let mut properties = Map::new();
    for p in PROPERTIES {
        let mut schema = shape_schema(p.shape);
        let applies = match p.applies {
            Applies::Both => String::new(),
            Applies::Only(role) => format!(" Role {} only.", role.as_str()),
        };
        let text = format!(
            "{}\n\nType: {}. Default: {}.{applies}",
            p.doc,
            unescape(p.kind),
            unescape(p.default)
        );
        schema.insert("description".into(), json!(text));
        schema.insert("markdownDescription".into(), json!(text));
        properties.insert(p.name.into(), Value::Object(schema));
    }
    let only = |role: Role| -> Map<String, Value> {
        PROPERTIES
            .iter()
            .filter(|p| matches!(p.applies, Applies::Only(r) if r != role))
            .map(|p| (p.name.to_string(), json!(false)))
            .collect()
    };
    let role_rules: Vec<Value> = [Role::Source, Role::Destination]
        .iter()
        .map(|role| {
            json!({
                "if": {"properties": {"Role": {"pattern": case_insensitive(&[role.as_str()])}}, "required": ["Role"]},
                "then": {"properties": only(*role)},
            })
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Custom::RdsSnapshotPolicy Properties",
        "description": "The Properties of a Custom::RdsSnapshotPolicy resource, or a policy file of rds-snapshot-policy's CLI. Generated by `rds-snapshot-policy reference --format schema` from the property table.",
        "type": "object",
        "required": ["Role"],
        "properties": properties,
        "additionalProperties": false,
        "allOf": role_rules,
        "$defs": {
            "intrinsic": {
                "description": "A CloudFormation intrinsic function (Ref, Fn::GetAtt, Fn::Sub, ...).",
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "patternProperties": {"^(Ref|Fn::[A-Za-z]+)$": {}},
                "additionalProperties": false,
            }
        },
    })
}

fn shape_schema(shape: Shape) -> Map<String, Value> {
    let intrinsic = json!({"$ref": "#/$defs/intrinsic"});
    let any_of = |choices: Vec<Value>| {
        let mut map = Map::new();
        map.insert("anyOf".into(), Value::Array(choices));
        map
    };
    match shape {
        Shape::Boolean => any_of(vec![
            json!({"type": "boolean"}),
            json!({"type": "string", "pattern": case_insensitive(&["true", "false"])}),
            intrinsic,
        ]),
        Shape::Whole(min, max) => any_of(vec![
            json!({"type": "integer", "minimum": min, "maximum": max}),
            json!({"type": "string", "pattern": "^\\s*[0-9]+\\s*$"}),
            intrinsic,
        ]),
        Shape::OneOf(words) => any_of(vec![
            json!({"type": "string", "enum": words}),
            json!({"type": "string", "pattern": case_insensitive(words)}),
            intrinsic,
        ]),
        Shape::List => any_of(vec![
            json!({"type": "array", "items": {"anyOf": [{"type": "string"}, intrinsic]}}),
            json!({"type": "string"}),
            intrinsic,
        ]),
        Shape::Schedule | Shape::Text => any_of(vec![json!({"type": "string"}), intrinsic]),
    }
}

/// A pattern matching any of `words` in any case (JSON Schema patterns have no flags).
fn case_insensitive(words: &[&str]) -> String {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}

/// Markdown table text as plain text: `\|` is a `|`.
fn unescape(text: &str) -> String {
    text.replace("\\|", "|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_declared_once() {
        let mut names: Vec<&str> = PROPERTIES.iter().map(|p| p.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a property declared twice");
    }

    #[test]
    fn bounds_come_from_the_table() {
        assert_eq!(whole_bounds("KeepDaily"), (1, 366));
        assert_eq!(crate::spec::bounds::RTO_MINUTES, (15, 1440));
        assert_eq!(
            property("RtoMinutes").map(|p| p.shape),
            Some(Shape::Whole(15, 1440))
        );
    }

    #[test]
    fn the_schema_refuses_a_property_of_the_other_role() {
        let schema = json_schema();
        let rules = schema["allOf"].as_array().unwrap();
        let source = rules
            .iter()
            .find(|r| r["if"]["properties"]["Role"]["pattern"] == "^([Ss][Oo][Uu][Rr][Cc][Ee])$")
            .unwrap();
        assert_eq!(source["then"]["properties"]["CopySchedule"], json!(false));
        assert!(source["then"]["properties"].get("RetentionDays").is_none());
        assert!(
            source["then"]["properties"]
                .get("InstanceNamePattern")
                .is_none()
        );
    }
}
