//! The planner's specification by example: `tests/examples/<action>.yaml` hold cases of
//! inventory + policy + now → the expected plan, each with a `why`. Read them as the definition
//! of what each action does. `UPDATE_EXAMPLES=1 cargo test --test planner_examples` rewrites the
//! expectations from the planner; review the diff like any change to the specification.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use provider::inventory::{Database, Inventory, KeyManager, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, Plan, plan};
use provider::policy::RuntimePolicy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The PolicyId of every example's policy (unless the policy sets one).
const POLICY_ID: &str = "orders-policy";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    name: String,
    why: String,
    /// The policy's Properties, as a user writes them.
    policy: Value,
    /// Where the provider runs (default eu-west-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    now: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    databases: Vec<Db>,
    /// This account's snapshots in the region the action works on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    snapshots: Vec<Snap>,
    /// copy: the snapshots in the source region (shared with this account, or its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sources: Vec<Snap>,
    /// copy with TwoStepCopy: this account's own snapshots in the source region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    staged: Vec<Snap>,
    /// share: key id → `aws` or `customer`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<String, String>,
    #[serde(default)]
    expect: Expected,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Db {
    id: String,
    #[serde(default = "instance")]
    kind: Kind,
    #[serde(default = "available")]
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

/// A snapshot. `own: true` adds the tags this tool writes (CreatedBy, or CopiedBy with the
/// source ARN and recovery point when `copy_of` is set), with this policy's id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snap {
    id: String,
    database: String,
    #[serde(default = "instance")]
    kind: Kind,
    #[serde(default = "available")]
    status: String,
    #[serde(default = "manual", rename = "type")]
    snapshot_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<DateTime<Utc>>,
    #[serde(default)]
    own: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    copy_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    /// The database's engine (a cluster that is not Aurora is a Multi-AZ DB cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engine: Option<String>,
    /// An instance snapshot's option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    option_group: Option<String>,
    /// share: the accounts its `restore` attribute names, as AWS reports them (absent: not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restore: Option<Vec<String>>,
}

fn instance() -> Kind {
    Kind::Instance
}
fn available() -> String {
    "available".into()
}
fn manual() -> String {
    "manual".into()
}

fn snapshot(s: &Snap, policy: &RuntimePolicy, account_region: &str) -> Snapshot {
    let mut tags = BTreeMap::new();
    if s.own {
        tags.insert(policy.marker_tag().to_string(), tags::TOOL.to_string());
        tags.insert(tags::POLICY.to_string(), policy.id.clone());
        tags.insert(tags::DATABASE.to_string(), s.database.clone());
    }
    if let Some(source) = &s.copy_of {
        tags.insert(tags::SOURCE_ARN.to_string(), source.clone());
        if let Some(created) = s.created {
            tags.insert(tags::RECOVERY_POINT.to_string(), created.to_rfc3339());
        }
    }
    tags.extend(s.tags.clone());
    let noun = match s.kind {
        Kind::Instance => "snapshot",
        Kind::Cluster => "cluster-snapshot",
    };
    Snapshot {
        id: s.id.clone(),
        arn: s.arn.clone().unwrap_or_else(|| {
            format!("arn:aws:rds:{account_region}:111111111111:{noun}:{}", s.id)
        }),
        kind: s.kind,
        database: s.database.clone(),
        status: s.status.clone(),
        snapshot_type: s.snapshot_type.clone(),
        created: s.created,
        original_created: None,
        tags,
        kms_key_id: s.key.clone(),
        encrypted: s.key.is_some(),
        engine: s.engine.clone(),
        engine_version: None,
        option_group: s.option_group.clone(),
    }
}

fn inventory(e: &Example, policy: &RuntimePolicy) -> Inventory {
    let region = match policy.role() {
        rds_snapshot_policy_core::Role::Source => policy.source_region.clone(),
        rds_snapshot_policy_core::Role::Destination => policy.destination_region.clone(),
    };
    Inventory {
        databases: e
            .databases
            .iter()
            .map(|d| Database {
                id: d.id.clone(),
                kind: d.kind,
                status: d.status.clone(),
                tags: d.tags.clone(),
                cluster: d.cluster.clone(),
                encrypted: true,
                engine: None,
                option_groups: Vec::new(),
                kms_key_id: None,
            })
            .collect(),
        snapshots: e
            .snapshots
            .iter()
            .map(|s| snapshot(s, policy, &region))
            .collect(),
        sources: e
            .sources
            .iter()
            .map(|s| snapshot(s, policy, &policy.source_region))
            .collect(),
        staged: e
            .staged
            .iter()
            .map(|s| snapshot(s, policy, &policy.source_region))
            .collect(),
        key_managers: e
            .keys
            .iter()
            .map(|(k, v)| {
                let manager = if v == "aws" {
                    KeyManager::Aws
                } else {
                    KeyManager::Customer
                };
                (k.clone(), manager)
            })
            .collect(),
        restore_accounts: e
            .snapshots
            .iter()
            .filter_map(|s| {
                let arn = snapshot(s, policy, &region).arn;
                s.restore.clone().map(|accounts| (arn, accounts))
            })
            .collect(),
    }
}

/// Every tag a plan writes is one of the contract's keys (the only ones IAM lets it write).
fn written(tags: &[(String, String)]) {
    for (key, _) in tags {
        assert!(
            tags::WRITTEN.contains(&key.as_str()),
            "tag {key} is not in the contract's tags::WRITTEN"
        );
    }
}

fn render(plan: &Plan) -> Expected {
    let steps = plan
        .steps
        .iter()
        .map(|s| match &s.operation {
            Operation::Create {
                database,
                snapshot_id,
                tags,
                ..
            } => {
                written(tags);
                format!("create {snapshot_id} of {database}")
            }
            Operation::Share {
                snapshot_id,
                accounts,
                revoke,
                record,
                ..
            } => {
                assert!(
                    record.iter().all(|(_, v)| v.len() <= 256),
                    "tag values fit RDS: {record:?}"
                );
                written(record);
                match (accounts.is_empty(), revoke.is_empty()) {
                    (_, true) => format!("share {snapshot_id} with {}", accounts.join(",")),
                    (true, false) => format!("unshare {snapshot_id} from {}", revoke.join(",")),
                    (false, false) => format!(
                        "share {snapshot_id} with {}, unshare from {}",
                        accounts.join(","),
                        revoke.join(",")
                    ),
                }
            }
            Operation::Copy {
                source_arn,
                target_id,
                kms_key_id,
                tags,
                ..
            } => {
                written(tags);
                format!("copy {source_arn} to {target_id} under {kms_key_id}")
            }
            Operation::Delete { snapshot_id, .. } => format!("delete {snapshot_id}"),
            Operation::StageCopy {
                source_arn,
                target_id,
                kms_key_id,
                tags,
                ..
            } => {
                written(tags);
                format!("first copy {source_arn} to {target_id} under {kms_key_id}")
            }
            Operation::DeleteStaged { snapshot_id, .. } => {
                format!("delete first-step copy {snapshot_id}")
            }
            Operation::MarkDelivered {
                snapshot_id,
                lag_minutes,
                ..
            } => format!("delivered {snapshot_id} after {lag_minutes} minutes"),
        })
        .collect();
    let notes = |notes: &[provider::plan::Note]| {
        notes
            .iter()
            .map(|n| format!("{}: {}", n.subject, n.reason))
            .collect()
    };
    Expected {
        steps,
        skipped: notes(&plan.skipped),
        pending: notes(&plan.pending),
        errors: plan.errors.iter().map(ToString::to_string).collect(),
    }
}

fn files() -> Vec<(Action, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/examples");
    // The drill plans no snapshot writes: its rules are drill_properties.rs and its unit tests.
    Action::ALL
        .into_iter()
        .filter(|a| *a != Action::Drill)
        .map(|a| (a, dir.join(format!("{}.yaml", a.name()))))
        .collect()
}

#[test]
fn the_planner_does_what_its_examples_say() {
    let update = std::env::var_os("UPDATE_EXAMPLES").is_some();
    let mut failures = Vec::new();
    for (action, path) in files() {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut examples: Vec<Example> =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            examples.len() >= 10,
            "{}: at least 10 examples",
            path.display()
        );
        for e in &mut examples {
            let region = e.region.clone().unwrap_or_else(|| "eu-west-1".into());
            let policy = RuntimePolicy::from_properties(&e.policy, &region, Some(POLICY_ID))
                .unwrap_or_else(|err| panic!("{}: {err}", e.name));
            let actual = render(&plan(action, &policy, &inventory(e, &policy), e.now));
            if update {
                e.expect = actual;
            } else if actual != e.expect {
                failures.push(format!(
                    "{} / {}:\nexpected {:#?}\nactual {:#?}",
                    path.display(),
                    e.name,
                    e.expect,
                    actual
                ));
            }
        }
        if update {
            let header: String = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            fs::write(
                &path,
                header + &serde_yaml_ng::to_string(&examples).unwrap(),
            )
            .unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
